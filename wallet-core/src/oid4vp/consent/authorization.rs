//! What an RP's authorization-policy trust marks let it ask for (IT-Wallet 1.4
//! `entity-onboarding.rst`, "Trust Marks": marks of purpose `authorization_policy` add
//! `authorized_credential_types` and `authorized_claims`; WP_087: "metadata, policies, and a
//! valid Trust Mark collectively confirm its permission to request the specified credential").
//!
//! The specification shows these claims in its examples only (its own text marks them as not
//! yet described), so what they mean here is our choice, written down:
//!
//! * A valid mark carrying either list is a policy; one carrying neither restricts nothing.
//! * A federation that issues authorization-policy marks to relying parties (its anchor
//!   accredits issuers of a type `.../trust_marks/authorization_policy/relying-party`, IT-Wallet's schema
//!   `https://<authority>/trust_marks/<purpose>/<entity_type>`) requires one: an RP there that
//!   shows no valid policy mark is refused, since the RP publishes its own marks and could
//!   otherwise leave out, or let expire, the one that limits it. Elsewhere an RP with no policy
//!   mark is not restricted by this module (its federation mark is checked by
//!   [`super::rp::evaluate_rp`]).
//! * With at least one policy, every credential query of the request must be authorized by one
//!   policy mark (an RP holding a mark for the licence and one for the PID may ask for both,
//!   each under its own mark).
//! * A mark authorizes a credential query when, where it lists types, every type the query
//!   accepts is listed (`meta.vct_values` for SD-JWT VC, `meta.doctype_value` for mdoc; a query
//!   naming none is not authorized: the wallet could not tell what it would hand over), and
//!   where it lists claims, every claim the query asks for is listed by name: the first key of
//!   an SD-JWT VC path (`place_of_birth` covers `["place_of_birth", "locality"]`), the data
//!   element of an mdoc path (`["org.iso.18013.5.1", "portrait"]` is `portrait`).

use serde_json::Value;

use crate::federation::trust_mark::TrustMarkClaims;
use crate::oid4vp::dcql::{CredentialFormat, CredentialQuery, DcqlQuery, PathPatternElement};

/// The member of a trust mark listing the credential types its RP may ask for.
pub const AUTHORIZED_CREDENTIAL_TYPES: &str = "authorized_credential_types";
/// The member of a trust mark listing the claims its RP may ask for.
pub const AUTHORIZED_CLAIMS: &str = "authorized_claims";
/// How the type of an authorization-policy trust mark for relying parties ends (IT-Wallet's
/// schema `https://<authority>/trust_marks/<purpose>/<entity_type>`).
const RP_POLICY_TYPE: &str = "/trust_marks/authorization_policy/relying-party";

/// Whether a trust mark type is the authorization-policy one for relying parties: a
/// federation accrediting issuers of it requires one of every RP. Policy marks for other
/// entity types (`credential-issuer`) say nothing of what an RP may ask.
pub fn is_rp_policy_type(trust_mark_type: &str) -> bool {
    trust_mark_type.trim_end_matches('/').ends_with(RP_POLICY_TYPE)
}

/// One valid mark's authorization policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationPolicy {
    /// The mark's type (named in a refusal).
    pub trust_mark_type: String,
    /// `authorized_credential_types`, when the mark lists them.
    pub credential_types: Option<Vec<String>>,
    /// `authorized_claims`, when the mark lists them.
    pub claims: Option<Vec<String>>,
}

impl AuthorizationPolicy {
    /// The policy a valid mark carries, `None` when it lists neither types nor claims. A list
    /// that is not an array of strings is read as authorizing nothing (a malformed policy must
    /// not widen what the RP may ask).
    pub fn of(mark: &TrustMarkClaims) -> Option<Self> {
        let list = |name: &str| {
            mark.extra.get(name).map(|v| match v {
                Value::Array(items) if items.iter().all(Value::is_string) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                _ => Vec::new(),
            })
        };
        let (credential_types, claims) = (list(AUTHORIZED_CREDENTIAL_TYPES), list(AUTHORIZED_CLAIMS));
        (credential_types.is_some() || claims.is_some()).then(|| Self { trust_mark_type: mark.trust_mark_type.clone(), credential_types, claims })
    }

