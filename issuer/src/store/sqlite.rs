//! The SQLite backend: `<data_dir>/issuer.sqlite` (0600, WAL, `synchronous=FULL`), one
//! connection behind a mutex. Every single-use value is consumed by one guarded statement,
//! so that of two concurrent uses exactly one wins.
//!
//! Durability: a commit is synced (`fsync` of the WAL) before anything of value leaves —
//! a token, a credential, a status change. The bookkeeping of the hot path (a DPoP `jti`
//! remembered outside the credential endpoint, status indices reserved, what a refused
//! credential request spent) commits with `synchronous=NORMAL`: not synced on its own but
//! by the next synced commit, since the WAL is one sequential file whose `fsync` covers
//! every earlier commit. A power failure can then lose only such bookkeeping of requests
//! that handed nothing out after it (an index never in a credential, the `jti` of a refused
//! request) — with one exception: the refresh grant writes nothing after its DPoP `jti`, so
//! a power failure before the next synced commit (of any request) can forget that `jti`.
//!
//! A credential request is one `INSERT` per value it spends and per credential, in a
//! transaction it shares with the requests that came with it (group commit, below): its
//! DPoP `jti` and `c_nonce`s (`Spend`) and its credentials together; `/nonce` writes nothing
//! (the nonce is authenticated: wallet-core's `NonceKey`) and status indices come from
//! those the process holds (`crate::status_pool`). Until 2026-12-04 a credential request
//! made five commits of its own: a nonce stored, consumed, the `jti`, the index, the
//! credential.
//!
//! Group commit for the credentials issued ([`Sqlite::record_issued`]): a response's records
//! join a queue; the request that finds no commit under way leads. On the blocking pool the
//! leader takes the whole queue, records each response under a savepoint of its own (a
//! response that fails is rolled back alone, the others go on), commits once (relaxed) and
//! `fsync`s the WAL file once, then answers each response and takes the queue that formed
//! meanwhile, until it finds it empty. Under load one transaction and one `fsync` serve
//! tens of responses, a page several of them touch (the last page of each table) is written
//! to the WAL once, and neither a runtime worker nor the connection waits on the disk; alone,
//! a request is its own batch. The credential still leaves only once its record is synced:
//! SQLite's WAL recovery keeps every frame up to the last valid commit, and a checkpoint
//! syncs the WAL before it copies it and the database after, so syncing the WAL file (from
//! our own descriptor: `fsync` is per file) makes every earlier commit durable. Measured
//! with the issuance benchmark (50 wallets, 2026-12-04): the one commit per request of
//! before cost about 105 µs of the server's 392 µs per credential (measured by skipping
//! it).
//!
//! Commit delay (`commit_delay_ms` in the configuration, default 3): when the last commit
//! served more than one response, others are likely on their way, and the leader waits that
//! long before it takes the queue, so that more responses share a commit and its `fsync`
//! (PostgreSQL's `commit_delay`, and MySQL's `binlog_group_commit_sync_delay`, do the same).
//! A lone request, or the first after a quiet spell, is committed at once. The `fsync` costs
//! its caller 40–50 µs of CPU here and SQLite's commit more, whatever the batch: measured with
//! the issuance benchmark (2026-12-05, alternating runs of one binary, 4 s a row), the
//! server's CPU per credential was 603–665 µs with no delay, 561–573 with 1 ms and 528–545
//! with 3 ms (50 and 200 wallets), throughput 10–15 % higher, and the p99 of 200 wallets each
//! pausing 100 ms 15–25 ms with or without it.
//!
//! Checkpoints off the request path ([`Sqlite::checkpoint`], every 100 ms while serving):
//! SQLite's automatic checkpoint runs inside the commit that crosses its mark, holding the
//! connection (and so every request) while it copies the WAL and syncs twice; under the
//! issuance benchmark that was the p99. Here a second connection copies the WAL without
//! holding the request path (PASSIVE), then copies the last few frames with it held so the
//! WAL can restart; the request path's own checkpoint is only a backstop. Measured (200
//! wallets each pausing 100 ms, 5 s runs): p99 57–72 ms with SQLite's checkpoints in the
//! request path, 11–23 ms with these.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

use super::{Deferred, Grant, INVALID, Issued, Offer, STATUS_DRAWS, Spend, Spent, StatusVersion, StoreError, Target, draw, json, list, status_space};

/// WAL pages past which the request path's connection checkpoints itself, in case
/// [`Sqlite::checkpoint`] falls behind or is not called (a store used outside the service).
const BACKSTOP_CHECKPOINT: i64 = 4_000;

/// WAL frames past which [`Sqlite::checkpoint`] makes sure the WAL restarts.
const RESTART_FRAMES: i64 = 1_000;

/// The responses waiting for a group commit.
#[derive(Default)]
struct Batch {
    queue: Vec<Pending>,
    /// A leader is draining the queue ([`Sqlite::lead`]).
    leading: bool,
}

/// One response's records, and where its outcome goes (with the number of the group commit
/// that made it durable).
struct Pending {
    rows: Vec<Issued>,
    spend: Spend,
    done: tokio::sync::oneshot::Sender<Result<(Spent, u64), StoreError>>,
}

/// Gives up the lead if the leader unwinds (a panic), so that the next request leads.
struct Resign<'a>(&'a Mutex<Batch>);

impl Drop for Resign<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).leading = false;
        }
    }
}

