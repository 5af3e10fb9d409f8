//! HTTP for federation: wallet-core's `Fetcher` (a synchronous seam) over reqwest, with time
//! and size bounds, for onboarding, the `resolve` endpoint and clients.
//!
//! The async client runs on a current-thread runtime owned by the fetcher and driven by the
//! calling thread (`block_on`): no hand-off to a runtime thread per request, as reqwest's
//! blocking client does, and connections are kept alive between requests. Like any
//! blocking client, call it from a plain thread or `spawn_blocking`, never from async code.

use std::sync::Arc;
use std::time::Duration;

use wallet_core::federation::{FederationError, Fetcher};

/// A bounded HTTP client.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: reqwest::Client,
    rt: Arc<tokio::runtime::Runtime>,
}

impl HttpFetcher {
    /// A client with a 5 s timeout (connection to end of body) that does not follow redirects.
    pub fn new() -> Result<Self, FederationError> {
        Self::from_address(None)
    }

    /// As [`HttpFetcher::new`], its connections leaving from `local` when given (a host with
    /// several addresses; a load test giving each simulated client its own).
    pub fn from_address(local: Option<std::net::IpAddr>) -> Result<Self, FederationError> {
        let fail = |reason: String| FederationError::Fetch { url: String::new(), reason };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| fail(e.to_string()))?;
        let client = reqwest::Client::builder()
            .local_address(local)
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| fail(e.to_string()))?;
        Ok(Self { client, rt: Arc::new(rt) })
    }
}

impl Fetcher for HttpFetcher {
    fn get(&self, url: &str, accept: &str) -> Result<String, FederationError> {
        let fail = |reason: String| FederationError::Fetch { url: url.to_owned(), reason };
        let limit = wallet_core::federation::collect::MAX_STATEMENT_LEN;
        self.rt.block_on(async {
            let mut resp = self.client.get(url).header("accept", accept).send().await.map_err(|e| fail(e.to_string()))?;
            if !resp.status().is_success() {
                return Err(fail(format!("HTTP {}", resp.status())));
            }
            // Read at most one chunk past the bound, whatever the server claims.
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
                body.extend_from_slice(&chunk);
                if body.len() > limit {
                    return Err(fail("response too large".into()));
                }
            }
            String::from_utf8(body).map_err(|_| fail("response is not UTF-8".into()))
        })
    }
}
