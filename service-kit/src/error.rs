//! The JSON error form every service answers with: `application/json`
//! `{"error": CODE, "error_description": TEXT}` (RFC 6749 §5.2; OpenID Federation draft 48
//! §8.9; IT-Wallet 1.4 §2.2-§2.4 with its own codes), `Cache-Control: no-store`.
//!
//! [`json_errors`] is a layer that puts every other error response into that form: the web
//! framework's plain-text rejections (wrong content type, bad JSON, bad query, body too
//! large), unknown routes and wrong methods. Services still answer their own refusals with
//! their spec's codes; the layer only rewrites what is not already JSON, and the code of the
//! generic bad-input refusals of [`crate::extract`] when a profile names another one (the
//! wallet provider's `bad_request`).

use std::borrow::Cow;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The spec's error code.
    pub error: Cow<'static, str>,
    /// For people: what was wrong.
    pub description: String,
    /// `Retry-After` seconds (429, 503).
    pub retry_after: Option<u64>,
}

/// Marks a response as one of the generic bad-input refusals (malformed body, query or form),
/// whose code a service profile may rename.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GenericBadInput;

impl ApiError {
    /// An error with `status`, `error` and a description.
    pub fn new(status: StatusCode, error: impl Into<Cow<'static, str>>, description: impl Into<String>) -> Self {
        Self { status, error: error.into(), description: description.into(), retry_after: None }
    }
    /// 400 `invalid_request`.
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    /// 404 `not_found`.
    pub fn not_found(d: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", d)
    }
    /// 401 `invalid_client`.
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d)
    }
    /// 429 `too_many_requests`, with `Retry-After`.
    pub fn too_many_requests(retry_after: u64) -> Self {
        Self { retry_after: Some(retry_after.max(1)), ..Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", "rate limit exceeded; retry later") }
    }
    /// 503 `temporarily_unavailable` (RFC 6749 §4.1.2.1), with `Retry-After`.
    pub fn unavailable(d: impl Into<String>) -> Self {
        Self { retry_after: Some(1), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", d) }
    }
    /// 500 `server_error`: the detail is logged, not shown.
    pub fn server(d: impl std::fmt::Display) -> Self {
        tracing::error!(error = %d, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error")
    }
    /// Sets `Retry-After`.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.error, self.description)
    }
}

impl std::error::Error for ApiError {}

impl From<wallet_core::federation::FederationError> for ApiError {
    /// Draft 48 §8.9 codes; `invalid_trust_anchor` is 404, `temporarily_unavailable` 503.
    fn from(e: wallet_core::federation::FederationError) -> Self {
        let code = e.error_code();
        let status = match code {
            "invalid_trust_anchor" | "not_found" => StatusCode::NOT_FOUND,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, code, e.to_string())
    }
}

/// The body of the JSON error form.
pub fn body(error: &str, description: &str) -> String {
    json!({"error": error, "error_description": description}).to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, body(&self.error, &self.description)).into_response();
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED && !h.contains_key(header::WWW_AUTHENTICATE) {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// How a service names the generic errors the layer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorProfile {
    /// The code of a malformed request (400, 413, 415, 422, and 405).
    pub bad_request: &'static str,
    /// The code of an unknown route (404).
    pub not_found: &'static str,
}

impl ErrorProfile {
    /// OAuth 2.0 and OpenID Federation: `invalid_request`, `not_found`.
    pub const OAUTH: Self = Self { bad_request: "invalid_request", not_found: "not_found" };
    /// IT-Wallet 1.4 §2.2-§2.4 (the wallet provider's endpoints): `bad_request`, `not_found`.
    pub const IT_WALLET_PROVIDER: Self = Self { bad_request: "bad_request", not_found: "not_found" };

    fn code_for(&self, status: StatusCode) -> &'static str {
        match status.as_u16() {
            404 => self.not_found,
            401 => "invalid_client",
            403 => "access_denied",
            429 => "too_many_requests",
            503 => "temporarily_unavailable",
            400..=499 => self.bad_request,
            _ => "server_error",
        }
    }
}

/// The longest plain-text rejection carried over into `error_description`.
const MAX_DESCRIPTION: usize = 1024;

/// Answers every error of `router` in the JSON form: responses of status 4xx/5xx that are
/// not JSON get the profile's code and their text (or, when empty, what went wrong: `no route
/// GET /x`, `method PUT not allowed on /y`) as the description. Call it after every route is
/// added (it installs the fallback for unknown routes too).
pub fn json_errors<S: Clone + Send + Sync + 'static>(router: axum::Router<S>, profile: ErrorProfile) -> axum::Router<S> {
    router
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn_with_state(profile, |State(p): State<ErrorProfile>, req: Request, next: Next| rewrite(p, req, next)))
}

async fn rewrite(profile: ErrorProfile, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let generic = resp.extensions().get::<GenericBadInput>().is_some();
    let is_json = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    if is_json && !(generic && profile.bad_request != "invalid_request") {
        return resp;
    }
    let (mut parts, old) = resp.into_parts();
    let bytes = axum::body::to_bytes(old, 64 * 1024).await.unwrap_or_default();
    let description = if is_json {
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("error_description").and_then(|d| d.as_str()).map(str::to_owned))
            .unwrap_or_default()
    } else {
        let text = String::from_utf8_lossy(&bytes);
        let text: String = text.trim().chars().take(MAX_DESCRIPTION).collect();
        if !text.is_empty() {
            text
        } else {
            match status.as_u16() {
                404 => format!("no route {method} {path}"),
                405 => format!("method {method} not allowed on {path}"),
                _ => status.canonical_reason().unwrap_or("error").to_owned(),
            }
        }
    };
    let code = profile.code_for(status);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body(code, &description)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::post;
    use tower::ServiceExt as _;

    async fn call(app: Router, req: Request) -> (StatusCode, serde_json::Value) {
        let r = app.oneshot(req).await.unwrap();
        let status = r.status();
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&b).unwrap())
    }

    fn app(p: ErrorProfile) -> Router {
        let r = Router::new()
            .route("/j", post(|axum::Json(v): axum::Json<serde_json::Value>| async move { axum::Json(v) }))
            .route("/ours", post(|| async { ApiError::new(StatusCode::FORBIDDEN, "invalid_request", "nope") }));
        json_errors(r, p)
    }

    #[tokio::test]
    async fn framework_rejections_become_json() {
        let req = Request::post("/j").header("content-type", "text/plain").body(Body::from("{}")).unwrap();
        let (s, v) = call(app(ErrorProfile::OAUTH), req).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(v["error"], "invalid_request");
        assert!(v["error_description"].as_str().unwrap().contains("Content-Type"), "{v}");
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_are_named() {
        let (s, v) = call(app(ErrorProfile::OAUTH), Request::get("/nope").body(Body::empty()).unwrap()).await;
        assert_eq!((s, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
        assert_eq!(v["error_description"], "no route GET /nope");
        let (s, v) = call(app(ErrorProfile::OAUTH), Request::get("/j").body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(v["error_description"], "method GET not allowed on /j");
    }

    #[tokio::test]
    async fn services_own_json_errors_are_kept() {
        let (s, v) = call(app(ErrorProfile::IT_WALLET_PROVIDER), Request::post("/ours").body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(v["error"], "invalid_request");
    }

    #[tokio::test]
    async fn profile_names_the_bad_request_code() {
        let req = Request::post("/j").header("content-type", "application/json").body(Body::from("{")).unwrap();
        let (s, v) = call(app(ErrorProfile::IT_WALLET_PROVIDER), req).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"], "bad_request");
    }
}
