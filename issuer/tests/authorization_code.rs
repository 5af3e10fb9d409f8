//! The authorization-code flow over loopback HTTP (IT-Wallet 1.4 §3.3): PAR → `/authorize` →
//! the citizen authenticated (SPID/CIE at the spid-cie-oidc test OpenID Provider, or the PID
//! presented over OpenID4VP) → the code on the wallet's `redirect_uri` → `/token` (PKCE,
//! DPoP, wallet attestation) → `/credential` by `credential_identifier`; and the refusals,
//! each with the spec's error code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{AuthzWallet, Fed, Setup, L2, L3, LUIGIA, MARIO, MDL, PID, REDIRECT, STRANGER};
use serde_json::Value;
use wallet_core::jose::{Signer as _, SoftwareSigner};
use wallet_core::oid4vci::{CodeVerifier, OfferRef, OfferUrl, PendingAuthorization, TokenRequest, dpop_proof};
use wallet_core::oid4vp::request_object::VerifiedRequest;
use wallet_core::sd_jwt::{StaticKeyResolver, Verifier};
use wallet_core::time::UnixTime;

/// The query parameter `name` of a redirect URL.
fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The credential verified with the issuer's key: its claims; bound to `holder`.
async fn verified_claims(fed: &Fed, credential: &str, holder: &SoftwareSigner) -> serde_json::Map<String, Value> {
    let resolver = StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());
    let vc = wallet_core::vc::verify(&Verifier::new(&resolver), credential, UnixTime::now()).unwrap();
    let claims = vc.sd_jwt.claims.clone();
    let cnf: wallet_core::jose::Jwk = serde_json::from_value(claims["cnf"]["jwk"].clone()).unwrap();
    assert_eq!(cnf.thumbprint(), holder.public_jwk().thumbprint(), "bound to the proof key");
    claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pid_provider_by_spid_cie_end_to_end() {
    // A 30 s access token: the refresh token's `nbf` (its `exp`) is within the skew.
    let fed = Fed::build(Setup::SpidCie, |c| c.access_token_ttl = 30).await;
    let (s, ec) = Fed::json(fed.http.get(fed.url("/.well-known/oauth-authorization-server"))).await;
    assert_eq!(s, 200);
    assert!(ec["grant_types_supported"].as_array().unwrap().iter().any(|g| g == "authorization_code"), "{ec}");
    // The members IT-Wallet 1.4 lists for `oauth_authorization_server` (§3.1,
    // credential-issuer-metadata.rst).
    assert_eq!(ec["client_registration_types_supported"], serde_json::json!(["automatic"]), "{ec}");
    assert_eq!(ec["require_signed_request_object"], true);
    assert_eq!(ec["scopes_supported"], serde_json::json!(["PersonIdentificationData"]), "{ec}");
    let acr = ec["acr_values_supported"].as_array().unwrap();
    assert!(!acr.is_empty() && acr.iter().all(|a| a.as_str().unwrap().ends_with("/loa/high")), "CIE level 3 only: {ec}");
    for alg in ["client_attestation_signing_alg_values_supported", "client_attestation_pop_signing_alg_values_supported", "dpop_signing_alg_values_supported"] {
        assert_eq!(ec[alg], serde_json::json!(["ES256"]), "{alg}: {ec}");
    }
    assert_eq!(ec["jwks"]["keys"].as_array().map(Vec::len), Some(1), "the access-token key: {ec}");
    assert!(ec["grant_types_supported"].as_array().unwrap().iter().any(|g| g == "urn:ietf:params:oauth:grant-type:pre-authorized_code"), "1.4: {ec}");
    // The PID provider establishes identities with CIE (IT-Wallet 1.4 §3.1).
    let (_, ci) = Fed::json(fed.http.get(fed.url("/.well-known/openid-credential-issuer"))).await;
    assert_eq!(ci["trust_frameworks_supported"], serde_json::json!(["it_cie"]), "{ci}");
    let w = AuthzWallet::new(&fed);
    let (url, pending) = w.par(&fed, &[PID]).await;
    let back = fed.browse(&url, MARIO, L3).await;
    let code = AuthzWallet::code(&fed, &back, &pending);
    let tokens = w.token(&fed, &code, &pending).await;
    assert!(tokens.refresh_token.is_some());
    assert_eq!(tokens.credential_identifiers(PID).count(), 1, "{tokens:?}");
    let credential = w.credential(&fed, &tokens, PID).await;
    let claims = verified_claims(&fed, &credential, &w.holder).await;
    assert_eq!(claims["tax_id_code"], format!("TINIT-{MARIO}"), "{claims:?}");
    assert_eq!(claims["given_name"], "Mario");
    // The PID's REQUIRED metadata (IT-Wallet 1.4 §4.3): `sub`, `iat`, `cnf`, `status`,
    // `verification` (CIE, level 3: high), `date_of_expiry` (the day `exp` falls on).
    assert_eq!(claims["verification"], serde_json::json!({"trust_framework": "it_cie", "assurance_level": "high"}), "{claims:?}");
    assert!(claims["sub"].as_str().is_some_and(|s| s.len() >= 22 && !s.contains(MARIO)), "an opaque sub: {claims:?}");
    assert!(claims["iat"].is_i64() && claims["status"]["status_list"]["idx"].is_u64(), "{claims:?}");
    let (y, m, d) = UnixTime(claims["exp"].as_i64().unwrap()).utc_date();
    assert_eq!(claims["date_of_expiry"], format!("{y:04}-{m:02}-{d:02}"), "{claims:?}");

    // The code is single use.
    let (s, v) = w.token_with(&fed, &code, &pending.code_verifier, Some(REDIRECT), None, true).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")), "a code used twice: {v}");

    // A refreshed access token never serves a first issuance.
    let form = TokenRequest::RefreshToken { refresh_token: tokens.refresh_token.clone().unwrap(), scope: None }.to_form();
    let d = dpop_proof(&w.dpop, "POST", &fed.url("/token"), None, None, UnixTime::now()).unwrap();
    let r = w.attest(&fed, fed.http.post(fed.url("/token")).header("content-type", "application/x-www-form-urlencoded").header("DPoP", d).body(form));
    let (s, v) = Fed::json(r).await;
    assert_eq!(s, 200, "{v}");
    let refreshed = wallet_core::oid4vci::TokenResponse { access_token: v["access_token"].as_str().unwrap().to_owned(), ..tokens.clone() };
    let id = tokens.credential_identifiers(PID).next().unwrap().to_owned();
    let (s, v) = Fed::json(fed.http.post(fed.url("/nonce"))).await;
    assert_eq!(s, 200);
    let nonce = v["c_nonce"].as_str().unwrap().to_owned();
    let wua = fed.wua(&[&w.holder]);
    let proof = wallet_core::oid4vci::key_proof(&w.holder, Some(&wua), Some(&w.client_id()), fed.issuer_id.as_str(), Some(&nonce), UnixTime::now()).unwrap();
    let body = serde_json::to_value(wallet_core::oid4vci::CredentialRequest::by_identifier(id, vec![proof])).unwrap();
    let at = &refreshed.access_token;
    let d = dpop_proof(&w.dpop, "POST", &fed.url("/credential"), Some(at), None, UnixTime::now()).unwrap();
    let (s, v) = Fed::json(fed.http.post(fed.url("/credential")).header("authorization", format!("DPoP {at}")).header("DPoP", d).json(&body)).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("credential_request_denied")), "a refreshed token for a first issuance: {v}");
}

