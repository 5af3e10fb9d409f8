//! What the two throughput benchmarks (the verifier's presentations, the issuer's
//! credentials) share besides [`crate::cpu`]: their runtimes, the per-operation timing of the
//! crypto baseline, percentiles, and the report's units and paced-row line.

use std::time::Duration;

use crate::cpu::this_thread_cpu;

/// The pause of the extra row a full run adds at 200 wallets (without `--paced-ms`): the
/// latency below saturation, where a closed loop of 200 only measures its own queue.
pub const PACED_PAUSE: Duration = Duration::from_millis(100);

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

    #[test]
    fn the_paced_line_says_within_or_over() {
        assert!(paced_line(Duration::from_millis(13), 1_900.0).contains("p99 13.0 ms at 1900/s, within against 50 ms"));
        assert!(paced_line(Duration::from_millis(51), 1_900.0).contains("over against 50 ms"));
    }
}
