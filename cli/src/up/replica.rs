//! `tessera up --database-url URL --replicas 2` (issue 14 item 4): the issuers, the verifier
//! and the wallet provider each as two replica processes (`tessera up --serve-replica`, the
//! same configuration as in one process), sharing their PostgreSQL schema and their keys
//! (`keys_dir`: the service's directory; each replica's own data under `replica-<r>`; an
//! issuer's replicas read the one registry file), with Debian's HAProxy in front of each
//! (`scripts/haproxy.sh`: round-robin, `/health` checks, redispatch) at the service's port,
//! which is the entity id every other party sees. A replica that ends (`kill -9`) is started
//! again on its port, and the balancer takes it back once its `/health` answers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use issuer::presets::Preset;

use super::{DIRS, Fed, UpArgs, bind, entity, issuer_config, operator_password, pg, start_issuer, verifier_config, wp_config};
use crate::CliError;
use crate::federation_cmd::{admin_token, runtime, usage};

/// The replicated services: their index (port offset, `DIRS`) and the balancer's name.
const SERVICES: [(usize, &str); 5] = [(2, "motorizzazione"), (4, "wallet_provider"), (5, "verifier"), (6, "pid_provider"), (7, "health_cards")];

/// Where the balancer's connections to the replicas come from: the replicas believe its
/// `X-Forwarded-For` (`scripts/haproxy.sh`: `option forwardfor`), so their per-client rate
/// limits count the wallets, not the balancer.
const BALANCER: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// The balancers' script, unless `TESSERA_HAPROXY_SCRIPT` names another.
const HAPROXY_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/haproxy.sh");

/// The port of replica `r` of the `j`-th replicated service: from base+8, two by two.
fn replica_port(base: u16, j: usize, r: u16) -> Result<u16, CliError> {
    u16::try_from(8 + 2 * j).ok().and_then(|o| base.checked_add(o)).and_then(|p| p.checked_add(r)).ok_or_else(|| usage("--port too high: eighteen consecutive ports are needed"))
}

/// One replica process.
struct Running {
    j: usize,
    r: u16,
    port: u16,
    child: Child,
}

/// The replica processes and their balancers, stopped when dropped.
pub(crate) struct Replicas {
    running: Vec<Running>,
    /// The arguments that start a replica, but `--serve-replica`.
    args: Vec<String>,
    data_dir: PathBuf,
    haproxy_dir: PathBuf,
}

fn haproxy_script() -> String {
    std::env::var("TESSERA_HAPROXY_SCRIPT").unwrap_or_else(|_| HAPROXY_SCRIPT.into())
}

impl Replicas {
    /// Where replica `r` of service `j` writes: `<service>/replica-<r>.log`.
    fn log_path(&self, j: usize, r: u16) -> PathBuf {
        let index = SERVICES.get(j).map_or(0, |s| s.0);
        self.data_dir.join(DIRS.get(index).copied().unwrap_or_default()).join(format!("replica-{r}.log"))
    }

