//! Errors answered to clients, in the form IT-Wallet 1.4 §2.2-§2.4 prescribe:
//! `application/json` `{"error", "error_description"}` with the spec's code and status.
//!
//! | variant | status | `error` | where the spec names it |
//! |---|---|---|---|
//! | [`ProviderError::BadRequest`] | 400 | `bad_request` | §2.2, §2.3, §2.4 common errors |
//! | [`ProviderError::InvalidNonce`], [`ProviderError::KeyAttestation`], [`ProviderError::InvalidAssertion`], [`ProviderError::InstanceRevoked`], [`ProviderError::NotYourInstance`] (revocation) | 403 | `invalid_request` | §2.2 "bad/expired/used nonce, bad attestation", §2.3 "instance revoked, bad signature, ...", §2.4 revocation |
//! | [`ProviderError::IntegrityCheck`] | 403 | `integrity_check_error` | §2.2, §2.3 |
//! | [`ProviderError::Forbidden`] | 403 | `forbidden` | §2.4 retrieval |
//! | [`ProviderError::Unauthorized`] | 401 | `unauthorized` | §2.4 retrieval and revocation |
//! | [`ProviderError::NotFound`] | 404 | `not_found` | §2.3 |
//! | [`ProviderError::Validation`] | 422 | `validation_error` | §2.2, §2.3, §2.4 |
//! | [`ProviderError::Login`] | 400 | `invalid_request` | the citizen login (OAuth 2.0 §4.1.2.1 form) |
//! | [`ProviderError::Voucher`] | 401 | `unauthorized` | the PDND e-service: voucher missing, forged, expired, replayed, wrong `iss`/`aud` |
//! | [`ProviderError::ClientNotAllowed`] | 403 | `forbidden` | the PDND e-service: a client or purpose not allowed to call |
//!
//! Malformed bodies and queries (service-kit's extractors), unknown routes and wrong
//! methods get the same form from `service_kit::error::json_errors` with the IT-Wallet
//! provider profile (`bad_request`, `not_found`); rate limits answer 429
//! `too_many_requests` with `Retry-After`; the admin API's refusal is 401 `invalid_token`
//! naming the admin token (service-kit's `AdminToken`).
//! | [`ProviderError::Unavailable`] | 503 | `temporarily_unavailable` | every endpoint |
//! | [`ProviderError::Internal`] | 500 | `server_error` | every endpoint |

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The body or a parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The nonce was not issued here, was already used, or expired (§2.2, §2.3).
    #[error("nonce unknown, already used or expired")]
    InvalidNonce,
    /// The key attestation failed verification (signature, chain, challenge, root, format).
    #[error("key attestation refused: {0}")]
    KeyAttestation(String),
    /// The device does not meet the minimum security level.
    #[error("integrity check failed: {0}")]
    IntegrityCheck(String),
    /// The attestation request (`attestations-request+jwt`) failed a check.
    #[error("attestation request refused: {0}")]
    InvalidAssertion(String),
    /// The wallet instance is revoked (§2.3: 403 `invalid_request`).
    #[error("wallet instance revoked")]
    InstanceRevoked,
    /// No such wallet instance.
    #[error("wallet instance not found")]
    NotFound,
    /// A citizen asked to revoke an instance that is not theirs (§2.4 revocation: 403
    /// `invalid_request`).
    #[error("the wallet instance does not belong to this citizen")]
    NotYourInstance,
    /// A citizen asked to read an instance that is not theirs (§2.4 retrieval: 403 `forbidden`).
    #[error("the wallet instance does not belong to this citizen")]
    Forbidden,
    /// No valid session token.
    #[error("missing, unknown or expired session token")]
    Unauthorized,
    /// Well-formed but unacceptable (e.g. a hardware key tag registered twice).
    #[error("{0}")]
    Validation(String),
    /// The citizen login failed or was refused (bad redirect URI, unknown code, OP error).
    #[error("{0}")]
    Login(String),
    /// The PDND voucher does not verify (IT-Wallet 1.4 §2.5, WP_008).
    #[error("PDND voucher refused: {0}")]
    Voucher(crate::pdnd::VoucherError),
    /// The PDND client or purpose is not one allowed to call this e-service.
    #[error("PDND client not allowed: {0}")]
    ClientNotAllowed(String),
    /// A dependency (the federation, the OpenID Provider) is not reachable or not ready.
    #[error("{0}")]
    Unavailable(String),
    /// Something broke on our side; the detail is logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl ProviderError {
    /// The spec's `error` code.
    pub fn oauth_code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::InvalidNonce
            | Self::KeyAttestation(_)
            | Self::InvalidAssertion(_)
            | Self::InstanceRevoked
            | Self::NotYourInstance
            | Self::Login(_) => "invalid_request",
            Self::IntegrityCheck(_) => "integrity_check_error",
            Self::Forbidden => "forbidden",
            Self::Unauthorized | Self::Voucher(_) => "unauthorized",
            Self::ClientNotAllowed(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::Validation(_) => "validation_error",
            Self::Unavailable(_) => "temporarily_unavailable",
            Self::Internal(_) => "server_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::Login(_) => StatusCode::BAD_REQUEST,
            Self::InvalidNonce
            | Self::KeyAttestation(_)
            | Self::IntegrityCheck(_)
            | Self::InvalidAssertion(_)
            | Self::InstanceRevoked
            | Self::NotYourInstance
            | Self::Forbidden
            | Self::ClientNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::Unauthorized | Self::Voucher(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// An internal failure, logged here.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        let detail = e.to_string();
        tracing::error!(target: "wallet_provider", "internal error: {detail}");
        Self::Internal(detail)
    }
}

