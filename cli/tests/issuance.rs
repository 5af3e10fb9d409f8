//! `tessera up` with its three issuers, then the desk and the citizen from the command line
//! over loopback: `tessera issuer offer` → `tessera wallet issue` (the activated wallet, the
//! tx_code) → `wallet list | show` → `wallet present` to the verifier → `issuer suspend` →
//! the verifier refuses it; deferred issuance; and the bad inputs (a wrong tx_code, a wrong
//! admin token, an unknown credential, an unreachable issuer) named, with a non-zero exit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

#[path = "support/served.rs"]
mod served;

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const MARIO: &str = "RSSMRA80A10H501Z";
const LUIGIA: &str = "VRDLGU85M41F205X";

struct Up(std::process::Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Eight consecutive free-looking ports, apart per test and per process, below the
/// ephemeral range (cli/tests/up.rs takes 20000–28800).
fn ports(test: u16) -> u16 {
    10_000 + test * 3_000 + (std::process::id() % 350) as u16 * 8
}

/// `tessera up`, its output kept in `data/../up.log` (shown when the federation does not
/// come up).
fn up(base: u16, data: &Path) -> Up {
    let log = std::fs::File::create(data.with_file_name("up.log")).unwrap();
    Up(Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["up", "--port", &base.to_string(), "--data-dir", data.to_str().unwrap()])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap())
}

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().unwrap()
}

