//! `application/x-www-form-urlencoded` bodies and query strings (RFC 6749 §3.1, App. B):
//! bounded, each parameter at most once, empty values treated as absent.

use std::collections::BTreeMap;

use super::error::MessageError;

/// The largest form body or query we parse (a request object by value fits).
pub(crate) const MAX_FORM_LEN: usize = 64 * 1024;

/// A parsed form: names to values, each name once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Form(BTreeMap<String, String>);

impl Form {
    /// Parses `body`, refusing a repeated name (RFC 6749 §3.1 "MUST NOT be included more
    /// than once").
    pub(crate) fn parse(body: &str, what: &'static str) -> Result<Self, MessageError> {
        if body.len() > MAX_FORM_LEN {
            return Err(MessageError::TooLarge { what, len: body.len(), limit: MAX_FORM_LEN });
        }
        let mut map = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
            if map.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(MessageError::DuplicateParameter(k.into_owned()));
            }
        }
        Ok(Self(map))
    }

    /// A non-empty value of `name`, if any.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The value of `name`, required.
    pub(crate) fn require(&self, name: &'static str) -> Result<&str, MessageError> {
        self.get(name).ok_or(MessageError::MissingParameter(name))
    }

    /// An owned optional value.
    pub(crate) fn opt(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }
}

/// Encodes `pairs` as a form body; `None` values are left out.
pub(crate) fn encode<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

/// 32 random bytes as base64url (256 bits: nonces, `jti`, `state`, codes).
pub(crate) fn random_token() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(crate::jose::b64::encode(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_parameters_are_refused_and_empty_is_absent() {
        let f = Form::parse("a=1&b=&c=x+y%2B", "t").unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), None);
        assert_eq!(f.get("c"), Some("x y+"));
        assert_eq!(f.require("b"), Err(MessageError::MissingParameter("b")));
        assert_eq!(Form::parse("a=1&a=2", "t"), Err(MessageError::DuplicateParameter("a".into())));
        let big = "a=".to_owned() + &"x".repeat(MAX_FORM_LEN);
        assert!(matches!(Form::parse(&big, "t"), Err(MessageError::TooLarge { .. })));
        assert_eq!(encode([("a", Some("x y")), ("b", None)]), "a=x+y");
        assert_eq!(random_token().unwrap().len(), 43);
    }
}
