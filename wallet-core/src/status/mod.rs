//! Token Status List (draft-ietf-oauth-status-list, as profiled by IT-Wallet 1.4
//! `credential-revocation.rst`): the bit array ([`StatusList`]), its signed form
//! ([`StatusListToken`], `typ: statuslist+jwt`) and the credential's reference to it
//! ([`CredentialStatus`]).
//!
//! Sans-IO: the caller fetches `GET <uri>` with `Accept:` [`MEDIA_TYPE`] and hands the
//! response's content type and body to [`StatusListToken::verify_response`] (or the body alone
//! to [`StatusListToken::verify`]), which applies the checks of IT-Wallet §6 / §8 "Status" and
//! draft §8.3 in order: `typ`, signature with a key the [`crate::sd_jwt::IssuerKeyResolver`]
//! trusts (x5c, federation or static), `sub` equal to the credential's `uri`, `exp` and `iat`
//! with a clock skew, then decoding with a decompression bound, then the index bound. A
//! [`CachedStatusList`] honours `ttl` between fetches.
//!
//! Layout: `list` is the bit array ([`StatusList`]) and its `lst` encoding, `token` the signed
//! JWT; the credential-side reference types and the one error enum live here.

pub mod encoding;
mod list;
mod token;

pub use list::{ATTRIBUTE_UPDATE_1_4_0, Bits, DEFAULT_MAX_DECOMPRESSED, StatusList, StatusValue, decode_lst};
pub use token::{CachedStatusList, MEDIA_TYPE, StatusListToken, TYP, VerifiedStatusList};

use crate::sd_jwt::KeyResolutionError;

/// `status.status_list` of a credential: where its status lives (draft §6.1, IT-Wallet §6
/// "Credential reference"). The SD-JWT VC module reads it from the `status` claim.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusReference {
    /// Index in the list (non-negative).
    pub idx: u64,
    /// The list's URI (equal to the token's `sub`).
    pub uri: String,
}

/// The `status` claim of a credential (`{"status_list": {"idx", "uri"}}`); a negative or
/// non-integer `idx` fails to deserialize.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CredentialStatus {
    /// The Token Status List reference.
    pub status_list: StatusReference,
}

/// Why a status list or a status lookup was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// `bits` is not 1, 2, 4 or 8.
    #[error("bits must be 1, 2, 4 or 8, got {0}")]
    InvalidBits(u64),
    /// A value does not fit in `bits` (e.g. `ATTRIBUTE_UPDATE` 0x0F with `bits` 1 or 2).
    #[error("status value {value:#04x} does not fit in {bits} bits")]
    ValueTooLarge {
        /// The value.
        value: u8,
        /// The list's bits.
        bits: u8,
    },
    /// The index is past the end of the list.
    #[error("index {idx} out of bounds (list holds {len} statuses)")]
    IndexOutOfBounds {
        /// The index asked for.
        idx: u64,
        /// How many statuses the list holds.
        len: u64,
    },
    /// `lst` is not base64url.
    #[error("lst is not base64url")]
    BadBase64,
    /// `lst` is not a valid ZLIB stream.
    #[error("lst is not valid ZLIB/DEFLATE data")]
    BadCompression,
    /// The decompressed list would exceed the configured bound (decompression bomb).
    #[error("status list larger than {limit} bytes once decompressed")]
    TooLarge {
        /// The bound.
        limit: usize,
    },
    /// The token's `typ` is not `statuslist+jwt`.
    #[error("status list token typ must be statuslist+jwt, got {0:?}")]
    WrongTyp(Option<String>),
    /// The token is not a valid JWS or its claims are malformed.
    #[error("malformed status list token: {0}")]
    Malformed(String),
    /// No trusted key for the token's signer.
    #[error("status list signer: {0}")]
    KeyResolution(#[from] KeyResolutionError),
    /// The signature does not verify.
    #[error("status list token signature invalid")]
    BadSignature,
    /// The HTTP body's `Content-Encoding` is not one a status list is read in, or does not
    /// decode ([`encoding::decode_body`]).
    #[error("status list response: {0}")]
    ContentEncoding(String),
    /// `sub` is not the URI the credential points to.
    #[error("status list sub `{got}` is not the credential's uri `{expected}`")]
    SubjectMismatch {
        /// The credential's `status.status_list.uri`.
        expected: String,
        /// The token's `sub`.
        got: String,
    },
    /// `exp` has passed.
    #[error("status list token expired at {exp} (now {now})")]
    Expired {
        /// `exp`.
        exp: i64,
        /// The verifier's time.
        now: i64,
    },
    /// `iat` is in the future.
    #[error("status list token issued in the future ({iat}, now {now})")]
    IssuedInFuture {
        /// `iat`.
        iat: i64,
        /// The verifier's time.
        now: i64,
    },
    /// A time claim out of range or inconsistent (`exp` not after `iat`).
    #[error("status list token: {0}")]
    Time(crate::time::TimeError),
    /// A cached list is past `min(exp, fetched_at + ttl)`: fetch the token again.
    #[error("cached status list stale since {fresh_until} (now {now}); fetch it again")]
    Stale {
        /// [`CachedStatusList::fresh_until`].
        fresh_until: i64,
        /// The verifier's time.
        now: i64,
    },
    /// The HTTP response is not `application/statuslist+jwt`.
    #[error("status list response has content type {0:?}, expected application/statuslist+jwt")]
    WrongContentType(Option<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_status_claim_serde() {
        let json = r#"{"status_list":{"idx":412,"uri":"https://pid.example.it/status/1"}}"#;
        let st: CredentialStatus = serde_json::from_str(json).unwrap();
        assert_eq!(st.status_list, StatusReference { idx: 412, uri: "https://pid.example.it/status/1".into() });
        assert_eq!(serde_json::to_string(&st).unwrap(), json);
        for bad in [
            r#"{"status_list":{"idx":-1,"uri":"u"}}"#,
            r#"{"status_list":{"idx":"1","uri":"u"}}"#,
            r#"{"status_list":{"uri":"u"}}"#,
            r#"{"status_list":{"idx":1}}"#,
        ] {
            assert!(serde_json::from_str::<CredentialStatus>(bad).is_err(), "{bad}");
        }
    }
}
