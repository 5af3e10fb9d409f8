//! The activation flow against a provider core run in-process behind the [`HttpClient`] seam:
//! it routes the same paths as the `wallet-provider` service and judges requests with the same
//! `crate::attestation` functions (nonce single use, registration, attestation request, WAA
//! and WUA issuance). The real service is exercised end to end by the CLI's tests.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::attestation::endpoints::{CITIZEN_SESSION, NONCE, WALLET_ATTESTATION, WALLET_INSTANCES};
use crate::attestation::{
    AttestationRequest, AttestationRequestBody, AttestationResponse, AttestationError, CitizenSessionRequest, CitizenSessionResponse,
    ClientAttestationContext, DEFAULT_SKEW, ErrorBody, GeneralInfo, InstanceStatus, InstanceStatusUpdate, KeyAttestationPolicy,
    KeyStorageInfo, NonceResponse, ProviderNonce, ProviderSigning, RegistrationRequest, StorageType, WUA_MIN_LIFETIME,
    WaaBuilder, WalletAttestations, WalletInstanceInfo, WuaBuilder, WuaWalletInfo, verify_client_attestation,
};
use crate::jose::{Jwk, Signer as _, SoftwareSigner};
use crate::keystore::{KeyStore, KeyStoreError, SoftwareKeyStore};
use crate::sd_jwt::StaticKeyResolver;
use crate::status::StatusReference;
use crate::time::{Clock, UnixTime};

const WP: &str = "https://wallet-provider.example.org";
const REDIRECT: &str = "it.tessera.wallet://activation";
const START: i64 = 1_800_000_000;
const FISCAL: &str = "TINIT-RSSMRA80A01H501U";

struct TestClock(AtomicI64);
impl Clock for TestClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}

struct Instance {
    key: Jwk,
    fiscal: String,
    issued_at: i64,
    revoked: bool,
}

#[derive(Default)]
struct ProviderState {
    nonces: HashSet<String>,
    codes: HashMap<String, String>,
    sessions: HashMap<String, String>,
    instances: HashMap<String, Instance>,
    issued: u32,
}

struct TestProvider {
    key: SoftwareSigner,
    clock: Arc<TestClock>,
    state: Mutex<ProviderState>,
}

fn json(status: u16, body: &impl serde::Serialize) -> HttpResponse {
    HttpResponse { status, headers: vec![("Content-Type".into(), "application/json".into())], body: serde_json::to_vec(body).unwrap() }
}

fn error(status: u16, code: &str) -> HttpResponse {
    json(status, &ErrorBody { error: code.into(), error_description: None })
}

impl TestProvider {
    fn new(clock: Arc<TestClock>) -> Self {
        let mut st = ProviderState::default();
        st.codes.insert("code-1".into(), FISCAL.into());
        Self { key: SoftwareSigner::generate().unwrap(), clock, state: Mutex::new(st) }
    }

    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    fn take_nonce(st: &mut ProviderState, n: &str) -> bool {
        st.nonces.remove(n)
    }

    fn citizen(st: &ProviderState, req: &HttpRequest) -> Option<String> {
        let token = req.header_value("Authorization")?.strip_prefix("Bearer ")?;
        st.sessions.get(token).cloned()
    }

