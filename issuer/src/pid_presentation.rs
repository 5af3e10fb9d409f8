//! The citizen's authentication by presenting the PID over OpenID4VP (`[authentication]
//! method = "pid"`: the Motorizzazione, the health-card registry; IT-Wallet 1.4 §3.3 step 5,
//! §5; OpenID4VP 1.0 §8.2). The issuer is a federation relying party: its Entity
//! Configuration carries `openid_credential_verifier` metadata
//! ([`crate::state::verifier_metadata`]). Every check is wallet-core's; here they are wired to
//! the login stored at `/authorize`.
//!
//! 1. `/authorize` (`start`): the login stored with a fresh `nonce`; 302 to
//!    `haip-vp://?client_id=openid_federation:<us>&request_uri=<us>/authorize/vp-request?id=<handle>&request_uri_method=get`.
//! 2. `GET /authorize/vp-request?id=` ([`request_object`]): once per login, the request object
//!    (wallet-core's `RequestObjectBuilder`): `response_mode=direct_post.jwt`, `response_uri`
//!    = `/authorize/vp-response`, the `nonce`, `state` = the handle, a DCQL query for the PID
//!    ([`pid_query`]: its `vct`, the registry key claim, `given_name`, `family_name`,
//!    `birthdate`), `client_metadata` with the response encryption key; signed with the
//!    request object key, header `kid`, `x5c` (§5.1 REQUIRED: a protocol certificate of at
//!    most 24 h for the request object key under our CA certificate, then our CA chain
//!    without the root: `trust_anchor::pki::protocol_x5c`, as the verifier's) and our
//!    `trust_chain` (503 before a trust anchor has onboarded us and pinned our CA).
//! 3. `POST /authorize/vp-response` ([`response`]): the JWE decrypted (wallet-core's
//!    `decrypt_response`), its `state` names the login, taken once; wallet-core's
//!    `verify_decrypted` with our client id and the login's nonce, the PID issuer trusted
//!    through the configured trust anchors (its `trust_chain` header or its resolved chain),
//!    its `x5c` verified to the federation CA with `x509_roots` (and the CRLs its
//!    certificates name unless `check_crl = false`), its status checked in its Token Status
//!    List. Verified: the citizen is the PID's
//!    registry key claim (`TINIT-` removed), and `authorization::finish` makes the wallet's redirect,
//!    answered `200 {"redirect_uri": …}`; refused: the OpenID4VP error JSON (400/403
//!    `invalid_request`); the wallet's own error (the citizen declined): a redirect with
//!    `access_denied`.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use wallet_core::federation::{ChainCollector, EntityId};
use wallet_core::jose::{ContentEncryption, JwkSet, Signer as _};
use wallet_core::oid4vci::ErrorCode;
use wallet_core::oid4vp::dcql::{ClaimPathPattern, CredentialQuery, DcqlQuery};
use wallet_core::oid4vp::request_url::REQUEST_OBJECT_MEDIA_TYPE;
use wallet_core::oid4vp::verify::{ChainFuture, IssuerChainResolver, StatusFetcher};
use wallet_core::oid4vp::{
    AuthorizationRequestUrl, ClientId, PostedResponse, PresentationContext, RequestObjectBuilder, RequestUriMethod, ResponseUriAnswer, SessionExpectation, SigningHeader,
    Verdict, VerifierMetadata, WalletInvocation, decrypt_response, verify_decrypted,
};
use wallet_core::time::UnixTime;

use crate::Issuer;
use crate::authorization::{Login, citizen_of, finish, remember_login, take_login};
use crate::config::{Authentication, PidAuthentication};
use crate::error::IssuerError;
use crate::metrics::Event;
use crate::routes::{self, hash};

/// The Credential Query id of the PID in the request and the response's `vp_token`.
pub const PID_QUERY_ID: &str = "pid";
/// The `enc` values accepted (IT-Wallet 1.4 §5.1 / HAIP: A256GCM, A128GCM).
pub const ALLOWED_ENC: [ContentEncryption; 2] = [ContentEncryption::A256Gcm, ContentEncryption::A128Gcm];

