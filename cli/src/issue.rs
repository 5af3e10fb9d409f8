//! `tessera wallet issue | show`: the activated wallet takes a credential offer (IT-Wallet
//! 1.4 §3.2–§3.3, OpenID4VCI 1.0 pre-authorized code flow) through wallet-core's
//! [`WalletIssuance`], and shows what it stored.
//!
//! The flow is wallet-core's: the offer, the issuer's metadata and federation trust chain
//! (an issuer outside the federation is refused before anything is sent), the consent shown
//! here, the token with DPoP and the transaction code, the key proof by the key the wallet
//! provider's WUA attests, the credential verified and stored encrypted with the tag of the
//! key it is bound to (which `wallet present` signs the KB-JWT with), the notification.
//! Deferred issuance is waited for here, a line per poll: wallet-core's pending issuance
//! lives in memory only, so it cannot be resumed by a later command.

use std::io::{BufRead as _, Write as _};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use wallet_core::oid4vci::offer::TxCode;
use wallet_core::sd_jwt::SdJwt;
use wallet_core::store::{CredentialId, StoredCredential};
use issuer::presets::Preset;
use wallet_core::wallet::issuance::{AuthorizationStep, BrowserError, BrowserStep, IssuerTrust, check_tx_code};
use wallet_core::wallet::{AttributeUpdate, HttpClient, IssuanceConsent, IssuanceError, IssuanceOutcome, StoredHolderKeys, UpdateConsent, WalletIssuance};

use crate::CliError;
use crate::present::{HOLDER_KEY_TAG, StoreArgs, TrustArgs, ask, open_store, print_json};
use crate::wallet_cmd::{Browser, anchor_config, browse_to, open_activated, usage, utc};

/// The wallet's `redirect_uri` for issuance: an https universal link, as the phone app
/// registers (the PID-presentation path hands the code back through an https URL only).
pub(crate) const ISSUANCE_REDIRECT_URI: &str = "https://wallet.tessera.example/issuance/callback";

/// Claims of the issuer JWT that are about the credential, not its holder (shown apart).
const ENVELOPE: [&str; 11] = ["iss", "sub", "vct", "iat", "exp", "nbf", "cnf", "status", "_sd", "_sd_alg", "vct#integrity"];

/// `tessera wallet issue` options.
#[derive(clap::Args)]
pub(crate) struct IssueArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    trust: TrustArgs,
    /// `pid`, `mdl` or `health-card` to ask an issuer yourself (the authorization code flow:
    /// SPID/CIE login at the PID provider, the PID presented to the other registries); or a
    /// credential offer (the content of the issuer's QR code:
    /// `openid-credential-offer://?credential_offer=...`); or `-` to read an offer from stdin
    /// (the output of `tessera issuer offer`: the offer URL, and a `tx_code:` line).
    offer: String,
    /// With `pid|mdl|health-card`: the issuer (default: where `tessera up` runs it, from
    /// the trust anchor's port: +6, +2, +7).
    #[arg(long)]
    issuer: Option<String>,
    /// With `pid`: the identity to log in as at the OpenID Provider's page (default: the one
    /// it preselects).
    #[arg(long)]
    fiscal_number: Option<String>,
    /// The transaction code the issuer gave separately (asked for on the terminal when the
    /// offer needs one and it is not given).
    #[arg(long)]
    tx_code: Option<String>,
    /// Consent without asking.
    #[arg(long)]
    yes: bool,
    /// How long to wait for a deferred credential, in seconds (a line per poll).
    #[arg(long, default_value_t = 600)]
    max_wait: u64,
    /// A trust mark type of which the issuer must hold one, valid (IT-Wallet 1.4 §1.3;
    /// repeatable: any one of them). Whatever marks it holds are checked and shown anyway.
    /// `tessera up`'s issuers hold `<anchor>/trust_marks/openid_credential_issuer/public`
    /// (the PID provider) or the intermediate's (the registries under it): `pid|mdl|health-card`
    /// without `--issuer` (`tessera up`'s issuers) require those unless this is given.
    #[arg(long = "issuer-mark", value_name = "TYPE")]
    issuer_marks: Vec<String>,
}

