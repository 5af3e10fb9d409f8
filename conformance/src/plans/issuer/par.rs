//! The issuer plan's PAR and `/authorize` rows (`CI_015`–`CI_050`, `CI_059`, `CRFCI_024`): the
//! tool as a wallet instance with a Wallet Attestation (WAA) it signs as the federation's wallet
//! provider, pushing authorization requests (RFC 9126) whose request object (RFC 9101) it signs
//! with the WAA's key, with the `OAuth-Client-Attestation` headers (IT-Wallet 1.4 §3.3 steps
//! 1–3, OAuth 2.0 Attestation-Based Client Authentication §5). wallet-core builds every honest
//! message (`ParRequestBuilder`, `WaaBuilder`, `client_attestation_headers`); a hostile test
//! breaks one rule of it and expects the PAR refused (RFC 9126 §2.3: 400 `invalid_request` or
//! `invalid_request_object`, 401 `invalid_client` for the client's authentication).

use serde_json::{Map, Value};
use wallet_core::attestation::{ProviderSigning, WaaBuilder};
use wallet_core::jose::{Signer as _, SoftwareSigner, b64};
use wallet_core::oid4vci::{AuthorizeRequest, ParRequest, ParRequestBuilder, PendingAuthorization, client_attestation_headers};
use wallet_core::time::UnixTime;

use super::pid_login::{Authorized, authorized, declined, query_params};
use super::protocol::short;
use super::wallet::{self, general_info, new_key, provider_chain, raw_jwt, setup};
use crate::case::{Ctx, Step, ensure, fail, skip};
use crate::client::Response;

/// Where the authorization code (or the error) goes: a URL of no wallet, never fetched.
pub const REDIRECT_URI: &str = "https://wallet.conformance.invalid/callback";
/// RFC 9126 §2.2's `request_uri` prefix.
const URN: &str = "urn:ietf:params:oauth:request_uri:";
/// The codes a refused request object may carry (RFC 9126 §2.3, RFC 9101 §6.3).
const RO_ERRORS: [&str; 3] = ["invalid_request", "invalid_request_object", "invalid_client"];
/// The codes a refused client authentication may carry (Attestation-Based Client
/// Authentication §6.1).
const CLIENT_ERRORS: [&str; 2] = ["invalid_client", "use_fresh_attestation"];

/// The authorization server's PAR and authorization endpoints, and a configuration to ask for.
pub struct Endpoints {
    /// `pushed_authorization_request_endpoint`.
    pub par: String,
    /// `authorization_endpoint`.
    pub authorize: String,
    /// The first of `credential_configurations_supported`.
    pub configuration: String,
}

/// The endpoints; skips when the issuer has no PAR endpoint (pre-authorized only).
pub fn endpoints(ctx: &mut Ctx<'_>) -> Step<Endpoints> {
    let _ = setup(ctx)?;
    let ep = wallet::endpoints(ctx)?;
    let r = ctx.get(&ctx.target.url("/.well-known/oauth-authorization-server"), &[("accept", "application/json")])?;
    let asm = r.json().unwrap_or(Value::Null);
    let s = |k: &str| asm.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(par), Some(authorize)) = (s("pushed_authorization_request_endpoint"), s("authorization_endpoint")) else {
        return skip("the authorization server publishes no pushed_authorization_request_endpoint and authorization_endpoint");
    };
    let Some(configuration) = ep.metadata.get("credential_configurations_supported").and_then(Value::as_object).and_then(|c| c.keys().next().cloned()) else {
        return fail("credential_configurations_supported is empty");
    };
    Ok(Endpoints { par, authorize, configuration })
}

/// A wallet instance: its key (the WAA's `cnf.jwk`, the `client_id` its thumbprint) and WAA.
pub struct Client {
    /// The WAA key.
    pub key: SoftwareSigner,
    /// The WAA.
    pub waa: String,
}

impl Client {
    /// A fresh key with an honest WAA.
    pub fn new(ctx: &mut Ctx<'_>) -> Step<Self> {
        let key = new_key()?;
        let waa = waa(ctx, &key, UnixTime::now(), 3_600)?;
        Ok(Self { key, waa })
    }