/// The DCQL query (OpenID4VP 1.0 §6): one SD-JWT VC of the configured `vct`, with the claim
/// the registry is keyed by and the citizen's names and birth date.
pub fn pid_query(auth: &PidAuthentication) -> DcqlQuery {
    let mut claims = vec![auth.claim.as_str()];
    for c in ["given_name", "family_name", "birthdate"] {
        if !claims.contains(&c) {
            claims.push(c);
        }
    }
    DcqlQuery { credentials: vec![CredentialQuery::sd_jwt_vc(PID_QUERY_ID, &[auth.vct.as_str()], claims.into_iter().map(ClaimPathPattern::key).collect())], credential_sets: None }
}

fn pid_auth(st: &Issuer) -> Result<&PidAuthentication, IssuerError> {
    match &st.config().authentication {
        Authentication::Pid(p) => Ok(p),
        _ => Err(IssuerError::bad_request("the PID over OpenID4VP is not how this issuer authenticates citizens")),
    }
}

/// Our `client_id`: `openid_federation:<entity id>`.
fn client_id(st: &Issuer) -> ClientId {
    ClientId::federation(&st.config().entity_id)
}

/// Stores the login with a fresh nonce: the OpenID4VP authorization request URL.
pub(crate) fn start(st: &Issuer, login: &Login) -> Result<String, (ErrorCode, String)> {
    let server = |e: IssuerError| (ErrorCode::ServerError, e.to_string());
    let nonce = routes::random().map_err(server)?;
    let id = remember_login(st, &Login { nonce: Some(nonce), ..login.clone() }).map_err(server)?;
    let mut request_uri = url::Url::parse(&st.config().endpoint(routes::VP_REQUEST_PATH)).map_err(|e| server(IssuerError::internal(e)))?;
    request_uri.query_pairs_mut().append_pair("id", &id);
    Ok(AuthorizationRequestUrl::by_reference(WalletInvocation::HaipVp, client_id(st), request_uri.to_string(), RequestUriMethod::Get).to_url())
}

/// `?id=` of the request URI.
#[derive(Debug, Deserialize)]
pub struct RequestId {
    id: String,
}

/// `GET /authorize/vp-request?id=`: see the module documentation. Unknown, already fetched or
/// expired: 400 `invalid_request`.
pub async fn request_object(State(st): State<Issuer>, Query(q): Query<RequestId>) -> Result<Response, IssuerError> {
    let auth = pid_auth(&st)?;
    let now = st.now();
    // Our chain first: before a trust anchor has onboarded us the handle is not burnt.
    let chain = st
        .own_trust_chain()
        .await
        .ok_or_else(|| IssuerError::oauth(ErrorCode::TemporarilyUnavailable, "request objects cannot be signed before a trust anchor has onboarded this issuer"))?;
    let x5c = st
        .request_object_x5c()
        .await
        .ok_or_else(|| IssuerError::oauth(ErrorCode::TemporarilyUnavailable, "request objects cannot be signed before our superior has issued our CA certificate (x5c)"))?;
    let json = st
        .store()
        .fetch_login(&hash(&q.id), now.secs())?
        .ok_or_else(|| IssuerError::bad_request("request_uri unknown, already used or expired"))?;
    let login: Login = serde_json::from_str(&json).map_err(IssuerError::internal)?;
    let nonce = login.nonce.ok_or_else(|| IssuerError::bad_request("request_uri unknown, already used or expired"))?;
    let mut b = RequestObjectBuilder::new(client_id(&st), st.config().endpoint(routes::VP_RESPONSE_PATH), nonce, pid_query(auth), now);
    b.state = Some(q.id.clone());
    b.lifetime = st.config().login_ttl;
    let md = crate::state::verifier_metadata(st.config(), st.keys());
    b.client_metadata = Some(VerifierMetadata {
        jwks: Some(JwkSet { keys: vec![st.keys().encryption().public_jwk().clone()] }),
        encrypted_response_enc_values_supported: md.encrypted_response_enc_values_supported,
        vp_formats_supported: md.vp_formats_supported,
        ..Default::default()
    });
    let header = SigningHeader { x5c: Some(x5c), trust_chain: Some(chain), kid: st.keys().request_object().kid() };
    let jwt = b.sign(st.keys().request_object(), &header).map_err(IssuerError::internal)?;
    Ok(([(header::CONTENT_TYPE, REQUEST_OBJECT_MEDIA_TYPE), (header::CACHE_CONTROL, "no-store")], jwt).into_response())
}

