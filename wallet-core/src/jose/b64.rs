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

/// Decoded bytes kept inline when they fit in `N` (a signature, a JOSE header, a
/// disclosure), on the heap otherwise: the verifier's hot path decodes several small parts
/// per presentation and allocates for none of them.
#[derive(Clone)]
pub(crate) enum Decoded<const N: usize> {
    Inline([u8; N], usize),
    Heap(Vec<u8>),
}

impl<const N: usize> Decoded<N> {
    /// Decodes base64url without padding, as [`decode`] does; `None` when `s` is not
    /// base64url.
    pub(crate) fn decode(s: &str) -> Option<Self> {
        // The decoded length is at most 3/4 of the encoded one.
        if s.len() / 4 * 3 + 3 <= N {
            let mut buf = [0u8; N];
            let n = URL_SAFE_NO_PAD.decode_slice(s, &mut buf).ok()?;
            Some(Self::Inline(buf, n))
        } else {
            decode(s).ok().map(Self::Heap)
        }
    }
}

impl<const N: usize> std::ops::Deref for Decoded<N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Self::Inline(buf, n) => buf.get(..*n).unwrap_or_default(),
            Self::Heap(v) => v,
        }
    }
}

impl<const N: usize> std::fmt::Debug for Decoded<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_agrees_with_decode_inline_and_on_the_heap() {
        for len in [0usize, 1, 2, 3, 62, 63, 64, 65, 66, 200] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = encode(&bytes);
            let d = Decoded::<64>::decode(&text).unwrap();
            assert_eq!(&*d, &bytes[..], "{len} bytes");
            // Inline exactly when the estimate fits.
            assert_eq!(matches!(d, Decoded::Inline(..)), text.len() / 4 * 3 + 3 <= 64, "{len} bytes");
        }
    }

    #[test]
    fn decoded_refuses_what_decode_refuses() {
        for bad in ["e30=", "a", "ab+/", "ab c", "YR", "YWJjZA=="] {
            assert!(decode(bad).is_err(), "{bad}");
            assert!(Decoded::<64>::decode(bad).is_none(), "{bad}");
            assert!(Decoded::<2>::decode(bad).is_none(), "{bad} (heap)");
        }
    }
}
