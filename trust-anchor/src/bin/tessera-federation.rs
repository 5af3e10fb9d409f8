//! `tessera-federation --config FILE`: one federation entity (trust anchor, intermediate or
//! leaf) run as a service, configured by a TOML file with environment overrides
//! (`TESSERA_DATABASE_URL`, `TESSERA_LISTEN`, ...; see `trust-anchor/README.md`). Logs go
//! to stderr (`TESSERA_LOG` = error, warn, info (default), debug, trace); SIGINT and
//! SIGTERM stop it gracefully.

use std::path::PathBuf;
use std::process::ExitCode;

use trust_anchor::{AppState, Config, ServiceConfig};
use wallet_core::federation::TrustAnchorConfig;

const USAGE: &str = "usage: tessera-federation --config FILE";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let path = match (args.next().as_deref(), args.next(), args.next()) {
        (Some("--config"), Some(p), None) => PathBuf::from(p),
        (Some("--help" | "-h"), None, None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    service_kit::process::init_logs();
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera-federation: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &std::path::Path) -> Result<(), String> {
    let ServiceConfig { mut config, listen } = Config::from_file(path).map_err(|e| e.to_string())?;
    if config.is_trust_anchor() && config.trust_anchors.is_empty() {
        // A trust anchor resolves chains to itself.
        let key = trust_anchor::keys::load_or_create(&config.data_dir)?;
        let jwks = wallet_core::jose::jwk::JwkSet { keys: vec![wallet_core::jose::Signer::public_jwk(&key)] };
        config.trust_anchors = vec![TrustAnchorConfig { id: config.entity_id.clone(), jwks }];
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let id = config.entity_id.clone();
        let state = AppState::connect(config).await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(trust_anchor::serve(state, listen, tx, async {
            service_kit::process::shutdown_signal().await;
            tracing::info!("shutting down");
        }));
        if let Ok(addr) = rx.await {
            tracing::info!(entity_id = %id, %addr, "serving");
        }
        server.await.map_err(|e| e.to_string())?.map_err(|e| format!("{listen}: {e}"))?;
        tracing::info!("stopped");
        Ok(())
    })
}
