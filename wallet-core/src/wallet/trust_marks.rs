//! What the wallet checks a relying party's trust marks with, gathered over the HTTP seam:
//! the trust anchor's current Entity Configuration (`trust_mark_issuers`), the mark issuers'
//! keys, and — IT-Wallet 1.4 §1.1 "static plus dynamic", OID-FED §8.4 — each statically valid
//! mark's status as its issuer reports it at `federation_trust_mark_status_endpoint`.
//!
//! A mark issued by an entity other than the anchor, which the anchor accredits for its type
//! in `trust_mark_issuers` (OID-FED §7.3), is verified with that issuer's keys from its own
//! trust chain to the same anchor, and its status asked of that issuer.
//!
//! One gathering for every wallet front end (the flow in [`super::presentation`], the CLI, the
//! mobile bindings); [`crate::oid4vp::evaluate_rp`] then decides, without I/O. Only what
//! validated statically is sent to a status endpoint (nothing unverified leaves the phone),
//! and a status that cannot be had leaves the static validation standing: the citizen still
//! sees the mark as valid, as a verifier would, rather than a relying party made untrusted by
//! an endpoint that is down.

use crate::federation::chain::ValidatedChain;
use crate::federation::entity::{ENTITY_STATEMENT_MEDIA_TYPE, ParsedStatement};
use crate::federation::trust_mark::{self, STATUS_RESPONSE_MEDIA_TYPE, TrustMarkStatus, status_endpoint};
use crate::federation::{ChainCollector, EntityStatement, Fetcher as _, TrustAnchorConfig};
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
    /// `http`: the anchor's configuration; for a mark issued by another entity the anchor
    /// lists in `trust_mark_issuers` for its type (OID-FED §7.3: an accredited issuer, in the
    /// RP's chain or not), that issuer's Federation Entity Keys and configuration from its own
    /// trust chain to the same anchor (at most [`MAX_MARK_ISSUERS`] such issuers); then each
    /// statically valid mark's status, asked of its issuer.
    pub fn gather(http: &dyn HttpClient, anchors: &[TrustAnchorConfig], chain: Option<&ValidatedChain>, now: UnixTime) -> Self {
        let mut issuer_keys: Vec<(String, JwkSet)> = anchors.iter().map(|a| (a.id.as_str().to_owned(), a.jwks.clone())).collect();
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
            // Other issuers' chains, resolved once each (`None`: could not be had).
            let mut others: Vec<(String, Option<ValidatedChain>)> = Vec::new();
            for tm in chain.subject.claims.trust_marks.iter().flatten() {
                let Some(iss) = trust_mark::unverified_issuer(&tm.trust_mark) else { continue };
                let (keys, endpoint) = if iss == anchor.id.as_str() {
                    (&anchor.jwks, status_endpoint(configuration.metadata.as_ref().and_then(|m| m.get("federation_entity")).and_then(serde_json::Value::as_object)))
                } else {
                    // Only an issuer the anchor accredits for this type is worth a fetch (an
                    // empty list: any issuer, as `trust_mark::verify` reads it).
                    if !trust_mark::accredited(configuration, &tm.trust_mark_type, &iss) {
                        continue;
                    }
                    if !others.iter().any(|(id, _)| *id == iss) {
                        if others.len() >= MAX_MARK_ISSUERS {
                            continue;
                        }
                        let resolved = crate::federation::EntityId::new(&iss)
                            .ok()
                            .and_then(|id| ChainCollector::new(&SeamFetcher(http), std::slice::from_ref(anchor)).resolve(&id, now).ok());
                        if let Some(c) = &resolved {
                            issuer_keys.push((iss.clone(), c.subject.claims.jwks.clone()));
                        }
                        others.push((iss.clone(), resolved));
                    }
                    match others.iter().find(|(id, _)| *id == iss) {
                        // Its metadata as its chain resolves it (superiors' policies applied).
                        Some((_, Some(c))) => (&c.subject.claims.jwks, status_endpoint(c.metadata_of("federation_entity"))),
                        _ => continue,
                    }
                };
                // Only what validated statically is sent to a status endpoint.
                if trust_mark::verify(&tm.trust_mark, subject, keys, configuration, now).is_err() {
                    continue;
                }
                if let Some(status) = endpoint.and_then(|e| ask_status(http, &e, keys, &tm.trust_mark)) {
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

/// The most trust mark issuers other than the anchor whose chains one gathering resolves (an
/// RP listing many marks does not make the wallet fetch without end).
pub use crate::federation::trust_mark::MAX_MARK_ISSUERS;

/// `POST trust_mark=<mark>` to the issuer's `federation_trust_mark_status_endpoint` (OID-FED
/// §8.4), the signed answer verified with its keys; `None` when it cannot be had.
fn ask_status(http: &dyn HttpClient, endpoint: &str, issuer_keys: &JwkSet, mark: &str) -> Option<TrustMarkStatus> {
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use serde_json::{Map, Value, json};

    use super::*;
    use crate::federation::EntityId;
    use crate::federation::trust_mark::{STATUS_RESPONSE_TYP, TRUST_MARK_TYP, TrustMarkClaims};
    use crate::jose::{JwsAlg, JwsHeader, Signer as _, SoftwareSigner, jws};
    use crate::wallet::http::{HttpError, HttpResponse};

    const NOW: UnixTime = UnixTime(1_800_000_000);
    const TA: &str = "https://ta.example.it";
    /// A trust mark issuer the anchor may accredit, outside the RP's chain.
    const TMI: &str = "https://marks.example.it";
    const RP: &str = "https://rp.example.it";
    const TYPE: &str = "https://ta.example.it/trust_marks/openid_relying_party/public";

    /// Responses by URL (a prefix for the fetch endpoint), and the URLs asked.
    struct Web {
        pages: HashMap<String, String>,
        asked: Mutex<Vec<String>>,
    }

    impl HttpClient for Web {
        fn send(&self, r: HttpRequest) -> Result<HttpResponse, HttpError> {
            self.asked.lock().unwrap().push(r.url.clone());
            let page = self.pages.get(&r.url).or_else(|| self.pages.iter().find(|(k, _)| k.ends_with('?') && r.url.starts_with(k.as_str())).map(|(_, v)| v));
            let body = page.ok_or_else(|| HttpError(format!("{} unreachable", r.url)))?;
            Ok(HttpResponse { status: 200, headers: Vec::new(), body: body.clone().into_bytes() })
        }
    }

    fn keys(k: &SoftwareSigner) -> JwkSet {
        JwkSet { keys: vec![k.public_jwk()] }
    }

    fn statement(iss: &str, sub: &str, jwks: JwkSet, extra: Value, signer: &SoftwareSigner) -> String {
        let mut v = json!({"iss": iss, "sub": sub, "iat": NOW.secs() - 10, "exp": NOW.secs() + 3600, "jwks": jwks});
        if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
            m.extend(e);
        }
        serde_json::from_value::<EntityStatement>(v).unwrap().sign(signer).unwrap()
    }

    /// The anchor (its `trust_mark_issuers` for the RP mark type: `issuers`), TMI under it
    /// with a status endpoint answering `status`, and the RP under the anchor holding TMI's mark.
    fn federation(issuers: Value, status: &str) -> (Web, TrustAnchorConfig, ValidatedChain, String) {
        let (ta, tmi, rp) = (SoftwareSigner::generate().unwrap(), SoftwareSigner::generate().unwrap(), SoftwareSigner::generate().unwrap());
        let fed_entity = json!({"federation_fetch_endpoint": format!("{TA}/fetch"), "federation_trust_mark_status_endpoint": format!("{TA}/status")});
        let ta_ec = statement(TA, TA, keys(&ta), json!({"trust_mark_issuers": issuers, "metadata": {"federation_entity": fed_entity}}), &ta);
        let tmi_ec = statement(TMI, TMI, keys(&tmi), json!({"authority_hints": [TA], "metadata": {"federation_entity": {"federation_trust_mark_status_endpoint": format!("{TMI}/status")}}}), &tmi);
        let about_tmi = statement(TA, TMI, keys(&tmi), json!({}), &ta);
        let claims = TrustMarkClaims {
            iss: EntityId::new(TMI).unwrap(),
            sub: EntityId::new(RP).unwrap(),
            trust_mark_type: TYPE.into(),
            iat: NOW.secs() - 5,
            exp: Some(NOW.secs() + 600),
            delegation: None,
            extra: Map::new(),
        };
        let mark = claims.sign(TRUST_MARK_TYP, &tmi).unwrap();
        let header = JwsHeader::new(JwsAlg::Es256).with_typ(STATUS_RESPONSE_TYP).with_kid(tmi.kid());
        let answer = jws::sign_json(&header, &json!({"iss": TMI, "iat": NOW.secs(), "trust_mark": mark, "status": status}), &tmi).unwrap();
        let rp_ec = statement(RP, RP, keys(&rp), json!({"authority_hints": [TA], "trust_marks": [{"trust_mark_type": TYPE, "trust_mark": mark}]}), &rp);
        let about_rp = statement(TA, RP, keys(&rp), json!({}), &ta);
        let anchor = TrustAnchorConfig { id: EntityId::new(TA).unwrap(), jwks: keys(&ta) };
        let chain = crate::federation::chain::validate(&[rp_ec, about_rp], &anchor, NOW).unwrap();
        let pages = HashMap::from([
            (format!("{TA}/.well-known/openid-federation"), ta_ec),
            (format!("{TMI}/.well-known/openid-federation"), tmi_ec),
            (format!("{TA}/fetch?"), about_tmi),
            (format!("{TMI}/status"), answer),
        ]);
        (Web { pages, asked: Mutex::new(Vec::new()) }, anchor, chain, mark)
    }

    /// A mark issued by an issuer the anchor accredits (not the anchor, not in the RP's
    /// chain): its keys come from its own chain to the anchor, and its status is asked of it.
    #[test]
    fn an_accredited_issuers_mark_is_verified_with_its_chain_keys_and_its_status_asked() {
        let (web, anchor, chain, mark) = federation(json!({TYPE: [TA, TMI]}), "active");
        let e = TrustMarkEvidence::gather(&web, std::slice::from_ref(&anchor), Some(&chain), NOW);
        let (_, tmi_keys) = e.issuer_keys.iter().find(|(id, _)| id == TMI).unwrap();
        // What `evaluate_rp` then does: the mark verifies with them under the anchor's accreditation.
        trust_mark::verify(&mark, &EntityId::new(RP).unwrap(), tmi_keys, e.anchor_configuration.as_ref().unwrap(), NOW).unwrap();
        assert_eq!(e.statuses, vec![(mark, TrustMarkStatus::Active)]);
        assert!(web.asked.lock().unwrap().contains(&format!("{TMI}/status")));

        let (web, anchor, chain, mark) = federation(json!({TYPE: [TA, TMI]}), "revoked");
        let e = TrustMarkEvidence::gather(&web, std::slice::from_ref(&anchor), Some(&chain), NOW);
        assert_eq!(e.statuses, vec![(mark, TrustMarkStatus::Revoked)], "the dynamic check reports the revocation");

        // An empty list accredits any issuer of the federation (as `trust_mark::verify` reads it).
        let (web, anchor, chain, mark) = federation(json!({TYPE: []}), "active");
        let e = TrustMarkEvidence::gather(&web, std::slice::from_ref(&anchor), Some(&chain), NOW);
        assert_eq!(e.statuses, vec![(mark, TrustMarkStatus::Active)]);
    }

    /// An issuer the anchor does not accredit for the type is not fetched: its mark stays
    /// unverifiable (no keys), and nothing about it leaves the phone.
    #[test]
    fn a_mark_from_an_issuer_the_anchor_does_not_accredit_is_not_fetched() {
        let (web, anchor, chain, _) = federation(json!({TYPE: [TA]}), "active");
        let e = TrustMarkEvidence::gather(&web, std::slice::from_ref(&anchor), Some(&chain), NOW);
        assert!(e.issuer_keys.iter().all(|(id, _)| id != TMI));
        assert!(e.statuses.is_empty());
        assert!(web.asked.lock().unwrap().iter().all(|u| !u.starts_with(TMI)), "{:?}", web.asked.lock().unwrap());
    }
}
