//! The OpenID Federation authority of Tessera: a trust anchor or an intermediate (draft 48
//! §8), and the same code as a plain federation entity (a leaf publishing its configuration).
//!
//! * Its Entity Configuration at `/.well-known/openid-federation`, signed with a Federation
//!   Entity Key generated on first start and kept under the data directory.
//! * `fetch`, `list` and `resolve` endpoints with the spec's media types and error codes.
//! * A subordinate registry in a SQLite file, or PostgreSQL by URL; onboarding through an
//!   admin API (bearer token) fetches the subordinate's configuration, checks it, and pins
//!   its keys.
//! * The federation's X.509 hierarchy (IT-Wallet 1.4 §1.2): the anchor's root CA, CA
//!   certificates for subordinates (issued by the anchor, or by an intermediate for its
//!   leaves), a CRL at `/crl` listing those of removed subordinates.
//! * Service basics (from `service-kit`): every error in the JSON form, strict extractors,
//!   the admin token checked before the body, bounded async outbound HTTP, `/health`; a
//!   TOML configuration with environment overrides, `/metrics` (Prometheus),
//!   `/openapi.json`, `tracing` logs, graceful shutdown.
//!
//! Trust decisions (chains, policies, constraints) are wallet-core's `federation` module.

pub mod admin;
pub mod ca;
pub mod config;
pub mod error;
pub mod fetch;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod pki;
pub mod protocol;
pub mod registry;
pub mod resolve;
pub mod routes;

pub use config::{Config, ConfigError, ServiceConfig};
pub use routes::{AppState, router, routes};

use std::net::SocketAddr;

/// Binds `addr` and serves [`router`] until `shutdown` completes, with the peer address
/// (`ConnectInfo`, `service_kit::serve`). Returns the bound address through `bound` before
/// serving (port 0 picks a free port).
pub async fn serve(
    state: AppState,
    addr: SocketAddr,
    bound: tokio::sync::oneshot::Sender<SocketAddr>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let _ = bound.send(listener.local_addr()?);
    service_kit::serve::serve(listener, router(state), shutdown).await
}
