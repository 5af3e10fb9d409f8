//! The PostgreSQL backend, for replicas that share their state: service-kit's
//! [`service_kit::pg::Pg`] (its own runtime thread, one reconnecting connection shared by
//! every call, the tables created under an advisory lock; no TLS: run the database on a
//! private network or loopback). Tables are prefixed `wp_`, so that the provider can share a
//! database (or better, be given a schema of its own) with the other services.
//!
//! The connection is shared by concurrent calls, so no call opens a transaction of several
//! statements: each write that must be atomic is one statement, data-modifying CTEs where it
//! touches several tables, and PostgreSQL serialises the statements of two replicas on the
//! rows they lock:
//!
//! * nonce: `DELETE ... WHERE nonce = $1 AND exp > $2`; a second `DELETE` waits for the
//!   first, re-reads the row and finds it gone;
//! * login code: `DELETE ... RETURNING`: the one that deletes it gets the citizen;
//! * registration: `wp_citizens` holds each citizen's count of active instances. One
//!   statement raises the count by an upsert whose `WHERE active < limit` is checked on the
//!   row locked (a concurrent registration for the same citizen waits, then sees the raised
//!   count), inserts the instance only if the count was raised, and clears the status entry
//!   of its index; a primary key violation (the tag) or a unique violation (the status
//!   index) undoes all of it: the tag is [`StoreError::Duplicate`], the index is drawn
//!   again;
//! * revocation: `UPDATE ... WHERE state = 'ACTIVE' RETURNING` flips the instance, and in the
//!   same statement sets its status entry and lowers the citizen's count; of two replicas
//!   revoking it, one does;
//! * voucher `jti`: an insert that, on conflict, replaces only an expired row.

use std::sync::Arc;

use service_kit::pg::{Client, Pg};
use tokio_postgres::error::SqlState;

use super::{Grant, INDEX_DRAWS, INSTANCE_COLS, Instance, InstanceRow, NewInstance, StoreError, instance, random_index, status_entries};

/// The name the server sees (`application_name`).
const APPLICATION: &str = "tessera-wallet-provider";

/// The primary key of `wp_instances` (the hardware key tag).
const INSTANCE_KEY: &str = "wp_instances_pkey";
/// The unique status index of `wp_instances`.
const STATUS_IDX_KEY: &str = "wp_instances_status_idx_key";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS wp_instances (
        id TEXT NOT NULL,
        fiscal_number TEXT NOT NULL,
        public_key TEXT NOT NULL,
        state TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        revoked_at BIGINT,
        status_idx BIGINT NOT NULL,
        CONSTRAINT wp_instances_pkey PRIMARY KEY (id),
        CONSTRAINT wp_instances_status_idx_key UNIQUE (status_idx)
    );
    CREATE INDEX IF NOT EXISTS wp_instances_citizen ON wp_instances(fiscal_number);
    CREATE TABLE IF NOT EXISTS wp_citizens (fiscal_number TEXT PRIMARY KEY, active BIGINT NOT NULL CHECK (active >= 0));
    CREATE TABLE IF NOT EXISTS wp_nonces (nonce TEXT PRIMARY KEY, exp BIGINT NOT NULL);
    CREATE TABLE IF NOT EXISTS wp_login_codes (code_hash TEXT PRIMARY KEY, fiscal_number TEXT NOT NULL, exp BIGINT NOT NULL);
    CREATE TABLE IF NOT EXISTS wp_sessions (token_hash TEXT PRIMARY KEY, fiscal_number TEXT NOT NULL, exp BIGINT NOT NULL);
    CREATE TABLE IF NOT EXISTS wp_status_entries (idx BIGINT PRIMARY KEY, value BIGINT NOT NULL);
    CREATE TABLE IF NOT EXISTS wp_voucher_jtis (jti TEXT PRIMARY KEY, exp BIGINT NOT NULL);
    CREATE INDEX IF NOT EXISTS wp_nonces_exp ON wp_nonces(exp);
    CREATE INDEX IF NOT EXISTS wp_login_codes_exp ON wp_login_codes(exp);
    CREATE INDEX IF NOT EXISTS wp_sessions_exp ON wp_sessions(exp);
    CREATE INDEX IF NOT EXISTS wp_voucher_jtis_exp ON wp_voucher_jtis(exp);";

