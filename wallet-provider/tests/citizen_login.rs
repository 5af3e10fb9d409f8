//! The citizen's SPID/CIE login at the wallet provider over loopback HTTP: a trust anchor,
//! the spid-cie-oidc test OpenID Provider, the provider as its relying party; a browser
//! picks the identity; the app's redirect gets a one-time code; the code becomes a session
//! that registers, lists and revokes the citizen's own instances only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{APP_REDIRECT, Fed, Wallet};
use serde_json::json;

const MARIO: &str = "TINIT-RSSMRA80A01H501U";
const GIULIA: &str = "TINIT-BNCGLI85M41F205Z";

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_gives_a_one_time_code_for_a_session_bound_to_the_fiscal_number() {
    let fed = Fed::with_op().await;
    let back = fed.browser_login(APP_REDIRECT, "app-state-1", MARIO).await;
    assert!(back.starts_with(APP_REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("app-state-1"));
    let code = param(&back, "code").unwrap();
    let (status, body) = Fed::json(fed.http.post(fed.url("/citizen/session")).json(&json!({"code": code}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["fiscal_number"], json!(MARIO));
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    // The code is single use.
    let (status, body) = Fed::json(fed.http.post(fed.url("/citizen/session")).json(&json!({"code": code}))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));

    // The session registers and lists Mario's instance.
    let token = body_token(&fed, MARIO).await;
    let wallet = Wallet::new();
    assert_eq!(fed.register(&wallet, &token).await.0, 204);
    let (_, list) = Fed::json(fed.http.get(fed.url("/wallet-instances")).bearer_auth(&token)).await;
    assert_eq!(list[0]["id"], json!(wallet.hardware.as_str()));

    // Giulia, logged in too, neither sees nor revokes it.
    let giulia = body_token(&fed, GIULIA).await;
    let (_, list) = Fed::json(fed.http.get(fed.url("/wallet-instances")).bearer_auth(&giulia)).await;
    assert_eq!(list, json!([]));
    let path = fed.url(&format!("/wallet-instances/{}", wallet.hardware.as_str()));
    let (status, body) = Fed::json(fed.http.patch(&path).bearer_auth(&giulia).json(&json!({"status": "REVOKED"}))).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")));
    let (status, _) = Fed::json(fed.http.patch(&path).bearer_auth(&token).json(&json!({"status": "REVOKED"}))).await;
    assert_eq!(status, 204);
}

async fn body_token(fed: &Fed, fiscal_number: &str) -> String {
    fed.session(fiscal_number).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_uri_not_configured_is_refused_without_redirecting() {
    let fed = Fed::with_op().await;
    for bad in ["https://evil.example/cb", "it.tessera.wallet://activate/other", ""] {
        let mut url = url::Url::parse(&fed.url("/citizen/login")).unwrap();
        url.query_pairs_mut().append_pair("redirect_uri", bad);
        let r = fed.http.get(url.as_str()).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.headers().get("location").is_none());
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], json!("invalid_request"));
    }
    let r = fed.http.get(fed.url("/citizen/login")).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_entity_configuration_carries_the_relying_party_metadata() {
    let fed = Fed::with_op().await;
    let ec = fed.http.get(fed.url("/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap();
    let jws = wallet_core::jose::CompactJws::parse(&ec).unwrap();
    let claims: serde_json::Value = jws.payload_json().unwrap();
    let rp = &claims["metadata"]["openid_relying_party"];
    assert_eq!(rp["client_id"], json!(fed.provider.id));
    assert_eq!(rp["redirect_uris"], json!([fed.url("/citizen/callback")]));
    assert!(claims["metadata"]["wallet_solution"].is_object());
    assert_eq!(claims["trust_marks"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_callback_is_refused() {
    let fed = Fed::with_op().await;
    let (status, body) = Fed::json(fed.http.get(fed.url("/citizen/callback?code=x&state=never-started"))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
}
