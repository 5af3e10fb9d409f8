//! Test identities the login page offers, from a JSON file or the built-in set.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::claims::PlaceOfBirth;

/// A person the tester may log in as. Fiscal numbers are `TINIT-<codice fiscale>` (§B.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestIdentity {
    /// `https://attributes.eid.gov.it/fiscal_number`.
    pub fiscal_number: String,
    /// `given_name`.
    pub given_name: String,
    /// `family_name`.
    pub family_name: String,
    /// `birthdate`, `YYYY-MM-DD`.
    pub birthdate: String,
    /// `place_of_birth`.
    pub place_of_birth: PlaceOfBirth,
    /// `email`.
    pub email: String,
    /// `gender` (`male` / `female`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
}

/// The identities file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentitiesError {
    /// Unreadable.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Not the expected JSON.
    #[error("{path}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A rule broken (empty set, fiscal number not `TINIT-`, duplicate).
    #[error("identities: {0}")]
    Invalid(String),
}

fn ident([fiscal, given, family, birthdate, region, locality, email, gender]: [&str; 8]) -> TestIdentity {
    TestIdentity {
        fiscal_number: fiscal.into(),
        given_name: given.into(),
        family_name: family.into(),
        birthdate: birthdate.into(),
        place_of_birth: PlaceOfBirth { region: Some(region.into()), locality: Some(locality.into()) },
        email: email.into(),
        gender: Some(gender.into()),
    }
}

/// The built-in identities (also in `spid-cie-oidc/README.md`).
pub fn default_identities() -> Vec<TestIdentity> {
    vec![
        ident(["TINIT-RSSMRA80A01H501U", "Mario", "Rossi", "1980-01-01", "RM", "H501", "mario.rossi@example.it", "male"]),
        ident(["TINIT-BNCGLI85M41F205Z", "Giulia", "Bianchi", "1985-08-01", "MI", "F205", "giulia.bianchi@example.it", "female"]),
        ident(["TINIT-VRDLCU90T10L219X", "Luca", "Verdi", "1990-12-10", "TO", "L219", "luca.verdi@example.it", "male"]),
        ident(["TINIT-SPSNNA75E55F839K", "Anna", "Esposito", "1975-05-15", "NA", "F839", "anna.esposito@example.it", "female"]),
        ident(["TINIT-FRRGPP60C12G273E", "Giuseppe", "Ferrari", "1960-03-12", "PA", "G273", "giuseppe.ferrari@example.it", "male"]),
    ]
}

/// Checks a set: not empty, `TINIT-` fiscal numbers, no duplicates, `YYYY-MM-DD` dates.
pub fn validate(ids: &[TestIdentity]) -> Result<(), IdentitiesError> {
    if ids.is_empty() {
        return Err(IdentitiesError::Invalid("no identities".into()));
    }
    let mut seen = std::collections::HashSet::new();
    for i in ids {
        let cf = i.fiscal_number.strip_prefix("TINIT-").unwrap_or_default();
        if cf.len() != 16 || !cf.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return Err(IdentitiesError::Invalid(format!("{} is not TINIT- followed by a 16-character codice fiscale", i.fiscal_number)));
        }
        if !seen.insert(i.fiscal_number.clone()) {
            return Err(IdentitiesError::Invalid(format!("{} appears twice", i.fiscal_number)));
        }
        let b = i.birthdate.as_bytes();
        let date_ok = b.len() == 10 && b.iter().enumerate().all(|(n, c)| if n == 4 || n == 7 { *c == b'-' } else { c.is_ascii_digit() });
        if !date_ok {
            return Err(IdentitiesError::Invalid(format!("birthdate {} is not YYYY-MM-DD", i.birthdate)));
        }
    }
    Ok(())
}

/// Reads identities from a JSON file: an array of identities, or `{"identities": [...]}`.
pub fn load(path: &Path) -> Result<Vec<TestIdentity>, IdentitiesError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| IdentitiesError::Io { path: p.clone(), reason: e.to_string() })?;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum File {
        List(Vec<TestIdentity>),
        Wrapped { identities: Vec<TestIdentity> },
    }
    let ids = match serde_json::from_str::<File>(&text).map_err(|e| IdentitiesError::Parse { path: p, reason: e.to_string() })? {
        File::List(v) | File::Wrapped { identities: v } => v,
    };
    validate(&ids)?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_load_round_trips() {
        validate(&default_identities()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.json");
        std::fs::write(&path, serde_json::json!({"identities": default_identities()}).to_string()).unwrap();
        assert_eq!(load(&path).unwrap(), default_identities());
        std::fs::write(&path, r#"[{"fiscal_number":"RSSMRA80A01H501U","given_name":"a","family_name":"b","birthdate":"1980-01-01","place_of_birth":{},"email":"x"}]"#).unwrap();
        assert!(matches!(load(&path), Err(IdentitiesError::Invalid(_))));
    }
}
