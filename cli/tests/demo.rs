//! `tessera demo` end to end: against a `tessera up` started here on free ports with a fresh
//! data directory, and with nothing running (the demo starts its own `tessera up` and stops
//! it). Each asserts exit 0 and every step's line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

struct Up(std::process::Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Eight consecutive free-looking ports, apart per test and per process, below the
/// ephemeral range (cli/tests/up.rs takes 20000–28800, issuance.rs 10000–18800): 29000–31940.
fn ports(test: u16) -> u16 {
    29_000 + test * 1_500 + (std::process::id() % 180) as u16 * 8
}

fn demo(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_tessera")).arg("demo").args(args).output().unwrap();
    println!("$ tessera demo {}\n[exit {:?}]\n{}{}", args.join(" "), o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    o
}

/// The lines the story prints, one per step, in order.
const STEPS: [&str; 10] = [
    " 1. Activate the wallet (SPID login): TINIT-RSSMRA80A10H501Z logged in at the test SPID/CIE OpenID Provider; the wallet provider registered instance",
    " 2. The PID (CIE level 3): TINIT-RSSMRA80A10H501Z logged in at level 3 (SpidL3) and PID Provider (test issuer) issued the PID of Mario Rossi (born 1980-01-10)",
    " 3. The driving licence: Motorizzazione Civile (test issuer) asked for the PID (presented over OpenID4VP), then issued driving licence",
    " 4. The health card: ",
    " 5. A police check at the in-person page: officer `operatore` picked \"Driving licence check\"; the wallet answered the QR code with mdl:",
    " 6. An age check at a shop: \"Age over 18\": the wallet disclosed only pid:birthdate of the PID",
    " 7. An online service, same-device: the wallet presented pid:",
    " 8. The Motorizzazione suspends the licence: licence ",
    " 9. The next police check: the verifier refused the licence",
    "10. The wallet's refresh: the wallet read each credential's status list: ",
];

fn assert_story(o: &Output, base: u16) {
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "exit {:?}: {out}{}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    let mut at = 0;
    for step in STEPS {
        let found = out[at..].find(step).unwrap_or_else(|| panic!("`{step}` not in (after byte {at}):\n{out}"));
        at += found + step.len();
    }
    let v = format!("http://127.0.0.1:{}", base + 5);
    for needle in [
        format!("    see http://127.0.0.1:{}/.well-known/openid-federation", base + 4),
        format!("    see {v}/check/s/"),
        "the page shows VERIFIED".to_owned(),
        format!("    see http://127.0.0.1:{}/status-list", base + 2),
        "is now SUSPENDED".to_owned(),
        "credential suspended".to_owned(),
        "the page shows REFUSED".to_owned(),
        "urn:eudi:mDL:it:1 SUSPENDED".to_owned(),
        "urn:eudi:pid:it:1 VALID".to_owned(),
        "a second fetch: 404".to_owned(),
        "The story ran as told: 10 steps.".to_owned(),
    ] {
        assert!(out.contains(&needle), "`{needle}` not in:\n{out}");
    }
    // The age check disclosed the birth date alone.
    let age = out.lines().find(|l| l.starts_with(" 6. ")).unwrap();
    assert!(!age.contains("given_name") && !age.contains("tax_id_code"), "{age}");
}

/// `tessera up` on free ports and a fresh data directory, then `tessera demo` against it.
#[test]
fn demo_against_a_running_tessera_up() {
    let dir = tempfile::tempdir().unwrap();
    let base = ports(0);
    let data = dir.path().join("data");
    let log = std::fs::File::create(dir.path().join("up.log")).unwrap();
    let _up = Up(Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["up", "--port", &base.to_string(), "--data-dir", data.to_str().unwrap()])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap());
    wait_for(&dir.path().join("up.log"));
    let wallet = dir.path().join("wallet");
    let o = demo(&["--port", &base.to_string(), "--data-dir", data.to_str().unwrap(), "--wallet-dir", wallet.to_str().unwrap()]);
    assert_story(&o, base);
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("Using the federation at http://127.0.0.1:{base}.")));
    // The wallet is kept: its log has the refused presentation.
    let log = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["wallet", "log", "--data-dir", wallet.to_str().unwrap()]).output().unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(log.contains("refused (invalid_request") || log.contains("refused ("), "{log}");

    // The wrong data directory: the step that needs it is named.
    let o = demo(&["--port", &base.to_string(), "--data-dir", dir.path().join("elsewhere").to_str().unwrap(), "--wallet-dir", dir.path().join("w2").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("step 5 (A police check at the in-person page) did not go as the story says") && err.contains("operator-password"), "{err}");
}

/// Nothing at the port: the demo starts its own `tessera up`, runs the story, stops it.
#[test]
fn demo_starts_its_own_tessera_up() {
    let dir = tempfile::tempdir().unwrap();
    let base = ports(1);
    let wallet = dir.path().join("wallet");
    let data = dir.path().join("data");
    let o = demo(&["--port", &base.to_string(), "--data-dir", data.to_str().unwrap(), "--wallet-dir", wallet.to_str().unwrap()]);
    assert_story(&o, base);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("Nothing answers at http://127.0.0.1:{base}: starting `tessera up --port {base}")), "{out}");
    assert!(out.contains("Stopping the `tessera up` this demo started"), "{out}");
    // Stopped: nothing answers any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", base)).is_err(), "the demo's tessera up still runs");
}

/// Waits until `tessera up` says it is up.
fn wait_for(log: &Path) {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("Tessera is up") {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "tessera up did not come up: {text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
