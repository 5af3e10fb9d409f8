//! What an operator configures: in code ([`Config::trust_anchor`]) or from a TOML file
//! with environment overrides ([`Config::from_file`]), as every Tessera service does
//! (architecture.md, "Principles").

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// PostgreSQL URL of the registry; `None`: the SQLite file `<data_dir>/registry.sqlite`.
    pub database_url: Option<String>,
    /// Trust anchor only: `constraints` published in its own Entity Configuration
    /// (`max_path_length`, ..., as SPID/CIE and IT-Wallet anchors do; draft 48 §6.2).
    pub constraints: Option<Map<String, Value>>,
    /// Bounds of outbound HTTP (`[outbound]`): per-fetch timeout, per-request deadline,
    /// fetches in flight.
    pub outbound: service_kit::FetchLimits,
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
            database_url: None,
            constraints: None,
            outbound: service_kit::FetchLimits::default(),
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

/// Where a service listens, with its configuration.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The entity's configuration.
    pub config: Config,
    /// The address to bind.
    pub listen: SocketAddr,
}

/// A configuration that cannot be used; names the file or variable and the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown or mistyped field.
    #[error("{path}: {detail}")]
    Toml {
        /// The file.
        path: String,
        /// The parser's message (line and field).
        detail: String,
    },
    /// A field (from the file or an environment variable) has a bad value.
    #[error("{field}: {detail}")]
    Invalid {
        /// The field or variable.
        field: String,
        /// Why.
        detail: String,
    },
}

/// A trust anchor this entity trusts, as written in the file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAnchor {
    id: String,
    /// A JWK Set file (JSON); relative paths are relative to the configuration file.
    jwks_file: PathBuf,
}

/// The file's form (TOML). Unknown fields are refused.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    entity_id: Option<String>,
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    #[serde(default)]
    authority_hints: Vec<String>,
    #[serde(default = "yes")]
    authority: bool,
    admin_token: Option<String>,
    admin_token_file: Option<PathBuf>,
    organization_name: Option<String>,
    #[serde(default)]
    metadata: Map<String, Value>,
    statement_ttl: Option<i64>,
    database_url: Option<String>,
    #[serde(default)]
    trust_anchors: Vec<FileAnchor>,
    #[serde(default)]
    trust_mark_issuers: std::collections::BTreeMap<String, Vec<String>>,
    constraints: Option<Map<String, Value>>,
    #[serde(default)]
    outbound: service_kit::FetchLimits,
}

fn yes() -> bool {
    true
}

/// The environment variables that override the file, by field.
pub const ENV_OVERRIDES: [(&str, &str); 8] = [
    ("TESSERA_ENTITY_ID", "entity_id"),
    ("TESSERA_LISTEN", "listen"),
    ("TESSERA_DATA_DIR", "data_dir"),
    ("TESSERA_AUTHORITY_HINTS", "authority_hints (comma-separated)"),
    ("TESSERA_ADMIN_TOKEN", "admin_token"),
    ("TESSERA_ORGANIZATION_NAME", "organization_name"),
    ("TESSERA_STATEMENT_TTL", "statement_ttl"),
    ("TESSERA_DATABASE_URL", "database_url"),
];

/// The longest `statement_ttl` accepted: one year.
pub const MAX_STATEMENT_TTL: i64 = 365 * 86_400;

fn invalid(field: &str, detail: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid { field: field.to_owned(), detail: detail.to_string() }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.display().to_string(), source })
}

