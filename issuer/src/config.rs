//! What an operator configures: a TOML file, then `TESSERA_ISSUER_*` environment overrides,
//! then [`Config::validate`]. Tests build it with [`Config::new`].
//!
//! ```toml
//! entity_id = "https://motorizzazione.example.it"
//! data_dir = "/var/lib/tessera/issuer"
//! listen = "0.0.0.0:7630"
//! admin_token = "..."                 # the admin API's bearer token
//! organization_name = "Motorizzazione Civile"
//! profile = "it-wallet-1.4"           # or "it-wallet-1.3"
//! registry = "/var/lib/registry/licences.sqlite"   # default <data_dir>/authentic-source.sqlite
//! # registry_url = "postgres://issuer:secret@db.internal/registry"   # the registry in PostgreSQL instead
//! batch_size = 10
//! status_bits = 4                     # 1, 2, 4 or 8
//! attribute_update_status = 0x0B      # ATTRIBUTE_UPDATE's code (0x0B 1.3/1.4.0, 0x0F 1.4.x-post)
//! wallet_attestation = "required"     # or "optional": see below
//! login_ttl = 600                     # seconds to authenticate after /authorize
//! code_ttl = 60                       # an authorization code's life (at most 60 s)
//! database_url = "postgres://issuer:secret@db.internal/tessera"  # else SQLite in data_dir
//! keys_dir = "/etc/tessera/issuer-keys"   # replicas: the same keys (default data_dir)
//! # A wallet provider holds one of these trust marks, or its WAAs and WUAs are refused.
//! wallet_provider_trust_marks = ["https://trust-anchor.example.it/trust_marks/federation-entity/wallet-provider"]
//!
//! [tls]                               # HTTPS (else plain HTTP behind a TLS proxy)
//! certificate = "/etc/tessera/issuer.crt.pem"   # the chain, leaf first
//! private_key = "/etc/tessera/issuer.key.pem"
//!
//! [[trust_anchors]]
//! id = "https://trust-anchor.example.it"
//! jwks = "/etc/tessera/ta.jwks"
//! # With [authentication] method = "pid": the federation CA roots a PID's `x5c` must chain
//! # to, and whether the CRLs its certificates name are checked (IT-Wallet 1.4 §1.2).
//! x509_roots = ["/etc/tessera/federation-root.pem"]
//! check_crl = true
//! crl_refresh = 300
//!
//! [[credentials]]
//! preset = "mdl"                      # pid | mdl | health-card
//! # id = "dc_sd_jwt_mDL"              # the credential_configuration_id (preset default)
//! [credentials.source]                # default: the preset's sample table
//! table = "licences"
//! key = "tax_id_code"
//! ready = "ready"                     # optional: 0 = not ready (deferred issuance)
//! json = ["driving_privileges"]       # columns holding JSON text
//! [credentials.source.claims]
//! family_name = "surname"
//!
//! # How the citizen is authenticated at /authorize (IT-Wallet 1.4 §3.3 step 5); without
//! # this table only issuer-initiated offers with a pre-authorized code are served.
//! # The Motorizzazione, the health-card registry: the PID presented over OpenID4VP, its
//! # issuer trusted through one of the [[trust_anchors]].
//! [authentication]
//! method = "pid"
//! vct = "urn:eudi:pid:it:1"               # the PID type asked for (default)
//! claim = "tax_id_code"                   # the PID claim matched against `source.key` (default)
//! trust_marks = ["https://trust-anchor.example.it/trust_marks/openid_credential_issuer/public"]  # held by the PID's issuer (default: none required)
//!
//! # The PID provider: a SPID/CIE relying party; the citizen is the UserInfo `fiscal_number`
//! # (`TINIT-` removed), looked up in each credential's `source.key` column.
//! # method = "spid-cie"
//! # providers = ["https://cie-op.example.it"]   # OpenID Provider entity ids (several: the citizen chooses)
//! # acr = "https://www.spid.gov.it/SpidL3"      # the lowest level accepted (default: CIE L3)
//! ```
//!
//! `wallet_attestation` ([`WalletAttestation`]): `required` (the default, IT-Wallet 1.4
//! §3.3) makes every key proof carry a WUA (`key_attestation`) from a wallet provider of the
//! federation, and the metadata say so (`key_attestations_required`). `optional` is for
//! interop with wallets outside the IT-Wallet federation: a plain `openid4vci-proof+jwt`
//! with its `jwk` is accepted (a WUA, when sent, is still verified), and the metadata do not
//! demand one. The proof's own checks (`typ`, `alg`, signature, `aud`, `nonce`, `iat`) and
//! DPoP stay.
//!
//! Replicas (`database_url`): every replica of one issuer names the same PostgreSQL database
//! (or schema) and the same `keys_dir` (the credential, token and federation keys: a token
//! signed by one replica is verified by another, and the one Entity Configuration publishes
//! one key); each keeps its own `data_dir`. See [`crate::store`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use service_kit::RateLimit;
use service_kit::config::{entity, read};
use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::oid4vci::Profile;
use wallet_core::status::Bits;

use crate::presets::Preset;

/// A configuration that cannot be used (the services share it).
pub use service_kit::config::ConfigError;

/// Where a credential's claims come from: one table of the registry's database
/// (`[credentials.source]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The table.
    pub table: String,
    /// The column the citizen is looked up by (the offer's `citizen`).
    pub key: String,
    /// A column that is 0 while the record is not ready (deferred issuance).
    #[serde(default)]
    pub ready: Option<String>,
    /// Claim name → column.
    pub claims: BTreeMap<String, String>,
    /// Columns whose text is JSON (objects, arrays) rather than a string.
    #[serde(default)]
    pub json: Vec<String>,
}

