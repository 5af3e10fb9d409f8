//! The rp plan: a relying party (an OpenID4VP 1.0 verifier, IT-Wallet 1.4 §5.1 remote flow;
//! `test-plans-remote-presentation.rst`, the `RPR` rows) tested by the tool acting as the
//! citizen's wallet: honestly (the RP must accept) and hostilely, one rule broken at a time
//! (the RP must refuse, in its HTTP answer and in the verdict its integrator gets).
//!
//! How the tool gets requests: through the RP's integrator API ([`crate::target::RpSetup`]),
//! `POST {sessions}/sessions` `{"dcql_query", "flow", "request_uri_method"?}` → 201
//! `{session_id, wallet_url, qr_png?}`; `GET {sessions}/sessions/{id}` → `{status}`;
//! `POST {sessions}/sessions/{id}/result` `{"response_code"?}` → the verdict. That is our
//! verifier's API (verifier/README.md); an RP with another API puts an adapter with these
//! three routes in front of it.
//!
//! The credentials it presents are PIDs (SD-JWT VC) issued by an issuer of the tool's test
//! federation that the RP trusts: the tool holds its key ([`crate::target::TestIssuer`]).
//!
//! * [`request`]: what the RP sends (the wallet URL, the request object, GET and POST of
//!   `request_uri`, the QR code);
//! * [`response`]: what the RP does with answers (the honest one, and each hostile one).

pub mod expiry;
pub mod qr;
pub mod request;
pub mod response;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use wallet_core::jose::{ContentEncryption, Jwk, Signer, SoftwareSigner};
use wallet_core::oid4vp::metadata::{VERIFIER_ENTITY_TYPE, VerifierMetadata};
use wallet_core::oid4vp::request_object::VerifiedRequest;
use wallet_core::oid4vp::response::{AuthorizationResponse, VpToken, response_form};
use wallet_core::oid4vp::{AuthorizationRequestUrl, ParsedRequestObject, RequestRef, RequestUriMethod, RequestUriPost, VerifyContext, WalletMetadata, WalletNonce};
use wallet_core::sd_jwt::{ClaimPath, KeyBindingInput, SdJwt};
use wallet_core::time::UnixTime;
use wallet_core::vc::{SdJwtVcBuilder, Vct};

use super::jwt::Jwt;
use crate::case::{Case, Ctx, Step, ensure, fail, skip};
use crate::client::Response;
use crate::plan::Plan;
use crate::target::{RpSetup, TestIssuer};

/// The request object's media type and `typ` (OpenID4VP 1.0 §5.10, RFC 9101).
pub const REQUEST_OBJECT_TYP: &str = "oauth-authz-req+jwt";
/// The DCQL query id the tool asks for.
pub const QUERY_ID: &str = "pid";
/// The claims it asks for (and discloses when honest).
pub const ASKED: [&str; 2] = ["given_name", "family_name"];

/// The PID query every session asks (IT-Wallet 1.4 §5.1: DCQL, `dc+sd-jwt`).
pub fn dcql_query() -> Value {
    json!({"credentials": [{"id": QUERY_ID, "format": "dc+sd-jwt", "meta": {"vct_values": [Vct::PID]},
                            "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}]}]})
}

/// A flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Same device: the wallet returns to the RP through `redirect_uri`.
    SameDevice,
    /// Cross device: a QR code.
    CrossDevice,
}

impl Flow {
    fn as_str(self) -> &'static str {
        match self {
            Self::SameDevice => "same_device",
            Self::CrossDevice => "cross_device",
        }
    }
}

/// A session the integrator API created.
#[derive(Debug, Clone)]
pub struct Session {
    /// Its id.
    pub id: String,
    /// The wallet URL (QR code / link).
    pub wallet_url: String,
    /// The URL parsed.
    pub url: AuthorizationRequestUrl,
    /// The QR code's PNG, when the API gives one.
    pub qr_png: Option<String>,
    /// The QR code's SVG, when the API gives one.
    pub qr_svg: Option<String>,
}

/// How to fetch the request object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// As the wallet URL's `request_uri_method` says.
    AsUrlSays,
    /// `GET`.
    Get,
    /// `POST` with `wallet_metadata` and a fresh `wallet_nonce`.
    Post,
}

/// A fetched request object.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The HTTP answer.
    pub response: Response,
    /// The `request_uri` fetched.
    pub request_uri: String,
    /// The `wallet_nonce` the tool sent.
    pub wallet_nonce: Option<WalletNonce>,
    /// The request object, decoded.
    pub jwt: Jwt,
}

