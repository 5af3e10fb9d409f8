//! The issuer plan's refresh token rows (IT-Wallet 1.4 §3.3 "Refresh", RFC 9449 §5, RFC 6749
//! §6): what the token response binds, refresh requests the issuer must refuse whatever the
//! refresh token's `nbf`, and honest refreshes. A refresh token becomes usable only when the
//! access token expires (its `nbf`); the tool refreshes at once and does not wait: an issuer
//! whose access tokens live long refuses it, and the rows that need an honest refresh are
//! skipped then (an issuer with short access tokens, within its clock skew, answers it).

use serde_json::Value;
use wallet_core::jose::{Signer as _, b64};
use wallet_core::oid4vci::TokenRequest;

use super::par::jws_parts;
use super::protocol::expect_error;
use super::wallet::{self, Session};
use super::protocol::short;
use crate::case::{Ctx, Step, ensure, fail, skip};
use crate::client::Response;

/// A session whose token response carried a refresh token; skips when the issuer does not
/// give one.
fn session(ctx: &mut Ctx<'_>) -> Step<(Session, String)> {
    let s = Session::start(ctx)?;
    match s.refresh_token.clone() {
        Some(rt) => {
            ctx.record_jwt("refresh token", &rt);
            Ok((s, rt))
        }
        None => skip("the token response carries no refresh_token"),
    }
}

/// `POST token_endpoint` with the refresh grant and `dpop` when given.
fn refresh(ctx: &mut Ctx<'_>, s: &Session, refresh_token: &str, dpop: Option<&str>) -> Step<Response> {
    let form = TokenRequest::RefreshToken { refresh_token: refresh_token.to_owned(), scope: None }.to_form();
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(d) = dpop {
        headers.push(("dpop", d));
    }
    ctx.send("POST", &s.ep.token.clone(), &headers, Some(form.as_bytes()))
}

/// `cnf.jkt` of a JWT.
fn jkt(jwt: &str) -> Option<String> {
    jws_parts(jwt).1.get("cnf").and_then(|c| c.get("jkt")).and_then(Value::as_str).map(str::to_owned)
}

/// CI_090: the refresh token is bound to the DPoP key of the token request (`cnf.jkt`, its
/// thumbprint).
pub fn ci_090(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, rt) = session(ctx)?;
    let want = s.dpop_key.public_jwk().thumbprint().to_string();
    let got = jkt(&rt);
    ensure(got.as_deref() == Some(want.as_str()), || format!("the refresh token's cnf.jkt {got:?} is not the DPoP key's thumbprint {want}"))
}

/// CI_101: the access token and the refresh token are bound to the same DPoP key.
pub fn ci_101(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, rt) = session(ctx)?;
    let (at, rt) = (jkt(&s.access_token), jkt(&rt));
    if at.is_none() {
        return skip("the access token is not a JWT with cnf.jkt: its binding is not visible");
    }
    ensure(at == rt, || format!("the access token is bound to {at:?}, the refresh token to {rt:?}"))
}

/// CI_102: a refresh request without a DPoP proof: `invalid_dpop_proof`.
pub fn ci_102(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, rt) = session(ctx)?;
    let r = refresh(ctx, &s, &rt, None)?;
    expect_error(&r, 400, "invalid_dpop_proof")
}

/// CI_096: a refresh token the issuer never issued: `invalid_grant`.
pub fn ci_096(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, _) = session(ctx)?;
    let forged = format!("conformance-{}", s.dpop_key.public_jwk().thumbprint());
    let d = wallet::dpop(&s.dpop_key, &s.ep.token, None)?;
    let r = refresh(ctx, &s, &forged, Some(&d))?;
    expect_error(&r, 400, "invalid_grant")
}

/// CI_099: a refresh token altered by the wallet (its `nbf` dropped, the issuer's signature
/// kept): the integrity check refuses it, `invalid_grant`.
pub fn ci_099(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, rt) = session(ctx)?;
    let mut it = rt.split('.');
    let (Some(h), Some(_), Some(sig)) = (it.next(), it.next(), it.next()) else { return fail("the refresh token is not a compact JWS") };
    let (_, mut p) = jws_parts(&rt);
    if p.remove("nbf").is_none() {
        p.insert("exp".into(), (wallet_core::time::UnixTime::now().secs() + 30 * 86_400).into());
    }
    let tampered = format!("{h}.{}.{sig}", b64::encode(Value::Object(p).to_string()));
    let d = wallet::dpop(&s.dpop_key, &s.ep.token, None)?;
    let r = refresh(ctx, &s, &tampered, Some(&d))?;
    expect_error(&r, 400, "invalid_grant")
}

