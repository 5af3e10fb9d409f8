//! The seams wallet-core's `verify_response` needs, over the verifier's outbound HTTP:
//!
//! * [`IssuerChains`]: an issuer's federation trust chain, resolved (when its credential
//!   carries no `trust_chain` header) with wallet-core's `ChainCollector` over service-kit's
//!   bounded [`service_kit::OutboundHttp`], cached until the chain expires
//!   (`wallet_core::federation::ChainCache`);
//! * [`StatusHttp`]: Token Status List fetches. It needs the response's `Content-Type`
//!   (wallet-core checks `application/statuslist+jwt`), which `OutboundHttp::get` does not
//!   return: until service-kit offers it, this is a small client of its own with the same
//!   bounds (timeouts, no redirects, body bound, https or http to loopback only).

use std::time::Duration;

use wallet_core::federation::{ChainCache, ChainCollector, EntityId, TrustAnchorConfig};
use wallet_core::oid4vp::verify::{ChainFuture, IssuerChainResolver, StatusFetcher, StatusFuture, StatusHttpResponse};
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

/// Status list fetches (see the module documentation).
#[derive(Debug, Clone)]
pub struct StatusHttp {
    client: reqwest::Client,
    max_body: usize,
}

impl StatusHttp {
    /// A client with `limits`' connect and fetch timeouts and body bound.
    pub fn new(limits: service_kit::FetchLimits) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(limits.connect_ms))
            .timeout(Duration::from_millis(limits.fetch_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client, max_body: limits.max_body })
    }

    async fn get(&self, uri: &str) -> Result<StatusHttpResponse, String> {
        let u = url::Url::parse(uri).map_err(|_| format!("refused status list URL {uri}"))?;
        let allowed = match (u.scheme(), u.host()) {
            ("https", Some(_)) => true,
            ("http", Some(url::Host::Domain("localhost"))) => true,
            ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
            ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
            _ => false,
        };
        if !allowed || !u.username().is_empty() || u.password().is_some() {
            return Err(format!("refused status list URL {uri}: only https, or http to loopback"));
        }
        let mut resp = self.client.get(u).header("accept", "application/statuslist+jwt").send().await.map_err(|e| e.to_string())?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(format!("HTTP {}", resp.status().as_u16()));
        }
        let content_type = resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(&chunk);
            if body.len() > self.max_body {
                return Err(format!("status list larger than {} bytes", self.max_body));
            }
        }
        Ok(StatusHttpResponse { content_type, body })
    }
}

impl StatusFetcher for StatusHttp {
    fn fetch<'a>(&'a self, uri: &'a str) -> StatusFuture<'a> {
        Box::pin(self.get(uri))
    }
}
