//! The authorization endpoint (SPID/CIE OIDC §B.2, django OP checks in §B.6) and the login
//! page's form target.
//!
//! Order: `request` present → its `client_id`/`iss` → the RP registered (trust mark, chain,
//! metadata) → signature with the RP's resolved keys → `redirect_uri` among the RP's. Up to
//! here errors are answered directly (400/401 JSON); after, they are redirected to the
//! verified `redirect_uri` with `state` and `iss`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use service_kit::{Form, Query};
use serde_json::{Map, Value};
use wallet_core::federation::EntityId;
use wallet_core::time::UnixTime;

use super::OpState;
use super::error::{ErrorRedirect, OAuthError};
use super::store::{AuthzSession, CodeGrant, NotInserted};
use crate::claims::Acr;
use crate::jwt::{self, JwtError};
use crate::keys::{random_alnum, uuid4};
use crate::op::Profile;
use crate::time::{TimeError, Window};

/// Clock skew on request objects.
const SKEW: i64 = 60;
/// The longest lifetime (`exp - iat`) accepted for a request object (django sends 60 s). It
/// bounds how long a `jti` is remembered, so the replay cache's size.
pub const MAX_REQUEST_OBJECT_TTL: i64 = 600;
/// The longest `jti` accepted (uuid4 is 36 characters).
const MAX_JTI: usize = 256;

/// Why a request object was refused after its RP was trusted; each names its code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The signature did not verify with the RP's keys (`invalid_request_object`).
    #[error("request object signature: {0}")]
    Signature(JwtError),
    /// `aud` does not name this provider (`invalid_request_object`).
    #[error("request object aud {0:?} does not name this provider")]
    WrongAudience(Vec<String>),
    /// `exp`/`iat` missing, out of range, passed, in the future, or too long a lifetime
    /// (`invalid_request_object`).
    #[error("request object {0}")]
    Time(TimeError),
    /// `jti` missing or malformed (`invalid_request_object`; SPID/CIE OIDC §B.2 requires it).
    #[error("request object jti: {0}")]
    Jti(&'static str),
    /// The `jti` was seen before: a replayed request object (`invalid_request_object`).
    #[error("request object replayed: jti {0} was already used")]
    Replayed(String),
    /// The replay cache is full of live `jti`s (`temporarily_unavailable`).
    #[error("too many request objects in flight; retry later")]
    ReplayCacheFull,
    /// `iss` is not `client_id` (`invalid_request_object`).
    #[error("request object iss must equal client_id")]
    IssNotClient,
    /// `response_type` is not `code` (`unsupported_response_type`).
    #[error("response_type must be code")]
    ResponseType,
    /// Scope without `openid`, or one not supported (`invalid_scope`).
    #[error("scope: {0}")]
    Scope(String),
    /// PKCE missing or not S256 (`invalid_request`).
    #[error("PKCE: {0}")]
    Pkce(&'static str),
    /// Any other missing or malformed parameter (`invalid_request`).
    #[error("{0}")]
    Invalid(String),
}

impl RequestError {
    /// The OAuth code (§B.2 authorization errors).
    pub fn oauth_code(&self) -> &'static str {
        match self {
            Self::Signature(_) | Self::WrongAudience(_) | Self::Time(_) | Self::IssNotClient | Self::Jti(_) | Self::Replayed(_) => "invalid_request_object",
            Self::ReplayCacheFull => "temporarily_unavailable",
            Self::ResponseType => "unsupported_response_type",
            Self::Scope(_) => "invalid_scope",
            Self::Pkce(_) | Self::Invalid(_) => "invalid_request",
        }
    }
}

impl From<RequestError> for OAuthError {
    fn from(e: RequestError) -> Self {
        let status = if matches!(e, RequestError::ReplayCacheFull) { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::BAD_REQUEST };
        OAuthError::new(status, e.oauth_code(), e.to_string())
    }
}

/// `GET /authorization?client_id=…&request=…`.
pub async fn authorization_get(State(st): State<OpState>, Query(q): Query<Vec<(String, String)>>) -> Response {
    match single_valued(q) {
        Ok(q) => authorize(&st, q).await.unwrap_or_else(IntoResponse::into_response),
        Err(e) => e.into_response(),
    }
}

