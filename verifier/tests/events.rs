//! Session state for integrators over real HTTP on loopback: Server-Sent Events
//! (`GET /sessions/{id}/events`) and polling (`GET /sessions/{id}`, 200 whatever the state).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{EventStream, Fed, ShiftedClock, TOKEN, Wallet, post_response};
use serde_json::{Value, json};

const AGE: [&str; 1] = ["birthdate"];
const SOON: Duration = Duration::from_secs(5);

async fn events(fed: &Fed, base: &str, id: &str) -> EventStream {
    let r = fed.http.get(format!("{base}/sessions/{id}/events")).bearer_auth(TOKEN).send().await.unwrap();
    EventStream::new(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_follow_a_session_to_its_verdict_then_end() {
    let fed = Fed::new().await;
    let base = fed.verifier_id.as_str().trim_end_matches('/').to_owned();
    let s = fed.session(json!({"preset": "age_over_18", "flow": "cross_device"})).await;
    let id = s["session_id"].as_str().unwrap();
    let mut es = events(&fed, &base, id).await;
    let (name, v) = es.next(SOON).await.unwrap();
    assert_eq!((name.as_str(), v["status"].as_str(), v["session_id"].as_str()), ("status", Some("created"), Some(id)));
    assert_eq!((v["request_fetched_at"].clone(), v["completed_at"].clone()), (Value::Null, Value::Null), "the session's log: nothing yet");

    let wallet = Wallet::new();
    let f = wallet.fetch(&fed, s["wallet_url"].as_str().unwrap()).await;
    let (_, v) = es.next(SOON).await.unwrap();
    assert_eq!(v["status"], "request_fetched");
    let fetched_at = v["request_fetched_at"].as_i64().unwrap();
    assert!(fetched_at >= v["created_at"].as_i64().unwrap() && v["completed_at"].is_null());

    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let (st, _) = post_response(&fed, &f.request.response_uri, wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone())).await;
    assert_eq!(st, 200);
    // `response_received` lasts as long as the verification: seen or not, then the verdict.
    let (_, mut v) = es.next(SOON).await.unwrap();
    if v["status"] == "response_received" {
        v = es.next(SOON).await.unwrap().1;
    }
    assert_eq!((v["status"].as_str(), v["result_available"].as_bool()), (Some("verified"), Some(true)));
    assert_eq!(v["request_fetched_at"].as_i64(), Some(fetched_at));
    assert!(v["completed_at"].as_i64().unwrap() >= fetched_at, "{v}");
    assert!(es.next(SOON).await.is_none(), "the stream ends after a final status");

    // A finished session: its final status, then the end.
    let mut es = events(&fed, &base, id).await;
    assert_eq!(es.next(SOON).await.unwrap().1["status"], "verified");
    assert!(es.next(SOON).await.is_none());

    // Documented.
    let (_, api) = Fed::json(fed.http.get(format!("{base}/openapi.json"))).await;
    assert!(api["paths"]["/sessions/{id}/events"]["get"].is_object());
    assert!(api["webhooks"]["sessionCompleted"]["post"].is_object());
    // Unknown session, no token.
    let (st, v) = Fed::json(fed.http.get(format!("{base}/sessions/nope/events")).bearer_auth(TOKEN)).await;
    assert_eq!((st, v["error"].as_str()), (404, Some("not_found")));
    let (st, _) = Fed::json(fed.http.get(format!("{base}/sessions/{id}/events"))).await;
    assert_eq!(st, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_session_ends_the_stream_with_declined() {
    let fed = Fed::new().await;
    let base = fed.verifier_id.as_str().trim_end_matches('/').to_owned();
    let s = fed.session(json!({"preset": "age_over_18", "flow": "cross_device", "request_uri_method": "get"})).await;
    let id = s["session_id"].as_str().unwrap();
    let f = Wallet::new().fetch(&fed, s["wallet_url"].as_str().unwrap()).await;
    let mut es = events(&fed, &base, id).await;
    assert_eq!(es.next(SOON).await.unwrap().1["status"], "request_fetched");
    post_response(&fed, &f.request.response_uri, Wallet::decline_form(f.request.state.as_deref().unwrap())).await;
    assert_eq!(es.next(SOON).await.unwrap().1["status"], "declined");
    assert!(es.next(SOON).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_ends_the_stream_and_polling_stays_200() {
    let fed = Fed::new().await;
    let clock = Arc::new(ShiftedClock::default());
    let (_v, base, _task) = fed.replica_with("clocked", clock.clone()).await;
    let (st, s) = Fed::json(fed.http.post(format!("{base}/sessions")).bearer_auth(TOKEN).json(&json!({"preset": "pid", "flow": "cross_device"}))).await;
    assert_eq!(st, 201, "{s}");
    let id = s["session_id"].as_str().unwrap();
    let poll = || async { Fed::json(fed.http.get(format!("{base}/sessions/{id}")).bearer_auth(TOKEN)).await };

    let (st, v) = poll().await;
    assert_eq!((st, v["status"].as_str()), (200, Some("created")), "pending: 200 with the state");
    let mut es = events(&fed, &base, id).await;
    assert_eq!(es.next(SOON).await.unwrap().1["status"], "created");

    clock.advance(fed.config.session_ttl + 1);
    assert_eq!(es.next(SOON).await.unwrap().1["status"], "expired", "seen within the watch poll");
    assert!(es.next(SOON).await.is_none());
    let (st, v) = poll().await;
    assert_eq!((st, v["status"].as_str(), v["result_available"].as_bool()), (200, Some("expired"), Some(false)));
    let (st, v) = Fed::json(fed.http.post(format!("{base}/sessions/{id}/result")).bearer_auth(TOKEN).json(&json!({}))).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("expired")));
}

/// A response is checked against its session when it arrives (IT-Wallet 1.4 §5.1: `state`
/// and nonce once, within the session's life): one for a session whose request object was
/// never fetched, and one past the session's expiry, are refused naming why, and spend
/// nothing (no verdict recorded: the session reads `created`, then `expired`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_before_the_request_object_or_after_expiry_is_refused() {
    let fed = Fed::new().await;
    let clock = Arc::new(ShiftedClock::default());
    let (v, base, _task) = fed.replica_with("clocked", clock.clone()).await;
    let (st, s) = Fed::json(fed.http.post(format!("{base}/sessions")).bearer_auth(TOKEN).json(&json!({"preset": "pid", "flow": "cross_device"}))).await;
    assert_eq!(st, 201, "{s}");
    let id = s["session_id"].as_str().unwrap();
    // The state is in the request object only; the test reads it from the store.
    let state = v.store().get(id).unwrap().unwrap().state;
    let response_uri = format!("{base}/response-uri");
    let poll = || async { Fed::json(fed.http.get(format!("{base}/sessions/{id}")).bearer_auth(TOKEN)).await.1["status"].clone() };

    let (st, body) = post_response(&fed, &response_uri, Wallet::decline_form(&state)).await;
    assert_eq!((st, body["error"].as_str(), body["error_description"].as_str()), (400, Some("invalid_request"), Some("no request object was fetched for this state")));
    assert_eq!(poll().await, "created", "nothing spent");

    clock.advance(fed.config.session_ttl + 1);
    let (st, body) = post_response(&fed, &response_uri, Wallet::decline_form(&state)).await;
    assert_eq!((st, body["error_description"].as_str()), (400, Some("the session expired")));
    assert_eq!(poll().await, "expired");
}
