//! The seams wallet-core's `verify_response` needs, over the verifier's outbound HTTP:
//!
//! * [`IssuerChains`]: an issuer's federation trust chain, resolved (when its credential
//!   carries no `trust_chain` header) with wallet-core's `ChainCollector` over service-kit's
//!   bounded [`service_kit::OutboundHttp`], cached until the chain expires
//!   (`wallet_core::federation::ChainCache`), and resolved again (at most once a minute per
//!   issuer, wallet-core's `CHAIN_REFRESH_INTERVAL`) when a credential names a `kid` the cached chain
//!   does not list: the issuer may have rotated its key since;
//! * Token Status Lists are fetched through the same bounded client (service-kit's
//!   `RequestFetcher` implements wallet-core's `StatusFetcher`: `Accept:
//!   application/statuslist+jwt`, the `Content-Type` passed on for wallet-core to check);
//! * the trust marks required of credential issuers (`credential_issuer_trust_marks`) are
//!   checked by service-kit's `trust_marks::IssuerMarkCheck` (the issuer checks wallet
//!   providers' and PID providers' marks with the same) over the same client.

use wallet_core::federation::{ChainCache, ChainCollector, EntityId, TrustAnchorConfig};
use wallet_core::oid4vp::verify::{CHAIN_REFRESH_INTERVAL, ChainFuture, IssuerChainResolver, SharedChainFuture};
use wallet_core::time::UnixTime;

/// Issuer chains, resolved and cached.
pub struct IssuerChains<'a> {
    /// The cache shared by every request.
    pub cache: &'a ChainCache,
    /// Outbound HTTP.
    pub http: &'a service_kit::OutboundHttp,
    /// The configured trust anchors.
    pub anchors: &'a [TrustAnchorConfig],
}

impl IssuerChainResolver for IssuerChains<'_> {
    fn resolve<'a>(&'a self, issuer: &'a EntityId, now: UnixTime) -> ChainFuture<'a> {
        Box::pin(async move { self.resolve_shared(issuer, now).await.map(std::sync::Arc::unwrap_or_clone) })
    }

    /// The cache's own chain, not a copy of it.
    fn resolve_shared<'a>(&'a self, issuer: &'a EntityId, now: UnixTime) -> SharedChainFuture<'a> {
        Box::pin(async move {
            self.cache
                .get_or_resolve_shared_async(issuer, now, async {
                    let fetcher = self.http.for_request();
                    ChainCollector::new_async(&fetcher, self.anchors).resolve_async(issuer, now).await
                })
                .await
        })
    }

    /// Past the cache, at most once every `CHAIN_REFRESH_INTERVAL` per issuer.
    fn refresh_shared<'a>(&'a self, issuer: &'a EntityId, now: UnixTime) -> Option<SharedChainFuture<'a>> {
        Some(Box::pin(async move {
            let fetcher = self.http.for_request();
            let again = self.cache.refresh_shared_async(issuer, now, CHAIN_REFRESH_INTERVAL, ChainCollector::new_async(&fetcher, self.anchors).resolve_async(issuer, now)).await;
            again.unwrap_or_else(|| Err(wallet_core::federation::FederationError::Fetch { url: issuer.to_string(), reason: "resolved again less than a minute ago".into() }))
        }))
    }
}

