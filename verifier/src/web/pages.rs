//! The page's handlers and their HTML.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest as _, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::{Value, json};
use wallet_core::oid4vp::dcql::DcqlQuery;

use super::auth::{self, OpSession};
use super::i18n::{Lang, Msg, claim_label};
use super::view::{self, Look, Outcome, esc};
use super::{BASE_PATH, SCRIPT_PATH, STYLE_PATH, WebState};
use crate::Verifier;
use crate::sessions::{Method, SessionRequest};
use crate::store::{Flow, Session, SessionStatus};

type Web = Extension<Arc<WebState>>;

/// How many recent checks the home page lists.
const RECENT: u32 = 20;
/// How long one SSE wait lasts before the state is sent again.
const SSE_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Deserialize)]
pub(super) struct LangQuery {
    #[serde(default)]
    lang: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    preset: String,
    /// The expert request: a raw DCQL query (JSON), when no preset is named.
    #[serde(default)]
    dcql_query: String,
}

/// The longest raw DCQL query the page takes (bytes): far more than any real query.
const MAX_RAW_QUERY: usize = 16 * 1024;

/// The language: `?lang=` (remembered: the second value is the cookie to set), else the
/// cookie, else Italian.
fn lang_of(st: &Verifier, headers: &HeaderMap, q: Option<&LangQuery>) -> (Lang, Option<String>) {
    if let Some(l) = q.and_then(|q| q.lang.as_deref()).and_then(Lang::parse) {
        return (l, Some(auth::lang_cookie(st, l)));
    }
    (auth::cookie(headers, auth::LANG_COOKIE).and_then(Lang::parse).unwrap_or_default(), None)
}

fn idle(st: &Verifier) -> Duration {
    Duration::from_secs(st.config().web.idle_timeout.max(60))
}

/// The session of the request's cookie: `(token, session)`.
fn current(st: &Verifier, _web: &WebState, headers: &HeaderMap) -> Option<(String, OpSession)> {
    let token = auth::cookie(headers, auth::cookie_name(st))?;
    match auth::get(st, token, idle(st)) {
        Ok(s) => Some((token.to_owned(), s)),
        Err(e) => {
            // The store did not answer: treated as no session (the login form, or 403).
            tracing::error!(target: "verifier", error = %e, "operator session lookup failed");
            None
        }
    }
}

/// The logged-in operator: `(session, username)`.
fn operator(st: &Verifier, web: &WebState, headers: &HeaderMap) -> Option<(OpSession, String)> {
    let (_, s) = current(st, web, headers)?;
    let u = s.username.clone()?;
    Some((s, u))
}

fn html(status: StatusCode, body: String, cookies: Vec<String>) -> Response {
    let mut r = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    for c in cookies {
        if let Ok(v) = header::HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

fn see_other(to: &str, cookies: Vec<String>) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    for c in cookies {
        if let Ok(v) = header::HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// A refusal: a short page in the page's language, with the way back to the checks (the
/// page is mounted outside the verifier's JSON error layer: its users are browsers).
fn refuse(status: StatusCode, lang: Lang, m: Msg) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"{STYLE_PATH}\"></head>\
         <body><main><p class=\"error\" role=\"alert\" data-status=\"{status}\">{msg}</p><p><a href=\"{BASE_PATH}\">{back}</a></p></main></body></html>",
        code = lang.code(),
        title = esc(lang.t(Msg::Title)),
        status = status.as_u16(),
        msg = esc(lang.t(m)),
        back = esc(lang.t(Msg::Back)),
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], page).into_response()
}

/// Why a request of the page is not served.
enum Denied {
    /// Not logged in: to the login page.
    ToLogin,
    /// A refusal in the page's language.
    Refuse(StatusCode, Lang, Msg),
    /// The verifier failed.
    Error(Box<crate::VerifierError>),
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Self::ToLogin => see_other(BASE_PATH, Vec::new()),
            Self::Refuse(status, lang, m) => refuse(status, lang, m),
            Self::Error(e) => e.into_response(),
        }
    }
}

fn preset_title(name: Option<&str>) -> Msg {
    match name {
        Some("age_over_18") => Msg::PresetAge,
        Some("driving_licence") => Msg::PresetMdl,
        Some("pid") => Msg::PresetPid,
        Some("health_card") => Msg::PresetEhic,
        _ => Msg::PresetRaw,
    }
}

