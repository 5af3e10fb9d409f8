//! Named DCQL queries for the common checks, built with wallet-core's DCQL types over the
//! credential types of `wallet_core::vc`. Each asks for what its purpose needs and nothing
//! more: the verifier refuses a response that discloses more (wallet-core's matcher).
//!
//! | preset | credential query id | `vct` | claims |
//! |---|---|---|---|
//! | `age_over_18` | `pid` | PID (and its transitional `vct`) | `birthdate` (the Italian PID has no `age_over_18` claim; the verdict computes it) |
//! | `driving_licence` | `mdl` | `urn:eudi:mDL:it:1` | `portrait`, `given_name`, `family_name`, `document_number`, `expiry_date`, `driving_privileges` (the status comes with the credential) |
//! | `pid` | `pid` | PID | `given_name`, `family_name`, `birthdate`, `place_of_birth`, `nationalities`, `tax_id_code` |
//! | `health_card` | `ehic` | `urn:eudi:ehic:1` | `personal_administrative_number`, `document_number`, `given_name`, `family_name`, `birth_date`, `ending_date` |

use wallet_core::oid4vp::dcql::{ClaimPathPattern, CredentialQuery, DcqlQuery};
use wallet_core::vc::Vct;

/// The preset names.
pub const NAMES: [&str; 4] = ["age_over_18", "driving_licence", "pid", "health_card"];

fn query(id: &str, vcts: &[&str], claims: &[&str]) -> DcqlQuery {
    let claims = claims.iter().map(|c| ClaimPathPattern::key(c)).collect();
    DcqlQuery { credentials: vec![CredentialQuery::sd_jwt_vc(id, vcts, claims)], credential_sets: None }
}

/// The query of a preset, `None` for an unknown name.
pub fn preset(name: &str) -> Option<DcqlQuery> {
    let pid = [Vct::PID, Vct::PID_TRANSITIONAL];
    Some(match name {
        "age_over_18" => query("pid", &pid, &["birthdate"]),
        "driving_licence" => query(
            "mdl",
            &[Vct::MDL],
            &["portrait", "given_name", "family_name", "document_number", "expiry_date", "driving_privileges"],
        ),
        "pid" => query("pid", &pid, &["given_name", "family_name", "birthdate", "place_of_birth", "nationalities", "tax_id_code"]),
        "health_card" => query(
            "ehic",
            &[Vct::EHIC],
            &["personal_administrative_number", "document_number", "given_name", "family_name", "birth_date", "ending_date"],
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_a_valid_query() {
        for name in NAMES {
            let q = preset(name).unwrap();
            q.validate().unwrap();
            assert_eq!(DcqlQuery::from_value(q.to_value()).unwrap(), q, "{name} round-trips");
        }
        assert!(preset("everything").is_none());
        let age = preset("age_over_18").unwrap();
        assert_eq!(age.credentials[0].claims.as_ref().unwrap().len(), 1, "only the birth date");
    }
}
