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
    /// Restrictions and conditions (free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrictions_conditions: Option<String>,
}

impl CredentialModel for MobileDrivingLicence {
    const NAME: &'static str = NAME;
    const VCT: &'static str = Vct::MDL;
    const FIELDS: &'static [&'static str] = &["family_name", "given_name", "birth_date", "place_of_birth", "issue_date", "expiry_date", "document_number", "portrait", "driving_privileges", "restrictions_conditions"];

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
}
