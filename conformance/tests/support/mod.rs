//! A federation on loopback for the conformance tool's own tests: our trust anchor behind a
//! mutating proxy (its entity id is the proxy's URL, so every statement it signs names the
//! proxy), a leaf under it with a metadata policy and a trust mark the anchor issued. The
//! proxy forwards everything to the anchor and, when a fault of `conformance::faults` is
//! switched on, alters the answers, re-signing with the anchor's own key what it changes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use trust_anchor::{AppState, Config, router};
use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::jose::{Signer, SoftwareSigner};

pub mod issuer_faults;
pub mod jws;
pub mod rp;
pub mod wp_faults;

pub const TOKEN: &str = "conformance-admin-token";

pub struct Federation {
    _dir: tempfile::TempDir,
    /// The anchor's entity id (the proxy).
    pub anchor: EntityId,
    pub leaf: EntityId,
    /// Our wallet provider, onboarded under the anchor, behind a proxy of its own (its entity id).
    pub wallet_provider: EntityId,
    /// Two citizens' sessions at the wallet provider (the wallet rows' setup).
    pub wp_sessions: (String, String),
    /// The PDND voucher issuer the wallet provider trusts.
    pub wp_pdnd: conformance::target::PdndClient,
    /// Our issuer (the three presets, sample registries), onboarded with a trust mark, behind
    /// a proxy of its own (its entity id).
    pub issuer: EntityId,
    pub fault: Arc<Mutex<Option<&'static str>>>,
    /// The fault of the wallet provider's proxy.
    pub wallet_provider_fault: Arc<Mutex<Option<&'static str>>>,
    /// The fault of the issuer's proxy.
    pub issuer_fault: Arc<Mutex<Option<&'static str>>>,
    /// The anchor's id and keys, as members pin them.
    pub anchor_config: TrustAnchorConfig,
    /// The PID provider whose PIDs the issuer accepts at its PID login.
    pub pid_provider: conformance::target::TestIssuer,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    entity: String,
    leaf: String,
    signer: Arc<trust_anchor::keys::KeyRing>,
    fault: Arc<Mutex<Option<&'static str>>>,
    http: reqwest::Client,
    /// In front of the issuer: its credential key and what the proxy saw pass.
    issuer: Option<Arc<issuer_faults::IssuerProxy>>,
    /// In front of the wallet provider: its attestation key and what the proxy saw pass.
    wp: Option<Arc<wp_faults::WpProxy>>,
}

async fn serve(listener: tokio::net::TcpListener, app: axum::Router) {
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

/// The same mutating proxy in front of another of our services, re-signing with the key ring
/// in `keys_dir` (the service's federation keys); returns its fault switch.
async fn proxy_for(listener: tokio::net::TcpListener, entity: &EntityId, upstream: &EntityId, keys_dir: &std::path::Path) -> Arc<Mutex<Option<&'static str>>> {
    proxy_with(listener, entity, upstream, keys_dir, None, None).await
}

/// [`proxy_for`] in front of our wallet provider, with its attestation key
/// (`attestation-key.jwk` in `keys_dir`) to re-sign WAAs.
async fn wp_proxy_for(listener: tokio::net::TcpListener, entity: &EntityId, upstream: &EntityId, keys_dir: &std::path::Path) -> Arc<Mutex<Option<&'static str>>> {
    let wp = Arc::new(wp_faults::WpProxy::new(&keys_dir.join("attestation-key.jwk"), entity.as_str()));
    proxy_with(listener, entity, upstream, keys_dir, None, Some(wp)).await
}

/// [`proxy_for`] in front of our issuer, with its credential key (`credential-key.jwk` in
/// `keys_dir`) to re-sign credentials and status lists.
async fn issuer_proxy_for(listener: tokio::net::TcpListener, entity: &EntityId, upstream: &EntityId, keys_dir: &std::path::Path) -> Arc<Mutex<Option<&'static str>>> {
    let issuer = Arc::new(issuer_faults::IssuerProxy::new(&keys_dir.join("credential-key.jwk"), entity.as_str()));
    proxy_with(listener, entity, upstream, keys_dir, Some(issuer), None).await
}

