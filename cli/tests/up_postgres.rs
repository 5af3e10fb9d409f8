//! `tessera up --database-url` on the test PostgreSQL (`eval "$(./scripts/postgres.sh)"`),
//! then `tessera demo` against it: the story runs as on SQLite, and the services' stores are
//! in PostgreSQL (no SQLite store under the data directory but the registries' and the OpenID
//! Provider's). Skipped without TESSERA_TEST_POSTGRES_URL unless TESSERA_POSTGRES=required.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Up(std::process::Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn postgres() -> Option<String> {
    match std::env::var("TESSERA_TEST_POSTGRES_URL") {
        Ok(u) => Some(u),
        Err(_) => {
            assert!(
                std::env::var("TESSERA_POSTGRES").as_deref() != Ok("required"),
                "TESSERA_POSTGRES=required but TESSERA_TEST_POSTGRES_URL is not set: eval \"$(./scripts/postgres.sh)\""
            );
            eprintln!("skipped: TESSERA_TEST_POSTGRES_URL is not set (eval \"$(./scripts/postgres.sh)\" to run it)");
            None
        }
    }
}

/// Eight consecutive ports below the ephemeral range (32768–60999), apart from the other
/// tests' (replicas.rs 8000–8980, issuance.rs from 10000): 6000–6800.
fn ports() -> u16 {
    6_000 + (std::process::id() % 100) as u16 * 8
}

/// Every `*.sqlite` file under `dir`.
fn sqlite_files(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            sqlite_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "sqlite") {
            out.push(p.display().to_string());
        }
    }
}

#[test]
fn demo_against_tessera_up_on_postgres() {
    let Some(url) = postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let base = ports();
    let data = dir.path().join("data");
    // A schema prefix of this run's own: a fresh data directory goes with fresh schemas.
    let prefix = format!("up{}_{}_", std::process::id(), Instant::now().elapsed().as_nanos() % 1000);
    let log_path = dir.path().join("up.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let _up = Up(Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["up", "--port", &base.to_string(), "--data-dir", data.to_str().unwrap(), "--database-url", &url, "--schema-prefix", &prefix])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap());
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("Ctrl-C stops it") {
            break text;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "tessera up did not come up: {text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(text.contains("stores            PostgreSQL postgres://tessera:***@"), "{text}");
    assert!(text.contains(&format!("{prefix}wallet_provider")) && !text.contains(":tessera@"), "the password is not printed: {text}");

    let wallet = dir.path().join("wallet");
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["demo", "--port", &base.to_string(), "--data-dir", data.to_str().unwrap(), "--wallet-dir", wallet.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    println!("{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "exit {:?}", o.status.code());
    assert!(out.contains("The story ran as told: 10 steps."), "{out}");

    let mut files = Vec::new();
    sqlite_files(&data, &mut files);
    let files: Vec<String> = files.iter().map(|f| f.trim_start_matches(data.to_str().unwrap()).trim_start_matches('/').to_owned()).collect();
    let allowed = |f: &str| f.ends_with("/authentic-source.sqlite") || f.starts_with("openid-provider/");
    assert!(files.iter().all(|f| allowed(f)), "SQLite stores besides the registries and the OpenID Provider: {files:?}");
}

#[test]
fn a_bad_database_url_or_prefix_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (args, says) in [
        (vec!["--database-url", "mysql://u:p@127.0.0.1/db"], "not a PostgreSQL URL"),
        (vec!["--database-url", "postgres://u:p@127.0.0.1:1/db?connect_timeout=2", "--schema-prefix", "Bad-"], "--schema-prefix"),
        (vec!["--database-url", "postgres://u:p@127.0.0.1:1/db?connect_timeout=2"], "--database-url"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["up", "--port", "1", "--data-dir", data.to_str().unwrap()]).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
