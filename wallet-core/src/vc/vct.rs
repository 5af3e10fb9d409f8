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

    /// Whether `document`, the type metadata bytes exactly as fetched, matches the
    /// `vct#integrity` value `integrity` (SD-JWT VC §6/§7 "Document Integrity", IT-Wallet 1.4
    /// §4.1: W3C SRI, sha256/384/512). Its form is checked first ([`check_integrity`]: an
    /// unsupported or forbidden algorithm is an error, not a value skipped). As W3C SRI §3.3.5
    /// says, only the digests of the strongest algorithm listed count, and one of them
    /// matching is enough. `Ok(false)`: well formed, no digest matches. The digests are public
    /// data: compared plainly.
    pub fn integrity_matches(integrity: &str, document: &[u8]) -> Result<bool, VcError> {
        use base64::Engine as _;
        use sha2::Digest as _;
        check_integrity(integrity)?;
        let parsed: Vec<(&str, Vec<u8>)> = integrity
            .split_whitespace()
            .filter_map(|token| {
                let (alg, digest) = token.split_once('-')?;
                let digest = digest.split('?').next().unwrap_or_default();
                let bytes = base64::engine::general_purpose::STANDARD.decode(digest).or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(digest)).ok()?;
                Some((alg, bytes))
            })
            .collect();
        let strength = |alg: &str| match alg {
            "sha512" => 3,
            "sha384" => 2,
            "sha256" => 1,
            _ => 0,
        };
        let strongest = parsed.iter().map(|(alg, _)| strength(alg)).max().unwrap_or_default();
        let computed = |alg: &str| -> Vec<u8> {
            match alg {
                "sha512" => sha2::Sha512::digest(document).to_vec(),
                "sha384" => sha2::Sha384::digest(document).to_vec(),
                _ => sha2::Sha256::digest(document).to_vec(),
            }
        };
        Ok(parsed.iter().filter(|(alg, _)| strength(alg) == strongest).any(|(alg, digest)| computed(alg) == *digest))
    }

    /// The `vct#integrity` value an issuer puts in its credentials for type metadata served
    /// as exactly `document`: `sha256-` + base64 (standard, padded) of its SHA-256 (W3C SRI).
    pub fn integrity_of(document: &[u8]) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(document)))
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

    /// SRI vectors over the type metadata bytes `{"vct":"urn:eudi:mDL:it:1"}`.
    #[test]
    fn integrity_matches_the_served_bytes() {
        use base64::Engine as _;
        use sha2::Digest as _;
        let doc = br#"{"vct":"urn:eudi:mDL:it:1"}"#;
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let good256 = format!("sha256-{}", b64(&sha2::Sha256::digest(doc)));
        let good384 = format!("sha384-{}", b64(&sha2::Sha384::digest(doc)));
        let good512 = format!("sha512-{}", b64(&sha2::Sha512::digest(doc)));
        let wrong256 = format!("sha256-{}", b64(&sha2::Sha256::digest(b"other bytes")));
        // Good sha256, and what the issuer emits.
        assert_eq!(Vct::integrity_matches(&good256, doc), Ok(true));
        assert_eq!(Vct::integrity_of(doc), good256);
        // Good sha384 and sha512.
        assert_eq!(Vct::integrity_matches(&good384, doc), Ok(true));
        assert_eq!(Vct::integrity_matches(&good512, doc), Ok(true));
        // Unpadded base64 and an SRI option are read.
        assert_eq!(Vct::integrity_matches(&format!("{}?opt", good256.trim_end_matches('=')), doc), Ok(true));
        // Wrong digest; the right digest over other bytes.
        assert_eq!(Vct::integrity_matches(&wrong256, doc), Ok(false));
        assert_eq!(Vct::integrity_matches(&good256, br#"{"vct": "urn:eudi:mDL:it:1"}"#), Ok(false));
        // A sha256 digest under the sha384 name: the wrong length, malformed.
        let misnamed = good256.replacen("sha256", "sha384", 1);
        assert_eq!(Vct::integrity_matches(&misnamed, doc), Err(VcError::InvalidIntegrity(misnamed.clone())));
        // Unsupported or forbidden algorithms.
        for bad in ["md5-1B2M2Y8AsgTpgAmY7PhCfg==", "sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=", "sha3-AAAA", ""] {
            assert_eq!(Vct::integrity_matches(bad, doc), Err(VcError::InvalidIntegrity(bad.into())), "{bad}");
        }
        // Several values, one of which matches.
        assert_eq!(Vct::integrity_matches(&format!("{wrong256} {good256}"), doc), Ok(true));
        assert_eq!(Vct::integrity_matches(&format!("{wrong256}  {wrong256}"), doc), Ok(false));
        // W3C SRI §3.3.5: only the strongest algorithm counts.
        assert_eq!(Vct::integrity_matches(&format!("{wrong256} {good384}"), doc), Ok(true));
        assert_eq!(Vct::integrity_matches(&format!("{good256} sha512-{}", b64(&sha2::Sha512::digest(b"x"))), doc), Ok(false));
    }

    #[test]
    fn integrity_forms() {
        check_integrity("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").unwrap();
        for bad in ["md5-1B2M2Y8AsgTpgAmY7PhCfg==", "sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=", "sha256-AAAA", "", "sha256"] {
            assert_eq!(check_integrity(bad), Err(VcError::InvalidIntegrity(bad.into())), "{bad}");
        }
    }
}
