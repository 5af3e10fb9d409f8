//! `tessera verifier serve | hash-password | check`: the OpenID4VP verifier service (the
//! `verifier` library: integrator API, the wallet's `request_uri`/`response_uri`, the
//! in-person page), the operator password hashes its `[web]` section takes, and a check
//! started through its integrator API as an integrator's back end would.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::CliError;
use crate::admin_args::{AdminAnswer, AdminArgs, refused, send};
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
    /// Start a cross-device check at a running verifier through its integrator API (as a
    /// bank's or a public office's back end would): the wallet URL on stdout and its QR code
    /// on stderr, the session followed until its verdict, then the result, fetched once, on
    /// stdout as JSON. Exit status 0 when verified; 1 when refused, declined or expired.
    Check {
        #[command(flatten)]
        admin: AdminArgs,
        /// A preset: age_over_18, driving_licence, pid or health_card.
        #[arg(long, required_unless_present = "dcql", conflicts_with = "dcql")]
        preset: Option<String>,
        /// A file holding a DCQL query (JSON; `-`: stdin).
        #[arg(long)]
        dcql: Option<PathBuf>,
        /// No QR code on stderr (the URL alone).
        #[arg(long)]
        no_qr: bool,
        /// Seconds to wait for the wallet (default: until the session expires).
        #[arg(long)]
        wait: Option<u64>,
    },
}

pub(crate) fn run(c: VerifierCommand) -> Result<(), CliError> {
    match c {
        VerifierCommand::Serve { config } => serve(&config),
        VerifierCommand::HashPassword => hash_password(),
        VerifierCommand::Check { admin, preset, dcql, no_qr, wait } => check(&admin, preset.as_deref(), dcql.as_deref(), no_qr, wait),
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

/// The session's states as they change (`GET /sessions/{id}/events`, server-sent events: the
/// stream ends after a final status), each said on stderr; the final one. `wait` (else the
/// session's expiry and a margin) bounds the wait.
fn follow(token: &str, base: &str, id: &str, wait: Option<u64>, expires_at: Option<i64>) -> Result<String, CliError> {
    use std::io::BufRead as _;
    let left = expires_at.map_or(300, |e| e.saturating_sub(wallet_core::time::UnixTime::now().secs()).max(0).unsigned_abs() + 30);
    let limit = Duration::from_secs(wait.unwrap_or(left));
    let deadline = std::time::Instant::now() + limit;
    // A blocking client's timeout bounds each read, and the verifier sends a keep-alive every
    // 15 s: reads are bounded by the limit or 20 s, and the deadline checked at every line.
    let http = reqwest::blocking::Client::builder().timeout(limit.min(Duration::from_secs(20))).build().map_err(usage)?;
    let events_url = format!("{base}{}", verifier::routes::EVENTS_PATH.replace("{id}", id));
    let r = http
        .get(&events_url)
        .bearer_auth(token)
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send()
        .map_err(|e| {
            if e.is_timeout() {
                usage(format!("no verdict within {} s (the verifier did not open the session's events in time)", limit.as_secs()))
            } else {
                usage(format!("following the session: cannot reach the verifier at {base}: {e}"))
            }
        })?;
    let status = r.status().as_u16();
    if status != 200 {
        return Err(refused("verifier", base, "following the session", &AdminAnswer::new(status, r.text().unwrap_or_default())));
    }
    let mut last = String::new();
    let gave_up = |last: &str| usage(format!("no verdict within {} s; the session is {}", limit.as_secs(), if last.is_empty() { "created" } else { last }));
    for line in std::io::BufReader::new(r).lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut || std::time::Instant::now() >= deadline => return Err(gave_up(&last)),
            Err(e) => return Err(usage(format!("following the session: the verifier's events broke off: {e}"))),
        };
        // An event's data: the session's state, a verdict ends the wait whenever it comes.
        if let Some(data) = line.strip_prefix("data:") {
            let state: Value = serde_json::from_str(data.trim()).unwrap_or(Value::Null);
            if let Some(e) = state.get("error").and_then(Value::as_str) {
                eprintln!("the verifier could not read the session's state ({e})");
            }
            let now = state.get("status").and_then(Value::as_str).unwrap_or_default().to_owned();
            if !now.is_empty() && now != last {
                eprintln!("{}", state_words(&now));
                if is_final(&now) {
                    return Ok(now);
                }
                last = now;
            }
        }
        // Every line (keep-alives included) looks at the deadline.
        if std::time::Instant::now() >= deadline {
            return Err(gave_up(&last));
        }
    }
    Err(usage(format!("the verifier ended the session's events with no verdict (the session is {last})")))
}

