//! Wallet instance registration (IT-Wallet 1.4 §2.2 step 4): the body
//! `{"nonce", "hardware_key_tag", "key_attestation"}` and the provider's checks.

use serde::{Deserialize, Serialize};

use super::client_data;
use super::endpoints::ProviderNonce;
use super::error::AttestationError;
use super::key_attestation::{AttestedKey, KeyAttestationVerifier};
use crate::jose::Jwk;
use crate::keystore::{KeyStore, KeyStoreError, KeyTag};
use crate::time::UnixTime;

/// The registration body, `POST /wallet-instances` (§2.2 step 4).
///
/// Older texts of the spec name the attestation `integrity_assertion`; it is accepted as an
/// alias on input, and `key_attestation` is sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrationRequest {
    /// The provider's nonce (from `GET /nonce`).
    pub nonce: ProviderNonce,
    /// The hardware key's tag (base64url).
    pub hardware_key_tag: KeyTag,
    /// The key attestation of the hardware key, with challenge
    /// [`client_data::registration`] (nonce, key, tag).
    #[serde(alias = "integrity_assertion")]
    pub key_attestation: String,
}

/// What a verified registration gives the provider to store.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedRegistration {
    /// The tag.
    pub hardware_key_tag: KeyTag,
    /// The hardware public key (from the attestation).
    pub hardware_key: Jwk,
    /// The attestation's content (format, security level).
    pub attested: AttestedKey,
}

impl RegistrationRequest {
    /// Wallet side: attests the hardware key under `tag` (already generated in `keys`) for
    /// `nonce`, and builds the body.
    pub fn new(keys: &dyn KeyStore, tag: &KeyTag, nonce: ProviderNonce) -> Result<Self, KeyStoreError> {
        let public = keys.public_key(tag)?;
        let challenge = client_data::registration(&nonce, &public, tag);
        let key_attestation = keys.key_attestation(tag, challenge.as_bytes())?;
        Ok(Self { nonce, hardware_key_tag: tag.clone(), key_attestation })
    }

    /// Provider side: verifies the key attestation and the binding of nonce, key and tag
    /// through `client_data_hash` (§2.2 "verifies … the tag/pubkey/nonce binding"). That the
    /// nonce was issued by the provider and is unused is the provider's store's check, made
    /// before this one.
    pub fn verify(&self, verifier: &dyn KeyAttestationVerifier, now: UnixTime) -> Result<VerifiedRegistration, AttestationError> {
        let attested = verifier.verify(&self.key_attestation, now)?;
        let expected = client_data::registration(&self.nonce, &attested.public_key, &self.hardware_key_tag);
        attested.check(expected.as_bytes(), None)?;
        Ok(VerifiedRegistration { hardware_key_tag: self.hardware_key_tag.clone(), hardware_key: attested.public_key.clone(), attested })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attestation::key_attestation::{KeyAttestationError, KeyAttestationPolicy, SoftwareAttester};
    use crate::keystore::SoftwareKeyStore;

    fn keys() -> SoftwareKeyStore {
        SoftwareKeyStore::in_memory(SoftwareAttester::development().unwrap()).unwrap()
    }

    #[test]
    fn registration_round_trip() {
        let ks = keys();
        let tag = KeyTag::generate().unwrap();
        let jwk = ks.generate_key(&tag).unwrap();
        let req = RegistrationRequest::new(&ks, &tag, ProviderNonce::new("n1").unwrap()).unwrap();
        let wire = serde_json::to_string(&req).unwrap();
        assert!(wire.contains("\"key_attestation\""));
        let back: RegistrationRequest = serde_json::from_str(&wire).unwrap();
        let v = back.verify(&KeyAttestationPolicy::development().unwrap(), UnixTime::now()).unwrap();
        assert_eq!(v.hardware_key.thumbprint(), jwk.thumbprint());
        assert_eq!(v.hardware_key_tag, tag);
    }

    #[test]
    fn integrity_assertion_alias_is_accepted() {
        let r: RegistrationRequest =
            serde_json::from_str(r#"{"nonce":"n","hardware_key_tag":"dGFn","integrity_assertion":"x"}"#).unwrap();
        assert_eq!(r.key_attestation, "x");
    }

    #[test]
    fn other_nonce_or_tag_breaks_the_binding() {
        let ks = keys();
        let tag = KeyTag::generate().unwrap();
        ks.generate_key(&tag).unwrap();
        let policy = KeyAttestationPolicy::development().unwrap();
        let mut req = RegistrationRequest::new(&ks, &tag, ProviderNonce::new("n1").unwrap()).unwrap();
        req.nonce = ProviderNonce::new("n2").unwrap();
        assert_eq!(
            req.verify(&policy, UnixTime::now()).unwrap_err(),
            AttestationError::KeyAttestation(KeyAttestationError::WrongChallenge)
        );
        let mut req = RegistrationRequest::new(&ks, &tag, ProviderNonce::new("n1").unwrap()).unwrap();
        req.hardware_key_tag = KeyTag::new("other").unwrap();
        assert_eq!(
            req.verify(&policy, UnixTime::now()).unwrap_err(),
            AttestationError::KeyAttestation(KeyAttestationError::WrongChallenge)
        );
    }
}
