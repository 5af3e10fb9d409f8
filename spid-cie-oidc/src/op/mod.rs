//! A test OpenID Provider of the SPID/CIE profile, for development, demos and tests. Not a
//! mock: the provider side of the same profile, a federation entity with `openid_provider`
//! metadata whose Entity Configuration the trust-anchor crate's router serves.
//!
//! Routes (beside the federation entity's `/.well-known/openid-federation` and admin API):
//!
//! | path | what |
//! |---|---|
//! | `GET/POST /authorization` | request object validation, then the login page |
//! | `POST /login` | the tester's choice (`session`, `fiscal_number`, `acr`) → redirect with `code` |
//! | `POST /token` | `authorization_code` (PKCE S256) and `refresh_token`, `private_key_jwt` |
//! | `GET/POST /userinfo` | signed-then-encrypted UserInfo (`application/jwt`) |
//! | `POST /introspection` | RFC 7662, `private_key_jwt` |
//! | `POST /revocation` | RFC 7009, `private_key_jwt` |
//!
//! Every error is JSON (`error`, `error_description`): the provider's own OAuth errors
//! ([`OAuthError`], which redirects those §B.2 says to redirect), and every framework
//! rejection (wrong content type, bad form or query, unknown route, wrong method) through
//! service-kit's extractors and its `json_errors` layer. `/authorization` and `/login` are
//! rate limited per client ([`OpConfig::login_rate_limit`]); every response carries
//! anti-framing headers (the login page must not be framed: clickjacking).
//!
//! Profiles ([`Profile`]): SPID answers a refresh with an ID Token at SpidL1 and revoking an
//! access token revokes its grant's refresh tokens; CIE answers a refresh with no ID Token,
//! rotates refresh tokens, and revoking an access token leaves its refresh token alone.

pub mod authorize;
pub mod error;
pub mod identities;
pub mod page;
pub mod registration;
pub mod store;
pub mod token;
pub mod userinfo;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use service_kit::error::{ErrorProfile, json_errors};
use service_kit::{FetchLimits, OutboundHttp, RateLimit, RateLimiter};
use serde_json::{Map, Value, json};
use sha2::Digest as _;
use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::jose::b64;

use crate::claims::{Acr, Attribute};
use crate::discovery::Discovery;
use crate::keys::{CoreKeys, KeyError, RsaBits, load_or_create_file, random_bytes};
pub use error::OAuthError;
pub use identities::{TestIdentity, default_identities};
pub use registration::{RegisteredRp, RegistrationError};

/// Which national profile the provider follows where SPID and CIE differ (§B.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// SPID.
    #[default]
    Spid,
    /// CIE id.
    Cie,
}

/// What the operator of the test provider configures.
#[derive(Debug, Clone)]
pub struct OpConfig {
    /// The provider's Entity Identifier, also its OIDC `issuer`.
    pub entity_id: EntityId,
    /// Keys, salt and the federation entity's registry live here.
    pub data_dir: PathBuf,
    /// Trust anchors the RPs must chain to.
    pub trust_anchors: Vec<TrustAnchorConfig>,
    /// Superiors (OPs sit directly under the trust anchor, §B.1).
    pub authority_hints: Vec<EntityId>,
    /// Trust mark types an RP must carry one of; empty = any type the anchor recognises.
    pub required_trust_marks: Vec<String>,
    /// The identities on the login page.
    pub identities: Vec<TestIdentity>,
    /// SPID or CIE behaviour.
    pub profile: Profile,
    /// Bearer token of the federation entity's admin API.
    pub admin_token: String,
    /// `organization_name`.
    pub organization_name: String,
    /// Size of core keys generated on first start.
    pub key_bits: RsaBits,
    /// Access token lifetime (check-op: 15 min).
    pub access_token_ttl: i64,
    /// ID Token lifetime (check-op: 5 min).
    pub id_token_ttl: i64,
    /// Refresh token lifetime (≤ 30 days, §B.3).
    pub refresh_token_ttl: i64,
    /// Authorization code lifetime (django: 10 min) and login page session lifetime.
    pub code_ttl: i64,
    /// Requests per client to `/authorization` and `/login` together (default 120 a minute,
    /// bursts of 60).
    pub login_rate_limit: RateLimit,
    /// Requests per client to `/token`, `/userinfo`, `/introspection` and `/revocation`
    /// together (default 600 a minute, bursts of 120).
    pub token_rate_limit: RateLimit,
    /// Load balancers whose `X-Forwarded-For` names the client for the rate limit.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Bounds on outbound fetches (RP registration by trust chain): timeout per fetch,
    /// deadline per incoming request, fetches in flight.
    pub outbound: FetchLimits,
}

