//! `tessera wallet ...`: a command-line wallet on wallet-core with a software key store.
//!
//! `activate` drives the SPID/CIE login as a browser would: it opens the wallet provider's
//! citizen-login URL, follows the redirects to the OpenID Provider's login page, submits its
//! form (choosing a test identity and a level), follows the redirects back through the wallet
//! provider and stops at the app's redirect URI; then wallet-core's activation flow registers
//! the instance and obtains the WAA and WUA, verified through the provider's federation trust
//! chain.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::json;
use trust_anchor::fetch::HttpFetcher;
use wallet_core::attestation::key_attestation::SoftwareAttester;
use wallet_core::federation::entity::ENTITY_STATEMENT_MEDIA_TYPE;
use wallet_core::federation::{EntityId, Fetcher as _, ParsedStatement, TrustAnchorConfig, TrustChainResolver};
use wallet_core::jose::CompactJws;
use wallet_core::keystore::SoftwareKeyStore;
use wallet_core::store::FileKeyProvider;
use wallet_core::wallet::{
    CitizenSession, HttpClient, HttpError, HttpMethod, HttpRequest, HttpResponse, InstanceStore, PendingLogin, WalletActivation,
};

use crate::CliError;

/// The metadata type whose `jwks` holds the wallet provider's attestation keys.
const WALLET_SOLUTION: &str = "wallet_solution";
/// The most redirects followed in one login.
const MAX_HOPS: usize = 12;