/// With several SPID/CIE providers configured, `/authorize` leads to the issuer's choice
/// page (each provider by its federation name; one that cannot be resolved now marked); the
/// citizen's choice starts the login there once; a provider not configured is refused; one
/// that cannot be reached sends the wallet back with `temporarily_unavailable`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_identity_providers_are_offered_on_a_choice_page() {
    const ELSEWHERE: &str = "https://127.0.0.1:9/unreachable-op";
    let fed = Fed::build(Setup::SpidCie, |c| {
        if let issuer::config::Authentication::SpidCie(a) = &mut c.authentication {
            a.providers.push(wallet_core::federation::EntityId::new(ELSEWHERE).unwrap());
        }
    })
    .await;
    let w = AuthzWallet::new(&fed);
    let (url, pending) = w.par(&fed, &[PID]).await;
    let r = fed.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let to_choice = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to_choice.starts_with(&fed.url("/authorize/provider?login=")), "{to_choice}");
    let r = fed.http.get(&to_choice).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(page.contains("Entra con SPID o CIE") && page.contains("Tessera test OpenID Provider"), "{page}");
    assert!(page.contains("unavailable now") && page.contains(ELSEWHERE), "{page}");
    let links: Vec<String> =
        page.split("class=\"op\" href=\"").skip(1).map(|l| l.split('"').next().unwrap().replace("&amp;", "&")).map(|l| fed.url(&l)).collect();
    assert_eq!(links.len(), 2, "{page}");
    let op = fed.op.as_ref().unwrap();
    let to_op = links.iter().find(|l| param(l, "provider").as_deref() == Some(op.as_str())).unwrap();

    let back = fed.browse(to_op, MARIO, L3).await;
    let code = AuthzWallet::code(&fed, &back, &pending);
    assert!(!code.is_empty());
    // The choice is made once per login.
    let (s, v) = Fed::json(fed.http.get(to_op)).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("already sent"), "{v}");

    // A provider that is not one of ours.
    let (url, _) = w.par(&fed, &[PID]).await;
    let to_choice = fed.http.get(&url).send().await.unwrap().headers()["location"].to_str().unwrap().to_owned();
    let login = param(&to_choice, "login").unwrap();
    let rogue = fed.url(&format!("/authorize/provider?login={login}&provider=https%3A%2F%2Fevil.example.it"));
    let (s, v) = Fed::json(fed.http.get(&rogue)).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("not an identity provider of this issuer"), "{v}");
    // The unreachable one: the wallet gets the error on its redirect_uri.
    let unreachable = fed.url(&format!("/authorize/provider?login={login}&provider={}", url::form_urlencoded::byte_serialize(ELSEWHERE.as_bytes()).collect::<String>()));
    let r = fed.http.get(&unreachable).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(REDIRECT) && param(&back, "error").as_deref() == Some("temporarily_unavailable"), "{back}");
}

