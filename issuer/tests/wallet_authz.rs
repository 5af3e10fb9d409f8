//! The wallet's authorization code flow (`wallet_core::wallet::issuance::authorization`,
//! IT-Wallet 1.4 §3.3) against the real issuer on loopback, through a reqwest
//! [`HttpClient`] that does not follow redirects:
//! * the PID, the citizen logging in at the spid-cie-oidc test OpenID Provider in a
//!   [`BrowserStep`] that drives its HTML login page over real HTTP;
//! * the mDL, the citizen authenticated by presenting the PID (OpenID4VP, the wallet's
//!   [`wallet_core::wallet::WalletPresentation`]) to the Motorizzazione;
//! * the refusals: an issuer outside the federation (no PAR sent), a tampered `state` or
//!   `iss` on the redirect (no token request sent), an error redirect surfaced with its code,
//!   the citizen declining the PID presentation (nothing issued, the decline logged).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Mutex};

use common::{Fed, L3, MARIO, MDL, PID, STRANGER, Setup};
use wallet_core::oid4vci::Profile;
use wallet_core::attestation::key_attestation::SoftwareAttester;
use wallet_core::attestation::{GeneralInfo, KeyStorageInfo, ProviderSigning, StorageType, WUA_MIN_LIFETIME, WuaBuilder, WuaWalletInfo};
use wallet_core::jose::SoftwareSigner;
use wallet_core::keystore::{KeyStore, KeyStoreSigner, KeyTag, SoftwareKeyStore};
use wallet_core::oid4vci::{ErrorCode, ParError};
use wallet_core::status::StatusReference;
use wallet_core::store::{CredentialStore, DataKey, NewCredential, StaticKeyProvider, TransactionKind, TransactionOutcome};
use wallet_core::wallet::presentation::PresentationStep;
use wallet_core::time::UnixTime;
use wallet_core::wallet::issuance::{AttestedKeys, ClientAuth, IssuanceKeys, IssuerTrust, WalletAttestationKey};
use wallet_core::wallet::{
    AuthorizationStep, BrowserAuthorization, BrowserError, BrowserStep, HttpClient, HttpError, HttpMethod, HttpRequest, HttpResponse, IssuanceError,
    IssuanceOutcome, PresentationAuthorization, StoredHolderKeys, WalletError, WalletIssuance,
};

/// The wallet's redirect_uri.
const REDIRECT: &str = "https://wallet.example.org/cb";
const PID_VCT: &str = "urn:eudi:pid:it:1";
const MDL_VCT: &str = "urn:eudi:mDL:it:1";

/// The wallet's [`HttpClient`]: reqwest (no redirects, no cookies) driven from the flow's
/// blocking thread on the test's runtime; it records what it was asked for.
struct Client {
    http: reqwest::Client,
    rt: tokio::runtime::Handle,
    seen: Mutex<Vec<String>>,
}

impl Client {
    fn new() -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, rt: tokio::runtime::Handle::current(), seen: Mutex::new(Vec::new()) }
    }

    /// Whether a request to a URL whose path is `path` was sent.
    fn saw(&self, path: &str) -> bool {
        self.seen.lock().unwrap().iter().any(|u| u.split('?').next().unwrap_or_default().ends_with(path))
    }

    /// How many requests went to exactly `url` (its query aside).
    fn count(&self, url: &str) -> usize {
        self.seen.lock().unwrap().iter().filter(|u| u.split('?').next().unwrap_or_default() == url).count()
    }
}

impl HttpClient for Client {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.seen.lock().unwrap().push(request.url.clone());
        let method = match request.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Patch => reqwest::Method::PATCH,
        };
        let mut b = self.http.request(method, &request.url);
        for (n, v) in &request.headers {
            b = b.header(n.as_str(), v.as_str());
        }
        self.rt.block_on(async move {
            let r = b.body(request.body).send().await.map_err(|e| HttpError(e.to_string()))?;
            let status = r.status().as_u16();
            let headers = r.headers().iter().map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
            let body = r.bytes().await.map_err(|e| HttpError(e.to_string()))?.to_vec();
            Ok(HttpResponse { status, headers, body })
        })
    }
}

