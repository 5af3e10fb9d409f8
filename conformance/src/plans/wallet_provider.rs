//! The wallet-provider plan: a wallet provider's backend tested from outside (the `WP` rows a
//! server answers for; IT-Wallet 1.4 `wallet-provider-endpoint.rst`, `trust-infrastructure.rst`;
//! digest §2.4).
//!
//! What runs: the Entity Configuration rows (`WP_001`–`WP_004c`), the nonce endpoint, the
//! error rows a client without a citizen session can provoke, and, given a citizen's session
//! (`Target::wallet`), the wallet rows: the tool registers wallet instances, asks for
//! attestations, lists and revokes, honestly and one rule broken at a time ([`instance`]).
//!
//! Choices: `WP_041`/`WP_043` send the request with no `Authorization` header (a missing
//! credential) and with a bearer the provider never issued (an invalid one); both must get
//! 401 `unauthorized`.

mod instance;

use serde_json::{Value, json};
use wallet_core::attestation::ProviderNonce;
use wallet_core::jose::{SoftwareSigner, b64};

use super::entity::{self, keys};
use super::jwt::Jwt;
use crate::case::{Case, Ctx, Step, ensure, fail, skip};
use crate::client::Response;
use crate::plan::Plan;

/// The metadata type of a wallet provider (IT-Wallet 1.4 §2.4).
const WALLET_SOLUTION: &str = "wallet_solution";
use instance::{INSTANCES, NONCE};

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
    // The wallet rows (a citizen's session given): registration (§2.2 step 4).
    case!("WP_135", wp_135, "POST /wallet-instances {nonce, hardware_key_tag, key_attestation} with the citizen's session", "204: the instance is registered"),
    case!("WP_135a", wp_135a, "a registration with a nonce the provider never gave, and one with a nonce already used", "both refused (4xx)"),
    case!("WP_150", wp_150, "a registration with a nonce the provider never gave, and one with a nonce already used", "403 invalid_request"),
    case!("WP_135b", wp_135b, "a registration whose key attestation chains to a root the provider does not trust", "refused (4xx)"),
    case!("WP_151", wp_151, "a registration whose key attestation's signature is broken", "403 invalid_request"),
    case!("WP_136", wp_136, "a registration whose key attestation's client_data_hash binds another hardware_key_tag", "refused (4xx)"),
    case!("WP_037", wp_037, "the same hardware_key_tag registered twice", "422 validation_error"),
    case!("WP_035", wp_035, "GET /wallet-instances/{id} of an instance that does not exist, with the citizen's session", "404 (RFC 7231 §6.5.4) with a JSON error body {error, error_description}"),
    case!("WP_036", wp_036, "POST /wallet-attestation {} and a registration without key_attestation", "400 bad_request"),
    case!("WP_137", wp_137, "after registering, an attestation request for the same hardware_key_tag from another hardware key", "refused (4xx): the provider stored the registered hardware_key_pub with the tag"),
    case!("WP_138", wp_138, "GET /wallet-instances/{hardware_key_tag} after registering", "200 {id: the tag, status ACTIVE}: the citizen's account holds the instance"),
    // Attestation issuance (§2.3).
    case!("WP_029", wp_029, "POST /wallet-attestation {assertion: an attestations-request+jwt} for a registered instance", "200 application/json {wallet_attestations: {wallet_app_attestation, wallet_unit_attestation}}"),
    case!("WP_029a", wp_029a, "an honest attestation request", "the WAA is a JWS with typ oauth-client-attestation+jwt, an allowed alg and a kid"),
    case!("WP_029b", wp_029b, "an honest attestation request", "neither attestation carries personal data (names, fiscal number, birth data, contacts)"),
    case!("WP_019", wp_019, "an honest attestation request", "the WAA carries iss, sub, iat, exp and cnf.jwk"),
    case!("WP_019b", wp_019b, "an honest attestation request", "the WAA's cnf.jwk is the request's ephemeral key (sub its thumbprint)"),
    case!("WP_020", wp_020, "an honest attestation request", "the WAA's iss is the provider, signed with a key of its federation-published wallet_solution.jwks"),
    case!("WP_144", wp_144, "an honest attestation request", "the WAA expires at most 24 h after iat, in the future"),
    case!("WP_028", wp_028, "an honest attestation request", "the WAA has exp, a short validity (at most 24 h)"),
    case!("WP_019a", wp_019a, "an attestation request whose integrity_assertion chains to a root the provider does not trust", "refused (4xx)"),
    case!("WP_143", wp_143, "an attestation request with aud another provider", "refused (4xx)"),
    case!("WP_143a", wp_143a, "an attestation request with typ JWT", "refused (4xx)"),
    case!("WP_143b", wp_143b, "an attestation request signed by a key other than its cnf.jwk", "refused (4xx)"),
    case!("WP_143c", wp_143c, "an attestation request with a nonce the provider never gave", "refused (4xx)"),
    case!("WP_143d", wp_143d, "an attestation request for a hardware key never registered", "refused (4xx)"),
    case!("WP_152", wp_152, "an attestation request for a hardware key never registered", "404 not_found"),
    case!("WP_143e", wp_143e, "an attestation request with a forged hardware_signature", "refused (4xx)"),
    case!("WP_154", wp_154, "an attestation request with a forged hardware_signature", "403 invalid_request"),
    case!("WP_143f", wp_143f, "an attestation request whose integrity_assertion's signature is broken", "refused (4xx)"),
    case!("WP_155", wp_155, "an attestation request whose integrity_assertion's signature is broken", "403 invalid_request"),
    case!("WP_143g", wp_143g, "an attestation request whose iss is not under the provider's URL", "refused (4xx)"),
    case!("WP_008", wp_008, "a registered instance; POST /e-service/notify-user-death {fiscal_number} with a PDND voucher, as a PID Provider", "200 {revoked >= 1}; the instance is REVOKED"),
    case!("WP_010", wp_010, "an attestation request for an instance the citizen revoked", "refused (4xx)"),
    case!("WP_153", wp_153, "an attestation request for an instance the citizen revoked", "403 invalid_request"),
    // Retrieval and revocation (§2.4).
    case!("WP_145", wp_145, "GET /wallet-instances with the citizen's session", "200, a JSON array"),
    case!("WP_146", wp_146, "GET /wallet-instances after registering", "the instance listed with id, status ACTIVE and issued_at"),
    case!("WP_033", wp_033, "PATCH /wallet-instances/{id} {status: REVOKED} with the citizen's session", "204"),
    case!("WP_147", wp_147, "PATCH /wallet-instances/{id} with {status: REVOKED}, and with {status: SUSPENDED}", "the first accepted (2xx), the second refused (4xx)"),
    case!("WP_148", wp_148, "GET /wallet-instances and /wallet-instances/{id} after revoking", "the instance is REVOKED"),
    case!("WP_042", wp_042, "GET /wallet-instances/{id} of another citizen's instance", "403 forbidden"),
    case!("WP_044", wp_044, "PATCH /wallet-instances/{id} {status: REVOKED} of another citizen's instance", "403 invalid_request, the instance still ACTIVE"),
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

