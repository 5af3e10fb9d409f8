//! The `tessera-federation` binary: configuration file plus environment overrides, serves,
//! stops gracefully on SIGTERM; a bad configuration names the field and exits 1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tessera-federation");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn serves_from_a_config_file_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("ta.toml");
    std::fs::write(&config, "entity_id = \"http://127.0.0.1:1\"\nlisten = \"127.0.0.1:1\"\ndata_dir = \"data\"\nadmin_token_file = \"token\"\n").unwrap();
    std::fs::write(dir.path().join("token"), "binary-test-admin-token\n").unwrap();
    // The environment overrides the file.
    let child = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .env("TESSERA_ENTITY_ID", format!("http://127.0.0.1:{port}"))
        .env("TESSERA_LISTEN", format!("127.0.0.1:{port}"))
        .env_remove("TESSERA_DATABASE_URL")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed if an assertion fails before it stops.
    struct Reap(String, bool);
    impl Drop for Reap {
        fn drop(&mut self) {
            if !self.1 {
                let _ = Command::new("kill").args(["-KILL", &self.0]).status();
            }
        }
    }
    let mut reap = Reap(child.id().to_string(), false);
    let http = reqwest::blocking::Client::new();
    let start = Instant::now();
    let up = loop {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/health")).send() {
            break r.status() == 200;
        }
        if start.elapsed() > Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(up, "the service did not come up");
    let ec = http.get(format!("http://127.0.0.1:{port}/.well-known/openid-federation")).send().unwrap().text().unwrap();
    let ec = wallet_core::federation::ParsedStatement::parse(&ec).unwrap();
    assert_eq!(ec.claims.sub.as_str(), format!("http://127.0.0.1:{port}"));
    let r = http.get(format!("http://127.0.0.1:{port}/admin/subordinates")).bearer_auth("binary-test-admin-token").send().unwrap();
    assert_eq!(r.status(), 200, "the admin token comes from admin_token_file");
    assert!(dir.path().join("data/registry.sqlite").exists(), "SQLite under the data dir, relative to the file");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    reap.1 = true;
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("registry=\"sqlite\""), "{log}");
    assert!(log.contains("route=\"/health\" status=200"), "{log}");
    assert!(log.contains("shutting down"), "{log}");
}

#[test]
fn a_bad_configuration_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "entity_id = \"http://127.0.0.1:1\"\ndata_dir = \"d\"\nadmin_token = \"0123456789abcdef\"\n").unwrap();
    let out = Command::new(BIN).arg("--config").arg(&config).env("TESSERA_DATABASE_URL", "mysql://nope").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("database_url: not a PostgreSQL URL"), "{out:?}");
    let out = Command::new(BIN).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "usage");
}
