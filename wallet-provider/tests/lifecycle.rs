//! The wallet instance lifecycle over loopback HTTP (IT-Wallet 1.4 §2): a wallet on
//! wallet-core's software key store registers, obtains its WAA and WUA, verifies them the way
//! an issuer does (x5c to the federation root), the citizen lists and revokes the instance,
//! and the WUA's status flips in the published Token Status List; then each refusal the spec
//! lists, with its code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{Fed, Wallet};
use serde_json::json;
use wallet_core::attestation::key_attestation::SoftwareAttester;
use wallet_core::attestation::{DEFAULT_SKEW, verify_waa, verify_wua};
use wallet_core::federation::{TrustAnchorConfig, TrustChainResolver};
use wallet_core::jose::{Signer as _, SoftwareSigner};
use wallet_core::keystore::KeyStore as _;
use wallet_core::status::{DEFAULT_MAX_DECOMPRESSED, StatusListToken, StatusValue};
use wallet_core::time::UnixTime;

const MARIO: &str = "TINIT-RSSMRA80A01H501U";
const LUIGI: &str = "TINIT-RSSLGU82B02H501X";

async fn wua_status(fed: &Fed, wua: &wallet_core::attestation::VerifiedWua) -> StatusValue {
    let reference = wua.status().clone();
    let r = fed.http.get(&reference.uri).header("accept", "application/statuslist+jwt").send().await.unwrap();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body = r.bytes().await.unwrap();
    let list =
        StatusListToken::verify_response(ct.as_deref(), &body, &reference, &fed.x5c_resolver(), UnixTime::now(), 60, DEFAULT_MAX_DECOMPRESSED)
            .unwrap();
    list.lookup(reference.idx).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_attest_verify_list_revoke_and_the_wua_status_flips() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let (status, body) = fed.register(&wallet, &token).await;
    assert_eq!(status, 204, "{body}");

    let (status, body) = fed.attest(&wallet).await;
    assert_eq!(status, 200, "{body}");
    let att = Fed::attestations(body);
    let now = UnixTime::now();
    let resolver = fed.x5c_resolver();
    let waa = verify_waa(&att.wallet_attestations.wallet_app_attestation, &resolver, now, DEFAULT_SKEW).unwrap();
    assert_eq!(waa.claims().iss, fed.provider.id.as_str());
    assert!(waa.claims().exp - waa.claims().iat.unwrap() <= 86_400);
    assert!(waa.header().trust_chain.as_ref().is_some_and(|c| c.len() >= 2));
    assert_eq!(waa.header().kid, fed.provider.state.keys().attestation().kid());
    let wua = verify_wua(&att.wallet_attestations.wallet_unit_attestation, &resolver, now, DEFAULT_SKEW).unwrap();
    assert!(wua.attests(&wallet.keys.public_key(&wallet.credential).unwrap()));
    assert!(wua.claims().exp - wua.claims().iat >= 30 * 86_400);
    assert!(!wua.claims().key_storage.is_empty() && !wua.claims().user_authentication.is_empty());
    assert_eq!(wua_status(&fed, &wua).await, StatusValue::Valid);
    // The WAA carries the same instance entry: revoking the instance revokes both.
    assert_eq!(waa.claims().status.as_ref().map(|s| &s.status_list), Some(&wua.claims().status.status_list), "{:?}", waa.claims());
    // The other path a verifier may take: the `trust_chain` header to the anchor's keys, then
    // `kid` in the resolved `wallet_solution.jwks` (no network).
    let federation = TrustChainResolver::new(TrustAnchorConfig { id: fed.anchor.id.clone(), jwks: fed.anchor.jwks.clone() }, "wallet_solution");
    verify_waa(&att.wallet_attestations.wallet_app_attestation, &federation, now, DEFAULT_SKEW).unwrap();
    verify_wua(&att.wallet_attestations.wallet_unit_attestation, &federation, now, DEFAULT_SKEW).unwrap();

    // The citizen sees the instance, by the hardware key tag.
    let (status, list) = Fed::json(fed.http.get(fed.url("/wallet-instances")).bearer_auth(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], json!(wallet.hardware.as_str()));
    assert_eq!(list[0]["status"], json!("ACTIVE"));

    // A lost phone: revoke it.
    let path = fed.url(&format!("/wallet-instances/{}", wallet.hardware.as_str()));
    let (status, body) = Fed::json(fed.http.patch(&path).bearer_auth(&token).json(&json!({"status": "REVOKED"}))).await;
    assert_eq!(status, 204, "{body}");
    let (_, one) = Fed::json(fed.http.get(&path).bearer_auth(&token)).await;
    assert_eq!(one["status"], json!("REVOKED"));
    assert_eq!(wua_status(&fed, &wua).await, StatusValue::Invalid);

    // No more attestations for it (IT-Wallet 1.4 §2.3: 403 invalid_request).
    let (status, body) = fed.attest(&wallet).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_nonce_is_refused() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let nonce = fed.nonce().await;
    let req = wallet.registration(&nonce);
    let (status, _) = Fed::json(fed.http.post(fed.url("/wallet-instances")).bearer_auth(&token).json(&req)).await;
    assert_eq!(status, 204);
    let (status, body) = Fed::json(fed.http.post(fed.url("/wallet-instances")).bearer_auth(&token).json(&req)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("nonce"));

    // The same at the attestation endpoint, and a nonce never issued.
    let nonce = fed.nonce().await;
    let (req, _) = wallet.attestation_request(fed.provider.id.as_str(), &nonce);
    let (status, _) = Fed::json(fed.http.post(fed.url("/wallet-attestation")).json(&req)).await;
    assert_eq!(status, 200);
    let (status, body) = Fed::json(fed.http.post(fed.url("/wallet-attestation")).json(&req)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")), "{body}");
    let (req, _) = wallet.attestation_request(fed.provider.id.as_str(), "never-issued-by-the-provider");
    let (status, body) = Fed::json(fed.http.post(fed.url("/wallet-attestation")).json(&req)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_attestation_with_a_wrong_challenge_is_refused() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let nonce = fed.nonce().await;
    let mut req = wallet.registration(&nonce);
    // Attested for another nonce: the challenge no longer matches this request's.
    req.key_attestation = wallet.registration("another-nonce").key_attestation;
    let (status, body) = Fed::json(fed.http.post(fed.url("/wallet-instances")).bearer_auth(&token).json(&req)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("challenge"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_attestation_from_an_untrusted_root_is_refused() {
    let fed = Fed::new().await;
    let rogue = Wallet::with_attester(SoftwareAttester::new(SoftwareSigner::generate().unwrap()));
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let (status, body) = fed.register(&rogue, &token).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")), "{body}");
    let (status, list) = Fed::json(fed.http.get(fed.url("/wallet-instances")).bearer_auth(&token)).await;
    assert_eq!((status, list), (200, json!([])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn software_attestation_is_refused_in_production() {
    let fed = Fed::with(|c| c.production = true).await;
    let wallet = Wallet::new();
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let (status, body) = fed.register(&wallet, &token).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("integrity_check_error")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("production"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_cannot_see_or_revoke_another_citizens_instance() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let mario = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let luigi = fed.provider.state.insecure_create_session(LUIGI).unwrap();
    assert_eq!(fed.register(&wallet, &mario).await.0, 204);
    let path = fed.url(&format!("/wallet-instances/{}", wallet.hardware.as_str()));

    let (status, list) = Fed::json(fed.http.get(fed.url("/wallet-instances")).bearer_auth(&luigi)).await;
    assert_eq!((status, list), (200, json!([])));
    let (status, body) = Fed::json(fed.http.get(&path).bearer_auth(&luigi)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
    let (status, body) = Fed::json(fed.http.patch(&path).bearer_auth(&luigi).json(&json!({"status": "REVOKED"}))).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")));
    let (status, body) = Fed::json(fed.http.patch(&path).json(&json!({"status": "REVOKED"}))).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized")));

    // Still active for its owner.
    let (_, one) = Fed::json(fed.http.get(&path).bearer_auth(&mario)).await;
    assert_eq!(one["status"], json!("ACTIVE"));
    let (status, body) = fed.attest(&wallet).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_needs_a_session_and_unknown_instances_get_not_found() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let nonce = fed.nonce().await;
    let (status, body) = Fed::json(fed.http.post(fed.url("/wallet-instances")).json(&wallet.registration(&nonce))).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized")));
    let (status, body) = fed.attest(&wallet).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{body}");
    let (status, body) = Fed::json(fed.http.post(fed.url("/wallet-attestation")).json(&json!({"assertion": "not-a-jwt"}))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_nonces_instances_and_the_status_list() {
    let fed = Fed::new().await;
    // A second replica: same configuration and data directory, another listener.
    let replica = wallet_provider::WalletProvider::open(fed.provider.state.config().clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { wallet_provider::serve_listener(replica, listener, std::future::pending()).await.unwrap() });

    let wallet = Wallet::new();
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    // Nonce from A, registration at B, replay at A refused.
    let nonce = fed.nonce().await;
    let req = wallet.registration(&nonce);
    let (status, body) = Fed::json(fed.http.post(format!("{b}/wallet-instances")).bearer_auth(&token).json(&req)).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = Fed::json(fed.http.post(fed.url("/wallet-instances")).bearer_auth(&token).json(&req)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")));
    // Attestations from B; revocation at A shows in B's list.
    let nonce = fed.nonce().await;
    let (req, _) = wallet.attestation_request(fed.provider.id.as_str(), &nonce);
    let (status, body) = Fed::json(fed.http.post(format!("{b}/wallet-attestation")).json(&req)).await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/wallet-instances/{}", wallet.hardware.as_str());
    let (status, _) = Fed::json(fed.http.patch(fed.url(&path)).bearer_auth(&token).json(&json!({"status": "REVOKED"}))).await;
    assert_eq!(status, 204);
    let (_, one) = Fed::json(fed.http.get(format!("{b}{path}")).bearer_auth(&token)).await;
    assert_eq!(one["status"], json!("REVOKED"));
}

/// The system clock moved by an adjustable offset.
struct ShiftedClock(std::sync::atomic::AtomicI64);

impl wallet_core::time::Clock for ShiftedClock {
    fn now(&self) -> UnixTime {
        UnixTime::now().plus(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_nonce_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let anchor = common::start_anchor(dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = wallet_provider::Config::new(wallet_core::federation::EntityId::new(url.clone()).unwrap(), anchor.id.clone(), dir.path().join("wp"));
    config.nonce_ttl = 60;
    let clock = std::sync::Arc::new(ShiftedClock(std::sync::atomic::AtomicI64::new(0)));
    let provider = wallet_provider::WalletProvider::builder(config).clock(clock.clone()).open().unwrap();
    let token = provider.insecure_create_session(MARIO).unwrap();
    tokio::spawn(async move { wallet_provider::serve_listener(provider, listener, std::future::pending()).await.unwrap() });
    let http = reqwest::Client::new();

    let (_, body) = Fed::json(http.get(format!("{url}/nonce"))).await;
    let nonce = body["nonce"].as_str().unwrap().to_owned();
    clock.0.store(61, std::sync::atomic::Ordering::SeqCst);
    let wallet = Wallet::new();
    let (status, body) = Fed::json(http.post(format!("{url}/wallet-instances")).bearer_auth(&token).json(&wallet.registration(&nonce))).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_revokes_all_of_a_citizens_instances() {
    let fed = Fed::new().await;
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let (one, two) = (Wallet::new(), Wallet::new());
    assert_eq!(fed.register(&one, &token).await.0, 204);
    assert_eq!(fed.register(&two, &token).await.0, 204);
    let url = fed.url("/admin/wallet-instances/revoke");
    // Refused naming the admin token (not the citizen's session), before the body is read:
    // a malformed body from a caller without the token is still 401.
    let (status, body) = Fed::json(fed.http.post(&url).bearer_auth("wrong").json(&json!({"fiscal_number": MARIO}))).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")));
    assert!(body["error_description"].as_str().unwrap().contains("admin token"), "{body}");
    let (status, body) = Fed::json(fed.http.post(&url).bearer_auth(&token).json(&json!({"fiscal_number": MARIO}))).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")), "a citizen session is not the admin token");
    let (status, body) = Fed::json(fed.http.post(&url).header("content-type", "application/json").body("{not json")).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")));
    assert!(body["error_description"].as_str().unwrap().contains("admin token"), "{body}");
    let (status, body) = Fed::json(fed.http.post(&url).bearer_auth(common::TOKEN).json(&json!({"fiscal_number": MARIO}))).await;
    assert_eq!((status, body), (200, json!({"revoked": 2})));
    let (_, list) = Fed::json(fed.http.get(fed.url("/wallet-instances")).bearer_auth(&token)).await;
    assert!(list.as_array().unwrap().iter().all(|i| i["status"] == json!("REVOKED")));
    let (status, body) = fed.attest(&two).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")));
}
