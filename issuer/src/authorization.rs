//! The authorization-code flow (IT-Wallet 1.4 §3.3 steps 1–11; RFC 9126, RFC 9207):
//!
//! * `POST /par`: the wallet attestation and its PoP in the `OAuth-Client-Attestation` headers
//!   (wallet-core's `verify_client_attestation`: the WAA signed by a wallet provider whose
//!   `trust_chain` reaches a configured trust anchor, unexpired; the PoP by the WAA key, for
//!   our audience, fresh), the PoP `jti` unused; the request object (wallet-core's
//!   `verify_par`: signed by the attested key, for us, fresh, PKCE S256, `state`) and its
//!   `jti` unused; the configurations it asks for exist; then a single-use `request_uri`
//!   bound to the client, valid `expires_in` seconds.
//! * `GET /authorize?client_id&request_uri`: the `request_uri` consumed (this client's,
//!   unused, unexpired; otherwise 400 JSON, never a redirect: §3.3 steps 6–7). Then the
//!   citizen authenticates as `[authentication]` says: SPID/CIE ([`crate::spid_cie`]: 302 to
//!   the OpenID Provider) or the PID over OpenID4VP ([`crate::pid_presentation`]: 302 to a
//!   `haip-vp://` request); without a method the wallet is sent back with
//!   `error=temporarily_unavailable`. What the flow needs until the citizen comes back (the
//!   pushed request, the OpenID4VP nonce) is a [`Login`] row of the database, single use and
//!   expiring (`login_ttl`), so that any replica can finish it.
//! * Once the citizen is identified (`finish`): the registry must know them for every
//!   configuration asked (else `access_denied`); an authorization code ([`Code`]: this
//!   client's, its `redirect_uri`, its PKCE challenge, the citizen; `code_ttl` ≤ 60 s, stored
//!   hashed, single use) goes to the wallet's `redirect_uri` with `state` and `iss`. Errors
//!   after the citizen step are redirected with `error`, `error_description`, `state`, `iss`.
//! * `/token` redeems the code ([`crate::protocol::token`]).
//! * Issuer-initiated (`POST /admin/offers` with `"grant": "authorization_code"`): the offer
//!   carries `issuer_state` and `scope`; a PAR naming the `issuer_state` consumes it (single
//!   use, `offer_ttl`; unknown: `invalid_request`) and may ask only for what it offered; an
//!   offer made for a citizen is redeemed only by that citizen's login (else `access_denied`).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use wallet_core::attestation::CLIENT_ATTESTATION_HEADER;
use wallet_core::oid4vci::{AuthorizationResponse, AuthorizeRequest, ErrorCode, ParExpectation, ParRequest, ParResponse, verify_par};

use crate::Issuer;
use crate::config::Authentication;
use crate::error::IssuerError;
use crate::registry::Record;
use crate::metrics::Event;
use crate::protocol::{SKEW, verify_attestation};
use crate::routes::{hash, random};

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
    /// The citizen an issuer-initiated offer named: the login must identify them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_citizen: Option<String>,
}

/// An issuer-initiated offer with the `authorization_code` grant, as stored under its
/// `issuer_state` until a PAR names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedAuthorization {
    /// The configurations offered.
    pub configurations: Vec<String>,
    /// The citizen the desk made it for, if it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citizen: Option<String>,
}

/// A citizen authentication in progress, between `/authorize` and the citizen's return
/// (stored under the hash of its handle: the SPID/CIE login's `app_data`, the OpenID4VP
/// request's `state`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// The client the pushed request was bound to.
    pub client_id: String,
    /// The pushed request.
    pub pushed: Pushed,
    /// The OpenID4VP `nonce` (the PID over OpenID4VP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// What an authorization code stands for (RFC 6749 §4.1.3: the client, the `redirect_uri`,
