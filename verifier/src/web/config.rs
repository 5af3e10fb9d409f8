//! The in-person page's configuration: `[web]` in the verifier's TOML.
//!
//! ```toml
//! [web]
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
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// The operators (none: the page refuses every login).
    pub operators: Vec<Operator>,
}
