//! Two replicas of one issuer on one PostgreSQL database (a schema of its own), over real
//! HTTP on loopback: the same entity and keys (one `keys_dir`), data directories of their own.
//! Requests move between them as a load balancer would send them (each replica answers for
//! the one entity id: DPoP proofs name its URLs). Every single-use value, once used on one
//! replica, is refused on the other; status indexes are unique under concurrent issuance on
//! both; a revocation on one is in the other's status list; a restart loses nothing. The
//! wallet is played with wallet-core's oid4vci functions (tests/common). Runs when
//! `TESSERA_TEST_POSTGRES_URL` is set (`eval "$(./scripts/postgres.sh)"`);
//! `TESSERA_POSTGRES=required` makes its absence a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::pg::{Schema, postgres_url};
use common::{AuthzWallet, Fed, MARIO, MDL, TOKEN, Wallet};
use issuer::{Config, Issuer};
use serde_json::{Value, json};
use wallet_core::oid4vci::{AuthorizeRequest, CredentialResponse, ParRequestBuilder, ParResponse, TokenRequest};
use wallet_core::sd_jwt::StaticKeyResolver;
use wallet_core::status::{DEFAULT_MAX_DECOMPRESSED, StatusListToken, StatusValue};
use wallet_core::time::UnixTime;

/// A replica serving `config` on a port of its own: its base URL and its serving task.
async fn start(config: Config) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let replica = Issuer::open(config).unwrap();
    assert_eq!(replica.store().backend_name(), "postgresql");
    let task = tokio::spawn(async move { issuer::serve_listener(replica, listener, std::future::pending()).await.unwrap() });
    (base, task)
}

/// The federation with replica A on a schema of its own at `url` and a shared `keys_dir`
/// (`edit` for the rest): keep the schema and the directory alive for the test.
async fn on_postgres(url: &str, edit: impl FnOnce(&mut Config)) -> (Schema, tempfile::TempDir, Fed) {
    let schema = Schema::new(url).await;
    let keys = tempfile::tempdir().unwrap();
    let (db, kd) = (schema.url.clone(), keys.path().to_path_buf());
    let fed = Fed::with(move |c| {
        c.database_url = Some(db);
        c.keys_dir = Some(kd);
        edit(c);
    })
    .await;
    (schema, keys, fed)
}

/// Replica B's configuration: A's, with a data directory of its own.
fn replica_config(fed: &Fed, name: &str) -> Config {
    let mut c = fed.config.clone();
    c.data_dir = fed.dir.path().join(name);
    c
}

/// The pre-authorized code at `base`'s `/token` (DPoP for the entity's token endpoint).
async fn token_at(fed: &Fed, wallet: &Wallet, base: &str, code: &str, tx: &str) -> (u16, Value) {
    let form = TokenRequest::PreAuthorizedCode { pre_authorized_code: code.into(), tx_code: Some(tx.into()) }.to_form();
    let d = wallet.dpop_for(fed, "/token", None);
    Fed::json(fed.http.post(format!("{base}/token")).header("content-type", "application/x-www-form-urlencoded").header("DPoP", d).body(form)).await
}

async fn nonce_at(fed: &Fed, base: &str) -> String {
    let (s, v) = Fed::json(fed.http.post(format!("{base}/nonce"))).await;
    assert_eq!(s, 200, "{v}");
    v["c_nonce"].as_str().unwrap().to_owned()
}

/// `POST {base}/credential` with the access token and `dpop` (or a fresh proof).
async fn credential_at(fed: &Fed, wallet: &Wallet, base: &str, at: &str, body: &Value, dpop: Option<String>) -> (u16, Value) {
    let d = dpop.unwrap_or_else(|| wallet.dpop_for(fed, "/credential", Some(at)));
    Fed::json(fed.http.post(format!("{base}/credential")).header("authorization", format!("DPoP {at}")).header("DPoP", d).json(body)).await
}

