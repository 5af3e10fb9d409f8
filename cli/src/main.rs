//! `tessera`: the command-line tool over wallet-core and the Tessera services.

mod admin_args;
mod conformance_cmd;
mod demo;
mod federation_cmd;
mod inspect;
mod issue;
mod issuer_cmd;
mod keys;
mod present;
mod sd_jwt_cmd;
mod up;
mod verifier_cmd;
mod wallet_cmd;
mod wallet_provider_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tessera: IT-Wallet credentials, keys and federation from the command line.
#[derive(Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a P-256 key: writes OUT.jwk (private) and OUT.pub.jwk.
    Keygen(keys::KeygenArgs),
    /// Issue, present and verify SD-JWT VCs.
    #[command(name = "sd-jwt", subcommand)]
    SdJwt(sd_jwt_cmd::SdJwtCommand),
    /// Decode a JWT, SD-JWT, KB-JWT or JWE read from stdin (nothing is verified).
    Inspect,
    /// Run the citizen's story against `tessera up` (started here if nothing answers):
    /// activation, PID, licence, health card, in-person and online checks, a suspension.
    Demo(demo::DemoArgs),
    /// Start the federation on loopback: trust anchor, intermediate, OpenID Provider, wallet
    /// provider, verifier and three credential issuers (SQLite, keys under --data-dir).
    Up(up::UpArgs),
    /// Resolve trust chains; onboard, list and remove subordinates.
    #[command(subcommand)]
    Federation(federation_cmd::FederationCommand),
    /// A command-line wallet (software key store): activation at a wallet provider, credentials,
    /// presentations.
    #[command(subcommand)]
    Wallet(wallet_cmd::WalletCommand),
    /// The OpenID4VP verifier service (integrator API, in-person page) and its operator
    /// password hashes.
    #[command(subcommand)]
    Verifier(verifier_cmd::VerifierCommand),
    /// The wallet provider service (wallet instances, Wallet Attestations, Wallet Unit
    /// Attestations, revocation) from a configuration file.
    #[command(subcommand)]
    WalletProvider(wallet_provider_cmd::WalletProviderCommand),
    /// The IT-Wallet conformance tool: test plans against a deployment, coverage of the test
    /// matrix.
    #[command(subcommand)]
    Conformance(conformance_cmd::ConformanceCommand),
    /// The OpenID4VCI credential issuer service (a registry's: PID, driving licence, health
    /// card), its sample registries, and its admin API (offers, revocation, suspension).
    #[command(subcommand)]
    Issuer(issuer_cmd::IssuerCommand),
}

/// A failure to report: the message says what was wrong.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Jose(#[from] wallet_core::jose::JoseError),
    #[error("{0}")]
    SdJwt(#[from] wallet_core::sd_jwt::SdJwtError),
    #[error("{0}")]
    Vc(#[from] wallet_core::vc::VcError),
    #[error("verification failed: {0}")]
    Verify(wallet_core::vc::VcError),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(a) => keys::keygen(&a),
        Command::SdJwt(c) => sd_jwt_cmd::run(c),
        Command::Inspect => inspect::run(),
        Command::Demo(a) => demo::run(&a),
        Command::Up(a) => up::run(&a),
        Command::Federation(c) => federation_cmd::run(c),
        Command::Wallet(c) => wallet_cmd::run(c),
        Command::Verifier(c) => verifier_cmd::run(c),
        Command::WalletProvider(c) => wallet_provider_cmd::run(c),
        Command::Conformance(c) => conformance_cmd::run(c),
        Command::Issuer(c) => issuer_cmd::run(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads all of stdin.
pub(crate) fn read_stdin() -> Result<String, CliError> {
    use std::io::Read as _;
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|source| CliError::Io { path: "<stdin>".into(), source })?;
    Ok(s.trim().to_owned())
}

/// Writes `text` and a newline to stdout; a closed pipe (`| head`) ends quietly.
pub(crate) fn print_out(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// Reads a file as text.
pub(crate) fn read_file(path: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Io { path: path.into(), source })
}
