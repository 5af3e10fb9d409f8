//! DPoP proofs (RFC 9449 §4.3) on arbitrary input: `verify_dpop` as the issuer's token and
//! credential endpoints call it, and `VerifiedDpop::check_binding`.
//!
//! The first byte picks a mode. Mode 0 feeds the rest, as a string, to `verify_dpop` (parse,
//! `typ`, `alg`, embedded `jwk`, signature). Mode 1 takes the rest as the proof's payload and
//! signs it with a fixed key put in the header's `jwk`, so the claim checks after the
//! signature run; flag bit 0x10 overwrites `htm`, `htu`, `iat` with passing values, 0x20 asks
//! for an access token hash (`ath`) and 0x40 for a server nonce, and 0x80 writes the expected
//! `ath`/`nonce` in the payload.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use wallet_core::jose::{Jwk, JwsHeader, Signer as _, SoftwareSigner, jws};
use wallet_core::oid4vci::dpop::{DPOP_TYP, access_token_hash};
use wallet_core::oid4vci::{DpopExpectation, verify_dpop};
use wallet_core::time::UnixTime;

const NOW: UnixTime = UnixTime(1_800_000_000);
const HTU: &str = "https://issuer.example/credential";
const TOKEN: &str = "at-1";
const NONCE: &str = "n-1";

fn key() -> &'static SoftwareSigner {
    static KEY: OnceLock<SoftwareSigner> = OnceLock::new();
    KEY.get_or_init(|| SoftwareSigner::generate().expect("key"))
}

fn expectation(mode: u8) -> DpopExpectation<'static> {
    let mut e = DpopExpectation::new("POST", HTU, NOW);
    if mode & 0x20 != 0 {
        e = e.with_access_token(TOKEN);
    }
    if mode & 0x40 != 0 {
        e = e.with_nonce(NONCE);
    }
    e
}

fn check(proof: &str, mode: u8) {
    if let Ok(v) = verify_dpop(proof, &expectation(mode)) {
        let jkt = key().public_jwk().thumbprint();
        let _ = v.check_binding(jkt.as_str());
        let _ = v.check_binding("");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        if let Ok(s) = std::str::from_utf8(rest) {
            check(s, mode);
        }
        return;
    }
    let mut payload = rest.to_vec();
    if let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(rest) {
        if mode & 0x10 != 0 {
            m.insert("htm".into(), json!("POST"));
            m.insert("htu".into(), json!(HTU));
            m.insert("iat".into(), json!(NOW.secs()));
        }
        if mode & 0x80 != 0 {
            m.insert("ath".into(), json!(access_token_hash(TOKEN)));
            m.insert("nonce".into(), json!(NONCE));
        }
        payload = serde_json::to_vec(&Value::Object(m)).unwrap_or_default();
    }
    let k = key();
    let mut header = JwsHeader::new(k.alg()).with_typ(DPOP_TYP);
    header.jwk = Some(Jwk::new(k.public_jwk().params));
    if let Ok(jwt) = jws::sign(&header, &payload, k) {
        check(&jwt, mode);
    }
});
