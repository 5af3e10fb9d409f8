//! The rp plan against our verifier on loopback (issue 13 item 2), then every rp fault of
//! `conformance::faults` injected by the mutating proxy in front of it, each failing exactly
//! the tests it names (item 3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use std::collections::BTreeSet;

use conformance::client::{Http, TIMEOUT};
use conformance::faults::FAULTS;
use conformance::report::Report;
use conformance::runner::{run, select};
use conformance::{Plan, Target, Verdict};

async fn run_rp(target: &Target) -> Report {
    let target = target.clone();
    tokio::task::spawn_blocking(move || {
        let cases = select(Plan::Rp, None).unwrap();
        run(Plan::Rp, &cases, &target, &Http::new(TIMEOUT).unwrap(), |_| {})
    })
    .await
    .unwrap()
}

fn not_passed(report: &Report) -> Vec<String> {
    report.results.iter().filter(|r| r.verdict != Verdict::Passed).map(|r| format!("    {}: {:?}", r.id, r.verdict)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_verifier_passes_the_rp_plan_and_every_fault_fails_exactly_its_tests() {
    let fed = support::Federation::start().await;
    let rp = support::rp::Rp::start(&fed).await;
    let mut target = Target::new(rp.verifier.clone());
    target.trust_anchor = Some(fed.anchor_config.clone());
    target.rp = Some(rp.setup.clone());

    let report = run_rp(&target).await;
    let bad = not_passed(&report);
    assert!(bad.is_empty(), "our verifier, no fault:\n{}", bad.join("\n"));

    let only = std::env::var("RP_FAULT").ok();
    let mut wrong = Vec::new();
    for fault in FAULTS.iter().filter(|f| f.plan == Plan::Rp && only.as_deref().is_none_or(|o| o == f.name)) {
        rp.set_fault(Some(fault.name));
        let report = run_rp(&target).await;
        let failed: BTreeSet<&str> = report.results.iter().filter(|r| matches!(r.verdict, Verdict::Failed(_))).map(|r| r.id.as_str()).collect();
        let skipped = report.results.iter().any(|r| matches!(r.verdict, Verdict::Skipped(_)));
        let expected: BTreeSet<&str> = fault.breaks.iter().copied().collect();
        if failed != expected || skipped {
            wrong.push(format!("{}: failed {failed:?}, expected {expected:?}\n{}", fault.name, not_passed(&report).join("\n")));
        }
    }
    rp.set_fault(None);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_integrator_api_the_rp_tests_are_skipped() {
    let fed = support::Federation::start().await;
    let target = Target::new(fed.leaf.clone());
    let report = run_rp(&target).await;
    assert!(report.results.iter().all(|r| matches!(r.verdict, Verdict::Skipped(_))), "{}", not_passed(&report).join("\n"));
}

/// The QR reader of the rp plan (`plans/rp/qr.rs`) reads back what our verifier's QR
/// renderer (the `qrcode` crate, level Q) draws, across versions 1 to 40, for the texts a
/// wallet URL is made of (digits, upper-case runs, bytes).
#[test]
fn the_qr_reader_reads_back_the_verifiers_qr_codes() {
    use conformance::plans::rp::qr::{EcLevel, Grid};
    let mut lengths: Vec<usize> = (1..120).collect();
    lengths.extend((120..1650).step_by(37));
    for len in lengths {
        let text: String = (0..len)
            .map(|i| match (i / 17) % 3 {
                0 => char::from(b"haip://?client_id=https%3A%2F%2Frp.example.it&request_uri=".get(i % 60).copied().unwrap_or(b'x')),
                1 => char::from(b'0' + u8::try_from(i % 10).unwrap()),
                _ => char::from(b'A' + u8::try_from(i % 26).unwrap()),
            })
            .collect();
        let svg = verifier::qr::svg(&text).unwrap();
        let grid = Grid::from_svg(&svg).unwrap();
        assert_eq!(grid.format().unwrap().0, EcLevel::Q);
        assert_eq!(grid.decode().unwrap(), text, "length {len}, {} modules", grid.size);
    }
}
