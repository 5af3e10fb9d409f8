//! The issuer plan's rows on the citizen's authentication with the PID and the authorization
//! code (`CI_054`–`CI_062`): the tool as a wallet instance through IT-Wallet 1.4 §3.3 steps 5–11
//! when the issuer, a (Q)EAA provider, authenticates citizens by asking for their PID over
//! OpenID4VP. An honest PAR and `/authorize` ([`super::par`]); the issuer's OpenID4VP request
//! fetched and read as a wallet reads it (wallet-core's request object checks, the issuer's
//! trust chain to `--trust-anchor`); a PID for `--issuer-citizen`, signed as the PID provider of
//! `--issuer-pid-provider` (a provider of the target's federation whose key the tool holds),
//! its status VALID in a list the tool serves ([`crate::status_list`]), presented with a KB-JWT
//! and encrypted to the issuer's key (`direct_post.jwt`); the authorization response the issuer
//! answers at its `response_uri` (OpenID4VP 1.0 §8.2: `{"redirect_uri"}` to the wallet's
//! `redirect_uri` with `code`, `state`, `iss`; RFC 9207); then the code at the token endpoint
//! (PKCE, DPoP, the client attestation: RFC 6749 §4.1.3, RFC 7636 §4.6).
//!
//! An issuer that authenticates citizens otherwise (SPID/CIE: `/authorize` goes to an OpenID
//! Provider) or not at all has these rows skipped, as one without a PID provider given.
//! A code is spent by any attempt to redeem it (our issuer takes it before it checks the
//! binding), so each hostile token request gets a login of its own.

use std::collections::HashMap;

use serde_json::Value;
use wallet_core::attestation::client_attestation_headers;
use wallet_core::oid4vci::{CodeVerifier, PendingAuthorization, TokenRequest};
use wallet_core::oid4vp::dcql::{CredentialFormat, DcqlQuery, PathPatternElement};
use wallet_core::oid4vp::request_url::REQUEST_OBJECT_MEDIA_TYPE;
use wallet_core::oid4vp::{AuthorizationRequestUrl, ErrorResponse, RequestRef};
use wallet_core::sd_jwt::SdJwt;
use wallet_core::jose::SoftwareSigner;
use wallet_core::time::UnixTime;
use wallet_core::vc::Vct;

use super::par::{self, Client, REDIRECT_URI};
use super::protocol::short;
use super::wallet;
use crate::case::{Ctx, Step, ensure, fail, skip};
use crate::client::Response;
use crate::plans::rp;
use crate::target::TestIssuer;

/// The PID types a (Q)EAA provider may ask for (IT-Wallet 1.4 §4.3; the transitional one of 1.3).
const PID_VCTS: [&str; 2] = [Vct::PID, Vct::PID_TRANSITIONAL];

/// The PID provider whose PIDs the tool presents, or skip.
fn pid_provider<'a>(ctx: &Ctx<'a>) -> Step<&'a TestIssuer> {
    match wallet::setup(ctx)?.pid_provider.as_ref() {
        Some(p) => Ok(p),
        None => skip("needs --issuer-pid-provider and --issuer-pid-provider-key: a PID provider of the federation whose key the tool holds"),
    }
}

/// Where `/authorize` sent the wallet: the OpenID4VP request, and what the wallet keeps.
pub struct Requested {
    /// The authorization server's endpoints.
    pub ep: par::Endpoints,
    /// The wallet instance.
    pub client: Client,
    /// The PKCE verifier, `state` and `redirect_uri` of the pushed request.
    pub pending: PendingAuthorization,
    /// `/authorize`'s answer.
    pub authorize: Response,
    /// The OpenID4VP request it redirects to.
    pub session: rp::Session,
}

/// Where `/authorize` sent the wallet.
pub enum Authorized {
    /// Back to its `redirect_uri` at once (an error or a code): the pushed request, the
    /// `Location` and the status.
    Back(PendingAuthorization, String, u16),
    /// To an OpenID4VP request (the PID).
    Vp(Box<Requested>),
    /// Elsewhere (an OpenID Provider: SPID/CIE): why this is not an OpenID4VP request.
    Elsewhere(String),
}

