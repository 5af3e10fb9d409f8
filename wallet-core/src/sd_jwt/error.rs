//! Errors of SD-JWT parsing, issuance, presentation and verification.

use crate::jose::JoseError;
use crate::time::TimeError;

use super::KeyResolutionError;

/// Why an SD-JWT was refused. One variant per rule of RFC 9901 §7 and SD-JWT VC, so a
/// verifier can say exactly which check failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SdJwtError {
    /// The `~`-separated form is wrong (no issuer JWT, an empty disclosure, too many parts).
    #[error("malformed SD-JWT: {0}")]
    Malformed(&'static str),
    /// The input exceeds a size bound.
    #[error("SD-JWT too large: {0}")]
    TooLarge(&'static str),
    /// The issuer-signed JWT or the KB-JWT is not a valid JWS.
    #[error("{part}: {source}")]
    Jose {
        /// Which JWT.
        part: &'static str,
        /// The JOSE error.
        source: JoseError,
    },
    /// The issuer JWT's `typ` is not an accepted one (RFC 9901 §9.11, SD-JWT VC §3.2.1).
    #[error("issuer JWT typ is {got:?}, expected one of {expected:?}")]
    WrongTyp {
        /// What was received.
        got: Option<String>,
        /// What is accepted.
        expected: Vec<String>,
    },
    /// The issuer's key could not be established.
    #[error("issuer key: {0}")]
    KeyResolution(#[from] KeyResolutionError),
    /// The issuer's signature does not verify.
    #[error("issuer signature invalid")]
    IssuerSignatureInvalid,
    /// A required claim is missing or has the wrong type.
    #[error("claim `{0}` missing or of the wrong type")]
    BadClaim(&'static str),
    /// `_sd_alg` names an algorithm we do not support.
    #[error("unsupported _sd_alg `{0}`")]
    UnsupportedSdAlg(String),
    /// A disclosure cannot be parsed.
    #[error("disclosure {index} malformed: {reason}")]
    MalformedDisclosure {
        /// Position among the disclosures.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A disclosure uses a reserved claim name (`_sd`, `...`) (RFC 9901 §4.2.1).
    #[error("reserved claim name `{0}` in a disclosure")]
    ReservedClaimName(String),
    /// The same disclosure appears twice (RFC 9901 §7.1 step 3).
    #[error("duplicate disclosure with digest {0}")]
    DuplicateDisclosure(String),
    /// A digest appears more than once in the payload and disclosures (RFC 9901 §7.1 step 4).
    #[error("digest {0} appears more than once")]
    DuplicateDigest(String),
    /// A disclosure is not referenced by any digest (RFC 9901 §7.1 step 5).
    #[error("disclosure with digest {0} is not referenced by the SD-JWT")]
    UnreferencedDisclosure(String),
    /// An object-property disclosure is referenced from an array or vice versa.
    #[error("disclosure {0} does not fit where its digest is (property vs array element)")]
    DisclosureKindMismatch(String),
    /// A disclosed claim name already exists in its object (RFC 9901 §7.1 step 3.2.1).
    #[error("disclosed claim `{0}` already exists in the object")]
    ClaimCollision(String),
    /// `_sd` is not an array of strings, or `...` is misused.
    #[error("malformed {0}")]
    MalformedSdStructure(&'static str),
    /// The payload is nested deeper than we process.
    #[error("claims nested too deeply")]
    TooDeep,
    /// `exp` has passed.
    #[error("credential expired at {exp} (now {now})")]
    Expired {
        /// `exp`.
        exp: i64,
        /// The verifier's time.
        now: i64,
    },
    /// `nbf` is in the future.
    #[error("credential not valid before {nbf} (now {now})")]
    NotYetValid {
        /// `nbf`.
        nbf: i64,
        /// The verifier's time.
        now: i64,
    },
    /// `iat` is in the future.
    #[error("credential issued in the future ({iat}, now {now})")]
    IssuedInFuture {
        /// `iat`.
        iat: i64,
        /// The verifier's time.
        now: i64,
    },
    /// A time claim out of range or inconsistent (`exp` not after `iat`).
    #[error("{0}")]
    Time(TimeError),
    /// A claim that must stay always visible was selectively disclosable (SD-JWT VC §3.2.2.2).
    #[error("claim `{0}` must not be selectively disclosable")]
    MustNotBeDisclosable(String),
    /// Key binding was required and the presentation has none.
    #[error("key binding JWT missing")]
    KbMissing,
    /// The KB-JWT's `typ` is not `kb+jwt` (RFC 9901 §4.3).
    #[error("KB-JWT typ must be kb+jwt")]
    KbWrongTyp,
    /// The credential has no `cnf.jwk` to check the KB-JWT with.
    #[error("credential has no cnf.jwk holder key")]
    KbNoHolderKey,
    /// The KB-JWT is not signed by the `cnf` key.
    #[error("KB-JWT signature invalid (not signed by the holder key)")]
    KbSignatureInvalid,
    /// The KB-JWT `aud` is not this verifier.
    #[error("KB-JWT aud mismatch")]
    KbAudMismatch,
    /// The KB-JWT `nonce` is not the one this verifier sent.
    #[error("KB-JWT nonce mismatch")]
    KbNonceMismatch,
    /// The KB-JWT `iat` is outside the accepted window (IT-Wallet ATT-013: 120 s).
    #[error("KB-JWT iat {iat} outside [{min}, {max}]")]
    KbIatOutOfWindow {
        /// `iat`.
        iat: i64,
        /// Earliest accepted.
        min: i64,
        /// Latest accepted.
        max: i64,
    },
    /// `sd_hash` does not match the presented SD-JWT (RFC 9901 §4.3.1).
    #[error("KB-JWT sd_hash mismatch")]
    KbSdHashMismatch,
    /// A claim path for presentation does not name a claim of the credential.
    #[error("no claim at path {0}")]
    NoSuchClaim(String),
    /// Issuance input is not usable (not an object, path not found...).
    #[error("cannot issue: {0}")]
    Issuance(String),
    /// The system random generator failed.
    #[error("randomness unavailable: {0}")]
    Randomness(String),
    /// The holder's signer failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

impl SdJwtError {
    pub(crate) fn jose(part: &'static str) -> impl Fn(JoseError) -> SdJwtError {
        move |source| SdJwtError::Jose { part, source }
    }
}
