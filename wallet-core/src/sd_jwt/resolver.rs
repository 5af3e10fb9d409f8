//! Where the issuer's verification key comes from.
//!
//! IT-Wallet 1.4 §4.1: the key is found through the header's `kid` and `x5c` chain to the
//! trust anchor's CA, and/or the issuer's federation trust chain (`openid_credential_issuer`
//! `jwks`, optional `trust_chain` header). Each way is an implementation of this trait:
//! [`crate::x509`] for `x5c`, the federation module for trust chains, [`StaticKeyResolver`]
//! for a key configured out of band (the CLI's `--issuer-jwk`).

use std::borrow::Cow;

use crate::jose::{Jwk, JwsHeader};
use crate::time::UnixTime;

/// Why no trusted key could be found for an issuer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyResolutionError {
    /// No key is known for this issuer / `kid`.
    #[error("no trusted key for issuer `{iss}`")]
    UnknownIssuer {
        /// The `iss` claim.
        iss: String,
    },
    /// The header lacks what this resolver needs (e.g. `x5c`).
    #[error("header lacks `{0}`")]
    MissingHeader(&'static str),
    /// The issuer's chain does not verify to a trusted root: its `x5c` certificates, or its
    /// federation trust chain (the text says which).
    #[error("chain rejected: {0}")]
    BadChain(String),
    /// The issuer's chain is valid, but it holds none of the trust marks required of it
    /// (IT-Wallet 1.4 §1.3: a wallet provider holds the wallet-provider trust mark).
    #[error("`{iss}` holds no valid trust mark required here: {reason}")]
    MissingTrustMark {
        /// The `iss` claim.
        iss: String,
        /// Why (the marks it holds, and why each was not accepted).
        reason: String,
    },
    /// The key found does not belong to the issuer named in `iss`.
    #[error("key is not bound to issuer `{iss}`: {reason}")]
    IssuerMismatch {
        /// The `iss` claim.
        iss: String,
        /// Why.
        reason: String,
    },
}

/// Finds the key that must have signed a JWS issued by `iss`.
///
/// Sans-IO: a resolver holds what was fetched beforehand (roots, trust chains); it does not
/// go to the network.
pub trait IssuerKeyResolver: Send + Sync {
    /// The verification key for a JWS with this header, issued by `iss`, at `now`.
    /// A resolver that holds the key lends it (`Cow::Borrowed`); one that derives it per
    /// JWS (from `x5c`, from a trust chain) gives it (`Cow::Owned`).
    fn resolve(&self, iss: &str, header: &JwsHeader, now: UnixTime) -> Result<Cow<'_, Jwk>, KeyResolutionError>;
}

/// One key trusted for any issuer (or for one issuer when `iss` is set): keys configured
/// out of band, as `tessera sd-jwt verify --issuer-jwk` does.
#[derive(Debug, Clone)]
pub struct StaticKeyResolver {
    key: Jwk,
    iss: Option<String>,
}

impl StaticKeyResolver {
    /// Trusts `key` for whatever issuer.
    pub fn any_issuer(key: Jwk) -> Self {
        Self { key, iss: None }
    }

    /// Trusts `key` for `iss` only.
    pub fn for_issuer(key: Jwk, iss: impl Into<String>) -> Self {
        Self { key, iss: Some(iss.into()) }
    }
}

impl IssuerKeyResolver for StaticKeyResolver {
    fn resolve(&self, iss: &str, _header: &JwsHeader, _now: UnixTime) -> Result<Cow<'_, Jwk>, KeyResolutionError> {
        match &self.iss {
            Some(expected) if expected != iss => Err(KeyResolutionError::UnknownIssuer { iss: iss.to_owned() }),
            _ => Ok(Cow::Borrowed(&self.key)),
        }
    }
}
