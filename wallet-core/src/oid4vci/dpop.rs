//! DPoP proofs (RFC 9449), as IT-Wallet 1.4 §3.3 requires them at the token endpoint (a new
//! key per wallet instance; header `typ: dpop+jwt`, `alg`, `jwk`; claims `jti`, `htm`, `htu`,
//! `iat`) and at the credential, deferred and notification endpoints (plus `ath`, the hash
//! of the access token).
//!
//! Wallet: [`dpop_proof`]. Issuer: [`verify_dpop`] runs the checks of RFC 9449 §4.3 (2–12)
//! and returns a [`VerifiedDpop`] whose `jti` the caller must remember for the proof's
//! lifetime (replay, §11.1) and whose thumbprint binds the access token (`cnf.jkt`, §6).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::ErrorCode;
use super::no_kid;
use crate::jose::{CompactJws, JoseError, Jwk, JwkThumbprint, JwsAlg, JwsHeader, Signer, b64, jws};
use crate::time::UnixTime;

/// `typ` of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_TYP: &str = "dpop+jwt";
/// The HTTP header carrying the proof.
pub const DPOP_HEADER: &str = "DPoP";
/// The HTTP header carrying a server-provided nonce (RFC 9449 §8).
pub const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";
/// The oldest `iat` accepted by default (seconds before now).
pub const DEFAULT_MAX_AGE: i64 = 300;
/// Clock skew tolerated for an `iat` in the future (seconds).
pub const DEFAULT_SKEW: i64 = 60;
/// The longest `jti` accepted (our replay store keys on it).
pub const MAX_JTI_LEN: usize = 256;
/// The largest DPoP proof accepted (bytes): a header key and a few claims.
pub const MAX_PROOF_LEN: usize = 8 * 1024;

/// Why a DPoP proof was refused: one variant per check of RFC 9449 §4.3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// Not a compact JWS, a forbidden `alg` (`none`, HMAC), a `jwk` with private members
    /// (§4.3 steps 2, 5, 7).
    #[error("malformed DPoP proof: {0}")]
    Malformed(JoseError),
    /// A claim is missing or of the wrong type (§4.3 step 3).
    #[error("DPoP proof claims malformed: {0}")]
    BadClaims(String),
    /// `typ` is not `dpop+jwt` (§4.3 step 4).
    #[error("DPoP typ {0:?} is not dpop+jwt")]
    WrongTyp(Option<String>),
    /// The algorithm is not among those the server accepts (§4.3 step 5).
    #[error("DPoP alg {0} not accepted")]
    AlgNotAllowed(JwsAlg),
    /// No `jwk` header (§4.2).
    #[error("DPoP proof has no jwk header")]
    MissingJwk,
    /// The signature does not verify with the header's `jwk` (§4.3 step 6).
    #[error("DPoP signature invalid")]
    BadSignature,
    /// `htm` is not the request's method (§4.3 step 8).
    #[error("htm `{found}` is not the request method `{expected}`")]
    HtmMismatch {
        /// The request's method.
        expected: String,
        /// `htm`.
        found: String,
    },
    /// `htu` is not the request's URI without query and fragment (§4.3 step 9).
    #[error("htu `{found}` is not the request URI `{expected}`")]
    HtuMismatch {
        /// The request URI, normalised.
        expected: String,
        /// `htu`.
        found: String,
    },
    /// The server requires a nonce and the proof has none or another one (§4.3 step 10, §8).
    #[error("DPoP nonce missing or not the one issued")]
    UseNonce,
    /// `iat` outside the accepted window (§4.3 step 11).
    #[error("iat {iat} outside [{min}, {max}]")]
    IatOutOfWindow {
        /// `iat`.
        iat: i64,
        /// The oldest accepted.
        min: i64,
        /// The latest accepted.
        max: i64,
    },
    /// An access token is presented and the proof has no `ath` (§4.3 step 12).
    #[error("DPoP proof has no ath for the access token")]
    MissingAth,
    /// `ath` is not the hash of the presented access token (§4.3 step 12).
    #[error("ath does not match the access token")]
    AthMismatch,
    /// The proof's key is not the one the access or refresh token is bound to (§4.3 step 12,
    /// §6: `cnf.jkt`).
    #[error("DPoP key is not the key the token is bound to")]
    KeyMismatch,
    /// Building a proof failed.
    #[error("cannot build DPoP proof: {0}")]
    Build(String),
}

