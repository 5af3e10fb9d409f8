//! One citizen: a wallet of its own (keys and store in its own directory), activated once,
//! then credentials obtained by pre-authorized offers and presented to the verifier through
//! its integrator API, until the deadline. The wallet's side is the `tessera wallet` commands
//! (wallet-core's activation, issuance and presentation flows), one process per step, whose
//! connections leave from the citizen's own loopback address (`TESSERA_SOURCE_ADDRESS`): the
//! services' per-client rate limits see 200 citizens as 200 clients, as they would be, not
//! one. The integrator's calls (offers, sessions, results) come from 127.0.0.1, one back end.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::stats::Stats;

/// The federation under test: `tessera up`'s ports and admin tokens.
pub(crate) struct Target {
    pub(crate) tessera: PathBuf,
    pub(crate) ta: String,
    pub(crate) wallet_provider: String,
    pub(crate) issuer: String,
    pub(crate) issuer_token: String,
    pub(crate) verifier: String,
    pub(crate) verifier_token: String,
    pub(crate) http: reqwest::blocking::Client,
    pub(crate) replays: bool,
    /// The verifier's preset asking for the issued credential.
    pub(crate) preset: &'static str,
}

/// Single-use things replayed on purpose, and how many of those replays were accepted.
#[derive(Default)]
pub(crate) struct Replays {
    pub(crate) tried: AtomicU64,
    pub(crate) accepted: AtomicU64,
}

/// A credential a wallet received: the citizen and its status list index.
pub(crate) struct Received {
    pub(crate) citizen: String,
    pub(crate) idx: u64,
}

/// Citizen `i`'s address: 127.1.0.1, 127.1.0.2, ... (all of 127.0.0.0/8 is loopback on
/// Linux, no set-up needed), never 127.0.0.1, the integrator's.
pub(crate) fn address(i: usize) -> IpAddr {
    let [_, _, hi, lo] = u32::try_from(i % 65_000 + 1).unwrap_or(1).to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(127, 1, hi, lo))
}

/// Runs `tessera ARGS` with its connections from `from`; its stdout, or the error it printed.
fn tessera(t: &Target, from: IpAddr, args: &[&str]) -> Result<String, String> {
    let o = Command::new(&t.tessera).env("TESSERA_SOURCE_ADDRESS", from.to_string()).args(args).output().map_err(|e| format!("{}: {e}", t.tessera.display()))?;
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    if o.status.success() {
        Ok(out)
    } else {
        Err(format!("tessera {}: {}{}", args.first().copied().unwrap_or(""), String::from_utf8_lossy(&o.stderr).trim(), out.trim()))
    }
}

