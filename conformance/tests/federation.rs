//! The federation plan against our own trust anchor on loopback: every test passes (or is
//! skipped for a stated reason), and the reports are written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use conformance::client::{Http, TIMEOUT};
use conformance::runner::{Progress, run, select};
use conformance::{Plan, Target, Verdict};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_trust_anchor_passes_the_federation_plan() {
    let fed = support::Federation::start().await;
    let target = Target::new(fed.anchor.clone());
    let report = tokio::task::spawn_blocking(move || {
        let cases = select(Plan::Federation, None).unwrap();
        let mut seen = 0;
        let report = run(Plan::Federation, &cases, &target, &Http::new(TIMEOUT).unwrap(), |p| {
            if let Progress::Finished(_) = p {
                seen += 1;
            }
        });
        assert_eq!(seen, cases.len());
        report
    })
    .await
    .unwrap();
    let bad: Vec<String> = report.results.iter().filter(|r| r.verdict != Verdict::Passed).map(|r| format!("{}: {:?}", r.id, r.verdict)).collect();
    assert!(bad.is_empty(), "not passed:\n{}", bad.join("\n"));
    let dir = tempfile::tempdir().unwrap();
    let files = report.write_to(dir.path()).unwrap();
    let html = std::fs::read_to_string(&files[2]).unwrap();
    assert!(html.contains("FA_001") && html.contains(fed.anchor.as_str()));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(json["results"].as_array().unwrap().len(), report.results.len());
    // The evidence names what was sent and seen.
    let fa008 = report.results.iter().find(|r| r.id == "FA_008").unwrap();
    assert!(fa008.evidence.exchanges.iter().any(|e| e.url.contains("/fetch?sub=")), "{:?}", fa008.evidence.exchanges);
    assert!(fa008.evidence.jwts.iter().any(|j| j.label.starts_with("Subordinate Statement")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_fails_with_the_reason_and_only_named_tests_run() {
    let target = Target::new(wallet_core::federation::EntityId::new("http://127.0.0.1:9").unwrap());
    let report = tokio::task::spawn_blocking(move || {
        let cases = select(Plan::Federation, Some(&["FA_001".to_owned(), "FA_010".to_owned()])).unwrap();
        run(Plan::Federation, &cases, &target, &Http::new(std::time::Duration::from_secs(2)).unwrap(), |_| {})
    })
    .await
    .unwrap();
    assert_eq!(report.results.len(), 2);
    assert!(matches!(&report.results[0].verdict, Verdict::Failed(why) if why.contains("no response")), "{:?}", report.results[0].verdict);
    assert!(!report.passed());
    assert_eq!(select(Plan::Federation, Some(&["CI_001".to_owned()])).unwrap_err().id, "CI_001");
}
