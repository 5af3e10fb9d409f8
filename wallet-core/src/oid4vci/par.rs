//! Pushed Authorization Requests with a signed request object (RFC 9126, RFC 9101, RFC 9396;
//! IT-Wallet 1.4 §3.3 steps 1–7), the `/authorize` call and the authorization response.
//!
//! Wallet: [`ParRequestBuilder::build`] → [`ParRequest`] (form body; send it with the client
//! attestation headers of [`crate::attestation::client_attestation_headers`]) and a
//! [`PendingAuthorization`] (the `state` and PKCE verifier to keep) → [`ParResponse::parse`]
//! → [`AuthorizeRequest::to_url`] (the browser step) → [`AuthorizationResponse::parse`] and
//! [`AuthorizationResponse::check`] (`state` and `iss`, RFC 9207).
//!
//! Issuer: [`verify_client_attestation`] (the headers) → [`ParRequest::parse_form`] →
//! [`verify_par`] → [`VerifiedPar`] (its `jti` to remember per client, §3.3) →
//! [`VerifiedPar::check_against`] the metadata → [`ParResponse::issue`].

use serde::{Deserialize, Serialize};

use super::error::{ErrorCode, MessageError};
use super::form::{Form, encode};
use super::metadata::CredentialIssuerMetadata;
use super::pkce::{CodeChallenge, CodeVerifier, PkceError, S256};
use super::token::AuthorizationDetail;
use crate::attestation::{AttestationError, Audience, ClientAttestationContext, VerifiedClientAttestation};
use crate::jose::{CompactJws, JoseError, JwsHeader, Signer, jws};
use crate::time::UnixTime;

/// `exp - iat` of the request objects we build and the most we accept (IT-Wallet §3.3:
/// "`exp` ≤ 300 s after `iat`").
pub const REQUEST_OBJECT_MAX_LIFETIME: i64 = 300;
/// The oldest `iat` accepted (IT-Wallet §3.3: "SHOULD reject if more than 5 min off").
pub const REQUEST_OBJECT_MAX_AGE: i64 = 300;
/// Clock skew accepted for an `iat` in the future.
pub const DEFAULT_SKEW: i64 = 60;
/// IT-Wallet §3.3: `state` has at least 32 characters.
pub const MIN_STATE_LEN: usize = 32;
/// The `request_uri` prefix of RFC 9126 §2.2.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// The `expires_in` of the `request_uri`s we issue: IT-Wallet 1.4 §3.3 "SHOULD live under 1
/// minute" (test matrix CI_040), so 50 s, not 60 (one minute is not under one).
pub const REQUEST_URI_LIFETIME: u64 = 50;

/// Why a PAR, its request object, or an authorization response was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParError {
    /// Malformed form body or query.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The client attestation headers were refused.
    #[error("client attestation: {0}")]
    ClientAttestation(AttestationError),
    /// The PAR carries `request_uri` (IT-Wallet §3.3, RFC 9126 §2.1: MUST reject).
    #[error("a PAR must not carry request_uri")]
    RequestUriInPar,
    /// The body `client_id` is not the attested client (the WAA `cnf.jwk` thumbprint).
    #[error("client_id `{0}` is not the attested client")]
    ClientIdNotAttested(String),
    /// Not a compact JWS, or a forbidden `alg`.
    #[error("malformed request object: {0}")]
    MalformedRequestObject(JoseError),
    /// The request object is not signed by the WAA's `cnf.jwk` (IT-Wallet §3.3 MUST).
    #[error("request object not signed by the attested key")]
    NotSignedByAttestedKey,
    /// The request object's `kid` names another key than the attested one (IT-Wallet 1.4
    /// §3.3: its thumbprint).
    #[error("request object kid `{0}` is not the attested key's thumbprint (the client_id)")]
    KidNotAttestedKey(String),
    /// Claims missing or of the wrong type.
    #[error("request object claims malformed: {0}")]
    BadClaims(String),
    /// `typ` present and not `JWT` / `oauth-authz-req+jwt`.
    #[error("request object typ {0:?} not accepted")]
    WrongTyp(Option<String>),
    /// The request object's `client_id` is not the body's (IT-Wallet §3.3).
    #[error("request object client_id differs from the PAR client_id")]
    ClientIdMismatch,
    /// `iss` is not the `client_id` (IT-Wallet §3.3).
    #[error("request object iss is not the client_id")]
    IssMismatch,
    /// `aud` does not name this issuer (IT-Wallet §3.3).
    #[error("request object aud does not name `{0}`")]
    AudienceMismatch(String),
    /// `exp` passed, `iat` too old or in the future, or `exp - iat` over 300 s.
    #[error("request object time: iat {iat}, exp {exp}, now {now}")]
    BadTime {
        /// `iat`.
        iat: i64,
        /// `exp`.
        exp: i64,
        /// The check's time.
        now: i64,
    },
    /// `response_type` is not `code`.
    #[error("response_type must be code")]
    UnsupportedResponseType,
    /// `state` shorter than 32 characters (IT-Wallet §3.3).
    #[error("state shorter than 32 characters")]
    WeakState,
    /// `redirect_uri` missing or not a URL.
    #[error("redirect_uri missing or not a URL")]
    BadRedirectUri,
    /// PKCE parameters refused (`S256` only).
    #[error("PKCE: {0}")]
    Pkce(PkceError),
    /// Neither `scope` nor `authorization_details`, or an entry not of type
    /// `openid_credential` or without `credential_configuration_id`.
    #[error("no credential requested (scope or authorization_details)")]
    NothingRequested,
    /// A scope or configuration the issuer does not offer.
    #[error("scope or configuration `{0}` unknown")]
    UnknownScope(String),
    /// The redirect does not go to the `redirect_uri` of the request (scheme, host, path).
    #[error("the redirect does not go to the redirect_uri of the request")]
    RedirectMismatch,
    /// The authorization response's `state` is not ours (IT-Wallet §3.3 step 7: MUST check).
    #[error("authorization response state mismatch")]
    StateMismatch,
    /// The authorization response's `iss` is not the authorization server (RFC 9207).
    #[error("authorization response iss mismatch")]
    IssuerMismatch,
    /// The authorization server answered with an error.
    #[error("authorization error `{error}`")]
    AuthorizationError {
        /// `error`.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// Building failed (signer, randomness).
    #[error("cannot build: {0}")]
    Build(String),
}