impl IssueArgs {
    /// `tessera wallet issue pid|mdl|health-card --yes` for the wallet in `data_dir`.
    pub(crate) fn wallet_initiated(data_dir: std::path::PathBuf, ta: String, kind: &str, fiscal_number: Option<String>) -> Self {
        Self {
            store: StoreArgs { data_dir, json: false },
            trust: TrustArgs { ta, ta_jwks: None },
            offer: kind.to_owned(),
            issuer: None,
            fiscal_number,
            tx_code: None,
            yes: true,
            max_wait: 600,
            issuer_marks: Vec::new(),
        }
    }
}

/// What an issuance stored.
pub(crate) struct Issued {
    /// The issuer's entity id, and its display name.
    pub(crate) issuer: String,
    pub(crate) issuer_name: Option<String>,
    /// The stored credentials.
    pub(crate) ids: Vec<CredentialId>,
    /// The consent as JSON (for `--json`).
    doc: Value,
}

/// The offer and the transaction code read from stdin: `tessera issuer offer`'s JSON
/// (`offer_url`, `tx_code`) or its text (a line with the URL, a `tx_code: CODE` line).
fn offer_from_stdin() -> Result<(String, Option<String>), CliError> {
    parse_offer_input(&crate::read_stdin()?)
}

fn parse_offer_input(text: &str) -> Result<(String, Option<String>), CliError> {
    if let Ok(v) = serde_json::from_str::<Value>(text)
        && let Some(url) = v.get("offer_url").and_then(Value::as_str)
    {
        return Ok((url.to_owned(), v.get("tx_code").and_then(Value::as_str).map(str::to_owned)));
    }
    let mut url = None;
    let mut tx = None;
    for line in text.lines().map(str::trim) {
        if let Some(code) = line.strip_prefix("tx_code:") {
            tx = Some(code.trim().to_owned());
        } else if url.is_none() && line.contains("://") {
            url = Some(line.to_owned());
        }
    }
    let url = url.ok_or_else(|| usage("no credential offer URL on stdin"))?;
    Ok((url, tx))
}

fn trust_text(t: &IssuerTrust) -> String {
    match t {
        IssuerTrust::Trusted { trust_anchor, trust_marks } => {
            let mut out = format!("trusted: federation trust chain to {trust_anchor}");
            for m in trust_marks {
                out.push_str(&format!("\n  mark     {}: {}", m.trust_mark_type, crate::present::mark_check_text(&m.check)));
            }
            out
        }
        IssuerTrust::Untrusted { reason } => format!("NOT TRUSTED: {reason}"),
    }
}

fn tx_code_text(t: &TxCode) -> String {
    let mut s = String::from("needed");
    if let Some(n) = t.length {
        s.push_str(&format!(", {n} characters"));
    }
    if let Some(d) = &t.description {
        s.push_str(&format!(" ({d})"));
    }
    s
}

/// The consent, as text and as JSON.
fn describe(c: &IssuanceConsent) -> (String, Value) {
    let who = c.issuer_name.as_deref().unwrap_or("A credential issuer");
    let mut out = format!("{who} offers credentials.\n  issuer   {}\n  trust    {}", c.issuer, trust_text(&c.trust));
    for o in &c.credentials {
        let name = o.name.as_deref().unwrap_or(&o.configuration_id);
        out.push_str(&format!("\n  offers   {name} ({}, configuration {})", o.vct.as_deref().unwrap_or("no vct"), o.configuration_id));
    }
    if let Some(t) = &c.tx_code {
        out.push_str(&format!("\n  tx_code  {}", tx_code_text(t)));
    }
    let trust = match &c.trust {
        IssuerTrust::Trusted { trust_anchor, trust_marks } => json!({
            "trusted": true, "trust_anchor": trust_anchor,
            "trust_marks": trust_marks.iter().map(|m| json!({"trust_mark_type": m.trust_mark_type, "check": crate::present::mark_check_text(&m.check)})).collect::<Vec<_>>(),
        }),
        IssuerTrust::Untrusted { reason } => json!({"trusted": false, "reason": reason}),
    };
    let doc = json!({
        "issuer": c.issuer, "issuer_name": c.issuer_name, "logo_uri": c.logo_uri, "trust": trust,
        "credentials": c.credentials.iter().map(|o| json!({"configuration_id": o.configuration_id, "vct": o.vct, "name": o.name})).collect::<Vec<_>>(),
        "tx_code_required": c.tx_code.is_some(),
    });
    (out, doc)
}

