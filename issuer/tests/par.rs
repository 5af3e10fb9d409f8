//! PAR with the wallet attestation over loopback HTTP, and `/authorize` up to where the
//! citizen's authentication will plug in: each refusal with the spec's error code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{Fed, MDL};
use serde_json::{Value, json};
use wallet_core::jose::{Signer as _, SoftwareSigner};
use wallet_core::oid4vci::{AuthorizeRequest, ClientAttestationHeaders, ParRequest, ParRequestBuilder, ParResponse, client_attestation_headers};
use wallet_core::time::{FixedClock, UnixTime};

const REDIRECT: &str = "https://wallet.example.it/cb";

struct Client {
    key: SoftwareSigner,
    waa: String,
}

impl Client {
    fn new(fed: &Fed) -> Self {
        let key = SoftwareSigner::generate().unwrap();
        let waa = fed.waa(&key, UnixTime::now(), 3_600);
        Self { key, waa }
    }

    fn par_body(&self, fed: &Fed, signer: &SoftwareSigner) -> ParRequest {
        let b = ParRequestBuilder { audience: fed.issuer_id.as_str(), redirect_uri: REDIRECT, scope: None, configuration_ids: &[MDL], issuer_state: None };
        let (mut req, _) = b.build(signer, UnixTime::now()).unwrap();
        req.client_id = self.key.public_jwk().thumbprint().to_string();
        req
    }

    async fn par(&self, fed: &Fed, req: &ParRequest, waa: Option<&str>, audience: &str) -> (u16, Value) {
        let h = waa.map(|waa| client_attestation_headers(waa, &self.key, audience, None, UnixTime::now()).unwrap());
        Self::par_as(fed, req, h.as_ref()).await
    }

    /// PAR with the attestation headers `h` as they are (the same PoP, sent again).
    async fn par_as(fed: &Fed, req: &ParRequest, h: Option<&ClientAttestationHeaders>) -> (u16, Value) {
        let r = fed.http.post(fed.url("/par")).header("content-type", "application/x-www-form-urlencoded").body(req.to_form());
        Fed::json(match h {
            Some(h) => common::with_attestation(r, h),
            None => r,
        })
        .await
    }

    /// PAR, expecting success: the `/authorize` URL.
    async fn authorize_url(&self, fed: &Fed) -> String {
        let req = self.par_body(fed, &self.key);
        let (s, v) = self.par(fed, &req, Some(&self.waa), fed.issuer_id.as_str()).await;
        assert_eq!(s, 201, "{v}");
        let pushed = ParResponse::parse(v.to_string().as_bytes()).unwrap();
        AuthorizeRequest { client_id: req.client_id, request_uri: pushed.request_uri }.to_url(&fed.url("/authorize"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn par_then_authorize_consumes_the_request_uri_once() {
    let fed = Fed::new().await;
    let c = Client::new(&fed);
    let req = c.par_body(&fed, &c.key);
    let (s, v) = c.par(&fed, &req, Some(&c.waa), fed.issuer_id.as_str()).await;
    assert_eq!(s, 201, "{v}");
    let pushed = ParResponse::parse(v.to_string().as_bytes()).unwrap();
    assert!(pushed.expires_in < 60, "the request_uri lives less than a minute (IT-Wallet 1.4 §3.3): {}", pushed.expires_in);

    let url = AuthorizeRequest { client_id: req.client_id.clone(), request_uri: pushed.request_uri.clone() }.to_url(&fed.url("/authorize"));
    let r = fed.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{REDIRECT}?error=temporarily_unavailable")), "{location}");
    assert!(location.contains("&state="));

    let (s, v) = Fed::json(fed.http.get(&url)).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "a reused request_uri");
    let other = AuthorizeRequest { client_id: "someone-else".into(), request_uri: pushed.request_uri }.to_url(&fed.url("/authorize"));
    let (s, v) = Fed::json(fed.http.get(&other)).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "another client's request_uri");
}

/// A WAA without `trust_chain` (IT-Wallet 1.4 §3.3: the header is OPTIONAL): the issuer
/// collects the provider's chain through the Federation API (test matrix CI_036, CI_037) and
/// accepts the PAR; one naming an entity outside the federation is `invalid_client`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waa_without_trust_chain_is_resolved_through_the_federation() {
    let fed = Fed::new().await;
    let key = SoftwareSigner::generate().unwrap();
    let c = Client { waa: fed.waa_without_chain(fed.wp_id.as_str(), &key), key };
    let req = c.par_body(&fed, &c.key);
    let (s, v) = c.par(&fed, &req, Some(&c.waa), fed.issuer_id.as_str()).await;
    assert_eq!(s, 201, "{v}");
    // Again, from the chain kept.
    let req = c.par_body(&fed, &c.key);
    let (s, v) = c.par(&fed, &req, Some(&c.waa), fed.issuer_id.as_str()).await;
    assert_eq!(s, 201, "{v}");

    let key = SoftwareSigner::generate().unwrap();
    let stranger = Client { waa: fed.waa_without_chain("https://127.0.0.1:9/not-in-the-federation", &key), key };
    let req = stranger.par_body(&fed, &stranger.key);
    let (s, v) = stranger.par(&fed, &req, Some(&stranger.waa), fed.issuer_id.as_str()).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "{v}");
}

