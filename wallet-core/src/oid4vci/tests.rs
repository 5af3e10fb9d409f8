//! Both sides of IT-Wallet 1.4 §3.3 in-process on a fixed clock: an issuer-initiated offer,
//! PAR with the client attestation, the authorization response, the token request with DPoP
//! and PKCE, the nonce, a batch credential request with key-attested proofs, the
//! notification, and a refresh whose access token cannot start a first issuance. Every step
//! uses only this module's builders and checks.

use super::*;
use crate::attestation::{ClientAttestationContext, client_attestation_headers};
use crate::jose::{Signer, SoftwareSigner};
use crate::oid4vci::access_token::JktCnf;
use crate::oid4vci::metadata::FORMAT_SD_JWT_VC;
use crate::oid4vci::testing::{ISSUER, NOW, PID_CONFIG, REDIRECT, Wallet, as_metadata, metadata};
use crate::attestation::Audience;

fn endpoint(path: &str) -> String {
    format!("{ISSUER}{path}")
}

#[test]
fn issuance_flow_both_sides() {
    let wallet = Wallet::new(2);
    let trust = wallet.trust();
    let as_key = SoftwareSigner::generate().unwrap();
    let md = metadata();
    md.validate(ISSUER, Profile::ItWallet14).unwrap();
    as_metadata().validate(ISSUER).unwrap();

    // Offer (§3.2): issuer-initiated, authorization code with scope and issuer_state.
    let offer = CredentialOffer::new(ISSUER, vec![PID_CONFIG.into()]).with_authorization_code("pid", Some("st-42".into())).emit(Profile::ItWallet14).unwrap();
    let url = OfferUrl { scheme: OfferScheme::HaipVci, offer: OfferRef::Value(offer) }.to_url().unwrap();
    let OfferRef::Value(offer) = OfferUrl::parse(&url).unwrap().offer else { panic!("by value") };
    offer.validate(Profile::ItWallet13).unwrap();
    offer.check_against(&md).unwrap();
    let issuer_state = offer.grants.authorization_code.as_ref().and_then(|g| g.issuer_state.clone());

    // PAR (steps 1–3).
    let builder = ParRequestBuilder { audience: ISSUER, redirect_uri: REDIRECT, scope: None, configuration_ids: &[PID_CONFIG], issuer_state: issuer_state.as_deref() };
    let (par, pending) = builder.build(&wallet.waa_key, NOW).unwrap();
    let headers = client_attestation_headers(&wallet.waa, &wallet.waa_key, ISSUER, None, NOW).unwrap();
    let ctx = ClientAttestationContext::new(ISSUER, &trust, NOW);
    let client = verify_client_attestation(Some(&headers.attestation), Some(&headers.pop), &ctx).unwrap();
    let verified = verify_par(&ParRequest::parse_form(&par.to_form()).unwrap(), &client, &ParExpectation { audience: ISSUER, now: NOW, skew: 60 }).unwrap();
    assert_eq!(verified.claims().issuer_state.as_deref(), Some("st-42"));
    assert_eq!(verified.check_against(&md).unwrap(), vec![PID_CONFIG.to_owned()]);
    let par_response = ParResponse::issue().unwrap();

    // Authorization (steps 4–7).
    let authorize = AuthorizeRequest { client_id: par.client_id.clone(), request_uri: ParResponse::parse(&serde_json::to_vec(&par_response).unwrap()).unwrap().request_uri };
    let at_issuer = AuthorizeRequest::parse_query(authorize.to_url(&endpoint("/authorize")).split_once('?').unwrap().1).unwrap();
    assert_eq!(at_issuer.request_uri, par_response.request_uri);
    let redirect = AuthorizationResponse { code: "code-1".into(), state: verified.claims().state.clone(), iss: Some(ISSUER.into()) }.to_redirect(REDIRECT);
    let auth = AuthorizationResponse::parse(&redirect).unwrap();
    auth.check(&pending, ISSUER).unwrap();

    // Token (steps 8–11).
    let dpop_key = SoftwareSigner::generate().unwrap();
    let token_req = TokenRequest::AuthorizationCode { code: auth.code, code_verifier: pending.code_verifier.clone(), redirect_uri: Some(pending.redirect_uri.clone()) };
    let dpop = dpop_proof(&dpop_key, "POST", &endpoint("/token"), None, None, NOW).unwrap();
    let headers = client_attestation_headers(&wallet.waa, &wallet.waa_key, ISSUER, None, NOW).unwrap();
    let client = verify_client_attestation(Some(&headers.attestation), Some(&headers.pop), &ctx).unwrap();
    let TokenRequest::AuthorizationCode { code_verifier, redirect_uri, .. } = TokenRequest::parse_form(&token_req.to_form()).unwrap() else { panic!("grant") };
    let binding = CodeBinding { client_id: verified.claims().client_id.clone(), redirect_uri: verified.claims().redirect_uri.clone(), code_challenge: verified.code_challenge().clone() };
    binding.verify(client.client_id(), redirect_uri.as_deref(), &code_verifier).unwrap();
    let proof = verify_dpop(&dpop, &DpopExpectation::new("POST", &endpoint("/token"), NOW)).unwrap();
    let granted = vec![AuthorizationDetail { credential_identifiers: vec!["pid-1".into()], ..AuthorizationDetail::for_configuration(PID_CONFIG) }];
    let claims = TokenClaims {
        iss: ISSUER.into(),
        sub: "user-1".into(),
        aud: Audience::One(ISSUER.into()),
        client_id: client.client_id().to_owned(),
        iat: NOW.secs(),
        nbf: None,
        exp: NOW.plus(300).secs(),
        jti: "at-1".into(),
        cnf: JktCnf { jkt: proof.jkt().to_string() },
        scope: None,
        authorization_details: granted.clone(),
        refreshed: false,
    };
    let mut response = TokenResponse::dpop(claims.sign(TokenKind::Access, &as_key).unwrap(), 300);
    response.authorization_details = granted;
    response.refresh_token = Some(TokenClaims { nbf: Some(NOW.plus(300).secs()), exp: NOW.plus(86_400).secs(), jti: "rt-1".into(), ..claims.clone() }.sign(TokenKind::Refresh, &as_key).unwrap());
    let tokens = TokenResponse::parse(&serde_json::to_vec(&response).unwrap(), true).unwrap();
    let identifier = tokens.credential_identifiers(PID_CONFIG).next().unwrap().to_owned();

    // Nonce (steps 12–13) and credential (14–19): a batch of two key-attested proofs.
    let nonce = NonceResponse::issue().unwrap();
    let proofs: Vec<String> = wallet
        .cred_keys
        .iter()
        .map(|k| key_proof(k, Some(&wallet.wua), Some(&wallet.client_id()), ISSUER, Some(&nonce.c_nonce), NOW).unwrap())
        .collect();
    let body = serde_json::to_vec(&CredentialRequest::by_identifier(identifier, proofs)).unwrap();
    let cred_dpop = dpop_proof(&dpop_key, "POST", &endpoint("/credential"), Some(&tokens.access_token), None, NOW).unwrap();

    let expect_at = TokenExpectation { kind: TokenKind::Access, key: &as_key.public_jwk(), issuer: ISSUER, audience: ISSUER, now: NOW, skew: 60 };
    let at = verify_token(&tokens.access_token, &expect_at).unwrap();
    let p = verify_dpop(&cred_dpop, &DpopExpectation::new("POST", &endpoint("/credential"), NOW).with_access_token(&tokens.access_token)).unwrap();
    at.check_dpop(&p).unwrap();
    at.require_first_issuance_allowed().unwrap();
    let req = CredentialRequest::parse_json(&body).unwrap();
    let authorized = req.authorize(&at, &md).unwrap();
    let config = md.configuration(&authorized.configuration_id).unwrap();
    assert_eq!(config.format, FORMAT_SD_JWT_VC);
    let c_nonce = nonce.c_nonce.clone();
    let nonce_valid = move |n: &str| if crate::subtle_eq(n.as_bytes(), c_nonce.as_bytes()) { Ok(()) } else { Err("not issued here".to_owned()) };
    let verified_proofs = verify_proofs(
        req.jwt_proofs(),
        &ProofExpectation {
            issuer: ISSUER,
            client_id: Some(at.claims().client_id.as_str()),
            nonce_valid: &nonce_valid,
            now: NOW,
            max_age: 300,
            skew: 60,
            batch_size: md.batch_size(),
            algs: &[crate::jose::JwsAlg::Es256],
            key_attestations_required: config.jwt_proof().and_then(|j| j.key_attestations_required.as_ref()),
            wallet_providers: &trust,
            header_memo: None,
        },
    )
    .unwrap();
    assert_eq!(verified_proofs.keys.len(), 2);
    let issued = CredentialResponse::Immediate {
        credentials: verified_proofs.keys.iter().map(|k| IssuedCredential { credential: format!("sd-jwt-for-{}", k.thumbprint()) }).collect(),
        notification_id: Some("notif-1".into()),
    };
    let CredentialResponse::Immediate { credentials, notification_id } = CredentialResponse::parse(issued.to_json().unwrap().as_bytes()).unwrap() else {
        panic!("immediate")
    };
    assert_eq!(credentials.len(), 2);

    // Notification.
    let n = NotificationRequest { notification_id: notification_id.unwrap(), event: NotificationEvent::CredentialAccepted, event_description: None };
    NotificationRequest::parse_json(&serde_json::to_vec(&n).unwrap()).unwrap();

    // Refresh: the refresh token is bound to the DPoP key; the new access token is marked.
    let refresh = TokenRequest::RefreshToken { refresh_token: tokens.refresh_token.clone().unwrap(), scope: None };
    let TokenRequest::RefreshToken { refresh_token, .. } = TokenRequest::parse_form(&refresh.to_form()).unwrap() else { panic!("grant") };
    let later = NOW.plus(600);
    let rt = verify_token(&refresh_token, &TokenExpectation { kind: TokenKind::Refresh, now: later, ..expect_at }).unwrap();
    let p = verify_dpop(&dpop_proof(&dpop_key, "POST", &endpoint("/token"), None, None, later).unwrap(), &DpopExpectation::new("POST", &endpoint("/token"), later)).unwrap();
    rt.check_dpop(&p).unwrap();
    let thief = SoftwareSigner::generate().unwrap();
    let stolen = verify_dpop(&dpop_proof(&thief, "POST", &endpoint("/token"), None, None, later).unwrap(), &DpopExpectation::new("POST", &endpoint("/token"), later)).unwrap();
    let err = rt.check_dpop(&stolen).unwrap_err();
    assert_eq!(err.code(TokenKind::Refresh), ErrorCode::InvalidGrant);
    let refreshed = TokenClaims { iat: later.secs(), exp: later.plus(300).secs(), jti: "at-2".into(), refreshed: true, nbf: None, ..rt.claims().clone() };
    let at2 = verify_token(&refreshed.sign(TokenKind::Access, &as_key).unwrap(), &TokenExpectation { now: later, ..expect_at }).unwrap();
    let err = at2.require_first_issuance_allowed().unwrap_err();
    assert_eq!(err.code(TokenKind::Access), ErrorCode::CredentialRequestDenied);
}