/// An issuance failure, with the issuer's `error_description` when it gave one.
fn issuance_error(e: IssuanceError) -> CliError {
    match &e {
        IssuanceError::Issuer { description: Some(d), .. } => usage(format!("{e}: {d}")),
        _ => usage(e),
    }
}

/// Asks for the transaction code on the terminal (stderr).
fn prompt_tx_code(spec: &TxCode) -> Result<String, CliError> {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "Transaction code{}: ", spec.description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default());
    let _ = err.flush();
    let mut line = String::new();
    let n = std::io::stdin().lock().read_line(&mut line).map_err(|source| CliError::Io { path: "<stdin>".into(), source })?;
    if n == 0 {
        return Err(usage("the offer needs a transaction code: none on stdin (use --tx-code)"));
    }
    Ok(line.trim().to_owned())
}

/// The phone's browser, played by the command line: it follows the issuer's redirect to the
/// OpenID Provider, fills its login page, and comes back at the wallet's `redirect_uri`.
struct CliBrowser {
    browser: Arc<Browser>,
    fiscal_number: Option<String>,
}

impl BrowserStep for CliBrowser {
    fn open(&self, url: &str, redirect_uri: &str) -> Result<String, BrowserError> {
        use wallet_core::wallet::query::without_query;
        let back = |u: &str| without_query(u) == without_query(redirect_uri);
        browse_to(&self.browser, url, redirect_uri, back, self.fiscal_number.as_deref(), None).map_err(|e| BrowserError(e.to_string()))
    }
}

/// `pid`, `mdl`, `health-card`: the preset and its port offset in `tessera up`.
fn wallet_initiated(kind: &str) -> Option<(Preset, u16)> {
    match kind {
        "pid" => Some((Preset::Pid, 6)),
        "mdl" => Some((Preset::Mdl, 2)),
        "health-card" => Some((Preset::HealthCard, 7)),
        _ => None,
    }
}

/// The issuer trust marks of a `tessera up` federation whose anchor is `ta`: the anchor's and
/// the intermediate's (one port above it), as its verifier requires them.
pub(crate) fn up_issuer_marks(ta: &str) -> Vec<String> {
    let intermediate = issuer_next_to(ta, 1).ok();
    [Some(ta.trim_end_matches('/').to_owned()), intermediate].into_iter().flatten().map(|a| crate::up::issuer_mark_type(&a)).collect()
}

/// Where `tessera up` runs the issuer `offset` ports above the trust anchor `ta`.
fn issuer_next_to(ta: &str, offset: u16) -> Result<String, CliError> {
    let url = url::Url::parse(ta).map_err(|e| usage(format!("--ta {ta}: {e}")))?;
    let port = url.port_or_known_default().and_then(|p| p.checked_add(offset)).ok_or_else(|| usage(format!("--ta {ta}: no port to count from: give --issuer")))?;
    Ok(format!("{}://{}:{port}", url.scheme(), url.host_str().unwrap_or("127.0.0.1")))
}

