//! The federation plan: a federation authority (trust anchor or intermediate) tested from
//! outside, as any federation entity sees it (the `FA` rows; OpenID Federation draft 48 §3,
//! §8; SPID/CIE OIDC digest §A; IT-Wallet 1.4 `trust-infrastructure.rst`).
//!
//! Choices where the matrix and the spec it comes from differ (written down here, as the
//! project asks):
//! * `FA_011` (trust mark status): the matrix says `GET ?id&sub`; OpenID Federation draft 48
//!   (what SPID/CIE and IT-Wallet 1.4 follow) says `POST trust_mark=<JWT>`. The test sends
//!   the draft-48 form, accepts the signed `trust-mark-status-response+jwt` and the legacy
//!   JSON `{"active": true}`. For a mark the authority did not issue (the matrix's unknown
//!   subject: its own mark about another `sub`; then its own mark with the signature
//!   replaced) it accepts a 4xx (`not_found`, §8.4) or a status response that does
//!   not say `active` (`invalid`, among the statuses draft 48 defines, fits such a mark).
//! * `FA_012` (historical keys): the endpoint is optional; without
//!   `federation_historical_keys_endpoint` in the metadata the test is skipped, not failed.
//! * `FA_014` (no `none`): an authority can only be seen serving statements; the test checks
//!   the `alg` of every statement it serves (configuration, subordinate statement,
//!   historical keys, resolve response).
//! * The subordinate the tests fetch is `--subordinate`, or the first one `/list` returns.
//! * The rows about what an entity does with what it receives (ATT-002, ATT-009, ALL-001,
//!   ALL-002) are seen through the resolve endpoint (draft 48 §8.3), the one place where an
//!   authority evaluates other entities' statements for a caller; without
//!   `federation_resolve_endpoint` they are skipped. ATT-008 (`aud`): what an unauthenticated
//!   caller is served carries no `aud` (§8.3.2: only for an authenticated caller).
//! * `ALL-002` (self evaluation): the authority asked to resolve itself. Draft 48 does not say
//!   a resolver must answer for itself; the tool reads the self-resolve as the only outside
//!   sign of an entity checking its own chain (a reading, written down as such).

use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use wallet_core::federation::{ChainCollector, EntityId, FederationError, Fetcher, TrustAnchorConfig};
use wallet_core::jose::Jwk;
use wallet_core::jose::jwk::JwkSet;
use wallet_core::time::UnixTime;

use super::entity::{STATEMENT_MEDIA, STATEMENT_TYP, valid_now as check_times};
use super::jwt::{ALLOWED_ALGS, Jwt};
use crate::case::{Case, Ctx, Step, ensure, fail, skip};
use crate::client::{Http, Response};
use crate::evidence::Exchange;
use crate::plan::Plan;

/// Values of a historical key's `revoked.reason` (OID-FED §8.7).
const REVOCATION_REASONS: [&str; 3] = ["unspecified", "compromised", "superseded"];

macro_rules! case {
    ($id:literal, $run:ident, $sends:literal, $expects:literal) => {
        Case { id: $id, plan: Plan::Federation, sends: $sends, expects: $expects, run: $run }
    };
}

/// The plan's cases, in matrix order.
pub static CASES: &[Case] = &[
    case!("FA_001", fa_001, "GET /.well-known/openid-federation", "200 with Content-Type application/entity-statement+jwt"),
    case!("FA_002", fa_002, "GET the Entity Configuration", "its signature verifies with a key of its own jwks"),
    case!("FA_003", fa_003, "GET the Entity Configuration", "header: an allowed alg, typ entity-statement+jwt, a kid that is in jwks"),
    case!("FA_004", fa_004, "GET the Entity Configuration", "iss = sub = the authority; iat and exp integers, exp > iat, now < exp"),
    case!("FA_005", fa_005, "GET the Entity Configuration", "jwks and metadata.federation_entity with the fetch and list endpoints"),
    case!("FA_006", fa_006, "GET the Entity Configuration and the historical keys (if published)", "EC P-256/384/521 or RSA ≥ 2048 keys, unique kids, none revoked"),
    case!("FA_007", fa_007, "GET the Entity Configuration and a Subordinate Statement", "both within their validity, iat at most 120 s ahead"),
    case!("FA_008", fa_008, "GET fetch?sub=<subordinate>", "a signed Subordinate Statement: iss the authority, sub the subordinate, valid times"),
    case!("FA_009", fa_009, "GET fetch?sub=<subordinate> and the subordinate's configuration", "the statement's jwks are the subordinate's keys; metadata/metadata_policy objects"),
    case!("FA_010", fa_010, "GET list", "200 application/json, an array of entity identifiers"),
    case!("FA_011", fa_011, "POST trust_mark_status trust_mark=<a mark it issued>, then an unknown mark", "active for the issued mark, signed; 4xx or not active for an unknown subject and for a forged signature"),
    case!("FA_012", fa_012, "GET the historical keys endpoint", "a signed jwk-set+jwt: iss, iat, keys with kid and exp, revocation reasons from the spec"),
    case!("FA_014", fa_014, "GET every statement the authority serves", "alg is never none, HMAC or outside the IT-Wallet list"),
    case!("FA_015", fa_015, "GET the Entity Configuration and a Subordinate Statement", "each header kid names a key of the authority's current jwks"),
    case!("FA_016", fa_016, "call each endpoint the metadata publishes", "each answers: list 200, fetch without sub 400, resolve 200, status 4xx without a mark"),
    case!("FA_017", fa_017, "GET the configuration, fetch?sub=<subordinate>, fetch?sub=<the authority>", "iss/sub consistent; fetching the authority itself is invalid_request"),
    case!("FA_018", fa_018, "GET fetch, list, resolve, historical keys and an error", "each with the media type the spec gives it"),
    case!("FA_020", fa_020, "collect and validate the subordinate's trust chain", "the metadata policy applies without conflict; resolve (if published) agrees"),
    case!("ATT-001", att_001, "GET /resolve for an entity outside the federation", "an error, never a resolved statement"),
    case!("ATT-005", att_005, "GET every statement the authority serves", "each signature verifies with the authority's current keys"),
    case!("ATT-006", att_006, "GET the configuration and a Subordinate Statement", "every key of sufficient strength: EC P-256 or larger, RSA of at least 2048 bits"),
    case!("ATT-007", att_007, "GET a Subordinate Statement and the subordinate's configuration", "the keys the authority vouches for are the subordinate's own"),
    case!("ATT-011", att_011, "POST its own Entity Configuration to the trust mark status endpoint as a trust_mark", "not reported active: a JWT of another type is not a trust mark"),
    case!("ATT-012", att_012, "POST a Subordinate Statement it signed to the trust mark status endpoint as a trust_mark", "not reported active: a statement is not substituted for a trust mark"),
    case!("ATT-013", att_013, "GET the configuration and a Subordinate Statement", "iat within 120 s of now"),
    case!("ATT-003", att_003, "GET the Entity Configuration", "the header alg fits the signing key's type and curve"),
    case!("ATT-004", att_004, "GET the configuration and a Subordinate Statement", "only algorithms of the IT-Wallet list"),
    case!("ATT-010", att_010, "GET every statement the authority serves", "each has an explicit typ for its kind"),
    case!("ATT-014", att_014, "GET the configuration and a Subordinate Statement", "exp later than iat"),
    case!("ATT-015", att_015, "GET the configuration and a Subordinate Statement", "each claim of the statement's data model of its JSON type (strings, integers, objects, arrays of the right members)"),
    case!("ALL-003", all_003, "GET /.well-known/openid-federation", "a signed self-description: metadata, jwks (and trust marks, if any, as JWTs)"),
    case!("ALL-004", all_004, "GET the historical keys endpoint", "published and signed (skipped when the authority publishes none)"),
    case!("ATT-002", att_002, "GET /resolve for its subordinate up to a trust anchor nobody trusts", "an error (404 invalid_trust_anchor), never a resolved statement"),
    case!("ATT-008", att_008, "GET every statement the authority serves, unauthenticated", "none carries an aud: they are addressed to no one in particular"),
    case!("ATT-009", att_009, "GET /resolve for its subordinate", "every trust mark passed on verifies: the subject's, unexpired, from an issuer the anchor trusts, signed by it"),
    case!("ALL-001", all_001, "GET /resolve for its subordinate and the anchor's configuration", "the statements the anchor issued in the trust_chain verify with the anchor's keys as published now"),
    case!("ALL-002", all_002, "GET /resolve for the authority itself", "a resolve response about it whose trust_chain validates to the anchor"),
    case!("ALL-007", all_007, "GET every statement and key the authority publishes", "only allowed algorithms and key types"),
];

