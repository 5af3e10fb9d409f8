//! The tool's HTTP client: blocking reqwest (rustls), no redirects followed (a redirect is
//! something a test looks at), a timeout per request, and every exchange recorded as
//! [`Exchange`] evidence.

use std::time::{Duration, Instant};

use crate::evidence::{Exchange, truncate};

/// The default per-request timeout.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The media type of `Content-Type`, without parameters, lower-case.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// A request could not be sent or no response came.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{method} {url}: {detail}")]
pub struct HttpError {
    /// The method.
    pub method: String,
    /// The URL.
    pub url: String,
    /// Why.
    pub detail: String,
}

/// A blocking client; [`Http::send`] returns the response and the exchange to record.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::blocking::Client,
}

impl Http {
    /// A client with `timeout` per request.
    pub fn new(timeout: Duration) -> Result<Self, HttpError> {
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            // Below the servers' keep-alive (service_kit::fetch::POOL_IDLE says why).
            .pool_idle_timeout(service_kit::fetch::POOL_IDLE)
            .user_agent(concat!("tessera-conformance/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError { method: String::new(), url: String::new(), detail: e.to_string() })?;
        Ok(Self { client })
    }

    /// Sends a request; the exchange is returned whether or not a response came.
    pub fn send(&self, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> (Result<Response, HttpError>, Exchange) {
        let mut ex = Exchange {
            method: method.to_owned(),
            url: url.to_owned(),
            request_headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
            request_body: body.map(|b| truncate(String::from_utf8_lossy(b).into_owned())),
            ..Exchange::default()
        };
        let started = Instant::now();
        let result = self.send_inner(method, url, headers, body);
        ex.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(r) => {
                ex.status = Some(r.status);
                ex.response_headers.clone_from(&r.headers);
                ex.response_body = truncate(r.text());
            }
            Err(e) => ex.error = Some(e.detail.clone()),
        }
        (result, ex)
    }

    fn send_inner(&self, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Result<Response, HttpError> {
        let err = |detail: String| HttpError { method: method.to_owned(), url: url.to_owned(), detail };
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| err(e.to_string()))?;
        let mut b = self.client.request(m, url);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        if let Some(body) = body {
            b = b.body(body.to_vec());
        }
        let resp = b.send().map_err(|e| err(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().iter().filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_owned(), v.to_owned()))).collect();
        let body = resp.bytes().map_err(|e| err(e.to_string()))?.to_vec();
        Ok(Response { status, headers, body })
    }
}
