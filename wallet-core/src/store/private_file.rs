//! Secrets kept in files (keys, salts, sealed state): written readable by their owner only,
//! never half-written, and safe when several processes share the directory, as replicas of
//! one service share their `keys_dir`.
//!
//! * [`write_private`] replaces a file atomically: a temporary file of its own (a random
//!   name, so two writers never share one), synced, renamed over the target, the directory
//!   synced. A crash leaves the old content or the new, never half of either (a stray
//!   `*.tmp-*` file at worst, private like the file; the next write of that file removes the
//!   strays older than [`STALE_TEMPORARY`], which no live writer can still be using).
//! * [`load_or_create_private`] reads a file, or creates it once: of replicas starting
//!   together on an empty directory, exactly one key is written and every one of them uses
//!   it. Creating is a hard link of a complete temporary file, which fails if the name
//!   exists; before this, each replica wrote its own key over the others' and went on signing
//!   with a key no longer on disk nor published.
//! * [`ExclusiveLock`] serialises read-modify-write changes of such files (a key rotation)
//!   across processes: an advisory lock on a file beside them, released when dropped.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A private file that could not be read, created or understood; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivateFileError {
    /// Reading, writing or syncing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but its content is not what it should hold.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The content of a new file could not be made (key generation, randomness).
    #[error("{path}: cannot be created: {reason}")]
    Create {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PrivateFileError + '_ {
    move |source| PrivateFileError::Io { path: path.display().to_string(), source }
}

/// How old a `<file>.tmp-*` must be for a writer of `<file>` to remove it as left by a
/// crash: a writer holds its temporary file for the milliseconds of one write, and an hour
/// leaves room for clocks that disagree across the hosts sharing a directory.
pub const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The name prefix of `path`'s temporary files: `<file name>.tmp-`.
fn temporary_prefix(path: &Path) -> std::ffi::OsString {
    let mut name = path.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(".tmp-");
    name
}

/// Removes the temporary files of `path` older than [`STALE_TEMPORARY`] (each holds a copy
/// of a secret, left by a writer that crashed before its rename). Best effort: a directory
/// that cannot be listed, or a file another writer removed first, is not an error.
fn remove_stale_temporaries(path: &Path) {
    let prefix = temporary_prefix(path);
    let Some(prefix) = prefix.to_str() else { return };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let now = std::time::SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(|n| n.starts_with(prefix)) {
            continue;
        }
        let old = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_TEMPORARY);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A temporary file beside `path`, of a name no other writer uses, holding `bytes`, synced;
/// mode 0600 on Unix. Stale ones a crashed writer left are removed first.
fn write_temporary(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    remove_stale_temporaries(path);
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).map_err(|e| std::io::Error::other(format!("randomness: {e}")))?;
    let mut name = temporary_prefix(path);
    name.push(crate::jose::b64::encode(tag));
    let tmp = path.with_file_name(name);
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let result = opts.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Syncs the directory holding `path`, so that a rename or link into it survives a power
/// loss. Directories cannot be opened for syncing everywhere (Windows): there it is skipped.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `bytes` to `path` readable by its owner only (0600 on Unix), atomically (module
/// documentation). Used for every secret kept in a file: the store's key, software keys, the
/// sealed instance state, the services' key files. An error from syncing the directory comes
/// after the rename: the new content is in place then, but may not survive a power loss.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = write_temporary(path, bytes)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_parent(path)
}

/// Creates `path` holding `bytes` (0600) unless it exists: `Ok(true)` when this call created
/// it, `Ok(false)` when a file was there (left untouched). The file appears whole or not at
/// all: a complete temporary file is hard-linked to the name, which fails if the name exists.
/// Where hard links are refused (file systems without them, Android's app storage), the same
/// is done under an [`ExclusiveLock`] on `<path>.lock` (left in place): look, then rename.
pub fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let tmp = write_temporary(path, bytes)?;
    let linked = std::fs::hard_link(&tmp, path);
    let created = match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(_) => create_locked(path, &tmp),
    };
    let _ = std::fs::remove_file(&tmp);
    if created? {
        sync_parent(path)?;
        return Ok(true);
    }
    Ok(false)
}

