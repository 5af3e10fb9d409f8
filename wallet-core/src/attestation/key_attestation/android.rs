//! Android Key Attestation (developer.android.com "Verify hardware-backed key pairs with key
//! attestation"): the Android Keystore returns, for a key generated with an attestation
//! challenge, an X.509 chain whose leaf certifies the key and carries the KeyDescription
//! extension (OID 1.3.6.1.4.1.11129.2.1.17):
//!
//! ```asn1
//! KeyDescription ::= SEQUENCE {
//!     attestationVersion         INTEGER,
//!     attestationSecurityLevel   SecurityLevel,   -- ENUMERATED { Software(0), TrustedEnvironment(1), StrongBox(2) }
//!     keyMintVersion             INTEGER,
//!     keyMintSecurityLevel       SecurityLevel,
//!     attestationChallenge       OCTET_STRING,
//!     uniqueId                   OCTET_STRING,
//!     softwareEnforced           AuthorizationList,
//!     hardwareEnforced           AuthorizationList,
//! }
//! ```
//!
//! Checks: the chain reaches a configured root (Google's hardware attestation roots in
//! production) through [`crate::x509::TrustAnchors`] (signatures, validity, CA constraints);
//! the leaf has the extension; the KeyMint security level is at least the configured minimum.
//! The attested key is the leaf's public key and the challenge is `attestationChallenge`; the
//! caller checks both with [`super::AttestedKey::check`].
//!
//! Not checked here (the wallet provider's device policy, documented as such): the
//! `AuthorizationList` contents (`rootOfTrust.verifiedBootState`, OS patch level, the
//! application id), and revocation of attestation certificates (Google's status list).
//!
//! Wire form (our choice, as the spec leaves the encoding to the OEM): the `x5c` of the chain,
//! leaf first, standard base64 DER, in the envelope `base64url({"format":"android-key","x5c":[…]})`
//! — see [`encode_android_attestation`].

use base64::Engine as _;
use x509_parser::asn1_rs::{Any, FromDer as _, Tag};
use x509_parser::certificate::X509Certificate;

use super::{AttestedKey, Envelope, KeyAttestationError, KeyAttestationFormat, SecurityLevel};
use crate::jose::b64;
use crate::time::UnixTime;
use crate::x509::TrustAnchors;

/// The KeyDescription extension's OID.
pub const ANDROID_KEY_ATTESTATION_OID: &str = "1.3.6.1.4.1.11129.2.1.17";

/// Wraps an Android attestation chain (DER certificates, leaf first) in our wire form.
pub fn encode_android_attestation(chain: &[Vec<u8>]) -> String {
    let x5c = chain.iter().map(|d| base64::engine::general_purpose::STANDARD.encode(d)).collect();
    let env = Envelope { format: "android-key".into(), x5c: Some(x5c) };
    b64::encode(serde_json::to_vec(&env).unwrap_or_default())
}

/// Verifies Android Key Attestation chains against configured roots.
#[derive(Debug)]
pub struct AndroidKeyAttestationVerifier {
    roots: TrustAnchors,
    min_level: SecurityLevel,
}

impl AndroidKeyAttestationVerifier {
    /// Trusts chains to `roots`, requiring at least `min_level` (IT-Wallet 1.4 §2.2: StrongBox
    /// recommended, TEE only when StrongBox is absent: `TrustedEnvironment` is the usual
    /// minimum).
    pub fn new(roots: TrustAnchors, min_level: SecurityLevel) -> Self {
        Self { roots, min_level }
    }
}

fn malformed(what: &str) -> KeyAttestationError {
    KeyAttestationError::Malformed(format!("KeyDescription: {what}"))
}

/// The next DER element of `input`, and the rest.
fn next(input: &[u8]) -> Result<(Any<'_>, &[u8]), KeyAttestationError> {
    let (rest, any) = Any::from_der(input).map_err(|_| malformed("bad DER"))?;
    Ok((any, rest))
}

/// A small non-negative INTEGER or ENUMERATED (at most 4 content bytes).
fn small_uint(any: &Any<'_>, tag: Tag) -> Result<u32, KeyAttestationError> {
    if any.tag() != tag || any.data.is_empty() || any.data.len() > 5 {
        return Err(malformed("expected a small integer"));
    }
    let mut v: u64 = 0;
    for b in any.data {
        v = (v << 8) | u64::from(*b);
    }
    u32::try_from(v).map_err(|_| malformed("integer too large"))
}

pub(crate) struct KeyDescription {
    pub(crate) keymint_level: SecurityLevel,
    pub(crate) challenge: Vec<u8>,
}

fn level(n: u32) -> Result<SecurityLevel, KeyAttestationError> {
    match n {
        0 => Ok(SecurityLevel::Software),
        1 => Ok(SecurityLevel::TrustedEnvironment),
        2 => Ok(SecurityLevel::StrongBox),
        _ => Err(malformed("unknown security level")),
    }
}

