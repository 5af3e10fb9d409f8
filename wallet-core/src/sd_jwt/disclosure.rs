//! Disclosures (RFC 9901 §4.2): `base64url(JSON [salt, name, value])` for object properties
//! and `base64url(JSON [salt, value])` for array elements, and their digests (§4.2.3).

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::SdJwtError;
use crate::jose::b64;

/// The only `_sd_alg` we issue and accept (IT-Wallet 1.4 §4.1 uses `sha-256`; RFC 9901 §4.1.1
/// makes it the default when `_sd_alg` is absent).
pub const SD_ALG: &str = "sha-256";

/// Claim names that can never be disclosed (RFC 9901 §4.2.1).
const RESERVED_NAMES: [&str; 2] = ["_sd", "..."];

/// The digest of a disclosure: base64url(SHA-256(ASCII(encoded disclosure))) (RFC 9901 §4.2.3).
pub fn digest(encoded: &str) -> String {
    b64::encode(Sha256::digest(encoded.as_bytes()))
}

/// A random salt: 128 bits, base64url (RFC 9901 §4.2.1 recommends at least 128 bits).
pub(crate) fn random_salt() -> Result<String, SdJwtError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| SdJwtError::Randomness(e.to_string()))?;
    Ok(b64::encode(bytes))
}

/// One disclosure, as received or as created, with its digest computed once.
#[derive(Debug, Clone, PartialEq)]
pub struct Disclosure {
    encoded: String,
    digest: String,
    salt: String,
    name: Option<String>,
    value: Value,
}

impl Disclosure {
    /// A disclosure of the object property `name: value` with a fresh salt.
    pub fn property(name: &str, value: Value) -> Result<Self, SdJwtError> {
        Self::build(random_salt()?, Some(name.to_owned()), value)
    }

    /// A disclosure of an array element with a fresh salt.
    pub fn element(value: Value) -> Result<Self, SdJwtError> {
        Self::build(random_salt()?, None, value)
    }

    /// A disclosure with a given salt (test vectors).
    pub fn with_salt(salt: &str, name: Option<&str>, value: Value) -> Result<Self, SdJwtError> {
        Self::build(salt.to_owned(), name.map(str::to_owned), value)
    }

    fn build(salt: String, name: Option<String>, value: Value) -> Result<Self, SdJwtError> {
        if let Some(n) = &name
            && RESERVED_NAMES.contains(&n.as_str()) {
                return Err(SdJwtError::ReservedClaimName(n.clone()));
            }
        let array = match &name {
            Some(n) => Value::Array(vec![Value::String(salt.clone()), Value::String(n.clone()), value.clone()]),
            None => Value::Array(vec![Value::String(salt.clone()), value.clone()]),
        };
        let encoded = b64::encode(array.to_string());
        Ok(Self { digest: digest(&encoded), encoded, salt, name, value })
    }

    /// Parses a received disclosure; `index` is its position, for error messages.
    pub fn parse(encoded: &str, index: usize) -> Result<Self, SdJwtError> {
        let bad = |reason: &'static str| SdJwtError::MalformedDisclosure { index, reason };
        let bytes = b64::decode(encoded).map_err(|_| bad("not base64url"))?;
        let Wire(salt, name, value) = serde_json::from_slice(&bytes).map_err(|e| {
            let msg = e.to_string();
            bad(WIRE_ERRORS.iter().find(|r| msg.contains(**r)).copied().unwrap_or("not JSON"))
        })?;
        if let Some(n) = &name
            && RESERVED_NAMES.contains(&n.as_str()) {
                return Err(SdJwtError::ReservedClaimName(n.clone()));
            }
        Ok(Self { digest: digest(encoded), encoded: encoded.to_owned(), salt, name, value })
    }

    /// The base64url form, as it travels after a `~`.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    /// Its digest.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The salt.
    pub fn salt(&self) -> &str {
        &self.salt
    }

    /// The claim name (object properties only).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The disclosed value.
    pub fn value(&self) -> &Value {
        &self.value
    }
}

/// The reasons the wire parser can give, matched in its error message.
const WIRE_ERRORS: [&str; 4] =
    ["not a JSON array", "must have 2 or 3 elements", "salt is not a string", "claim name is not a string"];

/// `[salt, value]` or `[salt, name, value]`, parsed in one pass without an intermediate array.
struct Wire(String, Option<String>, Value);

impl<'de> serde::Deserialize<'de> for Wire {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Wire;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("not a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Wire, A::Error> {
                let salt: Value = seq.next_element()?.ok_or_else(|| A::Error::custom("must have 2 or 3 elements"))?;
                let Value::String(salt) = salt else {
                    return Err(A::Error::custom("salt is not a string"));
                };
                let second: Value = seq.next_element()?.ok_or_else(|| A::Error::custom("must have 2 or 3 elements"))?;
                match seq.next_element::<Value>()? {
                    None => Ok(Wire(salt, None, second)),
                    Some(value) => {
                        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                            return Err(A::Error::custom("must have 2 or 3 elements"));
                        }
                        let Value::String(name) = second else {
                            return Err(A::Error::custom("claim name is not a string"));
                        };
                        Ok(Wire(salt, Some(name), value))
                    }
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9901 §4.2.1 / §4.2.3: the `family_name` example and its digest.
    #[test]
    fn rfc9901_property_disclosure_digest() {
        let d = Disclosure::parse("WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0", 0).unwrap();
        assert_eq!(d.name(), Some("family_name"));
        assert_eq!(d.value(), &Value::String("Möbius".into()));
        assert_eq!(d.digest(), "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0");
    }

    /// RFC 9901 §4.2.2: an array element disclosure.
    #[test]
    fn rfc9901_array_element_disclosure() {
        let d = Disclosure::parse("WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0", 0).unwrap();
        assert_eq!(d.name(), None);
        assert_eq!(d.value(), &Value::String("FR".into()));
        assert_eq!(d.digest(), "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs");
    }

    #[test]
    fn malformed_disclosures() {
        let enc = |s: &str| b64::encode(s);
        let cases = [
            (enc(r#"["salt"]"#), "must have 2 or 3 elements"),
            (enc(r#"["s","n","v","x"]"#), "must have 2 or 3 elements"),
            (enc(r#"{"a":1}"#), "not a JSON array"),
            (enc(r#"[1,"n","v"]"#), "salt is not a string"),
            (enc(r#"["s",1,"v"]"#), "claim name is not a string"),
            (enc("not json"), "not JSON"),
            ("***".to_owned(), "not base64url"),
        ];
        for (input, reason) in cases {
            assert_eq!(Disclosure::parse(&input, 3), Err(SdJwtError::MalformedDisclosure { index: 3, reason }));
        }
    }

    #[test]
    fn reserved_names_cannot_be_disclosed() {
        for n in ["_sd", "..."] {
            let e = b64::encode(format!(r#"["s","{n}","v"]"#));
            assert_eq!(Disclosure::parse(&e, 0), Err(SdJwtError::ReservedClaimName(n.into())));
            assert_eq!(Disclosure::property(n, Value::Null), Err(SdJwtError::ReservedClaimName(n.into())));
        }
    }
}