/// [`create_private`] without hard links: under the lock, the name is looked at and the
/// complete temporary file `tmp` renamed to it only if absent.
fn create_locked(path: &Path, tmp: &Path) -> std::io::Result<bool> {
    let mut name = path.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(".lock");
    let _held = ExclusiveLock::acquire(&path.with_file_name(name)).map_err(|e| match e {
        PrivateFileError::Io { source, .. } => source,
        e => std::io::Error::other(e.to_string()),
    })?;
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(false);
    }
    std::fs::rename(tmp, path).map(|()| true)
}

/// Reads the private file at `path` and `parse`s it; when there is none, `create` makes its
/// content, which is written with [`create_private`] and then read back like an existing
/// file, so that when processes race to create it every one of them gets the one that won.
/// `parse` and `create` say what is wrong in plain words; the error names the file.
pub fn load_or_create_private<T>(
    path: &Path,
    parse: impl Fn(&[u8]) -> Result<T, String>,
    create: impl FnOnce() -> Result<Vec<u8>, String>,
) -> Result<T, PrivateFileError> {
    let shown = || path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let fresh = create().map_err(|reason| PrivateFileError::Create { path: shown(), reason })?;
            create_private(path, &fresh).map_err(io_err(path))?;
            std::fs::read(path).map_err(io_err(path))?
        }
        Err(e) => return Err(io_err(path)(e)),
    };
    parse(&bytes).map_err(|reason| PrivateFileError::Invalid { path: shown(), reason })
}

/// What tells one version of a file from the next without reading it: writers here put a new
/// file in place by a rename (a new inode on Unix), with its own modification time and length.
/// A process sharing a directory with others looks at this (one `stat`) to know whether a
/// file it read was replaced, and reads it again only then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersion {
    inode: u64,
    modified: Option<std::time::SystemTime>,
    len: u64,
}

impl FileVersion {
    /// The version of the file at `path` now; `None` when it cannot be looked at.
    pub fn of(path: &Path) -> Option<Self> {
        let m = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Self { inode, modified: m.modified().ok(), len: m.len() })
    }
}

/// How long [`ExclusiveLock::acquire`] waits for another holder.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// An exclusive advisory lock on a file (created if absent, 0600), held until dropped:
/// processes that take it around a read-modify-write of files beside it run one at a time.
/// Advisory: only takers of the same lock are serialised, and across hosts only where the
/// shared file system carries `flock` locks (local disks, NFSv4; not NFS mounted `nolock`).
#[derive(Debug)]
pub struct ExclusiveLock {
    _file: File,
}

