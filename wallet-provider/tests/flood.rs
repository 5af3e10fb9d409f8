//! Issue 10 item 4 over loopback HTTP: anonymous citizen logins that are never finished cost
//! the provider nothing (no store fills), rate limits per client refuse a flooding client
//! with 429 and `Retry-After` while others go on, `/health` says degraded during the flood (a 200 warning),
//! and afterwards a citizen activates and revokes as usual.
//!
//! Clients are told apart by `X-Forwarded-For` from a trusted proxy (127.0.0.1 in the test
//! configuration), as behind a load balancer.
//!
//! Depends on the relying party (spid-cie-oidc) keeping no pending state per started login
//! either (its pending logins sealed in `state`): with the bounded pending store it had, the
//! 10,001st login failed at the relying party.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{APP_REDIRECT, Fed, Wallet};
use serde_json::{Value, json};
use service_kit::RateLimit;

const MARIO: &str = "TINIT-RSSMRA80A01H501U";
/// Anonymous logins started and never finished.
const FLOOD: u32 = 10_000;
/// The per-client login limit in this test.
const LOGIN_BURST: u32 = 5;

fn client(i: u32) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff)
}

fn login_url(fed: &Fed) -> String {
    let mut url = url::Url::parse(&fed.url("/citizen/login")).unwrap();
    url.query_pairs_mut().append_pair("redirect_uri", APP_REDIRECT).append_pair("state", "anonymous");
    url.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_anonymous_logins_then_a_citizen_activates_and_revokes() {
    let fed = Fed::build_with_op(|c| {
        c.rate_limits.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.rate_limits.login = RateLimit::new(60, LOGIN_BURST);
        c.rate_limits.health_refusal_threshold = 10;
    })
    .await;
    let fed = Arc::new(fed);
    let url = Arc::new(login_url(&fed));

    // 10,000 logins from 10,000 clients, 64 at a time: each is sent to the OP, none is
    // refused, and nothing is stored for them.
    let next = Arc::new(AtomicUsize::new(0));
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (fed, url, next) = (fed.clone(), url.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = u32::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap();
                if i >= FLOOD {
                    break;
                }
                let r = fed.http.get(url.as_str()).header("x-forwarded-for", client(i)).send().await.unwrap();
                assert_eq!(r.status(), 302, "login {i}: {}", r.text().await.unwrap());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    eprintln!("{FLOOD} anonymous logins in {:?}", started.elapsed());

    // One client beyond its limit gets 429 with Retry-After; another client logs in fine.
    let flooder = "192.0.2.7";
    let mut refused = 0;
    for _ in 0..(LOGIN_BURST + 20) {
        let r = fed.http.get(url.as_str()).header("x-forwarded-for", flooder).send().await.unwrap();
        if r.status() == 429 {
            refused += 1;
            let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry), "{retry}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], json!("too_many_requests"));
        } else {
            assert_eq!(r.status(), 302);
        }
    }
    assert_eq!(refused, 20, "the burst passes, the rest is refused");
    let r = fed.http.get(url.as_str()).header("x-forwarded-for", "192.0.2.8").send().await.unwrap();
    assert_eq!(r.status(), 302, "another client is not affected");

    // The flood shows in /health, as a warning: 200, so that a load balancer keeps the
    // replica (a flood must not take every replica out of rotation), and a second look (a
    // monitor polling) sees the same, not a count reset by the first.
    for _ in 0..2 {
        let r = fed.http.get(fed.url("/health")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], json!("degraded"));
        assert!(body["checks"]["login"].as_str().unwrap().contains("refused"), "{body}");
    }

    // A citizen (another client: the proxy itself, no X-Forwarded-For) activates, then loses
    // the phone and revokes: neither meets a 503.
    let token = fed.session(MARIO).await;
    let wallet = Wallet::new();
    let (status, body) = fed.register(&wallet, &token).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = fed.attest(&wallet).await;
    assert_eq!(status, 200, "{body}");
    let path = fed.url(&format!("/wallet-instances/{}", wallet.hardware.as_str()));
    let (status, body) = Fed::json(fed.http.patch(&path).bearer_auth(&token).json(&json!({"status": "REVOKED"}))).await;
    assert_eq!(status, 204, "{body}");
}
