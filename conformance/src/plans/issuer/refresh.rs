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
