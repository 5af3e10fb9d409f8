//! The provider's database: one type over two backends, as the verifier's.
//!
//! * SQLite by default: one file (`<data_dir>/wallet-provider.sqlite`, WAL,
//!   `synchronous=FULL`, created 0600: it links fiscal numbers to wallet instances), which
//!   processes on one machine may share (the `sqlite` module).
//! * PostgreSQL when the configuration gives `database_url`: replicas on several machines,
//!   behind a load balancer, share it (tables `wp_*`, the `postgres` module), through
//!   service-kit's [`service_kit::pg`].
//!
//! What is stored: `instances` (id = hardware key tag, fiscal number, public key, state, WUA
//! status index), `nonces` (single use, time-boxed), `login_codes` and `sessions` (the
//! SHA-256 of the secret, never the secret; both exist only after a login completed),
//! `status_entries` (the non-zero entries of the provider's Token Status List),
//! `voucher_jtis` (the PDND vouchers already used, until they expire). A login in progress
//! is stored nowhere: it travels sealed in the OIDC `state` ([`crate::citizen`]), under the
//! relying party's key, which replicas share through `keys_dir`.
//!
//! What holds across replicas (and across a restart), each write being one statement or one
//! transaction that the database serialises:
//!
//! * a nonce (IT-Wallet 1.4 §2.2 step 1) is consumed by a `DELETE` that must remove exactly
//!   one unexpired row: of two replicas, one accepts it;
//! * a login code is redeemed once (deleted as it is read); a session is readable by every
//!   replica until it expires;
//! * a hardware key tag is registered once (primary key: the second is [`StoreError::Duplicate`]);
//! * a citizen's active instances never exceed the limit, even when registrations race on
//!   two replicas (SQLite: an `IMMEDIATE` transaction; PostgreSQL: a counter row per citizen
//!   raised by a conditional upsert, which locks the row, in the same statement as the
//!   insert);
//! * a WUA status index is given to one instance only (unique column; a random index taken
//!   meanwhile by another replica is drawn again);
//! * revocation flips the instance and its status entry together (IT-Wallet 1.4 §2.5), once;
//! * a PDND voucher's `jti` is accepted once until it expires (OpenID ALL-008).
//!
//! The Token Status List is built from this database at every request
//! ([`crate::status_list`]), so every replica publishes the same list.
//!
//! The API is synchronous, as SQLite's calls are (short, local); PostgreSQL calls run on the
//! store's own runtime thread and are waited for ([`service_kit::pg::Pg::run`]).

mod postgres;
mod sqlite;

use std::path::Path;

use wallet_core::jose::Jwk;

/// A database failure (answered as 500 `server_error`; the detail is logged, not shown),
/// or a refused registration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite said no.
    #[error("database (SQLite): {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no (connection or query).
    #[error("database (PostgreSQL): {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The PostgreSQL database: a bad URL, no answer in time, no runtime.
    #[error("{0}")]
    Pg(#[from] service_kit::pg::PgError),
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

impl NewInstance<'_> {
    /// The instance as registered with status index `idx`.
    fn registered(&self, idx: i64) -> Result<Instance, StoreError> {
        Ok(Instance {
            id: self.id.to_owned(),
            fiscal_number: self.fiscal_number.to_owned(),
            public_key: self.public_key.clone(),
            state: InstanceState::Active,
            issued_at: self.now,
            status_idx: u64::try_from(idx).map_err(|_| StoreError::Corrupt("negative status index".into()))?,
        })
    }
}

/// A logged-in citizen's session or one-time login code, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The citizen's fiscal number.
    pub fiscal_number: String,
    /// Expiry.
    pub exp: i64,
}

/// An instance row as both backends read it: id, fiscal number, public key (JSON), state,
/// issued at, status index.
type InstanceRow = (String, String, String, String, i64, i64);

/// The instance columns, in [`InstanceRow`]'s order.
const INSTANCE_COLS: &str = "id, fiscal_number, public_key, state, issued_at, status_idx";

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

