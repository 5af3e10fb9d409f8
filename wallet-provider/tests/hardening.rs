//! Issue 10 over loopback HTTP: each attack or bad input fed to the real provider, each
//! refusal asserted with its status and code.
//!
//! * item 6: every route answers malformed input (wrong content type, bad JSON, bad query,
//!   wrong method, unknown route) in the JSON error form with IT-Wallet's codes;
//! * item 8: the database file is private; a citizen's instances are limited;
//! * item 13 (ALL-007): no forbidden algorithm in the Entity Configuration;
//! * item 14 (WP_002h): `federation_entity` and `wallet_metadata` as IT-Wallet 1.4 has them;
//! * item 15 (WP_008): the PDND e-service revokes a deceased citizen's instances, and
//!   refuses bad vouchers;
//! * item 16 (WP_020): attestations are signed under a protocol certificate valid at most
//!   24 h that covers them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{APP_REDIRECT, Fed, Wallet};
use serde_json::{Value, json};
use wallet_core::attestation::{DEFAULT_SKEW, verify_waa, verify_wua};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{CompactJws, JwsAlg, JwsHeader, Signer as _, SoftwareSigner};
use wallet_core::status::{DEFAULT_MAX_DECOMPRESSED, StatusListToken, StatusValue};
use wallet_core::time::UnixTime;
use wallet_provider::config::PdndConfig;

const MARIO: &str = "TINIT-RSSMRA80A01H501U";
const LUIGI: &str = "TINIT-RSSLGU82B02H501X";

