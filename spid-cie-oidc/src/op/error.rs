//! Errors answered by the provider, in the OAuth form (`error`, `error_description`) with the
//! codes SPID/CIE OIDC §B.2/§B.3 name.
//!
//! Where an error goes: once the request object is verified and its `redirect_uri` is one
//! of the RP's, authorization errors are redirected (302, with `state` and `iss`); before
//! that — no request object, an RP without trust chain or trust mark, a bad signature, an
//! untrusted `redirect_uri` — they are answered directly (400/401 JSON), never redirected.
//! The spec lists `invalid_client`/`unauthorized_client` as 302, but redirecting to a
//! `redirect_uri` the OP could not verify would make it an open redirector (RFC 6749
//! §4.1.2.1 forbids it); we keep the codes and drop the redirect.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status when answered directly.
    pub status: StatusCode,
    /// The spec's code.
    pub error: &'static str,
    /// For people.
    pub description: String,
    /// Redirect here instead (`redirect_uri`, `state`, `iss`).
    pub redirect: Option<ErrorRedirect>,
    /// Add `WWW-Authenticate: Bearer error="…"` (UserInfo, RFC 6750 §3).
    pub bearer: bool,
}

/// Where an authorization error is redirected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    /// The verified `redirect_uri`.
    pub redirect_uri: String,
    /// `state`, if the request had one.
    pub state: Option<String>,
    /// The OP's issuer (RFC 9207).
    pub iss: String,
}

impl OAuthError {
    /// An error answered with `status`.
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into(), redirect: None, bearer: false }
    }
    /// 400 `invalid_request`.
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    /// 401 `invalid_client`.
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d)
    }
    /// 400 `invalid_grant`.
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }
    /// 500 `server_error` (the detail is logged, not shown).
    pub fn server(d: impl std::fmt::Display) -> Self {
        eprintln!("spid-cie-oidc op: internal error: {d}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error")
    }
    /// This error, redirected.
    pub fn redirected(mut self, to: ErrorRedirect) -> Self {
        self.redirect = Some(to);
        self
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        if let Some(r) = &self.redirect
            && let Ok(mut url) = url::Url::parse(&r.redirect_uri)
        {
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("error", self.error).append_pair("error_description", &self.description);
                if let Some(s) = &r.state {
                    q.append_pair("state", s);
                }
                q.append_pair("iss", &r.iss);
            }
            return (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response();
        }
        let mut resp = (self.status, Json(json!({"error": self.error, "error_description": self.description}))).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.bearer
            && let Ok(v) = HeaderValue::from_str(&format!("Bearer error=\"{}\"", self.error))
        {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}
