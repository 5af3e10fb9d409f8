//! `direct_post.jwt` form bodies, JWE responses and response payloads on arbitrary input.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wallet_core::jose::{ContentEncryption, DecryptionKey};
use wallet_core::oid4vp::{AuthorizationResponse, PostedResponse, ResponseUriAnswer, decrypt_response};

fn key() -> &'static DecryptionKey {
    static KEY: OnceLock<DecryptionKey> = OnceLock::new();
    KEY.get_or_init(|| DecryptionKey::generate().unwrap_or_else(|_| unreachable!()))
}

fuzz_target!(|data: &[u8]| {
    let _ = AuthorizationResponse::from_json(data);
    let _ = ResponseUriAnswer::parse(200, data);
    if let Ok(PostedResponse::Encrypted(jwe)) = PostedResponse::parse_form(data) {
        let _ = decrypt_response(&jwe, std::slice::from_ref(key()), &[ContentEncryption::A256Gcm, ContentEncryption::A128Gcm]);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = decrypt_response(s, std::slice::from_ref(key()), &[ContentEncryption::A256Gcm, ContentEncryption::A128Gcm]);
    }
});
