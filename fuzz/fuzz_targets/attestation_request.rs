//! Wallet attestations on arbitrary input: the `attestations-request+jwt` parse/verify path
//! (including `verify_device`), `verify_waa`, `verify_wua` and `verify_client_attestation`.
//!
//! The first byte picks a mode. Mode 0 feeds the rest, as a string, to every entry point
//! unsigned by anything we trust (parsing and early checks). The other modes take the rest as
//! a JWT payload and sign it with a fixed key the verifier trusts, so the claim checks after
//! the signature run; flag bits in the first byte optionally overwrite the claims the fuzzer
//! cannot guess (`cnf`, `iss`, `sub`) with the values that pass.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use wallet_core::attestation::key_attestation::{SoftwareAttestationVerifier, SoftwareAttester};
use wallet_core::attestation::{
    ATTESTATION_REQUEST_TYP, AttestationRequest, ClientAttestationContext, GeneralInfo, KeyAttestationPolicy, POP_TYP,
    ProviderSigning, WAA_TYP, WUA_TYP, WaaBuilder, instance_issuer, verify_client_attestation, verify_waa, verify_wua,
};
use wallet_core::jose::{Jwk, JwsHeader, Signer as _, SoftwareSigner, jws};
use wallet_core::sd_jwt::StaticKeyResolver;
use wallet_core::time::UnixTime;

const PROVIDER: &str = "https://wp.example";
const ISSUER: &str = "https://issuer.example";
const NOW: UnixTime = UnixTime(1_800_000_000);

struct Fixed {
    /// The wallet provider's signing key (WAA, WUA).
    provider: SoftwareSigner,
    /// The wallet's ephemeral / WAA `cnf` key (attestation request, PoP).
    wallet: SoftwareSigner,
    resolver: StaticKeyResolver,
    policy: KeyAttestationPolicy,
    /// A valid WAA for `wallet`, for the PoP mode.
    waa: String,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let provider = SoftwareSigner::generate().expect("key");
        let wallet = SoftwareSigner::generate().expect("key");
        let resolver = StaticKeyResolver::any_issuer(provider.public_jwk());
        let root = SoftwareAttester::development().expect("dev root").root_key();
        let policy = KeyAttestationPolicy::new(false).with_software(SoftwareAttestationVerifier::new(vec![root]));
        let info = GeneralInfo {
            wallet_provider_name: "WP".into(),
            wallet_solution_id: "ws".into(),
            wallet_solution_version: "1".into(),
            wallet_solution_certification_information: String::new(),
        };
        let waa = WaaBuilder::new(PROVIDER, &wallet.public_jwk(), &info, NOW)
            .sign(&ProviderSigning::new(&provider))
            .expect("waa");
        Fixed { provider, wallet, resolver, policy, waa }
    })
}

fn thumb(k: &Jwk) -> String {
    k.thumbprint().to_string()
}

/// `payload` with `fields` overwritten when it is a JSON object and `on` is set.
fn patch(payload: &[u8], on: bool, fields: &[(&str, Value)]) -> Vec<u8> {
    if !on {
        return payload.to_vec();
    }
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(mut m)) => {
            for (k, v) in fields {
                m.insert((*k).to_owned(), v.clone());
            }
            serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
        }
        _ => payload.to_vec(),
    }
}

fn sign(typ: &str, kid: Option<String>, payload: &[u8], signer: &SoftwareSigner) -> Option<String> {
    let header = JwsHeader::new(signer.alg()).with_typ(typ).with_kid(kid);
    jws::sign(&header, payload, signer).ok()
}

fn request(jwt: &str) {
    let f = fixed();
    if let Ok(req) = AttestationRequest::parse(jwt) {
        let _ = req.unverified_claims();
        if let Ok(v) = req.verify(PROVIDER, NOW, 60) {
            let _ = v.verify_device(&f.wallet.public_jwk(), &f.policy, NOW);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let f = fixed();
    let flag = mode & 0x10 != 0;
    match mode % 5 {
        0 => {
            let Ok(s) = std::str::from_utf8(rest) else { return };
            request(s);
            let _ = verify_waa(s, &f.resolver, NOW, 60);
            let _ = verify_wua(s, &f.resolver, NOW, 60);
            let (att, pop) = s.split_once('\n').unwrap_or((s, ""));
            let _ = verify_client_attestation(att, pop, &ClientAttestationContext::new(ISSUER, &f.resolver, NOW));
        }
        1 => {
            let key = f.wallet.public_jwk();
            let cnf = json!({ "jwk": Jwk::new(key.params.clone()) });
            let payload =
                patch(rest, flag, &[
                ("cnf", cnf),
                ("iss", Value::String(instance_issuer(PROVIDER, &key))),
                ("aud", Value::String(PROVIDER.into())),
            ]);
            if let Some(jwt) = sign(ATTESTATION_REQUEST_TYP, Some(thumb(&key)), &payload, &f.wallet) {
                request(&jwt);
            }
        }
        2 => {
            let key = f.wallet.public_jwk();
            let cnf = json!({ "jwk": Jwk::new(key.params.clone()) });
            let payload = patch(rest, flag, &[("cnf", cnf), ("sub", Value::String(thumb(&key)))]);
            if let Some(jwt) = sign(WAA_TYP, f.provider.kid(), &payload, &f.provider) {
                let _ = verify_waa(&jwt, &f.resolver, NOW, 60);
            }
        }
        3 => {
            if let Some(jwt) = sign(WUA_TYP, f.provider.kid(), rest, &f.provider) {
                if let Ok(w) = verify_wua(&jwt, &f.resolver, NOW, 60) {
                    let _ = w.attests(&f.wallet.public_jwk());
                    let _ = w.status();
                }
            }
        }
        _ => {
            let payload = patch(rest, flag, &[
                ("iss", Value::String(thumb(&f.wallet.public_jwk()))),
                ("aud", Value::String(ISSUER.into())),
            ]);
            if let Some(pop) = sign(POP_TYP, None, &payload, &f.wallet) {
                let mut ctx = ClientAttestationContext::new(ISSUER, &f.resolver, NOW);
                if mode & 0x20 != 0 {
                    ctx.expected_challenge = Some("challenge");
                }
                let _ = verify_client_attestation(&f.waa, &pop, &ctx);
            }
        }
    }
});
