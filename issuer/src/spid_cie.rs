//! The citizen's authentication by SPID/CIE (`[authentication] method = "spid-cie"`, the PID
//! provider; IT-Wallet 1.4 §3.3 step 5): the issuer is a `spid-cie-oidc` relying party
//! (its `openid_relying_party` metadata in our Entity Configuration; the OpenID Provider
//! trusted through its chain to a configured trust anchor).
//!
//! 1. `/authorize` (`start`): the login is stored ([`crate::authorization::Login`]) and its
//!    handle travels as the relying party's `app_data`, sealed in the OIDC `state`; the
//!    browser goes to the OpenID Provider with `acr_values` = the configured level (CIE
//!    level 3, `https://www.spid.gov.it/SpidL3`, by default) and the UserInfo claims
//!    `fiscal_number`, `given_name`, `family_name`.
//! 2. `GET /authorize/callback?code&state&iss` ([`callback`]): the `state` opened (ours,
//!    unexpired), the login taken (single use), the OIDC login finished by the relying party
//!    (token, ID Token with `acr` at least the level asked, UserInfo); the citizen is the
//!    `fiscal_number` without its `TINIT-` prefix. Then `authorization::finish`: a
//!    302 to the wallet with the code, or with `access_denied` (the login failed or was at a
//!    lower level, no fiscal number, a citizen the registry does not know).

use axum::extract::{RawQuery, State};
use axum::response::Response;
use spid_cie_oidc::{Attribute, ClaimsRequest, LoginRequest};
use wallet_core::oid4vci::ErrorCode;

use crate::Issuer;
use crate::authorization::{Login, citizen_of, finish, found, remember_login, take_login};
use crate::config::SpidCieAuthentication;
use crate::error::IssuerError;

/// Starts the login at the first configured OpenID Provider: its authorization URL, or the
/// error to send the wallet back with.
pub(crate) async fn start(st: &Issuer, auth: &SpidCieAuthentication, login: &Login) -> Result<String, (ErrorCode, String)> {
    let unavailable = |m: String| (ErrorCode::TemporarilyUnavailable, m);
    let rp = st.relying_party().ok_or_else(|| unavailable("SPID/CIE login is not configured".into()))?;
    let provider = auth.providers.first().ok_or_else(|| unavailable("no OpenID Provider configured".into()))?;
    let id = remember_login(st, login).map_err(|e| (ErrorCode::ServerError, e.to_string()))?;
    let req = LoginRequest {
        acr_values: vec![auth.acr],
        claims: ClaimsRequest::userinfo(&[Attribute::FiscalNumber, Attribute::GivenName, Attribute::FamilyName]),
        app_data: Some(id),
        ..LoginRequest::default()
    };
    rp.start_login(provider, req).await.map_err(|e| {
        tracing::warn!(target: "issuer", "SPID/CIE login cannot start: {e}");
        unavailable("the SPID/CIE login cannot start".into())
    })
}

/// `GET /authorize/callback`: see the module documentation. A `state` that is not ours or
/// whose login is unknown, finished or expired is 400 JSON (there is no wallet to send back to).
pub async fn callback(State(st): State<Issuer>, RawQuery(query): RawQuery) -> Result<Response, IssuerError> {
    let query = query.unwrap_or_default();
    let rp = st.relying_party().ok_or_else(|| IssuerError::bad_request("SPID/CIE login is not configured at this issuer"))?;
    let pending = rp.pending(&query).map_err(|e| IssuerError::bad_request(format!("unknown or expired login: {e}")))?;
    let id = pending.app_data.ok_or_else(|| IssuerError::bad_request("unknown login: it was not started at /authorize"))?;
    let login = take_login(&st, &id)?.ok_or_else(|| IssuerError::bad_request("login unknown, already finished or expired"))?;
    let citizen = match rp.finish_login(&query).await {
        Ok(outcome) => match outcome.userinfo.fiscal_number.as_deref() {
            Some(f) => {
                tracing::info!(target: "issuer", provider = %outcome.provider, acr = outcome.acr.as_str(), "citizen authenticated by SPID/CIE");
                Ok(citizen_of(f).to_owned())
            }
            None => Err((ErrorCode::AccessDenied, "the identity provider released no fiscal number".to_owned())),
        },
        Err(e) => {
            tracing::warn!(target: "issuer", "SPID/CIE login failed: {e}");
            Err((ErrorCode::AccessDenied, "the SPID/CIE login did not complete at the level required".to_owned()))
        }
    };
    Ok(found(&finish(&st, &login, citizen)?))
}
