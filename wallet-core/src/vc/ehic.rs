//! The health insurance card (Tessera Sanitaria / TEAM) as SD-JWT VC.
//!
//! IT-Wallet 1.4 §4.5 defines no claim set; we follow the DC4EU EHIC rulebook (`vct`
//! `urn:eudi:ehic:1`): `personal_administrative_number`, `document_number`, `authentic_source`,
//! `starting_date`, `ending_date`, plus the holder's name and birth date as printed on the TEAM
//! card. `issuing_authority`/`issuing_country`/`date_of_expiry` are SD-JWT VC metadata here
//! (IT-Wallet §4.1), not attributes. To be revisited when the Italian catalogue entry exists.

use serde::{Deserialize, Serialize};
use super::{CredentialModel, VcError, Vct, check_date};

const NAME: &str = "EHIC";

/// The institution that holds the insurance record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticSource {
    /// Institution identifier.
    pub id: String,
    /// Institution name.
    pub name: String,
}

/// The health card's user attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthInsuranceCard {
    /// Personal identification number (for Italy the codice fiscale).
    pub personal_administrative_number: String,
    /// Card number.
    pub document_number: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// The competent institution.
    pub authentic_source: AuthenticSource,
    /// Entitlement start, `YYYY-MM-DD`.
    pub starting_date: String,
    /// Entitlement end, `YYYY-MM-DD`.
    pub ending_date: String,
}

impl CredentialModel for HealthInsuranceCard {
    const NAME: &'static str = NAME;
    const VCT: &'static str = Vct::EHIC;
    const FIELDS: &'static [&'static str] = &["personal_administrative_number", "document_number", "given_name", "family_name", "birth_date", "authentic_source", "starting_date", "ending_date"];

    /// Checks dates and required members.
    fn widest() -> Self {
        Self {
            personal_administrative_number: "-".into(),
            document_number: "-".into(),
            given_name: "-".into(),
            family_name: "-".into(),
            birth_date: "0001-01-01".into(),
            authentic_source: AuthenticSource { id: "-".into(), name: "-".into() },
            starting_date: "0001-01-01".into(),
            ending_date: "9999-12-31".into(),
        }
    }

    fn validate(&self) -> Result<(), VcError> {
        let bad = |claim: &'static str, reason: &str| VcError::InvalidAttribute { credential: NAME, claim, reason: reason.to_owned() };
        for (claim, v) in [("personal_administrative_number", &self.personal_administrative_number), ("document_number", &self.document_number)] {
            if v.trim().is_empty() {
                return Err(bad(claim, "empty"));
            }
        }
        check_date(NAME, "birth_date", &self.birth_date)?;
        check_date(NAME, "starting_date", &self.starting_date)?;
        check_date(NAME, "ending_date", &self.ending_date)?;
        if self.ending_date < self.starting_date {
            return Err(bad("ending_date", "before starting_date"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_round_trip_and_dates() {
        let c = HealthInsuranceCard {
            personal_administrative_number: "RSSMRA80A10H501A".into(),
            document_number: "80380000500012345678".into(),
            given_name: "Mario".into(),
            family_name: "Rossi".into(),
            birth_date: "1980-01-10".into(),
            authentic_source: AuthenticSource { id: "IT:MEF".into(), name: "Ministero dell'Economia e delle Finanze".into() },
            starting_date: "2024-01-01".into(),
            ending_date: "2030-01-01".into(),
        };
        let m = c.to_attributes().unwrap();
        assert_eq!(HealthInsuranceCard::from_claims(&m).unwrap(), c);
        let mut bad = c;
        bad.ending_date = "2020-01-01".into();
        assert!(matches!(bad.validate(), Err(VcError::InvalidAttribute { claim: "ending_date", .. })));
    }
}
