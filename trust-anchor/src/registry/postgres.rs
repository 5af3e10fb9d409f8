//! The PostgreSQL backend (tokio-postgres, no TLS: run it on a private network or loopback).
//!
//! One client connection, pipelined ([`service_kit::pg::PgConnection`]): made at first use,
//! made again when the server closed it, waiting a few seconds for a restarting server.
//! Tables are created under an advisory lock, so replicas starting together do not race.
//! Several entities may share one database if each gets its own schema, e.g.
//! `postgres://u:p@host/db?options=-csearch_path%3Dintermediate` (the URL's `options`).

use std::sync::Arc;

use service_kit::pg::PgConnection;
use tokio_postgres::Client;
use wallet_core::federation::EntityId;

use super::{IssuedCertificate, IssuedTrustMark, RegistryError, Subordinate, SubordinateEvent, parse_subordinate, subordinate_columns};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS trust_marks (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        trust_mark_type TEXT NOT NULL,
        sub TEXT NOT NULL,
        jwt TEXT NOT NULL,
        iat BIGINT NOT NULL,
        exp BIGINT,
        revoked BOOLEAN NOT NULL DEFAULT FALSE
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
        intermediate BOOLEAN NOT NULL
    );
    CREATE TABLE IF NOT EXISTS certificates (
        serial TEXT PRIMARY KEY,
        entity_id TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        not_after BIGINT NOT NULL,
        revoked_at BIGINT
    );
    CREATE INDEX IF NOT EXISTS certificates_entity ON certificates(entity_id);
    ALTER TABLE subordinates ADD COLUMN IF NOT EXISTS trust_mark_claims TEXT;
    CREATE TABLE IF NOT EXISTS subordinate_events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        sub TEXT NOT NULL,
        iat BIGINT NOT NULL,
        event TEXT NOT NULL,
        description TEXT
    );
    CREATE INDEX IF NOT EXISTS subordinate_events_sub ON subordinate_events(sub);";

const SUBORDINATE_COLUMNS: &str = "entity_id, entity_types, jwks, metadata_policy, constraints, intermediate, trust_mark_claims";
const CERTIFICATE_COLUMNS: &str = "serial, entity_id, issued_at, not_after, revoked_at";

pub(super) struct Postgres {
    conn: PgConnection,
}

fn subordinate(r: &tokio_postgres::Row) -> Result<Subordinate, RegistryError> {
    let types: String = r.try_get(1)?;
    let jwks: String = r.try_get(2)?;
    parse_subordinate(r.try_get(0)?, &types, &jwks, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?, r.try_get(6)?)
}

fn certificate(r: &tokio_postgres::Row) -> Result<IssuedCertificate, RegistryError> {
    Ok(IssuedCertificate { serial: r.try_get(0)?, entity_id: r.try_get(1)?, issued_at: r.try_get(2)?, not_after: r.try_get(3)?, revoked_at: r.try_get(4)? })
}

fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl Postgres {
    pub(super) fn new(url: &str) -> Result<Self, RegistryError> {
        Ok(Self { conn: PgConnection::new(url, "tessera-trust-anchor", SCHEMA)? })
    }

    /// The live client, connecting (and creating the tables) when there is none.
    async fn client(&self) -> Result<Arc<Client>, RegistryError> {
        Ok(self.conn.client().await?)
    }

    /// A read: when the server closed the connection under it (a restart, a failover: the
    /// Entity Configuration and fetch endpoints read here), asked once more on a new
    /// connection. Reading twice changes nothing; writes are never asked twice.
    async fn read(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<Vec<tokio_postgres::Row>, RegistryError> {
        match self.client().await?.query(sql, params).await {
            Err(e) if e.is_closed() || e.code() == Some(&tokio_postgres::error::SqlState::ADMIN_SHUTDOWN) => {
                tracing::debug!(error = %e, "registry: PostgreSQL connection lost, reading again");
                Ok(self.client().await?.query(sql, params).await?)
            }
            other => Ok(other?),
        }
    }

    pub(super) async fn ping(&self) -> Result<(), RegistryError> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    pub(super) async fn upsert(&self, s: &Subordinate) -> Result<(), RegistryError> {
        let c = subordinate_columns(s)?;
        self.client()
            .await?
            .execute(
                "INSERT INTO subordinates (entity_id, entity_types, jwks, metadata_policy, constraints, intermediate, trust_mark_claims)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (entity_id) DO UPDATE SET entity_types = EXCLUDED.entity_types, jwks = EXCLUDED.jwks,
                   metadata_policy = EXCLUDED.metadata_policy, constraints = EXCLUDED.constraints, intermediate = EXCLUDED.intermediate,
                   trust_mark_claims = EXCLUDED.trust_mark_claims",
                &[&s.entity_id.as_str(), &c.types, &c.jwks, &c.policy, &c.constraints, &s.intermediate, &c.trust_mark_claims],
            )
            .await?;
        Ok(())
    }

    pub(super) async fn add_event(&self, e: &SubordinateEvent) -> Result<(), RegistryError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO subordinate_events (sub, iat, event, description) VALUES ($1, $2, $3, $4)",
                &[&e.sub, &e.iat, &e.event, &e.description],
            )
            .await?;
        Ok(())
    }

    pub(super) async fn events(&self, sub: &str) -> Result<Vec<SubordinateEvent>, RegistryError> {
        let rows = self.read("SELECT sub, iat, event, description FROM subordinate_events WHERE sub = $1 ORDER BY seq", &[&sub]).await?;
        rows.iter()
            .map(|r| Ok(SubordinateEvent { sub: r.try_get(0)?, iat: r.try_get(1)?, event: r.try_get(2)?, description: r.try_get(3)? }))
            .collect()
    }

    pub(super) async fn remove(&self, id: &EntityId) -> Result<bool, RegistryError> {
        Ok(self.client().await?.execute("DELETE FROM subordinates WHERE entity_id = $1", &[&id.as_str()]).await? > 0)
    }

    pub(super) async fn get(&self, id: &EntityId) -> Result<Option<Subordinate>, RegistryError> {
        let q = format!("SELECT {SUBORDINATE_COLUMNS} FROM subordinates WHERE entity_id = $1");
        self.read(&q, &[&id.as_str()]).await?.first().map(subordinate).transpose()
    }

    pub(super) async fn list(&self) -> Result<Vec<Subordinate>, RegistryError> {
        let q = format!("SELECT {SUBORDINATE_COLUMNS} FROM subordinates ORDER BY entity_id");
        self.read(&q, &[]).await?.iter().map(subordinate).collect()
    }

    pub(super) async fn add_trust_mark(&self, m: &IssuedTrustMark) -> Result<(), RegistryError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO trust_marks (trust_mark_type, sub, jwt, iat, exp, revoked) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&m.trust_mark_type, &m.sub, &m.jwt, &m.iat, &m.exp, &m.revoked],
            )
            .await?;
        Ok(())
    }

    pub(super) async fn revoke_trust_marks(&self, trust_mark_type: &str, sub: &str) -> Result<usize, RegistryError> {
        let n = self
            .client()
            .await?
            .execute("UPDATE trust_marks SET revoked = TRUE WHERE trust_mark_type = $1 AND sub = $2 AND NOT revoked", &[&trust_mark_type, &sub])
            .await?;
        Ok(count(n))
    }

    pub(super) async fn trust_marks(&self, trust_mark_type: Option<&str>, sub: Option<&str>) -> Result<Vec<IssuedTrustMark>, RegistryError> {
        let rows = self
            .read(
                "SELECT trust_mark_type, sub, jwt, iat, exp, revoked FROM trust_marks
                 WHERE ($1::text IS NULL OR trust_mark_type = $1) AND ($2::text IS NULL OR sub = $2) ORDER BY seq DESC",
                &[&trust_mark_type, &sub],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(IssuedTrustMark {
                    trust_mark_type: r.try_get(0)?,
                    sub: r.try_get(1)?,
                    jwt: r.try_get(2)?,
                    iat: r.try_get(3)?,
                    exp: r.try_get(4)?,
                    revoked: r.try_get(5)?,
                })
            })
            .collect()
    }

    pub(super) async fn set_own_trust_mark(&self, trust_mark_type: &str, jwt: &str) -> Result<(), RegistryError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO own_trust_marks (trust_mark_type, jwt) VALUES ($1, $2) ON CONFLICT (trust_mark_type) DO UPDATE SET jwt = EXCLUDED.jwt",
                &[&trust_mark_type, &jwt],
            )
            .await?;
        Ok(())
    }

    pub(super) async fn own_trust_marks(&self) -> Result<Vec<(String, String)>, RegistryError> {
        let rows = self.read("SELECT trust_mark_type, jwt FROM own_trust_marks ORDER BY trust_mark_type", &[]).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    pub(super) async fn add_certificate(&self, c: &IssuedCertificate) -> Result<(), RegistryError> {
        self.client()
            .await?
            .execute(
                &format!("INSERT INTO certificates ({CERTIFICATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"),
                &[&c.serial, &c.entity_id, &c.issued_at, &c.not_after, &c.revoked_at],
            )
            .await?;
        Ok(())
    }

    pub(super) async fn revoke_certificates(&self, entity_id: &str, now: i64) -> Result<usize, RegistryError> {
        let n = self
            .client()
            .await?
            .execute("UPDATE certificates SET revoked_at = $2 WHERE entity_id = $1 AND revoked_at IS NULL", &[&entity_id, &now])
            .await?;
        Ok(count(n))
    }

    pub(super) async fn certificates(&self, entity_id: &str) -> Result<Vec<IssuedCertificate>, RegistryError> {
        let q = format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE entity_id = $1 ORDER BY issued_at, serial");
        self.read(&q, &[&entity_id]).await?.iter().map(certificate).collect()
    }

    pub(super) async fn revoked_certificates(&self, now: i64) -> Result<Vec<IssuedCertificate>, RegistryError> {
        let q = format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE revoked_at IS NOT NULL AND not_after > $1 ORDER BY serial");
        self.read(&q, &[&now]).await?.iter().map(certificate).collect()
    }
}
