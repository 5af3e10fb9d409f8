//! The entity's Federation Entity Keys, kept in `<data_dir>/federation-keys.json` (mode
//! 0600, written atomically): the key that signs, an optional next key already published,
//! and retired keys kept for the historical keys endpoint (draft 48 §8.7).
//!
//! Rollover without breaking resolution: `prepare` publishes the next key in the entity's
//! `jwks` while the current key still signs; the superior then re-pins the keys (its admin
//! re-onboards the entity, which fetches the configuration signed by the old, pinned key);
//! `activate` makes the next key the signing key and retires the old one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{Jwk, PrivateJwk, Signer as _, SoftwareSigner};
use wallet_core::store::FileVersion;
use wallet_core::time::UnixTime;

#[derive(Serialize, Deserialize)]
struct Stored {
    current: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    retired: Vec<RetiredKey>,
}

/// A key no longer used for signing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetiredKey {
    /// The public key.
    pub jwk: Jwk,
    /// Until when statements it signed may still be valid.
    pub exp: i64,
    /// When it was retired.
    pub retired_at: i64,
}

/// The key ring.
pub struct KeyRing {
    path: PathBuf,
    current: SoftwareSigner,
    next: Option<SoftwareSigner>,
    retired: Vec<RetiredKey>,
    /// The file's version when it was read or written: replicas sharing the directory look
    /// at it to take up a rollover another one made ([`KeyRing::replaced_on_disk`]).
    version: Option<FileVersion>,
}

/// Why a change of the ring did not happen (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// `activate` without a prepared next key.
    #[error("no prepared key: call prepare first")]
    NotPrepared,
    /// The ring's file, its lock or the key generation failed (named in the text).
    #[error("{0}")]
    Files(String),
}

fn parse_stored(b: &[u8]) -> Result<(SoftwareSigner, Option<SoftwareSigner>, Vec<RetiredKey>), String> {
    let s: Stored = serde_json::from_slice(b).map_err(|e| e.to_string())?;
    Ok((signer(&s.current)?, s.next.as_deref().map(signer).transpose()?, s.retired))
}

fn prepare(ring: &mut KeyRing) -> Result<Jwk, RingError> {
    if ring.next.is_none() {
        ring.next = Some(SoftwareSigner::generate().map_err(|e| RingError::Files(e.to_string()))?);
    }
    ring.next.as_ref().map(|n| n.public_jwk()).ok_or(RingError::NotPrepared)
}

fn activate(ring: &mut KeyRing, now: i64, statement_ttl: i64) -> Result<Jwk, RingError> {
    let exp = UnixTime(now).checked_add(statement_ttl).map_err(|e| RingError::Files(format!("statement_ttl: {e}")))?.secs();
    let next = ring.next.take().ok_or(RingError::NotPrepared)?;
    let old = std::mem::replace(&mut ring.current, next);
    ring.retired.push(RetiredKey { jwk: old.public_jwk(), exp, retired_at: now });
    Ok(ring.current.public_jwk())
}

/// The lock file that serialises rollovers of the ring between processes sharing the
/// directory (replicas of one entity).
pub const RING_LOCK: &str = "federation-keys.lock";

