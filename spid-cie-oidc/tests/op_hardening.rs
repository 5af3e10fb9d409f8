//! The test OpenID Provider against a hostile client (issue 10): replayed request objects and
//! client assertions, time claims that overflow, malformed input on every route, floods of
//! the login routes, framing of the login page, file modes. Over real HTTP on loopback; each
//! test feeds the attack and asserts the refusal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod common;

use common::{Fed, MARIO, VERIFIER, assertion, code, error_of, param, url, valid};
use serde_json::{Map, Value, json};
use service_kit::RateLimit;
use spid_cie_oidc::op::Profile;
use spid_cie_oidc::rp::CLIENT_ASSERTION_TYPE;
use wallet_core::time::UnixTime;

async fn setup() -> (Fed, common::Rp) {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("rp", true, true).await;
    (fed, rp)
}

/// The error and description of a redirect to the RP (an authorization error after the
/// request object's `redirect_uri` was verified).
fn redirected_error(status: u16, loc: Option<&str>, body: &str) -> (String, String) {
    assert_eq!(status, 302, "{body}");
    let loc = loc.unwrap();
    (param(loc, "error").unwrap(), param(loc, "error_description").unwrap())
}

/// Issue 10 item 4: one signed request object opens one login session, however often it is
/// replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item4_replayed_request_object_is_refused_naming_the_replay() {
    let (fed, rp) = setup().await;
    let r = valid(&fed, &rp);
    let jti = r.claims["jti"].as_str().unwrap().to_owned();
    let u = url(&fed, &rp, &r);
    let (status, _, page, _) = fed.authorize(&u).await;
    assert_eq!(status, 200, "{page}");
    for _ in 0..3 {
        let (status, _, body, loc) = fed.authorize(&u).await;
        let (error, description) = redirected_error(status, loc.as_deref(), &body);
        assert_eq!(error, "invalid_request_object");
        assert_eq!(description, format!("request object replayed: jti {jti} was already used"));
    }
    // By POST too (the same cache).
    let request = url::Url::parse(&u).unwrap().query_pairs().find(|(k, _)| k == "request").unwrap().1.into_owned();
    let r2 = fed.http.post(format!("{}/authorization", fed.op)).form(&[("client_id", rp.id.as_str()), ("response_type", "code"), ("request", &request)]).send().await.unwrap();
    assert_eq!(r2.status(), 302);
    assert_eq!(param(r2.headers()["location"].to_str().unwrap(), "error").as_deref(), Some("invalid_request_object"));
    // The one session it opened still works.
    let loc = fed.login(&page, MARIO, "https://www.spid.gov.it/SpidL2").await;
    assert!(param(&loc, "code").is_some());
}

/// SPID/CIE OIDC §B.2 requires `jti` in the request object: without it (or with a non-string
/// one) there is nothing to make it single use by.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item4_request_object_without_jti_is_refused() {
    let (fed, rp) = setup().await;
    for (name, jti) in [("absent", None), ("a number", Some(json!(7))), ("empty", Some(json!(""))), ("too long", Some(json!("j".repeat(257))))] {
        let mut r = valid(&fed, &rp);
        match jti {
            None => r.claims.remove("jti"),
            Some(v) => r.claims.insert("jti".into(), v),
        };
        let (status, _, body, loc) = fed.authorize(&url(&fed, &rp, &r)).await;
        let (error, description) = redirected_error(status, loc.as_deref(), &body);
        assert_eq!(error, "invalid_request_object", "{name}");
        assert!(description.starts_with("request object jti: "), "{name}: {description}");
    }
}

fn token_form(rp: &common::Rp, code: &str, assertion: String) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("code_verifier", VERIFIER.to_owned()),
        ("redirect_uri", format!("{}/callback", rp.id)),
        ("client_id", rp.id.to_string()),
        ("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()),
        ("client_assertion", assertion),
    ]
}

