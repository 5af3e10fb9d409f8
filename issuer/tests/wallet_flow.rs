//! The wallet's issuance flow (`wallet_core::wallet::issuance`) against the real issuer
//! service on loopback, through a blocking reqwest [`HttpClient`]: offer → consent → accept
//! with the tx_code → verified credentials stored (a batch of two) → notification; deferred
//! issuance; and the refusals: an issuer outside the federation (no token request sent), a
//! wrong tx_code (the issuer's `invalid_grant`), a credential of another `vct` (not stored,
//! `credential_failure` notified).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Mutex};

use common::{Fed, LUIGIA, MARIO, MDL, TOKEN};

/// Mario's licence expiry in the sample registry (`issuer/src/samples.rs`).
const MARIO_LICENCE_EXPIRY: &str = "2031-06-10";
use wallet_core::attestation::key_attestation::SoftwareAttester;
use wallet_core::attestation::{GeneralInfo, KeyStorageInfo, ProviderSigning, StorageType, WUA_MIN_LIFETIME, WuaBuilder, WuaWalletInfo};
use wallet_core::jose::{Signer as _, SoftwareSigner};
use wallet_core::keystore::{KeyStore, KeyStoreSigner, KeyTag, SoftwareKeyStore};
use wallet_core::oid4vci::ErrorCode;
use wallet_core::status::StatusReference;
use wallet_core::store::{CredentialStore, DataKey, StaticKeyProvider, TransactionKind};
use wallet_core::time::UnixTime;
use wallet_core::wallet::issuance::{AttestedKeys, ClientAuth, CredentialRule, IssuanceKeys, IssuerTrust, TypeMetadataProblem};
use wallet_core::wallet::{HttpClient, HttpError, HttpMethod, HttpRequest, HttpResponse, IssuanceError, IssuanceOutcome, WalletError, WalletIssuance};

/// The wallet's [`HttpClient`]: reqwest (no redirects) driven from the flow's blocking
/// thread on the test's runtime; it records the URLs it was asked for, and can
/// rewrite the issuer's metadata on the way in (a configuration's `vct`).
struct Client {
    http: reqwest::Client,
    rt: tokio::runtime::Handle,
    seen: Mutex<Vec<String>>,
    vct_override: Option<(String, String)>,
    /// Requests to the first base go to the second (a load balancer sending them to a replica).
    reroute: Arc<Mutex<Option<(String, String)>>>,
    /// Run once, before the first status list request is sent.
    before_status_list: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// Rewrites the issuer's type metadata answers (status, body) on the way in.
    type_metadata_answer: Option<TypeMetadataAnswer>,
}

type TypeMetadataAnswer = Box<dyn Fn(u16, Vec<u8>) -> (u16, Vec<u8>) + Send + Sync>;

impl Client {
    fn new(vct_override: Option<(&str, &str)>) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self {
            http,
            rt: tokio::runtime::Handle::current(),
            seen: Mutex::new(Vec::new()),
            vct_override: vct_override.map(|(a, b)| (a.to_owned(), b.to_owned())),
            reroute: Arc::new(Mutex::new(None)),
            before_status_list: Mutex::new(None),
            type_metadata_answer: None,
        }
    }

    /// A client whose type metadata answers `rewrite` changes.
    fn rewriting_type_metadata(rewrite: impl Fn(u16, Vec<u8>) -> (u16, Vec<u8>) + Send + Sync + 'static) -> Self {
        Self { type_metadata_answer: Some(Box::new(rewrite)), ..Self::new(None) }
    }

    fn count(&self, suffix: &str) -> usize {
        self.seen.lock().unwrap().iter().filter(|u| u.trim_end_matches(" (attested)").ends_with(suffix)).count()
    }

    fn saw(&self, suffix: &str) -> bool {
        self.seen.lock().unwrap().iter().any(|u| u.ends_with(suffix) || u.trim_end_matches(" (attested)").ends_with(suffix))
    }
}

impl HttpClient for Client {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = request.url.clone();
        if url.ends_with("/status-list")
            && let Some(hook) = self.before_status_list.lock().unwrap().take()
        {
            hook();
        }
        let attested = if request.header_value("OAuth-Client-Attestation").is_some() { " (attested)" } else { "" };
        self.seen.lock().unwrap().push(format!("{url}{attested}"));
        let method = match request.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Patch => reqwest::Method::PATCH,
        };
        let target = match &*self.reroute.lock().unwrap() {
            Some((from, to)) if request.url.starts_with(from.as_str()) => format!("{to}{}", &request.url[from.len()..]),
            _ => request.url.clone(),
        };
        let mut b = self.http.request(method, &target);
        for (n, v) in &request.headers {
            b = b.header(n.as_str(), v.as_str());
        }
        let (mut status, headers, mut body) = self.rt.block_on(async move {
            let r = b.body(request.body).send().await.map_err(|e| HttpError(e.to_string()))?;
            let status = r.status().as_u16();
            let headers: Vec<(String, String)> =
                r.headers().iter().map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
            let body = r.bytes().await.map_err(|e| HttpError(e.to_string()))?.to_vec();
            Ok::<_, HttpError>((status, headers, body))
        })?;
        if let Some((config, vct)) = &self.vct_override
            && url.ends_with("/.well-known/openid-credential-issuer")
        {
            let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            v["credential_configurations_supported"][config]["vct"] = serde_json::Value::String(vct.clone());
            body = serde_json::to_vec(&v).unwrap();
        }
        if let Some(rewrite) = &self.type_metadata_answer
            && (url.contains("/.well-known/type-metadata") || url.contains("/.well-known/vct/"))
        {
            (status, body) = rewrite(status, body);
        }
        Ok(HttpResponse { status, headers, body })
    }
}

/// The wallet's attested keys: `n` keys in a software key store, a WUA from the federation's
/// wallet provider attesting them all (with its trust chain); and a WAA when asked.
struct Keys {
    store: Arc<dyn KeyStore>,
    tags: Vec<KeyTag>,
    wua: String,
    waa: Option<(SoftwareSigner, String)>,
}

impl Keys {
    fn new(fed: &Fed, n: usize) -> Self {
        let store: Arc<dyn KeyStore> = Arc::new(SoftwareKeyStore::in_memory(SoftwareAttester::development().unwrap()).unwrap());
        let tags: Vec<KeyTag> = (0..n).map(|_| KeyTag::generate().unwrap()).collect();
        let jwks = tags.iter().map(|t| store.generate_key(t).unwrap()).collect();
        let info = GeneralInfo {
            wallet_provider_name: "Tessera".into(),
            wallet_solution_id: "tessera-wallet".into(),
            wallet_solution_version: "0.1.0".into(),
            wallet_solution_certification_information: String::new(),
        };
        let storage = KeyStorageInfo { storage_type: StorageType::LocalNative, keys_exportable: false, storage_certification_information: String::new() };
        let status = StatusReference { idx: 7, uri: format!("{}/status-list", fed.wp_id) };
        let wua = WuaBuilder::new(fed.wp_id.as_str(), jwks, status, WuaWalletInfo { general_info: info, key_storage_info: storage }, UnixTime::now(), WUA_MIN_LIFETIME)
            .sign(&ProviderSigning::new(&fed.wp_key).with_trust_chain(fed.wp_chain.clone()))
            .unwrap();
        Self { store, tags, wua, waa: None }
    }
}

