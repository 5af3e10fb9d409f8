//! Two replicas of one wallet provider on one PostgreSQL database, over real HTTP on
//! loopback: the same entity, the same keys (one `keys_dir`), data directories of their own.
//! The wallet (wallet-core, software key store) and the citizen's browser move between them
//! as a load balancer would send their requests: a login started on one finishes on the
//! other, each single-use value is refused on the other replica once used, a revocation on
//! one shows in the other's status list, the citizen's instance limit holds under
//! registrations racing on both, and a restart loses nothing. Runs when
//! `TESSERA_TEST_POSTGRES_URL` is set (`scripts/postgres.sh`); `TESSERA_POSTGRES=required`
//! makes its absence a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use common::pg::{Schema, postgres_url};
use common::{APP_REDIRECT, Fed, Wallet};
use serde_json::{Value, json};
use service_kit::RateLimit;
use wallet_core::attestation::{DEFAULT_SKEW, verify_wua};
use wallet_core::jose::{Signer as _, SoftwareSigner};
use wallet_core::status::{DEFAULT_MAX_DECOMPRESSED, StatusListToken, StatusReference, StatusValue};
use wallet_core::time::UnixTime;
use wallet_provider::store::{NewInstance, Store, StoreError};
use wallet_provider::{Config, WalletProvider};

const MARIO: &str = "TINIT-RSSMRA80A01H501U";
const LUIGI: &str = "TINIT-RSSLGU82B02H501X";
const LIMIT: u32 = 3;

/// A federation whose provider (replica A) keeps its state in `schema` and its keys in
/// `keys`, with the test OpenID Provider; the rate limits are opened up (every request comes
/// from 127.0.0.1) and the citizen's limit set to [`LIMIT`].
async fn replicated(schema: &Schema, keys: &std::path::Path) -> Fed {
    let (url, keys) = (schema.url.clone(), keys.to_path_buf());
    Fed::build_with_op(move |c: &mut Config| {
        c.database_url = Some(url);
        c.keys_dir = Some(keys);
        c.max_instances_per_citizen = LIMIT;
        let open = RateLimit::new(6_000, 1_000);
        let r = &mut c.rate_limits;
        (r.login, r.session, r.nonce, r.registration, r.attestation) = (open, open, open, open, open);
    })
    .await
}

/// Another replica (A's configuration, its own data directory `name`) on a port of its own:
/// its state, base URL and server task.
async fn replica(fed: &Fed, name: &str) -> (WalletProvider, String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = fed.provider.state.config().clone();
    config.data_dir = fed.dir.path().join(name);
    let state = WalletProvider::open(config).unwrap();
    assert_eq!(state.store().backend_name(), "postgresql");
    let served = state.clone();
    let task = tokio::spawn(async move { wallet_provider::serve_listener(served, listener, std::future::pending()).await.unwrap() });
    (state, base, task)
}

async fn nonce_at(fed: &Fed, base: &str) -> String {
    let (status, v) = Fed::json(fed.http.get(format!("{base}/nonce"))).await;
    assert_eq!(status, 200, "{v}");
    v["nonce"].as_str().unwrap().to_owned()
}

async fn register_at(fed: &Fed, base: &str, token: &str, body: &impl serde::Serialize) -> (u16, Value) {
    Fed::json(fed.http.post(format!("{base}/wallet-instances")).bearer_auth(token).json(body)).await
}

async fn attest_at(fed: &Fed, base: &str, wallet: &Wallet, nonce: &str) -> (u16, Value) {
    let (body, _) = wallet.attestation_request(fed.provider.id.as_str(), nonce);
    Fed::json(fed.http.post(format!("{base}/wallet-attestation")).json(&body)).await
}

