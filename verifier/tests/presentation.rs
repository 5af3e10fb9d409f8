//! Presentations over real HTTP on loopback: a trust anchor, a PID issuer, the verifier; the
//! wallet played with wallet-core's wallet side. The happy paths, then one broken thing per
//! test, asserting the answer and the verdict the integrator gets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{BACK, Fed, TOKEN, Wallet, post_response};
use serde_json::{Value, json};
use wallet_core::federation::ChainCollector;
use wallet_core::oid4vp::metadata::{VERIFIER_ENTITY_TYPE, VerifierMetadata};
use wallet_core::jose::Signer as _;
use wallet_core::time::UnixTime;

const AGE: [&str; 1] = ["birthdate"];

fn pid_session(flow: &str) -> Value {
    json!({"preset": "age_over_18", "flow": flow})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_configuration_is_a_leaf_with_verifier_metadata() {
    let fed = Fed::new().await;
    let fetcher = fed.verifier.http().for_request();
    let anchors = [fed.anchor.clone()];
    let chain = ChainCollector::new_async(&fetcher, &anchors).resolve_async(&fed.verifier_id, UnixTime::now()).await.unwrap();
    let md = VerifierMetadata::from_map(chain.metadata_of(VERIFIER_ENTITY_TYPE).unwrap()).unwrap();
    assert_eq!(md.request_uris, vec![fed.url("/request-uri")]);
    assert_eq!(md.response_uris, vec![fed.url("/response-uri")]);
    assert_eq!(md.redirect_uris, vec![BACK.to_owned()]);
    assert_eq!(md.erasure_endpoint.as_deref(), Some(fed.url("/erasure").as_str()));
    assert_eq!(md.client_name.as_deref(), Some("Comune di Prova"));
    assert!(md.logo_uri.as_ref().unwrap().ends_with("/logo.svg"));
    assert!(md.vp_formats_supported.as_ref().unwrap().contains_key("dc+sd-jwt"));
    let enc: Vec<_> = md.encryption_keys().collect();
    assert_eq!(enc.len(), 1);
    assert_eq!(enc[0].alg.as_deref(), Some("ECDH-ES"));
    assert_eq!(md.response_enc(), Some(wallet_core::jose::ContentEncryption::A256Gcm));
    let fe = chain.metadata_of("federation_entity").unwrap();
    for k in ["organization_name", "homepage_uri", "policy_uri", "logo_uri", "contacts"] {
        assert!(fe.contains_key(k), "federation_entity.{k}");
    }
    let (s, _) = Fed::json(fed.http.get(fed.url("/erasure?callback_url=https://w.example.it/done"))).await;
    assert_eq!(s, 204);
    let (s, v) = Fed::json(fed.http.get(fed.url("/health"))).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));
    let (s, v) = Fed::json(fed.http.get(fed.url("/openapi.json"))).await;
    assert_eq!(s, 200);
    assert!(v["paths"]["/response-uri"]["post"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_device_happy_path_and_result_once() {
    let fed = Fed::new().await;
    let s = fed.session(pid_session("cross_device")).await;
    let id = s["session_id"].as_str().unwrap();
    let wallet_url = s["wallet_url"].as_str().unwrap();
    assert!(wallet_url.starts_with("openid4vp://?client_id=openid_federation%3A"), "{wallet_url}");
    assert!(wallet_url.contains("request_uri_method=post"));
    assert_eq!(fed.state(id).await["status"], "created");

    // The QR codes.
    let r = fed.http.get(s["qr_png"].as_str().unwrap()).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["content-type"].to_str().unwrap()), (200, "image/png"));
    assert_eq!(&r.bytes().await.unwrap()[..4], b"\x89PNG");
    let r = fed.http.get(s["qr_svg"].as_str().unwrap()).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/svg+xml");

    let wallet = Wallet::new();
    let f = wallet.fetch(&fed, wallet_url).await;
    assert_eq!(fed.state(id).await["status"], "request_fetched");
    assert_eq!(f.request.response_uri, fed.url("/response-uri"));
    let (s409, v) = fed.result(id, None).await;
    assert_eq!((s409, v["error"].as_str()), (409, Some("invalid_request")), "no verdict yet");

    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
    let (status, body) = post_response(&fed, &f.request.response_uri, form).await;
    assert_eq!((status, body), (200, json!({})), "cross-device: no redirect");
    assert_eq!(fed.state(id).await["status"], "verified");

    let (s, v) = fed.result(id, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "verified");
    let pid = &v["credentials"]["pid"][0];
    assert_eq!(pid["claims"]["birthdate"], "1980-01-10");
    assert!(pid["claims"].get("given_name").is_none(), "only what was asked");
    assert_eq!(pid["issuer"], fed.issuer.id.as_str());
    assert_eq!(pid["issuer_trust"]["kind"], "trust_chain");
    assert_eq!(pid["issuer_trust"]["trust_anchor"], fed.anchor.id.as_str());
    assert_eq!(pid["status"], json!({"outcome": "valid", "checked": true, "value": "VALID"}), "the issuer's list, read");
    for linking in ["cnf", "sub", "status"] {
        assert!(pid["claims"].get(linking).is_none(), "`{linking}` singles the credential out: not handed on");
    }
    assert_eq!(pid["claims"]["issuing_authority"], "Istituto Poligrafico e Zecca dello Stato");
    let (s, v) = fed.result(id, None).await;
    assert_eq!((s, v["error"].as_str()), (404, Some("not_found")), "fetched once, then gone");
    assert_eq!(fed.state(id).await["result_fetched"], true);
}

