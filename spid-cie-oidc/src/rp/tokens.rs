//! What the RP checks in what the OP returns: the ID Token (OIDC Core §3.1.3.7 and SPID/CIE
//! OIDC §B.3) and the signed-then-encrypted UserInfo (§B.3). Pure functions over the JWT,
//! the OP's resolved keys and `now`, so tests can hand them any token.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Digest as _;
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{JwsAlg, b64};
use wallet_core::time::UnixTime;

use crate::claims::{Acr, UserInfo};
use crate::jwe_rsa::{self, JweError};
use crate::jwt::{self, JwtError};
use crate::keys::RsaKey;
use crate::time::{TimeError, Window};

/// Clock skew tolerated on `iat`/`nbf`/`exp` (django's `MAX_ACCEPTED_TIMEDIFF` is 5 min; we
/// keep 60 s, enough on loopback and for NTP-synchronised hosts).
pub const SKEW: i64 = 60;

/// The claims of a verified ID Token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// `iss`.
    pub iss: String,
    /// `sub` (pairwise).
    pub sub: String,
    /// `aud`, as a list.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// `acr`.
    pub acr: Acr,
    /// `at_hash`.
    #[serde(default)]
    pub at_hash: Option<String>,
    /// `iat`.
    pub iat: i64,
    /// `exp`.
    pub exp: i64,
    /// `nbf`.
    #[serde(default)]
    pub nbf: Option<i64>,
    /// `jti`.
    #[serde(default)]
    pub jti: Option<String>,
    /// `nonce`.
    #[serde(default)]
    pub nonce: Option<String>,
    /// `azp`.
    #[serde(default)]
    pub azp: Option<String>,
    /// Other claims (CIE may carry requested attributes here).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum A {
        One(String),
        Many(Vec<String>),
    }
    Ok(match A::deserialize(d)? {
        A::One(s) => vec![s],
        A::Many(v) => v,
    })
}

/// Why an ID Token was rejected; one variant per rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Signature, algorithm or key problem (OIDC Core §3.1.3.7 steps 6-8).
    #[error("ID token: {0}")]
    Jwt(#[from] JwtError),
    /// Required claims missing or of the wrong type.
    #[error("ID token claims malformed: {0}")]
    Malformed(String),
    /// `iss` is not the OP's issuer (step 2).
    #[error("ID token iss {got} is not the provider {expected}")]
    WrongIssuer {
        /// The provider's issuer.
        expected: String,
        /// The token's.
        got: String,
    },
    /// `aud` does not contain our `client_id`, or has other audiences without `azp` = us (steps 3-5).
    #[error("ID token aud {0:?} is not this client")]
    WrongAudience(Vec<String>),
    /// `exp` passed (step 9), `iat` or `nbf` in the future (step 10), or a time claim
    /// missing or out of range; names the claim.
    #[error("ID token {0}")]
    Time(TimeError),
    /// `nonce` absent or not the one we sent (step 11).
    #[error("ID token nonce does not match the request")]
    NonceMismatch,
    /// `acr` below what was requested (SPID/CIE OIDC §B.3: ≥ the requested level).
    #[error("ID token acr {got} below the requested {min}")]
    AcrTooLow {
        /// The lowest level requested.
        min: Acr,
        /// The token's.
        got: Acr,
    },
    /// `at_hash` missing (REQUIRED in SPID/CIE OIDC §B.3).
    #[error("ID token has no at_hash")]
    AtHashMissing,
    /// `at_hash` does not match the access token (OIDC Core §3.2.2.9).
    #[error("ID token at_hash does not match the access token")]
    AtHashMismatch,
}

/// What the ID Token is checked against.
#[derive(Debug, Clone)]
pub struct IdTokenCheck<'a> {
    /// The OP's `issuer` (resolved metadata).
    pub issuer: &'a str,
    /// Our `client_id`.
    pub client_id: &'a str,
    /// The OP's core keys (resolved `openid_provider.jwks`).
    pub jwks: &'a JwkSet,
    /// The nonce sent in the request; `None` for an ID Token from a refresh (OIDC Core §12.2).
    pub nonce: Option<&'a str>,
    /// The access token issued with it (for `at_hash`).
    pub access_token: &'a str,
    /// The lowest acr requested, if any.
    pub min_acr: Option<Acr>,
    /// Now.
    pub now: UnixTime,
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the hash of the access token, with the
/// hash of the JWS algorithm.
pub fn at_hash(alg: JwsAlg, access_token: &str) -> String {
    let digest = match alg {
        JwsAlg::Rs384 | JwsAlg::Es384 | JwsAlg::Ps384 => sha2::Sha384::digest(access_token.as_bytes()).to_vec(),
        JwsAlg::Rs512 | JwsAlg::Es512 | JwsAlg::Ps512 => sha2::Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => sha2::Sha256::digest(access_token.as_bytes()).to_vec(),
    };
    b64::encode(digest.get(..digest.len() / 2).unwrap_or_default())
}

