//! The SQLite backend: `<data_dir>/verifier.sqlite`, WAL, `synchronous=NORMAL` (what a
//! power loss may undo: the `store` module), `locking_mode=EXCLUSIVE` (one process), one
//! connection behind a mutex (calls are short and local).
//!
//! Group commit for the presentation's three writes (the `*_grouped` methods): a writer runs
//! its statement in the open transaction (begun by the first writer of a batch), leaves the
//! connection to the others, and is answered once the batch is committed. The commit is made
//! by a task the batch's first writer spawned, after the requests ready to run have had their
//! turn (`yield_now`): under load, tens of writers share one commit, and the pages they all
//! touch (the last page of the table and of each index: the keys are time-ordered) are written
//! to the WAL once a batch instead of once a writer. Nobody is answered before the commit that
//! holds their write: single use holds across a crash of the process as before, and a failed
//! commit fails every writer of its batch (all its statements undone together). Every other
//! use of the connection commits the open batch first: the reads (a session's status for the
//! integrator, its event stream, the page), so that nobody is shown a status a crash before
//! the commit could undo, and the other writes (the integrator's take of a result, the purge,
//! the page's operator sessions), which then run on their own, as before.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{COLS, ClientIdPrefix, Flow, NewSession, OperatorSession, Raw, RequestMode, Session, SessionStatus, StoreError, TakeCheck, TakeRefused};

/// Columns added after the first release, with their definitions: added to an older file
/// on open.
const ADDED_COLUMNS: [(&str, &str); 7] = [
    ("owner", "TEXT"),
    ("client_id_prefix", "TEXT NOT NULL DEFAULT 'openid_federation'"),
    ("request_mode", "TEXT NOT NULL DEFAULT 'reference'"),
    ("x5c_leaf", "TEXT"),
    ("request_object", "TEXT"),
    ("fetched_at", "INTEGER"),
    ("completed_at", "INTEGER"),
];

/// The table of sessions as made since keyed handles (2026-12-05), under `name`: no
/// `UNIQUE` constraint but the key's. A `request_uri` handle or a `state` is `<id>.<secret>`
/// (the `sessions` module makes them): found through the primary key, unique since its id
/// is, so an insert writes the table, the key's index and `sessions_purge` (and the
/// in-person page's owner index), not three unique indexes more. Handles made before have
/// no `.`: they are found through partial unique indexes holding only their rows
/// (`sessions_legacy_*`, empty once those rows are purged), which new rows never enter.
/// The nonce is never looked up: 256 random bits, in the row of its session.
fn sessions_table(name: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (
            id TEXT PRIMARY KEY,
            request_id TEXT NOT NULL,
            state TEXT NOT NULL,
            nonce TEXT NOT NULL,
            flow TEXT NOT NULL,
            dcql TEXT NOT NULL,
            redirect_uri TEXT,
            request_uri_method TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            purge_at INTEGER NOT NULL,
            response_code_hash TEXT,
            result TEXT,
            result_taken INTEGER NOT NULL DEFAULT 0,
            owner TEXT,
            client_id_prefix TEXT NOT NULL DEFAULT 'openid_federation',
            request_mode TEXT NOT NULL DEFAULT 'reference',
            x5c_leaf TEXT,
            request_object TEXT,
            fetched_at INTEGER,
            completed_at INTEGER
        );"
    )
}

/// Every column of [`sessions_table`], for the copy of a rebuild.
const ALL_COLUMNS: &str = "id, request_id, state, nonce, flow, dcql, redirect_uri, request_uri_method, status, created_at, expires_at, purge_at, \
                           response_code_hash, result, result_taken, owner, client_id_prefix, request_mode, x5c_leaf, request_object, fetched_at, completed_at";

/// The session id in a keyed handle (`<id>.<secret>`), `None` for a handle from before
/// ([`sessions_table`]).
fn keyed(handle: &str) -> Option<&str> {
    handle.split_once('.').map(|(id, _)| id).filter(|id| !id.is_empty())
}

