//! The response side: the honest answer the RP must accept, and hostile ones it must refuse,
//! one rule broken at a time (OpenID4VP 1.0 §8, §7.3; IT-Wallet 1.4 §5.1, §8; SD-JWT RFC 9901
//! §4.3 key binding; `test-plans-remote-presentation.rst`). A refusal is a 4xx at
//! `response_uri` and a session the integrator does not see verified.

use serde_json::{Value, json};
use wallet_core::jose::jwe::{self, EncryptOptions};
use wallet_core::oid4vp::ErrorResponse;
use wallet_core::sd_jwt::digest;

use super::{ASKED, Answer, Flow, Issued, QUERY_ID, Session, credential, holder, honest, post_form, present, ready, refused, respond, response_body, response_code, selected, signed, status_of, verdict};
use super::super::jwt::Jwt;
use crate::case::{Ctx, Step, ensure, fail};
use crate::client::Response;

/// The honest answer to a session of `flow`: the session, what was answered, the HTTP answer.
fn answered(ctx: &mut Ctx<'_>, flow: Flow) -> Step<(Session, Answer, Response, String)> {
    let (s, a) = ready(ctx, flow)?;
    let h = holder()?;
    let p = honest(ctx, &h, &a)?;
    let form = response_body(&a, vec![(QUERY_ID, p)], a.state.clone())?;
    let r = post_form(ctx, &a.response_uri.clone(), &form)?;
    Ok((s, a, r, form))
}

/// The honest answer was accepted: 200, and the integrator's verdict (cross-device) verified.
fn accepted(ctx: &mut Ctx<'_>, s: &Session, r: &Response) -> Step<()> {
    ensure(r.status == 200, || format!("the honest response was answered {} {}", r.status, r.text()))?;
    let (code, v) = verdict(ctx, s, None)?;
    ensure(code == 200 && v.get("status").and_then(Value::as_str) == Some("verified"), || format!("the integrator's verdict: {code} {v}"))
}

pub(crate) fn rpr_12(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, a, r, form) = answered(ctx, Flow::CrossDevice)?;
    accepted(ctx, &s, &r)?;
    let again = post_form(ctx, &a.response_uri, &form)?;
    ensure((400..500).contains(&again.status), || format!("the same response replayed was answered {}", again.status))
}

pub(crate) fn rpr_13(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, a, r, _) = answered(ctx, Flow::CrossDevice)?;
    ctx.note(format!("encrypted to kid {:?} with {:?}", a.key.kid, a.enc));
    accepted(ctx, &s, &r)
}

pub(crate) fn rpr_17(ctx: &mut Ctx<'_>) -> Step<()> {
    let (sa, a) = ready(ctx, Flow::CrossDevice)?;
    let (_, b) = ready(ctx, Flow::CrossDevice)?;
    let h = holder()?;
    let sd = credential(ctx, &h, Issued::Valid)?;
    let p = present(&sd, &h, &ASKED, &b.client_id, &b.nonce)?;
    let r = respond(ctx, &a, vec![(QUERY_ID, p)])?;
    refused(ctx, "a KB-JWT made for another session", &sa, &r)
}

pub(crate) fn rpr_19(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, r, _) = answered(ctx, Flow::SameDevice)?;
    ensure(r.status == 200, || format!("the honest same-device response was answered {}", r.status))?;
    let (redirect, _) = response_code(&r)?;
    ensure(redirect.starts_with("https://") || redirect.starts_with("http://127.0.0.1") || redirect.starts_with("http://localhost"), || format!("redirect_uri `{redirect}` is not https"))
}

pub(crate) fn rpr_28(ctx: &mut Ctx<'_>) -> Step<()> {
    let mut codes = Vec::new();
    for _ in 0..2 {
        let (_, _, r, _) = answered(ctx, Flow::SameDevice)?;
        ensure(r.status == 200, || format!("the honest same-device response was answered {}", r.status))?;
        let (_, code) = response_code(&r)?;
        // 128 bits: 22 base64url characters, 32 hex digits.
        ensure(code.len() >= 22, || format!("response_code `{code}` is too short for 128 bits"))?;
        codes.push(code);
    }
    ensure(codes.first() != codes.get(1), || "two sessions got the same response_code".into())
}

