//! `tessera wallet holder-key | import | list | log | present`: the wallet's credentials in
//! its encrypted store under `--data-dir`, and OpenID4VP presentations to relying parties
//! trusted through the federation (`--ta`).
//!
//! Import verifies an issued SD-JWT VC: the issuer's key comes from its federation trust chain
//! (the credential's `trust_chain` header validated to the anchor, else the chain resolved over
//! HTTP), and the credential must be bound (`cnf.jwk`) to this wallet's holder key.
//!
//! Present drives wallet-core's `WalletPresentation`: the scanned URL, the RP's chain
//! resolved to the anchor (an RP outside the federation is refused before anything is sent),
//! the request object fetched (GET or POST per `request_uri_method`) and verified, the RP
//! evaluated, the consent shown, then the response (or `access_denied`) posted; both logged.
//! Each KB-JWT is signed by the key the credential's stored metadata names
//! ([`HOLDER_KEY_TAG`]): the attested key of an issued credential (`wallet issue`), the
//! holder key of an imported one.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use wallet_core::attestation::key_attestation::SoftwareAttester;
use wallet_core::federation::chain::validate;
use wallet_core::federation::resolver::CREDENTIAL_ISSUER;
use wallet_core::federation::{ChainCollector, EntityId, TrustAnchorConfig, ValidatedChain};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{CompactJws, Jwk};
use wallet_core::keystore::{KeyStore, KeyTag, SoftwareKeyStore};
use wallet_core::oid4vp::consent::{ConsentChoice, ConsentError, TrustMarkCheck, TrustWarning};
use wallet_core::oid4vp::dcql::matcher::Missing;
use wallet_core::oid4vp::request_object::RpTrust;
use wallet_core::oid4vp::{ConsentRequest, PresentationFlow, Profile};
use wallet_core::sd_jwt::{SdJwt, StaticKeyResolver, Verifier};
use wallet_core::store::{CredentialId, CredentialStore, FileKeyProvider, NewCredential, NewTransaction, TransactionKind, TransactionOutcome};
use wallet_core::time::UnixTime;
use wallet_core::vc;
use wallet_core::wallet::HttpClient;
use wallet_core::wallet::presentation::{Distrust, PresentationError, PresentationStep, StoredHolderKeys, WalletPresentation};

use crate::CliError;
use crate::wallet_cmd::{Browser, anchor_config, usage, utc};

/// The tag of the key imported credentials are issued to (`wallet holder-key`).
const HOLDER_TAG: &str = "credential-holder";
/// The stored metadata naming the tag of the key a credential is bound to: what
/// wallet-core's issuance flow records (`wallet_core::wallet::issuance`), and what `import`
/// records too, so that `present` signs each KB-JWT with that credential's own key.
pub(crate) const HOLDER_KEY_TAG: &str = "holder_key_tag";
/// The encrypted credential store in the data directory.
const STORE_FILE: &str = "credentials.sqlite";

/// Where the wallet keeps its keys and credentials.
#[derive(clap::Args)]
pub(crate) struct StoreArgs {
    /// Where the wallet keeps its keys and state.
    #[arg(long, default_value = "tessera-wallet")]
    pub(crate) data_dir: PathBuf,
    /// Print one JSON document.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The federation the wallet trusts.
#[derive(clap::Args)]
pub(crate) struct TrustArgs {
    /// The trust anchor (its current configuration is fetched and trusted unless --ta-jwks
    /// pins its keys).
    #[arg(long)]
    pub(crate) ta: String,
    /// Pin the trust anchor's keys from this JWK Set file.
    #[arg(long)]
    pub(crate) ta_jwks: Option<PathBuf>,
}

/// `tessera wallet present` options.
#[derive(clap::Args)]
pub(crate) struct PresentArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    trust: TrustArgs,
    /// The request URL (the content of the QR code: `openid4vp://?client_id=...&request_uri=...`).
    url: String,
    /// Consent without asking (each query answered by its first candidate, or as --choose
    /// says).
    #[arg(long, conflicts_with = "decline")]
    yes: bool,
    /// Decline: the relying party receives `access_denied`.
    #[arg(long)]
    decline: bool,
    /// Answer Credential Query QUERY_ID with stored credential CREDENTIAL_ID (as `wallet list`
    /// shows it) when several could; repeatable (repeat a query allowing `multiple` to send
    /// several). Queries not named get their first candidate (with --yes) or are asked about.
    #[arg(long = "choose", value_name = "QUERY_ID=CREDENTIAL_ID", value_parser = choice_arg)]
    choose: Vec<(String, String)>,
    /// The IT-Wallet version this wallet speaks (`it-wallet-1.4` or `it-wallet-1.3`: which
    /// response-encryption key it prefers).
    #[arg(long, default_value = "it-wallet-1.4", value_parser = profile_arg)]
    profile: Profile,
}

