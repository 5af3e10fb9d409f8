//! The UserInfo endpoint (SPID/CIE OIDC §B.3): a bearer access token in, a JWS signed with the
//! provider's core key and encrypted to the RP's `enc` key out (`application/jwt`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use wallet_core::time::UnixTime;

use super::OpState;
use super::error::OAuthError;
use super::identities::TestIdentity;
use super::store::TokenKind;
use super::Profile;
use crate::claims::Attribute;
use crate::jwe_rsa;
use crate::keys::uuid4;

/// The values of the requested attributes this identity has.
pub fn attributes<'a>(person: &TestIdentity, names: impl Iterator<Item = &'a str>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for name in names {
        let v = match Attribute::from_claim(name) {
            Some(Attribute::FiscalNumber) => Value::from(person.fiscal_number.clone()),
            Some(Attribute::GivenName) => Value::from(person.given_name.clone()),
            Some(Attribute::FamilyName) => Value::from(person.family_name.clone()),
            Some(Attribute::Birthdate) => Value::from(person.birthdate.clone()),
            Some(Attribute::PlaceOfBirth) => serde_json::to_value(&person.place_of_birth).unwrap_or(Value::Null),
            Some(Attribute::Email) => Value::from(person.email.clone()),
            Some(Attribute::Gender) => match &person.gender {
                Some(g) => Value::from(g.clone()),
                None => continue,
            },
            None if name == "email_verified" => Value::Bool(true),
            None => continue,
        };
        // Answered under the name asked (an RP using an old namespace gets it back there).
        out.push((name.to_owned(), v));
    }
    out
}

/// `GET /userinfo` (SPID allows GET only).
pub async fn userinfo_get(State(st): State<OpState>, headers: HeaderMap) -> Response {
    userinfo(&st, &headers).await.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /userinfo` (CIE allows it; SPID does not).
pub async fn userinfo_post(State(st): State<OpState>, headers: HeaderMap) -> Response {
    if st.inner.config.profile == Profile::Spid {
        return OAuthError::new(StatusCode::METHOD_NOT_ALLOWED, "invalid_request", "SPID UserInfo is GET only").into_response();
    }
    userinfo(&st, &headers).await.unwrap_or_else(IntoResponse::into_response)
}

async fn userinfo(st: &OpState, headers: &HeaderMap) -> Result<Response, OAuthError> {
    let bad_token = |d: &str| {
        let mut e = OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_token", d);
        e.bearer = true;
        e
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or_else(|| bad_token("a bearer access token is required"))?;
    let (_, _, grant) = st.live_token(token.trim(), TokenKind::Access).ok_or_else(|| bad_token("unknown, revoked or expired access token"))?;
    // The RP's current registration (cached) gives the encryption key and algorithms.
    let rp = st.known_rp(&grant.client_id).await.map_err(|e| bad_token(&format!("the client is no longer trusted: {e}")))?;
    let person = st.identity(&grant.fiscal_number).ok_or_else(|| OAuthError::server("identity vanished"))?;
    let now = UnixTime::now().secs();
    let mut claims = Map::new();
    claims.insert("iss".into(), Value::from(st.issuer()));
    claims.insert("sub".into(), Value::from(grant.sub.clone()));
    claims.insert("aud".into(), Value::from(grant.client_id.to_string()));
    claims.insert("iat".into(), Value::from(now));
    claims.insert("exp".into(), Value::from(now.saturating_add(600)));
    claims.insert("jti".into(), Value::from(uuid4().map_err(OAuthError::server)?));
    let mut asked: Vec<String> = grant.claims.get("userinfo").and_then(Value::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default();
    // CIE scopes stand for attribute sets (§B.2).
    if st.inner.config.profile == Profile::Cie {
        if grant.scope.iter().any(|s| s == "profile") {
            asked.extend(["family_name", "given_name", "birthdate", crate::claims::FISCAL_NUMBER].map(str::to_owned));
        }
        if grant.scope.iter().any(|s| s == "email") {
            asked.extend(["email", "email_verified"].map(str::to_owned));
        }
    }
    for (k, v) in attributes(person, asked.iter().map(String::as_str)) {
        claims.insert(k, v);
    }
    let signed = crate::jwt::sign(&Value::Object(claims), Some("JWT"), &st.inner.keys.sig.signer(rp.userinfo_sig_alg)).map_err(OAuthError::server)?;
    let jwe = jwe_rsa::encrypt(signed.as_bytes(), &rp.enc_key, rp.userinfo_alg, rp.userinfo_enc, Some("JWT")).map_err(OAuthError::server)?;
    Ok(([(header::CONTENT_TYPE, "application/jwt"), (header::CACHE_CONTROL, "no-store")], jwe).into_response())
}