/// Verifies an ID Token (OIDC Core §3.1.3.7, SPID/CIE OIDC §B.3).
pub fn verify_id_token(jwt: &str, c: &IdTokenCheck<'_>) -> Result<IdTokenClaims, IdTokenError> {
    let (header, claims) = jwt::verify(jwt, c.jwks, &jwt::ALLOWED_ALGS)?;
    // Times first, checked (no claim out of range reaches arithmetic).
    let window = Window { skew: SKEW, iat_ahead: SKEW, iat_required: true, max_lifetime: None };
    crate::time::check(&claims, &window, c.now).map_err(IdTokenError::Time)?;
    let t: IdTokenClaims = serde_json::from_value(Value::Object(claims)).map_err(|e| IdTokenError::Malformed(e.to_string()))?;
    if t.iss != c.issuer {
        return Err(IdTokenError::WrongIssuer { expected: c.issuer.to_owned(), got: t.iss });
    }
    let ours = t.aud.iter().any(|a| a == c.client_id);
    let azp_ok = t.aud.len() == 1 || t.azp.as_deref() == Some(c.client_id);
    if !ours || !azp_ok {
        return Err(IdTokenError::WrongAudience(t.aud));
    }
    if let Some(expected) = c.nonce
        && !t.nonce.as_deref().is_some_and(|n| wallet_core::subtle_eq(n.as_bytes(), expected.as_bytes()))
    {
        return Err(IdTokenError::NonceMismatch);
    }
    if let Some(min) = c.min_acr
        && t.acr < min
    {
        return Err(IdTokenError::AcrTooLow { min, got: t.acr });
    }
    let h = t.at_hash.as_deref().ok_or(IdTokenError::AtHashMissing)?;
    if !wallet_core::subtle_eq(h.as_bytes(), at_hash(header.alg, c.access_token).as_bytes()) {
        return Err(IdTokenError::AtHashMismatch);
    }
    Ok(t)
}

/// Why a UserInfo response was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum UserInfoError {
    /// The JWE did not decrypt with our encryption key (wrong recipient, tampered).
    #[error("UserInfo: {0}")]
    Decrypt(#[from] JweError),
    /// The nested JWS did not verify with the OP's keys.
    #[error("UserInfo signature: {0}")]
    Jwt(#[from] JwtError),
    /// The claims are malformed.
    #[error("UserInfo claims malformed: {0}")]
    Malformed(String),
    /// `iss` is not the OP.
    #[error("UserInfo iss {0} is not the provider")]
    WrongIssuer(String),
    /// `aud` is not our `client_id`.
    #[error("UserInfo aud {0:?} is not this client")]
    WrongAudience(Vec<String>),
    /// `sub` differs from the ID Token's (OIDC Core §5.3.2).
    #[error("UserInfo sub differs from the ID token's")]
    SubMismatch,
    /// `exp` passed or out of range.
    #[error("UserInfo {0}")]
    Time(TimeError),
}

/// What the UserInfo response is checked against.
#[derive(Debug, Clone)]
pub struct UserInfoCheck<'a> {
    /// The OP's `issuer`.
    pub issuer: &'a str,
    /// Our `client_id`.
    pub client_id: &'a str,
    /// The OP's core keys.
    pub jwks: &'a JwkSet,
    /// The ID Token's `sub`.
    pub sub: &'a str,
    /// Now.
    pub now: UnixTime,
}

/// Decrypts with `enc_key` (the RP key the JWE `kid` names), then verifies the nested JWS
/// with the OP key its `kid` names (SPID/CIE OIDC §B.3; django RP does the same).
pub fn decode_userinfo(jwe: &str, enc_key: &RsaKey, c: &UserInfoCheck<'_>) -> Result<UserInfo, UserInfoError> {
    let (_, plain) = jwe_rsa::decrypt(jwe.trim(), enc_key)?;
    let inner = std::str::from_utf8(&plain).map_err(|_| UserInfoError::Malformed("nested JWT is not UTF-8".into()))?;
    let (_, claims) = jwt::verify(inner, c.jwks, &jwt::ALLOWED_ALGS)?;
    // §B.3 lists `iss` and `aud` in the nested JWS, but the django OP (spid-cie-oidc 1.6)
    // sends only `sub` and the attributes. To interoperate they may be absent; when present
    // they must be the OP and us. Without them the binding still holds: the JWS verifies
    // with the OP's resolved key and the JWE was encrypted to our key.
    if let Some(iss) = claims.get("iss")
        && iss.as_str() != Some(c.issuer)
    {
        return Err(UserInfoError::WrongIssuer(iss.as_str().unwrap_or_default().to_owned()));
    }
    let aud = jwt::audiences(&claims);
    if claims.contains_key("aud") && !aud.iter().any(|a| a == c.client_id) {
        return Err(UserInfoError::WrongAudience(aud));
    }
    // `exp` is optional here (the django OP omits it); when present it is checked.
    if claims.contains_key("exp") {
        let window = Window { skew: SKEW, iat_ahead: SKEW, iat_required: false, max_lifetime: None };
        crate::time::check(&claims, &window, c.now).map_err(UserInfoError::Time)?;
    }
    let info: UserInfo = serde_json::from_value(Value::Object(claims)).map_err(|e| UserInfoError::Malformed(e.to_string()))?;
    if !wallet_core::subtle_eq(info.sub.as_bytes(), c.sub.as_bytes()) {
        return Err(UserInfoError::SubMismatch);
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OIDC Core §3.1.3.6 example shape: RS256 takes the left 128 bits of SHA-256.
    #[test]
    fn at_hash_is_left_half() {
        assert_eq!(at_hash(JwsAlg::Rs256, "x").len(), 22);
        assert_eq!(at_hash(JwsAlg::Rs512, "x").len(), 43);
    }
}
