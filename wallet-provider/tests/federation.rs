//! The provider as a federation leaf over loopback HTTP: its Entity Configuration, its
//! onboarding and trust mark, its status list verified by a relying party's code, nonces,
//! health and metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::Fed;
use serde_json::Value;
use wallet_core::federation::{ChainCollector, TrustAnchorConfig};
use wallet_core::status::{DEFAULT_MAX_DECOMPRESSED, StatusListToken, StatusReference, StatusValue};
use wallet_core::time::UnixTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_configuration_resolves_with_wallet_solution_metadata_and_trust_mark() {
    let fed = Fed::new().await;
    let anchors = [TrustAnchorConfig { id: fed.anchor.id.clone(), jwks: fed.anchor.jwks.clone() }];
    let id = fed.provider.id.clone();
    let chain = tokio::task::spawn_blocking(move || {
        let fetcher = trust_anchor::fetch::HttpFetcher::new().unwrap();
        ChainCollector::new(&fetcher, &anchors).resolve(&id, UnixTime::now())
    })
    .await
    .unwrap()
    .unwrap();
    let ws = chain.metadata_of("wallet_solution").unwrap();
    assert_eq!(ws["jwks"]["keys"][0]["kid"], Value::from(fed.provider.state.keys().wallet_solution_jwks().keys[0].kid.clone().unwrap()));
    assert!(ws["logo_uri"].as_str().unwrap().ends_with("/logo.svg"));
    assert!(ws["wallet_metadata"]["vp_formats_supported"]["dc+sd-jwt"].is_object());
    let marks = chain.subject.claims.trust_marks.clone().unwrap();
    assert!(marks[0].trust_mark_type.ends_with("/trust_marks/federation-entity/wallet-provider"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_list_is_served_signed_and_verifies_to_the_federation_root() {
    let fed = Fed::new().await;
    let r = fed.http.get(fed.url("/status-list")).header("accept", "application/statuslist+jwt").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    let body = r.bytes().await.unwrap();
    let reference = StatusReference { idx: 7, uri: fed.url("/status-list") };
    let v = StatusListToken::verify_response(Some(&ct), &body, &reference, &fed.x5c_resolver(), UnixTime::now(), 60, DEFAULT_MAX_DECOMPRESSED)
        .unwrap();
    assert_eq!(v.lookup(7).unwrap(), StatusValue::Valid);
    assert!(v.ttl.is_some() && v.exp.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonces_are_fresh_health_and_metrics_answer() {
    let fed = Fed::new().await;
    let (a, b) = (fed.nonce().await, fed.nonce().await);
    assert_ne!(a, b);
    assert!(a.len() >= 22, "128 bits at least");
    let r = fed.http.get(fed.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = fed.http.get(fed.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["info"]["title"], "Tessera wallet provider");
    assert!(doc["paths"]["/wallet-attestation"]["post"].is_object());
    let text = fed.http.get(fed.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("wallet_provider_nonces_issued_total 2"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_needs_a_session() {
    let fed = Fed::new().await;
    let (status, body) = Fed::json(fed.http.get(fed.url("/wallet-instances"))).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized")));
    let (status, body) = Fed::json(fed.http.get(fed.url("/wallet-instances")).bearer_auth("made-up")).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized")));
    let token = fed.provider.state.insecure_create_session("RSSMRA80A01H501U").unwrap();
    let (status, body) = Fed::json(fed.http.get(fed.url("/wallet-instances")).bearer_auth(&token)).await;
    assert_eq!((status, body), (200, serde_json::json!([])));
    let (status, body) = Fed::json(fed.http.post(fed.url("/citizen/session")).json(&serde_json::json!({"code": "nope"}))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let (status, body) = Fed::json(fed.http.post(fed.url("/citizen/session")).body("{").header("content-type", "application/json")).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")));
}
