//! The verifier's fast path: the issuer-signed payload is read and its disclosures embedded
//! in one pass over the JSON text (RFC 9901 §7.1 steps 3-5 applied while parsing), instead
//! of building the payload's JSON tree, then walking it to remove `_sd` arrays and `...`
//! elements and embed the disclosed claims.
//!
//! The `_sd` digests are compared where they lie in the payload text and never become JSON
//! strings; each object's members are inserted once, with the disclosed ones appended in
//! `_sd` order, which is what [`super::process::process`] produces.
//!
//! This path only ever succeeds: on anything unusual (a JSON or structure error, a
//! duplicated member name, a disclosure of `iss` at the top level) it gives up and returns
//! `None`, and the verifier runs the general path, which defines every error and the order
//! the checks are made in. A hostile payload thus costs at most two parses before its
//! signature is checked. `tests::one_pass_agrees_with_general_path` and the
//! `sd_jwt_one_pass` fuzz target hold the two paths to the same result.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::disclosure::ParsedDisclosure;
use super::process::{Ctx, MAX_DEPTH, Node, Processed, embed_element, embed_property, take_digest};
use super::disclosure::SD_ALG;
use crate::jose::json::{Key, StrOrValue};

/// The claims map of the top level is created with room for this many members.
const TOP_LEVEL_CAPACITY: usize = 16;

/// What the one pass yields: the processed claims and the top-level `_sd_alg`, which is
/// not a claim.
pub(crate) struct OnePass {
    pub(crate) processed: Processed,
    pub(crate) sd_alg: SdAlg,
}

/// The top-level `_sd_alg` member, checked where it lies in the payload text.
pub(crate) enum SdAlg {
    Absent,
    /// [`SD_ALG`], the one we support.
    Supported,
    /// Anything else, kept for the error.
    Other(Value),
}

/// Reads `payload` (the issuer JWT's JSON) and embeds `disclosures`; `None` when the
/// general path must decide (see the module documentation). Disclosures may have been
/// consumed either way.
pub(crate) fn read(payload: &[u8], disclosures: &mut [ParsedDisclosure]) -> Option<OnePass> {
    let mut ctx = Ctx::new(disclosures).ok()?;
    let mut sd_alg = SdAlg::Absent;
    let mut de = serde_json::Deserializer::from_slice(payload);
    let seed = Seed { ctx: &mut ctx, at: &Node::ROOT, depth: 0, in_array: false, sd_alg: Some(&mut sd_alg) };
    let Read::Value(Value::Object(claims)) = seed.deserialize(&mut de).ok()? else { return None };
    de.end().ok()?;
    let paths = ctx.finish().ok()?;
    Some(OnePass { processed: Processed { claims, paths }, sd_alg })
}

/// A value read in place: a JSON value with its disclosures embedded, or, for an array
/// element `{"...": digest}`, the digest.
enum Read {
    Value(Value),
    Digest(String),
}

/// Reads one value at `at`. `sd_alg` is given at the top level only, where `_sd_alg` is
/// taken out of the claims (RFC 9901 §4.1.1).
struct Seed<'s, 'c, 'n, 'p, 'k> {
    ctx: &'s mut Ctx<'c>,
    at: &'n Node<'p, 'k>,
    depth: usize,
    in_array: bool,
    sd_alg: Option<&'s mut SdAlg>,
}

