//! The phone's key store, implemented by the app: P-256 keys in secure hardware (Android
//! Keystore / StrongBox, iOS Secure Enclave), named by tag.
//!
//! Only bytes and strings cross: a public key is the SEC1 uncompressed point
//! (`04 || x || y`, 65 bytes, what iOS `SecKeyCopyExternalRepresentation` gives), a
//! signature is raw `r || s` (64 bytes, the JWS form). Android and iOS sign in DER: convert
//! with [`der_signature_to_raw`] or on the app side. [`ForeignSigner`] adapts a tag of this
//! store to wallet-core's [`Signer`] (keeping the key store's typed error),
//! [`CoreKeyStore`] to wallet-core's `keystore::KeyStore` (activation);
//! [`software_key_store`] is wallet-core's software store for tests and development.

use std::sync::{Arc, Mutex, PoisonError};

use wallet_core::attestation::key_attestation::SoftwareAttester;
use wallet_core::jose::{EcCurve, Jwk, JwkParams, JwsAlg, SignError, Signer};
use wallet_core::keystore::{self as core, KeyTag};

use crate::records::JwkRecord;

/// What a key store implementation reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// No key with this tag.
    #[error("no key with tag {tag}")]
    KeyNotFound {
        /// The tag.
        tag: String,
    },
    /// The user dismissed the authentication prompt.
    #[error("cancelled by the user")]
    UserCancelled,
    /// The hardware or the platform failed.
    #[error("key store unavailable: {reason}")]
    Unavailable {
        /// What failed.
        reason: String,
    },
    /// This key store cannot do this (e.g. no key attestation in a software store).
    #[error("not supported: {reason}")]
    Unsupported {
        /// What.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for KeyStoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Unavailable { reason: format!("the key store threw: {}", e.reason) }
    }
}

/// The app's key store. Every method may block (user authentication): the wallet never
/// calls it while holding a lock the app could need.
#[uniffi::export(with_foreign)]
pub trait KeyStore: Send + Sync {
    /// Creates a P-256 signing key under `tag`, replacing any key already under it
    /// (IT-Wallet 1.4 §2.2), and returns its public point (`04 || x || y`, 65 bytes).
    /// Tags are base64url text of at most 128 characters.
    fn generate_key(&self, tag: String) -> Result<Vec<u8>, KeyStoreError>;
    /// The public point of the key `tag` (`04 || x || y`).
    fn public_key(&self, tag: String) -> Result<Vec<u8>, KeyStoreError>;
    /// ECDSA P-256 with SHA-256 over `message`, as raw `r || s` (64 bytes).
    fn sign(&self, tag: String, message: Vec<u8>) -> Result<Vec<u8>, KeyStoreError>;
    /// The platform's attestation of the key `tag` bound to `challenge` (the wallet
    /// provider's `client_data_hash`): Android Key Attestation (the certificate chain of
    /// `setAttestationChallenge(challenge)`) or iOS App Attest, in the encoding
    /// wallet-core's `attestation::key_attestation` reads.
    fn key_attestation(&self, tag: String, challenge: Vec<u8>) -> Result<String, KeyStoreError>;
    /// Deletes the key `tag` (absent is not an error).
    fn delete_key(&self, tag: String) -> Result<(), KeyStoreError>;
}

