//! A `tessera … serve` process in a test: started and waited for until `/health` answers,
//! then stopped with SIGTERM, which must end it gracefully.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port free a moment ago, and its `http://127.0.0.1:PORT` base URL.
pub(crate) fn free_port() -> (u16, String) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (port, format!("http://127.0.0.1:{port}"))
}

/// `tessera ARGS` started, once `{base}/health` answers (at most 30 s).
pub(crate) fn serve(args: &[&str], base: &str) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).env("TESSERA_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let http = reqwest::blocking::Client::new();
    let start = Instant::now();
    while !http.get(format!("{base}/health")).send().is_ok_and(|r| r.status() == 200) {
        assert!(start.elapsed() < Duration::from_secs(30), "`tessera {}` did not come up", args.join(" "));
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// SIGTERM, then the exit (which must be a success) and what it printed.
pub(crate) fn stop(child: &mut Child) -> String {
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the service did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    out
}
