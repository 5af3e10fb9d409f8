//! OpenID4VCI interop with npm `@openid4vc/openid4vci` 0.4.6 (openwallet-foundation
//! oid4vc-ts) as a wallet, over real HTTP on loopback, the peer run as
//! `node interop/openid4vci_wallet.mjs` (installed by `interop/setup.sh`; its JOSE callbacks
//! on `jose`).
//!
//! The peer has no IT-Wallet attestations (no WAA, no WUA): it gets a credential from our
//! issuer through a pre-authorized offer (`tx_code`) only on a deployment with
//! `wallet_attestation = "optional"`: token with DPoP, `c_nonce`, a plain
//! `openid4vci-proof+jwt` with its own key, `/credential` with DPoP, notification. The
//! credential it printed verifies with the issuer's key, has the offered `vct` and is bound
//! (`cnf`) to the peer's key. With the default `required`, the peer refuses by itself to
//! make a proof without a key attestation; made to send one anyway, it is refused with
//! `invalid_proof`; handed a WUA from the federation's wallet provider for its key, it refuses
//! to send it (a bug in its schema), and gets the credential when the script builds the proof
//! around it. With a `verifyJwt` callback the peer reads our signed metadata.
//!
//! The setting's own tests (no peer): a plain proof accepted under `optional` and refused
//! under `required`; a WUA sent under `optional` still verified (a revoked one refused).
//!
//! Without `node` or the packages the peer tests print "skipped: run interop/setup.sh" and
//! pass, unless `TESSERA_INTEROP=required`. What the peer could not do: interop/README.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod common;

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Fed, MARIO, MDL, PID, TOKEN, Wallet};
use issuer::config::WalletAttestation;
use serde_json::{Value, json};
use wallet_core::jose::Jwk;
use wallet_core::oid4vci::{CredentialResponse, key_proof};
use wallet_core::sd_jwt::{StaticKeyResolver, Verifier};
use wallet_core::time::UnixTime;

// ---------------------------------------------------------------- the peer

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop")
}

/// The interop folder, or None (and the skip message) when `node` or a package is missing;
/// with `TESSERA_INTEROP=required` (CI) a missing peer fails the test.
fn peer() -> Option<PathBuf> {
    let d = interop_dir();
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let missing: Vec<String> = ["@openid4vc/openid4vci", "@openid4vc/oauth2", "jose"]
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
        panic!("@openid4vc/openid4vci: {why} and TESSERA_INTEROP=required: run interop/setup.sh");
    }
    println!("skipped: run interop/setup.sh ({why})");
    None
}

/// `openid4vci_wallet.mjs` run to its end: its stdout documents (one JSON per line) and its
/// exit code.
struct Run {
    lines: Vec<Value>,
    code: Option<i32>,
}

impl Run {
    /// The first document whose `event` is `event`.
    fn event(&self, event: &str) -> &Value {
        self.lines.iter().find(|v| v["event"] == event).unwrap_or_else(|| panic!("no `{event}` line in {:#?}", self.lines))
    }
}

/// Runs the peer wallet with `config` (written to a file in `dir`); killed after 60 s.
fn run_peer(interop: &Path, dir: &Path, config: &Value) -> Run {
    let path = dir.join(format!("vci-peer-{}.json", rand_suffix()));
    std::fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    let mut child: Child = Command::new("node")
        .arg(interop.join("openid4vci_wallet.mjs"))
        .arg(&path)
        .current_dir(interop)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = std::io::BufReader::new(stdout).lines().map_while(Result::ok).collect();
        let _ = tx.send(lines);
    });
    let lines = tokio::task::block_in_place(|| rx.recv_timeout(Duration::from_secs(60)));
    let Ok(lines) = lines else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("openid4vci_wallet.mjs did not finish within 60 s");
    };
    let code = tokio::task::block_in_place(|| child.wait()).unwrap().code();
    let lines = lines
        .iter()
        .map(|l| {
            println!("openid4vci_wallet.mjs: {l}");
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
        })
        .collect();
    Run { lines, code }
}

fn rand_suffix() -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    wallet_core::jose::b64::encode(b)
}

