//! `tessera-loadtest`: N concurrent citizens against a running `tessera up` (issue 14 item 5),
//! with faults under load (item 6): `kill -9` of replicas, a PostgreSQL restart. At the end,
//! per step: count, per second, p50, p99, errors; then the fault counts: requests served after
//! the kill and by which replica, every credential a wallet received found in the issuer's
//! records, single-use replays accepted (must be 0), the killed replicas answering again.

mod citizen;
mod faults;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::Value;

use citizen::{Received, Replays, Target};
use stats::Stats;

/// The registries' sample citizens (the issuer's `samples::CITIZENS`); a pre-authorized offer
/// for one of them can be asked for any number of times.
const CITIZENS: [&str; 3] = ["RSSMRA80A10H501Z", "VRDLGU85M41F205X", "BNCGPP90C15L219K"];
/// The test OP's identities, whose SPID logins activate the wallets (the wallet provider keeps
/// at most 10 instances per citizen by default: 80 activated wallets at most).
const IDENTITIES: [&str; 8] = [
    "RSSMRA80A10H501Z",
    "VRDLGU85M41F205X",
    "BNCGPP90C15L219K",
    "RSSMRA80A01H501U",
    "BNCGLI85M41F205Z",
    "VRDLCU90T10L219X",
    "SPSNNA75E55F839K",
    "FRRGPP60C12G273E",
];
/// Those whose driving licence is ready (VRDLGU85M41F205X's issuance is deferred).
const MDL_CITIZENS: [&str; 2] = ["RSSMRA80A10H501Z", "BNCGPP90C15L219K"];

#[derive(Parser)]
#[command(about = "Load test (and faults under load) for a running `tessera up`")]
struct Args {
    /// `tessera up`'s data directory (the admin tokens).
    #[arg(long)]
    data_dir: PathBuf,
    /// `tessera up`'s first port on 127.0.0.1.
    #[arg(long, default_value_t = 7600)]
    port: u16,
    /// Concurrent citizens, each with a wallet of its own.
    #[arg(long, default_value_t = 10)]
    citizens: usize,
    /// Seconds of load after the activations.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Also replay single-use things on purpose (a used pre-authorized code with a fresh DPoP
    /// proof, a used request_uri and its state, a used response_code) and count acceptances.
    #[arg(long)]
    replays: bool,
    /// The issuer the credentials come from: `motorizzazione` (mDL) or `pid`.
    #[arg(long, default_value = "motorizzazione")]
    issuer: String,
    /// `kill -9` replica 1 of this service (as `tessera up` names it: motorizzazione,
    /// verifier, wallet_provider, pid_provider, health_cards) mid-run; repeatable.
    #[arg(long)]
    kill_replica: Vec<String>,
    /// Seconds into the load phase for the kills and the PostgreSQL restart.
    #[arg(long, default_value_t = 3)]
    after: u64,
    /// `tessera up`'s output (its replica pids), for --kill-replica.
    #[arg(long)]
    up_log: Option<PathBuf>,
    /// Restart PostgreSQL mid-run with `SCRIPT restart` (scripts/postgres.sh).
    #[arg(long, value_name = "SCRIPT")]
    restart_postgres: Option<PathBuf>,
    /// Wallets activated for real (SPID login, WAA, WUA), at most 4 at a time; the test
    /// OP's login is rate limited per client (120 a minute), so beyond this pool each
    /// citizen's wallet directory starts as a copy of an activated one (its own credential
    /// store from then on, the instance and its attestations shared). Default: all.
    #[arg(long)]
    pool: Option<usize>,
    /// The `tessera` binary (default: next to this one, else on PATH).
    #[arg(long)]
    tessera: Option<PathBuf>,
}

fn token(data_dir: &std::path::Path, dir: &str) -> Result<String, String> {
    let p = data_dir.join(dir).join("admin-token");
    std::fs::read_to_string(&p).map(|t| t.trim().to_owned()).map_err(|e| format!("{}: {e} (--data-dir: tessera up's)", p.display()))
}

