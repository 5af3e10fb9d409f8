//! Federation discovery shared by the RP (to find an OP) and the OP (to register an RP):
//! wallet-core's [`ChainCollector`] over the trust-anchor crate's bounded [`HttpFetcher`], run
//! on the blocking pool, with validated chains cached until their `exp` (SPID/CIE OIDC §B.1,
//! Discovery).

use std::sync::Arc;

use trust_anchor::fetch::HttpFetcher;
use wallet_core::federation::{ChainCache, ChainCollector, EntityId, FederationError, TrustAnchorConfig, ValidatedChain};
use wallet_core::time::UnixTime;

/// Resolves entities to the configured trust anchors.
#[derive(Clone)]
pub struct Discovery {
    anchors: Arc<Vec<TrustAnchorConfig>>,
    cache: Arc<ChainCache>,
    max_depth: usize,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery").field("anchors", &self.anchors.iter().map(|a| a.id.as_str()).collect::<Vec<_>>()).finish()
    }
}

impl Discovery {
    /// Discovery to `anchors`. `max_depth` caps the superiors followed (django's default is 2).
    pub fn new(anchors: Vec<TrustAnchorConfig>, max_depth: usize) -> Self {
        Self { anchors: Arc::new(anchors), cache: Arc::new(ChainCache::new()), max_depth }
    }

    /// The configured anchors.
    pub fn anchors(&self) -> &[TrustAnchorConfig] {
        &self.anchors
    }

    /// The validated chain of `id` (cached until the chain's `exp`).
    pub async fn resolve(&self, id: &EntityId) -> Result<ValidatedChain, FederationError> {
        let (me, id) = (self.clone(), id.clone());
        tokio::task::spawn_blocking(move || {
            let now = UnixTime::now();
            me.cache.get_or_resolve(&id, now, || {
                let fetcher = HttpFetcher::new()?;
                ChainCollector::new(&fetcher, &me.anchors).with_limits(me.max_depth, 16).resolve(&id, now)
            })
        })
        .await
        .map_err(|e| FederationError::Fetch { url: String::new(), reason: format!("resolver task failed: {e}") })?
    }

    /// Forgets a cached chain.
    pub fn invalidate(&self, id: &EntityId) {
        self.cache.invalidate(id);
    }

    /// GETs one URL with the federation fetcher (bounded), on the blocking pool.
    pub async fn get(&self, url: String, accept: &'static str) -> Result<String, FederationError> {
        tokio::task::spawn_blocking(move || wallet_core::federation::Fetcher::get(&HttpFetcher::new()?, &url, accept))
            .await
            .map_err(|e| FederationError::Fetch { url: String::new(), reason: format!("fetch task failed: {e}") })?
    }
}
