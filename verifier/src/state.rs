//! The verifier's state: configuration, database, keys, the federation entity it runs as,
//! outbound HTTP, the issuer chain and status caches, limiters, the clock.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use service_kit::RateLimiter;
use wallet_core::federation::{ChainCache, ChainMemo};
use wallet_core::oid4vp::VerifierMetadata;
use wallet_core::oid4vp::metadata::VERIFIER_ENTITY_TYPE;
use wallet_core::oid4vp::verify::StatusCache;
use wallet_core::time::{Clock, SystemClock, UnixTime};
use wallet_core::x509::TrustAnchors;
use wallet_core::x509::crl::CrlCache;

use crate::config::Config;
use crate::keys::Keys;
use crate::store::Store;

/// Why the verifier could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The configuration breaks a rule.
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// Keys or the data directory.
    #[error("keys: {0}")]
    Keys(String),
    /// The database.
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The federation entity or outbound HTTP.
    #[error("federation entity: {0}")]
    Federation(String),
    /// The TLS certificate or key.
    #[error("{0}")]
    Tls(#[from] service_kit::serve::TlsError),
}

/// The rate limiters.
#[derive(Debug, Clone)]
pub struct Limiters {
    /// `request_uri`, `response_uri`.
    pub wallet: Arc<RateLimiter>,
    /// The integrator API.
    pub integrator: Arc<RateLimiter>,
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("entity_id", &self.inner.config.entity_id).finish_non_exhaustive()
    }
}

struct Inner {
    config: Config,
    store: Store,
    keys: Keys,
    federation: trust_anchor::AppState,
    http: service_kit::OutboundHttp,
    chains: ChainCache,
    chain_memo: ChainMemo,
    /// The trust marks required of credential issuers, and what checking them keeps.
    issuer_marks: service_kit::trust_marks::MarkKeeper,
    /// Issuer JWTs' protected headers, parsed once per issuer's header.
    header_memo: wallet_core::jose::HeaderMemo,
    statuses: StatusCache,
    crls: CrlCache,
    x509: Option<TrustAnchors>,
    clock: Arc<dyn Clock>,
    limiters: Limiters,
    metrics: crate::metrics::Metrics,
    changes: tokio::sync::watch::Sender<u64>,
    tls: Option<Arc<service_kit::serve::ServerConfig>>,
    request_client_metadata: VerifierMetadata,
    queries: crate::queries::Queries,
}

/// Builds a [`Verifier`] with non-default seams.
pub struct Builder {
    config: Config,
    clock: Arc<dyn Clock>,
    x509: Option<TrustAnchors>,
}

impl Builder {
    /// The clock (tests pin time).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The federation CA roots, instead of `x509_roots` in the configuration.
    pub fn x509_roots(mut self, roots: TrustAnchors) -> Self {
        self.x509 = Some(roots);
        self
    }

