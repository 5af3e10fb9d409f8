//! What an operator configures: a TOML file, then `TESSERA_WP_*` environment overrides,
//! then [`Config::validate`]. Tests and `tessera up` build it with [`Config::new`].
//!
//! ```toml
//! entity_id = "https://wallet-provider.example.it"
//! data_dir = "/var/lib/tessera/wallet-provider"
//! listen = "0.0.0.0:7610"
//! production = true
//! trust_anchor = "https://trust-anchor.example.it"
//! trust_anchor_jwks = "/etc/tessera/ta.jwks"        # pinned trust anchor keys (required in production)
//! authority_hints = ["https://trust-anchor.example.it"]
//! op_entity_id = "https://op.example.it"           # the SPID/CIE OpenID Provider
//! allowed_redirect_uris = ["https://wallet.example.it/activate", "it.example.wallet://activate"]
//! android_roots = ["/etc/tessera/google-attestation-roots.pem"]
//! waa_ttl = 3600
//! database_url = "postgres://wp:secret@db.internal/tessera?options=-csearch_path%3Dwallet_provider"  # else SQLite in data_dir
//! keys_dir = "/etc/tessera/wallet-provider-keys"  # replicas: the same keys (default data_dir)
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use service_kit::RateLimit;
use service_kit::config::{entity, read};
use wallet_core::attestation::SecurityLevel;
use wallet_core::federation::EntityId;
use wallet_core::jose::jwk::JwkSet;

/// At most 24 h for a Wallet App Attestation (IT-Wallet 1.4 §2.3, WP_144), less the minute
/// the protocol certificate that signs it is backdated: the WAA must end within its
/// certificate, which is valid at most 24 h (IT-Wallet 1.4 §1.2, WP_020; see [`crate::keys`]).
pub const MAX_WAA_TTL: i64 = crate::keys::PROTOCOL_CERT_TTL;
/// Active wallet instances one citizen may hold unless configured otherwise.
pub const DEFAULT_MAX_INSTANCES_PER_CITIZEN: u32 = 10;
/// At least one month for a Wallet Unit Attestation (IT-Wallet 1.4 §2.3 "Validity").
pub const MIN_WUA_TTL: i64 = 30 * 86_400;

/// A configuration that cannot be used (the services share it).
pub use service_kit::config::ConfigError;

/// General information the WAA and WUA carry (`eudi_wallet_info.general_info`, IT-Wallet
/// 1.4 §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct WalletSolutionInfo {
    /// `wallet_provider_name`.
    pub wallet_provider_name: String,
    /// `wallet_solution_id`.
    pub wallet_solution_id: String,
    /// `wallet_solution_version`.
    pub wallet_solution_version: String,
    /// `wallet_solution_certification_information`.
    pub wallet_solution_certification_information: String,
}

/// Rate limits per client (`[rate_limits]`): sustained requests per minute and burst, per
/// client address (the peer, or the last `X-Forwarded-For` entry a trusted proxy appended).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// `/citizen/login` and `/citizen/callback` (each starts or finishes a SPID/CIE login).
    pub login: RateLimit,
    /// `/citizen/session`.
    pub session: RateLimit,
    /// `/nonce`.
    pub nonce: RateLimit,
    /// Registration (`/wallet-instances` POST, `/instance-initialization`).
    pub registration: RateLimit,
    /// `/wallet-attestation`.
    pub attestation: RateLimit,
    /// The PDND e-service (`/e-service/notify-user-death`).
    pub pdnd: RateLimit,
    /// Addresses of the load balancers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Clients remembered per limiter (memory bound).
    pub max_clients: usize,
    /// `/health` reports degraded when a limiter refused more than this many requests since
    /// the previous look (a flood in progress).
    pub health_refusal_threshold: u64,
}

