//! x5c chains generated here with rcgen: root CA (the trust anchor) → entity CA (pathlen 0,
//! NameConstraints on the entity's host) → protocol certificate (leaf), as IT-Wallet §1.2
//! lays them out; then one broken thing per test.

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType, date_time_ymd,
};

use super::*;
use crate::jose::{JwsAlg, JwsHeader, Signer, SoftwareSigner, jws};
use crate::sd_jwt::KeyResolutionError;

const NOW: UnixTime = UnixTime(1_800_000_000); // 2027-01-15

/// Our software key as rcgen's public key input.
struct OurKey(Vec<u8>);
impl PublicKeyData for OurKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

fn params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2030, 1, 1);
    p
}

fn ca_params(cn: &str, pathlen: Option<u8>) -> CertificateParams {
    let mut p = params(cn);
    p.is_ca = IsCa::Ca(pathlen.map_or(BasicConstraints::Unconstrained, BasicConstraints::Constrained));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

struct Pki {
    root_der: Vec<u8>,
    root_key: KeyPair,
    root_params: CertificateParams,
    entity_der: Vec<u8>,
    entity_key: KeyPair,
    entity_params: CertificateParams,
}

impl Pki {
    /// Root → entity CA for `pid.example.it` (pathlen 0, DNS name constraint).
    fn new() -> Self {
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let root_params = ca_params("Tessera Trust Anchor", Some(1));
        let root_der = root_params.self_signed(&root_key).unwrap().der().to_vec();
        let entity_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut entity_params = ca_params("PID Provider CA", Some(0));
        entity_params.name_constraints =
            Some(NameConstraints { permitted_subtrees: vec![GeneralSubtree::DnsName("pid.example.it".into())], excluded_subtrees: vec![] });
        entity_params.subject_alt_names = vec![SanType::URI("https://pid.example.it".try_into().unwrap())];
        let entity_der = entity_params.signed_by(&entity_key, &Issuer::from_params(&root_params, &root_key)).unwrap().der().to_vec();
        Self { root_der, root_key, root_params, entity_der, entity_key, entity_params }
    }

    fn anchors(&self) -> TrustAnchors {
        TrustAnchors::from_der(vec![self.root_der.clone()]).unwrap()
    }

    /// A protocol certificate for `key` naming `uri` and `dns`, issued by the entity CA.
    fn leaf(&self, key: &SoftwareSigner, uri: &str, dns: &str, edit: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
        let mut p = params("protocol key");
        p.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap()), SanType::DnsName(dns.try_into().unwrap())];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        edit(&mut p);
        let point = key.public_jwk().params.ec_point().unwrap();
        p.signed_by(&OurKey(point), &Issuer::from_params(&self.entity_params, &self.entity_key)).unwrap().der().to_vec()
    }

    fn chain(&self, leaf: &[u8]) -> Vec<String> {
        vec![b64(leaf), b64(&self.entity_der)]
    }
}

#[test]
fn valid_chain_gives_the_leaf_key_and_names() {
    let pki = Pki::new();
    let key = SoftwareSigner::generate().unwrap();
    let leaf = pki.leaf(&key, "https://pid.example.it", "pid.example.it", |_| {});
    let v = pki.anchors().verify_chain(&pki.chain(&leaf), NOW).unwrap();
    assert_eq!(v.leaf_key.params, key.public_jwk().params);
    assert_eq!(v.san_uris, vec!["https://pid.example.it".to_owned()]);
    assert_eq!(v.san_dns, vec!["pid.example.it".to_owned()]);
    // With the root appended too.
    let mut with_root = pki.chain(&leaf);
    with_root.push(b64(&pki.root_der));
    pki.anchors().verify_chain(&with_root, NOW).unwrap();
}

#[test]
fn tampered_signature_is_refused() {
    let pki = Pki::new();
    let key = SoftwareSigner::generate().unwrap();
    let mut leaf = pki.leaf(&key, "https://pid.example.it", "pid.example.it", |_| {});
    let last = leaf.len() - 3;
    leaf[last] ^= 0x01;
    assert_eq!(pki.anchors().verify_chain(&pki.chain(&leaf), NOW), Err(X509Error::BadSignature { index: 0 }));
}

#[test]
fn expired_leaf_is_refused() {
    let pki = Pki::new();
    let key = SoftwareSigner::generate().unwrap();
    let leaf = pki.leaf(&key, "https://pid.example.it", "pid.example.it", |p| p.not_after = date_time_ymd(2026, 1, 1));
    assert_eq!(pki.anchors().verify_chain(&pki.chain(&leaf), NOW), Err(X509Error::NotValidNow { index: 0, now: NOW.secs() }));
}

#[test]
fn leaf_outside_the_name_constraints_is_refused() {
    let pki = Pki::new();
    let key = SoftwareSigner::generate().unwrap();
    let leaf = pki.leaf(&key, "https://evil.example.org", "evil.example.org", |_| {});
    assert_eq!(
        pki.anchors().verify_chain(&pki.chain(&leaf), NOW),
        Err(X509Error::NameConstraintViolation { name: "evil.example.org".into(), index: 1 })
    );
}

