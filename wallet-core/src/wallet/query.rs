//! URL query strings: `application/x-www-form-urlencoded` encoding of parameters and parsing of
//! a redirect URL's query (WHATWG URL "application/x-www-form-urlencoded").

/// Percent-encodes `s` for a query component (unreserved characters kept, space as `%20`).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        }
    }
    out
}

/// The upper-case hex digit of a nibble.
fn hex_digit(n: u8) -> char {
    char::from(if n < 10 { b'0' + n } else { b'A' + (n & 0x0f) - 10 })
}

/// `base?k1=v1&k2=v2` (or `&` when `base` already has a query).
pub fn with_params(base: &str, params: &[(&str, &str)]) -> String {
    let mut out = base.to_owned();
    let mut sep = if base.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        out.push(sep);
        out.push_str(&encode(k));
        out.push('=');
        out.push_str(&encode(v));
        sep = '&';
    }
    out
}

fn decode(s: &str) -> Option<String> {
    // Most values (base64url tokens, a JWE) have nothing to decode: one scan, one copy.
    let Some(first) = memchr::memchr2(b'%', b'+', s.as_bytes()) else { return Some(s.to_owned()) };
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(bytes.get(..first)?);
    let mut i = first;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The query parameters of `url` (before any `#`), decoded; `None` if one does not decode.
pub fn params(url: &str) -> Option<Vec<(String, String)>> {
    let without_fragment = url.split('#').next().unwrap_or_default();
    let Some((_, query)) = without_fragment.split_once('?') else { return Some(Vec::new()) };
    form(query)
}

/// The pairs of an `application/x-www-form-urlencoded` body, decoded; `None` if one does not
/// decode.
pub fn form(body: &str) -> Option<Vec<(String, String)>> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

/// `url` without its query and fragment.
pub fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let url = with_params("https://wp.example/citizen/login", &[("redirect_uri", "it.tessera://cb?x=1"), ("state", "a b")]);
        assert_eq!(url, "https://wp.example/citizen/login?redirect_uri=it.tessera%3A%2F%2Fcb%3Fx%3D1&state=a%20b");
        let p = params(&url).unwrap();
        assert_eq!(p, vec![("redirect_uri".into(), "it.tessera://cb?x=1".into()), ("state".into(), "a b".into())]);
        assert_eq!(params("x://cb?code=a+b%2B#frag").unwrap(), vec![("code".into(), "a b+".into())]);
        assert_eq!(params("x://cb?bad=%zz"), None);
        assert_eq!(params("x://cb?bad=%f"), None);
        assert_eq!(params("x://cb?a=b%2"), None);
        assert_eq!(params("x://cb?a=%C3%A9t%C3%A9+x"), Some(vec![("a".into(), "été x".into())]));
        assert_eq!(params("x://cb?a=%FF"), None, "not UTF-8");
        assert_eq!(form("response=eyJ.a-b_c&state=s%20t&&x").unwrap(), vec![("response".into(), "eyJ.a-b_c".into()), ("state".into(), "s t".into()), ("x".into(), "".into())]);
        assert_eq!(encode("a b/é~"), "a%20b%2F%C3%A9~");
        // A body is not a URL: `#` is a character like another (WHATWG urlencoded parsing).
        assert_eq!(form("a=b#c&d=e").unwrap(), vec![("a".into(), "b#c".into()), ("d".into(), "e".into())]);
        assert_eq!(form("").unwrap(), Vec::<(String, String)>::new());
        assert_eq!(without_query("x://cb/p?a=1#f"), "x://cb/p");
        assert_eq!(with_params("x://a?b=1", &[("c", "2")]), "x://a?b=1&c=2");
    }
}
