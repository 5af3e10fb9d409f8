//! Interop with independent SD-JWT implementations, both directions, driven through their
//! command-line wrappers in `interop/` (installed by `interop/setup.sh`):
//! PyPI `sd-jwt` 0.10.x (the IETF reference implementation) and npm `@sd-jwt/sd-jwt-vc` 0.19.0.
//!
//! For each peer: theirs verifies what we issue and present; we verify what they issue and
//! present; and each side presents what the other issued. Where a peer skips a check
//! (`sd-jwt` does not check `typ`/`exp`/KB `iat`; `@sd-jwt/sd-jwt-vc` does not check KB
//! `aud`), the wrapper says so and our side is the one that enforces it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop")
}

/// The peers are installed by `interop/setup.sh` (the test command runs it and sets
/// `TESSERA_INTEROP=required`); a developer's plain `cargo test` without them is told how.
fn peers_ready() -> bool {
    let d = interop_dir();
    let ready = d.join(".venv/bin/python").exists() && d.join("node_modules/@sd-jwt/sd-jwt-vc").exists();
    if !ready {
        assert!(std::env::var("TESSERA_INTEROP").as_deref() != Ok("required"), "interop peers missing: run interop/setup.sh");
        eprintln!("interop peers not installed: run interop/setup.sh (skipping)");
    }
    ready
}

#[derive(Clone, Copy, Debug)]
enum Party {
    Tessera,
    Python,
    Node,
}

fn run(party: Party, args: &[&str], stdin: &str, dir: &Path) -> Output {
    let d = interop_dir();
    let mut cmd = match party {
        Party::Tessera => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
            c.arg("sd-jwt");
            c
        }
        Party::Python => {
            let mut c = Command::new(d.join(".venv/bin/python"));
            c.arg(d.join("py_sdjwt.py"));
            c
        }
        Party::Node => {
            let mut c = Command::new("node");
            c.arg(d.join("ts_sdjwt.mjs"));
            c
        }
    };
    let mut child =
        cmd.args(args).current_dir(dir).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(party: Party, o: Output) -> String {
    assert!(o.status.success(), "{party:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

struct Fx {
    dir: tempfile::TempDir,
}

impl Fx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for k in ["issuer", "holder"] {
            let o = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["keygen", "--out", k]).current_dir(dir.path()).output().unwrap();
            assert!(o.status.success());
        }
        std::fs::write(
            dir.path().join("claims.json"),
            r#"{"given_name":"Mario","family_name":"Rossi","birthdate":"1980-01-10","tax_id_code":"TINIT-RSSMRA80A10H501A","nationalities":["IT"],"place_of_birth":{"locality":"Roma"}}"#,
        )
        .unwrap();
        Self { dir }
    }

    fn issue(&self, p: Party) -> String {
        let args = ["issue", "--issuer-key", "issuer.jwk", "--holder-key", "holder.pub.jwk", "--claims", "claims.json", "--vct", "urn:eudi:pid:it:1", "--iss", "https://pid.example.it"];
        ok(p, run(p, &args, "", self.dir.path()))
    }

    fn present(&self, p: Party, issued: &str, nonce: &str) -> String {
        let args = ["present", "--holder-key", "holder.jwk", "--aud", "https://rp.example.it", "--nonce", nonce, "--disclose", "given_name,birthdate"];
        ok(p, run(p, &args, issued, self.dir.path()))
    }

    fn verify(&self, p: Party, presentation: &str, nonce: &str) -> Output {
        let args = ["verify", "--issuer-jwk", "issuer.pub.jwk", "--aud", "https://rp.example.it", "--nonce", nonce];
        run(p, &args, presentation, self.dir.path())
    }

    /// `issuer` issues, `holder` presents given_name and birthdate, `verifier` verifies.
    fn round(&self, issuer: Party, holder: Party, verifier: Party) {
        let issued = self.issue(issuer);
        let presentation = self.present(holder, &issued, "nonce-1");
        let claims: serde_json::Value = serde_json::from_str(&ok(verifier, self.verify(verifier, &presentation, "nonce-1"))).unwrap();
        assert_eq!(claims["given_name"], "Mario", "{issuer:?} -> {holder:?} -> {verifier:?}: {claims}");
        assert_eq!(claims["birthdate"], "1980-01-10");
        assert!(claims.get("family_name").is_none(), "undisclosed claim leaked: {claims}");
        assert!(claims.get("tax_id_code").is_none(), "undisclosed claim leaked: {claims}");
        // And the verifier really checks the nonce.
        let refused = self.verify(verifier, &presentation, "nonce-2");
        assert!(!refused.status.success(), "{verifier:?} accepted a wrong nonce");
    }
}

#[test]
fn python_reference_implementation_both_directions() {
    if !peers_ready() {
        return;
    }
    let fx = Fx::new();
    fx.round(Party::Tessera, Party::Tessera, Party::Python); // theirs verifies ours
    fx.round(Party::Tessera, Party::Python, Party::Tessera); // they present what we issued
    fx.round(Party::Python, Party::Tessera, Party::Python); // we present what they issued
    fx.round(Party::Python, Party::Python, Party::Tessera); // we verify theirs
}

#[test]
fn node_sd_jwt_vc_both_directions() {
    if !peers_ready() {
        return;
    }
    let fx = Fx::new();
    fx.round(Party::Tessera, Party::Tessera, Party::Node);
    fx.round(Party::Tessera, Party::Node, Party::Tessera);
    fx.round(Party::Node, Party::Tessera, Party::Node);
    fx.round(Party::Node, Party::Node, Party::Tessera);
}

#[test]
fn python_and_node_presentations_tampered_in_transit_are_refused_by_us() {
    if !peers_ready() {
        return;
    }
    let fx = Fx::new();
    for peer in [Party::Python, Party::Node] {
        let issued = fx.issue(peer);
        let presentation = fx.present(peer, &issued, "nonce-1");
        // Drop the first disclosure: the KB-JWT's sd_hash no longer matches.
        let parts: Vec<&str> = presentation.split('~').collect();
        let mut fewer = parts.clone();
        fewer.remove(1);
        let o = fx.verify(Party::Tessera, &fewer.join("~"), "nonce-1");
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("sd_hash mismatch"), "{peer:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
}
