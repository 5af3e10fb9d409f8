//! The nonce, credential, deferred and notification endpoints' messages (OpenID4VCI 1.0 §7,
//! §8, §9, §11; IT-Wallet 1.4 §3.3 steps 12–19, "Deferred", "Notification").
//!
//! Issuer: [`CredentialRequest::parse_json`] → [`CredentialRequest::authorize`] against the
//! access token's grants → proofs with [`super::proof::verify_proofs`] → answer
//! [`CredentialResponse::Immediate`] (200) or [`CredentialResponse::Deferred`] (202).
//! Wallet: [`CredentialResponse::parse`], [`DeferredCredentialRequest`],
//! [`NotificationRequest`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::access_token::VerifiedToken;
use super::error::{ErrorCode, MessageError};
use super::metadata::CredentialIssuerMetadata;
use crate::jose::Jwk;

/// The largest credential-endpoint request body we parse (a batch of proofs with WUAs).
pub const MAX_REQUEST_LEN: usize = 1 << 20;
/// The largest credential response we parse (credentials with portraits).
pub const MAX_RESPONSE_LEN: usize = 8 << 20;
/// `Cache-Control` of the nonce response (OpenID4VCI §7.2: MUST).
pub const NONCE_CACHE_CONTROL: &str = "no-store";

/// Why a credential, deferred or notification message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialRequestError {
    /// Malformed JSON.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// Both `credential_identifier` and `credential_configuration_id`, or neither
    /// (OpenID4VCI §8.2, IT-Wallet §3.3: "never both").
    #[error("exactly one of credential_identifier and credential_configuration_id is required")]
    IdentifierChoice,
    /// The singular `proof` of earlier drafts (1.0 and the IT profile use `proofs`).
    #[error("`proof` is not supported; send proofs.jwt")]
    SingularProof,
    /// `proofs` with no `jwt` entries or another proof type.
    #[error("proofs must be a non-empty jwt array")]
    BadProofs,
    /// A `credential_identifier` the access token did not grant.
    #[error("credential_identifier `{0}` not granted")]
    UnknownCredentialIdentifier(String),
    /// A `credential_configuration_id` the issuer does not offer.
    #[error("credential_configuration_id `{0}` unknown")]
    UnknownCredentialConfiguration(String),
    /// The token returned `credential_identifiers`: the request must use one (OpenID4VCI
    /// §8.2).
    #[error("the token granted credential_identifiers: use credential_identifier")]
    IdentifierRequired,
    /// A configuration outside the token's scope.
    #[error("credential_configuration_id `{0}` not authorized by the access token")]
    NotAuthorized(String),
    /// A response with neither `credentials` nor `transaction_id`, or an empty one.
    #[error("credential response has no credentials and no transaction_id")]
    EmptyResponse,
}

impl CredentialRequestError {
    /// The OpenID4VCI code (§8.3.1.2, §11.3).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UnknownCredentialIdentifier(_) => ErrorCode::UnknownCredentialIdentifier,
            Self::UnknownCredentialConfiguration(_) => ErrorCode::UnknownCredentialConfiguration,
            Self::NotAuthorized(_) => ErrorCode::CredentialRequestDenied,
            Self::SingularProof | Self::BadProofs => ErrorCode::InvalidProof,
            _ => ErrorCode::InvalidCredentialRequest,
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &'static str, limit: usize) -> Result<T, MessageError> {
    if bytes.len() > limit {
        return Err(MessageError::TooLarge { what, len: bytes.len(), limit });
    }
    serde_json::from_slice(bytes).map_err(|e| MessageError::BadJson { what, detail: e.to_string() })
}

/// The nonce response (OpenID4VCI §7.2; IT-Wallet §3.3 step 13), sent with
/// `Cache-Control: no-store`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceResponse {
    /// The nonce the proofs must carry.
    pub c_nonce: String,
}

impl NonceResponse {
    /// A fresh random `c_nonce` (256 bits), for an issuer that stores the nonces it gives out;
    /// ours checks them without storing them ([`super::NonceKey`]).
    pub fn issue() -> Result<Self, getrandom::Error> {
        Ok(Self { c_nonce: super::form::random_token()? })
    }
}

