//! JWT access and refresh tokens of the issuer's authorization server (RFC 9068; IT-Wallet
//! 1.4 §3.3 "Access Token JWT": `typ: at+jwt`, `kid`; claims `iss`, `sub`, `client_id`,
//! `aud` = the credential issuer, `iat`, `exp`, `jti`, `cnf.jkt` = the DPoP key's
//! thumbprint; "Refresh Token JWT": `typ: rt+jwt`, the same claims plus `nbf`).
//!
//! The issuer builds them ([`TokenClaims::sign`]) and verifies them at its own endpoints
//! ([`verify_token`], then [`VerifiedToken::check_dpop`]). An access token obtained with a
//! refresh token carries `refreshed: true`, so that the credential endpoint refuses it for a
//! first issuance ([`VerifiedToken::require_first_issuance_allowed`], IT-Wallet §3.3
//! "Refresh": limited to deferred, notification and re-issuance).

use serde::{Deserialize, Serialize};

use super::dpop::VerifiedDpop;
use super::error::ErrorCode;
use super::token::AuthorizationDetail;
use crate::attestation::Audience;
use crate::jose::{CompactJws, JoseError, Jwk, JwkThumbprint, JwsHeader, Signer, jws};
use crate::time::{Skew, TimeError, TimeWindow, UnixTime, check_window};

/// `typ` of an access token (RFC 9068 §2.1).
pub const AT_TYP: &str = "at+jwt";
/// `typ` of a refresh token (IT-Wallet §3.3).
pub const RT_TYP: &str = "rt+jwt";

/// Access or refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `at+jwt`.
    Access,
    /// `rt+jwt`.
    Refresh,
}

impl TokenKind {
    /// The `typ`.
    pub fn typ(self) -> &'static str {
        match self {
            Self::Access => AT_TYP,
            Self::Refresh => RT_TYP,
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a compact JWS, or a forbidden `alg`.
    #[error("malformed token: {0}")]
    Malformed(JoseError),
    /// Claims missing or of the wrong type.
    #[error("token claims malformed: {0}")]
    BadClaims(String),
    /// `typ` is not `at+jwt` / `rt+jwt` (RFC 9068 §4: explicit typing).
    #[error("token typ {found:?} is not {expected}")]
    WrongTyp {
        /// The expected `typ`.
        expected: &'static str,
        /// Found.
        found: Option<String>,
    },
    /// Not signed by the authorization server's key.
    #[error("token signature invalid")]
    BadSignature,
    /// `iss` is not our authorization server (RFC 9068 §4).
    #[error("token iss `{0}` is not ours")]
    IssuerMismatch(String),
    /// `aud` does not name this resource (RFC 9068 §4).
    #[error("token aud does not name `{0}`")]
    AudienceMismatch(String),
    /// `exp` passed, or another time rule.
    #[error("token time: {0}")]
    Time(TimeError),
    /// The DPoP proof's key is not `cnf.jkt` (RFC 9449 §6.1, IT-Wallet §8 "an RT not bound to
    /// the DPoP key").
    #[error("token is bound to another DPoP key")]
    DpopKeyMismatch,
    /// A token for another client than the one authenticated.
    #[error("token issued to another client")]
    ClientMismatch,
    /// An access token obtained by refresh, presented for a first issuance (IT-Wallet §3.3
    /// "Refresh": MUST NOT).
    #[error("an access token from a refresh cannot be used for a first issuance")]
    RefreshedTokenForFirstIssuance,
    /// Signing failed.
    #[error("cannot sign token: {0}")]
    Build(String),
}

impl TokenError {
    /// For an access token: `invalid_token` (RFC 6750 §3.1), `invalid_dpop_proof` for a key
    /// mismatch (RFC 9449 §7.1); for a refresh token at the token endpoint: `invalid_grant`
    /// (IT-Wallet §3.3 "an invalid RT gets invalid_grant").
    ///
    /// \[AMBIG\] IT-Wallet §3.3 forbids a refresh-derived access token for a first issuance
    /// without naming the error: we answer `credential_request_denied` (OpenID4VCI §8.3.1.2:
    /// the request is well formed and the token valid, the issuance is refused).
    pub fn code(&self, kind: TokenKind) -> ErrorCode {
        match (self, kind) {
            (Self::Build(_), _) => ErrorCode::ServerError,
            (_, TokenKind::Refresh) => ErrorCode::InvalidGrant,
            (Self::DpopKeyMismatch, TokenKind::Access) => ErrorCode::InvalidDpopProof,
            (Self::RefreshedTokenForFirstIssuance, TokenKind::Access) => ErrorCode::CredentialRequestDenied,
            (_, TokenKind::Access) => ErrorCode::InvalidToken,
        }
    }
}

/// `cnf` with a JWK thumbprint (RFC 9449 §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JktCnf {
    /// The DPoP key's RFC 7638 thumbprint.
    pub jkt: String,
}