fn status_label(c: &crate::store::Session, now: i64) -> Msg {
    match c.status_at(now) {
        SessionStatus::Declined if view::refused_by_the_wallet(c.result.as_deref().and_then(|r| serde_json::from_str(r).ok()).as_ref()) => {
            Msg::StatusWalletRefused
        }
        SessionStatus::Created => Msg::StatusCreated,
        SessionStatus::RequestFetched => Msg::StatusFetched,
        SessionStatus::ResponseReceived => Msg::StatusReceived,
        SessionStatus::Verified => Msg::StatusVerified,
        SessionStatus::Refused => Msg::StatusRefused,
        SessionStatus::Declined => Msg::StatusDeclined,
        SessionStatus::Expired => Msg::StatusExpired,
    }
}

/// The frame of every page.
fn layout(st: &Verifier, lang: Lang, main: &str, op: Option<&OpSession>) -> String {
    let mut h = String::with_capacity(main.len() + 2048);
    let title = lang.t(Msg::Title);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"{STYLE_PATH}\">\
         <script src=\"{SCRIPT_PATH}\" defer></script></head><body>",
        code = lang.code(),
    );
    if st.config().web.test_federation {
        let _ = write!(h, "<div class=\"test-banner\" role=\"note\" data-test-federation=\"true\">{}</div>", lang.t(Msg::TestBanner));
    }
    let _ = write!(
        h,
        "<header><a class=\"brand\" href=\"{BASE_PATH}\">{title}</a><span class=\"org\">{org}</span><nav>\
         <a class=\"lang\" href=\"?lang={other}\" hreflang=\"{other}\" lang=\"{other}\">{switch}</a>",
        org = esc(&st.config().organization_name),
        other = lang.other().code(),
        switch = lang.t(Msg::SwitchLang),
    );
    if let Some(op) = op.filter(|o| o.username.is_some()) {
        let name = if op.display_name.is_empty() { op.username.clone().unwrap_or_default() } else { op.display_name.clone() };
        let _ = write!(
            h,
            "<span class=\"operator\">{label}: {name}</span><form method=\"post\" action=\"/check/logout\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\" class=\"link\">{out}</button></form>",
            label = lang.t(Msg::LoggedInAs),
            name = esc(&name),
            csrf = esc(&op.csrf),
            out = lang.t(Msg::LogOut),
        );
    }
    let _ = write!(h, "</nav></header><main>{main}</main></body></html>");
    h
}

fn login_page(st: &Verifier, lang: Lang, s: &OpSession, error: Option<Msg>) -> String {
    let err = error.map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", lang.t(m))).unwrap_or_default();
    let main = format!(
        "<h1>{title}</h1>{err}<form method=\"post\" action=\"/check/login\" class=\"login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"username\">{u}</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">{p}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">{go}</button></form>",
        title = lang.t(Msg::Title),
        csrf = esc(&s.csrf),
        u = lang.t(Msg::Username),
        p = lang.t(Msg::Password),
        go = lang.t(Msg::LogIn),
    );
    layout(st, lang, &main, None)
}

/// What this verifier trusts, for the operator (design/in-person.md, item 4: "trust
/// configuration that explains itself"): the trust anchors and how many of their keys are
/// pinned, the federation CA roots, the trust marks issuers must hold (one of), whether status
/// lists and CRLs are checked, whether a
/// suspended credential is accepted, the profile. A refused credential's reason names the
/// rule; this says what the rules are checked against.
fn trust_configuration(st: &Verifier, lang: Lang, main: &mut String) {
    let c = st.config();
    let yes_no = |b: bool| lang.t(if b { Msg::Yes } else { Msg::No });
    let _ = write!(
        main,
        "<details class=\"expert trust-config\" data-trust-config=\"true\"><summary>{title}</summary><p class=\"hint\">{hint}</p><dl>\
         <dt>{anchors}</dt>",
        title = lang.t(Msg::TrustConfig),
        hint = lang.t(Msg::TrustConfigHint),
        anchors = lang.t(Msg::TrustAnchors),
    );
    if c.trust_anchors.is_empty() {
        let _ = write!(main, "<dd>{}</dd>", lang.t(Msg::NoneConfigured));
    }
    for a in &c.trust_anchors {
        let _ = write!(main, "<dd data-anchor=\"{id}\"><code>{id}</code> ({n} {keys})</dd>", id = esc(a.id.as_str()), n = a.jwks.keys.len(), keys = lang.t(Msg::AnchorKeys));
    }
    let _ = write!(main, "<dt>{}</dt>", lang.t(Msg::CaRoots));
    match st.x509_roots().map(wallet_core::x509::TrustAnchors::subjects).filter(|s| !s.is_empty()) {
        None => {
            let _ = write!(main, "<dd>{}</dd>", lang.t(Msg::NoneConfigured));
        }
        Some(subjects) => {
            for s in subjects {
                let _ = write!(main, "<dd data-ca-root>{}</dd>", esc(&s));
            }
        }
    }
    // IT-Wallet 1.4 §8: an issuer without one of these marks is refused as untrusted.
    let _ = write!(main, "<dt>{}</dt>", lang.t(Msg::RequiredIssuerMarks));
    if c.credential_issuer_trust_marks.is_empty() {
        let _ = write!(main, "<dd>{}</dd>", lang.t(Msg::NoneConfigured));
    }
    for t in &c.credential_issuer_trust_marks {
        let _ = write!(main, "<dd data-issuer-mark><code>{}</code></dd>", esc(t));
    }
    let _ = write!(
        main,
        "<dt>{status}</dt><dd data-check-status=\"{cs}\">{cs_t}</dd><dt>{crl}</dt><dd data-check-crl=\"{cc}\">{cc_t}</dd>\
         <dt>{susp}</dt><dd data-accept-suspended=\"{sa}\">{sa_t}</dd><dt>{profile}</dt><dd data-profile>{p}</dd></dl></details>",
        status = lang.t(Msg::StatusCheck),
        cs = c.check_status,
        cs_t = yes_no(c.check_status),
        crl = lang.t(Msg::CrlCheck),
        cc = c.check_crl,
        cc_t = yes_no(c.check_crl),
        susp = lang.t(Msg::SuspendedAccepted),
        sa = c.accept_suspended,
        sa_t = yes_no(c.accept_suspended),
        profile = lang.t(Msg::ProfileLabel),
        p = c.profile.as_str(),
    );
}