/// `proofs` (OpenID4VCI §8.2): one proof type, here `jwt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proofs {
    /// The key proofs.
    #[serde(default)]
    pub jwt: Vec<String>,
    /// Other proof types (refused).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `credential_response_encryption` of a request (OpenID4VCI §8.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseEncryption {
    /// The wallet's ephemeral key.
    pub jwk: Jwk,
    /// The JWE `enc`.
    pub enc: String,
    /// The JWE `zip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
}

/// A credential request (OpenID4VCI §8.2; IT-Wallet §3.3 step 14).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialRequest {
    /// From the token's `authorization_details`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_identifier: Option<String>,
    /// From the metadata (when no identifiers were granted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_configuration_id: Option<String>,
    /// The key proofs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proofs: Option<Proofs>,
    /// Response encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_response_encryption: Option<ResponseEncryption>,
    /// Earlier drafts' singular proof (refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<Value>,
}

/// What a credential request asks for, once authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedRequest {
    /// The configuration to issue.
    pub configuration_id: String,
    /// The identifier, when one was used.
    pub credential_identifier: Option<String>,
}

impl CredentialRequest {
    /// A request by `credential_identifier` with `proofs`.
    pub fn by_identifier(identifier: impl Into<String>, proofs: Vec<String>) -> Self {
        Self {
            credential_identifier: Some(identifier.into()),
            credential_configuration_id: None,
            proofs: Some(Proofs { jwt: proofs, other: Map::new() }),
            credential_response_encryption: None,
            proof: None,
        }
    }

    /// A request by `credential_configuration_id` with `proofs`.
    pub fn by_configuration(configuration_id: impl Into<String>, proofs: Vec<String>) -> Self {
        Self { credential_identifier: None, credential_configuration_id: Some(configuration_id.into()), ..Self::by_identifier("", proofs) }
    }

    /// Parses and checks the body: one of the two ids, `proofs.jwt` (non-empty, no other
    /// type) when present, no singular `proof`.
    pub fn parse_json(bytes: &[u8]) -> Result<Self, CredentialRequestError> {
        let r: Self = parse(bytes, "credential request", MAX_REQUEST_LEN)?;
        if r.credential_identifier.is_some() == r.credential_configuration_id.is_some() {
            return Err(CredentialRequestError::IdentifierChoice);
        }
        if r.proof.is_some() {
            return Err(CredentialRequestError::SingularProof);
        }
        if let Some(p) = &r.proofs
            && (p.jwt.is_empty() || !p.other.is_empty())
        {
            return Err(CredentialRequestError::BadProofs);
        }
        Ok(r)
    }

    /// The `proofs.jwt` array (empty when absent).
    pub fn jwt_proofs(&self) -> &[String] {
        self.proofs.as_ref().map_or(&[], |p| p.jwt.as_slice())
    }

    /// Issuer side: what the token allows (OpenID4VCI §8.2): a `credential_identifier` must
    /// be one the token granted; a `credential_configuration_id` is refused when the token
    /// granted identifiers, must exist, and must be in the token's scope.
    pub fn authorize(&self, token: &VerifiedToken, metadata: &CredentialIssuerMetadata) -> Result<AuthorizedRequest, CredentialRequestError> {
        let details = &token.claims().authorization_details;
        if let Some(id) = &self.credential_identifier {
            let detail = details
                .iter()
                .find(|d| d.credential_identifiers.iter().any(|g| g == id))
                .ok_or_else(|| CredentialRequestError::UnknownCredentialIdentifier(id.clone()))?;
            let configuration_id = detail.credential_configuration_id.clone().ok_or_else(|| CredentialRequestError::UnknownCredentialIdentifier(id.clone()))?;
            return Ok(AuthorizedRequest { configuration_id, credential_identifier: Some(id.clone()) });
        }
        let id = self.credential_configuration_id.as_deref().unwrap_or_default();
        if details.iter().any(|d| !d.credential_identifiers.is_empty()) {
            return Err(CredentialRequestError::IdentifierRequired);
        }
        let config = metadata.configuration(id).ok_or_else(|| CredentialRequestError::UnknownCredentialConfiguration(id.to_owned()))?;
        let granted_scope = token.claims().scope.as_deref().unwrap_or_default();
        let in_scope = config.scope.as_deref().is_some_and(|s| granted_scope.split_ascii_whitespace().any(|g| g == s));
        let in_details = details.iter().any(|d| d.credential_configuration_id.as_deref() == Some(id));
        if !(in_scope || in_details) {
            return Err(CredentialRequestError::NotAuthorized(id.to_owned()));
        }
        Ok(AuthorizedRequest { configuration_id: id.to_owned(), credential_identifier: None })
    }
}