/// `tessera wallet issue pid|mdl|health-card`: the wallet-initiated authorization code flow.
fn issue_from_issuer(a: &IssueArgs, preset: Preset, offset: u16, show: &dyn Fn(&str)) -> Result<Issued, CliError> {
    let issuer_url = match &a.issuer {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => issuer_next_to(&a.trust.ta, offset)?,
    };
    // `tessera up`'s issuers hold its issuer marks (IT-Wallet 1.4 §1.3), as its verifier
    // requires.
    let marks = if a.issuer_marks.is_empty() && a.issuer.is_none() { up_issuer_marks(&a.trust.ta) } else { a.issuer_marks.clone() };
    let anchor = anchor_config(&a.trust.ta, a.trust.ta_jwks.as_deref())?;
    let (wallet, browser) = open_activated(&a.store.data_dir, anchor.clone())?;
    let store = Arc::new(open_store(&a.store)?);
    let http: Arc<dyn HttpClient> = browser.clone();
    // The anchor's X.509 root too: each credential's `x5c` and the CRLs it names are checked
    // before it is stored (IT-Wallet 1.4 §1.2, §4.1).
    let flow = WalletIssuance::new(http, Arc::new(wallet), store.clone(), vec![anchor])
        .with_redirect_uri(ISSUANCE_REDIRECT_URI)
        .with_anchor_roots()
        .with_required_issuer_marks(marks);
    let session = flow.start_from_issuer(&issuer_url, &[preset.configuration_id()]).map_err(issuance_error)?;
    let consent = &session.consent;
    let (text, doc) = describe(consent);
    if !a.store.json {
        show(&text);
    }
    if let IssuerTrust::Untrusted { reason } = &consent.trust {
        return Err(usage(format!("refused: the issuer {} is not trusted: {reason} (nothing was sent)", consent.issuer)));
    }
    if !a.yes && !ask("Ask this issuer for these credentials?")? {
        return Err(usage("declined: nothing was requested from the issuer"));
    }
    let outcome = match flow.authorize(&session).map_err(issuance_error)? {
        AuthorizationStep::Done(o) => o,
        AuthorizationStep::Browser(b) => {
            eprintln!("Logging in at {} ...", b.url().split('?').next().unwrap_or_default());
            flow.complete_in_browser(&b, &CliBrowser { browser, fiscal_number: a.fiscal_number.clone() }).map_err(issuance_error)?
        }
        AuthorizationStep::Presentation(p) => {
            let (what, _) = crate::present::describe(p.consent());
            if !a.store.json {
                show(&format!("To identify you, the issuer asks for your PID:\n{what}"));
            }
            let choice = p.consent().default_choice();
            if !a.yes && !ask("Present these claims to the issuer?")? {
                flow.decline_pid(&p).map_err(issuance_error)?;
                return Err(usage("declined: the PID was not presented and nothing was issued"));
            }
            let keys = crate::present::open_keys(&a.store)?;
            let holder = StoredHolderKeys::for_choice(&store, keys, &choice).map_err(usage)?;
            flow.present_pid(&p, &choice, &holder).map_err(issuance_error)?
        }
    };
    let ids = finish(a, &flow, outcome)?;
    Ok(Issued { issuer: consent.issuer.clone(), issuer_name: consent.issuer_name.clone(), ids, doc })
}

/// `tessera wallet issue OFFER|pid|mdl|health-card`.
pub(crate) fn issue(a: &IssueArgs) -> Result<(), CliError> {
    let Issued { issuer, ids, mut doc, .. } = obtain(a, &|text| crate::print_out(text))?;
    let store = open_store(&a.store)?;
    let mut stored = Vec::new();
    for id in &ids {
        let c = store.get(id).map_err(usage)?;
        stored.push(summary_json(&c));
    }
    if a.store.json {
        if let Some(m) = doc.as_object_mut() {
            m.insert("stored".into(), Value::Array(stored));
        }
        print_json(&doc);
    } else {
        let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
        crate::print_out(&format!("Stored {} credential{} from {issuer}: {} (`tessera wallet show ID`).", ids.len(), if ids.len() == 1 { "" } else { "s" }, list.join(", ")));
    }
    Ok(())
}

/// Obtains the credentials `a` names (an offer, or `pid|mdl|health-card` from their
/// issuer), the consent `show`n as text unless `--json`; what was stored.
pub(crate) fn obtain(a: &IssueArgs, show: &dyn Fn(&str)) -> Result<Issued, CliError> {
    if let Some((preset, offset)) = wallet_initiated(&a.offer) {
        return issue_from_issuer(a, preset, offset, show);
    }
    let (offer, piped_tx) = if a.offer == "-" { offer_from_stdin()? } else { (a.offer.clone(), None) };
    let anchor = anchor_config(&a.trust.ta, a.trust.ta_jwks.as_deref())?;
    let (wallet, browser) = open_activated(&a.store.data_dir, anchor.clone())?;
    let store = Arc::new(open_store(&a.store)?);
    let http: Arc<dyn HttpClient> = browser;
    let flow = WalletIssuance::new(http, Arc::new(wallet), store.clone(), vec![anchor]).with_anchor_roots().with_required_issuer_marks(a.issuer_marks.clone());
    let session = flow.start_from_offer(&offer).map_err(issuance_error)?;
    let consent = &session.consent;
    let (text, doc) = describe(consent);
    // With --json the consent goes with the outcome, in one document, at the end.
    if !a.store.json {
        show(&text);
    }
    if let IssuerTrust::Untrusted { reason } = &consent.trust {
        return Err(usage(format!("refused: the issuer {} is not trusted: {reason} (nothing was sent)", consent.issuer)));
    }
    // The consent first, then the transaction code (IT-Wallet 1.4 §3.3), checked against the
    // offer's length and input mode before anything is sent.
    if !a.yes && !ask("Add these credentials to the wallet?")? {
        return Err(usage("declined: nothing was requested from the issuer"));
    }
    let tx_code = match (&consent.tx_code, a.tx_code.clone().or(piped_tx)) {
        (None, _) => None,
        (Some(_), Some(code)) => Some(code),
        (Some(spec), None) => Some(prompt_tx_code(spec)?),
    };
    check_tx_code(consent.tx_code.as_ref(), tx_code.as_deref()).map_err(issuance_error)?;
    let outcome = flow.accept(&session, tx_code.as_deref()).map_err(issuance_error)?;
    let ids = finish(a, &flow, outcome)?;
    Ok(Issued { issuer: consent.issuer.clone(), issuer_name: consent.issuer_name.clone(), ids, doc })
}

