//! `docs/operators.md` cannot rot: every ```toml block in it is loaded by its service's own
//! configuration loader, the function `serve --config` calls (`issuer::Config::load`,
//! `verifier::Config::load`, `wallet_provider::Config::load`, `trust_anchor::Config::from_file`),
//! which parses, applies the environment overrides and validates; every ```sh block of
//! environment overrides is applied to its service's first example through the same parser
//! (`from_toml`); and the examples that need no PostgreSQL and no TLS files are then opened
//! (`Issuer::open`, `Verifier::open`, `WalletProvider::open`, `AppState::open`: keys created,
//! SQLite databases made) in a temporary directory.
//!
//! Conventions of the document (the test refuses a block that breaks them):
//! - a ```toml block starts with `# config: <service>`, the service one of `issuer`,
//!   `verifier`, `federation`, `wallet-provider`;
//! - a ```sh block of overrides starts with `# env: <service>` and has `export NAME=value`
//!   lines;
//! - paths under `/etc/tessera/` and `/var/lib/tessera/` are rewritten into the temporary
//!   directory; the files the loaders read there (the trust anchor's JWK Set, the federation
//!   root, the TLS CA and the Android roots in PEM, the PDND keys, the admin token file) are made first with the
//!   crates' own functions (`trust_anchor::keys::KeyRing`, `trust_anchor::ca::root_certificate`).
//!   `[tls]` files are read when a service starts serving, not by the loaders: examples with
//!   `[tls]` are loaded and validated, not opened.
//!
//! Every `tessera …` command the document shows (in inline code and in ```sh blocks) must
//! exist, with every `--flag` it is shown with: the built `tessera` is asked for its `--help`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

const DOC: &str = include_str!("../../docs/operators.md");

/// The password whose hash is the example operator's `password_hash` in the document.
const EXAMPLE_OPERATOR_PASSWORD: &str = "change-me-now";

const SERVICES: [&str; 4] = ["issuer", "verifier", "federation", "wallet-provider"];

/// A fenced block of the document.
struct Block {
    /// `toml` or `sh`.
    lang: String,
    /// The tag of its first line (`# config: issuer` → `issuer`), if any.
    tag: Option<(String, String)>,
    text: String,
    /// The line of the opening fence (1-based), for messages.
    line: usize,
}

fn blocks() -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize, Vec<&str>)> = None;
    for (i, line) in DOC.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(lang) = trimmed.strip_prefix("```") {
                    open = Some((lang.trim().to_owned(), i + 1, Vec::new()));
                }
            }
            Some((lang, start, body)) => {
                if trimmed.starts_with("```") {
                    let tag = body.first().and_then(|first| {
                        let rest = first.trim().strip_prefix('#')?.trim();
                        let (kind, name) = rest.split_once(':')?;
                        Some((kind.trim().to_owned(), name.trim().to_owned()))
                    });
                    out.push(Block { lang: lang.clone(), tag, text: body.join("\n") + "\n", line: *start });
                    open = None;
                } else {
                    body.push(line);
                }
            }
        }
    }
    assert!(open.is_none(), "docs/operators.md: a code fence is not closed");
    out
}

/// The temporary directory with the files the examples name.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let etc = root.join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::create_dir_all(root.join("var")).unwrap();
        // A trust anchor's keys, as its operator would publish them (its Entity
        // Configuration's `jwks`), and its root certificate (`/ca`) in PEM.
        let ta_dir = root.join("anchor");
        let ring = trust_anchor::keys::KeyRing::load_or_create(&ta_dir).unwrap();
        let jwks = serde_json::to_string(&ring.published()).unwrap();
        std::fs::write(etc.join("ta.jwks"), &jwks).unwrap();
        std::fs::write(etc.join("pdnd.jwks"), &jwks).unwrap();
        let anchor = wallet_core::federation::EntityId::new("https://ta.example.it").unwrap();
        let now = wallet_core::time::UnixTime::now().secs();
        let der = trust_anchor::ca::root_certificate(&anchor, ring.current(), now).unwrap();
        let pem = wallet_core::x509::certificate_pem(&der);
        std::fs::write(etc.join("federation-root.pem"), &pem).unwrap();
        std::fs::write(etc.join("tls-ca.pem"), &pem).unwrap();
        // Any root stands for Google's Android Key Attestation roots here.
        std::fs::write(etc.join("android-attestation-roots.pem"), &pem).unwrap();
        std::fs::write(etc.join("ta-admin-token"), "a-long-random-admin-token-0123456789\n").unwrap();
        Self { _dir: dir, root }
    }

    /// The block's text with the operator's paths moved under the temporary directory.
    fn localise(&self, text: &str) -> String {
        let etc = format!("{}/etc/", self.root.display());
        let var = format!("{}/var/", self.root.display());
        text.replace("/etc/tessera/", &etc).replace("/var/lib/tessera/", &var)
    }

    /// Writes `text` (localised) to a file of its own and returns the path.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.root.join(name);
        std::fs::write(&path, self.localise(text)).unwrap();
        path
    }
}

