//! `tessera-issuer --config FILE`: the issuer as a service (TOML with `TESSERA_ISSUER_*`
//! overrides, see `issuer/README.md`); `tessera-issuer load-sample pid|mdl|health-card
//! --config FILE`: fills the registry with sample citizens. Logs go to stderr (`TESSERA_LOG`
//! = error, warn, info (default), debug, trace); SIGINT and SIGTERM stop it gracefully.

use std::path::Path;
use std::process::ExitCode;

use issuer::presets::Preset;

/// mimalloc rather than glibc malloc, as `tessera-verifier`: fewer cycles per allocation on
/// the request path (README "Benchmark").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: tessera-issuer --config FILE\n       tessera-issuer load-sample pid|mdl|health-card --config FILE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    service_kit::process::init_logs();
    let r = match args.as_slice() {
        ["--config", p] => serve(Path::new(p)),
        ["load-sample", kind, "--config", p] => load_sample(kind, Path::new(p)),
        ["--help" | "-h"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera-issuer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load_sample(kind: &str, config: &Path) -> Result<(), String> {
    let preset = Preset::parse(kind).ok_or_else(|| format!("`{kind}` is not pid, mdl or health-card"))?;
    let config = issuer::Config::load(config).map_err(|e| e.to_string())?;
    let (n, place) = issuer::samples::load_configured(&config, preset).map_err(|e| e.to_string())?;
    println!("{n} {} records in {place} (citizens: {})", preset.name(), issuer::samples::CITIZENS.join(", "));
    Ok(())
}

fn serve(path: &Path) -> Result<(), String> {
    let config = issuer::Config::load(path).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listen = config.listen;
        let id = config.entity_id.clone();
        let state = issuer::Issuer::open(config).map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("{listen}: {e}"))?;
        tracing::info!(entity_id = %id, %listen, https = state.tls().is_some(), database = state.store().backend_name(), "issuer serving");
        issuer::serve_listener(state, listener, service_kit::process::shutdown_signal()).await.map_err(|e| e.to_string())
    })
}
