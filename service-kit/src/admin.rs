//! The operator's admin API: `Authorization: Bearer <admin token>`, compared in constant
//! time, checked as a request-parts extractor so that it runs before the body is read (a
//! caller without the token never gets its body parsed, and learns nothing from how).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// A service state that knows its admin token.
pub trait AdminAuth {
    /// The configured token; empty disables the admin API (every call is refused).
    fn admin_token(&self) -> &str;
}

/// Proof that the request carried the admin token. Put it before the body extractor.
#[derive(Debug, Clone, Copy)]
pub struct AdminToken(());

/// The refusal: 401 `invalid_token` naming the admin token (not any other credential the
/// service knows, such as a citizen's session).
#[derive(Debug, Clone)]
pub struct AdminRefused(&'static str);

impl IntoResponse for AdminRefused {
    fn into_response(self) -> Response {
        let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", self.0).into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="admin", error="invalid_token""#));
        r
    }
}

impl From<AdminRefused> for ApiError {
    fn from(r: AdminRefused) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", r.0)
    }
}

/// Checks `authorization` (the header's value) against `expected`.
pub fn check(expected: &str, authorization: Option<&HeaderValue>) -> Result<AdminToken, AdminRefused> {
    if expected.is_empty() {
        return Err(AdminRefused("the admin API is disabled: no admin token is configured"));
    }
    let given = authorization
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or(AdminRefused("admin token required: Authorization: Bearer <admin token>"))?;
    if !wallet_core::subtle_eq(given.trim().as_bytes(), expected.as_bytes()) {
        return Err(AdminRefused("wrong admin token"));
    }
    Ok(AdminToken(()))
}

impl<S: AdminAuth + Send + Sync> FromRequestParts<S> for AdminToken {
    type Rejection = AdminRefused;

    async fn from_request_parts(parts: &mut Parts, st: &S) -> Result<Self, Self::Rejection> {
        check(st.admin_token(), parts.headers.get(header::AUTHORIZATION))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::routing::post;
    use tower::ServiceExt as _;

    #[derive(Clone)]
    struct St(&'static str);
    impl AdminAuth for St {
        fn admin_token(&self) -> &str {
            self.0
        }
    }

    async fn call(token: &'static str, auth: Option<&str>, body: &str) -> (StatusCode, serde_json::Value) {
        let app = Router::new().route("/admin", post(|_: AdminToken, crate::Json(_): crate::Json<serde_json::Value>| async { "ok" })).with_state(St(token));
        let mut req = Request::post("/admin").header("content-type", "application/json");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = app.oneshot(req.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
        let s = r.status();
        let b = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (s, serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn token_is_checked_before_the_body() {
        // A malformed body from a caller without the token gets 401, not a parse error.
        let (s, v) = call("secret", None, "{not json").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(v["error"], "invalid_token");
        assert!(v["error_description"].as_str().unwrap().contains("admin token"));
        let (s, _) = call("secret", Some("Bearer wrong"), "{not json").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _) = call("secret", Some("Bearer secret"), "{not json").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = call("secret", Some("Bearer secret"), "{}").await;
        assert_eq!(s, StatusCode::OK);
    }

    #[tokio::test]
    async fn empty_configured_token_disables_the_api() {
        let (s, v) = call("", Some("Bearer "), "{}").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(v["error_description"].as_str().unwrap().contains("disabled"));
    }
}
