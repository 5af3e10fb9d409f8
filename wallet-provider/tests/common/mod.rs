//! A federation on loopback for the provider's tests: a trust anchor (trust-anchor crate) and
//! the wallet provider, both over real HTTP, the provider onboarded and trust-marked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code, unreachable_pub)]

pub mod pg;

use std::path::Path;

use serde_json::{Value, json};
use wallet_core::federation::EntityId;
use wallet_core::jose::jwk::JwkSet;
use wallet_core::x509::{TrustAnchors, X5cResolver};
use wallet_provider::{Config, WalletProvider};

pub const TOKEN: &str = "test-admin-token";
pub const APP_REDIRECT: &str = "it.tessera.wallet://activate";

pub struct Anchor {
    pub id: EntityId,
    pub jwks: JwkSet,
    pub root_der: Vec<u8>,
}

pub async fn start_anchor(dir: &Path) -> Anchor {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())).unwrap();
    let mut config = trust_anchor::Config::trust_anchor(id.clone(), dir.join("ta"), TOKEN);
    for name in ["openid_relying_party/public", "federation-entity/wallet-provider"] {
        config.trust_mark_issuers.insert(format!("{id}/trust_marks/{name}"), vec![id.to_string()]);
    }
    let state = trust_anchor::AppState::open(config).unwrap();
    let (jwks, root_der) = (state.jwks(), state.root_ca().unwrap().to_vec());
    tokio::spawn(async move { axum::serve(listener, trust_anchor::router(state)).await.unwrap() });
    Anchor { id, jwks, root_der }
}

pub struct Provider {
    pub id: EntityId,
    pub state: WalletProvider,
}

/// Starts a provider under `anchor`; `tweak` adjusts the configuration.
pub async fn start_provider(dir: &Path, name: &str, anchor: &Anchor, tweak: impl FnOnce(&mut Config)) -> Provider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())).unwrap();
    let mut config = Config::new(id.clone(), anchor.id.clone(), dir.join(name));
    config.admin_token = TOKEN.into();
    config.trust_anchor_jwks = Some(anchor.jwks.clone());
    config.allowed_redirect_uris = vec![APP_REDIRECT.into()];
    tweak(&mut config);
    let state = WalletProvider::open(config).unwrap();
    let s = state.clone();
    tokio::spawn(async move { wallet_provider::serve_listener(s, listener, std::future::pending()).await.unwrap() });
    Provider { id, state }
}

