//! A federation on loopback for the issuer's tests: a trust anchor, a wallet provider (a
//! federation leaf with `wallet_solution` metadata whose key signs WUAs carrying its
//! `trust_chain`), and the issuer with the sample registries, all over real HTTP. The
//! wallet is played with wallet-core's oid4vci wallet-side functions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code, unreachable_pub)]

use issuer::presets::Preset;
use issuer::{Config, Issuer};
use serde_json::{Value, json};
use wallet_core::attestation::{GeneralInfo, KeyStorageInfo, ProviderSigning, StorageType, WUA_MIN_LIFETIME, WaaBuilder, WuaBuilder, WuaWalletInfo};
use wallet_core::federation::{ChainCollector, EntityId, TrustAnchorConfig};
use wallet_core::jose::{Jwk, Signer as _, SoftwareSigner};
use wallet_core::oid4vci::{
    CredentialIssuerMetadata, CredentialOffer, CredentialRequest, CredentialResponse, NonceResponse, OfferRef, OfferUrl, TokenRequest, TokenResponse, dpop_proof,
    key_proof,
};
use std::sync::{Arc, OnceLock};
use wallet_core::jose::{JwsAlg, JwsHeader};
use wallet_core::status::{Bits, StatusList, StatusListToken, StatusReference, StatusValue};
use wallet_core::time::UnixTime;

pub const TOKEN: &str = "test-admin-token";
pub const MARIO: &str = "RSSMRA80A10H501Z";
pub const LUIGIA: &str = "VRDLGU85M41F205X";
pub const MDL: &str = "dc_sd_jwt_mDL";
pub const PID: &str = "dc_sd_jwt_PersonIdentificationData";

async fn bind() -> (tokio::net::TcpListener, EntityId) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())).unwrap();
    (listener, id)
}

