//! The authorization code grant (IT-Wallet 1.4 §3.1, §3.3 steps 1–11, §8; RFC 9126 PAR,
//! RFC 7636 PKCE, RFC 9207 `iss`, RFC 9449 DPoP), after [`WalletIssuance::start_from_issuer`]
//! (wallet-initiated) or [`WalletIssuance::start_from_offer`] with an `authorization_code`
//! grant (its `issuer_state` and `scope` are sent back):
//!
//! 1. [`WalletIssuance::authorize`]: the issuer must be trusted (refused before the PAR
//!    otherwise); `POST` the PAR with the WAA and its PoP, the request object signed by the
//!    WAA key (`client_id` its thumbprint, PKCE `S256`, a fresh `state`, `redirect_uri`,
//!    `authorization_details` per configuration, `scope`, `issuer_state`); then one
//!    `GET /authorize?client_id&request_uri` through the [`crate::wallet::HttpClient`] (which does not follow
//!    redirects), whose `Location` says how the citizen is authenticated
//!    ([`on_authorize_response`]):
//!    * an OpenID4VP request (`haip-vp://`, `openid4vp://`: a (Q)EAA provider asking for the
//!      PID, §3.1) → [`AuthorizationStep::Presentation`]: the PID [`ConsentRequest`] to show
//!      (the relying party must be the issuer), then [`WalletIssuance::present_pid`] (the
//!      citizen's choice, presented with [`crate::wallet::WalletPresentation`]; the code comes
//!      in the `redirect_uri` the `response_uri` answers) or [`WalletIssuance::decline_pid`];
//!    * any other URL (the SPID/CIE OpenID Provider, for the PID) →
//!      [`AuthorizationStep::Browser`]: the app opens [`BrowserAuthorization::url`] and, once
//!      the browser comes back under the wallet's `redirect_uri`,
//!      [`WalletIssuance::complete`] with that URL — or [`WalletIssuance::complete_in_browser`]
//!      with a [`BrowserStep`] that blocks until then;
//!    * the wallet's own `redirect_uri` (an immediate answer) → handled at once.
//! 2. The redirect: to our `redirect_uri`, `state` ours, `iss` the authorization server, or
//!    the error it carries ([`IssuanceError::AuthorizationDenied`], its `error` code) —
//!    [`crate::oid4vci::AuthorizationResponse::from_redirect`].
//! 3. `POST /token` `authorization_code` with `code_verifier` and `redirect_uri`, DPoP, and a
//!    PoP of the same WAA key as the PAR; then nonce, proofs, `/credential` by
//!    `credential_identifier`, verification, storage and notification as with a
//!    pre-authorized code.
//!
//! The refresh token is not kept: it is bound to the session's ephemeral DPoP key, which is
//! dropped with it (re-issuance would need both stored).

use super::{
    ClientAuth, IssuanceError, IssuanceOutcome, IssuanceSession, IssuanceStep, WalletAttestationKey, WalletIssuance, issuer_error, send,
};
use crate::oid4vci::requests::par_request;
use crate::oid4vci::{AuthorizationResponse, AuthorizeRequest, ParError, ParRequestBuilder, ParResponse, PendingAuthorization, TokenRequest};
use crate::oid4vp::ConsentChoice;
use crate::oid4vp::consent::{ConsentRequest, HolderKeys};
use crate::wallet::WalletError;
use crate::wallet::http::{HttpRequest, HttpResponse};
use crate::wallet::presentation::{PresentationSession, PresentationStep, WalletPresentation};

/// The OpenID4VP invocation schemes the wallet answers itself (IT-Wallet 1.4 §5.1: the wallet
/// MUST support both).
pub const PRESENTATION_SCHEMES: [&str; 2] = ["haip-vp", "openid4vp"];

/// The phone's browser, for the citizen's login at the issuer's identity provider (SPID/CIE):
/// open `url`, let the citizen log in, and return the URL the browser ended at under
/// `redirect_uri` (the app link that brings it back to the wallet).
pub trait BrowserStep {
    /// Opens `url`; returns the redirect back to `redirect_uri`, query included.
    fn open(&self, url: &str, redirect_uri: &str) -> Result<String, BrowserError>;
}

