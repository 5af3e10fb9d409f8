//! Every check proven able to fail (issue 13 item 3): each fault of `conformance::faults` is
//! switched on in the mutating proxy in front of our trust anchor (our issuer, our wallet
//! provider), the plan runs through it, and exactly the tests the fault names fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use std::collections::BTreeSet;

use conformance::client::{Http, TIMEOUT};
use conformance::faults::FAULTS;
use conformance::runner::{run, select};
use conformance::{Plan, Target, Verdict};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_fails_exactly_the_tests_it_names() {
    let fed = support::Federation::start().await;
    let mut wrong = Vec::new();
    for fault in FAULTS.iter().filter(|f| f.plan == Plan::Federation) {
        fed.set_fault(Some(fault.name));
        let mut target = Target::new(fed.anchor.clone());
        target.subordinate = Some(fed.leaf.clone());
        let report = tokio::task::spawn_blocking(move || {
            let cases = select(Plan::Federation, None).unwrap();
            run(Plan::Federation, &cases, &target, &Http::new(TIMEOUT).unwrap(), |_| {})
        })
        .await
        .unwrap();
        let failed: BTreeSet<&str> = report.results.iter().filter(|r| matches!(r.verdict, Verdict::Failed(_))).map(|r| r.id.as_str()).collect();
        let skipped: Vec<&str> = report.results.iter().filter(|r| matches!(r.verdict, Verdict::Skipped(_))).map(|r| r.id.as_str()).collect();
        let expected: BTreeSet<&str> = fault.breaks.iter().copied().collect();
        if failed != expected || !skipped.is_empty() {
            let reasons: Vec<String> = report.results.iter().filter(|r| r.verdict != Verdict::Passed).map(|r| format!("    {}: {:?}", r.id, r.verdict)).collect();
            wrong.push(format!("{}: failed {failed:?}, expected {expected:?}\n{}", fault.name, reasons.join("\n")));
        }
    }
    fed.set_fault(None);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Each fault of `plan` switched on by `set`, the plan run against `target`: the tests failed
/// must be exactly the fault's `breaks` (skips are the plan's own: rows that do not apply).
async fn exactly_breaks(plan: Plan, target: &Target, set: impl Fn(Option<&'static str>)) {
    let mut wrong = Vec::new();
    // CONFORMANCE_FAULTS=name,name runs only those faults (a quick check of new ones; the full
    // run is the proof).
    let only: Option<Vec<String>> = std::env::var("CONFORMANCE_FAULTS").ok().map(|v| v.split(',').map(str::to_owned).collect());
    let faults: Vec<_> = FAULTS.iter().filter(|f| f.plan == plan && only.as_ref().is_none_or(|o| o.iter().any(|n| n == f.name))).collect();
    assert!(!faults.is_empty());
    for fault in faults {
        set(Some(fault.name));
        let target = target.clone();
        let report = tokio::task::spawn_blocking(move || {
            let cases = select(plan, None).unwrap();
            run(plan, &cases, &target, &Http::new(TIMEOUT).unwrap(), |_| {})
        })
        .await
        .unwrap();
        let failed: BTreeSet<&str> = report.results.iter().filter(|r| matches!(r.verdict, Verdict::Failed(_))).map(|r| r.id.as_str()).collect();
        let expected: BTreeSet<&str> = fault.breaks.iter().copied().collect();
        if failed != expected {
            let reasons: Vec<String> = report.results.iter().filter(|r| r.verdict != Verdict::Passed).map(|r| format!("    {}: {:?}", r.id, r.verdict)).collect();
            wrong.push(format!("{}: failed {failed:?}, expected {expected:?}\n{}", fault.name, reasons.join("\n")));
        }
    }
    set(None);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_issuer_fault_fails_exactly_the_tests_it_names() {
    let fed = support::Federation::start().await;
    exactly_breaks(Plan::Issuer, &fed.issuer_target(), |f| fed.set_issuer_fault(f)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_wallet_provider_fault_fails_exactly_the_tests_it_names() {
    let fed = support::Federation::start().await;
    exactly_breaks(Plan::WalletProvider, &fed.wallet_provider_target(), |f| fed.set_wallet_provider_fault(f)).await;
}
