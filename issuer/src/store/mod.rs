//! The issuer's database: one type over two backends, as the verifier's.
//!
//! * SQLite by default: one file (`<data_dir>/issuer.sqlite`, 0600, WAL), one connection
//!   behind a mutex, one process (the `sqlite` module says what each commit costs and what a
//!   power loss can lose).
//! * PostgreSQL when the configuration gives `database_url`: replicas behind a load balancer
//!   share it (tables `issuer_*`), so an offer created on one replica is redeemed at another,
//!   a `c_nonce` from one is spent at another, and every replica publishes the same status
//!   list (the `postgres` module). Replicas also share `keys_dir` (the credential and token
//!   keys: a token signed by one is verified by another).
//!
//! What is single use, and how it stays so: every such value is consumed by one guarded
//! statement (`UPDATE ... WHERE used = 0/FALSE ...`, `INSERT` on a primary key), which the
//! database runs atomically, so of two requests racing for it, on one replica or two, after a
//! restart or not, exactly one wins:
//!
//! * a pre-authorized code: each attempt counted by an `UPDATE` that only passes while
//!   attempts are left (a wrong `tx_code` burns one), then the code consumed once;
//! * a `c_nonce` (authenticated and expiring: wallet-core's `NonceKey`, nothing stored when
//!   it is given out) and a DPoP or attestation `jti`: spent by an `INSERT` of its primary
//!   key (the second insert, anywhere, finds it), at the credential endpoint in the same
//!   commit as the credentials ([`Spend`]);
//! * a pushed `request_uri` (bound to its client), a login in progress (its request object
//!   fetched once, finished once), an `issuer_state`, an authorization code, a deferred
//!   `transaction_id`: each taken once, unexpired, by an `UPDATE ... RETURNING`;
//! * a status list index: a random free slot claimed by an `INSERT` on its primary key, so
//!   two replicas never hand out the same index; the credentials of one response are
//!   recorded all or none (one transaction in SQLite, one `INSERT ... SELECT FROM UNNEST`
//!   in PostgreSQL).
//!
//! Refresh tokens are not stored: they are signed, bound to the DPoP key, and refer to a
//! grant (see `protocol`). Notifications record the wallet's event on its credentials.
//!
//! What it keeps about citizens is what issuance and status need (IT-Wallet §6): the
//! registry key (`citizen`) of each offer, grant and issued credential, with the
//! configuration, the status index and the status. Claims are never stored: they are read
//! from the registry when the credential is signed. Secrets (pre-authorized codes, handles)
//! are kept as SHA-256 hashes.
//!
//! The API is synchronous, as SQLite's calls are (short, local); PostgreSQL calls run on the
//! store's own runtime thread and are waited for (`service_kit::pg`).

mod postgres;
mod sqlite;

use std::path::Path;

/// The database failed (answered 500 `server_error`, the detail logged).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL: the URL, the connection, a query, or no answer in time.
    #[error("{0}")]
    Postgres(#[from] service_kit::pg::PgError),
    /// The file.
    #[error("{0}")]
    Io(String),
    /// A stored value does not parse.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Postgres(e.into())
    }
}

/// An offer, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The hash of the `tx_code` sent to the citizen out of band (`routes::tx_code_hash`;
    /// column `tx_code`), never the code.
    pub tx_code_hash: Option<String>,
    /// The registry key.
    pub citizen: String,
    /// The configurations offered.
    pub configurations: Vec<String>,
}

/// A grant: what an access token's `sub` stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The registry key.
    pub citizen: String,
    /// The configurations granted.
    pub configurations: Vec<String>,
}

/// One issued credential.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issued {
    /// Our id for it (admin API).
    pub id: String,
    /// The grant it was issued under.
    #[serde(skip)]
    pub grant_id: String,
    /// The registry key.
    pub citizen: String,
    /// `credential_configuration_id`.
    pub configuration_id: String,
    /// Its index in the status list.
    pub status_idx: u64,
    /// Its status value (0 valid, 1 invalid, 2 suspended).
    pub status: u8,
    /// The response's `notification_id`.
    #[serde(skip)]
    pub notification_id: String,
    /// When.
    pub issued_at: i64,
    /// `exp`.
    pub expires_at: i64,
    /// The wallet's last notification event, if any.
    pub notified: Option<String>,
}

