//! The wallet provider's HTTP interface: paths and JSON bodies, shared by the wallet (client)
//! and the `wallet-provider` service so that both sides use one definition
//! (IT-Wallet 1.4 §2.2, §2.4 endpoint table).
//!
//! | path | method | request | success |
//! |---|---|---|---|
//! | [`NONCE`] `/nonce` | GET | — | 200 [`NonceResponse`] |
//! | [`WALLET_INSTANCES`] `/wallet-instances` | POST | [`RegistrationRequest`] (bearer: citizen session) | 204 |
//! | [`INSTANCE_INITIALIZATION`] `/instance-initialization` | POST | same (the spec's example path; alias) | 204 |
//! | [`WALLET_INSTANCES`] `/wallet-instances` | GET | bearer: citizen session | 200 `[`[`WalletInstanceInfo`]`]` |
//! | [`wallet_instance_path`] `/wallet-instances/{id}` | PATCH (or POST) | [`InstanceStatusUpdate`] `{"status":"REVOKED"}` | 204 |
//! | [`WALLET_ATTESTATION`] `/wallet-attestation` | POST | [`AttestationRequestBody`] `{"assertion": <attestations-request+jwt>}` | 200 [`AttestationResponse`] |
//! | [`CITIZEN_LOGIN`] `/citizen/login?redirect_uri=…&state=…` | GET | — | 302 to the OpenID Provider |
//! | [`CITIZEN_SESSION`] `/citizen/session` | POST | [`CitizenSessionRequest`] `{"code"}` | 200 [`CitizenSessionResponse`] |
//!
//! The citizen login (our design; the spec leaves the portal's login to the provider): the
//! wallet opens `GET /citizen/login?redirect_uri=<app redirect>&state=<random>`; the provider
//! runs SPID/CIE OpenID Connect with its OpenID Provider and, on success, redirects to
//! `<app redirect>?code=<one-time code>&state=<state>`; the wallet exchanges the code at
//! `POST /citizen/session` for a session bearer token bound to the citizen's fiscal number.
//! The provider echoes `state` when given; the wallet checks it when present.
//!
//! Errors on every endpoint: `application/json` [`ErrorBody`] `{error, error_description}`.

use serde::{Deserialize, Serialize};

/// `GET /nonce` (§2.2 step 1).
pub const NONCE: &str = "/nonce";
/// Registration (`POST`), retrieval (`GET`) of wallet instances (§2.4).
pub const WALLET_INSTANCES: &str = "/wallet-instances";
/// The spec example's registration path (`mobile-application-instance.rst`); providers accept
/// it as an alias of `POST` [`WALLET_INSTANCES`], wallets use [`WALLET_INSTANCES`].
pub const INSTANCE_INITIALIZATION: &str = "/instance-initialization";
/// `POST` the attestation request (§2.3; the spec's example path).
pub const WALLET_ATTESTATION: &str = "/wallet-attestation";
/// `GET` starts the citizen's SPID/CIE login (query `redirect_uri`, optional `state`).
pub const CITIZEN_LOGIN: &str = "/citizen/login";
/// `POST` exchanges the one-time code for a citizen session.
pub const CITIZEN_SESSION: &str = "/citizen/session";
/// The `redirect_uri` query parameter of [`CITIZEN_LOGIN`].
pub const REDIRECT_URI_PARAM: &str = "redirect_uri";
/// The `state` query parameter of [`CITIZEN_LOGIN`] and of the redirect back.
pub const STATE_PARAM: &str = "state";
/// The `code` query parameter of the redirect back to the app.
pub const CODE_PARAM: &str = "code";

/// The path of one wallet instance: `/wallet-instances/{id}`.
pub fn wallet_instance_path(id: &str) -> String {
    format!("{WALLET_INSTANCES}/{id}")
}

/// A wallet provider nonce (single-use, time-boxed; §2.2 step 1). 128 random bits, base64url.
/// Compared in constant time; `Debug` does not print it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderNonce(String);

impl std::fmt::Debug for ProviderNonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderNonce(..)")
    }
}

impl ProviderNonce {
    /// The longest nonce accepted from the wire.
    pub const MAX_LEN: usize = 512;

    /// A fresh nonce (provider side).
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b)?;
        Ok(Self(crate::jose::b64::encode(b)))
    }

    /// Wraps a nonce received or stored (empty or over-long values are refused).
    pub fn new(s: impl Into<String>) -> Option<Self> {
        let s = s.into();
        (!s.is_empty() && s.len() <= Self::MAX_LEN).then_some(Self(s))
    }

    /// The nonce text (to store, or to put in a request).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a received value.
    pub fn matches(&self, got: &str) -> bool {
        crate::subtle_eq(self.0.as_bytes(), got.as_bytes())
    }
}

/// `GET /nonce` response body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NonceResponse {
    /// The nonce.
    pub nonce: ProviderNonce,
}