pub(crate) fn rpr_29(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, _, r, _) = answered(ctx, Flow::SameDevice)?;
    ensure(r.status == 200, || format!("the honest same-device response was answered {}", r.status))?;
    for code in [None, Some("conformance-made-up-response-code")] {
        let (status, v) = verdict(ctx, &s, code)?;
        ensure((400..500).contains(&status), || format!("the verdict asked with response_code {code:?} was answered {status} {v}"))?;
    }
    Ok(())
}

pub(crate) fn rpr_30(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = super::create_session(ctx, Flow::CrossDevice, None)?;
    let setup = super::setup(ctx)?;
    let url = format!("{}/sessions/{}", setup.sessions.trim_end_matches('/'), s.id);
    for auth in [None, Some("Bearer conformance-forged-token")] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let r = ctx.get(&url, &headers)?;
        ensure(r.status == 401 || r.status == 403, || format!("the session state asked {} was answered {}", if auth.is_some() { "with a forged token" } else { "without a token" }, r.status))?;
    }
    Ok(())
}

pub(crate) fn rpr_31(ctx: &mut Ctx<'_>) -> Step<()> {
    let setup = super::setup(ctx)?;
    let url = format!("{}/sessions/conformance-no-such-session", setup.sessions.trim_end_matches('/'));
    let auth = format!("Bearer {}", setup.token);
    let r = ctx.get(&url, &[("authorization", &auth)])?;
    ensure(r.status == 404, || format!("an unknown session id was answered {}, expected 404", r.status))?;
    ensure(r.json().ok().and_then(|v| v.get("error").cloned()).is_some(), || "no error in the answer".into())
}

/// A response for `a` whose presentation is made by `make`, refused.
fn hostile(ctx: &mut Ctx<'_>, what: &str, make: impl FnOnce(&Ctx<'_>, &Answer) -> Step<Vec<(&'static str, String)>>) -> Step<()> {
    let (s, a) = ready(ctx, Flow::CrossDevice)?;
    let vp = make(ctx, &a)?;
    let r = respond(ctx, &a, vp)?;
    refused(ctx, what, &s, &r)
}

pub(crate) fn rpr_38(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile(ctx, "a PID with a forged issuer signature", |ctx, a| {
        let h = holder()?;
        let sd = credential(ctx, &h, Issued::ForgedSignature)?;
        Ok(vec![(QUERY_ID, present(&sd, &h, &ASKED, &a.client_id, &a.nonce)?)])
    })
}

pub(crate) fn rpr_39(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile(ctx, "a KB-JWT with a nonce the RP never issued", |ctx, a| {
        let h = holder()?;
        let sd = credential(ctx, &h, Issued::Valid)?;
        Ok(vec![(QUERY_ID, present(&sd, &h, &ASKED, &a.client_id, "conformance-nonce-the-rp-never-issued-0123456789")?)])
    })
}

/// A malformed answer: `response` that is no JWE.
fn malformed(ctx: &mut Ctx<'_>) -> Step<Response> {
    let (_, a) = ready(ctx, Flow::CrossDevice)?;
    post_form(ctx, &a.response_uri, "response=conformance.not-a-jwe")
}

pub(crate) fn rpr_40(ctx: &mut Ctx<'_>) -> Step<()> {
    let r = malformed(ctx)?;
    ensure(r.status == 400, || format!("a malformed response was answered {}, expected 400", r.status))
}

pub(crate) fn rpr_41(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, a) = ready(ctx, Flow::CrossDevice)?;
    let r = post_form(ctx, &a.response_uri, "")?;
    ensure(r.status == 400, || format!("a response without response or error was answered {}, expected 400", r.status))
}

pub(crate) fn rpr_52(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, a) = ready(ctx, Flow::CrossDevice)?;
    let h = holder()?;
    let p = honest(ctx, &h, &a)?;
    let Ok(other) = wallet_core::jose::DecryptionKey::generate() else { return fail("no key") };
    let mut key = other.public_jwk().clone();
    key.kid.clone_from(&a.key.kid);
    let wrong = Answer { key, ..a.clone() };
    let form = response_body(&wrong, vec![(QUERY_ID, p)], a.state.clone())?;
    let r = post_form(ctx, &a.response_uri, &form)?;
    refused(ctx, "a JWE encrypted to another key under the RP's kid", &s, &r)
}

