//! Errors answered to clients: `application/json` `{"error", "error_description"}`
//! (service-kit's form), with the codes IT-Wallet 1.4 §5.1 names for the wallet-facing
//! endpoints and OAuth's for the integrator API.
//!
//! | variant | status | `error` | where |
//! |---|---|---|---|
//! | [`VerifierError::BadRequest`] | 400 | `invalid_request` | integrator API: unknown preset, bad DCQL, unknown redirect URI |
//! | [`VerifierError::NotFound`] | 404 | `not_found` | unknown, purged or already fetched session |
//! | [`VerifierError::NotReady`] | 409 | `invalid_request` | the result asked for before a verdict |
//! | [`VerifierError::RequestUri`] | 400 | `invalid_request` | §5.1 request URI errors: unknown, used or expired handle, bad POST body |
//! | [`VerifierError::Response`] | 400 | `invalid_request` | §5.1 response URI: malformed, undecryptable, unknown or used `state` |
//! | [`VerifierError::Refused`] | 400 / 403 | `invalid_request` | §5.1 response URI: the verdict's refusal (403 for KB-JWT, nonce, trust) |
//! | [`VerifierError::ResponseCode`] | 403 | `invalid_request` | §5.1 redirect URI errors: a `response_code` unknown, used or of another session |
//! | [`VerifierError::Unavailable`] | 503 + `Retry-After` | `temporarily_unavailable` | not onboarded yet, a dependency down, the database busy or a batch's commit failed |
//! | [`VerifierError::Internal`] | 500 | `server_error` | the detail is logged, not shown |

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use wallet_core::oid4vp::Refusal;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierError {
    /// Malformed or unacceptable integrator input.
    #[error("{0}")]
    BadRequest(String),
    /// No such session.
    #[error("{0}")]
    NotFound(String),
    /// No verdict yet.
    #[error("no verdict yet: poll the session until it is verified, refused, declined or expired")]
    NotReady,
    /// The `request_uri` cannot be answered.
    #[error("{0}")]
    RequestUri(String),
    /// The posted response cannot be attributed to a session waiting for it.
    #[error("{0}")]
    Response(String),
    /// The response was verified and refused.
    #[error("{reason}")]
    Refused {
        /// The Credential Query whose presentation failed.
        credential: Option<String>,
        /// Why (wallet-core's rule).
        reason: Refusal,
    },
    /// A wrong, used or foreign `response_code`.
    #[error("response_code unknown, already used or not of this session")]
    ResponseCode,
    /// A dependency or our onboarding is missing, or the database could not do the request
    /// and did nothing (the client may try again).
    #[error("{0}")]
    Unavailable(String),
    /// Our fault; logged.
    #[error("internal error")]
    Internal(String),
}

impl VerifierError {
    /// The `error` code.
    pub fn oauth_code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Unavailable(_) => "temporarily_unavailable",
            Self::Internal(_) => "server_error",
            Self::Refused { reason, .. } => reason.oauth_code(),
            Self::BadRequest(_) | Self::NotReady | Self::RequestUri(_) | Self::Response(_) | Self::ResponseCode => "invalid_request",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::RequestUri(_) | Self::Response(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::NotReady => StatusCode::CONFLICT,
            Self::Refused { reason, .. } => StatusCode::from_u16(reason.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
            Self::ResponseCode => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// An internal failure, logged here.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        let detail = e.to_string();
        tracing::error!(target: "verifier", "internal error: {detail}");
        Self::Internal(detail)
    }
}

/// A database failure that left nothing done ([`crate::store::StoreError::transient`]: the
/// database busy, a batch's commit rolled back, a connection refused) is 503 with
/// `Retry-After`: the client may try again. Anything else is a 500.
impl From<crate::store::StoreError> for VerifierError {
    fn from(e: crate::store::StoreError) -> Self {
        if e.transient() {
            if matches!(e, crate::store::StoreError::Commit(_)) {
                // Nothing of the batch holds, but a commit that fails may mean a full disk
                // or a broken file: an error for whoever watches the logs.
                tracing::error!(target: "verifier", error = %e, "a batch's commit failed; its writes were rolled back");
            } else {
                tracing::warn!(target: "verifier", error = %e, "database unavailable");
            }
            Self::Unavailable("the database is unavailable; nothing was done, try again".into())
        } else {
            Self::internal(e)
        }
    }
}

impl IntoResponse for VerifierError {
    fn into_response(self) -> Response {
        let description = match &self {
            Self::Internal(_) => "internal error".to_owned(),
            Self::Refused { credential: Some(c), reason } => format!("{c}: {reason}"),
            other => other.to_string(),
        };
        let mut e = service_kit::ApiError::new(self.status(), self.oauth_code(), description);
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            e = e.with_retry_after(1);
        }
        e.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wallet_core::oid4vp::verify::KeyBindingFailure;

    #[test]
    fn codes_and_statuses() {
        let cases = [
            (VerifierError::BadRequest("x".into()), 400, "invalid_request"),
            (VerifierError::NotFound("x".into()), 404, "not_found"),
            (VerifierError::NotReady, 409, "invalid_request"),
            (VerifierError::Response("x".into()), 400, "invalid_request"),
            (VerifierError::Refused { credential: None, reason: Refusal::KeyBinding(KeyBindingFailure::NonceMismatch) }, 403, "invalid_request"),
            (VerifierError::Refused { credential: None, reason: Refusal::Revoked }, 400, "invalid_request"),
            (VerifierError::ResponseCode, 403, "invalid_request"),
            (VerifierError::Unavailable("x".into()), 503, "temporarily_unavailable"),
            (VerifierError::Internal("x".into()), 500, "server_error"),
        ];
        for (e, status, code) in cases {
            assert_eq!((e.status().as_u16(), e.oauth_code()), (status, code), "{e:?}");
        }
    }

    #[test]
    fn a_busy_database_or_a_failed_commit_is_503_with_retry_after_and_a_timeout_or_a_corrupt_row_500() {
        use crate::store::StoreError;
        let sqlite = |code| StoreError::Sqlite(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None));
        for e in [StoreError::Commit("disk I/O error".into()), sqlite(rusqlite::ffi::SQLITE_BUSY), sqlite(rusqlite::ffi::SQLITE_LOCKED)] {
            let r = VerifierError::from(e).into_response();
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        }
        // A PostgreSQL timeout: the statement may have committed after all.
        for e in [StoreError::Corrupt("status `x`".into()), StoreError::Timeout(5), sqlite(rusqlite::ffi::SQLITE_CONSTRAINT), sqlite(rusqlite::ffi::SQLITE_IOERR)] {
            let r = VerifierError::from(e).into_response();
            assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert!(r.headers().get("retry-after").is_none());
        }
    }
}
