//! The issuance flow's pure steps: tx_code, token request, consent, response handling and
//! the checks on a returned credential. The whole flow runs against the real issuer service
//! in `issuer/tests/wallet_flow.rs`.

use serde_json::{Map, json};

use super::*;
use crate::oid4vci::offer::TxCode;
use crate::oid4vci::testing::{ISSUER, PID_CONFIG, PID_VCT, metadata};
use crate::vc::{SdJwtVcBuilder, Vct};

const NOW: UnixTime = UnixTime(1_800_000_000);

fn tx(length: Option<u32>, mode: Option<TxInputMode>) -> TxCode {
    TxCode { input_mode: mode, length, description: Some("the code we sent you".into()) }
}

#[test]
fn tx_code_is_checked_against_the_offer() {
    assert_eq!(check_tx_code(None, Some("123")).unwrap(), None, "not asked: not sent");
    assert!(matches!(check_tx_code(Some(&tx(Some(6), None)), None), Err(IssuanceError::TxCode(_))));
    assert!(matches!(check_tx_code(Some(&tx(Some(6), None)), Some("12345")), Err(IssuanceError::TxCode(_))));
    assert!(matches!(check_tx_code(Some(&tx(Some(6), None)), Some("12345a")), Err(IssuanceError::TxCode(_))));
    assert_eq!(check_tx_code(Some(&tx(Some(6), None)), Some("493536")).unwrap().as_deref(), Some("493536"));
    assert_eq!(check_tx_code(Some(&tx(None, Some(TxInputMode::Text))), Some("ab-12")).unwrap().as_deref(), Some("ab-12"));
}

#[test]
fn token_request_needs_the_pre_authorized_grant() {
    let auth_code = CredentialOffer::new(ISSUER, vec![PID_CONFIG.into()]).with_authorization_code("pid", None);
    assert!(matches!(token_request_for(&auth_code, None), Err(IssuanceError::UnsupportedGrant(_))));
    let offer = CredentialOffer::new(ISSUER, vec![PID_CONFIG.into()]).with_pre_authorized_code("pac-1", Some(tx(Some(6), None)));
    let TokenRequest::PreAuthorizedCode { pre_authorized_code, tx_code } = token_request_for(&offer, Some("000111")).unwrap() else { panic!("grant") };
    assert_eq!((pre_authorized_code.as_str(), tx_code.as_deref()), ("pac-1", Some("000111")));
}

#[test]
fn consent_says_who_issues_what_and_why_it_is_not_trusted() {
    let offer = CredentialOffer::new(ISSUER, vec![PID_CONFIG.into()]).with_pre_authorized_code("pac-1", Some(tx(Some(6), None)));
    let c = consent_for(&offer, &metadata(), Err("no trust chain to a configured trust anchor"), Vec::new());
    assert_eq!(c.issuer, ISSUER);
    assert_eq!(c.issuer_name.as_deref(), Some("PID Provider"));
    assert_eq!(c.trust, IssuerTrust::Untrusted { reason: "no trust chain to a configured trust anchor".into() });
    assert!(!c.is_trusted());
    assert_eq!(c.credentials, vec![OfferedCredential { configuration_id: PID_CONFIG.into(), vct: Some(PID_VCT.into()), name: None }]);
    assert_eq!(c.tx_code.and_then(|t| t.length), Some(6));
}

/// IT-Wallet 1.4 §1.3: with required issuer mark types, one of them must have checked valid;
/// the reason names each required mark's fault. Without, nothing is required.
#[test]
fn a_required_issuer_mark_must_be_valid() {
    const T: &str = "https://ta.example.it/trust_marks/openid_credential_issuer/public";
    let view = |t: &str, check: TrustMarkCheck| TrustMarkView { trust_mark_type: t.into(), check };
    let valid = view(T, TrustMarkCheck::Valid { issuer: "https://ta.example.it".into(), exp: None });
    let required = [T.to_owned()];
    assert_eq!(required_mark_missing(&[], &[]), None);
    assert_eq!(required_mark_missing(&required, std::slice::from_ref(&valid)), None);
    // Valid, but of another type.
    let other = view("https://ta.example.it/trust_marks/other", TrustMarkCheck::Valid { issuer: "https://ta.example.it".into(), exp: None });
    assert_eq!(required_mark_missing(&required, &[other]).unwrap(), format!("it holds no trust mark of the types required ({T})"));
    let revoked = view(T, TrustMarkCheck::Invalid("its issuer https://ta.example.it reports it revoked (trust mark status)".into()));
    assert_eq!(
        required_mark_missing(&required, &[revoked]).unwrap(),
        format!("it holds no valid trust mark of the types required ({T}: its issuer https://ta.example.it reports it revoked (trust mark status))")
    );
    assert!(required_mark_missing(&required, &[view(T, TrustMarkCheck::NotChecked)]).unwrap().contains("not checked"));
}

fn response(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse { status, headers: vec![("Content-Type".into(), "application/json".into())], body: serde_json::to_vec(&body).unwrap() }
}

