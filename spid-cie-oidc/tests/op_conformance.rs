//! The test OpenID Provider against the checks the AgID `spid-oidc-check-op` tool and the
//! django reference OP make (digest §B.6), with requests built by hand as those tools build
//! them. Test names carry check-op's ids.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod common;

use common::{Fed, MARIO, NONCE, Req, STATE, VERIFIER, assertion, code, error_of, param, url, valid};
use serde_json::{Map, Value, json};
use spid_cie_oidc::op::Profile;
use spid_cie_oidc::rp::CLIENT_ASSERTION_TYPE;
use wallet_core::federation::ParsedStatement;
use wallet_core::jose::{CompactJws, JwsAlg};
use wallet_core::time::UnixTime;

async fn setup(profile: Profile) -> (Fed, common::Rp) {
    let fed = Fed::new(profile).await;
    let rp = fed.rp("rp", true, true).await;
    (fed, rp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_op_1_2_to_1_5_entity_configuration_and_metadata() {
    let (fed, _) = setup(Profile::Spid).await;
    let r = fed.http.get(format!("{}/.well-known/openid-federation", fed.op)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/entity-statement+jwt");
    let ec = ParsedStatement::parse(&r.text().await.unwrap()).unwrap();
    ec.verify_with(&ec.claims.jwks).unwrap();
    assert!(ec.claims.authority_hints.unwrap().contains(&fed.ta));
    let md = &ec.claims.metadata.unwrap()["openid_provider"];
    for k in ["issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks"] {
        assert!(md.get(k).is_some(), "{k}");
    }
    assert!(md.get("jwks_uri").is_none(), "jwks instead of jwks_uri");
    assert_eq!(md["revocation_endpoint_auth_methods_supported"], json!(["private_key_jwt"]));
    assert_eq!(md["token_endpoint_auth_methods_supported"], json!(["private_key_jwt"]));
    assert_eq!(md["response_types_supported"], json!(["code"]));
    assert_eq!(md["subject_types_supported"], json!(["pairwise"]));
    assert_eq!(md["client_registration_types_supported"], json!(["automatic"]));
    assert_eq!(md["acr_values_supported"], json!(["https://www.spid.gov.it/SpidL1", "https://www.spid.gov.it/SpidL2", "https://www.spid.gov.it/SpidL3"]));
    assert!(md["code_challenge_methods_supported"].as_array().unwrap().contains(&json!("S256")));
    assert_eq!((md["claims_parameter_supported"].clone(), md["request_parameter_supported"].clone()), (json!(true), json!(true)));
    for list in ["id_token_signing_alg_values_supported", "userinfo_signing_alg_values_supported", "request_object_signing_alg_values_supported", "token_endpoint_auth_signing_alg_values_supported"] {
        let algs: Vec<&str> = md[list].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(algs.contains(&"RS256") && algs.contains(&"RS512"), "{list}");
        assert!(!algs.iter().any(|a| *a == "none" || a.starts_with("HS") || *a == "RSA1_5"), "{list}");
    }
    // SPID: no id_token encryption lists (Avviso n.41), no request object encryption.
    for k in ["id_token_encryption_alg_values_supported", "request_object_encryption_alg_values_supported"] {
        assert!(md.get(k).is_none(), "{k}");
    }
    // Core keys: RSA, ≥ 2048 bits, kid = thumbprint, sig and enc.
    let jwks: wallet_core::jose::jwk::JwkSet = serde_json::from_value(md["jwks"].clone()).unwrap();
    for k in &jwks.keys {
        assert_eq!(k.kid.as_deref(), Some(k.thumbprint().as_str()));
    }
    let uses: Vec<_> = jwks.keys.iter().map(|k| k.key_use.clone().unwrap()).collect();
    assert_eq!(uses, ["sig", "enc"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_op_2_0_to_2_2_valid_requests_and_2_4_response() {
    let (fed, rp) = setup(Profile::Spid).await;
    let variants: [(&str, &str, &str); 3] = [
        ("consent login", "openid offline_access", "https://www.spid.gov.it/SpidL2"),
        ("consent", "openid", "https://www.spid.gov.it/SpidL3 https://www.spid.gov.it/SpidL1"),
        ("consent", "openid offline_access", "https://www.spid.gov.it/SpidL1 https://www.spid.gov.it/SpidL2"),
    ];
    for (prompt, scope, acr) in variants {
        let mut r = valid(&fed, &rp);
        r.claims.insert("prompt".into(), json!(prompt));
        r.claims.insert("scope".into(), json!(scope));
        r.claims.insert("acr_values".into(), json!(acr));
        r.query.retain(|(k, _)| k != "scope");
        r.query.push(("scope".into(), scope.into()));
        let (status, _, page, _) = fed.authorize(&url(&fed, &rp, &r)).await;
        assert_eq!(status, 200, "{prompt} / {scope} / {acr}: {page}");
        let first = acr.split(' ').next().unwrap();
        assert!(page.contains(&format!("<option value=\"{first}\" selected>")), "preference order kept");
        let loc = fed.login(&page, MARIO, "https://www.spid.gov.it/SpidL3").await;
        // 2.4: code (a UUID) and state.
        let code = param(&loc, "code").unwrap();
        assert_eq!((code.len(), code.as_bytes()[14]), (36, b'4'));
        assert_eq!(param(&loc, "state").as_deref(), Some(STATE));
    }
}

enum Expect {
    /// Answered directly with this status and code.
    Direct(u16, &'static str),
    /// Redirected with this code.
    Redirect(&'static str),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_op_2_1_malformed_requests_are_refused() {
    use Expect::{Direct, Redirect};
    let (fed, rp) = setup(Profile::Spid).await;
    type Edit = Box<dyn Fn(&mut Req)>;
    let rm = |k: &'static str| -> Edit { Box::new(move |r: &mut Req| { r.claims.remove(k); }) };
    let set = |k: &'static str, v: Value| -> Edit { Box::new(move |r: &mut Req| { r.claims.insert(k.into(), v.clone()); }) };
    let q = |k: &'static str, v: Option<&'static str>| -> Edit {
        Box::new(move |r: &mut Req| {
            r.query.retain(|(n, _)| n != k);
            if let Some(v) = v {
                r.query.push((k.into(), v.into()));
            }
        })
    };
    let cases: Vec<(&str, Edit, Expect)> = vec![
        ("client_id param mismatched", q("client_id", Some("https://other.example.it")), Direct(400, "invalid_request")),
        ("client_id param missing (SPID must send it)", q("client_id", None), Redirect("invalid_request")),
        ("response_type param missing (SPID)", q("response_type", None), Redirect("invalid_request")),
        ("response_type param mismatched", q("response_type", Some("id_token")), Redirect("invalid_request")),
        ("response_type missing", rm("response_type"), Redirect("invalid_request")),
        ("response_type not code", set("response_type", json!("token")), Redirect("unsupported_response_type")),
        ("no openid", set("scope", json!("offline_access")), Redirect("invalid_scope")),
        ("scope param differs", q("scope", Some("openid")), Redirect("invalid_scope")),
        ("PKCE method plain", set("code_challenge_method", json!("plain")), Redirect("invalid_request")),
        ("PKCE method missing", rm("code_challenge_method"), Redirect("invalid_request")),
        ("PKCE challenge missing", rm("code_challenge"), Redirect("invalid_request")),
        ("nonce missing", rm("nonce"), Redirect("invalid_request")),
        ("nonce < 32", set("nonce", json!("short0123456789")), Redirect("invalid_request")),
        ("state < 32", set("state", json!("short0123456789")), Redirect("invalid_request")),
        ("bad prompt", set("prompt", json!("login")), Redirect("invalid_request")),
        ("prompt none", set("prompt", json!("none")), Redirect("invalid_request")),
        ("redirect_uri missing", rm("redirect_uri"), Direct(400, "invalid_request")),
        ("redirect_uri untrusted", set("redirect_uri", json!("https://attacker.example/cb")), Direct(400, "invalid_request")),
        ("bad acr_values", set("acr_values", json!("https://www.spid.gov.it/SpidL4")), Redirect("invalid_request")),
        ("acr_values as an object", set("acr_values", json!({"essential": true})), Redirect("invalid_request")),
        ("claims missing (SPID)", rm("claims"), Redirect("invalid_request")),
        ("claims malformed", set("claims", json!({"userinfo": {"given_name": 3}})), Redirect("invalid_request")),
        ("claims in id_token (SPID)", set("claims", json!({"id_token": {"given_name": null}, "userinfo": {}})), Redirect("invalid_request")),
        ("aud of another OP", set("aud", json!("https://op.other.example")), Redirect("invalid_request_object")),
        ("expired", set("exp", json!(UnixTime::now().secs() - 300)), Redirect("invalid_request_object")),
        ("iss not client_id", set("iss", json!("https://other.example.it")), Redirect("invalid_request_object")),
        ("sub present", set("sub", json!("someone")), Redirect("invalid_request")),
    ];
    for (name, edit, expect) in cases {
        let mut r = valid(&fed, &rp);
        edit(&mut r);
        let (status, _, body, loc) = fed.authorize(&url(&fed, &rp, &r)).await;
        match expect {
            Direct(s, code) => {
                assert_eq!((status, loc.as_deref()), (s, None), "{name}: {body}");
                assert_eq!(error_of(&body), code, "{name}");
            }
            Redirect(code) => {
                assert_eq!(status, 302, "{name}: {body}");
                let loc = loc.unwrap();
                assert!(loc.starts_with(&format!("{}/callback?", rp.id)), "{name}");
                assert_eq!(param(&loc, "error").as_deref(), Some(code), "{name}");
                assert_eq!(param(&loc, "iss").as_deref(), Some(fed.op.as_str()), "{name}");
            }
        }
    }
    // `request` absent, not a JWT, or signed by no key of the RP: answered directly.
    let (status, _, body, _) = fed.authorize(&format!("{}/authorization?client_id={}&response_type=code&scope=openid", fed.op, rp.id)).await;
    assert_eq!((status, error_of(&body)), (400, "invalid_request".into()));
    let (status, _, body, _) = fed.authorize(&format!("{}/authorization?client_id={}&request=not.a.jwt", fed.op, rp.id)).await;
    assert_eq!((status, error_of(&body)), (400, "invalid_request_object".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_op_3_token_endpoint_and_4_userinfo() {
    let (fed, rp) = setup(Profile::Spid).await;
    let token_ep = format!("{}/token", fed.op);
    let post = |form: Vec<(&'static str, String)>| {
        let (http, ep) = (fed.http.clone(), token_ep.clone());
        async move { http.post(ep).form(&form).send().await.unwrap() }
    };
    let form = |code: &str, a: String| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("code_verifier", VERIFIER.to_owned()),
            ("redirect_uri", format!("{}/callback", rp.id)),
            ("client_id", rp.id.to_string()),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()),
            ("client_assertion", a),
        ]
    };
    // 3.x client assertion rules (check-op): iat > now + 3 min, exp passed, jti < 16, wrong aud, sub ≠ iss.
    let now = UnixTime::now().secs();
    type ClaimsEdit = Box<dyn FnOnce(&mut Map<String, Value>)>;
    let bad: Vec<(&str, ClaimsEdit)> = vec![
        ("iat ahead", Box::new(move |c| { c.insert("iat".into(), json!(now + 600)); c.insert("exp".into(), json!(now + 660)); })),
        ("expired", Box::new(move |c| { c.insert("exp".into(), json!(now - 120)); c.insert("iat".into(), json!(now - 180)); })),
        ("short jti", Box::new(|c| { c.insert("jti".into(), json!("short")); })),
        ("wrong aud", Box::new(|c| { c.insert("aud".into(), json!("https://other.example/token")); })),
        ("sub differs", Box::new(|c| { c.insert("sub".into(), json!("https://other.example.it")); })),
    ];
    for (name, edit) in bad {
        let c = code(&fed, &rp, "https://www.spid.gov.it/SpidL2").await;
        let r = post(form(&c, assertion(&rp, &token_ep, edit))).await;
        assert_eq!(r.status(), 401, "{name}");
        assert_eq!(error_of(&r.text().await.unwrap()), "invalid_client", "{name}");
    }
    // Missing code_verifier, unsupported grant type.
    let c = code(&fed, &rp, "https://www.spid.gov.it/SpidL2").await;
    let mut f = form(&c, assertion(&rp, &token_ep, |_| {}));
    f.retain(|(k, _)| *k != "code_verifier");
    let r = post(f).await;
    assert_eq!((r.status().as_u16(), error_of(&r.text().await.unwrap())), (400, "invalid_request".into()));
    let mut f = form("x", assertion(&rp, &token_ep, |_| {}));
    f[0].1 = "password".into();
    let r = post(f).await;
    assert_eq!((r.status().as_u16(), error_of(&r.text().await.unwrap())), (400, "unsupported_grant_type".into()));

    // A good exchange: headers, token shapes (§B.3, check-op 3.x).
    let c = code(&fed, &rp, "https://www.spid.gov.it/SpidL3").await;
    let r = post(form(&c, assertion(&rp, &token_ep, |_| {}))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["expires_in"].as_i64().unwrap() <= 900);
    assert!(t["refresh_token"].is_string(), "offline_access + consent");
    let idt = CompactJws::parse(t["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(idt.header().alg, JwsAlg::Rs256);
    assert!(idt.header().kid.is_some());
    let ic: Value = idt.payload_json().unwrap();
    assert_eq!(ic["exp"].as_i64().unwrap() - ic["iat"].as_i64().unwrap(), 300);
    assert_eq!(ic["nbf"], ic["iat"]);
    assert_eq!((ic["acr"].as_str(), ic["nonce"].as_str(), ic["aud"].as_str()), (Some("https://www.spid.gov.it/SpidL3"), Some(NONCE), Some(rp.id.as_str())));
    for k in ["at_hash", "jti", "sub"] {
        assert!(ic[k].is_string(), "{k}");
    }
    assert!(ic.get("given_name").is_none(), "SPID: no attributes in the ID Token");
    let at = CompactJws::parse(t["access_token"].as_str().unwrap()).unwrap();
    assert!(at.header().typ_is("at+jwt"));
    let ac: Value = at.payload_json().unwrap();
    assert_eq!(ac["exp"].as_i64().unwrap() - ac["iat"].as_i64().unwrap(), 900);
    assert_eq!(ac["client_id"], json!(rp.id));
    // The code is single use.
    let r = post(form(&c, assertion(&rp, &token_ep, |_| {}))).await;
    assert_eq!(error_of(&r.text().await.unwrap()), "invalid_grant");

    // 4.x UserInfo: GET, application/jwt, JWE RSA-OAEP/A256CBC-HS512 to the RP's enc key,
    // nested RS256 JWS with kid, sub = the ID Token's, requested claims present.
    let at_s = t["access_token"].as_str().unwrap();
    let r = fed.http.get(format!("{}/userinfo", fed.op)).bearer_auth(at_s).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/jwt");
    let jwe = r.text().await.unwrap();
    let h = spid_cie_oidc::jwe_rsa::parse_header(&jwe).unwrap();
    assert_eq!((h.alg.as_str(), h.enc.as_str(), h.cty.as_deref()), ("RSA-OAEP", "A256CBC-HS512", Some("JWT")));
    assert_eq!(h.kid.as_deref(), Some(rp.rp.keys().enc.kid()));
    let (_, inner) = spid_cie_oidc::jwe_rsa::decrypt(&jwe, &rp.rp.keys().enc).unwrap();
    let jws = CompactJws::parse(std::str::from_utf8(&inner).unwrap()).unwrap();
    assert_eq!(jws.header().alg, JwsAlg::Rs256);
    jws.verify(fed.op_state.keys().sig.public_jwk()).unwrap();
    let u: Value = jws.payload_json().unwrap();
    assert_eq!(u["sub"], ic["sub"]);
    assert_eq!(u["https://attributes.eid.gov.it/fiscal_number"], MARIO);
    for k in ["given_name", "family_name", "email", "iss", "aud", "iat", "exp", "jti"] {
        assert!(u.get(k).is_some(), "{k}");
    }
    assert!(u.get("birthdate").is_none(), "only what was asked");
    // SPID UserInfo is GET only; a bad token is 401 with WWW-Authenticate.
    let r = fed.http.post(format!("{}/userinfo", fed.op)).bearer_auth(at_s).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let r = fed.http.get(format!("{}/userinfo", fed.op)).bearer_auth("nope").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));

    // Introspection (RFC 7662): active for our token, inactive for others.
    let intro = format!("{}/introspection", fed.op);
    let ask = |token: String| {
        let (http, ep, a) = (fed.http.clone(), intro.clone(), assertion(&rp, &intro, |_| {}));
        let id = rp.id.to_string();
        async move {
            let f = [("token", token), ("client_id", id), ("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()), ("client_assertion", a)];
            http.post(ep).form(&f).send().await.unwrap().json::<Value>().await.unwrap()
        }
    };
    let v = ask(at_s.to_owned()).await;
    assert_eq!((v["active"].clone(), v["sub"].clone()), (json!(true), ic["sub"].clone()));
    assert_eq!(ask("unknown".into()).await, json!({"active": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cie_profile_accepts_id_token_claims_and_scopes() {
    let (fed, rp) = setup(Profile::Cie).await;
    let mut r = valid(&fed, &rp);
    r.claims.insert("scope".into(), json!("openid profile email"));
    r.claims.insert("claims".into(), json!({"id_token": {"family_name": {"essential": true}}, "userinfo": {}}));
    r.query.retain(|(k, _)| k != "scope");
    r.query.push(("scope".into(), "openid profile email".into()));
    let (status, _, page, _) = fed.authorize(&url(&fed, &rp, &r)).await;
    assert_eq!(status, 200, "{page}");
    let c = param(&fed.login(&page, MARIO, "https://www.spid.gov.it/SpidL2").await, "code").unwrap();
    let token_ep = format!("{}/token", fed.op);
    let f = [
        ("grant_type", "authorization_code".to_owned()),
        ("code", c),
        ("code_verifier", VERIFIER.to_owned()),
        ("redirect_uri", format!("{}/callback", rp.id)),
        ("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()),
        ("client_assertion", assertion(&rp, &token_ep, |_| {})),
    ];
    let t: Value = fed.http.post(&token_ep).form(&f).send().await.unwrap().json().await.unwrap();
    let ic: Value = CompactJws::parse(t["id_token"].as_str().unwrap()).unwrap().payload_json().unwrap();
    assert_eq!(ic["family_name"], "Rossi", "CIE carries requested attributes in the ID Token");
    // UserInfo through POST (CIE allows it), scopes profile and email expanded.
    let r = fed.http.post(format!("{}/userinfo", fed.op)).bearer_auth(t["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (_, inner) = spid_cie_oidc::jwe_rsa::decrypt(&r.text().await.unwrap(), &rp.rp.keys().enc).unwrap();
    let u: Value = CompactJws::parse(std::str::from_utf8(&inner).unwrap()).unwrap().payload_json().unwrap();
    assert_eq!((u["birthdate"].as_str(), u["email_verified"].as_bool()), (Some("1980-01-01"), Some(true)));
    assert_eq!(u["https://attributes.eid.gov.it/fiscal_number"], MARIO);
}
