//! The authorization-code side (IT-Wallet 1.4 §3.3 steps 1–7), as far as it goes today:
//!
//! * `POST /par`: the wallet attestation and its PoP in the `OAuth-Client-Attestation` headers
//!   (wallet-core's `verify_client_attestation`: the WAA signed by a wallet provider whose
//!   `trust_chain` reaches a configured trust anchor, unexpired; the PoP by the WAA key, for
//!   our audience, fresh), the PoP `jti` unused; the request object (wallet-core's
//!   `verify_par`: signed by the attested key, for us, fresh, PKCE S256, `state`) and its
//!   `jti` unused; the configurations it asks for exist; then a single-use `request_uri`
//!   bound to the client, valid `expires_in` seconds.
//! * `GET /authorize?client_id&request_uri`: the `request_uri` consumed (this client's,
//!   unused, unexpired). The next step, identifying the citizen (SPID/CIE through the
//!   `spid-cie-oidc` relying party for the PID; the PID over OpenID4VP for the other
//!   issuers), is not integrated yet: the wallet is sent back to its `redirect_uri` with
//!   `error=temporarily_unavailable`, its `state` and our `iss`. No code is ever issued, so
//!   `/token` refuses the `authorization_code` grant.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use wallet_core::attestation::{CLIENT_ATTESTATION_HEADER, CLIENT_ATTESTATION_POP_HEADER};
use wallet_core::oid4vci::{AuthorizeRequest, ClientAttestationContext, ErrorCode, ParExpectation, ParRequest, ParResponse, verify_client_attestation, verify_par};

use crate::Issuer;
use crate::error::IssuerError;
use crate::metrics::Event;
use crate::protocol::SKEW;
use crate::routes::hash;

/// What a pushed request keeps until `/authorize` (and, later, the code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushed {
    /// `redirect_uri`.
    pub redirect_uri: String,
    /// `state`.
    pub state: String,
    /// The PKCE challenge.
    pub code_challenge: String,
    /// The configurations asked for.
    pub configurations: Vec<String>,
    /// From an issuer-initiated offer.
    pub issuer_state: Option<String>,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /par` (RFC 9126, IT-Wallet 1.4 §3.3 steps 1–3): 201 `{request_uri, expires_in}`.
pub async fn par(State(st): State<Issuer>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response, IssuerError> {
    let r = par_inner(&st, &headers, &body);
    if r.is_err() {
        st.metrics().count(Event::Refused);
    }
    let response = r?;
    let body = serde_json::to_string(&response).map_err(IssuerError::internal)?;
    Ok((StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body).into_response())
}

fn par_inner(st: &Issuer, headers: &HeaderMap, body: &[u8]) -> Result<ParResponse, IssuerError> {
    let now = st.now();
    let issuer = st.config().entity_id.as_str();
    let ctx = ClientAttestationContext::new(issuer, st.wallet_providers(), now);
    let client = verify_client_attestation(header_str(headers, CLIENT_ATTESTATION_HEADER), header_str(headers, CLIENT_ATTESTATION_POP_HEADER), &ctx)
        .map_err(|e| IssuerError::oauth(e.code(), e))?;
    let client_id = client.client_id().to_owned();
    let pop_until = now.secs().saturating_add(ctx.max_pop_age + 2 * ctx.skew);
    if !st.store().remember_jti(&format!("pop:{client_id}:{}", client.jti), pop_until)? {
        return Err(IssuerError::oauth(ErrorCode::InvalidClient, "client attestation PoP jti already used"));
    }
    let body = std::str::from_utf8(body).map_err(|_| IssuerError::bad_request("the body is not UTF-8"))?;
    let req = ParRequest::parse_form(body).map_err(|e| IssuerError::oauth(e.code(), e))?;
    let verified = verify_par(&req, &client, &ParExpectation { audience: issuer, now, skew: SKEW }).map_err(|e| IssuerError::oauth(e.code(), e))?;
    let ro_until = verified.claims().exp.saturating_add(SKEW);
    if !st.store().remember_jti(&format!("ro:{client_id}:{}", verified.jti()), ro_until)? {
        return Err(IssuerError::oauth(ErrorCode::InvalidRequest, "request object jti already used"));
    }
    let configurations = verified.check_against(st.metadata()).map_err(|e| IssuerError::oauth(e.code(), e))?;
    let c = verified.claims();
    let pushed = Pushed {
        redirect_uri: c.redirect_uri.clone(),
        state: c.state.clone(),
        code_challenge: c.code_challenge.clone(),
        configurations,
        issuer_state: c.issuer_state.clone(),
    };
    let response = ParResponse::issue().map_err(IssuerError::internal)?;
    let expires_at = now.secs().saturating_add(i64::try_from(response.expires_in).unwrap_or(60));
    let json = serde_json::to_string(&pushed).map_err(IssuerError::internal)?;
    st.store().insert_pushed(&hash(&response.request_uri), &client_id, &json, expires_at)?;
    Ok(response)
}

/// `GET /authorize` (RFC 9126 §4): see the module documentation.
pub async fn authorize(State(st): State<Issuer>, RawQuery(query): RawQuery) -> Result<Response, IssuerError> {
    let req = AuthorizeRequest::parse_query(query.as_deref().unwrap_or_default()).map_err(|e| IssuerError::oauth(e.code(), e))?;
    let json = st
        .store()
        .take_pushed(&hash(&req.request_uri), &req.client_id, st.now().secs())?
        .ok_or_else(|| IssuerError::bad_request("request_uri unknown, used, expired or not this client's"))?;
    let pushed: Pushed = serde_json::from_str(&json).map_err(IssuerError::internal)?;
    let mut url = url_with(&pushed.redirect_uri);
    url.push_str(&wallet_core_form(&[
        ("error", ErrorCode::TemporarilyUnavailable.as_str()),
        ("error_description", "citizen authentication is not available at this issuer yet"),
        ("state", &pushed.state),
        ("iss", st.config().entity_id.as_str()),
    ]));
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, url), (header::CACHE_CONTROL, "no-store".into())]).into_response())
}

/// `redirect_uri` followed by `?` or `&`.
fn url_with(redirect_uri: &str) -> String {
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}")
}

/// `application/x-www-form-urlencoded` pairs.
fn wallet_core_form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