    fn handle(&self, req: &HttpRequest) -> HttpResponse {
        let mut st = self.state.lock().unwrap();
        let path = req.url.strip_prefix(WP).unwrap();
        match (req.method, path) {
            (HttpMethod::Get, NONCE) => {
                let n = ProviderNonce::generate().unwrap();
                st.nonces.insert(n.as_str().to_owned());
                json(200, &NonceResponse { nonce: n })
            }
            (HttpMethod::Post, CITIZEN_SESSION) => {
                let body: CitizenSessionRequest = serde_json::from_slice(&req.body).unwrap();
                match st.codes.remove(&body.code) {
                    Some(fiscal) => {
                        let token = format!("session-{}", st.sessions.len());
                        st.sessions.insert(token.clone(), fiscal.clone());
                        json(200, &CitizenSessionResponse { session_token: token, expires_in: 900, fiscal_number: fiscal })
                    }
                    None => error(400, "invalid_request"),
                }
            }
            (HttpMethod::Post, WALLET_INSTANCES) => {
                let Some(fiscal) = Self::citizen(&st, req) else { return error(401, "unauthorized") };
                let body: RegistrationRequest = serde_json::from_slice(&req.body).unwrap();
                if !Self::take_nonce(&mut st, body.nonce.as_str()) {
                    return error(403, "invalid_request");
                }
                match body.verify(&KeyAttestationPolicy::development().unwrap(), self.now()) {
                    Ok(v) => {
                        st.instances.insert(
                            v.hardware_key_tag.to_string(),
                            Instance { key: v.hardware_key, fiscal, issued_at: self.now().secs(), revoked: false },
                        );
                        HttpResponse { status: 204, headers: vec![], body: vec![] }
                    }
                    Err(e) => error(403, e.oauth_code()),
                }
            }
            (HttpMethod::Get, WALLET_INSTANCES) => {
                let Some(fiscal) = Self::citizen(&st, req) else { return error(401, "unauthorized") };
                let list: Vec<WalletInstanceInfo> = st
                    .instances
                    .iter()
                    .filter(|(_, i)| i.fiscal == fiscal)
                    .map(|(id, i)| WalletInstanceInfo {
                        id: id.clone(),
                        status: if i.revoked { InstanceStatus::Revoked } else { InstanceStatus::Active },
                        issued_at: i.issued_at,
                    })
                    .collect();
                json(200, &list)
            }
            (HttpMethod::Patch, p) if p.starts_with("/wallet-instances/") => {
                let Some(fiscal) = Self::citizen(&st, req) else { return error(401, "unauthorized") };
                let id = p.trim_start_matches("/wallet-instances/").to_owned();
                let _: InstanceStatusUpdate = serde_json::from_slice(&req.body).unwrap();
                match st.instances.get_mut(&id) {
                    Some(i) if i.fiscal == fiscal => {
                        i.revoked = true;
                        HttpResponse { status: 204, headers: vec![], body: vec![] }
                    }
                    _ => error(403, "invalid_request"),
                }
            }
            (HttpMethod::Post, WALLET_ATTESTATION) => {
                let body: AttestationRequestBody = serde_json::from_slice(&req.body).unwrap();
                let now = self.now();
                let verified = match AttestationRequest::parse(&body.assertion).and_then(|r| r.verify(WP, now, DEFAULT_SKEW)) {
                    Ok(v) => v,
                    Err(e) => return error(403, e.oauth_code()),
                };
                if !Self::take_nonce(&mut st, verified.nonce()) {
                    return error(403, "invalid_request");
                }
                let Some(instance) = st.instances.get(verified.hardware_key_tag().as_str()) else { return error(404, "not_found") };
                if instance.revoked {
                    return error(403, "invalid_request");
                }
                let evidence = match verified.verify_device(&instance.key, &KeyAttestationPolicy::development().unwrap(), now) {
                    Ok(e) => e,
                    Err(e) => return error(403, e.oauth_code()),
                };
                st.issued += 1;
                let info = GeneralInfo {
                    wallet_provider_name: "Test".into(),
                    wallet_solution_id: "tessera".into(),
                    wallet_solution_version: "1".into(),
                    wallet_solution_certification_information: String::new(),
                };
                let signing = ProviderSigning::new(&self.key);
                let waa = WaaBuilder::new(WP, &evidence.waa_key, &info, now).sign(&signing).unwrap();
                let wua_info = WuaWalletInfo {
                    general_info: info,
                    key_storage_info: KeyStorageInfo {
                        storage_type: StorageType::LocalNative,
                        keys_exportable: false,
                        storage_certification_information: String::new(),
                    },
                };
                let status = StatusReference { idx: u64::from(st.issued), uri: format!("{WP}/status-list") };
                let wua = WuaBuilder::new(WP, vec![evidence.credential_key], status, wua_info, now, WUA_MIN_LIFETIME).sign(&signing).unwrap();
                json(
                    200,
                    &AttestationResponse {
                        wallet_attestations: WalletAttestations { wallet_app_attestation: waa, wallet_unit_attestation: wua },
                    },
                )
            }
            _ => error(404, "not_found"),
        }
    }
}

