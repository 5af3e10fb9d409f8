//! The token endpoint's messages (RFC 6749 §4.1.3, §6; OpenID4VCI 1.0 §6; IT-Wallet 1.4 §3.3
//! steps 8–11 and "Refresh"): the three grants a wallet uses, the response, and the
//! `authorization_details` of type `openid_credential` (RFC 9396; OpenID4VCI §5.1.1).
//!
//! The request goes with the `DPoP`, `OAuth-Client-Attestation` and
//! `OAuth-Client-Attestation-PoP` headers ([`super::dpop`], [`crate::attestation::pop`]).

use serde::{Deserialize, Serialize};

use super::error::{ErrorCode, MessageError};
use super::form::{Form, encode};
use super::pkce::{CodeChallenge, CodeVerifier, PkceError};

/// `grant_type` of the authorization code grant.
pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
/// `grant_type` of the pre-authorized code grant (OpenID4VCI §3.5).
pub const GRANT_PRE_AUTHORIZED_CODE: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
/// `grant_type` of a refresh.
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
/// The `authorization_details` type of OpenID4VCI (§5.1.1).
pub const OPENID_CREDENTIAL: &str = "openid_credential";
/// The longest `tx_code` accepted.
pub const MAX_TX_CODE_LEN: usize = 64;

/// Why a token request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRequestError {
    /// Malformed body.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A `grant_type` we do not support (RFC 6749 §5.2).
    #[error("grant_type `{0}` not supported")]
    UnsupportedGrantType(String),
    /// A malformed `code_verifier`.
    #[error("code_verifier: {0}")]
    Pkce(PkceError),
    /// The offer announced a `tx_code` and the request has none (OpenID4VCI §6.1).
    #[error("tx_code required")]
    TxCodeMissing,
    /// The `tx_code` is not the one sent to the user (OpenID4VCI §6.3).
    #[error("tx_code does not match")]
    TxCodeMismatch,
    /// The authorization code was issued to another client (RFC 6749 §4.1.3).
    #[error("code issued to another client")]
    CodeClientMismatch,
    /// `redirect_uri` differs from the authorization request's (RFC 6749 §4.1.3).
    #[error("redirect_uri differs from the authorization request's")]
    RedirectUriMismatch,
    /// The PKCE verifier does not match the challenge (RFC 7636 §4.6).
    #[error("PKCE verifier does not match")]
    PkceMismatch,
}

impl TokenRequestError {
    /// The OAuth code: `unsupported_grant_type`, `invalid_grant` for a wrong `tx_code`,
    /// `invalid_request` otherwise.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            Self::TxCodeMismatch | Self::CodeClientMismatch | Self::RedirectUriMismatch | Self::PkceMismatch => ErrorCode::InvalidGrant,
            _ => ErrorCode::InvalidRequest,
        }
    }
}

/// A token request. `Debug` hides the codes and tokens.
#[derive(Clone)]
pub enum TokenRequest {
    /// `authorization_code` with PKCE (IT-Wallet §3.3 step 8).
    AuthorizationCode {
        /// `code`.
        code: String,
        /// `code_verifier`.
        code_verifier: CodeVerifier,
        /// `redirect_uri` (REQUIRED when it was in the authorization request).
        redirect_uri: Option<String>,
    },
    /// The pre-authorized code grant (OpenID4VCI §6.1; offered in the 1.4 profile only).
    PreAuthorizedCode {
        /// `pre-authorized_code`.
        pre_authorized_code: String,
        /// `tx_code`.
        tx_code: Option<String>,
    },
    /// `refresh_token` (IT-Wallet §3.3 "Refresh").
    RefreshToken {
        /// `refresh_token`.
        refresh_token: String,
        /// A subset of the original scope.
        scope: Option<String>,
    },
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AuthorizationCode { redirect_uri, .. } => {
                f.debug_struct("AuthorizationCode").field("redirect_uri", redirect_uri).finish_non_exhaustive()
            }
            Self::PreAuthorizedCode { tx_code, .. } => f.debug_struct("PreAuthorizedCode").field("tx_code", &tx_code.is_some()).finish_non_exhaustive(),
            Self::RefreshToken { scope, .. } => f.debug_struct("RefreshToken").field("scope", scope).finish_non_exhaustive(),
        }
    }
}

