//! A federation on loopback for the foreign test suites' activation and issuance tests: a
//! trust anchor, the spid-cie-oidc test OpenID Provider, the wallet provider (development
//! mode) and the credential issuer (the `issuer` crate, the `mdl` preset over its sample
//! registry), each over real HTTP, onboarded and trust-marked as `tessera up` would; and a
//! second issuer that no trust anchor onboarded (outside the federation). Prints one JSON
//! line (`trust_anchor` with its keys, `wallet_provider`, `op`, `redirect_uri`, `issuer`,
//! `untrusted_issuer`, `issuer_admin_token`, `issuer_registry`: the suites create offers with
//! `POST {issuer}/admin/offers` and may mark a record ready in the registry) and serves until
//! its stdin closes. A test tool (an example, to use the services as dev-dependencies), so
//! the panic/unwrap/indexing lints are relaxed here as clippy.toml relaxes them in tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::io::Read as _;

use serde_json::{Value, json};
use wallet_core::federation::{EntityId, TrustAnchorConfig};

const TOKEN: &str = "loopback-admin-token";
const APP_REDIRECT: &str = "it.tessera.wallet://activate";

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

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let (l, ta) = listener().await;
    let mut config = trust_anchor::Config::trust_anchor(ta.clone(), dir.path().join("ta"), TOKEN);
    for name in ["openid_relying_party/public", "federation-entity/wallet-provider"] {
        config.trust_mark_issuers.insert(format!("{ta}/trust_marks/{name}"), vec![ta.to_string()]);
    }
    let state = trust_anchor::AppState::open(config).unwrap();
    let jwks = state.jwks();
    tokio::spawn(async move { axum::serve(l, trust_anchor::router(state)).await.unwrap() });
    let anchor = TrustAnchorConfig { id: ta.clone(), jwks: jwks.clone() };

    let (l, op) = listener().await;
    let mut c = spid_cie_oidc::op::OpConfig::new(op.clone(), dir.path().join("op"), vec![anchor], vec![ta.clone()]);
    c.admin_token = TOKEN.into();
    c.required_trust_marks = vec![format!("{ta}/trust_marks/openid_relying_party/public")];
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
    mark(&http, &ta, &wp, "openid_relying_party/public").await;

    // The driving-licence issuer (sample registry: Mario Rossi ready, Luigia Verdi deferred),
    // onboarded as `openid_credential_issuer`; it trusts WUAs whose chain reaches the anchor.
    let (l, iss) = listener().await;
    let mut c = issuer::Config::new(iss.clone(), dir.path().join("issuer"), &[issuer::presets::Preset::Mdl]);
    c.admin_token = TOKEN.into();
    c.trust_anchors = vec![TrustAnchorConfig { id: ta.clone(), jwks: jwks.clone() }];
    c.authority_hints = vec![ta.clone()];
    c.organization_name = "Motorizzazione Civile (loopback)".into();
    c.deferred_interval = 1;
    issuer::samples::load(&c.registry, issuer::presets::Preset::Mdl).unwrap();
    let registry = c.registry.clone();
    let state = issuer::Issuer::open(c).unwrap();
    tokio::spawn(async move { issuer::serve_listener(state, l, std::future::pending()).await.unwrap() });
    post(&http, format!("{ta}/admin/subordinates"), json!({"entity_id": iss, "entity_types": ["openid_credential_issuer"]}), 201).await;

    // The same service, never onboarded: its trust chain reaches no anchor.
    let (l, outsider) = listener().await;
    let mut c = issuer::Config::new(outsider.clone(), dir.path().join("outsider"), &[issuer::presets::Preset::Mdl]);
    c.admin_token = TOKEN.into();
    c.trust_anchors = vec![TrustAnchorConfig { id: ta.clone(), jwks: jwks.clone() }];
    issuer::samples::load(&c.registry, issuer::presets::Preset::Mdl).unwrap();
    let state = issuer::Issuer::open(c).unwrap();
    tokio::spawn(async move { issuer::serve_listener(state, l, std::future::pending()).await.unwrap() });

    let out = json!({
        "trust_anchor": {"entity_id": ta, "jwks": jwks},
        "wallet_provider": wp,
        "op": op,
        "redirect_uri": APP_REDIRECT,
        "issuer": iss,
        "untrusted_issuer": outsider,
        "issuer_admin_token": TOKEN,
        "issuer_registry": registry,
    });
    println!("{out}");
    // Serve until the test closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .unwrap();
}
