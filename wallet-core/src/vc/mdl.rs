//! The mobile driving licence as SD-JWT VC, `vct` `urn:eudi:mDL:it:1` (IT-Wallet 1.4 §4.4).
//!
//! Claim names follow the ISO 18013-5 data elements that IT-Wallet's `ec-eaa.json` lists
//! as `sd: always`. `issuing_country` and `issuing_authority` are also REQUIRED metadata of
//! every SD-JWT VC (§4.1, "never selectively disclosable"): the spec is ambiguous, and we keep
//! them visible metadata, which every verifier can read.

use serde::{Deserialize, Serialize};
use super::{CredentialModel, VcError, Vct, check_date};

const NAME: &str = "mDL";

/// One vehicle category the holder may drive (ISO 18013-5 §7.2.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrivingPrivilege {
    /// `AM`, `A1`, `A2`, `A`, `B1`, `B`, `BE`, `C1`, `C1E`, `C`, `CE`, `D1`, `D1E`, `D`, `DE`.
    pub vehicle_category_code: String,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_date: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<String>,
    /// Restriction codes (e.g. `01` corrective lenses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<PrivilegeCode>,
}

/// The licence's place of birth. IT-Wallet 1.4 §4.4 names the SD-JWT claim
/// `place_of_birth` without giving its type (ISO 18013-5's `birth_place` is text; the PID's
/// `place_of_birth` is an object of `country`, `region`, `locality`): both are accepted, and
/// registries that hold it structured issue it as the PID does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BirthPlace {
    /// Free text, as printed on the card.
    Text(String),
    /// Structured, as the PID's.
    Place(super::pid::PlaceOfBirth),
}

impl From<&str> for BirthPlace {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

/// A restriction or condition code on a privilege.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivilegeCode {
    /// The code.
    pub code: String,
    /// `<`, `=`, `>` with `value`, when the code has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
    /// The code's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The licence's restrictions and conditions (`restrictions_conditions`, IT-Wallet 1.4 §4.4,
/// `ec-eaa.json`). The spec gives no type: registries hold them as the text printed on the
/// card or as the list of its codes (`["01.06"]`); both are accepted and kept as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Restrictions {
    /// As printed on the card.
    Text(String),
    /// The codes (e.g. `01.06`, corrective lenses).
    Codes(Vec<String>),
}

impl From<&str> for Restrictions {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

/// One category of `driving_privileges_details` (IT-Wallet 1.4 §4.4, `ec-eaa.json`): the
/// per-category table on the back of the card as Italian wallets read it (the IO app's
/// "driving privileges" claim): the category, its dates and its restrictions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivilegeDetail {
    /// The category (one of [`VEHICLE_CATEGORIES`]).
    pub driving_privilege: String,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_date: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<String>,
    /// The category's restrictions, as text or codes (`null` when none: wallets read the
    /// member).
    #[serde(default)]
    pub restrictions_conditions: Option<Restrictions>,
}

/// `driving_privileges_details`: the list, or the list as JSON text (how the IO app reads it:
/// a string holding the JSON array). Either form is written back as it was read (a list from
/// its typed members, the text as received); the issuer signs the registry's claims as they
/// are, and verifiers show the disclosed JSON, not this model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PrivilegeDetails {
    /// The list.
    List(Vec<PrivilegeDetail>),
    /// The list as JSON text.
    Encoded(String),
}

impl PrivilegeDetails {
    /// The categories, decoding the JSON text form.
    pub fn details(&self) -> Result<Vec<PrivilegeDetail>, String> {
        match self {
            Self::List(l) => Ok(l.clone()),
            Self::Encoded(text) => serde_json::from_str(text).map_err(|e| format!("not a JSON list of categories: {e}")),
        }
    }
}

/// The categories of the EU driving licence directive.
pub const VEHICLE_CATEGORIES: [&str; 16] =
    ["AM", "A1", "A2", "A", "B1", "B", "BE", "C1", "C1E", "C", "CE", "D1", "D1E", "D", "DE", "T"];

/// The driving licence's user attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobileDrivingLicence {
    /// Family name.
    pub family_name: String,
    /// Given name.
    pub given_name: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// Place of birth: as on the card, or structured as the PID's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_of_birth: Option<BirthPlace>,
    /// `YYYY-MM-DD`.
    pub issue_date: String,
    /// `YYYY-MM-DD`.
    pub expiry_date: String,
    /// Licence number.
    pub document_number: String,
    /// Facial image, base64 JPEG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portrait: Option<String>,
    /// Categories.
    pub driving_privileges: Vec<DrivingPrivilege>,
    /// Restrictions and conditions: the text, or the codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrictions_conditions: Option<Restrictions>,
    /// The per-category table (category, dates, restrictions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driving_privileges_details: Option<PrivilegeDetails>,
}