impl ParError {
    /// IT-Wallet §3.3 PAR errors: the attestation's own code (`invalid_client` or
    /// `use_fresh_attestation`), `invalid_client` for a client id that is not the attested
    /// one, `invalid_scope` for an unknown scope, `invalid_request` otherwise.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::ClientAttestation(e) => match e.client_auth_code() {
                "use_fresh_attestation" => ErrorCode::UseFreshAttestation,
                _ => ErrorCode::InvalidClient,
            },
            Self::ClientIdNotAttested(_) => ErrorCode::InvalidClient,
            Self::UnknownScope(_) => ErrorCode::InvalidScope,
            Self::Build(_) => ErrorCode::ServerError,
            _ => ErrorCode::InvalidRequest,
        }
    }
}

/// Issuer side: the `OAuth-Client-Attestation` and `OAuth-Client-Attestation-PoP` headers of a
/// PAR or token request ([`crate::attestation::verify_client_attestation`]); the caller
/// refuses a PoP `jti` it has seen for this client. A missing header is
/// [`MessageError::MissingParameter`].
pub fn verify_client_attestation(
    attestation: Option<&str>,
    pop: Option<&str>,
    ctx: &ClientAttestationContext<'_>,
) -> Result<VerifiedClientAttestation, ParError> {
    let attestation = attestation.ok_or(ParError::ClientAttestation(AttestationError::Malformed { what: "OAuth-Client-Attestation", detail: "missing".into() }))?;
    let pop = pop.ok_or(ParError::ClientAttestation(AttestationError::Malformed { what: "OAuth-Client-Attestation-PoP", detail: "missing".into() }))?;
    crate::attestation::verify_client_attestation(attestation, pop, ctx).map_err(ParError::ClientAttestation)
}

/// The request object's claims (IT-Wallet §3.3 "Request Object claims").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestObjectClaims {
    /// = `client_id`.
    pub iss: String,
    /// The credential issuer (authorization server).
    pub aud: Audience,
    /// Issued at.
    pub iat: i64,
    /// Expiry (≤ 300 s after `iat`).
    pub exp: i64,
    /// Unique id.
    pub jti: String,
    /// `code`.
    pub response_type: String,
    /// The wallet instance's key thumbprint.
    pub client_id: String,
    /// Where the code goes.
    pub redirect_uri: String,
    /// CSRF state (≥ 32 characters).
    pub state: String,
    /// PKCE challenge.
    pub code_challenge: String,
    /// `S256`.
    pub code_challenge_method: String,
    /// Scopes, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// RAR entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
    /// From an issuer-initiated offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_state: Option<String>,
    /// Refused when present (RFC 9126 §2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_uri: Option<String>,
}

/// The PAR form body: `client_id` and `request` (IT-Wallet §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParRequest {
    /// The client id.
    pub client_id: String,
    /// The signed request object.
    pub request: String,
}

impl ParRequest {
    /// The form body.
    pub fn to_form(&self) -> String {
        encode([("client_id", Some(self.client_id.as_str())), ("request", Some(self.request.as_str()))])
    }

    /// Parses the form body; refuses `request_uri` (RFC 9126 §2.1).
    pub fn parse_form(body: &str) -> Result<Self, ParError> {
        let f = Form::parse(body, "PAR")?;
        if f.get("request_uri").is_some() {
            return Err(ParError::RequestUriInPar);
        }
        Ok(Self { client_id: f.require("client_id")?.to_owned(), request: f.require("request")?.to_owned() })
    }
}

