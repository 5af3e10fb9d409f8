//! What a federation entity shows people about itself when its operator configured nothing
//! else: a logo (IT-Wallet 1.4 §1.1 requires an SVG `logo_uri` of leaves, and the IT-Wallet
//! trust mark table a `logo_uri` in trust marks).

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// Where services serve [`logo`].
pub const LOGO_PATH: &str = "/logo.svg";

/// The Tessera logo, SVG.
pub const LOGO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#0066cc"/><text x="32" y="42" font-size="30" text-anchor="middle" fill="#fff" font-family="sans-serif">T</text></svg>"##;

/// `GET /logo.svg`.
pub async fn logo() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], LOGO_SVG).into_response()
}