/// The page's home: the presets, the expert request (open, with `expert`'s error and the text
/// as typed, after a refused query), the operator's recent checks.
fn home_page(st: &Verifier, lang: Lang, s: &OpSession, user: &str, expert: Option<(&str, &str)>) -> Result<String, crate::VerifierError> {
    let presets = [
        ("age_over_18", Msg::PresetAge, Msg::PresetAgeHint),
        ("driving_licence", Msg::PresetMdl, Msg::PresetMdlHint),
        ("pid", Msg::PresetPid, Msg::PresetPidHint),
        ("health_card", Msg::PresetEhic, Msg::PresetEhicHint),
    ];
    let mut main = format!("<h1>{}</h1><div class=\"presets\">", lang.t(Msg::ChooseCheck));
    for (name, title, hint) in presets {
        let _ = write!(
            main,
            "<form method=\"post\" action=\"/check/start\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"preset\" value=\"{name}\"><button type=\"submit\" class=\"preset\" data-preset=\"{name}\">\
             <strong>{t}</strong><span>{h}</span></button></form>",
            csrf = esc(&s.csrf),
            t = lang.t(title),
            h = lang.t(hint),
        );
    }
    main.push_str("</div>");
    // Presets per use case, plus a raw query for experts (design/in-person.md, item 5).
    let (error, draft) = expert.unwrap_or_default();
    let _ = write!(
        main,
        "<details class=\"expert\"{open}><summary>{title}</summary>\
         <form method=\"post\" action=\"/check/start\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <p class=\"hint\">{hint}</p>{error}\
         <label for=\"dcql_query\" class=\"sr-only\">DCQL</label>\
         <textarea id=\"dcql_query\" name=\"dcql_query\" rows=\"10\" spellcheck=\"false\" maxlength=\"{max}\" placeholder=\"{example}\">{draft}</textarea>\
         <button type=\"submit\" data-expert=\"start\">{start}</button></form></details>",
        open = if expert.is_some() { " open" } else { "" },
        title = lang.t(Msg::ExpertQuery),
        csrf = esc(&s.csrf),
        hint = lang.t(Msg::ExpertQueryHint),
        error = if error.is_empty() { String::new() } else { format!("<p class=\"error\" role=\"alert\">{}: {}</p>", lang.t(Msg::BadQuery), esc(error)) },
        max = MAX_RAW_QUERY,
        example = esc(r#"{"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["urn:eudi:pid:it:1"]}, "claims": [{"path": ["birthdate"]}]}]}"#),
        draft = esc(draft),
        start = lang.t(Msg::StartExpert),
    );
    trust_configuration(st, lang, &mut main);
    let _ = write!(main, "<h2>{}</h2>", lang.t(Msg::MyChecks));
    let now = st.now().secs();
    let mine = st.store().by_owner(user, RECENT)?;
    if mine.is_empty() {
        let _ = write!(main, "<p>{}</p>", lang.t(Msg::NoChecks));
    } else {
        main.push_str("<ul class=\"recent\">");
        for c in &mine {
            let status = c.status_at(now);
            let _ = write!(
                main,
                "<li data-status=\"{st}\"><a href=\"/check/s/{id}\">{time} · {preset} · <span class=\"status s-{st}\">{label}</span></a></li>",
                st = status.as_str(),
                id = esc(&c.id),
                time = view::fmt_time(c.created_at),
                preset = lang.t(preset_title(view::preset_of(&c.dcql))),
                label = lang.t(status_label(c, now)),
            );
        }
        main.push_str("</ul>");
    }
    Ok(layout(st, lang, &main, Some(s)))
}

/// `GET /check`.
pub(super) async fn home(State(st): State<Verifier>, Extension(web): Web, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let (lang, set_lang) = lang_of(&st, &headers, Some(&q));
    let mut cookies: Vec<String> = set_lang.into_iter().collect();
    match current(&st, &web, &headers) {
        Some((_, s)) => match s.username.clone() {
            Some(u) => match home_page(&st, lang, &s, &u, None) {
                Ok(page) => html(StatusCode::OK, page, cookies),
                Err(e) => e.into_response(),
            },
            None => html(StatusCode::OK, login_page(&st, lang, &s, None), cookies),
        },
        None => match auth::new_token() {
            Ok(token) => {
                cookies.push(auth::session_cookie(&st, &token));
                html(StatusCode::OK, login_page(&st, lang, &auth::visitor(&token), None), cookies)
            }
            Err(e) => e.into_response(),
        },
    }
}

/// `POST /check/login`. A failed login shows the form again (200) with one message for an
/// unknown user and a wrong password alike.
pub(super) async fn login(State(st): State<Verifier>, Extension(web): Web, req: Request) -> Response {
    let headers = req.headers().clone();
    let (lang, _) = lang_of(&st, &headers, None);
    let client = web.login_limiter(&st).client_of(&req);
    let Ok(Form(f)) = Form::<LoginForm>::from_request(req, &()).await else {
        return refuse(StatusCode::BAD_REQUEST, lang, Msg::Forbidden);
    };
    let Some((token, anon)) = current(&st, &web, &headers) else { return refuse(StatusCode::FORBIDDEN, lang, Msg::Forbidden) };
    if !auth::same_origin(&st, &headers) || !auth::csrf_ok(&anon, &f.csrf) {
        return refuse(StatusCode::FORBIDDEN, lang, Msg::Forbidden);
    }
    if web.login_limiter(&st).check(client, std::time::Instant::now()).is_err() {
        return refuse(StatusCode::TOO_MANY_REQUESTS, lang, Msg::LoginLimited);
    }
    let username = f.username.trim();
    // Argon2 takes tens of milliseconds: off the async workers.
    let (st2, web2, u, p) = (st.clone(), web.clone(), username.to_owned(), f.password);
    let found = tokio::task::spawn_blocking(move || auth::check_login(&st2, &web2.dummy_hash, &u, &p)).await.ok().flatten();
    match found {
        Some(op) => {
            if let Err(e) = auth::remove(&st, &token) {
                return crate::VerifierError::from(e).into_response();
            }
            match auth::create(&st, op.username.clone(), op.display_name.clone(), idle(&st)) {
                Ok((token, _)) => {
                    tracing::info!(target: "verifier", operator = %op.username, "operator logged in");
                    see_other(BASE_PATH, vec![auth::session_cookie(&st, &token)])
                }
                Err(e) => e.into_response(),
            }
        }
        None => {
            tracing::info!(target: "verifier", "operator login failed");
            html(StatusCode::OK, login_page(&st, lang, &anon, Some(Msg::LoginFailed)), Vec::new())
        }
    }
}

/// Checks a POST of a logged-in operator: origin and CSRF token.
fn post_guard(st: &Verifier, web: &WebState, headers: &HeaderMap, csrf: &str) -> Result<(String, OpSession, String), Denied> {
    let (lang, _) = lang_of(st, headers, None);
    let forbidden = Denied::Refuse(StatusCode::FORBIDDEN, lang, Msg::Forbidden);
    let Some((token, s)) = current(st, web, headers) else { return Err(forbidden) };
    if !auth::same_origin(st, headers) || !auth::csrf_ok(&s, csrf) {
        return Err(forbidden);
    }
    let Some(user) = s.username.clone() else { return Err(forbidden) };
    Ok((token, s, user))
}

/// `POST /check/logout`.
pub(super) async fn logout(State(st): State<Verifier>, Extension(web): Web, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    match post_guard(&st, &web, &headers, &f.csrf) {
        Ok((token, _, _)) => match auth::remove(&st, &token) {
            Ok(()) => see_other(BASE_PATH, vec![auth::clear_cookie(&st)]),
            Err(e) => crate::VerifierError::from(e).into_response(),
        },
        Err(r) => r.into_response(),
    }
}

fn start_for(st: &Verifier, user: &str, query: DcqlQuery) -> Response {
    let req = SessionRequest { query, flow: Flow::CrossDevice, redirect_uri: None, method: Method::Post, owner: Some(user.to_owned()) };
    match st.start_session(req) {
        Ok(s) => see_other(&format!("{BASE_PATH}/s/{}", s.id), Vec::new()),
        Err(e) => e.into_response(),
    }
}

/// `POST /check/start`.
pub(super) async fn start(State(st): State<Verifier>, Extension(web): Web, headers: HeaderMap, Form(f): Form<StartForm>) -> Response {
    let (_, s, user) = match post_guard(&st, &web, &headers, &f.csrf) {
        Ok(g) => g,
        Err(r) => return r.into_response(),
    };
    if !f.preset.is_empty() {
        return match crate::presets::preset(&f.preset) {
            Some(q) => start_for(&st, &user, q),
            None => crate::VerifierError::BadRequest(format!("unknown preset `{}`", f.preset)).into_response(),
        };
    }
    // The expert request: every rule of OpenID4VP 1.0 §6 is wallet-core's DCQL parser's; a
    // refused query shows the home again with why and the text as typed (400).
    let text = f.dcql_query.trim();
    let parsed = if text.len() > MAX_RAW_QUERY {
        Err(format!("longer than {MAX_RAW_QUERY} bytes"))
    } else if text.is_empty() {
        Err("empty".to_owned())
    } else {
        DcqlQuery::parse(text).map_err(|e| e.to_string())
    };
    match parsed {
        Ok(q) => start_for(&st, &user, q),
        Err(why) => {
            let (lang, _) = lang_of(&st, &headers, None);
            let draft: String = text.chars().take(MAX_RAW_QUERY).collect();
            match home_page(&st, lang, &s, &user, Some((&why, &draft))) {
                Ok(page) => html(StatusCode::BAD_REQUEST, page, Vec::new()),
                Err(e) => e.into_response(),
            }
        }
    }
}

/// The operator's own session `id`, or the refusal (not logged in: to the login page;
/// another's, unknown or purged: 404).
fn own(st: &Verifier, web: &WebState, headers: &HeaderMap, id: &str) -> Result<(OpSession, Session), Denied> {
    let (lang, _) = lang_of(st, headers, None);
    let Some((s, user)) = operator(st, web, headers) else { return Err(Denied::ToLogin) };
    match st.store().get(id) {
        Ok(Some(c)) if c.owner.as_deref() == Some(user.as_str()) => Ok((s, c)),
        Ok(_) => Err(Denied::Refuse(StatusCode::NOT_FOUND, lang, Msg::NotFound)),
        Err(e) => Err(Denied::Error(Box::new(e.into()))),
    }
}

/// `POST /check/s/{id}/renew`: a new session with the same query; the one it replaces ends
/// now, so a wallet that scanned the old code cannot answer a check nobody is watching.
pub(super) async fn renew(State(st): State<Verifier>, Extension(web): Web, headers: HeaderMap, Path(id): Path<String>, Form(f): Form<CsrfForm>) -> Response {
    let (_, _, user) = match post_guard(&st, &web, &headers, &f.csrf) {
        Ok(g) => g,
        Err(r) => return r.into_response(),
    };
    let c = match own(&st, &web, &headers, &id) {
        Ok((_, c)) => c,
        Err(r) => return r.into_response(),
    };
    if let Err(e) = st.store().end_pending(&c.id, st.now().secs()) {
        return crate::VerifierError::from(e).into_response();
    }
    match DcqlQuery::parse(&c.dcql) {
        Ok(q) => start_for(&st, &user, q),
        Err(e) => crate::VerifierError::internal(e).into_response(),
    }
}

fn state_json(st: &Verifier, s: &Session) -> Value {
    let now = st.now().secs();
    let status = s.status_at(now);
    json!({
        "status": status.as_str(),
        "pending": status.is_pending(),
        "remaining": if status.is_pending() { s.expires_at.saturating_sub(now).max(0) } else { 0 },
        "expires_at": s.expires_at,
    })
}

/// `GET /check/s/{id}/state`: 200 with the state, pending or not.
pub(super) async fn state(State(st): State<Verifier>, Extension(web): Web, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match own(&st, &web, &headers, &id) {
        Ok((_, s)) => axum::Json(state_json(&st, &s)).into_response(),
        Err(r) => r.into_response(),
    }
}

/// `GET /check/s/{id}/events`: an SSE `state` event now and at every change, until a
/// verdict or expiry (then the stream ends).
pub(super) async fn events(State(st): State<Verifier>, Extension(web): Web, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = own(&st, &web, &headers, &id) {
        return r.into_response();
    }
    // The stream's state: `None` ends it; `Some(None)` before the first event.
    let first: Option<Option<SessionStatus>> = Some(None);
    let stream = futures_util::stream::unfold(first, move |seen| {
        let (st, id) = (st.clone(), id.clone());
        async move {
            let seen = seen?;
            let s = match seen {
                None => st.store().get(&id).map_err(crate::VerifierError::from),
                Some(prev) => st.watch(&id, prev, SSE_WAIT).await,
            };
            let Ok(Some(s)) = s else {
                return Some((Ok::<_, Infallible>(Event::default().event("state").data(r#"{"status":"gone","pending":false}"#)), None));
            };
            let v = state_json(&st, &s);
            let status = s.status_at(st.now().secs());
            let next = status.is_pending().then_some(Some(status));
            Some((Ok(Event::default().event("state").data(v.to_string())), next))
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// `GET /check/s/{id}/qr.svg`.
pub(super) async fn qr(State(st): State<Verifier>, Extension(web): Web, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let c = match own(&st, &web, &headers, &id) {
        Ok((_, c)) => c,
        Err(r) => return r.into_response(),
    };
    let url = match st.wallet_url(&c) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    match crate::qr::svg(&url) {
        Ok(svg) => ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response(),
        Err(e) => crate::VerifierError::internal(e).into_response(),
    }
}

/// `GET /check/s/{id}`: the QR code while pending, the verdict after.
pub(super) async fn check(State(st): State<Verifier>, Extension(web): Web, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<LangQuery>) -> Response {
    let (lang, set_lang) = lang_of(&st, &headers, Some(&q));
    let (op, c) = match own(&st, &web, &headers, &id) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let now = st.now().secs();
    let preset = view::preset_of(&c.dcql);
    let main = match view::outcome(&c, now, preset) {
        None => pending_html(&st, lang, &op, &c, preset, now),
        Some(o) => verdict_html(&st, lang, &op, &c, preset, &o, now),
    };
    html(StatusCode::OK, layout(&st, lang, &main, Some(&op)), set_lang.into_iter().collect())
}

fn steps_html(lang: Lang, status: SessionStatus) -> String {
    let current = match status {
        SessionStatus::Created => 0,
        SessionStatus::RequestFetched => 1,
        SessionStatus::ResponseReceived => 2,
        _ => 3,
    };
    let steps = [
        ("created", Msg::StepWaiting),
        ("request_fetched", Msg::StepFetched),
        ("response_received", Msg::StepReceived),
        ("verdict", Msg::StepVerdict),
    ];
    let mut h = String::from("<ol class=\"steps\" aria-live=\"polite\">");
    for (i, (key, m)) in steps.into_iter().enumerate() {
        let (class, aria) = match i.cmp(&current) {
            std::cmp::Ordering::Less => ("done", ""),
            std::cmp::Ordering::Equal => ("current", " aria-current=\"step\""),
            std::cmp::Ordering::Greater => ("", ""),
        };
        let _ = write!(h, "<li data-step=\"{key}\" class=\"{class}\"{aria}>{}</li>", lang.t(m));
    }
    h.push_str("</ol>");
    h
}

fn renew_form(op: &OpSession, c: &Session, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/check/s/{id}/renew\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" id=\"renew\">{label}</button></form>",
        id = esc(&c.id),
        csrf = esc(&op.csrf),
    )
}

fn pending_html(st: &Verifier, lang: Lang, op: &OpSession, c: &Session, preset: Option<&str>, now: i64) -> String {
    let status = c.status_at(now);
    let remaining = c.expires_at.saturating_sub(now).max(0);
    let url = st.wallet_url(c).unwrap_or_default();
    format!(
        "<section id=\"live\" class=\"pending\" data-session=\"{id}\" data-status=\"{status}\" data-remaining=\"{remaining}\" \
         data-state-url=\"/check/s/{id}/state\" data-events-url=\"/check/s/{id}/events\">\
         <h1>{title}</h1>\
         <figure class=\"qr\" data-wallet-url=\"{url}\"><img src=\"/check/s/{id}/qr.svg\" alt=\"{alt}\" width=\"320\" height=\"320\">\
         <figcaption>{scan}</figcaption></figure>\
         <p class=\"countdown\">{expires} <strong id=\"countdown\" role=\"timer\">{mm}:{ss:02}</strong></p>\
         {steps}<noscript><p>{noscript}</p></noscript>\
         <div class=\"actions\">{renew}<a href=\"{BASE_PATH}\" class=\"button secondary\">{back}</a></div></section>",
        id = esc(&c.id),
        status = status.as_str(),
        title = lang.t(preset_title(preset)),
        url = esc(&url),
        alt = lang.t(Msg::QrAlt),
        scan = lang.t(Msg::ScanQr),
        expires = lang.t(Msg::ExpiresIn),
        mm = remaining / 60,
        ss = remaining % 60,
        steps = steps_html(lang, status),
        noscript = lang.t(Msg::NoScript),
        renew = renew_form(op, c, lang.t(Msg::NewQr)),
        back = lang.t(Msg::Back),
    )
}

/// A claim value as text.
fn claim_text(lang: Lang, name: &str, v: &Value) -> String {
    match (name, v) {
        (_, Value::String(s)) => esc(s),
        (_, Value::Bool(b)) => lang.t(if *b { Msg::Yes } else { Msg::No }).to_owned(),
        (_, Value::Number(n)) => n.to_string(),
        ("driving_privileges", Value::Array(items)) => {
            let mut h = String::from("<ul class=\"privileges\">");
            for p in items {
                let code = p.get("vehicle_category_code").and_then(Value::as_str).unwrap_or("?");
                let _ = write!(h, "<li><strong>{}</strong>", esc(code));
                if let Some(d) = p.get("issue_date").and_then(Value::as_str) {
                    let _ = write!(h, " {} {}", lang.t(Msg::ClaimPrivilegeFrom), esc(d));
                }
                if let Some(d) = p.get("expiry_date").and_then(Value::as_str) {
                    let _ = write!(h, " {} {}", lang.t(Msg::ClaimPrivilegeUntil), esc(d));
                }
                h.push_str("</li>");
            }
            h.push_str("</ul>");
            h
        }
        (_, Value::Array(items)) => items.iter().map(|i| claim_text(lang, "", i)).collect::<Vec<_>>().join(", "),
        (_, Value::Object(m)) => m.values().map(|i| claim_text(lang, "", i)).collect::<Vec<_>>().join(", "),
        (_, Value::Null) => String::new(),
    }
}

/// The top-level claim names the session's query asked, in its order.
fn asked_claims(dcql: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Value>(dcql) else { return Vec::new() };
    let creds = v.get("credentials").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out = Vec::new();
    for c in &creds {
        for claim in c.get("claims").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = claim.get("path").and_then(|p| p.get(0)).and_then(Value::as_str)
                && !out.iter().any(|o| o == name)
            {
                out.push(name.to_owned());
            }
        }
    }
    out
}

fn row(h: &mut String, label: &str, value: &str) {
    let _ = write!(h, "<dt>{label}</dt><dd>{value}</dd>");
}

fn status_text(lang: Lang, status: &Value) -> String {
    let outcome = status.get("outcome").and_then(Value::as_str).unwrap_or_default();
    let m = match outcome {
        "valid" => Msg::StatusValid,
        "suspended_accepted" => Msg::StatusSuspendedAccepted,
        "no_status" => Msg::StatusNone,
        _ => Msg::StatusNotChecked,
    };
    match status.get("value").and_then(Value::as_str) {
        Some(v) => format!("{} ({})", lang.t(m), esc(v)),
        None => lang.t(m).to_owned(),
    }
}

fn verdict_html(st: &Verifier, lang: Lang, op: &OpSession, c: &Session, preset: Option<&str>, o: &Outcome, now: i64) -> String {
    let look = o.look;
    let mut h = format!(
        "<section class=\"verdict v-{class}\" data-verdict=\"{class}\" role=\"status\"><span class=\"icon\" aria-hidden=\"true\">{icon}</span>\
         <div><h1>{title}</h1><p class=\"reason\">{text}</p></div></section>",
        class = look.class(),
        icon = look.icon(),
        title = lang.t(o.title),
        text = lang.t(o.text),
    );
    let result = o.result.as_ref();
    // The subject: portrait and the claims asked (for the age check, only the answer).
    if let Some(r) = result.filter(|_| c.status == SessionStatus::Verified) {
        h.push_str("<section class=\"subject\">");
        if let Some(src) = view::first_claim(r, "portrait").and_then(view::portrait_data_url) {
            let _ = write!(h, "<img class=\"portrait\" src=\"{}\" alt=\"{}\">", esc(&src), lang.t(Msg::Portrait));
        }
        h.push_str("<dl class=\"claims\">");
        if preset == Some("age_over_18") {
            let answer = match look {
                Look::Verified => lang.t(Msg::Yes),
                Look::Refused => lang.t(Msg::No),
                _ => "?",
            };
            row(&mut h, lang.t(Msg::ClaimAgeOver18), answer);
        } else {
            for name in asked_claims(&c.dcql).iter().filter(|n| n.as_str() != "portrait") {
                if let Some(v) = view::first_claim(r, name) {
                    let label = claim_label(name).map_or_else(|| esc(name), |m| lang.t(m).to_owned());
                    let _ = write!(h, "<dt>{label}</dt><dd data-claim=\"{}\">{}</dd>", esc(name), claim_text(lang, name, v));
                }
            }
        }
        h.push_str("</dl></section>");
    }
    // The audit panel.
    let _ = write!(h, "<details class=\"audit\"><summary>{}</summary><dl>", lang.t(Msg::Audit));
    if let Some(r) = result {
        for (_, p) in view::presentations(r) {
            let s = |k: &str| p.get(k).and_then(Value::as_str).map(esc).unwrap_or_default();
            let trust = p.get("issuer_trust").cloned().unwrap_or(Value::Null);
            let org = trust.get("organization_name").and_then(Value::as_str).map(esc).unwrap_or_default();
            if !org.is_empty() {
                row(&mut h, lang.t(Msg::Issuer), &org);
            }
            row(&mut h, lang.t(Msg::IssuerId), &s("issuer"));
            let trust_text = match trust.get("kind").and_then(Value::as_str) {
                Some("trust_chain") => {
                    format!("{} {}", lang.t(Msg::TrustChain), esc(trust.get("trust_anchor").and_then(Value::as_str).unwrap_or_default()))
                }
                Some("x5c") => lang.t(Msg::TrustX5c).to_owned(),
                _ => String::new(),
            };
            row(&mut h, lang.t(Msg::Trust), &trust_text);
            if let Some(ents) = trust.get("entities").and_then(Value::as_array) {
                let chain: Vec<String> = ents.iter().filter_map(Value::as_str).map(esc).collect();
                row(&mut h, lang.t(Msg::ChainEntities), &chain.join(" → "));
            }
            // The trust mark the issuer holds, when the verifier requires one (IT-Wallet 1.4 §8).
            if let Some(m) = trust.get("trust_mark") {
                let text = |k: &str| m.get(k).and_then(Value::as_str).map(esc).unwrap_or_default();
                row(&mut h, lang.t(Msg::TrustMark), &format!("{} ({} {})", text("trust_mark_type"), lang.t(Msg::IssuedBy), text("issuer")));
            }
            row(&mut h, lang.t(Msg::CredentialType), &s("vct"));
            let t = |k: &str| p.get(k).and_then(Value::as_i64).map(view::fmt_time).unwrap_or_else(|| "—".into());
            row(&mut h, lang.t(Msg::Validity), &format!("{} – {}", t("issued_at"), t("expires_at")));
            row(&mut h, lang.t(Msg::StatusList), &status_text(lang, p.get("status").unwrap_or(&Value::Null)));
            row(&mut h, lang.t(Msg::KeyBinding), lang.t(Msg::KeyBindingOk));
        }
        if let Some(reason) = r.get("reason").and_then(Value::as_str) {
            row(&mut h, lang.t(Msg::TechnicalReason), &esc(reason));
        }
        if let Some(q) = r.get("credential").and_then(Value::as_str) {
            row(&mut h, lang.t(Msg::CredentialQuery), &esc(q));
        }
        if let Some(e) = r.get("error").and_then(Value::as_str) {
            let d = r.get("error_description").and_then(Value::as_str).map(|d| format!(": {}", esc(d))).unwrap_or_default();
            row(&mut h, lang.t(Msg::WalletError), &format!("{}{d}", esc(e)));
        }
    }
    row(&mut h, lang.t(Msg::Profile), st.config().profile.as_str());
    // The session's log (design/in-person.md, item 6): started, read by the wallet, answered.
    row(&mut h, lang.t(Msg::Started), &view::fmt_time(c.created_at));
    if let Some(t) = c.fetched_at {
        row(&mut h, lang.t(Msg::FetchedAt), &view::fmt_time(t));
    }
    if let Some(t) = c.completed_at {
        row(&mut h, lang.t(Msg::CompletedAt), &view::fmt_time(t));
    }
    row(&mut h, lang.t(Msg::Expires), &view::fmt_time(c.expires_at));
    row(&mut h, lang.t(Msg::Shown), &view::fmt_time(now));
    h.push_str("</dl></details>");
    if result.is_some() {
        let _ = write!(h, "<p class=\"retention\">{} {} {}.</p>", lang.t(Msg::Retention), st.config().result_ttl, lang.t(Msg::Seconds));
    }
    let _ = write!(
        h,
        "<div class=\"actions\">{}<a href=\"{BASE_PATH}\" class=\"button secondary\">{}</a></div>",
        renew_form(op, c, lang.t(Msg::NewCheck)),
        lang.t(Msg::Back)
    );
    h
}

/// `GET /check/assets/check.js`.
pub(super) async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], include_str!("assets/check.js")).into_response()
}

/// `GET /check/assets/check.css`.
pub(super) async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], include_str!("assets/check.css")).into_response()
}
