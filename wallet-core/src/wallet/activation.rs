//! Wallet activation (IT-Wallet 1.4 §2.1 "WI ACT", §2.2, §2.3), driven by the phone:
//! login → register the hardware key → obtain the WAA and WUA → keep the WAA fresh and
//! authenticate to issuers with it.
//!
//! The protocol steps are pure functions over [`HttpRequest`] / [`HttpResponse`] values
//! ([`nonce_request`], [`on_nonce_response`], [`registration_request`],
//! [`on_registration_response`], [`attestation_request`], [`on_attestation_response`]);
//! [`WalletActivation`] sends them through an [`HttpClient`] and keeps the state.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::WalletError;
use super::http::{HttpClient, HttpMethod, HttpRequest, HttpResponse};
use super::instance::{InstanceRecord, InstanceStore};
use super::login::{CitizenSession, PendingLogin, base, check_status, json_response};
use crate::attestation::endpoints::{NONCE, WALLET_ATTESTATION, WALLET_INSTANCES, wallet_instance_path};
use crate::attestation::{
    AttestationRequestBody, AttestationRequestBuilder, AttestationResponse, ClientAttestationHeaders, DEFAULT_SKEW, InstanceStatus,
    InstanceStatusUpdate, NonceResponse, ProviderNonce, RegistrationRequest, VerifiedWaa, VerifiedWua, WalletInstanceInfo,
    client_attestation_headers, verify_waa, verify_wua,
};
use crate::keystore::{KeyStore, KeyStoreSigner, KeyTag};
use crate::sd_jwt::IssuerKeyResolver;
use crate::time::{Clock, SystemClock, UnixTime};

/// A WAA is renewed when it expires within this many seconds.
pub const DEFAULT_RENEW_MARGIN: i64 = 60;

/// `GET <provider>/nonce`.
pub fn nonce_request(provider: &str) -> HttpRequest {
    HttpRequest::get(format!("{}{NONCE}", base(provider))).header("Accept", "application/json")
}

/// The nonce from `GET /nonce` (200 `{"nonce"}`).
pub fn on_nonce_response(r: &HttpResponse) -> Result<ProviderNonce, WalletError> {
    let n: NonceResponse = json_response(NONCE, r, 200)?;
    ProviderNonce::new(n.nonce.as_str()).ok_or_else(|| WalletError::BadResponse { endpoint: NONCE, detail: "empty nonce".into() })
}

/// `POST <provider>/wallet-instances` with the session as bearer (§2.2 step 4).
pub fn registration_request(provider: &str, session_token: &str, body: &RegistrationRequest) -> HttpRequest {
    HttpRequest::json(HttpMethod::Post, format!("{}{WALLET_INSTANCES}", base(provider)), body).bearer(session_token)
}

/// Registration succeeded (`204 No Content`; other 2xx are accepted).
pub fn on_registration_response(r: &HttpResponse) -> Result<(), WalletError> {
    if (200..300).contains(&r.status) { Ok(()) } else { check_status(WALLET_INSTANCES, r, 204) }
}

/// `POST <provider>/wallet-attestation {"assertion"}` (§2.3).
pub fn attestation_request(provider: &str, assertion: String) -> HttpRequest {
    HttpRequest::json(HttpMethod::Post, format!("{}{WALLET_ATTESTATION}", base(provider)), &AttestationRequestBody { assertion })
}

/// The attestations from the response (200 `{"wallet_attestations"}`).
pub fn on_attestation_response(r: &HttpResponse) -> Result<AttestationResponse, WalletError> {
    json_response(WALLET_ATTESTATION, r, 200)
}

/// The verified attestations of this instance.
#[derive(Debug, Clone)]
pub struct Attestations {
    /// The WAA.
    pub wallet_app_attestation: VerifiedWaa,
    /// The WUA.
    pub wallet_unit_attestation: VerifiedWua,
}

