//! The Token Status List's HTTP content coding (draft-ietf-oauth-status-list §8.1: "The HTTP
//! response SHOULD use gzip Content-Encoding as defined in RFC 9110"; test matrix CI_192).
//!
//! One rule for both sides: a status list provider answers gzip to a client that accepts it
//! ([`accepts_gzip`], [`gzip`]); a relying party asks for it ([`ACCEPT_ENCODING`]) and reads
//! either coding ([`decode_body`]), bounded, since the compressed body can be small and its
//! content large. The list inside the token is compressed already (ZLIB, §4.1); gzip wins
//! back the base64url's third.

use std::io::Read as _;

use super::StatusError;

/// The first two bytes of every gzip member (RFC 1952 §2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What a client sends as `Accept-Encoding` for a status list.
pub const ACCEPT_ENCODING: &str = "gzip";

/// Whether an `Accept-Encoding` value (RFC 9110 §12.5.3) accepts gzip: `gzip`, `x-gzip` or
/// `*` with a non-zero `q`. An absent header accepts only the identity coding here (the
/// RFC allows any coding then, but a client that says nothing may not decode one).
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(value) = accept_encoding else { return false };
    let mut gzip = None;
    let mut star = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip = Some(q > 0.0),
            "*" => star = Some(q > 0.0),
            _ => {}
        }
    }
    gzip.or(star).unwrap_or(false)
}

/// `body` gzip-compressed (server side; done once per signed token).
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 2 + 64), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = std::io::Write::write_all(&mut z, body);
    z.finish().unwrap_or_default()
}

/// The status list token's bytes from an HTTP response body and its `Content-Encoding`:
/// as they are without one (or `identity`), decompressed for `gzip`/`x-gzip`, at most `max`
/// bytes either way; any other coding is refused by name. A `gzip` body that does not start
/// with gzip's magic bytes was decoded already by an HTTP stack that kept the header (Apple's
/// URLSession does): it is read as it is (a token starts with `ey`, never with 0x1f 0x8b).
pub fn decode_body(content_encoding: Option<&str>, body: Vec<u8>, max: usize) -> Result<Vec<u8>, StatusError> {
    let coding = content_encoding.map(|c| c.trim().to_ascii_lowercase());
    match coding.as_deref() {
        None | Some("" | "identity") => {
            if body.len() > max {
                return Err(StatusError::TooLarge { limit: max });
            }
            Ok(body)
        }
        Some("gzip" | "x-gzip") if !body.starts_with(&GZIP_MAGIC) => decode_body(None, body, max),
        Some("gzip" | "x-gzip") => {
            let mut out = Vec::new();
            let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
            flate2::read::GzDecoder::new(body.as_slice())
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|e| StatusError::ContentEncoding(format!("gzip body does not decompress: {e}")))?;
            if out.len() > max {
                return Err(StatusError::TooLarge { limit: max });
            }
            Ok(out)
        }
        Some(other) => Err(StatusError::ContentEncoding(format!("`{other}` is not a coding a status list is read in (gzip or none)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_values() {
        for (value, ok) in [
            (None, false),
            (Some(""), false),
            (Some("gzip"), true),
            (Some("GZIP"), true),
            (Some("deflate, gzip;q=0.5"), true),
            (Some("br, x-gzip"), true),
            (Some("gzip;q=0"), false),
            (Some("gzip;q=0.0, *"), false),
            (Some("*"), true),
            (Some("*;q=0"), false),
            (Some("identity"), false),
            (Some("br, deflate"), false),
        ] {
            assert_eq!(accepts_gzip(value), ok, "{value:?}");
        }
    }

    #[test]
    fn gzip_round_trips_and_shrinks_base64() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.".to_owned() + &"QUFB".repeat(4_000) + ".sig";
        let z = gzip(jwt.as_bytes());
        assert!(z.len() < jwt.len() / 4, "{} -> {}", jwt.len(), z.len());
        assert_eq!(decode_body(Some("gzip"), z.clone(), jwt.len()).unwrap(), jwt.as_bytes());
        assert_eq!(decode_body(Some(" x-gzip "), z, jwt.len()).unwrap(), jwt.as_bytes());
        assert_eq!(decode_body(None, b"plain".to_vec(), 5).unwrap(), b"plain");
        assert_eq!(decode_body(Some("identity"), b"plain".to_vec(), 5).unwrap(), b"plain");
    }

    #[test]
    fn bombs_unknown_codings_and_garbage_are_refused() {
        let bomb = gzip(&vec![b'A'; 1 << 20]);
        assert!(bomb.len() < 4_096);
        assert_eq!(decode_body(Some("gzip"), bomb, 64 * 1024), Err(StatusError::TooLarge { limit: 64 * 1024 }));
        assert_eq!(decode_body(None, vec![0; 10], 9), Err(StatusError::TooLarge { limit: 9 }));
        assert!(matches!(decode_body(Some("br"), b"x".to_vec(), 10), Err(StatusError::ContentEncoding(m)) if m.contains("`br`")));
        let mut truncated = gzip(&vec![b'A'; 1_000]);
        truncated.truncate(12);
        assert!(matches!(decode_body(Some("gzip"), truncated, 100_000), Err(StatusError::ContentEncoding(_))));
    }

    #[test]
    fn a_body_decoded_by_the_http_stack_under_a_kept_header_is_read_as_it_is() {
        assert_eq!(decode_body(Some("gzip"), b"eyJ0eXAiOiJzdGF0dXNsaXN0K2p3dCJ9.e30.c2ln".to_vec(), 100).unwrap(), b"eyJ0eXAiOiJzdGF0dXNsaXN0K2p3dCJ9.e30.c2ln");
        assert_eq!(decode_body(Some("gzip"), vec![b'e'; 10], 9), Err(StatusError::TooLarge { limit: 9 }));
    }
}
