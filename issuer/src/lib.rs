//! The IT-Wallet credential issuer (OpenID4VCI 1.0 as IT-Wallet 1.4 §3 profiles it): a
//! registry (the PID provider, the Motorizzazione, the health-card registry) puts
//! credentials into citizens' wallets.
//!
//! * A federation leaf: its Entity Configuration (the trust-anchor building block) carries
//!   `federation_entity`, `oauth_authorization_server` and `openid_credential_issuer`
//!   ([`state::issuer_metadata`]: the configured credentials, `jwks`); the metadata is also
//!   at `/.well-known/openid-credential-issuer` (JSON, or signed with `Accept:
//!   application/jwt`), type metadata per `vct` at both paths of the versions note.
//! * The registry connector ([`registry`]): one table of the registry's database (SQLite, or
//!   PostgreSQL with `registry_url`) mapped to the claims by configuration; sample data sets
//!   ([`samples`]).
//! * The protocol ([`protocol`]): issuer-initiated offers with a pre-authorized code and a
//!   `tx_code` (admin API), `/token` with DPoP, `/nonce`, `/credential` with key-attested
//!   proofs (batch), deferred issuance, `/notification`. Every check is wallet-core's
//!   [`wallet_core::oid4vci`]; single-use values are consumed by guarded statements
//!   ([`store`]).
//! * Status ([`routes::STATUS_LIST_PATH`]): every credential its own index in a Token Status
//!   List, signed when it changes and served from memory otherwise ([`status_list`]); the
//!   admin API revokes, suspends or reinstates by credential or by citizen.
//!
//! * The authorization-code flow ([`authorization`]): PAR with the wallet attestation,
//!   `/authorize` authenticating the citizen as configured (SPID/CIE through the
//!   `spid-cie-oidc` relying party, [`spid_cie`]; or the PID over OpenID4VP, [`pid_presentation`]),
//!   the code at `/token` with PKCE, DPoP and the attestation; refresh tokens; the WUA's own
//!   status (its provider's Token Status List, fetched through service-kit's bounded client).
//!
//! * Deployment: SQLite by default, PostgreSQL (`database_url`) for replicas sharing their
//!   state and keys (`keys_dir`) ([`store`]); HTTPS with rustls when `[tls]` is given.
//!
//! * Keys ([`keys`]): the credential key signs credentials, the status list and the signed
//!   metadata with `x5c` = a signing certificate from our CA certificate (IT-Wallet 1.4 §4.1,
//!   §1.2; on our CRL once withdrawn); it rotates while running
//!   ([`Issuer::rotate_credential_key`]), replicas taking a rotated key up from `keys_dir`.
//!
//! What is not done yet: `issuer/README.md`, "Not done yet".

#![warn(missing_docs)]

pub mod authorization;
pub mod config;
pub mod error;
mod grants;
pub mod keys;
pub mod metrics;
pub mod pid_presentation;
pub mod presets;
pub mod protocol;
pub mod registry;
pub mod routes;
pub mod samples;
pub mod spid_cie;
pub mod state;
pub mod status_list;
pub mod status_pool;
pub mod store;
pub mod wua_recheck;

pub use config::Config;
pub use error::IssuerError;
pub use routes::router;
pub use state::{Builder, Issuer, OpenError};

/// How often expired single-use values are purged while serving.
pub const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// How often the SQLite WAL is checkpointed off the request path (`store::Store::checkpoint`).
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// Serves on a bound listener until `shutdown` completes, over HTTPS when the configuration
/// has `[tls]` ([`service_kit::serve::serve_tls`]), purging expired values every
/// [`PURGE_INTERVAL`] and checkpointing the database every [`CHECKPOINT_INTERVAL`].
pub async fn serve_listener(state: Issuer, listener: tokio::net::TcpListener, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let c = state.config();
    if c.wallet_attestation == config::WalletAttestation::Required && !c.trust_anchors.is_empty() && c.wallet_provider_trust_marks.is_empty() {
        tracing::warn!(target: "issuer", "wallet_provider_trust_marks is empty: any wallet provider under a trust anchor is accepted, holding the wallet-provider trust mark or not");
    }
    let purger = state.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_INTERVAL);
        loop {
            tick.tick().await;
            if let Err(e) = purger.store().purge(purger.now().secs()) {
                tracing::warn!(target: "issuer", "purge failed: {e}");
            }
        }
    });
    // SQLite only: PostgreSQL checkpoints on its own.
    let checkpointer = (state.store().backend_name() == "sqlite").then(|| state.clone());
    let checkpoints = checkpointer.map(|checkpointer| tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let st = checkpointer.clone();
            match tokio::task::spawn_blocking(move || st.store().checkpoint()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(target: "issuer", "checkpoint failed: {e}"),
                Err(e) => tracing::warn!(target: "issuer", "checkpoint task failed: {e}"),
            }
        }
    }));
    // A key rotated or withdrawn on another replica (or offline) is taken up within a second
    // also by a replica nobody asks to sign: its Entity Configuration and metadata publish the
    // keys `keys_dir` holds.
    let looker = state.clone();
    let key_look = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(keys::KEY_FILE_LOOK.unsigned_abs()));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            looker.look_at_key_file().await;
        }
    });
    // IT-Wallet 1.4 §2.5: the WUAs behind issued credentials, re-checked every
    // `wua_recheck_interval` (the first run one interval after the start).
    let interval = u64::try_from(state.config().wua_recheck_interval).unwrap_or(0);
    let rechecker = state.clone();
    let wua_recheck = (interval > 0).then(|| {
        tokio::spawn(async move {
            let every = std::time::Duration::from_secs(interval);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match wua_recheck::recheck(&rechecker).await {
                    Ok(r) => tracing::info!(target: "issuer", wuas = r.wuas, revoked = r.revoked_credentials, unavailable = r.unavailable.len(), "WUAs re-checked"),
                    Err(e) => tracing::warn!(target: "issuer", "WUA re-check failed: {e}"),
                }
            }
        })
    });
    let r = match state.tls().cloned() {
        Some(tls) => service_kit::serve::serve_tls(listener, router(state), tls, shutdown).await,
        None => service_kit::serve::serve(listener, router(state), shutdown).await,
    };
    task.abort();
    key_look.abort();
    if let Some(t) = wua_recheck {
        t.abort();
    }
    if let Some(c) = checkpoints {
        c.abort();
    }
    r
}
