//! `tessera issuer serve | load-sample | offer | revoke | suspend | reinstate | update | rotate-key`: the credential
//! issuer service (the `issuer` library, what `tessera-issuer` runs), its sample registries,
//! and the desk's side of its admin API: an offer for a citizen (IT-Wallet 1.4 §3.2, the
//! pre-authorized code and its `tx_code`), and status changes (§6: revocation, suspension,
//! reinstatement, UPDATE/ATTRIBUTE_UPDATE for re-issuance, in the issuer's Token Status List).

use std::path::{Path, PathBuf};

use issuer::presets::Preset;
use serde_json::{Value, json};

pub(crate) use crate::admin_args::AdminArgs;
use crate::CliError;
use crate::federation_cmd::{runtime, usage};

#[derive(clap::Subcommand)]
pub(crate) enum IssuerCommand {
    /// Run the issuer from a TOML configuration (`TESSERA_ISSUER_*` environment overrides,
    /// see issuer/README.md); Ctrl-C or SIGTERM stops it gracefully.
    Serve {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Fill the configured registry with the sample citizens' records of one kind.
    LoadSample {
        /// `pid`, `mdl` or `health-card`.
        #[arg(value_parser = preset_arg)]
        kind: Preset,
        /// The issuer's configuration file (its `registry`).
        #[arg(long)]
        config: PathBuf,
    },
    /// Make a credential offer for a citizen (POST /admin/offers): prints the offer URL (for
    /// the QR code) and the transaction code (to give the citizen separately).
    Offer {
        #[command(flatten)]
        admin: AdminArgs,
        /// The citizen's registry key (the tax code).
        #[arg(long)]
        citizen: String,
        /// The credential configuration to offer (repeatable; default: all the issuer serves).
        #[arg(long = "configuration", value_name = "ID")]
        configurations: Vec<String>,
        /// Offer without a transaction code.
        #[arg(long)]
        no_tx_code: bool,
        /// Put only the offer's URI in the URL (`credential_offer_uri`: a shorter QR code).
        #[arg(long)]
        by_reference: bool,
        /// The URL's scheme: `openid-credential-offer` or `haip-vci`.
        #[arg(long, default_value = "openid-credential-offer", value_parser = ["openid-credential-offer", "haip-vci"])]
        scheme: String,
    },
    /// Revoke credentials (status INVALID, for good).
    Revoke(StatusArgs),
    /// Suspend credentials (status SUSPENDED, until reinstated).
    Suspend(StatusArgs),
    /// Reinstate suspended credentials (status VALID).
    Reinstate(StatusArgs),
    /// The registry record changed: mark the credentials for re-issuance (ATTRIBUTE_UPDATE,
    /// or UPDATE towards 1.3 wallets); the wallet's `refresh` then re-issues them.
    Update(StatusArgs),
    /// Rotate the credential signing key: of a running issuer (`--url`, its admin API: the
    /// new key signs at once, the other replicas sharing `keys_dir` take it up within a second),
    /// or in the `keys_dir` of a stopped one (`--config`: a new key signs from the next
    /// start). The old one stays published as retired until the credentials it signed have
    /// ended, unless --withdraw.
    RotateKey {
        /// The issuer's configuration file (its `keys_dir`, `credential_ttl`): offline.
        #[arg(long, conflicts_with = "url", required_unless_present = "url")]
        config: Option<PathBuf>,
        /// The running issuer.
        #[command(flatten)]
        admin: Option<AdminArgs>,
        /// The old key is compromised: do not publish it any more (what it signed no longer
        /// verifies by it). Online, its signing certificates also go on the CRL; offline this
        /// revokes nothing: put them on it first (`POST /admin/signing-certificates/revoke
        /// {"kid": ...}`).
        #[arg(long)]
        withdraw: bool,
        /// The key meant (its `kid`, as `/.well-known/openid-credential-issuer` lists it first):
        /// if another key is current by now (rotated meanwhile, or by an earlier attempt of
        /// this command), nothing is done. Give it with --withdraw, so that a repeated
        /// withdrawal cannot withdraw the key that replaced the compromised one.
        #[arg(long)]
        kid: Option<String>,
    },
}

fn preset_arg(s: &str) -> Result<Preset, String> {
    Preset::parse(s).ok_or_else(|| format!("`{s}` is not pid, mdl or health-card"))
}

/// Which credentials a status change is about.
#[derive(clap::Args)]
#[group(required = true, multiple = false, args = ["credential", "citizen"])]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    admin: AdminArgs,
    /// One credential: its id at the issuer (`GET /admin/citizens/{citizen}/credentials`).
    #[arg(long)]
    credential: Option<String>,
    /// Every credential issued to this citizen.
    #[arg(long)]
    citizen: Option<String>,
}

