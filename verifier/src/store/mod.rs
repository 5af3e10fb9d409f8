//! The verifier's database: one type over two backends, as the trust anchor's registry.
//!
//! * SQLite by default: one file (`<data_dir>/verifier.sqlite`, WAL, `synchronous=NORMAL`,
//!   created 0600 through `service_kit::files::private_database`: it holds verdicts with
//!   personal data until the integrator fetches them). One process. `NORMAL` in WAL mode: a
//!   commit survives a crash of the process; the WAL is synced at checkpoints (every 1,000
//!   pages written, `sqlite::WAL_AUTOCHECKPOINT`), so a power
//!   loss (or a crash of the machine) may lose the last commits, leaving the file as it was
//!   at an earlier commit (never torn). What a lost commit costs: a session just created is
//!   gone (its QR code fails), a consumed `request_uri` handle or `state` is pending again
//!   (the same response could be verified a second time, by whoever holds its JWE: the
//!   wallet that sent it), a verdict not yet taken is gone (the session expires). `FULL`
//!   synced the WAL at every commit: four syncs a presentation, about 150 µs of the server's
//!   CPU each on this machine's disk and 1–4 ms of wall time, on the handler's thread.
//! * PostgreSQL when the configuration gives `database_url`: replicas behind a load balancer
//!   share it (table `verifier_sessions`), so a session created on one replica is answered on
//!   another and watched from a third (the `postgres` module).
//!
//! One table of sessions: a presentation session with its secrets (the `request_uri`
//! handle, `state`, `nonce`, the hash of the same-device `response_code`) and, once the wallet
//! answered, the verdict for the integrator. Every single-use value is consumed by one guarded
//! `UPDATE` (SQLite: or one `IMMEDIATE` transaction), so two replicas, or a restart in
//! between, cannot both accept it:
//!
//! * the `request_uri` handle: `created` → `request_fetched`, once;
//! * `state` (and with it the session's `nonce`): `request_fetched` (by value: `created`) →
//!   the verdict, once, by the guarded `UPDATE` that records it. The response is verified
//!   before (the session read by its `state`), so one write does both; of two responses for
//!   one `state` verified at once (a retry, a second replica), one verdict holds and the
//!   other response is refused as a replay. While a response is verified, this process shows
//!   the session `response_received` ([`Store::receive`]; another replica shows
//!   `request_fetched`, then the verdict);
//! * the `response_code` and the result: taken once by the integrator, then erased.
//!
//! A row is deleted at `purge_at`: the session's expiry plus `result_ttl`, or the verdict's
//! time plus `result_ttl`.
//!
//! A second table holds the in-person page's operator sessions (`web::auth`), so that
//! replicas share them and a restart keeps them: keyed by the SHA-256 of the cookie's token
//! (never the token), with the operator, the end of its idle time (`idle_until`, moved on at
//! every request) and of its lifetime (`ends_at`). A read refuses a row past either, and the
//! purge deletes it.
//!
//! The API is synchronous, as SQLite's calls are (short, local); PostgreSQL calls run on the
//! store's own runtime thread and are waited for (see the `postgres` module). The three writes
//! of a presentation also come as `*_grouped` futures: with SQLite, the writes of concurrent
//! presentations share a commit (group commit, the `sqlite` module), each answered once its
//! commit is made; with PostgreSQL they are the synchronous calls.

mod postgres;
mod sqlite;

use std::path::Path;

/// A database failure: answered 503 `temporarily_unavailable` when it left nothing done
/// ([`StoreError::transient`]), else 500 `server_error`; the detail logged, not answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite said no.
    #[error("database (SQLite): {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no (connection or query).
    #[error("database (PostgreSQL): {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The PostgreSQL URL does not parse.
    #[error("database_url: {0}")]
    BadUrl(String),
    /// The database did not answer in time.
    #[error("the database did not answer within {0} seconds")]
    Timeout(u64),
    /// A stored value does not parse.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The file could not be created or its mode set.
    #[error("{0}")]
    Io(String),
    /// The commit of a batch of writes failed (SQLite: `sqlite` module): none of them holds.
    #[error("database (SQLite) commit: {0}")]
    Commit(String),
}