/// Parses the extension value (the first five fields; the authorization lists are skipped).
pub(crate) fn parse_key_description(value: &[u8]) -> Result<KeyDescription, KeyAttestationError> {
    let (seq, rest) = next(value)?;
    if seq.tag() != Tag::Sequence || !rest.is_empty() {
        return Err(malformed("not one SEQUENCE"));
    }
    let (version, r) = next(seq.data)?;
    small_uint(&version, Tag::Integer)?;
    let (att_level, r) = next(r)?;
    level(small_uint(&att_level, Tag::Enumerated)?)?;
    let (keymint_version, r) = next(r)?;
    small_uint(&keymint_version, Tag::Integer)?;
    let (km_level, r) = next(r)?;
    let keymint_level = level(small_uint(&km_level, Tag::Enumerated)?)?;
    let (challenge, _) = next(r)?;
    if challenge.tag() != Tag::OctetString {
        return Err(malformed("attestationChallenge is not an OCTET STRING"));
    }
    Ok(KeyDescription { keymint_level, challenge: challenge.data.to_vec() })
}

impl super::KeyAttestationVerifier for AndroidKeyAttestationVerifier {
    fn verify(&self, attestation: &str, now: UnixTime) -> Result<AttestedKey, KeyAttestationError> {
        if attestation.len() > super::MAX_KEY_ATTESTATION_LEN {
            return Err(KeyAttestationError::Malformed("too long".into()));
        }
        let bytes = b64::decode(attestation).map_err(|_| KeyAttestationError::Malformed("not base64url".into()))?;
        let env: Envelope = serde_json::from_slice(&bytes).map_err(|e| KeyAttestationError::Malformed(e.to_string()))?;
        if env.format != "android-key" {
            return Err(KeyAttestationError::UnsupportedFormat(env.format.chars().take(64).collect()));
        }
        let x5c = env.x5c.ok_or_else(|| KeyAttestationError::Malformed("no x5c".into()))?;
        let chain = self.roots.verify_chain(&x5c, now)?;
        let leaf_der = x5c
            .first()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s.trim()).ok())
            .ok_or_else(|| KeyAttestationError::Malformed("no leaf".into()))?;
        let (_, leaf) = X509Certificate::from_der(&leaf_der).map_err(|e| KeyAttestationError::Malformed(e.to_string()))?;
        let ext = leaf
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == ANDROID_KEY_ATTESTATION_OID)
            .ok_or(KeyAttestationError::MissingExtension)?;
        let kd = parse_key_description(ext.value)?;
        if kd.keymint_level < self.min_level {
            return Err(KeyAttestationError::InsufficientSecurityLevel { found: kd.keymint_level, required: self.min_level });
        }
        Ok(AttestedKey {
            format: KeyAttestationFormat::AndroidKey,
            public_key: chain.leaf_key,
            challenge: kd.challenge,
            security_level: kd.keymint_level,
        })
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
        KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, date_time_ymd,
    };

    use super::super::KeyAttestationVerifier as _;
    use super::*;
    use crate::jose::{Jwk, Signer as _, SoftwareSigner};

    const NOW: UnixTime = UnixTime(1_800_000_000); // 2027-01-15

    struct OurKey(Vec<u8>);
    impl PublicKeyData for OurKey {
        fn der_bytes(&self) -> &[u8] {
            &self.0
        }
        fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
            &PKCS_ECDSA_P256_SHA256
        }
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = content.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            out.extend_from_slice(&[0x81, n as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    /// A KeyDescription as KeyMint 200 writes it (with empty authorization lists).
    fn key_description(challenge: &[u8], level: u8) -> Vec<u8> {
        let body = [
            tlv(0x02, &[0x00, 0xc8]),
            tlv(0x0a, &[level]),
            tlv(0x02, &[0x00, 0xc8]),
            tlv(0x0a, &[level]),
            tlv(0x04, challenge),
            tlv(0x04, b""),
            tlv(0x30, b""),
            tlv(0x30, b""),
        ]
        .concat();
        tlv(0x30, &body)
    }

    fn params(cn: &str, not_after_year: i32) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        p.distinguished_name = dn;
        p.not_before = date_time_ymd(2025, 1, 1);
        p.not_after = date_time_ymd(not_after_year, 1, 1);
        p
    }

    fn ca(cn: &str) -> (CertificateParams, KeyPair) {
        let mut p = params(cn, 2035);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        (p, KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap())
    }

    struct Device {
        root_der: Vec<u8>,
        batch_der: Vec<u8>,
        batch: (CertificateParams, KeyPair),
    }

    impl Device {
        /// "Google" root → device batch attestation key (intermediate).
        fn new() -> Self {
            let (rp, rk) = ca("Test Key Attestation Root");
            let root_der = rp.self_signed(&rk).unwrap().der().to_vec();
            let (bp, bk) = ca("Test Device Batch Key");
            let batch_der = bp.signed_by(&bk, &Issuer::from_params(&rp, &rk)).unwrap().der().to_vec();
            Self { root_der, batch_der, batch: (bp, bk) }
        }

        fn anchors(&self) -> TrustAnchors {
            TrustAnchors::from_der(vec![self.root_der.clone()]).unwrap()
        }

        /// The Keystore's attestation of `key` with `challenge`.
        fn attest(&self, key: &Jwk, challenge: &[u8], level: u8, not_after_year: i32) -> String {
            let mut p = params("Android Keystore Key", not_after_year);
            let mut ext = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 11129, 2, 1, 17], key_description(challenge, level));
            ext.set_criticality(false);
            p.custom_extensions = vec![ext];
            let leaf = p
                .signed_by(&OurKey(key.params.ec_point().unwrap()), &Issuer::from_params(&self.batch.0, &self.batch.1))
                .unwrap()
                .der()
                .to_vec();
            encode_android_attestation(&[leaf, self.batch_der.clone(), self.root_der.clone()])
        }
    }

    fn verifier(d: &Device) -> AndroidKeyAttestationVerifier {
        AndroidKeyAttestationVerifier::new(d.anchors(), SecurityLevel::TrustedEnvironment)
    }

    #[test]
    fn valid_chain_gives_key_challenge_and_level() {
        let d = Device::new();
        let key = SoftwareSigner::generate().unwrap().public_jwk();
        let att = d.attest(&key, b"client-data-hash", 2, 2030);
        let got = verifier(&d).verify(&att, NOW).unwrap();
        assert_eq!(got.format, KeyAttestationFormat::AndroidKey);
        assert_eq!(got.security_level, SecurityLevel::StrongBox);
        got.check(b"client-data-hash", Some(&key)).unwrap();
    }

    #[test]
    fn wrong_challenge() {
        let d = Device::new();
        let key = SoftwareSigner::generate().unwrap().public_jwk();
        let got = verifier(&d).verify(&d.attest(&key, b"old nonce", 1, 2030), NOW).unwrap();
        assert_eq!(got.check(b"new nonce", Some(&key)), Err(KeyAttestationError::WrongChallenge));
    }

    #[test]
    fn untrusted_root() {
        let d = Device::new();
        let other = Device::new();
        let key = SoftwareSigner::generate().unwrap().public_jwk();
        let err = verifier(&other).verify(&d.attest(&key, b"c", 1, 2030), NOW).unwrap_err();
        assert_eq!(err, KeyAttestationError::UntrustedRoot);
        assert_eq!(err.oauth_code(), "invalid_request");
    }

    #[test]
    fn key_mismatch() {
        let d = Device::new();
        let key = SoftwareSigner::generate().unwrap().public_jwk();
        let registered = SoftwareSigner::generate().unwrap().public_jwk();
        let got = verifier(&d).verify(&d.attest(&key, b"c", 1, 2030), NOW).unwrap();
        assert_eq!(got.check(b"c", Some(&registered)), Err(KeyAttestationError::KeyMismatch));
    }

    #[test]
    fn expired_leaf() {
        let d = Device::new();
        let key = SoftwareSigner::generate().unwrap().public_jwk();
        let err = verifier(&d).verify(&d.attest(&key, b"c", 1, 2026), NOW).unwrap_err();
        assert_eq!(err, KeyAttestationError::Expired);
    }

    #[test]
    fn software_level_is_below_the_minimum() {
        let d = Device::new();
        let key = SoftwareSigner::generate().unwrap().public_jwk();
        let err = verifier(&d).verify(&d.attest(&key, b"c", 0, 2030), NOW).unwrap_err();
        assert_eq!(
            err,
            KeyAttestationError::InsufficientSecurityLevel { found: SecurityLevel::Software, required: SecurityLevel::TrustedEnvironment }
        );
        assert_eq!(err.oauth_code(), "integrity_check_error");
    }

    #[test]
    fn leaf_without_extension() {
        let d = Device::new();
        let key = SoftwareSigner::generate().unwrap().public_jwk();
        let leaf = params("plain", 2030)
            .signed_by(&OurKey(key.params.ec_point().unwrap()), &Issuer::from_params(&d.batch.0, &d.batch.1))
            .unwrap()
            .der()
            .to_vec();
        let att = encode_android_attestation(&[leaf, d.batch_der.clone()]);
        assert_eq!(verifier(&d).verify(&att, NOW).unwrap_err(), KeyAttestationError::MissingExtension);
    }

    #[test]
    fn key_description_parser_bounds() {
        assert!(matches!(parse_key_description(b"\x30\x00"), Err(KeyAttestationError::Malformed(_))));
        assert!(matches!(parse_key_description(b""), Err(KeyAttestationError::Malformed(_))));
        let mut kd = key_description(b"c", 1);
        kd.push(0);
        assert!(matches!(parse_key_description(&kd), Err(KeyAttestationError::Malformed(_))));
        assert_eq!(parse_key_description(&key_description(b"c", 2)).unwrap().challenge, b"c");
    }
}