/// The browser step failed or the citizen abandoned it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BrowserError(pub String);

/// Where `GET /authorize` sent the wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeNext {
    /// An OpenID4VP request: present the PID.
    Presentation(String),
    /// Straight back to the wallet's `redirect_uri`.
    Redirect(String),
    /// Somewhere the citizen logs in: open it in the browser.
    Browser(String),
}

/// Reads the `/authorize` answer (pure): a redirect is classified by its `Location`
/// (resolved against `authorize_url`): an OpenID4VP scheme, our `redirect_uri` (same scheme,
/// host and path), or else an `https` (or loopback) page for the browser. A `200` is a page
/// of the issuer's own: the browser opens `authorize_url` (a reload of the pushed request,
/// which RFC 9126 §4 lets the issuer accept). Anything else is the issuer's error (§3.3 steps
/// 6–7: no redirect when `client_id` or `request_uri` is bad).
pub fn on_authorize_response(r: &HttpResponse, authorize_url: &str, redirect_uri: &str) -> Result<AuthorizeNext, IssuanceError> {
    let step = IssuanceStep::Authorization;
    match r.status {
        301 | 302 | 303 | 307 | 308 => {
            let location = r.header("Location").ok_or_else(|| IssuanceError::BadResponse { step, detail: "a redirect without Location".into() })?;
            let location = match url::Url::parse(location) {
                Ok(_) => location.to_owned(),
                Err(_) => url::Url::parse(authorize_url)
                    .and_then(|base| base.join(location))
                    .map(String::from)
                    .map_err(|e| IssuanceError::BadResponse { step, detail: format!("Location: {e}") })?,
            };
            let scheme = location.split_once("://").map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
            if PRESENTATION_SCHEMES.contains(&scheme.as_str()) {
                Ok(AuthorizeNext::Presentation(location))
            } else if crate::wallet::query::without_query(&location) == crate::wallet::query::without_query(redirect_uri) {
                Ok(AuthorizeNext::Redirect(location))
            } else if crate::is_https_or_loopback(&location) {
                Ok(AuthorizeNext::Browser(location))
            } else {
                Err(IssuanceError::BadResponse { step, detail: format!("a redirect to a `{scheme}` URL") })
            }
        }
        200 => Ok(AuthorizeNext::Browser(authorize_url.to_owned())),
        _ => Err(issuer_error(step, r)),
    }
}

/// What the flow keeps between the PAR and the token request.
struct Pending {
    session: IssuanceSession,
    authorization: PendingAuthorization,
    client: WalletAttestationKey,
}

/// The citizen logs in in the browser: open [`Self::url`], then
/// [`WalletIssuance::complete`] with the URL it comes back with. `Debug` hides the secrets.
pub struct BrowserAuthorization {
    url: String,
    pending: Pending,
}

impl std::fmt::Debug for BrowserAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserAuthorization").field("url", &self.url).field("redirect_uri", &self.redirect_uri()).finish_non_exhaustive()
    }
}

impl BrowserAuthorization {
    /// The page to open (the identity provider's login).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The wallet's `redirect_uri`: the browser is done when it gets there.
    pub fn redirect_uri(&self) -> &str {
        &self.pending.authorization.redirect_uri
    }

    /// Whether `url` is the redirect back to the wallet (same scheme, host and path).
    pub fn is_redirect(&self, url: &str) -> bool {
        crate::wallet::query::without_query(url) == crate::wallet::query::without_query(self.redirect_uri())
    }

    /// The issuance this authorizes.
    pub fn session(&self) -> &IssuanceSession {
        &self.pending.session
    }
}

/// The issuer asks for the PID (OpenID4VP): show [`Self::consent`], then
/// [`WalletIssuance::present_pid`] or [`WalletIssuance::decline_pid`].
pub struct PresentationAuthorization {
    presentation: PresentationSession,
    pending: Pending,
}

impl std::fmt::Debug for PresentationAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentationAuthorization").field("relying_party", &self.presentation.relying_party()).finish_non_exhaustive()
    }
}

