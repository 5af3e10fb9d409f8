//! Compact JWE parsing and ECDH-ES decryption on arbitrary input.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wallet_core::jose::jwe::{self, DecryptionKey};

fn key() -> &'static DecryptionKey {
    static KEY: OnceLock<DecryptionKey> = OnceLock::new();
    KEY.get_or_init(|| DecryptionKey::generate().unwrap_or_else(|_| unreachable!()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = jwe::decrypt(s, key());
});