#[test]
fn untrusted_root_is_refused() {
    let pki = Pki::new();
    let other = Pki::new();
    let key = SoftwareSigner::generate().unwrap();
    let leaf = pki.leaf(&key, "https://pid.example.it", "pid.example.it", |_| {});
    assert_eq!(other.anchors().verify_chain(&pki.chain(&leaf), NOW), Err(X509Error::UntrustedRoot));
}

#[test]
fn non_ca_issuer_is_refused() {
    let pki = Pki::new();
    // An end-entity certificate used as an issuer.
    let fake_ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut fake_ca = params("not a CA");
    fake_ca.is_ca = IsCa::ExplicitNoCa;
    let fake_der = fake_ca.signed_by(&fake_ca_key, &Issuer::from_params(&pki.root_params, &pki.root_key)).unwrap().der().to_vec();
    let key = SoftwareSigner::generate().unwrap();
    let mut p = params("leaf");
    p.subject_alt_names = vec![SanType::DnsName("pid.example.it".try_into().unwrap())];
    let leaf = p
        .signed_by(&OurKey(key.public_jwk().params.ec_point().unwrap()), &Issuer::from_params(&fake_ca, &fake_ca_key))
        .unwrap()
        .der()
        .to_vec();
    assert_eq!(pki.anchors().verify_chain(&[b64(&leaf), b64(&fake_der)], NOW), Err(X509Error::NotCa { index: 1 }));
}

#[test]
fn path_length_is_enforced() {
    let pki = Pki::new();
    // The entity CA has pathlen 0: it may not issue another CA.
    let sub_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let sub = ca_params("sub CA", None);
    let sub_der = sub.signed_by(&sub_key, &Issuer::from_params(&pki.entity_params, &pki.entity_key)).unwrap().der().to_vec();
    let key = SoftwareSigner::generate().unwrap();
    let mut p = params("leaf");
    p.subject_alt_names = vec![SanType::DnsName("pid.example.it".try_into().unwrap())];
    let leaf =
        p.signed_by(&OurKey(key.public_jwk().params.ec_point().unwrap()), &Issuer::from_params(&sub, &sub_key)).unwrap().der().to_vec();
    assert_eq!(
        pki.anchors().verify_chain(&[b64(&leaf), b64(&sub_der), b64(&pki.entity_der)], NOW),
        Err(X509Error::PathLenExceeded { index: 2, max: 0 })
    );
}

#[test]
fn garbage_is_malformed() {
    let pki = Pki::new();
    assert_eq!(pki.anchors().verify_chain(&[], NOW), Err(X509Error::Empty));
    assert!(matches!(pki.anchors().verify_chain(&["***".into()], NOW), Err(X509Error::Malformed { index: 0, .. })));
    assert!(matches!(pki.anchors().verify_chain(&[b64(b"not a certificate")], NOW), Err(X509Error::Malformed { index: 0, .. })));
    assert_eq!(pki.anchors().verify_chain(&vec![b64(b"x"); MAX_CHAIN_LEN + 1], NOW), Err(X509Error::ChainTooLong));
}

#[test]
fn resolver_binds_the_leaf_to_iss() {
    let pki = Pki::new();
    let key = SoftwareSigner::generate().unwrap();
    let leaf = pki.leaf(&key, "https://pid.example.it", "pid.example.it", |_| {});
    let resolver = X5cResolver::new(pki.anchors());
    let header = JwsHeader::new(JwsAlg::Es256).with_x5c(pki.chain(&leaf));
    let jwk = resolver.resolve("https://pid.example.it", &header, NOW).unwrap();
    // The resolved key verifies what the protocol key signed.
    let jws = jws::sign(&header, b"payload", &key).unwrap();
    crate::jose::CompactJws::parse(&jws).unwrap().verify(&jwk).unwrap();
    assert!(matches!(
        resolver.resolve("https://other.example.it", &header, NOW),
        Err(KeyResolutionError::IssuerMismatch { .. })
    ));
    assert_eq!(resolver.resolve("https://pid.example.it", &JwsHeader::new(JwsAlg::Es256), NOW), Err(KeyResolutionError::MissingHeader("x5c")));
}

#[test]
fn name_constraint_matching_rules() {
    assert!(dns_within("pid.example.it", "pid.example.it"));
    assert!(dns_within("a.pid.example.it", "pid.example.it"));
    assert!(!dns_within("evilpid.example.it", "pid.example.it"));
    assert!(dns_within("a.example.it", ".example.it"));
    assert!(!dns_within("example.it", ".example.it"));
    assert!(uri_host_within("pid.example.it", "pid.example.it"));
    assert!(!uri_host_within("a.pid.example.it", "pid.example.it"));
    assert!(uri_host_within("a.pid.example.it", ".pid.example.it"));
    assert_eq!(uri_host("https://Pid.Example.it:8443/path?q"), Some("pid.example.it".into()));
    assert_eq!(uri_host("not a uri"), None);
}

