//! The wallet side end to end, in-process with the verifier side: the scanned URL, the
//! request object fetched by POST with `wallet_nonce`, the RP evaluated, the consent model
//! from a real encrypted store, present (verified by `verify_response`) and decline, both in
//! the transaction log.

use serde_json::json;

use super::*;
use crate::federation::trust_mark::{TRUST_MARK_TYP, TrustMarkClaims, TrustMarkStatus};
use crate::federation::{EntityId, TrustMarkRef};
use crate::jose::{ContentEncryption, JwkSet, Signer};
use crate::oid4vp::request_url::{RequestUriMethod, RequestUriPost, WalletInvocation};
use crate::oid4vp::response::PostedResponse;
use crate::oid4vp::testing::*;
use crate::oid4vp::verify::{PresentationContext, ResponseExpectation, Verdict, verify_response};
use crate::oid4vp::{AuthorizationRequestUrl, Profile};
use crate::store::{DataKey, NewCredential, StaticKeyProvider};
use crate::wallet::{HttpMethod, HttpResponse};

fn store(dir: &tempfile::TempDir, fx: &Fixture, with_pid: bool) -> (CredentialStore, Option<CredentialId>) {
    let s = CredentialStore::open(dir.path().join("w.db"), &StaticKeyProvider(DataKey::from_bytes([7; 32]))).unwrap();
    let mdl = NewCredential {
        format: "dc+sd-jwt".into(),
        vct: "urn:eudi:mDL:it:1".into(),
        issuer: ISSUER.into(),
        issued_at: None,
        expires_at: None,
        credential: fx.pid_with(|c| {
            c.insert("vct".into(), json!("urn:eudi:mDL:it:1"));
        })
        .serialize(),
        metadata: json!({}),
    };
    s.put(&mdl, NOW).unwrap();
    let pid = with_pid.then(|| {
        let n = NewCredential { vct: PID_VCT.into(), credential: fx.pid().serialize(), ..mdl.clone() };
        s.put(&n, NOW).unwrap()
    });
    (s, pid)
}

/// The wallet opens an `openid4vp://` URL by reference with `request_uri_method=post`; the
/// verifier answers the POST with a request object echoing the `wallet_nonce`.
fn open_request(fx: &Fixture) -> VerifiedRequest {
    let url = AuthorizationRequestUrl::by_reference(WalletInvocation::Openid4vp, fx.client_id(), REQUEST_URI, RequestUriMethod::Post).to_url();
    let flow = PresentationFlow::start(&url, Profile::ItWallet14).unwrap();
    assert_eq!(flow.client_id().entity_id().unwrap().as_str(), RP);
    let fetch = flow.request_object_request().unwrap();
    assert_eq!(fetch.method, HttpMethod::Post);
    // Verifier side of request_uri.
    let post = RequestUriPost::parse_form(&fetch.body).unwrap();
    let mut b = fx.builder();
    b.wallet_nonce = post.wallet_nonce.map(|n| n.as_str().to_owned());
    let jwt = b.sign(&fx.rp_ro, &fx.header()).unwrap();
    let resp = HttpResponse { status: 200, headers: vec![("Content-Type".into(), "application/oauth-authz-req+jwt".into())], body: jwt.into_bytes() };
    let chain = fx.rp_chain();
    flow.on_request_object(Some(&resp), &RpTrustInputs { rp_chain: Some(&chain), ..Default::default() }, NOW).unwrap()
}

/// The consent model of [`open_request`]'s request over a store holding the mDL and the PID
/// (the RP evaluated without its chain), and the store.
fn open_consent(fx: &Fixture, dir: &tempfile::TempDir) -> (ConsentRequest, CredentialStore) {
    let req = open_request(fx);
    let rp = evaluate_rp(&req, None, &TrustMarkInputs::default(), NOW);
    let (s, _) = store(dir, fx, true);
    let consent = ConsentRequest::from_store(req, rp, &s).unwrap();
    (consent, s)
}