/// The phone's browser at the test OpenID Provider: follows redirects, and on the login page
/// submits its form as the citizen `cf` at `acr` (the page's hidden fields kept), until it
/// reaches the wallet's `redirect_uri`.
struct OpBrowser {
    client: Arc<Client>,
    cf: String,
    acr: String,
}

/// `location` resolved against `current`.
fn resolve(current: &str, location: &str) -> String {
    url::Url::parse(current).unwrap().join(location).unwrap().to_string()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The value of attribute `name` in the text of one tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let rest = tag.get(start..)?;
    Some(unescape(rest.get(..rest.find('"')?)?))
}

/// The first form's action and hidden fields.
fn login_form(html: &str) -> (String, Vec<(String, String)>) {
    let form = html.split("<form").nth(1).expect("a login form");
    let action = attribute(form.split('>').next().unwrap(), "action").expect("a form action");
    let hidden = form
        .split("<input")
        .skip(1)
        .map(|t| t.split('>').next().unwrap_or_default())
        .filter(|t| attribute(t, "type").as_deref() == Some("hidden"))
        .filter_map(|t| Some((attribute(t, "name")?, attribute(t, "value").unwrap_or_default())))
        .collect();
    (action, hidden)
}

impl BrowserStep for OpBrowser {
    fn open(&self, url: &str, redirect_uri: &str) -> Result<String, BrowserError> {
        let fail = |e: String| BrowserError(e);
        let mut url = url.to_owned();
        for _ in 0..10 {
            if url.starts_with(redirect_uri) {
                return Ok(url);
            }
            let r = self.client.send(HttpRequest::get(url.clone()).header("Accept", "text/html")).map_err(|e| fail(e.0))?;
            match r.status {
                301 | 302 | 303 | 307 | 308 => url = resolve(&url, r.header("Location").ok_or_else(|| fail("no Location".into()))?),
                200 => {
                    let (action, mut fields) = login_form(&String::from_utf8_lossy(&r.body));
                    fields.push(("fiscal_number".into(), format!("TINIT-{}", self.cf)));
                    fields.push(("acr".into(), self.acr.clone()));
                    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
                    let action = resolve(&url, &action);
                    let post = HttpRequest { method: HttpMethod::Post, url: action.clone(), headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())], body: body.into_bytes() };
                    let r = self.client.send(post).map_err(|e| fail(e.0))?;
                    let loc = r.header("Location").ok_or_else(|| fail(format!("{action}: HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body))))?;
                    url = resolve(&action, loc);
                }
                s => return Err(fail(format!("{url}: HTTP {s}: {}", String::from_utf8_lossy(&r.body)))),
            }
        }
        Err(fail("too many redirects".into()))
    }
}

/// The wallet's keys: a credential key in a software key store attested by a WUA of the
/// federation's wallet provider, and a WAA (from the same provider) with its key.
struct Keys {
    store: Arc<dyn KeyStore>,
    tag: KeyTag,
    wua: String,
    waa: WalletAttestationKey,
}

impl Keys {
    fn new(fed: &Fed) -> Self {
        let store: Arc<dyn KeyStore> = Arc::new(SoftwareKeyStore::in_memory(SoftwareAttester::development().unwrap()).unwrap());
        let tag = KeyTag::generate().unwrap();
        let jwk = store.generate_key(&tag).unwrap();
        let info = GeneralInfo {
            wallet_provider_name: "Tessera".into(),
            wallet_solution_id: "tessera-wallet".into(),
            wallet_solution_version: "0.1.0".into(),
            wallet_solution_certification_information: String::new(),
        };
        let storage = KeyStorageInfo { storage_type: StorageType::LocalNative, keys_exportable: false, storage_certification_information: String::new() };
        let status = StatusReference { idx: 7, uri: format!("{}/status-list", fed.wp_id) };
        let wua = WuaBuilder::new(fed.wp_id.as_str(), vec![jwk], status, WuaWalletInfo { general_info: info, key_storage_info: storage }, UnixTime::now(), WUA_MIN_LIFETIME)
            .sign(&ProviderSigning::new(&fed.wp_key).with_trust_chain(fed.wp_chain.clone()))
            .unwrap();
        let key = SoftwareSigner::generate().unwrap();
        let waa = fed.waa(&key, UnixTime::now(), 3600);
        Self { store, tag, wua, waa: WalletAttestationKey { waa, key: Arc::new(key) } }
    }
}

impl IssuanceKeys for Keys {
    fn attested_keys(&self, _max: usize) -> Result<AttestedKeys, WalletError> {
        Ok(AttestedKeys { wua: self.wua.clone(), keys: vec![KeyStoreSigner::new(self.store.clone(), self.tag.clone())?] })
    }