/// The start of a response body, for failure messages.
fn brief(r: &Response) -> String {
    r.text().chars().take(300).collect()
}

fn now() -> i64 {
    UnixTime::now().secs()
}

/// An entity's configuration, fetched, decoded and recorded.
fn configuration_of(ctx: &mut Ctx<'_>, entity: &str) -> Step<(Response, Jwt)> {
    let url = format!("{}/.well-known/openid-federation", entity.trim_end_matches('/'));
    let r = ctx.get(&url, &[])?;
    ensure(r.status == 200, || format!("GET {url} answered {}", r.status))?;
    let text = r.text();
    ctx.record_jwt(format!("Entity Configuration of {entity}"), &text);
    let jwt = Jwt::decode("the Entity Configuration", &text)?;
    Ok((r, jwt))
}

fn own(ctx: &mut Ctx<'_>) -> Step<(Response, Jwt)> {
    let id = ctx.target.entity_id.to_string();
    configuration_of(ctx, &id)
}

fn keys(jwt: &Jwt) -> Vec<Value> {
    Jwt::keys_of(jwt.payload.get("jwks"))
}

fn federation_entity(ec: &Jwt) -> Step<&Map<String, Value>> {
    match ec.payload.get("metadata").and_then(|m| m.get("federation_entity")).and_then(Value::as_object) {
        Some(m) => Ok(m),
        None => fail("the Entity Configuration has no metadata.federation_entity"),
    }
}

fn endpoint(ec: &Jwt, name: &str) -> Option<String> {
    ec.payload.get("metadata").and_then(|m| m.get("federation_entity")).and_then(|m| m.get(name)).and_then(Value::as_str).map(str::to_owned)
}

fn required_endpoint(ec: &Jwt, name: &str) -> Step<String> {
    match endpoint(ec, name) {
        Some(e) => Ok(e),
        None => fail(format!("metadata.federation_entity has no {name}")),
    }
}

fn with_query(endpoint: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        url.append_pair(k, v);
    }
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{sep}{}", url.finish())
}

/// The subordinate to test with: `--subordinate`, or the first `/list` gives (skipped when
/// the authority has none).
fn subordinate(ctx: &mut Ctx<'_>, ec: &Jwt) -> Step<String> {
    if let Some(s) = &ctx.target.subordinate {
        return Ok(s.to_string());
    }
    let list = required_endpoint(ec, "federation_list_endpoint")?;
    let r = ctx.get(&list, &[])?;
    ensure(r.status == 200, || format!("GET {list} answered {}", r.status))?;
    let ids = r.json().ok().and_then(|v| v.as_array().cloned()).unwrap_or_default();
    match ids.first().and_then(Value::as_str) {
        Some(s) => {
            ctx.note(format!("testing with subordinate {s} (the first of {})", ids.len()));
            Ok(s.to_owned())
        }
        None => skip("the authority lists no subordinate: give one with --subordinate"),
    }
}

/// `fetch?sub=…`, decoded and recorded.
fn fetch(ctx: &mut Ctx<'_>, ec: &Jwt, sub: &str) -> Step<(Response, Jwt)> {
    let endpoint = required_endpoint(ec, "federation_fetch_endpoint")?;
    let url = with_query(&endpoint, &[("sub", sub)]);
    let r = ctx.get(&url, &[])?;
    ensure(r.status == 200, || format!("GET {url} answered {}: {}", r.status, r.text()))?;
    let text = r.text();
    ctx.record_jwt(format!("Subordinate Statement about {sub}"), &text);
    let jwt = Jwt::decode("the Subordinate Statement", &text)?;
    Ok((r, jwt))
}

fn media(ctx: &mut Ctx<'_>, what: &str, r: &Response, expected: &str) -> Step<()> {
    let got = r.media_type().unwrap_or_default();
    ctx.note(format!("{what}: Content-Type {got}"));
    ensure(got == expected, || format!("{what}: Content-Type `{got}`, expected `{expected}`"))
}

fn fa_001(ctx: &mut Ctx<'_>) -> Step<()> {
    let (r, _) = own(ctx)?;
    media(ctx, "the Entity Configuration", &r, STATEMENT_MEDIA)
}

fn fa_002(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    ec.verify_with("the Entity Configuration", &keys(&ec))
}

fn fa_003(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    header_checks("the Entity Configuration", &ec, &keys(&ec))
}

fn header_checks(what: &str, jwt: &Jwt, keys: &[Value]) -> Step<()> {
    let alg = jwt.header_str("alg").unwrap_or_default();
    ensure(ALLOWED_ALGS.contains(&alg), || format!("{what}: alg `{alg}` is not one of {}", ALLOWED_ALGS.join(", ")))?;
    let typ = jwt.header_str("typ").unwrap_or_default();
    ensure(typ == STATEMENT_TYP, || format!("{what}: typ `{typ}`, expected `{STATEMENT_TYP}`"))?;
    if let Some(kid) = jwt.header_str("kid") {
        ensure(keys.iter().any(|k| k.get("kid").and_then(Value::as_str) == Some(kid)), || format!("{what}: kid `{kid}` is not in the jwks"))?;
    }
    Ok(())
}

fn fa_004(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let me = ctx.target.entity_id.to_string();
    let (iss, sub) = (ec.claim_str("iss").unwrap_or_default(), ec.claim_str("sub").unwrap_or_default());
    ensure(iss == me && sub == me, || format!("iss `{iss}` and sub `{sub}` must both be `{me}`"))?;
    check_times("the Entity Configuration", &ec)
}