#[test]
fn consent_present_and_verify_end_to_end_with_log() {
    let fx = Fixture::new();
    let req = open_request(&fx);
    let chain = fx.rp_chain();
    let rp = evaluate_rp(&req, Some(&chain), &TrustMarkInputs::default(), NOW);
    assert_eq!(rp.name.as_deref(), Some("Comune di Roma"));
    assert_eq!(rp.logo_uri.as_deref(), Some("https://rp.example.it/logo.svg"));
    assert_eq!(rp.entity_id.as_deref(), Some(RP));
    assert_eq!(rp.organization_name.as_deref(), Some("Comune di Roma"));
    assert_eq!(rp.purpose.as_deref(), Some("Accesso ai servizi comunali"));
    assert_eq!(rp.warnings, vec![TrustWarning::NoValidTrustMark]);

    let dir = tempfile::tempdir().unwrap();
    let (s, pid_id) = store(&dir, &fx, true);
    let consent = ConsentRequest::from_store(req, rp, &s).unwrap();
    assert!(consent.satisfiable);
    let q = &consent.queries[0];
    assert!(q.required && !q.multiple);
    assert_eq!(q.types, vec![PID_VCT.to_owned()]);
    assert_eq!(q.candidates.len(), 1, "only the PID answers, not the mDL");
    let c = &q.candidates[0];
    assert_eq!(Some(&c.credential_id), pid_id.as_ref());
    let shown: Vec<(String, serde_json::Value)> = c.disclosed.iter().map(|d| (d.path.to_string(), d.value.clone())).collect();
    assert_eq!(shown, vec![("given_name".into(), json!("Mario")), ("family_name".into(), json!("Rossi")), ("place_of_birth.locality".into(), json!("Roma"))]);

    let prepared = consent.present(&consent.default_choice(), &fx.holder, NOW, Some(&s)).unwrap();
    assert_eq!(prepared.request.url, RESPONSE_URI);
    // The verifier checks what the wallet sent.
    let posted = PostedResponse::parse_form(&prepared.request.body).unwrap();
    let cid = fx.client_id();
    let anchors = [fx.anchor()];
    let ctx = PresentationContext { federation_anchors: &anchors, ..PresentationContext::new(&cid, NONCE, NOW) };
    let query = Fixture::pid_query();
    let keys = [fx.rp_enc.clone()];
    let expect = ResponseExpectation { query: &query, state: Some(STATE), decryption_keys: &keys, allowed_enc: &[ContentEncryption::A256Gcm] };
    let Verdict::Verified(v) = crate::oid4vp::verify::tests::block_on(verify_response(&posted, &expect, &ctx)) else { panic!("refused") };
    assert_eq!(v.credentials["pid"][0].key_binding.aud, cid.as_str());
    assert!(v.credentials["pid"][0].claims.get("tax_id_code").is_none());
    // The log says what was shown to whom.
    let log = s.transactions().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].seq, prepared.log_seq.unwrap());
    assert_eq!(log[0].entry.kind, TransactionKind::Presentation);
    assert_eq!(log[0].entry.counterparty, RP);
    assert_eq!(log[0].entry.credential_ids, vec![pid_id.unwrap()]);
    assert_eq!(log[0].entry.claims, vec!["pid:given_name", "pid:family_name", "pid:place_of_birth.locality"]);
}

#[test]
fn decline_sends_access_denied_and_is_logged() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let (consent, s) = open_consent(&fx, &dir);
    let prepared = consent.decline(NOW, Some(&s)).unwrap();
    let posted = PostedResponse::parse_form(&prepared.request.body).unwrap();
    assert_eq!(posted, PostedResponse::Error(crate::oid4vp::ErrorResponse::access_denied(Some(STATE.into()))));
    let log = s.transactions().unwrap();
    assert_eq!((log[0].entry.credential_ids.len(), log[0].entry.claims.len()), (0, 0));
    assert_eq!(log[0].entry.kind, TransactionKind::Declined);
}

