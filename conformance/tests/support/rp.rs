//! Our verifier on loopback for the rp plan: a PID issuer leaf (a federation entity with
//! `openid_credential_issuer` metadata whose key the tool holds) and the verifier, both
//! onboarded under the anchor of [`super::Federation`], the verifier behind a mutating proxy
//! (its entity id is the proxy's URL, so every URL it publishes goes through the proxy). With
//! a fault of `conformance::faults` switched on, the proxy alters the verifier's answers
//! (re-signing request objects and trust chains with the verifier's own keys, read from its
//! data directory), or answers in its place as a verifier that skips one check would.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use conformance::target::{RpSetup, TestIssuer};
use serde_json::{Map, Value, json};
use wallet_core::federation::EntityId;
use wallet_core::jose::{CompactJws, DecryptionKey, Jwk, PrivateJwk, Signer, SoftwareSigner};
use wallet_core::oid4vp::decrypt_response;

use super::{Federation, TOKEN, bind};

pub const VERIFIER_TOKEN: &str = "conformance-verifier-token";

pub struct Rp {
    pub verifier: EntityId,
    pub setup: RpSetup,
    pub fault: Arc<Mutex<Option<&'static str>>>,
    _dir: tempfile::TempDir,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    fault: Arc<Mutex<Option<&'static str>>>,
    ro_key: Arc<SoftwareSigner>,
    fed_key: Arc<SoftwareSigner>,
    dec: Arc<DecryptionKey>,
    issuer: String,
    issuer_key: Jwk,
    /// state → (nonce, client_id), from the request objects forwarded.
    sessions: Arc<Mutex<HashMap<String, (String, String)>>>,
    seen: Arc<Mutex<HashSet<String>>>,
    codes: Arc<Mutex<HashSet<String>>>,
    /// Whether a POST to `response_uri` broke off since the last one.
    broken: Arc<Mutex<bool>>,
    http: reqwest::Client,
}

impl Rp {
    pub async fn start(fed: &Federation) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let http = reqwest::Client::new();
        let anchor = fed.anchor.clone();
        let anchor_cfg = fed.anchor_config.clone();

        // The PID issuer: the federation's PID provider, whose key the tool signs with.
        let (issuer, key) = (EntityId::new(fed.pid_provider.id.as_str()).unwrap(), fed.pid_provider.key.clone());

        // The verifier, its entity id the proxy's.
        let (proxy_listener, verifier) = bind().await;
        let (upstream_listener, upstream) = bind().await;
        let vdir = dir.path().join("verifier");
        let mut vc = verifier::Config::new(verifier.clone(), vdir.clone());
        vc.admin_token = VERIFIER_TOKEN.into();
        vc.trust_anchors = vec![anchor_cfg];
        vc.authority_hints = vec![anchor.clone()];
        vc.redirect_uris = vec!["https://integrator.conformance.example/back".into()];
        vc.organization_name = "Comune di Prova (conformance)".into();
        // The shortest lifetime the verifier allows: the expiry rows wait it out once.
        vc.session_ttl = 30;
        // The plan makes a few hundred requests from one address in seconds.
        vc.rate_limits.wallet = service_kit::RateLimit::new(60_000, 10_000);
        vc.rate_limits.integrator = service_kit::RateLimit::new(60_000, 10_000);
        let v = verifier::Verifier::builder(vc).open().unwrap();
        tokio::spawn(async move { verifier::serve_listener(v, upstream_listener, std::future::pending()).await.unwrap() });