impl HttpClient for TestProvider {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        Ok(self.handle(&request))
    }
}

struct Fixture {
    clock: Arc<TestClock>,
    provider: Arc<TestProvider>,
    keys: Arc<SoftwareKeyStore>,
    wallet: WalletActivation,
}

fn fixture() -> Fixture {
    let clock = Arc::new(TestClock(AtomicI64::new(START)));
    let provider = Arc::new(TestProvider::new(clock.clone()));
    let keys = Arc::new(
        SoftwareKeyStore::in_memory(crate::attestation::key_attestation::SoftwareAttester::development().unwrap())
            .unwrap()
            .with_clock(clock.clone()),
    );
    let trust = Arc::new(StaticKeyResolver::for_issuer(provider.key.public_jwk(), WP));
    let wallet = WalletActivation::new(WP, keys.clone(), provider.clone(), InstanceStore::in_memory().unwrap(), trust).with_clock(clock.clone());
    Fixture { clock, provider, keys, wallet }
}

fn login(f: &Fixture) -> CitizenSession {
    let pending = f.wallet.start_login(REDIRECT).unwrap();
    assert!(pending.url().starts_with(&format!("{WP}/citizen/login?redirect_uri=")));
    // The provider's redirect after the OpenID Provider login (this provider does not echo state).
    f.wallet.finish_login(&pending, &format!("{REDIRECT}?code=code-1")).unwrap()
}

#[test]
fn activation_end_to_end_then_revocation() {
    let f = fixture();
    let session = login(&f);
    assert_eq!(session.fiscal_number, FISCAL);
    let a = f.wallet.activate(&session).unwrap();
    let record = f.wallet.instance().unwrap().unwrap();
    assert_eq!(record.wallet_app_attestation.as_deref(), Some(a.wallet_app_attestation.jwt()));
    assert!(a.wallet_unit_attestation.attests(&f.keys.public_key(&record.credential_key_tag).unwrap()));

    // An issuer authenticates the wallet with the headers.
    let h = f.wallet.client_attestation_headers("https://issuer.example.org", Some("c1")).unwrap();
    let trust = StaticKeyResolver::for_issuer(f.provider.key.public_jwk(), WP);
    let mut ctx = ClientAttestationContext::new("https://issuer.example.org", &trust, f.clock.now());
    ctx.expected_challenge = Some("c1");
    let client = verify_client_attestation(&h.attestation, &h.pop, &ctx).unwrap();
    assert_eq!(client.client_id(), a.wallet_app_attestation.client_id());

    // The citizen sees the instance and revokes it (a lost phone).
    let list = f.wallet.list_instances(&session).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, record.hardware_key_tag.as_str());
    assert_eq!(list[0].status, InstanceStatus::Active);
    f.wallet.revoke_instance(&session, &list[0].id).unwrap();
    assert_eq!(f.wallet.list_instances(&session).unwrap()[0].status, InstanceStatus::Revoked);
    assert!(f.wallet.instance().unwrap().is_none());
    assert_eq!(f.keys.public_key(&record.hardware_key_tag), Err(KeyStoreError::NotFound(record.hardware_key_tag.to_string())));
    assert_eq!(f.wallet.wallet_app_attestation().unwrap_err(), WalletError::NotRegistered);
}