    fn client_attestation(&self, audience: &str) -> Result<Option<ClientAuth>, WalletError> {
        self.waa.client_auth(audience, UnixTime::now()).map(Some)
    }

    fn wallet_attestation_key(&self) -> Result<Option<WalletAttestationKey>, WalletError> {
        Ok(Some(self.waa.clone()))
    }
}

struct Phone {
    client: Arc<Client>,
    store: Arc<CredentialStore>,
    keys: Arc<Keys>,
    flow: WalletIssuance,
    _dir: tempfile::TempDir,
}

impl Phone {
    /// A wallet trusting `fed`'s anchor, with keys from `keys_from`'s wallet provider.
    fn new(fed: &Fed) -> Self {
        Self::trusting(fed, fed)
    }

    fn trusting(anchor_of: &Fed, keys_from: &Fed) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(CredentialStore::open(dir.path().join("wallet.db"), &StaticKeyProvider(DataKey::generate().unwrap())).unwrap());
        let client = Arc::new(Client::new());
        let keys = Arc::new(Keys::new(keys_from));
        let flow = WalletIssuance::new(client.clone(), keys.clone(), store.clone(), vec![anchor_of.anchor.clone()]).with_redirect_uri(REDIRECT);
        Self { client, store, keys, flow, _dir: dir }
    }

    fn browser(&self, cf: &str) -> OpBrowser {
        OpBrowser { client: self.client.clone(), cf: cf.into(), acr: L3.into() }
    }

    /// Starts the wallet-initiated issuance of `configuration` at `issuer` and authorizes it.
    fn authorize(&self, issuer: &str, configuration: &str) -> Result<AuthorizationStep, IssuanceError> {
        let session = self.flow.start_from_issuer(issuer, &[configuration])?;
        self.flow.authorize(&session)
    }

    fn browser_step(&self, issuer: &str, configuration: &str) -> Box<BrowserAuthorization> {
        match self.authorize(issuer, configuration).unwrap() {
            AuthorizationStep::Browser(b) => b,
            other => panic!("a browser step, got {other:?}"),
        }
    }

