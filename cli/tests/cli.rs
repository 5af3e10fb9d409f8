//! The `tessera` binary end to end: keys, issuance, presentation, verification, inspection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn tessera(args: &[&str], stdin: &str, dir: &std::path::Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

struct Fx {
    dir: tempfile::TempDir,
}

impl Fx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fx = Self { dir };
        ok(&fx.run(&["keygen", "--out", "issuer"], ""));
        ok(&fx.run(&["keygen", "--out", "holder"], ""));
        std::fs::write(
            fx.dir.path().join("pid.json"),
            r#"{"given_name":"Mario","family_name":"Rossi","birthdate":"1980-01-10","tax_id_code":"TINIT-RSSMRA80A10H501A","place_of_birth":{"locality":"Roma"},"nationalities":["IT"],"issuing_authority":"Test","issuing_country":"IT"}"#,
        )
        .unwrap();
        fx
    }
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        tessera(args, stdin, self.dir.path())
    }
    fn issue(&self, extra: &[&str]) -> String {
        let mut args = vec![
            "sd-jwt", "issue", "--issuer-key", "issuer.jwk", "--holder-key", "holder.pub.jwk", "--claims", "pid.json", "--vct",
            "urn:eudi:pid:it:1",
        ];
        args.extend_from_slice(extra);
        ok(&self.run(&args, ""))
    }
    fn present(&self, issued: &str, disclose: &str) -> String {
        ok(&self.run(&["sd-jwt", "present", "--holder-key", "holder.jwk", "--aud", "https://rp", "--nonce", "n-1", "--disclose", disclose], issued))
    }
}

#[test]
fn keygen_writes_private_with_0600_and_public_without_d() {
    let fx = Fx::new();
    let public = std::fs::read_to_string(fx.dir.path().join("holder.pub.jwk")).unwrap();
    assert!(!public.contains("\"d\""));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(fx.dir.path().join("holder.jwk")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn issue_present_verify_discloses_only_the_chosen_claims() {
    let fx = Fx::new();
    let issued = fx.issue(&["--status-uri", "https://issuer/status/1", "--status-idx", "7"]);
    let p = fx.present(&issued, "given_name,place_of_birth.locality");
    let out = ok(&fx.run(&["sd-jwt", "verify", "--issuer-jwk", "issuer.pub.jwk", "--aud", "https://rp", "--nonce", "n-1"], &p));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["given_name"], "Mario");
    assert_eq!(v["place_of_birth"]["locality"], "Roma");
    assert_eq!(v["status"]["status_list"]["idx"], 7);
    assert!(v.get("family_name").is_none());
    assert!(v.get("tax_id_code").is_none());
}

#[test]
fn verify_names_the_failed_check() {
    let fx = Fx::new();
    let p = fx.present(&fx.issue(&[]), "given_name");
    let o = fx.run(&["sd-jwt", "verify", "--issuer-jwk", "issuer.pub.jwk", "--aud", "https://rp", "--nonce", "other"], &p);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("KB-JWT nonce mismatch"), "{}", String::from_utf8_lossy(&o.stderr));
    let o = fx.run(&["sd-jwt", "verify", "--issuer-jwk", "holder.pub.jwk"], &p);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("issuer signature invalid"));
}

#[test]
fn sd_option_narrows_what_is_disclosable() {
    let fx = Fx::new();
    let issued = fx.issue(&["--sd", "tax_id_code"]);
    let out = ok(&fx.run(&["inspect"], &issued));
    assert!(out.contains("== disclosures (1) =="), "{out}");
    assert!(out.contains("tax_id_code"));
}

#[test]
fn inspect_shows_disclosures_with_digests_and_the_kb_jwt() {
    let fx = Fx::new();
    let p = fx.present(&fx.issue(&[]), "family_name");
    let out = ok(&fx.run(&["inspect"], &p));
    assert!(out.contains("\"typ\": \"dc+sd-jwt\""));
    assert!(out.contains("- family_name: \"Rossi\"\n  digest: "));
    assert!(out.contains("== KB-JWT =="));
    assert!(out.contains("\"typ\": \"kb+jwt\""));
}

#[test]
fn bad_inputs_are_named() {
    let fx = Fx::new();
    let o = fx.run(&["sd-jwt", "present", "--holder-key", "holder.jwk", "--aud", "a", "--nonce", "n"], "not an sd-jwt");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no `~` separator"));
    let o = fx.run(&["sd-jwt", "issue", "--issuer-key", "issuer.pub.jwk", "--holder-key", "holder.pub.jwk", "--claims", "pid.json", "--vct", "x"], "");
    assert_eq!(o.status.code(), Some(1));
    let o = fx.run(&["sd-jwt", "present", "--holder-key", "holder.jwk", "--aud", "a", "--nonce", "n", "--disclose", "nope"], &fx.issue(&[]));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no claim at path nope"));
}

/// `TESSERA_SOURCE_ADDRESS`: the wallet's connections leave from it (the load test gives each
/// simulated citizen its own); a value that is not an address is refused, named.
#[test]
fn wallet_connections_leave_from_the_source_address() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = format!("http://{}", listener.local_addr().unwrap());
    let data = dir.path().join("w");
    let run = |source: &str| {
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["wallet", "activate", "--provider", &at, "--ta", &at, "--data-dir", data.to_str().unwrap()])
            .env("TESSERA_SOURCE_ADDRESS", source)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let bad = run("not-an-ip").wait_with_output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("TESSERA_SOURCE_ADDRESS: not an IP address"), "{}", String::from_utf8_lossy(&bad.stderr));

    let child = run("127.1.0.9");
    let (conn, peer) = listener.accept().unwrap();
    drop(conn);
    assert_eq!(peer.ip(), "127.1.0.9".parse::<std::net::IpAddr>().unwrap());
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success(), "no trust anchor answered");
}
