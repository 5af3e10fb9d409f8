//! One registry test suite, run against both backends: SQLite (always) and PostgreSQL
//! (`TESSERA_TEST_POSTGRES_URL`; `TESSERA_POSTGRES=required` makes its absence a failure).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod common;

use serde_json::json;
use trust_anchor::registry::{IssuedCertificate, IssuedTrustMark, Registry, Subordinate, SubordinateEvent};
use wallet_core::federation::EntityId;
use wallet_core::jose::Signer as _;
use wallet_core::jose::jwk::JwkSet;

fn sub(id: &str, intermediate: bool) -> Subordinate {
    let key = wallet_core::jose::SoftwareSigner::generate().unwrap().public_jwk();
    Subordinate {
        entity_id: EntityId::new(id).unwrap(),
        entity_types: vec!["federation_entity".into(), "openid_credential_issuer".into()],
        jwks: JwkSet { keys: vec![key] },
        metadata_policy: None,
        constraints: Some(json!({"max_path_length": 1})),
        intermediate,
        trust_mark_claims: intermediate.then(|| json!({"organization_type": "public", "logo_uri": "https://b.example.it/logo.svg"})),
    }
}

fn mark(t: &str, s: &str, jwt: &str, iat: i64) -> IssuedTrustMark {
    IssuedTrustMark { trust_mark_type: t.into(), sub: s.into(), jwt: jwt.into(), iat, exp: Some(iat + 100), revoked: false }
}

fn cert(serial: &str, entity: &str, not_after: i64) -> IssuedCertificate {
    IssuedCertificate { serial: serial.into(), entity_id: entity.into(), issued_at: 1_000, not_after, revoked_at: None }
}

async fn suite(reg: &Registry) {
    // Subordinates.
    assert_eq!(reg.list().await.unwrap(), vec![]);
    let a = sub("https://a.example.it", false);
    let b = sub("https://b.example.it", true);
    reg.upsert(&b).await.unwrap();
    reg.upsert(&a).await.unwrap();
    assert_eq!(reg.get(&a.entity_id).await.unwrap(), Some(a.clone()));
    assert_eq!(reg.list().await.unwrap(), vec![a.clone(), b.clone()], "by id");
    let mut a2 = a.clone();
    a2.metadata_policy = Some(json!({"openid_credential_issuer": {"grant_types": {"subset_of": ["authorization_code"]}}}));
    a2.constraints = None;
    reg.upsert(&a2).await.unwrap();
    assert_eq!(reg.get(&a.entity_id).await.unwrap(), Some(a2.clone()), "upsert replaces");
    assert!(reg.remove(&a.entity_id).await.unwrap());
    assert!(!reg.remove(&a.entity_id).await.unwrap());
    assert_eq!(reg.get(&a.entity_id).await.unwrap(), None);
    assert_eq!(reg.list().await.unwrap(), vec![b.clone()]);

    // Trust marks issued here.
    let (t, u) = ("https://ta.example.it/trust_marks/issuer", "https://ta.example.it/trust_marks/other");
    reg.add_trust_mark(&mark(t, "https://a.example.it", "jwt1", 10)).await.unwrap();
    reg.add_trust_mark(&mark(t, "https://a.example.it", "jwt2", 20)).await.unwrap();
    reg.add_trust_mark(&mark(u, "https://b.example.it", "jwt3", 30)).await.unwrap();
    let jwts = |v: Vec<IssuedTrustMark>| v.into_iter().map(|m| m.jwt).collect::<Vec<_>>();
    assert_eq!(jwts(reg.trust_marks(None, None).await.unwrap()), ["jwt3", "jwt2", "jwt1"], "newest first");
    assert_eq!(jwts(reg.trust_marks(Some(t), None).await.unwrap()), ["jwt2", "jwt1"]);
    assert_eq!(jwts(reg.trust_marks(None, Some("https://b.example.it")).await.unwrap()), ["jwt3"]);
    assert_eq!(reg.trust_marks(Some(t), Some("https://a.example.it")).await.unwrap()[0], mark(t, "https://a.example.it", "jwt2", 20));
    assert_eq!(reg.revoke_trust_marks(t, "https://a.example.it").await.unwrap(), 2);
    assert_eq!(reg.revoke_trust_marks(t, "https://a.example.it").await.unwrap(), 0, "already revoked");
    assert!(reg.trust_marks(Some(t), None).await.unwrap().iter().all(|m| m.revoked));
    assert!(!reg.trust_marks(Some(u), None).await.unwrap()[0].revoked);

    // Marks issued to this entity.
    reg.set_own_trust_mark(u, "own-u-1").await.unwrap();
    reg.set_own_trust_mark(t, "own-t").await.unwrap();
    reg.set_own_trust_mark(u, "own-u-2").await.unwrap();
    assert_eq!(reg.own_trust_marks().await.unwrap(), vec![(t.to_owned(), "own-t".to_owned()), (u.to_owned(), "own-u-2".to_owned())]);

    // CA certificates and their revocation.
    let now = 5_000;
    reg.add_certificate(&cert("7b02", "https://a.example.it", now + 100)).await.unwrap();
    reg.add_certificate(&cert("4c01", "https://a.example.it", now + 100)).await.unwrap();
    reg.add_certificate(&cert("5d03", "https://b.example.it", now - 1)).await.unwrap();
    assert!(reg.add_certificate(&cert("5d03", "https://b.example.it", now)).await.is_err(), "serials are unique");
    assert_eq!(reg.revoked_certificates(now).await.unwrap(), vec![]);
    assert_eq!(reg.revoke_certificates("https://a.example.it", now).await.unwrap(), 2);
    assert_eq!(reg.revoke_certificates("https://a.example.it", now + 1).await.unwrap(), 0, "revocation time is kept");
    assert_eq!(reg.revoke_certificates("https://b.example.it", now).await.unwrap(), 1);
    let revoked = reg.revoked_certificates(now).await.unwrap();
    assert_eq!(revoked.iter().map(|c| c.serial.as_str()).collect::<Vec<_>>(), ["4c01", "7b02"], "by serial; the expired one left the CRL");
    assert!(revoked.iter().all(|c| c.revoked_at == Some(now)));
    assert_eq!(reg.certificates("https://a.example.it").await.unwrap().len(), 2);
    assert_eq!(reg.certificates("https://nobody.example.it").await.unwrap(), vec![]);

    // Subordinate events, oldest first, per subject.
    let ev = |sub: &str, iat: i64, event: &str, d: Option<&str>| SubordinateEvent { sub: sub.into(), iat, event: event.into(), description: d.map(Into::into) };
    reg.add_event(&ev("https://a.example.it", 1, "registration", None)).await.unwrap();
    reg.add_event(&ev("https://b.example.it", 2, "registration", None)).await.unwrap();
    reg.add_event(&ev("https://a.example.it", 3, "jwks_update", None)).await.unwrap();
    reg.add_event(&ev("https://a.example.it", 4, "revocation", Some("compromised"))).await.unwrap();
    assert_eq!(
        reg.events("https://a.example.it").await.unwrap(),
        vec![ev("https://a.example.it", 1, "registration", None), ev("https://a.example.it", 3, "jwks_update", None), ev("https://a.example.it", 4, "revocation", Some("compromised"))]
    );
    assert_eq!(reg.events("https://nobody.example.it").await.unwrap(), vec![]);
}

