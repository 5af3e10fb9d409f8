//! The CRL checks against the PKI of [`super::testing`], one broken thing per test.

use rcgen::{CrlDistributionPoint, CrlIssuingDistributionPoint, CrlScope, KeyPair, PKCS_ECDSA_P256_SHA256, date_time_ymd};

use super::testing::*;
use super::*;

fn check(cache: &CrlCache, pki: &Pki, crls: &Crls, now: UnixTime) -> Result<(), CrlError> {
    crate::test_support::block_on(cache.check(&pki.points(), crls, now))
}

/// The issuer's CRL replaced by `served`: why the check refuses it.
fn refused_crl(pki: &Pki, served: Vec<u8>) -> String {
    let crls = published(pki, &[], &[]);
    crls.serve(ISSUER_CRL, Ok(served));
    match check(&CrlCache::default(), pki, &crls, NOW) {
        Err(CrlError::Invalid { uri, detail }) if uri == ISSUER_CRL => detail,
        other => panic!("expected the issuer's CRL refused, got {other:?}"),
    }
}

#[test]
fn a_verified_chain_names_each_certificate_with_a_crl_and_its_issuer() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let points = pki.points();
    assert_eq!(points.len(), 2);
    assert_eq!((points[0].index, points[0].serial_hex().as_str(), points[0].crl_uris.as_slice()), (0, "1eaf01", [ISSUER_CRL.to_owned()].as_slice()));
    assert_eq!((points[1].index, points[1].serial_hex().as_str(), points[1].crl_uris.as_slice()), (1, "0ca001", [TA_CRL.to_owned()].as_slice()));
    // Each is checked against the key of the certificate above it.
    assert_ne!(points[0].issuer_key, points[1].issuer_key);
}

#[test]
fn a_protocol_certificate_without_a_distribution_point_needs_no_crl() {
    let pki = Pki::new(None);
    let points = pki.points();
    assert_eq!(points.iter().map(|p| p.index).collect::<Vec<_>>(), [1], "only the CA certificate names a CRL");
}

#[test]
fn certificates_on_no_crl_pass() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[&[0x99]], &[&[0x98]]);
    assert_eq!(check(&CrlCache::default(), &pki, &crls, NOW), Ok(()));
}

#[test]
fn a_signing_certificate_on_its_cas_crl_is_revoked() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[], &[&LEAF_SERIAL]);
    let e = check(&CrlCache::default(), &pki, &crls, NOW).unwrap_err();
    assert!(e.is_revoked());
    assert_eq!(e, CrlError::Revoked { index: 0, serial: "1eaf01".into(), revoked_at: 1_799_107_200 });
}

#[test]
fn a_ca_certificate_revoked_by_the_anchor_revokes_the_chain() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[&CA_SERIAL], &[]);
    assert!(matches!(check(&CrlCache::default(), &pki, &crls, NOW), Err(CrlError::Revoked { index: 1, .. })));
}

#[test]
fn a_revoked_ca_certificate_is_reported_though_the_leafs_crl_is_unreachable() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[&CA_SERIAL], &[]);
    crls.serve(ISSUER_CRL, Err("connection refused".into()));
    assert!(matches!(check(&CrlCache::default(), &pki, &crls, NOW), Err(CrlError::Revoked { index: 1, .. })));
    // With nothing revoked, the unknown status is what is reported.
    let crls = published(&pki, &[], &[]);
    crls.serve(ISSUER_CRL, Err("connection refused".into()));
    assert!(matches!(check(&CrlCache::default(), &pki, &crls, NOW), Err(CrlError::Unavailable { .. })));
}

#[test]
fn serials_compare_without_leading_zero_bytes() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[], &[&[0x00, 0x1e, 0xaf, 0x01]]);
    assert!(matches!(check(&CrlCache::default(), &pki, &crls, NOW), Err(CrlError::Revoked { index: 0, .. })));
}

#[test]
fn a_crl_signed_by_another_ca_is_refused() {
    let pki = Pki::new(Some(ISSUER_CRL));
    // The anchor's CRL served where the issuer's should be: another issuer name and key.
    let detail = refused_crl(&pki, signed(&pki.root, crl_params(&[])));
    assert!(detail.contains("not by the certificate's issuer"), "{detail}");
}

#[test]
fn a_crl_under_the_right_name_with_another_key_is_refused() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let impostor = (pki.issuer.0.clone(), KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap());
    let detail = refused_crl(&pki, signed(&impostor, crl_params(&[])));
    assert!(detail.contains("signature"), "{detail}");
}

#[test]
fn a_crl_past_its_next_update_is_refused() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[], &[]);
    let march = UnixTime(1_803_000_000); // 2027-02-19
    let e = check(&CrlCache::default(), &pki, &crls, march).unwrap_err();
    assert!(matches!(&e, CrlError::Invalid { detail, .. } if detail.contains("nextUpdate")), "{e}");
    assert!(!e.is_revoked());
}

