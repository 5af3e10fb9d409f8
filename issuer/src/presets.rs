//! The credentials an issuer can serve, each with its `vct`, scope, configuration id, type
//! metadata and the sample registry table the loader creates (IT-Wallet 1.4 §4.3–4.5).
//!
//! * PID: `urn:eudi:pid:it:1`, `dc_sd_jwt_PersonIdentificationData`, scope `pid` (§4.3).
//! * mDL as SD-JWT VC: `urn:eudi:mDL:it:1`, `dc_sd_jwt_mDL`, scope `mDL` (§4.4).
//! * Health card: §4.5 defines no claim set; the placeholder is the DC4EU EHIC rulebook's
//!   (`urn:eudi:ehic:1`, wallet-core's `vc::ehic`), configuration id
//!   `dc_sd_jwt_EuropeanHealthInsuranceCard`: one constant to change when the Italian
//!   catalogue entry exists.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wallet_core::vc::Vct;

use crate::config::Source;

/// A credential kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Person Identification Data.
    Pid,
    /// Mobile driving licence (SD-JWT VC).
    Mdl,
    /// Health insurance card (placeholder data model).
    HealthCard,
}

/// The health card's `vct` (placeholder, §4.5).
pub const HEALTH_CARD_VCT: &str = Vct::EHIC;

impl Preset {
    /// All of them.
    pub const ALL: [Preset; 3] = [Preset::Pid, Preset::Mdl, Preset::HealthCard];

    /// `pid`, `mdl`, `health-card`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pid" => Some(Self::Pid),
            "mdl" => Some(Self::Mdl),
            "health-card" => Some(Self::HealthCard),
            _ => None,
        }
    }

    /// The name [`Preset::parse`] takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pid => "pid",
            Self::Mdl => "mdl",
            Self::HealthCard => "health-card",
        }
    }

    /// `vct`.
    pub fn vct(self) -> &'static str {
        match self {
            Self::Pid => Vct::PID,
            Self::Mdl => Vct::MDL,
            Self::HealthCard => HEALTH_CARD_VCT,
        }
    }

    /// The default `credential_configuration_id`.
    pub fn configuration_id(self) -> &'static str {
        match self {
            Self::Pid => "dc_sd_jwt_PersonIdentificationData",
            Self::Mdl => "dc_sd_jwt_mDL",
            Self::HealthCard => "dc_sd_jwt_EuropeanHealthInsuranceCard",
        }
    }

    /// `scope`.
    pub fn scope(self) -> &'static str {
        match self {
            Self::Pid => "PersonIdentificationData",
            Self::Mdl => "mDL",
            Self::HealthCard => "EuropeanHealthInsuranceCard",
        }
    }

    /// Display name (it-IT).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Pid => "Dati di identificazione personale",
            Self::Mdl => "Patente di guida",
            Self::HealthCard => "Tessera sanitaria",
        }
    }

    /// The claims the credential carries (for type metadata and `claims` in the
    /// configuration), in order.
    pub fn claims(self) -> &'static [&'static str] {
        match self {
            Self::Pid => &["given_name", "family_name", "birthdate", "place_of_birth", "nationalities", "tax_id_code"],
            Self::Mdl => &[
                "given_name",
                "family_name",
                "birth_date",
                "place_of_birth",
                "issue_date",
                "expiry_date",
                "issuing_country",
                "issuing_authority",
                "document_number",
                "portrait",
                "driving_privileges",
                "restrictions_conditions",
                "driving_privileges_details",
            ],
            Self::HealthCard => &["personal_administrative_number", "document_number", "given_name", "family_name", "birth_date", "authentic_source", "starting_date", "ending_date"],
        }
    }

    /// The sample table [`crate::samples`] creates, mapped claim for column.
    pub fn sample_source(self) -> Source {
        let same = |names: &[&str]| names.iter().map(|n| ((*n).to_owned(), (*n).to_owned())).collect::<BTreeMap<_, _>>();
        match self {
            Self::Pid => {
                let mut claims = same(&["given_name", "birthdate", "place_of_birth", "nationalities"]);
                claims.insert("family_name".into(), "surname".into());
                claims.insert("tax_id_code".into(), "tax_id_code_claim".into());
                Source { table: "residents".into(), key: "tax_id_code".into(), ready: None, claims, json: vec!["place_of_birth".into(), "nationalities".into()] }
            }
            Self::Mdl => {
                let mut claims = same(&[
                    "given_name",
                    "birth_date",
                    "place_of_birth",
                    "issue_date",
                    "expiry_date",
                    "issuing_country",
                    "issuing_authority",
                    "document_number",
                    "portrait",
                    "driving_privileges",
                    "restrictions_conditions",
                ]);
                claims.insert("family_name".into(), "surname".into());
                Source {
                    table: "licences".into(),
                    key: "tax_id_code".into(),
                    ready: Some("ready".into()),
                    claims,
                    json: vec!["place_of_birth".into(), "driving_privileges".into(), "restrictions_conditions".into()],
                }
            }
            Self::HealthCard => {
                let mut claims = same(&["document_number", "given_name", "birth_date", "authentic_source", "starting_date", "ending_date"]);
                claims.insert("family_name".into(), "surname".into());
                claims.insert("personal_administrative_number".into(), "tax_id_code".into());
                Source { table: "health_cards".into(), key: "tax_id_code".into(), ready: None, claims, json: vec!["authentic_source".into()] }
            }
        }
    }

    /// SD-JWT VC type metadata for the `vct` (SD-JWT VC draft §6: `vct`, `name`, `display`,
    /// `claims` with `path`, `display`, `sd`).
    pub fn type_metadata(self) -> Value {
        let claims: Vec<Value> = self.claims().iter().map(|c| json!({"path": [c], "sd": "always", "display": [{"lang": "it-IT", "label": c.replace('_', " ")}]})).collect();
        json!({
            "vct": self.vct(),
            "name": self.display_name(),
            "display": [{"lang": "it-IT", "name": self.display_name()}],
            "claims": claims,
        })
    }
}