pub(crate) fn rpr_54(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile(ctx, "a PID from an issuer outside the federation", |ctx, a| {
        let h = holder()?;
        let sd = credential(ctx, &h, Issued::Untrusted)?;
        Ok(vec![(QUERY_ID, present(&sd, &h, &ASKED, &a.client_id, &a.nonce)?)])
    })?;
    // Token Status List §8: a verifier refuses a credential its issuer revoked (the list is
    // the tool's, served on loopback: see `status_list`).
    hostile(ctx, "a PID its issuer revoked", |ctx, a| {
        let h = holder()?;
        let sd = credential(ctx, &h, Issued::Revoked)?;
        Ok(vec![(QUERY_ID, present(&sd, &h, &ASKED, &a.client_id, &a.nonce)?)])
    })
}

pub(crate) fn rpr_66(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile(ctx, "an expired PID", |ctx, a| {
        let h = holder()?;
        let sd = credential(ctx, &h, Issued::Expired)?;
        Ok(vec![(QUERY_ID, present(&sd, &h, &ASKED, &a.client_id, &a.nonce)?)])
    })
}

/// The error answer to a malformed response, as JSON.
fn error_answer(ctx: &mut Ctx<'_>) -> Step<(Response, Value)> {
    let r = malformed(ctx)?;
    ensure((400..500).contains(&r.status), || format!("a malformed response was answered {}", r.status))?;
    let v = r.json().unwrap_or(Value::Null);
    Ok((r, v))
}

pub(crate) fn rpr_98(ctx: &mut Ctx<'_>) -> Step<()> {
    let (r, _) = error_answer(ctx)?;
    let m = r.media_type().unwrap_or_default();
    ensure(m == "application/json", || format!("the error is served as `{m}`, not application/json"))
}

pub(crate) fn rpr_99(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, v) = error_answer(ctx)?;
    ensure(v.get("error").and_then(Value::as_str).is_some(), || format!("no error in {v}"))?;
    ensure(v.get("error_description").and_then(Value::as_str).is_some(), || format!("no error_description in {v}"))
}

pub(crate) fn rpr_101(ctx: &mut Ctx<'_>) -> Step<()> {
    let mut claims = ASKED.to_vec();
    claims.push("tax_id_code");
    for (what, extra_id) in [("an extra credential id", true), ("no credential for the query", false)] {
        hostile(ctx, what, |ctx, a| {
            let h = holder()?;
            let sd = credential(ctx, &h, Issued::Valid)?;
            let p = present(&sd, &h, &ASKED, &a.client_id, &a.nonce)?;
            Ok(if extra_id { vec![(QUERY_ID, p.clone()), ("not_asked", p)] } else { vec![] })
        })?;
    }
    hostile(ctx, "a claim the query did not ask", |ctx, a| {
        let h = holder()?;
        let sd = credential(ctx, &h, Issued::Valid)?;
        Ok(vec![(QUERY_ID, present(&sd, &h, &claims, &a.client_id, &a.nonce)?)])
    })
}

pub(crate) fn rpr_102(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile(ctx, "a presentation without KB-JWT", |ctx, _| {
        let h = holder()?;
        let sd = credential(ctx, &h, Issued::Valid)?;
        Ok(vec![(QUERY_ID, selected(&sd, &ASKED)?)])
    })
}

/// A presentation whose KB-JWT has `header` and `payload` edited by `edit`.
fn hand_made_kb(ctx: &Ctx<'_>, a: &Answer, edit: impl FnOnce(&mut Value, &mut Value)) -> Step<Vec<(&'static str, String)>> {
    let h = holder()?;
    let sd = credential(ctx, &h, Issued::Valid)?;
    let base = selected(&sd, &ASKED)?;
    Ok(vec![(QUERY_ID, with_kb(&h, a, &base, edit)?)])
}