/// The claims of an `at+jwt` or `rt+jwt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The authorization server.
    pub iss: String,
    /// The subject (a pseudonymous id of the user's authorization).
    pub sub: String,
    /// The credential issuer.
    pub aud: Audience,
    /// The client (the wallet instance's key thumbprint).
    pub client_id: String,
    /// Issued at.
    pub iat: i64,
    /// Not before (refresh tokens: about the access token's `exp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Expiry.
    pub exp: i64,
    /// Unique id.
    pub jti: String,
    /// The DPoP binding.
    pub cnf: JktCnf,
    /// Granted scope, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Granted authorization details (with `credential_identifiers`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
    /// Obtained with a refresh token (Tessera's claim; absent means `false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refreshed: bool,
}

impl TokenClaims {
    /// Claims for a token issued by `issuer` (also the audience: the credential issuer) at
    /// `iat` for `ttl` seconds to `client_id`, bound to the DPoP key `jkt`, with a random
    /// `jti`; no scope or details yet.
    pub fn new(issuer: &str, sub: impl Into<String>, client_id: impl Into<String>, jkt: &JwkThumbprint, iat: UnixTime, ttl: i64) -> Result<Self, TokenError> {
        let exp = iat.checked_add(ttl).map_err(TokenError::Time)?;
        Ok(Self {
            iss: issuer.to_owned(),
            sub: sub.into(),
            aud: Audience::One(issuer.to_owned()),
            client_id: client_id.into(),
            iat: iat.secs(),
            nbf: None,
            exp: exp.secs(),
            jti: super::random_jti().map_err(|e| TokenError::Build(e.to_string()))?,
            cnf: JktCnf { jkt: jkt.to_string() },
            scope: None,
            authorization_details: Vec::new(),
            refreshed: false,
        })
    }

    /// The refresh token that goes with these access-token claims (IT-Wallet §3.3: the same
    /// claims, `nbf` ≈ the access token's `exp`, a new `jti`), valid `ttl` seconds from `iat`.
    pub fn refresh_token(&self, ttl: i64) -> Result<Self, TokenError> {
        let iat = UnixTime::from_claim("iat", self.iat).map_err(TokenError::Time)?;
        let exp = iat.checked_add(ttl).map_err(TokenError::Time)?;
        let jti = super::random_jti().map_err(|e| TokenError::Build(e.to_string()))?;
        Ok(Self { nbf: Some(self.exp), exp: exp.secs(), jti, refreshed: false, ..self.clone() })
    }

    /// The access-token claims issued on a refresh at `now` for `ttl` seconds: the same grant,
    /// marked `refreshed` (limited to deferred, notification and re-issuance).
    pub fn refreshed_access(&self, now: UnixTime, ttl: i64) -> Result<Self, TokenError> {
        let exp = now.checked_add(ttl).map_err(TokenError::Time)?;
        let jti = super::random_jti().map_err(|e| TokenError::Build(e.to_string()))?;
        Ok(Self { iat: now.secs(), nbf: None, exp: exp.secs(), jti, refreshed: true, ..self.clone() })
    }

    /// Signs these claims as `kind` with the authorization server's key (`kid` from it).
    pub fn sign(&self, kind: TokenKind, key: &dyn Signer) -> Result<String, TokenError> {
        let header = JwsHeader::new(key.alg()).with_typ(kind.typ()).with_kid(key.kid());
        jws::sign_json(&header, self, key).map_err(|e| TokenError::Build(e.to_string()))
    }
}

/// A verified access or refresh token.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    kind: TokenKind,
    claims: TokenClaims,
}

impl VerifiedToken {
    /// The claims.
    pub fn claims(&self) -> &TokenClaims {
        &self.claims
    }

