//! The in-person verification page (police officers, shop staff): operators log in, pick a
//! check, show a QR code, and read the verdict. Served by the verifier under [`BASE_PATH`]:
//! server-rendered HTML, one small script ([`SCRIPT_PATH`]) and one style sheet, embedded in
//! the binary; no framework, nothing from another origin.
//!
//! | path | what |
//! |---|---|
//! | `GET /check` | the login form, or the operator's presets and recent checks (`?lang=it|en`) |
//! | `POST /check/login`, `POST /check/logout` | operator sessions, in the verifier's store: any replica answers ([`auth`]) |
//! | `POST /check/start` | a cross-device session from a preset, owned by the operator → the check's page |
//! | `GET /check/s/{id}` | the QR code, countdown and live state; then the verdict |
//! | `GET /check/s/{id}/qr.svg` | the wallet URL as a QR code (level Q) |
//! | `GET /check/s/{id}/events` | the state by SSE (built on [`Verifier::watch`]) |
//! | `GET /check/s/{id}/state` | the state by polling: always 200 with it while the check exists |
//! | `POST /check/s/{id}/renew` | a new QR code: a new session with the same query |
//!
//! Every page answers with a strict Content-Security-Policy (no inline script or style,
//! nothing framed), `X-Frame-Options: DENY` and `Cache-Control: no-store`. The page keeps
//! nothing about a citizen: a verdict is read from the session's stored result, which the
//! store purges `result_ttl` seconds after the answer.

pub mod auth;
pub mod config;
pub mod i18n;
mod pages;
pub mod view;

pub use config::{HashError, Operator, WebConfig, hash_password, verify_password};

use std::sync::{Arc, OnceLock};

use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};

use crate::Verifier;

/// Where the page lives.
pub const BASE_PATH: &str = "/check";
/// The page's script.
pub const SCRIPT_PATH: &str = "/check/assets/check.js";
/// The page's style sheet.
pub const STYLE_PATH: &str = "/check/assets/check.css";

/// The largest form accepted (a login is a few hundred bytes).
pub const MAX_FORM: usize = 8 * 1024;

/// The Content-Security-Policy of every response of the page.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the page holds in memory: the login limiter and a dummy hash (operator sessions are
/// in the verifier's store, shared by replicas: [`auth`]).
#[derive(Debug, Default)]
pub struct WebState {
    login: OnceLock<service_kit::RateLimiter>,
    dummy_hash: OnceLock<String>,
}

impl WebState {
    /// The login limiter (configured on first use from `[web] login_rate_limit` and the
    /// verifier's trusted proxies).
    pub fn login_limiter(&self, st: &Verifier) -> &service_kit::RateLimiter {
        self.login.get_or_init(|| {
            let c = st.config();
            service_kit::RateLimiter::new("web_login", c.web.login_rate_limit)
                .with_max_clients(c.rate_limits.max_clients)
                .with_trusted_proxies(c.rate_limits.trusted_proxies.clone())
        })
    }
}

/// The page's routes (merged into the verifier's router).
pub fn router() -> Router<Verifier> {
    let state = Arc::new(WebState::default());
    Router::new()
        .route(BASE_PATH, get(pages::home))
        .route("/check/login", post(pages::login))
        .route("/check/logout", post(pages::logout))
        .route("/check/start", post(pages::start))
        .route("/check/s/{id}", get(pages::check))
        .route("/check/s/{id}/qr.svg", get(pages::qr))
        .route("/check/s/{id}/events", get(pages::events))
        .route("/check/s/{id}/state", get(pages::state))
        .route("/check/s/{id}/renew", post(pages::renew))
        .route(SCRIPT_PATH, get(pages::script))
        .route(STYLE_PATH, get(pages::style))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM))
        .layer(axum::middleware::map_response(security_headers))
        .layer(Extension(state))
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}
