//! The wallet instance's own state: which provider, which key tags, the current WAA and WUA.
//!
//! Kept in one file beside the credential store (`<data dir>/wallet-instance.sealed`), sealed
//! with AES-256-GCM under the store's data key (the same [`KeyProvider`]); written to a
//! temporary file and renamed, so a crash leaves the old or the new state. The WAA and WUA are
//! not rows of the credential table on purpose: that table is the citizen's credentials, which
//! the app lists; the attestations are the wallet's own.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::WalletError;
use crate::keystore::KeyTag;
use crate::store::{DataKey, KeyProvider};

/// The state file's name.
pub const INSTANCE_FILE: &str = "wallet-instance.sealed";
const AAD: &[u8] = b"tessera/wallet-instance/v1";

/// A registered wallet instance.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// The wallet provider (base URL = entity id).
    pub provider: String,
    /// The registered hardware key (the instance id at the provider).
    pub hardware_key_tag: KeyTag,
    /// The credential key the WUA attests.
    pub credential_key_tag: KeyTag,
    /// The current WAA's ephemeral key.
    #[serde(default)]
    pub waa_key_tag: Option<KeyTag>,
    /// The current WAA.
    #[serde(default)]
    pub wallet_app_attestation: Option<String>,
    /// Its `exp`.
    #[serde(default)]
    pub waa_expires_at: Option<i64>,
    /// The current WUA.
    #[serde(default)]
    pub wallet_unit_attestation: Option<String>,
    /// Its `exp`.
    #[serde(default)]
    pub wua_expires_at: Option<i64>,
    /// When the instance was registered.
    pub registered_at: i64,
}

impl std::fmt::Debug for InstanceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceRecord")
            .field("provider", &self.provider)
            .field("hardware_key_tag", &self.hardware_key_tag)
            .field("waa_expires_at", &self.waa_expires_at)
            .field("wua_expires_at", &self.wua_expires_at)
            .finish_non_exhaustive()
    }
}

/// Where the [`InstanceRecord`] lives.
pub struct InstanceStore {
    path: Option<PathBuf>,
    key: DataKey,
    memory: Mutex<Option<InstanceRecord>>,
}

impl std::fmt::Debug for InstanceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceStore").field("path", &self.path).finish_non_exhaustive()
    }
}

fn state_err(e: impl std::fmt::Display) -> WalletError {
    WalletError::State(e.to_string())
}

impl InstanceStore {
    /// The state in `dir` (created if missing), sealed with the key from `keys`.
    pub fn open(dir: impl AsRef<Path>, keys: &dyn KeyProvider) -> Result<Self, WalletError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| state_err(format!("{}: {e}", dir.display())))?;
        let key = keys.data_key().map_err(state_err)?;
        Ok(Self { path: Some(dir.join(INSTANCE_FILE)), key, memory: Mutex::new(None) })
    }

    /// State in memory only (tests).
    pub fn in_memory() -> Result<Self, WalletError> {
        Ok(Self { path: None, key: DataKey::generate().map_err(state_err)?, memory: Mutex::new(None) })
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Option<InstanceRecord>> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The record, if an instance is registered.
    pub fn load(&self) -> Result<Option<InstanceRecord>, WalletError> {
        let Some(path) = &self.path else { return Ok(self.memory().clone()) };
        let sealed = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(state_err(format!("{}: {e}", path.display()))),
        };
        let plain = self.key.open(&sealed, AAD).map_err(|_| state_err("the instance state does not decrypt (tampered, or another key)"))?;
        serde_json::from_slice(&plain).map(Some).map_err(state_err)
    }

    /// Replaces the record.
    pub fn save(&self, record: &InstanceRecord) -> Result<(), WalletError> {
        let Some(path) = &self.path else {
            *self.memory() = Some(record.clone());
            return Ok(());
        };
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(record).map_err(state_err)?);
        let sealed = self.key.seal(&plain, AAD).map_err(state_err)?;
        crate::store::write_private(path, &sealed).map_err(|e| state_err(format!("{}: {e}", path.display())))
    }

    /// Forgets the instance (after revocation).
    pub fn clear(&self) -> Result<(), WalletError> {
        *self.memory() = None;
        if let Some(path) = &self.path {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(state_err(format!("{}: {e}", path.display()))),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StaticKeyProvider;

    fn record() -> InstanceRecord {
        InstanceRecord {
            provider: "https://wp.example".into(),
            hardware_key_tag: KeyTag::new("hw").unwrap(),
            credential_key_tag: KeyTag::new("cred").unwrap(),
            waa_key_tag: None,
            wallet_app_attestation: Some("eyJ.waa".into()),
            waa_expires_at: Some(5),
            wallet_unit_attestation: None,
            wua_expires_at: None,
            registered_at: 1,
        }
    }

    #[test]
    fn save_load_clear_and_wrong_key() {
        let dir = tempfile::tempdir().unwrap();
        let s = InstanceStore::open(dir.path(), &StaticKeyProvider(DataKey::from_bytes([3; 32]))).unwrap();
        assert_eq!(s.load().unwrap(), None);
        s.save(&record()).unwrap();
        assert_eq!(s.load().unwrap(), Some(record()));
        let raw = std::fs::read(dir.path().join(INSTANCE_FILE)).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("eyJ.waa"));
        let other = InstanceStore::open(dir.path(), &StaticKeyProvider(DataKey::from_bytes([4; 32]))).unwrap();
        assert!(matches!(other.load(), Err(WalletError::State(_))));
        s.clear().unwrap();
        assert_eq!(s.load().unwrap(), None);
    }
}