/// CI_104: the issuer limits how long a refresh token can be used: it expires (`exp` after
/// `iat`, at most a year later).
pub fn ci_104(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, rt) = session(ctx)?;
    let (_, p) = jws_parts(&rt);
    let (iat, exp) = (p.get("iat").and_then(Value::as_i64), p.get("exp").and_then(Value::as_i64));
    let (Some(iat), Some(exp)) = (iat, exp) else { return fail(format!("the refresh token has no iat and exp ({iat:?}, {exp:?})")) };
    ensure(exp > iat && exp - iat <= 366 * 86_400, || format!("the refresh token lives {} s", exp - iat))
}

/// CI_092: the DPoP proof of a refresh request is validated (RFC 9449 §4.3): one made for
/// another URL (`htu` the credential endpoint) is `invalid_dpop_proof`.
pub fn ci_092(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, rt) = session(ctx)?;
    let d = wallet::dpop(&s.dpop_key, &s.ep.credential, None)?;
    let r = refresh(ctx, &s, &rt, Some(&d))?;
    expect_error(&r, 400, "invalid_dpop_proof")
}

/// An honest refresh at once (the session's DPoP key): the 200 response. Skips when the
/// issuer refuses it while the refresh token's `nbf` is still ahead (module doc).
fn honest_refresh(ctx: &mut Ctx<'_>, s: &Session, rt: &str) -> Step<Value> {
    let d = wallet::dpop(&s.dpop_key, &s.ep.token, None)?;
    let r = refresh(ctx, s, rt, Some(&d))?;
    if r.status != 200 {
        let now = wallet_core::time::UnixTime::now().secs();
        if let Some(nbf) = jws_parts(rt).1.get("nbf").and_then(Value::as_i64).filter(|n| *n > now) {
            return skip(format!("the issuer refused a refresh {} s before the refresh token's nbf ({} {}): the tool does not wait for it", nbf - now, r.status, short(&r.text())));
        }
        return fail(format!("the issuer refused an honest refresh: {} {}", r.status, short(&r.text())));
    }
    let v = r.json().or_else(|e| fail(format!("the refresh response is not JSON: {e}")))?;
    if let Some(at) = v.get("access_token").and_then(Value::as_str) {
        ctx.record_jwt("refreshed access token", at);
    }
    Ok(v)
}

/// A refresh with the session's refresh token and a DPoP proof by another key is refused
/// (`invalid_grant`, or `invalid_dpop_proof`), then the same refresh with the session's key is
/// answered: the refusal was the key's.
fn other_key_refused(ctx: &mut Ctx<'_>, s: &Session, rt: &str) -> Step<()> {
    let thief = wallet::new_key()?;
    let d = wallet::dpop(&thief, &s.ep.token, None)?;
    let r = refresh(ctx, s, rt, Some(&d))?;
    let code = r.json().ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    ensure(r.status == 400 && matches!(code.as_deref(), Some("invalid_grant" | "invalid_dpop_proof")), || {
        format!("a refresh with another key's DPoP proof was answered {} {} (expected 400 invalid_grant or invalid_dpop_proof)", r.status, short(&r.text()))
    })?;
    honest_refresh(ctx, s, rt).map(|_| ())
}

/// CI_093: the refresh token is bound to the DPoP key of the token request: presented with
/// another key's proof it is refused, with its own it is honoured.
pub fn ci_093(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, rt) = session(ctx)?;
    other_key_refused(ctx, &s, &rt)
}

/// CI_100: the refresh token is cryptographically bound to the wallet's key (RFC 9449 §5):
/// `cnf.jkt` the DPoP key's thumbprint, and refused with another key's proof.
pub fn ci_100(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, rt) = session(ctx)?;
    let want = s.dpop_key.public_jwk().thumbprint().to_string();
    let got = jkt(&rt);
    ensure(got.as_deref() == Some(want.as_str()), || format!("the refresh token's cnf.jkt {got:?} is not the DPoP key's thumbprint {want}"))?;
    other_key_refused(ctx, &s, &rt)
}

