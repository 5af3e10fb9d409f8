//! `tessera up` then `tessera federation resolve|list` and `tessera wallet activate|revoke`
//! against it, over loopback; `tessera up` stopped by SIGTERM.
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

/// `tessera up` on eight ports from `base`, its data under `data`.
fn up(base: u16, data: &std::path::Path) -> Up {
    Up(Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["up", "--port", &base.to_string(), "--data-dir", data.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap())
}

/// Eight consecutive free-looking ports, apart per test and per process.
fn ports(test: u16) -> u16 {
    20_000 + test * 3_000 + (std::process::id() % 350) as u16 * 8
}

#[test]
fn up_then_resolve_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let base = ports(0);
    let data = dir.path().join("data");
    let mut running = up(base, &data);
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
    // Each service has its own admin token: the wallet provider's opens nothing at the anchor.
    let token = |d: &str| std::fs::read_to_string(data.join(d).join("admin-token")).unwrap();
    assert_ne!(token("trust-anchor"), token("wallet-provider"));
    assert_ne!(token("trust-anchor"), token("intermediate"));
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["federation", "list", "--authority", &ta, "--token", token("wallet-provider").trim()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("401"), "{}", String::from_utf8_lossy(&o.stderr));
    // The intermediate publishes the trust mark the anchor issued it (ALL-003), with the
    // claims the IT-Wallet trust mark table requires.
    // `tessera up` issues the marks after the services answer: wait for it (at most 30 s).
    let mark_type = format!("{ta}/trust_marks/federation-entity/intermediate");
    let waiting = Instant::now();
    let mark = loop {
        let int_ec = reqwest::blocking::get(format!("http://127.0.0.1:{}/.well-known/openid-federation", base + 1)).unwrap().text().unwrap();
        let ec: serde_json::Value = wallet_core::jose::CompactJws::parse(&int_ec).unwrap().payload_json().unwrap();
        let found = ec["trust_marks"].as_array().and_then(|marks| marks.iter().find(|m| m["trust_mark_type"] == mark_type).cloned());
        if let Some(m) = found {
            break m;
        }
        assert!(waiting.elapsed() < Duration::from_secs(30), "the intermediate never published its trust mark: {ec}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let claims: serde_json::Value = wallet_core::jose::CompactJws::parse(mark["trust_mark"].as_str().unwrap()).unwrap().payload_json().unwrap();
    assert_eq!(claims["organization_type"], "public");
    assert!(claims["logo_uri"].as_str().is_some_and(|l| l.ends_with("/logo.svg")), "{claims}");
    // The trust anchor issues a trust mark to its subordinate.
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["federation", "issue-trust-mark", &format!("http://127.0.0.1:{}", base + 1), "--type", "intermediate"])
        .args(["--authority", &ta, "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let issued: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(issued["trust_mark_type"], format!("{ta}/trust_marks/intermediate"));
    // An authorization-policy mark: its lists given as JSON; a list that is not names is
    // refused by the anchor, a value that is not JSON by the command.
    let issue = |claim: &str| {
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["federation", "issue-trust-mark", &format!("http://127.0.0.1:{}", base + 1), "--type", "intermediate", "--claim", claim])
            .args(["--authority", &ta, "--data-dir", data.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let o = issue(r#"authorized_claims=["given_name","family_name"]"#);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let issued: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let claims: serde_json::Value = wallet_core::jose::CompactJws::parse(issued["trust_mark"].as_str().unwrap()).unwrap().payload_json().unwrap();
    assert_eq!(claims["authorized_claims"], serde_json::json!(["given_name", "family_name"]));
    let o = issue("authorized_claims=[1]");
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("authorized_claims must be an array of non-empty strings"));
    let o = issue("authorized_claims=[given_name]");
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("a value starting with [ or { is JSON"));
    // The intermediate rolls its key over; resolution keeps working.
    let int = format!("http://127.0.0.1:{}", base + 1);
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["federation", "rotate-keys", "--entity", &int, "--superior", &ta, "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["federation", "resolve", &leaf, "--ta", &ta, "--json"]).output().unwrap();
    assert!(o.status.success(), "after rotation: {}", String::from_utf8_lossy(&o.stderr));
    // Two operators, each with its own token: the entity's --token, the superior's
    // --superior-token; a wrong superior token is refused by the superior, named.
    let token_of = |url: &str| {
        let services: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&std::fs::read_to_string(data.join("services.json")).unwrap()).unwrap();
        std::fs::read_to_string(data.join(&services[url]).join("admin-token")).unwrap().trim().to_owned()
    };
    let (int_token, ta_token) = (token_of(&int), token_of(&ta));
    assert_ne!(int_token, ta_token);
    let rotate = |superior_token: &str| {
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["federation", "rotate-keys", "--entity", &int, "--superior", &ta, "--token", &int_token, "--superior-token", superior_token])
            .output()
            .unwrap()
    };
    let o = rotate("not-the-anchors-token");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{ta}/admin/subordinates/refresh-keys")) && err.contains("401"), "{err}");
    let o = rotate(&ta_token);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["federation", "resolve", &leaf, "--ta", &ta, "--json"]).output().unwrap();
    assert!(o.status.success(), "after a second rotation: {}", String::from_utf8_lossy(&o.stderr));
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

    // The verifier: its configuration resolves through the trust anchor, with its
    // openid_credential_verifier metadata and the trust mark the anchor issued it.
    let verifier = format!("http://127.0.0.1:{}", base + 5);
    let o = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["federation", "resolve", &verifier, "--ta", &ta, "--json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["trust_anchor"], ta);
    let md = &v["metadata"]["openid_credential_verifier"];
    assert_eq!(md["response_uris"][0], format!("{verifier}/response-uri"), "{md}");
    assert_eq!(md["redirect_uris"][0], format!("{verifier}/"), "{md}");
    // (`tessera up` issues the marks last: wait for it.)
    let start = Instant::now();
    loop {
        let v_ec = reqwest::blocking::get(format!("{verifier}/.well-known/openid-federation")).unwrap().text().unwrap();
        let ec: serde_json::Value = wallet_core::jose::CompactJws::parse(&v_ec).unwrap().payload_json().unwrap();
        let marks = ec["trust_marks"].as_array().cloned().unwrap_or_default();
        if marks.iter().any(|m| m["trust_mark_type"] == format!("{ta}/trust_marks/federation-entity/relying-party")) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the verifier publishes no relying-party trust mark: {ec}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A session, with the verifier's own admin token (and not with the anchor's).
    let http = reqwest::blocking::Client::new();
    let body = serde_json::json!({"preset": "pid", "flow": "same_device"});
    let r = http.post(format!("{verifier}/sessions")).bearer_auth(token("verifier").trim()).json(&body).send().unwrap();
    assert_eq!(r.status(), 201);
    let s: serde_json::Value = r.json().unwrap();
    assert!(s["wallet_url"].as_str().unwrap().starts_with("openid4vp://"), "{s}");
    let r = http.post(format!("{verifier}/sessions")).bearer_auth(token("trust-anchor").trim()).json(&body).send().unwrap();
    assert_eq!(r.status(), 401);
    // The request object is signed: the verifier was onboarded and holds its chain.
    let request_uri = reqwest::Url::parse(s["wallet_url"].as_str().unwrap()).unwrap().query_pairs().find(|(k, _)| k == "request_uri").unwrap().1.into_owned();
    let r = http.get(&request_uri).send().unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    // The in-person page's operator password was made and kept.
    let password = std::fs::read_to_string(data.join("verifier").join("operator-password")).unwrap();
    assert!(password.trim().len() >= 20);
    // SIGTERM, what a process manager sends, stops it as Ctrl-C does: exit 0.
    assert!(Command::new("kill").args(["-TERM", &running.0.id().to_string()]).status().unwrap().success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = running.0.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "tessera up did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn serve_a_trust_anchor_and_a_leaf_then_onboard_and_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let base = ports(2);
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

/// The WUA's status in the wallet provider's published list, verified to the federation's
/// root CA (fetched from the trust anchor's `/ca`).
fn wua_status(ta: &str, wua_claims: &serde_json::Value) -> wallet_core::status::StatusValue {
    use wallet_core::status::{DEFAULT_MAX_DECOMPRESSED, StatusListToken, StatusReference};
    let http = reqwest::blocking::Client::new();
    let root = http.get(format!("{ta}/ca")).send().unwrap().bytes().unwrap().to_vec();
    let resolver = wallet_core::x509::X5cResolver::new(wallet_core::x509::TrustAnchors::from_der(vec![root]).unwrap());
    let reference: StatusReference = serde_json::from_value(wua_claims["status"]["status_list"].clone()).unwrap();
    let r = http.get(&reference.uri).header("accept", "application/statuslist+jwt").send().unwrap();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body = r.bytes().unwrap();
    let now = wallet_core::time::UnixTime::now();
    let list = StatusListToken::verify_response(ct.as_deref(), &body, &reference, &resolver, now, 60, DEFAULT_MAX_DECOMPRESSED).unwrap();
    list.lookup(reference.idx).unwrap()
}

/// The citizen's story's first step over real HTTP: `tessera up` (trust anchor, OpenID
/// Provider, wallet provider), then the command-line wallet logs in at the provider's login
/// page as a browser would, activates, lists its instance, and revokes it, which flips the
/// WUA's bit in the provider's Token Status List.
#[test]
fn up_then_activate_a_wallet_list_it_and_revoke_it() {
    use wallet_core::status::StatusValue;
    let dir = tempfile::tempdir().unwrap();
    let base = ports(1);
    let data = dir.path().join("data");
    let _up = up(base, &data);
    let (ta, wp) = (format!("http://127.0.0.1:{base}"), format!("http://127.0.0.1:{}", base + 4));
    let wallet_dir = dir.path().join("wallet");
    let wallet = |cmd: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["wallet", cmd, "--provider", &wp, "--ta", &ta, "--data-dir", wallet_dir.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    // Wait until the provider resolves to the anchor with its trust marks in place.
    let start = Instant::now();
    let activated = loop {
        let o = wallet("activate", &["--json", "--fiscal-number", "TINIT-RSSMRA80A01H501U"]);
        if o.status.success() {
            break serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "activation failed: {}", String::from_utf8_lossy(&o.stderr));
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(activated["fiscal_number"], "TINIT-RSSMRA80A01H501U");
    let id = activated["instance_id"].as_str().unwrap().to_owned();
    assert_eq!(activated["wallet_app_attestation_claims"]["iss"], wp);
    let wua = &activated["wallet_unit_attestation_claims"];
    assert!(wua["attested_keys"].as_array().is_some_and(|k| !k.is_empty()), "{wua}");
    assert_eq!(wua_status(&ta, wua), StatusValue::Valid);

    // The instance shows in the citizen's list.
    let o = wallet("instances", &["--json", "--fiscal-number", "TINIT-RSSMRA80A01H501U"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(list.as_array().unwrap().iter().any(|i| i["id"] == id.as_str()), "{list}");
    // Another citizen does not see it.
    let o = wallet("instances", &["--json", "--fiscal-number", "TINIT-BNCGLI85M41F205Z"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let other: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!other.as_array().unwrap().iter().any(|i| i["id"] == id.as_str()), "{other}");

    // A second phone of the same citizen: the summary, not screens of JWTs (--json has them).
    let second = dir.path().join("wallet-2");
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["wallet", "activate", "--provider", &wp, "--ta", &ta, "--data-dir", second.to_str().unwrap()])
        .args(["--fiscal-number", "TINIT-RSSMRA80A01H501U"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.contains("Wallet activated for TINIT-RSSMRA80A01H501U"), "{summary}");
    assert!(summary.contains("Wallet Unit Attestation   valid until") && summary.contains(" UTC"), "{summary}");
    assert!(!summary.contains("eyJ"), "no raw JWT in the summary: {summary}");
    assert!(summary.lines().count() <= 10, "{summary}");

    // A lost phone: the citizen revokes the instance; its WUA is revoked in the status list.
    let o = wallet("revoke", &["--fiscal-number", "TINIT-RSSMRA80A01H501U"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(wua_status(&ta, wua), StatusValue::Invalid);
}
