//! The credential's Token Status List, fetched through [`StatusFetcher`] (the verifier
//! service's HTTP client, async) and kept in a [`StatusCache`] until `min(exp, fetched_at +
//! ttl)` (IT-Wallet §6 step 4 "honour ttl"), verified with [`crate::status`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::flight::Flights;
use crate::sd_jwt::IssuerKeyResolver;
use crate::status::{CachedStatusList, DEFAULT_MAX_DECOMPRESSED, StatusError, StatusListToken, StatusReference, StatusValue};
use crate::time::UnixTime;

/// An HTTP response to `GET <status uri>` with `Accept: application/statuslist+jwt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusHttpResponse {
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// The body (the status list token).
    pub body: Vec<u8>,
}

/// The future a [`StatusFetcher`] returns.
pub type StatusFuture<'a> = Pin<Box<dyn Future<Output = Result<StatusHttpResponse, String>> + Send + 'a>>;

/// Fetches a status list token (the caller's HTTP client; must not block a thread).
pub trait StatusFetcher: Send + Sync {
    /// `GET uri` with `Accept: application/statuslist+jwt`. An error is a transport failure
    /// or a non-2xx status, described.
    fn fetch<'a>(&'a self, uri: &'a str) -> StatusFuture<'a>;
}

/// Verified status lists by URI, shared by concurrent verifications.
#[derive(Debug, Default)]
pub struct StatusCache {
    lists: Mutex<HashMap<String, CachedStatusList>>,
    /// Fetches under way: presentations that meet one list expired in the cache share its
    /// fetch (each verifies the token with its own credential's issuer keys).
    fetches: Flights<Result<Arc<StatusHttpResponse>, String>>,
}

impl StatusCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn fresh(&self, uri: &str, idx: u64, now: UnixTime) -> Option<Result<StatusValue, StatusError>> {
        let lists = self.lists.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let cached = lists.get(uri)?;
        match cached.lookup(idx, now) {
            Err(StatusError::Stale { .. }) => None,
            other => Some(other),
        }
    }

    /// How many lists are held.
    pub fn len(&self) -> usize {
        self.lists.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The status at `reference`: from a fresh cached list, or fetched, verified with
    /// `resolver` (the issuer's keys) and cached.
    pub async fn lookup(
        &self,
        reference: &StatusReference,
        fetcher: &dyn StatusFetcher,
        resolver: &dyn IssuerKeyResolver,
        now: UnixTime,
    ) -> Result<StatusValue, StatusLookupError> {
        if let Some(r) = self.fresh(&reference.uri, reference.idx, now) {
            return r.map_err(StatusLookupError::Status);
        }
        let uri = reference.uri.as_str();
        let resp = self.fetches.run(uri, || async { fetcher.fetch(uri).await.map(Arc::new) }).await.map_err(StatusLookupError::Fetch)?;
        let verified = StatusListToken::verify_response(resp.content_type.as_deref(), &resp.body, reference, resolver, now, 60, DEFAULT_MAX_DECOMPRESSED)
            .map_err(StatusLookupError::Status)?;
        let value = verified.lookup(reference.idx).map_err(StatusLookupError::Status)?;
        let cached = CachedStatusList::new(verified, now);
        if cached.is_fresh(now) {
            self.lists.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(reference.uri.clone(), cached);
        }
        Ok(value)
    }
}

/// Why a status could not be established.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusLookupError {
    /// The fetch failed.
    #[error("status list fetch failed: {0}")]
    Fetch(String),
    /// The token or the lookup failed a check.
    #[error("{0}")]
    Status(StatusError),
}
