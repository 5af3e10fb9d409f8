//! Request objects: build → sign → parse → verify, both client id prefixes and both
//! profiles; then a negative test per check of IT-Wallet §5.1 / §8, asserting the variant.

use serde_json::json;

use super::*;
use crate::jose::{ContentEncryption, JwkSet, SoftwareSigner};
use crate::oid4vp::Profile;
use crate::oid4vp::request_url::WalletNonce;
use crate::oid4vp::testing::*;
use crate::time::UnixTime;

fn sign_edit(fx: &Fixture, edit: impl FnOnce(&mut RequestObjectClaims)) -> String {
    let mut claims = fx.builder().claims().unwrap();
    edit(&mut claims);
    sign_claims(&claims, &fx.rp_ro, &fx.header()).unwrap()
}

fn verify_fed(fx: &Fixture, jwt: &str) -> Result<VerifiedRequest, RequestObjectError> {
    let chain = fx.rp_chain();
    let cid = fx.client_id();
    let ctx = VerifyContext { rp_chain: Some(&chain), ..VerifyContext::new(&cid, Profile::ItWallet14, NOW) };
    ParsedRequestObject::parse(jwt)?.verify(&ctx)
}

fn err(fx: &Fixture, edit: impl FnOnce(&mut RequestObjectClaims)) -> RequestObjectError {
    verify_fed(fx, &sign_edit(fx, edit)).unwrap_err()
}

#[test]
fn federation_round_trip() {
    let fx = Fixture::new();
    let jwt = fx.builder().sign(&fx.rp_ro, &fx.header()).unwrap();
    let parsed = ParsedRequestObject::parse(&jwt).unwrap();
    assert!(parsed.header().typ_is(REQUEST_OBJECT_TYP));
    let v = verify_fed(&fx, &jwt).unwrap();
    assert_eq!(v.client_id, fx.client_id());
    assert_eq!(v.response_uri, RESPONSE_URI);
    assert_eq!(v.nonce, NONCE);
    assert_eq!(v.state.as_deref(), Some(STATE));
    assert_eq!(v.dcql_query, Fixture::pid_query());
    assert_eq!(v.metadata.client_name.as_deref(), Some("Comune di Roma"));
    assert_eq!(v.encryption_key, *fx.rp_enc.public_jwk());
    assert_eq!(v.enc, ContentEncryption::A256Gcm);
    assert!(matches!(v.trust, RpTrust::Federation { ref trust_anchor, .. } if trust_anchor.as_str() == TA));
    assert_eq!(v.exp.secs(), NOW.secs() + 300);
}

#[test]
fn federation_via_trust_chain_header_with_x5c_checked() {
    let fx = Fixture::new();
    let jwt = fx.builder().sign(&fx.rp_ro, &fx.header()).unwrap();
    let cid = fx.client_id();
    let anchors = [fx.anchor()];
    let x509 = fx.pki.anchors();
    let ctx = VerifyContext {
        federation_anchors: &anchors,
        x509_anchors: Some(&x509),
        request_uri: Some(REQUEST_URI),
        ..VerifyContext::new(&cid, Profile::ItWallet13, NOW)
    };
    let v = ParsedRequestObject::parse(&jwt).unwrap().verify(&ctx).unwrap();
    assert_eq!(v.profile, Profile::ItWallet13);
    // A trust anchor the wallet does not know.
    let other = Fixture::new();
    let anchors = [other.anchor()];
    let ctx = VerifyContext { federation_anchors: &anchors, ..VerifyContext::new(&cid, Profile::ItWallet14, NOW) };
    assert!(matches!(ParsedRequestObject::parse(&jwt).unwrap().verify(&ctx).unwrap_err(), RequestObjectError::UntrustedChain(_)));
    // No chain at all.
    let ctx = VerifyContext::new(&cid, Profile::ItWallet14, NOW);
    let no_tc = fx.builder().sign(&fx.rp_ro, &SigningHeader { x5c: fx.header().x5c, ..Default::default() }).unwrap();
    assert_eq!(ParsedRequestObject::parse(&no_tc).unwrap().verify(&ctx).unwrap_err(), RequestObjectError::MissingTrustChain);
}

