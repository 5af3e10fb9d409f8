//! The citizen's story across the real services of `tessera up` (the built binary, on
//! loopback ports, a fresh data directory), the citizen's wallet being the built `tessera`
//! command-line wallet, and the officer's side of the verifier's in-person page played over
//! HTTP as a browser does (issue 14, item 3):
//!
//! 1. activation (SPID login);
//! 2. the PID (level-3 login);
//! 3. the driving licence (the Motorizzazione asks for the PID);
//! 4. the health card;
//! 5. a police check at the in-person page;
//! 6. an age check (only the birth date disclosed);
//! 7. an online service, same-device;
//! 8. the Motorizzazione suspends the licence;
//! 9. the next police check refuses it, saying why;
//! 10. the wallet's refresh shows it suspended;
//!
//! then, on the same federation, the failure paths:
//!
//! 11. a relying party outside the federation is refused by the wallet before anything is
//!     disclosed;
//! 12. a credential from an issuer outside the federation is refused by the verifier;
//!
//! and, on a federation of its own, a revoked wallet instance cannot get credentials: the
//! issuer refuses its WUA.
//!
//! The steps share one `tessera up` and depend on each other (the licence checked is the one
//! issued), so they run as the steps of one test, in order, each a function named after its
//! step, a failure naming the step (nextest runs every test in a process of its own, which
//! could not share one federation). The revoked instance has its own test and federation:
//! the issuers would otherwise serve a cached copy of the wallet provider's status list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wallet_core::vc::Vct;

const MARIO: &str = "TINIT-RSSMRA80A10H501Z";

