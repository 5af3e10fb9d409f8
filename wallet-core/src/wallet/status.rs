//! The wallet's status refresh (IT-Wallet 1.4 §6, Token Status List draft §8; issue 12 item 3):
//! for every stored credential that carries `status.status_list`, fetch its issuer's status
//! list through the [`HttpClient`] seam, verify it with the issuer's key from its federation
//! trust chain, read the credential's entry, and keep what was found in the credential's
//! metadata (`status_value`, `status_checked_at`), so that the app shows a revoked or
//! suspended credential as such before it is presented.
//!
//! One list is fetched once per refresh however many credentials point into it; one issuer's
//! chain is resolved once. A credential whose status cannot be established keeps its last
//! known value and is reported with why ([`StatusCheck::Unknown`]): nothing is overwritten
//! with a guess.
//!
//! With the federation CA roots ([`WalletStatusRefresh::with_x509_anchors`]) the credential's
//! `x5c` is checked too (IT-Wallet 1.4 §1.2): its chain to a root, then the CRLs its
//! certificates name (the issuer's long-lived signing certificate at the issuer's `/crl`, its
//! CA certificate at the superior's), each CRL fetched once per refresh. A certificate
//! revoked (a withdrawn or compromised issuer key) reports the credential
//! [`StatusCheck::IssuerCertificateRevoked`]: verifiers checking the CRL refuse it, whatever
//! its status list says. A CRL that cannot be had adds nothing: the status list's answer
//! stands (the wallet warns on what it knows, not on an outage).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::WalletError;
use super::certificate::{CertificateCheck, SeamCrls, check_x5c};
use super::http::{HttpClient, HttpRequest, SeamFetcher};
use crate::federation::{ChainCollector, EntityId, TrustAnchorConfig};
use crate::jose::jwk::JwkSet;
use crate::sd_jwt::SdJwt;
use crate::status::{CredentialStatus, DEFAULT_MAX_DECOMPRESSED, MEDIA_TYPE, StatusListToken, StatusReference, StatusValue, VerifiedStatusList, encoding};
use crate::store::{CredentialId, CredentialStore, NewCredential};
use crate::time::{Clock, SystemClock, UnixTime};
use crate::x509::TrustAnchors;
use crate::x509::crl::CrlCache;

/// The metadata key holding the last status read (`VALID`, `INVALID`, `SUSPENDED`, …).
pub const STATUS_VALUE_KEY: &str = "status_value";
/// The metadata key holding when it was read (Unix seconds).
pub const STATUS_CHECKED_AT_KEY: &str = "status_checked_at";
/// Clock skew tolerated on the status list token.
const SKEW: i64 = 120;

/// What a refresh found for one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusCheck {
    /// The issuer's list says this (`VALID`, `INVALID` = revoked, `SUSPENDED`, `UPDATE`, …).
    Value(StatusValue),
    /// The credential has no status reference: nothing to check.
    NoStatus,
    /// Not established now (list unreachable, not verifiable, issuer not trusted): why.
    Unknown(String),
    /// A certificate of the credential's `x5c` is on its CA's CRL (the issuer withdrew the
    /// key that signed it): which, and when.
    IssuerCertificateRevoked(String),
}

/// The value stored as [`STATUS_VALUE_KEY`] for [`StatusCheck::IssuerCertificateRevoked`].
pub const ISSUER_CERTIFICATE_REVOKED: &str = "ISSUER_CERTIFICATE_REVOKED";

/// One credential's line of a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The credential.
    pub id: CredentialId,
    /// Its type.
    pub vct: String,
    /// Its issuer.
    pub issuer: String,
    /// What was found.
    pub check: StatusCheck,
    /// Whether the value differs from the one stored before.
    pub changed: bool,
    /// UPDATE/ATTRIBUTE_UPDATE with re-issuance on ([`WalletStatusRefresh::with_reissuance`]):
    /// what the re-issuance gave.
    pub reissued: Option<Reissued>,
}

/// A re-issuance's outcome for one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reissued {
    /// Re-issued: the new credentials, stored; the old one removed.
    Done(Vec<CredentialId>),
    /// Removed as part of another credential's re-issuance (the same grant's batch).
    WithBatch,
    /// The issuer deferred it (the registry record not ready yet).
    Deferred,
    /// Not stored: it changes the citizen's attributes and the citizen did not agree (or
    /// nobody was asked: [`super::issuance::WalletIssuance::with_update_consent`]). The old
    /// credential is kept; what would have changed (IT-Wallet 1.4 §6, WP_074).
    Declined(Box<super::update::AttributeUpdate>),
    /// Not re-issued: why (the old credential is kept).
    Failed(String),
}