fn x509_builder(fx: &Fixture) -> RequestObjectBuilder {
    let mut b = fx.builder();
    b.client_id = crate::oid4vp::ClientId::x509_hash_of(&fx.rp_leaf);
    b
}

fn verify_x509(fx: &Fixture, jwt: &str) -> Result<VerifiedRequest, RequestObjectError> {
    let cid = crate::oid4vp::ClientId::x509_hash_of(&fx.rp_leaf);
    let anchors = fx.pki.anchors();
    let ctx = VerifyContext { x509_anchors: Some(&anchors), ..VerifyContext::new(&cid, Profile::ItWallet14, NOW) };
    ParsedRequestObject::parse(jwt)?.verify(&ctx)
}

#[test]
fn x509_hash_round_trip() {
    let fx = Fixture::new();
    let header = SigningHeader { x5c: Some(vec![b64(&fx.rp_leaf)]), ..Default::default() };
    let jwt = x509_builder(&fx).sign(&fx.rp_ro, &header).unwrap();
    let v = verify_x509(&fx, &jwt).unwrap();
    assert!(matches!(v.trust, RpTrust::X509 { ref san_dns, .. } if san_dns == &["rp.example.it".to_owned()]));
    assert_eq!(v.encryption_key, *fx.rp_enc.public_jwk());
    // The answer's redirect (WP_094a): on a host the certificate names, as the request's URIs.
    let rule = v.redirect_rule();
    assert!(rule.allows("https://rp.example.it/any/page?response_code=x"));
    assert!(!rule.allows("https://attacker.example/cb?response_code=x"));
    assert!(!rule.allows("not a url"));
}

#[test]
fn wp_085_request_object_signed_by_another_key_is_refused() {
    let fx = Fixture::new();
    let other = SoftwareSigner::generate().unwrap();
    let header = SigningHeader { kid: fx.rp_ro.kid(), ..fx.header() };
    let jwt = fx.builder().sign(&other, &header).unwrap();
    let e = verify_fed(&fx, &jwt).unwrap_err();
    assert_eq!(e, RequestObjectError::BadSignature);
    assert_eq!(e.oauth_code(), "invalid_request_object");
    // A kid the RP does not publish.
    let jwt = fx.builder().sign(&other, &fx.header()).unwrap();
    assert_eq!(verify_fed(&fx, &jwt).unwrap_err(), RequestObjectError::UnknownKid(other.kid()));
    // x509_hash: signed by another key than the certificate's.
    let header = SigningHeader { x5c: Some(vec![b64(&fx.rp_leaf)]), ..Default::default() };
    assert_eq!(verify_x509(&fx, &x509_builder(&fx).sign(&other, &header).unwrap()).unwrap_err(), RequestObjectError::BadSignature);
}

#[test]
fn wp_086_client_id_mismatches_are_refused() {
    let fx = Fixture::new();
    // The request object names another client than the URL.
    let e = err(&fx, |c| c.client_id = Some("openid_federation:https://evil.example.it".into()));
    assert_eq!(e, RequestObjectError::ClientIdMismatch { in_url: format!("openid_federation:{RP}"), in_object: "openid_federation:https://evil.example.it".into() });
    assert_eq!(e.oauth_code(), "invalid_client");
    // Prefix mismatch: the URL has the prefix, the request object the bare id.
    assert!(matches!(err(&fx, |c| c.client_id = Some(RP.into())), RequestObjectError::ClientIdMismatch { .. }));
    // iss is not the client.
    assert_eq!(err(&fx, |c| c.iss = Some("https://evil.example.it".into())), RequestObjectError::IssMismatch("https://evil.example.it".into()));
    assert_eq!(err(&fx, |c| c.iss = None), RequestObjectError::MissingClaim("iss"));
    // iss as the bare entity id is accepted.
    verify_fed(&fx, &sign_edit(&fx, |c| c.iss = Some(RP.into()))).unwrap();
    // The chain is about another entity than the client.
    let other = Fixture::new();
    let mut b = fx.builder();
    b.client_id = crate::oid4vp::ClientId::parse("openid_federation:https://other.example.it").unwrap();
    let jwt = b.sign(&fx.rp_ro, &fx.header()).unwrap();
    let chain = other.rp_chain();
    let ctx = VerifyContext { rp_chain: Some(&chain), ..VerifyContext::new(&b.client_id, Profile::ItWallet14, NOW) };
    assert_eq!(
        ParsedRequestObject::parse(&jwt).unwrap().verify(&ctx).unwrap_err(),
        RequestObjectError::EntityMismatch { client: "https://other.example.it".into(), chain_subject: RP.into() }
    );
}

