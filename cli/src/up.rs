//! `tessera up`: the whole federation on loopback, with SQLite under one data directory and the
//! test identities, so that the citizen's story can be run by hand or by `tessera demo`.
//!
//! | port | entity | superior |
//! |---|---|---|
//! | base | trust anchor (also the X.509 root CA, trust mark issuer) | — |
//! | base+1 | intermediate | trust anchor |
//! | base+2 | credential issuer: Motorizzazione Civile (driving licence, `mdl`) | intermediate |
//! | base+3 | test SPID/CIE OpenID Provider (login page with the test identities) | trust anchor |
//! | base+4 | wallet provider (also a SPID/CIE relying party) | trust anchor |
//! | base+5 | verifier (OpenID4VP relying party, integrator API, in-person page `/check`) | trust anchor |
//! | base+6 | credential issuer: PID provider (`pid`) | trust anchor |
//! | base+7 | credential issuer: health-card registry (`health-card`) | intermediate |
//!
//! The three issuers are the `issuer` service, each with its sample registry (loaded on first
//! start; `issuer::samples`) and its admin API (offers, status changes: `tessera issuer ...`);
//! each trusts the trust anchor, so the wallet provider's WUAs (their `trust_chain`) are
//! accepted in key proofs.
//!
//! The trust anchor issues the wallet provider its trust marks (`openid_relying_party/public`,
//! which the OpenID Provider requires of relying parties, SPID/CIE OIDC §B.1; and
//! `federation-entity/wallet-provider`), and the intermediate its own
//! (`federation-entity/intermediate`); each holder verifies its marks through the federation
//! and publishes them in its configuration (ALL-003). The issuers get
//! `openid_credential_issuer/public` (the PID provider from the anchor, the two registries
//! from the intermediate), which the verifier requires of the issuers whose credentials it
//! accepts (IT-Wallet 1.4 §8). The verifier gets
//! `federation-entity/relying-party` (IT-Wallet 1.4 §1.1, trust mark types); its same-device
//! flow returns the browser to its own home page (`redirect_uris` = `<verifier>/`, where a
//! real integrator puts its page), and its in-person page has one test operator, `operatore`,
//! whose password is made on first start, kept in `verifier/operator-password` and printed.
//! Every service has its own admin token
//! under its own directory, and is served with client addresses for its rate limits.
//! Restarting on the same data directory keeps every key and registry.
//!
//! With `--database-url postgres://...` every service that has a store for it (the trust
//! anchor, the intermediate, the wallet provider, the verifier and the three issuers) keeps
//! its state in PostgreSQL instead of SQLite, each in a schema of its own of that database
//! (`<prefix><service>`, created when missing: the federation tables of the services share
//! names); keys, admin tokens, the issuers' registries and the OpenID Provider stay under
//! `--data-dir`. A data directory goes with its schemas: start afresh with both.

mod pg;
mod replica;

use std::path::PathBuf;

use issuer::presets::Preset;
use serde_json::{Value, json};
use trust_anchor::{AppState, Config, router};
use wallet_core::federation::{EntityId, TrustAnchorConfig};

use crate::CliError;
use crate::federation_cmd::{admin_token, runtime, usage};

/// The redirect URI of the command-line wallet (and of the app), allowed at the provider.
pub(crate) const WALLET_REDIRECT_URI: &str = "it.tessera.wallet://activate";

/// The trust mark the test OpenID Provider requires of relying parties, and the wallet
/// provider's own (named as IT-Wallet does: `<anchor>/trust_marks/<name>`).
const TRUST_MARKS: [&str; 2] = ["openid_relying_party/public", "federation-entity/wallet-provider"];

/// The trust mark the anchor issues to its intermediate, which publishes it (ALL-003).
const INTERMEDIATE_MARK: &str = "federation-entity/intermediate";

/// The verifier's trust mark (IT-Wallet 1.4 §1.1: `<purpose>/<entity_type>`).
const VERIFIER_MARK: &str = "federation-entity/relying-party";
/// The credential issuers' mark (IT-Wallet 1.4 §1.1: an issuer's configuration carries one
/// or more trust marks; CI_005): the anchor issues it to the PID provider, the intermediate
/// to the registries under it.
const ISSUER_MARK: &str = "openid_credential_issuer/public";

