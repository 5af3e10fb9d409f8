//! Where the store's key comes from.

use std::path::{Path, PathBuf};

use super::DataKey;

/// A key provider failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key (or randomness) is not available: keystore locked, user cancelled, I/O.
    #[error("key unavailable: {0}")]
    Unavailable(String),
    /// A key file exists but is not a key.
    #[error("key file {0} is not a 32-byte key")]
    BadKeyFile(String),
}

/// Hands out the store's 256-bit data key. On a phone this unwraps a key kept by the
/// platform keystore (Android Keystore, iOS Keychain/Secure Enclave); the store keeps the key
/// only in memory, zeroized on drop.
pub trait KeyProvider: Send + Sync {
    /// The data key. Called once when the store is opened.
    fn data_key(&self) -> Result<DataKey, KeyError>;
}

/// A fixed key (tests, or a key the app derived itself).
#[derive(Debug, Clone)]
pub struct StaticKeyProvider(pub DataKey);

impl KeyProvider for StaticKeyProvider {
    fn data_key(&self) -> Result<DataKey, KeyError> {
        Ok(self.0.clone())
    }
}

/// A random key in a file beside the store, created on first use with mode 0600 (whole or
/// not at all, once: [`super::load_or_create_private`]). For the command-line
/// wallet and development; phones use their keystore.
#[derive(Debug, Clone)]
pub struct FileKeyProvider {
    path: PathBuf,
}

impl FileKeyProvider {
    /// A provider over the key file at `path`.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self { path: path.as_ref().to_path_buf() }
    }
}

impl KeyProvider for FileKeyProvider {
    fn data_key(&self) -> Result<DataKey, KeyError> {
        let parse = |b: &[u8]| <[u8; 32]>::try_from(b).map(DataKey::from_bytes).map_err(|_| "not a 32-byte key".to_owned());
        let create = || DataKey::generate().map(|k| k.as_bytes().to_vec()).map_err(|e| e.to_string());
        super::load_or_create_private(&self.path, parse, create).map_err(|e| match e {
            super::PrivateFileError::Invalid { path, .. } => KeyError::BadKeyFile(path),
            e => KeyError::Unavailable(e.to_string()),
        })
    }
}