#[test]
fn x509_hash_not_matching_the_leaf_is_refused() {
    let fx = Fixture::new();
    let other_leaf = fx.pki.leaf(&SoftwareSigner::generate().unwrap(), RP);
    let header = SigningHeader { x5c: Some(vec![b64(&other_leaf)]), ..Default::default() };
    let e = verify_x509(&fx, &x509_builder(&fx).sign(&fx.rp_ro, &header).unwrap()).unwrap_err();
    assert_eq!(e, RequestObjectError::X509HashMismatch);
    // No x5c at all.
    let e = verify_x509(&fx, &x509_builder(&fx).sign(&fx.rp_ro, &SigningHeader::default()).unwrap()).unwrap_err();
    assert_eq!(e, RequestObjectError::MissingX5c);
}

#[test]
fn root_certificate_in_x5c_is_refused() {
    let fx = Fixture::new();
    let header = SigningHeader { x5c: Some(vec![b64(&fx.rp_leaf), b64(&fx.pki.root_der)]), ..Default::default() };
    assert_eq!(verify_x509(&fx, &x509_builder(&fx).sign(&fx.rp_ro, &header).unwrap()).unwrap_err(), RequestObjectError::RootInChain);
}

#[test]
fn x5c_from_another_ca_is_refused() {
    let fx = Fixture::new();
    let other = Pki::new();
    let leaf = other.leaf(&fx.rp_ro, RP);
    let mut b = fx.builder();
    b.client_id = crate::oid4vp::ClientId::x509_hash_of(&leaf);
    let jwt = b.sign(&fx.rp_ro, &SigningHeader { x5c: Some(vec![b64(&leaf)]), ..Default::default() }).unwrap();
    let cid = b.client_id.clone();
    let anchors = fx.pki.anchors();
    let ctx = VerifyContext { x509_anchors: Some(&anchors), ..VerifyContext::new(&cid, Profile::ItWallet14, NOW) };
    assert_eq!(
        ParsedRequestObject::parse(&jwt).unwrap().verify(&ctx).unwrap_err(),
        RequestObjectError::Certificate(crate::x509::X509Error::UntrustedRoot)
    );
}

#[test]
fn x5c_san_must_bind_the_response_uri_host() {
    let fx = Fixture::new();
    let mut b = x509_builder(&fx);
    b.response_uri = "https://evil.example.org/response".into();
    let header = SigningHeader { x5c: Some(vec![b64(&fx.rp_leaf)]), ..Default::default() };
    assert_eq!(verify_x509(&fx, &b.sign(&fx.rp_ro, &header).unwrap()).unwrap_err(), RequestObjectError::SanMismatch("https://evil.example.org/response".into()));
}

#[test]
fn federation_x5c_leaf_must_be_the_signing_key() {
    let fx = Fixture::new();
    let other_leaf = fx.pki.leaf(&SoftwareSigner::generate().unwrap(), RP);
    let jwt = fx.builder().sign(&fx.rp_ro, &SigningHeader { x5c: Some(vec![b64(&other_leaf)]), ..fx.header() }).unwrap();
    let chain = fx.rp_chain();
    let cid = fx.client_id();
    let x509 = fx.pki.anchors();
    let ctx = VerifyContext { rp_chain: Some(&chain), x509_anchors: Some(&x509), ..VerifyContext::new(&cid, Profile::ItWallet14, NOW) };
    assert_eq!(ParsedRequestObject::parse(&jwt).unwrap().verify(&ctx).unwrap_err(), RequestObjectError::X5cKeyMismatch);
}