/// A same-device session of `session` (a PID preset) answered by a fresh wallet with the
/// PID's claims: its id and the `response_code` of the redirect (to our `BACK` page).
async fn same_device_pid(fed: &Fed, session: Value) -> (String, String) {
    let s = fed.session(session).await;
    let wallet = Wallet::new();
    let f = wallet.fetch(fed, s["wallet_url"].as_str().unwrap()).await;
    let claims = ["given_name", "family_name", "birthdate", "place_of_birth", "nationalities", "tax_id_code"];
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &claims, f.request.client_id.as_str(), &f.request.nonce);
    let (status, body) = post_response(fed, &f.request.response_uri, wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone())).await;
    assert_eq!(status, 200, "{body}");
    let redirect = url::Url::parse(body["redirect_uri"].as_str().unwrap()).unwrap();
    assert!(redirect.as_str().starts_with(BACK));
    let code = redirect.query_pairs().find(|(k, _)| k == "response_code").unwrap().1.into_owned();
    (s["session_id"].as_str().unwrap().to_owned(), code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_device_happy_path_with_single_use_response_code() {
    let fed = Fed::new().await;
    let (id, code) = same_device_pid(&fed, json!({"preset": "pid", "flow": "same_device", "request_uri_method": "get"})).await;
    let id = id.as_str();
    assert!(code.len() >= 22, "at least 128 bits");

    // Without the code, or with another, the integrator gets nothing.
    let (s, v) = fed.result(id, None).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("invalid_request")));
    let (s, _) = fed.result(id, Some("made-up-code")).await;
    assert_eq!(s, 403);
    let (s, v) = fed.result(id, Some(&code)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["credentials"]["pid"][0]["claims"]["tax_id_code"], "TINIT-RSSMRA80A10H501Z");
    // A replayed response_code.
    let (s, v) = fed.result(id, Some(&code)).await;
    assert_eq!((s, v["error"].as_str()), (404, Some("not_found")));
}

