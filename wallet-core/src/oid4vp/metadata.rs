//! Relying-party metadata as the wallet reads it: the `openid_credential_verifier` entity
//! type of the RP's federation trust chain (IT-Wallet 1.4 `relying-party-metadata.rst`), or
//! the request object's `client_metadata` (OpenID4VP 1.0 §5.1), which share their members.
//!
//! With a federation `client_id`, the trust chain's metadata is authoritative (RPR-113):
//! `client_metadata` is read only for the response-encryption keys and `enc` values
//! (1.4.x-post allows ephemeral keys there). With `x509_hash`, all metadata comes from
//! `client_metadata`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jose::{ContentEncryption, EcCurve, Jwk, JwkParams, JwkSet};

/// The federation entity type of a verifier.
pub const VERIFIER_ENTITY_TYPE: &str = "openid_credential_verifier";

/// `openid_credential_verifier` metadata, or `client_metadata`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VerifierMetadata {
    /// `client_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `client_name`: the name the wallet shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// `logo_uri` (SVG).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// `application_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    /// `request_uris`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_uris: Vec<String>,
    /// `response_uris`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_uris: Vec<String>,
    /// `redirect_uris`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// `jwks`: signing and encryption keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<JwkSet>,
    /// `encrypted_response_enc_values_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_response_enc_values_supported: Option<Vec<String>>,
    /// `vp_formats_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vp_formats_supported: Option<Map<String, Value>>,
    /// `erasure_endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure_endpoint: Option<String>,
    /// `contacts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    /// Other members (`purpose`, `policy_uri`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl VerifierMetadata {
    /// From a resolved metadata object.
    pub fn from_map(m: &Map<String, Value>) -> Result<Self, serde_json::Error> {
        serde_json::from_value(Value::Object(m.clone()))
    }

    /// The P-256 keys usable for ECDH-ES response encryption: `use` `enc` (or no `use`
    /// with `alg` `ECDH-ES`), each with a `kid` (the verifier decrypts by `kid`).
    pub fn encryption_keys(&self) -> impl Iterator<Item = &Jwk> {
        self.jwks.iter().flat_map(|s| s.keys.iter()).filter(|k| {
            let enc_use = k.key_use.as_deref() == Some("enc") || (k.key_use.is_none() && k.alg.as_deref() == Some("ECDH-ES"));
            let alg_ok = k.alg.as_deref().is_none_or(|a| a == "ECDH-ES");
            enc_use && alg_ok && k.kid.is_some() && matches!(k.params, JwkParams::Ec { crv: EcCurve::P256, .. })
        })
    }

    /// The `enc` to use: A256GCM when listed (IT-Wallet prefers it), else A128GCM when
    /// listed; without the member, A128GCM (OpenID4VP 1.0 §8.3 default). `None` when the
    /// list names neither.
    pub fn response_enc(&self) -> Option<ContentEncryption> {
        match &self.encrypted_response_enc_values_supported {
            None => Some(ContentEncryption::A128Gcm),
            Some(v) if v.iter().any(|e| e == "A256GCM") => Some(ContentEncryption::A256Gcm),
            Some(v) if v.iter().any(|e| e == "A128GCM") => Some(ContentEncryption::A128Gcm),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::DecryptionKey;

    #[test]
    fn encryption_keys_and_enc_choice() {
        let enc = DecryptionKey::generate().unwrap();
        let sig = crate::jose::SoftwareSigner::generate().unwrap();
        use crate::jose::Signer as _;
        let m = VerifierMetadata { jwks: Some(JwkSet { keys: vec![sig.public_jwk(), enc.public_jwk().clone()] }), ..Default::default() };
        let keys: Vec<&Jwk> = m.encryption_keys().collect();
        assert_eq!(keys, vec![enc.public_jwk()]);
        assert_eq!(m.response_enc(), Some(ContentEncryption::A128Gcm));
        let with = |v: &[&str]| VerifierMetadata { encrypted_response_enc_values_supported: Some(v.iter().map(|s| (*s).to_owned()).collect()), ..Default::default() };
        assert_eq!(with(&["A128GCM", "A256GCM"]).response_enc(), Some(ContentEncryption::A256Gcm));
        assert_eq!(with(&["A128GCM"]).response_enc(), Some(ContentEncryption::A128Gcm));
        assert_eq!(with(&["A128CBC-HS256"]).response_enc(), None);
    }
}
