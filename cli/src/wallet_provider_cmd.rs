//! `tessera wallet-provider serve`: the wallet provider service (the `wallet-provider`
//! library: wallet instances, Wallet Attestations and Wallet Unit Attestations, revocation)
//! from a configuration file, as `tessera verifier serve` runs the verifier.

use std::path::PathBuf;

use crate::CliError;
use crate::federation_cmd::{runtime, usage};
use service_kit::process::{init_logs, shutdown_signal};

#[derive(clap::Subcommand)]
pub(crate) enum WalletProviderCommand {
    /// Run the wallet provider from a TOML configuration (`TESSERA_WP_*` environment
    /// overrides, see `wallet_provider::config`); Ctrl-C or SIGTERM stops it gracefully.
    Serve {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

pub(crate) fn run(c: WalletProviderCommand) -> Result<(), CliError> {
    match c {
        WalletProviderCommand::Serve { config } => serve(&config),
    }
}

fn serve(path: &std::path::Path) -> Result<(), CliError> {
    let config = wallet_provider::Config::load(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    init_logs();
    runtime()?.block_on(async move {
        let listen = config.listen;
        let id = config.entity_id.clone();
        let state = wallet_provider::WalletProvider::open(config).map_err(|e| usage(format!("wallet provider: {e}")))?;
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| usage(format!("{listen}: {e}")))?;
        crate::print_out(&format!("wallet provider {id} serving on {listen}: {}", id.configuration_url()));
        wallet_provider::serve_listener(state, listener, shutdown_signal()).await.map_err(usage)?;
        crate::print_out("wallet provider stopped");
        Ok(())
    })
}