#[test]
fn wp_091a_wp_094a_wp_081_unregistered_uris_are_refused() {
    let fx = Fixture::new();
    assert_eq!(
        err(&fx, |c| c.response_uri = Some("https://rp.example.it/other".into())),
        RequestObjectError::ResponseUriNotRegistered("https://rp.example.it/other".into())
    );
    assert_eq!(
        err(&fx, |c| c.redirect_uri = Some("https://rp.example.it/elsewhere".into())),
        RequestObjectError::RedirectUriNotRegistered("https://rp.example.it/elsewhere".into())
    );
    let jwt = fx.builder().sign(&fx.rp_ro, &fx.header()).unwrap();
    let chain = fx.rp_chain();
    let cid = fx.client_id();
    let ctx = VerifyContext { rp_chain: Some(&chain), request_uri: Some("https://rp.example.it/request/9"), ..VerifyContext::new(&cid, Profile::ItWallet14, NOW) };
    let e = ParsedRequestObject::parse(&jwt).unwrap().verify(&ctx).unwrap_err();
    assert_eq!(e, RequestObjectError::RequestUriNotRegistered("https://rp.example.it/request/9".into()));
    assert_eq!(e.oauth_code(), "invalid_request_uri");
    assert_eq!(err(&fx, |c| c.response_uri = None), RequestObjectError::MissingClaim("response_uri"));
}

#[test]
fn expired_or_future_request_object_is_refused() {
    let fx = Fixture::new();
    let e = err(&fx, |c| c.exp = Some(NOW.secs() - 120));
    assert_eq!(e, RequestObjectError::Expired { exp: NOW.secs() - 120, now: NOW.secs() });
    assert_eq!(e.oauth_code(), "invalid_request_object");
    assert_eq!(err(&fx, |c| c.iat = Some(NOW.secs() + 600)), RequestObjectError::IssuedInFuture { iat: NOW.secs() + 600, now: NOW.secs() });
    assert_eq!(err(&fx, |c| c.exp = None), RequestObjectError::MissingClaim("exp"));
    assert!(matches!(err(&fx, |c| c.exp = Some(i64::MAX)), RequestObjectError::Time(_)));
}

#[test]
fn short_nonce_is_refused() {
    let fx = Fixture::new();
    let fresh = generate_nonce().unwrap();
    assert!(fresh.len() >= MIN_NONCE_LEN);
    verify_fed(&fx, &sign_edit(&fx, |c| c.nonce = Some(fresh))).unwrap();
    assert_eq!(err(&fx, |c| c.nonce = Some("123456".into())), RequestObjectError::NonceTooShort { len: 6, min: MIN_NONCE_LEN });
    assert_eq!(err(&fx, |c| c.nonce = Some("x".repeat(31))), RequestObjectError::NonceTooShort { len: 31, min: MIN_NONCE_LEN });
    verify_fed(&fx, &sign_edit(&fx, |c| c.nonce = Some("x".repeat(32)))).unwrap();
    assert_eq!(err(&fx, |c| c.nonce = None), RequestObjectError::MissingClaim("nonce"));
}

#[test]
fn wallet_nonce_must_be_echoed() {
    let fx = Fixture::new();
    let wn = WalletNonce::generate().unwrap();
    let chain = fx.rp_chain();
    let cid = fx.client_id();
    let ctx = VerifyContext { rp_chain: Some(&chain), wallet_nonce: Some(&wn), ..VerifyContext::new(&cid, Profile::ItWallet14, NOW) };
    let mut b = fx.builder();
    let jwt = b.sign(&fx.rp_ro, &fx.header()).unwrap();
    assert_eq!(ParsedRequestObject::parse(&jwt).unwrap().verify(&ctx).unwrap_err(), RequestObjectError::WalletNonceMissing);
    b.wallet_nonce = Some("another".into());
    let jwt = b.sign(&fx.rp_ro, &fx.header()).unwrap();
    assert_eq!(ParsedRequestObject::parse(&jwt).unwrap().verify(&ctx).unwrap_err(), RequestObjectError::WalletNonceMismatch);
    b.wallet_nonce = Some(wn.as_str().to_owned());
    let jwt = b.sign(&fx.rp_ro, &fx.header()).unwrap();
    ParsedRequestObject::parse(&jwt).unwrap().verify(&ctx).unwrap();
}