/// `tessera` running in the background, its stdout and stderr piped.
fn spawned(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "exit {:?}: {}{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A failure with a message on stderr containing `needle`.
fn fails(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "should fail: {}{err}", String::from_utf8_lossy(&o.stdout));
    assert!(err.contains(needle), "`{needle}` not in: {err}");
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// Waits until `tessera up` has onboarded the three issuers (they resolve to the anchor).
fn wait_for_issuers(ta: &str, issuers: &[&str], data: &Path) {
    let start = Instant::now();
    for i in issuers {
        loop {
            let o = tessera(&["federation", "resolve", i, "--ta", ta, "--json"]);
            if o.status.success() {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let log = std::fs::read_to_string(data.with_file_name("up.log")).unwrap_or_default();
                panic!("{i} did not come up: {}\ntessera up: {log}", String::from_utf8_lossy(&o.stderr));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// `tessera issuer offer` for `citizen`: the offer URL and the tx_code.
fn offer(issuer: &str, citizen: &str, data: &Path) -> (String, String) {
    let out = ok(&tessera(&["issuer", "offer", "--url", issuer, "--citizen", citizen, "--data-dir", data.to_str().unwrap()]));
    let mut lines = out.lines();
    let url = lines.next().unwrap().to_owned();
    let tx = lines.next().unwrap().strip_prefix("tx_code: ").unwrap().to_owned();
    assert!(url.starts_with("openid-credential-offer://"), "{url}");
    (url, tx)
}

/// `tessera ARGS` with `input` on stdin.
fn with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// A verifier session for `preset`: its id and the wallet URL.
fn session(verifier: &str, token: &str, preset: &str) -> (String, String) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{verifier}/sessions"))
        .bearer_auth(token)
        .json(&serde_json::json!({"preset": preset, "flow": "cross_device"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let s: Value = r.json().unwrap();
    (s["session_id"].as_str().unwrap().to_owned(), s["wallet_url"].as_str().unwrap().to_owned())
}

fn session_status(verifier: &str, token: &str, id: &str) -> String {
    let s: Value = reqwest::blocking::Client::new().get(format!("{verifier}/sessions/{id}")).bearer_auth(token).send().unwrap().json().unwrap();
    s["status"].as_str().unwrap().to_owned()
}

/// The three issuers are served by `tessera up`: each resolves through the anchor as an
/// `openid_credential_issuer` with its credential configuration and keys, serves its
/// OpenID4VCI metadata; the admin API's bad inputs are named.
#[test]
fn up_serves_three_issuers_and_names_bad_admin_input() {
    let dir = tempfile::tempdir().unwrap();
    let base = ports(0);
    let data = dir.path().join("data");
    let _up = up(base, &data);
    let (ta, int, mdl, pid, hc) = (url(base), url(base + 1), url(base + 2), url(base + 6), url(base + 7));
    wait_for_issuers(&ta, &[&mdl, &pid, &hc], &data);
    for (issuer, configuration, vct, chain) in [
        (&mdl, "dc_sd_jwt_mDL", "urn:eudi:mDL:it:1", 3),
        (&pid, "dc_sd_jwt_PersonIdentificationData", "urn:eudi:pid:it:1", 2),
        (&hc, "dc_sd_jwt_EuropeanHealthInsuranceCard", "urn:eudi:ehic:1", 3),
    ] {
        let v: Value = serde_json::from_str(&ok(&tessera(&["federation", "resolve", issuer, "--ta", &ta, "--json"]))).unwrap();
        assert_eq!(v["trust_chain"].as_array().unwrap().len(), chain, "{issuer}: {v}");
        let md = &v["metadata"]["openid_credential_issuer"];
        assert_eq!(md["credential_issuer"], issuer.as_str());
        assert_eq!(md["credential_configurations_supported"][configuration]["vct"], vct, "{md}");
        assert!(md["jwks"]["keys"].as_array().is_some_and(|k| !k.is_empty()), "{md}");
        let served: Value = reqwest::blocking::get(format!("{issuer}/.well-known/openid-credential-issuer")).unwrap().json().unwrap();
        assert_eq!(served["credential_issuer"], issuer.as_str());
        assert!(served["credential_configurations_supported"][configuration].is_object(), "{served}");
    }
    // The PID provider is under the anchor, the other two under the intermediate.
    let v: Value = serde_json::from_str(&ok(&tessera(&["federation", "resolve", &hc, "--ta", &ta, "--json"]))).unwrap();
    assert!(v.to_string().contains(&int));

    // Each issuer has its own admin token: the Motorizzazione's opens nothing at the PID provider.
    let mdl_token = data.join("motorizzazione").join("admin-token");
    let o = tessera(&["issuer", "offer", "--url", &pid, "--citizen", MARIO, "--token-file", mdl_token.to_str().unwrap()]);
    fails(&o, "refused the admin token");
    let o = tessera(&["issuer", "offer", "--url", &mdl, "--citizen", MARIO, "--token", "not-the-token"]);
    fails(&o, "refused the admin token");
    // A citizen the registry does not know; a credential the issuer never issued.
    let o = tessera(&["issuer", "offer", "--url", &mdl, "--citizen", "XXXXXX00X00X000X", "--data-dir", data.to_str().unwrap()]);
    fails(&o, "no `dc_sd_jwt_mDL` record");
    let o = tessera(&["issuer", "revoke", "--url", &mdl, "--credential", "no-such-credential", "--data-dir", data.to_str().unwrap()]);
    fails(&o, "no such credential");
    let o = tessera(&["issuer", "suspend", "--url", &mdl, "--data-dir", data.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "--credential or --citizen is required: {}", String::from_utf8_lossy(&o.stderr));
    // An issuer that is not there.
    let o = tessera(&["issuer", "offer", "--url", "http://127.0.0.1:9", "--citizen", MARIO, "--token", "t"]);
    fails(&o, "cannot reach the issuer at http://127.0.0.1:9");
    // A JSON answer with --json.
    let out = ok(&tessera(&["issuer", "offer", "--url", &hc, "--citizen", MARIO, "--data-dir", data.to_str().unwrap(), "--json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["offer_url"].as_str().unwrap().starts_with("openid-credential-offer://"));
    assert_eq!(v["tx_code"].as_str().unwrap().len(), 6);
}

/// The citizen's story with the real issuers: activate → offer → issue with the tx_code
/// (after a wrong one) → list and show → present to the verifier (verified) → the issuer
/// suspends the citizen's credentials → the verifier refuses the next presentation; a
/// deferred licence waited for; the PID and the health card from their issuers.
#[test]
fn activate_issue_show_present_then_suspended_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = ports(1);
    let data = dir.path().join("data");
    let _up = up(base, &data);
    let (ta, mdl, wp, verifier, pid, hc) = (url(base), url(base + 2), url(base + 4), url(base + 5), url(base + 6), url(base + 7));
    let wallet_dir = dir.path().join("wallet");
    let w = wallet_dir.to_str().unwrap();
    let d = data.to_str().unwrap();

    // Before activation: the wallet has no attested key to be issued to.
    wait_for_issuers(&ta, &[&mdl, &pid, &hc], &data);
    let (url_1, tx_1) = offer(&mdl, MARIO, &data);
    fails(&tessera(&["wallet", "issue", &url_1, "--tx-code", &tx_1, "--yes", "--ta", &ta, "--data-dir", w]), "tessera wallet activate");

    let start = Instant::now();
    loop {
        let o = tessera(&["wallet", "activate", "--provider", &wp, "--ta", &ta, "--data-dir", w]);
        if o.status.success() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "activation failed: {}", String::from_utf8_lossy(&o.stderr));
        std::thread::sleep(Duration::from_millis(300));
    }

    // An issuer outside the federation: shown as not trusted, and refused before the token
    // request (its offer's code is still unused: its log shows no issuance).
    let stranger_dir = dir.path().join("stranger");
    std::fs::create_dir_all(&stranger_dir).unwrap();
    let (_stranger, stranger) = serve_issuer(&stranger_dir, "mdl");
    let out = ok(&tessera(&["issuer", "offer", "--url", &stranger, "--citizen", MARIO, "--token", "t0ken-t0ken"]));
    let (stranger_url, stranger_tx) = out.split_once("\ntx_code: ").unwrap();
    let o = tessera(&["wallet", "issue", stranger_url, "--tx-code", stranger_tx.trim(), "--yes", "--ta", &ta, "--data-dir", w]);
    fails(&o, &format!("refused: the issuer {stranger} is not trusted"));
    assert!(String::from_utf8_lossy(&o.stdout).contains("NOT TRUSTED"), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stderr).contains("(nothing was sent)"));

    // A wrong tx_code: the issuer's invalid_grant, nothing stored.
    let wrong = if tx_1 == "000000" { "111111" } else { "000000" };
    fails(&tessera(&["wallet", "issue", &url_1, "--tx-code", wrong, "--yes", "--ta", &ta, "--data-dir", w]), "invalid_grant");
    // A malformed one is refused before anything is sent.
    fails(&tessera(&["wallet", "issue", &url_1, "--tx-code", "12", "--yes", "--ta", &ta, "--data-dir", w]), "tx_code of the wrong length");
    assert!(ok(&tessera(&["wallet", "list", "--data-dir", w])).contains("No credentials"));

    // The right one: the consent is shown, the credential verified and stored.
    let out = ok(&tessera(&["wallet", "issue", &url_1, "--tx-code", &tx_1, "--yes", "--ta", &ta, "--data-dir", w]));
    assert!(out.contains("Motorizzazione Civile (test issuer) offers credentials."), "{out}");
    assert!(out.contains(&format!("trusted: federation trust chain to {ta}")), "{out}");
    assert!(out.contains("Patente di guida (urn:eudi:mDL:it:1"), "{out}");
    assert!(out.contains("Stored 1 credential"), "{out}");
    let list: Value = serde_json::from_str(&ok(&tessera(&["wallet", "list", "--data-dir", w, "--json"]))).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["vct"], "urn:eudi:mDL:it:1");
    assert_eq!(list[0]["issuer"], mdl.as_str());
    assert_eq!(list[0]["status"]["uri"], format!("{mdl}/status-list"));
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let shown = ok(&tessera(&["wallet", "show", &id, "--data-dir", w]));
    for needle in ["family_name = Rossi", "document_number = RM5012345A", &format!("status list {mdl}/status-list #"), "issuer   Motorizzazione Civile"] {
        assert!(shown.contains(needle), "`{needle}` not in {shown}");
    }
    let shown: Value = serde_json::from_str(&ok(&tessera(&["wallet", "show", &id, "--data-dir", w, "--json"]))).unwrap();
    assert_eq!(shown["claims"]["given_name"], "Mario");
    // The tag of the key it is bound to (the one the WUA attests), which `present` signs with.
    assert!(shown["holder_key_tag"].is_string(), "{shown}");
    fails(&tessera(&["wallet", "show", "0123456789abcdef0123456789abcdef", "--data-dir", w]), "credential 0123456789abcdef0123456789abcdef");
    // The pre-authorized code is single use.
    fails(&tessera(&["wallet", "issue", &url_1, "--tx-code", &tx_1, "--yes", "--ta", &ta, "--data-dir", w]), "invalid_grant");

    // Presented to the verifier: verified (the KB-JWT signed with the credential's own key).
    // The integrator's side by `tessera verifier check` (its admin token found under `tessera
    // up`'s data directory): the wallet URL on its stdout's first line, the session followed
    // on stderr, the result printed once, exit status 0.
    let v_token = std::fs::read_to_string(data.join("verifier").join("admin-token")).unwrap();
    let v_token = v_token.trim();
    let mut check = spawned(&["verifier", "check", "--url", &verifier, "--preset", "driving_licence", "--no-qr", "--wait", "90", "--data-dir", d]);
    let mut check_out = std::io::BufReader::new(check.stdout.take().unwrap());
    let mut wallet_url = String::new();
    check_out.read_line(&mut wallet_url).unwrap();
    let wallet_url = wallet_url.trim().to_owned();
    assert!(wallet_url.starts_with("openid4vp://") || wallet_url.starts_with("haip-vp://"), "{wallet_url}");
    let out = ok(&tessera(&["wallet", "present", &wallet_url, "--yes", "--ta", &ta, "--data-dir", w]));
    assert!(out.contains("Presented mdl:portrait"), "{out}");
    let mut printed = String::new();
    std::io::Read::read_to_string(&mut check_out, &mut printed).unwrap();
    let checked = check.wait_with_output().unwrap();
    let followed = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{followed}");
    assert!(followed.contains("the wallet has read the request") && followed.contains("VERIFIED"), "{followed}");
    let result: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(result["status"], "verified", "{result}");
    // The verifier's refusals are named: an unknown preset, a DCQL query that breaks a rule;
    // a raw query from stdin no wallet answers gives up after --wait, naming the state.
    fails(&tessera(&["verifier", "check", "--url", &verifier, "--preset", "no_such_preset", "--data-dir", d]), "unknown preset `no_such_preset`");
    let o = with_stdin(&["verifier", "check", "--url", &verifier, "--dcql", "-", "--no-qr", "--data-dir", d], r#"{"credentials": []}"#);
    fails(&o, "dcql_query");
    let query = r#"{"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["urn:eudi:pid:it:1"]}, "claims": [{"path": ["birthdate"]}]}]}"#;
    let o = with_stdin(&["verifier", "check", "--url", &verifier, "--dcql", "-", "--no-qr", "--wait", "2", "--data-dir", d], query);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("openid4vp://"), "the wallet URL first");
    fails(&o, "no verdict within 2 s");

    // The Motorizzazione suspends Mario's credentials; once the verifier's copy of the status
    // list is stale (30 s in `tessera up`), it refuses the licence.
    let out = ok(&tessera(&["issuer", "suspend", "--url", &mdl, "--citizen", MARIO, "--data-dir", d]));
    assert!(out.contains(&format!("1 credential of {MARIO}: now SUSPENDED")), "{out}");
    let start = Instant::now();
    loop {
        let (sid, wallet_url) = session(&verifier, v_token, "driving_licence");
        let o = tessera(&["wallet", "present", &wallet_url, "--yes", "--ta", &ta, "--data-dir", w]);
        if !o.status.success() {
            fails(&o, "credential suspended");
            assert_eq!(session_status(&verifier, v_token, &sid), "refused");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(90), "the verifier still accepts a suspended licence");
        std::thread::sleep(Duration::from_secs(3));
    }
    let log = ok(&tessera(&["wallet", "log", "--data-dir", w]));
    assert!(log.contains(&format!("stored {id} issued by {mdl}")), "{log}");

    // Luigia's licence is not ready: the issuance is deferred and waited for, a line per poll.
    let (url_2, tx_2) = offer(&mdl, LUIGIA, &data);
    let mut child = spawned(&["wallet", "issue", &url_2, "--tx-code", &tx_2, "--yes", "--ta", &ta, "--data-dir", w]);
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("(deferred): asking again in"), "{line}");
    let registry = rusqlite::Connection::open(data.join("motorizzazione").join("authentic-source.sqlite")).unwrap();
    registry.execute("UPDATE licences SET ready = 1 WHERE tax_id_code = ?1", [LUIGIA]).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{line}{rest}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("Stored 1 credential"), "{}", String::from_utf8_lossy(&o.stdout));

    // The PID provider issues to the same wallet through a pipe (`issuer offer | wallet issue -`).
    // By reference under haip-vci:// (the wallet fetches the offer from the issuer).
    let offered = ok(&tessera(&["issuer", "offer", "--url", &pid, "--citizen", MARIO, "--data-dir", d, "--by-reference", "--scheme", "haip-vci"]));
    assert!(offered.starts_with("haip-vci://?credential_offer_uri="), "{offered}");
    let o = with_stdin(&["wallet", "issue", "-", "--yes", "--ta", &ta, "--data-dir", w], &offered);
    assert!(ok(&o).contains("urn:eudi:pid:it:1"), "{}", String::from_utf8_lossy(&o.stdout));
    // The health card: the consent and the tx_code asked on the terminal; first declined
    // (nothing requested), then accepted.
    let (url_3, tx_3) = offer(&hc, MARIO, &data);
    let o = with_stdin(&["wallet", "issue", &url_3, "--ta", &ta, "--data-dir", w], "n\n");
    fails(&o, "declined: nothing was requested");
    let o = with_stdin(&["wallet", "issue", &url_3, "--ta", &ta, "--data-dir", w], &format!("y\n{tx_3}\n"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Transaction code (Il codice ricevuto allo sportello): "), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(ok(&o).contains("urn:eudi:ehic:1"), "{}", String::from_utf8_lossy(&o.stdout));
    let list: Value = serde_json::from_str(&ok(&tessera(&["wallet", "list", "--data-dir", w, "--json"]))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 4, "{list}");
    // The PID presented to the verifier.
    let (sid, wallet_url) = session(&verifier, v_token, "pid");
    ok(&tessera(&["wallet", "present", &wallet_url, "--yes", "--ta", &ta, "--data-dir", w]));
    assert_eq!(session_status(&verifier, v_token, &sid), "verified");

    // Re-issuance after an update (IT-Wallet 1.4 §3.3 "Refresh", issue 12), the attested
    // path: the licence reinstated, its registry row changed, the Motorizzazione marks it
    // `update`; the activated wallet's refresh re-issues it (refresh grant with the wallet
    // attestation), and the new credential carries the registry's current value.
    ok(&tessera(&["issuer", "reinstate", "--url", &mdl, "--citizen", MARIO, "--data-dir", d]));
    registry.execute("UPDATE licences SET expiry_date = '2040-01-31' WHERE tax_id_code = ?1", [MARIO]).unwrap();
    ok(&tessera(&["issuer", "update", "--url", &mdl, "--citizen", MARIO, "--data-dir", d]));
    // The refresh token's `nbf` is the first access token's `exp` (300 s in `tessera up`,
    // less the issuer's 60 s skew): until then the refresh grant answers `invalid_grant`
    // and the wallet keeps the marked licence, re-trying at the next refresh.
    // The expiry is the citizen's own data: the refresh shows the change and asks before it
    // stores the new licence (IT-Wallet 1.4 §6, WP_074); the citizen agrees on the terminal.
    let start = Instant::now();
    let out = loop {
        let o = with_stdin(&["wallet", "refresh", "--ta", &ta, "--data-dir", w], "y\n");
        let out = ok(&o);
        if out.contains("re-issued as ") {
            let asked = String::from_utf8_lossy(&o.stderr);
            assert!(asked.contains("with changed attributes:\n  expiry_date: 2031-06-10 -> 2040-01-31"), "{asked}");
            assert!(asked.contains("Store the updated credential (the one held now is removed)? [y/N]"), "{asked}");
            assert!(asked.contains("Declined, the credential held now is kept, but its issuer has replaced it"), "{asked}");
            break out;
        }
        assert!(out.contains("not re-issued: token: the issuer answered HTTP 400 invalid_grant"), "{out}");
        assert!(start.elapsed() < Duration::from_secs(330), "never re-issued: {out}");
        std::thread::sleep(Duration::from_secs(10));
    };
    let (_, after) = out.split_once("re-issued as ").unwrap_or_else(|| panic!("no re-issuance in {out}"));
    let new_id: String = after.chars().take_while(char::is_ascii_alphanumeric).collect();
    assert!(!new_id.is_empty() && new_id != id, "{out}");
    let shown = ok(&tessera(&["wallet", "show", &new_id, "--data-dir", w]));
    assert!(shown.contains("expiry_date = 2040-01-31") && shown.contains("family_name = Rossi"), "{shown}");
    fails(&tessera(&["wallet", "show", &id, "--data-dir", w]), &format!("credential {id}"));
}

/// `tessera issuer serve` on a free port from a configuration in `dir` (admin token
/// `t0ken-t0ken`, one preset, its sample registry loaded, no trust anchor: outside any
/// federation); ready when this returns.
fn serve_issuer(dir: &Path, preset: &str) -> (Up, String) {
    let (port, base) = served::free_port();
    let config = format!(
        "entity_id = \"{base}\"\ndata_dir = \"{}\"\nlisten = \"127.0.0.1:{port}\"\nadmin_token = \"t0ken-t0ken\"\n\
         organization_name = \"Registro di prova\"\n[[credentials]]\npreset = \"{preset}\"\n",
        dir.join("data").display()
    );
    let path = dir.join("issuer.toml");
    std::fs::write(&path, config).unwrap();
    let p = path.to_str().unwrap();
    let out = ok(&tessera(&["issuer", "load-sample", preset, "--config", p]));
    assert!(out.starts_with(&format!("3 {preset} records in ")), "{out}");
    let child = served::serve(&["issuer", "serve", "--config", p], &base);
    (Up(child), base)
}

/// `tessera issuer load-sample` and `tessera issuer serve --config FILE` (what
/// `tessera-issuer` runs): the registry filled, the metadata served, an offer through the
/// admin API with --token-file, a revocation by citizen when nothing was issued (named), a
/// graceful stop on SIGTERM; then `tessera issuer rotate-key` and a restart.
#[test]
fn issuer_serve_from_a_config_file_load_sample_offer_then_stop() {
    let dir = tempfile::tempdir().unwrap();
    let (mut up, base) = serve_issuer(dir.path(), "health-card");
    let p = dir.path().join("issuer.toml");
    let p = p.to_str().unwrap();
    let o = tessera(&["issuer", "load-sample", "passport", "--config", p]);
    assert_eq!(o.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&o.stderr).contains("`passport` is not pid, mdl or health-card"));
    let http = reqwest::blocking::Client::new();
    let md: Value = http.get(format!("{base}/.well-known/openid-credential-issuer")).send().unwrap().json().unwrap();
    assert_eq!(md["credential_issuer"], base.as_str());
    assert!(md["credential_configurations_supported"]["dc_sd_jwt_EuropeanHealthInsuranceCard"].is_object(), "{md}");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "t0ken-t0ken\n").unwrap();
    let tf = token_file.to_str().unwrap();
    let out = ok(&tessera(&["issuer", "offer", "--url", &base, "--citizen", MARIO, "--token-file", tf, "--no-tx-code"]));
    assert!(out.starts_with("openid-credential-offer://") && !out.contains("tx_code"), "{out}");
    fails(&tessera(&["issuer", "offer", "--url", &base, "--citizen", MARIO, "--configuration", "dc_sd_jwt_mDL", "--token-file", tf]), "unknown credential_configuration_id");
    fails(&tessera(&["issuer", "revoke", "--url", &base, "--citizen", MARIO, "--token-file", tf]), "no such credential");
    fails(&tessera(&["issuer", "offer", "--url", &base, "--citizen", MARIO, "--token-file", dir.path().join("missing").to_str().unwrap()]), "pass --token-file");
    let out = served::stop(&mut up.0);
    assert!(out.contains("serving on") && out.contains("issuer stopped"), "{out}");

    // `tessera issuer rotate-key`, the issuer stopped: at the next start the new key is
    // published first and the old one after it (credentials it signed still verify by it).
    let old_kid = md["jwks"]["keys"][0]["kid"].as_str().unwrap().to_owned();
    let out = ok(&tessera(&["issuer", "rotate-key", "--config", p]));
    assert!(out.starts_with("credential key rotated in ") && out.contains(&format!("old key {old_kid} still published as retired for 365 days")), "{out}");
    let mut up = Up(served::serve(&["issuer", "serve", "--config", p], &base));
    let md: Value = http.get(format!("{base}/.well-known/openid-credential-issuer")).send().unwrap().json().unwrap();
    let kids: Vec<&str> = md["jwks"]["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert!(kids[0] != old_kid && kids[1] == old_kid, "{kids:?}");

    // `tessera issuer rotate-key --url`, the issuer running: the new key is published at once.
    let current = kids[0].to_owned();
    let out = ok(&tessera(&["issuer", "rotate-key", "--url", &base, "--token-file", tf]));
    assert!(out.contains(&format!("old key {current} still published as retired")) && out.contains("signs from now"), "{out}");
    let md: Value = http.get(format!("{base}/.well-known/openid-credential-issuer")).send().unwrap().json().unwrap();
    let kids: Vec<&str> = md["jwks"]["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.len() == 3 && kids[0] != current && kids[1..].contains(&current.as_str()), "{kids:?}");
    fails(&tessera(&["issuer", "rotate-key", "--url", &base, "--token", "wrong"]), "refused the admin token");
    served::stop(&mut up.0);
}

/// The citizen's story with the authorization code flow, as `tessera up` runs it: the wallet
/// activated as a registry citizen, the PID by logging in with CIE level 3 at the test
/// OpenID Provider, then the driving licence and the health card by presenting that PID to
/// the Motorizzazione and the health-card registry; the licence presented at the verifier;
/// every issuer passes the conformance tool's issuer plan, the anchor its federation plan.
/// Refused: a licence before the wallet holds a PID, and a PID for a citizen the PID
/// provider's registry does not know.
#[test]
fn wallet_initiated_pid_licence_health_card_then_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let base = ports(2);
    let data = dir.path().join("data");
    let _up = up(base, &data);
    let (ta, mdl, wp, verifier, pid, hc) = (url(base), url(base + 2), url(base + 4), url(base + 5), url(base + 6), url(base + 7));
    let w_dir = dir.path().join("wallet");
    let w = w_dir.to_str().unwrap();
    wait_for_issuers(&ta, &[&mdl, &pid, &hc], &data);
    let fiscal = format!("TINIT-{MARIO}");
    let start = Instant::now();
    loop {
        let o = tessera(&["wallet", "activate", "--provider", &wp, "--ta", &ta, "--data-dir", w, "--fiscal-number", &fiscal]);
        if o.status.success() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "activation failed: {}", String::from_utf8_lossy(&o.stderr));
        std::thread::sleep(Duration::from_millis(300));
    }

    // No PID yet: the Motorizzazione's PID request cannot be answered.
    let o = tessera(&["wallet", "issue", "mdl", "--yes", "--ta", &ta, "--data-dir", w]);
    assert!(!o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    // A citizen the OP knows and the registry does not: access_denied, nothing stored.
    fails(&tessera(&["wallet", "issue", "pid", "--yes", "--ta", &ta, "--data-dir", w, "--fiscal-number", "TINIT-RSSMRA80A01H501U"]), "access_denied");

    let out = ok(&tessera(&["wallet", "issue", "pid", "--yes", "--ta", &ta, "--data-dir", w, "--fiscal-number", &fiscal]));
    assert!(out.contains(&format!("Stored 1 credential from {pid}")), "{out}");
    let out = ok(&tessera(&["wallet", "issue", "mdl", "--yes", "--ta", &ta, "--data-dir", w]));
    assert!(out.contains("the issuer asks for your PID") && out.contains(&format!("Stored 1 credential from {mdl}")), "{out}");
    let out = ok(&tessera(&["wallet", "issue", "health-card", "--yes", "--ta", &ta, "--data-dir", w, "--issuer", &hc]));
    assert!(out.contains(&format!("Stored 1 credential from {hc}")), "{out}");
    let list: Value = serde_json::from_str(&ok(&tessera(&["wallet", "list", "--json", "--data-dir", w]))).unwrap();
    let mut vcts: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["vct"].as_str().unwrap()).collect();
    vcts.sort_unstable();
    assert_eq!(vcts, ["urn:eudi:ehic:1", "urn:eudi:mDL:it:1", "urn:eudi:pid:it:1"]);

    // The licence, presented at the verifier.
    let v_token = std::fs::read_to_string(data.join("verifier").join("admin-token")).unwrap();
    let (sid, wallet_url) = session(&verifier, v_token.trim(), "driving_licence");
    ok(&tessera(&["wallet", "present", &wallet_url, "--yes", "--ta", &ta, "--data-dir", w]));
    assert_eq!(session_status(&verifier, v_token.trim(), &sid), "verified");

    // The licence suspended by the Motorizzazione: the wallet's refresh flags it.
    let out = ok(&tessera(&["wallet", "refresh", "--ta", &ta, "--data-dir", w]));
    assert_eq!(out.matches(": VALID").count(), 3, "{out}");
    ok(&tessera(&["issuer", "suspend", "--url", &mdl, "--citizen", MARIO, "--data-dir", data.to_str().unwrap()]));
    let out = ok(&tessera(&["wallet", "refresh", "--ta", &ta, "--data-dir", w]));
    assert!(out.contains("urn:eudi:mDL:it:1") && out.contains("SUSPENDED (changed)  <- not usable"), "{out}");
    let list: Value = serde_json::from_str(&ok(&tessera(&["wallet", "list", "--json", "--data-dir", w]))).unwrap();
    let mdl_entry = list.as_array().unwrap().iter().find(|c| c["vct"] == "urn:eudi:mDL:it:1").unwrap();
    assert_eq!(mdl_entry["status_value"], "SUSPENDED");

    // The conformance tool against what `tessera up` runs.
    for issuer in [&pid, &mdl, &hc] {
        let out = ok(&tessera(&["conformance", "run", "--plan", "issuer", "--target", issuer]));
        assert!(out.contains(", 0 failed"), "{out}");
    }
    let report = dir.path().join("report");
    let out = ok(&tessera(&["conformance", "run", "--plan", "federation", "--target", &ta, "--report-dir", report.to_str().unwrap()]));
    // Every federation test passes, none skipped: "N passed, 0 failed, 0 skipped of N".
    let summary = out.lines().find_map(|l| l.split_once("federation plan: ")).map(|(_, s)| s.to_owned()).unwrap_or_default();
    let total = summary.rsplit(' ').next().unwrap_or_default();
    assert!(summary == format!("{total} passed, 0 failed, 0 skipped of {total}") && total.parse::<u32>().is_ok_and(|n| n >= 38), "{out}");
    assert!(report.join("report.html").exists() && report.join("junit.xml").exists());
    fails(&tessera(&["conformance", "run", "--plan", "wallet", "--target", &ta]), "unknown plan `wallet`");
    let cov = ok(&tessera(&["conformance", "coverage"]));
    assert!(cov.contains("| federation |"), "{cov}");
}