/// A deferred issuance waiting for the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    /// The grant.
    pub grant_id: String,
    /// The configuration.
    pub configuration_id: String,
    /// The proven keys (JWK JSON array).
    pub keys: String,
}

/// What the published status list is made of, read cheaply at every `GET` of it: a counter
/// that every status change moves in its own transaction (a trigger on the issued
/// credentials' `status`, so no writer can forget it), and one past the highest status index
/// allocated (the list's length grows with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusVersion {
    /// Moved by every change of a credential's status (revocation, suspension, reinstatement,
    /// re-issuance marking and its end), on any replica.
    pub version: u64,
    /// One past the highest status index allocated.
    pub allocated: u64,
}

/// What a credential request spends (RFC 9449 §11.1; OpenID4VCI §7, IT-Wallet 1.4 §8),
/// recorded in the commit that records what the request leaves behind
/// ([`Store::insert_issued`], [`Store::insert_deferred`]): its DPoP proof's `jti` and its
/// key proofs' `c_nonce`s, each kept until it could no longer be accepted. One commit
/// instead of one per value: the issuance benchmark's credential request went from five
/// commits to one. A value spent already (by any request, on any replica) refuses the
/// request and nothing of it is recorded; what it did spend stays spent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spend {
    /// The DPoP proof's `jti`, namespaced (`dpop:<jkt>:<jti>`), and until when it is kept.
    pub jti: Option<(String, i64)>,
    /// The `c_nonce`s, each with its expiry.
    pub nonces: Vec<(String, i64)>,
}

/// Whether a request's [`Spend`] went through.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// Nothing of it was spent before: the request's records are in.
    Recorded,
    /// The DPoP proof's `jti` was spent already: nothing recorded.
    JtiReplayed,
    /// A `c_nonce` was spent already: nothing recorded.
    NonceReused,
}

/// The status value of a revoked credential (Token Status List §7.1: INVALID, 0x01), which
/// [`Store::set_status`] never changes. The PostgreSQL statements write it as the literal `1`.
pub(crate) const INVALID: u8 = 1;

/// Which credentials a status change applies to.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// One credential by id.
    Credential(&'a str),
    /// Every credential of a citizen.
    Citizen(&'a str),
    /// Every credential issued under a grant (a wallet's authorization: [`WuaRecord`]) not
    /// already at the value: counted are those it changed, so that a WUA found revoked again
    /// at the next re-check reports nothing new.
    Grant(&'a str),
}

/// A WUA that a grant's key proofs presented: its entry in its provider's Token Status
/// List, kept while the grant's credentials may still be valid (`expires_at`) so that the
/// issuer re-checks it (IT-Wallet 1.4 §2.5: every 24 h for credentials valid longer; a
/// revoked WUA revokes what was issued with it: `crate::wua_recheck`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WuaRecord {
    /// The grant (the access token's `sub`).
    pub grant_id: String,
    /// The status list's `uri`.
    pub list_uri: String,
    /// The WUA's index in it.
    pub idx: u64,
    /// Until when a credential of the grant may be valid.
    pub expires_at: i64,
}

fn list(s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// The size of the space a fresh status index is drawn from: at least twice the indices in
/// use, a multiple of `step` (both backends).
fn status_space(used: u64, step: u64) -> u64 {
    let step = step.max(1);
    used.saturating_add(1).saturating_mul(2).div_ceil(step).max(1).saturating_mul(step)
}

/// A random index below `space`.
fn draw(space: u64) -> Result<u64, StoreError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| StoreError::Io(e.to_string()))?;
    Ok(u64::from_be_bytes(b) % space.max(1))
}

/// Draws before a status index allocation gives up (the space is at least half free).
const STATUS_DRAWS: usize = 64;

enum Backend {
    /// Shared with the group commit's leader (on the blocking pool).
    Sqlite(std::sync::Arc<sqlite::Sqlite>),
    Postgres(postgres::Postgres),
}