    /// The `client_id`.
    pub fn id(&self) -> String {
        self.key.public_jwk().thumbprint().to_string()
    }
}

/// A WAA for `key`, issued at `iat`, valid `lifetime` seconds, signed as the setup's wallet
/// provider with its trust chain (wallet-core's `WaaBuilder`).
pub fn waa(ctx: &mut Ctx<'_>, key: &SoftwareSigner, iat: UnixTime, lifetime: i64) -> Step<String> {
    let chain = provider_chain(ctx)?;
    let wp = &setup(ctx)?.wallet_provider;
    let jwk = key.public_jwk();
    let info = general_info();
    WaaBuilder::new(&wp.id, &jwk, &info, iat).lifetime(lifetime).sign(&ProviderSigning::new(&*wp.key).with_trust_chain(chain)).or_else(|e| fail(format!("signing the WAA: {e}")))
}

/// An honest PAR body for `client` (wallet-core) and what the wallet keeps.
pub fn honest(ctx: &Ctx<'_>, ep: &Endpoints, client: &Client) -> Step<(ParRequest, PendingAuthorization)> {
    let audience = ctx.target.entity_id.to_string();
    let ids = [ep.configuration.as_str()];
    let b = ParRequestBuilder { audience: &audience, redirect_uri: REDIRECT_URI, scope: None, configuration_ids: &ids, issuer_state: None };
    b.build(&client.key, UnixTime::now()).or_else(|e| fail(format!("building the PAR: {e}")))
}

/// (header, payload) of a compact JWS.
pub fn jws_parts(jwt: &str) -> (Map<String, Value>, Map<String, Value>) {
    let part = |p: Option<&str>| {
        p.and_then(|p| b64::decode(p).ok()).and_then(|b| serde_json::from_slice::<Value>(&b).ok()).and_then(|v| v.as_object().cloned()).unwrap_or_default()
    };
    let mut it = jwt.split('.');
    (part(it.next()), part(it.next()))
}

/// An honest PAR whose request object is re-signed by `signer` after `edit`.
fn edited(ctx: &Ctx<'_>, ep: &Endpoints, client: &Client, signer: &SoftwareSigner, edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> Step<ParRequest> {
    let (mut req, _) = honest(ctx, ep, client)?;
    let (mut h, mut p) = jws_parts(&req.request);
    edit(&mut h, &mut p);
    req.request = raw_jwt(&h, &p, signer)?;
    Ok(req)
}