/// What the wallet needs to answer, read from the request object without judging it (the
/// request-side rows judge it): where, to whom, with which nonce and key.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `client_id`.
    pub client_id: String,
    /// `nonce`.
    pub nonce: String,
    /// `state`.
    pub state: Option<String>,
    /// `response_uri`.
    pub response_uri: String,
    /// The RP's response encryption key.
    pub key: Jwk,
    /// `enc`.
    pub enc: ContentEncryption,
}

/// The rp setup, or skip.
pub fn setup(ctx: &Ctx<'_>) -> Step<RpSetup> {
    match &ctx.target.rp {
        Some(s) => Ok(s.clone()),
        None => skip("no integrator API given for the RP (--rp-sessions, --rp-token) and no test issuer: the tool cannot start a presentation"),
    }
}

fn bearer(setup: &RpSetup) -> String {
    format!("Bearer {}", setup.token)
}

/// Creates a session: `flow`, `request_uri_method` when given.
pub fn create_session(ctx: &mut Ctx<'_>, flow: Flow, method: Option<&str>) -> Step<Session> {
    let s = setup(ctx)?;
    let mut body = json!({"dcql_query": dcql_query(), "flow": flow.as_str()});
    if let (Some(m), Some(o)) = (method, body.as_object_mut()) {
        o.insert("request_uri_method".into(), m.into());
    }
    let url = format!("{}/sessions", s.sessions.trim_end_matches('/'));
    let auth = bearer(&s);
    let r = ctx.send("POST", &url, &[("content-type", "application/json"), ("authorization", &auth)], Some(body.to_string().as_bytes()))?;
    if r.status != 201 && r.status != 200 {
        return fail(format!("the integrator API answered {} to a new {} session: {}", r.status, flow.as_str(), r.text()));
    }
    let v = r.json().unwrap_or(Value::Null);
    let (Some(id), Some(wallet_url)) = (v.get("session_id").and_then(Value::as_str), v.get("wallet_url").and_then(Value::as_str)) else {
        return skip(format!("the integrator API's session has no session_id or wallet_url: {v}"));
    };
    ctx.note(format!("session {id}: {wallet_url}"));
    let url = match AuthorizationRequestUrl::parse(wallet_url) {
        Ok(u) => u,
        Err(e) => return fail(format!("the wallet URL `{wallet_url}` is not an OpenID4VP authorization request: {e}")),
    };
    Ok(Session { id: id.to_owned(), wallet_url: wallet_url.to_owned(), url, qr_png: v.get("qr_png").and_then(Value::as_str).map(str::to_owned),
        qr_svg: v.get("qr_svg").and_then(Value::as_str).map(str::to_owned),
    })
}

/// `request_uri` and its method from the URL; fails for a request by value.
pub fn request_uri(s: &Session) -> Step<(String, RequestUriMethod, bool)> {
    match &s.url.request {
        RequestRef::Uri { uri, method, explicit_method } => Ok((uri.clone(), *method, *explicit_method)),
        RequestRef::Value(_) => fail("the wallet URL carries the request object by value, not a request_uri (IT-Wallet 1.4 §5.1: by reference)"),
    }
}