/// Waits out a deferred issuance; the stored credentials.
fn finish(a: &IssueArgs, flow: &WalletIssuance, mut outcome: IssuanceOutcome) -> Result<Vec<CredentialId>, CliError> {
    let started = std::time::Instant::now();
    let ids = loop {
        match outcome {
            IssuanceOutcome::Issued(ids) => break ids,
            // An offer of several configurations: each waited out; one not issued is told.
            IssuanceOutcome::Several(each) => {
                let mut ids = Vec::new();
                for c in each {
                    match c.outcome.map_err(issuance_error).and_then(|o| finish(a, flow, o)) {
                        Ok(more) => ids.extend(more),
                        Err(e) => eprintln!("{} was not issued: {e}", c.configuration_id),
                    }
                }
                break ids;
            }
            IssuanceOutcome::Deferred(d) => {
                let waited = started.elapsed().as_secs();
                if waited >= a.max_wait {
                    return Err(usage(format!(
                        "the issuer has not issued {} after {waited} s; a pending issuance cannot be resumed by a later command: ask the issuer for a new offer",
                        WalletIssuance::deferred_configuration(&d)
                    )));
                }
                let wait = d.interval.clamp(1, 3_600);
                eprintln!("The issuer is preparing {} (deferred): asking again in {wait} s ...", WalletIssuance::deferred_configuration(&d));
                std::thread::sleep(std::time::Duration::from_secs(wait));
                outcome = flow.poll_deferred(d).map_err(issuance_error)?;
            }
        }
    };
    Ok(ids)
}

/// Every stored credential's status read from its issuer's list (wallet-core's
/// [`WalletStatusRefresh`](wallet_core::wallet::WalletStatusRefresh)), and kept; an
/// activated wallet re-issues the credentials marked UPDATE/ATTRIBUTE_UPDATE with the refresh
/// token it kept (IT-Wallet 1.4 §3.3 "Refresh").
///
/// A re-issuance that changes the citizen's attributes is stored only when `consent`
/// approves it (IT-Wallet 1.4 §6, WP_074); without one it is not stored.
pub(crate) fn refresh_report(
    store_args: &StoreArgs,
    trust: &TrustArgs,
    consent: Option<Arc<dyn UpdateConsent>>,
) -> Result<Vec<wallet_core::wallet::status::StatusReport>, CliError> {
    let anchor = anchor_config(&trust.ta, trust.ta_jwks.as_deref())?;
    let store = Arc::new(open_store(store_args)?);
    let http: Arc<dyn HttpClient> = Arc::new(Browser::new()?);
    // The anchor's X.509 root too (taken from it, checked against its keys): the credentials'
    // `x5c` and the CRLs they name (IT-Wallet 1.4 §1.2).
    let mut refresh = wallet_core::wallet::WalletStatusRefresh::new(http, store.clone(), vec![anchor.clone()]).with_anchor_roots();
    if let Ok((wallet, browser)) = open_activated(&store_args.data_dir, anchor.clone()) {
        let http: Arc<dyn HttpClient> = browser;
        let mut issuance = WalletIssuance::new(http, Arc::new(wallet), store, vec![anchor]).with_anchor_roots();
        if let Some(consent) = consent {
            issuance = issuance.with_update_consent(consent);
        }
        refresh = refresh.with_reissuance(Arc::new(issuance));
    }
    refresh.refresh().map_err(usage)
}

