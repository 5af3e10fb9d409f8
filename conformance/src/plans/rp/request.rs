//! The request side: the wallet URL, the request object and how `request_uri` answers
//! (OpenID4VP 1.0 §5, §5.10; IT-Wallet 1.4 §5.1, §8; `test-plans-remote-presentation.rst`).

use serde_json::Value;
use wallet_core::oid4vp::RequestUriMethod;
use wallet_core::oid4vp::request_object::uri_registered;

use super::super::jwt::ALLOWED_ALGS;
use super::{Fetch, Flow, REQUEST_OBJECT_TYP, chain_metadata, create_session, fetch, fetch_raw, fetched, request_uri, verify_request};
use crate::case::{Ctx, Step, ensure, fail, skip};

/// The request object's media type.
const MEDIA: &str = "application/oauth-authz-req+jwt";

fn media(r: &crate::client::Response) -> Step<()> {
    let m = r.media_type().unwrap_or_default();
    ensure(m == MEDIA, || format!("request_uri answered Content-Type `{m}`, expected {MEDIA}"))
}

pub(crate) fn rpr_01(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, f) = fetched(ctx, Flow::SameDevice)?;
    let md = chain_metadata(ctx, &f)?;
    let (uri, _, _) = request_uri(&s)?;
    ensure(uri_registered(&md.request_uris, &uri), || format!("request_uri `{uri}` is not among the RP's request_uris {:?}", md.request_uris))?;
    ensure(s.url.client_id.as_str() == f.jwt.claim_str("client_id").unwrap_or_default(), || "the wallet URL's client_id is not the request object's".into())
}

pub(crate) fn rpr_02(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = create_session(ctx, Flow::CrossDevice, None)?;
    let Some(png) = s.qr_png.clone() else { return skip("the integrator API gives no QR code URL (qr_png)") };
    let setup = super::setup(ctx)?;
    let auth = format!("Bearer {}", setup.token);
    let r = ctx.get(&png, &[("authorization", &auth)])?;
    ensure(r.status == 200, || format!("the QR code answered {}", r.status))?;
    let m = r.media_type().unwrap_or_default();
    ensure(m == "image/png", || format!("the QR code is served as `{m}`, not image/png"))?;
    ensure(r.body.starts_with(b"\x89PNG\r\n\x1a\n"), || "the QR code is not a PNG".into())
}

/// RPR-03: the QR code encodes the session's wallet URL, whose `request_uri` is one the RP's
/// metadata registers (read from the QR's SVG rendering).
pub(crate) fn rpr_03(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, f) = fetched(ctx, Flow::CrossDevice)?;
    let Some(svg) = s.qr_svg.clone() else { return skip("the integrator API gives no QR code SVG (qr_svg)") };
    let setup = super::setup(ctx)?;
    let auth = format!("Bearer {}", setup.token);
    let r = ctx.get(&svg, &[("authorization", &auth)])?;
    ensure(r.status == 200, || format!("the QR code's SVG answered {}", r.status))?;
    let grid = super::qr::Grid::from_svg(&r.text()).or_else(|e| fail(format!("the QR code's SVG: {e}")))?;
    let text = grid.decode().or_else(|e| fail(format!("the QR code does not decode: {e}")))?;
    ctx.note(format!("the QR code encodes {text}"));
    ensure(text == s.wallet_url, || format!("the QR code encodes `{text}`, not the session's wallet URL `{}`", s.wallet_url))?;
    let url = wallet_core::oid4vp::AuthorizationRequestUrl::parse(&text).or_else(|e| fail(format!("the QR code's URL is not an authorization request: {e}")))?;
    let uri = match &url.request {
        wallet_core::oid4vp::RequestRef::Uri { uri, .. } => uri.clone(),
        wallet_core::oid4vp::RequestRef::Value(_) => return fail("the QR code carries the request object by value"),
    };
    let md = chain_metadata(ctx, &f)?;
    ensure(uri_registered(&md.request_uris, &uri), || format!("the QR code's request_uri `{uri}` is not among the RP's request_uris {:?}", md.request_uris))
}

