//! `tessera up --database-url URL --replicas 2` (issue 14 item 4): the issuers, the verifier
//! and the wallet provider each as two replica processes behind HAProxy, on the test
//! PostgreSQL. The demo's story through the balancers, with both replicas of each service
//! serving part of it (counted from HAProxy's log); a replica killed with `kill -9` is
//! started again and taken back by its balancer, the balancer answering meanwhile.
//! Skipped without TESSERA_TEST_POSTGRES_URL or HAProxy unless TESSERA_POSTGRES=required.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const HAPROXY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/haproxy.sh");

/// The parent `tessera up`: stopped with SIGINT (it stops its replicas and balancers), and
/// the balancers stopped again in case it could not.
struct Up(std::process::Child, PathBuf);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.0.id().to_string()]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = Command::new(HAPROXY).arg("--stop").arg(self.1.join("haproxy")).status();
    }
}

fn postgres() -> Option<String> {
    let required = std::env::var("TESSERA_POSTGRES").as_deref() == Ok("required");
    let haproxy = Path::new("/usr/sbin/haproxy").exists() || Command::new("sh").args(["-c", "command -v haproxy"]).output().is_ok_and(|o| o.status.success());
    match std::env::var("TESSERA_TEST_POSTGRES_URL") {
        Ok(u) if haproxy || required => Some(u),
        _ => {
            assert!(!required, "TESSERA_POSTGRES=required but TESSERA_TEST_POSTGRES_URL is not set (eval \"$(./scripts/postgres.sh)\") or HAProxy is missing");
            eprintln!("skipped: TESSERA_TEST_POSTGRES_URL is not set or HAProxy is not installed");
            None
        }
    }
}

/// Eighteen consecutive ports below the ephemeral range (32768–60999: a client socket may
/// hold any port there, and a replica could not bind it), apart from the other tests'
/// (up_postgres.rs 6000–6800, loadtest 9000–9980, issuance.rs from 10000): 8000–8980.
fn ports() -> u16 {
    8_000 + (std::process::id() % 50) as u16 * 20
}

fn get_ok(url: &str) -> bool {
    Command::new("curl").args(["-sf", "-o", "/dev/null", "--max-time", "3", url]).status().is_ok_and(|s| s.success())
}

/// Requests served by each HAProxy server (`<service>_replicas/<service><n>`).
fn served(log: &Path, service: &str) -> [usize; 2] {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    [1, 2].map(|n| text.lines().filter(|l| l.contains(&format!(" {service}_replicas/{service}{n} "))).count())
}

#[test]
fn the_story_through_two_replicas_of_each_service() {
    let Some(url) = postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let base = ports();
    let data = dir.path().join("data");
    let prefix = format!("rep{}_", std::process::id());
    let log_path = dir.path().join("up.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let _up = Up(
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["up", "--port", &base.to_string(), "--data-dir", data.to_str().unwrap(), "--database-url", &url, "--schema-prefix", &prefix, "--replicas", "2"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
        data.clone(),
    );
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("Ctrl-C stops it") {
            break text;
        }
        assert!(start.elapsed() < Duration::from_secs(180), "tessera up --replicas 2 did not come up: {text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    println!("{text}");
    // Each replica's pid and port.
    let replicas: Vec<(String, u32, u16)> = text
        .lines()
        .filter(|l| l.contains(" replica ") && l.contains(" pid "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].to_owned(), w[4].parse().unwrap(), w[6].parse().unwrap())
        })
        .collect();
    assert_eq!(replicas.len(), 10, "{text}");

    let wallet = dir.path().join("wallet");
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["demo", "--port", &base.to_string(), "--data-dir", data.to_str().unwrap(), "--wallet-dir", wallet.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    println!("{out}{}", String::from_utf8_lossy(&o.stderr));
    // The whole story through the balancers: activation, the PID (SPID/CIE login, then PAR,
    // token, credential), the licence and the health card (each with the PID presented over
    // OpenID4VP), the police check at the in-person page (the operator's login form served by
    // one verifier replica may be posted to the other: the sessions are in the shared
    // database), the age check, the online service, the suspension, the refusal, the refresh.
    assert!(o.status.success(), "tessera demo through the balancers failed:\n{out}");
    for n in 1..=10 {
        let step = format!("{n:>2}. ");
        assert!(out.lines().any(|l| l.starts_with(&step)), "step {n} not in:\n{out}");
    }
    let haproxy_log = data.join("haproxy").join("haproxy.log");
    for service in ["wallet_provider", "pid_provider", "motorizzazione", "health_cards", "verifier"] {
        let n = served(&haproxy_log, service);
        println!("{service}: replica 1 served {}, replica 2 served {}", n[0], n[1]);
        assert!(n[0] > 0 && n[1] > 0, "{service}: both replicas serve: {n:?}");
    }

    // kill -9 of the wallet provider's first replica: the balancer answers through the other,
    // and the replica is started again and taken back.
    let (_, pid, port) = replicas.iter().find(|r| r.0 == "wallet_provider").unwrap().clone();
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    let wp = format!("http://127.0.0.1:{}", base + 4);
    let mut ok = 0;
    for _ in 0..20 {
        ok += usize::from(get_ok(&format!("{wp}/.well-known/openid-federation")));
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("after kill -9 of pid {pid}: {ok}/20 requests to the balancer answered");
    assert!(ok >= 19, "the balancer went on through the other replica: {ok}/20");
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("(restarted)") && get_ok(&format!("http://127.0.0.1:{port}/health")) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the killed replica did not come back: {text}");
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("the killed replica is back on port {port}");
}
