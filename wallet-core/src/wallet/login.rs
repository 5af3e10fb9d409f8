//! The citizen's SPID/CIE login at the wallet provider, sans-IO (the contract is in
//! [`crate::attestation::endpoints`]):
//!
//! 1. [`PendingLogin::new`] → [`PendingLogin::url`]: the app opens
//!    `<provider>/citizen/login?redirect_uri=<app redirect>&state=<random>` in a browser; the
//!    provider redirects through the OpenID Provider (the citizen picks SPID or CIE and logs in).
//! 2. The browser comes back to `<app redirect>?code=…[&state=…]`;
//!    [`PendingLogin::code_from_redirect`] checks the URI and `state` (when the provider echoes
//!    it) and takes the one-time code.
//! 3. [`PendingLogin::session_request`] is `POST /citizen/session {"code"}`;
//!    [`PendingLogin::on_session_response`] gives the [`CitizenSession`] (bearer token bound to
//!    the fiscal number).

use serde::{Deserialize, Serialize};

use super::WalletError;
use super::http::{HttpMethod, HttpRequest, HttpResponse};
use super::query;
use crate::attestation::endpoints::{CITIZEN_LOGIN, CITIZEN_SESSION, CODE_PARAM, REDIRECT_URI_PARAM, STATE_PARAM};
use crate::attestation::{CitizenSessionRequest, CitizenSessionResponse};
use crate::time::UnixTime;

/// A login in progress. Serializable, so that the app can keep it while the browser is open.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    provider: String,
    redirect_uri: String,
    state: String,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin").field("provider", &self.provider).field("redirect_uri", &self.redirect_uri).finish_non_exhaustive()
    }
}

/// The one-time code from the redirect (redacted in `Debug`).
#[derive(Clone)]
pub struct LoginCode(String);

impl std::fmt::Debug for LoginCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginCode(..)")
    }
}

/// A citizen session at the wallet provider: the bearer of registration, listing and
/// revocation, bound to the citizen's fiscal number. The token is redacted in `Debug`.
#[derive(Clone, Serialize, Deserialize)]
pub struct CitizenSession {
    token: String,
    /// The citizen's fiscal number.
    pub fiscal_number: String,
    /// When the session expires.
    pub expires_at: i64,
}

impl std::fmt::Debug for CitizenSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CitizenSession").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

impl CitizenSession {
    /// A session from its parts (a session the app kept).
    pub fn new(token: impl Into<String>, fiscal_number: impl Into<String>, expires_at: UnixTime) -> Self {
        Self { token: token.into(), fiscal_number: fiscal_number.into(), expires_at: expires_at.secs() }
    }

    /// The bearer token, checked against `now`.
    pub fn bearer(&self, now: UnixTime) -> Result<&str, WalletError> {
        if now.secs() >= self.expires_at {
            return Err(WalletError::SessionExpired);
        }
        Ok(&self.token)
    }
}

/// The provider base URL without a trailing slash.
pub(crate) fn base(provider: &str) -> &str {
    provider.trim_end_matches('/')
}

/// Reads a JSON body of a 2xx response, or the provider's error.
pub(crate) fn json_response<T: serde::de::DeserializeOwned>(endpoint: &'static str, r: &HttpResponse, expected: u16) -> Result<T, WalletError> {
    check_status(endpoint, r, expected)?;
    serde_json::from_slice(&r.body).map_err(|e| WalletError::BadResponse { endpoint, detail: e.to_string() })
}

/// The provider's error for a non-`expected` status.
pub(crate) fn check_status(endpoint: &'static str, r: &HttpResponse, expected: u16) -> Result<(), WalletError> {
    if r.body.len() > super::http::MAX_RESPONSE_BODY {
        return Err(WalletError::BadResponse { endpoint, detail: "body too large".into() });
    }
    if r.status == expected {
        return Ok(());
    }
    let body: Option<crate::attestation::ErrorBody> = serde_json::from_slice(&r.body).ok();
    Err(WalletError::Provider {
        endpoint,
        status: r.status,
        error: body.as_ref().map(|b| b.error.clone()),
        description: body.and_then(|b| b.error_description),
    })
}

impl PendingLogin {
    /// Starts a login at `provider` (its base URL) that will come back to `redirect_uri`.
    pub fn new(provider: &str, redirect_uri: &str) -> Result<Self, WalletError> {
        let mut b = [0u8; 24];
        getrandom::fill(&mut b).map_err(|e| WalletError::State(format!("no randomness: {e}")))?;
        Ok(Self { provider: base(provider).to_owned(), redirect_uri: redirect_uri.to_owned(), state: crate::jose::b64::encode(b) })
    }

    /// The URL to open in the browser.
    pub fn url(&self) -> String {
        query::with_params(
            &format!("{}{CITIZEN_LOGIN}", self.provider),
            &[(REDIRECT_URI_PARAM, &self.redirect_uri), (STATE_PARAM, &self.state)],
        )
    }

    /// The app's redirect URI.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Whether `url` is a redirect to our redirect URI (the browser should stop there).
    pub fn is_redirect(&self, url: &str) -> bool {
        query::without_query(url) == query::without_query(&self.redirect_uri)
    }