/// PAR, the browser's login at CIE L3 as `who`, the code checked: the code.
async fn login(fed: &Fed, w: &AuthzWallet, who: &str) -> (String, PendingAuthorization) {
    let (url, pending) = w.par(fed, &[PID]).await;
    let back = fed.browse(&url, who, L3).await;
    (AuthzWallet::code(fed, &back, &pending), pending)
}

/// PAR for the mDL, `/authorize`'s 302 to the OpenID4VP request, the request object fetched
/// and verified.
async fn vp_request(fed: &Fed, w: &AuthzWallet) -> (VerifiedRequest, PendingAuthorization) {
    let (url, pending) = w.par(fed, &[MDL]).await;
    let r = fed.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let vp_url = r.headers()["location"].to_str().unwrap().to_owned();
    (AuthzWallet::vp_request(fed, &vp_url).await.unwrap(), pending)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spid_cie_refusals() {
    let fed = Fed::spid_cie().await;
    let w = AuthzWallet::new(&fed);

    // A reused request_uri: 400 JSON, no redirect.
    let (url, _) = w.par(&fed, &[PID]).await;
    let _ = fed.browse(&url, MARIO, L3).await;
    let (s, v) = Fed::json(fed.http.get(&url)).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "a reused request_uri: {v}");

    // A login below CIE L3: the OP refuses it, the wallet gets access_denied with state and iss.
    let (url, pending) = w.par(&fed, &[PID]).await;
    let back = fed.browse(&url, MARIO, L2).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some(pending.state.as_str()));
    assert_eq!(param(&back, "iss").as_deref(), Some(fed.issuer_id.as_str()));

    // A citizen the registry does not know.
    let (url, _) = w.par(&fed, &[PID]).await;
    let back = fed.browse(&url, STRANGER, L3).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"), "{back}");

    // Each of these burns a code of its own.
    let (code, pending) = login(&fed, &w, MARIO).await;
    let other = AuthzWallet::new(&fed);
    let (s, v) = other.token_with(&fed, &code, &pending.code_verifier, Some(REDIRECT), None, true).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")), "a code for another client: {v}");

    let (code, _) = login(&fed, &w, MARIO).await;
    let wrong = CodeVerifier::generate().unwrap();
    let (s, v) = w.token_with(&fed, &code, &wrong, Some(REDIRECT), None, true).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")), "a wrong PKCE verifier: {v}");

    let (code, pending) = login(&fed, &w, LUIGIA).await;
    let (s, v) = w.token_with(&fed, &code, &pending.code_verifier, Some("https://wallet.example.it/elsewhere"), None, true).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")), "a mismatched redirect_uri: {v}");

    let (code, pending) = login(&fed, &w, MARIO).await;
    let wrong_url = dpop_proof(&w.dpop, "POST", &fed.url("/credential"), None, None, UnixTime::now()).unwrap();
    let (s, v) = w.token_with(&fed, &code, &pending.code_verifier, Some(REDIRECT), Some(wrong_url), true).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_dpop_proof")), "a DPoP for another URL: {v}");
    let wrong_method = dpop_proof(&w.dpop, "GET", &fed.url("/token"), None, None, UnixTime::now()).unwrap();
    let (s, v) = w.token_with(&fed, &code, &pending.code_verifier, Some(REDIRECT), Some(wrong_method), true).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_dpop_proof")), "a DPoP for another method: {v}");
    let (s, v) = w.token_with(&fed, &code, &pending.code_verifier, Some(REDIRECT), None, false).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "no wallet attestation: {v}");
    // The DPoP and attestation refusals came before the code was looked at: it still works.
    let tokens = w.token(&fed, &code, &pending).await;
    assert_eq!(tokens.token_type, "DPoP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn motorizzazione_by_the_pid_over_openid4vp_end_to_end() {
    let fed = Fed::pid_over_vp().await;
    let w = AuthzWallet::new(&fed);
    let pid = fed.issue_pid(&w.holder, MARIO, false).await;

    let (url, pending) = w.par(&fed, &[MDL]).await;
    let r = fed.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let vp_url = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(vp_url.starts_with("haip-vp://"), "{vp_url}");
    let req = AuthzWallet::vp_request(&fed, &vp_url).await.unwrap();
    assert_eq!(req.client_id.as_str(), format!("openid_federation:{}", fed.issuer_id));
    // The request object is handed out once.
    let (s, _) = AuthzWallet::vp_request(&fed, &vp_url).await.unwrap_err();
    assert_eq!(s, 400, "a request object fetched twice");

    let (s, v) = w.present(&fed, &req, &pid, None).await;
    assert_eq!(s, 200, "{v}");
    let back = v["redirect_uri"].as_str().unwrap().to_owned();
    let code = AuthzWallet::code(&fed, &back, &pending);
    let tokens = w.token(&fed, &code, &pending).await;
    let credential = w.credential(&fed, &tokens, MDL).await;
    let claims = verified_claims(&fed, &credential, &w.holder).await;
    assert_eq!(claims["given_name"], "Mario", "{claims:?}");
    assert!(claims.contains_key("driving_privileges"));
    // Identified by a PID presented from the IT-Wallet (IT-Wallet 1.4 §4.1 `verification`).
    assert_eq!(claims["verification"], serde_json::json!({"trust_framework": "it_wallet", "assurance_level": "high"}), "{claims:?}");
    assert!(!claims.contains_key("date_of_expiry"), "the mDL carries its own expiry_date: {claims:?}");

    // The response_uri takes one answer per request.
    let (s, v) = w.present(&fed, &req, &pid, None).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "a second response: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pid_over_openid4vp_refusals() {
    let fed = Fed::pid_over_vp().await;
    let w = AuthzWallet::new(&fed);
    let pid = fed.issue_pid(&w.holder, MARIO, false).await;
    let (req, _) = vp_request(&fed, &w).await;
    let (s, v) = w.present(&fed, &req, &pid, Some("another-nonce-of-at-least-thirty-two-characters")).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("invalid_request")), "a wrong nonce: {v}");

    let rogue = fed.issue_pid(&w.holder, MARIO, true).await;
    let (req, _) = vp_request(&fed, &w).await;
    let (s, v) = w.present(&fed, &req, &rogue, None).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("invalid_request")), "a PID from an issuer outside the federation: {v}");

    // A citizen the Motorizzazione's registry does not know: access_denied on the redirect.
    let giuseppe = issuer::samples::CITIZENS[2];
    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    conn.execute("DELETE FROM licences WHERE tax_id_code = ?1", [giuseppe]).unwrap();
    let his = fed.issue_pid(&w.holder, giuseppe, false).await;
    let (req, pending) = vp_request(&fed, &w).await;
    let (s, v) = w.present(&fed, &req, &his, None).await;
    assert_eq!(s, 200, "{v}");
    let back = v["redirect_uri"].as_str().unwrap();
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(back, "error").as_deref(), Some("access_denied"), "{back}");
    assert_eq!(param(back, "state").as_deref(), Some(pending.state.as_str()));
    assert_eq!(param(back, "iss").as_deref(), Some(fed.issuer_id.as_str()));
}

