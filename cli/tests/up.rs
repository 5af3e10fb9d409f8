//! `tessera up` then `tessera federation resolve|list` against it, over loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Up(std::process::Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn up_then_resolve_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let base = 20_000 + (std::process::id() % 3_000) as u16 * 3;
    let data = dir.path().join("data");
    let _up = Up(Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["up", "--port", &base.to_string(), "--data-dir", data.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let (ta, leaf) = (format!("http://127.0.0.1:{base}"), format!("http://127.0.0.1:{}", base + 2));
    let start = Instant::now();
    let resolved = loop {
        let o = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["federation", "resolve", &leaf, "--ta", &ta, "--json"]).output().unwrap();
        if o.status.success() {
            break serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "federation did not come up: {}", String::from_utf8_lossy(&o.stderr));
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(resolved["trust_chain"].as_array().unwrap().len(), 3);
    assert_eq!(resolved["trust_anchor"], ta);
    assert_eq!(resolved["metadata"]["openid_credential_issuer"]["credential_issuer"], leaf);
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["federation", "list", "--authority", &ta, "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("http://127.0.0.1:{}", base + 1)));
    // The trust anchor issues a trust mark to its subordinate.
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["federation", "issue-trust-mark", &format!("http://127.0.0.1:{}", base + 1), "--type", "intermediate"])
        .args(["--authority", &ta, "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let issued: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(issued["trust_mark_type"], format!("{ta}/trust_marks/intermediate"));
    // The intermediate rolls its key over; resolution keeps working.
    let int = format!("http://127.0.0.1:{}", base + 1);
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["federation", "rotate-keys", "--entity", &int, "--superior", &ta, "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["federation", "resolve", &leaf, "--ta", &ta, "--json"]).output().unwrap();
    assert!(o.status.success(), "after rotation: {}", String::from_utf8_lossy(&o.stderr));
    // Pinned keys that are not the trust anchor's: refused, naming why.
    let k = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["keygen", "--out", "stranger"]).current_dir(dir.path()).output().unwrap();
    assert!(k.status.success());
    let stranger = std::fs::read_to_string(dir.path().join("stranger.pub.jwk")).unwrap();
    std::fs::write(dir.path().join("wrong.jwks"), format!("{{\"keys\":[{}]}}", stranger.trim())).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["federation", "resolve", &leaf, "--ta", &ta, "--ta-jwks", dir.path().join("wrong.jwks").to_str().unwrap()])
        .output()
        .unwrap();

    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("resolution failed"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn serve_a_trust_anchor_and_a_leaf_then_onboard_and_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let base = 26_000 + (std::process::id() % 2_000) as u16 * 2;
    let (ta, leaf) = (format!("http://127.0.0.1:{base}"), format!("http://127.0.0.1:{}", base + 1));
    let tessera = || Command::new(env!("CARGO_BIN_EXE_tessera"));
    let ta_dir = dir.path().join("ta");
    let _ta = Up(tessera()
        .args(["federation", "serve", "--entity-id", &ta, "--listen", &format!("127.0.0.1:{base}"), "--data-dir", ta_dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap());
    let _leaf = Up(tessera()
        .args(["federation", "serve", "--leaf", "--entity-id", &leaf, "--listen", &format!("127.0.0.1:{}", base + 1)])
        .args(["--data-dir", dir.path().join("leaf").to_str().unwrap(), "--authority-hint", &ta])
        .stdout(Stdio::null())
        .spawn()
        .unwrap());
    let start = Instant::now();
    loop {
        let o = tessera()
            .args(["federation", "add-subordinate", &leaf, "--entity-type", "federation_entity", "--authority", &ta, "--data-dir", ta_dir.to_str().unwrap()])
            .output()
            .unwrap();
        if o.status.success() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "onboarding failed: {}", String::from_utf8_lossy(&o.stderr));
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = tessera().args(["federation", "resolve", &leaf, "--ta", &ta, "--json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["trust_chain"].as_array().unwrap().len(), 2);
    // The onboarding asked for an entity type the leaf does not have: refused.
    let o = tessera()
        .args(["federation", "add-subordinate", &leaf, "--entity-type", "openid_provider", "--authority", &ta, "--data-dir", ta_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no `openid_provider` metadata"), "{}", String::from_utf8_lossy(&o.stderr));
}
