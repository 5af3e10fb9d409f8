//! HTML for the few pages services serve (the test OpenID Provider's login, the verifier's
//! in-person page, the issuer's identity provider choice): one escape for all.

/// Escapes text for HTML (and XML) element content and quoted attribute values; control
/// characters other than newline, carriage return and tab, which XML 1.0 forbids even
/// escaped, become U+FFFD.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(super::esc(r#"<a href="x" title='y'>&</a>"#), "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
        assert_eq!(super::esc("Motorizzazione è"), "Motorizzazione è");
        assert_eq!(super::esc("a\u{1}b\n\tc"), "a\u{FFFD}b\n\tc");
    }
}
