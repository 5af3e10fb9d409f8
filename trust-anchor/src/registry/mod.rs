//! The subordinate registry: one type over two backends. A SQLite file under the data
//! directory by default (nothing to install); PostgreSQL when the configuration gives a URL,
//! so that replicas behind a load balancer share it (architecture.md, "Principles").
//!
//! It keeps the subordinates with their pinned keys (draft 48 §8.1), the trust marks this
//! authority issued (§8.4–8.6), the marks issued to this entity, and the CA certificates it
//! issued with their revocation (IT-Wallet 1.4 §1.2: a CRL for certificates valid > 24 h).

mod postgres;
mod sqlite;

use std::path::Path;

use serde_json::Value;
use wallet_core::federation::EntityId;
use wallet_core::jose::jwk::JwkSet;

/// A registered subordinate.
#[derive(Debug, Clone, PartialEq)]
pub struct Subordinate {
    /// Its id.
    pub entity_id: EntityId,
    /// Its entity types (from its configuration at onboarding).
    pub entity_types: Vec<String>,
    /// Its Federation Entity Keys, pinned at onboarding.
    pub jwks: JwkSet,
    /// The `metadata_policy` this authority applies to it.
    pub metadata_policy: Option<Value>,
    /// The `constraints` for it.
    pub constraints: Option<Value>,
    /// Whether it is itself an authority (intermediate).
    pub intermediate: bool,
    /// Claims about its organisation that the trust marks issued to it carry (IT-Wallet 1.4
    /// §1.1, trust mark table: `organization_type`, `logo_uri`, `organization_name`,
    /// `ipa_code`, `email`, ...), given at onboarding.
    pub trust_mark_claims: Option<Value>,
}

/// What happened to a subordinate (Subordinate Events draft 00 §"Subordinate Event Types").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubordinateEvent {
    /// The subordinate.
    pub sub: String,
    /// When.
    pub iat: i64,
    /// `registration`, `jwks_update` or `revocation`.
    pub event: String,
    /// What the operator or the service said about it.
    pub description: Option<String>,
}

/// A trust mark issued by this authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTrustMark {
    /// Its type.
    pub trust_mark_type: String,
    /// To whom.
    pub sub: String,
    /// The JWT.
    pub jwt: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: Option<i64>,
    /// Revoked by the issuer.
    pub revoked: bool,
}

/// A CA certificate this authority issued (IT-Wallet 1.4 §1.2), kept for its CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The serial number, lowercase hex of its DER INTEGER content.
    pub serial: String,
    /// The entity it was issued to.
    pub entity_id: String,
    /// Issued at (Unix seconds).
    pub issued_at: i64,
    /// Its `notAfter` (Unix seconds): past it, it leaves the CRL.
    pub not_after: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// A registry failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// SQLite failed.
    #[error("registry database (SQLite): {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed (connection or query).
    #[error("registry database (PostgreSQL): {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The PostgreSQL URL does not parse, or the server could not be reached in time.
    #[error("registry {0}")]
    Connection(#[from] service_kit::pg::PgError),
    /// A stored row does not parse.
    #[error("registry row for {0} is corrupt")]
    Corrupt(String),
    /// The database file cannot be created or made private (0600).
    #[error("registry file {0}")]
    File(String),
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(Box<postgres::Postgres>),
}

/// The registry.
pub struct Registry {
    backend: Backend,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("backend", &self.backend_name()).finish()
    }
}

/// Dispatches a call to the backend: SQLite calls are synchronous and short (one local
/// file, WAL), PostgreSQL calls are awaited.
macro_rules! dispatch {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match &$self.backend {
            Backend::Sqlite(db) => db.$method($($arg),*),
            Backend::Postgres(db) => db.$method($($arg),*).await,
        }
    };
}

impl Registry {
    /// Opens (creating) the SQLite registry file.
    pub fn open_sqlite(path: &Path) -> Result<Self, RegistryError> {
        Ok(Self { backend: Backend::Sqlite(sqlite::Sqlite::open(path)?) })
    }

    /// A PostgreSQL registry at `url` (`postgres://user:password@host:port/db`, libpq
    /// key=value form accepted). The URL is checked now; the connection is made (and the
    /// tables created) at first use, and made again after the server closed it. Use
    /// [`Registry::ping`] to connect at start.
    pub fn postgres(url: &str) -> Result<Self, RegistryError> {
        Ok(Self { backend: Backend::Postgres(Box::new(postgres::Postgres::new(url)?)) })
    }

