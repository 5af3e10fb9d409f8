//! Checks on a federation leaf's Entity Configuration that every plan repeats for its own
//! entity type (`WP_001`–`WP_004c`, the issuer's and the relying party's publication rows):
//! OpenID Federation draft 48 §3, IT-Wallet 1.4 `trust-infrastructure.rst`.

use serde_json::{Map, Value};
use wallet_core::federation::EntityId;
use wallet_core::jose::Jwk;

use super::jwt::{ALLOWED_ALGS, Jwt};
use crate::case::{Ctx, Step, ensure, fail, skip};
use crate::client::Response;

/// `typ` of entity statements.
pub const STATEMENT_TYP: &str = "entity-statement+jwt";
/// Their media type.
pub const STATEMENT_MEDIA: &str = "application/entity-statement+jwt";
/// Clock skew tolerated (IT-Wallet: at most 120 s).
pub const SKEW: i64 = 120;

/// The target's Entity Configuration, fetched, decoded and recorded.
pub fn configuration(ctx: &mut Ctx<'_>) -> Step<(Response, Jwt)> {
    let url = ctx.target.url("/.well-known/openid-federation");
    let r = ctx.get(&url, &[])?;
    ensure(r.status == 200, || format!("GET {url} answered {}", r.status))?;
    let text = r.text();
    ctx.record_jwt("Entity Configuration", &text);
    let jwt = Jwt::decode("the Entity Configuration", &text)?;
    Ok((r, jwt))
}

/// `jwks.keys` of a statement.
pub fn keys(jwt: &Jwt) -> Vec<Value> {
    Jwt::keys_of(jwt.payload.get("jwks"))
}

/// `Content-Type` is `application/entity-statement+jwt`.
pub fn media_type(ctx: &mut Ctx<'_>, r: &Response) -> Step<()> {
    let got = r.media_type().unwrap_or_default();
    ctx.note(format!("Content-Type {got}"));
    ensure(got == STATEMENT_MEDIA, || format!("Content-Type `{got}`, expected `{STATEMENT_MEDIA}`"))
}

/// Signed with a key of its own `jwks`.
pub fn self_signed(ec: &Jwt) -> Step<()> {
    ec.verify_with("the Entity Configuration", &keys(ec))
}

/// `alg` one of the IT-Wallet list (never `none`).
pub fn allowed_alg(ec: &Jwt) -> Step<()> {
    let alg = ec.header_str("alg").unwrap_or("(none)");
    ensure(ALLOWED_ALGS.contains(&alg), || format!("alg `{alg}` is not one of {}", ALLOWED_ALGS.join(", ")))
}

/// `kid` is the RFC 7638 thumbprint of the key that signed it (IT-Wallet 1.4: "kid equal to the
/// thumbprint of the public key used to sign").
pub fn kid_is_thumbprint(ec: &Jwt) -> Step<()> {
    let Some(kid) = ec.header_str("kid") else { return fail("the header has no kid") };
    let Some(key) = keys(ec).into_iter().find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)) else {
        return fail(format!("kid `{kid}` is not in jwks"));
    };
    let jwk = match Jwk::from_value(&key) {
        Ok(j) => j,
        Err(e) => return fail(format!("key `{kid}`: {e}")),
    };
    let tp = jwk.thumbprint();
    ensure(tp.as_str() == kid, || format!("kid `{kid}` is not the key's thumbprint `{}`", tp.as_str()))
}

/// `typ` is `entity-statement+jwt`.
pub fn explicit_typ(ec: &Jwt) -> Step<()> {
    let typ = ec.header_str("typ").unwrap_or("(none)");
    ensure(typ == STATEMENT_TYP, || format!("typ `{typ}`, expected `{STATEMENT_TYP}`"))
}

/// `iss` = `sub` = the target.
pub fn self_issued(ctx: &Ctx<'_>, ec: &Jwt) -> Step<()> {
    let me = ctx.target.entity_id.to_string();
    let (iss, sub) = (ec.claim_str("iss").unwrap_or_default(), ec.claim_str("sub").unwrap_or_default());
    ensure(iss == me && sub == me, || format!("iss `{iss}` and sub `{sub}` must both be `{me}`"))
}