/// CI_094: an honest refresh gives a new access token and a new refresh token, both bound to
/// the DPoP key (`cnf.jkt`; the access token's when it is a JWT).
pub fn ci_094(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, rt) = session(ctx)?;
    let v = honest_refresh(ctx, &s, &rt)?;
    let want = s.dpop_key.public_jwk().thumbprint().to_string();
    let Some(at) = v.get("access_token").and_then(Value::as_str) else { return fail("the refresh response has no access_token") };
    ensure(at != s.access_token, || "the refresh response gives the old access token again".into())?;
    let Some(rt2) = v.get("refresh_token").and_then(Value::as_str) else { return fail("the refresh response has no new refresh_token") };
    ctx.record_jwt("new refresh token", rt2);
    ensure(rt2 != rt, || "the refresh response gives the presented refresh token again".into())?;
    let got = jkt(rt2);
    ensure(got.as_deref() == Some(want.as_str()), || format!("the new refresh token's cnf.jkt {got:?} is not the DPoP key's thumbprint {want}"))?;
    match jkt(at) {
        Some(a) => ensure(a == want, || format!("the new access token's cnf.jkt {a} is not the DPoP key's thumbprint {want}")),
        None => Ok(()),
    }
}

/// CI_095: both tokens are sent back: the refresh response is a JSON object with
/// `access_token` and `refresh_token`.
pub fn ci_095(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, rt) = session(ctx)?;
    let v = honest_refresh(ctx, &s, &rt)?;
    for t in ["access_token", "refresh_token"] {
        ensure(v.get(t).and_then(Value::as_str).is_some_and(|x| !x.is_empty()), || format!("the refresh response has no {t}"))?;
    }
    Ok(())
}

/// CI_108, CI_114: an access token obtained by refresh never serves a first issuance
/// (IT-Wallet 1.4 §3.3 "Refresh": deferred, notification and re-issuance only): an honest
/// credential request with it, in a grant that has issued nothing, is refused (4xx).
pub fn first_issuance_refused(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, rt) = session(ctx)?;
    let v = honest_refresh(ctx, &s, &rt)?;
    let Some(at) = v.get("access_token").and_then(Value::as_str).map(str::to_owned) else { return fail("the refresh response has no access_token") };
    let (_, body) = s.honest_request(ctx, 1)?;
    let url = s.ep.credential.clone();
    let r = s.protected(ctx, &url, &body, Some(&at), None)?;
    ensure(matches!(r.status, 400 | 401 | 403), || format!("a first issuance with a refreshed access token was answered {} {}", r.status, short(&r.text())))?;
    ctx.note(format!("refused: {} {}", r.status, short(&r.text())));
    Ok(())
}

/// The issuer-signed JWT's payload of the first credential of a 200 credential response.
fn first_credential(v: &Value) -> Step<serde_json::Map<String, Value>> {
    let Some(c) = v.get("credentials").and_then(Value::as_array).and_then(|c| c.first()).and_then(|c| c.get("credential")).and_then(Value::as_str) else {
        return fail("the credential response has no credentials[0].credential");
    };
    Ok(jws_parts(c.split('~').next().unwrap_or_default()).1)
}

/// Changes the status of the setup citizen's credential of status index `idx` through the
/// issuer's admin API (our issuer's, the one that makes the offers): its id from
/// `GET /admin/citizens/{citizen}/credentials`, then `POST /admin/status`
/// `{"action", "credential_id"}`. Skips when the API does not list the credential.
pub fn admin_status(ctx: &mut Ctx<'_>, idx: u64, action: &str) -> Step<()> {
    let setup = wallet::setup(ctx)?.clone();
    let citizen = setup.citizen.clone();
    let base = setup.offers.trim_end_matches('/').to_owned();
    let auth = format!("Bearer {}", setup.token);
    let url = format!("{base}/admin/citizens/{}/credentials", url::form_urlencoded::byte_serialize(citizen.as_bytes()).collect::<String>());
    let r = ctx.get(&url, &[("authorization", &auth), ("accept", "application/json")])?;
    ensure(r.status == 200, || format!("the admin API answered {} to GET {url}", r.status))?;
    let list = r.json().or_else(|e| fail(format!("the admin API's answer is not JSON: {e}")))?;
    let id = list.get("credentials").and_then(Value::as_array).into_iter().flatten().find(|c| c.get("status_idx").and_then(Value::as_u64) == Some(idx)).and_then(|c| c.get("id")).and_then(Value::as_str).map(str::to_owned);
    let Some(id) = id else { return skip(format!("the admin API does not list the credential of status index {idx}: the tool cannot change its status")) };
    let body = serde_json::json!({"action": action, "credential_id": id}).to_string();
    let r = ctx.send("POST", &format!("{base}/admin/status"), &[("authorization", &auth), ("content-type", "application/json")], Some(body.as_bytes()))?;
    ensure(r.status == 200, || format!("the admin API answered {} {} to `{action}` for the credential", r.status, short(&r.text())))
}

