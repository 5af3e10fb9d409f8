//! The tool as a wallet instance at a wallet provider (IT-Wallet 1.4 §2.2-§2.4): it registers
//! a hardware key it holds in a software key store (wallet-core's `SoftwareKeyStore`,
//! attested by the root of [`WalletSetup`]), asks for attestations with wallet-core's
//! `attestations-request+jwt`, and lists and revokes its instances with the citizen's session.
//! Hostile variants are the honest message with one thing changed, re-signed by the key that
//! signed it. Every instance a test registers is revoked when the test ends.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use wallet_core::attestation::{AttestationRequestBuilder, ProviderNonce, RegistrationRequest};
use wallet_core::jose::{Signer, SoftwareSigner, b64};
use wallet_core::keystore::{KeyStore, KeyTag, SoftwareKeyStore};
use wallet_core::time::UnixTime;

use crate::case::{Ctx, Step, ensure, fail, skip};
use crate::client::Response;
use crate::target::WalletSetup;

/// The nonce endpoint (§2.4 `GET /nonce`).
pub(super) const NONCE: &str = "/nonce";
/// Registration, retrieval and revocation (§2.4).
pub(super) const INSTANCES: &str = "/wallet-instances";
/// The attestation endpoint (§2.3).
pub(super) const ATTESTATION: &str = "/wallet-attestation";
/// The signature a hostile message carries in place of a valid one.
pub(super) const FORGED_SIGNATURE: [u8; 64] = [7; 64];

/// A wallet instance the tool registered (or, unregistered, only generated).
pub(super) struct Instance {
    keys: Arc<SoftwareKeyStore>,
    /// The hardware key's tag (the instance id).
    pub(super) tag: KeyTag,
    session: String,
}

impl Instance {
    /// The hardware key's tag as the instance id.
    pub(super) fn id(&self) -> &str {
        self.tag.as_str()
    }
}

fn setup<'a>(ctx: &Ctx<'a>) -> Step<&'a WalletSetup> {
    match &ctx.target.wallet {
        Some(s) => Ok(s),
        None => skip("no citizen session for the provider was given (--wp-session): the wallet rows need one"),
    }
}

fn tool(what: impl std::fmt::Display) -> crate::case::Stop {
    crate::case::Stop::Skip(format!("the tool's wallet: {what}"))
}

/// A key store with a fresh hardware key (attested by `root`, or the setup's).
fn fresh_keys(setup: &WalletSetup, root: Option<SoftwareSigner>) -> Step<(Arc<SoftwareKeyStore>, KeyTag)> {
    let attester = match root {
        Some(r) => wallet_core::attestation::key_attestation::SoftwareAttester::new(r),
        None => setup.attester().map_err(tool)?,
    };
    let keys = Arc::new(SoftwareKeyStore::in_memory(attester).map_err(tool)?);
    let tag = KeyTag::generate().map_err(tool)?;
    keys.generate_key(&tag).map_err(tool)?;
    Ok((keys, tag))
}

fn bearer(session: &str) -> String {
    format!("Bearer {session}")
}

/// `GET /nonce` → the nonce.
pub(super) fn nonce(ctx: &mut Ctx<'_>) -> Step<ProviderNonce> {
    let url = ctx.target.url(NONCE);
    let r = ctx.get(&url, &[])?;
    ensure(r.status == 200, || format!("GET {url} answered {}", r.status))?;
    let n = r.json().ok().and_then(|v| v.get("nonce").and_then(Value::as_str).and_then(ProviderNonce::new));
    match n {
        Some(n) => Ok(n),
        None => fail("no nonce in the answer of /nonce"),
    }
}

/// The registration body for the hardware key `tag` of `keys`, with `nonce`.
fn registration_body(keys: &SoftwareKeyStore, tag: &KeyTag, nonce: ProviderNonce) -> Step<Value> {
    let body = RegistrationRequest::new(keys, tag, nonce).map_err(tool)?;
    serde_json::to_value(body).map_err(tool)
}

/// `POST /wallet-instances` with `body` and the bearer `session`.
pub(super) fn post_registration(ctx: &mut Ctx<'_>, session: &str, body: &Value) -> Step<Response> {
    let url = ctx.target.url(INSTANCES);
    let auth = bearer(session);
    let bytes = body.to_string().into_bytes();
    ctx.send("POST", &url, &[("content-type", "application/json"), ("authorization", &auth)], Some(&bytes))
}

/// A key generated and attested but never registered.
pub(super) fn unregistered(ctx: &Ctx<'_>) -> Step<Instance> {
    let setup = setup(ctx)?;
    let (keys, tag) = fresh_keys(setup, None)?;
    Ok(Instance { keys, tag, session: setup.session.clone() })
}

