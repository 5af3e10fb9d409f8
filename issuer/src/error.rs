//! Errors answered to clients: `application/json` `{"error", "error_description"}` with
//! wallet-core's OpenID4VCI / OAuth codes ([`ErrorCode`]): every protocol check is
//! wallet-core's and gives its code; the issuer adds only its own refusals (an unknown,
//! used or expired code, nonce, `jti` or `transaction_id`), with the code the spec names.
//!
//! Statuses: the code's own ([`ErrorCode::http_status`]), except at the credential,
//! deferred and notification endpoints where a bad access token or DPoP proof is 401 with
//! `WWW-Authenticate: DPoP error="…"` (RFC 9449 §7.1); 404 `not_found` and 400
//! `invalid_request` for the admin API; 500 `server_error` (logged, not shown).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use wallet_core::oid4vci::ErrorCode;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerError {
    /// A protocol refusal with its code.
    #[error("{description}")]
    Oauth {
        /// The code.
        code: ErrorCode,
        /// What was wrong.
        description: String,
    },
    /// A refusal at a protected resource (RFC 6750 §3, RFC 9449 §7.1): 401 with
    /// `WWW-Authenticate: DPoP`.
    #[error("{description}")]
    Resource {
        /// `invalid_token` or `invalid_dpop_proof`.
        code: ErrorCode,
        /// What was wrong.
        description: String,
    },
    /// Admin API: no such thing.
    #[error("{0}")]
    NotFound(String),
    /// Admin API: the change contradicts the record (a revoked credential reinstated).
    #[error("{0}")]
    Conflict(String),
    /// Our fault; logged.
    #[error("internal error")]
    Internal(String),
}

impl IssuerError {
    /// A refusal with `code`.
    pub fn oauth(code: ErrorCode, description: impl std::fmt::Display) -> Self {
        Self::Oauth { code, description: description.to_string() }
    }

    /// `invalid_request`.
    pub fn bad_request(description: impl std::fmt::Display) -> Self {
        Self::oauth(ErrorCode::InvalidRequest, description)
    }

    /// A refusal at a protected resource.
    pub fn resource(code: ErrorCode, description: impl std::fmt::Display) -> Self {
        Self::Resource { code, description: description.to_string() }
    }

    /// An internal failure, logged here.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        let detail = e.to_string();
        tracing::error!(target: "issuer", "internal error: {detail}");
        Self::Internal(detail)
    }

    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Oauth { code, .. } | Self::Resource { code, .. } => code.as_str(),
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Internal(_) => "server_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Oauth { code, .. } => StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
            Self::Resource { .. } => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<crate::store::StoreError> for IssuerError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::internal(e)
    }
}

impl From<crate::registry::RegistryError> for IssuerError {
    fn from(e: crate::registry::RegistryError) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for IssuerError {
    fn into_response(self) -> Response {
        let description = match &self {
            Self::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let mut res = service_kit::ApiError::new(self.status(), self.code(), description).into_response();
        if let Self::Resource { code, .. } = &self
            && let Ok(v) = HeaderValue::from_str(&format!("DPoP error=\"{}\", algs=\"ES256\"", code.as_str()))
        {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let cases = [
            (IssuerError::oauth(ErrorCode::InvalidGrant, "x"), 400, "invalid_grant"),
            (IssuerError::resource(ErrorCode::InvalidDpopProof, "x"), 401, "invalid_dpop_proof"),
            (IssuerError::oauth(ErrorCode::InvalidNonce, "x"), 400, "invalid_nonce"),
            (IssuerError::NotFound("x".into()), 404, "not_found"),
            (IssuerError::Conflict("x".into()), 409, "conflict"),
            (IssuerError::Internal("x".into()), 500, "server_error"),
        ];
        for (e, status, code) in cases {
            assert_eq!((e.status().as_u16(), e.code()), (status, code), "{e:?}");
        }
    }
}
