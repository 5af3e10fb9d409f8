//! The issuer plan's faults in the proxy in front of our issuer: what it remembers of the
//! traffic (the `c_nonce`s, pre-authorized codes and access tokens that passed, each token's
//! DPoP key) and how each fault alters an answer. A hostile-wallet fault answers in the
//! issuer's place as an issuer that skipped that one check would (a 200 where a refusal is
//! due), recognising the one bad input in the request; an output fault alters what the issuer
//! sent (offers, token and nonce responses, credentials, the status list), re-signing with the
//! issuer's own credential key what it changes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code, unreachable_pub)]

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use wallet_core::jose::{CompactJws, Jwk, PrivateJwk, Signer as _, SoftwareSigner};

/// A predicate on a proof's header, payload and compact form.
type ProofTest<'a> = dyn Fn(&Map<String, Value>, &Map<String, Value>, &str) -> bool + 'a;

#[derive(Default)]
struct Seen {
    /// `c_nonce`s the nonce endpoint gave.
    nonces: HashSet<String>,
    /// `c_nonce`s carried by a credential request.
    used_nonces: HashSet<String>,
    /// The last `c_nonce` given, while unused (`ci-nonce-repeat`).
    last_nonce: Option<String>,
    /// Pre-authorized codes redeemed.
    codes: HashSet<String>,
    /// Access tokens issued, with their DPoP key's thumbprint.
    tokens: HashMap<String, String>,
}

pub struct IssuerProxy {
    key: SoftwareSigner,
    entity: String,
    seen: Mutex<Seen>,
}

fn decode_part(p: &str) -> Map<String, Value> {
    URL_SAFE_NO_PAD.decode(p).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()).and_then(|v| v.as_object().cloned()).unwrap_or_default()
}

/// (header, payload) of a compact JWS, empty maps when not one.
fn parts(jwt: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut it = jwt.split('.');
    let h = decode_part(it.next().unwrap_or_default());
    let p = decode_part(it.next().unwrap_or_default());
    (h, p)
}

fn b64json(v: &Map<String, Value>) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Value::Object(v.clone())).unwrap())
}

fn thumbprint(jwk: Option<&Value>) -> Option<String> {
    jwk.and_then(|j| Jwk::from_value(j).ok()).map(|j| j.thumbprint().as_str().to_owned())
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The access token of `Authorization: DPoP <token>`.
fn access_token(headers: &HeaderMap) -> Option<String> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.split_once(' ')).map(|(_, t)| t.to_owned())
}

