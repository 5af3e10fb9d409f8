//! The wallet-facing endpoints (IT-Wallet 1.4 §5.1, OpenID4VP 1.0 §5.10, §8): every
//! protocol check is wallet-core's; here the session's secrets are looked up and consumed.
//!
//! * `request_uri` (`GET`, or `POST` with `wallet_metadata` and `wallet_nonce`): the signed
//!   request object, `application/oauth-authz-req+jwt`, built with wallet-core's
//!   `RequestObjectBuilder` (`client_id` `openid_federation:<entity>`, `response_uri`, the
//!   session's `nonce`, `state` and DCQL query, `client_metadata` with the encryption key, the
//!   wallet's `wallet_nonce` echoed) and signed with `kid`, `x5c` and `trust_chain`.
//!   **Single use** (our choice, documented): the first fetch, GET or POST, consumes the
//!   handle; a second is refused 400 `invalid_request`. OpenID4VP leaves re-fetching open;
//!   refusing it means a QR code photographed by someone else after the citizen's wallet
//!   scanned it yields nothing (the session's `nonce` and `state` are never handed out twice),
//!   and a wallet that lost the object asks the integrator for a new QR (RPR-15/16).
//! * `response_uri` (`POST`, `direct_post.jwt`): the JWE is decrypted by `kid` (once) to read
//!   its `state` (the one `response_uri` serves every session), which finds the session and is
//!   consumed there (once: a replay is refused); then wallet-core's `verify_decrypted` runs on
//!   the decrypted response with the session's nonce, state and DCQL query, and
//!   the verdict is recorded for the integrator. Same-device, a verified or declined response
//!   is answered `{"redirect_uri": "<page>?response_code=<256-bit random>"}`, the code bound to
//!   the session and good once; a refusal is answered with its error (400/403
//!   `invalid_request`), its reason also recorded for the integrator.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use wallet_core::jose::ContentEncryption;
use wallet_core::oid4vp::dcql::DcqlQuery;
use wallet_core::oid4vp::request_url::REQUEST_OBJECT_MEDIA_TYPE;
use wallet_core::oid4vp::verify::StatusFetcher;
use wallet_core::x509::crl::CrlFetcher;
use wallet_core::oid4vp::{
    PostedResponse, PresentationContext, RequestObjectBuilder, RequestUriPost, ResponseExpectation, ResponseUriAnswer, Verdict,
    decrypt_response, response_kid, verify_decrypted, verify_response,
};

use crate::Verifier;
use crate::error::VerifierError;
use crate::metrics::Event;
use crate::store::{ClientIdPrefix, Flow, RequestMode, Session, SessionStatus};

/// The `enc` values accepted (IT-Wallet 1.4 §5.1 / HAIP: A256GCM preferred, A128GCM).
pub const ALLOWED_ENC: [ContentEncryption; 2] = [ContentEncryption::A256Gcm, ContentEncryption::A128Gcm];

/// `?id=` of the `request_uri`.
#[derive(Debug, Deserialize)]
pub struct RequestId {
    id: String,
}

pub(crate) async fn request_uri_get(State(st): State<Verifier>, Query(q): Query<RequestId>) -> Result<Response, VerifierError> {
    serve_request_object(&st, &q.id, None).await
}

pub(crate) async fn request_uri_post(State(st): State<Verifier>, Query(q): Query<RequestId>, headers: axum::http::HeaderMap, body: Bytes) -> Result<Response, VerifierError> {
    // OpenID4VP 1.0 §5.10.1: the POST body is application/x-www-form-urlencoded (RPR-49, RPR-87).
    let form = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).map(str::trim);
    if !form.is_some_and(|m| m.eq_ignore_ascii_case("application/x-www-form-urlencoded")) {
        return Err(VerifierError::RequestUri("request_uri POST body must be application/x-www-form-urlencoded".into()));
    }
    let post = RequestUriPost::parse_form(&body).map_err(|e| VerifierError::RequestUri(format!("request_uri POST body: {e}")))?;
    serve_request_object(&st, &q.id, Some(post)).await
}

