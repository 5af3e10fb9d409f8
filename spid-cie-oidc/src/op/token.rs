//! The token, introspection and revocation endpoints (SPID/CIE OIDC §B.3), each authenticated
//! with `private_key_jwt` (RFC 7523 §3, checks of AgID check-op and django).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::Json;
use service_kit::Form;
use openidconnect::{PkceCodeChallenge, PkceCodeVerifier};
use serde_json::{Value, json};
use wallet_core::federation::EntityId;
use wallet_core::time::UnixTime;

use super::OpState;
use super::error::OAuthError;
use super::registration::RegisteredRp;
use super::authorize::single_valued;
use super::store::{Grant, NotInserted, TokenKind, TokenRecord};
use super::Profile;
use crate::claims::Acr;
use crate::jwt::{self, JwtError};
use crate::keys::uuid4;
use crate::rp::CLIENT_ASSERTION_TYPE;
use crate::rp::tokens::at_hash;
use crate::time::{TimeError, Window};

/// `iat` may be at most this far ahead (check-op: 3 min).
const IAT_AHEAD: i64 = 180;
/// Clock skew on `exp`.
const SKEW: i64 = 60;
/// The longest client assertion lifetime (`exp - iat`) accepted: bounds how long a `jti` is
/// remembered, so the replay cache's size.
pub const MAX_ASSERTION_TTL: i64 = 3600;
/// The longest `jti` accepted.
const MAX_JTI: usize = 256;

/// Why a client assertion was refused (`invalid_client`, 401).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientAuthError {
    /// `client_assertion_type` is not jwt-bearer or `client_assertion` is missing.
    #[error("private_key_jwt client authentication is required")]
    Missing,
    /// Not a JWT.
    #[error("client assertion malformed: {0}")]
    Malformed(String),
    /// `iss`/`sub`/`client_id` disagree.
    #[error("client assertion iss and sub must equal client_id")]
    IssSub,
    /// The RP is not (or no longer) trusted.
    #[error("client not trusted: {0}")]
    Untrusted(String),
    /// The signature does not verify with the RP's keys.
    #[error("client assertion signature: {0}")]
    Signature(JwtError),
    /// `aud` does not name this endpoint or this provider.
    #[error("client assertion aud does not name this endpoint")]
    Audience,
    /// `exp`/`iat` missing, out of range, passed, in the future, or too long a lifetime.
    #[error("client assertion {0}")]
    Time(TimeError),
    /// `jti` missing, shorter than 16 or longer than 256 characters.
    #[error("client assertion jti missing, shorter than 16 or longer than 256 characters")]
    Jti,
    /// The same `jti` was used before.
    #[error("client assertion replayed: jti {0} was already used")]
    Replayed(String),
    /// The replay cache is full of live `jti`s (503 `temporarily_unavailable`).
    #[error("too many client assertions in flight; retry later")]
    ReplayCacheFull,
}

impl From<ClientAuthError> for OAuthError {
    fn from(e: ClientAuthError) -> Self {
        match e {
            ClientAuthError::ReplayCacheFull => OAuthError::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", e.to_string()),
            e => OAuthError::invalid_client(e.to_string()),
        }
    }
}

