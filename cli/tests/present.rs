//! `tessera wallet holder-key | import | list | present | log` over real HTTP on loopback: a
//! trust anchor (`trust-anchor` router), a relying party (a federation leaf whose router also
//! serves `request_uri` and `response_uri`: request objects signed with wallet-core's
//! `RequestObjectBuilder`, responses checked with `verify_response`) and a credential issuer
//! (a federation leaf with `openid_credential_issuer` metadata; the test signs an SD-JWT VC with
//! its key, with a `trust_chain` header, to the wallet's holder key).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::{get, post};
use serde_json::{Value, json};
use trust_anchor::{AppState, Config, router};
use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{ContentEncryption, DecryptionKey, JwsAlg, JwsHeader, Signer, SoftwareSigner};
use wallet_core::oid4vp::dcql::DcqlQuery;
use wallet_core::oid4vp::{
    AuthorizationRequestUrl, ClientId, PostedResponse, PresentationContext, RequestObjectBuilder, RequestUriMethod, RequestUriPost,
    ResponseExpectation, ResponseUriAnswer, SigningHeader, Verdict, VerifierMetadata, WalletInvocation, verify_response,
};
use wallet_core::sd_jwt::SdJwtBuilder;
use wallet_core::time::UnixTime;

const TOKEN: &str = "test-admin-token";
const PID_VCT: &str = "urn:eudi:pid:it:1";
const NONCE: &str = "n-0S6_WzA2Mj-abcdefghijklmnopqrstuvwxyz";
const STATE: &str = "state-1234";

struct Node {
    id: EntityId,
    jwks: JwkSet,
}

/// A federation entity on a loopback port; `f` gets its id to fill its configuration;
/// `extra` routes are merged into its router.
async fn start(dir: &Path, name: &str, f: impl FnOnce(&EntityId, &mut Config), extra: Option<axum::Router>) -> Node {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())).unwrap();
    let mut config = Config::trust_anchor(id.clone(), dir.join(name), TOKEN);
    config.organization_name = name.into();
    f(&id, &mut config);
    let state = AppState::open(config).unwrap();
    let jwks = state.jwks();
    let mut app = router(state);
    if let Some(r) = extra {
        app = app.merge(r);
    }
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Node { id, jwks }
}

fn leaf(ta: &EntityId, metadata: Value) -> impl FnOnce(&mut Config) {
    let hints = vec![ta.clone()];
    move |c: &mut Config| {
        c.authority = false;
        c.authority_hints = hints;
        c.metadata = metadata.as_object().cloned().unwrap();
    }
}