#[test]
fn waa_is_renewed_when_expired_and_old_key_deleted() {
    let f = fixture();
    let session = login(&f);
    let first = f.wallet.activate(&session).unwrap();
    let old_tag = f.wallet.instance().unwrap().unwrap().waa_key_tag.unwrap();
    assert_eq!(f.wallet.wallet_app_attestation().unwrap(), first.wallet_app_attestation.jwt());
    f.clock.0.store(first.wallet_app_attestation.expires_at().secs(), Ordering::SeqCst);
    let renewed = f.wallet.wallet_app_attestation().unwrap();
    assert_ne!(renewed, first.wallet_app_attestation.jwt());
    let record = f.wallet.instance().unwrap().unwrap();
    assert_ne!(record.waa_key_tag.as_ref(), Some(&old_tag));
    assert!(matches!(f.keys.public_key(&old_tag), Err(KeyStoreError::NotFound(_))));
    assert!(record.waa_expires_at.unwrap() > f.clock.now().secs());
}

#[test]
fn attestations_for_a_revoked_instance_are_refused() {
    let f = fixture();
    let session = login(&f);
    let record = f.wallet.register(&session).unwrap();
    f.provider.state.lock().unwrap().instances.get_mut(record.hardware_key_tag.as_str()).unwrap().revoked = true;
    let err = f.wallet.obtain_attestations().unwrap_err();
    assert_eq!(
        err,
        WalletError::Provider { endpoint: WALLET_ATTESTATION, status: 403, error: Some("invalid_request".into()), description: None }
    );
    // The ephemeral key made for the refused request is gone.
    assert_eq!(f.wallet.instance().unwrap().unwrap().waa_key_tag, None);
}

#[test]
fn wp_030_attestations_from_an_untrusted_provider_are_refused() {
    let f = fixture();
    let session = login(&f);
    let rogue_trust = Arc::new(StaticKeyResolver::for_issuer(SoftwareSigner::generate().unwrap().public_jwk(), WP));
    let wallet = WalletActivation::new(WP, f.keys.clone(), f.provider.clone(), InstanceStore::in_memory().unwrap(), rogue_trust)
        .with_clock(f.clock.clone());
    let err = wallet.activate(&session).unwrap_err();
    assert_eq!(err, WalletError::Attestation(AttestationError::BadSignature));
}

#[test]
fn login_code_is_single_use() {
    let f = fixture();
    login(&f);
    let pending = f.wallet.start_login(REDIRECT).unwrap();
    let err = f.wallet.finish_login(&pending, &format!("{REDIRECT}?code=code-1")).unwrap_err();
    assert!(matches!(err, WalletError::Provider { status: 400, .. }), "{err:?}");
}

#[test]
fn expired_session_is_refused_before_any_request() {
    let f = fixture();
    let session = login(&f);
    f.clock.0.store(START + 900, Ordering::SeqCst);
    assert_eq!(f.wallet.register(&session).unwrap_err(), WalletError::SessionExpired);
}

#[test]
fn concurrent_renewals_pair_each_waa_with_its_own_key() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<WalletActivation>();
    let f = fixture();
    let session = login(&f);
    let first = f.wallet.activate(&session).unwrap();
    f.clock.0.store(first.wallet_app_attestation.expires_at().secs(), Ordering::SeqCst);
    let trust = StaticKeyResolver::for_issuer(f.provider.key.public_jwk(), WP);
    let headers: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..4).map(|_| s.spawn(|| f.wallet.client_attestation_headers("https://issuer.example.org", None).unwrap())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for h in &headers {
        let ctx = ClientAttestationContext::new("https://issuer.example.org", &trust, f.clock.now());
        verify_client_attestation(&h.attestation, &h.pop, &ctx).unwrap();
    }
    // One renewal for all four callers.
    assert!(headers.iter().all(|h| h.attestation == headers[0].attestation));
    assert_eq!(f.provider.state.lock().unwrap().issued, 2);
}