impl IssuanceKeys for Keys {
    fn attested_keys(&self, max: usize) -> Result<AttestedKeys, WalletError> {
        let keys = self.tags.iter().take(max).map(|t| KeyStoreSigner::new(self.store.clone(), t.clone())).collect::<Result<_, _>>()?;
        Ok(AttestedKeys { wua: self.wua.clone(), keys })
    }

    fn client_attestation(&self, audience: &str) -> Result<Option<ClientAuth>, WalletError> {
        let Some((key, waa)) = &self.waa else { return Ok(None) };
        let headers = wallet_core::oid4vci::client_attestation_headers(waa, key, audience, None, UnixTime::now())?;
        Ok(Some(ClientAuth { headers, client_id: key.public_jwk().thumbprint().to_string() }))
    }
}

struct Phone {
    client: Arc<Client>,
    store: Arc<CredentialStore>,
    flow: WalletIssuance,
    keys: Arc<Keys>,
    _dir: tempfile::TempDir,
}

impl Phone {
    fn new(fed: &Fed, n: usize, client: Client) -> Self {
        Self::with_keys(Keys::new(fed, n), fed, client)
    }

    fn with_keys(keys: Keys, fed: &Fed, client: Client) -> Self {
        Self::configured(keys, fed, client, |f| f)
    }

    /// A phone whose issuance flow `configure` sets up further.
    fn configured(keys: Keys, fed: &Fed, client: Client, configure: impl FnOnce(WalletIssuance) -> WalletIssuance) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(CredentialStore::open(dir.path().join("wallet.db"), &StaticKeyProvider(DataKey::generate().unwrap())).unwrap());
        let client = Arc::new(client);
        let keys = Arc::new(keys);
        let flow = configure(WalletIssuance::new(client.clone(), keys.clone(), store.clone(), vec![fed.anchor.clone()]));
        Self { client, store, flow, keys, _dir: dir }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// The citizen accepts the offer at `url` with its transaction code.
async fn accept_offer(phone: &Arc<Phone>, url: String, tx: String) -> IssuanceOutcome {
    let p = phone.clone();
    blocking(move || {
        let session = p.flow.start_from_offer(&url).unwrap();
        p.flow.accept(&session, Some(&tx)).unwrap()
    })
    .await
}

async fn notified(fed: &Fed, citizen: &str) -> Vec<Option<String>> {
    let (s, v) = Fed::json(fed.http.get(fed.url(&format!("/admin/citizens/{citizen}/credentials"))).bearer_auth(TOKEN)).await;
    assert_eq!(s, 200, "{v}");
    v["credentials"].as_array().unwrap().iter().map(|c| c["notified"].as_str().map(str::to_owned)).collect()
}

/// Offer → consent (issuer, trust, tx_code) → accept → a batch of two verified credentials,
/// each bound to its own attested key, stored encrypted and logged → `credential_accepted`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_consent_accept_stores_a_verified_batch_of_two() {
    let fed = Fed::new().await;
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let phone = Arc::new(Phone::new(&fed, 2, Client::new(None)));
    let issuer = fed.issuer_id.to_string();
    let p = phone.clone();
    let (consent, outcome) = blocking(move || {
        let session = p.flow.start_from_offer(&url).unwrap();
        let consent = session.consent.clone();
        (consent, p.flow.accept(&session, Some(&tx)))
    })
    .await;
    assert_eq!(consent.issuer, issuer);
    assert!(matches!(&consent.trust, IssuerTrust::Trusted { trust_anchor, .. } if *trust_anchor == fed.anchor.id.to_string()), "{consent:?}");
    assert_eq!(consent.credentials.len(), 1);
    assert_eq!(consent.credentials[0].configuration_id, MDL);
    assert_eq!(consent.credentials[0].vct.as_deref(), Some("urn:eudi:mDL:it:1"));
    assert!(consent.tx_code.is_some(), "the pre-authorized offer asks for a tx_code");
    assert!(consent.issuer_name.is_some(), "{consent:?}");

    let IssuanceOutcome::Issued(ids) = outcome.unwrap() else { panic!("immediate") };
    assert_eq!(ids.len(), 2);
    let mut holder_keys = Vec::new();
    for id in &ids {
        let c = phone.store.get(id).unwrap();
        assert_eq!(c.summary.vct, "urn:eudi:mDL:it:1");
        assert_eq!(c.summary.issuer, issuer);
        holder_keys.push(c.metadata["holder_key_tag"].as_str().unwrap().to_owned());
    }
    holder_keys.sort();
    let mut tags: Vec<String> = phone.keys.tags.iter().map(|t| t.as_str().to_owned()).collect();
    tags.sort();
    assert_eq!(holder_keys, tags, "one credential per attested key");
    let log = phone.store.transactions().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].entry.kind, TransactionKind::Issuance);
    assert_eq!(log[0].entry.counterparty, issuer);
    assert_eq!(log[0].entry.credential_ids, ids);
    assert!(phone.client.saw("/notification"));
    assert_eq!(notified(&fed, MARIO).await, vec![Some("credential_accepted".to_owned()); 2]);
}

/// Issue 12 ("verification of what comes back (…, status) before it is stored"): the wallet
/// reads the new credentials' entries in the issuer's status list before it stores them; the
/// issuer revokes the citizen's credentials just after signing them: nothing is stored, the
/// issuer is told `credential_failure`, and the error names the status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_revoked_as_it_is_issued_is_not_stored() {
    let fed = Fed::new().await;
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let client = Client::new(None);
    let (admin, http, rt) = (fed.url("/admin/status"), fed.http.clone(), tokio::runtime::Handle::current());
    *client.before_status_list.lock().unwrap() = Some(Box::new(move || {
        let r = rt.block_on(http.post(&admin).bearer_auth(TOKEN).json(&serde_json::json!({"action": "revoke", "citizen": MARIO})).send()).unwrap();
        assert_eq!(r.status(), 200);
    }));
    let phone = Arc::new(Phone::new(&fed, 1, client));
    let p = phone.clone();
    let outcome = blocking(move || {
        let session = p.flow.start_from_offer(&url).unwrap();
        p.flow.accept(&session, Some(&tx))
    })
    .await;
    let e = outcome.unwrap_err();
    assert!(e.to_string().contains("status list says INVALID"), "{e}");
    assert!(phone.store.list().unwrap().is_empty(), "nothing stored");
    assert!(phone.client.saw("/status-list"));
    assert_eq!(notified(&fed, MARIO).await, vec![Some("credential_failure".to_owned())]);
}

/// The claims of a stored SD-JWT VC's issuer-signed JWT.
fn credential_claims(credential: &str) -> serde_json::Map<String, serde_json::Value> {
    wallet_core::jose::CompactJws::parse(credential.split('~').next().unwrap()).unwrap().payload_json().unwrap()
}

