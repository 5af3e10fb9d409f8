//! The issuer plan's protocol rows: the tool as an honest wallet (the offer, the token
//! response, `c_nonce`s, batch issuance, deferred issuance, notifications) and as a hostile one
//! (one bad input per test, the spec's error code expected: OpenID4VCI 1.0 §6.3, §8.3.1.2,
//! App. F.4; RFC 9449 §4.3, §7.1; RFC 6750 §3; IT-Wallet 1.4 §3.3 "Issuer checks").

use serde_json::{Value, json};
use wallet_core::jose::Signer as _;

use super::wallet::{self, Session, proof, proof_parts, raw_jwt};
use crate::case::{Ctx, Step, ensure, fail, skip};
use crate::client::Response;

/// Fails unless `r` is `status` with JSON `error` = `code`.
pub fn expect_error(r: &Response, status: u16, code: &str) -> Step<()> {
    let got = r.json().ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    ensure(r.status == status && got.as_deref() == Some(code), || format!("expected {status} {code}, got {} {:?} ({})", r.status, got, short(&r.text())))
}

/// Fails unless `r` is a 401 (RFC 6750 §3, RFC 9449 §7.1).
fn expect_unauthorized(r: &Response, what: &str) -> Step<()> {
    ensure(r.status == 401, || format!("{what}: expected 401, got {} {}", r.status, short(&r.text())))
}

/// A credential request with one proof built from honest parts after `edit`, signed by
/// `signer` (the proof key unless the edit says otherwise): the response.
fn one_bad_proof(ctx: &mut Ctx<'_>, edit: impl FnOnce(&mut serde_json::Map<String, Value>, &mut serde_json::Map<String, Value>)) -> Step<Response> {
    let s = Session::start(ctx)?;
    let key = wallet::new_key()?;
    let w = wallet::wua(ctx, &[&key])?;
    let nonce = s.nonce(ctx)?;
    let (mut h, mut p) = proof_parts(&key, &w, &s.issuer(ctx), &nonce);
    edit(&mut h, &mut p);
    let jwt = raw_jwt(&h, &p, &key)?;
    ctx.record_jwt("the key proof sent", &jwt);
    let body = s.request(vec![jwt]);
    s.credential(ctx, &body)
}

// --- The offer (OpenID4VCI 1.0 §4.1) ---

/// CI_010: one query parameter, `credential_offer` (or `credential_offer_uri`), nothing else.
pub fn ci_010(ctx: &mut Ctx<'_>) -> Step<()> {
    let citizen = wallet::setup(ctx)?.citizen.clone();
    let o = wallet::offer(ctx, &citizen, &[])?;
    let Some((scheme, rest)) = o.url.split_once("://") else { return fail("the offer URL has no scheme") };
    ensure(["openid-credential-offer", "haip", "https"].contains(&scheme), || format!("scheme `{scheme}` is not an offer scheme"))?;
    let query = rest.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let names: Vec<String> = url::form_urlencoded::parse(query.as_bytes()).map(|(k, _)| k.into_owned()).collect();
    ensure(names == ["credential_offer"] || names == ["credential_offer_uri"], || format!("the offer URL's parameters are {names:?}, not credential_offer alone"))
}

/// CI_012: `credential_issuer` (the issuer), `credential_configuration_ids` (known to the
/// metadata), `grants`.
pub fn ci_012(ctx: &mut Ctx<'_>) -> Step<()> {
    let citizen = wallet::setup(ctx)?.citizen.clone();
    let ep = wallet::endpoints(ctx)?;
    let o = wallet::offer(ctx, &citizen, &[])?;
    let me = ctx.target.entity_id.to_string();
    ensure(o.offer.credential_issuer.trim_end_matches('/') == me.trim_end_matches('/'), || format!("credential_issuer {} is not the issuer {me}", o.offer.credential_issuer))?;
    ensure(!o.offer.credential_configuration_ids.is_empty(), || "credential_configuration_ids is empty".into())?;
    let known = ep.metadata.get("credential_configurations_supported").and_then(Value::as_object);
    for id in &o.offer.credential_configuration_ids {
        ensure(known.is_some_and(|k| k.contains_key(id)), || format!("the offered configuration {id} is not in credential_configurations_supported"))?;
    }
    ensure(o.offer.grants.pre_authorized_code.is_some() || o.offer.grants.authorization_code.is_some(), || "the offer has no grants".into())
}

