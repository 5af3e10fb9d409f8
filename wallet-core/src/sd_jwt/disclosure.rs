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
    DigestText::of(encoded).as_str().to_owned()
}

/// base64url(SHA-256(bytes)) in a fixed buffer: 32 bytes are exactly 43 characters without
/// padding. The verifier's digests and `sd_hash` live here, not on the heap.
#[derive(Clone, Copy, Eq)]
pub(crate) struct DigestText([u8; 43]);

// Digests are compared often (lookups, repetition checks) and differ early: the first eight
// characters, read as a big-endian integer, decide almost always, and order as the bytes do.
impl DigestText {
    fn prefix(&self) -> u64 {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        u64::from_be_bytes([a, b, c, d, e, f, g, h])
    }
}

impl PartialEq for DigestText {
    fn eq(&self, other: &Self) -> bool {
        self.prefix() == other.prefix() && self.0 == other.0
    }
}

impl Ord for DigestText {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.prefix().cmp(&other.prefix()).then_with(|| self.0.cmp(&other.0))
    }
}

impl std::hash::Hash for DigestText {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state); // equal digests have equal bytes
    }
}

impl PartialOrd for DigestText {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl DigestText {
    /// The digest of `encoded` (a disclosure, or the SD-JWT for `sd_hash`).
    pub(crate) fn of(encoded: &str) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(encoded.as_bytes()))
    }

    /// The digest of what `hasher` has hashed.
    pub(crate) fn from_hasher(hasher: Sha256) -> Self {
        let mut out = [0u8; 43];
        let _ = b64::encode_to_slice(hasher.finalize(), &mut out);
        Self(out)
    }

    /// `text` as a digest, if it has the length of one (43 characters).
    pub(crate) fn from_text(text: &str) -> Option<Self> {
        text.as_bytes().try_into().ok().map(Self)
    }

    /// The text (always ASCII).
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The text's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for DigestText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A received disclosure as the verifier needs it: its digest, name and value, parsed from
/// the borrowed `~`-separated text without keeping a copy of it (or of the salt).
#[derive(Debug)]
pub(crate) struct ParsedDisclosure {
    pub(crate) digest: DigestText,
    pub(crate) name: Option<String>,
    pub(crate) value: Value,
}

impl ParsedDisclosure {
    /// Parses `encoded` with the same checks, in the same order, as [`Disclosure::parse`];
    /// `buf` is scratch space for the decoded JSON, reused across disclosures.
    pub(crate) fn parse(encoded: &str, index: usize, buf: &mut Vec<u8>) -> Result<Self, SdJwtError> {
        let Wire(IgnoredSalt, name, value) = parse_wire(encoded, index, buf)?;
        Ok(Self { digest: DigestText::of(encoded), name, value })
    }
}

/// base64url → JSON `[salt, name?, value]`, with the reserved-name check.
fn parse_wire<'b, S: serde::Deserialize<'b>>(encoded: &str, index: usize, buf: &'b mut Vec<u8>) -> Result<Wire<S>, SdJwtError> {
    let bad = |reason: &'static str| SdJwtError::MalformedDisclosure { index, reason };
    b64::decode_into(encoded, buf).map_err(|_| bad("not base64url"))?;
    let wire: Wire<S> = serde_json::from_slice(buf).map_err(|e| {
        let msg = e.to_string();
        bad(WIRE_ERRORS.iter().find(|r| msg.contains(**r)).copied().unwrap_or("not JSON"))
    })?;
    if let Some(n) = &wire.1
        && RESERVED_NAMES.contains(&n.as_str())
    {
        return Err(SdJwtError::ReservedClaimName(n.clone()));
    }
    Ok(wire)
}

/// Salt bytes fetched from the OS at a time: 32 salts (RFC 9901 §4.2.1: 128 bits each).
const SALT_POOL: usize = 16 * 32;

thread_local! {
    /// This thread's salts to come, and how many bytes of them are used.
    static SALTS: std::cell::RefCell<(zeroize::Zeroizing<[u8; SALT_POOL]>, usize)> =
        std::cell::RefCell::new((zeroize::Zeroizing::new([0u8; SALT_POOL]), SALT_POOL));
}

