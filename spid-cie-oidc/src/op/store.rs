//! The provider's short-lived state: login sessions, authorization codes, grants and the
//! tokens issued under them, request-object and client-assertion `jti`s seen. In memory,
//! bounded, purged of expired entries as it fills: a test provider, restarted at will. No file
//! is written (the files under `data_dir` are the keys and salt, 0600, and the federation
//! entity's, which the trust-anchor crate keeps).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use wallet_core::federation::EntityId;

use crate::claims::Acr;

/// At most this many entries per map.
pub const MAX_ENTRIES: usize = 50_000;

/// A validated authorization request waiting for the tester's choice on the login page.
#[derive(Debug, Clone)]
pub struct AuthzSession {
    /// The RP.
    pub client_id: EntityId,
    /// The verified `redirect_uri`.
    pub redirect_uri: String,
    /// `state`.
    pub state: String,
    /// `nonce`.
    pub nonce: String,
    /// PKCE `code_challenge` (S256).
    pub code_challenge: String,
    /// Granted scopes.
    pub scope: Vec<String>,
    /// `acr_values` in preference order.
    pub acr_values: Vec<Acr>,
    /// `claims`.
    pub claims: Value,
    /// `prompt`.
    pub prompt: String,
}

/// An authorization code and what it stands for.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    /// The session it came from.
    pub session: AuthzSession,
    /// The chosen identity.
    pub fiscal_number: String,
    /// The level authenticated at.
    pub acr: Acr,
}

/// A grant: one login of one person at one RP; tokens hang off it.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The RP.
    pub client_id: EntityId,
    /// Pairwise `sub`.
    pub sub: String,
    /// The identity.
    pub fiscal_number: String,
    /// Scopes.
    pub scope: Vec<String>,
    /// Requested claims.
    pub claims: Value,
    /// Level of the login.
    pub acr: Acr,
}

/// Access or refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Access token.
    Access,
    /// Refresh token.
    Refresh,
}

/// A token issued, by `jti`.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// Which kind.
    pub kind: TokenKind,
    /// Its grant.
    pub grant: String,
    /// For an access token: the refresh token it was issued with, if any.
    pub parent: Option<String>,
    /// Expiry.
    pub exp: i64,
    /// Revoked.
    pub revoked: bool,
}

struct Timed<T> {
    exp: i64,
    value: T,
}

/// Why [`ExpiringMap::insert_once`] did not insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotInserted {
    /// The key is live already (a replay, for `jti`s).
    Exists,
    /// The map is full of live entries.
    Full,
}

/// A bounded map whose entries expire.
pub struct ExpiringMap<T> {
    map: Mutex<HashMap<String, Timed<T>>>,
}

impl<T: Clone> Default for ExpiringMap<T> {
    fn default() -> Self {
        Self { map: Mutex::new(HashMap::new()) }
    }
}

impl<T: Clone> ExpiringMap<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Timed<T>>> {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Inserts unless full of live entries; `false` if full or the key exists.
    pub fn insert_new(&self, key: String, value: T, exp: i64, now: i64) -> bool {
        self.insert_once(key, value, exp, now).is_ok()
    }

    /// Inserts a key not live yet; says why not otherwise. Expired entries are evicted when
    /// the map is full, before refusing.
    pub fn insert_once(&self, key: String, value: T, exp: i64, now: i64) -> Result<(), NotInserted> {
        let mut m = self.lock();
        if m.get(&key).is_some_and(|t| t.exp > now) {
            return Err(NotInserted::Exists);
        }
        if m.len() >= MAX_ENTRIES {
            m.retain(|_, t| t.exp > now);
        }
        if m.len() >= MAX_ENTRIES {
            return Err(NotInserted::Full);
        }
        m.insert(key, Timed { exp, value });
        Ok(())
    }

    /// Entries held now (live or not yet evicted).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes and returns a live entry (single use).
    pub fn take(&self, key: &str, now: i64) -> Option<T> {
        self.lock().remove(key).filter(|t| t.exp > now).map(|t| t.value)
    }

    /// A live entry.
    pub fn get(&self, key: &str, now: i64) -> Option<T> {
        self.lock().get(key).filter(|t| t.exp > now).map(|t| t.value.clone())
    }

    /// Changes every live entry `pick` selects.
    pub fn update_where(&self, now: i64, mut pick: impl FnMut(&str, &mut T) -> bool) -> usize {
        let mut n = 0;
        for (k, t) in self.lock().iter_mut() {
            if t.exp > now && pick(k, &mut t.value) {
                n += 1;
            }
        }
        n
    }
}

/// Everything the provider remembers.
#[derive(Default)]
pub struct Store {
    /// Login page sessions by opaque id.
    pub sessions: ExpiringMap<AuthzSession>,
    /// Authorization codes.
    pub codes: ExpiringMap<CodeGrant>,
    /// Grants by id.
    pub grants: ExpiringMap<Grant>,
    /// Tokens by `jti`.
    pub tokens: ExpiringMap<TokenRecord>,
    /// Client assertion `jti`s seen, keyed `client_id jti`, until the assertion's `exp`
    /// (plus skew); lifetimes are capped, so this holds at most [`MAX_ENTRIES`] at once.
    pub assertion_jtis: ExpiringMap<()>,
    /// Request object `jti`s seen, keyed `client_id jti`, likewise.
    pub request_jtis: ExpiringMap<()>,
}