/// `GET uri` with `Accept: application/statuslist+jwt` and `Accept-Encoding: gzip` (Token
/// Status List §8.1; a phone's HTTP stack that decodes gzip itself and drops the header is
/// read alike), verified for `reference` with the issuer's federation `keys`: the one fetch
/// the status refresh and the issuance's check before storing share.
pub(crate) fn fetch_status_list(http: &dyn HttpClient, issuer: &str, keys: &JwkSet, reference: &StatusReference, now: UnixTime) -> Result<VerifiedStatusList, String> {
    let request = HttpRequest::get(reference.uri.clone()).header("Accept", MEDIA_TYPE).header("Accept-Encoding", encoding::ACCEPT_ENCODING);
    let r = http.send(request).map_err(|e| e.to_string())?;
    if r.status != 200 {
        return Err(format!("{} answered HTTP {}", reference.uri, r.status));
    }
    let content_type = r.header("content-type").map(str::to_owned);
    let coding = r.header("content-encoding").map(str::to_owned);
    let body = encoding::decode_body(coding.as_deref(), r.body, DEFAULT_MAX_DECOMPRESSED).map_err(|e| e.to_string())?;
    let resolver = super::issuance::FederationKeys { issuer, keys };
    StatusListToken::verify_response(content_type.as_deref(), &body, reference, &resolver, now, SKEW, DEFAULT_MAX_DECOMPRESSED).map_err(|e| e.to_string())
}

/// Whether a status value asks the wallet to re-issue (IT-Wallet 1.4 §6): UPDATE (0x03),
/// ATTRIBUTE_UPDATE (0x0B in 1.3.3's table and 1.4.0, 0x0F in 1.4.x after Feb 2026).
pub fn asks_reissuance(v: StatusValue) -> bool {
    matches!(v.to_u8(), 0x03 | crate::status::ATTRIBUTE_UPDATE_1_4_0 | 0x0F)
}

/// The refresh, over the phone's HTTP client and the wallet's store.
pub struct WalletStatusRefresh {
    http: Arc<dyn HttpClient>,
    store: Arc<CredentialStore>,
    anchors: Vec<TrustAnchorConfig>,
    clock: Arc<dyn Clock>,
    reissuance: Option<Arc<super::issuance::WalletIssuance>>,
    x509_anchors: Option<TrustAnchors>,
}

impl std::fmt::Debug for WalletStatusRefresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletStatusRefresh").field("anchors", &self.anchors.len()).finish_non_exhaustive()
    }
}

fn store_error(e: crate::store::StoreError) -> WalletError {
    WalletError::State(format!("credential store: {e}"))
}

/// The status reference of a stored SD-JWT VC, read from its issuer JWT (already verified
/// when it was stored).
pub fn status_reference(credential: &str) -> Option<StatusReference> {
    let payload = SdJwt::parse(credential).ok()?.unverified_payload().ok()?;
    let status: CredentialStatus = serde_json::from_value(payload.get("status")?.clone()).ok()?;
    Some(status.status_list)
}

impl WalletStatusRefresh {
    /// A refresh trusting `anchors`, on the system clock.
    pub fn new(http: Arc<dyn HttpClient>, store: Arc<CredentialStore>, anchors: Vec<TrustAnchorConfig>) -> Self {
        Self { http, store, anchors, clock: Arc::new(SystemClock), reissuance: None, x509_anchors: None }
    }

    /// Re-issues, through `issuance` (the same store), the credentials the issuer marked
    /// UPDATE or ATTRIBUTE_UPDATE and whose refresh grant the wallet kept.
    #[must_use]
    pub fn with_reissuance(mut self, issuance: Arc<super::issuance::WalletIssuance>) -> Self {
        self.reissuance = Some(issuance);
        self
    }

    /// Another clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks each credential's `x5c` against these federation CA roots and the CRLs its
    /// certificates name (see the module documentation).
    #[must_use]
    pub fn with_x509_anchors(mut self, anchors: TrustAnchors) -> Self {
        self.x509_anchors = Some(anchors);
        self
    }

    /// [`Self::with_x509_anchors`] with each anchor's own root, taken from it (`GET
    /// <anchor>/ca`) and accepted only when it certifies one of the anchor's keys
    /// ([`TrustAnchors::anchor_root`]); an anchor that serves none adds nothing.
    #[must_use]
    pub fn with_anchor_roots(self) -> Self {
        match super::certificate::anchor_roots(self.http.as_ref(), &self.anchors) {
            Some(roots) => self.with_x509_anchors(roots),
            None => self,
        }
    }


    /// Whether a certificate of `credential`'s `x5c` is revoked: `Some(why)` when its CRL
    /// says so; `None` without roots, without `x5c`, or when it cannot be told.
    fn revoked_certificate(&self, credential: &str, crls: &CrlCache, now: UnixTime) -> Option<String> {
        let anchors = self.x509_anchors.as_ref()?;
        let jws = crate::jose::CompactJws::parse(credential.split('~').next()?).ok()?;
        match check_x5c(anchors, jws.header().x5c.as_deref()?, None, crls, &SeamCrls(self.http.as_ref()), now) {
            CertificateCheck::Revoked(why) => Some(why),
            CertificateCheck::Good | CertificateCheck::Untrusted(_) | CertificateCheck::Unknown(_) => None,
        }
    }