// --- The wallet rows (IT-Wallet 1.4 §2.2-§2.4 `wallet-provider-endpoint.rst`). ---

/// A nonce the provider never gave.
fn random_nonce() -> Step<ProviderNonce> {
    ProviderNonce::generate().map_err(|e| crate::case::Stop::Skip(format!("randomness: {e}")))
}

/// A registration with a nonce never given, and one reusing the nonce of an honest
/// registration: (answer, answer).
fn bad_nonce_registrations(ctx: &mut Ctx<'_>) -> Step<(Response, Response)> {
    let never = instance::hostile_registration(ctx, None, random_nonce()?, |_| {})?;
    let inst = instance::unregistered(ctx)?;
    let n = instance::nonce(ctx)?;
    let body = instance::registration_of(&inst, n.clone())?;
    let session = instance::session(ctx)?;
    let first = instance::post_registration(ctx, &session, &body)?;
    let again = instance::hostile_registration(ctx, None, n, |_| {});
    let _ = instance::revoke(ctx, &inst);
    ensure((200..300).contains(&first.status), || format!("an honest registration answered {}", first.status))?;
    Ok((never, again?))
}

fn wp_135(ctx: &mut Ctx<'_>) -> Step<()> {
    let (inst, r) = instance::register_with(ctx)?;
    let _ = instance::revoke(ctx, &inst);
    ensure(r.status == 204, || format!("the registration answered {}, expected 204 No Content", r.status))
}