/// A verdict or an expiry: the verifier's own rule (`SessionStatus::is_pending`).
fn is_final(status: &str) -> bool {
    verifier::store::SessionStatus::parse(status).is_ok_and(|s| !s.is_pending())
}

/// What `check` says of a state, on stderr.
fn state_words(status: &str) -> &'static str {
    match status {
        "created" => "waiting for the wallet to scan the code",
        "request_fetched" => "the wallet has read the request: the citizen is choosing what to share",
        "response_received" => "response received: checking it",
        "verified" => "VERIFIED",
        "refused" => "REFUSED",
        "declined" => "DECLINED by the citizen's wallet",
        "expired" => "EXPIRED: no answer in time",
        _ => "in an unknown state",
    }
}

fn check(a: &AdminArgs, preset: Option<&str>, dcql: Option<&Path>, no_qr: bool, wait: Option<u64>) -> Result<(), CliError> {
    let token = a.token()?;
    let base = a.base();
    let body = match (preset, dcql) {
        (Some(p), None) => json!({"flow": "cross_device", "preset": p}),
        (None, Some(path)) => {
            let text = if path == Path::new("-") {
                std::io::read_to_string(std::io::stdin()).map_err(|source| CliError::Io { path: "<stdin>".into(), source })?
            } else {
                std::fs::read_to_string(path).map_err(|source| CliError::Io { path: path.display().to_string(), source })?
            };
            let q: Value = serde_json::from_str(&text).map_err(|e| usage(format!("{}: not JSON: {e}", path.display())))?;
            json!({"flow": "cross_device", "dcql_query": q})
        }
        _ => return Err(usage("give --preset or --dcql")),
    };
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().map_err(usage)?;
    let sessions = format!("{base}{}", verifier::routes::SESSIONS_PATH);
    let what = "creating the session";
    let created = send("verifier", base, what, &token, http.post(&sessions).json(&body))?.checked(Some(201), "verifier", base, what)?.json;
    let field = |k: &str| created.get(k).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| usage(format!("the verifier's answer has no {k}: {created}")));
    let (id, wallet_url) = (field("session_id")?, field("wallet_url")?);
    let expires_at = created.get("expires_at").and_then(Value::as_i64);
    // Stdout: the wallet URL first (the QR code's content, for `tessera wallet present`), the
    // result last; what happens in between on stderr.
    crate::print_out(&wallet_url);
    if !no_qr {
        match verifier::qr::text(&wallet_url) {
            Ok(qr) => eprintln!("{qr}"),
            Err(e) => eprintln!("(no QR code: {e})"),
        }
    }
    let until = expires_at.map_or_else(String::new, |e| format!(", valid until {}", crate::wallet_cmd::utc(e)));
    eprintln!("Session {id}{until}: scan the code with the wallet app, or `tessera wallet present URL`.");
    let final_status = follow(&token, base, &id, wait, expires_at)?;
    if final_status == "expired" {
        return Err(usage("the session expired before the wallet answered"));
    }
    // The result, fetched once (the verifier erases it then).
    let result_url = format!("{base}{}", verifier::routes::RESULT_PATH.replace("{id}", &id));
    let what = "fetching the result";
    let result = send("verifier", base, what, &token, http.post(&result_url))?.checked(Some(200), "verifier", base, what)?.json;
    crate::present::print_json(&result);
    match final_status.as_str() {
        "verified" => Ok(()),
        "refused" => {
            let why = result.get("reason").and_then(Value::as_str).unwrap_or("no reason given");
            Err(usage(format!("refused: {why}")))
        }
        _ => Err(usage("declined by the citizen's wallet")),
    }
}
