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
            "CREATE TABLE IF NOT EXISTS trust_marks (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                trust_mark_type TEXT NOT NULL,
                sub TEXT NOT NULL,
                jwt TEXT NOT NULL,
                iat INTEGER NOT NULL,
                exp INTEGER,
                revoked INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX IF NOT EXISTS trust_marks_type_sub ON trust_marks(trust_mark_type, sub);
            CREATE TABLE IF NOT EXISTS own_trust_marks (
                trust_mark_type TEXT PRIMARY KEY,
                jwt TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS subordinates (
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

    /// Records a trust mark this authority issued.
    pub fn add_trust_mark(&self, m: &IssuedTrustMark) -> Result<(), RegistryError> {
        self.conn().execute(
            "INSERT INTO trust_marks (trust_mark_type, sub, jwt, iat, exp) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![m.trust_mark_type, m.sub, m.jwt, m.iat, m.exp],
        )?;
        Ok(())
    }

    /// Revokes every mark of `trust_mark_type` issued to `sub`; the count revoked.
    pub fn revoke_trust_marks(&self, trust_mark_type: &str, sub: &str) -> Result<usize, RegistryError> {
        Ok(self.conn().execute("UPDATE trust_marks SET revoked = 1 WHERE trust_mark_type = ?1 AND sub = ?2 AND revoked = 0", params![trust_mark_type, sub])?)
    }

    /// The marks issued, newest first, optionally filtered.
    pub fn trust_marks(&self, trust_mark_type: Option<&str>, sub: Option<&str>) -> Result<Vec<IssuedTrustMark>, RegistryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT trust_mark_type, sub, jwt, iat, exp, revoked FROM trust_marks
             WHERE (?1 IS NULL OR trust_mark_type = ?1) AND (?2 IS NULL OR sub = ?2) ORDER BY seq DESC",
        )?;
        let rows = stmt.query_map(params![trust_mark_type, sub], |r| {
            Ok(IssuedTrustMark { trust_mark_type: r.get(0)?, sub: r.get(1)?, jwt: r.get(2)?, iat: r.get(3)?, exp: r.get(4)?, revoked: r.get(5)? })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Keeps a mark issued to this entity, to publish in its configuration.
    pub fn set_own_trust_mark(&self, trust_mark_type: &str, jwt: &str) -> Result<(), RegistryError> {
        self.conn().execute(
            "INSERT INTO own_trust_marks (trust_mark_type, jwt) VALUES (?1, ?2) ON CONFLICT(trust_mark_type) DO UPDATE SET jwt = ?2",
            params![trust_mark_type, jwt],
        )?;
        Ok(())
    }

    /// The marks this entity publishes.
    pub fn own_trust_marks(&self) -> Result<Vec<(String, String)>, RegistryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT trust_mark_type, jwt FROM own_trust_marks ORDER BY trust_mark_type")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
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