/// An honest PAR, then `/authorize`: where it sends the wallet.
pub fn authorized(ctx: &mut Ctx<'_>) -> Step<Authorized> {
    let (ep, client, pending, r) = par::honest_par(ctx)?;
    let uri = par::request_uri(&r)?;
    let authorize = par::authorize(ctx, &ep, &client.id(), &uri)?;
    let location = authorize.header("location").unwrap_or_default().to_owned();
    if location.starts_with(REDIRECT_URI) {
        return Ok(Authorized::Back(pending, location, authorize.status));
    }
    let custom = location.starts_with("openid4vp:") || location.starts_with("haip-vp:");
    let url = match AuthorizationRequestUrl::parse(&location) {
        Ok(u) if custom || matches!(u.request, RequestRef::Uri { .. }) => u,
        _ => return Ok(Authorized::Elsewhere(format!("/authorize answered {} {}: not an OpenID4VP request (the issuer authenticates citizens otherwise: SPID/CIE)", authorize.status, short(&location)))),
    };
    ctx.note(format!("the OpenID4VP request: {location}"));
    let session = rp::Session { id: String::new(), wallet_url: location, url, qr_png: None, qr_svg: None };
    Ok(Authorized::Vp(Box::new(Requested { ep, client, pending, authorize, session })))
}

/// The OpenID4VP request `/authorize` sends the wallet to; skips when the issuer sends it
/// back at once or elsewhere (another way of authenticating), or no PID provider is given.
pub fn requested(ctx: &mut Ctx<'_>) -> Step<Requested> {
    pid_provider(ctx)?;
    match authorized(ctx)? {
        Authorized::Vp(r) => Ok(*r),
        Authorized::Back(_, location, _) => skip(format!("/authorize sent the wallet back at once ({}): the issuer does not ask for the PID", short(&location))),
        Authorized::Elsewhere(why) => skip(why),
    }
}

/// The Credential Query of the PID in the request object: its id, the `vct` to present and
/// the claims asked (top-level names).
fn asked(f: &rp::Fetched) -> Step<(String, String, Vec<String>)> {
    let Some(q) = f.jwt.payload.get("dcql_query").cloned() else { return fail("the request object has no dcql_query") };
    let q: DcqlQuery = serde_json::from_value(q).or_else(|e| fail(format!("the request object's dcql_query does not parse: {e}")))?;
    let vcts = |c: &&wallet_core::oid4vp::dcql::CredentialQuery| c.meta.vct_values.clone().unwrap_or_default();
    let Some(pid) = q.credentials.iter().find(|c| c.format == CredentialFormat::SdJwtVc && vcts(c).iter().any(|v| PID_VCTS.contains(&v.as_str()))) else {
        return fail(format!("the dcql_query asks for no dc+sd-jwt PID ({})", PID_VCTS.join(" or ")));
    };
    let vct = vcts(&pid).into_iter().find(|v| PID_VCTS.contains(&v.as_str())).unwrap_or_else(|| Vct::PID.to_owned());
    let claims = pid
        .claims
        .iter()
        .flatten()
        .filter_map(|c| match c.path.0.first() {
            Some(PathPatternElement::Key(k)) => Some(k.clone()),
            _ => None,
        })
        .collect();
    Ok((pid.id.clone(), vct, claims))
}

/// How the PID presented is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pid {
    /// Signed by the PID provider.
    Honest,
    /// Under the provider's `iss` and `kid`, signed by another key.
    Forged,
}

/// The citizen's PID of `vct`, bound to `holder`.
fn pid(ctx: &Ctx<'_>, holder: &SoftwareSigner, vct: &str, how: Pid) -> Step<SdJwt> {
    let citizen = wallet::setup(ctx)?.citizen.clone();
    let provider = pid_provider(ctx)?;
    let mut attributes = rp::pid_attributes();
    // The registry key as a PID carries it (IT-Wallet 1.4 §4.3: `TINIT-` and the fiscal code).
    attributes.insert("tax_id_code".into(), Value::String(format!("TINIT-{}", citizen.trim_start_matches("TINIT-"))));
    let now = UnixTime::now();
    let Ok(vct) = Vct::new(vct) else { return fail(format!("`{vct}` is not a vct")) };
    let uri = crate::status_list::uri_for(provider).or_else(|e| skip(format!("the PID provider's status list: {e}")))?;
    let b = rp::pid_builder(provider, attributes, provider.id.clone(), vct, now.plus(-60), now.plus(86_400), holder).status(crate::status_list::VALID, uri);
    let forger;
    let signer: &SoftwareSigner = match how {
        Pid::Honest => &provider.key,
        Pid::Forged => {
            forger = rp::holder()?;
            &forger
        }
    };
    b.sign(signer).or_else(|e| skip(format!("cannot issue the test PID: {e}")))
}