/// The activation flow over a key store, an HTTP client and the instance state.
pub struct WalletActivation {
    provider: String,
    keys: Arc<dyn KeyStore>,
    http: Arc<dyn HttpClient>,
    state: InstanceStore,
    trust: Arc<dyn IssuerKeyResolver>,
    clock: Arc<dyn Clock>,
    renew_margin: i64,
    /// Serializes changes of the instance state (registration, renewal), so that two callers
    /// never renew at once and a WAA is always paired with its own key.
    renewing: Mutex<()>,
}

impl std::fmt::Debug for WalletActivation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletActivation").field("provider", &self.provider).finish_non_exhaustive()
    }
}

fn send(http: &dyn HttpClient, req: HttpRequest) -> Result<HttpResponse, WalletError> {
    Ok(http.send(req)?)
}

impl WalletActivation {
    /// Activation at `provider` (its base URL, which is its entity id), keys in `keys`,
    /// requests through `http`, state in `state`; the WAA and WUA are verified with the
    /// provider's key as `trust` resolves it (WP_030/031: a federation
    /// [`crate::federation::TrustChainResolver`] on `wallet_solution` metadata, an
    /// [`crate::x509::X5cResolver`], or a static key).
    pub fn new(
        provider: impl Into<String>,
        keys: Arc<dyn KeyStore>,
        http: Arc<dyn HttpClient>,
        state: InstanceStore,
        trust: Arc<dyn IssuerKeyResolver>,
    ) -> Self {
        Self {
            provider: base(&provider.into()).to_owned(),
            keys,
            http,
            state,
            trust,
            clock: Arc::new(SystemClock),
            renew_margin: DEFAULT_RENEW_MARGIN,
            renewing: Mutex::new(()),
        }
    }

    /// Uses `clock` for "now" (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The provider's base URL.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// Step 1: the login to open in a browser ([`PendingLogin::url`]), coming back to
    /// `redirect_uri`.
    pub fn start_login(&self, redirect_uri: &str) -> Result<PendingLogin, WalletError> {
        PendingLogin::new(&self.provider, redirect_uri)
    }

    /// Step 2: from the redirect back to the app, the citizen session.
    pub fn finish_login(&self, pending: &PendingLogin, redirect: &str) -> Result<CitizenSession, WalletError> {
        let code = pending.code_from_redirect(redirect)?;
        let r = send(self.http.as_ref(), pending.session_request(&code))?;
        pending.on_session_response(&r, self.now())
    }

    fn nonce(&self) -> Result<ProviderNonce, WalletError> {
        on_nonce_response(&send(self.http.as_ref(), nonce_request(&self.provider))?)
    }

    /// Step 3 (§2.2): generates the hardware key and a credential key, registers the
    /// instance with the hardware key's attestation, and stores the instance. A previous
    /// instance's keys on this device are deleted once the new one is registered.
    pub fn register(&self, session: &CitizenSession) -> Result<InstanceRecord, WalletError> {
        let token = session.bearer(self.now())?.to_owned();
        let _guard = self.lock();
        let hardware_key_tag = KeyTag::generate()?;
        self.keys.generate_key(&hardware_key_tag)?;
        let result = (|| {
            let nonce = self.nonce()?;
            let body = RegistrationRequest::new(self.keys.as_ref(), &hardware_key_tag, nonce)?;
            on_registration_response(&send(self.http.as_ref(), registration_request(&self.provider, &token, &body))?)
        })();
        if let Err(e) = result {
            let _ = self.keys.delete_key(&hardware_key_tag);
            return Err(e);
        }
        let credential_key_tag = KeyTag::generate()?;
        self.keys.generate_key(&credential_key_tag)?;
        let old = self.state.load()?;
        let record = InstanceRecord {
            provider: self.provider.clone(),
            hardware_key_tag,
            credential_key_tag,
            waa_key_tag: None,
            wallet_app_attestation: None,
            waa_expires_at: None,
            wallet_unit_attestation: None,
            wua_expires_at: None,
            registered_at: self.now().secs(),
        };
        self.state.save(&record)?;
        if let Some(old) = old {
            self.delete_keys(&old);
        }
        Ok(record)
    }

    fn delete_keys(&self, r: &InstanceRecord) {
        for t in [Some(&r.hardware_key_tag), Some(&r.credential_key_tag), r.waa_key_tag.as_ref()].into_iter().flatten() {
            let _ = self.keys.delete_key(t);
        }
    }

