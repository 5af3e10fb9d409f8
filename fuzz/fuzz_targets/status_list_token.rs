//! Status List Tokens (`statuslist+jwt`, draft-ietf-oauth-status-list §5.1) on arbitrary
//! input: `StatusListToken::verify_response` / `verify` as wallets and verifiers call them,
//! then the lookups and the cache freshness.
//!
//! The first byte picks a mode. Mode 0 feeds the rest, as the HTTP body, to
//! `verify_response` (parse, `typ`, signer hint, key, signature). Mode 1 takes the rest as the
//! token's payload and signs it with a fixed key the resolver trusts, so the claim checks
//! (`sub`, `iat`/`exp`, `bits`, `lst` with its decompression bound, the index) run; flag bit
//! 0x10 overwrites `sub` and `iat` with passing values.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use wallet_core::jose::{JwsHeader, Signer as _, SoftwareSigner, jws};
use wallet_core::sd_jwt::StaticKeyResolver;
use wallet_core::status::{CachedStatusList, DEFAULT_MAX_DECOMPRESSED, MEDIA_TYPE, StatusListToken, StatusReference, TYP};
use wallet_core::time::UnixTime;

const NOW: UnixTime = UnixTime(1_800_000_000);
const URI: &str = "https://issuer.example/status/1";
/// The decompression bound wallets and verifiers use.
const LIMIT: usize = DEFAULT_MAX_DECOMPRESSED;

struct Fixed {
    key: SoftwareSigner,
    resolver: StaticKeyResolver,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let key = SoftwareSigner::generate().expect("key");
        let resolver = StaticKeyResolver::any_issuer(key.public_jwk());
        Fixed { key, resolver }
    })
}

fn check(body: &[u8], idx: u64) {
    let reference = StatusReference { idx, uri: URI.into() };
    if let Ok(v) = StatusListToken::verify_response(Some(MEDIA_TYPE), body, &reference, &fixed().resolver, NOW, 60, LIMIT) {
        let _ = v.lookup(idx);
        let _ = v.lookup(v.list.len());
        let cached = CachedStatusList::new(v, NOW);
        let _ = cached.lookup(idx, NOW);
        let _ = cached.lookup(idx, NOW.plus(1 << 40));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let idx = u64::from(mode >> 5);
    if mode % 2 == 0 {
        check(rest, idx);
        return;
    }
    let mut payload = rest.to_vec();
    if mode & 0x10 != 0
        && let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(rest)
    {
        m.insert("sub".into(), json!(URI));
        m.insert("iat".into(), json!(NOW.secs()));
        payload = serde_json::to_vec(&Value::Object(m)).unwrap_or_default();
    }
    let f = fixed();
    let header = JwsHeader::new(f.key.alg()).with_typ(TYP).with_kid(f.key.kid());
    if let Ok(jwt) = jws::sign(&header, &payload, &f.key) {
        check(jwt.as_bytes(), idx);
    }
});