/// Session fixation: a `response_code` from another same-device flow (an attacker's own,
/// sent into the victim's browser) names another session, so the integrator taking the
/// result of the browser's own session with it is refused, and the other session's result
/// is not spent by the attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_code_of_another_session_is_refused() {
    let fed = Fed::new().await;
    let (victim, victim_code) = same_device_pid(&fed, json!({"preset": "pid", "flow": "same_device"})).await;
    let (attacker, attacker_code) = same_device_pid(&fed, json!({"preset": "pid", "flow": "same_device"})).await;
    let (s, v) = fed.result(&victim, Some(&attacker_code)).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("invalid_request")), "{v}");
    let (s, v) = fed.result(&attacker, Some(&victim_code)).await;
    assert_eq!(s, 403, "{v}");
    for (id, code) in [(&victim, &victim_code), (&attacker, &attacker_code)] {
        let (s, v) = fed.result(id, Some(code)).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("verified")), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_same_device_gets_a_redirect_and_a_declined_verdict() {
    let fed = Fed::new().await;
    let s = fed.session(pid_session("same_device")).await;
    let id = s["session_id"].as_str().unwrap();
    let f = Wallet::new().fetch(&fed, s["wallet_url"].as_str().unwrap()).await;
    let (status, body) = post_response(&fed, &f.request.response_uri, Wallet::decline_form(f.request.state.as_deref().unwrap())).await;
    assert_eq!(status, 200, "{body}");
    let code = url::Url::parse(body["redirect_uri"].as_str().unwrap()).unwrap().query_pairs().find(|(k, _)| k == "response_code").unwrap().1.into_owned();
    assert_eq!(fed.state(id).await["status"], "declined");
    let (_, v) = fed.result(id, Some(&code)).await;
    assert_eq!((v["status"].as_str(), v["error"].as_str()), (Some("declined"), Some("access_denied")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_uri_is_single_use() {
    let fed = Fed::new().await;
    let s = fed.session(pid_session("cross_device")).await;
    let wallet = Wallet::new();
    wallet.fetch(&fed, s["wallet_url"].as_str().unwrap()).await;
    let (status, body, _) = wallet.fetch_raw(&fed, s["wallet_url"].as_str().unwrap()).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, v["error"].as_str(), v["error_description"].as_str()), (400, Some("invalid_request"), Some("request_uri already used")));
    let (status, body) = Fed::json(fed.http.get(fed.url("/request-uri?id=nope"))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
}

/// Sets up a session whose request the wallet fetched.
async fn fetched(fed: &Fed, wallet: &Wallet) -> (String, common::Fetched) {
    let s = fed.session(pid_session("cross_device")).await;
    let f = wallet.fetch(fed, s["wallet_url"].as_str().unwrap()).await;
    (s["session_id"].as_str().unwrap().to_owned(), f)
}

/// Posts `form`, expects `status` with `invalid_request`, and (when `refused`) that the
/// integrator gets a refused verdict whose reason contains `why`.
async fn refused(fed: &Fed, id: &str, f: &common::Fetched, form: String, status: u16, why: &str) {
    let (s, body) = post_response(fed, &f.request.response_uri, form).await;
    assert_eq!((s, body["error"].as_str()), (status, Some("invalid_request")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains(why), "{body}");
    assert_eq!(fed.state(id).await["status"], "refused");
    let (_, v) = fed.result(id, None).await;
    assert_eq!(v["status"], "refused");
    assert!(v["reason"].as_str().unwrap().contains(why), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_response_is_refused_and_the_verdict_stands() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let (id, f) = fetched(&fed, &wallet).await;
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
    assert_eq!(post_response(&fed, &f.request.response_uri, form.clone()).await.0, 200);
    let (s, body) = post_response(&fed, &f.request.response_uri, form).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_request")));
    assert!(body["error_description"].as_str().unwrap().contains("state already used"), "{body}");
    assert_eq!(fed.state(&id).await["status"], "verified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_for_another_session_is_refused() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let (id_a, a) = fetched(&fed, &wallet).await;
    let (_, b) = fetched(&fed, &wallet).await;
    // Session A's state, but the key binding made for session B's request (its nonce).
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, b.request.client_id.as_str(), &b.request.nonce);
    let form = wallet.response_form(&a.request, vec![("pid", p)], a.request.state.clone());
    refused(&fed, &id_a, &a, form, 403, "key binding: the KB-JWT nonce is not this session's").await;
    // An unknown state names no session at all.
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, a.request.client_id.as_str(), &a.request.nonce);
    let (s, body) = post_response(&fed, &a.request.response_uri, wallet.response_form(&a.request, vec![("pid", p)], Some("another".into()))).await;
    assert_eq!((s, body["error_description"].as_str()), (400, Some("state unknown")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwe_for_another_key_is_refused_and_the_session_waits() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let (id, f) = fetched(&fed, &wallet).await;
    let mut other = f.request.clone();
    other.encryption_key = wallet_core::jose::DecryptionKey::generate().unwrap().public_jwk().clone();
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let (s, body) = post_response(&fed, &f.request.response_uri, wallet.response_form(&other, vec![("pid", p)], f.request.state.clone())).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_request")));
    assert!(body["error_description"].as_str().unwrap().contains("names no key of this verifier"), "{body}");
    assert_eq!(fed.state(&id).await["status"], "request_fetched", "an undecryptable response names no session");
}

/// IT-Wallet 1.4 §5.1, §8 (RPR-13/37/52): each request object carries its own response key
/// (`client_metadata.jwks`, `kid` `rk:<session id>`); a response encrypted to another
/// session's key is refused, and that session keeps waiting for its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_has_its_own_response_key() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let (a, fa) = fetched(&fed, &wallet).await;
    let (b, fb) = fetched(&fed, &wallet).await;
    assert_eq!(fa.request.encryption_key.kid.as_deref(), Some(format!("rk:{a}").as_str()));
    assert_eq!(fb.request.encryption_key.kid.as_deref(), Some(format!("rk:{b}").as_str()));
    assert_ne!(fa.request.encryption_key.params, fb.request.encryption_key.params, "a key per request");
    // B's answer, encrypted to A's key.
    let mut crossed = fb.request.clone();
    crossed.encryption_key = fa.request.encryption_key.clone();
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, fb.request.client_id.as_str(), &fb.request.nonce);
    let (s, body) = post_response(&fed, &fb.request.response_uri, wallet.response_form(&crossed, vec![("pid", p.clone())], fb.request.state.clone())).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("encrypted to another request's key"), "{body}");
    assert_eq!(fed.state(&b).await["status"], "request_fetched");
    // Encrypted to its own key, it is verified.
    let (s, body) = post_response(&fed, &fb.request.response_uri, wallet.response_form(&fb.request, vec![("pid", p)], fb.request.state.clone())).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(fed.state(&b).await["status"], "verified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kb_jwt_for_another_audience_is_refused() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let (id, f) = fetched(&fed, &wallet).await;
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, "openid_federation:https://other-rp.example.it", &f.request.nonce);
    let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
    refused(&fed, &id, &f, form, 403, "key binding: the KB-JWT aud is not this verifier's client_id").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kb_jwt_with_another_nonce_is_refused() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let (id, f) = fetched(&fed, &wallet).await;
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), "a-nonce-of-our-own-making-that-is-long-enough");
    let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
    refused(&fed, &id, &f, form, 403, "key binding: the KB-JWT nonce is not this session's").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp_token_answering_less_than_the_query_is_refused() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let s = fed.session(json!({"preset": "pid", "flow": "cross_device"})).await;
    let id = s["session_id"].as_str().unwrap().to_owned();
    let f = wallet.fetch(&fed, s["wallet_url"].as_str().unwrap()).await;
    // Only the names, not the birth date and the rest asked.
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &["given_name", "family_name"], f.request.client_id.as_str(), &f.request.nonce);
    let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
    let (st, body) = post_response(&fed, &f.request.response_uri, form).await;
    assert_eq!((st, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
    assert_eq!(fed.state(&id).await["status"], "refused");
    let (_, v) = fed.result(&id, None).await;
    assert_eq!((v["status"].as_str(), v["credential"].as_str()), (Some("refused"), Some("pid")), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vp_token_answering_more_than_the_query_is_refused() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let (id, f) = fetched(&fed, &wallet).await;
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &["birthdate", "tax_id_code"], f.request.client_id.as_str(), &f.request.nonce);
    let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
    let (st, _) = post_response(&fed, &f.request.response_uri, form).await;
    assert_eq!(st, 400);
    assert_eq!(fed.state(&id).await["status"], "refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_from_an_untrusted_issuer_is_refused() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let (id, f) = fetched(&fed, &wallet).await;
    let p = wallet.present(&fed.rogue.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
    refused(&fed, &id, &f, form, 403, "untrusted issuer").await;
}

/// IT-Wallet 1.4 §4.3: a PID's `status` is REQUIRED; a PID without one, however well
/// signed by a trusted issuer, is refused (its revocation could never be known).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pid_without_its_required_status_is_refused() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let (id, f) = fetched(&fed, &wallet).await;
    let p = wallet.present(&fed.issuer.pid_without_status(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
    refused(&fed, &id, &f, form, 400, "invalid PID attribute `status`: missing").await;
}

/// A PID carrying its issuer's chain in the `trust_chain` header (IT-Wallet 1.4 §4.1).
fn pid_with_chain(fed: &Fed, wallet: &Wallet, chain: &[String]) -> wallet_core::sd_jwt::SdJwt {
    let attrs = json!({"given_name": "Mario", "family_name": "Rossi", "birthdate": "1980-01-10"});
    let now = UnixTime::now();
    wallet_core::vc::SdJwtVcBuilder::new(fed.issuer.id.as_str(), wallet_core::vc::Vct::new(wallet_core::vc::Vct::PID).unwrap(), attrs.as_object().cloned().unwrap())
        .validity(now.plus(-60), now.plus(86_400))
        .issuing("Istituto Poligrafico e Zecca dello Stato", "IT")
        .pid_metadata("NzbLsXh8uDCcd7noWXFZAfHkxZsRGC9Xs", "2033-03-19", "it_cie", "high")
        .status(0, &fed.issuer.status_uri)
        .holder_key(&wallet.holder.public_jwk())
        .kid(fed.issuer.key.kid().unwrap())
        .sign_with_trust_chain(chain.to_vec(), &fed.issuer.key)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_chain_header_is_validated_once_per_chain() {
    let fed = Fed::new().await;
    let fetcher = fed.verifier.http().for_request();
    let anchors = [fed.anchor.clone()];
    let chain = ChainCollector::new_async(&fetcher, &anchors).resolve_async(&fed.issuer.id, UnixTime::now()).await.unwrap().jwts();
    assert!(fed.verifier.chain_memo().is_empty());
    let wallet = Wallet::new();
    for _ in 0..2 {
        let (id, f) = fetched(&fed, &wallet).await;
        let p = wallet.present(&pid_with_chain(&fed, &wallet, &chain), &AGE, f.request.client_id.as_str(), &f.request.nonce);
        let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
        let (status, body) = post_response(&fed, &f.request.response_uri, form).await;
        assert_eq!((status, body), (200, json!({})));
        let (_, v) = fed.result(&id, None).await;
        assert_eq!(v["credentials"]["pid"][0]["issuer_trust"]["from_header"], true, "{v}");
    }
    assert_eq!(fed.verifier.chain_memo().len(), 1, "one chain, validated once");
    // A header that is not a chain to our anchor is still refused (nothing remembered).
    let (id, f) = fetched(&fed, &wallet).await;
    let mut forged = chain.clone();
    forged.reverse();
    let p = wallet.present(&pid_with_chain(&fed, &wallet, &forged), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
    refused(&fed, &id, &f, form, 403, "trust_chain header").await;
    assert_eq!(fed.verifier.chain_memo().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_session_and_bad_integrator_input() {
    let fed = Fed::new().await;
    let (s, v) = Fed::json(fed.http.get(fed.url("/sessions/nope")).bearer_auth(TOKEN)).await;
    assert_eq!((s, v["error"].as_str()), (404, Some("not_found")));
    let (s, v) = fed.result("nope", None).await;
    assert_eq!((s, v["error"].as_str()), (404, Some("not_found")));
    let (s, v) = Fed::json(fed.http.get(fed.url("/sessions/nope"))).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_token")));
    let (s, v) = Fed::json(fed.http.post(fed.url("/sessions")).bearer_auth(TOKEN).json(&json!({"preset": "everything", "flow": "cross_device"}))).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")));
    let (s, _) = Fed::json(fed.http.post(fed.url("/sessions")).bearer_auth(TOKEN).json(&json!({"dcql_query": {"credentials": []}, "flow": "cross_device"}))).await;
    assert_eq!(s, 400);
    let raw = json!({"dcql_query": {"credentials": [{"id": "x", "format": "dc+sd-jwt", "meta": {"vct_values": ["urn:eudi:pid:it:1"]}, "claims": [{"path": ["family_name"]}]}]}, "flow": "cross_device"});
    let s = fed.session(raw).await;
    assert_eq!(fed.state(s["session_id"].as_str().unwrap()).await["status"], "created");
    let (s, v) = Fed::json(fed.http.post(fed.url("/response-uri")).header("content-type", "application/x-www-form-urlencoded").body("vp_token=x")).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")));
}

/// The leaf of a request object's `x5c` (DER).
fn x5c_leaf(f: &common::Fetched) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(&f.header.x5c.as_ref().unwrap()[0]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x509_hash_session_by_reference() {
    use wallet_core::oid4vp::request_object::RpTrust;
    let fed = Fed::new().await;
    let s = fed.session(json!({"preset": "age_over_18", "flow": "cross_device", "client_id_prefix": "x509_hash"})).await;
    let id = s["session_id"].as_str().unwrap();
    let client_id = s["client_id"].as_str().unwrap();
    assert!(client_id.starts_with("x509_hash:"), "{client_id}");
    let wallet_url = s["wallet_url"].as_str().unwrap();
    assert!(wallet_url.starts_with("openid4vp://?client_id=x509_hash%3A"), "{wallet_url}");
    assert!(wallet_url.contains("request_uri="), "{wallet_url}");

    // The wallet verifies the request object with the federation CA root: the x5c leaf
    // hashes to the client id, chains to the root, signs the object; no trust chain needed.
    let wallet = Wallet::new();
    let f = wallet.fetch(&fed, wallet_url).await;
    assert!(matches!(f.request.trust, RpTrust::X509 { .. }), "{:?}", f.request.trust);
    assert_eq!(f.request.client_id.as_str(), client_id);
    assert_eq!(wallet_core::oid4vp::ClientId::x509_hash_of(&x5c_leaf(&f)).as_str(), client_id);
    assert!(f.header.trust_chain.is_none());
    assert_eq!(fed.state(id).await["status"], "request_fetched");
    // No chain to read the relying party's name from: the request object's client_metadata
    // carries what the citizen's consent shows.
    assert!(f.request.metadata.client_name.as_deref().is_some_and(|n| !n.is_empty()), "{:?}", f.request.metadata);
    assert!(f.request.metadata.logo_uri.is_some());

    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, client_id, &f.request.nonce);
    let (status, body) = post_response(&fed, &f.request.response_uri, wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone())).await;
    assert_eq!((status, body), (200, json!({})));
    let (_, v) = fed.result(id, None).await;
    assert_eq!(v["status"], "verified", "{v}");
    assert_eq!(v["credentials"]["pid"][0]["claims"]["birthdate"], "1980-01-10");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x509_hash_session_by_value() {
    let fed = Fed::new().await;
    let s = fed.session(json!({"preset": "age_over_18", "flow": "same_device", "client_id_prefix": "x509_hash", "request_mode": "value"})).await;
    let id = s["session_id"].as_str().unwrap();
    let wallet_url = s["wallet_url"].as_str().unwrap();
    let parsed = wallet_core::oid4vp::AuthorizationRequestUrl::parse(wallet_url).unwrap();
    assert!(matches!(parsed.request, wallet_core::oid4vp::RequestRef::Value(_)), "{wallet_url}");
    assert!(!wallet_url.contains("request_uri"), "{wallet_url}");

    let wallet = Wallet::new();
    let f = wallet.fetch(&fed, wallet_url).await;
    assert_eq!(f.request.client_id.as_str(), s["client_id"].as_str().unwrap());
    // Nothing was fetched: the session waits as created until the response.
    assert_eq!(fed.state(id).await["status"], "created");
    // A signed request object with its x5c chain is kilobytes: more than a QR code holds
    // (a same-device link, not a QR); the integrator is told so.
    assert!(wallet_url.len() > 2_000, "{}", wallet_url.len());
    let (st, v) = Fed::json(fed.http.get(s["qr_svg"].as_str().unwrap()).bearer_auth(TOKEN)).await;
    assert_eq!(st, 400, "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("too long for a QR code"), "{v}");

    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
    let (status, body) = post_response(&fed, &f.request.response_uri, form.clone()).await;
    assert_eq!(status, 200, "{body}");
    let code = url::Url::parse(body["redirect_uri"].as_str().unwrap()).unwrap().query_pairs().find(|(k, _)| k == "response_code").unwrap().1.into_owned();
    // A replay of the response (state and nonce used).
    let (s2, body) = post_response(&fed, &f.request.response_uri, form).await;
    assert_eq!(s2, 400, "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("state already used"), "{body}");
    let (_, v) = fed.result(id, Some(&code)).await;
    assert_eq!(v["status"], "verified", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federation_session_by_value() {
    let fed = Fed::new().await;
    let s = fed.session(json!({"preset": "age_over_18", "flow": "cross_device", "request_mode": "value"})).await;
    let id = s["session_id"].as_str().unwrap();
    assert!(s["client_id"].as_str().unwrap().starts_with("openid_federation:"));
    let wallet = Wallet::new();
    let f = wallet.fetch(&fed, s["wallet_url"].as_str().unwrap()).await;
    assert!(f.header.trust_chain.is_some());
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let (status, body) = post_response(&fed, &f.request.response_uri, wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fed.state(id).await["status"], "verified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kb_jwt_for_the_federation_client_id_is_refused_in_an_x509_hash_session() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let s = fed.session(json!({"preset": "age_over_18", "flow": "cross_device", "client_id_prefix": "x509_hash"})).await;
    let id = s["session_id"].as_str().unwrap().to_owned();
    let f = wallet.fetch(&fed, s["wallet_url"].as_str().unwrap()).await;
    // Our own entity, but the session's client id is x509_hash:…: another audience.
    for aud in [format!("openid_federation:{}", fed.verifier_id), fed.verifier_id.to_string()] {
        let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, &aud, &f.request.nonce);
        let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
        if aud.starts_with("openid_federation:") {
            refused(&fed, &id, &f, form, 403, "key binding: the KB-JWT aud is not this verifier's client_id").await;
        } else {
            // The state is used by now: a second response is refused before verification.
            assert_eq!(post_response(&fed, &f.request.response_uri, form).await.0, 400);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_options_are_checked() {
    let fed = Fed::new().await;
    for (body, why) in [
        (json!({"preset": "pid", "flow": "cross_device", "client_id_prefix": "redirect_uri"}), "client_id_prefix"),
        (json!({"preset": "pid", "flow": "cross_device", "request_mode": "inline"}), "request_mode"),
        (json!({"preset": "pid", "flow": "cross_device", "request_mode": "value", "request_uri_method": "get"}), "request_uri_method"),
    ] {
        let (s, v) = Fed::json(fed.http.post(fed.url("/sessions")).bearer_auth(TOKEN).json(&body)).await;
        assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "{body}");
        assert!(v["error_description"].as_str().unwrap().contains(why), "{v}");
    }
}

/// A response without `state` names no session: refused before anything is looked up or
/// recorded, whether it is an encrypted response or a wallet error response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_without_state_is_refused_and_nothing_is_recorded() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let (id, f) = fetched(&fed, &wallet).await;
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let encrypted = wallet.response_form(&f.request, vec![("pid", p)], None);
    let declined = wallet_core::oid4vp::response::ErrorResponse::access_denied(None).to_form();
    assert!(declined.contains("error=access_denied") && !declined.contains("state"), "{declined}");
    for form in [encrypted, declined] {
        let (s, body) = post_response(&fed, &f.request.response_uri, form).await;
        assert_eq!((s, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
        assert!(body["error_description"].as_str().unwrap().starts_with("state missing"), "{body}");
        assert_eq!(fed.state(&id).await["status"], "request_fetched", "nothing recorded");
    }
    let (s, v) = fed.result(&id, None).await;
    assert_eq!((s, v["error"].as_str()), (409, Some("invalid_request")), "no verdict: {v}");
}

/// A `request_uri` POST whose body is not a form (OpenID4VP 1.0 §5.10.1) is refused without
/// consuming the handle: the wallet's correct POST that follows gets the request object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_uri_post_with_a_json_body_is_refused_and_the_handle_kept() {
    let fed = Fed::new().await;
    let s = fed.session(pid_session("cross_device")).await;
    let id = s["session_id"].as_str().unwrap();
    let wallet_url = s["wallet_url"].as_str().unwrap();
    let url = wallet_core::oid4vp::AuthorizationRequestUrl::parse(wallet_url).unwrap();
    let wallet_core::oid4vp::RequestRef::Uri { uri, method, .. } = &url.request else { panic!("by reference") };
    assert_eq!(*method, wallet_core::oid4vp::RequestUriMethod::Post);
    let (st, v) = Fed::json(
        fed.http
            .post(uri)
            .header("content-type", "application/json")
            .header("accept", "application/oauth-authz-req+jwt")
            .body(json!({"wallet_nonce": "abcdefghijklmnopqrstuv"}).to_string()),
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_request")), "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("must be application/x-www-form-urlencoded"), "{v}");
    assert_eq!(fed.state(id).await["status"], "created", "the handle was not consumed");
    // The form POST (`fetch_raw` checks the content type of a 200).
    let wallet = Wallet::new();
    let (st, body, _) = wallet.fetch_raw(&fed, wallet_url).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(fed.state(id).await["status"], "request_fetched");
}

/// A raw DCQL query for an `mso_mdoc` credential: the session is created, but a response
/// presenting an mdoc is refused (only SD-JWT VC presentations are verified for now), the
/// verdict saying so with `unsupported_format`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mso_mdoc_presentation_is_refused_as_an_unsupported_format() {
    let fed = Fed::new().await;
    let query = json!({"credentials": [{"id": "mdl", "format": "mso_mdoc", "meta": {"doctype_value": "org.iso.18013.5.1.mDL"}, "claims": [{"path": ["org.iso.18013.5.1", "family_name"]}]}]});
    let s = fed.session(json!({"dcql_query": query, "flow": "cross_device"})).await;
    let id = s["session_id"].as_str().unwrap().to_owned();
    let wallet = Wallet::new();
    let f = wallet.fetch(&fed, s["wallet_url"].as_str().unwrap()).await;
    assert_eq!(fed.state(&id).await["status"], "request_fetched");
    // Some DeviceResponse-looking bytes, base64url: never parsed.
    let form = wallet.response_form(&f.request, vec![("mdl", "omd2ZXJzaW9uYzEuMGlkb2N1bWVudHOA".to_owned())], f.request.state.clone());
    let (st, body) = post_response(&fed, &f.request.response_uri, form).await;
    assert_eq!((st, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("mso_mdoc"), "{body}");
    assert_eq!(fed.state(&id).await["status"], "refused");
    let (s, v) = fed.result(&id, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["status"].as_str(), v["reason_code"].as_str(), v["credential"].as_str()), (Some("refused"), Some("unsupported_format"), Some("mdl")), "{v}");
}

/// Versions note §5, verifier item 6: a verifier in the it-wallet-1.3 profile never asks for
/// an `mso_mdoc` credential; the integrator is told why, and nothing is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mdoc_query_is_refused_in_the_1_3_profile() {
    let fed = Fed::with(|c| c.profile = wallet_core::oid4vp::Profile::ItWallet13).await;
    let query = json!({"credentials": [{"id": "mdl", "format": "mso_mdoc", "meta": {"doctype_value": "org.iso.18013.5.1.mDL"}, "claims": [{"path": ["org.iso.18013.5.1", "family_name"]}]}]});
    let (s, v) = Fed::json(fed.http.post(fed.url("/sessions")).bearer_auth(common::TOKEN).json(&json!({"dcql_query": query, "flow": "cross_device"}))).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("only in the it-wallet-1.4 profile"), "{v}");
    let s = fed.session(json!({"preset": "age_over_18", "flow": "cross_device"})).await;
    assert!(s["session_id"].is_string(), "SD-JWT VC queries as before: {s}");
}

/// A federation whose verifier requires the credential issuers' trust mark
/// (`credential_issuer_trust_marks`), asking its status at every check.
async fn marks_required() -> Fed {
    Fed::with(|c| {
        c.credential_issuer_trust_marks = vec![common::issuer_mark(&c.trust_anchors[0].id)];
        c.trust_mark_status_refresh = 0;
    })
    .await
}

/// A cross-device presentation of the fixture issuer's PID: the verifier's answer.
async fn present_pid(fed: &Fed, wallet: &Wallet) -> (String, common::Fetched, String) {
    let (id, f) = fetched(fed, wallet).await;
    let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
    let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
    (id, f, form)
}

/// IT-Wallet 1.4 §1.3, §8 ("the issuer is untrusted: … Trust Mark or policy is missing"): with
/// `credential_issuer_trust_marks` configured, an issuer onboarded under the anchor but
/// holding no such mark is refused as untrusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_without_the_required_trust_mark_is_refused() {
    let fed = marks_required().await;
    let wallet = Wallet::new();
    let (id, f, form) = present_pid(&fed, &wallet).await;
    refused(&fed, &id, &f, form, 403, "holds no valid trust mark of the types required").await;
}

/// Once the anchor issues the issuer the mark and the issuer publishes it, its credentials
/// verify; once the anchor revokes it (the issuer's configuration still carries it, signed
/// and unexpired), the status asked of the anchor (OID-FED §8.4) refuses it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_holding_the_mark_is_trusted_until_the_mark_is_revoked() {
    let fed = marks_required().await;
    fed.mark(&fed.issuer.id).await;
    let wallet = Wallet::new();
    let (id, f, form) = present_pid(&fed, &wallet).await;
    assert_eq!(post_response(&fed, &f.request.response_uri, form).await, (200, json!({})));
    assert_eq!(fed.state(&id).await["status"], "verified");

    fed.revoke_mark(&fed.issuer.id).await;
    let (id, f, form) = present_pid(&fed, &wallet).await;
    refused(&fed, &id, &f, form, 403, &format!("its issuer {} reports it revoked", fed.anchor.id)).await;
}

/// OpenID4VP 1.0 §6.1.1: an integrator's `dcql_query` naming in `trusted_authorities` a trust
/// anchor the issuer's chain does not reach refuses the PID (403, a trust failure); naming
/// the verifier's own anchor accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pid_from_outside_the_querys_trusted_authorities_is_refused() {
    let fed = Fed::new().await;
    let wallet = Wallet::new();
    let query = |anchor: &str| {
        json!({"dcql_query": {"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["urn:eudi:pid:it:1"]}, "claims": [{"path": ["birthdate"]}],
            "trusted_authorities": [{"type": "openid_federation", "values": [anchor]}]}]}, "flow": "cross_device"})
    };
    for (anchor, trusted) in [("https://other-anchor.example.it", false), (fed.anchor.id.as_str(), true)] {
        let s = fed.session(query(anchor)).await;
        let id = s["session_id"].as_str().unwrap().to_owned();
        let f = wallet.fetch(&fed, s["wallet_url"].as_str().unwrap()).await;
        let p = wallet.present(&fed.issuer.pid(&wallet.holder), &AGE, f.request.client_id.as_str(), &f.request.nonce);
        let form = wallet.response_form(&f.request, vec![("pid", p)], f.request.state.clone());
        if trusted {
            assert_eq!(post_response(&fed, &f.request.response_uri, form).await.0, 200);
            assert_eq!(fed.state(&id).await["status"], "verified");
        } else {
            let (st, body) = post_response(&fed, &f.request.response_uri, form).await;
            assert_eq!((st, body["error"].as_str()), (403, Some("invalid_request")), "{body}");
            let (_, v) = fed.result(&id, None).await;
            assert_eq!((v["status"].as_str(), v["reason_code"].as_str()), (Some("refused"), Some("untrusted_authority")), "{v}");
            assert!(v["reason"].as_str().unwrap().contains("none of the trusted authorities"), "{v}");
        }
    }
    // Only types this verifier cannot match: no session (every answer would be refused).
    let etsi = json!({"dcql_query": {"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["urn:eudi:pid:it:1"]}, "claims": [{"path": ["birthdate"]}],
        "trusted_authorities": [{"type": "etsi_tl", "values": ["https://tl.example.eu"]}]}]}, "flow": "cross_device"});
    let (s, v) = Fed::json(fed.http.post(fed.url("/sessions")).bearer_auth(common::TOKEN).json(&etsi)).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("trusted_authorities has no entry"), "{v}");
}
