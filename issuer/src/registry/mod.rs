//! The registry connector: the authentic source is one table of the registry's own database,
//! read-only, mapped to the credential's claims by configuration ([`crate::config::Source`]):
//! SQLite (`registry`, a file) by default, PostgreSQL when `registry_url` is given (the
//! `postgres` module: replicas then read one registry). Column values become claims: text as a
//! string (or parsed, for the columns listed in `json`), numbers as numbers, blobs (the
//! portrait) as base64url, NULL as an absent claim.

mod postgres;

pub use postgres::copy_to_postgres;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::{Map, Value};

use crate::config::Source;

/// The registry cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("registry: {0}")]
pub struct RegistryError(pub String);

impl From<rusqlite::Error> for RegistryError {
    fn from(e: rusqlite::Error) -> Self {
        Self(e.to_string())
    }
}

/// What the registry says about a citizen.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// The claims, ready to issue.
    Ready(Map<String, Value>),
    /// The record exists and is not ready (deferred issuance).
    NotReady,
    /// No such citizen.
    Unknown,
}

/// Read-only connections kept open between lookups (at most this many idle).
const MAX_IDLE: usize = 4;

/// The registry's database.
#[derive(Debug, Clone)]
pub struct Registry {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqliteRegistry),
    Postgres(Arc<postgres::PgRegistry>),
}

impl Registry {
    /// The SQLite database at `path` (opened read-only, on first lookup).
    pub fn new(path: &Path) -> Self {
        Self { backend: Backend::Sqlite(SqliteRegistry::new(path)) }
    }

    /// The PostgreSQL database at `url` (connected at first lookup; read only: the issuer
    /// runs `SELECT`s on the configured tables and nothing else).
    pub fn postgres(url: &str) -> Result<Self, RegistryError> {
        Ok(Self { backend: Backend::Postgres(Arc::new(postgres::PgRegistry::new(url)?)) })
    }

    /// Looks `citizen` up in `source`.
    pub fn lookup(&self, source: &Source, citizen: &str) -> Result<Record, RegistryError> {
        match &self.backend {
            Backend::Sqlite(r) => r.lookup(source, citizen),
            Backend::Postgres(r) => r.lookup(source, citizen),
        }
    }
}

/// The SELECT of `source`'s claim columns (and `ready` last), its key as the one parameter
/// (`$1` or `?1`). Identifiers were checked by `Config::validate` (plain SQL identifiers),
/// and are quoted.
fn select(source: &Source, mut columns: impl FnMut(&str) -> String, param: &str) -> String {
    let mut names: Vec<&str> = source.claims.values().map(String::as_str).collect();
    if let Some(r) = &source.ready {
        names.push(r);
    }
    let list = names.iter().map(|c| columns(c)).collect::<Vec<_>>().join(", ");
    format!("SELECT {list} FROM \"{}\" WHERE \"{}\" = {param}", source.table, source.key)
}

/// The SQLite registry.
#[derive(Debug, Clone)]
struct SqliteRegistry {
    path: PathBuf,
    /// Idle read-only connections, reused with their cached statements: opening the file
    /// for every lookup cost a tenth of the issuer's CPU per credential (issuance bench). A
    /// connection kept open still sees what the registry commits after it was opened (each
    /// statement reads the latest committed state).
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl SqliteRegistry {
    fn new(path: &Path) -> Self {
        Self { path: path.to_owned(), idle: Arc::new(Mutex::new(Vec::new())) }
    }

    fn connection(&self) -> Result<Connection, RegistryError> {
        if let Some(c) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(c);
        }
        Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| RegistryError(format!("{}: {e}", self.path.display())))
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
    }

    fn lookup(&self, source: &Source, citizen: &str) -> Result<Record, RegistryError> {
        let conn = self.connection()?;
        let r = Self::lookup_on(&conn, source, citizen);
        // A connection that failed (the file replaced, a schema change) is not kept.
        if r.is_ok() {
            self.give_back(conn);
        }
        r
    }

    fn lookup_on(conn: &Connection, source: &Source, citizen: &str) -> Result<Record, RegistryError> {
        let sql = select(source, |c| format!("\"{c}\""), "?1");
        let mut stmt = conn.prepare_cached(&sql)?;
        let row = stmt
            .query_row([citizen], |r| {
                let mut claims = Map::new();
                for (i, (claim, column)) in source.claims.iter().enumerate() {
                    let v = match r.get_ref(i)? {
                        ValueRef::Null => continue,
                        ValueRef::Integer(n) => Value::from(n),
                        ValueRef::Real(f) => Value::from(f),
                        ValueRef::Text(t) => {
                            let s = String::from_utf8_lossy(t).into_owned();
                            if source.json.iter().any(|j| j == column) {
                                serde_json::from_str(&s).map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))?
                            } else {
                                Value::String(s)
                            }
                        }
                        ValueRef::Blob(b) => Value::String(wallet_core::jose::b64::encode(b)),
                    };
                    claims.insert(claim.clone(), v);
                }
                let ready = match source.ready {
                    Some(_) => r.get::<_, Option<i64>>(source.claims.len())?.unwrap_or(0) != 0,
                    None => true,
                };
                Ok((claims, ready))
            })
            .optional()?;
        Ok(match row {
            None => Record::Unknown,
            Some((_, false)) => Record::NotReady,
            Some((claims, true)) => Record::Ready(claims),
        })
    }
}
