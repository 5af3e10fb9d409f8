//! The wallet-provider plan: a wallet provider's backend tested from outside (the `WP` rows a
//! server answers for; IT-Wallet 1.4 `wallet-provider-endpoint.rst`, `trust-infrastructure.rst`;
//! digest §2.4).
//!
//! What runs today: the Entity Configuration rows (`WP_001`–`WP_004c`), the nonce endpoint,
//! and the error rows a client without a citizen session can provoke. The rows that need a
//! registered wallet instance (registration, attestation, revocation as a wallet) need the
//! tool to log a test citizen in at the provider's OpenID Provider: not yet.
//!
//! Choices: `WP_041`/`WP_043` send the request with no `Authorization` header (a missing
//! credential) and with a bearer the provider never issued (an invalid one); both must get
//! 401 `unauthorized`.

use serde_json::Value;

use super::entity::{self, keys};
use super::jwt::Jwt;
use crate::case::{Case, Ctx, Step, ensure, fail, skip};
use crate::client::Response;
use crate::plan::Plan;

/// The metadata type of a wallet provider (IT-Wallet 1.4 §2.4).
const WALLET_SOLUTION: &str = "wallet_solution";
/// The nonce endpoint (IT-Wallet 1.4 digest §2.4, `GET /nonce`).
const NONCE: &str = "/nonce";
/// Retrieval and revocation (`/wallet-instances`, `/wallet-instances/{id}`).
const INSTANCES: &str = "/wallet-instances";

macro_rules! case {
    ($id:literal, $run:ident, $sends:literal, $expects:literal) => {
        Case { id: $id, plan: Plan::WalletProvider, sends: $sends, expects: $expects, run: $run }
    };
}

/// The plan's cases, in matrix order.
pub static CASES: &[Case] = &[
    case!("WP_001", wp_001, "GET /.well-known/openid-federation", "200 with an entity statement (application/entity-statement+jwt)"),
    case!("WP_002", wp_002, "GET the Entity Configuration", "a JWT signed with a key of its own jwks"),
    case!("WP_002a", wp_002a, "GET the Entity Configuration", "alg is an allowed algorithm, never none"),
    case!("WP_002b", wp_002b, "GET the Entity Configuration", "kid is the RFC 7638 thumbprint of the signing key"),
    case!("WP_002c", wp_002c, "GET the Entity Configuration", "typ entity-statement+jwt"),
    case!("WP_002d", wp_002d, "GET the Entity Configuration", "iss = sub = the provider's URL"),
    case!("WP_002e", wp_002e, "GET the Entity Configuration", "iat and exp integers, valid now"),
    case!("WP_002f", wp_002f, "GET the Entity Configuration", "authority_hints: a non-empty array of entity identifiers"),
    case!("WP_002g", wp_002g, "GET the Entity Configuration", "jwks: a JWKS of public keys with unique kids"),
    case!("WP_002h", wp_002h, "GET the Entity Configuration", "metadata with wallet_solution (and federation_entity if present) as objects"),
    case!("WP_003", wp_003, "GET the Entity Configuration", "wallet_solution keys are public, each for sig or enc"),
    case!("WP_004", wp_004, "GET the Entity Configuration", "wallet_solution references its keys by exactly one of jwks, jwks_uri, signed_jwks_uri"),
    case!("WP_004a", wp_004a, "GET the Entity Configuration", "jwks by value is a valid JWKS"),
    case!("WP_004b", wp_004b, "GET jwks_uri (when used)", "an https URL serving a valid JWKS"),
    case!("WP_004c", wp_004c, "GET signed_jwks_uri (when used)", "200 application/jwk-set+jwt signed with a federation key"),
    case!("WP_035a", wp_035a, "GET /wallet-instances without credentials", "an error with Content-Type application/json and error, error_description"),
    case!("WP_041", wp_041, "GET /wallet-instances without and with a forged bearer", "401 unauthorized"),
    case!("WP_043", wp_043, "PATCH /wallet-instances/{id} {status: REVOKED} without and with a forged bearer", "401 unauthorized"),
    case!("WP_131", wp_131, "GET /nonce twice", "200 JSON {nonce}, a fresh non-empty value each time"),
];

fn configuration(ctx: &mut Ctx<'_>) -> Step<Jwt> {
    entity::configuration(ctx).map(|(_, ec)| ec)
}

fn wp_001(ctx: &mut Ctx<'_>) -> Step<()> {
    let (r, _) = entity::configuration(ctx)?;
    entity::media_type(ctx, &r)
}

fn wp_002(ctx: &mut Ctx<'_>) -> Step<()> {
    entity::self_signed(&configuration(ctx)?)
}

fn wp_002a(ctx: &mut Ctx<'_>) -> Step<()> {
    entity::allowed_alg(&configuration(ctx)?)
}

fn wp_002b(ctx: &mut Ctx<'_>) -> Step<()> {
    entity::kid_is_thumbprint(&configuration(ctx)?)
}

fn wp_002c(ctx: &mut Ctx<'_>) -> Step<()> {
    entity::explicit_typ(&configuration(ctx)?)
}

fn wp_002d(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    entity::self_issued(ctx, &ec)
}

fn wp_002e(ctx: &mut Ctx<'_>) -> Step<()> {
    entity::valid_now("the Entity Configuration", &configuration(ctx)?)
}

fn wp_002f(ctx: &mut Ctx<'_>) -> Step<()> {
    entity::authority_hints(&configuration(ctx)?)
}

fn wp_002g(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    entity::public_jwks("jwks", ec.payload.get("jwks"))
}