/// PID issuers' chains, resolved over our bounded outbound HTTP when a credential carries no
/// `trust_chain` header, cached until they expire.
struct IssuerChains<'a> {
    st: &'a Issuer,
}

impl IssuerChainResolver for IssuerChains<'_> {
    fn resolve<'a>(&'a self, issuer: &'a EntityId, now: UnixTime) -> ChainFuture<'a> {
        Box::pin(async move {
            self.st
                .issuer_chains()
                .get_or_resolve_async(issuer, now, async {
                    let fetcher = self.st.http().for_request();
                    ChainCollector::new_async(&fetcher, &self.st.config().trust_anchors).resolve_async(issuer, now).await
                })
                .await
        })
    }

    /// Past the cache when a PID names a `kid` the cached chain does not list (its issuer may
    /// have rotated its key), at most once a minute per issuer.
    fn refresh_shared<'a>(&'a self, issuer: &'a EntityId, now: UnixTime) -> Option<wallet_core::oid4vp::verify::SharedChainFuture<'a>> {
        Some(Box::pin(async move {
            let fetcher = self.st.http().for_request();
            let collector = ChainCollector::new_async(&fetcher, &self.st.config().trust_anchors);
            let again = collector.resolve_async(issuer, now);
            let interval = wallet_core::oid4vp::verify::CHAIN_REFRESH_INTERVAL;
            self.st
                .issuer_chains()
                .refresh_shared_async(issuer, now, interval, again)
                .await
                .unwrap_or_else(|| Err(wallet_core::federation::FederationError::Fetch { url: issuer.to_string(), reason: "resolved again less than a minute ago".into() }))
        }))
    }
}

/// An OpenID4VP error answer (`{"error", "error_description"}`, not cached).
fn vp_error(status: u16, code: &'static str, description: impl std::fmt::Display) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = service_kit::ApiError::new(status, code, description.to_string()).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    r
}