    /// Why this policy does not authorize `query`, `None` when it does.
    fn refuses(&self, query: &CredentialQuery) -> Option<String> {
        if let Some(types) = &self.credential_types {
            let asked: Vec<&str> = match &query.format {
                CredentialFormat::MsoMdoc => query.meta.doctype_value.iter().map(String::as_str).collect(),
                _ => query.meta.vct_values.iter().flatten().map(String::as_str).collect(),
            };
            if asked.is_empty() {
                return Some("it names no credential type".into());
            }
            if let Some(t) = asked.iter().find(|t| !types.iter().any(|a| a == *t)) {
                return Some(format!("the type {t} is not among those it authorizes ({})", types.join(", ")));
            }
        }
        if let Some(claims) = &self.claims {
            for c in query.claims.iter().flatten() {
                let element = match query.format {
                    CredentialFormat::MsoMdoc => c.path.elements().get(1),
                    _ => c.path.elements().first(),
                };
                match element {
                    Some(PathPatternElement::Key(name)) if claims.iter().any(|a| a == name) => {}
                    Some(PathPatternElement::Key(name)) => return Some(format!("the claim {name} is not among those it authorizes ({})", claims.join(", "))),
                    _ => return Some("a claim path does not name a claim".into()),
                }
            }
        }
        None
    }
}

/// Why the RP's policies do not authorize `query`, `None` when they do (or when it has none
/// and its federation does not issue them: `required` false): see the module documentation.
pub fn refusal(policies: &[AuthorizationPolicy], query: &DcqlQuery, required: bool) -> Option<String> {
    if policies.is_empty() {
        return required.then(|| "it shows no valid authorization-policy trust mark, and its federation issues them (WP_087)".to_owned());
    }
    query.credentials.iter().find_map(|q| {
        // `None` (authorized) as soon as one policy authorizes the query.
        let why: Vec<String> = policies.iter().map(|p| p.refuses(q).map(|r| format!("{}: {r}", p.trust_mark_type))).collect::<Option<_>>()?;
        Some(format!("its trust marks do not authorize the credential query `{}` (WP_087): {}", q.id, why.join("; ")))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn policy(types: Option<&[&str]>, claims: Option<&[&str]>) -> AuthorizationPolicy {
        let own = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        AuthorizationPolicy { trust_mark_type: "tm".into(), credential_types: types.map(own), claims: claims.map(own) }
    }

    fn query(text: &str) -> DcqlQuery {
        DcqlQuery::parse(text).unwrap()
    }

    /// mdoc: the type is `doctype_value`, a claim its data element (the path's second part).
    #[test]
    fn mdoc_queries_are_read_by_doctype_and_data_element() {
        let q = query(r#"{"credentials":[{"id":"mdl","format":"mso_mdoc","meta":{"doctype_value":"org.iso.18013.5.1.mDL"},"claims":[{"path":["org.iso.18013.5.1","portrait"]}]}]}"#);
        assert_eq!(refusal(&[policy(Some(&["org.iso.18013.5.1.mDL"]), Some(&["portrait"]))], &q, false), None);
        let why = refusal(&[policy(Some(&["org.iso.18013.5.1.mDL"]), Some(&["family_name"]))], &q, false).unwrap();
        assert!(why.ends_with("tm: the claim portrait is not among those it authorizes (family_name)"), "{why}");
    }

    /// No policy: nothing refused. A query naming no type, under a policy listing types:
    /// refused. A query whose every `vct_values` entry is not listed: refused (it could be
    /// answered with the unlisted one).
    #[test]
    fn types_must_all_be_listed() {
        let any = query(r#"{"credentials":[{"id":"x","format":"dc+sd-jwt","meta":{}}]}"#);
        assert_eq!(refusal(&[], &any, false), None);
        assert!(refusal(&[], &any, true).unwrap().starts_with("it shows no valid authorization-policy trust mark"));
        assert!(refusal(&[policy(Some(&["urn:a"]), None)], &any, false).unwrap().ends_with("tm: it names no credential type"));
        let two = query(r#"{"credentials":[{"id":"x","format":"dc+sd-jwt","meta":{"vct_values":["urn:a","urn:b"]}}]}"#);
        assert!(refusal(&[policy(Some(&["urn:a"]), None)], &two, false).unwrap().contains("the type urn:b is not among"));
        assert_eq!(refusal(&[policy(Some(&["urn:b", "urn:a"]), None)], &two, false), None);
    }
}