/// Item 8 of issue 10: the SQLite file is created 0600, and an existing file is tightened
/// to 0600 when opened (with its WAL files).
#[tokio::test]
async fn sqlite_file_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.sqlite");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let reg = Registry::open_sqlite(&path).unwrap();
    reg.upsert(&sub("https://a.example.it", false)).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    let wal = dir.path().join("registry.sqlite-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600, "the WAL takes the database's mode");
    }
    drop(reg);
    // A file made world-readable by an older version is tightened at open.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let reg = Registry::open_sqlite(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(reg.list().await.unwrap().len(), 1, "the data is kept");
}

/// A registry made before trust mark claims and events existed opens, gains the column,
/// and keeps its subordinates.
#[tokio::test]
async fn sqlite_registry_of_an_older_version_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.sqlite");
    let key = wallet_core::jose::SoftwareSigner::generate().unwrap().public_jwk();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE subordinates (entity_id TEXT PRIMARY KEY, entity_types TEXT NOT NULL, jwks TEXT NOT NULL,
           metadata_policy TEXT, constraints TEXT, intermediate INTEGER NOT NULL);",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO subordinates VALUES ('https://old.example.it', '[]', ?1, NULL, NULL, 0)",
        [serde_json::to_string(&JwkSet { keys: vec![key] }).unwrap()],
    )
    .unwrap();
    drop(conn);
    let reg = Registry::open_sqlite(&path).unwrap();
    let old = reg.get(&EntityId::new("https://old.example.it").unwrap()).await.unwrap().unwrap();
    assert_eq!(old.trust_mark_claims, None);
    assert_eq!(reg.events("https://old.example.it").await.unwrap(), vec![]);
}

#[tokio::test]
async fn sqlite_registry() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open_sqlite(&dir.path().join("registry.sqlite")).unwrap();
    assert_eq!(reg.backend_name(), "sqlite");
    suite(&reg).await;
    // Reopened, the data is there.
    drop(reg);
    let reg = Registry::open_sqlite(&dir.path().join("registry.sqlite")).unwrap();
    assert_eq!(reg.list().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_registry() {
    let Some(base) = common::postgres_url("postgres_registry") else { return };
    let schema = common::Schema::new(&base).await;
    let reg = Registry::postgres(&schema.url).unwrap();
    assert_eq!(reg.backend_name(), "postgresql");
    reg.ping().await.unwrap();
    suite(&reg).await;
    // A second registry on the same schema (a replica) sees the same data.
    let replica = Registry::postgres(&schema.url).unwrap();
    assert_eq!(replica.list().await.unwrap().len(), 1);
    assert_eq!(replica.revoked_certificates(5_000).await.unwrap().len(), 2);
}

#[tokio::test]
async fn postgres_url_errors_are_clear() {
    assert!(matches!(Registry::postgres("postgres://u@host:notaport/db"), Err(trust_anchor::registry::RegistryError::Connection(service_kit::pg::PgError::BadUrl(_)))));
    // Nothing listens on port 1: after the reconnect window (a restarting server is waited
    // for), connecting fails with a PostgreSQL error, not a panic.
    let reg = Registry::postgres("postgres://u:p@127.0.0.1:1/db?connect_timeout=2").unwrap();
    let err = reg.ping().await.unwrap_err();
    assert!(matches!(err, trust_anchor::registry::RegistryError::Connection(service_kit::pg::PgError::Postgres(_))), "{err:?}");
}
