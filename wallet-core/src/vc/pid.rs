//! The Italian PID as SD-JWT VC (IT-Wallet 1.4 §4.3, `credential-data-model-pid.rst`).

use serde::{Deserialize, Serialize};
use super::{CredentialModel, VcError, Vct, check_country, check_date};

const NAME: &str = "PID";

/// Place of birth: at least one of `country`, `region`, `locality`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PlaceOfBirth {
    /// ISO 3166-1 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// City or town.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
}

/// The PID's user attributes; all selectively disclosable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pid {
    /// Given name(s).
    pub given_name: String,
    /// Family name(s).
    pub family_name: String,
    /// `YYYY-MM-DD`.
    pub birthdate: String,
    /// Place of birth.
    pub place_of_birth: PlaceOfBirth,
    /// ISO 3166-1 alpha-2 codes.
    pub nationalities: Vec<String>,
    /// ANPR identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_administrative_number: Option<String>,
    /// `TINIT-<codice fiscale>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id_code: Option<String>,
}

impl CredentialModel for Pid {
    const NAME: &'static str = NAME;
    const VCT: &'static str = Vct::PID;
    const FIELDS: &'static [&'static str] = &["given_name", "family_name", "birthdate", "place_of_birth", "nationalities", "personal_administrative_number", "tax_id_code"];

    /// Checks the data model: dates, country codes, at least one place-of-birth member, at
    /// least one of `personal_administrative_number` / `tax_id_code`, `TINIT-` prefix.
    fn widest() -> Self {
        Self {
            given_name: "-".into(),
            family_name: "-".into(),
            birthdate: "0001-01-01".into(),
            place_of_birth: PlaceOfBirth { locality: Some("-".into()), ..Default::default() },
            nationalities: vec!["IT".into()],
            personal_administrative_number: None,
            tax_id_code: Some("TINIT-AAAAAAAAAAAAAAAA".into()),
        }
    }

    fn validate(&self) -> Result<(), VcError> {
        let bad = |claim: &'static str, reason: &str| VcError::InvalidAttribute { credential: NAME, claim, reason: reason.to_owned() };
        if self.given_name.trim().is_empty() {
            return Err(bad("given_name", "empty"));
        }
        if self.family_name.trim().is_empty() {
            return Err(bad("family_name", "empty"));
        }
        check_date(NAME, "birthdate", &self.birthdate)?;
        let p = &self.place_of_birth;
        if p.country.is_none() && p.region.is_none() && p.locality.is_none() {
            return Err(bad("place_of_birth", "needs at least one of country, region, locality"));
        }
        if let Some(c) = &p.country {
            check_country(NAME, "place_of_birth", c)?;
        }
        if self.nationalities.is_empty() {
            return Err(bad("nationalities", "empty"));
        }
        for n in &self.nationalities {
            check_country(NAME, "nationalities", n)?;
        }
        match (&self.personal_administrative_number, &self.tax_id_code) {
            (None, None) => return Err(bad("tax_id_code", "one of personal_administrative_number and tax_id_code is required")),
            (_, Some(t)) if !valid_tax_id_code(t) => return Err(bad("tax_id_code", "must be TINIT- followed by a 16-character codice fiscale")),
            _ => {}
        }
        Ok(())
    }
}

fn valid_tax_id_code(t: &str) -> bool {
    t.strip_prefix("TINIT-").is_some_and(|cf| cf.len() == 16 && cf.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn mario() -> Pid {
        Pid {
            given_name: "Mario".into(),
            family_name: "Rossi".into(),
            birthdate: "1980-01-10".into(),
            place_of_birth: PlaceOfBirth { locality: Some("Roma".into()), ..Default::default() },
            nationalities: vec!["IT".into()],
            personal_administrative_number: None,
            tax_id_code: Some("TINIT-RSSMRA80A10H501A".into()),
        }
    }

    #[test]
    fn spec_example_serializes_with_spec_names() {
        let m = mario().to_attributes().unwrap();
        assert_eq!(m["place_of_birth"], serde_json::json!({"locality": "Roma"}));
        assert_eq!(m["nationalities"], serde_json::json!(["IT"]));
        assert_eq!(Pid::from_claims(&m).unwrap(), mario());
    }

    #[test]
    fn data_model_violations() {
        let mut p = mario();
        p.tax_id_code = None;
        assert!(matches!(p.validate(), Err(VcError::InvalidAttribute { claim: "tax_id_code", .. })));
        let mut p = mario();
        p.birthdate = "10/01/1980".into();
        assert!(matches!(p.validate(), Err(VcError::InvalidAttribute { claim: "birthdate", .. })));
        let mut p = mario();
        p.nationalities = vec!["ITA".into()];
        assert!(matches!(p.validate(), Err(VcError::InvalidAttribute { claim: "nationalities", .. })));
        let mut p = mario();
        p.place_of_birth = PlaceOfBirth::default();
        assert!(matches!(p.validate(), Err(VcError::InvalidAttribute { claim: "place_of_birth", .. })));
        let mut p = mario();
        p.tax_id_code = Some("RSSMRA80A10H501A".into());
        assert!(matches!(p.validate(), Err(VcError::InvalidAttribute { claim: "tax_id_code", .. })));
    }
}