/// Sends the request for the request object; the answer (any status).
pub fn fetch_raw(ctx: &mut Ctx<'_>, s: &Session, how: Fetch) -> Step<(Response, String, Option<WalletNonce>)> {
    let (uri, method, _) = request_uri(s)?;
    let post = match how {
        Fetch::Post => true,
        Fetch::Get => false,
        Fetch::AsUrlSays => method == RequestUriMethod::Post,
    };
    if post {
        let Ok(nonce) = WalletNonce::generate() else { return skip("no randomness for a wallet_nonce") };
        let body = RequestUriPost { wallet_metadata: Some(WalletMetadata::tessera(ctx.target.profile)), wallet_nonce: Some(nonce.clone()) };
        let r = ctx.send("POST", &uri, &[("content-type", "application/x-www-form-urlencoded"), ("accept", "application/oauth-authz-req+jwt")], Some(body.to_form().as_bytes()))?;
        Ok((r, uri, Some(nonce)))
    } else {
        let r = ctx.get(&uri, &[("accept", "application/oauth-authz-req+jwt")])?;
        Ok((r, uri, None))
    }
}

/// Fetches the request object: 200 and a JWT, decoded and recorded.
pub fn fetch(ctx: &mut Ctx<'_>, s: &Session, how: Fetch) -> Step<Fetched> {
    let (response, request_uri, wallet_nonce) = fetch_raw(ctx, s, how)?;
    ensure(response.status == 200, || format!("request_uri answered {}: {}", response.status, response.text()))?;
    let text = response.text();
    ctx.record_jwt("request object", &text);
    let jwt = Jwt::decode("the request object", &text)?;
    Ok(Fetched { response, request_uri, wallet_nonce, jwt })
}

/// A session of `flow` and its request object fetched as the URL says.
pub fn fetched(ctx: &mut Ctx<'_>, flow: Flow) -> Step<(Session, Fetched)> {
    let s = create_session(ctx, flow, None)?;
    let f = fetch(ctx, &s, Fetch::AsUrlSays)?;
    Ok((s, f))
}

/// Every wallet check of wallet-core on the request object (OpenID4VP 1.0 §5, IT-Wallet 1.4
/// §5.1/§8), the RP's trust chain from its `trust_chain` header to the target's anchor.
pub fn verify_request(ctx: &mut Ctx<'_>, s: &Session, f: &Fetched) -> Step<VerifiedRequest> {
    let Some(anchor) = ctx.target.trust_anchor.clone() else { return skip("no trust anchor given: the RP's trust chain cannot be evaluated") };
    let anchors = [anchor];
    let vctx = VerifyContext {
        request_uri: Some(&f.request_uri),
        wallet_nonce: f.wallet_nonce.as_ref(),
        federation_anchors: &anchors,
        ..VerifyContext::new(&s.url.client_id, ctx.target.profile, UnixTime::now())
    };
    let parsed = match ParsedRequestObject::parse(&f.jwt.raw) {
        Ok(p) => p,
        Err(e) => return fail(format!("the request object does not parse: {e}")),
    };
    match parsed.verify(&vctx) {
        Ok(v) => Ok(v),
        Err(e) => fail(format!("the request object fails the wallet's checks: {e}")),
    }
}

/// The RP's metadata from its trust chain (the `trust_chain` header, validated with the
/// target's anchor).
pub fn chain_metadata(ctx: &Ctx<'_>, f: &Fetched) -> Step<VerifierMetadata> {
    let Some(anchor) = ctx.target.trust_anchor.as_ref() else { return skip("no trust anchor given: the RP's trust chain cannot be evaluated") };
    let chain: Vec<String> = f.jwt.header.get("trust_chain").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default();
    if chain.is_empty() {
        return skip("the request object has no trust_chain header");
    }
    let v = match wallet_core::federation::chain::validate(&chain, anchor, UnixTime::now()) {
        Ok(v) => v,
        Err(e) => return fail(format!("the trust_chain header does not validate to the anchor: {e}")),
    };
    let Some(md) = v.metadata_of(VERIFIER_ENTITY_TYPE) else { return fail("the RP's chain has no openid_credential_verifier metadata") };
    VerifierMetadata::from_map(md).or_else(|e| fail(format!("openid_credential_verifier metadata: {e}")))
}