#[test]
fn a_crl_from_the_future_is_refused() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let mut future = crl_params(&[]);
    future.this_update = date_time_ymd(2027, 1, 20);
    let detail = refused_crl(&pki, signed(&pki.issuer, future));
    assert!(detail.contains("thisUpdate"), "{detail}");
}

#[test]
fn a_partial_crl_is_not_read_as_complete() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let mut partial = crl_params(&[]);
    partial.issuing_distribution_point = Some(CrlIssuingDistributionPoint {
        distribution_point: CrlDistributionPoint { uris: vec![ISSUER_CRL.into()] },
        scope: Some(CrlScope::CaCertsOnly),
    });
    let detail = refused_crl(&pki, signed(&pki.issuer, partial));
    assert!(detail.contains("2.5.29.28"), "{detail}");
}

#[test]
fn what_is_not_a_crl_is_refused() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let detail = refused_crl(&pki, b"<html>not found</html>".to_vec());
    assert!(detail.contains("not a DER CRL"), "{detail}");
    let mut trailing = signed(&pki.issuer, crl_params(&[]));
    trailing.push(0);
    assert!(refused_crl(&pki, trailing).contains("trailing"));
}

#[test]
fn an_unreachable_crl_leaves_the_status_unknown() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[], &[]);
    crls.serve(ISSUER_CRL, Err("connection refused".into()));
    let e = check(&CrlCache::default(), &pki, &crls, NOW).unwrap_err();
    assert_eq!(e, CrlError::Unavailable { uri: ISSUER_CRL.into(), detail: "connection refused".into() });
}

#[test]
fn a_crl_is_fetched_again_after_the_refresh_and_a_stale_fetch_falls_back_until_next_update() {
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[], &[]);
    let cache = CrlCache::new(300);
    assert_eq!(check(&cache, &pki, &crls, NOW), Ok(()));
    assert_eq!((crls.fetches(), cache.len()), (2, 2));
    assert_eq!(check(&cache, &pki, &crls, UnixTime(NOW.0 + 299)), Ok(()));
    assert_eq!(crls.fetches(), 2, "both answered from the cache");

    // Revoked after the first fetch: seen at the next refresh.
    crls.serve(ISSUER_CRL, Ok(signed(&pki.issuer, crl_params(&[&LEAF_SERIAL]))));
    assert!(matches!(check(&cache, &pki, &crls, UnixTime(NOW.0 + 301)), Err(CrlError::Revoked { index: 0, .. })));

    // The distribution point down: the last CRL verified answers until its nextUpdate...
    let cache = CrlCache::new(300);
    let crls = published(&pki, &[], &[]);
    assert_eq!(check(&cache, &pki, &crls, NOW), Ok(()));
    crls.serve(ISSUER_CRL, Err("503".into()));
    assert_eq!(check(&cache, &pki, &crls, UnixTime(NOW.0 + 3_600)), Ok(()));
    // ...and not after it.
    let e = check(&cache, &pki, &crls, UnixTime(1_801_500_000)).unwrap_err();
    assert!(matches!(&e, CrlError::Unavailable { detail, .. } if detail == "503"), "{e}");
}

/// [`Crls`] whose answers wait until the gate opens (polled by hand: no runtime here).
struct Gated<'a> {
    crls: &'a Crls,
    open: Mutex<bool>,
}

impl CrlFetcher for Gated<'_> {
    fn fetch_crl<'a>(&'a self, uri: &'a str) -> CrlFuture<'a> {
        Box::pin(async move {
            std::future::poll_fn(|_| if *self.open.lock().unwrap() { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }).await;
            self.crls.fetch_crl(uri).await
        })
    }
}

#[test]
fn concurrent_checks_meeting_a_cold_cache_share_one_fetch_per_crl() {
    use std::task::{Context, Poll, Waker};
    let pki = Pki::new(Some(ISSUER_CRL));
    let crls = published(&pki, &[], &[&LEAF_SERIAL]);
    let gated = Gated { crls: &crls, open: Mutex::new(false) };
    let cache = CrlCache::default();
    let points = pki.points();
    let mut checks: Vec<_> = (0..8).map(|_| Box::pin(cache.check(&points, &gated, NOW))).collect();
    let mut cx = Context::from_waker(Waker::noop());
    for c in &mut checks {
        assert!(c.as_mut().poll(&mut cx).is_pending());
    }
    *gated.open.lock().unwrap() = true;
    // Polled until each is done (a follower wakes when its leader lands).
    let mut done = vec![None; checks.len()];
    while done.iter().any(Option::is_none) {
        for (c, d) in checks.iter_mut().zip(&mut done) {
            if d.is_none()
                && let Poll::Ready(r) = c.as_mut().poll(&mut cx)
            {
                *d = Some(r);
            }
        }
    }
    for r in done.into_iter().flatten() {
        assert!(matches!(r, Err(CrlError::Revoked { index: 0, .. })), "every check sees the revocation: {r:?}");
    }
    assert_eq!(crls.fetches(), 1, "the issuer's CRL once for eight checks (the revoked leaf ends each before the anchor's CRL)");
}