/// A re-issuance in words (`re-issued as …`, `re-issued with its batch`, why not).
fn reissued_word(r: &wallet_core::wallet::status::Reissued) -> String {
    use wallet_core::wallet::status::Reissued;
    match r {
        Reissued::Done(ids) => format!("re-issued as {}", ids.iter().map(CredentialId::as_str).collect::<Vec<_>>().join(", ")),
        Reissued::WithBatch => "re-issued with its batch".to_owned(),
        Reissued::Deferred => "re-issuance deferred by the issuer".to_owned(),
        Reissued::Failed(why) => format!("not re-issued: {why}"),
        Reissued::Declined(update) => format!(
            "not re-issued: the changed attributes were not accepted ({}); the credential held is kept, and its issuer may have withdrawn it",
            update.changes.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
        ),
    }
}

/// A status check in words (`SUSPENDED`, `no status list`, `unknown (why)`).
pub(crate) fn status_word(c: &wallet_core::wallet::StatusCheck) -> String {
    use wallet_core::wallet::StatusCheck;
    match c {
        StatusCheck::Value(v) => v.name().to_owned(),
        StatusCheck::NoStatus => "no status list".to_owned(),
        StatusCheck::Unknown(why) => format!("unknown ({why})"),
        StatusCheck::IssuerCertificateRevoked(why) => format!("issuer certificate revoked ({why})"),
    }
}

/// The citizen at the terminal, asked before a re-issued credential that changes their
/// attributes is stored (IT-Wallet 1.4 §6, WP_074); `yes` answers for them (`--yes`).
struct TerminalUpdateConsent {
    yes: bool,
}

impl UpdateConsent for TerminalUpdateConsent {
    fn approve(&self, update: &AttributeUpdate) -> bool {
        let issuer = update.issuer_name.as_ref().map_or_else(|| update.issuer.clone(), |n| format!("{n} ({})", update.issuer));
        let mut text = format!("{issuer} re-issued {} ({}) with changed attributes:", update.replaces, update.vct);
        for c in &update.changes {
            text.push_str(&format!("\n  {c}"));
        }
        eprintln!("{text}");
        if self.yes {
            eprintln!("Stored (--yes).");
            return true;
        }
        // What declining means, said before the question: the issuer has already replaced
        // the credential held (ours sets it INVALID once its successor is issued), so keeping
        // it may leave the citizen with one that verifiers refuse.
        eprintln!("Declined, the credential held now is kept, but its issuer has replaced it: verifiers may refuse it.");
        // A terminal that cannot be read answers no: nothing is stored unasked.
        ask("Store the updated credential (the one held now is removed)?").unwrap_or(false)
    }
}

/// `tessera wallet refresh`: every stored credential's status, from its issuer's list.
pub(crate) fn refresh(store_args: &StoreArgs, trust: &TrustArgs, yes: bool) -> Result<(), CliError> {
    use wallet_core::wallet::StatusCheck;
    let report = refresh_report(store_args, trust, Some(Arc::new(TerminalUpdateConsent { yes })))?;
    let word = status_word;
    if store_args.json {
        let docs: Vec<Value> = report
            .iter()
            .map(|r| json!({"id": r.id, "vct": r.vct, "issuer": r.issuer, "status": word(&r.check), "changed": r.changed, "reissued": r.reissued.as_ref().map(reissued_word)}))
            .collect();
        print_json(&Value::Array(docs));
        return Ok(());
    }
    let mut out = String::from("Status of the stored credentials:");
    for r in &report {
        let flag = match (&r.check, &r.reissued) {
            (_, Some(re)) => format!("  <- {}", reissued_word(re)),
            (StatusCheck::Value(v), None) if v.name() != "VALID" => "  <- not usable".to_owned(),
            (StatusCheck::IssuerCertificateRevoked(_), None) => "  <- not usable: ask the issuer for a new one".to_owned(),
            _ => String::new(),
        };
        out.push_str(&format!("\n  {}  {}  from {}: {}{}{flag}", r.id, r.vct, r.issuer, word(&r.check), if r.changed { " (changed)" } else { "" }));
    }
    if report.is_empty() {
        out.push_str(" no credentials");
    }
    crate::print_out(&out);
    Ok(())
}

/// The credential's status reference (`status.status_list`), from its payload.
pub(crate) fn status_reference(credential: &str) -> Option<Value> {
    wallet_core::wallet::status::status_reference(credential).and_then(|r| serde_json::to_value(r).ok())
}