fn wp_135a(ctx: &mut Ctx<'_>) -> Step<()> {
    let (never, used) = bad_nonce_registrations(ctx)?;
    instance::refused("a nonce never given", &never, None, None)?;
    instance::refused("a nonce already used", &used, None, None)
}

fn wp_150(ctx: &mut Ctx<'_>) -> Step<()> {
    let (never, used) = bad_nonce_registrations(ctx)?;
    instance::refused("a nonce never given", &never, Some(403), Some("invalid_request"))?;
    instance::refused("a nonce already used", &used, Some(403), Some("invalid_request"))
}

fn wp_135b(ctx: &mut Ctx<'_>) -> Step<()> {
    let foreign = SoftwareSigner::generate().map_err(|e| crate::case::Stop::Skip(e.to_string()))?;
    let n = instance::nonce(ctx)?;
    let r = instance::hostile_registration(ctx, Some(foreign), n, |_| {})?;
    instance::refused("a key attestation from an untrusted root", &r, None, None)
}

fn wp_151(ctx: &mut Ctx<'_>) -> Step<()> {
    let n = instance::nonce(ctx)?;
    let r = instance::hostile_registration(ctx, None, n, |b| {
        let forged = b.get("key_attestation").and_then(Value::as_str).map(instance::forge_signature);
        if let Some(f) = forged {
            b["key_attestation"] = f.into();
        }
    })?;
    instance::refused("a key attestation with a broken signature", &r, Some(403), Some("invalid_request"))
}

fn wp_136(ctx: &mut Ctx<'_>) -> Step<()> {
    let n = instance::nonce(ctx)?;
    let other = wallet_core::keystore::KeyTag::generate().map_err(|e| crate::case::Stop::Skip(e.to_string()))?;
    let r = instance::hostile_registration(ctx, None, n, |b| b["hardware_key_tag"] = other.as_str().into())?;
    instance::refused("a key attestation bound to another hardware_key_tag", &r, None, None)
}

fn wp_037(ctx: &mut Ctx<'_>) -> Step<()> {
    instance::with_instance(ctx, |ctx, inst| {
        let n = instance::nonce(ctx)?;
        let body = instance::registration_of(inst, n)?;
        let session = instance::session(ctx)?;
        let r = instance::post_registration(ctx, &session, &body)?;
        instance::refused("a hardware_key_tag registered twice", &r, Some(422), Some("validation_error"))
    })
}

fn wp_036(ctx: &mut Ctx<'_>) -> Step<()> {
    let url = ctx.target.url(instance::ATTESTATION);
    let r = ctx.send("POST", &url, &[("content-type", "application/json")], Some(b"{}"))?;
    instance::refused("POST /wallet-attestation {}", &r, Some(400), Some("bad_request"))?;
    let n = instance::nonce(ctx)?;
    let r = instance::hostile_registration(ctx, None, n, |b| drop(b.as_object_mut().map(|o| o.remove("key_attestation"))))?;
    instance::refused("a registration without key_attestation", &r, Some(400), Some("bad_request"))
}