impl DpopError {
    /// `use_dpop_nonce` for a missing or wrong nonce (§8), `invalid_dpop_proof` otherwise
    /// (§7.1; IT-Wallet §3.3 token errors).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UseNonce => ErrorCode::UseDpopNonce,
            Self::Build(_) => ErrorCode::ServerError,
            _ => ErrorCode::InvalidDpopProof,
        }
    }
}

/// The claims of a DPoP proof (RFC 9449 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DpopClaims {
    /// Unique id.
    pub jti: String,
    /// HTTP method.
    pub htm: String,
    /// HTTP URI without query and fragment.
    pub htu: String,
    /// Issued at.
    pub iat: i64,
    /// Hash of the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ath: Option<String>,
    /// Server-provided nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// `ath`: base64url of the SHA-256 of the access token's ASCII (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    b64::encode(Sha256::digest(access_token.as_bytes()))
}

/// `htu` normal form (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2–6.2.3): parsed as a URL
/// (scheme and host lower-cased, default port dropped, dot segments removed), query and
/// fragment dropped. `None` when it does not parse.
pub fn normalize_htu(uri: &str) -> Option<String> {
    let mut u = url::Url::parse(uri).ok()?;
    if u.cannot_be_a_base() {
        return None;
    }
    u.set_query(None);
    u.set_fragment(None);
    Some(u.to_string())
}

/// Wallet side: a proof for `htm` `htu` (query and fragment are dropped), signed by `key`
/// with its public key in `jwk`; with `ath` when `access_token` is given and `nonce` when
/// the server sent one.
pub fn dpop_proof(
    key: &dyn Signer,
    htm: &str,
    htu: &str,
    access_token: Option<&str>,
    nonce: Option<&str>,
    now: UnixTime,
) -> Result<String, DpopError> {
    let htu = normalize_htu(htu).ok_or_else(|| DpopError::Build(format!("htu `{htu}` is not a URL")))?;
    let claims = DpopClaims {
        jti: super::random_jti().map_err(|e| DpopError::Build(e.to_string()))?,
        htm: htm.to_owned(),
        htu,
        iat: now.secs(),
        ath: access_token.map(access_token_hash),
        nonce: nonce.map(str::to_owned),
    };
    let mut header = JwsHeader::new(key.alg()).with_typ(DPOP_TYP);
    header.jwk = Some(Jwk::new(key.public_jwk().params));
    jws::sign_json(&header, &claims, &no_kid(key)).map_err(|e| DpopError::Build(e.to_string()))
}

/// What the server checks a proof against.
#[derive(Debug, Clone)]
pub struct DpopExpectation<'a> {
    /// The request's method (`POST`).
    pub htm: &'a str,
    /// The request's URI (the endpoint as the server publishes it).
    pub htu: &'a str,
    /// Now.
    pub now: UnixTime,
    /// The oldest `iat` accepted, in seconds before now.
    pub max_age: i64,
    /// The skew accepted for an `iat` in the future.
    pub skew: i64,
    /// The access token presented with the proof (resource endpoints): `ath` required.
    pub access_token: Option<&'a str>,
    /// The nonce the server requires, when it issued one.
    pub nonce: Option<&'a str>,
    /// The algorithms accepted (`dpop_signing_alg_values_supported`); empty: any the JOSE
    /// layer accepts (asymmetric only).
    pub algs: &'a [JwsAlg],
}

impl<'a> DpopExpectation<'a> {
    /// A proof for `htm` `htu` at `now`, with [`DEFAULT_MAX_AGE`], [`DEFAULT_SKEW`], no access
    /// token, no nonce, ES256/ES384/ES512.
    pub fn new(htm: &'a str, htu: &'a str, now: UnixTime) -> Self {
        const ES: [JwsAlg; 3] = [JwsAlg::Es256, JwsAlg::Es384, JwsAlg::Es512];
        Self { htm, htu, now, max_age: DEFAULT_MAX_AGE, skew: DEFAULT_SKEW, access_token: None, nonce: None, algs: &ES }
    }