fn summary_json(c: &StoredCredential) -> Value {
    let s = &c.summary;
    json!({
        "id": s.id, "vct": s.vct, "issuer": s.issuer, "issuer_name": c.metadata.get("issuer_name"), "name": c.metadata.get("name"),
        "issued_at": s.issued_at.map(|t| t.secs()), "expires_at": s.expires_at.map(|t| t.secs()), "stored_at": s.stored_at.secs(),
        "status": status_reference(&c.credential), "holder_key_tag": c.metadata.get(HOLDER_KEY_TAG),
    })
}

/// A claim value on one line, long values (a portrait) cut.
fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 72 { format!("{}... ({} characters)", s.chars().take(60).collect::<String>(), s.chars().count()) } else { s }
}

/// `tessera wallet show ID`.
pub(crate) fn show(a: &StoreArgs, id: &str) -> Result<(), CliError> {
    let store = open_store(a)?;
    let id = CredentialId::parse(id).ok_or_else(|| usage(format!("`{id}` is not a credential id (`tessera wallet list` shows them)")))?;
    let c = store.get(&id).map_err(|e| usage(format!("credential {id}: {e}")))?;
    let sd = SdJwt::parse(&c.credential)?;
    let view = sd.claim_paths()?;
    let claims: Map<String, Value> = view.claims.into_iter().filter(|(k, _)| !ENVELOPE.contains(&k.as_str())).collect();
    let mut doc = summary_json(&c);
    if a.json {
        if let Some(m) = doc.as_object_mut() {
            m.insert("claims".into(), Value::Object(claims));
        }
        print_json(&doc);
        return Ok(());
    }
    let s = &c.summary;
    let issuer = c.metadata.get("issuer_name").and_then(Value::as_str).map_or_else(|| s.issuer.clone(), |n| format!("{n} ({})", s.issuer));
    let mut out = format!("Credential {}\n  type     {}", s.id, s.vct);
    if let Some(n) = c.metadata.get("name").and_then(Value::as_str) {
        out.push_str(&format!(" ({n})"));
    }
    out.push_str(&format!("\n  issuer   {issuer}"));
    out.push_str(&format!("\n  issued   {}", s.issued_at.map_or_else(|| "-".to_owned(), |t| utc(t.secs()))));
    out.push_str(&format!("\n  expires  {}", s.expires_at.map_or_else(|| "never".to_owned(), |t| utc(t.secs()))));
    out.push_str(&format!("\n  stored   {}", utc(s.stored_at.secs())));
    let status = doc.get("status").and_then(Value::as_object).map_or_else(
        || "no status reference".to_owned(),
        |st| format!("status list {} #{}", st.get("uri").and_then(Value::as_str).unwrap_or("?"), st.get("idx").unwrap_or(&Value::Null)),
    );
    out.push_str(&format!("\n  status   {status}"));
    if let Some(t) = c.metadata.get(HOLDER_KEY_TAG).and_then(Value::as_str) {
        out.push_str(&format!("\n  key      {t}"));
    }
    out.push_str("\n  claims:");
    for (k, v) in &claims {
        out.push_str(&format!("\n    {k} = {}", short(v)));
    }
    crate::print_out(&out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_offer_command_output() {
        let text = "openid-credential-offer://?credential_offer=%7B%7D\ntx_code: 123456\n";
        assert_eq!(parse_offer_input(text).unwrap(), ("openid-credential-offer://?credential_offer=%7B%7D".to_owned(), Some("123456".to_owned())));
        let json = r#"{"offer_url":"openid-credential-offer://?x","tx_code":"654321","expires_at":1}"#;
        assert_eq!(parse_offer_input(json).unwrap(), ("openid-credential-offer://?x".to_owned(), Some("654321".to_owned())));
        assert_eq!(parse_offer_input("openid-credential-offer://?y").unwrap(), ("openid-credential-offer://?y".to_owned(), None));
        assert!(matches!(parse_offer_input("nothing here"), Err(CliError::Usage(m)) if m.contains("no credential offer URL")));
    }

    #[test]
    fn long_values_are_cut() {
        assert_eq!(short(&json!("Mario")), "Mario");
        assert_eq!(short(&json!(["IT"])), r#"["IT"]"#);
        let long = "x".repeat(100);
        assert_eq!(short(&json!(long)), format!("{}... (100 characters)", "x".repeat(60)));
    }
}
