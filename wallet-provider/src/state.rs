//! The provider's state: configuration, database, keys, the federation entity it runs as,
//! the key attestation verifier, the SPID/CIE relying party, counters and the clock.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use service_kit::RateLimiter;
use spid_cie_oidc::{RelyingParty, RpConfig};
use wallet_core::attestation::KeyAttestationVerifier;
use wallet_core::time::{Clock, SystemClock, UnixTime};

use crate::config::Config;
use crate::error::ProviderError;
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::store::Store;

/// The rate limiters, one per group of routes ([`crate::config::RateLimits`]).
#[derive(Debug, Clone)]
pub struct Limiters {
    /// `/citizen/login`, `/citizen/callback`.
    pub login: Arc<RateLimiter>,
    /// `/citizen/session`.
    pub session: Arc<RateLimiter>,
    /// `/nonce`.
    pub nonce: Arc<RateLimiter>,
    /// Registration.
    pub registration: Arc<RateLimiter>,
    /// `/wallet-attestation`.
    pub attestation: Arc<RateLimiter>,
    /// The PDND e-service.
    pub pdnd: Arc<RateLimiter>,
}

impl Limiters {
    fn new(c: &crate::config::RateLimits) -> Self {
        let l = |name: &'static str, limit| {
            Arc::new(RateLimiter::new(name, limit).with_max_clients(c.max_clients).with_trusted_proxies(c.trusted_proxies.clone()))
        };
        Self {
            login: l("login", c.login),
            session: l("session", c.session),
            nonce: l("nonce", c.nonce),
            registration: l("registration", c.registration),
            attestation: l("attestation", c.attestation),
            pdnd: l("pdnd", c.pdnd),
        }
    }

    /// All of them.
    pub fn all(&self) -> [&Arc<RateLimiter>; 6] {
        [&self.login, &self.session, &self.nonce, &self.registration, &self.attestation, &self.pdnd]
    }
}

