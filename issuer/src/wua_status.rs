//! The WUA's own status (IT-Wallet 1.4 §2.3, §8 "the WUA is not revoked"): its provider's
//! Token Status List, fetched over HTTP, verified with the wallet providers' keys
//! (wallet-core's `StatusCache::lookup`: `typ`, signature, `sub`, `exp`, the index) and
//! cached as its `ttl` allows.
//!
//! [`StatusHttp`] has the same bounds as the verifier's (`verifier::trust::StatusHttp`: no
//! redirects, timeouts, a body bound, https or http to loopback only). The two belong in
//! service-kit (a `get` that returns the content type); until then, this is a copy of the
//! same rules.

use std::time::Duration;

use wallet_core::oid4vp::verify::{StatusFetcher, StatusFuture, StatusHttpResponse};

/// Bounds on a status list fetch.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BODY: usize = 4 << 20;

/// Status list fetches.
#[derive(Debug, Clone)]
pub struct StatusHttp {
    client: reqwest::Client,
}

impl StatusHttp {
    /// A client with the bounds above.
    pub fn new() -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client })
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
        let mut resp = self.client.get(u).header("accept", wallet_core::status::MEDIA_TYPE).send().await.map_err(|e| e.to_string())?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(format!("HTTP {}", resp.status().as_u16()));
        }
        let content_type = resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BODY {
                return Err(format!("status list larger than {MAX_BODY} bytes"));
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
