//! The citizen's presentations end to end (issue 11, "What it must show"): the command-line
//! wallet (the built `tessera` binary) answers our verifier's requests, cross-device and
//! same-device, with both IT-Wallet profiles; the integrator reads the verdict with its admin
//! token, and it names the rule: revoked, suspended (accepted when the verifier's policy
//! says so), an issuer not allowed to issue the `vct`, an issuer outside the federation, the
//! citizen declining. See `common` for the world.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod common;

use common::{World, mdl_attributes, pid_attributes, response_code};
use serde_json::json;
use wallet_core::oid4vp::Profile;
use wallet_core::status::StatusValue;
use wallet_core::vc::Vct;

/// Cross-device (the QR's URL) with the PID preset and same-device with the driving-licence
/// preset, against a verifier of each profile, answered by a wallet of the same profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cross_device_and_same_device_with_both_profiles() {
    let w = World::new().await;
    let (_pid, _) = w.import(&w.issuer, Vct::PID, pid_attributes(), &w.anchor).await;
    let (_mdl, _) = w.import(&w.issuer, Vct::MDL, mdl_attributes("AB1234567"), &w.anchor).await;
    for profile in [Profile::ItWallet14, Profile::ItWallet13] {
        let v = w.verifier(profile.as_str(), profile, false).await;

        // Cross-device: the wallet opens the QR code's URL.
        let s = w.session(&v, "pid", "cross_device").await;
        let o = w.present(&s, &["--yes", "--profile", profile.as_str()]).await;
        let shown = common::stdout_json(&o);
        assert_eq!(shown["outcome"], "presented", "{profile:?}");
        assert_eq!(shown["rp"]["entity_id"], v.id.as_str());
        assert!(shown["redirect_uri"].is_null(), "no redirect cross-device: {shown}");
        let (st, verdict) = w.result(&v, &s, None).await;
        assert_eq!(st, 200);
        assert_eq!(verdict["status"], "verified", "{profile:?}: {verdict}");
        let pid = &verdict["credentials"]["pid"][0];
        assert_eq!(pid["vct"], Vct::PID);
        assert_eq!(pid["issuer"], w.issuer.id.as_str());
        assert_eq!(pid["claims"]["given_name"], "Mario");
        assert_eq!(pid["claims"]["tax_id_code"], "TINIT-RSSMRA80A10H501Z");
        assert_eq!(pid["status"]["outcome"], "valid", "the status list was consulted: {pid}");
        assert_eq!(pid["issuer_trust"]["kind"], "trust_chain");
        // The verdict is fetched once.
        let (st, _) = w.result(&v, &s, None).await;
        assert_eq!(st, 404);

        // Same-device: the wallet prints the redirect with the response_code; the integrator
        // fetches the verdict with it (and not without it).
        let s = w.session(&v, "driving_licence", "same_device").await;
        let o = w.present(&s, &["--yes", "--profile", profile.as_str()]).await;
        let shown = common::stdout_json(&o);
        assert_eq!(shown["outcome"], "presented");
        let redirect = shown["redirect_uri"].as_str().unwrap();
        assert!(redirect.starts_with(common::BACK), "{redirect}");
        let code = response_code(redirect);
        let (st, _) = w.result(&v, &s, Some("not-the-code")).await;
        assert_ne!(st, 200, "a wrong response_code gets nothing");
        let (st, verdict) = w.result(&v, &s, Some(&code)).await;
        assert_eq!(st, 200);
        assert_eq!(verdict["status"], "verified", "{profile:?}: {verdict}");
        let mdl = &verdict["credentials"]["mdl"][0];
        assert_eq!(mdl["vct"], Vct::MDL);
        assert_eq!(mdl["claims"]["document_number"], "AB1234567");
        assert_eq!(mdl["claims"]["driving_privileges"][0]["vehicle_category_code"], "B");
        assert!(mdl["claims"].get("issue_date").is_none(), "only what the preset asks: {mdl}");

        // The text form tells the citizen where to continue.
        let s = w.session(&v, "driving_licence", "same_device").await;
        let url = s["wallet_url"].as_str().unwrap();
        let o = common::tessera(common::args(&["wallet", "present", url, "--ta", w.anchor.id.as_str(), "--data-dir", &w.wallet, "--yes", "--profile", profile.as_str()])).await;
        assert!(o.status.success());
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("Continue in the browser: https://servizi.example.it/wallet/return?response_code="), "{out}");
    }
}

