//! The citizen's login (IT-Wallet 1.4 §2.1: "on activation, a user account is bound to the
//! `hardware_key_tag`"): the provider is a SPID/CIE relying party.
//!
//! 1. `GET /citizen/login?redirect_uri=<app redirect>`: the redirect URI must be one of the
//!    configured ones (exact match); the provider starts an OIDC login at the OpenID
//!    Provider and answers 302 to it.
//! 2. `GET /citizen/callback?code=…&state=…`: the provider finishes the login (token,
//!    ID token, UserInfo), creates a one-time code bound to the citizen's fiscal number and
//!    answers 302 to the app's redirect URI with `?code=…`.
//!    On failure (the citizen cancelled, the OP refused, the ID Token or UserInfo did not
//!    verify, no fiscal number) it answers 302 to the app with `?error=access_denied` and
//!    `error_description` (RFC 6749 §4.1.2.1). The app's `state`, when it sent one, is echoed
//!    in both cases.
//! 3. `POST /citizen/session {"code"}`: the app redeems the code (once, within
//!    `login_code_ttl`) for `{"session_token", "expires_in", "fiscal_number"}`; the token
//!    is the bearer of registration, listing and revocation.

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use spid_cie_oidc::{LoginRequest, RelyingParty};
use wallet_core::attestation::endpoints::{CODE_PARAM, STATE_PARAM};
use wallet_core::jose::CompactJws;
use wallet_core::attestation::{CitizenSessionRequest, CitizenSessionResponse};

use crate::WalletProvider;
use crate::error::ProviderError;
use crate::extract::ApiJson;
use crate::secret::Secret;

pub use wallet_core::attestation::endpoints::{CITIZEN_LOGIN, CITIZEN_SESSION};
/// `GET`: where the OpenID Provider sends the citizen back.
pub const CITIZEN_CALLBACK: &str = "/citizen/callback";

pub(crate) fn router() -> Router<WalletProvider> {
    Router::new()
        .route(CITIZEN_LOGIN, get(login))
        .route(CITIZEN_CALLBACK, get(callback))
        .route(CITIZEN_SESSION, post(session))
}

async fn session(State(st): State<WalletProvider>, ApiJson(req): ApiJson<CitizenSessionRequest>) -> Result<Json<CitizenSessionResponse>, ProviderError> {
    let code = Secret::from_client(&req.code);
    let fiscal_number = st
        .store()
        .take_login_code(&code.hash(), st.now().secs())?
        .ok_or_else(|| ProviderError::Login("login code unknown, already used or expired".into()))?;
    let (session_token, expires_in) = crate::routes::create_session(&st, &fiscal_number)?;
    Ok(Json(CitizenSessionResponse { session_token, expires_in: u64::try_from(expires_in).unwrap_or(0), fiscal_number }))
}

/// Creates the one-time code handed to the app after a successful login.
pub(crate) fn create_login_code(st: &WalletProvider, fiscal_number: &str) -> Result<Secret, ProviderError> {
    let now = st.now().secs();
    let code = Secret::generate()?;
    st.store().put_login_code(&code.hash(), fiscal_number, now.saturating_add(st.config().login_code_ttl), now)?;
    Ok(code)
}

/// How long a login may take at the OpenID Provider (the relying party's own default bound).
const LOGIN_TTL: i64 = 600;

/// The most characters of an app `state` we keep and echo.
const MAX_APP_STATE: usize = 256;

#[derive(Debug, Deserialize)]
struct LoginQuery {
    redirect_uri: Option<String>,
    state: Option<String>,
}

/// What the provider remembers of a login in progress, keyed by the OIDC `state` the relying
/// party put in its request object.
#[derive(Debug, serde::Serialize, Deserialize)]
struct AppReturn {
    redirect_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
}

/// The relying party and the OpenID Provider, or 503 when citizen login is not configured.
fn relying_party(st: &WalletProvider) -> Result<(&RelyingParty, &wallet_core::federation::EntityId), ProviderError> {
    match (st.relying_party(), st.config().op_entity_id.as_ref()) {
        (Some(rp), Some(op)) => Ok((rp, op)),
        _ => Err(ProviderError::Unavailable("citizen login is not configured (op_entity_id)".into())),
    }
}