fn fa_005(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    ensure(!keys(&ec).is_empty(), || "the Entity Configuration has no jwks.keys".into())?;
    let fe = federation_entity(&ec)?;
    for e in ["federation_fetch_endpoint", "federation_list_endpoint"] {
        ensure(fe.get(e).and_then(Value::as_str).is_some_and(|u| u.starts_with("http")), || format!("metadata.federation_entity.{e} is missing or not a URL"))?;
    }
    Ok(())
}

/// Whether a JWK is an allowed signing key: EC P-256/384/521 or RSA of at least 2048 bits.
fn key_problem(k: &Value) -> Option<String> {
    let kid = k.get("kid").and_then(Value::as_str).unwrap_or("(no kid)").to_owned();
    match k.get("kty").and_then(Value::as_str) {
        Some("EC") => {
            let crv = k.get("crv").and_then(Value::as_str).unwrap_or_default();
            (!["P-256", "P-384", "P-521"].contains(&crv)).then(|| format!("key {kid}: curve `{crv}` is not allowed"))
        }
        Some("RSA") => {
            let n = k.get("n").and_then(Value::as_str).map_or(0, |n| n.trim_end_matches('=').len() * 6);
            (n < 2048 - 6).then(|| format!("key {kid}: RSA modulus of about {n} bits, at least 2048 needed"))
        }
        other => Some(format!("key {kid}: kty {other:?} is not allowed for signing")),
    }
    .or_else(|| Jwk::from_value(k).err().map(|e| format!("key {kid}: {e}")))
}

fn fa_006(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let keys = keys(&ec);
    ensure(!keys.is_empty(), || "no keys".into())?;
    let mut kids = std::collections::BTreeSet::new();
    for k in &keys {
        if let Some(p) = key_problem(k) {
            return fail(p);
        }
        let kid = k.get("kid").and_then(Value::as_str).unwrap_or_default();
        ensure(!kid.is_empty(), || "a key has no kid".into())?;
        ensure(kids.insert(kid.to_owned()), || format!("kid `{kid}` appears twice"))?;
    }
    if let Some(hist) = endpoint(&ec, "federation_historical_keys_endpoint") {
        let r = ctx.get(&hist, &[])?;
        if r.status == 200
            && let Ok(h) = Jwt::decode("the historical keys", &r.text())
        {
            for old in h.payload.get("keys").and_then(Value::as_array).into_iter().flatten() {
                let kid = old.get("kid").and_then(Value::as_str).unwrap_or_default();
                let revoked = old.get("revoked").is_some();
                let expired = old.get("exp").and_then(Value::as_i64).is_some_and(|e| e <= now());
                ensure(!(kids.contains(kid) && (revoked || expired)), || format!("current key `{kid}` is listed as revoked or expired in the historical keys"))?;
            }
        }
    }
    Ok(())
}

fn fa_007(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    check_times("the Entity Configuration", &ec)?;
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    check_times("the Subordinate Statement", &ss)
}

fn fa_008(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    ss.verify_with("the Subordinate Statement", &keys(&ec))?;
    header_checks("the Subordinate Statement", &ss, &keys(&ec))?;
    let me = ctx.target.entity_id.to_string();
    let (iss, got_sub) = (ss.claim_str("iss").unwrap_or_default(), ss.claim_str("sub").unwrap_or_default());
    ensure(iss == me, || format!("iss `{iss}` is not the authority `{me}`"))?;
    ensure(got_sub == sub, || format!("sub `{got_sub}` is not the requested `{sub}`"))?;
    check_times("the Subordinate Statement", &ss)
}

fn thumbprints(keys: &[Value]) -> std::collections::BTreeSet<String> {
    keys.iter().filter_map(|k| Jwk::from_value(k).ok()).map(|k| k.thumbprint().as_str().to_owned()).collect()
}

fn fa_009(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    let stated = keys(&ss);
    ensure(!stated.is_empty(), || "the Subordinate Statement has no jwks.keys".into())?;
    let (_, sub_ec) = configuration_of(ctx, &sub)?;
    let own_keys = thumbprints(&keys(&sub_ec));
    let stated_tp = thumbprints(&stated);
    ctx.note(format!("statement keys {stated_tp:?}; the subordinate's own {own_keys:?}"));
    ensure(stated_tp.iter().any(|t| own_keys.contains(t)), || "none of the statement's keys is a key of the subordinate's own configuration".into())?;
    for m in ["metadata", "metadata_policy", "constraints"] {
        ensure(ss.payload.get(m).is_none_or(Value::is_object), || format!("{m} is not a JSON object"))?;
    }
    Ok(())
}

fn fa_010(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let list = required_endpoint(&ec, "federation_list_endpoint")?;
    let r = ctx.get(&list, &[])?;
    ensure(r.status == 200, || format!("list answered {}", r.status))?;
    media(ctx, "list", &r, "application/json")?;
    let v = r.json().unwrap_or(Value::Null);
    let arr = v.as_array().map(Vec::as_slice).unwrap_or_default();
    ensure(v.is_array(), || "the list is not a JSON array".into())?;
    for id in arr {
        ensure(id.as_str().is_some_and(|s| EntityId::new(s).is_ok()), || format!("`{id}` is not an entity identifier"))?;
    }
    ctx.note(format!("{} subordinates listed", arr.len()));
    Ok(())
}

/// How many listed subordinates FA_011 looks through for a mark the authority issued.
const MARK_SEARCH: usize = 20;

/// A trust mark issued by the authority: from its own configuration's `trust_marks`, or from
/// a subordinate's: `--subordinate`, else each of the first [`MARK_SEARCH`] `/list` gives (the
/// order of `/list` is the authority's, and not every subordinate holds a mark).
fn issued_mark(ctx: &mut Ctx<'_>, ec: &Jwt) -> Step<String> {
    let me = ctx.target.entity_id.to_string();
    let from = |c: &Jwt| -> Option<String> {
        c.payload.get("trust_marks").and_then(Value::as_array)?.iter().filter_map(|m| m.get("trust_mark").and_then(Value::as_str)).find_map(|t| {
            let j = crate::evidence::DecodedJwt::decode("", t)?;
            (j.payload.get("iss").and_then(Value::as_str) == Some(me.as_str())).then(|| t.to_owned())
        })
    };
    if let Some(m) = from(ec) {
        return Ok(m);
    }
    let candidates = match &ctx.target.subordinate {
        Some(s) => vec![s.to_string()],
        None => {
            let list = required_endpoint(ec, "federation_list_endpoint")?;
            let r = ctx.get(&list, &[])?;
            ensure(r.status == 200, || format!("GET {list} answered {}", r.status))?;
            let ids = r.json().ok().and_then(|v| v.as_array().cloned()).unwrap_or_default();
            ids.iter().filter_map(Value::as_str).take(MARK_SEARCH).map(str::to_owned).collect()
        }
    };
    for sub in &candidates {
        // A subordinate whose configuration cannot be read holds no mark for this test.
        let url = format!("{}/.well-known/openid-federation", sub.trim_end_matches('/'));
        let r = ctx.get(&url, &[])?;
        let text = r.text();
        ctx.record_jwt(format!("Entity Configuration of {sub}"), &text);
        let Ok(sub_ec) = Jwt::decode("the Entity Configuration", &text) else { continue };
        if let Some(m) = from(&sub_ec) {
            ctx.note(format!("the trust mark asked about is {sub}'s"));
            return Ok(m);
        }
    }
    skip(format!("no trust mark issued by {me} found in its configuration or in those of {}", candidates.join(", ")))
}