/// One credential configuration served (`[[credentials]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialConfig {
    /// `credential_configuration_id`.
    pub id: String,
    /// What it is (`vct`, scope, display).
    pub preset: Preset,
    /// Its registry table.
    pub source: Source,
    /// The type metadata document served for its `vct` (SD-JWT VC §6) instead of the
    /// preset's ([`Preset::type_metadata`]): e.g. the catalogue's. Served as given and hashed
    /// for `vct#integrity` (`[credentials.type_metadata]` in the file).
    pub type_metadata: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialFile {
    preset: String,
    id: Option<String>,
    source: Option<Source>,
    type_metadata: Option<serde_json::Value>,
}

/// Whether key proofs must carry a wallet's key attestation (the WUA), `wallet_attestation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WalletAttestation {
    /// IT-Wallet 1.4 §3.3: each proof carries a WUA from a trusted wallet provider, and
    /// the metadata publish `key_attestations_required`.
    #[default]
    Required,
    /// Interop with wallets that have no IT-Wallet attestation: proofs without
    /// `key_attestation` are accepted and the metadata omit `key_attestations_required`.
    /// Not for an IT-Wallet deployment.
    Optional,
}

impl WalletAttestation {
    /// `required` or `optional`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "required" => Some(Self::Required),
            "optional" => Some(Self::Optional),
            _ => None,
        }
    }

    /// The `key_attestations_required` to publish and to check proofs against: the
    /// configuration's own when required, none when optional.
    pub fn key_attestations_required<T>(self, configured: Option<T>) -> Option<T> {
        match self {
            Self::Required => configured,
            Self::Optional => None,
        }
    }
}

/// How citizens are authenticated at `/authorize` (`[authentication]`, IT-Wallet 1.4 §3.3
/// step 5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Authentication {
    /// None: `/authorize` answers `temporarily_unavailable` (pre-authorized offers only).
    #[default]
    None,
    /// SPID/CIE OpenID Connect: the issuer is a `spid-cie-oidc` relying party.
    SpidCie(SpidCieAuthentication),
    /// The PID over OpenID4VP: the issuer is an OpenID4VP relying party.
    Pid(PidAuthentication),
}

impl Authentication {
    /// The framework under which the citizen's identity was established for what this
    /// issuer signs (IT-Wallet 1.4 §3.1 lists `it_cie`, `it_wallet`, `eudi_wallet`,
    /// `it_l2+document_proof`): CIE for the PID provider (SPID/CIE login, CIE level 3 by
    /// §3.1), the IT-Wallet itself for a PID presented over OpenID4VP or an offer made at a
    /// registry's desk to a citizen identified there. Published as
    /// `trust_frameworks_supported` and signed in each credential's `verification`.
    pub fn trust_framework(&self) -> &'static str {
        match self {
            Self::SpidCie(_) => "it_cie",
            Self::Pid(_) | Self::None => "it_wallet",
        }
    }

    /// The `verification` claim (IT-Wallet 1.4 §4.1, §4.3: REQUIRED in the PID,
    /// `{trust_framework, assurance_level}`): [`Self::trust_framework`] at the level of the
    /// login: SPID/CIE at the lowest `acr` accepted (SpidL3 `high`, SpidL2 `substantial`,
    /// SpidL1 `low`); a PID (itself issued at level high) or an identification in person at
    /// the desk, `high`.
    pub fn verification(&self) -> serde_json::Value {
        let level = match self {
            Self::SpidCie(s) => match s.acr {
                spid_cie_oidc::Acr::SpidL3 => "high",
                spid_cie_oidc::Acr::SpidL2 => "substantial",
                spid_cie_oidc::Acr::SpidL1 => "low",
            },
            Self::Pid(_) | Self::None => "high",
        };
        serde_json::json!({"trust_framework": self.trust_framework(), "assurance_level": level})
    }
}

/// `method = "spid-cie"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpidCieAuthentication {
    /// The OpenID Providers (entity ids, trusted through the trust anchors); with several,
    /// the citizen chooses one on our page (`/authorize/provider`).
    pub providers: Vec<EntityId>,
    /// The lowest level accepted (default `SpidL3`, CIE level 3).
    pub acr: spid_cie_oidc::Acr,
}

/// `method = "pid"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidAuthentication {
    /// The PID `vct` asked for.
    pub vct: String,
    /// The PID claim whose value is the registry key (`source.key`).
    pub claim: String,
    /// Trust mark types of which the PID's issuer must hold one (IT-Wallet 1.4 §1.3, §8, as
    /// the verifier's `credential_issuer_trust_marks`; none: not checked), its status asked
    /// `trust_mark_status_refresh` seconds apart.
    pub trust_marks: Vec<String>,
}

