//! The PostgreSQL backend (tokio-postgres, no TLS: run it on a private network or loopback),
//! for replicas that share their sessions.
//!
//! The store's API is synchronous (as SQLite's): `service_kit::pg` runs each call as a task
//! on the store's own single-thread runtime, which holds the connection, and the caller waits
//! for its answer (at most `service_kit::pg::CALL_TIMEOUT`). Calls from many requests are
//! pipelined over the one connection. It is made at first use (the table created under an
//! advisory lock, so replicas starting together do not race) and made again after the server
//! closed it.
//!
//! Every single-use value is consumed by one guarded `UPDATE`, so that of two replicas
//! racing for it, one gets it: the `request_uri` handle (`status = 'created'`), `state` and
//! its nonce with the verdict that spends them (`status = 'request_fetched'`, by value
//! `'created'`), and the result with the `response_code` (`NOT result_taken`, the row locked `FOR UPDATE`
//! while it is read and erased, the old values returned).

use std::future::Future;
use std::sync::Arc;

use service_kit::pg::{Client, Pg, PgError};

use super::{COLS, ClientIdPrefix, Flow, NewSession, OperatorSession, Raw, RequestMode, Session, SessionStatus, StoreError, TakeCheck, TakeRefused};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS verifier_sessions (
        id TEXT PRIMARY KEY,
        request_id TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL UNIQUE,
        nonce TEXT NOT NULL UNIQUE,
        flow TEXT NOT NULL,
        dcql TEXT NOT NULL,
        redirect_uri TEXT,
        request_uri_method TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        purge_at BIGINT NOT NULL,
        response_code_hash TEXT,
        result TEXT,
        result_taken BOOLEAN NOT NULL DEFAULT FALSE,
        owner TEXT,
        client_id_prefix TEXT NOT NULL DEFAULT 'openid_federation',
        request_mode TEXT NOT NULL DEFAULT 'reference',
        x5c_leaf TEXT,
        request_object TEXT,
        fetched_at BIGINT,
        completed_at BIGINT
    );
    -- Columns added on 2026-12-06, for a table made before: looked up first, since an ALTER
    -- TABLE locks the table even when it changes nothing, and this runs at every connection.
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = current_schema() AND table_name = 'verifier_sessions' AND column_name = 'completed_at') THEN
            ALTER TABLE verifier_sessions ADD COLUMN IF NOT EXISTS fetched_at BIGINT;
            ALTER TABLE verifier_sessions ADD COLUMN IF NOT EXISTS completed_at BIGINT;
        END IF;
    END $$;
    CREATE INDEX IF NOT EXISTS verifier_sessions_purge ON verifier_sessions(purge_at);
    CREATE INDEX IF NOT EXISTS verifier_sessions_owner ON verifier_sessions(owner, created_at);
    CREATE TABLE IF NOT EXISTS verifier_operator_sessions (
        token_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        display_name TEXT NOT NULL,
        idle_until BIGINT NOT NULL,
        ends_at BIGINT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS verifier_operator_sessions_idle ON verifier_operator_sessions(idle_until);";

fn row(r: &tokio_postgres::Row) -> Result<Session, StoreError> {
    Raw {
        session: Session {
            id: r.try_get(0)?,
            request_id: r.try_get(1)?,
            state: r.try_get(2)?,
            nonce: r.try_get(3)?,
            flow: Flow::CrossDevice,
            dcql: r.try_get(5)?,
            redirect_uri: r.try_get(6)?,
            request_uri_method: r.try_get(7)?,
            status: SessionStatus::Created,
            created_at: r.try_get(9)?,
            expires_at: r.try_get(10)?,
            result: r.try_get(11)?,
            result_taken: r.try_get(12)?,
            owner: r.try_get(13)?,
            client_id_prefix: ClientIdPrefix::OpenidFederation,
            request_mode: RequestMode::Reference,
            x5c_leaf: r.try_get(16)?,
            request_object: r.try_get(17)?,
            fetched_at: r.try_get(18)?,
            completed_at: r.try_get(19)?,
        },
        flow: r.try_get(4)?,
        status: r.try_get(8)?,
        prefix: r.try_get(14)?,
        mode: r.try_get(15)?,
    }
    .finish()
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::BadUrl(m) => Self::BadUrl(m),
            PgError::Postgres(e) => Self::Postgres(e),
            PgError::Timeout(s) => Self::Timeout(s),
            other => Self::Io(other.to_string()),
        }
    }
}

