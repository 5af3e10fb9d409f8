//! A federation on loopback for the verifier's tests: a trust anchor, a PID issuer (a
//! federation leaf with `openid_credential_issuer` metadata), an issuer nobody onboarded, and
//! the verifier, all over real HTTP; the wallet is played here with wallet-core's wallet side.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code, unreachable_pub)]

pub mod pg;
pub mod status_list;

use serde_json::{Map, Value, json};
use verifier::{Config, Verifier};
use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{Signer as _, SoftwareSigner};
use wallet_core::oid4vp::request_object::{ParsedRequestObject, VerifiedRequest, VerifyContext};
use wallet_core::oid4vp::response::{AuthorizationResponse, ErrorResponse, VpToken, response_form};
use wallet_core::oid4vp::{AuthorizationRequestUrl, Profile, RequestRef, RequestUriMethod, RequestUriPost, WalletMetadata, WalletNonce};
use wallet_core::sd_jwt::{ClaimPath, KeyBindingInput, SdJwt};
use wallet_core::time::UnixTime;
use wallet_core::vc::{SdJwtVcBuilder, Vct};
use wallet_core::x509::TrustAnchors;

pub const TOKEN: &str = "test-admin-token";
pub const BACK: &str = "https://integrator.example.it/back";

async fn bind() -> (tokio::net::TcpListener, EntityId) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())).unwrap();
    (listener, id)
}

/// A federation leaf issuing PIDs: its key is in its `openid_credential_issuer.jwks`; it
/// serves its Token Status List at [`Issuer::status_uri`] (index 0 valid, 1 revoked, 2
/// suspended), which every PID it issues names unless a test says otherwise (a PID's
/// `status` is REQUIRED, IT-Wallet 1.4 §4.3).
pub struct Issuer {
    pub id: EntityId,
    pub key: SoftwareSigner,
    /// Its federation entity (its CA certificate, once onboarded; its `/crl`).
    pub state: trust_anchor::AppState,
    /// Its status list's URI.
    pub status_uri: String,
}

impl Issuer {
    pub fn pid(&self, holder: &SoftwareSigner) -> SdJwt {
        self.pid_with_status(holder, None)
    }

    /// A PID whose `status.status_list` points at `(idx, uri)` when given, else at index 0
    /// (valid) of the issuer's own list.
    pub fn pid_with_status(&self, holder: &SoftwareSigner, status: Option<(u64, &str)>) -> SdJwt {
        self.pid_signed(holder, status, None)
    }

    /// A PID as [`Self::pid_with_status`], with `x5c` in its header when given.
    pub fn pid_signed(&self, holder: &SoftwareSigner, status: Option<(u64, &str)>, x5c: Option<Vec<String>>) -> SdJwt {
        self.build_pid(holder, Some(status.unwrap_or((0, &self.status_uri))), x5c)
    }

    /// A PID without the `status` claim IT-Wallet 1.4 §4.3 makes REQUIRED (verifiers must
    /// refuse it).
    pub fn pid_without_status(&self, holder: &SoftwareSigner) -> SdJwt {
        self.build_pid(holder, None, None)
    }

    fn build_pid(&self, holder: &SoftwareSigner, status: Option<(u64, &str)>, x5c: Option<Vec<String>>) -> SdJwt {
        let attrs = json!({
            "given_name": "Mario", "family_name": "Rossi", "birthdate": "1980-01-10",
            "place_of_birth": {"locality": "Roma", "country": "IT"}, "nationalities": ["IT"],
            "tax_id_code": "TINIT-RSSMRA80A10H501Z"
        });
        let now = UnixTime::now();
        let b = SdJwtVcBuilder::new(self.id.as_str(), Vct::new(Vct::PID).unwrap(), attrs.as_object().cloned().unwrap())
            .validity(now.plus(-60), now.plus(86_400))
            .issuing("Istituto Poligrafico e Zecca dello Stato", "IT")
            .pid_metadata("NzbLsXh8uDCcd7noWXFZAfHkxZsRGC9Xs", "2033-03-19", "it_cie", "high")
            .holder_key(&holder.public_jwk());
        let b = match status {
            Some((idx, uri)) => b.status(idx, uri),
            None => b,
        };
        let b = match x5c {
            Some(chain) => b.x5c(chain),
            None => b,
        };
        b.kid(self.key.kid().unwrap()).sign(&self.key).unwrap()
    }
}

