//! The wallet-provider plan's wallet-row faults in the proxy in front of our wallet provider:
//! what it remembers of the traffic (the nonces `/nonce` gave and those already sent, the
//! instances revoked) and how each fault alters an answer. A hostile-wallet fault answers in
//! the provider's place as a provider that skipped that one check would (a 2xx where a
//! refusal is due), recognising the one bad input in the request; an output fault alters
//! what the provider sent (the WAA re-signed with its own attestation key, the lists).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code, unreachable_pub)]

use std::collections::HashSet;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use wallet_core::attestation::KeyAttestationVerifier as _;
use wallet_core::attestation::key_attestation::SoftwareAttestationVerifier;
use wallet_core::attestation::{ATTESTATION_REQUEST_TYP, KeyAttestationError, RegistrationRequest};
use wallet_core::jose::{CompactJws, Jwk, PrivateJwk, Signer as _, SoftwareSigner};
use wallet_core::time::UnixTime;

use super::jws::{b64json, parts};

/// The signature the tool's hostile messages carry (`FORGED_SIGNATURE` of the plan).
const FORGED: [u8; 64] = [7; 64];

#[derive(Default)]
struct Seen {
    /// Nonces `/nonce` gave.
    given: HashSet<String>,
    /// Nonces a registration or attestation request carried.
    sent: HashSet<String>,
    /// The last nonce given, while unsent (`wp-nonce-repeat`).
    last_unsent: Option<String>,
    /// Instances revoked (their hardware key tags).
    revoked: HashSet<String>,
    /// The hardware key (thumbprint) each registered tag was attested with.
    registered: std::collections::HashMap<String, String>,
}

pub struct WpProxy {
    /// The provider's attestation key (re-signs WAAs).
    key: SoftwareSigner,
    entity: String,
    seen: Mutex<Seen>,
}

fn forged(jwt: &str) -> bool {
    jwt.rsplit('.').next() == Some(URL_SAFE_NO_PAD.encode(FORGED).as_str())
}

/// Whether a software key attestation chains to a root other than the development one (and
/// is not merely forged).
fn untrusted_root(ka: &str) -> bool {
    !forged(ka) && matches!(SoftwareAttestationVerifier::development().unwrap().verify(ka, UnixTime::now()), Err(KeyAttestationError::UntrustedRoot))
}

/// The thumbprint of the key a software key attestation attests.
fn attested_key(ka: &str) -> Option<String> {
    parts(ka).1.get("attested_key").and_then(|k| Jwk::from_value(k).ok()).map(|k| k.thumbprint().as_str().to_owned())
}

fn set_error(status: &mut StatusCode, text: &mut String, code: StatusCode, error: &str) {
    *status = code;
    *text = json!({"error": error, "error_description": "altered by the conformance proxy"}).to_string();
}

fn ok_empty(status: &mut StatusCode, out: &mut HeaderMap, text: &mut String, code: StatusCode) {
    *status = code;
    text.clear();
    out.remove(header::CONTENT_TYPE);
}

fn ok_json(status: &mut StatusCode, out: &mut HeaderMap, text: &mut String, body: Value) {
    *status = StatusCode::OK;
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    *text = body.to_string();
}

impl WpProxy {
    pub fn new(attestation_key: &std::path::Path, entity: &str) -> Self {
        let jwk = PrivateJwk::from_json(&std::fs::read_to_string(attestation_key).unwrap()).unwrap();
        Self { key: SoftwareSigner::from_private_jwk(jwk).unwrap(), entity: entity.to_owned(), seen: Mutex::default() }
    }

