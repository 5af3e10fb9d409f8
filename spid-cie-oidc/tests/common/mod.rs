//! A federation on loopback for the tests: a trust anchor, the test OpenID Provider under it,
//! and relying parties (each a federation leaf hosting a `RelyingParty`), onboarded through
//! the trust anchor's admin API, over real HTTP.
#![allow(dead_code, unreachable_pub)]

use serde_json::{Value, json};
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
        let op_state = OpState::open(oc).unwrap();
        let s = op_state.clone();
        tokio::spawn(async move { axum::serve(l, op::router(s)).await.unwrap() });

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
        let (l, id) = listener().await;
        let data = self.dir.path().join(name);
        let rp = RelyingParty::open(RpConfig::new(id.clone(), format!("{id}/callback"), data.clone(), vec![self.anchor.clone()])).unwrap();
        let c = rp.entity_config(vec![self.ta.clone()], data.join("federation"), TOKEN);
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
