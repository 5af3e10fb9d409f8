//! Outbound HTTP for services, bounded so that a slow or dead upstream never slows routes
//! that do not need it: async (no thread is held while waiting), a timeout per fetch (connect
//! and whole response), a deadline per incoming request across all its fetches, a bound on
//! fetches in flight for the whole service (beyond it, a fetch fails at once rather than
//! queueing), no redirects, responses read up to a size bound, and plain `http` only to
//! loopback (the same rule as entity identifiers, IT-Wallet 1.4 §1.1 requiring https).
//!
//! [`OutboundHttp::for_request`] gives wallet-core's [`AsyncFetcher`] with the request's
//! deadline, for trust chain collection; [`OutboundHttp::get_typed`] answers the body with its
//! `Content-Type` (status lists, whose media type is checked); [`OutboundHttp::post`] sends
//! notifications.
//!
//! HTTPS trusts the system's roots, plus the CA certificates the operator configures
//! ([`OutboundCa`], `[outbound] ca_certificates`: a private federation's own CA).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use wallet_core::federation::{AsyncFetcher, FederationError, FetchFuture};
use wallet_core::oid4vp::verify::{StatusFetcher, StatusFuture, StatusHttpResponse};
use wallet_core::x509::crl::{CrlFetcher, CrlFuture};

/// How long an idle pooled connection is kept for reuse: less than the idle keep-alive limit
/// of common servers (hyper with a timer closes one after 30 s of waiting for a request head;
/// proxies and load balancers often sooner or at 60 s), so a request is not sent on a
/// connection the server is closing just then, which fails with `IncompleteMessage` though
/// nothing is wrong (reqwest keeps idle connections 90 s by default). Our own services
/// (`axum::serve`, no timer) do not close idle connections.
pub const POOL_IDLE: Duration = Duration::from_secs(20);

/// The bounds, as configured (`[outbound]` in a service's TOML).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchLimits {
    /// Milliseconds to connect.
    pub connect_ms: u64,
    /// Milliseconds for one fetch, connection to the end of the body.
    pub fetch_ms: u64,
    /// Milliseconds for every fetch made on behalf of one incoming request.
    pub request_ms: u64,
    /// Fetches in flight at once, for the whole service.
    pub max_in_flight: usize,
    /// The largest response body read.
    pub max_body: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self { connect_ms: 2_000, fetch_ms: 3_000, request_ms: 8_000, max_in_flight: 64, max_body: 256 * 1024 }
    }
}

/// CA certificates trusted for outbound HTTPS besides the system's roots: `[outbound]
/// ca_certificates = ["/etc/tessera/federation-tls-ca.pem"]` in a service's TOML (read beside
/// [`FetchLimits`], whose table it shares, and loaded with [`OutboundCa::from_files`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundCa {
    /// PEM text of the certificates (one file or several, concatenated).
    pub pem: String,
}

impl OutboundCa {
    /// Reads the PEM files.
    pub fn from_files(paths: &[std::path::PathBuf]) -> Result<Self, FetchError> {
        let mut pem = String::new();
        for p in paths {
            let text = std::fs::read_to_string(p).map_err(|e| FetchError::InvalidCa(format!("{}: {e}", p.display())))?;
            pem.push_str(&text);
            pem.push('\n');
        }
        Ok(Self { pem })
    }

    fn certificates(&self) -> Result<Vec<reqwest::Certificate>, FetchError> {
        if self.pem.trim().is_empty() {
            return Ok(Vec::new());
        }
        let certs = reqwest::Certificate::from_pem_bundle(self.pem.as_bytes()).map_err(|e| FetchError::InvalidCa(e.to_string()))?;
        if certs.is_empty() {
            return Err(FetchError::InvalidCa("no CERTIFICATE in the PEM text".into()));
        }
        Ok(certs)
    }
}