/// `base` (an SD-JWT ending in `~`) with a KB-JWT by `h` for this answer (`aud`, `nonce`,
/// `iat` now, `sd_hash` of `base`), its header and payload first edited by `edit`.
fn with_kb(h: &wallet_core::jose::SoftwareSigner, a: &Answer, base: &str, edit: impl FnOnce(&mut Value, &mut Value)) -> Step<String> {
    let mut header = json!({"alg": "ES256", "typ": "kb+jwt"});
    let mut payload = json!({"iat": wallet_core::time::UnixTime::now().secs(), "aud": a.client_id, "nonce": a.nonce, "sd_hash": digest(base)});
    edit(&mut header, &mut payload);
    let kb = signed(h, &header, &payload)?;
    Ok(format!("{base}{kb}"))
}

pub(crate) fn rpr_104(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile(ctx, "a KB-JWT with typ JWT", |ctx, a| hand_made_kb(ctx, a, |h, _| h["typ"] = "JWT".into()))
}

pub(crate) fn rpr_105(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile(ctx, "a KB-JWT without sd_hash", |ctx, a| {
        hand_made_kb(ctx, a, |_, p| {
            if let Some(o) = p.as_object_mut() {
                o.remove("sd_hash");
            }
        })
    })
}

pub(crate) fn rpr_106(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile(ctx, "a KB-JWT for another audience", |ctx, a| {
        let h = holder()?;
        let sd = credential(ctx, &h, Issued::Valid)?;
        Ok(vec![(QUERY_ID, present(&sd, &h, &ASKED, "https://another-rp.conformance.example", &a.nonce)?)])
    })
}

pub(crate) fn rpr_108(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, a) = ready(ctx, Flow::CrossDevice)?;
    let form = ErrorResponse::access_denied(a.state.clone()).to_form();
    let r = post_form(ctx, &a.response_uri, &form)?;
    ensure(r.status == 200, || format!("an Authorization Error Response was answered {} {}", r.status, r.text()))?;
    let st = status_of(ctx, &s)?;
    ensure(st == "declined", || format!("the integrator sees the session `{st}`, expected declined"))
}

pub(crate) fn rpr_110(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, r, _) = answered(ctx, Flow::CrossDevice)?;
    ensure(r.status == 200, || format!("the honest response was answered {}", r.status))?;
    let m = r.media_type().unwrap_or_default();
    ensure(m == "application/json", || format!("the answer is `{m}`, not application/json"))?;
    ensure(r.json().is_ok_and(|v| v.is_object()), || "the answer is not a JSON object".into())
}

pub(crate) fn rpr_112(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, _, r, _) = answered(ctx, Flow::SameDevice)?;
    ensure(r.status == 200, || format!("the honest same-device response was answered {}", r.status))?;
    let (_, code) = response_code(&r)?;
    let (status, v) = verdict(ctx, &s, Some(&code))?;
    ensure(status == 200 && v.get("status").and_then(Value::as_str) == Some("verified"), || format!("the verdict with the response_code: {status} {v}"))
}

pub(crate) fn rpr_14(ctx: &mut Ctx<'_>) -> Step<()> {
    error_response(ctx, "invalid_request_object")
}

/// The wallet's Authorization Error Response `code` with the session's state, form-encoded:
/// accepted, the integrator sees the session declined.
fn error_response(ctx: &mut Ctx<'_>, code: &str) -> Step<()> {
    let (s, a) = ready(ctx, Flow::CrossDevice)?;
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("error", code).append_pair("error_description", "conformance: the wallet refuses the request");
    if let Some(st) = &a.state {
        form.append_pair("state", st);
    }
    let r = post_form(ctx, &a.response_uri, &form.finish())?;
    ensure(r.status == 200, || format!("an Authorization Error Response ({code}) was answered {} {}", r.status, r.text()))?;
    let st = status_of(ctx, &s)?;
    ensure(st == "declined", || format!("the integrator sees the session `{st}`, expected declined"))
}

pub(crate) fn rpr_37(ctx: &mut Ctx<'_>) -> Step<()> {
    rpr_52(ctx)
}

pub(crate) fn rpr_64(ctx: &mut Ctx<'_>) -> Step<()> {
    rpr_40(ctx)
}

