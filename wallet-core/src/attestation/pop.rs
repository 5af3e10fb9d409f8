//! OAuth 2.0 Attestation-Based Client Authentication (draft 07, as IT-Wallet 1.4 §3.3
//! profiles it): the wallet sends its WAA in `OAuth-Client-Attestation` and a proof of
//! possession of the WAA's `cnf` key in `OAuth-Client-Attestation-PoP`
//! (`typ: oauth-client-attestation-pop+jwt`) to the issuer's PAR and token endpoints.
//!
//! PoP header: `typ`, `alg`, no `kid` (IT-Wallet: "the kid-less PoP is signed with the WAA
//! cnf key"). PoP claims: `iss` = the client id (thumbprint of the WAA `cnf.jwk`, the WAA's
//! `sub`), `aud` = the issuer id, `jti` (UUIDv4), `iat`, and `exp` (draft 07 requires it;
//! IT-Wallet lists only `iat` and optional `nbf`: we send both `iat` and `exp`, and accept a
//! PoP without `exp`). A server-provided challenge is sent as `challenge` (later drafts);
//! older servers' `nonce` is accepted in its place.

use serde::{Deserialize, Serialize};

use super::error::AttestationError;
use super::waa::{VerifiedWaa, verify_waa};
use super::{check_times, claims, parse_typed};
use crate::jose::{JwsHeader, Signer, jws};
use crate::sd_jwt::IssuerKeyResolver;
use crate::time::{TimeWindow, UnixTime};

/// The header carrying the WAA.
pub const CLIENT_ATTESTATION_HEADER: &str = "OAuth-Client-Attestation";
/// The header carrying the PoP.
pub const CLIENT_ATTESTATION_POP_HEADER: &str = "OAuth-Client-Attestation-PoP";
/// `typ` of the PoP.
pub const POP_TYP: &str = "oauth-client-attestation-pop+jwt";
/// `exp - iat` of the PoPs we build (seconds).
pub const POP_TTL: i64 = 300;
/// The oldest PoP `iat` accepted by default (seconds before now; IT-Wallet §3.3 "SHOULD
/// reject if more than 5 min off").
pub const DEFAULT_MAX_POP_AGE: i64 = 300;

/// `aud`: one string or an array (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` names `who`.
    pub fn contains(&self, who: &str) -> bool {
        match self {
            Self::One(a) => a == who,
            Self::Many(v) => v.iter().any(|a| a == who),
        }
    }
}

/// The PoP's claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopClaims {
    /// The client id.
    pub iss: String,
    /// The issuer (authorization server) id.
    pub aud: Audience,
    /// Unique id, for replay detection.
    pub jti: String,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The server's challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// Older drafts' name for the challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// The two header values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAttestationHeaders {
    /// `OAuth-Client-Attestation`: the WAA.
    pub attestation: String,
    /// `OAuth-Client-Attestation-PoP`.
    pub pop: String,
}

impl ClientAttestationHeaders {
    /// `(name, value)` pairs, ready for an HTTP request.
    pub fn pairs(&self) -> [(&'static str, &str); 2] {
        [(CLIENT_ATTESTATION_HEADER, &self.attestation), (CLIENT_ATTESTATION_POP_HEADER, &self.pop)]
    }
}

/// Wallet side: the headers for `audience` (the issuer id): the WAA `waa` as is, and a fresh
/// PoP signed by `waa_key` (the WAA's `cnf` key), carrying `challenge` when the server gave
/// one.
pub fn client_attestation_headers(
    waa: &str,
    waa_key: &dyn Signer,
    audience: &str,
    challenge: Option<&str>,
    now: UnixTime,
) -> Result<ClientAttestationHeaders, AttestationError> {
    let claims = PopClaims {
        iss: waa_key.public_jwk().thumbprint().to_string(),
        aud: Audience::One(audience.to_owned()),
        jti: super::uuid_v4()?,
        iat: Some(now.secs()),
        exp: Some(now.plus(POP_TTL).secs()),
        nbf: None,
        challenge: challenge.map(str::to_owned),
        nonce: None,
    };
    let header = JwsHeader::new(waa_key.alg()).with_typ(POP_TYP);
    let pop = jws::sign_json(&header, &claims, &crate::jose::WithoutKid(waa_key))?;
    Ok(ClientAttestationHeaders { attestation: waa.to_owned(), pop })
}

/// What the issuer checks the headers against.
pub struct ClientAttestationContext<'a> {
    /// The issuer's own id (the PoP's `aud`).
    pub audience: &'a str,
    /// Trusted wallet providers' keys.
    pub resolver: &'a dyn IssuerKeyResolver,
    /// Now.
    pub now: UnixTime,
    /// Clock skew.
    pub skew: i64,
    /// The oldest PoP accepted, in seconds before `now`.
    pub max_pop_age: i64,
    /// The challenge the server issued, when it requires one.
    pub expected_challenge: Option<&'a str>,
}