fn wp_138(ctx: &mut Ctx<'_>) -> Step<()> {
    instance::with_instance(ctx, |ctx, inst| {
        let session = instance::session(ctx)?;
        let r = instance::get(ctx, &session, Some(inst.id()))?;
        ensure(r.status == 200, || format!("GET /wallet-instances/{} answered {}", inst.id(), r.status))?;
        let v = r.json().unwrap_or(Value::Null);
        ensure(v.get("id").and_then(Value::as_str) == Some(inst.id()), || format!("the instance's id is not its hardware_key_tag: {v}"))?;
        ensure(v.get("status").and_then(Value::as_str) == Some("ACTIVE"), || format!("the instance just registered is not ACTIVE: {v}"))
    })
}

/// An honest attestation for a fresh instance: (the answer, the WAA, the ephemeral key).
fn honest_attestation(ctx: &mut Ctx<'_>) -> Step<(Response, Jwt, SoftwareSigner)> {
    instance::with_instance(ctx, |ctx, inst| {
        let (r, eph) = instance::attest(ctx, inst, |_, _| {})?;
        let waa = instance::waa(ctx, &r)?;
        Ok((r, waa, eph))
    })
}

fn wp_029(ctx: &mut Ctx<'_>) -> Step<()> {
    let (r, _, _) = honest_attestation(ctx)?;
    let media = r.media_type().unwrap_or_default();
    ensure(media == "application/json", || format!("Content-Type `{media}`, expected application/json"))?;
    let v = r.json().unwrap_or(Value::Null);
    let wua = v.pointer("/wallet_attestations/wallet_unit_attestation").and_then(Value::as_str);
    ensure(wua.is_some_and(|w| w.split('.').count() == 3), || "no wallet_unit_attestation JWT in wallet_attestations".into())
}

fn wp_029a(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, waa, _) = honest_attestation(ctx)?;
    let typ = waa.header_str("typ").unwrap_or_default();
    ensure(typ == wallet_core::attestation::WAA_TYP, || format!("the WAA's typ is `{typ}`, expected {}", wallet_core::attestation::WAA_TYP))?;
    let alg = waa.header_str("alg").unwrap_or_default();
    ensure(super::jwt::ALLOWED_ALGS.contains(&alg), || format!("the WAA's alg `{alg}` is not allowed"))?;
    ensure(waa.header_str("kid").is_some(), || "the WAA's header has no kid".into())
}

/// Claim names that are personal data of the citizen.
const PII_CLAIMS: &[&str] = &[
    "given_name", "family_name", "name", "birth_date", "birthdate", "birth_place", "place_of_birth", "fiscal_number", "tax_id_code", "personal_administrative_number",
    "email", "phone_number", "address", "nationality", "sex", "gender",
];

/// Personal data in `v`: a claim named as such, or a fiscal number (`TINIT-…`) anywhere.
fn pii(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, x)| if PII_CLAIMS.contains(&k.as_str()) { Some(format!("claim `{k}`")) } else { pii(x) }),
        Value::Array(a) => a.iter().find_map(pii),
        Value::String(s) if s.starts_with("TINIT-") => Some(format!("the fiscal number `{s}`")),
        _ => None,
    }
}

fn wp_029b(ctx: &mut Ctx<'_>) -> Step<()> {
    let (r, waa, _) = honest_attestation(ctx)?;
    if let Some(p) = pii(&Value::Object(waa.payload.clone())) {
        return fail(format!("the WAA carries personal data: {p}"));
    }
    let v = r.json().unwrap_or(Value::Null);
    if let Some(wua) = v.pointer("/wallet_attestations/wallet_unit_attestation").and_then(Value::as_str) {
        let wua = Jwt::decode("the WUA", wua)?;
        if let Some(p) = pii(&Value::Object(wua.payload)) {
            return fail(format!("the WUA carries personal data: {p}"));
        }
    }
    Ok(())
}