    /// Opens the database, loads (or creates) the keys and the federation entity.
    pub fn open(self) -> Result<Verifier, OpenError> {
        let config = self.config;
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| OpenError::Keys(format!("{}: {e}", config.data_dir.display())))?;
        let tls = config.tls.as_ref().map(service_kit::serve::load_tls).transpose()?;
        let keys = Keys::open(&config).map_err(OpenError::Keys)?;
        let store = match &config.database_url {
            Some(url) => Store::postgres(url)?,
            None => Store::open(&config.data_dir.join("verifier.sqlite"))?,
        };
        // PostgreSQL: connect now, so that a wrong URL or an unreachable server fails at start.
        store.ping()?;
        let x509 = match self.x509 {
            Some(x) => Some(x),
            None if config.x509_roots_pem.trim().is_empty() => None,
            None => Some(TrustAnchors::from_pem(&config.x509_roots_pem).map_err(|e| OpenError::Config(crate::config::ConfigError::Invalid(format!("x509_roots: {e}"))))?),
        };
        let mut metadata = Map::new();
        metadata.insert(VERIFIER_ENTITY_TYPE.into(), verifier_metadata_value(&config, &keys));
        metadata.insert("federation_entity".into(), federation_entity_metadata(&config));
        // The building block keeps its key ring where our keys are (replicas share them), and
        // its registry (our own trust marks) in the shared database when there is one.
        let mut fed = trust_anchor::Config::trust_anchor(config.entity_id.clone(), config.keys_dir().to_path_buf(), config.admin_token.clone());
        fed.database_url = config.database_url.clone();
        fed.authority = false;
        fed.authority_hints = config.authority_hints.clone();
        fed.organization_name = config.organization_name.clone();
        fed.metadata = metadata;
        fed.trust_anchors = config.trust_anchors.clone();
        fed.outbound = config.outbound;
        let federation = trust_anchor::AppState::open(fed).map_err(OpenError::Federation)?;
        let http = service_kit::OutboundHttp::with_ca(config.outbound, &config.outbound_ca).map_err(|e| OpenError::Federation(format!("outbound HTTP: {e}")))?;
        let l = |name: &'static str, limit| {
            Arc::new(RateLimiter::new(name, limit).with_max_clients(config.rate_limits.max_clients).with_trusted_proxies(config.rate_limits.trusted_proxies.clone()))
        };
        let limiters = Limiters { wallet: l("wallet", config.rate_limits.wallet), integrator: l("integrator", config.rate_limits.integrator) };
        let request_client_metadata = request_client_metadata(&config, &keys);
        let crls = CrlCache::new(config.crl_refresh);
        let issuer_marks = service_kit::trust_marks::MarkKeeper::new(config.credential_issuer_trust_marks.clone(), config.trust_mark_status_refresh, "credential issuer");
        Ok(Verifier {
            inner: Arc::new(Inner {
                config,
                store,
                keys,
                federation,
                http,
                chains: ChainCache::new(),
                chain_memo: ChainMemo::new(),
                issuer_marks,
                header_memo: wallet_core::jose::HeaderMemo::new(),
                statuses: StatusCache::new(),
                crls,
                x509,
                clock: self.clock,
                limiters,
                metrics: crate::metrics::Metrics::default(),
                changes: tokio::sync::watch::Sender::new(0),
                tls,
                request_client_metadata,
                queries: crate::queries::Queries::default(),
            }),
        })
    }
}

/// `federation_entity` (IT-Wallet 1.4 §1.1: `organization_name` (added by the federation
/// building block, with `federation_resolve_endpoint`), `homepage_uri`, `policy_uri`,
/// `logo_uri`, `contacts`; `tos_uri` optional).
pub fn federation_entity_metadata(config: &Config) -> Value {
    let mut m = json!({
        "homepage_uri": config.homepage_uri(),
        "policy_uri": config.policy_uri(),
        "logo_uri": config.logo(),
        "contacts": config.contacts(),
    });
    if !config.federation_entity.tos_uri.is_empty()
        && let Value::Object(o) = &mut m
    {
        o.insert("tos_uri".into(), Value::from(config.federation_entity.tos_uri.clone()));
    }
    m
}