    fn presentation_step(&self, issuer: &str, configuration: &str) -> Box<PresentationAuthorization> {
        match self.authorize(issuer, configuration).unwrap() {
            AuthorizationStep::Presentation(p) => p,
            other => panic!("a presentation step, got {other:?}"),
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// Wallet-initiated PID issuance: PAR, `/authorize` → the OP's login page, opened in the
/// browser step; the citizen logs in at CIE level 3; the redirect back is checked, the code
/// redeemed with PKCE and DPoP, the PID verified and stored.
///
/// In both profiles (issue 12): the 1.3 deployment emits what 1.3 wallets read (versions note
/// §5) and the same flow gets the PID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pid_is_issued_after_the_spid_cie_login_in_the_browser() {
    for profile in [Profile::ItWallet14, Profile::ItWallet13] {
        pid_after_spid_cie_login(profile).await;
    }
}

async fn pid_after_spid_cie_login(profile: Profile) {
    let fed = Fed::build(Setup::SpidCie, |c| c.profile = profile).await;
    profile_emits(&fed, profile).await;
    let phone = Arc::new(Phone::new(&fed));
    let issuer = fed.issuer_id.to_string();
    let op = fed.op.clone().unwrap().to_string();
    let p = phone.clone();
    let (url, outcome) = blocking(move || {
        let session = p.flow.start_from_issuer(&issuer, &[PID]).unwrap();
        assert!(matches!(session.consent.trust, IssuerTrust::Trusted { .. }), "{:?}", session.consent);
        assert_eq!(session.consent.credentials[0].vct.as_deref(), Some(PID_VCT));
        let AuthorizationStep::Browser(step) = p.flow.authorize(&session).unwrap() else { panic!("browser step") };
        assert_eq!(step.redirect_uri(), REDIRECT);
        // The split flow: the app gets the URL now and completes with the redirect later.
        let redirect = p.browser(MARIO).open(step.url(), step.redirect_uri()).unwrap();
        assert!(step.is_redirect(&redirect));
        (step.url().to_owned(), p.flow.complete(&step, &redirect))
    })
    .await;
    assert!(url.starts_with(&op), "the browser opens the OP: {url}");
    let IssuanceOutcome::Issued(ids) = outcome.unwrap() else { panic!("immediate") };
    assert_eq!(ids.len(), 1);
    let c = phone.store.get(&ids[0]).unwrap();
    assert_eq!(c.summary.vct, PID_VCT);
    assert_eq!(c.summary.issuer, fed.issuer_id.to_string());
    for path in ["/par", "/authorize", "/authorize/callback", "/token", "/nonce", "/credential"] {
        assert!(phone.client.saw(path), "{path} not sent");
    }
    let log = phone.store.transactions().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].entry.kind, TransactionKind::Issuance);
}

/// The wallet gets a PID from the federation's PID issuer (pre-authorized offer, its own
/// flow: the PID bound to its attested key); the Motorizzazione's `/authorize` asks for it
/// over OpenID4VP: the wallet shows who asks and what, presents it (KB-JWT by the key the
/// PID's metadata names), and the code comes back in the `response_uri`'s `redirect_uri`:
/// the mDL is issued.
///
/// In both profiles (issue 12).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mdl_is_issued_after_presenting_the_pid() {
    for profile in [Profile::ItWallet14, Profile::ItWallet13] {
        mdl_after_presenting_the_pid(profile).await;
    }
}

/// What a deployment emits differently by profile (versions note §5): the signed metadata
/// (`Accept: application/jwt`) in 1.4 only, a 1.3 deployment answering JSON; a pre-authorized
/// offer refused in 1.3; an `authorization_code` offer with `scope` in both.
async fn profile_emits(fed: &Fed, profile: Profile) {
    let r = fed.http.get(fed.url("/.well-known/openid-credential-issuer")).header("accept", "application/jwt").send().await.unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(ct, if profile == Profile::ItWallet14 { "application/jwt" } else { "application/json" }, "{profile:?}");
    let offer_req = |body: serde_json::Value| Fed::json(fed.http.post(fed.url("/admin/offers")).bearer_auth(common::TOKEN).json(&body));
    let (s, v) = offer_req(serde_json::json!({"citizen": MARIO})).await;
    assert_eq!(s, if profile == Profile::ItWallet14 { 201 } else { 400 }, "pre-authorized in {profile:?}: {v}");
    let (s, v) = offer_req(serde_json::json!({"grant": "authorization_code", "citizen": MARIO})).await;
    assert_eq!(s, 201, "{v}");
    let url = url::Url::parse(v["offer_url"].as_str().unwrap()).unwrap();
    let offer: serde_json::Value = serde_json::from_str(&url.query_pairs().find(|(k, _)| k == "credential_offer").unwrap().1).unwrap();
    assert!(offer["grants"]["authorization_code"]["scope"].is_string(), "{offer}");
    // The same by reference: the URI serves that offer (its own `issuer_state`).
    let (s, v) = offer_req(serde_json::json!({"grant": "authorization_code", "citizen": MARIO, "by_reference": true})).await;
    assert_eq!(s, 201, "{v}");
    let url = url::Url::parse(v["offer_url"].as_str().unwrap()).unwrap();
    assert_eq!(url.scheme(), "openid-credential-offer");
    let uri = url.query_pairs().find(|(k, _)| k == "credential_offer_uri").unwrap().1.into_owned();
    let (s, by_ref) = Fed::json(fed.http.get(&uri)).await;
    assert_eq!(s, 200, "{by_ref}");
    assert_eq!(by_ref["grants"]["authorization_code"]["scope"], offer["grants"]["authorization_code"]["scope"]);
    assert!(uri.ends_with(by_ref["grants"]["authorization_code"]["issuer_state"].as_str().unwrap()), "{uri} {by_ref}");
    // The authorization server metadata lists the pre-authorized grant in 1.4 only.
    let (_, md) = Fed::json(fed.http.get(fed.url("/.well-known/oauth-authorization-server"))).await;
    let pre = md["grant_types_supported"].as_array().unwrap().iter().any(|g| g == "urn:ietf:params:oauth:grant-type:pre-authorized_code");
    assert_eq!(pre, profile == Profile::ItWallet14, "{profile:?}: {md}");
    assert_eq!(md["pre-authorized_grant_anonymous_access_supported"].as_bool(), pre.then_some(true), "{profile:?}: {md}");
}