    /// Requires `ath` for `token`.
    pub fn with_access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }

    /// Requires `nonce`.
    pub fn with_nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Some(nonce);
        self
    }
}

/// A verified DPoP proof.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedDpop {
    jwk: Jwk,
    jkt: JwkThumbprint,
    claims: DpopClaims,
}

impl VerifiedDpop {
    /// The proof's public key.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Its RFC 7638 thumbprint (`cnf.jkt` of the tokens issued to it).
    pub fn jkt(&self) -> &JwkThumbprint {
        &self.jkt
    }

    /// `jti`: the caller refuses one it has seen within the accepted window (§11.1).
    pub fn jti(&self) -> &str {
        &self.claims.jti
    }

    /// `iat`.
    pub fn iat(&self) -> UnixTime {
        UnixTime(self.claims.iat)
    }

    /// The claims.
    pub fn claims(&self) -> &DpopClaims {
        &self.claims
    }

    /// §4.3 step 12 / §6: the token is bound to this proof's key (`cnf.jkt`).
    pub fn check_binding(&self, jkt: &str) -> Result<(), DpopError> {
        if crate::subtle_eq(self.jkt.as_str().as_bytes(), jkt.as_bytes()) { Ok(()) } else { Err(DpopError::KeyMismatch) }
    }
}

