//! The phone's key store: P-256 keys held in secure hardware (Android StrongBox/TEE, the iOS
//! Secure Enclave), named by a [`KeyTag`], that sign ES256 and can be attested
//! (IT-Wallet 1.4 §2.2 step 2: "generate an EC hardware key in the WSCD … any pre-existing key
//! is deleted").
//!
//! * [`KeyStore`] is the seam the phone app implements (through the mobile bindings); its
//!   methods take and return plain values (a tag, bytes, a [`Jwk`], a string) so that uniffi
//!   can mirror it as a foreign trait.
//! * [`KeyStoreSigner`] makes a key of a [`KeyStore`] a [`crate::jose::Signer`], so every JWS
//!   builder in this crate can sign with hardware keys.
//! * [`SoftwareKeyStore`] is the software implementation for tests and the command-line wallet:
//!   keys are kept in files under a directory, each sealed with AES-256-GCM under the store's
//!   data key (the same [`crate::store::KeyProvider`] as the credential store), and attested
//!   with the development software attestation format
//!   ([`crate::attestation::key_attestation::SoftwareAttester`]), which a wallet provider
//!   refuses in production.

mod software;

pub use software::SoftwareKeyStore;

use std::sync::Arc;

use crate::jose::{Jwk, JwsAlg, SignError, Signer};

/// The most characters a [`KeyTag`] may have.
pub const MAX_TAG_LEN: usize = 128;

/// The name of a key in a [`KeyStore`] (the spec's `hardware_key_tag`).
///
/// IT-Wallet 1.4 §2.2: the tag is random and collision-resistant, sent base64url-encoded.
/// Tags are checked once, here: 1 to [`MAX_TAG_LEN`] characters of the base64 alphabets
/// (`A–Z a–z 0–9 - _ + / =`; the spec's own example uses standard base64 with padding, so both
/// alphabets are accepted).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct KeyTag(String);

impl KeyTag {
    /// Checks and wraps a tag.
    pub fn new(tag: impl Into<String>) -> Result<Self, KeyStoreError> {
        let tag = tag.into();
        let ok = !tag.is_empty()
            && tag.len() <= MAX_TAG_LEN
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/' | b'='));
        if ok { Ok(Self(tag)) } else { Err(KeyStoreError::InvalidTag(tag.chars().take(MAX_TAG_LEN).collect())) }
    }

    /// A fresh random tag: 256 random bits, base64url (43 characters).
    pub fn generate() -> Result<Self, KeyStoreError> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| KeyStoreError::Unavailable(format!("no randomness: {e}")))?;
        Ok(Self(crate::jose::b64::encode(b)))
    }

    /// The tag's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for KeyTag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for KeyTag {
    type Err = KeyStoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// Why a key store operation failed. Flat and free of key material, so that the mobile
/// bindings can map it one to one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// No key under this tag.
    #[error("no key with tag `{0}`")]
    NotFound(String),
    /// The tag is not a valid [`KeyTag`].
    #[error("invalid key tag `{0}`")]
    InvalidTag(String),
    /// The key store (or randomness, or storage) is unavailable: locked, hardware failure, I/O.
    #[error("key store unavailable: {0}")]
    Unavailable(String),
    /// The user cancelled an operation that needed their authentication.
    #[error("cancelled by the user")]
    Cancelled,
    /// The platform cannot attest keys (no Key Attestation / App Attest service).
    #[error("key attestation unavailable: {0}")]
    AttestationUnavailable(String),
    /// A stored key does not decrypt or parse: tampered, or sealed under another key.
    #[error("key `{0}` is corrupt or was sealed under another key")]
    Corrupt(String),
}

/// Keys in secure hardware, by tag. Implemented by the phone app (Android Keystore with
/// StrongBox, iOS Secure Enclave) and by [`SoftwareKeyStore`].
///
/// Every key is P-256 and signs ES256. Object-safe, `Send + Sync`, plain types at the boundary.
pub trait KeyStore: Send + Sync {
    /// Generates a P-256 key under `tag` in secure hardware, replacing any key already under
    /// that tag (IT-Wallet 1.4 §2.2 step 2), and returns its public JWK.
    fn generate_key(&self, tag: &KeyTag) -> Result<Jwk, KeyStoreError>;

    /// The public JWK of the key under `tag`.
    fn public_key(&self, tag: &KeyTag) -> Result<Jwk, KeyStoreError>;