#[test]
fn credential_responses_and_issuer_errors() {
    let r = on_credential_response(IssuanceStep::Credential, &response(200, json!({"credentials": [{"credential": "a"}], "notification_id": "n"}))).unwrap();
    assert!(matches!(r, CredentialResponse::Immediate { credentials, .. } if credentials.len() == 1));
    let r = on_credential_response(IssuanceStep::Credential, &response(202, json!({"transaction_id": "t", "interval": 5}))).unwrap();
    assert_eq!(r, CredentialResponse::Deferred { transaction_id: "t".into(), interval: 5 });
    let e = on_credential_response(IssuanceStep::Credential, &response(200, json!({"transaction_id": "t", "interval": 5}))).unwrap_err();
    assert!(matches!(e, IssuanceError::BadResponse { step: IssuanceStep::Credential, .. }), "{e}");
    let e = on_credential_response(IssuanceStep::Credential, &response(400, json!({"error": "invalid_proof", "error_description": "stale nonce"}))).unwrap_err();
    assert_eq!(e.issuer_code(), Some(ErrorCode::InvalidProof));
    assert_eq!(e.to_string(), "credential: the issuer answered HTTP 400 invalid_proof");
    let e = issuer_error(IssuanceStep::Token, &HttpResponse { status: 500, headers: Vec::new(), body: b"oops".to_vec() });
    assert_eq!(e, IssuanceError::Issuer { step: IssuanceStep::Token, status: 500, error: None, description: None });
}

#[test]
fn dpop_nonce_challenges_are_recognised() {
    let mut r = response(400, json!({"error": "use_dpop_nonce"}));
    assert_eq!(use_dpop_nonce(&r), None, "no nonce header");
    r.headers.push(("DPoP-Nonce".into(), "n-1".into()));
    assert_eq!(use_dpop_nonce(&r).as_deref(), Some("n-1"));
    let other = HttpResponse { headers: r.headers.clone(), ..response(400, json!({"error": "invalid_grant"})) };
    assert_eq!(use_dpop_nonce(&other), None);
    let www = HttpResponse { status: 401, headers: vec![("DPoP-Nonce".into(), "n-2".into()), ("WWW-Authenticate".into(), "DPoP error=\"use_dpop_nonce\"".into())], body: Vec::new() };
    assert_eq!(use_dpop_nonce(&www).as_deref(), Some("n-2"));
}

struct Issued {
    issuer_key: SoftwareSigner,
    holder: Vec<SoftwareSigner>,
}

impl Issued {
    fn new() -> Self {
        Self { issuer_key: SoftwareSigner::generate().unwrap(), holder: vec![SoftwareSigner::generate().unwrap(), SoftwareSigner::generate().unwrap()] }
    }

    fn jwks(&self) -> JwkSet {
        let k = self.issuer_key.public_jwk();
        let kid = k.thumbprint().to_string();
        JwkSet { keys: vec![k.with_kid(kid)] }
    }

    fn holder_keys(&self) -> Vec<Jwk> {
        self.holder.iter().map(Signer::public_jwk).collect()
    }

    fn builder(&self, iss: &str, vct: &str, holder: usize) -> SdJwtVcBuilder {
        self.builder_with(iss, vct, holder, pid_attributes())
    }

    fn builder_with(&self, iss: &str, vct: &str, holder: usize, attrs: Map<String, serde_json::Value>) -> SdJwtVcBuilder {
        let b = SdJwtVcBuilder::new(iss, Vct::new(vct).unwrap(), attrs)
            .validity(NOW.plus(-60), NOW.plus(86_400))
            .holder_key(&self.holder[holder].public_jwk())
            .kid(self.issuer_key.public_jwk().thumbprint().to_string());
        if vct == PID_VCT { b.pid_metadata("NzbLsXh8uDCcd7noWXFZAfHkxZsRGC9Xs", "2033-03-19", "it_cie", "high") } else { b }
    }

    fn sign(&self, b: SdJwtVcBuilder) -> String {
        b.sign(&self.issuer_key).unwrap().serialize()
    }
}

/// A PID's attributes, valid in its data model (IT-Wallet 1.4 §4.3).
fn pid_attributes() -> Map<String, serde_json::Value> {
    let attrs = json!({
        "given_name": "Mario", "family_name": "Rossi", "birthdate": "1980-01-10",
        "place_of_birth": {"locality": "Roma"}, "nationalities": ["IT"], "tax_id_code": "TINIT-RSSMRA80A10H501A"
    });
    attrs.as_object().cloned().unwrap_or_default()
}

