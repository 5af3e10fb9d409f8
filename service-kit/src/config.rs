//! What the services' configuration files share (issuer, verifier, wallet provider): the
//! error a configuration that cannot be used gives, and the trust material they name: trust
//! anchors with their JWK Set files, and PEM files of federation CA roots.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use wallet_core::federation::{EntityId, TrustAnchorConfig};

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file cannot be read.
    #[error("{path}: {detail}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The file or an override does not parse.
    #[error("{0}")]
    Parse(String),
    /// A value breaks a rule.
    #[error("{0}")]
    Invalid(String),
}

/// The text of `path`, or which file could not be read and why.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::Io { path: path.display().to_string(), detail: e.to_string() })
}

/// `field` as an entity id, or why not (naming the field).
pub fn entity(field: &str, v: &str) -> Result<EntityId, ConfigError> {
    EntityId::new(v).map_err(|e| ConfigError::Invalid(format!("{field}: {e}")))
}

/// A trust anchor as a configuration file names it: `[[trust_anchors]] id = "https://…"`,
/// `jwks = "/path/ta-jwks.json"` (its Federation Entity Keys, pinned).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorFile {
    /// The anchor's entity id.
    pub id: String,
    /// A JWK Set file (JSON).
    pub jwks: PathBuf,
}

/// The trust anchors `files` name, each with its keys read and parsed.
pub fn trust_anchors(files: Vec<AnchorFile>) -> Result<Vec<TrustAnchorConfig>, ConfigError> {
    files
        .into_iter()
        .map(|a| {
            let jwks = serde_json::from_str(&read(&a.jwks)?).map_err(|e| ConfigError::Parse(format!("{}: {e}", a.jwks.display())))?;
            Ok(TrustAnchorConfig { id: entity("trust_anchors.id", &a.id)?, jwks })
        })
        .collect()
}

/// A number of seconds from the configuration, `field`: 0 or more (a negative one names the
/// field and the value).
pub fn seconds(field: &str, v: i64) -> Result<i64, ConfigError> {
    if v < 0 {
        return Err(ConfigError::Invalid(format!("{field} must be 0 or more seconds, got {v}")));
    }
    Ok(v)
}

/// The PEM files `paths` (`x509_roots`: federation CA roots), one after the other; checked
/// when the configuration is validated ([`check_pem_roots`]).
pub fn pem_files(paths: &[PathBuf]) -> Result<String, ConfigError> {
    let mut pem = String::new();
    for p in paths {
        pem.push_str(&read(p)?);
        pem.push('\n');
    }
    Ok(pem)
}

/// `x509_roots` read as certificates, or why not; an empty bundle is none configured.
pub fn check_pem_roots(pem: &str) -> Result<(), ConfigError> {
    if pem.trim().is_empty() {
        return Ok(());
    }
    wallet_core::x509::TrustAnchors::from_pem(pem).map(|_| ()).map_err(|e| ConfigError::Invalid(format!("x509_roots: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_or_bad_keys_are_named() {
        let dir = std::env::temp_dir().join(format!("service-kit-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.json");
        let e = trust_anchors(vec![AnchorFile { id: "https://ta.example.it".into(), jwks: missing.clone() }]).unwrap_err();
        assert!(matches!(&e, ConfigError::Io { path, .. } if *path == missing.display().to_string()), "{e}");
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "not json").unwrap();
        let e = trust_anchors(vec![AnchorFile { id: "https://ta.example.it".into(), jwks: bad.clone() }]).unwrap_err();
        assert!(matches!(&e, ConfigError::Parse(m) if m.starts_with(&bad.display().to_string())), "{e}");
        let keys = dir.join("keys.json");
        std::fs::write(&keys, r#"{"keys": []}"#).unwrap();
        let e = trust_anchors(vec![AnchorFile { id: "not a url".into(), jwks: keys.clone() }]).unwrap_err();
        assert!(matches!(&e, ConfigError::Invalid(m) if m.starts_with("trust_anchors.id")), "{e}");
        assert_eq!(trust_anchors(vec![AnchorFile { id: "https://ta.example.it".into(), jwks: keys }]).unwrap().len(), 1);
        assert_eq!(check_pem_roots(" \n"), Ok(()));
        assert!(matches!(check_pem_roots("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), Err(ConfigError::Invalid(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