async fn proxy_with(
    listener: tokio::net::TcpListener,
    entity: &EntityId,
    upstream: &EntityId,
    keys_dir: &std::path::Path,
    issuer: Option<Arc<issuer_faults::IssuerProxy>>,
    wp: Option<Arc<wp_faults::WpProxy>>,
) -> Arc<Mutex<Option<&'static str>>> {
    let fault = Arc::new(Mutex::new(None));
    let proxy = Proxy {
        upstream: upstream.to_string(),
        entity: entity.to_string(),
        leaf: String::new(),
        signer: Arc::new(trust_anchor::keys::KeyRing::load_or_create(keys_dir).unwrap()),
        fault: fault.clone(),
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        issuer,
        wp,
    };
    serve(listener, axum::Router::new().fallback(forward).with_state(proxy)).await;
    fault
}

/// A PID provider leaf under `anchor`: a federation entity whose
/// `openid_credential_issuer.jwks` publishes a key the tool holds (the rp plan's trusted
/// issuer; the issuer plan's PID login), onboarded with a public-body trust mark claim.
async fn pid_provider(dir: &std::path::Path, anchor: &EntityId, anchor_cfg: &TrustAnchorConfig) -> conformance::target::TestIssuer {
    let (listener, id) = bind().await;
    let key = SoftwareSigner::generate().unwrap();
    let mut c = Config::trust_anchor(id.clone(), dir.join("pid-provider"), TOKEN);
    c.authority = false;
    c.authority_hints = vec![anchor.clone()];
    c.trust_anchors = vec![anchor_cfg.clone()];
    c.organization_name = "PID provider (conformance)".into();
    c.metadata = json!({
        "openid_credential_issuer": {"credential_issuer": id, "jwks": {"keys": [key.public_jwk()]},
            "credential_configurations_supported": {"dc_sd_jwt_PersonIdentificationData": {"format": "dc+sd-jwt", "vct": wallet_core::vc::Vct::PID}}},
        "federation_entity": {"homepage_uri": id, "policy_uri": id, "contacts": ["pid@pec.example.it"]}
    })
    .as_object()
    .cloned()
    .unwrap();
    serve(listener, router(AppState::open(c).unwrap())).await;
    let r = reqwest::Client::new()
        .post(format!("{anchor}/admin/subordinates"))
        .bearer_auth(TOKEN)
        .json(&json!({"entity_id": id, "entity_types": ["openid_credential_issuer"], "trust_mark_claims": {"organization_type": "public"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    conformance::target::TestIssuer { id: id.to_string(), key: Arc::new(key) }
}

async fn bind() -> (tokio::net::TcpListener, EntityId) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())).unwrap();
    (l, id)
}

impl Federation {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (proxy_listener, anchor) = bind().await;
        let (ta_listener, upstream) = bind().await;
        let ta_dir = dir.path().join("ta");
        let mut ta = Config::trust_anchor(anchor.clone(), ta_dir.clone(), TOKEN);
        ta.trust_mark_issuers.insert(format!("{anchor}/trust_marks/member"), vec![anchor.to_string()]);
        std::fs::create_dir_all(&ta_dir).unwrap();
        let own = trust_anchor::keys::KeyRing::load_or_create(&ta_dir).unwrap().published();
        ta.trust_anchors = vec![TrustAnchorConfig { id: anchor.clone(), jwks: own }];
        let state = AppState::open(ta).unwrap();
        let jwks = state.jwks();
        serve(ta_listener, router(state)).await;
        let signer = Arc::new(trust_anchor::keys::KeyRing::load_or_create(&ta_dir).unwrap());

        let (leaf_listener, leaf) = bind().await;
        let mut lc = Config::trust_anchor(leaf.clone(), dir.path().join("leaf"), TOKEN);
        lc.authority = false;
        lc.authority_hints = vec![anchor.clone()];
        let lc_anchor_jwks = jwks.clone();
        let ic_anchor_jwks = jwks.clone();
        let anchor_config = TrustAnchorConfig { id: anchor.clone(), jwks: jwks.clone() };
        lc.trust_anchors = vec![TrustAnchorConfig { id: anchor.clone(), jwks }];
        lc.organization_name = "Conformance leaf".into();
        lc.metadata = json!({"openid_credential_verifier": {"client_name": "Leaf", "response_types_supported": ["vp_token"], "grant_types": ["authorization_code", "refresh_token"]}})
            .as_object()
            .cloned()
            .unwrap();
        serve(leaf_listener, router(AppState::open(lc).unwrap())).await;

        let fault = Arc::new(Mutex::new(None));
        let proxy = Proxy {
            upstream: upstream.to_string(),
            entity: anchor.to_string(),
            leaf: leaf.to_string(),
            signer,
            fault: fault.clone(),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            issuer: None,
            wp: None,
        };
        serve(proxy_listener, axum::Router::new().fallback(forward).with_state(proxy)).await;

        // Onboarding with a metadata policy, then a trust mark the leaf publishes.
        let http = reqwest::Client::new();
        let body = json!({"entity_id": leaf, "entity_types": ["openid_credential_verifier"],
                          "metadata_policy": {"openid_credential_verifier": {"grant_types": {"subset_of": ["authorization_code"]}}},
                          "trust_mark_claims": {"organization_type": "public"}});
        let r = http.post(format!("{anchor}/admin/subordinates")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let r = http.post(format!("{anchor}/admin/trust-marks")).bearer_auth(TOKEN).json(&json!({"sub": leaf, "trust_mark_type": "member"})).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let issued: Value = r.json().await.unwrap();
        let r = http.post(format!("{leaf}/admin/own-trust-marks")).bearer_auth(TOKEN).json(&json!({"trust_mark": issued["trust_mark"]})).send().await.unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());

        let (wp_proxy_listener, wallet_provider) = bind().await;
        let (wp_listener, wp_upstream) = bind().await;
        let mut wp = wallet_provider::Config::new(wallet_provider.clone(), anchor.clone(), dir.path().join("wp"));
        wp.trust_anchor_jwks = Some(lc_anchor_jwks);
        // The fault runner runs the plan once per fault, within seconds, from one address:
        // the provider's per-client limits (a citizen's phone) would answer 429 to WP_131's
        // nonces. The limits are tested in the provider's own tests.
        let open = service_kit::RateLimit::new(1_000_000, 100_000);
        let r = &mut wp.rate_limits;
        (r.login, r.session, r.nonce, r.registration, r.attestation) = (open, open, open, open, open);
        // The wallet rows register (and revoke) dozens of instances per run.
        wp.max_instances_per_citizen = 100_000;
        // A PDND voucher issuer whose key the tool holds (WP_008).
        let pdnd_key = Arc::new(SoftwareSigner::generate().unwrap());
        wp.pdnd = Some(wallet_provider::config::PdndConfig {
            issuer: "https://pdnd.conformance.example".into(),
            jwks: wallet_core::jose::jwk::JwkSet { keys: vec![pdnd_key.public_jwk()] },
            audience: format!("{wallet_provider}/e-service/notify-user-death"),
            client_ids: vec!["conformance-pid-provider".into()],
            purpose_ids: Vec::new(),
            max_lifetime: 600,
        });
        let provider = wallet_provider::WalletProvider::open(wp).unwrap();
        // Two citizens logged in (the provider's own tests log in through SPID/CIE).
        let wp_sessions = (provider.insecure_create_session("TINIT-RSSMRA80A01H501U").unwrap(), provider.insecure_create_session("TINIT-VRDLGU85M41F205X").unwrap());
        tokio::spawn(async move { wallet_provider::serve_listener(provider, wp_listener, std::future::pending()).await.unwrap() });
        let wallet_provider_fault = wp_proxy_for(wp_proxy_listener, &wallet_provider, &wp_upstream, &dir.path().join("wp")).await;
        let body = json!({"entity_id": wallet_provider, "entity_types": ["wallet_solution"], "trust_mark_claims": {"organization_type": "private"}});
        let r = http.post(format!("{anchor}/admin/subordinates")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

        // The issuer authenticates citizens with their PID (the Motorizzazione's way): the
        // provider the tool signs PIDs as.
        let pid_provider = pid_provider(dir.path(), &anchor, &anchor_config).await;
        let (issuer_proxy_listener, issuer) = bind().await;
        let (issuer_listener, issuer_upstream) = bind().await;
        let mut ic = issuer::Config::new(issuer.clone(), dir.path().join("issuer"), &issuer::presets::Preset::ALL);
        ic.admin_token = TOKEN.into();
        ic.trust_anchors = vec![TrustAnchorConfig { id: anchor.clone(), jwks: ic_anchor_jwks }];
        ic.authority_hints = vec![anchor.clone()];
        ic.organization_name = "Motorizzazione Civile (conformance)".into();
        ic.authentication = issuer::config::Authentication::Pid(issuer::config::PidAuthentication::default());
        // 30 s access tokens: the refresh token's `nbf` (the access token's `exp`) is within the
        // issuer's 60 s clock skew, so the plan's honest refreshes are answered at once.
        ic.access_token_ttl = 30;
        // The fault runner runs the plan once per fault from one address (as for the provider).
        ic.rate_limits.wallet = open;
        ic.rate_limits.admin = open;
        for p in issuer::presets::Preset::ALL {
            issuer::samples::load(&ic.registry, p).unwrap();
        }
        let served = issuer::Issuer::open(ic).unwrap();
        tokio::spawn(async move { issuer::serve_listener(served, issuer_listener, std::future::pending()).await.unwrap() });
        let issuer_fault = issuer_proxy_for(issuer_proxy_listener, &issuer, &issuer_upstream, &dir.path().join("issuer")).await;
        let body = json!({"entity_id": issuer, "entity_types": ["openid_credential_issuer"], "trust_mark_claims": {"organization_type": "public"}});
        let r = http.post(format!("{anchor}/admin/subordinates")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let r = http.post(format!("{anchor}/admin/trust-marks")).bearer_auth(TOKEN).json(&json!({"sub": issuer, "trust_mark_type": "member"})).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let issued: Value = r.json().await.unwrap();
        let r = http.post(format!("{issuer}/admin/own-trust-marks")).bearer_auth(TOKEN).json(&json!({"trust_mark": issued["trust_mark"]})).send().await.unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
        let wp_pdnd = conformance::target::PdndClient { issuer: "https://pdnd.conformance.example".into(), key: pdnd_key, client_id: "conformance-pid-provider".into(), purpose_id: None };
        Self { _dir: dir, anchor, leaf, wallet_provider, wp_sessions, wp_pdnd, issuer, fault, wallet_provider_fault, issuer_fault, anchor_config, pid_provider }
    }

    /// The issuer as the issuer plan's target: the admin API for offers (Mario Rossi ready,
    /// Luigia Verdi's licence not), our wallet provider's attestation key for the WUAs.
    pub fn issuer_target(&self) -> conformance::Target {
        let mut t = conformance::Target::new(self.issuer.clone());
        t.trust_anchor = Some(self.anchor_config.clone());
        let wp = conformance::target::test_wallet_provider(self.wallet_provider.as_str(), &self._dir.path().join("wp").join("attestation-key.jwk")).unwrap();
        t.issuer = Some(conformance::target::IssuerSetup {
            offers: self.issuer.to_string(),
            token: TOKEN.into(),
            citizen: "RSSMRA80A10H501Z".into(),
            deferred_citizen: Some("VRDLGU85M41F205X".into()),
            wallet_provider: wp,
            pid_provider: Some(self.pid_provider.clone()),
        });
        t
    }

    /// The wallet provider as the wallet-provider plan's target: two citizens' sessions,
    /// key attestations under wallet-core's development root (the provider's, in development).
    pub fn wallet_provider_target(&self) -> conformance::Target {
        let mut t = conformance::Target::new(self.wallet_provider.clone());
        t.wallet = Some(conformance::target::WalletSetup {
            session: self.wp_sessions.0.clone(),
            other_session: Some(self.wp_sessions.1.clone()),
            attestation_root: None,
            citizen: Some("TINIT-RSSMRA80A01H501U".into()),
            pdnd: Some(self.wp_pdnd.clone()),
        });
        t
    }

    pub fn set_fault(&self, f: Option<&'static str>) {
        *self.fault.lock().unwrap() = f;
    }

    /// Switches a fault on (or off) in front of the issuer.
    pub fn set_issuer_fault(&self, f: Option<&'static str>) {
        *self.issuer_fault.lock().unwrap() = f;
    }

    /// Switches a fault on (or off) in front of the wallet provider.
    pub fn set_wallet_provider_fault(&self, f: Option<&'static str>) {
        *self.wallet_provider_fault.lock().unwrap() = f;
    }
}

fn b64json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn decode(jwt: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut p = jwt.split('.');
    let mut d = || serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(p.next().unwrap()).unwrap()).unwrap().as_object().unwrap().clone();
    let h = d();
    let b = d();
    (h, b)
}

impl Proxy {
    /// Re-signs `jwt` after `edit` changed its header and payload, with the anchor's key.
    fn resign(&self, jwt: &str, edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> String {
        let (mut h, mut p) = decode(jwt.trim());
        edit(&mut h, &mut p);
        let input = format!("{}.{}", b64json(&Value::Object(h)), b64json(&Value::Object(p)));
        let sig = self.signer.current().sign(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// Re-signs `jwt` with a fresh key of its own, which becomes its only `jwks` key (kid its
    /// thumbprint): self-signed still, but by a key no superior knows.
    fn resign_foreign(&self, jwt: &str) -> String {
        let key = SoftwareSigner::generate().unwrap();
        let jwk = key.public_jwk();
        let kid = jwk.thumbprint().as_str().to_owned();
        let mut v: Value = serde_json::from_str(&jwk.to_json()).unwrap();
        v["kid"] = kid.clone().into();
        let (mut h, mut p) = decode(jwt.trim());
        h.insert("kid".into(), kid.into());
        p.insert("jwks".into(), json!({"keys": [v]}));
        let input = format!("{}.{}", b64json(&Value::Object(h)), b64json(&Value::Object(p)));
        let sig = key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// `metadata.<entity_type>` of a statement's payload, to edit.
fn metadata_mut<'a>(p: &'a mut Map<String, Value>, entity_type: &str) -> &'a mut Map<String, Value> {
    p.get_mut("metadata").and_then(|m| m.get_mut(entity_type)).and_then(Value::as_object_mut).unwrap()
}

/// Rewrites the `error` of a JSON error body.
fn error_code(text: &str, code: &str) -> String {
    let mut v: Value = serde_json::from_str(text).unwrap_or_else(|_| json!({}));
    v["error"] = code.into();
    v.to_string()
}

fn now() -> i64 {
    wallet_core::time::UnixTime::now().secs()
}

async fn forward(State(px): State<Proxy>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    let fault = *px.fault.lock().unwrap();
    let mut url = format!("{}{}", px.upstream, uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    if fault == Some("resolve-any-anchor") && path == "/resolve" {
        // A resolver that ignores `trust_anchor`: every request is resolved up to this anchor.
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            q.append_pair(k, if k == "trust_anchor" { px.entity.as_str() } else { v });
        }
        url = format!("{}/resolve?{}", px.upstream, q.finish());
    }
    let mut req = px.http.request(method.clone(), &url).body(body.to_vec());
    for (n, v) in &headers {
        if n != header::HOST {
            req = req.header(n, v);
        }
    }
    let r = req.send().await.unwrap();
    let mut status = StatusCode::from_u16(r.status().as_u16()).unwrap();
    let issuer_px = px.issuer.clone();
    let mut out_headers = HeaderMap::new();
    for (n, v) in r.headers() {
        if n != header::CONTENT_LENGTH && n != header::TRANSFER_ENCODING {
            out_headers.insert(n.clone(), v.clone());
        }
    }
    // A gzip body (a status list to a client that accepts it) is altered as text and
    // compressed again below, unless the fault drops the coding.
    let raw = r.bytes().await.unwrap().to_vec();
    let gzipped = out_headers.get(header::CONTENT_ENCODING).is_some_and(|v| v == "gzip");
    let raw = if gzipped { wallet_core::status::encoding::decode_body(Some("gzip"), raw, 64 << 20).unwrap() } else { raw };
    let mut text = String::from_utf8_lossy(&raw).into_owned();
    let set_ct = |h: &mut HeaderMap, ct: &'static str| {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    };
    let self_fetch = query.contains(&format!("sub={}", url_enc(&px.entity)));
    let unknown_fetch = path == "/fetch" && status == StatusCode::NOT_FOUND;
    match (fault, path.as_str()) {
        (Some("ec-media-type"), "/.well-known/openid-federation") => set_ct(&mut out_headers, "application/jwt"),
        (Some("ec-signature"), "/.well-known/openid-federation") => {
            let (head, _) = text.trim().rsplit_once('.').unwrap();
            text = format!("{head}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]));
        }
        (Some("ec-alg-none"), "/.well-known/openid-federation") => {
            let (_, payload) = text.trim().split_once('.').unwrap();
            let payload = payload.split('.').next().unwrap();
            text = format!("{}.{payload}.", b64json(&json!({"alg": "none", "typ": "entity-statement+jwt"})));
        }
        (Some("hist-signature"), "/historical_keys") => {
            let (head, _) = text.trim().rsplit_once('.').unwrap();
            text = format!("{head}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]));
        }
        (Some("ec-typ"), "/.well-known/openid-federation") => text = px.resign(&text, |h, _| drop(h.insert("typ".into(), "JWT".into()))),
        (Some("ec-sub"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| drop(p.insert("sub".into(), "https://someone-else.example".into()))),
        (Some("ec-expired"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| {
            p.insert("iat".into(), (now() - 7200).into());
            p.insert("exp".into(), (now() - 3600).into());
        }),
        (Some("ec-exp-before-iat"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| {
            p.insert("iat".into(), (now() + 60).into());
            p.insert("exp".into(), (now() + 30).into());
        }),
        (Some("ec-no-list-endpoint"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| {
            if let Some(fe) = p.get_mut("metadata").and_then(|m| m.get_mut("federation_entity")).and_then(Value::as_object_mut) {
                fe.remove("federation_list_endpoint");
            }
        }),
        (Some("ec-duplicate-kid"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| {
            if let Some(keys) = p.get_mut("jwks").and_then(|j| j.get_mut("keys")).and_then(Value::as_array_mut) {
                let first = keys[0].clone();
                keys.push(first);
            }
        }),
        (Some("ss-sub"), "/fetch") if !self_fetch && status == StatusCode::OK => text = px.resign(&text, |_, p| drop(p.insert("sub".into(), "https://someone-else.example".into()))),
        (Some("ss-source-endpoint-number"), "/fetch") if status == StatusCode::OK => text = px.resign(&text, |_, p| drop(p.insert("source_endpoint".into(), 42.into()))),
        (Some("ss-typ"), "/fetch") if status == StatusCode::OK => text = px.resign(&text, |h, _| drop(h.insert("typ".into(), "JWT".into()))),
        (Some("ss-kid"), "/fetch") if status == StatusCode::OK => text = px.resign(&text, |h, _| drop(h.insert("kid".into(), "not-a-known-kid".into()))),
        (Some("ss-foreign-keys"), "/fetch") if status == StatusCode::OK => {
            let foreign = SoftwareSigner::generate().unwrap().public_jwk();
            text = px.resign(&text, |_, p| drop(p.insert("jwks".into(), json!({"keys": [serde_json::from_str::<Value>(&foreign.to_json()).unwrap()]}))));
        }
        (Some("fetch-media-type"), "/fetch") if status == StatusCode::OK => set_ct(&mut out_headers, "application/jwt"),
        (Some("fetch-self-ok"), "/fetch") if self_fetch => {
            status = StatusCode::OK;
            set_ct(&mut out_headers, "application/entity-statement+jwt");
            text = px.resign(&format!("{}.{}.x", b64json(&json!({"alg": "ES256", "typ": "entity-statement+jwt"})), b64json(&json!({}))), |h, p| {
                h.insert("kid".into(), px.signer.current().kid().unwrap().into());
                p.extend([("iss".into(), px.entity.clone().into()), ("sub".into(), px.entity.clone().into()), ("iat".into(), now().into()), ("exp".into(), (now() + 600).into())]);
            });
        }
        (Some("fetch-unknown-ok"), "/fetch") if unknown_fetch => status = StatusCode::BAD_REQUEST,
        (Some("list-not-array"), "/list") => text = json!({"subordinates": serde_json::from_str::<Value>(&text).unwrap()}).to_string(),
        (Some("tm-status-always-active"), "/trust_mark_status") => {
            status = StatusCode::OK;
            set_ct(&mut out_headers, "application/json");
            text = json!({"active": true}).to_string();
        }
        (Some("hist-reason"), "/historical_keys") => text = px.resign(&text, |_, p| {
            let exp = now() + 3600;
            let entry = json!({"kid": "retired-1", "exp": exp, "revoked": {"revoked_at": now() - 10, "reason": "lost-it"}});
            match p.get_mut("keys").and_then(Value::as_array_mut) {
                Some(keys) => keys.push(entry),
                None => drop(p.insert("keys".into(), json!([entry]))),
            }
        }),
        (Some("resolve-unknown-ok"), "/resolve") if status.is_client_error() => {
            status = StatusCode::OK;
            set_ct(&mut out_headers, "application/resolve-response+jwt");
        }
        (Some("ec-weak-key"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| {
            let weak = json!({"kty": "RSA", "kid": "weak-1024", "use": "sig", "e": "AQAB", "n": URL_SAFE_NO_PAD.encode([0xC5u8; 128])});
            p.get_mut("jwks").and_then(|j| j.get_mut("keys")).and_then(Value::as_array_mut).unwrap().push(weak);
        }),
        (Some("ec-old-iat"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| drop(p.insert("iat".into(), (now() - 600).into()))),
        (Some(f @ ("tm-status-ec-active" | "tm-status-ss-active")), "/trust_mark_status") => {
            let mark = url::form_urlencoded::parse(&body).find(|(k, _)| k == "trust_mark").map(|(_, v)| v.into_owned()).unwrap_or_default();
            let (h, p) = if mark.split('.').count() == 3 { decode(&mark) } else { (Map::new(), Map::new()) };
            let statement = h.get("typ").and_then(Value::as_str) == Some("entity-statement+jwt");
            let self_issued = p.get("iss").is_some() && p.get("iss") == p.get("sub");
            if statement && (self_issued == (f == "tm-status-ec-active")) {
                status = StatusCode::OK;
                set_ct(&mut out_headers, "application/json");
                text = json!({"active": true}).to_string();
            }
        }
        (Some("resolve-aud"), "/resolve") if status == StatusCode::OK => text = px.resign(&text, |_, p| drop(p.insert("aud".into(), "https://someone-else.example".into()))),
        (Some("resolve-forged-mark"), "/resolve") if status == StatusCode::OK => {
            // A mark in the anchor's name about the subject, signed by a key the anchor never had.
            let key = SoftwareSigner::generate().unwrap();
            let kind = format!("{}/trust_marks/member", px.entity);
            text = px.resign(&text, |_, p| {
                let claims = json!({"iss": px.entity, "sub": p["sub"], "trust_mark_type": kind, "iat": now(), "exp": now() + 3600});
                let input = format!("{}.{}", b64json(&json!({"alg": "ES256", "typ": "trust-mark+jwt", "kid": px.signer.current().kid().unwrap()})), b64json(&claims));
                let mark = format!("{input}.{}", URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).unwrap()));
                p.insert("trust_marks".into(), json!([{"trust_mark_type": kind, "trust_mark": mark}]));
            });
        }
        (Some("resolve-chain-old-key"), "/resolve") if status == StatusCode::OK => text = px.resign(&text, |_, p| {
            // The anchor's last statement of the chain signed by a key it no longer publishes.
            let chain = p.get_mut("trust_chain").and_then(Value::as_array_mut).unwrap();
            let last = chain.last_mut().unwrap();
            let (head, _) = last.as_str().unwrap().rsplit_once('.').unwrap();
            let old = SoftwareSigner::generate().unwrap();
            *last = format!("{head}.{}", URL_SAFE_NO_PAD.encode(old.sign(head.as_bytes()).unwrap())).into();
        }),
        (Some("resolve-self-missing"), "/resolve") if self_fetch => {
            status = StatusCode::NOT_FOUND;
            set_ct(&mut out_headers, "application/json");
            text = json!({"error": "not_found", "error_description": "unknown subject"}).to_string();
        }
        (Some("resolve-metadata"), "/resolve") if status == StatusCode::OK => {
            text = px.resign(&text, |_, p| drop(p.insert("metadata".into(), json!({"openid_credential_verifier": {"client_name": "Altered"}}))));
        }
        // The issuer (`conformance::faults`, plan issuer).
        (Some("ci-ec-media-type"), "/.well-known/openid-federation") => set_ct(&mut out_headers, "application/jwt"),
        (Some("ci-ec-typ"), "/.well-known/openid-federation") => text = px.resign(&text, |h, _| drop(h.insert("typ".into(), "JWT".into()))),
        (Some("ci-ec-sub"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| drop(p.insert("sub".into(), "https://someone-else.example".into()))),
        (Some("ci-ec-foreign-key"), "/.well-known/openid-federation") => text = px.resign_foreign(&text),
        (Some("ci-no-trust-marks"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| drop(p.remove("trust_marks"))),
        (Some("ci-exp-before-iat"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| {
            p.insert("iat".into(), (now() + 60).into());
            p.insert("exp".into(), (now() + 30).into());
        }),
        (Some("ci-metadata-issuer"), "/.well-known/openid-credential-issuer") => {
            let mut v: Value = serde_json::from_str(&text).unwrap();
            v["credential_issuer"] = "https://someone-else.example".into();
            text = v.to_string();
        }
        (Some("ci-no-nonce-endpoint"), "/.well-known/openid-federation") => {
            text = px.resign(&text, |_, p| drop(metadata_mut(p, "openid_credential_issuer").remove("nonce_endpoint")));
        }
        (Some("ci-verifier-not-object"), "/.well-known/openid-federation") => {
            text = px.resign(&text, |_, p| drop(p.get_mut("metadata").and_then(Value::as_object_mut).unwrap().insert("openid_credential_verifier".into(), "verifier".into())));
        }
        // The wallet provider (plan wallet-provider).
        (Some("wp-ec-media-type"), "/.well-known/openid-federation") => set_ct(&mut out_headers, "application/jwt"),
        (Some("wp-ec-signature"), "/.well-known/openid-federation") => {
            let (head, _) = text.trim().rsplit_once('.').unwrap();
            text = format!("{head}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]));
        }
        (Some("wp-ec-alg-none"), "/.well-known/openid-federation") => {
            let (h, p) = decode(text.trim());
            let mut h = h;
            h.insert("alg".into(), "none".into());
            text = format!("{}.{}.", b64json(&Value::Object(h)), b64json(&Value::Object(p)));
        }
        (Some("wp-ec-kid"), "/.well-known/openid-federation") => text = px.resign(&text, |h, p| {
            let kid = h.get("kid").and_then(Value::as_str).unwrap().to_owned();
            h.insert("kid".into(), "not-the-thumbprint".into());
            for k in p.get_mut("jwks").and_then(|j| j.get_mut("keys")).and_then(Value::as_array_mut).unwrap() {
                if k["kid"] == kid.as_str() {
                    k["kid"] = "not-the-thumbprint".into();
                }
            }
        }),
        (Some("wp-ec-typ"), "/.well-known/openid-federation") => text = px.resign(&text, |h, _| drop(h.insert("typ".into(), "JWT".into()))),
        (Some("wp-ec-sub"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| drop(p.insert("sub".into(), "https://someone-else.example".into()))),
        (Some("wp-exp-before-iat"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| {
            p.insert("iat".into(), (now() + 60).into());
            p.insert("exp".into(), (now() + 30).into());
        }),
        (Some("wp-no-authority-hints"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| drop(p.remove("authority_hints"))),
        (Some("wp-duplicate-kid"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| {
            let keys = p.get_mut("jwks").and_then(|j| j.get_mut("keys")).and_then(Value::as_array_mut).unwrap();
            let first = keys[0].clone();
            keys.push(first);
        }),
        (Some("wp-wallet-metadata"), "/.well-known/openid-federation") => {
            text = px.resign(&text, |_, p| drop(metadata_mut(p, "wallet_solution").insert("wallet_metadata".into(), "metadata".into())));
        }
        (Some("wp-key-use"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| {
            for k in metadata_mut(p, "wallet_solution").get_mut("jwks").and_then(|j| j.get_mut("keys")).and_then(Value::as_array_mut).unwrap() {
                k["use"] = "attest".into();
            }
        }),
        (Some("wp-private-key"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| {
            for k in metadata_mut(p, "wallet_solution").get_mut("jwks").and_then(|j| j.get_mut("keys")).and_then(Value::as_array_mut).unwrap() {
                k["d"] = "c2VjcmV0".into();
            }
        }),
        (Some("wp-no-key-reference"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| drop(metadata_mut(p, "wallet_solution").remove("jwks"))),
        (Some("wp-jwks-uri-http"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| {
            let ws = metadata_mut(p, "wallet_solution");
            ws.remove("jwks");
            ws.insert("jwks_uri".into(), format!("{}/jwks", px.entity).into());
        }),
        (Some("wp-signed-jwks-uri-http"), "/.well-known/openid-federation") => text = px.resign(&text, |_, p| {
            let ws = metadata_mut(p, "wallet_solution");
            ws.remove("jwks");
            ws.insert("signed_jwks_uri".into(), format!("{}/signed_jwks", px.entity).into());
        }),
        (Some("wp-instances-error-text"), "/wallet-instances") if method == Method::GET && status.is_client_error() => set_ct(&mut out_headers, "text/plain"),
        (Some("wp-forged-bearer-code"), "/wallet-instances") if method == Method::GET && headers.contains_key(header::AUTHORIZATION) && status.is_client_error() => text = error_code(&text, "invalid_token"),
        (Some("wp-revoke-code"), p) if method == Method::PATCH && p.starts_with("/wallet-instances/") && status == StatusCode::UNAUTHORIZED => text = error_code(&text, "invalid_request"),
        _ => {}
    }
    if let Some(wp) = &px.wp {
        wp.observe_and_alter(fault, &method, &path, &body, &mut status, &mut out_headers, &mut text);
    }
    if let Some(ip) = issuer_px {
        ip.observe_and_alter(fault, &method, &path, &headers, &body, &mut status, &mut out_headers, &mut text);
    }
    let _ = &px.leaf;
    if out_headers.get(header::CONTENT_ENCODING).is_some_and(|v| v == "gzip") {
        return (status, out_headers, wallet_core::status::encoding::gzip(text.as_bytes())).into_response();
    }
    (status, out_headers, text).into_response()
}

fn url_enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