/// Up to the issuer's answer at its `response_uri` to a presentation of the PID made `how`.
fn presented(ctx: &mut Ctx<'_>, how: Pid) -> Step<(Requested, Response)> {
    let req = requested(ctx)?;
    let f = rp::fetch(ctx, &req.session, rp::Fetch::AsUrlSays)?;
    let a = rp::answer_of(ctx, &f)?;
    let (query_id, vct, claims) = asked(&f)?;
    let holder = rp::holder()?;
    let sd = pid(ctx, &holder, &vct, how)?;
    let names: Vec<&str> = claims.iter().map(String::as_str).collect();
    let vp = rp::present(&sd, &holder, &names, &a.client_id, &a.nonce)?;
    let r = rp::respond(ctx, &a, vec![(query_id.as_str(), vp)])?;
    Ok((req, r))
}

/// The `redirect_uri` of the issuer's answer at its `response_uri` (OpenID4VP 1.0 §8.2), with
/// its query parameters; `None` when the answer carries none.
fn redirect_of(r: &Response) -> Option<(String, HashMap<String, String>)> {
    let redirect = r.json().ok()?.get("redirect_uri")?.as_str()?.to_owned();
    let params = query_params(&redirect);
    Some((redirect, params))
}

/// The query parameters of a redirect to the wallet's `redirect_uri`.
pub fn query_params(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// A completed PID login: the wallet instance, what it kept, and the authorization response.
pub struct Login {
    /// The wallet instance.
    pub client: Client,
    /// The pushed request's PKCE verifier, `state` and `redirect_uri`.
    pub pending: PendingAuthorization,
    /// The `redirect_uri` the issuer answered.
    pub redirect: String,
    /// Its query parameters.
    pub params: HashMap<String, String>,
}

/// The honest PID login, to the authorization response.
pub fn login(ctx: &mut Ctx<'_>) -> Step<Login> {
    let (req, r) = presented(ctx, Pid::Honest)?;
    ensure(r.status == 200, || format!("the issuer's response_uri answered {} to an honest PID presentation: {}", r.status, short(&r.text())))?;
    let Some((redirect, params)) = redirect_of(&r) else { return fail(format!("the response_uri's answer carries no redirect_uri (OpenID4VP 1.0 §8.2): {}", short(&r.text()))) };
    ctx.note(format!("the authorization response: {redirect}"));
    ensure(redirect.starts_with(REDIRECT_URI), || format!("the authorization response goes to {redirect}, not the wallet's redirect_uri {REDIRECT_URI}"))?;
    if let Some(e) = params.get("error") {
        return fail(format!("the issuer sent the wallet back with error {e} ({}) after an honest PID", params.get("error_description").map_or("", String::as_str)));
    }
    Ok(Login { client: req.client, pending: req.pending, redirect, params })
}

/// The token request redeeming `login`'s code (wallet-core's form, then `edit`), with a fresh
/// DPoP key and `client`'s attestation.
fn token(ctx: &mut Ctx<'_>, login: &Login, client: &Client, edit: impl FnOnce(&mut Vec<(String, String)>)) -> Step<Response> {
    let ep = wallet::endpoints(ctx)?;
    let Some(code) = login.params.get("code").filter(|c| !c.is_empty()) else { return fail("the authorization response carries no code") };
    let req = TokenRequest::AuthorizationCode { code: code.clone(), code_verifier: login.pending.code_verifier.clone(), redirect_uri: Some(login.pending.redirect_uri.clone()) };
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.to_form().as_bytes()).into_owned().collect();
    edit(&mut pairs);
    let form = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let dpop = wallet::dpop(&wallet::new_key()?, &ep.token, None)?;
    let audience = ctx.target.entity_id.to_string();
    let h = client_attestation_headers(&client.waa, &client.key, &audience, None, UnixTime::now()).or_else(|e| fail(format!("building the client attestation PoP: {e}")))?;
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded"), ("dpop", dpop.as_str())];
    headers.extend(h.pairs());
    ctx.send("POST", &ep.token, &headers, Some(form.as_bytes()))
}