/// Builds and signs the request object of `session` (OpenID4VP 1.0 §5, IT-Wallet 1.4 §5.1):
/// its `client_id`, `response_uri`, `nonce`, `state`, DCQL query, `client_metadata` with the
/// encryption key, `wallet_nonce` echoed, `exp` at the session's expiry; the header for its
/// `client_id` prefix ([`crate::keys::Keys::signing_header`] or
/// [`crate::keys::Keys::x509_hash_header`] with the session's leaf).
pub(crate) async fn sign_request_object(st: &Verifier, session: &Session, wallet_nonce: Option<String>) -> Result<String, VerifierError> {
    let now = st.now();
    let query = st.queries().parse(&session.dcql).map_err(VerifierError::internal)?;
    let c = st.config();
    let client_id = st.client_id(session)?;
    let mut b = RequestObjectBuilder::new(client_id, c.endpoint(crate::routes::RESPONSE_URI_PATH), session.nonce.clone(), DcqlQuery::clone(&query), now);
    b.state = Some(session.state.clone());
    b.lifetime = session.expires_at.saturating_sub(now.secs()).max(1);
    b.wallet_nonce = wallet_nonce;
    // This request's own response key in `client_metadata.jwks` (IT-Wallet 1.4 §5.1); the
    // long-lived one stays in the Entity Configuration, for 1.3 wallets.
    let mut client_metadata = st.request_client_metadata().clone();
    let key = st.keys().request_key(&session.id).map_err(VerifierError::internal)?;
    client_metadata.jwks = Some(wallet_core::jose::JwkSet { keys: vec![key.public_jwk().clone()] });
    b.client_metadata = Some(client_metadata);
    let header = match (session.client_id_prefix, &session.x5c_leaf) {
        (ClientIdPrefix::X509Hash, Some(leaf)) => std::sync::Arc::new(st.keys().x509_hash_header(st.http(), now, leaf).await?),
        _ => st.keys().signing_header(st.http(), now).await?,
    };
    b.sign_encoded(st.keys().request_object(), &header).map_err(VerifierError::internal)
}

async fn serve_request_object(st: &Verifier, id: &str, post: Option<RequestUriPost>) -> Result<Response, VerifierError> {
    let now = st.now();
    // The handle is consumed first, by one guarded update that gives the session back; the
    // row is read again only to say why it was refused.
    let Some(session) = st.store().take_request_grouped(id, now.secs()).await? else {
        let why = match st.store().by_request_id(id)? {
            // A by-value session's request object went by value: the handle was never given out.
            None => "request_uri unknown",
            Some(s) if s.request_mode == RequestMode::Value => "request_uri unknown",
            Some(s) if s.status_at(now.secs()) == SessionStatus::Expired => "the session expired",
            Some(_) => "request_uri already used",
        };
        return Err(VerifierError::RequestUri(why.into()));
    };
    st.changed();
    let wallet_nonce = post.as_ref().and_then(|p| p.wallet_nonce.as_ref()).map(|n| n.as_str().to_owned());
    let jwt = match sign_request_object(st, &session, wallet_nonce).await {
        Ok(jwt) => jwt,
        Err(e) => {
            // Not signed (503 before we are onboarded): nothing was handed out, so the handle
            // is given back for the wallet's next try.
            if let Err(back) = st.store().give_back_request(id) {
                tracing::warn!(target: "verifier", error = %back, "request_uri handle not given back");
            }
            st.changed();
            return Err(e);
        }
    };
    st.metrics().count(Event::RequestServed);
    Ok(([(header::CONTENT_TYPE, REQUEST_OBJECT_MEDIA_TYPE), (header::CACHE_CONTROL, "no-store")], jwt).into_response())
}

