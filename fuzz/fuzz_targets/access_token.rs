//! The issuer's access and refresh tokens (`at+jwt`, `rt+jwt`; RFC 9068) on arbitrary input:
//! `verify_token` as the credential and token endpoints call it on the `Authorization` header
//! or the `refresh_token` form field, then the DPoP binding and client checks.
//!
//! The first byte picks a mode. Mode 0 feeds the rest, as a string, to `verify_token` for both
//! kinds. Mode 1 takes the rest as the token's payload and signs it with the issuer's fixed
//! key; flag bit 0x10 overwrites `iss`, `aud`, `iat` and `exp` with passing values, 0x20 picks
//! the refresh kind.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use wallet_core::jose::{JwsHeader, Signer as _, SoftwareSigner, jws};
use wallet_core::oid4vci::{DpopExpectation, TokenExpectation, TokenKind, dpop_proof, verify_dpop, verify_token};
use wallet_core::time::UnixTime;

const NOW: UnixTime = UnixTime(1_800_000_000);
const AS: &str = "https://issuer.example";

struct Fixed {
    issuer: SoftwareSigner,
    dpop: Option<wallet_core::oid4vci::VerifiedDpop>,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let issuer = SoftwareSigner::generate().expect("key");
        let wallet = SoftwareSigner::generate().expect("key");
        let url = format!("{AS}/credential");
        let dpop = dpop_proof(&wallet, "POST", &url, None, None, NOW)
            .ok()
            .and_then(|p| verify_dpop(&p, &DpopExpectation::new("POST", &url, NOW)).ok());
        Fixed { issuer, dpop }
    })
}

fn check(jwt: &str, kind: TokenKind) {
    let f = fixed();
    let key = f.issuer.public_jwk();
    let expect = TokenExpectation { kind, key: &key, issuer: AS, audience: AS, now: NOW, skew: 60 };
    if let Ok(v) = verify_token(jwt, &expect) {
        if let Some(d) = &f.dpop {
            let _ = v.check_dpop(d);
        }
        let _ = v.check_client("client-1");
        let _ = v.require_first_issuance_allowed();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        let Ok(s) = std::str::from_utf8(rest) else { return };
        check(s, TokenKind::Access);
        check(s, TokenKind::Refresh);
        return;
    }
    let kind = if mode & 0x20 != 0 { TokenKind::Refresh } else { TokenKind::Access };
    let mut payload = rest.to_vec();
    if mode & 0x10 != 0
        && let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(rest)
    {
        m.insert("iss".into(), json!(AS));
        m.insert("aud".into(), json!(AS));
        m.insert("iat".into(), json!(NOW.secs()));
        m.insert("exp".into(), json!(NOW.secs() + 300));
        payload = serde_json::to_vec(&Value::Object(m)).unwrap_or_default();
    }
    let f = fixed();
    let header = JwsHeader::new(f.issuer.alg()).with_typ(kind.typ()).with_kid(f.issuer.kid());
    if let Ok(jwt) = jws::sign(&header, &payload, &f.issuer) {
        check(&jwt, kind);
    }
});
