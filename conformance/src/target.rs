//! The deployment under test and what the tool was told about it.

use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::oid4vp::Profile;

/// A deployment at a URL.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its entity id (the URL its `/.well-known/openid-federation` is under).
    pub entity_id: EntityId,
    /// The IT-Wallet profile to test against (what the target is expected to emit).
    pub profile: Profile,
    /// The federation's trust anchor, when the target is not itself one: chains and
    /// `/resolve` are tested against it.
    pub trust_anchor: Option<TrustAnchorConfig>,
    /// For the federation plan: the subordinate to fetch (default: the first `/list` gives).
    pub subordinate: Option<EntityId>,
}

impl Target {
    /// A target at `entity_id`, profile 1.4, nothing else known.
    pub fn new(entity_id: EntityId) -> Self {
        Self { entity_id, profile: Profile::default(), trust_anchor: None, subordinate: None }
    }

    /// The URL of `path` under the entity id (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.entity_id.as_str().trim_end_matches('/'))
    }
}
