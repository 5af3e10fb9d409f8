//! Sealing small values the provider hands to a browser and must get back unchanged and
//! unread: AES-256-GCM under a key kept in `<data_dir>/login-seal.key` (mode 0600, written
//! atomically, created on first start; replicas sharing the data directory share it), a
//! random 96-bit nonce per value, and a purpose string as associated data so that a value
//! sealed for one use does not open for another. Output: base64url(nonce ‖ ciphertext ‖ tag).

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use wallet_core::jose::b64;
use zeroize::Zeroize as _;

/// The sealing key.
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// The file name under the data directory.
pub const KEY_FILE: &str = "login-seal.key";

impl Sealer {
    /// Loads the key under `data_dir`, creating it on first start.
    pub fn open(data_dir: &Path) -> Result<Self, String> {
        let path = data_dir.join(KEY_FILE);
        let mut raw = match std::fs::read_to_string(&path) {
            Ok(text) => b64::decode(text.trim()).map_err(|e| format!("{}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut k = vec![0u8; 32];
                getrandom::fill(&mut k).map_err(|e| format!("no randomness: {e}"))?;
                let mut text = b64::encode(&k);
                let written = wallet_core::store::write_private(&path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()));
                text.zeroize();
                written?;
                k
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let cipher = Aes256Gcm::new_from_slice(&raw).map_err(|_| format!("{}: not a 256-bit key", path.display()));
        raw.zeroize();
        Ok(Self { cipher: cipher? })
    }

    /// Seals `plain` for `purpose`.
    pub fn seal(&self, purpose: &str, plain: &[u8]) -> Result<String, String> {
        let mut n = [0u8; 12];
        getrandom::fill(&mut n).map_err(|e| format!("no randomness: {e}"))?;
        let ct = self.cipher.encrypt(&Nonce::from(n), Payload { msg: plain, aad: purpose.as_bytes() }).map_err(|_| "sealing failed".to_owned())?;
        let mut out = n.to_vec();
        out.extend_from_slice(&ct);
        Ok(b64::encode(&out))
    }

    /// Opens a value sealed for `purpose`; `None` when it was not sealed by us for it, or
    /// was altered.
    pub fn open_sealed(&self, purpose: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = b64::decode(sealed).ok()?;
        let (n, ct) = raw.split_at_checked(12)?;
        let n: [u8; 12] = n.try_into().ok()?;
        self.cipher.decrypt(&Nonce::from(n), Payload { msg: ct, aad: purpose.as_bytes() }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sealer::open(dir.path()).unwrap();
        let v = s.seal("login", b"hello").unwrap();
        assert_eq!(s.open_sealed("login", &v).unwrap(), b"hello");
        assert!(s.open_sealed("other", &v).is_none(), "purpose bound");
        let mut t = v.clone().into_bytes();
        let last = t.len() - 2;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        assert!(s.open_sealed("login", std::str::from_utf8(&t).unwrap()).is_none(), "altered");
        assert!(s.open_sealed("login", "").is_none());
        // The same key after a restart; another data dir's key does not open it.
        assert_eq!(Sealer::open(dir.path()).unwrap().open_sealed("login", &v).unwrap(), b"hello");
        let other = tempfile::tempdir().unwrap();
        assert!(Sealer::open(other.path()).unwrap().open_sealed("login", &v).is_none());
    }
}