impl Default for RateLimits {
    /// A citizen activates a wallet with a handful of calls; the defaults leave room for
    /// retries and for several phones behind one address (a family's NAT), and stop floods.
    fn default() -> Self {
        Self {
            login: RateLimit::new(30, 10),
            session: RateLimit::new(30, 10),
            nonce: RateLimit::new(120, 30),
            registration: RateLimit::new(20, 5),
            attestation: RateLimit::new(60, 20),
            pdnd: RateLimit::new(600, 100),
            trusted_proxies: Vec::new(),
            max_clients: service_kit::rate_limit::DEFAULT_MAX_CLIENTS,
            health_refusal_threshold: 100,
        }
    }
}

/// What the provider's `federation_entity` metadata says about its operator (IT-Wallet 1.4
/// §1.1: a leaf MUST publish `organization_name`, `homepage_uri`, `policy_uri`, `logo_uri`,
/// `contacts`; `tos_uri` is optional). Empty values get defaults under the entity id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FederationEntityInfo {
    /// `homepage_uri` (default: the entity id, which serves a short page).
    pub homepage_uri: String,
    /// `policy_uri` (default: `<entity id>/policy`, served).
    pub policy_uri: String,
    /// `tos_uri` (optional).
    pub tos_uri: String,
    /// `contacts`: PEC addresses (default: `wallet-provider@<host>`).
    pub contacts: Vec<String>,
}

/// The PDND e-service "Notify User Death" (IT-Wallet 1.4 §2.4, §2.5; WP_008): the PID
/// Provider, through PDND, asks us to revoke every wallet instance of a deceased citizen.
/// PDND's voucher is modelled as an ES256-signed JWT (`typ` `at+jwt`) from the configured
/// issuer's keys.
#[derive(Debug, Clone, PartialEq)]
pub struct PdndConfig {
    /// The voucher's `iss` (PDND's authorization server).
    pub issuer: String,
    /// Its public keys (the voucher's `kid` picks one).
    pub jwks: JwkSet,
    /// The voucher's expected `aud`: this e-service (default: its URL under our entity id).
    pub audience: String,
    /// `client_id`s allowed to call (the PID Providers' PDND clients).
    pub client_ids: Vec<String>,
    /// `purposeId`s allowed; empty: any purpose of an allowed client.
    pub purpose_ids: Vec<String>,
    /// The longest voucher lifetime accepted (`exp - iat`), seconds.
    pub max_lifetime: i64,
}

/// `[pdnd]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PdndFile {
    issuer: Option<String>,
    jwks: Option<PathBuf>,
    audience: Option<String>,
    #[serde(default)]
    client_ids: Vec<String>,
    #[serde(default)]
    purpose_ids: Vec<String>,
    max_lifetime: Option<i64>,
}

/// The default `max_lifetime` of a PDND voucher (PDND issues them for 10 minutes to an hour).
pub const DEFAULT_PDND_MAX_LIFETIME: i64 = 3_600;

