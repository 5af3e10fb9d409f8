//! `tessera verifier hash-password` and `tessera verifier serve --config FILE`: the hash an
//! operator account takes, and the verifier run from a TOML file (health, its Entity
//! Configuration, the integrator API behind its admin token), stopped by SIGTERM; and
//! `tessera wallet-provider serve --config FILE`, the other service run the same way; and
//! `tessera federation serve`, a trust anchor from flags, stopped the same way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

#[path = "support/served.rs"]
mod served;

use std::io::Write as _;
use std::process::{Command, Stdio};

fn hash(password: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["verifier", "hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn hash_password_reads_stdin() {
    let o = hash("correct horse battery staple\n");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let h = String::from_utf8(o.stdout).unwrap();
    assert!(h.trim().starts_with("$argon2id$"), "{h}");
    assert!(verifier::web::verify_password("correct horse battery staple", h.trim()));
    let o = hash("");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no password"));
}

#[test]
fn serve_from_a_config_file_then_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (port, base) = served::free_port();
    let h = String::from_utf8(hash("pw\n").stdout).unwrap();
    let config = format!(
        "entity_id = \"{base}\"\ndata_dir = \"{}\"\nlisten = \"127.0.0.1:{port}\"\nadmin_token = \"t0ken\"\n\
         organization_name = \"Comune di Prova\"\nprofile = \"it-wallet-1.3\"\n\
         [[web.operators]]\nusername = \"agente\"\npassword_hash = \"{}\"\n",
        dir.path().join("data").display(),
        h.trim()
    );
    let path = dir.path().join("verifier.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = served::serve(&["verifier", "serve", "--config", path.to_str().unwrap()], &base);
    let http = reqwest::blocking::Client::new();
    let ec = http.get(format!("{base}/.well-known/openid-federation")).send().unwrap().text().unwrap();
    let claims: serde_json::Value = wallet_core::jose::CompactJws::parse(&ec).unwrap().payload_json().unwrap();
    assert_eq!(claims["sub"], base);
    assert_eq!(claims["metadata"]["openid_credential_verifier"]["response_uris"][0], format!("{base}/response-uri"));
    // The integrator API answers the admin token only (no anchor configured: a session can
    // still be created; its request object would wait for onboarding).
    let body = serde_json::json!({"preset": "age_over_18", "flow": "cross_device"});
    assert_eq!(http.post(format!("{base}/sessions")).json(&body).send().unwrap().status(), 401);
    assert_eq!(http.post(format!("{base}/sessions")).bearer_auth("t0ken").json(&body).send().unwrap().status(), 201);
    // SIGTERM: a graceful stop.
    let out = served::stop(&mut child);
    assert!(out.contains("serving on") && out.contains("verifier stopped"), "{out}");
}

#[test]
fn wallet_provider_serves_from_a_config_file_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (port, base) = served::free_port();
    let path = dir.path().join("wallet-provider.toml");
    let config = format!(
        "entity_id = \"{base}\"\ntrust_anchor = \"http://127.0.0.1:9\"\ndata_dir = \"{}\"\nlisten = \"127.0.0.1:{port}\"\nadmin_token = \"t0ken-of-the-wp\"\n",
        dir.path().join("data").display()
    );
    std::fs::write(&path, config).unwrap();
    // A bad file is named with what is wrong, and nothing starts.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "entity_id = \"not a url\"\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["wallet-provider", "serve", "--config", bad.to_str().unwrap()]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.toml"), "{}", String::from_utf8_lossy(&o.stderr));

    let mut child = served::serve(&["wallet-provider", "serve", "--config", path.to_str().unwrap()], &base);
    let http = reqwest::blocking::Client::new();
    let ec = http.get(format!("{base}/.well-known/openid-federation")).send().unwrap().text().unwrap();
    let claims: serde_json::Value = wallet_core::jose::CompactJws::parse(&ec).unwrap().payload_json().unwrap();
    assert_eq!(claims["sub"], base);
    assert!(claims["metadata"]["wallet_solution"].is_object(), "{claims}");
    let out = served::stop(&mut child);
    assert!(out.contains("serving on") && out.contains("wallet provider stopped"), "{out}");
}

#[test]
fn a_federation_entity_serves_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (port, base) = served::free_port();
    let data = dir.path().join("ta");
    let listen = format!("127.0.0.1:{port}");
    let mut child = served::serve(&["federation", "serve", "--entity-id", &base, "--listen", &listen, "--data-dir", data.to_str().unwrap()], &base);
    let ec = reqwest::blocking::get(format!("{base}/.well-known/openid-federation")).unwrap().text().unwrap();
    let claims: serde_json::Value = wallet_core::jose::CompactJws::parse(&ec).unwrap().payload_json().unwrap();
    assert_eq!(claims["sub"], base);
    // SIGTERM (what systemd and container runtimes send): a graceful stop, exit 0.
    let out = served::stop(&mut child);
    assert!(out.contains("serving on"), "{out}");
}