/// CI_105, CI_112, CI_115: a re-issued credential keeps the expiry of the one it replaces
/// (IT-Wallet 1.4 §3.3 "Re-issuance": the same expiry). The tool issues a credential, marks
/// it for update through the issuer's admin API (`POST /admin/status`, action `update`, the
/// credential's id from `GET /admin/citizens/{citizen}/credentials`: our issuer's API, the
/// one that makes the offers), refreshes, and asks for the credential again with the
/// refreshed token in a later second than the first issuance: the new `exp` is the old one.
pub fn reissued_same_expiry(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, rt) = session(ctx)?;
    let (_, v) = s.issue(ctx, 1)?;
    let old = first_credential(&v)?;
    let (Some(old_exp), Some(old_iat)) = (old.get("exp").and_then(Value::as_i64), old.get("iat").and_then(Value::as_i64)) else { return fail("the credential has no exp or iat") };
    let Some(idx) = old.get("status").and_then(|st| st.get("status_list")).and_then(|l| l.get("idx")).and_then(Value::as_u64) else { return fail("the credential has no status_list.idx") };
    admin_status(ctx, idx, "update")?;
    // A later second than the first issuance: `credential_ttl` from now would be another exp.
    while wallet_core::time::UnixTime::now().secs() <= old_iat {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let refreshed = honest_refresh(ctx, &s, &rt)?;
    let Some(at) = refreshed.get("access_token").and_then(Value::as_str).map(str::to_owned) else { return fail("the refresh response has no access_token") };
    let (_, body) = s.honest_request(ctx, 1)?;
    let url = s.ep.credential.clone();
    let r = s.protected(ctx, &url, &body, Some(&at), None)?;
    ensure(r.status == 200, || format!("the re-issuance was answered {} {}", r.status, short(&r.text())))?;
    let v = r.json().or_else(|e| fail(format!("the credential response is not JSON: {e}")))?;
    let new = first_credential(&v)?;
    let new_exp = new.get("exp").and_then(Value::as_i64);
    ctx.note(format!("first issued iat {old_iat} exp {old_exp}; re-issued iat {:?} exp {new_exp:?}", new.get("iat").and_then(Value::as_i64)));
    ensure(new_exp == Some(old_exp), || format!("the re-issued credential expires at {new_exp:?}, the one it replaces at {old_exp}"))
}

/// CI_088: an access token obtained by refresh serves the deferred, notification and
/// credential (re-issuance) endpoints only (IT-Wallet 1.4 §3.3 "Refresh"): with it the
/// deferred endpoint takes a request (an unknown `transaction_id` is
/// `invalid_transaction_id`, not an authorization failure), the notification endpoint
/// acknowledges the credential issued in the grant (204), and the credential endpoint, with
/// nothing marked for re-issuance, issues nothing (4xx).
pub fn ci_088(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, rt) = session(ctx)?;
    let (_, issued) = s.issue(ctx, 1)?;
    let refreshed = honest_refresh(ctx, &s, &rt)?;
    let Some(at) = refreshed.get("access_token").and_then(Value::as_str).map(str::to_owned) else { return fail("the refresh response has no access_token") };
    if let Some(url) = s.ep.deferred.clone() {
        let r = s.protected(ctx, &url, &serde_json::json!({"transaction_id": "conformance-unknown-transaction"}), Some(&at), None)?;
        expect_error(&r, 400, "invalid_transaction_id")?;
    }
    if let Some(url) = s.ep.notification.clone() {
        let Some(id) = issued.get("notification_id").and_then(Value::as_str).map(str::to_owned) else { return fail("the credential response has no notification_id") };
        let r = s.protected(ctx, &url, &serde_json::json!({"notification_id": id, "event": "credential_accepted"}), Some(&at), None)?;
        ensure(r.status == 204, || format!("a notification with the refreshed access token answered {} {}", r.status, short(&r.text())))?;
    }
    let (_, body) = s.honest_request(ctx, 1)?;
    let url = s.ep.credential.clone();
    let r = s.protected(ctx, &url, &body, Some(&at), None)?;
    ensure(matches!(r.status, 400 | 401 | 403), || format!("a credential request with the refreshed access token, nothing marked for re-issuance, answered {} {}", r.status, short(&r.text())))
}