/// `vp_formats_supported`: `dc+sd-jwt` with ES256 (what we verify); in the 1.4 profile
/// `mso_mdoc` too (versions note §5.6), though mdoc presentations are refused as not yet
/// verified by wallet-core.
fn vp_formats(config: &Config) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("dc+sd-jwt".into(), json!({"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}));
    if config.profile.offers_mdoc() {
        m.insert("mso_mdoc".into(), json!({"issuerauth_alg_values": [-9], "deviceauth_alg_values": [-9]}));
    }
    m
}

/// The `openid_credential_verifier` metadata (IT-Wallet 1.4 §5.1, `relying-party-metadata.rst`).
pub fn verifier_metadata(config: &Config, keys: &Keys) -> VerifierMetadata {
    VerifierMetadata {
        client_id: Some(config.entity_id.as_str().to_owned()),
        client_name: Some(config.client_name()),
        logo_uri: Some(config.logo()),
        application_type: Some("web".into()),
        request_uris: vec![config.endpoint(crate::routes::REQUEST_URI_PATH)],
        response_uris: vec![config.endpoint(crate::routes::RESPONSE_URI_PATH)],
        redirect_uris: config.redirect_uris.clone(),
        jwks: Some(keys.verifier_jwks()),
        encrypted_response_enc_values_supported: Some(vec!["A256GCM".into(), "A128GCM".into()]),
        vp_formats_supported: Some(vp_formats(config)),
        erasure_endpoint: Some(config.erasure()),
        contacts: Some(config.contacts()),
        extra: Map::new(),
    }
}

/// The `client_metadata` of every request object (OpenID4VP 1.0 §5.1, IT-Wallet 1.4 §5.1):
/// the response encryption key (each request object replaces it with its own,
/// `Keys::request_key`), the `enc` values and `vp_formats_supported`, and the
/// `client_name` and `logo_uri` a citizen's consent shows: for an `x509_hash` client the
/// request object is all the wallet has (no trust chain to read them from); a federation
/// wallet reads them from the chain, where they are the same.
fn request_client_metadata(config: &Config, keys: &Keys) -> VerifierMetadata {
    let md = verifier_metadata(config, keys);
    VerifierMetadata {
        client_name: md.client_name,
        logo_uri: md.logo_uri,
        jwks: Some(wallet_core::jose::JwkSet { keys: vec![keys.encryption().public_jwk().clone()] }),
        encrypted_response_enc_values_supported: md.encrypted_response_enc_values_supported,
        vp_formats_supported: md.vp_formats_supported,
        ..Default::default()
    }
}

fn verifier_metadata_value(config: &Config, keys: &Keys) -> Value {
    serde_json::to_value(verifier_metadata(config, keys)).unwrap_or(Value::Null)
}

impl Verifier {
    /// A builder over `config` (system clock, roots from the configuration).
    pub fn builder(config: Config) -> Builder {
        Builder { config, clock: Arc::new(SystemClock), x509: None }
    }

    /// Opens the verifier with the system clock.
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

    /// Outbound HTTP: bounded, trusting the system's roots and `[outbound] ca_certificates`
    /// (issuer chains, status lists, our own chain, webhooks).
    pub fn http(&self) -> &service_kit::OutboundHttp {
        &self.inner.http
    }

    /// Issuer chains resolved so far.
    pub fn chains(&self) -> &ChainCache {
        &self.inner.chains
    }

    /// Credentials' `trust_chain` headers validated so far (each distinct chain once, until
    /// its earliest `exp`).
    pub fn chain_memo(&self) -> &ChainMemo {
        &self.inner.chain_memo
    }

    /// The trust marks required of credential issuers (`credential_issuer_trust_marks`).
    pub fn issuer_marks(&self) -> &service_kit::trust_marks::MarkKeeper {
        &self.inner.issuer_marks
    }

    /// Issuer JWTs' protected headers parsed so far (the same on every credential of an
    /// issuer's key: wallet-core `HeaderMemo`).
    pub fn header_memo(&self) -> &wallet_core::jose::HeaderMemo {
        &self.inner.header_memo
    }

    /// Status lists fetched so far.
    pub fn statuses(&self) -> &StatusCache {
        &self.inner.statuses
    }

    /// CRLs of issuers' certificates fetched so far.
    pub fn crls(&self) -> &CrlCache {
        &self.inner.crls
    }

    /// The federation CA roots.
    pub fn x509_roots(&self) -> Option<&TrustAnchors> {
        self.inner.x509.as_ref()
    }

    /// The rate limiters.
    pub fn limiters(&self) -> &Limiters {
        &self.inner.limiters
    }

    /// The counters.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    /// Ticks whenever a session changes in this process ([`Verifier::watch`] wakes on it).
    pub fn changes(&self) -> &tokio::sync::watch::Sender<u64> {
        &self.inner.changes
    }

    /// Tells watchers that a session changed.
    pub fn changed(&self) {
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The TLS server configuration (`[tls]`), loaded at open.
    pub fn tls(&self) -> Option<&Arc<service_kit::serve::ServerConfig>> {
        self.inner.tls.as_ref()
    }

    /// Now.
    pub fn now(&self) -> UnixTime {
        self.inner.clock.now()
    }

    /// Our `openid_credential_verifier` metadata.
    pub fn metadata(&self) -> VerifierMetadata {
        verifier_metadata(&self.inner.config, &self.inner.keys)
    }

    /// The sessions' DCQL queries, parsed once.
    pub fn queries(&self) -> &crate::queries::Queries {
        &self.inner.queries
    }

    /// The `client_metadata` every request object carries, built at open.
    pub fn request_client_metadata(&self) -> &VerifierMetadata {
        &self.inner.request_client_metadata
    }
}

impl service_kit::AdminAuth for Verifier {
    fn admin_token(&self) -> &str {
        &self.inner.config.admin_token
    }
}
