//! The wallet's Authorization Error Response to a request object it refused (WP_090;
//! IT-Wallet 1.4 §5.1 "Wallet error response"; OpenID4VP 1.0 §8.5): a form `POST` of
//! `error`, `error_description` and `state` to the relying party's `response_uri`, so its
//! session ends with the reason instead of waiting for its expiry.
//!
//! A refused request object is untrusted text, so its `response_uri` is only written to when
//! the relying party registered it, in the metadata of its own trust chain (resolved from the
//! federation, or its `trust_chain` header validated to a configured anchor): the wallet
//! never sends anything where a forged request points. Hence no notice when
//! * the relying party is an `x509_hash` client (its URIs are bound by the certificate of the
//!   request object itself, which is what failed or is not yet verified), or its chain did not
//!   validate, or is about another entity;
//! * the request object does not parse (no `response_uri` to read), or the fetch of a
//!   `request_uri` failed;
//! * its `response_uri` is not one the relying party registered ([`super::uri_registered`]).
//!
//! Only the request object's own failures are reported (its code from
//! [`RequestObjectError::oauth_code`]): what the citizen holds or chooses is never told
//! (§5.1: "the wallet SHOULD NOT report some failures"; a decline is `access_denied`).

use super::verify::metadata_of;
use super::{MAX_NONCE_LEN, ParsedRequestObject, RequestObjectError, uri_registered};
use crate::federation::chain::ValidatedChain;
use crate::oid4vp::client_id::ClientId;
use crate::oid4vp::response::{ErrorResponse, WalletErrorCode, post_request};
use crate::wallet::HttpRequest;

/// The longest `error_description` sent (the error's text, cut at a character boundary).
const MAX_DESCRIPTION: usize = 256;

/// The error response to post for a request object (`jwt`, as received) that the wallet
/// refused with `error`, when the relying party `client_id` (from the request URL) has the
/// validated trust chain `rp_chain` registering the object's `response_uri`; else `None`
/// (the module documentation says when).
pub fn error_notice(jwt: &str, client_id: &ClientId, rp_chain: Option<&ValidatedChain>, error: &RequestObjectError) -> Option<HttpRequest> {
    if !reportable(error) {
        return None;
    }
    let entity = client_id.entity_id()?;
    let chain = rp_chain?;
    if chain.subject.claims.sub != *entity {
        return None;
    }
    let metadata = metadata_of(chain).ok()?;
    let parsed = ParsedRequestObject::parse(jwt).ok()?;
    let claims = parsed.insecure_unverified_claims();
    let response_uri = claims.response_uri.as_deref()?;
    if !uri_registered(&metadata.response_uris, response_uri) {
        return None;
    }
    // A `state` the verifier could not have issued is left out: the notice still reaches the
    // relying party, which then cannot tie it to a session.
    let state = claims.state.clone().filter(|s| !s.is_empty() && s.len() <= MAX_NONCE_LEN);
    let notice = ErrorResponse { error: WalletErrorCode::from_code(error.oauth_code()), error_description: Some(description(error)), state };
    Some(post_request(response_uri, notice.to_form()))
}

/// Whether `error` is the request object's own failure, one the relying party may be told.
fn reportable(error: &RequestObjectError) -> bool {
    !matches!(
        error,
        // The relying party's trust itself (no registered `response_uri` to trust), and the
        // wallet's own failures.
        RequestObjectError::MissingTrustChain
            | RequestObjectError::UntrustedChain(_)
            | RequestObjectError::EntityMismatch { .. }
            | RequestObjectError::NoVerifierMetadata
            | RequestObjectError::BadMetadata(_)
            | RequestObjectError::NoX509Anchors
            | RequestObjectError::ResponseUriNotRegistered(_)
            | RequestObjectError::Sign(_)
    )
}

