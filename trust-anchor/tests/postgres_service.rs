//! The federation service over loopback HTTP with PostgreSQL registries (each entity in a
//! schema of its own): onboard, fetch, list, resolve, remove and the CRL. Runs when
//! `TESSERA_TEST_POSTGRES_URL` is set (`scripts/postgres.sh`); `TESSERA_POSTGRES=required`
//! makes its absence a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod common;

use serde_json::{Value, json};
use trust_anchor::{AppState, Config, router};
use wallet_core::federation::{ChainCollector, EntityId, TrustAnchorConfig};
use wallet_core::jose::CompactJws;
use wallet_core::time::UnixTime;

const TOKEN: &str = "postgres-test-admin-token";

async fn start(dir: &std::path::Path, name: &str, database_url: Option<String>, edit: impl FnOnce(&mut Config)) -> (EntityId, AppState) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())).unwrap();
    let mut config = Config::trust_anchor(id.clone(), dir.join(name), TOKEN);
    config.database_url = database_url;
    edit(&mut config);
    let state = AppState::connect(config).await.unwrap();
    let served = state.clone();
    tokio::spawn(async move { axum::serve(listener, router(served)).await.unwrap() });
    (id, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federation_service_on_postgres() {
    let Some(base) = common::postgres_url("federation_service_on_postgres") else { return };
    let (ta_db, int_db) = (common::Schema::new(&base).await, common::Schema::new(&base).await);
    let dir = tempfile::tempdir().unwrap();
    let (ta, ta_state) = start(dir.path(), "ta", Some(ta_db.url.clone()), |_| {}).await;
    assert_eq!(ta_state.registry().backend_name(), "postgresql");
    let anchor = TrustAnchorConfig { id: ta.clone(), jwks: ta_state.jwks() };
    let a = anchor.clone();
    let (int, _) = start(dir.path(), "int", Some(int_db.url.clone()), move |c| {
        c.authority_hints = vec![a.id.clone()];
        c.trust_anchors = vec![a];
    })
    .await;
    let hint = int.clone();
    let (leaf, _) = start(dir.path(), "leaf", None, move |c| {
        c.authority = false;
        c.authority_hints = vec![hint];
        c.metadata = json!({"openid_credential_issuer": {"credential_issuer": "https://leaf.example"}}).as_object().cloned().unwrap();
    })
    .await;
    let http = reqwest::Client::new();
    for (authority, sub) in [(&ta, &int), (&int, &leaf)] {
        let r = http.post(format!("{authority}/admin/subordinates")).bearer_auth(TOKEN).json(&json!({"entity_id": sub})).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    // fetch and list answer from PostgreSQL.
    let r = http.get(format!("{ta}/fetch?sub={int}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ss: Value = CompactJws::parse(&r.text().await.unwrap()).unwrap().payload_json().unwrap();
    assert_eq!(ss["sub"], json!(int));
    assert_eq!(ss["jwks"]["keys"][0]["x5c"].as_array().unwrap().len(), 2);
    let list: Value = http.get(format!("{int}/list?entity_type=openid_credential_issuer")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list, json!([leaf]));
    let list: Value = http.get(format!("{ta}/list?intermediate=true")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list, json!([int]));
    // The rows are in the entities' own schemas.
    let (client, conn) = tokio_postgres::connect(&ta_db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let n: i64 = client.query_one("SELECT count(*) FROM subordinates", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
    // The chain resolves.
    let (a, l) = (anchor.clone(), leaf.clone());
    let chain = tokio::task::spawn_blocking(move || {
        let fetcher = trust_anchor::fetch::HttpFetcher::new().unwrap();
        ChainCollector::new(&fetcher, &[a]).resolve(&l, UnixTime::now())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(chain.statements.len(), 3);
    // Removal: the CA certificate's serial, kept in PostgreSQL, is on the intermediate's CRL.
    let r = http.delete(format!("{int}/admin/subordinates?entity_id={leaf}")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let crl = http.get(format!("{int}/crl")).send().await.unwrap().bytes().await.unwrap();
    let (_, crl) = x509_parser::parse_x509_crl(&crl).unwrap();
    assert_eq!(crl.iter_revoked_certificates().count(), 1);
    let list: Value = http.get(format!("{int}/list")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list, json!([]));
}