/// A response body with its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typed {
    /// `Content-Type`, as sent.
    pub content_type: Option<String>,
    /// `Content-Encoding`, as sent: the body is as received, not decoded (only a caller that
    /// asked for a coding gets one: [`StatusFetcher`] asks gzip).
    pub content_encoding: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// A bounded outbound HTTP client; cheap to clone (one connection pool, one bound).
#[derive(Debug, Clone)]
pub struct OutboundHttp {
    client: reqwest::Client,
    permits: Arc<Semaphore>,
    limits: FetchLimits,
}

/// Why an outbound fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Not an http(s) URL, or plain http to a host that is not loopback.
    #[error("refused URL {0}: only https, or http to loopback")]
    RefusedUrl(String),
    /// Every outbound slot is taken: the service is saturated by slow upstreams.
    #[error("too many outbound fetches in progress ({0})")]
    Saturated(usize),
    /// The fetch, or the request's deadline, ran out.
    #[error("timed out")]
    Timeout,
    /// Not a 200.
    #[error("HTTP {0}")]
    Status(u16),
    /// Larger than the bound.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not UTF-8.
    #[error("response is not UTF-8")]
    NotUtf8,
    /// The network said no.
    #[error("{0}")]
    Network(String),
    /// A configured bound is outside its range (the field and the range).
    #[error("outbound.{0} must be in {1}")]
    InvalidLimit(&'static str, &'static str),
    /// A configured CA certificate cannot be read or used.
    #[error("outbound.ca_certificates: {0}")]
    InvalidCa(String),
}

/// The longest any configured timeout may be (10 minutes).
const MAX_MS: u64 = 600_000;
/// The most fetches in flight that may be configured.
const MAX_IN_FLIGHT: usize = 100_000;
/// The largest response body bound that may be configured (64 MiB).
const MAX_BODY: usize = 64 * 1024 * 1024;

impl FetchLimits {
    /// Checks every bound is within its range: the first one outside, by name.
    pub fn validate(&self) -> Result<(), FetchError> {
        for (name, v) in [("connect_ms", self.connect_ms), ("fetch_ms", self.fetch_ms), ("request_ms", self.request_ms)] {
            if !(1..=MAX_MS).contains(&v) {
                return Err(FetchError::InvalidLimit(name, "1..=600000"));
            }
        }
        if !(1..=MAX_IN_FLIGHT).contains(&self.max_in_flight) {
            return Err(FetchError::InvalidLimit("max_in_flight", "1..=100000"));
        }
        if !(1..=MAX_BODY).contains(&self.max_body) {
            return Err(FetchError::InvalidLimit("max_body", "1..=67108864"));
        }
        Ok(())
    }
}

impl OutboundHttp {
    /// A client with `limits`, trusting the system's roots.
    /// Refuses limits outside their ranges ([`FetchLimits::validate`]).
    pub fn new(limits: FetchLimits) -> Result<Self, FetchError> {
        Self::with_ca(limits, &OutboundCa::default())
    }

