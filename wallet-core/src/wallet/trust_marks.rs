//! What the wallet checks a relying party's trust marks with, gathered over the HTTP seam:
//! the trust anchor's current Entity Configuration (`trust_mark_issuers`), the mark issuers'
//! keys, and — IT-Wallet 1.4 §1.1 "static plus dynamic", OID-FED §8.4 — each statically valid
//! mark's status as its issuer reports it at `federation_trust_mark_status_endpoint`.
//!
//! One gathering for every wallet front end (the flow in [`super::presentation`], the CLI, the
//! mobile bindings); [`crate::oid4vp::evaluate_rp`] then decides, without I/O. Only what
//! validated statically is sent to a status endpoint (nothing unverified leaves the phone),
//! and a status that cannot be had leaves the static validation standing: the citizen still
//! sees the mark as valid, as a verifier would, rather than a relying party made untrusted by
//! an endpoint that is down.

use crate::federation::chain::ValidatedChain;
use crate::federation::entity::{ENTITY_STATEMENT_MEDIA_TYPE, ParsedStatement};
use crate::federation::trust_mark::{self, STATUS_RESPONSE_MEDIA_TYPE, TrustMarkStatus};
use crate::federation::{EntityStatement, Fetcher as _, TrustAnchorConfig};
use crate::jose::JwkSet;
use crate::oid4vp::consent::TrustMarkInputs;
use crate::time::UnixTime;
use crate::wallet::http::{HttpClient, HttpMethod, HttpRequest, SeamFetcher};

/// The evidence for [`crate::oid4vp::evaluate_rp`], owned.
#[derive(Debug, Clone, Default)]
pub struct TrustMarkEvidence {
    /// The anchor of the RP's chain: its configuration, verified with its configured keys
    /// (`None` when it cannot be had: marks are then listed as not checked).
    pub anchor_configuration: Option<EntityStatement>,
    /// Mark issuers' keys by entity id: the configured anchors'.
    pub issuer_keys: Vec<(String, JwkSet)>,
    /// Statuses reported, by the mark's JWT (only marks that validated statically and whose
    /// issuer could be asked).
    pub statuses: Vec<(String, TrustMarkStatus)>,
}

impl TrustMarkEvidence {
    /// Gathers the evidence for the marks of `chain` (the RP's validated chain) through
    /// `http`: the anchor's configuration, then each statically valid mark's status.
    pub fn gather(http: &dyn HttpClient, anchors: &[TrustAnchorConfig], chain: Option<&ValidatedChain>, now: UnixTime) -> Self {
        let issuer_keys: Vec<(String, JwkSet)> = anchors.iter().map(|a| (a.id.as_str().to_owned(), a.jwks.clone())).collect();
        let Some(chain) = chain else { return Self { issuer_keys, ..Self::default() } };
        let Some(anchor) = anchors.iter().find(|a| chain.trust_anchor == a.id) else { return Self { issuer_keys, ..Self::default() } };
        let anchor_configuration = SeamFetcher(http)
            .get(&anchor.id.configuration_url(), ENTITY_STATEMENT_MEDIA_TYPE)
            .ok()
            .and_then(|jwt| ParsedStatement::parse(&jwt).ok())
            .filter(|ec| ec.verify_with(&anchor.jwks).is_ok())
            .map(|ec| ec.claims);
        let mut statuses = Vec::new();
        if let Some(configuration) = &anchor_configuration {
            let subject = &chain.subject.claims.sub;
            for tm in chain.subject.claims.trust_marks.iter().flatten() {
                // Marks the anchor issued: its keys verify them and its endpoint answers.
                if trust_mark::verify(&tm.trust_mark, subject, &anchor.jwks, configuration, now).is_err() {
                    continue;
                }
                if let Some(status) = ask_status(http, configuration, &anchor.jwks, &tm.trust_mark) {
                    statuses.push((tm.trust_mark.clone(), status));
                }
            }
        }
        Self { anchor_configuration, issuer_keys, statuses }
    }

    /// Borrowed, as [`crate::oid4vp::evaluate_rp`] takes it.
    pub fn inputs(&self) -> TrustMarkInputs<'_> {
        TrustMarkInputs { anchor_configuration: self.anchor_configuration.as_ref(), issuer_keys: &self.issuer_keys, statuses: &self.statuses }
    }
}

/// `POST trust_mark=<mark>` to the issuer's `federation_trust_mark_status_endpoint` (OID-FED
/// §8.4), the signed answer verified with its keys; `None` when it cannot be had.
fn ask_status(http: &dyn HttpClient, issuer: &EntityStatement, issuer_keys: &JwkSet, mark: &str) -> Option<TrustMarkStatus> {
    let endpoint = issuer.metadata.as_ref()?.get("federation_entity")?.get("federation_trust_mark_status_endpoint")?.as_str()?;
    let request = HttpRequest {
        method: HttpMethod::Post,
        url: endpoint.to_owned(),
        headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into()), ("Accept".into(), STATUS_RESPONSE_MEDIA_TYPE.into())],
        body: format!("trust_mark={}", crate::wallet::query::encode(mark)).into_bytes(),
    };
    let r = http.send(request).ok().filter(|r| r.status == 200)?;
    let jwt = String::from_utf8(r.body).ok()?;
    trust_mark::verify_status_response(&jwt, issuer_keys, mark).ok()
}
