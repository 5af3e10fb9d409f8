//! SD-JWT parsing and verification on arbitrary input: never panics, always a typed error
//! or a result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wallet_core::jose::{EcCurve, Jwk};
use wallet_core::sd_jwt::{SdJwt, StaticKeyResolver, Verifier};
use wallet_core::time::UnixTime;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(sd) = SdJwt::parse(s) {
        let _ = sd.claim_paths();
        let _ = sd.serialize();
    }
    let key = Jwk::ec(EcCurve::P256, vec![1; 32], vec![2; 32]).unwrap_or_else(|_| unreachable!());
    let resolver = StaticKeyResolver::any_issuer(key);
    let _ = Verifier::plain(&resolver).verify(s, UnixTime(1_800_000_000));
});