/// The database (`service_kit::pg`: its own runtime thread, one shared connection, the table
/// created at first use).
pub(super) struct Postgres {
    db: Pg,
}

impl Postgres {
    pub(super) fn new(url: &str) -> Result<Self, StoreError> {
        Ok(Self { db: Pg::new(url, "tessera-verifier", SCHEMA)? })
    }

    /// Runs `f` with the client on the store's runtime and waits for its answer.
    fn run<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Client>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        self.db.run(f)
    }

    pub(super) fn ping(&self) -> Result<(), StoreError> {
        Ok(self.db.ping()?)
    }

    pub(super) fn create(&self, s: &NewSession<'_>) -> Result<(), StoreError> {
        let (id, request_id, state, nonce, flow, dcql) =
            (s.id.to_owned(), s.request_id.to_owned(), s.state.to_owned(), s.nonce.to_owned(), s.flow.as_str(), s.dcql.to_owned());
        let (redirect_uri, method, owner) = (s.redirect_uri.map(str::to_owned), s.request_uri_method.to_owned(), s.owner.map(str::to_owned));
        let (now, expires_at, purge_at) = (s.now, s.expires_at, s.purge_at);
        let (prefix, mode, leaf, object) = (s.client_id_prefix.as_str(), s.request_mode.as_str(), s.x5c_leaf.map(str::to_owned), s.request_object.map(str::to_owned));
        self.run(move |c| async move {
            c.execute(
                "INSERT INTO verifier_sessions (id, request_id, state, nonce, flow, dcql, redirect_uri, request_uri_method, status, created_at, expires_at,
                                                purge_at, owner, client_id_prefix, request_mode, x5c_leaf, request_object)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'created', $9, $10, $11, $12, $13, $14, $15, $16)",
                &[&id, &request_id, &state, &nonce, &flow, &dcql, &redirect_uri, &method, &now, &expires_at, &purge_at, &owner, &prefix, &mode, &leaf, &object],
            )
            .await?;
            Ok(())
        })
    }

    pub(super) fn by(&self, column: &'static str, value: &str) -> Result<Option<Session>, StoreError> {
        let value = value.to_owned();
        self.run(move |c| async move {
            let q = format!("SELECT {COLS} FROM verifier_sessions WHERE {column} = $1");
            c.query_opt(&q, &[&value]).await?.as_ref().map(row).transpose()
        })
    }

    pub(super) fn by_owner(&self, owner: &str, limit: u32) -> Result<Vec<Session>, StoreError> {
        let owner = owner.to_owned();
        let limit = i64::from(limit);
        self.run(move |c| async move {
            let q = format!("SELECT {COLS} FROM verifier_sessions WHERE owner = $1 ORDER BY created_at DESC, id LIMIT $2");
            c.query(&q, &[&owner, &limit]).await?.iter().map(row).collect()
        })
    }

    pub(super) fn take_request(&self, request_id: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let request_id = request_id.to_owned();
        self.run(move |c| async move {
            c.query_opt(
                concat!(
                    "UPDATE verifier_sessions SET status = 'request_fetched', fetched_at = $2
                     WHERE request_id = $1 AND status = 'created' AND request_mode = 'reference' AND expires_at > $2 RETURNING ",
                    super::cols!()
                ),
                &[&request_id, &now],
            )
            .await?
            .as_ref()
            .map(row)
            .transpose()
        })
    }

    pub(super) fn end_pending(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.run(move |c| async move {
            let n = c
                .execute(
                    "UPDATE verifier_sessions SET expires_at = $2 WHERE id = $1 AND expires_at > $2 AND status IN ('created', 'request_fetched')",
                    &[&id, &now],
                )
                .await?;
            Ok(n == 1)
        })
    }

    pub(super) fn give_back_request(&self, request_id: &str) -> Result<(), StoreError> {
        let request_id = request_id.to_owned();
        self.run(move |c| async move {
            c.execute(
                "UPDATE verifier_sessions SET status = 'created', fetched_at = NULL WHERE request_id = $1 AND status = 'request_fetched' AND request_mode = 'reference'",
                &[&request_id],
            )
            .await?;
            Ok(())
        })
    }

    pub(super) fn record(&self, id: &str, status: SessionStatus, result: &str, response_code_hash: Option<&str>, purge_at: i64, now: i64) -> Result<bool, StoreError> {
        let (id, status, result, code) = (id.to_owned(), status.as_str(), result.to_owned(), response_code_hash.map(str::to_owned));
        self.run(move |c| async move {
            let n = c
                .execute(
                    "UPDATE verifier_sessions SET status = $2, result = $3, response_code_hash = $4, purge_at = $5, completed_at = $6
                     WHERE id = $1 AND (status = 'request_fetched' OR (status = 'created' AND request_mode = 'value'))",
                    &[&id, &status, &result, &code, &purge_at, &now],
                )
                .await?;
            Ok(n == 1)
        })
    }

    pub(super) fn take_result(&self, id: &str, response_code_hash: Option<&str>) -> Result<Result<(SessionStatus, String), TakeRefused>, StoreError> {
        let id = id.to_owned();
        let given = response_code_hash.map(str::to_owned);
        self.run(move |c| async move {
            let Some(r) = c
                .query_opt("SELECT flow, result IS NOT NULL, response_code_hash, result_taken FROM verifier_sessions WHERE id = $1", &[&id])
                .await?
            else {
                return Ok(Err(TakeRefused::Unknown));
            };
            let check = TakeCheck { flow: r.try_get(0)?, has_result: r.try_get(1)?, code_hash: r.try_get(2)?, taken: r.try_get(3)? };
            if let Err(refused) = check.check(given.as_deref()) {
                return Ok(Err(refused));
            }
            // Taken only if nothing changed since the check: not taken meanwhile (by another
            // replica), the same code. The old values are returned, the row erased.
            let taken = c
                .query_opt(
                    "WITH old AS (
                         SELECT id, status, result FROM verifier_sessions
                         WHERE id = $1 AND NOT result_taken AND result IS NOT NULL AND response_code_hash IS NOT DISTINCT FROM $2
                         FOR UPDATE
                     )
                     UPDATE verifier_sessions s SET result = NULL, response_code_hash = NULL, result_taken = TRUE
                     FROM old WHERE s.id = old.id AND NOT s.result_taken
                     RETURNING old.status, old.result",
                    &[&id, &check.code_hash],
                )
                .await?;
            let Some(t) = taken else { return Ok(Err(TakeRefused::Taken)) };
            let status: String = t.try_get(0)?;
            Ok(Ok((SessionStatus::parse(&status)?, t.try_get(1)?)))
        })
    }

    pub(super) fn purge(&self, now: i64) -> Result<usize, StoreError> {
        self.run(move |c| async move {
            let n = c.execute("DELETE FROM verifier_sessions WHERE purge_at <= $1", &[&now]).await?;
            let m = c.execute("DELETE FROM verifier_operator_sessions WHERE idle_until <= $1 OR ends_at <= $1", &[&now]).await?;
            Ok(usize::try_from(n.saturating_add(m)).unwrap_or(usize::MAX))
        })
    }

    pub(super) fn operator_create(&self, token_hash: &str, op: &OperatorSession, idle_until: i64, ends_at: i64) -> Result<(), StoreError> {
        let (h, u, d) = (token_hash.to_owned(), op.username.clone(), op.display_name.clone());
        self.run(move |c| async move {
            c.execute(
                "INSERT INTO verifier_operator_sessions (token_hash, username, display_name, idle_until, ends_at) VALUES ($1, $2, $3, $4, $5)",
                &[&h, &u, &d, &idle_until, &ends_at],
            )
            .await?;
            Ok(())
        })
    }

    pub(super) fn operator_touch(&self, token_hash: &str, now: i64, idle_until: i64) -> Result<Option<OperatorSession>, StoreError> {
        let h = token_hash.to_owned();
        self.run(move |c| async move {
            let r = c
                .query_opt(
                    "UPDATE verifier_operator_sessions SET idle_until = $3 WHERE token_hash = $1 AND idle_until > $2 AND ends_at > $2 RETURNING username, display_name",
                    &[&h, &now, &idle_until],
                )
                .await?;
            r.map(|r| Ok(OperatorSession { username: r.try_get(0)?, display_name: r.try_get(1)? })).transpose()
        })
    }

    pub(super) fn operator_remove(&self, token_hash: &str) -> Result<(), StoreError> {
        let h = token_hash.to_owned();
        self.run(move |c| async move {
            c.execute("DELETE FROM verifier_operator_sessions WHERE token_hash = $1", &[&h]).await?;
            Ok(())
        })
    }
}
