//! A federation on loopback for the issuer's tests: a trust anchor, a wallet provider (a
//! federation leaf with `wallet_solution` metadata whose key signs WUAs carrying its
//! `trust_chain`), and the issuer with the sample registries, all over real HTTP. The
//! wallet is played with wallet-core's oid4vci wallet-side functions.
//!
//! For the authorization-code flow: [`Fed::spid_cie`] adds the `spid-cie-oidc` test OpenID
//! Provider (the issuer a PID provider authenticating citizens by SPID/CIE, trust-marked as a
//! relying party); [`Fed::pid_over_vp`] adds a PID issuer (pre-authorized offers) and an
//! issuer outside the federation, the issuer authenticating citizens by the PID over
//! OpenID4VP. [`AuthzWallet`] plays the wallet's side of PAR, `/authorize` and `/token`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code, unreachable_pub)]

/// The schema helper the verifier's tests use (one copy for both crates).
#[path = "../../../verifier/tests/common/pg.rs"]
pub mod pg;

use issuer::config::{Authentication, PidAuthentication, SpidCieAuthentication};
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
use std::sync::{Arc, RwLock};
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

/// What [`Fed::build`] starts besides the anchor, the wallet provider and the issuer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Setup {
    /// Nothing else; the issuer without `[authentication]`.
    #[default]
    Plain,
    /// The test OpenID Provider; the issuer (PID preset) with `method = "spid-cie"`.
    SpidCie,
    /// A PID issuer and an unfederated one; the issuer (mDL, health card) with `method = "pid"`.
    PidOverVp,
}

/// Where [`Fed::assemble`] puts a wallet-provider mark issuer besides the anchor (an
/// authority under the anchor, accredited in its `trust_mark_issuers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MarkIssuer {
    /// None.
    None,
    /// Between the wallet provider and the anchor ([`Fed::intermediate`]).
    Superior,
    /// Outside the wallet provider's chain ([`Fed::mark_issuer`]).
    Outside,
}

/// Another issuer of the test federation (or outside it), serving the PID by pre-authorized offers.
pub struct PidIssuer {
    pub id: EntityId,
    pub issuer: Issuer,
}