    /// A client with `limits`, trusting the system's roots and `ca`'s certificates.
    pub fn with_ca(limits: FetchLimits, ca: &OutboundCa) -> Result<Self, FetchError> {
        limits.validate()?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(limits.connect_ms))
            .timeout(Duration::from_millis(limits.fetch_ms))
            .redirect(reqwest::redirect::Policy::none())
            // Below servers' idle keep-alive limits ([`POOL_IDLE`] says why).
            .pool_idle_timeout(crate::fetch::POOL_IDLE)
            .tls_certs_merge(ca.certificates()?)
            .build()
            .map_err(|e| FetchError::Network(e.to_string()))?;
        Ok(Self { client, permits: Arc::new(Semaphore::new(limits.max_in_flight.max(1))), limits })
    }

    /// The bounds.
    pub fn limits(&self) -> FetchLimits {
        self.limits
    }

    /// Fetches in flight now.
    pub fn in_flight(&self) -> usize {
        self.limits.max_in_flight.max(1).saturating_sub(self.permits.available_permits())
    }

    /// A fetcher for one incoming request: every fetch through it ends by the request's
    /// deadline, `request_ms` from now.
    pub fn for_request(&self) -> RequestFetcher<'_> {
        let now = Instant::now();
        // `request_ms` is at most ten minutes (checked in `new`), so this cannot overflow;
        // were it to, the deadline is now and every fetch times out rather than panicking.
        let deadline = now.checked_add(Duration::from_millis(self.limits.request_ms)).unwrap_or(now);
        RequestFetcher { http: self, deadline }
    }

    /// GETs `url` (`Accept: accept`) by `deadline`: the body of a 200 response.
    pub async fn get(&self, url: &str, accept: &str, deadline: Instant) -> Result<String, FetchError> {
        let r = self.get_typed(url, accept, deadline).await?;
        String::from_utf8(r.body).map_err(|_| FetchError::NotUtf8)
    }

    /// GETs `url` (`Accept: accept`) by `deadline`: the body of a 200 response, any bytes,
    /// with its `Content-Type` for the caller to check (a Token Status List must be
    /// `application/statuslist+jwt`).
    pub async fn get_typed(&self, url: &str, accept: &str, deadline: Instant) -> Result<Typed, FetchError> {
        self.exchange(self.client.get(url).header("accept", accept), url, deadline).await
    }

    /// POSTs `form` (`application/x-www-form-urlencoded`, `Accept: accept`) to `url` by
    /// `deadline`, under the same bounds: the body of a 200 response with its `Content-Type`
    /// (a trust mark status request, OID-FED §8.4).
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)], accept: &str, deadline: Instant) -> Result<Typed, FetchError> {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let req = self.client.post(url).header("content-type", "application/x-www-form-urlencoded").header("accept", accept).body(body);
        self.exchange(req, url, deadline).await
    }

    /// Sends `req` (to `url`) under the bounds: a 200's body, at most `max_body` bytes.
    async fn exchange(&self, req: reqwest::RequestBuilder, url: &str, deadline: Instant) -> Result<Typed, FetchError> {
        check_url(url)?;
        let _permit = self.permits.try_acquire().map_err(|_| FetchError::Saturated(self.limits.max_in_flight))?;
        let work = async {
            let mut resp = req.send().await.map_err(net)?;
            if resp.status() != reqwest::StatusCode::OK {
                return Err(FetchError::Status(resp.status().as_u16()));
            }
            let header = |name| resp.headers().get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(str::to_owned);
            let content_type = header(reqwest::header::CONTENT_TYPE);
            let content_encoding = header(reqwest::header::CONTENT_ENCODING);
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(net)? {
                body.extend_from_slice(&chunk);
                if body.len() > self.limits.max_body {
                    return Err(FetchError::TooLarge(self.limits.max_body));
                }
            }
            Ok(Typed { content_type, content_encoding, body })
        };
        tokio::time::timeout_at(deadline, work).await.map_err(|_| FetchError::Timeout)?
    }
}

impl OutboundHttp {
    /// POSTs `body` (`Content-Type: content_type`, and `headers`) to `url` by `deadline`,
    /// under the same bounds as [`OutboundHttp::get`] (URL rule, in-flight bound, timeouts,
    /// no redirects): the status of a 2xx answer (its body is not read), else
    /// [`FetchError::Status`]. For notifications (a verifier's webhook).
    pub async fn post(&self, url: &str, content_type: &str, headers: &[(&str, &str)], body: Vec<u8>, deadline: Instant) -> Result<u16, FetchError> {
        check_url(url)?;
        let _permit = self.permits.try_acquire().map_err(|_| FetchError::Saturated(self.limits.max_in_flight))?;
        let work = async {
            let mut req = self.client.post(url).header("content-type", content_type).body(body);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let resp = req.send().await.map_err(net)?;
            let status = resp.status();
            if status.is_success() { Ok(status.as_u16()) } else { Err(FetchError::Status(status.as_u16())) }
        };
        tokio::time::timeout_at(deadline, work).await.map_err(|_| FetchError::Timeout)?
    }
}

