//! Compact JWS (RFC 7515 §7.1): parse with bounds, verify with a JWK, sign with a [`Signer`].

use serde::Deserializer as _;
use serde::de::{MapAccess, Visitor};
use serde_json::{Map, Value};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::b64::Decoded;
use super::{JoseError, Jwk, JwsAlg, Signer, b64, json};

/// The largest compact JWS we parse (1 MiB): credentials with portraits fit, memory stays bounded.
pub const MAX_JWS_LEN: usize = 1 << 20;

/// A JOSE header of a JWS, with the members the protocols use typed and the rest kept.
#[derive(Debug, Clone, PartialEq)]
pub struct JwsHeader {
    /// `alg`; `none` and HMAC are not representable.
    pub alg: JwsAlg,
    /// `typ` (explicit typing, RFC 8725 §3.11).
    pub typ: Option<String>,
    /// `kid`.
    pub kid: Option<String>,
    /// `x5c`: base64 DER certificates, leaf first.
    pub x5c: Option<Vec<String>>,
    /// `jwk`: the signer's public key (used by DPoP and key proofs; never trusted by itself).
    pub jwk: Option<Jwk>,
    /// `trust_chain` (OpenID Federation §4.3): entity statements, leaf first.
    pub trust_chain: Option<Vec<String>>,
    /// Other members.
    pub extra: Map<String, Value>,
}

impl JwsHeader {
    /// A header with only `alg`.
    pub fn new(alg: JwsAlg) -> Self {
        Self { alg, typ: None, kid: None, x5c: None, jwk: None, trust_chain: None, extra: Map::new() }
    }

    /// Sets `typ`.
    pub fn with_typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Sets `kid`.
    pub fn with_kid(mut self, kid: Option<String>) -> Self {
        self.kid = kid;
        self
    }

    /// Sets `x5c`.
    pub fn with_x5c(mut self, x5c: Vec<String>) -> Self {
        self.x5c = Some(x5c);
        self
    }

    /// Whether `typ` names `expected`: media types compare case-insensitively, and the
    /// `application/` prefix may be omitted (RFC 7515 §4.1.9).
    pub fn typ_is(&self, expected: &str) -> bool {
        self.typ.as_deref().is_some_and(|t| media_type_eq(t, expected))
    }

    /// Parses a header from its JSON text in one pass: no intermediate map for the members
    /// the protocols use, repeated names refused at any depth.
    fn parse_json(bytes: &[u8]) -> Result<Self, JoseError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let raw = (&mut de).deserialize_map(RawHeaderVisitor).map_err(|e| json::classify(e, "JWS header"))?;
        de.end().map_err(|e| JoseError::BadJson { part: "JWS header", detail: e.to_string() })?;
        Self::from_raw(raw)
    }

    /// Checks the members' types, in a fixed order (`alg` first, `crit` last).
    fn from_raw(h: RawHeader) -> Result<Self, JoseError> {
        let alg = match h.alg {
            Some(Ok(alg)) => alg?,
            Some(Err(())) => return Err(JoseError::MalformedCompact("`alg` is not a string")),
            None => return Err(JoseError::MalformedCompact("header has no `alg`")),
        };
        let opt_str = |v: Option<Value>, k: &'static str| -> Result<Option<String>, JoseError> {
            match v {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(JoseError::BadJson { part: "header", detail: format!("`{k}` must be a string") }),
            }
        };
        let opt_strs = |v: Option<Value>, k: &'static str| -> Result<Option<Vec<String>>, JoseError> {
            match v {
                None => Ok(None),
                Some(v) => serde_json::from_value(v)
                    .map(Some)
                    .map_err(|_| JoseError::BadJson { part: "header", detail: format!("`{k}` must be an array of strings") }),
            }
        };
        let typ = opt_str(h.typ, "typ")?;
        let kid = opt_str(h.kid, "kid")?;
        let x5c = opt_strs(h.x5c, "x5c")?;
        let trust_chain = opt_strs(h.trust_chain, "trust_chain")?;
        let jwk = match h.jwk {
            None => None,
            Some(v) => Some(
                serde_json::from_value(v).map_err(|e| JoseError::BadJson { part: "header jwk", detail: e.to_string() })?,
            ),
        };
        // RFC 7515 §4.1.11: we implement no extension, so any `crit` entry is not understood.
        if let Some(crit) = h.crit {
            let names: Vec<String> = serde_json::from_value(crit)
                .map_err(|_| JoseError::BadJson { part: "header", detail: "`crit` must be an array of strings".into() })?;
            let first = names.into_iter().next().unwrap_or_default();
            return Err(JoseError::UnsupportedCrit(first));
        }
        Ok(Self { alg, typ, kid, x5c, jwk, trust_chain, extra: h.extra })
    }

    fn to_json(&self) -> String {
        let mut m = Map::new();
        m.insert("alg".into(), Value::String(self.alg.as_str().into()));
        if let Some(t) = &self.typ {
            m.insert("typ".into(), Value::String(t.clone()));
        }
        if let Some(k) = &self.kid {
            m.insert("kid".into(), Value::String(k.clone()));
        }
        if let Some(x) = &self.x5c {
            m.insert("x5c".into(), Value::from(x.clone()));
        }
        if let Some(j) = &self.jwk {
            m.insert("jwk".into(), serde_json::to_value(j).unwrap_or(Value::Null));
        }
        if let Some(t) = &self.trust_chain {
            m.insert("trust_chain".into(), Value::from(t.clone()));
        }
        for (k, v) in &self.extra {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(m).to_string()
    }
}