/// Registration in one statement (see the module documentation): $1 id, $2 fiscal number,
/// $3 public key, $4 now, $5 status index, $6 the citizen's limit. One row: how many
/// instances were inserted (0: the citizen is at the limit).
const REGISTER: &str = "WITH counted AS (
        INSERT INTO wp_citizens AS c (fiscal_number, active) SELECT $2, 1 WHERE $6::BIGINT >= 1
        ON CONFLICT (fiscal_number) DO UPDATE SET active = c.active + 1 WHERE c.active < $6::BIGINT
        RETURNING 1
    ), added AS (
        INSERT INTO wp_instances (id, fiscal_number, public_key, state, issued_at, status_idx)
        SELECT $1, $2, $3, 'ACTIVE', $4::BIGINT, $5::BIGINT FROM counted
        RETURNING status_idx
    ), cleared AS (
        DELETE FROM wp_status_entries WHERE idx IN (SELECT status_idx FROM added)
    )
    SELECT count(*) FROM added";

/// Revocation of one instance: $1 id, $2 status value, $3 now. One row: how many flipped.
const REVOKE: &str = "WITH flipped AS (
        UPDATE wp_instances SET state = 'REVOKED', revoked_at = $3 WHERE id = $1 AND state = 'ACTIVE'
        RETURNING fiscal_number, status_idx
    ), entry AS (
        INSERT INTO wp_status_entries (idx, value) SELECT status_idx, $2::BIGINT FROM flipped
        ON CONFLICT (idx) DO UPDATE SET value = EXCLUDED.value
    ), counted AS (
        UPDATE wp_citizens SET active = active - 1 WHERE fiscal_number IN (SELECT fiscal_number FROM flipped)
    )
    SELECT count(*) FROM flipped";

/// Revocation of every active instance of a citizen: $1 fiscal number, $2 status value,
/// $3 now. The ids flipped, oldest first.
const REVOKE_ALL: &str = "WITH flipped AS (
        UPDATE wp_instances SET state = 'REVOKED', revoked_at = $3 WHERE fiscal_number = $1 AND state = 'ACTIVE'
        RETURNING id, issued_at, status_idx
    ), entry AS (
        INSERT INTO wp_status_entries (idx, value) SELECT status_idx, $2::BIGINT FROM flipped
        ON CONFLICT (idx) DO UPDATE SET value = EXCLUDED.value
    ), counted AS (
        UPDATE wp_citizens SET active = active - (SELECT count(*) FROM flipped) WHERE fiscal_number = $1
    )
    SELECT id FROM flipped ORDER BY issued_at, id";

fn instance_row(r: &tokio_postgres::Row) -> Result<InstanceRow, StoreError> {
    Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?))
}

/// The constraint a unique violation names, if `e` is one.
fn violated(e: &tokio_postgres::Error) -> Option<&str> {
    e.as_db_error().filter(|d| *d.code() == SqlState::UNIQUE_VIOLATION).and_then(|d| d.constraint())
}

/// The PostgreSQL database.
pub(super) struct Postgres {
    db: Pg,
}

impl Postgres {
    pub(super) fn new(url: &str) -> Result<Self, StoreError> {
        Ok(Self { db: Pg::new(url, APPLICATION, SCHEMA)? })
    }

