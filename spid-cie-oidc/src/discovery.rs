//! Federation discovery shared by the RP (to find an OP) and the OP (to register an RP):
//! wallet-core's [`ChainCollector`] over service-kit's bounded async [`OutboundHttp`], with
//! validated chains cached until their `exp` (SPID/CIE OIDC §B.1, Discovery).
//!
//! Both run inside servers, so no fetch holds a thread: each fetch has its own timeout, every
//! fetch made for one incoming request ends by that request's deadline
//! ([`OutboundHttp::for_request`]), and fetches in flight are bounded for the whole service,
//! so a dead or slow authority named in a chain never slows unrelated routes (issue 10 item 3).

use std::sync::Arc;

use service_kit::OutboundHttp;
use service_kit::fetch::RequestFetcher;
use wallet_core::federation::{AsyncFetcher, ChainCache, ChainCollector, EntityId, FederationError, TrustAnchorConfig, ValidatedChain};
use wallet_core::time::UnixTime;

/// The most fetches one chain resolution makes.
const MAX_FETCHES: usize = 16;

/// Resolves entities to the configured trust anchors.
#[derive(Clone)]
pub struct Discovery {
    anchors: Arc<Vec<TrustAnchorConfig>>,
    cache: Arc<ChainCache>,
    max_depth: usize,
    http: OutboundHttp,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery").field("anchors", &self.anchors.iter().map(|a| a.id.as_str()).collect::<Vec<_>>()).field("limits", &self.http.limits()).finish()
    }
}

impl Discovery {
    /// Discovery to `anchors` over `http`. `max_depth` caps the superiors followed (django's
    /// default is 2).
    pub fn new(anchors: Vec<TrustAnchorConfig>, max_depth: usize, http: OutboundHttp) -> Self {
        Self { anchors: Arc::new(anchors), cache: Arc::new(ChainCache::new()), max_depth, http }
    }

    /// The configured anchors.
    pub fn anchors(&self) -> &[TrustAnchorConfig] {
        &self.anchors
    }

    /// The outbound client (its limits, fetches in flight).
    pub fn http(&self) -> &OutboundHttp {
        &self.http
    }

    /// A fetcher for one incoming request: every fetch through it ends by the request's
    /// deadline.
    pub fn for_request(&self) -> RequestFetcher<'_> {
        self.http.for_request()
    }

    /// The validated chain of `id` (cached until the chain's `exp`), within a deadline of its own.
    pub async fn resolve(&self, id: &EntityId) -> Result<ValidatedChain, FederationError> {
        self.resolve_with(&self.for_request(), id).await
    }

    /// The validated chain of `id`, fetching through `f` (so within its request's deadline).
    pub async fn resolve_with(&self, f: &RequestFetcher<'_>, id: &EntityId) -> Result<ValidatedChain, FederationError> {
        let now = UnixTime::now();
        let collector = ChainCollector::new_async(f, &self.anchors).with_limits(self.max_depth, MAX_FETCHES);
        self.cache.get_or_resolve_async(id, now, collector.resolve_async(id, now)).await
    }

    /// Forgets a cached chain.
    pub fn invalidate(&self, id: &EntityId) {
        self.cache.invalidate(id);
    }

    /// GETs one URL through `f` (bounded, within its request's deadline).
    pub async fn get(&self, f: &RequestFetcher<'_>, url: &str, accept: &str) -> Result<String, FederationError> {
        AsyncFetcher::get(f, url, accept).await
    }
}