/// What the wallet needs to answer `f` (see [`Answer`]): the encryption key from the RP's
/// trust chain (its `trust_chain` header, when the tool knows the anchor), or else from
/// `client_metadata`.
pub fn answer_of(ctx: &Ctx<'_>, f: &Fetched) -> Step<Answer> {
    let p = &f.jwt.payload;
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(client_id), Some(nonce), Some(response_uri)) = (s("client_id"), s("nonce"), s("response_uri")) else {
        return fail("the request object lacks client_id, nonce or response_uri");
    };
    let chained = ctx.target.trust_anchor.is_some() && f.jwt.header.contains_key("trust_chain");
    let md = match p.get("client_metadata").and_then(Value::as_object) {
        Some(m) if !chained => VerifierMetadata::from_map(m).or_else(|e| fail(format!("client_metadata: {e}")))?,
        _ => chain_metadata(ctx, f)?,
    };
    let Some(key) = md.encryption_keys().next().cloned() else { return fail("the RP publishes no response encryption key") };
    Ok(Answer { client_id, nonce, state: s("state"), response_uri, key, enc: md.response_enc().unwrap_or(ContentEncryption::A256Gcm) })
}

/// A session of `flow` ready to answer.
pub fn ready(ctx: &mut Ctx<'_>, flow: Flow) -> Step<(Session, Answer)> {
    let (s, f) = fetched(ctx, flow)?;
    let a = answer_of(ctx, &f)?;
    Ok((s, a))
}

/// A holder key.
pub fn holder() -> Step<SoftwareSigner> {
    SoftwareSigner::generate().or_else(|e| skip(format!("no key: {e}")))
}

/// The `issuing_authority` of the test PIDs these plans present (IT-Wallet 1.4 §4.1: REQUIRED,
/// with `issuing_country`).
pub(crate) const TEST_ISSUING_AUTHORITY: &str = "Tessera conformance test issuer";

/// The attributes of the test PID.
pub(crate) fn pid_attributes() -> serde_json::Map<String, Value> {
    let v = json!({"given_name": "Mario", "family_name": "Rossi", "birthdate": "1980-01-10",
                   "place_of_birth": {"locality": "Roma", "country": "IT"}, "nationalities": ["IT"],
                   "tax_id_code": "TINIT-RSSMRA80A10H501Z"});
    v.as_object().cloned().unwrap_or_default()
}

/// How a test credential is issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issued {
    /// By the trusted issuer, valid now.
    Valid,
    /// By the trusted issuer, expired an hour ago.
    Expired,
    /// Under the trusted issuer's `iss` and `kid`, signed with another key.
    ForgedSignature,
    /// By an issuer no federation knows.
    Untrusted,
    /// By the trusted issuer, revoked in its status list.
    Revoked,
    /// By the trusted issuer, without the `status` a PID must carry (IT-Wallet 1.4 §4.3).
    WithoutStatus,
}

/// A PID bound to `holder`.
pub fn credential(ctx: &Ctx<'_>, holder: &SoftwareSigner, how: Issued) -> Step<SdJwt> {
    let s = setup(ctx)?;
    let now = UnixTime::now();
    let (iat, exp) = match how {
        Issued::Expired => (now.plus(-7200), now.plus(-3600)),
        _ => (now.plus(-60), now.plus(86_400)),
    };
    let Ok(vct) = Vct::new(Vct::PID) else { return skip("PID vct") };
    let iss = match how {
        Issued::Untrusted => "http://127.0.0.1:1".to_owned(),
        _ => s.issuer.id.clone(),
    };
    let b = pid_builder(&s.issuer, pid_attributes(), iss, vct, iat, exp, holder);
    let b = match how {
        Issued::WithoutStatus => b,
        _ => {
            let uri = crate::status_list::uri_for(&s.issuer).or_else(|e| skip(format!("the test issuer's status list: {e}")))?;
            let idx = if how == Issued::Revoked { crate::status_list::REVOKED } else { crate::status_list::VALID };
            b.status(idx, uri)
        }
    };
    let other;
    let signer: &dyn Signer = match how {
        Issued::ForgedSignature | Issued::Untrusted => {
            other = holder_key_or_skip()?;
            &other
        }
        _ => &*s.issuer.key,
    };
    b.sign(signer).or_else(|e| skip(format!("cannot issue the test PID: {e}")))
}