/// The configuration of one wallet provider.
#[derive(Debug, Clone)]
pub struct Config {
    /// The provider's entity identifier (its public base URL; also the WAA/WUA `iss`).
    pub entity_id: EntityId,
    /// Keys, certificates and the database live here (the keys in `keys_dir` when given).
    pub data_dir: PathBuf,
    /// Where the keys live (the attestation key, the federation entity's keys, the SPID/CIE
    /// relying party's keys and its login-sealing key under `rp/`); `None`: `data_dir`.
    /// Replicas share one (see [`crate::keys`]).
    pub keys_dir: Option<PathBuf>,
    /// PostgreSQL instead of the SQLite file (`postgres://user:password@host/db`, a schema
    /// of its own through `?options=-csearch_path%3D<schema>`): replicas behind a load
    /// balancer share it ([`crate::store`]), with the federation entity's registry (our own
    /// trust marks).
    pub database_url: Option<String>,
    /// Where `serve_addr` binds when used by an operator (`tessera up` picks its own).
    pub listen: SocketAddr,
    /// Production: software key attestations are refused and the trust anchor's keys must be
    /// pinned.
    pub production: bool,
    /// The trust anchor whose chain signs our attestations' `trust_chain`.
    pub trust_anchor: EntityId,
    /// Its pinned Federation Entity Keys; when absent (development only) they are taken from
    /// its self-signed Entity Configuration at first use.
    pub trust_anchor_jwks: Option<JwkSet>,
    /// Our superiors in the federation (usually the trust anchor).
    pub authority_hints: Vec<EntityId>,
    /// The SPID/CIE OpenID Provider citizens log in with.
    pub op_entity_id: Option<EntityId>,
    /// Redirect URIs of the wallet app a login may return to (exact match).
    pub allowed_redirect_uris: Vec<String>,
    /// Bearer token of the federation entity's admin API (`/admin/own-trust-marks`, key
    /// rollover).
    pub admin_token: String,
    /// `organization_name` of the federation entity.
    pub organization_name: String,
    /// `logo_uri` of `wallet_solution` (SVG).
    pub logo_uri: String,
    /// `eudi_wallet_info.general_info`.
    pub solution: WalletSolutionInfo,
    /// PEM files of the roots accepted for Android Key Attestation chains (Google's hardware
    /// attestation roots in production); none: Android attestations are refused.
    pub android_roots: Vec<PathBuf>,
    /// The weakest Android key storage accepted (`trusted_environment` or `strongbox`).
    pub android_min_security_level: SecurityLevel,
    /// Wallet App Attestation lifetime, seconds (at most [`MAX_WAA_TTL`]).
    pub waa_ttl: i64,
    /// Wallet Unit Attestation lifetime, seconds (at least [`MIN_WUA_TTL`]).
    pub wua_ttl: i64,
    /// Nonce lifetime, seconds.
    pub nonce_ttl: i64,
    /// Session token lifetime, seconds.
    pub session_ttl: i64,
    /// One-time login code lifetime, seconds.
    pub login_code_ttl: i64,
    /// Status List Token lifetime (`exp - iat`, at most 24 h per IT-Wallet 1.4 §6).
    pub status_list_ttl: i64,
    /// `ttl` of the Status List Token: how long relying parties may cache it.
    pub status_list_cache_ttl: u64,
    /// Active wallet instances one citizen may hold; registration beyond it is refused
    /// (422 `validation_error`).
    pub max_instances_per_citizen: u32,
    /// Rate limits per client.
    pub rate_limits: RateLimits,
    /// Bounds on the provider's own outbound fetches (its trust chain).
    pub outbound: service_kit::FetchLimits,
    /// `federation_entity` metadata.
    pub federation_entity: FederationEntityInfo,
    /// `wallet_metadata.credential_offer_endpoint`: where the wallet receives credential
    /// offers (default the OpenID4VCI scheme `openid-credential-offer://`).
    pub credential_offer_endpoint: String,
    /// The PDND e-service; `None`: not offered (404).
    pub pdnd: Option<PdndConfig>,
}

/// The TOML file: every field optional except the identifiers.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    entity_id: Option<String>,
    data_dir: Option<PathBuf>,
    keys_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<String>,
    production: Option<bool>,
    trust_anchor: Option<String>,
    trust_anchor_jwks: Option<PathBuf>,
    authority_hints: Option<Vec<String>>,
    op_entity_id: Option<String>,
    allowed_redirect_uris: Option<Vec<String>>,
    admin_token: Option<String>,
    organization_name: Option<String>,
    logo_uri: Option<String>,
    wallet_provider_name: Option<String>,
    wallet_solution_id: Option<String>,
    wallet_solution_version: Option<String>,
    wallet_solution_certification_information: Option<String>,
    android_roots: Option<Vec<PathBuf>>,
    android_min_security_level: Option<String>,
    waa_ttl: Option<i64>,
    wua_ttl: Option<i64>,
    nonce_ttl: Option<i64>,
    session_ttl: Option<i64>,
    login_code_ttl: Option<i64>,
    status_list_ttl: Option<i64>,
    status_list_cache_ttl: Option<u64>,
    max_instances_per_citizen: Option<u32>,
    rate_limits: Option<RateLimits>,
    outbound: Option<service_kit::FetchLimits>,
    federation_entity: Option<FederationEntityInfo>,
    credential_offer_endpoint: Option<String>,
    pdnd: Option<PdndFile>,
}