/// `iat` and `exp` integers, `exp > iat`, valid now (± [`SKEW`]).
pub fn valid_now(what: &str, jwt: &Jwt) -> Step<()> {
    let (Some(iat), Some(exp)) = (jwt.claim_i64("iat"), jwt.claim_i64("exp")) else {
        return fail(format!("{what}: iat and exp must be integers (NumericDate)"));
    };
    let now = wallet_core::time::UnixTime::now().secs();
    ensure(exp > iat, || format!("{what}: exp {exp} is not after iat {iat}"))?;
    ensure(now < exp + SKEW, || format!("{what}: expired (exp {exp}, now {now})"))?;
    ensure(iat <= now + SKEW, || format!("{what}: iat {iat} is more than {SKEW} s in the future (now {now})"))
}

/// `authority_hints`: a non-empty array of entity identifiers (a leaf has a superior).
pub fn authority_hints(ec: &Jwt) -> Step<()> {
    let Some(hints) = ec.payload.get("authority_hints").and_then(Value::as_array) else {
        return fail("no authority_hints array");
    };
    ensure(!hints.is_empty(), || "authority_hints is empty".into())?;
    for h in hints {
        ensure(h.as_str().is_some_and(|s| EntityId::new(s).is_ok()), || format!("authority hint `{h}` is not an entity identifier"))?;
    }
    Ok(())
}

/// `jwks`: a JWKS of public keys, each parseable, with unique `kid`s and no private members.
pub fn public_jwks(what: &str, jwks: Option<&Value>) -> Step<()> {
    let Some(list) = jwks.and_then(|j| j.get("keys")).and_then(Value::as_array) else {
        return fail(format!("{what}: no jwks.keys array"));
    };
    ensure(!list.is_empty(), || format!("{what}: jwks.keys is empty"))?;
    let mut kids = std::collections::BTreeSet::new();
    for k in list {
        let kid = k.get("kid").and_then(Value::as_str).unwrap_or_default();
        ensure(!kid.is_empty(), || format!("{what}: a key has no kid"))?;
        ensure(kids.insert(kid.to_owned()), || format!("{what}: kid `{kid}` twice"))?;
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            ensure(k.get(private).is_none(), || format!("{what}: key `{kid}` carries the private member `{private}`"))?;
        }
        if let Err(e) = Jwk::from_value(k) {
            return fail(format!("{what}: key `{kid}`: {e}"));
        }
    }
    Ok(())
}

/// `metadata.<entity_type>` as an object.
pub fn metadata_of<'a>(ec: &'a Jwt, entity_type: &str) -> Step<&'a Map<String, Value>> {
    match ec.payload.get("metadata").and_then(|m| m.get(entity_type)).and_then(Value::as_object) {
        Some(m) => Ok(m),
        None => fail(format!("metadata has no `{entity_type}` object")),
    }
}

/// How an entity type's metadata references its keys (OID-FED §5.2.1): exactly one of
/// `jwks`, `jwks_uri`, `signed_jwks_uri`.
pub fn key_reference(md: &Map<String, Value>) -> Step<&'static str> {
    let present: Vec<&'static str> = ["jwks", "jwks_uri", "signed_jwks_uri"].into_iter().filter(|k| md.contains_key(*k)).collect();
    match present.as_slice() {
        [one] => Ok(one),
        [] => fail("none of jwks, jwks_uri, signed_jwks_uri"),
        many => fail(format!("more than one key reference: {}", many.join(", "))),
    }
}

/// The metadata's keys by value are a valid public JWKS, each `use` (when given) `sig` or `enc`.
pub fn metadata_jwks(entity_type: &str, md: &Map<String, Value>) -> Step<()> {
    let Some(jwks) = md.get("jwks") else { return skip(format!("{entity_type} references its keys otherwise than by value")) };
    public_jwks(&format!("metadata.{entity_type}.jwks"), Some(jwks))?;
    for k in Jwt::keys_of(Some(jwks)) {
        let u = k.get("use").and_then(Value::as_str);
        ensure(u.is_none_or(|u| u == "sig" || u == "enc"), || format!("metadata.{entity_type}.jwks: use {u:?} is neither sig nor enc"))?;
    }
    Ok(())
}
