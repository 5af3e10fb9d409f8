//! The verifier's database: one SQLite file (`<data_dir>/verifier.sqlite`, WAL,
//! `synchronous=FULL`, created 0600 through `service_kit::files::private_database`: it holds
//! verdicts with personal data until the integrator fetches them).
//!
//! One table, `sessions`: a presentation session with its secrets (the `request_uri`
//! handle, `state`, `nonce`, the hash of the same-device `response_code`) and, once the wallet
//! answered, the verdict for the integrator. Every single-use value is consumed by one guarded
//! `UPDATE` (or one `IMMEDIATE` transaction), so two replicas, or a restart in between,
//! cannot both accept it:
//!
//! * the `request_uri` handle: `created` → `request_fetched`, once;
//! * `state` (and with it the session's `nonce`): `request_fetched` → `response_received`,
//!   once; the verdict follows;
//! * the `response_code` and the result: taken once by the integrator, then erased.
//!
//! A row is deleted at `purge_at`: the session's expiry plus `result_ttl`, or the verdict's
//! time plus `result_ttl`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// A database failure (answered 500 `server_error`, the detail logged).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite said no.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value does not parse.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The file could not be created or its mode set.
    #[error("{0}")]
    Io(String),
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

    fn parse(s: &str) -> Result<Self, StoreError> {
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
    fn as_str(self) -> &'static str {
        match self {
            Self::SameDevice => "same_device",
            Self::CrossDevice => "cross_device",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
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

/// The database.
pub struct Store {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store(..)")
    }
}

const COLS: &str = "id, request_id, state, nonce, flow, dcql, redirect_uri, request_uri_method, status, created_at, expires_at, result, result_taken, owner, \
                    client_id_prefix, request_mode, x5c_leaf, request_object";

/// The text columns parsed after reading: flow, status, client id prefix, request mode.
struct Raw {
    session: Session,
    flow: String,
    status: String,
    prefix: String,
    mode: String,
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
        },
        flow: r.get(4)?,
        status: r.get(8)?,
        prefix: r.get(14)?,
        mode: r.get(15)?,
    })
}

fn finish(raw: Raw) -> Result<Session, StoreError> {
    let mut s = raw.session;
    s.flow = Flow::parse(&raw.flow)?;
    s.status = SessionStatus::parse(&raw.status)?;
    s.client_id_prefix = ClientIdPrefix::parse(&raw.prefix).ok_or_else(|| StoreError::Corrupt(format!("client_id_prefix {}", raw.prefix)))?;
    s.request_mode = RequestMode::parse(&raw.mode).ok_or_else(|| StoreError::Corrupt(format!("request_mode {}", raw.mode)))?;
    Ok(s)
}

/// Columns added after the first release, with their definitions: added to an older file
/// on open.
const ADDED_COLUMNS: [(&str, &str); 5] = [
    ("owner", "TEXT"),
    ("client_id_prefix", "TEXT NOT NULL DEFAULT 'openid_federation'"),
    ("request_mode", "TEXT NOT NULL DEFAULT 'reference'"),
    ("x5c_leaf", "TEXT"),
    ("request_object", "TEXT"),
];

