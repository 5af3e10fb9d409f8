//! JWE interop with josekit (OpenSSL-backed, an independent implementation): our ECDH-ES
//! output decrypts with josekit, and josekit's decrypts with ours, for A128GCM and A256GCM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use josekit::jwe::{ECDH_ES, JweHeader};
use wallet_core::jose::jwe::{self, ContentEncryption, DecryptionKey, EncryptOptions};

fn josekit_jwk(json: &str) -> josekit::jwk::Jwk {
    josekit::jwk::Jwk::from_bytes(json.as_bytes()).unwrap()
}

#[test]
fn josekit_decrypts_ours() {
    let key = DecryptionKey::generate().unwrap();
    let decrypter = ECDH_ES.decrypter_from_jwk(&josekit_jwk(&key.private_jwk().to_json())).unwrap();
    for enc in [ContentEncryption::A128Gcm, ContentEncryption::A256Gcm] {
        let opts = EncryptOptions { apu: Some(b"wallet".to_vec()), apv: Some(b"nonce".to_vec()), ..Default::default() };
        let token = jwe::encrypt(b"{\"state\":\"abc\"}", key.public_jwk(), enc, &opts).unwrap();
        let (plain, header) = josekit::jwe::deserialize_compact(&token, &decrypter).unwrap();
        assert_eq!(plain, b"{\"state\":\"abc\"}");
        assert_eq!(header.content_encryption(), Some(enc.as_str()));
    }
}

#[test]
fn we_decrypt_josekits() {
    let key = DecryptionKey::generate().unwrap();
    let encrypter = ECDH_ES.encrypter_from_jwk(&josekit_jwk(&key.public_jwk().to_json())).unwrap();
    for enc in ["A128GCM", "A256GCM"] {
        let mut header = JweHeader::new();
        header.set_content_encryption(enc);
        header.set_key_id("verifier-key-1");
        let token = josekit::jwe::serialize_compact(b"vp_token", &header, &encrypter).unwrap();
        let d = jwe::decrypt(&token, &key).unwrap();
        assert_eq!(d.plaintext, b"vp_token");
        assert_eq!(d.header["kid"], "verifier-key-1");
    }
}