fn list(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

impl Config {
    /// A development configuration: provider `entity_id` under the trust anchor, data under
    /// `data_dir`, no allowed redirect URIs, development mode, default lifetimes (WAA 1 h, WUA
    /// 31 days, nonce 5 min, session 15 min, login code 2 min, status list 12 h, cached 5 min).
    pub fn new(entity_id: EntityId, trust_anchor: EntityId, data_dir: PathBuf) -> Self {
        Self {
            authority_hints: vec![trust_anchor.clone()],
            entity_id,
            data_dir,
            keys_dir: None,
            database_url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 7610)),
            production: false,
            trust_anchor,
            trust_anchor_jwks: None,
            op_entity_id: None,
            allowed_redirect_uris: Vec::new(),
            admin_token: String::new(),
            organization_name: "Tessera Wallet Provider".into(),
            logo_uri: String::new(),
            solution: WalletSolutionInfo {
                wallet_provider_name: "Tessera".into(),
                wallet_solution_id: "tessera-wallet".into(),
                wallet_solution_version: env!("CARGO_PKG_VERSION").into(),
                wallet_solution_certification_information: String::new(),
            },
            android_roots: Vec::new(),
            android_min_security_level: SecurityLevel::TrustedEnvironment,
            waa_ttl: 3_600,
            wua_ttl: 31 * 86_400,
            nonce_ttl: 300,
            session_ttl: 900,
            login_code_ttl: 120,
            status_list_ttl: 12 * 3_600,
            status_list_cache_ttl: 300,
            max_instances_per_citizen: DEFAULT_MAX_INSTANCES_PER_CITIZEN,
            rate_limits: RateLimits::default(),
            outbound: service_kit::FetchLimits::default(),
            federation_entity: FederationEntityInfo::default(),
            credential_offer_endpoint: "openid-credential-offer://".into(),
            pdnd: None,
        }
    }

    /// Reads a TOML file, applies `TESSERA_WP_*` overrides from the process environment and
    /// validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read(path)?;
        Self::from_toml(&text, std::env::vars())
    }

    /// Parses TOML text, applies overrides (`TESSERA_WP_<FIELD>` in upper case; lists are
    /// comma-separated) from `env` and validates.
    pub fn from_toml(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut f: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        for (k, v) in env {
            let Some(name) = k.strip_prefix("TESSERA_WP_") else { continue };
            let int = |v: &str| v.parse::<i64>().map_err(|e| ConfigError::Parse(format!("{k}: {e}")));
            match name {
                "ENTITY_ID" => f.entity_id = Some(v),
                "DATA_DIR" => f.data_dir = Some(v.into()),
                "KEYS_DIR" => f.keys_dir = Some(v.into()),
                "DATABASE_URL" => f.database_url = Some(v),
                "LISTEN" => f.listen = Some(v),
                "PRODUCTION" => f.production = Some(matches!(v.as_str(), "1" | "true" | "yes")),
                "TRUST_ANCHOR" => f.trust_anchor = Some(v),
                "TRUST_ANCHOR_JWKS" => f.trust_anchor_jwks = Some(v.into()),
                "AUTHORITY_HINTS" => f.authority_hints = Some(list(&v)),
                "OP_ENTITY_ID" => f.op_entity_id = Some(v),
                "ALLOWED_REDIRECT_URIS" => f.allowed_redirect_uris = Some(list(&v)),
                "ADMIN_TOKEN" => f.admin_token = Some(v),
                "ANDROID_ROOTS" => f.android_roots = Some(list(&v).into_iter().map(PathBuf::from).collect()),
                "WAA_TTL" => f.waa_ttl = Some(int(&v)?),
                "WUA_TTL" => f.wua_ttl = Some(int(&v)?),
                "MAX_INSTANCES_PER_CITIZEN" => {
                    f.max_instances_per_citizen = Some(v.parse().map_err(|e| ConfigError::Parse(format!("{k}: {e}")))?);
                }
                _ => return Err(ConfigError::Parse(format!("unknown override {k}"))),
            }
        }
        let entity_id = entity("entity_id", f.entity_id.as_deref().ok_or(ConfigError::Invalid("entity_id is required".into()))?)?;
        let trust_anchor = entity("trust_anchor", f.trust_anchor.as_deref().ok_or(ConfigError::Invalid("trust_anchor is required".into()))?)?;
        let data_dir = f.data_dir.ok_or(ConfigError::Invalid("data_dir is required".into()))?;
        let mut c = Self::new(entity_id, trust_anchor, data_dir);
        c.keys_dir = f.keys_dir;
        c.database_url = f.database_url.filter(|u| !u.trim().is_empty());
        if let Some(l) = f.listen {
            c.listen = l.parse().map_err(|e| ConfigError::Invalid(format!("listen: {e}")))?;
        }
        c.production = f.production.unwrap_or(false);
        if let Some(p) = f.trust_anchor_jwks {
            let text = read(&p)?;
            c.trust_anchor_jwks = Some(serde_json::from_str(&text).map_err(|e| ConfigError::Parse(format!("{}: {e}", p.display())))?);
        }
        if let Some(h) = f.authority_hints {
            c.authority_hints = h.iter().map(|h| entity("authority_hints", h)).collect::<Result<_, _>>()?;
        }
        c.op_entity_id = f.op_entity_id.as_deref().map(|o| entity("op_entity_id", o)).transpose()?;
        c.allowed_redirect_uris = f.allowed_redirect_uris.unwrap_or_default();
        c.admin_token = f.admin_token.unwrap_or_default();
        if let Some(v) = f.organization_name {
            c.organization_name = v;
        }
        if let Some(v) = f.logo_uri {
            c.logo_uri = v;
        }
        let s = &mut c.solution;
        for (slot, v) in [
            (&mut s.wallet_provider_name, f.wallet_provider_name),
            (&mut s.wallet_solution_id, f.wallet_solution_id),
            (&mut s.wallet_solution_version, f.wallet_solution_version),
            (&mut s.wallet_solution_certification_information, f.wallet_solution_certification_information),
        ] {
            if let Some(v) = v {
                *slot = v;
            }
        }
        c.android_roots = f.android_roots.unwrap_or_default();
        c.android_min_security_level = match f.android_min_security_level.as_deref() {
            None | Some("trusted_environment") => SecurityLevel::TrustedEnvironment,
            Some("strongbox") => SecurityLevel::StrongBox,
            Some(other) => return Err(ConfigError::Invalid(format!("android_min_security_level: `{other}` is not trusted_environment or strongbox"))),
        };
        for (slot, v) in [
            (&mut c.waa_ttl, f.waa_ttl),
            (&mut c.wua_ttl, f.wua_ttl),
            (&mut c.nonce_ttl, f.nonce_ttl),
            (&mut c.session_ttl, f.session_ttl),
            (&mut c.login_code_ttl, f.login_code_ttl),
            (&mut c.status_list_ttl, f.status_list_ttl),
        ] {
            if let Some(v) = v {
                *slot = v;
            }
        }
        if let Some(v) = f.status_list_cache_ttl {
            c.status_list_cache_ttl = v;
        }
        if let Some(v) = f.max_instances_per_citizen {
            c.max_instances_per_citizen = v;
        }
        if let Some(v) = f.rate_limits {
            c.rate_limits = v;
        }
        if let Some(v) = f.outbound {
            c.outbound = v;
        }
        if let Some(v) = f.federation_entity {
            c.federation_entity = v;
        }
        if let Some(v) = f.credential_offer_endpoint {
            c.credential_offer_endpoint = v;
        }
        if let Some(p) = f.pdnd {
            let path = p.jwks.ok_or_else(|| ConfigError::Invalid("pdnd.jwks (the voucher issuer's JWK Set file) is required".into()))?;
            let text = read(&path)?;
            let jwks = serde_json::from_str(&text).map_err(|e| ConfigError::Parse(format!("{}: {e}", path.display())))?;
            c.pdnd = Some(PdndConfig {
                issuer: p.issuer.ok_or_else(|| ConfigError::Invalid("pdnd.issuer is required".into()))?,
                jwks,
                audience: p.audience.unwrap_or_else(|| c.endpoint(crate::pdnd::NOTIFY_USER_DEATH_PATH)),
                client_ids: p.client_ids,
                purpose_ids: p.purpose_ids,
                max_lifetime: p.max_lifetime.unwrap_or(DEFAULT_PDND_MAX_LIFETIME),
            });
        }
        c.validate()?;
        Ok(c)
    }

    /// The rules: WAA at most 24 h, WUA at least a month, positive lifetimes, status list
    /// token at most 24 h, redirect URIs absolute and fragment-free, and in production pinned
    /// trust anchor keys and an `https` entity id (`http` is tolerated on loopback only).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if !(1..=MAX_WAA_TTL).contains(&self.waa_ttl) {
            return bad(format!("waa_ttl must be in 1..={MAX_WAA_TTL} seconds (IT-Wallet 1.4 §2.3), got {}", self.waa_ttl));
        }
        if self.wua_ttl < MIN_WUA_TTL {
            return bad(format!("wua_ttl must be at least {MIN_WUA_TTL} seconds (IT-Wallet 1.4 §2.3), got {}", self.wua_ttl));
        }
        if !(1..=crate::keys::PROTOCOL_CERT_TTL).contains(&self.status_list_ttl) {
            return bad(format!(
                "status_list_ttl must be in 1..={} seconds (IT-Wallet 1.4 §6: at most 24 h, within the protocol certificate that signs it)",
                crate::keys::PROTOCOL_CERT_TTL
            ));
        }
        for (name, v) in [("nonce_ttl", self.nonce_ttl), ("session_ttl", self.session_ttl), ("login_code_ttl", self.login_code_ttl)] {
            if v <= 0 {
                return bad(format!("{name} must be positive"));
            }
        }
        if self.max_instances_per_citizen == 0 {
            return bad("max_instances_per_citizen must be at least 1".into());
        }
        if let Some(p) = &self.pdnd {
            if p.issuer.is_empty() || p.audience.is_empty() || p.jwks.keys.is_empty() {
                return bad("pdnd: issuer, audience and at least one key are required".into());
            }
            if p.client_ids.is_empty() {
                return bad("pdnd.client_ids: name the PID Providers' PDND clients allowed to call".into());
            }
            if !(1..=86_400).contains(&p.max_lifetime) {
                return bad("pdnd.max_lifetime must be in 1..=86400 seconds".into());
            }
        }
        if let Some(u) = &self.database_url
            && !(u.starts_with("postgres://") || u.starts_with("postgresql://"))
        {
            return bad("database_url must be a PostgreSQL URL (postgres://user:password@host/db)".into());
        }
        for uri in &self.allowed_redirect_uris {
            if !uri.contains("://") || uri.contains('#') {
                return bad(format!("allowed redirect URI {uri} must be absolute and have no fragment"));
            }
        }
        if self.production {
            if self.trust_anchor_jwks.is_none() {
                return bad("production: pin the trust anchor's keys (trust_anchor_jwks)".into());
            }
            let host = self.entity_id.host();
            let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback());
            if !self.entity_id.as_str().starts_with("https://") && !loopback {
                return bad("production: entity_id must be https (http only on loopback)".into());
            }
        }
        Ok(())
    }

    /// Whether `uri` is one of the allowed app redirect URIs (exact string match, RFC 6749
    /// §3.1.2.3 style).
    pub fn redirect_uri_allowed(&self, uri: &str) -> bool {
        self.allowed_redirect_uris.iter().any(|a| a == uri)
    }

    /// Where the keys are: `keys_dir`, or `data_dir`.
    pub fn keys_dir(&self) -> &Path {
        self.keys_dir.as_deref().unwrap_or(&self.data_dir)
    }

    /// A URL under the entity id.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.entity_id.as_str().trim_end_matches('/'))
    }

    /// `federation_entity.policy_uri`: the configured one, or the page we serve.
    pub fn policy_uri(&self) -> String {
        let p = &self.federation_entity.policy_uri;
        if p.is_empty() { self.endpoint(crate::routes::POLICY_PATH) } else { p.clone() }
    }

    /// `federation_entity.homepage_uri`: the configured one, or the page we serve.
    pub fn homepage_uri(&self) -> String {
        let p = &self.federation_entity.homepage_uri;
        if p.is_empty() { self.endpoint(crate::routes::HOME_PATH) } else { p.clone() }
    }

    /// `wallet_solution.logo_uri` and `federation_entity.logo_uri`: the configured one, or
    /// the SVG we serve.
    pub fn logo(&self) -> String {
        if self.logo_uri.is_empty() { self.endpoint(crate::routes::LOGO_PATH) } else { self.logo_uri.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "entity_id = \"https://wp.example.it\"\ntrust_anchor = \"https://ta.example.it\"\ndata_dir = \"/tmp/x\"\n";

    #[test]
    fn toml_then_env_overrides() {
        let c = Config::from_toml(
            &format!("{BASE}waa_ttl = 600\nallowed_redirect_uris = [\"app://cb\"]\n"),
            [("TESSERA_WP_WAA_TTL".to_owned(), "900".to_owned()), ("PATH".to_owned(), "/bin".to_owned())],
        )
        .unwrap();
        assert_eq!(c.waa_ttl, 900);
        assert!(c.redirect_uri_allowed("app://cb"));
        assert!(!c.redirect_uri_allowed("app://cb/other"));
        assert_eq!(c.authority_hints, vec![EntityId::new("https://ta.example.it".to_owned()).unwrap()]);
    }

    #[test]
    fn database_url_and_keys_dir_from_toml_and_env() {
        let c = Config::from_toml(BASE, []).unwrap();
        assert_eq!((c.database_url.as_deref(), c.keys_dir()), (None, Path::new("/tmp/x")));
        let c = Config::from_toml(&format!("{BASE}database_url = \"postgres://u:p@db/t\"\nkeys_dir = \"/k\"\n"), []).unwrap();
        assert_eq!((c.database_url.as_deref(), c.keys_dir()), (Some("postgres://u:p@db/t"), Path::new("/k")));
        let env = [("TESSERA_WP_DATABASE_URL".to_owned(), "postgresql://u:p@db2/t".to_owned()), ("TESSERA_WP_KEYS_DIR".to_owned(), "/k2".to_owned())];
        let c = Config::from_toml(BASE, env).unwrap();
        assert_eq!((c.database_url.as_deref(), c.keys_dir()), (Some("postgresql://u:p@db2/t"), Path::new("/k2")));
        let e = Config::from_toml(&format!("{BASE}database_url = \"mysql://db/x\"\n"), []).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid(m) if m.contains("database_url")));
        assert_eq!(Config::from_toml(&format!("{BASE}database_url = \" \"\n"), []).unwrap().database_url, None, "empty: SQLite");
    }

    #[test]
    fn waa_longer_than_24h_is_refused() {
        let e = Config::from_toml(&format!("{BASE}waa_ttl = 86401\n"), []).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid(m) if m.contains("waa_ttl")));
    }

    #[test]
    fn production_needs_pinned_anchor_keys() {
        let e = Config::from_toml(&format!("{BASE}production = true\n"), []).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid(m) if m.contains("trust_anchor_jwks")));
    }

    #[test]
    fn load_reads_the_file_and_the_pinned_anchor_keys() {
        use wallet_core::jose::{Signer as _, SoftwareSigner};
        let dir = tempfile::tempdir().unwrap();
        let jwks = JwkSet { keys: vec![SoftwareSigner::generate().unwrap().public_jwk()] };
        std::fs::write(dir.path().join("ta.jwks"), serde_json::to_string(&jwks).unwrap()).unwrap();
        let toml = format!(
            "{BASE}production = true\ntrust_anchor_jwks = \"{}\"\nandroid_min_security_level = \"strongbox\"\nop_entity_id = \"https://op.example.it\"\n",
            dir.path().join("ta.jwks").display()
        );
        std::fs::write(dir.path().join("wp.toml"), toml).unwrap();
        let c = Config::load(&dir.path().join("wp.toml")).unwrap();
        assert!(c.production);
        assert_eq!(c.trust_anchor_jwks.unwrap().keys, jwks.keys);
        assert_eq!(c.android_min_security_level, SecurityLevel::StrongBox);
        assert_eq!(c.op_entity_id.unwrap().as_str(), "https://op.example.it");
        assert!(matches!(Config::load(&dir.path().join("missing.toml")), Err(ConfigError::Io { .. })));
    }

    #[test]
    fn unknown_keys_and_overrides_are_refused() {
        assert!(matches!(Config::from_toml(&format!("{BASE}colour = 1\n"), []), Err(ConfigError::Parse(_))));
        assert!(matches!(Config::from_toml(BASE, [("TESSERA_WP_COLOUR".to_owned(), "1".to_owned())]), Err(ConfigError::Parse(_))));
    }

    #[test]
    fn rate_limits_pdnd_federation_entity_and_instance_limit_from_toml() {
        use wallet_core::jose::{Signer as _, SoftwareSigner};
        let dir = tempfile::tempdir().unwrap();
        let jwks = JwkSet { keys: vec![SoftwareSigner::generate().unwrap().public_jwk()] };
        let jwks_path = dir.path().join("pdnd.jwks");
        std::fs::write(&jwks_path, serde_json::to_string(&jwks).unwrap()).unwrap();
        let toml = format!(
            "{BASE}max_instances_per_citizen = 3\ncredential_offer_endpoint = \"https://wallet.example.it/offer\"\n\
             [rate_limits]\nlogin = {{ per_minute = 10, burst = 2 }}\ntrusted_proxies = [\"10.0.0.1\"]\n\
             [federation_entity]\nhomepage_uri = \"https://example.it\"\ncontacts = [\"wp@pec.example.it\"]\n\
             [pdnd]\nissuer = \"interop.pagopa.it\"\njwks = \"{}\"\nclient_ids = [\"pid-provider\"]\n",
            jwks_path.display()
        );
        let c = Config::from_toml(&toml, []).unwrap();
        assert_eq!(c.max_instances_per_citizen, 3);
        assert_eq!(c.rate_limits.login, RateLimit::new(10, 2));
        assert_eq!(c.rate_limits.nonce, RateLimits::default().nonce, "unset limits keep their defaults");
        assert_eq!(c.rate_limits.trusted_proxies, vec!["10.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(c.homepage_uri(), "https://example.it");
        assert_eq!(c.policy_uri(), "https://wp.example.it/policy");
        assert_eq!(c.federation_entity.contacts, vec!["wp@pec.example.it".to_owned()]);
        assert_eq!(c.credential_offer_endpoint, "https://wallet.example.it/offer");
        let p = c.pdnd.unwrap();
        assert_eq!((p.issuer.as_str(), p.audience.as_str()), ("interop.pagopa.it", "https://wp.example.it/e-service/notify-user-death"));
        assert_eq!(p.jwks.keys, jwks.keys);
        assert_eq!(p.max_lifetime, DEFAULT_PDND_MAX_LIFETIME);
        // A PDND e-service that no client may call, and a zero instance limit, are refused.
        let no_clients = toml.replace("client_ids = [\"pid-provider\"]\n", "");
        assert!(matches!(Config::from_toml(&no_clients, []), Err(ConfigError::Invalid(m)) if m.contains("client_ids")));
        let zero = toml.replace("max_instances_per_citizen = 3", "max_instances_per_citizen = 0");
        assert!(matches!(Config::from_toml(&zero, []), Err(ConfigError::Invalid(m)) if m.contains("max_instances_per_citizen")));
        assert!(matches!(Config::from_toml(&format!("{BASE}[rate_limits]\nlogin = {{ per_minute = 1 }}\n"), []), Err(ConfigError::Parse(_))));
    }
}