/// Sets `name` in a form's pairs.
fn set(pairs: &mut Vec<(String, String)>, name: &str, value: &str) {
    pairs.retain(|(k, _)| k != name);
    pairs.push((name.to_owned(), value.to_owned()));
}

/// Fails unless the token response is a 200 with an access token.
fn granted(r: &Response, what: &str) -> Step<()> {
    let at = r.json().ok().and_then(|v| v.get("access_token").and_then(Value::as_str).map(str::to_owned));
    ensure(r.status == 200 && at.is_some(), || format!("{what} answered {} {}", r.status, short(&r.text())))
}

/// CI_054: the issuer authenticates the citizen with a valid PID (the code its authorization
/// response carries is redeemed at the token endpoint) and validates it: a PID its provider
/// did not sign earns no code.
pub fn ci_054(ctx: &mut Ctx<'_>) -> Step<()> {
    let l = login(ctx)?;
    let r = token(ctx, &l, &l.client, |_| {})?;
    granted(&r, "the code of an honest PID login at the token endpoint")?;
    let (_, r) = presented(ctx, Pid::Forged)?;
    let code = redirect_of(&r).and_then(|(_, p)| p.get("code").cloned());
    ensure(!(r.status == 200 && code.is_some()), || format!("a PID signed by a key its provider does not publish earned a code ({} {})", r.status, short(&r.text())))
}

/// CI_055: `/authorize` asks for the PID over OpenID4VP: a redirect (302/303) to an OpenID4VP
/// authorization request by reference whose request object asks, `response_type=vp_token`,
/// `response_mode=direct_post.jwt`, a DCQL query for a `dc+sd-jwt` PID.
pub fn ci_055(ctx: &mut Ctx<'_>) -> Step<()> {
    let req = requested(ctx)?;
    ensure(matches!(req.authorize.status, 302 | 303), || format!("/authorize answered {}, not a redirect to the wallet", req.authorize.status))?;
    rp::request_uri(&req.session)?;
    let f = rp::fetch(ctx, &req.session, rp::Fetch::AsUrlSays)?;
    let s = |k: &str| f.jwt.payload.get(k).and_then(Value::as_str).map(str::to_owned);
    ensure(s("response_type").as_deref() == Some("vp_token"), || format!("response_type is {:?}, not vp_token", s("response_type")))?;
    ensure(s("response_mode").as_deref() == Some("direct_post.jwt"), || format!("response_mode is {:?}, not direct_post.jwt (IT-Wallet 1.4 §5.1)", s("response_mode")))?;
    asked(&f).map(drop)
}

/// CI_056: the presentation request reaches the wallet: the request object is served
/// (`application/oauth-authz-req+jwt`) and passes every check a wallet makes (signature by the
/// issuer's key, its trust chain to the anchor, `client_id`, `response_uri`, `nonce`, `exp`).
pub fn ci_056(ctx: &mut Ctx<'_>) -> Step<()> {
    let req = requested(ctx)?;
    let f = rp::fetch(ctx, &req.session, rp::Fetch::AsUrlSays)?;
    let media = f.response.media_type();
    ensure(media.as_deref() == Some(REQUEST_OBJECT_MEDIA_TYPE), || format!("the request object is served as {media:?}, not {REQUEST_OBJECT_MEDIA_TYPE}"))?;
    rp::verify_request(ctx, &req.session, &f).map(drop)
}

/// CI_058: the authorization response carries `code`, `state` and `iss`.
pub fn ci_058(ctx: &mut Ctx<'_>) -> Step<()> {
    let l = login(ctx)?;
    let missing: Vec<&str> = ["code", "state", "iss"].into_iter().filter(|k| l.params.get(*k).is_none_or(String::is_empty)).collect();
    ensure(missing.is_empty(), || format!("the authorization response {} lacks {}", l.redirect, missing.join(", ")))
}

/// CI_058a: the authorization response carries the code.
pub fn ci_058a(ctx: &mut Ctx<'_>) -> Step<()> {
    let l = login(ctx)?;
    ensure(l.params.get("code").is_some_and(|c| !c.is_empty()), || format!("the authorization response {} carries no code", l.redirect))
}

/// CI_058b: the authorization response's `state` is the pushed request's.
pub fn ci_058b(ctx: &mut Ctx<'_>) -> Step<()> {
    let l = login(ctx)?;
    ensure(l.params.get("state") == Some(&l.pending.state), || format!("the authorization response's state {:?} is not the request's", l.params.get("state")))
}

