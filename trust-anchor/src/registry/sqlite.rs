//! The SQLite backend: `<data_dir>/registry.sqlite`, WAL, synchronous FULL.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use wallet_core::federation::EntityId;

use super::{IssuedCertificate, IssuedTrustMark, RegistryError, Subordinate, SubordinateEvent, parse_subordinate, subordinate_columns};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS trust_marks (
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
    );
    CREATE TABLE IF NOT EXISTS certificates (
        serial TEXT PRIMARY KEY,
        entity_id TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE INDEX IF NOT EXISTS certificates_entity ON certificates(entity_id);
    CREATE TABLE IF NOT EXISTS subordinate_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        sub TEXT NOT NULL,
        iat INTEGER NOT NULL,
        event TEXT NOT NULL,
        description TEXT
    );
    CREATE INDEX IF NOT EXISTS subordinate_events_sub ON subordinate_events(sub);";

const SUBORDINATE_COLUMNS: &str = "entity_id, entity_types, jwks, metadata_policy, constraints, intermediate, trust_mark_claims";

/// A stored row: id, types, jwks, policy, constraints, intermediate, trust mark claims.
type Row = (String, String, String, Option<String>, Option<String>, bool, Option<String>);

pub(super) struct Sqlite {
    conn: Mutex<Connection>,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn parse((id, types, jwks, policy, constraints, intermediate, claims): Row) -> Result<Subordinate, RegistryError> {
    parse_subordinate(id, &types, &jwks, policy, constraints, intermediate, claims)
}

fn certificate(r: &rusqlite::Row<'_>) -> rusqlite::Result<IssuedCertificate> {
    Ok(IssuedCertificate { serial: r.get(0)?, entity_id: r.get(1)?, issued_at: r.get(2)?, not_after: r.get(3)?, revoked_at: r.get(4)? })
}

impl Sqlite {
    pub(super) fn open(path: &Path) -> Result<Self, RegistryError> {
        // The registry links entities, keys and marks: as private as the keys beside it.
        service_kit::files::private_database(path).map_err(|e| RegistryError::File(format!("{}: {e}", path.display())))?;
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        // Registries created before trust mark claims were kept with subordinates.
        let has_claims: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info('subordinates') WHERE name = 'trust_mark_claims'")?
            .exists([])?;
        if !has_claims {
            conn.execute_batch("ALTER TABLE subordinates ADD COLUMN trust_mark_claims TEXT")?;
        }
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn upsert(&self, s: &Subordinate) -> Result<(), RegistryError> {
        let c = subordinate_columns(s)?;
        self.conn().execute(
            "INSERT INTO subordinates (entity_id, entity_types, jwks, metadata_policy, constraints, intermediate, trust_mark_claims)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(entity_id) DO UPDATE SET entity_types = ?2, jwks = ?3, metadata_policy = ?4, constraints = ?5,
               intermediate = ?6, trust_mark_claims = ?7",
            params![s.entity_id.as_str(), c.types, c.jwks, c.policy, c.constraints, s.intermediate, c.trust_mark_claims],
        )?;
        Ok(())
    }

    pub(super) fn add_event(&self, e: &SubordinateEvent) -> Result<(), RegistryError> {
        self.conn().execute(
            "INSERT INTO subordinate_events (sub, iat, event, description) VALUES (?1, ?2, ?3, ?4)",
            params![e.sub, e.iat, e.event, e.description],
        )?;
        Ok(())
    }

    pub(super) fn events(&self, sub: &str) -> Result<Vec<SubordinateEvent>, RegistryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT sub, iat, event, description FROM subordinate_events WHERE sub = ?1 ORDER BY seq")?;
        let rows = stmt.query_map(params![sub], |r| Ok(SubordinateEvent { sub: r.get(0)?, iat: r.get(1)?, event: r.get(2)?, description: r.get(3)? }))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub(super) fn remove(&self, id: &EntityId) -> Result<bool, RegistryError> {
        Ok(self.conn().execute("DELETE FROM subordinates WHERE entity_id = ?1", params![id.as_str()])? > 0)
    }

    pub(super) fn get(&self, id: &EntityId) -> Result<Option<Subordinate>, RegistryError> {
        let r = self
            .conn()
            .query_row(&format!("SELECT {SUBORDINATE_COLUMNS} FROM subordinates WHERE entity_id = ?1"), params![id.as_str()], row)
            .optional()?;
        r.map(parse).transpose()
    }

    pub(super) fn list(&self) -> Result<Vec<Subordinate>, RegistryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {SUBORDINATE_COLUMNS} FROM subordinates ORDER BY entity_id"))?;
        let rows = stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(parse).collect()
    }

    pub(super) fn add_trust_mark(&self, m: &IssuedTrustMark) -> Result<(), RegistryError> {
        self.conn().execute(
            "INSERT INTO trust_marks (trust_mark_type, sub, jwt, iat, exp, revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![m.trust_mark_type, m.sub, m.jwt, m.iat, m.exp, m.revoked],
        )?;
        Ok(())
    }

    pub(super) fn revoke_trust_marks(&self, trust_mark_type: &str, sub: &str) -> Result<usize, RegistryError> {
        Ok(self.conn().execute(
            "UPDATE trust_marks SET revoked = 1 WHERE trust_mark_type = ?1 AND sub = ?2 AND revoked = 0",
            params![trust_mark_type, sub],
        )?)
    }

    pub(super) fn trust_marks(&self, trust_mark_type: Option<&str>, sub: Option<&str>) -> Result<Vec<IssuedTrustMark>, RegistryError> {
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

    pub(super) fn set_own_trust_mark(&self, trust_mark_type: &str, jwt: &str) -> Result<(), RegistryError> {
        self.conn().execute(
            "INSERT INTO own_trust_marks (trust_mark_type, jwt) VALUES (?1, ?2) ON CONFLICT(trust_mark_type) DO UPDATE SET jwt = ?2",
            params![trust_mark_type, jwt],
        )?;
        Ok(())
    }

    pub(super) fn own_trust_marks(&self) -> Result<Vec<(String, String)>, RegistryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT trust_mark_type, jwt FROM own_trust_marks ORDER BY trust_mark_type")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub(super) fn add_certificate(&self, c: &IssuedCertificate) -> Result<(), RegistryError> {
        self.conn().execute(
            "INSERT INTO certificates (serial, entity_id, issued_at, not_after, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![c.serial, c.entity_id, c.issued_at, c.not_after, c.revoked_at],
        )?;
        Ok(())
    }

    pub(super) fn revoke_certificates(&self, entity_id: &str, now: i64) -> Result<usize, RegistryError> {
        Ok(self.conn().execute(
            "UPDATE certificates SET revoked_at = ?2 WHERE entity_id = ?1 AND revoked_at IS NULL",
            params![entity_id, now],
        )?)
    }

    pub(super) fn certificates(&self, entity_id: &str) -> Result<Vec<IssuedCertificate>, RegistryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT serial, entity_id, issued_at, not_after, revoked_at FROM certificates WHERE entity_id = ?1 ORDER BY issued_at, serial",
        )?;
        let rows = stmt.query_map(params![entity_id], certificate)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub(super) fn revoked_certificates(&self, now: i64) -> Result<Vec<IssuedCertificate>, RegistryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT serial, entity_id, issued_at, not_after, revoked_at FROM certificates
             WHERE revoked_at IS NOT NULL AND not_after > ?1 ORDER BY serial",
        )?;
        let rows = stmt.query_map(params![now], certificate)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}
