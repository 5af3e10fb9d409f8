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

use axum::extract::{Query, RawQuery, State};
use axum::response::Response;
use spid_cie_oidc::{Attribute, ClaimsRequest, LoginRequest};
use wallet_core::oid4vci::ErrorCode;

use crate::Issuer;
use crate::authorization::{Login, citizen_of, finish, found, remember_login, take_login};
use crate::config::SpidCieAuthentication;
use crate::error::IssuerError;

/// Starts the login: at the one configured OpenID Provider, its authorization URL; with
/// several, our page where the citizen chooses one ([`choose`]); or the error to send the
/// wallet back with.
pub(crate) async fn start(st: &Issuer, auth: &SpidCieAuthentication, login: &Login) -> Result<String, (ErrorCode, String)> {
    let unavailable = |m: String| (ErrorCode::TemporarilyUnavailable, m);
    if st.relying_party().is_none() {
        return Err(unavailable("SPID/CIE login is not configured".into()));
    }
    let provider = match auth.providers.as_slice() {
        [] => return Err(unavailable("no OpenID Provider configured".into())),
        [one] => one,
        _ => {
            let id = remember_login(st, login).map_err(|e| (ErrorCode::ServerError, e.to_string()))?;
            return Ok(format!("{}?login={id}", st.config().endpoint(crate::routes::AUTHORIZE_PROVIDER_PATH)));
        }
    };
    let id = remember_login(st, login).map_err(|e| (ErrorCode::ServerError, e.to_string()))?;
    login_at(st, auth, provider, id).await
}

/// The OpenID Provider's authorization URL for the login of handle `id`.
async fn login_at(st: &Issuer, auth: &SpidCieAuthentication, provider: &wallet_core::federation::EntityId, id: String) -> Result<String, (ErrorCode, String)> {
    let unavailable = |m: String| (ErrorCode::TemporarilyUnavailable, m);
    let rp = st.relying_party().ok_or_else(|| unavailable("SPID/CIE login is not configured".into()))?;
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

/// `?login=` (and `provider=`) of the choice page and its links.
#[derive(Debug, serde::Deserialize)]
pub struct Choice {
    login: String,
    provider: Option<String>,
}

/// `GET /authorize/provider?login=`: with several `providers` configured, the page where
/// the citizen chooses where to log in (in Italian and English), one button per provider,
/// named by its `federation_entity.organization_name` (its entity id when its chain cannot
/// be resolved now, marked unavailable). Each button leads to [`chosen`].
pub async fn choose(State(st): State<Issuer>, Query(q): Query<Choice>) -> Result<Response, IssuerError> {
    use axum::response::IntoResponse as _;
    use service_kit::html::esc;
    let (auth, rp) = spid_cie(&st)?;
    let mut items = String::new();
    for p in &auth.providers {
        let resolved = rp.provider(p).await;
        let name = resolved.as_ref().ok().and_then(|r| r.organization_name.clone()).unwrap_or_else(|| p.host());
        let link = format!("{}?{}", crate::routes::AUTHORIZE_PROVIDER_PATH, form(&[("login", q.login.as_str()), ("provider", p.as_str())]));
        let note = if resolved.is_ok() { String::new() } else { " <small>(non raggiungibile ora / unavailable now)</small>".to_owned() };
        items.push_str(&format!("<li><a class=\"op\" href=\"{}\">{}</a>{note}<br><small>{}</small></li>\n", esc(&link), esc(&name), esc(p.as_str())));
    }
    let page = format!(
        "<!doctype html>\n<html lang=\"it\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>Entra con SPID o CIE</title><style>body{{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}\
         ul{{list-style:none;padding:0}}li{{margin:1rem 0}}a.op{{display:inline-block;padding:.6rem 1rem;background:#0066cc;color:#fff;\
         border-radius:4px;text-decoration:none;font-weight:bold}}small{{color:#555}}</style></head><body>\
         <h1>Entra con SPID o CIE</h1><p>{org} chiede la tua identità digitale per rilasciare la credenziale nel tuo wallet. \
         Scegli il tuo gestore di identità.</p><p lang=\"en\"><small>{org} needs your digital identity to issue the credential to \
         your wallet: choose your identity provider.</small></p><ul>\n{items}</ul></body></html>",
        org = esc(&st.config().organization_name),
    );
    Ok(([("cache-control", "no-store"), ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")], axum::response::Html(page)).into_response())
}

/// `GET /authorize/provider?login=&provider=`: the citizen's choice, once per login (its
/// handle single use for this step, unexpired, unfinished); the provider must be one
/// configured. A 302 to its authorization endpoint, or the wallet sent back with the error.
pub async fn chosen(State(st): State<Issuer>, Query(q): Query<Choice>) -> Result<Response, IssuerError> {
    let (auth, _) = spid_cie(&st)?;
    let Some(provider) = q.provider.as_deref() else {
        return choose(State(st), Query(q)).await;
    };
    let provider = auth.providers.iter().find(|p| p.as_str() == provider).ok_or_else(|| IssuerError::bad_request(format!("{provider} is not an identity provider of this issuer")))?;
    let json = st
        .store()
        .fetch_login(&crate::routes::hash(&q.login), st.now().secs())?
        .ok_or_else(|| IssuerError::bad_request("login unknown, expired, finished or already sent to an identity provider: start again from the wallet"))?;
    let login: Login = serde_json::from_str(&json).map_err(IssuerError::internal)?;
    match login_at(&st, auth, provider, q.login.clone()).await {
        Ok(location) => Ok(found(&location)),
        Err(e) => {
            // The wallet gets the error; the login ends here.
            let _ = take_login(&st, &q.login)?;
            Ok(found(&finish(&st, &login, Err(e))?))
        }
    }
}

fn spid_cie(st: &Issuer) -> Result<(&SpidCieAuthentication, &spid_cie_oidc::rp::RelyingParty), IssuerError> {
    let crate::config::Authentication::SpidCie(auth) = &st.config().authentication else {
        return Err(IssuerError::bad_request("this issuer does not log citizens in with SPID/CIE"));
    };
    let rp = st.relying_party().ok_or_else(|| IssuerError::bad_request("SPID/CIE login is not configured at this issuer"))?;
    Ok((auth, rp))
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
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