    /// Runs `f` on the store's runtime and waits for its answer.
    fn run<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Client>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        self.db.run(f)
    }

    pub(super) fn ping(&self) -> Result<(), StoreError> {
        Ok(self.db.ping()?)
    }

    /// Drops the rows of `table` expired at `now`, then runs `insert` with `params`.
    fn sweep_and_insert(&self, table: &'static str, insert: &'static str, now: i64, params: Vec<String>, exp: i64) -> Result<(), StoreError> {
        self.run(move |c| async move {
            c.execute(&format!("DELETE FROM {table} WHERE exp <= $1"), &[&now]).await?;
            let mut p: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|s| s as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
            p.push(&exp);
            c.execute(insert, &p).await?;
            Ok(())
        })
    }

    pub(super) fn put_nonce(&self, nonce: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        self.sweep_and_insert("wp_nonces", "INSERT INTO wp_nonces (nonce, exp) VALUES ($1, $2)", now, vec![nonce.to_owned()], exp)
    }

    pub(super) fn take_nonce(&self, nonce: &str, now: i64) -> Result<bool, StoreError> {
        let nonce = nonce.to_owned();
        self.run(move |c| async move { Ok(c.execute("DELETE FROM wp_nonces WHERE nonce = $1 AND exp > $2", &[&nonce, &now]).await? == 1) })
    }

    pub(super) fn put_login_code(&self, code_hash: &str, fiscal_number: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        let insert = "INSERT INTO wp_login_codes (code_hash, fiscal_number, exp) VALUES ($1, $2, $3)";
        self.sweep_and_insert("wp_login_codes", insert, now, vec![code_hash.to_owned(), fiscal_number.to_owned()], exp)
    }

    pub(super) fn take_login_code(&self, code_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let code_hash = code_hash.to_owned();
        self.run(move |c| async move {
            let Some(r) = c.query_opt("DELETE FROM wp_login_codes WHERE code_hash = $1 RETURNING fiscal_number, exp", &[&code_hash]).await? else {
                return Ok(None);
            };
            let exp: i64 = r.try_get(1)?;
            Ok(if exp > now { Some(r.try_get(0)?) } else { None })
        })
    }

    pub(super) fn put_session(&self, token_hash: &str, fiscal_number: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        let insert = "INSERT INTO wp_sessions (token_hash, fiscal_number, exp) VALUES ($1, $2, $3)";
        self.sweep_and_insert("wp_sessions", insert, now, vec![token_hash.to_owned(), fiscal_number.to_owned()], exp)
    }

    pub(super) fn session(&self, token_hash: &str, now: i64) -> Result<Option<Grant>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.run(move |c| async move {
            let r = c.query_opt("SELECT fiscal_number, exp FROM wp_sessions WHERE token_hash = $1 AND exp > $2", &[&token_hash, &now]).await?;
            r.map(|r| Ok(Grant { fiscal_number: r.try_get(0)?, exp: r.try_get(1)? })).transpose()
        })
    }

    pub(super) fn register(&self, new: &NewInstance<'_>) -> Result<Instance, StoreError> {
        let (id, fiscal_number, public_key) = (new.id.to_owned(), new.fiscal_number.to_owned(), new.public_key.to_json());
        let (now, limit) = (new.now, new.max_active);
        let max_active = i64::from(limit);
        let idx = self.run(move |c| async move {
            let r = c.query_one("SELECT (SELECT count(*) FROM wp_instances), EXISTS (SELECT 1 FROM wp_instances WHERE id = $1)", &[&id]).await?;
            let (count, exists): (i64, bool) = (r.try_get(0)?, r.try_get(1)?);
            if exists {
                return Err(StoreError::Duplicate);
            }
            for _ in 0..INDEX_DRAWS {
                let idx = random_index(count)?;
                match c.query_one(REGISTER, &[&id, &fiscal_number, &public_key, &now, &idx, &max_active]).await {
                    Ok(r) if r.try_get::<_, i64>(0)? == 1 => return Ok(idx),
                    Ok(_) => return Err(StoreError::TooManyInstances { limit }),
                    Err(e) => match violated(&e) {
                        Some(INSTANCE_KEY) => return Err(StoreError::Duplicate),
                        // Taken meanwhile (by another replica): draw again.
                        Some(STATUS_IDX_KEY) => {}
                        _ => return Err(e.into()),
                    },
                }
            }
            Err(StoreError::Corrupt("no free status index found".into()))
        })?;
        new.registered(idx)
    }

    pub(super) fn instance(&self, id: &str) -> Result<Option<Instance>, StoreError> {
        let id = id.to_owned();
        let row = self.run(move |c| async move {
            c.query_opt(&format!("SELECT {INSTANCE_COLS} FROM wp_instances WHERE id = $1"), &[&id]).await?.as_ref().map(instance_row).transpose()
        })?;
        row.map(instance).transpose()
    }

    pub(super) fn instances_of(&self, fiscal_number: &str) -> Result<Vec<Instance>, StoreError> {
        let fiscal_number = fiscal_number.to_owned();
        let rows = self.run(move |c| async move {
            let q = format!("SELECT {INSTANCE_COLS} FROM wp_instances WHERE fiscal_number = $1 ORDER BY issued_at, id");
            c.query(&q, &[&fiscal_number]).await?.iter().map(instance_row).collect::<Result<Vec<_>, _>>()
        })?;
        rows.into_iter().map(instance).collect()
    }

    pub(super) fn revoke(&self, id: &str, status_value: u8, now: i64) -> Result<bool, StoreError> {
        let (id, value) = (id.to_owned(), i64::from(status_value));
        self.run(move |c| async move { Ok(c.query_one(REVOKE, &[&id, &value, &now]).await?.try_get::<_, i64>(0)? == 1) })
    }

    pub(super) fn revoke_all_of(&self, fiscal_number: &str, status_value: u8, now: i64) -> Result<Vec<String>, StoreError> {
        let (fiscal_number, value) = (fiscal_number.to_owned(), i64::from(status_value));
        self.run(move |c| async move { c.query(REVOKE_ALL, &[&fiscal_number, &value, &now]).await?.iter().map(|r| Ok(r.try_get(0)?)).collect() })
    }

    pub(super) fn use_jti(&self, jti: &str, keep_until: i64, now: i64) -> Result<bool, StoreError> {
        let jti = jti.to_owned();
        self.run(move |c| async move {
            c.execute("DELETE FROM wp_voucher_jtis WHERE exp <= $1", &[&now]).await?;
            // A row left by a replica that has not swept yet is replaced only if expired.
            let n = c
                .execute(
                    "INSERT INTO wp_voucher_jtis AS v (jti, exp) VALUES ($1, $2) ON CONFLICT (jti) DO UPDATE SET exp = EXCLUDED.exp WHERE v.exp <= $3",
                    &[&jti, &keep_until, &now],
                )
                .await?;
            Ok(n == 1)
        })
    }

    pub(super) fn status_entries(&self) -> Result<(Vec<(u64, u8)>, u64), StoreError> {
        let (rows, allocated) = self.run(move |c| async move {
            let allocated: i64 = c.query_one("SELECT COALESCE(MAX(status_idx) + 1, 0) FROM wp_instances", &[]).await?.try_get(0)?;
            let rows = c
                .query("SELECT idx, value FROM wp_status_entries ORDER BY idx", &[])
                .await?
                .iter()
                .map(|r| Ok((r.try_get::<_, i64>(0)?, r.try_get::<_, i64>(1)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok((rows, allocated))
        })?;
        status_entries(rows, allocated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// A schema of its own on the test database (`scripts/postgres.sh`), dropped at the end.
    fn with_schema(test: &str, f: impl FnOnce(&str)) {
        let Ok(base) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
            assert!(std::env::var("TESSERA_POSTGRES").as_deref() != Ok("required"), "TESSERA_POSTGRES=required but TESSERA_TEST_POSTGRES_URL is not set");
            eprintln!("{test}: skipped (TESSERA_TEST_POSTGRES_URL is not set; eval \"$(./scripts/postgres.sh)\" to run it)");
            return;
        };
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).unwrap();
        let name = format!("wp_{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>());
        let admin = Pg::new(&base, "wallet-provider-test", "").unwrap();
        let ddl = |sql: String| admin.run(move |c| async move { c.batch_execute(&sql).await.map_err(StoreError::from) }).unwrap();
        ddl(format!("CREATE SCHEMA {name}"));
        let sep = if base.contains('?') { '&' } else { '?' };
        f(&format!("{base}{sep}options=-csearch_path%3D{name}"));
        ddl(format!("DROP SCHEMA {name} CASCADE"));
    }

    #[test]
    fn the_postgres_backend_keeps_every_rule() {
        with_schema("the_postgres_backend_keeps_every_rule", |url| {
            let s = Store::postgres(url).unwrap();
            assert_eq!(s.backend_name(), "postgresql");
            s.ping().unwrap();
            crate::store::conformance(&s);
        });
    }
}