async fn mdl_after_presenting_the_pid(profile: Profile) {
    let fed = Fed::build(Setup::PidOverVp, |c| c.profile = profile).await;
    profile_emits(&fed, profile).await;
    let phone = Arc::new(Phone::new(&fed));
    let pid_id = pid_from_its_provider(&fed, &phone).await;
    assert_eq!(phone.store.get(&pid_id).unwrap().summary.vct, PID_VCT);
    let p = phone.clone();
    let issuer = fed.issuer_id.to_string();
    let outcome = blocking(move || {
        let step = p.presentation_step(&issuer, MDL);
        let consent = step.consent();
        assert_eq!(consent.rp.entity_id.as_deref(), Some(issuer.as_str()), "the issuer asks");
        assert!(consent.satisfiable);
        let q = &consent.queries[0];
        assert!(q.types.iter().any(|t| t == PID_VCT), "{:?}", q.types);
        assert_eq!(q.candidates[0].credential_id, pid_id);
        assert!(q.candidates[0].disclosed.iter().any(|d| d.path.to_string().contains("tax_id_code")), "{:?}", q.candidates[0].disclosed);
        let choice = consent.default_choice();
        let holder = StoredHolderKeys::for_choice(&p.store, p.keys.store.clone(), &choice).unwrap();
        p.flow.present_pid(&step, &choice, &holder)
    })
    .await;
    let IssuanceOutcome::Issued(ids) = outcome.unwrap() else { panic!("immediate") };
    let mdl = phone.store.get(&ids[0]).unwrap();
    assert_eq!(mdl.summary.vct, MDL_VCT);
    let kinds: Vec<TransactionKind> = phone.store.transactions().unwrap().iter().map(|t| t.entry.kind).collect();
    assert_eq!(kinds, vec![TransactionKind::Issuance, TransactionKind::Presentation, TransactionKind::Issuance]);
    assert!(phone.client.saw("/authorize/vp-response"));
}