/// The members of a JWS header as read, their types not yet checked.
#[derive(Default)]
struct RawHeader {
    /// `alg` parsed (or refused) without keeping its text; `Err(())` when not a string.
    alg: Option<Result<Result<JwsAlg, JoseError>, ()>>,
    typ: Option<Value>,
    kid: Option<Value>,
    x5c: Option<Value>,
    jwk: Option<Value>,
    trust_chain: Option<Value>,
    crit: Option<Value>,
    extra: Map<String, Value>,
}

struct RawHeaderVisitor;

impl<'de> Visitor<'de> for RawHeaderVisitor {
    type Value = RawHeader;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
        let mut h = RawHeader::default();
        while let Some(key) = map.next_key::<json::Key<'de>>()? {
            if key.as_str() == "alg" {
                let alg = match map.next_value::<json::StrOrValue<'de>>()? {
                    json::StrOrValue::Str(s) => Ok(s.as_str().parse::<JwsAlg>()),
                    json::StrOrValue::Value(_) => Err(()),
                };
                if h.alg.replace(alg).is_some() {
                    return Err(json::duplicate("alg"));
                }
                continue;
            }
            let json::StrictValue(value) = map.next_value()?;
            let slot = match key.as_str() {
                "typ" => &mut h.typ,
                "kid" => &mut h.kid,
                "x5c" => &mut h.x5c,
                "jwk" => &mut h.jwk,
                "trust_chain" => &mut h.trust_chain,
                "crit" => &mut h.crit,
                _ => {
                    let key = key.into_string();
                    if h.extra.contains_key(&key) {
                        return Err(json::duplicate(&key));
                    }
                    h.extra.insert(key, value);
                    continue;
                }
            };
            if slot.is_some() {
                return Err(json::duplicate(key.as_str()));
            }
            *slot = Some(value);
        }
        Ok(h)
    }
}

/// Compares media types as `typ` requires: case-insensitive, `application/` optional.
pub fn media_type_eq(a: &str, b: &str) -> bool {
    fn strip(s: &str) -> &str {
        match s.get(..12) {
            Some(p) if p.eq_ignore_ascii_case("application/") => s.get(12..).unwrap_or(s),
            _ => s,
        }
    }
    strip(a).eq_ignore_ascii_case(strip(b))
}

/// A parsed, not yet verified, compact JWS borrowing its input.
#[derive(Debug, Clone)]
pub struct CompactJws<'a> {
    raw: &'a str,
    /// Shared with a [`HeaderMemo`] when parsed through one.
    header: Arc<JwsHeader>,
    payload: Decoded<256>,
    signature: Decoded<132>,
    signing_input_len: usize,
}

/// A protected header from its base64url encoding.
fn parse_encoded_header(encoded: &str) -> Result<JwsHeader, JoseError> {
    // Small headers (a KB-JWT's, a DPoP proof's) are decoded inline.
    let header = Decoded::<256>::decode(encoded).ok_or(JoseError::BadBase64("JWS header"))?;
    JwsHeader::parse_json(&header)
}

impl<'a> CompactJws<'a> {
    /// Parses `header.payload.signature`: three non-empty base64url parts (the payload may be
    /// empty), a JSON-object header without duplicate members, an accepted `alg`.
    pub fn parse(raw: &'a str) -> Result<Self, JoseError> {
        Self::parse_header_with(raw, |h| parse_encoded_header(h).map(Arc::new))
    }

    /// [`Self::parse`], the protected header taken from `memo` when it has parsed the same
    /// encoding before (the same checks held then: they depend on the header's bytes only).
    pub fn parse_with_memo(raw: &'a str, memo: &HeaderMemo) -> Result<Self, JoseError> {
        Self::parse_header_with(raw, |h| memo.header(h))
    }

