//! Errors of the JOSE layer.

/// Why a JOSE object was refused.
///
/// Malformed input (`Malformed*`) is kept apart from rule breaks (`ForbiddenAlg`,
/// `BadSignature`, ...). A bad signature carries no detail on purpose.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// The compact serialization does not have the right number of parts, or a part is empty.
    #[error("malformed compact serialization: {0}")]
    MalformedCompact(&'static str),
    /// A part is not valid base64url.
    #[error("{0} is not valid base64url")]
    BadBase64(&'static str),
    /// A part is not the JSON it must be.
    #[error("{part} is not valid JSON: {detail}")]
    BadJson {
        /// Which part (header, payload, key...).
        part: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// A JOSE header repeats a member name (RFC 7515 §4: MUST reject).
    #[error("duplicate header parameter `{0}`")]
    DuplicateHeader(String),
    /// The input is larger than we accept.
    #[error("{what} too large: {len} bytes, limit {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// `alg` is `none` or an HMAC algorithm: never accepted (IT-Wallet `algorithms.rst`).
    #[error("algorithm `{0}` is forbidden")]
    ForbiddenAlg(String),
    /// `alg` (or `enc`) is not one we implement.
    #[error("unsupported algorithm `{0}`")]
    UnsupportedAlg(String),
    /// The header names a `crit` extension we do not understand (RFC 7515 §4.1.11).
    #[error("unsupported critical header parameter `{0}`")]
    UnsupportedCrit(String),
    /// The key cannot be used with this algorithm (wrong type or curve).
    #[error("key of type {key} cannot verify or sign {alg}")]
    KeyAlgMismatch {
        /// The key's type and curve.
        key: String,
        /// The algorithm.
        alg: String,
    },
    /// The JWK is not a valid key.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The signature does not verify.
    #[error("signature invalid")]
    BadSignature,
    /// A JWE could not be decrypted (wrong key, tampered ciphertext, tag mismatch).
    #[error("decryption failed")]
    DecryptionFailed,
    /// Signing failed (the signer reported an error).
    #[error("signing failed: {0}")]
    Sign(String),
}
