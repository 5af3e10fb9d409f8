//! A federation on loopback for the in-person page's tests (`web.rs`, `browser.rs`): a trust
//! anchor, an issuer of PIDs and driving licences (a federation leaf whose
//! `openid_credential_issuer` metadata lists both `vct`s), an issuer nobody onboarded, and the
//! verifier with two operators and a clock the test can move forward; the citizen's wallet is
//! played with wallet-core's wallet side, over real HTTP. (Written after the pattern of
//! `tests/common`, which belongs to the integrator API's tests.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code, unreachable_pub)]

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};
use verifier::web::{Operator, WebConfig};
use verifier::{Config, Verifier};
use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{Signer as _, SoftwareSigner};
use wallet_core::oid4vp::request_object::{ParsedRequestObject, VerifiedRequest, VerifyContext};
use wallet_core::oid4vp::response::{AuthorizationResponse, ErrorResponse, VpToken, WalletErrorCode, response_form};
use wallet_core::oid4vp::{AuthorizationRequestUrl, Profile, RequestRef, RequestUriMethod, RequestUriPost, WalletMetadata, WalletNonce};
use wallet_core::sd_jwt::{ClaimPath, KeyBindingInput, SdJwt};
use wallet_core::time::{Clock, UnixTime};
use wallet_core::vc::{SdJwtVcBuilder, Vct};
use wallet_core::x509::TrustAnchors;

pub const TOKEN: &str = "test-admin-token";
/// The operators: (username, password, display name).
pub const OPERATORS: [(&str, &str, &str); 2] = [("agente.rossi", "rossi-password-1", "Agente Rossi"), ("agente.bianchi", "bianchi-password-2", "Agente Bianchi")];

/// The system clock moved forward by a settable offset (to expire sessions).
#[derive(Debug, Default)]
pub struct ShiftedClock(AtomicI64);

impl ShiftedClock {
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> UnixTime {
        UnixTime::now().plus(self.0.load(Ordering::SeqCst))
    }
}

async fn bind() -> (tokio::net::TcpListener, EntityId) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())).unwrap();
    (listener, id)
}

#[path = "../common/status_list.rs"]
mod status_list;

/// A federation leaf issuing PIDs and driving licences; it serves its status list at
/// `status_uri`, which its PIDs name (index 0, valid).
pub struct Issuer {
    pub id: EntityId,
    pub key: SoftwareSigner,
    pub status_uri: String,
}

impl Issuer {
    fn builder(&self, vct: &str, attrs: Value, holder: &SoftwareSigner) -> SdJwtVcBuilder {
        let now = UnixTime::now();
        SdJwtVcBuilder::new(self.id.as_str(), Vct::new(vct).unwrap(), attrs.as_object().cloned().unwrap())
            .validity(now.plus(-60), now.plus(86_400))
            .issuing("Motorizzazione Civile", "IT")
            .holder_key(&holder.public_jwk())
            .kid(self.key.kid().unwrap())
    }

    fn sign(&self, vct: &str, attrs: Value, holder: &SoftwareSigner) -> SdJwt {
        self.builder(vct, attrs, holder).sign(&self.key).unwrap()
    }

    /// A driving licence whose status is in the list at `status_uri`, index 3.
    pub fn mdl_with_status(&self, holder: &SoftwareSigner, status_uri: &str) -> SdJwt {
        self.builder(Vct::MDL, mdl_attrs(), holder).status(3, status_uri).sign(&self.key).unwrap()
    }

    pub fn pid(&self, holder: &SoftwareSigner, birthdate: &str) -> SdJwt {
        let attrs = json!({
            "given_name": "Mario", "family_name": "Rossi", "birthdate": birthdate,
            "place_of_birth": {"locality": "Roma", "country": "IT"}, "nationalities": ["IT"],
            "tax_id_code": "TINIT-RSSMRA80A10H501Z"
        });
        self.builder(Vct::PID, attrs, holder)
            .pid_metadata("NzbLsXh8uDCcd7noWXFZAfHkxZsRGC9Xs", "2033-03-19", "it_cie", "high")
            .status(0, &self.status_uri)
            .sign(&self.key)
            .unwrap()
    }