fn fa_011(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let Some(status) = endpoint(&ec, "federation_trust_mark_status_endpoint") else {
        return skip("no federation_trust_mark_status_endpoint in the metadata");
    };
    let mark = issued_mark(ctx, &ec)?;
    ctx.record_jwt("the trust mark asked about", &mark);
    let form = url::form_urlencoded::Serializer::new(String::new()).append_pair("trust_mark", &mark).finish();
    let r = ctx.send("POST", &status, &[("content-type", "application/x-www-form-urlencoded")], Some(form.as_bytes()))?;
    ensure(r.status == 200, || format!("status of an issued mark answered {}: {}", r.status, r.text()))?;
    let reported = status_reported(ctx, &r, &ec)?;
    ensure(reported == "active", || format!("the mark the authority issued is reported `{reported}`, not active"))?;
    // The matrix's case: a mark for a subject it never marked (the issued mark's payload with
    // another `sub`, so its signature no longer fits either).
    let mut payload = Jwt::decode("the trust mark", &mark)?.payload;
    payload.insert("sub".to_owned(), Value::String("https://unknown.conformance.invalid".to_owned()));
    let unknown_sub = match (mark.split_once('.'), mark.rsplit_once('.'), serde_json::to_vec(&payload)) {
        (Some((head, _)), Some((_, sig)), Ok(p)) => format!("{head}.{}.{sig}", URL_SAFE_NO_PAD.encode(p)),
        _ => return fail("the trust mark is not a JWS"),
    };
    not_active(ctx, &status, &unknown_sub, "a mark about a subject it never marked", &ec)?;
    // A well-formed mark nobody issued (the issued one with its signature replaced).
    let forged = match mark.rsplit_once('.') {
        Some((head, _)) => format!("{head}.AAAA"),
        None => return fail("the trust mark is not a JWS"),
    };
    not_active(ctx, &status, &forged, "a mark it did not issue (its own mark with the signature replaced)", &ec)
}

/// `mark`, which the authority did not issue, sent to its status endpoint: a 4xx
/// (`not_found`, draft 48 §8.4) or a 200 whose status is not `active` (§8.4.2 defines
/// `invalid`, `expired`, `revoked` besides it).
fn not_active(ctx: &mut Ctx<'_>, status: &str, mark: &str, what: &str, ec: &Jwt) -> Step<()> {
    let body = url::form_urlencoded::Serializer::new(String::new()).append_pair("trust_mark", mark).finish();
    let r = ctx.send("POST", status, &[("content-type", "application/x-www-form-urlencoded")], Some(body.as_bytes()))?;
    if (400..500).contains(&r.status) {
        return Ok(());
    }
    ensure(r.status == 200, || format!("status of {what} answered {}, expected 4xx or a status other than active", r.status))?;
    let reported = status_reported(ctx, &r, ec)?;
    ensure(reported != "active", || format!("{what} is reported active"))
}

/// The status a 200 trust mark status response gives: a signed
/// `trust-mark-status-response+jwt` (draft 48 §8.4.2, verified with the authority's keys) or
/// the legacy JSON `{"active": bool}` (SPID/CIE), read as `active` / `inactive`.
fn status_reported(ctx: &mut Ctx<'_>, r: &Response, ec: &Jwt) -> Step<String> {
    if r.media_type().as_deref() == Some("application/json") {
        ctx.note("legacy JSON status response");
        let active = r.json().ok().and_then(|v| v.get("active").and_then(Value::as_bool)) == Some(true);
        return Ok(if active { "active" } else { "inactive" }.to_owned());
    }
    let jwt = Jwt::decode("the trust mark status response", &r.text())?;
    ctx.record_jwt("the trust mark status response", &jwt.raw);
    jwt.verify_with("the trust mark status response", &keys(ec))?;
    Ok(jwt.claim_str("status").unwrap_or("(none)").to_owned())
}

fn fa_012(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let Some(hist) = endpoint(&ec, "federation_historical_keys_endpoint") else {
        return skip("no federation_historical_keys_endpoint in the metadata (optional)");
    };
    let r = ctx.get(&hist, &[])?;
    ensure(r.status == 200, || format!("historical keys answered {}", r.status))?;
    media(ctx, "historical keys", &r, "application/jwk-set+jwt")?;
    let h = Jwt::decode("the historical keys", &r.text())?;
    ctx.record_jwt("historical keys", &h.raw);
    ensure(h.header_str("typ") == Some("jwk-set+jwt"), || format!("typ {:?}, expected jwk-set+jwt", h.header_str("typ")))?;
    h.verify_with("the historical keys", &keys(&ec))?;
    let me = ctx.target.entity_id.to_string();
    ensure(h.claim_str("iss") == Some(me.as_str()), || format!("iss {:?} is not the authority", h.claim_str("iss")))?;
    ensure(h.claim_i64("iat").is_some(), || "no iat".into())?;
    let Some(list) = h.payload.get("keys").and_then(Value::as_array) else {
        return fail("no keys array");
    };
    for k in list {
        let kid = k.get("kid").and_then(Value::as_str).unwrap_or_default();
        ensure(!kid.is_empty(), || "a historical key has no kid".into())?;
        ensure(k.get("exp").and_then(Value::as_i64).is_some(), || format!("historical key {kid} has no exp"))?;
        if let Some(rev) = k.get("revoked") {
            ensure(rev.get("revoked_at").and_then(Value::as_i64).is_some(), || format!("historical key {kid}: revoked without revoked_at"))?;
            let reason = rev.get("reason").and_then(Value::as_str).unwrap_or("unspecified");
            ensure(REVOCATION_REASONS.contains(&reason), || format!("historical key {kid}: reason `{reason}` is not one of the spec's"))?;
        }
    }
    ctx.note(format!("{} historical keys", list.len()));
    Ok(())
}

/// Every statement the authority serves: its configuration, a subordinate statement, the
/// historical keys and a resolve response when published.
fn served_statements(ctx: &mut Ctx<'_>) -> Step<Vec<(String, Jwt)>> {
    let (_, ec) = own(ctx)?;
    let mut out = vec![("the Entity Configuration".to_owned(), ec.clone())];
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    out.push(("the Subordinate Statement".into(), ss));
    if let Some(hist) = endpoint(&ec, "federation_historical_keys_endpoint") {
        let r = ctx.get(&hist, &[])?;
        if r.status == 200 {
            out.push(("the historical keys".into(), Jwt::decode("the historical keys", &r.text())?));
        }
    }
    if let Some(resolve) = endpoint(&ec, "federation_resolve_endpoint") {
        let anchor = anchor_id(ctx);
        let r = ctx.get(&with_query(&resolve, &[("sub", &sub), ("trust_anchor", &anchor)]), &[])?;
        if r.status == 200 {
            out.push(("the resolve response".into(), Jwt::decode("the resolve response", &r.text())?));
        }
    }
    Ok(out)
}

