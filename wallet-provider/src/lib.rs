//! The IT-Wallet wallet provider (IT-Wallet 1.4 §2): it registers wallet instances and their
//! hardware keys, attests them with the Wallet App Attestation (WAA,
//! `oauth-client-attestation+jwt`) and the Wallet Unit Attestation (WUA,
//! `key-attestation+jwt`), publishes the WUAs' Token Status List, and lets citizens, logged
//! in with SPID/CIE, list and revoke their own instances.
//!
//! * What it refuses, each with the spec's code ([`error::ProviderError`]): a nonce not
//!   issued here, used or expired; a key attestation that does not verify, carries another
//!   challenge, or chains to an untrusted root; a software key attestation in production; an
//!   attestation request for a revoked or unknown instance, or with a bad signature,
//!   `hardware_signature`, `iss` or `aud`; a citizen touching another citizen's instance; an
//!   app redirect URI that is not configured; a callback whose `state` our relying party
//!   did not seal, or that expired; registration beyond the citizen's instance limit; a client over its rate
//!   limit; a PDND voucher that does not verify ([`pdnd`]); malformed input on any route
//!   (service-kit's extractors and JSON error layer, IT-Wallet's `bad_request`).
//! * Seams: the clock ([`wallet_core::time::Clock`]), the key attestation verifier
//!   (wallet-core's `KeyAttestationVerifier`: software format in development, Android Key
//!   Attestation with configured roots), the SPID/CIE relying party (`spid-cie-oidc`).
//! * State lives in one SQLite file (mode 0600), or in PostgreSQL (`database_url`) shared by
//!   replicas behind a load balancer ([`store`]): nonces, login codes, sessions, instances
//!   and the status list, each single-use value consumed once across replicas; keys live
//!   under `keys_dir`, which replicas share ([`keys`]). Logins in progress are stored
//!   nowhere: they travel sealed in the OIDC `state` ([`citizen`]).
//! * It is a federation leaf: its Entity Configuration (`wallet_solution` metadata) and
//!   admin API are the trust-anchor crate's building block ([`trust_anchor::router`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use wallet_provider::{Config, WalletProvider};
//! let config = Config::load(std::path::Path::new("wallet-provider.toml"))?;
//! let provider = WalletProvider::open(config.clone())?;
//! let (tx, _bound) = tokio::sync::oneshot::channel();
//! wallet_provider::serve(provider, config.listen, tx, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod attest;
pub mod citizen;
pub mod config;
pub mod error;
pub mod extract;
pub mod keys;
pub mod metrics;
pub mod pdnd;
pub mod routes;
pub mod secret;
mod state;
pub mod status_list;
pub mod store;

pub use config::Config;
pub use error::ProviderError;
pub use routes::router;
pub use state::{Builder, Limiters, OpenError, WalletProvider, federation_entity_metadata, forbidden_algorithms, wallet_solution_metadata};

/// The state handlers get (the same type as [`WalletProvider`]).
pub type AppState = WalletProvider;

use std::net::SocketAddr;

/// Binds `addr` and serves until `shutdown` completes. The bound address goes through
/// `bound` before serving (port 0 picks a free port).
pub async fn serve(
    state: WalletProvider,
    addr: SocketAddr,
    bound: tokio::sync::oneshot::Sender<SocketAddr>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let _ = bound.send(listener.local_addr()?);
    serve_listener(state, listener, shutdown).await
}

/// Serves on an already bound listener (tests bind first to learn the port that goes into
/// the entity id) until `shutdown` completes, with the peer address that the rate limits
/// count clients by (served otherwise, e.g. `axum::serve(listener, router(state))`, every
/// client shares one bucket per limit).
pub async fn serve_listener(
    state: WalletProvider,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    service_kit::serve::serve(listener, router(state), shutdown).await
}