    /// Access or refresh.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// RFC 9449 §4.3 step 12 / §6.1: the DPoP proof presented with the token is made with
    /// the key of `cnf.jkt`.
    pub fn check_dpop(&self, proof: &VerifiedDpop) -> Result<(), TokenError> {
        proof.check_binding(&self.claims.cnf.jkt).map_err(|_| TokenError::DpopKeyMismatch)
    }

    /// The token was issued to `client_id` (the authenticated client at the token endpoint).
    pub fn check_client(&self, client_id: &str) -> Result<(), TokenError> {
        if self.claims.client_id == client_id { Ok(()) } else { Err(TokenError::ClientMismatch) }
    }

    /// IT-Wallet §3.3: an access token from a refresh is limited to the deferred,
    /// notification and re-issuance endpoints.
    pub fn require_first_issuance_allowed(&self) -> Result<(), TokenError> {
        if self.claims.refreshed { Err(TokenError::RefreshedTokenForFirstIssuance) } else { Ok(()) }
    }
}

/// What a token is checked against.
#[derive(Debug, Clone, Copy)]
pub struct TokenExpectation<'a> {
    /// Access or refresh.
    pub kind: TokenKind,
    /// The authorization server's signing key.
    pub key: &'a Jwk,
    /// The authorization server's id (`iss`).
    pub issuer: &'a str,
    /// This resource's id (`aud`): the credential issuer.
    pub audience: &'a str,
    /// Now.
    pub now: UnixTime,
    /// Clock skew.
    pub skew: i64,
}

