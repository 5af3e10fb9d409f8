//! The in-person page in a real headless Chromium (Debian's `chromium`, driven by npm
//! `playwright-core`: `verifier/tests/browser/drive.mjs`), against a federation and the
//! verifier on loopback: an operator logs in, picks "Controllo patente", and this test, as the
//! citizen's wallet (wallet-core), answers the URL read from the page's QR code; the page
//! shows the verdict. Then declined, refused (an issuer outside the federation), cannot
//! determine (a status list nobody serves) and expired; then an expert request (a raw DCQL
//! query typed in: a broken one refused with why, a valid one run).
//!
//! Install the browser with `scripts/browser.sh`. Without it the test prints why it skips
//! and passes, unless `TESSERA_BROWSER=required` (CI). Screenshots of every state go to a
//! temporary folder, or, with `TESSERA_SCREENSHOTS=1`, over `docs/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "browser/support.rs"]
mod support;

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use support::{Answer, MDL_CLAIMS, OPERATORS, Wallet, WebFed};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The driver, ended if the test fails before it does.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Why the browser cannot run here, if it cannot.
fn missing() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is missing"));
    }
    if !browser_dir().join("node_modules/playwright-core/package.json").exists() {
        return Some("playwright-core is not installed in verifier/tests/browser".into());
    }
    if std::process::Command::new("node").arg("--version").output().is_err() {
        return Some("node is missing".into());
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_person_page_in_chromium() {
    if let Some(why) = missing() {
        if std::env::var("TESSERA_BROWSER").is_ok_and(|v| v == "required") {
            panic!("{why} and TESSERA_BROWSER=required: run scripts/browser.sh");
        }
        eprintln!("skipped: {why} (run scripts/browser.sh; TESSERA_BROWSER=required makes this a failure)");
        return;
    }
    let fed = WebFed::new().await;
    let tmp = tempfile::tempdir().unwrap();
    let shots = if std::env::var("TESSERA_SCREENSHOTS").is_ok_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
    } else {
        tmp.path().to_path_buf()
    };
    std::fs::create_dir_all(&shots).unwrap();

    let (user, password, _) = OPERATORS[0];
    let mut child = std::process::Command::new("node")
        .arg("drive.mjs")
        .current_dir(browser_dir())
        .env("BASE_URL", fed.verifier_id.as_str())
        .env("OPERATOR", user)
        .env("PASSWORD", password)
        .env("SHOTS", &shots)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut to_driver = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut child = KillOnDrop(child);
    // The driver's lines, read on a thread of their own.
    let (tx, mut from_driver) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let wallet = Wallet::new();
    let mut request = None;
    let mut done = false;
    let mut verdicts = Vec::new();
    while let Some(line) = tokio::time::timeout(Duration::from_secs(90), from_driver.recv()).await.unwrap_or_else(|_| {
        panic!("the driver went quiet for 90 s")
    }) {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            eprintln!("driver: {line}");
            continue;
        };
        if let Some(name) = msg["scenario"].as_str() {
            // The wallet scans the QR code (the expired check is left unanswered).
            let url = msg["wallet_url"].as_str().unwrap();
            assert!(url.starts_with("openid4vp://?client_id=openid_federation%3A"), "{url}");
            request = if name == "expired" { None } else { Some(wallet.fetch(&fed, url).await) };
        } else if let Some(name) = msg["answer"].as_str() {
            match (name, request.take()) {
                ("verified", Some(req)) => {
                    let (s, body) = wallet.answer(&fed, &req, Answer::Present("mdl", fed.issuer.mdl(&wallet.holder), MDL_CLAIMS.to_vec())).await;
                    assert_eq!(s, 200, "{body}");
                }
                ("declined", Some(req)) => assert_eq!(wallet.answer(&fed, &req, Answer::Decline).await.0, 200),
                ("refused", Some(req)) => {
                    let (s, body) = wallet.answer(&fed, &req, Answer::Present("mdl", fed.rogue.mdl(&wallet.holder), MDL_CLAIMS.to_vec())).await;
                    assert_eq!(s, 403, "{body}");
                }
                ("unknown", Some(req)) => {
                    // A status list nobody serves: the verdict cannot be determined.
                    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                    let uri = format!("http://127.0.0.1:{}/status/1", closed.local_addr().unwrap().port());
                    drop(closed);
                    let sd = fed.issuer.mdl_with_status(&wallet.holder, &uri);
                    let (s, body) = wallet.answer(&fed, &req, Answer::Present("mdl", sd, MDL_CLAIMS.to_vec())).await;
                    assert_eq!(s, 400, "{body}");
                }
                ("expired", None) => fed.expire_sessions(),
                (other, _) => panic!("unexpected scenario {other}"),
            }
            verdicts.push(name.to_owned());
        } else if msg["done"] == true {
            done = true;
            continue;
        }
        to_driver.write_all(b"ok\n").unwrap();
        to_driver.flush().unwrap();
    }
    let status = child.0.wait().unwrap();
    assert!(status.success() && done, "the driver failed ({status}); its errors are above");
    assert_eq!(verdicts, ["verified", "declined", "refused", "unknown", "expired"]);
    for shot in ["login", "presets", "qr", "scanned", "verified", "verified-en", "declined", "refused", "unknown", "expired", "expert-error", "presets-narrow"] {
        let p = shots.join(format!("{shot}.png"));
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(&bytes[..4], b"\x89PNG", "{shot}");
    }
}
