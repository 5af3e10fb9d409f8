//! The OP as the RP sees it: its `openid_provider` metadata after the federation's policy
//! (SPID/CIE OIDC §B.1), typed.

use serde::Deserialize;
use serde_json::{Map, Value};
use wallet_core::federation::{EntityId, ValidatedChain};
use wallet_core::jose::jwk::JwkSet;

use super::RpError;

/// The resolved `openid_provider` metadata the RP uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    /// `issuer`.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `userinfo_endpoint`.
    pub userinfo_endpoint: String,
    /// `revocation_endpoint`.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// `introspection_endpoint`.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// The OP's core keys: `jwks` (the profile uses `jwks`, not `jwks_uri`).
    pub jwks: JwkSet,
    /// `acr_values_supported`.
    #[serde(default)]
    pub acr_values_supported: Vec<String>,
    /// `code_challenge_methods_supported`.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A provider found through its trust chain.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Its Entity Identifier.
    pub entity_id: EntityId,
    /// Its resolved metadata.
    pub metadata: ProviderMetadata,
    /// Its `federation_entity.organization_name`, shown to citizens choosing a provider.
    pub organization_name: Option<String>,
}

impl Provider {
    /// Reads the `openid_provider` metadata of a validated chain and checks what the RP
    /// relies on: `S256` among the PKCE methods (when listed) and a non-empty `jwks`.
    pub fn from_chain(chain: &ValidatedChain) -> Result<Self, RpError> {
        let md = chain.metadata_of("openid_provider").ok_or_else(|| RpError::ProviderMetadata("no openid_provider metadata".into()))?;
        let metadata: ProviderMetadata =
            serde_json::from_value(Value::Object(md.clone())).map_err(|e| RpError::ProviderMetadata(e.to_string()))?;
        if !metadata.code_challenge_methods_supported.is_empty() && !metadata.code_challenge_methods_supported.iter().any(|m| m == "S256") {
            return Err(RpError::ProviderMetadata("the provider does not support PKCE S256".into()));
        }
        if metadata.jwks.keys.is_empty() {
            return Err(RpError::ProviderMetadata("the provider publishes no jwks".into()));
        }
        let organization_name = chain.metadata_of("federation_entity").and_then(|m| m.get("organization_name")).and_then(Value::as_str).map(str::to_owned);
        Ok(Self { entity_id: chain.subject.claims.sub.clone(), metadata, organization_name })
    }
}