/// Another device claiming `inst`'s tag: a key store with a different key under the same tag.
pub(super) fn same_tag_other_key(ctx: &Ctx<'_>, inst: &Instance) -> Step<Instance> {
    let setup = setup(ctx)?;
    let keys = Arc::new(SoftwareKeyStore::in_memory(setup.attester().map_err(tool)?).map_err(tool)?);
    keys.generate_key(&inst.tag).map_err(tool)?;
    Ok(Instance { keys, tag: inst.tag.clone(), session: inst.session.clone() })
}

/// Registers a fresh instance honestly: the answer must be a success; returns it with the
/// answer.
pub(super) fn register_with(ctx: &mut Ctx<'_>) -> Step<(Instance, Response)> {
    let inst = unregistered(ctx)?;
    let n = nonce(ctx)?;
    let body = registration_body(&inst.keys, &inst.tag, n)?;
    let r = post_registration(ctx, &inst.session, &body)?;
    if !(200..300).contains(&r.status) {
        return fail(format!("an honest registration answered {}: {}", r.status, r.text()));
    }
    Ok((inst, r))
}

/// Registers a fresh instance honestly.
pub(super) fn register(ctx: &mut Ctx<'_>) -> Step<Instance> {
    register_with(ctx).map(|(i, _)| i)
}

/// A registration of a fresh key with one thing changed by `edit` (body, key store, tag); the
/// provider's answer.
pub(super) fn hostile_registration(ctx: &mut Ctx<'_>, root: Option<SoftwareSigner>, nonce: ProviderNonce, edit: impl FnOnce(&mut Value)) -> Step<Response> {
    let setup = setup(ctx)?;
    let (keys, tag) = fresh_keys(setup, root)?;
    let mut body = registration_body(&keys, &tag, nonce)?;
    edit(&mut body);
    let session = setup.session.clone();
    post_registration(ctx, &session, &body)
}

/// The body of `inst`'s registration with `nonce` (for a second, hostile, registration).
pub(super) fn registration_of(inst: &Instance, nonce: ProviderNonce) -> Step<Value> {
    registration_body(&inst.keys, &inst.tag, nonce)
}

/// The session of the setup (for requests built by hand).
pub(super) fn session(ctx: &Ctx<'_>) -> Step<String> {
    setup(ctx).map(|s| s.session.clone())
}

/// Another citizen's session, or skips.
pub(super) fn other_session(ctx: &Ctx<'_>) -> Step<String> {
    match &setup(ctx)?.other_session {
        Some(s) => Ok(s.clone()),
        None => skip("no second citizen's session was given (--wp-other-session)"),
    }
}

/// `PATCH /wallet-instances/{id}` with `body` and the bearer `session`.
pub(super) fn patch(ctx: &mut Ctx<'_>, session: &str, id: &str, body: &Value) -> Step<Response> {
    let url = ctx.target.url(&format!("{INSTANCES}/{id}"));
    let auth = bearer(session);
    let bytes = body.to_string().into_bytes();
    ctx.send("PATCH", &url, &[("content-type", "application/json"), ("authorization", &auth)], Some(&bytes))
}

/// `PATCH /wallet-instances/{id}` `{"status":"REVOKED"}` with the instance's session.
pub(super) fn revoke(ctx: &mut Ctx<'_>, inst: &Instance) -> Step<Response> {
    let session = inst.session.clone();
    patch(ctx, &session, inst.id(), &json!({"status": "REVOKED"}))
}

/// `GET /wallet-instances` or `/wallet-instances/{id}` with `session`.
pub(super) fn get(ctx: &mut Ctx<'_>, session: &str, id: Option<&str>) -> Step<Response> {
    let url = match id {
        Some(id) => ctx.target.url(&format!("{INSTANCES}/{id}")),
        None => ctx.target.url(INSTANCES),
    };
    let auth = bearer(session);
    ctx.get(&url, &[("authorization", &auth)])
}

/// The instance's entry in the citizen's list (`GET /wallet-instances`).
pub(super) fn listed(ctx: &mut Ctx<'_>, inst: &Instance) -> Step<Value> {
    let session = inst.session.clone();
    let r = get(ctx, &session, None)?;
    ensure(r.status == 200, || format!("GET /wallet-instances answered {}", r.status))?;
    let list = r.json().unwrap_or(Value::Null);
    let Some(entries) = list.as_array() else { return fail(format!("GET /wallet-instances: not a JSON array: {list}")) };
    match entries.iter().find(|e| e.get("id").and_then(Value::as_str) == Some(inst.id())) {
        Some(e) => Ok(e.clone()),
        None => fail(format!("the instance {} just registered is not in the citizen's list", inst.id())),
    }
}

