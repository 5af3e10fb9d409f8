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

use super::jws::{b64json, parts};

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
    /// Refresh tokens issued.
    refresh_tokens: HashSet<String>,
    /// Request object `jti`s pushed.
    ro_jtis: HashSet<String>,
    /// The `jti`s of request objects pushed whose signature did not verify
    /// (`ci-ro-forged-jti-kept`).
    forged_jtis: HashSet<String>,
    /// The first `request_uri` the PAR endpoint gave (`ci-par-same-request-uri`).
    first_request_uri: Option<String>,
    /// `request_uri`s the proxy made up (`ci-par-short-request-uri`).
    made_up: usize,
    /// Whether the issuer answered the last `/authorize` with a redirect.
    last_authorize_redirected: bool,
    /// Whether a PAR was accepted since the last `/authorize`.
    par_since_authorize: bool,
    /// The status list indices of the credentials issued (`ci-sl-undefined-status` leaves them
    /// alone).
    status_idxs: HashSet<u64>,
    /// Access tokens a refresh gave.
    refreshed: HashSet<String>,
    /// Authorization codes redeemed at the token endpoint.
    auth_codes: HashSet<String>,
}

/// What a PAR carried: the form, the request object's and the attestations' parts.
struct Pushed {
    form: HashMap<String, String>,
    ro: (Map<String, Value>, Map<String, Value>),
    ro_raw: String,
    waa: (Map<String, Value>, Map<String, Value>),
    pop_raw: String,
}

impl Pushed {
    fn read(headers: &HeaderMap, body: &[u8]) -> Self {
        let form = form(body);
        let ro_raw = form.get("request").cloned().unwrap_or_default();
        let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        Self { ro: parts(&ro_raw), ro_raw, waa: parts(&h("oauth-client-attestation")), pop_raw: h("oauth-client-attestation-pop"), form }
    }

    /// The WAA's `cnf.jwk`.
    fn cnf(&self) -> Option<Jwk> {
        self.waa.1.get("cnf").and_then(|c| c.get("jwk")).and_then(|j| Jwk::from_value(j).ok())
    }

    fn ro_str(&self, k: &str) -> Option<&str> {
        self.ro.1.get(k).and_then(Value::as_str)
    }

    fn ro_i64(&self, k: &str) -> i64 {
        self.ro.1.get(k).and_then(Value::as_i64).unwrap_or_default()
    }

    /// Whether `jws` verifies with the WAA's `cnf.jwk`.
    fn verifies(&self, jws: &str) -> bool {
        match (CompactJws::parse(jws), self.cnf()) {
            (Ok(j), Some(k)) => j.verify(&k).is_ok(),
            _ => false,
        }
    }

    /// The payload of the WAA's first trust chain statement (the provider's Entity
    /// Configuration), as text.
    fn provider_configuration(&self) -> (usize, String) {
        let chain = self.waa.0.get("trust_chain").and_then(Value::as_array).cloned().unwrap_or_default();
        let first = chain.first().and_then(Value::as_str).map(|s| Value::Object(parts(s).1).to_string()).unwrap_or_default();
        (chain.len(), first)
    }
}

pub struct IssuerProxy {
    key: SoftwareSigner,
    /// The request object key (`request-object-key.jwk` beside the credential key): re-signs
    /// the OpenID4VP request objects of the PID login.
    ro_key: Option<SoftwareSigner>,
    entity: String,
    seen: Mutex<Seen>,
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

/// `data` as a ZLIB stream of stored (uncompressed) DEFLATE blocks, what compression level 0
/// writes: header `78 01` (FLEVEL 0), blocks of at most 65,535 bytes, the Adler-32 (RFC 1950,
/// RFC 1951 §3.2.4).
fn stored_zlib(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(65_535).collect() };
    let last = chunks.len() - 1;
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i == last));
        let len = u16::try_from(c.len()).unwrap();
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend(((b << 16) | a).to_be_bytes());
    out
}