fn tessera_binary(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("tessera"))).filter(|p| p.exists()).unwrap_or_else(|| PathBuf::from("tessera"))
    })
}

/// A copy of the wallet directory `from` (files and subdirectories).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() { copy_dir(&entry.path(), &target)? } else { std::fs::copy(entry.path(), target).map(drop)? }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("tessera-loadtest: {e}");
            ExitCode::from(2)
        }
    }
}

/// The run; whether every invariant held.
fn run(a: &Args) -> Result<bool, String> {
    let at = |i: u16| a.port.checked_add(i).map(|p| format!("http://127.0.0.1:{p}")).ok_or("the port is too high");
    let (issuer_offset, issuer_dir, citizens): (u16, &str, &[&str]) = match a.issuer.as_str() {
        "motorizzazione" => (2, "motorizzazione", &MDL_CITIZENS),
        "pid" => (6, "pid-provider", &CITIZENS),
        other => return Err(format!("--issuer {other}: motorizzazione or pid")),
    };
    if !a.kill_replica.is_empty() && a.up_log.is_none() {
        return Err("--kill-replica needs --up-log (tessera up's output, with the replicas' pids)".into());
    }
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().map_err(|e| e.to_string())?;
    let target = Target {
        tessera: tessera_binary(a.tessera.clone()),
        ta: at(0)?,
        wallet_provider: at(4)?,
        issuer: at(issuer_offset)?,
        issuer_token: token(&a.data_dir, issuer_dir)?,
        verifier: at(5)?,
        verifier_token: token(&a.data_dir, "verifier")?,
        http,
        replays: a.replays,
        preset: if a.issuer == "pid" { "pid" } else { "driving_licence" },
    };
    let root = std::env::temp_dir().join(format!("tessera-loadtest-{}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let stats = Stats::default();
    let activations = Stats::default();
    let replays = Replays::default();
    let received: Mutex<Vec<Received>> = Mutex::new(Vec::new());
    let haproxy_log = a.data_dir.join("haproxy").join("haproxy.log");

    // Activation: the pool's wallets, 4 at a time (SPID login at the test OP, WAA, WUA).
    let pool = a.pool.unwrap_or(a.citizens).clamp(1, a.citizens.max(1));
    println!("activating {pool} wallets for {} citizens...", a.citizens);
    let start = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let activated: Mutex<Vec<(usize, PathBuf)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4.min(pool) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= pool {
                        break;
                    }
                    let dir = root.join(format!("wallet-{i}"));
                    let login = IDENTITIES.get((i + 3) % IDENTITIES.len()).copied().unwrap_or("RSSMRA80A10H501Z");
                    if citizen::activate(&target, &activations, &dir, citizen::address(i), login)
                        && let Ok(mut v) = activated.lock()
                    {
                        v.push((i, dir));
                    }
                }
            });
        }
    });
    let mut activated = activated.into_inner().unwrap_or_default();
    activated.sort();
    let took = start.elapsed();
    println!("{} of {pool} wallets activated in {:.1} s", activated.len(), took.as_secs_f64());
    print!("{}", activations.report(took));
    let mut active: Vec<(PathBuf, std::net::IpAddr, &str)> = Vec::new();
    for i in 0..a.citizens {
        let Some((_, from)) = activated.get(i % activated.len().max(1)) else { break };
        // The registry citizen the offers are for (any activated wallet may take a
        // pre-authorized offer).
        let cf = citizens.get(i % citizens.len()).copied().unwrap_or("RSSMRA80A10H501Z");
        if i < activated.len() {
            active.push((from.clone(), citizen::address(i), cf));
        } else {
            let dir = root.join(format!("wallet-{i}"));
            copy_dir(from, &dir).map_err(|e| format!("copying {} to {}: {e}", from.display(), dir.display()))?;
            active.push((dir, citizen::address(i), cf));
        }
    }

    // The load, with the faults at --after seconds.
    let start = Instant::now();
    let deadline = start + Duration::from_secs(a.duration);
    let mut killed = Vec::new();
    let mut pg_restart: Option<Result<(), String>> = None;
    std::thread::scope(|s| {
        for (dir, from, cf) in &active {
            let (t, st, r, rec) = (&target, &stats, &replays, &received);
            s.spawn(move || citizen::run(t, st, r, (dir, *from), cf, deadline, rec));
        }
        if !a.kill_replica.is_empty() || a.restart_postgres.is_some() {
            std::thread::sleep(Duration::from_secs(a.after));
            if let Some(up_log) = &a.up_log {
                for service in &a.kill_replica {
                    match faults::kill(up_log, &haproxy_log, service) {
                        Ok(k) => {
                            println!("{:.1} s: kill -9 of {} replica 1 (pid {})", start.elapsed().as_secs_f64(), service, k.replica.pid);
                            killed.push(k);
                        }
                        Err(e) => println!("kill of {service}: {e}"),
                    }
                }
            }
            if let Some(script) = &a.restart_postgres {
                let r = faults::restart_postgres(script);
                println!("{:.1} s: PostgreSQL restart: {}", start.elapsed().as_secs_f64(), r.as_ref().map_or_else(Clone::clone, |()| "done".into()));
                pg_restart = Some(r);
            }
        }
    });
    let elapsed = start.elapsed();

    println!("\n{} citizens ({} active), {:.1} s of load:", a.citizens, active.len(), elapsed.as_secs_f64());
    print!("{}", stats.report(elapsed));
    let errors = stats.errors() + activations.errors();
    println!("errors: {errors}");
    let mut ok = !active.is_empty();

    // Every credential a wallet received is in the issuer's records.
    let received = received.into_inner().unwrap_or_default();
    let mut known: std::collections::BTreeMap<&str, std::collections::BTreeSet<u64>> = Default::default();
    for &cf in citizens {
        let url = format!("{}/admin/citizens/{cf}/credentials", target.issuer);
        let v: Value = target.http.get(&url).bearer_auth(&target.issuer_token).send().and_then(|r| r.json()).map_err(|e| format!("GET {url}: {e}"))?;
        let idx = v.get("credentials").and_then(Value::as_array).into_iter().flatten().filter_map(|c| c.get("status_idx").and_then(Value::as_u64));
        known.insert(cf, idx.collect());
    }
    let missing = received.iter().filter(|r| !known.get(r.citizen.as_str()).is_some_and(|s| s.contains(&r.idx))).count();
    println!("credentials received by the wallets: {}, missing from the issuer's records: {missing}", received.len());
    ok &= missing == 0;
    if a.replays {
        let (tried, accepted) = (replays.tried.load(std::sync::atomic::Ordering::Relaxed), replays.accepted.load(std::sync::atomic::Ordering::Relaxed));
        println!("replays tried: {tried}, accepted: {accepted}");
        ok &= accepted == 0;
    }
    for k in &killed {
        let (one, two) = faults::served_since(k, &haproxy_log);
        println!("{}: requests after the kill: {} (replica 1: {one}, replica 2: {two})", k.replica.service, one + two);
        let back = a.up_log.as_deref().and_then(|l| faults::rejoined(k, l, Duration::from_secs(60)));
        match back {
            Some(pid) => println!(
                "{}: replica 1 restarted (pid {pid}) and /health answers on port {} ({:.1} s after the kill)",
                k.replica.service,
                k.replica.port,
                k.at.elapsed().as_secs_f64()
            ),
            None => {
                println!("{}: replica 1 did not come back", k.replica.service);
                ok = false;
            }
        }
    }
    if let Some(Err(_)) = pg_restart {
        ok = false;
    }
    let _ = std::fs::remove_dir_all(&root);
    println!("{}", if ok { "invariants: held" } else { "invariants: BROKEN" });
    Ok(ok)
}
