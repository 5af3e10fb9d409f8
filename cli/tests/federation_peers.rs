//! Federation interop with npm `@openid-federation/core` 0.2.1 (openid-federation-ts): its
//! `resolveTrustChains` resolves and validates chains served over real HTTP on loopback by our
//! trust anchor and intermediate (`trust-anchor` crate), and what it computes is compared with
//! wallet-core's `ChainCollector` and the intermediate's `/resolve` endpoint.
//!
//! The peer runs as a subprocess, `node interop/fed_openid_federation.mjs LEAF TRUST_ANCHOR`,
//! from `interop/node_modules` (installed by `interop/setup.sh`). Without it the tests print
//! "skipped: run interop/setup.sh" and pass, unless `TESSERA_INTEROP=required`.
//!
//! Positive cases only: the library never checks a leaf's key against the keys its superior
//! pins (nor pins the trust anchor's keys), so it cannot serve as a witness that a bad chain is
//! refused. Every peer quirk is handled here with a comment naming it (see interop/README.md);
//! none by changing what our authorities serve or how wallet-core resolves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use trust_anchor::{AppState, Config, router};
use wallet_core::federation::{ChainCollector, EntityId, FederationError, TrustAnchorConfig, ValidatedChain};
use wallet_core::jose::CompactJws;
use wallet_core::jose::jwk::JwkSet;
use wallet_core::time::UnixTime;

const TOKEN: &str = "test-admin-token";
const RP: &str = "openid_relying_party";
const CI: &str = "openid_credential_issuer";

// ---------------------------------------------------------------- the peer

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop")
}

/// The driver script, or None (and the skip message) when `node` or the package is missing;
/// with `TESSERA_INTEROP=required` (CI) a missing peer fails the test.
fn peer() -> Option<PathBuf> {
    let d = interop_dir();
    let node = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let package = d.join("node_modules/@openid-federation/core/package.json");
    if node && package.exists() {
        return Some(d.join("fed_openid_federation.mjs"));
    }
    let why = if node { format!("{} is missing", package.display()) } else { "node is not on PATH".into() };
    if std::env::var("TESSERA_INTEROP").is_ok_and(|v| v == "required") {
        panic!("@openid-federation/core: {why} and TESSERA_INTEROP=required: run interop/setup.sh");
    }
    println!("skipped: run interop/setup.sh ({why})");
    None
}

/// Runs the driver off the async runtime (the servers keep serving): Ok(its JSON document)
/// when it resolved a chain, Err(its reason) when it found none.
async fn run_peer(script: &Path, leaf: &EntityId, anchor: &EntityId) -> Result<Value, String> {
    let (script, args) = (script.to_owned(), [leaf.to_string(), anchor.to_string()]);
    let label = args.join(" ");
    let out = tokio::task::spawn_blocking(move || std::process::Command::new("node").arg(script).args(args).output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("@openid-federation/core {label}: exit {:?}\n{stdout}{stderr}", out.status.code());
    let doc = || -> Value { serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}")) };
    match out.status.code() {
        Some(0) => Ok(doc()),
        Some(1) => {
            assert_eq!(doc()["valid"], false, "{stdout}");
            Err(stderr)
        }
        other => panic!("driver failed ({other:?}): {stdout}\n{stderr}"),
    }
}

// ---------------------------------------------------------------- the federation

struct Node {
    id: EntityId,
    jwks: JwkSet,
}

impl Node {
    fn kids(&self) -> Vec<String> {
        self.jwks.keys.iter().map(|k| k.kid.clone().expect("our keys carry a kid")).collect()
    }
}

/// One entity of this crate's federation on a loopback port, served as `service_kit::serve`
/// serves it (with the peer address as `ConnectInfo`).
async fn start(dir: &Path, name: &str, f: impl FnOnce(&mut Config)) -> Node {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())).unwrap();
    let mut config = Config::trust_anchor(id.clone(), dir.join(name), TOKEN);
    config.organization_name = name.into();
    f(&mut config);
    let state = AppState::open(config).unwrap();
    let jwks = state.jwks();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Node { id, jwks }
}

/// TA → intermediate → {RP leaf, credential issuer leaf}, metadata policies on both levels.
struct Fed {
    _dir: tempfile::TempDir,
    ta: Node,
    int: Node,
    rp: Node,
    ci: Node,
    http: reqwest::Client,
}

