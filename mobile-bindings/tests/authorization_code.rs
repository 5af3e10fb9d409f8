//! The authorization code flow through the bindings' API, over real HTTP on loopback
//! (`support/federation.rs`: trust anchor, test OpenID Provider, wallet provider, PID
//! provider, Motorizzazione, an issuer outside the federation): the wallet is activated
//! (the test plays the browser), then asks the PID provider for the PID (the `BrowserStep`
//! posts the OpenID Provider's login form), then the Motorizzazione for the driving licence
//! (the PID presented to it); a declined PID presentation; an untrusted issuer refused
//! before anything is sent; calls out of order refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "support/federation.rs"]
mod federation;

use std::sync::{Arc, Mutex};

use tessera_mobile::{
    AuthorizationOutcome, BrowserError, BrowserStep, ClaimValue, HttpClient, HttpError, HttpHeader, HttpRequest, HttpResponse, IssuanceNextStep,
    IssuanceOutcome, JwkRecord, TransactionKind, TrustAnchor, Wallet, WalletConfig, WalletError,
};

/// The app's HTTP client, on reqwest (no redirects followed), remembering the URLs asked.
struct Reqwest {
    rt: tokio::runtime::Handle,
    client: reqwest::Client,
    urls: Mutex<Vec<String>>,
}

impl Reqwest {
    fn new() -> Arc<Self> {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Arc::new(Self { rt: tokio::runtime::Handle::current(), client, urls: Mutex::new(Vec::new()) })
    }

    fn get(&self, url: &str, form: Option<Vec<(&str, String)>>) -> (u16, Option<String>, String) {
        self.rt.block_on(async {
            let req = match form {
                Some(f) => self.client.post(url).form(&f),
                None => self.client.get(url),
            };
            let r = req.send().await.unwrap();
            let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
            (r.status().as_u16(), location, r.text().await.unwrap())
        })
    }
}

impl HttpClient for Reqwest {
    fn send(&self, r: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.urls.lock().unwrap().push(r.url.clone());
        let fail = |e: reqwest::Error| HttpError::Failed { reason: e.to_string() };
        self.rt.block_on(async {
            let mut b = self.client.request(reqwest::Method::from_bytes(r.method.as_bytes()).unwrap(), &r.url).body(r.body);
            for h in r.headers {
                b = b.header(h.name, h.value);
            }
            let resp = b.send().await.map_err(fail)?;
            let status = resp.status().as_u16();
            let headers = resp.headers().iter().map(|(n, v)| HttpHeader { name: n.to_string(), value: v.to_str().unwrap_or_default().to_owned() }).collect();
            Ok(HttpResponse { status, headers, body: resp.bytes().await.map_err(fail)?.to_vec() })
        })
    }
}

fn between<'a>(page: &'a str, before: &str, after: &str) -> &'a str {
    page.split_once(before).unwrap().1.split_once(after).unwrap().0
}

/// The phone's browser, played over HTTP: follows redirects, fills the OpenID Provider's
/// login form (the identity and level given, else those preselected), stops at the wallet's
/// `redirect_uri`.
struct FormBrowser {
    http: Arc<Reqwest>,
    fiscal_number: Option<String>,
    acr: Option<String>,
    opened: Mutex<Vec<String>>,
}

impl FormBrowser {
    fn fill(&self, page: &str) -> (String, Vec<(&'static str, String)>) {
        let action = between(page, "<form method=\"post\" action=\"", "\"").replace("&amp;", "&");
        let session = between(page, "name=\"session\" value=\"", "\"").to_owned();
        let fiscal = self.fiscal_number.clone().unwrap_or_else(|| between(page, "name=\"fiscal_number\" value=\"", "\"").to_owned());
        let acr = self.acr.clone().unwrap_or_else(|| {
            let (before, _) = page.split_once("\" selected>").unwrap();
            before.rsplit_once("value=\"").unwrap().1.to_owned()
        });
        (action, vec![("session", session), ("fiscal_number", fiscal), ("acr", acr)])
    }
}

impl BrowserStep for FormBrowser {
    fn open(&self, url: String, redirect_uri: String) -> Result<String, BrowserError> {
        self.opened.lock().unwrap().push(url.clone());
        let mut url = url;
        for _ in 0..10 {
            if url.starts_with(&redirect_uri) {
                return Ok(url);
            }
            let (status, location, page) = self.http.get(&url, None);
            url = match (status, location) {
                (300..=399, Some(l)) => l,
                (200, _) => {
                    let (action, form) = self.fill(&page);
                    let (status, location, body) = self.http.get(&action, Some(form));
                    location.ok_or_else(|| BrowserError::Failed { reason: format!("login: HTTP {status}: {body}") })?
                }
                (s, _) => return Err(BrowserError::Failed { reason: format!("{url}: HTTP {s}") }),
            };
        }
        Err(BrowserError::Failed { reason: "too many redirects".into() })
    }
}

/// A browser the citizen closes.
struct ClosedBrowser;

impl BrowserStep for ClosedBrowser {
    fn open(&self, _url: String, _redirect_uri: String) -> Result<String, BrowserError> {
        Err(BrowserError::Cancelled)
    }
}

struct Setup {
    fed: federation::Federation,
    _dir: tempfile::TempDir,
    http: Arc<Reqwest>,
    wallet: Arc<Wallet>,
}

impl Setup {
    fn s(&self, k: &str) -> String {
        self.fed.info[k].as_str().unwrap().to_owned()
    }

