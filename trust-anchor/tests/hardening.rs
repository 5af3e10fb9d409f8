//! Issue 10 against the authority over real HTTP on loopback: what a hostile caller and the
//! Italian federation's rules find. Each check gets the bad input and the refusal it must meet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trust_anchor::{AppState, Config, router};
use wallet_core::federation::entity::EntityStatement;
use wallet_core::federation::trust_mark::{TRUST_MARK_TYP, TrustMarkClaims};
use wallet_core::federation::{EntityId, ParsedStatement, TrustAnchorConfig};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{CompactJws, Signer as _, SoftwareSigner};
use wallet_core::time::UnixTime;

const TOKEN: &str = "test-admin-token";

struct Entity {
    id: EntityId,
    jwks: JwkSet,
    state: AppState,
}

impl Entity {
    fn anchor(&self) -> TrustAnchorConfig {
        TrustAnchorConfig { id: self.id.clone(), jwks: self.jwks.clone() }
    }
}

async fn bind() -> (tokio::net::TcpListener, EntityId) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())).unwrap();
    (l, id)
}

/// An entity served by this crate on `listener`; `f` adjusts its configuration (a trust
/// anchor by default).
async fn serve_on(listener: tokio::net::TcpListener, id: EntityId, dir: &std::path::Path, name: &str, f: impl FnOnce(&mut Config)) -> Entity {
    let mut config = Config::trust_anchor(id.clone(), dir.join(name), TOKEN);
    config.organization_name = name.into();
    f(&mut config);
    let state = AppState::open(config).unwrap();
    let jwks = state.jwks();
    let st = state.clone();
    tokio::spawn(async move { service_kit::serve::serve(listener, router(st), std::future::pending()).await.unwrap() });
    Entity { id, jwks, state }
}

async fn start(dir: &std::path::Path, name: &str, f: impl FnOnce(&mut Config)) -> Entity {
    let (l, id) = bind().await;
    serve_on(l, id, dir, name, f).await
}

/// The trust anchor's keys, made before it starts, as an operator configures them.
fn anchor_keys(dir: &std::path::Path) -> JwkSet {
    JwkSet { keys: vec![trust_anchor::keys::load_or_create(&dir.join("ta")).unwrap().public_jwk()] }
}

/// TA → intermediate → leaf, every one trusting the TA. The TA lists itself for
/// `<ta>/trust_marks/intermediate` and the intermediate for `<int>/trust_marks/leaf`.
struct Fed {
    _dir: tempfile::TempDir,
    ta: Entity,
    int: Entity,
    leaf: Entity,
    http: reqwest::Client,
}

impl Fed {
    async fn new() -> Self {
        Self::with_anchor(|_| {}).await
    }

    /// `f` adjusts the anchor's configuration.
    async fn with_anchor(f: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (ta_l, ta_id) = bind().await;
        let (int_l, int_id) = bind().await;
        let anchor = TrustAnchorConfig { id: ta_id.clone(), jwks: anchor_keys(dir.path()) };
        let a = anchor.clone();
        let i = int_id.clone();
        let ta = serve_on(ta_l, ta_id.clone(), dir.path(), "ta", move |c| {
            c.trust_mark_issuers.insert(format!("{}/trust_marks/intermediate", c.entity_id), vec![c.entity_id.to_string()]);
            c.trust_mark_issuers.insert(format!("{i}/trust_marks/leaf"), vec![i.to_string()]);
            c.trust_anchors = vec![a];
            f(c);
        })
        .await;
        let a = anchor.clone();
        let int = serve_on(int_l, int_id.clone(), dir.path(), "int", move |c| {
            c.authority_hints = vec![ta_id];
            c.trust_anchors = vec![a];
        })
        .await;
        let a = anchor.clone();
        let leaf = start(dir.path(), "leaf", move |c| {
            c.authority = false;
            c.authority_hints = vec![int_id];
            c.trust_anchors = vec![a];
            c.metadata = json!({"openid_credential_issuer": {"credential_issuer": "https://leaf.example.it"},
                                "federation_entity": {"logo_uri": "https://leaf.example.it/logo.svg"}})
            .as_object()
            .cloned()
            .unwrap();
        })
        .await;
        Self { _dir: dir, ta, int, leaf, http: reqwest::Client::new() }
    }

    async fn onboard(&self, authority: &Entity, sub: &Entity, extra: Value) -> reqwest::Response {
        let mut body = json!({"entity_id": sub.id});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        self.http.post(format!("{}/admin/subordinates", authority.id)).bearer_auth(TOKEN).json(&body).send().await.unwrap()
    }

