//! The attestation JWTs checked by an independent JOSE implementation (josekit, on OpenSSL):
//! the attestation request (signed by its `cnf` key), the WAA and WUA (by the provider), the
//! client attestation PoP (by the WAA's `cnf` key) verify there, with the headers IT-Wallet 1.4
//! §2.3 and §3.3 require.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use josekit::jws::ES256;
use wallet_core::attestation::key_attestation::SoftwareAttester;
use wallet_core::attestation::{
    AttestationRequestBuilder, GeneralInfo, KeyStorageInfo, ProviderNonce, ProviderSigning, StorageType, WUA_MIN_LIFETIME,
    WaaBuilder, WuaBuilder, WuaWalletInfo, client_attestation_headers,
};
use wallet_core::jose::{Jwk, Signer as _, SoftwareSigner};
use wallet_core::keystore::{KeyStore as _, KeyStoreSigner, KeyTag, SoftwareKeyStore};
use wallet_core::status::StatusReference;
use wallet_core::time::UnixTime;

const WP: &str = "https://wallet-provider.example.org";

fn josekit_verify(jwt: &str, key: &Jwk) -> (josekit::jws::JwsHeader, serde_json::Value) {
    // Without `kid`: josekit then requires none in the header (the PoP has none).
    let jwk = josekit::jwk::Jwk::from_bytes(Jwk::new(key.params.clone()).to_json().as_bytes()).unwrap();
    let verifier = ES256.verifier_from_jwk(&jwk).unwrap();
    let (payload, header) = josekit::jws::deserialize_compact(jwt, &verifier).unwrap();
    (header, serde_json::from_slice(&payload).unwrap())
}

fn info() -> GeneralInfo {
    GeneralInfo {
        wallet_provider_name: "Tessera".into(),
        wallet_solution_id: "tessera-wallet".into(),
        wallet_solution_version: "0.1.0".into(),
        wallet_solution_certification_information: String::new(),
    }
}

#[test]
fn attestation_jwts_verify_with_josekit() {
    let now = UnixTime::now();
    let keys = Arc::new(SoftwareKeyStore::in_memory(SoftwareAttester::development().unwrap()).unwrap());
    let (hw, waa_tag, cred) = (KeyTag::generate().unwrap(), KeyTag::generate().unwrap(), KeyTag::generate().unwrap());
    for t in [&hw, &waa_tag, &cred] {
        keys.generate_key(t).unwrap();
    }
    let waa_key = KeyStoreSigner::new(keys.clone(), waa_tag).unwrap();
    let nonce = ProviderNonce::generate().unwrap();

    // The attestation request, signed by the cnf key, kid = its thumbprint.
    let req = AttestationRequestBuilder { provider: WP, nonce: &nonce, hardware_key_tag: &hw, credential_key_tag: &cred, now }
        .build(keys.as_ref(), &waa_key)
        .unwrap();
    let (h, claims) = josekit_verify(&req, &waa_key.public_jwk());
    assert_eq!(h.token_type(), Some("attestations-request+jwt"));
    assert_eq!(h.key_id(), Some(waa_key.public_jwk().thumbprint().as_str()));
    assert_eq!(claims["aud"], WP);
    assert_eq!(claims["hardware_key_tag"], hw.as_str());

    // WAA and WUA, signed by the provider.
    let wp = SoftwareSigner::generate().unwrap();
    let signing = ProviderSigning::new(&wp).with_x5c(vec!["AAAA".into()]);
    let waa = WaaBuilder::new(WP, &waa_key.public_jwk(), &info(), now).sign(&signing).unwrap();
    let (h, claims) = josekit_verify(&waa, &wp.public_jwk());
    assert_eq!(h.token_type(), Some("oauth-client-attestation+jwt"));
    assert_eq!(h.x509_certificate_chain(), Some(vec![vec![0u8, 0, 0]]));
    assert_eq!(claims["sub"], waa_key.public_jwk().thumbprint().as_str());
    let wua_info = WuaWalletInfo {
        general_info: info(),
        key_storage_info: KeyStorageInfo { storage_type: StorageType::LocalNative, keys_exportable: false, storage_certification_information: String::new() },
    };
    let status = StatusReference { idx: 3, uri: format!("{WP}/status-list") };
    let wua = WuaBuilder::new(WP, vec![keys.public_key(&cred).unwrap()], status, wua_info, now, WUA_MIN_LIFETIME).sign(&signing).unwrap();
    let (h, claims) = josekit_verify(&wua, &wp.public_jwk());
    assert_eq!(h.token_type(), Some("key-attestation+jwt"));
    assert_eq!(claims["status"]["status_list"]["idx"], 3);

    // The PoP: kid-less, signed by the WAA's cnf key.
    let headers = client_attestation_headers(&waa, &waa_key, "https://issuer.example.org", None, now).unwrap();
    let (h, claims) = josekit_verify(&headers.pop, &waa_key.public_jwk());
    assert_eq!(h.token_type(), Some("oauth-client-attestation-pop+jwt"));
    assert_eq!(h.key_id(), None);
    assert_eq!(claims["iss"], waa_key.public_jwk().thumbprint().as_str());
    assert_eq!(claims["aud"], "https://issuer.example.org");
}
