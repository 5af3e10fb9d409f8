//! The seams wallet-core's `verify_response` needs, over the verifier's outbound HTTP:
//!
//! * [`IssuerChains`]: an issuer's federation trust chain, resolved (when its credential
//!   carries no `trust_chain` header) with wallet-core's `ChainCollector` over service-kit's
//!   bounded [`service_kit::OutboundHttp`], cached until the chain expires
//!   (`wallet_core::federation::ChainCache`);
//! * [`StatusLists`]: Token Status List fetches through the same bounded client
//!   (`OutboundHttp::get_typed`), the response's `Content-Type` passed on for wallet-core to
//!   check (`application/statuslist+jwt`).

use std::time::Duration;

use wallet_core::federation::{ChainCache, ChainCollector, EntityId, TrustAnchorConfig};
use wallet_core::oid4vp::verify::{ChainFuture, IssuerChainResolver, StatusFetcher, StatusFuture, StatusHttpResponse};
use wallet_core::time::UnixTime;

/// The media type of a Token Status List in JWT form (draft-ietf-oauth-status-list §5.1).
pub const STATUS_LIST_MEDIA_TYPE: &str = "application/statuslist+jwt";

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
        Box::pin(async move {
            self.cache
                .get_or_resolve_async(issuer, now, async {
                    let fetcher = self.http.for_request();
                    ChainCollector::new_async(&fetcher, self.anchors).resolve_async(issuer, now).await
                })
                .await
        })
    }
}

/// Token Status List fetches for one incoming request, over the verifier's
/// [`service_kit::OutboundHttp`] (its bounds, its roots) by the request's deadline:
/// `Accept: application/statuslist+jwt`, the response's `Content-Type` handed to wallet-core,
/// which checks it.
pub struct StatusLists<'a> {
    /// Outbound HTTP.
    pub http: &'a service_kit::OutboundHttp,
    /// The incoming request's deadline.
    pub deadline: tokio::time::Instant,
}

impl<'a> StatusLists<'a> {
    /// Fetches by `request_ms` (the configured bound per incoming request) from now.
    pub fn for_request(http: &'a service_kit::OutboundHttp) -> Self {
        let now = tokio::time::Instant::now();
        Self { http, deadline: now.checked_add(Duration::from_millis(http.limits().request_ms)).unwrap_or(now) }
    }
}

impl StatusFetcher for StatusLists<'_> {
    fn fetch<'a>(&'a self, uri: &'a str) -> StatusFuture<'a> {
        Box::pin(async move {
            let r = self.http.get_typed(uri, STATUS_LIST_MEDIA_TYPE, self.deadline).await.map_err(|e| e.to_string())?;
            Ok(StatusHttpResponse { content_type: r.content_type, body: r.body })
        })
    }
}
