//! The provider's database: one SQLite file under the data directory
//! (`<data_dir>/wallet-provider.sqlite`, WAL, `synchronous=FULL`) shared by every replica.
//!
//! Tables: `instances` (id = hardware key tag, fiscal number, public key, state, WUA status
//! index), `nonces` (single-use, time-boxed), `login_codes` and `sessions` (stored as SHA-256
//! of the secret, never the secret; both exist only after a login completed), `status_entries`
//! (the non-zero entries of the provider's Token Status List), `voucher_jtis` (the PDND
//! vouchers already used, until they expire). A login in progress is stored nowhere: it
//! travels sealed in the OIDC `state` ([`crate::citizen`]).
//!
//! The file links fiscal numbers to wallet instances: it is created mode 0600 before SQLite
//! opens it (SQLite gives its `-wal` and `-shm` files the same mode), and an existing file
//! readable by others is tightened to 0600.
//!
//! Every write that must be atomic across replicas is one statement or one `IMMEDIATE`
//! transaction: a nonce is consumed by a `DELETE` that must remove exactly one unexpired
//! row, so two replicas cannot both accept it; revocation flips the instance and its status
//! entry in one transaction.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use wallet_core::jose::Jwk;

/// A database failure (answered as 500 `server_error`; the detail is logged, not shown).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite said no.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value does not parse (the file was edited or is corrupt).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The hardware key tag is already registered.
    #[error("hardware key tag already registered")]
    Duplicate,
    /// The citizen already holds the most active instances allowed.
    #[error("the citizen already has {limit} active wallet instances, the most allowed")]
    TooManyInstances {
        /// The limit.
        limit: u32,
    },
    /// The file could not be created or its mode set.
    #[error("{0}")]
    Io(String),
}

/// The lifecycle state of a wallet instance as the retrieval endpoint shows it
/// (IT-Wallet 1.4 §2.4: `"ACTIVE"` | `"REVOKED"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InstanceState {
    /// Registered and not revoked.
    Active,
    /// Revoked: no attestation is issued for it any more, its WUA is `INVALID`.
    Revoked,
}

impl InstanceState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Revoked => "REVOKED",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "ACTIVE" => Ok(Self::Active),
            "REVOKED" => Ok(Self::Revoked),
            other => Err(StoreError::Corrupt(format!("instance state {other}"))),
        }
    }
}

/// A registered wallet instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The instance id: its `hardware_key_tag` (IT-Wallet 1.4 §2.1: the user account is bound
    /// to the tag at activation).
    pub id: String,
    /// The citizen it belongs to (from the SPID/CIE login).
    pub fiscal_number: String,
    /// The hardware key's public key, from the verified key attestation.
    pub public_key: Jwk,
    /// Its state.
    pub state: InstanceState,
    /// Registration time.
    pub issued_at: i64,
    /// Its WUAs' index in the provider's status list.
    pub status_idx: u64,
}

/// What registration stores.
#[derive(Debug, Clone)]
pub struct NewInstance<'a> {
    /// The hardware key tag.
    pub id: &'a str,
    /// The citizen.
    pub fiscal_number: &'a str,
    /// The hardware public key.
    pub public_key: &'a Jwk,
    /// Now.
    pub now: i64,
    /// The most active instances the citizen may hold, this one included.
    pub max_active: u32,
}

/// A logged-in citizen's session or one-time login code, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The citizen's fiscal number.
    pub fiscal_number: String,
    /// Expiry.
    pub exp: i64,
}

/// The database.
pub struct Store {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store(..)")
    }
}

type InstanceRow = (String, String, String, String, i64, i64);

fn instance(row: InstanceRow) -> Result<Instance, StoreError> {
    let (id, fiscal_number, pk, state, issued_at, idx) = row;
    Ok(Instance {
        id,
        fiscal_number,
        public_key: Jwk::from_json(&pk).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        state: InstanceState::parse(&state)?,
        issued_at,
        status_idx: u64::try_from(idx).map_err(|_| StoreError::Corrupt("negative status index".into()))?,
    })
}