/// The credential issuers' mark type issued by `authority` (the anchor or the intermediate).
pub(crate) fn issuer_mark_type(authority: &str) -> String {
    format!("{}/trust_marks/{ISSUER_MARK}", authority.trim_end_matches('/'))
}

/// The in-person page's test operator.
pub(crate) const OPERATOR: &str = "operatore";
/// Where the operator's password is kept, under the verifier's directory.
pub(crate) const OPERATOR_PASSWORD_FILE: &str = "operator-password";

#[derive(clap::Args)]
pub(crate) struct UpArgs {
    /// Where keys, registries and the admin token are kept.
    #[arg(long, default_value = "tessera-data")]
    data_dir: PathBuf,
    /// First port: the trust anchor; the intermediate, the driving-licence issuer, the OpenID
    /// Provider, the wallet provider, the verifier, the PID provider and the health-card
    /// issuer take the next seven.
    #[arg(long, default_value_t = 7600)]
    port: u16,
    /// PostgreSQL for the services' stores (`postgres://user:password@host:port/db`), each in
    /// a schema of its own (created when missing); else SQLite under --data-dir.
    #[arg(long)]
    database_url: Option<String>,
    /// The prefix of the services' schema names with --database-url (letters, digits, `_`).
    #[arg(long, default_value = "tessera_")]
    schema_prefix: String,
    /// With --database-url: run the issuers, the verifier and the wallet provider as this many
    /// replica processes each, behind HAProxy at the service's port (scripts/haproxy.sh); the
    /// replicas take the ports from base+8, two by two.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=2))]
    replicas: u16,
    /// Internal: serve one replica (`<service index>:<replica>`), started by `tessera up
    /// --replicas`; it ends when its standard input closes (its parent is gone).
    #[arg(long, hide = true)]
    serve_replica: Option<String>,
}

fn entity(port: u16) -> Result<EntityId, CliError> {
    EntityId::new(format!("http://127.0.0.1:{port}")).map_err(usage)
}

pub(crate) async fn bind(port: u16) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| usage(format!("port {port}: {e}")))
}

/// Serves `app` with the peer addresses that the services' per-client rate limits count by.
fn spawn(port: u16, app: axum::Router, listener: tokio::net::TcpListener) {
    tokio::spawn(async move {
        if let Err(e) = service_kit::serve::serve(listener, app, std::future::pending()).await {
            eprintln!("tessera up: server on port {port} stopped: {e}");
        }
    });
}

