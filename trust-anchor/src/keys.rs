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
        let parse = |b: &[u8]| {
            let s: Stored = serde_json::from_slice(b).map_err(|e| e.to_string())?;
            Ok((signer(&s.current)?, s.next.as_deref().map(signer).transpose()?, s.retired))
        };
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
        // Looked at before it was read (a ring created just now: at the first look).
        Ok(Self { path, current, next, retired, version })
    }

    /// Whether the file no longer holds the ring as this process last read or wrote it (a
    /// rollover made by another replica sharing the directory): one `stat`.
    pub fn replaced_on_disk(&self) -> bool {
        let now = FileVersion::of(&self.path);
        now.is_none() || now != self.version
    }

    /// The ring as the file holds it now.
    pub fn reload(&self) -> Result<Self, String> {
        let dir = self.path.parent().ok_or_else(|| format!("{}: no directory", self.path.display()))?;
        Self::load_or_create(dir)
    }

    /// Runs a change of the ring under [`RING_LOCK`], on the ring as the file holds it (not
    /// this process's copy, which another replica's rollover may have left behind), then
    /// saves it: two replicas' changes never overwrite each other.
    fn change<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        let lock = self.path.with_file_name(RING_LOCK);
        let _one = wallet_core::store::ExclusiveLock::acquire(&lock).map_err(|e| e.to_string())?;
        *self = self.reload()?;
        let out = f(self)?;
        self.save()?;
        Ok(out)
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
    pub fn prepare(&mut self) -> Result<Jwk, String> {
        self.change(|ring| {
            if ring.next.is_none() {
                ring.next = Some(SoftwareSigner::generate().map_err(|e| e.to_string())?);
            }
            ring.next.as_ref().map(|n| n.public_jwk()).ok_or_else(|| "no next key".to_owned())
        })
    }

    /// Phase 2: the next key signs from now on; the old one is retired with `exp` set to when
    /// the last statement it signed expires.
    pub fn activate(&mut self, now: i64, statement_ttl: i64) -> Result<Jwk, String> {
        let exp = UnixTime(now).checked_add(statement_ttl).map_err(|e| format!("statement_ttl: {e}"))?.secs();
        self.change(|ring| {
            let next = ring.next.take().ok_or_else(|| "no prepared key: call prepare first".to_owned())?;
            let old = std::mem::replace(&mut ring.current, next);
            ring.retired.push(RetiredKey { jwk: old.public_jwk(), exp, retired_at: now });
            Ok(ring.current.public_jwk())
        })
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
        let reloaded = {
            let ring = self.read();
            if !ring.replaced_on_disk() {
                return false;
            }
            ring.reload()
        };
        match reloaded {
            Ok(ring) => {
                let changed = ring.current.kid() != self.read().current.kid() || ring.next.as_ref().map(SoftwareSigner::kid) != self.read().next.as_ref().map(SoftwareSigner::kid);
                tracing::info!(kid = ?ring.current.kid(), "federation key ring taken up from its file (changed by another replica)");
                *self.write() = ring;
                changed
            }
            Err(e) => {
                tracing::warn!("the federation key ring file cannot be read (the keys in use stay): {e}");
                false
            }
        }
    }

    /// The ring as held now (no look at the file).
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, KeyRing> {
        self.ring.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The ring, to change it ([`KeyRing::prepare`], [`KeyRing::activate`]).
    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, KeyRing> {
        self.ring.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The signing key of an entity's data directory (creating it on first start).
pub fn load_or_create(data_dir: &Path) -> Result<SoftwareSigner, String> {
    let ring = KeyRing::load_or_create(data_dir)?;
    signer(&ring.current.private_jwk().to_json())
}
