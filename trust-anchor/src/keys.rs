//! The entity's Federation Entity Key: generated on first start, kept in
//! `<data_dir>/federation-key.jwk` (mode 0600, written atomically).

use std::io::Write as _;
use std::path::Path;

use wallet_core::jose::{PrivateJwk, SoftwareSigner};

/// Loads the key, creating it on first start.
pub fn load_or_create(data_dir: &Path) -> Result<SoftwareSigner, String> {
    let path = data_dir.join("federation-key.jwk");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let jwk = PrivateJwk::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            SoftwareSigner::from_private_jwk(jwk).map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
            let key = SoftwareSigner::generate().map_err(|e| e.to_string())?;
            let tmp = path.with_extension("tmp");
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                opts.mode(0o600);
            }
            let io = |e: std::io::Error| format!("{}: {e}", path.display());
            let mut f = opts.open(&tmp).map_err(io)?;
            f.write_all(key.private_jwk().to_json().as_bytes()).and_then(|()| f.sync_all()).map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)?;
            Ok(key)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}