fn signer(json: &str) -> Result<SoftwareSigner, String> {
    SoftwareSigner::from_private_jwk(PrivateJwk::from_json(json).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

impl KeyRing {
    /// Loads the ring, creating a first key on first start (an older single-key file
    /// `federation-key.jwk` is taken over).
    pub fn load_or_create(data_dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let path = data_dir.join("federation-keys.json");
        let parse = parse_stored;
        // Created once: replicas starting together on an empty directory all take the ring
        // that was written, not each its own.
        let create = || {
            // An older single-key file is taken over; only its absence makes a new key (one
            // that exists and cannot be read stops the start: a new key would break
            // resolution at the superior that pinned the old one).
            let legacy = data_dir.join("federation-key.jwk");
            let current = match std::fs::read_to_string(&legacy) {
                Ok(t) => signer(&t).map_err(|e| format!("{}: {e}", legacy.display()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => SoftwareSigner::generate().map_err(|e| e.to_string())?,
                Err(e) => return Err(format!("{}: {e}", legacy.display())),
            };
            Self { path: path.clone(), current, next: None, retired: Vec::new(), version: None }.stored_json().map(String::into_bytes)
        };
        let version = FileVersion::of(&path);
        let (current, next, retired) = wallet_core::store::load_or_create_private(&path, parse, create).map_err(|e| e.to_string())?;
        service_kit::files::keep_secret(&path);
        // Looked at before it was read (a ring created just now: at the first look).
        Ok(Self { path, current, next, retired, version })
    }

    /// Whether the file no longer holds the ring as this process last read or wrote it (a
    /// rollover made by another replica sharing the directory): one `stat`.
    pub fn replaced_on_disk(&self) -> bool {
        let now = FileVersion::of(&self.path);
        now.is_none() || now != self.version
    }

    /// The ring as the file holds it now. Never creates it: a file gone or damaged while the
    /// entity runs is an error (the keys in use stay), not a reason for a new key.
    pub fn reload(&self) -> Result<Self, String> {
        Self::read_file(&self.path)
    }

    fn read_file(path: &Path) -> Result<Self, String> {
        let version = FileVersion::of(path);
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (current, next, retired) = parse_stored(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self { path: path.to_path_buf(), current, next, retired, version })
    }

    /// Runs a change of the ring of the file at `path` under [`RING_LOCK`], on the ring as the
    /// file holds it (not a process's copy, which another replica's rollover may have left
    /// behind), and saves it: two replicas' changes never overwrite each other. The changed
    /// ring is returned once saved; nothing is changed when `f` or the save fails.
    fn change_file<T>(path: &Path, f: impl FnOnce(&mut Self) -> Result<T, RingError>) -> Result<(Self, T), RingError> {
        let _one = wallet_core::store::ExclusiveLock::acquire(&path.with_file_name(RING_LOCK)).map_err(|e| RingError::Files(e.to_string()))?;
        let mut ring = Self::read_file(path).map_err(RingError::Files)?;
        let out = f(&mut ring)?;
        ring.save().map_err(RingError::Files)?;
        Ok((ring, out))
    }

    fn stored_json(&self) -> Result<String, String> {
        let stored = Stored {
            current: self.current.private_jwk().to_json(),
            next: self.next.as_ref().map(|n| n.private_jwk().to_json()),
            retired: self.retired.clone(),
        };
        serde_json::to_string(&stored).map_err(|e| e.to_string())
    }

    fn save(&mut self) -> Result<(), String> {
        let text = self.stored_json()?;
        wallet_core::store::write_private(&self.path, text.as_bytes()).map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.version = FileVersion::of(&self.path);
        Ok(())
    }

    /// The signing key.
    pub fn current(&self) -> &SoftwareSigner {
        &self.current
    }

    /// The keys to publish in `jwks`: the current one, and the next one once prepared.
    pub fn published(&self) -> JwkSet {
        let mut keys = vec![self.current.public_jwk()];
        if let Some(n) = &self.next {
            keys.push(n.public_jwk());
        }
        JwkSet { keys }
    }

    /// Retired keys, for the historical keys endpoint.
    pub fn retired(&self) -> &[RetiredKey] {
        &self.retired
    }

    /// Phase 1: generate and publish the next key (idempotent while one is pending, on any
    /// replica sharing the directory).
    pub fn prepare(&mut self) -> Result<Jwk, RingError> {
        let (ring, next) = Self::change_file(&self.path, prepare)?;
        *self = ring;
        Ok(next)
    }

    /// Phase 2: the next key signs from now on; the old one is retired with `exp` set to when
    /// the last statement it signed expires.
    pub fn activate(&mut self, now: i64, statement_ttl: i64) -> Result<Jwk, RingError> {
        let (ring, current) = Self::change_file(&self.path, |r| activate(r, now, statement_ttl))?;
        *self = ring;
        Ok(current)
    }
}

/// How often (seconds) a [`SharedRing`] looks whether its file was replaced by another process
/// sharing the directory (a rollover made there): one `stat`, the file read only when changed.
pub const RING_LOOK: i64 = 1;

/// A key ring shared with the other processes that use its file (replicas of one entity):
/// changed only under [`RING_LOCK`] on the ring the file holds ([`KeyRing::prepare`],
/// [`KeyRing::activate`]), and taken up again when another process changed it
/// ([`SharedRing::take_up`]), so that every replica signs with the key the file names current.
pub struct SharedRing {
    ring: std::sync::RwLock<KeyRing>,
    looked_at: std::sync::atomic::AtomicI64,
}

impl SharedRing {
    /// The ring of `data_dir`, created on first start.
    pub fn open(data_dir: &Path) -> Result<Self, String> {
        Ok(Self { ring: std::sync::RwLock::new(KeyRing::load_or_create(data_dir)?), looked_at: std::sync::atomic::AtomicI64::new(0) })
    }

    /// Takes up the ring from its file when another process replaced it, looking at most every
    /// [`RING_LOOK`] seconds; `true` when the ring changed (what was made with the old key is
    /// to be made again). A file that cannot be read leaves the ring in use (logged) and is
    /// read again at the next look. Call it with no guard of this ring held.
    pub fn take_up(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let now = UnixTime::now().secs();
        let last = self.looked_at.load(Relaxed);
        if now < last.saturating_add(RING_LOOK) || self.looked_at.compare_exchange(last, now, Relaxed, Relaxed).is_err() {
            return false;
        }
        let (seen, reloaded) = {
            let ring = self.read();
            if !ring.replaced_on_disk() {
                return false;
            }
            (ring.version.clone(), ring.reload())
        };
        match reloaded {
            Ok(fresh) => {
                let mut ring = self.write();
                // A change made here meanwhile (prepare, activate) is newer: kept.
                if ring.version != seen {
                    return false;
                }
                let changed = fresh.current.kid() != ring.current.kid() || fresh.next.as_ref().map(SoftwareSigner::kid) != ring.next.as_ref().map(SoftwareSigner::kid);
                if changed {
                    tracing::info!(kid = ?fresh.current.kid(), "federation key ring taken up from its file (changed by another replica)");
                }
                *ring = fresh;
                changed
            }
            Err(e) => {
                tracing::warn!("the federation key ring file cannot be read (the keys in use stay): {e}");
                false
            }
        }
    }

    /// Phase 1 of a rollover ([`KeyRing::prepare`]), on the ring the file holds, under its
    /// lock; no guard of this ring is held while the lock is waited for.
    pub fn prepare(&self) -> Result<Jwk, RingError> {
        let path = self.read().path.clone();
        let (ring, next) = KeyRing::change_file(&path, prepare)?;
        *self.write() = ring;
        Ok(next)
    }

    /// Phase 2 of a rollover ([`KeyRing::activate`]), as [`Self::prepare`].
    pub fn activate(&self, now: i64, statement_ttl: i64) -> Result<Jwk, RingError> {
        let path = self.read().path.clone();
        let (ring, current) = KeyRing::change_file(&path, |r| activate(r, now, statement_ttl))?;
        *self.write() = ring;
        Ok(current)
    }

    /// The ring as held now (no look at the file).
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, KeyRing> {
        self.ring.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, KeyRing> {
        self.ring.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The signing key of an entity's data directory (creating it on first start).
pub fn load_or_create(data_dir: &Path) -> Result<SoftwareSigner, String> {
    let ring = KeyRing::load_or_create(data_dir)?;
    signer(&ring.current.private_jwk().to_json())
}
