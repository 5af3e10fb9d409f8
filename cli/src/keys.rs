//! `tessera keygen` and key-file loading.

use std::io::Write as _;

use wallet_core::jose::{Jwk, PrivateJwk, Signer as _, SoftwareSigner};

use crate::{CliError, read_file};

#[derive(clap::Args)]
pub(crate) struct KeygenArgs {
    /// Path prefix: writes OUT.jwk and OUT.pub.jwk.
    #[arg(long)]
    out: String,
}

pub(crate) fn keygen(a: &KeygenArgs) -> Result<(), CliError> {
    let signer = SoftwareSigner::generate()?;
    let private_path = format!("{}.jwk", a.out);
    let public_path = format!("{}.pub.jwk", a.out);
    write_private(&private_path, &signer.private_jwk().to_json())?;
    write_atomic(&public_path, &signer.public_jwk().to_json())?;
    println!("{private_path}\n{public_path}");
    Ok(())
}

/// Writes via a temporary file and a rename, so a reader never sees half a key.
fn write_atomic(path: &str, content: &str) -> Result<(), CliError> {
    let tmp = format!("{path}.tmp");
    let io = |source| CliError::Io { path: path.to_owned(), source };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if path.ends_with(".jwk") && !path.ends_with(".pub.jwk") {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io)?;
    f.write_all(content.as_bytes()).and_then(|()| f.write_all(b"\n")).and_then(|()| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn write_private(path: &str, content: &str) -> Result<(), CliError> {
    write_atomic(path, content)
}

/// Loads a private P-256 key file as a signer.
pub(crate) fn load_signer(path: &str) -> Result<SoftwareSigner, CliError> {
    let jwk = PrivateJwk::from_json(&read_file(path)?)?;
    let kid = jwk.public.kid.clone().unwrap_or_else(|| jwk.public.thumbprint().to_string());
    Ok(SoftwareSigner::from_private_jwk(jwk)?.with_kid(kid))
}

/// Loads a public JWK file (a private one is refused: pass the `.pub.jwk`).
pub(crate) fn load_public(path: &str) -> Result<Jwk, CliError> {
    Ok(Jwk::from_json(&read_file(path)?)?)
}
