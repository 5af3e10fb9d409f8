//! Serving a router: with the peer address that [`crate::rate_limit`] counts clients by, and
//! graceful shutdown; over plain TCP ([`serve`]) or HTTPS ([`serve_tls`], rustls 0.23 with
//! the aws-lc-rs provider given explicitly, TLS 1.2 and 1.3, HTTP/1.1).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::serve::ListenerExt as _;
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
pub use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

/// Serves `router` on `listener` until `shutdown` completes, giving handlers and layers the
/// peer address (`ConnectInfo<SocketAddr>`). Each connection's socket has `TCP_NODELAY`
/// ([`no_delay`]).
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    axum::serve(listener.tap_io(no_delay), router.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown).await
}

/// Turns Nagle's algorithm off on an accepted connection: a response is written whole at
/// once, and Nagle would hold its last partial segment until the client acknowledges the
/// ones before, which a client delaying its ACKs does for up to 40 ms (a credential or a
/// request object with its `trust_chain` is several segments on a real network).
fn no_delay(tcp: &mut TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set");
    }
}

/// `[tls]` in a service's TOML: a certificate chain (PEM, leaf first) and its private key
/// (PEM: PKCS#8, SEC1 or PKCS#1).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate chain file.
    pub certificate: PathBuf,
    /// The private key file.
    pub private_key: PathBuf,
}

/// Why a TLS configuration cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file cannot be read.
    #[error("{path}: {detail}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// No certificate in the PEM text.
    #[error("tls.certificate: no CERTIFICATE in the PEM text")]
    NoCertificate,
    /// The PEM text does not parse, or holds no private key.
    #[error("tls.private_key: {0}")]
    Key(String),
    /// rustls refused the pair (a key that does not match the certificate, say).
    #[error("tls: {0}")]
    Rustls(String),
}

/// A TLS server configuration from PEM text: the chain (leaf first) and its key, the
/// aws-lc-rs provider (given here, not installed process-wide), TLS 1.2 and 1.3, ALPN
/// `http/1.1`.
pub fn tls_config(certificate_pem: &[u8], private_key_pem: &[u8]) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(certificate_pem).collect::<Result<Vec<_>, _>>().map_err(|_| TlsError::NoCertificate)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(private_key_pem).map_err(|e| TlsError::Key(e.to_string()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// [`tls_config`] from the files of `[tls]`.
pub fn load_tls(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| TlsError::Io { path: p.display().to_string(), detail: e.to_string() });
    tls_config(&read(&files.certificate)?, &read(&files.private_key)?)
}

/// The longest a client may take over its TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; connections beyond are closed at once.
pub const MAX_TLS_HANDSHAKES: usize = 512;
/// Handshaken connections waiting for the server to take them.
const ACCEPTED_QUEUE: usize = 128;

/// A listener whose connections are TLS: TCP accepted, each handshake on a task of its own
/// (a slow client does not hold up the others), bounded in time and number.
struct TlsListener {
    accepted: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // The accept loop owns the socket: stopping it frees the port.
        self.task.abort();
    }
}

impl TlsListener {
    fn new(listener: TcpListener, tls: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, accepted) = tokio::sync::mpsc::channel(ACCEPTED_QUEUE);
        let acceptor = TlsAcceptor::from(tls);
        let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_TLS_HANDSHAKES));
        let task = tokio::spawn(async move {
            loop {
                let (mut tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(error = %e, "TLS listener: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                no_delay(&mut tcp);
                let Ok(permit) = Arc::clone(&handshakes).try_acquire_owned() else {
                    tracing::warn!(%peer, "TLS listener: {MAX_TLS_HANDSHAKES} handshakes in progress, connection closed");
                    continue;
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { accepted, local, task })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(c) => c,
            // The accept loop ended (aborted with us): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// As [`serve`], over HTTPS with `tls` ([`tls_config`], [`load_tls`]): handlers get the peer
/// address alike.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    tls: Arc<ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // `tap_io` gives the listener axum's `SocketAddr` connect info.
    let listener = TlsListener::new(listener, tls)?.tap_io(|_| {});
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown).await
}

/// Adds the headers that keep a page out of other sites' frames (clickjacking of a login or
/// consent page): `X-Frame-Options: DENY` and `Content-Security-Policy: frame-ancestors 'none'`,
/// plus `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.
pub fn no_framing<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(axum::middleware::map_response(|mut r: axum::response::Response| async move {
        let h = r.headers_mut();
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
            h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'"));
        }
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        r
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Accepted connections have Nagle's algorithm off.
    #[tokio::test]
    async fn accepted_connections_have_no_delay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (mut tcp, _) = listener.accept().await.unwrap();
        assert!(!tcp.nodelay().unwrap(), "off by default");
        no_delay(&mut tcp);
        assert!(tcp.nodelay().unwrap());
    }

    #[tokio::test]
    async fn https_with_the_peer_address_then_shutdown_frees_the_port() {
        let (cert, key) = self_signed();
        let tls = tls_config(cert.as_bytes(), key.as_bytes()).unwrap();
        let router = Router::new().route(
            "/peer",
            axum::routing::get(|axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_tls(listener, router, tls, async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(cert.as_bytes()).unwrap()])
            .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
            .build()
            .unwrap();
        let r = client.get(format!("https://localhost:{port}/peer")).send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), "127.0.0.1");
        // Plain HTTP on the TLS port gets no answer; a client not trusting the certificate
        // is refused.
        assert!(reqwest::get(format!("http://127.0.0.1:{port}/peer")).await.is_err());
        let untrusting = reqwest::Client::builder().tls_certs_only([]).resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port))).build().unwrap();
        assert!(untrusting.get(format!("https://localhost:{port}/peer")).send().await.is_err());
        let _ = stop.send(());
        drop(client);
        tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap().unwrap();
        TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    }

    #[test]
    fn bad_pem_is_refused_by_name() {
        let (cert, key) = self_signed();
        let (_, other_key) = self_signed();
        assert!(matches!(tls_config(b"", key.as_bytes()), Err(TlsError::NoCertificate)));
        assert!(matches!(tls_config(cert.as_bytes(), b"nothing"), Err(TlsError::Key(_))));
        assert!(matches!(tls_config(cert.as_bytes(), other_key.as_bytes()), Err(TlsError::Rustls(_))));
        let files = TlsFiles { certificate: "/nonexistent/cert.pem".into(), private_key: "/nonexistent/key.pem".into() };
        assert!(matches!(load_tls(&files), Err(TlsError::Io { .. })));
    }
}