    /// Connects now (PostgreSQL), so that a wrong URL or an unreachable server fails at start.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(db) => db.ping().await,
        }
    }

    /// `sqlite` or `postgresql`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgresql",
        }
    }

    /// Adds or replaces a subordinate.
    pub async fn upsert(&self, s: &Subordinate) -> Result<(), RegistryError> {
        dispatch!(self, upsert(s))
    }

    /// Removes a subordinate; false if it was not registered.
    pub async fn remove(&self, id: &EntityId) -> Result<bool, RegistryError> {
        dispatch!(self, remove(id))
    }

    /// One subordinate.
    pub async fn get(&self, id: &EntityId) -> Result<Option<Subordinate>, RegistryError> {
        dispatch!(self, get(id))
    }

    /// All subordinates, by id.
    pub async fn list(&self) -> Result<Vec<Subordinate>, RegistryError> {
        dispatch!(self, list())
    }

    /// Records a trust mark this authority issued.
    pub async fn add_trust_mark(&self, m: &IssuedTrustMark) -> Result<(), RegistryError> {
        dispatch!(self, add_trust_mark(m))
    }

    /// Revokes every mark of `trust_mark_type` issued to `sub`; the count revoked.
    pub async fn revoke_trust_marks(&self, trust_mark_type: &str, sub: &str) -> Result<usize, RegistryError> {
        dispatch!(self, revoke_trust_marks(trust_mark_type, sub))
    }

    /// The marks issued, newest first, optionally filtered.
    pub async fn trust_marks(&self, trust_mark_type: Option<&str>, sub: Option<&str>) -> Result<Vec<IssuedTrustMark>, RegistryError> {
        dispatch!(self, trust_marks(trust_mark_type, sub))
    }

    /// Keeps a mark issued to this entity, to publish in its configuration.
    pub async fn set_own_trust_mark(&self, trust_mark_type: &str, jwt: &str) -> Result<(), RegistryError> {
        dispatch!(self, set_own_trust_mark(trust_mark_type, jwt))
    }

    /// The marks this entity publishes, by type.
    pub async fn own_trust_marks(&self) -> Result<Vec<(String, String)>, RegistryError> {
        dispatch!(self, own_trust_marks())
    }

    /// Records a CA certificate this authority issued.
    pub async fn add_certificate(&self, c: &IssuedCertificate) -> Result<(), RegistryError> {
        dispatch!(self, add_certificate(c))
    }

    /// Revokes, at `now`, every unrevoked certificate issued to `entity_id`; the count revoked.
    pub async fn revoke_certificates(&self, entity_id: &str, now: i64) -> Result<usize, RegistryError> {
        dispatch!(self, revoke_certificates(entity_id, now))
    }

    /// The certificates issued to `entity_id`, oldest first.
    pub async fn certificates(&self, entity_id: &str) -> Result<Vec<IssuedCertificate>, RegistryError> {
        dispatch!(self, certificates(entity_id))
    }

    /// Records an event about a subordinate.
    pub async fn add_event(&self, e: &SubordinateEvent) -> Result<(), RegistryError> {
        dispatch!(self, add_event(e))
    }

    /// The events about `sub`, oldest first.
    pub async fn events(&self, sub: &str) -> Result<Vec<SubordinateEvent>, RegistryError> {
        dispatch!(self, events(sub))
    }

    /// The revoked certificates not yet expired at `now` (the CRL's entries), by serial.
    pub async fn revoked_certificates(&self, now: i64) -> Result<Vec<IssuedCertificate>, RegistryError> {
        dispatch!(self, revoked_certificates(now))
    }
}

/// Parses a stored subordinate row.
fn parse_subordinate(
    id: String,
    types: &str,
    jwks: &str,
    policy: Option<String>,
    constraints: Option<String>,
    intermediate: bool,
    trust_mark_claims: Option<String>,
) -> Result<Subordinate, RegistryError> {
    let corrupt = || RegistryError::Corrupt(id.clone());
    Ok(Subordinate {
        entity_id: EntityId::new(id.clone()).map_err(|_| corrupt())?,
        entity_types: serde_json::from_str(types).map_err(|_| corrupt())?,
        jwks: serde_json::from_str(jwks).map_err(|_| corrupt())?,
        metadata_policy: policy.map(|p| serde_json::from_str(&p)).transpose().map_err(|_| corrupt())?,
        constraints: constraints.map(|c| serde_json::from_str(&c)).transpose().map_err(|_| corrupt())?,
        intermediate,
        trust_mark_claims: trust_mark_claims.map(|c| serde_json::from_str(&c)).transpose().map_err(|_| corrupt())?,
    })
}

/// The JSON columns of a subordinate: types, jwks, policy, constraints, trust mark claims.
struct Columns {
    types: String,
    jwks: String,
    policy: Option<String>,
    constraints: Option<String>,
    trust_mark_claims: Option<String>,
}

fn subordinate_columns(s: &Subordinate) -> Result<Columns, RegistryError> {
    let corrupt = |_| RegistryError::Corrupt(s.entity_id.to_string());
    Ok(Columns {
        types: serde_json::to_string(&s.entity_types).map_err(corrupt)?,
        jwks: serde_json::to_string(&s.jwks).map_err(corrupt)?,
        policy: s.metadata_policy.as_ref().map(Value::to_string),
        constraints: s.constraints.as_ref().map(Value::to_string),
        trust_mark_claims: s.trust_mark_claims.as_ref().map(Value::to_string),
    })
}