impl OpState {
    /// Authenticates the caller of `endpoint` (`private_key_jwt`): the RP's registration (only
    /// one made at the authorization endpoint: [`OpState::known_rp`]), the
    /// signature with its resolved keys, `iss` = `sub` = `client_id`, `aud` ∈ {endpoint,
    /// issuer, authorization endpoint} (django accepts these), times, single-use `jti`.
    pub async fn authenticate_client(&self, form: &HashMap<String, String>, endpoint: &str) -> Result<RegisteredRp, ClientAuthError> {
        if form.get("client_assertion_type").map(String::as_str) != Some(CLIENT_ASSERTION_TYPE) {
            return Err(ClientAuthError::Missing);
        }
        let assertion = form.get("client_assertion").ok_or(ClientAuthError::Missing)?;
        let (_, unverified) = jwt::unverified_claims(assertion).map_err(|e| ClientAuthError::Malformed(e.to_string()))?;
        let iss = jwt::str_claim(&unverified, "iss").ok_or(ClientAuthError::IssSub)?;
        if jwt::str_claim(&unverified, "sub") != Some(iss) || form.get("client_id").is_some_and(|c| c != iss) {
            return Err(ClientAuthError::IssSub);
        }
        let client_id = EntityId::new(iss).map_err(|e| ClientAuthError::Malformed(e.to_string()))?;
        let rp = self.known_rp(&client_id).await.map_err(|e| ClientAuthError::Untrusted(e.to_string()))?;
        let (_, c) = jwt::verify(assertion, &rp.jwks, &jwt::ALLOWED_ALGS).map_err(ClientAuthError::Signature)?;
        let ok_aud = [endpoint.to_owned(), self.issuer().to_owned(), self.endpoint("authorization")];
        if !jwt::audiences(&c).iter().any(|a| ok_aud.contains(a)) {
            return Err(ClientAuthError::Audience);
        }
        // Times, checked (out-of-range values refused before any arithmetic); the lifetime cap
        // bounds how long the `jti` below is remembered.
        let now = UnixTime::now();
        let window = Window { skew: SKEW, iat_ahead: IAT_AHEAD, iat_required: true, max_lifetime: Some(MAX_ASSERTION_TTL) };
        let times = crate::time::check(&c, &window, now).map_err(ClientAuthError::Time)?;
        let jti = jwt::str_claim(&c, "jti").filter(|j| (16..=MAX_JTI).contains(&j.len())).ok_or(ClientAuthError::Jti)?;
        match self.inner.store.assertion_jtis.insert_once(format!("{client_id} {jti}"), (), times.exp.secs().saturating_add(SKEW), now.secs()) {
            Ok(()) => Ok(rp),
            Err(NotInserted::Exists) => Err(ClientAuthError::Replayed(jti.to_owned())),
            Err(NotInserted::Full) => Err(ClientAuthError::ReplayCacheFull),
        }
    }

    fn sign(&self, claims: &Value, typ: Option<&str>, alg: wallet_core::jose::JwsAlg) -> Result<String, OAuthError> {
        jwt::sign(claims, typ, &self.inner.keys.sig.signer(alg)).map_err(OAuthError::server)
    }

    /// Issues an access token (RFC 9068 `at+jwt`) under `grant_id`.
    fn access_token(&self, grant_id: &str, g: &Grant, parent: Option<String>, now: i64) -> Result<String, OAuthError> {
        let c = &self.inner.config;
        let jti = uuid4().map_err(OAuthError::server)?;
        let claims = json!({
            "iss": self.issuer(), "sub": g.sub, "aud": [self.endpoint("userinfo"), g.client_id.to_string()],
            "client_id": g.client_id, "scope": g.scope.join(" "), "iat": now, "exp": now.saturating_add(c.access_token_ttl), "jti": jti,
        });
        let at = self.sign(&claims, Some("at+jwt"), wallet_core::jose::JwsAlg::Rs256)?;
        let rec = TokenRecord { kind: TokenKind::Access, grant: grant_id.to_owned(), parent, exp: now.saturating_add(c.access_token_ttl), revoked: false };
        if !self.inner.store.tokens.insert_new(jti, rec, now.saturating_add(c.access_token_ttl), now) {
            return Err(OAuthError::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "token store full"));
        }
        Ok(at)
    }

    fn refresh_token(&self, grant_id: &str, g: &Grant, now: i64) -> Result<(String, String), OAuthError> {
        let c = &self.inner.config;
        let jti = uuid4().map_err(OAuthError::server)?;
        let claims = json!({
            "iss": self.issuer(), "sub": g.sub, "client_id": g.client_id, "aud": self.endpoint("token"),
            "iat": now, "exp": now.saturating_add(c.refresh_token_ttl), "jti": jti,
        });
        let rt = self.sign(&claims, Some("JWT"), wallet_core::jose::JwsAlg::Rs256)?;
        let rec = TokenRecord { kind: TokenKind::Refresh, grant: grant_id.to_owned(), parent: None, exp: now.saturating_add(c.refresh_token_ttl), revoked: false };
        if !self.inner.store.tokens.insert_new(jti.clone(), rec, now.saturating_add(c.refresh_token_ttl), now) {
            return Err(OAuthError::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "token store full"));
        }
        Ok((rt, jti))
    }

    fn id_token(&self, g: &Grant, rp: &RegisteredRp, acr: Acr, nonce: Option<&str>, access_token: &str, now: i64) -> Result<String, OAuthError> {
        let mut claims = json!({
            "iss": self.issuer(), "sub": g.sub, "aud": g.client_id, "acr": acr,
            "at_hash": at_hash(rp.id_token_alg, access_token),
            "iat": now, "nbf": now, "exp": now.saturating_add(self.inner.config.id_token_ttl), "jti": uuid4().map_err(OAuthError::server)?,
        });
        if let Value::Object(m) = &mut claims {
            if let Some(n) = nonce {
                m.insert("nonce".into(), Value::from(n));
            }
            // CIE may carry requested attributes in the ID Token; SPID never does (§B.3).
            if self.inner.config.profile == Profile::Cie
                && let Some(Value::Object(asked)) = g.claims.get("id_token")
                && let Some(person) = self.identity(&g.fiscal_number)
            {
                for (k, v) in super::userinfo::attributes(person, asked.keys().map(String::as_str)) {
                    m.insert(k, v);
                }
            }
        }
        self.sign(&claims, None, rp.id_token_alg)
    }

    /// The token's record if it is one of ours (signature by our key), live and not revoked.
    pub(crate) fn live_token(&self, token: &str, kind: TokenKind) -> Option<(String, TokenRecord, Grant)> {
        let jwks = self.inner.keys.jwks();
        let (_, c) = jwt::verify(token, &jwks, &[wallet_core::jose::JwsAlg::Rs256, wallet_core::jose::JwsAlg::Rs512]).ok()?;
        let jti = jwt::str_claim(&c, "jti")?.to_owned();
        let now = UnixTime::now().secs();
        let rec = self.inner.store.tokens.get(&jti, now)?;
        if rec.kind != kind || rec.revoked || rec.exp <= now {
            return None;
        }
        let grant = self.inner.store.grants.get(&rec.grant, now)?;
        Some((jti, rec, grant))
    }
}

