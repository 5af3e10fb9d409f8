//! A PostgreSQL database behind a synchronous API, for the services whose replicas share their
//! state (tokio-postgres, no TLS: run the database on a private network or on loopback).
//!
//! A service's store keeps SQLite's synchronous calls (short, local) and adds PostgreSQL
//! through [`Pg`]:
//!
//! * the store has its own single-thread runtime, on a thread started with [`Pg::new`] and
//!   stopped when the [`Pg`] is dropped; it holds the connection;
//! * each call ([`Pg::run`]) is a task on that runtime; the caller waits for its answer, at
//!   most [`CALL_TIMEOUT`]. Calls from many requests are pipelined over the one connection;
//! * the connection is made at first use, with the service's schema (`CREATE TABLE IF NOT
//!   EXISTS ...`) run under a transaction-scoped advisory lock, so that replicas starting
//!   together do not race; it is made again after the server closed it.
//!
//! The connection is shared by every call, so a call must not open a transaction of several
//! statements (`BEGIN` ... `COMMIT`: another call's statements would run inside it). Consume a
//! single-use value with one guarded statement (`UPDATE ... WHERE used = FALSE`, `DELETE ...
//! RETURNING`, a CTE): of two replicas racing for it, one gets it.
//!
//! ```no_run
//! use service_kit::pg::{Pg, PgError};
//!
//! let db = Pg::new("postgres://u:p@127.0.0.1/db", "tessera-example", "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY)")?;
//! let fresh: bool = db.run(|c| async move {
//!     Ok::<_, PgError>(c.execute("INSERT INTO t (k) VALUES ($1) ON CONFLICT DO NOTHING", &[&"once"]).await? == 1)
//! })?;
//! # Ok::<(), PgError>(())
//! ```

use std::future::Future;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

pub use tokio_postgres::{Client, Row};
use tokio_postgres::NoTls;

/// The longest a caller waits for one database call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long connecting may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a call keeps trying to connect when the server refuses or closes connections (a
/// PostgreSQL restart, a failover): the call waits rather than fails while the server comes
/// back. Nothing has been sent then, so trying again is safe for single-use statements.
const RECONNECT_WINDOW: Duration = Duration::from_secs(5);

/// The pause between two connection attempts.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);

/// An arbitrary key for `pg_advisory_xact_lock` while a schema is created (shared by every
/// service: their schemas are then created one at a time, which costs nothing).
const SCHEMA_LOCK: i64 = 0x7e55_5e55;

/// Why a PostgreSQL call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The URL does not parse.
    #[error("database_url: {0}")]
    BadUrl(String),
    /// PostgreSQL said no (connection, schema or query).
    #[error("database (PostgreSQL): {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The database did not answer within [`CALL_TIMEOUT`].
    #[error("the database did not answer within {0} seconds")]
    Timeout(u64),
    /// The store's runtime or thread could not be started.
    #[error("database runtime: {0}")]
    Runtime(String),
}

/// One shared, reconnecting connection for async code (a service whose store is async, as
/// the trust anchor's registry; [`Pg`] wraps one for synchronous stores): made at first use
/// with the schema, made again after the server closed it, waiting up to the reconnect
/// window for a restarting server.
pub struct PgConnection {
    config: tokio_postgres::Config,
    schema: &'static str,
    name: String,
    client: tokio::sync::Mutex<Option<Arc<Client>>>,
}

impl std::fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConnection").field("application", &self.name).finish_non_exhaustive()
    }
}

impl PgConnection {
    /// The database at `url`, seen by the server as `application`, with `schema` run at each
    /// connection (as [`Pg::new`] says). Nothing is connected yet.
    pub fn new(url: &str, application: &str, schema: &'static str) -> Result<Self, PgError> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| PgError::BadUrl(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name(application);
        Ok(Self { config, schema, name: application.to_owned(), client: tokio::sync::Mutex::new(None) })
    }

    /// The live client, connecting (and creating the schema) when there is none.
    pub async fn client(&self) -> Result<Arc<Client>, PgError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(Arc::clone(c));
        }
        let started = tokio::time::Instant::now();
        let (client, connection) = loop {
            match self.config.connect(NoTls).await {
                Ok(pair) => break pair,
                Err(e) if started.elapsed() + RECONNECT_PAUSE < RECONNECT_WINDOW => {
                    tracing::debug!(application = %self.name, error = %e, "PostgreSQL: connecting again");
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let name = self.name.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(application = %name, error = %e, "PostgreSQL connection closed");
            }
        });
        client.batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({SCHEMA_LOCK}); {} COMMIT;", self.schema)).await?;
        let client = Arc::new(client);
        *slot = Some(Arc::clone(&client));
        Ok(client)
    }
}