/// A runtime for the services that spawn tasks when opened.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// Loads one tagged block with its service's loader; opens the service when the example
/// needs neither PostgreSQL nor TLS files. Returns what was done, for the summary.
fn load(f: &Fixture, b: &Block, service: &str, rt: &tokio::runtime::Runtime) -> &'static str {
    let at = format!("docs/operators.md line {} (`# config: {service}`)", b.line);
    let path = f.write(&format!("block-{}.toml", b.line), &b.text);
    let _guard = rt.enter();
    match service {
        "issuer" => {
            let c = issuer::Config::load(&path).unwrap_or_else(|e| panic!("{at}: {e}"));
            if c.database_url.is_some() || c.registry_url.is_some() || c.tls.is_some() {
                return "loaded";
            }
            if !c.registry.exists() {
                let preset = c.credentials[0].preset;
                issuer::samples::load(&c.registry, preset).unwrap_or_else(|e| panic!("{at}: sample registry: {e}"));
            }
            issuer::Issuer::open(c).unwrap_or_else(|e| panic!("{at}: open: {e}"));
            "loaded and opened"
        }
        "verifier" => {
            let c = verifier::Config::load(&path).unwrap_or_else(|e| panic!("{at}: {e}"));
            for op in &c.web.operators {
                assert!(
                    verifier::web::verify_password(EXAMPLE_OPERATOR_PASSWORD, &op.password_hash),
                    "{at}: operator {}: password_hash is not the argon2 hash of {EXAMPLE_OPERATOR_PASSWORD:?} (make it with `tessera verifier hash-password`)",
                    op.username
                );
            }
            if c.database_url.is_some() || c.tls.is_some() {
                return "loaded";
            }
            verifier::Verifier::open(c).unwrap_or_else(|e| panic!("{at}: open: {e}"));
            "loaded and opened"
        }
        "wallet-provider" => {
            let c = wallet_provider::Config::load(&path).unwrap_or_else(|e| panic!("{at}: {e}"));
            if c.database_url.is_some() {
                return "loaded";
            }
            wallet_provider::WalletProvider::open(c).unwrap_or_else(|e| panic!("{at}: open: {e}"));
            "loaded and opened"
        }
        "federation" => {
            let s = trust_anchor::Config::from_file(&path).unwrap_or_else(|e| panic!("{at}: {e}"));
            if s.config.database_url.is_some() {
                return "loaded";
            }
            trust_anchor::AppState::open(s.config).unwrap_or_else(|e| panic!("{at}: open: {e}"));
            "loaded and opened"
        }
        other => panic!("{at}: unknown service `{other}` (one of {SERVICES:?})"),
    }
}

/// `export NAME=value` lines of an env block.
fn exports(b: &Block) -> Vec<(String, String)> {
    b.text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("docs/operators.md line {}: `{l}` is not NAME=value", b.line));
            (k.trim().to_owned(), v.trim().trim_matches('"').trim_matches('\'').to_owned())
        })
        .collect()
}

/// Applies an env block to the service's first example, through the loader's own parser.
fn apply_env(f: &Fixture, b: &Block, service: &str, base: &Block) {
    let at = format!("docs/operators.md line {} (`# env: {service}`)", b.line);
    let env: Vec<(String, String)> = exports(b).into_iter().map(|(k, v)| (k, f.localise(&v))).collect();
    assert!(!env.is_empty(), "{at}: no variables");
    let text = f.localise(&base.text);
    match service {
        "issuer" => {
            assert!(env.iter().all(|(k, _)| k.starts_with("TESSERA_ISSUER_")), "{at}: not an issuer variable");
            issuer::Config::from_toml(&text, env).unwrap_or_else(|e| panic!("{at}: {e}"));
        }
        "verifier" => {
            assert!(env.iter().all(|(k, _)| k.starts_with("TESSERA_VERIFIER_")), "{at}: not a verifier variable");
            verifier::Config::from_toml(&text, env).unwrap_or_else(|e| panic!("{at}: {e}"));
        }
        "wallet-provider" => {
            assert!(env.iter().all(|(k, _)| k.starts_with("TESSERA_WP_")), "{at}: not a wallet provider variable");
            wallet_provider::Config::from_toml(&text, env).unwrap_or_else(|e| panic!("{at}: {e}"));
        }
        "federation" => {
            // This loader ignores names it does not know: each must be one of its overrides.
            for (k, _) in &env {
                assert!(trust_anchor::config::ENV_OVERRIDES.iter().any(|(name, _)| name == k), "{at}: {k} is not one of trust_anchor::config::ENV_OVERRIDES");
            }
            let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            trust_anchor::Config::from_toml(&text, "operators.md", Path::new("/"), &lookup).unwrap_or_else(|e| panic!("{at}: {e}"));
        }
        other => panic!("{at}: unknown service `{other}`"),
    }
}