/// What the wallet keeps between the PAR and the token request.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    /// The `state` to find in the authorization response.
    pub state: String,
    /// The PKCE verifier for the token request.
    pub code_verifier: CodeVerifier,
    /// The `redirect_uri` to repeat in the token request.
    pub redirect_uri: String,
}

/// Wallet side: a PAR request.
#[derive(Debug, Clone)]
pub struct ParRequestBuilder<'a> {
    /// The authorization server (the request object's `aud`).
    pub audience: &'a str,
    /// `redirect_uri`.
    pub redirect_uri: &'a str,
    /// `scope`.
    pub scope: Option<&'a str>,
    /// `authorization_details` configuration ids.
    pub configuration_ids: &'a [&'a str],
    /// `issuer_state` from an offer.
    pub issuer_state: Option<&'a str>,
}

fn alnum_state() -> Result<String, ParError> {
    let mut b = [0u8; 24];
    getrandom::fill(&mut b).map_err(|e| ParError::Build(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

impl ParRequestBuilder<'_> {
    /// Signs the request object with the WAA key (`kid` = its thumbprint = `client_id`,
    /// IT-Wallet §3.3), with a fresh alphanumeric `state` (48 characters), PKCE verifier and
    /// `jti`, valid [`REQUEST_OBJECT_MAX_LIFETIME`].
    pub fn build(&self, waa_key: &dyn Signer, now: UnixTime) -> Result<(ParRequest, PendingAuthorization), ParError> {
        let client_id = waa_key.public_jwk().thumbprint().to_string();
        let code_verifier = CodeVerifier::generate().map_err(ParError::Pkce)?;
        let state = alnum_state()?;
        let claims = RequestObjectClaims {
            iss: client_id.clone(),
            aud: Audience::One(self.audience.to_owned()),
            iat: now.secs(),
            exp: now.plus(REQUEST_OBJECT_MAX_LIFETIME).secs(),
            jti: super::random_jti().map_err(|e| ParError::Build(e.to_string()))?,
            response_type: "code".into(),
            client_id: client_id.clone(),
            redirect_uri: self.redirect_uri.to_owned(),
            state: state.clone(),
            code_challenge: code_verifier.challenge().as_str().to_owned(),
            code_challenge_method: S256.into(),
            scope: self.scope.map(str::to_owned),
            authorization_details: self.configuration_ids.iter().map(|id| AuthorizationDetail::for_configuration(*id)).collect(),
            issuer_state: self.issuer_state.map(str::to_owned),
            request_uri: None,
        };
        let header = JwsHeader::new(waa_key.alg()).with_typ("jwt").with_kid(Some(client_id.clone()));
        let request = jws::sign_json(&header, &claims, waa_key).map_err(|e| ParError::Build(e.to_string()))?;
        Ok((ParRequest { client_id, request }, PendingAuthorization { state, code_verifier, redirect_uri: self.redirect_uri.to_owned() }))
    }
}

/// A verified PAR.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedPar {
    claims: RequestObjectClaims,
    code_challenge: CodeChallenge,
}

impl VerifiedPar {
    /// The request object's claims.
    pub fn claims(&self) -> &RequestObjectClaims {
        &self.claims
    }

    /// The PKCE challenge to store with the code.
    pub fn code_challenge(&self) -> &CodeChallenge {
        &self.code_challenge
    }

    /// The `jti`: the caller refuses one already used for this `client_id` (IT-Wallet §3.3).
    pub fn jti(&self) -> &str {
        &self.claims.jti
    }

    /// The configuration ids requested, by `authorization_details` or by `scope` (IT-Wallet
    /// §3.3: when both name the same type, `authorization_details` wins): each must be in
    /// `metadata`, else `invalid_scope`.
    pub fn check_against(&self, metadata: &CredentialIssuerMetadata) -> Result<Vec<String>, ParError> {
        let mut ids: Vec<String> = Vec::new();
        for d in &self.claims.authorization_details {
            let id = d.credential_configuration_id.as_deref().unwrap_or_default();
            if metadata.configuration(id).is_none() {
                return Err(ParError::UnknownScope(id.to_owned()));
            }
            ids.push(id.to_owned());
        }
        for scope in self.claims.scope.as_deref().unwrap_or_default().split_ascii_whitespace() {
            let (id, _) = metadata.configuration_by_scope(scope).ok_or_else(|| ParError::UnknownScope(scope.to_owned()))?;
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }
}

/// What the issuer checks a PAR against.
#[derive(Debug, Clone, Copy)]
pub struct ParExpectation<'a> {
    /// The issuer's id (the request object's `aud`).
    pub audience: &'a str,
    /// Now.
    pub now: UnixTime,
    /// Skew for an `iat` in the future.
    pub skew: i64,
}

/// Issuer side (IT-Wallet §3.3 "Issuer MUST"): the body `client_id` is the attested client;
/// the request object is signed by the WAA's `cnf.jwk`; its `client_id` and `iss` are the
/// body's; `aud` names us; `iat` not older than 5 min nor in the future, `exp` not passed and
/// at most 300 s after `iat`; `response_type=code`; `redirect_uri`; a 32-character `state`;
/// PKCE `S256`; `scope` or `authorization_details` of type `openid_credential`; no
/// `request_uri`.
pub fn verify_par(req: &ParRequest, client: &VerifiedClientAttestation, expect: &ParExpectation<'_>) -> Result<VerifiedPar, ParError> {
    if req.client_id != client.client_id() {
        return Err(ParError::ClientIdNotAttested(req.client_id.clone()));
    }
    let jws = CompactJws::parse(&req.request).map_err(ParError::MalformedRequestObject)?;
    // The signature before anything else of the request object is read (CI_015d): a forged
    // one is refused for its signature whatever else is wrong with it, and leaves nothing
    // behind (its `jti` is not remembered: the caller records it only for a verified PAR).
    let key = client.waa.key();
    jws.verify(key).map_err(|_| ParError::NotSignedByAttestedKey)?;
    // `kid` names the attested key (IT-Wallet 1.4 §3.3: its JWK thumbprint, the client_id;
    // the key's own `kid` is taken too): a request object naming another key was signed by
    // a client confused about its key, and is refused (CI_015c). Without `kid` the key is
    // the attested one all the same.
    if let Some(kid) = jws.header().kid.as_deref()
        && kid != client.client_id()
        && Some(kid) != key.kid.as_deref()
    {
        return Err(ParError::KidNotAttestedKey(kid.to_owned()));
    }
    if let Some(typ) = &jws.header().typ
        && !(typ.eq_ignore_ascii_case("jwt") || jws.header().typ_is("oauth-authz-req+jwt"))
    {
        return Err(ParError::WrongTyp(Some(typ.clone())));
    }
    let c: RequestObjectClaims = jws.payload_json().map_err(|e| ParError::BadClaims(e.to_string()))?;
    if c.client_id != req.client_id {
        return Err(ParError::ClientIdMismatch);
    }
    if c.iss != req.client_id {
        return Err(ParError::IssMismatch);
    }
    if !c.aud.contains(expect.audience) {
        return Err(ParError::AudienceMismatch(expect.audience.to_owned()));
    }
    let now = expect.now.secs();
    let fresh = c.iat >= now.saturating_sub(REQUEST_OBJECT_MAX_AGE) && c.iat <= now.saturating_add(expect.skew);
    let lifetime_ok = c.exp > c.iat && c.exp.saturating_sub(c.iat) <= REQUEST_OBJECT_MAX_LIFETIME;
    if !fresh || !lifetime_ok || c.exp <= now.saturating_sub(expect.skew) {
        return Err(ParError::BadTime { iat: c.iat, exp: c.exp, now });
    }
    if c.jti.is_empty() || c.jti.len() > 256 {
        return Err(ParError::BadClaims("jti empty or over-long".into()));
    }
    if c.request_uri.is_some() {
        return Err(ParError::RequestUriInPar);
    }
    if c.response_type != "code" {
        return Err(ParError::UnsupportedResponseType);
    }
    if url::Url::parse(&c.redirect_uri).is_err() {
        return Err(ParError::BadRedirectUri);
    }
    if c.state.len() < MIN_STATE_LEN || c.state.len() > 512 {
        return Err(ParError::WeakState);
    }
    let code_challenge = CodeChallenge::parse(&c.code_challenge, Some(&c.code_challenge_method)).map_err(ParError::Pkce)?;
    let rar_ok = c.authorization_details.iter().all(|d| d.is_openid_credential() && d.credential_configuration_id.as_deref().is_some_and(|i| !i.is_empty()));
    let has_scope = c.scope.as_deref().is_some_and(|s| !s.trim().is_empty());
    if !rar_ok || (c.authorization_details.is_empty() && !has_scope) {
        return Err(ParError::NothingRequested);
    }
    Ok(VerifiedPar { claims: c, code_challenge })
}

/// The PAR response (RFC 9126 §2.2; IT-Wallet §3.3: `201`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParResponse {
    /// The single-use reference.
    pub request_uri: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
}