/// `POST` the PAR `form`, with the client attestation headers of `waa` (its PoP by `pop_key`)
/// when given.
pub fn push(ctx: &mut Ctx<'_>, ep: &Endpoints, form: &str, waa: Option<&str>, pop_key: &SoftwareSigner) -> Step<Response> {
    let audience = ctx.target.entity_id.to_string();
    let mut headers: Vec<(String, String)> = vec![("content-type".into(), "application/x-www-form-urlencoded".into())];
    if let Some(waa) = waa {
        let h = client_attestation_headers(waa, pop_key, &audience, None, UnixTime::now()).or_else(|e| fail(format!("building the client attestation PoP: {e}")))?;
        ctx.record_jwt("OAuth-Client-Attestation", &h.attestation);
        ctx.record_jwt("OAuth-Client-Attestation-PoP", &h.pop);
        headers.extend(h.pairs().into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
    }
    let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ctx.send("POST", &ep.par.clone(), &refs, Some(form.as_bytes()))
}

/// `req` pushed by `client` with its honest attestation.
fn push_by(ctx: &mut Ctx<'_>, ep: &Endpoints, client: &Client, req: &ParRequest) -> Step<Response> {
    ctx.record_jwt("request object", &req.request);
    push(ctx, ep, &req.to_form(), Some(&client.waa), &client.key)
}

/// An honest PAR: the client, what it keeps, the response (expected 2xx).
pub(super) fn honest_par(ctx: &mut Ctx<'_>) -> Step<(Endpoints, Client, PendingAuthorization, Response)> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let (req, pending) = honest(ctx, &ep, &client)?;
    let r = push_by(ctx, &ep, &client, &req)?;
    ensure(r.status / 100 == 2, || format!("an honest PAR answered {} {}", r.status, short(&r.text())))?;
    Ok((ep, client, pending, r))
}

/// The `request_uri` of a PAR response.
pub(super) fn request_uri(r: &Response) -> Step<String> {
    let v = r.json().or_else(|e| fail(format!("the PAR response is not JSON: {e}")))?;
    match v.get("request_uri").and_then(Value::as_str) {
        Some(u) if !u.is_empty() => Ok(u.to_owned()),
        _ => fail("the PAR response has no request_uri string"),
    }
}

/// Fails unless `r` refuses (400 or 401) with one of `codes`.
pub(super) fn expect_refused(r: &Response, codes: &[&str]) -> Step<()> {
    let got = r.json().ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    ensure((r.status == 400 || r.status == 401) && got.as_deref().is_some_and(|c| codes.contains(&c)), || {
        format!("expected a refusal (400/401 with error {}), got {} {:?} ({})", codes.join(" or "), r.status, got, short(&r.text()))
    })
}

/// A PAR whose request object `edit` breaks, signed by the WAA key: refused.
fn refused_ro(ctx: &mut Ctx<'_>, edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let req = edited(ctx, &ep, &client, &client.key, edit)?;
    let r = push_by(ctx, &ep, &client, &req)?;
    expect_refused(&r, &RO_ERRORS)
}

/// `GET /authorize?client_id&request_uri`.
pub(super) fn authorize(ctx: &mut Ctx<'_>, ep: &Endpoints, client_id: &str, request_uri: &str) -> Step<Response> {
    let url = AuthorizeRequest { client_id: client_id.to_owned(), request_uri: request_uri.to_owned() }.to_url(&ep.authorize);
    ctx.get(&url, &[])
}

// --- The request object (IT-Wallet 1.4 §3.3 "Issuer MUST", RFC 9101 §6) ---

/// CI_015: a request object whose signature does not verify (altered after signing): refused.
pub fn ci_015(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let (mut req, _) = honest(ctx, &ep, &client)?;
    let (h, mut p) = jws_parts(&req.request);
    let sig = req.request.rsplit('.').next().unwrap_or_default().to_owned();
    p.insert("state".into(), format!("{}-altered-after-signing", p.get("state").and_then(Value::as_str).unwrap_or_default()).into());
    req.request = format!("{}.{}.{sig}", b64::encode(Value::Object(h).to_string()), b64::encode(Value::Object(p).to_string()));
    let r = push_by(ctx, &ep, &client, &req)?;
    expect_refused(&r, &RO_ERRORS)
}

/// CI_015b: the request object's key is the WAA's `cnf.jwk`: one signed by another key that
/// it carries itself (`jwk` header; `kid` naming the attested key) is refused.
pub fn ci_015b(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let other = new_key()?;
    let jwk: Value = serde_json::from_str(&other.public_jwk().to_json()).unwrap_or(Value::Null);
    let req = edited(ctx, &ep, &client, &other, |h, _| drop(h.insert("jwk".into(), jwk)))?;
    let r = push_by(ctx, &ep, &client, &req)?;
    expect_refused(&r, &RO_ERRORS)
}

/// CI_015a: `alg` ES384 on a request object signed with ES256: the signature is checked with
/// the `alg` named, and fails.
pub fn ci_015a(ctx: &mut Ctx<'_>) -> Step<()> {
    refused_ro(ctx, |h, _| drop(h.insert("alg".into(), "ES384".into())))
}

/// CI_015c: the request object's `kid` names the key it is verified with, the WAA's
/// `cnf.jwk` (its thumbprint, the `client_id`: IT-Wallet 1.4 §3.3): one signed by that key but
/// naming another is refused.
pub fn ci_015c(ctx: &mut Ctx<'_>) -> Step<()> {
    let other = new_key()?.public_jwk().thumbprint().to_string();
    refused_ro(ctx, |h, _| drop(h.insert("kid".into(), other.into())))
}

/// CI_015d: the signature is verified before anything else of the request object is acted
/// on. A forged request object (an honest one's header and claims, signed by another key) is
/// refused and leaves nothing behind: the honest PAR carrying the same `jti`, pushed next, is
/// accepted. An issuer that remembered the forged one's `jti` before checking its signature
/// would refuse the honest one as a replay (and anyone could block a wallet's PARs by
/// forging them first).
pub fn ci_015d(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let (req, _) = honest(ctx, &ep, &client)?;
    let other = new_key()?;
    let (mut h, p) = jws_parts(&req.request);
    h.insert("kid".into(), other.public_jwk().thumbprint().to_string().into());
    let forged = ParRequest { client_id: req.client_id.clone(), request: raw_jwt(&h, &p, &other)? };
    let r = push_by(ctx, &ep, &client, &forged)?;
    expect_refused(&r, &RO_ERRORS)?;
    let r = push_by(ctx, &ep, &client, &req)?;
    ensure(r.status / 100 == 2, || {
        format!(
            "the honest PAR pushed after a forged request object with its jti answered {} {}: the forged one's jti was remembered before its signature was checked",
            r.status,
            short(&r.text())
        )
    })
}

/// CI_018: a request object signed by another key than the WAA's `cnf.jwk` (its `kid` that
/// key's): refused.
pub fn ci_018(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let other = new_key()?;
    let kid = other.public_jwk().thumbprint().to_string();
    let req = edited(ctx, &ep, &client, &other, |h, _| drop(h.insert("kid".into(), kid.into())))?;
    let r = push_by(ctx, &ep, &client, &req)?;
    expect_refused(&r, &RO_ERRORS)
}

/// CI_019: an unsigned request object (`alg` none): refused.
pub fn ci_019(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let (mut req, _) = honest(ctx, &ep, &client)?;
    let (mut h, p) = jws_parts(&req.request);
    h.insert("alg".into(), "none".into());
    req.request = format!("{}.{}.", b64::encode(Value::Object(h).to_string()), b64::encode(Value::Object(p).to_string()));
    let r = push_by(ctx, &ep, &client, &req)?;
    expect_refused(&r, &RO_ERRORS)
}

/// CI_016: the PAR endpoint takes `application/x-www-form-urlencoded` bodies, the media type
/// with its `charset` parameter included (RFC 9126 §2.1): an honest PAR so sent is accepted.
pub fn ci_016(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let (req, _) = honest(ctx, &ep, &client)?;
    let audience = ctx.target.entity_id.to_string();
    let h = client_attestation_headers(&client.waa, &client.key, &audience, None, UnixTime::now()).or_else(|e| fail(format!("building the client attestation PoP: {e}")))?;
    let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/x-www-form-urlencoded; charset=UTF-8")];
    headers.extend(h.pairs());
    let form = req.to_form();
    let r = ctx.send("POST", &ep.par.clone(), &headers, Some(form.as_bytes()))?;
    ensure(r.status / 100 == 2, || format!("a form-encoded PAR (charset=UTF-8) answered {} {}", r.status, short(&r.text())))
}

/// CI_020: the request object's `client_id` is not the PAR body's: refused.
pub fn ci_020(ctx: &mut Ctx<'_>) -> Step<()> {
    let other = new_key()?.public_jwk().thumbprint().to_string();
    refused_ro(ctx, |_, p| drop(p.insert("client_id".into(), other.into())))
}

/// CI_021: the request object's `iss` is not its `client_id`: refused.
pub fn ci_021(ctx: &mut Ctx<'_>) -> Step<()> {
    let other = new_key()?.public_jwk().thumbprint().to_string();
    refused_ro(ctx, |_, p| drop(p.insert("iss".into(), other.into())))
}

/// CI_022: the request object's `aud` is another issuer: refused.
pub fn ci_022(ctx: &mut Ctx<'_>) -> Step<()> {
    refused_ro(ctx, |_, p| drop(p.insert("aud".into(), "https://another-issuer.conformance.invalid".into())))
}

/// CI_023: a PAR carrying `request_uri`: refused (RFC 9126 §2.1).
pub fn ci_023(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let (req, _) = honest(ctx, &ep, &client)?;
    let form = format!("{}&request_uri={}", req.to_form(), url::form_urlencoded::byte_serialize(format!("{URN}conformance").as_bytes()).collect::<String>());
    let r = push(ctx, &ep, &form, Some(&client.waa), &client.key)?;
    expect_refused(&r, &RO_ERRORS)
}

/// CRFCI_024: a request object without a mandatory parameter (`code_challenge`): refused.
pub fn crfci_024(ctx: &mut Ctx<'_>) -> Step<()> {
    refused_ro(ctx, |_, p| drop(p.remove("code_challenge")))
}

/// CI_025: an expired request object (`exp` 100 s ago): refused.
pub fn ci_025(ctx: &mut Ctx<'_>) -> Step<()> {
    let now = UnixTime::now().secs();
    refused_ro(ctx, |_, p| {
        p.insert("iat".into(), (now - 250).into());
        p.insert("exp".into(), (now - 100).into());
    })
}

/// CI_026: a request object issued in the future (`iat` in 10 minutes): refused.
pub fn ci_026(ctx: &mut Ctx<'_>) -> Step<()> {
    let now = UnixTime::now().secs();
    refused_ro(ctx, |_, p| {
        p.insert("iat".into(), (now + 600).into());
        p.insert("exp".into(), (now + 800).into());
    })
}

/// CI_026a: a request object issued more than 5 minutes ago (and not yet expired): refused.
pub fn ci_026a(ctx: &mut Ctx<'_>) -> Step<()> {
    let now = UnixTime::now().secs();
    refused_ro(ctx, |_, p| {
        p.insert("iat".into(), (now - 400).into());
        p.insert("exp".into(), (now + 100).into());
    })
}

/// CI_027: the same request object (its `jti`) pushed twice by the client: the second refused.
pub fn ci_027(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let (req, _) = honest(ctx, &ep, &client)?;
    let r = push_by(ctx, &ep, &client, &req)?;
    ensure(r.status / 100 == 2, || format!("an honest PAR answered {} {}", r.status, short(&r.text())))?;
    let r = push_by(ctx, &ep, &client, &req)?;
    expect_refused(&r, &RO_ERRORS)
}

// --- The client's attestation (Attestation-Based Client Authentication §5; IT-Wallet 1.4 §3.3) ---

/// CI_028: the PoP signed by another key than the WAA's: 401 `invalid_client`.
pub fn ci_028(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let (req, _) = honest(ctx, &ep, &client)?;
    let other = new_key()?;
    ctx.record_jwt("request object", &req.request);
    let r = push(ctx, &ep, &req.to_form(), Some(&client.waa), &other)?;
    expect_refused(&r, &CLIENT_ERRORS)
}

/// A PAR by a client whose WAA is `waa` (honest otherwise).
fn with_waa(ctx: &mut Ctx<'_>, make: impl FnOnce(&mut Ctx<'_>, &SoftwareSigner) -> Step<String>) -> Step<Response> {
    let ep = endpoints(ctx)?;
    let key = new_key()?;
    let waa = make(ctx, &key)?;
    let client = Client { key, waa };
    let (req, _) = honest(ctx, &ep, &client)?;
    push_by(ctx, &ep, &client, &req)
}