impl StoreError {
    /// Whether the failure certainly left nothing done, so the client may try again (503
    /// with `Retry-After`): SQLite busy or locked past the busy timeout (the statement did
    /// not run); a batch's commit failed (SQLite rolled the batch back: none of its writes
    /// holds); PostgreSQL refused the connection before any statement (SQLSTATE 08001, 08004,
    /// 53300 too many connections, 57P03 cannot connect now, or the TCP connection refused)
    /// or rolled the transaction back (40001 serialization failure, 40P01 deadlock). Not a
    /// PostgreSQL timeout or a connection lost mid-statement: the statement may have committed
    /// after all (a single-use value spent), and a retry would be refused as a replay.
    pub fn transient(&self) -> bool {
        match self {
            Self::Commit(_) => true,
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            }
            Self::Postgres(e) => {
                e.code().is_some_and(|c| matches!(c.code(), "08001" | "08004" | "53300" | "57P03" | "40001" | "40P01"))
                    || (e.as_db_error().is_none()
                        && std::error::Error::source(e)
                            .and_then(|s| s.downcast_ref::<std::io::Error>())
                            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused))
            }
            Self::Sqlite(_) | Self::BadUrl(_) | Self::Timeout(_) | Self::Corrupt(_) | Self::Io(_) => false,
        }
    }
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Created; the wallet has not fetched the request object yet.
    Created,
    /// The wallet fetched the request object.
    RequestFetched,
    /// A response arrived and is being verified.
    ResponseReceived,
    /// Every check passed.
    Verified,
    /// The response was refused (the reason is in the result).
    Refused,
    /// The wallet answered with an error (`access_denied`: the citizen declined).
    Declined,
    /// The session ended without a verdict.
    Expired,
}

impl SessionStatus {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::RequestFetched => "request_fetched",
            Self::ResponseReceived => "response_received",
            Self::Verified => "verified",
            Self::Refused => "refused",
            Self::Declined => "declined",
            Self::Expired => "expired",
        }
    }

    /// Parses [`SessionStatus::as_str`].
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "created" => Self::Created,
            "request_fetched" => Self::RequestFetched,
            "response_received" => Self::ResponseReceived,
            "verified" => Self::Verified,
            "refused" => Self::Refused,
            "declined" => Self::Declined,
            "expired" => Self::Expired,
            other => return Err(StoreError::Corrupt(format!("session status {other}"))),
        })
    }

    /// Whether the wallet may still act.
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Created | Self::RequestFetched | Self::ResponseReceived)
    }
}

/// Same-device or cross-device (IT-Wallet 1.4 §5.1, RPR-84: both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// The wallet is on the device of the browser: the wallet returns the user to
    /// `redirect_uri` with a `response_code`.
    SameDevice,
    /// The wallet scans a QR code shown on another device.
    CrossDevice,
}

impl Flow {
    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SameDevice => "same_device",
            Self::CrossDevice => "cross_device",
        }
    }
    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "same_device" => Ok(Self::SameDevice),
            "cross_device" => Ok(Self::CrossDevice),
            other => Err(StoreError::Corrupt(format!("flow {other}"))),
        }
    }
}

/// Which `client_id` a session's request object is issued under (OpenID4VP 1.0 §5.9,
/// IT-Wallet 1.4 §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientIdPrefix {
    /// `openid_federation:<entity_id>`: the wallet trusts us through our trust chain.
    #[default]
    OpenidFederation,
    /// `x509_hash:<b64url SHA-256 of the x5c leaf>` (§5.9.3): the wallet trusts us through
    /// the `x5c` chain to the federation CA; the leaf is kept with the session.
    X509Hash,
}

impl ClientIdPrefix {
    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenidFederation => "openid_federation",
            Self::X509Hash => "x509_hash",
        }
    }

    /// Parses the stored (and API) name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "openid_federation" => Some(Self::OpenidFederation),
            "x509_hash" => Some(Self::X509Hash),
            _ => None,
        }
    }
}

/// How the wallet gets the request object (OpenID4VP 1.0 §5, RFC 9101 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestMode {
    /// By reference: the wallet URL carries `request_uri`, fetched once (the default).
    #[default]
    Reference,
    /// By value: the wallet URL carries the signed request object itself (`request`).
    Value,
}