/// Wallet-initiated, two configurations of the Motorizzazione (licence and health card):
/// one PAR whose `authorization_details` and `scope` cover both, one PID presentation, one
/// token, then one credential request per configuration: both stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_configurations_are_issued_after_one_authorization() {
    const HEALTH_CARD: &str = "dc_sd_jwt_EuropeanHealthInsuranceCard";
    let fed = Fed::build(Setup::PidOverVp, |_| {}).await;
    let phone = Arc::new(Phone::new(&fed));
    pid_from_its_provider(&fed, &phone).await;
    let p = phone.clone();
    let issuer = fed.issuer_id.to_string();
    let outcome = blocking(move || {
        let session = p.flow.start_from_issuer(&issuer, &[MDL, HEALTH_CARD]).unwrap();
        let AuthorizationStep::Presentation(step) = p.flow.authorize(&session).unwrap() else { panic!("a presentation step") };
        let choice = step.consent().default_choice();
        let holder = StoredHolderKeys::for_choice(&p.store, p.keys.store.clone(), &choice).unwrap();
        p.flow.present_pid(&step, &choice, &holder).unwrap()
    })
    .await;
    let IssuanceOutcome::Several(each) = &outcome else { panic!("several: {outcome:?}") };
    let mut vcts = Vec::new();
    for c in each {
        let Ok(IssuanceOutcome::Issued(ids)) = &c.outcome else { panic!("{} not issued: {:?}", c.configuration_id, c.outcome) };
        vcts.push(phone.store.get(&ids[0]).unwrap().summary.vct);
    }
    assert_eq!(vcts, [MDL_VCT, "urn:eudi:ehic:1"]);
    assert_eq!(phone.client.count(&fed.url("/par")), 1);
    assert_eq!(phone.client.count(&fed.url("/token")), 1);
    assert_eq!(phone.client.count(&fed.url("/credential")), 2);
}

/// Mario's PID from the federation's PID provider, through its offer (no `tx_code`) and the
/// wallet's flow: its id in the store.
async fn pid_from_its_provider(fed: &Fed, phone: &Arc<Phone>) -> wallet_core::store::CredentialId {
    let pid_issuer = fed.pid_issuer.as_ref().unwrap().id.as_str().trim_end_matches('/').to_owned();
    let (s, v) = Fed::json(fed.http.post(format!("{pid_issuer}/admin/offers")).bearer_auth(common::TOKEN).json(&serde_json::json!({"citizen": MARIO, "tx_code": false}))).await;
    assert_eq!(s, 201, "{v}");
    let offer_url = v["offer_url"].as_str().unwrap().to_owned();
    let p = phone.clone();
    blocking(move || {
        let session = p.flow.start_from_offer(&offer_url).unwrap();
        let IssuanceOutcome::Issued(ids) = p.flow.accept(&session, None).unwrap() else { panic!("immediate") };
        ids[0].clone()
    })
    .await
}

/// Stores a PID of `citizen` from the federation's PID issuer (or, `rogue`, from one outside
/// the federation), bound to `holder`.
async fn store_pid(fed: &Fed, phone: &Phone, holder: &SoftwareSigner, citizen: &str, rogue: bool) -> wallet_core::store::CredentialId {
    let pid = fed.issue_pid(holder, citizen, rogue).await;
    let from = if rogue { fed.rogue_pid_issuer.as_ref() } else { fed.pid_issuer.as_ref() };
    let new = NewCredential {
        format: "dc+sd-jwt".into(),
        vct: PID_VCT.into(),
        issuer: from.unwrap().id.to_string(),
        issued_at: Some(UnixTime::now()),
        expires_at: Some(UnixTime::now().plus(86_400)),
        credential: pid,
        metadata: serde_json::json!({}),
    };
    phone.store.put(&new, UnixTime::now()).unwrap()
}

/// An issuer whose federation the wallet does not trust: refused before the PAR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_outside_the_federation_is_refused_before_the_par() {
    let fed = Fed::spid_cie().await;
    let ours = Fed::new().await;
    let phone = Arc::new(Phone::trusting(&ours, &fed));
    let p = phone.clone();
    let issuer = fed.issuer_id.to_string();
    let (trust, err) = blocking(move || {
        let session = p.flow.start_from_issuer(&issuer, &[PID]).unwrap();
        (session.consent.trust.clone(), p.flow.authorize(&session).unwrap_err())
    })
    .await;
    assert!(matches!(trust, IssuerTrust::Untrusted { .. }), "{trust:?}");
    assert!(matches!(err, IssuanceError::Untrusted { .. }), "{err}");
    assert!(!phone.client.saw("/par"), "no PAR sent");
    assert!(!phone.client.saw("/authorize"));
}