fn anchor_id(ctx: &Ctx<'_>) -> String {
    ctx.target.trust_anchor.as_ref().map_or_else(|| ctx.target.entity_id.to_string(), |a| a.id.to_string())
}

fn fa_014(ctx: &mut Ctx<'_>) -> Step<()> {
    for (what, jwt) in served_statements(ctx)? {
        let alg = jwt.header_str("alg").unwrap_or("(none)");
        ctx.note(format!("{what}: alg {alg}"));
        ensure(ALLOWED_ALGS.contains(&alg), || format!("{what} is signed with `{alg}`, not an allowed algorithm"))?;
    }
    Ok(())
}

fn fa_015(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let current = keys(&ec);
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    for (what, jwt) in [("the Entity Configuration", &ec), ("the Subordinate Statement", &ss)] {
        let Some(kid) = jwt.header_str("kid") else {
            return fail(format!("{what} has no kid (OpenID Federation requires one)"));
        };
        ensure(current.iter().any(|k| k.get("kid").and_then(Value::as_str) == Some(kid)), || format!("{what}: kid `{kid}` is not in the authority's jwks"))?;
        jwt.verify_with(what, &current)?;
    }
    Ok(())
}

fn fa_016(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let list = required_endpoint(&ec, "federation_list_endpoint")?;
    let r = ctx.get(&list, &[])?;
    ensure(r.status == 200, || format!("list answered {}", r.status))?;
    let fetch_ep = required_endpoint(&ec, "federation_fetch_endpoint")?;
    let r = ctx.get(&fetch_ep, &[])?;
    ensure(r.status == 400, || format!("fetch without sub answered {}, expected 400", r.status))?;
    let r = ctx.get(&with_query(&fetch_ep, &[("sub", "https://unknown.conformance.invalid")]), &[])?;
    ensure(r.status == 404, || format!("fetch of an unknown subordinate answered {}, expected 404", r.status))?;
    if let Some(resolve) = endpoint(&ec, "federation_resolve_endpoint") {
        let sub = subordinate(ctx, &ec)?;
        let anchor = anchor_id(ctx);
        let r = ctx.get(&with_query(&resolve, &[("sub", &sub), ("trust_anchor", &anchor)]), &[])?;
        ensure(r.status == 200, || format!("resolve of {sub} answered {}: {}", r.status, brief(&r)))?;
    }
    if let Some(status) = endpoint(&ec, "federation_trust_mark_status_endpoint") {
        let r = ctx.send("POST", &status, &[("content-type", "application/x-www-form-urlencoded")], Some(b""))?;
        ensure((400..500).contains(&r.status), || format!("trust mark status without a mark answered {}, expected 4xx", r.status))?;
    }
    if let Some(hist) = endpoint(&ec, "federation_historical_keys_endpoint") {
        let r = ctx.get(&hist, &[])?;
        ensure(r.status == 200, || format!("historical keys answered {}", r.status))?;
    }
    Ok(())
}

fn fa_017(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let me = ctx.target.entity_id.to_string();
    ensure(ec.claim_str("iss") == Some(me.as_str()) && ec.claim_str("sub") == Some(me.as_str()), || "the configuration's iss and sub are not both the authority".into())?;
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    ensure(ss.claim_str("iss") == Some(me.as_str()), || format!("the statement's iss {:?} is not the authority", ss.claim_str("iss")))?;
    ensure(ss.claim_str("sub") == Some(sub.as_str()), || format!("the statement's sub {:?} is not {sub}", ss.claim_str("sub")))?;
    let fetch_ep = required_endpoint(&ec, "federation_fetch_endpoint")?;
    let r = ctx.get(&with_query(&fetch_ep, &[("sub", &me)]), &[])?;
    ensure(r.status == 400, || format!("fetch of the authority itself answered {}, expected 400 invalid_request", r.status))?;
    let code = r.json().ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    ensure(code.as_deref() == Some("invalid_request"), || format!("error {code:?}, expected invalid_request"))
}

fn fa_018(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let sub = subordinate(ctx, &ec)?;
    let (r, _) = fetch(ctx, &ec, &sub)?;
    media(ctx, "fetch", &r, STATEMENT_MEDIA)?;
    let list = required_endpoint(&ec, "federation_list_endpoint")?;
    let r = ctx.get(&list, &[])?;
    media(ctx, "list", &r, "application/json")?;
    if let Some(resolve) = endpoint(&ec, "federation_resolve_endpoint") {
        let anchor = anchor_id(ctx);
        let r = ctx.get(&with_query(&resolve, &[("sub", &sub), ("trust_anchor", &anchor)]), &[])?;
        media(ctx, "resolve", &r, "application/resolve-response+jwt")?;
    }
    if let Some(hist) = endpoint(&ec, "federation_historical_keys_endpoint") {
        let r = ctx.get(&hist, &[])?;
        media(ctx, "historical keys", &r, "application/jwk-set+jwt")?;
    }
    let fetch_ep = required_endpoint(&ec, "federation_fetch_endpoint")?;
    let r = ctx.get(&fetch_ep, &[])?;
    media(ctx, "an error", &r, "application/json")
}

/// A [`Fetcher`] over the tool's client that keeps the exchanges for the evidence.
struct Recording<'a> {
    http: &'a Http,
    exchanges: Mutex<Vec<Exchange>>,
}

impl Fetcher for Recording<'_> {
    fn get(&self, url: &str, accept: &str) -> Result<String, FederationError> {
        let (r, ex) = self.http.send("GET", url, &[("accept", accept)], None);
        if let Ok(mut v) = self.exchanges.lock() {
            v.push(ex);
        }
        match r {
            Ok(r) if r.status == 200 => Ok(r.text()),
            Ok(r) => Err(FederationError::Fetch { url: url.to_owned(), reason: format!("HTTP {}", r.status) }),
            Err(e) => Err(FederationError::Fetch { url: url.to_owned(), reason: e.detail }),
        }
    }
}

fn anchor_config(ctx: &mut Ctx<'_>, ec: &Jwt) -> Step<TrustAnchorConfig> {
    if let Some(a) = &ctx.target.trust_anchor {
        return Ok(a.clone());
    }
    let jwks = JwkSet { keys: keys(ec).iter().filter_map(|k| Jwk::from_value(k).ok()).collect() };
    match EntityId::new(ctx.target.entity_id.to_string()) {
        Ok(id) => Ok(TrustAnchorConfig { id, jwks }),
        Err(e) => fail(format!("the target is not an entity identifier: {e}")),
    }
}