    fn parse_header_with(raw: &'a str, header: impl FnOnce(&str) -> Result<Arc<JwsHeader>, JoseError>) -> Result<Self, JoseError> {
        if raw.len() > MAX_JWS_LEN {
            return Err(JoseError::TooLarge { what: "JWS", len: raw.len(), limit: MAX_JWS_LEN });
        }
        let mut parts = raw.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JoseError::MalformedCompact("a compact JWS has exactly three parts"));
        };
        if h.is_empty() || s.is_empty() {
            return Err(JoseError::MalformedCompact("empty header or signature"));
        }
        let header = header(h)?;
        // Small parts (a KB-JWT's payload, an EC signature) are decoded inline.
        let payload = Decoded::decode(p).ok_or(JoseError::BadBase64("JWS payload"))?;
        let signature = Decoded::decode(s).ok_or(JoseError::BadBase64("JWS signature"))?;
        Ok(Self { raw, header, payload, signature, signing_input_len: h.len() + 1 + p.len() })
    }

    /// The protected header, by value (a copy when a [`HeaderMemo`] shares it).
    pub fn into_header(self) -> JwsHeader {
        Arc::unwrap_or_clone(self.header)
    }

    /// The protected header, shared (no copy when a [`HeaderMemo`] holds it too).
    pub fn into_shared_header(self) -> Arc<JwsHeader> {
        self.header
    }

    /// The protected header.
    pub fn header(&self) -> &JwsHeader {
        &self.header
    }

    /// The payload bytes (unverified until [`Self::verify`] succeeds).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload parsed as JSON (unverified).
    pub fn payload_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, JoseError> {
        serde_json::from_slice(&self.payload).map_err(|e| JoseError::BadJson { part: "JWS payload", detail: e.to_string() })
    }

    /// The signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// `ASCII(BASE64URL(header) || '.' || BASE64URL(payload))`, what the signature covers.
    pub fn signing_input(&self) -> &[u8] {
        self.raw.as_bytes().get(..self.signing_input_len).unwrap_or_default()
    }

    /// The compact text this was parsed from.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Verifies the signature with `key`, whose type and own `alg` must fit the header's `alg`.
    pub fn verify(&self, key: &Jwk) -> Result<(), JoseError> {
        key.verify(self.header.alg, self.signing_input(), &self.signature)
    }

    /// [`Self::verify`] for a caller that already has `sha256`, the SHA-256 of
    /// [`Self::signing_input`]: an ES256 signature is checked against it without hashing the
    /// input again; any other `alg` is verified as usual.
    pub fn verify_with_sha256(&self, key: &Jwk, sha256: &[u8; 32]) -> Result<(), JoseError> {
        match self.header.alg {
            JwsAlg::Es256 => key.verify_es256_prehashed(sha256, &self.signature),
            _ => self.verify(key),
        }
    }
}

/// Protected headers parsed once per distinct encoding ([`CompactJws::parse_with_memo`]).
///
/// Some headers repeat across many JWTs from many holders: every WUA a wallet provider signs
/// (IT-Wallet 1.4 §4.1) and every credential an issuer signs carry the same `alg`, `kid`,
/// `typ`, `x5c` and `trust_chain`, several KB base64url-encoded. A service that verifies
/// them keeps the parsed header here, under its encoding, and parses the header again only
/// for an encoding it has not seen. Nothing else is kept: the payload, the signature and
/// every check that depends on them (or on the time) run at each use. Headers shorter than
/// [`Self::MIN_LEN`] (a holder's own: a KB-JWT, a DPoP proof) are parsed and not kept;
/// failures are not kept; when [`Self::CAPACITY`] encodings are kept the memo starts over.
#[derive(Default)]
pub struct HeaderMemo {
    entries: Mutex<HashMap<MemoKey, Kept>>,
}

/// A kept header, with its encoding.
struct Kept {
    encoded: Box<str>,
    header: Arc<JwsHeader>,
}

/// A kept header's key: its encoding's length and last 32 bytes (where the last statement's
/// signature ends a `trust_chain`); the whole encoding is compared before an entry is used.
type MemoKey = (usize, [u8; 32]);

impl std::fmt::Debug for HeaderMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderMemo").field("entries", &self.len()).finish()
    }
}

impl HeaderMemo {
    /// The shortest encoding kept (shorter ones cost less to parse than to keep).
    pub const MIN_LEN: usize = 512;
    /// The most encodings kept.
    pub const CAPACITY: usize = 256;

    /// An empty memo.
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodings kept now.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The header encoded as `encoded`: the kept one, or parsed (and kept if it parses and is
    /// long enough).
    fn header(&self, encoded: &str) -> Result<Arc<JwsHeader>, JoseError> {
        if encoded.len() < Self::MIN_LEN {
            return parse_encoded_header(encoded).map(Arc::new);
        }
        let mut tail = [0u8; 32];
        let bytes = encoded.as_bytes();
        tail.copy_from_slice(bytes.get(bytes.len().saturating_sub(32)..).unwrap_or_default());
        let key = (encoded.len(), tail);
        {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(kept) = entries.get(&key)
                && *kept.encoded == *encoded
            {
                return Ok(Arc::clone(&kept.header));
            }
        }
        let header = Arc::new(parse_encoded_header(encoded)?);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= Self::CAPACITY && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, Kept { encoded: encoded.into(), header: Arc::clone(&header) });
        Ok(header)
    }
}