impl From<crate::store::StoreError> for ProviderError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Duplicate => Self::Validation("hardware_key_tag already registered".into()),
            e @ crate::store::StoreError::TooManyInstances { .. } => Self::Validation(format!("{e} (max_instances_per_citizen): revoke one first")),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ProviderError {
    /// service-kit's JSON error form (`Cache-Control: no-store`, `Retry-After` on 503), with
    /// `WWW-Authenticate` on 401 and the code attached for the counters.
    fn into_response(self) -> Response {
        let description = match &self {
            Self::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let mut e = service_kit::ApiError::new(self.status(), self.oauth_code(), description);
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            e = e.with_retry_after(1);
        }
        let mut res = e.into_response();
        res.extensions_mut().insert(crate::routes::ErrorCode(self.oauth_code()));
        if self.status() == StatusCode::UNAUTHORIZED {
            let challenge = if matches!(self, Self::Voucher(_)) { "Bearer realm=\"pdnd\", error=\"invalid_token\"" } else { "Bearer error=\"invalid_token\"" };
            if let Ok(v) = axum::http::HeaderValue::from_str(challenge) {
                res.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, v);
            }
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_are_the_specs() {
        let cases = [
            (ProviderError::InvalidNonce, 403, "invalid_request"),
            (ProviderError::InstanceRevoked, 403, "invalid_request"),
            (ProviderError::KeyAttestation("x".into()), 403, "invalid_request"),
            (ProviderError::IntegrityCheck("x".into()), 403, "integrity_check_error"),
            (ProviderError::BadRequest("x".into()), 400, "bad_request"),
            (ProviderError::Validation("x".into()), 422, "validation_error"),
            (ProviderError::Unauthorized, 401, "unauthorized"),
            (ProviderError::Forbidden, 403, "forbidden"),
            (ProviderError::NotYourInstance, 403, "invalid_request"),
            (ProviderError::NotFound, 404, "not_found"),
            (ProviderError::Unavailable("x".into()), 503, "temporarily_unavailable"),
            (ProviderError::Internal("x".into()), 500, "server_error"),
            (ProviderError::Voucher(crate::pdnd::VoucherError::Missing), 401, "unauthorized"),
            (ProviderError::ClientNotAllowed("x".into()), 403, "forbidden"),
        ];
        for (e, status, code) in cases {
            assert_eq!((e.status().as_u16(), e.oauth_code()), (status, code), "{e:?}");
        }
    }
}