fn wp_019(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, waa, _) = honest_attestation(ctx)?;
    for c in ["iss", "sub"] {
        ensure(waa.claim_str(c).is_some(), || format!("the WAA has no {c}"))?;
    }
    for c in ["iat", "exp"] {
        ensure(waa.claim_i64(c).is_some(), || format!("the WAA has no integer {c}"))?;
    }
    ensure(waa.payload.get("cnf").and_then(|c| c.get("jwk")).is_some_and(Value::is_object), || "the WAA has no cnf.jwk".into())
}

fn wp_019b(ctx: &mut Ctx<'_>) -> Step<()> {
    use wallet_core::jose::Signer as _;
    let (_, waa, eph) = honest_attestation(ctx)?;
    let cnf = waa.payload.get("cnf").and_then(|c| c.get("jwk")).cloned().unwrap_or(Value::Null);
    let got = wallet_core::jose::Jwk::from_value(&cnf).map(|j| j.thumbprint().to_string()).ok();
    let want = eph.public_jwk().thumbprint().to_string();
    ensure(got.as_deref() == Some(want.as_str()), || format!("the WAA's cnf.jwk {cnf} is not the request's ephemeral key"))?;
    let sub = waa.claim_str("sub").unwrap_or_default();
    ensure(sub == want, || format!("the WAA's sub `{sub}` is not the ephemeral key's thumbprint {want}"))
}

fn wp_020(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    let ws = entity::metadata_of(&ec, WALLET_SOLUTION)?;
    let keys = Jwt::keys_of(ws.get("jwks"));
    let (_, waa, _) = honest_attestation(ctx)?;
    let iss = waa.claim_str("iss").unwrap_or_default();
    ensure(iss == ctx.target.entity_id.as_str(), || format!("the WAA's iss `{iss}` is not the provider"))?;
    waa.verify_with("the WAA (with the provider's wallet_solution.jwks)", &keys)
}

/// The WAA's lifetime must be at most 24 h (IT-Wallet 1.4 §2.3), and it must not be expired.
fn short_lived(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, waa, _) = honest_attestation(ctx)?;
    let (Some(iat), Some(exp)) = (waa.claim_i64("iat"), waa.claim_i64("exp")) else { return fail("the WAA has no integer iat and exp") };
    let now = wallet_core::time::UnixTime::now().secs();
    ensure(exp > now, || format!("the WAA expired at {exp}"))?;
    ensure(exp - iat <= 86_400, || format!("the WAA is valid {} s, more than 24 h", exp - iat))
}

fn wp_144(ctx: &mut Ctx<'_>) -> Step<()> {
    short_lived(ctx)
}

fn wp_028(ctx: &mut Ctx<'_>) -> Step<()> {
    short_lived(ctx)
}

/// An attestation request for a fresh instance changed by `edit` must be refused.
fn hostile_attestation(ctx: &mut Ctx<'_>, what: &str, status: Option<u16>, code: Option<&str>, edit: impl FnOnce(&mut serde_json::Map<String, Value>, &mut serde_json::Map<String, Value>)) -> Step<()> {
    instance::with_instance(ctx, |ctx, inst| {
        let (r, _) = instance::attest(ctx, inst, edit)?;
        instance::refused(what, &r, status, code)
    })
}

fn wp_019a(ctx: &mut Ctx<'_>) -> Step<()> {
    let foreign = wallet_core::attestation::key_attestation::SoftwareAttester::new(SoftwareSigner::generate().map_err(|e| crate::case::Stop::Skip(e.to_string()))?);
    hostile_attestation(ctx, "an integrity_assertion from an untrusted root", None, None, |_, p| {
        // The same statement about the same key and challenge, signed by another root.
        let reattested = p.get("integrity_assertion").and_then(Value::as_str).and_then(|ia| Jwt::decode("", ia).ok()).and_then(|ia| {
            let key = ia.payload.get("attested_key").and_then(|k| wallet_core::jose::Jwk::from_value(k).ok())?;
            let challenge = ia.claim_str("challenge").and_then(|c| b64::decode(c).ok())?;
            foreign.attest(&key, &challenge, wallet_core::time::UnixTime::now()).ok()
        });
        if let Some(r) = reattested {
            p.insert("integrity_assertion".into(), r.into());
        }
    })
}