impl ParResponse {
    /// Issuer side: a fresh `request_uri` (256 random bits, IT-Wallet §3.3: ≥ 128), valid
    /// [`REQUEST_URI_LIFETIME`]. The caller stores it bound to the client, single use.
    pub fn issue() -> Result<Self, ParError> {
        let r = super::form::random_token().map_err(|e| ParError::Build(e.to_string()))?;
        Ok(Self { request_uri: format!("{REQUEST_URI_PREFIX}{r}"), expires_in: REQUEST_URI_LIFETIME })
    }

    /// Wallet side: parses the `201` body.
    pub fn parse(body: &[u8]) -> Result<Self, ParError> {
        let r: Self = serde_json::from_slice(body).map_err(|e| MessageError::BadJson { what: "PAR response", detail: e.to_string() })?;
        if r.request_uri.is_empty() || r.request_uri.len() > 512 {
            return Err(MessageError::BadParameter { param: "request_uri", detail: "empty or over 512 characters".into() }.into());
        }
        Ok(r)
    }
}

/// `GET /authorize?client_id=…&request_uri=…` (RFC 9126 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// The client id.
    pub client_id: String,
    /// From the PAR response.
    pub request_uri: String,
}

impl AuthorizeRequest {
    /// The URL for the browser.
    pub fn to_url(&self, authorization_endpoint: &str) -> String {
        let q = encode([("client_id", Some(self.client_id.as_str())), ("request_uri", Some(self.request_uri.as_str()))]);
        let sep = if authorization_endpoint.contains('?') { '&' } else { '?' };
        format!("{authorization_endpoint}{sep}{q}")
    }