/// A query for the one session whose `column` (`request_id` or `state`) is a handle, with
/// `extra` conditions: through the key for a keyed handle (`?1` the id, `?2` the handle),
/// else through the legacy partial index (`?2` the handle; `?1`, not referenced, is bound all
/// the same: SQLite counts parameters up to the highest number used).
fn by_handle_sql(column: &'static str, keyed: bool, select: &str, extra: &str) -> String {
    if keyed {
        format!("{select} WHERE id = ?1 AND {column} = ?2{extra}")
    } else {
        format!("{select} WHERE {column} = ?2 AND instr({column}, '.') = 0{extra}")
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok(Raw {
        session: Session {
            id: r.get(0)?,
            request_id: r.get(1)?,
            state: r.get(2)?,
            nonce: r.get(3)?,
            flow: Flow::CrossDevice,
            dcql: r.get(5)?,
            redirect_uri: r.get(6)?,
            request_uri_method: r.get(7)?,
            status: SessionStatus::Created,
            created_at: r.get(9)?,
            expires_at: r.get(10)?,
            result: r.get(11)?,
            result_taken: r.get::<_, i64>(12)? != 0,
            owner: r.get(13)?,
            client_id_prefix: ClientIdPrefix::OpenidFederation,
            request_mode: RequestMode::Reference,
            x5c_leaf: r.get(16)?,
            request_object: r.get(17)?,
            fetched_at: r.get(18)?,
            completed_at: r.get(19)?,
        },
        flow: r.get(4)?,
        status: r.get(8)?,
        prefix: r.get(14)?,
        mode: r.get(15)?,
    })
}

/// Pages written to the WAL between two automatic checkpoints: SQLite's default, measured
/// against the alternatives with `cargo bench -p verifier --bench presentations` (a
/// checkpoint runs inside the commit that crosses the mark, holding the connection). At
/// 10,000 pages the server's CPU per presentation was about 6 % lower (each page copied once
/// however often its short-lived sessions rewrote it), but every checkpoint stalled the
/// store for tens of milliseconds: 200 paced wallets' p99 rose from 21–33 ms to 57–60 ms. At
/// 300 pages neither the CPU nor the p99 differed from 1,000 beyond the noise.
const WAL_AUTOCHECKPOINT: i64 = 1_000;

/// What the writers of a batch learn of its commit: `None` until it is made.
type Outcome = Option<Result<(), String>>;

/// The connection and the batch of writers whose statements are in its open transaction.
struct Grouped {
    conn: Connection,
    open: Option<watch::Sender<Outcome>>,
}

impl Grouped {
    /// Commits the open batch, if any, and tells its writers (a failed commit is rolled back).
    fn commit(&mut self) {
        if let Some(batch) = self.open.take() {
            let r = self.conn.execute_batch("COMMIT").map_err(|e| e.to_string());
            if r.is_err() && !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            let _ = batch.send(Some(r));
        }
        if !self.conn.is_autocommit() {
            // A transaction no batch owns (its rollback failed): undone before anyone else
            // writes in it and believes it holds.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The connection with no batch open: what every use outside the group runs on.
struct Alone<'a>(MutexGuard<'a, Grouped>);

impl std::ops::Deref for Alone<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.0.conn
    }
}

impl std::ops::DerefMut for Alone<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.0.conn
    }
}

pub(super) struct Sqlite {
    inner: Arc<Mutex<Grouped>>,
}

