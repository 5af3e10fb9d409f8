//! A federation on loopback over real HTTP: trust anchor → intermediate → leaf, onboarded
//! through the admin API, resolved by wallet-core's collector and by the `resolve` endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use serde_json::{Value, json};
use trust_anchor::{AppState, Config, router};
use wallet_core::federation::{ChainCollector, EntityId, TrustAnchorConfig};
use wallet_core::jose::CompactJws;
use wallet_core::jose::jwk::JwkSet;
use wallet_core::time::UnixTime;

const TOKEN: &str = "test-admin-token";

struct Node {
    id: EntityId,
    jwks: JwkSet,
}

async fn start(dir: &std::path::Path, name: &str, authority: bool, hints: Vec<EntityId>, metadata: Value, anchors: Vec<TrustAnchorConfig>) -> Node {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = EntityId::new(format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())).unwrap();
    let data = dir.join(name);
    let mut config = Config::trust_anchor(id.clone(), data, TOKEN);
    if hints.is_empty() && authority {
        config.trust_mark_issuers.insert(format!("{id}/trust_marks/intermediate"), vec![id.to_string()]);
    }
    config.authority = authority;
    config.authority_hints = hints;
    config.metadata = metadata.as_object().cloned().unwrap_or_default();
    config.organization_name = name.into();
    config.trust_anchors = anchors;
    let state = AppState::open(config).unwrap();
    let jwks = state.jwks();
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
    Node { id, jwks }
}

struct Fed {
    _dir: tempfile::TempDir,
    ta: Node,
    int: Node,
    leaf: Node,
    http: reqwest::Client,
}