/// The WAA's parts re-signed by `signer` after `edit`, its `trust_chain` header kept unless the
/// edit changes it.
fn resign_waa(waa: &str, signer: &SoftwareSigner, edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> Step<String> {
    let (mut h, mut p) = jws_parts(waa);
    edit(&mut h, &mut p);
    raw_jwt(&h, &p, signer)
}

/// CI_029: the WAA is validated as a whole, its form included: one with `typ` JWT (not
/// `oauth-client-attestation+jwt`), otherwise valid and signed by the provider, is refused.
pub fn ci_029(ctx: &mut Ctx<'_>) -> Step<()> {
    let wp_key = setup(ctx)?.wallet_provider.key.clone();
    let r = with_waa(ctx, |ctx, key| {
        let honest = waa(ctx, key, UnixTime::now(), 3_600)?;
        resign_waa(&honest, &wp_key, |h, _| drop(h.insert("typ".into(), "JWT".into())))
    })?;
    expect_refused(&r, &CLIENT_ERRORS)
}

/// CI_030: a WAA naming as its issuer an entity outside the federation (signed by the
/// provider's key, with the provider's chain): refused.
pub fn ci_030(ctx: &mut Ctx<'_>) -> Step<()> {
    let wp_key = setup(ctx)?.wallet_provider.key.clone();
    let r = with_waa(ctx, |ctx, key| {
        let honest = waa(ctx, key, UnixTime::now(), 3_600)?;
        resign_waa(&honest, &wp_key, |_, p| drop(p.insert("iss".into(), "https://unknown-provider.conformance.invalid".into())))
    })?;
    expect_refused(&r, &CLIENT_ERRORS)
}

/// CI_031: a WAA whose signature is not the provider's (a fresh key under the provider's
/// name and chain): refused.
pub fn ci_031(ctx: &mut Ctx<'_>) -> Step<()> {
    let r = with_waa(ctx, |ctx, key| {
        let honest = waa(ctx, key, UnixTime::now(), 3_600)?;
        let forger = new_key()?;
        let kid = forger.public_jwk().thumbprint().to_string();
        resign_waa(&honest, &forger, |h, _| drop(h.insert("kid".into(), kid.into())))
    })?;
    expect_refused(&r, &CLIENT_ERRORS)
}

/// CI_032: an expired WAA (issued two hours ago for one): refused.
pub fn ci_032(ctx: &mut Ctx<'_>) -> Step<()> {
    let r = with_waa(ctx, |ctx, key| waa(ctx, key, UnixTime::now().plus(-7_200), 3_600))?;
    expect_refused(&r, &CLIENT_ERRORS)
}

/// CI_035: a WAA whose `trust_chain` stops at the provider's Entity Configuration (no
/// statement of a superior, no anchor): refused.
pub fn ci_035(ctx: &mut Ctx<'_>) -> Step<()> {
    let wp_key = setup(ctx)?.wallet_provider.key.clone();
    let r = with_waa(ctx, |ctx, key| {
        let honest = waa(ctx, key, UnixTime::now(), 3_600)?;
        resign_waa(&honest, &wp_key, |h, _| {
            let first = h.get("trust_chain").and_then(Value::as_array).and_then(|c| c.first().cloned());
            h.insert("trust_chain".into(), Value::Array(first.into_iter().collect()));
        })
    })?;
    expect_refused(&r, &CLIENT_ERRORS)
}

/// CI_036, CI_037: a WAA without the `trust_chain` header (IT-Wallet 1.4 §3.3 "Wallet
/// Attestation": OPTIONAL), honest otherwise: the issuer establishes trust in the provider
/// through the Federation API (the provider's Entity Configuration, its superiors' fetch
/// endpoints, up to the trust anchor) and accepts the PAR (201).
pub fn waa_without_chain(ctx: &mut Ctx<'_>) -> Step<()> {
    let wp = setup(ctx)?.wallet_provider.clone();
    let r = with_waa(ctx, |_, key| {
        let jwk = key.public_jwk();
        let info = general_info();
        WaaBuilder::new(&wp.id, &jwk, &info, UnixTime::now()).lifetime(3_600).sign(&ProviderSigning::new(&*wp.key)).or_else(|e| fail(format!("signing the WAA: {e}")))
    })?;
    ensure(r.status == 201, || format!("a PAR whose WAA carries no trust_chain (the provider reachable through the federation) answered {} {}", r.status, super::protocol::short(&r.text())))
}

// --- The PAR response (RFC 9126 §2.2; IT-Wallet 1.4 §3.3) ---

/// CI_043: an honest PAR: 201.
pub fn ci_043(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, r) = honest_par(ctx)?;
    ensure(r.status == 201, || format!("an honest PAR answered {}, not 201", r.status))
}

