//! Issuer keys from a federation trust chain (IT-Wallet 1.4 §4.1, §1.3): the credential's
//! `trust_chain` JWS header carries the issuer's chain; it is validated to the configured
//! trust anchor without network, and the key named by the header's `kid` is taken from the
//! resolved `openid_credential_issuer` metadata `jwks`.

use std::borrow::Cow;
use std::sync::Arc;

use super::chain::{TrustAnchorConfig, ValidatedChain, validate};
use super::memo::ChainMemo;
use crate::jose::jwk::JwkSet;
use crate::jose::{Jwk, JwsHeader};
use crate::sd_jwt::{IssuerKeyResolver, KeyResolutionError};
use crate::time::UnixTime;

/// The metadata entity type whose `jwks` holds a credential issuer's signing keys.
pub const CREDENTIAL_ISSUER: &str = "openid_credential_issuer";

/// Resolves issuer keys from the `trust_chain` header, trusting one anchor.
#[derive(Debug, Clone)]
pub struct TrustChainResolver {
    anchor: TrustAnchorConfig,
    entity_type: String,
    memo: Option<Arc<ChainMemo>>,
}

impl TrustChainResolver {
    /// Keys of `entity_type` metadata (e.g. [`CREDENTIAL_ISSUER`]) under `anchor`.
    pub fn new(anchor: TrustAnchorConfig, entity_type: impl Into<String>) -> Self {
        Self { anchor, entity_type: entity_type.into(), memo: None }
    }

    /// Chains validated through `memo` ([`ChainMemo`]: each distinct `trust_chain` header
    /// validated once until its earliest `exp`, not once per JWS); resolvers of several
    /// anchors may share one memo.
    #[must_use]
    pub fn with_memo(mut self, memo: Arc<ChainMemo>) -> Self {
        self.memo = Some(memo);
        self
    }
}

impl TrustChainResolver {
    /// The trust anchor this resolver trusts.
    pub fn anchor(&self) -> &TrustAnchorConfig {
        &self.anchor
    }

    /// [`IssuerKeyResolver::resolve`], with the validated chain the key came from (for what
    /// else the caller checks in it: trust marks, metadata).
    pub fn resolve_with_chain(&self, iss: &str, header: &JwsHeader, now: UnixTime) -> Result<(Arc<ValidatedChain>, Jwk), KeyResolutionError> {
        let chain = header.trust_chain.as_deref().ok_or(KeyResolutionError::MissingHeader("trust_chain"))?;
        let kid = header.kid.as_deref().ok_or(KeyResolutionError::MissingHeader("kid"))?;
        let v = match &self.memo {
            Some(memo) => memo.validate(chain, &self.anchor, now),
            None => validate(chain, &self.anchor, now).map(Arc::new),
        }
        .map_err(|e| KeyResolutionError::BadChain(format!("trust chain: {e}")))?;
        if v.subject.claims.sub.as_str() != iss {
            return Err(KeyResolutionError::IssuerMismatch { iss: iss.to_owned(), reason: format!("the trust chain is about {}", v.subject.claims.sub) });
        }
        let jwks: JwkSet = v
            .metadata_of(&self.entity_type)
            .and_then(|m| m.get("jwks"))
            .and_then(|j| <JwkSet as serde::Deserialize>::deserialize(j).ok())
            .ok_or_else(|| KeyResolutionError::UnknownIssuer { iss: iss.to_owned() })?;
        let key = jwks.by_kid(kid).cloned().ok_or_else(|| KeyResolutionError::UnknownIssuer { iss: iss.to_owned() })?;
        Ok((v, key))
    }
}

impl IssuerKeyResolver for TrustChainResolver {
    fn resolve(&self, iss: &str, header: &JwsHeader, now: UnixTime) -> Result<Cow<'_, Jwk>, KeyResolutionError> {
        self.resolve_with_chain(iss, header, now).map(|(_, key)| Cow::Owned(key))
    }
}
