//! Errors in the form of draft 48 §8.9: `application/json` `{error, error_description}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The spec's error code.
    pub error: &'static str,
    /// A description for people.
    pub description: String,
}

impl ApiError {
    /// 400 `invalid_request`.
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error: "invalid_request", description: d.into() }
    }
    /// 404 `not_found`.
    pub fn not_found(d: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, error: "not_found", description: d.into() }
    }
    /// 401 `invalid_client`.
    pub fn unauthorized() -> Self {
        Self { status: StatusCode::UNAUTHORIZED, error: "invalid_client", description: "missing or wrong bearer token".into() }
    }
    /// 500 `server_error` (details are logged, not shown).
    pub fn server(d: impl std::fmt::Display) -> Self {
        tracing::error!(error = %d, "internal error");
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, error: "server_error", description: "internal error".into() }
    }
}

impl From<wallet_core::federation::FederationError> for ApiError {
    fn from(e: wallet_core::federation::FederationError) -> Self {
        let code = e.error_code();
        let status = match code {
            "invalid_trust_anchor" => StatusCode::NOT_FOUND,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self { status, error: code, description: e.to_string() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": self.error, "error_description": self.description}))).into_response()
    }
}