/// CI_044: the PAR response is `application/json`.
pub fn ci_044(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, r) = honest_par(ctx)?;
    ensure(r.media_type().as_deref() == Some("application/json"), || format!("Content-Type {:?} is not application/json", r.media_type()))?;
    ensure(r.json().is_ok_and(|v| v.is_object()), || "the body is not a JSON object".into())
}

/// CI_044a: the PAR response carries `request_uri`.
pub fn ci_044a(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, r) = honest_par(ctx)?;
    request_uri(&r).map(|_| ())
}

/// `expires_in` of a PAR response.
fn expires_in(r: &Response) -> Step<u64> {
    match r.json().ok().and_then(|v| v.get("expires_in").and_then(Value::as_u64)) {
        Some(e) if e > 0 => Ok(e),
        _ => fail("the PAR response has no positive integer expires_in"),
    }
}

/// CI_044b: the PAR response carries `expires_in`, a positive integer.
pub fn ci_044b(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, r) = honest_par(ctx)?;
    expires_in(&r).map(|_| ())
}

/// CI_039: the `request_uri` is bound to the client that pushed it: presented at `/authorize`
/// with another `client_id`, refused (400).
pub fn ci_039(ctx: &mut Ctx<'_>) -> Step<()> {
    let (ep, _, _, r) = honest_par(ctx)?;
    let uri = request_uri(&r)?;
    let other = Client::new(ctx)?;
    let r = authorize(ctx, &ep, &other.id(), &uri)?;
    ensure(r.status == 400, || format!("the request_uri presented by another client answered {} {}", r.status, short(&r.text())))
}

