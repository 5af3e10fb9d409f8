//! `tessera demo`: the citizen's story against a running `tessera up` (or one it starts on a
//! temporary data directory and stops at the end), each step numbered, with one line of what
//! happened and a link to see it.
//!
//! 1. the wallet is activated (SPID login at the test OpenID Provider, WAA and WUA);
//! 2. the PID, after a level-3 login at the PID provider (IT-Wallet 1.4 §3.3);
//! 3. the driving licence: the Motorizzazione asks for the PID over OpenID4VP first;
//! 4. the health card, the same way;
//! 5. a police check at the verifier's in-person page, as an officer does it: log in, pick
//!    "Driving licence check", read the QR code's wallet URL off the page; the wallet answers;
//!    the verdict read off the page;
//! 6. an age check at a shop ("Age over 18"): only the birth date leaves the wallet;
//! 7. an online service, same-device, through the verifier's integrator API: the browser
//!    comes back with a `response_code`, the result is fetched with it, once;
//! 8. the Motorizzazione suspends the licence (its admin API, the licence's own entry);
//! 9. the next police check refuses it and the page says why;
//! 10. the wallet's refresh reads the licence's status list: suspended.
//!
//! Every step is the CLI's own command code (`wallet activate`, `wallet issue`, `wallet
//! present`, `issuer suspend`, `wallet refresh`) over wallet-core; what is new here is the
//! officer's side of the in-person page (its HTML, as the officer sees it) and the
//! integrator's two calls. The first step that does not go as the story says ends the demo
//! with an error naming it.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wallet_core::store::CredentialId;
use wallet_core::wallet::{HttpClient as _, HttpMethod, HttpRequest, StatusCheck};

use crate::CliError;
use crate::issue::{IssueArgs, obtain, refresh_report, status_word};
use crate::issuer_cmd::{AdminArgs, StatusArgs, issued_to, status_change};
use crate::present::{PresentArgs, RpAnswer, StoreArgs, TrustArgs, answer, open_store};
use crate::up::{DIRS, OPERATOR, OPERATOR_PASSWORD_FILE};
use crate::wallet_cmd::{Browser, WalletArgs, activate_wallet, attributes, form_body, resolve_location, usage};

/// The first sample citizen, as the OpenID Provider knows him.
const DEFAULT_CITIZEN: &str = "TINIT-RSSMRA80A10H501Z";
/// How long a `tessera up` started here may take to come up.
const UP_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// The trust anchor of a running `tessera up` (the other services are on the next seven
    /// ports). Default: http://127.0.0.1:7600.
    #[arg(long, conflicts_with = "port")]
    url: Option<String>,
    /// The first port of `tessera up` on 127.0.0.1 (default 7600).
    #[arg(long)]
    port: Option<u16>,
    /// The data directory of that `tessera up` (its admin tokens and the in-person page's
    /// operator password). Default: `tessera-data`; when nothing answers, the demo starts its
    /// own `tessera up` there (default: a new temporary directory) and stops it at the end.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The citizen: a test identity of the OpenID Provider, known to the registries.
    #[arg(long, default_value = DEFAULT_CITIZEN)]
    fiscal_number: String,
    /// Where the citizen's wallet is kept (default: a new temporary directory, kept at the
    /// end for `tessera wallet list|log --data-dir`).
    #[arg(long)]
    wallet_dir: Option<PathBuf>,
}

/// The services of one `tessera up`, by their place after the trust anchor's port.
struct Federation {
    ta: String,
    mdl: String,
    wallet_provider: String,
    verifier: String,
    pid: String,
    health_cards: String,
    data_dir: PathBuf,
}

impl Federation {
    fn new(scheme_host: &str, base: u16, data_dir: PathBuf) -> Result<Self, CliError> {
        let at = |i: u16| base.checked_add(i).map(|p| format!("{scheme_host}:{p}")).ok_or_else(|| usage("the port is too high: eight consecutive ports are needed"));
        Ok(Self { ta: at(0)?, mdl: at(2)?, wallet_provider: at(4)?, verifier: at(5)?, pid: at(6)?, health_cards: at(7)?, data_dir })
    }