    async fn onboard_all(&self) {
        let r = self.onboard(&self.ta, &self.int, json!({"trust_mark_claims": {"organization_type": "public", "logo_uri": "https://int.example.it/logo.svg"}})).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let r = self.onboard(&self.int, &self.leaf, json!({"trust_mark_claims": {"organization_type": "private", "ipa_code": "m_inf"}})).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    async fn get(&self, url: String) -> (u16, String) {
        let r = self.http.get(url).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn resolve(&self, at: &Entity, sub: &str) -> (u16, String) {
        self.get(format!("{}/resolve?sub={sub}&trust_anchor={}", at.id, self.ta.id)).await
    }

    async fn admin_post(&self, at: &Entity, path: &str, body: Value) -> reqwest::Response {
        self.http.post(format!("{}{path}", at.id)).bearer_auth(TOKEN).json(&body).send().await.unwrap()
    }
}

fn error_of(body: &str) -> (String, String) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    (v["error"].as_str().unwrap().to_owned(), v["error_description"].as_str().unwrap().to_owned())
}

fn claims_of(jwt: &str) -> Value {
    CompactJws::parse(jwt).unwrap().payload_json().unwrap()
}

/// A server that counts every connection and request and serves `ec()` at the well-known
/// path (404 elsewhere): a stand-in for an entity we must, or must not, talk to.
struct Recorder {
    id: EntityId,
    connections: Arc<AtomicUsize>,
}

async fn recorder(ec: Arc<dyn Fn(&EntityId) -> String + Send + Sync>) -> Recorder {
    let (l, id) = bind().await;
    let connections = Arc::new(AtomicUsize::new(0));
    let (c, me) = (connections.clone(), id.clone());
    let app = axum::Router::new().route(
        "/.well-known/openid-federation",
        axum::routing::get(move || {
            let (ec, me) = (ec.clone(), me.clone());
            async move { ([("content-type", "application/entity-statement+jwt")], ec(&me)) }
        }),
    );
    use axum::serve::ListenerExt as _;
    let l = l.tap_io(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    Recorder { id, connections }
}

/// An Entity Configuration signed by `key`, naming `hints`, with `exp` = now + `exp_in`.
fn configuration(id: &EntityId, key: &SoftwareSigner, hints: &[EntityId], exp_in: i64) -> String {
    let now = UnixTime::now().secs();
    let ec: EntityStatement = serde_json::from_value(json!({
        "iss": id, "sub": id, "iat": now.min(now + exp_in) - 60, "exp": now + exp_in,
        "jwks": {"keys": [key.public_jwk()]}, "authority_hints": hints,
        "metadata": {"federation_entity": {"organization_name": "stale"}},
    }))
    .unwrap();
    ec.sign(key).unwrap()
}

/// A listener that accepts and never answers.
async fn black_hole() -> EntityId {
    let (l, id) = bind().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    id
}

// ------------------------------------------------------------------ 1. resolve, SSRF

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_never_fetches_what_the_caller_names() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    // An internal URL named as `sub`, and an entity that names the anchor in its
    // authority_hints (it would serve a valid configuration) but is not registered.
    let ta_id = fed.ta.id.clone();
    let internal = recorder(Arc::new(|_| "not an entity configuration".to_owned())).await;
    let key = Arc::new(SoftwareSigner::generate().unwrap());
    let k = key.clone();
    let claimant = recorder(Arc::new(move |me| configuration(me, &k, std::slice::from_ref(&ta_id), 3600))).await;
    for (at, sub) in [(&fed.ta, &internal.id), (&fed.ta, &claimant.id), (&fed.int, &claimant.id), (&fed.leaf, &internal.id)] {
        let (status, body) = fed.resolve(at, sub.as_str()).await;
        assert_eq!(status, 404, "{body}");
        let (code, why) = error_of(&body);
        assert_eq!(code, "not_found");
        assert!(why.contains(sub.as_str()), "{why}");
    }
    // Plain http to a non-loopback host is not even an entity id.
    let (status, body) = fed.resolve(&fed.ta, "http://10.0.0.1:8080").await;
    assert_eq!((status, error_of(&body).0.as_str()), (400, "invalid_request"));
    assert_eq!(internal.connections.load(Ordering::SeqCst), 0, "the internal URL was never connected to");
    assert_eq!(claimant.connections.load(Ordering::SeqCst), 0, "an unregistered entity is never fetched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_answers_for_the_subtree_and_stops_at_removal() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let chain_len = |body: &str| claims_of(body)["trust_chain"].as_array().unwrap().len();
    // The anchor: itself, its subordinate, and a sub-subordinate found top-down.
    let (status, body) = fed.resolve(&fed.ta, fed.ta.id.as_str()).await;
    assert_eq!((status, chain_len(&body)), (200, 1), "{body}");
    let (status, body) = fed.resolve(&fed.ta, fed.int.id.as_str()).await;
    assert_eq!((status, chain_len(&body)), (200, 2), "{body}");
    let (status, body) = fed.resolve(&fed.ta, fed.leaf.id.as_str()).await;
    assert_eq!(status, 200, "{body}");
    let c = claims_of(&body);
    assert_eq!(c["iss"], json!(fed.ta.id));
    assert_eq!(c["sub"], json!(fed.leaf.id));
    assert_eq!(chain_len(&body), 3);
    CompactJws::parse(&body).unwrap().verify(&fed.ta.jwks.keys[0]).unwrap();
    // The intermediate: its subordinate, with its own chain above from its authority_hints.
    let (status, body) = fed.resolve(&fed.int, fed.leaf.id.as_str()).await;
    assert_eq!((status, chain_len(&body)), (200, 3), "{body}");
    // A leaf answers for itself.
    let (status, body) = fed.resolve(&fed.leaf, fed.leaf.id.as_str()).await;
    assert_eq!((status, chain_len(&body)), (200, 3), "{body}");
    // Removed at the intermediate: the intermediate stops resolving the leaf at once (its
    // cache entry goes with it).
    let r = fed.http.delete(format!("{}/admin/subordinates?entity_id={}", fed.int.id, fed.leaf.id)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (status, body) = fed.resolve(&fed.int, fed.leaf.id.as_str()).await;
    assert_eq!((status, error_of(&body).0.as_str()), (404, "not_found"), "{body}");
    // Removed at the anchor: the intermediate, and everything found through it, stop.
    let r = fed.http.delete(format!("{}/admin/subordinates?entity_id={}", fed.ta.id, fed.int.id)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (status, _) = fed.resolve(&fed.ta, fed.int.id.as_str()).await;
    assert_eq!(status, 404);
}

/// The number in `name{labels} N` of a Prometheus text.
fn metric(text: &str, line_start: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(line_start)).map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_type_values_do_not_grow_the_resolve_cache() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let (status, first) = fed.resolve(&fed.ta, fed.leaf.id.as_str()).await;
    assert_eq!(status, 200, "{first}");
    let base = format!("{}/resolve?sub={}&trust_anchor={}", fed.ta.id, fed.leaf.id, fed.ta.id);
    for i in 0..1_000 {
        let (status, body) = fed.get(format!("{base}&entity_type=t{i}")).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(fed.ta.state.resolve_cache_len(), 1, "one chain per sub and anchors");
    assert_eq!(fed.ta.state.resolve_cache_hits(), 1_000);
    // The filter is applied when answering.
    let (status, body) = fed.get(format!("{base}&entity_type=federation_entity")).await;
    assert_eq!(status, 200);
    let md = claims_of(&body)["metadata"].as_object().cloned().unwrap();
    assert_eq!(md.keys().collect::<Vec<_>>(), ["federation_entity"]);
    // The genuine entry survived: the same unfiltered answer, from the cache.
    assert_eq!(fed.resolve(&fed.ta, fed.leaf.id.as_str()).await, (200, first));
    assert_eq!(fed.ta.state.resolve_cache_hits(), 1_002);
    // Too many, or too long, entity_type parameters are refused by name.
    let many: String = (0..17).map(|i| format!("&entity_type=t{i}")).collect();
    let (status, body) = fed.get(format!("{base}{many}")).await;
    assert_eq!((status, error_of(&body).0.as_str()), (400, "invalid_request"));
    assert!(error_of(&body).1.contains("entity_type"), "{body}");
    let (status, body) = fed.get(format!("{base}&entity_type={}", "x".repeat(65))).await;
    assert_eq!((status, error_of(&body).0.as_str()), (400, "invalid_request"));
    assert!(error_of(&body).1.contains("entity_type"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_resolve_is_answered_from_the_cache_without_fetching() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let served = |fed: &Fed| {
        let (http, url) = (fed.http.clone(), format!("{}/metrics", fed.leaf.id));
        async move {
            let text = http.get(url).send().await.unwrap().text().await.unwrap();
            metric(&text, r#"tessera_http_requests_total{route="/.well-known/openid-federation",status="200"}"#)
        }
    };
    let before = served(&fed).await;
    let (status, first) = fed.resolve(&fed.ta, fed.leaf.id.as_str()).await;
    assert_eq!(status, 200);
    let after_first = served(&fed).await;
    assert_eq!(after_first, before + 1, "the first resolve fetched the leaf's configuration once");
    let (status, second) = fed.resolve(&fed.ta, fed.leaf.id.as_str()).await;
    assert_eq!((status, &second), (200, &first), "the cached answer");
    assert_eq!(served(&fed).await, after_first, "the second resolve fetched nothing");
    assert_eq!(fed.ta.state.resolve_cache_hits(), 1);
    // Re-onboarding the intermediate (at the anchor) invalidates what goes through it.
    assert_eq!(fed.onboard(&fed.ta, &fed.int, json!({})).await.status(), 201);
    let (status, _) = fed.resolve(&fed.ta, fed.leaf.id.as_str()).await;
    assert_eq!(status, 200);
    assert_eq!(served(&fed).await, after_first + 1, "fetched again after re-onboarding");
}

// ------------------------------------------------------------------ 3. bounded outbound HTTP

/// A subordinate whose server accepts and never answers, registered directly (as if its
/// server had hung after onboarding).
async fn register_hung(st: &AppState) -> EntityId {
    let id = black_hole().await;
    let s = trust_anchor::registry::Subordinate {
        entity_id: id.clone(),
        entity_types: vec![],
        jwks: JwkSet { keys: vec![SoftwareSigner::generate().unwrap().public_jwk()] },
        metadata_policy: None,
        constraints: None,
        intermediate: false,
        trust_mark_claims: None,
    };
    st.registry().upsert(&s).await.unwrap();
    id
}

fn tight(c: &mut Config) {
    c.outbound = service_kit::FetchLimits { fetch_ms: 1_000, request_ms: 1_500, max_in_flight: 32, ..service_kit::FetchLimits::default() };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_hung_upstreams_leaves_other_routes_fast() {
    let fed = Fed::with_anchor(tight).await;
    fed.onboard_all().await;
    let hung = register_hung(&fed.ta.state).await;
    let dead = black_hole().await;
    let start = Instant::now();
    let mut flood = Vec::new();
    for i in 0..300 {
        let http = fed.http.clone();
        let req = if i % 3 == 0 {
            http.post(format!("{}/admin/subordinates", fed.ta.id)).bearer_auth(TOKEN).json(&json!({"entity_id": dead}))
        } else {
            http.get(format!("{}/resolve?sub={hung}&trust_anchor={}", fed.ta.id, fed.ta.id))
        };
        flood.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            (status, body, t.elapsed())
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // While the flood runs, the routes that need no upstream answer without waiting for one:
    // well inside the 1 s upstream deadline (the bound is what a route stuck behind the
    // hung upstreams could not meet, with room for a loaded 2-core machine).
    for path in ["/.well-known/openid-federation".to_owned(), format!("/fetch?sub={}", fed.int.id), "/list".to_owned()] {
        let t = Instant::now();
        let (status, body) = fed.get(format!("{}{path}", fed.ta.id)).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(t.elapsed() < Duration::from_millis(900), "{path} took {:?} during the flood", t.elapsed());
    }
    for h in flood {
        let (status, body, took) = h.await.unwrap();
        assert!(status == 503 || status == 400, "{status} {body}");
        assert!(error_of(&body).1.len() > 3);
        assert!(took < Duration::from_millis(3_000), "a hung call took {took:?}, past the 1.5 s deadline");
    }
    assert!(start.elapsed() < Duration::from_secs(5), "the flood ended in {:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_with_many_dead_hints_ends_within_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut hints = Vec::new();
    for _ in 0..30 {
        hints.push(black_hole().await);
    }
    let ta = start(dir.path(), "ta", |_| {}).await;
    let anchor = ta.anchor();
    let leaf = start(dir.path(), "leaf", move |c| {
        tight(c);
        c.authority = false;
        c.authority_hints = hints;
        c.trust_anchors = vec![anchor];
    })
    .await;
    let t = Instant::now();
    let r = reqwest::get(format!("{}/resolve?sub={}&trust_anchor={}", leaf.id, leaf.id, ta.id)).await.unwrap();
    assert_eq!(r.status(), 503);
    let (code, _) = error_of(&r.text().await.unwrap());
    assert_eq!(code, "temporarily_unavailable");
    assert!(t.elapsed() < Duration::from_millis(2_500), "30 dead superiors took {:?}", t.elapsed());
}

// ------------------------------------------------------------------ 6. JSON errors everywhere

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_bad_input_in_the_json_error_form() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let ta = fed.ta.id.as_str();
    let tm = format!("{ta}/trust_marks/intermediate");
    // (method, path, content type, body, token, expected status)
    type Case<'a> = (&'a str, String, Option<&'a str>, &'a str, bool, u16);
    let cases: Vec<Case> = vec![
        ("POST", "/admin/subordinates".into(), Some("text/plain"), r#"{"entity_id":"x"}"#, true, 415),
        ("POST", "/admin/subordinates".into(), Some("application/json"), r#"{"entity_id":"#, true, 400),
        ("POST", "/admin/subordinates".into(), Some("application/json"), r#"{"entity_id":"https://a.it","colour":"blue"}"#, true, 400),
        ("POST", "/admin/subordinates".into(), Some("application/json"), r#"{"entity_id":"ftp://a.it"}"#, true, 400),
        ("DELETE", "/admin/subordinates".into(), None, "", true, 400),
        ("DELETE", "/admin/subordinates?entity_id=https://nobody.example.it".into(), None, "", true, 404),
        ("POST", "/admin/subordinates/refresh-keys".into(), Some("application/json"), "[]", true, 400),
        ("POST", "/admin/trust-marks".into(), Some("application/json"), r#"{"sub": 1}"#, true, 400),
        ("POST", "/admin/trust-marks/revoke".into(), Some("application/x-www-form-urlencoded"), "sub=a", true, 415),
        ("POST", "/admin/own-trust-marks".into(), Some("application/json"), r#"{"trust_mark":"a.b.c"}"#, true, 400),
        ("GET", "/admin/keys/prepare".into(), None, "", true, 405),
        ("GET", "/list?intermediate=maybe".into(), None, "", false, 400),
        ("GET", "/list?trust_marked=1".into(), None, "", false, 400),
        ("GET", "/list?colour=blue".into(), None, "", false, 400),
        ("GET", "/fetch".into(), None, "", false, 400),
        ("GET", "/fetch?sub=not%20a%20url".into(), None, "", false, 400),
        ("GET", "/fetch?sub=https://nobody.example.it".into(), None, "", false, 404),
        ("PUT", "/fetch".into(), None, "", false, 405),
        ("GET", "/resolve".into(), None, "", false, 400),
        ("GET", format!("/resolve?sub={ta}"), None, "", false, 400),
        ("GET", format!("/resolve?sub={ta}&trust_anchor=https://other.example.it"), None, "", false, 404),
        ("GET", "/trust_mark".into(), None, "", false, 400),
        ("GET", format!("/trust_mark?trust_mark_type={tm}&sub=https://nobody.example.it"), None, "", false, 404),
        ("GET", "/trust_marked_list".into(), None, "", false, 400),
        ("POST", "/trust_mark_status".into(), Some("application/json"), r#"{"trust_mark":"x"}"#, false, 415),
        ("POST", "/trust_mark_status".into(), Some("application/x-www-form-urlencoded"), "nothing=here", false, 400),
        ("POST", "/trust_mark_status".into(), Some("application/x-www-form-urlencoded"), "trust_mark=not-a-jwt", false, 400),
        ("GET", "/subordinate_events".into(), None, "", false, 400),
        ("GET", "/subordinate_events?sub=https://nobody.example.it".into(), None, "", false, 404),
        ("POST", "/.well-known/openid-federation".into(), None, "", false, 405),
        ("DELETE", "/historical_keys".into(), None, "", false, 405),
        ("GET", "/no/such/route".into(), None, "", false, 404),
        ("GET", "/admin/subordinates".into(), None, "", false, 401),
    ];
    for (method, path, ct, body, token, expected) in cases {
        let mut req = fed.http.request(method.parse().unwrap(), format!("{ta}{path}")).body(body.to_owned());
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        if token {
            req = req.bearer_auth(TOKEN);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let ctype = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let text = r.text().await.unwrap();
        assert_eq!(status, expected, "{method} {path}: {text}");
        assert!(ctype.starts_with("application/json"), "{method} {path}: {ctype} {text}");
        let (code, description) = error_of(&text);
        assert!(!code.is_empty() && !description.is_empty(), "{method} {path}: {text}");
    }
    // Draft 48 §8.2.1: an unsupported /list parameter is named, with its code.
    let (status, body) = fed.get(format!("{ta}/list?colour=blue")).await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body).0, "unsupported_parameter");
    assert!(error_of(&body).1.contains("`colour`"), "{body}");
    // /health is JSON too.
    let (status, body) = fed.get(format!("{ta}/health")).await;
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()), (200, json!({"status": "ok"})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_check_the_token_before_the_body() {
    let fed = Fed::new().await;
    for path in ["/admin/subordinates", "/admin/subordinates/refresh-keys", "/admin/trust-marks", "/admin/trust-marks/revoke", "/admin/own-trust-marks"] {
        for auth in [None, Some("Bearer wrong")] {
            let mut req = fed.http.post(format!("{}{path}", fed.ta.id)).header("content-type", "application/json").body("{not json");
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{path}");
            let (code, why) = error_of(&r.text().await.unwrap());
            assert_eq!(code, "invalid_token");
            assert!(why.contains("admin token"), "{why}");
        }
    }
}

// ------------------------------------------------------------------ 5, 12. trust mark issuance

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_mark_issuance_refuses_hostile_ttls_and_missing_required_claims() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let issue = |body: Value| fed.admin_post(&fed.ta, "/admin/trust-marks", body);
    for ttl in [json!(i64::MAX), json!(-1), json!(0), json!(400 * 86_400)] {
        let r = issue(json!({"sub": fed.int.id, "trust_mark_type": "intermediate", "ttl": ttl})).await;
        assert_eq!(r.status(), 400, "ttl {ttl}");
        let (code, why) = error_of(&r.text().await.unwrap());
        assert_eq!(code, "invalid_request");
        assert!(why.starts_with("ttl: ttl") && why.contains("1 s .. 31536000 s"), "{why}");
    }
    // The claims the IT-Wallet table requires come from onboarding: a subordinate onboarded
    // without them gets no mark, and the refusal names the claim.
    assert_eq!(fed.onboard(&fed.ta, &fed.int, json!({})).await.status(), 201);
    let r = issue(json!({"sub": fed.int.id, "trust_mark_type": "intermediate"})).await;
    assert_eq!(r.status(), 400);
    assert!(error_of(&r.text().await.unwrap()).1.starts_with("organization_type is required"));
    let r = issue(json!({"sub": fed.int.id, "trust_mark_type": "intermediate", "claims": {"organization_type": "maybe"}})).await;
    assert_eq!(r.status(), 400);
    assert!(error_of(&r.text().await.unwrap()).1.contains("organization_type must be one of"));
    let r = issue(json!({"sub": fed.int.id, "trust_mark_type": "intermediate", "claims": {"organization_type": "public", "iss": "https://evil.example.it"}})).await;
    assert_eq!(r.status(), 400, "registered claims are the issuer's");
    // An authorization policy (wallet-core `oid4vp::consent::authorization`) must be lists of
    // names: a wallet would read anything else as authorizing nothing.
    for bad in [json!("given_name"), json!([1]), json!([""])] {
        let r = issue(json!({"sub": fed.int.id, "trust_mark_type": "intermediate", "claims": {"organization_type": "public", "authorized_claims": bad}})).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert!(error_of(&r.text().await.unwrap()).1.contains("authorized_claims must be an array of non-empty strings"));
    }
    let r = fed.onboard(&fed.ta, &fed.int, json!({"trust_mark_claims": {"organization_type": "public"}})).await;
    assert_eq!(r.status(), 201);
    let r = issue(json!({"sub": fed.int.id, "trust_mark_type": "intermediate", "claims": {"logo_uri": ""}})).await;
    assert_eq!(r.status(), 400);
    assert!(error_of(&r.text().await.unwrap()).1.starts_with("logo_uri is required"));
    // Our entities publish a default logo, which the mark carries.
    let r = issue(json!({"sub": fed.int.id, "trust_mark_type": "intermediate"})).await;
    assert_eq!(r.status(), 201);
    let mark: Value = r.json().await.unwrap();
    assert_eq!(claims_of(mark["trust_mark"].as_str().unwrap())["logo_uri"], format!("{}/logo.svg", fed.int.id));
    // Stored at onboarding (logo_uri defaulting to the configuration's federation_entity):
    // the intermediate's leaf gets a mark carrying them, with ttl at both ends of the range.
    for ttl in [1, 365 * 86_400] {
        let r = fed.admin_post(&fed.int, "/admin/trust-marks", json!({"sub": fed.leaf.id, "trust_mark_type": "leaf", "ttl": ttl})).await;
        assert_eq!(r.status(), 201);
        let mark: Value = r.json().await.unwrap();
        let c = claims_of(mark["trust_mark"].as_str().unwrap());
        assert_eq!(c["organization_type"], "private");
        assert_eq!(c["ipa_code"], "m_inf");
        assert_eq!(c["logo_uri"], "https://leaf.example.it/logo.svg");
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), ttl);
    }
}

// ------------------------------------------------------------------ 7, 12. own trust marks

fn mark(iss: &EntityId, sub: &EntityId, t: &str, exp: Option<i64>, key: &SoftwareSigner) -> String {
    let now = UnixTime::now().secs();
    let c = TrustMarkClaims {
        iss: iss.clone(),
        sub: sub.clone(),
        trust_mark_type: t.to_owned(),
        iat: now - 10,
        exp,
        delegation: None,
        extra: json!({"organization_type": "public", "logo_uri": "https://x.example.it/l.svg"}).as_object().cloned().unwrap(),
    };
    c.sign(TRUST_MARK_TYP, key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_trust_marks_are_verified_before_they_are_published() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let attach = |at: &Entity, m: String| {
        let (http, url) = (fed.http.clone(), format!("{}/admin/own-trust-marks", at.id));
        async move { http.post(url).bearer_auth(TOKEN).json(&json!({"trust_mark": m})).send().await.unwrap() }
    };
    let refused = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 400);
        let (code, why) = error_of(&r.text().await.unwrap());
        assert_eq!(code, "invalid_request");
        why
    };
    let int_type = format!("{}/trust_marks/intermediate", fed.ta.id);
    let now = UnixTime::now().secs();
    let ta_key = trust_anchor::keys::load_or_create(&fed._dir.path().join("ta")).unwrap();
    let int_key = trust_anchor::keys::load_or_create(&fed._dir.path().join("int")).unwrap();
    // Forged: the anchor as issuer, signed by a random key.
    let forged = SoftwareSigner::generate().unwrap();
    let why = refused(attach(&fed.int, mark(&fed.ta.id, &fed.int.id, &int_type, Some(now + 3600), &forged)).await).await;
    assert!(why.contains("not a Federation Entity Key of the issuer"), "{why}");
    // The anchor's kid, another key: the signature does not verify.
    let forged = SoftwareSigner::generate().unwrap().with_kid(ta_key.kid().unwrap());
    let why = refused(attach(&fed.int, mark(&fed.ta.id, &fed.int.id, &int_type, Some(now + 3600), &forged)).await).await;
    assert!(why.contains("signature does not verify"), "{why}");
    // Genuine, but about another entity.
    let why = refused(attach(&fed.int, mark(&fed.ta.id, &fed.leaf.id, &int_type, Some(now + 3600), &ta_key)).await).await;
    assert!(why.contains("sub is"), "{why}");
    // Expired an hour ago.
    let why = refused(attach(&fed.int, mark(&fed.ta.id, &fed.int.id, &int_type, Some(now - 3600), &ta_key)).await).await;
    assert!(why.contains("exp") && why.contains("has passed"), "{why}");
    // Issued by the intermediate, for a type the anchor lists only itself for.
    let why = refused(attach(&fed.leaf, mark(&fed.int.id, &fed.leaf.id, &int_type, Some(now + 3600), &int_key)).await).await;
    assert!(why.contains("not listed by trust anchor"), "{why}");
    // Not a trust mark at all.
    let why = refused(attach(&fed.int, "a.b.c".to_owned()).await).await;
    assert!(why.starts_with("trust mark refused"), "{why}");

    // Genuine, by the anchor: the intermediate publishes it (ALL-003).
    let r = fed.admin_post(&fed.ta, "/admin/trust-marks", json!({"sub": fed.int.id, "trust_mark_type": "intermediate"})).await;
    assert_eq!(r.status(), 201);
    let genuine = r.json::<Value>().await.unwrap()["trust_mark"].as_str().unwrap().to_owned();
    assert_eq!(attach(&fed.int, genuine.clone()).await.status(), 204);
    let ec = ParsedStatement::parse(&fed.get(fed.int.id.configuration_url()).await.1).unwrap();
    assert_eq!(ec.claims.trust_marks.unwrap()[0].trust_mark, genuine);
    // Genuine, by the intermediate, for the type the anchor lists it for: checked through the
    // intermediate's trust chain, and the leaf publishes it.
    let r = fed.admin_post(&fed.int, "/admin/trust-marks", json!({"sub": fed.leaf.id, "trust_mark_type": "leaf"})).await;
    assert_eq!(r.status(), 201);
    let by_int = r.json::<Value>().await.unwrap()["trust_mark"].as_str().unwrap().to_owned();
    assert_eq!(attach(&fed.leaf, by_int.clone()).await.status(), 204);
    let ec = ParsedStatement::parse(&fed.get(fed.leaf.id.configuration_url()).await.1).unwrap();
    assert_eq!(ec.claims.trust_marks.unwrap()[0].trust_mark, by_int);
}

// ------------------------------------------------------------------ 10. FA_007: stale configurations

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_and_refresh_refuse_an_expired_configuration() {
    let fed = Fed::new().await;
    let key = Arc::new(SoftwareSigner::generate().unwrap());
    let exp_in = Arc::new(AtomicI64::new(-3600));
    let (k, e, ta) = (key.clone(), exp_in.clone(), fed.ta.id.clone());
    let stale = recorder(Arc::new(move |me| configuration(me, &k, std::slice::from_ref(&ta), e.load(Ordering::SeqCst)))).await;
    let onboard = || fed.admin_post(&fed.ta, "/admin/subordinates", json!({"entity_id": stale.id}));
    // Expired an hour ago: refused, naming exp; nothing pinned, no certificate issued.
    let r = onboard().await;
    assert_eq!(r.status(), 400);
    let (_, why) = error_of(&r.text().await.unwrap());
    assert!(why.starts_with("exp:") && why.contains("120 s"), "{why}");
    assert!(fed.ta.state.registry().get(&stale.id).await.unwrap().is_none());
    assert!(fed.ta.state.registry().certificates(stale.id.as_str()).await.unwrap().is_empty());
    // Expired 60 s ago: within the 120 s of clock skew FA_007 allows, accepted.
    exp_in.store(-60, Ordering::SeqCst);
    assert_eq!(onboard().await.status(), 201);
    // Refresh meets the same check.
    exp_in.store(-3600, Ordering::SeqCst);
    let r = fed.admin_post(&fed.ta, "/admin/subordinates/refresh-keys", json!({"entity_id": stale.id})).await;
    assert_eq!(r.status(), 400);
    assert!(error_of(&r.text().await.unwrap()).1.starts_with("exp:"));
    exp_in.store(3600, Ordering::SeqCst);
    let r = fed.admin_post(&fed.ta, "/admin/subordinates/refresh-keys", json!({"entity_id": stale.id})).await;
    assert_eq!(r.status(), 200);
}

// ------------------------------------------------------------------ 11. FA_005, FA_009, events

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorities_publish_every_endpoint_and_serve_subordinate_events() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    // FA_005: every endpoint of the IT-Wallet table for authorities, served.
    for at in [&fed.ta, &fed.int] {
        let ec = ParsedStatement::parse(&fed.get(at.id.configuration_url()).await.1).unwrap();
        let fe = ec.claims.metadata.unwrap()["federation_entity"].clone();
        for (k, path) in trust_anchor::routes::AUTHORITY_ENDPOINTS.iter().copied().chain([("federation_resolve_endpoint", "resolve")]) {
            assert_eq!(fe[k], json!(format!("{}/{path}", at.id)), "{k}");
        }
    }
    // FA_009: constraints in every Subordinate Statement: defaults, or what onboarding gave.
    let ss = |at: &Entity, sub: &Entity| {
        let (http, url) = (fed.http.clone(), format!("{}/fetch?sub={}", at.id, sub.id));
        async move { claims_of(&http.get(url).send().await.unwrap().text().await.unwrap()) }
    };
    assert_eq!(ss(&fed.ta, &fed.int).await["constraints"], json!({"max_path_length": 1}));
    assert_eq!(ss(&fed.int, &fed.leaf).await["constraints"], json!({"max_path_length": 0}));
    let r = fed.onboard(&fed.ta, &fed.int, json!({"constraints": {"max_path_length": 2, "allowed_entity_types": ["openid_credential_issuer"]}})).await;
    assert_eq!(r.status(), 201);
    assert_eq!(ss(&fed.ta, &fed.int).await["constraints"], json!({"max_path_length": 2, "allowed_entity_types": ["openid_credential_issuer"]}));
    let r = fed.onboard(&fed.ta, &fed.int, json!({"constraints": {"max_path_length": -1}})).await;
    assert_eq!(r.status(), 400, "bad constraints are refused at onboarding");
    // Subordinate events: registration (twice), jwks_update, revocation, signed.
    let r = fed.admin_post(&fed.ta, "/admin/subordinates/refresh-keys", json!({"entity_id": fed.int.id})).await;
    assert_eq!(r.status(), 200);
    let r = fed.http.delete(format!("{}/admin/subordinates?entity_id={}&reason=compromised", fed.ta.id, fed.int.id)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = fed.http.get(format!("{}/subordinate_events?sub={}", fed.ta.id, fed.int.id)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/entity-events-statement+jwt");
    let text = r.text().await.unwrap();
    let jws = CompactJws::parse(&text).unwrap();
    assert!(jws.header().typ_is("entity-events-statement+jwt"));
    jws.verify(&fed.ta.jwks.keys[0]).unwrap();
    let body: Value = jws.payload_json().unwrap();
    assert_eq!((body["iss"].clone(), body["sub"].clone()), (json!(fed.ta.id), json!(fed.int.id)));
    let events: Vec<(String, Option<String>)> = body["federation_registration_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap().to_owned(), e.get("event_description").map(|d| d.as_str().unwrap().to_owned())))
        .collect();
    assert_eq!(
        events,
        [
            ("registration".to_owned(), None),
            ("registration".to_owned(), Some("onboarded again".to_owned())),
            ("jwks_update".to_owned(), None),
            ("revocation".to_owned(), Some("compromised".to_owned())),
        ]
    );
}

// ------------------------------------------------------------------ 9. constraints in the anchor's configuration

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anchor_publishing_max_path_length_resolves_within_it() {
    for (max, ok) in [(1, true), (0, false)] {
        let fed = Fed::with_anchor(move |c| c.constraints = json!({"max_path_length": max}).as_object().cloned()).await;
        fed.onboard_all().await;
        let ec = ParsedStatement::parse(&fed.get(fed.ta.id.configuration_url()).await.1).unwrap();
        assert_eq!(ec.claims.constraints.unwrap().max_path_length, Some(max));
        // Over HTTP, with the collector, TA → intermediate → leaf.
        let (anchor, leaf) = (TrustAnchorConfig { id: fed.ta.id.clone(), jwks: fed.ta.jwks.clone() }, fed.leaf.id.clone());
        let chain = tokio::task::spawn_blocking(move || {
            let fetcher = trust_anchor::fetch::HttpFetcher::new().unwrap();
            wallet_core::federation::ChainCollector::new(&fetcher, &[anchor]).resolve(&leaf, UnixTime::now())
        })
        .await
        .unwrap();
        assert_eq!(chain.is_ok(), ok, "max_path_length {max}: {chain:?}");
        // And at the anchor's resolve endpoint.
        let (status, body) = fed.resolve(&fed.ta, fed.leaf.id.as_str()).await;
        if ok {
            assert_eq!(status, 200, "{body}");
        } else {
            assert_eq!((status, error_of(&body).0.as_str()), (400, "invalid_trust_chain"), "{body}");
        }
    }
}

/// Issue 10 follow-up: a subject found nowhere below the registered intermediates is
/// remembered for `MISS_TTL`: a caller repeating it costs the intermediates one search, not
/// one per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_miss_below_the_intermediates_is_searched_once() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let fetches = || async {
        let (_, text) = fed.get(format!("{}/metrics", fed.int.id)).await;
        metric(&text, "tessera_http_requests_total{route=\"/fetch\",status=\"404\"}")
    };
    let before = fetches().await;
    for _ in 0..20 {
        let (status, body) = fed.resolve(&fed.ta, "https://nobody.example.it").await;
        assert_eq!((status, error_of(&body).0.as_str()), (404, "not_found"), "{body}");
    }
    assert_eq!(fetches().await - before, 1, "one search of the intermediate for twenty requests");
    // What is registered still resolves.
    assert_eq!(fed.resolve(&fed.ta, fed.leaf.id.as_str()).await.0, 200);
}

/// Two replicas of one entity sharing its directory (`federation-keys.json`), served apart:
/// a rollover asked of either works on the ring the file holds, so the second `prepare`
/// finds the first one's next key instead of writing its own over it, and the replica that
/// did not activate signs with the new key within a second, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_sharing_the_key_ring_follow_each_others_rollover() {
    let dir = tempfile::tempdir().unwrap();
    let (la, id) = bind().await;
    let a = serve_on(la, id.clone(), dir.path(), "entity", |_| {}).await;
    let lb = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_url = format!("http://127.0.0.1:{}", lb.local_addr().unwrap().port());
    let b = AppState::open(Config::trust_anchor(id.clone(), dir.path().join("entity"), TOKEN)).unwrap();
    tokio::spawn(async move { service_kit::serve::serve(lb, router(b), std::future::pending()).await.unwrap() });
    let http = reqwest::Client::new();
    let admin = |base: String, what: &'static str| {
        let http = http.clone();
        async move {
            let r = http.post(format!("{base}/admin/keys/{what}")).bearer_auth(TOKEN).send().await.unwrap();
            assert_eq!(r.status(), 200, "{what} at {base}");
            r.json::<Value>().await.unwrap()
        }
    };
    let a_url = id.as_str().trim_end_matches('/').to_owned();
    let old = a.jwks.keys[0].kid.clone().unwrap();
    let next_a = admin(a_url.clone(), "prepare").await["next"]["kid"].as_str().unwrap().to_owned();
    let next_b = admin(b_url.clone(), "prepare").await["next"]["kid"].as_str().unwrap().to_owned();
    assert_eq!(next_a, next_b, "one next key for both replicas");
    // B serves (and looks at the file) before A activates: the look repeats, once a second.
    let ec = http.get(format!("{b_url}/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap();
    assert_eq!(CompactJws::parse(&ec).unwrap().header().kid.as_deref(), Some(old.as_str()));
    let current = admin(a_url.clone(), "activate").await["current"]["kid"].as_str().unwrap().to_owned();
    assert_eq!(current, next_a);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let ec = http.get(format!("{b_url}/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap();
    assert_eq!(CompactJws::parse(&ec).unwrap().header().kid.as_deref(), Some(current.as_str()), "B signs with the key A activated");
    let keys = claims_of(&ec)["jwks"]["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(keys, vec![current.clone()], "and publishes it, the old one {old} retired");
    let r = http.post(format!("{b_url}/admin/keys/activate")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 400, "nothing prepared any more, on either replica");

    // The ring's file gone while they run: the keys in use stay (no new key is made).
    std::fs::rename(dir.path().join("entity/federation-keys.json"), dir.path().join("entity/moved.json")).unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let ec = http.get(format!("{b_url}/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap();
    assert_eq!(CompactJws::parse(&ec).unwrap().header().kid.as_deref(), Some(current.as_str()), "still the key in use");
    assert!(!dir.path().join("entity/federation-keys.json").exists(), "no ring made anew");
}