/// IT-Wallet 1.4 §1.3 (issue 12): a PAR's wallet attestation is accepted only from a
/// provider holding the wallet-provider trust mark when the issuer requires it; refused
/// `invalid_client` before the mark, accepted with the chain that shows it, whether the WAA
/// carries the chain or the issuer collects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waa_from_a_provider_without_the_wallet_provider_trust_mark_is_refused() {
    let mut fed = Fed::with(|c| c.wallet_provider_trust_marks = vec![common::wp_mark(&c.trust_anchors[0].id)]).await;
    let issuer = fed.issuer_id.as_str().to_owned();
    let c = Client::new(&fed);
    let (s, v) = c.par(&fed, &c.par_body(&fed, &c.key), Some(&c.waa), &issuer).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("trust mark"), "{v}");

    common::mark(&fed.http, &fed.anchor.id, &fed.wp_id, common::WP_MARK).await;
    fed.refresh_wp_chain().await;
    let c = Client::new(&fed);
    let (s, v) = c.par(&fed, &c.par_body(&fed, &c.key), Some(&c.waa), &issuer).await;
    assert_eq!(s, 201, "{v}");
    // Without `trust_chain`: the chain the issuer collects shows the mark.
    let key = SoftwareSigner::generate().unwrap();
    let collected = Client { waa: fed.waa_without_chain(fed.wp_id.as_str(), &key), key };
    let (s, v) = collected.par(&fed, &collected.par_body(&fed, &collected.key), Some(&collected.waa), &issuer).await;
    assert_eq!(s, 201, "{v}");
}

/// IT-Wallet 1.4 §1.1 (trust marks: static plus dynamic validation), OID-FED §8.4: the
/// issuer asks the anchor's `federation_trust_mark_status_endpoint` about the provider's mark;
/// once the anchor revokes it, the provider's attestations are refused `invalid_client`
/// though its Entity Configuration still carries the mark, signed and unexpired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waa_from_a_provider_whose_trust_mark_was_revoked_is_refused() {
    let mut fed = Fed::with(|c| {
        c.wallet_provider_trust_marks = vec![common::wp_mark(&c.trust_anchors[0].id)];
        // Asked before every request: the revocation shows at once.
        c.trust_mark_status_refresh = 0;
    })
    .await;
    let issuer = fed.issuer_id.as_str().to_owned();
    common::mark(&fed.http, &fed.anchor.id, &fed.wp_id, common::WP_MARK).await;
    fed.refresh_wp_chain().await;
    let c = Client::new(&fed);
    let (s, v) = c.par(&fed, &c.par_body(&fed, &c.key), Some(&c.waa), &issuer).await;
    assert_eq!(s, 201, "{v}");

    let r = fed
        .http
        .post(format!("{}/admin/trust-marks/revoke", fed.anchor.id))
        .bearer_auth(common::TOKEN)
        .json(&json!({"sub": fed.wp_id, "trust_mark_type": common::WP_MARK}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c = Client::new(&fed);
    let (s, v) = c.par(&fed, &c.par_body(&fed, &c.key), Some(&c.waa), &issuer).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "{v}");
    let why = v["error_description"].as_str().unwrap();
    assert!(why.contains("reports it revoked"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn par_refusals() {
    let fed = Fed::new().await;
    let c = Client::new(&fed);
    let req = c.par_body(&fed, &c.key);
    let issuer = fed.issuer_id.as_str();

    let (s, v) = c.par(&fed, &req, None, issuer).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "no attestation: {v}");

    let expired = fed.waa(&c.key, UnixTime::now().plus(-7_200), 3_600);
    let (s, v) = c.par(&fed, &req, Some(&expired), issuer).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("use_fresh_attestation")), "expired WAA: {v}");

    let (s, v) = c.par(&fed, &req, Some(&c.waa), "https://another-issuer.example.it").await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "PoP for another audience: {v}");

    let stranger = SoftwareSigner::generate().unwrap();
    let (s, v) = c.par(&fed, &c.par_body(&fed, &stranger), Some(&c.waa), issuer).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "request object not signed by the attested key: {v}");

    // A WAA carrying its wallet instance's status (versions note §5, issuer item 2): valid,
    // accepted; an instance its provider revoked (index 9 of its list), refused.
    let (s, v) = c.par(&fed, &c.par_body(&fed, &c.key), Some(&fed.waa_at(&c.key, 5)), issuer).await;
    assert_eq!(s, 201, "a WAA whose instance is valid: {v}");
    let (s, v) = c.par(&fed, &c.par_body(&fed, &c.key), Some(&fed.waa_at(&c.key, 9)), issuer).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "a revoked wallet instance's WAA: {v}");
    assert!(v["error_description"].as_str().unwrap().contains("wallet attestation is INVALID"), "{v}");
    // A forged WAA's status URL is never fetched: it is refused for its signature, before
    // anyone asks a status list (here a closed port, which would read "cannot be fetched").
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://127.0.0.1:{}/status-list", closed.local_addr().unwrap().port());
    drop(closed);
    let forged = fed.waa_with_status(&c.key, 5, &nowhere, &SoftwareSigner::generate().unwrap());
    let (s, v) = c.par(&fed, &c.par_body(&fed, &c.key), Some(&forged), issuer).await;
    assert_eq!(s, 401, "{v}");
    assert!(!v["error_description"].as_str().unwrap().contains("status"), "the forged WAA's status was not asked: {v}");

    let (s, v) = c.par(&fed, &req, Some(&c.waa), issuer).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = c.par(&fed, &req, Some(&c.waa), issuer).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "replayed request object: {v}");

    // A new request object with an attestation PoP already used: the PoP `jti` is single use.
    let h = client_attestation_headers(&c.waa, &c.key, issuer, None, UnixTime::now()).unwrap();
    let (s, v) = Client::par_as(&fed, &c.par_body(&fed, &c.key), Some(&h)).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = Client::par_as(&fed, &c.par_body(&fed, &c.key), Some(&h)).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "replayed attestation PoP: {v}");

    // A PoP signed by the WAA's key whose `iss` is not the client_id (the thumbprint of the
    // WAA's `cnf.jwk`), here another key's thumbprint (IT-Wallet 1.4 §3.3; wallet-core
    // `ClientIdMismatch`): `invalid_client`. The same PoP with the right `iss` passes.
    let other = stranger.public_jwk().thumbprint().to_string();
    let h = ClientAttestationHeaders { attestation: c.waa.clone(), pop: pop_with_iss(&c.key, &other, issuer, "0c3a1f4e-7b2d-4c8e-9a51-3d6f0b2e8c71") };
    let (s, v) = Client::par_as(&fed, &c.par_body(&fed, &c.key), Some(&h)).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "PoP iss other than the client_id: {v}");
    assert!(v["error_description"].as_str().unwrap().contains("PoP iss is not the attested client id"), "{v}");
    let client_id = c.key.public_jwk().thumbprint().to_string();
    let h = ClientAttestationHeaders { attestation: c.waa.clone(), pop: pop_with_iss(&c.key, &client_id, issuer, "5e8b2d9a-1c4f-4a7e-b3d6-8f0a2c5e9b14") };
    let (s, v) = Client::par_as(&fed, &c.par_body(&fed, &c.key), Some(&h)).await;
    assert_eq!(s, 201, "the same PoP built by hand with iss = client_id: {v}");
}