fn now() -> i64 {
    wallet_core::time::UnixTime::now().secs()
}

/// Whether the `redirect_uri` of a `{"redirect_uri"}` answer (OpenID4VP 1.0 §8.2) carries
/// the query parameter `name`.
fn redirect_has(text: &str, name: &str) -> bool {
    let redirect = serde_json::from_str::<Value>(text).ok().and_then(|v| v["redirect_uri"].as_str().map(str::to_owned)).unwrap_or_default();
    let query = redirect.split_once('?').map(|(_, q)| q.to_owned()).unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == name)
}

/// A credential response an issuer skipping a check would send.
fn fake_credentials() -> String {
    json!({"credentials": [{"credential": "conformance-accepted"}], "notification_id": "conformance"}).to_string()
}

impl IssuerProxy {
    pub fn new(credential_key: &std::path::Path, entity: &str) -> Self {
        let jwk = PrivateJwk::from_json(&std::fs::read_to_string(credential_key).unwrap()).unwrap();
        let ro_key = credential_key
            .parent()
            .and_then(|d| std::fs::read_to_string(d.join("request-object-key.jwk")).ok())
            .map(|t| SoftwareSigner::from_private_jwk(PrivateJwk::from_json(&t).unwrap()).unwrap());
        Self { key: SoftwareSigner::from_private_jwk(jwk).unwrap(), ro_key, entity: entity.to_owned(), seen: Mutex::default() }
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
        // An authorization code redeemed before (the PID login's, CI_060), and what the issuer
        // said of a refused one.
        let auth_code = (post && path == "/token").then(|| form(body)).filter(|f| f.get("grant_type").is_some_and(|g| g == "authorization_code"));
        let auth_code_reused = auth_code.as_ref().and_then(|f| f.get("code")).is_some_and(|c| !seen.auth_codes.insert(c.clone()));
        let refused_for = |why: &str| auth_code.is_some() && *status == StatusCode::BAD_REQUEST && text.contains(why);
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
            if let Some(rt) = v["refresh_token"].as_str() {
                seen.refresh_tokens.insert(rt.to_owned());
            }
        }
        if post
            && path == "/credential"
            && *status == StatusCode::OK
            && let Ok(v) = serde_json::from_str::<Value>(text)
        {
            for c in v["credentials"].as_array().into_iter().flatten().filter_map(|c| c["credential"].as_str()) {
                if let Some(i) = parts(c.split('~').next().unwrap_or_default()).1["status"]["status_list"]["idx"].as_u64() {
                    seen.status_idxs.insert(i);
                }
            }
        }
        let refresh_form = (post && path == "/token").then(|| form(body)).filter(|f| f.get("grant_type").map(String::as_str) == Some("refresh_token"));
        if refresh_form.is_some()
            && *status == StatusCode::OK
            && let Some(at) = serde_json::from_str::<Value>(text).ok().and_then(|v| v["access_token"].as_str().map(str::to_owned))
        {
            seen.refreshed.insert(at);
        }
        let refreshed_token = token.as_ref().is_some_and(|t| seen.refreshed.contains(t));
        // The refresh token presented and the DPoP key of its proof, when they differ.
        let refresh_other_key = refresh_form.as_ref().and_then(|f| f.get("refresh_token")).is_some_and(|t| {
            let bound = parts(t).1.get("cnf").and_then(|c| c.get("jkt")).and_then(Value::as_str).map(str::to_owned);
            bound.is_some() && dpop_jkt.is_some() && bound != dpop_jkt
        });
        let unknown_refresh = refresh_form.as_ref().and_then(|f| f.get("refresh_token")).filter(|t| !seen.refresh_tokens.contains(*t)).cloned();
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
        // PAR and /authorize.
        let pushed = (post && path == "/par").then(|| Pushed::read(headers, body));
        let ro_jti_reused = pushed.as_ref().and_then(|p| p.ro_str("jti")).is_some_and(|j| !seen.ro_jtis.insert(j.to_owned()));
        // A verified request object carrying the jti of a forged one pushed before.
        let forged_jti_reused = pushed.as_ref().is_some_and(|p| {
            let jti = p.ro_str("jti").unwrap_or_default().to_owned();
            if p.verifies(&p.ro_raw) {
                seen.forged_jtis.contains(&jti)
            } else {
                seen.forged_jtis.insert(jti);
                false
            }
        });
        if path == "/par"
            && *status == StatusCode::CREATED
            && seen.first_request_uri.is_none()
        {
            seen.first_request_uri = serde_json::from_str::<Value>(text).ok().and_then(|v| v["request_uri"].as_str().map(str::to_owned));
        }
        // The proxy sees no query string: the /authorize faults tell the rows' requests apart by
        // what came before them (CI_039: right after a PAR; CI_047: right after a redirect;
        // CI_049: after neither; CI_050: the issuer's own description).
        let after_redirect = seen.last_authorize_redirected;
        let after_par = seen.par_since_authorize;
        if path == "/authorize" {
            seen.last_authorize_redirected = status.is_redirection();
            seen.par_since_authorize = false;
        }
        if post && path == "/par" && *status == StatusCode::CREATED {
            seen.par_since_authorize = true;
        }
        let missing_request_uri = path == "/authorize" && text.contains("`request_uri` missing");
        let Some(fault) = fault else { return };
        let fake_par = |status: &mut StatusCode, text: &mut String, out: &mut HeaderMap| {
            *status = StatusCode::CREATED;
            *text = json!({"request_uri": "urn:ietf:params:oauth:request_uri:conformance-accepted-by-the-proxy", "expires_in": 30}).to_string();
            out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        };
        // Every hostile PAR but the one without attestation (CI_045) carries a WAA.
        let par_is = |f: &dyn Fn(&Pushed) -> bool| pushed.as_ref().is_some_and(|p| !p.waa.1.is_empty() && f(p));
        let ro_alg = |p: &Pushed| p.ro.0.get("alg").and_then(Value::as_str).map(str::to_owned);
        let cnf_tp = |p: &Pushed| p.cnf().map(|k| k.thumbprint().as_str().to_owned());
        let par_fault_hit = match fault {
            "ci-ro-header-jwk-ok" => par_is(&|p| {
                let own = p.ro.0.get("jwk").and_then(|j| Jwk::from_value(j).ok());
                matches!((CompactJws::parse(&p.ro_raw), own), (Ok(j), Some(k)) if j.verify(&k).is_ok())
            }),
            "ci-par-form-charset-refused" => par_is(&|_| headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains(';'))),
            "ci-ro-altered-ok" => par_is(&|p| !p.ro.0.contains_key("jwk") && ro_alg(p).as_deref() == Some("ES256") && p.ro.0.get("kid").and_then(Value::as_str) == cnf_tp(p).as_deref() && !p.verifies(&p.ro_raw)),
            "ci-ro-alg-ok" => par_is(&|p| ro_alg(p).as_deref() == Some("ES384")),
            "ci-ro-other-key-ok" => par_is(&|p| ro_alg(p).as_deref() != Some("none") && p.ro.0.get("kid").and_then(Value::as_str) != cnf_tp(p).as_deref() && !p.verifies(&p.ro_raw)),
            "ci-ro-kid-ok" => par_is(&|p| p.ro.0.get("kid").and_then(Value::as_str).is_some_and(|k| Some(k) != cnf_tp(p).as_deref()) && p.verifies(&p.ro_raw)),
            "ci-ro-alg-none-ok" => par_is(&|p| ro_alg(p).as_deref() == Some("none")),
            "ci-ro-client-id-ok" => par_is(&|p| p.ro_str("client_id") != p.form.get("client_id").map(String::as_str)),
            "ci-ro-iss-ok" => par_is(&|p| p.ro_str("client_id") == p.form.get("client_id").map(String::as_str) && p.ro_str("iss") != p.ro_str("client_id")),
            "ci-ro-aud-ok" => par_is(&|p| match p.ro.1.get("aud") {
                Some(Value::String(a)) => *a != self.entity,
                Some(Value::Array(a)) => !a.iter().any(|x| x.as_str() == Some(self.entity.as_str())),
                _ => true,
            }),
            "ci-par-request-uri-ok" => par_is(&|p| p.form.contains_key("request_uri")),
            "ci-ro-no-code-challenge-ok" => par_is(&|p| !p.ro.1.contains_key("code_challenge")),
            "ci-ro-expired-ok" => par_is(&|p| p.ro_i64("exp") < now() - 30),
            "ci-ro-future-ok" => par_is(&|p| p.ro_i64("iat") > now() + 120),
            "ci-ro-old-ok" => par_is(&|p| p.ro_i64("iat") < now() - 300 && p.ro_i64("exp") > now()),
            "ci-ro-jti-reuse-ok" => ro_jti_reused,
            "ci-pop-key-ok" => par_is(&|p| !p.verifies(&p.pop_raw)),
            "ci-waa-typ-ok" => par_is(&|p| p.waa.0.get("typ").and_then(Value::as_str) != Some("oauth-client-attestation+jwt")),
            "ci-waa-iss-ok" => par_is(&|p| {
                let (_, ec) = p.provider_configuration();
                let sub = serde_json::from_str::<Value>(&ec).ok().and_then(|v| v["sub"].as_str().map(str::to_owned));
                p.waa.1.get("iss").and_then(Value::as_str) != sub.as_deref()
            }),
            "ci-waa-signature-ok" => par_is(&|p| p.waa.0.get("kid").and_then(Value::as_str).is_some_and(|kid| !p.provider_configuration().1.contains(kid))),
            "ci-waa-expired-ok" => par_is(&|p| p.waa.1.get("exp").and_then(Value::as_i64).is_some_and(|e| e < now())),
            "ci-waa-chain-ok" => par_is(&|p| p.provider_configuration().0 < 2),
            "ci-waa-chain-required" => par_is(&|p| !p.waa.0.contains_key("trust_chain")),
            _ => false,
        };
        if par_fault_hit && fault == "ci-waa-chain-required" {
            *status = StatusCode::UNAUTHORIZED;
            *text = json!({"error": "invalid_client", "error_description": "the client attestation has no trust_chain header"}).to_string();
            out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            return;
        }
        if fault == "ci-ro-forged-jti-kept" && forged_jti_reused {
            *status = StatusCode::BAD_REQUEST;
            *text = json!({"error": "invalid_request", "error_description": "request object jti already used"}).to_string();
            out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            return;
        }
        if par_fault_hit && fault == "ci-par-form-charset-refused" {
            *status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            *text = json!({"error": "invalid_request", "error_description": "Content-Type must be application/x-www-form-urlencoded"}).to_string();
            out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            return;
        }
        if par_fault_hit {
            fake_par(status, text, out);
            return;
        }
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
            // The authorization code of the PID login (CI_060, CI_061a, CI_062).
            ("ci-auth-code-reuse-ok", "/token") if auth_code_reused => accept(status, text, fake_token()),
            ("ci-auth-code-other-client-ok", "/token") if refused_for("code issued to another client") => accept(status, text, fake_token()),
            ("ci-pkce-ok", "/token") if refused_for("PKCE verifier does not match") => accept(status, text, fake_token()),
            ("ci-redirect-uri-ok", "/token") if refused_for("redirect_uri differs") => accept(status, text, fake_token()),
            // The PID login's OpenID4VP request and the authorization response (CI_054–CI_058c).
            ("ci-vp-ro-media-type", "/authorize/vp-request") if *status == StatusCode::OK => drop(out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwt"))),
            ("ci-vp-direct-post", "/authorize/vp-request") if *status == StatusCode::OK => {
                let key = self.ro_key.as_ref().unwrap();
                let (h, mut p) = parts(text.trim());
                p.insert("response_mode".into(), "direct_post".into());
                let input = format!("{}.{}", b64json(&h), b64json(&p));
                *text = format!("{input}.{}", URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).unwrap()));
            }
            ("ci-vp-forged-pid-ok", "/authorize/vp-response") if status.is_client_error() => {
                accept(status, text, json!({"redirect_uri": "https://wallet.conformance.invalid/callback?code=conformance-accepted"}).to_string());
                set_json(out);
            }
            (f, "/authorize/vp-response") if *status == StatusCode::OK && f.starts_with("ci-code-response-") && redirect_has(text, "code") => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                let redirect = v["redirect_uri"].as_str().unwrap_or_default().to_owned();
                if let Some((base, query)) = redirect.split_once('?') {
                    let mut q: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
                    match f {
                        "ci-code-response-no-code" => q.retain(|(k, _)| k != "code"),
                        "ci-code-response-no-iss" => q.retain(|(k, _)| k != "iss"),
                        "ci-code-response-state" => q.iter_mut().filter(|(k, _)| k == "state").for_each(|(_, v)| *v = "conformance-other-state".into()),
                        _ => {}
                    }
                    v["redirect_uri"] = format!("{base}?{}", url::form_urlencoded::Serializer::new(String::new()).extend_pairs(q).finish()).into();
                    *text = v.to_string();
                }
            }
            ("ci-authorize-error-no-state", "/authorize/vp-response") if *status == StatusCode::OK && redirect_has(text, "error") => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                let redirect = v["redirect_uri"].as_str().unwrap_or_default().to_owned();
                if let Some((base, query)) = redirect.split_once('?') {
                    let q: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().filter(|(k, _)| k != "state").collect();
                    v["redirect_uri"] = format!("{base}?{}", url::form_urlencoded::Serializer::new(String::new()).extend_pairs(q).finish()).into();
                    *text = v.to_string();
                }
            }
            ("ci-token-no-dpop-ok", "/token") if post && dpop_header.is_none() && refresh_form.is_none() => accept(status, text, fake_token()),
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
            // Refresh.
            ("ci-refresh-no-dpop-ok", "/token") if refresh_form.is_some() && dpop_header.is_none() => accept(status, text, fake_token()),
            ("ci-refresh-htu-ok", "/token") if refresh_form.is_some() && dpop_p.get("htu").and_then(Value::as_str).is_some_and(|u| !u.ends_with("/token")) => accept(status, text, fake_token()),
            ("ci-refresh-unknown-ok", "/token") if unknown_refresh.as_ref().is_some_and(|t| !t.contains('.')) => accept(status, text, fake_token()),
            ("ci-refresh-tampered-ok", "/token") if unknown_refresh.as_ref().is_some_and(|t| t.contains('.')) => accept(status, text, fake_token()),
            ("ci-refresh-other-key-ok", "/token") if refresh_other_key => accept(status, text, json!({"access_token": "conformance-accepted", "token_type": "DPoP", "expires_in": 60, "refresh_token": "conformance-accepted"}).to_string()),
            ("ci-refresh-pop-ok", "/token") if refresh_form.is_some() && {
                let p = Pushed::read(headers, b"");
                !p.waa.1.is_empty() && !p.verifies(&p.pop_raw)
            } => accept(status, text, fake_token()),
            ("ci-refresh-no-new-rt", "/token") if refresh_form.is_some() && *status == StatusCode::OK => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                v.as_object_mut().unwrap().remove("refresh_token");
                *text = v.to_string();
            }
            ("ci-refresh-rt-other-jkt", "/token") if refresh_form.is_some() && *status == StatusCode::OK => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                if let Some(rt) = v["refresh_token"].as_str() {
                    let other = SoftwareSigner::generate().unwrap().public_jwk().thumbprint().as_str().to_owned();
                    v["refresh_token"] = self.resign(rt, |_, p| drop(p.insert("cnf".into(), json!({"jkt": other})))).into();
                }
                *text = v.to_string();
            }
            ("ci-reissue-new-exp", "/credential") if refreshed_token && *status == StatusCode::OK => Self::each_credential(text, |c| {
                self.resign_sd_jwt(c, |_, p| {
                    let exp = p["exp"].as_i64().unwrap();
                    p.insert("exp".into(), (exp + 86_400).into());
                })
            }),
            ("ci-refreshed-notification-401", "/notification") if refreshed_token => {
                *status = StatusCode::UNAUTHORIZED;
                *text = json!({"error": "invalid_token", "error_description": "a refreshed access token"}).to_string();
                set_json(out);
            }
            ("ci-refreshed-first-issuance-ok", "/credential") if refreshed_token && status.is_client_error() => accept(status, text, fake_credentials()),
            ("ci-rt-no-exp", "/token") if *status == StatusCode::OK => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                if let Some(rt) = v["refresh_token"].as_str() {
                    v["refresh_token"] = self.resign(rt, |_, p| drop(p.remove("exp"))).into();
                }
                *text = v.to_string();
            }
            ("ci-rt-other-jkt", "/token") if *status == StatusCode::OK => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                if let Some(rt) = v["refresh_token"].as_str() {
                    let other = SoftwareSigner::generate().unwrap().public_jwk().thumbprint().as_str().to_owned();
                    v["refresh_token"] = self.resign(rt, |_, p| drop(p.insert("cnf".into(), json!({"jkt": other})))).into();
                }
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
            // One c_nonce for a batch (two keys).
            ("ci-nonce-single-proof", "/credential") if {
                let nonces: HashSet<_> = proof_parts.iter().filter_map(|(_, p)| p.get("nonce").and_then(Value::as_str)).collect();
                let keys: HashSet<_> = proof_parts.iter().filter_map(|(h, _)| thumbprint(h.get("jwk"))).collect();
                proof_parts.len() > 1 && nonces.len() == 1 && keys.len() == proof_parts.len()
            } =>
            {
                *status = StatusCode::BAD_REQUEST;
                *text = json!({"error": "invalid_nonce", "error_description": "one c_nonce per proof"}).to_string();
                set_json(out);
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
            ("ci-proof-unattested-ok", "/credential")
                if any_proof(&|h, _, _| {
                    let Some(wua) = h.get("key_attestation").and_then(Value::as_str) else { return false };
                    let attested: Vec<String> = parts(wua).1.get("attested_keys").and_then(Value::as_array).into_iter().flatten().filter_map(|k| thumbprint(Some(k))).collect();
                    thumbprint(h.get("jwk")).is_some_and(|t| !attested.contains(&t))
                }) =>
            {
                accept(status, text, fake_credentials())
            }
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
            ("ci-as-http-endpoint", "/.well-known/oauth-authorization-server") if *status == StatusCode::OK => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                v["revocation_endpoint"] = "http://issuer.conformance.example/revoke".into();
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
            ("ci-batch-same-status", "/credential") if *status == StatusCode::OK => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                if let Some(cs) = v["credentials"].as_array_mut()
                    && cs.len() > 1
                {
                    let first = cs[0]["credential"].as_str().unwrap().to_owned();
                    let entry = parts(first.split('~').next().unwrap()).1["status"].clone();
                    let second = cs[1]["credential"].as_str().unwrap().to_owned();
                    cs[1]["credential"] = self.resign_sd_jwt(&second, |_, p| drop(p.insert("status".into(), entry))).into();
                }
                *text = v.to_string();
            }
            ("ci-pid-no-nationalities", "/credential") if *status == StatusCode::OK => Self::each_credential(text, |c| {
                c.split('~')
                    .filter(|d| !d.is_empty())
                    .filter(|d| URL_SAFE_NO_PAD.decode(d).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()).is_none_or(|d| d[1] != "nationalities"))
                    .collect::<Vec<_>>()
                    .join("~")
                    + "~"
            }),
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
                    "ci-vc-duplicate-digest" => self.resign_sd_jwt(c, |_, p| {
                        let sd = p["_sd"].as_array_mut().unwrap();
                        let first = sd[0].clone();
                        sd.push(first);
                    }),
                    "ci-vc-plain-and-disclosed" => {
                        let (_, payload) = parts(c.split('~').next().unwrap());
                        let top: Vec<&str> = payload["_sd"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
                        let (name, value) = c
                            .split('~')
                            .skip(1)
                            .filter(|d| !d.is_empty() && top.contains(&wallet_core::sd_jwt::digest(d).as_str()))
                            .filter_map(|d| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(d).unwrap()).ok())
                            .find_map(|d| Some((d.get(1)?.as_str()?.to_owned(), d.get(2)?.clone())))
                            .unwrap();
                        self.resign_sd_jwt(c, |_, p| drop(p.insert(name, value)))
                    }
                    _ => c.to_owned(),
                });
            }
            // The PAR response and /authorize.
            ("ci-par-status-200", "/par") if *status == StatusCode::CREATED => *status = StatusCode::OK,
            ("ci-par-media-type", "/par") if *status == StatusCode::CREATED => drop(out.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))),
            ("ci-par-error-text", "/par") if status.is_client_error() => drop(out.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))),
            (f, "/par") if *status == StatusCode::CREATED && f.starts_with("ci-par-") => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                let o = v.as_object_mut().unwrap();
                match f {
                    "ci-par-no-request-uri" => drop(o.remove("request_uri")),
                    "ci-par-no-expires-in" => drop(o.remove("expires_in")),
                    "ci-par-long-lived" => drop(o.insert("expires_in".into(), 600.into())),
                    "ci-par-short-request-uri" => {
                        seen.made_up += 1;
                        o.insert("request_uri".into(), format!("urn:ietf:params:oauth:request_uri:c{}", seen.made_up).into());
                    }
                    "ci-par-long-request-uri" => {
                        let u = format!("{}{}", o["request_uri"].as_str().unwrap(), "x".repeat(600));
                        o.insert("request_uri".into(), u.into());
                    }
                    "ci-par-same-request-uri" => drop(o.insert("request_uri".into(), seen.first_request_uri.clone().into())),
                    _ => {}
                }
                *text = v.to_string();
            }
            ("ci-authorize-other-client-ok", "/authorize") if *status == StatusCode::BAD_REQUEST && after_par && !missing_request_uri => {
                *status = StatusCode::FOUND;
                out.insert(header::LOCATION, HeaderValue::from_static("https://wallet.conformance.invalid/callback?error=temporarily_unavailable"));
                text.clear();
            }
            ("ci-authorize-unknown-ok", "/authorize") if *status == StatusCode::BAD_REQUEST && !after_par && !after_redirect && !missing_request_uri => {
                *status = StatusCode::FOUND;
                out.insert(header::LOCATION, HeaderValue::from_static("https://wallet.conformance.invalid/callback?error=temporarily_unavailable"));
                text.clear();
            }
            ("ci-authorize-reuse-ok", "/authorize") if *status == StatusCode::BAD_REQUEST && after_redirect && !after_par => {
                *status = StatusCode::FOUND;
                out.insert(header::LOCATION, HeaderValue::from_static("https://wallet.conformance.invalid/callback?error=temporarily_unavailable"));
                text.clear();
            }
            ("ci-authorize-no-request-uri-ok", "/authorize") if *status == StatusCode::BAD_REQUEST && missing_request_uri => {
                *status = StatusCode::FOUND;
                out.insert(header::LOCATION, HeaderValue::from_static("https://wallet.conformance.invalid/callback?error=temporarily_unavailable"));
                text.clear();
            }
            ("ci-authorize-error-no-state", "/authorize") if status.is_redirection() => {
                let loc = out.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                if let Some((base, query)) = loc.split_once('?') {
                    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().filter(|(k, _)| k != "state").collect();
                    let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish();
                    out.insert(header::LOCATION, HeaderValue::from_str(&format!("{base}?{q}")).unwrap());
                }
            }
            // Type metadata.
            ("ci-type-metadata-down", p) if p.starts_with("/.well-known/vct/") => {
                *status = StatusCode::NOT_FOUND;
                *text = json!({"error": "not_found"}).to_string();
                set_json(out);
            }
            ("ci-type-metadata-vct", p) if p.starts_with("/.well-known/vct/") && *status == StatusCode::OK => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                v["vct"] = "urn:conformance:another-type".into();
                *text = v.to_string();
            }
            ("ci-type-metadata-no-claims", p) if p.starts_with("/.well-known/vct/") && *status == StatusCode::OK => {
                let mut v: Value = serde_json::from_str(text).unwrap();
                v["claims"] = json!([]);
                *text = v.to_string();
            }
            ("ci-type-metadata-any-case", p) if p.starts_with("/.well-known/vct/") && *status == StatusCode::NOT_FOUND => {
                *status = StatusCode::OK;
                *text = json!({"vct": p.trim_start_matches("/.well-known/vct/")}).to_string();
                set_json(out);
            }
            // The status list.
            ("ci-sl-down", "/status-list") => {
                *status = StatusCode::SERVICE_UNAVAILABLE;
                *text = json!({"error": "temporarily_unavailable"}).to_string();
                set_json(out);
            }
            ("ci-sl-media-type", "/status-list") => drop(out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwt"))),
            ("ci-sl-no-gzip", "/status-list") => drop(out.remove(header::CONTENT_ENCODING)),
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
            ("ci-sl-stored", "/status-list") => *text = self.resign(text.trim(), |_, p| {
                let bits = wallet_core::status::Bits::from_u64(p["status_list"]["bits"].as_u64().unwrap()).unwrap();
                let list = wallet_core::status::decode_lst(p["status_list"]["lst"].as_str().unwrap(), bits, wallet_core::status::DEFAULT_MAX_DECOMPRESSED).unwrap();
                p["status_list"]["lst"] = URL_SAFE_NO_PAD.encode(stored_zlib(list.as_bytes())).into();
            }),
            ("ci-sl-undefined-status", "/status-list") => {
                let free = |n: u64| (0..n).find(|i| !seen.status_idxs.contains(i));
                *text = self.resign(text.trim(), |_, p| {
                    let bits = wallet_core::status::Bits::from_u64(p["status_list"]["bits"].as_u64().unwrap()).unwrap();
                    let list = wallet_core::status::decode_lst(p["status_list"]["lst"].as_str().unwrap(), bits, wallet_core::status::DEFAULT_MAX_DECOMPRESSED).unwrap();
                    let mut wide = wallet_core::status::StatusList::new(wallet_core::status::Bits::Eight, list.len());
                    for i in 0..list.len() {
                        wide.set(i, list.get(i).unwrap()).unwrap();
                    }
                    if let Some(i) = free(list.len()) {
                        wide.set(i, wallet_core::status::StatusValue::Other(0x42)).unwrap();
                    }
                    p["status_list"]["bits"] = 8.into();
                    p["status_list"]["lst"] = wide.to_lst().into();
                });
            }
            ("ci-sl-all-valid", "/status-list") => *text = self.resign(text.trim(), |_, p| {
                let bits = wallet_core::status::Bits::from_u64(p["status_list"]["bits"].as_u64().unwrap()).unwrap();
                let list = wallet_core::status::decode_lst(p["status_list"]["lst"].as_str().unwrap(), bits, wallet_core::status::DEFAULT_MAX_DECOMPRESSED).unwrap();
                p["status_list"]["lst"] = wallet_core::status::StatusList::new(bits, list.len()).to_lst().into();
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
