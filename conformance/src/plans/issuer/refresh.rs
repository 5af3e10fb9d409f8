//! The issuer plan's refresh token rows (IT-Wallet 1.4 §3.3 "Refresh", RFC 9449 §5, RFC 6749
//! §6): what the token response binds, and refresh requests the issuer must refuse whatever the
//! refresh token's `nbf` (a refresh token becomes usable only when the access token expires,
//! so an honest refresh cannot be made within a run).

use serde_json::Value;
use wallet_core::jose::{Signer as _, b64};
use wallet_core::oid4vci::TokenRequest;

use super::par::jws_parts;
use super::protocol::expect_error;
use super::wallet::{self, Session};
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
