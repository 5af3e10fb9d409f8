//! The `x5c` a federation leaf puts on what it signs with a protocol key (an issuer's
//! credentials, a verifier's request objects, a wallet provider's attestations), one
//! implementation for all three (IT-Wallet 1.4 §1.2, §1.3: `x5c` REQUIRED in the SD-JWT VC,
//! request object, WAA and WUA headers).
//!
//! The chain is `[protocol certificate, our CA certificate, intermediates' CAs]`: the
//! protocol certificate is self-issued under our CA certificate (whose key is our Federation
//! Entity Key) and lives at most 24 h, so it needs no CRL (§1.2); the CA certificates are the
//! ones our superior pinned with our federation key in its Subordinate Statement about us
//! (`jwks[].x5c`), which reaches the federation root.

use std::sync::Mutex;

use wallet_core::federation::ValidatedChain;
use wallet_core::jose::{Jwk, Signer as _, SoftwareSigner};
use wallet_core::federation::EntityId;

use crate::ca::{CaError, protocol_certificate, x5c_entry};

/// How long after `now` a protocol certificate is issued for: with the minute it is
/// backdated (`notBefore = now - 60`), its validity period is exactly 24 h, the most
/// IT-Wallet 1.4 §1.2 allows a certificate without a CRL (test matrix WP_020).
pub const PROTOCOL_CERT_TTL: i64 = 86_400 - 60;

/// The CA certificates our superior pinned for `federation`'s key in our `chain` (the
/// statement after our own configuration), as given: our CA first, the root last. Why not,
/// when not: the message names what is missing.
pub fn pinned_ca_chain(chain: &ValidatedChain, federation: &SoftwareSigner) -> Result<Vec<String>, &'static str> {
    let superior = chain.statements.get(1).ok_or("no superior statement in our trust chain")?;
    let kid = federation.kid();
    let pinned = superior.claims.jwks.keys.iter().find(|k| k.kid == kid).ok_or("our superior does not pin our current federation key")?;
    pinned.x5c.clone().filter(|x| !x.is_empty()).ok_or("our superior issued no CA certificate for our key (x5c)")
}

/// `chain` without its self-issued root: an `x5c` leaves the trust anchor out (IT-Wallet 1.4
/// §1.3; wallet-core refuses it in a request object, `RootInChain`).
pub fn without_root(chain: Vec<String>) -> Vec<String> {
    chain.into_iter().filter(|c| !self_issued(c)).collect()
}

fn self_issued(b64_der: &str) -> bool {
    use base64::Engine as _;
    use x509_parser::prelude::FromDer as _;
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64_der.trim()) else { return false };
    x509_parser::certificate::X509Certificate::from_der(&der).is_ok_and(|(_, c)| c.subject().as_raw() == c.issuer().as_raw())
}

/// A protocol certificate: base64 DER (as in `x5c`) and its `notAfter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolCert {
    /// The certificate, base64 (standard, padded) DER.
    pub b64: String,
    /// Its end, Unix seconds.
    pub not_after: i64,
}

/// The current protocol certificate of one protocol key, re-issued (for the same key) when
/// the one in use would end within `cover` seconds: what is signed now must stay verifiable
/// that long (a WAA's lifetime, a presentation session's).
#[derive(Debug)]
pub struct ProtocolCerts {
    entity: EntityId,
    cover: i64,
    /// The certificate in use and the `kid` of the Federation Entity Key that issued it.
    slot: Mutex<Option<(Option<String>, ProtocolCert)>>,
}

impl ProtocolCerts {
    /// For `entity`, covering `cover` seconds (at most [`PROTOCOL_CERT_TTL`]).
    pub fn new(entity: EntityId, cover: i64) -> Self {
        Self { entity, cover: cover.clamp(0, PROTOCOL_CERT_TTL), slot: Mutex::new(None) }
    }

    /// The seconds covered.
    pub fn cover(&self) -> i64 {
        self.cover
    }

    /// The certificate for `protocol_key` at `now`, issued under our CA by `federation`: the
    /// one in use while it covers and was issued by that key (after a rollover of the
    /// Federation Entity Key a new one is issued, under the CA certificate of the new key).
    pub fn get(&self, federation: &SoftwareSigner, protocol_key: &Jwk, now: i64) -> Result<ProtocolCert, CaError> {
        let mut slot = self.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let needed = now.saturating_add(self.cover);
        let issuer = federation.kid();
        if let Some((_, c)) = slot.as_ref().filter(|(by, c)| *by == issuer && c.not_after >= needed) {
            return Ok(c.clone());
        }
        let not_after = now.checked_add(PROTOCOL_CERT_TTL).ok_or(CaError::Time)?;
        let der = protocol_certificate(&self.entity, federation, protocol_key, &self.entity.host(), now, PROTOCOL_CERT_TTL)?;
        let c = ProtocolCert { b64: x5c_entry(&der), not_after };
        *slot = Some((issuer, c.clone()));
        Ok(c)
    }

    /// Drops the certificate in use (after a key rollover).
    pub fn invalidate(&self) {
        *self.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_reused_while_it_covers_and_reissued_after() {
        let entity = EntityId::new("https://issuer.example.it").unwrap();
        let (fed, key) = (SoftwareSigner::generate().unwrap(), SoftwareSigner::generate().unwrap());
        let certs = ProtocolCerts::new(entity, 3_600);
        let now = 1_800_000_000;
        let first = certs.get(&fed, &key.public_jwk(), now).unwrap();
        assert_eq!(first.not_after, now + PROTOCOL_CERT_TTL);
        assert!(crate::ca::certifies(&base64_der(&first.b64), &key.public_jwk()).unwrap());
        assert_eq!(certs.get(&fed, &key.public_jwk(), now + PROTOCOL_CERT_TTL - 3_600).unwrap(), first, "still covers an hour");
        let second = certs.get(&fed, &key.public_jwk(), now + PROTOCOL_CERT_TTL - 3_599).unwrap();
        assert_ne!(second, first, "would end within the cover: re-issued");
        assert!(!self_issued(&first.b64), "issued under our CA, not self-signed");
        assert_eq!(without_root(vec![first.b64.clone(), "not base64".into()]), vec![first.b64, "not base64".to_owned()]);
    }

    fn base64_der(b64: &str) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
    }
}
