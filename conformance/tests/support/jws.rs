//! Reading and re-encoding compact JWS parts in the fault proxies (issuer and wallet provider),
//! leniently: what is not a JWS reads as empty maps, so that a proxy passes it on untouched.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// One base64url part decoded as a JSON object; empty when it is not one.
pub fn decode_part(p: &str) -> Map<String, Value> {
    URL_SAFE_NO_PAD.decode(p).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()).and_then(|v| v.as_object().cloned()).unwrap_or_default()
}

/// (header, payload) of a compact JWS, empty maps when not one.
pub fn parts(jwt: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut it = jwt.split('.');
    let h = decode_part(it.next().unwrap_or_default());
    let p = decode_part(it.next().unwrap_or_default());
    (h, p)
}

/// A JSON object as a base64url part.
pub fn b64json(v: &Map<String, Value>) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Value::Object(v.clone())).unwrap_or_default())
}