/// CI_040: the `request_uri` lives less than a minute (`expires_in` < 60).
pub fn ci_040(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, r) = honest_par(ctx)?;
    let e = expires_in(&r)?;
    ensure(e < 60, || format!("expires_in {e}: the request_uri lives a minute or more"))
}

/// The random part of a `request_uri`: after the RFC 9126 prefix, or after its last `:` or `/`.
fn random_part(uri: &str) -> &str {
    uri.strip_prefix(URN).unwrap_or_else(|| uri.rsplit([':', '/']).next().unwrap_or(uri))
}

/// CI_041: the `request_uri` carries at least 128 random bits: at least 22 base64url
/// characters (or 32 hex digits) after its prefix, different in two PARs.
pub fn ci_041(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, r) = honest_par(ctx)?;
    let a = request_uri(&r)?;
    let rand = random_part(&a);
    let hex = rand.chars().all(|c| c.is_ascii_hexdigit());
    let bits = if hex { rand.len() * 4 } else { rand.len() * 6 };
    ensure(bits >= 128, || format!("`{rand}`: about {bits} bits, not 128"))?;
    let (_, _, _, r) = honest_par(ctx)?;
    let b = request_uri(&r)?;
    ensure(random_part(&b) != rand, || "two PARs have the same random part".into())
}