fn fa_020(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    if ss.payload.get("metadata_policy").is_none() {
        ctx.note("the Subordinate Statement carries no metadata_policy: the chain is still resolved");
    }
    let anchor = anchor_config(ctx, &ec)?;
    let anchors = [anchor];
    let recording = Recording { http: ctx.http(), exchanges: Mutex::new(Vec::new()) };
    let subject = match EntityId::new(sub.clone()) {
        Ok(s) => s,
        Err(e) => return fail(format!("`{sub}` is not an entity identifier: {e}")),
    };
    let chain = ChainCollector::new(&recording, &anchors).resolve(&subject, UnixTime::now());
    ctx.evidence.exchanges.extend(recording.exchanges.into_inner().unwrap_or_default());
    let chain = match chain {
        Ok(c) => c,
        Err(e) => return fail(format!("the trust chain of {sub} does not validate: {e}")),
    };
    ctx.note_json("resolved metadata", &Value::Object(chain.metadata.clone()));
    if let Some(resolve) = endpoint(&ec, "federation_resolve_endpoint") {
        let anchor = anchor_id(ctx);
        let r = ctx.get(&with_query(&resolve, &[("sub", &sub), ("trust_anchor", &anchor)]), &[])?;
        ensure(r.status == 200, || format!("resolve answered {}: {}", r.status, brief(&r)))?;
        let resp = Jwt::decode("the resolve response", &r.text())?;
        ctx.record_jwt("resolve response", &resp.raw);
        let theirs = resp.payload.get("metadata").cloned().unwrap_or(Value::Null);
        // Arrays compare as sets: a `subset_of`/`superset_of` result has no defined order
        // (draft 48 §6.1.3.1), and PyPI spid-cie-oidc reorders them.
        ensure(unordered(theirs) == unordered(Value::Object(chain.metadata.clone())), || "the resolve endpoint's metadata differs from the policy applied to the chain".into())?;
    }
    Ok(())
}

/// `v` with every array of scalars sorted, for comparisons where order carries no meaning.
fn unordered(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.into_iter().map(unordered).collect();
            if items.iter().all(|i| !i.is_array() && !i.is_object()) {
                items.sort_by_key(ToString::to_string);
            }
            Value::Array(items)
        }
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, unordered(v))).collect()),
        other => other,
    }
}

fn att_003(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let kid = ec.header_str("kid").unwrap_or_default().to_owned();
    let alg = ec.header_str("alg").unwrap_or_default().to_owned();
    let Some(key) = keys(&ec).into_iter().find(|k| k.get("kid").and_then(Value::as_str) == Some(kid.as_str())) else {
        return fail(format!("no key with the header's kid `{kid}`"));
    };
    let fits = match (key.get("kty").and_then(Value::as_str), key.get("crv").and_then(Value::as_str)) {
        (Some("EC"), Some("P-256")) => alg == "ES256",
        (Some("EC"), Some("P-384")) => alg == "ES384",
        (Some("EC"), Some("P-521")) => alg == "ES512",
        (Some("RSA"), _) => alg.starts_with("PS") || alg.starts_with("RS"),
        _ => false,
    };
    ensure(fits, || format!("alg `{alg}` does not fit key `{kid}` ({})", key.get("kty").and_then(Value::as_str).unwrap_or("?")))?;
    ec.verify_with("the Entity Configuration", &keys(&ec))
}

fn att_004(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    for (what, j) in [("the Entity Configuration", &ec), ("the Subordinate Statement", &ss)] {
        let alg = j.header_str("alg").unwrap_or("(none)");
        ensure(ALLOWED_ALGS.contains(&alg), || format!("{what}: `{alg}` is not an approved algorithm"))?;
    }
    Ok(())
}

fn att_010(ctx: &mut Ctx<'_>) -> Step<()> {
    for (what, jwt) in served_statements(ctx)? {
        let expected = match what.as_str() {
            "the historical keys" => "jwk-set+jwt",
            "the resolve response" => "resolve-response+jwt",
            _ => STATEMENT_TYP,
        };
        let typ = jwt.header_str("typ").unwrap_or("(none)");
        ensure(typ == expected, || format!("{what}: typ `{typ}`, expected `{expected}`"))?;
    }
    Ok(())
}

fn att_014(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    for (what, j) in [("the Entity Configuration", &ec), ("the Subordinate Statement", &ss)] {
        let (iat, exp) = (j.claim_i64("iat"), j.claim_i64("exp"));
        ensure(matches!((iat, exp), (Some(i), Some(e)) if e > i), || format!("{what}: exp {exp:?} is not later than iat {iat:?}"))?;
    }
    Ok(())
}

fn all_003(ctx: &mut Ctx<'_>) -> Step<()> {
    let (r, ec) = own(ctx)?;
    media(ctx, "the Entity Configuration", &r, STATEMENT_MEDIA)?;
    ec.verify_with("the Entity Configuration", &keys(&ec))?;
    ensure(ec.payload.get("metadata").is_some_and(Value::is_object), || "no metadata".into())?;
    ensure(!keys(&ec).is_empty(), || "no jwks".into())?;
    for m in ec.payload.get("trust_marks").and_then(Value::as_array).into_iter().flatten() {
        let t = m.get("trust_mark").and_then(Value::as_str).unwrap_or_default();
        ensure(crate::evidence::DecodedJwt::decode("", t).is_some(), || "a trust_marks entry has no trust_mark JWT".into())?;
    }
    Ok(())
}

fn all_004(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let Some(hist) = endpoint(&ec, "federation_historical_keys_endpoint") else {
        return skip("no federation_historical_keys_endpoint in the metadata");
    };
    let r = ctx.get(&hist, &[])?;
    ensure(r.status == 200, || format!("historical keys answered {}", r.status))?;
    let h = Jwt::decode("the historical keys", &r.text())?;
    h.verify_with("the historical keys", &keys(&ec))
}

fn all_007(ctx: &mut Ctx<'_>) -> Step<()> {
    let statements = served_statements(ctx)?;
    for (what, jwt) in &statements {
        let alg = jwt.header_str("alg").unwrap_or("(none)");
        ensure(ALLOWED_ALGS.contains(&alg), || format!("{what}: `{alg}` is not allowed"))?;
    }
    if let Some((_, ec)) = statements.first() {
        for k in keys(ec) {
            if let Some(p) = key_problem(&k) {
                return fail(p);
            }
        }
    }
    Ok(())
}

// --- ATT rows: what the authority's statements and answers show (IT-Wallet 1.4
// `test-plans-signature.rst`). ---

fn att_001(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let Some(resolve) = endpoint(&ec, "federation_resolve_endpoint") else { return skip("no federation_resolve_endpoint in the metadata") };
    let anchor = anchor_id(ctx);
    let r = ctx.get(&with_query(&resolve, &[("sub", "https://undiscoverable.conformance.invalid"), ("trust_anchor", &anchor)]), &[])?;
    ensure((400..500).contains(&r.status), || format!("resolving an entity outside the federation answered {}: {}", r.status, brief(&r)))
}