/// `POST /authorization` (form).
pub async fn authorization_post(State(st): State<OpState>, Form(q): Form<Vec<(String, String)>>) -> Response {
    match single_valued(q) {
        Ok(q) => authorize(&st, q).await.unwrap_or_else(IntoResponse::into_response),
        Err(e) => e.into_response(),
    }
}

/// The parameters as a map; one sent twice is refused (RFC 6749 §3.1: request parameters
/// MUST NOT be included more than once), so no check reads one copy and another the other.
pub(crate) fn single_valued(q: Vec<(String, String)>) -> Result<HashMap<String, String>, OAuthError> {
    let mut m = HashMap::with_capacity(q.len());
    for (k, v) in q {
        if m.contains_key(&k) {
            return Err(OAuthError::invalid_request(format!("parameter {k} is repeated")));
        }
        m.insert(k, v);
    }
    Ok(m)
}

fn str_of<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

async fn authorize(st: &OpState, q: HashMap<String, String>) -> Result<Response, OAuthError> {
    // 1. A signed request object is required (§B.2; django check 1).
    let request = q.get("request").ok_or_else(|| OAuthError::invalid_request("the request parameter (a signed request object) is required"))?;
    if q.contains_key("request_uri") {
        return Err(OAuthError::new(StatusCode::BAD_REQUEST, "request_uri_not_supported", "request_uri is not used by this profile"));
    }
    let (_, unverified) = jwt::unverified_claims(request)
        .map_err(|e| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request_object", format!("request object: {e}")))?;
    let client_id = str_of(&unverified, "client_id").ok_or_else(|| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request_object", "request object has no client_id"))?;
    if let Some(p) = q.get("client_id")
        && p != client_id
    {
        return Err(OAuthError::invalid_request("client_id differs from the request object's"));
    }
    let client_id = EntityId::new(client_id).map_err(|e| OAuthError::invalid_request(format!("client_id: {e}")))?;
    // 2. The RP: trust mark, then chain, then metadata (§B.1).
    let rp = st.registered_rp(&client_id).await?;
    // 3. Signature with a key of the RP's resolved jwks (django check 4).
    let (_, claims) = jwt::verify(request, &rp.jwks, &jwt::ALLOWED_ALGS).map_err(|e| OAuthError::from(RequestError::Signature(e)))?;
    // 4. redirect_uri among the RP's: 400, never a redirect (§B.2).
    let redirect_uri = str_of(&claims, "redirect_uri").ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
    if !rp.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(OAuthError::invalid_request("redirect_uri is not among the relying party's redirect_uris"));
    }
    let to = ErrorRedirect { redirect_uri: redirect_uri.to_owned(), state: str_of(&claims, "state").map(str::to_owned), iss: st.issuer().to_owned() };
    let session = check_request(st, &client_id, &q, &claims).map_err(|e| OAuthError::from(e).redirected(to.clone()))?;
    let now = UnixTime::now().secs();
    let id = random_alnum::<24>().map_err(OAuthError::server)?;
    let requested = session.acr_values.clone();
    if !st.inner.store.sessions.insert_new(id.clone(), session, now.saturating_add(st.inner.config.code_ttl), now) {
        return Err(OAuthError::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "too many pending logins").redirected(to));
    }
    let html = super::page::login_page(st, &id, &requested);
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response())
}