/// The store.
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
    /// Opens (creating, 0600) the SQLite database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { backend: Backend::Sqlite(std::sync::Arc::new(sqlite::Sqlite::open(path)?)) })
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

    /// SQLite: copies the WAL into the database file off the request path (the `sqlite`
    /// module); PostgreSQL: nothing (the server checkpoints).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.checkpoint().map(|_| ()),
            Backend::Postgres(_) => Ok(()),
        }
    }

    /// SQLite: how long a group commit waits for more responses when the last one served
    /// several (`commit_delay_ms`; the `sqlite` module). PostgreSQL: nothing (each response
    /// commits on its own connection).
    pub fn set_commit_delay(&self, delay: std::time::Duration) {
        if let Backend::Sqlite(s) = &self.backend {
            s.set_commit_delay(delay);
        }
    }

    /// Whether the database answers (PostgreSQL: connects if need be).
    pub fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, ping())
    }

    /// Stores an offer under the hash of its pre-authorized code.
    pub fn insert_offer(&self, code_hash: &str, offer: &Offer, expires_at: i64) -> Result<(), StoreError> {
        dispatch!(self, insert_offer(code_hash, offer, expires_at))
    }

    /// Counts one attempt at an unused, unexpired offer with attempts left, and returns it;
    /// `None` when there is no such offer (unknown, used, expired or burnt).
    pub fn attempt_offer(&self, code_hash: &str, now: i64, max_attempts: u32) -> Result<Option<Offer>, StoreError> {
        dispatch!(self, attempt_offer(code_hash, now, max_attempts))
    }

    /// An unused, unexpired offer with attempts left, read without counting one: what its
    /// `credential_offer_uri` serves (OpenID4VCI 1.0 §4.1.3).
    pub fn pending_offer(&self, code_hash: &str, now: i64, max_attempts: u32) -> Result<Option<Offer>, StoreError> {
        dispatch!(self, pending_offer(code_hash, now, max_attempts))
    }

    /// Consumes an offer (single use): whether this call did.
    pub fn consume_offer(&self, code_hash: &str) -> Result<bool, StoreError> {
        dispatch!(self, consume_offer(code_hash))
    }

    /// Records a grant.
    pub fn insert_grant(&self, id: &str, grant: &Grant, expires_at: i64) -> Result<(), StoreError> {
        dispatch!(self, insert_grant(id, grant, expires_at))
    }

    /// A grant by id, and its `expires_at` (when [`Self::purge`] may delete it).
    ///
    /// Grants are insert-only: [`Self::insert_grant`] writes one under a fresh unguessable id
    /// when a token response is made, nothing updates it (a refresh reuses it unchanged,
    /// re-issuance and status changes touch the issued credentials, not the grant), and the
    /// only delete is [`Self::purge`]'s, of rows whose `expires_at` has passed. What this
    /// returns for an id is therefore the same on every replica until then, which is what
    /// lets the issuer keep it in memory (`grants::Grants`).
    pub fn grant(&self, id: &str) -> Result<Option<(Grant, i64)>, StoreError> {
        dispatch!(self, grant(id))
    }

    /// Remembers a `jti` (namespaced by the caller) until `expires_at`: whether it was new.
    pub fn remember_jti(&self, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        dispatch!(self, remember_jti(jti, expires_at))
    }

    /// `n` fresh status list indices, each random among the unused ones of a space kept at
    /// least twice as large as the indices in use and a multiple of `step` (IT-Wallet §6 /
    /// the status list draft's privacy advice: neighbouring credentials do not get
    /// neighbouring indices, and the list's length tells the number issued only to within a
    /// step). Each slot is claimed by an `INSERT` on its primary key: unique across replicas.
    /// One commit for the `n` (the issuer keeps a few in hand: `crate::status_pool`).
    pub fn allocate_status_indices(&self, step: u64, n: usize) -> Result<Vec<u64>, StoreError> {
        dispatch!(self, allocate_status_indices(step, n))
    }

    /// Records the WUAs a grant's key proofs presented ([`WuaRecord`]), or keeps them longer
    /// (the later `expires_at` wins); before the credentials are recorded, so that none is
    /// issued without its WUA to re-check.
    pub fn record_wuas(&self, records: &[WuaRecord]) -> Result<(), StoreError> {
        dispatch!(self, record_wuas(records))
    }

    /// The WUAs to re-check at `now` (grants whose credentials may still be valid).
    pub fn wuas_to_recheck(&self, now: i64) -> Result<Vec<WuaRecord>, StoreError> {
        dispatch!(self, wuas_to_recheck(now))
    }

    /// Spends `spend` and, if all of it was unspent, records the credentials of one response,
    /// all or none, in the same commit; returns once the record is durable (SQLite: group
    /// commit, see the `sqlite` module; PostgreSQL: its commit).
    pub async fn insert_issued(&self, rows: &[Issued], spend: &Spend) -> Result<Spent, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.record_issued(rows, spend).await,
            Backend::Postgres(db) => db.insert_issued(rows, spend),
        }
    }

    /// Sets the status of `target`'s credentials: how many changed. A revoked (INVALID)
    /// credential is left as it is: a revocation is final (IT-Wallet 1.4 §6, Token Status
    /// List §7.1), so neither `reinstate` nor `suspend` nor `update` brings it back, and a
    /// credential revoked for its WUA or replaced by a re-issuance stays revoked.
    pub fn set_status(&self, target: Target<'_>, value: u8) -> Result<usize, StoreError> {
        dispatch!(self, set_status(target, value))
    }

    /// How many of `target`'s credentials are revoked (INVALID): what [`Store::set_status`]
    /// leaves alone, for the admin API to say so.
    pub fn revoked_among(&self, target: Target<'_>) -> Result<usize, StoreError> {
        dispatch!(self, revoked_among(target))
    }

    /// Claims for one re-issuance (IT-Wallet 1.4 §3.3 "Refresh") the credentials of
    /// `grant_id` and `configuration_id` whose status is one of `marked` (UPDATE /
    /// ATTRIBUTE_UPDATE) and that no other request holds: one guarded `UPDATE ... RETURNING`
    /// writes `claim` on them with a lease until `now + lease`, so of two concurrent requests
    /// (on one process or two replicas) exactly one gets them; the other gets none. Their
    /// status is unchanged: if the request then fails, [`Store::release_reissue`] gives them
    /// back, and if its process dies, the lease ends and another request may claim them.
    pub fn claim_reissue(&self, grant_id: &str, configuration_id: &str, marked: [u8; 2], claim: &str, now: i64, lease: i64) -> Result<Vec<String>, StoreError> {
        dispatch!(self, claim_reissue(grant_id, configuration_id, marked, claim, now, lease))
    }

    /// Ends a re-issuance claim: its credentials take the status `value` (INVALID once their
    /// successors are recorded) and the claim is cleared; how many changed (none when the
    /// lease ended and another request claimed them).
    pub fn finish_reissue(&self, claim: &str, value: u8) -> Result<usize, StoreError> {
        dispatch!(self, finish_reissue(claim, value))
    }

    /// Gives back the credentials of a failed re-issuance: the claim cleared, the status
    /// (still UPDATE / ATTRIBUTE_UPDATE) untouched, so the wallet may ask again.
    pub fn release_reissue(&self, claim: &str) -> Result<usize, StoreError> {
        dispatch!(self, release_reissue(claim))
    }

    /// Credentials of a citizen (admin API), oldest first.
    pub fn issued_to(&self, citizen: &str) -> Result<Vec<Issued>, StoreError> {
        dispatch!(self, issued_to(citizen))
    }

    /// The status list's version and length (two index reads): whether a signed list is
    /// still the current one ([`crate::status_list`]).
    pub fn status_version(&self) -> Result<StatusVersion, StoreError> {
        dispatch!(self, status_version())
    }

    /// Every non-zero status entry, and one past the highest index allocated: what the
    /// published status list is made of (from the shared database: every replica publishes
    /// the same list).
    pub fn status_entries(&self) -> Result<(Vec<(u64, u8)>, u64), StoreError> {
        dispatch!(self, status_entries())
    }

    /// Records the wallet's notification for a grant's `notification_id`: whether it named
    /// credentials of this grant.
    pub fn notify(&self, notification_id: &str, grant_id: &str, event: &str) -> Result<bool, StoreError> {
        dispatch!(self, notify(notification_id, grant_id, event))
    }

    /// Spends `spend` and, if all of it was unspent, records a deferred issuance in the same
    /// commit.
    pub fn insert_deferred(&self, transaction_id: &str, d: &Deferred, expires_at: i64, spend: &Spend) -> Result<Spent, StoreError> {
        dispatch!(self, insert_deferred(transaction_id, d, expires_at, spend))
    }

    /// A pending deferred issuance.
    pub fn deferred(&self, transaction_id: &str, now: i64) -> Result<Option<Deferred>, StoreError> {
        dispatch!(self, deferred(transaction_id, now))
    }

    /// Consumes a deferred issuance (single use): whether this call did.
    pub fn consume_deferred(&self, transaction_id: &str) -> Result<bool, StoreError> {
        dispatch!(self, consume_deferred(transaction_id))
    }

    /// Stores a pushed authorization request under the hash of its `request_uri`, bound to
    /// the client (`request`: the verified request, JSON).
    pub fn insert_pushed(&self, request_uri_hash: &str, client_id: &str, request: &str, expires_at: i64) -> Result<(), StoreError> {
        dispatch!(self, insert_pushed(request_uri_hash, client_id, request, expires_at))
    }

    /// Consumes a pushed request (single use, this client's, unexpired): its JSON, or `None`.
    pub fn take_pushed(&self, request_uri_hash: &str, client_id: &str, now: i64) -> Result<Option<String>, StoreError> {
        dispatch!(self, take_pushed(request_uri_hash, client_id, now))
    }

    /// Stores a citizen authentication in progress (after `/authorize`: the pushed request,
    /// and for the PID over OpenID4VP its nonce) under the hash of its handle.
    pub fn insert_login(&self, id_hash: &str, request: &str, expires_at: i64) -> Result<(), StoreError> {
        dispatch!(self, insert_login(id_hash, request, expires_at))
    }

    /// Marks a login's request object fetched (once, unexpired, unfinished): its JSON, or `None`.
    pub fn fetch_login(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        dispatch!(self, fetch_login(id_hash, now))
    }

    /// Finishes a login (single use, unexpired): its JSON, or `None`.
    pub fn take_login(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        dispatch!(self, take_login(id_hash, now))
    }

    /// Stores an issuer-initiated offer with the `authorization_code` grant (`offer`: what it
    /// offers, JSON) under the hash of its `issuer_state`.
    pub fn insert_issuer_state(&self, state_hash: &str, offer: &str, expires_at: i64) -> Result<(), StoreError> {
        dispatch!(self, insert_issuer_state(state_hash, offer, expires_at))
    }

    /// An unused, unexpired `issuer_state`'s offer JSON, read without consuming it: what its
    /// `credential_offer_uri` serves.
    pub fn pending_issuer_state(&self, state_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        dispatch!(self, pending_issuer_state(state_hash, now))
    }

    /// Consumes an `issuer_state` (single use, unexpired): its offer's JSON, or `None`.
    pub fn take_issuer_state(&self, state_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        dispatch!(self, take_issuer_state(state_hash, now))
    }

    /// Stores an authorization code (`code`: what it binds, JSON) under its hash.
    pub fn insert_code(&self, code_hash: &str, code: &str, expires_at: i64) -> Result<(), StoreError> {
        dispatch!(self, insert_code(code_hash, code, expires_at))
    }

    /// Consumes an authorization code (single use, unexpired): its JSON, or `None`.
    pub fn take_code(&self, code_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        dispatch!(self, take_code(code_hash, now))
    }

    /// Deletes expired single-use values.
    pub fn purge(&self, now: i64) -> Result<(), StoreError> {
        dispatch!(self, purge(now))
    }
}