    /// Takes the one-time code from the redirect back to the app. Checks that it goes to our
    /// redirect URI, that an `error` is reported as such, and that `state` matches when the
    /// provider echoes it (our providers do not have to; the code is single-use and short-lived
    /// either way).
    pub fn code_from_redirect(&self, redirect: &str) -> Result<LoginCode, WalletError> {
        if !self.is_redirect(redirect) {
            return Err(WalletError::RedirectMismatch);
        }
        let params = query::params(redirect).ok_or(WalletError::MissingCode)?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if let Some(error) = get("error") {
            return Err(WalletError::LoginFailed { error, description: get("error_description") });
        }
        if let Some(state) = get(STATE_PARAM)
            && !crate::subtle_eq(state.as_bytes(), self.state.as_bytes())
        {
            return Err(WalletError::StateMismatch);
        }
        get(CODE_PARAM).filter(|c| !c.is_empty() && c.len() <= 512).map(LoginCode).ok_or(WalletError::MissingCode)
    }

    /// `POST /citizen/session {"code"}`.
    pub fn session_request(&self, code: &LoginCode) -> HttpRequest {
        HttpRequest::json(HttpMethod::Post, format!("{}{CITIZEN_SESSION}", self.provider), &CitizenSessionRequest { code: code.0.clone() })
    }

    /// The session from the provider's answer.
    pub fn on_session_response(&self, r: &HttpResponse, now: UnixTime) -> Result<CitizenSession, WalletError> {
        let s: CitizenSessionResponse = json_response(CITIZEN_SESSION, r, 200)?;
        if s.session_token.is_empty() {
            return Err(WalletError::BadResponse { endpoint: CITIZEN_SESSION, detail: "empty session_token".into() });
        }
        let expires_at = i64::try_from(s.expires_in)
            .ok()
            .and_then(|ttl| now.checked_add(ttl).ok())
            .ok_or_else(|| WalletError::BadResponse { endpoint: CITIZEN_SESSION, detail: format!("expires_in {} out of range", s.expires_in) })?;
        Ok(CitizenSession { token: s.session_token, fiscal_number: s.fiscal_number, expires_at: expires_at.secs() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = UnixTime(1_800_000_000);

    fn pending() -> PendingLogin {
        PendingLogin::new("https://wp.example/", "it.tessera.wallet://activation").unwrap()
    }

    #[test]
    fn url_and_redirect() {
        let p = pending();
        let url = p.url();
        assert!(url.starts_with("https://wp.example/citizen/login?redirect_uri=it.tessera.wallet%3A%2F%2Factivation&state="));
        let state = query::params(&url).unwrap().into_iter().find(|(k, _)| k == "state").unwrap().1;
        let code = p.code_from_redirect(&format!("it.tessera.wallet://activation?code=abc&state={state}")).unwrap();
        assert_eq!(code.0, "abc");
        // A provider that does not echo state.
        assert_eq!(p.code_from_redirect("it.tessera.wallet://activation?code=abc").unwrap().0, "abc");
    }

    #[test]
    fn redirect_refusals() {
        let p = pending();
        assert_eq!(p.code_from_redirect("https://evil.example/activation?code=abc").unwrap_err(), WalletError::RedirectMismatch);
        assert_eq!(p.code_from_redirect("it.tessera.wallet://activation?code=abc&state=other").unwrap_err(), WalletError::StateMismatch);
        assert_eq!(p.code_from_redirect("it.tessera.wallet://activation").unwrap_err(), WalletError::MissingCode);
        assert_eq!(
            p.code_from_redirect("it.tessera.wallet://activation?error=access_denied&error_description=no").unwrap_err(),
            WalletError::LoginFailed { error: "access_denied".into(), description: Some("no".into()) }
        );
    }

    #[test]
    fn session_request_and_response() {
        let p = pending();
        let req = p.session_request(&LoginCode("abc".into()));
        assert_eq!(req.url, "https://wp.example/citizen/session");
        assert_eq!(req.body, br#"{"code":"abc"}"#);
        let ok = HttpResponse {
            status: 200,
            headers: vec![],
            body: br#"{"session_token":"secret-token","expires_in":600,"fiscal_number":"TINIT-RSSMRA80A01H501U"}"#.to_vec(),
        };
        let s = p.on_session_response(&ok, NOW).unwrap();
        assert_eq!(s.fiscal_number, "TINIT-RSSMRA80A01H501U");
        assert_eq!(s.bearer(NOW).unwrap(), "secret-token");
        assert_eq!(s.bearer(NOW.plus(600)).unwrap_err(), WalletError::SessionExpired);
        assert!(!format!("{s:?}").contains("secret-token"));
        let forever = HttpResponse { status: 200, headers: vec![], body: br#"{"session_token":"t","expires_in":18446744073709551615,"fiscal_number":"x"}"#.to_vec() };
        assert!(matches!(p.on_session_response(&forever, NOW), Err(WalletError::BadResponse { endpoint: CITIZEN_SESSION, .. })));
        let err = HttpResponse { status: 400, headers: vec![], body: br#"{"error":"invalid_request","error_description":"code used"}"#.to_vec() };
        assert_eq!(
            p.on_session_response(&err, NOW).unwrap_err(),
            WalletError::Provider {
                endpoint: CITIZEN_SESSION,
                status: 400,
                error: Some("invalid_request".into()),
                description: Some("code used".into())
            }
        );
    }
}