fn choice_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((q, c)) if !q.is_empty() && !c.is_empty() => Ok((q.to_owned(), c.to_owned())),
        _ => Err(format!("`{s}` is not QUERY_ID=CREDENTIAL_ID")),
    }
}

fn profile_arg(s: &str) -> Result<Profile, String> {
    Profile::parse(s).ok_or_else(|| format!("`{s}` is not it-wallet-1.4 or it-wallet-1.3"))
}

fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io { path: path.display().to_string(), source }
}

pub(crate) fn open_store(a: &StoreArgs) -> Result<CredentialStore, CliError> {
    std::fs::create_dir_all(&a.data_dir).map_err(io_err(&a.data_dir))?;
    let keys_file = FileKeyProvider::new(a.data_dir.join("wallet.key"));
    CredentialStore::open(a.data_dir.join(STORE_FILE), &keys_file).map_err(usage)
}

pub(crate) fn open_keys(a: &StoreArgs) -> Result<Arc<dyn KeyStore>, CliError> {
    std::fs::create_dir_all(&a.data_dir).map_err(io_err(&a.data_dir))?;
    let keys_file = FileKeyProvider::new(a.data_dir.join("wallet.key"));
    let attester = SoftwareAttester::development().map_err(usage)?;
    Ok(Arc::new(SoftwareKeyStore::open(a.data_dir.join("keys"), &keys_file, attester).map_err(usage)?))
}

fn holder_tag() -> Result<KeyTag, CliError> {
    KeyTag::new(HOLDER_TAG).map_err(usage)
}

/// The holder key's public JWK, when the wallet has one.
fn holder_public(keys: &dyn KeyStore) -> Option<Jwk> {
    keys.public_key(&holder_tag().ok()?).ok()
}

pub(crate) fn print_json(v: &Value) {
    crate::print_out(&serde_json::to_string_pretty(v).unwrap_or_default());
}

/// `tessera wallet holder-key`: prints the public JWK credentials are to be issued to
/// (generated on first use).
pub(crate) fn holder_key(a: &StoreArgs) -> Result<(), CliError> {
    let keys = open_keys(a)?;
    let jwk = match holder_public(keys.as_ref()) {
        Some(j) => j,
        None => keys.generate_key(&holder_tag()?).map_err(usage)?,
    };
    crate::print_out(&serde_json::to_string(&jwk).map_err(usage)?);
    Ok(())
}

/// The issuer key named by `kid` in its chain's `openid_credential_issuer` metadata.
fn key_from_chain(chain: &ValidatedChain, iss: &str, kid: Option<&str>) -> Result<Jwk, CliError> {
    let untrusted = |why: &str| usage(format!("issuer {iss} is not trusted: {why}"));
    if chain.subject.claims.sub.as_str() != iss {
        return Err(untrusted("its trust chain is about another entity"));
    }
    let jwks: JwkSet = chain
        .metadata_of(CREDENTIAL_ISSUER)
        .and_then(|m| m.get("jwks"))
        .and_then(|j| serde_json::from_value(j.clone()).ok())
        .ok_or_else(|| untrusted("no credential issuer keys (openid_credential_issuer.jwks) in its federation metadata"))?;
    let kid = kid.ok_or_else(|| untrusted("the credential's header has no kid"))?;
    jwks.by_kid(kid).cloned().ok_or_else(|| untrusted("its federation metadata has no key with the credential's kid"))
}

/// The issuer's chain: the credential's `trust_chain` header validated to the anchor, else
/// resolved over HTTP.
fn issuer_chain(header_chain: Option<&Vec<String>>, iss: &str, anchor: &TrustAnchorConfig, now: UnixTime) -> Result<ValidatedChain, CliError> {
    if let Some(chain) = header_chain {
        return validate(chain, anchor, now).map_err(|e| usage(format!("issuer {iss} is not trusted: its trust_chain header: {e}")));
    }
    let id = EntityId::new(iss).map_err(|e| usage(format!("issuer {iss}: {e}")))?;
    let fetcher = crate::wallet_cmd::fetcher()?;
    ChainCollector::new(&fetcher, std::slice::from_ref(anchor))
        .resolve(&id, now)
        .map_err(|e| usage(format!("issuer {iss} is not trusted by {}: {e}", anchor.id)))
}