/// One issued credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCredential {
    /// The SD-JWT VC (or base64url `IssuerSigned` for `mso_mdoc`).
    pub credential: String,
}

/// The credential (or deferred) response (OpenID4VCI §8.3, §9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialResponse {
    /// `200`: one credential per proof.
    Immediate {
        /// The credentials.
        credentials: Vec<IssuedCredential>,
        /// One id for the whole batch (IT-Wallet §3.3).
        notification_id: Option<String>,
    },
    /// `202`: come back later to the deferred endpoint.
    Deferred {
        /// One id for the whole batch.
        transaction_id: String,
        /// Seconds to wait before polling.
        interval: u64,
    },
}

/// The response as it is written: borrowed, so a 20 KB credential is not copied first.
#[derive(Serialize)]
struct ResponseWireRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<&'a [IssuedCredential]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<u64>,
}

/// The response as it is read (wallet side); written as [`ResponseWireRef`].
#[derive(Deserialize)]
struct ResponseWire {
    #[serde(default)]
    credentials: Option<Vec<IssuedCredential>>,
    #[serde(default)]
    notification_id: Option<String>,
    #[serde(default)]
    transaction_id: Option<String>,
    #[serde(default)]
    interval: Option<u64>,
}

impl CredentialResponse {
    /// The HTTP status: 200 or 202 (OpenID4VCI §8.3).
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Immediate { .. } => 200,
            Self::Deferred { .. } => 202,
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> Result<String, MessageError> {
        // A compact credential (base64url, `.` and `~`) needs no escaping: written as it is,
        // not scanned byte by byte by `serde_json` (about 10 µs of a 20 KB credential).
        if let Self::Immediate { credentials, notification_id } = self
            && credentials.iter().all(|c| crate::jose::json::needs_no_escape(&c.credential))
        {
            let size = credentials.iter().map(|c| c.credential.len() + 18).sum::<usize>() + notification_id.as_ref().map_or(0, |n| n.len() + 24) + 20;
            let mut out = String::with_capacity(size);
            out.push_str(r#"{"credentials":["#);
            for (i, c) in credentials.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"credential":""#);
                out.push_str(&c.credential);
                out.push_str(r#""}"#);
            }
            out.push(']');
            if let Some(n) = notification_id {
                out.push_str(r#","notification_id":"#);
                out.push_str(&serde_json::to_string(n).map_err(|e| MessageError::BadJson { what: "credential response", detail: e.to_string() })?);
            }
            out.push('}');
            return Ok(out);
        }
        let wire = match self {
            Self::Immediate { credentials, notification_id } => {
                ResponseWireRef { credentials: Some(credentials), notification_id: notification_id.as_deref(), transaction_id: None, interval: None }
            }
            Self::Deferred { transaction_id, interval } => {
                ResponseWireRef { credentials: None, notification_id: None, transaction_id: Some(transaction_id), interval: Some(*interval) }
            }
        };
        // Sized up front: the credentials are nearly all of it.
        let size = match self {
            Self::Immediate { credentials, .. } => credentials.iter().map(|c| c.credential.len() + 32).sum::<usize>() + 128,
            Self::Deferred { .. } => 128,
        };
        let mut out = Vec::with_capacity(size);
        serde_json::to_writer(&mut out, &wire).map_err(|e| MessageError::BadJson { what: "credential response", detail: e.to_string() })?;
        String::from_utf8(out).map_err(|e| MessageError::BadJson { what: "credential response", detail: e.to_string() })
    }

    /// Wallet side: a non-empty `credentials` array, or a `transaction_id` (with `interval`,
    /// 5 s when absent).
    pub fn parse(body: &[u8]) -> Result<Self, CredentialRequestError> {
        let w: ResponseWire = parse(body, "credential response", MAX_RESPONSE_LEN)?;
        match (w.credentials, w.transaction_id) {
            (Some(c), None) if !c.is_empty() && c.iter().all(|c| !c.credential.is_empty()) => {
                Ok(Self::Immediate { credentials: c, notification_id: w.notification_id })
            }
            (None, Some(t)) if !t.is_empty() => Ok(Self::Deferred { transaction_id: t, interval: w.interval.unwrap_or(5) }),
            _ => Err(CredentialRequestError::EmptyResponse),
        }
    }
}

/// A deferred credential request (OpenID4VCI §9.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferredCredentialRequest {
    /// From the 202 response.
    pub transaction_id: String,
}

impl DeferredCredentialRequest {
    /// Parses the body.
    pub fn parse_json(bytes: &[u8]) -> Result<Self, CredentialRequestError> {
        let r: Self = parse(bytes, "deferred credential request", MAX_REQUEST_LEN)?;
        if r.transaction_id.is_empty() {
            return Err(MessageError::MissingParameter("transaction_id").into());
        }
        Ok(r)
    }
}

/// The notification `event` (OpenID4VCI §11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationEvent {
    /// Stored.
    CredentialAccepted,
    /// Not stored (a check failed).
    CredentialFailure,
    /// Deleted by the user.
    CredentialDeleted,
}

