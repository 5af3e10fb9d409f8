//! What an operator configures.

use std::path::PathBuf;

use serde_json::{Map, Value};
use wallet_core::federation::{EntityId, TrustAnchorConfig};

/// The configuration of one federation entity served by this crate.
#[derive(Debug, Clone)]
pub struct Config {
    /// This entity's identifier (its public base URL).
    pub entity_id: EntityId,
    /// Superiors; empty for a trust anchor.
    pub authority_hints: Vec<EntityId>,
    /// Whether it is an authority (serves `fetch` and `list`, keeps subordinates).
    pub authority: bool,
    /// Where keys and the registry live.
    pub data_dir: PathBuf,
    /// Bearer token of the admin API.
    pub admin_token: String,
    /// `organization_name` in `federation_entity` metadata.
    pub organization_name: String,
    /// Other metadata this entity publishes (`openid_relying_party`, ...).
    pub metadata: Map<String, Value>,
    /// Lifetime of the statements it signs, seconds.
    pub statement_ttl: i64,
    /// Trust anchors the `resolve` endpoint accepts.
    pub trust_anchors: Vec<TrustAnchorConfig>,
    /// Trust anchor only: trust mark type → entities allowed to issue it (published as
    /// `trust_mark_issuers`). The anchor may always issue the types named after it.
    pub trust_mark_issuers: std::collections::BTreeMap<String, Vec<String>>,
}

impl Config {
    /// A trust anchor at `entity_id` with its data under `data_dir`.
    pub fn trust_anchor(entity_id: EntityId, data_dir: PathBuf, admin_token: impl Into<String>) -> Self {
        Self {
            entity_id,
            authority_hints: Vec::new(),
            authority: true,
            data_dir,
            admin_token: admin_token.into(),
            organization_name: "Tessera Trust Anchor".into(),
            metadata: Map::new(),
            statement_ttl: 86_400,
            trust_anchors: Vec::new(),
            trust_mark_issuers: Default::default(),
        }
    }

    /// Whether this entity is a trust anchor (an authority with no superior).
    pub fn is_trust_anchor(&self) -> bool {
        self.authority && self.authority_hints.is_empty()
    }

    /// The full trust mark type for a short name, named as IT-Wallet does:
    /// `<entity id>/trust_marks/<name>`; a full URL is kept as given.
    pub fn trust_mark_type(&self, name: &str) -> String {
        if name.starts_with("https://") || name.starts_with("http://") {
            name.to_owned()
        } else {
            format!("{}/trust_marks/{name}", self.entity_id.as_str().trim_end_matches('/'))
        }
    }
}