/// A credential request for the mDL with proofs by all of `wallet`'s keys on `nonce`.
fn mdl_request(fed: &Fed, wallet: &Wallet, nonce: &str) -> Value {
    let keys: Vec<_> = wallet.keys.iter().collect();
    Wallet::request(MDL, wallet.proofs(fed, &keys, &fed.wua(&keys), nonce))
}

/// An offer made on A, its access token from `base`.
async fn access_token(fed: &Fed, wallet: &Wallet, base: &str) -> String {
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(fed, &url).await;
    let (s, v) = token_at(fed, wallet, base, &code, &tx).await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_owned()
}

/// The status of `idx` in `base`'s status list, verified with the key of A's metadata.
async fn status_at(fed: &Fed, base: &str, idx: u64) -> StatusValue {
    let r = fed.http.get(format!("{base}/status-list")).send().await.unwrap();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body = r.bytes().await.unwrap();
    let reference = wallet_core::status::StatusReference { idx, uri: fed.url("/status-list") };
    let resolver = StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());
    StatusListToken::verify_response(ct.as_deref(), &body, &reference, &resolver, UnixTime::now(), 60, DEFAULT_MAX_DECOMPRESSED).unwrap().lookup(idx).unwrap()
}

/// MARIO's credentials as `base`'s admin API lists them.
async fn issued_at(fed: &Fed, base: &str) -> Vec<Value> {
    let (s, v) = Fed::json(fed.http.get(format!("{base}/admin/citizens/{MARIO}/credentials")).bearer_auth(TOKEN)).await;
    assert_eq!(s, 200, "{v}");
    v["credentials"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_offers_nonces_jtis_pushed_requests_status_and_survive_a_restart() {
    let Some(url) = postgres_url("replicas_share_offers_nonces_jtis_pushed_requests_status_and_survive_a_restart") else { return };
    let (_schema, _keys, fed) = on_postgres(&url, |_| {}).await;
    assert_eq!(fed.issuer.store().backend_name(), "postgresql");
    let a = fed.issuer_id.as_str().trim_end_matches('/').to_owned();
    let (b, b_task) = start(replica_config(&fed, "b")).await;
    let (_, md_b) = Fed::json(fed.http.get(format!("{b}/.well-known/openid-credential-issuer"))).await;
    assert_eq!(md_b["jwks"], serde_json::to_value(fed.issuer.keys().issuer_jwks(wallet_core::time::UnixTime::now().secs(), fed.config.credential_ttl)).unwrap(), "one credential key");

    // An offer created through A's admin API is redeemed at B, once.
    let wallet = Wallet::new(1);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let (s, v) = token_at(&fed, &wallet, &b, &code, &tx).await;
    assert_eq!(s, 200, "{v}");
    let at = v["access_token"].as_str().unwrap().to_owned();
    let (s, v) = token_at(&fed, &wallet, &a, &code, &tx).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")), "the code spent at B: {v}");

    // A c_nonce from A is accepted once at B, refused the second time at A.
    let nonce = nonce_at(&fed, &a).await;
    let body = mdl_request(&fed, &wallet, &nonce);
    let (s, v) = credential_at(&fed, &wallet, &b, &at, &body, None).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = credential_at(&fed, &wallet, &a, &at, &body, None).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_nonce")), "the nonce spent at B: {v}");

    // A DPoP jti used at A is refused at B.
    let body = mdl_request(&fed, &wallet, &nonce_at(&fed, &b).await);
    let proof = wallet.dpop_for(&fed, "/credential", Some(&at));
    let (s, v) = credential_at(&fed, &wallet, &a, &at, &body, Some(proof.clone())).await;
    assert_eq!(s, 200, "{v}");
    let body = mdl_request(&fed, &wallet, &nonce_at(&fed, &b).await);
    let (s, v) = credential_at(&fed, &wallet, &b, &at, &body, Some(proof)).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_dpop_proof")), "the jti seen at A: {v}");

    // A pushed request_uri from A, used at B, is refused at A (and at B again).
    let client = AuthzWallet::new(&fed);
    let (authorize, _) = client.par(&fed, &[MDL]).await;
    let r = fed.http.get(fed.via(&authorize, &b)).send().await.unwrap();
    assert_eq!(r.status(), 302, "the request_uri taken at B");
    for base in [&a, &b] {
        let (s, v) = Fed::json(fed.http.get(fed.via(&authorize, base))).await;
        assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "a reused request_uri at {base}: {v}");
    }
    // Pushed at B, used at A: the same.
    let pb = ParRequestBuilder { audience: fed.issuer_id.as_str(), redirect_uri: common::REDIRECT, scope: None, configuration_ids: &[MDL], issuer_state: None };
    let (req, _) = pb.build(&client.key, UnixTime::now()).unwrap();
    let r = fed.http.post(format!("{b}/par")).header("content-type", "application/x-www-form-urlencoded").body(req.to_form());
    let (s, v) = Fed::json(client.attest(&fed, r)).await;
    assert_eq!(s, 201, "{v}");
    let pushed = ParResponse::parse(v.to_string().as_bytes()).unwrap();
    let authorize = AuthorizeRequest { client_id: req.client_id, request_uri: pushed.request_uri }.to_url(&fed.url("/authorize"));
    assert_eq!(fed.http.get(&authorize).send().await.unwrap().status(), 302);
    let (s, _) = Fed::json(fed.http.get(fed.via(&authorize, &b))).await;
    assert_eq!(s, 400, "the request_uri taken at A");

    // Concurrent issuance on both replicas: distinct status indexes.
    let before = issued_at(&fed, &b).await.len();
    let fed = Arc::new(fed);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (fed, base) = (Arc::clone(&fed), if i % 2 == 0 { a.clone() } else { b.clone() });
        tasks.push(tokio::spawn(async move {
            let wallet = Wallet::new(3);
            let at = access_token(&fed, &wallet, &base).await;
            let body = mdl_request(&fed, &wallet, &nonce_at(&fed, &base).await);
            let (s, v) = credential_at(&fed, &wallet, &base, &at, &body, None).await;
            assert_eq!(s, 200, "{v}");
            let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate") };
            assert_eq!(credentials.len(), 3);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = issued_at(&fed, &a).await;
    assert_eq!(all.len(), before + 24);
    let indexes: BTreeSet<u64> = all.iter().map(|c| c["status_idx"].as_u64().unwrap()).collect();
    assert_eq!(indexes.len(), all.len(), "every credential its own index, across replicas");

    // A revocation on A shows in B's status list (and A's: one list), though B keeps its
    // signed list between GETs: B reads the version A's change moved in the database.
    let victim = &all[0];
    let idx = victim["status_idx"].as_u64().unwrap();
    assert_eq!(status_at(&fed, &b, idx).await, StatusValue::Valid);
    let iat_and_signings = |base: String| {
        let fed = Arc::clone(&fed);
        async move {
            let t = fed.http.get(format!("{base}/status-list")).send().await.unwrap().text().await.unwrap();
            let iat = wallet_core::jose::CompactJws::parse(&t).unwrap().payload_json::<Value>().unwrap()["iat"].as_i64().unwrap();
            let m = fed.http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
            let n: u64 = m.lines().find_map(|l| l.strip_prefix("issuer_status_list_signed_total ")).unwrap().trim().parse().unwrap();
            (iat, n)
        }
    };
    let before_b = iat_and_signings(b.clone()).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(iat_and_signings(b.clone()).await, before_b, "no change: B serves the token it signed");
    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/status")).bearer_auth(TOKEN).json(&json!({"action": "revoke", "credential_id": victim["id"]}))).await;
    assert_eq!((s, v["changed"].as_u64()), (200, Some(1)), "{v}");
    assert_eq!(status_at(&fed, &b, idx).await, StatusValue::Invalid);
    assert_eq!(status_at(&fed, &a, idx).await, StatusValue::Invalid);
    let after_b = iat_and_signings(b.clone()).await;
    assert!(after_b.0 > before_b.0 && after_b.1 == before_b.1 + 1, "B signed once after A's change: {before_b:?} {after_b:?}");
    let list = |base: String| {
        let fed = Arc::clone(&fed);
        async move {
            let t = fed.http.get(format!("{base}/status-list")).send().await.unwrap().text().await.unwrap();
            wallet_core::jose::CompactJws::parse(&t).unwrap().payload_json::<Value>().unwrap()["status_list"].clone()
        }
    };
    assert_eq!(list(a.clone()).await, list(b.clone()).await, "every replica publishes the same list");

    // B restarts: nothing is lost. An offer made and a nonce handed out before the restart
    // are used after it; the credentials issued before are still listed.
    let wallet = Wallet::new(1);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let nonce = nonce_at(&fed, &b).await;
    b_task.abort();
    let _ = b_task.await;
    let (b2, _b2_task) = start(replica_config(&fed, "b")).await;
    assert_eq!(issued_at(&fed, &b2).await.len(), before + 24);
    let (s, v) = token_at(&fed, &wallet, &b2, &code, &tx).await;
    assert_eq!(s, 200, "{v}");
    let at = v["access_token"].as_str().unwrap().to_owned();
    let (s, v) = credential_at(&fed, &wallet, &b2, &at, &mdl_request(&fed, &wallet, &nonce), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(status_at(&fed, &b2, idx).await, StatusValue::Invalid);
}

#[test]
fn a_bad_database_url_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(wallet_core::federation::EntityId::new("https://issuer.example.it").unwrap(), dir.path().to_path_buf(), &[issuer::presets::Preset::Mdl]);
    config.database_url = Some("postgres://nobody:x@127.0.0.1:1/none?connect_timeout=2".into());
    assert!(Issuer::open(config).unwrap_err().to_string().contains("PostgreSQL"));
}

/// Re-issuance is single use across replicas (issue 12): after an update, one `/credential`
/// request with a refreshed token at A and one at B at the same moment: the marked
/// credential is claimed by one guarded `UPDATE ... RETURNING` on the shared database, so
/// exactly one replica serves, the other answers `credential_request_denied`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reissuances_on_two_replicas_serve_exactly_one() {
    let Some(url) = postgres_url("concurrent_reissuances_on_two_replicas_serve_exactly_one") else { return };
    let (_schema, _keys, fed) = on_postgres(&url, |c| c.access_token_ttl = 30).await;
    let a = fed.issuer_id.as_str().trim_end_matches('/').to_owned();
    let (b, _b_task) = start(replica_config(&fed, "b")).await;

    let wallet = Wallet::new(1);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let (s, v) = token_at(&fed, &wallet, &a, &code, &tx).await;
    assert_eq!(s, 200, "{v}");
    let (at, rt) = (v["access_token"].as_str().unwrap().to_owned(), v["refresh_token"].as_str().expect("a refresh token").to_owned());
    let (s, v) = credential_at(&fed, &wallet, &a, &at, &mdl_request(&fed, &wallet, &nonce_at(&fed, &a).await), None).await;
    assert_eq!(s, 200, "{v}");

    let registry = rusqlite::Connection::open(&fed.config.registry).unwrap();
    registry.execute("UPDATE licences SET expiry_date = '2042-03-31' WHERE tax_id_code = ?1", [MARIO]).unwrap();
    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/status")).bearer_auth(TOKEN).json(&json!({"action": "update", "citizen": MARIO}))).await;
    assert_eq!((s, v["changed"].as_u64()), (200, Some(1)), "{v}");

    let mut requests = Vec::new();
    for base in [&a, &b] {
        let (s, v) = wallet.refresh(&fed, &rt, &wallet.dpop).await;
        assert_eq!(s, 200, "{v}");
        let at = v["access_token"].as_str().unwrap().to_owned();
        let fresh = Wallet::new(1);
        let body = mdl_request(&fed, &fresh, &nonce_at(&fed, base).await);
        requests.push((base.clone(), at, body));
    }
    let [(b1, at1, body1), (b2, at2, body2)] = <[_; 2]>::try_from(requests).unwrap();
    let (r1, r2) = tokio::join!(credential_at(&fed, &wallet, &b1, &at1, &body1, None), credential_at(&fed, &wallet, &b2, &at2, &body2, None));
    let served = [&r1, &r2].into_iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(served, 1, "exactly one re-issuance: {r1:?} {r2:?}");
    let denied = if r1.0 == 200 { &r2 } else { &r1 };
    assert_eq!((denied.0, denied.1["error"].as_str()), (400, Some("credential_request_denied")), "{denied:?}");
    let mut statuses: Vec<u64> = issued_at(&fed, &b).await.iter().map(|c| c["status"].as_u64().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![0, 1], "the old one INVALID, one successor");
}

/// Real time, moved on by what a test adds.
#[derive(Debug, Default)]
struct Later(std::sync::atomic::AtomicI64);

impl wallet_core::time::Clock for Later {
    fn now(&self) -> UnixTime {
        UnixTime(UnixTime::now().secs() + self.0.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// The credential key rotated while running, across replicas sharing `keys_dir` and the
/// database: rotated through A's admin API, A signs with the new key at once; B may go on
/// with the old one (still published, retired: what it signs verifies) until it looks at
/// `keys_dir` again, at most a second later (B's clock is moved on here), then signs with the
/// new key and publishes it first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_on_one_replica_is_taken_up_by_the_other() {
    let Some(url) = postgres_url("a_key_rotated_on_one_replica_is_taken_up_by_the_other") else { return };
    let (_schema, _keys, fed) = on_postgres(&url, |_| {}).await;
    let a = fed.issuer_id.as_str().trim_end_matches('/').to_owned();
    let clock = Arc::new(Later::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let replica = Issuer::builder(replica_config(&fed, "b")).clock(clock.clone()).open().unwrap();
    tokio::spawn(async move { issuer::serve_listener(replica, listener, std::future::pending()).await.unwrap() });

    let signed_at = |base: String| {
        let fed = &fed;
        async move {
            let wallet = Wallet::new(1);
            let at = access_token(fed, &wallet, &base).await;
            let (s, v) = credential_at(fed, &wallet, &base, &at, &mdl_request(fed, &wallet, &nonce_at(fed, &base).await), None).await;
            assert_eq!(s, 200, "{v}");
            let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate: {v}") };
            wallet_core::jose::CompactJws::parse(credentials[0].credential.split('~').next().unwrap()).unwrap().header().kid.clone().unwrap()
        }
    };
    let k0 = signed_at(b.clone()).await;
    let (s, r) = Fed::json(fed.http.post(format!("{a}/admin/credential-key/rotate")).bearer_auth(TOKEN).json(&json!({}))).await;
    assert_eq!((s, r["old_kid"].as_str()), (200, Some(k0.as_str())), "{r}");
    let k1 = r["new_kid"].as_str().unwrap().to_owned();
    assert_eq!(signed_at(a.clone()).await, k1, "A at once");
    let by_b = signed_at(b.clone()).await;
    assert!(by_b == k0 || by_b == k1, "B: the old key until its next look at keys_dir (within a second), then the new one: {by_b}");
    let (_, md) = Fed::json(fed.http.get(format!("{a}/.well-known/openid-credential-issuer"))).await;
    assert_eq!(md["jwks"]["keys"][1]["kid"].as_str(), Some(k0.as_str()), "the old key stays published: B's credential verifies");

    clock.0.store(2, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(signed_at(b.clone()).await, k1, "B took the new key up");
    let (_, md) = Fed::json(fed.http.get(format!("{b}/.well-known/openid-credential-issuer"))).await;
    assert_eq!(md["jwks"]["keys"][0]["kid"].as_str(), Some(k1.as_str()));
}