/// WP_094a: the wallet follows the `response_uri`'s `redirect_uri` only when the RP
/// registered it (a per-session query such as `response_code` allowed); anything else is
/// refused, naming the URI, and the answer's other forms read as before.
#[test]
fn the_answers_redirect_must_be_registered() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let (consent, _) = open_consent(&fx, &dir);
    let prepared = consent.present(&consent.default_choice(), &fx.holder, NOW, None).unwrap();
    let answer = |redirect: &str| prepared.read_answer(200, json!({ "redirect_uri": redirect }).to_string().as_bytes());
    let good = "https://rp.example.it/cb?response_code=abc";
    assert_eq!(answer(good).unwrap().unwrap().redirect_uri.as_deref(), Some(good));
    for bad in ["https://attacker.example/cb?response_code=abc", "https://rp.example.it/elsewhere?response_code=abc", "https://rp.example.it:8443/cb", "http://rp.example.it/cb"] {
        assert_eq!(answer(bad).unwrap_err(), ResponseError::RedirectNotRegistered(bad.into()), "{bad}");
    }
    // No redirect (cross-device), an empty body, an error answer: read as they are.
    assert_eq!(prepared.read_answer(200, b"{}").unwrap().unwrap().redirect_uri, None);
    assert_eq!(prepared.read_answer(200, b"").unwrap().unwrap().redirect_uri, None);
    assert_eq!(prepared.read_answer(400, br#"{"error":"invalid_request"}"#).unwrap().unwrap_err().error, "invalid_request");
    // A decline's answer goes by the same rule.
    let declined = consent.decline(NOW, None).unwrap();
    assert!(matches!(declined.read_answer(200, br#"{"redirect_uri":"https://attacker.example/"}"#), Err(ResponseError::RedirectNotRegistered(_))));
    // Inside an issuance, the issuer's authorization response to the wallet's own
    // redirect_uri (with the code) is followed too; other wallet-looking URIs are not.
    let mut inside = declined;
    inside.redirects = inside.redirects.and_own("it.tessera.wallet://issuance");
    assert!(inside.redirects.allows("it.tessera.wallet://issuance?code=c&state=s&iss=https%3A%2F%2Fissuer"));
    assert!(!inside.redirects.allows("it.tessera.wallet://elsewhere?code=c"));
    assert!(inside.redirects.allows("https://rp.example.it/cb?response_code=abc"));
}

#[test]
fn missing_credential_and_bad_choices() {
    let fx = Fixture::new();
    let req = open_request(&fx);
    let rp = evaluate_rp(&req, None, &TrustMarkInputs::default(), NOW);
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = store(&dir, &fx, false);
    let mdl_id = s.list().unwrap()[0].id.clone();
    let consent = ConsentRequest::from_store(req, rp, &s).unwrap();
    assert!(!consent.satisfiable);
    assert_eq!(consent.queries[0].missing, Some(Missing::NoCredentialOfType));
    assert!(consent.queries[0].candidates.is_empty());
    assert!(matches!(consent.present(&ConsentChoice::default(), &fx.holder, NOW, None), Err(ConsentError::DoesNotSatisfy(_))));
    assert!(matches!(
        consent.present(&ConsentChoice(vec![("pid".into(), mdl_id.clone())]), &fx.holder, NOW, None),
        Err(ConsentError::NotACandidate { .. })
    ));
    assert!(matches!(consent.present(&ConsentChoice(vec![("mdl".into(), mdl_id)]), &fx.holder, NOW, None), Err(ConsentError::UnknownQuery(_))));
    assert!(s.transactions().unwrap().is_empty());
}

/// A trust mark of `tm_type` the anchor issued to the RP, valid an hour, with `extra` claims.
fn rp_mark(fx: &Fixture, tm_type: &str, extra: serde_json::Value) -> TrustMarkRef {
    let claims = TrustMarkClaims {
        iss: EntityId::new(TA).unwrap(),
        sub: EntityId::new(RP).unwrap(),
        trust_mark_type: tm_type.into(),
        iat: NOW.secs() - 10,
        exp: Some(NOW.secs() + 3600),
        delegation: None,
        extra: extra.as_object().cloned().unwrap_or_default(),
    };
    TrustMarkRef { trust_mark_type: tm_type.into(), trust_mark: claims.sign(TRUST_MARK_TYP, &fx.ta).unwrap() }
}

#[test]
fn trust_marks_are_checked_and_shown() {
    let fx = Fixture::new();
    let tm_type = "https://ta.example.it/trust-marks/verifier";
    let marks = vec![rp_mark(&fx, tm_type, json!({}))];
    let chain = crate::federation::chain::validate(&fx.rp_chain_jwts_with_marks(fx.rp_metadata(), Some(marks)), &fx.anchor(), NOW).unwrap();
    let mut ta_ec = statement(TA, TA, JwkSet { keys: vec![fx.ta.public_jwk()] }, None, None);
    ta_ec.trust_mark_issuers = Some([(tm_type.to_owned(), vec![TA.to_owned()])].into());
    let keys = [(TA.to_owned(), JwkSet { keys: vec![fx.ta.public_jwk()] })];
    let req = open_request(&fx);
    let inputs = TrustMarkInputs { anchor_configuration: Some(&ta_ec), issuer_keys: &keys, statuses: &[] };
    let rp = evaluate_rp(&req, Some(&chain), &inputs, NOW);
    let valid = TrustMarkCheck::Valid { issuer: TA.into(), exp: Some(NOW.secs() + 3600) };
    assert_eq!(rp.trust_marks, vec![TrustMarkView { trust_mark_type: tm_type.into(), check: valid.clone() }]);
    assert!(rp.warnings.is_empty());
    assert_eq!(rp.refusal, None);
    // Dynamic validation (IT-Wallet 1.4 §1.1, OID-FED §8.4): its issuer reports it active,
    // then revoked: the mark is refused though it still verifies statically.
    let jwt = chain.subject.claims.trust_marks.as_ref().unwrap()[0].trust_mark.clone();
    let active = [(jwt.clone(), TrustMarkStatus::Active)];
    let rp = evaluate_rp(&req, Some(&chain), &TrustMarkInputs { statuses: &active, ..inputs }, NOW);
    assert_eq!(rp.trust_marks[0].check, valid);
    let revoked = [(jwt, TrustMarkStatus::Revoked)];
    let rp = evaluate_rp(&req, Some(&chain), &TrustMarkInputs { statuses: &revoked, ..inputs }, NOW);
    assert_eq!(rp.trust_marks[0].check, TrustMarkCheck::Invalid(format!("its issuer {TA} reports it revoked (trust mark status)")));
    assert_eq!(rp.warnings, vec![TrustWarning::NoValidTrustMark]);
    // WP_087: its federation accredits mark issuers and none of its marks holds: refused,
    // naming the mark and its fault.
    assert_eq!(rp.refusal, Some(format!("none of its trust marks is valid (WP_087): {tm_type}: its issuer {TA} reports it revoked (trust mark status)")));
    // Without the anchor's configuration, the mark is listed but not checked: a warning only.
    let rp = evaluate_rp(&req, Some(&chain), &TrustMarkInputs::default(), NOW);
    assert_eq!(rp.trust_marks[0].check, TrustMarkCheck::NotChecked);
    assert_eq!(rp.warnings, vec![TrustWarning::NoValidTrustMark]);
    assert_eq!(rp.refusal, None);
    // With the anchor's configuration but no keys for the mark's issuer: not checked when the
    // anchor accredits the issuer (its keys could not be had); refused when it does not.
    let rp = evaluate_rp(&req, Some(&chain), &TrustMarkInputs { issuer_keys: &[], ..inputs }, NOW);
    assert_eq!(rp.trust_marks[0].check, TrustMarkCheck::NotChecked);
    let mut other_issuer = ta_ec.clone();
    other_issuer.trust_mark_issuers = Some([(tm_type.to_owned(), vec!["https://other.example.it".to_owned()])].into());
    let rp = evaluate_rp(&req, Some(&chain), &TrustMarkInputs { anchor_configuration: Some(&other_issuer), issuer_keys: &[], ..inputs }, NOW);
    assert_eq!(rp.trust_marks[0].check, TrustMarkCheck::Invalid(format!("{TA} is not an issuer of {tm_type} for the trust anchor")));
    // Later than its exp: invalid, refused.
    let rp = evaluate_rp(&req, Some(&chain), &inputs, NOW.plus(7200));
    assert!(matches!(rp.trust_marks[0].check, TrustMarkCheck::Invalid(_)));
    assert!(rp.refusal.is_some());
    // An RP showing no mark at all, in a federation that uses them: refused; in one that
    // does not (no `trust_mark_issuers`): a warning.
    let bare = crate::federation::chain::validate(&fx.rp_chain_jwts_with(fx.rp_metadata()), &fx.anchor(), NOW).unwrap();
    let rp = evaluate_rp(&req, Some(&bare), &inputs, NOW);
    assert_eq!(rp.refusal.as_deref(), Some("it shows no trust mark, and its federation requires them (WP_087)"));
    let mut no_marks_ec = ta_ec.clone();
    no_marks_ec.trust_mark_issuers = None;
    let rp = evaluate_rp(&req, Some(&bare), &TrustMarkInputs { anchor_configuration: Some(&no_marks_ec), ..inputs }, NOW);
    assert_eq!((rp.refusal, rp.warnings), (None, vec![TrustWarning::NoValidTrustMark]));
}

/// WP_087, the policy half: an RP whose valid trust marks carry an authorization policy
/// (`authorized_credential_types`, `authorized_claims`) is refused a request outside it,
/// naming the query, the mark and what is outside; one inside it, or one mark of two that
/// covers the query, is not refused. The request asks for the PID's `given_name`,
/// `family_name` and `place_of_birth.locality`.
#[test]
fn an_authorization_policy_mark_limits_what_the_rp_may_ask() {
    let fx = Fixture::new();
    let policy_type = "https://ta.example.it/trust_marks/authorization_policy/relying-party";
    let member_type = "https://ta.example.it/trust_marks/federation-entity/relying-party";
    let mark = |tm_type: &str, policy: serde_json::Value| rp_mark(&fx, tm_type, policy);
    let mut ta_ec = statement(TA, TA, JwkSet { keys: vec![fx.ta.public_jwk()] }, None, None);
    ta_ec.trust_mark_issuers = Some([(policy_type.to_owned(), vec![TA.to_owned()]), (member_type.to_owned(), vec![TA.to_owned()])].into());
    let keys = [(TA.to_owned(), JwkSet { keys: vec![fx.ta.public_jwk()] })];
    let inputs = TrustMarkInputs { anchor_configuration: Some(&ta_ec), issuer_keys: &keys, statuses: &[] };
    let req = open_request(&fx);
    let evaluate = |marks: Vec<TrustMarkRef>| {
        let chain = crate::federation::chain::validate(&fx.rp_chain_jwts_with_marks(fx.rp_metadata(), Some(marks)), &fx.anchor(), NOW).unwrap();
        evaluate_rp(&req, Some(&chain), &inputs, NOW)
    };
    let pid = "urn:eudi:pid:it:1";
    let mdl = "urn:eudi:mDL:it:1";

    // Inside the policy: not refused. A mark without a policy restricts nothing.
    let inside = json!({"authorized_credential_types": [pid], "authorized_claims": ["given_name", "family_name", "place_of_birth"]});
    let rp = evaluate(vec![mark(policy_type, inside.clone())]);
    assert_eq!(rp.refusal, None);
    // What the policy authorizes is there to show the citizen.
    let authorized = super::authorization::AuthorizationPolicy {
        trust_mark_type: policy_type.into(),
        credential_types: Some(vec![pid.into()]),
        claims: Some(vec!["given_name".into(), "family_name".into(), "place_of_birth".into()]),
    };
    assert_eq!(rp.authorization, vec![authorized]);
    // This federation issues authorization-policy marks (its anchor accredits their issuer):
    // an RP showing none, only its membership mark, is refused: it could have left out, or let
    // expire, the mark that limits it.
    assert_eq!(
        evaluate(vec![mark(member_type, json!({}))]).refusal.as_deref(),
        Some("it shows no valid authorization-policy trust mark, and its federation issues them (WP_087)")
    );
    // In a federation that issues none, a membership mark alone restricts nothing.
    let mut no_policy_ec = ta_ec.clone();
    no_policy_ec.trust_mark_issuers = Some([(member_type.to_owned(), vec![TA.to_owned()])].into());
    let chain = crate::federation::chain::validate(&fx.rp_chain_jwts_with_marks(fx.rp_metadata(), Some(vec![mark(member_type, json!({}))])), &fx.anchor(), NOW).unwrap();
    let rp = evaluate_rp(&req, Some(&chain), &TrustMarkInputs { anchor_configuration: Some(&no_policy_ec), ..inputs }, NOW);
    assert_eq!((rp.refusal, rp.authorization), (None, vec![]));
    // Nor does one that issues policy marks to credential issuers only: they say nothing of
    // what an RP may ask.
    let issuer_policy = "https://ta.example.it/trust_marks/authorization_policy/credential-issuer";
    no_policy_ec.trust_mark_issuers = Some([(member_type.to_owned(), vec![TA.to_owned()]), (issuer_policy.to_owned(), vec![TA.to_owned()])].into());
    let rp = evaluate_rp(&req, Some(&chain), &TrustMarkInputs { anchor_configuration: Some(&no_policy_ec), ..inputs }, NOW);
    assert_eq!(rp.refusal, None);
    assert_eq!(evaluate(vec![mark(policy_type, json!({"authorized_credential_types": [pid]}))]).refusal, None);
    // Another type only (the licence): refused, naming the query, the mark and the type.
    let rp = evaluate(vec![mark(policy_type, json!({"authorized_credential_types": [mdl]}))]);
    assert_eq!(
        rp.refusal.as_deref(),
        Some(format!("its trust marks do not authorize the credential query `pid` (WP_087): {policy_type}: the type {pid} is not among those it authorizes ({mdl})").as_str())
    );
    // The right type, a claim too many.
    let rp = evaluate(vec![mark(policy_type, json!({"authorized_credential_types": [pid], "authorized_claims": ["given_name", "family_name"]}))]);
    assert_eq!(
        rp.refusal.as_deref(),
        Some(format!("its trust marks do not authorize the credential query `pid` (WP_087): {policy_type}: the claim place_of_birth is not among those it authorizes (given_name, family_name)").as_str())
    );
    // A malformed list authorizes nothing.
    assert!(evaluate(vec![mark(policy_type, json!({"authorized_claims": "given_name family_name place_of_birth"}))]).refusal.is_some());
    // Two policy marks: one for the licence, one covering the query: not refused.
    let rp = evaluate(vec![mark(policy_type, json!({"authorized_credential_types": [mdl]})), mark(member_type, inside)]);
    assert_eq!(rp.refusal, None);
    // The federation check comes first: no valid mark at all is refused as before.
    let rp = evaluate_rp(&req, Some(&crate::federation::chain::validate(&fx.rp_chain_jwts_with(fx.rp_metadata()), &fx.anchor(), NOW).unwrap()), &inputs, NOW);
    assert_eq!(rp.refusal.as_deref(), Some("it shows no trust mark, and its federation requires them (WP_087)"));
}

#[test]
fn request_object_fetch_failures() {
    let fx = Fixture::new();
    let url = AuthorizationRequestUrl::by_reference(WalletInvocation::HaipVp, fx.client_id(), REQUEST_URI, RequestUriMethod::Get).to_url();
    let flow = PresentationFlow::start(&url, Profile::ItWallet13).unwrap();
    assert_eq!(flow.request_object_request().unwrap().method, HttpMethod::Get);
    let resp = HttpResponse { status: 404, headers: vec![], body: vec![] };
    let e = flow.on_request_object(Some(&resp), &RpTrustInputs::default(), NOW).unwrap_err();
    assert!(matches!(e, ConsentError::RequestUriRefused { status: 404, error: None, description: None }), "{e}");
    assert!(!e.is_recoverable(), "a new QR code is needed");
    // WP_089: the RP's own error is shown, and whether trying again may help (WP_089b).
    let body = br#"{"error":"server_error","error_description":"database\nunavailable"}"#.to_vec();
    let resp = HttpResponse { status: 500, headers: vec![("Content-Type".into(), "application/json".into())], body };
    let e = flow.on_request_object(Some(&resp), &RpTrustInputs::default(), NOW).unwrap_err();
    assert_eq!(e.to_string(), "the relying party could not give its request: HTTP 500 server_error: databaseunavailable");
    assert!(e.is_recoverable());
    let body = br#"{"error":"invalid_request_uri","error_description":"already used"}"#.to_vec();
    let e = flow.on_request_object(Some(&HttpResponse { status: 400, headers: vec![], body }), &RpTrustInputs::default(), NOW).unwrap_err();
    assert_eq!(e.to_string(), "the relying party could not give its request: HTTP 400 invalid_request_uri: already used");
    assert!(!e.is_recoverable());
    assert!(ConsentError::RequestObjectFetch(0).is_recoverable(), "no answer at all");
    let flow = PresentationFlow::start(&url, Profile::ItWallet13).unwrap();
    let resp = HttpResponse { status: 200, headers: vec![("Content-Type".into(), "text/html".into())], body: b"<html>".to_vec() };
    assert!(matches!(flow.on_request_object(Some(&resp), &RpTrustInputs::default(), NOW), Err(ConsentError::RequestObjectFetch(200))));
    assert!(matches!(PresentationFlow::start("https://x.example/?a=b", Profile::ItWallet14), Err(ConsentError::Url(_))));
    // By value: the wallet fetches nothing.
    let jwt = fx.builder().sign(&fx.rp_ro, &fx.header()).unwrap();
    let url = AuthorizationRequestUrl::by_value(WalletInvocation::Openid4vp, fx.client_id(), jwt).to_url();
    let flow = PresentationFlow::start(&url, Profile::ItWallet14).unwrap();
    assert!(flow.request_object_request().is_none());
    let anchors = [fx.anchor()];
    flow.on_request_object(None, &RpTrustInputs { federation_anchors: &anchors, ..Default::default() }, NOW).unwrap();
    let _ = fx.holder.public_jwk();
}

/// WP_090: a fetched request object the wallet refuses (no `wallet_nonce` echoed, as it asked
/// by POST) is answered at its registered `response_uri` with the rule's code and the
/// request's `state`; a failed fetch, with nothing to read, is answered nowhere.
#[test]
fn a_refused_request_object_gets_an_error_notice() {
    let fx = Fixture::new();
    let url = AuthorizationRequestUrl::by_reference(WalletInvocation::Openid4vp, fx.client_id(), REQUEST_URI, RequestUriMethod::Post).to_url();
    let flow = PresentationFlow::start(&url, Profile::ItWallet14).unwrap();
    let jwt = fx.builder().sign(&fx.rp_ro, &fx.header()).unwrap();
    let resp = HttpResponse { status: 200, headers: vec![("Content-Type".into(), "application/oauth-authz-req+jwt".into())], body: jwt.into_bytes() };
    let chain = fx.rp_chain();
    let err = flow.on_request_object(Some(&resp), &RpTrustInputs { rp_chain: Some(&chain), ..Default::default() }, NOW).unwrap_err();
    assert!(matches!(err, ConsentError::RequestObject(crate::oid4vp::RequestObjectError::WalletNonceMissing)), "{err}");
    let notice = flow.error_notice(Some(&resp), Some(&chain), &err).expect("the RP is told");
    assert_eq!((notice.method, notice.url.as_str()), (HttpMethod::Post, RESPONSE_URI));
    let body = String::from_utf8(notice.body).unwrap();
    assert!(body.contains("error=invalid_request&") && body.contains(&format!("state={STATE}")), "{body}");
    assert!(flow.error_notice(Some(&resp), None, &err).is_none(), "no validated chain, no notice");

    let gone = HttpResponse { status: 404, headers: vec![], body: vec![] };
    let err = flow.on_request_object(Some(&gone), &RpTrustInputs { rp_chain: Some(&chain), ..Default::default() }, NOW).unwrap_err();
    assert!(flow.error_notice(Some(&gone), Some(&chain), &err).is_none());
}

/// WP_089a: a refused request is logged with the relying party's own error, or with the rule
/// it broke; entry and outcome written together, naming no credential and no claim.
#[test]
fn refused_requests_are_logged_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let store = CredentialStore::open(dir.path().join("w.db"), &StaticKeyProvider(DataKey::from_bytes([7; 32]))).unwrap();
    let rp = "openid_federation:https://rp.example";
    let used = ConsentError::RequestUriRefused { status: 400, error: Some("invalid_request".into()), description: Some("request_uri already used".into()) };
    let a = log_refusal(&store, rp, Refusal::Request(&used), NOW).unwrap();
    let silent = ConsentError::RequestUriRefused { status: 503, error: None, description: None };
    let b = log_refusal(&store, rp, Refusal::Request(&silent), NOW).unwrap();
    let c = log_refusal(&store, rp, Refusal::Request(&ConsentError::RequestObjectFetch(415)), NOW).unwrap();
    let d = log_refusal(&store, rp, Refusal::RelyingParty("it shows no trust mark"), NOW).unwrap();
    let log = store.transactions().unwrap();
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|t| t.entry.kind == TransactionKind::Refused && t.entry.counterparty == rp && t.entry.credential_ids.is_empty() && t.entry.claims.is_empty()));
    let outcomes = store.outcomes().unwrap();
    assert_eq!(outcomes[&a].1, TransactionOutcome::Refused { error: "invalid_request".into(), description: Some("request_uri already used".into()) });
    assert_eq!(outcomes[&b].1, TransactionOutcome::Refused { error: "HTTP 503".into(), description: None });
    assert!(matches!(&outcomes[&c].1, TransactionOutcome::Rejected { reason } if reason.contains("415")), "{:?}", outcomes[&c]);
    assert_eq!(outcomes[&d].1, TransactionOutcome::Rejected { reason: "the relying party is not authorised: it shows no trust mark".into() });
}

/// OpenID4VP 1.0 §6.1.1 on the wallet side: the stored PID's header (`trust_chain` to the
/// fixture's anchor, `x5c`) tells whether it can satisfy `trusted_authorities`; it is offered
/// for its own anchor, not for another one.
#[test]
fn only_credentials_from_a_trusted_authority_are_offered() {
    use crate::oid4vp::dcql::{IssuerAuthorities, TrustedAuthorityQuery};
    let fx = Fixture::new();
    let read = IssuerAuthorities::from_unverified_header(&fx.pid_header());
    assert_eq!(read.federation_entities, Some(vec![ISSUER.to_owned(), TA.to_owned()]));
    assert_eq!(read.authority_key_ids, Some(vec![]), "the fixture's leaf has no AKI");
    let dir = tempfile::tempdir().unwrap();
    let (s, pid) = store(&dir, &fx, true);
    let pid = pid.unwrap();
    for (anchor, offered) in [(TA, true), ("https://other-ta.example.it", false)] {
        let mut req = open_request(&fx);
        req.dcql_query.credentials[0].trusted_authorities = Some(vec![TrustedAuthorityQuery::openid_federation(&[anchor])]);
        let rp = evaluate_rp(&req, None, &TrustMarkInputs::default(), NOW);
        let consent = ConsentRequest::from_store(req, rp, &s).unwrap();
        let ids: Vec<&CredentialId> = consent.queries[0].candidates.iter().map(|c| &c.credential_id).collect();
        assert_eq!(ids, if offered { vec![&pid] } else { vec![] }, "{anchor}");
        assert_eq!(consent.satisfiable, offered, "{anchor}");
    }
}
