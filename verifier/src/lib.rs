//! The IT-Wallet verifier (OpenID4VP 1.0 relying party, IT-Wallet 1.4 §5.1 remote flow):
//! a service that an online service or a verification desk (the integrator) asks to check
//! credentials in a citizen's wallet.
//!
//! * It is a federation leaf: its Entity Configuration (the trust-anchor building block,
//!   [`trust_anchor::router`]) carries `federation_entity` and `openid_credential_verifier`
//!   metadata: the response encryption key, `request_uris`, `response_uris`,
//!   `redirect_uris`, `vp_formats_supported`, `client_name`, `logo_uri`, `erasure_endpoint`
//!   ([`state::verifier_metadata`]).
//! * The integrator API (admin token): create a session from a preset ([`presets`]) or a raw
//!   DCQL query, same-device or cross-device, its request under an `openid_federation` or an
//!   `x509_hash` client id, by reference or by value ([`sessions`]); the wallet URL and its QR
//!   code (SVG, PNG, level Q); the state by polling or as Server-Sent Events; the verdict
//!   fetched once ([`routes`]); an optional signed completion webhook ([`webhook`]).
//! * Deployment: SQLite by default, PostgreSQL (`database_url`) for replicas sharing their
//!   sessions and keys (`keys_dir`) ([`store`]); HTTPS with rustls when `[tls]` is given;
//!   outbound HTTPS trusting the system's roots plus `[outbound] ca_certificates`.
//! * The wallet's endpoints ([`wallet`]): `request_uri` (GET and POST) serving the signed
//!   request object, `response_uri` taking the `direct_post.jwt` response.
//! * What it refuses: every protocol check is wallet-core's ([`wallet_core::oid4vp`]: request
//!   objects built there, responses decrypted by `kid` and verified by `verify_response`:
//!   issuer trust, the issuer's right to the `vct`, SD-JWT VC and KB-JWT (`aud`, `nonce`,
//!   `iat`, `sd_hash`), the DCQL query answered and nothing more, the status list). Here:
//!   an unknown, used or expired `request_uri` handle, `state` or `response_code` (each
//!   single use, in SQLite or, for replicas, PostgreSQL: [`store`]), and malformed input on any route (service-kit's JSON
//!   error layer and extractors).
//! * Seams: the clock ([`wallet_core::time::Clock`]), the federation CA roots
//!   ([`state::Builder::x509_roots`]), outbound HTTP ([`service_kit::OutboundHttp`], and
//!   through it for status lists).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = verifier::Config::load(std::path::Path::new("verifier.toml"))?;
//! let state = verifier::Verifier::open(config.clone())?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! verifier::serve_listener(state, listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod keys;
pub mod metrics;
pub mod presets;
pub mod qr;
pub mod queries;
pub mod routes;
pub mod sessions;
pub mod state;
pub mod store;
pub mod trust;
pub mod wallet;
pub mod web;
pub mod webhook;

pub use config::Config;
pub use error::VerifierError;
pub use routes::router;
pub use state::{Builder, OpenError, Verifier};

/// How often expired sessions and unfetched verdicts are purged while serving.
pub const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves on a bound listener until `shutdown` completes, with the peer address the rate
/// limits count clients by, over HTTPS when the configuration has `[tls]`
/// ([`service_kit::serve::serve_tls`]), and purges due sessions every [`PURGE_INTERVAL`].
pub async fn serve_listener(
    state: Verifier,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purger = state.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_INTERVAL);
        loop {
            tick.tick().await;
            if let Err(e) = purger.store().purge(purger.now().secs()) {
                tracing::warn!(target: "verifier", "purge failed: {e}");
            }
        }
    });
    let r = match state.tls().cloned() {
        Some(tls) => service_kit::serve::serve_tls(listener, router(state), tls, shutdown).await,
        None => service_kit::serve::serve(listener, router(state), shutdown).await,
    };
    task.abort();
    r
}