/// An issuer-initiated offer with the `authorization_code` grant (OpenID4VCI §4.1.1): its
/// `issuer_state` and `scope` in the PAR; single use; made for a citizen, redeemed only by
/// that citizen's login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_initiated_authorization_code_offer() {
    let fed = Fed::spid_cie().await;
    let w = AuthzWallet::new(&fed);
    let offer = |citizen: Option<&'static str>| {
        let fed = &fed;
        async move {
            let (s, v) = Fed::json(fed.http.post(fed.url("/admin/offers")).bearer_auth(common::TOKEN).json(&serde_json::json!({"citizen": citizen, "grant": "authorization_code"}))).await;
            assert_eq!(s, 201, "{v}");
            assert!(v["tx_code"].is_null());
            let OfferRef::Value(offer) = OfferUrl::parse(v["offer_url"].as_str().unwrap()).unwrap().offer else { panic!("by value") };
            let grant = offer.grants.authorization_code.clone().unwrap();
            assert!(offer.grants.pre_authorized_code.is_none());
            (grant.issuer_state.unwrap(), grant.scope.unwrap())
        }
    };

    let (state, scope) = offer(Some(MARIO)).await;
    assert_eq!(scope, "PersonIdentificationData");
    let (url, pending) = w.par_with(&fed, &[], Some(&scope), Some(&state)).await.unwrap();
    let (s, v) = w.par_with(&fed, &[], Some(&scope), Some(&state)).await.unwrap_err();
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "an issuer_state used twice: {v}");
    let back = fed.browse(&url, MARIO, L3).await;
    let code = AuthzWallet::code(&fed, &back, &pending);
    let tokens = w.token(&fed, &code, &pending).await;
    let credential = w.credential(&fed, &tokens, PID).await;
    assert_eq!(verified_claims(&fed, &credential, &w.holder).await["given_name"], "Mario");

    let (state, scope) = offer(Some(MARIO)).await;
    let (url, _) = w.par_with(&fed, &[], Some(&scope), Some(&state)).await.unwrap();
    let back = fed.browse(&url, LUIGIA, L3).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"), "another citizen's offer: {back}");

    let (s, v) = w.par_with(&fed, &[PID], None, Some("never-issued")).await.unwrap_err();
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "an unknown issuer_state: {v}");

    // An offer naming nobody: whoever logs in (and is in the registry) gets their PID.
    let (state, scope) = offer(None).await;
    let (url, pending) = w.par_with(&fed, &[], Some(&scope), Some(&state)).await.unwrap();
    let back = fed.browse(&url, LUIGIA, L3).await;
    let code = AuthzWallet::code(&fed, &back, &pending);
    let tokens = w.token(&fed, &code, &pending).await;
    let credential = w.credential(&fed, &tokens, PID).await;
    assert_eq!(verified_claims(&fed, &credential, &w.holder).await["given_name"], "Luigia");
}

