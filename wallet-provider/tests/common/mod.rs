//! A federation on loopback for the provider's tests: a trust anchor (trust-anchor crate) and
//! the wallet provider, both over real HTTP, the provider onboarded and trust-marked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code, unreachable_pub)]

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
    let config = trust_anchor::Config::trust_anchor(id.clone(), dir.join("ta"), TOKEN);
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
        .json(&json!({"entity_id": provider.id, "entity_types": ["wallet_solution"]}))
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

pub struct Fed {
    pub dir: tempfile::TempDir,
    pub anchor: Anchor,
    pub provider: Provider,
    pub http: reqwest::Client,
}

impl Fed {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let anchor = start_anchor(dir.path()).await;
        let provider = start_provider(dir.path(), "wp", &anchor, tweak).await;
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        onboard(&http, &anchor, &provider).await;
        Self { dir, anchor, provider, http }
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
    pub keys: Arc<SoftwareKeyStore>,
    pub hardware: KeyTag,
    pub credential: KeyTag,
}

impl Wallet {
    pub fn new() -> Self {
        Self::with_attester(SoftwareAttester::development().unwrap())
    }

    pub fn with_attester(attester: SoftwareAttester) -> Self {
        let keys = Arc::new(SoftwareKeyStore::in_memory(attester).unwrap());
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
