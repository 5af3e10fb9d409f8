//! `client_data` and `client_data_hash`: what binds a key attestation or a hardware signature
//! to the provider's nonce and to a key (IT-Wallet 1.4 §2.2 step 3, §2.3 wallet side).
//!
//! * Issuance (§2.3, spec text): `client_data = {"nonce": …, "jwk_thumbprint": …}`, hashed with
//!   SHA-256; `client_data_waa` names the ephemeral WAA key, `client_data_wua` the credential
//!   key.
//! * Registration (§2.2): the spec says the hash is "over the nonce, `hardware_key_pub` and the
//!   tag" without fixing a serialization. Our choice, mirroring the issuance form:
//!   `{"nonce": …, "jwk_thumbprint": <RFC 7638 thumbprint of hardware_key_pub>,
//!   "hardware_key_tag": …}`.
//!
//! Both are serialized exactly as written here (members in this order, no white space) and
//! hashed with SHA-256; the provider rebuilds the same bytes.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::endpoints::ProviderNonce;
use crate::jose::Jwk;
use crate::keystore::KeyTag;

/// A SHA-256 `client_data_hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientDataHash(pub [u8; 32]);

impl ClientDataHash {
    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

#[derive(Serialize)]
struct IssuanceClientData<'a> {
    nonce: &'a str,
    jwk_thumbprint: &'a str,
}

#[derive(Serialize)]
struct RegistrationClientData<'a> {
    nonce: &'a str,
    jwk_thumbprint: &'a str,
    hardware_key_tag: &'a str,
}

fn hash(v: &impl Serialize) -> ClientDataHash {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    ClientDataHash(Sha256::digest(bytes).into())
}

/// The `client_data_hash` of registration: the key attestation's challenge (§2.2 step 3).
pub fn registration(nonce: &ProviderNonce, hardware_key: &Jwk, tag: &KeyTag) -> ClientDataHash {
    let thumb = hardware_key.thumbprint();
    hash(&RegistrationClientData { nonce: nonce.as_str(), jwk_thumbprint: thumb.as_str(), hardware_key_tag: tag.as_str() })
}

/// `SHA-256(client_data)` with `client_data = {"nonce", "jwk_thumbprint"}` (§2.3): for the
/// WAA key (`client_data_waa`) or the credential key (`client_data_wua`).
pub fn issuance(nonce: &ProviderNonce, key: &Jwk) -> ClientDataHash {
    let thumb = key.thumbprint();
    hash(&IssuanceClientData { nonce: nonce.as_str(), jwk_thumbprint: thumb.as_str() })
}

/// What `hardware_signature` signs (§2.3 "hardware-key signature over both hashes"): our
/// choice of concatenation, `client_data_hash_waa || client_data_hash_wua` (64 bytes), signed
/// ES256 by the hardware key.
pub fn hardware_signature_input(waa: &ClientDataHash, wua: &ClientDataHash) -> [u8; 64] {
    let mut out = [0u8; 64];
    let (a, b) = out.split_at_mut(32);
    a.copy_from_slice(&waa.0);
    b.copy_from_slice(&wua.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_data_is_the_documented_json() {
        let jwk = Jwk::from_json(r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#).unwrap();
        let nonce = ProviderNonce::new("n0").unwrap();
        let thumb = jwk.thumbprint().to_string();
        let expected = Sha256::digest(format!(r#"{{"nonce":"n0","jwk_thumbprint":"{thumb}"}}"#));
        assert_eq!(issuance(&nonce, &jwk).0.as_slice(), expected.as_slice());
        let tag = KeyTag::new("tag1").unwrap();
        let expected = Sha256::digest(format!(r#"{{"nonce":"n0","jwk_thumbprint":"{thumb}","hardware_key_tag":"tag1"}}"#));
        assert_eq!(registration(&nonce, &jwk, &tag).0.as_slice(), expected.as_slice());
        let input = hardware_signature_input(&ClientDataHash([1; 32]), &ClientDataHash([2; 32]));
        assert_eq!(&input[..32], &[1; 32]);
        assert_eq!(&input[32..], &[2; 32]);
    }
}
