//! The Token Status List of the tool's test issuer, served by the tool itself.
//!
//! A PID's `status` is REQUIRED (IT-Wallet 1.4 §4.3), so an RP that follows the spec refuses
//! a PID without one: every PID the `rp` plan presents names an entry of a list the tool
//! signs with the test issuer's key and serves over HTTP while the run lasts (Token Status
//! List §5: `application/statuslist+jwt`). Index [`VALID`] is VALID and [`REVOKED`] INVALID.
//!
//! The server binds `127.0.0.1` on a free port by default: the target (an RP, or an issuer
//! checking the PID of its login) fetches from the tool's host, so it must run on the same
//! machine (as `tessera up` does). For a target elsewhere, [`configure`] binds another address
//! and names the URL the target reaches it at (`--status-list-listen`, `--status-list-url`):
//! a target that cannot reach the list leaves the status undetermined (the case's note says
//! where it was).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
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

/// The lists served, by their number in `/status-list/{n}`.
type Lists = Arc<Mutex<HashMap<String, String>>>;

struct Server {
    origin: String,
    lists: Lists,
    /// The number of each issuer's list, by issuer and key id.
    numbers: Mutex<HashMap<String, String>>,
}

/// Where the server listens and the origin targets reach it at.
struct Setting {
    listen: std::net::SocketAddr,
    public: Option<String>,
}

static SETTING: OnceLock<Setting> = OnceLock::new();

/// Serves the lists on `listen` (e.g. `0.0.0.0:8099`) and names them under `public` (the
/// origin the target reaches that address at, e.g. `https://conformance.example.it:8099`;
/// `None`: `http://<listen>`). Once per process, before the first list is served.
pub fn configure(listen: std::net::SocketAddr, public: Option<&str>) -> Result<(), String> {
    let public = match public {
        None => None,
        Some(p) => {
            let u = url::Url::parse(p).map_err(|e| format!("--status-list-url `{p}`: {e}"))?;
            if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() || u.query().is_some() || u.fragment().is_some() {
                return Err(format!("--status-list-url `{p}`: an http(s) origin, optionally with a path, is expected"));
            }
            Some(p.trim_end_matches('/').to_owned())
        }
    };
    SETTING.set(Setting { listen, public }).map_err(|_| "the status list server is configured once, before it starts".to_owned())
}

fn server() -> Result<&'static Server, String> {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref().map_err(Clone::clone)
}

/// Binds now (the port is known before any PID names it), then serves the lists with
/// service-kit's server on a runtime of its own, in a thread that lasts the run.
fn start() -> Result<Server, String> {
    let setting = SETTING.get_or_init(|| Setting { listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)), public: None });
    let listener = std::net::TcpListener::bind(setting.listen).map_err(|e| format!("the status list server cannot bind {}: {e}", setting.listen))?;
    let origin = match &setting.public {
        Some(p) => p.clone(),
        None => format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?),
    };
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("the status list server's runtime: {e}"))?;
    let lists: Lists = Arc::default();
    let router = axum::Router::new().route("/status-list/{n}", axum::routing::get(list)).with_state(lists.clone());
    std::thread::Builder::new()
        .name("status-list".into())
        .spawn(move || {
            runtime.block_on(async move {
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    let _ = service_kit::serve::serve(listener, router, std::future::pending()).await;
                }
            });
        })
        .map_err(|e| format!("the status list server cannot start: {e}"))?;
    Ok(Server { origin, lists, numbers: Mutex::default() })
}

/// `GET /status-list/{n}`: the list, `application/statuslist+jwt`; 404 for no such list.
async fn list(State(lists): State<Lists>, Path(n): Path<String>) -> Response {
    match lists.lock().unwrap_or_else(PoisonError::into_inner).get(&n) {
        Some(jwt) => ([(header::CONTENT_TYPE, MEDIA_TYPE), (header::CACHE_CONTROL, "no-store")], jwt.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The URI of `issuer`'s status list, signed by its key now and served by the tool:
/// [`VALID`] and [`REVOKED`] entries as named.
pub fn uri_for(issuer: &TestIssuer) -> Result<String, String> {
    let s = server()?;
    let kid = issuer.key.kid().unwrap_or_default();
    // One list per issuer and key, so that runs against several targets keep theirs apart.
    let n = {
        let mut numbers = s.numbers.lock().unwrap_or_else(PoisonError::into_inner);
        let next = numbers.len().to_string();
        numbers.entry(format!("{}|{kid}", issuer.id)).or_insert(next).clone()
    };
    let path = format!("/status-list/{n}");
    let uri = format!("{}{path}", s.origin);
    let mut list = StatusList::new(Bits::from_u64(2).map_err(|e| e.to_string())?, 16);
    list.set(REVOKED, StatusValue::Invalid).map_err(|e| e.to_string())?;
    let now = UnixTime::now();
    let token = StatusListToken { list, uri: uri.clone(), iss: Some(issuer.id.clone()), iat: now.plus(-10), exp: Some(now.plus(LIFETIME)), ttl: Some(600), aggregation_uri: None };
    let jwt = token.sign(&JwsHeader::new(JwsAlg::Es256).with_kid(issuer.key.kid()), &*issuer.key).map_err(|e| format!("cannot sign the test status list: {e}"))?;
    s.lists.lock().unwrap_or_else(PoisonError::into_inner).insert(n, jwt);
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> TestIssuer {
        let key = wallet_core::jose::SoftwareSigner::generate().unwrap();
        TestIssuer { id: "https://pid.conformance.example".into(), key: Arc::new(key) }
    }

    /// A target elsewhere: the lists are named under the public origin given and served on
    /// the address given (here `localhost` for 127.0.0.1), signed, VALID and REVOKED entries.
    #[test]
    fn a_configured_server_names_its_public_origin_and_serves_there() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        configure(std::net::SocketAddr::from(([127, 0, 0, 1], port)), Some(&format!("http://localhost:{port}/"))).unwrap();
        assert!(configure(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), None).is_err(), "once only");
        let i = issuer();
        let uri = uri_for(&i).unwrap();
        assert!(uri.starts_with(&format!("http://localhost:{port}/status-list/")), "{uri}");
        let http = crate::client::Http::new(std::time::Duration::from_secs(10)).unwrap();
        let (r, _) = http.send("GET", &uri, &[], None);
        let r = r.unwrap();
        assert_eq!((r.status, r.media_type().as_deref()), (200, Some(MEDIA_TYPE)));
        let resolver = wallet_core::sd_jwt::StaticKeyResolver::for_issuer(i.key.public_jwk(), i.id.as_str());
        let reference = wallet_core::status::StatusReference { idx: VALID, uri: uri.clone() };
        let v = StatusListToken::verify_response(r.header("content-type"), &r.body, &reference, &resolver, UnixTime::now(), 60, 1 << 20).unwrap();
        assert_eq!(v.uri, uri);
        assert_eq!(v.list.get(VALID).unwrap(), StatusValue::Valid);
        assert_eq!(v.list.get(REVOKED).unwrap(), StatusValue::Invalid);
    }

    #[test]
    fn a_public_url_must_be_an_http_origin() {
        let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        for bad in ["ftp://example.it", "not a url", "https://example.it/?q=1"] {
            assert!(configure(any, Some(bad)).is_err(), "{bad}");
        }
    }
}