#[test]
fn response_mode_and_type_are_enforced() {
    let fx = Fixture::new();
    // direct_post (unencrypted) is refused in both profiles (versions note §2).
    assert_eq!(err(&fx, |c| c.response_mode = Some("direct_post".into())), RequestObjectError::ResponseModeNotAllowed("direct_post".into()));
    assert_eq!(err(&fx, |c| c.response_mode = Some("fragment".into())), RequestObjectError::ResponseModeNotAllowed("fragment".into()));
    assert_eq!(err(&fx, |c| c.response_type = Some("code".into())), RequestObjectError::UnsupportedResponseType("code".into()));
}

#[test]
fn query_rules() {
    let fx = Fixture::new();
    assert_eq!(err(&fx, |c| c.dcql_query = None), RequestObjectError::MissingDcqlQuery);
    assert_eq!(err(&fx, |c| c.presentation_definition = Some(json!({"id": "x"}))), RequestObjectError::PresentationDefinitionUnsupported);
    assert_eq!(
        err(&fx, |c| c.dcql_query = Some(json!({"credentials": []}))),
        RequestObjectError::Dcql(crate::oid4vp::dcql::DcqlError::NoCredentials)
    );
    let e = err(&fx, |c| c.dcql_query = Some(json!({"credentials": [{"id": "x", "format": "jwt_vc_json", "meta": {}}]})));
    assert_eq!(e, RequestObjectError::VpFormatsNotSupported("jwt_vc_json".into()));
    assert_eq!(e.oauth_code(), "vp_formats_not_supported");
}

#[test]
fn wrong_typ_is_refused() {
    let fx = Fixture::new();
    let claims = fx.builder().claims().unwrap();
    let h = crate::jose::JwsHeader::new(crate::jose::JwsAlg::Es256).with_typ("JWT").with_kid(fx.rp_ro.kid());
    let jwt = crate::jose::jws::sign_json(&h, &claims, &fx.rp_ro).unwrap();
    assert_eq!(verify_fed(&fx, &jwt).unwrap_err(), RequestObjectError::WrongTyp(Some("JWT".into())));
    assert!(matches!(ParsedRequestObject::parse("not.a.jwt").unwrap_err(), RequestObjectError::Malformed(_)));
}

#[test]
fn response_encryption_key_per_profile() {
    let fx = Fixture::new();
    // client_metadata carries an ephemeral key different from the EC's.
    let eph = crate::jose::DecryptionKey::generate().unwrap();
    let mut b = fx.builder();
    if let Some(cm) = b.client_metadata.as_mut() {
        cm.jwks = Some(JwkSet { keys: vec![eph.public_jwk().clone()] });
        cm.encrypted_response_enc_values_supported = Some(vec!["A128GCM".into()]);
    }
    let jwt = b.sign(&fx.rp_ro, &fx.header()).unwrap();
    let chain = fx.rp_chain();
    let cid = fx.client_id();
    let v14 = ParsedRequestObject::parse(&jwt).unwrap().verify(&VerifyContext { rp_chain: Some(&chain), ..VerifyContext::new(&cid, Profile::ItWallet14, NOW) }).unwrap();
    assert_eq!(v14.encryption_key, *eph.public_jwk());
    assert_eq!(v14.enc, ContentEncryption::A128Gcm);
    let v13 = ParsedRequestObject::parse(&jwt).unwrap().verify(&VerifyContext { rp_chain: Some(&chain), ..VerifyContext::new(&cid, Profile::ItWallet13, NOW) }).unwrap();
    assert_eq!(v13.encryption_key, *fx.rp_enc.public_jwk());
    assert_eq!(v13.enc, ContentEncryption::A256Gcm);
}

