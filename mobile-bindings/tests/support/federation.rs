//! A federation on loopback for the binding's tests (the Rust ones here, and the Python and
//! Kotlin suites through `examples/loopback_federation`): a trust anchor, the spid-cie-oidc
//! test OpenID Provider, the wallet provider (development mode) and three credential issuers
//! (the `issuer` crate), each over real HTTP, onboarded and trust-marked as `tessera up`
//! would:
//!
//! * `issuer`: the Motorizzazione (`mdl` preset over its sample registry: Mario Rossi ready,
//!   Luigia Verdi deferred): pre-authorized offers from its admin API, and the authorization
//!   code flow identifying the citizen by their PID over OpenID4VP;
//! * `pid_issuer`: the PID provider (`pid` preset), identifying the citizen by a CIE level 3
//!   login at the OpenID Provider (a SPID/CIE relying party, with the anchor's mark);
//! * `untrusted_issuer`: the Motorizzazione's service again, never onboarded.
//!
//! The OpenID Provider knows its own test identities (the first preselected) and the
//! registries' Mario Rossi (`pid_fiscal_number`). A test tool: the panic/unwrap/indexing
//! lints are relaxed here as clippy.toml relaxes them in tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code)]

use serde_json::{Value, json};
use wallet_core::federation::{EntityId, TrustAnchorConfig};

pub(crate) const TOKEN: &str = "loopback-admin-token";
pub(crate) const APP_REDIRECT: &str = "it.tessera.wallet://activate";
/// The wallet's `redirect_uri` for issuance: an https app link, as the CLI's.
pub(crate) const ISSUANCE_REDIRECT: &str = "https://wallet.tessera.example/issuance/callback";

async fn listener() -> (tokio::net::TcpListener, EntityId) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())).unwrap();
    (l, id)
}