/// Nothing of a login lives in one replica's memory: a login started at one replica is
/// finished at another (the SPID/CIE callback and the code redeemed there; the OpenID4VP
/// response).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_started_at_one_replica_finishes_at_another() {
    let fed = Fed::spid_cie().await;
    let other = fed.replica().await;
    let w = AuthzWallet::new(&fed);
    let (url, pending) = w.par(&fed, &[PID]).await;
    let r = fed.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let to_op = r.headers()["location"].to_str().unwrap().to_owned();
    // The OP's page, then its redirect to our callback, which the balancer sends to the other replica.
    let op = fed.op.clone().unwrap();
    let page = fed.http.get(&to_op).send().await.unwrap().text().await.unwrap();
    let session = page.split("name=\"session\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let fiscal = format!("TINIT-{MARIO}");
    let r = fed.http.post(format!("{op}/login")).form(&[("session", session.as_str()), ("fiscal_number", fiscal.as_str()), ("acr", L3)]).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let callback = fed.via(r.headers()["location"].to_str().unwrap(), &other);
    let r = fed.http.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    let code = AuthzWallet::code(&fed, &back, &pending);
    let form = TokenRequest::AuthorizationCode { code, code_verifier: pending.code_verifier.clone(), redirect_uri: Some(REDIRECT.into()) }.to_form();
    let d = dpop_proof(&w.dpop, "POST", &fed.url("/token"), None, None, UnixTime::now()).unwrap();
    let r = w.attest(&fed, fed.http.post(format!("{other}/token")).header("content-type", "application/x-www-form-urlencoded").header("DPoP", d).body(form));
    let (s, v) = Fed::json(r).await;
    assert_eq!(s, 200, "{v}");

    let fed = Fed::pid_over_vp().await;
    let other = fed.replica().await;
    let w = AuthzWallet::new(&fed);
    let pid = fed.issue_pid(&w.holder, MARIO, false).await;
    let (url, pending) = w.par(&fed, &[MDL]).await;
    let r = fed.http.get(&url).send().await.unwrap();
    let vp_url = r.headers()["location"].to_str().unwrap().to_owned();
    let mut req = AuthzWallet::vp_request(&fed, &vp_url).await.unwrap();
    req.response_uri = fed.via(&req.response_uri, &other);
    let (s, v) = w.present(&fed, &req, &pid, None).await;
    assert_eq!(s, 200, "{v}");
    let code = AuthzWallet::code(&fed, v["redirect_uri"].as_str().unwrap(), &pending);
    assert!(!code.is_empty());
}

