//! AES-256-GCM sealing: `nonce (12 bytes) || ciphertext || tag`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use zeroize::Zeroizing;

use super::KeyError;

/// A 256-bit data key. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// Opening failed: wrong key, or the bytes or their associated data were changed.
#[derive(Debug)]
pub(crate) struct OpenError;

impl DataKey {
    /// From 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A random key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut k = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *k).map_err(|e| KeyError::Unavailable(e.to_string()))?;
        Ok(Self(k))
    }

    /// The raw bytes (to hand to a keystore).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(*self.0))
    }

    pub(crate) fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| KeyError::Unavailable(e.to_string()))?;
        let ct = self
            .cipher()
            .encrypt(&Nonce::from(nonce), Payload { msg: plain, aad })
            .map_err(|_| KeyError::Unavailable("AES-GCM encryption failed".into()))?;
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let (nonce, ct) = sealed.split_at_checked(12).ok_or(OpenError)?;
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| OpenError)?;
        self.cipher().decrypt(&Nonce::from(nonce), Payload { msg: ct, aad }).map(Zeroizing::new).map_err(|_| OpenError)
    }
}