impl PresentationAuthorization {
    /// Who asks (the issuer, as a relying party), for what, and which stored credentials can
    /// answer with exactly what they would disclose.
    pub fn consent(&self) -> &ConsentRequest {
        &self.presentation.consent
    }

    /// The presentation as opened (the relying party's trust chain included).
    pub fn presentation(&self) -> &PresentationSession {
        &self.presentation
    }

    /// The issuance this authorizes.
    pub fn session(&self) -> &IssuanceSession {
        &self.pending.session
    }
}

/// How the citizen is to be authenticated, after the PAR and `/authorize`.
#[derive(Debug)]
pub enum AuthorizationStep {
    /// In the browser (SPID/CIE).
    Browser(Box<BrowserAuthorization>),
    /// By presenting the PID.
    Presentation(Box<PresentationAuthorization>),
    /// The issuer redirected straight back: the issuance went on to its end.
    Done(IssuanceOutcome),
}

fn par_rule(step: IssuanceStep) -> impl Fn(ParError) -> IssuanceError {
    move |rule| match rule {
        ParError::AuthorizationError { error, description } => IssuanceError::AuthorizationDenied { error, description },
        rule => IssuanceError::Authorization { step, rule },
    }
}

impl WalletIssuance {
    fn presentation_flow(&self) -> WalletPresentation {
        WalletPresentation::new(self.http.clone(), self.store.clone(), self.anchors.clone()).with_profile(self.profile).with_clock(self.clock.clone())
    }

    /// Step 2 of the authorization code flow (see the module documentation): PAR, then
    /// `/authorize` → how the citizen is authenticated. An untrusted issuer is refused before
    /// the PAR.
    pub fn authorize(&self, session: &IssuanceSession) -> Result<AuthorizationStep, IssuanceError> {
        self.checked(session)?;
        let grant = session.offer.grants.authorization_code.as_ref().ok_or(IssuanceError::UnsupportedGrant("authorization code"))?;
        let redirect_uri = self.redirect_uri.clone().ok_or(IssuanceError::NoRedirectUri)?;
        let missing = |what: &str| IssuanceError::BadResponse { step: IssuanceStep::Metadata, detail: format!("the authorization server has no {what}") };
        let par_endpoint = session.server.par.clone().ok_or_else(|| missing("pushed_authorization_request_endpoint"))?;
        let authorization_endpoint = session.server.authorization.clone().ok_or_else(|| missing("authorization_endpoint"))?;
        let client = self.keys.wallet_attestation_key()?.ok_or(IssuanceError::Wallet(WalletError::NoAttestations))?;
        let server = session.server.issuer.clone();

        // PAR (§3.3 steps 1–3).
        let ids: Vec<&str> = session.offer.credential_configuration_ids.iter().map(String::as_str).collect();
        let builder = ParRequestBuilder {
            audience: &server,
            redirect_uri: &redirect_uri,
            scope: grant.scope.as_deref(),
            configuration_ids: &ids,
            issuer_state: grant.issuer_state.as_deref(),
        };
        let (par, authorization) = builder.build(client.key.as_ref(), self.now()).map_err(par_rule(IssuanceStep::Par))?;
        let auth = client.client_auth(&server, self.now())?;
        let r = send(self.http.as_ref(), IssuanceStep::Par, par_request(&par_endpoint, &par, &auth.headers))?;
        if r.status != 201 && r.status != 200 {
            return Err(issuer_error(IssuanceStep::Par, &r));
        }
        let pushed = ParResponse::parse(&r.body).map_err(par_rule(IssuanceStep::Par))?;

        // `/authorize` (§3.3 steps 4–5).
        let url = AuthorizeRequest { client_id: par.client_id, request_uri: pushed.request_uri }.to_url(&authorization_endpoint);
        let r = send(self.http.as_ref(), IssuanceStep::Authorization, HttpRequest::get(url.clone()))?;
        let pending = Pending { session: session.clone(), authorization, client };
        match on_authorize_response(&r, &url, &redirect_uri)? {
            AuthorizeNext::Browser(url) => Ok(AuthorizationStep::Browser(Box::new(BrowserAuthorization { url, pending }))),
            AuthorizeNext::Redirect(url) => self.finish_authorization(&pending, &url).map(AuthorizationStep::Done),
            AuthorizeNext::Presentation(url) => {
                let presentation = self.presentation_flow().start(&url)?;
                // Mix-up defence: the PID goes to the issuer the citizen is being issued by.
                let rp = presentation.relying_party();
                if rp != session.consent.issuer && rp != server {
                    return Err(IssuanceError::Presentation {
                        step: PresentationStep::Request,
                        untrusted: true,
                        error: None,
                        detail: format!("the relying party {rp} is not the issuer {}", session.consent.issuer),
                    });
                }
                Ok(AuthorizationStep::Presentation(Box::new(PresentationAuthorization { presentation, pending })))
            }
        }
    }