fn display_name(chain: &ValidatedChain) -> Option<String> {
    let md = chain.metadata_of(CREDENTIAL_ISSUER);
    let from_display = md.and_then(|m| m.get("display")).and_then(Value::as_array).and_then(|d| d.first()).and_then(|d| d.get("name")).and_then(Value::as_str);
    let org = chain.metadata_of("federation_entity").and_then(|m| m.get("organization_name")).and_then(Value::as_str);
    from_display.or(org).map(str::to_owned)
}

/// `tessera wallet import FILE|-`.
pub(crate) fn import(store_args: &StoreArgs, trust: &TrustArgs, file: &str) -> Result<(), CliError> {
    let text = if file == "-" { crate::read_stdin()? } else { crate::read_file(file)?.trim().to_owned() };
    let now = UnixTime::now();
    let sd = SdJwt::parse(&text)?;
    if sd.kb_jwt().is_some() {
        return Err(usage("this is a presentation (it has a KB-JWT), not an issued credential"));
    }
    let jws = CompactJws::parse(sd.issuer_jwt())?;
    let payload: serde_json::Map<String, Value> = jws.payload_json()?;
    let iss = payload.get("iss").and_then(Value::as_str).ok_or_else(|| usage("the credential has no `iss`"))?.to_owned();
    let anchor = anchor_config(&trust.ta, trust.ta_jwks.as_deref())?;
    let chain = issuer_chain(jws.header().trust_chain.as_ref(), &iss, &anchor, now)?;
    let key = key_from_chain(&chain, &iss, jws.header().kid.as_deref())?;
    let resolver = StaticKeyResolver::for_issuer(key, iss.clone());
    let verified = vc::verify(&Verifier::new(&resolver), &text, now).map_err(CliError::Verify)?;
    let holder = verified.sd_jwt.holder_key.as_ref().ok_or_else(|| usage("the credential is not bound to a holder key (no cnf.jwk)"))?;
    let keys = open_keys(store_args)?;
    let ours = holder_public(keys.as_ref()).ok_or_else(|| usage("this wallet has no holder key: run `tessera wallet holder-key` and have the credential issued to it"))?;
    if holder.thumbprint() != ours.thumbprint() {
        return Err(usage("the credential is bound to another key, not this wallet's holder key (`tessera wallet holder-key`)"));
    }
    let vct = verified.vct.as_str().to_owned();
    let int = |k: &str| verified.sd_jwt.claims.get(k).and_then(Value::as_i64).map(UnixTime);
    let issuer_name = display_name(&chain);
    let new = NewCredential {
        format: vc::TYP.to_owned(),
        vct: vct.clone(),
        issuer: iss.clone(),
        issued_at: int("iat"),
        expires_at: int("exp"),
        credential: sd.serialize(),
        metadata: json!({HOLDER_KEY_TAG: HOLDER_TAG, "issuer_name": issuer_name, "status": verified.status.as_ref().map(|s| json!({"uri": s.uri, "idx": s.idx}))}),
    };
    let store = open_store(store_args)?;
    let id = store.put(&new, now).map_err(usage)?;
    store
        .log(&NewTransaction { at: now, kind: TransactionKind::Issuance, counterparty: iss.clone(), credential_ids: vec![id.clone()], claims: Vec::new() })
        .map_err(usage)?;
    if store_args.json {
        print_json(&json!({"id": id, "vct": vct, "issuer": iss, "issuer_name": issuer_name, "expires_at": new.expires_at.map(|t| t.secs())}));
    } else {
        let who = issuer_name.map_or_else(|| iss.clone(), |n| format!("{n} ({iss})"));
        crate::print_out(&format!("Imported {vct} from {who} as {id}."));
    }
    Ok(())
}