/// Status, `error`, whether `error_description` is a non-empty string, and the content type.
async fn refusal(r: reqwest::RequestBuilder) -> (u16, String, bool, String) {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, v["error"].as_str().unwrap_or_default().to_owned(), v["error_description"].as_str().is_some_and(|d| !d.is_empty()), ct)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_bad_input_as_json_with_the_specs_codes() {
    let fed = Fed::with_op().await;
    let h = &fed.http;
    let session = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let u = |p: &str| fed.url(p);
    let text = |b: reqwest::RequestBuilder| b.header("content-type", "text/plain").body("{}");
    let bad = |b: reqwest::RequestBuilder| b.header("content-type", "application/json").body("{\"nonce\":");
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        // Wrong content type.
        ("register, text/plain", text(h.post(u("/wallet-instances")).bearer_auth(&session)), 415, "bad_request"),
        ("instance-initialization, text/plain", text(h.post(u("/instance-initialization")).bearer_auth(&session)), 415, "bad_request"),
        ("revoke, text/plain", text(h.patch(u("/wallet-instances/x")).bearer_auth(&session)), 415, "bad_request"),
        ("attestation, text/plain", text(h.post(u("/wallet-attestation"))), 415, "bad_request"),
        ("session, text/plain", text(h.post(u("/citizen/session"))), 415, "bad_request"),
        ("admin revoke, text/plain", text(h.post(u("/admin/wallet-instances/revoke")).bearer_auth(common::TOKEN)), 415, "bad_request"),
        // Bad JSON, and JSON of the wrong shape.
        ("register, bad JSON", bad(h.post(u("/wallet-instances")).bearer_auth(&session)), 400, "bad_request"),
        ("revoke, bad JSON", bad(h.patch(u("/wallet-instances/x")).bearer_auth(&session)), 400, "bad_request"),
        ("attestation, bad JSON", bad(h.post(u("/wallet-attestation"))), 400, "bad_request"),
        ("attestation, wrong shape", h.post(u("/wallet-attestation")).json(&json!({"assertion": 7})), 400, "bad_request"),
        ("session, bad JSON", bad(h.post(u("/citizen/session"))), 400, "bad_request"),
        ("admin revoke, bad JSON", bad(h.post(u("/admin/wallet-instances/revoke")).bearer_auth(common::TOKEN)), 400, "bad_request"),
        ("admin revoke, unknown field", h.post(u("/admin/wallet-instances/revoke")).bearer_auth(common::TOKEN).json(&json!({"who": 1})), 400, "bad_request"),
        // Bad query (a parameter given twice).
        ("login, repeated redirect_uri", h.get(format!("{}?redirect_uri=a&redirect_uri=b", u("/citizen/login"))), 400, "bad_request"),
        // Wrong methods.
        ("nonce, POST", h.post(u("/nonce")), 405, "bad_request"),
        ("instance, PUT", h.put(u("/wallet-instances/x")).bearer_auth(&session), 405, "bad_request"),
        ("attestation, GET", h.get(u("/wallet-attestation")), 405, "bad_request"),
        ("status list, DELETE", h.delete(u("/status-list")), 405, "bad_request"),
        ("login, POST", h.post(u("/citizen/login")), 405, "bad_request"),
        ("callback, POST", h.post(u("/citizen/callback")), 405, "bad_request"),
        ("session, GET", h.get(u("/citizen/session")), 405, "bad_request"),
        ("admin revoke, GET", h.get(u("/admin/wallet-instances/revoke")), 405, "bad_request"),
        ("health, POST", h.post(u("/health")), 405, "bad_request"),
        ("metrics, POST", h.post(u("/metrics")), 405, "bad_request"),
        ("openapi, POST", h.post(u("/openapi.json")), 405, "bad_request"),
        ("logo, POST", h.post(u("/logo.svg")), 405, "bad_request"),
        ("policy, POST", h.post(u("/policy")), 405, "bad_request"),
        ("PDND e-service, GET", h.get(u("/e-service/notify-user-death")), 405, "bad_request"),
        // Unknown routes (the federation entity behind ours answers them).
        ("unknown route", h.get(u("/no/such/route")), 404, "not_found"),
        // The PDND e-service is not configured here.
        ("PDND e-service, not configured", h.post(u("/e-service/notify-user-death")).json(&json!({})), 404, "not_found"),
    ];
    for (name, req, status, code) in cases {
        let (s, c, described, ct) = refusal(req).await;
        assert_eq!((s, c.as_str()), (status, code), "{name}");
        assert!(described, "{name}: error_description");
        assert!(ct.starts_with("application/json"), "{name}: {ct}");
    }
    let good = h.get(u("/citizen/login")).query(&[("redirect_uri", APP_REDIRECT), ("state", "x")]).send().await.unwrap();
    assert_eq!(good.status(), 302, "a good login still redirects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_is_private_and_a_citizens_instances_are_limited() {
    let fed = Fed::with(|c| c.max_instances_per_citizen = 2).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let db = fed.dir.path().join("wp").join("wallet-provider.sqlite");
        assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600, "{}", db.display());
    }
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let (a, b, c) = (Wallet::new(), Wallet::new(), Wallet::new());
    assert_eq!(fed.register(&a, &token).await.0, 204);
    assert_eq!(fed.register(&b, &token).await.0, 204);
    let (status, body) = fed.register(&c, &token).await;
    assert_eq!((status, body["error"].as_str()), (422, Some("validation_error")), "{body}");
    let d = body["error_description"].as_str().unwrap();
    assert!(d.contains("2 active wallet instances") && d.contains("max_instances_per_citizen"), "{d}");
    // Another citizen is not affected; a revoked instance frees a place.
    let luigi = fed.provider.state.insecure_create_session(LUIGI).unwrap();
    assert_eq!(fed.register(&c, &luigi).await.0, 204);
    let path = fed.url(&format!("/wallet-instances/{}", a.hardware.as_str()));
    assert_eq!(Fed::json(fed.http.patch(&path).bearer_auth(&token).json(&json!({"status": "REVOKED"}))).await.0, 204);
    assert_eq!(fed.register(&Wallet::new(), &token).await.0, 204);
}

