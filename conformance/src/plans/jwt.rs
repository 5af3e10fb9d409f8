//! A signed JWT as a conformance test reads it: the raw header and payload (so that a test can
//! look at exactly what was sent, even where wallet-core's typed parsers would refuse it), and
//! its signature checked with wallet-core's JOSE.

use serde_json::{Map, Value};
use wallet_core::jose::{CompactJws, Jwk};

use crate::case::{Step, fail};

/// Algorithms IT-Wallet allows for JWS (IT-Wallet 1.4 `algorithms.rst`: ES256/384/512 MUST,
/// PS256/384/512 RECOMMENDED).
pub const ALLOWED_ALGS: [&str; 6] = ["ES256", "ES384", "ES512", "PS256", "PS384", "PS512"];

/// A compact JWS, decoded.
#[derive(Debug, Clone)]
pub struct Jwt {
    /// The compact form.
    pub raw: String,
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The payload.
    pub payload: Map<String, Value>,
}

impl Jwt {
    /// Decodes `raw` (three base64url parts, JSON objects); fails the test otherwise.
    pub fn decode(what: &str, raw: &str) -> Step<Self> {
        let d = crate::evidence::DecodedJwt::decode(what, raw);
        match d {
            Some(crate::evidence::DecodedJwt { header: Value::Object(header), payload: Value::Object(payload), .. }) if raw.trim().split('.').count() == 3 => {
                Ok(Self { raw: raw.trim().to_owned(), header, payload })
            }
            _ => fail(format!("{what} is not a compact JWS with JSON header and payload")),
        }
    }

    /// A header member as a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// A claim as a string.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.payload.get(name).and_then(Value::as_str)
    }

    /// A claim as an integer.
    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        self.payload.get(name).and_then(Value::as_i64)
    }

    /// The `keys` of a JWKS value.
    pub fn keys_of(jwks: Option<&Value>) -> Vec<Value> {
        jwks.and_then(|j| j.get("keys")).and_then(Value::as_array).cloned().unwrap_or_default()
    }

    /// Verifies the signature with the key of `keys` named by the header's `kid` (or, without
    /// a `kid`, any of them). Fails naming what is wrong.
    pub fn verify_with(&self, what: &str, keys: &[Value]) -> Step<()> {
        let jws = match CompactJws::parse(&self.raw) {
            Ok(j) => j,
            Err(e) => return fail(format!("{what}: not a JWS with an allowed algorithm: {e}")),
        };
        let kid = self.header_str("kid");
        let candidates: Vec<&Value> = keys.iter().filter(|k| kid.is_none() || k.get("kid").and_then(Value::as_str) == kid).collect();
        if candidates.is_empty() {
            return fail(format!("{what}: no key with kid {} in the expected JWKS", kid.unwrap_or("(none)")));
        }
        for k in candidates {
            if let Ok(jwk) = Jwk::from_value(k)
                && jws.verify(&jwk).is_ok()
            {
                return Ok(());
            }
        }
        fail(format!("{what}: the signature does not verify with the key {}", kid.unwrap_or("(any)")))
    }
}
