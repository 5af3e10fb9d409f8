//! Evaluating the relying party for the citizen (IT-Wallet 1.4 §5.1 "Wallet checks": trust
//! chain, trust marks and policy, WP_087): who asks, with what name and logo, trusted how,
//! with which trust marks, and what to warn about.

use serde_json::Value;

use super::authorization::{self, AuthorizationPolicy};
use crate::federation::chain::ValidatedChain;
use crate::federation::trust_mark::{self, TrustMarkStatus};
use crate::federation::EntityStatement;
use crate::jose::JwkSet;
use crate::oid4vp::request_object::{RpTrust, VerifiedRequest};
use crate::time::UnixTime;

/// One of an entity's trust marks (a relying party's, a credential issuer's), as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustMarkView {
    /// Its type.
    pub trust_mark_type: String,
    /// The result.
    pub check: TrustMarkCheck,
}

/// The result of checking a trust mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustMarkCheck {
    /// Valid: signed by an issuer the anchor lists for this type, about this entity, unexpired.
    Valid {
        /// The trust mark issuer.
        issuer: String,
        /// Its expiry.
        exp: Option<i64>,
    },
    /// Refused, with the reason.
    Invalid(String),
    /// Not checked: the wallet has no keys for its issuer or no anchor configuration.
    NotChecked,
}

/// Something the citizen should know before consenting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustWarning {
    /// The RP shows no valid trust mark.
    NoValidTrustMark,
    /// The RP asks for identifying attributes (`tax_id_code`, `personal_administrative_number`)
    /// and publishes no `erasure_endpoint` (IT-Wallet `relying-party-metadata.rst`: REQUIRED then).
    NoErasureEndpoint,
    /// Trusted by an X.509 certificate only (`x509_hash`): no federation metadata, name and
    /// logo are the RP's own claims.
    CertificateOnly,
}

/// Who asks.
#[derive(Debug, Clone, PartialEq)]
pub struct RpEvaluation {
    /// The `client_id`.
    pub client_id: String,
    /// The federation entity id.
    pub entity_id: Option<String>,
    /// `client_name` (federation metadata, or `client_metadata` for `x509_hash`).
    pub name: Option<String>,
    /// `logo_uri`.
    pub logo_uri: Option<String>,
    /// The organization behind it (`federation_entity.organization_name`).
    pub organization_name: Option<String>,
    /// Why it asks, when it says (`purpose` in its metadata or the query's credential sets).
    pub purpose: Option<String>,
    /// How it was trusted (it was: an untrusted RP never gets this far).
    pub trust: RpTrust,
    /// Its trust marks.
    pub trust_marks: Vec<TrustMarkView>,
    /// Warnings.
    pub warnings: Vec<TrustWarning>,
    /// `erasure_endpoint`.
    pub erasure_endpoint: Option<String>,
    /// What its valid trust marks authorize it to ask for (authorization-policy marks,
    /// [`authorization`]): shown to the citizen beside what it asks; empty when none says.
    pub authorization: Vec<AuthorizationPolicy>,
    /// Why the wallet must not answer it (IT-Wallet 1.4 §5.1 "Wallet rejects: an RP not
    /// authorised by policy or Trust Marks", WP_087), `None` when it may: see
    /// [`evaluate_rp`].
    pub refusal: Option<String>,
}

/// What the wallet has to check trust marks with.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrustMarkInputs<'a> {
    /// The trust anchor's Entity Configuration (`trust_mark_issuers`, `trust_mark_owners`).
    pub anchor_configuration: Option<&'a EntityStatement>,
    /// Trust mark issuers' Federation Entity Keys, by entity id (from their own chains).
    pub issuer_keys: &'a [(String, JwkSet)],
    /// Statuses the marks' issuers reported, by the mark's JWT (IT-Wallet 1.4 §1.1: static
    /// plus dynamic validation; OID-FED §8.4). A statically valid mark reported anything but
    /// `active` is refused; one without a report keeps its static validation.
    pub statuses: &'a [(String, TrustMarkStatus)],
}

const IDENTIFYING: [&str; 2] = ["tax_id_code", "personal_administrative_number"];

fn purpose_of(req: &VerifiedRequest) -> Option<String> {
    let from_md = req.metadata.extra.get("purpose").and_then(Value::as_str).map(str::to_owned);
    from_md.or_else(|| {
        req.dcql_query
            .credential_sets
            .iter()
            .flatten()
            .find_map(|s| s.purpose.as_ref().and_then(Value::as_str).map(str::to_owned))
    })
}