fn description(error: &RequestObjectError) -> String {
    let text = error.to_string();
    match text.char_indices().nth(MAX_DESCRIPTION) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::federation::EntityId;
    use crate::oid4vp::request_object::RequestObjectBuilder;
    use crate::oid4vp::response::PostedResponse;
    use crate::oid4vp::testing::{Fixture, RESPONSE_URI, STATE};

    fn signed(fx: &Fixture, edit: impl FnOnce(&mut RequestObjectBuilder)) -> String {
        let mut b = fx.builder();
        edit(&mut b);
        b.sign(&fx.rp_ro, &fx.header()).unwrap()
    }

    fn form(r: &HttpRequest) -> ErrorResponse {
        match PostedResponse::parse_form(&r.body).unwrap() {
            PostedResponse::Error(e) => e,
            other => panic!("not an error response: {other:?}"),
        }
    }

    #[test]
    fn an_expired_request_object_is_reported_to_its_registered_response_uri() {
        let fx = Fixture::new();
        let err = RequestObjectError::Expired { exp: 1, now: 2 };
        let r = error_notice(&signed(&fx, |_| {}), &fx.client_id(), Some(&fx.rp_chain()), &err).expect("a notice");
        assert_eq!(r.url, RESPONSE_URI);
        let e = form(&r);
        assert_eq!((e.error.as_str(), e.state.as_deref()), ("invalid_request_object", Some(STATE)));
        assert!(e.error_description.unwrap().contains("expired"));
    }

    #[test]
    fn each_rule_is_reported_with_its_code() {
        let fx = Fixture::new();
        let jwt = signed(&fx, |_| {});
        for (err, code) in [
            (RequestObjectError::BadSignature, "invalid_request_object"),
            (RequestObjectError::UnknownKid(Some("k".into())), "invalid_client"),
            (RequestObjectError::NonceTooShort { len: 3, min: 32 }, "invalid_request"),
            (RequestObjectError::VpFormatsNotSupported("mso_mdoc".into()), "vp_formats_not_supported"),
            (RequestObjectError::TransactionDataNotSupported("t".into()), "invalid_transaction_data"),
            (RequestObjectError::RequestUriNotRegistered("https://x.example/".into()), "invalid_request_uri"),
        ] {
            let r = error_notice(&jwt, &fx.client_id(), Some(&fx.rp_chain()), &err).expect("a notice");
            assert_eq!(form(&r).error.as_str(), code, "{err}");
        }
    }

    #[test]
    fn nothing_is_sent_where_the_relying_party_did_not_register_it() {
        let fx = Fixture::new();
        let err = RequestObjectError::BadSignature;
        // A forged object pointing elsewhere.
        let elsewhere = signed(&fx, |b| b.response_uri = "https://attacker.example/collect".into());
        assert!(error_notice(&elsewhere, &fx.client_id(), Some(&fx.rp_chain()), &err).is_none());
        // No validated chain, or the chain of another entity.
        let jwt = signed(&fx, |_| {});
        assert!(error_notice(&jwt, &fx.client_id(), None, &err).is_none());
        let other = ClientId::federation(&EntityId::new("https://other-rp.example.it").unwrap());
        assert!(error_notice(&jwt, &other, Some(&fx.rp_chain()), &err).is_none());
        // Not a JWS: no `response_uri` to read.
        assert!(error_notice("not-a-jwt", &fx.client_id(), Some(&fx.rp_chain()), &err).is_none());
        // Failures of the relying party's trust are not the request object's own.
        for err in [RequestObjectError::MissingTrustChain, RequestObjectError::NoVerifierMetadata, RequestObjectError::ResponseUriNotRegistered("u".into())] {
            assert!(error_notice(&jwt, &fx.client_id(), Some(&fx.rp_chain()), &err).is_none(), "{err}");
        }
    }

    #[test]
    fn an_x509_hash_client_is_not_notified() {
        let fx = Fixture::new();
        let x509 = ClientId::parse("x509_hash:uYKlyM4Yy0ZEYYnUdhvxExzeCnQ6qU8NCaawT0ppvaE").unwrap();
        assert!(error_notice(&signed(&fx, |_| {}), &x509, Some(&fx.rp_chain()), &RequestObjectError::BadSignature).is_none());
    }

    #[test]
    fn a_long_description_is_cut_and_an_oversized_state_left_out() {
        let fx = Fixture::new();
        let jwt = signed(&fx, |b| b.state = Some("s".repeat(MAX_NONCE_LEN + 1)));
        let err = RequestObjectError::BadClaim { claim: "nonce", detail: "é".repeat(1000) };
        let e = form(&error_notice(&jwt, &fx.client_id(), Some(&fx.rp_chain()), &err).unwrap());
        assert_eq!(e.error_description.unwrap().chars().count(), MAX_DESCRIPTION);
        assert_eq!(e.state, None);
    }
}