/// POSTs `body` with the admin token; the response's JSON (or null).
async fn admin_post(http: &reqwest::Client, token: &str, url: String, body: Value) -> Result<Value, CliError> {
    let r = http.post(&url).bearer_auth(token).json(&body).send().await.map_err(|e| usage(format!("{url}: {e}")))?;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(usage(format!("{url}: {status}: {text}")));
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// What every service's configuration is made from: the federation's entities (each at
/// `http://127.0.0.1:<base + index>`) and the anchor's keys.
pub(crate) struct Fed {
    pub(crate) ta: EntityId,
    pub(crate) int: EntityId,
    pub(crate) op: EntityId,
    pub(crate) anchor: TrustAnchorConfig,
    pub(crate) base: u16,
    /// The anchor's X.509 root as PEM (`ca-root.der` in its directory): the verifier and the
    /// issuers asking for the PID verify credentials' `x5c` to it and check their CRLs.
    pub(crate) x509_roots_pem: String,
}

impl Fed {
    /// The entity at `base + index` (a balancer's address, with replicas).
    pub(crate) fn id(&self, index: u16) -> Result<EntityId, CliError> {
        entity(self.base.checked_add(index).ok_or_else(|| usage("--port too high"))?)
    }
}

/// The port offset and the directory (`DIRS` entry) of the issuer serving `preset`.
pub(crate) fn issuer_at(preset: Preset) -> (u16, &'static str) {
    match preset {
        Preset::Mdl => (2, DIRS[2]),
        Preset::Pid => (6, DIRS[6]),
        Preset::HealthCard => (7, DIRS[7]),
    }
}

/// The schema name (after the prefix) of the issuer serving `preset`.
fn issuer_schema(preset: Preset) -> String {
    issuer_at(preset).1.replace('-', "_")
}

/// The configuration of the issuer serving `preset`, its data under `data_dir`.
pub(crate) fn issuer_config(data_dir: &std::path::Path, fed: &Fed, preset: Preset, token: String, database_url: Option<String>) -> Result<issuer::Config, CliError> {
    let (index, dir) = issuer_at(preset);
    let (name, superior) = match preset {
        Preset::Mdl => ("Motorizzazione Civile (test issuer)", &fed.int),
        Preset::Pid => ("PID Provider (test issuer)", &fed.ta),
        Preset::HealthCard => ("Registro Tessere Sanitarie (test issuer)", &fed.int),
    };
    // Each trusts the anchor: the wallet provider's WUAs carry their chain to it.
    let mut c = issuer::Config::new(fed.id(index)?, data_dir.join(dir), &[preset]);
    c.admin_token = token;
    c.organization_name = name.into();
    c.trust_anchors = vec![fed.anchor.clone()];
    // WAAs and WUAs only from a wallet provider holding the anchor's wallet-provider mark
    // (IT-Wallet 1.4 §1.3): `up` issues it to ours below.
    c.wallet_provider_trust_marks = vec![format!("{}/trust_marks/{}", fed.ta, TRUST_MARKS[1])];
    c.authority_hints = vec![superior.clone()];
    c.x509_roots_pem = fed.x509_roots_pem.clone();
    c.database_url = database_url;
    // How each identifies the citizen at /authorize (IT-Wallet 1.4 §3.3): the PID provider
    // with CIE level 3 at the test OpenID Provider, the other two by asking the wallet for
    // the PID over OpenID4VP, from a PID provider holding the anchor's issuer mark.
    c.authentication = match preset {
        Preset::Pid => issuer::config::Authentication::SpidCie(issuer::config::SpidCieAuthentication { providers: vec![fed.op.clone()], acr: spid_cie_oidc::Acr::SpidL3 }),
        Preset::Mdl | Preset::HealthCard => issuer::config::Authentication::Pid(issuer::config::PidAuthentication {
            trust_marks: vec![issuer_mark_type(fed.ta.as_str())],
            ..issuer::config::PidAuthentication::default()
        }),
    };
    Ok(c)
}

/// The wallet provider's configuration: a SPID/CIE relying party of the test provider.
pub(crate) fn wp_config(data_dir: &std::path::Path, fed: &Fed, token: String, database_url: Option<String>) -> Result<wallet_provider::Config, CliError> {
    let mut wp = wallet_provider::Config::new(fed.id(4)?, fed.ta.clone(), data_dir.join(DIRS[4]));
    wp.admin_token = token;
    wp.trust_anchor_jwks = Some(fed.anchor.jwks.clone());
    wp.allowed_redirect_uris = vec![WALLET_REDIRECT_URI.into()];
    wp.op_entity_id = Some(fed.op.clone());
    wp.database_url = database_url;
    // On loopback every wallet, test and demo is one client address: the per-client limits
    // are raised so that a developer's burst of logins is not taken for a flood.
    let rl = &mut wp.rate_limits;
    for (limit, per_minute, burst) in [(&mut rl.login, 600, 120), (&mut rl.session, 600, 120), (&mut rl.nonce, 1200, 240), (&mut rl.registration, 600, 120), (&mut rl.attestation, 600, 120)] {
        *limit = service_kit::RateLimit::new(per_minute, burst);
    }
    Ok(wp)
}

/// The verifier's configuration: a relying party under the anchor, with its in-person page's
/// operator (`password`).
pub(crate) fn verifier_config(data_dir: &std::path::Path, fed: &Fed, token: String, database_url: Option<String>, password: &str) -> Result<verifier::Config, CliError> {
    let v_id = fed.id(5)?;
    let mut vc = verifier::Config::new(v_id.clone(), data_dir.join(DIRS[5]));
    vc.admin_token = token;
    vc.trust_anchors = vec![fed.anchor.clone()];
    vc.authority_hints = vec![fed.ta.clone()];
    vc.x509_roots_pem = fed.x509_roots_pem.clone();
    vc.organization_name = "Comune di Esempio (test verifier)".into();
    vc.redirect_uris = vec![format!("{v_id}/")];
    // Credential issuers must hold the issuers' mark (IT-Wallet 1.4 §1.3, §8), the anchor's
    // (the PID provider) or the intermediate's (the registries under it).
    vc.credential_issuer_trust_marks = [fed.ta.to_string(), fed.id(1)?.to_string()].iter().map(|a| issuer_mark_type(a)).collect();
    vc.database_url = database_url;
    let hash = verifier::web::hash_password(password).map_err(usage)?;
    // A test federation: the in-person page says so on every page.
    vc.web.test_federation = true;
    vc.web.operators = vec![verifier::web::Operator { username: OPERATOR.into(), display_name: "Operatore di prova".into(), password_hash: hash }];
    Ok(vc)
}

/// The data directory of each service, under `--data-dir`.
pub(crate) const DIRS: [&str; 8] = ["trust-anchor", "intermediate", "motorizzazione", "openid-provider", "wallet-provider", "verifier", "pid-provider", "health-cards"];

/// A credential issuer of the federation (`c`, serving `preset`) on `port`: its sample
/// registry loaded on first start (a restart keeps the registry's changes).
pub(crate) async fn start_issuer(mut c: issuer::Config, port: u16, preset: Preset) -> Result<(), CliError> {
    // A test federation: a revocation or suspension reaches verifiers within 30 s (the
    // shortest time a consumer may cache the status list), not an hour.
    c.status_list_ttl = 30;
    // Access tokens of a minute: a refresh token is usable from the access token's expiry
    // (IT-Wallet 1.4 §3.3), less the issuer's clock skew, so a re-issuance after an update
    // (`tessera issuer update`, then `tessera wallet refresh`) can be tried at once here.
    c.access_token_ttl = 60;
    if !c.registry.exists() {
        issuer::samples::load(&c.registry, preset).map_err(|e| usage(format!("{}: {e}", c.registry.display())))?;
    }
    let id = c.entity_id.clone();
    let state = issuer::Issuer::open(c).map_err(|e| usage(format!("issuer {id}: {e}")))?;
    let listener = bind(port).await?;
    tokio::spawn(async move {
        if let Err(e) = issuer::serve_listener(state, listener, std::future::pending()).await {
            eprintln!("tessera up: the issuer on port {port} stopped: {e}");
        }
    });
    Ok(())
}

/// The test operator's password: made on first start (16 random bytes, base64url), then kept.
/// The registries' sample citizens as test identities of the OpenID Provider
/// (`issuer::samples::CITIZENS`, the same names and dates as the residents table).
fn sample_identities() -> Vec<spid_cie_oidc::op::identities::TestIdentity> {
    let [mario, luigia, giuseppe] = issuer::samples::CITIZENS;
    [(mario, "Mario", "Rossi", "1980-01-10", "RM", "H501"), (luigia, "Luigia", "Verdi", "1985-08-01", "MI", "F205"), (giuseppe, "Giuseppe", "Bianchi", "1990-03-15", "TO", "L219")]
        .into_iter()
        .map(|(cf, given, family, birthdate, region, locality)| spid_cie_oidc::op::identities::TestIdentity {
            fiscal_number: format!("TINIT-{cf}"),
            given_name: given.into(),
            family_name: family.into(),
            birthdate: birthdate.into(),
            place_of_birth: spid_cie_oidc::PlaceOfBirth { region: Some(region.into()), locality: Some(locality.into()) },
            email: format!("{}.{}@example.it", given.to_lowercase(), family.to_lowercase()),
            gender: None,
        })
        .collect()
}

/// The test operator's password, created once (replicas of the verifier started by `up` read
/// the one the first wrote).
pub(crate) fn operator_password(dir: &std::path::Path) -> Result<String, CliError> {
    let path = dir.join(OPERATOR_PASSWORD_FILE);
    std::fs::create_dir_all(dir).map_err(|source| CliError::Io { path: dir.display().to_string(), source })?;
    let parse = |b: &[u8]| std::str::from_utf8(b).ok().map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).ok_or_else(|| "empty or not UTF-8: delete it to have a new password made".to_owned());
    let create = || {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
        Ok(wallet_core::jose::b64::encode(b).into_bytes())
    };
    let password = wallet_core::store::load_or_create_private(&path, parse, create).map_err(|e| usage(e.to_string()))?;
    service_kit::files::keep_secret(&path);
    Ok(password)
}

