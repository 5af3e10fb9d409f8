//! The Token Status List of the tool's test issuer, served by the tool itself.
//!
//! A PID's `status` is REQUIRED (IT-Wallet 1.4 §4.3), so an RP that follows the spec refuses
//! a PID without one: every PID the `rp` plan presents names an entry of a list the tool
//! signs with the test issuer's key and serves over HTTP while the run lasts (Token Status
//! List §5: `application/statuslist+jwt`). Index [`VALID`] is VALID and [`REVOKED`] INVALID.
//!
//! The server binds `127.0.0.1` on a free port: the RP under test fetches from the tool's
//! host, so the RP must run on the same machine (as `tessera up` does); a remote RP cannot
//! reach the list and leaves the status undetermined (the case's note says where it was).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use wallet_core::jose::{JwsAlg, JwsHeader, Signer as _};
use wallet_core::status::{Bits, MEDIA_TYPE, StatusList, StatusListToken, StatusValue};
use wallet_core::time::UnixTime;

use crate::target::TestIssuer;

/// The entry of a valid credential.
pub const VALID: u64 = 0;
/// The entry of a revoked credential.
pub const REVOKED: u64 = 1;

/// How long a served list is valid (`exp`); the tool re-signs it when asked for it later.
const LIFETIME: i64 = 86_400;

/// The lists served, by path.
type Lists = Arc<Mutex<HashMap<String, String>>>;

struct Server {
    origin: String,
    lists: Lists,
    /// The path of each issuer's list, by issuer and key id.
    paths: Mutex<HashMap<String, String>>,
}

fn server() -> Result<&'static Server, String> {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref().map_err(Clone::clone)
}

fn start() -> Result<Server, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("the status list server cannot bind: {e}"))?;
    let origin = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let lists: Lists = Arc::default();
    let served = lists.clone();
    std::thread::Builder::new()
        .name("status-list".into())
        .spawn(move || {
            let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            for stream in listener.incoming().flatten() {
                // One thread per connection (the RP may keep one open), at most MAX_CONNECTIONS.
                if open.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= MAX_CONNECTIONS {
                    open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    continue;
                }
                let (lists, open) = (served.clone(), open.clone());
                let spawned = std::thread::Builder::new().name("status-list-conn".into()).spawn({
                    let open = open.clone();
                    move || {
                        answer(stream, &lists);
                        open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
                if spawned.is_err() {
                    open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        })
        .map_err(|e| format!("the status list server cannot start: {e}"))?;
    Ok(Server { origin, lists, paths: Mutex::default() })
}

/// Connections served at once.
const MAX_CONNECTIONS: usize = 64;
/// The longest request or header line read.
const MAX_LINE: u64 = 8 * 1024;
/// The most header lines read for one request.
const MAX_HEADERS: usize = 100;

/// One line of at most [`MAX_LINE`] bytes, with its end; `None` at the end of the stream,
/// on an error, or for a longer line.
fn line(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut l = String::new();
    match (&mut *reader).take(MAX_LINE).read_line(&mut l) {
        Ok(0) | Err(_) => None,
        Ok(_) if !l.ends_with('\n') => None,
        Ok(_) => Some(l),
    }
}

/// Answers the `GET`s on one connection (HTTP/1.1, keep-alive), until it closes or idles. A
/// request with a body (`content-length`), an overlong line or too many headers ends it.
fn answer(stream: TcpStream, lists: &Lists) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request_line) = line(&mut reader) else { return };
        // The headers, to their blank line (a GET has no body).
        let mut headers = 0;
        loop {
            let Some(h) = line(&mut reader) else { return };
            if h == "\r\n" || h == "\n" {
                break;
            }
            headers += 1;
            let has_body = h.split_once(':').is_some_and(|(n, v)| n.trim().eq_ignore_ascii_case("content-length") && v.trim() != "0");
            if headers > MAX_HEADERS || has_body {
                let _ = out.write_all(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
                return;
            }
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        let token = lists.lock().unwrap_or_else(PoisonError::into_inner).get(path).cloned();
        let response = match (method, token) {
            ("GET", Some(t)) => format!("HTTP/1.1 200 OK\r\ncontent-type: {MEDIA_TYPE}\r\ncache-control: no-store\r\ncontent-length: {}\r\n\r\n{t}", t.len()),
            ("GET", None) => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_owned(),
            _ => "HTTP/1.1 405 Method Not Allowed\r\nallow: GET\r\ncontent-length: 0\r\n\r\n".to_owned(),
        };
        if out.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// The URI of `issuer`'s status list, signed by its key now and served by the tool:
/// [`VALID`] and [`REVOKED`] entries as named.
pub fn uri_for(issuer: &TestIssuer) -> Result<String, String> {
    let s = server()?;
    let kid = issuer.key.kid().unwrap_or_default();
    // One list per issuer and key, so that runs against several targets keep theirs apart.
    let path = {
        let mut paths = s.paths.lock().unwrap_or_else(PoisonError::into_inner);
        let n = paths.len();
        paths.entry(format!("{}|{kid}", issuer.id)).or_insert_with(|| format!("/status-list/{n}")).clone()
    };
    let uri = format!("{}{path}", s.origin);
    let mut list = StatusList::new(Bits::from_u64(2).map_err(|e| e.to_string())?, 16);
    list.set(REVOKED, StatusValue::Invalid).map_err(|e| e.to_string())?;
    let now = UnixTime::now();
    let token = StatusListToken { list, uri: uri.clone(), iss: Some(issuer.id.clone()), iat: now.plus(-10), exp: Some(now.plus(LIFETIME)), ttl: Some(600), aggregation_uri: None };
    let jwt = token.sign(&JwsHeader::new(JwsAlg::Es256).with_kid(issuer.key.kid()), &*issuer.key).map_err(|e| format!("cannot sign the test status list: {e}"))?;
    s.lists.lock().unwrap_or_else(PoisonError::into_inner).insert(path, jwt);
    Ok(uri)
}