/// The OIDC `state` inside the signed request object of an authorization URL the relying
/// party built (its own value; the signature is ours, so the payload is read as is).
fn oidc_state(authorization_url: &str) -> Result<String, ProviderError> {
    #[derive(Deserialize)]
    struct WithState {
        state: String,
    }
    let url = url::Url::parse(authorization_url).map_err(ProviderError::internal)?;
    let request = url
        .query_pairs()
        .find(|(k, _)| k == "request")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ProviderError::internal("authorization URL without a request object"))?;
    let jws = CompactJws::parse(&request).map_err(ProviderError::internal)?;
    let claims: WithState = jws.payload_json().map_err(ProviderError::internal)?;
    Ok(claims.state)
}

fn redirect(location: &str) -> Result<Response, ProviderError> {
    let v = HeaderValue::from_str(location).map_err(ProviderError::internal)?;
    Ok((StatusCode::FOUND, [(header::LOCATION, v)]).into_response())
}

/// `uri` with `params` appended to its query.
fn with_params(uri: &str, params: &[(&str, &str)]) -> Result<String, ProviderError> {
    let mut url = url::Url::parse(uri).map_err(ProviderError::internal)?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    Ok(url.to_string())
}

/// Step 1: checks the app's redirect URI against the allow-list (400 `invalid_request`
/// otherwise, answered here and never redirected: RFC 6749 §4.1.2.1), starts the SPID/CIE
/// login and redirects the browser to the OpenID Provider.
async fn login(State(st): State<WalletProvider>, axum::extract::Query(q): axum::extract::Query<LoginQuery>) -> Result<Response, ProviderError> {
    let redirect_uri = q.redirect_uri.ok_or_else(|| ProviderError::Login("redirect_uri is required".into()))?;
    if !st.config().redirect_uri_allowed(&redirect_uri) {
        return Err(ProviderError::Login("redirect_uri is not registered for this wallet provider".into()));
    }
    if q.state.as_ref().is_some_and(|s| s.len() > MAX_APP_STATE) {
        return Err(ProviderError::Login(format!("state longer than {MAX_APP_STATE} characters")));
    }
    let (rp, op) = relying_party(&st)?;
    let url = rp.start_login(op, LoginRequest::default()).await.map_err(|e| ProviderError::Unavailable(format!("SPID/CIE login cannot start: {e}")))?;
    let oidc_state = oidc_state(&url)?;
    let now = st.now().secs();
    let ret = serde_json::to_string(&AppReturn { redirect_uri, state: q.state }).map_err(ProviderError::internal)?;
    st.store().put_login_request(&oidc_state, &ret, now.saturating_add(LOGIN_TTL), now)?;
    redirect(&url)
}

/// Step 2: the OpenID Provider's redirect. Finishes the login and sends the browser back to
/// the app with a one-time code (or an error).
async fn callback(State(st): State<WalletProvider>, RawQuery(query): RawQuery) -> Result<Response, ProviderError> {
    let query = query.unwrap_or_default();
    let oidc_state = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ProviderError::Login("callback without state".into()))?;
    let stored = st
        .store()
        .take_login_request(&oidc_state, st.now().secs())?
        .ok_or_else(|| ProviderError::Login("unknown or expired login".into()))?;
    let ret: AppReturn = serde_json::from_str(&stored).map_err(ProviderError::internal)?;
    let (rp, _) = relying_party(&st)?;
    let mut params: Vec<(&str, String)> = Vec::new();
    match rp.finish_login(&query).await {
        Ok(outcome) => match outcome.userinfo.fiscal_number {
            Some(fiscal_number) => {
                let code = create_login_code(&st, &fiscal_number)?;
                tracing::info!(target: "wallet_provider", provider = %outcome.provider, acr = outcome.acr.as_str(), "citizen logged in");
                params.push((CODE_PARAM, code.expose().to_owned()));
            }
            None => {
                params.push(("error", "access_denied".into()));
                params.push(("error_description", "the identity provider released no fiscal number".into()));
            }
        },
        Err(e) => {
            tracing::warn!(target: "wallet_provider", "SPID/CIE login failed: {e}");
            params.push(("error", "access_denied".into()));
            params.push(("error_description", "the SPID/CIE login did not complete".into()));
        }
    }
    if let Some(s) = &ret.state {
        params.push((STATE_PARAM, s.clone()));
    }
    let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    redirect(&with_params(&ret.redirect_uri, &refs)?)
}