async fn onboard(ta: &Node, sub: &EntityId, entity_type: &str) {
    let r = reqwest::Client::new()
        .post(format!("{}/admin/subordinates", ta.id))
        .bearer_auth(TOKEN)
        .json(&json!({"entity_id": sub, "entity_types": [entity_type]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// The relying party's protocol side.
struct Rp {
    client_id: ClientId,
    response_uri: String,
    redirect_base: String,
    ro_key: SoftwareSigner,
    enc_key: DecryptionKey,
    anchor: Mutex<Option<TrustAnchorConfig>>,
    /// Sign request objects with this key instead (under the registered key's kid).
    impostor: Mutex<Option<SoftwareSigner>>,
    /// Requests for the request object.
    fetches: Mutex<u32>,
    /// What it concluded from each response: ("verified", claims of `pid`) or ("declined", error).
    verdicts: Mutex<Vec<(String, Value)>>,
}

fn query() -> DcqlQuery {
    DcqlQuery::parse(&json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [PID_VCT]},
        "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}]}]}).to_string())
    .unwrap()
}

async fn request_object(State(rp): State<Arc<Rp>>, body: axum::body::Bytes) -> impl axum::response::IntoResponse {
    *rp.fetches.lock().unwrap() += 1;
    // GET (request_uri_method absent) has no body, POST has wallet_metadata and wallet_nonce.
    let post = RequestUriPost::parse_form(&body).ok();
    let mut b = RequestObjectBuilder::new(rp.client_id.clone(), rp.response_uri.clone(), NONCE, query(), UnixTime::now());
    b.state = Some(STATE.into());
    b.wallet_nonce = post.and_then(|p| p.wallet_nonce).map(|n| n.as_str().to_owned());
    b.client_metadata = Some(VerifierMetadata {
        jwks: Some(JwkSet { keys: vec![rp.enc_key.public_jwk().clone()] }),
        encrypted_response_enc_values_supported: Some(vec!["A256GCM".into()]),
        ..Default::default()
    });
    let header = SigningHeader { x5c: None, trust_chain: None, kid: rp.ro_key.kid() };
    let jwt = match rp.impostor.lock().unwrap().as_ref() {
        Some(other) => b.sign(other, &header).unwrap(),
        None => b.sign(&rp.ro_key, &header).unwrap(),
    };
    ([("Content-Type", "application/oauth-authz-req+jwt")], jwt)
}

async fn response(State(rp): State<Arc<Rp>>, body: axum::body::Bytes) -> impl axum::response::IntoResponse {
    let posted = PostedResponse::parse_form(&body).unwrap();
    let anchors = [rp.anchor.lock().unwrap().clone().unwrap()];
    let q = query();
    let keys = [rp.enc_key.clone()];
    let expect = ResponseExpectation { query: &q, state: Some(STATE), decryption_keys: &keys, allowed_enc: &[ContentEncryption::A256Gcm] };
    let ctx = PresentationContext { federation_anchors: &anchors, ..PresentationContext::new(&rp.client_id, NONCE, UnixTime::now()) };
    let verdict = match verify_response(&posted, &expect, &ctx).await {
        Verdict::Verified(v) => ("verified".to_owned(), Value::Object(v.credentials["pid"][0].claims.clone())),
        Verdict::Declined(e) => ("declined".to_owned(), json!(e.error.as_str())),
        Verdict::Refused { reason, .. } => ("refused".to_owned(), json!(reason.to_string())),
    };
    rp.verdicts.lock().unwrap().push(verdict);
    ResponseUriAnswer::same_device(&rp.redirect_base, "code-1").to_json()
}

/// A relying party: a federation leaf with `openid_credential_verifier` metadata whose router
/// also serves `/request` and `/response`; onboarded at the anchor when `member`.
async fn start_rp(dir: &Path, name: &str, ta: &Node, member: bool) -> (Node, Arc<Rp>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let base = format!("http://127.0.0.1:{port}");
    let id = EntityId::new(base.clone()).unwrap();
    let rp = Arc::new(Rp {
        client_id: ClientId::federation(&id),
        response_uri: format!("{base}/response"),
        redirect_base: format!("{base}/done"),
        ro_key: SoftwareSigner::generate().unwrap(),
        enc_key: DecryptionKey::generate().unwrap(),
        anchor: Mutex::new(Some(TrustAnchorConfig { id: ta.id.clone(), jwks: ta.jwks.clone() })),
        impostor: Mutex::new(None),
        fetches: Mutex::new(0),
        verdicts: Mutex::new(Vec::new()),
    });
    let metadata = json!({"openid_credential_verifier": {
        "client_id": base,
        "client_name": format!("Comune di {name}"),
        "application_type": "web",
        "request_uris": [format!("{base}/request")],
        "response_uris": [format!("{base}/response")],
        "redirect_uris": [format!("{base}/done")],
        "jwks": {"keys": [rp.ro_key.public_jwk(), rp.enc_key.public_jwk()]},
        "encrypted_response_enc_values_supported": ["A256GCM"],
        "vp_formats_supported": {"dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}},
        "purpose": "Accesso ai servizi comunali"
    }});
    let routes = axum::Router::new()
        .route("/request", get(request_object).post(request_object))
        .route("/response", post(response))
        .with_state(rp.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let mut config = Config::trust_anchor(id.clone(), dir.join(name), TOKEN);
    config.organization_name = format!("Comune di {name}");
    leaf(&ta.id, metadata)(&mut config);
    config.trust_anchors = vec![TrustAnchorConfig { id: ta.id.clone(), jwks: ta.jwks.clone() }];
    let state = AppState::open(config).unwrap();
    let jwks = state.jwks();
    let app = router(state).merge(routes).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    if member {
        onboard(ta, &id, "openid_credential_verifier").await;
    }
    (Node { id, jwks }, rp)
}

/// Runs `tessera` off the runtime (the servers keep serving).
async fn tessera(args: Vec<String>) -> Output {
    let label = args.join(" ");
    let o = tokio::task::spawn_blocking(move || std::process::Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().unwrap()).await.unwrap();
    println!("tessera {label}: {:?}\n{}{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    o
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn stdout_json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The federation (anchor, issuer, RP member, RP stranger), the wallet's holder key and a PID
/// issued to it (not yet imported).
struct World {
    dir: tempfile::TempDir,
    ta: Node,
    ta_url: String,
    ci: Node,
    rp_node: Node,
    rp: Arc<Rp>,
    stranger_node: Node,
    stranger: Arc<Rp>,
    data_s: String,
    pid_file: std::path::PathBuf,
    now: i64,
    /// The same PID without a `trust_chain` header (the wallet resolves the issuer over HTTP).
    pid_no_chain_file: std::path::PathBuf,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    // The anchor lists itself as the issuer of its `verifier` trust mark.
    let ta = start(dir.path(), "ta", |id, c| c.trust_mark_issuers = [(format!("{id}/trust_marks/verifier"), vec![id.to_string()])].into(), None).await;
    let ta_url = ta.id.to_string();
    let issuer_key = SoftwareSigner::generate().unwrap();
    let issuer_pub = issuer_key.public_jwk();
    let ci = start(
        dir.path(),
        "ci",
        |id, c| {
            leaf(&ta.id, json!({"openid_credential_issuer": {
                "credential_issuer": id,
                "credential_endpoint": format!("{id}/credential"),
                "display": [{"name": "Istituto Poligrafico", "locale": "it-IT"}],
                "jwks": {"keys": [issuer_pub]},
                "credential_configurations_supported": {"pid": {"format": "dc+sd-jwt", "vct": PID_VCT}}
            }}))(c)
        },
        None,
    )
    .await;
    onboard(&ta, &ci.id, "openid_credential_issuer").await;
    let (rp_node, rp) = start_rp(dir.path(), "Roma", &ta, true).await;
    let (stranger_node, stranger) = start_rp(dir.path(), "Altrove", &ta, false).await;
    // The anchor issues the RP a trust mark, which the RP publishes in its configuration.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/admin/trust-marks", ta.id))
        .bearer_auth(TOKEN)
        .json(&json!({"sub": rp_node.id, "trust_mark_type": "verifier", "claims": {"organization_type": "public", "logo_uri": format!("{}/logo.svg", rp_node.id)}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let mark: Value = r.json().await.unwrap();
    let r = http.post(format!("{}/admin/own-trust-marks", rp_node.id)).bearer_auth(TOKEN).json(&json!({"trust_mark": mark["trust_mark"]})).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    // The issuer's trust chain for the credential's header: its configuration and the
    // anchor's statement about it.
    let ec = http.get(format!("{}/.well-known/openid-federation", ci.id)).send().await.unwrap().text().await.unwrap();
    let ss = http.get(format!("{}/fetch?sub={}", ta.id, ci.id)).send().await.unwrap().text().await.unwrap();
    let _ = &ci.jwks;

    // The wallet's holder key, and a PID issued to it.
    let data = dir.path().join("wallet");
    let data_s = data.display().to_string();
    let o = tessera(args(&["wallet", "holder-key", "--data-dir", &data_s])).await;
    let holder: Value = stdout_json(&o);
    assert_eq!(holder["kty"], "EC");
    let now = UnixTime::now().secs();
    let claims = json!({
        "iss": ci.id, "vct": PID_VCT, "iat": now - 10, "exp": now + 86_400,
        "cnf": {"jwk": holder},
        "given_name": "Mario", "family_name": "Rossi", "birthdate": "1980-01-10", "tax_id_code": "TINIT-RSSMRA80A10H501Z",
        "issuing_authority": "Istituto Poligrafico e Zecca dello Stato", "issuing_country": "IT",
        // The metadata IT-Wallet 1.4 §4.3 requires of a PID (this RP reads no status list).
        "sub": "NzbLsXh8uDCcd7noWXFZAfHkxZsRGC9Xs", "date_of_expiry": "2033-03-19",
        "verification": {"trust_framework": "it_cie", "assurance_level": "high"},
        "status": {"status_list": {"idx": 0, "uri": format!("{}/status-list", ci.id)}},
    });
    let mut header = JwsHeader::new(JwsAlg::Es256).with_typ("dc+sd-jwt").with_kid(issuer_key.kid());
    let pid_no_chain = SdJwtBuilder::new(claims.as_object().cloned().unwrap())
        .all_top_level_disclosable(&["iss", "vct", "iat", "exp", "cnf", "issuing_authority", "issuing_country", "sub", "date_of_expiry", "verification", "status"])
        .sign(&header, &issuer_key)
        .unwrap()
        .serialize();
    let pid_no_chain_file = dir.path().join("pid-no-chain.sdjwt");
    std::fs::write(&pid_no_chain_file, &pid_no_chain).unwrap();
    header.trust_chain = Some(vec![ec, ss]);
    let pid = SdJwtBuilder::new(claims.as_object().cloned().unwrap())
        .all_top_level_disclosable(&["iss", "vct", "iat", "exp", "cnf", "issuing_authority", "issuing_country", "sub", "date_of_expiry", "verification", "status"])
        .sign(&header, &issuer_key)
        .unwrap()
        .serialize();
    let pid_file = dir.path().join("pid.sdjwt");
    std::fs::write(&pid_file, &pid).unwrap();

    World { dir, ta, ta_url, ci, rp_node, rp, stranger_node, stranger, data_s, pid_file, now, pid_no_chain_file }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn url(rp: &Rp, node: &Node, method: RequestUriMethod) -> String {
    AuthorizationRequestUrl::by_reference(WalletInvocation::Openid4vp, rp.client_id.clone(), format!("{}/request", node.id), method).to_url()
}

async fn import(w: &World) -> Value {
    let o = tessera(args(&["wallet", "import", &w.pid_file.display().to_string(), "--ta", &w.ta_url, "--data-dir", &w.data_s, "--json"])).await;
    stdout_json(&o)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_list_present_decline_refuse_and_log() {
    let w = world().await;
    let World { dir, ta, ta_url, ci, rp_node, rp, stranger_node, stranger, data_s, pid_file, now, .. } = &w;
    // A credential bound to another key is refused.
    let other = dir.path().join("other");
    let o = tessera(args(&["wallet", "holder-key", "--data-dir", &other.display().to_string()])).await;
    assert!(o.status.success());
    let o = tessera(args(&["wallet", "import", &pid_file.display().to_string(), "--ta", ta_url, "--data-dir", &other.display().to_string()])).await;
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("bound to another key"));

    // Import and list.
    let imported = import(&w).await;
    assert_eq!(imported["vct"], PID_VCT);
    assert_eq!(imported["issuer_name"], "Istituto Poligrafico");
    let o = tessera(args(&["wallet", "list", "--data-dir", data_s, "--json"])).await;
    let list = stdout_json(&o);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], imported["id"]);
    assert_eq!(list[0]["issuer"], ci.id.as_str());
    assert_eq!(list[0]["expires_at"], *now + 86_400);
    let o = tessera(args(&["wallet", "list", "--data-dir", data_s])).await;
    assert!(String::from_utf8_lossy(&o.stdout).contains("Istituto Poligrafico"));

    // Present with consent: the RP verifies, and sees only what it asked for.
    let o = tessera(args(&["wallet", "present", &url(rp, rp_node, RequestUriMethod::Post), "--ta", ta_url, "--data-dir", data_s, "--yes", "--json"])).await;
    let shown = stdout_json(&o);
    assert_eq!(shown["rp"]["name"], "Comune di Roma");
    assert_eq!(shown["rp"]["entity_id"], rp_node.id.as_str());
    assert_eq!(shown["rp"]["purpose"], "Accesso ai servizi comunali");
    assert!(shown["rp"]["trust"].as_str().unwrap().contains(ta.id.as_str()));
    assert_eq!(shown["rp"]["trust_marks"][0]["type"], format!("{}/trust_marks/verifier", ta.id));
    assert!(shown["rp"]["trust_marks"][0]["check"].as_str().unwrap().starts_with("valid, issued by"), "{shown}");
    assert_eq!(shown["rp"]["warnings"], json!([]));
    let disclosed: Vec<&str> = shown["queries"][0]["candidates"][0]["disclosed"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert_eq!(disclosed, ["given_name", "family_name"]);
    assert_eq!(shown["outcome"], "presented");
    assert_eq!(shown["redirect_uri"], format!("{}/done?response_code=code-1", rp_node.id));
    {
        let v = rp.verdicts.lock().unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, "verified", "{:?}", v[0].1);
        assert_eq!(v[0].1["given_name"], "Mario");
        assert_eq!(v[0].1["family_name"], "Rossi");
        assert!(v[0].1.get("birthdate").is_none() && v[0].1.get("tax_id_code").is_none(), "{:?}", v[0].1);
    }

    // Decline: the RP gets access_denied.
    let o = tessera(args(&["wallet", "present", &url(rp, rp_node, RequestUriMethod::Post), "--ta", ta_url, "--data-dir", data_s, "--decline"])).await;
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Comune di Roma") && out.contains("given_name") && out.contains("Declined"), "{out}");
    assert_eq!(rp.verdicts.lock().unwrap()[1], ("declined".to_owned(), json!("access_denied")));

    // An RP outside the federation: refused, nothing fetched, nothing sent.
    let o = tessera(args(&["wallet", "present", &url(stranger, stranger_node, RequestUriMethod::Post), "--ta", ta_url, "--data-dir", data_s, "--yes"])).await;
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not trusted") && err.contains(stranger_node.id.as_str()), "{err}");
    assert_eq!(*stranger.fetches.lock().unwrap(), 0);
    assert!(stranger.verdicts.lock().unwrap().is_empty());

    // The log: the import, the presentation (with its claims), the decline, the refusal of
    // the RP outside the federation with why (WP_089a).
    let o = tessera(args(&["wallet", "log", "--data-dir", data_s, "--json"])).await;
    let log = stdout_json(&o);
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 4);
    assert_eq!((&log[3]["kind"], &log[3]["claims"], &log[3]["outcome"]["result"]["outcome"]), (&json!("refused"), &json!([]), &json!("rejected")), "{}", log[3]);
    assert!(log[3]["outcome"]["result"]["reason"].as_str().unwrap().starts_with("the relying party is not trusted: "), "{}", log[3]);
    assert_eq!(log[0]["kind"], "issuance");
    assert_eq!(log[1]["kind"], "presentation");
    assert_eq!(log[1]["counterparty"], rp_node.id.as_str());
    assert_eq!(log[1]["claims"], json!(["pid:given_name", "pid:family_name"]));
    assert_eq!(log[2]["kind"], "declined");
    assert_eq!(log[2]["claims"], json!([]));
    let o = tessera(args(&["wallet", "log", "--data-dir", data_s])).await;
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("declined a presentation to") && text.contains("refused a request of"), "{text}");
}

/// Without --yes the wallet asks on the terminal (here: `y` on stdin; the request fetched by
/// GET); a request object signed by a key other than the RP's registered one is refused and
/// nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn asks_for_consent_and_refuses_a_request_signed_by_another_key() {
    let w = world().await;
    // Without a trust_chain header the issuer's chain is resolved over HTTP to the anchor.
    // (Into a copy of the wallet: this test's RP resolves no issuer chains itself.)
    let copy = w.dir.path().join("wallet-copy");
    copy_dir(Path::new(&w.data_s), &copy);
    let o = tessera(args(&["wallet", "import", &w.pid_no_chain_file.display().to_string(), "--ta", &w.ta_url, "--data-dir", &copy.display().to_string()])).await;
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("Istituto Poligrafico"));
    import(&w).await;
    let u = url(&w.rp, &w.rp_node, RequestUriMethod::Get);
    let a = args(&["wallet", "present", &u, "--ta", &w.ta_url, "--data-dir", &w.data_s]);
    let o = tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(a)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"y\n").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    println!("{out}{err}");
    assert!(o.status.success());
    assert!(err.contains("[y/N]"), "{err}");
    assert!(out.contains("Presented pid:given_name, pid:family_name"), "{out}");
    assert!(out.contains("/done?response_code=code-1"), "{out}");
    assert_eq!(w.rp.verdicts.lock().unwrap()[0].0, "verified");

    *w.rp.impostor.lock().unwrap() = Some(SoftwareSigner::generate().unwrap());
    let o = tessera(args(&["wallet", "present", &url(&w.rp, &w.rp_node, RequestUriMethod::Post), "--ta", &w.ta_url, "--data-dir", &w.data_s, "--yes"])).await;
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("refused") && err.contains("signature invalid") && err.contains("the relying party was told why; no credential was sent"), "{err}");
    // WP_090: the RP's registered response_uri gets the error response, no credential.
    let v = w.rp.verdicts.lock().unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[1], ("declined".to_owned(), json!("invalid_request_object")));
}