impl TokenRequest {
    /// The form body.
    pub fn to_form(&self) -> String {
        match self {
            Self::AuthorizationCode { code, code_verifier, redirect_uri } => encode([
                ("grant_type", Some(GRANT_AUTHORIZATION_CODE)),
                ("code", Some(code.as_str())),
                ("code_verifier", Some(code_verifier.as_str())),
                ("redirect_uri", redirect_uri.as_deref()),
            ]),
            Self::PreAuthorizedCode { pre_authorized_code, tx_code } => encode([
                ("grant_type", Some(GRANT_PRE_AUTHORIZED_CODE)),
                ("pre-authorized_code", Some(pre_authorized_code.as_str())),
                ("tx_code", tx_code.as_deref()),
            ]),
            Self::RefreshToken { refresh_token, scope } => encode([
                ("grant_type", Some(GRANT_REFRESH_TOKEN)),
                ("refresh_token", Some(refresh_token.as_str())),
                ("scope", scope.as_deref()),
            ]),
        }
    }

    /// Parses a form body (each parameter once; unknown parameters ignored, RFC 6749 §3.2).
    pub fn parse_form(body: &str) -> Result<Self, TokenRequestError> {
        let f = Form::parse(body, "token request")?;
        match f.require("grant_type")? {
            GRANT_AUTHORIZATION_CODE => Ok(Self::AuthorizationCode {
                code: f.require("code")?.to_owned(),
                code_verifier: CodeVerifier::parse(f.require("code_verifier")?).map_err(TokenRequestError::Pkce)?,
                redirect_uri: f.opt("redirect_uri"),
            }),
            GRANT_PRE_AUTHORIZED_CODE => {
                let tx_code = f.opt("tx_code");
                if tx_code.as_ref().is_some_and(|t| t.len() > MAX_TX_CODE_LEN) {
                    return Err(MessageError::BadParameter { param: "tx_code", detail: "too long".into() }.into());
                }
                Ok(Self::PreAuthorizedCode { pre_authorized_code: f.require("pre-authorized_code")?.to_owned(), tx_code })
            }
            GRANT_REFRESH_TOKEN => Ok(Self::RefreshToken { refresh_token: f.require("refresh_token")?.to_owned(), scope: f.opt("scope") }),
            other => Err(TokenRequestError::UnsupportedGrantType(other.to_owned())),
        }
    }
}

/// Issuer side (OpenID4VCI §6.3): the request's `tx_code` against the one the issuer sent
/// to the user out of band (constant time). `expected` is `None` when the offer had none.
pub fn check_tx_code(expected: Option<&str>, got: Option<&str>) -> Result<(), TokenRequestError> {
    match (expected, got) {
        (None, _) => Ok(()),
        (Some(_), None) => Err(TokenRequestError::TxCodeMissing),
        (Some(e), Some(g)) if crate::subtle_eq(e.as_bytes(), g.as_bytes()) => Ok(()),
        (Some(_), Some(_)) => Err(TokenRequestError::TxCodeMismatch),
    }
}

/// What the issuer stored with an authorization code (from the verified PAR), to check the
/// token request against (RFC 6749 §4.1.3; IT-Wallet §3.3 steps 8–11: "the code belongs to
/// this client … `redirect_uri` matches … PKCE"). Single use and expiry are the store's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBinding {
    /// The client the code was issued to.
    pub client_id: String,
    /// The authorization request's `redirect_uri`.
    pub redirect_uri: String,
    /// The PKCE challenge.
    pub code_challenge: CodeChallenge,
}

impl CodeBinding {
    /// Checks the authenticated `client_id`, the request's `redirect_uri` (when sent; it is
    /// REQUIRED when the authorization request had one, so a missing one is a mismatch) and
    /// the PKCE `verifier`.
    pub fn verify(&self, client_id: &str, redirect_uri: Option<&str>, verifier: &CodeVerifier) -> Result<(), TokenRequestError> {
        if client_id != self.client_id {
            return Err(TokenRequestError::CodeClientMismatch);
        }
        if redirect_uri != Some(self.redirect_uri.as_str()) {
            return Err(TokenRequestError::RedirectUriMismatch);
        }
        self.code_challenge.verify(verifier).map_err(|_| TokenRequestError::PkceMismatch)
    }
}