    /// Starts replica `r` of service `j`, its output appended to its log.
    fn spawn(&self, j: usize, r: u16) -> Result<Running, CliError> {
        let log_path = self.log_path(j, r);
        if let Some(dir) = log_path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| CliError::Io { path: dir.display().to_string(), source })?;
        }
        let io = |source| CliError::Io { path: log_path.display().to_string(), source };
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(io)?;
        let err = log.try_clone().map_err(io)?;
        let exe = std::env::current_exe().map_err(usage)?;
        let child = Command::new(exe)
            .arg("up")
            .args(&self.args)
            .args(["--serve-replica", &format!("{j}:{r}")])
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| usage(format!("starting a replica: {e}")))?;
        let base = self.args.iter().position(|a| a == "--port").and_then(|i| self.args.get(i + 1)).and_then(|p| p.parse().ok()).unwrap_or_default();
        Ok(Running { j, r, port: replica_port(base, j, r)?, child })
    }

    /// Each replica: its service, pid and port.
    pub(crate) fn print(&self) {
        println!("Replicas (HAProxy at each service's port, log in {}):", self.haproxy_dir.join("haproxy.log").display());
        for x in &self.running {
            let name = SERVICES.get(x.j).map(|s| s.1).unwrap_or_default();
            println!("  {name:<17} replica {} pid {} port {}", x.r + 1, x.child.id(), x.port);
        }
    }

    /// Until Ctrl-C or SIGTERM: a replica that ends is started again (and printed); then
    /// all stop (a SIGTERM from a process manager must not leave the replicas running).
    pub(crate) async fn supervise(mut self) -> Result<(), CliError> {
        let stop = service_kit::process::shutdown_signal();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return Ok(()),
                () = tokio::time::sleep(Duration::from_millis(300)) => {}
            }
            let mut ended = Vec::new();
            for (i, x) in self.running.iter_mut().enumerate() {
                if let Ok(Some(status)) = x.child.try_wait() {
                    ended.push((i, status));
                }
            }
            for (i, status) in ended {
                let Some((j, r)) = self.running.get(i).map(|x| (x.j, x.r)) else { continue };
                let name = SERVICES.get(j).map(|s| s.1).unwrap_or_default();
                eprintln!("tessera up: {name} replica {} ended ({status}): starting it again", r + 1);
                match self.spawn(j, r) {
                    Ok(new) => {
                        println!("  {name:<17} replica {} pid {} port {} (restarted)", r + 1, new.child.id(), new.port);
                        if let Some(slot) = self.running.get_mut(i) {
                            *slot = new;
                        }
                    }
                    Err(e) => eprintln!("tessera up: {name} replica {}: {e}", r + 1),
                }
            }
        }
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for x in &mut self.running {
            let _ = x.child.kill();
            let _ = x.child.wait();
        }
        let _ = Command::new(haproxy_script()).arg("--stop").arg(&self.haproxy_dir).status();
    }
}

