//! The HTTP seam: the wallet builds [`HttpRequest`] values, an [`HttpClient`] sends them
//! (OkHttp / URLSession through the mobile bindings, `ReqwestHttpClient` with the `http`
//! feature). Clients must not follow redirects: the flows read `Location` themselves.

/// The largest response body the flows read (1 MiB).
pub const MAX_RESPONSE_BODY: usize = 1 << 20;

/// An HTTP method the flows use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PATCH`.
    Patch,
}

impl HttpMethod {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Patch => "PATCH",
        }
    }
}

/// A request to send.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: HttpMethod,
    /// The absolute URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body (empty for `GET`).
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers may carry bearer tokens: names only.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest").field("method", &self.method).field("url", &self.url).field("headers", &names).finish_non_exhaustive()
    }
}

impl HttpRequest {
    /// A `GET`.
    pub fn get(url: impl Into<String>) -> Self {
        Self { method: HttpMethod::Get, url: url.into(), headers: Vec::new(), body: Vec::new() }
    }

    /// A request with a JSON body.
    pub fn json(method: HttpMethod, url: impl Into<String>, body: &impl serde::Serialize) -> Self {
        let body = serde_json::to_vec(body).unwrap_or_default();
        Self { method, url: url.into(), headers: vec![("Content-Type".into(), "application/json".into())], body }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", format!("Bearer {token}"))
    }

    /// The value of a header (case-insensitive name).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A response (any status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// No response was obtained (connection, DNS, TLS, timeout).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP request failed: {0}")]
pub struct HttpError(pub String);

/// Sends requests. Any status is a response; only a failure to get one is an error. Must not
/// follow redirects. May block (the phone calls the flows off the main thread).
pub trait HttpClient: Send + Sync {
    /// Sends `request`.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError>;
}

impl<C: HttpClient + ?Sized> HttpClient for std::sync::Arc<C> {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        (**self).send(request)
    }
}

/// [`crate::federation::Fetcher`] over the [`HttpClient`] seam (the federation's GETs: trust
/// chains of issuers and relying parties).
pub(crate) struct SeamFetcher<'a>(pub(crate) &'a dyn HttpClient);

impl crate::federation::Fetcher for SeamFetcher<'_> {
    fn get(&self, url: &str, accept: &str) -> Result<String, crate::federation::FederationError> {
        use crate::federation::FederationError;
        let r = self.0.send(HttpRequest::get(url).header("Accept", accept)).map_err(|e| FederationError::Fetch { url: url.to_owned(), reason: e.0 })?;
        if r.status != 200 {
            return Err(FederationError::Fetch { url: url.to_owned(), reason: format!("HTTP {}", r.status) });
        }
        String::from_utf8(r.body).map_err(|_| FederationError::Fetch { url: url.to_owned(), reason: "not UTF-8".into() })
    }
}

#[cfg(feature = "http")]
pub use reqwest_client::ReqwestHttpClient;

#[cfg(feature = "http")]
mod reqwest_client {
    use std::io::Read as _;

    use super::{HttpClient, HttpError, HttpMethod, HttpRequest, HttpResponse, MAX_RESPONSE_BODY};

    /// The default [`HttpClient`]: blocking reqwest with rustls, redirects off, 30 s timeout,
    /// bodies read up to [`MAX_RESPONSE_BODY`] bytes.
    #[derive(Debug, Clone)]
    pub struct ReqwestHttpClient {
        client: reqwest::blocking::Client,
    }

    impl ReqwestHttpClient {
        /// A client with the defaults above.
        pub fn new() -> Result<Self, HttpError> {
            let client = reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .map_err(|e| HttpError(e.to_string()))?;
            Ok(Self { client })
        }

        /// Over a configured reqwest client (it must not follow redirects).
        pub fn from_client(client: reqwest::blocking::Client) -> Self {
            Self { client }
        }
    }

    impl HttpClient for ReqwestHttpClient {
        fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
            let method = match request.method {
                HttpMethod::Get => reqwest::Method::GET,
                HttpMethod::Post => reqwest::Method::POST,
                HttpMethod::Patch => reqwest::Method::PATCH,
            };
            let mut b = self.client.request(method, &request.url);
            for (n, v) in &request.headers {
                b = b.header(n.as_str(), v.as_str());
            }
            if !request.body.is_empty() {
                b = b.body(request.body);
            }
            let resp = b.send().map_err(|e| HttpError(e.to_string()))?;
            let status = resp.status().as_u16();
            let headers =
                resp.headers().iter().filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_owned(), v.to_owned()))).collect();
            let mut body = Vec::new();
            resp.take(u64::try_from(MAX_RESPONSE_BODY).unwrap_or(u64::MAX) + 1)
                .read_to_end(&mut body)
                .map_err(|e| HttpError(e.to_string()))?;
            if body.len() > MAX_RESPONSE_BODY {
                return Err(HttpError(format!("response body larger than {MAX_RESPONSE_BODY} bytes")));
            }
            Ok(HttpResponse { status, headers, body })
        }
    }
}

#[cfg(test)]
#[cfg(feature = "http")]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;

    /// Serves one canned response on loopback and returns the URL.
    fn serve_once(response: Vec<u8>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).unwrap();
            let _ = s.write_all(&response);
        });
        format!("http://{addr}/x")
    }

    #[test]
    fn redirects_are_returned_not_followed() {
        let url = serve_once(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/never\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec());
        let r = ReqwestHttpClient::new().unwrap().send(HttpRequest::get(url)).unwrap();
        assert_eq!(r.status, 302);
        assert_eq!(r.header("location"), Some("http://127.0.0.1:1/never"));
    }

    #[test]
    fn oversized_bodies_are_refused() {
        let mut resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", MAX_RESPONSE_BODY + 1).into_bytes();
        resp.extend(std::iter::repeat_n(b'a', MAX_RESPONSE_BODY + 1));
        let url = serve_once(resp);
        let err = ReqwestHttpClient::new().unwrap().send(HttpRequest::get(url)).unwrap_err();
        assert!(err.0.contains("larger than"), "{err}");
    }
}
