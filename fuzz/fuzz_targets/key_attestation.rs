//! Key attestation verifiers on arbitrary input: Android Key Attestation
//! (`AndroidKeyAttestationVerifier`), the development software format
//! (`SoftwareAttestationVerifier`), `detect_format` and the `KeyAttestationPolicy` dispatch.
//!
//! The first byte picks a mode. Mode 0 feeds the rest, as the `key_attestation` string, to
//! every verifier. Mode 1 takes the rest as the KeyDescription extension value (DER) and puts
//! it in a leaf certificate chained to a fixed root the Android verifier trusts, so the
//! extension parser runs past the chain check. Mode 2 takes the rest as the payload of a
//! software attestation signed by a fixed root the software verifier trusts.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, date_time_ymd,
};
use wallet_core::attestation::key_attestation::{
    AndroidKeyAttestationVerifier, SOFTWARE_ATTESTATION_TYP, SoftwareAttestationVerifier, detect_format,
    encode_android_attestation,
};
use wallet_core::attestation::{KeyAttestationPolicy, KeyAttestationVerifier, SecurityLevel};
use wallet_core::jose::{JwsHeader, Signer as _, SoftwareSigner, jws};
use wallet_core::time::UnixTime;
use wallet_core::x509::TrustAnchors;

const NOW: UnixTime = UnixTime(1_800_000_000);

struct Fixed {
    root_der: Vec<u8>,
    batch_der: Vec<u8>,
    batch_params: CertificateParams,
    batch_key: KeyPair,
    leaf_key: KeyPair,
    android: AndroidKeyAttestationVerifier,
    software_root: SoftwareSigner,
    software: SoftwareAttestationVerifier,
    policy: KeyAttestationPolicy,
}

fn params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2035, 1, 1);
    p
}

fn ca(cn: &str) -> (CertificateParams, KeyPair) {
    let mut p = params(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    (p, KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key"))
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let (rp, rk) = ca("Fuzz Key Attestation Root");
        let root_der = rp.self_signed(&rk).expect("root").der().to_vec();
        let (bp, bk) = ca("Fuzz Device Batch Key");
        let batch_der = bp.signed_by(&bk, &Issuer::from_params(&rp, &rk)).expect("batch").der().to_vec();
        let anchors = || TrustAnchors::from_der(vec![root_der.clone()]).expect("anchors");
        let android = AndroidKeyAttestationVerifier::new(anchors(), SecurityLevel::TrustedEnvironment);
        let software_root = SoftwareSigner::generate().expect("key");
        let software = SoftwareAttestationVerifier::new(vec![software_root.public_jwk()]);
        let policy = KeyAttestationPolicy::new(false)
            .with_software(software.clone())
            .with_android(AndroidKeyAttestationVerifier::new(anchors(), SecurityLevel::Software));
        Fixed {
            root_der,
            batch_der,
            batch_params: bp,
            batch_key: bk,
            leaf_key: KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key"),
            android,
            software_root,
            software,
            policy,
        }
    })
}

fn all(s: &str) {
    let f = fixed();
    let _ = detect_format(s);
    if let Ok(k) = f.android.verify(s, NOW) {
        let _ = k.check(b"challenge", None);
    }
    let _ = f.software.verify(s, NOW);
    let _ = f.policy.verify(s, NOW);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let f = fixed();
    match mode % 3 {
        0 => {
            if let Ok(s) = std::str::from_utf8(rest) {
                all(s);
            }
        }
        1 => {
            let mut p = params("Android Keystore Key");
            let mut ext = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 11129, 2, 1, 17], rest.to_vec());
            ext.set_criticality(false);
            p.custom_extensions = vec![ext];
            let Ok(leaf) = p.signed_by(&f.leaf_key, &Issuer::from_params(&f.batch_params, &f.batch_key)) else {
                return;
            };
            let att = encode_android_attestation(&[leaf.der().to_vec(), f.batch_der.clone(), f.root_der.clone()]);
            all(&att);
        }
        _ => {
            let header = JwsHeader::new(f.software_root.alg()).with_typ(SOFTWARE_ATTESTATION_TYP);
            if let Ok(jwt) = jws::sign(&header, rest, &f.software_root) {
                all(&jwt);
            }
        }
    }
});
