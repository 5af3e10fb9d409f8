//! A federation on loopback for the tests: a trust anchor, the test OpenID Provider under it,
//! and relying parties (each a federation leaf hosting a `RelyingParty`), onboarded through
//! the trust anchor's admin API, over real HTTP.
#![allow(dead_code, unreachable_pub)]

use serde_json::{Map, Value, json};
use wallet_core::jose::JwsAlg;
use wallet_core::time::UnixTime;
use spid_cie_oidc::op::{self, OpConfig, OpState, Profile};
use spid_cie_oidc::rp::{RelyingParty, RpConfig};
use wallet_core::federation::{EntityId, TrustAnchorConfig};

pub const TOKEN: &str = "test-admin-token";
pub const MARIO: &str = "TINIT-RSSMRA80A01H501U";

pub struct Fed {
    pub dir: tempfile::TempDir,
    pub ta: EntityId,
    pub anchor: TrustAnchorConfig,
    pub op: EntityId,
    pub op_state: OpState,
    pub http: reqwest::Client,
}

pub struct Rp {
    pub id: EntityId,
    pub rp: RelyingParty,
}

async fn listener() -> (tokio::net::TcpListener, EntityId) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())).unwrap();
    (l, id)
}

pub fn rp_mark_type(ta: &EntityId) -> String {
    format!("{ta}/openid_relying_party/public/")
}

impl Fed {
    pub async fn new(profile: Profile) -> Self {
        Self::with(profile, |_| {}).await
    }