/// IT-Wallet 1.4 §4.1, SD-JWT VC §7: each credential carries `vct#integrity`, W3C SRI over
/// exactly the type metadata bytes the issuer serves at both URLs (versions note §5 issuer
/// item 8); the wallet fetched them and checked it before storing; the signed form too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_carry_the_integrity_of_the_type_metadata_served() {
    let fed = Fed::new().await;
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let phone = Arc::new(Phone::new(&fed, 1, Client::new(None)));
    let IssuanceOutcome::Issued(ids) = accept_offer(&phone, url, tx).await else { panic!("immediate") };
    assert!(phone.client.saw("/.well-known/type-metadata?vct=urn%3Aeudi%3AmDL%3Ait%3A1"), "the wallet fetched the type metadata");
    let claims = credential_claims(&phone.store.get(&ids[0]).unwrap().credential);
    let integrity = claims["vct#integrity"].as_str().unwrap().to_owned();
    assert!(integrity.starts_with("sha256-"), "{integrity}");
    let by_query = fed.http.get(fed.url("/.well-known/type-metadata?vct=urn%3Aeudi%3AmDL%3Ait%3A1")).send().await.unwrap();
    assert_eq!(by_query.headers()["content-type"], "application/json");
    let by_query = by_query.bytes().await.unwrap();
    let by_path = fed.http.get(fed.url("/.well-known/vct/urn:eudi:mDL:it:1")).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(by_query, by_path, "the same bytes at both URLs");
    assert_eq!(wallet_core::vc::Vct::integrity_matches(&integrity, &by_query), Ok(true));
    let doc: serde_json::Value = serde_json::from_slice(&by_query).unwrap();
    assert_eq!(doc["vct"], "urn:eudi:mDL:it:1");
    // `Accept: application/jwt`: the same members, signed with the credential key.
    let r = fed.http.get(fed.url("/.well-known/vct/urn:eudi:mDL:it:1")).header("Accept", "application/jwt").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/jwt");
    let jwt = r.text().await.unwrap();
    let jws = wallet_core::jose::CompactJws::parse(&jwt).unwrap();
    jws.verify(&fed.issuer_key().await).unwrap();
    let signed: serde_json::Value = jws.payload_json().unwrap();
    assert_eq!(signed["vct"], doc["vct"]);
    assert_eq!(signed["claims"], doc["claims"]);
    assert_eq!(signed["iss"], fed.issuer_id.as_str());
}

/// Issue 12, SD-JWT VC §7: the type metadata the wallet gets does not match the credential's
/// `vct#integrity` (one byte added on the way): refused, nothing stored, `credential_failure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_metadata_not_matching_the_integrity_is_refused() {
    let fed = Fed::new().await;
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let client = Client::rewriting_type_metadata(|status, mut body| {
        body.push(b' ');
        (status, body)
    });
    let phone = Arc::new(Phone::new(&fed, 1, client));
    let p = phone.clone();
    let e = blocking(move || p.flow.accept(&p.flow.start_from_offer(&url).unwrap(), Some(&tx))).await.unwrap_err();
    assert!(matches!(&e, IssuanceError::TypeMetadata { vct, problem: TypeMetadataProblem::IntegrityMismatch { .. }, .. } if vct == "urn:eudi:mDL:it:1"), "{e}");
    assert!(e.to_string().contains("does not match the type metadata"), "{e}");
    assert!(phone.store.list().unwrap().is_empty(), "nothing stored");
    assert_eq!(notified(&fed, MARIO).await, vec![Some("credential_failure".to_owned())]);
}

/// The credential claims `vct#integrity` and its issuer serves no type metadata (404 at both
/// URLs): the integrity cannot be established, refused; `credential_failure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claimed_integrity_without_type_metadata_is_refused() {
    let fed = Fed::new().await;
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let phone = Arc::new(Phone::new(&fed, 1, Client::rewriting_type_metadata(|_, _| (404, b"{}".to_vec()))));
    let p = phone.clone();
    let e = blocking(move || p.flow.accept(&p.flow.start_from_offer(&url).unwrap(), Some(&tx))).await.unwrap_err();
    assert!(matches!(&e, IssuanceError::TypeMetadata { problem: TypeMetadataProblem::Unavailable(_), .. }), "{e}");
    assert!(phone.client.saw("/.well-known/vct/urn%3Aeudi%3AmDL%3Ait%3A1"), "both URLs tried");
    assert!(phone.store.list().unwrap().is_empty(), "nothing stored");
    assert_eq!(notified(&fed, MARIO).await, vec![Some("credential_failure".to_owned())]);
}

/// The issuer serves, for the licence's `vct`, type metadata naming another `vct` (its
/// `vct#integrity` computed over it, so the integrity holds): refused, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_metadata_of_another_vct_is_refused() {
    let fed = Fed::with(|c| {
        let mdl = c.credentials.iter_mut().find(|cc| cc.id == MDL).unwrap();
        mdl.type_metadata = Some(serde_json::json!({"vct": "urn:eudi:ehic:1", "name": "Tessera sanitaria"}));
    })
    .await;
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let phone = Arc::new(Phone::new(&fed, 1, Client::new(None)));
    let p = phone.clone();
    let e = blocking(move || p.flow.accept(&p.flow.start_from_offer(&url).unwrap(), Some(&tx))).await.unwrap_err();
    assert!(matches!(&e, IssuanceError::TypeMetadata { problem: TypeMetadataProblem::VctMismatch { got }, .. } if got == "urn:eudi:ehic:1"), "{e}");
    assert!(phone.store.list().unwrap().is_empty(), "nothing stored");
    assert_eq!(notified(&fed, MARIO).await, vec![Some("credential_failure".to_owned())]);
}

/// An offer of two configurations (the admin API offers several): one token, then one
/// credential request per configuration (OpenID4VCI 1.0 §8.2), each with a fresh nonce and
/// its own proofs; both verified and stored, the outcome reporting each, each notified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_of_two_configurations_stores_both() {
    let fed = Fed::new().await;
    let (url, tx) = fed.offer(MARIO, &[MDL, common::PID]).await;
    let phone = Arc::new(Phone::new(&fed, 1, Client::new(None)));
    let p = phone.clone();
    let (consent, outcome) = blocking(move || {
        let session = p.flow.start_from_offer(&url).unwrap();
        (session.consent.clone(), p.flow.accept(&session, Some(&tx)).unwrap())
    })
    .await;
    assert_eq!(consent.credentials.iter().map(|c| c.configuration_id.as_str()).collect::<Vec<_>>(), [MDL, common::PID]);
    let IssuanceOutcome::Several(each) = &outcome else { panic!("several: {outcome:?}") };
    assert_eq!(each.iter().map(|c| c.configuration_id.as_str()).collect::<Vec<_>>(), [MDL, common::PID]);
    let mut vcts = Vec::new();
    for c in each {
        let Ok(IssuanceOutcome::Issued(ids)) = &c.outcome else { panic!("{} not issued: {:?}", c.configuration_id, c.outcome) };
        assert_eq!(ids.len(), 1);
        let stored = phone.store.get(&ids[0]).unwrap();
        assert_eq!(stored.metadata["credential_configuration_id"], c.configuration_id.as_str());
        vcts.push(stored.summary.vct);
    }
    assert_eq!(vcts, ["urn:eudi:mDL:it:1", "urn:eudi:pid:it:1"]);
    assert_eq!(outcome.issued().len(), 2);
    assert_eq!(phone.store.list().unwrap().len(), 2);
    assert_eq!(phone.client.count("/token"), 1, "one token");
    assert_eq!(phone.client.count("/credential"), 2, "one credential request per configuration");
    assert_eq!(phone.client.count("/nonce"), 2, "a fresh nonce for each");
    assert_eq!(notified(&fed, MARIO).await, vec![Some("credential_accepted".to_owned()); 2]);
}

