//! The issuer plan against our own issuer on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use conformance::client::{Http, TIMEOUT};
use conformance::runner::{run, select};
use conformance::{Plan, Verdict};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_issuer_passes_the_issuer_plan() {
    let fed = support::Federation::start().await;
    let target = fed.issuer_target();
    let report = tokio::task::spawn_blocking(move || {
        let cases = select(Plan::Issuer, None).unwrap();
        run(Plan::Issuer, &cases, &target, &Http::new(TIMEOUT).unwrap(), |_| {})
    })
    .await
    .unwrap();
    let bad: Vec<String> = report.results.iter().filter(|r| !matches!(r.verdict, Verdict::Passed)).map(|r| format!("{}: {:?}", r.id, r.verdict)).collect();
    // Every row runs: the issuer authenticates citizens with their PID (the tool presents one of the federation's PID provider).
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