/// Status list indices are drawn from at least this many slots.
pub const INDEX_SPACE_STEP: u64 = 4096;

/// A random status index not in use (draft-ietf-oauth-status-list, privacy considerations:
/// indices assigned in order would let verifiers link WUAs issued close in time). The index
/// space is kept at most half full: `max(4096, 2 × instances)` rounded up to 4096.
fn random_free_index(tx: &rusqlite::Transaction<'_>) -> Result<i64, StoreError> {
    let count: i64 = tx.query_row("SELECT COUNT(*) FROM instances", [], |r| r.get(0))?;
    let count = u64::try_from(count).map_err(|_| StoreError::Corrupt("negative count".into()))?;
    let space = count.saturating_mul(2).div_ceil(INDEX_SPACE_STEP).max(1).saturating_mul(INDEX_SPACE_STEP);
    for _ in 0..64 {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|e| StoreError::Corrupt(format!("no randomness: {e}")))?;
        let idx = i64::try_from(u64::from_le_bytes(b) % space).map_err(|_| StoreError::Corrupt("index space".into()))?;
        let used: Option<i64> = tx.query_row("SELECT 1 FROM instances WHERE status_idx = ?1", params![idx], |r| r.get(0)).optional()?;
        if used.is_none() {
            return Ok(idx);
        }
    }
    Err(StoreError::Corrupt("no free status index found".into()))
}

const INSTANCE_COLS: &str = "id, fiscal_number, public_key, state, issued_at, status_idx";

impl Store {
    /// Opens (creating, mode 0600) the database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
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
    pub fn ping(&self) -> Result<(), StoreError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    // --- nonces (IT-Wallet 1.4 §2.2 step 1: single-use and time-boxed) ---

    /// Stores a fresh nonce valid until `exp`, and drops expired ones.
    pub fn put_nonce(&self, nonce: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        let c = self.conn();
        c.execute("DELETE FROM nonces WHERE exp <= ?1", params![now])?;
        c.execute("INSERT INTO nonces (nonce, exp) VALUES (?1, ?2)", params![nonce, exp])?;
        Ok(())
    }

    /// Consumes a nonce: true when it was issued here, unused and unexpired. One statement,
    /// so concurrent replicas cannot both consume it.
    pub fn take_nonce(&self, nonce: &str, now: i64) -> Result<bool, StoreError> {
        let n = self.conn().execute("DELETE FROM nonces WHERE nonce = ?1 AND exp > ?2", params![nonce, now])?;
        Ok(n == 1)
    }

    // --- citizen login ---

    /// Stores a one-time login code (by its hash) for a citizen.
    pub fn put_login_code(&self, code_hash: &str, fiscal_number: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        let c = self.conn();
        c.execute("DELETE FROM login_codes WHERE exp <= ?1", params![now])?;
        c.execute("INSERT INTO login_codes (code_hash, fiscal_number, exp) VALUES (?1, ?2, ?3)", params![code_hash, fiscal_number, exp])?;
        Ok(())
    }