/// An `x509_hash` relying party (OpenID4VP 1.0 §5.9.3, IT-Wallet 1.4 §5.1): the command-line
/// wallet trusts it by its certificate, chained to the federation CA root its trust anchor
/// serves, shows its name from the request's `client_metadata` and warns that it is trusted
/// by certificate only; the verifier verifies the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_x509_hash_relying_party_is_answered() {
    let w = World::new().await;
    let (_pid, _) = w.import(&w.issuer, Vct::PID, pid_attributes(), &w.anchor).await;
    let v = w.verifier("x509", Profile::ItWallet14, false).await;
    let r = w.http.post(format!("{}/sessions", v.id)).bearer_auth(common::TOKEN).json(&serde_json::json!({"preset": "pid", "flow": "cross_device", "client_id_prefix": "x509_hash"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let s: serde_json::Value = r.json().await.unwrap();
    assert!(s["client_id"].as_str().unwrap().starts_with("x509_hash:"), "{s}");
    let o = w.present(&s, &["--yes"]).await;
    let shown = common::stdout_json(&o);
    assert_eq!(shown["outcome"], "presented", "{shown}");
    assert!(shown["rp"]["entity_id"].is_null(), "no federation entity: {shown}");
    assert!(shown["rp"]["name"].as_str().is_some_and(|n| !n.is_empty()), "the name from client_metadata: {shown}");
    assert!(shown["rp"]["warnings"].to_string().contains("certificate"), "trusted by certificate only: {shown}");
    let (st, verdict) = w.result(&v, &s, None).await;
    assert_eq!(st, 200);
    assert_eq!(verdict["status"], "verified", "{verdict}");
}

/// A licence revoked, then suspended, in the issuer's status list: refused, with the rule
/// named; suspended is accepted by a verifier whose policy says so; valid again, accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoked_and_suspended_credentials_are_refused() {
    let w = World::new().await;
    let (mdl, idx) = w.import(&w.issuer, Vct::MDL, mdl_attributes("AB1234567"), &w.anchor).await;
    let strict = w.verifier("strict", Profile::ItWallet14, false).await;
    let lenient = w.verifier("lenient", Profile::ItWallet14, true).await;

    w.issuer.set_status(idx, StatusValue::Invalid);
    let s = w.session(&strict, "driving_licence", "cross_device").await;
    let o = w.present(&s, &["--yes"]).await;
    assert!(!o.status.success(), "the verifier refused");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("invalid_request") && err.contains("credential revoked"), "{err}");
    let (_, verdict) = w.result(&strict, &s, None).await;
    assert_eq!(verdict["status"], "refused");
    assert_eq!((&verdict["reason"], &verdict["reason_code"]), (&json!("credential revoked"), &json!("revoked")));
    assert_eq!(verdict["credential"], "mdl");
    // The wallet logged the presentation before sending it, and what the verifier answered.
    let o = common::tessera(common::args(&["wallet", "log", "--data-dir", &w.wallet, "--json"])).await;
    let log = common::stdout_json(&o);
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "presentation");
    assert_eq!(last["credential_ids"], json!([mdl]));
    assert_eq!(last["outcome"]["result"], json!({"outcome": "refused", "error": "invalid_request", "description": "mdl: credential revoked"}));

    w.issuer.set_status(idx, StatusValue::Suspended);
    let s = w.session(&strict, "driving_licence", "cross_device").await;
    assert!(!w.present(&s, &["--yes"]).await.status.success());
    let (_, verdict) = w.result(&strict, &s, None).await;
    assert_eq!((verdict["status"].as_str(), verdict["reason"].as_str()), (Some("refused"), Some("credential suspended")));
    assert_eq!(verdict["reason_code"], "suspended");

    let s = w.session(&lenient, "driving_licence", "cross_device").await;
    assert!(w.present(&s, &["--yes"]).await.status.success());
    let (_, verdict) = w.result(&lenient, &s, None).await;
    assert_eq!(verdict["status"], "verified", "{verdict}");
    assert_eq!(verdict["credentials"]["mdl"][0]["status"]["outcome"], "suspended_accepted");

    w.issuer.set_status(idx, StatusValue::Valid);
    let s = w.session(&strict, "driving_licence", "cross_device").await;
    assert!(w.present(&s, &["--yes"]).await.status.success());
    let (_, verdict) = w.result(&strict, &s, None).await;
    assert_eq!(verdict["status"], "verified", "{verdict}");
}