    /// Signs `message` with ES256 (SHA-256 inside), returning the JWS form: raw `r || s`,
    /// 64 bytes, never DER. Phone implementations convert the platform's DER signature.
    fn sign(&self, tag: &KeyTag, message: &[u8]) -> Result<Vec<u8>, KeyStoreError>;

    /// The platform's attestation of the key under `tag`, bound to `challenge` (a
    /// `client_data_hash`, see [`crate::attestation::client_data`]): the opaque
    /// `key_attestation` (registration) / `integrity_assertion` / `attested_key` (attestation
    /// request) value sent to the wallet provider. Formats:
    /// [`crate::attestation::key_attestation`].
    fn key_attestation(&self, tag: &KeyTag, challenge: &[u8]) -> Result<String, KeyStoreError>;

    /// Deletes the key under `tag` (instance revocation deletes the hardware keys, §2.1).
    /// Deleting a missing key is not an error.
    fn delete_key(&self, tag: &KeyTag) -> Result<(), KeyStoreError>;
}

impl<K: KeyStore + ?Sized> KeyStore for Arc<K> {
    fn generate_key(&self, tag: &KeyTag) -> Result<Jwk, KeyStoreError> {
        (**self).generate_key(tag)
    }
    fn public_key(&self, tag: &KeyTag) -> Result<Jwk, KeyStoreError> {
        (**self).public_key(tag)
    }
    fn sign(&self, tag: &KeyTag, message: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        (**self).sign(tag, message)
    }
    fn key_attestation(&self, tag: &KeyTag, challenge: &[u8]) -> Result<String, KeyStoreError> {
        (**self).key_attestation(tag, challenge)
    }
    fn delete_key(&self, tag: &KeyTag) -> Result<(), KeyStoreError> {
        (**self).delete_key(tag)
    }
}

/// A key of a [`KeyStore`] as a [`Signer`] (ES256). The public key is read once, at
/// construction; its `kid` is its RFC 7638 thumbprint.
pub struct KeyStoreSigner {
    store: Arc<dyn KeyStore>,
    tag: KeyTag,
    public: Jwk,
}

impl std::fmt::Debug for KeyStoreSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStoreSigner").field("tag", &self.tag).field("public", &self.public).finish_non_exhaustive()
    }
}

impl KeyStoreSigner {
    /// The signer over the existing key under `tag`.
    pub fn new(store: Arc<dyn KeyStore>, tag: KeyTag) -> Result<Self, KeyStoreError> {
        let public = store.public_key(&tag)?;
        Ok(Self::with_public_key(store, tag, public))
    }

    /// The signer over the key under `tag` whose public key the caller already holds (e.g.
    /// just returned by [`KeyStore::generate_key`]).
    pub fn with_public_key(store: Arc<dyn KeyStore>, tag: KeyTag, public: Jwk) -> Self {
        let kid = public.thumbprint().to_string();
        Self { store, tag, public: public.with_kid(kid) }
    }

    /// The key's tag.
    pub fn tag(&self) -> &KeyTag {
        &self.tag
    }
}

impl Signer for KeyStoreSigner {
    fn alg(&self) -> JwsAlg {
        JwsAlg::Es256
    }
    fn public_jwk(&self) -> Jwk {
        self.public.clone()
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        let sig = self.store.sign(&self.tag, msg).map_err(|e| SignError(e.to_string()))?;
        if sig.len() != 64 {
            return Err(SignError(format!("key store returned a {}-byte signature, ES256 needs raw r||s (64)", sig.len())));
        }
        Ok(sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked() {
        assert!(KeyTag::new("WQhyDymFKsP95iFqpzdEDWW4l7aVna2Fn4JCeWHYtbU=").is_ok());
        assert!(KeyTag::new("abc-_").is_ok());
        assert_eq!(KeyTag::new(""), Err(KeyStoreError::InvalidTag(String::new())));
        assert_eq!(KeyTag::new("../etc"), Err(KeyStoreError::InvalidTag("../etc".into())));
        assert!(matches!(KeyTag::new("a".repeat(MAX_TAG_LEN + 1)), Err(KeyStoreError::InvalidTag(_))));
        let t = KeyTag::generate().unwrap();
        assert_eq!(t.as_str().len(), 43);
        assert_ne!(t, KeyTag::generate().unwrap());
        assert!(serde_json::from_str::<KeyTag>("\"a b\"").is_err());
    }
}