pub(crate) fn run(a: &UpArgs) -> Result<(), CliError> {
    if let Some(which) = &a.serve_replica {
        return replica::serve(a, which);
    }
    if a.replicas > 1 && a.database_url.is_none() {
        return Err(usage("--replicas needs --database-url: the replicas of a service share its PostgreSQL schema"));
    }
    let db = match &a.database_url {
        Some(url) => Some(pg::Schemas::create(url, &a.schema_prefix).map_err(usage)?),
        None => None,
    };
    let db = db.as_ref();
    let db_url = move |service: &str| db.map(|d| d.url(service));
    // Each service has its own admin token, under its own directory: one leaked token gives
    // no power over the other services.
    let tokens = DIRS.map(|d| admin_token(&a.data_dir.join(d)));
    let [ta_token, int_token, mdl_token, op_token, wp_token, v_token, pid_token, hc_token] = tokens;
    let (ta_token, int_token, mdl_token, op_token, wp_token, v_token) = (ta_token?, int_token?, mdl_token?, op_token?, wp_token?, v_token?);
    let (pid_token, hc_token) = (pid_token?, hc_token?);
    let port = |i: u16| a.port.checked_add(i).ok_or_else(|| usage("--port too high: eight consecutive ports are needed"));
    runtime()?.block_on(async move {
        let (ta_id, int_id, leaf_id, op_id, wp_id) = (entity(port(0)?)?, entity(port(1)?)?, entity(port(2)?)?, entity(port(3)?)?, entity(port(4)?)?);
        let (v_id, pid_id, hc_id) = (entity(port(5)?)?, entity(port(6)?)?, entity(port(7)?)?);

        // The trust anchor: its keys exist before it starts, so every entity can pin them.
        let ta_dir = a.data_dir.join(DIRS[0]);
        let listing: serde_json::Map<String, Value> =
            (0..8u16).zip(DIRS).map(|(i, d)| Ok((format!("http://127.0.0.1:{}", port(i)?), Value::from(d)))).collect::<Result<_, CliError>>()?;
        let listing_path = a.data_dir.join(crate::federation_cmd::SERVICES_FILE);
        std::fs::write(&listing_path, Value::Object(listing).to_string()).map_err(|e| usage(format!("{}: {e}", listing_path.display())))?;
        std::fs::create_dir_all(&ta_dir).map_err(|e| usage(format!("{}: {e}", ta_dir.display())))?;
        let jwks = trust_anchor::keys::KeyRing::load_or_create(&ta_dir).map_err(usage)?.published();
        let anchor = TrustAnchorConfig { id: ta_id.clone(), jwks };
        let mut fed = Fed { ta: ta_id.clone(), int: int_id.clone(), op: op_id.clone(), anchor: anchor.clone(), base: a.port, x509_roots_pem: String::new() };
        let mut replicas: Option<replica::Replicas> = None;
        let mut ta = Config::trust_anchor(ta_id.clone(), ta_dir, ta_token.clone());
        for t in TRUST_MARKS.into_iter().chain([INTERMEDIATE_MARK, VERIFIER_MARK, ISSUER_MARK]) {
            ta.trust_mark_issuers.insert(format!("{ta_id}/trust_marks/{t}"), vec![ta_id.to_string()]);
        }
        ta.trust_mark_issuers.insert(format!("{int_id}/trust_marks/{ISSUER_MARK}"), vec![int_id.to_string()]);
        ta.trust_anchors = vec![anchor.clone()];
        ta.database_url = db_url("trust_anchor");
        let ta_state = AppState::open(ta).map_err(usage)?;
        fed.x509_roots_pem = ta_state.root_ca().map(wallet_core::x509::certificate_pem).unwrap_or_default();

        let mut int = Config::trust_anchor(int_id.clone(), a.data_dir.join(DIRS[1]), int_token.clone());
        int.organization_name = "Tessera Intermediate".into();
        int.authority_hints = vec![ta_id.clone()];
        int.trust_anchors = vec![anchor.clone()];
        int.database_url = db_url("intermediate");
        spawn(port(0)?, router(ta_state), bind(port(0)?).await?);
        spawn(port(1)?, router(AppState::open(int).map_err(usage)?), bind(port(1)?).await?);

        // The credential issuers, each with its sample registry and its own admin token.
        // The PID provider is directly under the anchor, the other two under the intermediate.
        if a.replicas < 2 {
            for (i, preset, token) in [(2u16, Preset::Mdl, &mdl_token), (6, Preset::Pid, &pid_token), (7, Preset::HealthCard, &hc_token)] {
                let c = issuer_config(&a.data_dir, &fed, preset, token.clone(), db_url(&issuer_schema(preset)))?;
                start_issuer(c, port(i)?, preset).await?;
            }
        }

        // The test SPID/CIE OpenID Provider, directly under the anchor (SPID/CIE OIDC §B.1).
        let mut op = spid_cie_oidc::op::OpConfig::new(op_id.clone(), a.data_dir.join(DIRS[3]), vec![anchor.clone()], vec![ta_id.clone()]);
        op.admin_token = op_token.clone();
        op.required_trust_marks = vec![format!("{ta_id}/trust_marks/{}", TRUST_MARKS[0])];
        // The registries' sample citizens first (the login page preselects the first), so that
        // the citizen who activates the wallet is the one the PID provider knows.
        let mut people = sample_identities();
        people.append(&mut op.identities);
        op.identities = people;
        let op_state = spid_cie_oidc::op::OpState::open(op).map_err(|e| usage(format!("OpenID Provider: {e}")))?;
        let identities = op_state.config().identities.clone();
        spawn(port(3)?, spid_cie_oidc::op::router(op_state), bind(port(3)?).await?);

        // The wallet provider: a SPID/CIE relying party of that provider.
        if a.replicas < 2 {
            let wp = wp_config(&a.data_dir, &fed, wp_token.clone(), db_url("wallet_provider"))?;
            let wp_state = wallet_provider::WalletProvider::open(wp).map_err(|e| usage(format!("wallet provider: {e}")))?;
            spawn(port(4)?, wallet_provider::router(wp_state), bind(port(4)?).await?);
        }

        // The verifier: a relying party under the anchor, with its in-person page's operator.
        let password = operator_password(&a.data_dir.join(DIRS[5]))?;
        if a.replicas < 2 {
            let vc = verifier_config(&a.data_dir, &fed, v_token.clone(), db_url("verifier"), &password)?;
            let v_state = verifier::Verifier::open(vc).map_err(|e| usage(format!("verifier: {e}")))?;
            let v_listener = bind(port(5)?).await?;
            tokio::spawn(async move {
                if let Err(e) = verifier::serve_listener(v_state, v_listener, std::future::pending()).await {
                    eprintln!("tessera up: the verifier stopped: {e}");
                }
            });
        } else {
            // The replicas, then the balancers at the services' ports.
            for preset in [Preset::Mdl, Preset::Pid, Preset::HealthCard] {
                let dir = a.data_dir.join(issuer_at(preset).1);
                let registry = dir.join("authentic-source.sqlite");
                if !registry.exists() {
                    issuer::samples::load(&registry, preset).map_err(|e| usage(format!("{}: {e}", registry.display())))?;
                }
            }
            replicas = Some(replica::start(a).await?);
        }

        // Onboarding: each authority fetches its subordinate's configuration and pins its keys.
        let http = reqwest::Client::new();
        // `organization_type` (and `logo_uri`, taken from each configuration) go into the
        // trust marks issued to them (IT-Wallet 1.4 §1.1, trust mark table).
        for (authority, token, sub, types, policy, org) in [
            (&ta_id, &ta_token, &int_id, json!(["federation_entity"]), json!({"openid_credential_issuer": {"display": {"essential": true}}}), "public"),
            (&int_id, &int_token, &leaf_id, json!(["openid_credential_issuer"]), Value::Null, "public"),
            (&ta_id, &ta_token, &pid_id, json!(["openid_credential_issuer"]), Value::Null, "public"),
            (&int_id, &int_token, &hc_id, json!(["openid_credential_issuer"]), Value::Null, "public"),
            (&ta_id, &ta_token, &op_id, json!(["openid_provider"]), Value::Null, "public"),
            (&ta_id, &ta_token, &wp_id, json!(["wallet_solution", "openid_relying_party"]), Value::Null, "private"),
            (&ta_id, &ta_token, &v_id, json!(["openid_credential_verifier"]), Value::Null, "public"),
        ] {
            let body = json!({"entity_id": sub, "entity_types": types, "metadata_policy": policy, "trust_mark_claims": {"organization_type": org}});
            admin_post(&http, token, format!("{authority}/admin/subordinates"), body).await?;
        }
        // Each mark is published by its holder, which checks it through the federation first.
        // The PID provider is a SPID/CIE relying party: the OP requires the RP mark. (The two
        // registries that ask for the PID are under the intermediate, which issues no marks:
        // the wallet trusts them through their chain.)
        let others = [(INTERMEDIATE_MARK, &int_id, &int_token), (VERIFIER_MARK, &v_id, &v_token), (TRUST_MARKS[0], &pid_id, &pid_token), (ISSUER_MARK, &pid_id, &pid_token)];
        for (t, sub, sub_token) in TRUST_MARKS.map(|t| (t, &wp_id, &wp_token)).into_iter().chain(others) {
            let issued = admin_post(&http, &ta_token, format!("{ta_id}/admin/trust-marks"), json!({"sub": sub, "trust_mark_type": t})).await?;
            admin_post(&http, sub_token, format!("{sub}/admin/own-trust-marks"), json!({"trust_mark": issued.get("trust_mark")})).await?;
        }
        for (sub, sub_token) in [(&leaf_id, &mdl_token), (&hc_id, &hc_token)] {
            let issued = admin_post(&http, &int_token, format!("{int_id}/admin/trust-marks"), json!({"sub": sub, "trust_mark_type": ISSUER_MARK})).await?;
            admin_post(&http, sub_token, format!("{sub}/admin/own-trust-marks"), json!({"trust_mark": issued.get("trust_mark")})).await?;
        }

        println!("Tessera is up (data in {}):", a.data_dir.display());
        println!("  trust anchor      {ta_id}/.well-known/openid-federation");
        println!("  intermediate      {int_id}/.well-known/openid-federation");
        println!("  driving licences  {leaf_id}/.well-known/openid-credential-issuer (Motorizzazione Civile, under the intermediate)");
        println!("  OpenID Provider   {op_id}/.well-known/openid-federation (SPID/CIE test provider)");
        println!("  wallet provider   {wp_id}/.well-known/openid-federation");
        println!("  verifier          {v_id}/.well-known/openid-federation (integrator API: POST {v_id}/sessions)");
        println!("  in-person page    {v_id}{} (operator `{OPERATOR}`, password `{password}`)", verifier::web::BASE_PATH);
        println!("  PID provider      {pid_id}/.well-known/openid-credential-issuer (under the trust anchor)");
        println!("  health cards      {hc_id}/.well-known/openid-credential-issuer (under the intermediate)");
        if let Some(d) = db {
            println!("  stores            PostgreSQL {} (schemas {})", d.redacted(), pg::SERVICES.map(|s| format!("{}{s}", a.schema_prefix)).join(", "));
        }
        println!("Operator logins (each service's own admin token, for `tessera federation ... --data-dir {}`):", a.data_dir.display());
        for d in DIRS {
            println!("  {d:<17} {}", a.data_dir.join(d).join("admin-token").display());
        }
        println!(
            "Sample citizens in the issuers' registries: {} ({}'s driving licence is not ready: its issuance is deferred until `ready` is set to 1 in {})",
            issuer::samples::CITIZENS.join(", "),
            issuer::samples::CITIZENS[1],
            a.data_dir.join(DIRS[2]).join("authentic-source.sqlite").display()
        );
        println!("Test identities at the OpenID Provider's login page:");
        for i in &identities {
            println!("  {:<26} {} {}", i.fiscal_number, i.given_name, i.family_name);
        }
        println!("Try:");
        println!("  tessera federation resolve {leaf_id} --ta {ta_id}");
        println!("  tessera wallet activate --provider {wp_id} --ta {ta_id}");
        println!("  tessera demo --port {} --data-dir {}", a.port, a.data_dir.display());
        println!(
            "  curl -s -H \"Authorization: Bearer $(cat {})\" -H 'Content-Type: application/json' -d '{{\"preset\":\"pid\",\"flow\":\"cross_device\"}}' {v_id}/sessions",
            a.data_dir.join(DIRS[5]).join("admin-token").display()
        );
        println!("  tessera wallet present '<wallet_url>' --ta {ta_id}");
        println!(
            "  tessera issuer offer --url {leaf_id} --citizen {} --data-dir {} | tessera wallet issue - --yes --ta {ta_id}",
            issuer::samples::CITIZENS[0],
            a.data_dir.display()
        );
        if let Some(r) = &replicas {
            r.print();
        }
        println!("Ctrl-C stops it (SIGTERM too).");
        let stopped = match replicas {
            Some(r) => r.supervise().await,
            None => {
                service_kit::process::shutdown_signal().await;
                Ok(())
            }
        };
        println!("stopping");
        stopped
    })
}