/// CI_042: the whole `request_uri` is at most 512 ASCII characters.
pub fn ci_042(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, r) = honest_par(ctx)?;
    let u = request_uri(&r)?;
    ensure(u.is_ascii() && u.len() <= 512, || format!("the request_uri has {} characters{}", u.chars().count(), if u.is_ascii() { "" } else { ", not all ASCII" }))
}

/// CI_038: each PAR gets its own `request_uri`.
pub fn ci_038(ctx: &mut Ctx<'_>) -> Step<()> {
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let (_, _, _, r) = honest_par(ctx)?;
        let u = request_uri(&r)?;
        ensure(seen.insert(u.clone()), || format!("request_uri `{u}` was given twice"))?;
    }
    Ok(())
}

/// CI_045: a refused PAR (no client attestation) answers as RFC 9126 §2.3 says: 400 or 401,
/// `application/json`, a registered `error`.
pub fn ci_045(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let (req, _) = honest(ctx, &ep, &client)?;
    let r = push(ctx, &ep, &req.to_form(), None, &client.key)?;
    ensure(r.status == 400 || r.status == 401, || format!("a PAR without client attestation answered {}", r.status))?;
    ensure(r.media_type().as_deref() == Some("application/json"), || format!("the error's Content-Type {:?} is not application/json", r.media_type()))?;
    let code = r.json().ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    let registered = ["invalid_request", "invalid_client", "invalid_request_object", "unauthorized_client", "use_attestation_challenge", "use_fresh_attestation"];
    ensure(code.as_deref().is_some_and(|c| registered.contains(&c)), || format!("error {code:?} is not a registered PAR error code"))
}