#[derive(clap::Subcommand)]
pub(crate) enum WalletCommand {
    /// Activate the wallet: SPID/CIE login at the wallet provider (driving the test OpenID
    /// Provider's login page), hardware key registration, Wallet App and Unit Attestations.
    Activate(WalletArgs),
    /// Show this wallet's instance and its attestations (nothing is sent).
    Status(WalletArgs),
    /// Print the OAuth-Client-Attestation and OAuth-Client-Attestation-PoP headers for an
    /// issuer (the WAA is renewed first when it has expired).
    Headers {
        #[command(flatten)]
        wallet: WalletArgs,
        /// The issuer's identifier (the PoP's `aud`).
        #[arg(long)]
        aud: String,
        /// The issuer's challenge, if it gave one.
        #[arg(long)]
        challenge: Option<String>,
    },
    /// Log in and list the citizen's wallet instances at the provider.
    Instances(WalletArgs),
    /// Log in and revoke a wallet instance (default: this wallet's own; its keys are deleted).
    Revoke {
        #[command(flatten)]
        wallet: WalletArgs,
        /// The instance id (as `instances` lists it). Taken as given even when it starts
        /// with `-`, as a base64url id can.
        #[arg(allow_hyphen_values = true)]
        id: Option<String>,
    },
    /// Print the public JWK of this wallet's holder key (made on first use): the key an
    /// issuer binds a credential to.
    HolderKey(crate::present::StoreArgs),
    /// Import an issued SD-JWT VC (FILE, or - for stdin): verified through the issuer's
    /// federation trust chain and bound to this wallet's holder key, then stored encrypted.
    Import {
        #[command(flatten)]
        store: crate::present::StoreArgs,
        #[command(flatten)]
        trust: crate::present::TrustArgs,
        /// The SD-JWT VC file (`-`: stdin).
        file: String,
    },
    /// List the stored credentials.
    List(crate::present::StoreArgs),
    /// Show the transaction log (imports, presentations, declines).
    Log(crate::present::StoreArgs),
    /// Answer a presentation request (the content of a QR code): shows who asks and what,
    /// asks for consent (or --yes / --decline), sends, prints the outcome.
    Present(crate::present::PresentArgs),
    /// Take a credential offer (the content of the issuer's QR code): shows who issues what,
    /// asks for consent (or --yes) and the transaction code, then obtains the credential with
    /// this activated wallet's attested key, verifies it and stores it.
    Issue(crate::issue::IssueArgs),
    /// Show one stored credential: its claims, issuer, dates and status reference.
    Show {
        #[command(flatten)]
        store: crate::present::StoreArgs,
        /// The credential id (as `list` shows it).
        id: String,
    },
    /// Check every stored credential against its issuer's status list (verified through the
    /// issuer's trust chain) and keep what was found: revoked or suspended credentials are
    /// flagged before they are presented.
    /// An activated wallet re-issues the credentials their issuer marked for update; one
    /// whose attributes changed is stored only once the citizen agrees (asked on the
    /// terminal, or `--yes`).
    Refresh {
        #[command(flatten)]
        store: crate::present::StoreArgs,
        #[command(flatten)]
        trust: crate::present::TrustArgs,
        /// Store re-issued credentials whose attributes changed without asking.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(clap::Args)]
pub(crate) struct WalletArgs {
    /// The wallet provider (base URL = entity id).
    #[arg(long)]
    provider: String,
    /// The trust anchor that vouches for the wallet provider (its current configuration is
    /// fetched and trusted unless --ta-jwks pins its keys).
    #[arg(long)]
    ta: String,
    /// Pin the trust anchor's keys from this JWK Set file.
    #[arg(long)]
    ta_jwks: Option<PathBuf>,
    /// Where the wallet keeps its keys and state.
    #[arg(long, default_value = "tessera-wallet")]
    data_dir: PathBuf,
    /// The test identity to log in as (default: the one the login page preselects).
    #[arg(long)]
    fiscal_number: Option<String>,
    /// The level (e.g. https://www.spid.gov.it/SpidL2; default: the page's preselection).
    #[arg(long)]
    acr: Option<String>,
    /// The app's redirect URI (one the provider allows).
    #[arg(long, default_value = "it.tessera.wallet://activate")]
    redirect_uri: String,
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
}

impl WalletArgs {
    /// The wallet in `data_dir`, at `provider`, trusting the anchor `ta`; the login as
    /// `fiscal_number` (default: the page's preselection) at the page's preselected level.
    pub(crate) fn new(provider: String, ta: String, data_dir: PathBuf, fiscal_number: Option<String>) -> Self {
        Self { provider, ta, ta_jwks: None, data_dir, fiscal_number, acr: None, redirect_uri: crate::up::WALLET_REDIRECT_URI.to_owned(), json: false }
    }
}

pub(crate) fn run(c: WalletCommand) -> Result<(), CliError> {
    match c {
        WalletCommand::Activate(a) => activate(&a),
        WalletCommand::Status(a) => status(&a),
        WalletCommand::Headers { wallet, aud, challenge } => headers(&wallet, &aud, challenge.as_deref()),
        WalletCommand::Instances(a) => instances(&a),
        WalletCommand::Revoke { wallet, id } => revoke(&wallet, id.as_deref()),
        WalletCommand::HolderKey(a) => crate::present::holder_key(&a),
        WalletCommand::Import { store, trust, file } => crate::present::import(&store, &trust, &file),
        WalletCommand::List(a) => crate::present::list(&a),
        WalletCommand::Log(a) => crate::present::log(&a),
        WalletCommand::Present(a) => crate::present::present(&a),
        WalletCommand::Issue(a) => crate::issue::issue(&a),
        WalletCommand::Refresh { store, trust, yes } => crate::issue::refresh(&store, &trust, yes),
        WalletCommand::Show { store, id } => crate::issue::show(&store, &id),
    }
}

pub(crate) fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

/// A browser's worth of HTTP: no automatic redirects, a cookie jar per host.
pub(crate) struct Browser {
    client: reqwest::blocking::Client,
    cookies: Mutex<HashMap<String, Vec<(String, String)>>>,
}

fn host_of(url: &str) -> String {
    wallet_core::x509::uri_host(url).unwrap_or_default()
}

/// `TESSERA_SOURCE_ADDRESS`: the local address the wallet's connections leave from, like
/// curl's `--interface` (a host with several addresses; `tessera-loadtest` gives each
/// simulated citizen a loopback address of its own, so that per-client rate limits count
/// citizens, not the machine).
pub(crate) fn source_address() -> Result<Option<std::net::IpAddr>, CliError> {
    match std::env::var("TESSERA_SOURCE_ADDRESS") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map(Some).map_err(|_| usage(format!("TESSERA_SOURCE_ADDRESS: not an IP address: {v:?}"))),
        _ => Ok(None),
    }
}

/// The wallet's federation fetcher, from [`source_address`].
pub(crate) fn fetcher() -> Result<HttpFetcher, CliError> {
    HttpFetcher::from_address(source_address()?).map_err(usage)
}

impl Browser {
    pub(crate) fn new() -> Result<Self, CliError> {
        let client = reqwest::blocking::Client::builder()
            .local_address(source_address()?)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(usage)?;
        Ok(Self { client, cookies: Mutex::new(HashMap::new()) })
    }