/// Each trust mark in the subject's Entity Configuration (`chain.subject`), checked with
/// `marks` (IT-Wallet 1.4 §1.1: static, under the anchor's current `trust_mark_issuers`, plus
/// dynamic, the status its issuer reported), and the authorization policies the valid ones
/// carry. What the wallet shows of a relying party ([`evaluate_rp`]) and of a credential
/// issuer (the issuance consent).
pub fn verify_marks(chain: &ValidatedChain, marks: &TrustMarkInputs<'_>, now: UnixTime) -> (Vec<TrustMarkView>, Vec<AuthorizationPolicy>) {
    let mut views = Vec::new();
    let mut policies = Vec::new();
    let subject = &chain.subject.claims.sub;
    for tm in chain.subject.claims.trust_marks.iter().flatten() {
        let check = match marks.anchor_configuration {
            None => TrustMarkCheck::NotChecked,
            Some(anchor) => {
                let issuer = trust_mark::unverified_issuer(&tm.trust_mark);
                // Its issuer's keys: gathered (an anchor's, an accredited issuer's from its own
                // chain), else those a superior in the subject's chain pins for itself.
                let keys = issuer.as_deref().and_then(|i| {
                    marks.issuer_keys.iter().find(|(id, _)| id == i).map(|(_, k)| k).or_else(|| trust_mark::pinned_by_superior(chain, i))
                });
                match keys {
                    // An issuer the anchor does not accredit for the type: refused, whatever
                    // its keys (OID-FED §7.3).
                    None => match issuer {
                        Some(i) if !trust_mark::accredited(anchor, &tm.trust_mark_type, &i) => {
                            TrustMarkCheck::Invalid(format!("{i} is not an issuer of {} for the trust anchor", tm.trust_mark_type))
                        }
                        _ => TrustMarkCheck::NotChecked,
                    },
                    Some(keys) => match trust_mark::verify(&tm.trust_mark, subject, keys, anchor, now) {
                        Ok(c) if c.trust_mark_type == tm.trust_mark_type => match marks.statuses.iter().find(|(m, _)| *m == tm.trust_mark) {
                            Some((_, status)) if *status != TrustMarkStatus::Active => {
                                TrustMarkCheck::Invalid(format!("its issuer {} reports it {} (trust mark status)", c.iss, status.as_str()))
                            }
                            _ => {
                                policies.extend(AuthorizationPolicy::of(&c));
                                TrustMarkCheck::Valid { issuer: c.iss.to_string(), exp: c.exp }
                            }
                        },
                        Ok(_) => TrustMarkCheck::Invalid("the mark's type is not the one listed".into()),
                        Err(e) => TrustMarkCheck::Invalid(e.to_string()),
                    },
                }
            }
        };
        views.push(TrustMarkView { trust_mark_type: tm.trust_mark_type.clone(), check });
    }
    (views, policies)
}

/// Evaluates the RP of a verified request. `chain` is the RP's trust chain (for its trust
/// marks and organization name).
///
/// WP_087: a federation RP is refused ([`RpEvaluation::refusal`]) when its anchor's
/// configuration could be read, that federation accredits trust mark issuers
/// (`trust_mark_issuers`), and none of the RP's marks is valid: it shows none, or each was
/// forged, expired, of an unaccredited issuer, reported revoked by its issuer, or could not be
/// verified. Where the anchor's configuration cannot be had, or the federation uses no trust
/// marks, the marks are listed and [`TrustWarning::NoValidTrustMark`] warns instead (the
/// wallet cannot tell an RP without permission from a federation without marks). An RP whose
/// valid marks carry an authorization policy (`authorized_credential_types`,
/// `authorized_claims`) is refused a request outside it ([`authorization`]).
pub fn evaluate_rp(req: &VerifiedRequest, chain: Option<&ValidatedChain>, marks: &TrustMarkInputs<'_>, now: UnixTime) -> RpEvaluation {
    let mut warnings = Vec::new();
    let (trust_marks, policies) = chain.map(|c| verify_marks(c, marks, now)).unwrap_or_default();
    if matches!(req.trust, RpTrust::X509 { .. }) {
        warnings.push(TrustWarning::CertificateOnly);
    } else if !trust_marks.iter().any(|t| matches!(t.check, TrustMarkCheck::Valid { .. })) {
        warnings.push(TrustWarning::NoValidTrustMark);
    }
    let asks_identifying = req.dcql_query.credentials.iter().flat_map(|q| q.claims.iter().flatten()).any(|c| {
        matches!(c.path.elements().first(), Some(crate::oid4vp::dcql::PathPatternElement::Key(k)) if IDENTIFYING.contains(&k.as_str()))
    });
    if asks_identifying && req.metadata.erasure_endpoint.is_none() {
        warnings.push(TrustWarning::NoErasureEndpoint);
    }
    let accredited = marks.anchor_configuration.and_then(|a| a.trust_mark_issuers.as_ref());
    let uses_marks = accredited.is_some_and(|m| !m.is_empty());
    // A federation RP where the anchor accredits issuers of RP authorization-policy marks must
    // show a valid one (`authorization`'s module documentation).
    let requires_policy = matches!(req.trust, RpTrust::Federation { .. }) && accredited.is_some_and(|m| m.keys().any(|t| authorization::is_rp_policy_type(t)));
    let refusal = (matches!(req.trust, RpTrust::Federation { .. }) && uses_marks && !trust_marks.iter().any(|t| matches!(t.check, TrustMarkCheck::Valid { .. })))
        .then(|| no_valid_mark(&trust_marks))
        .or_else(|| authorization::refusal(&policies, &req.dcql_query, requires_policy));
    let organization_name = chain
        .and_then(|c| c.metadata_of("federation_entity"))
        .and_then(|m| m.get("organization_name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    RpEvaluation {
        client_id: req.client_id.as_str().to_owned(),
        entity_id: req.client_id.entity_id().map(|e| e.as_str().to_owned()),
        name: req.metadata.client_name.clone(),
        logo_uri: req.metadata.logo_uri.clone(),
        organization_name,
        purpose: purpose_of(req),
        trust: req.trust.clone(),
        trust_marks,
        warnings,
        erasure_endpoint: req.metadata.erasure_endpoint.clone(),
        authorization: policies,
        refusal,
    }
}

/// The refusal of an RP without a valid trust mark, naming each mark's fault.
fn no_valid_mark(marks: &[TrustMarkView]) -> String {
    if marks.is_empty() {
        return "it shows no trust mark, and its federation requires them (WP_087)".into();
    }
    let each: Vec<String> = marks
        .iter()
        .map(|m| match &m.check {
            TrustMarkCheck::Invalid(why) => format!("{}: {why}", m.trust_mark_type),
            _ => format!("{}: could not be verified", m.trust_mark_type),
        })
        .collect();
    format!("none of its trust marks is valid (WP_087): {}", each.join("; "))
}