impl OpConfig {
    /// A SPID test provider with the built-in identities.
    pub fn new(entity_id: EntityId, data_dir: PathBuf, trust_anchors: Vec<TrustAnchorConfig>, authority_hints: Vec<EntityId>) -> Self {
        Self {
            entity_id,
            data_dir,
            trust_anchors,
            authority_hints,
            required_trust_marks: Vec::new(),
            identities: default_identities(),
            profile: Profile::Spid,
            admin_token: String::new(),
            organization_name: "Tessera test OpenID Provider".into(),
            key_bits: RsaBits::B2048,
            access_token_ttl: 900,
            id_token_ttl: 300,
            refresh_token_ttl: 30 * 86_400,
            code_ttl: 600,
            login_rate_limit: RateLimit::new(120, 60),
            token_rate_limit: RateLimit::new(600, 120),
            trusted_proxies: Vec::new(),
            outbound: FetchLimits::default(),
        }
    }
}

/// Why the provider could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// Keys.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// Identities.
    #[error(transparent)]
    Identities(#[from] identities::IdentitiesError),
    /// The federation entity.
    #[error("federation entity: {0}")]
    Federation(String),
    /// Files.
    #[error("{0}")]
    Io(String),
    /// A configuration value out of range.
    #[error("configuration: {0}")]
    Config(String),
}

/// The provider's state; cheap to clone.
#[derive(Clone)]
pub struct OpState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: OpConfig,
    pub(crate) keys: CoreKeys,
    pub(crate) discovery: Discovery,
    pub(crate) registrations: registration::Registrations,
    pub(crate) store: store::Store,
    pub(crate) federation: trust_anchor::AppState,
    pub(crate) login_limiter: Arc<RateLimiter>,
    pub(crate) token_limiter: Arc<RateLimiter>,
    salt: [u8; 32],
}