/// A notification request (OpenID4VCI §11.1; IT-Wallet §3.3 "Notification").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRequest {
    /// From the credential response.
    pub notification_id: String,
    /// What happened.
    pub event: NotificationEvent,
    /// Human-readable text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_description: Option<String>,
}

impl NotificationRequest {
    /// Parses the body; an unknown `event` or a missing id is `invalid_notification_request`.
    pub fn parse_json(bytes: &[u8]) -> Result<Self, NotificationError> {
        let r: Self = parse(bytes, "notification request", MAX_REQUEST_LEN).map_err(NotificationError::Malformed)?;
        if r.notification_id.is_empty() {
            return Err(NotificationError::Malformed(MessageError::MissingParameter("notification_id")));
        }
        let allowed = |b: u8| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E);
        if r.event_description.as_ref().is_some_and(|d| !d.bytes().all(allowed)) {
            return Err(NotificationError::BadEventDescription);
        }
        Ok(r)
    }
}

/// Why a notification was refused (OpenID4VCI §11.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationError {
    /// Malformed body, unknown `event`, missing id.
    #[error("malformed notification: {0}")]
    Malformed(MessageError),
    /// `event_description` with characters outside those allowed.
    #[error("event_description has characters outside %x20-21 / %x23-5B / %x5D-7E")]
    BadEventDescription,
    /// A `notification_id` the issuer did not give this client.
    #[error("notification_id unknown")]
    UnknownNotificationId,
}

impl NotificationError {
    /// `invalid_notification_id` or `invalid_notification_request`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UnknownNotificationId => ErrorCode::InvalidNotificationId,
            _ => ErrorCode::InvalidNotificationRequest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attestation::Audience;
    use crate::jose::{Signer, SoftwareSigner};
    use crate::oid4vci::access_token::{JktCnf, TokenClaims, TokenExpectation, TokenKind, verify_token};
    use crate::oid4vci::testing::{ISSUER, NOW, PID_CONFIG, metadata};
    use crate::oid4vci::token::AuthorizationDetail;

    fn token(scope: Option<&str>, details: Vec<AuthorizationDetail>) -> VerifiedToken {
        let s = SoftwareSigner::generate().unwrap();
        let c = TokenClaims {
            iss: ISSUER.into(),
            sub: "s".into(),
            aud: Audience::One(ISSUER.into()),
            client_id: "c".into(),
            iat: NOW.secs(),
            nbf: None,
            exp: NOW.plus(300).secs(),
            jti: "j".into(),
            cnf: JktCnf { jkt: "k".into() },
            scope: scope.map(str::to_owned),
            authorization_details: details,
            refreshed: false,
        };
        let jwt = c.sign(TokenKind::Access, &s).unwrap();
        verify_token(&jwt, &TokenExpectation { kind: TokenKind::Access, key: &s.public_jwk(), issuer: ISSUER, audience: ISSUER, now: NOW, skew: 0 }).unwrap()
    }

    fn granted() -> Vec<AuthorizationDetail> {
        vec![AuthorizationDetail { credential_identifiers: vec!["pid-1".into()], ..AuthorizationDetail::for_configuration(PID_CONFIG) }]
    }

