//! The relying party's pending logins travel sealed in `state` (issue 10 item 4): started
//! logins cost the RP nothing, a flood of them does not stop a genuine login, and a forged,
//! tampered, foreign or expired `state` is refused with a clear error. Over real HTTP on
//! loopback against the test OP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod common;

use common::{Fed, MARIO, param, query};
use spid_cie_oidc::claims::Acr;
use spid_cie_oidc::op::Profile;
use spid_cie_oidc::rp::{LoginRequest, RpError, StateError};

const L2: &str = "https://www.spid.gov.it/SpidL2";

/// `state` of an authorization URL's callback location, replaced by `f(state)`.
fn with_state(loc: &str, f: impl Fn(&str) -> String) -> String {
    let mut u = url::Url::parse(loc).unwrap();
    let pairs: Vec<(String, String)> = u.query_pairs().map(|(k, v)| { let v = if k == "state" { f(&v) } else { v.into_owned() }; (k.into_owned(), v) }).collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    query(u.as_str())
}

/// 20,000 logins started (the old in-memory store refused beyond 10,000 with 503) all succeed,
/// and a login started before them completes: the RP keeps no per-login state at all (its
/// `RelyingParty` has no pending store; the login's state is in the URL it returned).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item4_twenty_thousand_started_logins_cost_nothing_and_an_earlier_login_completes() {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("rp", true, true).await;
    let first = rp.rp.start_login(&fed.op, LoginRequest { app_data: Some("first".into()), ..LoginRequest::default() }).await.unwrap();
    let data_dir = fed.dir.path().join("rp");
    let files_before = std::fs::read_dir(&data_dir).unwrap().count();
    let t = std::time::Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (r, op) = (rp.rp.clone(), fed.op.clone());
            tokio::spawn(async move {
                for _ in 0..5_000 {
                    r.start_login(&op, LoginRequest::default()).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    eprintln!("20000 start_login in {:?}", t.elapsed());
    assert_eq!(std::fs::read_dir(&data_dir).unwrap().count(), files_before, "nothing written per login");
    let page = fed.authorize(&first).await.2;
    let loc = fed.login(&page, MARIO, L2).await;
    let out = rp.rp.finish_login(&query(&loc)).await.unwrap();
    assert_eq!(out.userinfo.fiscal_number.as_deref(), Some(MARIO));
    assert_eq!(out.app_data.as_deref(), Some("first"));
}

/// The `state` sent is the sealed login: SPID-shaped (≥ 32 alphanumeric), and what the OP
/// echoes back opens to the login, app data included, before and regardless of finishing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item4_state_carries_the_login_and_the_app_data() {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("rp", true, true).await;
    let req = LoginRequest { acr_values: vec![Acr::SpidL2], app_data: Some(r#"{"redirect_uri":"app://cb","state":"s"}"#.into()), ..LoginRequest::default() };
    let url = rp.rp.start_login(&fed.op, req).await.unwrap();
    let loc = fed.login(&fed.authorize(&url).await.2, MARIO, L2).await;
    let state = param(&loc, "state").unwrap();
    assert!(state.len() >= 32 && state.bytes().all(|b| b.is_ascii_alphanumeric()), "{state}");
    eprintln!("state: {} characters", state.len());
    let p = rp.rp.pending(&query(&loc)).unwrap();
    assert_eq!((p.provider.clone(), p.min_acr), (fed.op.clone(), Some(Acr::SpidL2)));
    assert_eq!(p.app_data.as_deref(), Some(r#"{"redirect_uri":"app://cb","state":"s"}"#));
    let out = rp.rp.finish_login(&query(&loc)).await.unwrap();
    assert_eq!(out.app_data, p.app_data);
    // Too much app data is refused at the start.
    let big = LoginRequest { app_data: Some("x".repeat(1025)), ..LoginRequest::default() };
    assert!(matches!(rp.rp.start_login(&fed.op, big).await.unwrap_err(), RpError::Config(ref m) if m.contains("app_data")));
}

/// A tampered, truncated, foreign, missing or repeated `state`, and a callback whose `iss` is
/// another provider, are refused before any call to the OP, each with its own error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item4_tampered_foreign_or_missing_state_is_refused() {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("rp", true, true).await;
    let other = fed.rp("other", true, true).await;
    let url = rp.rp.start_login(&fed.op, LoginRequest::default()).await.unwrap();
    let loc = fed.login(&fed.authorize(&url).await.2, MARIO, L2).await;
    let flip = |s: &str| {
        let mut b = s.as_bytes().to_vec();
        let i = b.len() / 2;
        b[i] = if b[i] == b'a' { b'b' } else { b'a' };
        String::from_utf8(b).unwrap()
    };
    let cases: Vec<(&str, String, StateError)> = vec![
        ("one character changed", with_state(&loc, flip), StateError::Tampered),
        ("truncated to whole blocks", with_state(&loc, |s| s[..(s.len() / 11 - 1) * 11].to_owned()), StateError::Tampered),
        ("not base62", with_state(&loc, |s| format!("{s}-")), StateError::Malformed("not base62")),
        ("a plain random state (django's example)", with_state(&loc, |_| "zei2z2xxz6XAAYPs4yIqG6vijP42rMZG".into()), StateError::Malformed("not base62")),
        // Version 1 (the first byte: 2^56 in the first block), then zeros: well formed, not sealed by us.
        ("a forged state of the right shape", with_state(&loc, |_| format!("05K1WLnfhB2{}", "0".repeat(99))), StateError::Tampered),
        ("missing", query(&loc).split('&').filter(|p| !p.starts_with("state=")).collect::<Vec<_>>().join("&"), StateError::Missing),
    ];
    for (name, q, want) in cases {
        let err = rp.rp.finish_login(&q).await.unwrap_err();
        assert!(matches!(&err, RpError::State(e) if *e == want), "{name}: {err:?}");
        assert!(err.to_string().starts_with("state: "), "{err}");
    }
    // Sealed for another RP: does not open there.
    let err = other.rp.finish_login(&query(&loc)).await.unwrap_err();
    assert!(matches!(err, RpError::State(StateError::Tampered)), "{err:?}");
    assert!(err.to_string().contains("tampered, forged or from another relying party"), "{err}");
    // Repeated parameters are refused (one reading of state, code and iss).
    let err = rp.rp.finish_login(&format!("{}&state=x", query(&loc))).await.unwrap_err();
    assert!(matches!(err, RpError::Callback(ref m) if m == "parameter state repeated"), "{err:?}");
    // Bound to the provider: an `iss` other than the sealed issuer.
    let bad_iss = url::form_urlencoded::Serializer::new(String::new()).append_pair("iss", "https://evil.example.it").finish();
    let q = query(&loc).split('&').filter(|p| !p.starts_with("iss=")).chain([bad_iss.as_str()]).collect::<Vec<_>>().join("&");
    assert!(matches!(rp.rp.finish_login(&q).await.unwrap_err(), RpError::IssuerMismatch(ref i) if i == "https://evil.example.it"));
    // None of these spent the code: the genuine callback still completes once ...
    rp.rp.finish_login(&query(&loc)).await.unwrap();
    // ... and only once: the RP keeps nothing, the OP's code is single use.
    let err = rp.rp.finish_login(&query(&loc)).await.unwrap_err();
    assert!(matches!(err, RpError::Endpoint { endpoint: "token", ref error, .. } if error == "invalid_grant"), "{err:?}");
}

/// A login finished after `login_ttl` is refused as expired, naming when.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item4_expired_state_is_refused() {
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp_with("rp", true, true, Vec::new(), |c| c.login_ttl = 1).await;
    let url = rp.rp.start_login(&fed.op, LoginRequest::default()).await.unwrap();
    let loc = fed.login(&fed.authorize(&url).await.2, MARIO, L2).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let err = rp.rp.finish_login(&query(&loc)).await.unwrap_err();
    assert!(matches!(err, RpError::State(StateError::Expired { exp, now }) if now >= exp), "{err:?}");
    assert!(err.to_string().contains("login expired at"), "{err}");
    assert!(matches!(rp.rp.pending(&query(&loc)).unwrap_err(), RpError::State(StateError::Expired { .. })));
}