/// The always-visible claims that single a credential out: its holder's key (`cnf`), its
/// opaque `sub` (IT-Wallet 1.4 §4.1: unique per credential) and its status list entry
/// (`status`: issuer, list and index). Any of them names one credential outright, so that
/// integrators could link a citizen's presentations across sessions and services, and none is
/// what a check asks: the verdict gives the status's outcome instead. Used for the
/// verification, never stored or handed on (GDPR art. 5(1)(c), data minimisation). The
/// validity (`iat`, `exp`, repeated as `issued_at`, `expires_at`) stays, being part of what a
/// check reports, though to the second it narrows a credential down too (coarser dates for
/// integrators are not offered yet).
const LINKING_CLAIMS: [&str; 3] = ["cnf", "sub", "status"];

/// A credential's claims without the [`LINKING_CLAIMS`], in the credential's order.
struct Unlinkable<'a>(&'a Map<String, Value>);

impl serde::Serialize for Unlinkable<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().filter(|(k, _)| !LINKING_CLAIMS.contains(&k.as_str())))
    }
}

/// The verdict as the integrator gets it (JSON text, as stored), and the session status it
/// leads to. Serialized straight from the verdict: no intermediate `Value` tree.
fn verdict_json(v: &Verdict) -> Result<(SessionStatus, String), VerifierError> {
    use serde::Serialize;
    use wallet_core::oid4vp::verify::{IssuerTrustPath, StatusOutcome};

    #[derive(Serialize)]
    struct Item<'a> {
        vct: &'a str,
        issuer: &'a str,
        issuer_trust: &'a IssuerTrustPath,
        claims: Unlinkable<'a>,
        status: &'a StatusOutcome,
        issued_at: Option<i64>,
        expires_at: Option<i64>,
    }
    struct Credentials<'a>(&'a std::collections::BTreeMap<String, Vec<wallet_core::oid4vp::verify::VerifiedPresentation>>);
    impl Serialize for Credentials<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(id, list)| {
                let items: Vec<Item<'_>> = list
                    .iter()
                    .map(|p| Item {
                        vct: &p.vct,
                        issuer: &p.issuer,
                        issuer_trust: &p.issuer_trust,
                        claims: Unlinkable(&p.claims),
                        status: &p.status,
                        issued_at: p.issued_at,
                        expires_at: p.expires_at,
                    })
                    .collect();
                (id, items)
            }))
        }
    }
    #[derive(Serialize)]
    struct Verified<'a> {
        status: &'static str,
        credentials: Credentials<'a>,
    }
    let (status, text) = match v {
        Verdict::Verified(r) => (SessionStatus::Verified, serde_json::to_string(&Verified { status: "verified", credentials: Credentials(&r.credentials) })),
        Verdict::Refused { credential, reason } => (
            SessionStatus::Refused,
            Ok(json!({"status": "refused", "credential": credential, "reason": reason.to_string(), "reason_code": reason.code()}).to_string()),
        ),
        Verdict::Declined(e) => (
            SessionStatus::Declined,
            Ok(json!({"status": "declined", "error": e.error.as_str(), "error_description": e.error_description}).to_string()),
        ),
    };
    Ok((status, text.map_err(VerifierError::internal)?))
}

/// A response being verified ([`crate::store::Receiving`]) that tells watchers when its mark
/// goes, whatever ends the request: after a verdict, or after an error that recorded none
/// (the session shows `request_fetched` again).
struct Received<'a> {
    mark: Option<crate::store::Receiving<'a>>,
    st: &'a Verifier,
}

impl Drop for Received<'_> {
    fn drop(&mut self) {
        // The mark first, so that a woken watcher reads the session without it.
        drop(self.mark.take());
        self.st.changed();
    }
}

/// A response for a session that already had one (or has one being verified).
fn replay() -> VerifierError {
    VerifierError::Response("state already used: a response for this session was already received".into())
}

