//! base64url without padding (RFC 7515 §2), the only encoding JOSE and SD-JWT use.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Encodes bytes as base64url without padding.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends the base64url encoding of `bytes` to `out`.
pub fn encode_into(bytes: impl AsRef<[u8]>, out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// Decodes base64url without padding; padding, `+`, `/` and whitespace are refused.
pub fn decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(s)
}

/// Decodes base64url without padding into `out` (cleared first), reusing its allocation.
pub(crate) fn decode_into(s: &str, out: &mut Vec<u8>) -> Result<(), base64::DecodeError> {
    out.clear();
    URL_SAFE_NO_PAD.decode_vec(s, out).map(|_| ())
}

/// Encodes `bytes` into `out`; the number of bytes written, or `None` if `out` is too short.
pub(crate) fn encode_to_slice(bytes: impl AsRef<[u8]>, out: &mut [u8]) -> Option<usize> {
    URL_SAFE_NO_PAD.encode_slice(bytes, out).ok()
}

/// Decodes `s` and hands the bytes to `f`: on the stack when they are small (JOSE headers),
/// in a `Vec` otherwise. `None` when `s` is not base64url.
pub(crate) fn with_decoded<T>(s: &str, f: impl FnOnce(&[u8]) -> T) -> Option<T> {
    const SMALL: usize = 192;
    if s.len() <= SMALL / 3 * 4 {
        let mut buf = [0u8; SMALL];
        let n = URL_SAFE_NO_PAD.decode_slice(s, &mut buf).ok()?;
        Some(f(buf.get(..n)?))
    } else {
        decode(s).ok().map(|v| f(&v))
    }
}