/// An issuer of the federation that may issue the PID only presents a driving licence; an
/// issuer of another federation presents a PID: both refused, the rule named. The wallet
/// holds several licences: the citizen picks one with `--choose`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn untrusted_issuers_are_refused() {
    let w = World::new().await;
    let (good, _) = w.import(&w.issuer, Vct::MDL, mdl_attributes("AB1234567"), &w.anchor).await;
    let (wrong_vct, _) = w.import(&w.pid_only, Vct::MDL, mdl_attributes("ZZ0000000"), &w.anchor).await;
    let v = w.verifier("v", Profile::ItWallet14, false).await;

    let s = w.session(&v, "driving_licence", "cross_device").await;
    let o = w.present(&s, &["--yes", "--choose", &format!("mdl={wrong_vct}")]).await;
    assert!(!o.status.success());
    let (_, verdict) = w.result(&v, &s, None).await;
    assert_eq!(verdict["status"], "refused");
    assert_eq!(verdict["reason"], format!("issuer {} is not allowed to issue {}", w.pid_only.id, Vct::MDL));
    assert_eq!(verdict["reason_code"], "issuer_not_allowed_for_type");

    // The same query answered with the other licence: verified.
    let s = w.session(&v, "driving_licence", "cross_device").await;
    let o = w.present(&s, &["--yes", "--choose", &format!("mdl={good}")]).await;
    let shown = common::stdout_json(&o);
    assert_eq!(shown["queries"][0]["candidates"].as_array().unwrap().len(), 2, "two licences could answer");
    let (_, verdict) = w.result(&v, &s, None).await;
    assert_eq!(verdict["status"], "verified", "{verdict}");
    assert_eq!(verdict["credentials"]["mdl"][0]["claims"]["document_number"], "AB1234567");
    // At the terminal the citizen is asked which licence (here: the one its issuer may not
    // issue), then for consent.
    let s = w.session(&v, "driving_licence", "cross_device").await;
    let url = s["wallet_url"].as_str().unwrap();
    // (Candidates are listed in the store's order, as `wallet list` shows it.)
    let list = common::stdout_json(&common::tessera(common::args(&["wallet", "list", "--data-dir", &w.wallet, "--json"])).await);
    let n = list.as_array().unwrap().iter().position(|c| c["id"] == wrong_vct.as_str()).unwrap() + 1;
    let o = common::tessera_with_stdin(common::args(&["wallet", "present", url, "--ta", w.anchor.id.as_str(), "--data-dir", &w.wallet]), format!("{n}\ny\n")).await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Several credentials can answer query `mdl`") && err.contains("Which one? [1-2"), "{err}");
    assert!(err.contains("[y/N]") && err.contains("is not allowed to issue"), "{err}");
    let (_, verdict) = w.result(&v, &s, None).await;
    assert_eq!(verdict["reason"], format!("issuer {} is not allowed to issue {}", w.pid_only.id, Vct::MDL));
    assert_eq!(verdict["reason_code"], "issuer_not_allowed_for_type");
    // A choice that is no candidate is refused before anything is sent.
    let s = w.session(&v, "driving_licence", "cross_device").await;
    let o = w.present(&s, &["--yes", "--choose", "mdl=00000000000000000000000000000000"]).await;
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a candidate"));

    // Another federation's issuer: the wallet trusts it (imported under that anchor), our
    // verifier does not.
    let (_outsider_pid, _) = w.import(&w.outsider, Vct::PID, pid_attributes(), &w.other_anchor).await;
    let s = w.session(&v, "pid", "cross_device").await;
    let o = w.present(&s, &["--yes"]).await;
    assert!(!o.status.success());
    let (_, verdict) = w.result(&v, &s, None).await;
    assert_eq!(verdict["status"], "refused");
    assert!(verdict["reason"].as_str().unwrap().starts_with("untrusted issuer: "), "{verdict}");
    assert_eq!(verdict["reason_code"], "untrusted_issuer");
}