/// `tessera wallet list`.
pub(crate) fn list(a: &StoreArgs) -> Result<(), CliError> {
    let store = open_store(a)?;
    let mut docs = Vec::new();
    for s in store.list().map_err(usage)? {
        let stored = store.get(&s.id).ok();
        let meta = stored.as_ref().map(|c| c.metadata.clone()).unwrap_or_default();
        let status = meta.get("status").filter(|v| !v.is_null()).cloned().or_else(|| stored.as_ref().and_then(|c| crate::issue::status_reference(&c.credential)));
        docs.push(json!({
            "id": s.id,
            "vct": s.vct,
            "format": s.format,
            "issuer": s.issuer,
            "issuer_name": meta.get("issuer_name"),
            "issued_at": s.issued_at.map(|t| t.secs()),
            "expires_at": s.expires_at.map(|t| t.secs()),
            "status": status,
            "status_value": meta.get(wallet_core::wallet::status::STATUS_VALUE_KEY),
            "status_checked_at": meta.get(wallet_core::wallet::status::STATUS_CHECKED_AT_KEY),
        }));
    }
    if a.json {
        print_json(&Value::Array(docs));
        return Ok(());
    }
    if docs.is_empty() {
        crate::print_out(&format!("No credentials in {}.", a.data_dir.display()));
        return Ok(());
    }
    let mut out = String::from("Credentials:");
    for d in &docs {
        let issuer = d["issuer_name"].as_str().map_or_else(|| d["issuer"].as_str().unwrap_or("?").to_owned(), |n| format!("{n} ({})", d["issuer"].as_str().unwrap_or("?")));
        let exp = d["expires_at"].as_i64().map_or_else(|| "no expiry".to_owned(), |e| format!("until {}", utc(e)));
        let status = d["status"].as_object().map_or_else(String::new, |s| format!(", status list {} #{}", s.get("uri").and_then(Value::as_str).unwrap_or("?"), s.get("idx").unwrap_or(&Value::Null)));
        let checked = d["status_value"].as_str().map_or_else(String::new, |v| format!(", {v} at the last `tessera wallet refresh`"));
        out.push_str(&format!("\n  {}  {}  from {issuer}, {exp}{status}{checked}", d["id"].as_str().unwrap_or("?"), d["vct"].as_str().unwrap_or("?")));
    }
    crate::print_out(&out);
    Ok(())
}

/// `tessera wallet log`.
pub(crate) fn log(a: &StoreArgs) -> Result<(), CliError> {
    let store = open_store(a)?;
    let log = store.transactions().map_err(usage)?;
    let outcomes = store.outcomes().map_err(usage)?;
    let outcome_json = |seq: i64| outcomes.get(&seq).map(|(at, o)| json!({"at": at.secs(), "result": o}));
    let kind = |k: TransactionKind| match k {
        TransactionKind::Issuance => "issuance",
        TransactionKind::Presentation => "presentation",
        TransactionKind::Deletion => "deletion",
        TransactionKind::Declined => "declined",
        TransactionKind::Refused => "refused",
    };
    if a.json {
        let docs: Vec<Value> = log
            .iter()
            .map(|t| {
                json!({"seq": t.seq, "at": t.entry.at.secs(), "kind": kind(t.entry.kind), "counterparty": t.entry.counterparty,
                       "credential_ids": t.entry.credential_ids, "claims": t.entry.claims, "outcome": outcome_json(t.seq)})
            })
            .collect();
        print_json(&Value::Array(docs));
        return Ok(());
    }
    let mut out = String::from("Transaction log:");
    for t in &log {
        let what = match t.entry.kind {
            TransactionKind::Declined => "declined a presentation to".to_owned(),
            TransactionKind::Presentation => format!("presented {} to", t.entry.claims.join(", ")),
            TransactionKind::Issuance => format!("stored {} issued by", t.entry.credential_ids.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")),
            TransactionKind::Deletion => "deleted a credential of".to_owned(),
            TransactionKind::Refused => "refused a request of".to_owned(),
        };
        let result = match outcomes.get(&t.seq) {
            Some((_, TransactionOutcome::Accepted)) => ": accepted".to_owned(),
            Some((_, TransactionOutcome::Refused { error, description })) => format!(": refused ({error}{})", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()),
            Some((_, TransactionOutcome::Failed { reason })) => format!(": not delivered ({reason})"),
            Some((_, TransactionOutcome::Rejected { reason })) => format!(": {reason}"),
            None if matches!(t.entry.kind, TransactionKind::Presentation | TransactionKind::Declined) => ": no answer recorded".to_owned(),
            None => String::new(),
        };
        out.push_str(&format!("\n  #{} {} {what} {}{result}", t.seq, utc(t.entry.at.secs()), t.entry.counterparty));
    }
    if log.is_empty() {
        out.push_str(" empty");
    }
    crate::print_out(&out);
    Ok(())
}

fn warning_text(w: &TrustWarning) -> &'static str {
    match w {
        TrustWarning::NoValidTrustMark => "it shows no valid trust mark",
        TrustWarning::NoErasureEndpoint => "it asks for identifying attributes and publishes no erasure endpoint",
        TrustWarning::CertificateOnly => "trusted by an X.509 certificate only: its name and logo are its own claims",
    }
}