/// CI_013: the grant's members: a pre-authorized code, its `tx_code` description matching the
/// code sent out of band; an `authorization_server`, when present, one the metadata lists.
pub fn ci_013(ctx: &mut Ctx<'_>) -> Step<()> {
    let citizen = wallet::setup(ctx)?.citizen.clone();
    let ep = wallet::endpoints(ctx)?;
    let o = wallet::offer(ctx, &citizen, &[])?;
    let servers: Vec<&str> = ep.metadata.get("authorization_servers").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let listed = |s: &Option<String>| s.as_deref().is_none_or(|s| servers.is_empty() && s == ctx.target.entity_id.as_str() || servers.contains(&s));
    if let Some(g) = &o.offer.grants.authorization_code {
        ensure(listed(&g.authorization_server), || format!("authorization_server {:?} is not in the metadata's authorization_servers", g.authorization_server))?;
    }
    let Some(g) = &o.offer.grants.pre_authorized_code else { return skip("the offer has no pre-authorized_code grant") };
    ensure(!g.pre_authorized_code.is_empty(), || "pre-authorized_code is empty".into())?;
    ensure(listed(&g.authorization_server), || format!("authorization_server {:?} is not in the metadata's authorization_servers", g.authorization_server))?;
    let raw = serde_json::to_value(g).unwrap_or(Value::Null);
    if let (Some(tx), Some(code)) = (raw.get("tx_code"), &o.tx_code) {
        if let Some(len) = tx.get("length").and_then(Value::as_u64) {
            ensure(usize::try_from(len).is_ok_and(|l| l == code.chars().count()), || format!("tx_code.length {len} but the code sent has {} characters", code.chars().count()))?;
        }
        if tx.get("input_mode").and_then(Value::as_str).is_none_or(|m| m == "numeric") {
            ensure(code.chars().all(|c| c.is_ascii_digit()), || "tx_code input_mode numeric but the code is not digits".into())?;
        }
    }
    Ok(())
}

// --- The token endpoint (RFC 6749 §5, RFC 9449) ---

/// CI_061: a pre-authorized code redeemed twice: the second time `invalid_grant`.
pub fn ci_061(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let key = wallet::new_key()?;
    let d = wallet::dpop(&key, &s.ep.token, None)?;
    let r = wallet::token_request(ctx, &s.ep, &s.offer.code()?, s.offer.tx_code.as_deref(), Some(&d))?;
    expect_error(&r, 400, "invalid_grant")
}

/// CI_063: a token request without a DPoP proof: `invalid_dpop_proof`.
pub fn ci_063(ctx: &mut Ctx<'_>) -> Step<()> {
    let citizen = wallet::setup(ctx)?.citizen.clone();
    let ep = wallet::endpoints(ctx)?;
    let o = wallet::offer(ctx, &citizen, &[])?;
    let r = wallet::token_request(ctx, &ep, &o.code()?, o.tx_code.as_deref(), None)?;
    expect_error(&r, 400, "invalid_dpop_proof")
}