/// A `tessera up` child: killed when dropped.
struct Up {
    child: Child,
    base: u16,
    data: PathBuf,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Up {
    /// `tessera up --port base` on a fresh data directory under `dir`; waits until it is up.
    fn start(dir: &Path, base: u16) -> Self {
        let data = dir.join("data");
        let log_path = dir.join("up.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(common::tessera_bin())
            .args(["up", "--port", &base.to_string(), "--data-dir", data.to_str().unwrap()])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let up = Self { child, base, data };
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if text.contains("Tessera is up") {
                return up;
            }
            assert!(start.elapsed() < Duration::from_secs(180), "tessera up did not come up: {text}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn url(&self, offset: u16) -> String {
        format!("http://127.0.0.1:{}", self.base + offset)
    }
    fn ta(&self) -> String {
        self.url(0)
    }
    fn mdl(&self) -> String {
        self.url(2)
    }
    fn wallet_provider(&self) -> String {
        self.url(4)
    }
    fn verifier(&self) -> String {
        self.url(5)
    }

    fn secret(&self, service: &str, file: &str) -> String {
        std::fs::read_to_string(self.data.join(service).join(file)).unwrap().trim().to_owned()
    }
}

/// Eight consecutive ports below the ephemeral range, apart per test and per process
/// (cli/tests take 10000–18800 and 20000–31940): 19000–19980.
fn ports(test: u16) -> u16 {
    19_000 + test * 500 + (std::process::id() % 60) as u16 * 8
}

/// `tessera ARGS` (the built binary), what it said printed.
fn tessera(args: &[&str]) -> Output {
    let o = Command::new(common::tessera_bin()).args(args).output().unwrap();
    println!("$ tessera {}\n[exit {:?}]\n{}{}", args.join(" "), o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    o
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok_json(o: &Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap()
}

/// A failure (exit 1) whose message contains `needle`; its stderr.
fn fails(o: &Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "should fail: {}{err}", String::from_utf8_lossy(&o.stdout));
    assert!(err.contains(needle), "`{needle}` not in: {err}");
    err
}

/// The value of the attribute `attr="..."` after `after` in `html`, unescaped.
fn attribute(html: &str, attr: &str) -> Option<String> {
    let start = html.find(&format!("{attr}=\""))? + attr.len() + 2;
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&").replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">"))
}

/// The officer's browser at the in-person page: cookies kept, redirects not followed.
struct Officer {
    http: reqwest::blocking::Client,
    cookies: BTreeMap<String, String>,
    verifier: String,
}

impl Officer {
    fn send(&mut self, r: reqwest::blocking::RequestBuilder) -> (u16, String, Option<String>) {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let resp = r.header("Cookie", cookie.join("; ")).send().unwrap();
        for c in resp.headers().get_all("set-cookie") {
            let (k, v) = c.to_str().unwrap().split(';').next().unwrap().split_once('=').unwrap();
            self.cookies.insert(k.trim().to_owned(), v.trim().to_owned());
        }
        let location = resp.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (resp.status().as_u16(), resp.text().unwrap(), location)
    }

    fn get(&mut self, path: &str) -> (u16, String, Option<String>) {
        let r = self.http.get(format!("{}{path}", self.verifier));
        self.send(r)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String, Option<String>) {
        let r = self.http.post(format!("{}{path}", self.verifier)).form(form);
        self.send(r)
    }

    /// Opens the page in English and logs in as `operatore`.
    fn log_in(verifier: &str, password: &str) -> Self {
        let http = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut o = Self { http, cookies: BTreeMap::new(), verifier: verifier.to_owned() };
        let (status, page, _) = o.get("/check?lang=en");
        assert_eq!(status, 200);
        let csrf = attribute(&page, "name=\"csrf\" value").unwrap();
        // A wrong password: the form again, with the message.
        let (status, page, _) = o.post("/check/login", &[("csrf", &csrf), ("username", "operatore"), ("password", "not-the-password")]);
        assert_eq!(status, 200);
        assert!(page.contains("class=\"error\""), "{page}");
        let (status, _, to) = o.post("/check/login", &[("csrf", &csrf), ("username", "operatore"), ("password", password)]);
        assert_eq!((status, to.as_deref()), (303, Some("/check")));
        o
    }

    /// Starts the check `preset`: its page's path and the QR code's wallet URL.
    fn start(&mut self, preset: &str) -> (String, String) {
        let (_, home, _) = self.get("/check");
        assert!(home.contains(&format!("data-preset=\"{preset}\"")), "{home}");
        let csrf = attribute(&home, "name=\"csrf\" value").unwrap();
        let (status, _, to) = self.post("/check/start", &[("csrf", &csrf), ("preset", preset)]);
        assert_eq!(status, 303);
        let check = to.unwrap();
        let (_, page, _) = self.get(&check);
        let url = attribute(&page, "data-wallet-url").unwrap_or_else(|| panic!("no QR code: {page}"));
        assert!(url.starts_with("openid4vp://"), "{url}");
        (check, url)
    }

    /// The verdict the page shows, once the check is no longer pending: `(data-verdict, page)`.
    fn verdict(&mut self, check: &str) -> (String, String) {
        let start = Instant::now();
        loop {
            let (_, state, _) = self.get(&format!("{check}/state"));
            let state: Value = serde_json::from_str(&state).unwrap();
            if state["pending"] == false {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "still pending: {state}");
            std::thread::sleep(Duration::from_millis(200));
        }
        let (_, page, _) = self.get(check);
        (attribute(&page, "data-verdict").unwrap_or_else(|| panic!("no verdict: {page}")), page)
    }
}

/// One step of the story.
type Step = fn(&mut Story);

/// What the story carries from step to step.
struct Story {
    up: Up,
    wallet: String,
    officer: Option<Officer>,
    licence: Option<String>,
    first_police_check: Option<Instant>,
}

impl Story {
    fn w(&self) -> &str {
        &self.wallet
    }

    /// `tessera wallet present URL --yes --json` from the citizen's wallet.
    fn present(&self, url: &str) -> Output {
        tessera(&["wallet", "present", url, "--yes", "--json", "--ta", &self.up.ta(), "--data-dir", self.w()])
    }

    /// A check at the in-person page, the wallet answering: the wallet's output and the verdict.
    fn in_person(&mut self, preset: &str) -> (Output, String, String) {
        let officer = self.officer.as_mut().unwrap();
        let (check, url) = officer.start(preset);
        let o = tessera(&["wallet", "present", &url, "--yes", "--json", "--ta", &self.up.ta(), "--data-dir", &self.wallet]);
        let (verdict, page) = self.officer.as_mut().unwrap().verdict(&check);
        (o, verdict, page)
    }

    fn issue(&self, kind: &str) -> Value {
        ok_json(&tessera(&["wallet", "issue", kind, "--yes", "--json", "--fiscal-number", MARIO, "--ta", &self.up.ta(), "--data-dir", self.w()]))
    }
}

fn step_1_activate(s: &mut Story) {
    let v = ok_json(&tessera(&["wallet", "activate", "--provider", &s.up.wallet_provider(), "--ta", &s.up.ta(), "--fiscal-number", MARIO, "--data-dir", s.w(), "--json"]));
    assert_eq!(v["fiscal_number"], MARIO);
    assert!(v["wallet_unit_attestation_claims"]["status"]["status_list"]["uri"].as_str().unwrap().starts_with(&s.up.wallet_provider()), "{v}");
}

fn step_2_pid(s: &mut Story) {
    let v = s.issue("pid");
    assert_eq!(v["issuer"], s.up.url(6));
    assert_eq!(v["stored"][0]["vct"], Vct::PID, "{v}");
    assert!(v["trust"]["trusted"].as_bool().unwrap(), "{v}");
}

fn step_3_licence(s: &mut Story) {
    let v = s.issue("mdl");
    assert_eq!(v["issuer"], s.up.mdl());
    assert_eq!(v["stored"][0]["vct"], Vct::MDL, "{v}");
    s.licence = Some(v["stored"][0]["id"].as_str().unwrap().to_owned());
    // The Motorizzazione identified the citizen by the PID: the wallet presented it.
    let log = ok_json(&tessera(&["wallet", "log", "--data-dir", s.w(), "--json"]));
    assert!(
        log.as_array().unwrap().iter().any(|t| t["kind"] == "presentation" && t["counterparty"].as_str().unwrap_or_default().contains(&s.up.mdl())),
        "{log}"
    );
}

fn step_4_health_card(s: &mut Story) {
    let v = s.issue("health-card");
    assert_eq!(v["stored"][0]["vct"], Vct::EHIC, "{v}");
    let list = ok_json(&tessera(&["wallet", "list", "--data-dir", s.w(), "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
}

fn step_5_police_check(s: &mut Story) {
    s.officer = Some(Officer::log_in(&s.up.verifier(), &s.up.secret("verifier", "operator-password")));
    let (o, verdict, page) = s.in_person("driving_licence");
    s.first_police_check = Some(Instant::now());
    let shown = ok_json(&o);
    assert_eq!(shown["outcome"], "presented");
    assert!(shown["disclosed"].to_string().contains("mdl:document_number"), "{shown}");
    assert_eq!(verdict, "verified", "{page}");
    assert!(page.contains("data-claim=\"document_number\""), "{page}");
}

fn step_6_age_check(s: &mut Story) {
    let (o, verdict, page) = s.in_person("age_over_18");
    let shown = ok_json(&o);
    assert_eq!(shown["disclosed"], json!(["pid:birthdate"]), "only the birth date leaves the wallet");
    assert_eq!(verdict, "verified", "{page}");
    assert!(!page.contains("data-claim="), "the page shows the answer only: {page}");
}

fn step_7_online_service(s: &mut Story) {
    let token = s.up.secret("verifier", "admin-token");
    let http = reqwest::blocking::Client::new();
    let created: Value = http
        .post(format!("{}/sessions", s.up.verifier()))
        .bearer_auth(&token)
        .json(&json!({"preset": "pid", "flow": "same_device"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let shown = ok_json(&s.present(created["wallet_url"].as_str().unwrap()));
    let redirect = shown["redirect_uri"].as_str().unwrap();
    assert!(redirect.starts_with(&format!("{}/?", s.up.verifier())), "{redirect}");
    let code = common::response_code(redirect);
    let result = |code: &str| {
        let r = http.post(format!("{}/sessions/{}/result", s.up.verifier(), created["session_id"].as_str().unwrap())).bearer_auth(&token).json(&json!({"response_code": code})).send().unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap_or(Value::Null))
    };
    assert_eq!(result("not-the-code").0, 403, "a wrong response_code gets nothing");
    let (status, verdict) = result(&code);
    assert_eq!(status, 200);
    assert_eq!(verdict["status"], "verified", "{verdict}");
    assert_eq!(verdict["credentials"]["pid"][0]["claims"]["tax_id_code"], MARIO);
    assert_eq!(result(&code).0, 404, "the result is fetched once");
}

fn step_8_suspend(s: &mut Story) {
    let licence = s.licence.clone().unwrap();
    let shown = ok_json(&tessera(&["wallet", "show", &licence, "--data-dir", s.w(), "--json"]));
    let idx = shown["status"]["idx"].as_u64().unwrap();
    let token = s.up.secret("motorizzazione", "admin-token");
    let issued: Value = reqwest::blocking::Client::new()
        .get(format!("{}/admin/citizens/{}/credentials", s.up.mdl(), MARIO.trim_start_matches("TINIT-")))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let at_issuer = issued["credentials"].as_array().unwrap().iter().find(|c| c["status_idx"] == idx).unwrap()["id"].as_str().unwrap().to_owned();
    let out = ok(&tessera(&["issuer", "suspend", "--url", &s.up.mdl(), "--credential", &at_issuer, "--data-dir", s.up.data.to_str().unwrap()]));
    assert!(out.contains("now SUSPENDED"), "{out}");
}

fn step_9_police_check_refused(s: &mut Story) {
    // The verifier may keep the list it read at the first check for its ttl (30 s here).
    let since = s.first_police_check.unwrap().elapsed();
    std::thread::sleep(Duration::from_secs(31).saturating_sub(since));
    let (o, verdict, page) = s.in_person("driving_licence");
    fails(&o, "credential suspended");
    assert_eq!(verdict, "refused", "{page}");
    assert!(page.contains("Credential suspended by its issuer"), "{page}");
}

fn step_10_refresh(s: &mut Story) {
    let report = ok_json(&tessera(&["wallet", "refresh", "--ta", &s.up.ta(), "--data-dir", s.w(), "--json"]));
    let licence = s.licence.clone().unwrap();
    let line = report.as_array().unwrap().iter().find(|r| r["id"] == licence.as_str()).unwrap();
    assert_eq!(line["status"], "SUSPENDED", "{report}");
    assert_eq!(line["changed"], true);
    let list = ok(&tessera(&["wallet", "list", "--data-dir", s.w()]));
    assert!(list.contains("SUSPENDED at the last `tessera wallet refresh`"), "{list}");
}

/// 11: a verifier outside the federation (under another anchor): the wallet refuses it
/// before fetching its request, and logs why; the verifier never hears from it.
fn step_11_untrusted_rp(s: &mut Story, world: &common::World, rt: &tokio::runtime::Runtime) {
    let outsider = rt.block_on(world.outsider_verifier("shop"));
    let session = rt.block_on(world.session(&outsider, "age_over_18", "cross_device"));
    let before = ok_json(&tessera(&["wallet", "log", "--data-dir", s.w(), "--json"])).as_array().unwrap().len();
    let o = s.present(session["wallet_url"].as_str().unwrap());
    fails(&o, "is not trusted by");
    fails(&o, "(nothing was sent)");
    // Kept in the log as a refusal with why (WP_089a), naming no credential and no claim.
    let log = ok_json(&tessera(&["wallet", "log", "--data-dir", s.w(), "--json"]));
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), before + 1);
    let last = &log[before];
    assert_eq!((&last["kind"], &last["credential_ids"], &last["claims"]), (&json!("refused"), &json!([]), &json!([])), "{last}");
    assert!(last["outcome"]["result"]["reason"].as_str().unwrap().starts_with("the relying party is not trusted: "), "{last}");
    let state: Value = reqwest::blocking::Client::new()
        .get(format!("{}/sessions/{}", outsider.id, session["session_id"].as_str().unwrap()))
        .bearer_auth(common::TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(state["status"], "created", "the request was never fetched: {state}");
}

/// 12: a PID from an issuer of another federation, in a wallet that took it under that
/// federation's anchor, presented to our verifier: refused as an untrusted issuer.
fn step_12_outsider_credential(s: &mut Story, world: &common::World, rt: &tokio::runtime::Runtime) {
    rt.block_on(world.import(&world.outsider, Vct::PID, common::pid_attributes(), &world.other_anchor));
    let token = s.up.secret("verifier", "admin-token");
    let http = reqwest::blocking::Client::new();
    let created: Value = http
        .post(format!("{}/sessions", s.up.verifier()))
        .bearer_auth(&token)
        .json(&json!({"preset": "pid", "flow": "cross_device"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let url = created["wallet_url"].as_str().unwrap();
    let o = tessera(&["wallet", "present", url, "--yes", "--json", "--ta", &s.up.ta(), "--data-dir", &world.wallet]);
    fails(&o, "untrusted issuer");
    let verdict: Value = http
        .post(format!("{}/sessions/{}/result", s.up.verifier(), created["session_id"].as_str().unwrap()))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(verdict["status"], "refused", "{verdict}");
    assert!(verdict["reason"].as_str().unwrap().starts_with("untrusted issuer"), "{verdict}");
}

/// The story, step by step, on one `tessera up`; the failure paths 11 and 12 on the same
/// federation with a second one beside it (`common::World`'s other anchor).
#[test]
fn the_citizens_story_step_by_step() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path(), ports(0));
    let wallet = dir.path().join("wallet").display().to_string();
    let mut s = Story { up, wallet, officer: None, licence: None, first_police_check: None };
    let steps: [(&str, Step); 10] = [
        ("1 activate the wallet (SPID login)", step_1_activate),
        ("2 the PID (level-3 login)", step_2_pid),
        ("3 the driving licence (the PID asked for)", step_3_licence),
        ("4 the health card", step_4_health_card),
        ("5 a police check at the in-person page", step_5_police_check),
        ("6 an age check at a shop", step_6_age_check),
        ("7 an online service, same-device", step_7_online_service),
        ("8 the Motorizzazione suspends the licence", step_8_suspend),
        ("9 the next police check refuses it", step_9_police_check_refused),
        ("10 the wallet's refresh shows it suspended", step_10_refresh),
    ];
    for (name, step) in steps {
        println!("=== step {name}");
        step(&mut s);
        println!("=== step {name}: as the story says");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let world = rt.block_on(common::World::new());
    println!("=== step 11 an untrusted relying party is refused by the wallet");
    step_11_untrusted_rp(&mut s, &world, &rt);
    println!("=== step 12 a credential from an issuer outside the federation is refused by the verifier");
    step_12_outsider_credential(&mut s, &world, &rt);
}

/// 13: a wallet instance revoked at the wallet provider (by the citizen, from another
/// wallet: the lost phone keeps its keys) cannot get credentials: the issuer refuses its WUA.
#[test]
fn a_revoked_wallet_instance_cannot_get_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path(), ports(1));
    let (lost, other) = (dir.path().join("lost-phone"), dir.path().join("new-phone"));
    let (lost, other) = (lost.to_str().unwrap(), other.to_str().unwrap());
    let (wp, ta) = (up.wallet_provider(), up.ta());
    let wallet = |args: &[&str], dir: &str| {
        let mut a = args.to_vec();
        a.extend(["--provider", &wp, "--ta", &ta, "--fiscal-number", MARIO, "--data-dir", dir]);
        tessera(&a)
    };
    let activated = ok_json(&wallet(&["wallet", "activate", "--json"], lost));
    let id = activated["instance_id"].as_str().unwrap();
    ok(&wallet(&["wallet", "activate"], other));
    let out = ok(&wallet(&["wallet", "revoke", id], other));
    assert!(out.contains(&format!("Revoked wallet instance {id}.")), "{out}");
    let listed = ok_json(&wallet(&["wallet", "instances", "--json"], other));
    assert!(listed.as_array().unwrap().iter().any(|i| i["id"] == id && i["status"].to_string().to_lowercase().contains("revoked")), "{listed}");

    // The lost phone still holds its keys and attestations, but the PID provider refuses its
    // wallet attestation at PAR (its instance entry, revoked in the wallet provider's status
    // list, versions note §5 issuer item 2), before any login; nothing is stored.
    let o = tessera(&["wallet", "issue", "pid", "--yes", "--fiscal-number", MARIO, "--ta", &ta, "--data-dir", lost]);
    fails(&o, "par: the issuer answered HTTP 401 invalid_client: the wallet attestation is INVALID");
    assert!(ok(&tessera(&["wallet", "list", "--data-dir", lost])).contains("No credentials"));
    // The other phone, active, gets its PID from the same issuer.
    let v = ok_json(&tessera(&["wallet", "issue", "pid", "--yes", "--json", "--fiscal-number", MARIO, "--ta", &ta, "--data-dir", other]));
    assert_eq!(v["stored"][0]["vct"], Vct::PID, "{v}");
}