    /// A file of the verifier's directory under the data directory, trimmed.
    fn verifier_secret(&self, file: &str) -> Result<String, CliError> {
        let dir = DIRS.get(5).copied().unwrap_or("verifier");
        let path = self.data_dir.join(dir).join(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| usage(format!("{}: {e} (pass --data-dir: the directory `tessera up` was given)", path.display())))?;
        Ok(text.trim().to_owned())
    }
}

/// A `tessera up` this demo started: stopped (and its temporary data removed) when dropped.
struct OwnUp {
    child: Child,
    temporary: Option<PathBuf>,
}

impl Drop for OwnUp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.temporary {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Whether anything answers as a federation entity at `ta`.
fn answers(ta: &str) -> bool {
    let Ok(http) = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build() else { return false };
    http.get(format!("{ta}/.well-known/openid-federation")).send().is_ok_and(|r| r.status().is_success())
}

/// A fresh directory under the system's temporary directory.
fn temp_dir(what: &str) -> Result<PathBuf, CliError> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("tessera-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| CliError::Io { path: dir.display().to_string(), source })?;
    Ok(dir)
}

/// Starts `tessera up --port base --data-dir data` (this same binary) and waits until it
/// says it is up (after onboarding every entity); its output goes to `log`.
fn start_up(base: u16, data: &Path, log: &Path, temporary: Option<PathBuf>) -> Result<OwnUp, CliError> {
    let exe = std::env::current_exe().map_err(|e| usage(format!("this program's path: {e}")))?;
    let out = std::fs::File::create(log).map_err(|source| CliError::Io { path: log.display().to_string(), source })?;
    let err = out.try_clone().map_err(|source| CliError::Io { path: log.display().to_string(), source })?;
    let child = Command::new(exe)
        .args(["up", "--port", &base.to_string(), "--data-dir"])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| usage(format!("cannot start `tessera up`: {e}")))?;
    let mut up = OwnUp { child, temporary };
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("Tessera is up") {
            return Ok(up);
        }
        if let Ok(Some(status)) = up.child.try_wait() {
            return Err(usage(format!("`tessera up` stopped ({status}): {}", text.trim())));
        }
        if started.elapsed() > UP_TIMEOUT {
            return Err(usage(format!("`tessera up` did not come up within {} s: {}", UP_TIMEOUT.as_secs(), text.trim())));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One step's outcome: what happened, and where to see it.
struct Told {
    what: String,
    link: String,
}

/// Runs the steps in order, printing each; the first that fails ends the story.
struct Story {
    n: u8,
}

impl Story {
    fn step(&mut self, title: &str, f: impl FnOnce() -> Result<Told, CliError>) -> Result<(), CliError> {
        self.n += 1;
        let n = self.n;
        match f() {
            Ok(t) => {
                crate::print_out(&format!("{n:>2}. {title}: {}\n    see {}", t.what, t.link));
                Ok(())
            }
            Err(e) => Err(usage(format!("step {n} ({title}) did not go as the story says: {e}"))),
        }
    }
}

/// The claims of a stored credential (its disclosures applied).
fn stored_claims(store: &StoreArgs, id: &CredentialId) -> Result<serde_json::Map<String, Value>, CliError> {
    let c = open_store(store)?.get(id).map_err(|e| usage(format!("credential {id}: {e}")))?;
    let sd = wallet_core::sd_jwt::SdJwt::parse(&c.credential)?;
    Ok(sd.claim_paths()?.claims)
}

fn text(claims: &serde_json::Map<String, Value>, key: &str) -> String {
    claims.get(key).and_then(Value::as_str).unwrap_or("?").to_owned()
}

/// The only credential an issuance stored.
fn one(ids: &[CredentialId]) -> Result<CredentialId, CliError> {
    match ids {
        [id] => Ok(id.clone()),
        _ => Err(usage(format!("{} credentials stored, one expected", ids.len()))),
    }
}

/// The value of the first `name` attribute in `html`.
fn first_attribute(html: &str, name: &str) -> Option<String> {
    html.split('<').skip(1).find_map(|piece| {
        let tag = piece.split('>').next().unwrap_or_default();
        attributes(tag).into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    })
}

/// The text of the first element whose `class` is `class` (up to its first child tag).
fn text_of_class(html: &str, class: &str) -> Option<String> {
    html.split('<').skip(1).find_map(|piece| {
        let (tag, rest) = piece.split_once('>')?;
        attributes(tag).iter().any(|(n, v)| n == "class" && v.split_whitespace().any(|c| c == class)).then(|| rest.trim().to_owned())
    })
}

/// The officer at the verifier's in-person page, in a browser of their own (cookies, no
/// automatic redirects): the page in English.
struct Officer {
    browser: Browser,
    verifier: String,
}

/// What the page showed at the end of a check.
struct Verdict {
    /// `data-verdict`: verified, refused, declined, expired, unknown.
    look: String,
    /// The verdict's sentence.
    reason: String,
    /// The page.
    html: String,
    /// The check's page.
    url: String,
}

impl Officer {
    fn get(&self, url: &str) -> Result<(u16, String, Option<String>), CliError> {
        let r = self.browser.send(HttpRequest::get(url.to_owned()).header("Accept", "text/html")).map_err(|e| usage(format!("{url}: {e}")))?;
        Ok((r.status, String::from_utf8_lossy(&r.body).into_owned(), r.header("Location").map(|l| resolve_location(url, l))))
    }

    fn post_form(&self, url: &str, fields: &[(String, String)]) -> Result<(u16, String, Option<String>), CliError> {
        let req = HttpRequest { method: HttpMethod::Post, url: url.to_owned(), headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())], body: form_body(fields) };
        let r = self.browser.send(req).map_err(|e| usage(format!("{url}: {e}")))?;
        Ok((r.status, String::from_utf8_lossy(&r.body).into_owned(), r.header("Location").map(|l| resolve_location(url, l))))
    }