impl CredentialModel for MobileDrivingLicence {
    const NAME: &'static str = NAME;
    const VCT: &'static str = Vct::MDL;
    const FIELDS: &'static [&'static str] = &["family_name", "given_name", "birth_date", "place_of_birth", "issue_date", "expiry_date", "document_number", "portrait", "driving_privileges", "restrictions_conditions", "driving_privileges_details"];

    /// Checks dates, categories, that the licence has at least one privilege and that the
    /// licence does not expire before it is issued.
    fn widest() -> Self {
        Self {
            family_name: "-".into(),
            given_name: "-".into(),
            birth_date: "0001-01-01".into(),
            place_of_birth: None,
            issue_date: "0001-01-01".into(),
            expiry_date: "9999-12-31".into(),
            document_number: "-".into(),
            portrait: None,
            driving_privileges: vec![DrivingPrivilege { vehicle_category_code: "B".into(), issue_date: None, expiry_date: None, codes: Vec::new() }],
            restrictions_conditions: None,
            driving_privileges_details: None,
        }
    }

    fn validate(&self) -> Result<(), VcError> {
        let bad = |claim: &'static str, reason: String| VcError::InvalidAttribute { credential: NAME, claim, reason };
        check_date(NAME, "birth_date", &self.birth_date)?;
        check_date(NAME, "issue_date", &self.issue_date)?;
        check_date(NAME, "expiry_date", &self.expiry_date)?;
        if self.expiry_date < self.issue_date {
            return Err(bad("expiry_date", "before issue_date".into()));
        }
        if self.document_number.trim().is_empty() {
            return Err(bad("document_number", "empty".into()));
        }
        if self.driving_privileges.is_empty() {
            return Err(bad("driving_privileges", "no category".into()));
        }
        for p in &self.driving_privileges {
            if !VEHICLE_CATEGORIES.contains(&p.vehicle_category_code.as_str()) {
                return Err(bad("driving_privileges", format!("unknown category `{}`", p.vehicle_category_code)));
            }
            for d in [&p.issue_date, &p.expiry_date].into_iter().flatten() {
                check_date(NAME, "driving_privileges", d)?;
            }
        }
        if let Some(Restrictions::Codes(codes)) = &self.restrictions_conditions
            && codes.iter().any(|c| c.trim().is_empty())
        {
            return Err(bad("restrictions_conditions", "an empty code".into()));
        }
        if let Some(details) = &self.driving_privileges_details {
            let claim = "driving_privileges_details";
            for d in details.details().map_err(|reason| bad(claim, reason))? {
                if !VEHICLE_CATEGORIES.contains(&d.driving_privilege.as_str()) {
                    return Err(bad(claim, format!("unknown category `{}`", d.driving_privilege)));
                }
                for date in [&d.issue_date, &d.expiry_date].into_iter().flatten() {
                    check_date(NAME, claim, date)?;
                }
            }
        }
        Ok(())
    }
}