/// The citizen declines: the verifier gets `access_denied`, the integrator a `declined`
/// verdict (same-device too, with its response_code); the wallet logs it and the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_citizen_declines() {
    let w = World::new().await;
    w.import(&w.issuer, Vct::PID, pid_attributes(), &w.anchor).await;
    for profile in [Profile::ItWallet14, Profile::ItWallet13] {
        let v = w.verifier(profile.as_str(), profile, false).await;
        let s = w.session(&v, "age_over_18", "cross_device").await;
        let o = w.present(&s, &["--decline", "--profile", profile.as_str()]).await;
        assert_eq!(common::stdout_json(&o)["outcome"], "declined");
        let (_, verdict) = w.result(&v, &s, None).await;
        assert_eq!(verdict["status"], "declined", "{verdict}");
        assert_eq!(verdict["error"], "access_denied");

        let s = w.session(&v, "age_over_18", "same_device").await;
        let o = w.present(&s, &["--decline", "--profile", profile.as_str()]).await;
        let shown = common::stdout_json(&o);
        let code = response_code(shown["redirect_uri"].as_str().unwrap());
        let (_, verdict) = w.result(&v, &s, Some(&code)).await;
        assert_eq!(verdict["status"], "declined", "{verdict}");
    }
    let o = common::tessera(common::args(&["wallet", "log", "--data-dir", &w.wallet, "--json"])).await;
    let log = common::stdout_json(&o);
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["claims"], json!([]));
    assert_eq!(last["outcome"]["result"]["outcome"], "accepted");
}

/// The verifier as an operator runs it, `tessera verifier serve --config FILE` (profile 1.3
/// here), answered cross-device and same-device.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verifier_run_as_tessera_verifier_serve() {
    let w = World::new().await;
    w.import(&w.issuer, Vct::PID, pid_attributes(), &w.anchor).await;
    let v = w.verifier_process("served", Profile::ItWallet13).await;
    let s = w.session(&v, "age_over_18", "cross_device").await;
    let o = w.present(&s, &["--yes", "--profile", "it-wallet-1.3"]).await;
    assert_eq!(common::stdout_json(&o)["outcome"], "presented");
    let (_, verdict) = w.result(&v, &s, None).await;
    assert_eq!(verdict["status"], "verified", "{verdict}");
    let claims = &verdict["credentials"]["pid"][0]["claims"];
    assert_eq!(claims["birthdate"], "1980-01-10");
    for other in ["given_name", "family_name", "tax_id_code", "place_of_birth"] {
        assert!(claims.get(other).is_none(), "only the birth date is disclosed: {claims}");
    }

    let s = w.session(&v, "pid", "same_device").await;
    let o = w.present(&s, &["--yes", "--profile", "it-wallet-1.3"]).await;
    let code = response_code(common::stdout_json(&o)["redirect_uri"].as_str().unwrap());
    let (_, verdict) = w.result(&v, &s, Some(&code)).await;
    assert_eq!(verdict["status"], "verified", "{verdict}");
}

/// IT-Wallet 1.4 §1.1 (trust marks: static plus dynamic validation), OID-FED §8.4, on the
/// wallet's side: the verifier shows a relying-party trust mark the anchor issued; the wallet
/// checks it statically and asks the anchor's `federation_trust_mark_status_endpoint` about
/// it. Once the anchor revokes it, the citizen is shown it as invalid, with why, though the
/// verifier's Entity Configuration still carries it, signed and unexpired.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wallet_asks_the_status_of_the_relying_partys_trust_mark() {
    let w = World::new().await;
    let (_pid, _) = w.import(&w.issuer, Vct::PID, pid_attributes(), &w.anchor).await;
    // `verifier` has the anchor issue it the relying-party mark, which it publishes.
    let v = w.verifier("marked", Profile::ItWallet14, false).await;
    let mark_type = common::RP_MARK;

    let shown = |o: &std::process::Output| common::stdout_json(o)["rp"]["trust_marks"][0].clone();
    let s = w.session(&v, "age_over_18", "cross_device").await;
    let o = w.present(&s, &["--decline"]).await;
    let mark = shown(&o);
    assert!(mark["type"].as_str().unwrap().ends_with(mark_type), "{mark}");
    assert!(mark["check"].as_str().unwrap().starts_with("valid"), "{mark}");

    // The anchor revokes it: the wallet asks its status, finds it revoked, and, the
    // federation accrediting mark issuers, refuses the RP (WP_087) before anything is sent.
    let r = w
        .http
        .post(format!("{}/admin/trust-marks/revoke", w.anchor.id))
        .bearer_auth(common::TOKEN)
        .json(&json!({"sub": v.id, "trust_mark_type": mark_type}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s = w.session(&v, "age_over_18", "cross_device").await;
    let o = w.present(&s, &["--yes"]).await;
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not authorised") && err.contains("reports it revoked") && err.contains("WP_087"), "{err}");
    assert_eq!(w.state(&v, &s).await["status"], "request_fetched", "no answer was sent");
}

/// The wallet's last transaction log entry (`tessera wallet log --json`).
async fn last_log_entry(w: &World) -> serde_json::Value {
    let o = common::tessera(common::args(&["wallet", "log", "--data-dir", &w.wallet, "--json"])).await;
    common::stdout_json(&o).as_array().unwrap().last().unwrap().clone()
}

/// WP_087: in a federation that accredits trust mark issuers, a relying party showing no
/// trust mark is refused; nothing is sent to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relying_party_without_a_trust_mark_is_refused() {
    let w = World::new().await;
    w.import(&w.issuer, Vct::PID, pid_attributes(), &w.anchor).await;
    let v = w.unmarked_verifier("unmarked").await;
    let s = w.session(&v, "age_over_18", "cross_device").await;
    let o = w.present(&s, &["--yes"]).await;
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("it shows no trust mark, and its federation requires them (WP_087)"), "{err}");
    assert_eq!(w.state(&v, &s).await["status"], "request_fetched", "no answer was sent");
    // WP_089a: kept in the wallet's log with why, nothing disclosed.
    let last = last_log_entry(&w).await;
    assert_eq!((&last["kind"], &last["credential_ids"], &last["claims"]), (&json!("refused"), &json!([]), &json!([])), "{last}");
    assert_eq!(last["outcome"]["result"]["outcome"], "rejected", "{last}");
    assert!(last["outcome"]["result"]["reason"].as_str().unwrap().contains("not authorised: it shows no trust mark"), "{last}");
}