/// The registry's licence is not ready: deferred; a poll (and a wait of one interval) while
/// pending stays deferred; once ready, the wait brings the verified credential into the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_issuance_is_polled_until_ready() {
    let fed = Fed::with(|c| c.deferred_interval = 1).await;
    let (url, tx) = fed.offer(LUIGIA, &[MDL]).await;
    let phone = Arc::new(Phone::new(&fed, 1, Client::new(None)));
    let outcome = accept_offer(&phone, url, tx).await;
    let IssuanceOutcome::Deferred(deferred) = outcome else { panic!("deferred") };
    assert_eq!(WalletIssuance::deferred_configuration(&deferred), MDL);
    let p = phone.clone();
    let outcome = blocking(move || p.flow.poll_deferred(deferred).unwrap()).await;
    let IssuanceOutcome::Deferred(deferred) = outcome else { panic!("still pending") };
    assert!(phone.store.list().unwrap().is_empty());

    assert_eq!(deferred.interval, 1);
    let p = phone.clone();
    let outcome = blocking(move || p.flow.wait_deferred(deferred, 1).unwrap()).await;
    let IssuanceOutcome::Deferred(deferred) = outcome else { panic!("still pending after one wait") };

    // The registry finishes the licence while the wallet waits out the interval.
    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    let p = phone.clone();
    let waiting = tokio::task::spawn_blocking(move || p.flow.wait_deferred(deferred, 10).unwrap());
    conn.execute("UPDATE licences SET ready = 1 WHERE tax_id_code = ?1", [LUIGIA]).unwrap();
    let IssuanceOutcome::Issued(ids) = waiting.await.unwrap() else { panic!("issued") };
    assert_eq!(ids.len(), 1);
    assert_eq!(phone.store.get(&ids[0]).unwrap().summary.vct, "urn:eudi:mDL:it:1");
}

/// The system clock moved on by a settable number of seconds (the wallet's and a replica's).
#[derive(Default)]
struct Later(std::sync::atomic::AtomicI64);

impl wallet_core::time::Clock for Later {
    fn now(&self) -> UnixTime {
        UnixTime::now().plus(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// IT-Wallet 1.4 §3.3 "Deferred": the access token may run out while the registry prepares
/// the credential; the wallet then gets a new one with its refresh token (DPoP-bound to the
/// same key) and polls again, instead of failing for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_poll_after_the_access_token_expired_refreshes_it() {
    let fed = Fed::with(|c| c.deferred_interval = 1).await;
    let (url, tx) = fed.offer(LUIGIA, &[MDL]).await;
    let clock = Arc::new(Later::default());
    let client = Client::new(None);
    let reroute = client.reroute.clone();
    let c = clock.clone();
    let phone = Arc::new(Phone::configured(Keys::new(&fed, 1), &fed, client, move |f| f.with_clock(c)));
    let outcome = accept_offer(&phone, url, tx).await;
    let IssuanceOutcome::Deferred(deferred) = outcome else { panic!("deferred") };
    // Past the access token's life and the issuer's clock skew: the wallet and a replica of
    // the issuer (same database and keys) read that time; the load balancer sends there.
    clock.0.store(fed.config.access_token_ttl + 120, std::sync::atomic::Ordering::SeqCst);
    let later = fed.replica_with(clock.clone()).await;
    *reroute.lock().unwrap() = Some((fed.issuer_id.as_str().trim_end_matches('/').to_owned(), later));
    let tokens = phone.client.count("/token");
    let p = phone.clone();
    let outcome = blocking(move || p.flow.poll_deferred(deferred).unwrap()).await;
    let IssuanceOutcome::Deferred(deferred) = outcome else { panic!("still pending, not an error") };
    assert_eq!(phone.client.count("/token"), tokens + 1, "one refresh");
    assert_eq!(phone.client.count("/deferred_credential"), 2, "the expired poll, then the same poll again");

    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    conn.execute("UPDATE licences SET ready = 1 WHERE tax_id_code = ?1", [LUIGIA]).unwrap();
    let p = phone.clone();
    let outcome = blocking(move || p.flow.poll_deferred(deferred).unwrap()).await;
    let IssuanceOutcome::Issued(ids) = outcome else { panic!("issued") };
    assert_eq!(phone.store.get(&ids[0]).unwrap().summary.vct, "urn:eudi:mDL:it:1");
    assert_eq!(phone.client.count("/token"), tokens + 1, "the new access token is kept");
}

/// An issuer whose federation the wallet does not trust: the consent says why, and accept
/// refuses before any token request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_outside_the_federation_is_refused_before_the_token_request() {
    let ours = Fed::new().await;
    let foreign = Fed::new().await;
    let (url, tx) = foreign.offer(MARIO, &[MDL]).await;
    // The wallet trusts `ours` only; its keys are from `ours`' wallet provider.
    let phone = Arc::new(Phone::new(&ours, 1, Client::new(None)));
    let p = phone.clone();
    let (consent, err) = blocking(move || {
        let session = p.flow.start_from_offer(&url).unwrap();
        (session.consent.clone(), p.flow.accept(&session, Some(&tx)).unwrap_err())
    })
    .await;
    assert!(matches!(consent.trust, IssuerTrust::Untrusted { .. }), "{consent:?}");
    assert!(!consent.is_trusted());
    assert!(matches!(err, IssuanceError::Untrusted { .. }), "{err}");
    assert!(!phone.client.saw("/token"), "no token request to an untrusted issuer");
    assert!(phone.store.list().unwrap().is_empty());
}

/// IT-Wallet 1.4 §1.3 (an issuer is discovered by "a Trust Chain to the TA, plus Trust
/// Marks"): a wallet requiring the issuers' mark refuses an issuer of its federation that
/// holds none, before any token request, saying why; once the anchor issues it the mark and
/// the issuer publishes it, the consent shows the mark checked valid (its status asked of the
/// anchor) and the credential is issued; once the anchor revokes it, the issuer is refused
/// again though its configuration still carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_requiring_the_issuers_trust_mark_refuses_an_issuer_without_a_valid_one() {
    let fed = Fed::new().await;
    let required = common::issuer_mark(&fed.anchor.id);
    let phone = |fed: &Fed| Arc::new(Phone::configured(Keys::new(fed, 1), fed, Client::new(None), |f| f.with_required_issuer_marks(vec![required.clone()])));
    let attempt = |phone: Arc<Phone>, url: String, tx: String| {
        blocking(move || {
            let session = phone.flow.start_from_offer(&url).unwrap();
            (session.consent.clone(), phone.flow.accept(&session, Some(&tx)))
        })
    };

