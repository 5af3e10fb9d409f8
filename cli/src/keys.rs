//! `tessera keygen` and key-file loading.

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
    write_atomic(&public_path, &signer.public_jwk().to_json(), true)?;
    println!("{private_path}\n{public_path}");
    Ok(())
}

/// Writes via a temporary file of its own and a rename (wallet-core `store::write_private`),
/// so a reader never sees half a key: readable by its owner only, or (`public`) by all.
fn write_atomic(path: &str, content: &str, public: bool) -> Result<(), CliError> {
    let io = |source| CliError::Io { path: path.to_owned(), source };
    let text = format!("{content}\n");
    wallet_core::store::write_private(std::path::Path::new(path), text.as_bytes()).map_err(io)?;
    #[cfg(unix)]
    if public {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = public;
    Ok(())
}

fn write_private(path: &str, content: &str) -> Result<(), CliError> {
    write_atomic(path, content, false)
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
