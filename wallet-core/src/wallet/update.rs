//! The citizen's consent to a re-issued credential whose attributes changed (IT-Wallet 1.4 §6
//! "Credential re-issuance", §3.3 "Refresh"; test matrix WP_074, WP_075).
//!
//! An issuer marks a credential `UPDATE` (0x03: only its metadata changed, such as its
//! expiry or its status index) or `ATTRIBUTE_UPDATE` (0x0B or 0x0F: the citizen's own data
//! changed in the authentic source). The wallet stores a metadata-only re-issuance without
//! asking, and asks the citizen before it stores one that changes what the credential says
//! about them.
//!
//! Our choice where the spec leaves room: what decides is what the new credential actually
//! changes, compared attribute by attribute with the one it replaces, not the status value
//! that announced it. A credential marked `ATTRIBUTE_UPDATE` whose attributes came back the
//! same is stored without a question (there is nothing to agree to); one marked `UPDATE`
//! that does change an attribute is asked about (an issuer's mislabel does not get past the
//! citizen). The metadata claims of §4.1 ([`crate::vc::METADATA_CLAIMS`]) are not
//! attributes. A citizen who declines keeps the old credential (its issuer may have
//! withdrawn it: the next status refresh says so), the new one is not stored, and the
//! issuer is told `credential_deleted` (OpenID4VCI 1.0 §11.1).

use serde_json::{Map, Value};

use crate::sd_jwt::SdJwt;
use crate::store::CredentialId;

/// One attribute that differs between the stored credential and its re-issued successor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimChange {
    /// The attribute's name (top-level claim; a structured one is compared whole).
    pub name: String,
    /// Its value in the stored credential; `None` when the new one adds it.
    pub before: Option<Value>,
    /// Its value in the re-issued credential; `None` when the new one drops it.
    pub after: Option<Value>,
}

/// What the citizen is asked about: which credential is replaced, by whom, and how its
/// attributes change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeUpdate {
    /// The stored credential being replaced (with the rest of its batch).
    pub replaces: CredentialId,
    /// Its type.
    pub vct: String,
    /// The issuer's entity id.
    pub issuer: String,
    /// The issuer's display name, as its metadata gives it.
    pub issuer_name: Option<String>,
    /// Every attribute that differs, sorted by name.
    pub changes: Vec<ClaimChange>,
}

impl std::fmt::Display for ClaimChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<Value>| match v {
            None => "(none)".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        write!(f, "{}: {} -> {}", self.name, show(&self.before), show(&self.after))
    }
}

/// Asks the citizen whether to store a re-issued credential whose attributes changed. The
/// wallet calls it only when [`AttributeUpdate::changes`] is not empty, after every check of
/// the new credential passed and before anything is stored.
pub trait UpdateConsent: Send + Sync {
    /// `true` to store the new credential (and remove the old one), `false` to keep the old.
    fn approve(&self, update: &AttributeUpdate) -> bool;
}

/// The attributes (claims outside [`crate::vc::METADATA_CLAIMS`]) of an SD-JWT VC the wallet
/// holds, with every disclosure applied. The signature is not checked here: both sides of
/// the comparison are credentials the wallet verified (the stored one when it was stored,
/// the new one just before).
pub fn held_attributes(credential: &str) -> Result<Map<String, Value>, String> {
    let sd = SdJwt::parse(credential).map_err(|e| e.to_string())?;
    let view = sd.claim_paths().map_err(|e| e.to_string())?;
    Ok(view.claims.into_iter().filter(|(k, _)| !crate::vc::METADATA_CLAIMS.contains(&k.as_str())).collect())
}

/// The attributes that differ between `before` and `after`, sorted by name.
pub fn attribute_changes(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<ClaimChange> {
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let (b, a) = (before.get(name), after.get(name));
            (b != a).then(|| ClaimChange { name: name.clone(), before: b.cloned(), after: a.cloned() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn metadata_only_updates_change_no_attribute() {
        let before = map(json!({"given_name": "Mario", "expiry_date": "2035-01-31"}));
        assert!(attribute_changes(&before, &before.clone()).is_empty());
    }

    #[test]
    fn changed_added_and_dropped_attributes_are_named_in_order() {
        let before = map(json!({"given_name": "Mario", "expiry_date": "2035-01-31", "restrictions": ["01"]}));
        let after = map(json!({"given_name": "Mario", "expiry_date": "2040-01-31", "address": {"locality": "Roma"}}));
        let changes = attribute_changes(&before, &after);
        let names: Vec<&str> = changes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["address", "expiry_date", "restrictions"]);
        assert_eq!(changes[0].to_string(), r#"address: (none) -> {"locality":"Roma"}"#);
        assert_eq!(changes[1].to_string(), "expiry_date: 2035-01-31 -> 2040-01-31");
        assert_eq!(changes[2].to_string(), r#"restrictions: ["01"] -> (none)"#);
    }

    #[test]
    fn a_structured_attribute_is_compared_whole() {
        let before = map(json!({"driving_privileges": [{"vehicle_category_code": "B"}]}));
        let after = map(json!({"driving_privileges": [{"vehicle_category_code": "B"}, {"vehicle_category_code": "A"}]}));
        assert_eq!(attribute_changes(&before, &after).len(), 1);
    }

    #[test]
    fn an_unparsable_credential_is_an_error_not_an_empty_map() {
        assert!(held_attributes("not an sd-jwt").is_err());
    }
}