#[test]
fn every_example_configuration_loads_with_its_service_loader() {
    let f = Fixture::new();
    let rt = runtime();
    let all = blocks();
    let mut loaded = std::collections::BTreeMap::<String, Vec<String>>::new();
    for b in all.iter().filter(|b| b.lang == "toml") {
        let Some((kind, service)) = &b.tag else {
            panic!("docs/operators.md line {}: a ```toml block must start with `# config: <service>` ({SERVICES:?})", b.line);
        };
        assert_eq!(kind, "config", "docs/operators.md line {}: the tag is `# config: <service>`", b.line);
        let what = load(&f, b, service, &rt);
        loaded.entry(service.clone()).or_default().push(format!("line {}: {what}", b.line));
    }
    for s in SERVICES {
        assert!(loaded.contains_key(s), "docs/operators.md has no `# config: {s}` example");
    }
    for b in all.iter().filter(|b| b.lang == "sh") {
        let Some((kind, service)) = &b.tag else { continue };
        if kind != "env" {
            continue;
        }
        let base = all
            .iter()
            .find(|x| x.lang == "toml" && x.tag.as_ref().is_some_and(|(k, s)| k == "config" && s == service))
            .unwrap_or_else(|| panic!("docs/operators.md line {}: no `# config: {service}` example to apply the variables to", b.line));
        apply_env(&f, b, service, base);
        loaded.entry(service.clone()).or_default().push(format!("line {}: environment overrides applied", b.line));
    }
    for (s, lines) in &loaded {
        eprintln!("{s}: {}", lines.join("; "));
    }
}

#[test]
fn the_block_reader_sees_tags_and_bodies() {
    let b = blocks();
    assert!(b.iter().any(|b| b.lang == "toml"), "no toml block found");
    assert!(b.iter().filter(|b| b.lang == "toml").all(|b| b.text.lines().next().is_some_and(|l| l.starts_with("# config:"))));
}

/// Commands with subcommands: `tessera <group> <subcommand>`.
const GROUPS: [&str; 7] = ["issuer", "verifier", "federation", "wallet", "wallet-provider", "sd-jwt", "conformance"];

/// `tessera …` invocations in `text`: the command path and the flags shown with it.
fn invocations(text: &str, out: &mut Vec<(Vec<String>, Vec<String>, String)>) {
    let mut rest = text;
    while let Some(i) = rest.find("tessera ") {
        // `tessera-issuer`, `tessera-federation` are other binaries; `/tessera` is a path.
        let before = rest[..i].chars().last();
        rest = &rest[i + "tessera ".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '/' || c == '-' || c == '_') {
            continue;
        }
        let end = rest.find('|').unwrap_or(rest.len());
        let cmd = &rest[..end];
        let mut words = cmd.split_whitespace();
        let mut path = Vec::new();
        for w in words.by_ref() {
            if !w.chars().next().is_some_and(|c| c.is_ascii_lowercase()) || !w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
                break;
            }
            path.push(w.to_owned());
            if path.len() == 2 || !GROUPS.contains(&path[0].as_str()) {
                break;
            }
        }
        if path.is_empty() {
            continue;
        }
        let flags = cmd
            .split_whitespace()
            .map(|w| w.trim_start_matches('[').trim_end_matches([']', ',', '.', ')']))
            .filter(|w| w.starts_with("--"))
            .map(|w| w.split('=').next().unwrap_or(w).to_owned())
            .collect();
        out.push((path, flags, format!("tessera {}", cmd.trim())));
    }
}

#[test]
fn every_command_shown_exists_with_its_flags() {
    let mut found = Vec::new();
    let mut in_sh = false;
    let mut in_other = false;
    for line in DOC.lines() {
        let t = line.trim_start();
        if let Some(lang) = t.strip_prefix("```") {
            if in_sh || in_other {
                (in_sh, in_other) = (false, false);
            } else if lang.trim() == "sh" {
                in_sh = true;
            } else {
                in_other = true;
            }
            continue;
        }
        if in_other {
            continue;
        }
        if in_sh {
            if !t.starts_with('#') {
                invocations(t, &mut found);
            }
            continue;
        }
        // Inline code: the odd pieces between backticks.
        for code in line.split('`').skip(1).step_by(2) {
            invocations(code, &mut found);
        }
    }
    assert!(found.len() > 10, "too few `tessera …` commands found: {}", found.len());
    let mut checked = std::collections::BTreeSet::new();
    for (path, flags, shown) in &found {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera")).args(path).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "docs/operators.md shows `{shown}`: `tessera {} --help` fails: {}", path.join(" "), String::from_utf8_lossy(&out.stderr));
        for f in flags {
            let listed = help.lines().any(|l| l.split([' ', ',', '=']).any(|w| w == f));
            assert!(listed || f == "--help", "docs/operators.md shows `{shown}`: `tessera {}` has no {f}", path.join(" "));
        }
        checked.insert(path.join(" "));
    }
    eprintln!("commands checked: {}", checked.into_iter().collect::<Vec<_>>().join(", "));
}