impl Sqlite {
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        service_kit::files::private_database(path).map_err(|e| StoreError::Io(format!("{}: {e}", path.display())))?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // One process (see the `store` module): the file is locked once, at its first read,
        // for as long as it is open, and no lock is taken and released at every transaction.
        // Set before the first access in WAL mode, the WAL index is in memory (no `-shm`).
        // A second process on the same file waits the busy timeout, then fails to open.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT)?;
        conn.execute_batch(&sessions_table("sessions"))?;
        for (name, def) in ADDED_COLUMNS {
            let has: bool = conn.query_row("SELECT COUNT(*) FROM pragma_table_info('sessions') WHERE name = ?1", params![name], |r| r.get::<_, i64>(0))? == 1;
            if !has {
                conn.execute_batch(&format!("ALTER TABLE sessions ADD COLUMN {name} {def}"))?;
            }
        }
        let unique_constraints: i64 = conn.query_row("SELECT COUNT(*) FROM pragma_index_list('sessions') WHERE origin = 'u'", [], |r| r.get(0))?;
        if unique_constraints > 0 {
            // A file from before keyed handles: the table rebuilt without its `UNIQUE`
            // constraints (SQLite cannot drop one in place), its rows kept, in one transaction.
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE;
                 {}
                 INSERT INTO sessions_rebuilt ({ALL_COLUMNS}) SELECT {ALL_COLUMNS} FROM sessions;
                 DROP TABLE sessions;
                 ALTER TABLE sessions_rebuilt RENAME TO sessions;
                 COMMIT;",
                sessions_table("sessions_rebuilt")
            ))?;
        }
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS sessions_purge ON sessions(purge_at);
             CREATE UNIQUE INDEX IF NOT EXISTS sessions_legacy_request_id ON sessions(request_id) WHERE instr(request_id, '.') = 0;
             CREATE UNIQUE INDEX IF NOT EXISTS sessions_legacy_state ON sessions(state) WHERE instr(state, '.') = 0;",
        )?;
        conn.execute_batch(
            // The in-person page lists an operator's checks: only those rows (the integrator
            // API's sessions have no owner) go to the index, and an API session's insert
            // writes one B-tree fewer. `owner = ?` implies `owner IS NOT NULL`, so the list's
            // query uses it. (Before 2026-12-05 every row was indexed: that index is dropped.)
            "DROP INDEX IF EXISTS sessions_owner;
             CREATE INDEX IF NOT EXISTS sessions_by_owner ON sessions(owner, created_at) WHERE owner IS NOT NULL;
             CREATE TABLE IF NOT EXISTS operator_sessions (
                token_hash TEXT PRIMARY KEY,
                username TEXT NOT NULL,
                display_name TEXT NOT NULL,
                idle_until INTEGER NOT NULL,
                ends_at INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS operator_sessions_idle ON operator_sessions(idle_until);",
        )?;
        Ok(Self { inner: Arc::new(Mutex::new(Grouped { conn, open: None })) })
    }

    fn lock(&self) -> MutexGuard<'_, Grouped> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection for a use outside the group: the open batch committed first.
    fn conn(&self) -> Alone<'_> {
        let mut g = self.lock();
        g.commit();
        Alone(g)
    }

    /// The connection for a read: the open batch committed first, so that what is read (and
    /// shown: a status, a verdict's availability) holds whatever happens next.
    fn read(&self) -> Alone<'_> {
        self.conn()
    }

    /// Runs `statement` in the open batch (module documentation) and answers once the batch
    /// is committed. Outside a tokio runtime there is nobody to share a commit with: the
    /// statement runs and commits alone.
    async fn grouped<T>(&self, statement: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return statement(&self.conn());
        };
        let (value, mut outcome) = {
            let mut g = self.lock();
            if g.open.is_some() && g.conn.is_autocommit() {
                // The batch's transaction is gone (SQLite undid it after an error): its
                // writers are told, and this one starts a new batch.
                if let Some(batch) = g.open.take() {
                    let _ = batch.send(Some(Err("the transaction was rolled back by an error".into())));
                }
            }
            if g.open.is_none() {
                g.conn.execute_batch("BEGIN IMMEDIATE")?;
                g.open = Some(watch::channel(None).0);
                // Spawned before the statement runs: the batch has a committer whatever the
                // statement does (it cannot take the lock before this writer lets it go).
                let inner = Arc::clone(&self.inner);
                runtime.spawn(async move {
                    tokio::task::yield_now().await;
                    inner.lock().unwrap_or_else(PoisonError::into_inner).commit();
                });
            }
            let value = statement(&g.conn);
            if value.is_err() && g.conn.is_autocommit() {
                // SQLite undid the whole transaction (a full disk, an I/O error): the batch
                // failed, its writers are told now.
                if let Some(batch) = g.open.take() {
                    let _ = batch.send(Some(Err("the transaction was rolled back by an error of another statement".into())));
                }
            }
            let outcome = g.open.as_ref().map(watch::Sender::subscribe);
            (value?, outcome)
        };
        let Some(rx) = outcome.as_mut() else {
            return Err(StoreError::Commit("the transaction was rolled back".into()));
        };
        let done = rx.wait_for(Option::is_some).await.map_err(|_| StoreError::Commit("the batch was dropped before its commit".into()))?;
        match done.as_ref() {
            Some(Ok(())) => Ok(value),
            Some(Err(e)) => Err(StoreError::Commit(e.clone())),
            None => Err(StoreError::Commit("no outcome".into())),
        }
    }

    pub(super) fn ping(&self) -> Result<(), StoreError> {
        self.read().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    pub(super) fn create(&self, s: &NewSession<'_>) -> Result<(), StoreError> {
        create_in(&self.conn(), s)
    }

    pub(super) async fn create_grouped(&self, s: &NewSession<'_>) -> Result<(), StoreError> {
        self.grouped(|c| create_in(c, s)).await
    }

    /// One session by a unique column (`id`, or a handle: `request_id`, `state`; the name
    /// is ours, never input).
    pub(super) fn by(&self, column: &'static str, value: &str) -> Result<Option<Session>, StoreError> {
        let c = self.read();
        if column == "id" {
            let r = c.prepare_cached(&format!("SELECT {COLS} FROM sessions WHERE id = ?1"))?.query_row(params![value], row).optional()?;
            return r.map(Raw::finish).transpose();
        }
        by_handle_in(&c, column, value)
    }

    pub(super) fn by_owner(&self, owner: &str, limit: u32) -> Result<Vec<Session>, StoreError> {
        let c = self.read();
        let mut stmt = c.prepare(&format!("SELECT {COLS} FROM sessions WHERE owner = ?1 ORDER BY created_at DESC, id LIMIT ?2"))?;
        let rows = stmt.query_map(params![owner, limit], row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(Raw::finish).collect()
    }

    pub(super) fn take_request(&self, request_id: &str, now: i64) -> Result<Option<Session>, StoreError> {
        take_request_in(&self.conn(), request_id, now)
    }

    pub(super) async fn take_request_grouped(&self, request_id: &str, now: i64) -> Result<Option<Session>, StoreError> {
        self.grouped(|c| take_request_in(c, request_id, now)).await
    }

    pub(super) fn end_pending(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE sessions SET expires_at = ?2 WHERE id = ?1 AND expires_at > ?2 AND status IN ('created', 'request_fetched')",
            params![id, now],
        )?;
        Ok(n == 1)
    }

    pub(super) fn give_back_request(&self, request_id: &str) -> Result<(), StoreError> {
        let id = keyed(request_id);
        let sql = by_handle_sql("request_id", id.is_some(), "UPDATE sessions SET status = 'created', fetched_at = NULL", " AND status = 'request_fetched' AND request_mode = 'reference'");
        self.conn().prepare_cached(&sql)?.execute(params![id.unwrap_or(request_id), request_id])?;
        Ok(())
    }

    /// The session of `state` read in the open batch, if any, without committing it (the
    /// store's `by_state` says why that is safe).
    pub(super) fn by_state_in_batch(&self, state: &str) -> Result<Option<Session>, StoreError> {
        by_handle_in(&self.lock().conn, "state", state)
    }

    pub(super) fn record(&self, id: &str, status: SessionStatus, result: &str, response_code_hash: Option<&str>, purge_at: i64, now: i64) -> Result<bool, StoreError> {
        record_in(&self.conn(), id, status, result, response_code_hash, purge_at, now)
    }

    pub(super) async fn record_grouped(&self, id: &str, status: SessionStatus, result: &str, response_code_hash: Option<&str>, purge_at: i64, now: i64) -> Result<bool, StoreError> {
        self.grouped(|c| record_in(c, id, status, result, response_code_hash, purge_at, now)).await
    }

    pub(super) fn take_result(&self, id: &str, response_code_hash: Option<&str>) -> Result<Result<(SessionStatus, String), TakeRefused>, StoreError> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        type Row = (String, String, Option<String>, Option<String>, i64);
        let r: Option<Row> = tx
            .query_row("SELECT flow, status, result, response_code_hash, result_taken FROM sessions WHERE id = ?1", params![id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let Some((flow, status, result, code_hash, taken)) = r else { return Ok(Err(TakeRefused::Unknown)) };
        let check = TakeCheck { flow, taken: taken != 0, has_result: result.is_some(), code_hash };
        if let Err(refused) = check.check(response_code_hash) {
            return Ok(Err(refused));
        }
        let (Some(result), status) = (result, SessionStatus::parse(&status)?) else { return Ok(Err(TakeRefused::Pending)) };
        tx.execute("UPDATE sessions SET result = NULL, response_code_hash = NULL, result_taken = 1 WHERE id = ?1", params![id])?;
        tx.commit()?;
        Ok(Ok((status, result)))
    }

    pub(super) fn purge(&self, now: i64) -> Result<usize, StoreError> {
        let c = self.conn();
        let n = c.prepare_cached("DELETE FROM sessions WHERE purge_at <= ?1")?.execute(params![now])?;
        let m = c.prepare_cached("DELETE FROM operator_sessions WHERE idle_until <= ?1 OR ends_at <= ?1")?.execute(params![now])?;
        Ok(n.saturating_add(m))
    }

    pub(super) fn operator_create(&self, token_hash: &str, op: &OperatorSession, idle_until: i64, ends_at: i64) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached("INSERT INTO operator_sessions (token_hash, username, display_name, idle_until, ends_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![token_hash, op.username, op.display_name, idle_until, ends_at])?;
        Ok(())
    }

    pub(super) fn operator_touch(&self, token_hash: &str, now: i64, idle_until: i64) -> Result<Option<OperatorSession>, StoreError> {
        Ok(self
            .conn()
            .prepare_cached(
                "UPDATE operator_sessions SET idle_until = ?3 WHERE token_hash = ?1 AND idle_until > ?2 AND ends_at > ?2 RETURNING username, display_name",
            )?
            .query_row(params![token_hash, now, idle_until], |r| Ok(OperatorSession { username: r.get(0)?, display_name: r.get(1)? }))
            .optional()?)
    }

    pub(super) fn operator_remove(&self, token_hash: &str) -> Result<(), StoreError> {
        self.conn().prepare_cached("DELETE FROM operator_sessions WHERE token_hash = ?1")?.execute(params![token_hash])?;
        Ok(())
    }
}

fn create_in(c: &Connection, s: &NewSession<'_>) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO sessions (id, request_id, state, nonce, flow, dcql, redirect_uri, request_uri_method, status, created_at, expires_at, purge_at, owner,
                               client_id_prefix, request_mode, x5c_leaf, request_object)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'created', ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        s.id,
        s.request_id,
        s.state,
        s.nonce,
        s.flow.as_str(),
        s.dcql,
        s.redirect_uri,
        s.request_uri_method,
        s.now,
        s.expires_at,
        s.purge_at,
        s.owner,
        s.client_id_prefix.as_str(),
        s.request_mode.as_str(),
        s.x5c_leaf,
        s.request_object
    ])?;
    Ok(())
}

