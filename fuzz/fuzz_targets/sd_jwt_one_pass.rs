//! Differential: the verifier reads the issuer payload and embeds disclosures in one pass
//! (`sd_jwt::one_pass`); the holder's view (`SdJwt::claim_paths`) takes the general path.
//! For any payload and disclosures, signed here with a fixed key, whatever the verifier
//! accepts the general path must accept with the same claims, in the same order, and the
//! same paths; whatever the general path refuses the verifier must refuse.
//!
//! Input: the payload's JSON text on the first line, then one disclosure's JSON array per
//! line (base64url-encoded here). `#0` to `#9` in the payload stand for the digests of the
//! first ten disclosures, so that the fuzzer reaches disclosures that are referenced.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wallet_core::jose::{JwsAlg, JwsHeader, Signer, SoftwareSigner, b64, jws};
use wallet_core::sd_jwt::{SdJwt, StaticKeyResolver, Verifier, digest};
use wallet_core::time::UnixTime;

fn issuer() -> &'static (SoftwareSigner, StaticKeyResolver) {
    static ISSUER: OnceLock<(SoftwareSigner, StaticKeyResolver)> = OnceLock::new();
    ISSUER.get_or_init(|| {
        let signer = SoftwareSigner::generate().unwrap_or_else(|_| unreachable!());
        let resolver = StaticKeyResolver::any_issuer(signer.public_jwk());
        (signer, resolver)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let mut lines = s.split('\n');
    let mut payload = lines.next().unwrap_or_default().to_owned();
    let encoded: Vec<String> = lines.map(b64::encode).collect();
    for (k, d) in encoded.iter().enumerate().take(10) {
        payload = payload.replace(&format!("#{k}"), &digest(d));
    }
    let (signer, resolver) = issuer();
    let Ok(jwt) = jws::sign(&JwsHeader::new(JwsAlg::Es256), payload.as_bytes(), signer) else { return };
    let mut presentation = jwt;
    presentation.push('~');
    for d in &encoded {
        presentation.push_str(d);
        presentation.push('~');
    }
    let verified = Verifier::plain(resolver).with_clock_skew(i64::MAX / 4).verify(&presentation, UnixTime(0));
    let general = SdJwt::parse(&presentation).and_then(|sd| sd.claim_paths().map(|h| (h.claims, h.disclosures.into_iter().map(|(p, _)| p).collect::<Vec<_>>())));
    match (&verified, &general) {
        (Ok(v), Ok((claims, paths))) => {
            let show = |m| serde_json::to_string(m).unwrap_or_default();
            assert_eq!(show(&v.claims), show(claims), "claims differ for {presentation}");
            assert_eq!(&v.disclosed, paths, "paths differ for {presentation}");
        }
        (Ok(_), Err(e)) => panic!("the verifier accepted what the general path refuses ({e}): {presentation}"),
        (Err(_), _) => {}
    }
});
