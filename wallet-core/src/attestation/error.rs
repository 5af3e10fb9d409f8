//! The one error enum of the attestation module.

use super::key_attestation::KeyAttestationError;
use crate::jose::JoseError;
use crate::sd_jwt::KeyResolutionError;
use crate::time::TimeError;

/// Why an attestation object (registration, attestation request, WAA, WUA, PoP) was refused,
/// or could not be built. Malformed input is apart from rule breaks; each rule has a variant.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationError {
    /// The JWS does not parse (parts, base64url, header JSON, forbidden `alg`).
    #[error("malformed JWS: {0}")]
    Jose(JoseError),
    /// The claims do not parse or a required claim is missing or of the wrong type.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which object.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// `typ` is not the one this object must have (explicit typing).
    #[error("typ must be `{expected}`, got {found:?}")]
    WrongTyp {
        /// The required `typ`.
        expected: &'static str,
        /// What the header says.
        found: Option<String>,
    },
    /// The signature does not verify.
    #[error("signature invalid")]
    BadSignature,
    /// The signer (wallet provider) could not be trusted: no key, bad x5c or trust chain.
    #[error("untrusted wallet provider: {0}")]
    UntrustedProvider(KeyResolutionError),
    /// `exp` has passed.
    #[error("expired at {exp} (now {now})")]
    Expired {
        /// `exp`.
        exp: i64,
        /// The time of the check.
        now: i64,
    },
    /// `iat` (or `nbf`) is in the future beyond the clock skew.
    #[error("issued in the future: {iat} (now {now})")]
    NotYetValid {
        /// `iat` or `nbf`.
        iat: i64,
        /// The time of the check.
        now: i64,
    },
    /// A time claim out of range or inconsistent (`exp` not after `iat`).
    #[error("{0}")]
    Time(TimeError),
    /// `iat` is older than the freshness window allows.
    #[error("too old: issued at {iat}, oldest accepted {min}")]
    TooOld {
        /// `iat`.
        iat: i64,
        /// The oldest accepted `iat`.
        min: i64,
    },
    /// The validity period is longer than the spec allows (WAA: 24 hours, WP_144).
    #[error("lifetime {lifetime}s exceeds the maximum {max}s")]
    LifetimeTooLong {
        /// `exp - iat`.
        lifetime: i64,
        /// The maximum.
        max: i64,
    },
    /// The validity period is shorter than the spec requires (WUA: at least a month).
    #[error("lifetime {lifetime}s below the minimum {min}s")]
    LifetimeTooShort {
        /// `exp - iat`.
        lifetime: i64,
        /// The minimum.
        min: i64,
    },
    /// `cnf.jwk` is missing or not a public P-256 key.
    #[error("cnf.jwk missing or not a P-256 public key")]
    BadCnf,
    /// `kid` is not the thumbprint of `cnf.jwk`.
    #[error("kid is not the thumbprint of cnf.jwk")]
    KidMismatch,
    /// `iss` is not what it must be.
    #[error("iss must be `{expected}`, got `{found}`")]
    IssuerMismatch {
        /// Expected.
        expected: String,
        /// Found.
        found: String,
    },
    /// `aud` does not name us.
    #[error("aud must be `{expected}`")]
    AudienceMismatch {
        /// Expected.
        expected: String,
    },
    /// The nonce or challenge does not match what was issued.
    #[error("nonce or challenge mismatch")]
    NonceMismatch,
    /// `hardware_signature` does not verify with the registered hardware key over the rebuilt
    /// `client_data` hashes.
    #[error("hardware_signature invalid")]
    BadHardwareSignature,
    /// The key attestation / integrity assertion was refused.
    #[error("key attestation: {0}")]
    KeyAttestation(KeyAttestationError),
    /// The PoP's `iss` is not the WAA's `sub` (the client id).
    #[error("PoP iss is not the attested client id")]
    ClientIdMismatch,
    /// A WUA without `attested_keys`.
    #[error("attested_keys is empty")]
    NoAttestedKeys,
    /// Building an object failed (signer error, serialization).
    #[error("cannot build: {0}")]
    Build(String),
}

impl AttestationError {
    /// The OAuth `error` code a wallet provider answers with (IT-Wallet 1.4 §2.2–2.3): bad
    /// requests are `bad_request`, a device below the minimum `integrity_check_error`, every
    /// other refusal `invalid_request` (403).
    pub fn oauth_code(&self) -> &'static str {
        match self {
            Self::Jose(_) | Self::Malformed { .. } => "bad_request",
            Self::KeyAttestation(k) => k.oauth_code(),
            _ => "invalid_request",
        }
    }

    /// The OAuth `error` code an issuer's client authentication answers with
    /// (attestation-based client auth; IT-Wallet 1.4 §3.3 PAR/token): an expired or too old
    /// attestation is `use_fresh_attestation`, any other failure `invalid_client`.
    pub fn client_auth_code(&self) -> &'static str {
        match self {
            Self::Expired { .. } | Self::TooOld { .. } => "use_fresh_attestation",
            _ => "invalid_client",
        }
    }
}

impl From<KeyAttestationError> for AttestationError {
    fn from(e: KeyAttestationError) -> Self {
        Self::KeyAttestation(e)
    }
}

impl From<JoseError> for AttestationError {
    fn from(e: JoseError) -> Self {
        match e {
            JoseError::BadSignature => Self::BadSignature,
            JoseError::Sign(s) => Self::Build(s),
            other => Self::Jose(other),
        }
    }
}