/// An `authorization_details` entry of type `openid_credential` (OpenID4VCI §5.1.1, §6.2):
/// in a request it names a `credential_configuration_id`; in the token response the issuer
/// adds the `credential_identifiers` the wallet may then request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationDetail {
    /// `type`: `openid_credential`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The configuration asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_configuration_id: Option<String>,
    /// The identifiers granted (token response).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credential_identifiers: Vec<String>,
}

impl AuthorizationDetail {
    /// A request entry for `configuration_id`.
    pub fn for_configuration(configuration_id: impl Into<String>) -> Self {
        Self { kind: OPENID_CREDENTIAL.into(), credential_configuration_id: Some(configuration_id.into()), credential_identifiers: Vec::new() }
    }

    /// Whether this is an `openid_credential` entry.
    pub fn is_openid_credential(&self) -> bool {
        self.kind == OPENID_CREDENTIAL
    }
}

/// A successful token response (RFC 6749 §5.1; IT-Wallet §3.3 step 11). `Debug` hides the
/// tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The `at+jwt`.
    pub access_token: String,
    /// `DPoP`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// The `rt+jwt`, when refresh is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// REQUIRED when `authorization_details` were requested (IT-Wallet §3.3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
}

/// Why a wallet refuses a token response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenResponseError {
    /// Malformed JSON.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// `token_type` is not `DPoP` (IT-Wallet §3.3: DPoP-bound tokens only).
    #[error("token_type `{0}` is not DPoP")]
    NotDpop(String),
    /// RAR was used and the response has no `authorization_details` (IT-Wallet §3.3).
    #[error("authorization_details missing from the token response")]
    MissingAuthorizationDetails,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.is_some())
            .field("authorization_details", &self.authorization_details)
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    /// A DPoP token response.
    pub fn dpop(access_token: String, expires_in: u64) -> Self {
        Self { access_token, token_type: "DPoP".into(), expires_in, refresh_token: None, authorization_details: Vec::new() }
    }

    /// Wallet side: parses and checks the response; `used_rar` says whether the request
    /// carried `authorization_details`.
    pub fn parse(body: &[u8], used_rar: bool) -> Result<Self, TokenResponseError> {
        let r: Self = serde_json::from_slice(body).map_err(|e| MessageError::BadJson { what: "token response", detail: e.to_string() })?;
        if !r.token_type.eq_ignore_ascii_case("DPoP") {
            return Err(TokenResponseError::NotDpop(r.token_type));
        }
        if used_rar && r.authorization_details.is_empty() {
            return Err(TokenResponseError::MissingAuthorizationDetails);
        }
        Ok(r)
    }

    /// The credential identifiers granted for `configuration_id`.
    pub fn credential_identifiers(&self, configuration_id: &str) -> impl Iterator<Item = &str> {
        self.authorization_details
            .iter()
            .filter(move |d| d.is_openid_credential() && d.credential_configuration_id.as_deref() == Some(configuration_id))
            .flat_map(|d| d.credential_identifiers.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_code_request_round_trips() {
        let v = CodeVerifier::generate().unwrap();
        let r = TokenRequest::AuthorizationCode { code: "c1".into(), code_verifier: v.clone(), redirect_uri: Some("https://wallet.example/cb".into()) };
        let form = r.to_form();
        let TokenRequest::AuthorizationCode { code, code_verifier, redirect_uri } = TokenRequest::parse_form(&form).unwrap() else { panic!() };
        assert_eq!((code.as_str(), code_verifier.as_str(), redirect_uri.as_deref()), ("c1", v.as_str(), Some("https://wallet.example/cb")));
    }

    #[test]
    fn pre_authorized_and_refresh_requests_round_trip() {
        let r = TokenRequest::PreAuthorizedCode { pre_authorized_code: "p1".into(), tx_code: Some("1234".into()) };
        let TokenRequest::PreAuthorizedCode { pre_authorized_code, tx_code } = TokenRequest::parse_form(&r.to_form()).unwrap() else { panic!() };
        assert_eq!((pre_authorized_code.as_str(), tx_code.as_deref()), ("p1", Some("1234")));
        let r = TokenRequest::RefreshToken { refresh_token: "rt".into(), scope: None };
        assert!(r.to_form().starts_with("grant_type=refresh_token&"));
        let TokenRequest::RefreshToken { refresh_token, scope } = TokenRequest::parse_form(&r.to_form()).unwrap() else { panic!() };
        assert_eq!((refresh_token.as_str(), scope), ("rt", None));
    }

    #[test]
    fn unsupported_grant_missing_verifier_and_duplicates_are_refused() {
        let err = TokenRequest::parse_form("grant_type=password&username=x").unwrap_err();
        assert_eq!(err, TokenRequestError::UnsupportedGrantType("password".into()));
        assert_eq!(err.code(), ErrorCode::UnsupportedGrantType);
        let err = TokenRequest::parse_form("grant_type=authorization_code&code=c").unwrap_err();
        assert_eq!(err, TokenRequestError::Message(MessageError::MissingParameter("code_verifier")));
        let err = TokenRequest::parse_form("grant_type=authorization_code&code=c&code=d").unwrap_err();
        assert_eq!(err, TokenRequestError::Message(MessageError::DuplicateParameter("code".into())));
        let err = TokenRequest::parse_form("grant_type=authorization_code&code=c&code_verifier=short").unwrap_err();
        assert_eq!(err, TokenRequestError::Pkce(PkceError::BadVerifier));
    }

    #[test]
    fn code_binding_checks_client_redirect_and_pkce() {
        let v = CodeVerifier::generate().unwrap();
        let b = CodeBinding { client_id: "c1".into(), redirect_uri: "https://w.example/cb".into(), code_challenge: v.challenge() };
        b.verify("c1", Some("https://w.example/cb"), &v).unwrap();
        assert_eq!(b.verify("c2", Some("https://w.example/cb"), &v), Err(TokenRequestError::CodeClientMismatch));
        assert_eq!(b.verify("c1", Some("https://evil.example/cb"), &v), Err(TokenRequestError::RedirectUriMismatch));
        assert_eq!(b.verify("c1", None, &v), Err(TokenRequestError::RedirectUriMismatch));
        let err = b.verify("c1", Some("https://w.example/cb"), &CodeVerifier::generate().unwrap()).unwrap_err();
        assert_eq!(err, TokenRequestError::PkceMismatch);
        assert_eq!(err.code(), ErrorCode::InvalidGrant);
    }

    #[test]
    fn debug_hides_codes_and_tokens() {
        let r = TokenRequest::PreAuthorizedCode { pre_authorized_code: "secret-code".into(), tx_code: Some("123456".into()) };
        let d = format!("{r:?}");
        assert!(!d.contains("secret-code") && !d.contains("123456"), "{d}");
        let t = TokenResponse { refresh_token: Some("secret-rt".into()), ..TokenResponse::dpop("secret-at".into(), 1) };
        let d = format!("{t:?}");
        assert!(!d.contains("secret-rt") && !d.contains("secret-at"), "{d}");
    }

    #[test]
    fn tx_code_is_required_and_compared() {
        check_tx_code(None, None).unwrap();
        check_tx_code(Some("1234"), Some("1234")).unwrap();
        assert_eq!(check_tx_code(Some("1234"), None), Err(TokenRequestError::TxCodeMissing));
        let err = check_tx_code(Some("1234"), Some("1235")).unwrap_err();
        assert_eq!(err, TokenRequestError::TxCodeMismatch);
        assert_eq!(err.code(), ErrorCode::InvalidGrant);
    }

    #[test]
    fn token_response_round_trips_and_is_checked() {
        let mut r = TokenResponse::dpop("at".into(), 300);
        r.authorization_details = vec![AuthorizationDetail {
            credential_identifiers: vec!["pid-1".into()],
            ..AuthorizationDetail::for_configuration("dc_sd_jwt_pid")
        }];
        let json = serde_json::to_vec(&r).unwrap();
        let back = TokenResponse::parse(&json, true).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.credential_identifiers("dc_sd_jwt_pid").collect::<Vec<_>>(), vec!["pid-1"]);
        let bearer = br#"{"access_token":"a","token_type":"Bearer","expires_in":1}"#;
        assert_eq!(TokenResponse::parse(bearer, false), Err(TokenResponseError::NotDpop("Bearer".into())));
        let no_rar = br#"{"access_token":"a","token_type":"DPoP","expires_in":1}"#;
        assert_eq!(TokenResponse::parse(no_rar, true), Err(TokenResponseError::MissingAuthorizationDetails));
    }
}