impl ExclusiveLock {
    /// Waits for and takes the lock on `path`, at most [`LOCK_WAIT`]: a holder that hangs (a
    /// suspended command) makes this an error naming the file, not a wait without end.
    pub fn acquire(path: &Path) -> Result<Self, PrivateFileError> {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let file = opts.open(path).map_err(io_err(path))?;
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(20)),
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(io_err(path)(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("held by another process for over {} s", LOCK_WAIT.as_secs()))));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io_err(path)(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use std::sync::{Arc, Barrier};

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn a_written_file_is_private_whole_and_leaves_no_temporary_file() {
        let d = dir();
        let p = d.path().join("key.jwk");
        write_private(&p, b"first").unwrap();
        write_private(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("key.jwk")]);
    }

    #[test]
    fn a_write_removes_the_stale_temporary_files_a_crash_left_and_no_others() {
        let d = dir();
        let p = d.path().join("key.jwk");
        let stale = d.path().join("key.jwk.tmp-crashed");
        let fresh = d.path().join("key.jwk.tmp-writing");
        let other = d.path().join("other.jwk.tmp-crashed");
        for f in [&stale, &fresh, &other] {
            std::fs::write(f, b"secret").unwrap();
        }
        let long_ago = std::time::SystemTime::now() - STALE_TEMPORARY - std::time::Duration::from_secs(60);
        for f in [&stale, &other] {
            std::fs::File::options().write(true).open(f).unwrap().set_modified(long_ago).unwrap();
        }
        write_private(&p, b"key").unwrap();
        assert!(!stale.exists(), "left by a crash: removed");
        assert!(fresh.exists(), "another writer's, in use: kept");
        assert!(other.exists(), "another file's: not this writer's to remove");
        assert_eq!(std::fs::read(&p).unwrap(), b"key");
    }

    #[test]
    fn create_private_never_replaces_an_existing_file() {
        let d = dir();
        let p = d.path().join("salt");
        assert!(create_private(&p, b"one").unwrap());
        assert!(!create_private(&p, b"two").unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1, "the temporary file is removed");
    }

    #[test]
    fn without_hard_links_a_file_is_created_under_the_lock_once() {
        let d = dir();
        let p = d.path().join("key");
        let tmp = write_temporary(&p, b"one").unwrap();
        assert!(create_locked(&p, &tmp).unwrap());
        let tmp = write_temporary(&p, b"two").unwrap();
        assert!(!create_locked(&p, &tmp).unwrap(), "an existing file is left alone");
        let _ = std::fs::remove_file(&tmp);
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
    }

    #[test]
    fn a_held_lock_keeps_other_takers_out_until_it_is_dropped() {
        let d = dir();
        let p = d.path().join("rotation.lock");
        let held = ExclusiveLock::acquire(&p).unwrap();
        let other = std::fs::OpenOptions::new().read(true).write(true).open(&p).unwrap();
        assert!(matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)), "held");
        drop(held);
        other.try_lock().unwrap();
    }

    #[test]
    fn processes_racing_to_create_a_key_all_get_the_one_that_was_written() {
        let d = Arc::new(dir());
        let n = 8;
        let start = Arc::new(Barrier::new(n));
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (d, start) = (Arc::clone(&d), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    let p = d.path().join("credential-key.jwk");
                    load_or_create_private(&p, |b| Ok(b.to_vec()), || Ok(format!("key of creator {i}").into_bytes())).unwrap()
                })
            })
            .collect();
        let got: Vec<Vec<u8>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let on_disk = std::fs::read(d.path().join("credential-key.jwk")).unwrap();
        assert!(got.iter().all(|k| *k == on_disk), "every creator uses the key on disk");
    }

    #[test]
    fn errors_name_the_file_and_what_is_wrong() {
        let d = dir();
        let p = d.path().join("bad.jwk");
        std::fs::write(&p, b"not a key").unwrap();
        let e = load_or_create_private(&p, |_| Err::<(), _>("not a JWK".to_owned()), || Ok(Vec::new())).unwrap_err();
        assert!(matches!(e, PrivateFileError::Invalid { .. }));
        assert!(e.to_string().contains("bad.jwk") && e.to_string().contains("not a JWK"), "{e}");
        let q = d.path().join("new.jwk");
        let e = load_or_create_private(&q, |_| Ok(()), || Err("no randomness".to_owned())).unwrap_err();
        assert!(matches!(e, PrivateFileError::Create { .. }) && e.to_string().contains("new.jwk"), "{e}");
        assert!(!q.exists(), "nothing half-made is left");
        let e = load_or_create_private(&d.path().join("missing-dir/k.jwk"), |_| Ok(()), || Ok(b"k".to_vec())).unwrap_err();
        assert!(matches!(e, PrivateFileError::Io { .. }) && e.to_string().contains("missing-dir"), "{e}");
    }

    #[test]
    fn the_lock_serialises_read_modify_write_across_threads() {
        let d = Arc::new(dir());
        let counter = d.path().join("counter");
        write_private(&counter, b"0").unwrap();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let d = Arc::clone(&d);
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _held = ExclusiveLock::acquire(&d.path().join("counter.lock")).unwrap();
                        let p = d.path().join("counter");
                        let n: u32 = std::str::from_utf8(&std::fs::read(&p).unwrap()).unwrap().parse().unwrap();
                        std::thread::yield_now();
                        write_private(&p, (n + 1).to_string().as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(std::fs::read(&counter).unwrap(), b"160");
    }
}
