//! The SQLite backend: `<data_dir>/wallet-provider.sqlite`, WAL, `synchronous=FULL`, one
//! connection behind a mutex (calls are short and local). Processes on one machine may share
//! the file: every write that must be atomic is one statement or one `IMMEDIATE`
//! transaction.
//!
//! The file links fiscal numbers to wallet instances: it is created mode 0600 before SQLite
//! opens it (SQLite gives its `-wal` and `-shm` files the same mode), and an existing file
//! readable by others is tightened to 0600.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use super::{Grant, INDEX_DRAWS, INSTANCE_COLS, Instance, InstanceRow, InstanceState, NewInstance, StoreError, instance, random_index, status_entries};

/// The SQLite database.
pub(super) struct Sqlite {
    conn: Mutex<Connection>,
}

/// A random status index not in use ([`random_index`]).
fn random_free_index(tx: &rusqlite::Transaction<'_>) -> Result<i64, StoreError> {
    let count: i64 = tx.query_row("SELECT COUNT(*) FROM instances", [], |r| r.get(0))?;
    for _ in 0..INDEX_DRAWS {
        let idx = random_index(count)?;
        let used: Option<i64> = tx.query_row("SELECT 1 FROM instances WHERE status_idx = ?1", params![idx], |r| r.get(0)).optional()?;
        if used.is_none() {
            return Ok(idx);
        }
    }
    Err(StoreError::Corrupt("no free status index found".into()))
}

