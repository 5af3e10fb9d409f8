//! [`SoftwareKeyStore`]: P-256 keys in files, sealed under the store's data key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::{KeyStore, KeyStoreError, KeyTag};
use crate::attestation::key_attestation::SoftwareAttester;
use crate::jose::{Jwk, PrivateJwk, Signer as _, SoftwareSigner};
use crate::store::{DataKey, KeyProvider};
use crate::time::{Clock, SystemClock};

/// A software [`KeyStore`] for tests and the command-line wallet. Not secure hardware: a
/// wallet provider in production refuses its attestations.
///
/// Each key lives in `<dir>/<hex(tag)>.key`, its private JWK sealed with AES-256-GCM under the
/// data key from a [`KeyProvider`] (the same provider as the credential store's), the tag
/// bound as associated data so that files cannot be swapped between tags. Writes go to a
/// temporary file that is renamed, so a crash never leaves half a key. Without a directory
/// ([`SoftwareKeyStore::in_memory`]) keys live only in memory.
pub struct SoftwareKeyStore {
    dir: Option<PathBuf>,
    key: DataKey,
    attester: SoftwareAttester,
    clock: std::sync::Arc<dyn Clock>,
    keys: Mutex<HashMap<KeyTag, std::sync::Arc<SoftwareSigner>>>,
}

impl std::fmt::Debug for SoftwareKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareKeyStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

const AAD_PREFIX: &[u8] = b"tessera/keystore/v1/";

fn unavailable(e: impl std::fmt::Display) -> KeyStoreError {
    KeyStoreError::Unavailable(e.to_string())
}

impl SoftwareKeyStore {
    /// Keys persisted under `dir` (created if missing), sealed with the key from `keys`,
    /// attested by `attester`.
    pub fn open(dir: impl AsRef<Path>, keys: &dyn KeyProvider, attester: SoftwareAttester) -> Result<Self, KeyStoreError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| unavailable(format!("{}: {e}", dir.display())))?;
        let key = keys.data_key().map_err(unavailable)?;
        Ok(Self { dir: Some(dir), key, attester, clock: std::sync::Arc::new(SystemClock), keys: Mutex::new(HashMap::new()) })
    }

    /// Keys in memory only (tests).
    pub fn in_memory(attester: SoftwareAttester) -> Result<Self, KeyStoreError> {
        let key = DataKey::generate().map_err(unavailable)?;
        Ok(Self { dir: None, key, attester, clock: std::sync::Arc::new(SystemClock), keys: Mutex::new(HashMap::new()) })
    }

    /// The clock that dates attestations (tests pin it).
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn path(&self, tag: &KeyTag) -> Option<PathBuf> {
        let hex: String = tag.as_str().bytes().map(|b| format!("{b:02x}")).collect();
        self.dir.as_ref().map(|d| d.join(format!("{hex}.key")))
    }

    fn aad(tag: &KeyTag) -> Vec<u8> {
        let mut aad = AAD_PREFIX.to_vec();
        aad.extend_from_slice(tag.as_str().as_bytes());
        aad
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<KeyTag, std::sync::Arc<SoftwareSigner>>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn load(&self, tag: &KeyTag) -> Result<std::sync::Arc<SoftwareSigner>, KeyStoreError> {
        if let Some(s) = self.cache().get(tag) {
            return Ok(s.clone());
        }
        let not_found = || KeyStoreError::NotFound(tag.to_string());
        let path = self.path(tag).ok_or_else(not_found)?;
        let sealed = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
            Err(e) => return Err(unavailable(format!("{}: {e}", path.display()))),
        };
        let corrupt = || KeyStoreError::Corrupt(tag.to_string());
        let plain = self.key.open(&sealed, &Self::aad(tag)).map_err(|_| corrupt())?;
        let text = std::str::from_utf8(&plain).map_err(|_| corrupt())?;
        let private = PrivateJwk::from_json(text).map_err(|_| corrupt())?;
        let signer = std::sync::Arc::new(SoftwareSigner::from_private_jwk(private).map_err(|_| corrupt())?);
        self.cache().insert(tag.clone(), signer.clone());
        Ok(signer)
    }

    fn persist(&self, tag: &KeyTag, signer: &SoftwareSigner) -> Result<(), KeyStoreError> {
        let Some(path) = self.path(tag) else { return Ok(()) };
        let plain = zeroize::Zeroizing::new(signer.private_jwk().to_json());
        let sealed = self.key.seal(plain.as_bytes(), &Self::aad(tag)).map_err(unavailable)?;
        crate::store::write_private(&path, &sealed).map_err(|e| unavailable(format!("{}: {e}", path.display())))
    }
}