    /// A federation whose OP configuration `edit` adjusts; the OP is served with client
    /// addresses (`service_kit::serve`), as in production.
    pub async fn with(profile: Profile, edit: impl FnOnce(&mut OpConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (l, ta) = listener().await;
        let mut c = trust_anchor::Config::trust_anchor(ta.clone(), dir.path().join("ta"), TOKEN);
        c.trust_mark_issuers.insert(rp_mark_type(&ta), vec![ta.to_string()]);
        c.trust_mark_issuers.insert(format!("{ta}/openid_provider/private/"), vec![ta.to_string()]);
        let st = trust_anchor::AppState::open(c).unwrap();
        let anchor = TrustAnchorConfig { id: ta.clone(), jwks: st.jwks() };
        tokio::spawn(async move { axum::serve(l, trust_anchor::router(st)).await.unwrap() });

        let (l, op_id) = listener().await;
        let mut oc = OpConfig::new(op_id.clone(), dir.path().join("op"), vec![anchor.clone()], vec![ta.clone()]);
        oc.admin_token = TOKEN.into();
        oc.profile = profile;
        oc.required_trust_marks = vec![rp_mark_type(&ta)];
        edit(&mut oc);
        let op_state = OpState::open(oc).unwrap();
        let s = op_state.clone();
        tokio::spawn(async move { service_kit::serve::serve(l, op::router(s), std::future::pending()).await.unwrap() });

        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let fed = Self { dir, ta, anchor, op: op_id, op_state, http };
        let r = fed.onboard(&fed.op.clone(), "openid_provider").await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        fed
    }

    pub async fn onboard(&self, id: &EntityId, entity_type: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/admin/subordinates", self.ta))
            .bearer_auth(TOKEN)
            .json(&json!({"entity_id": id, "entity_types": [entity_type]}))
            .send()
            .await
            .unwrap()
    }

    /// A relying party hosted by its own federation leaf; `onboard` registers it with the
    /// anchor, `mark` also issues and publishes its trust mark.
    pub async fn rp(&self, name: &str, onboard: bool, mark: bool) -> Rp {
        self.rp_with(name, onboard, mark, Vec::new(), |_| {}).await
    }

    /// [`Self::rp`] whose Entity Configuration names `extra_hints` before the trust anchor in
    /// `authority_hints`, and whose configuration `edit` adjusts.
    pub async fn rp_with(&self, name: &str, onboard: bool, mark: bool, extra_hints: Vec<EntityId>, edit: impl FnOnce(&mut RpConfig)) -> Rp {
        let (l, id) = listener().await;
        let data = self.dir.path().join(name);
        let mut rc = RpConfig::new(id.clone(), format!("{id}/callback"), data.clone(), vec![self.anchor.clone()]);
        edit(&mut rc);
        let rp = RelyingParty::open(rc).unwrap();
        let mut hints = extra_hints;
        hints.push(self.ta.clone());
        let c = rp.entity_config(hints, data.join("federation"), TOKEN);
        assert_eq!(c.metadata["openid_relying_party"], rp.metadata());
        let st = trust_anchor::AppState::open(c).unwrap();
        tokio::spawn(async move { axum::serve(l, trust_anchor::router(st)).await.unwrap() });
        if onboard {
            let r = self.onboard(&id, "openid_relying_party").await;
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        }
        if mark {
            self.mark(&id).await;
        }
        Rp { id, rp }
    }

    /// Has the anchor issue the RP trust mark to `id` and `id` publish it.
    pub async fn mark(&self, id: &EntityId) {
        {
            let r = self
                .http
                .post(format!("{}/admin/trust-marks", self.ta))
                .bearer_auth(TOKEN)
                .json(&json!({"sub": id, "trust_mark_type": rp_mark_type(&self.ta), "claims": {"organization_type": "public", "logo_uri": format!("{id}/logo.svg")}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            let tm: Value = r.json().await.unwrap();
            let r = self.http.post(format!("{id}/admin/own-trust-marks")).bearer_auth(TOKEN).json(&json!({"trust_mark": tm["trust_mark"]})).send().await.unwrap();
            assert_eq!(r.status(), 204);
        }
    }

    /// GET the authorization URL; returns status, content type and body.
    pub async fn authorize(&self, url: &str) -> (u16, String, String, Option<String>) {
        let r = self.http.get(url).send().await.unwrap();
        let status = r.status().as_u16();
        let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let loc = r.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
        (status, ct, r.text().await.unwrap(), loc)
    }

    /// Picks an identity and a level on the login page; returns the redirect `Location`.
    pub async fn login(&self, page: &str, fiscal_number: &str, acr: &str) -> String {
        let session = page.split("name=\"session\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        assert!(page.contains(&format!("<form method=\"post\" action=\"{}/login\">", self.op)), "{page}");
        let r = self.http.post(format!("{}/login", self.op)).form(&[("session", session.as_str()), ("fiscal_number", fiscal_number), ("acr", acr)]).send().await.unwrap();
        assert_eq!(r.status(), 302);
        r.headers()["location"].to_str().unwrap().to_owned()
    }
}

/// A `jti` never used before in this process (uuid4-shaped).
pub fn fresh_jti() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", t as u32, (t >> 32) as u16, n & 0xfff, (n >> 12) & 0xfff, n)
}

/// The query string of a URL.
pub fn query(url: &str) -> String {
    url.split_once('?').map(|(_, q)| q.to_owned()).unwrap_or_default()
}

/// One parameter of a URL's query.
pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The JSON `error` of a body.
pub fn error_of(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["error"].as_str().unwrap_or_default().to_owned()
}

// Requests built by hand as check-op and django build them.

/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const STATE: &str = "zei2z2xxz6XAAYPs4yIqG6vijP42rMZG";
pub const NONCE: &str = "9xgMg84zlLmv8RoF85F2yXLft45SvFQw";

pub struct Req {
    pub claims: Map<String, Value>,
    pub query: Vec<(String, String)>,
}

/// A valid request as django's RP sends it (§B.2 "Real payload"), with a fresh `jti` (request
/// objects are single use).
pub fn valid(fed: &Fed, rp: &Rp) -> Req {
    let now = UnixTime::now().secs();
    let claims = json!({
        "iss": rp.id, "client_id": rp.id, "aud": [fed.op, format!("{}/authorization", fed.op)],
        "response_type": "code", "scope": "openid offline_access", "redirect_uri": format!("{}/callback", rp.id),
        "nonce": NONCE, "state": STATE, "code_challenge": CHALLENGE, "code_challenge_method": "S256",
        "prompt": "consent login", "acr_values": "https://www.spid.gov.it/SpidL2",
        "claims": {"userinfo": {"given_name": null, "family_name": null, "email": null, "https://attributes.eid.gov.it/fiscal_number": {"essential": true}}},
        "iat": now, "exp": now + 60, "jti": fresh_jti(),
    });
    let query = vec![
        ("client_id".into(), rp.id.to_string()),
        ("response_type".into(), "code".into()),
        ("scope".into(), "openid offline_access".into()),
        ("code_challenge".into(), CHALLENGE.into()),
        ("code_challenge_method".into(), "S256".into()),
    ];
    Req { claims: claims.as_object().unwrap().clone(), query }
}

pub fn url(fed: &Fed, rp: &Rp, r: &Req) -> String {
    let jwt = spid_cie_oidc::jwt::sign(&Value::Object(r.claims.clone()), None, &rp.rp.keys().sig.signer(JwsAlg::Rs256)).unwrap();
    let mut u = url::Url::parse(&format!("{}/authorization", fed.op)).unwrap();
    for (k, v) in &r.query {
        u.query_pairs_mut().append_pair(k, v);
    }
    u.query_pairs_mut().append_pair("request", &jwt);
    u.to_string()
}

/// Runs a valid request to the code; returns the code.
pub async fn code(fed: &Fed, rp: &Rp, acr: &str) -> String {
    let (_, _, page, _) = fed.authorize(&url(fed, rp, &valid(fed, rp))).await;
    param(&fed.login(&page, MARIO, acr).await, "code").unwrap()
}

pub fn assertion(rp: &Rp, aud: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let now = UnixTime::now().secs();
    let mut c = json!({"iss": rp.id, "sub": rp.id, "aud": aud, "iat": now, "exp": now + 60, "jti": fresh_jti()});
    edit(c.as_object_mut().unwrap());
    spid_cie_oidc::jwt::sign(&c, None, &rp.rp.keys().sig.signer(JwsAlg::Rs256)).unwrap()
}