fn answer(redirect_uri: String) -> Response {
    let body = ResponseUriAnswer { redirect_uri: Some(redirect_uri) }.to_json();
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// `POST /authorize/vp-response`: see the module documentation.
pub async fn response(State(st): State<Issuer>, body: Bytes) -> Result<Response, IssuerError> {
    let auth = pid_auth(&st)?;
    let now = st.now();
    let refused = |status: u16, description: String| {
        st.metrics().count(Event::Refused);
        Ok(vp_error(status, "invalid_request", description))
    };
    let posted = match PostedResponse::parse_form(&body) {
        Ok(p) => p,
        Err(e) => return refused(400, e.to_string()),
    };
    let keys = [st.keys().encryption().clone()];
    let (state, decrypted) = match &posted {
        PostedResponse::Error(e) => (e.state.clone(), None),
        PostedResponse::Encrypted(jwe) => match decrypt_response(jwe, &keys, &ALLOWED_ENC) {
            Ok(r) => (r.state.clone(), Some(r)),
            Err(e) => return refused(400, e.to_string()),
        },
    };
    let Some(state) = state else { return refused(400, "state missing: our requests always carry one".into()) };
    let Some(login) = take_login(&st, &state)? else { return refused(400, "state unknown, already answered or expired".into()) };
    let Some(nonce) = login.nonce.clone() else { return refused(400, "state unknown, already answered or expired".into()) };
    let Some(response) = decrypted else {
        // The wallet's error response: the citizen declined, or the wallet could not answer.
        let description = match &posted {
            PostedResponse::Error(e) => e.error_description.clone().unwrap_or_else(|| e.error.as_str().to_owned()),
            PostedResponse::Encrypted(_) => String::new(),
        };
        let redirect = finish(&st, &login, Err((ErrorCode::AccessDenied, format!("the PID was not presented: {description}"))))?;
        return Ok(answer(redirect));
    };
    let query = pid_query(auth);
    let client_id = client_id(&st);
    let chains = IssuerChains { st: &st };
    let status_lists = st.http().for_request();
    let fetcher: &dyn StatusFetcher = &status_lists;
    let crl_fetcher: &dyn wallet_core::x509::crl::CrlFetcher = &status_lists;
    // IT-Wallet 1.4 §1.3, §8: the PID provider holds a required trust mark.
    let marks = service_kit::trust_marks::IssuerMarkCheck { keeper: st.pid_issuer_marks(), http: st.http(), anchors: &st.config().trust_anchors };
    let ctx = PresentationContext {
        federation_anchors: &st.config().trust_anchors,
        issuer_chains: Some(&chains),
        status: Some((st.pid_statuses(), fetcher)),
        // With `x509_roots`: the PID's `x5c` to the federation CA and the CRLs its
        // certificates name (IT-Wallet 1.4 §1.2). An issuer trusted by its certificate alone
        // is refused all the same (`x5c_issuer_may_issue_any_vct` stays false: no federation
        // metadata says it may issue the PID).
        x509_anchors: st.x509_roots(),
        crls: st.config().check_crl.then_some((st.crls(), crl_fetcher)),
        issuer_marks: marks.if_required(),
        ..PresentationContext::new(&client_id, &nonce, now)
    };
    match verify_decrypted(&response, &SessionExpectation { query: &query, state: Some(&state) }, &ctx).await {
        Verdict::Verified(v) => {
            let key = v.credentials.get(PID_QUERY_ID).and_then(|l| l.first()).and_then(|p| p.claims.get(&auth.claim)).and_then(Value::as_str).map(|k| citizen_of(k).to_owned());
            let citizen = key.ok_or_else(|| (ErrorCode::AccessDenied, format!("the PID carries no {}", auth.claim)));
            Ok(answer(finish(&st, &login, citizen)?))
        }
        Verdict::Refused { reason, .. } => {
            tracing::info!(target: "issuer", %reason, "PID presentation refused");
            refused(reason.http_status(), format!("PID presentation refused: {reason}"))
        }
        Verdict::Declined(e) => {
            let redirect = finish(&st, &login, Err((ErrorCode::AccessDenied, format!("the PID was not presented: {}", e.error.as_str()))))?;
            Ok(answer(redirect))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_asks_for_the_pid_with_the_registry_key() {
        let q = pid_query(&PidAuthentication::default());
        q.validate().unwrap();
        let v = q.to_value();
        assert_eq!(v["credentials"][0]["id"], PID_QUERY_ID);
        assert_eq!(v["credentials"][0]["meta"]["vct_values"][0], wallet_core::vc::Vct::PID);
        let claims: Vec<&str> = v["credentials"][0]["claims"].as_array().unwrap().iter().map(|c| c["path"][0].as_str().unwrap()).collect();
        assert_eq!(claims, ["tax_id_code", "given_name", "family_name", "birthdate"]);
        let by_name = pid_query(&PidAuthentication { claim: "given_name".into(), ..PidAuthentication::default() });
        assert_eq!(by_name.to_value()["credentials"][0]["claims"].as_array().unwrap().len(), 3, "no claim asked twice");
    }
}