// The `request_uri` handle is consumed by a guarded `UPDATE`, then the row read back by the same unique key
// in the same transaction under the connection's lock (nothing can come between them): not
// `UPDATE … RETURNING`, for which SQLite builds and drops a temporary B-tree each time
// (with a narrower index on `owner`, about 12 µs of the 59 a presentation's four writes
// cost in a model of the table, 2026-12-05). Should the read fail after the update (an I/O
// error), the value is spent and the caller answered an error, as after a crash between a
// commit and the answer.

fn take_request_in(c: &Connection, request_id: &str, now: i64) -> Result<Option<Session>, StoreError> {
    let id = keyed(request_id);
    let sql = by_handle_sql(
        "request_id",
        id.is_some(),
        "UPDATE sessions SET status = 'request_fetched', fetched_at = ?3",
        " AND status = 'created' AND request_mode = 'reference' AND expires_at > ?3",
    );
    if c.prepare_cached(&sql)?.execute(params![id.unwrap_or(request_id), request_id, now])? == 0 {
        return Ok(None);
    }
    by_handle_in(c, "request_id", request_id)
}

/// The session whose `column` (`request_id` or `state`) is `handle` ([`by_handle_sql`]).
fn by_handle_in(c: &Connection, column: &'static str, handle: &str) -> Result<Option<Session>, StoreError> {
    let id = keyed(handle);
    let sql = by_handle_sql(column, id.is_some(), concat!("SELECT ", super::cols!(), " FROM sessions"), "");
    let r = c.prepare_cached(&sql)?.query_row(params![id.unwrap_or(handle), handle], row).optional()?;
    r.map(Raw::finish).transpose()
}