impl RequestMode {
    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reference => "reference",
            Self::Value => "value",
        }
    }

    /// Parses the stored (and API) name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reference" => Some(Self::Reference),
            "value" => Some(Self::Value),
            _ => None,
        }
    }
}

/// A session as stored.
#[derive(Debug, Clone)]
pub struct Session {
    /// The integrator's handle.
    pub id: String,
    /// The handle in the `request_uri`.
    pub request_id: String,
    /// OpenID4VP `state`.
    pub state: String,
    /// The request object's `nonce` (the KB-JWT's).
    pub nonce: String,
    /// The flow.
    pub flow: Flow,
    /// The DCQL query (JSON).
    pub dcql: String,
    /// The same-device return page.
    pub redirect_uri: Option<String>,
    /// `request_uri_method` offered in the wallet URL (`get` / `post`).
    pub request_uri_method: String,
    /// The stored status (see [`Session::status_at`]).
    pub status: SessionStatus,
    /// Creation time.
    pub created_at: i64,
    /// When the wallet's time is up.
    pub expires_at: i64,
    /// The verdict for the integrator (JSON), until taken.
    pub result: Option<String>,
    /// Whether the integrator took the result.
    pub result_taken: bool,
    /// Who started it, when it is not the integrator API: the in-person page's operator
    /// (each operator sees only their own checks).
    pub owner: Option<String>,
    /// The `client_id` prefix its request object is issued under.
    pub client_id_prefix: ClientIdPrefix,
    /// By reference or by value.
    pub request_mode: RequestMode,
    /// `x509_hash` sessions: the `x5c` leaf (base64 DER) the `client_id` hashes, fixed at
    /// creation so that every replica serves the same one.
    pub x5c_leaf: Option<String>,
    /// By-value sessions: the signed request object the wallet URL carries.
    pub request_object: Option<String>,
    /// When the wallet fetched the request object (by reference; `None` before, and by
    /// value, where nothing is fetched): the session's log for the integrator and the
    /// operator (design/in-person.md, item 6).
    pub fetched_at: Option<i64>,
    /// When its verdict was recorded (the response received and checked).
    pub completed_at: Option<i64>,
}

impl Session {
    /// The status as the integrator sees it at `now`: a pending session past its expiry is
    /// `expired`.
    pub fn status_at(&self, now: i64) -> SessionStatus {
        if self.status.is_pending() && self.expires_at <= now { SessionStatus::Expired } else { self.status }
    }
}

/// What creating a session stores.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// Handles and secrets.
    pub id: &'a str,
    /// `request_uri` handle.
    pub request_id: &'a str,
    /// `state`.
    pub state: &'a str,
    /// `nonce`.
    pub nonce: &'a str,
    /// Flow.
    pub flow: Flow,
    /// DCQL JSON.
    pub dcql: &'a str,
    /// Same-device return page.
    pub redirect_uri: Option<&'a str>,
    /// `get` / `post`.
    pub request_uri_method: &'a str,
    /// Now.
    pub now: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Deletion time.
    pub purge_at: i64,
    /// The in-person page's operator who started it (`None`: the integrator API).
    pub owner: Option<&'a str>,
    /// The `client_id` prefix.
    pub client_id_prefix: ClientIdPrefix,
    /// By reference or by value.
    pub request_mode: RequestMode,
    /// `x509_hash`: the `x5c` leaf (base64 DER).
    pub x5c_leaf: Option<&'a str>,
    /// By value: the signed request object.
    pub request_object: Option<&'a str>,
}

/// An operator session of the in-person page, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSession {
    /// The operator's username.
    pub username: String,
    /// The name shown.
    pub display_name: String,
}

/// Why the integrator could not take a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeRefused {
    /// No such session (or purged).
    Unknown,
    /// No verdict yet.
    Pending,
    /// Already taken.
    Taken,
    /// A same-device session without the right `response_code` (or one used already).
    BadResponseCode,
}

/// A row as read, its text columns still to parse ([`Raw::finish`]).
struct Raw {
    session: Session,
    flow: String,
    status: String,
    prefix: String,
    mode: String,
}