    pub fn mdl(&self, holder: &SoftwareSigner) -> SdJwt {
        self.sign(Vct::MDL, mdl_attrs(), holder)
    }
}

fn mdl_attrs() -> Value {
    json!({
            "given_name": "Maria", "family_name": "Bianchi", "birth_date": "1985-04-21",
            "issue_date": "2020-06-01", "expiry_date": "2030-06-01", "document_number": "U1A23B456C",
            "portrait": portrait_b64(),
            "driving_privileges": [
                {"vehicle_category_code": "AM", "issue_date": "2003-05-02", "expiry_date": "2030-06-01"},
                {"vehicle_category_code": "B", "issue_date": "2004-07-15", "expiry_date": "2030-06-01"}
            ]
    })
}

/// A small greyscale PNG portrait (a head and shoulders), base64 as the mDL's `portrait`.
pub fn portrait_b64() -> String {
    use base64::Engine as _;
    let (w, h) = (96usize, 120usize);
    let mut raw = Vec::with_capacity(h * (w + 1));
    for y in 0..h {
        raw.push(0u8);
        for x in 0..w {
            let (fx, fy) = (x as f64 - 48.0, y as f64);
            let head = (fx / 22.0).powi(2) + ((fy - 45.0) / 28.0).powi(2) <= 1.0;
            let body = fy > 78.0 && (fx / 44.0).powi(2) + ((fy - 125.0) / 47.0).powi(2) <= 1.0;
            raw.push(if head || body { 90 } else { 215 });
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).unwrap();
    let idat = z.finish().unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8; 4], data: &[u8]| {
        png.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        png.extend_from_slice(&crc.finalize().to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&u32::try_from(w).unwrap().to_be_bytes());
    ihdr.extend_from_slice(&u32::try_from(h).unwrap().to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &idat);
    chunk(b"IEND", &[]);
    base64::engine::general_purpose::STANDARD.encode(png)
}

async fn start_issuer(dir: &std::path::Path, name: &str, anchor: &TrustAnchorConfig) -> Issuer {
    let (listener, id) = bind().await;
    let key = SoftwareSigner::generate().unwrap();
    let mut config = trust_anchor::Config::trust_anchor(id.clone(), dir.join(name), TOKEN);
    config.authority = false;
    config.authority_hints = vec![anchor.id.clone()];
    // Its trust marks are checked against the anchor before it publishes them.
    config.trust_anchors = vec![anchor.clone()];
    config.organization_name = format!("Motorizzazione {name}");
    let md = json!({
        "openid_credential_issuer": {
            "credential_issuer": id, "jwks": {"keys": [key.public_jwk()]},
            "credential_configurations_supported": {
                "dc_sd_jwt_PersonIdentificationData": {"format": "dc+sd-jwt", "vct": Vct::PID},
                "dc_sd_jwt_mDL": {"format": "dc+sd-jwt", "vct": Vct::MDL}
            }
        },
        "federation_entity": {"homepage_uri": id, "policy_uri": id, "logo_uri": format!("{id}/logo.svg"), "contacts": ["mdl@pec.example.it"]}
    });
    config.metadata = md.as_object().cloned().unwrap();
    let state = trust_anchor::AppState::open(config).unwrap();
    let status_uri = format!("{id}/status");
    let app = status_list::serve(trust_anchor::router(state), &key, &id, &status_uri);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Issuer { id, key, status_uri }
}

/// The credential issuers' trust mark type under `anchor`, as `tessera up` names it: the
/// verifier of these tests requires it (IT-Wallet 1.4 §8), as `tessera up`'s does.
pub fn issuer_mark(anchor: &EntityId) -> String {
    format!("{anchor}/trust_marks/openid_credential_issuer/public")
}

/// The anchor issues `sub` the issuers' mark, which `sub` publishes.
async fn mark(http: &reqwest::Client, anchor: &EntityId, sub: &EntityId) {
    let body = json!({"sub": sub, "trust_mark_type": issuer_mark(anchor), "claims": {"organization_type": "public"}});
    let r = http.post(format!("{anchor}/admin/trust-marks")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let m: serde_json::Value = r.json().await.unwrap();
    let r = http.post(format!("{sub}/admin/own-trust-marks")).bearer_auth(TOKEN).json(&json!({"trust_mark": m["trust_mark"]})).send().await.unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
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

/// Argon2id PHC strings with small parameters (the verifier reads the parameters from the
/// hash): debug builds of the tests would spend seconds on the recommended ones.
pub fn cheap_hash(password: &str) -> String {
    use argon2::password_hash::PasswordHasher as _;
    let params = argon2::Params::new(1024, 1, 1, None).unwrap();
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    a.hash_password(password.as_bytes()).unwrap().to_string()
}

pub struct WebFed {
    pub dir: tempfile::TempDir,
    pub anchor: TrustAnchorConfig,
    pub root_der: Vec<u8>,
    pub issuer: Issuer,
    /// An issuer with a configuration but never onboarded: no chain to the anchor.
    pub rogue: Issuer,
    pub verifier_id: EntityId,
    pub verifier: Verifier,
    pub clock: Arc<ShiftedClock>,
    pub http: reqwest::Client,
}

impl WebFed {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// A federation whose verifier configuration `tweak` may change.
    pub async fn with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let (listener, anchor_id) = bind().await;
        let mut ta_config = trust_anchor::Config::trust_anchor(anchor_id.clone(), dir.path().join("ta"), TOKEN);
        ta_config.trust_mark_issuers.insert(issuer_mark(&anchor_id), vec![anchor_id.to_string()]);
        let ta = trust_anchor::AppState::open(ta_config).unwrap();
        let (jwks, root_der): (JwkSet, Vec<u8>) = (ta.jwks(), ta.root_ca().unwrap().to_vec());
        tokio::spawn(async move { axum::serve(listener, trust_anchor::router(ta)).await.unwrap() });
        let anchor = TrustAnchorConfig { id: anchor_id.clone(), jwks };

        let issuer = start_issuer(dir.path(), "issuer", &anchor).await;
        onboard(&http, &anchor_id, &issuer.id, "openid_credential_issuer").await;
        mark(&http, &anchor_id, &issuer.id).await;
        let rogue = start_issuer(dir.path(), "rogue", &anchor).await;

        let (listener, verifier_id) = bind().await;
        let mut config = Config::new(verifier_id.clone(), dir.path().join("verifier"));
        config.admin_token = TOKEN.into();
        config.trust_anchors = vec![anchor.clone()];
        config.authority_hints = vec![anchor_id.clone()];
        config.organization_name = "Polizia Locale di Prova".into();
        config.session_ttl = 120;
        config.credential_issuer_trust_marks = vec![issuer_mark(&anchor_id)];
        config.web = WebConfig {
            operators: OPERATORS
                .iter()
                .map(|(u, p, d)| Operator { username: (*u).into(), display_name: (*d).into(), password_hash: cheap_hash(p) })
                .collect(),
            test_federation: true,
            ..WebConfig::default()
        };
        tweak(&mut config);
        let clock = Arc::new(ShiftedClock::default());
        let verifier = Verifier::builder(config)
            .clock(clock.clone())
            .x509_roots(TrustAnchors::from_der(vec![root_der.clone()]).unwrap())
            .open()
            .unwrap();
        let v = verifier.clone();
        tokio::spawn(async move { verifier::serve_listener(v, listener, std::future::pending()).await.unwrap() });
        onboard(&http, &anchor_id, &verifier_id, "openid_credential_verifier").await;
        Self { dir, anchor, root_der, issuer, rogue, verifier_id, verifier, clock, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.verifier_id)
    }

    /// Moves the verifier's clock past every session's expiry.
    pub fn expire_sessions(&self) {
        self.clock.advance(self.verifier.config().session_ttl + 5);
    }
}

/// What the citizen does with a request.
pub enum Answer {
    /// Presents a credential disclosing these claims (the query id, the credential).
    Present(&'static str, SdJwt, Vec<&'static str>),
    /// Declines (`access_denied`).
    Decline,
    /// The wallet refuses the request itself with this error code (WP_090).
    Refuse(&'static str),
}

/// The citizen's wallet: a holder key; requests fetched and verified with wallet-core.
pub struct Wallet {
    pub holder: SoftwareSigner,
}

impl Wallet {
    pub fn new() -> Self {
        Self { holder: SoftwareSigner::generate().unwrap() }
    }

    /// Fetches the request object of `wallet_url` (as the URL says, by reference) and
    /// verifies it with every wallet check of wallet-core.
    pub async fn fetch(&self, fed: &WebFed, wallet_url: &str) -> VerifiedRequest {
        let url = AuthorizationRequestUrl::parse(wallet_url).unwrap();
        let RequestRef::Uri { uri, method, .. } = &url.request else { panic!("the page's requests are by reference") };
        let (resp, nonce) = match method {
            RequestUriMethod::Get => (fed.http.get(uri).send().await.unwrap(), None),
            RequestUriMethod::Post => {
                let nonce = WalletNonce::generate().unwrap();
                let post = RequestUriPost { wallet_metadata: Some(WalletMetadata::tessera(Profile::ItWallet14)), wallet_nonce: Some(nonce.clone()) };
                let r = fed.http.post(uri).header("content-type", "application/x-www-form-urlencoded").body(post.to_form()).send().await.unwrap();
                (r, Some(nonce))
            }
        };
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        assert_eq!(status, 200, "{body}");
        let anchors = [fed.anchor.clone()];
        let roots = TrustAnchors::from_der(vec![fed.root_der.clone()]).unwrap();
        let ctx = VerifyContext {
            request_uri: Some(uri.as_str()),
            wallet_nonce: nonce.as_ref(),
            federation_anchors: &anchors,
            x509_anchors: Some(&roots),
            ..VerifyContext::new(&url.client_id, Profile::ItWallet14, UnixTime::now())
        };
        ParsedRequestObject::parse(&body).unwrap().verify(&ctx).unwrap()
    }

    /// Answers a fetched request; the response_uri's status and body.
    pub async fn answer(&self, fed: &WebFed, req: &VerifiedRequest, answer: Answer) -> (u16, Value) {
        let form = match answer {
            Answer::Present(query_id, sd, claims) => {
                let paths: Vec<ClaimPath> = claims.iter().map(|c| ClaimPath::key(c)).collect();
                let kb = KeyBindingInput { aud: req.client_id.as_str().into(), nonce: req.nonce.clone(), iat: UnixTime::now() };
                let p = sd.present(Some(&paths), &kb, &self.holder).unwrap();
                let mut map = std::collections::BTreeMap::new();
                map.insert(query_id.to_owned(), vec![p]);
                let resp = AuthorizationResponse { vp_token: VpToken(map.into_iter().collect()), state: req.state.clone() };
                response_form(&resp.encrypt(&req.encryption_key, req.enc, &req.nonce).unwrap())
            }
            Answer::Decline => ErrorResponse::access_denied(req.state.clone()).to_form(),
            Answer::Refuse(code) => ErrorResponse {
                error: WalletErrorCode::from_code(code),
                error_description: Some("request object expired at 1 (now 2)".into()),
                state: req.state.clone(),
            }
            .to_form(),
        };
        let r = fed.http.post(&req.response_uri).header("content-type", "application/x-www-form-urlencoded").body(form).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

/// The driving licence check's claims (the preset's query).
pub const MDL_CLAIMS: [&str; 6] = ["portrait", "given_name", "family_name", "document_number", "expiry_date", "driving_privileges"];
