//! The OAuth 2.0 / OpenID4VCI error codes (RFC 6749 §5.2, RFC 6750 §3.1, RFC 9449 §7.1,
//! attestation-based client authentication §6, OpenID4VCI 1.0 §8.3.1.2, §9.3, §11.3) as one
//! typed enum, and the JSON error body every endpoint answers with.
//!
//! Each check of this module tree returns its own `thiserror` enum naming the rule; a
//! `code()` method on it maps to an [`ErrorCode`] here, so that a service renders
//! `{"error": code.as_str(), "error_description": err.to_string()}`.

use serde::{Deserialize, Serialize};

/// An OAuth `error` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request` (RFC 6749 §5.2).
    InvalidRequest,
    /// `invalid_client` (RFC 6749 §5.2): client authentication failed.
    InvalidClient,
    /// `invalid_grant` (RFC 6749 §5.2): code, pre-authorized code, `tx_code`, PKCE verifier
    /// or refresh token refused.
    InvalidGrant,
    /// `unauthorized_client` (RFC 6749 §5.2).
    UnauthorizedClient,
    /// `unsupported_grant_type` (RFC 6749 §5.2).
    UnsupportedGrantType,
    /// `invalid_scope` (RFC 6749 §5.2).
    InvalidScope,
    /// `access_denied` (RFC 6749 §4.1.2.1).
    AccessDenied,
    /// `server_error`.
    ServerError,
    /// `temporarily_unavailable`.
    TemporarilyUnavailable,
    /// `invalid_token` (RFC 6750 §3.1): the access token is refused.
    InvalidToken,
    /// `insufficient_scope` (RFC 6750 §3.1).
    InsufficientScope,
    /// `invalid_dpop_proof` (RFC 9449 §7.1).
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8).
    UseDpopNonce,
    /// `use_fresh_attestation` (attestation-based client auth; IT-Wallet §3.3).
    UseFreshAttestation,
    /// `invalid_credential_request` (OpenID4VCI §8.3.1.2).
    InvalidCredentialRequest,
    /// `unknown_credential_configuration`.
    UnknownCredentialConfiguration,
    /// `unknown_credential_identifier`.
    UnknownCredentialIdentifier,
    /// `invalid_proof`.
    InvalidProof,
    /// `invalid_nonce`: the proof's `nonce` is not a `c_nonce` we issued, or is stale.
    InvalidNonce,
    /// `invalid_encryption_parameters`.
    InvalidEncryptionParameters,
    /// `credential_request_denied`.
    CredentialRequestDenied,
    /// `invalid_transaction_id` (deferred endpoint, OpenID4VCI §9.3).
    InvalidTransactionId,
    /// `invalid_notification_id` (OpenID4VCI §11.3).
    InvalidNotificationId,
    /// `invalid_notification_request` (OpenID4VCI §11.3).
    InvalidNotificationRequest,
}

const ALL: [ErrorCode; 24] = [
    ErrorCode::InvalidRequest,
    ErrorCode::InvalidClient,
    ErrorCode::InvalidGrant,
    ErrorCode::UnauthorizedClient,
    ErrorCode::UnsupportedGrantType,
    ErrorCode::InvalidScope,
    ErrorCode::AccessDenied,
    ErrorCode::ServerError,
    ErrorCode::TemporarilyUnavailable,
    ErrorCode::InvalidToken,
    ErrorCode::InsufficientScope,
    ErrorCode::InvalidDpopProof,
    ErrorCode::UseDpopNonce,
    ErrorCode::UseFreshAttestation,
    ErrorCode::InvalidCredentialRequest,
    ErrorCode::UnknownCredentialConfiguration,
    ErrorCode::UnknownCredentialIdentifier,
    ErrorCode::InvalidProof,
    ErrorCode::InvalidNonce,
    ErrorCode::InvalidEncryptionParameters,
    ErrorCode::CredentialRequestDenied,
    ErrorCode::InvalidTransactionId,
    ErrorCode::InvalidNotificationId,
    ErrorCode::InvalidNotificationRequest,
];

impl ErrorCode {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::UseFreshAttestation => "use_fresh_attestation",
            Self::InvalidCredentialRequest => "invalid_credential_request",
            Self::UnknownCredentialConfiguration => "unknown_credential_configuration",
            Self::UnknownCredentialIdentifier => "unknown_credential_identifier",
            Self::InvalidProof => "invalid_proof",
            Self::InvalidNonce => "invalid_nonce",
            Self::InvalidEncryptionParameters => "invalid_encryption_parameters",
            Self::CredentialRequestDenied => "credential_request_denied",
            Self::InvalidTransactionId => "invalid_transaction_id",
            Self::InvalidNotificationId => "invalid_notification_id",
            Self::InvalidNotificationRequest => "invalid_notification_request",
        }
    }

    /// Parses [`Self::as_str`]; `None` for a code we do not know.
    pub fn parse(s: &str) -> Option<Self> {
        ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The HTTP status an endpoint answers with: 401 for client authentication and access
    /// token failures (RFC 6749 §5.2, RFC 6750 §3.1), 403 for `insufficient_scope`, 500/503
    /// for server conditions, 400 otherwise.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown error code `{s}`")))
    }
}

/// The JSON error body (RFC 6749 §5.2): `error`, optional `error_description`. An unknown
/// code from a peer is kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// `error`.
    pub error: String,
    /// `error_description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl ErrorResponse {
    /// A body for `code` with `description`.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self { error: code.as_str().to_owned(), error_description: Some(description.into()) }
    }

    /// The typed code, when we know it.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.error)
    }
}

/// Why a wire message (form or JSON body, offer URL) does not parse: malformed input, apart
/// from the rule checks of each message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The body or URL is larger than we accept.
    #[error("{what} too large: {len} bytes, limit {limit}")]
    TooLarge {
        /// What.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not the JSON it must be.
    #[error("{what} is not valid: {detail}")]
    BadJson {
        /// Which message.
        what: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// A form parameter appears twice (RFC 6749 §3.1: MUST NOT).
    #[error("parameter `{0}` given more than once")]
    DuplicateParameter(String),
    /// A required parameter is absent or empty.
    #[error("parameter `{0}` missing")]
    MissingParameter(&'static str),
    /// A parameter has a value we refuse.
    #[error("parameter `{param}` invalid: {detail}")]
    BadParameter {
        /// The parameter.
        param: &'static str,
        /// Why.
        detail: String,
    },
}

impl MessageError {
    /// `invalid_request`: a malformed message.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_string() {
        for c in ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), c);
        }
        assert_eq!(ErrorCode::parse("nope"), None);
        assert_eq!(ErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(ErrorCode::InvalidProof.http_status(), 400);
    }

    #[test]
    fn error_body_round_trips() {
        let b = ErrorResponse::new(ErrorCode::InvalidNonce, "stale c_nonce");
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, r#"{"error":"invalid_nonce","error_description":"stale c_nonce"}"#);
        let back: ErrorResponse = serde_json::from_str(&json).unwrap();
        assert_eq!(back.code(), Some(ErrorCode::InvalidNonce));
        let unknown: ErrorResponse = serde_json::from_str(r#"{"error":"x_custom"}"#).unwrap();
        assert_eq!(unknown.code(), None);
    }
}
