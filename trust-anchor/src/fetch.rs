//! HTTP for federation: wallet-core's `Fetcher` over reqwest (blocking, with time and size
//! bounds), for onboarding and for the `resolve` endpoint.

use std::time::Duration;

use wallet_core::federation::{FederationError, Fetcher};

/// A bounded HTTP client.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: reqwest::blocking::Client,
}

impl HttpFetcher {
    /// A client with a 5 s timeout that does not follow redirects.
    pub fn new() -> Result<Self, FederationError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| FederationError::Fetch { url: String::new(), reason: e.to_string() })?;
        Ok(Self { client })
    }
}

impl Fetcher for HttpFetcher {
    fn get(&self, url: &str, accept: &str) -> Result<String, FederationError> {
        let fail = |reason: String| FederationError::Fetch { url: url.to_owned(), reason };
        let resp = self.client.get(url).header("accept", accept).send().map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("HTTP {}", resp.status())));
        }
        // Read at most one byte past the bound, whatever the server claims.
        let limit = wallet_core::federation::collect::MAX_STATEMENT_LEN as u64;
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(resp, limit + 1), &mut body).map_err(|e| fail(e.to_string()))?;
        if body.len() as u64 > limit {
            return Err(fail("response too large".into()));
        }
        String::from_utf8(body).map_err(|_| fail("response is not UTF-8".into()))
    }
}
