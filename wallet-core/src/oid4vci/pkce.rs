//! PKCE (RFC 7636) with `S256` only (IT-Wallet 1.4 §3.3: `code_challenge_method=S256`;
//! `plain` is refused): the wallet makes a [`CodeVerifier`] and sends its
//! [`CodeChallenge`] in the PAR request object; the issuer checks the token request's
//! `code_verifier` against the stored challenge in constant time.

use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::ErrorCode;
use crate::jose::b64;

/// The only `code_challenge_method` we send or accept.
pub const S256: &str = "S256";
/// RFC 7636 §4.1: 43 to 128 characters.
pub const VERIFIER_MIN_LEN: usize = 43;
/// RFC 7636 §4.1.
pub const VERIFIER_MAX_LEN: usize = 128;

/// Why a PKCE value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkceError {
    /// `code_verifier` is not 43–128 unreserved characters (RFC 7636 §4.1).
    #[error("code_verifier must be 43-128 unreserved characters")]
    BadVerifier,
    /// `code_challenge` is not a base64url SHA-256 (43 characters).
    #[error("code_challenge is not a base64url SHA-256")]
    BadChallenge,
    /// `code_challenge_method` is not `S256` (IT-Wallet §3.3; `plain` refused).
    #[error("code_challenge_method must be S256, got {0:?}")]
    UnsupportedMethod(Option<String>),
    /// The verifier does not hash to the challenge (RFC 7636 §4.6).
    #[error("code_verifier does not match code_challenge")]
    Mismatch,
    /// No randomness to make a verifier.
    #[error("no randomness")]
    Random,
}

impl PkceError {
    /// `invalid_grant` for a mismatch at the token endpoint (RFC 7636 §4.6), otherwise
    /// `invalid_request`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Mismatch => ErrorCode::InvalidGrant,
            Self::Random => ErrorCode::ServerError,
            _ => ErrorCode::InvalidRequest,
        }
    }
}

/// A `code_verifier`: secret, zeroized, redacted in `Debug`, no `PartialEq`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct CodeVerifier(String);

impl std::fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeVerifier(..)")
    }
}

impl CodeVerifier {
    /// A fresh verifier: 32 random bytes, base64url (43 characters, RFC 7636 §4.1).
    pub fn generate() -> Result<Self, PkceError> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|_| PkceError::Random)?;
        let v = b64::encode(b);
        b.zeroize();
        Ok(Self(v))
    }

    /// A verifier received in a token request, checked for length and alphabet.
    pub fn parse(s: &str) -> Result<Self, PkceError> {
        let ok_len = (VERIFIER_MIN_LEN..=VERIFIER_MAX_LEN).contains(&s.len());
        let ok_chars = s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if ok_len && ok_chars { Ok(Self(s.to_owned())) } else { Err(PkceError::BadVerifier) }
    }

    /// The text sent as `code_verifier`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2).
    pub fn challenge(&self) -> CodeChallenge {
        CodeChallenge(b64::encode(Sha256::digest(self.0.as_bytes())))
    }
}

/// A `code_challenge` with method `S256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Checks a received challenge and its method: `S256` only, a 43-character base64url
    /// value. A missing method is refused: RFC 7636 would default to `plain`.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, PkceError> {
        if method != Some(S256) {
            return Err(PkceError::UnsupportedMethod(method.map(str::to_owned)));
        }
        match b64::decode(challenge) {
            Ok(d) if d.len() == 32 && challenge.len() == 43 => Ok(Self(challenge.to_owned())),
            _ => Err(PkceError::BadChallenge),
        }
    }

    /// The base64url text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: `verifier` hashes to this challenge, compared in constant time.
    pub fn verify(&self, verifier: &CodeVerifier) -> Result<(), PkceError> {
        if crate::subtle_eq(verifier.challenge().0.as_bytes(), self.0.as_bytes()) { Ok(()) } else { Err(PkceError::Mismatch) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert_eq!(v.challenge().as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let c = CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Some("S256")).unwrap();
        c.verify(&v).unwrap();
    }

    #[test]
    fn generated_verifier_round_trips_and_debug_is_redacted() {
        let v = CodeVerifier::generate().unwrap();
        assert_eq!(v.as_str().len(), 43);
        let c = v.challenge();
        CodeChallenge::parse(c.as_str(), Some(S256)).unwrap().verify(&CodeVerifier::parse(v.as_str()).unwrap()).unwrap();
        assert_eq!(format!("{v:?}"), "CodeVerifier(..)");
    }

    #[test]
    fn pkce_mismatch_is_invalid_grant() {
        let c = CodeVerifier::generate().unwrap().challenge();
        let err = c.verify(&CodeVerifier::generate().unwrap()).unwrap_err();
        assert_eq!(err, PkceError::Mismatch);
        assert_eq!(err.code(), ErrorCode::InvalidGrant);
    }

    #[test]
    fn plain_or_missing_method_and_bad_values_are_refused() {
        let c = CodeVerifier::generate().unwrap().challenge();
        assert_eq!(CodeChallenge::parse(c.as_str(), Some("plain")), Err(PkceError::UnsupportedMethod(Some("plain".into()))));
        assert_eq!(CodeChallenge::parse(c.as_str(), None), Err(PkceError::UnsupportedMethod(None)));
        assert_eq!(CodeChallenge::parse("short", Some(S256)), Err(PkceError::BadChallenge));
        assert_eq!(CodeVerifier::parse(&"a".repeat(42)).unwrap_err(), PkceError::BadVerifier);
        assert_eq!(CodeVerifier::parse(&"a".repeat(129)).unwrap_err(), PkceError::BadVerifier);
        assert_eq!(CodeVerifier::parse(&format!("{}!", "a".repeat(43))).unwrap_err(), PkceError::BadVerifier);
    }
}