fn net(e: reqwest::Error) -> FetchError {
    if e.is_timeout() { FetchError::Timeout } else { FetchError::Network(e.to_string()) }
}

/// https anywhere; http only to 127.0.0.1, [::1] and localhost (decided on the parsed host).
fn check_url(url: &str) -> Result<(), FetchError> {
    let refused = || FetchError::RefusedUrl(url.to_owned());
    let u = reqwest::Url::parse(url).map_err(|_| refused())?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(refused());
    }
    match (u.scheme(), u.host()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some(url::Host::Domain("localhost"))) => Ok(()),
        ("http", Some(url::Host::Ipv4(ip))) if ip.is_loopback() => Ok(()),
        ("http", Some(url::Host::Ipv6(ip))) if ip.is_loopback() => Ok(()),
        _ => Err(refused()),
    }
}

/// An [`AsyncFetcher`] bound to one incoming request's deadline.
#[derive(Debug, Clone, Copy)]
pub struct RequestFetcher<'a> {
    http: &'a OutboundHttp,
    deadline: Instant,
}

impl RequestFetcher<'_> {
    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// [`OutboundHttp::post_form`] by the request's deadline.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)], accept: &str) -> Result<Typed, FetchError> {
        self.http.post_form(url, form, accept, self.deadline).await
    }
}

impl AsyncFetcher for RequestFetcher<'_> {
    fn get<'a>(&'a self, url: &'a str, accept: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            self.http.get(url, accept, self.deadline).await.map_err(|e| FederationError::Fetch { url: url.to_owned(), reason: e.to_string() })
        })
    }
}

/// Token Status List fetches (wallet-core's [`StatusFetcher`]) for one incoming request:
/// `Accept: application/statuslist+jwt` and `Accept-Encoding: gzip`, under the same bounds,
/// by the request's deadline; a gzip body decoded by wallet-core's rule (at most `max_body`
/// bytes once decoded), the response's `Content-Type` to wallet-core, which checks it (Token
/// Status List §8.1). One implementation for every service that checks a status (the
/// verifier, the issuer for WUAs).
impl StatusFetcher for RequestFetcher<'_> {
    fn fetch<'a>(&'a self, uri: &'a str) -> StatusFuture<'a> {
        Box::pin(async move {
            use wallet_core::status::encoding;
            let req = self.http.client.get(uri).header("accept", wallet_core::status::MEDIA_TYPE).header("accept-encoding", encoding::ACCEPT_ENCODING);
            let r = self.http.exchange(req, uri, self.deadline).await.map_err(|e| e.to_string())?;
            let body = encoding::decode_body(r.content_encoding.as_deref(), r.body, self.http.limits.max_body).map_err(|e| e.to_string())?;
            Ok(StatusHttpResponse { content_type: r.content_type, body })
        })
    }
}