impl Fed {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The trust anchor knows itself: its key is created before it starts.
        let ta = start(dir.path(), "ta", true, vec![], json!({}), vec![]).await;
        let ta_anchor = TrustAnchorConfig { id: ta.id.clone(), jwks: ta.jwks.clone() };
        let int = start(dir.path(), "int", true, vec![ta.id.clone()], json!({}), vec![ta_anchor.clone()]).await;
        let leaf = start(
            dir.path(),
            "leaf",
            false,
            vec![int.id.clone()],
            json!({"openid_credential_issuer": {"credential_issuer": "https://leaf", "display": [{"name": "Motorizzazione"}],
                   "grant_types": ["authorization_code", "refresh_token"]}}),
            vec![],
        )
        .await;
        Self { _dir: dir, ta, int, leaf, http: reqwest::Client::new() }
    }

    fn anchor(&self) -> TrustAnchorConfig {
        TrustAnchorConfig { id: self.ta.id.clone(), jwks: self.ta.jwks.clone() }
    }

    async fn onboard(&self, authority: &Node, sub: &Node, policy: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/admin/subordinates", authority.id))
            .bearer_auth(TOKEN)
            .json(&json!({"entity_id": sub.id, "metadata_policy": policy}))
            .send()
            .await
            .unwrap()
    }

    async fn onboard_all(&self) {
        let r = self.onboard(&self.ta, &self.int, json!({"openid_credential_issuer": {"grant_types": {"subset_of": ["authorization_code"]}}})).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let r = self.onboard(&self.int, &self.leaf, Value::Null).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    async fn get(&self, url: String) -> (u16, String) {
        let r = self.http.get(url).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_levels_resolve_over_http() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let (anchor, leaf) = (fed.anchor(), fed.leaf.id.clone());
    let chain = tokio::task::spawn_blocking(move || {
        let fetcher = trust_anchor::fetch::HttpFetcher::new().unwrap();
        ChainCollector::new(&fetcher, &[anchor]).resolve(&leaf, UnixTime::now())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(chain.statements.len(), 3);
    assert_eq!(chain.metadata_of("openid_credential_issuer").unwrap()["grant_types"], json!(["authorization_code"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_endpoint_answers_a_signed_resolve_response() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    // The intermediate trusts the TA and resolves the leaf.
    let (status, body) = fed.get(format!("{}/resolve?sub={}&trust_anchor={}", fed.int.id, fed.leaf.id, fed.ta.id)).await;
    assert_eq!(status, 200, "{body}");
    let jws = CompactJws::parse(&body).unwrap();
    assert!(jws.header().typ_is("resolve-response+jwt"));
    jws.verify(&fed.int.jwks.keys[0]).unwrap();
    let claims: Value = jws.payload_json().unwrap();
    assert_eq!(claims["sub"], json!(fed.leaf.id));
    assert_eq!(claims["trust_chain"].as_array().unwrap().len(), 3);
    assert_eq!(claims["metadata"]["openid_credential_issuer"]["grant_types"], json!(["authorization_code"]));
    // An unknown trust anchor is refused with the spec's code.
    let (status, body) = fed.get(format!("{}/resolve?sub={}&trust_anchor=https://unknown.example", fed.int.id, fed.leaf.id)).await;
    assert_eq!(status, 404);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "invalid_trust_anchor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_and_list_with_filters() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let (status, body) = fed.get(format!("{}/fetch?sub={}", fed.ta.id, fed.int.id)).await;
    assert_eq!(status, 200);
    let ss: Value = CompactJws::parse(&body).unwrap().payload_json().unwrap();
    let pinned: wallet_core::jose::jwk::JwkSet = serde_json::from_value(ss["jwks"].clone()).unwrap();
    assert_eq!(pinned.keys.len(), 1);
    assert_eq!(pinned.keys[0].params, fed.int.jwks.keys[0].params, "keys pinned at onboarding");
    assert_eq!(pinned.keys[0].kid, fed.int.jwks.keys[0].kid);
    let (status, body) = fed.get(format!("{}/fetch?sub=https://stranger.example", fed.ta.id)).await;
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()["error"].clone()), (404, json!("not_found")));
    let (status, _) = fed.get(format!("{}/fetch?sub={}", fed.ta.id, fed.ta.id)).await;
    assert_eq!(status, 400);
    let (_, body) = fed.get(format!("{}/list", fed.ta.id)).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!([fed.int.id]));
    let (_, body) = fed.get(format!("{}/list?intermediate=true", fed.ta.id)).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!([fed.int.id]));
    let (_, body) = fed.get(format!("{}/list?entity_type=openid_credential_issuer", fed.int.id)).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!([fed.leaf.id]));
    let (_, body) = fed.get(format!("{}/list?entity_type=openid_relying_party", fed.int.id)).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!([]));
    let (status, body) = fed.get(format!("{}/list?trust_marked=true", fed.ta.id)).await;
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()), (200, json!([])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_marks_issue_publish_verify_revoke() {
    use wallet_core::federation::ParsedStatement;
    use wallet_core::federation::trust_mark::{self, TrustMarkStatus};
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let r = fed
        .http
        .post(format!("{}/admin/trust-marks", fed.ta.id))
        .bearer_auth(TOKEN)
        .json(&json!({"sub": fed.int.id, "trust_mark_type": "intermediate", "claims": {"organization_type": "public", "logo_uri": "https://int.example.it/logo.svg"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let issued: Value = r.json().await.unwrap();
    let tm_type = format!("{}/trust_marks/intermediate", fed.ta.id);
    assert_eq!(issued["trust_mark_type"], tm_type);
    let mark = issued["trust_mark"].as_str().unwrap().to_owned();
    // Published in the intermediate's configuration once attached.
    let r = fed.http.post(format!("{}/admin/own-trust-marks", fed.int.id)).bearer_auth(TOKEN).json(&json!({"trust_mark": mark})).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let ec = ParsedStatement::parse(&fed.get(fed.int.id.configuration_url()).await.1).unwrap();
    assert_eq!(ec.claims.trust_marks.unwrap()[0].trust_mark, mark);
    // The TA's configuration lists itself as issuer; the mark verifies with wallet-core.
    let ta_ec = ParsedStatement::parse(&fed.get(fed.ta.id.configuration_url()).await.1).unwrap();
    trust_mark::verify(&mark, &fed.int.id, &fed.ta.jwks, &ta_ec.claims, UnixTime::now()).unwrap();
    let (_, body) = fed.get(format!("{}/list?trust_marked=true&trust_mark_type={tm_type}", fed.ta.id)).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!([fed.int.id]));
    let (status, body) = fed.get(format!("{}/trust_mark?trust_mark_type={tm_type}&sub={}", fed.ta.id, fed.int.id)).await;
    assert_eq!((status, body.clone()), (200, mark.clone()));
    let status_of = |fed: &Fed, m: String| {
        let (http, url) = (fed.http.clone(), format!("{}/trust_mark_status", fed.ta.id));
        async move { http.post(url).form(&[("trust_mark", m)]).send().await.unwrap() }
    };
    let r = status_of(&fed, mark.clone()).await;
    assert_eq!(r.headers()["content-type"], "application/trust-mark-status-response+jwt");
    assert_eq!(trust_mark::verify_status_response(&r.text().await.unwrap(), &fed.ta.jwks, &mark).unwrap(), TrustMarkStatus::Active);
    let r = fed
        .http
        .post(format!("{}/admin/trust-marks/revoke", fed.ta.id))
        .bearer_auth(TOKEN)
        .json(&json!({"sub": fed.int.id, "trust_mark_type": "intermediate"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = status_of(&fed, mark.clone()).await;
    assert_eq!(trust_mark::verify_status_response(&r.text().await.unwrap(), &fed.ta.jwks, &mark).unwrap(), TrustMarkStatus::Revoked);
    let (_, body) = fed.get(format!("{}/trust_marked_list?trust_mark_type={tm_type}", fed.ta.id)).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!([]));
    let (status, _) = fed.get(format!("{}/trust_mark?trust_mark_type={tm_type}&sub={}", fed.ta.id, fed.int.id)).await;
    assert_eq!(status, 404);
    // A mark this authority never issued: 404.
    let foreign = trust_mark::TrustMarkClaims {
        iss: fed.ta.id.clone(),
        sub: fed.int.id.clone(),
        trust_mark_type: tm_type.clone(),
        iat: UnixTime::now().secs(),
        exp: None,
        delegation: None,
        extra: Default::default(),
    }
    .sign(trust_mark::TRUST_MARK_TYP, &wallet_core::jose::SoftwareSigner::generate().unwrap())
    .unwrap();
    assert_eq!(status_of(&fed, foreign).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_is_checked_and_removal_breaks_resolution() {
    let fed = Fed::new().await;
    let r = fed.http.post(format!("{}/admin/subordinates", fed.ta.id)).json(&json!({"entity_id": fed.int.id})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // The leaf names the intermediate, not the TA, in its authority_hints.
    let r = fed.onboard(&fed.ta, &fed.leaf, Value::Null).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("authority_hints"));
    let r = fed.onboard(&fed.ta, &fed.int, json!({"openid_provider": {"scope": {"value": "a", "one_of": ["b"]}}})).await;
    assert_eq!(r.status(), 400, "an invalid policy is refused at onboarding");
    fed.onboard_all().await;
    let r = fed.http.delete(format!("{}/admin/subordinates?entity_id={}", fed.int.id, fed.leaf.id)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (anchor, leaf) = (fed.anchor(), fed.leaf.id.clone());
    let err = tokio::task::spawn_blocking(move || {
        let fetcher = trust_anchor::fetch::HttpFetcher::new().unwrap();
        ChainCollector::new(&fetcher, &[anchor]).resolve(&leaf, UnixTime::now())
    })
    .await
    .unwrap()
    .unwrap_err();
    assert!(matches!(err, wallet_core::federation::FederationError::Fetch { ref reason, .. } if reason.contains("404")), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_configuration_is_self_signed_with_the_spec_media_type() {
    let fed = Fed::new().await;
    let r = fed.http.get(fed.ta.id.configuration_url()).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/entity-statement+jwt");
    let ec = wallet_core::federation::ParsedStatement::parse(&r.text().await.unwrap()).unwrap();
    ec.verify_with(&fed.ta.jwks).unwrap();
    assert!(ec.claims.authority_hints.is_none(), "a trust anchor has no superiors");
    let md = ec.claims.metadata.unwrap();
    assert_eq!(md["federation_entity"]["federation_fetch_endpoint"], format!("{}/fetch", fed.ta.id));
}

async fn resolve_leaf(fed: &Fed) -> Result<wallet_core::federation::ValidatedChain, wallet_core::federation::FederationError> {
    let (anchor, leaf) = (fed.anchor(), fed.leaf.id.clone());
    tokio::task::spawn_blocking(move || {
        let fetcher = trust_anchor::fetch::HttpFetcher::new().unwrap();
        ChainCollector::new(&fetcher, &[anchor]).resolve(&leaf, UnixTime::now())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rollover_never_breaks_resolution_and_keeps_historical_keys() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    resolve_leaf(&fed).await.unwrap();
    let admin = |path: &str| fed.http.post(format!("{}/admin/keys/{path}", fed.int.id)).bearer_auth(TOKEN).send();
    // Phase 1: the intermediate publishes its next key; the old one still signs.
    assert_eq!(admin("prepare").await.unwrap().status(), 200);
    let ec = wallet_core::federation::ParsedStatement::parse(&fed.get(fed.int.id.configuration_url()).await.1).unwrap();
    assert_eq!(ec.claims.jwks.keys.len(), 2);
    resolve_leaf(&fed).await.unwrap();
    // The trust anchor re-pins: the configuration is signed by the pinned key and lists the next.
    let r = fed
        .http
        .post(format!("{}/admin/subordinates/refresh-keys", fed.ta.id))
        .bearer_auth(TOKEN)
        .json(&json!({"entity_id": fed.int.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["keys"], 2);
    resolve_leaf(&fed).await.unwrap();
    // Phase 2: the new key signs; resolution still works; the old key is historical.
    assert_eq!(admin("activate").await.unwrap().status(), 200);
    let chain = resolve_leaf(&fed).await.unwrap();
    assert_eq!(chain.statements.len(), 3);
    let (status, body) = fed.get(format!("{}/historical_keys", fed.int.id)).await;
    assert_eq!(status, 200);
    let jws = CompactJws::parse(&body).unwrap();
    assert!(jws.header().typ_is("jwk-set+jwt"));
    let hist: Value = jws.payload_json().unwrap();
    assert_eq!(hist["keys"][0]["kid"], json!(fed.int.jwks.keys[0].kid));
    assert!(hist["keys"][0]["exp"].as_i64().unwrap() > UnixTime::now().secs());
    // Activating again without preparing is refused.
    assert_eq!(admin("activate").await.unwrap().status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_superior_has_not_pinned_breaks_the_chain() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let admin = |path: &str| fed.http.post(format!("{}/admin/keys/{path}", fed.int.id)).bearer_auth(TOKEN).send();
    admin("prepare").await.unwrap();
    admin("activate").await.unwrap();
    // The trust anchor still pins only the old key: the chain is refused, naming the key.
    let err = resolve_leaf(&fed).await.unwrap_err();
    assert!(matches!(err, wallet_core::federation::FederationError::KeyNotFound { .. }), "{err:?}");
    // And a refresh is refused too: the configuration is signed by a key the anchor never pinned.
    let r = fed
        .http
        .post(format!("{}/admin/subordinates/refresh-keys", fed.ta.id))
        .bearer_auth(TOKEN)
        .json(&json!({"entity_id": fed.int.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not signed by a pinned key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_anchor_is_the_x509_root_and_name_constraints_hold() {
    use wallet_core::x509::{TrustAnchors, X509Error};
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let root = fed.http.get(format!("{}/ca", fed.ta.id)).send().await.unwrap();
    assert_eq!(root.headers()["content-type"], "application/pkix-cert");
    let anchors = TrustAnchors::from_der(vec![root.bytes().await.unwrap().to_vec()]).unwrap();
    // The key pinned for the intermediate carries its CA certificate and the root.
    let (_, body) = fed.get(format!("{}/fetch?sub={}", fed.ta.id, fed.int.id)).await;
    let ss: Value = CompactJws::parse(&body).unwrap().payload_json().unwrap();
    let x5c: Vec<String> = serde_json::from_value(ss["jwks"]["keys"][0]["x5c"].clone()).unwrap();
    let chain = anchors.verify_chain(&x5c, UnixTime::now()).unwrap();
    assert_eq!(chain.san_uris, vec![fed.int.id.to_string()]);
    // A protocol certificate the intermediate self-issues under it validates to the root...
    let ring = trust_anchor::keys::KeyRing::load_or_create(&fed._dir.path().join("int")).unwrap();
    let protocol = wallet_core::jose::SoftwareSigner::generate().unwrap();
    let now = UnixTime::now().secs();
    let pk = wallet_core::jose::Signer::public_jwk(&protocol);
    let good = trust_anchor::ca::protocol_certificate(&fed.int.id, ring.current(), &pk, "127.0.0.1", now, 3600).unwrap();
    let v = anchors.verify_chain(&[trust_anchor::ca::x5c_entry(&good), x5c[0].clone()], UnixTime::now()).unwrap();
    assert_eq!(v.leaf_key.params, pk.params);
    // ...and one naming another host is refused by the name constraints.
    let bad = trust_anchor::ca::protocol_certificate(&fed.int.id, ring.current(), &pk, "evil.example.org", now, 3600).unwrap();
    assert_eq!(
        anchors.verify_chain(&[trust_anchor::ca::x5c_entry(&bad), x5c[0].clone()], UnixTime::now()),
        Err(X509Error::NameConstraintViolation { name: "evil.example.org".into(), index: 1 })
    );
}

/// The `x5c` the authority pins for `sub`'s first key.
async fn pinned_x5c(fed: &Fed, authority: &Node, sub: &Node) -> Vec<String> {
    let (status, body) = fed.get(format!("{}/fetch?sub={}", authority.id, sub.id)).await;
    assert_eq!(status, 200, "{body}");
    let ss: Value = CompactJws::parse(&body).unwrap().payload_json().unwrap();
    serde_json::from_value(ss["jwks"]["keys"][0]["x5c"].clone()).unwrap()
}

fn der(b64: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Path length, CRL distribution point URIs and permitted name-constraint subtrees of a
/// CA certificate.
fn ca_facts(cert_der: &[u8]) -> (Option<u32>, Vec<String>, Vec<String>) {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    let (_, c) = x509_parser::parse_x509_certificate(cert_der).unwrap();
    let bc = c.basic_constraints().unwrap().unwrap().value;
    assert!(bc.ca);
    let mut cdp = Vec::new();
    for e in c.extensions() {
        if let ParsedExtension::CRLDistributionPoints(points) = e.parsed_extension() {
            for p in points.iter() {
                if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                    cdp.extend(names.iter().filter_map(|n| if let GeneralName::URI(u) = n { Some((*u).to_owned()) } else { None }));
                }
            }
        }
    }
    let nc = c.name_constraints().unwrap().unwrap();
    assert!(nc.critical, "NameConstraints is critical (RFC 5280 §4.2.1.10)");
    let permitted = nc.value.permitted_subtrees.as_ref().unwrap().iter().map(|s| format!("{}", s.base)).collect();
    (bc.path_len_constraint, cdp, permitted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaf_under_an_intermediate_gets_its_ca_from_the_intermediate() {
    use wallet_core::x509::{TrustAnchors, X509Error};
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let root = fed.http.get(format!("{}/ca", fed.ta.id)).send().await.unwrap().bytes().await.unwrap().to_vec();
    let anchors = TrustAnchors::from_der(vec![root.clone()]).unwrap();
    // The anchor issued the intermediate's CA: pathlen 1, CRL at the anchor.
    let int_x5c = pinned_x5c(&fed, &fed.ta, &fed.int).await;
    assert_eq!(int_x5c.len(), 2);
    assert_eq!(der(&int_x5c[1]), root);
    let (pathlen, cdp, permitted) = ca_facts(&der(&int_x5c[0]));
    assert_eq!(pathlen, Some(1));
    assert_eq!(cdp, vec![format!("{}/crl", fed.ta.id)]);
    assert_eq!(permitted, ["DNSName(127.0.0.1)", "URI(127.0.0.1)"]);
    // The intermediate issued the leaf's CA under its own: pathlen 0, CRL at the intermediate.
    let leaf_x5c = pinned_x5c(&fed, &fed.int, &fed.leaf).await;
    assert_eq!(leaf_x5c.len(), 3, "leaf CA, intermediate CA, root");
    assert_eq!(leaf_x5c[1..], int_x5c[..]);
    let (pathlen, cdp, _) = ca_facts(&der(&leaf_x5c[0]));
    assert_eq!(pathlen, Some(0));
    assert_eq!(cdp, vec![format!("{}/crl", fed.int.id)]);
    let v = anchors.verify_chain(&leaf_x5c, UnixTime::now()).unwrap();
    assert_eq!(v.san_uris, vec![fed.leaf.id.to_string()]);
    // The leaf's protocol certificate validates to the root through both CAs...
    let ring = trust_anchor::keys::KeyRing::load_or_create(&fed._dir.path().join("leaf")).unwrap();
    let pk = wallet_core::jose::Signer::public_jwk(&wallet_core::jose::SoftwareSigner::generate().unwrap());
    let now = UnixTime::now().secs();
    let leaf_ca = der(&leaf_x5c[0]);
    let proto = |uri: &str, dns: &str| {
        let c = trust_anchor::ca::protocol_certificate_under(&leaf_ca, ring.current(), &pk, uri, dns, now, 3600).unwrap();
        vec![trust_anchor::ca::x5c_entry(&c), leaf_x5c[0].clone(), leaf_x5c[1].clone()]
    };
    let v = anchors.verify_chain(&proto(fed.leaf.id.as_str(), "127.0.0.1"), UnixTime::now()).unwrap();
    assert_eq!(v.leaf_key.params, pk.params);
    // ...one naming another host, by DNS name or by URI, is refused by the leaf CA's constraints.
    assert_eq!(
        anchors.verify_chain(&proto(fed.leaf.id.as_str(), "evil.example.org"), UnixTime::now()),
        Err(X509Error::NameConstraintViolation { name: "evil.example.org".into(), index: 1 })
    );
    assert_eq!(
        anchors.verify_chain(&proto("https://evil.example.org/issuer", "127.0.0.1"), UnixTime::now()),
        Err(X509Error::NameConstraintViolation { name: "https://evil.example.org/issuer".into(), index: 1 })
    );
    // Only the key the CA certificate certifies issues under it.
    let other = wallet_core::jose::SoftwareSigner::generate().unwrap();
    assert!(matches!(
        trust_anchor::ca::protocol_certificate_under(&leaf_ca, &other, &pk, fed.leaf.id.as_str(), "127.0.0.1", now, 60),
        Err(trust_anchor::ca::CaError::KeyMismatch)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_subordinate_puts_its_ca_certificate_on_the_crl() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let crl_of = |authority: &Node| {
        let (http, url) = (fed.http.clone(), format!("{}/crl", authority.id));
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], "application/pkix-crl");
            r.bytes().await.unwrap().to_vec()
        }
    };
    // Revoked serials of a CRL whose signature verifies with `issuer`'s key.
    let revoked = |crl: &[u8], issuer: &[u8]| -> Vec<String> {
        let (_, crl) = x509_parser::parse_x509_crl(crl).unwrap();
        let (_, issuer) = x509_parser::parse_x509_certificate(issuer).unwrap();
        crl.verify_signature(issuer.public_key()).unwrap();
        assert_eq!(crl.issuer(), issuer.subject());
        assert!(crl.next_update().unwrap() > crl.last_update());
        crl.iter_revoked_certificates().map(|r| hex(r.raw_serial())).collect()
    };
    let serial = |cert_b64: &str| {
        let d = der(cert_b64);
        let (_, c) = x509_parser::parse_x509_certificate(&d).unwrap();
        hex(c.raw_serial())
    };
    let root = fed.http.get(format!("{}/ca", fed.ta.id)).send().await.unwrap().bytes().await.unwrap().to_vec();
    let int_x5c = pinned_x5c(&fed, &fed.ta, &fed.int).await;
    let leaf_x5c = pinned_x5c(&fed, &fed.int, &fed.leaf).await;
    assert!(revoked(&crl_of(&fed.ta).await, &root).is_empty());
    assert!(revoked(&crl_of(&fed.int).await, &der(&int_x5c[0])).is_empty());
    // A leaf's CRL (of the signing certificates it issues) is signed under its own CA certificate.
    assert!(revoked(&crl_of(&fed.leaf).await, &der(&leaf_x5c[0])).is_empty());
    // The intermediate removes the leaf: the leaf's CA serial is on the intermediate's CRL.
    let r = fed.http.delete(format!("{}/admin/subordinates?entity_id={}", fed.int.id, fed.leaf.id)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(revoked(&crl_of(&fed.int).await, &der(&int_x5c[0])), vec![serial(&leaf_x5c[0])]);
    assert!(revoked(&crl_of(&fed.ta).await, &root).is_empty(), "the anchor's CRL is its own");
    // The anchor removes the intermediate: its CA serial is on the root's CRL.
    let r = fed.http.delete(format!("{}/admin/subordinates?entity_id={}", fed.ta.id, fed.int.id)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(revoked(&crl_of(&fed.ta).await, &root), vec![serial(&int_x5c[0])]);
}

/// A leaf whose superior has not pinned its key with a CA certificate has no CA to sign a
/// CRL or a signing certificate with: 404, and `signing_certificate` says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaf_without_a_ca_certificate_publishes_no_crl() {
    let fed = Fed::new().await;
    let (status, body) = fed.get(format!("{}/crl", fed.leaf.id)).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no CA certificate"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intermediate_outside_the_anchors_reach_is_pinned_without_x5c_and_says_why() {
    let fed = Fed::new().await;
    // Before the anchor onboards it, the intermediate has no CA certificate to issue under.
    let r = fed.onboard(&fed.int, &fed.leaf, Value::Null).await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert!(body["x509"].as_str().unwrap().starts_with("no CA certificate"), "{body}");
    let (_, st) = fed.get(format!("{}/fetch?sub={}", fed.int.id, fed.leaf.id)).await;
    let ss: Value = CompactJws::parse(&st).unwrap().payload_json().unwrap();
    assert!(ss["jwks"]["keys"][0].get("x5c").is_none());
    // Bad permitted domains are refused.
    let r = fed
        .http
        .post(format!("{}/admin/subordinates", fed.ta.id))
        .bearer_auth(TOKEN)
        .json(&json!({"entity_id": fed.int.id, "permitted_domains": ["not a domain"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // With permitted domains, the intermediate's CA covers them; re-onboarding the leaf now
    // issues its CA certificate.
    let r = fed
        .http
        .post(format!("{}/admin/subordinates", fed.ta.id))
        .bearer_auth(TOKEN)
        .json(&json!({"entity_id": fed.int.id, "permitted_domains": ["example.it"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, _, permitted) = ca_facts(&der(&pinned_x5c(&fed, &fed.ta, &fed.int).await[0]));
    assert_eq!(permitted, ["DNSName(127.0.0.1)", "URI(127.0.0.1)", "DNSName(example.it)", "URI(example.it)", "URI(.example.it)"]);
    let r = fed.onboard(&fed.int, &fed.leaf, Value::Null).await;
    assert_eq!(r.json::<Value>().await.unwrap()["x509"], "1 CA certificate(s) issued, pathlen 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_openapi_are_served() {
    let fed = Fed::new().await;
    fed.onboard_all().await;
    let _ = fed.get(format!("{}/fetch?sub={}", fed.ta.id, fed.int.id)).await;
    let _ = fed.get(format!("{}/fetch?sub=https://stranger.example", fed.ta.id)).await;
    let _ = fed.get(format!("{}/resolve?sub={}&trust_anchor={}", fed.int.id, fed.leaf.id, fed.ta.id)).await;
    let r = fed.http.get(format!("{}/metrics", fed.ta.id)).send().await.unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    assert!(text.contains("tessera_http_requests_total{route=\"/fetch\",status=\"200\"} "), "{text}");
    assert!(text.contains("tessera_http_requests_total{route=\"/fetch\",status=\"404\"} 1\n"), "{text}");
    assert!(text.contains("tessera_http_requests_total{route=\"/admin/subordinates\",status=\"201\"} 1\n"), "{text}");
    let (_, int_metrics) = fed.get(format!("{}/metrics", fed.int.id)).await;
    assert!(int_metrics.contains("tessera_http_request_duration_seconds_count{route=\"/resolve\"} 1\n"), "{int_metrics}");
    // The OpenAPI document parses and names every route.
    let (status, body) = fed.get(format!("{}/openapi.json", fed.ta.id)).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/.well-known/openid-federation", "/fetch", "/list", "/resolve", "/trust_mark", "/trust_mark_status", "/trust_marked_list",
        "/historical_keys", "/subordinate_events", "/ca", "/crl", "/health", "/metrics", "/openapi.json", "/admin/subordinates", "/admin/subordinates/refresh-keys",
        "/admin/trust-marks", "/admin/trust-marks/revoke", "/admin/own-trust-marks", "/admin/keys/prepare", "/admin/keys/activate", "/admin/signing-certificates/revoke",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    assert_eq!(paths.len(), 22, "every documented path is a route");
}

/// IT-Wallet 1.4 §1.1: a wallet provider publishes `wallet_solution` metadata and is listed
/// with `entity_type=wallet_provider`; its `federation_entity` fields (`homepage_uri`,
/// `policy_uri`, `logo_uri`, `contacts`) stay in its configuration beside the endpoints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_provider_is_listed_by_either_name_and_keeps_its_federation_entity_fields() {
    let fed = Fed::new().await;
    let dir = tempfile::tempdir().unwrap();
    let wp = start(
        dir.path(),
        "wp",
        false,
        vec![fed.ta.id.clone()],
        json!({"wallet_solution": {"wallet_name": "Tessera"},
               "federation_entity": {"homepage_uri": "https://wp.example.it", "policy_uri": "https://wp.example.it/policy",
                                     "logo_uri": "https://wp.example.it/logo.svg", "contacts": ["ops@wp.example.it"]}}),
        vec![],
    )
    .await;
    let r = fed.onboard(&fed.ta, &wp, Value::Null).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    for filter in ["wallet_provider", "wallet_solution"] {
        let (status, body) = fed.get(format!("{}/list?entity_type={filter}", fed.ta.id)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(serde_json::from_str::<Vec<String>>(&body).unwrap(), vec![wp.id.to_string()], "{filter}");
    }
    let (_, ec) = fed.get(format!("{}/.well-known/openid-federation", wp.id)).await;
    let claims: Value = CompactJws::parse(&ec).unwrap().payload_json().unwrap();
    let fe = &claims["metadata"]["federation_entity"];
    assert_eq!(fe["homepage_uri"], "https://wp.example.it");
    assert_eq!(fe["contacts"], json!(["ops@wp.example.it"]));
    assert_eq!(fe["organization_name"], "wp");
    assert_eq!(fe["federation_resolve_endpoint"], format!("{}/resolve", wp.id));
}