impl Raw {
    fn finish(self) -> Result<Session, StoreError> {
        let mut s = self.session;
        s.flow = Flow::parse(&self.flow)?;
        s.status = SessionStatus::parse(&self.status)?;
        s.client_id_prefix = ClientIdPrefix::parse(&self.prefix).ok_or_else(|| StoreError::Corrupt(format!("client_id_prefix {}", self.prefix)))?;
        s.request_mode = RequestMode::parse(&self.mode).ok_or_else(|| StoreError::Corrupt(format!("request_mode {}", self.mode)))?;
        Ok(s)
    }
}

/// The session columns, in the order both backends read them (a macro, for `concat!` into
/// statements written once).
macro_rules! cols {
    () => {
        "id, request_id, state, nonce, flow, dcql, redirect_uri, request_uri_method, status, created_at, expires_at, result, result_taken, owner, \
         client_id_prefix, request_mode, x5c_leaf, request_object, fetched_at, completed_at"
    };
}
pub(crate) use cols;

/// The session columns ([`cols!`]).
const COLS: &str = cols!();

/// What the integrator's take of a result found, before it is taken.
struct TakeCheck {
    flow: String,
    taken: bool,
    has_result: bool,
    code_hash: Option<String>,
}

impl TakeCheck {
    /// The one rule of both backends: unknown, taken, pending; a same-device session's
    /// result only with the hash of its `response_code` (compared in constant time; a
    /// refusal got no redirect, so no code exists and none is asked).
    fn check(&self, response_code_hash: Option<&str>) -> Result<(), TakeRefused> {
        if self.taken {
            return Err(TakeRefused::Taken);
        }
        if !self.has_result {
            return Err(TakeRefused::Pending);
        }
        if self.flow == Flow::SameDevice.as_str() {
            let ok = match (self.code_hash.as_deref(), response_code_hash) {
                (Some(stored), Some(given)) => wallet_core::subtle_eq(stored.as_bytes(), given.as_bytes()),
                (None, _) => true,
                _ => false,
            };
            if !ok {
                return Err(TakeRefused::BadResponseCode);
            }
        }
        Ok(())
    }
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// The database.
pub struct Store {
    backend: Backend,
    /// Sessions whose response this process is verifying ([`Store::receive`]).
    receiving: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// A response being verified for a session ([`Store::receive`]): the session shows
/// `response_received` here until this is dropped (the verdict recorded, or the request
/// ended otherwise: an error, the client gone).
#[derive(Debug)]
#[must_use = "the session shows response_received only while this is held"]
pub struct Receiving<'a> {
    store: &'a Store,
    id: String,
}

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        self.store.receiving.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.id);
    }
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
        Ok(Self::with(Backend::Sqlite(sqlite::Sqlite::open(path)?)))
    }

    /// The PostgreSQL database at `url` (`postgres://user:password@host:port/db`; a schema
    /// of its own through `?options=-csearch_path%3D<schema>`). The URL is checked now; the
    /// connection is made (and the table created) at first use ([`Store::ping`] to connect
    /// at start), and made again after the server closed it.
    pub fn postgres(url: &str) -> Result<Self, StoreError> {
        Ok(Self::with(Backend::Postgres(postgres::Postgres::new(url)?)))
    }

    fn with(backend: Backend) -> Self {
        Self { backend, receiving: std::sync::Mutex::default() }
    }

    /// A session as this process shows it: `response_received` while it verifies a response
    /// for it ([`Store::receive`]).
    fn shown(&self, mut s: Session) -> Session {
        if matches!(s.status, SessionStatus::Created | SessionStatus::RequestFetched)
            && self.receiving.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&s.id)
        {
            s.status = SessionStatus::ResponseReceived;
        }
        s
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

    /// Stores a new session.
    pub fn create(&self, s: &NewSession<'_>) -> Result<(), StoreError> {
        dispatch!(self, create(s))
    }

    /// One session by its integrator handle.
    pub fn get(&self, id: &str) -> Result<Option<Session>, StoreError> {
        Ok(dispatch!(self, by("id", id))?.map(|s| self.shown(s)))
    }

    /// The sessions an operator started, newest first, at most `limit`.
    pub fn by_owner(&self, owner: &str, limit: u32) -> Result<Vec<Session>, StoreError> {
        Ok(dispatch!(self, by_owner(owner, limit))?.into_iter().map(|s| self.shown(s)).collect())
    }

    /// One session by its `request_uri` handle.
    pub fn by_request_id(&self, request_id: &str) -> Result<Option<Session>, StoreError> {
        dispatch!(self, by("request_id", request_id))
    }

    /// One session by its `state`, on the presentation's path (the `response_uri`): with
    /// SQLite read in the open batch of the group commit, without committing it first (what
    /// it may see that is not committed yet: another response's verdict, whose writer is not
    /// answered before its commit; were that commit to fail, this response was refused as a
    /// replay and a retry finds the session as it was).
    pub fn by_state(&self, state: &str) -> Result<Option<Session>, StoreError> {
        Ok(match &self.backend {
            Backend::Sqlite(db) => db.by_state_in_batch(state)?,
            Backend::Postgres(db) => db.by("state", state)?,
        }
        .map(|s| self.shown(s)))
    }

    /// Marks session `id` as receiving a response in this process: `None` when it already
    /// is (a second response for the same `state` while the first is verified, refused as a
    /// replay without verifying it). The mark goes when the [`Receiving`] is dropped.
    pub fn receive(&self, id: &str) -> Option<Receiving<'_>> {
        let fresh = self.receiving.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.to_owned());
        fresh.then(|| Receiving { store: self, id: id.to_owned() })
    }

    /// [`Store::create`] on the presentation's path: with SQLite in a group commit (the
    /// `sqlite` module), answered once committed.
    pub async fn create_grouped(&self, s: &NewSession<'_>) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.create_grouped(s).await,
            Backend::Postgres(db) => db.create(s),
        }
    }

    /// [`Store::take_request`] on the presentation's path: with SQLite in a group commit.
    pub async fn take_request_grouped(&self, request_id: &str, now: i64) -> Result<Option<Session>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.take_request_grouped(request_id, now).await,
            Backend::Postgres(db) => db.take_request(request_id, now),
        }
    }

    /// [`Store::record`] on the presentation's path: with SQLite in a group commit.
    pub async fn record_grouped(&self, id: &str, status: SessionStatus, result: &str, response_code_hash: Option<&str>, purge_at: i64, now: i64) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.record_grouped(id, status, result, response_code_hash, purge_at, now).await,
            Backend::Postgres(db) => db.record(id, status, result, response_code_hash, purge_at, now),
        }
    }

    /// Consumes the `request_uri` handle of a by-reference session: `created` →
    /// `request_fetched`, if unexpired, by one guarded `UPDATE` (PostgreSQL: `… RETURNING`;
    /// SQLite: the row then read back in the same transaction). The session as
    /// it is then when this call did it; `None` for a second fetch, one after expiry, one for
    /// a by-value session or an unknown handle (the caller reads the row to say which).
    pub fn take_request(&self, request_id: &str, now: i64) -> Result<Option<Session>, StoreError> {
        dispatch!(self, take_request(request_id, now))
    }

    /// Gives back a handle this process took with [`Store::take_request`] and whose request
    /// object it could not sign (503 before onboarding): `request_fetched` → `created`. Safe
    /// for single use: nothing was handed out in between.
    pub fn give_back_request(&self, request_id: &str) -> Result<(), StoreError> {
        dispatch!(self, give_back_request(request_id))
    }

    /// Ends a session still awaiting its response now (its `expires_at` brought to `now`):
    /// the in-person page's "new QR" replaces it, and a wallet that scanned the old code must
    /// not answer a check nobody is watching. True when it was pending. A response already
    /// being verified keeps its verdict (expiry is checked when a response arrives).
    pub fn end_pending(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        dispatch!(self, end_pending(id, now))
    }

    /// Records the verdict of a session still awaiting its response (`request_fetched`, or,
    /// by value, where no fetch happens, `created`), with the hash of its same-device
    /// `response_code`, kept until `purge_at`: the guarded `UPDATE` that consumes its `state`
    /// and nonce. True when this call did it; false when another response's verdict was
    /// recorded first (this one is a replay), or the session is gone. Expiry is checked by
    /// the caller when the response arrives (a response verified across the session's
    /// expiry still counts).
    pub fn record(&self, id: &str, status: SessionStatus, result: &str, response_code_hash: Option<&str>, purge_at: i64, now: i64) -> Result<bool, StoreError> {
        dispatch!(self, record(id, status, result, response_code_hash, purge_at, now))
    }

    /// Takes the result once: for a same-device session only with the hash of its
    /// `response_code`. The result and the code are erased by the same guarded statement
    /// (SQLite: transaction) that reads them.
    pub fn take_result(&self, id: &str, response_code_hash: Option<&str>) -> Result<Result<(SessionStatus, String), TakeRefused>, StoreError> {
        dispatch!(self, take_result(id, response_code_hash))
    }

    /// Deletes the rows due at `now` (sessions and operator sessions); returns how many.
    pub fn purge(&self, now: i64) -> Result<usize, StoreError> {
        dispatch!(self, purge(now))
    }

    /// Stores an operator session under `token_hash` (the SHA-256 of its cookie token),
    /// live until `idle_until` unless used again, and never past `ends_at`.
    pub fn operator_create(&self, token_hash: &str, op: &OperatorSession, idle_until: i64, ends_at: i64) -> Result<(), StoreError> {
        dispatch!(self, operator_create(token_hash, op, idle_until, ends_at))
    }

    /// The live operator session of `token_hash` at `now` (neither idle nor past its
    /// lifetime), its idle time moved on to `idle_until` by the same guarded `UPDATE`.
    pub fn operator_touch(&self, token_hash: &str, now: i64, idle_until: i64) -> Result<Option<OperatorSession>, StoreError> {
        dispatch!(self, operator_touch(token_hash, now, idle_until))
    }

    /// Ends an operator session (logout; a login replacing it).
    pub fn operator_remove(&self, token_hash: &str) -> Result<(), StoreError> {
        dispatch!(self, operator_remove(token_hash))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("v.sqlite")).unwrap();
        (d, s)
    }

    /// A session whose handles and nonce are all `id` (handles from before keyed ones: the
    /// `sqlite` module's tests give keyed ones).
    pub(super) fn new<'a>(id: &'a str, flow: Flow) -> NewSession<'a> {
        NewSession {
            id,
            request_id: id,
            state: id,
            nonce: id,
            flow,
            dcql: "{}",
            redirect_uri: None,
            request_uri_method: "post",
            now: 0,
            expires_at: 100,
            purge_at: 200,
            owner: None,
            client_id_prefix: ClientIdPrefix::OpenidFederation,
            request_mode: RequestMode::Reference,
            x5c_leaf: None,
            request_object: None,
        }
    }

    #[test]
    fn each_single_use_value_is_taken_once() {
        let (_d, s) = store();
        s.create(&new("a", Flow::CrossDevice)).unwrap();
        assert!(!s.record("a", SessionStatus::Verified, "{}", None, 500, 450).unwrap(), "no verdict before the request was fetched");
        let taken = s.take_request("a", 1).unwrap().unwrap();
        assert_eq!((taken.id.as_str(), taken.status), ("a", SessionStatus::RequestFetched));
        // The session's log: when the wallet fetched it, not yet a verdict.
        assert_eq!((taken.fetched_at, taken.completed_at), (Some(1), None));
        assert!(s.take_request("a", 2).unwrap().is_none());
        assert!(s.take_request("zz", 2).unwrap().is_none(), "unknown");
        let by_state = s.by_state("a").unwrap().unwrap();
        assert_eq!((by_state.nonce.as_str(), by_state.status), ("a", SessionStatus::RequestFetched));
        {
            let _receiving = s.receive("a").unwrap();
            assert!(s.receive("a").is_none(), "one response at a time");
            assert_eq!(s.get("a").unwrap().unwrap().status, SessionStatus::ResponseReceived, "shown while it is verified");
            assert_eq!(s.by_owner("op", 10).unwrap().len(), 0);
        }
        assert_eq!(s.get("a").unwrap().unwrap().status, SessionStatus::RequestFetched, "the mark goes with the response");
        assert!(s.receive("a").is_some());
        assert_eq!(s.take_result("a", None).unwrap(), Err(TakeRefused::Pending));
        assert!(s.record("a", SessionStatus::Verified, "{}", None, 500, 450).unwrap());
        assert!(!s.record("a", SessionStatus::Refused, "{}", None, 500, 450).unwrap(), "state spent: one verdict");
        let done = s.get("a").unwrap().unwrap();
        assert_eq!((done.fetched_at, done.completed_at), (Some(1), Some(450)), "the first verdict's time");
        assert_eq!(s.get("a").unwrap().unwrap().status, SessionStatus::Verified, "a verdict is not shown as received");
        assert_eq!(s.take_result("a", None).unwrap(), Ok((SessionStatus::Verified, "{}".to_owned())));
        assert_eq!(s.take_result("a", None).unwrap(), Err(TakeRefused::Taken));
        assert_eq!(s.take_result("zz", None).unwrap(), Err(TakeRefused::Unknown));
    }

    /// By value the wallet fetches nothing: the verdict is recorded from `created`.
    #[test]
    fn a_by_value_session_takes_its_verdict_from_created() {
        let (_d, s) = store();
        s.create(&NewSession { request_mode: RequestMode::Value, request_object: Some("eyJ"), ..new("v", Flow::CrossDevice) }).unwrap();
        assert!(s.take_request("v", 1).unwrap().is_none(), "no handle to fetch");
        assert!(s.record("v", SessionStatus::Declined, "{}", None, 500, 450).unwrap());
        assert!(!s.record("v", SessionStatus::Verified, "{}", None, 500, 450).unwrap());
    }

    #[test]
    fn a_pending_session_ended_cannot_be_fetched_and_a_verdict_stays() {
        let (_d, s) = store();
        s.create(&new("e", Flow::CrossDevice)).unwrap();
        assert!(s.end_pending("e", 5).unwrap());
        assert_eq!(s.get("e").unwrap().unwrap().status_at(5), SessionStatus::Expired);
        assert!(s.take_request("e", 5).unwrap().is_none(), "its request object is no longer handed out");
        assert!(!s.end_pending("e", 6).unwrap(), "ended already");
        s.create(&new("f", Flow::CrossDevice)).unwrap();
        assert!(s.take_request("f", 1).unwrap().is_some());
        assert!(s.record("f", SessionStatus::Verified, "{}", None, 500, 450).unwrap());
        assert!(!s.end_pending("f", 50).unwrap(), "a verdict is not undone");
        assert_eq!(s.get("f").unwrap().unwrap().status_at(50), SessionStatus::Verified);
    }

    #[test]
    fn a_handle_given_back_can_be_taken_again() {
        let (_d, s) = store();
        s.create(&new("d", Flow::CrossDevice)).unwrap();
        assert!(s.take_request("d", 1).unwrap().is_some());
        s.give_back_request("d").unwrap();
        assert_eq!(s.get("d").unwrap().unwrap().status, SessionStatus::Created);
        assert!(s.take_request("d", 1).unwrap().is_some());
        assert!(s.record("d", SessionStatus::Verified, "{}", None, 500, 450).unwrap());
        s.give_back_request("d").unwrap();
        assert_eq!(s.get("d").unwrap().unwrap().status, SessionStatus::Verified, "only a fetched handle goes back");
    }

    #[test]
    fn expiry_and_purge() {
        let (_d, s) = store();
        s.create(&new("b", Flow::SameDevice)).unwrap();
        assert!(s.take_request("b", 100).unwrap().is_none(), "expired");
        assert_eq!(s.get("b").unwrap().unwrap().status_at(100), SessionStatus::Expired);
        assert_eq!(s.purge(199).unwrap(), 0);
        assert_eq!(s.purge(200).unwrap(), 1);
        assert!(s.get("b").unwrap().is_none());
    }

    #[test]
    fn operator_sessions_idle_lifetime_logout_purge_and_restart() {
        let (d, s) = store();
        let op = OperatorSession { username: "agente".into(), display_name: "Agente".into() };
        s.operator_create("h1", &op, 10, 100).unwrap();
        assert_eq!(s.operator_touch("h1", 5, 20).unwrap(), Some(op.clone()));
        assert_eq!(s.operator_touch("h1", 15, 25).unwrap(), Some(op.clone()), "the idle time moved on");
        assert!(s.operator_touch("h1", 25, 35).unwrap().is_none(), "idle too long");
        assert!(s.operator_touch("zz", 1, 35).unwrap().is_none(), "unknown");
        s.operator_create("h2", &op, 10, 12).unwrap();
        assert!(s.operator_touch("h2", 12, 20).unwrap().is_none(), "past its lifetime");
        s.operator_create("h3", &op, 10, 100).unwrap();
        s.operator_remove("h3").unwrap();
        assert!(s.operator_touch("h3", 1, 20).unwrap().is_none(), "logged out");
        s.operator_create("h4", &op, 50, 100).unwrap();
        assert_eq!(s.purge(30).unwrap(), 2, "h1 and h2 purged");
        assert!(s.operator_touch("h4", 30, 60).unwrap().is_some());
        // A restart keeps it.
        let path = d.path().join("v.sqlite");
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.operator_touch("h4", 40, 70).unwrap(), Some(op));
    }

    #[test]
    fn same_device_result_needs_the_response_code() {
        let (_d, s) = store();
        s.create(&new("c", Flow::SameDevice)).unwrap();
        assert!(s.take_request("c", 1).unwrap().is_some());
        s.record("c", SessionStatus::Verified, "{}", Some("h1"), 500, 450).unwrap();
        assert_eq!(s.take_result("c", None).unwrap(), Err(TakeRefused::BadResponseCode));
        assert_eq!(s.take_result("c", Some("h2")).unwrap(), Err(TakeRefused::BadResponseCode));
        assert!(s.take_result("c", Some("h1")).unwrap().is_ok());
        assert_eq!(s.take_result("c", Some("h1")).unwrap(), Err(TakeRefused::Taken));
    }

    /// Many presentations at once through the group commit (the `sqlite` module): each writer
    /// answered only once its batch is committed, so every row is on disk when the last one
    /// is answered (a reopened file has them all), and single use holds inside a batch: of
    /// concurrent takes of one handle, or verdicts spending one `state`, one wins.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grouped_writes_are_all_committed_and_single_use_holds_within_a_batch() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("v.sqlite");
        let s = std::sync::Arc::new(Store::open(&path).unwrap());
        let ids: Vec<String> = (0..64).map(|i| format!("s{i:03}")).collect();
        let flows = ids.iter().cloned().map(|id| {
            let s = s.clone();
            tokio::spawn(async move {
                s.create_grouped(&new(&id, Flow::CrossDevice)).await.unwrap();
                let takes = futures_util::future::join_all((0..3).map(|_| s.take_request_grouped(&id, 1))).await;
                assert_eq!(takes.into_iter().filter(|t| t.as_ref().unwrap().is_some()).count(), 1, "{id}: one request_uri fetch");
                let verdicts = futures_util::future::join_all((0..3).map(|_| s.record_grouped(&id, SessionStatus::Verified, "{}", None, 500, 450))).await;
                assert_eq!(verdicts.into_iter().filter(|r| *r.as_ref().unwrap()).count(), 1, "{id}: one verdict, its state spent once");
                assert!(!s.record_grouped(&id, SessionStatus::Refused, "{}", None, 500, 450).await.unwrap(), "{id}: no verdict after it");
            })
        });
        for f in futures_util::future::join_all(flows).await {
            f.unwrap();
        }
        // A write outside the group (the integrator's take) runs alone, after the batches.
        assert!(s.take_result("s000", None).unwrap().is_ok());
        drop(s);
        let reopened = Store::open(&path).unwrap();
        for id in &ids {
            assert_eq!(reopened.get(id).unwrap().unwrap().status, SessionStatus::Verified, "{id} committed");
        }
        assert!(reopened.get("s000").unwrap().unwrap().result_taken);
    }

    /// Outside a tokio runtime a grouped write commits alone, at once.
    #[test]
    fn a_grouped_write_outside_a_runtime_commits_alone() {
        let (_d, s) = store();
        use std::future::Future as _;
        let row = new("a", Flow::CrossDevice);
        let mut write = std::pin::pin!(s.create_grouped(&row));
        let std::task::Poll::Ready(done) = write.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) else {
            panic!("a grouped write outside a runtime waits for nobody");
        };
        done.unwrap();
        assert!(s.take_request("a", 1).unwrap().is_some());
    }
}
