//! The in-person verification page (police officers, shop staff): operators log in, pick a
//! check, show a QR code, and read the verdict. Served by the verifier under [`BASE_PATH`].

pub mod config;

pub use config::{HashError, Operator, WebConfig, hash_password, verify_password};

use axum::Router;

use crate::Verifier;

/// Where the page lives.
pub const BASE_PATH: &str = "/check";

/// The page's routes (merged into the verifier's router).
pub fn router() -> Router<Verifier> {
    Router::new()
}
