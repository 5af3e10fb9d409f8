//! Key Binding JWT (RFC 9901 §4.3): the holder's proof of possession over the presentation.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SdJwtError;
use crate::jose::{JwsHeader, Signer, b64, jws};
use crate::time::UnixTime;

/// The `typ` of a KB-JWT.
pub const KB_JWT_TYP: &str = "kb+jwt";

/// What the holder binds a presentation to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBindingInput {
    /// The verifier's identifier (`aud`).
    pub aud: String,
    /// The verifier's nonce.
    pub nonce: String,
    /// When the presentation is made.
    pub iat: UnixTime,
}

/// The claims of a KB-JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBindingClaims {
    /// Issued at.
    pub iat: i64,
    /// Audience: the verifier.
    pub aud: String,
    /// The verifier's nonce.
    pub nonce: String,
    /// base64url(SHA-256(the SD-JWT up to and including the last `~`)).
    pub sd_hash: String,
}

/// `sd_hash` of the presented SD-JWT (everything before the KB-JWT).
pub(crate) fn sd_hash(presented_without_kb: &str) -> String {
    b64::encode(Sha256::digest(presented_without_kb.as_bytes()))
}

pub(crate) fn sign(presented_without_kb: &str, input: &KeyBindingInput, holder: &dyn Signer) -> Result<String, SdJwtError> {
    let claims = KeyBindingClaims {
        iat: input.iat.secs(),
        aud: input.aud.clone(),
        nonce: input.nonce.clone(),
        sd_hash: sd_hash(presented_without_kb),
    };
    // The KB-JWT carries no `kid`: its key is the credential's `cnf.jwk`.
    sign_without_kid(&JwsHeader::new(holder.alg()).with_typ(KB_JWT_TYP), &claims, holder)
}

fn sign_without_kid(header: &JwsHeader, claims: &KeyBindingClaims, holder: &dyn Signer) -> Result<String, SdJwtError> {
    jws::sign_json(header, claims, &crate::jose::WithoutKid(holder)).map_err(|e| SdJwtError::Sign(e.to_string()))
}
