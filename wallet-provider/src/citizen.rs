//! The citizen's login (IT-Wallet 1.4 §2.1: "on activation, a user account is bound to the
//! `hardware_key_tag`"): the provider is a SPID/CIE relying party.
//!
//! 1. `GET /citizen/login?redirect_uri=<app redirect>`: the redirect URI must be one of the
//!    configured ones (exact match); the provider starts an OIDC login at the OpenID
//!    Provider and answers 302 to it. Nothing is stored: what the provider must remember
//!    until the callback (the app's redirect URI and `state`, the OIDC `state` it expects,
//!    the expiry) goes to the browser in a sealed cookie ([`LOGIN_COOKIE`], AES-256-GCM,
//!    `HttpOnly`, `SameSite=Lax`, path `/citizen/callback`), so anonymous logins that are
//!    never finished cost the server nothing (the relying party keeps its own pending state
//!    sealed in the OIDC `state`), and the callback is bound to the browser that started the
//!    login.
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
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use spid_cie_oidc::{LoginRequest, RelyingParty};
use wallet_core::attestation::endpoints::{CODE_PARAM, STATE_PARAM};
use wallet_core::jose::CompactJws;
use wallet_core::attestation::{CitizenSessionRequest, CitizenSessionResponse};

use crate::WalletProvider;
use crate::error::ProviderError;
use crate::secret::Secret;
use service_kit::{Json as JsonBody, Query};

pub use wallet_core::attestation::endpoints::{CITIZEN_LOGIN, CITIZEN_SESSION};
/// `GET`: where the OpenID Provider sends the citizen back.
pub const CITIZEN_CALLBACK: &str = "/citizen/callback";

/// The cookie that carries a login in progress, sealed.
pub const LOGIN_COOKIE: &str = "tessera_wp_login";
/// The seal's purpose (associated data).
const SEAL_PURPOSE: &str = "tessera-wp-login-v1";

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

/// How long a login may take at the OpenID Provider (the relying party's own default bound).
const LOGIN_TTL: i64 = 600;

/// The most characters of an app `state` we keep and echo.
const MAX_APP_STATE: usize = 256;

#[derive(Debug, Deserialize)]
struct LoginQuery {
    redirect_uri: Option<String>,
    state: Option<String>,
}

/// What the provider must remember of a login in progress, sealed in [`LOGIN_COOKIE`].
#[derive(Debug, serde::Serialize, Deserialize)]
struct AppReturn {
    /// The app's redirect URI (one of the allowed ones).
    redirect_uri: String,
    /// The app's `state`, echoed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    /// SHA-256 (base64url) of the OIDC `state` of this login: the callback must carry it.
    oidc_state: String,
    /// Expiry, Unix seconds.
    exp: i64,
}

fn state_digest(oidc_state: &str) -> String {
    use sha2::Digest as _;
    wallet_core::jose::b64::encode(sha2::Sha256::digest(oidc_state.as_bytes()))
}

/// The `Set-Cookie` value carrying `sealed` (or clearing the cookie when `None`).
fn login_cookie(st: &WalletProvider, sealed: Option<&str>) -> Result<HeaderValue, ProviderError> {
    let secure = if st.config().entity_id.as_str().starts_with("https://") { "; Secure" } else { "" };
    let v = match sealed {
        Some(v) => format!("{LOGIN_COOKIE}={v}; Path={CITIZEN_CALLBACK}; Max-Age={LOGIN_TTL}; HttpOnly; SameSite=Lax{secure}"),
        None => format!("{LOGIN_COOKIE}=; Path={CITIZEN_CALLBACK}; Max-Age=0; HttpOnly; SameSite=Lax{secure}"),
    };
    HeaderValue::from_str(&v).map_err(ProviderError::internal)
}

/// The sealed login of this browser, opened and checked against the callback's OIDC `state`
/// and the time.
fn opened_login(st: &WalletProvider, headers: &HeaderMap, oidc_state: &str) -> Result<AppReturn, ProviderError> {
    let unknown = || ProviderError::Login("unknown or expired login (start again at /citizen/login in the same browser)".into());
    let sealed = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == LOGIN_COOKIE)
        .map(|(_, v)| v)
        .ok_or_else(unknown)?;
    let plain = st.sealer().open_sealed(SEAL_PURPOSE, sealed).ok_or_else(unknown)?;
    let ret: AppReturn = serde_json::from_slice(&plain).map_err(|_| unknown())?;
    if ret.exp <= st.now().secs() || !wallet_core::subtle_eq(ret.oidc_state.as_bytes(), state_digest(oidc_state).as_bytes()) {
        return Err(unknown());
    }
    Ok(ret)
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
async fn login(State(st): State<WalletProvider>, Query(q): Query<LoginQuery>) -> Result<Response, ProviderError> {
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
    let exp = st.now().secs().checked_add(LOGIN_TTL).ok_or_else(|| ProviderError::internal("time out of range"))?;
    let ret = serde_json::to_vec(&AppReturn { redirect_uri, state: q.state, oidc_state: state_digest(&oidc_state), exp }).map_err(ProviderError::internal)?;
    let sealed = st.sealer().seal(SEAL_PURPOSE, &ret).map_err(ProviderError::internal)?;
    let mut res = redirect(&url)?;
    res.headers_mut().insert(header::SET_COOKIE, login_cookie(&st, Some(&sealed))?);
    Ok(res)
}

/// Step 2: the OpenID Provider's redirect. Finishes the login and sends the browser back to
/// the app with a one-time code (or an error).
async fn callback(State(st): State<WalletProvider>, headers: HeaderMap, RawQuery(query): RawQuery) -> Result<Response, ProviderError> {
    let query = query.unwrap_or_default();
    let oidc_state = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ProviderError::Login("callback without state".into()))?;
    let ret = opened_login(&st, &headers, &oidc_state)?;
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
    let mut res = redirect(&with_params(&ret.redirect_uri, &refs)?)?;
    res.headers_mut().insert(header::SET_COOKIE, login_cookie(&st, None)?);
    Ok(res)
}
