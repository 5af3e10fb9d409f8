//! Files a service keeps that hold personal or federation data (SQLite databases: the wallet
//! provider's links fiscal numbers to wallet instances) are as private as the keys beside them:
//! readable and writable by their owner only.

use std::path::{Path, PathBuf};

/// Creates the database file `path` with mode 0600 if it does not exist, and tightens it (and
/// SQLite's `-wal` and `-shm` beside it, which otherwise take the database's mode) to 0600 if
/// others may read or write it. Call it before the database library opens the file.
pub fn private_database(path: &Path) -> std::io::Result<()> {
    private_file(path, true)?;
    for side in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(side);
        let p = PathBuf::from(p);
        if p.exists() {
            private_file(&p, false)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn private_file(path: &Path, create: bool) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let f = std::fs::OpenOptions::new().append(true).create(create).mode(0o600).open(path)?;
    let mode = f.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "file was open to others: mode set to 0600");
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_file(path: &Path, create: bool) -> std::io::Result<()> {
    std::fs::OpenOptions::new().append(true).create(create).open(path).map(|_| ())
}

/// A private JWK file (a service's key): read and parsed, or made by `create` (the JWK's
/// JSON) on first start, once, whatever the number of replicas starting together on an
/// empty `keys_dir` (wallet-core `store::load_or_create_private`), then kept private
/// ([`keep_secret`]). Errors name the file.
pub fn load_or_create_jwk<T>(
    path: &Path,
    parse: impl Fn(wallet_core::jose::PrivateJwk) -> Result<T, String>,
    create: impl FnOnce() -> Result<String, String>,
) -> Result<T, String> {
    let parse = |b: &[u8]| {
        let text = std::str::from_utf8(b).map_err(|_| "not UTF-8".to_owned())?;
        parse(wallet_core::jose::PrivateJwk::from_json(text).map_err(|e| e.to_string())?)
    };
    let key = wallet_core::store::load_or_create_private(path, parse, || create().map(String::into_bytes)).map_err(|e| e.to_string())?;
    keep_secret(path);
    Ok(key)
}

/// What [`keep_secret`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFileMode {
    /// Readable and writable by its owner only (or not a Unix system).
    Private,
    /// It was open to others (the mode it had, e.g. `0o644`) and is now 0600.
    Tightened(u32),
    /// It is open to others and could not be changed (a read-only mount, another owner).
    Exposed {
        /// Its mode.
        mode: u32,
        /// Why it could not be changed.
        reason: String,
    },
}

/// Looks at a secret a service just read (a key file, a salt, a password), which wallet-core's
/// `store::write_private` creates 0600: one copied in by an operator may have come with
/// looser bits (`cp` under umask 022, a volume mounted 0644). It is tightened to 0600 where it
/// can be, with a warning; where it cannot, a warning says so. Never an error: the service
/// still starts with the secret it has, as with its databases ([`private_database`]).
pub fn keep_secret(path: &Path) -> SecretFileMode {
    let found = secret_mode(path);
    match &found {
        SecretFileMode::Private => {}
        SecretFileMode::Tightened(mode) => {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "secret file was open to others: mode set to 0600");
        }
        SecretFileMode::Exposed { mode, reason } => {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), %reason, "secret file is open to others and could not be set to 0600: make it readable by this service's user only");
        }
    }
    found
}

#[cfg(unix)]
fn secret_mode(path: &Path) -> SecretFileMode {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(meta) = std::fs::metadata(path) else { return SecretFileMode::Private };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return SecretFileMode::Private;
    }
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        Ok(()) => SecretFileMode::Tightened(mode),
        Err(e) => SecretFileMode::Exposed { mode, reason: e.to_string() },
    }
}

#[cfg(not(unix))]
fn secret_mode(_: &Path) -> SecretFileMode {
    SecretFileMode::Private
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_private_and_loose_ones_tightened() {
        let dir = std::env::temp_dir().join(format!("service-kit-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("x.db");
        let _ = std::fs::remove_file(&db);
        private_database(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        let wal = dir.join("x.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o664)).unwrap();
        private_database(&db).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
        assert!(!dir.join("x.db-shm").exists(), "side files are not created");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_secret_open_to_others_is_tightened_and_a_private_one_left_alone() {
        let dir = std::env::temp_dir().join(format!("service-kit-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key.jwk");
        std::fs::write(&key, b"{}").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(keep_secret(&key), SecretFileMode::Tightened(0o644));
        assert_eq!(mode(&key), 0o600);
        assert_eq!(keep_secret(&key), SecretFileMode::Private);
        assert_eq!(std::fs::read(&key).unwrap(), b"{}", "content untouched");
        assert_eq!(keep_secret(&dir.join("absent")), SecretFileMode::Private, "nothing to look at: no error");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
