use serde_json::json;

use super::*;

const NOW: UnixTime = UnixTime(1_800_000_000);

fn key() -> StaticKeyProvider {
    StaticKeyProvider(DataKey::from_bytes([7; 32]))
}

fn pid(n: u32) -> NewCredential {
    NewCredential {
        format: "dc+sd-jwt".into(),
        vct: "urn:eudi:pid:it:1".into(),
        issuer: "https://pid.example.it".into(),
        issued_at: Some(NOW),
        expires_at: Some(NOW.plus(86_400)),
        credential: format!("eyJ...pid-{n}~"),
        metadata: json!({"display": {"name": "PID"}}),
    }
}

fn open(dir: &tempfile::TempDir) -> CredentialStore {
    CredentialStore::open(dir.path().join("wallet.db"), &key()).unwrap()
}

#[test]
fn put_get_list_find_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let a = s.put(&pid(1), NOW).unwrap();
    let mut mdl = pid(2);
    mdl.vct = "urn:eudi:mDL:it:1".into();
    let b = s.put(&mdl, NOW.plus(1)).unwrap();
    assert_eq!(s.get(&a).unwrap().credential, "eyJ...pid-1~");
    assert_eq!(s.get(&b).unwrap().metadata, json!({"display": {"name": "PID"}}));
    assert_eq!(s.list().unwrap().iter().map(|c| c.id.clone()).collect::<Vec<_>>(), vec![a.clone(), b.clone()]);
    assert_eq!(s.find_by_vct("urn:eudi:mDL:it:1").unwrap().len(), 1);
    s.delete(&a).unwrap();
    assert!(matches!(s.get(&a), Err(StoreError::NotFound(_))));
    assert!(matches!(s.delete(&a), Err(StoreError::NotFound(_))));
    assert_eq!(s.list().unwrap().len(), 1);
}

#[test]
fn credentials_are_encrypted_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let mut c = pid(1);
    c.credential = "VERY-RECOGNIZABLE-CREDENTIAL-TEXT".into();
    s.put(&c, NOW).unwrap();
    drop(s);
    let raw = std::fs::read(dir.path().join("wallet.db")).unwrap();
    let wal = std::fs::read(dir.path().join("wallet.db-wal")).unwrap_or_default();
    let needle = b"VERY-RECOGNIZABLE";
    assert!(!raw.windows(needle.len()).any(|w| w == needle));
    assert!(!wal.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn persists_across_reopen_and_refuses_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let id = open(&dir).put(&pid(1), NOW).unwrap();
    assert_eq!(open(&dir).get(&id).unwrap().credential, "eyJ...pid-1~");
    let other = StaticKeyProvider(DataKey::from_bytes([8; 32]));
    assert!(matches!(CredentialStore::open(dir.path().join("wallet.db"), &other), Err(StoreError::WrongKey)));
}

#[test]
fn tampered_and_swapped_rows_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let a = s.put(&pid(1), NOW).unwrap();
    let b = s.put(&pid(2), NOW).unwrap();
    {
        let conn = s.conn();
        // Swap the ciphertexts of two rows.
        conn.execute_batch(&format!(
            "UPDATE credentials SET sealed = (SELECT sealed FROM credentials WHERE id = '{b}') WHERE id = '{a}';"
        ))
        .unwrap();
    }
    assert!(matches!(s.get(&a), Err(StoreError::Tampered(ref id)) if *id == a.to_string()));
    {
        let conn = s.conn();
        // Relabel a row's vct: the associated data no longer matches.
        conn.execute(&format!("UPDATE credentials SET vct = 'urn:other' WHERE id = '{b}'"), []).unwrap();
    }
    assert!(matches!(s.get(&b), Err(StoreError::Tampered(_))));
    let c = s.put(&pid(3), NOW).unwrap();
    {
        let conn = s.conn();
        let mut sealed: Vec<u8> = conn.query_row("SELECT sealed FROM credentials WHERE id = ?1", [c.as_str()], |r| r.get(0)).unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        conn.execute("UPDATE credentials SET sealed = ?1 WHERE id = ?2", rusqlite::params![sealed, c.as_str()]).unwrap();
    }
    assert!(matches!(s.get(&c), Err(StoreError::Tampered(_))));
}

#[test]
fn replace_is_atomic_and_keeps_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let id = s.put(&pid(1), NOW).unwrap();
    s.replace(&id, &pid(2), NOW.plus(5)).unwrap();
    let got = s.get(&id).unwrap();
    assert_eq!(got.credential, "eyJ...pid-2~");
    assert_eq!(got.summary.stored_at, NOW.plus(5));
    let missing = CredentialId::parse("00000000000000000000000000000000").unwrap();
    assert!(matches!(s.replace(&missing, &pid(3), NOW), Err(StoreError::NotFound(_))));
}

#[test]
fn transaction_log_is_append_only_and_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let id = s.put(&pid(1), NOW).unwrap();
    let entry = NewTransaction {
        at: NOW,
        kind: TransactionKind::Presentation,
        counterparty: "https://rp.example.it".into(),
        credential_ids: vec![id.clone()],
        claims: vec!["given_name".into(), "birthdate".into()],
    };
    let seq = s.log(&entry).unwrap();
    s.log(&NewTransaction { kind: TransactionKind::Deletion, claims: vec![], ..entry.clone() }).unwrap();
    let log = s.transactions().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0], Transaction { seq, entry });
    let conn = s.conn();
    let upd = conn.execute("UPDATE transactions SET counterparty = 'x'", []).unwrap_err();
    assert!(upd.to_string().contains("append-only"), "{upd}");
    let del = conn.execute("DELETE FROM transactions", []).unwrap_err();
    assert!(del.to_string().contains("append-only"), "{del}");
}

#[test]
fn an_outcome_is_recorded_once_after_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let entry = NewTransaction { at: NOW, kind: TransactionKind::Presentation, counterparty: "https://rp.example.it".into(), credential_ids: vec![], claims: vec![] };
    let seq = s.log(&entry).unwrap();
    let refused = TransactionOutcome::Refused { error: "invalid_request".into(), description: Some("credential revoked".into()) };
    s.record_outcome(seq, NOW.plus(1), &refused).unwrap();
    assert!(s.record_outcome(seq, NOW.plus(2), &TransactionOutcome::Accepted).is_err(), "once only");
    assert!(s.record_outcome(seq + 1, NOW, &TransactionOutcome::Accepted).is_err(), "no such entry");
    assert_eq!(s.outcomes().unwrap().get(&seq), Some(&(NOW.plus(1), refused)));
    let conn = s.conn();
    let upd = conn.execute("UPDATE transaction_outcomes SET at = 0", []).unwrap_err();
    assert!(upd.to_string().contains("append-only"), "{upd}");
}

#[test]
fn file_key_provider_creates_a_private_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = FileKeyProvider::new(dir.path().join("store.key"));
    let k1 = p.data_key().unwrap();
    let k2 = p.data_key().unwrap();
    assert_eq!(k1.as_bytes(), k2.as_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("store.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::write(dir.path().join("bad.key"), b"short").unwrap();
    assert!(matches!(FileKeyProvider::new(dir.path().join("bad.key")).data_key(), Err(KeyError::BadKeyFile(_))));
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(&dir));
    let conn = rusqlite::Connection::open(dir.path().join("wallet.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(
        CredentialStore::open(dir.path().join("wallet.db"), &key()),
        Err(StoreError::UnsupportedSchema { found: 99, supported: 1 })
    ));
}
