//! OpenID4VP interop with npm `@openid4vc/openid4vp` 0.4.6 (openwallet-foundation oid4vc-ts),
//! over real HTTP on loopback, the peer run as `node interop/openid4vp_*.mjs` (installed by
//! `interop/setup.sh`; its JOSE callbacks on `jose`, its SD-JWT VC side on `@sd-jwt/sd-jwt-vc`):
//!
//! 1. The peer as verifier (`openid4vp_verifier.mjs`), Tessera's wallet answering with
//!    wallet-core's wallet side (`PresentationFlow` → `ConsentRequest` → `present`): an
//!    `x509_hash:` client, a request object by reference signed under an `x5c` chain from a CA
//!    made here, DCQL for a PID SD-JWT VC, `direct_post.jwt` to the key in `client_metadata`.
//!    The peer decrypts and validates the response; our wallet refuses the peer's request when
//!    the chain does not reach the CA it trusts, and when the request object lacks `iss`
//!    (the library's default).
//! 2. The peer as wallet (`openid4vp_wallet.mjs`) answering our verifier service: it resolves
//!    our request (request object fetched and its signature verified through its callbacks),
//!    presents a credential issued here with a KB-JWT made by `@sd-jwt/sd-jwt-vc`, encrypts
//!    to our key and posts `direct_post.jwt`; our verdict is `verified` (request by reference
//!    with GET and POST, and by value), a KB-JWT for another audience or nonce is refused
//!    naming the rule, and the peer refuses our request when its callback trusts another CA.
//!    With our `openid_federation:` client id the peer's federation resolver
//!    (`@openid-federation/core`, called from its callback) refuses our Entity Configuration;
//!    the test shows that, then the exchange through an `x5c` workaround.
//!
//! Without `node` or the packages the tests print "skipped: run interop/setup.sh" and pass,
//! unless `TESSERA_INTEROP=required`. What the peer could not do: interop/README.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod common;

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use trust_anchor::ca::{CaRequest, IssuingCa, issue_ca_certificate, protocol_certificate_under, root_certificate, x5c_entry};
use wallet_core::federation::EntityId;
use wallet_core::jose::{Signer as _, SoftwareSigner};
use wallet_core::oid4vp::consent::{RpTrustInputs, TrustMarkInputs, TrustWarning};
use wallet_core::oid4vp::request_object::{RequestObjectError, RpTrust, VerifiedRequest};
use wallet_core::oid4vp::{ConsentError, ConsentRequest, PresentationFlow, Profile, evaluate_rp};
use wallet_core::sd_jwt::SdJwt;
use wallet_core::store::{CredentialStore, DataKey, NewCredential, StaticKeyProvider};
use wallet_core::time::UnixTime;
use wallet_core::vc::{SdJwtVcBuilder, Vct};
use wallet_core::wallet::{HttpMethod, HttpRequest, HttpResponse};
use wallet_core::x509::TrustAnchors;

// ---------------------------------------------------------------- the peer

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop")
}

/// The interop folder, or None (and the skip message) when `node` or a package is missing;
/// with `TESSERA_INTEROP=required` (CI) a missing peer fails the test.
fn peer() -> Option<PathBuf> {
    let d = interop_dir();
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let missing: Vec<String> = ["@openid4vc/openid4vp", "@sd-jwt/sd-jwt-vc", "jose"]
        .iter()
        .map(|p| d.join("node_modules").join(p).join("package.json"))
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if node && missing.is_empty() {
        return Some(d);
    }
    let why = if node { format!("{} missing", missing.join(", ")) } else { "node is not on PATH".into() };
    if std::env::var("TESSERA_INTEROP").is_ok_and(|v| v == "required") {
        panic!("@openid4vc/openid4vp: {why} and TESSERA_INTEROP=required: run interop/setup.sh");
    }
    println!("skipped: run interop/setup.sh ({why})");
    None
}