pub(crate) fn rpr_65(ctx: &mut Ctx<'_>) -> Step<()> {
    rpr_38(ctx)
}

pub(crate) fn rpr_67(ctx: &mut Ctx<'_>) -> Step<()> {
    rpr_40(ctx)
}

pub(crate) fn rpr_107(ctx: &mut Ctx<'_>) -> Step<()> {
    rpr_39(ctx)
}

pub(crate) fn rpr_109(ctx: &mut Ctx<'_>) -> Step<()> {
    error_response(ctx, "access_denied")
}

/// The error codes an RP may answer with (RFC 6749 §5.2, OpenID4VP 1.0 §8.5, RFC 6750 §3.1).
const ERROR_CODES: [&str; 8] = ["invalid_request", "invalid_client", "unauthorized_client", "access_denied", "invalid_request_object", "invalid_token", "server_error", "temporarily_unavailable"];

pub(crate) fn rpr_111(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, a) = ready(ctx, Flow::CrossDevice)?;
    let (uri, _, _) = super::request_uri(&s)?;
    let again = ctx.get(&uri, &[("accept", "application/oauth-authz-req+jwt")])?;
    let bad = post_form(ctx, &a.response_uri, "response=conformance.not-a-jwe")?;
    let mut errors = vec![("response_uri with a malformed response", &bad)];
    if again.status == 200 {
        ctx.note("the RP serves a request_uri twice: only response_uri's error is compared");
    } else {
        errors.push(("request_uri fetched twice", &again));
    }
    for (what, r) in errors {
        ensure((400..500).contains(&r.status), || format!("{what}: answered {}", r.status))?;
        let m = r.media_type().unwrap_or_default();
        ensure(m == "application/json", || format!("{what}: Content-Type `{m}`"))?;
        let code = r.json().ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned)).unwrap_or_default();
        ensure(ERROR_CODES.contains(&code.as_str()), || format!("{what}: error `{code}` is not a registered OAuth error code"))?;
    }
    Ok(())
}

pub(crate) fn rpr_113(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, f) = super::fetched(ctx, Flow::SameDevice)?;
    let md = super::chain_metadata(ctx, &f)?;
    let a = super::answer_of(ctx, &f)?;
    let h = holder()?;
    let p = honest(ctx, &h, &a)?;
    let r = respond(ctx, &a, vec![(QUERY_ID, p)])?;
    ensure(r.status == 200, || format!("the honest same-device response was answered {}", r.status))?;
    let (redirect, _) = response_code(&r)?;
    let base = redirect.split('?').next().unwrap_or_default();
    let _ = &s;
    ensure(md.redirect_uris.iter().any(|u| u == base), || format!("redirect_uri `{base}` is not among the trust chain's redirect_uris {:?}", md.redirect_uris))
}

pub(crate) fn rpr_114(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, a) = ready(ctx, Flow::CrossDevice)?;
    let h = holder()?;
    let sd = credential(ctx, &h, Issued::Untrusted)?;
    let r = respond(ctx, &a, vec![(QUERY_ID, present(&sd, &h, &ASKED, &a.client_id, &a.nonce)?)])?;
    refused(ctx, "a PID from an issuer outside the federation", &s, &r)?;
    let m = r.media_type().unwrap_or_default();
    ensure(m == "application/json", || format!("the refusal is `{m}`, not application/json"))?;
    ensure(r.json().ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned)).is_some(), || "the refusal has no error".into())
}

pub(crate) fn rpr_53(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile(ctx, "a disclosure altered after issuance", |ctx, a| {
        let h = holder()?;
        let sd = credential(ctx, &h, Issued::Valid)?;
        let base = selected(&sd, &ASKED)?;
        // Replace the given_name disclosure with one of the same name and another value.
        let forged = wallet_core::sd_jwt::Disclosure::property("given_name", "Mallory".into()).or_else(|e| fail(format!("disclosure: {e}")))?;
        let mut parts: Vec<String> = base.split('~').map(str::to_owned).collect();
        let mut replaced = false;
        for p in parts.iter_mut().skip(1) {
            if sd.disclosures().iter().any(|d| d.encoded() == p.as_str() && d.name() == Some("given_name")) {
                *p = forged.encoded().to_owned();
                replaced = true;
            }
        }
        ensure(replaced, || "the PID has no given_name disclosure to alter".into())?;
        let tampered = parts.join("~");
        Ok(vec![(QUERY_ID, with_kb(&h, a, &tampered, |_, _| {})?)])
    })
}