/// The behaviour both backends share, run against each (PostgreSQL in `tests/replicas.rs`
/// through [`Store::postgres`]; these functions are public to tests only).
#[cfg(test)]
pub(crate) mod contract {
    use super::*;

    /// A valid credential record of citizen `CF`, grant `g`, configuration `pid`.
    pub(crate) fn issued(id: &str, idx: u64) -> Issued {
        Issued {
            id: id.into(),
            grant_id: "g".into(),
            citizen: "CF".into(),
            configuration_id: "pid".into(),
            status_idx: idx,
            status: 0,
            notification_id: "nid".into(),
            issued_at: 1,
            expires_at: 2,
            notified: None,
        }
    }

    /// Runs one store future to its end (the store's async calls, in these sync tests).
    pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
    }

    /// The WUAs on record: one row per (grant, list, index), the later `expires_at` kept,
    /// listed while unexpired, purged after; a grant's credentials set together.
    pub(crate) fn wua_records(s: &Store) {
        let rec = |g: &str, idx: u64, expires_at: i64| WuaRecord { grant_id: g.into(), list_uri: "https://wp.example/status".into(), idx, expires_at };
        s.record_wuas(&[rec("g1", 3, 100), rec("g2", 4, 50)]).unwrap();
        s.record_wuas(&[rec("g1", 3, 80)]).unwrap();
        s.record_wuas(&[]).unwrap();
        let at = |now: i64| {
            let mut v = s.wuas_to_recheck(now).unwrap();
            v.sort_by(|a, b| a.grant_id.cmp(&b.grant_id));
            v
        };
        assert_eq!(at(10), vec![rec("g1", 3, 100), rec("g2", 4, 50)], "an earlier expires_at does not shorten a record");
        assert_eq!(at(60), vec![rec("g1", 3, 100)]);
        s.record_wuas(&[rec("g2", 4, 200)]).unwrap();
        assert_eq!(at(60), vec![rec("g1", 3, 100), rec("g2", 4, 200)], "a later one extends it");
        s.purge(150).unwrap();
        assert_eq!(at(0), vec![rec("g2", 4, 200)]);
        // A grant's credentials, and only those.
        let of_grant = |id: &str, idx: u64, grant: &str| Issued { grant_id: grant.into(), ..issued(id, idx) };
        let rows = [of_grant("w-1", 902, "g-wua"), of_grant("w-2", 903, "g-wua"), of_grant("w-other", 901, "g-other")];
        assert_eq!(block_on(s.insert_issued(&rows, &Spend::default())).unwrap(), Spent::Recorded);
        assert_eq!(s.set_status(Target::Grant("g-wua"), 1).unwrap(), 2);
        assert_eq!(s.set_status(Target::Grant("g-wua"), 1).unwrap(), 0, "only what changed is counted");
        let statuses: std::collections::BTreeMap<String, u8> = s.issued_to("CF").unwrap().into_iter().map(|i| (i.id, i.status)).collect();
        assert_eq!((statuses["w-1"], statuses["w-2"], statuses["w-other"]), (1, 1, 0));
    }

    /// Every single-use value once; attempts counted; the status space grows by steps.
    pub(crate) fn single_use_values(s: &Store) {
        let offer = Offer { tx_code_hash: Some("tx-hash".into()), citizen: "CF".into(), configurations: vec!["pid".into()] };
        s.insert_offer("h", &offer, 100).unwrap();
        assert_eq!(s.attempt_offer("h", 10, 2).unwrap(), Some(offer.clone()));
        assert!(s.attempt_offer("h", 10, 2).unwrap().is_some());
        assert!(s.attempt_offer("h", 10, 2).unwrap().is_none(), "attempts exhausted");
        s.insert_offer("h2", &offer, 100).unwrap();
        assert!(s.attempt_offer("h2", 100, 2).unwrap().is_none(), "expired");
        assert!(s.consume_offer("h2").unwrap());
        assert!(!s.consume_offer("h2").unwrap());
        assert!(s.remember_jti("dpop:x", 50).unwrap());
        assert!(!s.remember_jti("dpop:x", 50).unwrap());
        s.insert_pushed("ru", "client", "{}", 50).unwrap();
        assert!(s.take_pushed("ru", "other", 10).unwrap().is_none(), "bound to the client");
        assert!(s.take_pushed("ru", "client", 50).unwrap().is_none(), "expired (`/authorize` past `expires_in`)");
        assert_eq!(s.take_pushed("ru", "client", 10).unwrap().as_deref(), Some("{}"));
        assert!(s.take_pushed("ru", "client", 10).unwrap().is_none(), "single use");
        s.insert_login("l", "{}", 50).unwrap();
        assert!(s.fetch_login("l", 10).unwrap().is_some());
        assert!(s.fetch_login("l", 10).unwrap().is_none(), "the request object once");
        assert!(s.take_login("l", 60).unwrap().is_none(), "expired");
        assert!(s.take_login("l", 10).unwrap().is_some());
        assert!(s.take_login("l", 10).unwrap().is_none(), "single use");
        s.insert_issuer_state("is", "{}", 50).unwrap();
        assert!(s.take_issuer_state("is", 10).unwrap().is_some());
        assert!(s.take_issuer_state("is", 10).unwrap().is_none(), "single use");
        s.insert_code("c", "{}", 50).unwrap();
        assert!(s.take_code("c", 50).unwrap().is_none(), "expired");
        assert!(s.take_code("c", 10).unwrap().is_some());
        assert!(s.take_code("c", 10).unwrap().is_none(), "single use");
        let spend = |jti: &str, nonces: &[&str]| Spend { jti: Some((jti.into(), 50)), nonces: nonces.iter().map(|n| ((*n).to_owned(), 50)).collect() };
        let d = Deferred { grant_id: "g".into(), configuration_id: "pid".into(), keys: "[]".into() };
        assert_eq!(s.insert_deferred("t", &d, 50, &spend("dj1", &["dn1"])).unwrap(), Spent::Recorded);
        assert_eq!(s.insert_deferred("t2", &d, 50, &spend("dj2", &["dn1"])).unwrap(), Spent::NonceReused);
        assert_eq!(s.insert_deferred("t2", &d, 50, &spend("dj1", &["dn2"])).unwrap(), Spent::JtiReplayed);
        assert!(s.deferred("t2", 10).unwrap().is_none(), "a refused spend records nothing");
        assert_eq!(s.deferred("t", 10).unwrap(), Some(d));
        assert!(s.consume_deferred("t").unwrap());
        assert!(!s.consume_deferred("t").unwrap(), "single use");
        assert!(s.deferred("t", 10).unwrap().is_none());
        let mut seen = std::collections::BTreeSet::new();
        let mut fresh = s.allocate_status_indices(16, 30).unwrap();
        assert_eq!(fresh.len(), 30);
        for _ in 0..10 {
            fresh.extend(s.allocate_status_indices(16, 1).unwrap());
        }
        for idx in fresh {
            assert!(idx < 128, "the space grows with use, by steps");
            assert!(seen.insert(idx), "each index once");
        }
        assert_eq!(s.status_entries().unwrap().1, seen.iter().max().unwrap() + 1);
        let mut ids = seen.iter();
        let (a, b) = (*ids.next().unwrap(), *ids.next().unwrap());
        let v0 = s.status_version().unwrap();
        assert_eq!(v0.allocated, seen.iter().max().unwrap() + 1);
        assert_eq!(block_on(s.insert_issued(&[issued("x", a), issued("y", b)], &spend("j1", &["n1", "n2"]))).unwrap(), Spent::Recorded);
        assert!(block_on(s.insert_issued(&[issued("z", 10_000), issued("x", 10_001)], &Spend::default())).is_err(), "a duplicate id");
        // A spent value refuses the request and records none of it; what it spent stays spent.
        let z = [issued("z", 10_003)];
        assert_eq!(block_on(s.insert_issued(&z, &spend("j1", &["n3"]))).unwrap(), Spent::JtiReplayed);
        assert_eq!(block_on(s.insert_issued(&z, &spend("j2", &["n3"]))).unwrap(), Spent::NonceReused, "n3 was spent by the refused request");
        assert_eq!(block_on(s.insert_issued(&z, &spend("j3", &["n4", "n1"]))).unwrap(), Spent::NonceReused);
        assert_eq!(block_on(s.insert_issued(&z, &spend("dpop:x", &[]))).unwrap(), Spent::JtiReplayed, "one jti table for both ways in");
        assert_eq!(s.issued_to("CF").unwrap().len(), 2, "all or none");
        assert_eq!(s.status_version().unwrap(), v0, "valid credentials do not change the list");
        assert_eq!(s.set_status(Target::Credential("y"), 2).unwrap(), 1);
        assert_eq!(s.status_entries().unwrap().0, vec![(b, 2)]);
        let v1 = s.status_version().unwrap();
        assert!(v1.version > v0.version, "a status change moves the version");
        assert_eq!(s.set_status(Target::Credential("y"), 2).unwrap(), 1);
        assert_eq!(s.status_version().unwrap(), v1, "the same status again changes nothing");
        assert!(s.notify("nid", "g", "credential_accepted").unwrap());
        assert!(!s.notify("nid", "other", "credential_accepted").unwrap());
        assert_eq!(s.set_status(Target::Citizen("CF"), 1).unwrap(), 2);
        assert_eq!(s.set_status(Target::Citizen("CF"), 0).unwrap(), 0, "a revocation is final");
        assert_eq!(s.set_status(Target::Credential("y"), 3).unwrap(), 0);
        assert_eq!(s.revoked_among(Target::Citizen("CF")).unwrap(), 2);
        assert_eq!(s.revoked_among(Target::Credential("nope")).unwrap(), 0);
        assert_eq!(INVALID, wallet_core::status::StatusValue::Invalid.to_u8());
        assert!(s.status_version().unwrap().version > v1.version);
        let mut revoked = issued("w", 10_002);
        revoked.status = 1;
        let v2 = s.status_version().unwrap();
        assert_eq!(block_on(s.insert_issued(&[revoked], &Spend::default())).unwrap(), Spent::Recorded);
        assert!(s.status_version().unwrap().version > v2.version, "a credential recorded with a non-zero status moves it");
        s.insert_grant("g", &Grant { citizen: "CF".into(), configurations: vec!["pid".into()] }, 500).unwrap();
        assert_eq!(s.grant("g").unwrap().unwrap(), (Grant { citizen: "CF".into(), configurations: vec!["pid".into()] }, 500));
        s.purge(1_000).unwrap();
        assert!(s.grant("g").unwrap().is_none());
    }

    /// A re-issuance claim: marked rows of one grant and configuration, once; given back on
    /// release; claimable again when the lease ends; INVALID when finished.
    pub(crate) fn reissue_claims(s: &Store) {
        let row = |id: &str, grant: &str, idx: u64, status: u8| Issued {
            id: id.into(),
            grant_id: grant.into(),
            citizen: "RC".into(),
            configuration_id: "mdl".into(),
            status_idx: idx,
            status,
            notification_id: format!("n-{id}"),
            issued_at: 1,
            expires_at: 2,
            notified: None,
        };
        let base = 2_000_000;
        let rows = [row("rc1", "rg", base, 0x0B), row("rc2", "rg", base + 1, 0x03), row("rc3", "rg", base + 2, 0), row("rc4", "other", base + 3, 0x0B)];
        assert_eq!(block_on(s.insert_issued(&rows, &Spend::default())).unwrap(), Spent::Recorded);
        let marked = [0x03, 0x0B];
        let mut a = s.claim_reissue("rg", "mdl", marked, "A", 100, 60).unwrap();
        a.sort();
        assert_eq!(a, vec!["rc1".to_owned(), "rc2".to_owned()], "the marked rows of this grant");
        assert!(s.claim_reissue("rg", "mdl", marked, "B", 100, 60).unwrap().is_empty(), "held by A");
        assert_eq!(s.release_reissue("A").unwrap(), 2);
        assert_eq!(s.claim_reissue("rg", "mdl", marked, "B", 101, 60).unwrap().len(), 2, "given back");
        assert_eq!(s.claim_reissue("rg", "mdl", marked, "C", 161, 60).unwrap().len(), 2, "B's lease ended");
        assert_eq!(s.finish_reissue("B", 1).unwrap(), 0, "B no longer holds them");
        let before = s.status_version().unwrap();
        assert_eq!(s.finish_reissue("C", 1).unwrap(), 2);
        assert!(s.status_version().unwrap().version > before.version, "the end of a re-issuance moves the version");
        assert!(s.claim_reissue("rg", "mdl", marked, "D", 300, 60).unwrap().is_empty(), "re-issued");
        let statuses: Vec<_> = s.issued_to("RC").unwrap().into_iter().map(|i| (i.id, i.status)).collect();
        assert!(statuses.contains(&("rc1".into(), 1)) && statuses.contains(&("rc2".into(), 1)) && statuses.contains(&("rc4".into(), 0x0B)), "{statuses:?}");
    }
}
