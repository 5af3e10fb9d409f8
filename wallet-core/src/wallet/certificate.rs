//! The issuer certificate of a credential, on the wallet's side (IT-Wallet 1.4 §1.2, §4.1):
//! a credential's `x5c` chains its issuer's long-lived signing certificate to a federation CA
//! root, and the CRLs its certificates name say whether the issuer (or the federation) has
//! withdrawn it. Verifiers that check the chain refuse a credential whose certificate is
//! revoked or does not chain, so the wallet checks the same thing: when a credential arrives
//! ([`super::issuance::WalletIssuance::with_anchor_roots`]) and at each status refresh
//! ([`super::WalletStatusRefresh::with_anchor_roots`]). One check, [`check_x5c`], for both.
//!
//! The roots come from the configured trust anchors (`GET <anchor>/ca`), accepted only when
//! self-issued with one of the anchor's federation keys ([`TrustAnchors::anchor_root`]).

use std::sync::Arc;

use super::http::{HttpClient, HttpRequest};
use crate::federation::TrustAnchorConfig;
use crate::jose::Jwk;
use crate::time::UnixTime;
use crate::x509::TrustAnchors;
use crate::x509::crl::{CRL_MEDIA_TYPE, CrlCache, CrlFetcher, CrlFuture};

/// What a credential's `x5c` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateCheck {
    /// It chains to a root, its leaf is the signing key, and no CRL it names revokes it.
    Good,
    /// It does not chain to a configured root, or its leaf is not the key that signed: why.
    Untrusted(String),
    /// A certificate of the chain is on its CA's CRL: which, and when.
    Revoked(String),
    /// A CRL it names could not be had or read: why. Whether it is revoked is not known.
    Unknown(String),
}

/// Checks `x5c` (a credential header's) against `anchors`, then the CRLs its certificates
/// name through `crls` (each fetched once per cache). With `signer`, the leaf's key must be
/// that key (the issuer's federation key the credential was verified with: IT-Wallet 1.4
/// §4.1 has one key behind both).
pub(crate) fn check_x5c(anchors: &TrustAnchors, x5c: &[String], signer: Option<&Jwk>, crls: &CrlCache, fetcher: &dyn CrlFetcher, now: UnixTime) -> CertificateCheck {
    let chain = match anchors.verify_chain(x5c, now) {
        Ok(c) => c,
        Err(e) => return CertificateCheck::Untrusted(format!("x5c: {e}")),
    };
    if let Some(key) = signer
        && chain.leaf_key.thumbprint() != key.thumbprint()
    {
        return CertificateCheck::Untrusted("the x5c leaf key is not the key that signed the credential".into());
    }
    if chain.revocation.is_empty() {
        return CertificateCheck::Good;
    }
    match block_on(crls.check(&chain.revocation, fetcher, now)) {
        Ok(()) => CertificateCheck::Good,
        Err(e) if e.is_revoked() => CertificateCheck::Revoked(e.to_string()),
        Err(e) => CertificateCheck::Unknown(e.to_string()),
    }
}

/// The federation CA roots of `anchors`, each taken from the anchor (`GET <anchor>/ca`) and
/// kept only when it certifies one of the anchor's keys; `None` when no anchor serves one.
/// What an issuer's or a relying party's `x5c` must chain to (IT-Wallet 1.4 §1.2, §5.1), and
/// all an `x509_hash` relying party is trusted by.
pub fn anchor_roots(http: &dyn HttpClient, anchors: &[TrustAnchorConfig]) -> Option<TrustAnchors> {
    let mut roots = TrustAnchors::default();
    for a in anchors {
        let url = format!("{}/ca", a.id.as_str().trim_end_matches('/'));
        if let Ok(r) = http.send(HttpRequest::get(url))
            && r.status == 200
            && let Ok(root) = TrustAnchors::anchor_root(r.body, &a.jwks)
        {
            roots.extend(root);
        }
    }
    (!roots.is_empty()).then_some(roots)
}

/// CRLs fetched over the wallet's (blocking) HTTP seam.
pub(crate) struct SeamCrls<'a>(pub(crate) &'a dyn HttpClient);

impl CrlFetcher for SeamCrls<'_> {
    fn fetch_crl<'a>(&'a self, uri: &'a str) -> CrlFuture<'a> {
        let r = self.0.send(HttpRequest::get(uri).header("Accept", CRL_MEDIA_TYPE));
        Box::pin(std::future::ready(match r {
            Ok(r) if r.status == 200 => Ok(r.body),
            Ok(r) => Err(format!("HTTP {}", r.status)),
            Err(e) => Err(e.to_string()),
        }))
    }
}

/// Runs `f` on this thread. The wallet's flows are blocking: the CRL fetcher above answers
/// at once; a check waiting on another thread's fetch of the same CRL (single flight) parks
/// this thread until it is woken.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests;