/// CI_058c: the authorization response's `iss` is the issuer (RFC 9207).
pub fn ci_058c(ctx: &mut Ctx<'_>) -> Step<()> {
    let l = login(ctx)?;
    let me = ctx.target.entity_id.to_string();
    ensure(l.params.get("iss").is_some_and(|i| i.trim_end_matches('/') == me.trim_end_matches('/')), || format!("the authorization response's iss {:?} is not {me}", l.params.get("iss")))
}

/// CI_060: the code is the authenticated wallet instance's and single use: redeemed with
/// another instance's attestation, refused (`invalid_grant`: that instance authenticates, the
/// code is not its); redeemed by its own, granted, then a second time refused (`invalid_grant`).
pub fn ci_060(ctx: &mut Ctx<'_>) -> Step<()> {
    let l = login(ctx)?;
    let other = Client::new(ctx)?;
    let r = token(ctx, &l, &other, |_| {})?;
    // The other instance authenticates: the code is the grant at fault (RFC 6749 §5.2).
    par::expect_refused(&r, &["invalid_grant"])?;
    let l = login(ctx)?;
    let r = token(ctx, &l, &l.client, |_| {})?;
    granted(&r, "the code's first redemption")?;
    let again = token(ctx, &l, &l.client, |_| {})?;
    par::expect_refused(&again, &["invalid_grant"])
}

/// CI_061a: PKCE (RFC 7636 §4.6): a `code_verifier` that does not match the challenge is
/// refused (`invalid_grant`); none at all is refused too.
pub fn ci_061a(ctx: &mut Ctx<'_>) -> Step<()> {
    let l = login(ctx)?;
    let wrong = CodeVerifier::generate().or_else(|e| skip(format!("no randomness: {e}")))?;
    let r = token(ctx, &l, &l.client, |p| set(p, "code_verifier", wrong.as_str()))?;
    par::expect_refused(&r, &["invalid_grant"])?;
    let l = login(ctx)?;
    let r = token(ctx, &l, &l.client, |p| p.retain(|(k, _)| k != "code_verifier"))?;
    par::expect_refused(&r, &["invalid_request", "invalid_grant"])
}

/// CI_062: the token request's `redirect_uri` must be the pushed request's exactly: another is
/// refused.
pub fn ci_062(ctx: &mut Ctx<'_>) -> Step<()> {
    let l = login(ctx)?;
    let other = format!("{REDIRECT_URI}/other");
    let r = token(ctx, &l, &l.client, |p| set(p, "redirect_uri", &other))?;
    // RFC 6749 §5.2: "does not match the redirection URI used in the authorization request".
    par::expect_refused(&r, &["invalid_grant"])
}

/// CI_059 when `/authorize` goes on to the PID: the wallet declines (an `access_denied` error
/// response at `response_uri`), and the issuer sends it back to its `redirect_uri` with
/// `error`, the request's `state` and `iss` (in the `{"redirect_uri"}` answer of OpenID4VP
/// 1.0 §8.2, which the wallet follows). The pushed request and the redirect's parameters.
pub fn declined(ctx: &mut Ctx<'_>, req: Requested) -> Step<(PendingAuthorization, HashMap<String, String>)> {
    let f = rp::fetch(ctx, &req.session, rp::Fetch::AsUrlSays)?;
    // An error response is not encrypted: only where it goes and the request's state matter.
    let s = |k: &str| f.jwt.payload.get(k).and_then(Value::as_str).map(str::to_owned);
    let Some(response_uri) = s("response_uri") else { return fail("the request object has no response_uri") };
    let form = ErrorResponse::access_denied(s("state")).to_form();
    let r = rp::post_form(ctx, &response_uri, &form)?;
    ensure(r.status == 200, || format!("the issuer's response_uri answered {} to the wallet's access_denied: {}", r.status, short(&r.text())))?;
    let Some((redirect, params)) = redirect_of(&r) else { return fail(format!("the answer to access_denied carries no redirect_uri: {}", short(&r.text()))) };
    ctx.note(format!("the error redirect (in the response_uri's 200 answer, OpenID4VP 1.0 §8.2, not a 302): {redirect}"));
    ensure(redirect.starts_with(REDIRECT_URI), || format!("the error redirect goes to {redirect}, not the wallet's redirect_uri"))?;
    Ok((req.pending, params))
}