/// A `POST token_endpoint` of `form` with a DPoP proof by `dpop_key` and the client
/// attestation `waa` with a PoP signed by `pop_key`.
fn attested_token(ctx: &mut Ctx<'_>, url: &str, form: &str, dpop_key: &wallet_core::jose::SoftwareSigner, waa: &str, pop_key: &wallet_core::jose::SoftwareSigner) -> Step<Response> {
    let audience = ctx.target.entity_id.to_string();
    let d = wallet::dpop(dpop_key, url, None)?;
    let h = wallet_core::oid4vci::client_attestation_headers(waa, pop_key, &audience, None, wallet_core::time::UnixTime::now())
        .or_else(|e| fail(format!("building the client attestation PoP: {e}")))?;
    ctx.record_jwt("OAuth-Client-Attestation-PoP", &h.pop);
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded"), ("dpop", d.as_str())];
    headers.extend(h.pairs());
    ctx.send("POST", url, &headers, Some(form.as_bytes()))
}

/// CI_091: a refresh by an attested wallet instance carries its client attestation again, and
/// the issuer validates the PoP (OAuth Attestation-Based Client Authentication §5): the tool
/// redeems an offer with its WAA and PoP, then refreshes with a PoP signed by another key
/// (refused, `invalid_client`) and with an honest PoP (answered; refused before `nbf`, the row
/// is skipped: the refusal cannot be told to be the PoP's).
pub fn ci_091(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = wallet::endpoints(ctx)?;
    let citizen = wallet::setup(ctx)?.citizen.clone();
    let offer = wallet::offer(ctx, &citizen, &[])?;
    let client = super::par::Client::new(ctx)?;
    let dpop_key = wallet::new_key()?;
    let form = TokenRequest::PreAuthorizedCode { pre_authorized_code: offer.code()?, tx_code: offer.tx_code.clone() }.to_form();
    let r = attested_token(ctx, &ep.token, &form, &dpop_key, &client.waa, &client.key)?;
    ensure(r.status == 200, || format!("an attested token request answered {} {}", r.status, short(&r.text())))?;
    let v = r.json().or_else(|e| fail(format!("the token response is not JSON: {e}")))?;
    let Some(rt) = v.get("refresh_token").and_then(Value::as_str).map(str::to_owned) else { return skip("the token response carries no refresh_token") };
    let form = TokenRequest::RefreshToken { refresh_token: rt.clone(), scope: None }.to_form();
    let other = wallet::new_key()?;
    let hostile = attested_token(ctx, &ep.token, &form, &dpop_key, &client.waa, &other)?;
    ensure(hostile.status != 200, || format!("a refresh whose client attestation PoP is signed by another key was answered 200 {}", short(&hostile.text())))?;
    // The honest refresh first decides whether the refusal can be the PoP's: refused as well
    // before `nbf`, the row cannot be told.
    let r = attested_token(ctx, &ep.token, &form, &dpop_key, &client.waa, &client.key)?;
    if r.status != 200 {
        let now = wallet_core::time::UnixTime::now().secs();
        if let Some(nbf) = jws_parts(&rt).1.get("nbf").and_then(Value::as_i64).filter(|n| *n > now) {
            return skip(format!("the issuer refused a refresh {} s before the refresh token's nbf ({} {}): the tool does not wait for it", nbf - now, r.status, short(&r.text())));
        }
        return fail(format!("the issuer refused an honest attested refresh: {} {}", r.status, short(&r.text())));
    }
    let code = hostile.json().ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    ensure(matches!(hostile.status, 400 | 401) && code.as_deref() == Some("invalid_client"), || {
        format!("a refresh whose client attestation PoP is signed by another key answered {} {} (expected invalid_client)", hostile.status, short(&hostile.text()))
    })
}
