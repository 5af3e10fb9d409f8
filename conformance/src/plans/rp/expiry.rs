//! Expired sessions (`test-plans-remote-presentation.rst` RPR-27, RPR-32, RPR-42, RPR-68,
//! RPR-69): what the RP answers once a session outlived its lifetime, the request object's
//! `exp` (RFC 9101 §4, OpenID4VP 1.0 §5). The tool waits for it only when it is short
//! ([`MAX_WAIT`] seconds at most), once per process and RP: the sessions, created and left to
//! expire by the first of these tests, serve the others (each asks the RP afresh).

use std::sync::Mutex;

use serde_json::Value;

use super::{ASKED, Answer, Fetch, Flow, QUERY_ID, Session, answer_of, create_session, credential, fetch, fetch_raw, holder, present, refused, respond, setup, status_of, verdict, Issued};
use crate::case::{Ctx, Step, ensure, fail, skip};

/// The longest session lifetime the tool waits out (seconds).
pub const MAX_WAIT: i64 = 60;

/// Two sessions past their lifetime: one whose request object was fetched (the wallet holds
/// its answer data), one never fetched.
#[derive(Debug, Clone)]
struct Expired {
    sessions: String,
    fetched: Session,
    answer: Answer,
    unfetched: Session,
}

static EXPIRED: Mutex<Vec<Expired>> = Mutex::new(Vec::new());

/// The expired sessions at this RP: made (and waited out) the first time.
fn expired(ctx: &mut Ctx<'_>) -> Step<Expired> {
    let sessions = setup(ctx)?.sessions;
    if let Some(e) = EXPIRED.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().find(|e| e.sessions == sessions) {
        ctx.note(format!("sessions {} and {}, expired earlier in this run", e.fetched.id, e.unfetched.id));
        return Ok(e.clone());
    }
    let fetched = create_session(ctx, Flow::CrossDevice, None)?;
    let f = fetch(ctx, &fetched, Fetch::AsUrlSays)?;
    let answer = answer_of(ctx, &f)?;
    let unfetched = create_session(ctx, Flow::CrossDevice, None)?;
    let Some(exp) = f.jwt.claim_i64("exp") else { return fail("the request object has no integer exp") };
    let now = wallet_core::time::UnixTime::now().secs();
    let wait = exp.saturating_sub(now).saturating_add(2);
    if wait > MAX_WAIT {
        return skip(format!("the RP's request objects live {} s, longer than the tool waits ({MAX_WAIT} s)", exp - now));
    }
    ctx.note(format!("waiting {wait} s for the sessions to expire (request object exp {exp})"));
    std::thread::sleep(std::time::Duration::from_secs(u64::try_from(wait.max(0)).unwrap_or(0)));
    let e = Expired { sessions, fetched, answer, unfetched };
    EXPIRED.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(e.clone());
    Ok(e)
}

/// RPR-27: an expired request. The request object of a session past its lifetime is not
/// served: an error tells the wallet (and the holder) that the request expired.
pub(crate) fn rpr_27(ctx: &mut Ctx<'_>) -> Step<()> {
    let e = expired(ctx)?;
    let (r, _, _) = fetch_raw(ctx, &e.unfetched, Fetch::AsUrlSays)?;
    ensure((400..500).contains(&r.status), || format!("request_uri of an expired session answered {}: {}", r.status, r.text().chars().take(200).collect::<String>()))?;
    ensure(r.json().ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned)).is_some(), || format!("the refusal carries no JSON error: {}", r.text()))
}

/// RPR-68: a response after the session timed out: refused with an error response, the
/// session not verified.
pub(crate) fn rpr_68(ctx: &mut Ctx<'_>) -> Step<()> {
    let e = expired(ctx)?;
    let h = holder()?;
    let sd = credential(ctx, &h, Issued::Valid)?;
    let p = present(&sd, &h, &ASKED, &e.answer.client_id, &e.answer.nonce)?;
    let r = respond(ctx, &e.answer, vec![(QUERY_ID, p)])?;
    refused(ctx, "an honest response after the session expired", &e.fetched, &r)
}

/// What the integrator hears about an expired session: a 4xx error, or a state saying
/// `expired`; never `verified` or still waiting.
fn integrator_sees_expired(what: &str, status: u16, v: &Value) -> Step<()> {
    if (400..500).contains(&status) {
        return Ok(());
    }
    let st = v.get("status").and_then(Value::as_str).unwrap_or_default();
    ensure(status == 200 && st == "expired", || format!("{what} of an expired session answered {status} {v}"))
}

/// RPR-32: the redirect back to the RP after the session expired: the verdict the
/// integrator asks for is an error or `expired`, never a verified session.
pub(crate) fn rpr_32(ctx: &mut Ctx<'_>) -> Step<()> {
    let e = expired(ctx)?;
    let (status, v) = verdict(ctx, &e.unfetched, None)?;
    integrator_sees_expired("the verdict", status, &v)
}

/// RPR-42: the status endpoint on a session timeout.
pub(crate) fn rpr_42(ctx: &mut Ctx<'_>) -> Step<()> {
    let e = expired(ctx)?;
    status_check(ctx, &e.fetched)
}

/// RPR-69: the status endpoint on session expiration (a session whose request was never
/// fetched).
pub(crate) fn rpr_69(ctx: &mut Ctx<'_>) -> Step<()> {
    let e = expired(ctx)?;
    status_check(ctx, &e.unfetched)
}

fn status_check(ctx: &mut Ctx<'_>, s: &Session) -> Step<()> {
    let st = status_of(ctx, s)?;
    integrator_sees_expired("the session state", 200, &serde_json::json!({"status": st}))
}