/// Signs `payload` as a compact JWS. The header's `alg` is set to the signer's; its `kid`
/// is set from the signer when the header has none.
pub fn sign(header: &JwsHeader, payload: &[u8], signer: &dyn Signer) -> Result<String, JoseError> {
    sign_encoded(&EncodedHeader::new(header, signer), payload, signer)
}

/// Signs a JSON payload (serialized once, compactly).
pub fn sign_json<T: serde::Serialize + ?Sized>(
    header: &JwsHeader,
    payload: &T,
    signer: &dyn Signer,
) -> Result<String, JoseError> {
    let bytes = serde_json::to_vec(payload).map_err(|e| JoseError::BadJson { part: "payload", detail: e.to_string() })?;
    sign(header, &bytes, signer)
}

/// A protected header as [`sign`] puts it on a JWS for one signer (`alg` from it, `kid`
/// from it when the header has none), serialised and base64url-encoded once: a signer that
/// puts the same header on many JWSs (a request object's `x5c` and `trust_chain`, an
/// issuer's `trust_chain`: kilobytes) keeps one and signs with [`sign_encoded`].
///
/// For an ES256 signer that signs digests ([`Signer::signs_es256_digests`]) it also keeps
/// the SHA-256 state after `BASE64URL(header) || '.'`, the start of every signing input
/// under it (RFC 7515 §5.1): each signature then hashes only its payload, not the header's
/// kilobytes again. The state is a function of the encoded header alone, made here with it.
#[derive(Clone)]
pub struct EncodedHeader {
    alg: JwsAlg,
    b64: String,
    /// SHA-256 over `b64` and `.`, when the signer signs ES256 digests.
    prefix_sha256: Option<sha2::Sha256>,
}

impl std::fmt::Debug for EncodedHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedHeader").field("alg", &self.alg).field("b64", &self.b64).field("prefix_sha256", &self.prefix_sha256.is_some()).finish()
    }
}

/// Equal when they encode the same header for the same `alg` (the hash state follows from
/// the encoded header).
impl PartialEq for EncodedHeader {
    fn eq(&self, other: &Self) -> bool {
        self.alg == other.alg && self.b64 == other.b64
    }
}

impl Eq for EncodedHeader {}

impl EncodedHeader {
    /// Encodes `header` as [`sign`] would for `signer`.
    pub fn new(header: &JwsHeader, signer: &dyn Signer) -> Self {
        let mut header = header.clone();
        header.alg = signer.alg();
        if header.kid.is_none() {
            header.kid = signer.kid();
        }
        let b64 = b64::encode(header.to_json());
        let prefix_sha256 = (header.alg == JwsAlg::Es256 && signer.signs_es256_digests()).then(|| {
            use sha2::Digest as _;
            let mut h = sha2::Sha256::new();
            h.update(b64.as_bytes());
            h.update(b".");
            h
        });
        Self { alg: header.alg, b64, prefix_sha256 }
    }

    /// The `alg` it names.
    pub fn alg(&self) -> JwsAlg {
        self.alg
    }
}

/// [`sign`] with a header encoded once: the same JWS. `signer` must sign with the `alg`
/// the header was encoded for.
pub fn sign_encoded(header: &EncodedHeader, payload: &[u8], signer: &dyn Signer) -> Result<String, JoseError> {
    if signer.alg() != header.alg {
        return Err(JoseError::Sign(format!("the header was encoded for {}, the signer signs {}", header.alg.as_str(), signer.alg().as_str())));
    }
    let mut out = String::with_capacity(header.b64.len() + payload.len() * 4 / 3 + 100);
    out.push_str(&header.b64);
    out.push('.');
    let payload_at = out.len();
    b64::encode_into(payload, &mut out);
    let sig = match &header.prefix_sha256 {
        // The same signature as `sign` of the whole signing input: ES256 signs its SHA-256,
        // here finished from the header's kept state with the payload's part.
        Some(prefix) if signer.signs_es256_digests() => {
            use sha2::Digest as _;
            let mut h = prefix.clone();
            h.update(out.as_bytes().get(payload_at..).unwrap_or_default());
            signer.sign_es256_digest(&h.finalize().into())?
        }
        _ => signer.sign(out.as_bytes())?,
    };
    out.push('.');
    b64::encode_into(sig, &mut out);
    Ok(out)
}