    #[test]
    fn nonce_response_round_trips() {
        let n = NonceResponse::issue().unwrap();
        assert_eq!(serde_json::from_str::<NonceResponse>(&serde_json::to_string(&n).unwrap()).unwrap(), n);
        assert_eq!(n.c_nonce.len(), 43);
    }

    #[test]
    fn credential_request_round_trips_and_is_authorized() {
        let r = CredentialRequest::by_identifier("pid-1", vec!["p1".into(), "p2".into()]);
        let json = serde_json::to_vec(&r).unwrap();
        assert_eq!(String::from_utf8(json.clone()).unwrap(), r#"{"credential_identifier":"pid-1","proofs":{"jwt":["p1","p2"]}}"#);
        let back = CredentialRequest::parse_json(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.jwt_proofs().len(), 2);
        let a = back.authorize(&token(None, granted()), &metadata()).unwrap();
        assert_eq!(a, AuthorizedRequest { configuration_id: PID_CONFIG.into(), credential_identifier: Some("pid-1".into()) });
        let by_conf = CredentialRequest::by_configuration(PID_CONFIG, vec!["p".into()]);
        let back = CredentialRequest::parse_json(&serde_json::to_vec(&by_conf).unwrap()).unwrap();
        assert_eq!(back.authorize(&token(Some("pid"), vec![]), &metadata()).unwrap().configuration_id, PID_CONFIG);
    }

    #[test]
    fn credential_identifier_not_granted_is_unknown_credential_identifier() {
        let r = CredentialRequest::by_identifier("pid-9", vec!["p".into()]);
        let err = r.authorize(&token(None, granted()), &metadata()).unwrap_err();
        assert_eq!(err, CredentialRequestError::UnknownCredentialIdentifier("pid-9".into()));
        assert_eq!(err.code(), ErrorCode::UnknownCredentialIdentifier);
    }

    #[test]
    fn configuration_rules() {
        let md = metadata();
        let r = CredentialRequest::by_configuration(PID_CONFIG, vec!["p".into()]);
        assert_eq!(r.authorize(&token(None, granted()), &md), Err(CredentialRequestError::IdentifierRequired));
        let err = r.authorize(&token(Some("mDL"), vec![]), &md).unwrap_err();
        assert_eq!(err, CredentialRequestError::NotAuthorized(PID_CONFIG.into()));
        assert_eq!(err.code(), ErrorCode::CredentialRequestDenied);
        let unknown = CredentialRequest::by_configuration("nope", vec!["p".into()]);
        let err = unknown.authorize(&token(Some("pid"), vec![]), &md).unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnknownCredentialConfiguration);
    }