/// The `*_alg*` / `*_enc*` (and JWK `alg`) values of `metadata`, at any depth, that
/// IT-Wallet 1.4 forbids (`algorithms.rst` MUST NOT, ALL-007: wallet-core's
/// [`wallet_core::jose::alg::it_wallet_forbidden`]), as `path = value`: never advertised in our
/// Entity Configuration.
pub fn forbidden_algorithms(metadata: &Value) -> Vec<String> {
    fn walk(v: &Value, path: &str, alg_key: bool, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key_is_alg = k.contains("_alg") || k.contains("_enc") || k == "alg" || k == "enc";
                    walk(v, &format!("{path}.{k}"), key_is_alg, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, path, alg_key, out)),
            Value::String(s) if alg_key && wallet_core::jose::alg::it_wallet_forbidden(s) => out.push(format!("{path} = {s}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(metadata, "", false, &mut out);
    out
}

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
    limiters: Limiters,
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
    /// `<entity id>/citizen/callback`, keys under `<keys_dir>/rp`, the pinned trust anchor).
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
        let store = match &config.database_url {
            Some(url) => Store::postgres(url)?,
            None => Store::open(&config.data_dir.join("wallet-provider.sqlite"))?,
        };
        // PostgreSQL: connect now, so that a wrong URL or an unreachable server fails at start.
        store.ping()?;
        let relying_party = match (self.relying_party, &config.op_entity_id, &config.trust_anchor_jwks) {
            (Some(rp), _, _) => Some(rp),
            (None, Some(_), Some(jwks)) => {
                let anchors = vec![wallet_core::federation::TrustAnchorConfig { id: config.trust_anchor.clone(), jwks: jwks.clone() }];
                let mut rc = RpConfig::new(config.entity_id.clone(), config.endpoint(crate::citizen::CITIZEN_CALLBACK), config.keys_dir().join("rp"), anchors);
                // IT-Wallet 1.4 forbids RSA-OAEP (ALL-007); RSA-OAEP-256 is a MUST there and
                // SPID/CIE OPs support it.
                rc.userinfo_alg = spid_cie_oidc::jwe_rsa::KeyAlg::RsaOaep256;
                rc.client_name = config.organization_name.clone();
                rc.contacts = contacts(&config);
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
        metadata.insert("federation_entity".into(), federation_entity_metadata(&config));
        let forbidden = forbidden_algorithms(&Value::Object(metadata.clone()));
        if !forbidden.is_empty() {
            return Err(OpenError::Config(crate::config::ConfigError::Invalid(format!(
                "metadata advertises algorithms IT-Wallet 1.4 forbids (ALL-007): {}",
                forbidden.join(", ")
            ))));
        }
        // The building block keeps its key ring where our keys are (replicas share them), and
        // its registry (our own trust marks) in the shared database when there is one.
        let mut fed = trust_anchor::Config::trust_anchor(config.entity_id.clone(), config.keys_dir().to_path_buf(), config.admin_token.clone());
        fed.database_url = config.database_url.clone();
        fed.authority = false;
        fed.authority_hints = config.authority_hints.clone();
        fed.organization_name = config.organization_name.clone();
        fed.metadata = metadata;
        if let Some(jwks) = &config.trust_anchor_jwks {
            fed.trust_anchors = vec![wallet_core::federation::TrustAnchorConfig { id: config.trust_anchor.clone(), jwks: jwks.clone() }];
        }
        let federation = trust_anchor::AppState::open(fed).map_err(OpenError::Federation)?;
        let limiters = Limiters::new(&config.rate_limits);
        let key_attestation = match self.key_attestation {
            Some(v) => v,
            None => Arc::new(crate::attest::policy(&config).map_err(OpenError::Keys)?),
        };
        Ok(WalletProvider {
            inner: Arc::new(Inner {
                config,
                store,
                keys,
                federation,
                metrics: Metrics::default(),
                clock: self.clock,
                key_attestation,
                relying_party,
                limiters,
            }),
        })
    }
}

/// `contacts`: the configured ones, or `wallet-provider@<host>`.
fn contacts(config: &Config) -> Vec<String> {
    if config.federation_entity.contacts.is_empty() {
        vec![format!("wallet-provider@{}", config.entity_id.host())]
    } else {
        config.federation_entity.contacts.clone()
    }
}

/// `federation_entity` (IT-Wallet 1.4 §1.1: a leaf MUST publish `organization_name`,
/// `homepage_uri`, `policy_uri`, `logo_uri` (SVG), `contacts` and
/// `federation_resolve_endpoint`; `tos_uri` is optional). The federation building block adds
/// `organization_name` and `federation_resolve_endpoint`; defaults point at pages we serve.
pub fn federation_entity_metadata(config: &Config) -> Value {
    let f = &config.federation_entity;
    let mut m = json!({
        "homepage_uri": config.homepage_uri(),
        "policy_uri": config.policy_uri(),
        "logo_uri": config.logo(),
        "contacts": contacts(config),
    });
    if !f.tos_uri.is_empty()
        && let Value::Object(o) = &mut m
    {
        o.insert("tos_uri".into(), Value::from(f.tos_uri.clone()));
    }
    m
}

/// `wallet_solution` metadata (IT-Wallet 1.4 §2.4, `wallet-solution-metadata.rst`): `jwks`
/// (the attestation key, by value), `logo_uri`, and `wallet_metadata`: the wallet metadata
/// of §5.1 (`vp_formats_supported` with `dc+sd-jwt` and, as 1.4 has it, `mso_mdoc` with
/// `issuerauth_alg_values` / `deviceauth_alg_values` in COSE ids; `client_id_prefixes_supported`;
/// `response_types_supported`; `response_modes_supported`;
/// `request_object_signing_alg_values_supported`) plus `wallet_name` and
/// `credential_offer_endpoint`. We advertise what the wallet does: ES256 (COSE ESP256, -9).
/// Our choice: the wallet is invoked through the `openid4vp://` / `haip-vp://` schemes, so
/// no `authorization_endpoint`.
pub fn wallet_solution_metadata(config: &Config, keys: &Keys) -> Value {
    json!({
        "jwks": keys.wallet_solution_jwks(),
        "logo_uri": config.logo(),
        "wallet_metadata": {
            "wallet_name": config.solution.wallet_solution_id,
            "credential_offer_endpoint": config.credential_offer_endpoint,
            "vp_formats_supported": {
                "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]},
                "mso_mdoc": {"issuerauth_alg_values": [-9], "deviceauth_alg_values": [-9]}
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

    /// The rate limiters.
    pub fn limiters(&self) -> &Limiters {
        &self.inner.limiters
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

impl service_kit::AdminAuth for WalletProvider {
    fn admin_token(&self) -> &str {
        &self.inner.config.admin_token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_algorithms_are_found_at_any_depth_in_alg_and_enc_members_only() {
        let md = json!({
            "openid_relying_party": {"userinfo_encrypted_response_alg": "RSA-OAEP", "userinfo_encrypted_response_enc": "A256CBC-HS512",
                                     "jwks": {"keys": [{"kty": "RSA", "alg": "RS256"}, {"kty": "oct", "alg": "HS256"}]}},
            "wallet_solution": {"wallet_metadata": {"request_object_signing_alg_values_supported": ["ES256", "none"]}},
            "federation_entity": {"organization_name": "none"}
        });
        assert_eq!(
            forbidden_algorithms(&md),
            vec![
                ".openid_relying_party.userinfo_encrypted_response_alg = RSA-OAEP".to_owned(),
                ".openid_relying_party.jwks.keys.alg = HS256".to_owned(),
                ".wallet_solution.wallet_metadata.request_object_signing_alg_values_supported = none".to_owned(),
            ]
        );
        assert!(forbidden_algorithms(&json!({"x": {"userinfo_encrypted_response_alg": "RSA-OAEP-256"}})).is_empty());
    }
}