impl KeyStore for SoftwareKeyStore {
    fn generate_key(&self, tag: &KeyTag) -> Result<Jwk, KeyStoreError> {
        let signer = SoftwareSigner::generate().map_err(unavailable)?;
        self.persist(tag, &signer)?;
        let public = signer.public_jwk();
        self.cache().insert(tag.clone(), std::sync::Arc::new(signer));
        Ok(public)
    }

    fn public_key(&self, tag: &KeyTag) -> Result<Jwk, KeyStoreError> {
        Ok(self.load(tag)?.public_jwk())
    }

    fn sign(&self, tag: &KeyTag, message: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        self.load(tag)?.sign(message).map_err(|e| unavailable(e.0))
    }

    fn key_attestation(&self, tag: &KeyTag, challenge: &[u8]) -> Result<String, KeyStoreError> {
        let public = self.public_key(tag)?;
        self.attester
            .attest(&public, challenge, self.clock.now())
            .map_err(|e| KeyStoreError::AttestationUnavailable(e.to_string()))
    }

    fn delete_key(&self, tag: &KeyTag) -> Result<(), KeyStoreError> {
        self.cache().remove(tag);
        if let Some(path) = self.path(tag) {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(unavailable(format!("{}: {e}", path.display()))),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::attestation::key_attestation::{KeyAttestationVerifier as _, SoftwareAttestationVerifier};
    use crate::jose::JwsAlg;
    use crate::keystore::KeyStoreSigner;
    use crate::store::StaticKeyProvider;
    use crate::time::UnixTime;

    fn provider(b: u8) -> StaticKeyProvider {
        StaticKeyProvider(DataKey::from_bytes([b; 32]))
    }

    #[test]
    fn generate_sign_persist_reopen_delete() {
        let dir = tempfile::tempdir().unwrap();
        let tag = KeyTag::generate().unwrap();
        let ks = SoftwareKeyStore::open(dir.path(), &provider(1), SoftwareAttester::development().unwrap()).unwrap();
        let jwk = ks.generate_key(&tag).unwrap();
        let sig = ks.sign(&tag, b"msg").unwrap();
        assert_eq!(sig.len(), 64);
        jwk.verify(JwsAlg::Es256, b"msg", &sig).unwrap();

        // Reopened: the same key, read from its sealed file.
        let again = SoftwareKeyStore::open(dir.path(), &provider(1), SoftwareAttester::development().unwrap()).unwrap();
        assert_eq!(again.public_key(&tag).unwrap(), jwk);

        // Another data key cannot open it.
        let wrong = SoftwareKeyStore::open(dir.path(), &provider(2), SoftwareAttester::development().unwrap()).unwrap();
        assert_eq!(wrong.public_key(&tag), Err(KeyStoreError::Corrupt(tag.to_string())));

        // The file holds no clear private key.
        let file = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        let bytes = std::fs::read(file).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("\"d\""));

        // Replacing: a new key under the same tag.
        let replaced = again.generate_key(&tag).unwrap();
        assert_ne!(replaced, jwk);

        again.delete_key(&tag).unwrap();
        again.delete_key(&tag).unwrap();
        assert_eq!(again.public_key(&tag), Err(KeyStoreError::NotFound(tag.to_string())));
    }

    #[test]
    fn swapped_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ks = SoftwareKeyStore::open(dir.path(), &provider(1), SoftwareAttester::development().unwrap()).unwrap();
        let (a, b) = (KeyTag::new("aaaa").unwrap(), KeyTag::new("bbbb").unwrap());
        ks.generate_key(&a).unwrap();
        ks.generate_key(&b).unwrap();
        let (pa, pb) = (ks.path(&a).unwrap(), ks.path(&b).unwrap());
        std::fs::copy(&pa, &pb).unwrap();
        let fresh = SoftwareKeyStore::open(dir.path(), &provider(1), SoftwareAttester::development().unwrap()).unwrap();
        assert_eq!(fresh.public_key(&b), Err(KeyStoreError::Corrupt("bbbb".into())));
    }

    #[test]
    fn signer_adapter_and_attestation() {
        let ks: Arc<dyn KeyStore> = Arc::new(SoftwareKeyStore::in_memory(SoftwareAttester::development().unwrap()).unwrap());
        let tag = KeyTag::generate().unwrap();
        let jwk = ks.generate_key(&tag).unwrap();
        let signer = KeyStoreSigner::new(ks.clone(), tag.clone()).unwrap();
        assert_eq!(signer.kid(), Some(jwk.thumbprint().to_string()));
        let jws = crate::jose::jws::sign(&crate::jose::JwsHeader::new(JwsAlg::Es256), b"{}", &signer).unwrap();
        crate::jose::CompactJws::parse(&jws).unwrap().verify(&jwk).unwrap();

        let att = ks.key_attestation(&tag, b"challenge").unwrap();
        let attested = SoftwareAttestationVerifier::development().unwrap().verify(&att, UnixTime::now()).unwrap();
        attested.check(b"challenge", Some(&jwk)).unwrap();
    }
}
