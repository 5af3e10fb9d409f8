//! What the two throughput benchmarks (the verifier's presentations, the issuer's
//! credentials) share besides [`crate::cpu`]: their runtimes, the per-operation timing of the
//! crypto baseline, percentiles, and the report's units and paced-row line.

use std::time::Duration;

use crate::cpu::this_thread_cpu;

/// The pause of the extra row a full run adds at 200 wallets (without `--paced-ms`): the
/// latency below saturation, where a closed loop of 200 only measures its own queue.
pub const PACED_PAUSE: Duration = Duration::from_millis(100);

/// This process's CPU time so far (every thread), in seconds: what the store benchmarks
/// (`examples/store_bench.rs` of the issuer and the verifier) divide by their records.
pub fn process_cpu_secs() -> f64 {
    crate::cpu::machine_and_process_cpu().1.as_secs_f64()
}

/// `dir/name`, with any database left there by an earlier run (and its `-wal`, `-shm`)
/// removed, `dir` created: a store benchmark starts from an empty file.
pub fn fresh_database(dir: &std::path::Path, name: &str) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        match std::fs::remove_file(format!("{}{suffix}", path.display())) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(path)
}

/// 32 random bytes, base64url: a token, nonce or `jti` for a benchmark's rows.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(wallet_core::jose::b64::encode(b))
}

/// A multi-thread runtime whose threads are all named `name` (workers and blocking pool
/// alike, kept alive for the whole run, so that [`crate::cpu::threads_cpu`] counts them all).
pub fn runtime(name: &str, workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .thread_keep_alive(Duration::from_secs(24 * 3600))
        .enable_all()
        .build()
}