/// The test PID's builder: the attributes, validity and metadata every test PID carries
/// (the §4.1 and §4.3 REQUIRED metadata but `status`, which each case names).
pub(crate) fn pid_builder(
    issuer: &TestIssuer,
    attributes: serde_json::Map<String, Value>,
    iss: impl Into<String>,
    vct: Vct,
    iat: UnixTime,
    exp: UnixTime,
    holder: &SoftwareSigner,
) -> SdJwtVcBuilder {
    SdJwtVcBuilder::new(iss, vct, attributes)
        .validity(iat, exp)
        .issuing(TEST_ISSUING_AUTHORITY, "IT")
        .pid_metadata(&format!("conformance-{}", iat.secs()), TEST_DATE_OF_EXPIRY, "it_cie", "high")
        .holder_key(&holder.public_jwk())
        .kid(issuer.key.kid().unwrap_or_default())
}

/// The test PID's administrative expiry (`date_of_expiry`).
const TEST_DATE_OF_EXPIRY: &str = "2033-03-19";

fn holder_key_or_skip() -> Step<SoftwareSigner> {
    holder()
}

/// The presentation of `claims` of `sd` with a KB-JWT for `aud` and `nonce`.
pub fn present(sd: &SdJwt, holder: &SoftwareSigner, claims: &[&str], aud: &str, nonce: &str) -> Step<String> {
    let paths: Vec<ClaimPath> = claims.iter().map(|c| ClaimPath::key(c)).collect();
    sd.present(Some(&paths), &KeyBindingInput { aud: aud.into(), nonce: nonce.into(), iat: UnixTime::now() }, holder).or_else(|e| skip(format!("cannot present: {e}")))
}

/// The honest presentation for `a`.
pub fn honest(ctx: &Ctx<'_>, holder: &SoftwareSigner, a: &Answer) -> Step<String> {
    let sd = credential(ctx, holder, Issued::Valid)?;
    present(&sd, holder, &ASKED, &a.client_id, &a.nonce)
}

/// The disclosures of `claims` of `sd` without a KB-JWT (ends with `~`).
pub fn selected(sd: &SdJwt, claims: &[&str]) -> Step<String> {
    let paths: Vec<ClaimPath> = claims.iter().map(|c| ClaimPath::key(c)).collect();
    sd.select(&paths).map(|s| s.without_kb()).or_else(|e| skip(format!("cannot select: {e}")))
}

/// A JWT with this header and payload signed by `key` (for hand-made KB-JWTs).
pub fn signed(key: &dyn Signer, header: &Value, payload: &Value) -> Step<String> {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!("{}.{}", enc(header), enc(payload));
    let sig = key.sign(input.as_bytes()).or_else(|e| skip(format!("cannot sign: {e}")))?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// The encrypted `direct_post.jwt` form for `a` carrying `vp_token`.
pub fn response_body(a: &Answer, vp_token: Vec<(&str, String)>, state: Option<String>) -> Step<String> {
    let map = vp_token.into_iter().map(|(k, v)| (k.to_owned(), vec![v])).collect();
    let resp = AuthorizationResponse { vp_token: VpToken(map), state };
    let jwe = resp.encrypt(&a.key, a.enc, &a.nonce).or_else(|e| fail(format!("cannot encrypt to the RP's key: {e}")))?;
    Ok(response_form(&jwe))
}

/// POSTs a form to `url`.
pub fn post_form(ctx: &mut Ctx<'_>, url: &str, form: &str) -> Step<Response> {
    ctx.send("POST", url, &[("content-type", "application/x-www-form-urlencoded")], Some(form.as_bytes()))
}

/// Posts `vp_token` for `a`, its own `state`.
pub fn respond(ctx: &mut Ctx<'_>, a: &Answer, vp_token: Vec<(&str, String)>) -> Step<Response> {
    let form = response_body(a, vp_token, a.state.clone())?;
    post_form(ctx, &a.response_uri.clone(), &form)
}

/// The session's status as the integrator sees it.
pub fn status_of(ctx: &mut Ctx<'_>, s: &Session) -> Step<String> {
    let setup = setup(ctx)?;
    let url = format!("{}/sessions/{}", setup.sessions.trim_end_matches('/'), s.id);
    let auth = bearer(&setup);
    let r = ctx.get(&url, &[("authorization", &auth)])?;
    ensure(r.status == 200, || format!("the integrator API's session state answered {}", r.status))?;
    let st = r.json().ok().and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_owned)).unwrap_or_default();
    ctx.note(format!("integrator: session {} is {st}", s.id));
    Ok(st)
}