    /// Redeems a login code once; `None` when unknown, used or expired.
    pub fn take_login_code(&self, code_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
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
    pub fn put_session(&self, token_hash: &str, fiscal_number: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        let c = self.conn();
        c.execute("DELETE FROM sessions WHERE exp <= ?1", params![now])?;
        c.execute("INSERT INTO sessions (token_hash, fiscal_number, exp) VALUES (?1, ?2, ?3)", params![token_hash, fiscal_number, exp])?;
        Ok(())
    }

    /// The session with this token hash, if unexpired.
    pub fn session(&self, token_hash: &str, now: i64) -> Result<Option<Grant>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT fiscal_number, exp FROM sessions WHERE token_hash = ?1 AND exp > ?2", params![token_hash, now], |r| {
                Ok(Grant { fiscal_number: r.get(0)?, exp: r.get(1)? })
            })
            .optional()?)
    }

    // --- instances and the status list ---

    /// Registers an instance and allocates its (random, unused) status index, in one
    /// transaction.
    pub fn register(&self, new: &NewInstance<'_>) -> Result<Instance, StoreError> {
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
        Ok(Instance {
            id: new.id.to_owned(),
            fiscal_number: new.fiscal_number.to_owned(),
            public_key: new.public_key.clone(),
            state: InstanceState::Active,
            issued_at: new.now,
            status_idx: u64::try_from(idx).map_err(|_| StoreError::Corrupt("negative status index".into()))?,
        })
    }

    /// One instance by id.
    pub fn instance(&self, id: &str) -> Result<Option<Instance>, StoreError> {
        let row: Option<InstanceRow> = self
            .conn()
            .query_row(&format!("SELECT {INSTANCE_COLS} FROM instances WHERE id = ?1"), params![id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .optional()?;
        row.map(instance).transpose()
    }

    /// A citizen's instances, oldest first.
    pub fn instances_of(&self, fiscal_number: &str) -> Result<Vec<Instance>, StoreError> {
        let c = self.conn();
        let mut stmt = c.prepare(&format!("SELECT {INSTANCE_COLS} FROM instances WHERE fiscal_number = ?1 ORDER BY issued_at, id"))?;
        let rows = stmt
            .query_map(params![fiscal_number], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
            .collect::<Result<Vec<InstanceRow>, _>>()?;
        rows.into_iter().map(instance).collect()
    }

    /// Revokes an instance and sets its WUA status to `value` in one transaction (IT-Wallet
    /// 1.4 §2.5: revocation is the WUA's status). False when it was already revoked.
    pub fn revoke(&self, id: &str, status_value: u8, now: i64) -> Result<bool, StoreError> {
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
    pub fn revoke_all_of(&self, fiscal_number: &str, status_value: u8, now: i64) -> Result<Vec<String>, StoreError> {
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
    pub fn use_jti(&self, jti: &str, keep_until: i64, now: i64) -> Result<bool, StoreError> {
        let c = self.conn();
        c.execute("DELETE FROM voucher_jtis WHERE exp <= ?1", params![now])?;
        let n = c.execute("INSERT OR IGNORE INTO voucher_jtis (jti, exp) VALUES (?1, ?2)", params![jti, keep_until])?;
        Ok(n == 1)
    }

    /// The non-zero status entries and the number of allocated indices.
    pub fn status_entries(&self) -> Result<(Vec<(u64, u8)>, u64), StoreError> {
        let c = self.conn();
        let allocated: i64 = c.query_row("SELECT COALESCE(MAX(status_idx) + 1, 0) FROM instances", [], |r| r.get(0))?;
        let mut stmt = c.prepare("SELECT idx, value FROM status_entries ORDER BY idx")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?.collect::<Result<Vec<_>, _>>()?;
        let bad = |_| StoreError::Corrupt("status entry out of range".into());
        let entries = rows
            .into_iter()
            .map(|(i, v)| Ok((u64::try_from(i).map_err(bad)?, u8::try_from(v).map_err(bad)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((entries, u64::try_from(allocated).map_err(bad)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wallet_core::jose::{Signer as _, SoftwareSigner};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db.sqlite")).unwrap();
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
    fn a_nonce_is_consumed_once_and_expires() {
        let (_d, s) = store();
        s.put_nonce("n1", 100, 10).unwrap();
        s.put_nonce("n2", 100, 10).unwrap();
        assert!(s.take_nonce("n1", 50).unwrap());
        assert!(!s.take_nonce("n1", 50).unwrap(), "replayed nonce");
        assert!(!s.take_nonce("n2", 100).unwrap(), "expired nonce");
        assert!(!s.take_nonce("never-issued", 50).unwrap());
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

    #[test]
    fn register_allocates_indices_and_revoke_flips_the_entry() {
        let (_d, s) = store();
        let k = SoftwareSigner::generate().unwrap().public_jwk();
        let a = s.register(&NewInstance { id: "tag-a", fiscal_number: "CF1", public_key: &k, now: 1, max_active: 10 }).unwrap();
        let b = s.register(&NewInstance { id: "tag-b", fiscal_number: "CF1", public_key: &k, now: 2, max_active: 10 }).unwrap();
        assert_ne!(a.status_idx, b.status_idx);
        assert!(a.status_idx < INDEX_SPACE_STEP && b.status_idx < INDEX_SPACE_STEP);
        assert!(matches!(
            s.register(&NewInstance { id: "tag-a", fiscal_number: "CF2", public_key: &k, now: 3, max_active: 10 }),
            Err(StoreError::Duplicate)
        ));
        assert!(s.revoke("tag-b", 1, 5).unwrap());
        assert!(!s.revoke("tag-b", 1, 6).unwrap());
        let (entries, allocated) = s.status_entries().unwrap();
        assert_eq!(entries, vec![(b.status_idx, 1)]);
        assert_eq!(allocated, a.status_idx.max(b.status_idx) + 1);
        let list = s.instances_of("CF1").unwrap();
        assert_eq!(list.iter().map(|i| i.state).collect::<Vec<_>>(), vec![InstanceState::Active, InstanceState::Revoked]);
        assert_eq!(s.instance("tag-a").unwrap().unwrap().public_key, k);
    }

    #[test]
    fn login_codes_are_single_use() {
        let (_d, s) = store();
        s.put_login_code("h", "CF1", 100, 0).unwrap();
        assert_eq!(s.take_login_code("h", 1).unwrap().as_deref(), Some("CF1"));
        assert_eq!(s.take_login_code("h", 1).unwrap(), None);
        s.put_session("th", "CF1", 100, 0).unwrap();
        assert_eq!(s.session("th", 1).unwrap(), Some(Grant { fiscal_number: "CF1".into(), exp: 100 }));
        assert_eq!(s.session("th", 100).unwrap(), None);
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

    #[test]
    fn registration_beyond_the_citizen_limit_is_refused_and_revoked_ones_do_not_count() {
        let (_d, s) = store();
        let k = SoftwareSigner::generate().unwrap().public_jwk();
        let new = |id: &'static str| NewInstance { id, fiscal_number: "CF", public_key: &k, now: 1, max_active: 2 };
        s.register(&new("a")).unwrap();
        s.register(&new("b")).unwrap();
        assert!(matches!(s.register(&new("c")), Err(StoreError::TooManyInstances { limit: 2 })));
        s.revoke("a", 1, 2).unwrap();
        s.register(&new("c")).unwrap();
        // Another citizen is not affected.
        s.register(&NewInstance { fiscal_number: "CF2", ..new("d") }).unwrap();
    }

    #[test]
    fn revoke_all_of_flips_every_active_instance_once() {
        let (_d, s) = store();
        let k = SoftwareSigner::generate().unwrap().public_jwk();
        for id in ["a", "b", "c"] {
            s.register(&NewInstance { id, fiscal_number: "CF", public_key: &k, now: 1, max_active: 10 }).unwrap();
        }
        s.revoke("b", 1, 2).unwrap();
        assert_eq!(s.revoke_all_of("CF", 1, 3).unwrap(), vec!["a".to_owned(), "c".to_owned()]);
        assert!(s.revoke_all_of("CF", 1, 4).unwrap().is_empty());
        assert_eq!(s.status_entries().unwrap().0.len(), 3);
    }

    #[test]
    fn a_jti_is_used_once_until_it_expires() {
        let (_d, s) = store();
        assert!(s.use_jti("j", 100, 0).unwrap());
        assert!(!s.use_jti("j", 100, 50).unwrap());
        assert!(s.use_jti("j", 200, 100).unwrap(), "forgotten once expired");
    }
}
