//! The issuer's SQLite store alone: how much CPU recording one credential costs (what a
//! credential request spends, a status index from the pool, the credential's row, group
//! commit and `fsync`), without HTTP or crypto. The issuance benchmark
//! (`cargo bench -p issuer --bench issuance`) measures the whole request; this one isolates
//! the store, whose figures vary less from run to run.
//!
//! `cargo run --release -p issuer --example store_bench -- [DIR] [CONCURRENT] [RECORDS]`
//! (defaults: a temporary directory, 50, 20000). CPU is the process's
//! (`service_kit::cpu`), checkpoints included (every 100 ms, as the service).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use issuer::status_pool::StatusPool;
use issuer::store::{Issued, Spend, Spent, Store};

use service_kit::bench::process_cpu_secs as cpu;

fn random() -> String {
    service_kit::bench::random_token().unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = args.first().map_or_else(|| tmp.path().to_owned(), std::path::PathBuf::from);
    let concurrent: usize = args.get(1).map_or(50, |s| s.parse().unwrap());
    let records: usize = args.get(2).map_or(20_000, |s| s.parse().unwrap());
    let path = service_kit::bench::fresh_database(&dir, "store-bench.sqlite").unwrap();
    let store = Arc::new(Store::open(&path).unwrap());
    let pool = Arc::new(StatusPool::default());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let checkpoints = {
        let (store, stop) = (store.clone(), stop.clone());
        rt.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                store.checkpoint().unwrap();
            }
        })
    };
    let (t0, c0) = (Instant::now(), cpu());
    rt.block_on(async {
        let tasks: Vec<_> = (0..concurrent)
            .map(|_| {
                let (store, pool) = (store.clone(), pool.clone());
                tokio::spawn(async move {
                    for _ in 0..records / concurrent {
                        let idx = pool.take(&store, 1024, 1).unwrap()[0];
                        let row = Issued {
                            id: random(),
                            grant_id: random(),
                            citizen: "RSSMRA80A10H501Z".into(),
                            configuration_id: "dc_sd_jwt_PersonIdentificationData".into(),
                            status_idx: idx,
                            status: 0,
                            notification_id: random(),
                            issued_at: 1,
                            expires_at: 2_000_000_000,
                            notified: None,
                        };
                        let spend = Spend { jti: Some((format!("dpop:{}:{}", random(), random()), 2_000_000_000)), nonces: vec![(random(), 2_000_000_000)] };
                        assert_eq!(store.insert_issued(&[row], &spend).await.unwrap(), Spent::Recorded);
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
    rt.block_on(checkpoints).unwrap();
    let n = (records / concurrent) * concurrent;
    println!("{n} credentials recorded by {concurrent} concurrent requests: {:.0}/s, {:.1} µs of CPU each", n as f64 / wall, used / n as f64 * 1e6);
}