async fn post(http: &reqwest::Client, url: String, body: Value, expected: u16) -> Value {
    let r = http.post(&url).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(status, expected, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The anchor issues `sub` a mark of `mark_type`, and `sub` publishes it.
async fn mark(http: &reqwest::Client, anchor: &EntityId, sub: &EntityId, mark_type: &str) {
    let m = post(http, format!("{anchor}/admin/trust-marks"), json!({"sub": sub, "trust_mark_type": mark_type}), 201).await;
    post(http, format!("{sub}/admin/own-trust-marks"), json!({"trust_mark": m["trust_mark"]}), 204).await;
}

/// The federation's services, serving while this lives (on the caller's tokio runtime).
pub(crate) struct Federation {
    /// What the suites read: entity ids, tokens, paths (see [`start`]).
    pub(crate) info: Value,
    _dir: tempfile::TempDir,
}

/// Starts every service on an ephemeral loopback port. `info` holds `trust_anchor` (with its
/// keys), `wallet_provider`, `op`, `redirect_uri`, `issuer`, `pid_issuer`,
/// `untrusted_issuer`, `issuer_admin_token`, `issuer_registry`, `issuance_redirect_uri`,
/// `pid_fiscal_number`, `pid_acr`, `pid_configuration`, `mdl_configuration`.
pub(crate) async fn start() -> Federation {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let rp_mark = "openid_relying_party/public";
    // The credential issuers' mark (IT-Wallet 1.4 §1.3), which the Rust suite's wallet
    // requires (`issuer_mark` in `info`).
    let issuer_mark = "openid_credential_issuer/public";

    let (l, ta) = listener().await;
    let mut config = trust_anchor::Config::trust_anchor(ta.clone(), dir.path().join("ta"), TOKEN);
    for name in [rp_mark, "federation-entity/wallet-provider", issuer_mark] {
        config.trust_mark_issuers.insert(format!("{ta}/trust_marks/{name}"), vec![ta.to_string()]);
    }
    let state = trust_anchor::AppState::open(config).unwrap();
    let jwks = state.jwks();
    tokio::spawn(async move { axum::serve(l, trust_anchor::router(state)).await.unwrap() });
    let anchor = TrustAnchorConfig { id: ta.clone(), jwks: jwks.clone() };

    // The OpenID Provider: its own identities first (the login page preselects the first),
    // then the registries' Mario Rossi, whom the PID provider knows.
    let [mario, ..] = issuer::samples::CITIZENS;
    let pid_fiscal_number = format!("TINIT-{mario}");
    let (l, op) = listener().await;
    let mut c = spid_cie_oidc::op::OpConfig::new(op.clone(), dir.path().join("op"), vec![anchor.clone()], vec![ta.clone()]);
    c.admin_token = TOKEN.into();
    c.required_trust_marks = vec![format!("{ta}/trust_marks/{rp_mark}")];
    c.identities.push(spid_cie_oidc::op::identities::TestIdentity {
        fiscal_number: pid_fiscal_number.clone(),
        given_name: "Mario".into(),
        family_name: "Rossi".into(),
        birthdate: "1980-01-10".into(),
        place_of_birth: spid_cie_oidc::PlaceOfBirth { region: Some("RM".into()), locality: Some("H501".into()) },
        email: "mario.rossi@example.it".into(),
        gender: None,
    });
    let state = spid_cie_oidc::op::OpState::open(c).unwrap();
    tokio::spawn(async move { axum::serve(l, spid_cie_oidc::op::router(state)).await.unwrap() });
    post(&http, format!("{ta}/admin/subordinates"), json!({"entity_id": op, "entity_types": ["openid_provider"], "trust_mark_claims": {"organization_type": "public"}}), 201).await;

    let (l, wp) = listener().await;
    let mut c = wallet_provider::Config::new(wp.clone(), ta.clone(), dir.path().join("wp"));
    c.admin_token = TOKEN.into();
    c.trust_anchor_jwks = Some(jwks.clone());
    c.allowed_redirect_uris = vec![APP_REDIRECT.into()];
    c.op_entity_id = Some(op.clone());
    let state = wallet_provider::WalletProvider::open(c).unwrap();
    tokio::spawn(async move { wallet_provider::serve_listener(state, l, std::future::pending()).await.unwrap() });
    post(&http, format!("{ta}/admin/subordinates"), json!({"entity_id": wp, "entity_types": ["wallet_solution"], "trust_mark_claims": {"organization_type": "private"}}), 201).await;
    mark(&http, &ta, &wp, "federation-entity/wallet-provider").await;
    mark(&http, &ta, &wp, rp_mark).await;

    // The PID provider: CIE level 3 at the OpenID Provider, whose relying parties need the
    // anchor's mark.
    let (l, pid) = listener().await;
    let mut c = issuer::Config::new(pid.clone(), dir.path().join("pid"), &[issuer::presets::Preset::Pid]);
    c.admin_token = TOKEN.into();
    c.trust_anchors = vec![anchor.clone()];
    c.authority_hints = vec![ta.clone()];
    c.organization_name = "PID Provider (loopback)".into();
    c.authentication = issuer::config::Authentication::SpidCie(issuer::config::SpidCieAuthentication {
        providers: vec![op.clone()],
        acr: spid_cie_oidc::Acr::SpidL3,
    });
    issuer::samples::load(&c.registry, issuer::presets::Preset::Pid).unwrap();
    let state = issuer::Issuer::open(c).unwrap();
    tokio::spawn(async move { issuer::serve_listener(state, l, std::future::pending()).await.unwrap() });
    post(&http, format!("{ta}/admin/subordinates"), json!({"entity_id": pid, "entity_types": ["openid_credential_issuer"], "trust_mark_claims": {"organization_type": "public"}}), 201).await;
    mark(&http, &ta, &pid, rp_mark).await;
    mark(&http, &ta, &pid, issuer_mark).await;

    // The driving-licence issuer, onboarded as `openid_credential_issuer`; it trusts WUAs
    // (and PIDs) whose chain reaches the anchor, and asks for the PID at /authorize.
    let (l, iss) = listener().await;
    let mut c = issuer::Config::new(iss.clone(), dir.path().join("issuer"), &[issuer::presets::Preset::Mdl]);
    c.admin_token = TOKEN.into();
    c.trust_anchors = vec![anchor.clone()];
    c.authority_hints = vec![ta.clone()];
    c.organization_name = "Motorizzazione Civile (loopback)".into();
    c.deferred_interval = 1;
    c.authentication = issuer::config::Authentication::Pid(issuer::config::PidAuthentication::default());
    issuer::samples::load(&c.registry, issuer::presets::Preset::Mdl).unwrap();
    let registry = c.registry.clone();
    let state = issuer::Issuer::open(c).unwrap();
    tokio::spawn(async move { issuer::serve_listener(state, l, std::future::pending()).await.unwrap() });
    post(&http, format!("{ta}/admin/subordinates"), json!({"entity_id": iss, "entity_types": ["openid_credential_issuer"], "trust_mark_claims": {"organization_type": "public"}}), 201).await;
    // It asks for the PID as a relying party: the wallet wants its mark (WP_087).
    mark(&http, &ta, &iss, rp_mark).await;
    mark(&http, &ta, &iss, issuer_mark).await;

    // The same service, never onboarded: its trust chain reaches no anchor.
    let (l, outsider) = listener().await;
    let mut c = issuer::Config::new(outsider.clone(), dir.path().join("outsider"), &[issuer::presets::Preset::Mdl]);
    c.admin_token = TOKEN.into();
    c.trust_anchors = vec![anchor.clone()];
    c.authentication = issuer::config::Authentication::Pid(issuer::config::PidAuthentication::default());
    issuer::samples::load(&c.registry, issuer::presets::Preset::Mdl).unwrap();
    let state = issuer::Issuer::open(c).unwrap();
    tokio::spawn(async move { issuer::serve_listener(state, l, std::future::pending()).await.unwrap() });

    let info = json!({
        "trust_anchor": {"entity_id": ta, "jwks": jwks},
        "wallet_provider": wp,
        "op": op,
        "redirect_uri": APP_REDIRECT,
        "issuer": iss,
        "pid_issuer": pid,
        "untrusted_issuer": outsider,
        "issuer_admin_token": TOKEN,
        "issuer_registry": registry,
        "issuance_redirect_uri": ISSUANCE_REDIRECT,
        "pid_fiscal_number": pid_fiscal_number,
        "pid_acr": spid_cie_oidc::Acr::SpidL3.as_str(),
        "pid_configuration": issuer::presets::Preset::Pid.configuration_id(),
        "mdl_configuration": issuer::presets::Preset::Mdl.configuration_id(),
        "issuer_mark": format!("{ta}/trust_marks/{issuer_mark}"),
    });
    Federation { info, _dir: dir }
}
