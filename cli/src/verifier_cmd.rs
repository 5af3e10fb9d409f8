//! `tessera verifier serve | hash-password`: the OpenID4VP verifier service (the `verifier`
//! library: integrator API, the wallet's `request_uri`/`response_uri`, the in-person page)
//! and the operator password hashes its `[web]` section takes.

use std::path::PathBuf;

use crate::CliError;
use crate::federation_cmd::{runtime, usage};

#[derive(clap::Subcommand)]
pub(crate) enum VerifierCommand {
    /// Run the verifier from a TOML configuration (`TESSERA_VERIFIER_*` environment
    /// overrides); Ctrl-C or SIGTERM stops it gracefully.
    Serve {
        /// The configuration file (see `verifier::config`).
        #[arg(long)]
        config: PathBuf,
    },
    /// Read a password from stdin (its first line) and print its argon2id hash, for a
    /// `password_hash` of `[[web.operators]]`.
    HashPassword,
}

pub(crate) fn run(c: VerifierCommand) -> Result<(), CliError> {
    match c {
        VerifierCommand::Serve { config } => serve(&config),
        VerifierCommand::HashPassword => hash_password(),
    }
}

fn serve(path: &std::path::Path) -> Result<(), CliError> {
    let config = verifier::Config::load(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    service_kit::process::init_logs();
    runtime()?.block_on(async move {
        let listen = config.listen;
        let id = config.entity_id.clone();
        let state = verifier::Verifier::open(config).map_err(|e| usage(format!("verifier: {e}")))?;
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| usage(format!("{listen}: {e}")))?;
        crate::print_out(&format!("verifier {id} serving on {listen}: {}", id.configuration_url()));
        verifier::serve_listener(state, listener, service_kit::process::shutdown_signal()).await.map_err(usage)?;
        crate::print_out("verifier stopped");
        Ok(())
    })
}

fn hash_password() -> Result<(), CliError> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|source| CliError::Io { path: "<stdin>".into(), source })?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(usage("no password on stdin (its first line is hashed)"));
    }
    let hash = verifier::web::hash_password(password).map_err(usage)?;
    crate::print_out(&hash);
    Ok(())
}