    /// The browser came back with `redirect`: checked (§3.3 steps 6–7), then the token and
    /// the credential.
    pub fn complete(&self, browser: &BrowserAuthorization, redirect: &str) -> Result<IssuanceOutcome, IssuanceError> {
        self.finish_authorization(&browser.pending, redirect)
    }

    /// [`Self::complete`] after `browser` ran the login to its end.
    pub fn complete_in_browser(&self, authorization: &BrowserAuthorization, browser: &dyn BrowserStep) -> Result<IssuanceOutcome, IssuanceError> {
        let redirect = browser.open(authorization.url(), authorization.redirect_uri()).map_err(|e| IssuanceError::Browser(e.0))?;
        self.complete(authorization, &redirect)
    }

    /// The citizen chose what to present of the PID: presented (KB-JWT by `holder`, e.g.
    /// [`crate::wallet::StoredHolderKeys`]) to the issuer's `response_uri`, whose answer's
    /// `redirect_uri` carries the code; then the token and the credential.
    pub fn present_pid(&self, step: &PresentationAuthorization, choice: &ConsentChoice, holder: &dyn HolderKeys) -> Result<IssuanceOutcome, IssuanceError> {
        let outcome = self.presentation_flow().with_own_redirect(&step.pending.authorization.redirect_uri).present(&step.presentation, choice, holder)?;
        let redirect = outcome
            .redirect_uri
            .ok_or_else(|| IssuanceError::BadResponse { step: IssuanceStep::Presentation, detail: "the response_uri answered without a redirect_uri".into() })?;
        self.finish_authorization(&step.pending, &redirect)
    }

    /// The citizen declined the PID presentation: `access_denied` to the issuer (logged as
    /// declined). Nothing is issued.
    pub fn decline_pid(&self, step: &PresentationAuthorization) -> Result<(), IssuanceError> {
        self.presentation_flow().with_own_redirect(&step.pending.authorization.redirect_uri).decline(&step.presentation)?;
        Ok(())
    }