/// Issue 10 item 4: a client assertion (`private_key_jwt`) is single use by `jti` at /token,
/// /introspection and /revocation: the second use is 401 `invalid_client`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item4_replayed_client_assertion_is_invalid_client() {
    let (fed, rp) = setup().await;
    let token_ep = format!("{}/token", fed.op);
    let a = assertion(&rp, &token_ep, |_| {});
    let c1 = code(&fed, &rp, "https://www.spid.gov.it/SpidL2").await;
    let r = fed.http.post(&token_ep).form(&token_form(&rp, &c1, a.clone())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let at = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let c2 = code(&fed, &rp, "https://www.spid.gov.it/SpidL2").await;
    let r = fed.http.post(&token_ep).form(&token_form(&rp, &c2, a)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client");
    assert!(v["error_description"].as_str().unwrap().starts_with("client assertion replayed: jti "), "{v}");
    for ep in ["introspection", "revocation"] {
        let ep = format!("{}/{ep}", fed.op);
        let a = assertion(&rp, &ep, |_| {});
        let form = [("token", at.clone()), ("client_id", rp.id.to_string()), ("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()), ("client_assertion", a)];
        assert_eq!(fed.http.post(&ep).form(&form).send().await.unwrap().status(), 200, "{ep}");
        let r = fed.http.post(&ep).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 401, "{ep}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_client", "{ep}");
        assert!(v["error_description"].as_str().unwrap().contains("replayed"), "{ep}: {v}");
    }
}

type Edit = Box<dyn Fn(&mut Map<String, Value>)>;

/// The time attacks of issue 10 item 5, each with the claim its refusal must name.
fn time_attacks(max_lifetime: i64) -> Vec<(&'static str, Edit, String)> {
    let now = UnixTime::now().secs();
    let set = |pairs: Vec<(&'static str, Value)>| -> Edit {
        Box::new(move |c: &mut Map<String, Value>| {
            for (k, v) in &pairs {
                c.insert((*k).into(), v.clone());
            }
        })
    };
    vec![
        ("exp = i64::MAX, iat = -1 (exp - iat overflows)", set(vec![("exp", json!(i64::MAX)), ("iat", json!(-1))]), format!("exp {} out of range", i64::MAX)),
        ("iat = -1", set(vec![("iat", json!(-1))]), "iat -1 out of range".into()),
        ("iat = i64::MIN", set(vec![("iat", json!(i64::MIN))]), format!("iat {} out of range", i64::MIN)),
        ("iat in the future", set(vec![("iat", json!(now + 3600)), ("exp", json!(now + 3630))]), format!("iat {} is in the future", now + 3600)),
        ("exp - iat over the limit", set(vec![("iat", json!(now)), ("exp", json!(now + max_lifetime + 1))]), format!("lifetime exp - iat = {} s exceeds the limit of {max_lifetime} s", max_lifetime + 1)),
        ("exp not an integer", set(vec![("exp", json!(1e300))]), "exp is not an integer NumericDate".into()),
        ("iat absent", Box::new(|c: &mut Map<String, Value>| { c.remove("iat"); }), "iat is required".into()),
    ]
}

/// Issue 10 item 5: request objects whose times overflow, are out of range, in the future or
/// too long-lived are refused (`invalid_request_object`), naming the claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item5_request_object_time_attacks_are_refused_naming_the_claim() {
    let (fed, rp) = setup().await;
    for (name, edit, expected) in time_attacks(spid_cie_oidc::op::authorize::MAX_REQUEST_OBJECT_TTL) {
        let mut r = valid(&fed, &rp);
        edit(&mut r.claims);
        let (status, _, body, loc) = fed.authorize(&url(&fed, &rp, &r)).await;
        let (error, description) = redirected_error(status, loc.as_deref(), &body);
        assert_eq!(error, "invalid_request_object", "{name}");
        assert!(description.contains(&expected), "{name}: {description}");
    }
}

/// Issue 10 item 5, the client assertion: each refused with 401 `invalid_client`, naming the
/// claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item5_client_assertion_time_attacks_are_invalid_client_naming_the_claim() {
    let (fed, rp) = setup().await;
    let token_ep = format!("{}/token", fed.op);
    let c = code(&fed, &rp, "https://www.spid.gov.it/SpidL2").await;
    for (name, edit, expected) in time_attacks(spid_cie_oidc::op::token::MAX_ASSERTION_TTL) {
        let r = fed.http.post(&token_ep).form(&token_form(&rp, &c, assertion(&rp, &token_ep, |m| edit(m)))).send().await.unwrap();
        assert_eq!(r.status(), 401, "{name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_client", "{name}");
        assert!(v["error_description"].as_str().unwrap().contains(&expected), "{name}: {v}");
    }
    // The code was never spent by a refused assertion.
    let r = fed.http.post(&token_ep).form(&token_form(&rp, &c, assertion(&rp, &token_ep, |_| {}))).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// Issue 10 item 6: every OP route answers bad input — wrong content type, a malformed or
/// incomplete form, a repeated or missing parameter, a wrong method, an unknown route — in the
/// JSON error form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item6_every_op_route_answers_bad_input_as_json() {
    let (fed, rp) = setup().await;
    let op = fed.op.to_string();
    let form = "application/x-www-form-urlencoded";
    let acr = "https://www.spid.gov.it/SpidL2";
    let login_body = format!("fiscal_number={MARIO}&acr={acr}");
    // (name, method, path, content type, body, status, error, words in the description)
    type Case<'a> = (&'a str, &'a str, String, Option<&'a str>, String, u16, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("authorization: no request", "GET", "/authorization?client_id=x".into(), None, String::new(), 400, "invalid_request", "request parameter"),
        ("authorization: repeated parameter", "GET", format!("/authorization?client_id={0}&client_id={0}&request=a.b.c", rp.id), None, String::new(), 400, "invalid_request", "client_id is repeated"),
        ("authorization: request not a JWT", "GET", "/authorization?request=%ZZ&x".into(), None, String::new(), 400, "invalid_request_object", "malformed JWT"),
        ("authorization: JSON body", "POST", "/authorization".into(), Some("application/json"), "{}".into(), 415, "invalid_request", "application/x-www-form-urlencoded"),
        ("authorization: no content type", "POST", "/authorization".into(), None, "request=x".into(), 415, "invalid_request", "Content-Type"),
        ("authorization: wrong method", "PUT", "/authorization".into(), None, String::new(), 405, "invalid_request", "method PUT not allowed"),
        ("login: JSON body", "POST", "/login".into(), Some("application/json"), "{}".into(), 415, "invalid_request", "invalid form body"),
        ("login: missing session", "POST", "/login".into(), Some(form), login_body.clone(), 400, "invalid_request", "missing field `session`"),
        ("login: unknown session", "POST", "/login".into(), Some(form), format!("session=nope&{login_body}"), 400, "invalid_request", "login session unknown"),
        ("login: GET", "GET", "/login".into(), None, String::new(), 405, "invalid_request", "method GET not allowed"),
        ("token: text body", "POST", "/token".into(), Some("text/plain"), "grant_type=x".into(), 415, "invalid_request", "invalid form body"),
        ("token: no client authentication", "POST", "/token".into(), Some(form), "grant_type=authorization_code&code=x".into(), 401, "invalid_client", "private_key_jwt"),
        ("token: repeated parameter", "POST", "/token".into(), Some(form), "code=a&code=b".into(), 400, "invalid_request", "code is repeated"),
        ("token: wrong method", "GET", "/token".into(), None, String::new(), 405, "invalid_request", "method GET not allowed"),
        ("userinfo: no token", "GET", "/userinfo".into(), None, String::new(), 401, "invalid_token", "bearer access token"),
        ("userinfo: POST on SPID", "POST", "/userinfo".into(), None, String::new(), 405, "invalid_request", "GET only"),
        ("introspection: JSON body", "POST", "/introspection".into(), Some("application/json"), "{}".into(), 415, "invalid_request", "invalid form body"),
        ("introspection: no client authentication", "POST", "/introspection".into(), Some(form), "token=x".into(), 401, "invalid_client", "private_key_jwt"),
        ("revocation: no content type", "POST", "/revocation".into(), None, "token=x".into(), 415, "invalid_request", "invalid form body"),
        ("revocation: wrong method", "DELETE", "/revocation".into(), None, String::new(), 405, "invalid_request", "method DELETE not allowed"),
        ("unknown route", "GET", "/nope".into(), None, String::new(), 404, "not_found", "no route GET /nope"),
    ];
    for (name, method, path, ct, body, status, error, words) in cases {
        let mut req = fed.http.request(method.parse().unwrap(), format!("{op}{path}"));
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let r = req.body(body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{name}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "{name}");
        let text = r.text().await.unwrap();
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"));
        assert_eq!(v["error"], error, "{name}: {v}");
        let d = v["error_description"].as_str().unwrap_or_default();
        assert!(d.contains(words), "{name}: {d}");
    }
}

