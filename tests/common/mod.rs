//! The world of the end-to-end tests, all over real HTTP on loopback:
//!
//! * a trust anchor (the `trust-anchor` router);
//! * an issuer allowed to issue the PID and the driving licence (its federation metadata
//!   lists both `vct`s in `credential_configurations_supported`), signing SD-JWT VCs with
//!   wallet-core and publishing a real Token Status List JWT at `/status` (`ttl` 0: relying
//!   parties fetch it at every check) whose entries the test sets;
//! * an issuer in the federation allowed to issue the PID only;
//! * a second federation (its own anchor) with an issuer of its own: outside ours;
//! * our verifier (the `verifier` library, served in-process, or the `tessera verifier serve`
//!   process from a TOML file), onboarded under the anchor;
//! * the citizen's wallet: the built `tessera` binary (`wallet holder-key`, `import`,
//!   `present`), run as a process against its own data directory.
//!
//! The binary: the one in the target directory this test runs from, when it is newer than
//! its sources; else `cargo build -p tessera-cli --bin tessera` is run first (once per test
//! process). So the tests drive the binary of the sources under test; `TESSERA_BIN`
//! overrides it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code, unreachable_pub)] // test code

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::jose::{Jwk, JwsAlg, JwsHeader, Signer as _, SoftwareSigner};
use wallet_core::oid4vp::Profile;
use wallet_core::status::{Bits, MEDIA_TYPE, StatusList, StatusListToken, StatusValue};
use wallet_core::time::UnixTime;
use wallet_core::vc::{SdJwtVcBuilder, Vct};

pub const TOKEN: &str = "e2e-admin-token";
/// The integrator's page a same-device flow returns to (nothing fetches it: the test reads
/// the `response_code` off the URL the wallet prints).
pub const BACK: &str = "https://servizi.example.it/wallet/return";

/// The crates the `tessera` binary is built from (their `src` and `Cargo.toml`).
const BINARY_SOURCES: [&str; 9] = ["cli", "wallet-core", "service-kit", "trust-anchor", "spid-cie-oidc", "wallet-provider", "verifier", "issuer", "conformance"];

/// The newest modification time under `path`.
fn newest(path: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path).ok()?.filter_map(Result::ok).filter_map(|e| newest(&e.path())).max()
}

/// The `tessera` binary of the sources under test (see the module documentation): the one
/// in the target directory this test runs from when it is newer than every source it is
/// built from (a workspace test run has just built it: it is not rebuilt, with other
/// features, under the other tests running it), else `cargo build -p tessera-cli` first.
pub fn tessera_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TESSERA_BIN") {
            return PathBuf::from(p);
        }
        // target/<profile>/deps/<this test> -> target/<profile>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let bin = profile_dir.join(format!("tessera{}", std::env::consts::EXE_SUFFIX));
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let sources = BINARY_SOURCES
            .iter()
            .flat_map(|c| [workspace.join(c).join("src"), workspace.join(c).join("Cargo.toml")])
            .chain([workspace.join("Cargo.lock")])
            .filter_map(|p| newest(&p))
            .max();
        let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
        if built.is_some() && built >= sources {
            return bin;
        }
        let mut cmd = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["build", "--quiet", "-p", "tessera-cli", "--bin", "tessera"]).current_dir(workspace);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        if let Some(target) = profile_dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "cargo build -p tessera-cli failed");
        assert!(bin.exists(), "{} was not built", bin.display());
        bin
    })
    .clone()
}

/// Runs `tessera args` off the runtime (the servers keep serving); prints what it said.
pub async fn tessera(args: Vec<String>) -> Output {
    let label = args.join(" ");
    let bin = tessera_bin();
    let o = tokio::task::spawn_blocking(move || std::process::Command::new(bin).args(args).output().unwrap()).await.unwrap();
    println!("$ tessera {label}\n[exit {:?}]\n{}{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    o
}

/// Runs `tessera args` with `input` on its stdin (the citizen at the terminal).
pub async fn tessera_with_stdin(args: Vec<String>, input: String) -> Output {
    let label = format!("{} <<< {input:?}", args.join(" "));
    let bin = tessera_bin();
    let o = tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        use std::process::Stdio;
        let mut child = std::process::Command::new(bin).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    println!("$ tessera {label}\n[exit {:?}]\n{}{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    o
}

pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

pub fn stdout_json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

async fn bind() -> (tokio::net::TcpListener, EntityId) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())).unwrap();
    (listener, id)
}

