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
//! A credential request is one commit: its DPoP `jti`, its `c_nonce`s (spent: `Spend`) and
//! its credentials together ([`Sqlite::commit_issued`]); `/nonce` writes nothing (the nonce
//! is authenticated, wallet-core's `NonceKey`) and status indices come from those the
//! process holds (`crate::status_pool`). Five commits per credential request before
//! (until 2026-12-04): a nonce stored, consumed, the `jti`, the index, the credential.
//!
//! Group commit for the credentials issued ([`Sqlite::commit_issued`] then
//! [`Sqlite::sync_through`]): the transaction commits relaxed under the connection's mutex,
//! then, with the mutex released, the request waits (asynchronously) until an `fsync` of the
//! WAL file that began after its commit has ended. One `fsync` runs at a time, on the
//! runtime's blocking pool; every commit made while it ran is covered by the next one, so
//! under load one `fsync` serves many responses and neither the connection nor a runtime
//! worker waits on the disk. The credential still leaves only once its record is synced:
//! SQLite's WAL recovery keeps every frame up to the last valid commit, and a checkpoint
//! syncs the WAL before it copies it and the database after, so syncing the WAL file (from
//! our own descriptor: `fsync` is per file) makes every earlier commit durable.
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

use super::{Deferred, Grant, Issued, Offer, STATUS_DRAWS, Spend, Spent, StatusVersion, StoreError, Target, draw, json, list, status_space};

/// WAL pages past which the request path's connection checkpoints itself, in case
/// [`Sqlite::checkpoint`] falls behind or is not called (a store used outside the service).
const BACKSTOP_CHECKPOINT: i64 = 4_000;

/// WAL frames past which [`Sqlite::checkpoint`] makes sure the WAL restarts.
const RESTART_FRAMES: i64 = 1_000;