impl Default for PidAuthentication {
    fn default() -> Self {
        Self { vct: wallet_core::vc::Vct::PID.into(), claim: "tax_id_code".into(), trust_marks: Vec::new() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthenticationFile {
    method: String,
    #[serde(default)]
    providers: Vec<String>,
    acr: Option<String>,
    vct: Option<String>,
    claim: Option<String>,
    #[serde(default)]
    trust_marks: Vec<String>,
}

impl AuthenticationFile {
    fn into_config(self) -> Result<Authentication, ConfigError> {
        let only = |allowed: &str, fields: &[(&str, bool)]| match fields.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(ConfigError::Invalid(format!("authentication.{name} is not a setting of method = \"{allowed}\""))),
            None => Ok(()),
        };
        match self.method.as_str() {
            "spid-cie" => {
                only("spid-cie", &[("vct", self.vct.is_some()), ("claim", self.claim.is_some()), ("trust_marks", !self.trust_marks.is_empty())])?;
                let providers = self.providers.iter().map(|p| entity("authentication.providers", p)).collect::<Result<Vec<_>, _>>()?;
                let acr = match self.acr {
                    Some(a) => a.parse().map_err(|_| ConfigError::Invalid(format!("authentication.acr: `{a}` is not a SPID/CIE level")))?,
                    None => spid_cie_oidc::Acr::SpidL3,
                };
                Ok(Authentication::SpidCie(SpidCieAuthentication { providers, acr }))
            }
            "pid" => {
                only("pid", &[("providers", !self.providers.is_empty()), ("acr", self.acr.is_some())])?;
                let d = PidAuthentication::default();
                Ok(Authentication::Pid(PidAuthentication { vct: self.vct.unwrap_or(d.vct), claim: self.claim.unwrap_or(d.claim), trust_marks: self.trust_marks }))
            }
            other => Err(ConfigError::Invalid(format!("authentication.method: `{other}` is not spid-cie or pid"))),
        }
    }
}

/// The longest `commit_delay_ms`: a wait that every credential under load may add to its
/// answer.
const MAX_COMMIT_DELAY_MS: u64 = 100;

/// Rate limits per client (`[rate_limits]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// The wallet-facing endpoints.
    pub wallet: RateLimit,
    /// The admin API.
    pub admin: RateLimit,
    /// Addresses of load balancers whose `X-Forwarded-For` is believed (behind one, every
    /// wallet would otherwise count as the balancer).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Clients remembered per limiter.
    pub max_clients: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            wallet: RateLimit::new(600, 100),
            admin: RateLimit::new(6_000, 500),
            trusted_proxies: Vec::new(),
            max_clients: service_kit::rate_limit::DEFAULT_MAX_CLIENTS,
        }
    }
}

/// The configuration of one issuer.
#[derive(Debug, Clone)]
pub struct Config {
    /// The entity identifier: `credential_issuer` and the authorization server's `issuer`.
    pub entity_id: EntityId,
    /// Keys and the database live here.
    pub data_dir: PathBuf,
    /// The registry's SQLite database (the authentic source).
    pub registry: PathBuf,
    /// Where the service binds.
    pub listen: SocketAddr,
    /// Trust anchors: wallet providers' chains (WUA `trust_chain`) end at one of them.
    pub trust_anchors: Vec<TrustAnchorConfig>,
    /// Trust mark types of which a wallet provider must hold one (in its Entity
    /// Configuration, valid under its chain's anchor) for its WAAs and WUAs to be accepted
    /// (IT-Wallet 1.4 §1.3). Empty: not checked (a warning at start when attestations are
    /// required).
    pub wallet_provider_trust_marks: Vec<String>,
    /// Seconds a trust mark's status (a wallet provider's; with `[authentication] method =
    /// "pid"` and `trust_marks`, the PID provider's too), as its issuer's
    /// `federation_trust_mark_status_endpoint` reported it (OID-FED §8.4), is used before it
    /// is asked again (0: at every check, before every request carrying an attestation or a
    /// PID; a failure to ask is retried after 30 s all the same).
    pub trust_mark_status_refresh: i64,
    /// PEM text of the federation CA roots: a PID presented to us (`[authentication] method
    /// = "pid"`) has its `x5c` verified to one of them (an issuer trusted by `x5c` alone is
    /// still refused: no federation metadata says it may issue the PID). Empty: the
    /// federation chain only.
    pub x509_roots_pem: String,
    /// Check the CRLs named by a presented PID's `x5c` certificates (its issuer's signing
    /// certificate, its CA certificate: IT-Wallet 1.4 §1.2); with `x509_roots` only.
    pub check_crl: bool,
    /// Seconds a verified CRL answers before it is fetched again (never past its
    /// `nextUpdate`).
    pub crl_refresh: i64,
    /// Our superiors in the federation (default: the trust anchors).
    pub authority_hints: Vec<EntityId>,
    /// Bearer token of the admin API and the federation entity's admin API.
    pub admin_token: String,
    /// `federation_entity.organization_name`, the issuer's display name.
    pub organization_name: String,
    /// What we emit (`it-wallet-1.4` by default).
    pub profile: Profile,
    /// The credentials served.
    pub credentials: Vec<CredentialConfig>,
    /// `batch_credential_issuance.batch_size`.
    pub batch_size: u32,
    /// Seconds an offer's pre-authorized code is valid.
    pub offer_ttl: i64,
    /// Wrong `tx_code`s tolerated before the offer is burnt.
    pub tx_code_attempts: u32,
    /// Seconds an access token lives.
    pub access_token_ttl: i64,
    /// Seconds a refresh token lives (0: none issued).
    pub refresh_token_ttl: i64,
    /// Seconds a `c_nonce` lives.
    pub nonce_ttl: i64,
    /// Seconds an issued credential is valid (`exp`).
    pub credential_ttl: i64,
    /// Seconds between two re-checks of the WUAs that issued credentials were bound under
    /// (IT-Wallet 1.4 §2.5: every 24 h for credentials valid longer; a revoked WUA revokes
    /// the credentials of its grant: [`crate::wua_recheck`]). 0: never (then `POST
    /// /admin/wua-recheck` only).
    pub wua_recheck_interval: i64,
    /// Bits per status list entry: 4 by default, as IT-Wallet test tools use, with room for
    /// ATTRIBUTE_UPDATE (it-wallet-versions.md §5, issuer item 7).
    pub status_bits: Bits,
    /// The value ATTRIBUTE_UPDATE is written as (IT-Wallet 1.4.0 and 1.3.3's table: 0x0B;
    /// 1.4.x-post: 0x0F). Needs `status_bits` ≥ 4; below that, or in the 1.3 profile, an
    /// update is written as UPDATE (0x03) (it-wallet-versions.md §5).
    pub attribute_update_status: u8,
    /// Seconds a status list token is valid, and its `ttl`.
    pub status_list_ttl: i64,
    /// Seconds the wallet waits between deferred polls.
    pub deferred_interval: u64,
    /// Milliseconds SQLite's group commit waits, when its last commit served more than one
    /// response, for more to share the next commit and its `fsync` (0: never; at most 100;
    /// default 3; not used with PostgreSQL): the `store::sqlite` module has the trade-off.
    pub commit_delay_ms: u64,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// Whether key proofs must carry a WUA.
    pub wallet_attestation: WalletAttestation,
    /// How citizens are authenticated at `/authorize`.
    pub authentication: Authentication,
    /// Seconds a citizen has to authenticate after `/authorize` (SPID/CIE login or PID
    /// presentation).
    pub login_ttl: i64,
    /// Seconds an authorization code lives (IT-Wallet 1.4 §3.3: at most 60).
    pub code_ttl: i64,
    /// The shared PostgreSQL database of replicas (`database_url`); `None`: SQLite in
    /// `data_dir`.
    pub database_url: Option<String>,
    /// The registry in PostgreSQL (`registry_url`), instead of the SQLite file `registry`.
    pub registry_url: Option<String>,
    /// Where the keys are, when not in `data_dir` (`keys_dir`: replicas share it).
    pub keys_dir: Option<PathBuf>,
    /// HTTPS (`[tls] certificate`, `private_key`: PEM files): served with rustls when given.
    pub tls: Option<service_kit::serve::TlsFiles>,
}