#[test]
fn missing_encryption_key_or_enc_is_refused() {
    let fx = Fixture::new();
    let mut md = fx.rp_metadata();
    md["jwks"] = json!({"keys": [fx.rp_ro.public_jwk()]});
    let chain = crate::federation::chain::validate(&fx.rp_chain_jwts_with(md.clone()), &fx.anchor(), NOW).unwrap();
    let mut b = fx.builder();
    b.client_metadata = None;
    let jwt = b.sign(&fx.rp_ro, &fx.header()).unwrap();
    let cid = fx.client_id();
    let ctx = VerifyContext { rp_chain: Some(&chain), ..VerifyContext::new(&cid, Profile::ItWallet14, NOW) };
    assert_eq!(ParsedRequestObject::parse(&jwt).unwrap().verify(&ctx).unwrap_err(), RequestObjectError::NoEncryptionKey);
    let mut b = fx.builder();
    if let Some(cm) = b.client_metadata.as_mut() {
        cm.encrypted_response_enc_values_supported = Some(vec!["A128CBC-HS256".into()]);
    }
    let jwt = b.sign(&fx.rp_ro, &fx.header()).unwrap();
    assert_eq!(verify_fed(&fx, &jwt).unwrap_err(), RequestObjectError::UnsupportedEnc);
    let _ = UnixTime(0);
}

#[test]
fn per_session_query_on_a_registered_uri_is_accepted() {
    let fx = Fixture::new();
    verify_fed(&fx, &sign_edit(&fx, |c| c.response_uri = Some(format!("{RESPONSE_URI}?session=abc")))).unwrap();
    let jwt = fx.builder().sign(&fx.rp_ro, &fx.header()).unwrap();
    let chain = fx.rp_chain();
    let cid = fx.client_id();
    let uri = format!("{REQUEST_URI}?id=42");
    let ctx = VerifyContext { rp_chain: Some(&chain), request_uri: Some(&uri), ..VerifyContext::new(&cid, Profile::ItWallet14, NOW) };
    ParsedRequestObject::parse(&jwt).unwrap().verify(&ctx).unwrap();
    // Another path is not.
    assert!(matches!(err(&fx, |c| c.response_uri = Some(format!("{RESPONSE_URI}/x?session=abc"))), RequestObjectError::ResponseUriNotRegistered(_)));
}

