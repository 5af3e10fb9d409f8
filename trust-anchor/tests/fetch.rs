//! `HttpFetcher` against a hand-written server: bounds, status, connection reuse.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use trust_anchor::fetch::HttpFetcher;
use wallet_core::federation::{FederationError, Fetcher as _};

/// Serves `body(path)` as HTTP/1.1 keep-alive responses; counts accepted connections.
fn server(body: fn(&str) -> (u16, Vec<u8>)) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let conns = Arc::new(AtomicUsize::new(0));
    let c = conns.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            c.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).unwrap();
                        if h == "\r\n" || h.is_empty() {
                            break;
                        }
                    }
                    let (status, b) = body(&path);
                    let head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n", b.len());
                    if s.write_all(head.as_bytes()).and_then(|()| s.write_all(&b)).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, conns)
}

fn reason(e: FederationError) -> String {
    match e {
        FederationError::Fetch { reason, .. } => reason,
        other => panic!("{other:?}"),
    }
}

#[test]
fn bounds_status_and_connection_reuse() {
    let (base, conns) = server(|path| match path {
        "/big" => (200, vec![b'a'; wallet_core::federation::collect::MAX_STATEMENT_LEN + 1]),
        "/binary" => (200, vec![0xff, 0xfe]),
        "/missing" => (404, b"{}".to_vec()),
        _ => (200, b"eyJ.statement".to_vec()),
    });
    let f = HttpFetcher::new().unwrap();
    for _ in 0..3 {
        assert_eq!(f.get(&format!("{base}/ok"), "application/entity-statement+jwt").unwrap(), "eyJ.statement");
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1, "one keep-alive connection for sequential requests");
    assert_eq!(reason(f.get(&format!("{base}/big"), "*/*").unwrap_err()), "response too large");
    assert_eq!(reason(f.get(&format!("{base}/binary"), "*/*").unwrap_err()), "response is not UTF-8");
    assert_eq!(reason(f.get(&format!("{base}/missing"), "*/*").unwrap_err()), "HTTP 404 Not Found");
    assert!(f.get("http://127.0.0.1:1/", "*/*").is_err(), "connection refused is an error, not a panic");
}

#[test]
fn a_hanging_server_times_out() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        std::thread::sleep(std::time::Duration::from_secs(10));
    });
    let t = std::time::Instant::now();
    assert!(HttpFetcher::new().unwrap().get(&base, "*/*").is_err());
    assert!(t.elapsed() < std::time::Duration::from_secs(7), "bounded by the 5 s timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usable_from_spawn_blocking() {
    let (base, _) = server(|_| (200, b"x".to_vec()));
    let body = tokio::task::spawn_blocking(move || HttpFetcher::new().unwrap().get(&base, "*/*")).await.unwrap().unwrap();
    assert_eq!(body, "x");
}