/// RPR-77: the QR code's error correction level is Q, read from the format information of
/// its SVG rendering (the PNG would need an image decoder).
pub(crate) fn rpr_77(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = create_session(ctx, Flow::CrossDevice, None)?;
    let Some(svg) = s.qr_svg.clone() else { return skip("the integrator API gives no QR code SVG (qr_svg)") };
    let setup = super::setup(ctx)?;
    let auth = format!("Bearer {}", setup.token);
    let r = ctx.get(&svg, &[("authorization", &auth)])?;
    ensure(r.status == 200, || format!("the QR code's SVG answered {}", r.status))?;
    let grid = super::qr::Grid::from_svg(&r.text()).or_else(|e| fail(format!("the QR code's SVG: {e}")))?;
    let (level, mask) = grid.format().or_else(|e| fail(format!("the QR code: {e}")))?;
    ctx.note(format!("QR code of {} modules: error correction level {level:?}, mask {mask}", grid.size));
    ensure(level == super::qr::EcLevel::Q, || format!("the QR code's error correction level is {level:?}, not Q"))
}

pub(crate) fn rpr_07(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = create_session(ctx, Flow::CrossDevice, Some("post"))?;
    let (_, method, _) = request_uri(&s)?;
    ensure(method == RequestUriMethod::Post, || "a session created for post has a wallet URL without request_uri_method=post".into())?;
    let f = fetch(ctx, &s, Fetch::Post)?;
    media(&f.response)?;
    let sent = f.wallet_nonce.as_ref().map(|n| n.as_str().to_owned());
    ensure(f.jwt.claim_str("wallet_nonce").map(str::to_owned) == sent, || format!("wallet_nonce {:?}, sent {sent:?}", f.jwt.claim_str("wallet_nonce")))
}

pub(crate) fn rpr_08(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = create_session(ctx, Flow::CrossDevice, Some("get"))?;
    let f = fetch(ctx, &s, Fetch::Get)?;
    media(&f.response)
}

pub(crate) fn rpr_09(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = create_session(ctx, Flow::SameDevice, Some("get"))?;
    let (_, method, explicit) = request_uri(&s)?;
    ctx.note(format!("request_uri_method {} in the URL: {explicit}", method.as_str()));
    let f = fetch(ctx, &s, Fetch::Get)?;
    media(&f.response)
}

pub(crate) fn rpr_10(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, f) = fetched(ctx, Flow::CrossDevice)?;
    let v = verify_request(ctx, &s, &f)?;
    ctx.note(format!("verified: client_id {}, response_uri {}", v.client_id.as_str(), v.response_uri));
    Ok(())
}

pub(crate) fn rpr_49(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = create_session(ctx, Flow::CrossDevice, Some("post"))?;
    let (uri, _, _) = request_uri(&s)?;
    let r = ctx.send("POST", &uri, &[("content-type", "application/json"), ("accept", MEDIA)], Some(br#"{"wallet_nonce":"conformance-json-body"}"#))?;
    ensure((400..500).contains(&r.status), || format!("a JSON body answered {}, expected 415 or 400", r.status))?;
    ensure(r.media_type().as_deref() != Some(MEDIA), || "a request object was served for a JSON body".into())
}

pub(crate) fn rpr_60(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = create_session(ctx, Flow::CrossDevice, Some("post"))?;
    methods(ctx, &s, &["PUT", "DELETE"])
}

pub(crate) fn rpr_76(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = create_session(ctx, Flow::CrossDevice, Some("post"))?;
    methods(ctx, &s, &["PATCH"])
}

/// `request_uri` refuses `methods` and still serves the request object afterwards.
fn methods(ctx: &mut Ctx<'_>, s: &super::Session, methods: &[&str]) -> Step<()> {
    let (uri, _, _) = request_uri(s)?;
    for m in methods {
        let r = ctx.send(m, &uri, &[("accept", MEDIA)], None)?;
        ensure((400..500).contains(&r.status), || format!("{m} request_uri answered {}, expected 405", r.status))?;
        ensure(r.media_type().as_deref() != Some(MEDIA), || format!("{m} served a request object"))?;
    }
    // The handle still works for the right method.
    fetch(ctx, s, Fetch::Post).map(drop)
}

pub(crate) fn rpr_81(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = create_session(ctx, Flow::CrossDevice, Some("post"))?;
    let f = fetch(ctx, &s, Fetch::Post)?;
    let Some(sent) = f.wallet_nonce.as_ref().map(|n| n.as_str().to_owned()) else { return fail("no wallet_nonce sent") };
    let got = f.jwt.claim_str("wallet_nonce");
    ensure(got == Some(sent.as_str()), || format!("the request object's wallet_nonce is {got:?}, the wallet sent `{sent}`"))
}

pub(crate) fn rpr_83(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, f) = fetched(ctx, Flow::SameDevice)?;
    ensure(f.jwt.claim_str("response_uri").is_some(), || "no response_uri".into())?;
    let md = chain_metadata(ctx, &f)?;
    match f.jwt.claim_str("redirect_uri") {
        Some(r) => ensure(uri_registered(&md.redirect_uris, r), || format!("redirect_uri `{r}` is not among {:?}", md.redirect_uris)),
        None => {
            ctx.note("no redirect_uri in the request object: the RP gives it in the response_uri's answer");
            Ok(())
        }
    }
}

pub(crate) fn rpr_84(ctx: &mut Ctx<'_>) -> Step<()> {
    for flow in [Flow::SameDevice, Flow::CrossDevice] {
        fetched(ctx, flow)?;
    }
    Ok(())
}

pub(crate) fn rpr_85(ctx: &mut Ctx<'_>) -> Step<()> {
    let (s, f) = fetched(ctx, Flow::CrossDevice)?;
    let md = chain_metadata(ctx, &f)?;
    let (uri, _, _) = request_uri(&s)?;
    ensure(uri_registered(&md.request_uris, &uri), || format!("request_uri `{uri}` is not among the trust chain's request_uris {:?}", md.request_uris))
}

pub(crate) fn rpr_87(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = create_session(ctx, Flow::CrossDevice, Some("post"))?;
    let (r, _, _) = fetch_raw(ctx, &s, Fetch::Post)?;
    ensure(r.status == 200, || format!("a form POST answered {}", r.status))?;
    media(&r)
}

pub(crate) fn rpr_88(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, f) = fetched(ctx, Flow::CrossDevice)?;
    let alg = f.jwt.header_str("alg").unwrap_or_default().to_owned();
    ensure(ALLOWED_ALGS.contains(&alg.as_str()), || format!("alg `{alg}` (allowed: {})", ALLOWED_ALGS.join(", ")))?;
    let chain_ok = chain_metadata(ctx, &f)?;
    let keys: Vec<Value> = chain_ok.jwks.as_ref().map(|k| k.keys.iter().filter_map(|j| serde_json::to_value(j).ok()).collect()).unwrap_or_default();
    f.jwt.verify_with("the request object", &keys)
}