impl std::fmt::Debug for ClientAttestationContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAttestationContext").field("audience", &self.audience).field("now", &self.now).finish_non_exhaustive()
    }
}

impl<'a> ClientAttestationContext<'a> {
    /// Defaults: [`super::DEFAULT_SKEW`], [`DEFAULT_MAX_POP_AGE`], no challenge.
    pub fn new(audience: &'a str, resolver: &'a dyn IssuerKeyResolver, now: UnixTime) -> Self {
        Self { audience, resolver, now, skew: super::DEFAULT_SKEW, max_pop_age: DEFAULT_MAX_POP_AGE, expected_challenge: None }
    }
}

/// A verified client attestation: the WAA and the PoP's `jti` (the caller refuses a `jti`
/// already seen for this client id, IT-Wallet §3.3).
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedClientAttestation {
    /// The verified WAA.
    pub waa: VerifiedWaa,
    /// The PoP's `jti`.
    pub jti: String,
    /// The PoP's claims.
    pub pop: PopClaims,
}

impl VerifiedClientAttestation {
    /// The authenticated client id.
    pub fn client_id(&self) -> &str {
        self.waa.client_id()
    }
}

/// Issuer side: verifies the two headers (IT-Wallet §3.3 "validate the PoP, the WAA
/// signature and expiry"): the WAA with [`verify_waa`]; the PoP's `typ`, its signature by the
/// WAA's `cnf.jwk`, `iss` = the WAA's `sub`, `aud` naming the issuer, a non-empty `jti`,
/// `iat` present, not in the future and not older than `max_pop_age`, `exp` (if any) not
/// passed, and the challenge when one is expected.
pub fn verify_client_attestation(
    attestation: &str,
    pop: &str,
    ctx: &ClientAttestationContext<'_>,
) -> Result<VerifiedClientAttestation, AttestationError> {
    let waa = verify_waa(attestation, ctx.resolver, ctx.now, ctx.skew)?;
    let parsed = parse_typed(pop, POP_TYP)?;
    parsed.verify(waa.key()).map_err(|_| AttestationError::BadSignature)?;
    let c: PopClaims = claims(&parsed, "client attestation PoP")?;
    if c.iss != waa.client_id() {
        return Err(AttestationError::ClientIdMismatch);
    }
    if !c.aud.contains(ctx.audience) {
        return Err(AttestationError::AudienceMismatch { expected: ctx.audience.to_owned() });
    }
    if c.jti.is_empty() || c.jti.len() > 256 {
        return Err(AttestationError::Malformed { what: "client attestation PoP", detail: "jti empty or over-long".into() });
    }
    let iat = c.iat.ok_or_else(|| AttestationError::Malformed { what: "client attestation PoP", detail: "no iat".into() })?;
    let min = ctx.now.secs().saturating_sub(ctx.max_pop_age);
    if iat < min {
        return Err(AttestationError::TooOld { iat, min });
    }
    check_times(TimeWindow { iat: Some(iat), nbf: c.nbf, exp: c.exp }, ctx.now, ctx.skew, None)?;
    if let Some(expected) = ctx.expected_challenge {
        let got = c.challenge.as_deref().or(c.nonce.as_deref()).unwrap_or_default();
        if !crate::subtle_eq(got.as_bytes(), expected.as_bytes()) {
            return Err(AttestationError::NonceMismatch);
        }
    }
    Ok(VerifiedClientAttestation { waa, jti: c.jti.clone(), pop: c })
}