    #[test]
    fn malformed_credential_requests_are_refused() {
        let both = br#"{"credential_identifier":"a","credential_configuration_id":"b","proofs":{"jwt":["p"]}}"#;
        assert_eq!(CredentialRequest::parse_json(both), Err(CredentialRequestError::IdentifierChoice));
        assert_eq!(CredentialRequest::parse_json(br#"{"proofs":{"jwt":["p"]}}"#), Err(CredentialRequestError::IdentifierChoice));
        let singular = br#"{"credential_identifier":"a","proof":{"proof_type":"jwt","jwt":"p"}}"#;
        assert_eq!(CredentialRequest::parse_json(singular), Err(CredentialRequestError::SingularProof));
        let empty = br#"{"credential_identifier":"a","proofs":{"jwt":[]}}"#;
        assert_eq!(CredentialRequest::parse_json(empty), Err(CredentialRequestError::BadProofs));
        let other = br#"{"credential_identifier":"a","proofs":{"jwt":["p"],"attestation":["x"]}}"#;
        let err = CredentialRequest::parse_json(other).unwrap_err();
        assert_eq!(err, CredentialRequestError::BadProofs);
        assert_eq!(err.code(), ErrorCode::InvalidProof);
        let bad = CredentialRequest::parse_json(b"[]").unwrap_err();
        assert_eq!(bad.code(), ErrorCode::InvalidCredentialRequest);
    }

    #[test]
    fn credential_responses_round_trip() {
        let imm = CredentialResponse::Immediate { credentials: vec![IssuedCredential { credential: "eyJ...~".into() }], notification_id: Some("n1".into()) };
        let json = imm.to_json().unwrap();
        assert_eq!(json, r#"{"credentials":[{"credential":"eyJ...~"}],"notification_id":"n1"}"#);
        assert_eq!(CredentialResponse::parse(json.as_bytes()).unwrap(), imm);
        assert_eq!(imm.http_status(), 200);
        let def = CredentialResponse::Deferred { transaction_id: "8xLOxBtZp8".into(), interval: 864_000 };
        let json = def.to_json().unwrap();
        assert_eq!(json, r#"{"transaction_id":"8xLOxBtZp8","interval":864000}"#);
        assert_eq!(CredentialResponse::parse(json.as_bytes()).unwrap(), def);
        assert_eq!(def.http_status(), 202);
        assert_eq!(CredentialResponse::parse(b"{}"), Err(CredentialRequestError::EmptyResponse));
        assert_eq!(CredentialResponse::parse(br#"{"credentials":[]}"#), Err(CredentialRequestError::EmptyResponse));
        let d = DeferredCredentialRequest { transaction_id: "t".into() };
        assert_eq!(DeferredCredentialRequest::parse_json(&serde_json::to_vec(&d).unwrap()).unwrap(), d);
        assert!(DeferredCredentialRequest::parse_json(br#"{"transaction_id":""}"#).is_err());
    }

    /// The body written without `serde_json` (credentials with nothing to escape) is the
    /// one `serde_json` writes, byte for byte; a credential with something to escape goes
    /// through `serde_json`, escaped.
    #[test]
    fn the_unescaped_credential_response_is_serde_jsons_byte_for_byte() {
        let serde_text = |r: &CredentialResponse| match r {
            CredentialResponse::Immediate { credentials, notification_id } => {
                serde_json::to_string(&ResponseWireRef { credentials: Some(credentials), notification_id: notification_id.as_deref(), transaction_id: None, interval: None }).unwrap()
            }
            CredentialResponse::Deferred { .. } => unreachable!(),
        };
        let cred = |s: &str| IssuedCredential { credential: s.into() };
        for (credentials, notification_id) in [
            (vec![cred("eyJh.eyJi.c2ln~WyJh~")], None),
            (vec![cred("a.b.c~"), cred("d.e.f~"), cred("g.h.i~x.y.z")], Some("n-1")),
            (vec![cred("a.b.c~")], Some("an \"odd\" id\u{7}")),
            (vec![cred("a\"b"), cred("c\\d"), cred("e\nf")], Some("n")),
            (vec![cred("ok"), cred("tab\there")], None),
        ] {
            let r = CredentialResponse::Immediate { credentials, notification_id: notification_id.map(str::to_owned) };
            let json = r.to_json().unwrap();
            assert_eq!(json, serde_text(&r));
            assert_eq!(CredentialResponse::parse(json.as_bytes()).unwrap(), r);
        }
        assert!(crate::jose::json::needs_no_escape("eyJh.eyJi-_~"));
        for bad in ["\"", "\\", "\n", "\u{1f}", "x\u{0}"] {
            assert!(!crate::jose::json::needs_no_escape(bad), "{bad:?}");
        }
        assert!(crate::jose::json::needs_no_escape("\u{7f} é"), "DEL and non-ASCII need no escape");
    }

    #[test]
    fn notification_round_trips_and_is_checked() {
        for event in [NotificationEvent::CredentialAccepted, NotificationEvent::CredentialFailure, NotificationEvent::CredentialDeleted] {
            let n = NotificationRequest { notification_id: "n1".into(), event, event_description: Some("ok".into()) };
            assert_eq!(NotificationRequest::parse_json(&serde_json::to_vec(&n).unwrap()).unwrap(), n);
        }
        let json = serde_json::to_string(&NotificationRequest { notification_id: "n".into(), event: NotificationEvent::CredentialDeleted, event_description: None }).unwrap();
        assert_eq!(json, r#"{"notification_id":"n","event":"credential_deleted"}"#);
        let err = NotificationRequest::parse_json(br#"{"notification_id":"n","event":"credential_lost"}"#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidNotificationRequest);
        let err = NotificationRequest::parse_json(br#"{"notification_id":"n","event":"credential_accepted","event_description":"a\"b"}"#).unwrap_err();
        assert_eq!(err, NotificationError::BadEventDescription);
        assert_eq!(NotificationError::UnknownNotificationId.code(), ErrorCode::InvalidNotificationId);
    }
}