/// The redirect back with a tampered `state`, then with a tampered `iss` (RFC 9207): each
/// refused before any token request; the genuine one then goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_state_or_iss_on_the_redirect_is_refused() {
    let fed = Fed::spid_cie().await;
    let phone = Arc::new(Phone::new(&fed));
    let p = phone.clone();
    let issuer = fed.issuer_id.to_string();
    let (bad_state, bad_iss, no_iss, seen_token, outcome) = blocking(move || {
        let step = p.browser_step(&issuer, PID);
        let redirect = p.browser(MARIO).open(step.url(), step.redirect_uri()).unwrap();
        let params: Vec<(String, String)> = url::Url::parse(&redirect).unwrap().query_pairs().into_owned().collect();
        let with = |name: &str, value: Option<&str>| {
            let mut u = url::Url::parse(REDIRECT).unwrap();
            for (k, v) in &params {
                match (k == name, value) {
                    (true, Some(x)) => u.query_pairs_mut().append_pair(k, x),
                    (true, None) => continue,
                    (false, _) => u.query_pairs_mut().append_pair(k, v),
                };
            }
            u.to_string()
        };
        let bad_state = p.flow.complete(&step, &with("state", Some(&"A".repeat(48)))).unwrap_err();
        let bad_iss = p.flow.complete(&step, &with("iss", Some("https://evil.example.it"))).unwrap_err();
        let no_iss = p.flow.complete(&step, &with("iss", None)).unwrap_err();
        let seen_token = p.client.saw("/token");
        (bad_state, bad_iss, no_iss, seen_token, p.flow.complete(&step, &redirect))
    })
    .await;
    assert_eq!(bad_state, IssuanceError::Authorization { step: wallet_core::wallet::issuance::IssuanceStep::Authorization, rule: ParError::StateMismatch });
    assert!(matches!(bad_iss, IssuanceError::Authorization { rule: ParError::IssuerMismatch, .. }), "{bad_iss}");
    assert!(matches!(no_iss, IssuanceError::Authorization { rule: ParError::IssuerMismatch, .. }), "{no_iss}");
    assert!(!seen_token, "no token request for a refused redirect");
    assert!(matches!(outcome.unwrap(), IssuanceOutcome::Issued(_)));
}

/// The OP knows the citizen, the PID provider's registry does not: the issuer redirects back
/// with `access_denied`, surfaced with its code; nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_redirect_is_surfaced_with_its_code() {
    let fed = Fed::spid_cie().await;
    let phone = Arc::new(Phone::new(&fed));
    let p = phone.clone();
    let issuer = fed.issuer_id.to_string();
    let err = blocking(move || {
        let step = p.browser_step(&issuer, PID);
        p.flow.complete_in_browser(&step, &p.browser(STRANGER)).unwrap_err()
    })
    .await;
    assert!(matches!(&err, IssuanceError::AuthorizationDenied { error, .. } if error == "access_denied"), "{err}");
    assert_eq!(err.issuer_code(), Some(ErrorCode::AccessDenied));
    assert!(!phone.client.saw("/token"));
    assert!(phone.store.list().unwrap().is_empty());
}

/// The citizen declines the PID presentation: `access_denied` goes to the issuer, the decline
/// is logged, nothing is issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_the_pid_presentation_issues_nothing() {
    let fed = Fed::pid_over_vp().await;
    let phone = Arc::new(Phone::new(&fed));
    let holder = SoftwareSigner::generate().unwrap();
    store_pid(&fed, &phone, &holder, MARIO, false).await;
    let p = phone.clone();
    let issuer = fed.issuer_id.to_string();
    blocking(move || {
        let step = p.presentation_step(&issuer, MDL);
        p.flow.decline_pid(&step).unwrap();
    })
    .await;
    let kinds: Vec<TransactionKind> = phone.store.transactions().unwrap().iter().map(|t| t.entry.kind).collect();
    assert_eq!(kinds, vec![TransactionKind::Declined]);
    assert!(!phone.client.saw("/token"));
    assert_eq!(phone.store.list().unwrap().len(), 1, "only the PID");
}


