//! Serving a Token Status List (draft-ietf-oauth-status-list §8.1, IT-Wallet 1.4 §6): one
//! response for every service that publishes one (the issuer, the wallet provider).

use axum::http::header;
use axum::response::{IntoResponse as _, Response};
use wallet_core::status::{MEDIA_TYPE, encoding};

/// `jwt` as `application/statuslist+jwt`, `Cache-Control: no-cache` (the token's own `ttl`
/// says how long a relying party may keep it), gzip-compressed when `accept_encoding` allows
/// it (§8.1 "SHOULD use gzip Content-Encoding"; `gzip` is the compressed token when the
/// caller keeps one, else it is compressed here), `Vary: Accept-Encoding` either way.
pub fn status_list_response(accept_encoding: Option<&str>, jwt: &str, gzip: Option<&[u8]>) -> Response {
    let common = [(header::CONTENT_TYPE, MEDIA_TYPE), (header::CACHE_CONTROL, "no-cache"), (header::VARY, "accept-encoding")];
    if encoding::accepts_gzip(accept_encoding) {
        let body = gzip.map_or_else(|| encoding::gzip(jwt.as_bytes()), <[u8]>::to_vec);
        return (common, [(header::CONTENT_ENCODING, "gzip")], body).into_response();
    }
    (common, jwt.to_owned()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> Vec<u8> {
        axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap().to_vec()
    }

    #[tokio::test]
    async fn gzip_only_for_clients_that_accept_it() {
        let jwt = "eyJ0eXAiOiJzdGF0dXNsaXN0K2p3dCJ9.e30.c2ln";
        let plain = status_list_response(None, jwt, None);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!((plain.headers()[header::CONTENT_TYPE].to_str().unwrap(), plain.headers()[header::VARY].to_str().unwrap()), (MEDIA_TYPE, "accept-encoding"));
        assert_eq!(body(plain).await, jwt.as_bytes());
        for kept in [None, Some(encoding::gzip(jwt.as_bytes()))] {
            let z = status_list_response(Some("gzip, br"), jwt, kept.as_deref());
            assert_eq!(z.headers()[header::CONTENT_ENCODING], "gzip");
            assert_eq!(encoding::decode_body(Some("gzip"), body(z).await, 1024).unwrap(), jwt.as_bytes());
        }
        let refused = status_list_response(Some("gzip;q=0"), jwt, None);
        assert!(refused.headers().get(header::CONTENT_ENCODING).is_none());
    }
}