/// Wallet instance registration body (§2.2 step 4). Built by
/// [`super::registration::RegistrationRequest::new`], verified by
/// [`super::registration::RegistrationRequest::verify`].
pub use super::registration::RegistrationRequest;

/// `POST /wallet-attestation` body (§2.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttestationRequestBody {
    /// The `attestations-request+jwt`.
    pub assertion: String,
}

/// The two attestations of §2.3's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletAttestations {
    /// The WAA (`oauth-client-attestation+jwt`).
    pub wallet_app_attestation: String,
    /// The WUA (`key-attestation+jwt`).
    pub wallet_unit_attestation: String,
}

/// `POST /wallet-attestation` response (§2.3): `{"wallet_attestations": {...}}`.
///
/// \[AMBIG\] The text calls `wallet_attestations` an array while the example is invalid JSON:
/// we send an object and accept either an object or a one-element array of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttestationResponse {
    /// The attestations.
    pub wallet_attestations: WalletAttestations,
}

impl<'de> Deserialize<'de> for AttestationResponse {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            One(WalletAttestations),
            Many(Vec<WalletAttestations>),
        }
        #[derive(Deserialize)]
        struct Wire {
            wallet_attestations: Either,
        }
        match Wire::deserialize(d)?.wallet_attestations {
            Either::One(w) => Ok(Self { wallet_attestations: w }),
            Either::Many(v) => {
                let mut it = v.into_iter();
                match (it.next(), it.next()) {
                    (Some(w), None) => Ok(Self { wallet_attestations: w }),
                    _ => Err(serde::de::Error::custom("wallet_attestations must hold exactly one entry")),
                }
            }
        }
    }
}

/// A wallet instance's status (§2.4 retrieval).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceStatus {
    /// In use.
    Active,
    /// Revoked (its WUA is revoked in the status list).
    Revoked,
}

/// One entry of `GET /wallet-instances` (§2.4): `{id, status, issued_at}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletInstanceInfo {
    /// The instance id (the provider's; we use the `hardware_key_tag`).
    pub id: String,
    /// Its status.
    pub status: InstanceStatus,
    /// When it was registered (seconds since the epoch).
    pub issued_at: i64,
}

/// `PATCH /wallet-instances/{id}` body (§2.4): `{"status":"REVOKED"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatusUpdate {
    /// The new status (only `REVOKED` is meaningful).
    pub status: InstanceStatus,
}

/// `POST /citizen/session` body.
#[derive(Clone, Serialize, Deserialize)]
pub struct CitizenSessionRequest {
    /// The one-time code from the redirect.
    pub code: String,
}

impl std::fmt::Debug for CitizenSessionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CitizenSessionRequest { code: .. }")
    }
}

/// `POST /citizen/session` response: a bearer session bound to the citizen's fiscal number.
#[derive(Clone, Serialize, Deserialize)]
pub struct CitizenSessionResponse {
    /// The bearer token for the registration and management endpoints.
    pub session_token: String,
    /// Seconds until the session expires.
    pub expires_in: u64,
    /// The citizen's fiscal number (`https://attributes.eid.gov.it/fiscal_number`, e.g.
    /// `TINIT-RSSMRA80A01H501U`).
    pub fiscal_number: String,
}

impl std::fmt::Debug for CitizenSessionResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CitizenSessionResponse").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// The error body of every endpoint (§2.4 "Bodies are application/json with {error,
/// error_description}").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error code (`invalid_request`, `integrity_check_error`, ...).
    pub error: String,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attestation_response_accepts_object_or_one_element_array() {
        let obj = r#"{"wallet_attestations":{"wallet_app_attestation":"a","wallet_unit_attestation":"u"}}"#;
        let arr = r#"{"wallet_attestations":[{"wallet_app_attestation":"a","wallet_unit_attestation":"u"}]}"#;
        let a: AttestationResponse = serde_json::from_str(obj).unwrap();
        let b: AttestationResponse = serde_json::from_str(arr).unwrap();
        assert_eq!(a, b);
        assert_eq!(serde_json::to_string(&a).unwrap(), obj);
        assert!(serde_json::from_str::<AttestationResponse>(r#"{"wallet_attestations":[]}"#).is_err());
    }

    #[test]
    fn instance_wire_forms() {
        let i: WalletInstanceInfo = serde_json::from_str(r#"{"id":"x","status":"REVOKED","issued_at":1}"#).unwrap();
        assert_eq!(i.status, InstanceStatus::Revoked);
        assert_eq!(serde_json::to_string(&InstanceStatusUpdate { status: InstanceStatus::Revoked }).unwrap(), r#"{"status":"REVOKED"}"#);
        assert_eq!(wallet_instance_path("abc"), "/wallet-instances/abc");
    }

    #[test]
    fn nonce_compares_and_hides() {
        let n = ProviderNonce::generate().unwrap();
        assert!(n.matches(n.as_str()));
        assert!(!n.matches("x"));
        assert_eq!(format!("{n:?}"), "ProviderNonce(..)");
        assert!(ProviderNonce::new("").is_none());
    }
}
