//! Credential type identifiers (`vct`, SD-JWT VC §3.2.2.1) and `vct#integrity`.

use std::fmt;

use super::VcError;

/// A `vct`: compared case-sensitively, versioned (IT-Wallet 1.4 §4.1), e.g.
/// `urn:eudi:pid:it:1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Vct(pub(super) String);

impl Vct {
    /// The Italian PID (IT-Wallet 1.4 §4.3).
    pub const PID: &'static str = "urn:eudi:pid:it:1";
    /// The transitional PID identifier, still accepted (IT-Wallet 1.4 §4.3).
    pub const PID_TRANSITIONAL: &'static str = "urn:it-wallet:pid:1";
    /// The mobile driving licence as SD-JWT VC (IT-Wallet 1.4 §4.4).
    pub const MDL: &'static str = "urn:eudi:mDL:it:1";
    /// The European Health Insurance Card (DC4EU rulebook; IT-Wallet 1.4 §4.5 defines none).
    pub const EHIC: &'static str = "urn:eudi:ehic:1";

    /// Validates: non-empty, at most 2048 characters, no white space or control characters.
    pub fn new(s: impl Into<String>) -> Result<Self, VcError> {
        let s = s.into();
        if s.is_empty() || s.len() > 2048 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(VcError::InvalidVct(s));
        }
        Ok(Self(s))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the Italian PID, under either of its identifiers.
    pub fn is_pid(&self) -> bool {
        matches!(self.0.as_str(), Self::PID | Self::PID_TRANSITIONAL)
    }
}

impl fmt::Display for Vct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Vct {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vct::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Checks the form of a `vct#integrity` value: W3C Subresource Integrity metadata, one or
/// more `sha256-`, `sha384-` or `sha512-` + base64 digests; MD5 and SHA-1 are forbidden
/// (IT-Wallet 1.4 §4.1).
pub fn check_integrity(value: &str) -> Result<(), VcError> {
    let mut any = false;
    for token in value.split_whitespace() {
        let (alg, digest) = token.split_once('-').ok_or_else(|| VcError::InvalidIntegrity(value.to_owned()))?;
        let expected_len = match alg {
            "sha256" => 32,
            "sha384" => 48,
            "sha512" => 64,
            _ => return Err(VcError::InvalidIntegrity(value.to_owned())),
        };
        use base64::Engine as _;
        let digest = digest.split('?').next().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(digest)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(digest))
            .map_err(|_| VcError::InvalidIntegrity(value.to_owned()))?;
        if bytes.len() != expected_len {
            return Err(VcError::InvalidIntegrity(value.to_owned()));
        }
        any = true;
    }
    if any { Ok(()) } else { Err(VcError::InvalidIntegrity(value.to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vct_rules() {
        assert!(Vct::new(Vct::PID).is_ok());
        assert_eq!(Vct::new(""), Err(VcError::InvalidVct(String::new())));
        assert_eq!(Vct::new("urn:a b"), Err(VcError::InvalidVct("urn:a b".into())));
    }

    #[test]
    fn integrity_forms() {
        check_integrity("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").unwrap();
        for bad in ["md5-1B2M2Y8AsgTpgAmY7PhCfg==", "sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=", "sha256-AAAA", "", "sha256"] {
            assert_eq!(check_integrity(bad), Err(VcError::InvalidIntegrity(bad.into())), "{bad}");
        }
    }
}
