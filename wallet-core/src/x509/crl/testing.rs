//! Test fixtures: a federation PKI generated with rcgen, laid out as IT-Wallet 1.4 §1.2 and our trust
//! anchor do: root CA (CRL at the anchor's `/crl`) → issuer CA (pathlen 0, CRL DP at the
//! anchor) → long-lived signing certificate (CRL DP at the issuer's `/crl`); CRLs signed by
//! each CA.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, RevocationReason,
    RevokedCertParams, SanType, SerialNumber, date_time_ymd,
};

use super::{CrlFetcher, CrlFuture, RevocationPoint};
use crate::time::UnixTime;
use crate::x509::TrustAnchors;

pub(crate) const NOW: UnixTime = UnixTime(1_800_000_000); // 2027-01-15
pub(crate) const TA_CRL: &str = "https://ta.example.it/crl";
pub(crate) const ISSUER_CRL: &str = "https://pid.example.it/crl";
pub(crate) const CA_SERIAL: [u8; 3] = [0x0c, 0xa0, 0x01];
pub(crate) const LEAF_SERIAL: [u8; 3] = [0x1e, 0xaf, 0x01];

pub(crate) fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

pub(crate) fn params(cn: &str, serial: Option<&[u8]>, crl: Option<&str>) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = name(cn);
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2030, 1, 1);
    p.serial_number = serial.map(SerialNumber::from_slice);
    p.crl_distribution_points = crl.map(|u| CrlDistributionPoint { uris: vec![u.to_owned()] }).into_iter().collect();
    p
}

pub(crate) fn ca(mut p: CertificateParams, pathlen: u8) -> CertificateParams {
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(pathlen));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

pub(crate) struct Pki {
    pub(crate) root_der: Vec<u8>,
    pub(crate) root: (CertificateParams, KeyPair),
    pub(crate) issuer: (CertificateParams, KeyPair),
    pub(crate) x5c: Vec<String>,
}

impl Pki {
    /// The chain; `leaf_crl` is the signing certificate's distribution point (`None`: a
    /// short-lived protocol certificate, which names none).
    pub(crate) fn new(leaf_crl: Option<&str>) -> Self {
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let root_params = ca(params("Tessera Trust Anchor", None, None), 1);
        let root_der = root_params.self_signed(&root_key).unwrap().der().to_vec();
        let issuer_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let issuer_params = ca(params("PID Provider CA", Some(&CA_SERIAL), Some(TA_CRL)), 0);
        let issuer_der = issuer_params.signed_by(&issuer_key, &Issuer::from_params(&root_params, &root_key)).unwrap().der().to_vec();
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut leaf_params = params("PID Provider signing key", Some(&LEAF_SERIAL), leaf_crl);
        leaf_params.subject_alt_names = vec![SanType::URI("https://pid.example.it".try_into().unwrap())];
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let leaf_der = leaf_params.signed_by(&leaf_key, &Issuer::from_params(&issuer_params, &issuer_key)).unwrap().der().to_vec();
        Self { root_der, root: (root_params, root_key), issuer: (issuer_params, issuer_key), x5c: vec![b64(&leaf_der), b64(&issuer_der)] }
    }

    pub(crate) fn points(&self) -> Vec<RevocationPoint> {
        TrustAnchors::from_der(vec![self.root_der.clone()]).unwrap().verify_chain(&self.x5c, NOW).unwrap().revocation
    }
}

pub(crate) fn crl_params(revoked: &[&[u8]]) -> CertificateRevocationListParams {
    CertificateRevocationListParams {
        this_update: date_time_ymd(2027, 1, 10),
        next_update: date_time_ymd(2027, 2, 1),
        crl_number: SerialNumber::from(7u64),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from_slice(s),
                revocation_time: date_time_ymd(2027, 1, 5),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
}

pub(crate) fn signed((params, key): &(CertificateParams, KeyPair), crl: CertificateRevocationListParams) -> Vec<u8> {
    crl.signed_by(&Issuer::from_params(params, key)).unwrap().der().to_vec()
}

/// CRLs by URI, counting fetches.
#[derive(Default)]
pub(crate) struct Crls {
    served: Mutex<HashMap<String, Result<Vec<u8>, String>>>,
    fetches: Mutex<usize>,
}

impl Crls {
    pub(crate) fn serve(&self, uri: &str, r: Result<Vec<u8>, String>) {
        self.served.lock().unwrap().insert(uri.to_owned(), r);
    }
    pub(crate) fn fetches(&self) -> usize {
        *self.fetches.lock().unwrap()
    }
}

impl CrlFetcher for Crls {
    fn fetch_crl<'a>(&'a self, uri: &'a str) -> CrlFuture<'a> {
        *self.fetches.lock().unwrap() += 1;
        let r = self.served.lock().unwrap().get(uri).cloned().unwrap_or_else(|| Err("404".into()));
        Box::pin(async move { r })
    }
}

/// Both CAs publish a CRL revoking `ta` (at the anchor) and `issuer` (at the issuer).
pub(crate) fn published(pki: &Pki, ta: &[&[u8]], issuer: &[&[u8]]) -> Crls {
    let crls = Crls::default();
    crls.serve(TA_CRL, Ok(signed(&pki.root, crl_params(ta))));
    crls.serve(ISSUER_CRL, Ok(signed(&pki.issuer, crl_params(issuer))));
    crls
}