/// Onboards the provider at the anchor (entity type `wallet_solution`), issues it the
/// `wallet-provider` trust mark and has it publish the mark.
pub async fn onboard(http: &reqwest::Client, anchor: &Anchor, provider: &Provider) {
    let r = http
        .post(format!("{}/admin/subordinates", anchor.id))
        .bearer_auth(TOKEN)
        .json(&json!({"entity_id": provider.id, "entity_types": ["wallet_solution"], "trust_mark_claims": {"organization_type": "private"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = http
        .post(format!("{}/admin/trust-marks", anchor.id))
        .bearer_auth(TOKEN)
        .json(&json!({"sub": provider.id, "trust_mark_type": "federation-entity/wallet-provider"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let mark: Value = r.json().await.unwrap();
    let r = http
        .post(format!("{}/admin/own-trust-marks", provider.id))
        .bearer_auth(TOKEN)
        .json(&json!({"trust_mark": mark["trust_mark"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

/// The trust mark type the test OpenID Provider requires of relying parties.
pub fn rp_mark(anchor: &Anchor) -> String {
    format!("{}/trust_marks/openid_relying_party/public", anchor.id)
}

/// Starts the spid-cie-oidc test OpenID Provider under `anchor` and onboards it.
pub async fn start_op(dir: &Path, anchor: &Anchor, http: &reqwest::Client) -> EntityId {
    use spid_cie_oidc::op::{self, OpConfig, OpState};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())).unwrap();
    let ta = wallet_core::federation::TrustAnchorConfig { id: anchor.id.clone(), jwks: anchor.jwks.clone() };
    let mut c = OpConfig::new(id.clone(), dir.join("op"), vec![ta], vec![anchor.id.clone()]);
    c.admin_token = TOKEN.into();
    c.required_trust_marks = vec![rp_mark(anchor)];
    let state = OpState::open(c).unwrap();
    tokio::spawn(async move { axum::serve(listener, op::router(state)).await.unwrap() });
    let r = http
        .post(format!("{}/admin/subordinates", anchor.id))
        .bearer_auth(TOKEN)
        .json(&json!({"entity_id": id, "entity_types": ["openid_provider"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    id
}

/// Issues `sub` a trust mark of `mark_type` (short name under the anchor) and has it publish it.
pub async fn mark(http: &reqwest::Client, anchor: &Anchor, sub: &EntityId, mark_type: &str) {
    let r = http
        .post(format!("{}/admin/trust-marks", anchor.id))
        .bearer_auth(TOKEN)
        .json(&json!({"sub": sub, "trust_mark_type": mark_type}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let m: Value = r.json().await.unwrap();
    let r = http.post(format!("{sub}/admin/own-trust-marks")).bearer_auth(TOKEN).json(&json!({"trust_mark": m["trust_mark"]})).send().await.unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

pub struct Fed {
    pub dir: tempfile::TempDir,
    pub anchor: Anchor,
    pub provider: Provider,
    pub op: Option<EntityId>,
    pub http: reqwest::Client,
}

impl Fed {
    pub async fn new() -> Self {
        Self::build(false, |_| {}).await
    }

    pub async fn with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::build(false, tweak).await
    }

    /// With the test OpenID Provider, the provider its relying party.
    pub async fn with_op() -> Self {
        Self::build(true, |_| {}).await
    }

    /// With the test OpenID Provider; `tweak` adjusts the provider's configuration.
    pub async fn build_with_op(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::build(true, tweak).await
    }

    async fn build(with_op: bool, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let anchor = start_anchor(dir.path()).await;
        let op = if with_op { Some(start_op(dir.path(), &anchor, &http).await) } else { None };
        let op_id = op.clone();
        let provider = start_provider(dir.path(), "wp", &anchor, |c| {
            c.op_entity_id = op_id;
            tweak(c)
        })
        .await;
        onboard(&http, &anchor, &provider).await;
        if with_op {
            mark(&http, &anchor, &provider.id, "openid_relying_party/public").await;
        }
        Self { dir, anchor, provider, op, http }
    }

    /// Drives the citizen's login as a browser: `/citizen/login`, the OP's page, the
    /// identity picked, the callback; returns the final redirect `Location` (to the app).
    pub async fn browser_login(&self, redirect_uri: &str, state: &str, fiscal_number: &str) -> String {
        let mut url = url::Url::parse(&self.url("/citizen/login")).unwrap();
        url.query_pairs_mut().append_pair("redirect_uri", redirect_uri).append_pair("state", state);
        self.browse(url.as_str(), fiscal_number).await
    }

    /// The browser from the provider's login URL to the redirect back to the app.
    pub async fn browse(&self, login_url: &str, fiscal_number: &str) -> String {
        self.browse_via(login_url, fiscal_number, None).await
    }

    /// As [`Fed::browse`]; the OP's redirect back to us is sent to `callback_base` instead
    /// of the entity id, when given (as a load balancer would send it to another replica).
    pub async fn browse_via(&self, login_url: &str, fiscal_number: &str, callback_base: Option<&str>) -> String {
        let r = self.http.get(login_url).send().await.unwrap();
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
        let to_op = r.headers()["location"].to_str().unwrap().to_owned();
        let op = self.op.as_ref().unwrap();
        assert!(to_op.starts_with(op.as_str()), "{to_op}");
        let r = self.http.get(&to_op).send().await.unwrap();
        let status = r.status();
        let page = r.text().await.unwrap();
        assert_eq!(status, 200, "{page}");
        let session = page.split("name=\"session\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let r = self
            .http
            .post(format!("{op}/login"))
            .form(&[("session", session.as_str()), ("fiscal_number", fiscal_number), ("acr", "https://www.spid.gov.it/SpidL2")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
        let to_us = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(to_us.starts_with(&self.url("/citizen/callback")), "{to_us}");
        let to_us = match callback_base {
            Some(base) => format!("{base}{}", to_us.strip_prefix(self.provider.id.as_str().trim_end_matches('/')).unwrap()),
            None => to_us,
        };
        let r = self.http.get(&to_us).send().await.unwrap();
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
        r.headers()["location"].to_str().unwrap().to_owned()
    }

    /// A full login: a session token for `fiscal_number`.
    pub async fn session(&self, fiscal_number: &str) -> String {
        let back = self.browser_login(APP_REDIRECT, "s1", fiscal_number).await;
        let code = url::Url::parse(&back).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
        let (status, body) = Fed::json(self.http.post(self.url("/citizen/session")).json(&json!({"code": code}))).await;
        assert_eq!(status, 200, "{body}");
        body["session_token"].as_str().unwrap().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.provider.id)
    }

    /// A verifier's view: keys from `x5c` chains to the federation root.
    pub fn x5c_resolver(&self) -> X5cResolver {
        X5cResolver::new(TrustAnchors::from_der(vec![self.anchor.root_der.clone()]).unwrap())
    }

    pub async fn nonce(&self) -> String {
        let r = self.http.get(self.url("/nonce")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["nonce"].as_str().unwrap().to_owned()
    }

    /// Status and JSON body (Null when empty).
    pub async fn json(r: reqwest::RequestBuilder) -> (u16, Value) {
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
    }
}

use std::sync::Arc;
use wallet_core::attestation::key_attestation::SoftwareAttester;
use wallet_core::attestation::{AttestationRequestBuilder, AttestationResponse, ProviderNonce, RegistrationRequest};
use wallet_core::jose::SoftwareSigner;
use wallet_core::keystore::{KeyStore, KeyTag, SoftwareKeyStore};
use wallet_core::time::UnixTime;

/// The phone: a software key store attested by `attester`, a hardware key and a credential
/// key.
pub struct Wallet {
    pub keys: Arc<dyn KeyStore>,
    pub hardware: KeyTag,
    pub credential: KeyTag,
}

impl Wallet {
    pub fn new() -> Self {
        Self::with_attester(SoftwareAttester::development().unwrap())
    }

    pub fn with_attester(attester: SoftwareAttester) -> Self {
        Self::with_store(Arc::new(SoftwareKeyStore::in_memory(attester).unwrap()))
    }

    pub fn with_store(keys: Arc<dyn KeyStore>) -> Self {
        let (hardware, credential) = (KeyTag::generate().unwrap(), KeyTag::generate().unwrap());
        keys.generate_key(&hardware).unwrap();
        keys.generate_key(&credential).unwrap();
        Self { keys, hardware, credential }
    }

    pub fn registration(&self, nonce: &str) -> RegistrationRequest {
        RegistrationRequest::new(self.keys.as_ref(), &self.hardware, ProviderNonce::new(nonce).unwrap()).unwrap()
    }

    /// The attestation request body and the ephemeral WAA key.
    pub fn attestation_request(&self, provider: &str, nonce: &str) -> (Value, SoftwareSigner) {
        let ephemeral = SoftwareSigner::generate().unwrap();
        let nonce = ProviderNonce::new(nonce).unwrap();
        let jwt = AttestationRequestBuilder {
            provider,
            nonce: &nonce,
            hardware_key_tag: &self.hardware,
            credential_key_tag: &self.credential,
            now: UnixTime::now(),
        }
        .build(self.keys.as_ref(), &ephemeral)
        .unwrap();
        (json!({"assertion": jwt}), ephemeral)
    }
}

impl Fed {
    /// Registers `wallet` for the citizen with session `token`: status and body.
    pub async fn register(&self, wallet: &Wallet, token: &str) -> (u16, Value) {
        let nonce = self.nonce().await;
        Fed::json(self.http.post(self.url("/wallet-instances")).bearer_auth(token).json(&wallet.registration(&nonce))).await
    }

    /// Asks for a WAA + WUA.
    pub async fn attest(&self, wallet: &Wallet) -> (u16, Value) {
        let nonce = self.nonce().await;
        let (body, _) = wallet.attestation_request(self.provider.id.as_str(), &nonce);
        Fed::json(self.http.post(self.url("/wallet-attestation")).json(&body)).await
    }

    pub fn attestations(body: Value) -> AttestationResponse {
        serde_json::from_value(body).unwrap()
    }
}