    fn browser(&self, fiscal_number: String) -> Arc<FormBrowser> {
        Arc::new(FormBrowser { http: self.http.clone(), fiscal_number: Some(fiscal_number), acr: Some(self.s("pid_acr")), opened: Mutex::new(Vec::new()) })
    }
}

/// The federation, and a wallet activated by the OpenID Provider's first test identity.
async fn setup() -> Setup {
    let fed = federation::start().await;
    let ta = &fed.info["trust_anchor"];
    let keys: Vec<JwkRecord> = ta["jwks"]["keys"].as_array().unwrap().iter().map(|k| serde_json::from_value::<wallet_core::jose::Jwk>(k.clone()).map(|j| JwkRecord::from(&j)).unwrap()).collect();
    let anchor = TrustAnchor { entity_id: ta["entity_id"].as_str().unwrap().to_owned(), keys };
    let dir = tempfile::tempdir().unwrap();
    let http = Reqwest::new();
    let config = WalletConfig {
        data_dir: dir.path().to_string_lossy().into_owned(),
        trust_anchors: vec![anchor],
        storage_key: Some(vec![9; 32]),
        locale: Some("it".into()),
        pinned_issuers: Vec::new(),
        wallet_provider: Some(fed.info["wallet_provider"].as_str().unwrap().to_owned()),
        issuance_redirect_uri: Some(fed.info["issuance_redirect_uri"].as_str().unwrap().to_owned()),
        // The issuers must hold the federation's issuer mark (IT-Wallet 1.4 §1.3).
        required_issuer_marks: vec![fed.info["issuer_mark"].as_str().unwrap().to_owned()],
    };
    let client: Arc<dyn HttpClient> = http.clone();
    let wallet = Wallet::open(config, tessera_mobile::software_key_store().unwrap(), Some(client)).unwrap();
    let s = Setup { fed, _dir: dir, http, wallet };
    // Activation: the login page's preselected identity, at its preselected level.
    let login = s.wallet.start_activation(s.s("redirect_uri")).unwrap();
    let browser = FormBrowser { http: s.http.clone(), fiscal_number: None, acr: None, opened: Mutex::new(Vec::new()) };
    let back = s.s("redirect_uri");
    let redirect = tokio::task::spawn_blocking(move || browser.open(login, back).unwrap()).await.unwrap();
    s.wallet.clone().finish_activation(redirect).await.unwrap();
    s
}

fn text(c: &tessera_mobile::Credential, name: &str) -> Option<String> {
    c.claims.iter().find(|x| matches!(x.path.elements.as_slice(), [tessera_mobile::PathElement::Key { name: n }] if n == name)).and_then(|x| match &x.value {
        ClaimValue::Text { value } => Some(value.clone()),
        _ => None,
    })
}

fn issued(out: AuthorizationOutcome) -> tessera_mobile::Credential {
    match out {
        AuthorizationOutcome::Completed { outcome: IssuanceOutcome::Issued { mut credentials } } => {
            assert_eq!(credentials.len(), 1);
            credentials.pop().unwrap()
        }
        other => panic!("not issued: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pid_by_login_then_the_licence_by_presenting_it_a_decline_and_an_untrusted_issuer() {
    let s = setup().await;
    let (pid_issuer, mdl_issuer) = (s.s("pid_issuer"), s.s("issuer"));

    // The PID: the PID provider sends the browser to the OpenID Provider (CIE level 3).
    let session = s.wallet.clone().start_issuance_from_issuer(pid_issuer.clone(), vec![s.s("pid_configuration")]).await.unwrap();
    let c = session.consent();
    assert_eq!((c.issuer_id.as_str(), c.issuer_name.as_deref()), (pid_issuer.as_str(), Some("PID Provider (loopback)")));
    // Trusted, the required issuer mark shown checked valid (IT-Wallet 1.4 §1.3).
    let tessera_mobile::IssuerTrust::Trusted { trust_marks, .. } = &c.trust else { panic!("{:?}", c.trust) };
    let required = s.s("issuer_mark");
    assert!(
        trust_marks.iter().any(|m| m.trust_mark_type == required && matches!(m.status, tessera_mobile::TrustMarkStatus::Valid { .. })),
        "{trust_marks:?}"
    );
    assert_eq!(session.next_step(), IssuanceNextStep::Authorize);
    // Out of order: accept on the authorization code flow, present_pid before it is asked.
    let e = session.clone().accept(None).await.unwrap_err();
    assert!(matches!(&e, WalletError::IssuanceOutOfOrder { call, waiting_for } if call == "accept" && waiting_for == "authorize"), "{e}");
    let e = session.clone().present_pid(Vec::new()).await.unwrap_err();
    assert_eq!(e.code(), "issuance_out_of_order");
    // The citizen closes the browser: typed, and the session can authorize again.
    assert_eq!(session.clone().authorize(Arc::new(ClosedBrowser)).await.unwrap_err(), WalletError::UserCancelled);
    assert_eq!(session.next_step(), IssuanceNextStep::Authorize);
    let browser = s.browser(s.s("pid_fiscal_number"));
    let pid = issued(session.clone().authorize(browser.clone()).await.unwrap());
    assert!(browser.opened.lock().unwrap().iter().all(|u| u.starts_with(&s.s("op"))), "the browser opened the OpenID Provider");
    assert_eq!(pid.vct, "urn:eudi:pid:it:1");
    assert_eq!((text(&pid, "given_name").as_deref(), text(&pid, "family_name").as_deref()), (Some("Mario"), Some("Rossi")));
    assert_eq!(pid.issuer.name.as_deref(), Some("PID Provider (loopback)"));
    assert_eq!(session.next_step(), IssuanceNextStep::Done);
    assert_eq!(session.clone().authorize(browser.clone()).await.unwrap_err(), WalletError::IssuanceClosed);

    // The driving licence: the Motorizzazione asks for the PID (no browser).
    let session = s.wallet.clone().start_issuance_from_issuer(mdl_issuer.clone(), vec![s.s("mdl_configuration")]).await.unwrap();
    let untouched = s.browser(String::new());
    let AuthorizationOutcome::PresentPid { consent, default_choice } = session.clone().authorize(untouched.clone()).await.unwrap() else { panic!("no PID asked") };
    assert!(untouched.opened.lock().unwrap().is_empty(), "no browser for a PID presentation");
    assert_eq!(consent.relying_party.entity_id.as_deref(), Some(mdl_issuer.as_str()));
    assert!(consent.satisfiable);
    assert_eq!(consent.requests[0].candidates[0].credential_id, pid.id);
    assert_eq!(default_choice[0].credential_id, pid.id);
    assert!(matches!(session.next_step(), IssuanceNextStep::PresentPid { consent: ref c, .. } if *c == consent));
    // Out of order while the PID is asked; a choice that does not fit leaves the step open.
    assert_eq!(session.clone().authorize(untouched.clone()).await.unwrap_err().code(), "issuance_out_of_order");
    assert_eq!(session.clone().accept(None).await.unwrap_err().code(), "issuance_out_of_order");
    let bad = vec![tessera_mobile::ConsentSelection { query_id: "nope".into(), credential_id: pid.id.clone() }];
    assert_eq!(session.clone().present_pid(bad).await.unwrap_err().code(), "invalid_choice");
    assert!(matches!(session.next_step(), IssuanceNextStep::PresentPid { .. }));
    let IssuanceOutcome::Issued { credentials } = session.clone().present_pid(default_choice).await.unwrap() else { panic!("licence not issued") };
    assert_eq!(credentials[0].vct, "urn:eudi:mDL:it:1");
    assert_eq!(text(&credentials[0], "document_number").as_deref(), Some("RM5012345A"));
    assert_eq!(session.next_step(), IssuanceNextStep::Done);
    let log = s.wallet.transactions().unwrap();
    let kinds: Vec<(TransactionKind, &str)> = log.iter().rev().take(2).map(|t| (t.kind, t.counterparty.as_str())).collect();
    assert_eq!(kinds, [(TransactionKind::Issuance, mdl_issuer.as_str()), (TransactionKind::Presentation, mdl_issuer.as_str())]);

    // Declined, from the issuer's offer with an authorization_code grant: access_denied to
    // the issuer, nothing issued, the session over.
    let before = s.wallet.credentials().unwrap().len();
    let offer: serde_json::Value = reqwest::Client::new()
        .post(format!("{mdl_issuer}/admin/offers"))
        .bearer_auth(s.s("issuer_admin_token"))
        .json(&serde_json::json!({"citizen": "RSSMRA80A10H501Z", "grant": "authorization_code"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = s.wallet.clone().start_issuance(offer["offer_url"].as_str().unwrap().to_owned()).await.unwrap();
    assert_eq!(session.consent().tx_code, None);
    assert_eq!(session.next_step(), IssuanceNextStep::Authorize);
    assert!(matches!(session.clone().authorize(untouched.clone()).await.unwrap(), AuthorizationOutcome::PresentPid { .. }));
    session.clone().decline_pid().await.unwrap();
    assert_eq!(session.next_step(), IssuanceNextStep::Done);
    assert_eq!(session.clone().decline_pid().await.unwrap_err(), WalletError::IssuanceClosed);
    assert_eq!(s.wallet.credentials().unwrap().len(), before);
    assert_eq!(s.wallet.transactions().unwrap().last().unwrap().kind, TransactionKind::Declined);

    // Outside the federation: refused before anything is sent to it.
    let outsider = s.s("untrusted_issuer");
    let session = s.wallet.clone().start_issuance_from_issuer(outsider.clone(), vec![s.s("mdl_configuration")]).await.unwrap();
    assert!(matches!(session.next_step(), IssuanceNextStep::Refused { .. }));
    let e = session.clone().authorize(untouched.clone()).await.unwrap_err();
    assert!(matches!(&e, WalletError::UntrustedIssuer { issuer, .. } if *issuer == outsider), "{e}");
    let asked: Vec<String> = s.http.urls.lock().unwrap().iter().filter(|u| u.starts_with(&outsider)).cloned().collect();
    assert!(asked.iter().all(|u| u.contains("/.well-known/")), "only its metadata and configuration were read: {asked:?}");
}

/// The app's status refresh (`refresh_statuses`): the PID reads VALID; the PID provider
/// revokes it and the next refresh says INVALID, changed; then the provider withdraws its
/// credential key (its signing certificates on its CRL) and the refresh reports the issuer's
/// certificate revoked (the anchor's root taken from the anchor, IT-Wallet 1.4 §1.2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_are_refreshed_revocations_and_a_withdrawn_issuer_key_shown() {
    use tessera_mobile::status::CredentialStatus;
    let s = setup().await;
    let pid_issuer = s.s("pid_issuer");
    let session = s.wallet.clone().start_issuance_from_issuer(pid_issuer.clone(), vec![s.s("pid_configuration")]).await.unwrap();
    let pid = issued(session.clone().authorize(s.browser(s.s("pid_fiscal_number"))).await.unwrap());

    let report = s.wallet.clone().refresh_statuses().await.unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!((report[0].credential_id.as_str(), &report[0].status, report[0].changed), (pid.id.as_str(), &CredentialStatus::Listed { value: "VALID".into() }, true));

    let http = reqwest::Client::new();
    let admin = |path: &str, body: serde_json::Value| http.post(format!("{pid_issuer}{path}")).bearer_auth(s.s("issuer_admin_token")).json(&body).send();
    let r = admin("/admin/status", serde_json::json!({"action": "revoke", "citizen": s.s("pid_fiscal_number").trim_start_matches("TINIT-")})).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let report = s.wallet.clone().refresh_statuses().await.unwrap();
    assert_eq!((&report[0].status, report[0].changed), (&CredentialStatus::Listed { value: "INVALID".into() }, true));

    let md: serde_json::Value = http.get(format!("{pid_issuer}/.well-known/openid-credential-issuer")).send().await.unwrap().json().await.unwrap();
    let kid = md["jwks"]["keys"][0]["kid"].as_str().unwrap().to_owned();
    let r = admin("/admin/signing-certificates/revoke", serde_json::json!({"kid": kid})).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let report = s.wallet.clone().refresh_statuses().await.unwrap();
    assert!(matches!(&report[0].status, CredentialStatus::IssuerCertificateRevoked { reason } if reason.contains("revoked")), "{:?}", report[0].status);
}