fn wp_143(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile_attestation(ctx, "a request for another provider (aud)", None, None, |_, p| drop(p.insert("aud".into(), "https://another-provider.example".into())))
}

fn wp_143a(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile_attestation(ctx, "a request with typ JWT", None, None, |h, _| drop(h.insert("typ".into(), "JWT".into())))
}

fn wp_143b(ctx: &mut Ctx<'_>) -> Step<()> {
    let other = SoftwareSigner::generate().map_err(|e| crate::case::Stop::Skip(e.to_string()))?;
    instance::with_instance(ctx, |ctx, inst| {
        let n = instance::nonce(ctx)?;
        let provider = ctx.target.entity_id.to_string();
        let (assertion, _) = instance::attestation_request(inst, &provider, &n, |_, _| {}, Some(&other))?;
        let r = instance::post_attestation(ctx, &assertion)?;
        instance::refused("a request not signed by its cnf.jwk", &r, None, None)
    })
}

fn wp_143c(ctx: &mut Ctx<'_>) -> Step<()> {
    instance::with_instance(ctx, |ctx, inst| {
        let provider = ctx.target.entity_id.to_string();
        let (assertion, _) = instance::attestation_request(inst, &provider, &random_nonce()?, |_, _| {}, None)?;
        let r = instance::post_attestation(ctx, &assertion)?;
        instance::refused("a request with a nonce never given", &r, None, None)
    })
}

/// An honest request from a key never registered.
fn unregistered_attestation(ctx: &mut Ctx<'_>) -> Step<Response> {
    let inst = instance::unregistered(ctx)?;
    instance::attest(ctx, &inst, |_, _| {}).map(|(r, _)| r)
}

fn wp_143d(ctx: &mut Ctx<'_>) -> Step<()> {
    let r = unregistered_attestation(ctx)?;
    instance::refused("a request from an unregistered instance", &r, None, None)
}

fn wp_152(ctx: &mut Ctx<'_>) -> Step<()> {
    let r = unregistered_attestation(ctx)?;
    instance::refused("a request from an unregistered instance", &r, Some(404), Some("not_found"))
}

fn forged_hardware_signature(_: &mut serde_json::Map<String, Value>, p: &mut serde_json::Map<String, Value>) {
    p.insert("hardware_signature".into(), b64::encode(instance::FORGED_SIGNATURE).into());
}

fn wp_143e(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile_attestation(ctx, "a forged hardware_signature", None, None, forged_hardware_signature)
}

fn wp_154(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile_attestation(ctx, "a forged hardware_signature", Some(403), Some("invalid_request"), forged_hardware_signature)
}

fn forged_integrity(_: &mut serde_json::Map<String, Value>, p: &mut serde_json::Map<String, Value>) {
    let forged = p.get("integrity_assertion").and_then(Value::as_str).map(instance::forge_signature);
    if let Some(f) = forged {
        p.insert("integrity_assertion".into(), f.into());
    }
}

fn wp_143f(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile_attestation(ctx, "a tampered integrity_assertion", None, None, forged_integrity)
}

fn wp_155(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile_attestation(ctx, "a tampered integrity_assertion", Some(403), Some("invalid_request"), forged_integrity)
}

fn wp_143g(ctx: &mut Ctx<'_>) -> Step<()> {
    hostile_attestation(ctx, "a request whose iss is another provider's", None, None, |_, p| {
        let iss = p.get("iss").and_then(Value::as_str).and_then(|i| i.rsplit_once("/instance/")).map(|(_, t)| format!("https://another-provider.example/instance/{t}"));
        if let Some(i) = iss {
            p.insert("iss".into(), i.into());
        }
    })
}