/// WP_090: a request the wallet refuses (here a DCQL query only for a format it does not
/// support) is answered with an error response at the verifier's registered `response_uri`:
/// the integrator's session ends `declined` with the wallet's code instead of waiting for its
/// expiry, and the citizen is told why.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_request_is_reported_to_the_relying_party() {
    let w = World::new().await;
    let v = w.verifier("refusal", Profile::ItWallet14, false).await;
    let query = json!({"credentials": [{"id": "vc", "format": "jwt_vc_json", "claims": [{"path": ["name"]}]}]});
    let r = w.http.post(format!("{}/sessions", v.id)).bearer_auth(common::TOKEN).json(&json!({"dcql_query": query, "flow": "cross_device"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let s: serde_json::Value = r.json().await.unwrap();
    let o = w.present(&s, &["--yes"]).await;
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("jwt_vc_json") && err.contains("the relying party was told why"), "the citizen is told why: {err}");
    let (st, verdict) = w.result(&v, &s, None).await;
    assert_eq!(st, 200, "{verdict}");
    assert_eq!((verdict["status"].as_str(), verdict["error"].as_str()), (Some("declined"), Some("vp_formats_not_supported")), "{verdict}");
    assert!(verdict["error_description"].as_str().unwrap().contains("jwt_vc_json"), "{verdict}");
    let last = last_log_entry(&w).await;
    assert_eq!((&last["kind"], &last["outcome"]["result"]["outcome"]), (&json!("refused"), &json!("rejected")), "{last}");
    assert!(last["outcome"]["result"]["reason"].as_str().unwrap().contains("jwt_vc_json"), "{last}");
}

/// WP_089: a `request_uri` that answers an error (here a QR code already used) is shown to
/// the citizen with the relying party's own reason and what to do next (WP_089b).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_used_qr_code_says_why_and_what_to_do() {
    let w = World::new().await;
    w.import(&w.issuer, Vct::PID, pid_attributes(), &w.anchor).await;
    let v = w.verifier("reuse", Profile::ItWallet14, false).await;
    let s = w.session(&v, "age_over_18", "cross_device").await;
    assert!(w.present(&s, &["--yes"]).await.status.success());
    let o = w.present(&s, &["--yes"]).await;
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the relying party could not give its request: HTTP 400 invalid_request: request_uri already used: ask for a new QR code (nothing was sent)"),
        "{err}"
    );
    // WP_089a: the relying party's own error, kept in the wallet's log.
    let last = last_log_entry(&w).await;
    assert_eq!(last["kind"], "refused", "{last}");
    assert_eq!(last["outcome"]["result"], json!({"outcome": "refused", "error": "invalid_request", "description": "request_uri already used"}), "{last}");
}
