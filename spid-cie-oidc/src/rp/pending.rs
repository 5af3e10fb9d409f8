//! Logins started and not finished: keyed by `state`, single use, expiring, bounded.
//!
//! In memory: a process restart forgets pending logins (the user starts again). A deployment
//! with several replicas routes the callback to the replica that started the login (sticky
//! sessions) or keeps this behind a shared store; that is the wallet provider's choice.

use std::collections::HashMap;
use std::sync::Mutex;

use wallet_core::federation::EntityId;
use wallet_core::time::UnixTime;

use super::RpError;
use crate::claims::Acr;

/// What the RP remembers between the authorization request and the callback.
#[derive(Clone)]
pub struct Pending {
    /// The OP's entity id.
    pub provider: EntityId,
    /// The OP's `issuer` (for RFC 9207 `iss`).
    pub issuer: String,
    /// The `nonce` sent.
    pub nonce: String,
    /// The PKCE `code_verifier`.
    pub code_verifier: String,
    /// The `redirect_uri` sent.
    pub redirect_uri: String,
    /// The lowest acr asked.
    pub min_acr: Option<Acr>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("provider", &self.provider).finish_non_exhaustive()
    }
}

pub(crate) struct PendingStore {
    max: usize,
    ttl: i64,
    map: Mutex<HashMap<String, (i64, Pending)>>,
}

impl PendingStore {
    pub(crate) fn new(max: usize, ttl: i64) -> Self {
        Self { max, ttl, map: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn insert(&self, state: String, p: Pending) -> Result<(), RpError> {
        let now = UnixTime::now().secs();
        let mut m = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.len() >= self.max {
            m.retain(|_, (exp, _)| *exp > now);
        }
        if m.len() >= self.max {
            return Err(RpError::TooManyPending);
        }
        m.insert(state, (now + self.ttl, p));
        Ok(())
    }

    /// Removes and returns the login of `state`, if not expired.
    pub(crate) fn take(&self, state: &str) -> Option<Pending> {
        let now = UnixTime::now().secs();
        let mut m = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.remove(state).filter(|(exp, _)| *exp > now).map(|(_, p)| p)
    }
}