    /// Issuer side: parses the query (without the `?`).
    pub fn parse_query(query: &str) -> Result<Self, ParError> {
        let f = Form::parse(query, "authorization request")?;
        Ok(Self { client_id: f.require("client_id")?.to_owned(), request_uri: f.require("request_uri")?.to_owned() })
    }
}

/// The authorization response on the `redirect_uri` (IT-Wallet §3.3 steps 6–7). `Debug`
/// hides the code.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    /// `code`.
    pub code: String,
    /// `state`.
    pub state: String,
    /// `iss` (RFC 9207).
    pub iss: Option<String>,
}

impl std::fmt::Debug for AuthorizationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationResponse").field("iss", &self.iss).finish_non_exhaustive()
    }
}

impl AuthorizationResponse {
    /// Issuer side: the redirect URL.
    pub fn to_redirect(&self, redirect_uri: &str) -> String {
        let q = encode([("code", Some(self.code.as_str())), ("state", Some(self.state.as_str())), ("iss", self.iss.as_deref())]);
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        format!("{redirect_uri}{sep}{q}")
    }

    /// Wallet side: parses the redirect URL; an `error` becomes
    /// [`ParError::AuthorizationError`].
    pub fn parse(redirect: &str) -> Result<Self, ParError> {
        let query = redirect.split('#').next().unwrap_or_default().split_once('?').map(|(_, q)| q).unwrap_or_default();
        let f = Form::parse(query, "authorization response")?;
        if let Some(error) = f.get("error") {
            return Err(ParError::AuthorizationError { error: error.to_owned(), description: f.opt("error_description") });
        }
        Ok(Self { code: f.require("code")?.to_owned(), state: f.require("state")?.to_owned(), iss: f.opt("iss") })
    }

    /// Wallet side, the whole of IT-Wallet §3.3 steps 6–7 and §8 ("a mismatched state/iss")
    /// on the URL the redirect came back with: it goes to `pending.redirect_uri` (same
    /// scheme, host and path); `state` is ours (constant time) and `iss` is
    /// `authorization_server` (RFC 9207 §2.4) — on an error redirect too, where a missing
    /// `state` or `iss` is tolerated (an issuer may not know them) but a different one is
    /// not, so that nobody else's error can be injected; then an `error` is
    /// [`ParError::AuthorizationError`], and a success needs `code`, `state` and `iss`.
    pub fn from_redirect(redirect: &str, pending: &PendingAuthorization, authorization_server: &str) -> Result<Self, ParError> {
        let base = |u: &str| u.split(['?', '#']).next().unwrap_or_default().to_owned();
        if base(redirect) != base(&pending.redirect_uri) {
            return Err(ParError::RedirectMismatch);
        }
        let query = redirect.split('#').next().unwrap_or_default().split_once('?').map(|(_, q)| q).unwrap_or_default();
        let f = Form::parse(query, "authorization response")?;
        let state = f.get("state");
        if state.is_some_and(|s| !crate::subtle_eq(s.as_bytes(), pending.state.as_bytes())) {
            return Err(ParError::StateMismatch);
        }
        let iss = f.get("iss");
        if iss.is_some_and(|i| i != authorization_server) {
            return Err(ParError::IssuerMismatch);
        }
        if let Some(error) = f.get("error") {
            return Err(ParError::AuthorizationError { error: error.to_owned(), description: f.opt("error_description") });
        }
        let resp = Self { code: f.require("code")?.to_owned(), state: state.unwrap_or_default().to_owned(), iss: iss.map(str::to_owned) };
        resp.check(pending, authorization_server)?;
        Ok(resp)
    }