/// A federation whose issuer accepts wallets without attestations.
async fn open_issuer() -> Fed {
    Fed::with(|c| c.wallet_attestation = WalletAttestation::Optional).await
}

// ---------------------------------------------------------------- with the peer

/// `wallet_attestation = "optional"`: the peer gets an mDL (offer, metadata, token with
/// DPoP and tx_code, nonce, a plain proof, credential, notification); the credential
/// verifies with the issuer key from the metadata, has the mDL `vct` and `cnf` = the peer's
/// key; the issuer recorded the notification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_wallet_gets_a_credential_without_wallet_attestation() {
    let Some(interop) = peer() else { return };
    let fed = open_issuer().await;
    let (offer_url, tx_code) = fed.offer(MARIO, &[MDL]).await;
    let run = run_peer(&interop, fed.dir.path(), &json!({"offer_url": offer_url, "tx_code": tx_code}));
    assert_eq!(run.code, Some(0), "{:#?}", run.lines);

    let md = run.event("metadata");
    assert_eq!(md["credential_issuer"], fed.issuer_id.as_str());
    assert_eq!(md["key_attestations_required"], Value::Null, "optional: the metadata do not demand a WUA");
    let token = run.event("token");
    assert_eq!(token["token_type"], "DPoP");

    let got = run.event("credential");
    assert_eq!(got["configuration_id"], MDL);
    assert_eq!(got["count"], 1);
    let resolver = StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());
    let vc = wallet_core::vc::verify(&Verifier::new(&resolver), got["credential"].as_str().unwrap(), UnixTime::now()).unwrap();
    assert_eq!(vc.vct.as_str(), "urn:eudi:mDL:it:1");
    assert_eq!(vc.iss, fed.issuer_id.as_str());
    assert_eq!(vc.attributes()["family_name"], "Rossi");
    let cnf: Jwk = serde_json::from_value(vc.sd_jwt.claims["cnf"]["jwk"].clone()).unwrap();
    let holder: Jwk = serde_json::from_value(got["holder_jwk"].clone()).unwrap();
    assert_eq!(cnf.thumbprint(), holder.thumbprint(), "bound to the peer's proof key");

    assert_eq!(run.event("notified")["status"], 204);
    let (s, v) = Fed::json(fed.http.get(fed.url(&format!("/admin/citizens/{MARIO}/credentials"))).bearer_auth(TOKEN)).await;
    assert_eq!(s, 200);
    assert_eq!(v["credentials"][0]["notified"], "credential_accepted");
}

/// Signed metadata (OpenID4VCI §12.2.3): given a `verifyJwt` callback the peer accepts
/// `application/jwt` (it sends no `Accept` header: the script's fetch callback adds one) and
/// verifies our `openidvci-issuer-metadata+jwt` through the callback (which trusts the issuer
/// key handed to it: the peer cannot resolve our federation), then completes the flow from it;
/// with another key the verification fails and the peer stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_wallet_verifies_signed_metadata() {
    let Some(interop) = peer() else { return };
    let fed = open_issuer().await;
    let (offer_url, tx_code) = fed.offer(MARIO, &[MDL]).await;
    let key = fed.issuer_key().await;
    let run = run_peer(&interop, fed.dir.path(), &json!({"offer_url": offer_url, "tx_code": tx_code, "signed_metadata_key": key}));
    assert_eq!(run.code, Some(0), "{:#?}", run.lines);
    assert_eq!(run.event("metadata")["signed"], true);
    let resolver = StaticKeyResolver::for_issuer(key, fed.issuer_id.as_str());
    wallet_core::vc::verify(&Verifier::new(&resolver), run.event("credential")["credential"].as_str().unwrap(), UnixTime::now()).unwrap();

    let (offer_url, tx_code) = fed.offer(MARIO, &[MDL]).await;
    let other = wallet_core::jose::SoftwareSigner::generate().unwrap();
    let mut other = wallet_core::jose::Signer::public_jwk(&other);
    other.kid = fed.issuer_key().await.kid;
    let run = run_peer(&interop, fed.dir.path(), &json!({"offer_url": offer_url, "tx_code": tx_code, "signed_metadata_key": other}));
    assert_eq!(run.code, Some(1));
    assert_eq!(run.event("error")["stage"], "metadata");
}