fn record_in(c: &Connection, id: &str, status: SessionStatus, result: &str, response_code_hash: Option<&str>, purge_at: i64, now: i64) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE sessions SET status = ?2, result = ?3, response_code_hash = ?4, purge_at = ?5, completed_at = ?6
             WHERE id = ?1 AND (status = 'request_fetched' OR (status = 'created' AND request_mode = 'value'))",
        )?
        .execute(params![id, status.as_str(), result, response_code_hash, purge_at, now])?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Whatever reads the store while a batch is open (a session's status, its events)
    /// commits the batch first: nothing is shown that a crash before the commit could undo.
    #[test]
    fn a_read_commits_the_open_batch_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sqlite::open(&dir.path().join("verifier.sqlite")).unwrap();
        s.read().execute_batch("INSERT INTO operator_sessions VALUES ('t', 'u', 'U', 10, 10)").unwrap();
        let (tx, rx) = watch::channel(None);
        {
            let mut g = s.lock();
            g.conn.execute_batch("BEGIN IMMEDIATE; UPDATE operator_sessions SET idle_until = 20").unwrap();
            g.open = Some(tx);
        }
        let seen: i64 = s.read().query_row("SELECT idle_until FROM operator_sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(seen, 20);
        let g = s.lock();
        assert!(g.open.is_none() && g.conn.is_autocommit(), "committed before the read");
        drop(g);
        assert_eq!(*rx.borrow(), Some(Ok(())), "the batch's writers are told");
    }

    /// The file is opened as the module says: WAL, `NORMAL`, one process, and the
    /// checkpoint interval chosen (a reopened file gets it again: it is per connection).
    #[test]
    fn opened_in_wal_normal_exclusive_with_the_checkpoint_interval() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verifier.sqlite");
        for _ in 0..2 {
            let s = Sqlite::open(&path).unwrap();
            let c = s.read();
            let get = |p: &str| c.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, rusqlite::types::Value>(0)).unwrap();
            assert_eq!(get("journal_mode"), rusqlite::types::Value::Text("wal".into()));
            assert_eq!(get("synchronous"), rusqlite::types::Value::Integer(1), "NORMAL");
            assert_eq!(get("locking_mode"), rusqlite::types::Value::Text("exclusive".into()));
            assert_eq!(get("wal_autocheckpoint"), rusqlite::types::Value::Integer(WAL_AUTOCHECKPOINT));
        }
    }

    /// Only the in-person page's sessions (with an owner) are in the owner index, the list of
    /// an operator's checks reads through it, and a file from before has its old index of
    /// every row dropped at open.
    #[test]
    fn the_owner_index_holds_the_page_sessions_only_and_the_old_one_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verifier.sqlite");
        drop(Sqlite::open(&path).unwrap());
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("DROP INDEX sessions_by_owner; CREATE INDEX sessions_owner ON sessions(owner, created_at);").unwrap();
        }
        let s = Sqlite::open(&path).unwrap();
        let c = s.read();
        let indexes: Vec<String> = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' AND sql IS NOT NULL ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, ["sessions_by_owner", "sessions_legacy_request_id", "sessions_legacy_state", "sessions_purge"]);
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN SELECT {COLS} FROM sessions WHERE owner = ?1 ORDER BY created_at DESC, id LIMIT ?2"))
            .unwrap()
            .query_map(params!["alice", 10], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(plan.iter().any(|p| p.contains("sessions_by_owner")), "{plan:?}");
    }

    fn keyed_session<'a>(id: &'a str, request_id: &'a str, state: &'a str) -> NewSession<'a> {
        NewSession { request_id, state, nonce: "n", ..super::super::tests::new(id, super::super::Flow::CrossDevice) }
    }

    fn plan(c: &Connection, sql: &str) -> String {
        let rows: Vec<String> =
            c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap().query_map(params!["i", "h"], |r| r.get(3)).unwrap().collect::<Result<_, _>>().unwrap();
        rows.join("; ")
    }

    /// A keyed handle (`<id>.<secret>`) finds its session through the key and only with its
    /// whole secret; a handle from before through the partial index of such rows, which a
    /// keyed row never enters; no other unique index is written.
    #[test]
    fn keyed_handles_are_found_through_the_key_and_only_whole() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sqlite::open(&dir.path().join("verifier.sqlite")).unwrap();
        s.create(&keyed_session("k1", "k1.rsecret", "k1.ssecret")).unwrap();
        s.create(&keyed_session("k2", "k2.rother", "k2.sother")).unwrap();
        for wrong in ["k1.rsecreT", "k1.rsecre", "k1.", "k2.rsecret", ".rsecret", "k1", "rsecret"] {
            assert!(s.by("request_id", wrong).unwrap().is_none(), "{wrong}");
            assert!(take_request_in(&s.read(), wrong, 1).unwrap().is_none(), "{wrong}");
        }
        assert!(s.by_state_in_batch("k1.ssecreT").unwrap().is_none());
        assert!(s.by_state_in_batch("k2.ssecret").unwrap().is_none(), "another session's id");
        let taken = take_request_in(&s.read(), "k1.rsecret", 1).unwrap().unwrap();
        assert_eq!((taken.id.as_str(), taken.status), ("k1", SessionStatus::RequestFetched));
        assert!(take_request_in(&s.read(), "k1.rsecret", 1).unwrap().is_none(), "single use");
        assert_eq!(s.by_state_in_batch("k1.ssecret").unwrap().unwrap().id, "k1");
        s.give_back_request("k1.rsecret").unwrap();
        assert_eq!(s.by("id", "k1").unwrap().unwrap().status, SessionStatus::Created);

        let c = s.read();
        let legacy_rows: i64 = c.query_row("SELECT COUNT(*) FROM sessions WHERE instr(state, '.') = 0", [], |r| r.get(0)).unwrap();
        assert_eq!(legacy_rows, 0);
        let keyed = plan(&c, &by_handle_sql("state", true, "SELECT id FROM sessions", ""));
        assert!(keyed.contains("sqlite_autoindex_sessions_1"), "{keyed}");
        let legacy = plan(&c, &by_handle_sql("request_id", false, "SELECT id FROM sessions", ""));
        assert!(legacy.contains("sessions_legacy_request_id"), "{legacy}");
        let unique: Vec<String> = c
            .prepare("SELECT name FROM pragma_index_list('sessions') WHERE \"unique\" = 1 AND partial = 0")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(unique, ["sqlite_autoindex_sessions_1"], "the key's index only");
    }

    /// A file from before keyed handles (`UNIQUE` on `request_id`, `state`, `nonce`) is
    /// rebuilt at open without those constraints, its sessions kept and still answered by
    /// their old handles, beside new keyed ones.
    #[test]
    fn a_file_from_before_keyed_handles_is_rebuilt_and_its_sessions_still_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verifier.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE sessions (id TEXT PRIMARY KEY, request_id TEXT NOT NULL UNIQUE, state TEXT NOT NULL UNIQUE, nonce TEXT NOT NULL UNIQUE,
                    flow TEXT NOT NULL, dcql TEXT NOT NULL, redirect_uri TEXT, request_uri_method TEXT NOT NULL, status TEXT NOT NULL,
                    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, purge_at INTEGER NOT NULL, response_code_hash TEXT, result TEXT,
                    result_taken INTEGER NOT NULL DEFAULT 0);
                 CREATE INDEX sessions_purge ON sessions(purge_at);
                 INSERT INTO sessions (id, request_id, state, nonce, flow, dcql, request_uri_method, status, created_at, expires_at, purge_at)
                    VALUES ('old', 'oldrequest', 'oldstate', 'oldnonce', 'cross_device', '{}', 'post', 'created', 0, 100, 200);",
            )
            .unwrap();
        }
        let s = Sqlite::open(&path).unwrap();
        let constraints: i64 = s.read().query_row("SELECT COUNT(*) FROM pragma_index_list('sessions') WHERE origin = 'u'", [], |r| r.get(0)).unwrap();
        assert_eq!(constraints, 0, "rebuilt without them");
        let old = s.by("id", "old").unwrap().unwrap();
        assert_eq!((old.nonce.as_str(), old.request_mode, old.client_id_prefix), ("oldnonce", RequestMode::Reference, ClientIdPrefix::OpenidFederation));
        assert_eq!(take_request_in(&s.read(), "oldrequest", 1).unwrap().unwrap().id, "old");
        assert!(take_request_in(&s.read(), "oldrequest", 1).unwrap().is_none(), "single use");
        assert_eq!(s.by_state_in_batch("oldstate").unwrap().unwrap().id, "old");
        s.create(&keyed_session("new", "new.r", "new.s")).unwrap();
        assert_eq!(s.by("request_id", "new.r").unwrap().unwrap().id, "new");
        drop(s);
        let again = Sqlite::open(&path).unwrap();
        assert_eq!(again.by_state_in_batch("oldstate").unwrap().unwrap().status, SessionStatus::RequestFetched, "kept across opens");
        assert!(again.by("id", "new").unwrap().is_some());
    }
}