/// the PKCE challenge) and the citizen the login identified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    /// The client.
    pub client_id: String,
    /// The authorization request's `redirect_uri`.
    pub redirect_uri: String,
    /// The PKCE challenge (S256).
    pub code_challenge: String,
    /// The registry key.
    pub citizen: String,
    /// The configurations granted.
    pub configurations: Vec<String>,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /par` (RFC 9126, IT-Wallet 1.4 §3.3 steps 1–3): 201 `{request_uri, expires_in}`.
pub async fn par(State(st): State<Issuer>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response, IssuerError> {
    st.prefetch_for_attestation(header_str(&headers, CLIENT_ATTESTATION_HEADER)).await;
    let r = match crate::protocol::check_attestation_status(&st, &headers).await {
        Ok(()) => par_inner(&st, &headers, &body),
        Err(e) => Err(e),
    };
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
    let client = verify_attestation(st, headers)?;
    let client_id = client.client_id().to_owned();
    let body = std::str::from_utf8(body).map_err(|_| IssuerError::bad_request("the body is not UTF-8"))?;
    let req = ParRequest::parse_form(body).map_err(|e| IssuerError::oauth(e.code(), e))?;
    let verified = verify_par(&req, &client, &ParExpectation { audience: issuer, now, skew: SKEW }).map_err(|e| IssuerError::oauth(e.code(), e))?;
    let ro_until = verified.claims().exp.saturating_add(SKEW);
    if !st.store().remember_jti(&format!("ro:{client_id}:{}", verified.jti()), ro_until)? {
        return Err(IssuerError::oauth(ErrorCode::InvalidRequest, "request object jti already used"));
    }
    let configurations = verified.check_against(&st.metadata()).map_err(|e| IssuerError::oauth(e.code(), e))?;
    let c = verified.claims();
    // An `issuer_state` is one of our offers (single use, unexpired), and the request asks
    // only for what it offered (OpenID4VCI §4.1.1, §5.1.3).
    let offered = match &c.issuer_state {
        None => None,
        Some(s) => {
            let json = st.store().take_issuer_state(&hash(s), now.secs())?.ok_or_else(|| IssuerError::bad_request("issuer_state unknown, used or expired"))?;
            let offer: OfferedAuthorization = serde_json::from_str(&json).map_err(IssuerError::internal)?;
            if let Some(extra) = configurations.iter().find(|id| !offer.configurations.contains(id)) {
                return Err(IssuerError::oauth(ErrorCode::InvalidRequest, format!("`{extra}` was not in the offer of this issuer_state")));
            }
            Some(offer)
        }
    };
    let pushed = Pushed {
        redirect_uri: c.redirect_uri.clone(),
        state: c.state.clone(),
        code_challenge: c.code_challenge.clone(),
        configurations,
        issuer_state: c.issuer_state.clone(),
        offered_citizen: offered.and_then(|o| o.citizen),
    };
    // expires_in: wallet-core's REQUEST_URI_LIFETIME, under a minute (IT-Wallet 1.4 §3.3, CI_040).
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
    let login = Login { client_id: req.client_id, pushed, nonce: None };
    let started = match &st.config().authentication {
        Authentication::None => Err((ErrorCode::TemporarilyUnavailable, "citizen authentication is not available at this issuer".to_owned())),
        Authentication::SpidCie(a) => crate::spid_cie::start(&st, a, &login).await,
        Authentication::Pid(_) => crate::pid_presentation::start(&st, &login),
    };
    match started {
        Ok(location) => Ok(found(&location)),
        Err((code, description)) => {
            st.metrics().count(Event::Refused);
            Ok(found(&error_redirect(&st, &login.pushed, code, &description)))
        }
    }
}

/// The prefix of an Italian fiscal number as SPID/CIE UserInfo and the PID's `tax_id_code`
/// carry it (`TINIT-<codice fiscale>`, ETSI EN 319 412-1 semantics identifier).
pub const FISCAL_NUMBER_PREFIX: &str = "TINIT-";

/// The registry key of a fiscal number: without its `TINIT-` prefix.
pub fn citizen_of(fiscal_number: &str) -> &str {
    fiscal_number.strip_prefix(FISCAL_NUMBER_PREFIX).unwrap_or(fiscal_number)
}

/// Stores `login` for `login_ttl` under the hash of a fresh handle, returned.
pub(crate) fn remember_login(st: &Issuer, login: &Login) -> Result<String, IssuerError> {
    let id = random()?;
    let json = serde_json::to_string(login).map_err(IssuerError::internal)?;
    st.store().insert_login(&hash(&id), &json, st.now().secs().saturating_add(st.config().login_ttl))?;
    Ok(id)
}

/// The login of handle `id`, finished (single use, unexpired).
pub(crate) fn take_login(st: &Issuer, id: &str) -> Result<Option<Login>, IssuerError> {
    st.store().take_login(&hash(id), st.now().secs())?.map(|j| serde_json::from_str(&j).map_err(IssuerError::internal)).transpose()
}

/// The end of the citizen step (IT-Wallet 1.4 §3.3 step 7): the citizen (the registry key)
/// or why there is none, turned into the wallet's redirect URL: a code with `state` and
/// `iss`, or the error. A citizen the registry does not know for every configuration asked
/// gets `access_denied`.
pub(crate) fn finish(st: &Issuer, login: &Login, citizen: Result<String, (ErrorCode, String)>) -> Result<String, IssuerError> {
    let p = &login.pushed;
    let citizen = match citizen {
        Ok(c) => c,
        Err((code, description)) => {
            st.metrics().count(Event::Refused);
            return Ok(error_redirect(st, p, code, &description));
        }
    };
    if p.offered_citizen.as_ref().is_some_and(|o| *o != citizen) {
        st.metrics().count(Event::Refused);
        return Ok(error_redirect(st, p, ErrorCode::AccessDenied, "the offer was made for another citizen"));
    }
    for id in &p.configurations {
        let source = &st.config().credential(id).ok_or_else(|| IssuerError::internal(format!("configuration {id} vanished")))?.source;
        if st.registry().lookup(source, &citizen)? == Record::Unknown {
            st.metrics().count(Event::Refused);
            return Ok(error_redirect(st, p, ErrorCode::AccessDenied, "the registry has no record of this citizen for the credential asked"));
        }
    }
    let code = random()?;
    let bound = Code {
        client_id: login.client_id.clone(),
        redirect_uri: p.redirect_uri.clone(),
        code_challenge: p.code_challenge.clone(),
        citizen,
        configurations: p.configurations.clone(),
    };
    let json = serde_json::to_string(&bound).map_err(IssuerError::internal)?;
    st.store().insert_code(&hash(&code), &json, st.now().secs().saturating_add(st.config().code_ttl))?;
    let response = AuthorizationResponse { code, state: p.state.clone(), iss: Some(st.config().entity_id.as_str().to_owned()) };
    Ok(response.to_redirect(&p.redirect_uri))
}

/// The wallet's `redirect_uri` with `error`, `error_description`, `state` and `iss`.
pub(crate) fn error_redirect(st: &Issuer, p: &Pushed, code: ErrorCode, description: &str) -> String {
    let mut url = url_with(&p.redirect_uri);
    url.push_str(&wallet_core_form(&[
        ("error", code.as_str()),
        ("error_description", description),
        ("state", &p.state),
        ("iss", st.config().entity_id.as_str()),
    ]));
    url
}

/// `302 Found` to `location`, not cached.
pub(crate) fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned()), (header::CACHE_CONTROL, "no-store".into())]).into_response()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiscal_number_prefix() {
        assert_eq!(citizen_of("TINIT-RSSMRA80A10H501Z"), "RSSMRA80A10H501Z");
        assert_eq!(citizen_of("RSSMRA80A10H501Z"), "RSSMRA80A10H501Z");
    }
}
