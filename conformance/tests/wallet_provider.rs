//! The wallet-provider plan against our own wallet provider on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use conformance::client::{Http, TIMEOUT};
use conformance::runner::{run, select};
use conformance::{Plan, Verdict};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_wallet_provider_passes_the_wallet_provider_plan() {
    let fed = support::Federation::start().await;
    let target = fed.wallet_provider_target();
    let report = tokio::task::spawn_blocking(move || {
        let cases = select(Plan::WalletProvider, None).unwrap();
        run(Plan::WalletProvider, &cases, &target, &Http::new(TIMEOUT).unwrap(), |_| {})
    })
    .await
    .unwrap();
    let bad: Vec<String> = report.results.iter().filter(|r| !matches!(r.verdict, Verdict::Passed | Verdict::Skipped(_))).map(|r| format!("{}: {:?}", r.id, r.verdict)).collect();
    assert!(bad.is_empty(), "not passed:\n{}", bad.join("\n"));
    // jwks by value: the by-reference rows are skipped with the reason.
    let skipped: Vec<&str> = report.results.iter().filter(|r| matches!(r.verdict, Verdict::Skipped(_))).map(|r| r.id.as_str()).collect();
    assert_eq!(skipped, ["WP_004b", "WP_004c"]);
}