pub(crate) fn rpr_89(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, f) = fetched(ctx, Flow::CrossDevice)?;
    let typ = f.jwt.header_str("typ");
    ensure(typ == Some(REQUEST_OBJECT_TYP), || format!("typ {typ:?}, expected {REQUEST_OBJECT_TYP}"))
}

pub(crate) fn rpr_90(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, f) = fetched(ctx, Flow::CrossDevice)?;
    let m = f.jwt.claim_str("response_mode");
    ensure(m == Some("direct_post.jwt"), || format!("response_mode {m:?}, expected direct_post.jwt"))
}

pub(crate) fn rpr_91(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, f) = fetched(ctx, Flow::CrossDevice)?;
    let t = f.jwt.claim_str("response_type");
    ensure(t == Some("vp_token"), || format!("response_type {t:?}, expected vp_token"))
}

fn response_uri_registered(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, f) = fetched(ctx, Flow::CrossDevice)?;
    let Some(uri) = f.jwt.claim_str("response_uri").map(str::to_owned) else { return fail("no response_uri") };
    let md = chain_metadata(ctx, &f)?;
    ensure(uri_registered(&md.response_uris, &uri), || format!("response_uri `{uri}` is not among the trust chain's response_uris {:?}", md.response_uris))
}

pub(crate) fn rpr_92(ctx: &mut Ctx<'_>) -> Step<()> {
    response_uri_registered(ctx)
}

pub(crate) fn rpr_93(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, f) = fetched(ctx, Flow::CrossDevice)?;
    let n = f.jwt.claim_str("nonce").unwrap_or_default();
    ensure(n.chars().count() >= 32, || format!("nonce `{n}` has {} characters, fewer than 32", n.chars().count()))?;
    let (_, g) = fetched(ctx, Flow::CrossDevice)?;
    ensure(g.jwt.claim_str("nonce") != Some(n), || "two sessions got the same nonce".into())
}

pub(crate) fn rpr_94(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, f) = fetched(ctx, Flow::CrossDevice)?;
    let (Some(iat), Some(exp)) = (f.jwt.claim_i64("iat"), f.jwt.claim_i64("exp")) else { return fail("iat or exp missing or not an integer") };
    let now = wallet_core::time::UnixTime::now().secs();
    ensure(exp > iat, || format!("exp {exp} is not after iat {iat}"))?;
    ensure(exp > now, || format!("exp {exp} has passed (now {now})"))?;
    ensure(iat <= now + super::super::entity::SKEW, || format!("iat {iat} is in the future"))
}

pub(crate) fn rpr_95(ctx: &mut Ctx<'_>) -> Step<()> {
    response_uri_registered(ctx)
}

