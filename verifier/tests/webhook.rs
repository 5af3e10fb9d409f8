//! The completion webhook over real HTTP on loopback: a receiver served here, the notices
//! signed with HMAC-SHA256, without claims, retried a bounded number of times, never holding
//! up the wallet's answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use common::{Fed, Wallet, post_response};
use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};

const SECRET: &str = "a-webhook-secret-of-32-characters!";
const AGE: [&str; 1] = ["birthdate"];

/// What the receiver got: the signature header and the body.
#[derive(Default)]
struct Received {
    notices: Mutex<Vec<(Option<String>, Vec<u8>)>>,
    calls: AtomicUsize,
}

/// `POST /hook/{mode}`: `ok` answers 204; `slow` waits 1.5 s first; `flaky` answers 503
/// twice, then 204; `down` always 500; `gone` 410.
async fn hook(State(r): State<Arc<Received>>, Path(mode): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    let n = r.calls.fetch_add(1, Ordering::SeqCst);
    r.notices.lock().unwrap().push((headers.get("x-tessera-signature").map(|v| v.to_str().unwrap().to_owned()), body.to_vec()));
    match mode.as_str() {
        "slow" => {
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            StatusCode::NO_CONTENT
        }
        "flaky" if n < 2 => StatusCode::SERVICE_UNAVAILABLE,
        "down" => StatusCode::INTERNAL_SERVER_ERROR,
        "gone" => StatusCode::GONE,
        _ => StatusCode::NO_CONTENT,
    }
}

async fn receiver() -> (String, Arc<Received>) {
    let r = Arc::new(Received::default());
    let app = axum::Router::new().route("/hook/{mode}", axum::routing::post(hook)).with_state(r.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (base, r)
}

async fn fed_with_hook(url: String) -> Fed {
    Fed::with(move |c| {
        c.webhook_url = Some(url);
        c.webhook_secret = SECRET.into();
    })
    .await
}

/// A cross-device session answered with a valid presentation; its id and how long the
/// wallet's POST took.
async fn verified_session(fed: &Fed) -> (String, Duration) {
    let s = fed.session(json!({"preset": "age_over_18", "flow": "cross_device"})).await;
    let wallet = Wallet::new();
    let f = wallet.fetch(fed, s["wallet_url"].as_str().unwrap()).await;
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let t = Instant::now();
    let (st, body) = post_response(fed, &f.request.response_uri, wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone())).await;
    assert_eq!(st, 200, "{body}");
    (s["session_id"].as_str().unwrap().to_owned(), t.elapsed())
}

async fn wait_for(r: &Received, calls: usize, within: Duration) {
    let t = Instant::now();
    while r.calls.load(Ordering::SeqCst) < calls {
        assert!(t.elapsed() < within, "{} calls after {within:?}", r.calls.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn metric(fed_metrics: &str, name: &str) -> u64 {
    fed_metrics.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).unwrap().parse().unwrap()
}

async fn metrics(fed: &Fed) -> String {
    fed.http.get(fed.url("/metrics")).send().await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_notice_without_claims_that_does_not_hold_up_the_wallet() {
    let (base, r) = receiver().await;
    let fed = fed_with_hook(format!("{base}/hook/slow")).await;
    let (id, took) = verified_session(&fed).await;
    assert!(took < Duration::from_millis(1_200), "the wallet waited {took:?} for the integrator");
    wait_for(&r, 1, Duration::from_secs(5)).await;
    let (sig, body) = r.notices.lock().unwrap()[0].clone();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v, json!({"session_id": id, "status": "verified"}), "no claims, only the session and its status");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sig.unwrap(), format!("sha256={expected}"));
    // The integrator then takes the result with its token.
    let (st, v) = fed.result(&id, None).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("verified")));
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    assert_eq!(metric(&metrics(&fed).await, "verifier_webhooks_delivered_total"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_until_accepted_and_a_refusal_is_notified_too() {
    let (base, r) = receiver().await;
    let fed = fed_with_hook(format!("{base}/hook/flaky")).await;
    // A refused verdict (KB-JWT for another audience).
    let s = fed.session(json!({"preset": "age_over_18", "flow": "cross_device"})).await;
    let wallet = Wallet::new();
    let f = wallet.fetch(&fed, s["wallet_url"].as_str().unwrap()).await;
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, "openid_federation:https://other.example.it", &f.request.nonce);
    let (st, _) = post_response(&fed, &f.request.response_uri, wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone())).await;
    assert_eq!(st, 403);
    wait_for(&r, 3, Duration::from_secs(6)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let notices = r.notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 3, "two 503s, then accepted: no more");
    assert!(notices.iter().all(|(_, b)| b == &notices[0].1), "the same notice each time");
    assert_eq!(serde_json::from_slice::<Value>(&notices[0].1).unwrap()["status"], "refused");
    assert_eq!(metric(&metrics(&fed).await, "verifier_webhooks_delivered_total"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_bounded_and_a_4xx_is_not_retried() {
    let (base, r) = receiver().await;
    let fed = fed_with_hook(format!("{base}/hook/down")).await;
    verified_session(&fed).await;
    wait_for(&r, verifier::webhook::ATTEMPTS as usize, Duration::from_secs(8)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(r.calls.load(Ordering::SeqCst), verifier::webhook::ATTEMPTS as usize, "no more than the bound");
    assert_eq!(metric(&metrics(&fed).await, "verifier_webhooks_failed_total"), 1);

    let (base, r) = receiver().await;
    let fed = fed_with_hook(format!("{base}/hook/gone")).await;
    verified_session(&fed).await;
    wait_for(&r, 1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(r.calls.load(Ordering::SeqCst), 1, "410: given up at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_person_sessions_send_nothing() {
    let (base, r) = receiver().await;
    let fed = fed_with_hook(format!("{base}/hook/ok")).await;
    let req = verifier::sessions::SessionRequest {
        query: verifier::presets::preset("age_over_18").unwrap(),
        flow: verifier::store::Flow::CrossDevice,
        redirect_uri: None,
        method: verifier::sessions::Method::Post,
        owner: Some("agente.rossi".into()),
    };
    let s = fed.verifier.start_session(req).unwrap();
    let wallet = Wallet::new();
    let f = wallet.fetch(&fed, &s.wallet_url).await;
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let (st, _) = post_response(&fed, &f.request.response_uri, wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone())).await;
    assert_eq!(st, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(r.calls.load(Ordering::SeqCst), 0);
}
