//! Signed JWTs of the profile on wallet-core's JWS: sign with a [`Signer`], verify with the
//! key a JWKS names by `kid`, only with the algorithms the profile allows (SPID/CIE OIDC §B.4:
//! RS256/RS512 MUST, ES256/ES512/PS256/PS512 RECOMMENDED; `none` and HMAC never — wallet-core
//! refuses those at parse time).

use serde_json::{Map, Value};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{CompactJws, JoseError, JwsAlg, JwsHeader, Signer, jws};

/// Algorithms accepted on JWTs of the profile.
pub const ALLOWED_ALGS: [JwsAlg; 6] = [JwsAlg::Rs256, JwsAlg::Rs512, JwsAlg::Es256, JwsAlg::Es512, JwsAlg::Ps256, JwsAlg::Ps512];

/// Why a JWT was refused before its claims were looked at.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not a JWS, or a payload that is not a JSON object.
    #[error("malformed JWT: {0}")]
    Malformed(JoseError),
    /// An algorithm outside [`ALLOWED_ALGS`] (or outside the caller's narrower list).
    #[error("algorithm {0} not accepted here")]
    AlgNotAllowed(JwsAlg),
    /// No `kid` in the header.
    #[error("JWT header has no kid")]
    MissingKid,
    /// The `kid` is not in the signer's JWKS.
    #[error("kid {0} is not among the signer's keys")]
    UnknownKid(String),
    /// The signature does not verify.
    #[error("signature invalid")]
    BadSignature,
}

/// Signs `claims` as a compact JWS with `typ` (if given) and the signer's `kid`.
pub fn sign(claims: &Value, typ: Option<&str>, signer: &dyn Signer) -> Result<String, JoseError> {
    let mut h = JwsHeader::new(signer.alg()).with_kid(signer.kid());
    if let Some(t) = typ {
        h = h.with_typ(t);
    }
    jws::sign_json(&h, claims, signer)
}

/// Parses without verifying (to learn `iss`/`client_id` before the keys are known).
pub fn unverified_claims(jwt: &str) -> Result<(JwsHeader, Map<String, Value>), JwtError> {
    let parsed = CompactJws::parse(jwt.trim()).map_err(JwtError::Malformed)?;
    let claims: Map<String, Value> = parsed.payload_json().map_err(JwtError::Malformed)?;
    Ok((parsed.into_header(), claims))
}

/// Verifies `jwt` with the key of `jwks` its `kid` names, with an algorithm in `algs`.
pub fn verify(jwt: &str, jwks: &JwkSet, algs: &[JwsAlg]) -> Result<(JwsHeader, Map<String, Value>), JwtError> {
    let parsed = CompactJws::parse(jwt.trim()).map_err(JwtError::Malformed)?;
    let h = parsed.header();
    if !algs.contains(&h.alg) || !ALLOWED_ALGS.contains(&h.alg) {
        return Err(JwtError::AlgNotAllowed(h.alg));
    }
    let kid = h.kid.as_deref().ok_or(JwtError::MissingKid)?;
    // Only signing keys: a key marked `use: enc` never verifies.
    let key = jwks
        .keys
        .iter()
        .find(|k| k.kid.as_deref() == Some(kid) && k.key_use.as_deref() != Some("enc"))
        .ok_or_else(|| JwtError::UnknownKid(kid.to_owned()))?;
    parsed.verify(key).map_err(|_| JwtError::BadSignature)?;
    let claims: Map<String, Value> = parsed.payload_json().map_err(JwtError::Malformed)?;
    Ok((parsed.into_header(), claims))
}

/// A string claim.
pub(crate) fn str_claim<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

/// `aud` as a list (a single string or an array of strings).
pub(crate) fn audiences(m: &Map<String, Value>) -> Vec<String> {
    match m.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}
