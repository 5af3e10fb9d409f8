//! User attributes and authentication levels (SPID/CIE OIDC §B.5).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `https://attributes.eid.gov.it`, the namespace of the Italian attributes.
pub const ATTR_PREFIX: &str = "https://attributes.eid.gov.it";
/// `https://attributes.eid.gov.it/fiscal_number` (`TINIT-<codice fiscale>`).
pub const FISCAL_NUMBER: &str = "https://attributes.eid.gov.it/fiscal_number";
/// The old namespace some examples still use (tolerated on input, §B.5).
pub const FISCAL_NUMBER_OLD: &str = "https://attributes.spid.gov.it/fiscal_number";

/// An authentication level. SPID and CIE id use the same URIs, ordered L1 < L2 < L3 (§B.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Acr {
    /// `https://www.spid.gov.it/SpidL1`.
    SpidL1,
    /// `https://www.spid.gov.it/SpidL2`.
    SpidL2,
    /// `https://www.spid.gov.it/SpidL3`.
    SpidL3,
}

impl Acr {
    /// All levels, lowest first.
    pub const ALL: [Acr; 3] = [Acr::SpidL1, Acr::SpidL2, Acr::SpidL3];

    /// The URI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SpidL1 => "https://www.spid.gov.it/SpidL1",
            Self::SpidL2 => "https://www.spid.gov.it/SpidL2",
            Self::SpidL3 => "https://www.spid.gov.it/SpidL3",
        }
    }

    /// Parses a space-separated `acr_values` string (preference order kept); an unknown value
    /// or an empty list is an error.
    pub fn parse_list(s: &str) -> Result<Vec<Acr>, UnknownAcr> {
        let v: Vec<Acr> = s.split(' ').filter(|x| !x.is_empty()).map(str::parse).collect::<Result<_, _>>()?;
        if v.is_empty() {
            return Err(UnknownAcr(s.to_owned()));
        }
        Ok(v)
    }

    /// Joins levels as `acr_values` does.
    pub fn join(levels: &[Acr]) -> String {
        levels.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" ")
    }
}

/// An `acr` value that is none of the three SPID levels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown acr value `{0}`")]
pub struct UnknownAcr(pub String);

impl FromStr for Acr {
    type Err = UnknownAcr;
    fn from_str(s: &str) -> Result<Self, UnknownAcr> {
        Acr::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| UnknownAcr(s.to_owned()))
    }
}

impl fmt::Display for Acr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Acr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Acr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `place_of_birth` (§B.5): `region` (province code) and `locality` (Belfiore code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOfBirth {
    /// Province / region code, e.g. `RM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Belfiore code, e.g. `H501`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
}

/// The attributes a UserInfo response carries, typed; everything else is in `extra`.
/// `fiscal_number` is also read from the old namespace and from bare `fiscal_number` (§B.5,
/// namespace inconsistencies to tolerate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    /// `sub` (pairwise).
    pub sub: String,
    /// `https://attributes.eid.gov.it/fiscal_number`, `TINIT-…`.
    #[serde(rename = "https://attributes.eid.gov.it/fiscal_number", alias = "https://attributes.spid.gov.it/fiscal_number", alias = "fiscal_number", default, skip_serializing_if = "Option::is_none")]
    pub fiscal_number: Option<String>,
    /// `given_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// `family_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// `birthdate`, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    /// `place_of_birth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_of_birth: Option<PlaceOfBirth>,
    /// `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `gender`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Other claims (`iss`, `aud`, `iat`, `exp`, `jti` and attributes not typed here).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The attributes an RP may ask for, by their claim names (§B.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attribute {
    /// `https://attributes.eid.gov.it/fiscal_number`.
    FiscalNumber,
    /// `given_name`.
    GivenName,
    /// `family_name`.
    FamilyName,
    /// `birthdate`.
    Birthdate,
    /// `place_of_birth`.
    PlaceOfBirth,
    /// `email`.
    Email,
    /// `gender`.
    Gender,
}

impl Attribute {
    /// Every attribute the test provider knows.
    pub const ALL: [Attribute; 7] = [
        Attribute::FiscalNumber,
        Attribute::GivenName,
        Attribute::FamilyName,
        Attribute::Birthdate,
        Attribute::PlaceOfBirth,
        Attribute::Email,
        Attribute::Gender,
    ];

    /// The claim name.
    pub fn claim(self) -> &'static str {
        match self {
            Self::FiscalNumber => FISCAL_NUMBER,
            Self::GivenName => "given_name",
            Self::FamilyName => "family_name",
            Self::Birthdate => "birthdate",
            Self::PlaceOfBirth => "place_of_birth",
            Self::Email => "email",
            Self::Gender => "gender",
        }
    }

    /// The attribute a claim name denotes (old namespaces accepted).
    pub fn from_claim(name: &str) -> Option<Self> {
        match name {
            FISCAL_NUMBER | FISCAL_NUMBER_OLD | "fiscal_number" => Some(Self::FiscalNumber),
            other => Self::ALL.into_iter().find(|a| a.claim() == other),
        }
    }
}

/// The `claims` request parameter (OIDC Core §5.5) as SPID/CIE use it (§B.2): the `userinfo`
/// member, and for CIE also `id_token`. Each entry is `null` or `{"essential": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClaimsRequest {
    /// Asked in UserInfo: (attribute, essential).
    pub userinfo: Vec<(Attribute, bool)>,
    /// Asked in the ID Token (CIE only; SPID refuses it).
    pub id_token: Vec<(Attribute, bool)>,
}

impl ClaimsRequest {
    /// UserInfo claims, none essential.
    pub fn userinfo(attrs: &[Attribute]) -> Self {
        Self { userinfo: attrs.iter().map(|a| (*a, false)).collect(), id_token: Vec::new() }
    }

    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let member = |v: &[(Attribute, bool)]| {
            let mut m = Map::new();
            for (a, essential) in v {
                m.insert(a.claim().into(), if *essential { serde_json::json!({"essential": true}) } else { Value::Null });
            }
            Value::Object(m)
        };
        let mut out = Map::new();
        out.insert("userinfo".into(), member(&self.userinfo));
        if !self.id_token.is_empty() {
            out.insert("id_token".into(), member(&self.id_token));
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acr_order_and_parse() {
        assert!(Acr::SpidL1 < Acr::SpidL3);
        assert_eq!(Acr::parse_list("https://www.spid.gov.it/SpidL3 https://www.spid.gov.it/SpidL2").unwrap(), vec![Acr::SpidL3, Acr::SpidL2]);
        assert!(Acr::parse_list("https://www.spid.gov.it/SpidL4").is_err());
        assert!(Acr::parse_list("").is_err());
    }

    #[test]
    fn userinfo_reads_old_fiscal_number_namespace() {
        let u: UserInfo = serde_json::from_value(serde_json::json!({"sub": "x", FISCAL_NUMBER_OLD: "TINIT-X"})).unwrap();
        assert_eq!(u.fiscal_number.as_deref(), Some("TINIT-X"));
    }
}