/// Issue 10 item 6: `/authorization` and `/login` are rate limited per client (one limit for
/// both); beyond it, 429 `too_many_requests` with `Retry-After`. Other routes are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item6_login_routes_are_rate_limited_per_client() {
    let fed = Fed::with(Profile::Spid, |c| c.login_rate_limit = RateLimit::new(1, 3)).await;
    let op = fed.op.to_string();
    for _ in 0..2 {
        assert_eq!(fed.http.get(format!("{op}/authorization")).send().await.unwrap().status(), 400);
    }
    let r = fed.http.post(format!("{op}/login")).form(&[("session", "x"), ("fiscal_number", MARIO), ("acr", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 400, "the third request is within the burst");
    for path in ["/authorization", "/login"] {
        let r = fed.http.request(if path == "/login" { reqwest::Method::POST } else { reqwest::Method::GET }, format!("{op}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 429, "{path}");
        let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(error_of(&r.text().await.unwrap()), "too_many_requests");
    }
    // The token endpoint and the federation routes are not behind this limit.
    let r = fed.http.post(format!("{op}/token")).form(&[("grant_type", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(fed.http.get(format!("{op}/.well-known/openid-federation")).send().await.unwrap().status(), 200);
}

/// Issue 10 item 8: the login page cannot be framed (clickjacking), nor sniffed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item8_login_page_sends_anti_framing_headers() {
    let (fed, rp) = setup().await;
    let r = fed.http.get(url(&fed, &rp, &valid(&fed, &rp))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["content-security-policy"], "frame-ancestors 'none'");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
}

/// Issue 10 item 8: every file the OP and an RP create under their data directories (keys,
/// salt, the RP's state key, the federation entity's files) is readable by its owner only.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item8_files_under_the_data_dirs_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let (fed, _rp) = setup().await;
    let mut files = Vec::new();
    let mut dirs = vec![fed.dir.path().join("op"), fed.dir.path().join("rp")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                dirs.push(e.path());
            } else if t.is_file() {
                files.push(e.path());
            }
        }
    }
    for name in ["op-core-keys.json", "op-pairwise-salt", "rp-core-keys.json", "rp-state-key"] {
        assert!(files.iter().any(|f| f.file_name().unwrap() == name), "{name} created");
    }
    let open: Vec<_> = files.iter().filter(|f| std::fs::metadata(f).unwrap().permissions().mode() & 0o077 != 0).collect();
    assert!(open.is_empty(), "readable by others: {open:?}");
}

/// Issue 10 follow-up: /token, /introspection and /revocation learn the client from an
/// unverified client assertion; a client that never registered at the authorization endpoint
/// is refused `invalid_client` with no outbound request to what its `iss` names (no fetch
/// amplification through the provider).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_client_at_token_endpoints_is_refused_without_fetching() {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("rp", true, true).await;
    // A listener that counts connections: the `iss` the hostile caller names.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let named = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    for ep in ["token", "introspection", "revocation"] {
        let ep = format!("{}/{ep}", fed.op);
        // Signed with a real RP's key but naming the stranger: the signature cannot be
        // checked before a registration, which is refused first.
        let a = assertion(&rp, &ep, |c| {
            c.insert("iss".into(), json!(named));
            c.insert("sub".into(), json!(named));
        });
        let form = [
            ("grant_type", "authorization_code".to_owned()),
            ("token", "x".to_owned()),
            ("client_id", named.clone()),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()),
            ("client_assertion", a),
        ];
        let r = fed.http.post(&ep).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 401, "{ep}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_client", "{ep}");
        assert!(v["error_description"].as_str().unwrap().contains("is not registered here"), "{ep}: {v}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the provider fetched what the caller named");
    // The registered RP still gets its token.
    let token_ep = format!("{}/token", fed.op);
    let c = code(&fed, &rp, "https://www.spid.gov.it/SpidL2").await;
    let r = fed.http.post(&token_ep).form(&token_form(&rp, &c, assertion(&rp, &token_ep, |_| {}))).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// The token endpoints have their own per-client limit, apart from the login routes'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoints_are_rate_limited_per_client() {
    let fed = Fed::with(Profile::Spid, |c| c.token_rate_limit = RateLimit::new(1, 2)).await;
    let op = fed.op.to_string();
    for path in ["/token", "/introspection"] {
        assert_eq!(fed.http.post(format!("{op}{path}")).form(&[("grant_type", "x")]).send().await.unwrap().status(), 401, "{path}");
    }
    for path in ["/token", "/revocation", "/userinfo"] {
        let r = fed.http.post(format!("{op}{path}")).form(&[("grant_type", "x")]).send().await.unwrap();
        assert_eq!(r.status(), 429, "{path}");
        assert_eq!(error_of(&r.text().await.unwrap()), "too_many_requests");
    }
    // The login routes are not behind this limit.
    assert_eq!(fed.http.get(format!("{op}/authorization")).send().await.unwrap().status(), 400);
}