/// The verdict the integrator gets (status and JSON).
pub fn verdict(ctx: &mut Ctx<'_>, s: &Session, response_code: Option<&str>) -> Step<(u16, Value)> {
    let setup = setup(ctx)?;
    let url = format!("{}/sessions/{}/result", setup.sessions.trim_end_matches('/'), s.id);
    let auth = bearer(&setup);
    let body = match response_code {
        Some(c) => json!({"response_code": c}),
        None => json!({}),
    };
    let r = ctx.send("POST", &url, &[("content-type", "application/json"), ("authorization", &auth)], Some(body.to_string().as_bytes()))?;
    Ok((r.status, r.json().unwrap_or(Value::Null)))
}

/// The RP refused `r`: a 4xx, and the integrator does not see the session verified.
pub fn refused(ctx: &mut Ctx<'_>, what: &str, s: &Session, r: &Response) -> Step<()> {
    ensure((400..500).contains(&r.status), || format!("{what}: response_uri answered {} {}, expected a 4xx refusal", r.status, r.text()))?;
    let st = status_of(ctx, s)?;
    ensure(st != "verified", || format!("{what}: the integrator sees the session verified"))
}

/// `response_code` of a same-device answer's `redirect_uri`.
pub fn response_code(r: &Response) -> Step<(String, String)> {
    let v = r.json().unwrap_or(Value::Null);
    let Some(redirect) = v.get("redirect_uri").and_then(Value::as_str) else { return fail(format!("the same-device answer has no redirect_uri: {v}")) };
    let Ok(u) = url::Url::parse(redirect) else { return fail(format!("redirect_uri `{redirect}` is not a URL")) };
    let Some(code) = u.query_pairs().find(|(k, _)| k == "response_code").map(|(_, v)| v.into_owned()) else {
        return fail(format!("redirect_uri `{redirect}` carries no response_code"));
    };
    Ok((redirect.to_owned(), code))
}

macro_rules! case {
    ($id:literal, $run:path, $sends:literal, $expects:literal) => {
        Case { id: $id, plan: Plan::Rp, sends: $sends, expects: $expects, run: $run }
    };
}