impl StatusArgs {
    /// One credential (its id at the issuer).
    pub(crate) fn credential(admin: AdminArgs, id: String) -> Self {
        Self { admin, credential: Some(id), citizen: None }
    }
}

pub(crate) fn run(c: IssuerCommand) -> Result<(), CliError> {
    match c {
        IssuerCommand::Serve { config } => serve(&config),
        IssuerCommand::LoadSample { kind, config } => load_sample(kind, &config),
        IssuerCommand::Offer { admin, citizen, configurations, no_tx_code, by_reference, scheme } => offer(&admin, &citizen, &configurations, no_tx_code, by_reference, &scheme),
        IssuerCommand::Revoke(a) => change_status(&a, "revoke"),
        IssuerCommand::Suspend(a) => change_status(&a, "suspend"),
        IssuerCommand::Reinstate(a) => change_status(&a, "reinstate"),
        IssuerCommand::Update(a) => change_status(&a, "update"),
        IssuerCommand::RotateKey { config: Some(config), withdraw, kid, .. } => rotate_key(&config, withdraw, kid.as_deref()),
        IssuerCommand::RotateKey { admin: Some(admin), withdraw, kid, .. } => rotate_key_online(&admin, withdraw, kid.as_deref()),
        IssuerCommand::RotateKey { .. } => Err(usage("rotate-key: give --url (a running issuer) or --config (a stopped one)")),
    }
}

fn serve(path: &Path) -> Result<(), CliError> {
    let config = issuer::Config::load(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    service_kit::process::init_logs();
    runtime()?.block_on(async move {
        let listen = config.listen;
        let id = config.entity_id.clone();
        let state = issuer::Issuer::open(config).map_err(|e| usage(format!("issuer: {e}")))?;
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| usage(format!("{listen}: {e}")))?;
        crate::print_out(&format!("issuer {id} serving on {listen}: {}", id.configuration_url()));
        issuer::serve_listener(state, listener, service_kit::process::shutdown_signal()).await.map_err(usage)?;
        crate::print_out("issuer stopped");
        Ok(())
    })
}