/// The pairwise salt every `sub` derives from is created once and never replaced: an OP
/// restarted on its data directory gives a citizen the same `sub`, and a salt file that is
/// not 32 bytes, or gone while the provider's keys remain, stops the start, naming the file
/// (before, it was silently replaced and every citizen got a new `sub` at each relying party).
#[test]
fn the_pairwise_salt_survives_restarts_and_a_damaged_one_stops_the_start() {
    use spid_cie_oidc::op::{OpConfig, OpState};
    use wallet_core::federation::EntityId;
    let dir = tempfile::tempdir().unwrap();
    let id = EntityId::new("https://op.example.it").unwrap();
    let config = || OpConfig::new(id.clone(), dir.path().join("op"), Vec::new(), Vec::new());
    let rp = EntityId::new("https://rp.example.it").unwrap();
    let first = OpState::open(config()).unwrap().pairwise_sub(&rp, "TINIT-RSSMRA80A01H501U");
    drop(OpState::open(config()).unwrap());
    assert_eq!(OpState::open(config()).unwrap().pairwise_sub(&rp, "TINIT-RSSMRA80A01H501U"), first);
    std::fs::write(dir.path().join("op/op-pairwise-salt"), b"short").unwrap();
    let e = OpState::open(config()).err().expect("a damaged salt refuses the start").to_string();
    assert!(e.contains("op-pairwise-salt") && e.contains("32 bytes"), "{e}");
    assert_eq!(std::fs::read(dir.path().join("op/op-pairwise-salt")).unwrap(), b"short", "left as it was");
    std::fs::remove_file(dir.path().join("op/op-pairwise-salt")).unwrap();
    let e = OpState::open(config()).err().expect("a salt gone while the keys remain refuses the start").to_string();
    assert!(e.contains("op-pairwise-salt is missing"), "{e}");
    assert!(!dir.path().join("op/op-pairwise-salt").exists(), "no new salt made");
}
