//! The in-person page's configuration: `[web]` in the verifier's TOML.
//!
//! ```toml
//! [web]
//! test_federation = true        # a "TEST DATA" banner on every page (`tessera up` sets it)
//! idle_timeout = 900            # seconds an operator stays logged in without a request
//! login_rate_limit = { per_minute = 10, burst = 5 }   # login attempts per client address
//! [[web.operators]]
//! username = "agente.rossi"
//! display_name = "Agente Rossi"
//! password_hash = "$argon2id$v=19$m=19456,t=2,p=1$..."
//! ```

use serde::Deserialize;

/// An operator account (configured by the verifier's admin; the password only as an
/// argon2 PHC hash).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    /// The login name.
    pub username: String,
    /// The name shown on the page.
    #[serde(default)]
    pub display_name: String,
    /// The argon2 PHC string of the password.
    pub password_hash: String,
}

/// `[web]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// The operators (none: the page refuses every login).
    pub operators: Vec<Operator>,
    /// Whether the federation this verifier trusts is a test one: every page then carries a
    /// "DATI DI TEST / TEST DATA" banner. The admin says so (`tessera up` does): a trust
    /// anchor's configuration does not tell whether it is a test one.
    pub test_federation: bool,
    /// Seconds an operator session lasts without a request (default 900).
    pub idle_timeout: u64,
    /// Login attempts per client address (default 10 a minute, 5 at once).
    pub login_rate_limit: service_kit::rate_limit::RateLimit,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            operators: Vec::new(),
            test_federation: false,
            idle_timeout: 900,
            login_rate_limit: service_kit::rate_limit::RateLimit::new(10, 5),
        }
    }
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing: {0}")]
pub struct HashError(String);

/// The argon2id PHC string of `password` (random salt, the crate's recommended parameters):
/// what an admin puts in `password_hash` (`tessera verifier hash-password`).
pub fn hash_password(password: &str) -> Result<String, HashError> {
    use argon2::password_hash::PasswordHasher as _;
    let h = argon2::Argon2::default().hash_password(password.as_bytes()).map_err(|e| HashError(e.to_string()))?;
    Ok(h.to_string())
}

/// Whether `password` matches the PHC string `hash` (argon2 compares in constant time).
/// A hash that does not parse never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier as _;
    let Ok(parsed) = argon2::password_hash::phc::PasswordHash::new(hash) else { return false };
    argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsE", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}