fn rotate_key(path: &Path, withdraw: bool, kid: Option<&str>) -> Result<(), CliError> {
    let config = issuer::Config::load(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let now = wallet_core::time::UnixTime::now().secs();
    let r = issuer::keys::rotate_credential_key(config.keys_dir(), withdraw, now, kid).map_err(|e| usage(format!("rotate-key: {e}")))?;
    let old = if r.retired {
        format!("still published as retired for {} days (what it signed stays valid)", config.credential_ttl / 86_400)
    } else {
        "withdrawn: no longer published (what it signed no longer verifies by it)".to_owned()
    };
    crate::print_out(&format!(
        "credential key rotated in {}: new key {}; old key {} {old}. Start the issuer (every replica) to sign with the new key.",
        config.keys_dir().display(),
        r.new_kid,
        r.old_kid
    ));
    Ok(())
}

fn rotate_key_online(a: &AdminArgs, withdraw: bool, kid: Option<&str>) -> Result<(), CliError> {
    let body = match kid {
        Some(kid) => serde_json::json!({"withdraw": withdraw, "kid": kid}),
        None => serde_json::json!({"withdraw": withdraw}),
    };
    let answer = admin_post(a, issuer::routes::ADMIN_ROTATE_KEY_PATH, &body)?;
    if a.json {
        crate::print_out(&answer.to_string());
        return Ok(());
    }
    let field = |k: &str| answer.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
    let old = if answer.get("retired").and_then(Value::as_bool) == Some(true) {
        "still published as retired (what it signed stays valid)"
    } else {
        "withdrawn: its signing certificates revoked, no longer published"
    };
    crate::print_out(&format!(
        "credential key of {} rotated: new key {} signs from now (other replicas within a second); old key {} {old}.",
        a.url.trim_end_matches('/'),
        field("new_kid"),
        field("old_kid")
    ));
    Ok(())
}

fn load_sample(preset: Preset, path: &Path) -> Result<(), CliError> {
    let config = issuer::Config::load(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let (n, place) = issuer::samples::load_configured(&config, preset).map_err(|e| usage(format!("{}: the registry: {e}", path.display())))?;
    crate::print_out(&format!("{n} {} records in {place} (citizens: {})", preset.name(), issuer::samples::CITIZENS.join(", ")));
    Ok(())
}

/// POSTs `body` to the issuer's admin `path`; its JSON answer, or an error that says what
/// was wrong (unreachable, the token refused, nothing found, a refused request).
fn admin_post(a: &AdminArgs, path: &str, body: &Value) -> Result<Value, CliError> {
    let token = a.token()?;
    let http = reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(30)).build().map_err(usage)?;
    let what = format!("POST {path}");
    crate::admin_args::send("issuer", a.base(), &what, &token, http.post(format!("{}{path}", a.base())).json(body))?.checked(None, "issuer", a.base(), &what).map(|a| a.json)
}

fn offer(a: &AdminArgs, citizen: &str, configurations: &[String], no_tx_code: bool, by_reference: bool, scheme: &str) -> Result<(), CliError> {
    let mut body = json!({"citizen": citizen, "tx_code": !no_tx_code, "by_reference": by_reference, "scheme": scheme});
    if !configurations.is_empty()
        && let Some(m) = body.as_object_mut()
    {
        m.insert("credential_configuration_ids".into(), json!(configurations));
    }
    let answer = admin_post(a, issuer::routes::ADMIN_OFFERS_PATH, &body)?;
    if a.json {
        crate::present::print_json(&answer);
        return Ok(());
    }
    let url = answer.get("offer_url").and_then(Value::as_str).ok_or_else(|| usage(format!("the issuer's answer has no offer_url: {answer}")))?;
    // Stdout: the offer URL (the QR code's content), then the transaction code, for
    // `| tessera wallet issue -`; the notes for the operator on stderr.
    crate::print_out(url);
    if let Some(tx) = answer.get("tx_code").and_then(Value::as_str) {
        crate::print_out(&format!("tx_code: {tx}"));
    }
    let until = answer.get("expires_at").and_then(Value::as_i64).map_or_else(String::new, |e| format!(", valid until {}", crate::wallet_cmd::utc(e)));
    eprintln!("Offer for {citizen} at {}{until}: show the URL as a QR code; give the citizen the tx_code separately.", a.url.trim_end_matches('/'));
    Ok(())
}

/// What the issuer issued to `citizen` (`GET /admin/citizens/{citizen}/credentials`): its
/// `credentials` array (id, configuration, status index and value, dates).
pub(crate) fn issued_to(a: &AdminArgs, citizen: &str) -> Result<Vec<Value>, CliError> {
    let token = a.token()?;
    let base = a.url.trim_end_matches('/');
    let url = format!("{base}{}", issuer::routes::ADMIN_CITIZEN_PATH.replace("{citizen}", &wallet_core::wallet::query::encode(citizen)));
    let http = reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(30)).build().map_err(usage)?;
    let r = http.get(&url).bearer_auth(token).send().map_err(|e| usage(format!("cannot reach the issuer at {base}: {e}")))?;
    let status = r.status().as_u16();
    let answer: Value = r.json().unwrap_or(Value::Null);
    if status != 200 {
        return Err(usage(format!("{url}: HTTP {status}: {answer}")));
    }
    answer.get("credentials").and_then(Value::as_array).cloned().ok_or_else(|| usage(format!("{url}: no `credentials` in the answer: {answer}")))
}

/// A status change at the issuer's admin API (`action`: revoke, suspend, reinstate, update): how
/// many credentials changed, and their status now.
pub(crate) fn status_change(a: &StatusArgs, action: &str) -> Result<(u64, String), CliError> {
    let body = match (&a.credential, &a.citizen) {
        (Some(id), None) => json!({"action": action, "credential_id": id}),
        (None, Some(c)) => json!({"action": action, "citizen": c}),
        _ => return Err(usage("give exactly one of --credential and --citizen")),
    };
    let answer = admin_post(&a.admin, issuer::routes::ADMIN_STATUS_PATH, &body)?;
    let n = answer.get("changed").and_then(Value::as_u64).unwrap_or(0);
    let status = answer.get("status").and_then(Value::as_str).unwrap_or("?").to_owned();
    if a.admin.json {
        crate::present::print_json(&answer);
    }
    Ok((n, status))
}

fn change_status(a: &StatusArgs, action: &str) -> Result<(), CliError> {
    let (n, status) = status_change(a, action)?;
    if a.admin.json {
        return Ok(());
    }
    let whose = match (&a.credential, &a.citizen) {
        (Some(id), _) => format!("credential {id}"),
        (_, Some(c)) => format!("{n} credential{} of {c}", if n == 1 { "" } else { "s" }),
        _ => String::new(),
    };
    crate::print_out(&format!("{whose}: now {status} in the status list of {}.", a.admin.url.trim_end_matches('/')));
    Ok(())
}