fn token_response(body: Value) -> Response {
    // check-op: Cache-Control no-store and Pragma no-cache (§B.3).
    ([(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")], Json(body)).into_response()
}

/// `POST /token`.
pub async fn token(State(st): State<OpState>, Form(f): Form<Vec<(String, String)>>) -> Response {
    match single_valued(f) {
        Ok(f) => token_inner(&st, f).await.unwrap_or_else(IntoResponse::into_response),
        Err(e) => e.into_response(),
    }
}

async fn token_inner(st: &OpState, f: HashMap<String, String>) -> Result<Response, OAuthError> {
    let rp = st.authenticate_client(&f, &st.endpoint("token")).await?;
    let now = UnixTime::now().secs();
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").ok_or_else(|| OAuthError::invalid_request("code is required"))?;
            let verifier = f.get("code_verifier").ok_or_else(|| OAuthError::invalid_request("code_verifier is required (PKCE)"))?;
            let cg = st.inner.store.codes.take(code, now).ok_or_else(|| OAuthError::invalid_grant("unknown, used or expired code"))?;
            if cg.session.client_id != rp.client_id {
                return Err(OAuthError::invalid_grant("the code was issued to another client"));
            }
            // redirect_uri: django sends it and check-op requires it; it must match.
            if f.get("redirect_uri") != Some(&cg.session.redirect_uri) {
                return Err(OAuthError::invalid_grant("redirect_uri missing or different from the authorization request's"));
            }
            // RFC 7636 §4.1: 43–128 unreserved characters; §4.6: S256 must match.
            if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
                return Err(OAuthError::invalid_request("code_verifier is not 43-128 unreserved characters"));
            }
            let computed = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.clone()));
            if !wallet_core::subtle_eq(computed.as_str().as_bytes(), cg.session.code_challenge.as_bytes()) {
                return Err(OAuthError::invalid_grant("code_verifier does not match code_challenge"));
            }
            let grant_id = uuid4().map_err(OAuthError::server)?;
            let grant = Grant {
                client_id: rp.client_id.clone(),
                sub: st.pairwise_sub(&rp.client_id, &cg.fiscal_number),
                fiscal_number: cg.fiscal_number.clone(),
                scope: cg.session.scope.clone(),
                claims: cg.session.claims.clone(),
                acr: cg.acr,
            };
            let lifetime = now.saturating_add(st.inner.config.refresh_token_ttl);
            if !st.inner.store.grants.insert_new(grant_id.clone(), grant.clone(), lifetime, now) {
                return Err(OAuthError::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "grant store full"));
            }
            // A refresh token only with offline_access and consent (§B.2, django).
            let offline = grant.scope.iter().any(|s| s == "offline_access") && cg.session.prompt.contains("consent");
            let refresh = if offline { Some(st.refresh_token(&grant_id, &grant, now)?) } else { None };
            let at = st.access_token(&grant_id, &grant, refresh.as_ref().map(|(_, j)| j.clone()), now)?;
            let id_token = st.id_token(&grant, &rp, cg.acr, Some(&cg.session.nonce), &at, now)?;
            let mut body = json!({"access_token": at, "token_type": "Bearer", "expires_in": st.inner.config.access_token_ttl, "id_token": id_token});
            if let (Some((rt, _)), Value::Object(m)) = (refresh, &mut body) {
                m.insert("refresh_token".into(), Value::from(rt));
            }
            Ok(token_response(body))
        }
        Some("refresh_token") => {
            let rt = f.get("refresh_token").ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
            let (jti, rec, grant) = st.live_token(rt, TokenKind::Refresh).ok_or_else(|| OAuthError::invalid_grant("unknown, revoked or expired refresh token"))?;
            if grant.client_id != rp.client_id {
                return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
            }
            // Rotation (mandatory for CIE, harmless for SPID): the old refresh token and the
            // access tokens issued with it stop working.
            st.inner.store.tokens.update_where(now, |k, t| {
                let hit = k == jti || t.parent.as_deref() == Some(jti.as_str());
                if hit {
                    t.revoked = true;
                }
                hit
            });
            let (new_rt, new_jti) = st.refresh_token(&rec.grant, &grant, now)?;
            let at = st.access_token(&rec.grant, &grant, Some(new_jti), now)?;
            let mut body = json!({"access_token": at, "token_type": "Bearer", "expires_in": st.inner.config.access_token_ttl, "refresh_token": new_rt});
            // SPID: a new ID Token at SpidL1 (Avviso n.41); CIE: none.
            if st.inner.config.profile == Profile::Spid
                && let Value::Object(m) = &mut body
            {
                m.insert("id_token".into(), Value::from(st.id_token(&grant, &rp, Acr::SpidL1, None, &at, now)?));
            }
            Ok(token_response(body))
        }
        Some(other) => Err(OAuthError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", format!("grant_type {other} is not supported"))),
        None => Err(OAuthError::invalid_request("grant_type is required")),
    }
}