impl Store {
    /// Opens (creating, mode 0600) the database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        service_kit::files::private_database(path).map_err(|e| StoreError::Io(format!("{}: {e}", path.display())))?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS sessions (
                id TEXT PRIMARY KEY,
                request_id TEXT NOT NULL UNIQUE,
                state TEXT NOT NULL UNIQUE,
                nonce TEXT NOT NULL UNIQUE,
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
                result_taken INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX IF NOT EXISTS sessions_purge ON sessions(purge_at);",
        )?;
        for (name, def) in ADDED_COLUMNS {
            let has: bool = conn.query_row("SELECT COUNT(*) FROM pragma_table_info('sessions') WHERE name = ?1", params![name], |r| r.get::<_, i64>(0))? == 1;
            if !has {
                conn.execute_batch(&format!("ALTER TABLE sessions ADD COLUMN {name} {def}"))?;
            }
        }
        conn.execute_batch("CREATE INDEX IF NOT EXISTS sessions_owner ON sessions(owner, created_at)")?;
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

    /// Stores a new session.
    pub fn create(&self, s: &NewSession<'_>) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO sessions (id, request_id, state, nonce, flow, dcql, redirect_uri, request_uri_method, status, created_at, expires_at, purge_at, owner,
                                   client_id_prefix, request_mode, x5c_leaf, request_object)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'created', ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
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
            ],
        )?;
        Ok(())
    }

    /// One session by its integrator handle.
    pub fn get(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let r = self.conn().query_row(&format!("SELECT {COLS} FROM sessions WHERE id = ?1"), params![id], row).optional()?;
        r.map(finish).transpose()
    }

    fn by(&self, column: &str, value: &str) -> Result<Option<Session>, StoreError> {
        let r = self.conn().query_row(&format!("SELECT {COLS} FROM sessions WHERE {column} = ?1"), params![value], row).optional()?;
        r.map(finish).transpose()
    }

    /// The sessions an operator started, newest first, at most `limit`.
    pub fn by_owner(&self, owner: &str, limit: u32) -> Result<Vec<Session>, StoreError> {
        let c = self.conn();
        let mut stmt = c.prepare(&format!("SELECT {COLS} FROM sessions WHERE owner = ?1 ORDER BY created_at DESC, id LIMIT ?2"))?;
        let rows = stmt.query_map(params![owner, limit], row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(finish).collect()
    }

    /// One session by its `request_uri` handle.
    pub fn by_request_id(&self, request_id: &str) -> Result<Option<Session>, StoreError> {
        self.by("request_id", request_id)
    }

    /// One session by its `state`.
    pub fn by_state(&self, state: &str) -> Result<Option<Session>, StoreError> {
        self.by("state", state)
    }

    /// Consumes the `request_uri` handle of a by-reference session: `created` →
    /// `request_fetched`, if unexpired. True when this call did it (a second fetch, one after
    /// expiry, or one for a by-value session gets false).
    pub fn take_request(&self, request_id: &str, now: i64) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE sessions SET status = 'request_fetched'
             WHERE request_id = ?1 AND status = 'created' AND request_mode = 'reference' AND expires_at > ?2",
            params![request_id, now],
        )?;
        Ok(n == 1)
    }

    /// Consumes `state` (and the nonce with it): `request_fetched` (or, by value, where no
    /// fetch happens, `created`) → `response_received`, if unexpired. True when this call did
    /// it.
    pub fn take_state(&self, state: &str, now: i64) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE sessions SET status = 'response_received'
             WHERE state = ?1 AND (status = 'request_fetched' OR (status = 'created' AND request_mode = 'value')) AND expires_at > ?2",
            params![state, now],
        )?;
        Ok(n == 1)
    }

    /// Records the verdict of a session in `response_received`, with the hash of its
    /// same-device `response_code`, kept until `purge_at`.
    pub fn record(&self, id: &str, status: SessionStatus, result: &str, response_code_hash: Option<&str>, purge_at: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE sessions SET status = ?2, result = ?3, response_code_hash = ?4, purge_at = ?5 WHERE id = ?1 AND status = 'response_received'",
            params![id, status.as_str(), result, response_code_hash, purge_at],
        )?;
        Ok(())
    }

    /// Takes the result once: for a same-device session only with the hash of its
    /// `response_code`. The result and the code are erased in the same transaction.
    pub fn take_result(&self, id: &str, response_code_hash: Option<&str>) -> Result<Result<(SessionStatus, String), TakeRefused>, StoreError> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        type Row = (String, String, Option<String>, Option<String>, i64);
        let r: Option<Row> = tx
            .query_row("SELECT flow, status, result, response_code_hash, result_taken FROM sessions WHERE id = ?1", params![id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let Some((flow, status, result, code_hash, taken)) = r else { return Ok(Err(TakeRefused::Unknown)) };
        let status = SessionStatus::parse(&status)?;
        if taken != 0 {
            return Ok(Err(TakeRefused::Taken));
        }
        let Some(result) = result else { return Ok(Err(TakeRefused::Pending)) };
        if Flow::parse(&flow)? == Flow::SameDevice {
            let ok = match (code_hash.as_deref(), response_code_hash) {
                (Some(stored), Some(given)) => wallet_core::subtle_eq(stored.as_bytes(), given.as_bytes()),
                (None, _) => true, // a refusal: no redirect was given, so no code exists
                _ => false,
            };
            if !ok {
                return Ok(Err(TakeRefused::BadResponseCode));
            }
        }
        tx.execute("UPDATE sessions SET result = NULL, response_code_hash = NULL, result_taken = 1 WHERE id = ?1", params![id])?;
        tx.commit()?;
        Ok(Ok((status, result)))
    }

    /// Deletes the rows due at `now`; returns how many.
    pub fn purge(&self, now: i64) -> Result<usize, StoreError> {
        Ok(self.conn().execute("DELETE FROM sessions WHERE purge_at <= ?1", params![now])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("v.sqlite")).unwrap();
        (d, s)
    }

    fn new<'a>(id: &'a str, flow: Flow) -> NewSession<'a> {
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
        assert!(!s.take_state("a", 1).unwrap(), "no response before the request was fetched");
        assert!(s.take_request("a", 1).unwrap());
        assert!(!s.take_request("a", 2).unwrap());
        assert!(s.take_state("a", 3).unwrap());
        assert!(!s.take_state("a", 4).unwrap());
        assert_eq!(s.take_result("a", None).unwrap(), Err(TakeRefused::Pending));
        s.record("a", SessionStatus::Verified, "{}", None, 500).unwrap();
        assert_eq!(s.take_result("a", None).unwrap(), Ok((SessionStatus::Verified, "{}".to_owned())));
        assert_eq!(s.take_result("a", None).unwrap(), Err(TakeRefused::Taken));
        assert_eq!(s.take_result("zz", None).unwrap(), Err(TakeRefused::Unknown));
    }

    #[test]
    fn expiry_and_purge() {
        let (_d, s) = store();
        s.create(&new("b", Flow::SameDevice)).unwrap();
        assert!(!s.take_request("b", 100).unwrap(), "expired");
        assert_eq!(s.get("b").unwrap().unwrap().status_at(100), SessionStatus::Expired);
        assert_eq!(s.purge(199).unwrap(), 0);
        assert_eq!(s.purge(200).unwrap(), 1);
        assert!(s.get("b").unwrap().is_none());
    }

    #[test]
    fn same_device_result_needs_the_response_code() {
        let (_d, s) = store();
        s.create(&new("c", Flow::SameDevice)).unwrap();
        assert!(s.take_request("c", 1).unwrap() && s.take_state("c", 1).unwrap());
        s.record("c", SessionStatus::Verified, "{}", Some("h1"), 500).unwrap();
        assert_eq!(s.take_result("c", None).unwrap(), Err(TakeRefused::BadResponseCode));
        assert_eq!(s.take_result("c", Some("h2")).unwrap(), Err(TakeRefused::BadResponseCode));
        assert!(s.take_result("c", Some("h1")).unwrap().is_ok());
        assert_eq!(s.take_result("c", Some("h1")).unwrap(), Err(TakeRefused::Taken));
    }
}