        let read = |name: &str| PrivateJwk::from_json(&std::fs::read_to_string(vdir.join(name)).unwrap()).unwrap();
        let fault = Arc::new(Mutex::new(None));
        let proxy = Proxy {
            upstream: upstream.to_string(),
            fault: fault.clone(),
            ro_key: Arc::new(SoftwareSigner::from_private_jwk(read("request-object-key.jwk")).unwrap()),
            fed_key: Arc::new(trust_anchor::keys::load_or_create(&vdir).unwrap()),
            dec: Arc::new(DecryptionKey::from_private_jwk(read("response-encryption-key.jwk")).unwrap()),
            issuer: issuer.to_string(),
            issuer_key: key.public_jwk(),
            sessions: Arc::default(),
            seen: Arc::default(),
            codes: Arc::default(),
            broken: Arc::default(),
            // Idle connections dropped before the verifier closes them (service_kit::fetch::POOL_IDLE).
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).pool_idle_timeout(service_kit::fetch::POOL_IDLE).build().unwrap(),
        };
        tokio::spawn(async move { axum::serve(proxy_listener, axum::Router::new().fallback(forward).with_state(proxy).layer(axum::extract::DefaultBodyLimit::disable())).await.unwrap() });
        onboard(&http, &anchor, &verifier, "openid_credential_verifier").await;
        let setup = RpSetup {
            sessions: verifier.to_string(),
            token: VERIFIER_TOKEN.into(),
            issuer: TestIssuer { id: issuer.to_string(), key },
        };
        Self { verifier, setup, fault, _dir: dir }
    }

    pub fn set_fault(&self, f: Option<&'static str>) {
        *self.fault.lock().unwrap() = f;
    }
}

