//! Extractors for what a client sends, whose refusals are the JSON error form and say what
//! was wrong: the expected content type, where the JSON broke, which field is missing.
//!
//! Use them in place of axum's `Json`, `Query` and `Form` (whose rejections are plain text):
//! `Json(req): Json<AddSubordinate>`. The body extractor comes last in a handler's
//! arguments, after the header and token checks, so a refused caller's body is never parsed.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, GenericBadInput};

/// The refusal of a malformed request: 400 `invalid_request` (415 for a wrong content type,
/// 413 for a body over the limit), marked so that a service's [`crate::error::ErrorProfile`]
/// may name it with its own code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput(pub ApiError);

impl BadInput {
    fn new(status: StatusCode, what: &str, detail: String) -> Self {
        // axum's 422 (well-formed but wrong shape) is a 400 in OAuth and IT-Wallet.
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
        Self(ApiError::new(status, "invalid_request", format!("{what}: {detail}")))
    }
}

impl IntoResponse for BadInput {
    fn into_response(self) -> Response {
        let mut r = self.0.into_response();
        r.extensions_mut().insert(GenericBadInput);
        r
    }
}

impl From<BadInput> for ApiError {
    fn from(b: BadInput) -> Self {
        b.0
    }
}

/// A JSON body (`Content-Type: application/json`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = BadInput;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => Err(BadInput::new(e.status(), "invalid JSON body", e.body_text())),
        }
    }
}

/// The query string, as `T` (a struct, or `Vec<(String, String)>` for repeated parameters).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = BadInput;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(e) => Err(BadInput::new(e.status(), "invalid query", e.body_text())),
        }
    }
}

/// A form body (`application/x-www-form-urlencoded`; for GET, the query string).
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = BadInput;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(Self(v)),
            Err(e) => Err(BadInput::new(e.status(), "invalid form body", e.body_text())),
        }
    }
}

/// A boolean parameter, strictly: `true` or `false`, nothing else (`intermediate=maybe` is
/// an error, not `false`).
pub fn parse_bool(name: &str, value: &str) -> Result<bool, BadInput> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(BadInput::new(StatusCode::BAD_REQUEST, "invalid query", format!("`{name}` must be true or false, not {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::header;
    use axum::routing::{get, post};
    use serde::Deserialize;
    use tower::ServiceExt as _;

    #[derive(Deserialize)]
    struct Req {
        #[allow(dead_code)]
        entity_id: String,
        #[serde(default)]
        #[allow(dead_code)]
        intermediate: Option<bool>,
    }

    fn app() -> Router {
        Router::new()
            .route("/j", post(|Json(_): Json<Req>| async { "ok" }))
            .route("/q", get(|Query(_): Query<Req>| async { "ok" }))
            .route("/f", post(|Form(_): Form<Req>| async { "ok" }))
    }

    async fn call(req: Request) -> (StatusCode, String, String) {
        let r = app().oneshot(req).await.unwrap();
        let s = r.status();
        let ct = r.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (s, ct, String::from_utf8(b.to_vec()).unwrap())
    }

    fn json_error(body: &str) -> (String, String) {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        (v["error"].as_str().unwrap().to_owned(), v["error_description"].as_str().unwrap().to_owned())
    }

    #[tokio::test]
    async fn wrong_content_type_is_415_json() {
        let (s, ct, b) = call(Request::post("/j").body(Body::from(r#"{"entity_id":"x"}"#)).unwrap()).await;
        assert_eq!((s, ct.as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/json"));
        let (code, d) = json_error(&b);
        assert_eq!(code, "invalid_request");
        assert!(d.contains("application/json"), "{d}");
    }

    #[tokio::test]
    async fn bad_json_and_missing_field_are_400_and_say_where() {
        let bad = Request::post("/j").header("content-type", "application/json").body(Body::from("{\"entity_id\":")).unwrap();
        let (s, _, b) = call(bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(json_error(&b).1.starts_with("invalid JSON body"), "{b}");
        let missing = Request::post("/j").header("content-type", "application/json").body(Body::from("{}")).unwrap();
        let (s, _, b) = call(missing).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(json_error(&b).1.contains("missing field `entity_id`"), "{b}");
    }

    #[tokio::test]
    async fn query_booleans_are_strict() {
        let (s, _, b) = call(Request::get("/q?entity_id=a&intermediate=maybe").body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(json_error(&b).1.starts_with("invalid query"), "{b}");
        let (s, _, _) = call(Request::get("/q?entity_id=a&intermediate=true").body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::OK);
        assert!(parse_bool("intermediate", "maybe").is_err());
        assert!(parse_bool("intermediate", "TRUE").is_err());
        assert!(parse_bool("intermediate", "true").is_ok_and(|b| b));
    }

    #[tokio::test]
    async fn form_needs_its_content_type() {
        let (s, _, b) = call(Request::post("/f").header("content-type", "application/json").body(Body::from("entity_id=a")).unwrap()).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(json_error(&b).0, "invalid_request");
        let ok = Request::post("/f").header("content-type", "application/x-www-form-urlencoded").body(Body::from("entity_id=a")).unwrap();
        assert_eq!(call(ok).await.0, StatusCode::OK);
    }
}