fn serve(listener: tokio::net::TcpListener, app: axum::Router) {
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap() });
}

/// The relying-party trust mark the anchors issue (its short name, as `tessera up`).
pub const RP_MARK: &str = "openid_relying_party/public";

/// A trust anchor.
pub struct Anchor {
    pub id: EntityId,
    pub config: TrustAnchorConfig,
}

async fn start_anchor(dir: &Path, name: &str) -> Anchor {
    let (listener, id) = bind().await;
    let mut c = trust_anchor::Config::trust_anchor(id.clone(), dir.join(name), TOKEN);
    c.organization_name = format!("Trust anchor {name}");
    // The relying-party mark it issues, listed in its `trust_mark_issuers` (as `tessera up`).
    c.trust_mark_issuers.insert(format!("{id}/trust_marks/{RP_MARK}"), vec![id.to_string()]);
    let state = trust_anchor::AppState::open(c).unwrap();
    let config = TrustAnchorConfig { id: id.clone(), jwks: state.jwks() };
    serve(listener, trust_anchor::router(state));
    Anchor { id, config }
}

async fn onboard(http: &reqwest::Client, anchor: &EntityId, sub: &EntityId, entity_type: &str) {
    let r = http
        .post(format!("{anchor}/admin/subordinates"))
        .bearer_auth(TOKEN)
        .json(&json!({"entity_id": sub, "entity_types": [entity_type]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[derive(Clone)]
struct StatusState {
    key: Arc<SoftwareSigner>,
    list: Arc<Mutex<StatusList>>,
    uri: String,
    iss: String,
}

/// The issuer's Token Status List, signed at each fetch with its credential key (the
/// verifier finds it by `kid` in the issuer's federation metadata).
async fn status_list(State(s): State<StatusState>) -> impl IntoResponse {
    let now = UnixTime::now();
    let list = s.list.lock().unwrap().clone();
    let token = StatusListToken { list, uri: s.uri.clone(), iss: Some(s.iss.clone()), iat: now, exp: Some(now.plus(3_600)), ttl: Some(0), aggregation_uri: None };
    let header = JwsHeader::new(JwsAlg::Es256).with_kid(s.key.kid());
    ([("content-type", MEDIA_TYPE)], token.sign(&header, s.key.as_ref()).unwrap())
}

/// A credential issuer: a federation leaf whose key signs SD-JWT VCs and its status list.
pub struct Issuer {
    pub id: EntityId,
    pub name: String,
    key: Arc<SoftwareSigner>,
    list: Arc<Mutex<StatusList>>,
    pub status_uri: String,
    next_idx: Mutex<u64>,
    /// Its trust chain (its configuration, its anchor's statement about it), for the
    /// credential's `trust_chain` header.
    chain: Mutex<Vec<String>>,
}

/// The `vct`s an issuer's federation metadata lets it issue.
fn configurations(vcts: &[&str]) -> Value {
    let m: Map<String, Value> = vcts.iter().enumerate().map(|(i, v)| (format!("cfg_{i}"), json!({"format": "dc+sd-jwt", "vct": v}))).collect();
    Value::Object(m)
}

async fn start_issuer(dir: &Path, name: &str, anchor: &Anchor, vcts: &[&str]) -> Issuer {
    let (listener, id) = bind().await;
    let key = Arc::new(SoftwareSigner::generate().unwrap());
    let status_uri = format!("{id}/status");
    let list = Arc::new(Mutex::new(StatusList::new(Bits::Two, 1024)));
    let mut c = trust_anchor::Config::trust_anchor(id.clone(), dir.join(name), TOKEN);
    c.authority = false;
    c.authority_hints = vec![anchor.id.clone()];
    c.organization_name = name.to_owned();
    let md = json!({
        "openid_credential_issuer": {
            "credential_issuer": id,
            "credential_endpoint": format!("{id}/credential"),
            "display": [{"name": name, "locale": "it-IT"}],
            "jwks": {"keys": [key.public_jwk()]},
            "status_list_endpoint": status_uri,
            "credential_configurations_supported": configurations(vcts),
        },
    });
    c.metadata = md.as_object().cloned().unwrap();
    let state = trust_anchor::AppState::open(c).unwrap();
    let status = StatusState { key: key.clone(), list: list.clone(), uri: status_uri.clone(), iss: id.to_string() };
    let app = trust_anchor::router(state).merge(axum::Router::new().route("/status", axum::routing::get(status_list)).with_state(status));
    serve(listener, app);
    Issuer { id, name: name.to_owned(), key, list, status_uri, next_idx: Mutex::new(0), chain: Mutex::new(Vec::new()) }
}

impl Issuer {
    async fn fetch_chain(&self, http: &reqwest::Client, anchor: &Anchor) {
        let ec = http.get(self.id.configuration_url()).send().await.unwrap().text().await.unwrap();
        let ss = http.get(format!("{}/fetch?sub={}", anchor.id, self.id)).send().await.unwrap().text().await.unwrap();
        *self.chain.lock().unwrap() = vec![ec, ss];
    }

    /// Sets entry `idx` of the status list.
    pub fn set_status(&self, idx: u64, value: StatusValue) {
        self.list.lock().unwrap().set(idx, value).unwrap();
    }

    /// An SD-JWT VC of `vct` with `attributes`, bound to `holder`, valid a day, with a fresh
    /// entry in the status list; its `trust_chain` header when `with_chain`. Returns the
    /// serialized credential and its status index.
    pub fn issue(&self, vct: &str, attributes: Value, holder: &Jwk, with_chain: bool) -> (String, u64) {
        let idx = {
            let mut n = self.next_idx.lock().unwrap();
            *n += 1;
            *n
        };
        let now = UnixTime::now();
        let vct = Vct::new(vct).unwrap();
        let pid = vct.is_pid();
        let b = SdJwtVcBuilder::new(self.id.as_str(), vct, attributes.as_object().cloned().unwrap())
            .validity(now.plus(-60), now.plus(86_400))
            .issuing("Tessera test issuer", "IT")
            .holder_key(holder)
            .status(idx, self.status_uri.clone())
            .kid(self.key.kid().unwrap());
        // The metadata IT-Wallet 1.4 §4.3 requires of a PID.
        let b = if pid { b.pid_metadata(&format!("credential-{idx}"), "2033-03-19", "it_cie", "high") } else { b };
        let sd = if with_chain { b.sign_with_trust_chain(self.chain.lock().unwrap().clone(), self.key.as_ref()) } else { b.sign(self.key.as_ref()) };
        (sd.unwrap().serialize(), idx)
    }
}

pub fn pid_attributes() -> Value {
    json!({
        "given_name": "Mario", "family_name": "Rossi", "birthdate": "1980-01-10",
        "place_of_birth": {"locality": "Roma", "country": "IT"}, "nationalities": ["IT"],
        "tax_id_code": "TINIT-RSSMRA80A10H501Z"
    })
}

pub fn mdl_attributes(document_number: &str) -> Value {
    json!({
        "given_name": "Mario", "family_name": "Rossi", "birth_date": "1980-01-10",
        "portrait": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
        "document_number": document_number, "issue_date": "2020-05-04", "expiry_date": "2030-05-04",
        "driving_privileges": [{"vehicle_category_code": "B", "issue_date": "2020-05-04", "expiry_date": "2030-05-04"}]
    })
}

/// Our verifier: served in-process from the library, or run as `tessera verifier serve`.
pub struct VerifierNode {
    pub id: EntityId,
    process: Option<std::process::Child>,
}

impl Drop for VerifierNode {
    fn drop(&mut self) {
        if let Some(c) = &mut self.process {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Everything but the verifiers.
pub struct World {
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub anchor: Anchor,
    /// In the federation; PID and driving licence.
    pub issuer: Issuer,
    /// In the federation; PID only.
    pub pid_only: Issuer,
    /// Another federation's anchor and issuer.
    pub other_anchor: Anchor,
    pub outsider: Issuer,
    /// The wallet's data directory and holder key.
    pub wallet: String,
    pub holder: Jwk,
}

impl World {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let anchor = start_anchor(dir.path(), "ta").await;
        let issuer = start_issuer(dir.path(), "Istituto Poligrafico e Motorizzazione", &anchor, &[Vct::PID, Vct::MDL]).await;
        onboard(&http, &anchor.id, &issuer.id, "openid_credential_issuer").await;
        issuer.fetch_chain(&http, &anchor).await;
        let pid_only = start_issuer(dir.path(), "Anagrafe (PID only)", &anchor, &[Vct::PID]).await;
        onboard(&http, &anchor.id, &pid_only.id, "openid_credential_issuer").await;
        pid_only.fetch_chain(&http, &anchor).await;
        let other_anchor = start_anchor(dir.path(), "other-ta").await;
        let outsider = start_issuer(dir.path(), "Elsewhere Registry", &other_anchor, &[Vct::PID, Vct::MDL]).await;
        onboard(&http, &other_anchor.id, &outsider.id, "openid_credential_issuer").await;
        outsider.fetch_chain(&http, &other_anchor).await;

        let wallet = dir.path().join("wallet").display().to_string();
        let o = tessera(args(&["wallet", "holder-key", "--data-dir", &wallet])).await;
        let holder: Jwk = serde_json::from_value(stdout_json(&o)).unwrap();
        Self { dir, http, anchor, issuer, pid_only, other_anchor, outsider, wallet, holder }
    }

    /// Issues a credential and imports it into the wallet (trusting `anchor`); its store id
    /// and status index.
    pub async fn import(&self, issuer: &Issuer, vct: &str, attributes: Value, anchor: &Anchor) -> (String, u64) {
        let (sd, idx) = issuer.issue(vct, attributes, &self.holder, true);
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let file = self.dir.path().join(format!("cred-{}.sdjwt", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
        std::fs::write(&file, sd).unwrap();
        let o = tessera(args(&["wallet", "import", &file.display().to_string(), "--ta", anchor.id.as_str(), "--data-dir", &self.wallet, "--json"])).await;
        let v = stdout_json(&o);
        assert_eq!(v["vct"], vct);
        (v["id"].as_str().unwrap().to_owned(), idx)
    }

    /// Starts a verifier with `profile`, onboarded under the anchor, with its relying-party
    /// trust mark.
    pub async fn verifier(&self, name: &str, profile: Profile, accept_suspended: bool) -> VerifierNode {
        let v = self.start_verifier(name, profile, accept_suspended).await;
        self.mark(&v.id).await;
        v
    }

    /// A verifier of our federation without any trust mark.
    pub async fn unmarked_verifier(&self, name: &str) -> VerifierNode {
        self.start_verifier(name, Profile::ItWallet14, false).await
    }

    /// `GET /sessions/{id}` of a session: its state as the integrator polls it.
    pub async fn state(&self, v: &VerifierNode, session: &Value) -> Value {
        let r = self.http.get(format!("{}/sessions/{}", v.id, session["session_id"].as_str().unwrap())).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn start_verifier(&self, name: &str, profile: Profile, accept_suspended: bool) -> VerifierNode {
        let (listener, id) = bind().await;
        let mut c = verifier::Config::new(id.clone(), self.dir.path().join(format!("verifier-{name}")));
        c.admin_token = TOKEN.into();
        c.trust_anchors = vec![self.anchor.config.clone()];
        c.authority_hints = vec![self.anchor.id.clone()];
        c.redirect_uris = vec![BACK.into()];
        c.organization_name = format!("Comune di Prova ({name})");
        c.profile = profile;
        c.accept_suspended = accept_suspended;
        let v = verifier::Verifier::open(c).unwrap();
        tokio::spawn(async move { verifier::serve_listener(v, listener, std::future::pending()).await.unwrap() });
        onboard(&self.http, &self.anchor.id, &id, "openid_credential_verifier").await;
        VerifierNode { id, process: None }
    }

    /// The relying-party trust mark [`RP_MARK`], issued by the anchor to `sub` and published
    /// in its Entity Configuration (as `tessera up` does): a wallet refuses an RP without a
    /// valid mark where the federation accredits mark issuers (WP_087).
    pub async fn mark(&self, sub: &EntityId) {
        let r = self
            .http
            .post(format!("{}/admin/trust-marks", self.anchor.id))
            .bearer_auth(TOKEN)
            .json(&json!({"sub": sub, "trust_mark_type": RP_MARK, "claims": {"organization_type": "public"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let m: Value = r.json().await.unwrap();
        let r = self.http.post(format!("{sub}/admin/own-trust-marks")).bearer_auth(TOKEN).json(&json!({"trust_mark": m["trust_mark"]})).send().await.unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    }

    /// Starts a verifier outside our federation: onboarded under the other anchor only.
    pub async fn outsider_verifier(&self, name: &str) -> VerifierNode {
        let (listener, id) = bind().await;
        let mut c = verifier::Config::new(id.clone(), self.dir.path().join(format!("verifier-{name}")));
        c.admin_token = TOKEN.into();
        c.trust_anchors = vec![self.other_anchor.config.clone()];
        c.authority_hints = vec![self.other_anchor.id.clone()];
        c.redirect_uris = vec![BACK.into()];
        c.organization_name = format!("Negozio Esterno ({name})");
        let v = verifier::Verifier::open(c).unwrap();
        tokio::spawn(async move { verifier::serve_listener(v, listener, std::future::pending()).await.unwrap() });
        onboard(&self.http, &self.other_anchor.id, &id, "openid_credential_verifier").await;
        VerifierNode { id, process: None }
    }

    /// Runs `tessera verifier serve --config FILE` with `profile` (the anchor's keys pinned
    /// from a file), waits for its `/health`, onboards it under the anchor.
    pub async fn verifier_process(&self, name: &str, profile: Profile) -> VerifierNode {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let id = EntityId::new(format!("http://127.0.0.1:{port}")).unwrap();
        let dir = self.dir.path().join(format!("verifier-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let jwks = dir.join("ta.jwks");
        std::fs::write(&jwks, serde_json::to_string(&self.anchor.config.jwks).unwrap()).unwrap();
        let toml = format!(
            "entity_id = \"{id}\"\ndata_dir = \"{data}\"\nlisten = \"127.0.0.1:{port}\"\nadmin_token = \"{TOKEN}\"\n\
             organization_name = \"Comune di Prova ({name})\"\nprofile = \"{profile}\"\nredirect_uris = [\"{BACK}\"]\n\
             [[trust_anchors]]\nid = \"{ta}\"\njwks = \"{jwks}\"\n",
            data = dir.join("data").display(),
            profile = profile.as_str(),
            ta = self.anchor.id,
            jwks = jwks.display(),
        );
        let config = dir.join("verifier.toml");
        std::fs::write(&config, toml).unwrap();
        let child = std::process::Command::new(tessera_bin())
            .args(["verifier", "serve", "--config", config.to_str().unwrap()])
            .env("TESSERA_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let node = VerifierNode { id, process: Some(child) };
        let start = std::time::Instant::now();
        while !self.http.get(format!("{}/health", node.id)).send().await.is_ok_and(|r| r.status() == 200) {
            assert!(start.elapsed() < std::time::Duration::from_secs(30), "tessera verifier serve did not come up");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        onboard(&self.http, &self.anchor.id, &node.id, "openid_credential_verifier").await;
        self.mark(&node.id).await;
        node
    }

    /// `POST /sessions` at `v`; the 201 body.
    pub async fn session(&self, v: &VerifierNode, preset: &str, flow: &str) -> Value {
        let r = self.http.post(format!("{}/sessions", v.id)).bearer_auth(TOKEN).json(&json!({"preset": preset, "flow": flow})).send().await.unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// `POST /sessions/{id}/result` (with the same-device `response_code`): status and body.
    pub async fn result(&self, v: &VerifierNode, session: &Value, response_code: Option<&str>) -> (u16, Value) {
        let body = response_code.map_or_else(|| json!({}), |c| json!({"response_code": c}));
        let r = self
            .http
            .post(format!("{}/sessions/{}/result", v.id, session["session_id"].as_str().unwrap()))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        println!("result: {status} {v}");
        (status, v)
    }

    /// `tessera wallet present <wallet_url> --ta <anchor> --json` plus `extra`.
    pub async fn present(&self, session: &Value, extra: &[&str]) -> Output {
        let url = session["wallet_url"].as_str().unwrap();
        let mut a = args(&["wallet", "present", url, "--ta", self.anchor.id.as_str(), "--data-dir", &self.wallet, "--json"]);
        a.extend(args(extra));
        tessera(a).await
    }
}

/// The `response_code` of a same-device redirect URL.
pub fn response_code(redirect: &str) -> String {
    let u = reqwest::Url::parse(redirect).unwrap();
    u.query_pairs().find(|(k, _)| k == "response_code").map(|(_, v)| v.into_owned()).unwrap()
}