/// Issuer side: RFC 9449 §4.3 checks 2–12 (the binding of an access token to the key is
/// [`VerifiedDpop::check_binding`]; the `jti` replay check is the caller's store).
pub fn verify_dpop(proof: &str, expect: &DpopExpectation<'_>) -> Result<VerifiedDpop, DpopError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(DpopError::Malformed(JoseError::TooLarge { what: "DPoP proof", len: proof.len(), limit: MAX_PROOF_LEN }));
    }
    let jws = CompactJws::parse(proof).map_err(DpopError::Malformed)?;
    let header = jws.header();
    if !header.typ_is(DPOP_TYP) {
        return Err(DpopError::WrongTyp(header.typ.clone()));
    }
    if !expect.algs.is_empty() && !expect.algs.contains(&header.alg) {
        return Err(DpopError::AlgNotAllowed(header.alg));
    }
    let jwk = header.jwk.clone().ok_or(DpopError::MissingJwk)?;
    jws.verify(&jwk).map_err(|_| DpopError::BadSignature)?;
    let claims: DpopClaims = serde_json::from_slice(jws.payload()).map_err(|e| DpopError::BadClaims(e.to_string()))?;
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_LEN {
        return Err(DpopError::BadClaims("jti empty or over-long".into()));
    }
    if claims.htm != expect.htm {
        return Err(DpopError::HtmMismatch { expected: expect.htm.to_owned(), found: claims.htm });
    }
    // The same bytes have the same normal form: the proof's `htu` is parsed only when its
    // bytes differ from the expected URL's.
    let expected_htu = normalize_htu(expect.htu);
    if expected_htu.is_none() || (claims.htu != expect.htu && normalize_htu(&claims.htu) != expected_htu) {
        return Err(DpopError::HtuMismatch { expected: expected_htu.unwrap_or_else(|| expect.htu.to_owned()), found: claims.htu });
    }
    if let Some(nonce) = expect.nonce {
        let got = claims.nonce.as_deref().unwrap_or_default();
        if !crate::subtle_eq(got.as_bytes(), nonce.as_bytes()) {
            return Err(DpopError::UseNonce);
        }
    }
    let min = expect.now.secs().saturating_sub(expect.max_age);
    let max = expect.now.secs().saturating_add(expect.skew);
    if claims.iat < min || claims.iat > max {
        return Err(DpopError::IatOutOfWindow { iat: claims.iat, min, max });
    }
    if let Some(token) = expect.access_token {
        let ath = claims.ath.as_deref().ok_or(DpopError::MissingAth)?;
        if !crate::subtle_eq(ath.as_bytes(), access_token_hash(token).as_bytes()) {
            return Err(DpopError::AthMismatch);
        }
    }
    let jkt = jwk.thumbprint();
    Ok(VerifiedDpop { jwk, jkt, claims })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SoftwareSigner;

    const NOW: UnixTime = UnixTime(1_800_000_000);
    const TOKEN: &str = "https://issuer.example.it/token";
    const CRED: &str = "https://issuer.example.it/credential";

    fn key() -> SoftwareSigner {
        SoftwareSigner::generate().unwrap()
    }

    #[test]
    fn token_endpoint_proof_round_trips() {
        let k = key();
        let p = dpop_proof(&k, "POST", "https://Issuer.example.it:443/token?x=1#f", None, None, NOW).unwrap();
        let v = verify_dpop(&p, &DpopExpectation::new("POST", TOKEN, NOW)).unwrap();
        // Other bytes, the same normal form (RFC 9449 §4.3: query and fragment ignored).
        verify_dpop(&p, &DpopExpectation::new("POST", "https://ISSUER.example.it:443/token?y=2", NOW)).unwrap();
        assert_eq!(v.jkt(), &k.public_jwk().thumbprint());
        assert_eq!(v.claims().htu, TOKEN);
        assert!(!v.jti().is_empty());
        assert_eq!(v.iat(), NOW);
        v.check_binding(k.public_jwk().thumbprint().as_str()).unwrap();
        let header = CompactJws::parse(&p).unwrap().into_header();
        assert_eq!(header.kid, None);
        assert_eq!(header.typ.as_deref(), Some(DPOP_TYP));
    }

    #[test]
    fn resource_proof_with_ath_and_nonce_round_trips() {
        let k = key();
        let p = dpop_proof(&k, "POST", CRED, Some("at-123"), Some("srv-nonce"), NOW).unwrap();
        verify_dpop(&p, &DpopExpectation::new("POST", CRED, NOW).with_access_token("at-123").with_nonce("srv-nonce")).unwrap();
    }

    #[test]
    fn dpop_for_another_url_is_refused() {
        let p = dpop_proof(&key(), "POST", TOKEN, None, None, NOW).unwrap();
        let err = verify_dpop(&p, &DpopExpectation::new("POST", CRED, NOW)).unwrap_err();
        assert!(matches!(err, DpopError::HtuMismatch { .. }));
        assert_eq!(err.code(), ErrorCode::InvalidDpopProof);
    }

    #[test]
    fn dpop_for_another_method_is_refused() {
        let p = dpop_proof(&key(), "GET", TOKEN, None, None, NOW).unwrap();
        let err = verify_dpop(&p, &DpopExpectation::new("POST", TOKEN, NOW)).unwrap_err();
        assert_eq!(err, DpopError::HtmMismatch { expected: "POST".into(), found: "GET".into() });
    }

    #[test]
    fn dpop_for_another_key_is_refused_by_the_binding() {
        let p = dpop_proof(&key(), "POST", CRED, Some("at"), None, NOW).unwrap();
        let v = verify_dpop(&p, &DpopExpectation::new("POST", CRED, NOW).with_access_token("at")).unwrap();
        let err = v.check_binding(key().public_jwk().thumbprint().as_str()).unwrap_err();
        assert_eq!(err, DpopError::KeyMismatch);
    }

    #[test]
    fn wrong_or_missing_ath_is_refused() {
        let k = key();
        let p = dpop_proof(&k, "POST", CRED, Some("other-token"), None, NOW).unwrap();
        let e = DpopExpectation::new("POST", CRED, NOW).with_access_token("at");
        assert_eq!(verify_dpop(&p, &e).unwrap_err(), DpopError::AthMismatch);
        let p = dpop_proof(&k, "POST", CRED, None, None, NOW).unwrap();
        assert_eq!(verify_dpop(&p, &e).unwrap_err(), DpopError::MissingAth);
    }

    #[test]
    fn stale_or_future_iat_is_refused() {
        let k = key();
        let old = dpop_proof(&k, "POST", TOKEN, None, None, NOW.plus(-DEFAULT_MAX_AGE - 1)).unwrap();
        let err = verify_dpop(&old, &DpopExpectation::new("POST", TOKEN, NOW)).unwrap_err();
        assert!(matches!(err, DpopError::IatOutOfWindow { .. }));
        let future = dpop_proof(&k, "POST", TOKEN, None, None, NOW.plus(DEFAULT_SKEW + 1)).unwrap();
        assert!(matches!(verify_dpop(&future, &DpopExpectation::new("POST", TOKEN, NOW)), Err(DpopError::IatOutOfWindow { .. })));
    }

    #[test]
    fn missing_or_wrong_nonce_is_use_dpop_nonce() {
        let k = key();
        let e = DpopExpectation::new("POST", TOKEN, NOW).with_nonce("n1");
        let none = dpop_proof(&k, "POST", TOKEN, None, None, NOW).unwrap();
        let err = verify_dpop(&none, &e).unwrap_err();
        assert_eq!(err, DpopError::UseNonce);
        assert_eq!(err.code(), ErrorCode::UseDpopNonce);
        let other = dpop_proof(&k, "POST", TOKEN, None, Some("n2"), NOW).unwrap();
        assert_eq!(verify_dpop(&other, &e).unwrap_err(), DpopError::UseNonce);
    }

    #[test]
    fn wrong_typ_missing_jwk_and_foreign_signature_are_refused() {
        let k = key();
        let claims = DpopClaims { jti: "j".into(), htm: "POST".into(), htu: TOKEN.into(), iat: NOW.secs(), ath: None, nonce: None };
        let mut h = JwsHeader::new(k.alg()).with_typ("JWT");
        h.jwk = Some(k.public_jwk());
        let e = DpopExpectation::new("POST", TOKEN, NOW);
        let p = jws::sign_json(&h, &claims, &k).unwrap();
        assert_eq!(verify_dpop(&p, &e).unwrap_err(), DpopError::WrongTyp(Some("JWT".into())));
        let h = JwsHeader::new(k.alg()).with_typ(DPOP_TYP);
        let p = jws::sign_json(&h, &claims, &k).unwrap();
        assert_eq!(verify_dpop(&p, &e).unwrap_err(), DpopError::MissingJwk);
        let mut h = JwsHeader::new(k.alg()).with_typ(DPOP_TYP);
        h.jwk = Some(key().public_jwk());
        let p = jws::sign_json(&h, &claims, &k).unwrap();
        assert_eq!(verify_dpop(&p, &e).unwrap_err(), DpopError::BadSignature);
    }

    #[test]
    fn private_key_in_jwk_header_is_refused() {
        // RFC 9449 §4.3 step 7: the header key must not carry private members.
        let k = key();
        let header = format!(r#"{{"alg":"ES256","typ":"dpop+jwt","jwk":{}}}"#, k.private_jwk().to_json());
        let claims = serde_json::to_string(&DpopClaims { jti: "j".into(), htm: "POST".into(), htu: TOKEN.into(), iat: NOW.secs(), ath: None, nonce: None }).unwrap();
        let input = format!("{}.{}", b64::encode(header), b64::encode(claims));
        let proof = format!("{input}.{}", b64::encode(k.sign(input.as_bytes()).unwrap()));
        let err = verify_dpop(&proof, &DpopExpectation::new("POST", TOKEN, NOW)).unwrap_err();
        assert!(matches!(err, DpopError::Malformed(JoseError::BadJson { .. } | JoseError::InvalidKey(_))), "{err:?}");
        assert_eq!(err.code(), ErrorCode::InvalidDpopProof);
    }

    #[test]
    fn alg_outside_the_accepted_set_is_refused() {
        let p = dpop_proof(&key(), "POST", TOKEN, None, None, NOW).unwrap();
        let mut e = DpopExpectation::new("POST", TOKEN, NOW);
        e.algs = &[JwsAlg::Es384];
        assert_eq!(verify_dpop(&p, &e).unwrap_err(), DpopError::AlgNotAllowed(JwsAlg::Es256));
    }

    #[test]
    fn htu_normalisation() {
        assert_eq!(normalize_htu("HTTPS://A.example:443/p/../t?q#f").as_deref(), Some("https://a.example/t"));
        assert_eq!(normalize_htu("not a url"), None);
    }
}