    let p = phone(&fed);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (consent, outcome) = attempt(p.clone(), url, tx).await;
    let IssuerTrust::Untrusted { reason } = &consent.trust else { panic!("trusted without the mark: {consent:?}") };
    assert_eq!(*reason, format!("it holds no trust mark of the types required ({required})"));
    assert!(matches!(outcome, Err(IssuanceError::Untrusted { .. })), "{outcome:?}");
    assert!(!p.client.saw("/token"), "no token request to an issuer without the mark");

    common::mark(&fed.http, &fed.anchor.id, &fed.issuer_id, common::ISSUER_MARK).await;
    let p = phone(&fed);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (consent, outcome) = attempt(p.clone(), url, tx).await;
    let IssuerTrust::Trusted { trust_marks, .. } = &consent.trust else { panic!("refused with the mark: {consent:?}") };
    let shown: Vec<_> = trust_marks.iter().filter(|m| m.trust_mark_type == required).collect();
    assert_eq!(shown.len(), 1, "{trust_marks:?}");
    assert!(matches!(&shown[0].check, wallet_core::oid4vp::consent::TrustMarkCheck::Valid { issuer, .. } if *issuer == fed.anchor.id.to_string()), "{shown:?}");
    assert!(matches!(outcome, Ok(IssuanceOutcome::Issued(_))), "{outcome:?}");
    assert!(p.client.saw("/federation_trust_mark_status") || p.client.saw("/trust_mark_status"), "the mark's status asked of the anchor");

    let r = fed
        .http
        .post(format!("{}/admin/trust-marks/revoke", fed.anchor.id))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"sub": fed.issuer_id, "trust_mark_type": required}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let p = phone(&fed);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (consent, outcome) = attempt(p.clone(), url, tx).await;
    let IssuerTrust::Untrusted { reason } = &consent.trust else { panic!("trusted with a revoked mark: {consent:?}") };
    assert!(reason.contains("reports it revoked"), "{reason}");
    assert!(matches!(outcome, Err(IssuanceError::Untrusted { .. })), "{outcome:?}");
}

/// A wrong tx_code: the issuer's `invalid_grant`, surfaced with the step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_tx_code_is_the_issuers_invalid_grant() {
    let fed = Fed::new().await;
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let wrong: String = tx.chars().map(|c| if c == '0' { '1' } else { '0' }).collect();
    let phone = Arc::new(Phone::new(&fed, 1, Client::new(None)));
    let p = phone.clone();
    let err = blocking(move || {
        let session = p.flow.start_from_offer(&url).unwrap();
        p.flow.accept(&session, Some(&wrong)).unwrap_err()
    })
    .await;
    assert_eq!(err.issuer_code(), Some(ErrorCode::InvalidGrant), "{err}");
    assert!(matches!(err, IssuanceError::Issuer { step: wallet_core::wallet::issuance::IssuanceStep::Token, status: 400, .. }), "{err}");
    assert!(phone.store.list().unwrap().is_empty());
}

/// The metadata says one `vct`, the issuer signs another: refused before storing, nothing
/// stored, and the issuer told `credential_failure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_of_another_vct_is_refused_and_not_stored() {
    let fed = Fed::new().await;
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let phone = Arc::new(Phone::new(&fed, 1, Client::new(Some((MDL, "urn:eudi:mDL:it:999")))));
    let p = phone.clone();
    let err = blocking(move || {
        let session = p.flow.start_from_offer(&url).unwrap();
        p.flow.accept(&session, Some(&tx)).unwrap_err()
    })
    .await;
    assert!(matches!(&err, IssuanceError::Credential { index: 0, rule: CredentialRule::Vct { got, .. } } if got == "urn:eudi:mDL:it:1"), "{err}");
    assert!(phone.store.list().unwrap().is_empty());
    assert!(phone.store.transactions().unwrap().is_empty());
    assert_eq!(notified(&fed, MARIO).await, vec![Some("credential_failure".to_owned())]);
}

/// IT-Wallet 1.4 §1.2, §4.1 at issuance: a wallet holding the anchor's root checks each
/// credential's `x5c` and the CRLs it names before storing it. A first licence passes (the
/// chain verified, the CRLs fetched). Then, after the wallet resolved the issuer's chain and
/// before it asks for the credential, the federation removes the issuer, whose CA certificate
/// goes on the anchor's CRL: the credential the issuer still signs is refused as revoked,
/// nothing is stored, and the issuer is told `credential_failure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_whose_issuer_certificate_is_revoked_is_refused_at_issuance() {
    let fed = Fed::new().await;
    let phone = Arc::new(Phone::new(&fed, 1, Client::new(None)));
    let keys: Arc<dyn IssuanceKeys> = phone.keys.clone();
    let (client, store, anchor) = (phone.client.clone(), phone.store.clone(), fed.anchor.clone());
    let flow = Arc::new(blocking(move || WalletIssuance::new(client, keys, store, vec![anchor]).with_anchor_roots()).await);

    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let f = flow.clone();
    let outcome = blocking(move || f.accept(&f.start_from_offer(&url).unwrap(), Some(&tx))).await;
    assert!(matches!(outcome, Ok(IssuanceOutcome::Issued(ref ids)) if ids.len() == 1), "{outcome:?}");
    assert!(phone.client.saw("/crl"), "the CRLs were read");

    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let f = flow.clone();
    let session = blocking(move || f.start_from_offer(&url).unwrap()).await;
    let r = fed.http.delete(format!("{}/admin/subordinates?entity_id={}", fed.anchor.id, fed.issuer_id)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let f = flow.clone();
    let err = blocking(move || f.accept(&session, Some(&tx)).unwrap_err()).await;
    assert!(matches!(&err, IssuanceError::Credential { index: 0, rule: CredentialRule::CertificateRevoked(why) } if why.contains("revoked")), "{err}");
    assert_eq!(phone.store.list().unwrap().len(), 1, "only the first licence");
    let mut notified = notified(&fed, MARIO).await;
    notified.sort();
    assert_eq!(notified, vec![Some("credential_accepted".to_owned()), Some("credential_failure".to_owned())]);
}

/// The wallet checks credentials with the keys of the issuer's federation metadata: they
/// include the key the issuer signs with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuer_key_of_the_chain_is_the_metadata_key() {
    let fed = Fed::new().await;
    let key = fed.issuer_key().await;
    let anchors = [fed.anchor.clone()];
    let id = fed.issuer_id.clone();
    let chain = blocking(move || {
        let fetcher = trust_anchor::fetch::HttpFetcher::new().unwrap();
        wallet_core::federation::ChainCollector::new(&fetcher, &anchors).resolve(&id, UnixTime::now()).unwrap()
    })
    .await;
    let keys = wallet_core::wallet::issuance::chain_issuer_keys(&chain).unwrap();
    assert!(keys.keys.iter().any(|k| k.thumbprint() == key.thumbprint()));
}

