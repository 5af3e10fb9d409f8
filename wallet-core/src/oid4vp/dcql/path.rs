//! DCQL claim paths (OpenID4VP 1.0 §7): a non-empty array of object keys (strings), array
//! indices (non-negative integers) and `null` (every element of an array), resolved against
//! a credential's claims into concrete [`ClaimPath`]s.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::sd_jwt::{ClaimPath, PathElement};

/// The most elements a claim path may have.
pub const MAX_PATH_LEN: usize = 16;

/// One element of a DCQL claim path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathPatternElement {
    /// A string: the object member of that name.
    Key(String),
    /// A non-negative integer: the array element at that index.
    Index(usize),
    /// `null`: every element of the array.
    All,
}

impl Serialize for PathPatternElement {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Key(k) => s.serialize_str(k),
            Self::Index(i) => s.serialize_u64(*i as u64),
            Self::All => s.serialize_unit(),
        }
    }
}

impl<'de> Deserialize<'de> for PathPatternElement {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Self::Key(s)),
            Value::Null => Ok(Self::All),
            Value::Number(n) => n
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .map(Self::Index)
                .ok_or_else(|| serde::de::Error::custom("a path index must be a non-negative integer")),
            _ => Err(serde::de::Error::custom("a path element is a string, a non-negative integer or null")),
        }
    }
}

/// A DCQL claim path, e.g. `["place_of_birth", "locality"]` or `["nationalities", null]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClaimPathPattern(pub Vec<PathPatternElement>);

impl ClaimPathPattern {
    /// `[name]`.
    pub fn key(name: &str) -> Self {
        Self(vec![PathPatternElement::Key(name.to_owned())])
    }

    /// `[k1, k2, ...]`: object keys only.
    pub fn keys(names: &[&str]) -> Self {
        Self(names.iter().map(|n| PathPatternElement::Key((*n).to_owned())).collect())
    }

    /// The elements.
    pub fn elements(&self) -> &[PathPatternElement] {
        &self.0
    }

    /// The concrete paths this pattern selects in `claims` with their values (§7.1: a key on
    /// a non-object, an index or `null` on a non-array select nothing). Empty when the claim
    /// is not there.
    pub fn resolve<'a>(&self, claims: &'a Map<String, Value>) -> Vec<(ClaimPath, &'a Value)> {
        let mut out: Vec<(ClaimPath, Option<&'a Value>)> = vec![(ClaimPath::default(), None)];
        for (depth, e) in self.0.iter().enumerate() {
            let mut next = Vec::new();
            for (path, v) in out {
                match (e, depth, v) {
                    (PathPatternElement::Key(k), 0, _) => {
                        if let Some(x) = claims.get(k) {
                            next.push((path.child(PathElement::Key(k.clone())), Some(x)));
                        }
                    }
                    (PathPatternElement::Key(k), _, Some(Value::Object(m))) => {
                        if let Some(x) = m.get(k) {
                            next.push((path.child(PathElement::Key(k.clone())), Some(x)));
                        }
                    }
                    (PathPatternElement::Index(i), _, Some(Value::Array(a))) => {
                        if let Some(x) = a.get(*i) {
                            next.push((path.child(PathElement::Index(*i)), Some(x)));
                        }
                    }
                    (PathPatternElement::All, _, Some(Value::Array(a))) => {
                        for (i, x) in a.iter().enumerate() {
                            next.push((path.child(PathElement::Index(i)), Some(x)));
                        }
                    }
                    _ => {}
                }
            }
            out = next;
        }
        out.into_iter().filter_map(|(p, v)| v.map(|v| (p, v))).collect()
    }
}

impl std::fmt::Display for ClaimPathPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| match e {
                PathPatternElement::Key(k) => k.clone(),
                PathPatternElement::Index(i) => i.to_string(),
                PathPatternElement::All => "*".to_owned(),
            })
            .collect();
        f.write_str(&parts.join("."))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn resolution_follows_section_7_1() {
        let claims = json!({"place_of_birth": {"locality": "Roma", "country": "IT"}, "nationalities": ["IT", "FR"], "given_name": "Mario"});
        let claims = claims.as_object().unwrap();
        let p: ClaimPathPattern = serde_json::from_str(r#"["nationalities", null]"#).unwrap();
        let r = p.resolve(claims);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].0, ClaimPath::parse_dotted("nationalities.1"));
        assert_eq!(r[1].1, "FR");
        assert_eq!(ClaimPathPattern::keys(&["place_of_birth", "locality"]).resolve(claims)[0].1, "Roma");
        assert!(ClaimPathPattern::keys(&["given_name", "x"]).resolve(claims).is_empty());
        assert!(serde_json::from_str::<ClaimPathPattern>(r#"["nationalities", 5]"#).unwrap().resolve(claims).is_empty());
        assert!(ClaimPathPattern::key("family_name").resolve(claims).is_empty());
        assert!(serde_json::from_str::<ClaimPathPattern>(r#"["a", -1]"#).is_err());
        assert!(serde_json::from_str::<ClaimPathPattern>(r#"["a", true]"#).is_err());
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"["nationalities",null]"#);
    }
}
