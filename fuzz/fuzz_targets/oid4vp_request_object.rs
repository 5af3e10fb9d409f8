//! Request object parsing and verification (no trust configured) on arbitrary input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wallet_core::oid4vp::{ClientId, ParsedRequestObject, Profile, VerifyContext};
use wallet_core::time::UnixTime;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(parsed) = ParsedRequestObject::parse(s) else { return };
    let Ok(cid) = ClientId::parse("openid_federation:https://rp.example.it") else { return };
    let ctx = VerifyContext::new(&cid, Profile::ItWallet14, UnixTime(1_800_000_000));
    let _ = parsed.verify(&ctx);
});