#[test]
fn ecdsa_der_conversion_pads_and_refuses_garbage() {
    // r = 1, s = 0x80 (needs a leading zero in DER).
    let der = [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80];
    let raw = ecdsa_der_to_raw(&der, 32).unwrap();
    assert_eq!(raw[31], 1);
    assert_eq!(raw[63], 0x80);
    assert_eq!(ecdsa_der_to_raw(&[0x30, 0x01, 0x02], 32), None);
}

#[test]
fn sd_jwt_vc_with_an_untrusted_x5c_chain_is_refused() {
    use crate::sd_jwt::{SdJwtError, Verifier};
    use crate::vc::{SdJwtVcBuilder, Vct};
    let pki = Pki::new();
    let stranger = Pki::new();
    let key = SoftwareSigner::generate().unwrap();
    let holder = SoftwareSigner::generate().unwrap();
    let leaf = pki.leaf(&key, "https://pid.example.it", "pid.example.it", |_| {});
    let attrs = serde_json::json!({"given_name": "Mario"}).as_object().cloned().unwrap();
    let sd = SdJwtVcBuilder::new("https://pid.example.it", Vct::new(Vct::PID).unwrap(), attrs)
        .validity(NOW, NOW.plus(3600))
        .holder_key(&holder.public_jwk())
        .x5c(pki.chain(&leaf))
        .sign(&key)
        .unwrap();
    let trusted = X5cResolver::new(pki.anchors());
    Verifier::new(&trusted).verify(&sd.serialize(), NOW).unwrap();
    let untrusted = X5cResolver::new(stranger.anchors());
    assert_eq!(
        Verifier::new(&untrusted).verify(&sd.serialize(), NOW).unwrap_err(),
        SdJwtError::KeyResolution(KeyResolutionError::BadChain(format!("x5c: {}", X509Error::UntrustedRoot)))
    );
}

#[test]
fn a_root_written_as_pem_is_read_back_as_the_same_anchor() {
    let pki = Pki::new();
    let pem = certificate_pem(&pki.root_der);
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n") && pem.ends_with("-----END CERTIFICATE-----\n"));
    assert!(pem.lines().all(|l| l.len() <= 64), "64 characters a line");
    let key = SoftwareSigner::generate().unwrap();
    let leaf = pki.leaf(&key, "https://pid.example.it", "pid.example.it", |_| {});
    TrustAnchors::from_pem(&pem).unwrap().verify_chain(&pki.chain(&leaf), NOW).unwrap();
    // Two roots in one file.
    let other = Pki::new();
    let both = TrustAnchors::from_pem(&format!("{pem}{}", certificate_pem(&other.root_der))).unwrap();
    let leaf = other.leaf(&key, "https://pid.example.it", "pid.example.it", |_| {});
    both.verify_chain(&other.chain(&leaf), NOW).unwrap();
    // What an operator is shown of them: each root's subject.
    assert_eq!(both.subjects(), vec!["CN=Tessera Trust Anchor".to_owned(); 2]);
}

/// A verified chain is remembered by its bytes while every certificate is valid: the same
/// chain again gives the same result without its signatures checked again; before the latest
/// notBefore or from the earliest notAfter it is verified afresh (and refused); other bytes
/// (one certificate changed) are verified afresh; failures are not remembered.
#[test]
fn a_verified_chain_is_remembered_within_its_certificates_validity_only() {
    let pki = Pki::new();
    let anchors = pki.anchors();
    let key = SoftwareSigner::generate().unwrap();
    let leaf = pki.leaf(&key, "https://pid.example.it", "pid.example.it", |p| p.not_after = date_time_ymd(2028, 1, 1));
    let chain = pki.chain(&leaf);
    let first = anchors.verify_chain(&chain, NOW).unwrap();
    assert_eq!(anchors.remembered(), 1);
    assert_eq!(anchors.verify_chain(&chain, UnixTime(NOW.0 + 86_400)).unwrap(), first);
    assert_eq!(anchors.remembered(), 1, "the same bytes: the one entry answered");
    // Past the leaf's end (2028-01-01): verified afresh, and refused.
    let after = UnixTime(1_830_297_601);
    assert!(matches!(anchors.verify_chain(&chain, after), Err(X509Error::NotValidNow { index: 0, .. })));
    // Before every certificate began (2025-01-01): not from memory either.
    assert!(matches!(anchors.verify_chain(&chain, UnixTime(1_700_000_000)), Err(X509Error::NotValidNow { .. })));
    // A tampered leaf is other bytes: verified, refused, not remembered.
    let mut tampered = leaf.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(anchors.verify_chain(&pki.chain(&tampered), NOW).is_err());
    assert_eq!(anchors.remembered(), 1);
}