/// The default `wallet_attestation = "required"`: the metadata demand a WUA, so the peer
/// refuses by itself to make a proof without one; made to send one anyway (the requirement
/// dropped from its copy of the metadata), our issuer refuses it with `invalid_proof`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_wallet_without_wua_is_refused_when_wallet_attestation_is_required() {
    let Some(interop) = peer() else { return };
    let fed = Fed::new().await;

    let (offer_url, tx_code) = fed.offer(MARIO, &[PID]).await;
    let run = run_peer(&interop, fed.dir.path(), &json!({"offer_url": offer_url, "tx_code": tx_code}));
    assert_eq!(run.code, Some(1));
    assert!(run.event("metadata")["key_attestations_required"].is_object());
    let err = run.event("error");
    assert_eq!(err["stage"], "proof", "the peer itself refuses: {err}");
    assert!(err["error"].as_str().unwrap().contains("requires key attestations"), "{err}");

    let (offer_url, tx_code) = fed.offer(MARIO, &[PID]).await;
    let run = run_peer(&interop, fed.dir.path(), &json!({"offer_url": offer_url, "tx_code": tx_code, "ignore_key_attestations_required": true}));
    assert_eq!(run.code, Some(1));
    let err = run.event("error");
    assert_eq!(err["stage"], "credential", "{err}");
    assert_eq!(err["status"], 400, "{err}");
    assert_eq!(err["error_response"]["error"], "invalid_proof", "{err}");
    let (s, v) = Fed::json(fed.http.get(fed.url(&format!("/admin/citizens/{MARIO}/credentials"))).bearer_auth(TOKEN)).await;
    assert_eq!(s, 200);
    assert!(v["credentials"].as_array().unwrap().is_empty(), "nothing issued: {v}");
}

/// `required`, and the peer holding a WUA for its key from the federation's wallet provider
/// (handed to it, as a wallet provider would): the library refuses to put it in a proof (its
/// key attestation header schema rejects `trust_chain` together with `kid`, which an IT-Wallet
/// WUA with a `trust_chain` has: the rule is written backwards). With the proof built by the script instead (same
/// header and claims, the same signing callback), the rest of the peer's flow gets the
/// credential, bound to that key; and so it does as an attested wallet instance (WAA).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_wallet_with_a_wua_when_wallet_attestation_is_required() {
    let Some(interop) = peer() else { return };
    let fed = Fed::new().await;
    let holder = wallet_core::jose::SoftwareSigner::generate().unwrap();
    let wua = fed.wua(&[&holder]);
    let private: Value = serde_json::from_str(&holder.private_jwk().to_json()).unwrap();

    let (offer_url, tx_code) = fed.offer(MARIO, &[PID]).await;
    let run = run_peer(&interop, fed.dir.path(), &json!({"offer_url": offer_url, "tx_code": tx_code, "holder_key": private, "key_attestation": wua}));
    assert_eq!(run.code, Some(1));
    let err = run.event("error");
    assert_eq!(err["stage"], "proof", "{err}");
    assert!(err["error"].as_str().unwrap().contains("When 'trust_chain' is provided, 'kid' is required"), "{err}");

    let (offer_url, tx_code) = fed.offer(MARIO, &[PID]).await;
    let config = json!({"offer_url": offer_url, "tx_code": tx_code, "holder_key": private, "key_attestation": wua, "key_attestation_workaround": true});
    let run = run_peer(&interop, fed.dir.path(), &config);
    assert_eq!(run.code, Some(0), "{:#?}", run.lines);
    run.event("key_attestation_workaround");
    let resolver = StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());
    let vc = wallet_core::vc::verify(&Verifier::new(&resolver), run.event("credential")["credential"].as_str().unwrap(), UnixTime::now()).unwrap();
    assert_eq!(vc.vct.as_str(), "urn:eudi:pid:it:1");
    let cnf: Jwk = serde_json::from_value(vc.sd_jwt.claims["cnf"]["jwk"].clone()).unwrap();
    assert_eq!(cnf.thumbprint(), wallet_core::jose::Signer::public_jwk(&holder).thumbprint());

    // And as an attested wallet instance: the WAA and its PoP at /token by the library's
    // attest_jwt_client_auth, the token bound to the WAA's `sub`, the proof naming it (`iss`).
    let client_key = wallet_core::jose::SoftwareSigner::generate().unwrap();
    let waa = fed.waa(&client_key, UnixTime::now(), 3_600);
    let client_private: Value = serde_json::from_str(&client_key.private_jwk().to_json()).unwrap();
    let (offer_url, tx_code) = fed.offer(MARIO, &[PID]).await;
    let mut config = config;
    config["offer_url"] = json!(offer_url);
    config["tx_code"] = json!(tx_code);
    config["client_attestation"] = json!(waa);
    config["client_key"] = client_private;
    let run = run_peer(&interop, fed.dir.path(), &config);
    assert_eq!(run.code, Some(0), "{:#?}", run.lines);
    assert_eq!(run.event("token")["client_id"], wallet_core::jose::Signer::public_jwk(&client_key).thumbprint().to_string());
    wallet_core::vc::verify(&Verifier::new(&resolver), run.event("credential")["credential"].as_str().unwrap(), UnixTime::now()).unwrap();
}