    fn resign(&self, jwt: &str, edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> String {
        let (mut h, mut p) = parts(jwt);
        edit(&mut h, &mut p);
        let input = format!("{}.{}", b64json(&h), b64json(&p));
        let sig = self.key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// Re-signs with a fresh key of its own (kid its thumbprint).
    fn resign_foreign(jwt: &str) -> String {
        let key = SoftwareSigner::generate().unwrap();
        let (mut h, p) = parts(jwt);
        h.insert("kid".into(), key.public_jwk().thumbprint().as_str().into());
        let input = format!("{}.{}", b64json(&h), b64json(&p));
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).unwrap()))
    }

    /// Alters the WAA of an attestation response.
    fn alter_waa(&self, text: &mut String, f: impl FnOnce(&Self, &str) -> String) {
        let mut v: Value = serde_json::from_str(text).unwrap();
        let waa = v["wallet_attestations"]["wallet_app_attestation"].as_str().unwrap().to_owned();
        v["wallet_attestations"]["wallet_app_attestation"] = f(self, &waa).into();
        *text = v.to_string();
    }

    #[allow(clippy::too_many_arguments)]
    pub fn observe_and_alter(&self, fault: Option<&str>, method: &Method, path: &str, body: &[u8], status: &mut StatusCode, out: &mut HeaderMap, text: &mut String) {
        let mut seen = self.seen.lock().unwrap();
        let refused = status.is_client_error();
        let ok = status.is_success();
        let json_body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let nonce = if *method == Method::POST && path == "/wallet-instances" {
            json_body.get("nonce").and_then(Value::as_str).map(str::to_owned)
        } else if *method == Method::POST && path == "/wallet-attestation" {
            json_body.get("assertion").and_then(Value::as_str).and_then(|a| parts(a).1.get("nonce").and_then(Value::as_str).map(str::to_owned))
        } else {
            None
        };
        // A nonce never given, or given and sent before.
        let bad_nonce = nonce.as_ref().is_some_and(|n| !seen.given.contains(n) || seen.sent.contains(n));
        if let Some(n) = &nonce {
            seen.sent.insert(n.clone());
            if seen.last_unsent.as_ref() == Some(n) {
                seen.last_unsent = None;
            }
        }
        match (method.clone(), path) {
            (Method::GET, "/nonce") if ok => {
                if fault == Some("wp-nonce-repeat")
                    && let Some(last) = seen.last_unsent.clone()
                {
                    *text = json!({"nonce": last}).to_string();
                    return;
                }
                if let Some(n) = serde_json::from_str::<Value>(text).ok().and_then(|v| v["nonce"].as_str().map(str::to_owned)) {
                    seen.given.insert(n.clone());
                    seen.last_unsent = Some(n);
                }
            }
            (Method::POST, "/wallet-instances") => {
                let ka = json_body.get("key_attestation").and_then(Value::as_str).unwrap_or_default();
                let binding_broken = !forged(ka)
                    && !untrusted_root(ka)
                    && serde_json::from_value::<RegistrationRequest>(json_body.clone())
                        .is_ok_and(|r| r.verify(&SoftwareAttestationVerifier::development().unwrap(), UnixTime::now()).is_err());
                if ok
                    && let (Some(tag), Some(key)) = (json_body.get("hardware_key_tag").and_then(Value::as_str), attested_key(ka))
                {
                    seen.registered.insert(tag.to_owned(), key);
                }
                match fault {
                    Some("wp-register-200") if *status == StatusCode::NO_CONTENT => ok_json(status, out, text, json!({})),
                    Some("wp-register-nonce-ok") if refused && bad_nonce => ok_empty(status, out, text, StatusCode::NO_CONTENT),
                    Some("wp-register-nonce-code") if refused && bad_nonce => set_error(status, text, StatusCode::FORBIDDEN, "invalid_nonce"),
                    Some("wp-ka-root-ok") if refused && untrusted_root(ka) => ok_empty(status, out, text, StatusCode::NO_CONTENT),
                    Some("wp-ka-signature-ok") if refused && forged(ka) => ok_empty(status, out, text, StatusCode::NO_CONTENT),
                    Some("wp-ka-binding-ok") if refused && binding_broken => ok_empty(status, out, text, StatusCode::NO_CONTENT),
                    Some("wp-duplicate-tag-ok") if *status == StatusCode::UNPROCESSABLE_ENTITY => ok_empty(status, out, text, StatusCode::NO_CONTENT),
                    _ => {}
                }
            }
            (Method::POST, "/wallet-attestation") => {
                let assertion = json_body.get("assertion").and_then(Value::as_str).unwrap_or_default();
                let (h, p) = parts(assertion);
                let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                let cnf = p.get("cnf").and_then(|c| c.get("jwk")).and_then(|j| Jwk::from_value(j).ok());
                let signed_by_cnf = match (CompactJws::parse(assertion), cnf) {
                    (Ok(j), Some(k)) => j.verify(&k).is_ok(),
                    _ => false,
                };
                let hw_forged = s("hardware_signature") == URL_SAFE_NO_PAD.encode(FORGED);
                let ia = s("integrity_assertion");
                let revoked = seen.revoked.contains(&s("hardware_key_tag"));
                let other_key = seen.registered.get(&s("hardware_key_tag")).is_some_and(|k| attested_key(&ia).is_some_and(|a| &a != k));
                // Only a request that is a JWS (a malformed body is WP_036's).
                let refused = refused && assertion.split('.').count() == 3;
                let accept = |status: &mut StatusCode, out: &mut HeaderMap, text: &mut String| ok_json(status, out, text, json!({"wallet_attestations": {"wallet_app_attestation": "conformance.accepted.x", "wallet_unit_attestation": "conformance.accepted.x"}}));
                match fault {
                    Some("wp-att-aud-ok") if refused && s("aud") != self.entity => accept(status, out, text),
                    Some("wp-att-typ-ok") if refused && h.get("typ").and_then(Value::as_str) != Some(ATTESTATION_REQUEST_TYP) => accept(status, out, text),
                    Some("wp-att-signature-ok") if refused && !signed_by_cnf => accept(status, out, text),
                    Some("wp-att-nonce-ok") if refused && bad_nonce => accept(status, out, text),
                    Some("wp-att-unregistered-ok") if *status == StatusCode::NOT_FOUND => accept(status, out, text),
                    Some("wp-att-unregistered-code") if *status == StatusCode::NOT_FOUND => set_error(status, text, StatusCode::FORBIDDEN, "invalid_request"),
                    Some("wp-att-hw-signature-ok") if refused && hw_forged => accept(status, out, text),
                    Some("wp-att-hw-signature-code") if refused && hw_forged => set_error(status, text, StatusCode::FORBIDDEN, "integrity_check_error"),
                    Some("wp-att-integrity-ok") if refused && forged(&ia) => accept(status, out, text),
                    Some("wp-att-integrity-code") if refused && forged(&ia) => set_error(status, text, StatusCode::FORBIDDEN, "integrity_check_error"),
                    Some("wp-att-integrity-root-ok") if refused && untrusted_root(&ia) => accept(status, out, text),
                    Some("wp-att-iss-ok") if refused && !s("iss").starts_with(&format!("{}/instance/", self.entity)) => accept(status, out, text),
                    Some("wp-att-other-key-ok") if refused && other_key => accept(status, out, text),
                    Some("wp-att-revoked-ok") if refused && revoked => accept(status, out, text),
                    Some("wp-att-revoked-code") if refused && revoked => set_error(status, text, StatusCode::FORBIDDEN, "forbidden"),
                    Some("wp-attestation-media-type") if ok => drop(out.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))),
                    Some("wp-waa-typ") if ok => self.alter_waa(text, |px, w| px.resign(w, |h, _| drop(h.insert("typ".into(), "JWT".into())))),
                    Some("wp-waa-pii") if ok => self.alter_waa(text, |px, w| px.resign(w, |_, p| drop(p.insert("fiscal_number".into(), "TINIT-RSSMRA80A01H501U".into())))),
                    Some("wp-waa-no-sub") if ok => self.alter_waa(text, |px, w| px.resign(w, |_, p| drop(p.remove("sub")))),
                    Some("wp-waa-cnf") if ok => self.alter_waa(text, |px, w| {
                        let other: Value = serde_json::from_str(&SoftwareSigner::generate().unwrap().public_jwk().to_json()).unwrap();
                        px.resign(w, |_, p| drop(p.insert("cnf".into(), json!({"jwk": other}))))
                    }),
                    Some("wp-waa-foreign-key") if ok => self.alter_waa(text, |_, w| Self::resign_foreign(w)),
                    Some("wp-waa-long-lived") if ok => self.alter_waa(text, |px, w| {
                        px.resign(w, |_, p| {
                            let iat = p["iat"].as_i64().unwrap();
                            p.insert("exp".into(), (iat + 2 * 86_400).into());
                        })
                    }),
                    _ => {}
                }
            }
            (Method::POST, "/e-service/notify-user-death") if fault == Some("wp-death-unsupported") => set_error(status, text, StatusCode::NOT_FOUND, "not_found"),
            (Method::GET, "/wallet-instances") if ok => match fault {
                Some("wp-list-media-type") => drop(out.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))),
                Some("wp-list-no-issued-at") => {
                    let mut v: Value = serde_json::from_str(text).unwrap();
                    for e in v.as_array_mut().unwrap() {
                        e.as_object_mut().unwrap().remove("issued_at");
                    }
                    *text = v.to_string();
                }
                Some("wp-revoked-shown-active") => *text = text.replace("\"REVOKED\"", "\"ACTIVE\""),
                _ => {}
            },
            (Method::GET, p) if p.starts_with("/wallet-instances/") => match fault {
                Some("wp-unknown-instance-text") if *status == StatusCode::NOT_FOUND => drop(out.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))),
                Some("wp-instance-get-404") if ok && text.contains("\"ACTIVE\"") => set_error(status, text, StatusCode::NOT_FOUND, "not_found"),
                Some("wp-revoked-shown-active") if ok => *text = text.replace("\"REVOKED\"", "\"ACTIVE\""),
                Some("wp-other-get-ok") if *status == StatusCode::FORBIDDEN => {
                    let id = p.trim_start_matches("/wallet-instances/");
                    ok_json(status, out, text, json!({"id": id, "status": "ACTIVE", "issued_at": UnixTime::now().secs()}));
                }
                _ => {}
            },
            (Method::PATCH, p) if p.starts_with("/wallet-instances/") => {
                let id = p.trim_start_matches("/wallet-instances/").to_owned();
                let to_revoked = json_body.get("status").and_then(Value::as_str) == Some("REVOKED");
                if ok && to_revoked {
                    seen.revoked.insert(id);
                }
                match fault {
                    Some("wp-revoke-200") if *status == StatusCode::NO_CONTENT => ok_json(status, out, text, json!({})),
                    Some("wp-revoke-any-status-ok") if refused && !to_revoked && *status != StatusCode::UNAUTHORIZED => ok_empty(status, out, text, StatusCode::NO_CONTENT),
                    Some("wp-other-revoke-ok") if *status == StatusCode::FORBIDDEN => ok_empty(status, out, text, StatusCode::NO_CONTENT),
                    _ => {}
                }
            }
            _ => {}
        }
        if fault == Some("wp-bad-request-code") && *status == StatusCode::BAD_REQUEST {
            set_error(status, text, StatusCode::BAD_REQUEST, "invalid_request");
        }
    }
}