/// The checks once the request object is verified (§B.2 table, django check 7, AgID check-op
/// 2.1.x).
fn check_request(st: &OpState, client_id: &EntityId, q: &HashMap<String, String>, c: &Map<String, Value>) -> Result<AuthzSession, RequestError> {
    let now = UnixTime::now();
    if str_of(c, "iss") != Some(client_id.as_str()) {
        return Err(RequestError::IssNotClient);
    }
    let aud = jwt::audiences(c);
    let ours = [st.issuer().to_owned(), st.endpoint("authorization")];
    if !aud.iter().any(|a| ours.contains(a)) {
        return Err(RequestError::WrongAudience(aud));
    }
    // Times, checked: out-of-range values are refused before any arithmetic, and the
    // lifetime is capped so the replay cache below remembers each `jti` a bounded time.
    let window = Window { skew: SKEW, iat_ahead: SKEW, iat_required: true, max_lifetime: Some(MAX_REQUEST_OBJECT_TTL) };
    let times = crate::time::check(c, &window, now).map_err(RequestError::Time)?;
    let jti = match c.get("jti") {
        None => return Err(RequestError::Jti("jti is required (SPID/CIE OIDC §B.2)")),
        Some(Value::String(j)) if !j.is_empty() && j.len() <= MAX_JTI => j.clone(),
        Some(_) => return Err(RequestError::Jti("jti must be a string of 1 to 256 characters")),
    };
    // response_type: in the object; SPID sends it as a parameter too (must match).
    match (str_of(c, "response_type"), q.get("response_type").map(String::as_str)) {
        (None, _) => return Err(RequestError::Invalid("response_type is required".into())),
        (Some("code"), None | Some("code")) => {}
        (Some("code"), Some(_)) => return Err(RequestError::Invalid("response_type differs from the request object's".into())),
        (Some(_), _) => return Err(RequestError::ResponseType),
    }
    if st.inner.config.profile == Profile::Spid && (!q.contains_key("client_id") || !q.contains_key("response_type")) {
        return Err(RequestError::Invalid("SPID: client_id and response_type must be sent as parameters too".into()));
    }
    // scope
    let scope_s = str_of(c, "scope").ok_or_else(|| RequestError::Scope("scope is required".into()))?;
    if let Some(p) = q.get("scope")
        && p != scope_s
    {
        return Err(RequestError::Scope("scope differs from the request object's".into()));
    }
    let scope: Vec<String> = scope_s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if !scope.iter().any(|s| s == "openid") {
        return Err(RequestError::Scope("scope must contain openid".into()));
    }
    let allowed: &[&str] = if st.inner.config.profile == Profile::Cie { &["openid", "offline_access", "profile", "email"] } else { &["openid", "offline_access"] };
    if let Some(bad) = scope.iter().find(|s| !allowed.contains(&s.as_str())) {
        return Err(RequestError::Scope(format!("scope {bad} is not supported")));
    }
    // PKCE S256 (§B.2); parameters, when sent, must match the object.
    let challenge = str_of(c, "code_challenge").ok_or(RequestError::Pkce("code_challenge is required"))?;
    match str_of(c, "code_challenge_method") {
        Some("S256") => {}
        None => return Err(RequestError::Pkce("code_challenge_method is required")),
        Some(_) => return Err(RequestError::Pkce("code_challenge_method must be S256")),
    }
    if challenge.len() != 43 || !challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(RequestError::Pkce("code_challenge is not a base64url SHA-256"));
    }
    if q.get("code_challenge").is_some_and(|p| p != challenge) || q.get("code_challenge_method").is_some_and(|m| m != "S256") {
        return Err(RequestError::Pkce("code_challenge parameters differ from the request object's"));
    }
    // nonce and state: ≥ 32 alphanumeric characters.
    let long = |k: &str| -> Result<String, RequestError> {
        let v = str_of(c, k).ok_or_else(|| RequestError::Invalid(format!("{k} is required")))?;
        if v.len() < 32 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(RequestError::Invalid(format!("{k} must be at least 32 alphanumeric characters")));
        }
        Ok(v.to_owned())
    };
    let nonce = long("nonce")?;
    let state = long("state")?;
    // prompt ∈ {consent, consent login}; offline_access needs consent.
    let prompt = str_of(c, "prompt").ok_or_else(|| RequestError::Invalid("prompt is required".into()))?;
    let mut words: Vec<&str> = prompt.split(' ').filter(|w| !w.is_empty()).collect();
    words.sort_unstable();
    if words != ["consent"] && words != ["consent", "login"] {
        return Err(RequestError::Invalid("prompt must be consent or consent login".into()));
    }
    // acr_values: a string of known levels (django's default SpidL2 when absent).
    let acr_values = match c.get("acr_values") {
        None => vec![Acr::SpidL2],
        Some(Value::String(s)) => Acr::parse_list(s).map_err(|e| RequestError::Invalid(e.to_string()))?,
        Some(_) => return Err(RequestError::Invalid("acr_values must be a space-separated string".into())),
    };
    // claims: SPID only `userinfo`, CIE `userinfo` and `id_token`; values null, {essential},
    // {value} or {values}.
    let claims = match c.get("claims") {
        Some(Value::Object(m)) => {
            for (member, v) in m {
                let ok_member = member == "userinfo" || (member == "id_token" && st.inner.config.profile == Profile::Cie);
                if !ok_member {
                    return Err(RequestError::Invalid(format!("claims member {member} not allowed by this profile")));
                }
                let Value::Object(entries) = v else { return Err(RequestError::Invalid(format!("claims.{member} must be an object"))) };
                for (name, spec) in entries {
                    let fine = match spec {
                        Value::Null => true,
                        Value::Object(o) => o.iter().all(|(k, v)| match k.as_str() {
                            "essential" => v.is_boolean(),
                            "value" => true,
                            "values" => v.is_array(),
                            _ => false,
                        }),
                        _ => false,
                    };
                    if !fine {
                        return Err(RequestError::Invalid(format!("claims.{member}.{name} is malformed")));
                    }
                }
            }
            Value::Object(m.clone())
        }
        None if st.inner.config.profile == Profile::Cie => Value::Object(Map::new()),
        None => return Err(RequestError::Invalid("claims is required".into())),
        Some(_) => return Err(RequestError::Invalid("claims must be an object".into())),
    };
    if c.contains_key("sub") {
        return Err(RequestError::Invalid("sub must not be in the request object".into()));
    }
    // Single use, last: only a request object valid in every other way spends its `jti`.
    // Remembered until `exp` + skew (at most MAX_REQUEST_OBJECT_TTL + SKEW, so the store's
    // bound holds); only RPs whose signature verified can add entries.
    let remember_until = times.exp.secs().saturating_add(SKEW);
    match st.inner.store.request_jtis.insert_once(format!("{client_id} {jti}"), (), remember_until, now.secs()) {
        Ok(()) => {}
        Err(NotInserted::Exists) => return Err(RequestError::Replayed(jti)),
        Err(NotInserted::Full) => return Err(RequestError::ReplayCacheFull),
    }
    Ok(AuthzSession {
        client_id: client_id.clone(),
        redirect_uri: str_of(c, "redirect_uri").unwrap_or_default().to_owned(),
        state,
        nonce,
        code_challenge: challenge.to_owned(),
        scope,
        acr_values,
        claims,
        prompt: prompt.to_owned(),
    })
}

