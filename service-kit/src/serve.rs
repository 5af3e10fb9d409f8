//! Serving a router: with the peer address that [`crate::rate_limit`] counts clients by, and
//! graceful shutdown.

use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderValue, header};

/// Serves `router` on `listener` until `shutdown` completes, giving handlers and layers the
/// peer address (`ConnectInfo<SocketAddr>`).
pub async fn serve(listener: tokio::net::TcpListener, router: Router, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
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