    fn finish_authorization(&self, pending: &Pending, redirect: &str) -> Result<IssuanceOutcome, IssuanceError> {
        let server = pending.session.server.issuer.clone();
        let response = AuthorizationResponse::from_redirect(redirect, &pending.authorization, &server).map_err(par_rule(IssuanceStep::Authorization))?;
        let request = TokenRequest::AuthorizationCode {
            code: response.code,
            code_verifier: pending.authorization.code_verifier.clone(),
            redirect_uri: Some(pending.authorization.redirect_uri.clone()),
        };
        let auth = || -> Result<Option<ClientAuth>, WalletError> { pending.client.client_auth(&server, self.now()).map(Some) };
        self.redeem(&pending.session, &request, true, &auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTHORIZE: &str = "https://issuer.example.it/authorize?client_id=c&request_uri=urn%3Ax";
    const REDIRECT: &str = "https://wallet.example.org/cb";

    fn redirect(status: u16, location: &str) -> HttpResponse {
        HttpResponse { status, headers: vec![("Location".into(), location.into())], body: Vec::new() }
    }

    #[test]
    fn authorize_redirects_are_told_apart() {
        let vp = "haip-vp://?client_id=openid_federation%3Ahttps%3A%2F%2Fissuer.example.it&request_uri=https%3A%2F%2Fissuer.example.it%2Fr";
        assert_eq!(on_authorize_response(&redirect(302, vp), AUTHORIZE, REDIRECT).unwrap(), AuthorizeNext::Presentation(vp.into()));
        let vp = "OpenID4VP://?client_id=x&request_uri=y";
        assert_eq!(on_authorize_response(&redirect(303, vp), AUTHORIZE, REDIRECT).unwrap(), AuthorizeNext::Presentation(vp.into()));
        let op = "https://op.example.it/authorization?client_id=https%3A%2F%2Fissuer.example.it&state=s";
        assert_eq!(on_authorize_response(&redirect(302, op), AUTHORIZE, REDIRECT).unwrap(), AuthorizeNext::Browser(op.into()));
        let back = format!("{REDIRECT}?error=access_denied&state=s");
        assert_eq!(on_authorize_response(&redirect(302, &back), AUTHORIZE, REDIRECT).unwrap(), AuthorizeNext::Redirect(back));
        // A relative Location is resolved against /authorize.
        assert_eq!(
            on_authorize_response(&redirect(302, "/login?x=1"), AUTHORIZE, REDIRECT).unwrap(),
            AuthorizeNext::Browser("https://issuer.example.it/login?x=1".into())
        );
        // A page of the issuer's own: the browser reopens /authorize.
        let page = HttpResponse { status: 200, headers: Vec::new(), body: b"<html>".to_vec() };
        assert_eq!(on_authorize_response(&page, AUTHORIZE, REDIRECT).unwrap(), AuthorizeNext::Browser(AUTHORIZE.into()));
    }

    #[test]
    fn authorize_refusals_name_the_step() {
        let e = on_authorize_response(&redirect(302, "http://op.example.it/login"), AUTHORIZE, REDIRECT).unwrap_err();
        assert!(matches!(e, IssuanceError::BadResponse { step: IssuanceStep::Authorization, .. }), "{e}");
        let e = on_authorize_response(&redirect(302, "javascript:alert(1)"), AUTHORIZE, REDIRECT).unwrap_err();
        assert!(matches!(e, IssuanceError::BadResponse { step: IssuanceStep::Authorization, .. }), "{e}");
        let no_location = HttpResponse { status: 302, headers: Vec::new(), body: Vec::new() };
        assert!(matches!(on_authorize_response(&no_location, AUTHORIZE, REDIRECT), Err(IssuanceError::BadResponse { .. })));
        // §3.3 steps 6–7: an unknown, used or expired request_uri is a 400, not a redirect.
        let used = HttpResponse { status: 400, headers: Vec::new(), body: br#"{"error":"invalid_request","error_description":"request_uri already used"}"#.to_vec() };
        let e = on_authorize_response(&used, AUTHORIZE, REDIRECT).unwrap_err();
        assert_eq!(e.issuer_code(), Some(crate::oid4vci::ErrorCode::InvalidRequest));
        assert_eq!(e.to_string(), "authorization: the issuer answered HTTP 400 invalid_request");
    }

    #[test]
    fn error_redirects_are_named_by_their_code() {
        let deny = par_rule(IssuanceStep::Authorization);
        let e = deny(ParError::AuthorizationError { error: "access_denied".into(), description: Some("not in the registry".into()) });
        assert_eq!(e, IssuanceError::AuthorizationDenied { error: "access_denied".into(), description: Some("not in the registry".into()) });
        assert_eq!(e.issuer_code(), Some(crate::oid4vci::ErrorCode::AccessDenied));
        assert_eq!(e.to_string(), "authorization: the issuer refused: access_denied (not in the registry)");
        let e = deny(ParError::StateMismatch);
        assert_eq!(e.to_string(), "authorization: authorization response state mismatch");
        let e = deny(ParError::IssuerMismatch);
        assert!(matches!(e, IssuanceError::Authorization { step: IssuanceStep::Authorization, rule: ParError::IssuerMismatch }));
    }
}