pub(crate) async fn response_uri(State(st): State<Verifier>, body: Bytes) -> Result<Response, VerifierError> {
    let now = st.now();
    let posted = PostedResponse::parse_form(&body).map_err(|e| VerifierError::Response(e.to_string()))?;
    // The key the JWE names: a session's request-specific key (`rk:<session id>`, derived
    // again here, on whichever replica), or the long-lived key of the Entity Configuration
    // (1.3 wallets). Any other `kid` is refused by the decryption.
    let request_key;
    let mut keyed_session = None;
    let keys = match &posted {
        PostedResponse::Encrypted(jwe) => match response_kid(jwe).map_err(|e| VerifierError::Response(e.to_string()))?.strip_prefix(crate::keys::REQUEST_KEY_KID_PREFIX) {
            Some(id) => {
                request_key = st.keys().request_key(id).map_err(VerifierError::internal)?;
                keyed_session = Some(id.to_owned());
                std::slice::from_ref(&request_key)
            }
            None => std::slice::from_ref(st.keys().encryption()),
        },
        PostedResponse::Error(_) => std::slice::from_ref(st.keys().encryption()),
    };
    // The session is named by `state`, inside the JWE (see the module documentation): the
    // response is decrypted here, once, and verified below as it is.
    let (state, decrypted) = match &posted {
        PostedResponse::Error(e) => (e.state.clone(), None),
        PostedResponse::Encrypted(jwe) => {
            let r = decrypt_response(jwe, keys, &ALLOWED_ENC).map_err(|e| VerifierError::Response(e.to_string()))?;
            (r.state.clone(), Some(r))
        }
    };
    let state = state.ok_or_else(|| VerifierError::Response("state missing: the verifier's requests always carry one".into()))?;
    // The session is read by `state`; its `state` and nonce are spent below, by the guarded
    // update that records the verdict (the `store` module). A response arrives in time or
    // not when it arrives.
    let session = st.store().by_state(&state)?.ok_or_else(|| VerifierError::Response("state unknown".into()))?;
    // A response encrypted to one session's key answers that session only (RPR-37).
    if keyed_session.as_ref().is_some_and(|id| *id != session.id) {
        return Err(VerifierError::Response("the response is encrypted to another request's key".into()));
    }
    match session.status_at(now.secs()) {
        SessionStatus::RequestFetched => {}
        SessionStatus::Created if session.request_mode == RequestMode::Value => {}
        SessionStatus::Created => return Err(VerifierError::Response("no request object was fetched for this state".into())),
        SessionStatus::Expired => return Err(VerifierError::Response("the session expired".into())),
        _ => return Err(replay()),
    }
    // A second response for this session while this one is verified: refused at once.
    let Some(mark) = st.store().receive(&session.id) else { return Err(replay()) };
    let _receiving = Received { mark: Some(mark), st: &st };
    st.changed();
    let query = st.queries().parse(&session.dcql).map_err(VerifierError::internal)?;
    let c = st.config();
    // The session's own client id: a KB-JWT `aud` naming another (our federation id for an
    // x509_hash session, say) is refused by wallet-core.
    let client_id = st.client_id(&session)?;
    let chains = crate::trust::IssuerChains { cache: st.chains(), http: st.http(), anchors: &c.trust_anchors };
    let marks = service_kit::trust_marks::IssuerMarkCheck { keeper: st.issuer_marks(), http: st.http(), anchors: &c.trust_anchors };
    let status_lists = st.http().for_request();
    let fetcher: &dyn StatusFetcher = &status_lists;
    let crl_fetcher: &dyn CrlFetcher = &status_lists;
    let ctx = PresentationContext {
        federation_anchors: &c.trust_anchors,
        x509_anchors: st.x509_roots(),
        issuer_chains: Some(&chains),
        chain_memo: Some(st.chain_memo()),
        header_memo: Some(st.header_memo()),
        status: c.check_status.then_some((st.statuses(), fetcher)),
        crls: c.check_crl.then_some((st.crls(), crl_fetcher)),
        issuer_marks: marks.if_required(),
        accept_suspended: c.accept_suspended,
        ..PresentationContext::new(&client_id, &session.nonce, now)
    };
    let expect = ResponseExpectation { query: &query, state: Some(&session.state), decryption_keys: keys, allowed_enc: &ALLOWED_ENC };
    let verdict = match &decrypted {
        Some(response) => verify_decrypted(response, &expect.session(), &ctx).await,
        // A wallet error response: nothing to decrypt.
        None => verify_response(&posted, &expect, &ctx).await,
    };
    let (status, result) = verdict_json(&verdict)?;
    let code = match (&verdict, session.flow) {
        (Verdict::Verified(_) | Verdict::Declined(_), Flow::SameDevice) => Some(crate::routes::random()?),
        _ => None,
    };
    let purge_at = now.secs().saturating_add(c.result_ttl);
    // The verdict and the `state` spent in one guarded update. When it fails nothing is
    // spent: a 503 (`StoreError::transient`) lets the wallet send the response again.
    let recorded = st.store().record_grouped(&session.id, status, &result, code.as_deref().map(crate::routes::hash).as_deref(), purge_at, st.now().secs()).await?;
    st.changed();
    if !recorded {
        // Another response for this session was recorded first (on another replica, or
        // before a restart): this one is the replay, whatever its verdict.
        return Err(replay());
    }
    if session.owner.is_none() {
        // In the background: the wallet's answer does not wait for the integrator.
        crate::webhook::notify(&st, &session.id, status);
    }
    match verdict {
        Verdict::Refused { credential, reason } => {
            st.metrics().count(Event::Refused);
            tracing::info!(target: "verifier", session = %session.id, %reason, "response refused");
            Err(VerifierError::Refused { credential, reason })
        }
        other => {
            st.metrics().count(if matches!(other, Verdict::Verified(_)) { Event::Verified } else { Event::Declined });
            let redirect_uri = match (code, session.redirect_uri) {
                (Some(code), Some(page)) => {
                    let mut u = url::Url::parse(&page).map_err(VerifierError::internal)?;
                    u.query_pairs_mut().append_pair("response_code", &code);
                    Some(u.to_string())
                }
                _ => None,
            };
            let answer = ResponseUriAnswer { redirect_uri };
            Ok(([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], answer.to_json()).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use wallet_core::oid4vp::verify::Refusal;

    /// What the integrator gets of a verified credential's claims: all but those that link
    /// (`cnf`, `sub`, `status`), in the credential's order; and the other verdicts' shapes.
    #[test]
    fn the_stored_verdict_keeps_the_claims_but_the_linking_ones_in_their_order() {
        let Value::Object(claims) = json!({
            "iss": "https://pid.example.it", "cnf": {"jwk": {"kty": "EC"}}, "sub": "NzbLsXh8", "age_over_18": true,
            "status": {"status_list": {"idx": 7, "uri": "https://pid.example.it/status"}}, "vct": "urn:eudi:pid:it:1"
        }) else { panic!() };
        let text = serde_json::to_string(&Unlinkable(&claims)).unwrap();
        assert_eq!(text, r#"{"iss":"https://pid.example.it","age_over_18":true,"vct":"urn:eudi:pid:it:1"}"#);

        let (status, text) = verdict_json(&Verdict::Refused { credential: Some("age".into()), reason: Refusal::Revoked }).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!((status, v["status"].as_str(), v["reason_code"].as_str(), v["credential"].as_str()), (SessionStatus::Refused, Some("refused"), Some("revoked"), Some("age")));

        let (status, text) = verdict_json(&Verdict::Declined(wallet_core::oid4vp::response::ErrorResponse::access_denied(None))).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!((status, v["status"].as_str(), v["error"].as_str()), (SessionStatus::Declined, Some("declined"), Some("access_denied")));
    }
}