    fn jar(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<(String, String)>>> {
        self.cookies.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl HttpClient for Browser {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let method = match request.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Patch => reqwest::Method::PATCH,
        };
        let host = host_of(&request.url);
        let mut b = self.client.request(method, &request.url);
        for (n, v) in &request.headers {
            b = b.header(n.as_str(), v.as_str());
        }
        if let Some(cookies) = self.jar().get(&host).filter(|c| !c.is_empty()) {
            let v: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
            b = b.header("Cookie", v.join("; "));
        }
        if !request.body.is_empty() {
            b = b.body(request.body);
        }
        let resp = b.send().map_err(|e| HttpError(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> =
            resp.headers().iter().filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_owned(), v.to_owned()))).collect();
        for (n, v) in &headers {
            if n.eq_ignore_ascii_case("set-cookie")
                && let Some((name, value)) = v.split(';').next().and_then(|p| p.split_once('='))
            {
                let mut jar = self.jar();
                let list = jar.entry(host.clone()).or_default();
                list.retain(|(k, _)| k != name.trim());
                list.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let body = resp.bytes().map_err(|e| HttpError(e.to_string()))?.to_vec();
        if body.len() > wallet_core::wallet::http::MAX_RESPONSE_BODY {
            return Err(HttpError("response too large".into()));
        }
        Ok(HttpResponse { status, headers, body })
    }
}

/// `location` resolved against `current` (absolute, or absolute-path).
pub(crate) fn resolve_location(current: &str, location: &str) -> String {
    if location.contains("://") || !location.starts_with('/') {
        return location.to_owned();
    }
    let origin_end = current.find("://").map(|i| i + 3).and_then(|s| current.get(s..).map(|r| s + r.find('/').unwrap_or(r.len())));
    match origin_end.and_then(|e| current.get(..e)) {
        Some(origin) => format!("{origin}{location}"),
        None => location.to_owned(),
    }
}

/// The attributes of one tag's text (`<input type="radio" name="x" value="y" checked>`).
pub(crate) fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag.split_once(char::is_whitespace).map_or("", |(_, r)| r);
    while !rest.trim().is_empty() {
        rest = rest.trim_start();
        let name_end = rest.find(|c: char| c == '=' || c.is_whitespace() || c == '/' || c == '>').unwrap_or(rest.len());
        let name = rest.get(..name_end).unwrap_or_default().to_ascii_lowercase();
        rest = rest.get(name_end..).unwrap_or_default().trim_start();
        let mut value = String::new();
        if let Some(r) = rest.strip_prefix('=') {
            let r = r.trim_start();
            if let Some(q) = r.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = r.get(1..).unwrap_or_default();
                let end = body.find(q).unwrap_or(body.len());
                value = unescape(body.get(..end).unwrap_or_default());
                rest = body.get(end + 1..).unwrap_or_default();
            } else {
                let end = r.find(char::is_whitespace).unwrap_or(r.len());
                value = unescape(r.get(..end).unwrap_or_default());
                rest = r.get(end..).unwrap_or_default();
            }
        } else if name.is_empty() {
            rest = rest.get(1..).unwrap_or_default();
            continue;
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// What a login page's form holds.
#[derive(Debug, Default, PartialEq)]
struct LoginForm {
    action: String,
    hidden: Vec<(String, String)>,
    /// Radio choices by field name: (value, checked).
    radios: Vec<(String, String, bool)>,
    /// Select options by field name: (value, selected).
    options: Vec<(String, String, bool)>,
}

/// Reads the first form of an HTML page (the OpenID Provider's login page contract: hidden
/// `session`, radio `fiscal_number`, select `acr`).
fn parse_form(html: &str) -> Option<LoginForm> {
    let mut form: Option<LoginForm> = None;
    let mut select: Option<String> = None;
    for piece in html.split('<').skip(1) {
        let tag = piece.split('>').next().unwrap_or_default();
        let name = tag.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or_default().to_ascii_lowercase();
        let attrs = attributes(tag);
        match (name.as_str(), form.as_mut()) {
            ("form", None) => form = Some(LoginForm { action: attr(&attrs, "action").unwrap_or_default().to_owned(), ..LoginForm::default() }),
            ("/form", Some(_)) => break,
            ("input", Some(f)) => {
                let (Some(n), v) = (attr(&attrs, "name"), attr(&attrs, "value").unwrap_or_default()) else { continue };
                match attr(&attrs, "type").unwrap_or("text").to_ascii_lowercase().as_str() {
                    "radio" | "checkbox" => f.radios.push((n.to_owned(), v.to_owned(), attr(&attrs, "checked").is_some())),
                    _ => f.hidden.push((n.to_owned(), v.to_owned())),
                }
            }
            ("select", Some(_)) => select = attr(&attrs, "name").map(str::to_owned),
            ("/select", Some(_)) => select = None,
            ("option", Some(f)) => {
                if let (Some(s), Some(v)) = (&select, attr(&attrs, "value")) {
                    f.options.push((s.clone(), v.to_owned(), attr(&attrs, "selected").is_some()));
                }
            }
            _ => {}
        }
    }
    form
}

/// The form's fields with the tester's choices: `fiscal_number` and `acr` as asked, else the
/// page's preselection, else the first choice.
fn fill(form: &LoginForm, fiscal_number: Option<&str>, acr: Option<&str>) -> Result<Vec<(String, String)>, CliError> {
    let mut fields = form.hidden.clone();
    let mut choose = |field: &str, wanted: Option<&str>, choices: Vec<(&str, bool)>| -> Result<(), CliError> {
        if choices.is_empty() {
            return Ok(());
        }
        let value = match wanted {
            Some(w) if choices.iter().any(|(v, _)| *v == w) => w.to_owned(),
            Some(w) => {
                let list: Vec<&str> = choices.iter().map(|(v, _)| *v).collect();
                return Err(usage(format!("the login page offers no {field} `{w}` (it offers: {})", list.join(", "))));
            }
            None => choices.iter().find(|(_, c)| *c).or(choices.first()).map(|(v, _)| (*v).to_owned()).unwrap_or_default(),
        };
        fields.push((field.to_owned(), value));
        Ok(())
    };
    let mut names: Vec<&str> = form.radios.iter().map(|(n, _, _)| n.as_str()).chain(form.options.iter().map(|(n, _, _)| n.as_str())).collect();
    names.dedup();
    for n in names {
        let choices: Vec<(&str, bool)> = form
            .radios
            .iter()
            .chain(form.options.iter())
            .filter(|(f, _, _)| f == n)
            .map(|(_, v, c)| (v.as_str(), *c))
            .collect();
        let wanted = match n {
            "fiscal_number" => fiscal_number,
            "acr" => acr,
            _ => None,
        };
        choose(n, wanted, choices)?;
    }
    Ok(fields)
}

pub(crate) fn form_body(fields: &[(String, String)]) -> Vec<u8> {
    let pairs: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", wallet_core::wallet::query::encode(k), wallet_core::wallet::query::encode(v)))
        .collect();
    pairs.join("&").into_bytes()
}

/// Drives the login from the provider's citizen-login URL to the redirect back to the app;
/// returns that redirect URL.
fn browse_login(browser: &Browser, pending: &PendingLogin, fiscal_number: Option<&str>, acr: Option<&str>) -> Result<String, CliError> {
    browse_to(browser, &pending.url(), pending.redirect_uri(), |u| pending.is_redirect(u), fiscal_number, acr)
}

/// Plays the phone's browser from `start`: follows redirects, submits the OpenID Provider's
/// login page once (as `fiscal_number` at `acr`, or what the page preselects), and stops at
/// the first URL `is_back` accepts (the wallet's redirect, query included).
pub(crate) fn browse_to(
    browser: &Browser,
    start: &str,
    back_to: &str,
    is_back: impl Fn(&str) -> bool,
    fiscal_number: Option<&str>,
    acr: Option<&str>,
) -> Result<String, CliError> {
    let mut url = start.to_owned();
    let mut submitted = false;
    for _ in 0..MAX_HOPS {
        if is_back(&url) {
            return Ok(url);
        }
        let resp = browser.send(HttpRequest::get(url.clone()).header("Accept", "text/html")).map_err(usage)?;
        match resp.status {
            301 | 302 | 303 | 307 | 308 => {
                let loc = resp.header("Location").ok_or_else(|| usage(format!("{url}: redirect without Location")))?;
                url = resolve_location(&url, loc);
            }
            200 if !submitted => {
                let html = String::from_utf8_lossy(&resp.body);
                let form = parse_form(&html).ok_or_else(|| usage(format!("{url}: no login form on the page")))?;
                let action = resolve_location(&url, &form.action);
                let fields = fill(&form, fiscal_number, acr)?;
                let post = HttpRequest { method: HttpMethod::Post, url: action.clone(), headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())], body: form_body(&fields) };
                let r = browser.send(post).map_err(usage)?;
                let loc = r
                    .header("Location")
                    .filter(|_| (300..400).contains(&r.status))
                    .ok_or_else(|| usage(format!("{action}: HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body).chars().take(300).collect::<String>())))?;
                url = resolve_location(&action, loc);
                submitted = true;
            }
            s => {
                return Err(usage(format!("{url}: HTTP {s}: {}", String::from_utf8_lossy(&resp.body).chars().take(300).collect::<String>())));
            }
        }
    }
    Err(usage(format!("login did not come back to {back_to} within {MAX_HOPS} redirects")))
}

fn trust(ta: &str, ta_jwks: Option<&Path>) -> Result<TrustChainResolver, CliError> {
    Ok(TrustChainResolver::new(anchor_config(ta, ta_jwks)?, WALLET_SOLUTION))
}

/// The trust anchor: its keys pinned from a JWK Set file, or its self-signed configuration
/// fetched now.
pub(crate) fn anchor_config(ta: &str, ta_jwks: Option<&Path>) -> Result<TrustAnchorConfig, CliError> {
    let ta_id = EntityId::new(ta).map_err(usage)?;
    let jwks = match ta_jwks {
        Some(p) => serde_json::from_str(&crate::read_file(&p.display().to_string())?).map_err(|e| usage(format!("{}: {e}", p.display())))?,
        None => {
            let fetcher = fetcher()?;
            let ec = ParsedStatement::parse(&fetcher.get(&ta_id.configuration_url(), ENTITY_STATEMENT_MEDIA_TYPE).map_err(usage)?).map_err(usage)?;
            ec.verify_with(&ec.claims.jwks).map_err(usage)?;
            ec.claims.jwks
        }
    };
    Ok(TrustAnchorConfig { id: ta_id, jwks })
}

fn payload(jwt: &str) -> serde_json::Value {
    CompactJws::parse(jwt).ok().and_then(|j| j.payload_json().ok()).unwrap_or_default()
}

/// The wallet over its data directory, and the browser it talks through.
struct Cli {
    wallet: WalletActivation,
    browser: Arc<Browser>,
}

fn open(a: &WalletArgs) -> Result<Cli, CliError> {
    std::fs::create_dir_all(&a.data_dir).map_err(|source| CliError::Io { path: a.data_dir.display().to_string(), source })?;
    let keys_file = FileKeyProvider::new(a.data_dir.join("wallet.key"));
    let attester = SoftwareAttester::development().map_err(usage)?;
    let keys = Arc::new(SoftwareKeyStore::open(a.data_dir.join("keys"), &keys_file, attester).map_err(usage)?);
    let state = InstanceStore::open(&a.data_dir, &keys_file).map_err(usage)?;
    let browser = Arc::new(Browser::new()?);
    let resolver = Arc::new(trust(&a.ta, a.ta_jwks.as_deref())?);
    let wallet = WalletActivation::new(a.provider.clone(), keys, browser.clone(), state, resolver);
    Ok(Cli { wallet, browser })
}

/// The activated wallet in `data_dir`, talking to the provider it was activated at (its
/// attestations are renewed there when they have expired), and the browser it talks through.
pub(crate) fn open_activated(data_dir: &Path, anchor: TrustAnchorConfig) -> Result<(WalletActivation, Arc<Browser>), CliError> {
    let keys_file = FileKeyProvider::new(data_dir.join("wallet.key"));
    let state = InstanceStore::open(data_dir, &keys_file).map_err(usage)?;
    let Some(record) = state.load().map_err(usage)? else {
        return Err(usage(format!("no wallet instance in {} (run `tessera wallet activate` first)", data_dir.display())));
    };
    let attester = SoftwareAttester::development().map_err(usage)?;
    let keys = Arc::new(SoftwareKeyStore::open(data_dir.join("keys"), &keys_file, attester).map_err(usage)?);
    let browser = Arc::new(Browser::new()?);
    let resolver = Arc::new(TrustChainResolver::new(anchor, WALLET_SOLUTION));
    Ok((WalletActivation::new(record.provider, keys, browser.clone(), state, resolver), browser))
}

/// The SPID/CIE login, driven as a browser would.
fn login(cli: &Cli, a: &WalletArgs) -> Result<CitizenSession, CliError> {
    let pending = cli.wallet.start_login(&a.redirect_uri).map_err(usage)?;
    let redirect = browse_login(&cli.browser, &pending, a.fiscal_number.as_deref(), a.acr.as_deref())?;
    cli.wallet.finish_login(&pending, &redirect).map_err(|e| usage(format!("login: {e}")))
}

/// An activated wallet: who logged in, its instance, its attestations.
pub(crate) struct Activated {
    pub(crate) fiscal_number: String,
    pub(crate) provider: String,
    pub(crate) instance_id: String,
    pub(crate) attestations: wallet_core::wallet::Attestations,
}

impl Activated {
    /// The WUA's status list entry (`<uri> #<idx>`), when it has one.
    pub(crate) fn wua_status(&self) -> Option<String> {
        let claims = payload(self.attestations.wallet_unit_attestation.jwt());
        let l = claims.pointer("/status/status_list")?;
        Some(format!("{} #{}", l.get("uri").and_then(serde_json::Value::as_str).unwrap_or("?"), l.get("idx").unwrap_or(&serde_json::Value::Null)))
    }
}

/// The SPID/CIE login driven as a browser would, then wallet-core's activation: the
/// instance registered, its WAA and WUA obtained and verified.
pub(crate) fn activate_wallet(a: &WalletArgs) -> Result<Activated, CliError> {
    let cli = open(a)?;
    let session = login(&cli, a)?;
    let attestations = cli.wallet.activate(&session).map_err(|e| usage(format!("activation: {e}")))?;
    let record = cli.wallet.instance().map_err(usage)?.ok_or_else(|| usage("no instance after activation"))?;
    Ok(Activated { fiscal_number: session.fiscal_number.clone(), provider: cli.wallet.provider().to_owned(), instance_id: record.hardware_key_tag.to_string(), attestations })
}

fn activate(a: &WalletArgs) -> Result<(), CliError> {
    let act = activate_wallet(a)?;
    let att = &act.attestations;
    let waa = att.wallet_app_attestation.jwt();
    let wua = att.wallet_unit_attestation.jwt();
    if a.json {
        let doc = json!({
            "fiscal_number": act.fiscal_number,
            "instance_id": act.instance_id,
            "wallet_app_attestation": waa,
            "wallet_unit_attestation": wua,
            "wallet_app_attestation_claims": payload(waa),
            "wallet_unit_attestation_claims": payload(wua),
        });
        crate::print_out(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        let status = act.wua_status().map_or_else(|| "active".to_owned(), |s| format!("active (WUA status list {s})"));
        crate::print_out(&format!(
            "Wallet activated for {} at {}.\n\
             \x20 instance                  {}\n\
             \x20 status                    {status}\n\
             \x20 Wallet App Attestation    valid until {}\n\
             \x20 Wallet Unit Attestation   valid until {}\n\
             \x20 state                     {}\n\
             The attestations themselves: `tessera wallet activate --json` or `tessera wallet status --json`.",
            act.fiscal_number,
            act.provider,
            act.instance_id,
            utc(att.wallet_app_attestation.expires_at().secs()),
            utc(att.wallet_unit_attestation.expires_at().secs()),
            a.data_dir.display(),
        ));
    }
    Ok(())
}

/// `2026-12-03 07:28:21 UTC` from seconds since the epoch (proleptic Gregorian calendar;
/// H. Hinnant's days-to-civil algorithm).
pub(crate) fn utc(secs: i64) -> String {
    wallet_core::time::UnixTime(secs).utc_string()
}

fn status(a: &WalletArgs) -> Result<(), CliError> {
    let keys_file = FileKeyProvider::new(a.data_dir.join("wallet.key"));
    let state = InstanceStore::open(&a.data_dir, &keys_file).map_err(usage)?;
    let Some(r) = state.load().map_err(usage)? else {
        return Err(usage(format!("no wallet instance in {} (run `tessera wallet activate`)", a.data_dir.display())));
    };
    let doc = json!({
        "provider": r.provider,
        "instance_id": r.hardware_key_tag.as_str(),
        "registered_at": r.registered_at,
        "wallet_app_attestation": r.wallet_app_attestation,
        "wallet_app_attestation_expires_at": r.waa_expires_at,
        "wallet_unit_attestation": r.wallet_unit_attestation,
        "wallet_unit_attestation_expires_at": r.wua_expires_at,
        "wallet_unit_attestation_claims": r.wallet_unit_attestation.as_deref().map(payload),
    });
    if a.json {
        crate::print_out(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        crate::print_out(&format!(
            "Wallet instance {} at {} (registered {}); WAA until {}, WUA until {}.",
            r.hardware_key_tag,
            r.provider,
            utc(r.registered_at),
            r.waa_expires_at.map_or_else(|| "-".to_owned(), utc),
            r.wua_expires_at.map_or_else(|| "-".to_owned(), utc),
        ));
    }
    Ok(())
}

fn headers(a: &WalletArgs, aud: &str, challenge: Option<&str>) -> Result<(), CliError> {
    let cli = open(a)?;
    let h = cli.wallet.client_attestation_headers(aud, challenge).map_err(usage)?;
    if a.json {
        let doc: serde_json::Map<String, serde_json::Value> = h.pairs().iter().map(|(n, v)| ((*n).to_owned(), json!(v))).collect();
        crate::print_out(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        crate::print_out(&h.pairs().iter().map(|(n, v)| format!("{n}: {v}")).collect::<Vec<_>>().join("\n"));
    }
    Ok(())
}

fn instances(a: &WalletArgs) -> Result<(), CliError> {
    let cli = open(a)?;
    let session = login(&cli, a)?;
    let list = cli.wallet.list_instances(&session).map_err(usage)?;
    if a.json {
        let doc: Vec<serde_json::Value> = list.iter().map(|i| json!({"id": i.id, "status": i.status, "issued_at": i.issued_at})).collect();
        crate::print_out(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        let own = cli.wallet.instance().ok().flatten().map(|r| r.hardware_key_tag.to_string());
        let mut out = format!("Wallet instances of {}:", session.fiscal_number);
        for i in &list {
            let mine = if own.as_deref() == Some(i.id.as_str()) { " (this wallet)" } else { "" };
            out.push_str(&format!("\n  {} {:?} issued {}{mine}", i.id, i.status, i.issued_at));
        }
        crate::print_out(&out);
    }
    Ok(())
}

fn revoke(a: &WalletArgs, id: Option<&str>) -> Result<(), CliError> {
    let cli = open(a)?;
    let id = match id {
        Some(id) => id.to_owned(),
        None => cli.wallet.instance().map_err(usage)?.map(|r| r.hardware_key_tag.to_string()).ok_or_else(|| usage("no instance here: name the one to revoke"))?,
    };
    let session = login(&cli, a)?;
    cli.wallet.revoke_instance(&session, &id).map_err(usage)?;
    crate::print_out(&format!("Revoked wallet instance {id}."));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!doctype html><html><body><h1>OP</h1>
<form method="post" action="http://127.0.0.1:7604/login">
<input type="hidden" name="session" value="s&amp;1">
<fieldset><legend>Identity</legend>
<label><input type="radio" name="fiscal_number" value="TINIT-RSSMRA80A01H501U" checked> Mario Rossi</label><br>
<label><input type="radio" name="fiscal_number" value="TINIT-BNCGNN85T10F205Z"> Giovanni Bianchi</label><br>
</fieldset>
<p><label>Level <select name="acr">
<option value="https://www.spid.gov.it/SpidL1">SpidL1</option>
<option value="https://www.spid.gov.it/SpidL2" selected>SpidL2</option>
</select></label></p>
<button type="submit">Log in</button>
</form></body></html>"#;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_282_901), "2026-12-03 07:28:21 UTC");
        assert_eq!(utc(253_402_300_799), "9999-12-31 23:59:59 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn reads_and_fills_the_login_form() {
        let f = parse_form(PAGE).unwrap();
        assert_eq!(f.action, "http://127.0.0.1:7604/login");
        assert_eq!(f.hidden, vec![("session".to_owned(), "s&1".to_owned())]);
        let fields = fill(&f, None, None).unwrap();
        assert_eq!(
            fields,
            vec![
                ("session".to_owned(), "s&1".to_owned()),
                ("fiscal_number".to_owned(), "TINIT-RSSMRA80A01H501U".to_owned()),
                ("acr".to_owned(), "https://www.spid.gov.it/SpidL2".to_owned()),
            ]
        );
        let fields = fill(&f, Some("TINIT-BNCGNN85T10F205Z"), Some("https://www.spid.gov.it/SpidL1")).unwrap();
        assert_eq!(fields[1].1, "TINIT-BNCGNN85T10F205Z");
        assert_eq!(fields[2].1, "https://www.spid.gov.it/SpidL1");
        assert!(matches!(fill(&f, Some("TINIT-XXX"), None), Err(CliError::Usage(m)) if m.contains("offers")));
        assert_eq!(String::from_utf8(form_body(&fields[..1])).unwrap(), "session=s%261");
    }

    /// A wallet instance id is base64url and may start with `-` (one in 64 does): `revoke`
    /// takes it as the id, not as an unknown option.
    #[test]
    fn an_instance_id_starting_with_a_hyphen_is_taken_as_the_id() {
        #[derive(clap::Parser)]
        struct Top {
            #[command(subcommand)]
            command: WalletCommand,
        }
        for id in ["-23zoGIKmtT14KhNR5Lc1KoaFRpN86CP245U2pMwM2E", "--x", "plain"] {
            let top = <Top as clap::Parser>::try_parse_from(["tessera", "revoke", "--provider", "http://127.0.0.1:1", "--ta", "http://127.0.0.1:2", id]);
            match top.map(|t| t.command) {
                Ok(WalletCommand::Revoke { id: Some(got), .. }) => assert_eq!(got, id),
                other => panic!("{id}: {:?}", other.err()),
            }
        }
    }

    #[test]
    fn locations_resolve() {
        assert_eq!(resolve_location("http://127.0.0.1:7605/citizen/login?x=1", "/citizen/callback?code=a"), "http://127.0.0.1:7605/citizen/callback?code=a");
        assert_eq!(resolve_location("http://a/b", "https://c/d"), "https://c/d");
        assert_eq!(resolve_location("http://a", "/d"), "http://a/d");
    }
}
