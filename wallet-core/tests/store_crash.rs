//! Crash safety of the credential store: a writer process is killed (SIGKILL) in the middle
//! of writing; the store must then open, pass SQLite's integrity check, and hold either the
//! old or a complete new version of every credential.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wallet_core::store::{CredentialId, CredentialStore, DataKey, NewCredential, StaticKeyProvider};
use wallet_core::time::UnixTime;

const ROLE: &str = "TESSERA_STORE_CRASH_WRITER";

fn keys() -> StaticKeyProvider {
    StaticKeyProvider(DataKey::from_bytes([42; 32]))
}

/// A credential whose text says its version and carries a checksum of itself, so a torn
/// write would be detected.
fn version(n: u64) -> NewCredential {
    let body = format!("v{n}:") + &"x".repeat(200_000 + (n as usize % 7) * 1000);
    let sum: u64 = body.bytes().map(u64::from).sum();
    NewCredential {
        format: "dc+sd-jwt".into(),
        vct: "urn:eudi:pid:it:1".into(),
        issuer: "https://pid.example.it".into(),
        issued_at: None,
        expires_at: None,
        credential: format!("{body}|{sum}"),
        metadata: serde_json::json!({ "version": n }),
    }
}

fn check(text: &str) -> u64 {
    let (body, sum) = text.rsplit_once('|').expect("checksum separator");
    let expected: u64 = body.bytes().map(u64::from).sum();
    assert_eq!(sum.parse::<u64>().expect("checksum"), expected, "torn credential");
    body.strip_prefix('v').and_then(|r| r.split(':').next()).and_then(|n| n.parse().ok()).expect("version")
}

/// The child: replace credentials in a loop until killed.
fn writer(dir: &str, id: &str) -> ! {
    let store = CredentialStore::open(format!("{dir}/wallet.db"), &keys()).expect("open");
    let id = CredentialId::parse(id).expect("id");
    let mut n = 1;
    loop {
        store.replace(&id, &version(n), UnixTime(n as i64)).expect("replace");
        store.put(&version(n), UnixTime(n as i64)).expect("put");
        if n == 1 {
            std::fs::write(format!("{dir}/started"), b"1").expect("marker");
        }
        n += 1;
    }
}

#[test]
fn killed_writer_leaves_old_or_new_state() {
    if let (Ok(dir), Ok(id)) = (std::env::var(ROLE), std::env::var("TESSERA_STORE_CRASH_ID")) {
        writer(&dir, &id);
    }
    for round in 0..5u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_str().unwrap().to_owned();
        let id = {
            let store = CredentialStore::open(dir.path().join("wallet.db"), &keys()).unwrap();
            store.put(&version(0), UnixTime(0)).unwrap()
        };
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "killed_writer_leaves_old_or_new_state", "--nocapture"])
            .env(ROLE, &path)
            .env("TESSERA_STORE_CRASH_ID", id.as_str())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !dir.path().join("started").exists() {
            assert!(start.elapsed() < Duration::from_secs(30), "writer did not start");
            std::thread::sleep(Duration::from_millis(2));
        }
        // Let it get into the middle of some later write, at a different point each round.
        std::thread::sleep(Duration::from_millis(3 + round * 7));
        child.kill().unwrap();
        child.wait().unwrap();

        let store = CredentialStore::open(dir.path().join("wallet.db"), &keys()).unwrap();
        assert!(store.integrity_check().unwrap());
        let got = store.get(&id).unwrap();
        let v = check(&got.credential);
        assert_eq!(got.metadata["version"], v, "credential and metadata from different versions");
        assert!(v >= 1, "the first replace was committed before the marker");
        for s in store.list().unwrap() {
            check(&store.get(&s.id).unwrap().credential);
        }
    }
}
