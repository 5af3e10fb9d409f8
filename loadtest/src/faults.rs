//! Faults under load (issue 14 item 6): `kill -9` of one replica (its pid from `tessera up`'s
//! output), a restart of PostgreSQL (`scripts/postgres.sh restart`), and what HAProxy's log
//! says about who served the requests after the kill.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One replica line of `tessera up --replicas`: `  <service> replica <n> pid <pid> port <port>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Replica {
    pub(crate) service: String,
    pub(crate) n: u32,
    pub(crate) pid: u32,
    pub(crate) port: u16,
}

/// The replicas `tessera up` printed, the latest line of each last.
pub(crate) fn replicas(up_output: &str) -> Vec<Replica> {
    up_output
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                [service, "replica", n, "pid", pid, "port", port, ..] => {
                    Some(Replica { service: (*service).to_owned(), n: n.parse().ok()?, pid: pid.parse().ok()?, port: port.parse().ok()? })
                }
                _ => None,
            }
        })
        .collect()
}

/// The lines of HAProxy's log for `service`'s replica `n` (`<service>_replicas/<service><n>`).
pub(crate) fn served(log: &str, service: &str, n: u32) -> usize {
    let needle = format!(" {service}_replicas/{service}{n} ");
    log.lines().filter(|l| l.contains(&needle)).count()
}

/// A replica killed during the run.
pub(crate) struct Killed {
    pub(crate) replica: Replica,
    /// HAProxy's log length (bytes) at the kill.
    pub(crate) log_offset: usize,
    pub(crate) at: Instant,
}

/// `kill -9` of `service`'s first replica as `up_log` names it; HAProxy's log length then.
pub(crate) fn kill(up_log: &Path, haproxy_log: &Path, service: &str) -> Result<Killed, String> {
    let text = std::fs::read_to_string(up_log).map_err(|e| format!("{}: {e}", up_log.display()))?;
    let replica = replicas(&text)
        .into_iter()
        .rev()
        .find(|r| r.service == service && r.n == 1)
        .ok_or_else(|| format!("no replica 1 of `{service}` in {}", up_log.display()))?;
    let log_offset = std::fs::read_to_string(haproxy_log).map_or(0, |s| s.len());
    let ok = Command::new("kill").args(["-9", &replica.pid.to_string()]).status().is_ok_and(|s| s.success());
    if !ok {
        return Err(format!("kill -9 {} failed", replica.pid));
    }
    Ok(Killed { replica, log_offset, at: Instant::now() })
}

/// What HAProxy logged for the killed service since the kill: (replica 1, replica 2).
pub(crate) fn served_since(k: &Killed, haproxy_log: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(haproxy_log).unwrap_or_default();
    let since = text.get(k.log_offset..).unwrap_or("");
    (served(since, &k.replica.service, 1), served(since, &k.replica.service, 2))
}

/// Waits (up to `within`) for the killed replica to be started again and answer `/health`;
/// its new pid.
pub(crate) fn rejoined(k: &Killed, up_log: &Path, within: Duration) -> Option<u32> {
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(3)).build().ok()?;
    let start = Instant::now();
    while start.elapsed() < within {
        let text = std::fs::read_to_string(up_log).unwrap_or_default();
        let now = replicas(&text).into_iter().rev().find(|r| r.service == k.replica.service && r.n == k.replica.n);
        if let Some(r) = now
            && r.pid != k.replica.pid
            && http.get(format!("http://127.0.0.1:{}/health", r.port)).send().is_ok_and(|a| a.status().is_success())
        {
            return Some(r.pid);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// `scripts/postgres.sh restart`.
pub(crate) fn restart_postgres(script: &PathBuf) -> Result<(), String> {
    let o = Command::new(script).arg("restart").output().map_err(|e| format!("{}: {e}", script.display()))?;
    if o.status.success() { Ok(()) } else { Err(format!("{} restart: {}", script.display(), String::from_utf8_lossy(&o.stderr).trim())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_replica_lines() {
        let out = "Replicas (HAProxy ...):\n  motorizzazione    replica 1 pid 41 port 7610\n  verifier          replica 2 pid 42 port 7617\n  motorizzazione    replica 1 pid 43 port 7610 (restarted)\n";
        let r = replicas(out);
        assert_eq!(r.len(), 3);
        assert_eq!(r[2], Replica { service: "motorizzazione".into(), n: 1, pid: 43, port: 7610 });
        assert_eq!(served("x motorizzazione_replicas/motorizzazione2 y\nx motorizzazione_replicas/motorizzazione1 y\n", "motorizzazione", 2), 1);
    }
}