async fn start_issuer(dir: &std::path::Path, name: &str, anchor: &TrustAnchorConfig) -> Issuer {
    let (listener, id) = bind().await;
    let key = SoftwareSigner::generate().unwrap();
    let mut config = trust_anchor::Config::trust_anchor(id.clone(), dir.join(name), TOKEN);
    config.authority = false;
    config.authority_hints = vec![anchor.id.clone()];
    // Its trust marks are checked against the anchor before it publishes them.
    config.trust_anchors = vec![anchor.clone()];
    config.organization_name = format!("PID provider {name}");
    let md = json!({
        "openid_credential_issuer": {
            "credential_issuer": id, "jwks": {"keys": [key.public_jwk()]},
            "credential_configurations_supported": {"dc_sd_jwt_PersonIdentificationData": {"format": "dc+sd-jwt", "vct": Vct::PID}}
        },
        "federation_entity": {"homepage_uri": id, "policy_uri": id, "logo_uri": format!("{id}/logo.svg"), "contacts": ["pid@pec.example.it"]}
    });
    config.metadata = md.as_object().cloned().unwrap();
    let state = trust_anchor::AppState::open(config).unwrap();
    let status_uri = format!("{id}/status");
    let app = status_list::serve(trust_anchor::router(state.clone()), &key, &id, &status_uri);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Issuer { id, key, state, status_uri }
}


pub struct Fed {
    pub dir: tempfile::TempDir,
    pub anchor: TrustAnchorConfig,
    pub root_der: Vec<u8>,
    pub issuer: Issuer,
    /// An issuer with a configuration but never onboarded: no chain to the anchor.
    pub rogue: Issuer,
    pub verifier_id: EntityId,
    pub verifier: Verifier,
    pub http: reqwest::Client,
    /// The verifier's configuration (replicas start from it).
    pub config: Config,
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

/// The credential issuers' trust mark type under `anchor` (IT-Wallet 1.4 §1.1:
/// `<authority>/trust_marks/<purpose>/<entity_type>`, as `tessera up` names it).
pub fn issuer_mark(anchor: &EntityId) -> String {
    format!("{anchor}/trust_marks/openid_credential_issuer/public")
}

impl Fed {
    /// The anchor issues `sub` the credential issuers' mark, which `sub` then publishes in
    /// its Entity Configuration.
    pub async fn mark(&self, sub: &EntityId) {
        let body = json!({"sub": sub, "trust_mark_type": issuer_mark(&self.anchor.id), "claims": {"organization_type": "public"}});
        let r = self.http.post(format!("{}/admin/trust-marks", self.anchor.id)).bearer_auth(TOKEN).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let m: Value = r.json().await.unwrap();
        let r = self.http.post(format!("{sub}/admin/own-trust-marks")).bearer_auth(TOKEN).json(&json!({"trust_mark": m["trust_mark"]})).send().await.unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    }

    /// The anchor revokes `sub`'s mark (its configuration still carries it, signed and
    /// unexpired: only its status says so).
    pub async fn revoke_mark(&self, sub: &EntityId) {
        let body = json!({"sub": sub, "trust_mark_type": issuer_mark(&self.anchor.id)});
        let r = self.http.post(format!("{}/admin/trust-marks/revoke", self.anchor.id)).bearer_auth(TOKEN).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// The federation, the verifier's configuration edited by `edit` before it opens.
    pub async fn with(edit: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let (listener, anchor_id) = bind().await;
        let mut ta_config = trust_anchor::Config::trust_anchor(anchor_id.clone(), dir.path().join("ta"), TOKEN);
        // The anchor issues credential issuers their mark (IT-Wallet 1.4 §1.1).
        ta_config.trust_mark_issuers.insert(issuer_mark(&anchor_id), vec![anchor_id.to_string()]);
        let ta = trust_anchor::AppState::open(ta_config).unwrap();
        let (jwks, root_der): (JwkSet, Vec<u8>) = (ta.jwks(), ta.root_ca().unwrap().to_vec());
        tokio::spawn(async move { axum::serve(listener, trust_anchor::router(ta)).await.unwrap() });
        let anchor = TrustAnchorConfig { id: anchor_id.clone(), jwks };

        let issuer = start_issuer(dir.path(), "pid", &anchor).await;
        onboard(&http, &anchor_id, &issuer.id, "openid_credential_issuer").await;
        let rogue = start_issuer(dir.path(), "rogue", &anchor).await;

        let (listener, verifier_id) = bind().await;
        let mut config = Config::new(verifier_id.clone(), dir.path().join("verifier"));
        config.admin_token = TOKEN.into();
        config.trust_anchors = vec![anchor.clone()];
        config.authority_hints = vec![anchor_id.clone()];
        config.redirect_uris = vec![BACK.into()];
        config.organization_name = "Comune di Prova".into();
        edit(&mut config);
        let verifier = Verifier::builder(config.clone()).x509_roots(TrustAnchors::from_der(vec![root_der.clone()]).unwrap()).open().unwrap();
        let v = verifier.clone();
        tokio::spawn(async move { verifier::serve_listener(v, listener, std::future::pending()).await.unwrap() });
        onboard(&http, &anchor_id, &verifier_id, "openid_credential_verifier").await;
        Self { dir, anchor, root_der, issuer, rogue, verifier_id, verifier, http, config }
    }

    /// Another replica of the verifier (the same configuration, entity id and keys, its own
    /// data directory `name`) served on a port of its own: its base URL and server task.
    pub async fn replica(&self, name: &str) -> (Verifier, String, tokio::task::JoinHandle<()>) {
        self.replica_with(name, std::sync::Arc::new(wallet_core::time::SystemClock)).await
    }

    /// As [`Fed::replica`], with `clock`.
    pub async fn replica_with(&self, name: &str, clock: std::sync::Arc<dyn wallet_core::time::Clock>) -> (Verifier, String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = self.config.clone();
        config.data_dir = self.dir.path().join(name);
        let v = Verifier::builder(config).clock(clock).x509_roots(TrustAnchors::from_der(vec![self.root_der.clone()]).unwrap()).open().unwrap();
        let served = v.clone();
        let task = tokio::spawn(async move { verifier::serve_listener(served, listener, std::future::pending()).await.unwrap() });
        (v, base, task)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.verifier_id)
    }