/// The strength of a key: EC on P-256 or a larger curve, RSA of at least 2048 bits.
fn weak_key(k: &Value) -> Option<String> {
    let kid = k.get("kid").and_then(Value::as_str).unwrap_or("(no kid)");
    match k.get("kty").and_then(Value::as_str) {
        Some("EC") => {
            let crv = k.get("crv").and_then(Value::as_str).unwrap_or_default();
            (!["P-256", "P-384", "P-521"].contains(&crv)).then(|| format!("key {kid}: curve `{crv}`"))
        }
        Some("RSA") => {
            let bits = k.get("n").and_then(Value::as_str).and_then(|n| URL_SAFE_NO_PAD.decode(n.trim_end_matches('=')).ok()).map_or(0, |n| {
                let lead = n.iter().take_while(|b| **b == 0).count();
                n.len().saturating_sub(lead) * 8
            });
            (bits < 2048).then(|| format!("key {kid}: RSA modulus of {bits} bits, at least 2048 needed"))
        }
        other => Some(format!("key {kid}: kty {other:?}")),
    }
}

fn att_006(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let mut all = keys(&ec);
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    all.extend(keys(&ss));
    match all.iter().find_map(weak_key) {
        Some(p) => fail(format!("a weak key: {p}")),
        None => Ok(()),
    }
}

fn att_007(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    let (_, theirs) = configuration_of(ctx, &sub)?;
    let vouched = thumbprints(&keys(&ss));
    let own_keys = thumbprints(&keys(&theirs));
    ensure(!vouched.is_empty() && vouched.is_subset(&own_keys), || format!("the Subordinate Statement about {sub} vouches for keys that are not in its own configuration"))
}

fn att_011(ctx: &mut Ctx<'_>) -> Step<()> {
    let (r, ec) = own(ctx)?;
    let Some(status) = endpoint(&ec, "federation_trust_mark_status_endpoint") else { return skip("no federation_trust_mark_status_endpoint in the metadata") };
    not_active(ctx, &status, r.text().trim(), "its own Entity Configuration sent as a trust mark", &ec)
}

fn att_012(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let Some(status) = endpoint(&ec, "federation_trust_mark_status_endpoint") else { return skip("no federation_trust_mark_status_endpoint in the metadata") };
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    not_active(ctx, &status, &ss.raw, "a Subordinate Statement sent as a trust mark", &ec)
}

/// `iat` within 120 s of now (IT-Wallet 1.4 `test-plans-signature.rst`, ATT-013).
fn fresh_iat(what: &str, jwt: &Jwt) -> Step<()> {
    let Some(iat) = jwt.claim_i64("iat") else { return fail(format!("{what} has no integer iat")) };
    ensure((iat - now()).abs() <= 120, || format!("{what}: iat {iat} is {} s from now, more than 120", (iat - now()).abs()))
}

fn att_013(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    fresh_iat("the Entity Configuration", &ec)?;
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    fresh_iat("the Subordinate Statement", &ss)
}

fn att_005(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let current = keys(&ec);
    for (what, jwt) in served_statements(ctx)? {
        jwt.verify_with(&what, &current)?;
    }
    Ok(())
}

/// The JSON type of each claim of an entity statement (OpenID Federation draft 48 §3):
/// what is wrong, if anything.
fn data_model_problem(what: &str, jwt: &Jwt) -> Option<String> {
    let p = &jwt.payload;
    let bad = |claim: &str, expected: &str| Some(format!("{what}: `{claim}` is not {expected}"));
    for c in ["iss", "sub"] {
        if !p.get(c).is_some_and(Value::is_string) {
            return bad(c, "a string");
        }
    }
    for c in ["iat", "exp"] {
        if !p.get(c).is_some_and(Value::is_i64) {
            return bad(c, "an integer");
        }
    }
    if !p.get("jwks").and_then(|j| j.get("keys")).and_then(Value::as_array).is_some_and(|k| k.iter().all(Value::is_object)) {
        return bad("jwks", "an object with an array of key objects");
    }
    for c in ["metadata", "metadata_policy"] {
        if p.get(c).is_some_and(|m| !m.as_object().is_some_and(|o| o.values().all(Value::is_object))) {
            return bad(c, "an object of objects");
        }
    }
    if p.get("constraints").is_some_and(|c| !c.is_object()) {
        return bad("constraints", "an object");
    }
    if p.get("authority_hints").is_some_and(|a| !a.as_array().is_some_and(|a| a.iter().all(Value::is_string))) {
        return bad("authority_hints", "an array of strings");
    }
    if p.get("trust_marks").is_some_and(|t| !t.as_array().is_some_and(|t| t.iter().all(|m| m.get("trust_mark").is_some_and(Value::is_string)))) {
        return bad("trust_marks", "an array of objects with a trust_mark string");
    }
    for c in ["source_endpoint", "trust_anchor"] {
        if p.get(c).is_some_and(|v| !v.is_string()) {
            return bad(c, "a string");
        }
    }
    None
}

fn att_015(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let sub = subordinate(ctx, &ec)?;
    let (_, ss) = fetch(ctx, &ec, &sub)?;
    match data_model_problem("the Entity Configuration", &ec).or_else(|| data_model_problem("the Subordinate Statement", &ss)) {
        Some(p) => fail(p),
        None => Ok(()),
    }
}

// --- The rows about what an authority does with what it receives: seen through its resolve
// endpoint, where it evaluates other entities' statements for a caller (draft 48 §8.3). ---

/// A trust anchor no federation knows, for ATT-002.
const UNTRUSTED_ANCHOR: &str = "https://untrusted-anchor.conformance.invalid";

/// `resolve?sub=…&trust_anchor=…`: the response and its decoded JWT (recorded), or why not.
fn resolve_of(ctx: &mut Ctx<'_>, ec: &Jwt, sub: &str) -> Step<Jwt> {
    let Some(resolve) = endpoint(ec, "federation_resolve_endpoint") else { return skip("no federation_resolve_endpoint in the metadata") };
    let anchor = anchor_id(ctx);
    let r = ctx.get(&with_query(&resolve, &[("sub", sub), ("trust_anchor", &anchor)]), &[])?;
    ensure(r.status == 200, || format!("resolve of {sub} answered {}: {}", r.status, brief(&r)))?;
    let jwt = Jwt::decode("the resolve response", &r.text())?;
    ctx.record_jwt(format!("resolve response about {sub}"), &jwt.raw);
    jwt.verify_with("the resolve response", &keys(ec))?;
    Ok(jwt)
}

/// The compact JWTs of a resolve response's `trust_chain` (draft 48 §8.3.2: REQUIRED).
fn trust_chain_of(resp: &Jwt) -> Step<Vec<String>> {
    let Some(items) = resp.payload.get("trust_chain").and_then(Value::as_array) else { return fail("the resolve response has no trust_chain array") };
    let jwts: Vec<String> = items.iter().filter_map(Value::as_str).map(str::to_owned).collect();
    ensure(!jwts.is_empty() && jwts.len() == items.len(), || "the resolve response's trust_chain is not a non-empty array of JWTs".into())?;
    Ok(jwts)
}