/// A wallet with a WAA: the token request carries the client attestation (the issuer lists
/// `attest_jwt_client_auth`), and the key proofs name the client, as the issuer then demands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attested_wallet_authenticates_and_its_proofs_name_the_client() {
    let fed = Fed::new().await;
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let mut keys = Keys::new(&fed, 1);
    let waa_key = SoftwareSigner::generate().unwrap();
    let waa = fed.waa(&waa_key, UnixTime::now(), 3_600);
    keys.waa = Some((waa_key, waa));
    let phone = Arc::new(Phone::with_keys(keys, &fed, Client::new(None)));
    let outcome = accept_offer(&phone, url, tx).await;
    let IssuanceOutcome::Issued(ids) = outcome else { panic!("issued") };
    assert_eq!(ids.len(), 1);
    assert!(phone.client.saw("/token (attested)"), "{:?}", phone.client.seen.lock().unwrap());
}

/// Mario's driving licence from a pre-authorized offer, accepted by a phone with `keys`
/// attested keys (a batch of that many): the phone and the stored ids.
async fn licence_issued(fed: &Fed, keys: usize) -> (Arc<Phone>, Vec<wallet_core::store::CredentialId>) {
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let phone = Arc::new(Phone::new(fed, keys, Client::new(None)));
    let p = phone.clone();
    let ids = blocking(move || {
        let session = p.flow.start_from_offer(&url).unwrap();
        match p.flow.accept(&session, Some(&tx)).unwrap() {
            IssuanceOutcome::Issued(ids) => ids,
            other => panic!("immediate: {other:?}"),
        }
    })
    .await;
    (phone, ids)
}

/// The wallet's status refresh (issue 12): after issuance the credential reads VALID; the
/// registry revokes it (admin API) and the next refresh shows it INVALID, marked changed and
/// kept in its metadata; suspended, then reinstated, it follows. A list the wallet cannot
/// verify (the issuer's trust chain fails) leaves the stored value as it was, with why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_credential_shows_as_revoked_after_a_refresh() {
    use wallet_core::wallet::status::{STATUS_VALUE_KEY, StatusCheck};
    use wallet_core::wallet::WalletStatusRefresh;
    let fed = Fed::new().await;
    let (phone, ids) = licence_issued(&fed, 1).await;
    let refresh = Arc::new(WalletStatusRefresh::new(phone.client.clone(), phone.store.clone(), vec![fed.anchor.clone()]));
    let run = |r: Arc<WalletStatusRefresh>| blocking(move || r.refresh().unwrap());
    let first = run(refresh.clone()).await;
    assert_eq!(first.len(), 1);
    assert_eq!((&first[0].id, &first[0].check, first[0].changed), (&ids[0], &StatusCheck::Value(wallet_core::status::StatusValue::Valid), true));

    let admin = |action: &str| fed.http.post(fed.url("/admin/status")).bearer_auth(TOKEN).json(&serde_json::json!({"action": action, "citizen": MARIO}));
    for (action, expected) in [("suspend", "SUSPENDED"), ("reinstate", "VALID"), ("revoke", "INVALID")] {
        let (s, v) = Fed::json(admin(action)).await;
        assert_eq!(s, 200, "{v}");
        let report = run(refresh.clone()).await;
        let StatusCheck::Value(v) = &report[0].check else { panic!("{action}: {:?}", report[0].check) };
        assert_eq!(v.name(), expected, "after {action}");
        assert!(report[0].changed, "{action}");
        assert_eq!(phone.store.get(&ids[0]).unwrap().metadata[STATUS_VALUE_KEY], expected);
    }
    let again = run(refresh.clone()).await;
    assert!(!again[0].changed, "the same value twice is no change");

    // Trusting another anchor: the issuer's chain fails, nothing is overwritten.
    let other = wallet_core::federation::TrustAnchorConfig { id: wallet_core::federation::EntityId::new("https://other-anchor.example.it").unwrap(), jwks: fed.anchor.jwks.clone() };
    let stranger = Arc::new(WalletStatusRefresh::new(phone.client.clone(), phone.store.clone(), vec![other]));
    let report = run(stranger).await;
    assert!(matches!(&report[0].check, StatusCheck::Unknown(why) if why.contains("not trusted")), "{:?}", report[0].check);
    assert_eq!(phone.store.get(&ids[0]).unwrap().metadata[STATUS_VALUE_KEY], "INVALID");
}

/// A federation whose Motorizzazione can mark a licence ATTRIBUTE_UPDATE (a 4-bit list) and
/// whose refresh tokens are good at once (short access tokens).
async fn updatable_fed() -> Fed {
    Fed::with(|c| {
        c.access_token_ttl = 30;
        c.status_bits = wallet_core::status::Bits::Four;
    })
    .await
}

/// The phone's status refresh, re-issuing what is marked for update, asking `consent`.
fn reissuing_refresh(fed: &Fed, phone: &Phone, consent: Arc<Consent>) -> Arc<wallet_core::wallet::WalletStatusRefresh> {
    use wallet_core::wallet::issuance::IssuanceKeys;
    let keys: Arc<dyn IssuanceKeys> = phone.keys.clone();
    let issuance = WalletIssuance::new(phone.client.clone(), keys, phone.store.clone(), vec![fed.anchor.clone()]).with_update_consent(consent);
    Arc::new(wallet_core::wallet::WalletStatusRefresh::new(phone.client.clone(), phone.store.clone(), vec![fed.anchor.clone()]).with_reissuance(Arc::new(issuance)))
}

/// Re-issuance after an update (issue 12 items 2 and 3): the wallet keeps the refresh token
/// and its DPoP key sealed beside the credentials; the registry record changes and the desk
/// marks the licence `update` (ATTRIBUTE_UPDATE, 0x0B in a 4-bit list); the status refresh
/// sees it, re-issues the batch (refresh grant, nonce, key proofs, `/credential`, verified),
/// stores the new credentials with the new value, removes the old ones only then, and logs
/// it; the issuer has set the old entries INVALID, and the next refresh reads VALID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_updated_licence_is_reissued_by_the_status_refresh() {
    use wallet_core::wallet::WalletStatusRefresh;
    use wallet_core::wallet::status::{Reissued, StatusCheck};
    let fed = updatable_fed().await;
    let (phone, old) = licence_issued(&fed, 2).await;
    assert_eq!(old.len(), 2);
    let consent = Arc::new(Consent::answering(true));
    let refresh = reissuing_refresh(&fed, &phone, consent.clone());
    let run = |r: Arc<WalletStatusRefresh>| blocking(move || r.refresh().unwrap());
    let first = run(refresh.clone()).await;
    assert!(first.iter().all(|r| r.reissued.is_none()), "nothing to re-issue while VALID: {first:?}");

    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    conn.execute("UPDATE licences SET expiry_date = '2040-01-31' WHERE tax_id_code = ?1", [MARIO]).unwrap();
    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/status")).bearer_auth(TOKEN).json(&serde_json::json!({"action": "update", "citizen": MARIO}))).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ATTRIBUTE_UPDATE")), "{v}");

    let report = run(refresh.clone()).await;
    assert_eq!(report.len(), 2);
    assert!(report.iter().all(|r| r.check == StatusCheck::Value(wallet_core::status::StatusValue::Other(0x0B))), "{report:?}");
    let Some(Reissued::Done(new)) = &report[0].reissued else { panic!("{report:?}") };
    assert_eq!(report[1].reissued, Some(Reissued::WithBatch));
    assert_eq!(new.len(), 2);
    // WP_074: the citizen was asked once for the batch, shown what changes, before the store.
    let asked = consent.asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(old.contains(&asked[0].replaces), "{asked:?}");
    assert_eq!(asked[0].vct, wallet_core::vc::Vct::MDL);
    assert_eq!(asked[0].changes.iter().map(ToString::to_string).collect::<Vec<_>>(), [format!("expiry_date: {MARIO_LICENCE_EXPIRY} -> 2040-01-31")]);
    for id in &old {
        assert!(phone.store.get(id).is_err(), "the old credential is gone");
    }
    let resolver = wallet_core::sd_jwt::StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());
    for id in new {
        let c = phone.store.get(id).unwrap();
        let vc = wallet_core::vc::verify(&wallet_core::sd_jwt::Verifier::new(&resolver), &c.credential, UnixTime::now()).unwrap();
        assert_eq!(vc.attributes()["expiry_date"], "2040-01-31", "the registry's current record");
    }
    let log = phone.store.transactions().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!((log[1].entry.kind, &log[1].entry.credential_ids), (TransactionKind::Issuance, new));
    let (_, list) = Fed::json(fed.http.get(fed.url(&format!("/admin/citizens/{MARIO}/credentials"))).bearer_auth(TOKEN)).await;
    // Listed by issued_at then status index: within one second the order is the indices'.
    let mut statuses: Vec<u64> = list["credentials"].as_array().unwrap().iter().map(|c| c["status"].as_u64().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![0, 0, 1, 1], "the old entries INVALID, the new ones VALID");

    let after = run(refresh.clone()).await;
    assert!(after.iter().all(|r| r.check == StatusCheck::Value(wallet_core::status::StatusValue::Valid) && r.reissued.is_none()), "{after:?}");
}