/// `POST /introspection` (RFC 7662): `{"active": false}` for anything expired, revoked or
/// issued to another client.
pub async fn introspection(State(st): State<OpState>, Form(f): Form<Vec<(String, String)>>) -> Response {
    let f = match single_valued(f) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let rp = match st.authenticate_client(&f, &st.endpoint("introspection")).await {
        Ok(rp) => rp,
        Err(e) => return OAuthError::from(e).into_response(),
    };
    let Some(token) = f.get("token") else { return OAuthError::invalid_request("token is required").into_response() };
    let found = st.live_token(token, TokenKind::Access).or_else(|| st.live_token(token, TokenKind::Refresh));
    let body = match found {
        Some((_, rec, g)) if g.client_id == rp.client_id => json!({
            "active": true, "scope": g.scope.join(" "), "exp": rec.exp, "sub": g.sub, "client_id": g.client_id,
            "iss": st.issuer(), "aud": [st.endpoint("userinfo"), g.client_id.to_string()],
        }),
        _ => json!({"active": false}),
    };
    token_response(body)
}

/// `POST /revocation` (RFC 7009): 200 even for unknown tokens. SPID: an access token takes its
/// grant's refresh tokens with it; CIE: revoking an access token leaves its refresh token,
/// revoking a refresh token revokes its access tokens (§B.3).
pub async fn revocation(State(st): State<OpState>, Form(f): Form<Vec<(String, String)>>) -> Response {
    let f = match single_valued(f) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let rp = match st.authenticate_client(&f, &st.endpoint("revocation")).await {
        Ok(rp) => rp,
        Err(e) => return OAuthError::from(e).into_response(),
    };
    let Some(token) = f.get("token") else { return OAuthError::invalid_request("token is required").into_response() };
    let now = UnixTime::now().secs();
    let found = st.live_token(token, TokenKind::Access).or_else(|| st.live_token(token, TokenKind::Refresh));
    if let Some((jti, rec, g)) = found
        && g.client_id == rp.client_id
    {
        let profile = st.inner.config.profile;
        st.inner.store.tokens.update_where(now, |k, t| {
            let hit = match (rec.kind, profile) {
                (TokenKind::Access, Profile::Spid) => k == jti || t.grant == rec.grant,
                (TokenKind::Access, Profile::Cie) => k == jti,
                (TokenKind::Refresh, _) => k == jti || t.parent.as_deref() == Some(jti.as_str()),
            };
            if hit {
                t.revoked = true;
            }
            hit
        });
    }
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response()
}
