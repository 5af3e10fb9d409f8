//! Certificate revocation by CRL (RFC 5280 §5, §6.3; IT-Wallet 1.4 §1.2: "any certificate
//! valid more than 24 h needs a CRL"). A federation CA certificate names the trust anchor's
//! `/crl`; an issuer's long-lived signing certificate names its own CA's `/crl`. A chain
//! that verified ([`super::TrustAnchors::verify_chain`]) lists, per certificate that names a
//! CRL, its serial and its issuer's name and key ([`RevocationPoint`]); [`CrlCache::check`]
//! fetches each CRL through the caller's [`CrlFetcher`], verifies it against that issuer and
//! looks the serial up.
//!
//! Choices, where RFC 5280 leaves them to the relying party:
//! * A CRL is fetched again after [`CrlCache::refresh_secs`] (the issuers serve it with
//!   `max-age=300`) and never used past its `nextUpdate`. When a fetch fails, the last CRL
//!   verified from that point still answers until its `nextUpdate` (it is authoritative
//!   until then); after that the certificate's status is unknown: an error, which a
//!   verifier shows as "cannot determine", never as valid.
//! * Complete CRLs only: a CRL with a critical extension we do not interpret (an issuing
//!   distribution point, a delta CRL indicator) or an entry with one (an indirect CRL's
//!   certificate issuer) is refused as unusable rather than read partially.
//! * Every revocation reason counts, `certificateHold` included: the certificate is not
//!   valid now.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::verify_signature;
use crate::flight::Flights;
use crate::jose::Jwk;
use crate::time::UnixTime;

/// At most this many bytes per CRL.
pub const MAX_CRL_LEN: usize = 1024 * 1024;
/// How long a verified CRL answers before it is fetched again, by default (seconds).
pub const DEFAULT_REFRESH_SECS: i64 = 300;
/// At most this many CRLs kept.
const MAX_CACHED: usize = 1024;
/// Clock skew allowed on `thisUpdate` (seconds).
const SKEW: i64 = 60;

/// One certificate of a verified chain that names a CRL.
#[derive(Debug, Clone, PartialEq)]
pub struct RevocationPoint {
    /// Its position in the chain (0: the leaf).
    pub index: usize,
    /// Its serial number (big-endian, no leading zero bytes).
    pub serial: Vec<u8>,
    /// The CRL Distribution Point URIs (`http`/`https`), in the certificate's order.
    pub crl_uris: Vec<String>,
    /// Its issuer's name (DER), which the CRL must carry.
    pub issuer_name: Vec<u8>,
    /// Its issuer's key, which must have signed the CRL.
    pub issuer_key: Jwk,
}

impl RevocationPoint {
    /// The point for `cert` (at `index`, issued by the holder of `issuer_key`), when it
    /// names a CRL by URI.
    pub(super) fn of(cert: &X509Certificate<'_>, index: usize, issuer_key: Jwk) -> Option<Self> {
        let mut crl_uris = Vec::new();
        for ext in cert.extensions() {
            if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
                for p in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                        crl_uris.extend(names.iter().filter_map(|n| match n {
                            GeneralName::URI(u) if u.starts_with("https://") || u.starts_with("http://") => Some((*u).to_owned()),
                            _ => None,
                        }));
                    }
                }
            }
        }
        (!crl_uris.is_empty()).then(|| Self {
            index,
            serial: trim_serial(cert.raw_serial()).to_vec(),
            crl_uris,
            issuer_name: cert.issuer().as_raw().to_vec(),
            issuer_key,
        })
    }

    /// The serial as lowercase hex (as operators and the issuers' registries write it).
    pub fn serial_hex(&self) -> String {
        hex(&self.serial)
    }
}

fn trim_serial(raw: &[u8]) -> &[u8] {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    raw.get(start..).unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a certificate's revocation status is "revoked" or cannot be established.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlError {
    /// The certificate is on its issuer's CRL.
    #[error("certificate {index} (serial {serial}) was revoked at {revoked_at}")]
    Revoked {
        /// Its position in the chain (0: the leaf).
        index: usize,
        /// Its serial, lowercase hex.
        serial: String,
        /// The revocation date (Unix seconds).
        revoked_at: i64,
    },
    /// No CRL could be fetched and none verified earlier is still within its `nextUpdate`.
    #[error("CRL {uri} unavailable: {detail}")]
    Unavailable {
        /// The distribution point.
        uri: String,
        /// Why.
        detail: String,
    },
    /// What was fetched is not a usable CRL for this certificate (undecodable, another
    /// issuer, a bad signature, outside its validity, a scope we do not interpret).
    #[error("CRL {uri} refused: {detail}")]
    Invalid {
        /// The distribution point.
        uri: String,
        /// What is wrong.
        detail: String,
    },
}