    /// Wallet side (IT-Wallet §3.3 step 7, §8 "a mismatched state/iss"): `state` is ours
    /// (constant time) and `iss` the authorization server.
    pub fn check(&self, pending: &PendingAuthorization, authorization_server: &str) -> Result<(), ParError> {
        if !crate::subtle_eq(self.state.as_bytes(), pending.state.as_bytes()) {
            return Err(ParError::StateMismatch);
        }
        if self.iss.as_deref() != Some(authorization_server) {
            return Err(ParError::IssuerMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attestation::client_attestation_headers;
    use crate::jose::SoftwareSigner;
    use crate::oid4vci::testing::{ISSUER, NOW, PID_CONFIG, REDIRECT, Wallet, metadata};

    fn builder<'a>() -> ParRequestBuilder<'a> {
        ParRequestBuilder { audience: ISSUER, redirect_uri: REDIRECT, scope: Some("pid"), configuration_ids: &[PID_CONFIG], issuer_state: None }
    }

    fn attested(w: &Wallet, trust: &crate::sd_jwt::StaticKeyResolver) -> VerifiedClientAttestation {
        let h = client_attestation_headers(&w.waa, &w.waa_key, ISSUER, None, NOW).unwrap();
        verify_client_attestation(Some(&h.attestation), Some(&h.pop), &ClientAttestationContext::new(ISSUER, trust, NOW)).unwrap()
    }

    fn expect() -> ParExpectation<'static> {
        ParExpectation { audience: ISSUER, now: NOW, skew: DEFAULT_SKEW }
    }

    /// Re-signs a request object with changed claims.
    fn resign(req: &ParRequest, key: &dyn Signer, f: impl FnOnce(&mut RequestObjectClaims)) -> ParRequest {
        let mut c: RequestObjectClaims = CompactJws::parse(&req.request).unwrap().payload_json().unwrap();
        f(&mut c);
        let header = JwsHeader::new(key.alg()).with_typ("jwt").with_kid(Some(req.client_id.clone()));
        ParRequest { client_id: req.client_id.clone(), request: jws::sign_json(&header, &c, key).unwrap() }
    }

    #[test]
    fn par_round_trip_and_verification() {
        let w = Wallet::new(1);
        let trust = w.trust();
        let (req, pending) = builder().build(&w.waa_key, NOW).unwrap();
        assert_eq!(req.client_id, w.client_id());
        let back = ParRequest::parse_form(&req.to_form()).unwrap();
        assert_eq!(back, req);
        let v = verify_par(&back, &attested(&w, &trust), &expect()).unwrap();
        assert_eq!(v.claims().state, pending.state);
        assert!(v.claims().state.bytes().all(|b| b.is_ascii_alphanumeric()));
        v.code_challenge().verify(&pending.code_verifier).unwrap();
        assert_eq!(v.check_against(&metadata()).unwrap(), vec![PID_CONFIG.to_owned()]);
        assert!(!v.jti().is_empty());
        let header = CompactJws::parse(&req.request).unwrap().into_header();
        assert_eq!(header.kid.as_deref(), Some(w.client_id().as_str()));
    }

    #[test]
    fn par_without_or_with_expired_attestation_is_refused() {
        let w = Wallet::new(1);
        let trust = w.trust();
        let h = client_attestation_headers(&w.waa, &w.waa_key, ISSUER, None, NOW).unwrap();
        let ctx = ClientAttestationContext::new(ISSUER, &trust, NOW);
        let err = verify_client_attestation(None, Some(&h.pop), &ctx).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidClient);
        let later = ClientAttestationContext::new(ISSUER, &trust, NOW.plus(2 * 3600));
        let h = client_attestation_headers(&w.waa, &w.waa_key, ISSUER, None, NOW.plus(2 * 3600)).unwrap();
        let err = verify_client_attestation(Some(&h.attestation), Some(&h.pop), &later).unwrap_err();
        assert!(matches!(err, ParError::ClientAttestation(AttestationError::Expired { .. })));
        assert_eq!(err.code(), ErrorCode::UseFreshAttestation);
    }

    #[test]
    fn pop_for_another_audience_is_invalid_client() {
        let w = Wallet::new(1);
        let trust = w.trust();
        let h = client_attestation_headers(&w.waa, &w.waa_key, "https://other.example.it", None, NOW).unwrap();
        let err = verify_client_attestation(Some(&h.attestation), Some(&h.pop), &ClientAttestationContext::new(ISSUER, &trust, NOW)).unwrap_err();
        assert!(matches!(err, ParError::ClientAttestation(AttestationError::AudienceMismatch { .. })));
        assert_eq!(err.code(), ErrorCode::InvalidClient);
    }

    #[test]
    fn request_object_not_signed_by_the_attested_key_is_refused() {
        let w = Wallet::new(1);
        let trust = w.trust();
        let rogue = SoftwareSigner::generate().unwrap();
        let (req, _) = builder().build(&w.waa_key, NOW).unwrap();
        let forged = resign(&req, &rogue, |_| {});
        let err = verify_par(&forged, &attested(&w, &trust), &expect()).unwrap_err();
        assert_eq!(err, ParError::NotSignedByAttestedKey);
        assert_eq!(err.code(), ErrorCode::InvalidRequest);
        // A PAR by another key altogether: its client_id is not the attested one.
        let (other, _) = builder().build(&rogue, NOW).unwrap();
        let err = verify_par(&other, &attested(&w, &trust), &expect()).unwrap_err();
        assert!(matches!(err, ParError::ClientIdNotAttested(_)));
        assert_eq!(err.code(), ErrorCode::InvalidClient);
    }

    /// CI_015c: `kid` names the attested key (its thumbprint, the client id, or the key's
    /// own `kid`); one naming another key is refused though the signature is good; none is
    /// accepted.
    #[test]
    fn request_object_kid_must_name_the_attested_key() {
        let w = Wallet::new(1);
        let trust = w.trust();
        let (req, _) = builder().build(&w.waa_key, NOW).unwrap();
        let c: RequestObjectClaims = CompactJws::parse(&req.request).unwrap().payload_json().unwrap();
        let with_kid = |kid: Option<String>| ParRequest {
            client_id: req.client_id.clone(),
            request: jws::sign_json(&JwsHeader::new(w.waa_key.alg()).with_typ("jwt").with_kid(kid), &c, &w.waa_key).unwrap(),
        };
        let other = SoftwareSigner::generate().unwrap().public_jwk().thumbprint().to_string();
        let err = verify_par(&with_kid(Some(other.clone())), &attested(&w, &trust), &expect()).unwrap_err();
        assert_eq!(err, ParError::KidNotAttestedKey(other));
        assert_eq!(err.code(), ErrorCode::InvalidRequest);
        verify_par(&with_kid(None), &attested(&w, &trust), &expect()).unwrap();
        verify_par(&with_kid(Some(req.client_id.clone())), &attested(&w, &trust), &expect()).unwrap();
    }

    /// CI_015d: the signature is checked before anything else of the request object: a
    /// forged one with other faults too (a wrong `typ`, `kid`, audience, an expired `exp`) is
    /// refused for its signature.
    #[test]
    fn a_forged_request_object_is_refused_for_its_signature_first() {
        let w = Wallet::new(1);
        let trust = w.trust();
        let rogue = SoftwareSigner::generate().unwrap();
        let (req, _) = builder().build(&w.waa_key, NOW).unwrap();
        let mut c: RequestObjectClaims = CompactJws::parse(&req.request).unwrap().payload_json().unwrap();
        c.aud = crate::attestation::pop::Audience::One("https://other.example.it".into());
        c.exp = NOW.secs() - 3_600;
        let header = JwsHeader::new(rogue.alg()).with_typ("dpop+jwt").with_kid(Some("someone-else".into()));
        let forged = ParRequest { client_id: req.client_id.clone(), request: jws::sign_json(&header, &c, &rogue).unwrap() };
        assert_eq!(verify_par(&forged, &attested(&w, &trust), &expect()).unwrap_err(), ParError::NotSignedByAttestedKey);
    }

    #[test]
    fn par_carrying_request_uri_is_refused() {
        let err = ParRequest::parse_form("client_id=a&request=b&request_uri=urn%3Ax").unwrap_err();
        assert_eq!(err, ParError::RequestUriInPar);
        let w = Wallet::new(1);
        let (req, _) = builder().build(&w.waa_key, NOW).unwrap();
        let bad = resign(&req, &w.waa_key, |c| c.request_uri = Some("urn:x".into()));
        assert_eq!(verify_par(&bad, &attested(&w, &w.trust()), &expect()).unwrap_err(), ParError::RequestUriInPar);
    }

    #[test]
    fn request_object_claim_rules() {
        let w = Wallet::new(1);
        let trust = w.trust();
        let client = attested(&w, &trust);
        let (req, _) = builder().build(&w.waa_key, NOW).unwrap();
        let check = |f: &dyn Fn(&mut RequestObjectClaims)| verify_par(&resign(&req, &w.waa_key, f), &client, &expect()).unwrap_err();
        assert_eq!(check(&|c| c.client_id = "other".into()), ParError::ClientIdMismatch);
        assert_eq!(check(&|c| c.iss = "other".into()), ParError::IssMismatch);
        assert_eq!(check(&|c| c.aud = Audience::One("https://x.example".into())), ParError::AudienceMismatch(ISSUER.into()));
        assert!(matches!(check(&|c| c.exp = c.iat + 301), ParError::BadTime { .. }));
        assert!(matches!(check(&|c| { c.iat -= 400; c.exp -= 400 }), ParError::BadTime { .. }));
        assert!(matches!(check(&|c| { c.iat += 120; c.exp += 120 }), ParError::BadTime { .. }));
        assert_eq!(check(&|c| c.response_type = "token".into()), ParError::UnsupportedResponseType);
        assert_eq!(check(&|c| c.state = "short".into()), ParError::WeakState);
        assert_eq!(check(&|c| c.code_challenge_method = "plain".into()), ParError::Pkce(PkceError::UnsupportedMethod(Some("plain".into()))));
        assert_eq!(check(&|c| { c.scope = None; c.authorization_details.clear() }), ParError::NothingRequested);
        assert_eq!(check(&|c| c.authorization_details[0].kind = "other".into()), ParError::NothingRequested);
        assert_eq!(check(&|c| c.redirect_uri = "not a url".into()), ParError::BadRedirectUri);
    }

    #[test]
    fn unknown_scope_is_invalid_scope() {
        let w = Wallet::new(1);
        let b = ParRequestBuilder { scope: Some("health"), configuration_ids: &[], ..builder() };
        let (req, _) = b.build(&w.waa_key, NOW).unwrap();
        let v = verify_par(&req, &attested(&w, &w.trust()), &expect()).unwrap();
        let err = v.check_against(&metadata()).unwrap_err();
        assert_eq!(err, ParError::UnknownScope("health".into()));
        assert_eq!(err.code(), ErrorCode::InvalidScope);
    }

    #[test]
    fn par_response_authorize_and_authorization_response_round_trip() {
        let r = ParResponse::issue().unwrap();
        assert!(r.request_uri.starts_with(REQUEST_URI_PREFIX));
        assert_eq!(ParResponse::parse(&serde_json::to_vec(&r).unwrap()).unwrap(), r);
        let a = AuthorizeRequest { client_id: "c".into(), request_uri: r.request_uri.clone() };
        let url = a.to_url(&format!("{ISSUER}/authorize"));
        assert_eq!(AuthorizeRequest::parse_query(url.split_once('?').unwrap().1).unwrap(), a);

        let w = Wallet::new(1);
        let (_, pending) = builder().build(&w.waa_key, NOW).unwrap();
        let resp = AuthorizationResponse { code: "code-1".into(), state: pending.state.clone(), iss: Some(ISSUER.into()) };
        let back = AuthorizationResponse::parse(&resp.to_redirect(REDIRECT)).unwrap();
        assert_eq!(back, resp);
        back.check(&pending, ISSUER).unwrap();
        let wrong_state = AuthorizationResponse { state: "x".repeat(48), ..resp.clone() };
        assert_eq!(wrong_state.check(&pending, ISSUER), Err(ParError::StateMismatch));
        let wrong_iss = AuthorizationResponse { iss: Some("https://evil.example".into()), ..resp.clone() };
        assert_eq!(wrong_iss.check(&pending, ISSUER), Err(ParError::IssuerMismatch));
        let no_iss = AuthorizationResponse { iss: None, ..resp };
        assert_eq!(no_iss.check(&pending, ISSUER), Err(ParError::IssuerMismatch));
        let err = AuthorizationResponse::parse(&format!("{REDIRECT}?error=access_denied&state=s")).unwrap_err();
        assert_eq!(err, ParError::AuthorizationError { error: "access_denied".into(), description: None });
    }

    #[test]
    fn the_redirect_is_checked_whole() {
        let w = Wallet::new(1);
        let (_, pending) = builder().build(&w.waa_key, NOW).unwrap();
        let ok = AuthorizationResponse { code: "code-1".into(), state: pending.state.clone(), iss: Some(ISSUER.into()) };
        let url = ok.to_redirect(REDIRECT);
        assert_eq!(AuthorizationResponse::from_redirect(&url, &pending, ISSUER).unwrap(), ok);
        let from = |u: &str| AuthorizationResponse::from_redirect(u, &pending, ISSUER).unwrap_err();
        // Another place than our redirect_uri.
        assert_eq!(from(&ok.to_redirect("https://evil.example/cb")), ParError::RedirectMismatch);
        // A tampered state, a tampered or missing iss (RFC 9207).
        assert_eq!(from(&AuthorizationResponse { state: "x".repeat(48), ..ok.clone() }.to_redirect(REDIRECT)), ParError::StateMismatch);
        assert_eq!(from(&AuthorizationResponse { iss: Some("https://evil.example".into()), ..ok.clone() }.to_redirect(REDIRECT)), ParError::IssuerMismatch);
        assert_eq!(from(&AuthorizationResponse { iss: None, ..ok.clone() }.to_redirect(REDIRECT)), ParError::IssuerMismatch);
        assert!(matches!(from(&format!("{REDIRECT}?state={}&iss={}", pending.state, encode_one(ISSUER))), ParError::Message(_)), "no code");
        // Error redirects: named with their code, checked for state and iss when they carry them.
        let err = from(&format!("{REDIRECT}?error=access_denied&error_description=not%20in%20the%20registry&state={}&iss={}", pending.state, encode_one(ISSUER)));
        assert_eq!(err, ParError::AuthorizationError { error: "access_denied".into(), description: Some("not in the registry".into()) });
        assert_eq!(from(&format!("{REDIRECT}?error=server_error")), ParError::AuthorizationError { error: "server_error".into(), description: None });
        assert_eq!(from(&format!("{REDIRECT}?error=access_denied&state={}", "y".repeat(48))), ParError::StateMismatch, "someone else's error");
        assert_eq!(from(&format!("{REDIRECT}?error=access_denied&iss=https%3A%2F%2Fevil.example")), ParError::IssuerMismatch);
    }

    fn encode_one(s: &str) -> String {
        encode([("x", Some(s))]).trim_start_matches("x=").to_owned()
    }
}