// ---------------------------------------------------------------- the setting, without the peer

/// The `key_attestations_required` of every configuration in the served metadata.
async fn published_requirements(fed: &Fed) -> Vec<Value> {
    let (s, md) = Fed::json(fed.http.get(fed.url("/.well-known/openid-credential-issuer"))).await;
    assert_eq!(s, 200);
    md["credential_configurations_supported"].as_object().unwrap().values().map(|c| c["proof_types_supported"]["jwt"]["key_attestations_required"].clone()).collect()
}

/// A plain proof (no `key_attestation`) by `wallet.keys[0]` for an mDL offered to Mario:
/// the `/credential` answer.
async fn plain_proof_request(fed: &Fed, wallet: &Wallet, wua: Option<&str>) -> (u16, Value) {
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(fed, &url).await;
    let at = wallet.token(fed, &code, &tx).await;
    let nonce = wallet.nonce(fed).await;
    let proof = key_proof(&wallet.keys[0], wua, None, fed.issuer_id.as_str(), Some(&nonce), UnixTime::now()).unwrap();
    wallet.protected(fed, "/credential", &at, &Wallet::request(MDL, vec![proof]), None).await
}

/// `optional`: the metadata omit `key_attestations_required`, a plain proof gets a
/// credential bound to its key, a revoked WUA sent along is still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_wallet_attestation_accepts_a_plain_proof_and_still_checks_a_wua_sent() {
    let fed = open_issuer().await;
    assert!(published_requirements(&fed).await.iter().all(Value::is_null));
    let wallet = Wallet::new(1);
    let (s, v) = plain_proof_request(&fed, &wallet, None).await;
    assert_eq!(s, 200, "{v}");
    let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate") };
    let resolver = StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());
    let vc = wallet_core::vc::verify(&Verifier::new(&resolver), &credentials[0].credential, UnixTime::now()).unwrap();
    let cnf: Jwk = serde_json::from_value(vc.sd_jwt.claims["cnf"]["jwk"].clone()).unwrap();
    assert_eq!(cnf.thumbprint(), wallet_core::jose::Signer::public_jwk(&wallet.keys[0]).thumbprint());

    let wallet = Wallet::new(1);
    let revoked = fed.wua_at(&[&wallet.keys[0]], 9);
    let (s, v) = plain_proof_request(&fed, &wallet, Some(&revoked)).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_proof")), "{v}");
}

/// `required` (the default): the metadata demand a key attestation and a plain proof is
/// `invalid_proof`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_wallet_attestation_refuses_a_plain_proof() {
    let fed = Fed::new().await;
    assert!(published_requirements(&fed).await.iter().all(Value::is_object));
    let (s, v) = plain_proof_request(&fed, &Wallet::new(1), None).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_proof")), "{v}");
}