#[test]
fn per_session_request_uri_is_accepted_and_another_endpoint_refused() {
    let fx = Fixture::new();
    let jwt = fx.builder().sign(&fx.rp_ro, &fx.header()).unwrap();
    let chain = fx.rp_chain();
    let cid = fx.client_id();
    let verify = |uri: &str| {
        let ctx = VerifyContext { rp_chain: Some(&chain), request_uri: Some(uri), ..VerifyContext::new(&cid, Profile::ItWallet14, NOW) };
        ParsedRequestObject::parse(&jwt).unwrap().verify(&ctx)
    };
    // `<entity>/request/1` registered: the per-session handle in the query is accepted, as
    // is the registered URI itself and an explicit default port.
    for ok in [REQUEST_URI.to_owned(), format!("{REQUEST_URI}?id=h4ndle"), format!("{REQUEST_URI}?id=a&x=b"), "https://rp.example.it:443/request/1?id=h".to_owned()] {
        verify(&ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "https://rp.example.it/request/2?id=h",
        "https://rp.example.it/request/1/x?id=h",
        "https://rp.example.it/request?id=h",
        "https://evil.example.it/request/1?id=h",
        "https://rp.example.it.evil.it/request/1?id=h",
        "https://rp.example.it:8443/request/1?id=h",
        "http://rp.example.it/request/1?id=h",
        "https://user@rp.example.it/request/1?id=h",
        "https://rp.example.it/request/1?id=h#frag",
        "https://rp.example.it/request/1#frag",
        "not a url",
    ] {
        assert_eq!(verify(bad).unwrap_err(), RequestObjectError::RequestUriNotRegistered(bad.into()), "{bad}");
    }
}

#[test]
fn one_rule_for_request_response_and_redirect_uris() {
    let list = vec!["https://rp.example.it/cb".to_owned(), "https://rp.example.it/fixed?a=1".to_owned()];
    assert!(uri_registered(&list, "https://rp.example.it/cb"));
    assert!(uri_registered(&list, "https://rp.example.it/cb?session=1"));
    assert!(uri_registered(&list, "https://rp.example.it/fixed?a=1"));
    // A registered URI with a query matches only itself.
    assert!(!uri_registered(&list, "https://rp.example.it/fixed?a=2"));
    assert!(!uri_registered(&list, "https://rp.example.it/fixed"));
    assert!(!uri_registered(&list, "https://rp.example.it/cb#x"));
    assert!(!uri_registered(&list, "https://rp.example.it:444/cb"));
    assert!(!uri_registered(&["https://rp.example.it/cb#x".to_owned()], "https://rp.example.it/cb#x"));
    // The response and redirect URIs go by it too (step 6).
    let fx = Fixture::new();
    verify_fed(&fx, &sign_edit(&fx, |c| c.response_uri = Some(format!("{RESPONSE_URI}?s=1")))).unwrap();
    verify_fed(&fx, &sign_edit(&fx, |c| c.redirect_uri = Some("https://rp.example.it/cb?s=1".into()))).unwrap();
    assert!(matches!(err(&fx, |c| c.redirect_uri = Some("https://rp.example.it/cb#s".into())), RequestObjectError::RedirectUriNotRegistered(_)));
    for bad in [format!("{RESPONSE_URI}#s"), RESPONSE_URI.replace("https:", "http:"), RESPONSE_URI.replace("rp.example.it", "rp.example.it:8443")] {
        let b = bad.clone();
        assert_eq!(err(&fx, move |c| c.response_uri = Some(b)), RequestObjectError::ResponseUriNotRegistered(bad));
    }
}

#[test]
fn alg_none_and_hmac_request_objects_are_refused() {
    let fx = Fixture::new();
    let payload = crate::jose::b64::encode(serde_json::to_vec(&fx.builder().claims().unwrap()).unwrap());
    for alg in ["none", "HS256"] {
        let header = crate::jose::b64::encode(format!(r#"{{"alg":"{alg}","typ":"oauth-authz-req+jwt"}}"#));
        let e = ParsedRequestObject::parse(&format!("{header}.{payload}.c2ln")).unwrap_err();
        assert_eq!(e, RequestObjectError::Malformed(crate::jose::JoseError::ForbiddenAlg(alg.into())));
        assert_eq!(e.oauth_code(), "invalid_request_object");
    }
}

#[test]
fn builder_refuses_an_over_long_lifetime() {
    let fx = Fixture::new();
    let mut b = fx.builder();
    b.lifetime = MAX_LIFETIME + 1;
    assert!(matches!(b.claims(), Err(RequestObjectError::Time(_))));
}

#[test]
fn a_header_encoded_once_signs_the_same_request_object() {
    let fx = Fixture::new();
    let b = fx.builder();
    // One header for both: the fixture signs its trust chain anew at each call (randomised
    // ES256 with aws-lc-rs), so two calls give two different headers.
    let header = fx.header();
    let encoded = EncodedHeader::new(&fx.rp_ro, &header).unwrap();
    let once = b.sign_encoded(&fx.rp_ro, &encoded).unwrap();
    let each = b.sign(&fx.rp_ro, &header).unwrap();
    // ES256 signatures are randomised: the header and the payload are the same bytes.
    let signed_part = |jwt: &str| jwt.rsplit_once('.').unwrap().0.to_owned();
    assert_eq!(signed_part(&once), signed_part(&each));
    assert!(verify_fed(&fx, &once).is_ok());
}

/// What the builder signs is [`RequestObjectBuilder::claims`], byte for byte, though it is
/// written from the borrowed query and metadata: with every optional member, with none, and
/// with a query using `claim_sets`, `values` and `credential_sets`.
#[test]
fn the_signed_payload_is_the_builders_claims_byte_for_byte() {
    let fx = Fixture::new();
    let full = {
        let mut b = fx.builder();
        b.redirect_uri = Some("https://rp.example.it/done".into());
        b.wallet_nonce = Some("wallet-nonce-1".into());
        b
    };
    let bare = {
        let mut b = fx.builder();
        (b.state, b.client_metadata, b.aud) = (None, None, None);
        b
    };
    let sets = {
        let mut b = fx.builder();
        b.dcql_query = DcqlQuery::parse(
            r#"{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:pid:it:1"]},"claims":[{"id":"x","path":["age_over_18"],"values":[true]},{"id":"y","path":["birth_date"]}],"claim_sets":[["x"],["y"]]},{"id":"b","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:mdl:it:1"]},"multiple":true}],"credential_sets":[{"options":[["a"],["b"]],"required":false}]}"#,
        )
        .unwrap();
        b
    };
    for (name, b) in [("full", full), ("bare", bare), ("sets", sets)] {
        let signed = b.sign(&fx.rp_ro, &SigningHeader::default()).unwrap();
        let payload = crate::jose::b64::decode(signed.split('.').nth(1).unwrap()).unwrap();
        assert_eq!(String::from_utf8(payload).unwrap(), serde_json::to_string(&b.claims().unwrap()).unwrap(), "{name}");
    }
    let mut b = fx.builder();
    b.lifetime = 0;
    assert!(matches!(b.sign(&fx.rp_ro, &SigningHeader::default()), Err(RequestObjectError::Time(_))), "the builder's checks hold when signing");
}

/// OpenID4VP 1.0 §5.1: a wallet refuses transaction data it cannot show or bind, naming the
/// type, with `invalid_transaction_data`; a request without it is unaffected (above).
#[test]
fn transaction_data_of_an_unknown_type_is_refused() {
    let fx = Fixture::new();
    let payment = crate::jose::b64::encode(br#"{"type":"payment_data","credential_ids":["pid"],"amount":"10.00"}"#);
    let e = err(&fx, move |c| c.transaction_data = Some(vec![payment]));
    assert_eq!(e, RequestObjectError::TransactionDataNotSupported("type `payment_data`".into()));
    assert_eq!(e.oauth_code(), "invalid_transaction_data");
    let untyped = crate::jose::b64::encode(br#"{"credential_ids":["pid"]}"#);
    assert_eq!(err(&fx, move |c| c.transaction_data = Some(vec![untyped])), RequestObjectError::TransactionDataNotSupported("an entry without `type`".into()));
    assert_eq!(err(&fx, |c| c.transaction_data = Some(vec!["%%".into()])), RequestObjectError::TransactionDataNotSupported("an entry that is not base64url JSON".into()));
}

/// `client_metadata` never overrides what the RP's trust chain registers (RPR-113): a
/// `response_uri` listed only in `client_metadata` is not registered, and a signing key
/// carried there does not verify the request object.
#[test]
fn client_metadata_does_not_override_the_federation_metadata() {
    let fx = Fixture::new();
    let evil = "https://evil.example.it/response";
    let e = err(&fx, |c| {
        let mut md = c.client_metadata.clone().unwrap_or_else(|| json!({}));
        md["response_uris"] = json!([evil]);
        md["response_uris_supported"] = json!([evil]);
        c.client_metadata = Some(md);
        c.response_uri = Some(evil.into());
    });
    assert_eq!(e, RequestObjectError::ResponseUriNotRegistered(evil.into()));
    // An attacker's key in client_metadata.jwks, the request object signed with it.
    let attacker = SoftwareSigner::generate().unwrap();
    let mut claims = fx.builder().claims().unwrap();
    let mut md = claims.client_metadata.clone().unwrap_or_else(|| json!({}));
    let mut keys = md["jwks"]["keys"].as_array().cloned().unwrap_or_default();
    keys.push(serde_json::from_str(&attacker.public_jwk().to_json()).unwrap());
    md["jwks"] = json!({"keys": keys});
    claims.client_metadata = Some(md);
    let header = SigningHeader { kid: attacker.kid(), ..fx.header() };
    let jwt = sign_claims(&claims, &attacker, &header).unwrap();
    assert_eq!(verify_fed(&fx, &jwt).unwrap_err(), RequestObjectError::UnknownKid(attacker.kid()));
}

/// `x509_hash`: the certificate binds the `redirect_uri` host too, not only the
/// `response_uri`'s.
#[test]
fn x5c_san_must_bind_the_redirect_uri_host() {
    let fx = Fixture::new();
    let mut b = x509_builder(&fx);
    b.redirect_uri = Some("https://evil.example.org/cb".into());
    let header = SigningHeader { x5c: Some(vec![b64(&fx.rp_leaf)]), ..Default::default() };
    assert_eq!(verify_x509(&fx, &b.sign(&fx.rp_ro, &header).unwrap()).unwrap_err(), RequestObjectError::SanMismatch("https://evil.example.org/cb".into()));
}