/// Runs `f` with a freshly registered instance, then revokes it (whatever `f` gave).
pub(super) fn with_instance<T>(ctx: &mut Ctx<'_>, f: impl FnOnce(&mut Ctx<'_>, &Instance) -> Step<T>) -> Step<T> {
    let inst = register(ctx)?;
    let out = f(ctx, &inst);
    let _ = revoke(ctx, &inst);
    out
}

/// An attestation request for `inst` with `nonce`, changed by `edit` (header, payload) and
/// re-signed by the ephemeral key (or by `signer` when given).
pub(super) fn attestation_request(
    inst: &Instance,
    provider: &str,
    nonce: &ProviderNonce,
    edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>),
    signer: Option<&SoftwareSigner>,
) -> Step<(String, SoftwareSigner)> {
    let ephemeral = SoftwareSigner::generate().map_err(tool)?;
    let credential = KeyTag::generate().map_err(tool)?;
    inst.keys.generate_key(&credential).map_err(tool)?;
    let builder = AttestationRequestBuilder { provider, nonce, hardware_key_tag: &inst.tag, credential_key_tag: &credential, now: UnixTime::now() };
    let honest = builder.build(inst.keys.as_ref(), &ephemeral).map_err(tool)?;
    let jwt = super::Jwt::decode("the attestation request", &honest)?;
    let (mut h, mut p) = (jwt.header, jwt.payload);
    edit(&mut h, &mut p);
    let input = format!("{}.{}", b64::encode(Value::Object(h).to_string()), b64::encode(Value::Object(p).to_string()));
    let sig = signer.unwrap_or(&ephemeral).sign(input.as_bytes()).map_err(tool)?;
    Ok((format!("{input}.{}", b64::encode(sig)), ephemeral))
}

/// `POST /wallet-attestation` `{"assertion"}`.
pub(super) fn post_attestation(ctx: &mut Ctx<'_>, assertion: &str) -> Step<Response> {
    let url = ctx.target.url(ATTESTATION);
    let body = json!({ "assertion": assertion }).to_string().into_bytes();
    ctx.send("POST", &url, &[("content-type", "application/json")], Some(&body))
}

/// Asks for attestations for `inst` with a request changed by `edit`; the answer.
pub(super) fn attest(ctx: &mut Ctx<'_>, inst: &Instance, edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> Step<(Response, SoftwareSigner)> {
    let n = nonce(ctx)?;
    let provider = ctx.target.entity_id.to_string();
    let (assertion, ephemeral) = attestation_request(inst, &provider, &n, edit, None)?;
    ctx.record_jwt("attestation request", &assertion);
    Ok((post_attestation(ctx, &assertion)?, ephemeral))
}

/// The WAA of a 200 answer (recorded).
pub(super) fn waa(ctx: &mut Ctx<'_>, r: &Response) -> Step<super::Jwt> {
    ensure(r.status == 200, || format!("an honest attestation request answered {}: {}", r.status, r.text()))?;
    let v = r.json().unwrap_or(Value::Null);
    let Some(waa) = v.pointer("/wallet_attestations/wallet_app_attestation").and_then(Value::as_str) else {
        return fail(format!("no wallet_attestations.wallet_app_attestation in {v}"));
    };
    ctx.record_jwt("Wallet Attestation (WAA)", waa);
    if let Some(wua) = v.pointer("/wallet_attestations/wallet_unit_attestation").and_then(Value::as_str) {
        ctx.record_jwt("Wallet Unit Attestation (WUA)", wua);
    }
    super::Jwt::decode("the WAA", waa)
}

/// The attestation the tool's hostile messages carry with their signature replaced by
/// [`FORGED_SIGNATURE`].
pub(super) fn forge_signature(jwt: &str) -> String {
    match jwt.rsplit_once('.') {
        Some((head, _)) => format!("{head}.{}", b64::encode(FORGED_SIGNATURE)),
        None => jwt.to_owned(),
    }
}

/// The answer must refuse: a 4xx, and when given, this status and `error` code.
pub(super) fn refused(what: &str, r: &Response, status: Option<u16>, code: Option<&str>) -> Step<()> {
    ensure((400..500).contains(&r.status), || format!("{what}: answered {}, expected a refusal (4xx)", r.status))?;
    if let Some(s) = status {
        ensure(r.status == s, || format!("{what}: answered {}, expected {s}", r.status))?;
    }
    if let Some(c) = code {
        let got = super::error_body(what, r)?;
        ensure(got == c, || format!("{what}: error `{got}`, expected `{c}`"))?;
    }
    Ok(())
}