impl Sqlite {
    /// Opens (creating, mode 0600) the database file.
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        service_kit::files::private_database(path).map_err(|e| StoreError::Io(format!("{}: {e}", path.display())))?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS instances (
                id TEXT PRIMARY KEY,
                fiscal_number TEXT NOT NULL,
                public_key TEXT NOT NULL,
                state TEXT NOT NULL,
                issued_at INTEGER NOT NULL,
                revoked_at INTEGER,
                status_idx INTEGER NOT NULL UNIQUE
            );
            CREATE INDEX IF NOT EXISTS instances_citizen ON instances(fiscal_number);
            CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, exp INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS login_codes (code_hash TEXT PRIMARY KEY, fiscal_number TEXT NOT NULL, exp INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS sessions (token_hash TEXT PRIMARY KEY, fiscal_number TEXT NOT NULL, exp INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS status_entries (idx INTEGER PRIMARY KEY, value INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS voucher_jtis (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL);
            -- Expired rows are swept by `exp` on every insert: indexed, so a sweep costs what it
            -- removes, not the table's size.
            CREATE INDEX IF NOT EXISTS nonces_exp ON nonces(exp);
            CREATE INDEX IF NOT EXISTS login_codes_exp ON login_codes(exp);
            CREATE INDEX IF NOT EXISTS sessions_exp ON sessions(exp);
            CREATE INDEX IF NOT EXISTS voucher_jtis_exp ON voucher_jtis(exp);",
        )?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the database answers (for `/health`).
    pub(super) fn ping(&self) -> Result<(), StoreError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    // --- nonces (IT-Wallet 1.4 §2.2 step 1: single-use and time-boxed) ---

    /// Stores a fresh nonce valid until `exp`, and drops expired ones.
    pub(super) fn put_nonce(&self, nonce: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        let c = self.conn();
        c.execute("DELETE FROM nonces WHERE exp <= ?1", params![now])?;
        c.execute("INSERT INTO nonces (nonce, exp) VALUES (?1, ?2)", params![nonce, exp])?;
        Ok(())
    }

    /// Consumes a nonce: true when it was issued here, unused and unexpired. One statement,
    /// so concurrent replicas cannot both consume it.
    pub(super) fn take_nonce(&self, nonce: &str, now: i64) -> Result<bool, StoreError> {
        let n = self.conn().execute("DELETE FROM nonces WHERE nonce = ?1 AND exp > ?2", params![nonce, now])?;
        Ok(n == 1)
    }

    // --- citizen login ---

    /// Stores a one-time login code (by its hash) for a citizen.
    pub(super) fn put_login_code(&self, code_hash: &str, fiscal_number: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        let c = self.conn();
        c.execute("DELETE FROM login_codes WHERE exp <= ?1", params![now])?;
        c.execute("INSERT INTO login_codes (code_hash, fiscal_number, exp) VALUES (?1, ?2, ?3)", params![code_hash, fiscal_number, exp])?;
        Ok(())
    }

    /// Redeems a login code once; `None` when unknown, used or expired.
    pub(super) fn take_login_code(&self, code_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let fiscal: Option<String> = tx
            .query_row("SELECT fiscal_number FROM login_codes WHERE code_hash = ?1 AND exp > ?2", params![code_hash, now], |r| r.get(0))
            .optional()?;
        tx.execute("DELETE FROM login_codes WHERE code_hash = ?1", params![code_hash])?;
        tx.commit()?;
        Ok(fiscal)
    }

    /// Stores a session (by its token's hash).
    pub(super) fn put_session(&self, token_hash: &str, fiscal_number: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        let c = self.conn();
        c.execute("DELETE FROM sessions WHERE exp <= ?1", params![now])?;
        c.execute("INSERT INTO sessions (token_hash, fiscal_number, exp) VALUES (?1, ?2, ?3)", params![token_hash, fiscal_number, exp])?;
        Ok(())
    }

    /// The session with this token hash, if unexpired.
    pub(super) fn session(&self, token_hash: &str, now: i64) -> Result<Option<Grant>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT fiscal_number, exp FROM sessions WHERE token_hash = ?1 AND exp > ?2", params![token_hash, now], |r| {
                Ok(Grant { fiscal_number: r.get(0)?, exp: r.get(1)? })
            })
            .optional()?)
    }

    // --- instances and the status list ---

    /// Registers an instance and allocates its (random, unused) status index, in one
    /// `IMMEDIATE` transaction: the tag, the citizen's count and the index are checked under
    /// the write lock.
    pub(super) fn register(&self, new: &NewInstance<'_>) -> Result<Instance, StoreError> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: Option<i64> = tx.query_row("SELECT 1 FROM instances WHERE id = ?1", params![new.id], |r| r.get(0)).optional()?;
        if exists.is_some() {
            return Err(StoreError::Duplicate);
        }
        let active: i64 = tx.query_row(
            "SELECT COUNT(*) FROM instances WHERE fiscal_number = ?1 AND state = ?2",
            params![new.fiscal_number, InstanceState::Active.as_str()],
            |r| r.get(0),
        )?;
        if active >= i64::from(new.max_active) {
            return Err(StoreError::TooManyInstances { limit: new.max_active });
        }
        let idx = random_free_index(&tx)?;
        tx.execute(
            "INSERT INTO instances (id, fiscal_number, public_key, state, issued_at, status_idx) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![new.id, new.fiscal_number, new.public_key.to_json(), InstanceState::Active.as_str(), new.now, idx],
        )?;
        tx.execute("DELETE FROM status_entries WHERE idx = ?1", params![idx])?;
        tx.commit()?;
        new.registered(idx)
    }

    /// One instance by id.
    pub(super) fn instance(&self, id: &str) -> Result<Option<Instance>, StoreError> {
        let row: Option<InstanceRow> = self
            .conn()
            .query_row(&format!("SELECT {INSTANCE_COLS} FROM instances WHERE id = ?1"), params![id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .optional()?;
        row.map(instance).transpose()
    }

    /// A citizen's instances, oldest first.
    pub(super) fn instances_of(&self, fiscal_number: &str) -> Result<Vec<Instance>, StoreError> {
        let c = self.conn();
        let mut stmt = c.prepare(&format!("SELECT {INSTANCE_COLS} FROM instances WHERE fiscal_number = ?1 ORDER BY issued_at, id"))?;
        let rows = stmt
            .query_map(params![fiscal_number], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
            .collect::<Result<Vec<InstanceRow>, _>>()?;
        rows.into_iter().map(instance).collect()
    }

    /// Revokes an instance and sets its WUA status to `value` in one transaction (IT-Wallet
    /// 1.4 §2.5: revocation is the WUA's status). False when it was already revoked.
    pub(super) fn revoke(&self, id: &str, status_value: u8, now: i64) -> Result<bool, StoreError> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let idx: Option<i64> = tx
            .query_row("SELECT status_idx FROM instances WHERE id = ?1 AND state = ?2", params![id, InstanceState::Active.as_str()], |r| r.get(0))
            .optional()?;
        let Some(idx) = idx else { return Ok(false) };
        tx.execute("UPDATE instances SET state = ?1, revoked_at = ?2 WHERE id = ?3", params![InstanceState::Revoked.as_str(), now, id])?;
        tx.execute("INSERT OR REPLACE INTO status_entries (idx, value) VALUES (?1, ?2)", params![idx, status_value])?;
        tx.commit()?;
        Ok(true)
    }

    /// Revokes every active instance of a citizen and sets their WUA status to `value`, in
    /// one transaction; returns the ids revoked.
    pub(super) fn revoke_all_of(&self, fiscal_number: &str, status_value: u8, now: i64) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows: Vec<(String, i64)> = {
            let mut stmt = tx.prepare("SELECT id, status_idx FROM instances WHERE fiscal_number = ?1 AND state = ?2 ORDER BY issued_at, id")?;
            stmt.query_map(params![fiscal_number, InstanceState::Active.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
        };
        for (id, idx) in &rows {
            tx.execute("UPDATE instances SET state = ?1, revoked_at = ?2 WHERE id = ?3", params![InstanceState::Revoked.as_str(), now, id])?;
            tx.execute("INSERT OR REPLACE INTO status_entries (idx, value) VALUES (?1, ?2)", params![idx, status_value])?;
        }
        tx.commit()?;
        Ok(rows.into_iter().map(|(id, _)| id).collect())
    }

    /// Records a voucher's `jti` until `keep_until` (the caller passes `exp` plus the clock
    /// skew it tolerates, so the `jti` outlives every instant the voucher is accepted at):
    /// true the first time, false when it was used before (a replay; OpenID ALL-008).
    /// Rows whose `keep_until` has passed are dropped.
    pub(super) fn use_jti(&self, jti: &str, keep_until: i64, now: i64) -> Result<bool, StoreError> {
        let c = self.conn();
        c.execute("DELETE FROM voucher_jtis WHERE exp <= ?1", params![now])?;
        let n = c.execute("INSERT OR IGNORE INTO voucher_jtis (jti, exp) VALUES (?1, ?2)", params![jti, keep_until])?;
        Ok(n == 1)
    }

    /// The non-zero status entries and the number of allocated indices.
    pub(super) fn status_entries(&self) -> Result<(Vec<(u64, u8)>, u64), StoreError> {
        let c = self.conn();
        let allocated: i64 = c.query_row("SELECT COALESCE(MAX(status_idx) + 1, 0) FROM instances", [], |r| r.get(0))?;
        let mut stmt = c.prepare("SELECT idx, value FROM status_entries ORDER BY idx")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?.collect::<Result<Vec<_>, _>>()?;
        status_entries(rows, allocated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn store() -> (tempfile::TempDir, Sqlite) {
        let dir = tempfile::tempdir().unwrap();
        let s = Sqlite::open(&dir.path().join("db.sqlite")).unwrap();
        (dir, s)
    }

    /// Issue 10 follow-up: the sweeps of expired single-use values search an index on `exp`
    /// instead of scanning the table on every insert.
    #[test]
    fn expiry_sweeps_use_an_index() {
        let (_d, s) = store();
        for table in ["nonces", "login_codes", "sessions", "voucher_jtis"] {
            let plan: Vec<String> = {
                let c = s.conn();
                let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN DELETE FROM {table} WHERE exp <= 1")).unwrap();
                st.query_map([], |r| r.get::<_, String>(3)).unwrap().collect::<Result<_, _>>().unwrap()
            };
            assert!(plan.iter().any(|p| p.contains(&format!("USING INDEX {table}_exp")) || p.contains(&format!("USING COVERING INDEX {table}_exp"))), "{table}: {plan:?}");
        }
    }

    #[test]
    fn two_connections_share_nonces_like_replicas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let a = Store::open(&path).unwrap();
        let b = Store::open(&path).unwrap();
        a.put_nonce("shared", 100, 0).unwrap();
        assert!(b.take_nonce("shared", 1).unwrap());
        assert!(!a.take_nonce("shared", 1).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn the_database_is_created_0600_and_an_open_one_is_tightened() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wp.sqlite");
        let s = Store::open(&path).unwrap();
        s.put_nonce("n", 100, 0).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        let wal = dir.path().join("wp.sqlite-wal");
        assert!(wal.exists());
        assert_eq!(mode(&wal), 0o600, "SQLite gives the WAL the database's mode");
        drop(s);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _s = Store::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }
}