/// The algorithms IT-Wallet 1.4 forbids (`algorithms.rst`, MUST NOT), stated here
/// independently of the provider's own list.
const FORBIDDEN: [&str; 7] = ["none", "RSA_1_5", "RSA1_5", "RSA-OAEP", "HS256", "HS384", "HS512"];

fn advertised_algorithms(v: &Value, key_is_alg: bool, out: &mut Vec<(String, String)>, path: &str) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                advertised_algorithms(v, k.contains("_alg") || k.contains("_enc") || k == "alg" || k == "enc", out, &format!("{path}.{k}"));
            }
        }
        Value::Array(a) => a.iter().for_each(|v| advertised_algorithms(v, key_is_alg, out, path)),
        Value::String(s) if key_is_alg => out.push((path.to_owned(), s.clone())),
        _ => {}
    }
}

async fn entity_configuration(fed: &Fed) -> Value {
    let ec = fed.http.get(fed.url("/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap();
    CompactJws::parse(&ec).unwrap().payload_json().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_007_no_forbidden_algorithm_is_advertised() {
    let fed = Fed::with_op().await;
    let ec = entity_configuration(&fed).await;
    let mut algs = Vec::new();
    advertised_algorithms(&ec["metadata"], false, &mut algs, "metadata");
    let names: Vec<&str> = algs.iter().map(|(p, _)| p.as_str()).collect();
    assert!(names.contains(&"metadata.openid_relying_party.userinfo_encrypted_response_alg"), "{names:?}");
    assert!(names.contains(&"metadata.wallet_solution.wallet_metadata.request_object_signing_alg_values_supported"), "{names:?}");
    for (path, alg) in &algs {
        assert!(!FORBIDDEN.iter().any(|f| f.eq_ignore_ascii_case(alg)), "{path} = {alg} is forbidden by IT-Wallet 1.4");
        assert!(!wallet_core::jose::alg::it_wallet_forbidden(alg), "{path} = {alg}");
    }
    assert_eq!(ec["metadata"]["openid_relying_party"]["userinfo_encrypted_response_alg"], json!("RSA-OAEP-256"));
    // And the JWKs' own `alg` members.
    for (path, alg) in algs.iter().filter(|(p, _)| p.ends_with(".alg")) {
        assert!(!FORBIDDEN.contains(&alg.as_str()), "{path}");
    }
    assert!(wallet_provider::forbidden_algorithms(&ec["metadata"]).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wp_002h_federation_entity_and_wallet_metadata_as_it_wallet_1_4_has_them() {
    let fed = Fed::with_op().await;
    let ec = entity_configuration(&fed).await;
    let fe = &ec["metadata"]["federation_entity"];
    for k in ["organization_name", "homepage_uri", "policy_uri", "logo_uri", "federation_resolve_endpoint"] {
        assert!(fe[k].as_str().is_some_and(|v| !v.is_empty()), "federation_entity.{k}: {fe}");
    }
    assert!(fe["contacts"].as_array().is_some_and(|c| !c.is_empty() && c.iter().all(Value::is_string)), "{fe}");
    assert!(fe["logo_uri"].as_str().unwrap().ends_with(".svg"));
    // The defaults point at what the provider serves.
    for k in ["homepage_uri", "policy_uri", "logo_uri"] {
        let r = fed.http.get(fe[k].as_str().unwrap()).send().await.unwrap();
        assert_eq!(r.status(), 200, "{k}");
    }
    let ws = &ec["metadata"]["wallet_solution"];
    assert!(ws["jwks"]["keys"].as_array().is_some_and(|k| !k.is_empty()));
    assert!(ws["jwks_uri"].is_null() && ws["signed_jwks_uri"].is_null(), "exactly one of jwks, jwks_uri, signed_jwks_uri");
    assert!(ws["logo_uri"].as_str().unwrap().ends_with(".svg"));
    let wm = &ws["wallet_metadata"];
    for k in ["wallet_name", "credential_offer_endpoint"] {
        assert!(wm[k].as_str().is_some_and(|v| !v.is_empty()), "wallet_metadata.{k}: {wm}");
    }
    for k in ["client_id_prefixes_supported", "response_types_supported", "response_modes_supported", "request_object_signing_alg_values_supported"] {
        assert!(wm[k].as_array().is_some_and(|v| !v.is_empty()), "wallet_metadata.{k}: {wm}");
    }
    assert_eq!(wm["response_types_supported"], json!(["vp_token"]));
    let vp = &wm["vp_formats_supported"];
    for k in ["sd-jwt_alg_values", "kb-jwt_alg_values"] {
        assert!(vp["dc+sd-jwt"][k].as_array().is_some_and(|v| !v.is_empty()), "dc+sd-jwt.{k}");
    }
    for k in ["issuerauth_alg_values", "deviceauth_alg_values"] {
        let v = vp["mso_mdoc"][k].as_array().unwrap_or_else(|| panic!("mso_mdoc.{k}: {vp}"));
        // COSE algorithm ids (IT-Wallet 1.4: ESP256 -9, ESP384 -51, ESP512 -52).
        assert!(!v.is_empty() && v.iter().all(|a| [-9, -51, -52].contains(&a.as_i64().unwrap())), "mso_mdoc.{k}: {v:?}");
    }
    assert!(vp["mso_mdoc"]["alg"].is_null(), "1.3's `alg` is gone in 1.4");
}

struct Pdnd {
    key: SoftwareSigner,
    audience: String,
}

impl Pdnd {
    fn voucher(&self, tweak: impl FnOnce(&mut Value)) -> String {
        self.signed_by(&self.key, tweak)
    }

    fn signed_by(&self, key: &SoftwareSigner, tweak: impl FnOnce(&mut Value)) -> String {
        let now = UnixTime::now().secs();
        let mut c = json!({"iss": "interop.pagopa.it", "sub": "interop.pagopa.it", "aud": self.audience, "iat": now, "nbf": now, "exp": now + 300,
                           "jti": format!("{:x}", rand_u64()), "client_id": "pid-provider-1", "purposeId": "notify-user-death"});
        tweak(&mut c);
        let h = JwsHeader::new(JwsAlg::Es256).with_typ("at+jwt").with_kid(self.key.kid());
        wallet_core::jose::jws::sign_json(&h, &c, key).unwrap()
    }
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wp_008_the_pid_provider_revokes_a_deceased_citizens_instances_through_pdnd() {
    let key = SoftwareSigner::generate().unwrap();
    let jwks = JwkSet { keys: vec![key.public_jwk()] };
    let fed = Fed::with(|c| {
        c.pdnd = Some(PdndConfig {
            issuer: "interop.pagopa.it".into(),
            jwks,
            audience: c.endpoint("/e-service/notify-user-death"),
            client_ids: vec!["pid-provider-1".into()],
            purpose_ids: vec!["notify-user-death".into()],
            max_lifetime: 600,
        })
    })
    .await;
    let pdnd = Pdnd { key, audience: fed.url("/e-service/notify-user-death") };
    let url = fed.url("/e-service/notify-user-death");
    let notice = json!({"fiscal_number": MARIO, "reason": "ANPR death notification 2026-0001"});

    // Mario has two active instances (one attested) and a revoked one; Luigi has one.
    let mario = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let (one, two, gone) = (Wallet::new(), Wallet::new(), Wallet::new());
    for w in [&one, &two, &gone] {
        assert_eq!(fed.register(w, &mario).await.0, 204);
    }
    let path = fed.url(&format!("/wallet-instances/{}", gone.hardware.as_str()));
    assert_eq!(Fed::json(fed.http.patch(&path).bearer_auth(&mario).json(&json!({"status": "REVOKED"}))).await.0, 204);
    let luigi_wallet = Wallet::new();
    let luigi = fed.provider.state.insecure_create_session(LUIGI).unwrap();
    assert_eq!(fed.register(&luigi_wallet, &luigi).await.0, 204);
    let (status, body) = fed.attest(&one).await;
    assert_eq!(status, 200, "{body}");
    let wua = verify_wua(&Fed::attestations(body).wallet_attestations.wallet_unit_attestation, &fed.x5c_resolver(), UnixTime::now(), DEFAULT_SKEW).unwrap();
    let wua_status = || async {
        let reference = wua.status().clone();
        let r = fed.http.get(&reference.uri).send().await.unwrap();
        let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        let body = r.bytes().await.unwrap();
        StatusListToken::verify_response(ct.as_deref(), &body, &reference, &fed.x5c_resolver(), UnixTime::now(), 60, DEFAULT_MAX_DECOMPRESSED)
            .unwrap()
            .lookup(reference.idx)
            .unwrap()
    };
    assert_eq!(wua_status().await, StatusValue::Valid);

    // Refusals, each before anything is revoked.
    let other = SoftwareSigner::generate().unwrap();
    let expired = pdnd.voucher(|c| {
        let now = UnixTime::now().secs();
        c["iat"] = json!(now - 400);
        c["nbf"] = json!(now - 400);
        c["exp"] = json!(now - 100);
    });
    let cases: Vec<(&str, Option<String>, u16, &str, &str)> = vec![
        ("missing voucher", None, 401, "unauthorized", "no voucher"),
        ("forged (PDND's kid, another key)", Some(pdnd.signed_by(&other, |_| {})), 401, "unauthorized", "signature invalid"),
        ("expired", Some(expired), 401, "unauthorized", "has passed"),
        ("wrong aud", Some(pdnd.voucher(|c| c["aud"] = json!("https://other-provider.example.it/e-service"))), 401, "unauthorized", "aud"),
        ("wrong iss", Some(pdnd.voucher(|c| c["iss"] = json!("https://not-pdnd.example"))), 401, "unauthorized", "iss"),
        ("unknown client", Some(pdnd.voucher(|c| c["client_id"] = json!("someone-else"))), 403, "forbidden", "client_id"),
        ("purpose not allowed", Some(pdnd.voucher(|c| c["purposeId"] = json!("marketing"))), 403, "forbidden", "purposeId"),
        ("exp = i64::MAX, iat = -1", Some(pdnd.voucher(|c| {
            c["exp"] = json!(i64::MAX);
            c["iat"] = json!(-1);
        })), 401, "unauthorized", "iat"),
    ];
    for (name, voucher, status, code, says) in cases {
        let mut req = fed.http.post(&url).json(&notice);
        if let Some(v) = voucher {
            req = req.bearer_auth(v);
        }
        let (s, body) = Fed::json(req).await;
        assert_eq!((s, body["error"].as_str()), (status, Some(code)), "{name}: {body}");
        assert!(body["error_description"].as_str().unwrap().contains(says), "{name}: {body}");
    }
    // A valid voucher with a malformed body: 400 (the voucher is checked first).
    let (s, body) = Fed::json(fed.http.post(&url).bearer_auth(pdnd.voucher(|_| {})).json(&json!({"fiscal_number": "nobody", "reason": "x"}))).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("bad_request")), "{body}");
    let (s, body) = Fed::json(fed.http.post(&url).bearer_auth(pdnd.voucher(|_| {})).header("content-type", "application/json").body("{")).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("bad_request")), "{body}");
    assert_eq!(wua_status().await, StatusValue::Valid, "nothing revoked by a refused request");

    // The valid request: both active instances revoked, the WUA invalid, Luigi untouched.
    let voucher = pdnd.voucher(|_| {});
    let (s, body) = Fed::json(fed.http.post(&url).bearer_auth(&voucher).json(&notice)).await;
    assert_eq!((s, body), (200, json!({"revoked": 2})));
    assert_eq!(wua_status().await, StatusValue::Invalid);
    let (_, list) = Fed::json(fed.http.get(fed.url("/wallet-instances")).bearer_auth(&mario)).await;
    assert!(list.as_array().unwrap().iter().all(|i| i["status"] == json!("REVOKED")), "{list}");
    let (_, list) = Fed::json(fed.http.get(fed.url("/wallet-instances")).bearer_auth(&luigi)).await;
    assert_eq!(list[0]["status"], json!("ACTIVE"));
    let (status, body) = fed.attest(&two).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")));

    // The same voucher again: a replay.
    let (s, body) = Fed::json(fed.http.post(&url).bearer_auth(&voucher).json(&notice)).await;
    assert_eq!((s, body["error"].as_str()), (401, Some("unauthorized")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("already used"), "{body}");
    // A fresh voucher, nothing left to revoke (the bare code is accepted too).
    let (s, body) = Fed::json(fed.http.post(&url).bearer_auth(pdnd.voucher(|_| {})).json(&json!({"fiscal_number": "RSSMRA80A01H501U", "reason": "again"}))).await;
    assert_eq!((s, body), (200, json!({"revoked": 0})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wp_020_attestations_are_signed_under_a_protocol_certificate_of_at_most_24_hours() {
    use x509_parser::prelude::{FromDer as _, X509Certificate};
    let fed = Fed::new().await;
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let wallet = Wallet::new();
    assert_eq!(fed.register(&wallet, &token).await.0, 204);
    let (status, body) = fed.attest(&wallet).await;
    assert_eq!(status, 200, "{body}");
    let att = Fed::attestations(body);
    let now = UnixTime::now();
    // The chain still verifies to the federation root (wallet-core::x509).
    let waa = verify_waa(&att.wallet_attestations.wallet_app_attestation, &fed.x5c_resolver(), now, DEFAULT_SKEW).unwrap();
    let x5c = waa.header().x5c.clone().unwrap();
    let der = base64_std(&x5c[0]);
    let (_, leaf) = X509Certificate::from_der(&der).unwrap();
    let (nb, na) = (leaf.validity().not_before.timestamp(), leaf.validity().not_after.timestamp());
    assert!(na - nb <= 86_400, "validity {} s", na - nb);
    assert!(!leaf.is_ca());
    let (iat, exp) = (waa.claims().iat.unwrap(), waa.claims().exp);
    assert!(nb <= iat && exp <= na, "the certificate [{nb}, {na}] covers the WAA [{iat}, {exp}]");
    // No CRL distribution point is needed at this validity, and none is named.
    assert!(leaf.extensions().iter().all(|e| e.oid.to_id_string() != "2.5.29.31"));
    // The WUA is signed by the same key under the same certificate.
    let wua = verify_wua(&att.wallet_attestations.wallet_unit_attestation, &fed.x5c_resolver(), now, DEFAULT_SKEW).unwrap();
    assert_eq!(wua.header().x5c.as_ref().unwrap()[0], x5c[0]);

    // Rotation: later, a new certificate for the same key, again at most 24 h.
    let keys = fed.provider.state.keys();
    let m1 = keys.material(now).await.unwrap();
    let later = UnixTime(now.secs() + 13 * 3_600);
    let m2 = keys.material(later).await.unwrap();
    assert_ne!(m1.x5c[0], m2.x5c[0], "re-issued before it would end within what is signed");
    assert!(m2.cert_not_after >= later.secs() + 12 * 3_600 && m2.cert_not_after - later.secs() <= 86_400);
    let der2 = base64_std(&m2.x5c[0]);
    let (_, leaf2) = X509Certificate::from_der(&der2).unwrap();
    assert_eq!(leaf2.public_key().raw, leaf.public_key().raw, "the key is kept");
    assert_eq!(m1.x5c[1..], m2.x5c[1..], "same CA chain");
}

fn base64_std(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