    /// Status and JSON body (Null when empty).
    pub async fn json(r: reqwest::RequestBuilder) -> (u16, Value) {
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
    }

    /// Creates a session; the body of the 201.
    pub async fn session(&self, body: Value) -> Value {
        let (s, v) = Self::json(self.http.post(self.url("/sessions")).bearer_auth(TOKEN).json(&body)).await;
        assert_eq!(s, 201, "{v}");
        v
    }

    pub async fn state(&self, id: &str) -> Value {
        let (s, v) = Self::json(self.http.get(self.url(&format!("/sessions/{id}"))).bearer_auth(TOKEN)).await;
        assert_eq!(s, 200, "{v}");
        v
    }

    pub async fn result(&self, id: &str, response_code: Option<&str>) -> (u16, Value) {
        let body = match response_code {
            Some(c) => json!({"response_code": c}),
            None => json!({}),
        };
        Self::json(self.http.post(self.url(&format!("/sessions/{id}/result"))).bearer_auth(TOKEN).json(&body)).await
    }
}

/// The citizen's wallet: a holder key; requests fetched and verified with wallet-core.
pub struct Wallet {
    pub holder: SoftwareSigner,
}

/// What the wallet got from the verifier.
pub struct Fetched {
    pub request: VerifiedRequest,
    /// Empty for a request by value.
    pub request_uri: String,
    pub header: wallet_core::jose::JwsHeader,
}

impl Wallet {
    pub fn new() -> Self {
        Self { holder: SoftwareSigner::generate().unwrap() }
    }

    /// Fetches the request object of `wallet_url` (GET or POST as the URL says): status and
    /// body.
    pub async fn fetch_raw(&self, fed: &Fed, wallet_url: &str) -> (u16, String, Option<WalletNonce>) {
        self.fetch_raw_via(fed, wallet_url, None).await
    }

    /// As [`Wallet::fetch_raw`], the request sent to `via` (another replica's base URL, as a
    /// load balancer would) instead of the verifier's entity id.
    pub async fn fetch_raw_via(&self, fed: &Fed, wallet_url: &str, via: Option<&str>) -> (u16, String, Option<WalletNonce>) {
        let url = AuthorizationRequestUrl::parse(wallet_url).unwrap();
        let RequestRef::Uri { uri, method, .. } = &url.request else { panic!("by reference") };
        let uri = &match via {
            Some(base) => uri.replacen(fed.verifier_id.as_str().trim_end_matches('/'), base, 1),
            None => uri.clone(),
        };
        let (resp, nonce) = match method {
            RequestUriMethod::Get => (fed.http.get(uri).header("accept", "application/oauth-authz-req+jwt").send().await.unwrap(), None),
            RequestUriMethod::Post => {
                let nonce = WalletNonce::generate().unwrap();
                let post = RequestUriPost { wallet_metadata: Some(WalletMetadata::tessera(Profile::ItWallet14)), wallet_nonce: Some(nonce.clone()) };
                let r = fed
                    .http
                    .post(uri)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("accept", "application/oauth-authz-req+jwt")
                    .body(post.to_form())
                    .send()
                    .await
                    .unwrap();
                (r, Some(nonce))
            }
        };
        let status = resp.status().as_u16();
        if status == 200 {
            assert_eq!(resp.headers()["content-type"], "application/oauth-authz-req+jwt");
        }
        (status, resp.text().await.unwrap(), nonce)
    }

