//! RP → OP → RP over real HTTP on loopback, with a trust anchor, for each acr level; refresh
//! and revocation as SPID and CIE each require; and the refusals the issue lists, each with
//! the spec's error code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod common;

use common::{Fed, MARIO, error_of, param, query};
use serde_json::{Map, Value, json};
use spid_cie_oidc::claims::Acr;
use spid_cie_oidc::op::Profile;
use spid_cie_oidc::rp::{LoginRequest, RpError};
use wallet_core::jose::{JwsAlg, JwsHeader, Signer, jws};

fn request_with(offline: bool, acr: Acr) -> LoginRequest {
    LoginRequest { acr_values: vec![acr], offline_access: offline, ..LoginRequest::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spid_login_each_level_then_refresh_and_revoke() {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("rp", true, true).await;
    for level in Acr::ALL {
        let url = rp.rp.start_login(&fed.op, request_with(true, level)).await.unwrap();
        assert!(url.starts_with(&format!("{}/authorization?", fed.op)));
        let (status, ct, page, _) = fed.authorize(&url).await;
        assert_eq!(status, 200, "{page}");
        assert!(ct.starts_with("text/html"));
        // The requested level is preselected; every identity is offered.
        assert!(page.contains(&format!("<option value=\"{}\" selected>", level.as_str())), "{page}");
        assert!(page.contains(&format!("value=\"{MARIO}\"")));
        let loc = fed.login(&page, MARIO, level.as_str()).await;
        assert!(loc.starts_with(&format!("{}/callback?", rp.id)));
        assert_eq!(param(&loc, "iss").as_deref(), Some(fed.op.as_str()));
        let out = rp.rp.finish_login(&query(&loc)).await.unwrap();
        assert_eq!(out.acr, level);
        assert_eq!(out.provider, fed.op);
        let u = &out.userinfo;
        assert_eq!(u.fiscal_number.as_deref(), Some(MARIO));
        assert_eq!((u.given_name.as_deref(), u.family_name.as_deref()), (Some("Mario"), Some("Rossi")));
        assert_eq!(u.birthdate.as_deref(), Some("1980-01-01"));
        assert_eq!(u.place_of_birth.as_ref().unwrap().locality.as_deref(), Some("H501"));
        assert_eq!(u.email.as_deref(), Some("mario.rossi@example.it"));
        assert_eq!(u.sub, out.id_token.sub);
        // SPID puts no attributes in the ID Token.
        assert!(!out.id_token.extra.contains_key("given_name"));
        // The callback replayed: the RP keeps no pending state, the OP's code is single use.
        let err = rp.rp.finish_login(&query(&loc)).await.unwrap_err();
        assert!(matches!(err, RpError::Endpoint { endpoint: "token", status: 400, ref error, .. } if error == "invalid_grant"), "{err:?}");
    }

    // Refresh (SPID): a new access token and an ID Token at SpidL1 (Avviso n.41).
    let url = rp.rp.start_login(&fed.op, request_with(true, Acr::SpidL2)).await.unwrap();
    let page = fed.authorize(&url).await.2;
    let out = rp.rp.finish_login(&query(&fed.login(&page, MARIO, Acr::SpidL2.as_str()).await)).await.unwrap();
    let rt = out.tokens.refresh_token.clone().expect("offline_access with consent gives a refresh token");
    let refreshed = rp.rp.refresh(&fed.op, &rt).await.unwrap();
    let idt = refreshed.id_token.expect("SPID refresh returns an ID Token");
    assert_eq!(idt.acr, Acr::SpidL1);
    assert_eq!(idt.sub, out.id_token.sub);
    let provider = rp.rp.provider(&fed.op).await.unwrap();
    let u = rp.rp.userinfo(&provider, &refreshed.tokens.access_token, &idt.sub).await.unwrap();
    assert_eq!(u.fiscal_number.as_deref(), Some(MARIO));
    // The rotated-out refresh token and its access token no longer work.
    let err = rp.rp.refresh(&fed.op, &rt).await.unwrap_err();
    assert!(matches!(err, RpError::Endpoint { status: 400, ref error, .. } if error == "invalid_grant"), "{err:?}");

    // Revocation (SPID): revoking the access token ends the grant, refresh token included.
    let new_rt = refreshed.tokens.refresh_token.clone().unwrap();
    rp.rp.revoke(&fed.op, &refreshed.tokens.access_token).await.unwrap();
    let err = rp.rp.userinfo(&provider, &refreshed.tokens.access_token, &idt.sub).await.unwrap_err();
    assert!(matches!(err, RpError::Endpoint { status: 401, ref error, .. } if error == "invalid_token"), "{err:?}");
    let err = rp.rp.refresh(&fed.op, &new_rt).await.unwrap_err();
    assert!(matches!(err, RpError::Endpoint { status: 400, ref error, .. } if error == "invalid_grant"), "{err:?}");
    // Unknown tokens are answered 200 (RFC 7009).
    rp.rp.revoke(&fed.op, "not-a-token").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cie_refresh_rotates_without_id_token_and_access_revocation_keeps_refresh() {
    let fed = Fed::new(Profile::Cie).await;
    let rp = fed.rp("rp", true, true).await;
    let url = rp.rp.start_login(&fed.op, request_with(true, Acr::SpidL3)).await.unwrap();
    let page = fed.authorize(&url).await.2;
    let out = rp.rp.finish_login(&query(&fed.login(&page, MARIO, Acr::SpidL3.as_str()).await)).await.unwrap();
    assert_eq!(out.acr, Acr::SpidL3);
    let rt = out.tokens.refresh_token.clone().unwrap();
    // CIE: revoking the access token does not revoke the refresh token.
    rp.rp.revoke(&fed.op, &out.tokens.access_token).await.unwrap();
    let refreshed = rp.rp.refresh(&fed.op, &rt).await.unwrap();
    assert!(refreshed.id_token.is_none(), "CIE never returns an ID Token on refresh");
    let rt2 = refreshed.tokens.refresh_token.clone().unwrap();
    assert_ne!(rt2, rt, "rotation");
    // CIE: revoking the refresh token revokes its access token.
    rp.rp.revoke(&fed.op, &rt2).await.unwrap();
    let provider = rp.rp.provider(&fed.op).await.unwrap();
    let err = rp.rp.userinfo(&provider, &refreshed.tokens.access_token, &out.id_token.sub).await.unwrap_err();
    assert!(matches!(err, RpError::Endpoint { status: 401, .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_without_trust_mark_is_unauthorized_client() {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("unmarked", true, false).await;
    let url = rp.rp.start_login(&fed.op, LoginRequest::default()).await.unwrap();
    let (status, _, body, loc) = fed.authorize(&url).await;
    assert_eq!((status, loc), (400, None), "never a redirect: {body}");
    assert_eq!(error_of(&body), "unauthorized_client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_without_trust_chain_is_invalid_client() {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("orphan", true, true).await;
    // The anchor drops it: its trust mark still verifies statically, its chain no longer does.
    let r = fed.http.delete(format!("{}/admin/subordinates?entity_id={}", fed.ta, rp.id)).bearer_auth(common::TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let url = rp.rp.start_login(&fed.op, LoginRequest::default()).await.unwrap();
    let (status, _, body, loc) = fed.authorize(&url).await;
    assert_eq!((status, loc), (401, None), "{body}");
    assert_eq!(error_of(&body), "invalid_client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_whose_resolved_metadata_breaks_the_profile_is_unauthorized_client() {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("noncompliant", false, false).await;
    // The anchor's policy forces a client authentication the profile does not allow.
    let policy = json!({"openid_relying_party": {"token_endpoint_auth_method": {"value": "client_secret_basic"}}});
    let r = fed
        .http
        .post(format!("{}/admin/subordinates", fed.ta))
        .bearer_auth(common::TOKEN)
        .json(&json!({"entity_id": rp.id, "entity_types": ["openid_relying_party"], "metadata_policy": policy}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    fed.mark(&rp.id).await;
    let url = rp.rp.start_login(&fed.op, LoginRequest::default()).await.unwrap();
    let (status, _, body, loc) = fed.authorize(&url).await;
    assert_eq!((status, loc), (400, None), "{body}");
    assert_eq!(error_of(&body), "unauthorized_client");
    assert!(body.contains("private_key_jwt"), "{body}");
}

#[test]
fn relying_party_and_provider_state_are_send_sync_clone() {
    fn ok<T: Send + Sync + Clone + 'static>() {}
    ok::<spid_cie_oidc::RelyingParty>();
    ok::<spid_cie_oidc::op::OpState>();
}

/// Replaces the `request` of an authorization URL with `edit`ed claims signed by `signer`
/// under the header `kid`.
fn resign(url: &str, kid: &str, signer: &dyn Signer, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    let req = &pairs.iter().find(|(k, _)| k == "request").unwrap().1;
    let mut claims: Map<String, Value> = wallet_core::jose::CompactJws::parse(req).unwrap().payload_json().unwrap();
    edit(&mut claims);
    let jwt = jws::sign_json(&JwsHeader::new(JwsAlg::Rs256).with_kid(Some(kid.to_owned())), &claims, signer).unwrap();
    u.query_pairs_mut().clear();
    for (k, v) in pairs {
        u.query_pairs_mut().append_pair(&k, if k == "request" { &jwt } else { &v });
    }
    u.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_object_refusals() {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("rp", true, true).await;
    let key = rp.rp.keys().sig.clone();
    let kid = key.kid().to_owned();
    let signer = key.signer(JwsAlg::Rs256);

    // Bad signature: another key under the RP's kid. Not trusted, so not redirected.
    let forger = spid_cie_oidc::keys::RsaKey::generate(spid_cie_oidc::keys::RsaBits::B2048).unwrap();
    let url = rp.rp.start_login(&fed.op, LoginRequest::default()).await.unwrap();
    let (status, _, body, loc) = fed.authorize(&resign(&url, &kid, &forger.signer(JwsAlg::Rs256), |_| {})).await;
    assert_eq!((status, loc, error_of(&body)), (400, None, "invalid_request_object".into()));

    // Wrong aud: signed by the RP, so redirected to its redirect_uri with the code and state.
    let url = rp.rp.start_login(&fed.op, LoginRequest::default()).await.unwrap();
    let (status, _, _, loc) = fed.authorize(&resign(&url, &kid, &signer, |c| {
        c.insert("aud".into(), json!(["https://another-op.example.it"]));
    }))
    .await;
    let loc = loc.unwrap();
    assert_eq!(status, 302);
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request_object"));
    assert_eq!(param(&loc, "state"), param(&url, "request").map(|r| {
        let c: Value = wallet_core::jose::CompactJws::parse(&r).unwrap().payload_json().unwrap();
        c["state"].as_str().unwrap().to_owned()
    }));

    // No PKCE: code_challenge missing, or a method other than S256.
    for edit in [
        Box::new(|c: &mut Map<String, Value>| {
            c.remove("code_challenge");
        }) as Box<dyn FnOnce(&mut Map<String, Value>)>,
        Box::new(|c: &mut Map<String, Value>| {
            c.insert("code_challenge_method".into(), json!("plain"));
        }),
    ] {
        let url = rp.rp.start_login(&fed.op, LoginRequest::default()).await.unwrap();
        let (status, _, _, loc) = fed.authorize(&resign(&url, &kid, &signer, edit)).await;
        assert_eq!(status, 302);
        assert_eq!(param(&loc.unwrap(), "error").as_deref(), Some("invalid_request"));
    }

    // A redirect_uri the RP does not have: 400, never a redirect.
    let url = rp.rp.start_login(&fed.op, LoginRequest::default()).await.unwrap();
    let (status, _, body, loc) = fed.authorize(&resign(&url, &kid, &signer, |c| {
        c.insert("redirect_uri".into(), json!("https://evil.example/cb"));
    }))
    .await;
    assert_eq!((status, loc, error_of(&body)), (400, None, "invalid_request".into()));

    // No request object at all.
    let (status, _, body, _) = fed.authorize(&format!("{}/authorization?client_id={}&response_type=code&scope=openid", fed.op, rp.id)).await;
    assert_eq!((status, error_of(&body)), (400, "invalid_request".into()));
}

/// Walks a login up to the code; returns (code, redirect_uri).
async fn code_for(fed: &Fed, rp: &common::Rp) -> (String, String) {
    let url = rp.rp.start_login(&fed.op, LoginRequest::default()).await.unwrap();
    let page = fed.authorize(&url).await.2;
    let loc = fed.login(&page, MARIO, Acr::SpidL2.as_str()).await;
    (param(&loc, "code").unwrap(), format!("{}/callback", rp.id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_code_verifier_and_replayed_assertion() {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("rp", true, true).await;
    let token_endpoint = format!("{}/token", fed.op);

    let (code, redirect_uri) = code_for(&fed, &rp).await;
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", "a".repeat(43)),
    ];
    form.extend(rp.rp.client_auth(&token_endpoint).unwrap());
    let r = fed.http.post(&token_endpoint).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("code_verifier"), "{body}");

    // The same client assertion twice: the second is a replay.
    let auth = rp.rp.client_auth(&token_endpoint).unwrap();
    let mut form = vec![("grant_type", "authorization_code".to_owned()), ("code", "unknown".to_owned()), ("code_verifier", "b".repeat(43))];
    form.extend(auth);
    let r = fed.http.post(&token_endpoint).form(&form).send().await.unwrap();
    assert_eq!((r.status().as_u16(), error_of(&r.text().await.unwrap())), (400, "invalid_grant".into()));
    let r = fed.http.post(&token_endpoint).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(body["error_description"].as_str().unwrap().contains("replayed"), "{body}");
}

/// The login-page contract's error answers: a level below the lowest requested or an unknown
/// identity is redirected as `access_denied`; an unknown session is 400 HTML, not a redirect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_page_refusals() {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("rp", true, true).await;
    let session_of = |page: &str| page.split("name=\"session\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let post = |form: Vec<(&'static str, String)>| {
        let (http, url) = (fed.http.clone(), format!("{}/login", fed.op));
        async move { http.post(url).form(&form).send().await.unwrap() }
    };
    for (fiscal, acr) in [(MARIO, Acr::SpidL1.as_str()), ("TINIT-XXXXXX00X00X000X", Acr::SpidL3.as_str())] {
        let url = rp.rp.start_login(&fed.op, request_with(false, Acr::SpidL2)).await.unwrap();
        let page = fed.authorize(&url).await.2;
        let r = post(vec![("session", session_of(&page)), ("fiscal_number", fiscal.into()), ("acr", acr.into())]).await;
        assert_eq!(r.status(), 302);
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"), "{fiscal} {acr}");
        let err = rp.rp.finish_login(&query(&loc)).await.unwrap_err();
        assert!(matches!(err, RpError::Authorization { ref error, .. } if error == "access_denied"), "{err:?}");
    }
    let r = post(vec![("session", "nope".into()), ("fiscal_number", MARIO.into()), ("acr", Acr::SpidL2.as_str().into())]).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    assert!(v["error_description"].as_str().unwrap().contains("login session unknown"), "{v}");
}