    /// Opens the page and logs in with the operator's password (the login form's CSRF token).
    fn log_in(verifier: &str, password: &str) -> Result<Self, CliError> {
        let o = Self { browser: Browser::new()?, verifier: verifier.to_owned() };
        let home = format!("{verifier}{}", verifier::web::BASE_PATH);
        let (status, page, _) = o.get(&format!("{home}?lang=en"))?;
        let csrf = first_attribute_of_input(&page, "csrf").ok_or_else(|| usage(format!("{home}: HTTP {status}: no login form on the page")))?;
        let fields = [("csrf", csrf.as_str()), ("username", OPERATOR), ("password", password)].map(|(k, v)| (k.to_owned(), v.to_owned()));
        let (status, page, to) = o.post_form(&format!("{verifier}/check/login"), &fields)?;
        if status != 303 || to.as_deref() != Some(home.as_str()) {
            let why = text_of_class(&page, "error").unwrap_or_else(|| format!("HTTP {status}"));
            return Err(usage(format!("the operator `{OPERATOR}` could not log in at {home}: {why}")));
        }
        Ok(o)
    }

    /// Picks the check `preset` (the button of that name on the home page); the check's
    /// page and the wallet URL its QR code shows.
    fn start(&self, preset: &str) -> Result<(String, String), CliError> {
        let home = format!("{}{}", self.verifier, verifier::web::BASE_PATH);
        let (_, page, _) = self.get(&home)?;
        if !page.contains(&format!("data-preset=\"{preset}\"")) {
            return Err(usage(format!("{home}: the page offers no `{preset}` check (not logged in?)")));
        }
        let csrf = first_attribute_of_input(&page, "csrf").ok_or_else(|| usage(format!("{home}: no CSRF token on the page")))?;
        let fields = [("csrf", csrf.as_str()), ("preset", preset)].map(|(k, v)| (k.to_owned(), v.to_owned()));
        let (status, _, to) = self.post_form(&format!("{}/check/start", self.verifier), &fields)?;
        let check = to.filter(|_| status == 303).ok_or_else(|| usage(format!("starting the `{preset}` check: HTTP {status}")))?;
        let (_, page, _) = self.get(&check)?;
        let wallet_url = first_attribute(&page, "data-wallet-url").ok_or_else(|| usage(format!("{check}: no QR code on the page")))?;
        Ok((check, wallet_url))
    }