impl CrlError {
    /// Whether the certificate is known to be revoked (else its status is unknown).
    pub fn is_revoked(&self) -> bool {
        matches!(self, Self::Revoked { .. })
    }
}

/// A CRL whose signature, issuer and validity were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCrl {
    /// `thisUpdate` (Unix seconds).
    pub this_update: i64,
    /// `nextUpdate` (Unix seconds), when given.
    pub next_update: Option<i64>,
    revoked: HashMap<Vec<u8>, i64>,
}

/// The CRL extensions we interpret or that do not change its meaning.
const KNOWN_CRL_EXTENSIONS: [&str; 2] = [
    "2.5.29.20", // cRLNumber
    "2.5.29.35", // authorityKeyIdentifier
];

impl VerifiedCrl {
    /// Parses `der` and checks it as the CRL of the issuer named `issuer_name` holding
    /// `issuer_key`, at `now` (RFC 5280 §6.3.3 (b), (f), (g)); an error says what is wrong.
    pub fn verify(der: &[u8], issuer_name: &[u8], issuer_key: &Jwk, now: UnixTime) -> Result<Self, String> {
        if der.len() > MAX_CRL_LEN {
            return Err(format!("larger than {MAX_CRL_LEN} bytes"));
        }
        let (rest, crl) = CertificateRevocationList::from_der(der).map_err(|e| format!("not a DER CRL: {e}"))?;
        if !rest.is_empty() {
            return Err("trailing bytes after the CRL".into());
        }
        if crl.issuer().as_raw() != issuer_name {
            return Err(format!("issued by {}, not by the certificate's issuer", crl.issuer()));
        }
        verify_signature(crl.tbs_cert_list.as_ref(), &crl.signature_algorithm, crl.signature_value.data.as_ref(), issuer_key, 0)
            .map_err(|e| format!("signature: {e}"))?;
        for ext in crl.extensions() {
            let oid = ext.oid.to_id_string();
            if ext.critical && !KNOWN_CRL_EXTENSIONS.contains(&oid.as_str()) {
                return Err(format!("critical extension {oid} not supported (complete, direct CRLs only)"));
            }
        }
        let this_update = crl.last_update().timestamp();
        let next_update = crl.next_update().map(|t| t.timestamp());
        if this_update > now.secs().saturating_add(SKEW) {
            return Err(format!("thisUpdate {this_update} is in the future"));
        }
        if let Some(next) = next_update
            && next <= now.secs()
        {
            return Err(format!("nextUpdate {next} has passed"));
        }
        let mut revoked = HashMap::new();
        for entry in crl.iter_revoked_certificates() {
            if let Some(ext) = entry.extensions().iter().find(|e| e.critical) {
                return Err(format!("entry extension {} is critical (an indirect CRL?): not supported", ext.oid.to_id_string()));
            }
            revoked.insert(trim_serial(entry.raw_serial()).to_vec(), entry.revocation_date.timestamp());
        }
        Ok(Self { this_update, next_update, revoked })
    }

    /// When the certificate with `serial` (no leading zero bytes) was revoked, if it was.
    pub fn revoked_at(&self, serial: &[u8]) -> Option<i64> {
        self.revoked.get(trim_serial(serial)).copied()
    }

    /// How many certificates it lists.
    pub fn len(&self) -> usize {
        self.revoked.len()
    }

    /// Whether it lists none.
    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }

    fn usable_at(&self, now: UnixTime) -> bool {
        self.next_update.is_none_or(|n| now.secs() < n)
    }
}

/// The media type of a DER CRL (RFC 5280 §5, RFC 2585 §4.2): what a distribution point
/// serves and a fetcher asks for.
pub const CRL_MEDIA_TYPE: &str = "application/pkix-crl";

/// The future a [`CrlFetcher`] returns: the CRL's DER bytes.
pub type CrlFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + 'a>>;

/// Fetches a CRL (the caller's HTTP client; must not block a thread).
pub trait CrlFetcher: Send + Sync {
    /// `GET uri` (`Accept: application/pkix-crl`). An error is a transport failure or a
    /// non-2xx status, described.
    fn fetch_crl<'a>(&'a self, uri: &'a str) -> CrlFuture<'a>;
}

#[derive(Debug)]
struct Cached {
    crl: Arc<VerifiedCrl>,
    issuer_key: Jwk,
    issuer_name: Vec<u8>,
    fetched_at: i64,
}

