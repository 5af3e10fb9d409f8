//! The SD-JWT VC draft's PID example (draft-ietf-oauth-sd-jwt-vc-07 Appendix B.1), verified with
//! every SD-JWT VC rule on, then broken one piece at a time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use serde_json::{Map, Value};
use wallet_core::jose::Jwk;
use wallet_core::sd_jwt::{SdJwtError, StaticKeyResolver, Verifier};
use wallet_core::time::UnixTime;

fn vector(path: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/vectors/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap().trim().to_owned()
}

const ISS: &str = "https://example.com/issuer";
const AUD: &str = "https://example.com/verifier";
const NONCE: &str = "1234567890";
/// Thirty seconds after the KB-JWT's `iat`.
const NOW: UnixTime = UnixTime(1_731_533_897);

fn resolver() -> StaticKeyResolver {
    StaticKeyResolver::for_issuer(Jwk::from_json(&vector("rfc9901/issuer.pub.jwk.json")).unwrap(), ISS)
}

fn verify(presentation: &str, aud: &str, nonce: &str, now: UnixTime) -> Result<wallet_core::sd_jwt::VerifiedSdJwt, SdJwtError> {
    let r = resolver();
    Verifier::new(&r).expect_key_binding(aud, nonce).verify(presentation, now)
}

#[test]
fn draft_pid_example_yields_the_documented_payload() {
    let v = verify(&vector("sd-jwt-vc/pid-presentation.sd-jwt"), AUD, NONCE, NOW).unwrap();
    let expected: Map<String, Value> = serde_json::from_str(&vector("sd-jwt-vc/pid-claims.json")).unwrap();
    assert_eq!(v.claims, expected);
    assert_eq!(v.disclosed.len(), 2);
    assert!(v.header.typ_is("dc+sd-jwt"));
    let kb = v.key_binding.unwrap();
    assert_eq!((kb.aud.as_str(), kb.nonce.as_str(), kb.iat), (AUD, NONCE, 1_731_533_867));
}

#[test]
fn draft_pid_example_refused_for_another_verifier_or_nonce() {
    let p = vector("sd-jwt-vc/pid-presentation.sd-jwt");
    assert!(matches!(verify(&p, "https://other.example.com", NONCE, NOW), Err(SdJwtError::KbAudMismatch)));
    assert!(matches!(verify(&p, AUD, "0987654321", NOW), Err(SdJwtError::KbNonceMismatch)));
}

#[test]
fn draft_pid_example_refused_when_the_key_binding_is_stale_or_the_credential_expired() {
    let p = vector("sd-jwt-vc/pid-presentation.sd-jwt");
    assert!(matches!(verify(&p, AUD, NONCE, UnixTime(1_731_533_867 + 3_600)), Err(SdJwtError::KbIatOutOfWindow { .. })));
    assert!(matches!(verify(&p, AUD, NONCE, UnixTime(1_883_000_000 + 3_600)), Err(SdJwtError::Expired { .. })));
}

#[test]
fn draft_pid_example_refused_with_a_disclosure_dropped_or_swapped() {
    let p = vector("sd-jwt-vc/pid-presentation.sd-jwt");
    let parts: Vec<&str> = p.split('~').collect();
    // Dropping a disclosure changes what the KB-JWT's sd_hash covers.
    let dropped = format!("{}~{}~{}", parts[0], parts[1], parts[3]);
    assert!(matches!(verify(&dropped, AUD, NONCE, NOW), Err(SdJwtError::KbSdHashMismatch)));
    // A disclosure the issuer never signed is unreferenced.
    let forged = "WyJzYWx0c2FsdHNhbHQiLCAiZ2VuZGVyIiwgIm1hbGUiXQ";
    let extra = format!("{}~{}~{}~{}~{}", parts[0], parts[1], parts[2], forged, parts[3]);
    assert!(matches!(verify(&extra, AUD, NONCE, NOW), Err(SdJwtError::KbSdHashMismatch | SdJwtError::UnreferencedDisclosure(_))));
}

#[test]
fn draft_pid_example_refused_under_another_issuer() {
    let p = vector("sd-jwt-vc/pid-presentation.sd-jwt");
    let r = StaticKeyResolver::for_issuer(Jwk::from_json(&vector("rfc9901/issuer.pub.jwk.json")).unwrap(), "https://pid.example.it");
    assert!(Verifier::new(&r).expect_key_binding(AUD, NONCE).verify(&p, NOW).is_err());
}
