//! Token Status Lists over real HTTP on loopback: the issuer's list served here, fetched by
//! the verifier through its bounded outbound client with `Accept: application/statuslist+jwt`,
//! its `Content-Type` checked by wallet-core: a valid credential is verified, a revoked or a
//! suspended one refused, a list served as another media type refused. The issuer's signing
//! certificate checked against its CA's CRL the same way: revoked, refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::http::{HeaderMap, header};
use common::{Fed, Wallet, post_response};
use serde_json::{Value, json};
use wallet_core::jose::{JwsAlg, JwsHeader, Signer as _};
use wallet_core::status::{Bits, StatusList, StatusListToken, StatusValue};
use wallet_core::time::UnixTime;

const AGE: [&str; 1] = ["birthdate"];

struct Served {
    token: String,
    accepts: std::sync::Mutex<Vec<String>>,
    fetches: AtomicUsize,
}

async fn serve_token(State(s): State<Arc<Served>>, headers: HeaderMap) -> ([(header::HeaderName, &'static str); 1], String) {
    s.fetches.fetch_add(1, Ordering::SeqCst);
    s.accepts.lock().unwrap().push(headers.get("accept").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/statuslist+jwt")], s.token.clone())
}

async fn wrong_type(State(s): State<Arc<Served>>) -> ([(header::HeaderName, &'static str); 1], String) {
    ([(header::CONTENT_TYPE, "application/jwt")], s.token.clone())
}

/// The issuer's status list (index 0 valid, 1 revoked, 2 suspended) served on loopback:
/// the list's URI (`/list`, and `/wrong-type` serving it as `application/jwt`).
async fn serve_list(fed: &Fed) -> (String, Arc<Served>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let mut list = StatusList::new(Bits::from_u64(2).unwrap(), 16);
    list.set(1, StatusValue::Invalid).unwrap();
    list.set(2, StatusValue::Suspended).unwrap();
    let now = UnixTime::now();
    let uri = format!("{base}/list");
    let token = StatusListToken { list, uri: uri.clone(), iss: Some(fed.issuer.id.to_string()), iat: now.plus(-10), exp: Some(now.plus(3600)), ttl: Some(600), aggregation_uri: None };
    let jwt = token.sign(&JwsHeader::new(JwsAlg::Es256).with_kid(fed.issuer.key.kid()), &fed.issuer.key).unwrap();
    let served = Arc::new(Served { token: jwt, accepts: std::sync::Mutex::new(Vec::new()), fetches: AtomicUsize::new(0) });
    let app = axum::Router::new().route("/list", axum::routing::get(serve_token)).route("/wrong-type", axum::routing::get(wrong_type)).with_state(served.clone());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (base, served)
}

/// Presents a PID whose status is at `(idx, uri)`: the wallet's answer and the verdict.
async fn present(fed: &Fed, idx: u64, uri: &str) -> (u16, Value) {
    present_pid(fed, Some((idx, uri)), None).await
}

/// Presents a PID with the status reference and `x5c` header given: the wallet's answer and
/// the verdict.
async fn present_pid(fed: &Fed, status: Option<(u64, &str)>, x5c: Option<Vec<String>>) -> (u16, Value) {
    let s = fed.session(json!({"preset": "age_over_18", "flow": "cross_device"})).await;
    let wallet = Wallet::new();
    let f = wallet.fetch(fed, s["wallet_url"].as_str().unwrap()).await;
    let sd = fed.issuer.pid_signed(&wallet.holder, status, x5c);
    let p = wallet.present(&sd, &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let (st, _) = post_response(fed, &f.request.response_uri, wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone())).await;
    let (_, v) = fed.result(s["session_id"].as_str().unwrap(), None).await;
    (st, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_decide_and_are_fetched_once() {
    let fed = Fed::new().await;
    let (base, served) = serve_list(&fed).await;
    let uri = format!("{base}/list");

    let (st, v) = present(&fed, 0, &uri).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["credentials"]["pid"][0]["status"], json!({"outcome": "valid", "checked": true, "value": "VALID"}));
    assert_eq!(served.accepts.lock().unwrap()[0], "application/statuslist+jwt");

    let (st, v) = present(&fed, 1, &uri).await;
    assert_eq!((st, v["status"].as_str()), (400, Some("refused")), "{v}");
    assert!(v["reason"].as_str().unwrap().contains("revoked"), "{v}");
    assert_eq!(v["reason_code"], "revoked");
    let (_, v) = present(&fed, 2, &uri).await;
    assert_eq!(v["status"], "refused");
    assert!(v["reason"].as_str().unwrap().contains("suspended"), "{v}");
    assert_eq!(v["reason_code"], "suspended");
    assert_eq!(served.fetches.load(Ordering::SeqCst), 1, "cached by its ttl");

    // The same list as application/jwt: not a status list.
    let (st, v) = present(&fed, 0, &format!("{base}/wrong-type")).await;
    assert_eq!(v["status"], "refused", "{st} {v}");
    assert!(v["reason"].as_str().unwrap().contains("status"), "{v}");
    assert_eq!(v["reason_code"], "status_unavailable", "cannot determine, not refused for cause");
}

/// The issuer's operator revokes the signing certificates of its credential key.
async fn revoke_signing_certificates(fed: &Fed) {
    let r = fed
        .http
        .post(format!("{}/admin/signing-certificates/revoke", fed.issuer.id))
        .bearer_auth(common::TOKEN)
        .json(&json!({"kid": fed.issuer.key.kid().unwrap()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// IT-Wallet 1.4 §1.2: a certificate valid more than 24 h needs a CRL. A PID signed under the
/// issuer's long-lived signing certificate (issued by its federation CA, CRL at the issuer's
/// `/crl`; the CA certificate's at the anchor's) is verified while the certificate is on no
/// CRL; once the operator revokes it, refused with `issuer_certificate_revoked` (the verifier
/// fetches both CRLs over HTTP and checks their signatures); with `check_crl = false` the
/// CRL is not consulted (an unreachable CRL: wallet-core's `x509::crl` tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_under_a_revoked_signing_certificate_is_refused() {
    // Fetched again for every presentation, so the revocation shows at once.
    let fed = Fed::with(|c| c.crl_refresh = 0).await;
    let now = UnixTime::now().secs();
    let cert = trust_anchor::pki::signing_certificate(&fed.issuer.state, &fed.issuer.key.public_jwk(), now, now + 365 * 86_400).await.unwrap();
    let (st, v) = present_pid(&fed, None, Some(cert.x5c.clone())).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("verified")), "{v}");

    revoke_signing_certificates(&fed).await;
    let (st, v) = present_pid(&fed, None, Some(cert.x5c.clone())).await;
    assert_eq!((st, v["status"].as_str(), v["reason_code"].as_str()), (403, Some("refused"), Some("issuer_certificate_revoked")), "{v}");
    assert!(v["reason"].as_str().unwrap().contains(&format!("serial {}", cert.serial)), "{v}");

    // The same credential where the operator turned the CRL check off.
    let lax = Fed::with(|c| c.check_crl = false).await;
    let cert = trust_anchor::pki::signing_certificate(&lax.issuer.state, &lax.issuer.key.public_jwk(), now, now + 365 * 86_400).await.unwrap();
    revoke_signing_certificates(&lax).await;
    let (st, v) = present_pid(&lax, None, Some(cert.x5c.clone())).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("verified")), "{v}");
}
