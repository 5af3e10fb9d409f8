//! The citizen's login (IT-Wallet 1.4 §2.1: "on activation, a user account is bound to the
//! `hardware_key_tag`"): the provider is a SPID/CIE relying party.
//!
//! 1. `GET /citizen/login?redirect_uri=<app redirect>`: the redirect URI must be one of the
//!    configured ones (exact match); the provider starts an OIDC login at the OpenID
//!    Provider and answers 302 to it.
//! 2. `GET /citizen/callback?code=…&state=…`: the provider finishes the login (token,
//!    ID token, UserInfo), creates a one-time code bound to the citizen's fiscal number and
//!    answers 302 to the app's redirect URI with `?code=…`.
//! 3. `POST /citizen/session {"code"}`: the app redeems the code (once, within
//!    `login_code_ttl`) for `{"session_token", "expires_in", "fiscal_number"}`; the token
//!    is the bearer of registration, listing and revocation.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use wallet_core::attestation::{CitizenSessionRequest, CitizenSessionResponse};

use crate::WalletProvider;
use crate::error::ProviderError;
use crate::extract::ApiJson;
use crate::secret::Secret;

pub use wallet_core::attestation::endpoints::{CITIZEN_LOGIN, CITIZEN_SESSION};
/// `GET`: where the OpenID Provider sends the citizen back.
pub const CITIZEN_CALLBACK: &str = "/citizen/callback";

pub(crate) fn router() -> Router<WalletProvider> {
    Router::new().route(CITIZEN_SESSION, post(session))
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
#[allow(dead_code)] // the SPID/CIE callback uses it once spid-cie-oidc lands
pub(crate) fn create_login_code(st: &WalletProvider, fiscal_number: &str) -> Result<Secret, ProviderError> {
    let now = st.now().secs();
    let code = Secret::generate()?;
    st.store().put_login_code(&code.hash(), fiscal_number, now.saturating_add(st.config().login_code_ttl), now)?;
    Ok(code)
}