/// The error that sends the verifier to the general path (its text is never shown).
fn give_up<E: serde::de::Error>() -> E {
    E::custom("")
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_, '_, '_, '_> {
    type Value = Read;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Read, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(give_up());
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_, '_, '_, '_> {
    type Value = Read;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    // Scalars become the same `Value`s serde_json builds.
    fn visit_bool<E>(self, b: bool) -> Result<Read, E> {
        Ok(Read::Value(Value::Bool(b)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Read, E> {
        Ok(Read::Value(Value::Number(n.into())))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Read, E> {
        Ok(Read::Value(Value::Number(n.into())))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Read, E> {
        Ok(Read::Value(Number::from_f64(n).map_or(Value::Null, Value::Number)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Read, E> {
        Ok(Read::Value(Value::String(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Read, E> {
        Ok(Read::Value(Value::String(s)))
    }
    fn visit_unit<E>(self) -> Result<Read, E> {
        Ok(Read::Value(Value::Null))
    }

    /// An array: `{"...": digest}` elements are replaced by their disclosed value or
    /// dropped (RFC 9901 §7.1 step 3.3); other elements are read in place.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Read, A::Error> {
        let Seed { ctx, at, depth, .. } = self;
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            let node = at.index(out.len());
            let seed = Seed { ctx: &mut *ctx, at: &node, depth: depth + 1, in_array: true, sd_alg: None };
            match seq.next_element_seed(seed)? {
                None => break,
                Some(Read::Value(v)) => out.push(v),
                Some(Read::Digest(digest)) => {
                    if let Some(i) = take_digest(ctx, &digest).map_err(|_| give_up())? {
                        embed_element(&mut out, i, at, depth + 1, ctx).map_err(|_| give_up())?;
                    }
                }
            }
        }
        Ok(Read::Value(Value::Array(out)))
    }

    /// An object: members read in place, `_sd` digests looked up as they are read, and the
    /// disclosed claims appended in `_sd` order once the object is complete.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Read, A::Error> {
        let Seed { ctx, at, depth, in_array, mut sd_alg } = self;
        // The top level of a credential has tens of claims: room for them from the start.
        let mut m = if sd_alg.is_some() { Map::with_capacity(TOP_LEVEL_CAPACITY) } else { Map::new() };
        let mut disclosed: Option<Vec<usize>> = None;
        let mut first = true;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.as_str() {
                "_sd" => {
                    if disclosed.is_some() {
                        return Err(give_up()); // a repeated `_sd`
                    }
                    disclosed = Some(map.next_value_seed(Digests { ctx: &mut *ctx })?);
                }
                "_sd_alg" if sd_alg.is_some() => {
                    let slot = sd_alg.as_deref_mut().ok_or_else(give_up)?;
                    if !matches!(slot, SdAlg::Absent) {
                        return Err(give_up());
                    }
                    *slot = match map.next_value::<StrOrValue<'de>>()? {
                        StrOrValue::Str(a) if a.as_str() == SD_ALG => SdAlg::Supported,
                        StrOrValue::Str(a) => SdAlg::Other(Value::String(a.into_string())),
                        StrOrValue::Value(v) => SdAlg::Other(v),
                    };
                }
                "..." if in_array && first => {
                    // `{"...": digest}` when it is the only member (RFC 9901 §4.2.4.2).
                    let node = at.key("...");
                    let seed = Seed { ctx: &mut *ctx, at: &node, depth: depth + 1, in_array: false, sd_alg: None };
                    let Read::Value(v) = map.next_value_seed(seed)? else { return Err(give_up()) };
                    match (map.next_key::<Key<'de>>()?, v) {
                        (None, Value::String(digest)) => return Ok(Read::Digest(digest)),
                        // `...` not a string; or an ordinary object that starts with `...`
                        // (rare enough to leave to the general path, which also handles
                        // the `_sd` it may hold).
                        _ => return Err(give_up()),
                    }
                }
                _ => read_member(&mut map, &mut m, key, ctx, at, depth)?,
            }
            first = false;
        }
        for i in disclosed.unwrap_or_default() {
            if sd_alg.is_some() && ctx.disclosure_name(i) == Some("iss") {
                return Err(give_up()); // `iss` is read before processing; the general path decides
            }
            embed_property(&mut m, i, at, depth + 1, ctx).map_err(|_| give_up())?;
        }
        Ok(Read::Value(Value::Object(m)))
    }
}

/// Reads the value of member `key` into `m`; a repeated name gives up (serde_json would
/// keep the last value, in the first one's place: the general path does that).
fn read_member<'de, A: MapAccess<'de>>(
    map: &mut A,
    m: &mut Map<String, Value>,
    key: Key<'de>,
    ctx: &mut Ctx<'_>,
    at: &Node<'_, '_>,
    depth: usize,
) -> Result<(), A::Error> {
    let node = at.key(key.as_str());
    let seed = Seed { ctx, at: &node, depth: depth + 1, in_array: false, sd_alg: None };
    let Read::Value(v) = map.next_value_seed(seed)? else { return Err(give_up()) };
    if m.insert(key.into_string(), v).is_some() {
        return Err(give_up());
    }
    Ok(())
}

/// An `_sd` array: each digest is checked for repetition and looked up as it is read,
/// borrowed from the payload text; the indices of the disclosures found, in order.
struct Digests<'s, 'c> {
    ctx: &'s mut Ctx<'c>,
}

impl<'de> DeserializeSeed<'de> for Digests<'_, '_> {
    type Value = Vec<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<usize>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Digests<'_, '_> {
    type Value = Vec<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of digests")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<usize>, A::Error> {
        let mut found = Vec::new();
        while let Some(digest) = seq.next_element::<Key<'de>>()? {
            if let Some(i) = take_digest(self.ctx, digest.as_str()).map_err(|_| give_up())? {
                found.push(i);
            }
        }
        Ok(found)
    }
}