/// The login form's fields.
#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    /// The opaque session id from the page.
    pub session: String,
    /// The chosen identity.
    pub fiscal_number: String,
    /// The chosen level (an acr URI).
    pub acr: String,
}

/// `POST /login`: the tester's choice → `302 <redirect_uri>?code=…&state=…&iss=…`.
pub async fn login(State(st): State<OpState>, Form(f): Form<LoginForm>) -> Response {
    let now = UnixTime::now().secs();
    let Some(session) = st.inner.store.sessions.take(&f.session, now) else {
        // Not redirected: without the session there is no verified redirect_uri.
        return OAuthError::invalid_request("login session unknown, used or expired: start again from the relying party").into_response();
    };
    let to = ErrorRedirect { redirect_uri: session.redirect_uri.clone(), state: Some(session.state.clone()), iss: st.issuer().to_owned() };
    if st.identity(&f.fiscal_number).is_none() {
        return OAuthError::new(StatusCode::BAD_REQUEST, "access_denied", "unknown test identity").redirected(to).into_response();
    }
    let acr: Acr = match f.acr.parse() {
        Ok(a) => a,
        Err(e) => return OAuthError::invalid_request(e.to_string()).redirected(to).into_response(),
    };
    // The OP may authenticate higher than asked, never lower (§B.2 acr_values).
    if session.acr_values.iter().min().is_some_and(|min| acr < *min) {
        return OAuthError::new(StatusCode::BAD_REQUEST, "access_denied", "authenticated below the requested level").redirected(to).into_response();
    }
    let code = match uuid4() {
        Ok(c) => c,
        Err(e) => return OAuthError::server(e).redirected(to).into_response(),
    };
    let mut url = match url::Url::parse(&session.redirect_uri) {
        Ok(u) => u,
        Err(e) => return OAuthError::server(e).into_response(),
    };
    url.query_pairs_mut().append_pair("code", &code).append_pair("state", &session.state).append_pair("iss", st.issuer());
    let grant = CodeGrant { session, fiscal_number: f.fiscal_number, acr };
    if !st.inner.store.codes.insert_new(code, grant, now.saturating_add(st.inner.config.code_ttl), now) {
        return OAuthError::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "too many codes").redirected(to).into_response();
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string()), (header::CACHE_CONTROL, "no-store".to_owned())]).into_response()
}
