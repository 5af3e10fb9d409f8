//! Replicas of one verifier on one PostgreSQL database, over real HTTP on loopback: the same
//! entity, the same keys (one `keys_dir`), data directories of their own. A session moves
//! between them as a load balancer would send its requests; every single-use value is refused
//! on the other replica once used; a restart loses nothing; a watcher sees the other
//! replica's changes. Runs when `TESSERA_TEST_POSTGRES_URL` is set (`scripts/postgres.sh`);
//! `TESSERA_POSTGRES=required` makes its absence a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use common::pg::{Schema, postgres_url};
use common::{Fed, TOKEN, Wallet};
use wallet_core::jose::Signer as _;
use serde_json::{Value, json};
use verifier::store::{ClientIdPrefix, Flow, NewSession, RequestMode, SessionStatus, Store, TakeRefused};

const AGE: [&str; 1] = ["birthdate"];

async fn replicated(schema: &Schema, keys: &std::path::Path) -> Fed {
    let (url, keys) = (schema.url.clone(), keys.to_path_buf());
    Fed::with(move |c| {
        c.database_url = Some(url);
        c.keys_dir = Some(keys);
    })
    .await
}

async fn post_form(fed: &Fed, url: &str, form: String) -> (u16, Value) {
    Fed::json(fed.http.post(url).header("content-type", "application/x-www-form-urlencoded").body(form)).await
}

