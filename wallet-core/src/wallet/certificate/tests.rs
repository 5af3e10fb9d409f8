//! [`check_x5c`] against the federation PKI of `x509::crl::testing`: root → issuer CA (on
//! the anchor's CRL) → signing certificate (on the issuer's CRL).

use super::*;
use crate::jose::{Signer as _, SoftwareSigner};
use crate::x509::crl::testing::{CA_SERIAL, ISSUER_CRL, LEAF_SERIAL, NOW, Pki, TA_CRL, published};

fn anchors(pki: &Pki) -> TrustAnchors {
    TrustAnchors::from_der(vec![pki.root_der.clone()]).unwrap()
}

fn leaf_key(pki: &Pki) -> Jwk {
    anchors(pki).verify_chain(&pki.x5c, NOW).unwrap().leaf_key
}

#[test]
fn a_chain_to_the_root_on_no_crl_is_good() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[], &[]);
    assert_eq!(check_x5c(&anchors(&pki), &pki.x5c, None, &CrlCache::default(), &crls, NOW), CertificateCheck::Good);
    assert_eq!(crls.fetches(), 2, "both CRLs");
    let cache = CrlCache::default();
    assert_eq!(check_x5c(&anchors(&pki), &pki.x5c, Some(&leaf_key(&pki)), &cache, &crls, NOW), CertificateCheck::Good, "the leaf is the signing key");
    assert_eq!(check_x5c(&anchors(&pki), &pki.x5c, None, &cache, &crls, NOW), CertificateCheck::Good);
    assert_eq!(crls.fetches(), 4, "each CRL once per cache");
}

#[test]
fn a_revoked_signing_certificate_is_reported() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[], &[&LEAF_SERIAL]);
    let r = check_x5c(&anchors(&pki), &pki.x5c, None, &CrlCache::default(), &crls, NOW);
    assert!(matches!(&r, CertificateCheck::Revoked(why) if why.contains("1eaf01")), "{r:?}");
}

#[test]
fn an_issuer_ca_revoked_by_the_anchor_is_reported() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[&CA_SERIAL], &[]);
    let r = check_x5c(&anchors(&pki), &pki.x5c, None, &CrlCache::default(), &crls, NOW);
    assert!(matches!(&r, CertificateCheck::Revoked(why) if why.contains("0ca001")), "{r:?}");
}

#[test]
fn a_crl_that_cannot_be_had_leaves_it_unknown() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[], &[]);
    crls.serve(TA_CRL, Err("HTTP 503".into()));
    let r = check_x5c(&anchors(&pki), &pki.x5c, None, &CrlCache::default(), &crls, NOW);
    assert!(matches!(&r, CertificateCheck::Unknown(why) if why.contains(TA_CRL)), "{r:?}");
}

#[test]
fn a_chain_to_another_root_is_untrusted() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let other = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[], &[]);
    let r = check_x5c(&anchors(&other), &pki.x5c, None, &CrlCache::default(), &crls, NOW);
    assert!(matches!(&r, CertificateCheck::Untrusted(why) if why.starts_with("x5c: ")), "{r:?}");
    assert_eq!(crls.fetches(), 0, "no CRL is fetched for a chain that is not ours");
}

#[test]
fn a_leaf_that_is_not_the_signing_key_is_untrusted() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[], &[]);
    let stranger = SoftwareSigner::generate().unwrap().public_jwk();
    let r = check_x5c(&anchors(&pki), &pki.x5c, Some(&stranger), &CrlCache::default(), &crls, NOW);
    assert_eq!(r, CertificateCheck::Untrusted("the x5c leaf key is not the key that signed the credential".into()));
}