pub(crate) fn rpr_56(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, _, r, _) = answered(ctx, Flow::CrossDevice)?;
    ensure(r.status == 200, || format!("the honest response was answered {}", r.status))?;
    let setup = super::setup(ctx)?;
    let url = format!("{}/sessions/{}/result", setup.sessions.trim_end_matches('/'), s.id);
    for auth in [None, Some("Bearer conformance-forged-token")] {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(auth.map(|a| ("authorization", a)));
        let r = ctx.send("POST", &url, &headers, Some(b"{}"))?;
        ensure(r.status == 401 || r.status == 403, || format!("the verdict asked {} was answered {}", if auth.is_some() { "with a forged token" } else { "without a token" }, r.status))?;
    }
    // Still there for the integrator.
    let (code, v) = verdict(ctx, &s, None)?;
    ensure(code == 200, || format!("the integrator's own request then got {code} {v}"))
}

/// A presentation whose KB-JWT is signed by a key other than the credential's `cnf`.
pub(crate) fn rpr_63(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile(ctx, "a KB-JWT signed by a key that is not the credential's", |ctx, a| {
        let h = holder()?;
        let other = holder()?;
        let sd = credential(ctx, &h, Issued::Valid)?;
        Ok(vec![(QUERY_ID, present(&sd, &other, &ASKED, &a.client_id, &a.nonce)?)])
    })
}

pub(crate) fn rpr_103(ctx: &mut Ctx<'_>) -> Step<()> {
    rpr_63(ctx)
}

pub(crate) fn rpr_34(ctx: &mut Ctx<'_>) -> Step<()> {
    const LIMIT_MS: u64 = 2000;
    let ec = ctx.target.url("/.well-known/openid-federation");
    ctx.get(&ec, &[])?;
    let (_, _, r, _) = answered(ctx, Flow::SameDevice)?;
    ensure(r.status == 200, || format!("the honest response was answered {}", r.status))?;
    let setup = super::setup(ctx)?;
    let integrator = setup.sessions.trim_end_matches('/').to_owned();
    // The wallet-facing exchanges (not the integrator API's).
    let slow: Vec<String> = ctx
        .evidence
        .exchanges
        .iter()
        .filter(|e| !e.url.starts_with(&format!("{integrator}/sessions")) && e.elapsed_ms > LIMIT_MS)
        .map(|e| format!("{} {} took {} ms", e.method, e.url, e.elapsed_ms))
        .collect();
    ensure(slow.is_empty(), || slow.join("; "))
}

/// RPR-25: malformed claims in the presentation payload. The encrypted response's `vp_token`
/// is an array (the shape before DCQL), not the JSON object keyed by the DCQL query's ids that
/// OpenID4VP 1.0 §8.1 requires: refused with an error.
pub(crate) fn rpr_25(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, a) = ready(ctx, Flow::CrossDevice)?;
    let h = holder()?;
    let p = honest(ctx, &h, &a)?;
    let mut payload = json!({"vp_token": [p]});
    if let (Some(st), Some(o)) = (&a.state, payload.as_object_mut()) {
        o.insert("state".into(), st.clone().into());
    }
    let opts = EncryptOptions { kid: a.key.kid.clone(), apu: None, apv: Some(a.nonce.as_bytes().to_vec()), typ: None, cty: None };
    let jwe = jwe::encrypt(payload.to_string().as_bytes(), &a.key, a.enc, &opts).or_else(|e| fail(format!("cannot encrypt to the RP's key: {e}")))?;
    let r = post_form(ctx, &a.response_uri, &wallet_core::oid4vp::response::response_form(&jwe))?;
    refused(ctx, "a payload whose vp_token is an array, not an object", &s, &r)
}