/// CRL fetches (wallet-core's [`CrlFetcher`]) for one incoming request: `Accept:
/// application/pkix-crl`, under the same bounds, by the request's deadline. wallet-core
/// decodes and verifies the DER, so the `Content-Type` is not insisted on (RFC 5280 §4.2.1.13
/// names no media type for HTTP distribution points).
impl CrlFetcher for RequestFetcher<'_> {
    fn fetch_crl<'a>(&'a self, uri: &'a str) -> CrlFuture<'a> {
        Box::pin(async move { self.http.get_typed(uri, wallet_core::x509::crl::CRL_MEDIA_TYPE, self.deadline).await.map(|r| r.body).map_err(|e| e.to_string()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[test]
    fn urls_checked_on_the_parsed_host() {
        for ok in ["https://a.it/x", "http://127.0.0.1:7600/x", "http://localhost:1/", "http://[::1]:80/"] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in ["http://127.0.0.1:1@other-host/", "http://10.0.0.1/", "ftp://a.it/", "https://u:p@a.it/", "file:///etc/passwd", "http://127.0.0.1.evil.it/"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    /// A server that accepts and never answers.
    async fn black_hole() -> (String, tokio::task::JoinHandle<()>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        let h = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        (url, h)
    }

    #[test]
    fn limits_outside_their_ranges_are_refused_by_name() {
        let d = FetchLimits::default();
        let cases = [
            (FetchLimits { connect_ms: 0, ..d }, "connect_ms"),
            (FetchLimits { fetch_ms: 600_001, ..d }, "fetch_ms"),
            (FetchLimits { request_ms: u64::MAX, ..d }, "request_ms"),
            (FetchLimits { request_ms: 0, ..d }, "request_ms"),
            (FetchLimits { max_in_flight: 0, ..d }, "max_in_flight"),
            (FetchLimits { max_in_flight: 100_001, ..d }, "max_in_flight"),
            (FetchLimits { max_body: 0, ..d }, "max_body"),
            (FetchLimits { max_body: 64 * 1024 * 1024 + 1, ..d }, "max_body"),
        ];
        for (limits, field) in cases {
            match OutboundHttp::new(limits) {
                Err(FetchError::InvalidLimit(f, _)) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let top = FetchLimits { connect_ms: 600_000, fetch_ms: 600_000, request_ms: 600_000, max_in_flight: 100_000, max_body: 64 * 1024 * 1024 };
        let http = OutboundHttp::new(top).unwrap();
        assert!(http.for_request().deadline > Instant::now());
    }

    #[tokio::test]
    async fn a_dead_upstream_costs_at_most_the_fetch_timeout() {
        let (url, _h) = black_hole().await;
        let http = OutboundHttp::new(FetchLimits { fetch_ms: 300, ..FetchLimits::default() }).unwrap();
        let t = std::time::Instant::now();
        let e = http.get(&url, "*/*", Instant::now() + Duration::from_secs(10)).await.unwrap_err();
        assert_eq!(e, FetchError::Timeout);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[tokio::test]
    async fn the_request_deadline_bounds_a_chain_of_fetches() {
        let (url, _h) = black_hole().await;
        let http = OutboundHttp::new(FetchLimits { fetch_ms: 5_000, request_ms: 400, ..FetchLimits::default() }).unwrap();
        let f = http.for_request();
        let t = std::time::Instant::now();
        // Thirty dead superiors one after the other: the deadline ends them all.
        for _ in 0..30 {
            assert!(AsyncFetcher::get(&f, &url, "*/*").await.is_err());
        }
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[tokio::test]
    async fn saturation_fails_fast_instead_of_queueing() {
        let (url, _h) = black_hole().await;
        let http = OutboundHttp::new(FetchLimits { fetch_ms: 2_000, max_in_flight: 2, ..FetchLimits::default() }).unwrap();
        let d = Instant::now() + Duration::from_secs(5);
        let (a, b) = (http.clone(), http.clone());
        let (ua, ub) = (url.clone(), url.clone());
        let _t1 = tokio::spawn(async move { a.get(&ua, "*/*", d).await });
        let _t2 = tokio::spawn(async move { b.get(&ub, "*/*", d).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(http.in_flight(), 2);
        let t = std::time::Instant::now();
        assert_eq!(http.get(&url, "*/*", d).await.unwrap_err(), FetchError::Saturated(2));
        assert!(t.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test]
    async fn post_sends_the_body_and_headers_and_reports_the_status() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut n = 0;
                    // Headers, then the 7-byte body.
                    while !String::from_utf8_lossy(&buf[..n]).ends_with("{\"a\": 1}") {
                        let m = s.read(&mut buf[n..]).await.unwrap_or(0);
                        if m == 0 {
                            break;
                        }
                        n += m;
                    }
                    let req = String::from_utf8_lossy(&buf[..n]).to_string();
                    let status = if req.starts_with("POST /ok") { "204 No Content" } else { "500 Internal Server Error" };
                    let _ = tx.send(req);
                    let _ = s.write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes()).await;
                });
            }
        });
        let http = OutboundHttp::new(FetchLimits::default()).unwrap();
        let d = Instant::now() + Duration::from_secs(5);
        let body = b"{\"a\": 1}".to_vec();
        assert_eq!(http.post(&format!("{base}/ok"), "application/json", &[("x-sig", "abc")], body.clone(), d).await, Ok(204));
        let req = rx.recv().await.unwrap().to_ascii_lowercase();
        assert!(req.contains("content-type: application/json") && req.contains("x-sig: abc"), "{req}");
        assert_eq!(http.post(&format!("{base}/fail"), "application/json", &[], body.clone(), d).await, Err(FetchError::Status(500)));
        assert!(matches!(http.post("http://10.0.0.1/", "application/json", &[], body, d).await, Err(FetchError::RefusedUrl(_))));
    }

    /// A CA, and a server certificate for `localhost` it issued: PEM texts (CA, leaf, key).
    fn private_ca() -> (String, String, String) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "Private federation TLS CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&key, &issuer).unwrap();
        (ca_cert.pem(), leaf.pem(), key.serialize_pem())
    }

    #[tokio::test]
    async fn https_trusts_the_configured_ca_and_content_types_are_returned() {
        let (ca, leaf, key) = private_ca();
        let tls = crate::serve::tls_config(leaf.as_bytes(), key.as_bytes()).unwrap();
        let router = axum::Router::new().route(
            "/status",
            axum::routing::get(|| async { ([(axum::http::header::CONTENT_TYPE, "application/statuslist+jwt")], vec![0xffu8, 0x00, 0x41]) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://localhost:{}/status", listener.local_addr().unwrap().port());
        tokio::spawn(crate::serve::serve_tls(listener, router, tls, std::future::pending()));
        let d = Instant::now() + Duration::from_secs(5);

        let system_only = OutboundHttp::new(FetchLimits::default()).unwrap();
        assert!(matches!(system_only.get_typed(&url, "*/*", d).await, Err(FetchError::Network(_))), "the private CA is not a system root");

        let dir = std::env::temp_dir().join(format!("service-kit-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), &ca).unwrap();
        let http = OutboundHttp::with_ca(FetchLimits::default(), &OutboundCa::from_files(&[dir.join("ca.pem")]).unwrap()).unwrap();
        let r = http.get_typed(&url, "application/statuslist+jwt", d).await.unwrap();
        assert_eq!(r, Typed { content_type: Some("application/statuslist+jwt".into()), content_encoding: None, body: vec![0xff, 0x00, 0x41] });
        assert_eq!(http.get(&url, "*/*", d).await.unwrap_err(), FetchError::NotUtf8, "bytes, not text");
        let _ = std::fs::remove_dir_all(&dir);

        assert!(matches!(OutboundCa::from_files(&["/nonexistent/ca.pem".into()]), Err(FetchError::InvalidCa(_))));
        assert!(matches!(OutboundHttp::with_ca(FetchLimits::default(), &OutboundCa { pem: "not PEM".into() }), Err(FetchError::InvalidCa(_))));
    }

    #[tokio::test]
    async fn body_bound_and_status() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).to_string();
                    let resp = if req.starts_with("GET /big") {
                        format!("HTTP/1.1 200 OK\r\ncontent-length: 5000\r\nconnection: close\r\n\r\n{}", "x".repeat(5000))
                    } else {
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
                    };
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        let http = OutboundHttp::new(FetchLimits { max_body: 1000, ..FetchLimits::default() }).unwrap();
        let d = Instant::now() + Duration::from_secs(5);
        assert_eq!(http.get(&format!("{base}/big"), "*/*", d).await.unwrap_err(), FetchError::TooLarge(1000));
        assert_eq!(http.get(&format!("{base}/none"), "*/*", d).await.unwrap_err(), FetchError::Status(404));
    }
}