/// An honest attestation request for an instance the citizen revoked first.
fn revoked_attestation(ctx: &mut Ctx<'_>) -> Step<Response> {
    let inst = instance::register(ctx)?;
    let r = instance::revoke(ctx, &inst)?;
    ensure((200..300).contains(&r.status), || format!("the revocation answered {}", r.status))?;
    instance::attest(ctx, &inst, |_, _| {}).map(|(r, _)| r)
}

fn wp_010(ctx: &mut Ctx<'_>) -> Step<()> {
    let r = revoked_attestation(ctx)?;
    instance::refused("a request from a revoked instance", &r, None, None)
}

fn wp_153(ctx: &mut Ctx<'_>) -> Step<()> {
    let r = revoked_attestation(ctx)?;
    instance::refused("a request from a revoked instance", &r, Some(403), Some("invalid_request"))
}

fn wp_145(ctx: &mut Ctx<'_>) -> Step<()> {
    let session = instance::session(ctx)?;
    let r = instance::get(ctx, &session, None)?;
    ensure(r.status == 200, || format!("GET /wallet-instances answered {}", r.status))?;
    let media = r.media_type().unwrap_or_default();
    ensure(media == "application/json", || format!("Content-Type `{media}`, expected application/json"))?;
    ensure(r.json().is_ok_and(|v| v.is_array()), || format!("not a JSON array: {}", r.text()))
}

fn wp_146(ctx: &mut Ctx<'_>) -> Step<()> {
    instance::with_instance(ctx, |ctx, inst| {
        let e = instance::listed(ctx, inst)?;
        ensure(e.get("status").and_then(Value::as_str) == Some("ACTIVE"), || format!("the instance just registered is listed as {e}"))?;
        ensure(e.get("issued_at").is_some_and(Value::is_i64), || format!("no integer issued_at in {e}"))
    })
}

fn wp_033(ctx: &mut Ctx<'_>) -> Step<()> {
    let inst = instance::register(ctx)?;
    let r = instance::revoke(ctx, &inst)?;
    ensure(r.status == 204, || format!("the revocation answered {}, expected 204", r.status))
}

fn wp_147(ctx: &mut Ctx<'_>) -> Step<()> {
    let inst = instance::register(ctx)?;
    let session = instance::session(ctx)?;
    let bad = instance::patch(ctx, &session, inst.id(), &json!({"status": "SUSPENDED"}))?;
    let r = instance::revoke(ctx, &inst)?;
    instance::refused("a revocation request with status SUSPENDED", &bad, None, None)?;
    ensure((200..300).contains(&r.status), || format!("the revocation {{\"status\":\"REVOKED\"}} answered {}", r.status))
}

fn wp_148(ctx: &mut Ctx<'_>) -> Step<()> {
    let inst = instance::register(ctx)?;
    let r = instance::revoke(ctx, &inst)?;
    ensure((200..300).contains(&r.status), || format!("the revocation answered {}", r.status))?;
    let e = instance::listed(ctx, &inst)?;
    ensure(e.get("status").and_then(Value::as_str) == Some("REVOKED"), || format!("after revocation the instance is listed as {e}"))?;
    let session = instance::session(ctx)?;
    let r = instance::get(ctx, &session, Some(inst.id()))?;
    let v = r.json().unwrap_or(Value::Null);
    ensure(v.get("status").and_then(Value::as_str) == Some("REVOKED"), || format!("after revocation GET /wallet-instances/{} answered {} {v}", inst.id(), r.status))
}

fn wp_042(ctx: &mut Ctx<'_>) -> Step<()> {
    let other = instance::other_session(ctx)?;
    instance::with_instance(ctx, |ctx, inst| {
        let r = instance::get(ctx, &other, Some(inst.id()))?;
        instance::refused("another citizen's instance", &r, Some(403), Some("forbidden"))
    })
}