/// Waits until `url` answers 200, at most `limit`.
async fn wait_ok(http: &reqwest::Client, url: &str, limit: Duration) -> Result<(), CliError> {
    let start = Instant::now();
    loop {
        if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(usage(format!("{url} did not answer within {} s", limit.as_secs())));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Waits until the replica `x` answers `/health`, at most a minute; a replica that ends
/// first (a port taken, a bad schema) is an error at once, with the end of its log.
async fn wait_replica(http: &reqwest::Client, x: &mut Running, log: &Path) -> Result<(), CliError> {
    let url = format!("http://127.0.0.1:{}/health", x.port);
    let name = SERVICES.get(x.j).map(|s| s.1).unwrap_or_default();
    let start = Instant::now();
    loop {
        if http.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if let Ok(Some(status)) = x.child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(usage(format!("{name} replica {} ended ({status}) before answering on port {}; {}:\n{}", x.r + 1, x.port, log.display(), tail.join("\n"))));
        }
        if start.elapsed() > Duration::from_secs(60) {
            return Err(usage(format!("{name} replica {}: {url} did not answer within 60 s (its log: {})", x.r + 1, log.display())));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Starts every replica (one after the other: the first of a service makes its keys), then
/// the balancers, and waits until each balancer answers.
pub(crate) async fn start(a: &UpArgs) -> Result<Replicas, CliError> {
    let url = a.database_url.clone().ok_or_else(|| usage("--replicas needs --database-url"))?;
    let data_dir = std::path::absolute(&a.data_dir).map_err(usage)?;
    let args = vec![
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--port".into(),
        a.port.to_string(),
        "--database-url".into(),
        url,
        "--schema-prefix".into(),
        a.schema_prefix.clone(),
    ];
    let haproxy_dir = data_dir.join("haproxy");
    let mut all = Replicas { running: Vec::new(), args, data_dir, haproxy_dir };
    let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().map_err(usage)?;
    let mut specs = Vec::new();
    for (j, (index, name)) in SERVICES.into_iter().enumerate() {
        let mut ports = Vec::new();
        for r in 0..a.replicas {
            let mut x = all.spawn(j, r)?;
            let port = x.port;
            let waited = wait_replica(&http, &mut x, &all.log_path(j, r)).await;
            all.running.push(x);
            waited?;
            ports.push(format!("127.0.0.1:{port}"));
        }
        let at = a.port.checked_add(u16::try_from(index).map_err(usage)?).ok_or_else(|| usage("--port too high"))?;
        specs.push(format!("{name}:{at}={}", ports.join(",")));
    }
    let o = Command::new(haproxy_script()).arg(&all.haproxy_dir).args(&specs).output().map_err(|e| usage(format!("{}: {e}", haproxy_script())))?;
    if !o.status.success() {
        return Err(usage(format!("the balancers did not start: {}", String::from_utf8_lossy(&o.stderr).trim())));
    }
    for (index, _) in SERVICES {
        let at = a.port.checked_add(u16::try_from(index).map_err(usage)?).ok_or_else(|| usage("--port too high"))?;
        wait_ok(&http, &format!("http://127.0.0.1:{at}/health"), Duration::from_secs(30)).await?;
    }
    Ok(all)
}

/// `--serve-replica <j>:<r>`: serves replica `r` of the `j`-th replicated service on its port,
/// until its standard input closes.
pub(crate) fn serve(a: &UpArgs, which: &str) -> Result<(), CliError> {
    let bad = || usage(format!("--serve-replica {which:?}"));
    let (j, r) = which.split_once(':').ok_or_else(bad)?;
    let (j, r): (usize, u16) = (j.parse().map_err(|_| bad())?, r.parse().map_err(|_| bad())?);
    let (index, _) = SERVICES.get(j).copied().ok_or_else(bad)?;
    let dir_name = DIRS.get(index).copied().ok_or_else(bad)?;
    let shared = a.data_dir.join(dir_name);
    let own = shared.join(format!("replica-{r}"));
    let port = replica_port(a.port, j, r)?;
    let url = a.database_url.as_deref().ok_or_else(|| usage("--serve-replica needs --database-url"))?;
    let db = pg::Schemas::create(url, &a.schema_prefix).map_err(usage)?.url(&dir_name.replace('-', "_"));
    let token = admin_token(&shared)?;
    let ta_dir = a.data_dir.join(DIRS[0]);
    let jwks = trust_anchor::keys::KeyRing::load_or_create(&ta_dir).map_err(usage)?.published();
    let ta = entity(a.port)?;
    let fed = Fed {
        ta: ta.clone(),
        int: entity(a.port.checked_add(1).ok_or_else(bad)?)?,
        op: entity(a.port.checked_add(3).ok_or_else(bad)?)?,
        anchor: wallet_core::federation::TrustAnchorConfig { id: ta, jwks },
        base: a.port,
        // Written by the anchor at its first start, before any replica is started: without
        // it this replica would skip the `x5c` and CRL checks the others make.
        x509_roots_pem: std::fs::read(ta_dir.join("ca-root.der"))
            .map(|der| wallet_core::x509::certificate_pem(&der))
            .map_err(|e| usage(format!("{}: {e} (the trust anchor's root)", ta_dir.join("ca-root.der").display())))?,
    };
    // The parent is gone (its end of our standard input closed): so are we.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    runtime()?.block_on(async move {
        match index {
            4 => {
                let mut c = wp_config(&a.data_dir, &fed, token, Some(db))?;
                share(&mut c.data_dir, &mut c.keys_dir, &shared, &own);
                c.rate_limits.trusted_proxies = vec![BALANCER];
                let state = wallet_provider::WalletProvider::open(c).map_err(|e| usage(format!("wallet provider: {e}")))?;
                service_kit::serve::serve(bind(port).await?, wallet_provider::router(state), std::future::pending()).await.map_err(usage)?;
            }
            5 => {
                let password = operator_password(&shared)?;
                let mut c = verifier_config(&a.data_dir, &fed, token, Some(db), &password)?;
                share(&mut c.data_dir, &mut c.keys_dir, &shared, &own);
                c.rate_limits.trusted_proxies = vec![BALANCER];
                let state = verifier::Verifier::open(c).map_err(|e| usage(format!("verifier: {e}")))?;
                verifier::serve_listener(state, bind(port).await?, std::future::pending()).await.map_err(usage)?;
            }
            _ => {
                let preset = match index {
                    2 => Preset::Mdl,
                    6 => Preset::Pid,
                    _ => Preset::HealthCard,
                };
                // The registry stays the service's one file (Config::new put it there).
                let mut c = issuer_config(&a.data_dir, &fed, preset, token, Some(db))?;
                share(&mut c.data_dir, &mut c.keys_dir, &shared, &own);
                c.rate_limits.trusted_proxies = vec![BALANCER];
                start_issuer(c, port, preset).await?;
                std::future::pending::<()>().await;
            }
        }
        Ok(())
    })
}

/// A replica's own data directory, and the service's keys (shared by its replicas).
fn share(data_dir: &mut PathBuf, keys_dir: &mut Option<PathBuf>, shared: &Path, own: &Path) {
    *data_dir = own.to_path_buf();
    *keys_dir = Some(shared.to_path_buf());
}
