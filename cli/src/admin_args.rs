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

/// A service's answer to an admin call: its status, its JSON (`Null` when it was not JSON)
/// and the text as it came.
pub(crate) struct AdminAnswer {
    pub(crate) status: u16,
    pub(crate) json: serde_json::Value,
    pub(crate) text: String,
}

/// Sends `r` with the admin `token` to `service` (`"issuer"`, `"verifier"`) at `base`,
/// for `what` (said in the errors): an unreachable service is named as such.
pub(crate) fn send(service: &str, base: &str, what: &str, token: &str, r: reqwest::blocking::RequestBuilder) -> Result<AdminAnswer, CliError> {
    let r = r.bearer_auth(token).send().map_err(|e| usage(format!("{what}: cannot reach the {service} at {base}: {e}")))?;
    let status = r.status().as_u16();
    Ok(AdminAnswer::new(status, r.text().unwrap_or_default()))
}

impl AdminAnswer {
    /// An answer of `status` whose body is `text`.
    pub(crate) fn new(status: u16, text: String) -> Self {
        Self { status, json: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null), text }
    }

    /// The answer when its status is `expected` (any 2xx when `None`); else the error
    /// [`refused`] names.
    pub(crate) fn checked(self, expected: Option<u16>, service: &str, base: &str, what: &str) -> Result<Self, CliError> {
        let ok = expected.map_or((200..300).contains(&self.status), |s| s == self.status);
        if ok { Ok(self) } else { Err(refused(service, base, what, &self)) }
    }
}

/// What a refused admin call tells the operator: a wrong token (401, 403), or the
/// service's own `error_description` (else `error`, else the start of its text).
pub(crate) fn refused(service: &str, base: &str, what: &str, a: &AdminAnswer) -> CliError {
    let status = a.status;
    let described =
        a.json.get("error_description").or(a.json.get("error")).and_then(serde_json::Value::as_str).map_or_else(|| a.text.chars().take(300).collect(), str::to_owned);
    match status {
        401 | 403 => usage(format!("{what}: the {service} at {base} refused the admin token (HTTP {status}): a wrong token? (--token-file)")),
        404 => usage(format!("{what}: not found at {base}: {described}")),
        _ => usage(format!("{what} at {base}: HTTP {status}: {described}")),
    }
}