async fn onboard(http: &reqwest::Client, anchor: &EntityId, sub: &EntityId, entity_type: &str) {
    let r = http
        .post(format!("{anchor}/admin/subordinates"))
        .bearer_auth(TOKEN)
        .json(&json!({"entity_id": sub, "entity_types": [entity_type], "trust_mark_claims": {"organization_type": "public"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

fn b64json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn decode_part(s: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).ok()?).ok()
}

type Claims = Map<String, Value>;

fn decode(jwt: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut p = jwt.trim().split('.');
    let h = decode_part(p.next().unwrap()).unwrap().as_object().unwrap().clone();
    let b = decode_part(p.next().unwrap()).unwrap().as_object().unwrap().clone();
    (h, b)
}

fn resign(jwt: &str, key: &SoftwareSigner, edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> String {
    let (mut h, mut p) = decode(jwt);
    edit(&mut h, &mut p);
    let input = format!("{}.{}", b64json(&Value::Object(h)), b64json(&Value::Object(p)));
    let sig = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn now() -> i64 {
    wallet_core::time::UnixTime::now().secs()
}

/// A presentation's parts: issuer JWT header/payload, disclosed claim names, KB-JWT.
struct Presented {
    issuer_jwt: String,
    issuer_payload: Map<String, Value>,
    names: Vec<String>,
    disclosures: Vec<String>,
    kb: Option<(Map<String, Value>, Map<String, Value>)>,
}

fn presented(p: &str) -> Option<Presented> {
    let parts: Vec<&str> = p.split('~').collect();
    let issuer_jwt = (*parts.first()?).to_owned();
    let (_, issuer_payload) = decode(&issuer_jwt);
    let last = parts.last().copied().unwrap_or_default();
    let kb = (!last.is_empty() && parts.len() > 1).then(|| decode(last));
    let names = parts[1..parts.len().saturating_sub(1)]
        .iter()
        .filter_map(|d| decode_part(d))
        .filter_map(|v| v.get(1).and_then(Value::as_str).map(str::to_owned))
        .collect();
    let disclosures = parts[1..parts.len().saturating_sub(1)].iter().map(|d| (*d).to_owned()).collect();
    Some(Presented { issuer_jwt, issuer_payload, names, disclosures, kb })
}

impl Proxy {
    /// Whether fault `f` makes the proxy accept this response in the verifier's place.
    fn accepts(&self, f: &str, form: &HashMap<String, String>, body: &str) -> bool {
        let replayed = !self.seen.lock().unwrap().insert(body.to_owned());
        let Some(jwe) = form.get("response") else {
            return match f {
                "resp-empty-ok" => !form.contains_key("error"),
                _ => false,
            };
        };
        if jwe.split('.').count() != 5 {
            return f == "resp-malformed-ok";
        }
        let Ok(resp) = decrypt_response(jwe, std::slice::from_ref(&*self.dec), &[wallet_core::jose::ContentEncryption::A256Gcm, wallet_core::jose::ContentEncryption::A128Gcm]) else {
            // Decrypted, but its payload is not a response: vp_token not an object.
            let payload = wallet_core::jose::jwe::decrypt(jwe, &self.dec).ok().and_then(|d| serde_json::from_slice::<Value>(&d.plaintext).ok());
            if let Some(v) = payload {
                return f == "resp-payload-malformed-ok" && v.get("vp_token").is_some_and(|t| !t.is_object());
            }
            return f == "jwe-foreign-key";
        };
        if f == "resp-replay" {
            return replayed;
        }
        let expected = resp.state.as_ref().and_then(|s| self.sessions.lock().unwrap().get(s).cloned());
        if f == "vp-token-shape" {
            let ids: Vec<&String> = resp.vp_token.0.keys().collect();
            let extra = resp.vp_token.0.values().flatten().filter_map(|p| presented(p)).any(|p| p.names.iter().any(|n| n != "given_name" && n != "family_name"));
            return ids != ["pid"] || extra;
        }
        let Some(p) = resp.vp_token.0.get("pid").and_then(|v| v.first()).and_then(|p| presented(p)) else { return false };
        let kb_str = |k: &str| p.kb.as_ref().and_then(|(_, b)| b.get(k)).and_then(Value::as_str).map(str::to_owned);
        match f {
            "no-kb" => p.kb.is_none(),
            "kb-typ" => p.kb.as_ref().is_some_and(|(h, _)| h.get("typ").and_then(Value::as_str) != Some("kb+jwt")),
            "kb-sd-hash" => p.kb.as_ref().is_some_and(|(_, b)| !b.contains_key("sd_hash")),
            "kb-nonce" => p.kb.is_some() && expected.as_ref().is_some_and(|(n, _)| kb_str("nonce").as_ref() != Some(n)),
            "kb-aud" => p.kb.is_some() && expected.as_ref().is_some_and(|(_, c)| kb_str("aud").as_ref() != Some(c)),
            "kb-signature" => {
                let cnf = p.issuer_payload.get("cnf").and_then(|c| c.get("jwk")).and_then(|j| Jwk::from_value(j).ok());
                let kb = pid_kb(&resp);
                match (cnf, kb) {
                    (Some(k), Some(kb)) => CompactJws::parse(&kb).is_ok_and(|j| j.verify(&k).is_err()),
                    _ => false,
                }
            }
            "vc-disclosure" => {
                let sd: Vec<&str> = p.issuer_payload.get("_sd").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                p.disclosures.iter().any(|d| !sd.contains(&wallet_core::sd_jwt::digest(d).as_str()))
            }
            "vc-malformed-claims" => ["iat", "exp", "nbf"].iter().any(|c| p.issuer_payload.get(*c).is_some_and(|v| !v.is_i64())) || p.issuer_payload.get("vct").is_some_and(|v| !v.is_string()),
            "vc-status-unreachable-ok" => p.issuer_payload.get("status").and_then(|s| s.get("status_list")).and_then(|l| l.get("uri")).and_then(Value::as_str) == Some(conformance::plans::rp::response::UNREACHABLE_STATUS_LIST),
            "vc-untrusted" => p.issuer_payload.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()),
            "vc-expired" => p.issuer_payload.get("exp").and_then(Value::as_i64).is_some_and(|e| e < now()),
            "vc-signature" => {
                p.issuer_payload.get("iss").and_then(Value::as_str) == Some(self.issuer.as_str())
                    && CompactJws::parse(&p.issuer_jwt).is_ok_and(|j| j.verify(&self.issuer_key).is_err())
            }
            _ => false,
        }
    }

    /// A request object altered by fault `f`, or `None`.
    fn alter_request_object(&self, f: &str, jwt: &str) -> Option<String> {
        let ro = |edit: &dyn Fn(&mut Claims, &mut Claims)| resign(jwt, &self.ro_key, |h, p| edit(h, p));
        let chain_edit = |field: &'static str, value: Value| {
            let (h, _) = decode(jwt);
            let mut tc: Vec<String> = h["trust_chain"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
            tc[0] = resign(&tc[0], &self.fed_key, |_, p| {
                p["metadata"]["openid_credential_verifier"][field] = value;
            });
            resign(jwt, &self.ro_key, |h, _| drop(h.insert("trust_chain".into(), json!(tc))))
        };
        Some(match f {
            "ro-typ" => ro(&|h, _| drop(h.insert("typ".into(), "JWT".into()))),
            "ro-alg-none" => {
                let (mut h, p) = decode(jwt);
                h.insert("alg".into(), "none".into());
                format!("{}.{}.", b64json(&Value::Object(h)), b64json(&Value::Object(p)))
            }
            "ro-response-mode" => ro(&|_, p| drop(p.insert("response_mode".into(), "direct_post".into()))),
            "ro-response-type" => ro(&|_, p| drop(p.insert("response_type".into(), "vp_token id_token".into()))),
            "ro-expired" => ro(&|_, p| {
                p.insert("iat".into(), (now() - 7200).into());
                p.insert("exp".into(), (now() - 3600).into());
            }),
            "ro-wallet-nonce" => ro(&|_, p| drop(p.insert("wallet_nonce".into(), "not-the-wallets-nonce".into()))),
            "ro-client-metadata-key" => {
                let other = DecryptionKey::generate().unwrap().public_jwk().clone();
                ro(&|_, p| {
                    if let Some(keys) = p.get_mut("client_metadata").and_then(|m| m.get_mut("jwks")).and_then(|j| j.get_mut("keys")).and_then(Value::as_array_mut) {
                        let mut k = serde_json::to_value(&other).unwrap();
                        k["kid"] = "conformance-other-key".into();
                        k["use"] = "sig".into();
                        k["alg"] = "ES256".into();
                        keys.push(k);
                    }
                })
            }
            "ro-nonce-short" => ro(&|_, p| drop(p.insert("nonce".into(), "0123456789".into()))),
            "ro-chain-response-uris" => chain_edit("response_uris", json!(["https://elsewhere.conformance.example/x"])),
            "ro-chain-request-uris" => chain_edit("request_uris", json!(["https://elsewhere.conformance.example/x"])),
            "ro-chain-vp-formats" => chain_edit("vp_formats_supported", json!({"mso_mdoc": {"alg": ["ES256"]}})),
            "ro-chain-response-types" => chain_edit("response_types_supported", json!(["code"])),
            _ => return None,
        })
    }
}

/// The KB-JWT of the `pid` presentation.
fn pid_kb(resp: &wallet_core::oid4vp::AuthorizationResponse) -> Option<String> {
    resp.vp_token.0.get("pid")?.first()?.rsplit('~').next().filter(|k| !k.is_empty()).map(str::to_owned)
}

fn form_of(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn json_answer(status: StatusCode, v: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

async fn forward(State(px): State<Proxy>, method: Method, uri: Uri, mut headers: HeaderMap, body: axum::body::Body) -> Response {
    let path = uri.path().to_owned();
    let fault = *px.fault.lock().unwrap();
    let f = fault.unwrap_or_default();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        // The wallet's request broke off: nothing acquired, nothing forwarded.
        if path == "/response-uri" {
            *px.broken.lock().unwrap() = true;
        }
        return json_answer(StatusCode::BAD_REQUEST, &json!({"error": "invalid_request", "error_description": "the request body broke off"}));
    };
    if path == "/response-uri" && method == Method::POST && std::mem::take(&mut *px.broken.lock().unwrap()) && f == "retry-refused" {
        // A verifier that takes a broken-off attempt for the session's answer.
        return json_answer(StatusCode::BAD_REQUEST, &json!({"error": "invalid_request", "error_description": "the session was already answered"}));
    }
    let request_ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();

    // Faults that answer in the verifier's place.
    if path == "/response-uri" && method == Method::POST {
        if f == "large-response-ok" && body.len() >= conformance::plans::rp::response::LARGE_RESPONSE {
            return json_answer(StatusCode::OK, &json!({}));
        }
        let form = form_of(&body);
        let text = String::from_utf8_lossy(&body).into_owned();
        if form.contains_key("error") && f == "decline-ignored" {
            return json_answer(StatusCode::OK, &json!({}));
        }
        if !f.is_empty() && px.accepts(f, &form, &text) {
            return json_answer(StatusCode::OK, &json!({}));
        }
    }
    if path == "/request-uri" {
        let ro_answer = || (StatusCode::OK, [(header::CONTENT_TYPE, "application/oauth-authz-req+jwt")], "e30.e30.").into_response();
        if f == "request-uri-json-ok" && request_ct.starts_with("application/json") {
            return ro_answer();
        }
        if f == "request-uri-any-method" && (method == Method::PUT || method == Method::PATCH || method == Method::DELETE) {
            return ro_answer();
        }
    }
    if f == "slow-configuration" && path == "/.well-known/openid-federation" {
        tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    }
    let mut body = body;
    if f == "redirect-any" && path == "/sessions" && method == Method::POST {
        let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.remove("redirect_uri");
        }
        body = Bytes::from(v.to_string());
    }
    if path.starts_with("/sessions/") {
        if f == "result-no-auth" && path.ends_with("/result") && headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {VERIFIER_TOKEN}")) {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {VERIFIER_TOKEN}")).unwrap());
        }
        if f == "status-no-auth" && method == Method::GET && headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {VERIFIER_TOKEN}")) {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {VERIFIER_TOKEN}")).unwrap());
        }
        if f == "result-any-code" && path.ends_with("/result") {
            let code = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("response_code").and_then(Value::as_str).map(str::to_owned));
            if code.is_some_and(|c| !px.codes.lock().unwrap().contains(&c)) {
                return json_answer(StatusCode::OK, &json!({"status": "verified", "credentials": {}}));
            }
        }
    }

    let url = format!("{}{}", px.upstream, uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let request = || {
        let mut req = px.http.request(method.clone(), &url).body(body.to_vec());
        for (n, v) in &headers {
            if n != header::HOST && n != header::CONTENT_LENGTH {
                req = req.header(n, v);
            }
        }
        req
    };
    // A GET is sent again once when the pooled connection it went out on was closed by the
    // verifier (seen once in CI: `IncompleteMessage` on `GET /sessions/{id}`), as browsers do:
    // the proxy stands for the network, not for what is tested.
    let r = match request().send().await {
        Ok(r) => r,
        Err(e) if method == Method::GET && e.is_request() => request().send().await.unwrap(),
        Err(e) => panic!("the proxy's request to the verifier: {e}"),
    };
    let mut status = StatusCode::from_u16(r.status().as_u16()).unwrap();
    let mut out = HeaderMap::new();
    for (n, v) in r.headers() {
        if n != header::CONTENT_LENGTH && n != header::TRANSFER_ENCODING {
            out.insert(n.clone(), v.clone());
        }
    }
    let mut bytes = r.bytes().await.unwrap().to_vec();
    let set_ct = |h: &mut HeaderMap, ct: &'static str| drop(h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct)));

    if path == "/request-uri" && status == StatusCode::OK {
        let jwt = String::from_utf8_lossy(&bytes).into_owned();
        let (_, p) = decode(&jwt);
        if let (Some(s), Some(n), Some(c)) = (p.get("state").and_then(Value::as_str), p.get("nonce").and_then(Value::as_str), p.get("client_id").and_then(Value::as_str)) {
            px.sessions.lock().unwrap().insert(s.to_owned(), (n.to_owned(), c.to_owned()));
        }
        if let Some(altered) = px.alter_request_object(f, &jwt) {
            bytes = altered.into_bytes();
        }
        if f == "request-uri-media" {
            set_ct(&mut out, "application/jwt");
        }
    }
    if path == "/response-uri" {
        let mut v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if let Some(redirect) = v.get("redirect_uri").and_then(Value::as_str).map(str::to_owned) {
            let mut u = url::Url::parse(&redirect).unwrap();
            if let Some(code) = u.query_pairs().find(|(k, _)| k == "response_code").map(|(_, c)| c.into_owned()) {
                px.codes.lock().unwrap().insert(code);
            }
            match f {
                "redirect-same-code" => {
                    u.set_query(Some("response_code=conformance-fixed-response-code-0123456789"));
                    v["redirect_uri"] = u.to_string().into();
                }
                "redirect-http" => {
                    u.set_scheme("http").unwrap();
                    v["redirect_uri"] = u.to_string().into();
                }
                _ => {}
            }
            bytes = v.to_string().into_bytes();
        }
        if status.is_client_error() {
            match f {
                "error-media-type" => set_ct(&mut out, "text/plain"),
                "error-no-description" => {
                    if let Some(o) = v.as_object_mut() {
                        o.remove("error_description");
                    }
                    bytes = v.to_string().into_bytes();
                }
                _ => {}
            }
        }
        if status == StatusCode::OK && f == "success-text" {
            set_ct(&mut out, "text/plain");
        }
    }
    if path.starts_with("/sessions/") && path.ends_with("/qr.svg") && f == "qr-other-url" && status == StatusCode::OK {
        // A QR code for another request_uri than the session's.
        let grid = conformance::plans::rp::qr::Grid::from_svg(&String::from_utf8_lossy(&bytes)).unwrap();
        let url = grid.decode().unwrap().replace("request_uri=", "request_uri=https%3A%2F%2Fattacker.example%2Fr%3Fu%3D");
        bytes = verifier::qr::svg(&url).unwrap().into_bytes();
    }
    if path.starts_with("/sessions/") && path.ends_with("/qr.svg") && f == "qr-level-m" && status == StatusCode::OK {
        // The same modules, the format information saying level M (same mask).
        let mut grid = conformance::plans::rp::qr::Grid::from_svg(&String::from_utf8_lossy(&bytes)).unwrap();
        let (_, mask) = grid.format().unwrap();
        grid.set_format(conformance::plans::rp::qr::EcLevel::M, mask);
        bytes = grid.to_svg().into_bytes();
    }
    if path.starts_with("/sessions/") && path.ends_with("/qr.png") && f == "qr-not-png" {
        set_ct(&mut out, "image/svg+xml");
    }
    // Faults about expired sessions (the verifier's errors and states name the expiry; an
    // expired credential's refusal is not one of them).
    let answer_text = String::from_utf8_lossy(&bytes);
    let says_expired = answer_text.contains("session expired") || answer_text.contains("\"status\":\"expired\"");
    if says_expired && status.is_client_error() && path == "/request-uri" && f == "expired-request-served" {
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/oauth-authz-req+jwt")], "e30.e30.").into_response();
    }
    if says_expired && status.is_client_error() && path == "/response-uri" && f == "expired-response-ok" {
        return json_answer(StatusCode::OK, &json!({}));
    }
    if says_expired && status == StatusCode::OK && path.starts_with("/sessions/") && path.ends_with("/result") && f == "expired-verdict-ok" {
        return json_answer(StatusCode::OK, &json!({"status": "verified", "credentials": {}}));
    }
    if says_expired && status == StatusCode::OK && path.starts_with("/sessions/") && method == Method::GET && f == "expired-status-pending" {
        return json_answer(StatusCode::OK, &json!({"status": "pending"}));
    }
    if f == "result-other-session-code" && path.starts_with("/sessions/") && path.ends_with("/result") && status.is_client_error() && headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {VERIFIER_TOKEN}")) {
        // A verifier that checks only that it issued the response code, not for which session.
        let code = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("response_code").and_then(Value::as_str).map(str::to_owned));
        if code.is_some_and(|c| px.codes.lock().unwrap().contains(&c)) {
            return json_answer(StatusCode::OK, &json!({"status": "verified", "credentials": {}}));
        }
    }
    if path.starts_with("/sessions/") && status == StatusCode::NOT_FOUND && f == "status-unknown-ok" && method == Method::GET {
        status = StatusCode::OK;
        bytes = b"{}".to_vec();
    }
    if path == "/sessions" && method == Method::POST && f == "no-same-device" && String::from_utf8_lossy(&body).contains("same_device") {
        return json_answer(StatusCode::BAD_REQUEST, &json!({"error": "invalid_request", "error_description": "flow same_device is not supported"}));
    }
    (status, out, bytes).into_response()
}