    /// Waits for the verdict (the page's polling fallback, `state`), then reads the page.
    fn verdict(&self, check: &str) -> Result<Verdict, CliError> {
        let started = Instant::now();
        loop {
            let r = self.browser.send(HttpRequest::get(format!("{check}/state")).header("Accept", "application/json")).map_err(|e| usage(format!("{check}/state: {e}")))?;
            let state: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            if state.get("pending") == Some(&Value::Bool(false)) {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(usage(format!("{check}: no verdict after 30 s (state {state})")));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let (_, html, _) = self.get(check)?;
        let look = first_attribute(&html, "data-verdict").ok_or_else(|| usage(format!("{check}: no verdict on the page")))?;
        let reason = text_of_class(&html, "reason").unwrap_or_default();
        Ok(Verdict { look, reason, html, url: check.to_owned() })
    }
}

/// The value of the hidden input `name` (the first form that has it).
fn first_attribute_of_input(html: &str, name: &str) -> Option<String> {
    html.split('<').skip(1).find_map(|piece| {
        let tag = piece.split('>').next().unwrap_or_default();
        let attrs = attributes(tag);
        let is = attrs.iter().any(|(n, v)| n == "name" && v == name);
        is.then(|| attrs.into_iter().find(|(n, _)| n == "value").map(|(_, v)| v)).flatten()
    })
}

/// The `response_code` of a same-device redirect.
fn response_code(redirect: &str) -> Option<String> {
    let u = url::Url::parse(redirect).ok()?;
    u.query_pairs().find(|(k, _)| k == "response_code").map(|(_, v)| v.into_owned())
}

/// The `ttl` of the status list token at `uri` (how long a verifier may keep it).
fn status_list_ttl(uri: &str) -> Result<u64, CliError> {
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().map_err(usage)?;
    let jwt = http.get(uri).header("Accept", wallet_core::status::MEDIA_TYPE).send().and_then(|r| r.text()).map_err(|e| usage(format!("{uri}: {e}")))?;
    let payload: Value = wallet_core::jose::CompactJws::parse(jwt.trim())?.payload_json()?;
    Ok(payload.get("ttl").and_then(Value::as_u64).unwrap_or(0))
}

pub(crate) fn run(a: &DemoArgs) -> Result<(), CliError> {
    let (scheme_host, base) = match (&a.url, a.port) {
        (Some(u), _) => {
            let url = url::Url::parse(u).map_err(|e| usage(format!("--url {u}: {e}")))?;
            let port = url.port_or_known_default().ok_or_else(|| usage(format!("--url {u}: no port")))?;
            (format!("{}://{}", url.scheme(), url.host_str().unwrap_or("127.0.0.1")), port)
        }
        (None, p) => ("http://127.0.0.1".to_owned(), p.unwrap_or(7600)),
    };
    let ta = format!("{scheme_host}:{base}");
    let mut own = None;
    let data_dir = if answers(&ta) {
        crate::print_out(&format!("Using the federation at {ta}."));
        a.data_dir.clone().unwrap_or_else(|| PathBuf::from("tessera-data"))
    } else {
        if a.url.is_some() && !ta.starts_with("http://127.0.0.1:") {
            return Err(usage(format!("nothing answers at {ta}, and a federation can only be started here on 127.0.0.1")));
        }
        let (data, temporary) = match &a.data_dir {
            Some(d) => (d.clone(), None),
            None => {
                let t = temp_dir("demo-up")?;
                (t.join("data"), Some(t))
            }
        };
        let log = data.with_file_name("tessera-up.log");
        crate::print_out(&format!("Nothing answers at {ta}: starting `tessera up --port {base} --data-dir {}` (its output in {}) ...", data.display(), log.display()));
        own = Some(start_up(base, &data, &log, temporary)?);
        data
    };
    let fed = Federation::new(&scheme_host, base, data_dir)?;
    let wallet_dir = match &a.wallet_dir {
        Some(d) => d.clone(),
        None => temp_dir("demo-wallet")?,
    };
    crate::print_out(&format!("The citizen {} and their wallet (kept in {}):", a.fiscal_number, wallet_dir.display()));
    let result = story(a, &fed, &wallet_dir);
    if own.is_some() {
        crate::print_out("Stopping the `tessera up` this demo started (run `tessera up` yourself, then `tessera demo`, to keep the links alive).");
    }
    drop(own);
    result
}

fn story(a: &DemoArgs, fed: &Federation, wallet_dir: &Path) -> Result<(), CliError> {
    let citizen = a.fiscal_number.strip_prefix("TINIT-").unwrap_or(&a.fiscal_number).to_owned();
    let store = StoreArgs { data_dir: wallet_dir.to_path_buf(), json: false };
    let trust = TrustArgs { ta: fed.ta.clone(), ta_jwks: None };
    let issue = |kind: &str| IssueArgs::wallet_initiated(wallet_dir.to_path_buf(), fed.ta.clone(), kind, Some(a.fiscal_number.clone()));
    let present = |url: &str| PresentArgs::consenting(wallet_dir.to_path_buf(), fed.ta.clone(), url.to_owned());
    let mut s = Story { n: 0 };

    s.step("Activate the wallet (SPID login)", || {
        let act = activate_wallet(&WalletArgs::new(fed.wallet_provider.clone(), fed.ta.clone(), wallet_dir.to_path_buf(), Some(a.fiscal_number.clone())))?;
        let wua = act.wua_status().map_or_else(String::new, |s| format!(" (its status: list {s})"));
        Ok(Told {
            what: format!("{} logged in at the test SPID/CIE OpenID Provider; the wallet provider registered instance {} and issued its Wallet App and Wallet Unit Attestations{wua}", act.fiscal_number, act.instance_id),
            link: format!("{}/.well-known/openid-federation", fed.wallet_provider),
        })
    })?;

    s.step("The PID (CIE level 3)", || {
        let got = obtain(&issue("pid"), &|_| {})?;
        let id = one(&got.ids)?;
        let c = stored_claims(&store, &id)?;
        let what = format!(
            "{} logged in at level 3 (SpidL3) and {} issued the PID of {} {} (born {}), stored as {id}",
            a.fiscal_number,
            got.issuer_name.as_deref().unwrap_or(&got.issuer),
            text(&c, "given_name"),
            text(&c, "family_name"),
            text(&c, "birthdate")
        );
        Ok(Told { what, link: format!("{}/.well-known/openid-credential-issuer", fed.pid) })
    })?;

    // The issuers that identify the citizen by the PID ask for it first (IT-Wallet 1.4 §3.3).
    let by_pid = |kind: &str| -> Result<(crate::issue::Issued, CredentialId), CliError> {
        let shown = RefCell::new(Vec::new());
        let got = obtain(&issue(kind), &|t| shown.borrow_mut().push(t.to_owned()))?;
        if !shown.borrow().iter().any(|t| t.starts_with("To identify you, the issuer asks for your PID")) {
            return Err(usage(format!("{} did not ask for the PID", got.issuer)));
        }
        let id = one(&got.ids)?;
        Ok((got, id))
    };
    let mut mdl_id = None;
    s.step("The driving licence", || {
        let (got, id) = by_pid("mdl")?;
        let c = stored_claims(&store, &id)?;
        let who = got.issuer_name.as_deref().unwrap_or(&got.issuer).to_owned();
        mdl_id = Some(id.clone());
        Ok(Told {
            what: format!("{who} asked for the PID (presented over OpenID4VP), then issued driving licence {} of {} {}, stored as {id}", text(&c, "document_number"), text(&c, "given_name"), text(&c, "family_name")),
            link: format!("{}/status-list", fed.mdl),
        })
    })?;
    let mdl_id = mdl_id.ok_or_else(|| usage("no driving licence"))?;

    s.step("The health card", || {
        let (got, id) = by_pid("health-card")?;
        let c = stored_claims(&store, &id)?;
        let who = got.issuer_name.as_deref().unwrap_or(&got.issuer).to_owned();
        Ok(Told {
            what: format!("{who} asked for the PID, then issued health card {} (valid until {}), stored as {id}", text(&c, "document_number"), text(&c, "ending_date")),
            link: format!("{}/.well-known/openid-credential-issuer", fed.health_cards),
        })
    })?;

    // The in-person check: the officer picks the check, the wallet answers the QR code.
    let in_person = |officer: &Officer, preset: &str| -> Result<(Verdict, crate::present::Presented), CliError> {
        let (check, wallet_url) = officer.start(preset)?;
        let presented = answer(&present(&wallet_url), &|_| {})?;
        let verdict = officer.verdict(&check)?;
        Ok((verdict, presented))
    };
    let mut first_check_done = None;
    let mut logged_in = None;
    s.step("A police check at the in-person page", || {
        let password = fed.verifier_secret(OPERATOR_PASSWORD_FILE)?;
        let officer = logged_in.insert(Officer::log_in(&fed.verifier, &password)?);
        let (v, p) = in_person(officer, "driving_licence")?;
        first_check_done = Some(Instant::now());
        if !matches!(p.answer, RpAnswer::Accepted { .. }) || v.look != "verified" {
            return Err(usage(format!("the page shows `{}`: {}", v.look, v.reason)));
        }
        let number = v.html.contains("data-claim=\"document_number\"");
        Ok(Told {
            what: format!(
                "officer `{OPERATOR}` picked \"Driving licence check\"; the wallet answered the QR code with {}; the page shows VERIFIED: {}{}",
                p.disclosed.join(", "),
                v.reason,
                if number { " (portrait, names, licence number, expiry, categories)" } else { "" }
            ),
            link: format!("{} (log in as `{OPERATOR}`, password in {})", v.url, fed.data_dir.join("verifier").join(OPERATOR_PASSWORD_FILE).display()),
        })
    })?;

    let officer = logged_in.ok_or_else(|| usage("the officer is not logged in"))?;
    s.step("An age check at a shop", || {
        let (v, p) = in_person(&officer, "age_over_18")?;
        if v.look != "verified" {
            return Err(usage(format!("the page shows `{}`: {}", v.look, v.reason)));
        }
        if p.disclosed != ["pid:birthdate"] {
            return Err(usage(format!("the wallet disclosed {} (only pid:birthdate was to leave it)", p.disclosed.join(", "))));
        }
        Ok(Told {
            what: format!("\"Age over 18\": the wallet disclosed only {} of the PID (no name, no tax code); the page shows {}: {}", p.disclosed.join(", "), v.look.to_uppercase(), v.reason),
            link: v.url,
        })
    })?;

    s.step("An online service, same-device", || {
        let token = fed.verifier_secret("admin-token")?;
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().map_err(usage)?;
        let created: Value = http
            .post(format!("{}/sessions", fed.verifier))
            .bearer_auth(&token)
            .json(&json!({"preset": "pid", "flow": "same_device"}))
            .send()
            .and_then(reqwest::blocking::Response::error_for_status)
            .and_then(reqwest::blocking::Response::json)
            .map_err(|e| usage(format!("POST {}/sessions: {e}", fed.verifier)))?;
        let (Some(sid), Some(wallet_url)) = (created.get("session_id").and_then(Value::as_str), created.get("wallet_url").and_then(Value::as_str)) else {
            return Err(usage(format!("the verifier's session has no session_id or wallet_url: {created}")));
        };
        let p = answer(&present(wallet_url), &|_| {})?;
        let redirect = match p.answer {
            RpAnswer::Accepted { redirect: Some(r) } => r,
            RpAnswer::Accepted { redirect: None } => return Err(usage("the verifier sent the browser nowhere (same-device needs a redirect)")),
            RpAnswer::Refused { error, description } => return Err(usage(format!("the verifier answered {error}: {}", description.unwrap_or_default()))),
        };
        let code = response_code(&redirect).ok_or_else(|| usage(format!("the redirect {redirect} has no response_code")))?;
        let result_url = format!("{}/sessions/{sid}/result", fed.verifier);
        let fetch = || http.post(&result_url).bearer_auth(&token).json(&json!({"response_code": code})).send().map_err(|e| usage(format!("{result_url}: {e}")));
        let first = fetch()?;
        let status = first.status().as_u16();
        let result: Value = first.json().unwrap_or(Value::Null);
        if status != 200 || result.get("status").and_then(Value::as_str) != Some("verified") {
            return Err(usage(format!("{result_url}: HTTP {status}: {result}")));
        }
        let again = fetch()?.status().as_u16();
        if again != 404 {
            return Err(usage(format!("the result was served a second time (HTTP {again})")));
        }
        let claims = result.pointer("/credentials/pid/0/claims").cloned().unwrap_or(Value::Null);
        let name = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
        let back = wallet_core::wallet::query::without_query(&redirect).to_owned();
        Ok(Told {
            what: format!(
                "the wallet presented {} and sent the browser back to {back} with a response_code; the service fetched the result with it once (verified: {} {}, tax code {}; a second fetch: 404)",
                p.disclosed.join(", "),
                name("given_name"),
                name("family_name"),
                name("tax_id_code")
            ),
            link: format!("{}/.well-known/openid-federation (the integrator API: POST {}/sessions)", fed.verifier, fed.verifier),
        })
    })?;

    let mut licence_list = String::new();
    s.step("The Motorizzazione suspends the licence", || {
        let c = open_store(&store)?.get(&mdl_id).map_err(usage)?;
        let reference = wallet_core::wallet::status::status_reference(&c.credential).ok_or_else(|| usage("the licence has no status list entry"))?;
        let admin = AdminArgs::under_up(fed.mdl.clone(), fed.data_dir.clone());
        let issued = issued_to(&admin, &citizen)?;
        let at_issuer = issued
            .iter()
            .find(|i| i.get("status_idx").and_then(Value::as_u64) == Some(reference.idx))
            .and_then(|i| i.get("id").and_then(Value::as_str))
            .ok_or_else(|| usage(format!("the Motorizzazione lists no credential of {citizen} at status entry #{}", reference.idx)))?
            .to_owned();
        let (n, status) = status_change(&StatusArgs::credential(admin, at_issuer.clone()), "suspend")?;
        if n != 1 || status != "SUSPENDED" {
            return Err(usage(format!("{n} credentials changed, now {status}")));
        }
        licence_list = reference.uri.clone();
        Ok(Told { what: format!("licence {at_issuer} (entry #{} of its status list) is now {status}", reference.idx), link: reference.uri })
    })?;

    s.step("The next police check", || {
        // The verifier may keep the status list it read at the first check for its `ttl`.
        let ttl = status_list_ttl(&licence_list)?;
        let since = first_check_done.map_or(Duration::ZERO, |t| t.elapsed());
        let wait = Duration::from_secs(ttl.saturating_add(1)).saturating_sub(since);
        if !wait.is_zero() {
            eprintln!("    (the verifier may keep the status list it read {} s ago for its ttl of {ttl} s: the officer waits {} s)", since.as_secs(), wait.as_secs());
            std::thread::sleep(wait);
        }
        let (v, p) = in_person(&officer, "driving_licence")?;
        let told = match &p.answer {
            RpAnswer::Refused { error, description } => format!("{error}: {}", description.as_deref().unwrap_or_default()),
            RpAnswer::Accepted { .. } => return Err(usage(format!("the verifier accepted the suspended licence; the page shows `{}`", v.look))),
        };
        if v.look != "refused" || !told.contains("suspended") {
            return Err(usage(format!("the page shows `{}`: {} (the wallet was told {told})", v.look, v.reason)));
        }
        Ok(Told { what: format!("the verifier refused the licence (the wallet was told {told}); the page shows REFUSED: {}", v.reason), link: v.url })
    })?;

    s.step("The wallet's refresh", || {
        // Nothing is re-issued in the story: no one to ask.
        let report = refresh_report(&store, &trust, None)?;
        let licence = report.iter().find(|r| r.id == mdl_id).ok_or_else(|| usage("the refresh does not list the licence"))?;
        if !matches!(&licence.check, StatusCheck::Value(v) if v.name() == "SUSPENDED") {
            return Err(usage(format!("the licence reads {}", status_word(&licence.check))));
        }
        let all: Vec<String> = report.iter().map(|r| format!("{} {}", r.vct, status_word(&r.check))).collect();
        Ok(Told {
            what: format!("the wallet read each credential's status list: {} (the licence is flagged before it is shown again)", all.join(", ")),
            link: format!("tessera wallet list --data-dir {}", wallet_dir.display()),
        })
    })?;
    crate::print_out(&format!("The story ran as told: {} steps.", s.n));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_page() {
        let page = r#"<form><input type="hidden" name="csrf" value="a&amp;b"><input name="username"></form>
<figure class="qr" data-wallet-url="openid4vp://?client_id=x&amp;request_uri=y"><img src="q"></figure>
<section class="verdict v-refused" data-verdict="refused"><div><h1>Refused</h1><p class="reason">The credential is suspended.</p></div></section>"#;
        assert_eq!(first_attribute_of_input(page, "csrf").unwrap(), "a&b");
        assert_eq!(first_attribute(page, "data-wallet-url").unwrap(), "openid4vp://?client_id=x&request_uri=y");
        assert_eq!(first_attribute(page, "data-verdict").unwrap(), "refused");
        assert_eq!(text_of_class(page, "reason").unwrap(), "The credential is suspended.");
        assert!(text_of_class(page, "error").is_none());
        assert_eq!(response_code("https://a.example/?x=1&response_code=abc").unwrap(), "abc");
    }
}
