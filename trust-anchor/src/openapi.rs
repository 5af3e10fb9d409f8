//! The OpenAPI 3.1 document of the service, written by hand (`openapi.json` beside this
//! file) and served at `/openapi.json`; a test checks it names every route of the router.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The document.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /openapi.json`.
pub(crate) async fn document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
}
