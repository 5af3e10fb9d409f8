//! `tessera-verifier --config FILE`: the verifier as a service, configured by a TOML file
//! with `TESSERA_VERIFIER_*` environment overrides (see `verifier/README.md`). Logs go to
//! stderr (`TESSERA_LOG` = error, warn, info (default), debug, trace); SIGINT and SIGTERM
//! stop it gracefully.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// mimalloc rather than glibc malloc: fewer cycles per allocation on the request path
/// (README "Throughput": the allocator was about a twentieth of the server's CPU).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: tessera-verifier --config FILE";

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
            eprintln!("tessera-verifier: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &Path) -> Result<(), String> {
    let config = verifier::Config::load(path).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listen = config.listen;
        let id = config.entity_id.clone();
        let state = verifier::Verifier::open(config).map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("{listen}: {e}"))?;
        tracing::info!(entity_id = %id, %listen, https = state.tls().is_some(), database = state.store().backend_name(), "verifier serving");
        verifier::serve_listener(state, listener, service_kit::process::shutdown_signal()).await.map_err(|e| e.to_string())
    })
}