/// A random salt: 128 bits, base64url (RFC 9901 §4.2.1 recommends at least 128 bits).
///
/// From the OS's CSPRNG, 32 salts per call of it: an issuer makes ten or more disclosures a
/// credential, and a system call each was a few per cent of its CPU (issuance benchmark).
/// Each salt's bytes are used once and wiped when taken, since the salts still to come are
/// what keeps undisclosed claims from being guessed from their digests.
pub(crate) fn random_salt() -> Result<String, SdJwtError> {
    SALTS.with(|cell| {
        let mut pool = cell.borrow_mut();
        let (bytes, used) = &mut *pool;
        if *used == SALT_POOL {
            getrandom::fill(bytes.as_mut()).map_err(|e| SdJwtError::Randomness(e.to_string()))?;
            *used = 0;
        }
        let salt = bytes.get_mut(*used..*used + 16).ok_or_else(|| SdJwtError::Randomness("salt pool".into()))?;
        let encoded = b64::encode(&*salt);
        salt.fill(0);
        *used += 16;
        Ok(encoded)
    })
}

/// One disclosure, as received or as created, with its digest computed once.
#[derive(Debug, Clone, PartialEq)]
pub struct Disclosure {
    encoded: String,
    digest: DigestText,
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
        // The array `[salt, name, value]` (`[salt, value]`) written from borrowed parts: the
        // same compact JSON as a `Value::Array` of copies would print (the test vectors hold
        // it to the spec's bytes), without the copies or the formatter.
        let json = match &name {
            Some(n) => serde_json::to_vec(&(&salt, n, &value)),
            None => serde_json::to_vec(&(&salt, &value)),
        }
        .map_err(|_| SdJwtError::BadClaim("a disclosed value does not serialize as JSON"))?;
        let encoded = b64::encode(json);
        Ok(Self { digest: DigestText::of(&encoded), encoded, salt, name, value })
    }

    /// Parses a received disclosure; `index` is its position, for error messages.
    pub fn parse(encoded: &str, index: usize) -> Result<Self, SdJwtError> {
        let mut buf = Vec::new();
        let Wire(OwnedSalt(salt), name, value) = parse_wire(encoded, index, &mut buf)?;
        Ok(Self { digest: DigestText::of(encoded), encoded: encoded.to_owned(), salt, name, value })
    }

    /// The base64url form, as it travels after a `~`.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    /// Its digest.
    pub fn digest(&self) -> &str {
        self.digest.as_str()
    }

    /// Its digest, fixed-size.
    pub(crate) fn digest_text(&self) -> DigestText {
        self.digest
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
/// `S` is the salt: kept ([`OwnedSalt`]) or only checked to be a string ([`IgnoredSalt`]).
struct Wire<S>(S, Option<String>, Value);

/// The salt, kept.
struct OwnedSalt(String);

/// The salt, checked to be a string and dropped (the verifier has no use for it).
struct IgnoredSalt;

/// What a salt that is not a string reports (one of [`WIRE_ERRORS`]).
const SALT_NOT_STRING: &str = "salt is not a string";

impl<'de> serde::Deserialize<'de> for OwnedSalt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = OwnedSalt;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(SALT_NOT_STRING)
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<OwnedSalt, E> {
                Ok(OwnedSalt(s.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<OwnedSalt, E> {
                Ok(OwnedSalt(s))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> serde::Deserialize<'de> for IgnoredSalt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = IgnoredSalt;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(SALT_NOT_STRING)
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<IgnoredSalt, E> {
                Ok(IgnoredSalt)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de, S: serde::Deserialize<'de>> serde::Deserialize<'de> for Wire<S> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, SeqAccess, Visitor};
        struct V<S>(std::marker::PhantomData<S>);
        impl<'de, S: serde::Deserialize<'de>> Visitor<'de> for V<S> {
            type Value = Wire<S>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("not a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Wire<S>, A::Error> {
                let salt: S = seq.next_element()?.ok_or_else(|| A::Error::custom("must have 2 or 3 elements"))?;
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
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Salts are 128 bits, base64url, and distinct across many refills of the pool (and on
    /// other threads).
    #[test]
    fn salts_are_128_bits_and_distinct_across_refills() {
        let take = || (0..SALT_POOL / 16 * 3 + 5).map(|_| random_salt().unwrap()).collect::<Vec<_>>();
        let mut all = take();
        all.extend(std::thread::spawn(take).join().unwrap());
        assert!(all.iter().all(|s| s.len() == 22 && b64::decode(s).is_ok_and(|b| b.len() == 16)));
        let distinct: std::collections::BTreeSet<&String> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
    }

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
