//! JSON parsing for JOSE headers: refuses duplicate member names at any depth
//! (RFC 7515 §4 and RFC 7516 §4: "MUST reject" or use the last; we reject, since a verifier
//! and a signer reading different values is the classic confusion attack).

use serde::de::{DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

use super::JoseError;

/// Parses `bytes` as `T` after checking that no object in it repeats a key.
pub(crate) fn from_slice_strict<T: DeserializeOwned>(
    bytes: &[u8],
    part: &'static str,
) -> Result<T, JoseError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match (&mut de).deserialize_any(NoDup) {
        Ok(()) => {}
        Err(e) => {
            let msg = e.to_string();
            if let Some(rest) = msg.strip_prefix(DUP_PREFIX) {
                let name = rest.split('`').next().unwrap_or_default();
                return Err(JoseError::DuplicateHeader(name.to_owned()));
            }
            return Err(JoseError::BadJson { part, detail: msg });
        }
    }
    serde_json::from_slice(bytes).map_err(|e| JoseError::BadJson { part, detail: e.to_string() })
}

const DUP_PREFIX: &str = "duplicate member `";

struct NoDup;

impl<'de> serde::Deserialize<'de> for NoDup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDup).map(|()| NoDup)
    }
}

impl<'de> Visitor<'de> for NoDup {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<NoDup>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("{DUP_PREFIX}{key}`")));
            }
            map.next_value::<NoDup>()?;
        }
        Ok(())
    }
}