/// The citizen's answer to a re-issuance that changes their attributes, and what they were
/// shown each time.
struct Consent {
    answer: bool,
    asked: std::sync::Mutex<Vec<wallet_core::wallet::AttributeUpdate>>,
}

impl Consent {
    fn answering(answer: bool) -> Self {
        Self { answer, asked: std::sync::Mutex::new(Vec::new()) }
    }

    fn asked(&self) -> Vec<wallet_core::wallet::AttributeUpdate> {
        self.asked.lock().unwrap().clone()
    }
}

impl wallet_core::wallet::UpdateConsent for Consent {
    fn approve(&self, update: &wallet_core::wallet::AttributeUpdate) -> bool {
        self.asked.lock().unwrap().push(update.clone());
        self.answer
    }
}

/// WP_075 then WP_074 (IT-Wallet 1.4 §6): the Motorizzazione marks the licence for update
/// with its registry record unchanged: the re-issued licence changes no attribute and is
/// stored without asking. Then the record changes and the licence is marked again: the
/// citizen declines, so the new licence is not stored, the one held is kept, nothing is
/// logged, and the refresh reports what would have changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_change_of_the_citizens_attributes_asks_for_consent() {
    use wallet_core::wallet::WalletStatusRefresh;
    use wallet_core::wallet::status::Reissued;
    let fed = updatable_fed().await;
    let (phone, old) = licence_issued(&fed, 1).await;
    let consent = Arc::new(Consent::answering(false));
    let refresh = reissuing_refresh(&fed, &phone, consent.clone());
    let run = |r: Arc<WalletStatusRefresh>| blocking(move || r.refresh().unwrap());
    let mark = || async {
        let (s, v) = Fed::json(fed.http.post(fed.url("/admin/status")).bearer_auth(TOKEN).json(&serde_json::json!({"action": "update", "citizen": MARIO}))).await;
        assert_eq!(s, 200, "{v}");
    };

    mark().await;
    let report = run(refresh.clone()).await;
    let Some(Reissued::Done(new)) = &report[0].reissued else { panic!("{report:?}") };
    assert!(consent.asked().is_empty(), "metadata only: nobody asked");
    assert!(phone.store.get(&old[0]).is_err(), "the old licence replaced");
    let held = new[0].clone();

    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    conn.execute("UPDATE licences SET expiry_date = '2040-01-31' WHERE tax_id_code = ?1", [MARIO]).unwrap();
    mark().await;
    let report = run(refresh.clone()).await;
    let Some(Reissued::Declined(update)) = &report[0].reissued else { panic!("{report:?}") };
    assert_eq!(update.changes.iter().map(ToString::to_string).collect::<Vec<_>>(), [format!("expiry_date: {MARIO_LICENCE_EXPIRY} -> 2040-01-31")]);
    assert_eq!(consent.asked().len(), 1);
    let list = phone.store.list().unwrap();
    assert_eq!(list.iter().map(|c| &c.id).collect::<Vec<_>>(), [&held], "the licence held is kept, the new one not stored");
    let c = phone.store.get(&held).unwrap();
    let attributes = wallet_core::wallet::update::held_attributes(&c.credential).unwrap();
    assert_eq!(attributes["expiry_date"], MARIO_LICENCE_EXPIRY);
    assert_eq!(phone.store.transactions().unwrap().len(), 2, "the first issuance and the metadata re-issuance only");
}

/// One token for two configurations (the licence and the PID from one offer): re-issuing the
/// licence rotates the refresh token (IT-Wallet 1.4 §3.3 "Refresh"), and the PID, kept with
/// the same grant, takes the new token too, so that an issuer refusing a reused refresh
/// token still re-issues it; only the licence is replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_reaches_every_configuration_of_its_grant() {
    let fed = updatable_fed().await;
    let (url, tx) = fed.offer(MARIO, &[MDL, common::PID]).await;
    let phone = Arc::new(Phone::new(&fed, 1, Client::new(None)));
    let p = phone.clone();
    let outcome = blocking(move || {
        let session = p.flow.start_from_offer(&url).unwrap();
        p.flow.accept(&session, Some(&tx)).unwrap()
    })
    .await;
    let issued = outcome.issued();
    let [licence, pid] = [&issued[0], &issued[1]];
    let token = |id: &wallet_core::store::CredentialId| phone.store.refresh_grant(id).unwrap().expect("a refresh grant")["refresh_token"].as_str().unwrap().to_owned();
    let first = token(licence);
    assert_eq!(token(pid), first, "one token for both configurations");

    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/status")).bearer_auth(TOKEN).json(&serde_json::json!({"action": "update", "citizen": MARIO}))).await;
    assert_eq!(s, 200, "{v}");
    let p = phone.clone();
    let old = licence.clone();
    let reissued = blocking(move || p.flow.reissue(&old).unwrap()).await;
    let IssuanceOutcome::Issued(new) = reissued else { panic!("{reissued:?}") };
    assert!(phone.store.get(licence).is_err(), "the licence replaced");
    assert!(phone.store.get(pid).is_ok(), "the PID kept");
    let rotated = token(&new[0]);
    assert_ne!(rotated, first, "the issuer rotated the refresh token");
    assert_eq!(token(pid), rotated, "the PID's grant carries the rotated token");
}

