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

/// A random key in a file beside the store, created on first use with mode 0600 (written to
/// a temporary file and renamed, so a crash never leaves half a key). For the command-line
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
        let shown = self.path.display().to_string();
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::BadKeyFile(shown))?;
                Ok(DataKey::from_bytes(arr))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = DataKey::generate()?;
                write_private(&self.path, key.as_bytes()).map_err(|e| KeyError::Unavailable(format!("{shown}: {e}")))?;
                Ok(key)
            }
            Err(e) => Err(KeyError::Unavailable(format!("{shown}: {e}"))),
        }
    }
}

/// Writes `bytes` to `path` readable by its owner only (0600 on Unix), atomically: into a
/// temporary file beside it, synced, then renamed over it, so a crash leaves the old content or
/// the new one, never half of either. Used for every secret the wallet keeps in a file (the
/// store's key, software keys, the sealed instance state, and the services' key files).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