fn wp_002h(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    let ws = entity::metadata_of(&ec, WALLET_SOLUTION)?;
    ensure(ws.get("wallet_metadata").is_none_or(Value::is_object), || "wallet_solution.wallet_metadata is not an object".into())?;
    let fe = ec.payload.get("metadata").and_then(|m| m.get("federation_entity"));
    ensure(fe.is_none_or(Value::is_object), || "metadata.federation_entity is not an object".into())
}

fn wp_003(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    let ws = entity::metadata_of(&ec, WALLET_SOLUTION)?;
    entity::metadata_jwks(WALLET_SOLUTION, ws)
}

fn wp_004(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    let ws = entity::metadata_of(&ec, WALLET_SOLUTION)?;
    let how = entity::key_reference(ws)?;
    ctx.note(format!("wallet_solution references its keys by {how}"));
    Ok(())
}

fn wp_004a(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    let ws = entity::metadata_of(&ec, WALLET_SOLUTION)?;
    match ws.get("jwks") {
        Some(j) => entity::public_jwks("wallet_solution.jwks", Some(j)),
        None => skip("wallet_solution has no jwks by value"),
    }
}

fn wp_004b(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    let ws = entity::metadata_of(&ec, WALLET_SOLUTION)?;
    let Some(uri) = ws.get("jwks_uri").and_then(Value::as_str).map(str::to_owned) else {
        return skip("wallet_solution has no jwks_uri");
    };
    ensure(uri.starts_with("https://"), || format!("jwks_uri `{uri}` is not https"))?;
    let r = ctx.get(&uri, &[])?;
    ensure(r.status == 200, || format!("jwks_uri answered {}", r.status))?;
    let v = r.json().ok();
    entity::public_jwks("the JWKS at jwks_uri", v.as_ref())
}

fn wp_004c(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    let ws = entity::metadata_of(&ec, WALLET_SOLUTION)?;
    let Some(uri) = ws.get("signed_jwks_uri").and_then(Value::as_str).map(str::to_owned) else {
        return skip("wallet_solution has no signed_jwks_uri");
    };
    ensure(uri.starts_with("https://"), || format!("signed_jwks_uri `{uri}` is not https"))?;
    let r = ctx.get(&uri, &[])?;
    ensure(r.status == 200, || format!("signed_jwks_uri answered {}", r.status))?;
    let media = r.media_type().unwrap_or_default();
    ensure(media == "application/jwk-set+jwt", || format!("Content-Type `{media}`, expected application/jwk-set+jwt"))?;
    let jwt = Jwt::decode("the signed JWKS", &r.text())?;
    ctx.record_jwt("signed JWKS", &jwt.raw);
    jwt.verify_with("the signed JWKS", &keys(&ec))?;
    entity::public_jwks("the signed JWKS", Some(&Value::Object(jwt.payload.clone())))
}

/// An OAuth-style error body: JSON with `error` and `error_description`; returns the code.
fn error_body(what: &str, r: &Response) -> Step<String> {
    let media = r.media_type().unwrap_or_default();
    ensure(media == "application/json", || format!("{what}: Content-Type `{media}`, expected application/json"))?;
    let v = r.json().unwrap_or(Value::Null);
    let code = v.get("error").and_then(Value::as_str).map(str::to_owned);
    ensure(v.get("error_description").and_then(Value::as_str).is_some(), || format!("{what}: no error_description in {v}"))?;
    match code {
        Some(c) => Ok(c),
        None => fail(format!("{what}: no error in {v}")),
    }
}

fn wp_035a(ctx: &mut Ctx<'_>) -> Step<()> {
    let url = ctx.target.url(INSTANCES);
    let r = ctx.get(&url, &[])?;
    ensure(r.status >= 400, || format!("an unauthenticated retrieval answered {}", r.status))?;
    error_body("the error", &r).map(drop)
}

/// 401 `unauthorized`, for a request without a credential and with one never issued.
fn unauthorized(ctx: &mut Ctx<'_>, method: &str, url: &str, body: Option<&[u8]>) -> Step<()> {
    let json = [("content-type", "application/json")];
    let forged = [("content-type", "application/json"), ("authorization", "Bearer conformance-forged-token")];
    for (what, headers) in [("without credentials", &json[..]), ("with a bearer never issued", &forged[..])] {
        let r = ctx.send(method, url, headers, body)?;
        ensure(r.status == 401, || format!("{method} {url} {what} answered {}, expected 401", r.status))?;
        let code = error_body(what, &r)?;
        ensure(code == "unauthorized", || format!("{what}: error `{code}`, expected `unauthorized`"))?;
    }
    Ok(())
}

fn wp_041(ctx: &mut Ctx<'_>) -> Step<()> {
    let url = ctx.target.url(INSTANCES);
    unauthorized(ctx, "GET", &url, None)
}

fn wp_043(ctx: &mut Ctx<'_>) -> Step<()> {
    let url = ctx.target.url(&format!("{INSTANCES}/conformance-instance"));
    unauthorized(ctx, "PATCH", &url, Some(br#"{"status":"REVOKED"}"#))
}

fn wp_131(ctx: &mut Ctx<'_>) -> Step<()> {
    let url = ctx.target.url(NONCE);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let r = ctx.get(&url, &[])?;
        ensure(r.status == 200, || format!("GET {url} answered {}", r.status))?;
        let nonce = r.json().ok().and_then(|v| v.get("nonce").and_then(Value::as_str).map(str::to_owned));
        let Some(nonce) = nonce.filter(|n| !n.is_empty()) else { return fail("no non-empty `nonce` in the JSON body") };
        ensure(nonce.len() >= 16, || format!("nonce `{nonce}` is too short to be unguessable"))?;
        seen.push(nonce);
    }
    ensure(seen.first() != seen.get(1), || "the same nonce twice".into())
}