#[test]
fn pre_authorized_flow_with_tx_code_and_deferred_issuance() {
    let wallet = Wallet::new(1);
    let trust = wallet.trust();
    let md = metadata();

    // 1.4 only: an offer with a pre-authorized code and a transaction code sent by SMS.
    let tx = offer::TxCode { input_mode: Some(offer::TxInputMode::Numeric), length: Some(6), description: None };
    assert!(CredentialOffer::new(ISSUER, vec![PID_CONFIG.into()]).with_pre_authorized_code("pac-1", Some(tx.clone())).emit(Profile::ItWallet13).is_err());
    let offer = CredentialOffer::new(ISSUER, vec![PID_CONFIG.into()]).with_pre_authorized_code("pac-1", Some(tx)).emit(Profile::ItWallet14).unwrap();
    let url = OfferUrl { scheme: OfferScheme::OpenIdCredentialOffer, offer: OfferRef::Value(offer) }.to_url().unwrap();
    let OfferRef::Value(offer) = OfferUrl::parse(&url).unwrap().offer else { panic!("by value") };
    offer.check_against(&md).unwrap();
    let grant = offer.grants.pre_authorized_code.unwrap();

    // Token: the code and the tx_code, with DPoP.
    let dpop_key = SoftwareSigner::generate().unwrap();
    let req = TokenRequest::PreAuthorizedCode { pre_authorized_code: grant.pre_authorized_code, tx_code: Some("493536".into()) };
    let TokenRequest::PreAuthorizedCode { tx_code, .. } = TokenRequest::parse_form(&req.to_form()).unwrap() else { panic!("grant") };
    token::check_tx_code(Some("493536"), tx_code.as_deref()).unwrap();
    assert_eq!(token::check_tx_code(Some("493536"), Some("000000")).unwrap_err().code(), ErrorCode::InvalidGrant);
    let proof = verify_dpop(&dpop_proof(&dpop_key, "POST", &endpoint("/token"), None, None, NOW).unwrap(), &DpopExpectation::new("POST", &endpoint("/token"), NOW)).unwrap();

    // Credential: anonymous access (no client id), so proofs carry no `iss`.
    let nonce = NonceResponse::issue().unwrap();
    let p = key_proof(&wallet.cred_keys[0], Some(&wallet.wua), None, ISSUER, Some(&nonce.c_nonce), NOW).unwrap();
    let c_nonce = nonce.c_nonce.clone();
    let nonce_valid = move |n: &str| if n == c_nonce { Ok(()) } else { Err("not issued here".to_owned()) };
    let e = ProofExpectation {
        issuer: ISSUER,
        client_id: None,
        nonce_valid: &nonce_valid,
        now: NOW,
        max_age: 300,
        skew: 60,
        batch_size: md.batch_size(),
        algs: &[],
        key_attestations_required: None,
        wallet_providers: &trust,
        header_memo: None,
    };
    let verified = verify_proofs(&[p], &e).unwrap();
    assert_eq!(verified.keys[0].thumbprint(), wallet.cred_keys[0].public_jwk().thumbprint());
    assert_eq!(proof.jkt(), &dpop_key.public_jwk().thumbprint());

    // The registry's record is not ready: 202, then the deferred endpoint.
    let pending = CredentialResponse::Deferred { transaction_id: "tx-1".into(), interval: 5 };
    let CredentialResponse::Deferred { transaction_id, .. } = CredentialResponse::parse(pending.to_json().unwrap().as_bytes()).unwrap() else { panic!("deferred") };
    let d = DeferredCredentialRequest::parse_json(&serde_json::to_vec(&DeferredCredentialRequest { transaction_id }).unwrap()).unwrap();
    assert_eq!(d.transaction_id, "tx-1");
    let done = CredentialResponse::Immediate { credentials: vec![IssuedCredential { credential: "vc".into() }], notification_id: Some("n".into()) };
    assert_eq!(CredentialResponse::parse(done.to_json().unwrap().as_bytes()).unwrap(), done);
}