/// A P-256 public key from its SEC1 uncompressed point.
pub(crate) fn jwk_from_point(point: &[u8]) -> Result<Jwk, KeyStoreError> {
    let bad = || KeyStoreError::Unavailable { reason: "the public key is not a 65-byte uncompressed P-256 point".into() };
    match point.split_first() {
        Some((0x04, xy)) if xy.len() == 64 => {
            let (x, y) = xy.split_at(32);
            Jwk::ec(EcCurve::P256, x.to_vec(), y.to_vec()).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// Converts an ECDSA P-256 signature from DER (what Android's `Signature` and iOS
/// `SecKeyCreateSignature` return) to raw `r || s` (64 bytes).
#[uniffi::export]
pub fn der_signature_to_raw(der: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
    let bad = |why: &str| KeyStoreError::Unavailable { reason: format!("not a DER ECDSA P-256 signature: {why}") };
    // SEQUENCE { INTEGER r, INTEGER s }, short-form lengths (a P-256 signature is < 128 bytes).
    let body = match der.as_slice() {
        [0x30, len, body @ ..] if usize::from(*len) == body.len() => body,
        _ => return Err(bad("not a SEQUENCE of the right length")),
    };
    let mut out = Vec::with_capacity(64);
    let mut rest = body;
    for _ in 0..2 {
        let (int, tail) = match rest {
            [0x02, len, tail @ ..] if usize::from(*len) <= tail.len() => tail.split_at(usize::from(*len)),
            _ => return Err(bad("not an INTEGER")),
        };
        let int = match int {
            [0x00, rest @ ..] if rest.first().is_some_and(|b| b & 0x80 != 0) => rest,
            [first, ..] if first & 0x80 == 0 => int,
            _ => return Err(bad("negative or empty INTEGER")),
        };
        if int.len() > 32 {
            return Err(bad("INTEGER longer than 32 bytes"));
        }
        out.extend(std::iter::repeat_n(0u8, 32 - int.len()));
        out.extend_from_slice(int);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(bad("trailing data"));
    }
    Ok(out)
}

/// wallet-core's [`Signer`] over one key of the app's [`KeyStore`]. A failure of the key
/// store is kept, so that the caller can report it typed (cancelled, key missing) rather
/// than as the string [`SignError`] carries.
pub(crate) struct ForeignSigner {
    store: Arc<dyn KeyStore>,
    tag: String,
    public: Jwk,
    failure: Mutex<Option<KeyStoreError>>,
}

impl ForeignSigner {
    /// The signer for `tag`, reading its public key once.
    pub(crate) fn new(store: Arc<dyn KeyStore>, tag: &str) -> Result<Self, KeyStoreError> {
        let public = jwk_from_point(&store.public_key(tag.to_owned())?)?;
        Ok(Self { store, tag: tag.to_owned(), public, failure: Mutex::new(None) })
    }

    /// The key store's own error, if signing failed there.
    pub(crate) fn take_failure(&self) -> Option<KeyStoreError> {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn fail(&self, e: KeyStoreError) -> SignError {
        let msg = e.to_string();
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
        SignError(msg)
    }
}

impl Signer for ForeignSigner {
    fn alg(&self) -> JwsAlg {
        JwsAlg::Es256
    }
    fn public_jwk(&self) -> Jwk {
        self.public.clone()
    }
    fn kid(&self) -> Option<String> {
        None
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        let sig = self.store.sign(self.tag.clone(), msg.to_vec()).map_err(|e| self.fail(e))?;
        if sig.len() != 64 {
            return Err(self.fail(KeyStoreError::Unavailable {
                reason: format!("the key store returned a {}-byte signature; raw r||s (64 bytes) is required", sig.len()),
            }));
        }
        // Check before it leaves: a key store that signs with another key fails here, not
        // at the verifier.
        self.public.verify(JwsAlg::Es256, msg, &sig).map_err(|_| {
            self.fail(KeyStoreError::Unavailable { reason: "the key store's signature does not verify with its public key".into() })
        })?;
        Ok(sig)
    }
}

/// wallet-core's key store seam over the app's [`KeyStore`] (what the activation flow uses).
pub(crate) struct CoreKeyStore(pub(crate) Arc<dyn KeyStore>);

impl From<KeyStoreError> for core::KeyStoreError {
    fn from(e: KeyStoreError) -> Self {
        match e {
            KeyStoreError::KeyNotFound { tag } => Self::NotFound(tag),
            KeyStoreError::UserCancelled => Self::Cancelled,
            KeyStoreError::Unavailable { reason } => Self::Unavailable(reason),
            KeyStoreError::Unsupported { reason } => Self::AttestationUnavailable(reason),
        }
    }
}

impl From<core::KeyStoreError> for KeyStoreError {
    fn from(e: core::KeyStoreError) -> Self {
        match e {
            core::KeyStoreError::NotFound(tag) => Self::KeyNotFound { tag },
            core::KeyStoreError::Cancelled => Self::UserCancelled,
            core::KeyStoreError::AttestationUnavailable(reason) => Self::Unsupported { reason },
            other => Self::Unavailable { reason: other.to_string() },
        }
    }
}

impl core::KeyStore for CoreKeyStore {
    fn generate_key(&self, tag: &KeyTag) -> Result<Jwk, core::KeyStoreError> {
        Ok(jwk_from_point(&self.0.generate_key(tag.to_string())?)?)
    }
    fn public_key(&self, tag: &KeyTag) -> Result<Jwk, core::KeyStoreError> {
        Ok(jwk_from_point(&self.0.public_key(tag.to_string())?)?)
    }
    fn sign(&self, tag: &KeyTag, message: &[u8]) -> Result<Vec<u8>, core::KeyStoreError> {
        Ok(self.0.sign(tag.to_string(), message.to_vec())?)
    }
    fn key_attestation(&self, tag: &KeyTag, challenge: &[u8]) -> Result<String, core::KeyStoreError> {
        Ok(self.0.key_attestation(tag.to_string(), challenge.to_vec())?)
    }
    fn delete_key(&self, tag: &KeyTag) -> Result<(), core::KeyStoreError> {
        Ok(self.0.delete_key(tag.to_string())?)
    }
}

/// wallet-core's software key store as the app-facing [`KeyStore`].
struct SoftwareKeys(core::SoftwareKeyStore);

fn tag(t: &str) -> Result<KeyTag, KeyStoreError> {
    KeyTag::new(t).map_err(KeyStoreError::from)
}

fn point_of(jwk: &Jwk) -> Result<Vec<u8>, KeyStoreError> {
    match &jwk.params {
        JwkParams::Ec { crv: EcCurve::P256, .. } => {
            jwk.params.ec_point().ok_or_else(|| KeyStoreError::Unavailable { reason: "no EC point".into() })
        }
        _ => Err(KeyStoreError::Unavailable { reason: "not a P-256 key".into() }),
    }
}

impl KeyStore for SoftwareKeys {
    fn generate_key(&self, t: String) -> Result<Vec<u8>, KeyStoreError> {
        point_of(&core::KeyStore::generate_key(&self.0, &tag(&t)?)?)
    }
    fn public_key(&self, t: String) -> Result<Vec<u8>, KeyStoreError> {
        point_of(&core::KeyStore::public_key(&self.0, &tag(&t)?)?)
    }
    fn sign(&self, t: String, message: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
        Ok(core::KeyStore::sign(&self.0, &tag(&t)?, &message)?)
    }
    fn key_attestation(&self, t: String, challenge: Vec<u8>) -> Result<String, KeyStoreError> {
        Ok(core::KeyStore::key_attestation(&self.0, &tag(&t)?, &challenge)?)
    }
    fn delete_key(&self, t: String) -> Result<(), KeyStoreError> {
        Ok(core::KeyStore::delete_key(&self.0, &tag(&t)?)?)
    }
}

/// wallet-core's software key store, in memory, with the published development attestation
/// root: for tests and development only (a wallet provider in production refuses its
/// attestations). Phones implement [`KeyStore`] over their secure hardware.
#[uniffi::export]
pub fn software_key_store() -> Result<Arc<dyn KeyStore>, KeyStoreError> {
    let attester = SoftwareAttester::development().map_err(|e| KeyStoreError::Unavailable { reason: e.to_string() })?;
    Ok(Arc::new(SoftwareKeys(core::SoftwareKeyStore::in_memory(attester)?)))
}

/// The public key of `point` as a JWK record (what goes in `cnf.jwk`).
#[uniffi::export]
pub fn jwk_from_public_point(point: Vec<u8>) -> Result<JwkRecord, KeyStoreError> {
    Ok(JwkRecord::from(&jwk_from_point(&point)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_to_raw_pads_and_strips() {
        // r = 0x00 0x80.. (leading zero for a high bit), s = 0x01 (short).
        let mut r = vec![0x00, 0x80];
        r.extend([0x11; 31]);
        let der = [vec![0x30, 2 + 33 + 2 + 1, 0x02, 33], r, vec![0x02, 1, 0x01]].concat();
        let raw = der_signature_to_raw(der).unwrap();
        assert_eq!(raw.len(), 64);
        assert_eq!(raw[0], 0x80);
        assert_eq!(raw[63], 0x01);
        assert!(raw[32..63].iter().all(|b| *b == 0));
        assert!(der_signature_to_raw(vec![0x30, 0x00, 0x01]).is_err());
    }

    #[test]
    fn software_store_signs_through_the_adapter() {
        let ks = software_key_store().unwrap();
        ks.generate_key("k".into()).unwrap();
        let signer = ForeignSigner::new(ks.clone(), "k").unwrap();
        let sig = signer.sign(b"m").unwrap();
        signer.public_jwk().verify(JwsAlg::Es256, b"m", &sig).unwrap();
        ks.delete_key("k".into()).unwrap();
        assert!(signer.sign(b"m").is_err());
        assert_eq!(signer.take_failure(), Some(KeyStoreError::KeyNotFound { tag: "k".into() }));
    }
}