impl MobileDrivingLicence {
    /// Whether the holder may drive `category` on `date` (`YYYY-MM-DD`).
    pub fn may_drive(&self, category: &str, date: &str) -> bool {
        date <= self.expiry_date.as_str()
            && self.driving_privileges.iter().any(|p| {
                p.vehicle_category_code == category && p.expiry_date.as_deref().is_none_or(|e| date <= e)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn licence() -> MobileDrivingLicence {
        MobileDrivingLicence {
            family_name: "Rossi".into(),
            given_name: "Mario".into(),
            birth_date: "1980-01-10".into(),
            place_of_birth: Some("Roma".into()),
            issue_date: "2020-09-17".into(),
            expiry_date: "2031-06-10".into(),
            document_number: "U1A2B3C4D5".into(),
            portrait: None,
            driving_privileges: vec![DrivingPrivilege {
                vehicle_category_code: "B".into(),
                issue_date: Some("2020-09-17".into()),
                expiry_date: Some("2031-06-10".into()),
                codes: vec![],
            }],
            restrictions_conditions: None,
            driving_privileges_details: None,
        }
    }

    #[test]
    fn valid_licence_round_trips() {
        let m = licence().to_attributes().unwrap();
        assert_eq!(m["driving_privileges"][0]["vehicle_category_code"], "B");
        assert_eq!(MobileDrivingLicence::from_claims(&m).unwrap(), licence());
        assert!(licence().may_drive("B", "2026-11-23"));
        assert!(!licence().may_drive("C", "2026-11-23"));
        assert!(!licence().may_drive("B", "2032-01-01"));
    }

    /// Both forms of `place_of_birth` read back as they were written.
    #[test]
    fn place_of_birth_as_text_or_structured() {
        let mut l = licence();
        l.place_of_birth = Some(BirthPlace::Place(crate::vc::pid::PlaceOfBirth { locality: Some("Roma".into()), country: Some("IT".into()), region: None }));
        let m = l.to_attributes().unwrap();
        assert_eq!(m["place_of_birth"]["locality"], "Roma");
        assert_eq!(MobileDrivingLicence::from_claims(&m).unwrap(), l);
        assert_eq!(licence().to_attributes().unwrap()["place_of_birth"], "Roma");
    }

    #[test]
    fn invalid_licences() {
        let mut l = licence();
        l.driving_privileges[0].vehicle_category_code = "Z".into();
        assert!(matches!(l.validate(), Err(VcError::InvalidAttribute { claim: "driving_privileges", .. })));
        let mut l = licence();
        l.expiry_date = "2019-01-01".into();
        assert!(matches!(l.validate(), Err(VcError::InvalidAttribute { claim: "expiry_date", .. })));
        let mut l = licence();
        l.driving_privileges.clear();
        assert!(matches!(l.validate(), Err(VcError::InvalidAttribute { claim: "driving_privileges", .. })));
    }

    /// Restrictions as the card's text or as its codes (the sample registry's `["01.06"]`),
    /// and the per-category table as a list or as JSON text (the IO app's form), each read
    /// back as it was written; an unknown category, a bad date or text that is not the list
    /// are refused naming the claim.
    #[test]
    fn restrictions_and_privilege_details_in_both_forms() {
        let detail = PrivilegeDetail { driving_privilege: "B".into(), issue_date: Some("2020-09-17".into()), expiry_date: Some("2031-06-10".into()), restrictions_conditions: Some("01.06".into()) };
        let codes = PrivilegeDetail { restrictions_conditions: Some(Restrictions::Codes(vec!["01.06".into(), "78".into()])), ..detail.clone() };
        assert!(MobileDrivingLicence { driving_privileges_details: Some(PrivilegeDetails::List(vec![codes])), ..licence() }.validate().is_ok(), "a category's codes as a list");
        for restrictions in [Restrictions::from("01.06"), Restrictions::Codes(vec!["01.06".into()])] {
            for details in [PrivilegeDetails::List(vec![detail.clone()]), PrivilegeDetails::Encoded(serde_json::to_string(&[&detail]).unwrap())] {
                let mut l = licence();
                l.restrictions_conditions = Some(restrictions.clone());
                l.driving_privileges_details = Some(details);
                let m = l.to_attributes().unwrap();
                assert_eq!(MobileDrivingLicence::from_claims(&m).unwrap(), l);
                assert_eq!(l.driving_privileges_details.as_ref().unwrap().details().unwrap(), std::slice::from_ref(&detail));
                super::super::check_data_model(Vct::MDL, &m).unwrap();
            }
        }
        let none = serde_json::json!({"driving_privilege": "A", "issue_date": "2010-05-02", "expiry_date": "2030-05-02", "restrictions_conditions": null});
        let d: PrivilegeDetail = serde_json::from_value(none.clone()).unwrap();
        assert_eq!(serde_json::to_value(&d).unwrap(), none, "a category without restrictions keeps its null");

        let refused = |details: PrivilegeDetails| {
            let mut l = licence();
            l.driving_privileges_details = Some(details);
            l.validate()
        };
        let mut unknown = detail.clone();
        unknown.driving_privilege = "Z".into();
        assert!(matches!(refused(PrivilegeDetails::List(vec![unknown])), Err(VcError::InvalidAttribute { claim: "driving_privileges_details", .. })));
        let mut late = detail.clone();
        late.expiry_date = Some("31/06/2031".into());
        assert!(matches!(refused(PrivilegeDetails::List(vec![late])), Err(VcError::InvalidAttribute { claim: "driving_privileges_details", .. })));
        assert!(matches!(refused(PrivilegeDetails::Encoded("B until 2031".into())), Err(VcError::InvalidAttribute { claim: "driving_privileges_details", .. })));
        let mut l = licence();
        l.restrictions_conditions = Some(Restrictions::Codes(vec![" ".into()]));
        assert!(matches!(l.validate(), Err(VcError::InvalidAttribute { claim: "restrictions_conditions", .. })));
    }
}
