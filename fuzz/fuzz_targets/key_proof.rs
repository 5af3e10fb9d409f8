//! OpenID4VCI key proofs (`openid4vci-proof+jwt`, OpenID4VCI 1.0 App. F.4; IT-Wallet 1.4 §3.3
//! "Issuer checks") on arbitrary input: `verify_proofs` as the issuer's credential endpoint
//! calls it, with and without a required key attestation (WUA).
//!
//! The first byte picks a mode. Mode 0 splits the rest on newlines into proofs (at most the
//! batch size of 3). Mode 1 takes the rest as one proof's payload and signs it with a fixed
//! wallet key put in the header's `jwk`; flag bit 0x10 overwrites `aud`, `iss`, `iat` and
//! `nonce` with passing values, 0x20 puts a valid WUA attesting that key in the
//! `key_attestation` header and requires one, 0x40 sends the same proof twice (distinct keys
//! rule).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use wallet_core::attestation::{
    GeneralInfo, KeyStorageInfo, ProviderSigning, StorageType, WUA_MIN_LIFETIME, WuaBuilder, WuaWalletInfo,
};
use wallet_core::jose::{Jwk, JwsHeader, Signer as _, SoftwareSigner, jws};
use wallet_core::oid4vci::metadata::KeyAttestationsRequired;
use wallet_core::oid4vci::proof::{KEY_ATTESTATION_HEADER, PROOF_TYP};
use wallet_core::oid4vci::{ProofExpectation, verify_proofs};
use wallet_core::sd_jwt::StaticKeyResolver;
use wallet_core::status::StatusReference;
use wallet_core::time::UnixTime;

const NOW: UnixTime = UnixTime(1_800_000_000);
const ISSUER: &str = "https://issuer.example";
const WP: &str = "https://wp.example";
const CLIENT: &str = "client-1";
const NONCE: &str = "c-nonce-1";

struct Fixed {
    wallet: SoftwareSigner,
    wua: String,
    providers: StaticKeyResolver,
    required: KeyAttestationsRequired,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let provider = SoftwareSigner::generate().expect("key");
        let wallet = SoftwareSigner::generate().expect("key");
        let info = GeneralInfo {
            wallet_provider_name: "WP".into(),
            wallet_solution_id: "ws".into(),
            wallet_solution_version: "1".into(),
            wallet_solution_certification_information: String::new(),
        };
        let storage =
            KeyStorageInfo { storage_type: StorageType::LocalNative, keys_exportable: false, storage_certification_information: String::new() };
        let status = StatusReference { idx: 7, uri: format!("{WP}/status/1") };
        let wua = WuaBuilder::new(WP, vec![wallet.public_jwk()], status, WuaWalletInfo { general_info: info, key_storage_info: storage }, NOW, WUA_MIN_LIFETIME)
            .sign(&ProviderSigning::new(&provider))
            .expect("wua");
        let providers = StaticKeyResolver::for_issuer(provider.public_jwk(), WP);
        let required = KeyAttestationsRequired { key_storage: vec![], user_authentication: vec![] };
        Fixed { wallet, wua, providers, required }
    })
}

fn check(proofs: &[String], require_wua: bool) {
    let f = fixed();
    let nonce_valid = |n: &str| if n == NONCE { Ok(()) } else { Err(String::from("not issued here")) };
    let expect = ProofExpectation {
        issuer: ISSUER,
        client_id: Some(CLIENT),
        nonce_valid: &nonce_valid,
        now: NOW,
        max_age: 300,
        skew: 60,
        batch_size: 3,
        algs: &[],
        key_attestations_required: require_wua.then_some(&f.required),
        wallet_providers: &f.providers,
        header_memo: None,
    };
    let _ = verify_proofs(proofs, &expect);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let f = fixed();
    let with_wua = mode & 0x20 != 0;
    if mode % 2 == 0 {
        let Ok(s) = std::str::from_utf8(rest) else { return };
        let proofs: Vec<String> = s.split('\n').map(str::to_owned).collect();
        check(&proofs, with_wua);
        return;
    }
    let mut payload = rest.to_vec();
    if mode & 0x10 != 0
        && let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(rest)
    {
        m.insert("aud".into(), json!(ISSUER));
        m.insert("iss".into(), json!(CLIENT));
        m.insert("iat".into(), json!(NOW.secs()));
        m.insert("nonce".into(), json!(NONCE));
        payload = serde_json::to_vec(&Value::Object(m)).unwrap_or_default();
    }
    let mut header = JwsHeader::new(f.wallet.alg()).with_typ(PROOF_TYP);
    header.jwk = Some(Jwk::new(f.wallet.public_jwk().params));
    if with_wua {
        header.extra.insert(KEY_ATTESTATION_HEADER.into(), Value::String(f.wua.clone()));
    }
    let Ok(jwt) = jws::sign(&header, &payload, &f.wallet) else { return };
    let proofs = if mode & 0x40 != 0 { vec![jwt.clone(), jwt] } else { vec![jwt] };
    check(&proofs, with_wua);
});