/// The anchor's key material as it is published now: its configuration fetched from its
/// well-known URL, checked against the keys pinned with `--trust-anchor` when given.
fn anchor_keys_now(ctx: &mut Ctx<'_>, ec: &Jwt) -> Step<Vec<Value>> {
    let anchor = anchor_id(ctx);
    let published = if anchor == ctx.target.entity_id.to_string() { keys(ec) } else { keys(&configuration_of(ctx, &anchor)?.1) };
    if let Some(pinned) = &ctx.target.trust_anchor {
        let pinned: Vec<Value> = pinned.jwks.keys.iter().filter_map(|k| serde_json::from_str(&k.to_json()).ok()).collect();
        ensure(thumbprints(&pinned).is_subset(&thumbprints(&published)), || format!("a key pinned for the anchor {anchor} is no longer in its published configuration"))?;
    }
    Ok(published)
}

/// ATT-002 (IT-Wallet 1.4 `test-plans-signature.rst`): signed statements are evaluated with
/// material trusted through a known Trust Anchor; untrusted material halts. The authority's
/// resolve endpoint asked to resolve its own subordinate up to an anchor it cannot trust must
/// answer an error (draft 48 §8.3: 404 `invalid_trust_anchor`), never a resolved statement.
fn att_002(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let Some(resolve) = endpoint(&ec, "federation_resolve_endpoint") else { return skip("no federation_resolve_endpoint in the metadata") };
    let sub = subordinate(ctx, &ec)?;
    let r = ctx.get(&with_query(&resolve, &[("sub", &sub), ("trust_anchor", UNTRUSTED_ANCHOR)]), &[])?;
    ensure((400..500).contains(&r.status), || format!("resolving {sub} up to an anchor it cannot trust ({UNTRUSTED_ANCHOR}) answered {}: {}", r.status, brief(&r)))?;
    let code = r.json().ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    ctx.note(format!("answered {} {code:?}", r.status));
    Ok(())
}

/// ATT-008: a token's audience is its intended recipient. What the authority serves to an
/// unauthenticated caller is addressed to nobody: draft 48 §8.3.2 gives a resolve response an
/// `aud` only when the caller authenticated, and entity statements carry `aud` only as
/// explicit registration responses (§3.1.2, §12.2). An `aud` there names a party the
/// anonymous caller is not.
fn att_008(ctx: &mut Ctx<'_>) -> Step<()> {
    for (what, jwt) in served_statements(ctx)? {
        if let Some(aud) = jwt.payload.get("aud") {
            return fail(format!("{what}, served to an unauthenticated caller, carries aud {aud}"));
        }
    }
    Ok(())
}

/// ATT-009: received claims are not trusted without validation. The trust marks a resolve
/// response passes on (draft 48 §8.3.2: only verified, active marks from issuers the anchor
/// trusts) each verify: about the resolved subject, unexpired, from the anchor or an issuer
/// its `trust_mark_issuers` names for the type, signed with the issuer's keys.
fn att_009(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let sub = subordinate(ctx, &ec)?;
    let resp = resolve_of(ctx, &ec, &sub)?;
    let marks = resp.payload.get("trust_marks").and_then(Value::as_array).cloned().unwrap_or_default();
    ctx.note(format!("{} trust marks passed on", marks.len()));
    if marks.is_empty() {
        return Ok(());
    }
    let anchor = anchor_id(ctx);
    let anchor_ec = if anchor == ctx.target.entity_id.to_string() { ec.clone() } else { configuration_of(ctx, &anchor)?.1 };
    for m in &marks {
        let Some(raw) = m.get("trust_mark").and_then(Value::as_str) else { return fail("a trust_marks entry has no trust_mark JWT") };
        let mark = Jwt::decode("a trust mark of the resolve response", raw)?;
        ctx.record_jwt("trust mark passed on by resolve", raw);
        let kind = mark.claim_str("trust_mark_type").or_else(|| mark.claim_str("id")).unwrap_or_default().to_owned();
        let iss = mark.claim_str("iss").unwrap_or_default().to_owned();
        ensure(mark.claim_str("sub") == Some(sub.as_str()), || format!("trust mark {kind}: sub {:?} is not the resolved {sub}", mark.claim_str("sub")))?;
        ensure(mark.claim_i64("exp").is_none_or(|e| e > now()), || format!("trust mark {kind} expired"))?;
        let listed = anchor_ec.payload.get("trust_mark_issuers").and_then(|t| t.get(&kind)).and_then(Value::as_array);
        let trusted = iss == anchor || listed.is_none_or(|l| l.iter().any(|i| i.as_str() == Some(iss.as_str())));
        ensure(trusted, || format!("trust mark {kind}: issuer {iss} is not one the anchor's trust_mark_issuers names"))?;
        let issuer_keys = if iss == anchor { keys(&anchor_ec) } else if iss == ctx.target.entity_id.to_string() { keys(&ec) } else { keys(&configuration_of(ctx, &iss)?.1) };
        mark.verify_with(&format!("trust mark {kind}"), &issuer_keys)?;
    }
    Ok(())
}

/// ALL-001: the anchors' key material is obtained from the infrastructure and kept current.
/// The chain the authority hands out in a resolve response ends at the anchor with its
/// current keys: each statement the anchor issued in it verifies with the keys the anchor
/// publishes now, and the anchor's configuration, when included, carries exactly those keys.
fn all_001(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let sub = subordinate(ctx, &ec)?;
    let resp = resolve_of(ctx, &ec, &sub)?;
    let chain = trust_chain_of(&resp)?;
    let published = anchor_keys_now(ctx, &ec)?;
    let anchor = anchor_id(ctx);
    let mut seen = 0;
    for (i, raw) in chain.iter().enumerate() {
        let s = Jwt::decode("a statement of the trust_chain", raw)?;
        if s.claim_str("iss") != Some(anchor.as_str()) {
            continue;
        }
        seen += 1;
        s.verify_with(&format!("trust_chain[{i}] (issued by the anchor)"), &published)?;
        if s.claim_str("sub") == Some(anchor.as_str()) {
            ensure(thumbprints(&keys(&s)) == thumbprints(&published), || format!("trust_chain[{i}], the anchor's configuration, carries other keys than the anchor publishes now"))?;
        }
    }
    ensure(seen > 0, || format!("no statement of the trust_chain is issued by the anchor {anchor}"))
}

/// ALL-002: entities check the trust chain about themselves. The authority resolves itself:
/// `resolve?sub=<itself>` answers a resolve response about it whose trust_chain validates to
/// the anchor (draft 48 §10.2) with its `federation_entity` metadata.
fn all_002(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, ec) = own(ctx)?;
    let me = ctx.target.entity_id.to_string();
    let resp = resolve_of(ctx, &ec, &me)?;
    ensure(resp.claim_str("sub") == Some(me.as_str()), || format!("the resolve response is about {:?}, not the authority", resp.claim_str("sub")))?;
    let chain = trust_chain_of(&resp)?;
    let anchor = anchor_config(ctx, &ec)?;
    let validated = match wallet_core::federation::chain::validate(&chain, &anchor, UnixTime::now()) {
        Ok(c) => c,
        Err(e) => return fail(format!("the trust chain the authority gives about itself does not validate: {e}")),
    };
    ensure(validated.subject.claims.sub.as_str() == me, || "the trust chain is about another entity".into())?;
    ensure(resp.payload.get("metadata").and_then(|m| m.get("federation_entity")).is_some_and(Value::is_object), || "the resolved metadata has no federation_entity".into())
}