/// The trust anchor's policy on the intermediate (it applies to everything below).
fn ta_policy() -> Value {
    json!({
        RP: {
            "grant_types": {"subset_of": ["authorization_code", "refresh_token"], "superset_of": ["authorization_code"]},
            "token_endpoint_auth_method": {"one_of": ["private_key_jwt", "self_signed_tls_client_auth"], "essential": true},
            "subject_type": {"value": "pairwise"},
            "contacts": {"add": ["ops@ta.example.it"]}
        },
        CI: {
            "grant_types": {"subset_of": ["authorization_code", "urn:ietf:params:oauth:grant-type:pre-authorized_code"]},
            "contacts": {"add": ["ops@ta.example.it"]}
        }
    })
}

/// The intermediate's policy on the RP leaf; `with_scope` adds `subset_of` on `scope`.
fn rp_policy(with_scope: bool) -> Value {
    let mut p = json!({RP: {
        "grant_types": {"subset_of": ["authorization_code"]},
        "id_token_signed_response_alg": {"default": "ES256"},
        "contacts": {"add": ["ops@int.example.it"]}
    }});
    if with_scope {
        p[RP]["scope"] = json!({"subset_of": ["openid", "profile"]});
    }
    p
}

/// The trust anchor's policy restricted to one entity type (see the quirk in the first test).
fn ta_policy_only(entity_type: &str) -> Value {
    json!({entity_type: ta_policy()[entity_type]})
}

fn ci_policy() -> Value {
    json!({CI: {
        "grant_types": {"subset_of": ["authorization_code"]},
        "authorization_servers": {"default": ["https://as.example.it"]},
        "contacts": {"add": ["ops@int.example.it"]}
    }})
}

impl Fed {
    /// `anchor_constraints`: `constraints` in the trust anchor's own Entity Configuration.
    async fn new(anchor_constraints: Option<Value>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ta = start(dir.path(), "ta", |c| c.constraints = anchor_constraints.and_then(|v| v.as_object().cloned())).await;
        let anchor = TrustAnchorConfig { id: ta.id.clone(), jwks: ta.jwks.clone() };
        let int = start(dir.path(), "int", |c| {
            c.authority_hints = vec![ta.id.clone()];
            c.trust_anchors = vec![anchor];
        })
        .await;
        let leaf = |metadata: Value| {
            let hints = vec![int.id.clone()];
            move |c: &mut Config| {
                c.authority = false;
                c.authority_hints = hints;
                c.metadata = metadata.as_object().cloned().unwrap();
            }
        };
        let rp = start(
            dir.path(),
            "rp",
            leaf(json!({RP: {
                "client_name": "Comune di Forlì",
                "redirect_uris": ["https://rp.example.it/callback"],
                "response_types": ["code"],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "private_key_jwt",
                "client_registration_types": ["automatic"],
                "scope": "openid offline_access profile",
                "contacts": ["rp-admin@rp.example.it"]
            }})),
        )
        .await;
        // OpenID4VCI metadata, as a credential issuer publishes it (no OpenID Provider
        // parameters such as `client_registration_types_supported`).
        let ci = start(
            dir.path(),
            "ci",
            leaf(json!({CI: {
                "credential_issuer": "https://ci.example.it",
                "credential_endpoint": "https://ci.example.it/credential",
                "display": [{"name": "Motorizzazione", "locale": "it-IT"}],
                "grant_types": ["authorization_code", "refresh_token"]
            }})),
        )
        .await;
        let fed = Self { _dir: dir, ta, int, rp, ci, http: reqwest::Client::new() };
        fed.onboard(&fed.ta, &fed.int, ta_policy()).await;
        fed.onboard(&fed.int, &fed.rp, rp_policy(false)).await;
        fed.onboard(&fed.int, &fed.ci, ci_policy()).await;
        fed
    }

