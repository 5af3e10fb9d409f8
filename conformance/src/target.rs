//! The deployment under test and what the tool was told about it.

use std::sync::Arc;

use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::jose::{Signer as _, SoftwareSigner};
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
    /// For the rp plan: how the tool gets requests from the RP and credentials it trusts.
    pub rp: Option<RpSetup>,
}

impl Target {
    /// A target at `entity_id`, profile 1.4, nothing else known.
    pub fn new(entity_id: EntityId) -> Self {
        Self { entity_id, profile: Profile::default(), trust_anchor: None, subordinate: None, rp: None }
    }

    /// The URL of `path` under the entity id (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.entity_id.as_str().trim_end_matches('/'))
    }
}

/// What the `rp` plan needs: an integrator API to create presentation sessions (our
/// verifier's, or an RP's equivalent: `POST {sessions}/sessions`, `GET {sessions}/sessions/{id}`,
/// `POST {sessions}/sessions/{id}/result`, see the crate's README), and an issuer the RP
/// trusts whose signing key the tool holds (the tool's own test federation), to present
/// credentials the RP must accept.
#[derive(Debug, Clone)]
pub struct RpSetup {
    /// The integrator API's base URL (our verifier: its entity id).
    pub sessions: String,
    /// The integrator API's bearer token.
    pub token: String,
    /// The trusted issuer.
    pub issuer: TestIssuer,
}

/// An issuer of the tool's test federation: its entity id (the RP resolves its trust chain)
/// and the key its `openid_credential_issuer.jwks` publishes.
#[derive(Clone)]
pub struct TestIssuer {
    /// Its entity id (`iss` of the credentials).
    pub id: String,
    /// Its signing key.
    pub key: Arc<SoftwareSigner>,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer").field("id", &self.id).field("kid", &self.key.kid()).finish_non_exhaustive()
    }
}