    fn record(&self) -> Result<InstanceRecord, WalletError> {
        self.state.load()?.ok_or(WalletError::NotRegistered)
    }

    /// Step 4 (§2.3): a fresh ephemeral key, `GET /nonce`, the attestation request, and the
    /// WAA and WUA, verified (provider signature, WAA bound to the new key, WUA attesting the
    /// credential key) and stored. Also how both are renewed.
    pub fn obtain_attestations(&self) -> Result<Attestations, WalletError> {
        let _guard = self.lock();
        self.renew_locked()
    }

    fn renew_locked(&self) -> Result<Attestations, WalletError> {
        let mut record = self.record()?;
        let waa_key_tag = KeyTag::generate()?;
        let waa_key = self.keys.generate_key(&waa_key_tag)?;
        match self.request_attestations(&record, &waa_key_tag, waa_key) {
            Ok(a) => {
                let old = record.waa_key_tag.replace(waa_key_tag);
                record.wallet_app_attestation = Some(a.wallet_app_attestation.jwt().to_owned());
                record.waa_expires_at = Some(a.wallet_app_attestation.expires_at().secs());
                record.wallet_unit_attestation = Some(a.wallet_unit_attestation.jwt().to_owned());
                record.wua_expires_at = Some(a.wallet_unit_attestation.expires_at().secs());
                self.state.save(&record)?;
                if let Some(old) = old {
                    let _ = self.keys.delete_key(&old);
                }
                Ok(a)
            }
            Err(e) => {
                let _ = self.keys.delete_key(&waa_key_tag);
                Err(e)
            }
        }
    }

    fn request_attestations(&self, record: &InstanceRecord, waa_key_tag: &KeyTag, waa_key: crate::jose::Jwk) -> Result<Attestations, WalletError> {
        let now = self.now();
        let signer = KeyStoreSigner::with_public_key(self.keys.clone(), waa_key_tag.clone(), waa_key);
        let nonce = self.nonce()?;
        let jwt = AttestationRequestBuilder {
            provider: &self.provider,
            nonce: &nonce,
            hardware_key_tag: &record.hardware_key_tag,
            credential_key_tag: &record.credential_key_tag,
            now,
        }
        .build(self.keys.as_ref(), &signer)?;
        let resp = on_attestation_response(&send(self.http.as_ref(), attestation_request(&self.provider, jwt))?)?;
        let w = resp.wallet_attestations;
        let waa = verify_waa(&w.wallet_app_attestation, self.trust.as_ref(), now, DEFAULT_SKEW)?;
        let bad = |detail: &str| WalletError::BadResponse { endpoint: WALLET_ATTESTATION, detail: detail.into() };
        if waa.client_id() != crate::jose::Signer::public_jwk(&signer).thumbprint().as_str() {
            return Err(bad("the WAA is not bound to our key"));
        }
        let wua = verify_wua(&w.wallet_unit_attestation, self.trust.as_ref(), now, DEFAULT_SKEW)?;
        if !wua.attests(&self.keys.public_key(&record.credential_key_tag)?) {
            return Err(bad("the WUA does not attest our credential key"));
        }
        if waa.claims().iss != wua.claims().iss {
            return Err(bad("the WAA and WUA have different issuers"));
        }
        Ok(Attestations { wallet_app_attestation: waa, wallet_unit_attestation: wua })
    }

    /// Login finished: register and obtain the attestations (the whole of WI ACT).
    pub fn activate(&self, session: &CitizenSession) -> Result<Attestations, WalletError> {
        self.register(session)?;
        self.obtain_attestations()
    }