/// An authorization code lives `code_ttl` seconds (§3.3: at most 60).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_code_is_invalid_grant() {
    let fed = Fed::build(Setup::SpidCie, |c| c.code_ttl = 1).await;
    let w = AuthzWallet::new(&fed);
    let (code, pending) = login(&fed, &w, MARIO).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let (s, v) = w.token_with(&fed, &code, &pending.code_verifier, Some(REDIRECT), None, true).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")), "an expired code: {v}");
}

/// IT-Wallet 1.4 §1.2 at the Motorizzazione (a relying party for the PID): the PID's `x5c`
/// is verified to the federation root (`x509_roots`) and the CRLs its certificates name are
/// checked. Once the PID issuer's operator revokes its signing certificate, the PID is
/// refused with the reason; a deployment with `check_crl = false` still accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pid_whose_issuer_certificate_was_revoked_is_refused() {
    for check_crl in [true, false] {
        let fed = Fed::build(common::Setup::PidOverVp, |c| {
            c.check_crl = check_crl;
            // Fetched again at every presentation: the revocation shows at once.
            c.crl_refresh = 0;
        })
        .await;
        let w = AuthzWallet::new(&fed);
        let pid = fed.issue_pid(&w.holder, MARIO, false).await;
        let header = wallet_core::jose::CompactJws::parse(pid.split('~').next().unwrap()).unwrap().header().clone();
        assert!(header.x5c.is_some(), "the PID carries its issuer's x5c");
        let (req, _) = vp_request(&fed, &w).await;
        let (s, v) = w.present(&fed, &req, &pid, None).await;
        assert_eq!(s, 200, "before the revocation: {v}");

        let pid_issuer = &fed.pid_issuer.as_ref().unwrap().id;
        let (s, v) = Fed::json(
            fed.http.post(format!("{pid_issuer}/admin/signing-certificates/revoke")).bearer_auth(common::TOKEN).json(&serde_json::json!({"kid": header.kid.unwrap()})),
        )
        .await;
        assert_eq!((s, v["revoked"].as_u64()), (200, Some(1)), "{v}");
        let (req, _) = vp_request(&fed, &w).await;
        let (s, v) = w.present(&fed, &req, &pid, None).await;
        if check_crl {
            assert_eq!((s, v["error"].as_str()), (403, Some("invalid_request")), "{v}");
            let why = v["error_description"].as_str().unwrap();
            assert!(why.contains("revoked"), "{why}");
        } else {
            assert_eq!(s, 200, "check_crl = false: {v}");
        }
    }
}

/// IT-Wallet 1.4 §1.3, §8 for the PID the registry asks for: with `[authentication]
/// trust_marks`, a PID whose provider holds none of those marks is refused as from an
/// untrusted issuer; one whose provider holds the mark is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pid_whose_provider_holds_no_required_trust_mark_is_refused() {
    for marked in [false, true] {
        let fed = Fed::build(common::Setup::PidOverVp, |c| {
            if let issuer::config::Authentication::Pid(p) = &mut c.authentication {
                p.trust_marks = vec![common::issuer_mark(&c.trust_anchors[0].id)];
            }
        })
        .await;
        let pid_issuer = fed.pid_issuer.as_ref().unwrap().id.clone();
        if marked {
            common::mark(&fed.http, &fed.anchor.id, &pid_issuer, common::ISSUER_MARK).await;
        }
        let w = AuthzWallet::new(&fed);
        let pid = fed.issue_pid(&w.holder, MARIO, false).await;
        let (req, _) = vp_request(&fed, &w).await;
        let (s, v) = w.present(&fed, &req, &pid, None).await;
        if marked {
            assert_eq!(s, 200, "the PID provider holds the mark: {v}");
        } else {
            assert_eq!((s, v["error"].as_str()), (403, Some("invalid_request")), "{v}");
            let why = v["error_description"].as_str().unwrap();
            assert!(why.contains("untrusted issuer") && why.contains("holds no valid trust mark of the types required"), "{why}");
        }
    }
}