/// Verifies a token (RFC 9068 §4): `typ`, signature by the server's key, `iss`, `aud`,
/// `exp`/`iat`/`nbf`.
pub fn verify_token(jwt: &str, expect: &TokenExpectation<'_>) -> Result<VerifiedToken, TokenError> {
    let jws = CompactJws::parse(jwt).map_err(TokenError::Malformed)?;
    let typ = expect.kind.typ();
    if !jws.header().typ_is(typ) {
        return Err(TokenError::WrongTyp { expected: typ, found: jws.header().typ.clone() });
    }
    jws.verify(expect.key).map_err(|_| TokenError::BadSignature)?;
    let claims: TokenClaims = jws.payload_json().map_err(|e| TokenError::BadClaims(e.to_string()))?;
    if claims.iss != expect.issuer {
        return Err(TokenError::IssuerMismatch(claims.iss));
    }
    if !claims.aud.contains(expect.audience) {
        return Err(TokenError::AudienceMismatch(expect.audience.to_owned()));
    }
    check_window(TimeWindow { iat: Some(claims.iat), nbf: claims.nbf, exp: Some(claims.exp) }, expect.now, Skew::new(expect.skew), None)
        .map_err(TokenError::Time)?;
    Ok(VerifiedToken { kind: expect.kind, claims })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SoftwareSigner;
    use crate::oid4vci::dpop::{DpopExpectation, dpop_proof, verify_dpop};

    const NOW: UnixTime = UnixTime(1_800_000_000);
    const AS: &str = "https://issuer.example.it";

    fn claims(jkt: &str) -> TokenClaims {
        TokenClaims {
            iss: AS.into(),
            sub: "sub-1".into(),
            aud: Audience::One(AS.into()),
            client_id: "client-1".into(),
            iat: NOW.secs(),
            nbf: None,
            exp: NOW.plus(300).secs(),
            jti: "jti-1".into(),
            cnf: JktCnf { jkt: jkt.into() },
            scope: Some("pid".into()),
            authorization_details: vec![],
            refreshed: false,
        }
    }

    fn expect<'a>(kind: TokenKind, key: &'a Jwk) -> TokenExpectation<'a> {
        TokenExpectation { kind, key, issuer: AS, audience: AS, now: NOW, skew: 60 }
    }

    #[test]
    fn access_token_round_trips_and_binds_to_the_dpop_key() {
        let (server, wallet) = (SoftwareSigner::generate().unwrap(), SoftwareSigner::generate().unwrap());
        let at = claims(wallet.public_jwk().thumbprint().as_str()).sign(TokenKind::Access, &server).unwrap();
        let v = verify_token(&at, &expect(TokenKind::Access, &server.public_jwk())).unwrap();
        assert_eq!(v.claims().client_id, "client-1");
        let p = dpop_proof(&wallet, "POST", "https://issuer.example.it/credential", Some(&at), None, NOW).unwrap();
        let p = verify_dpop(&p, &DpopExpectation::new("POST", "https://issuer.example.it/credential", NOW).with_access_token(&at)).unwrap();
        v.check_dpop(&p).unwrap();
        v.check_client("client-1").unwrap();
        v.require_first_issuance_allowed().unwrap();
    }

    #[test]
    fn access_token_bound_to_another_key_is_refused() {
        let (server, wallet) = (SoftwareSigner::generate().unwrap(), SoftwareSigner::generate().unwrap());
        let at = claims(wallet.public_jwk().thumbprint().as_str()).sign(TokenKind::Access, &server).unwrap();
        let v = verify_token(&at, &expect(TokenKind::Access, &server.public_jwk())).unwrap();
        let thief = SoftwareSigner::generate().unwrap();
        let p = dpop_proof(&thief, "POST", "https://issuer.example.it/credential", Some(&at), None, NOW).unwrap();
        let p = verify_dpop(&p, &DpopExpectation::new("POST", "https://issuer.example.it/credential", NOW).with_access_token(&at)).unwrap();
        let err = v.check_dpop(&p).unwrap_err();
        assert_eq!(err, TokenError::DpopKeyMismatch);
        assert_eq!(err.code(TokenKind::Access), ErrorCode::InvalidDpopProof);
        assert_eq!(err.code(TokenKind::Refresh), ErrorCode::InvalidGrant);
    }

    #[test]
    fn new_refresh_and_refreshed_claims() {
        let wallet = SoftwareSigner::generate().unwrap();
        let jkt = wallet.public_jwk().thumbprint();
        let at = TokenClaims::new(AS, "sub-1", "client-1", &jkt, NOW, 300).unwrap();
        assert_eq!((at.exp, at.cnf.jkt.as_str(), at.refreshed), (NOW.plus(300).secs(), jkt.as_str(), false));
        let rt = at.refresh_token(86_400).unwrap();
        assert_eq!((rt.nbf, rt.exp), (Some(at.exp), NOW.plus(86_400).secs()));
        assert_ne!(rt.jti, at.jti);
        let later = NOW.plus(400);
        let at2 = rt.refreshed_access(later, 300).unwrap();
        assert!(at2.refreshed);
        assert_eq!((at2.iat, at2.nbf, at2.cnf.jkt.as_str()), (later.secs(), None, jkt.as_str()));
        assert!(matches!(TokenClaims::new(AS, "s", "c", &jkt, UnixTime::MAX_VALID, 10), Err(TokenError::Time(_))));
    }

    #[test]
    fn refreshed_access_token_is_refused_for_a_first_issuance() {
        let server = SoftwareSigner::generate().unwrap();
        let mut c = claims("jkt");
        c.refreshed = true;
        let at = c.sign(TokenKind::Access, &server).unwrap();
        let v = verify_token(&at, &expect(TokenKind::Access, &server.public_jwk())).unwrap();
        assert_eq!(v.require_first_issuance_allowed(), Err(TokenError::RefreshedTokenForFirstIssuance));
    }

    #[test]
    fn typ_signature_issuer_audience_and_expiry_are_checked() {
        let server = SoftwareSigner::generate().unwrap();
        let key = server.public_jwk();
        let rt = claims("jkt").sign(TokenKind::Refresh, &server).unwrap();
        assert!(matches!(verify_token(&rt, &expect(TokenKind::Access, &key)), Err(TokenError::WrongTyp { .. })));
        verify_token(&rt, &expect(TokenKind::Refresh, &key)).unwrap();
        let at = claims("jkt").sign(TokenKind::Access, &server).unwrap();
        let other = SoftwareSigner::generate().unwrap().public_jwk();
        assert_eq!(verify_token(&at, &expect(TokenKind::Access, &other)), Err(TokenError::BadSignature));
        let mut e = expect(TokenKind::Access, &key);
        e.audience = "https://other.example.it";
        assert!(matches!(verify_token(&at, &e), Err(TokenError::AudienceMismatch(_))));
        let mut e = expect(TokenKind::Access, &key);
        e.issuer = "https://other.example.it";
        assert!(matches!(verify_token(&at, &e), Err(TokenError::IssuerMismatch(_))));
        let mut e = expect(TokenKind::Access, &key);
        e.now = NOW.plus(10_000);
        let err = verify_token(&at, &e).unwrap_err();
        assert!(matches!(err, TokenError::Time(TimeError::Expired { .. })));
        assert_eq!(err.code(TokenKind::Access), ErrorCode::InvalidToken);
    }
}