/// An `OAuth-Client-Attestation-PoP` (`typ: oauth-client-attestation-pop+jwt`, no `kid`)
/// signed by `key`, claiming `iss`, for `audience`, with `jti`.
fn pop_with_iss(key: &SoftwareSigner, iss: &str, audience: &str, jti: &str) -> String {
    use wallet_core::attestation::{Audience, POP_TYP, PopClaims};
    use wallet_core::jose::{JwsHeader, WithoutKid, jws};
    let now = UnixTime::now();
    let claims = PopClaims {
        iss: iss.to_owned(),
        aud: Audience::One(audience.to_owned()),
        jti: jti.to_owned(),
        iat: Some(now.secs()),
        exp: Some(now.plus(60).secs()),
        nbf: None,
        challenge: None,
        nonce: None,
    };
    jws::sign_json(&JwsHeader::new(key.alg()).with_typ(POP_TYP), &claims, &WithoutKid(key)).unwrap()
}

/// IT-Wallet 1.4 §3.3 steps 4–5: `/authorize` with a `client_id` but no `request_uri` is
/// refused 400 `invalid_request`, and not redirected (no `Location`: the issuer has no
/// `redirect_uri` it could trust).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_without_request_uri_is_invalid_request_without_redirect() {
    let fed = Fed::new().await;
    let c = Client::new(&fed);
    // A PAR first: the client has a pushed request, which a missing request_uri must not reach.
    let _ = c.authorize_url(&fed).await;
    let client_id = c.key.public_jwk().thumbprint().to_string();
    let r = fed.http.get(format!("{}?client_id={client_id}", fed.url("/authorize"))).send().await.unwrap();
    let status = r.status().as_u16();
    let location = r.headers().get("location").cloned();
    let v: Value = r.json().await.unwrap();
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_request")), "no request_uri: {v}");
    assert!(v["error_description"].as_str().unwrap().contains("request_uri"), "{v}");
    assert!(location.is_none(), "no redirect: {location:?}");
}

/// IT-Wallet 1.4 §3.3 steps 4–5: `/authorize` refuses an expired `request_uri` (400
/// `invalid_request`, no redirect): sent to a replica whose clock is past its `expires_in`
/// (whose purge may also have removed it: the store's `single_use_values` checks the
/// expiry itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_request_uri_is_refused_at_authorize() {
    let fed = Fed::new().await;
    let c = Client::new(&fed);
    let url = c.authorize_url(&fed).await;
    let later = fed.replica_with(std::sync::Arc::new(FixedClock(UnixTime::now().plus(61)))).await;
    let (s, v) = Fed::json(fed.http.get(fed.via(&url, &later))).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "an expired request_uri: {v}");
}