/// RPR-26: malformed claims in the presented credential. The trusted issuer signs a PID whose
/// `iat` is a date string, not the NumericDate SD-JWT VC (§3.2.2.2, RFC 7519 §4.1.6) requires;
/// presented with a correct KB-JWT: refused. Then a PID without the `status` §4.3 requires:
/// refused.
pub(crate) fn rpr_26(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile(ctx, "a PID whose iat is a string", |ctx, a| {
        let setup = super::setup(ctx)?;
        let h = holder()?;
        let sd = credential(ctx, &h, Issued::Valid)?;
        let base = selected(&sd, &ASKED)?;
        let Some((jwt, rest)) = base.split_once('~') else { return fail("the SD-JWT has no disclosures") };
        let issuer_jwt = Jwt::decode("the PID", jwt)?;
        let mut payload = issuer_jwt.payload.clone();
        payload.insert("iat".into(), "2026-01-01T00:00:00Z".into());
        let resigned = signed(&*setup.issuer.key, &Value::Object(issuer_jwt.header.clone()), &Value::Object(payload))?;
        Ok(vec![(QUERY_ID, with_kb(&h, a, &format!("{resigned}~{rest}"), |_, _| {})?)])
    })?;
    // IT-Wallet 1.4 §4.3: a PID's `status` is REQUIRED; without it nobody can learn of its
    // revocation.
    hostile(ctx, "a PID without its REQUIRED status claim", |ctx, a| {
        let h = holder()?;
        let sd = credential(ctx, &h, Issued::WithoutStatus)?;
        Ok(vec![(QUERY_ID, present(&sd, &h, &ASKED, &a.client_id, &a.nonce)?)])
    })
}

/// RPR-44: an invalid user session at the redirect. Session A's `response_code` (from its
/// `redirect_uri`) presented for the verdict of session B, which the same wallet answered:
/// the code binds the redirect to its own session (OpenID4VP 1.0 §8.2, §14.3 session
/// fixation): refused, not verified.
pub(crate) fn rpr_44(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, ra, _) = answered(ctx, Flow::SameDevice)?;
    ensure(ra.status == 200, || format!("the honest same-device response was answered {}", ra.status))?;
    let (_, code_a) = response_code(&ra)?;
    let (sb, _, rb, _) = answered(ctx, Flow::SameDevice)?;
    ensure(rb.status == 200, || format!("the honest same-device response was answered {}", rb.status))?;
    let (status, v) = verdict(ctx, &sb, Some(&code_a))?;
    ensure((400..500).contains(&status) && v.get("status").and_then(Value::as_str) != Some("verified"), || format!("session B's verdict asked with session A's response_code was answered {status} {v}"))
}

/// Where RPR-55's credential says its status list is: nobody serves it (port 9, discard).
pub const UNREACHABLE_STATUS_LIST: &str = "http://127.0.0.1:9/conformance-status-list";

/// RPR-55: a response the RP cannot finish processing. The trusted issuer's PID names a
/// status list nobody serves (Token Status List §6.2; IT-Wallet 1.4 §8: the RP checks the
/// status before it accepts): the RP cannot establish that the credential is valid, so it
/// answers an Authorization Error Response (a 4xx with a JSON `error`), never a verified
/// session.
pub(crate) fn rpr_55(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, a) = ready(ctx, Flow::CrossDevice)?;
    let setup = super::setup(ctx)?;
    let h = holder()?;
    let now = wallet_core::time::UnixTime::now();
    let Ok(vct) = wallet_core::vc::Vct::new(wallet_core::vc::Vct::PID) else { return fail("PID vct") };
    let sd = super::pid_builder(&setup.issuer, super::pid_attributes(), setup.issuer.id.clone(), vct, now.plus(-60), now.plus(86_400), &h)
        .status(0, UNREACHABLE_STATUS_LIST)
        .sign(&*setup.issuer.key)
        .or_else(|e| fail(format!("cannot issue the test PID: {e}")))?;
    let p = present(&sd, &h, &ASKED, &a.client_id, &a.nonce)?;
    let r = respond(ctx, &a, vec![(QUERY_ID, p)])?;
    let code = r.json().ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    ctx.note(format!("answered {}: {}", r.status, r.text()));
    refused(ctx, "a PID whose status list cannot be fetched", &s, &r)?;
    ensure(code.is_some(), || format!("the refusal carries no JSON error: {}", r.text()))
}

