//! # wallet-core
//!
//! The protocol core of Tessera, shared by the wallet on the phone and by every service:
//! JOSE ([`jose`]), SD-JWT and SD-JWT VC ([`sd_jwt`], [`vc`]), Token Status List ([`status`]),
//! X.509 `x5c` chains ([`x509`]), the wallet's encrypted credential store ([`store`]), wallet
//! attestations and key attestation ([`attestation`]: registration, WAA, WUA, client
//! attestation PoP), OpenID4VP presentations for both the verifier and the wallet
//! ([`oid4vp`]: request URLs and objects, DCQL, responses, verification, consent),
//! OpenID4VCI issuance for both the issuer and the wallet ([`oid4vci`]: offers, metadata, PAR,
//! DPoP, PKCE, tokens, key proofs with the WUA, credential, deferred and notification
//! messages), the
//! phone's key store seam ([`keystore`]) and the flows a phone app drives ([`wallet`]:
//! activation).
//!
//! Design:
//! * **No network I/O.** Functions take bytes and typed values and return typed values; the
//!   caller fetches. Time comes in as [`time::UnixTime`] arguments. The wallet flows reach the
//!   network only through the [`wallet::HttpClient`] the caller passes (a reqwest one exists
//!   behind the off-by-default `http` feature).
//! * **Parsed is not verified.** Parsers bound their input and reject malformed data with a
//!   `ParseError`-like enum; only a `verify` function produces the verified type, and a
//!   broken rule is a variant naming that rule.
//! * **Seams are traits** with real defaults: [`jose::Signer`] (keys may live in a phone's
//!   secure hardware), [`keystore::KeyStore`], [`wallet::HttpClient`],
//!   [`sd_jwt::IssuerKeyResolver`], [`attestation::KeyAttestationVerifier`],
//!   [`store::KeyProvider`].
//! * The default build is pure Rust (no OpenSSL, no C crypto) so that it compiles for iOS and
//!   Android; the `aws-lc` feature plugs a faster backend for servers behind the same API.
#![warn(missing_docs)]

pub mod attestation;
pub mod federation;
pub mod flight;
pub mod jose;
pub mod keystore;
pub mod oid4vci;
pub mod oid4vp;
pub mod sd_jwt;
pub mod status;
pub mod store;
pub mod time;
pub mod vc;
pub mod wallet;
pub mod x509;


/// Whether `u` is an `https` URL with a host, or `http` on loopback (a federation on one
/// machine, tests): the rule for every endpoint a wallet or a server is told to call.
pub(crate) fn is_https_or_loopback(u: &str) -> bool {
    let Ok(url) = url::Url::parse(u) else { return false };
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
        _ => false,
    }
}

/// Constant-time equality of secrets (tokens, nonces): no early exit on the first difference.
pub fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    /// Polls a future that never waits (in-memory fetchers answer at once).
    pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }
}
