//! Compact JWS and JWK parsing on arbitrary input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wallet_core::jose::{CompactJws, Jwk};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(jws) = CompactJws::parse(s) {
        let _ = jws.payload_json::<serde_json::Value>();
        if let Some(jwk) = &jws.header().jwk {
            let _ = jws.verify(jwk);
        }
    }
    let _ = Jwk::from_json(s);
});