/// The size of RPR-36's response body: 3 MiB, past any threshold a verifier sets for a
/// wallet's answer (ours is 2 MiB, the largest JWE wallet-core reads).
pub const LARGE_RESPONSE: usize = 3 * 1024 * 1024;

/// RPR-36: a large response payload is evaluated within security thresholds. A 3 MiB form
/// (an honest response padded with an unknown parameter, OAuth 2.0 §3.1: ignored) is
/// refused, 413 or another 4xx, and the session is not verified; an RP that closes the
/// connection before the whole body is sent refuses it too, provided it still answers
/// afterwards (the session's state, through the integrator API).
pub(crate) fn rpr_36(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, a) = ready(ctx, Flow::CrossDevice)?;
    let h = holder()?;
    let p = honest(ctx, &h, &a)?;
    let mut form = response_body(&a, vec![(QUERY_ID, p)], a.state.clone())?;
    let pad = LARGE_RESPONSE.saturating_sub(form.len());
    form.push_str("&conformance_padding=");
    form.push_str(&"A".repeat(pad));
    let (r, mut ex) = ctx.http().send("POST", &a.response_uri, &[("content-type", "application/x-www-form-urlencoded")], Some(form.as_bytes()));
    ex.request_body = Some(format!("({} bytes: an honest response and conformance_padding)", form.len()));
    ctx.evidence.exchanges.push(ex);
    match r {
        Ok(r) => {
            ctx.note(format!("answered {}", r.status));
            refused(ctx, "a 3 MiB response", &s, &r)
        }
        Err(e) => {
            ctx.note(format!("the RP closed the connection before the body was sent: {}", e.detail));
            let st = super::status_of(ctx, &s)?;
            ensure(st != "verified", || "the integrator sees the session verified".into())
        }
    }
}

/// A request body that breaks off halfway: the wallet's connection lost mid-request.
struct BrokenOff {
    data: Vec<u8>,
    pos: usize,
}

impl std::io::Read for BrokenOff {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let half = self.data.len() / 2;
        if self.pos >= half {
            // What was read goes out first: the break comes mid-body, not before the request.
            std::thread::sleep(std::time::Duration::from_millis(500));
            return Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "conformance: the wallet's connection breaks off"));
        }
        let n = buf.len().min(half - self.pos);
        for (dst, src) in buf.iter_mut().zip(self.data.iter().skip(self.pos).take(n)) {
            *dst = *src;
        }
        self.pos += n;
        Ok(n)
    }
}

/// RPR-24: a response that timed out is retried. The wallet's first POST of an honest
/// response breaks off halfway (the RP never acquires it); the retry of the same response
/// must succeed: 200 and a verified verdict (OpenID4VP 1.0 §8.2: only a response the RP
/// received is final).
pub(crate) fn rpr_24(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, a) = ready(ctx, Flow::CrossDevice)?;
    let h = holder()?;
    let p = honest(ctx, &h, &a)?;
    let form = response_body(&a, vec![(QUERY_ID, p)], a.state.clone())?;
    let len = u64::try_from(form.len()).unwrap_or(u64::MAX);
    let client = match reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(10)).build() {
        Ok(c) => c,
        Err(e) => return fail(format!("no HTTP client: {e}")),
    };
    let body = reqwest::blocking::Body::sized(BrokenOff { data: form.clone().into_bytes(), pos: 0 }, len);
    let first = client.post(&a.response_uri).header("content-type", "application/x-www-form-urlencoded").body(body).send();
    ctx.note(format!(
        "the first POST broke off after {} of {len} bytes: {}",
        form.len() / 2,
        match first {
            Ok(r) => format!("answered {}", r.status()),
            Err(e) => format!("no answer ({e})"),
        }
    ));
    // A wallet backs off before it retries; the pause also lets the RP see the first
    // connection close before the retry arrives (so that a fault taking the broken attempt
    // for the answer shows, even on a loaded machine).
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = post_form(ctx, &a.response_uri, &form)?;
    accepted(ctx, &s, &r)
}