    /// Fetches (by reference) or takes (by value) the request object of `wallet_url` and
    /// verifies it with every wallet check of wallet-core, the federation CA root as the
    /// X.509 anchor (`x5c`, `x509_hash`).
    pub async fn fetch(&self, fed: &Fed, wallet_url: &str) -> Fetched {
        self.fetch_via(fed, wallet_url, None).await
    }

    /// As [`Wallet::fetch`], through `via` (see [`Wallet::fetch_raw_via`]).
    pub async fn fetch_via(&self, fed: &Fed, wallet_url: &str, via: Option<&str>) -> Fetched {
        let url = AuthorizationRequestUrl::parse(wallet_url).unwrap();
        let (body, nonce, request_uri) = match &url.request {
            RequestRef::Uri { uri, .. } => {
                let (status, body, nonce) = self.fetch_raw_via(fed, wallet_url, via).await;
                assert_eq!(status, 200, "{body}");
                (body, nonce, Some(uri.clone()))
            }
            RequestRef::Value(jwt) => (jwt.clone(), None, None),
        };
        // The per-session request_uri (`/request-uri?id=<handle>`) as fetched: wallet-core
        // matches it against the registered `/request-uri` with the query added.
        let anchors = [fed.anchor.clone()];
        let roots = TrustAnchors::from_der(vec![fed.root_der.clone()]).unwrap();
        let ctx = VerifyContext {
            request_uri: request_uri.as_deref(),
            wallet_nonce: nonce.as_ref(),
            federation_anchors: &anchors,
            x509_anchors: Some(&roots),
            ..VerifyContext::new(&url.client_id, Profile::ItWallet14, UnixTime::now())
        };
        let parsed = ParsedRequestObject::parse(&body).unwrap();
        let request = parsed.verify(&ctx).unwrap();
        Fetched { request, request_uri: request_uri.unwrap_or_default(), header: parsed.header().clone() }
    }

    /// A presentation of `sd` disclosing `claims`, bound to `aud` and `nonce`.
    pub fn present(&self, sd: &SdJwt, claims: &[&str], aud: &str, nonce: &str) -> String {
        let paths: Vec<ClaimPath> = claims.iter().map(|c| ClaimPath::key(c)).collect();
        sd.present(Some(&paths), &KeyBindingInput { aud: aud.into(), nonce: nonce.into(), iat: UnixTime::now() }, &self.holder).unwrap()
    }

    /// The encrypted response form for `req` carrying `vp_token`.
    pub fn response_form(&self, req: &VerifiedRequest, vp_token: Vec<(&str, String)>, state: Option<String>) -> String {
        let map = vp_token.into_iter().map(|(k, v)| (k.to_owned(), vec![v])).collect();
        let resp = AuthorizationResponse { vp_token: VpToken(map), state };
        response_form(&resp.encrypt(&req.encryption_key, req.enc, &req.nonce).unwrap())
    }

    pub fn decline_form(state: &str) -> String {
        ErrorResponse::access_denied(Some(state.to_owned())).to_form()
    }
}

pub async fn post_response(fed: &Fed, response_uri: &str, form: String) -> (u16, Value) {
    Fed::json(fed.http.post(response_uri).header("content-type", "application/x-www-form-urlencoded").body(form)).await
}

/// A clock running with the system's, shifted by a number of seconds a test moves.
#[derive(Default)]
pub struct ShiftedClock(pub std::sync::atomic::AtomicI64);

impl ShiftedClock {
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
    }
}

impl wallet_core::time::Clock for ShiftedClock {
    fn now(&self) -> UnixTime {
        UnixTime::now().plus(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// A `text/event-stream` response read event by event.
pub struct EventStream {
    resp: reqwest::Response,
    buf: String,
    /// Comment lines seen (keep-alives).
    pub comments: usize,
}

impl EventStream {
    pub fn new(resp: reqwest::Response) -> Self {
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        Self { resp, buf: String::new(), comments: 0 }
    }

    /// The next event's name and data (JSON); `None` when the server ended the stream. Fails
    /// the test after `within`.
    pub async fn next(&mut self, within: std::time::Duration) -> Option<(String, Value)> {
        tokio::time::timeout(within, async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..end + 2).collect();
                    let (mut event, mut data) = (String::from("message"), String::new());
                    for line in block.lines() {
                        if line.starts_with(':') {
                            self.comments += 1;
                        } else if let Some(v) = line.strip_prefix("event:") {
                            event = v.trim().to_owned();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim_start());
                        }
                    }
                    if data.is_empty() {
                        continue;
                    }
                    return Some((event, serde_json::from_str(&data).unwrap()));
                }
                match self.resp.chunk().await.unwrap() {
                    Some(c) => self.buf.push_str(std::str::from_utf8(&c).unwrap()),
                    None => return None,
                }
            }
        })
        .await
        .expect("an event in time")
    }
}

pub fn claims_of(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}