    /// The issuer's keys from its trust chain.
    fn issuer_keys(&self, issuer: &str, now: UnixTime) -> Result<JwkSet, String> {
        let id = EntityId::new(issuer).map_err(|e| e.to_string())?;
        let chain = ChainCollector::new(&SeamFetcher(self.http.as_ref()), &self.anchors).resolve(&id, now).map_err(|e| format!("the issuer is not trusted: {e}"))?;
        super::issuance::chain_issuer_keys(&chain).ok_or_else(|| "the issuer's federation metadata has no openid_credential_issuer.jwks".to_owned())
    }

    fn fetch_list(&self, issuer: &str, keys: &JwkSet, reference: &StatusReference, now: UnixTime) -> Result<VerifiedStatusList, String> {
        fetch_status_list(self.http.as_ref(), issuer, keys, reference, now)
    }

    /// Checks every stored credential; stores what changed; one line per credential.
    pub fn refresh(&self) -> Result<Vec<StatusReport>, WalletError> {
        let now = self.clock.now();
        let mut keys: BTreeMap<String, Result<JwkSet, String>> = BTreeMap::new();
        let mut lists: BTreeMap<String, Result<VerifiedStatusList, String>> = BTreeMap::new();
        // Each CRL fetched once in this refresh (and not kept beyond it).
        let crls = CrlCache::new(i64::MAX);
        let mut out = Vec::new();
        for summary in self.store.list().map_err(store_error)? {
            let stored = self.store.get(&summary.id).map_err(store_error)?;
            let before = stored.metadata.get(STATUS_VALUE_KEY).and_then(Value::as_str).map(str::to_owned);
            let check = match status_reference(&stored.credential) {
                None => StatusCheck::NoStatus,
                Some(reference) => {
                    let issuer_keys = keys.entry(summary.issuer.clone()).or_insert_with(|| self.issuer_keys(&summary.issuer, now));
                    match issuer_keys {
                        Err(why) => StatusCheck::Unknown(why.clone()),
                        Ok(k) => {
                            let list = lists.entry(reference.uri.clone()).or_insert_with(|| self.fetch_list(&summary.issuer, k, &reference, now));
                            match list.as_ref().map(|l| l.lookup(reference.idx)) {
                                Ok(Ok(v)) => StatusCheck::Value(v),
                                Ok(Err(e)) => StatusCheck::Unknown(e.to_string()),
                                Err(why) => StatusCheck::Unknown(why.clone()),
                            }
                        }
                    }
                }
            };
            let check = match self.revoked_certificate(&stored.credential, &crls, now) {
                Some(why) => StatusCheck::IssuerCertificateRevoked(why),
                None => check,
            };
            let mut changed = false;
            let known = match &check {
                StatusCheck::Value(v) => Some(v.name()),
                StatusCheck::IssuerCertificateRevoked(_) => Some(ISSUER_CERTIFICATE_REVOKED),
                StatusCheck::NoStatus | StatusCheck::Unknown(_) => None,
            };
            if let Some(v) = known {
                changed = before.as_deref() != Some(v);
                let mut metadata = stored.metadata.clone();
                if let Some(m) = metadata.as_object_mut() {
                    m.insert(STATUS_VALUE_KEY.into(), Value::from(v));
                    m.insert(STATUS_CHECKED_AT_KEY.into(), Value::from(now.secs()));
                }
                let s = &stored.summary;
                let replacement = NewCredential {
                    format: s.format.clone(),
                    vct: s.vct.clone(),
                    issuer: s.issuer.clone(),
                    issued_at: s.issued_at,
                    expires_at: s.expires_at,
                    credential: stored.credential.clone(),
                    metadata,
                };
                self.store.replace(&summary.id, &replacement, now).map_err(store_error)?;
            }
            out.push(StatusReport { id: summary.id, vct: summary.vct, issuer: summary.issuer, check, changed, reissued: None });
        }
        if let Some(issuance) = &self.reissuance {
            for report in &mut out {
                let StatusCheck::Value(v) = report.check else { continue };
                if !asks_reissuance(v) {
                    continue;
                }
                // Gone already: removed with an earlier credential of its batch.
                if matches!(self.store.get(&report.id), Err(crate::store::StoreError::NotFound(_))) {
                    report.reissued = Some(Reissued::WithBatch);
                    continue;
                }
                report.reissued = Some(match issuance.can_reissue(&report.id).and_then(|can| if can { issuance.reissue(&report.id).map(Some) } else { Ok(None) }) {
                    Ok(Some(super::issuance::IssuanceOutcome::Issued(ids))) => Reissued::Done(ids),
                    Ok(Some(super::issuance::IssuanceOutcome::Deferred(_))) => Reissued::Deferred,
                    // A re-issuance asks for its one configuration: not reached.
                    Ok(Some(several @ super::issuance::IssuanceOutcome::Several(_))) => Reissued::Done(several.issued()),
                    Ok(None) => Reissued::Failed("no refresh token was kept for it".into()),
                    Err(super::issuance::IssuanceError::UpdateDeclined(update)) => Reissued::Declined(update),
                    Err(e) => Reissued::Failed(e.to_string()),
                });
            }
        }
        Ok(out)
    }
}