impl Config {
    /// Loads a service configuration from a TOML file, then applies the environment
    /// overrides of [`ENV_OVERRIDES`] (`TESSERA_DATABASE_URL`, ...).
    ///
    /// ```toml
    /// entity_id = "https://ta.example.it"
    /// listen = "0.0.0.0:7600"
    /// data_dir = "/var/lib/tessera/ta"
    /// admin_token_file = "/run/secrets/ta-admin-token"
    /// database_url = "postgres://tessera:secret@db.internal/tessera"   # else SQLite
    /// constraints = { max_path_length = 1 }                           # trust anchor only
    /// [outbound]                                                        # outbound HTTP bounds
    /// fetch_ms = 3000
    /// request_ms = 8000
    /// max_in_flight = 64
    /// [[trust_anchors]]                                                 # for /resolve
    /// id = "https://ta.example.it"
    /// jwks_file = "ta.jwks"
    /// ```
    pub fn from_file(path: &Path) -> Result<ServiceConfig, ConfigError> {
        let text = read(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml(&text, &path.display().to_string(), base, &|k| std::env::var(k).ok())
    }

    /// [`Config::from_file`] over text, with `env` as the environment; relative paths are
    /// taken from `base`. `name` names the source in errors.
    pub fn from_toml(text: &str, name: &str, base: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<ServiceConfig, ConfigError> {
        let mut f: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Toml { path: name.to_owned(), detail: e.to_string() })?;
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        if let Some(v) = env("TESSERA_ENTITY_ID") {
            f.entity_id = Some(v);
        }
        if let Some(v) = env("TESSERA_LISTEN") {
            f.listen = Some(v);
        }
        if let Some(v) = env("TESSERA_DATA_DIR") {
            f.data_dir = Some(v.into());
        }
        if let Some(v) = env("TESSERA_AUTHORITY_HINTS") {
            f.authority_hints = v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        }
        if let Some(v) = env("TESSERA_ADMIN_TOKEN") {
            f.admin_token = Some(v);
            f.admin_token_file = None;
        }
        if let Some(v) = env("TESSERA_ORGANIZATION_NAME") {
            f.organization_name = Some(v);
        }
        if let Some(v) = env("TESSERA_STATEMENT_TTL") {
            f.statement_ttl = Some(v.parse().map_err(|e| invalid("TESSERA_STATEMENT_TTL", e))?);
        }
        if let Some(v) = env("TESSERA_DATABASE_URL") {
            f.database_url = Some(v);
        }
        let resolve = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
        let entity_id = EntityId::new(f.entity_id.ok_or_else(|| invalid("entity_id", "missing"))?).map_err(|e| invalid("entity_id", e))?;
        let listen = f.listen.as_deref().unwrap_or("127.0.0.1:7600");
        let listen: SocketAddr = listen.parse().map_err(|e| invalid("listen", format!("{listen}: {e}")))?;
        let data_dir = resolve(f.data_dir.ok_or_else(|| invalid("data_dir", "missing"))?);
        let admin_token = match (f.admin_token, f.admin_token_file) {
            (Some(t), _) => t,
            (None, Some(p)) => read(&resolve(p))?.trim().to_owned(),
            (None, None) => return Err(invalid("admin_token", "missing (admin_token, admin_token_file or TESSERA_ADMIN_TOKEN)")),
        };
        if admin_token.len() < 16 {
            return Err(invalid("admin_token", "shorter than 16 characters"));
        }
        let mut c = Config::trust_anchor(entity_id, data_dir, admin_token);
        c.authority = f.authority;
        c.authority_hints = f.authority_hints.into_iter().map(EntityId::new).collect::<Result<_, _>>().map_err(|e| invalid("authority_hints", e))?;
        if let Some(n) = f.organization_name {
            c.organization_name = n;
        }
        c.metadata = f.metadata;
        if let Some(t) = f.statement_ttl {
            if !(1..=MAX_STATEMENT_TTL).contains(&t) {
                return Err(invalid("statement_ttl", format!("must be between 1 and {MAX_STATEMENT_TTL} seconds (one year)")));
            }
            c.statement_ttl = t;
        }
        c.database_url = f.database_url.filter(|u| !u.is_empty());
        if let Some(u) = &c.database_url
            && !(u.starts_with("postgres://") || u.starts_with("postgresql://") || u.contains("host="))
        {
            return Err(invalid("database_url", "not a PostgreSQL URL (postgres://...)"));
        }
        for a in f.trust_anchors {
            let id = EntityId::new(a.id).map_err(|e| invalid("trust_anchors.id", e))?;
            let path = resolve(a.jwks_file);
            let jwks = serde_json::from_str(&read(&path)?).map_err(|e| invalid("trust_anchors.jwks_file", format!("{}: {e}", path.display())))?;
            c.trust_anchors.push(TrustAnchorConfig { id, jwks });
        }
        c.trust_mark_issuers = f.trust_mark_issuers;
        if let Some(k) = &f.constraints {
            if !c.is_trust_anchor() {
                return Err(invalid("constraints", "only a trust anchor publishes constraints in its configuration"));
            }
            serde_json::from_value::<wallet_core::federation::entity::Constraints>(Value::Object(k.clone())).map_err(|e| invalid("constraints", e))?;
        }
        c.constraints = f.constraints;
        f.outbound.validate().map_err(|e| invalid("outbound", e))?;
        c.outbound = f.outbound;
        Ok(ServiceConfig { config: c, listen })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
entity_id = "https://int.example.it"
listen = "0.0.0.0:7601"
data_dir = "int-data"
authority_hints = ["https://ta.example.it"]
admin_token = "0123456789abcdef0123"
statement_ttl = 3600
[metadata.openid_credential_issuer]
credential_issuer = "https://int.example.it"
[[trust_anchors]]
id = "https://ta.example.it"
jwks_file = "ta.jwks"
"#;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<ServiceConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let key = wallet_core::jose::Signer::public_jwk(&wallet_core::jose::SoftwareSigner::generate().unwrap());
        std::fs::write(dir.path().join("ta.jwks"), serde_json::to_string(&serde_json::json!({"keys": [key]})).unwrap()).unwrap();
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_toml(text, "test.toml", dir.path(), &|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn file_then_environment() {
        let s = load(FILE, &[]).unwrap();
        assert_eq!(s.listen, "0.0.0.0:7601".parse().unwrap());
        assert_eq!(s.config.entity_id.as_str(), "https://int.example.it");
        assert!(!s.config.is_trust_anchor());
        assert_eq!(s.config.statement_ttl, 3600);
        assert_eq!(s.config.database_url, None, "SQLite by default");
        assert!(s.config.data_dir.ends_with("int-data"));
        assert_eq!(s.config.trust_anchors.len(), 1);
        assert!(s.config.metadata.contains_key("openid_credential_issuer"));
        let s = load(
            FILE,
            &[
                ("TESSERA_DATABASE_URL", "postgres://u:p@127.0.0.1/db"),
                ("TESSERA_LISTEN", "127.0.0.1:9000"),
                ("TESSERA_AUTHORITY_HINTS", "https://a.example.it, https://b.example.it"),
                ("TESSERA_STATEMENT_TTL", "60"),
            ],
        )
        .unwrap();
        assert_eq!(s.config.database_url.as_deref(), Some("postgres://u:p@127.0.0.1/db"));
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.config.authority_hints.len(), 2);
        assert_eq!(s.config.statement_ttl, 60);
    }

    #[test]
    fn refusals_name_the_field() {
        let field = |r: Result<ServiceConfig, ConfigError>| match r {
            Err(ConfigError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(load("data_dir = \"d\"\nadmin_token = \"0123456789abcdef\"", &[])), "entity_id");
        assert_eq!(field(load(FILE, &[("TESSERA_ADMIN_TOKEN", "short")])), "admin_token");
        assert_eq!(field(load(FILE, &[("TESSERA_DATABASE_URL", "mysql://x")])), "database_url");
        assert_eq!(field(load(FILE, &[("TESSERA_STATEMENT_TTL", "soon")])), "TESSERA_STATEMENT_TTL");
        assert_eq!(field(load(FILE, &[("TESSERA_LISTEN", "nowhere")])), "listen");
        assert!(matches!(load(&format!("{FILE}\ncolour = \"blue\""), &[]), Err(ConfigError::Toml { .. })), "unknown fields are refused");
        // Only a trust anchor publishes constraints in its configuration.
        assert_eq!(field(load(&FILE.replace("statement_ttl = 3600", "statement_ttl = 3600\nconstraints = { max_path_length = 1 }"), &[])), "constraints");
        assert_eq!(field(load(&FILE.replace("statement_ttl = 3600", "statement_ttl = 3600\n[outbound]\nmax_in_flight = 0"), &[])), "outbound");
        assert_eq!(field(load(&FILE.replace("statement_ttl = 3600", "statement_ttl = 3600\n[outbound]\nrequest_ms = 18446744073709551615"), &[])), "outbound");
        for ttl in ["0", "-1", "31536001", "9223372036854775807"] {
            assert_eq!(field(load(FILE, &[("TESSERA_STATEMENT_TTL", ttl)])), "statement_ttl", "{ttl}");
        }
        assert_eq!(load(FILE, &[("TESSERA_STATEMENT_TTL", "31536000")]).unwrap().config.statement_ttl, 31_536_000);
    }

    #[test]
    fn anchor_constraints_and_outbound_bounds() {
        let ta = FILE.replace("authority_hints = [\"https://ta.example.it\"]\n", "").replace(
            "statement_ttl = 3600",
            "statement_ttl = 3600\nconstraints = { max_path_length = 1 }\n[outbound]\nfetch_ms = 500\nrequest_ms = 1500\nmax_in_flight = 8",
        );
        let s = load(&ta, &[]).unwrap();
        assert!(s.config.is_trust_anchor());
        assert_eq!(s.config.constraints, serde_json::json!({"max_path_length": 1}).as_object().cloned());
        assert_eq!((s.config.outbound.fetch_ms, s.config.outbound.request_ms, s.config.outbound.max_in_flight), (500, 1500, 8));
        assert_eq!(s.config.outbound.connect_ms, service_kit::FetchLimits::default().connect_ms, "defaults for the rest");
        let bad = ta.replace("max_path_length = 1", "max_path_length = -1");
        assert!(matches!(load(&bad, &[]), Err(ConfigError::Invalid { field, .. }) if field == "constraints"));
    }
}