/// Verified CRLs by distribution point, shared by concurrent verifications.
#[derive(Debug)]
pub struct CrlCache {
    crls: Mutex<HashMap<String, Cached>>,
    /// Fetches under way: concurrent checks needing one CRL share its fetch (each verifies
    /// the bytes against its own certificate's issuer).
    fetches: Flights<Result<Arc<[u8]>, String>>,
    /// How long a CRL answers before it is fetched again (seconds).
    pub refresh_secs: i64,
}

impl Default for CrlCache {
    fn default() -> Self {
        Self::new(DEFAULT_REFRESH_SECS)
    }
}

impl CrlCache {
    /// An empty cache that fetches a CRL again after `refresh_secs`.
    pub fn new(refresh_secs: i64) -> Self {
        Self { crls: Mutex::new(HashMap::new()), fetches: Flights::new(), refresh_secs }
    }

    /// How many CRLs are held.
    pub fn len(&self) -> usize {
        self.crls.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks every certificate of `points` (a verified chain's
    /// [`super::VerifiedChain::revocation`]) against its issuer's CRL: `Ok` when none is
    /// listed; else the first revoked one (a revocation known beats a status unknown
    /// elsewhere in the chain), else the first whose status cannot be established.
    pub async fn check(&self, points: &[RevocationPoint], fetcher: &dyn CrlFetcher, now: UnixTime) -> Result<(), CrlError> {
        let mut unknown = None;
        for p in points {
            match self.crl_for(p, fetcher, now).await {
                Ok(crl) => {
                    if let Some(revoked_at) = crl.revoked_at(&p.serial) {
                        return Err(CrlError::Revoked { index: p.index, serial: p.serial_hex(), revoked_at });
                    }
                }
                Err(e) => unknown = unknown.or(Some(e)),
            }
        }
        unknown.map_or(Ok(()), Err)
    }

    /// The cached entry for `uri` when it was verified for this issuer; with whether it is
    /// still fresh (else only usable as a fallback).
    fn cached(&self, uri: &str, p: &RevocationPoint, now: UnixTime) -> Option<(Arc<VerifiedCrl>, bool)> {
        let crls = self.crls.lock().unwrap_or_else(PoisonError::into_inner);
        let c = crls.get(uri)?;
        if c.issuer_key != p.issuer_key || c.issuer_name != p.issuer_name || !c.crl.usable_at(now) {
            return None;
        }
        Some((c.crl.clone(), now.secs() < c.fetched_at.saturating_add(self.refresh_secs)))
    }

    async fn crl_for(&self, p: &RevocationPoint, fetcher: &dyn CrlFetcher, now: UnixTime) -> Result<Arc<VerifiedCrl>, CrlError> {
        let mut fallback = None;
        for uri in &p.crl_uris {
            match self.cached(uri, p, now) {
                Some((crl, true)) => return Ok(crl),
                Some((crl, false)) => fallback = fallback.or(Some(crl)),
                None => {}
            }
        }
        let mut last_error = None;
        for uri in &p.crl_uris {
            let fetched = self.fetches.run(uri, || async { fetcher.fetch_crl(uri).await.map(Arc::from) }).await;
            let der = match fetched {
                Ok(der) => der,
                Err(detail) => {
                    last_error = Some(CrlError::Unavailable { uri: uri.clone(), detail });
                    continue;
                }
            };
            match VerifiedCrl::verify(&der, &p.issuer_name, &p.issuer_key, now) {
                Ok(crl) => {
                    let crl = Arc::new(crl);
                    self.store(uri, p, crl.clone(), now);
                    return Ok(crl);
                }
                Err(detail) => last_error = Some(CrlError::Invalid { uri: uri.clone(), detail }),
            }
        }
        // RFC 5280 §6.3.3: a CRL stays authoritative until its nextUpdate.
        match (fallback, last_error) {
            (Some(crl), _) => Ok(crl),
            (None, Some(e)) => Err(e),
            (None, None) => Err(CrlError::Unavailable { uri: String::new(), detail: "no distribution point".into() }),
        }
    }

    fn store(&self, uri: &str, p: &RevocationPoint, crl: Arc<VerifiedCrl>, now: UnixTime) {
        let mut crls = self.crls.lock().unwrap_or_else(PoisonError::into_inner);
        if crls.len() >= MAX_CACHED && !crls.contains_key(uri) {
            crls.retain(|_, c| c.crl.usable_at(now));
            if crls.len() >= MAX_CACHED {
                crls.clear();
            }
        }
        crls.insert(
            uri.to_owned(),
            Cached { crl, issuer_key: p.issuer_key.clone(), issuer_name: p.issuer_name.clone(), fetched_at: now.secs() },
        );
    }
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