/// The status entries as stored (index, value) and the number of allocated indices, checked.
fn status_entries(rows: Vec<(i64, i64)>, allocated: i64) -> Result<(Vec<(u64, u8)>, u64), StoreError> {
    let bad = |_| StoreError::Corrupt("status entry out of range".into());
    let entries = rows
        .into_iter()
        .map(|(i, v)| Ok((u64::try_from(i).map_err(bad)?, u8::try_from(v).map_err(bad)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((entries, u64::try_from(allocated).map_err(bad)?))
}

/// Status list indices are drawn from at least this many slots.
pub const INDEX_SPACE_STEP: u64 = 4096;

/// Random draws of a free status index before giving up (each succeeds with probability at
/// least one half: the space is kept at most half full).
const INDEX_DRAWS: usize = 64;

/// A random status index for the `count + 1`-th instance (draft-ietf-oauth-status-list,
/// privacy considerations: indices assigned in order would let verifiers link WUAs issued
/// close in time). The space is kept at most half full: `max(4096, 2 × instances)` rounded
/// up to 4096. The caller checks that it is free.
fn random_index(count: i64) -> Result<i64, StoreError> {
    let count = u64::try_from(count).map_err(|_| StoreError::Corrupt("negative count".into()))?;
    let space = count.saturating_mul(2).div_ceil(INDEX_SPACE_STEP).max(1).saturating_mul(INDEX_SPACE_STEP);
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| StoreError::Corrupt(format!("no randomness: {e}")))?;
    i64::try_from(u64::from_le_bytes(b) % space).map_err(|_| StoreError::Corrupt("index space".into()))
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// The database.
pub struct Store {
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend_name()).finish()
    }
}

macro_rules! dispatch {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match &$self.backend {
            Backend::Sqlite(db) => db.$method($($arg),*),
            Backend::Postgres(db) => db.$method($($arg),*),
        }
    };
}