    /// Onboarding (or re-onboarding: the registry upserts) through the admin API, as
    /// trust-anchor's `tests/federation.rs` does; default `constraints` in the statement.
    async fn onboard(&self, authority: &Node, sub: &Node, policy: Value) {
        let r = self
            .http
            .post(format!("{}/admin/subordinates", authority.id))
            .bearer_auth(TOKEN)
            .json(&json!({"entity_id": sub.id, "metadata_policy": policy}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    /// wallet-core's own resolution, pinned to the anchor's keys.
    async fn ours(&self, leaf: &Node) -> Result<ValidatedChain, FederationError> {
        let (anchor, leaf) = (TrustAnchorConfig { id: self.ta.id.clone(), jwks: self.ta.jwks.clone() }, leaf.id.clone());
        tokio::task::spawn_blocking(move || {
            let fetcher = trust_anchor::fetch::HttpFetcher::new().unwrap();
            ChainCollector::new(&fetcher, &[anchor]).resolve(&leaf, UnixTime::now())
        })
        .await
        .unwrap()
    }

    /// The intermediate's `/resolve` answer about `leaf` (its metadata claim).
    async fn resolve_endpoint(&self, leaf: &Node) -> Value {
        let r = self.http.get(format!("{}/resolve?sub={}&trust_anchor={}", self.int.id, leaf.id, self.ta.id)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body = r.text().await.unwrap();
        let jws = CompactJws::parse(&body).unwrap();
        jws.verify(&self.int.jwks.keys[0]).unwrap();
        jws.payload_json::<Value>().unwrap()["metadata"].clone()
    }

    /// The peer's document agrees with our resolution of `leaf`: the same statements (leaf →
    /// intermediate → anchor), each signature checked with its issuer's key, the anchor's keys,
    /// the same resolved metadata as ours and as the `/resolve` endpoint's, the same `exp`.
    async fn assert_peer_matches(&self, leaf: &Node, doc: &Value) -> ValidatedChain {
        let ours = self.ours(leaf).await.unwrap_or_else(|e| panic!("we refuse {}: {e:?}", leaf.id));
        assert_eq!(doc["valid"], true);
        assert_eq!(doc["chains"], 1, "one chain to this anchor");

        let (l, i, a) = (leaf.id.to_string(), self.int.id.to_string(), self.ta.id.to_string());
        let expected = vec![(l.clone(), l.clone()), (i.clone(), l.clone()), (a.clone(), i.clone()), (a.clone(), a.clone())];
        assert_eq!(links(&doc["chain"]), expected, "leaf EC, intermediate's statement, anchor's statement, anchor EC");
        assert_eq!(our_links(&ours), expected, "ours is the same chain");

        // The library hands every signature to the driver's verifyJwtCallback, with the key it
        // picked by `kid` from the issuer's keys: each statement checked by its issuer's key.
        let verified: Vec<_> = doc["verified"].as_array().unwrap().iter().map(|v| (s(&v["iss"]), s(&v["sub"]), s(&v["kid"]), s(&v["alg"]))).collect();
        for ((iss, sub), node) in expected.iter().zip([leaf, &self.int, &self.ta, &self.ta]) {
            assert!(
                verified.iter().any(|(vi, vs, kid, _)| (vi, vs) == (iss, sub) && node.kids().contains(kid)),
                "the statement {iss} about {sub} was verified with one of {:?}: {verified:?}",
                node.kids()
            );
        }
        let ta_kids: Vec<_> = doc["trust_anchor_jwks"]["keys"].as_array().unwrap().iter().map(|k| s(&k["kid"])).collect();
        assert_eq!(ta_kids, self.ta.kids(), "the anchor's keys as we pin them");

        assert_eq!(normalized(&doc["metadata"]), normalized(&Value::Object(ours.metadata.clone())), "resolved metadata of {}", leaf.id);
        assert_eq!(normalized(&doc["metadata"]), normalized(&self.resolve_endpoint(leaf).await), "the /resolve endpoint agrees");

        // Every fetch issues fresh statements (`exp` = now + lifetime), and the peer fetched its
        // own a moment before or after we did: `exp` values match within a few seconds.
        let exp = doc["exp"].as_i64().unwrap();
        assert!((ours.exp.secs() - exp).abs() <= 5, "exp: ours {}, the peer's {exp}", ours.exp.secs());
        ours
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn links(chain: &Value) -> Vec<(String, String)> {
    chain.as_array().unwrap().iter().map(|st| (s(&st["iss"]), s(&st["sub"]))).collect()
}

/// `[(iss, sub)]` of our chain, subject first, ending with the trust anchor's configuration
/// (appended when our collector leaves it out, as draft 48 §10.1 allows).
fn our_links(chain: &ValidatedChain) -> Vec<(String, String)> {
    let mut links: Vec<_> = chain.statements.iter().map(|st| (st.claims.iss.to_string(), st.claims.sub.to_string())).collect();
    let ta = chain.trust_anchor.to_string();
    if links.last() != Some(&(ta.clone(), ta.clone())) {
        links.push((ta.clone(), ta));
    }
    links
}

/// Arrays of strings are compared as sets (draft 48 §6.1.3: the order of merged results is
/// undefined).
fn normalized(v: &Value) -> Value {
    match v {
        Value::Array(a) if a.iter().all(Value::is_string) => {
            let mut a = a.clone();
            a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
            Value::Array(a)
        }
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), normalized(v))).collect()),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------- the tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_federation_core_resolves_our_chains_with_the_same_metadata() {
    let Some(script) = peer() else { return };
    let fed = Fed::new(None).await;

    // The trust anchor's policy on the intermediate covers both entity types below it.
    match run_peer(&script, &fed.rp.id, &fed.ta.id).await {
        // Quirk (@openid-federation/core): applyMetadataPolicyToMetadata runs every operator of
        // the merged policy, also for parameters (and whole entity types) the leaf does not
        // have; `subset_of` then throws PolicyValidationError "Cannot apply subset_of policy
        // because the target is not an array" on the RP leaf, for the anchor's
        // `openid_credential_issuer.grant_types` rule, and resolveTrustChains drops the chain.
        // Draft 48 §6.1.3.1.5: on an absent parameter `subset_of` has no effect. The test
        // accepts that refusal (and only it), then narrows the anchor's policy to relying
        // parties to compare the rest.
        Err(e) => {
            assert!(e.contains("subset_of") && e.contains("openid_credential_issuer.grant_types"), "{e}");
            fed.onboard(&fed.ta, &fed.int, ta_policy_only(RP)).await;
        }
        Ok(doc) => {
            fed.assert_peer_matches(&fed.rp, &doc).await;
        }
    }

    // The relying party: value, add, default, one_of, subset_of, superset_of and essential over
    // two levels (subset_of intersected, add united).
    let doc = run_peer(&script, &fed.rp.id, &fed.ta.id).await.unwrap_or_else(|e| panic!("the peer refused the RP chain: {e}"));
    let ours = fed.assert_peer_matches(&fed.rp, &doc).await;
    let md = ours.metadata_of(RP).unwrap();
    assert_eq!(md["grant_types"], json!(["authorization_code"]));
    assert_eq!(md["subject_type"], json!("pairwise"));
    assert_eq!(md["id_token_signed_response_alg"], json!("ES256"));
    assert_eq!(normalized(&md["contacts"]), json!(["ops@int.example.it", "ops@ta.example.it", "rp-admin@rp.example.it"]));
    // Our statements carry IT-Wallet's default `constraints` (max_path_length 1 on the
    // intermediate, 0 on the leaf): the library parses them (and applies none).
    assert_eq!(doc["trust_anchor_constraints"], Value::Null);

    // `subset_of` on `scope`. Ours follows draft 48 §6.1.3.1: `scope` is a space-separated
    // string handled as an array and joined again.
    fed.onboard(&fed.int, &fed.rp, rp_policy(true)).await;
    assert_eq!(fed.ours(&fed.rp).await.unwrap().metadata_of(RP).unwrap()["scope"], json!("openid profile"));
    match run_peer(&script, &fed.rp.id, &fed.ta.id).await {
        // Quirk (@openid-federation/core): subset_of requires an array and throws
        // PolicyValidationError "Cannot apply subset_of policy because the target is not an
        // array" on the `scope` string; resolveTrustChains then drops the chain. The test accepts
        // that refusal (and only it).
        Err(e) => assert!(e.contains("subset_of") && e.contains("not an array"), "{e}"),
        // Should a later version handle `scope` as draft 48 says, it must agree with us.
        Ok(doc) => {
            fed.assert_peer_matches(&fed.rp, &doc).await;
        }
    }
    fed.onboard(&fed.int, &fed.rp, rp_policy(false)).await;

    // The credential issuer, with OpenID4VCI metadata.
    let ours = fed.ours(&fed.ci).await.unwrap();
    assert_eq!(ours.metadata_of(CI).unwrap()["authorization_servers"], json!(["https://as.example.it"]));
    match run_peer(&script, &fed.ci.id, &fed.ta.id).await {
        // Quirk (@openid-federation/core): its `openid_credential_issuer` schema requires
        // `client_registration_types_supported` (an OpenID Provider parameter of OpenID
        // Federation, not an OpenID4VCI one), so the leaf's configuration fails its schema and
        // resolveTrustChains finds no chain. The test accepts that refusal (and only it).
        Err(e) => assert!(e.contains("client_registration_types_supported"), "{e}"),
        Ok(doc) => {
            fed.assert_peer_matches(&fed.ci, &doc).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_federation_core_validates_a_chain_under_anchor_constraints() {
    let Some(script) = peer() else { return };
    // `constraints` in the trust anchor's own Entity Configuration (as SPID/CIE and IT-Wallet
    // anchors publish them), which our one-intermediate chain meets.
    let constraints = json!({"max_path_length": 1});
    let fed = Fed::new(Some(constraints.clone())).await;
    // Quirk (@openid-federation/core, see the first test): no anchor policy on parameters the
    // leaf lacks.
    fed.onboard(&fed.ta, &fed.int, ta_policy_only(RP)).await;
    let doc = run_peer(&script, &fed.rp.id, &fed.ta.id).await.unwrap_or_else(|e| panic!("the peer refused the RP chain: {e}"));
    // The peer read the anchor's configuration with its constraints, and agrees with us.
    assert_eq!(doc["trust_anchor_constraints"], constraints);
    fed.assert_peer_matches(&fed.rp, &doc).await;
}