fn missing_text(m: &Missing) -> String {
    match m {
        Missing::NoCredentialOfType => "no stored credential of this type".to_owned(),
        Missing::Claims(c) => format!("the stored credential lacks {}", c.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
        Missing::UntrustedIssuer => "the stored credentials of this type are from issuers the relying party does not accept".to_owned(),
    }
}

/// What the citizen is shown, as text and as JSON.
pub(crate) fn describe(c: &ConsentRequest) -> (String, serde_json::Map<String, Value>) {
    let rp = &c.rp;
    let trust = match &rp.trust {
        RpTrust::Federation { entity_id, trust_anchor, chain_exp } => {
            format!("trusted: federation trust chain from {entity_id} to {trust_anchor} (valid until {})", utc(chain_exp.secs()))
        }
        RpTrust::X509 { san_uris, .. } => format!("trusted: X.509 certificate for {}", san_uris.join(", ")),
    };
    let mut out = format!(
        "{} asks for credentials.\n  entity   {}\n  trust    {trust}",
        rp.name.as_deref().unwrap_or("A relying party"),
        rp.entity_id.as_deref().unwrap_or(&rp.client_id),
    );
    if let Some(o) = &rp.organization_name {
        out.push_str(&format!("\n  organization {o}"));
    }
    if let Some(p) = &rp.purpose {
        out.push_str(&format!("\n  purpose  {p}"));
    }
    let mut marks = Vec::new();
    for m in &rp.trust_marks {
        let check = mark_check_text(&m.check);
        out.push_str(&format!("\n  trust mark {}: {check}", m.trust_mark_type));
        marks.push(json!({"type": m.trust_mark_type, "check": check}));
    }
    // What its trust marks authorize it to ask for (authorization-policy marks, WP_087).
    let mut authorization = Vec::new();
    for p in &rp.authorization {
        let mut parts = Vec::new();
        let list = |l: &[String]| if l.is_empty() { "(none)".to_owned() } else { l.join(", ") };
        if let Some(t) = &p.credential_types {
            parts.push(format!("credential types {}", list(t)));
        }
        if let Some(c) = &p.claims {
            parts.push(format!("claims {}", list(c)));
        }
        out.push_str(&format!("\n  authorized to ask for {} (trust mark {})", parts.join("; "), p.trust_mark_type));
        authorization.push(json!({"trust_mark_type": p.trust_mark_type, "credential_types": p.credential_types, "claims": p.claims}));
    }
    for w in &rp.warnings {
        out.push_str(&format!("\n  warning  {}", warning_text(w)));
    }
    let mut queries = Vec::new();
    for q in &c.queries {
        let req = if q.required { "required" } else { "optional" };
        out.push_str(&format!("\n  query `{}` ({req}): {}", q.query_id, q.types.join(" or ")));
        for cand in &q.candidates {
            out.push_str(&format!("\n    credential {} ({} from {}) would disclose:", cand.credential_id, cand.vct, cand.issuer));
            for d in &cand.disclosed {
                out.push_str(&format!("\n      {} = {}", d.path, d.value));
            }
        }
        if let Some(m) = &q.missing {
            out.push_str(&format!("\n    missing: {}", missing_text(m)));
        }
        queries.push(json!({
            "id": q.query_id, "types": q.types, "required": q.required, "multiple": q.multiple,
            "candidates": q.candidates.iter().map(|cand| json!({
                "credential_id": cand.credential_id, "vct": cand.vct, "issuer": cand.issuer,
                "disclosed": cand.disclosed.iter().map(|d| json!({"path": d.path.to_string(), "value": d.value})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "missing": q.missing.as_ref().map(missing_text),
        }));
    }
    let mut doc = serde_json::Map::new();
    doc.insert("rp".into(), json!({"client_id": rp.client_id, "entity_id": rp.entity_id, "name": rp.name, "organization_name": rp.organization_name,
               "purpose": rp.purpose, "trust": trust, "trust_marks": marks, "authorization": authorization, "warnings": rp.warnings.iter().map(warning_text).collect::<Vec<_>>()}));
    doc.insert("queries".into(), Value::Array(queries));
    doc.insert("satisfiable".into(), json!(c.satisfiable));
    (out, doc)
}

pub(crate) fn ask(question: &str) -> Result<bool, CliError> {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|source| CliError::Io { path: "<stdin>".into(), source })?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// The credentials to present: per query, those named by `--choose`, else (when `ask`) the
/// citizen's pick among several candidates, else the first candidate (wallet-core's
/// `default_choice`).
fn choose(consent: &ConsentRequest, chosen: &[(String, String)], ask: bool) -> Result<ConsentChoice, CliError> {
    for (q, _) in chosen {
        if !consent.queries.iter().any(|c| &c.query_id == q) {
            let ids: Vec<&str> = consent.queries.iter().map(|c| c.query_id.as_str()).collect();
            return Err(usage(format!("--choose {q}=...: the request has no query `{q}` (it has: {})", ids.join(", "))));
        }
    }
    let default = consent.default_choice();
    let mut out = Vec::new();
    for q in &consent.queries {
        let named: Vec<&str> = chosen.iter().filter(|(id, _)| id == &q.query_id).map(|(_, c)| c.as_str()).collect();
        if !named.is_empty() {
            for c in named {
                let cand = q
                    .candidates
                    .iter()
                    .find(|cand| cand.credential_id.as_str() == c)
                    .ok_or_else(|| usage(format!("--choose {}={c}: not a candidate for this query (candidates: {})", q.query_id, candidate_ids(q))))?;
                out.push((q.query_id.clone(), cand.credential_id.clone()));
            }
        } else if ask && q.candidates.len() > 1 {
            let id = pick(q)?;
            out.push((q.query_id.clone(), id));
        } else if let Some((_, id)) = default.0.iter().find(|(id, _)| id == &q.query_id) {
            out.push((q.query_id.clone(), id.clone()));
        }
    }
    Ok(ConsentChoice(out))
}

fn candidate_ids(q: &wallet_core::oid4vp::consent::QueryConsent) -> String {
    q.candidates.iter().map(|c| c.credential_id.as_str()).collect::<Vec<_>>().join(", ")
}

/// Asks on the terminal which candidate answers query `q` (Enter: the first).
fn pick(q: &wallet_core::oid4vp::consent::QueryConsent) -> Result<CredentialId, CliError> {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "Several credentials can answer query `{}`:", q.query_id);
    for (i, c) in q.candidates.iter().enumerate() {
        let _ = writeln!(err, "  {}) {} ({} from {})", i + 1, c.credential_id, c.vct, c.issuer);
    }
    loop {
        let _ = write!(err, "Which one? [1-{}, Enter: 1] ", q.candidates.len());
        let _ = err.flush();
        let mut line = String::new();
        let n = std::io::stdin().lock().read_line(&mut line).map_err(|source| CliError::Io { path: "<stdin>".into(), source })?;
        if n == 0 {
            return Err(usage(format!("no choice for query `{}` on stdin (use --choose {}=CREDENTIAL_ID)", q.query_id, q.query_id)));
        }
        let answer = line.trim();
        let index = if answer.is_empty() { Some(0) } else { answer.parse::<usize>().ok().and_then(|i| i.checked_sub(1)) };
        if let Some(c) = index.and_then(|i| q.candidates.get(i)) {
            return Ok(c.credential_id.clone());
        }
        let _ = writeln!(err, "`{answer}` is not one of the numbers shown.");
    }
}

/// What the relying party answered a presentation (or a decline).
pub(crate) enum RpAnswer {
    /// Accepted; same-device: where the browser is sent (with the `response_code`).
    Accepted { redirect: Option<String> },
    /// The relying party's error (`error`, `error_description`): e.g. a refused credential.
    Refused { error: String, description: Option<String> },
}

/// A presentation made: to whom, what was disclosed (`query:path`), what the RP answered.
pub(crate) struct Presented {
    /// The relying party's entity id.
    pub(crate) entity: String,
    /// Whether the claims were shared (else declined).
    pub(crate) shared: bool,
    /// The claims disclosed, as `query:path`.
    pub(crate) disclosed: Vec<String>,
    pub(crate) answer: RpAnswer,
    /// The consent shown, as JSON (for `--json`).
    doc: serde_json::Map<String, Value>,
    log_seq: Option<i64>,
}

impl PresentArgs {
    /// Consent given (`--yes`): each query answered by its first candidate.
    pub(crate) fn consenting(data_dir: PathBuf, ta: String, url: String) -> Self {
        Self {
            store: StoreArgs { data_dir, json: false },
            trust: TrustArgs { ta, ta_jwks: None },
            url,
            yes: true,
            decline: false,
            choose: Vec::new(),
            profile: Profile::ItWallet14,
        }
    }
}

/// `tessera wallet present URL`.
pub(crate) fn present(a: &PresentArgs) -> Result<(), CliError> {
    let p = answer(a, &|text| crate::print_out(text))?;
    let Presented { entity, shared, disclosed, answer, mut doc, log_seq } = p;
    let redirect = match answer {
        RpAnswer::Accepted { redirect } => redirect,
        RpAnswer::Refused { error, description } => {
            let msg = format!("the relying party answered {error}: {}", description.as_deref().unwrap_or(""));
            if a.store.json {
                doc.insert("outcome".into(), json!("error"));
                doc.insert("error".into(), json!(error));
                doc.insert("error_description".into(), json!(description));
                print_json(&Value::Object(doc));
            }
            return Err(usage(msg));
        }
    };
    if a.store.json {
        doc.insert("outcome".into(), json!(if shared { "presented" } else { "declined" }));
        doc.insert("disclosed".into(), json!(disclosed));
        doc.insert("redirect_uri".into(), json!(redirect));
        doc.insert("log_seq".into(), json!(log_seq));
        print_json(&Value::Object(doc));
    } else {
        let mut out = if shared { format!("Presented {} to {entity}.", disclosed.join(", ")) } else { format!("Declined: {entity} was told access_denied.") };
        if let Some(r) = redirect {
            out.push_str(&format!("\nContinue in the browser: {r}"));
        }
        crate::print_out(&out);
    }
    Ok(())
}

/// Answers the request at `a.url`: the relying party's trust, the consent (`show`n as text
/// unless `--json`), the response sent and logged, the relying party's answer. An RP outside
/// the federation, or a request that cannot be answered, is an error (no credential is sent;
/// a request object refused is reported to its registered `response_uri`, WP_090).
pub(crate) fn answer(a: &PresentArgs, show: &dyn Fn(&str)) -> Result<Presented, CliError> {
    // A malformed URL is refused before anything is fetched.
    PresentationFlow::start(&a.url, a.profile).map_err(usage)?;
    let anchor = anchor_config(&a.trust.ta, a.trust.ta_jwks.as_deref())?;
    let browser: Arc<dyn HttpClient> = Arc::new(Browser::new()?);
    // The federation CA roots the anchor serves (`<anchor>/ca`, certifying one of its keys):
    // a request object's `x5c` must chain to them without carrying the root (IT-Wallet 1.4
    // §5.1), and they are all an `x509_hash` relying party is trusted by.
    let roots = wallet_core::wallet::certificate::anchor_roots(browser.as_ref(), std::slice::from_ref(&anchor));
    let store = Arc::new(open_store(&a.store)?);
    // wallet-core's driver: the RP's chain collected to the anchor, the request object fetched
    // and verified, its trust marks checked against the anchor's `trust_mark_issuers` (WP_087),
    // refusals logged with why (WP_089a) and reported to a registered `response_uri` (WP_090).
    let mut flow = WalletPresentation::new(browser, store.clone(), vec![anchor.clone()])
        .with_profile(a.profile)
        .with_fetcher(Arc::new(crate::wallet_cmd::fetcher()?))
        .with_log_failures(Arc::new(|f| eprintln!("tessera: {f}")));
    if let Some(roots) = roots {
        flow = flow.with_x509_anchors(roots);
    }
    let session = flow.start(&a.url).map_err(|e| refused(e, &anchor.id))?;
    let consent = &session.consent;
    let (text, doc) = describe(consent);
    if !a.store.json {
        show(&text);
    }
    let (share, choice) = if a.decline {
        (false, ConsentChoice::default())
    } else if !consent.satisfiable {
        return Err(usage("cannot answer: the stored credentials do not satisfy the request (see `missing`); nothing was sent (`--decline` to tell the relying party)"));
    } else {
        let choice = choose(consent, &a.choose, !a.yes)?;
        let share = a.yes || ask("Share these claims?")?;
        (share, choice)
    };
    // The log entry is written before the response is sent (a crash after sending still
    // leaves a record); what the relying party answered is added to it.
    let sent = if share {
        // Each credential's key is the one its stored metadata names ([`HOLDER_KEY_TAG`]: the
        // attested key it was issued to, or the holder key of an import); a credential stored
        // before the tag was recorded is the holder key's.
        let holder = StoredHolderKeys::for_choice_or(&store, open_keys(&a.store)?, &choice, &holder_tag()?).map_err(usage)?;
        flow.present(&session, &choice, &holder)
    } else {
        flow.decline(&session)
    };
    let entity = session.relying_party().to_owned();
    let (answer, disclosed, log_seq) = match sent {
        Ok(o) => {
            let disclosed = o.disclosed.iter().flat_map(|(q, ps)| ps.iter().map(move |p| format!("{q}:{p}"))).collect();
            (RpAnswer::Accepted { redirect: o.redirect_uri }, disclosed, o.log_seq)
        }
        Err(PresentationError::Refused { error, description, .. }) => (RpAnswer::Refused { error, description }, Vec::new(), None),
        Err(e) => return Err(refused(e, &anchor.id)),
    };
    Ok(Presented { entity, shared: share, disclosed, answer, doc, log_seq })
}

/// A presentation that failed, as the terminal tells it (`anchor`: the trust anchor).
fn refused(e: PresentationError, anchor: &EntityId) -> CliError {
    match e {
        PresentationError::UntrustedRelyingParty { client_id, reason, cause } => match *cause {
            Distrust::RequestObject { source, told } => request_refused(&source, told),
            Distrust::Chain { entity, collected, .. } => usage(format!("refused: relying party {entity} is not trusted by {anchor}: {collected} (nothing was sent)")),
            Distrust::NoX509Anchors => usage(format!(
                "refused: client_id `{client_id}` is trusted by certificate, and trust anchor {anchor} serves no CA root (`/ca`) to check it with (nothing was sent)"
            )),
            Distrust::RelyingParty { entity } => {
                usage(format!("refused: relying party {} is not authorised: {reason} (nothing was sent)", entity.map_or(client_id, |e| e.to_string())))
            }
            _ => usage(format!("refused: relying party {client_id} is not trusted: {reason} (nothing was sent)")),
        },
        PresentationError::Consent { step: PresentationStep::RequestObject, source, told } => request_refused(&source, told),
        PresentationError::Consent { source, .. } => usage(source),
        PresentationError::Http { step: PresentationStep::RequestObject, source, url } => usage(format!("request object {url}: {source}")),
        PresentationError::Http { source, url, .. } => usage(format!("{url}: {source}")),
        PresentationError::BadAnswer { status, detail, response_uri, excerpt, .. } => usage(format!("{response_uri}: HTTP {status}: {detail}: {excerpt}")),
        other => usage(other),
    }
}

/// A request object refused (`told`: the relying party was told why, WP_090).
fn request_refused(e: &ConsentError, told: bool) -> CliError {
    // WP_089: what the relying party said, and what to do about it (WP_089b).
    if matches!(e, ConsentError::RequestUriRefused { .. } | ConsentError::RequestObjectFetch(_)) {
        let next = if e.is_recoverable() { "try again; if it fails again, ask for a new QR code" } else { "ask for a new QR code" };
        return usage(format!("{e}: {next} (nothing was sent)"));
    }
    usage(format!("refused: {e} ({})", if told { "the relying party was told why; no credential was sent" } else { "nothing was sent" }))
}

/// A trust mark's check, as the terminal shows it (a relying party's, a credential issuer's).
pub(crate) fn mark_check_text(check: &TrustMarkCheck) -> String {
    match check {
        TrustMarkCheck::Valid { issuer, exp } => format!("valid, issued by {issuer}{}", exp.map_or_else(String::new, |e| format!(", until {}", utc(e)))),
        TrustMarkCheck::Invalid(why) => format!("INVALID: {why}"),
        TrustMarkCheck::NotChecked => "not checked (no keys for its issuer)".to_owned(),
    }
}