impl Store {
    /// Opens (creating, mode 0600) the SQLite file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { backend: Backend::Sqlite(sqlite::Sqlite::open(path)?) })
    }

    /// The PostgreSQL database at `url` (`postgres://user:password@host:port/db`; a schema
    /// of its own through `?options=-csearch_path%3D<schema>`). The URL is checked now; the
    /// connection is made (and the tables created) at first use ([`Store::ping`] to connect
    /// at start), and made again after the server closed it.
    pub fn postgres(url: &str) -> Result<Self, StoreError> {
        Ok(Self { backend: Backend::Postgres(postgres::Postgres::new(url)?) })
    }

    /// `sqlite` or `postgresql`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgresql",
        }
    }

    /// Whether the database answers (for `/health`; PostgreSQL: connects if need be).
    pub fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, ping())
    }

    // --- nonces (IT-Wallet 1.4 §2.2 step 1: single use and time-boxed) ---

    /// Stores a fresh nonce valid until `exp`, and drops expired ones.
    pub fn put_nonce(&self, nonce: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        dispatch!(self, put_nonce(nonce, exp, now))
    }

    /// Consumes a nonce: true when it was issued here (by any replica), unused and unexpired.
    /// One statement, so concurrent replicas cannot both consume it.
    pub fn take_nonce(&self, nonce: &str, now: i64) -> Result<bool, StoreError> {
        dispatch!(self, take_nonce(nonce, now))
    }

    // --- citizen login ---

    /// Stores a one-time login code (by its hash) for a citizen, and drops expired ones.
    pub fn put_login_code(&self, code_hash: &str, fiscal_number: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        dispatch!(self, put_login_code(code_hash, fiscal_number, exp, now))
    }

    /// Redeems a login code once; `None` when unknown, used or expired.
    pub fn take_login_code(&self, code_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        dispatch!(self, take_login_code(code_hash, now))
    }

    /// Stores a session (by its token's hash), and drops expired ones.
    pub fn put_session(&self, token_hash: &str, fiscal_number: &str, exp: i64, now: i64) -> Result<(), StoreError> {
        dispatch!(self, put_session(token_hash, fiscal_number, exp, now))
    }

    /// The session with this token hash, if unexpired.
    pub fn session(&self, token_hash: &str, now: i64) -> Result<Option<Grant>, StoreError> {
        dispatch!(self, session(token_hash, now))
    }

    // --- instances and the status list ---

    /// Registers an instance and allocates its (random, unused) status index, atomically:
    /// [`StoreError::Duplicate`] when the tag is registered, [`StoreError::TooManyInstances`]
    /// when the citizen already holds `max_active` active instances.
    pub fn register(&self, new: &NewInstance<'_>) -> Result<Instance, StoreError> {
        dispatch!(self, register(new))
    }

    /// One instance by id.
    pub fn instance(&self, id: &str) -> Result<Option<Instance>, StoreError> {
        dispatch!(self, instance(id))
    }

    /// A citizen's instances, oldest first.
    pub fn instances_of(&self, fiscal_number: &str) -> Result<Vec<Instance>, StoreError> {
        dispatch!(self, instances_of(fiscal_number))
    }

    /// Revokes an instance and sets its WUA status to `value`, together (IT-Wallet 1.4 §2.5:
    /// revocation is the WUA's status). False when it was already revoked (or is unknown).
    pub fn revoke(&self, id: &str, status_value: u8, now: i64) -> Result<bool, StoreError> {
        dispatch!(self, revoke(id, status_value, now))
    }

    /// Revokes every active instance of a citizen and sets their WUA status to `value`,
    /// together; returns the ids revoked, oldest first.
    pub fn revoke_all_of(&self, fiscal_number: &str, status_value: u8, now: i64) -> Result<Vec<String>, StoreError> {
        dispatch!(self, revoke_all_of(fiscal_number, status_value, now))
    }

    /// Records a voucher's `jti` until `keep_until` (the caller passes `exp` plus the clock
    /// skew it tolerates, so the `jti` outlives every instant the voucher is accepted at):
    /// true the first time, false when it was used before (a replay; OpenID ALL-008).
    /// Rows whose `keep_until` has passed are forgotten.
    pub fn use_jti(&self, jti: &str, keep_until: i64, now: i64) -> Result<bool, StoreError> {
        dispatch!(self, use_jti(jti, keep_until, now))
    }

    /// The non-zero status entries and the number of allocated indices.
    pub fn status_entries(&self) -> Result<(Vec<(u64, u8)>, u64), StoreError> {
        dispatch!(self, status_entries())
    }
}