#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    entity_id: Option<String>,
    data_dir: Option<PathBuf>,
    registry: Option<PathBuf>,
    listen: Option<String>,
    #[serde(default)]
    trust_anchors: Vec<service_kit::config::AnchorFile>,
    wallet_provider_trust_marks: Option<Vec<String>>,
    trust_mark_status_refresh: Option<i64>,
    #[serde(default)]
    x509_roots: Vec<PathBuf>,
    check_crl: Option<bool>,
    crl_refresh: Option<i64>,
    authority_hints: Option<Vec<String>>,
    admin_token: Option<String>,
    organization_name: Option<String>,
    profile: Option<String>,
    #[serde(default)]
    credentials: Vec<CredentialFile>,
    batch_size: Option<u32>,
    offer_ttl: Option<i64>,
    tx_code_attempts: Option<u32>,
    access_token_ttl: Option<i64>,
    refresh_token_ttl: Option<i64>,
    nonce_ttl: Option<i64>,
    credential_ttl: Option<i64>,
    wua_recheck_interval: Option<i64>,
    status_bits: Option<u64>,
    attribute_update_status: Option<u8>,
    status_list_ttl: Option<i64>,
    deferred_interval: Option<u64>,
    commit_delay_ms: Option<u64>,
    rate_limits: Option<RateLimits>,
    wallet_attestation: Option<String>,
    authentication: Option<AuthenticationFile>,
    login_ttl: Option<i64>,
    code_ttl: Option<i64>,
    database_url: Option<String>,
    registry_url: Option<String>,
    keys_dir: Option<PathBuf>,
    tls: Option<service_kit::serve::TlsFiles>,
}



/// Claims the issuer sets itself, which a registry mapping may not name.
pub const RESERVED_CLAIMS: [&str; 9] = ["iss", "exp", "vct", "vct#integrity", "sub", "iat", "nbf", "status", "cnf"];

/// An SQL identifier we may splice into a statement: ASCII letters, digits, `_`, not
/// starting with a digit.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && s.len() <= 64
}

impl Config {
    /// A development configuration serving `presets` with their sample tables.
    pub fn new(entity_id: EntityId, data_dir: PathBuf, presets: &[Preset]) -> Self {
        Self {
            entity_id,
            registry: data_dir.join("authentic-source.sqlite"),
            data_dir,
            listen: SocketAddr::from(([0, 0, 0, 0], 7630)),
            trust_anchors: Vec::new(),
            wallet_provider_trust_marks: Vec::new(),
            trust_mark_status_refresh: 300,
            x509_roots_pem: String::new(),
            check_crl: true,
            crl_refresh: 300,
            authority_hints: Vec::new(),
            admin_token: String::new(),
            organization_name: "Tessera issuer".into(),
            profile: Profile::default(),
            credentials: presets.iter().map(|p| CredentialConfig { id: p.configuration_id().into(), preset: *p, source: p.sample_source(), type_metadata: None }).collect(),
            batch_size: 10,
            offer_ttl: 600,
            tx_code_attempts: 3,
            access_token_ttl: 300,
            refresh_token_ttl: 7 * 86_400,
            nonce_ttl: 300,
            credential_ttl: 365 * 86_400,
            wua_recheck_interval: 86_400,
            status_bits: Bits::Four,
            attribute_update_status: 0x0B,
            status_list_ttl: 3_600,
            deferred_interval: 5,
            commit_delay_ms: 3,
            rate_limits: RateLimits::default(),
            wallet_attestation: WalletAttestation::default(),
            authentication: Authentication::None,
            login_ttl: 600,
            code_ttl: 60,
            database_url: None,
            registry_url: None,
            keys_dir: None,
            tls: None,
        }
    }