async fn result_at(fed: &Fed, base: &str, id: &str, code: Option<&str>) -> (u16, Value) {
    let body = code.map_or(json!({}), |c| json!({"response_code": c}));
    Fed::json(fed.http.post(format!("{base}/sessions/{id}/result")).bearer_auth(TOKEN).json(&body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_sessions_and_each_single_use_value() {
    let Some(base) = postgres_url("replicas_share_sessions_and_each_single_use_value") else { return };
    let schema = Schema::new(&base).await;
    let keys = tempfile::tempdir().unwrap();
    let fed = replicated(&schema, keys.path()).await;
    let a = fed.verifier_id.as_str().trim_end_matches('/').to_owned();
    assert_eq!(fed.verifier.store().backend_name(), "postgresql");
    let (b_state, b, b_task) = fed.replica("b").await;
    assert_eq!(b_state.keys().request_object().kid(), fed.verifier.keys().request_object().kid(), "one request object key");

    // Created on A; seen on B.
    let s = fed.session(json!({"preset": "age_over_18", "flow": "cross_device"})).await;
    let id = s["session_id"].as_str().unwrap();
    let (st, v) = Fed::json(fed.http.get(format!("{b}/sessions/{id}")).bearer_auth(TOKEN)).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("created")));

    // The request object fetched from B (and verified by the wallet against the entity's
    // registered URIs); the handle is then spent on A too.
    let wallet = Wallet::new();
    let f = wallet.fetch_via(&fed, s["wallet_url"].as_str().unwrap(), Some(&b)).await;
    let state = fed.state(id).await;
    assert_eq!(state["status"], "request_fetched");
    assert!(state["request_fetched_at"].is_i64() && state["completed_at"].is_null(), "the session's log, from either backend: {state}");
    let (st, body, _) = wallet.fetch_raw(&fed, s["wallet_url"].as_str().unwrap()).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("request_uri already used"), "{body}");

    // The response posted to A; its replay on B is refused.
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
    let (st, v) = post_form(&fed, &format!("{a}/response-uri"), form.clone()).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = post_form(&fed, &format!("{b}/response-uri"), form).await;
    assert_eq!(st, 400, "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("state already used"), "{v}");

    // B restarts: nothing is lost.
    b_task.abort();
    let _ = b_task.await;
    drop(b_state);
    let (_b2_state, b2, _b2_task) = fed.replica("b").await;
    let (st, v) = Fed::json(fed.http.get(format!("{b2}/sessions/{id}")).bearer_auth(TOKEN)).await;
    assert_eq!((st, v["status"].as_str(), v["result_available"].as_bool()), (200, Some("verified"), Some(true)));

    // The result taken from B, once: A has nothing left to give.
    let (st, v) = result_at(&fed, &b2, id, None).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("verified")), "{v}");
    assert_eq!(v["credentials"]["pid"][0]["claims"]["birthdate"], "1980-01-10");
    let (st, v) = result_at(&fed, &a, id, None).await;
    assert_eq!((st, v["error"].as_str()), (404, Some("not_found")), "{v}");

    // Same device, the other way round: created on B, fetched from A, answered on B, the
    // response_code redeemed on A and refused on B.
    let (st, s) = Fed::json(fed.http.post(format!("{b2}/sessions")).bearer_auth(TOKEN).json(&json!({"preset": "age_over_18", "flow": "same_device"}))).await;
    assert_eq!(st, 201, "{s}");
    let id = s["session_id"].as_str().unwrap();
    let f = wallet.fetch(&fed, s["wallet_url"].as_str().unwrap()).await;
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let (st, v) = post_form(&fed, &format!("{b2}/response-uri"), wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone())).await;
    assert_eq!(st, 200, "{v}");
    let code = url::Url::parse(v["redirect_uri"].as_str().unwrap()).unwrap().query_pairs().find(|(k, _)| k == "response_code").unwrap().1.into_owned();
    let (st, v) = result_at(&fed, &a, id, Some(&code)).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("verified")), "{v}");
    let (st, v) = result_at(&fed, &b2, id, Some(&code)).await;
    assert_eq!((st, v["error"].as_str()), (404, Some("not_found")), "a replayed response_code: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_the_other_replicas_changes() {
    let Some(base) = postgres_url("a_watcher_sees_the_other_replicas_changes") else { return };
    let schema = Schema::new(&base).await;
    let keys = tempfile::tempdir().unwrap();
    let fed = replicated(&schema, keys.path()).await;
    let (b_state, _b, _b_task) = fed.replica("b").await;
    let s = fed.session(json!({"preset": "age_over_18", "flow": "cross_device"})).await;
    let id = s["session_id"].as_str().unwrap().to_owned();
    let watcher = {
        let (b_state, id) = (b_state.clone(), id.clone());
        tokio::spawn(async move {
            let t = Instant::now();
            let s = b_state.watch(&id, SessionStatus::Created, Duration::from_secs(10)).await.unwrap().unwrap();
            (s.status, t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A serves the request object: B's watcher hears of it through the database.
    Wallet::new().fetch(&fed, s["wallet_url"].as_str().unwrap()).await;
    let (status, waited) = watcher.await.unwrap();
    assert_eq!(status, SessionStatus::RequestFetched);
    assert!(waited < Duration::from_secs(3), "{waited:?}");
}

fn new_session(id: &str) -> NewSession<'_> {
    NewSession {
        id,
        request_id: id,
        state: id,
        nonce: id,
        flow: Flow::SameDevice,
        dcql: "{}",
        redirect_uri: None,
        request_uri_method: "post",
        now: 0,
        expires_at: i64::MAX / 2,
        purge_at: i64::MAX / 2,
        owner: Some("op"),
        client_id_prefix: ClientIdPrefix::X509Hash,
        request_mode: RequestMode::Reference,
        x5c_leaf: Some("bGVhZg=="),
        request_object: None,
    }
}

/// Runs `f` on eight threads at once, alternating two stores: how many got `true`.
fn race(stores: &[std::sync::Arc<Store>; 2], f: impl Fn(&Store) -> bool + Send + Sync + 'static) -> usize {
    let f = std::sync::Arc::new(f);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (store, f, barrier) = (stores[i % 2].clone(), f.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                f(&store)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).filter(|won| *won).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_use_values_race_across_two_stores() {
    let Some(base) = postgres_url("single_use_values_race_across_two_stores") else { return };
    let schema = Schema::new(&base).await;
    let stores = [std::sync::Arc::new(Store::postgres(&schema.url).unwrap()), std::sync::Arc::new(Store::postgres(&schema.url).unwrap())];
    stores[0].ping().unwrap();
    stores[0].create(&new_session("s1")).unwrap();
    let s = stores[1].get("s1").unwrap().unwrap();
    assert_eq!((s.client_id_prefix, s.request_mode, s.x5c_leaf.as_deref(), s.owner.as_deref()), (ClientIdPrefix::X509Hash, RequestMode::Reference, Some("bGVhZg=="), Some("op")));
    assert_eq!(stores[1].by_owner("op", 10).unwrap().len(), 1);

    assert_eq!(race(&stores, |s| s.take_request("s1", 1).unwrap().is_some()), 1, "the request_uri handle, once");
    assert_eq!(race(&stores, |s| s.record("s1", SessionStatus::Verified, "{\"status\":\"verified\"}", Some("h"), i64::MAX / 2, 100).unwrap()), 1, "one verdict: state and nonce spent once");
    assert_eq!(stores[0].take_result("s1", Some("wrong")).unwrap(), Err(TakeRefused::BadResponseCode));
    assert_eq!(race(&stores, |s| s.take_result("s1", Some("h")).unwrap().is_ok()), 1, "the result and its response_code, once");
    assert_eq!(stores[1].take_result("s1", Some("h")).unwrap(), Err(TakeRefused::Taken));
    assert_eq!(stores[1].take_result("nope", None).unwrap(), Err(TakeRefused::Unknown));
    let s = stores[0].get("s1").unwrap().unwrap();
    assert!(s.result.is_none() && s.result_taken);
    assert_eq!(stores[1].purge(i64::MAX).unwrap(), 1);
    assert!(stores[0].get("s1").unwrap().is_none());
}

#[test]
fn a_bad_database_url_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = verifier::Config::new(wallet_core::federation::EntityId::new("http://127.0.0.1:9").unwrap(), dir.path().to_path_buf());
    config.database_url = Some("mysql://x".into());
    assert!(verifier::Verifier::open(config.clone()).unwrap_err().to_string().contains("database_url"));
    // A server that is not there: refused at start, not at the first wallet.
    config.database_url = Some("postgres://u:p@127.0.0.1:9/db?connect_timeout=2".into());
    let e = verifier::Verifier::open(config).unwrap_err().to_string();
    assert!(e.contains("PostgreSQL"), "{e}");
}

/// The in-person page's operator: (username, password, display name).
const OPERATOR: (&str, &str, &str) = ("agente.verdi", "verdi-password-3", "Agente Verdi");

/// An Argon2id PHC string with small parameters (debug builds would spend seconds on the
/// recommended ones; the verifier reads the parameters from the hash).
fn cheap_hash(password: &str) -> String {
    use argon2::password_hash::PasswordHasher as _;
    let params = argon2::Params::new(1024, 1, 1, None).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params).hash_password(password.as_bytes()).unwrap().to_string()
}

/// One operator's browser behind a load balancer: one cookie, the entity's origin on POSTs,
/// each request sent to the replica the test names.
struct Operator<'a> {
    fed: &'a Fed,
    origin: String,
    cookie: Option<String>,
}

struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Page {
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").unwrap_or_else(|| panic!("no form in {}", self.body)) + "name=\"csrf\" value=\"".len();
        let end = self.body[at..].find('"').unwrap();
        self.body[at..at + end].to_owned()
    }
}

