//! What a test saw: the HTTP exchanges it made and the JWTs it decoded, kept with its result
//! so that a failure can be read without re-running it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::Value;

/// Bodies are kept up to this many bytes in a report.
pub const MAX_BODY: usize = 64 * 1024;

/// One HTTP request and what came back.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Exchange {
    /// `GET`, `POST`…
    pub method: String,
    /// The URL.
    pub url: String,
    /// Request headers sent by the test (not the client's defaults).
    pub request_headers: Vec<(String, String)>,
    /// The request body, if any (truncated at [`MAX_BODY`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    /// The status, or none when no response came.
    pub status: Option<u16>,
    /// Response headers.
    pub response_headers: Vec<(String, String)>,
    /// The response body as text (lossy UTF-8, truncated at [`MAX_BODY`]).
    pub response_body: String,
    /// Why no response came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took.
    pub elapsed_ms: u64,
}

/// A JWT as the test decoded it (header and payload only; the signature is checked by the test).
#[derive(Debug, Clone, Serialize)]
pub struct DecodedJwt {
    /// What it is (`Entity Configuration of https://…`).
    pub label: String,
    /// The JOSE header.
    pub header: Value,
    /// The payload.
    pub payload: Value,
}

impl DecodedJwt {
    /// Decodes a compact JWS without verifying it; `None` when it is not one.
    pub fn decode(label: impl Into<String>, jwt: &str) -> Option<Self> {
        let mut parts = jwt.trim().split('.');
        let (h, p) = (parts.next()?, parts.next()?);
        let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        Some(Self { label: label.into(), header: decode(h)?, payload: decode(p)? })
    }
}

/// Everything one test saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evidence {
    /// The HTTP exchanges, in order.
    pub exchanges: Vec<Exchange>,
    /// The JWTs decoded.
    pub jwts: Vec<DecodedJwt>,
    /// Observations worth reading (what was compared with what).
    pub notes: Vec<String>,
}

/// Cuts `s` at [`MAX_BODY`] bytes on a character boundary.
pub fn truncate(mut s: String) -> String {
    if s.len() > MAX_BODY {
        let mut cut = MAX_BODY;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("…[truncated]");
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn jwts_decode_without_verification() {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256"}"#);
        let p = URL_SAFE_NO_PAD.encode(br#"{"iss":"x"}"#);
        let d = DecodedJwt::decode("t", &format!("{h}.{p}.sig")).unwrap();
        assert_eq!(d.header["alg"], "ES256");
        assert_eq!(d.payload["iss"], "x");
        assert!(DecodedJwt::decode("t", "not a jwt").is_none());
    }

    #[test]
    fn long_bodies_are_cut_on_a_char_boundary() {
        let s = "é".repeat(MAX_BODY);
        let t = truncate(s);
        assert!(t.ends_with("…[truncated]"));
        assert!(t.len() <= MAX_BODY + "…[truncated]".len());
    }
}