/// [`sign_json`] with a header encoded once.
pub fn sign_json_encoded<T: serde::Serialize + ?Sized>(header: &EncodedHeader, payload: &T, signer: &dyn Signer) -> Result<String, JoseError> {
    let bytes = serde_json::to_vec(payload).map_err(|e| JoseError::BadJson { part: "payload", detail: e.to_string() })?;
    sign_encoded(header, &bytes, signer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SoftwareSigner;

    fn vector(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/vectors/rfc7515/{name}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// A header with a `trust_chain` long enough for [`HeaderMemo`] to keep, its kid `kid`.
    fn long_header(kid: &str) -> JwsHeader {
        let mut h = JwsHeader::new(JwsAlg::Es256).with_typ("wallet-unit-attestation+jwt").with_kid(Some(kid.to_owned()));
        h.trust_chain = Some(vec!["e".repeat(600), "f".repeat(600)]);
        h
    }

    /// Through the memo: the same header as without it, shared by every JWS with that
    /// encoding, while each one's payload and signature are its own and still verified.
    #[test]
    fn a_kept_header_is_shared_and_the_signature_still_checked() {
        let key = SoftwareSigner::generate().unwrap();
        let memo = HeaderMemo::new();
        let a = sign(&long_header("k1"), b"{\"n\":1}", &key).unwrap();
        let b = sign(&long_header("k1"), b"{\"n\":2}", &key).unwrap();
        let pa = CompactJws::parse_with_memo(&a, &memo).unwrap();
        let pb = CompactJws::parse_with_memo(&b, &memo).unwrap();
        assert_eq!(memo.len(), 1);
        assert_eq!(pa.header(), CompactJws::parse(&a).unwrap().header());
        assert_eq!(pb.payload(), b"{\"n\":2}");
        pb.verify(&key.public_jwk()).unwrap();
        let shared = pb.clone().into_shared_header();
        assert!(Arc::ptr_eq(&pa.clone().into_shared_header(), &shared), "one parse for both");
        assert_eq!(pa.into_header(), *shared, "a copy by value");
        // The same header over another payload with a's signature: refused.
        let (head, _) = b.rsplit_once('.').unwrap();
        let forged = format!("{head}.{}", a.rsplit_once('.').unwrap().1);
        assert_eq!(CompactJws::parse_with_memo(&forged, &memo).unwrap().verify(&key.public_jwk()), Err(JoseError::BadSignature));
    }

    /// Two encodings of the same length and the same last 32 bytes (the memo's key) are two
    /// headers; short headers and failures are not kept; the memo stays bounded.
    #[test]
    fn the_memo_tells_headers_apart_and_keeps_only_long_good_ones() {
        let key = SoftwareSigner::generate().unwrap();
        let memo = HeaderMemo::new();
        let one = sign(&long_header("k1"), b"{}", &key).unwrap();
        let two = sign(&long_header("k2"), b"{}", &key).unwrap();
        let (h1, h2) = (one.split('.').next().unwrap(), two.split('.').next().unwrap());
        assert_eq!((h1.len(), &h1[h1.len() - 32..]), (h2.len(), &h2[h2.len() - 32..]), "same key in the memo");
        assert_ne!(h1, h2);
        assert_eq!(CompactJws::parse_with_memo(&one, &memo).unwrap().header().kid.as_deref(), Some("k1"));
        assert_eq!(CompactJws::parse_with_memo(&two, &memo).unwrap().header().kid.as_deref(), Some("k2"));
        assert_eq!(CompactJws::parse_with_memo(&one, &memo).unwrap().header().kid.as_deref(), Some("k1"));

        let short = sign(&JwsHeader::new(JwsAlg::Es256).with_typ("kb+jwt"), b"{}", &key).unwrap();
        let fresh = HeaderMemo::new();
        CompactJws::parse_with_memo(&short, &fresh).unwrap();
        assert!(fresh.is_empty(), "a short header is not kept");
        let dup = format!(r#"{{"alg":"ES256","alg":"ES256","x":"{}"}}"#, "a".repeat(600));
        let bad = format!("{}.e30.AAAA", b64::encode(dup));
        for _ in 0..2 {
            assert_eq!(CompactJws::parse_with_memo(&bad, &fresh).unwrap_err(), JoseError::DuplicateHeader("alg".into()));
        }
        assert!(fresh.is_empty(), "a failure is not kept");

        for i in 0..=HeaderMemo::CAPACITY {
            let h = format!(r#"{{"alg":"ES256","kid":"{i:04}","x":"{}"}}"#, "a".repeat(600));
            CompactJws::parse_with_memo(&format!("{}.e30.AAAA", b64::encode(h)), &fresh).unwrap();
        }
        assert!((1..=HeaderMemo::CAPACITY).contains(&fresh.len()), "{}", fresh.len());
    }

    /// RFC 7515 A.2: RS256.
    #[test]
    fn rfc7515_a2_rs256_verifies() {
        let jws = vector("a2.jws");
        let key = Jwk::from_json(&vector("a2.jwk.json")).unwrap();
        let parsed = CompactJws::parse(&jws).unwrap();
        assert_eq!(parsed.header().alg, JwsAlg::Rs256);
        parsed.verify(&key).unwrap();
    }

    /// RFC 7515 A.3: ES256.
    #[test]
    fn rfc7515_a3_es256_verifies() {
        let jws = vector("a3.jws");
        let key = Jwk::from_json(&vector("a3.jwk.json")).unwrap();
        CompactJws::parse(&jws).unwrap().verify(&key).unwrap();
    }

    /// RFC 8037 A.4: Ed25519.
    #[test]
    fn rfc8037_a4_eddsa_verifies() {
        let jws = vector("rfc8037-a4.jws");
        let key = Jwk::from_json(&vector("rfc8037-a4.jwk.json")).unwrap();
        CompactJws::parse(&jws).unwrap().verify(&key).unwrap();
    }

    /// RFC 7515 A.5: the unsecured JWS must be refused before any key is consulted.
    #[test]
    fn rfc7515_a5_alg_none_is_refused() {
        let jws = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.";
        assert_eq!(CompactJws::parse(jws).unwrap_err(), JoseError::MalformedCompact("empty header or signature"));
        let with_sig = format!("{jws}AAAA");
        assert_eq!(CompactJws::parse(&with_sig).unwrap_err(), JoseError::ForbiddenAlg("none".into()));
    }

    #[test]
    fn hmac_is_refused() {
        // RFC 7515 A.1 (HS256).
        let jws = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(CompactJws::parse(jws).unwrap_err(), JoseError::ForbiddenAlg("HS256".into()));
    }

    #[test]
    fn duplicate_header_member_is_refused() {
        let h = b64::encode(r#"{"alg":"ES256","alg":"none"}"#);
        let jws = format!("{h}.e30.AAAA");
        assert_eq!(CompactJws::parse(&jws).unwrap_err(), JoseError::DuplicateHeader("alg".into()));
    }

    fn parse_header(json: &str) -> Result<JwsHeader, JoseError> {
        CompactJws::parse(&format!("{}.e30.AAAA", b64::encode(json))).map(CompactJws::into_header)
    }

    #[test]
    fn repeated_names_are_refused_wherever_they_are() {
        let dup = |n: &str| Err(JoseError::DuplicateHeader(n.into()));
        assert_eq!(parse_header(r#"{"alg":"ES256","x":1,"x":2}"#), dup("x"));
        assert_eq!(parse_header(r#"{"alg":"ES256","al\u0067":"ES256"}"#), dup("alg"));
        assert_eq!(parse_header(r#"{"alg":"ES256","jwk":{"kty":"EC","kty":"EC"}}"#), dup("kty"));
        assert_eq!(parse_header(r#"{"typ":"JWT","alg":"ES256","typ":"JWT"}"#), dup("typ"));
    }

    #[test]
    fn header_members_are_typed_and_the_rest_kept_in_order() {
        assert!(matches!(parse_header(r#"{"alg":"ES256","typ":1}"#), Err(JoseError::BadJson { .. })));
        assert!(matches!(parse_header(r#"{"alg":"ES256","x5c":"MII"}"#), Err(JoseError::BadJson { .. })));
        assert_eq!(parse_header(r#"{"typ":"JWT"}"#), Err(JoseError::MalformedCompact("header has no `alg`")));
        assert_eq!(parse_header(r#"{"alg":256}"#), Err(JoseError::MalformedCompact("`alg` is not a string")));
        assert!(matches!(parse_header("[1]"), Err(JoseError::BadJson { .. })));
        let h = parse_header(r#"{"b":1,"alg":"ES256","kid":"k1","a":{"n":2}}"#).unwrap();
        assert_eq!((h.alg, h.kid.as_deref()), (JwsAlg::Es256, Some("k1")));
        assert_eq!(h.extra.keys().collect::<Vec<_>>(), ["b", "a"]);
        let h = parse_header(r#"{"alg":"ES256","a":1,"b":2,"c":3}"#).unwrap();
        assert_eq!(h.extra.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        // Larger than the stack buffer used for small headers.
        let long = "x".repeat(2000);
        let h = parse_header(&format!(r#"{{"alg":"ES256","note":"{long}"}}"#)).unwrap();
        assert_eq!(h.extra["note"], Value::String(long));
    }

    #[test]
    fn unknown_crit_is_refused() {
        let h = b64::encode(r#"{"alg":"ES256","crit":["exp"],"exp":1}"#);
        let jws = format!("{h}.e30.AAAA");
        assert_eq!(CompactJws::parse(&jws).unwrap_err(), JoseError::UnsupportedCrit("exp".into()));
    }

    #[test]
    fn wrong_part_count_and_bad_base64() {
        assert!(matches!(CompactJws::parse("a.b"), Err(JoseError::MalformedCompact(_))));
        assert!(matches!(CompactJws::parse("a.b.c.d"), Err(JoseError::MalformedCompact(_))));
        assert_eq!(CompactJws::parse("e30=.e30.AAAA").unwrap_err(), JoseError::BadBase64("JWS header"));
    }

    #[test]
    fn oversized_is_refused_before_parsing() {
        let big = "a".repeat(MAX_JWS_LEN + 1);
        assert!(matches!(CompactJws::parse(&big), Err(JoseError::TooLarge { .. })));
    }

    #[test]
    fn sign_then_verify_and_tamper() {
        let s = SoftwareSigner::generate().unwrap();
        let jws = sign(&JwsHeader::new(JwsAlg::Es256).with_typ("JWT"), br#"{"a":1}"#, &s).unwrap();
        let parsed = CompactJws::parse(&jws).unwrap();
        assert!(parsed.header().typ_is("jwt"));
        assert_eq!(parsed.header().kid, s.kid());
        parsed.verify(&s.public_jwk()).unwrap();
        let other = SoftwareSigner::generate().unwrap();
        assert_eq!(parsed.verify(&other.public_jwk()), Err(JoseError::BadSignature));
        let tampered = jws.replacen(".eyJ", ".eyK", 1);
        let p2 = CompactJws::parse(&tampered).unwrap();
        assert_eq!(p2.verify(&s.public_jwk()), Err(JoseError::BadSignature));
    }

    #[test]
    fn verify_with_sha256_uses_the_given_digest_for_es256_only() {
        use sha2::Digest as _;
        let s = SoftwareSigner::generate().unwrap();
        let jws = sign(&JwsHeader::new(JwsAlg::Es256), br#"{"a":1}"#, &s).unwrap();
        let parsed = CompactJws::parse(&jws).unwrap();
        let right: [u8; 32] = sha2::Sha256::digest(parsed.signing_input()).into();
        parsed.verify_with_sha256(&s.public_jwk(), &right).unwrap();
        assert_eq!(parsed.verify_with_sha256(&s.public_jwk(), &[0u8; 32]), Err(JoseError::BadSignature));
        let other = SoftwareSigner::generate().unwrap();
        assert_eq!(parsed.verify_with_sha256(&other.public_jwk(), &right), Err(JoseError::BadSignature));
        let rsa = Jwk::from_json(&vector("a2.jwk.json")).unwrap();
        assert!(matches!(parsed.verify_with_sha256(&rsa, &right), Err(JoseError::KeyAlgMismatch { .. })));
        // RS256 (RFC 7515 A.2) is verified over its signing input; the digest is not used.
        let a2 = vector("a2.jws");
        CompactJws::parse(&a2).unwrap().verify_with_sha256(&rsa, &[0u8; 32]).unwrap();
    }

    /// A signer over `inner` that counts what it is asked to sign; `digests`: whether it
    /// says it signs ES256 digests.
    struct Counting<'a> {
        inner: &'a SoftwareSigner,
        digests: bool,
        messages: std::sync::atomic::AtomicUsize,
        digests_signed: std::sync::atomic::AtomicUsize,
    }

    impl<'a> Counting<'a> {
        fn new(inner: &'a SoftwareSigner, digests: bool) -> Self {
            Self { inner, digests, messages: 0.into(), digests_signed: 0.into() }
        }
        fn counts(&self) -> (usize, usize) {
            use std::sync::atomic::Ordering::Relaxed;
            (self.messages.load(Relaxed), self.digests_signed.load(Relaxed))
        }
    }

    impl Signer for Counting<'_> {
        fn alg(&self) -> JwsAlg {
            self.inner.alg()
        }
        fn public_jwk(&self) -> Jwk {
            self.inner.public_jwk()
        }
        fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, crate::jose::SignError> {
            self.messages.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.sign(msg)
        }
        fn signs_es256_digests(&self) -> bool {
            self.digests
        }
        fn sign_es256_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, crate::jose::SignError> {
            self.digests_signed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.sign_es256_digest(digest)
        }
    }

    /// A header of kilobytes, as an issuer's with its `trust_chain` (`tag` makes it distinct).
    fn big_header(tag: &str) -> JwsHeader {
        let mut h = JwsHeader::new(JwsAlg::Es256).with_typ("dc+sd-jwt");
        h.trust_chain = Some(vec![format!("{tag}.{}", "a".repeat(3_000)), format!("{tag}.{}", "b".repeat(2_000))]);
        h
    }

    #[test]
    fn a_header_encoded_once_signs_each_payload_from_its_kept_hash_state() {
        let key = SoftwareSigner::generate().unwrap();
        let s = Counting::new(&key, true);
        let header = EncodedHeader::new(&big_header("x"), &s);
        for payload in [&br#"{"a":1}"#[..], br#"{"b":"two"}"#, &[b'c'; 70_000]] {
            let jws = sign_encoded(&header, payload, &s).unwrap();
            let parsed = CompactJws::parse(&jws).unwrap();
            assert_eq!(parsed.payload(), payload);
            assert_eq!(parsed.header().trust_chain, big_header("x").trust_chain);
            parsed.verify(&key.public_jwk()).unwrap();
        }
        assert_eq!(s.counts(), (0, 3), "every signature from the kept state, none over the whole message");
    }

    /// Without the `aws-lc` feature ES256 is RFC 6979 (deterministic): the digest path gives
    /// the very JWS that signing the whole signing input gives.
    #[cfg(not(feature = "aws-lc"))]
    #[test]
    fn signing_from_the_kept_state_is_signing_the_message() {
        let key = SoftwareSigner::generate().unwrap();
        let (digests, messages) = (Counting::new(&key, true), Counting::new(&key, false));
        let payload = br#"{"iss":"https://issuer.example.it"}"#;
        let a = sign_encoded(&EncodedHeader::new(&big_header("x"), &digests), payload, &digests).unwrap();
        let b = sign_encoded(&EncodedHeader::new(&big_header("x"), &messages), payload, &messages).unwrap();
        assert_eq!(a, b);
        assert_eq!((digests.counts(), messages.counts()), ((0, 1), (1, 0)));
    }

    #[test]
    fn two_encoded_headers_keep_their_own_hash_state() {
        let key = SoftwareSigner::generate().unwrap();
        let s = Counting::new(&key, true);
        let (x, y) = (EncodedHeader::new(&big_header("x"), &s), EncodedHeader::new(&big_header("y"), &s));
        assert_ne!(x, y);
        let payload = br#"{"a":1}"#;
        let (jx, jy) = (sign_encoded(&x, payload, &s).unwrap(), sign_encoded(&y, payload, &s).unwrap());
        for (jws, tag) in [(&jx, "x"), (&jy, "y")] {
            let parsed = CompactJws::parse(jws).unwrap();
            assert_eq!(parsed.header().trust_chain, big_header(tag).trust_chain);
            parsed.verify(&key.public_jwk()).unwrap();
        }
        // y's header with x's signature: each signature covers its own header.
        let (hy, sx) = (jy.split('.').next().unwrap(), jx.rsplit('.').next().unwrap());
        let (_, payload_b64) = jx.split_once('.').unwrap();
        let (payload_b64, _) = payload_b64.split_once('.').unwrap();
        let spliced = format!("{hy}.{payload_b64}.{sx}");
        assert_eq!(CompactJws::parse(&spliced).unwrap().verify(&key.public_jwk()), Err(JoseError::BadSignature));
    }

    #[test]
    fn a_signer_without_digests_is_given_the_message() {
        let key = SoftwareSigner::generate().unwrap();
        let s = Counting::new(&key, false);
        let header = EncodedHeader::new(&big_header("x"), &s);
        let jws = sign_encoded(&header, br#"{"a":1}"#, &s).unwrap();
        CompactJws::parse(&jws).unwrap().verify(&key.public_jwk()).unwrap();
        assert_eq!(s.counts(), (1, 0));
        // A header encoded for a key that signs digests, used with one that does not: the
        // message too.
        let digests = Counting::new(&key, true);
        let jws = sign_encoded(&EncodedHeader::new(&big_header("x"), &digests), br#"{"a":1}"#, &s).unwrap();
        CompactJws::parse(&jws).unwrap().verify(&key.public_jwk()).unwrap();
        assert_eq!((s.counts(), digests.counts()), ((2, 0), (0, 0)));
        // The trait's defaults: no digests, and one asked anyway is refused.
        let defaults = WithDefaults(&key);
        assert!(!defaults.signs_es256_digests());
        assert_eq!(defaults.sign_es256_digest(&[0; 32]), Err(crate::jose::SignError("this key signs messages, not digests".into())));
        let jws = sign(&big_header("x"), br#"{"a":1}"#, &defaults).unwrap();
        CompactJws::parse(&jws).unwrap().verify(&key.public_jwk()).unwrap();
    }

    /// A signer implementing only what it must.
    struct WithDefaults<'a>(&'a SoftwareSigner);

    impl Signer for WithDefaults<'_> {
        fn alg(&self) -> JwsAlg {
            self.0.alg()
        }
        fn public_jwk(&self) -> Jwk {
            self.0.public_jwk()
        }
        fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, crate::jose::SignError> {
            self.0.sign(msg)
        }
    }

    #[test]
    fn media_types() {
        assert!(media_type_eq("application/dc+sd-jwt", "dc+sd-jwt"));
        assert!(media_type_eq("KB+JWT", "kb+jwt"));
        assert!(!media_type_eq("vc+sd-jwt", "dc+sd-jwt"));
    }
}