/// The behaviour both backends must show, run on each (SQLite below, PostgreSQL in the
/// `postgres` module's tests).
#[cfg(test)]
pub(crate) fn conformance(s: &Store) {
    use wallet_core::jose::{Signer as _, SoftwareSigner};

    // Nonces: once, until they expire.
    s.put_nonce("n1", 100, 10).unwrap();
    s.put_nonce("n2", 100, 10).unwrap();
    assert!(s.take_nonce("n1", 50).unwrap());
    assert!(!s.take_nonce("n1", 50).unwrap(), "replayed nonce");
    assert!(!s.take_nonce("n2", 100).unwrap(), "expired nonce");
    assert!(!s.take_nonce("never-issued", 50).unwrap());

    // Login codes once; sessions until they expire.
    s.put_login_code("h", "CF1", 100, 0).unwrap();
    assert_eq!(s.take_login_code("h", 1).unwrap().as_deref(), Some("CF1"));
    assert_eq!(s.take_login_code("h", 1).unwrap(), None, "a login code is redeemed once");
    s.put_login_code("old", "CF1", 10, 0).unwrap();
    assert_eq!(s.take_login_code("old", 10).unwrap(), None, "expired login code");
    s.put_session("th", "CF1", 100, 0).unwrap();
    assert_eq!(s.session("th", 1).unwrap(), Some(Grant { fiscal_number: "CF1".into(), exp: 100 }));
    assert_eq!(s.session("th", 100).unwrap(), None, "expired session");

    // Registration: indices, duplicates, the citizen's limit.
    let k = SoftwareSigner::generate().unwrap().public_jwk();
    let new = |id, fiscal_number, now, max_active| NewInstance { id, fiscal_number, public_key: &k, now, max_active };
    let a = s.register(&new("tag-a", "CF1", 1, 2)).unwrap();
    let b = s.register(&new("tag-b", "CF1", 2, 2)).unwrap();
    assert_ne!(a.status_idx, b.status_idx);
    assert!(a.status_idx < INDEX_SPACE_STEP && b.status_idx < INDEX_SPACE_STEP);
    assert!(matches!(s.register(&new("tag-a", "CF2", 3, 2)), Err(StoreError::Duplicate)));
    assert!(matches!(s.register(&new("tag-c", "CF1", 3, 2)), Err(StoreError::TooManyInstances { limit: 2 })));
    s.register(&new("tag-d", "CF2", 3, 2)).unwrap();
    assert_eq!(s.instance("tag-a").unwrap(), Some(a.clone()));
    assert_eq!(s.instance("nope").unwrap(), None);

    // Revocation: once, with its status entry; revoked instances do not count.
    assert!(s.revoke("tag-b", 1, 5).unwrap());
    assert!(!s.revoke("tag-b", 1, 6).unwrap(), "revoked once");
    assert!(!s.revoke("nope", 1, 6).unwrap());
    let (entries, allocated) = s.status_entries().unwrap();
    assert_eq!(entries, vec![(b.status_idx, 1)]);
    let d = s.instance("tag-d").unwrap().unwrap();
    assert_eq!(allocated, a.status_idx.max(b.status_idx).max(d.status_idx) + 1);
    let states: Vec<InstanceState> = s.instances_of("CF1").unwrap().iter().map(|i| i.state).collect();
    assert_eq!(states, vec![InstanceState::Active, InstanceState::Revoked], "oldest first");
    s.register(&new("tag-c", "CF1", 6, 2)).unwrap();
    assert!(matches!(s.register(&new("tag-e", "CF1", 7, 2)), Err(StoreError::TooManyInstances { .. })));

    // Every active instance of a citizen, once.
    assert_eq!(s.revoke_all_of("CF1", 1, 8).unwrap(), vec!["tag-a".to_owned(), "tag-c".to_owned()]);
    assert!(s.revoke_all_of("CF1", 1, 9).unwrap().is_empty());
    assert_eq!(s.status_entries().unwrap().0.len(), 3);
    s.register(&new("tag-e", "CF1", 10, 2)).unwrap();

    // Voucher jtis: once until they expire.
    assert!(s.use_jti("j", 100, 0).unwrap());
    assert!(!s.use_jti("j", 100, 50).unwrap(), "replayed jti");
    assert!(s.use_jti("j", 200, 100).unwrap(), "forgotten once expired");
    assert!(!s.use_jti("j", 200, 150).unwrap());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_backend_keeps_every_rule() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db.sqlite")).unwrap();
        assert_eq!(s.backend_name(), "sqlite");
        conformance(&s);
    }

    #[test]
    fn a_bad_postgres_url_is_refused_at_once() {
        assert!(matches!(Store::postgres("postgres://h:notaport/db"), Err(StoreError::Pg(service_kit::pg::PgError::BadUrl(_)))));
    }

    #[test]
    fn random_indices_stay_in_a_space_at_most_half_full() {
        for _ in 0..100 {
            assert!((0..4096).contains(&random_index(0).unwrap()));
            assert!((0..4096).contains(&random_index(2048).unwrap()));
            assert!((0..8192).contains(&random_index(2049).unwrap()));
        }
        assert!(random_index(-1).is_err());
    }
}
