//! OpenID4VCI wire messages on arbitrary input: offers (URL and JSON), PAR, token and
//! credential bodies (immediate and deferred), responses, notifications, metadata, the
//! authorization endpoint's query, PKCE values, DPoP proofs (unsigned by anything trusted:
//! the signed path is `dpop_proof`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wallet_core::oid4vci::{
    AuthorizationResponse, AuthorizeRequest, CodeChallenge, CodeVerifier, CredentialIssuerMetadata, CredentialOffer, CredentialRequest,
    CredentialResponse, DeferredCredentialRequest, DpopExpectation, NotificationRequest, OfferUrl, ParRequest, ParResponse, TokenRequest,
    TokenResponse, verify_dpop,
};
use wallet_core::time::UnixTime;

fuzz_target!(|data: &[u8]| {
    let _ = CredentialOffer::parse_json(data);
    let _ = CredentialRequest::parse_json(data);
    let _ = CredentialResponse::parse(data);
    let _ = NotificationRequest::parse_json(data);
    let _ = DeferredCredentialRequest::parse_json(data);
    let _ = ParResponse::parse(data);
    let _ = CredentialIssuerMetadata::parse_json(data);
    let _ = TokenResponse::parse(data, true);
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(u) = OfferUrl::parse(s) {
        // What we parsed we print back, and it parses to the same value.
        let again = u.to_url().ok().and_then(|t| OfferUrl::parse(&t).ok());
        assert_eq!(again, Some(u));
    }
    let _ = TokenRequest::parse_form(s);
    let _ = ParRequest::parse_form(s);
    let _ = AuthorizationResponse::parse(s);
    let _ = AuthorizeRequest::parse_query(s);
    let (challenge, method) = s.split_once('\n').map_or((s, None), |(c, m)| (c, Some(m)));
    if let (Ok(c), Ok(v)) = (CodeChallenge::parse(challenge, method), CodeVerifier::parse(challenge)) {
        let _ = c.verify(&v);
    }
    let _ = verify_dpop(s, &DpopExpectation::new("POST", "https://issuer.example/token", UnixTime(1_800_000_000)));
});