fn wp_044(ctx: &mut Ctx<'_>) -> Step<()> {
    let other = instance::other_session(ctx)?;
    instance::with_instance(ctx, |ctx, inst| {
        let r = instance::patch(ctx, &other, inst.id(), &json!({"status": "REVOKED"}))?;
        instance::refused("revoking another citizen's instance", &r, Some(403), Some("invalid_request"))?;
        let e = instance::listed(ctx, inst)?;
        ensure(e.get("status").and_then(Value::as_str) == Some("ACTIVE"), || format!("another citizen's revocation changed the instance: {e}"))
    })
}

fn wp_035(ctx: &mut Ctx<'_>) -> Step<()> {
    let session = instance::session(ctx)?;
    let unknown = wallet_core::keystore::KeyTag::generate().map_err(|e| crate::case::Stop::Skip(e.to_string()))?;
    let r = instance::get(ctx, &session, Some(unknown.as_str()))?;
    ensure(r.status == 404, || format!("an instance that does not exist answered {}, expected 404 Not Found", r.status))?;
    error_body("the error", &r).map(drop)
}

/// The PDND e-service "Notify User Death" (IT-Wallet 1.4 §2.4, §2.5).
const NOTIFY_USER_DEATH: &str = "/e-service/notify-user-death";

fn wp_008(ctx: &mut Ctx<'_>) -> Step<()> {
    use wallet_core::jose::{JwsAlg, JwsHeader, Signer as _};
    let Some(setup) = ctx.target.wallet.clone() else { return skip("no citizen session for the provider was given (--wp-session)") };
    let (Some(citizen), Some(pdnd)) = (setup.citizen.clone(), setup.pdnd.clone()) else {
        return skip("no PDND voucher issuer (--wp-pdnd-issuer, --wp-pdnd-key, --wp-pdnd-client-id) or no citizen (--wp-citizen) was given");
    };
    instance::with_instance(ctx, |ctx, inst| {
        let url = ctx.target.url(NOTIFY_USER_DEATH);
        let now = wallet_core::time::UnixTime::now().secs();
        let jti = random_nonce()?.as_str().to_owned();
        let mut claims = json!({"iss": pdnd.issuer, "aud": url, "iat": now, "nbf": now, "exp": now + 120, "jti": jti, "client_id": pdnd.client_id});
        if let (Some(p), Some(o)) = (&pdnd.purpose_id, claims.as_object_mut()) {
            o.insert("purposeId".into(), p.clone().into());
        }
        let header = JwsHeader::new(JwsAlg::Es256).with_typ("at+jwt").with_kid(pdnd.key.kid());
        let voucher = wallet_core::jose::jws::sign_json(&header, &claims, pdnd.key.as_ref()).map_err(|e| crate::case::Stop::Skip(format!("the voucher: {e}")))?;
        ctx.record_jwt("PDND voucher", &voucher);
        let auth = format!("Bearer {voucher}");
        let body = json!({"fiscal_number": citizen, "reason": "conformance test: notify user death"}).to_string().into_bytes();
        let r = ctx.send("POST", &url, &[("content-type", "application/json"), ("authorization", &auth)], Some(&body))?;
        ensure(r.status == 200, || format!("the notification answered {}: {}", r.status, r.text()))?;
        let revoked = r.json().ok().and_then(|v| v.get("revoked").and_then(Value::as_u64));
        ensure(revoked.is_some_and(|n| n >= 1), || format!("the notification revoked {revoked:?} instances, expected at least the one just registered"))?;
        let e = instance::listed(ctx, inst)?;
        ensure(e.get("status").and_then(Value::as_str) == Some("REVOKED"), || format!("after the notification the instance is listed as {e}"))
    })
}

fn wp_137(ctx: &mut Ctx<'_>) -> Step<()> {
    instance::with_instance(ctx, |ctx, inst| {
        let impostor = instance::same_tag_other_key(ctx, inst)?;
        let (r, _) = instance::attest(ctx, &impostor, |_, _| {})?;
        instance::refused("an attestation request for the registered tag from another hardware key", &r, None, None)
    })
}
