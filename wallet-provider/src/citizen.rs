//! The citizen's login (IT-Wallet 1.4 §2.1: "on activation, a user account is bound to the
//! `hardware_key_tag`"): the provider is a SPID/CIE relying party.
//!
//! 1. `GET /citizen/login?redirect_uri=<app redirect>`: the redirect URI must be one of the
//!    configured ones (exact match); the provider starts an OIDC login at the OpenID
//!    Provider and answers 302 to it. Nothing is stored: what the provider must remember
//!    until the callback (the app's redirect URI and `state`) goes, as the relying party's
//!    `app_data`, into the pending login the relying party seals (AES-256-GCM, with its
//!    expiry) into the OIDC `state`. So anonymous logins that are never finished cost the
//!    server nothing; only the rate limit per client bounds them.
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
use wallet_core::attestation::{CitizenSessionRequest, CitizenSessionResponse};

use crate::WalletProvider;
use crate::error::ProviderError;
use crate::secret::Secret;
use service_kit::{Json as JsonBody, Query};

pub use wallet_core::attestation::endpoints::{CITIZEN_LOGIN, CITIZEN_SESSION};
/// `GET`: where the OpenID Provider sends the citizen back.
pub const CITIZEN_CALLBACK: &str = "/citizen/callback";

/// `/citizen/login` and `/citizen/callback` (rate limited together as `login`).
pub(crate) fn login_router() -> Router<WalletProvider> {
    Router::new().route(CITIZEN_LOGIN, get(login)).route(CITIZEN_CALLBACK, get(callback))
}

/// `/citizen/session`.
pub(crate) fn session_router() -> Router<WalletProvider> {
    Router::new().route(CITIZEN_SESSION, post(session))
}

async fn session(State(st): State<WalletProvider>, JsonBody(req): JsonBody<CitizenSessionRequest>) -> Result<Json<CitizenSessionResponse>, ProviderError> {
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

/// The most characters of an app `state` we keep and echo.
const MAX_APP_STATE: usize = 256;

#[derive(Debug, Deserialize)]
struct LoginQuery {
    redirect_uri: Option<String>,
    state: Option<String>,
}

/// What the provider must remember of a login in progress: the relying party's `app_data`,
/// sealed with the pending login into the OIDC `state`.
#[derive(Debug, serde::Serialize, Deserialize)]
struct AppReturn {
    /// The app's redirect URI (one of the allowed ones).
    redirect_uri: String,
    /// The app's `state`, echoed back.
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
async fn login(State(st): State<WalletProvider>, Query(q): Query<LoginQuery>) -> Result<Response, ProviderError> {
    let redirect_uri = q.redirect_uri.ok_or_else(|| ProviderError::Login("redirect_uri is required".into()))?;
    if !st.config().redirect_uri_allowed(&redirect_uri) {
        return Err(ProviderError::Login("redirect_uri is not registered for this wallet provider".into()));
    }
    if q.state.as_ref().is_some_and(|s| s.len() > MAX_APP_STATE) {
        return Err(ProviderError::Login(format!("state longer than {MAX_APP_STATE} characters")));
    }
    let (rp, op) = relying_party(&st)?;
    let app_data = serde_json::to_string(&AppReturn { redirect_uri, state: q.state }).map_err(ProviderError::internal)?;
    if app_data.len() > spid_cie_oidc::rp::pending::MAX_APP_DATA {
        return Err(ProviderError::Login("redirect_uri and state too long".into()));
    }
    let req = LoginRequest { app_data: Some(app_data), ..LoginRequest::default() };
    let url = rp.start_login(op, req).await.map_err(|e| ProviderError::Unavailable(format!("SPID/CIE login cannot start: {e}")))?;
    redirect(&url)
}

/// Step 2: the OpenID Provider's redirect. Finishes the login and sends the browser back to
/// the app with a one-time code (or an error).
async fn callback(State(st): State<WalletProvider>, RawQuery(query): RawQuery) -> Result<Response, ProviderError> {
    let query = query.unwrap_or_default();
    let (rp, _) = relying_party(&st)?;
    // The login's `state`, opened (sealed by our relying party, unexpired): where to send the
    // browser back, even when the login failed.
    let pending = rp.pending(&query).map_err(|e| ProviderError::Login(format!("unknown or expired login: {e}")))?;
    let ret: AppReturn = pending
        .app_data
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .ok_or_else(|| ProviderError::Login("unknown login: it was not started at /citizen/login".into()))?;
    if !st.config().redirect_uri_allowed(&ret.redirect_uri) {
        return Err(ProviderError::Login("redirect_uri is no longer registered for this wallet provider".into()));
    }
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