/// The SQLite database.
pub(super) struct Sqlite {
    conn: Mutex<Connection>,
    /// A second connection, for the checkpoints ([`Sqlite::checkpoint`]).
    checkpointer: Mutex<Connection>,
    /// The WAL file (`<path>-wal`), opened at the first group sync.
    wal_path: PathBuf,
    wal: OnceLock<Arc<std::fs::File>>,
    /// Group commit: the number of [`Sqlite::commit_issued`] commits so far (moved under the
    /// connection's mutex, right after each commit),
    committed: AtomicU64,
    /// and how many of them are known synced; held while one `fsync` runs.
    synced: tokio::sync::Mutex<u64>,
    /// `fsync`s of the WAL made by [`Sqlite::sync_through`] (for tests and `/metrics`-style
    /// inspection).
    wal_syncs: AtomicU64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS offers (code_hash TEXT PRIMARY KEY, tx_code TEXT, citizen TEXT NOT NULL, configurations TEXT NOT NULL,
    expires_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS grants (id TEXT PRIMARY KEY, citizen TEXT NOT NULL, configurations TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS jtis (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS status_slots (idx INTEGER PRIMARY KEY);
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
        conn.execute_batch(SCHEMA)?;
        // Every statement of the hot path stays prepared (the default keeps 16).
        conn.set_prepared_statement_cache_capacity(64);
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
            committed: AtomicU64::new(0),
            synced: tokio::sync::Mutex::new(0),
            wal_syncs: AtomicU64::new(0),
        })
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
            params![code_hash, offer.tx_code, offer.citizen, json(&offer.configurations), expires_at],
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
        row.map(|(tx_code, citizen, c)| Ok(Offer { tx_code, citizen, configurations: list(&c)? })).transpose()
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

    /// A grant by id.
    pub(super) fn grant(&self, id: &str) -> Result<Option<Grant>, StoreError> {
        let row = self
            .conn()
            .prepare_cached("SELECT citizen, configurations FROM grants WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .optional()?;
        row.map(|(citizen, c)| Ok(Grant { citizen, configurations: list(&c)? })).transpose()
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

    /// Spends `spend` and, if all of it was unspent, records the credentials of one response,
    /// all or none: one transaction, committed relaxed; the caller then waits for
    /// [`Sqlite::sync_through`] with the number returned (group commit: the module
    /// documentation). A batch of ten is one commit.
    pub(super) fn commit_issued(&self, rows: &[Issued], spend: &Spend) -> Result<(u64, Spent), StoreError> {
        self.relaxed(|conn| {
            let tx = conn.unchecked_transaction()?;
            let spent = Self::spend(&tx, spend)?;
            if spent == Spent::Recorded {
                Self::insert_rows(&tx, rows)?;
            }
            tx.commit()?;
            // Counted while the connection is still held: a commit counted is in the WAL.
            Ok((self.committed.fetch_add(1, Ordering::AcqRel).saturating_add(1), spent))
        })
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

    /// Returns once the commit numbered `seq` by [`Sqlite::commit_issued`] is on disk: at
    /// once if an `fsync` that began after it has ended, else after the next one (which this
    /// call makes, unless another waiter holds the turn and covers it).
    pub(super) async fn sync_through(&self, seq: u64) -> Result<(), StoreError> {
        let mut synced = self.synced.lock().await;
        if *synced >= seq {
            return Ok(());
        }
        // Every commit counted here has written its frames to the WAL before it was counted.
        let upto = self.committed.load(Ordering::Acquire);
        let wal = match self.wal.get() {
            Some(f) => f.clone(),
            None => {
                let f = std::fs::File::open(&self.wal_path).map_err(|e| StoreError::Io(format!("{}: {e}", self.wal_path.display())))?;
                self.wal.get_or_init(|| Arc::new(f)).clone()
            }
        };
        let path = self.wal_path.display().to_string();
        tokio::task::spawn_blocking(move || wal.sync_data())
            .await
            .map_err(|e| StoreError::Io(format!("{path}: sync: {e}")))?
            .map_err(|e| StoreError::Io(format!("{path}: sync: {e}")))?;
        self.wal_syncs.fetch_add(1, Ordering::Relaxed);
        *synced = upto;
        Ok(())
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
            Target::Credential(id) => self.conn().execute("UPDATE issued SET status = ?2 WHERE id = ?1", params![id, value])?,
            Target::Citizen(c) => self.conn().execute("UPDATE issued SET status = ?2 WHERE citizen = ?1", params![c, value])?,
        };
        Ok(n)
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

    /// Deletes expired single-use values.
    pub(super) fn purge(&self, now: i64) -> Result<(), StoreError> {
        let conn = self.conn();
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
    fn reissue_claims() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::store::Store::open(&dir.path().join("db")).unwrap();
        crate::store::contract::reissue_claims(&s);
    }

    /// Group commit: concurrent responses each return only once an `fsync` of the WAL that
    /// began after their commit has ended, every record is there, and no response costs
    /// more than one `fsync`; a failed commit (a duplicate id: all or none) is counted for
    /// nothing and syncs nothing.
    #[test]
    fn issued_credentials_are_synced_before_their_response_by_group_commit() {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(Sqlite::open(&dir.path().join("db")).unwrap());
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let n = 64u64;
        rt.block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    let s = s.clone();
                    tokio::spawn(async move {
                        let (seq, spent) = s.commit_issued(&[issued(&format!("c{i}"), i)], &Spend::default()).unwrap();
                        assert_eq!(spent, Spent::Recorded);
                        s.sync_through(seq).await.unwrap();
                        assert!(*s.synced.lock().await >= seq, "returned before an fsync covered commit {seq}");
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert_eq!(s.committed.load(Ordering::Acquire), n);
        let syncs = s.wal_syncs.load(Ordering::Relaxed);
        assert!((1..=n).contains(&syncs), "{syncs} fsyncs for {n} commits");
        assert_eq!(s.issued_to("CF").unwrap().len(), usize::try_from(n).unwrap());
        assert!(s.commit_issued(&[issued("new", 1_000), issued("c0", 1_001)], &Spend::default()).is_err(), "a duplicate id");
        assert_eq!(s.committed.load(Ordering::Acquire), n, "a failed commit is not counted");
        assert_eq!(s.issued_to("CF").unwrap().len(), usize::try_from(n).unwrap(), "all or none");
        rt.block_on(s.sync_through(n)).unwrap();
        assert_eq!(s.wal_syncs.load(Ordering::Relaxed), syncs, "nothing left to sync");
        let sync = s.conn().query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(sync, 2, "FULL again after the relaxed commits");
    }

    /// Checkpoints off the request path: the request path's connection checkpoints only at
    /// the backstop; `checkpoint` copies the whole WAL, and past RESTART_FRAMES the next
    /// commit starts the WAL again from its beginning (it does not grow while commits go on).
    #[test]
    fn checkpoints_copy_the_wal_and_let_it_restart() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sqlite::open(&dir.path().join("db")).unwrap();
        let auto = s.conn().query_row("PRAGMA wal_autocheckpoint", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(auto, BACKSTOP_CHECKPOINT);
        let frames = |s: &Sqlite| s.checkpointer.lock().unwrap().query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)).unwrap();
        let n = u64::try_from(RESTART_FRAMES).unwrap() + 200;
        for i in 0..n {
            let _ = s.commit_issued(&[issued(&format!("c{i}"), i)], &Spend::default()).unwrap();
        }
        let (log, copied) = s.checkpoint().unwrap();
        assert!(log >= RESTART_FRAMES, "{log} frames");
        assert_eq!(copied, log, "all copied");
        let _ = s.commit_issued(&[issued("after", n)], &Spend::default()).unwrap();
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

    /// The hot path's bookkeeping commits relaxed and leaves the connection synced again.
    #[test]
    fn relaxed_writes_restore_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sqlite::open(&dir.path().join("db")).unwrap();
        let sync = |s: &Sqlite| s.conn().query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(sync(&s), 2, "FULL");
        assert!(s.remember_jti("j", 50).unwrap());
        s.allocate_status_indices(16, 3).unwrap();
        let spend = Spend { jti: Some(("k".into(), 50)), nonces: vec![("n".into(), 50)] };
        assert_eq!(s.commit_issued(&[issued("a", 1_000_000)], &spend).unwrap().1, Spent::Recorded);
        assert_eq!(sync(&s), 2, "FULL again after the relaxed writes");
    }
}