fn dpop(headers: &HeaderMap) -> Option<String> {
    headers.get("dpop").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The proofs of a credential request.
fn proofs(body: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v["proofs"]["jwt"].as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
}

fn now() -> i64 {
    wallet_core::time::UnixTime::now().secs()
}

/// A credential response an issuer skipping a check would send.
fn fake_credentials() -> String {
    json!({"credentials": [{"credential": "conformance-accepted"}], "notification_id": "conformance"}).to_string()
}

impl IssuerProxy {
    pub fn new(credential_key: &std::path::Path, entity: &str) -> Self {
        let jwk = PrivateJwk::from_json(&std::fs::read_to_string(credential_key).unwrap()).unwrap();
        Self { key: SoftwareSigner::from_private_jwk(jwk).unwrap(), entity: entity.to_owned(), seen: Mutex::default() }
    }

    /// Re-signs `jwt` with the credential key after `edit`.
    fn resign(&self, jwt: &str, edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> String {
        let (mut h, mut p) = parts(jwt);
        edit(&mut h, &mut p);
        let input = format!("{}.{}", b64json(&h), b64json(&p));
        let sig = self.key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// Re-signs the issuer-signed JWT of an SD-JWT after `edit`, disclosures kept.
    fn resign_sd_jwt(&self, sd_jwt: &str, edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> String {
        let (jwt, rest) = sd_jwt.split_once('~').unwrap_or((sd_jwt, ""));
        format!("{}~{rest}", self.resign(jwt, edit))
    }

    /// Alters each issued credential of a 200 credential response.
    fn each_credential(text: &mut String, f: impl Fn(&str) -> String) {
        let Ok(mut v) = serde_json::from_str::<Value>(text) else { return };
        if let Some(cs) = v["credentials"].as_array_mut() {
            for c in cs {
                if let Some(s) = c["credential"].as_str() {
                    c["credential"] = f(s).into();
                }
            }
        }
        *text = v.to_string();
    }

    /// Edits the offer inside the `offer_url` of an admin API answer.
    fn edit_offer(text: &mut String, f: impl FnOnce(&mut Value)) {
        let mut v: Value = serde_json::from_str(text).unwrap();
        let url = v["offer_url"].as_str().unwrap().to_owned();
        let (base, query) = url.split_once('?').unwrap();
        let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        let mut f = Some(f);
        for (k, val) in params {
            if let (true, Some(f)) = (k == "credential_offer", f.take()) {
                let mut offer: Value = serde_json::from_str(&val).unwrap();
                f(&mut offer);
                out.append_pair(&k, &offer.to_string());
            } else {
                out.append_pair(&k, &val);
            }
        }
        v["offer_url"] = format!("{base}?{}", out.finish()).into();
        *text = v.to_string();
    }

    /// Records what passed, then applies `fault`.
    #[allow(clippy::too_many_arguments)]
    pub fn observe_and_alter(&self, fault: Option<&str>, method: &Method, path: &str, headers: &HeaderMap, body: &[u8], status: &mut StatusCode, out: &mut HeaderMap, text: &mut String) {
        let mut seen = self.seen.lock().unwrap();
        let post = method == Method::POST;
        // What the wallet sent.
        let code_reused = if post && path == "/token" {
            let f = form(body);
            f.get("pre-authorized_code").is_some_and(|c| !seen.codes.insert(c.clone()))
        } else {
            false
        };
        let proofs = if post && path == "/credential" { proofs(body) } else { Vec::new() };
        let proof_parts: Vec<(Map<String, Value>, Map<String, Value>)> = proofs.iter().map(|p| parts(p)).collect();
        let unknown_nonce = proof_parts.iter().any(|(_, p)| p.get("nonce").and_then(Value::as_str).is_some_and(|n| !seen.nonces.contains(n)));
        for (_, p) in &proof_parts {
            if let Some(n) = p.get("nonce").and_then(Value::as_str) {
                seen.used_nonces.insert(n.to_owned());
            }
        }
        let token = access_token(headers);
        let dpop_header = dpop(headers);
        let (dpop_h, dpop_p) = dpop_header.as_deref().map(parts).unwrap_or_default();
        let dpop_jkt = thumbprint(dpop_h.get("jwk"));
        // What the issuer answered.
        if post
            && path == "/token"
            && *status == StatusCode::OK
            && let (Ok(v), Some(jkt)) = (serde_json::from_str::<Value>(text), dpop_jkt.clone())
            && let Some(at) = v["access_token"].as_str()
        {
            seen.tokens.insert(at.to_owned(), jkt);
        }
        if post
            && path == "/nonce"
            && *status == StatusCode::OK
            && let Some(n) = serde_json::from_str::<Value>(text).ok().and_then(|v| v["c_nonce"].as_str().map(str::to_owned))
        {
            seen.nonces.insert(n.clone());
            if fault == Some("ci-nonce-repeat")
                && let Some(last) = seen.last_nonce.clone().filter(|l| !seen.used_nonces.contains(l))
            {
                *text = json!({"c_nonce": last}).to_string();
                return;
            }
            seen.last_nonce = Some(n);
        }
        let Some(fault) = fault else { return };
        let accept = |status: &mut StatusCode, text: &mut String, body: String| {
            *status = StatusCode::OK;
            *text = body;
        };
        let set_json = |out: &mut HeaderMap| drop(out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json")));
        let fake_token = || json!({"access_token": "conformance-accepted", "token_type": "DPoP", "expires_in": 60}).to_string();
        let any_proof = |f: &ProofTest<'_>| proof_parts.iter().zip(&proofs).any(|((h, p), raw)| f(h, p, raw));
        match (fault, path) {
            // The offer.
            ("ci-offer-extra-param", "/admin/offers") if status.is_success() => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                v["offer_url"] = format!("{}&conformance=extra", v["offer_url"].as_str().unwrap()).into();
                *text = v.to_string();
            }
            ("ci-offer-issuer", "/admin/offers") if status.is_success() => Self::edit_offer(text, |o| o["credential_issuer"] = "https://someone-else.example".into()),
            ("ci-offer-tx-length", "/admin/offers") if status.is_success() => Self::edit_offer(text, |o| {
                if let Some(tx) = o["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"].get_mut("tx_code") {
                    tx["length"] = 3.into();
                }
            }),
            // The token endpoint.
            ("ci-code-reuse-ok", "/token") if code_reused => accept(status, text, fake_token()),
            ("ci-token-no-dpop-ok", "/token") if post && dpop_header.is_none() => accept(status, text, fake_token()),
            ("ci-token-bearer", "/token") if *status == StatusCode::OK => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                v["token_type"] = "Bearer".into();
                *text = v.to_string();
            }
            ("ci-grant-type-code", "/token") if form(body).get("grant_type").is_some_and(|g| g.contains("conformance")) => {
                let mut v: Value = serde_json::from_str(text).unwrap_or_else(|_| json!({}));
                v["error"] = "invalid_request".into();
                *text = v.to_string();
            }
            // The nonce endpoint.
            ("ci-nonce-cacheable", "/nonce") => drop(out.remove(header::CACHE_CONTROL)),
            // Access to the protected endpoints.
            ("ci-dpop-key-ok", "/credential") if token.as_ref().and_then(|t| seen.tokens.get(t)).is_some_and(|jkt| dpop_jkt.as_deref() != Some(jkt.as_str())) => {
                accept(status, text, fake_credentials())
            }
            ("ci-ath-ok", "/credential")
                if token.as_ref().is_some_and(|t| dpop_p.get("ath").and_then(Value::as_str) != Some(wallet_core::oid4vci::dpop::access_token_hash(t).as_str())) =>
            {
                accept(status, text, fake_credentials())
            }
            ("ci-forged-token-ok", "/credential") if token.as_ref().is_some_and(|t| !seen.tokens.contains_key(t)) => accept(status, text, fake_credentials()),
            ("ci-credential-no-auth-ok", "/credential") if token.is_none() => accept(status, text, fake_credentials()),
            ("ci-deferred-no-auth-ok", "/deferred_credential") if token.is_none() => {
                *status = StatusCode::BAD_REQUEST;
                *text = json!({"error": "invalid_transaction_id"}).to_string();
                set_json(out);
            }
            ("ci-notification-no-auth-ok", "/notification") if token.is_none() => {
                *status = StatusCode::NO_CONTENT;
                text.clear();
            }
            ("ci-notification-unknown-ok", "/notification") if *status == StatusCode::BAD_REQUEST => {
                *status = StatusCode::NO_CONTENT;
                text.clear();
            }
            // Key proofs.
            ("ci-proof-no-aud-ok", "/credential") if any_proof(&|_, p, _| !p.contains_key("aud")) => accept(status, text, fake_credentials()),
            ("ci-proof-same-key-ok", "/credential") if {
                let tps: Vec<_> = proof_parts.iter().filter_map(|(h, _)| thumbprint(h.get("jwk"))).collect();
                tps.iter().collect::<HashSet<_>>().len() < tps.len()
            } =>
            {
                accept(status, text, fake_credentials())
            }
            ("ci-proof-typ-ok", "/credential") if any_proof(&|h, _, _| h.get("typ").and_then(Value::as_str) != Some("openid4vci-proof+jwt")) => accept(status, text, fake_credentials()),
            ("ci-proof-alg-none-ok", "/credential") if any_proof(&|h, _, _| h.get("alg").and_then(Value::as_str) == Some("none")) => accept(status, text, fake_credentials()),
            ("ci-proof-signature-ok", "/credential")
                if any_proof(&|h, _, raw| {
                    h.get("alg").and_then(Value::as_str) != Some("none")
                        && h.get("jwk").is_some_and(|j| j.get("d").is_none())
                        && match (CompactJws::parse(raw), h.get("jwk").and_then(|j| Jwk::from_value(j).ok())) {
                            (Ok(jws), Some(jwk)) => jws.verify(&jwk).is_err(),
                            _ => false,
                        }
                }) =>
            {
                accept(status, text, fake_credentials())
            }
            ("ci-proof-private-key-ok", "/credential") if any_proof(&|h, _, _| h.get("jwk").is_some_and(|j| j.get("d").is_some())) => accept(status, text, fake_credentials()),
            ("ci-proof-nonce-ok", "/credential") if unknown_nonce => accept(status, text, fake_credentials()),
            ("ci-proof-stale-ok", "/credential") if any_proof(&|_, p, _| p.get("iat").and_then(Value::as_i64).is_some_and(|i| i < now() - 1_800)) => accept(status, text, fake_credentials()),
            ("ci-proof-no-wua-ok", "/credential") if any_proof(&|h, _, _| !h.contains_key("key_attestation")) => accept(status, text, fake_credentials()),
            // Issuance.
            ("ci-batch-no-notification-id", "/credential") if *status == StatusCode::OK => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                if v["credentials"].as_array().is_some_and(|c| c.len() > 1) {
                    v.as_object_mut().unwrap().remove("notification_id");
                }
                *text = v.to_string();
            }
            ("ci-deferred-no-interval", "/credential") if *status == StatusCode::ACCEPTED => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                v.as_object_mut().unwrap().remove("interval");
                *text = v.to_string();
            }
            ("ci-metadata-format", "/.well-known/openid-credential-issuer") if *status == StatusCode::OK => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                for c in v["credential_configurations_supported"].as_object_mut().unwrap().values_mut() {
                    c["format"] = "vc+sd-jwt".into();
                }
                *text = v.to_string();
            }
            ("ci-credential-media-type", "/credential") if *status == StatusCode::OK => drop(out.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))),
            ("ci-no-refresh-token", "/token") if *status == StatusCode::OK => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                v.as_object_mut().unwrap().remove("refresh_token");
                *text = v.to_string();
            }
            // The credentials.
            (f, "/credential") if *status == StatusCode::OK && f.starts_with("ci-vc-") => {
                let other = serde_json::from_str::<Value>(&SoftwareSigner::generate().unwrap().public_jwk().to_json()).unwrap();
                Self::each_credential(text, |c| match f {
                    "ci-vc-cnf" => self.resign_sd_jwt(c, |_, p| drop(p.insert("cnf".into(), json!({"jwk": other.clone()})))),
                    "ci-vc-vct" => self.resign_sd_jwt(c, |_, p| drop(p.insert("vct".into(), "urn:conformance:another-type".into()))),
                    "ci-vc-signature" => {
                        let (jwt, rest) = c.split_once('~').unwrap();
                        let (head, _) = jwt.rsplit_once('.').unwrap();
                        format!("{head}.{}~{rest}", URL_SAFE_NO_PAD.encode([7u8; 64]))
                    }
                    "ci-vc-no-sd-alg" => self.resign_sd_jwt(c, |_, p| drop(p.remove("_sd_alg"))),
                    "ci-vc-foreign-disclosure" => format!("{c}{}~", URL_SAFE_NO_PAD.encode(br#"["c2FsdA","conformance","not digested"]"#)),
                    "ci-vc-no-trailing-tilde" => c.trim_end_matches('~').to_owned(),
                    "ci-vc-typ" => self.resign_sd_jwt(c, |h, _| drop(h.insert("typ".into(), "vc+sd-jwt".into()))),
                    "ci-vc-no-exp" => self.resign_sd_jwt(c, |_, p| drop(p.remove("exp"))),
                    "ci-vc-status-idx-string" => self.resign_sd_jwt(c, |_, p| {
                        let idx = p["status"]["status_list"]["idx"].clone();
                        p["status"]["status_list"]["idx"] = idx.to_string().into();
                    }),
                    "ci-vc-no-status" => self.resign_sd_jwt(c, |_, p| drop(p.remove("status"))),
                    _ => c.to_owned(),
                });
            }
            // The status list.
            ("ci-sl-down", "/status-list") => {
                *status = StatusCode::SERVICE_UNAVAILABLE;
                *text = json!({"error": "temporarily_unavailable"}).to_string();
                set_json(out);
            }
            ("ci-sl-media-type", "/status-list") => drop(out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwt"))),
            ("ci-sl-typ", "/status-list") => *text = self.resign(text.trim(), |h, _| drop(h.insert("typ".into(), "JWT".into()))),
            ("ci-sl-sub", "/status-list") => *text = self.resign(text.trim(), |_, p| drop(p.insert("sub".into(), format!("{}/another-list", self.entity).into()))),
            ("ci-sl-long-lived", "/status-list") => *text = self.resign(text.trim(), |_, p| {
                let iat = p["iat"].as_i64().unwrap();
                p.insert("exp".into(), (iat + 2 * 86_400).into());
            }),
            ("ci-sl-bits", "/status-list") => *text = self.resign(text.trim(), |_, p| p["status_list"]["bits"] = 3.into()),
            ("ci-sl-uncompressed", "/status-list") => *text = self.resign(text.trim(), |_, p| {
                let bits = wallet_core::status::Bits::from_u64(p["status_list"]["bits"].as_u64().unwrap()).unwrap();
                let list = wallet_core::status::decode_lst(p["status_list"]["lst"].as_str().unwrap(), bits, wallet_core::status::DEFAULT_MAX_DECOMPRESSED).unwrap();
                p["status_list"]["lst"] = URL_SAFE_NO_PAD.encode(list.as_bytes()).into();
            }),
            ("ci-sl-invalid", "/status-list") => *text = self.resign(text.trim(), |_, p| {
                let bits = wallet_core::status::Bits::from_u64(p["status_list"]["bits"].as_u64().unwrap()).unwrap();
                let list = wallet_core::status::decode_lst(p["status_list"]["lst"].as_str().unwrap(), bits, wallet_core::status::DEFAULT_MAX_DECOMPRESSED).unwrap();
                let mut all = wallet_core::status::StatusList::new(bits, list.len());
                for i in 0..list.len() {
                    all.set(i, wallet_core::status::StatusValue::Invalid).unwrap();
                }
                p["status_list"]["lst"] = all.to_lst().into();
            }),
            _ => {}
        }
    }
}