/// Per-operation CPU time of `op`: the median of `chunks` chunks of `n` calls (after one
/// warm-up chunk), each timed by this thread's on-CPU time (a neighbour's load does not
/// count).
pub fn per_op(chunks: usize, n: u32, mut op: impl FnMut()) -> Duration {
    for _ in 0..n {
        op();
    }
    let mut times: Vec<Duration> = (0..chunks.max(1))
        .map(|_| {
            let t0 = this_thread_cpu();
            for _ in 0..n {
                op();
            }
            (this_thread_cpu().saturating_sub(t0)) / n.max(1)
        })
        .collect();
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// The CPU of the ES256 signature a server makes over `signing_input`
/// (`BASE64URL(header) || '.' || BASE64URL(payload)`) under a protected header encoded once
/// (wallet-core `jws::EncodedHeader`, a request object's or a credential's kilobytes of `x5c`
/// and `trust_chain`): the header's part is hashed once, outside the timing, as the server
/// keeps it; each signature hashes the rest and signs the digest. That is the crypto the
/// server does: a cache that skips work must not count as work done. A signer that does not
/// sign digests is timed signing the whole input, as the server's then does. Medians as
/// [`per_op`].
pub fn es256_signature_under_kept_header(signer: &dyn wallet_core::jose::Signer, signing_input: &[u8], chunks: usize, n: u32) -> Duration {
    use sha2::Digest as _;
    use std::hint::black_box;
    let split = signing_input.iter().position(|&b| b == b'.').and_then(|i| Some((signing_input.get(..i)?, signing_input.get(i + 1..)?)));
    let Some((header, payload)) = split.filter(|_| signer.signs_es256_digests()) else {
        return per_op(chunks, n, || {
            black_box(signer.sign(black_box(signing_input)).ok());
        });
    };
    let mut prefix = sha2::Sha256::new();
    prefix.update(header);
    prefix.update(b".");
    per_op(chunks, n, || {
        let mut h = prefix.clone();
        h.update(black_box(payload));
        black_box(signer.sign_es256_digest(&h.finalize().into()).ok());
    })
}

/// The median and the 99th percentile (nearest rank) of `v`; zero for none.
pub fn p50_p99(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    let at = |q: f64| {
        let rank = ((v.len() as f64 * q).ceil() as usize).saturating_sub(1).min(v.len().saturating_sub(1));
        v.get(rank).copied().unwrap_or_default()
    };
    (at(0.50), at(0.99))
}

/// `12.3 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// `123 µs`.
pub fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// The line under the targets for the paced row: its p99 against 50 ms, beside the closed
/// loop's.
pub fn paced_line(p99: Duration, rate: f64) -> String {
    let within = if p99 <= Duration::from_millis(50) { "within" } else { "over" };
    format!(
        "    (below saturation, 200 wallets pausing {} ms: p99 {} at {rate:.0}/s, {within} against 50 ms; the line above is the closed loop)",
        PACED_PAUSE.as_millis(),
        ms(p99)
    )
}

/// The name of the threads of [`http_floor`]'s server.
pub const FLOOR_THREAD: &str = "floor-srv";

/// The server CPU that bare loopback HTTP/1.1 costs a flow, measured in the same run as the
/// flow itself: a server on a runtime of its own (2 workers, threads [`FLOOR_THREAD`]) served
/// as the services are ([`crate::serve::serve`]: `TCP_NODELAY`, the peer address), whose
/// routes do nothing but take the request's body and answer a body of a given size;
/// `concurrency` clients on `clients` (one `reqwest` client, connections kept alive, as the
/// benchmarks' wallets) each make `exchanges` in turn, a `(request bytes, answer bytes)` POST
/// each, for `secs` after a short warm-up. Returns the server's CPU per sequence: what any
/// server speaking HTTP over loopback spends on a flow of those messages before it does any
/// work of its own, the floor under a benchmark's ratio.
pub fn http_floor(clients: &tokio::runtime::Runtime, exchanges: &[(usize, usize)], concurrency: usize, secs: f64) -> Result<std::time::Duration, String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let server = runtime(FLOOR_THREAD, 2).map_err(|e| e.to_string())?;
    let listener = server.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).map_err(|e| e.to_string())?;
    let base = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let mut router = axum::Router::new();
    for (i, &(_, answer)) in exchanges.iter().enumerate() {
        let body = axum::body::Bytes::from(vec![b'a'; answer]);
        router = router.route(
            &format!("/{i}"),
            axum::routing::post(move |request: axum::body::Bytes| {
                let body = body.clone();
                async move {
                    drop(request);
                    body
                }
            }),
        );
    }
    server.spawn(crate::serve::serve(listener, router, std::future::pending()));
    let http = reqwest::Client::builder().pool_max_idle_per_host(4 * concurrency.max(1)).build().map_err(|e| e.to_string())?;
    let requests: Arc<Vec<(String, axum::body::Bytes)>> =
        Arc::new(exchanges.iter().enumerate().map(|(i, &(request, _))| (format!("{base}/{i}"), axum::body::Bytes::from(vec![b'a'; request]))).collect());
    let (stop, done, failed) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (http, requests, stop, done, failed) = (http.clone(), requests.clone(), stop.clone(), done.clone(), failed.clone());
            clients.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    for (url, body) in requests.iter() {
                        let ok = match http.post(url).body(body.clone()).send().await {
                            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        if !ok {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (n0, cpu0) = (done.load(Ordering::Relaxed), crate::cpu::threads_cpu(FLOOR_THREAD));
    std::thread::sleep(std::time::Duration::from_secs_f64(secs));
    let (n1, cpu1) = (done.load(Ordering::Relaxed), crate::cpu::threads_cpu(FLOOR_THREAD));
    stop.store(true, Ordering::Relaxed);
    clients.block_on(async {
        for t in tasks {
            let _ = t.await;
        }
    });
    server.shutdown_background();
    if failed.load(Ordering::Relaxed) > 0 {
        return Err(format!("{} bare exchanges failed", failed.load(Ordering::Relaxed)));
    }
    let n = u32::try_from(n1.saturating_sub(n0)).unwrap_or(u32::MAX).max(1);
    Ok(cpu1.saturating_sub(cpu0) / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let ms = |n: u64| Duration::from_millis(n);
        assert_eq!(p50_p99(Vec::new()), (Duration::ZERO, Duration::ZERO));
        assert_eq!(p50_p99(vec![ms(7)]), (ms(7), ms(7)));
        assert_eq!(p50_p99((1..=100).rev().map(ms).collect()), (ms(50), ms(99)));
        assert_eq!(p50_p99((1..=1000).map(ms).collect()), (ms(500), ms(990)));
    }

    /// The signature timed is one that verifies over the whole input, and a signer that signs
    /// digests is timed on the payload's part alone (the kept header's state).
    #[test]
    fn a_signature_under_a_kept_header_is_timed_on_a_valid_signature() {
        use wallet_core::jose::{JwsAlg, Signer as _, SoftwareSigner};
        let key = SoftwareSigner::generate().unwrap();
        assert!(key.signs_es256_digests());
        let input = format!("{}.{}", "h".repeat(8_000), "p".repeat(1_500));
        assert!(es256_signature_under_kept_header(&key, input.as_bytes(), 1, 1) > Duration::ZERO);
        use sha2::Digest as _;
        let (header, payload) = input.split_once('.').unwrap();
        let mut h = sha2::Sha256::new();
        h.update(header.as_bytes());
        h.update(b".");
        h.update(payload.as_bytes());
        let sig = key.sign_es256_digest(&h.finalize().into()).unwrap();
        key.public_jwk().verify(JwsAlg::Es256, input.as_bytes(), &sig).unwrap();
    }

    #[test]
    fn the_paced_line_says_within_or_over() {
        assert!(paced_line(Duration::from_millis(13), 1_900.0).contains("p99 13.0 ms at 1900/s, within against 50 ms"));
        assert!(paced_line(Duration::from_millis(51), 1_900.0).contains("over against 50 ms"));
    }
}
