//! Trust chain resolution figures: warm-cache resolution, cold resolution of a three-level
//! chain over loopback (client CPU and wall time), and `resolve` endpoint requests per second,
//! answered from its cache and resolved anew.
//!
//! The federation runs in a child process (this binary re-executed), so the client's CPU is
//! measured alone from `/proc/self/stat`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // bench code

use std::hint::black_box;
use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use trust_anchor::fetch::HttpFetcher;
use trust_anchor::{AppState, Config, router};
use wallet_core::federation::{ChainCache, ChainCollector, EntityId, TrustAnchorConfig};
use wallet_core::time::UnixTime;

const ROLE: &str = "TESSERA_BENCH_FEDERATION";

/// Child: TA → intermediate → leaf on loopback; prints the three ids and the TA jwks, then serves.
fn serve_federation() -> ! {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut ids = Vec::new();
        let mut listeners = Vec::new();
        for _ in 0..3 {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            ids.push(EntityId::new(format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())).unwrap());
            listeners.push(l);
        }
        let ta_key = trust_anchor::keys::load_or_create(&dir.path().join("ta")).unwrap();
        let anchor = TrustAnchorConfig { id: ids[0].clone(), jwks: wallet_core::jose::jwk::JwkSet { keys: vec![wallet_core::jose::Signer::public_jwk(&ta_key)] } };
        let mut configs = Vec::new();
        for (i, name) in ["ta", "int", "leaf"].iter().enumerate() {
            let mut c = Config::trust_anchor(ids[i].clone(), dir.path().join(name), "t");
            c.trust_anchors = vec![anchor.clone()];
            if i > 0 {
                c.authority_hints = vec![ids[i - 1].clone()];
            }
            if i == 2 {
                c.authority = false;
                c.metadata = json!({"openid_credential_issuer": {"credential_issuer": ids[2]}}).as_object().cloned().unwrap();
            }
            configs.push(c);
        }
        for (c, l) in configs.into_iter().zip(listeners) {
            let st = AppState::open(c).unwrap();
            tokio::spawn(async move { axum::serve(l, router(st)).await.unwrap() });
        }
        let http = reqwest::Client::new();
        for (a, s) in [(0, 1), (1, 2)] {
            let r = http.post(format!("{}/admin/subordinates", ids[a])).bearer_auth("t").json(&json!({"entity_id": ids[s]})).send().await.unwrap();
            assert!(r.status().is_success());
        }
        println!("{} {} {} {}", ids[0], ids[1], ids[2], serde_json::to_string(&anchor.jwks).unwrap());
        std::future::pending::<()>().await;
    });
    std::process::exit(0)
}

/// This process's user + system CPU time, from /proc (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn main() {
    if std::env::var_os(ROLE).is_some() {
        serve_federation();
    }
    let mut child = Command::new(std::env::current_exe().unwrap()).env(ROLE, "1").stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let parts: Vec<&str> = line.trim().splitn(4, ' ').collect();
    let (ta, leaf) = (EntityId::new(parts[0]).unwrap(), EntityId::new(parts[2]).unwrap());
    let anchors = [TrustAnchorConfig { id: ta.clone(), jwks: serde_json::from_str(parts[3]).unwrap() }];
    let fetcher = HttpFetcher::new().unwrap();

    // Cold: collect and validate from scratch each time (no cache), over loopback HTTP.
    let n = 500;
    for _ in 0..20 {
        ChainCollector::new(&fetcher, &anchors).resolve(&leaf, UnixTime::now()).unwrap();
    }
    let (cpu0, t0) = (cpu_time(), Instant::now());
    for _ in 0..n {
        black_box(ChainCollector::new(&fetcher, &anchors).resolve(&leaf, UnixTime::now()).unwrap());
    }
    let (wall, cpu) = (t0.elapsed() / n, (cpu_time() - cpu0) / n);

    // Warm: the cache's answer until exp.
    let cache = ChainCache::new();
    let now = UnixTime::now();
    cache.get_or_resolve(&leaf, now, || ChainCollector::new(&fetcher, &anchors).resolve(&leaf, now)).unwrap();
    let m = 200_000u32;
    let t1 = Instant::now();
    for _ in 0..m {
        black_box(cache.get_or_resolve(&leaf, now, || unreachable!()).unwrap());
    }
    let warm = t1.elapsed() / m;

    // The resolve endpoint, answered by the intermediate, sequential requests for 3 s each:
    // with its cache (every answer after the first from it until the chain's exp), and
    // without (an `entity_type` filter never asked before is a new cache key, so each
    // request collects and validates the chain anew, as every request did before the cache).
    let client = reqwest::blocking::Client::new();
    let url = format!("{}/resolve?sub={}&trust_anchor={}", parts[1], leaf, ta);
    let per_second = |fresh_key: bool| {
        let t = Instant::now();
        let mut reqs = 0u32;
        while t.elapsed() < Duration::from_secs(3) {
            let u = if fresh_key { format!("{url}&entity_type=openid_credential_issuer&entity_type=x{reqs}") } else { url.clone() };
            let r = client.get(&u).send().unwrap();
            assert!(r.status().is_success());
            black_box(r.bytes().unwrap());
            reqs += 1;
        }
        f64::from(reqs) / t.elapsed().as_secs_f64()
    };
    let cold_rps = per_second(true);
    let rps = per_second(false);
    let _ = child.kill();
    let _ = child.wait();

    println!("three-level chain (leaf -> intermediate -> trust anchor), loopback HTTP, this machine:");
    println!("  warm-cache resolution:     {:>8.2} us   (target <= 20 us)", warm.as_secs_f64() * 1e6);
    println!("  cold resolution, wall:     {:>8.3} ms   (target <= 3 ms)", wall.as_secs_f64() * 1e3);
    println!("  cold resolution, client CPU:{:>7.3} ms   (target <= 1 ms)", cpu.as_secs_f64() * 1e3);
    println!("  resolve endpoint, cached:  {rps:>8.0} requests/s (sequential client; answered from the cache until the chain's exp)");
    println!("  resolve endpoint, uncached:{cold_rps:>8.0} requests/s (sequential client; each request a new cache key, resolved anew)");
}