impl OpState {
    /// Loads (or creates) keys under `config.data_dir` and opens the federation entity
    /// (`<data_dir>/federation`).
    pub fn open(config: OpConfig) -> Result<Self, OpError> {
        identities::validate(&config.identities)?;
        // Lifetimes the provider adds to `now`: bounded here, so issuing never overflows.
        for (name, v, max) in [
            ("access_token_ttl", config.access_token_ttl, 86_400),
            ("id_token_ttl", config.id_token_ttl, 86_400),
            ("refresh_token_ttl", config.refresh_token_ttl, 30 * 86_400),
            ("code_ttl", config.code_ttl, 3_600),
        ] {
            wallet_core::time::Ttl::new(name, v, max).map_err(|e| OpError::Config(e.to_string()))?;
        }
        // The salt is made before the keys, once, and never replaced: every pairwise `sub`
        // derives from it, so a salt that cannot be read, is not 32 bytes or is gone while the
        // keys remain (it is always there before them) stops the start instead of silently
        // giving every citizen a new `sub`.
        let keys_exist = config.data_dir.join("op-core-keys.json").exists();
        std::fs::create_dir_all(&config.data_dir).map_err(|e| OpError::Io(format!("{}: {e}", config.data_dir.display())))?;
        let salt: [u8; 32] = load_or_create_file(
            &config.data_dir.join("op-pairwise-salt"),
            |b| <[u8; 32]>::try_from(b).map_err(|_| KeyError::Invalid(format!("a pairwise salt is 32 bytes, this file has {}", b.len()))),
            || {
                if keys_exist {
                    return Err(KeyError::Invalid("op-pairwise-salt is missing while the provider's keys (op-core-keys.json) exist: every pairwise sub derives from it; restore it, or remove op-core-keys.json too to start as a new provider".into()));
                }
                random_bytes::<32>().map(|b| b.to_vec())
            },
        )?;
        let keys = CoreKeys::load_or_create(&config.data_dir, "op-core-keys.json", config.key_bits)?;
        let metadata = provider_metadata(&config, &keys);
        let mut fed = trust_anchor::Config::trust_anchor(config.entity_id.clone(), config.data_dir.join("federation"), config.admin_token.clone());
        fed.authority = false;
        fed.authority_hints = config.authority_hints.clone();
        fed.organization_name = config.organization_name.clone();
        fed.trust_anchors = config.trust_anchors.clone();
        fed.metadata = {
            let mut m = Map::new();
            m.insert("openid_provider".into(), metadata);
            m
        };
        let federation = trust_anchor::AppState::open(fed).map_err(|e| OpError::Federation(e.to_string()))?;
        let http = OutboundHttp::new(config.outbound).map_err(|e| OpError::Config(format!("outbound HTTP: {e}")))?;
        let discovery = Discovery::new(config.trust_anchors.clone(), 2, http);
        let login_limiter = Arc::new(RateLimiter::new("op-login", config.login_rate_limit).with_trusted_proxies(config.trusted_proxies.clone()));
        let token_limiter = Arc::new(RateLimiter::new("op-token", config.token_rate_limit).with_trusted_proxies(config.trusted_proxies.clone()));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                keys,
                discovery,
                registrations: registration::Registrations::default(),
                store: store::Store::default(),
                federation,
                login_limiter,
                token_limiter,
                salt,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OpConfig {
        &self.inner.config
    }

    /// The federation entity (its keys, its configuration).
    pub fn federation(&self) -> &trust_anchor::AppState {
        &self.inner.federation
    }

    /// The provider's `openid_provider` metadata.
    pub fn metadata(&self) -> Value {
        provider_metadata(&self.inner.config, &self.inner.keys)
    }

    /// The core keys.
    pub fn keys(&self) -> &CoreKeys {
        &self.inner.keys
    }

    /// `issuer`.
    pub fn issuer(&self) -> &str {
        self.inner.config.entity_id.as_str()
    }

    /// An endpoint URL.
    pub fn endpoint(&self, path: &str) -> String {
        endpoint(&self.inner.config.entity_id, path)
    }

    /// The pairwise `sub` of a person at an RP: SHA-256 over a secret salt, the RP and the
    /// fiscal number (§B.3: `sub` is pairwise).
    pub fn pairwise_sub(&self, client_id: &EntityId, fiscal_number: &str) -> String {
        let mut h = sha2::Sha256::new();
        h.update(self.inner.salt);
        h.update(client_id.as_str().as_bytes());
        h.update([0u8]);
        h.update(fiscal_number.as_bytes());
        b64::encode(h.finalize())
    }

    /// The identity with this fiscal number.
    pub fn identity(&self, fiscal_number: &str) -> Option<&TestIdentity> {
        self.inner.config.identities.iter().find(|i| i.fiscal_number == fiscal_number)
    }
}

fn endpoint(id: &EntityId, path: &str) -> String {
    format!("{}/{path}", id.as_str().trim_end_matches('/'))
}

/// The `openid_provider` metadata (§B.1 "OP metadata (required)", AgID check-op 1.3–1.5).
fn provider_metadata(c: &OpConfig, keys: &CoreKeys) -> Value {
    let id = &c.entity_id;
    let sig_algs = json!(["RS256", "RS512"]);
    let verify_algs = json!(["RS256", "RS512", "ES256", "ES512", "PS256", "PS512"]);
    let mut scopes = vec!["openid", "offline_access"];
    if c.profile == Profile::Cie {
        scopes.extend(["profile", "email"]);
    }
    let mut md = json!({
        "issuer": id,
        "authorization_endpoint": endpoint(id, "authorization"),
        "token_endpoint": endpoint(id, "token"),
        "userinfo_endpoint": endpoint(id, "userinfo"),
        "introspection_endpoint": endpoint(id, "introspection"),
        "revocation_endpoint": endpoint(id, "revocation"),
        "revocation_endpoint_auth_methods_supported": ["private_key_jwt"],
        "introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["form_post", "query"],
        "grant_types_supported": ["refresh_token", "authorization_code"],
        "acr_values_supported": Acr::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "subject_types_supported": ["pairwise"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": verify_algs,
        "claims_parameter_supported": true,
        "request_parameter_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "client_registration_types_supported": ["automatic"],
        // check-op's form; the docs' example uses `{"ar": [...]}` (§B.1).
        "request_authentication_methods_supported": {"authorization_endpoint": ["request_object"]},
        "request_authentication_signing_alg_values_supported": verify_algs,
        "request_object_signing_alg_values_supported": verify_algs,
        "id_token_signing_alg_values_supported": sig_algs,
        "userinfo_signing_alg_values_supported": sig_algs,
        "userinfo_encryption_alg_values_supported": ["RSA-OAEP", "RSA-OAEP-256"],
        "userinfo_encryption_enc_values_supported": ["A128CBC-HS256", "A256CBC-HS512"],
        "claims_supported": Attribute::ALL.iter().map(|a| a.claim()).chain(["sub"]).collect::<Vec<_>>(),
        "jwks": keys.jwks(),
    });
    if c.profile == Profile::Cie
        && let Value::Object(m) = &mut md
    {
        m.insert("claims_supported".into(), json!(Attribute::ALL.iter().map(|a| a.claim()).chain(["sub", "email_verified"]).collect::<Vec<_>>()));
    }
    md
}

/// The provider's router: the federation entity's routes (Entity Configuration, admin API)
/// merged with the OIDC endpoints; every error in the JSON form, `/authorization` and
/// `/login` rate limited per client (and, apart, `/token`, `/userinfo`, `/introspection`,
/// `/revocation`), anti-framing headers on every response. Serve it with
/// [`serve`] (or `service_kit::serve::serve`) so the rate limit sees client addresses;
/// without them every client shares one bucket.
pub fn router(state: OpState) -> Router {
    let login = Router::new()
        .route("/authorization", get(authorize::authorization_get).post(authorize::authorization_post))
        .route("/login", post(authorize::login));
    let login = service_kit::rate_limit::limit(login, state.inner.login_limiter.clone());
    let tokens = Router::new()
        .route("/token", post(token::token))
        .route("/userinfo", get(userinfo::userinfo_get).post(userinfo::userinfo_post))
        .route("/introspection", post(token::introspection))
        .route("/revocation", post(token::revocation));
    let oidc = login
        .merge(service_kit::rate_limit::limit(tokens, state.inner.token_limiter.clone()))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state.clone());
    let all = trust_anchor::router(state.inner.federation.clone()).merge(oidc);
    service_kit::serve::no_framing(json_errors(all, ErrorProfile::OAUTH))
}

/// Binds `addr` and serves until `shutdown` completes; the bound address goes to `bound`.
pub async fn serve(
    state: OpState,
    addr: std::net::SocketAddr,
    bound: tokio::sync::oneshot::Sender<std::net::SocketAddr>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let _ = bound.send(listener.local_addr()?);
    service_kit::serve::serve(listener, router(state), shutdown).await
}
