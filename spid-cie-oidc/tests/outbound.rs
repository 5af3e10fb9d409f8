//! Outbound fetches never slow the provider (issue 10 item 3): an RP whose trust chain names
//! authorities that accept connections and never answer is refused within the per-request
//! deadline, while the OP's other routes answer at once. Over real HTTP on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod common;

use std::time::{Duration, Instant};

use common::{Fed, error_of, url, valid};
use service_kit::FetchLimits;
use spid_cie_oidc::op::Profile;
use wallet_core::federation::EntityId;

/// An authority that accepts connections and never answers.
async fn black_hole() -> EntityId {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())).unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item3_registration_through_dead_authorities_ends_by_the_deadline_and_other_routes_stay_fast() {
    let limits = FetchLimits { fetch_ms: 700, request_ms: 1_500, ..FetchLimits::default() };
    let fed = Fed::with(Profile::Spid, |c| c.outbound = limits).await;
    let dead = vec![black_hole().await, black_hole().await, black_hole().await];
    // The RP is onboarded and marked by the anchor, but its configuration names three dead
    // superiors before the anchor: the provider's chain walk meets them first.
    let rp = fed.rp_with("rp", true, true, dead, |_| {}).await;

    // Ten registrations at once, each walking into the dead authorities.
    let started = Instant::now();
    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let (http, u) = (fed.http.clone(), url(&fed, &rp, &valid(&fed, &rp)));
            tokio::spawn(async move {
                let t = Instant::now();
                let r = http.get(u).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap(), t.elapsed())
            })
        })
        .collect();
    // Meanwhile the provider's other routes answer at once.
    let mut slowest = Duration::ZERO;
    while started.elapsed() < Duration::from_millis(1_200) {
        for path in ["/.well-known/openid-federation", "/token", "/nope"] {
            let t = Instant::now();
            let r = fed.http.post(format!("{}{path}", fed.op)).send().await.unwrap();
            assert!(r.status().is_client_error() || r.status().is_success(), "{path}");
            slowest = slowest.max(t.elapsed());
        }
        let t = Instant::now();
        assert_eq!(fed.http.get(format!("{}/.well-known/openid-federation", fed.op)).send().await.unwrap().status(), 200);
        slowest = slowest.max(t.elapsed());
    }
    assert!(slowest < Duration::from_millis(400), "another route took {slowest:?} while registrations waited on dead authorities");
    for a in attempts {
        let (status, body, took) = a.await.unwrap();
        // Refused as an untrusted client (the chain did not resolve in time), as JSON, never a redirect.
        assert_eq!(status, 401, "{body}");
        assert_eq!(error_of(&body), "invalid_client");
        assert!(body.contains("timed out"), "{body}");
        assert!(took < Duration::from_millis(limits.request_ms + 1_000), "a registration took {took:?}, beyond the {} ms deadline", limits.request_ms);
    }
    assert!(started.elapsed() < Duration::from_millis(limits.request_ms + 1_500), "{:?}", started.elapsed());
}