pub struct Fed {
    pub dir: tempfile::TempDir,
    /// The test OpenID Provider ([`Setup::SpidCie`]).
    pub op: Option<EntityId>,
    /// The PID issuer ([`Setup::PidOverVp`]).
    pub pid_issuer: Option<PidIssuer>,
    /// A PID issuer no trust anchor onboarded ([`Setup::PidOverVp`]).
    pub rogue_pid_issuer: Option<PidIssuer>,
    pub anchor: TrustAnchorConfig,
    /// The wallet provider's superior between it and the anchor ([`Fed::under_intermediate`]).
    pub intermediate: Option<EntityId>,
    /// A trust mark issuer under the anchor, outside the wallet provider's chain
    /// ([`Fed::with_mark_issuer`]).
    pub mark_issuer: Option<EntityId>,
    pub wp_id: EntityId,
    pub wp_key: SoftwareSigner,
    pub wp_chain: Vec<String>,
    /// The chain the provider's status list carries.
    wp_chain_slot: Arc<RwLock<Vec<String>>>,
    /// The WUA indices the provider's status list says INVALID.
    wp_revoked: Arc<RwLock<Vec<u64>>>,
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
        Self::build(Setup::Plain, edit).await
    }

    /// The PID provider authenticating citizens by SPID/CIE at the test OpenID Provider.
    pub async fn spid_cie() -> Self {
        Self::build(Setup::SpidCie, |_| {}).await
    }

    /// The Motorizzazione (mDL, health card) authenticating citizens by the PID over OpenID4VP.
    pub async fn pid_over_vp() -> Self {
        Self::build(Setup::PidOverVp, |_| {}).await
    }

    /// The federation for `setup`, the issuer's configuration edited by `edit` before it opens.
    pub async fn build(setup: Setup, edit: impl FnOnce(&mut Config)) -> Self {
        Self::assemble(setup, MarkIssuer::None, edit).await
    }

    /// The federation with the wallet provider under an intermediate ([`Fed::intermediate`],
    /// onboarded at the anchor, the provider onboarded at it), which the anchor lists in
    /// `trust_mark_issuers` for the wallet-provider mark besides itself; the issuer's
    /// configuration edited by `edit` before it opens.
    pub async fn under_intermediate(edit: impl FnOnce(&mut Config)) -> Self {
        Self::assemble(Setup::Plain, MarkIssuer::Superior, edit).await
    }

    /// The federation with a trust mark issuer ([`Fed::mark_issuer`], an authority onboarded
    /// at the anchor) outside the wallet provider's chain (the provider directly under the
    /// anchor), which the anchor lists in `trust_mark_issuers` for the wallet-provider mark
    /// besides itself (OID-FED §7.3); the issuer's configuration edited by `edit` before it
    /// opens.
    pub async fn with_mark_issuer(edit: impl FnOnce(&mut Config)) -> Self {
        Self::assemble(Setup::Plain, MarkIssuer::Outside, edit).await
    }

    /// The federation for `setup`, with a second wallet-provider mark issuer where
    /// `mark_issuer` says, the issuer's configuration edited by `edit` before it opens.
    async fn assemble(setup: Setup, mark_issuer: MarkIssuer, edit: impl FnOnce(&mut Config)) -> Self {
        let _ = tracing_subscriber::fmt().with_test_writer().with_max_level(tracing_subscriber::filter::LevelFilter::WARN).try_init();
        let dir = tempfile::tempdir().unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let (listener, anchor_id) = bind().await;
        // The intermediate's (or mark issuer's) address first: the anchor lists it as a mark
        // issuer from the start.
        let int_listener = if mark_issuer == MarkIssuer::None { None } else { Some(bind().await) };
        let mut ta_config = trust_anchor::Config::trust_anchor(anchor_id.clone(), dir.path().join("ta"), TOKEN);
        ta_config.trust_mark_issuers.insert(rp_mark(&anchor_id), vec![anchor_id.to_string()]);
        ta_config.trust_mark_issuers.insert(issuer_mark(&anchor_id), vec![anchor_id.to_string()]);
        let wp_mark_issuers = std::iter::once(&anchor_id).chain(int_listener.as_ref().map(|(_, id)| id)).map(EntityId::to_string).collect();
        ta_config.trust_mark_issuers.insert(wp_mark(&anchor_id), wp_mark_issuers);
        let ta = trust_anchor::AppState::open(ta_config).unwrap();
        let jwks = ta.jwks();
        tokio::spawn(async move { axum::serve(listener, trust_anchor::router(ta)).await.unwrap() });
        let anchor = TrustAnchorConfig { id: anchor_id.clone(), jwks };
        let second_issuer = match int_listener {
            Some((listener, id)) => Some(start_intermediate(listener, id, dir.path(), &anchor, &http).await),
            None => None,
        };
        let (intermediate, mark_issuer) = if mark_issuer == MarkIssuer::Superior { (second_issuer, None) } else { (None, second_issuer) };
        let wp_superior = intermediate.clone().unwrap_or_else(|| anchor_id.clone());

        // The wallet provider: a leaf whose `wallet_solution.jwks` holds its attestation key.
        let (listener, wp_id) = bind().await;
        let wp_key = SoftwareSigner::generate().unwrap();
        let mut wp = trust_anchor::Config::trust_anchor(wp_id.clone(), dir.path().join("wp"), TOKEN);
        wp.authority = false;
        wp.authority_hints = std::iter::once(wp_superior.clone()).chain(mark_issuer.clone()).collect();
        // To check the trust marks it publishes.
        wp.trust_anchors = vec![anchor.clone()];
        wp.organization_name = "Wallet provider".into();
        wp.metadata = json!({
            "wallet_solution": {"jwks": {"keys": [wp_key.public_jwk()]}, "logo_uri": format!("{wp_id}/logo.svg")},
            "federation_entity": {"homepage_uri": wp_id, "policy_uri": wp_id, "logo_uri": format!("{wp_id}/logo.svg"), "contacts": ["wp@pec.example.it"]}
        })
        .as_object()
        .cloned()
        .unwrap();
        let wp_state = trust_anchor::AppState::open(wp).unwrap();
        // Its status list: the WUAs' index 7 valid, 9 revoked (and those [`Fed::revoke_wua`] adds).
        let chain_slot: Arc<RwLock<Vec<String>>> = Arc::default();
        let wp_revoked: Arc<RwLock<Vec<u64>>> = Arc::new(RwLock::new(vec![9]));
        let list = WpStatus {
            key: Arc::new(SoftwareSigner::from_private_jwk(wp_key.private_jwk().clone()).unwrap()),
            id: wp_id.clone(),
            chain: chain_slot.clone(),
            revoked: wp_revoked.clone(),
        };
        let wp_router = axum::Router::new()
            .route("/status-list", axum::routing::get(move || {
                let list = list.clone();
                async move { list.serve() }
            }))
            .fallback_service(trust_anchor::router(wp_state));
        tokio::spawn(async move { axum::serve(listener, wp_router).await.unwrap() });
        onboard(&http, &wp_superior, &wp_id, "wallet_solution").await;
        // The building block issues marks to its registered subordinates only: the mark
        // issuer registers the provider too (which names it in `authority_hints` after the
        // anchor); the provider's chain, the shortest first, goes straight to the anchor.
        if let Some(mark_issuer) = &mark_issuer {
            onboard(&http, mark_issuer, &wp_id, "wallet_solution").await;
        }
        let wp_chain = collect_chain(&anchor, &wp_id).await;
        *chain_slot.write().unwrap() = wp_chain.clone();

        let (op, pid_issuer, rogue_pid_issuer) = match setup {
            Setup::Plain => (None, None, None),
            Setup::SpidCie => (Some(start_op(dir.path(), &anchor, &http).await), None, None),
            Setup::PidOverVp => {
                let pid = start_pid_issuer(dir.path(), "pid-issuer", &anchor).await;
                onboard(&http, &anchor_id, &pid.id, "openid_credential_issuer").await;
                let rogue = start_pid_issuer(dir.path(), "rogue-issuer", &anchor).await;
                (None, Some(pid), Some(rogue))
            }
        };

        // The issuer, serving the three presets over the sample registries (the PID provider
        // serves the PID only, the Motorizzazione the mDL and the health card).
        let (listener, issuer_id) = bind().await;
        let presets: &[Preset] = match setup {
            Setup::Plain => &Preset::ALL,
            Setup::SpidCie => &[Preset::Pid],
            Setup::PidOverVp => &[Preset::Mdl, Preset::HealthCard],
        };
        let mut config = Config::new(issuer_id.clone(), dir.path().join("issuer"), presets);
        config.admin_token = TOKEN.into();
        config.trust_anchors = vec![anchor.clone()];
        config.authority_hints = vec![anchor_id.clone()];
        config.organization_name = "Motorizzazione Civile (test)".into();
        config.batch_size = 3;
        config.authentication = match setup {
            Setup::Plain => Authentication::None,
            Setup::SpidCie => Authentication::SpidCie(SpidCieAuthentication { providers: vec![op.clone().unwrap()], acr: spid_cie_oidc::Acr::SpidL3 }),
            Setup::PidOverVp => Authentication::Pid(PidAuthentication::default()),
        };
        // A presented PID's `x5c` is verified to the federation root, and its CRLs checked.
        config.x509_roots_pem = root_pem(&http, &anchor_id).await;
        edit(&mut config);
        for p in Preset::ALL {
            issuer::samples::load(&config.registry, p).unwrap();
        }
        let issuer = Issuer::open(config.clone()).unwrap();
        let served = issuer.clone();
        tokio::spawn(async move { issuer::serve_listener(served, listener, std::future::pending()).await.unwrap() });
        onboard(&http, &anchor_id, &issuer_id, "openid_credential_issuer").await;
        // The relying-party mark: the test OP requires it of its RPs, and a wallet asked for
        // the PID refuses an RP without a valid one where the federation uses marks (WP_087).
        if setup != Setup::Plain {
            mark(&http, &anchor_id, &issuer_id, "openid_relying_party/public").await;
        }
        Self { dir, op, pid_issuer, rogue_pid_issuer, anchor, intermediate, mark_issuer, wp_id, wp_key, wp_chain, wp_chain_slot: chain_slot, wp_revoked, issuer_id, issuer, config, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer_id)
    }

    /// The wallet provider's chain collected again (after its configuration changed: a
    /// trust mark published), for the attestations made from now on.
    pub async fn refresh_wp_chain(&mut self) {
        self.wp_chain = collect_chain(&self.anchor, &self.wp_id).await;
        self.wp_chain_slot.write().unwrap().clone_from(&self.wp_chain);
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

    /// A WAA from the wallet provider for `key` carrying its wallet instance's status list
    /// entry `idx` (the wallet provider's list, as [`Fed::wua_at`]'s).
    pub fn waa_at(&self, key: &SoftwareSigner, idx: u64) -> String {
        self.waa_with_status(key, idx, &format!("{}/status-list", self.wp_id.as_str().trim_end_matches('/')), &self.wp_key)
    }

    /// A WAA for `key` naming the wallet provider, its status at `uri` index `idx`, signed by
    /// `signer` (the provider's key, or a forger's).
    pub fn waa_with_status(&self, key: &SoftwareSigner, idx: u64, uri: &str, signer: &SoftwareSigner) -> String {
        let status = wallet_core::status::StatusReference { idx, uri: uri.to_owned() };
        WaaBuilder::new(self.wp_id.as_str(), &key.public_jwk(), &info(), UnixTime::now())
            .lifetime(3_600)
            .status(status)
            .sign(&ProviderSigning::new(signer).with_trust_chain(self.wp_chain.clone()))
            .unwrap()
    }

    /// A WAA for `key` signed with the wallet provider's key, naming `iss`, without a
    /// `trust_chain` header (IT-Wallet 1.4 §3.3: OPTIONAL).
    pub fn waa_without_chain(&self, iss: &str, key: &SoftwareSigner) -> String {
        WaaBuilder::new(iss, &key.public_jwk(), &info(), UnixTime::now()).lifetime(3_600).sign(&ProviderSigning::new(&self.wp_key)).unwrap()
    }

    /// A WUA from the wallet provider attesting `keys`, with its trust chain.
    pub fn wua(&self, keys: &[&SoftwareSigner]) -> String {
        self.wua_at(keys, 7)
    }

    /// The wallet provider revokes the WUA at `idx`: its status list says INVALID from now.
    pub fn revoke_wua(&self, idx: u64) {
        self.wp_revoked.write().unwrap().push(idx);
    }

    /// A WUA at status index `idx` (9 is revoked).
    pub fn wua_at(&self, keys: &[&SoftwareSigner], idx: u64) -> String {
        wua_by(self.wp_id.as_str(), keys, idx, &ProviderSigning::new(&self.wp_key).with_trust_chain(self.wp_chain.clone()))
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
    chain: Arc<RwLock<Vec<String>>>,
    revoked: Arc<RwLock<Vec<u64>>>,
}

impl WpStatus {
    fn serve(&self) -> axum::response::Response {
        use axum::response::IntoResponse as _;
        let mut list = StatusList::new(Bits::One, 16);
        for idx in self.revoked.read().unwrap().iter() {
            list.set(*idx, StatusValue::Invalid).unwrap();
        }
        let now = UnixTime::now();
        let token = StatusListToken { list, uri: format!("{}/status-list", self.id), iss: Some(self.id.as_str().to_owned()), iat: now, exp: Some(now.plus(3_600)), ttl: Some(60), aggregation_uri: None };
        let mut h = JwsHeader::new(JwsAlg::Es256);
        h.kid = self.key.kid();
        h.trust_chain = Some(self.chain.read().unwrap().clone()).filter(|c| !c.is_empty());
        let jwt = token.sign(&h, &*self.key).unwrap();
        ([("content-type", wallet_core::status::MEDIA_TYPE)], jwt).into_response()
    }
}

/// A WUA naming `iss`, attesting `keys`, at status index `idx` of `iss`'s list, signed as
/// `signing` says (our provider's key and chain, or anyone's).
pub fn wua_by(iss: &str, keys: &[&SoftwareSigner], idx: u64, signing: &ProviderSigning<'_>) -> String {
    let storage = KeyStorageInfo { storage_type: StorageType::LocalNative, keys_exportable: false, storage_certification_information: String::new() };
    let status = StatusReference { idx, uri: format!("{}/status-list", iss.trim_end_matches('/')) };
    WuaBuilder::new(iss, keys.iter().map(|k| k.public_jwk()).collect(), status, WuaWalletInfo { general_info: info(), key_storage_info: storage }, UnixTime::now(), WUA_MIN_LIFETIME)
        .sign(signing)
        .unwrap()
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

    /// A pre-authorized offer of `configuration` to `citizen`, redeemed, then `/credential`
    /// with one proof by the first key (and its WUA): the access token and the answer.
    pub async fn first_credential(&self, fed: &Fed, citizen: &str, configuration: &str) -> (String, u16, Value) {
        let (url, tx) = fed.offer(citizen, &[configuration]).await;
        let (_, code) = Wallet::read_offer(fed, &url).await;
        let at = self.token(fed, &code, &tx).await;
        let nonce = self.nonce(fed).await;
        let wua = fed.wua(&[&self.keys[0]]);
        let (s, v) = self.protected(fed, "/credential", &at, &Wallet::request(configuration, self.proofs(fed, &[&self.keys[0]], &wua, &nonce)), None).await;
        (at, s, v)
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

/// The trust mark type the test OpenID Provider requires of relying parties.
/// An intermediate under `anchor`, served on `listener` and onboarded at the anchor: an
/// authority, which onboards subordinates and issues trust marks (and answers their status);
/// with no subordinate, a trust mark issuer outside its subjects' chains.
async fn start_intermediate(listener: tokio::net::TcpListener, id: EntityId, dir: &std::path::Path, anchor: &TrustAnchorConfig, http: &reqwest::Client) -> EntityId {
    let mut c = trust_anchor::Config::trust_anchor(id.clone(), dir.join("int"), TOKEN);
    c.authority_hints = vec![anchor.id.clone()];
    c.trust_anchors = vec![anchor.clone()];
    c.organization_name = "Intermediate".into();
    let state = trust_anchor::AppState::open(c).unwrap();
    tokio::spawn(async move { axum::serve(listener, trust_anchor::router(state)).await.unwrap() });
    onboard(http, &anchor.id, &id, "federation_entity").await;
    id
}

/// `id`'s trust chain to `anchor`, collected through the Federation API now (a blocking
/// fetcher, off the runtime).
async fn collect_chain(anchor: &TrustAnchorConfig, id: &EntityId) -> Vec<String> {
    let (anchors, id) = ([anchor.clone()], id.clone());
    tokio::task::spawn_blocking(move || {
        let fetcher = trust_anchor::fetch::HttpFetcher::new().unwrap();
        ChainCollector::new(&fetcher, &anchors).resolve(&id, UnixTime::now())
    })
    .await
    .unwrap()
    .unwrap()
    .jwts()
}

/// The wallet-provider trust mark type under `anchor` (as `tessera up` names it).
pub fn wp_mark(anchor: &EntityId) -> String {
    format!("{anchor}/trust_marks/{WP_MARK}")
}

/// Its short name.
pub const WP_MARK: &str = "federation-entity/wallet-provider";

/// The credential issuers' mark (IT-Wallet 1.4 §1.1), as `tessera up` names it.
pub const ISSUER_MARK: &str = "openid_credential_issuer/public";

pub fn issuer_mark(anchor: &EntityId) -> String {
    format!("{anchor}/trust_marks/{ISSUER_MARK}")
}

pub fn rp_mark(anchor: &EntityId) -> String {
    format!("{anchor}/trust_marks/openid_relying_party/public")
}

/// The trust anchor's X.509 root (`GET /ca`, DER) as PEM: what an operator puts in
/// `x509_roots`.
pub async fn root_pem(http: &reqwest::Client, anchor: &EntityId) -> String {
    let der = http.get(format!("{anchor}/ca")).send().await.unwrap().bytes().await.unwrap();
    wallet_core::x509::certificate_pem(&der)
}

/// Has `issuer` (the anchor or an intermediate) issue `sub` a trust mark of `mark_type` (a
/// short name under the issuer, or a full type) and `sub` publish it.
pub async fn mark(http: &reqwest::Client, issuer: &EntityId, sub: &EntityId, mark_type: &str) {
    let r = http.post(format!("{issuer}/admin/trust-marks")).bearer_auth(TOKEN).json(&json!({"sub": sub, "trust_mark_type": mark_type, "claims": {"organization_type": "public"}})).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let m: Value = r.json().await.unwrap();
    let r = http.post(format!("{sub}/admin/own-trust-marks")).bearer_auth(TOKEN).json(&json!({"trust_mark": m["trust_mark"]})).send().await.unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

/// An OP identity for a registry citizen (`TINIT-<cf>`).
fn identity(cf: &str, given: &str, family: &str) -> spid_cie_oidc::op::identities::TestIdentity {
    spid_cie_oidc::op::identities::TestIdentity {
        fiscal_number: format!("TINIT-{cf}"),
        given_name: given.into(),
        family_name: family.into(),
        birthdate: "1980-01-10".into(),
        place_of_birth: spid_cie_oidc::PlaceOfBirth { region: Some("RM".into()), locality: Some("H501".into()) },
        email: format!("{}@example.it", given.to_lowercase()),
        gender: None,
    }
}

/// A fiscal number the OP knows and the registry does not (Giulia Bianchi, built in).
pub const STRANGER: &str = "BNCGLI85M41F205Z";

/// Starts the spid-cie-oidc test OpenID Provider under `anchor` (CIE profile; the registry's
/// citizens among its identities, with the built-in ones) and onboards it.
pub async fn start_op(dir: &std::path::Path, anchor: &TrustAnchorConfig, http: &reqwest::Client) -> EntityId {
    use spid_cie_oidc::op::{self, OpConfig, OpState};
    let (listener, id) = bind().await;
    let mut c = OpConfig::new(id.clone(), dir.join("op"), vec![anchor.clone()], vec![anchor.id.clone()]);
    c.admin_token = TOKEN.into();
    c.required_trust_marks = vec![rp_mark(&anchor.id)];
    c.profile = spid_cie_oidc::op::Profile::Cie;
    let mut ids = vec![identity(MARIO, "Mario", "Rossi"), identity(LUIGIA, "Luigia", "Verdi")];
    ids.extend(spid_cie_oidc::op::identities::default_identities());
    c.identities = ids;
    let state = OpState::open(c).unwrap();
    tokio::spawn(async move { axum::serve(listener, op::router(state)).await.unwrap() });
    onboard(http, &anchor.id, &id, "openid_provider").await;
    id
}

/// Starts an issuer serving the PID (sample registry) by pre-authorized offers; not onboarded.
pub async fn start_pid_issuer(dir: &std::path::Path, name: &str, anchor: &TrustAnchorConfig) -> PidIssuer {
    let (listener, id) = bind().await;
    let mut config = Config::new(id.clone(), dir.join(name), &[Preset::Pid]);
    config.admin_token = TOKEN.into();
    config.trust_anchors = vec![anchor.clone()];
    config.authority_hints = vec![anchor.id.clone()];
    config.organization_name = format!("{name} (test)");
    issuer::samples::load(&config.registry, Preset::Pid).unwrap();
    let issuer = Issuer::open(config).unwrap();
    let served = issuer.clone();
    tokio::spawn(async move { issuer::serve_listener(served, listener, std::future::pending()).await.unwrap() });
    PidIssuer { id, issuer }
}

/// The acr of CIE level 3 and of SPID level 2.
pub const L3: &str = "https://www.spid.gov.it/SpidL3";
pub const L2: &str = "https://www.spid.gov.it/SpidL2";

impl Fed {
    /// A second replica of the issuer (the same configuration, database and keys) on another
    /// port: its base URL, to send requests to as a load balancer would.
    pub async fn replica(&self) -> String {
        self.replica_with(Arc::new(wallet_core::time::SystemClock)).await
    }

    /// [`Fed::replica`] reading the time from `clock` (a test moves it past an expiry).
    pub async fn replica_with(&self, clock: Arc<dyn wallet_core::time::Clock>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let replica = Issuer::builder(self.config.clone()).clock(clock).open().unwrap();
        tokio::spawn(async move { issuer::serve_listener(replica, listener, std::future::pending()).await.unwrap() });
        base
    }

    /// `url` (under the entity id) sent to `base` instead.
    pub fn via(&self, url: &str, base: &str) -> String {
        url.replacen(self.issuer_id.as_str().trim_end_matches('/'), base, 1)
    }

    /// Plays the browser from the issuer's `/authorize` URL: 302 to the OP, its login page,
    /// the form submitted with `fiscal_number` (`TINIT-` added) at `acr`, the OP's 302 to
    /// our callback, and the callback's 302: its `Location` (the wallet's `redirect_uri`).
    pub async fn browse(&self, authorize_url: &str, cf: &str, acr: &str) -> String {
        let r = self.http.get(authorize_url).send().await.unwrap();
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
        let to_op = r.headers()["location"].to_str().unwrap().to_owned();
        self.browse_at_op(&to_op, cf, acr).await
    }

    /// Plays the browser from the OP's authorization URL (the `Location` of the issuer's
    /// `/authorize`, as a wallet hands it to the phone's browser): the login page, the form
    /// submitted as `cf` at `acr`, the OP's 302 to our callback, and the callback's 302: its
    /// `Location` (the wallet's `redirect_uri` with the code or the error).
    pub async fn browse_at_op(&self, to_op: &str, cf: &str, acr: &str) -> String {
        let op = self.op.as_ref().unwrap();
        assert!(to_op.starts_with(op.as_str()), "{to_op}");
        let r = self.http.get(to_op).send().await.unwrap();
        let status = r.status();
        let page = r.text().await.unwrap();
        assert_eq!(status, 200, "{page}");
        let session = page.split("name=\"session\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let fiscal = format!("TINIT-{cf}");
        let r = self.http.post(format!("{op}/login")).form(&[("session", session.as_str()), ("fiscal_number", fiscal.as_str()), ("acr", acr)]).send().await.unwrap();
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
        let to_us = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(to_us.starts_with(&self.url("/authorize/callback")), "{to_us}");
        let r = self.http.get(&to_us).send().await.unwrap();
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
        r.headers()["location"].to_str().unwrap().to_owned()
    }

    /// A PID for `holder` about `citizen` from the PID issuer (or, `rogue`, the one outside
    /// the federation), by the pre-authorized path: offer, token with DPoP, nonce, credential.
    pub async fn issue_pid(&self, holder: &SoftwareSigner, citizen: &str, rogue: bool) -> String {
        let pid = if rogue { self.rogue_pid_issuer.as_ref() } else { self.pid_issuer.as_ref() }.unwrap();
        let base = pid.id.as_str().trim_end_matches('/').to_owned();
        let (s, v) = Self::json(self.http.post(format!("{base}/admin/offers")).bearer_auth(TOKEN).json(&json!({"citizen": citizen, "tx_code": false}))).await;
        assert_eq!(s, 201, "{v}");
        let OfferRef::Value(offer) = OfferUrl::parse(v["offer_url"].as_str().unwrap()).unwrap().offer else { panic!("by value") };
        let code = offer.grants.pre_authorized_code.clone().unwrap().pre_authorized_code;
        let dpop_key = SoftwareSigner::generate().unwrap();
        let form = TokenRequest::PreAuthorizedCode { pre_authorized_code: code, tx_code: None }.to_form();
        let d = dpop_proof(&dpop_key, "POST", &format!("{base}/token"), None, None, UnixTime::now()).unwrap();
        let (s, v) = Self::json(self.http.post(format!("{base}/token")).header("content-type", "application/x-www-form-urlencoded").header("DPoP", d).body(form)).await;
        assert_eq!(s, 200, "{v}");
        let at = v["access_token"].as_str().unwrap().to_owned();
        let (s, v) = Self::json(self.http.post(format!("{base}/nonce"))).await;
        assert_eq!(s, 200, "{v}");
        let nonce = v["c_nonce"].as_str().unwrap().to_owned();
        let wua = self.wua(&[holder]);
        let proof = key_proof(holder, Some(&wua), None, pid.id.as_str(), Some(&nonce), UnixTime::now()).unwrap();
        let body = serde_json::to_value(CredentialRequest::by_configuration(PID, vec![proof])).unwrap();
        let d = dpop_proof(&dpop_key, "POST", &format!("{base}/credential"), Some(&at), None, UnixTime::now()).unwrap();
        let (s, v) = Self::json(self.http.post(format!("{base}/credential")).header("authorization", format!("DPoP {at}")).header("DPoP", d).json(&body)).await;
        assert_eq!(s, 200, "{v}");
        v["credentials"][0]["credential"].as_str().unwrap().to_owned()
    }
}

/// The wallet's side of the authorization-code flow: its WAA key (the `client_id` is its
/// thumbprint), its WAA, its DPoP key and credential keys.
pub struct AuthzWallet {
    pub key: SoftwareSigner,
    pub waa: String,
    pub dpop: SoftwareSigner,
    pub holder: SoftwareSigner,
}

/// `r` with the attestation headers `h` (`OAuth-Client-Attestation` and its PoP) as they are:
/// sent twice, the same PoP.
pub fn with_attestation(mut r: reqwest::RequestBuilder, h: &ClientAttestationHeaders) -> reqwest::RequestBuilder {
    for (k, v) in h.pairs() {
        r = r.header(k, v);
    }
    r
}

/// The wallet's `redirect_uri` in these tests.
pub const REDIRECT: &str = "https://wallet.example.it/cb";

impl AuthzWallet {
    pub fn new(fed: &Fed) -> Self {
        let key = SoftwareSigner::generate().unwrap();
        let waa = fed.waa(&key, UnixTime::now(), 3_600);
        Self { key, waa, dpop: SoftwareSigner::generate().unwrap(), holder: SoftwareSigner::generate().unwrap() }
    }

    pub fn client_id(&self) -> String {
        self.key.public_jwk().thumbprint().to_string()
    }

    /// The attestation headers for the issuer.
    pub fn attest(&self, fed: &Fed, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        with_attestation(r, &client_attestation_headers(&self.waa, &self.key, fed.issuer_id.as_str(), None, UnixTime::now()).unwrap())
    }

    /// PAR for `configurations`: the `/authorize` URL and what the wallet keeps.
    pub async fn par(&self, fed: &Fed, configurations: &[&str]) -> (String, PendingAuthorization) {
        self.par_with(fed, configurations, None, None).await.unwrap()
    }

    /// PAR with a `scope` and an offer's `issuer_state`: the `/authorize` URL and what the
    /// wallet keeps, or the refusal's status and body.
    pub async fn par_with(&self, fed: &Fed, configurations: &[&str], scope: Option<&str>, issuer_state: Option<&str>) -> Result<(String, PendingAuthorization), (u16, Value)> {
        let b = ParRequestBuilder { audience: fed.issuer_id.as_str(), redirect_uri: REDIRECT, scope, configuration_ids: configurations, issuer_state };
        let (req, pending) = b.build(&self.key, UnixTime::now()).unwrap();
        let r = fed.http.post(fed.url("/par")).header("content-type", "application/x-www-form-urlencoded").body(req.to_form());
        let (s, v) = Fed::json(self.attest(fed, r)).await;
        if s != 201 {
            return Err((s, v));
        }
        let pushed = ParResponse::parse(v.to_string().as_bytes()).unwrap();
        let url = AuthorizeRequest { client_id: req.client_id, request_uri: pushed.request_uri }.to_url(&fed.url("/authorize"));
        Ok((url, pending))
    }

    /// The authorization response on the `redirect_uri`, checked (`state`, `iss`): the code.
    pub fn code(fed: &Fed, redirect: &str, pending: &PendingAuthorization) -> String {
        assert!(redirect.starts_with(REDIRECT), "{redirect}");
        let r = AuthorizationResponse::parse(redirect).unwrap();
        r.check(pending, fed.issuer_id.as_str()).unwrap();
        r.code
    }

    /// `POST /token` with the authorization code grant: `dpop` (default: a proof by our DPoP
    /// key for the token endpoint), the attestation headers unless `attested` is false.
    pub async fn token_with(&self, fed: &Fed, code: &str, verifier: &CodeVerifier, redirect_uri: Option<&str>, dpop: Option<String>, attested: bool) -> (u16, Value) {
        let form = TokenRequest::AuthorizationCode { code: code.into(), code_verifier: verifier.clone(), redirect_uri: redirect_uri.map(str::to_owned) }.to_form();
        let d = dpop.unwrap_or_else(|| dpop_proof(&self.dpop, "POST", &fed.url("/token"), None, None, UnixTime::now()).unwrap());
        let r = fed.http.post(fed.url("/token")).header("content-type", "application/x-www-form-urlencoded").header("DPoP", d).body(form);
        let r = if attested { self.attest(fed, r) } else { r };
        Fed::json(r).await
    }

    /// The token endpoint, expecting success.
    pub async fn token(&self, fed: &Fed, code: &str, pending: &PendingAuthorization) -> TokenResponse {
        let (s, v) = self.token_with(fed, code, &pending.code_verifier, Some(&pending.redirect_uri), None, true).await;
        assert_eq!(s, 200, "{v}");
        TokenResponse::parse(v.to_string().as_bytes(), true).unwrap()
    }

    /// Nonce and `/credential` by the `credential_identifier` granted for `configuration`,
    /// one proof by the holder key with its WUA; the credential.
    pub async fn credential(&self, fed: &Fed, tokens: &TokenResponse, configuration: &str) -> String {
        let id = tokens.credential_identifiers(configuration).next().unwrap().to_owned();
        let (s, v) = Fed::json(fed.http.post(fed.url("/nonce"))).await;
        assert_eq!(s, 200, "{v}");
        let nonce = v["c_nonce"].as_str().unwrap().to_owned();
        let wua = fed.wua(&[&self.holder]);
        let proof = key_proof(&self.holder, Some(&wua), Some(&self.client_id()), fed.issuer_id.as_str(), Some(&nonce), UnixTime::now()).unwrap();
        let body = serde_json::to_value(CredentialRequest::by_identifier(id, vec![proof])).unwrap();
        let at = &tokens.access_token;
        let d = dpop_proof(&self.dpop, "POST", &fed.url("/credential"), Some(at), None, UnixTime::now()).unwrap();
        let (s, v) = Fed::json(fed.http.post(fed.url("/credential")).header("authorization", format!("DPoP {at}")).header("DPoP", d).json(&body)).await;
        assert_eq!(s, 200, "{v}");
        v["credentials"][0]["credential"].as_str().unwrap().to_owned()
    }

    /// Follows the issuer's OpenID4VP request (`haip-vp://…`): fetches the request object,
    /// verifies it with wallet-core (the issuer's chain from its `trust_chain` header, to the
    /// anchor), and returns it with the request object's fetch status.
    pub async fn vp_request(fed: &Fed, vp_url: &str) -> Result<VerifiedRequest, (u16, String)> {
        let url = AuthorizationRequestUrl::parse(vp_url).unwrap();
        let RequestRef::Uri { uri, .. } = &url.request else { panic!("by reference") };
        let r = fed.http.get(uri).send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        if status != 200 {
            return Err((status, body));
        }
        let anchors = [fed.anchor.clone()];
        // IT-Wallet 1.4 §5.1: the `x5c` (REQUIRED) chains to the federation root, which it
        // leaves out, and its leaf certifies the signing key.
        let root = fed.http.get(format!("{}/ca", fed.anchor.id)).send().await.unwrap().bytes().await.unwrap().to_vec();
        let x509 = wallet_core::x509::TrustAnchors::from_der(vec![root]).unwrap();
        let parsed = ParsedRequestObject::parse(&body).unwrap();
        assert!(parsed.header().x5c.as_ref().is_some_and(|x| x.len() == 2), "x5c = [protocol certificate, the issuer's CA]");
        let ctx = VerifyContext {
            request_uri: Some(uri),
            federation_anchors: &anchors,
            x509_anchors: Some(&x509),
            ..VerifyContext::new(&url.client_id, Profile::ItWallet14, UnixTime::now())
        };
        Ok(parsed.verify(&ctx).unwrap())
    }

    /// Presents `pid` (disclosing what the query asks) for `req`, the KB-JWT with `nonce`
    /// (default: the request's), and posts the encrypted response: status and body.
    pub async fn present(&self, fed: &Fed, req: &VerifiedRequest, pid: &str, nonce: Option<&str>) -> (u16, Value) {
        let sd = SdJwt::parse(pid).unwrap();
        let paths: Vec<ClaimPath> = ["tax_id_code", "given_name", "family_name", "birthdate"].iter().map(|c| ClaimPath::key(c)).collect();
        let kb = KeyBindingInput { aud: req.client_id.as_str().into(), nonce: nonce.unwrap_or(&req.nonce).into(), iat: UnixTime::now() };
        let vp = sd.present(Some(&paths), &kb, &self.holder).unwrap();
        let resp = VpAuthorizationResponse { vp_token: VpToken([("pid".to_owned(), vec![vp])].into_iter().collect()), state: req.state.clone() };
        let form = response_form(&resp.encrypt(&req.encryption_key, req.enc, &req.nonce).unwrap());
        Fed::json(fed.http.post(&req.response_uri).header("content-type", "application/x-www-form-urlencoded").body(form)).await
    }
}

use wallet_core::oid4vci::{AuthorizationResponse, AuthorizeRequest, ClientAttestationHeaders, CodeVerifier, ParRequestBuilder, ParResponse, PendingAuthorization, client_attestation_headers};
use wallet_core::oid4vp::request_object::{ParsedRequestObject, VerifiedRequest, VerifyContext};
use wallet_core::oid4vp::response::{AuthorizationResponse as VpAuthorizationResponse, VpToken, response_form};
use wallet_core::oid4vp::{AuthorizationRequestUrl, Profile, RequestRef};
use wallet_core::sd_jwt::{ClaimPath, KeyBindingInput, SdJwt};