/// A PID from an issuer outside the federation: the issuer refuses the presentation with its
/// OpenID4VP error, which the wallet surfaces (and records on the log entry); nothing issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presentation_the_issuer_refuses_is_surfaced_with_its_error() {
    let fed = Fed::pid_over_vp().await;
    let phone = Arc::new(Phone::new(&fed));
    let holder = SoftwareSigner::generate().unwrap();
    store_pid(&fed, &phone, &holder, MARIO, true).await;
    let p = phone.clone();
    let issuer = fed.issuer_id.to_string();
    let err = blocking(move || {
        let step = p.presentation_step(&issuer, MDL);
        let choice = step.consent().default_choice();
        p.flow.present_pid(&step, &choice, &holder).unwrap_err()
    })
    .await;
    assert!(
        matches!(&err, IssuanceError::Presentation { step: PresentationStep::ResponseUri, error: Some(e), untrusted: false, .. } if e == "invalid_request"),
        "{err}"
    );
    assert!(!phone.client.saw("/token"));
    let log = phone.store.transactions().unwrap();
    assert_eq!(log.iter().map(|t| t.entry.kind).collect::<Vec<_>>(), vec![TransactionKind::Presentation]);
    let outcomes = phone.store.outcomes().unwrap();
    assert!(matches!(&outcomes[&log[0].seq].1, TransactionOutcome::Refused { error, .. } if error == "invalid_request"), "{outcomes:?}");
    assert_eq!(phone.store.list().unwrap().len(), 1, "only the PID");
}

/// An issuer-initiated offer with the `authorization_code` grant (`issuer_state`, `scope`),
/// for Mario: the wallet sends the `issuer_state` back in its PAR; Mario's login gets the
/// PID; the same kind of offer redeemed by Luigia's login is refused with `access_denied`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_code_offer_is_redeemed_by_its_citizen_only() {
    let fed = Fed::spid_cie().await;
    let offer = |citizen: &'static str| {
        let req = fed.http.post(fed.url("/admin/offers")).bearer_auth(common::TOKEN).json(&serde_json::json!({"grant": "authorization_code", "citizen": citizen}));
        async move {
            let (s, v) = Fed::json(req).await;
            assert_eq!(s, 201, "{v}");
            v["offer_url"].as_str().unwrap().to_owned()
        }
    };
    let (for_mario, also_for_mario) = (offer(MARIO).await, offer(MARIO).await);
    let phone = Arc::new(Phone::new(&fed));
    let p = phone.clone();
    let (consent, outcome, someone_else) = blocking(move || {
        let session = p.flow.start_from_offer(&for_mario).unwrap();
        let consent = session.consent.clone();
        let AuthorizationStep::Browser(step) = p.flow.authorize(&session).unwrap() else { panic!("browser step") };
        let outcome = p.flow.complete_in_browser(&step, &p.browser(MARIO));
        let session = p.flow.start_from_offer(&also_for_mario).unwrap();
        let AuthorizationStep::Browser(step) = p.flow.authorize(&session).unwrap() else { panic!("browser step") };
        (consent, outcome, p.flow.complete_in_browser(&step, &p.browser(common::LUIGIA)))
    })
    .await;
    assert!(consent.is_trusted(), "{consent:?}");
    assert_eq!(consent.tx_code, None);
    let IssuanceOutcome::Issued(ids) = outcome.unwrap() else { panic!("immediate") };
    assert_eq!(phone.store.get(&ids[0]).unwrap().summary.vct, PID_VCT);
    let err = someone_else.unwrap_err();
    assert_eq!(err.issuer_code(), Some(ErrorCode::AccessDenied), "{err}");
}