pub(crate) fn rpr_96(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, f) = fetched(ctx, Flow::CrossDevice)?;
    let Some(cm) = f.jwt.payload.get("client_metadata").and_then(Value::as_object).cloned() else {
        return skip("the request object has no client_metadata");
    };
    let md = chain_metadata(ctx, &f)?;
    let cm = wallet_core::oid4vp::VerifierMetadata::from_map(&cm).or_else(|e| fail(format!("client_metadata: {e}")))?;
    // Its keys: the chain's, or response-encryption keys for this request alone
    // (it-wallet-versions.md: 1.4.x-post, "client_metadata.jwks … MAY carry ephemeral
    // response-encryption keys": `use: enc`, a `kid`). Any other key (one to sign with, say)
    // that the chain does not have is out of line with it.
    for k in cm.jwks.iter().flat_map(|s| s.keys.iter()) {
        let tp = k.thumbprint();
        let in_chain = md.jwks.iter().flat_map(|s| s.keys.iter()).any(|m| m.thumbprint() == tp);
        let request_key = k.key_use.as_deref() == Some("enc") && k.kid.is_some();
        ensure(in_chain || request_key, || format!("client_metadata's key {:?} (use {:?}) is not in the trust chain's metadata, nor a response-encryption key", k.kid, k.key_use))?;
    }
    if let (Some(a), Some(b)) = (&cm.encrypted_response_enc_values_supported, &md.encrypted_response_enc_values_supported) {
        ensure(a.iter().all(|e| b.contains(e)), || format!("client_metadata's enc values {a:?} are not among the chain's {b:?}"))?;
    }
    Ok(())
}

pub(crate) fn rpr_86(ctx: &mut Ctx<'_>) -> Step<()> {
    // The POST carries the wallet's technical metadata only (no user data): the RP must serve
    // a request object fitted to it.
    rpr_87(ctx)
}

pub(crate) fn rpr_20(ctx: &mut Ctx<'_>) -> Step<()> {
    invalid_redirect(ctx)
}

pub(crate) fn rpr_57(ctx: &mut Ctx<'_>) -> Step<()> {
    invalid_redirect(ctx)
}

/// A same-device session asked with a `redirect_uri` the RP never registered: refused by
/// the integrator API, or, if created, its request object carries no such redirect.
fn invalid_redirect(ctx: &mut Ctx<'_>) -> Step<()> {
    let setup = super::setup(ctx)?;
    let evil = "https://attacker.conformance.example/steal";
    let body = serde_json::json!({"dcql_query": super::dcql_query(), "flow": "same_device", "redirect_uri": evil});
    let url = format!("{}/sessions", setup.sessions.trim_end_matches('/'));
    let auth = format!("Bearer {}", setup.token);
    let r = ctx.send("POST", &url, &[("content-type", "application/json"), ("authorization", &auth)], Some(body.to_string().as_bytes()))?;
    ensure((400..500).contains(&r.status), || format!("a session with an unregistered redirect_uri was answered {} {}", r.status, r.text()))?;
    let v = r.json().unwrap_or(Value::Null);
    ensure(v.get("error").and_then(Value::as_str).is_some(), || format!("the refusal has no error: {v}"))
}

pub(crate) fn rpr_23(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, f) = fetched(ctx, Flow::CrossDevice)?;
    let md = chain_metadata(ctx, &f)?;
    let formats: Vec<String> = md.vp_formats_supported.as_ref().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    ctx.note(format!("vp_formats_supported: {}", formats.join(", ")));
    ensure(formats.iter().any(|f| f == "dc+sd-jwt"), || format!("vp_formats_supported {formats:?} lacks dc+sd-jwt"))?;
    // Every format the query asks is one the metadata supports.
    let asked: Vec<String> = f
        .jwt
        .payload
        .get("dcql_query")
        .and_then(|q| q.get("credentials"))
        .and_then(Value::as_array)
        .map(|cs| cs.iter().filter_map(|c| c.get("format").and_then(Value::as_str).map(str::to_owned)).collect())
        .unwrap_or_default();
    ensure(asked.iter().all(|a| formats.contains(a)), || format!("the query asks formats {asked:?}, the metadata supports {formats:?}"))
}

pub(crate) fn rpr_82(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, f) = fetched(ctx, Flow::CrossDevice)?;
    let md = chain_metadata(ctx, &f)?;
    match md.extra.get("response_types_supported") {
        None => {
            ctx.note("no response_types_supported in the RP's metadata (optional)");
            Ok(())
        }
        Some(v) => ensure(v.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(|t| t == "vp_token")), || format!("response_types_supported is {v}, expected [\"vp_token\"]")),
    }
}
