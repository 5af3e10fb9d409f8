//! The provider's state: configuration, database, keys, the federation entity it runs as,
//! the key attestation verifier, the SPID/CIE relying party, counters and the clock.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use spid_cie_oidc::{RelyingParty, RpConfig};
use wallet_core::attestation::KeyAttestationVerifier;
use wallet_core::time::{Clock, SystemClock, UnixTime};

use crate::config::Config;
use crate::error::ProviderError;
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::store::Store;

/// Why the provider could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The configuration breaks a rule.
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// Keys, certificates or the data directory.
    #[error("keys: {0}")]
    Keys(String),
    /// The database.
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The federation entity.
    #[error("federation entity: {0}")]
    Federation(String),
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct WalletProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WalletProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletProvider").field("entity_id", &self.inner.config.entity_id).finish_non_exhaustive()
    }
}

struct Inner {
    config: Config,
    store: Store,
    keys: Keys,
    federation: trust_anchor::AppState,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    key_attestation: Arc<dyn KeyAttestationVerifier>,
    relying_party: Option<RelyingParty>,
}

/// Builds a [`WalletProvider`] with non-default seams.
pub struct Builder {
    config: Config,
    clock: Arc<dyn Clock>,
    extra_metadata: Map<String, Value>,
    key_attestation: Option<Arc<dyn KeyAttestationVerifier>>,
    relying_party: Option<RelyingParty>,
}

impl Builder {
    /// The clock (tests pin time).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The key attestation verifier (default: wallet-core's `KeyAttestationPolicy` from the
    /// configuration: software format unless `production`, Android with `android_roots`).
    pub fn key_attestation(mut self, v: Arc<dyn KeyAttestationVerifier>) -> Self {
        self.key_attestation = Some(v);
        self
    }

    /// The SPID/CIE relying party (default: opened from the configuration when
    /// `op_entity_id` is set: `client_id` = our entity id, redirect URI
    /// `<entity id>/citizen/callback`, keys under `<data_dir>/rp`, the pinned trust anchor).
    /// Its `openid_relying_party` metadata goes into our Entity Configuration.
    pub fn relying_party(mut self, rp: RelyingParty) -> Self {
        self.relying_party = Some(rp);
        self
    }

    /// Opens the database, loads (or creates) the keys and the federation entity.
    pub fn open(self) -> Result<WalletProvider, OpenError> {
        let config = self.config;
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| OpenError::Keys(format!("{}: {e}", config.data_dir.display())))?;
        let keys = Keys::open(&config).map_err(OpenError::Keys)?;
        let store = Store::open(&config.data_dir.join("wallet-provider.sqlite"))?;
        let relying_party = match (self.relying_party, &config.op_entity_id, &config.trust_anchor_jwks) {
            (Some(rp), _, _) => Some(rp),
            (None, Some(_), Some(jwks)) => {
                let anchors = vec![wallet_core::federation::TrustAnchorConfig { id: config.trust_anchor.clone(), jwks: jwks.clone() }];
                let rc = RpConfig::new(config.entity_id.clone(), config.endpoint(crate::citizen::CITIZEN_CALLBACK), config.data_dir.join("rp"), anchors);
                Some(RelyingParty::open(rc).map_err(|e| OpenError::Federation(format!("relying party: {e}")))?)
            }
            (None, Some(_), None) => return Err(OpenError::Config(crate::config::ConfigError::Invalid("citizen login (op_entity_id) needs the trust anchor's keys pinned (trust_anchor_jwks)".into()))),
            (None, None, _) => None,
        };
        let mut metadata = self.extra_metadata;
        metadata.insert("wallet_solution".into(), wallet_solution_metadata(&config, &keys));
        if let Some(rp) = &relying_party {
            metadata.insert("openid_relying_party".into(), rp.metadata());
        }
        let mut fed = trust_anchor::Config::trust_anchor(config.entity_id.clone(), config.data_dir.clone(), config.admin_token.clone());
        fed.authority = false;
        fed.authority_hints = config.authority_hints.clone();
        fed.organization_name = config.organization_name.clone();
        fed.metadata = metadata;
        if let Some(jwks) = &config.trust_anchor_jwks {
            fed.trust_anchors = vec![wallet_core::federation::TrustAnchorConfig { id: config.trust_anchor.clone(), jwks: jwks.clone() }];
        }
        let federation = trust_anchor::AppState::open(fed).map_err(OpenError::Federation)?;
        let key_attestation = match self.key_attestation {
            Some(v) => v,
            None => Arc::new(crate::attest::policy(&config).map_err(OpenError::Keys)?),
        };
        Ok(WalletProvider {
            inner: Arc::new(Inner { config, store, keys, federation, metrics: Metrics::default(), clock: self.clock, key_attestation, relying_party }),
        })
    }
}

/// `wallet_solution` metadata (IT-Wallet 1.4 §2.4, `wallet-solution-metadata.rst`): `jwks`
/// (the attestation key, by value), `logo_uri`, and `wallet_metadata` (the wallet metadata
/// of §5.1 plus `wallet_name`). Our choices: the wallet is invoked through the
/// `openid4vp://` / `haip-vp://` schemes, so no `authorization_endpoint`; no
/// `credential_offer_endpoint` (issuer-initiated offers are not supported yet).
fn wallet_solution_metadata(config: &Config, keys: &Keys) -> Value {
    let logo = if config.logo_uri.is_empty() { config.endpoint(crate::routes::LOGO_PATH) } else { config.logo_uri.clone() };
    json!({
        "jwks": keys.wallet_solution_jwks(),
        "logo_uri": logo,
        "wallet_metadata": {
            "wallet_name": config.solution.wallet_solution_id,
            "vp_formats_supported": {
                "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]},
                "mso_mdoc": {"alg": ["ES256"]}
            },
            "client_id_prefixes_supported": ["openid_federation", "x509_hash"],
            "response_types_supported": ["vp_token"],
            "response_modes_supported": ["direct_post.jwt"],
            "request_object_signing_alg_values_supported": ["ES256"]
        }
    })
}

impl WalletProvider {
    /// A builder over `config` (system clock).
    pub fn builder(config: Config) -> Builder {
        Builder { config, clock: Arc::new(SystemClock), extra_metadata: Map::new(), key_attestation: None, relying_party: None }
    }

    /// Opens the provider with the system clock.
    pub fn open(config: Config) -> Result<Self, OpenError> {
        Self::builder(config).open()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The keys.
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// The federation entity (Entity Configuration, admin API).
    pub fn federation(&self) -> &trust_anchor::AppState {
        &self.inner.federation
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The key attestation verifier.
    pub fn key_attestation(&self) -> &dyn KeyAttestationVerifier {
        self.inner.key_attestation.as_ref()
    }

    /// The SPID/CIE relying party, when citizen login is configured.
    pub fn relying_party(&self) -> Option<&RelyingParty> {
        self.inner.relying_party.as_ref()
    }

    /// Now, from the configured clock.
    pub fn now(&self) -> UnixTime {
        self.inner.clock.now()
    }

    /// Creates a session for `fiscal_number` without a SPID/CIE login and returns its bearer
    /// token. For operators' scripts and tests only: the citizen's identity is taken on
    /// trust. The normal path is `/citizen/login`.
    pub fn insecure_create_session(&self, fiscal_number: &str) -> Result<String, ProviderError> {
        crate::routes::create_session(self, fiscal_number).map(|(token, _)| token)
    }
}