/// The WUA's entry in the list `base` serves (verified as a relying party does: x5c to the
/// federation root, `sub` the list's URI under the entity id).
async fn status_at(fed: &Fed, base: &str, reference: &StatusReference) -> StatusValue {
    let r = fed.http.get(format!("{base}{}", wallet_provider::status_list::STATUS_LIST_PATH)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body = r.bytes().await.unwrap();
    StatusListToken::verify_response(ct.as_deref(), &body, reference, &fed.x5c_resolver(), UnixTime::now(), 60, DEFAULT_MAX_DECOMPRESSED)
        .unwrap()
        .lookup(reference.idx)
        .unwrap()
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_and_a_wallet_move_between_two_replicas() {
    let Some(base) = postgres_url("a_citizen_and_a_wallet_move_between_two_replicas") else { return };
    let schema = Schema::new(&base);
    let keys = tempfile::tempdir().unwrap();
    let fed = replicated(&schema, keys.path()).await;
    let a = fed.provider.id.as_str().trim_end_matches('/').to_owned();
    assert_eq!(fed.provider.state.store().backend_name(), "postgresql");
    let (b_state, b, b_task) = replica(&fed, "wp-b").await;
    assert_eq!(b_state.keys().attestation().kid(), fed.provider.state.keys().attestation().kid(), "one attestation key");

    // The SPID/CIE login started on A finishes on B (the login travels sealed in the OIDC
    // state, under the relying party's key both share); the one-time code is redeemed on A,
    // and refused on B once used.
    let mut login = url::Url::parse(&format!("{a}/citizen/login")).unwrap();
    login.query_pairs_mut().append_pair("redirect_uri", APP_REDIRECT).append_pair("state", "app-1");
    let back = fed.browse_via(login.as_str(), MARIO, Some(&b)).await;
    assert!(back.starts_with(APP_REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("app-1"));
    let code = param(&back, "code").unwrap();
    let (status, v) = Fed::json(fed.http.post(format!("{a}/citizen/session")).json(&json!({"code": code}))).await;
    assert_eq!((status, v["fiscal_number"].as_str()), (200, Some(MARIO)), "{v}");
    let token = v["session_token"].as_str().unwrap().to_owned();
    let (status, v) = Fed::json(fed.http.post(format!("{b}/citizen/session")).json(&json!({"code": code}))).await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_request")), "a used login code: {v}");

    // A nonce from A used at B (the session made on A is valid there), refused on replay at A.
    let first = Wallet::new();
    let req = first.registration(&nonce_at(&fed, &a).await);
    let (status, v) = register_at(&fed, &b, &token, &req).await;
    assert_eq!(status, 204, "{v}");
    let (status, v) = register_at(&fed, &a, &token, &req).await;
    assert_eq!((status, v["error"].as_str()), (403, Some("invalid_request")), "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("nonce"), "{v}");
    // The same tag again, with a fresh nonce, on the other replica: refused.
    let (status, v) = register_at(&fed, &a, &token, &first.registration(&nonce_at(&fed, &a).await)).await;
    assert_eq!((status, v["error"].as_str()), (422, Some("validation_error")), "{v}");

    // Registration at A, attestation at B (a nonce from B), verified as an issuer does.
    let second = Wallet::new();
    let (status, v) = register_at(&fed, &a, &token, &second.registration(&nonce_at(&fed, &a).await)).await;
    assert_eq!(status, 204, "{v}");
    let nonce = nonce_at(&fed, &b).await;
    let (status, v) = attest_at(&fed, &b, &second, &nonce).await;
    assert_eq!(status, 200, "{v}");
    let (status, replay) = attest_at(&fed, &a, &second, &nonce).await;
    assert_eq!((status, replay["error"].as_str()), (403, Some("invalid_request")), "B's nonce replayed at A: {replay}");
    let att = Fed::attestations(v);
    let wua = verify_wua(&att.wallet_attestations.wallet_unit_attestation, &fed.x5c_resolver(), UnixTime::now(), DEFAULT_SKEW).unwrap();
    let reference = wua.status().clone();
    assert_eq!(status_at(&fed, &a, &reference).await, StatusValue::Valid);
    assert_eq!(status_at(&fed, &b, &reference).await, StatusValue::Valid);

    // Revocation at A: B's list shows it, and B issues no attestation for it any more.
    let path = format!("/wallet-instances/{}", second.hardware.as_str());
    let (status, v) = Fed::json(fed.http.patch(format!("{a}{path}")).bearer_auth(&token).json(&json!({"status": "REVOKED"}))).await;
    assert_eq!(status, 204, "{v}");
    assert_eq!(status_at(&fed, &b, &reference).await, StatusValue::Invalid);
    assert_eq!(status_at(&fed, &a, &reference).await, StatusValue::Invalid);
    let (status, v) = attest_at(&fed, &b, &second, &nonce_at(&fed, &b).await).await;
    assert_eq!((status, v["error"].as_str()), (403, Some("invalid_request")), "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("revoked"), "{v}");
    let (_, v) = Fed::json(fed.http.get(format!("{b}{path}")).bearer_auth(&token)).await;
    assert_eq!(v["status"], "REVOKED");

    // B restarts: nothing is lost. The session, a nonce A issued before the restart, the
    // instances and the list.
    let before_restart = nonce_at(&fed, &a).await;
    b_task.abort();
    let _ = b_task.await;
    drop(b_state);
    let (_b2_state, b2, _b2_task) = replica(&fed, "wp-b").await;
    let (status, list) = Fed::json(fed.http.get(format!("{b2}/wallet-instances")).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{list}");
    let state_of = |w: &Wallet| list.as_array().unwrap().iter().find(|i| i["id"] == w.hardware.as_str()).map(|i| i["status"].clone());
    assert_eq!((state_of(&first), state_of(&second)), (Some(json!("ACTIVE")), Some(json!("REVOKED"))), "{list}");
    let (status, v) = attest_at(&fed, &b2, &first, &before_restart).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(status_at(&fed, &b2, &reference).await, StatusValue::Invalid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_limit_holds_under_registrations_racing_on_two_replicas() {
    let Some(base) = postgres_url("the_instance_limit_holds_under_registrations_racing_on_two_replicas") else { return };
    let schema = Schema::new(&base);
    let keys = tempfile::tempdir().unwrap();
    let fed = Arc::new(replicated(&schema, keys.path()).await);
    let a = fed.provider.id.as_str().trim_end_matches('/').to_owned();
    let (_b_state, b, _b_task) = replica(&fed, "wp-b").await;
    let token = fed.provider.state.insecure_create_session(LUIGI).unwrap();

    // Eight wallets, each registering on A or B in turn, all at once: LIMIT succeed.
    let wallets: Vec<Wallet> = (0..8).map(|_| Wallet::new()).collect();
    let mut bodies = Vec::new();
    for (i, w) in wallets.iter().enumerate() {
        let base = if i % 2 == 0 { &a } else { &b };
        bodies.push((base.clone(), serde_json::to_value(w.registration(&nonce_at(&fed, base).await)).unwrap()));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(bodies.len()));
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|(base, body)| {
            let (fed, token, barrier) = (fed.clone(), token.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                register_at(&fed, &base, &token, &body).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let ok = answers.iter().filter(|(s, _)| *s == 204).count();
    assert_eq!(ok, LIMIT as usize, "{answers:?}");
    for (s, v) in answers.iter().filter(|(s, _)| *s != 204) {
        assert_eq!((*s, v["error"].as_str()), (422, Some("validation_error")), "{v}");
    }
    let (_, list) = Fed::json(fed.http.get(format!("{b}/wallet-instances")).bearer_auth(&token)).await;
    assert_eq!(list.as_array().unwrap().len(), LIMIT as usize, "{list}");

    // One revoked on B: one more registers on A, and no more.
    let id = list[0]["id"].as_str().unwrap();
    let (status, _) = Fed::json(fed.http.patch(format!("{b}/wallet-instances/{id}")).bearer_auth(&token).json(&json!({"status": "REVOKED"}))).await;
    assert_eq!(status, 204);
    let (status, v) = register_at(&fed, &a, &token, &Wallet::new().registration(&nonce_at(&fed, &a).await)).await;
    assert_eq!(status, 204, "{v}");
    let (status, v) = register_at(&fed, &b, &token, &Wallet::new().registration(&nonce_at(&fed, &b).await)).await;
    assert_eq!((status, v["error"].as_str()), (422, Some("validation_error")), "{v}");
}

/// Runs `f(i)` on eight threads at once, alternating two stores: the answers.
fn race<T: Send + 'static>(stores: &[Arc<Store>; 2], f: impl Fn(&Store, usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let f = Arc::new(f);
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (store, f, barrier) = (stores[i % 2].clone(), f.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                f(&store, i)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn wins(answers: &[bool]) -> usize {
    answers.iter().filter(|w| **w).count()
}

#[test]
fn single_use_values_race_across_two_stores() {
    let Some(base) = postgres_url("single_use_values_race_across_two_stores") else { return };
    let schema = Schema::new(&base);
    let stores = [Arc::new(Store::postgres(&schema.url).unwrap()), Arc::new(Store::postgres(&schema.url).unwrap())];
    stores[0].ping().unwrap();
    let key = SoftwareSigner::generate().unwrap().public_jwk();

    stores[0].put_nonce("n", i64::MAX / 2, 0).unwrap();
    assert_eq!(wins(&race(&stores, |s, _| s.take_nonce("n", 1).unwrap())), 1, "a nonce, once");
    stores[1].put_login_code("code", "CF", i64::MAX / 2, 0).unwrap();
    let got = race(&stores, |s, _| s.take_login_code("code", 1).unwrap());
    assert_eq!(got.iter().flatten().collect::<Vec<_>>(), ["CF"], "a login code, once");
    assert_eq!(wins(&race(&stores, |s, _| s.use_jti("jti", i64::MAX / 2, 1).unwrap())), 1, "a voucher jti, once");

    // One tag, eight registrations: one instance.
    let k = key.clone();
    let got = race(&stores, move |s, i| s.register(&NewInstance { id: "tag", fiscal_number: &format!("CF{i}"), public_key: &k, now: 1, max_active: 10 }));
    assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 1, "{got:?}");
    assert!(got.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, StoreError::Duplicate)), "{got:?}");
    // Eight tags of one citizen: LIMIT instances.
    let k = key.clone();
    let got = race(&stores, move |s, i| s.register(&NewInstance { id: &format!("t{i}"), fiscal_number: "CF", public_key: &k, now: 1, max_active: LIMIT }));
    assert_eq!(got.iter().filter(|r| r.is_ok()).count(), LIMIT as usize, "{got:?}");
    assert!(got.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, StoreError::TooManyInstances { limit: LIMIT })), "{got:?}");

    // Revocation once, with its entry; both stores then build the same list.
    let id = stores[0].instances_of("CF").unwrap()[0].id.clone();
    let id2 = id.clone();
    assert_eq!(wins(&race(&stores, move |s, _| s.revoke(&id2, 1, 2).unwrap())), 1, "revoked once");
    let list = stores[0].status_entries().unwrap();
    assert_eq!(list, stores[1].status_entries().unwrap());
    assert_eq!(list.0, vec![(stores[1].instance(&id).unwrap().unwrap().status_idx, 1)]);
    let all = race(&stores, |s, _| s.revoke_all_of("CF", 1, 3).unwrap());
    assert_eq!(all.iter().map(Vec::len).sum::<usize>(), LIMIT as usize - 1, "each other instance revoked once: {all:?}");

    // Many registrations at once: every status index distinct.
    let k = key.clone();
    let got = race(&stores, move |s, i| {
        (0..25).map(|n| s.register(&NewInstance { id: &format!("m{i}-{n}"), fiscal_number: &format!("M{i}"), public_key: &k, now: 4, max_active: 100 }).unwrap().status_idx).collect::<Vec<_>>()
    });
    let mut idx: Vec<u64> = got.into_iter().flatten().collect();
    idx.extend(stores[0].instances_of("CF").unwrap().iter().map(|i| i.status_idx));
    let n = idx.len();
    idx.sort_unstable();
    idx.dedup();
    assert_eq!(idx.len(), n, "status indices are unique");
}

#[test]
fn a_bad_database_url_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let id = |s: &str| wallet_core::federation::EntityId::new(s).unwrap();
    let mut config = Config::new(id("http://127.0.0.1:9"), id("http://127.0.0.1:8"), dir.path().to_path_buf());
    config.database_url = Some("mysql://x".into());
    assert!(WalletProvider::open(config.clone()).unwrap_err().to_string().contains("database_url"));
    // A server that is not there: refused at start, not at the first wallet.
    config.database_url = Some("postgres://u:p@127.0.0.1:9/db?connect_timeout=2".into());
    let e = WalletProvider::open(config).unwrap_err().to_string();
    assert!(e.contains("PostgreSQL"), "{e}");
}

/// HAProxy (`scripts/haproxy.sh`) in front of `backends` on `port`, stopped on drop (by
/// its process id: its directory may be gone by then).
struct Balancer {
    pid: String,
}

const HAPROXY_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/haproxy.sh");

impl Balancer {
    /// `None` when HAProxy cannot be had here (not installed and not installable) and
    /// PostgreSQL tests are not required.
    fn start(dir: std::path::PathBuf, port: u16, backends: &[String]) -> Option<Self> {
        let out = std::process::Command::new("bash").arg(HAPROXY_SH).arg(&dir).arg(format!("wp:{port}={}", backends.join(","))).output().unwrap();
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(std::env::var("TESSERA_POSTGRES").as_deref() != Ok("required"), "scripts/haproxy.sh failed: {why}");
            eprintln!("skipped: scripts/haproxy.sh failed: {why}");
            return None;
        }
        let pid = std::fs::read_to_string(dir.join("haproxy.pid")).unwrap().trim().to_owned();
        Some(Self { pid })
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").arg(&self.pid).status();
    }
}

fn counter(p: &WalletProvider, name: &str) -> u64 {
    let text = p.metrics().render();
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap()
}

/// The deployment the issue asks for: both replicas behind a real load balancer (HAProxy,
/// round-robin, so consecutive requests land on different replicas), the entity id being the
/// balancer's address. The phone's own activation flow (wallet-core's `WalletActivation`,
/// as the app drives it) and the citizen's browser go through the balancer only: login,
/// registration, attestation, listing, revocation, the status list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_core_activates_through_a_load_balancer_over_two_replicas() {
    use common::{Provider, mark, onboard, start_anchor, start_op};
    use wallet_core::attestation::InstanceStatus;
    use wallet_core::attestation::key_attestation::SoftwareAttester;
    use wallet_core::keystore::SoftwareKeyStore;
    use wallet_core::wallet::http::ReqwestHttpClient;
    use wallet_core::wallet::{InstanceStore, WalletActivation};

    let Some(base) = postgres_url("wallet_core_activates_through_a_load_balancer_over_two_replicas") else { return };
    let schema = Schema::new(&base);
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let anchor = start_anchor(dir.path()).await;
    let op = start_op(dir.path(), &anchor, &http).await;

    // The balancer's port (free now), the replicas' listeners, one configuration.
    let lb_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let id = wallet_core::federation::EntityId::new(format!("http://127.0.0.1:{lb_port}")).unwrap();
    let mut config = Config::new(id.clone(), anchor.id.clone(), dir.path().join("wp-a"));
    config.admin_token = common::TOKEN.into();
    config.trust_anchor_jwks = Some(anchor.jwks.clone());
    config.allowed_redirect_uris = vec![APP_REDIRECT.into()];
    config.op_entity_id = Some(op.clone());
    config.database_url = Some(schema.url.clone());
    config.keys_dir = Some(dir.path().join("wp-keys"));
    let mut replicas = Vec::new();
    let mut backends = Vec::new();
    for name in ["wp-a", "wp-b"] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        backends.push(listener.local_addr().unwrap().to_string());
        let mut c = config.clone();
        c.data_dir = dir.path().join(name);
        let state = WalletProvider::open(c).unwrap();
        let served = state.clone();
        tokio::spawn(async move { wallet_provider::serve_listener(served, listener, std::future::pending()).await.unwrap() });
        replicas.push(state);
    }
    let Some(_balancer) = Balancer::start(dir.path().join("lb"), lb_port, &backends) else { return };
    let health = format!("{id}/health");
    let mut up = false;
    for _ in 0..50 {
        if http.get(&health).send().await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the balancer never answered");

    // Onboarding and the trust marks, through the balancer too.
    let provider = Provider { id: id.clone(), state: replicas[0].clone() };
    onboard(&http, &anchor, &provider).await;
    mark(&http, &anchor, &id, "openid_relying_party/public").await;
    let fed = Fed { dir, anchor, provider, op: Some(op), http };

    let resolver = Arc::new(fed.x5c_resolver());
    let provider_id = id.to_string();
    let wallet = tokio::task::spawn_blocking(move || {
        let keys = Arc::new(SoftwareKeyStore::in_memory(SoftwareAttester::development().unwrap()).unwrap());
        WalletActivation::new(provider_id, keys, Arc::new(ReqwestHttpClient::new().unwrap()), InstanceStore::in_memory().unwrap(), resolver)
    })
    .await
    .unwrap();
    let wallet = Arc::new(wallet);
    let pending = wallet.start_login(APP_REDIRECT).unwrap();
    let back = fed.browse(&pending.url(), MARIO).await;
    let w = wallet.clone();
    let (session, attestations, list) = tokio::task::spawn_blocking(move || {
        let session = w.finish_login(&pending, &back).unwrap();
        let attestations = w.activate(&session).unwrap();
        let list = w.list_instances(&session).unwrap();
        (session, attestations, list)
    })
    .await
    .unwrap();
    assert_eq!(session.fiscal_number, MARIO);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, InstanceStatus::Active);
    let reference = attestations.wallet_unit_attestation.status().clone();
    assert!(reference.uri.starts_with(id.as_str()), "{}", reference.uri);
    let lb = id.as_str().trim_end_matches('/').to_owned();
    assert_eq!(status_at(&fed, &lb, &reference).await, StatusValue::Valid);

    let w = wallet.clone();
    let instance = list[0].id.clone();
    let after = tokio::task::spawn_blocking(move || {
        w.revoke_instance(&session, &instance).unwrap();
        w.list_instances(&session).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(after[0].status, InstanceStatus::Revoked);
    // Two fetches in a row: one from each replica, both revoked.
    assert_eq!(status_at(&fed, &lb, &reference).await, StatusValue::Invalid);
    assert_eq!(status_at(&fed, &lb, &reference).await, StatusValue::Invalid);

    // Both replicas did part of the work.
    for (i, r) in replicas.iter().enumerate() {
        let served: u64 = ["wallet_provider_nonces_issued_total", "wallet_provider_registrations_total", "wallet_provider_attestations_issued_total", "wallet_provider_status_list_served_total"]
            .iter()
            .map(|n| counter(r, n))
            .sum();
        assert!(served > 0, "replica {i} served none of the wallet's requests");
    }
    assert_eq!(replicas.iter().map(|r| counter(r, "wallet_provider_status_list_served_total")).sum::<u64>(), 3);
}
