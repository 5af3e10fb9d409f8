//! Cross-check with the Rust crate `sd-jwt-rs` 0.7.1, an independent implementation of
//! SD-JWT draft 7: same disclosure format and digests, KB-JWT with `sd_hash`. Its draft sets
//! no `typ` of ours, so our side uses the plain RFC 9901 verifier here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use jsonwebtoken::{DecodingKey, EncodingKey};
use sd_jwt_rs::{ClaimsForSelectiveDisclosureStrategy, SDJWTHolder, SDJWTIssuer, SDJWTVerifier, SDJWTSerializationFormat};
use serde_json::{Map, Value, json};
use wallet_core::jose::{EcCurve, Jwk, JwsAlg, JwsHeader, Signer as _, SoftwareSigner, b64};
use wallet_core::sd_jwt::{ClaimPath, KeyBindingInput, SdJwtBuilder, StaticKeyResolver, Verifier};
use wallet_core::time::UnixTime;

const AUD: &str = "https://rp.example.it";
const NONCE: &str = "xcheck-nonce-1";

/// An rcgen P-256 key: PKCS#8 for jsonwebtoken, x and y for our JWK.
fn rcgen_key() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let raw = kp.public_key_raw().to_vec();
    (kp.serialize_der(), raw[1..33].to_vec(), raw[33..65].to_vec())
}

fn claims(now: i64) -> Value {
    json!({
        "iss": "https://pid.example.it", "iat": now, "exp": now + 3600,
        "given_name": "Mario", "family_name": "Rossi", "birthdate": "1980-01-10",
        "nationalities": ["IT"],
    })
}

#[test]
fn we_verify_what_sd_jwt_rs_issues_and_presents() {
    let now = UnixTime::now();
    let (issuer_der, ix, iy) = rcgen_key();
    let (holder_der, hx, hy) = rcgen_key();
    let holder_jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(json!({"kty": "EC", "crv": "P-256", "x": b64::encode(&hx), "y": b64::encode(&hy)})).unwrap();
    let mut issuer = SDJWTIssuer::new(EncodingKey::from_ec_der(&issuer_der), Some("ES256".into()));
    let issued = issuer
        .issue_sd_jwt(claims(now.secs()), ClaimsForSelectiveDisclosureStrategy::TopLevel, Some(holder_jwk), true, SDJWTSerializationFormat::Compact)
        .unwrap();
    let mut holder = SDJWTHolder::new(issued, SDJWTSerializationFormat::Compact).unwrap();
    let mut wanted = Map::new();
    wanted.insert("given_name".into(), Value::Bool(true));
    wanted.insert("birthdate".into(), Value::Bool(true));
    let presentation = holder
        .create_presentation(wanted, Some(NONCE.into()), Some(AUD.into()), Some(EncodingKey::from_ec_der(&holder_der)), Some("ES256".into()))
        .unwrap();

    let resolver = StaticKeyResolver::any_issuer(Jwk::ec(EcCurve::P256, ix, iy).unwrap());
    let v = Verifier::plain(&resolver).expect_key_binding(AUD, NONCE).verify(&presentation, now).unwrap();
    assert_eq!(v.claims["given_name"], "Mario");
    assert_eq!(v.claims["birthdate"], "1980-01-10");
    assert!(!v.claims.contains_key("family_name"));
    let wrong = Verifier::plain(&resolver).expect_key_binding(AUD, "other").verify(&presentation, now).unwrap_err();
    assert_eq!(wrong, wallet_core::sd_jwt::SdJwtError::KbNonceMismatch);
}

#[test]
fn sd_jwt_rs_verifies_what_we_issue_and_present() {
    let now = UnixTime::now();
    let issuer = SoftwareSigner::generate().unwrap();
    let holder = SoftwareSigner::generate().unwrap();
    let mut c = claims(now.secs()).as_object().cloned().unwrap();
    c.insert("cnf".into(), json!({ "jwk": holder.public_jwk() }));
    let sd = SdJwtBuilder::new(c)
        .all_top_level_disclosable(&["iss", "iat", "exp", "cnf"])
        .decoys(2)
        .sign(&JwsHeader::new(JwsAlg::Es256).with_typ("dc+sd-jwt"), &issuer)
        .unwrap();
    let kb = KeyBindingInput { aud: AUD.into(), nonce: NONCE.into(), iat: now };
    let presentation = sd.present(Some(&[ClaimPath::key("given_name"), ClaimPath::key("nationalities")]), &kb, &holder).unwrap();

    let jwk = issuer.public_jwk();
    let wallet_core::jose::JwkParams::Ec { x, y, .. } = &jwk.params else { unreachable!() };
    let (x, y) = (b64::encode(x), b64::encode(y));
    let verifier = SDJWTVerifier::new(
        presentation,
        Box::new(move |_, _| DecodingKey::from_ec_components(&x, &y).unwrap()),
        Some(AUD.into()),
        Some(NONCE.into()),
        SDJWTSerializationFormat::Compact,
    )
    .unwrap();
    let got = verifier.verified_claims;
    assert_eq!(got["given_name"], "Mario");
    assert_eq!(got["nationalities"], json!(["IT"]));
    assert!(got.get("family_name").is_none());
}
