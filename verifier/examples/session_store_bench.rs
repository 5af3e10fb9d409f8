//! The verifier's SQLite store alone: how much CPU a presentation's store work costs (the
//! session created, its `request_uri` handle taken, the session read by its `state`, the
//! verdict recorded: the group commit's three writes and a read), without HTTP or crypto.
//! The presentations benchmark (`cargo bench -p verifier --bench presentations`) measures
//! the whole flow; this one isolates the store, whose figures vary less from run to run.
//!
//! `cargo run --release -p verifier --example session_store_bench -- [DIR] [CONCURRENT] [SESSIONS]`
//! (defaults: a temporary directory, 50, 40000). CPU is the process's
//! (`service_kit::cpu`); the purge runs every second, as the service's serve loop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use verifier::store::{ClientIdPrefix, Flow, NewSession, RequestMode, SessionStatus, Store};

use service_kit::bench::process_cpu_secs as cpu;

fn random() -> String {
    service_kit::bench::random_token().unwrap()
}

const DCQL: &str = r#"{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:pid:it:1"]},"claims":[{"path":["age_over_18"]}]}]}"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = args.first().map_or_else(|| tmp.path().to_owned(), std::path::PathBuf::from);
    let concurrent: usize = args.get(1).map_or(50, |s| s.parse().unwrap());
    let sessions: usize = args.get(2).map_or(40_000, |s| s.parse().unwrap());
    let path = service_kit::bench::fresh_database(&dir, "store-bench.sqlite").unwrap();
    let store = Arc::new(Store::open(&path).unwrap());
    // A verdict as the service stores it for the integrator (about 900 bytes).
    let result = format!(r#"{{"status":"verified","credentials":{{"pid":[{{"vct":"urn:eudi:pid:it:1","claims":{{"age_over_18":true}},"padding":"{}"}}]}}}}"#, "x".repeat(800));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let now = 1_000;
    let purges = {
        let (store, stop) = (store.clone(), stop.clone());
        rt.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                store.purge(now).unwrap();
            }
        })
    };
    let (t0, c0) = (Instant::now(), cpu());
    rt.block_on(async {
        let tasks: Vec<_> = (0..concurrent)
            .map(|_| {
                let (store, result) = (store.clone(), result.clone());
                tokio::spawn(async move {
                    for _ in 0..sessions / concurrent {
                        let id = service_kit::ids::ordered_one().unwrap();
                        let (request_id, state, nonce) = (format!("{id}.{}", random()), format!("{id}.{}", random()), random());
                        let new = NewSession {
                            id: &id,
                            request_id: &request_id,
                            state: &state,
                            nonce: &nonce,
                            flow: Flow::CrossDevice,
                            dcql: DCQL,
                            redirect_uri: None,
                            request_uri_method: "post",
                            now,
                            expires_at: now + 300,
                            purge_at: now + 900,
                            owner: None,
                            client_id_prefix: ClientIdPrefix::OpenidFederation,
                            request_mode: RequestMode::Reference,
                            x5c_leaf: None,
                            request_object: None,
                        };
                        store.create_grouped(&new).await.unwrap();
                        assert!(store.take_request_grouped(&request_id, now).await.unwrap().is_some());
                        let session = store.by_state(&state).unwrap().unwrap();
                        let receiving = store.receive(&session.id).unwrap();
                        assert!(store.record_grouped(&session.id, SessionStatus::Verified, &result, None, now + 600, now).await.unwrap());
                        drop(receiving);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let (wall, used) = (t0.elapsed().as_secs_f64(), cpu() - c0);
    stop.store(true, Ordering::Relaxed);
    rt.block_on(purges).unwrap();
    let n = (sessions / concurrent) * concurrent;
    println!("{n} presentations' store work by {concurrent} concurrent tasks: {:.0}/s, {:.1} µs of CPU each", n as f64 / wall, used / n as f64 * 1e6);
}