/// A node script we started, its stdout read line by line (one JSON document each); killed
/// when dropped.
struct NodePeer {
    name: &'static str,
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl NodePeer {
    fn spawn(dir: &Path, script: &'static str, config: &Path) -> Self {
        let mut child = Command::new("node")
            .arg(dir.join(script))
            .arg(config)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { name: script, child, lines }
    }

    /// The next document whose `event` is `event` (others are printed and skipped).
    fn next(&self, event: &str) -> Value {
        loop {
            let line = tokio::task::block_in_place(|| self.lines.recv_timeout(Duration::from_secs(60)))
                .unwrap_or_else(|e| panic!("{}: no `{event}` line ({e}); see its stderr above", self.name));
            println!("{}: {line}", self.name);
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.name));
            if v["event"] == event {
                return v;
            }
        }
    }

    /// Its exit code.
    fn wait(mut self) -> Option<i32> {
        tokio::task::block_in_place(|| self.child.wait()).unwrap().code()
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_json(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p
}

fn private_jwk(k: &SoftwareSigner) -> Value {
    serde_json::from_str(&k.private_jwk().to_json()).unwrap()
}

// ---------------------------------------------------------------- PKI and credential

/// A federation CA made here with the trust anchor's CA code: a root, an RP CA under it
/// (pathlen 0, NameConstraints on 127.0.0.1), and protocol certificates under that.
struct Pki {
    root_der: Vec<u8>,
    ca_der: Vec<u8>,
    ca_key: SoftwareSigner,
}

impl Pki {
    fn new(name: &str) -> Self {
        let now = UnixTime::now().secs();
        let root_key = SoftwareSigner::generate().unwrap();
        let root_id = EntityId::new(format!("https://{name}.interop.test")).unwrap();
        let root_der = root_certificate(&root_id, &root_key, now).unwrap();
        let ca_key = SoftwareSigner::generate().unwrap();
        let rp = EntityId::new("http://127.0.0.1").unwrap();
        let issuing = IssuingCa::new(&root_der, &root_key, format!("{root_id}/crl")).unwrap();
        let req = CaRequest { subject: &rp, subject_key: &ca_key.public_jwk(), path_len: 0, extra_domains: &[] };
        let ca_der = issue_ca_certificate(&issuing, &req, now).unwrap().der;
        Self { root_der, ca_der, ca_key }
    }

    fn anchors(&self) -> TrustAnchors {
        TrustAnchors::from_der(vec![self.root_der.clone()]).unwrap()
    }

    /// `x5c` for `key`: [protocol certificate (SAN URI http://127.0.0.1, DNS 127.0.0.1), RP CA].
    fn x5c(&self, key: &SoftwareSigner) -> Vec<String> {
        let leaf = protocol_certificate_under(&self.ca_der, &self.ca_key, &key.public_jwk(), "http://127.0.0.1", "127.0.0.1", UnixTime::now().secs(), 3600).unwrap();
        vec![x5c_entry(&leaf), x5c_entry(&self.ca_der)]
    }
}

const PID_ATTRS: [(&str, &str); 4] =
    [("given_name", "Mario"), ("family_name", "Rossi"), ("birthdate", "1980-01-10"), ("tax_id_code", "TINIT-RSSMRA80A10H501Z")];

/// A PID SD-JWT VC issued by wallet-core, every attribute selectively disclosable.
fn pid(iss: &str, issuer: &SoftwareSigner, holder: &SoftwareSigner) -> SdJwt {
    let attrs = PID_ATTRS.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect();
    let now = UnixTime::now();
    SdJwtVcBuilder::new(iss, Vct::new(Vct::PID).unwrap(), attrs)
        .validity(now.plus(-60), now.plus(86_400))
        .issuing("Istituto Poligrafico e Zecca dello Stato", "IT")
        .holder_key(&holder.public_jwk())
        .kid(issuer.kid().unwrap())
        .sign(issuer)
        .unwrap()
}

// ---------------------------------------------------------------- our wallet's HTTP

async fn send(http: &reqwest::Client, req: HttpRequest) -> HttpResponse {
    let method = match req.method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Patch => reqwest::Method::PATCH,
    };
    let mut b = http.request(method, &req.url).body(req.body);
    for (n, v) in req.headers {
        b = b.header(n, v);
    }
    let r = b.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().iter().map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    HttpResponse { status, headers, body: r.bytes().await.unwrap().to_vec() }
}

