//! Where a service of ours is and how its admin API is opened: the flags every command that
//! calls an admin API takes (`tessera issuer offer|revoke|...`, `tessera verifier check`),
//! and the token they find.

use std::path::PathBuf;

use crate::CliError;
use crate::federation_cmd::{service_dir, usage};

/// Where the service is and how its admin API is opened.
#[derive(clap::Args)]
pub(crate) struct AdminArgs {
    /// The service (its base URL = entity id).
    #[arg(long)]
    pub(crate) url: String,
    /// A file holding the admin token.
    #[arg(long, conflicts_with = "token")]
    pub(crate) token_file: Option<PathBuf>,
    /// The admin token itself.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) token: Option<String>,
    /// Without --token-file or --token: the data directory of `tessera up`, where each
    /// service's admin token is kept.
    #[arg(long, default_value = "tessera-data")]
    pub(crate) data_dir: PathBuf,
    /// Print the service's JSON answer.
    #[arg(long)]
    pub(crate) json: bool,
}

impl AdminArgs {
    /// The service at `url`, its admin token found under `tessera up`'s `data_dir`.
    pub(crate) fn under_up(url: String, data_dir: PathBuf) -> Self {
        Self { url, token_file: None, token: None, data_dir, json: false }
    }

    /// The admin token: --token, --token-file, or the service's directory under `tessera
    /// up`'s.
    pub(crate) fn token(&self) -> Result<String, CliError> {
        if let Some(t) = &self.token {
            return Ok(t.trim().to_owned());
        }
        let path = match &self.token_file {
            Some(p) => p.clone(),
            None => service_dir(&self.data_dir, &self.url)
                .map_err(|e| usage(format!("no admin token for {}: {e}; pass --token-file", self.url)))?
                .join("admin-token"),
        };
        let t = std::fs::read_to_string(&path).map_err(|e| usage(format!("the admin token {}: {e} (pass --token-file)", path.display())))?;
        let t = t.trim();
        if t.is_empty() {
            return Err(usage(format!("the admin token file {} is empty", path.display())));
        }
        Ok(t.to_owned())
    }

    /// The service's base URL, without a trailing `/`.
    pub(crate) fn base(&self) -> &str {
        self.url.trim_end_matches('/')
    }
}