async fn onboard(http: &reqwest::Client, anchor: &EntityId, sub: &EntityId, entity_type: &str) {
    let r = http
        .post(format!("{anchor}/admin/subordinates"))
        .bearer_auth(TOKEN)
        .json(&json!({"entity_id": sub, "entity_types": [entity_type]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

pub struct Fed {
    pub dir: tempfile::TempDir,
    pub anchor: TrustAnchorConfig,
    pub wp_id: EntityId,
    pub wp_key: SoftwareSigner,
    pub wp_chain: Vec<String>,
    pub issuer_id: EntityId,
    pub issuer: Issuer,
    pub config: Config,
    pub http: reqwest::Client,
}

impl Fed {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// The federation, the issuer's configuration edited by `edit` before it opens.
    pub async fn with(edit: impl FnOnce(&mut Config)) -> Self {
        let _ = tracing_subscriber::fmt().with_test_writer().with_max_level(tracing_subscriber::filter::LevelFilter::WARN).try_init();
        let dir = tempfile::tempdir().unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let (listener, anchor_id) = bind().await;
        let ta = trust_anchor::AppState::open(trust_anchor::Config::trust_anchor(anchor_id.clone(), dir.path().join("ta"), TOKEN)).unwrap();
        let jwks = ta.jwks();
        tokio::spawn(async move { axum::serve(listener, trust_anchor::router(ta)).await.unwrap() });
        let anchor = TrustAnchorConfig { id: anchor_id.clone(), jwks };

        // The wallet provider: a leaf whose `wallet_solution.jwks` holds its attestation key.
        let (listener, wp_id) = bind().await;
        let wp_key = SoftwareSigner::generate().unwrap();
        let mut wp = trust_anchor::Config::trust_anchor(wp_id.clone(), dir.path().join("wp"), TOKEN);
        wp.authority = false;
        wp.authority_hints = vec![anchor_id.clone()];
        wp.organization_name = "Wallet provider".into();
        wp.metadata = json!({
            "wallet_solution": {"jwks": {"keys": [wp_key.public_jwk()]}, "logo_uri": format!("{wp_id}/logo.svg")},
            "federation_entity": {"homepage_uri": wp_id, "policy_uri": wp_id, "logo_uri": format!("{wp_id}/logo.svg"), "contacts": ["wp@pec.example.it"]}
        })
        .as_object()
        .cloned()
        .unwrap();
        let wp_state = trust_anchor::AppState::open(wp).unwrap();
        // Its status list: the WUAs' index 7 valid, 9 revoked.
        let chain_slot: Arc<OnceLock<Vec<String>>> = Arc::new(OnceLock::new());
        let list = WpStatus { key: Arc::new(SoftwareSigner::from_private_jwk(wp_key.private_jwk().clone()).unwrap()), id: wp_id.clone(), chain: chain_slot.clone() };
        let wp_router = axum::Router::new()
            .route("/status-list", axum::routing::get(move || {
                let list = list.clone();
                async move { list.serve() }
            }))
            .fallback_service(trust_anchor::router(wp_state));
        tokio::spawn(async move { axum::serve(listener, wp_router).await.unwrap() });
        onboard(&http, &anchor_id, &wp_id, "wallet_solution").await;
        let anchors = [anchor.clone()];
        let id = wp_id.clone();
        let wp_chain = tokio::task::spawn_blocking(move || {
            let fetcher = trust_anchor::fetch::HttpFetcher::new().unwrap();
            ChainCollector::new(&fetcher, &anchors).resolve(&id, UnixTime::now())
        })
        .await
        .unwrap()
        .unwrap()
        .jwts();
        chain_slot.set(wp_chain.clone()).unwrap();

        // The issuer, serving the three presets over the sample registries.
        let (listener, issuer_id) = bind().await;
        let mut config = Config::new(issuer_id.clone(), dir.path().join("issuer"), &Preset::ALL);
        config.admin_token = TOKEN.into();
        config.trust_anchors = vec![anchor.clone()];
        config.authority_hints = vec![anchor_id.clone()];
        config.organization_name = "Motorizzazione Civile (test)".into();
        config.batch_size = 3;
        edit(&mut config);
        for p in Preset::ALL {
            issuer::samples::load(&config.registry, p).unwrap();
        }
        let issuer = Issuer::open(config.clone()).unwrap();
        let served = issuer.clone();
        tokio::spawn(async move { issuer::serve_listener(served, listener, std::future::pending()).await.unwrap() });
        onboard(&http, &anchor_id, &issuer_id, "openid_credential_issuer").await;
        Self { dir, anchor, wp_id, wp_key, wp_chain, issuer_id, issuer, config, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer_id)
    }

    /// Status and JSON body (Null when empty).
    pub async fn json(r: reqwest::RequestBuilder) -> (u16, Value) {
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
    }

    /// An offer for `citizen` (admin API): the wallet URL and the tx_code.
    pub async fn offer(&self, citizen: &str, configurations: &[&str]) -> (String, String) {
        let (s, v) = Self::json(self.http.post(self.url("/admin/offers")).bearer_auth(TOKEN).json(&json!({"citizen": citizen, "credential_configuration_ids": configurations}))).await;
        assert_eq!(s, 201, "{v}");
        (v["offer_url"].as_str().unwrap().to_owned(), v["tx_code"].as_str().unwrap().to_owned())
    }

    /// A WAA from the wallet provider for `key`, issued at `iat`, valid `lifetime` seconds.
    pub fn waa(&self, key: &SoftwareSigner, iat: UnixTime, lifetime: i64) -> String {
        WaaBuilder::new(self.wp_id.as_str(), &key.public_jwk(), &info(), iat)
            .lifetime(lifetime)
            .sign(&ProviderSigning::new(&self.wp_key).with_trust_chain(self.wp_chain.clone()))
            .unwrap()
    }

    /// A WUA from the wallet provider attesting `keys`, with its trust chain.
    pub fn wua(&self, keys: &[&SoftwareSigner]) -> String {
        self.wua_at(keys, 7)
    }

    /// A WUA at status index `idx` (9 is revoked).
    pub fn wua_at(&self, keys: &[&SoftwareSigner], idx: u64) -> String {
        let info = info();
        let storage = KeyStorageInfo { storage_type: StorageType::LocalNative, keys_exportable: false, storage_certification_information: String::new() };
        let status = StatusReference { idx, uri: format!("{}/status-list", self.wp_id) };
        WuaBuilder::new(self.wp_id.as_str(), keys.iter().map(|k| k.public_jwk()).collect(), status, WuaWalletInfo { general_info: info, key_storage_info: storage }, UnixTime::now(), WUA_MIN_LIFETIME)
            .sign(&ProviderSigning::new(&self.wp_key).with_trust_chain(self.wp_chain.clone()))
            .unwrap()
    }

    /// The issuer's credential key, as a wallet finds it: in the metadata's `jwks`.
    pub async fn issuer_key(&self) -> Jwk {
        let (s, v) = Self::json(self.http.get(self.url("/.well-known/openid-credential-issuer"))).await;
        assert_eq!(s, 200);
        serde_json::from_value(v["jwks"]["keys"][0].clone()).unwrap()
    }
}

/// The wallet provider's Token Status List, signed with its attestation key and trust chain.
#[derive(Clone)]
struct WpStatus {
    key: Arc<SoftwareSigner>,
    id: EntityId,
    chain: Arc<OnceLock<Vec<String>>>,
}

impl WpStatus {
    fn serve(&self) -> axum::response::Response {
        use axum::response::IntoResponse as _;
        let mut list = StatusList::new(Bits::One, 16);
        list.set(9, StatusValue::Invalid).unwrap();
        let now = UnixTime::now();
        let token = StatusListToken { list, uri: format!("{}/status-list", self.id), iss: Some(self.id.as_str().to_owned()), iat: now, exp: Some(now.plus(3_600)), ttl: Some(60) };
        let mut h = JwsHeader::new(JwsAlg::Es256);
        h.kid = self.key.kid();
        h.trust_chain = self.chain.get().cloned();
        let jwt = token.sign(&h, &*self.key).unwrap();
        ([("content-type", wallet_core::status::MEDIA_TYPE)], jwt).into_response()
    }
}

fn info() -> GeneralInfo {
    GeneralInfo {
        wallet_provider_name: "Tessera".into(),
        wallet_solution_id: "tessera-wallet".into(),
        wallet_solution_version: "0.1.0".into(),
        wallet_solution_certification_information: String::new(),
    }
}

/// The citizen's wallet: a DPoP key and credential keys.
pub struct Wallet {
    pub dpop: SoftwareSigner,
    pub keys: Vec<SoftwareSigner>,
}

impl Wallet {
    pub fn new(n: usize) -> Self {
        Self { dpop: SoftwareSigner::generate().unwrap(), keys: (0..n).map(|_| SoftwareSigner::generate().unwrap()).collect() }
    }

    /// Parses the offer and checks it against the issuer's metadata: the pre-authorized code.
    pub async fn read_offer(fed: &Fed, url: &str) -> (CredentialOffer, String) {
        let OfferRef::Value(offer) = OfferUrl::parse(url).unwrap().offer else { panic!("by value") };
        let (_, md) = Fed::json(fed.http.get(fed.url("/.well-known/openid-credential-issuer"))).await;
        let md = CredentialIssuerMetadata::parse_json(md.to_string().as_bytes()).unwrap();
        md.validate(fed.issuer_id.as_str(), wallet_core::oid4vci::Profile::ItWallet14).unwrap();
        offer.check_against(&md).unwrap();
        let code = offer.grants.pre_authorized_code.clone().unwrap().pre_authorized_code;
        (offer, code)
    }

    /// `POST /token` with a DPoP proof by `dpop` for `htm`/`htu`.
    pub async fn token_with(&self, fed: &Fed, code: &str, tx_code: Option<&str>, dpop: Option<String>) -> (u16, Value) {
        let form = TokenRequest::PreAuthorizedCode { pre_authorized_code: code.into(), tx_code: tx_code.map(str::to_owned) }.to_form();
        let mut r = fed.http.post(fed.url("/token")).header("content-type", "application/x-www-form-urlencoded").body(form);
        if let Some(d) = dpop {
            r = r.header("DPoP", d);
        }
        Fed::json(r).await
    }

    pub fn dpop_for(&self, fed: &Fed, path: &str, at: Option<&str>) -> String {
        dpop_proof(&self.dpop, "POST", &fed.url(path), at, None, UnixTime::now()).unwrap()
    }

    /// The token endpoint, expecting success: the access token.
    pub async fn token(&self, fed: &Fed, code: &str, tx_code: &str) -> String {
        self.tokens(fed, code, tx_code).await.access_token
    }

    /// The token endpoint, expecting success.
    pub async fn tokens(&self, fed: &Fed, code: &str, tx_code: &str) -> TokenResponse {
        let (s, v) = self.token_with(fed, code, Some(tx_code), Some(self.dpop_for(fed, "/token", None))).await;
        assert_eq!(s, 200, "{v}");
        TokenResponse::parse(v.to_string().as_bytes(), false).unwrap()
    }

    /// `POST /token` with the refresh grant and a DPoP proof by `key`.
    pub async fn refresh(&self, fed: &Fed, refresh_token: &str, key: &SoftwareSigner) -> (u16, Value) {
        let form = TokenRequest::RefreshToken { refresh_token: refresh_token.into(), scope: None }.to_form();
        let d = dpop_proof(key, "POST", &fed.url("/token"), None, None, UnixTime::now()).unwrap();
        Fed::json(fed.http.post(fed.url("/token")).header("content-type", "application/x-www-form-urlencoded").header("DPoP", d).body(form)).await
    }

    pub async fn nonce(&self, fed: &Fed) -> String {
        let (s, v) = Fed::json(fed.http.post(fed.url("/nonce"))).await;
        assert_eq!(s, 200, "{v}");
        serde_json::from_value::<NonceResponse>(v).unwrap().c_nonce
    }

    /// Proofs for `keys`, each with `wua` and `nonce`.
    pub fn proofs(&self, fed: &Fed, keys: &[&SoftwareSigner], wua: &str, nonce: &str) -> Vec<String> {
        keys.iter().map(|k| key_proof(*k, Some(wua), None, fed.issuer_id.as_str(), Some(nonce), UnixTime::now()).unwrap()).collect()
    }

    /// `POST path` with the access token and a DPoP proof (`dpop`, or a fresh one).
    pub async fn protected(&self, fed: &Fed, path: &str, at: &str, body: &Value, dpop: Option<String>) -> (u16, Value) {
        let d = dpop.unwrap_or_else(|| self.dpop_for(fed, path, Some(at)));
        Fed::json(fed.http.post(fed.url(path)).header("authorization", format!("DPoP {at}")).header("DPoP", d).json(body)).await
    }

    /// A credential request by configuration.
    pub fn request(configuration: &str, proofs: Vec<String>) -> Value {
        serde_json::to_value(CredentialRequest::by_configuration(configuration, proofs)).unwrap()
    }

    pub fn parse_credentials(v: &Value) -> CredentialResponse {
        CredentialResponse::parse(v.to_string().as_bytes()).unwrap()
    }
}
