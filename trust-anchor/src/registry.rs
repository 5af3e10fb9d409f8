//! The subordinate registry, in `<data_dir>/registry.sqlite`.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
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
}

/// A registry failure.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// SQLite failed.
    #[error("registry database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored row does not parse.
    #[error("registry row for {0} is corrupt")]
    Corrupt(String),
}

/// A stored row: id, types, jwks, policy, constraints, intermediate.
type Row = (String, String, String, Option<String>, Option<String>, bool);

/// The registry.
pub struct Registry {
    conn: Mutex<Connection>,
}

impl Registry {
    /// Opens (creating) the registry file.
    pub fn open(path: &Path) -> Result<Self, RegistryError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS subordinates (
                entity_id TEXT PRIMARY KEY,
                entity_types TEXT NOT NULL,
                jwks TEXT NOT NULL,
                metadata_policy TEXT,
                constraints TEXT,
                intermediate INTEGER NOT NULL
            );",
        )?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds or replaces a subordinate.
    pub fn upsert(&self, s: &Subordinate) -> Result<(), RegistryError> {
        let json = |v: &Option<Value>| v.as_ref().map(Value::to_string);
        self.conn().execute(
            "INSERT INTO subordinates (entity_id, entity_types, jwks, metadata_policy, constraints, intermediate)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(entity_id) DO UPDATE SET entity_types = ?2, jwks = ?3, metadata_policy = ?4, constraints = ?5, intermediate = ?6",
            params![
                s.entity_id.as_str(),
                serde_json::to_string(&s.entity_types).unwrap_or_default(),
                serde_json::to_string(&s.jwks).unwrap_or_default(),
                json(&s.metadata_policy),
                json(&s.constraints),
                s.intermediate
            ],
        )?;
        Ok(())
    }

    /// Removes a subordinate; false if it was not registered.
    pub fn remove(&self, id: &EntityId) -> Result<bool, RegistryError> {
        Ok(self.conn().execute("DELETE FROM subordinates WHERE entity_id = ?1", params![id.as_str()])? > 0)
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
    }

    fn parse(row: Row) -> Result<Subordinate, RegistryError> {
        let (id, types, jwks, policy, constraints, intermediate) = row;
        let corrupt = || RegistryError::Corrupt(id.clone());
        Ok(Subordinate {
            entity_id: EntityId::new(id.clone()).map_err(|_| corrupt())?,
            entity_types: serde_json::from_str(&types).map_err(|_| corrupt())?,
            jwks: serde_json::from_str(&jwks).map_err(|_| corrupt())?,
            metadata_policy: policy.map(|p| serde_json::from_str(&p)).transpose().map_err(|_| corrupt())?,
            constraints: constraints.map(|c| serde_json::from_str(&c)).transpose().map_err(|_| corrupt())?,
            intermediate,
        })
    }

    /// One subordinate.
    pub fn get(&self, id: &EntityId) -> Result<Option<Subordinate>, RegistryError> {
        let row = self
            .conn()
            .query_row(
                "SELECT entity_id, entity_types, jwks, metadata_policy, constraints, intermediate FROM subordinates WHERE entity_id = ?1",
                params![id.as_str()],
                Self::row,
            )
            .optional()?;
        row.map(Self::parse).transpose()
    }

    /// All subordinates, by id.
    pub fn list(&self) -> Result<Vec<Subordinate>, RegistryError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT entity_id, entity_types, jwks, metadata_policy, constraints, intermediate FROM subordinates ORDER BY entity_id")?;
        let rows = stmt.query_map([], Self::row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(Self::parse).collect()
    }
}