/// The plan's cases, in matrix order.
pub static CASES: &[Case] = &[
    case!("RPR-01", request::rpr_01, "a same-device session; the wallet URL", "its request_uri is one the RP's metadata registers (request_uris)"),
    case!("RPR-02", request::rpr_02, "a cross-device session; GET its QR code", "200 image/png, a PNG"),
    case!("RPR-07", request::rpr_07, "POST request_uri with wallet_metadata and wallet_nonce", "200 application/oauth-authz-req+jwt echoing the wallet_nonce"),
    case!("RPR-08", request::rpr_08, "GET request_uri of a session created for get", "200 application/oauth-authz-req+jwt"),
    case!("RPR-09", request::rpr_09, "a session with no request_uri_method; GET request_uri", "the RP answers the GET (the default)"),
    case!("RPR-10", request::rpr_10, "fetch the request object", "it passes every wallet check (trust chain, signature, claims, registered URIs)"),
    case!("RPR-12", response::rpr_12, "an honest encrypted response, then the same response again", "200 and a verified verdict; the replay refused"),
    case!("RPR-13", response::rpr_13, "a response encrypted to the RP's published key", "the RP decrypts it: verified"),
    case!("RPR-14", response::rpr_14, "the wallet's error invalid_request_object with the session's state", "accepted; the integrator sees it declined"),
    case!("RPR-17", response::rpr_17, "session A's state with a KB-JWT made for session B", "refused"),
    case!("RPR-19", response::rpr_19, "an honest same-device response", "a redirect_uri the RP registered"),
    case!("RPR-20", request::rpr_20, "a same-device session with a redirect_uri the RP never registered", "refused by the integrator API with an error"),
    case!("RPR-23", request::rpr_23, "fetch the request object", "vp_formats_supported has dc+sd-jwt and every format the query asks"),
    case!("RPR-24", response::rpr_24, "an honest response whose first POST breaks off halfway, then the retry", "the retry accepted: 200 and verified"),
    case!("RPR-25", response::rpr_25, "an encrypted response whose vp_token is an array, not an object", "refused"),
    case!("RPR-26", response::rpr_26, "a PID from the trusted issuer whose iat is a string; one without its REQUIRED status", "refused"),
    case!("RPR-27", expiry::rpr_27, "fetch the request object of a session past its lifetime (waited out, at most 60 s)", "an error, no request object"),
    case!("RPR-28", response::rpr_28, "two honest same-device responses", "response codes of at least 128 bits, different"),
    case!("RPR-29", response::rpr_29, "a same-device verdict asked without and with a made-up response_code", "refused (4xx)"),
    case!("RPR-30", response::rpr_30, "GET the session state without the integrator's token", "401"),
    case!("RPR-31", response::rpr_31, "GET the state of a session id never issued", "404 with an error"),
    case!("RPR-32", expiry::rpr_32, "the verdict of a session that expired", "an error or `expired`, never verified"),
    case!("RPR-34", response::rpr_34, "a same-device presentation, each wallet-facing exchange timed", "every answer within 2 s"),
    case!("RPR-36", response::rpr_36, "a 3 MiB response (an honest one padded)", "refused (413 or 4xx, or the connection closed), not verified"),
    case!("RPR-37", response::rpr_37, "a JWE the RP cannot decrypt (another key under its kid)", "refused"),
    case!("RPR-38", response::rpr_38, "a PID signed with a key that is not its issuer's", "refused"),
    case!("RPR-39", response::rpr_39, "a KB-JWT with a random nonce", "refused"),
    case!("RPR-40", response::rpr_40, "response=<not a JWE>", "400 with an error"),
    case!("RPR-41", response::rpr_41, "an empty form to response_uri", "400 with an error"),
    case!("RPR-44", response::rpr_44, "session B's verdict asked with session A's response_code", "refused (4xx), not verified"),
    case!("RPR-42", expiry::rpr_42, "the state of a session that timed out after its request was fetched", "an error or `expired`"),
    case!("RPR-49", request::rpr_49, "POST request_uri with a JSON body", "an error (415 or 400), no request object"),
    case!("RPR-52", response::rpr_52, "a JWE encrypted to a key that is not the RP's", "refused"),
    case!("RPR-53", response::rpr_53, "a disclosure replaced after issuance (same name, another value)", "refused"),
    case!("RPR-54", response::rpr_54, "a PID from an issuer outside the federation; a revoked PID from the trusted issuer", "refused"),
    case!("RPR-55", response::rpr_55, "a PID from the trusted issuer whose status list nobody serves", "an error response (4xx, JSON error), not verified"),
    case!("RPR-56", response::rpr_56, "the verdict asked without and with a forged integrator token", "401/403; the integrator still gets it"),
    case!("RPR-57", request::rpr_57, "a same-device session with an unregistered redirect_uri", "refused with an error"),
    case!("RPR-60", request::rpr_60, "PUT and DELETE request_uri", "an error (405/4xx), no request object"),
    case!("RPR-63", response::rpr_63, "a KB-JWT signed by a key that is not the credential's cnf", "refused"),
    case!("RPR-64", response::rpr_64, "response=<not a JWE>", "400 with an error"),
    case!("RPR-65", response::rpr_65, "a PID whose issuer JWT signature does not verify", "refused"),
    case!("RPR-66", response::rpr_66, "an expired PID", "refused"),
    case!("RPR-67", response::rpr_67, "a response that does not parse", "400 with an error"),
    case!("RPR-68", expiry::rpr_68, "an honest response after the session timed out", "refused, not verified"),
    case!("RPR-69", expiry::rpr_69, "the state of a session that expired unfetched", "an error or `expired`"),
    case!("RPR-76", request::rpr_76, "PATCH request_uri", "an error (405/4xx), no request object"),
    case!("RPR-03", request::rpr_03, "a cross-device session; GET its QR code's SVG and decode it", "the session's wallet URL, its request_uri registered in the RP's metadata"),
    case!("RPR-77", request::rpr_77, "a cross-device session; GET its QR code's SVG", "the format information declares error correction level Q"),
    case!("RPR-81", request::rpr_81, "POST request_uri with a wallet_nonce", "the request object's wallet_nonce is the one sent"),
    case!("RPR-82", request::rpr_82, "the RP's metadata from its trust chain", "response_types_supported, when present, is [vp_token]"),
    case!("RPR-83", request::rpr_83, "a same-device session's request object", "response_uri present; redirect_uri, if any, registered"),
    case!("RPR-84", request::rpr_84, "a same-device and a cross-device session", "both served"),
    case!("RPR-85", request::rpr_85, "fetch the request object", "the request_uri fetched is in the trust chain's request_uris"),
    case!("RPR-86", request::rpr_86, "POST request_uri with wallet_metadata only (no user data)", "200 with a request object"),
    case!("RPR-87", request::rpr_87, "POST request_uri as application/x-www-form-urlencoded", "200 with the request object"),
    case!("RPR-88", request::rpr_88, "fetch the request object", "alg is an allowed asymmetric algorithm (not none, not HS*)"),
    case!("RPR-89", request::rpr_89, "fetch the request object", "typ oauth-authz-req+jwt"),
    case!("RPR-90", request::rpr_90, "fetch the request object", "response_mode direct_post.jwt"),
    case!("RPR-91", request::rpr_91, "fetch the request object", "response_type vp_token"),
    case!("RPR-92", request::rpr_92, "fetch the request object", "response_uri registered in the RP's metadata"),
    case!("RPR-93", request::rpr_93, "fetch the request object", "nonce of at least 32 characters"),
    case!("RPR-94", request::rpr_94, "fetch the request object", "iat and exp integers, exp after iat, not expired"),
    case!("RPR-95", request::rpr_95, "fetch the request object", "response_uri in the trust chain's response_uris"),
    case!("RPR-96", request::rpr_96, "fetch the request object", "client_metadata agrees with the trust chain's metadata (keys, enc)"),
    case!("RPR-98", response::rpr_98, "a malformed response", "error answered as application/json"),
    case!("RPR-99", response::rpr_99, "a malformed response", "error and error_description in the answer"),
    case!("RPR-101", response::rpr_101, "a vp_token answering more (an extra claim, an extra id) or less than the DCQL query", "refused"),
    case!("RPR-102", response::rpr_102, "an SD-JWT presentation without KB-JWT", "refused"),
    case!("RPR-103", response::rpr_103, "a KB-JWT whose signature does not verify with the credential's key", "refused"),
    case!("RPR-104", response::rpr_104, "a KB-JWT with typ JWT", "refused"),
    case!("RPR-105", response::rpr_105, "a KB-JWT without sd_hash", "refused"),
    case!("RPR-106", response::rpr_106, "a KB-JWT for another aud", "refused"),
    case!("RPR-107", response::rpr_107, "a KB-JWT whose nonce is not the request object's", "refused"),
    case!("RPR-108", response::rpr_108, "an Authorization Error Response (access_denied) with the session's state", "accepted; the integrator sees it declined"),
    case!("RPR-109", response::rpr_109, "an Authorization Error Response, application/x-www-form-urlencoded", "accepted; the integrator sees it declined"),
    case!("RPR-110", response::rpr_110, "an honest cross-device response", "200 application/json"),
    case!("RPR-111", response::rpr_111, "errors provoked at request_uri and at response_uri", "both JSON with a registered OAuth error code"),
    case!("RPR-112", response::rpr_112, "an honest same-device response; the verdict with the response_code", "redirect_uri with a response_code the integrator's verdict accepts"),
    case!("RPR-113", response::rpr_113, "an honest same-device response", "the redirect_uri is among the trust chain's redirect_uris"),
    case!("RPR-114", response::rpr_114, "a PID from an issuer outside the federation", "refused with a JSON error"),
];