    /// The stored instance, if any.
    pub fn instance(&self) -> Result<Option<InstanceRecord>, WalletError> {
        self.state.load()
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.renewing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh(&self, exp: Option<i64>) -> bool {
        exp.is_some_and(|exp| exp > self.now().plus(self.renew_margin).secs())
    }

    /// The current WAA and its key's tag, from one snapshot of the state, renewed first when
    /// the WAA expires within the renewal margin.
    fn current_waa(&self) -> Result<(String, KeyTag), WalletError> {
        let _guard = self.lock();
        let mut record = self.record()?;
        if !self.fresh(record.waa_expires_at) || record.wallet_app_attestation.is_none() {
            self.renew_locked()?;
            record = self.record()?;
        }
        match (record.wallet_app_attestation, record.waa_key_tag) {
            (Some(waa), Some(tag)) => Ok((waa, tag)),
            _ => Err(WalletError::NoAttestations),
        }
    }

    /// The current WAA, renewed first when it expires within the renewal margin.
    pub fn wallet_app_attestation(&self) -> Result<String, WalletError> {
        Ok(self.current_waa()?.0)
    }

    /// The current WUA, renewed first when it expires within the renewal margin.
    pub fn wallet_unit_attestation(&self) -> Result<String, WalletError> {
        let _guard = self.lock();
        let record = self.record()?;
        match (record.wallet_unit_attestation, self.fresh(record.wua_expires_at)) {
            (Some(wua), true) => Ok(wua),
            _ => Ok(self.renew_locked()?.wallet_unit_attestation.jwt().to_owned()),
        }
    }

    /// The `OAuth-Client-Attestation` and `OAuth-Client-Attestation-PoP` headers for the
    /// issuer `audience` (its id), with the server's `challenge` when it gave one; the WAA is
    /// renewed first if needed.
    pub fn client_attestation_headers(&self, audience: &str, challenge: Option<&str>) -> Result<ClientAttestationHeaders, WalletError> {
        let (waa, tag) = self.current_waa()?;
        let signer = KeyStoreSigner::new(self.keys.clone(), tag)?;
        Ok(client_attestation_headers(&waa, &signer, audience, challenge, self.now())?)
    }

    /// The current WAA and the signer of its key (renewed first when it expires within the
    /// renewal margin), from one snapshot of the state: the authorization code flow signs
    /// its PAR request object with this key and makes every PoP of the flow from the pair,
    /// so that the PAR and the token request name the same client (IT-Wallet 1.4 §3.3).
    pub fn wallet_attestation_key(&self) -> Result<(String, KeyStoreSigner), WalletError> {
        let (waa, tag) = self.current_waa()?;
        Ok((waa, KeyStoreSigner::new(self.keys.clone(), tag)?))
    }

    /// The signer of the credential key the WUA attests (for OpenID4VCI proofs).
    pub fn credential_key_signer(&self) -> Result<KeyStoreSigner, WalletError> {
        let record = self.record()?;
        Ok(KeyStoreSigner::new(self.keys.clone(), record.credential_key_tag)?)
    }

    /// The citizen's instances (`GET /wallet-instances`, §2.4).
    pub fn list_instances(&self, session: &CitizenSession) -> Result<Vec<WalletInstanceInfo>, WalletError> {
        let req = HttpRequest::get(format!("{}{WALLET_INSTANCES}", self.provider))
            .header("Accept", "application/json")
            .bearer(session.bearer(self.now())?);
        json_response(WALLET_INSTANCES, &send(self.http.as_ref(), req)?, 200)
    }

    /// Revokes instance `id` (`PATCH /wallet-instances/{id}`, §2.4). When it is this device's
    /// instance, its keys are deleted and the state forgotten (§2.1: revocation deletes the
    /// hardware keys).
    pub fn revoke_instance(&self, session: &CitizenSession, id: &str) -> Result<(), WalletError> {
        let req = HttpRequest::json(
            HttpMethod::Patch,
            format!("{}{}", self.provider, wallet_instance_path(&super::query::encode(id))),
            &InstanceStatusUpdate { status: InstanceStatus::Revoked },
        )
        .bearer(session.bearer(self.now())?);
        let r = send(self.http.as_ref(), req)?;
        if !(200..300).contains(&r.status) {
            check_status("/wallet-instances/{id}", &r, 204)?;
        }
        let _guard = self.lock();
        if let Some(record) = self.state.load()?
            && record.hardware_key_tag.as_str() == id
        {
            self.delete_keys(&record);
            self.state.clear()?;
        }
        Ok(())
    }
}