/// One offer of the licence, not ready yet (deferred), and the PID, issued at once: the PID
/// is re-issued while the registry prepares the licence, rotating the grant's refresh token;
/// the licence, once polled in, is stored with the rotated token (the newest copy of the
/// grant), not with the spent one its deferred flow started with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_credential_of_a_rotated_grant_keeps_the_new_token() {
    let fed = Fed::with(|c| {
        c.deferred_interval = 1;
        c.access_token_ttl = 30;
        c.status_bits = wallet_core::status::Bits::Four;
    })
    .await;
    let (url, tx) = fed.offer(LUIGIA, &[MDL, common::PID]).await;
    let phone = Arc::new(Phone::new(&fed, 1, Client::new(None)));
    let IssuanceOutcome::Several(each) = accept_offer(&phone, url, tx).await else { panic!("several") };
    let mut deferred = None;
    let mut pid = None;
    for c in each {
        match c.outcome {
            Ok(IssuanceOutcome::Deferred(d)) if c.configuration_id == MDL => deferred = Some(d),
            Ok(IssuanceOutcome::Issued(ids)) if c.configuration_id == common::PID => pid = ids.first().cloned(),
            other => panic!("{}: {other:?}", c.configuration_id),
        }
    }
    let (deferred, pid) = (deferred.expect("the licence deferred"), pid.expect("the PID issued"));
    let token = |id: &wallet_core::store::CredentialId| phone.store.refresh_grant(id).unwrap().expect("a refresh grant")["refresh_token"].as_str().unwrap().to_owned();
    let first = token(&pid);

    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/status")).bearer_auth(TOKEN).json(&serde_json::json!({"action": "update", "citizen": LUIGIA}))).await;
    assert_eq!(s, 200, "{v}");
    let p = phone.clone();
    let IssuanceOutcome::Issued(new) = blocking(move || p.flow.reissue(&pid).unwrap()).await else { panic!("the PID re-issued") };
    let rotated = token(&new[0]);
    assert_ne!(rotated, first, "the issuer rotated the refresh token");

    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    conn.execute("UPDATE licences SET ready = 1 WHERE tax_id_code = ?1", [LUIGIA]).unwrap();
    let p = phone.clone();
    let IssuanceOutcome::Issued(licence) = blocking(move || p.flow.poll_deferred(deferred).unwrap()).await else { panic!("the licence issued") };
    assert_eq!(token(&licence[0]), rotated, "the licence keeps the grant's newest token");
}

/// IT-Wallet 1.4 §1.2 on the wallet's side: with the anchor's root (taken from the anchor and
/// checked against its keys), the refresh also checks the CRLs the credential's `x5c` names.
/// The registry withdraws its credential key (its signing certificates revoked): the status
/// list still says VALID, but the refresh reports the credential's issuer certificate
/// revoked, and keeps it so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_whose_issuer_certificate_was_revoked_shows_so_after_a_refresh() {
    use wallet_core::wallet::WalletStatusRefresh;
    use wallet_core::wallet::status::{ISSUER_CERTIFICATE_REVOKED, STATUS_VALUE_KEY, StatusCheck};
    let fed = Fed::new().await;
    let (phone, ids) = licence_issued(&fed, 1).await;
    let (client, store, anchor) = (phone.client.clone(), phone.store.clone(), fed.anchor.clone());
    let refresh = Arc::new(blocking(move || WalletStatusRefresh::new(client, store, vec![anchor]).with_anchor_roots()).await);
    let run = |r: Arc<WalletStatusRefresh>| blocking(move || r.refresh().unwrap());
    let first = run(refresh.clone()).await;
    assert_eq!(first[0].check, StatusCheck::Value(wallet_core::status::StatusValue::Valid), "the certificates are not revoked yet");

    let credential = phone.store.get(&ids[0]).unwrap().credential;
    let kid = wallet_core::jose::CompactJws::parse(credential.split('~').next().unwrap()).unwrap().header().kid.clone().unwrap();
    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/signing-certificates/revoke")).bearer_auth(TOKEN).json(&serde_json::json!({"kid": kid}))).await;
    assert_eq!(s, 200, "{v}");
    let report = run(refresh.clone()).await;
    assert!(matches!(&report[0].check, StatusCheck::IssuerCertificateRevoked(why) if why.contains("revoked")), "{:?}", report[0].check);
    assert!(report[0].changed);
    assert_eq!(phone.store.get(&ids[0]).unwrap().metadata[STATUS_VALUE_KEY], ISSUER_CERTIFICATE_REVOKED);

    // Without the roots the wallet reads only the status list.
    let plain = Arc::new(WalletStatusRefresh::new(phone.client.clone(), phone.store.clone(), vec![fed.anchor.clone()]));
    assert_eq!(run(plain).await[0].check, StatusCheck::Value(wallet_core::status::StatusValue::Valid));
}

/// An offer by reference (OpenID4VCI 1.0 §4.1.3) under `haip-vci://`: the QR code carries
/// only `credential_offer_uri`; the wallet fetches the offer there, redeems it, and the
/// reference then answers 404. Unknown handles answer 404, unknown schemes 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_by_reference_under_haip_vci_is_fetched_then_spent() {
    let fed = Fed::new().await;
    let body = serde_json::json!({"citizen": MARIO, "credential_configuration_ids": [MDL], "by_reference": true, "scheme": "haip-vci"});
    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/offers")).bearer_auth(TOKEN).json(&body)).await;
    assert_eq!(s, 201, "{v}");
    let url = v["offer_url"].as_str().unwrap().to_owned();
    let tx = v["tx_code"].as_str().unwrap().to_owned();
    assert!(url.starts_with("haip-vci://?credential_offer_uri="), "{url}");
    assert!(!url.contains("credential_offer="), "by reference only: {url}");
    let uri = url::Url::parse(&url).unwrap().query_pairs().find(|(k, _)| k == "credential_offer_uri").unwrap().1.into_owned();
    assert!(uri.starts_with(&format!("{}/credential-offer/", fed.issuer_id)), "{uri}");

    // The offer behind it, as often as asked until it is redeemed.
    for _ in 0..2 {
        let r = fed.http.get(&uri).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let offer: serde_json::Value = r.json().await.unwrap();
        assert_eq!(offer["credential_issuer"], fed.issuer_id.as_str());
        assert_eq!(offer["credential_configuration_ids"], serde_json::json!([MDL]));
        assert_eq!(offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["tx_code"]["length"], 6);
    }

    let phone = Arc::new(Phone::new(&fed, 1, Client::new(None)));
    let p = phone.clone();
    let outcome = blocking(move || {
        let session = p.flow.start_from_offer(&url).unwrap();
        p.flow.accept(&session, Some(&tx))
    })
    .await;
    let IssuanceOutcome::Issued(ids) = outcome.unwrap() else { panic!("immediate") };
    assert_eq!(phone.store.get(&ids[0]).unwrap().summary.vct, "urn:eudi:mDL:it:1");

    let (s, v) = Fed::json(fed.http.get(&uri)).await;
    assert_eq!((s, v["error"].as_str()), (404, Some("not_found")), "spent: {v}");
    let (s, _) = Fed::json(fed.http.get(fed.url("/credential-offer/nobody-made-this-one"))).await;
    assert_eq!(s, 404);
    let bad = serde_json::json!({"citizen": MARIO, "scheme": "openid4vp"});
    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/offers")).bearer_auth(TOKEN).json(&bad)).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("scheme `openid4vp`"), "{v}");
}
