//! HTTP, as the app does it (OkHttp, URLSession, ...): the wallet builds requests, the app's
//! [`HttpClient`] sends them. The wallet bounds what it reads; the client bounds time.

use std::sync::Arc;

use wallet_core::federation::{Fetcher, FederationError};

/// One header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpHeader {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A request to send.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The URL.
    pub url: String,
    /// Headers to send.
    pub headers: Vec<HttpHeader>,
    /// Body (empty for GET).
    pub body: Vec<u8>,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers received.
    pub headers: Vec<HttpHeader>,
    /// Body.
    pub body: Vec<u8>,
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// No connection, DNS, TLS, timeout.
    #[error("request failed: {reason}")]
    Failed {
        /// What.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for HttpError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed { reason: format!("the HTTP client threw: {}", e.reason) }
    }
}

/// The app's HTTP client. Called from a background thread; may block.
#[uniffi::export(with_foreign)]
pub trait HttpClient: Send + Sync {
    /// Sends `request`; any status is a response, only a failure to get one is an error.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError>;
}

/// wallet-core's federation [`Fetcher`] over the app's client.
pub(crate) struct HttpFetcher(pub(crate) Arc<dyn HttpClient>);

impl Fetcher for HttpFetcher {
    fn get(&self, url: &str, accept: &str) -> Result<String, FederationError> {
        let fail = |reason: String| FederationError::Fetch { url: url.to_owned(), reason };
        let req = HttpRequest {
            method: "GET".into(),
            url: url.to_owned(),
            headers: vec![HttpHeader { name: "Accept".into(), value: accept.to_owned() }],
            body: Vec::new(),
        };
        let resp = self.0.send(req).map_err(|e| fail(e.to_string()))?;
        if resp.status != 200 {
            return Err(fail(format!("HTTP {}", resp.status)));
        }
        String::from_utf8(resp.body).map_err(|_| fail("body is not UTF-8".into()))
    }
}
