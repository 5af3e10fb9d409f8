//! The HTML report of a run against our own trust anchor, looked at in a real headless
//! Chromium (`report_browser.mjs`): the counts, the verdict and text filters, a test's evidence.
//! Skipped unless the browser is installed (`scripts/browser.sh`), a failure when
//! `TESSERA_BROWSER=required`. Screenshots go to a temporary folder, or over
//! `docs/screenshots/` with `TESSERA_SCREENSHOTS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use std::path::{Path, PathBuf};

use conformance::client::{Http, TIMEOUT};
use conformance::runner::{run, select};
use conformance::{Plan, Target};
use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";

fn playwright_from() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../verifier/tests/browser")
}

fn missing() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is missing"));
    }
    if !playwright_from().join("node_modules/playwright-core/package.json").exists() {
        return Some("playwright-core is not installed in verifier/tests/browser".into());
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_reads_in_chromium() {
    if let Some(why) = missing() {
        assert!(std::env::var("TESSERA_BROWSER").as_deref() != Ok("required"), "{why} and TESSERA_BROWSER=required: run scripts/browser.sh");
        eprintln!("skipped: {why} (run scripts/browser.sh)");
        return;
    }
    let fed = support::Federation::start().await;
    // One test made to fail, so that the report shows a failure with its evidence.
    fed.set_fault(Some("fetch-media-type"));
    let target = Target::new(fed.anchor.clone());
    let report = tokio::task::spawn_blocking(move || {
        let cases = select(Plan::Federation, None).unwrap();
        run(Plan::Federation, &cases, &target, &Http::new(TIMEOUT).unwrap(), |_| {})
    })
    .await
    .unwrap();
    let c = report.counts();
    assert_eq!(c.failed, 1);
    let dir = tempfile::tempdir().unwrap();
    let files = report.write_to(dir.path()).unwrap();
    let shots = if std::env::var("TESSERA_SCREENSHOTS").as_deref() == Ok("1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
    } else {
        dir.path().to_owned()
    };
    let (report_path, shots_dir) = (files[2].clone(), shots.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/report_browser.mjs"))
            .env("REPORT", report_path)
            .env("SHOTS", shots_dir)
            .env("PLAYWRIGHT_FROM", playwright_from())
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
    let total = report.results.len() as u64;
    assert_eq!(seen["all"], total);
    assert_eq!(seen["without_passed"], u64::try_from(c.failed + c.skipped).unwrap());
    assert_eq!(seen["search_fa_008"], 1);
    assert_eq!(seen["evidence_open"], true);
    let summary = seen["summary"].as_str().unwrap();
    assert!(summary.contains(&format!("{} passed", c.passed)) && summary.contains("1 failed"), "{summary}");
    assert!(seen["title"].as_str().unwrap().contains("federation plan"));
    assert!(shots.join("conformance-report.png").exists());
}