/// CI_064: the honest token response: 200 JSON, `access_token`, `token_type` DPoP,
/// `expires_in`, not cached.
pub fn ci_064(ctx: &mut Ctx<'_>) -> Step<()> {
    let citizen = wallet::setup(ctx)?.citizen.clone();
    let ep = wallet::endpoints(ctx)?;
    let o = wallet::offer(ctx, &citizen, &[])?;
    let key = wallet::new_key()?;
    let d = wallet::dpop(&key, &ep.token, None)?;
    let r = wallet::token_request(ctx, &ep, &o.code()?, o.tx_code.as_deref(), Some(&d))?;
    ensure(r.status == 200, || format!("the token endpoint answered {} {}", r.status, short(&r.text())))?;
    ensure(r.media_type().as_deref() == Some("application/json"), || format!("Content-Type {:?}", r.media_type()))?;
    ensure(r.header("cache-control").is_some_and(|c| c.contains("no-store")), || "the token response has no Cache-Control: no-store".into())?;
    let v = r.json().or_else(|e| fail(format!("not JSON: {e}")))?;
    ensure(v.get("access_token").and_then(Value::as_str).is_some_and(|t| !t.is_empty()), || "no access_token".into())?;
    ensure(v.get("token_type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("DPoP")), || format!("token_type {:?} is not DPoP", v.get("token_type")))?;
    ensure(v.get("expires_in").and_then(Value::as_u64).is_some_and(|e| e > 0), || "no positive expires_in".into())
}

/// CI_065: when the authorization server offers the `refresh_token` grant, the token
/// response carries a refresh token (a JWT, IT-Wallet 1.4 §3.3 `rt+jwt`).
pub fn ci_065(ctx: &mut Ctx<'_>) -> Step<()> {
    let citizen = wallet::setup(ctx)?.citizen.clone();
    let ep = wallet::endpoints(ctx)?;
    let asm = ctx.get(&ctx.target.url("/.well-known/oauth-authorization-server"), &[("accept", "application/json")])?.json().unwrap_or(Value::Null);
    let offered = asm.get("grant_types_supported").and_then(Value::as_array).is_some_and(|g| g.iter().any(|x| x == "refresh_token"));
    if !offered {
        return skip("the authorization server does not offer the refresh_token grant");
    }
    let o = wallet::offer(ctx, &citizen, &[])?;
    let key = wallet::new_key()?;
    let d = wallet::dpop(&key, &ep.token, None)?;
    let r = wallet::token_request(ctx, &ep, &o.code()?, o.tx_code.as_deref(), Some(&d))?;
    ensure(r.status == 200, || format!("the token endpoint answered {} {}", r.status, short(&r.text())))?;
    let v = r.json().or_else(|e| fail(format!("not JSON: {e}")))?;
    let Some(rt) = v.get("refresh_token").and_then(Value::as_str) else { return fail("refresh_token is in grant_types_supported but the token response has none") };
    ctx.record_jwt("refresh token", rt);
    crate::plans::jwt::Jwt::decode("the refresh token", rt).map(|_| ())
}

/// CI_066: the access token is bound to the DPoP key: presented with a proof by another key,
/// refused (401).
pub fn ci_066(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let (_, body) = s.honest_request(ctx, 1)?;
    let other = wallet::new_key()?;
    let d = wallet::dpop(&other, &s.ep.credential, Some(&s.access_token))?;
    let url = s.ep.credential.clone();
    let r = s.protected(ctx, &url, &body, None, Some(&d))?;
    expect_unauthorized(&r, "an access token with another key's DPoP proof")
}

/// CI_067: an unknown `grant_type`: 400 `unsupported_grant_type`.
pub fn ci_067(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = wallet::endpoints(ctx)?;
    let key = wallet::new_key()?;
    let d = wallet::dpop(&key, &ep.token, None)?;
    let form = "grant_type=urn%3Aexample%3Aconformance-unknown-grant&code=x";
    let r = ctx.send("POST", &ep.token, &[("content-type", "application/x-www-form-urlencoded"), ("dpop", &d)], Some(form.as_bytes()))?;
    expect_error(&r, 400, "unsupported_grant_type")
}

// --- The nonce endpoint (OpenID4VCI 1.0 §7) ---

/// CI_068: `POST nonce_endpoint`: 200 JSON with `c_nonce`, not cached.
pub fn ci_068(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = wallet::endpoints(ctx)?;
    let r = ctx.send("POST", &ep.nonce, &[], None)?;
    ensure(r.status == 200, || format!("the nonce endpoint answered {}", r.status))?;
    ensure(r.header("cache-control").is_some_and(|c| c.contains("no-store")), || "the nonce response has no Cache-Control: no-store".into())?;
    let v = r.json().or_else(|e| fail(format!("not JSON: {e}")))?;
    ensure(v.get("c_nonce").and_then(Value::as_str).is_some_and(|n| !n.is_empty()), || "no c_nonce string".into())
}

/// CI_069: `c_nonce`s are unpredictable: at least 128 bits of base64url (22 characters),
/// different each time.
pub fn ci_069(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = wallet::endpoints(ctx)?;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let r = ctx.send("POST", &ep.nonce, &[], None)?;
        let n = r.json().ok().and_then(|v| v.get("c_nonce").and_then(Value::as_str).map(str::to_owned));
        let Some(n) = n else { return fail("no c_nonce") };
        ensure(n.len() >= 22, || format!("c_nonce `{n}` is shorter than 128 bits of base64url"))?;
        ensure(seen.insert(n.clone()), || format!("c_nonce `{n}` was given twice"))?;
    }
    Ok(())
}

// --- The credential endpoint: key proofs (OpenID4VCI 1.0 App. F.4) ---

/// CI_071: a proof without `aud`: `invalid_proof`.
pub fn ci_071(ctx: &mut Ctx<'_>) -> Step<()> {
    let r = one_bad_proof(ctx, |_, p| drop(p.remove("aud")))?;
    expect_error(&r, 400, "invalid_proof")
}

/// CI_072: a batch whose two proofs carry the same key: `invalid_proof`.
pub fn ci_072(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let key = wallet::new_key()?;
    let w = wallet::wua(ctx, &[&key])?;
    let nonce = s.nonce(ctx)?;
    let issuer = s.issuer(ctx);
    let proofs = vec![proof(&key, &w, &issuer, &nonce)?, proof(&key, &w, &issuer, &nonce)?];
    let r = s.credential(ctx, &s.request(proofs))?;
    expect_error(&r, 400, "invalid_proof")
}

/// CI_073: a proof with `typ` JWT: `invalid_proof`.
pub fn ci_073(ctx: &mut Ctx<'_>) -> Step<()> {
    let r = one_bad_proof(ctx, |h, _| drop(h.insert("typ".into(), "JWT".into())))?;
    expect_error(&r, 400, "invalid_proof")
}

/// CI_074: an unsigned proof (`alg` none): `invalid_proof`.
pub fn ci_074(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let key = wallet::new_key()?;
    let w = wallet::wua(ctx, &[&key])?;
    let nonce = s.nonce(ctx)?;
    let (mut h, p) = proof_parts(&key, &w, &s.issuer(ctx), &nonce);
    h.insert("alg".into(), "none".into());
    let b = |m: &serde_json::Map<String, Value>| wallet_core::jose::b64::encode(Value::Object(m.clone()).to_string());
    let jwt = format!("{}.{}.", b(&h), b(&p));
    let r = s.credential(ctx, &s.request(vec![jwt]))?;
    expect_error(&r, 400, "invalid_proof")
}

/// CI_075: a proof signed by another key than its `jwk`: `invalid_proof`.
pub fn ci_075(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let key = wallet::new_key()?;
    let other = wallet::new_key()?;
    let w = wallet::wua(ctx, &[&key])?;
    let nonce = s.nonce(ctx)?;
    let (h, p) = proof_parts(&key, &w, &s.issuer(ctx), &nonce);
    let jwt = raw_jwt(&h, &p, &other)?;
    let r = s.credential(ctx, &s.request(vec![jwt]))?;
    expect_error(&r, 400, "invalid_proof")
}

/// CI_076: a proof whose `jwk` carries the private key (`d`): `invalid_proof`.
pub fn ci_076(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let key = wallet::new_key()?;
    let w = wallet::wua(ctx, &[&key])?;
    let nonce = s.nonce(ctx)?;
    let (mut h, p) = proof_parts(&key, &w, &s.issuer(ctx), &nonce);
    let private: Value = serde_json::from_str(&key.private_jwk().to_json()).unwrap_or(Value::Null);
    h.insert("jwk".into(), private);
    let jwt = raw_jwt(&h, &p, &key)?;
    let r = s.credential(ctx, &s.request(vec![jwt]))?;
    expect_error(&r, 400, "invalid_proof")
}

/// CI_077: a proof whose `nonce` the issuer never gave: `invalid_nonce`.
pub fn ci_077(ctx: &mut Ctx<'_>) -> Step<()> {
    let forged = format!("conformance-{}", wallet_core::jose::b64::encode(wallet::new_key()?.public_jwk().thumbprint().as_str()));
    let r = one_bad_proof(ctx, |_, p| drop(p.insert("nonce".into(), forged.into())))?;
    expect_error(&r, 400, "invalid_nonce")
}

/// CI_078: a proof issued an hour ago: `invalid_proof`.
pub fn ci_078(ctx: &mut Ctx<'_>) -> Step<()> {
    let r = one_bad_proof(ctx, |_, p| drop(p.insert("iat".into(), (wallet_core::time::UnixTime::now().secs() - 3_600).into())))?;
    expect_error(&r, 400, "invalid_proof")
}

/// CI_083: a proof without the WUA the configuration requires (`key_attestations_required`):
/// `invalid_proof`.
pub fn ci_083(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = wallet::endpoints(ctx)?;
    let required = ep.metadata.get("credential_configurations_supported").and_then(Value::as_object).is_some_and(|c| {
        c.values().all(|v| v.get("proof_types_supported").and_then(|p| p.get("jwt")).and_then(|j| j.get("key_attestations_required")).is_some())
    });
    if !required {
        return skip("the issuer does not require key attestations (no key_attestations_required)");
    }
    let r = one_bad_proof(ctx, |h, _| drop(h.remove("key_attestation")))?;
    expect_error(&r, 400, "invalid_proof")
}

// --- Access to the credential, deferred and notification endpoints (RFC 6750, RFC 9449) ---

/// CI_082: a DPoP proof whose `ath` is another token's hash: refused (401).
pub fn ci_082(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let (_, body) = s.honest_request(ctx, 1)?;
    let d = wallet::dpop(&s.dpop_key, &s.ep.credential, Some("another-access-token"))?;
    let url = s.ep.credential.clone();
    let r = s.protected(ctx, &url, &body, None, Some(&d))?;
    expect_unauthorized(&r, "a DPoP proof for another access token")
}

/// CI_085: a credential request with an access token the issuer never issued: 401.
pub fn ci_085(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let (_, body) = s.honest_request(ctx, 1)?;
    let forged = format!("{}x", s.access_token);
    let url = s.ep.credential.clone();
    let d = wallet::dpop(&s.dpop_key, &url, Some(&forged))?;
    let r = s.protected(ctx, &url, &body, Some(&forged), Some(&d))?;
    expect_unauthorized(&r, "a forged access token")
}

/// CI_089c: the credential endpoint: with the access token, the credential; without, 401.
pub fn ci_089c(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let (_, body) = s.honest_request(ctx, 1)?;
    let text = body.to_string();
    let r = ctx.send("POST", &s.ep.credential, &[("content-type", "application/json")], Some(text.as_bytes()))?;
    expect_unauthorized(&r, "a credential request without an access token")?;
    let _ = s.issue(ctx, 1)?;
    Ok(())
}

/// CI_088a: the deferred endpoint admits the access token (an unknown `transaction_id` is
/// `invalid_transaction_id`, not an authorization failure) and refuses a request without (401).
pub fn ci_088a(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let Some(url) = s.ep.deferred.clone() else { return skip("the issuer publishes no deferred_credential_endpoint") };
    let body = json!({"transaction_id": "conformance-unknown-transaction"});
    let text = body.to_string();
    let r = ctx.send("POST", &url, &[("content-type", "application/json")], Some(text.as_bytes()))?;
    expect_unauthorized(&r, "a deferred request without an access token")?;
    let r = s.protected(ctx, &url, &body, None, None)?;
    expect_error(&r, 400, "invalid_transaction_id")
}

/// CI_088b: the notification endpoint admits the access token (204 for a credential issued
/// with it) and refuses a request without (401).
pub fn ci_088b(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let Some(url) = s.ep.notification.clone() else { return skip("the issuer publishes no notification_endpoint") };
    let (_, v) = s.issue(ctx, 1)?;
    let Some(id) = v.get("notification_id").and_then(Value::as_str).map(str::to_owned) else { return fail("the credential response has no notification_id") };
    let body = json!({"notification_id": id, "event": "credential_accepted"});
    let text = body.to_string();
    let r = ctx.send("POST", &url, &[("content-type", "application/json")], Some(text.as_bytes()))?;
    expect_unauthorized(&r, "a notification without an access token")?;
    let r = s.protected(ctx, &url, &body, None, None)?;
    ensure(r.status == 204, || format!("an honest notification answered {} {}", r.status, short(&r.text())))
}

/// CI_087: a notification with an unknown `notification_id`: 400 `invalid_notification_id`.
pub fn ci_087(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let Some(url) = s.ep.notification.clone() else { return skip("the issuer publishes no notification_endpoint") };
    let body = json!({"notification_id": "conformance-unknown-notification", "event": "credential_accepted"});
    let r = s.protected(ctx, &url, &body, None, None)?;
    expect_error(&r, 400, "invalid_notification_id")
}

// --- Issuance ---

/// CI_014: the credential response: 200 `application/json`, `credentials` an array of
/// objects each with a `credential` (OpenID4VCI 1.0 §8.3).
pub fn ci_014(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let (_, body) = s.honest_request(ctx, 1)?;
    let r = s.credential(ctx, &body)?;
    ensure(r.status == 200, || format!("the credential endpoint answered {} {}", r.status, short(&r.text())))?;
    ensure(r.media_type().as_deref() == Some("application/json"), || format!("Content-Type {:?} is not application/json", r.media_type()))?;
    let v = r.json().or_else(|e| fail(format!("not JSON: {e}")))?;
    let Some(cs) = v.get("credentials").and_then(Value::as_array) else { return fail("no credentials array") };
    ensure(!cs.is_empty() && cs.iter().all(|c| c.get("credential").and_then(Value::as_str).is_some_and(|x| !x.is_empty())), || "credentials is not an array of objects with a credential".into())
}

/// CI_086: a batch of two proofs: two credentials, one `notification_id` for both.
pub fn ci_086(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let (_, v) = s.issue(ctx, 2)?;
    let n = v.get("credentials").and_then(Value::as_array).map_or(0, Vec::len);
    ensure(n == 2, || format!("{n} credentials for two proofs"))?;
    ensure(v.get("notification_id").and_then(Value::as_str).is_some_and(|i| !i.is_empty()), || "no notification_id for the batch".into())
}

/// CI_081: a credential not ready: 202 with `transaction_id` and `interval`; the deferred
/// endpoint, asked too early, answers 202 again (or the credential). The configurations offered
/// to the deferred citizen are requested in turn until one is deferred.
pub fn ci_081(ctx: &mut Ctx<'_>) -> Step<()> {
    let Some(citizen) = wallet::setup(ctx)?.deferred_citizen.clone() else { return skip("needs --issuer-deferred-citizen (a citizen whose credential is not ready)") };
    let offered = wallet::offer(ctx, &citizen, &[])?.offer.credential_configuration_ids;
    for configuration in &offered {
        let s = Session::start_for(ctx, &citizen, &[configuration.as_str()])?;
        let (_, body) = s.honest_request(ctx, 1)?;
        let r = s.credential(ctx, &body)?;
        if r.status == 200 {
            continue;
        }
        ensure(r.status == 202, || format!("a credential not ready answered {} {}", r.status, short(&r.text())))?;
        let Some(url) = s.ep.deferred.clone() else { return fail("the issuer publishes no deferred_credential_endpoint") };
        let v = r.json().or_else(|e| fail(format!("not JSON: {e}")))?;
        let Some(tx) = v.get("transaction_id").and_then(Value::as_str).map(str::to_owned) else { return fail("the 202 has no transaction_id") };
        ensure(v.get("interval").and_then(Value::as_u64).is_some(), || "the 202 has no interval".into())?;
        let r = s.protected(ctx, &url, &json!({"transaction_id": tx}), None, None)?;
        return ensure(r.status == 202 || r.status == 200, || format!("the deferred endpoint answered {} {}", r.status, short(&r.text())));
    }
    fail(format!("every configuration offered to {citizen} ({}) was issued at once: none deferred", offered.join(", ")))
}

/// At most 300 characters of `text`.
pub fn short(text: &str) -> String {
    let mut t: String = text.chars().take(300).collect();
    if t.len() < text.len() {
        t.push('…');
    }
    t
}

/// CI_070: a `c_nonce` serves several proofs until a new one is asked for: a batch of two
/// proofs (two keys) with one `c_nonce` is issued.
pub fn ci_070(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let (_, body) = s.honest_request(ctx, 2)?;
    let nonces: std::collections::BTreeSet<String> = body
        .get("proofs")
        .and_then(|p| p.get("jwt"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|p| super::par::jws_parts(p).1.get("nonce").and_then(Value::as_str).map(str::to_owned))
        .collect();
    ensure(nonces.len() == 1, || "the proofs were not built on one c_nonce".into())?;
    let r = s.credential(ctx, &body)?;
    ensure(r.status == 200, || format!("two proofs on one c_nonce answered {} {}", r.status, short(&r.text())))?;
    let n = r.json().ok().and_then(|v| v.get("credentials").and_then(Value::as_array).map(Vec::len)).unwrap_or(0);
    ensure(n == 2, || format!("{n} credentials for two proofs on one c_nonce"))
}

/// CI_033: the issuer issues only to keys of the attested wallet instance: a proof by a key
/// the WUA does not attest is `invalid_proof`.
pub fn ci_033(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let attested = wallet::new_key()?;
    let key = wallet::new_key()?;
    let w = wallet::wua(ctx, &[&attested])?;
    let nonce = s.nonce(ctx)?;
    let jwt = proof(&key, &w, &s.issuer(ctx), &nonce)?;
    ctx.record_jwt("the key proof sent", &jwt);
    let r = s.credential(ctx, &s.request(vec![jwt]))?;
    expect_error(&r, 400, "invalid_proof")
}

/// CI_098: tokens travel over TLS only: every endpoint and URI the issuer and its
/// authorization server publish (`*_endpoint`, `*_uri`, `credential_issuer`, `issuer`) is
/// `https`. An `http` URL passes only on a loopback host (a test deployment on this machine,
/// where nothing crosses a network).
pub fn ci_098(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = wallet::endpoints(ctx)?;
    let asm = ctx.get(&ctx.target.url("/.well-known/oauth-authorization-server"), &[("accept", "application/json")])?.json().unwrap_or(Value::Null);
    let mut checked = 0;
    for (doc, v) in [("issuer metadata", &ep.metadata), ("authorization server metadata", &asm)] {
        for (k, x) in v.as_object().into_iter().flatten() {
            let Some(u) = x.as_str() else { continue };
            if !(k.ends_with("_endpoint") || k.ends_with("_uri") || k == "credential_issuer" || k == "issuer") {
                continue;
            }
            let Ok(url) = url::Url::parse(u) else { return fail(format!("{doc}: {k} `{u}` is not a URL")) };
            let loopback = matches!(url.host(), Some(url::Host::Ipv4(a)) if a.is_loopback()) || matches!(url.host(), Some(url::Host::Ipv6(a)) if a.is_loopback()) || url.host_str() == Some("localhost");
            ensure(url.scheme() == "https" || (url.scheme() == "http" && loopback), || format!("{doc}: {k} `{u}` is not https"))?;
            checked += 1;
        }
    }
    ensure(checked > 0, || "no endpoint published".into())
}
