//! The OpenID Federation authority of Tessera: a trust anchor or an intermediate (draft 48
//! §8), and the same code as a plain federation entity (a leaf publishing its configuration).
//!
//! * Its Entity Configuration at `/.well-known/openid-federation`, signed with a Federation
//!   Entity Key generated on first start and kept under the data directory.
//! * `fetch`, `list` and `resolve` endpoints with the spec's media types and error codes.
//! * A subordinate registry in a SQLite file; onboarding through an admin API (bearer token)
//!   fetches the subordinate's configuration, checks it, and pins its keys.
//!
//! Trust decisions (chains, policies, constraints) are wallet-core's `federation` module.

pub mod ca;
pub mod config;
pub mod error;
pub mod fetch;
pub mod keys;
pub mod registry;
pub mod routes;

pub use config::Config;
pub use routes::{AppState, router};

use std::net::SocketAddr;

/// Binds `addr` and serves until `shutdown` completes. Returns the bound address through
/// `bound` before serving (port 0 picks a free port).
pub async fn serve(
    state: AppState,
    addr: SocketAddr,
    bound: tokio::sync::oneshot::Sender<SocketAddr>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let _ = bound.send(listener.local_addr()?);
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