// --- `/authorize` (RFC 9126 §4) ---

/// CI_047: a `request_uri` is single use: redeemed once at `/authorize`, the second time
/// refused (400).
pub fn ci_047(ctx: &mut Ctx<'_>) -> Step<()> {
    let (ep, client, _, r) = honest_par(ctx)?;
    let uri = request_uri(&r)?;
    let first = authorize(ctx, &ep, &client.id(), &uri)?;
    ensure(first.status == 302 || first.status == 303 || first.status == 200, || format!("the first use of the request_uri answered {}", first.status))?;
    let again = authorize(ctx, &ep, &client.id(), &uri)?;
    ensure(again.status == 400, || format!("the request_uri used a second time answered {} {}", again.status, short(&again.text())))
}

/// CI_049: `/authorize` serves only requests pushed before: a `request_uri` the issuer never
/// issued is refused (400), asked twice.
pub fn ci_049(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    for attempt in ["first", "second"] {
        let uri = format!("{URN}conformance-never-pushed-{}", new_key()?.public_jwk().thumbprint());
        let r = authorize(ctx, &ep, &client.id(), &uri)?;
        ensure(r.status == 400, || format!("a request_uri never issued ({attempt} attempt) answered {} {}", r.status, short(&r.text())))?;
    }
    Ok(())
}

/// CI_050: an authorization request without `request_uri` (PAR is the only way): refused.
pub fn ci_050(ctx: &mut Ctx<'_>) -> Step<()> {
    let ep = endpoints(ctx)?;
    let client = Client::new(ctx)?;
    let sep = if ep.authorize.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}client_id={}&response_type=code&redirect_uri={}", ep.authorize, client.id(), url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect::<String>());
    let r = ctx.get(&url, &[])?;
    ensure(r.status == 400, || format!("an authorization request without request_uri answered {} {}", r.status, short(&r.text())))
}

/// CI_059: when the authorization fails, the wallet is sent back to its `redirect_uri` with a
/// 302 carrying `error`, its `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207). Observable when
/// `/authorize` ends in an error at once (an issuer that cannot authenticate the citizen), or,
/// when it asks for the PID over OpenID4VP, after the wallet declines
/// ([`super::pid_login::declined`]: the redirect then comes in the `response_uri`'s answer);
/// skipped when it goes on to another authentication.
pub fn ci_059(ctx: &mut Ctx<'_>) -> Step<()> {
    let (pending, q) = match authorized(ctx)? {
        Authorized::Vp(req) => {
            let (pending, q) = declined(ctx, *req)?;
            // RFC 6749 §4.1.2.1: the resource owner denied the request.
            ensure(q.get("error").map(String::as_str) == Some("access_denied"), || format!("the redirect after the wallet declined carries error {:?}, not access_denied", q.get("error")))?;
            (pending, q)
        }
        Authorized::Elsewhere(why) => return skip(format!("{why}: no error to observe")),
        Authorized::Back(pending, location, status) => {
            let q = query_params(&location);
            if !q.contains_key("error") {
                return skip("/authorize answered with a code at once: no error to observe");
            }
            ensure(status == 302, || format!("the error redirect is a {status}, not a 302"))?;
            (pending, q)
        }
    };
    ensure(q.contains_key("error"), || "the error redirect carries no error".to_owned())?;
    ensure(q.get("state") == Some(&pending.state), || format!("the error redirect's state {:?} is not the request's", q.get("state")))?;
    let me = ctx.target.entity_id.to_string();
    ensure(q.get("iss").is_some_and(|i| i.trim_end_matches('/') == me.trim_end_matches('/')), || format!("the error redirect's iss {:?} is not {me}", q.get("iss")))
}