/// The SQLite database.
pub(super) struct Sqlite {
    conn: Mutex<Connection>,
    /// A second connection, for the checkpoints ([`Sqlite::checkpoint`]).
    checkpointer: Mutex<Connection>,
    /// The WAL file (`<path>-wal`), opened at the first group sync.
    wal_path: PathBuf,
    wal: OnceLock<std::fs::File>,
    /// Group commit ([`Sqlite::record_issued`]): the responses waiting, and whether a leader
    /// is draining them.
    batch: Mutex<Batch>,
    /// Group commits made (each one transaction and one `fsync`), for tests.
    batches: AtomicU64,
    /// Of those, how many have been synced.
    synced_batches: AtomicU64,
    /// The commit delay, µs ([`Sqlite::set_commit_delay`]).
    commit_delay_micros: AtomicU64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS offers (code_hash TEXT PRIMARY KEY, tx_code TEXT, citizen TEXT NOT NULL, configurations TEXT NOT NULL,
    expires_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS grants (id TEXT PRIMARY KEY, citizen TEXT NOT NULL, configurations TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jtis (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_slots (idx INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS grant_wuas (grant_id TEXT NOT NULL, list_uri TEXT NOT NULL, idx INTEGER NOT NULL, expires_at INTEGER NOT NULL,
    PRIMARY KEY (grant_id, list_uri, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS issued (id TEXT PRIMARY KEY, grant_id TEXT NOT NULL, citizen TEXT NOT NULL, configuration_id TEXT NOT NULL,
    status_idx INTEGER NOT NULL UNIQUE, status INTEGER NOT NULL DEFAULT 0, notification_id TEXT NOT NULL, issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL, notified TEXT);
CREATE INDEX IF NOT EXISTS issued_citizen ON issued(citizen);
CREATE INDEX IF NOT EXISTS issued_notification ON issued(notification_id);
CREATE TABLE IF NOT EXISTS pushed (request_uri_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, request TEXT NOT NULL,
    expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS logins (id_hash TEXT PRIMARY KEY, request TEXT NOT NULL, expires_at INTEGER NOT NULL,
    fetched INTEGER NOT NULL DEFAULT 0, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS issuer_states (state_hash TEXT PRIMARY KEY, offer TEXT NOT NULL, expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS codes (code_hash TEXT PRIMARY KEY, code TEXT NOT NULL, expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS deferred (transaction_id TEXT PRIMARY KEY, grant_id TEXT NOT NULL, configuration_id TEXT NOT NULL,
    keys TEXT NOT NULL, expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS issued_nonzero ON issued(status_idx, status) WHERE status != 0;
CREATE TABLE IF NOT EXISTS status_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT OR IGNORE INTO status_version (id, version) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS issued_status_changed AFTER UPDATE OF status ON issued WHEN OLD.status != NEW.status
    BEGIN UPDATE status_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS issued_status_inserted AFTER INSERT ON issued WHEN NEW.status != 0
    BEGIN UPDATE status_version SET version = version + 1 WHERE id = 1; END;
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS status_slot_count (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
INSERT OR IGNORE INTO status_slot_count (id, n) SELECT 1, COUNT(*) FROM status_slots;
CREATE TRIGGER IF NOT EXISTS status_slot_added AFTER INSERT ON status_slots
    BEGIN UPDATE status_slot_count SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS status_slot_removed AFTER DELETE ON status_slots
    BEGIN UPDATE status_slot_count SET n = n - 1 WHERE id = 1; END;
COMMIT;
";

impl Sqlite {
    /// Opens (creating, 0600) the database at `path`.
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        service_kit::files::private_database(path).map_err(|e| StoreError::Io(format!("{}: {e}", path.display())))?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Checkpoints run off the request path (`checkpoint`, on a connection of their own);
        // the request path's connection checkpoints only past a backstop.
        conn.pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT)?;
        // A batch's savepoints keep their statement journals in memory: by default SQLite
        // spilled them to a temporary file past 64 KB (an open, writes and a close a batch).
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.execute_batch(SCHEMA)?;
        // Every statement of the hot path stays prepared (the default keeps 16).
        conn.set_prepared_statement_cache_capacity(64);
        Self::spent_values_without_rowid(&conn)?;
        // The re-issuance claim (added after the first release: an older file gains it).
        let has_claim: i64 = conn.query_row("SELECT COUNT(*) FROM pragma_table_info('issued') WHERE name = 'claim'", [], |r| r.get(0))?;
        if has_claim == 0 {
            conn.execute_batch("ALTER TABLE issued ADD COLUMN claim TEXT; ALTER TABLE issued ADD COLUMN claim_until INTEGER;")?;
        }
        let checkpointer = Connection::open(path)?;
        checkpointer.busy_timeout(std::time::Duration::from_secs(5))?;
        checkpointer.pragma_update(None, "synchronous", "FULL")?;
        let mut wal_path = path.as_os_str().to_owned();
        wal_path.push("-wal");
        Ok(Self {
            conn: Mutex::new(conn),
            checkpointer: Mutex::new(checkpointer),
            wal_path: PathBuf::from(wal_path),
            wal: OnceLock::new(),
            batch: Mutex::new(Batch::default()),
            batches: AtomicU64::new(0),
            synced_batches: AtomicU64::new(0),
            commit_delay_micros: AtomicU64::new(0),
        })
    }

    /// The spent values (`jtis`, `nonces`) are tables keyed by their value alone (`WITHOUT
    /// ROWID`): a spend writes one B-tree, not a row and an index of it. Random keys: every
    /// spend dirties a page of its own, each page written to the WAL and later copied into
    /// the file (measured on the store alone, 2026-12-04: 75 → 65 µs of CPU per credential
    /// recorded). A file from before has them rebuilt here (short-lived rows: few).
    fn spent_values_without_rowid(conn: &Connection) -> Result<(), StoreError> {
        let sql: String = conn.query_row("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'jtis'", [], |r| r.get(0))?;
        if sql.contains("WITHOUT ROWID") {
            return Ok(());
        }
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE jtis_keyed (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO jtis_keyed SELECT jti, expires_at FROM jtis;
             DROP TABLE jtis;
             ALTER TABLE jtis_keyed RENAME TO jtis;
             CREATE TABLE nonces_keyed (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
             INSERT INTO nonces_keyed SELECT nonce, expires_at, used FROM nonces;
             DROP TABLE nonces;
             ALTER TABLE nonces_keyed RENAME TO nonces;
             COMMIT;",
        )?;
        Ok(())
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` with `synchronous=NORMAL`: its commit is not synced on its own, but by the
    /// next FULL commit (WAL is one sequential file; its fsync covers every earlier commit).
    fn relaxed<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = self.conn();
        conn.prepare_cached("PRAGMA synchronous = NORMAL")?.execute([])?;
        let r = f(&conn);
        conn.prepare_cached("PRAGMA synchronous = FULL")?.execute([])?;
        r
    }

    /// Copies the WAL into the database file, as far as it can without waiting (PASSIVE):
    /// on its own connection, so the request path neither runs it nor waits for it (SQLite's
    /// automatic checkpoint runs inside the commit that crosses its mark, holding the
    /// connection, and with it every request, for the copy and two `fsync`s). The service
    /// calls it every [`crate::CHECKPOINT_INTERVAL`]; the WAL restarts from its beginning
    /// at a commit that finds it all copied (or at the backstop). Returns the frames in the
    /// WAL and those copied.
    pub(super) fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        let c = self.checkpointer.lock().unwrap_or_else(PoisonError::into_inner);
        let passive = || c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)));
        let (log, copied) = passive()?;
        if log < RESTART_FRAMES {
            return Ok((log, copied));
        }
        // Under load, commits made during the copy keep the WAL from ever being found all
        // copied, and it restarts only at the backstop, inside a request. So the few frames
        // they wrote are copied with the request path's connection held: its next commit
        // finds the WAL all copied and restarts it from its beginning.
        let _no_commit = self.conn();
        Ok(passive()?)
    }

    /// Whether the database answers.
    pub(super) fn ping(&self) -> Result<(), StoreError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// Stores an offer under the hash of its pre-authorized code.
    pub(super) fn insert_offer(&self, code_hash: &str, offer: &Offer, expires_at: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO offers (code_hash, tx_code, citizen, configurations, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![code_hash, offer.tx_code_hash, offer.citizen, json(&offer.configurations), expires_at],
        )?;
        Ok(())
    }

    /// Counts one attempt at an unused, unexpired offer with attempts left, and returns it;
    /// `None` when there is no such offer (unknown, used, expired or burnt).
    pub(super) fn attempt_offer(&self, code_hash: &str, now: i64, max_attempts: u32) -> Result<Option<Offer>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "UPDATE offers SET attempts = attempts + 1 WHERE code_hash = ?1 AND used = 0 AND expires_at > ?2 AND attempts < ?3
                 RETURNING tx_code, citizen, configurations",
                params![code_hash, now, max_attempts],
                |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
            )
            .optional()?;
        row.map(|(tx_code_hash, citizen, c)| Ok(Offer { tx_code_hash, citizen, configurations: list(&c)? })).transpose()
    }

    /// An unused, unexpired offer, read without counting an attempt.
    pub(super) fn pending_offer(&self, code_hash: &str, now: i64, max_attempts: u32) -> Result<Option<Offer>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT tx_code, citizen, configurations FROM offers WHERE code_hash = ?1 AND used = 0 AND expires_at > ?2 AND attempts < ?3",
                params![code_hash, now, max_attempts],
                |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
            )
            .optional()?;
        row.map(|(tx_code_hash, citizen, c)| Ok(Offer { tx_code_hash, citizen, configurations: list(&c)? })).transpose()
    }

    /// Consumes an offer (single use): whether this call did.
    pub(super) fn consume_offer(&self, code_hash: &str) -> Result<bool, StoreError> {
        Ok(self.conn().execute("UPDATE offers SET used = 1 WHERE code_hash = ?1 AND used = 0", [code_hash])? == 1)
    }

    /// Records a grant.
    pub(super) fn insert_grant(&self, id: &str, grant: &Grant, expires_at: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO grants VALUES (?1, ?2, ?3, ?4)",
            params![id, grant.citizen, json(&grant.configurations), expires_at],
        )?;
        Ok(())
    }

    /// A grant by id, and its `expires_at`.
    pub(super) fn grant(&self, id: &str) -> Result<Option<(Grant, i64)>, StoreError> {
        let row = self
            .conn()
            .prepare_cached("SELECT citizen, configurations, expires_at FROM grants WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
            .optional()?;
        row.map(|(citizen, c, expires_at)| Ok((Grant { citizen, configurations: list(&c)? }, expires_at))).transpose()
    }

    /// Remembers a `jti` (namespaced by the caller) until `expires_at`: whether it was new.
    pub(super) fn remember_jti(&self, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        self.relaxed(|c| Ok(c.prepare_cached("INSERT OR IGNORE INTO jtis VALUES (?1, ?2)")?.execute(params![jti, expires_at])? == 1))
    }

    /// `n` fresh status list indices (see [`super::Store::allocate_status_indices`]), in one
    /// relaxed commit: an index reserved and never put in a credential is only a slot the
    /// list keeps valid.
    pub(super) fn allocate_status_indices(&self, step: u64, n: usize) -> Result<Vec<u64>, StoreError> {
        self.relaxed(|conn| {
            let tx = conn.unchecked_transaction()?;
            let out = (0..n).map(|_| Self::allocate(&tx, step)).collect::<Result<Vec<_>, _>>()?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// The slots in use are read from `status_slot_count`, which triggers move with every
    /// slot added or removed (in the same statement): a `COUNT(*)` here scanned every slot
    /// ever allocated, per credential (docs/scaling.md): about 10 µs at 100,000 slots, 1.1 ms
    /// at 1,000,000 (measured on this machine), against about 200 µs of CPU per credential
    /// in a batch. A file from before gets the table filled from one `COUNT(*)` at open.
    fn allocate(conn: &Connection, step: u64) -> Result<u64, StoreError> {
        let used: i64 = conn.prepare_cached("SELECT n FROM status_slot_count WHERE id = 1")?.query_row([], |r| r.get(0))?;
        let space = status_space(u64::try_from(used).unwrap_or(0), step);
        for _ in 0..STATUS_DRAWS {
            let idx = draw(space)?;
            let sql_idx = i64::try_from(idx).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if conn.prepare_cached("INSERT OR IGNORE INTO status_slots VALUES (?1)")?.execute([sql_idx])? == 1 {
                return Ok(idx);
            }
        }
        Err(StoreError::Corrupt(format!("no free status index found in {STATUS_DRAWS} draws")))
    }

    /// How long the group commit's leader waits before a commit when the last one served
    /// more than one response (the module documentation, "Commit delay"); zero: never.
    pub(super) fn set_commit_delay(&self, delay: std::time::Duration) {
        self.commit_delay_micros.store(u64::try_from(delay.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Spends `spend` and, if all of it was unspent, records the credentials of one response,
    /// all or none; returns once they are on disk (group commit: the module documentation).
    pub(super) async fn record_issued(self: &Arc<Self>, rows: &[Issued], spend: &Spend) -> Result<Spent, StoreError> {
        Ok(self.record_issued_in_batch(rows, spend).await?.0)
    }

    /// [`Sqlite::record_issued`], and the number of the group commit that recorded it.
    async fn record_issued_in_batch(self: &Arc<Self>, rows: &[Issued], spend: &Spend) -> Result<(Spent, u64), StoreError> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        let lead = {
            let mut b = self.batch.lock().unwrap_or_else(PoisonError::into_inner);
            b.queue.push(Pending { rows: rows.to_vec(), spend: spend.clone(), done });
            !std::mem::replace(&mut b.leading, true)
        };
        if lead {
            let me = Arc::clone(self);
            // Not awaited: the leader answers each batch as soon as its `fsync` ends, then
            // goes on with the queue that formed meanwhile.
            drop(tokio::task::spawn_blocking(move || me.lead()));
        }
        outcome.await.map_err(|_| StoreError::Io("the group commit ended without recording this response".into()))?
    }

    /// Drains the queue, one group commit per round, until it finds it empty.
    fn lead(&self) {
        let _resign = Resign(&self.batch);
        // The responses the last commit served: more than one, and others are likely on
        // their way (the module documentation, "Commit delay").
        let mut last = 0usize;
        loop {
            let delay = self.commit_delay_micros.load(Ordering::Relaxed);
            if delay > 0 && last > 1 {
                std::thread::sleep(std::time::Duration::from_micros(delay));
            }
            let batch = {
                let mut b = self.batch.lock().unwrap_or_else(PoisonError::into_inner);
                if b.queue.is_empty() {
                    b.leading = false;
                    return;
                }
                std::mem::take(&mut b.queue)
            };
            last = batch.len();
            let number = self.batches.fetch_add(1, Ordering::AcqRel).saturating_add(1);
            match self.commit_batch(&batch) {
                Ok(outcomes) => {
                    self.synced_batches.fetch_max(number, Ordering::AcqRel);
                    for (p, r) in batch.into_iter().zip(outcomes) {
                        // A request that went away (its client hung up) no longer listens.
                        let _ = p.done.send(r.map(|spent| (spent, number)));
                    }
                }
                Err(e) => {
                    let why = e.to_string();
                    for p in batch {
                        let _ = p.done.send(Err(StoreError::Io(format!("group commit: {why}"))));
                    }
                }
            }
        }
    }

    /// One transaction for `batch`, each response under its own savepoint, committed relaxed
    /// and then synced: each response's outcome.
    fn commit_batch(&self, batch: &[Pending]) -> Result<Vec<Result<Spent, StoreError>>, StoreError> {
        let outcomes = self.relaxed(|conn| {
            let tx = conn.unchecked_transaction()?;
            let mut out = Vec::with_capacity(batch.len());
            for p in batch {
                tx.prepare_cached("SAVEPOINT response")?.execute([])?;
                let r = Self::spend(&tx, &p.spend).and_then(|spent| {
                    if spent == Spent::Recorded {
                        Self::insert_rows(&tx, &p.rows)?;
                    }
                    Ok(spent)
                });
                if r.is_err() {
                    tx.prepare_cached("ROLLBACK TO response")?.execute([])?;
                }
                tx.prepare_cached("RELEASE response")?.execute([])?;
                out.push(r);
            }
            tx.commit()?;
            Ok(out)
        })?;
        self.sync_wal()?;
        Ok(outcomes)
    }

    /// `fsync` of the WAL file, from our own descriptor: every commit before it is durable.
    fn sync_wal(&self) -> Result<(), StoreError> {
        let io = |e: std::io::Error| StoreError::Io(format!("{}: {e}", self.wal_path.display()));
        let wal = match self.wal.get() {
            Some(f) => f,
            None => {
                let f = std::fs::File::open(&self.wal_path).map_err(io)?;
                self.wal.get_or_init(|| f)
            }
        };
        wal.sync_data().map_err(io)
    }

    /// Spends a request's `jti` and nonces (each an `INSERT` on a primary key, inside the
    /// caller's transaction): whether all of it was unspent.
    fn spend(conn: &Connection, spend: &Spend) -> Result<Spent, StoreError> {
        let mut spent = Spent::Recorded;
        if let Some((jti, until)) = &spend.jti
            && conn.prepare_cached("INSERT OR IGNORE INTO jtis VALUES (?1, ?2)")?.execute(params![jti, until])? == 0
        {
            spent = Spent::JtiReplayed;
        }
        let mut stmt = conn.prepare_cached("INSERT OR IGNORE INTO nonces (nonce, expires_at, used) VALUES (?1, ?2, 1)")?;
        for (nonce, expires_at) in &spend.nonces {
            if stmt.execute(params![nonce, expires_at])? == 0 && spent == Spent::Recorded {
                spent = Spent::NonceReused;
            }
        }
        Ok(spent)
    }

    /// Inside the caller's transaction.
    fn insert_rows(conn: &Connection, rows: &[Issued]) -> Result<(), StoreError> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO issued (id, grant_id, citizen, configuration_id, status_idx, status, notification_id, issued_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for i in rows {
            let idx = i64::try_from(i.status_idx).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            stmt.execute(params![i.id, i.grant_id, i.citizen, i.configuration_id, idx, i.status, i.notification_id, i.issued_at, i.expires_at])?;
        }
        Ok(())
    }

    /// Sets the status of `target`'s credentials: how many changed.
    pub(super) fn set_status(&self, target: Target<'_>, value: u8) -> Result<usize, StoreError> {
        let n = match target {
            Target::Credential(id) => self.conn().execute("UPDATE issued SET status = ?2 WHERE id = ?1 AND status != ?3", params![id, value, INVALID])?,
            Target::Citizen(c) => self.conn().execute("UPDATE issued SET status = ?2 WHERE citizen = ?1 AND status != ?3", params![c, value, INVALID])?,
            Target::Grant(g) => self.conn().execute("UPDATE issued SET status = ?2 WHERE grant_id = ?1 AND status != ?2 AND status != ?3", params![g, value, INVALID])?,
        };
        Ok(n)
    }

    /// See [`super::Store::revoked_among`].
    pub(super) fn revoked_among(&self, target: Target<'_>) -> Result<usize, StoreError> {
        let (sql, key) = match target {
            Target::Credential(id) => ("SELECT COUNT(*) FROM issued WHERE id = ?1 AND status = ?2", id),
            Target::Citizen(c) => ("SELECT COUNT(*) FROM issued WHERE citizen = ?1 AND status = ?2", c),
            Target::Grant(g) => ("SELECT COUNT(*) FROM issued WHERE grant_id = ?1 AND status = ?2", g),
        };
        let n: i64 = self.conn().query_row(sql, params![key, INVALID], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// See [`super::Store::claim_reissue`].
    pub(super) fn claim_reissue(&self, grant_id: &str, configuration_id: &str, marked: [u8; 2], claim: &str, now: i64, lease: i64) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "UPDATE issued SET claim = ?3, claim_until = ?4
             WHERE grant_id = ?1 AND configuration_id = ?2 AND status IN (?5, ?6) AND (claim IS NULL OR claim_until <= ?7)
             RETURNING id",
        )?;
        let [a, b] = marked;
        let ids = stmt.query_map(params![grant_id, configuration_id, claim, now.saturating_add(lease), a, b, now], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// See [`super::Store::finish_reissue`].
    pub(super) fn finish_reissue(&self, claim: &str, value: u8) -> Result<usize, StoreError> {
        Ok(self.conn().execute("UPDATE issued SET status = ?2, claim = NULL, claim_until = NULL WHERE claim = ?1", params![claim, value])?)
    }

    /// See [`super::Store::release_reissue`].
    pub(super) fn release_reissue(&self, claim: &str) -> Result<usize, StoreError> {
        Ok(self.conn().execute("UPDATE issued SET claim = NULL, claim_until = NULL WHERE claim = ?1", params![claim])?)
    }

    /// Credentials of a citizen (admin API).
    pub(super) fn issued_to(&self, citizen: &str) -> Result<Vec<Issued>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, grant_id, citizen, configuration_id, status_idx, status, notification_id, issued_at, expires_at, notified
             FROM issued WHERE citizen = ?1 ORDER BY issued_at, status_idx",
        )?;
        let rows = stmt.query_map([citizen], |r| {
            Ok(Issued {
                id: r.get(0)?,
                grant_id: r.get(1)?,
                citizen: r.get(2)?,
                configuration_id: r.get(3)?,
                status_idx: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(u64::MAX),
                status: r.get(5)?,
                notification_id: r.get(6)?,
                issued_at: r.get(7)?,
                expires_at: r.get(8)?,
                notified: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// See [`super::Store::status_version`]: the counter row and the primary key's maximum.
    pub(super) fn status_version(&self) -> Result<StatusVersion, StoreError> {
        let (version, allocated) = self.conn().prepare_cached("SELECT version, (SELECT COALESCE(MAX(idx) + 1, 0) FROM status_slots) FROM status_version WHERE id = 1")?.query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
        Ok(StatusVersion { version: u64::try_from(version).unwrap_or(0), allocated: u64::try_from(allocated).unwrap_or(0) })
    }

    /// Every non-zero status entry, and one past the highest index allocated.
    pub(super) fn status_entries(&self) -> Result<(Vec<(u64, u8)>, u64), StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT status_idx, status FROM issued WHERE status != 0")?;
        let entries = stmt.query_map([], |r| Ok((u64::try_from(r.get::<_, i64>(0)?).unwrap_or(u64::MAX), r.get::<_, u8>(1)?)))?.collect::<Result<Vec<_>, _>>()?;
        let allocated: i64 = conn.query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM status_slots", [], |r| r.get(0))?;
        Ok((entries, u64::try_from(allocated).unwrap_or(0)))
    }

    /// Records the wallet's notification for a grant's `notification_id`: whether it named
    /// credentials of this grant.
    pub(super) fn notify(&self, notification_id: &str, grant_id: &str, event: &str) -> Result<bool, StoreError> {
        Ok(self.conn().execute("UPDATE issued SET notified = ?3 WHERE notification_id = ?1 AND grant_id = ?2", params![notification_id, grant_id, event])? > 0)
    }

    /// Spends `spend` and, if all of it was unspent, records a deferred issuance (one
    /// transaction, synced).
    pub(super) fn insert_deferred(&self, transaction_id: &str, d: &Deferred, expires_at: i64, spend: &Spend) -> Result<Spent, StoreError> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        let spent = Self::spend(&tx, spend)?;
        if spent == Spent::Recorded {
            tx.execute(
                "INSERT INTO deferred (transaction_id, grant_id, configuration_id, keys, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![transaction_id, d.grant_id, d.configuration_id, d.keys, expires_at],
            )?;
        }
        tx.commit()?;
        Ok(spent)
    }

    /// A pending deferred issuance.
    pub(super) fn deferred(&self, transaction_id: &str, now: i64) -> Result<Option<Deferred>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT grant_id, configuration_id, keys FROM deferred WHERE transaction_id = ?1 AND used = 0 AND expires_at > ?2",
                params![transaction_id, now],
                |r| Ok(Deferred { grant_id: r.get(0)?, configuration_id: r.get(1)?, keys: r.get(2)? }),
            )
            .optional()?)
    }

    /// Consumes a deferred issuance (single use): whether this call did.
    pub(super) fn consume_deferred(&self, transaction_id: &str) -> Result<bool, StoreError> {
        Ok(self.conn().execute("UPDATE deferred SET used = 1 WHERE transaction_id = ?1 AND used = 0", [transaction_id])? == 1)
    }

    /// Stores a pushed authorization request under the hash of its `request_uri`, bound to
    /// the client (`request`: the verified request, JSON).
    pub(super) fn insert_pushed(&self, request_uri_hash: &str, client_id: &str, request: &str, expires_at: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO pushed (request_uri_hash, client_id, request, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![request_uri_hash, client_id, request, expires_at],
        )?;
        Ok(())
    }

    /// Consumes a pushed request (single use, this client's, unexpired): its JSON, or `None`.
    pub(super) fn take_pushed(&self, request_uri_hash: &str, client_id: &str, now: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "UPDATE pushed SET used = 1 WHERE request_uri_hash = ?1 AND client_id = ?2 AND used = 0 AND expires_at > ?3 RETURNING request",
                params![request_uri_hash, client_id, now],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stores a citizen authentication in progress (after `/authorize`: the pushed request,
    /// and for the PID over OpenID4VP its nonce) under the hash of its handle.
    pub(super) fn insert_login(&self, id_hash: &str, request: &str, expires_at: i64) -> Result<(), StoreError> {
        self.conn().execute("INSERT INTO logins (id_hash, request, expires_at) VALUES (?1, ?2, ?3)", params![id_hash, request, expires_at])?;
        Ok(())
    }

    /// Marks a login's request object fetched (once, unexpired, unfinished): its JSON, or `None`.
    pub(super) fn fetch_login(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "UPDATE logins SET fetched = 1 WHERE id_hash = ?1 AND fetched = 0 AND used = 0 AND expires_at > ?2 RETURNING request",
                params![id_hash, now],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Finishes a login (single use, unexpired): its JSON, or `None`.
    pub(super) fn take_login(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("UPDATE logins SET used = 1 WHERE id_hash = ?1 AND used = 0 AND expires_at > ?2 RETURNING request", params![id_hash, now], |r| r.get(0))
            .optional()?)
    }

    /// Stores an issuer-initiated offer with the `authorization_code` grant (`offer`: what it
    /// offers, JSON) under the hash of its `issuer_state`.
    pub(super) fn insert_issuer_state(&self, state_hash: &str, offer: &str, expires_at: i64) -> Result<(), StoreError> {
        self.conn().execute("INSERT INTO issuer_states (state_hash, offer, expires_at) VALUES (?1, ?2, ?3)", params![state_hash, offer, expires_at])?;
        Ok(())
    }

    /// An unused, unexpired `issuer_state`'s offer JSON, not consumed.
    pub(super) fn pending_issuer_state(&self, state_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT offer FROM issuer_states WHERE state_hash = ?1 AND used = 0 AND expires_at > ?2", params![state_hash, now], |r| r.get(0))
            .optional()?)
    }

    /// Consumes an `issuer_state` (single use, unexpired): its offer's JSON, or `None`.
    pub(super) fn take_issuer_state(&self, state_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "UPDATE issuer_states SET used = 1 WHERE state_hash = ?1 AND used = 0 AND expires_at > ?2 RETURNING offer",
                params![state_hash, now],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stores an authorization code (`code`: what it binds, JSON) under its hash.
    pub(super) fn insert_code(&self, code_hash: &str, code: &str, expires_at: i64) -> Result<(), StoreError> {
        self.conn().execute("INSERT INTO codes (code_hash, code, expires_at) VALUES (?1, ?2, ?3)", params![code_hash, code, expires_at])?;
        Ok(())
    }

    /// Consumes an authorization code (single use, unexpired): its JSON, or `None`.
    pub(super) fn take_code(&self, code_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("UPDATE codes SET used = 1 WHERE code_hash = ?1 AND used = 0 AND expires_at > ?2 RETURNING code", params![code_hash, now], |r| r.get(0))
            .optional()?)
    }

    /// See [`super::Store::record_wuas`].
    pub(super) fn record_wuas(&self, records: &[super::WuaRecord]) -> Result<(), StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "INSERT INTO grant_wuas (grant_id, list_uri, idx, expires_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (grant_id, list_uri, idx) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
        )?;
        for r in records {
            let idx = i64::try_from(r.idx).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            stmt.execute(params![r.grant_id, r.list_uri, idx, r.expires_at])?;
        }
        Ok(())
    }

    /// See [`super::Store::wuas_to_recheck`].
    pub(super) fn wuas_to_recheck(&self, now: i64) -> Result<Vec<super::WuaRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT grant_id, list_uri, idx, expires_at FROM grant_wuas WHERE expires_at > ?1")?;
        let rows = stmt.query_map([now], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?)))?;
        rows.map(|r| {
            let (grant_id, list_uri, idx, expires_at) = r?;
            Ok(super::WuaRecord { grant_id, list_uri, idx: u64::try_from(idx).map_err(|e| StoreError::Corrupt(e.to_string()))?, expires_at })
        })
        .collect()
    }

    /// Deletes expired single-use values.
    pub(super) fn purge(&self, now: i64) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute("DELETE FROM grant_wuas WHERE expires_at <= ?1", [now])?;
        conn.execute("DELETE FROM offers WHERE expires_at <= ?1", [now])?;
        conn.execute("DELETE FROM nonces WHERE expires_at <= ?1", [now])?;
        conn.execute("DELETE FROM jtis WHERE expires_at <= ?1", [now])?;
        conn.execute("DELETE FROM grants WHERE expires_at <= ?1", [now])?;
        conn.execute("DELETE FROM deferred WHERE expires_at <= ?1", [now])?;
        conn.execute("DELETE FROM pushed WHERE expires_at <= ?1", [now])?;
        conn.execute("DELETE FROM logins WHERE expires_at <= ?1", [now])?;
        conn.execute("DELETE FROM codes WHERE expires_at <= ?1", [now])?;
        conn.execute("DELETE FROM issuer_states WHERE expires_at <= ?1", [now])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::issued;

    #[test]
    fn single_use_values() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::store::Store::open(&dir.path().join("db")).unwrap();
        crate::store::contract::single_use_values(&s);
    }

    #[test]
    fn wua_records() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::store::Store::open(&dir.path().join("db")).unwrap();
        crate::store::contract::wua_records(&s);
    }

    #[test]
    fn reissue_claims() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::store::Store::open(&dir.path().join("db")).unwrap();
        crate::store::contract::reissue_claims(&s);
    }

    /// Group commit: concurrent responses each return only once the group commit that
    /// recorded them is synced, every record is there, and they took fewer transactions than
    /// responses; a response that fails (a duplicate id: all or none) fails alone, and a
    /// spent value refuses its response alone.
    #[test]
    fn issued_credentials_are_synced_before_their_response_by_group_commit() {
        for delay in [0, 5] {
            synced_before_their_response(std::time::Duration::from_millis(delay));
        }
    }

    fn synced_before_their_response(delay: std::time::Duration) {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(Sqlite::open(&dir.path().join("db")).unwrap());
        s.set_commit_delay(delay);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let n = 64u64;
        let spend = |i: u64| Spend { jti: Some((format!("j{i}"), 50)), nonces: vec![(format!("n{i}"), 50)] };
        rt.block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    let (s, spend) = (s.clone(), spend(i));
                    tokio::spawn(async move {
                        let (spent, batch) = s.record_issued_in_batch(&[issued(&format!("c{i}"), i)], &spend).await.unwrap();
                        assert_eq!(spent, Spent::Recorded);
                        assert!(s.synced_batches.load(Ordering::Acquire) >= batch, "returned before group commit {batch} was synced");
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        let batches = s.batches.load(Ordering::Acquire);
        assert!((1..n).contains(&batches), "{batches} group commits for {n} concurrent responses");
        assert_eq!(s.synced_batches.load(Ordering::Acquire), batches);
        assert_eq!(s.issued_to("CF").unwrap().len(), usize::try_from(n).unwrap());
        // Together (one batch when they meet in the queue): a duplicate id, a replayed jti
        // and a good response.
        let (dup_rows, replay_rows, good_rows) = ([issued("new", 1_000), issued("c0", 1_001)], [issued("replay", 1_002)], [issued("good", 1_003)]);
        let (dup_spend, replay_spend, good_spend) = (spend(100), spend(3), spend(101));
        rt.block_on(async {
            let (dup, replay, good) =
                tokio::join!(s.record_issued(&dup_rows, &dup_spend), s.record_issued(&replay_rows, &replay_spend), s.record_issued(&good_rows, &good_spend));
            assert!(dup.is_err(), "a duplicate id");
            assert_eq!(replay.unwrap(), Spent::JtiReplayed);
            assert_eq!(good.unwrap(), Spent::Recorded);
        });
        let ids: Vec<String> = s.issued_to("CF").unwrap().into_iter().map(|i| i.id).collect();
        assert_eq!(ids.len(), usize::try_from(n + 1).unwrap(), "all or none for each response");
        assert!(ids.contains(&"good".to_owned()) && !ids.contains(&"new".to_owned()) && !ids.contains(&"replay".to_owned()));
        // The failed response's spends were rolled back with it: its jti is still unspent.
        assert_eq!(rt.block_on(s.record_issued(&[issued("again", 1_004)], &spend(100))).unwrap(), Spent::Recorded);
        let sync = s.conn().query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(sync, 2, "FULL again after the relaxed commits");
    }

    /// Checkpoints off the request path: the request path's connection checkpoints only at
    /// the backstop; `checkpoint` copies the whole WAL, and past RESTART_FRAMES the next
    /// commit starts the WAL again from its beginning (it does not grow while commits go on).
    #[test]
    fn checkpoints_copy_the_wal_and_let_it_restart() {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(Sqlite::open(&dir.path().join("db")).unwrap());
        let record = |id: String, idx: u64| crate::store::contract::block_on(s.record_issued(&[issued(&id, idx)], &Spend::default())).unwrap();
        let auto = s.conn().query_row("PRAGMA wal_autocheckpoint", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(auto, BACKSTOP_CHECKPOINT);
        let frames = |s: &Sqlite| s.checkpointer.lock().unwrap().query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)).unwrap();
        let n = u64::try_from(RESTART_FRAMES).unwrap() + 200;
        for i in 0..n {
            assert_eq!(record(format!("c{i}"), i), Spent::Recorded);
        }
        let (log, copied) = s.checkpoint().unwrap();
        assert!(log >= RESTART_FRAMES, "{log} frames");
        assert_eq!(copied, log, "all copied");
        assert_eq!(record("after".into(), n), Spent::Recorded);
        assert!(frames(&s) < 10, "the WAL restarted: {} frames", frames(&s));
        assert_eq!(s.issued_to("CF").unwrap().len(), usize::try_from(n + 1).unwrap());
        // Below RESTART_FRAMES one PASSIVE pass, which copies what is there.
        let (log, copied) = s.checkpoint().unwrap();
        assert_eq!((log, copied), (log, log));
    }

    /// The slot count the allocation reads follows the slots (added, ignored as a
    /// duplicate, removed), and a file from before the count gets it filled at open.
    #[test]
    fn the_status_slot_count_follows_the_slots() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let count = |s: &Sqlite| s.conn().query_row("SELECT n FROM status_slot_count", [], |r| r.get::<_, i64>(0)).unwrap();
        let rows = |s: &Sqlite| s.conn().query_row("SELECT COUNT(*) FROM status_slots", [], |r| r.get::<_, i64>(0)).unwrap();
        {
            let s = Sqlite::open(&path).unwrap();
            assert_eq!(count(&s), 0);
            s.allocate_status_indices(16, 60).unwrap();
            for _ in 0..40 {
                s.allocate_status_indices(16, 1).unwrap();
            }
            assert_eq!((count(&s), rows(&s)), (100, 100));
            let first: i64 = s.conn().query_row("SELECT MIN(idx) FROM status_slots", [], |r| r.get(0)).unwrap();
            assert_eq!(s.conn().execute("INSERT OR IGNORE INTO status_slots VALUES (?1)", [first]).unwrap(), 0);
            assert_eq!(count(&s), 100, "a duplicate is not counted");
            s.conn().execute("DELETE FROM status_slots WHERE idx = ?1", [first]).unwrap();
            assert_eq!((count(&s), rows(&s)), (99, 99));
            // As a file from before the count: slots, no count table, no triggers.
            s.conn().execute_batch("DROP TRIGGER status_slot_added; DROP TRIGGER status_slot_removed; DROP TABLE status_slot_count;").unwrap();
        }
        let s = Sqlite::open(&path).unwrap();
        assert_eq!((count(&s), rows(&s)), (99, 99), "filled at open");
        s.allocate_status_indices(16, 1).unwrap();
        assert_eq!((count(&s), rows(&s)), (100, 100), "and followed again");
    }

    /// The spent values are `WITHOUT ROWID` tables, and a file from before has them rebuilt
    /// with their rows.
    #[test]
    fn spent_values_are_keyed_by_value_and_older_files_are_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let without_rowid = |c: &Connection, t: &str| c.query_row("SELECT sql FROM sqlite_master WHERE name = ?1", [t], |r| r.get::<_, String>(0)).unwrap().contains("WITHOUT ROWID");
        {
            let s = Sqlite::open(&path).unwrap();
            assert!(without_rowid(&s.conn(), "jtis") && without_rowid(&s.conn(), "nonces"));
            // As a file from before: rowid tables, with rows.
            s.conn()
                .execute_batch(
                    "DROP TABLE jtis; DROP TABLE nonces;
                     CREATE TABLE jtis (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
                     CREATE TABLE nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
                     INSERT INTO jtis VALUES ('dpop:a', 50); INSERT INTO nonces VALUES ('n1', 50, 1), ('n2', 60, 0);",
                )
                .unwrap();
            assert!(!without_rowid(&s.conn(), "jtis"));
        }
        let s = Sqlite::open(&path).unwrap();
        assert!(without_rowid(&s.conn(), "jtis") && without_rowid(&s.conn(), "nonces"));
        assert!(!s.remember_jti("dpop:a", 50).unwrap(), "kept");
        let nonces: i64 = s.conn().query_row("SELECT COUNT(*) FROM nonces", [], |r| r.get(0)).unwrap();
        assert_eq!(nonces, 2);
    }

    /// The hot path's bookkeeping commits relaxed and leaves the connection synced again.
    #[test]
    fn relaxed_writes_restore_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(Sqlite::open(&dir.path().join("db")).unwrap());
        let sync = |s: &Sqlite| s.conn().query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(sync(&s), 2, "FULL");
        assert!(s.remember_jti("j", 50).unwrap());
        s.allocate_status_indices(16, 3).unwrap();
        let spend = Spend { jti: Some(("k".into(), 50)), nonces: vec![("n".into(), 50)] };
        assert_eq!(crate::store::contract::block_on(s.record_issued(&[issued("a", 1_000_000)], &spend)).unwrap(), Spent::Recorded);
        assert_eq!(sync(&s), 2, "FULL again after the relaxed writes");
    }
}