/// A POST with a bearer token; the JSON answer of a 2xx, else the error.
fn post(t: &Target, url: &str, token: &str, body: &Value) -> Result<(u16, Value), String> {
    let r = t.http.post(url).bearer_auth(token).json(body).send().map_err(|e| format!("POST {url}: {e}"))?;
    let status = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

fn timed(stats: &Stats, step: &'static str, f: impl FnOnce() -> Result<(), String>) -> bool {
    let start = Instant::now();
    let outcome = f();
    stats.record(step, start.elapsed(), &outcome);
    outcome.is_ok()
}

/// The wallet activated for `fiscal_number` in `dir` (SPID login at the test OP, WAA, WUA).
pub(crate) fn activate(t: &Target, stats: &Stats, dir: &Path, from: IpAddr, fiscal_number: &str) -> bool {
    let d = dir.to_string_lossy();
    timed(stats, "activate", || {
        // The OP's login is rate limited (HTTP 429): wait and try again, for up to 3 minutes.
        let start = Instant::now();
        loop {
            match tessera(t, from, &["wallet", "activate", "--provider", &t.wallet_provider, "--ta", &t.ta, "--data-dir", &d, "--fiscal-number", &format!("TINIT-{fiscal_number}")]) {
                Err(e) if e.contains("HTTP 429") && start.elapsed() < Duration::from_secs(180) => std::thread::sleep(Duration::from_secs(2)),
                other => return other.map(drop),
            }
        }
    })
}

/// One round: an offer at the issuer's admin API, the wallet's issuance, a verifier session,
/// the wallet's answer, the result fetched with the `response_code`; replays when asked.
pub(crate) fn round(t: &Target, stats: &Stats, replays: &Replays, dir: &Path, from: IpAddr, citizen: &str, received: &std::sync::Mutex<Vec<Received>>) {
    let d = dir.to_string_lossy();
    let mut offer_url = String::new();
    if !timed(stats, "offer", || {
        let (s, v) = post(t, &format!("{}/admin/offers", t.issuer), &t.issuer_token, &json!({"citizen": citizen, "tx_code": false}))?;
        offer_url = v.get("offer_url").and_then(Value::as_str).ok_or_else(|| format!("offer: HTTP {s}: {v}"))?.to_owned();
        Ok(())
    }) {
        return;
    }
    let issued = timed(stats, "issue", || {
        let out = tessera(t, from, &["wallet", "issue", &offer_url, "--yes", "--json", "--data-dir", &d, "--ta", &t.ta])?;
        let v: Value = serde_json::from_str(&out).map_err(|e| format!("issue: not JSON ({e}): {out}"))?;
        let stored = v.get("stored").and_then(Value::as_array).cloned().unwrap_or_default();
        if stored.is_empty() {
            return Err(format!("issue: nothing stored: {v}"));
        }
        if let Ok(mut r) = received.lock() {
            for c in stored {
                if let Some(idx) = c.pointer("/status/idx").and_then(Value::as_u64) {
                    r.push(Received { citizen: citizen.to_owned(), idx });
                }
            }
        }
        Ok(())
    });
    if t.replays && issued {
        // The pre-authorized code again (and with it a new DPoP proof and c_nonce round).
        replays.tried.fetch_add(1, Ordering::Relaxed);
        if tessera(t, from, &["wallet", "issue", &offer_url, "--yes", "--json", "--data-dir", &d, "--ta", &t.ta]).is_ok() {
            replays.accepted.fetch_add(1, Ordering::Relaxed);
        }
    }
    if !issued {
        return;
    }
    let (mut sid, mut wallet_url, mut code) = (String::new(), String::new(), String::new());
    if !timed(stats, "present", || {
        let (s, v) = post(t, &format!("{}/sessions", t.verifier), &t.verifier_token, &json!({"preset": t.preset, "flow": "same_device"}))?;
        let (Some(id), Some(url)) = (v.get("session_id").and_then(Value::as_str), v.get("wallet_url").and_then(Value::as_str)) else {
            return Err(format!("session: HTTP {s}: {v}"));
        };
        (sid, wallet_url) = (id.to_owned(), url.to_owned());
        let out = tessera(t, from, &["wallet", "present", &wallet_url, "--yes", "--json", "--data-dir", &d, "--ta", &t.ta])?;
        let v: Value = serde_json::from_str(&out).map_err(|e| format!("present: not JSON ({e}): {out}"))?;
        let redirect = v.get("redirect_uri").and_then(Value::as_str).ok_or_else(|| format!("present: no redirect: {v}"))?;
        code = redirect
            .split(['?', '&', '#'])
            .find_map(|p| p.strip_prefix("response_code="))
            .ok_or_else(|| format!("present: no response_code in {redirect}"))?
            .to_owned();
        Ok(())
    }) {
        return;
    }
    let result_url = format!("{}/sessions/{sid}/result", t.verifier);
    let fetched = timed(stats, "result", || {
        let (s, v) = post(t, &result_url, &t.verifier_token, &json!({"response_code": code}))?;
        if s == 200 && v.get("status").and_then(Value::as_str) == Some("verified") { Ok(()) } else { Err(format!("result: HTTP {s}: {v}")) }
    });
    if t.replays && fetched {
        // The request_uri (and its state) answered again, and the response_code used again.
        replays.tried.fetch_add(2, Ordering::Relaxed);
        if tessera(t, from, &["wallet", "present", &wallet_url, "--yes", "--json", "--data-dir", &d, "--ta", &t.ta]).is_ok() {
            replays.accepted.fetch_add(1, Ordering::Relaxed);
        }
        if post(t, &result_url, &t.verifier_token, &json!({"response_code": code})).is_ok_and(|(s, _)| s == 200) {
            replays.accepted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Keeps running rounds until `deadline`, with the wallet in `dir` connecting from `from`.
pub(crate) fn run(t: &Target, stats: &Stats, replays: &Replays, (dir, from): (&Path, IpAddr), citizen: &str, deadline: Instant, received: &std::sync::Mutex<Vec<Received>>) {
    while Instant::now() < deadline {
        round(t, stats, replays, dir, from, citizen, received);
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_citizen_has_its_own_loopback_address() {
        assert_eq!(address(0), IpAddr::V4(Ipv4Addr::new(127, 1, 0, 1)));
        assert_eq!(address(255), IpAddr::V4(Ipv4Addr::new(127, 1, 1, 0)));
        let all: std::collections::BTreeSet<IpAddr> = (0..1000).map(address).collect();
        assert_eq!(all.len(), 1000);
        assert!(!all.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
}