impl Operator<'_> {
    async fn send(&mut self, r: reqwest::RequestBuilder) -> Page {
        let r = match &self.cookie {
            Some(c) => r.header("cookie", format!("tessera-operator={c}")),
            None => r,
        };
        let r = r.send().await.unwrap();
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            if let Some(v) = c.strip_prefix("tessera-operator=") {
                let v = v.split(';').next().unwrap();
                self.cookie = (!c.contains("Max-Age=0")).then(|| v.to_owned());
            }
        }
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        Page { status, location, body: r.text().await.unwrap() }
    }

    async fn get(&mut self, base: &str, path: &str) -> Page {
        let r = self.fed.http.get(format!("{base}{path}"));
        self.send(r).await
    }

    async fn post(&mut self, base: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self.fed.http.post(format!("{base}{path}")).header("origin", self.origin.clone()).form(form);
        self.send(r).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_sessions_are_shared_by_the_replicas() {
    let Some(base) = postgres_url("operator_sessions_are_shared_by_the_replicas") else { return };
    let schema = Schema::new(&base).await;
    let keys = tempfile::tempdir().unwrap();
    let (url, keys_dir) = (schema.url.clone(), keys.path().to_path_buf());
    let (user, password, display) = OPERATOR;
    let fed = Fed::with(move |c| {
        c.database_url = Some(url);
        c.keys_dir = Some(keys_dir);
        c.web.operators = vec![verifier::web::Operator { username: user.into(), display_name: display.into(), password_hash: cheap_hash(password) }];
    })
    .await;
    let a = fed.verifier_id.as_str().trim_end_matches('/').to_owned();
    let (_b_state, b, b_task) = fed.replica("b").await;
    let origin = a.clone();
    let mut op = Operator { fed: &fed, origin, cookie: None };

    // The login form from A, posted to B.
    let form = op.get(&a, "/check").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"password\""));
    let login = op.post(&b, "/check/login", &[("csrf", &form.csrf()), ("username", user), ("password", password)]).await;
    assert_eq!((login.status, login.location.as_deref()), (303, Some("/check")), "{}", login.body);

    // The operator's page and a check started, on either replica.
    let mut csrf = String::new();
    for base in [&a, &b] {
        let home = op.get(base, "/check").await;
        assert_eq!(home.status, 200);
        assert!(home.body.contains(display) && !home.body.contains("name=\"password\""), "{}", home.body);
        csrf = home.csrf();
    }
    let mut ids = Vec::new();
    for base in [&a, &b] {
        let started = op.post(base, "/check/start", &[("csrf", &csrf), ("preset", "age_over_18")]).await;
        assert_eq!(started.status, 303, "{}", started.body);
        ids.push(started.location.unwrap());
    }
    for (id, other) in ids.iter().zip([&b, &a]) {
        assert_eq!(op.get(other, id).await.status, 200, "{id} on the other replica");
    }

    // Logout on B ends it on A.
    let old = op.cookie.clone();
    assert_eq!(op.post(&b, "/check/logout", &[("csrf", &csrf)]).await.status, 303);
    assert!(op.cookie.is_none());
    op.cookie = old;
    assert!(op.get(&a, "/check").await.body.contains("name=\"password\""), "logged out on A too");
    assert_eq!(op.post(&a, "/check/start", &[("csrf", &csrf), ("preset", "age_over_18")]).await.status, 403);
    b_task.abort();
}