    /// Reads `path`, then the environment's `TESSERA_ISSUER_*` overrides.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::from_toml(&read(path)?, std::env::vars())
    }

    /// From TOML text and environment variables (`TESSERA_ISSUER_ENTITY_ID`, `_DATA_DIR`,
    /// `_REGISTRY`, `_LISTEN`, `_ADMIN_TOKEN`, `_PROFILE`, `_BATCH_SIZE`, `_ORGANIZATION_NAME`,
    /// `_WALLET_ATTESTATION`, `_DATABASE_URL`, `_KEYS_DIR`, `_REGISTRY_URL`);
    /// other `TESSERA_ISSUER_*` names are refused.
    pub fn from_toml(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut f: File = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        for (k, v) in env {
            let Some(name) = k.strip_prefix("TESSERA_ISSUER_") else { continue };
            match name {
                "ENTITY_ID" => f.entity_id = Some(v),
                "DATA_DIR" => f.data_dir = Some(v.into()),
                "REGISTRY" => f.registry = Some(v.into()),
                "LISTEN" => f.listen = Some(v),
                "ADMIN_TOKEN" => f.admin_token = Some(v),
                "PROFILE" => f.profile = Some(v),
                "ORGANIZATION_NAME" => f.organization_name = Some(v),
                "WALLET_ATTESTATION" => f.wallet_attestation = Some(v),
                "DATABASE_URL" => f.database_url = Some(v),
                "KEYS_DIR" => f.keys_dir = Some(v.into()),
                "REGISTRY_URL" => f.registry_url = Some(v),
                "BATCH_SIZE" => f.batch_size = Some(v.parse().map_err(|e| ConfigError::Parse(format!("{k}: {e}")))?),
                "WUA_RECHECK_INTERVAL" => f.wua_recheck_interval = Some(v.parse().map_err(|e| ConfigError::Parse(format!("{k}: {e}")))?),
                _ => return Err(ConfigError::Parse(format!("unknown override {k}"))),
            }
        }
        let id = entity("entity_id", f.entity_id.as_deref().ok_or_else(|| ConfigError::Invalid("entity_id is required".into()))?)?;
        let data_dir = f.data_dir.ok_or_else(|| ConfigError::Invalid("data_dir is required".into()))?;
        let mut c = Self::new(id, data_dir, &[]);
        if let Some(r) = f.registry {
            c.registry = r;
        }
        if let Some(l) = f.listen {
            c.listen = l.parse().map_err(|e| ConfigError::Invalid(format!("listen: {e}")))?;
        }
        c.trust_anchors.extend(service_kit::config::trust_anchors(f.trust_anchors)?);
        if let Some(v) = f.wallet_provider_trust_marks {
            c.wallet_provider_trust_marks = v;
        }
        if let Some(v) = f.trust_mark_status_refresh {
            c.trust_mark_status_refresh = service_kit::config::seconds("trust_mark_status_refresh", v)?;
        }
        c.x509_roots_pem.push_str(&service_kit::config::pem_files(&f.x509_roots)?);
        if let Some(v) = f.check_crl {
            c.check_crl = v;
        }
        if let Some(v) = f.crl_refresh {
            c.crl_refresh = service_kit::config::seconds("crl_refresh", v)?;
        }
        c.authority_hints = match f.authority_hints {
            Some(h) => h.iter().map(|h| entity("authority_hints", h)).collect::<Result<_, _>>()?,
            None => c.trust_anchors.iter().map(|a| a.id.clone()).collect(),
        };
        if let Some(v) = f.admin_token {
            c.admin_token = v;
        }
        if let Some(v) = f.organization_name {
            c.organization_name = v;
        }
        if let Some(p) = f.profile {
            c.profile = Profile::parse(&p).ok_or_else(|| ConfigError::Invalid(format!("profile: `{p}` is not it-wallet-1.3 or it-wallet-1.4")))?;
        }
        for cf in f.credentials {
            let preset = Preset::parse(&cf.preset).ok_or_else(|| ConfigError::Invalid(format!("credentials.preset: `{}` is not pid, mdl or health-card", cf.preset)))?;
            // An operator's own type metadata must be an object about this `vct` (SD-JWT VC
            // §6.2): wallets refuse every credential whose type metadata names another.
            if let Some(own) = &cf.type_metadata {
                match own.get("vct") {
                    Some(serde_json::Value::String(v)) if v == preset.vct() => {}
                    None if own.is_object() => {}
                    _ => return Err(ConfigError::Invalid(format!("credentials.type_metadata: not an object whose `vct` is `{}`", preset.vct()))),
                }
            }
            c.credentials.push(CredentialConfig {
                id: cf.id.unwrap_or_else(|| preset.configuration_id().into()),
                preset,
                source: cf.source.unwrap_or_else(|| preset.sample_source()),
                type_metadata: cf.type_metadata,
            });
        }
        if let Some(v) = f.batch_size {
            c.batch_size = v;
        }
        if let Some(v) = f.refresh_token_ttl {
            c.refresh_token_ttl = v;
        }
        if let Some(v) = f.tx_code_attempts {
            c.tx_code_attempts = v;
        }
        if let Some(v) = f.wua_recheck_interval {
            c.wua_recheck_interval = v;
        }
        for (slot, v) in [
            (&mut c.offer_ttl, f.offer_ttl),
            (&mut c.access_token_ttl, f.access_token_ttl),
            (&mut c.nonce_ttl, f.nonce_ttl),
            (&mut c.credential_ttl, f.credential_ttl),
            (&mut c.status_list_ttl, f.status_list_ttl),
        ] {
            if let Some(v) = v {
                *slot = v;
            }
        }
        if let Some(b) = f.status_bits {
            c.status_bits = Bits::from_u64(b).map_err(|e| ConfigError::Invalid(format!("status_bits: {e}")))?;
        }
        if let Some(v) = f.attribute_update_status {
            if v < 0x03 {
                return Err(ConfigError::Invalid(format!("attribute_update_status: {v:#04x} is VALID, INVALID or SUSPENDED")));
            }
            c.attribute_update_status = v;
            // Set on purpose, it must fit the list; left to its default, a 1- or 2-bit list
            // writes UPDATE (`update_status`).
            if !wallet_core::status::StatusValue::from_u8(v).fits(c.status_bits) {
                return Err(ConfigError::Invalid(format!("attribute_update_status: {v:#04x} does not fit status_bits = {}", c.status_bits.get())));
            }
        }
        if let Some(v) = f.deferred_interval {
            c.deferred_interval = v;
        }
        if let Some(v) = f.commit_delay_ms {
            if v > MAX_COMMIT_DELAY_MS {
                return Err(ConfigError::Invalid(format!("commit_delay_ms must be at most {MAX_COMMIT_DELAY_MS}, got {v}")));
            }
            c.commit_delay_ms = v;
        }
        if let Some(v) = f.rate_limits {
            c.rate_limits = v;
        }
        if let Some(v) = f.wallet_attestation {
            c.wallet_attestation = WalletAttestation::parse(&v).ok_or_else(|| ConfigError::Invalid(format!("wallet_attestation: `{v}` is not required or optional")))?;
        }
        if let Some(a) = f.authentication {
            c.authentication = a.into_config()?;
        }
        if let Some(v) = f.login_ttl {
            c.login_ttl = v;
        }
        if let Some(v) = f.code_ttl {
            c.code_ttl = v;
        }
        c.database_url = f.database_url.filter(|u| !u.trim().is_empty());
        c.keys_dir = f.keys_dir;
        c.registry_url = f.registry_url.filter(|u| !u.trim().is_empty());
        c.tls = f.tls;
        c.validate()?;
        Ok(c)
    }

    /// The rules: at least one credential, distinct ids, SQL identifiers in the sources,
    /// lifetimes in range, `batch_size` 1..=100, status bits that hold SUSPENDED when asked.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        service_kit::config::check_pem_roots(&self.x509_roots_pem)?;
        if self.credentials.is_empty() {
            return bad("configure at least one [[credentials]]".into());
        }
        let mut ids = std::collections::BTreeSet::new();
        for c in &self.credentials {
            if !ids.insert(c.id.as_str()) {
                return bad(format!("credential configuration id `{}` given twice", c.id));
            }
            let s = &c.source;
            let names = std::iter::once(&s.table).chain(std::iter::once(&s.key)).chain(s.ready.iter()).chain(s.claims.values()).chain(s.json.iter());
            if let Some(r) = s.claims.keys().find(|k| RESERVED_CLAIMS.contains(&k.as_str())) {
                return bad(format!("credentials `{}`: claim `{r}` is set by the issuer, not the registry", c.id));
            }
            for n in names {
                if !is_identifier(n) {
                    return bad(format!("credentials `{}`: `{n}` is not a plain SQL identifier", c.id));
                }
            }
        }
        if !(1..=100).contains(&self.batch_size) {
            return bad(format!("batch_size must be in 1..=100, got {}", self.batch_size));
        }
        for (name, v, max) in [
            ("offer_ttl", self.offer_ttl, 86_400),
            ("access_token_ttl", self.access_token_ttl, 3_600),
            ("nonce_ttl", self.nonce_ttl, 3_600),
            ("credential_ttl", self.credential_ttl, 20 * 365 * 86_400),
            ("status_list_ttl", self.status_list_ttl, 86_400),
        ] {
            if !(30..=max).contains(&v) {
                return bad(format!("{name} must be in 30..={max} seconds, got {v}"));
            }
        }
        // At most the spec's 24 h (IT-Wallet 1.4 §2.5); at least a minute, not to hammer the
        // wallet providers' status lists.
        if self.wua_recheck_interval != 0 && !(60..=86_400).contains(&self.wua_recheck_interval) {
            return bad(format!("wua_recheck_interval must be 0 (off) or in 60..=86400 seconds, got {}", self.wua_recheck_interval));
        }
        if !(0..=30 * 86_400).contains(&self.refresh_token_ttl) {
            return bad(format!("refresh_token_ttl must be in 0..=2592000 seconds, got {}", self.refresh_token_ttl));
        }
        if self.tx_code_attempts == 0 {
            return bad("tx_code_attempts must be at least 1".into());
        }
        if !(60..=3_600).contains(&self.login_ttl) {
            return bad(format!("login_ttl must be in 60..=3600 seconds, got {}", self.login_ttl));
        }
        if !(1..=60).contains(&self.code_ttl) {
            return bad(format!("code_ttl must be in 1..=60 seconds (IT-Wallet 1.4 §3.3), got {}", self.code_ttl));
        }
        match &self.authentication {
            Authentication::SpidCie(a) if a.providers.is_empty() => return bad("authentication.providers: name at least one OpenID Provider".into()),
            Authentication::SpidCie(_) | Authentication::Pid(_) if self.trust_anchors.is_empty() => {
                return bad("[authentication] needs a [[trust_anchors]] entry (the OpenID Provider or the PID issuer is trusted through it)".into());
            }
            Authentication::Pid(p) if p.vct.is_empty() || p.claim.is_empty() => return bad("authentication.vct and authentication.claim must not be empty".into()),
            _ => {}
        }
        for (name, url) in [("database_url", &self.database_url), ("registry_url", &self.registry_url)] {
            if let Some(u) = url
                && !(u.starts_with("postgres://") || u.starts_with("postgresql://"))
            {
                return bad(format!("{name} must be a PostgreSQL URL (postgres://user:password@host/db)"));
            }
        }
        Ok(())
    }

    /// Where the keys are: `keys_dir`, or `data_dir`.
    pub fn keys_dir(&self) -> &Path {
        self.keys_dir.as_deref().unwrap_or(&self.data_dir)
    }

    /// A URL under the entity id.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.entity_id.as_str().trim_end_matches('/'))
    }

    /// The configuration `id`.
    pub fn credential(&self, id: &str) -> Option<&CredentialConfig> {
        self.credentials.iter().find(|c| c.id == id)
    }

    /// The status an `update` writes (IT-Wallet 1.4 §6, it-wallet-versions.md §5):
    /// ATTRIBUTE_UPDATE as `attribute_update_status` when the list holds it and the profile
    /// is 1.4; UPDATE (0x03) towards 1.3 wallets or in a 1- or 2-bit list.
    pub fn update_status(&self) -> wallet_core::status::StatusValue {
        use wallet_core::status::StatusValue;
        let attribute = StatusValue::from_u8(self.attribute_update_status);
        if self.profile == Profile::ItWallet14 && attribute.fits(self.status_bits) { attribute } else { StatusValue::Update }
    }

    /// Whether a status value asks for re-issuance: UPDATE or this issuer's ATTRIBUTE_UPDATE.
    pub fn is_update(&self, value: u8) -> bool {
        value == wallet_core::status::StatusValue::Update.to_u8() || value == self.attribute_update_status
    }

    /// The status values [`Config::is_update`] accepts: UPDATE and ATTRIBUTE_UPDATE.
    pub fn update_statuses(&self) -> [u8; 2] {
        [wallet_core::status::StatusValue::Update.to_u8(), self.attribute_update_status]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "entity_id = \"https://issuer.example.it\"\ndata_dir = \"/tmp/i\"\n[[credentials]]\npreset = \"pid\"\n";

    /// it-wallet-versions.md §5, issuer item 7: 4 bits by default, so that `update` writes
    /// ATTRIBUTE_UPDATE in the 1.4 profile; an ATTRIBUTE_UPDATE value set on purpose that the
    /// list cannot hold is refused at start, not silently written as UPDATE.
    #[test]
    fn status_bits_default_to_four_and_hold_attribute_update() {
        let c = Config::from_toml(BASE, []).unwrap();
        assert_eq!(c.status_bits, Bits::Four);
        assert_eq!(c.update_status().to_u8(), 0x0B);
        let top = |extra: &str| format!("{extra}\n{BASE}");
        let c = Config::from_toml(&top("status_bits = 2"), []).unwrap();
        assert_eq!(c.update_status(), wallet_core::status::StatusValue::Update, "a 2-bit list writes UPDATE");
        let e = Config::from_toml(&top("status_bits = 2\nattribute_update_status = 0x0F"), []).unwrap_err();
        assert!(e.to_string().contains("does not fit status_bits = 2"), "{e}");
        assert!(Config::from_toml(&top("status_bits = 8\nattribute_update_status = 0x0F"), []).is_ok());
    }

    /// `[credentials.type_metadata]`: an operator's own type metadata document for the `vct`.
    #[test]
    fn a_configuration_may_bring_its_own_type_metadata() {
        assert_eq!(Config::from_toml(BASE, []).unwrap().credentials[0].type_metadata, None);
        let other = Config::from_toml(&format!("{BASE}[credentials.type_metadata]\nvct = \"urn:eudi:ehic:1\"\n"), []).unwrap_err();
        assert!(other.to_string().contains("credentials.type_metadata"), "{other}");
        let c = Config::from_toml(&format!("{BASE}[credentials.type_metadata]\nvct = \"urn:eudi:pid:it:1\"\nname = \"PID\"\n"), []).unwrap();
        assert_eq!(c.credentials[0].type_metadata, Some(serde_json::json!({"vct": "urn:eudi:pid:it:1", "name": "PID"})));
    }

    #[test]
    fn wua_recheck_interval_defaults_to_a_day_and_is_bounded() {
        assert_eq!(Config::from_toml(BASE, []).unwrap().wua_recheck_interval, 86_400);
        assert_eq!(Config::from_toml(&format!("wua_recheck_interval = 0\n{BASE}"), []).unwrap().wua_recheck_interval, 0);
        let env = Config::from_toml(BASE, [("TESSERA_ISSUER_WUA_RECHECK_INTERVAL".to_owned(), "3600".to_owned())]).unwrap();
        assert_eq!(env.wua_recheck_interval, 3_600);
        for bad in ["30", "90000", "-1"] {
            let e = Config::from_toml(&format!("wua_recheck_interval = {bad}\n{BASE}"), []);
            assert!(matches!(e, Err(ConfigError::Invalid(ref m)) if m.contains("wua_recheck_interval")), "{bad}: {e:?}");
        }
    }

    #[test]
    fn toml_env_and_rules() {
        let c = Config::from_toml(BASE, [("TESSERA_ISSUER_BATCH_SIZE".to_owned(), "4".to_owned())]).unwrap();
        assert_eq!(c.batch_size, 4);
        assert_eq!(c.credentials[0].id, "dc_sd_jwt_PersonIdentificationData");
        assert_eq!(c.registry, PathBuf::from("/tmp/i/authentic-source.sqlite"));
        assert!(matches!(Config::from_toml(BASE, [("TESSERA_ISSUER_X".to_owned(), "1".to_owned())]), Err(ConfigError::Parse(_))));
        let bad_table = "entity_id = \"https://i.example.it\"\ndata_dir = \"/tmp/i\"\n[[credentials]]\npreset = \"mdl\"\n[credentials.source]\ntable = \"x; drop\"\nkey = \"k\"\n[credentials.source.claims]\na = \"b\"\n";
        assert!(matches!(Config::from_toml(bad_table, []), Err(ConfigError::Invalid(m)) if m.contains("identifier")));
        assert_eq!(c.wallet_attestation, WalletAttestation::Required);
        let optional = Config::from_toml(&format!("wallet_attestation = \"optional\"\n{BASE}"), []).unwrap();
        assert_eq!(optional.wallet_attestation, WalletAttestation::Optional);
        let env = Config::from_toml(BASE, [("TESSERA_ISSUER_WALLET_ATTESTATION".to_owned(), "optional".to_owned())]).unwrap();
        assert_eq!(env.wallet_attestation, WalletAttestation::Optional);
        assert!(matches!(Config::from_toml(&format!("wallet_attestation = \"none\"\n{BASE}"), []), Err(ConfigError::Invalid(m)) if m.contains("wallet_attestation")));
        assert_eq!(c.authentication, Authentication::None);
        let spid = format!("{BASE}[authentication]\nmethod = \"spid-cie\"\nproviders = [\"https://op.example.it\"]\n");
        assert!(matches!(Config::from_toml(&spid, []), Err(ConfigError::Invalid(m)) if m.contains("trust_anchors")));
        let mut c = Config::from_toml(BASE, []).unwrap();
        c.trust_anchors = vec![TrustAnchorConfig { id: EntityId::new("https://ta.example.it").unwrap(), jwks: wallet_core::jose::JwkSet { keys: vec![] } }];
        let a: AuthenticationFile = toml::from_str("method = \"spid-cie\"\nproviders = [\"https://op.example.it\"]").unwrap();
        c.authentication = a.into_config().unwrap();
        assert!(matches!(&c.authentication, Authentication::SpidCie(s) if s.acr == spid_cie_oidc::Acr::SpidL3));
        c.validate().unwrap();
        let a: AuthenticationFile = toml::from_str("method = \"pid\"").unwrap();
        assert_eq!(a.into_config().unwrap(), Authentication::Pid(PidAuthentication::default()));
        let a: AuthenticationFile = toml::from_str("method = \"pid\"\nacr = \"https://www.spid.gov.it/SpidL2\"").unwrap();
        assert!(a.into_config().is_err(), "acr is a spid-cie setting");
        let a: AuthenticationFile = toml::from_str("method = \"saml\"").unwrap();
        assert!(a.into_config().is_err());
        assert_eq!((c.database_url.as_deref(), c.keys_dir(), c.tls.as_ref()), (None, Path::new("/tmp/i"), None), "SQLite, keys in data_dir, HTTP");
        let pg = format!("database_url = \"postgres://u:p@db/x\"\nkeys_dir = \"/k\"\n{BASE}[tls]\ncertificate = \"/c.pem\"\nprivate_key = \"/k.pem\"\n");
        let pg = Config::from_toml(&pg, []).unwrap();
        assert_eq!((pg.database_url.as_deref(), pg.keys_dir()), (Some("postgres://u:p@db/x"), Path::new("/k")));
        assert_eq!(pg.tls.unwrap().certificate, PathBuf::from("/c.pem"));
        let env = Config::from_toml(BASE, [("TESSERA_ISSUER_DATABASE_URL".to_owned(), "postgresql://db/y".to_owned()), ("TESSERA_ISSUER_KEYS_DIR".to_owned(), "/kk".to_owned())]).unwrap();
        assert_eq!((env.database_url.as_deref(), env.keys_dir()), (Some("postgresql://db/y"), Path::new("/kk")));
        assert!(matches!(Config::from_toml(&format!("database_url = \"mysql://db/x\"\n{BASE}"), []), Err(ConfigError::Invalid(m)) if m.contains("database_url")));
        assert!(matches!(Config::from_toml(&format!("registry_url = \"/x.sqlite\"\n{BASE}"), []), Err(ConfigError::Invalid(m)) if m.contains("registry_url")));
        let reg = Config::from_toml(BASE, [("TESSERA_ISSUER_REGISTRY_URL".to_owned(), "postgres://db/r".to_owned())]).unwrap();
        assert_eq!(reg.registry_url.as_deref(), Some("postgres://db/r"));
        let none = "entity_id = \"https://i.example.it\"\ndata_dir = \"/tmp/i\"\n";
        assert!(matches!(Config::from_toml(none, []), Err(ConfigError::Invalid(m)) if m.contains("credentials")));
    }

    /// `commit_delay_ms`: 3 by default, 0 to 100, anything longer refused naming the key.
    #[test]
    fn commit_delay_is_bounded() {
        assert_eq!(Config::from_toml(BASE, []).unwrap().commit_delay_ms, 3);
        for v in [0, 1, 100] {
            assert_eq!(Config::from_toml(&format!("commit_delay_ms = {v}\n{BASE}"), []).unwrap().commit_delay_ms, v);
        }
        let long = Config::from_toml(&format!("commit_delay_ms = 101\n{BASE}"), []);
        assert!(matches!(long, Err(ConfigError::Invalid(m)) if m.contains("commit_delay_ms")));
        assert!(matches!(Config::from_toml(&format!("commit_delay_ms = -1\n{BASE}"), []), Err(ConfigError::Parse(_))));
    }
}
