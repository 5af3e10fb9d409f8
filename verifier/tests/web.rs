//! The in-person page over real HTTP on loopback: operator login, CSRF, ownership of checks,
//! and whole checks answered by a wallet played with wallet-core (verified, declined,
//! refused, expired), each state read from the page's JSON, its SSE stream and its HTML.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "browser/support.rs"]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;
use support::{Answer, MDL_CLAIMS, OPERATORS, Wallet, WebFed};

/// A browser's view of the page: cookies kept by hand, `Origin` sent on POSTs.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
    origin: Option<String>,
}

struct Page {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers.get("location").unwrap().to_str().unwrap()
    }

    /// The value of the first `attr="..."` after `marker`.
    fn attr_after(&self, marker: &str, attr: &str) -> String {
        let at = self.body.find(marker).unwrap_or_else(|| panic!("{marker} not in {}", self.body));
        let rest = &self.body[at..];
        let key = format!("{attr}=\"");
        let s = rest.find(&key).unwrap() + key.len();
        let e = rest[s..].find('"').unwrap();
        rest[s..s + e].replace("&amp;", "&")
    }

    fn csrf(&self) -> String {
        self.attr_after("name=\"csrf\"", "value")
    }
}

impl Browser {
    fn new(fed: &WebFed) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, base: fed.verifier_id.as_str().to_owned(), cookies: HashMap::new(), origin: Some(fed.verifier_id.as_str().to_owned()) }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn absorb(&mut self, headers: &HeaderMap) {
        for c in headers.get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
    }

    async fn page(&mut self, r: reqwest::RequestBuilder) -> Page {
        let r = r.header("cookie", self.cookie_header()).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        self.absorb(&headers);
        Page { status, headers, body: r.text().await.unwrap() }
    }

    async fn get(&mut self, path: &str) -> Page {
        let r = self.http.get(format!("{}{path}", self.base));
        self.page(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut r = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(o) = &self.origin {
            r = r.header("origin", o);
        }
        self.page(r).await
    }

    /// Logs in from the login form: the page after the POST.
    async fn login(&mut self, user: &str, password: &str) -> Page {
        let form = self.get("/check").await;
        assert_eq!(form.status, 200);
        let csrf = form.csrf();
        self.post("/check/login", &[("csrf", &csrf), ("username", user), ("password", password)]).await
    }

    async fn login_as(&mut self, i: usize) {
        let (u, p, _) = OPERATORS[i];
        let r = self.login(u, p).await;
        assert_eq!((r.status, r.location()), (303, "/check"), "{}", r.body);
    }

    /// Starts a check from a preset: its id.
    async fn start(&mut self, preset: &str) -> String {
        let home = self.get("/check").await;
        let r = self.post("/check/start", &[("csrf", &home.csrf()), ("preset", preset)]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        r.location().strip_prefix("/check/s/").unwrap().to_owned()
    }

    async fn state(&mut self, id: &str) -> Value {
        let p = self.get(&format!("/check/s/{id}/state")).await;
        assert_eq!(p.status, 200, "{}", p.body);
        serde_json::from_str(&p.body).unwrap()
    }
}

/// An SSE stream of the page: its `state` events, one at a time.
struct Events {
    resp: reqwest::Response,
    buf: String,
}

impl Events {
    async fn open(b: &Browser, id: &str) -> Self {
        let resp = b.http.get(format!("{}/check/s/{id}/events", b.base)).header("cookie", b.cookie_header()).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        Self { resp, buf: String::new() }
    }

    /// The next `state` event's status (`None`: the stream ended).
    async fn next(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let ev: String = self.buf.drain(..end + 2).collect();
                if let Some(data) = ev.lines().find_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:"))) {
                    let v: Value = serde_json::from_str(data).unwrap();
                    return Some(v["status"].as_str().unwrap().to_owned());
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.resp.chunk()).await.expect("an event within 10 s").unwrap()?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// The verdict shown on the check's page.
fn verdict(p: &Page) -> String {
    p.attr_after("class=\"verdict", "data-verdict")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_logout_language_and_headers() {
    let fed = WebFed::new().await;
    let mut b = Browser::new(&fed);
    let form = b.get("/check").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("<html lang=\"it\"") && form.body.contains("Accedi"), "Italian by default");
    assert!(form.body.contains("DATI DI TEST"), "the test federation banner");
    let csp = form.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(form.headers["x-frame-options"], "DENY");
    assert_eq!(form.headers["cache-control"], "no-store");
    let anon = b.cookies["tessera-operator"].clone();
    let set = form.headers["set-cookie"].to_str().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && !set.contains("Secure"), "http loopback: {set}");

    // A wrong password and an unknown user get the same answer, and no session.
    let bad = b.login(OPERATORS[0].0, "wrong").await;
    assert_eq!(bad.status, 200);
    assert!(bad.body.contains("Nome utente o password non corretti."));
    let unknown = b.login("nobody", "wrong").await;
    assert_eq!(unknown.status, 200);
    assert_eq!(bad.body.replace(&bad.csrf(), ""), unknown.body.replace(&unknown.csrf(), ""), "indistinguishable");
    assert!(b.get("/check").await.body.contains("name=\"password\""), "still logged out");

    // A good login replaces the visitor's session.
    b.login_as(0).await;
    assert_ne!(b.cookies["tessera-operator"], anon, "a new session id at login");
    let home = b.get("/check").await;
    assert!(home.body.contains("Agente Rossi") && home.body.contains("Controllo patente") && home.body.contains("Età superiore a 18 anni"));
    assert!(home.body.contains("data-preset=\"health_card\"") && home.body.contains("data-preset=\"pid\""));
    // Whom this verifier trusts (design/in-person.md, item 4): the anchor and its pinned
    // keys, the federation CA's root, the status and CRL checks, the profile.
    assert!(home.body.contains("data-trust-config") && home.body.contains("Di chi si fida questa verifica"));
    let anchor = format!("data-anchor=\"{}\"><code>{}</code> ({} chiavi fissate)", fed.anchor.id, fed.anchor.id, fed.anchor.jwks.keys.len());
    assert!(home.body.contains(&anchor), "{anchor}");
    assert_eq!(home.body.matches("<dd data-ca-root>").count(), 1);
    // The trust mark issuers must hold (IT-Wallet 1.4 §8).
    let mark = format!("Marchi di fiducia richiesti agli emittenti (uno tra)</dt><dd data-issuer-mark><code>{}</code></dd>", support::issuer_mark(&fed.anchor.id));
    assert!(home.body.contains(&mark), "{mark}");
    assert!(home.body.contains("data-check-status=\"true\">sì") && home.body.contains("data-accept-suspended=\"false\">no"));
    assert!(home.body.contains("<dd data-profile>it-wallet-1.4</dd>"));

    // English, remembered by a cookie.
    let en = b.get("/check?lang=en").await;
    assert!(en.body.contains("<html lang=\"en\"") && en.body.contains("Driving licence check") && en.body.contains("TEST DATA"));
    assert!(en.body.contains("Whom this verifier trusts") && en.body.contains("pinned keys"));
    assert_eq!(b.cookies["tessera-lang"], "en");
    assert!(b.get("/check").await.body.contains("Age over 18"));
    assert!(b.get("/check?lang=it").await.body.contains("Tessera sanitaria"));

    // Logout ends the session on the server, not only in the browser.
    let old = b.cookies["tessera-operator"].clone();
    let csrf = b.get("/check").await.csrf();
    let out = b.post("/check/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert!(!b.cookies.contains_key("tessera-operator"));
    b.cookies.insert("tessera-operator".into(), old);
    assert!(b.get("/check").await.body.contains("name=\"password\""), "the old cookie is worth nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_needs_the_csrf_token_and_our_origin() {
    let fed = WebFed::new().await;
    let mut b = Browser::new(&fed);

    // The login form too.
    let form = b.get("/check").await;
    let (u, p, _) = OPERATORS[0];
    assert_eq!(b.post("/check/login", &[("username", u), ("password", p)]).await.status, 403);
    assert_eq!(b.post("/check/login", &[("csrf", "forged"), ("username", u), ("password", p)]).await.status, 403);
    b.origin = Some("http://evil.example".into());
    assert_eq!(b.post("/check/login", &[("csrf", &form.csrf()), ("username", u), ("password", p)]).await.status, 403);
    b.origin = Some(fed.verifier_id.as_str().to_owned());

    b.login_as(0).await;
    let csrf = b.get("/check").await.csrf();
    let no_token = b.post("/check/start", &[("preset", "pid")]).await;
    assert_eq!(no_token.status, 403);
    let wrong = b.post("/check/start", &[("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), ("preset", "pid")]).await;
    assert_eq!(wrong.status, 403);
    b.origin = Some("http://127.0.0.1:1".into());
    assert_eq!(b.post("/check/start", &[("csrf", &csrf), ("preset", "pid")]).await.status, 403, "another origin");
    b.origin = None;
    let cross = b.http.post(format!("{}/check/start", b.base)).header("sec-fetch-site", "cross-site").form(&[("csrf", csrf.as_str()), ("preset", "pid")]);
    assert_eq!(b.page(cross).await.status, 403, "Sec-Fetch-Site: cross-site");
    b.origin = Some(fed.verifier_id.as_str().to_owned());
    let ok = b.post("/check/start", &[("csrf", &csrf), ("preset", "pid")]).await;
    assert_eq!(ok.status, 303);
    // Another operator's token is no good either.
    let mut other = Browser::new(&fed);
    other.login_as(1).await;
    let theirs = other.get("/check").await.csrf();
    assert_eq!(b.post("/check/start", &[("csrf", &theirs), ("preset", "pid")]).await.status, 403);
    // Logout is a POST with the token as well.
    assert_eq!(b.post("/check/logout", &[]).await.status, 403);
    // No session at all.
    let mut stranger = Browser::new(&fed);
    assert_eq!(stranger.post("/check/start", &[("csrf", &csrf), ("preset", "pid")]).await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sees_only_their_own_checks() {
    let fed = WebFed::new().await;
    let mut rossi = Browser::new(&fed);
    rossi.login_as(0).await;
    let id = rossi.start("driving_licence").await;
    assert_eq!(rossi.get(&format!("/check/s/{id}")).await.status, 200);
    assert!(rossi.get("/check").await.body.contains(&format!("/check/s/{id}")));

    let mut bianchi = Browser::new(&fed);
    bianchi.login_as(1).await;
    for path in ["", "/state", "/events", "/qr.svg"] {
        assert_eq!(bianchi.get(&format!("/check/s/{id}{path}")).await.status, 404, "{path}");
    }
    let csrf = bianchi.get("/check").await.csrf();
    assert_eq!(bianchi.post(&format!("/check/s/{id}/renew"), &[("csrf", &csrf)]).await.status, 404);
    assert!(!bianchi.get("/check").await.body.contains(&id));
    // A session of the integrator API has no owner: no operator sees it.
    let api = fed.verifier.start_session(verifier::sessions::SessionRequest {
        query: verifier::presets::preset("pid").unwrap(),
        flow: verifier::store::Flow::CrossDevice,
        redirect_uri: None,
        method: verifier::sessions::Method::Post,
        owner: None,
    });
    let api = api.unwrap();
    assert_eq!(rossi.get(&format!("/check/s/{}", api.id)).await.status, 404);
    // Logged out: to the login page.
    let mut stranger = Browser::new(&fed);
    let r = stranger.get(&format!("/check/s/{id}")).await;
    assert_eq!((r.status, r.location()), (303, "/check"));
}

/// Starts a driving licence check and lets the wallet fetch it, following the states by SSE
/// and polling.
async fn fetched_mdl_check(fed: &WebFed, b: &mut Browser, wallet: &Wallet) -> (String, wallet_core::oid4vp::request_object::VerifiedRequest, Events) {
    let id = b.start("driving_licence").await;
    let page = b.get(&format!("/check/s/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Controllo patente") && page.body.contains("id=\"countdown\""));
    let wallet_url = page.attr_after("class=\"qr\"", "data-wallet-url");
    assert!(wallet_url.starts_with("openid4vp://?client_id=openid_federation%3A"), "{wallet_url}");
    let remaining: i64 = page.attr_after("id=\"live\"", "data-remaining").parse().unwrap();
    assert!((100..=120).contains(&remaining), "{remaining}");
    let qr = b.get(&format!("/check/s/{id}/qr.svg")).await;
    assert_eq!((qr.status, qr.headers["content-type"].to_str().unwrap()), (200, "image/svg+xml"));

    let mut events = Events::open(b, &id).await;
    assert_eq!(events.next().await.as_deref(), Some("created"));
    assert_eq!(b.state(&id).await["status"], "created");
    let req = wallet.fetch(fed, &wallet_url).await;
    assert_eq!(events.next().await.as_deref(), Some("request_fetched"), "the scan shows at once");
    let st = b.state(&id).await;
    assert_eq!((st["status"].as_str(), st["pending"].as_bool()), (Some("request_fetched"), Some(true)));
    let page = b.get(&format!("/check/s/{id}")).await;
    assert!(page.body.contains("data-step=\"request_fetched\" class=\"current\""), "the step is marked in the HTML too");
    (id, req, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driving_licence_check_verified() {
    let fed = WebFed::new().await;
    let mut b = Browser::new(&fed);
    b.login_as(0).await;
    let wallet = Wallet::new();
    let (id, req, mut events) = fetched_mdl_check(&fed, &mut b, &wallet).await;
    let (s, body) = wallet.answer(&fed, &req, Answer::Present("mdl", fed.issuer.mdl(&wallet.holder), MDL_CLAIMS.to_vec())).await;
    assert_eq!(s, 200, "{body}");
    let mut seen = Vec::new();
    while let Some(s) = events.next().await {
        seen.push(s);
    }
    assert_eq!(seen.last().map(String::as_str), Some("verified"), "{seen:?}: the stream ends at the verdict");
    assert_eq!(b.state(&id).await["status"], "verified");

    let page = b.get(&format!("/check/s/{id}")).await;
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(verdict(&page), "verified");
    assert!(page.body.contains("VERIFICATO"));
    assert!(page.body.contains("<img class=\"portrait\" src=\"data:image/png;base64,iVBOR"), "the portrait, as a validated PNG");
    for shown in ["U1A23B456C", "Bianchi", "Maria", "2030-06-01", "<strong>B</strong>", "Categorie di guida"] {
        assert!(page.body.contains(shown), "{shown}");
    }
    // The audit panel: issuer name, id and trust, validity, status, key binding, profile.
    // And the check's log: started, read by the wallet, verdict recorded.
    // The issuer's trust mark, which the verifier requires (IT-Wallet 1.4 §8).
    let mark = format!("<dt>Marchio di fiducia</dt><dd>{} (rilasciato da {})</dd>", support::issuer_mark(&fed.anchor.id), fed.anchor.id);
    assert!(page.body.contains(&mark), "audit: {mark}");
    for shown in ["Motorizzazione issuer", fed.issuer.id.as_str(), fed.anchor.id.as_str(), "urn:eudi:mDL:it:1", "la credenziale non ha stato", "KB-JWT", "it-wallet-1.4", "Avviata", "Richiesta letta dal portafoglio", "Esito registrato"] {
        assert!(page.body.contains(shown), "audit: {shown}");
    }
    // Nothing else about the citizen is kept by the page: once purged, the check is gone.
    fed.clock.advance(fed.verifier.config().result_ttl + 1);
    fed.verifier.store().purge(fed.verifier.now().secs()).unwrap();
    assert_eq!(b.get(&format!("/check/s/{id}")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_refused_and_expired_checks() {
    let fed = WebFed::new().await;
    let mut b = Browser::new(&fed);
    b.login_as(0).await;
    let wallet = Wallet::new();

    let (id, req, _) = fetched_mdl_check(&fed, &mut b, &wallet).await;
    assert_eq!(wallet.answer(&fed, &req, Answer::Decline).await.0, 200);
    assert_eq!(b.state(&id).await["status"], "declined");
    let page = b.get(&format!("/check/s/{id}")).await;
    assert_eq!(verdict(&page), "declined");
    assert!(page.body.contains("NEGATO DAL CITTADINO") && page.body.contains("access_denied"));

    // The wallet refused the request itself (WP_090): no check happened, amber, the reason
    // in the audit panel.
    let (id, req, _) = fetched_mdl_check(&fed, &mut b, &wallet).await;
    assert_eq!(wallet.answer(&fed, &req, Answer::Refuse("invalid_request_object")).await.0, 200);
    let page = b.get(&format!("/check/s/{id}?lang=en")).await;
    assert_eq!(verdict(&page), "unknown");
    assert!(page.body.contains("CANNOT DETERMINE") && page.body.contains("wallet did not accept"), "{}", page.body);
    assert!(page.body.contains("invalid_request_object") && page.body.contains("request object expired"), "the wallet's reason");
    assert!(!page.body.contains("DECLINED BY THE CITIZEN"));
    let home = b.get("/check").await;
    assert!(home.body.contains("refused by the wallet"), "the operator's log tells it apart from a decline");
    b.get("/check?lang=it").await;

    // A credential of an issuer the federation does not know.
    let (id, req, _) = fetched_mdl_check(&fed, &mut b, &wallet).await;
    let (s, _) = wallet.answer(&fed, &req, Answer::Present("mdl", fed.rogue.mdl(&wallet.holder), MDL_CLAIMS.to_vec())).await;
    assert_eq!(s, 403);
    assert_eq!(b.state(&id).await["status"], "refused");
    let page = b.get(&format!("/check/s/{id}?lang=en")).await;
    assert_eq!(verdict(&page), "refused");
    assert!(page.body.contains("REFUSED") && page.body.contains("Issuer not trusted by the federation."), "{}", page.body);
    assert!(page.body.contains("untrusted issuer"), "the technical reason in the audit panel");
    assert!(!page.body.contains("U1A23B456C"), "no claims of a refused credential");
    b.get("/check?lang=it").await;

    // Nobody answers: the session expires.
    let id = b.start("driving_licence").await;
    let mut events = Events::open(&b, &id).await;
    assert_eq!(events.next().await.as_deref(), Some("created"));
    fed.expire_sessions();
    assert_eq!(events.next().await.as_deref(), Some("expired"), "expiry is pushed too");
    assert_eq!(events.next().await, None);
    let st = b.state(&id).await;
    assert_eq!((st["status"].as_str(), st["remaining"].as_i64()), (Some("expired"), Some(0)));
    let page = b.get(&format!("/check/s/{id}")).await;
    assert_eq!(verdict(&page), "expired");
    assert!(page.body.contains("SESSIONE SCADUTA"));

    // A new QR code: a new session with the same query.
    let csrf = page.csrf();
    let r = b.post(&format!("/check/s/{id}/renew"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    let new_id = r.location().strip_prefix("/check/s/").unwrap().to_owned();
    assert_ne!(new_id, id);
    let page = b.get(&format!("/check/s/{new_id}")).await;
    assert!(page.body.contains("Controllo patente") && page.body.contains("data-wallet-url"));
    let home = b.get("/check").await;
    for s in ["s-declined", "s-refused", "s-expired", "s-created"] {
        assert!(home.body.contains(s), "the operator's log shows {s}");
    }
}

/// "New QR" ends the session it replaces: a wallet that scanned the old code (or scans it
/// later) cannot answer a check nobody is watching any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_qr_ends_the_session_it_replaces() {
    let fed = WebFed::new().await;
    let mut b = Browser::new(&fed);
    b.login_as(0).await;
    let wallet = Wallet::new();
    let (id, req, _) = fetched_mdl_check(&fed, &mut b, &wallet).await;
    let csrf = b.get(&format!("/check/s/{id}")).await.csrf();
    let r = b.post(&format!("/check/s/{id}/renew"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    let new_id = r.location().strip_prefix("/check/s/").unwrap().to_owned();
    assert_eq!(b.state(&id).await["status"], "expired", "the replaced session ended");
    let (s, body) = wallet.answer(&fed, &req, Answer::Present("mdl", fed.issuer.mdl(&wallet.holder), MDL_CLAIMS.to_vec())).await;
    assert_eq!(s, 400, "an answer to the old code: {body}");
    assert!(body.to_string().contains("expired"), "{body}");
    assert_eq!(b.state(&id).await["status"], "expired");
    assert_eq!(b.state(&new_id).await["status"], "created", "the new one waits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_status_list_cannot_determine() {
    let fed = WebFed::new().await;
    let mut b = Browser::new(&fed);
    b.login_as(0).await;
    let wallet = Wallet::new();
    let (id, req, _) = fetched_mdl_check(&fed, &mut b, &wallet).await;
    // A status list nobody serves: a closed port on loopback.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://127.0.0.1:{}/status/1", closed.local_addr().unwrap().port());
    drop(closed);
    let sd = fed.issuer.mdl_with_status(&wallet.holder, &uri);
    let (s, body) = wallet.answer(&fed, &req, Answer::Present("mdl", sd, MDL_CLAIMS.to_vec())).await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(b.state(&id).await["status"], "refused");
    let page = b.get(&format!("/check/s/{id}")).await;
    assert_eq!(verdict(&page), "unknown", "amber, not red: the credential may well be valid");
    assert!(page.body.contains("IMPOSSIBILE DETERMINARE") && page.body.contains("elenco di stato non raggiungibile"), "{}", page.body);
    assert!(page.body.contains("status unavailable"), "the technical reason in the audit panel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn age_check_shows_only_the_answer() {
    let fed = WebFed::new().await;
    let mut b = Browser::new(&fed);
    b.login_as(1).await;
    let wallet = Wallet::new();
    let (y, m, d) = verifier::web::view::date_of(wallet_core::time::UnixTime::now().secs());
    for (birth, look, words) in [("1980-01-10".to_owned(), "verified", "MAGGIORENNE"), (format!("{}-{m:02}-{d:02}", y - 17), "refused", "NON MAGGIORENNE")] {
        let id = b.start("age_over_18").await;
        let page = b.get(&format!("/check/s/{id}")).await;
        let req = wallet.fetch(&fed, &page.attr_after("class=\"qr\"", "data-wallet-url")).await;
        let (s, body) = wallet.answer(&fed, &req, Answer::Present("pid", fed.issuer.pid(&wallet.holder, &birth), vec!["birthdate"])).await;
        assert_eq!(s, 200, "{body}");
        let page = b.get(&format!("/check/s/{id}")).await;
        assert_eq!(verdict(&page), look, "{birth}");
        assert!(page.body.contains(&format!("<h1>{words}</h1>")), "{birth}");
        assert!(!page.body.contains(&birth), "the birth date is not shown, only the answer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_rate_limited() {
    let fed = WebFed::with(|c| c.web.login_rate_limit = service_kit::RateLimit::new(1, 3)).await;
    let mut b = Browser::new(&fed);
    for _ in 0..3 {
        assert_eq!(b.login("nobody", "x").await.status, 200);
    }
    assert_eq!(b.login(OPERATORS[0].0, OPERATORS[0].1).await.status, 429, "even the right password waits");
}

/// The expert request (design/in-person.md item 5: presets, plus a raw query for experts): a
/// DCQL query typed on the page. One that breaks a rule of OpenID4VP 1.0 §6 shows the home
/// again (400) with why and the text as typed; a valid one runs as the presets do, and the
/// verdict shows what it asked and nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expert_request_runs_a_raw_dcql_query() {
    let fed = WebFed::new().await;
    let mut b = Browser::new(&fed);
    b.login_as(0).await;
    let home = b.get("/check").await;
    assert!(home.body.contains("Richiesta per esperti (DCQL)") && home.body.contains("name=\"dcql_query\""), "{}", home.body);
    let csrf = home.csrf();

    let bad = r#"{"credentials": [{"id": "mdl", "format": "dc+sd-jwt", "claims": [{"path": []}]}]}"#;
    let r = b.post("/check/start", &[("csrf", &csrf), ("dcql_query", bad)]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Query DCQL non valida"), "{}", r.body);
    assert!(r.body.contains("<details class=\"expert\" open>"), "opened again");
    assert!(r.body.contains("&quot;path&quot;: []"), "the text as typed, escaped: {}", r.body);
    for empty in ["", "not json"] {
        let r = b.post("/check/start", &[("csrf", &csrf), ("dcql_query", empty)]).await;
        assert_eq!(r.status, 400, "{empty:?}");
    }
    assert_eq!(b.post("/check/start", &[("dcql_query", bad)]).await.status, 403, "the CSRF token still guards it");

    let query = r#"{"credentials": [{"id": "licence", "format": "dc+sd-jwt", "meta": {"vct_values": ["urn:eudi:mDL:it:1"]}, "claims": [{"path": ["document_number"]}]}]}"#;
    let r = b.post("/check/start", &[("csrf", &csrf), ("dcql_query", query)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let id = r.location().strip_prefix("/check/s/").unwrap().to_owned();
    let page = b.get(&format!("/check/s/{id}")).await;
    assert!(page.body.contains("Richiesta personalizzata"), "{}", page.body);
    let wallet = Wallet::new();
    let req = wallet.fetch(&fed, &page.attr_after("class=\"qr\"", "data-wallet-url")).await;
    assert_eq!(req.dcql_query.credentials[0].id, "licence", "the query as typed reached the wallet");
    let (s, body) = wallet.answer(&fed, &req, Answer::Present("licence", fed.issuer.mdl(&wallet.holder), vec!["document_number"])).await;
    assert_eq!(s, 200, "{body}");
    let page = b.get(&format!("/check/s/{id}")).await;
    assert_eq!(verdict(&page), "verified");
    assert!(page.body.contains("U1A23B456C"));
    assert!(!page.body.contains("Bianchi"), "nothing the query did not ask");
    let home = b.get("/check").await;
    assert!(home.body.contains("Richiesta personalizzata"), "listed among the operator's checks");
}