#[test]
fn a_returned_credential_is_checked_before_it_is_stored() {
    let t = Issued::new();
    let jwks = t.jwks();
    let keys = t.holder_keys();
    let good = t.sign(t.builder(ISSUER, PID_VCT, 1).status(3, format!("{ISSUER}/status-list")));
    let v = verify_credential(&good, ISSUER, &jwks, Some(PID_VCT), &keys, &[], NOW).unwrap();
    assert_eq!((v.vct.as_str(), v.key_index, v.expires_at), (PID_VCT, 1, NOW.plus(86_400)));
    assert_eq!(verify_credential(&good, ISSUER, &jwks, Some(PID_VCT), &keys, &[1], NOW).unwrap_err(), CredentialRule::Cnf, "key bound twice");

    let vct = verify_credential(&good, ISSUER, &jwks, Some("urn:eudi:mDL:it:1"), &keys, &[], NOW).unwrap_err();
    assert!(matches!(vct, CredentialRule::Vct { ref got, .. } if got == PID_VCT), "{vct}");

    let other_key = JwkSet { keys: vec![SoftwareSigner::generate().unwrap().public_jwk().with_kid(jwks.keys[0].kid.clone().unwrap())] };
    assert!(matches!(verify_credential(&good, ISSUER, &other_key, Some(PID_VCT), &keys, &[], NOW), Err(CredentialRule::Signature(_))), "not the federation's key");
    assert!(matches!(verify_credential(&good, "https://other.example.it", &jwks, Some(PID_VCT), &keys, &[], NOW), Err(CredentialRule::Signature(_))));

    let not_ours = vec![SoftwareSigner::generate().unwrap().public_jwk()];
    assert_eq!(verify_credential(&good, ISSUER, &jwks, Some(PID_VCT), &not_ours, &[], NOW).unwrap_err(), CredentialRule::Cnf);

    assert!(verify_credential(&good, ISSUER, &jwks, Some(PID_VCT), &keys, &[], NOW.plus(86_400 + 120)).is_err(), "expired");

    // A PID's status is REQUIRED (§4.3): refused by its data model, naming it.
    let no_status = t.sign(t.builder(ISSUER, PID_VCT, 0));
    let e = verify_credential(&no_status, ISSUER, &jwks, Some(PID_VCT), &keys, &[], NOW).unwrap_err();
    assert_eq!(e.to_string(), "data model: invalid PID attribute `status`: missing (REQUIRED in a PID, IT-Wallet 1.4 §4.3)");
    // And each of the other metadata §4.3 requires.
    for claim in ["sub", "date_of_expiry", "verification"] {
        let b = t.builder(ISSUER, PID_VCT, 0).status(3, format!("{ISSUER}/status-list")).metadata(claim, json!(null));
        let e = verify_credential(&t.sign(b), ISSUER, &jwks, Some(PID_VCT), &keys, &[], NOW).unwrap_err();
        assert!(matches!(e, CredentialRule::DataModel(ref d) if d.contains(&format!("`{claim}`"))), "{claim}: {e}");
    }
    let plain_http = t.sign(t.builder(ISSUER, PID_VCT, 0).status(3, "http://status.example.it/list"));
    assert!(matches!(verify_credential(&plain_http, ISSUER, &jwks, Some(PID_VCT), &keys, &[], NOW), Err(CredentialRule::Status(_))));

    // WP_060: a PID that breaks its data model (no nationalities, a birth date not in
    // ISO 8601) is refused, naming the attribute.
    let mut attrs = Map::new();
    attrs.insert("given_name".into(), json!("Mario"));
    let thin = t.sign(t.builder_with(ISSUER, PID_VCT, 0, attrs).status(3, format!("{ISSUER}/status-list")));
    let e = verify_credential(&thin, ISSUER, &jwks, Some(PID_VCT), &keys, &[], NOW).unwrap_err();
    assert!(matches!(e, CredentialRule::DataModel(ref d) if d.contains("family_name")), "{e}");
    let mut attrs = pid_attributes();
    attrs.insert("birthdate".into(), json!("10/01/1980"));
    let bad_date = t.sign(t.builder_with(ISSUER, PID_VCT, 0, attrs).status(3, format!("{ISSUER}/status-list")));
    let e = verify_credential(&bad_date, ISSUER, &jwks, Some(PID_VCT), &keys, &[], NOW).unwrap_err();
    assert_eq!(e.to_string(), "data model: invalid PID attribute `birthdate`: not YYYY-MM-DD");
}

/// The authorization code flow's client: the WAA key's thumbprint (IT-Wallet 1.4 §3.3), with
/// a fresh PoP for each request that the issuer's check accepts.
#[test]
fn the_wallet_attestation_key_names_the_client_by_its_thumbprint() {
    let w = crate::oid4vci::testing::Wallet::new(1);
    let key = WalletAttestationKey { waa: w.waa.clone(), key: Arc::new(SoftwareSigner::from_private_jwk(w.waa_key.private_jwk().clone()).unwrap()) };
    assert_eq!(key.client_id(), w.client_id());
    let trust = w.trust();
    let ctx = crate::oid4vci::ClientAttestationContext::new(ISSUER, &trust, NOW);
    let a = key.client_auth(ISSUER, NOW).unwrap();
    assert_eq!(a.client_id, w.client_id());
    let verified = crate::oid4vci::verify_client_attestation(Some(&a.headers.attestation), Some(&a.headers.pop), &ctx).unwrap();
    assert_eq!(verified.client_id(), w.client_id());
    let b = key.client_auth(ISSUER, NOW).unwrap();
    assert_ne!(a.headers.pop, b.headers.pop, "a new PoP each time");
    assert!(!format!("{key:?}").contains(&w.waa), "Debug hides the WAA");
}