/// Our wallet opens `wallet_url`: parse, fetch the request object, verify it trusting `roots`.
async fn open_request(http: &reqwest::Client, wallet_url: &str, roots: &TrustAnchors) -> Result<VerifiedRequest, ConsentError> {
    let flow = PresentationFlow::start(wallet_url, Profile::ItWallet14)?;
    let response = match flow.request_object_request() {
        Some(r) => Some(send(http, r).await),
        None => None,
    };
    let trust = RpTrustInputs { x509_anchors: Some(roots), ..Default::default() };
    flow.on_request_object(response.as_ref(), &trust, UnixTime::now())
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

// ---------------------------------------------------------------- 1. the peer as verifier

/// Starts the peer verifier asking for `claims` of a PID issued by `issuer`, signing under
/// `x5c`; its `ready` document.
fn start_peer_verifier(dir: &Path, tmp: &Path, signing: &SoftwareSigner, x5c: &[String], issuer: &SoftwareSigner, claims: &[&str], iss: bool) -> (NodePeer, Value) {
    let config = json!({
        "signing_key": private_jwk(signing), "x5c": x5c, "issuer_jwk": issuer.public_jwk(),
        "vct": Vct::PID, "claims": claims, "iss": iss,
    });
    let peer = NodePeer::spawn(dir, "openid4vp_verifier.mjs", &write_json(tmp, &format!("verifier-{iss}.json"), &config));
    let ready = peer.next("ready");
    (peer, ready)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_wallet_answers_the_peer_verifier() {
    let Some(dir) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let http = http();
    let pki = Pki::new("federation-ca");
    let ro_key = SoftwareSigner::generate().unwrap();
    let issuer = SoftwareSigner::generate().unwrap();
    let holder = SoftwareSigner::generate().unwrap();
    let asked = ["given_name", "family_name", "birthdate"];
    let (peer, ready) = start_peer_verifier(&dir, tmp.path(), &ro_key, &pki.x5c(&ro_key), &issuer, &asked, true);
    let wallet_url = ready["wallet_url"].as_str().unwrap();
    let client_id = ready["client_id"].as_str().unwrap();
    assert!(wallet_url.starts_with("openid4vp://?"), "{wallet_url}");
    assert!(client_id.starts_with("x509_hash:"), "{client_id}");

    // Our wallet trusting another CA: the peer's x5c does not reach it, nothing is sent.
    let other = Pki::new("other-ca");
    let e = open_request(&http, wallet_url, &other.anchors()).await.unwrap_err();
    assert!(matches!(e, ConsentError::RequestObject(RequestObjectError::Certificate(_))), "{e}");
    peer.next("fetched");

    // Trusting the right CA: every §5.1/§8 check of wallet-core passes on the peer's request.
    let req = open_request(&http, wallet_url, &pki.anchors()).await.unwrap();
    peer.next("fetched");
    assert_eq!(req.client_id.as_str(), client_id);
    assert!(matches!(&req.trust, RpTrust::X509 { san_dns, .. } if san_dns == &["127.0.0.1".to_owned()]), "{:?}", req.trust);
    assert_eq!(req.response_uri, ready["response_uri"].as_str().unwrap());
    assert_eq!(req.nonce, ready["nonce"].as_str().unwrap());
    assert_eq!(req.state.as_deref(), ready["state"].as_str());
    assert_eq!(req.encryption_key.alg.as_deref(), Some("ECDH-ES"));

    // The consent the citizen sees: the peer's client_name, certificate-only trust, exactly
    // the claims asked (not tax_id_code).
    let store = CredentialStore::open(tmp.path().join("wallet.db"), &StaticKeyProvider(DataKey::generate().unwrap())).unwrap();
    let sd = pid("https://pid.interop.test", &issuer, &holder);
    let now = UnixTime::now();
    let new = NewCredential {
        format: "dc+sd-jwt".into(),
        vct: Vct::PID.into(),
        issuer: "https://pid.interop.test".into(),
        issued_at: Some(now),
        expires_at: Some(now.plus(86_400)),
        credential: sd.serialize(),
        metadata: json!({}),
    };
    store.put(&new, now).unwrap();
    let rp = evaluate_rp(&req, None, &TrustMarkInputs::default(), now);
    assert_eq!(rp.name.as_deref(), Some("openid4vp peer verifier"));
    assert!(rp.warnings.contains(&TrustWarning::CertificateOnly), "{:?}", rp.warnings);
    let consent = ConsentRequest::from_store(req, rp, &store).unwrap();
    assert!(consent.satisfiable);
    let q = &consent.queries[0];
    assert_eq!(q.query_id, "pid");
    assert_eq!(q.candidates.len(), 1);
    let mut shown: Vec<String> = q.candidates[0].disclosed.iter().map(|c| c.path.to_string()).collect();
    shown.sort();
    let mut want: Vec<String> = asked.iter().map(|c| (*c).to_owned()).collect();
    want.sort();
    assert_eq!(shown, want);

    // Present: the peer decrypts (its decryptJwe callback, by kid), checks state, parses the
    // vp_token by query id; @sd-jwt/sd-jwt-vc verifies issuer signature, disclosures and KB.
    let prepared = consent.present(&consent.default_choice(), &holder, UnixTime::now(), Some(&store)).unwrap();
    let answer = send(&http, prepared.request).await;
    let outcome = peer.next("response");
    assert_eq!(answer.status, 200, "{outcome}");
    assert_eq!(outcome["accepted"], true, "{outcome}");
    assert_eq!(outcome["jarm"], "Encrypted");
    assert_eq!(outcome["state"], ready["state"]);
    let p = &outcome["presentations"]["pid"][0];
    for (k, v) in PID_ATTRS.iter().filter(|(k, _)| asked.contains(k)) {
        assert_eq!(p["claims"][k], *v, "{k}");
    }
    assert!(p["claims"].get("tax_id_code").is_none(), "only what was asked: {p}");
    assert_eq!(p["claims"]["vct"], Vct::PID);
    assert_eq!(p["kb"]["aud"], client_id);
    assert_eq!(p["kb"]["nonce"], ready["nonce"]);
    assert_eq!(peer.wait(), Some(0));
    assert_eq!(store.transactions().unwrap().len(), 1, "the presentation is in the wallet's log");
}

/// The library's request object as it makes it by default: no `iss`, `aud` = the
/// request_uri. IT-Wallet 1.4 §5.1 wants `iss` = the client_id: our wallet refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_wallet_refuses_the_peer_default_request_without_iss() {
    let Some(dir) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new("federation-ca");
    let ro_key = SoftwareSigner::generate().unwrap();
    let issuer = SoftwareSigner::generate().unwrap();
    let (peer, ready) = start_peer_verifier(&dir, tmp.path(), &ro_key, &pki.x5c(&ro_key), &issuer, &["birthdate"], false);
    let e = open_request(&http(), ready["wallet_url"].as_str().unwrap(), &pki.anchors()).await.unwrap_err();
    assert!(matches!(e, ConsentError::RequestObject(RequestObjectError::MissingClaim("iss"))), "{e}");
    peer.next("fetched");
}

// ---------------------------------------------------------------- 2. the peer as wallet

/// The peer wallet's run: its exit code and its stdout documents by `event`.
struct WalletRun {
    code: Option<i32>,
    docs: Vec<Value>,
}

impl WalletRun {
    fn event(&self, e: &str) -> &Value {
        self.docs.iter().find(|d| d["event"] == e).unwrap_or_else(|| panic!("no `{e}` in {:?}", self.docs))
    }
}

/// Runs the peer wallet on `wallet_url` with a PID of `fed`'s issuer, trusting `fed`'s CA root
/// and anchor; `extra` overrides members of its configuration (`tamper`: `kb_aud` or
/// `kb_nonce` breaks its KB-JWT on purpose; `x509_roots`; `federation_fallback`).
async fn run_peer_wallet(dir: &Path, fed: &common::Fed, wallet_url: &str, extra: Value) -> WalletRun {
    let holder = SoftwareSigner::generate().unwrap();
    let mut config = json!({
        "wallet_url": wallet_url,
        "x509_roots": [x5c_entry(&fed.root_der)],
        "credential": fed.issuer.pid(&holder).serialize(),
        "holder_key": private_jwk(&holder),
        "trust_anchor": fed.anchor.id,
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        config[k] = v;
    }
    let path = write_json(fed.dir.path(), "peer-wallet.json", &config);
    let script = dir.join("openid4vp_wallet.mjs");
    let out = tokio::task::spawn_blocking(move || Command::new("node").arg(script).arg(path).stderr(Stdio::inherit()).output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("openid4vp_wallet.mjs: exit {:?}\n{stdout}", out.status.code());
    let docs = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    WalletRun { code: out.status.code(), docs }
}

/// An `x509_hash` session of our verifier (`age_over_18`: the PID's birthdate), cross-device,
/// with `how` (`request_uri_method`, or `request_mode` `value`): its id, client id and wallet URL.
async fn x509_session(fed: &common::Fed, how: (&str, &str)) -> (String, String, String) {
    let mut body = json!({"preset": "age_over_18", "flow": "cross_device", "client_id_prefix": "x509_hash"});
    body[how.0] = json!(how.1);
    let s = fed.session(body).await;
    let client_id = s["client_id"].as_str().unwrap().to_owned();
    assert!(client_id.starts_with("x509_hash:"), "{s}");
    (s["session_id"].as_str().unwrap().to_owned(), client_id, s["wallet_url"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_wallet_answers_our_verifier() {
    let Some(dir) = peer() else { return };
    let fed = common::Fed::new().await;
    // By reference (GET; POST, where the library sends an empty form), and by value.
    for (how, send_by) in [(("request_uri_method", "get"), "reference"), (("request_uri_method", "post"), "reference"), (("request_mode", "value"), "value")] {
        let (id, client_id, wallet_url) = x509_session(&fed, how).await;
        let run = run_peer_wallet(&dir, &fed, &wallet_url, json!({})).await;
        // The peer resolved our request: signature verified with the x5c leaf (chained to the
        // federation CA in its callback), x509_hash = the leaf's hash.
        let r = run.event("resolved");
        assert_eq!(r["client"]["prefix"], "x509_hash", "{r}");
        assert_eq!(r["client"]["effective"], client_id.as_str());
        assert_eq!((r["send_by"].as_str(), r["signer"].as_str()), (Some(send_by), Some("x5c")));
        assert_eq!(r["response_mode"], "direct_post.jwt");
        assert_eq!(r["disclosed"], json!(["birthdate"]));
        let sub = run.event("submitted");
        assert_eq!((run.code, sub["status"].as_u64()), (Some(0), Some(200)), "{sub}");
        assert_eq!(sub["body"], json!({}), "cross-device: no redirect");

        assert_eq!(fed.state(&id).await["status"], "verified", "{how:?}");
        let (s, v) = fed.result(&id, None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "verified");
        let pid = &v["credentials"]["pid"][0];
        assert_eq!(pid["claims"]["birthdate"], "1980-01-10");
        assert!(pid["claims"].get("given_name").is_none(), "only what was asked: {pid}");
        assert_eq!(pid["issuer_trust"]["kind"], "trust_chain");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_verifier_refuses_the_peer_wallet_kb_jwt_for_another_audience_or_nonce() {
    let Some(dir) = peer() else { return };
    let fed = common::Fed::new().await;
    for (tamper, why) in [
        ("kb_aud", "key binding: the KB-JWT aud is not this verifier's client_id"),
        ("kb_nonce", "key binding: the KB-JWT nonce is not this session's"),
    ] {
        let (id, _, wallet_url) = x509_session(&fed, ("request_uri_method", "get")).await;
        let run = run_peer_wallet(&dir, &fed, &wallet_url, json!({"tamper": tamper})).await;
        let sub = run.event("submitted");
        assert_eq!((run.code, sub["status"].as_u64()), (Some(1), Some(403)), "{sub}");
        assert_eq!(sub["body"]["error"], "invalid_request", "{sub}");
        assert_eq!(fed.state(&id).await["status"], "refused");
        let (_, v) = fed.result(&id, None).await;
        assert_eq!(v["status"], "refused");
        assert!(v["reason"].as_str().unwrap().contains(why), "{tamper}: {v}");
    }
}

/// The peer wallet trusting another CA: its verifyJwt callback refuses our x5c, and the
/// library stops before answering (the session sees no response).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_wallet_refuses_our_request_under_a_ca_it_does_not_trust() {
    let Some(dir) = peer() else { return };
    let fed = common::Fed::new().await;
    let (id, _, wallet_url) = x509_session(&fed, ("request_uri_method", "get")).await;
    let other = Pki::new("other-ca");
    let run = run_peer_wallet(&dir, &fed, &wallet_url, json!({"x509_roots": [x5c_entry(&other.root_der)]})).await;
    assert_eq!(run.code, Some(1));
    let e = run.event("error");
    assert!(e["error"].as_str().unwrap().contains("verification of jwt"), "{e}");
    assert!(run.docs.iter().all(|d| d["event"] != "submitted"));
    assert_eq!(fed.state(&id).await["status"], "request_fetched");
}

/// Our default session: an `openid_federation:` client id, the request object's header with
/// `kid`, `x5c` and `trust_chain`. The library leaves trust to its verifyJwt callback; ours
/// resolves our chain with @openid-federation/core, which refuses our Entity Configuration
/// (it requires `client_registration_types`, an OpenID Connect RP parameter, in
/// `openid_credential_verifier`). With the workaround (trust the `x5c` under the federation CA,
/// metadata from `client_metadata`) the rest of the exchange goes through and is verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_wallet_and_a_federation_client_id() {
    let Some(dir) = peer() else { return };
    let fed = common::Fed::new().await;
    let session = || fed.session(json!({"preset": "age_over_18", "flow": "cross_device", "request_uri_method": "get"}));

    let s = session().await;
    let run = run_peer_wallet(&dir, &fed, s["wallet_url"].as_str().unwrap(), json!({})).await;
    assert_eq!(run.code, Some(1));
    let e = run.event("error")["error"].as_str().unwrap().to_owned();
    assert!(e.contains("metadata.openid_credential_verifier.client_registration_types"), "{e}");
    assert_eq!(fed.state(s["session_id"].as_str().unwrap()).await["status"], "request_fetched", "nothing sent");

    let s = session().await;
    let id = s["session_id"].as_str().unwrap();
    let run = run_peer_wallet(&dir, &fed, s["wallet_url"].as_str().unwrap(), json!({"federation_fallback": "x5c"})).await;
    assert!(run.event("federation_fallback")["reason"].as_str().unwrap().contains("client_registration_types"));
    let r = run.event("resolved");
    assert_eq!((r["client"]["prefix"].as_str(), r["signer"].as_str()), (Some("openid_federation"), Some("federation")), "{r}");
    assert_eq!(r["client"]["effective"], format!("openid_federation:{}", fed.verifier_id));
    let sub = run.event("submitted");
    assert_eq!((run.code, sub["status"].as_u64()), (Some(0), Some(200)), "{sub}");
    assert_eq!(fed.state(id).await["status"], "verified");
}
