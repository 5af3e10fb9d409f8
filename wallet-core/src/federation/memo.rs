//! Validated trust chains remembered by their bytes (draft 48 §10).
//!
//! Validating a chain is a function of its statements, the trust anchor's configured keys and
//! the time: a chain that validated at `t` validates at any later time before its earliest
//! `exp` (the statements' `iat` only move further into the past). A `trust_chain` JWS header
//! (IT-Wallet 1.4 §1.3, §4.1: on every credential, WUA and WAA) repeats the same statements
//! for as long as the chain is not renewed, so a service that checks many of them validates
//! each distinct chain once, not once per credential: [`ChainMemo`] keeps the validated
//! chain under SHA-256 of the anchor (its id and keys) and the chain's JWTs, until the
//! chain's earliest `exp`. Failures are not remembered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest as _, Sha256};

use super::FederationError;
use super::chain::{TrustAnchorConfig, ValidatedChain, validate};
use crate::time::UnixTime;

/// One remembered validation.
struct Entry {
    chain: Arc<ValidatedChain>,
    /// When it was validated: a `now` before it (a clock set back) validates again.
    validated_at: UnixTime,
}

/// A bounded memo of validated trust chains, keyed by the chain's bytes and the anchor
/// (cheap to share behind an `Arc`; every method takes `&self`).
pub struct ChainMemo {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    capacity: usize,
}

impl std::fmt::Debug for ChainMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainMemo").field("entries", &self.len()).field("capacity", &self.capacity).finish()
    }
}

impl Default for ChainMemo {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl ChainMemo {
    /// Distinct chains remembered by [`Self::new`] (a few per issuer or wallet provider: one
    /// per renewal of its chain).
    pub const DEFAULT_CAPACITY: usize = 1_024;

    /// An empty memo of [`Self::DEFAULT_CAPACITY`] chains.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty memo of at most `capacity` chains (at least one). When full, expired chains
    /// are dropped first, then all of them.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { entries: Mutex::default(), capacity: capacity.max(1) }
    }

    /// Chains remembered now (expired ones included until they are dropped).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// SHA-256 over the anchor's id, its keys (as JSON) and the chain's JWTs, each
    /// length-prefixed.
    fn key(chain: &[String], anchor: &TrustAnchorConfig) -> [u8; 32] {
        let keys = serde_json::to_vec(&anchor.jwks).unwrap_or_default();
        let mut h = Sha256::new();
        let parts = [anchor.id.as_str().as_bytes(), keys.as_slice()].into_iter().chain(chain.iter().map(String::as_bytes));
        for part in parts {
            h.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }

    /// [`validate`]`(chain, anchor, now)`, remembered: the chain validated earlier with the
    /// same anchor, if `now` is before its earliest `exp` (and not before that validation),
    /// else validated now and remembered if it succeeds.
    pub fn validate(&self, chain: &[String], anchor: &TrustAnchorConfig, now: UnixTime) -> Result<Arc<ValidatedChain>, FederationError> {
        let key = Self::key(chain, anchor);
        {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = entries.get(&key)
                && now < e.chain.exp
                && now >= e.validated_at
            {
                return Ok(e.chain.clone());
            }
        }
        let fresh = Arc::new(validate(chain, anchor, now)?);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, e| now < e.chain.exp);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, Entry { chain: fresh.clone(), validated_at: now });
        Ok(fresh)
    }

    /// The chain validated to the first of `anchors` it validates to (each through
    /// [`Self::validate`]); else the error of the last anchor tried, or `None` when there
    /// is no anchor.
    pub fn validate_any(&self, chain: &[String], anchors: &[TrustAnchorConfig], now: UnixTime) -> Result<Arc<ValidatedChain>, Option<FederationError>> {
        let mut last = None;
        for a in anchors {
            match self.validate(chain, a, now) {
                Ok(v) => return Ok(v),
                Err(e) => last = Some(e),
            }
        }
        Err(last)
    }
}
