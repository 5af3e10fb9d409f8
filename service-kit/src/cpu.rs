//! CPU time from Linux `/proc`, for the benchmarks that weigh a service's CPU against its
//! cryptography (the verifier's and the issuer's): per named thread, per process, for the
//! whole machine. Off Linux, or when `/proc` cannot be read, the times are zero.

use std::path::Path;
use std::time::Duration;

/// Clock ticks are 10 ms (`USER_HZ` 100) on every Linux this runs on.
const TICK_NS: u64 = 10_000_000;

/// On-CPU nanoseconds of the task at `path` (`/proc/<pid>/task/<tid>`): `schedstat`, or
/// `utime + stime` from `stat` (10 ms ticks) when the kernel has no schedstat.
fn schedstat_ns(path: &Path) -> Option<u64> {
    if let Ok(s) = std::fs::read_to_string(path.join("schedstat"))
        && let Some(ns) = s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok())
        && ns > 0
    {
        return Some(ns);
    }
    let stat = std::fs::read_to_string(path.join("stat")).ok()?;
    let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks * TICK_NS)
}

/// On-CPU time of this process's threads named `name` (a tokio runtime's `thread_name`).
pub fn threads_cpu(name: &str) -> Duration {
    let mut ns = 0;
    for e in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let p = e.path();
        if std::fs::read_to_string(p.join("comm")).is_ok_and(|c| c.trim_end() == name) {
            ns += schedstat_ns(&p).unwrap_or(0);
        }
    }
    Duration::from_nanos(ns)
}

/// Busy time of the whole machine (every CPU, every process) from `/proc/stat`, and of this
/// process (`utime + stime`, every thread): what the rest of the machine did during a run
/// shows how noisy it was.
pub fn machine_and_process_cpu() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let busy_ticks: u64 = stat
        .lines()
        .next()
        .map(|l| l.split_whitespace().skip(1).enumerate().filter(|(i, _)| ![3, 4].contains(i)).filter_map(|(_, v)| v.parse::<u64>().ok()).take(6).sum())
        .unwrap_or(0);
    let own: u64 = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.split_whitespace().skip(11).take(2).filter_map(|v| v.parse::<u64>().ok()).sum()))
        .unwrap_or(0);
    (Duration::from_millis(busy_ticks * 10), Duration::from_millis(own * 10))
}

/// On-CPU time of the calling thread. The kernel brings a running thread's count up to date
/// only when it schedules: `sched_yield` first makes it exact.
pub fn this_thread_cpu() -> Duration {
    std::thread::yield_now();
    Duration::from_nanos(schedstat_ns(Path::new("/proc/thread-self")).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_counts_and_the_machine_is_busier_than_this_process() {
        let before = this_thread_cpu();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        assert!(this_thread_cpu() > before, "{x}");
        let (machine, process) = machine_and_process_cpu();
        assert!(machine >= process);
        assert_eq!(threads_cpu("no-such-thread-name"), Duration::ZERO);
    }
}