/// One PostgreSQL database: its own runtime thread and one shared, reconnecting connection.
pub struct Pg {
    conn: Arc<PgConnection>,
    runtime: tokio::runtime::Handle,
    /// Dropped with the store: the runtime thread then ends.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg").field("application", &self.conn.name).finish_non_exhaustive()
    }
}

impl Pg {
    /// The database at `url` (`postgres://user:password@host:port/db`; a schema of its own
    /// through `?options=-csearch_path%3D<schema>`), seen by the server as `application`
    /// (`application_name`). `schema` is the SQL run at each connection, under an advisory
    /// lock (idempotent statements: `CREATE TABLE IF NOT EXISTS ...`; no `BEGIN`/`COMMIT`).
    /// The URL is checked now and the runtime thread started; the connection is made at first
    /// use (call [`Pg::ping`] to connect at start).
    pub fn new(url: &str, application: &str, schema: &'static str) -> Result<Self, PgError> {
        let conn = PgConnection::new(url, application, schema)?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| PgError::Runtime(e.to_string()))?;
        let runtime = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("{application}-db"))
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| PgError::Runtime(e.to_string()))?;
        Ok(Self { conn: Arc::new(conn), runtime, _stop: stop })
    }

    /// Runs `f` with the client on the store's runtime and waits for its answer, at most
    /// [`CALL_TIMEOUT`] (connecting first if need be). `E` is the caller's error type, which
    /// takes a [`PgError`] (and so `tokio_postgres::Error` through `?` on a `PgError`-typed
    /// result, or its own `From`).
    ///
    /// Blocks the calling thread: call it from synchronous code or a blocking section, as
    /// one calls SQLite.
    pub fn run<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<PgError> + Send + 'static,
        F: FnOnce(Arc<Client>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let conn = Arc::clone(&self.conn);
        self.runtime.spawn(async move {
            let r = match conn.client().await {
                Ok(c) => f(c).await,
                Err(e) => Err(E::from(e)),
            };
            let _ = tx.send(r);
        });
        rx.recv_timeout(CALL_TIMEOUT).map_err(|_| E::from(PgError::Timeout(CALL_TIMEOUT.as_secs())))?
    }

    /// Whether the database answers (connecting if need be): for `/health` and at start.
    pub fn ping(&self) -> Result<(), PgError> {
        self.run(|c| async move {
            c.simple_query("SELECT 1").await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_refused_at_once() {
        assert!(matches!(Pg::new("postgres://h:notaport/db", "t", ""), Err(PgError::BadUrl(_))));
    }

    /// A database that comes back within the reconnect window (here: a port that starts
    /// forwarding to the test PostgreSQL a second after the first call) is waited for, not
    /// failed: what a restart of PostgreSQL looks like to a service.
    #[test]
    fn a_database_coming_back_is_waited_for() {
        let Some(real) = std::env::var("TESSERA_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
            assert_ne!(std::env::var("TESSERA_POSTGRES").as_deref(), Ok("required"), "TESSERA_TEST_POSTGRES_URL is not set");
            eprintln!("skipped: TESSERA_TEST_POSTGRES_URL is not set");
            return;
        };
        let config = tokio_postgres::Config::from_str(&real).unwrap();
        let Some(tokio_postgres::config::Host::Tcp(host)) = config.get_hosts().first().cloned() else { panic!("a TCP host") };
        let target = format!("{host}:{}", config.get_ports().first().copied().unwrap_or(5432));
        // A free port, closed again: nothing listens there until the forwarder starts.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let moved = real.replacen(&format!(":{}/", config.get_ports().first().copied().unwrap_or(5432)), &format!(":{port}/"), 1);
        let moved = moved.replacen(&format!("@{host}:"), "@127.0.0.1:", 1);
        assert_ne!(moved, real, "the URL names host:port/");
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
            for client in listener.incoming() {
                let (Ok(client), Ok(server)) = (client, std::net::TcpStream::connect(&target)) else { continue };
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut c2, &mut { server }));
                std::thread::spawn(move || std::io::copy(&mut s2, &mut { client }));
            }
        });
        let db = Pg::new(&moved, "t", "").unwrap();
        db.ping().unwrap();
    }

    #[test]
    fn an_unreachable_database_is_an_error_not_a_hang() {
        // Port 1 on loopback: refused at once.
        let db = Pg::new("postgres://u:p@127.0.0.1:1/db?connect_timeout=2", "t", "").unwrap();
        assert!(matches!(db.ping(), Err(PgError::Postgres(_) | PgError::Timeout(_))));
    }
}
