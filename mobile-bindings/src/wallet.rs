//! The [`Wallet`] an app opens: its credentials, presentations and transaction log, over
//! wallet-core's store, SD-JWT VC and federation modules. Each method converts its
//! arguments, calls wallet-core, and converts the result.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use wallet_core::federation::chain::validate;
use wallet_core::federation::resolver::CREDENTIAL_ISSUER;
use wallet_core::federation::{ChainCollector, EntityId, TrustAnchorConfig, ValidatedChain};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{CompactJws, Jwk};
use wallet_core::sd_jwt::{ClaimPath as CorePath, KeyBindingInput, SdJwt, StaticKeyResolver, Verifier};
use wallet_core::store::{
    CredentialId, CredentialStore, DataKey, FileKeyProvider, KeyProvider, NewCredential, NewTransaction, StaticKeyProvider,
    StoredCredential, TransactionKind,
};
use wallet_core::keystore::KeyTag;
use wallet_core::time::UnixTime;
use wallet_core::vc;
use wallet_core::wallet::{CitizenSession, InstanceStore, PendingLogin, WalletActivation};

use crate::activation::{ActivationInfo, CitizenInfo, ClientAttestation, CoreHttp, ProviderTrust, WalletInstance};
use crate::keystore::CoreKeyStore;

use crate::display::{self, IssuerDisplay, Names};
use crate::error::WalletError;
use crate::http::{HttpClient, HttpFetcher};
use crate::keystore::{ForeignSigner, KeyStore, jwk_from_point};
use crate::records::{Claim, ClaimPath, Credential, HolderKey, IssuerInfo, JwkRecord, Presentation, Transaction, WalletConfig};

/// An issuer trusted out of band with a fixed key (issuers outside the federation, tests).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PinnedIssuer {
    /// The issuer's `iss`.
    pub issuer: String,
    /// Its signing key.
    pub key: JwkRecord,
}

/// What the wallet keeps sealed beside each credential.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredMeta {
    key_tag: String,
    display: IssuerDisplay,
    /// The key is not the credential's own (issued credentials are bound to the key the WUA
    /// attests, shared with later issuances): deleting the credential keeps it.
    #[serde(default)]
    shared_key: bool,
}

/// What wallet-core's issuance flow keeps beside a credential it stored
/// (`wallet_core::wallet::issuance`), until [`Wallet::adopt_issued`] rewrites it as
/// [`StoredMeta`].
#[derive(Debug, Deserialize)]
struct IssuedMeta {
    holder_key_tag: String,
    issuer_name: Option<String>,
    logo_uri: Option<String>,
}

/// A citizen's wallet: open one per data directory.
#[derive(uniffi::Object)]
pub struct Wallet {
    pub(crate) store: Arc<CredentialStore>,
    pub(crate) keys: Arc<dyn KeyStore>,
    pub(crate) http: Option<Arc<dyn HttpClient>>,
    pub(crate) anchors: Vec<TrustAnchorConfig>,
    pinned: Vec<(String, Jwk)>,
    pub(crate) locale: Option<String>,
    pub(crate) activation: Option<Arc<WalletActivation>>,
    pub(crate) issuance_redirect_uri: Option<String>,
    pub(crate) required_issuer_marks: Vec<String>,
    pending_login: Mutex<Option<PendingLogin>>,
    session: Mutex<Option<CitizenSession>>,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet").finish_non_exhaustive()
    }
}

fn key_tag(tag: &str) -> Result<KeyTag, WalletError> {
    KeyTag::new(tag).map_err(|e| WalletError::InvalidArgument { reason: e.to_string() })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn parse_id(id: &str) -> Result<CredentialId, WalletError> {
    CredentialId::parse(id).ok_or_else(|| WalletError::CredentialNotFound { id: id.to_owned() })
}

/// The issuer key named by `kid` in a validated chain's credential issuer metadata
/// (the lookup `TrustChainResolver` makes for a `trust_chain` header).
fn key_from_chain(chain: &ValidatedChain, iss: &str, kid: Option<&str>) -> Result<Jwk, WalletError> {
    let untrusted = |reason: &str| WalletError::UntrustedIssuer { issuer: iss.to_owned(), reason: reason.to_owned() };
    if chain.subject.claims.sub.as_str() != iss {
        return Err(untrusted("the trust chain is about another entity"));
    }
    let jwks: JwkSet = chain
        .metadata_of(CREDENTIAL_ISSUER)
        .and_then(|m| m.get("jwks"))
        .and_then(|j| serde_json::from_value(j.clone()).ok())
        .ok_or_else(|| untrusted("no credential issuer keys in its metadata"))?;
    let kid = kid.ok_or_else(|| untrusted("the credential's header has no kid"))?;
    jwks.by_kid(kid).cloned().ok_or_else(|| untrusted("its metadata has no key with the credential's kid"))
}

impl Wallet {
    /// Where the issuer's key comes from, in order: the credential's `trust_chain` header
    /// validated to a configured anchor (no network); a pinned key; the issuer's trust
    /// chain collected over the app's HTTP client.
    fn issuer_trust(&self, sd: &SdJwt, now: UnixTime) -> Result<(String, Jwk, Option<ValidatedChain>), WalletError> {
        let jws = CompactJws::parse(sd.issuer_jwt()).map_err(|e| WalletError::InvalidCredential { rule: e.to_string() })?;
        let payload = sd.unverified_payload()?;
        let iss = payload
            .get("iss")
            .and_then(serde_json::Value::as_str)
            .ok_or(WalletError::InvalidCredential { rule: "no `iss` claim".into() })?
            .to_owned();
        let header = jws.header();
        if let Some(chain) = &header.trust_chain {
            let mut last = String::from("no trust anchor configured");
            for anchor in &self.anchors {
                match validate(chain, anchor, now) {
                    Ok(v) => {
                        let key = key_from_chain(&v, &iss, header.kid.as_deref())?;
                        return Ok((iss, key, Some(v)));
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            return Err(WalletError::UntrustedIssuer { issuer: iss, reason: last });
        }
        if let Some((_, key)) = self.pinned.iter().find(|(i, _)| *i == iss) {
            return Ok((iss, key.clone(), None));
        }
        let Some(http) = &self.http else {
            return Err(WalletError::UntrustedIssuer {
                issuer: iss,
                reason: "no trust_chain header, no pinned key, and no HTTP client to resolve the issuer".into(),
            });
        };
        let id = EntityId::new(iss.clone()).map_err(|e| WalletError::UntrustedIssuer { issuer: iss.clone(), reason: e.to_string() })?;
        let fetcher = HttpFetcher(http.clone());
        let chain = ChainCollector::new(&fetcher, &self.anchors).resolve(&id, now).map_err(|e| match e {
            wallet_core::federation::FederationError::Fetch { url, reason } => {
                WalletError::Network { reason: format!("{url}: {reason}") }
            }
            other => WalletError::UntrustedIssuer { issuer: iss.clone(), reason: other.to_string() },
        })?;
        let key = key_from_chain(&chain, &iss, header.kid.as_deref())?;
        Ok((iss, key, Some(chain)))
    }

    fn import_blocking(&self, credential: &str, key_tag: &str) -> Result<Credential, WalletError> {
        self::key_tag(key_tag)?;
        let now = UnixTime::now();
        let sd = SdJwt::parse(credential)?;
        if sd.kb_jwt().is_some() {
            return Err(WalletError::InvalidCredential { rule: "this is a presentation (it has a KB-JWT), not an issued credential".into() });
        }
        let (iss, key, chain) = self.issuer_trust(&sd, now)?;
        let resolver = StaticKeyResolver::for_issuer(key, iss.clone());
        let verified = vc::verify(&Verifier::new(&resolver), credential, now)?;
        let holder = verified
            .sd_jwt
            .holder_key
            .as_ref()
            .ok_or(WalletError::InvalidCredential { rule: "not bound to a holder key (no cnf.jwk)".into() })?;
        let ours = jwk_from_point(&self.keys.public_key(key_tag.to_owned())?)?;
        if holder.thumbprint() != ours.thumbprint() {
            return Err(WalletError::KeyMismatch { tag: key_tag.to_owned() });
        }
        let vct = verified.vct.as_str().to_owned();
        let display = chain.as_ref().map(|c| IssuerDisplay::from_chain(c, &vct)).unwrap_or_default();
        let meta = StoredMeta { key_tag: key_tag.to_owned(), display, shared_key: false };
        let int = |k: &str| verified.sd_jwt.claims.get(k).and_then(serde_json::Value::as_i64).map(UnixTime);
        let new = NewCredential {
            format: vc::TYP.to_owned(),
            vct,
            issuer: iss.clone(),
            issued_at: int("iat"),
            expires_at: int("exp"),
            credential: sd.serialize(),
            metadata: serde_json::to_value(&meta).map_err(|e| WalletError::Internal { reason: e.to_string() })?,
        };
        let id = self.store.put(&new, now)?;
        self.store.log(&NewTransaction {
            at: now,
            kind: TransactionKind::Issuance,
            counterparty: iss,
            credential_ids: vec![id.clone()],
            claims: Vec::new(),
        })?;
        self.record(&self.store.get(&id)?)
    }

    /// The user claims a selection of `paths` reveals.
    fn revealed(&self, sd: &SdJwt, paths: &[CorePath], meta: &StoredMeta) -> Result<Vec<Claim>, WalletError> {
        let selected = sd.select(paths)?;
        let view = selected.claim_paths()?;
        let disclosable: Vec<CorePath> = view.disclosures.iter().map(|(p, _)| p.clone()).collect();
        Ok(display::claims(&view.claims, &disclosable, &meta.display, self.locale.as_deref()))
    }

    /// A stored credential's key tag, issuer (for display) and claim labels.
    pub(crate) fn presentation_view(&self, id: &CredentialId) -> Result<(String, IssuerInfo, IssuerDisplay), WalletError> {
        let stored = self.store.get(id)?;
        let meta = Self::meta(&stored)?;
        let s = &stored.summary;
        let issuer = IssuerInfo {
            entity_id: s.issuer.clone(),
            name: meta.display.names.pick(self.locale.as_deref()).map(str::to_owned),
            logo_uri: meta.display.logo_uri.clone(),
            trust_anchor: meta.display.trust_anchor.clone(),
        };
        Ok((meta.key_tag, issuer, meta.display))
    }

    fn meta(stored: &StoredCredential) -> Result<StoredMeta, WalletError> {
        if let Ok(m) = serde_json::from_value::<StoredMeta>(stored.metadata.clone()) {
            return Ok(m);
        }
        let issued: IssuedMeta = serde_json::from_value(stored.metadata.clone())
            .map_err(|e| WalletError::Storage { reason: format!("credential {}: metadata: {e}", stored.summary.id) })?;
        let display = IssuerDisplay { names: Names::single(issued.issuer_name), logo_uri: issued.logo_uri, ..IssuerDisplay::default() };
        Ok(StoredMeta { key_tag: issued.holder_key_tag, display, shared_key: true })
    }

    /// Credentials wallet-core's issuance flow just stored: their display data (issuer name
    /// and logo in every language, claim labels, trust anchor) read from the issuer's trust
    /// chain as for an import, and kept as [`StoredMeta`]. Best effort: a credential whose
    /// chain cannot be read keeps what the flow stored (see [`Self::meta`]).
    pub(crate) fn adopt_issued(&self, ids: &[CredentialId]) -> Result<Vec<Credential>, WalletError> {
        let now = UnixTime::now();
        for id in ids {
            let stored = self.store.get(id)?;
            let Ok(sd) = SdJwt::parse(&stored.credential) else { continue };
            let Ok((_, _, Some(chain))) = self.issuer_trust(&sd, now) else { continue };
            let mut meta = Self::meta(&stored)?;
            meta.display = IssuerDisplay::from_chain(&chain, &stored.summary.vct);
            let Ok(metadata) = serde_json::to_value(&meta) else { continue };
            let s = &stored.summary;
            let new = NewCredential {
                format: s.format.clone(),
                vct: s.vct.clone(),
                issuer: s.issuer.clone(),
                issued_at: s.issued_at,
                expires_at: s.expires_at,
                credential: stored.credential.clone(),
                metadata,
            };
            self.store.replace(id, &new, s.stored_at)?;
        }
        ids.iter().map(|id| self.record(&self.store.get(id)?)).collect()
    }

    fn record(&self, stored: &StoredCredential) -> Result<Credential, WalletError> {
        let meta = Self::meta(stored)?;
        let sd = SdJwt::parse(&stored.credential)?;
        let view = sd.claim_paths()?;
        let disclosable: Vec<CorePath> = view.disclosures.iter().map(|(p, _)| p.clone()).collect();
        let s = &stored.summary;
        Ok(Credential {
            id: s.id.as_str().to_owned(),
            format: s.format.clone(),
            vct: s.vct.clone(),
            issuer: IssuerInfo {
                entity_id: s.issuer.clone(),
                name: meta.display.names.pick(self.locale.as_deref()).map(str::to_owned),
                logo_uri: meta.display.logo_uri.clone(),
                trust_anchor: meta.display.trust_anchor.clone(),
            },
            issued_at: s.issued_at.map(UnixTime::secs),
            expires_at: s.expires_at.map(UnixTime::secs),
            stored_at: s.stored_at.secs(),
            claims: display::claims(&view.claims, &disclosable, &meta.display, self.locale.as_deref()),
            key_tag: meta.key_tag,
        })
    }
}

#[uniffi::export]
impl Wallet {
    /// Opens the wallet in `config.data_dir` (created if missing), with the app's key store
    /// and, for network steps, its HTTP client.
    #[uniffi::constructor]
    pub fn open(
        config: WalletConfig,
        key_store: Arc<dyn KeyStore>,
        http_client: Option<Arc<dyn HttpClient>>,
    ) -> Result<Arc<Self>, WalletError> {
        let dir = PathBuf::from(&config.data_dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| WalletError::Storage { reason: format!("cannot create {}: {e}", dir.display()) })?;
        let provider: Box<dyn KeyProvider> = match &config.storage_key {
            Some(k) => {
                let arr: [u8; 32] = k
                    .as_slice()
                    .try_into()
                    .map_err(|_| WalletError::InvalidArgument { reason: "the storage key must be 32 bytes".into() })?;
                Box::new(StaticKeyProvider(DataKey::from_bytes(arr)))
            }
            None => Box::new(FileKeyProvider::new(dir.join("store.key"))),
        };
        let store = Arc::new(CredentialStore::open(dir.join("wallet.db"), provider.as_ref())?);
        let activation = match (&config.wallet_provider, &http_client) {
            (Some(wp), Some(http)) => Some(Arc::new(WalletActivation::new(
                wp.clone(),
                Arc::new(CoreKeyStore(key_store.clone())),
                Arc::new(CoreHttp(http.clone())),
                InstanceStore::open(&dir, provider.as_ref())?,
                Arc::new(ProviderTrust::new(&config.trust_anchors.iter().map(TrustAnchorConfig::try_from).collect::<Result<Vec<_>, _>>()?)),
            ))),
            _ => None,
        };
        let anchors = config.trust_anchors.iter().map(TrustAnchorConfig::try_from).collect::<Result<Vec<_>, _>>()?;
        let pinned = config
            .pinned_issuers
            .iter()
            .map(|p| Ok((p.issuer.clone(), Jwk::try_from(&p.key)?)))
            .collect::<Result<Vec<_>, WalletError>>()?;
        Ok(Arc::new(Self {
            store,
            keys: key_store,
            http: http_client,
            anchors,
            pinned,
            locale: config.locale,
            activation,
            issuance_redirect_uri: config.issuance_redirect_uri,
            required_issuer_marks: config.required_issuer_marks,
            pending_login: Mutex::new(None),
            session: Mutex::new(None),
        }))
    }

    /// Makes a new P-256 key in the key store for a credential to be issued to; give its
    /// public key to the issuer and its tag to [`Self::import_credential`].
    pub fn create_credential_key(&self) -> Result<HolderKey, WalletError> {
        let tag = KeyTag::generate().map_err(crate::keystore::KeyStoreError::from)?.to_string();
        let point = self.keys.generate_key(tag.clone())?;
        let jwk = jwk_from_point(&point)?;
        Ok(HolderKey { tag, public_key: JwkRecord::from(&jwk) })
    }

    /// Every credential, oldest first, with its claims labelled for display.
    pub fn credentials(&self) -> Result<Vec<Credential>, WalletError> {
        self.store.list()?.iter().map(|s| self.record(&self.store.get(&s.id)?)).collect()
    }

    /// One credential.
    pub fn credential(&self, id: String) -> Result<Credential, WalletError> {
        self.record(&self.store.get(&parse_id(&id)?)?)
    }

    /// Deletes a credential and its key (a key store failure on the key is ignored: the
    /// credential is gone, an orphan key harms nobody); an issued credential's key is the one
    /// the WUA attests, shared with the other issued credentials, and is kept. Logged.
    pub fn delete_credential(&self, id: String) -> Result<(), WalletError> {
        let cid = parse_id(&id)?;
        let stored = self.store.get(&cid)?;
        let meta = Self::meta(&stored)?;
        self.store.delete(&cid)?;
        self.store.log(&NewTransaction {
            at: UnixTime::now(),
            kind: TransactionKind::Deletion,
            counterparty: stored.summary.issuer.clone(),
            credential_ids: vec![cid],
            claims: Vec::new(),
        })?;
        if !meta.shared_key {
            let _ignored = self.keys.delete_key(meta.key_tag);
        }
        Ok(())
    }

    /// What a presentation of `claims` from credential `id` would reveal, for the consent
    /// screen: the chosen claims, the claims that are always visible, and the members of a
    /// disclosed object that the issuer did not make separately disclosable.
    pub fn preview_presentation(&self, id: String, claims: Vec<ClaimPath>) -> Result<Vec<Claim>, WalletError> {
        let stored = self.store.get(&parse_id(&id)?)?;
        let meta = Self::meta(&stored)?;
        let paths: Vec<CorePath> = claims.iter().map(CorePath::from).collect();
        self.revealed(&SdJwt::parse(&stored.credential)?, &paths, &meta)
    }

    /// A presentation of credential `id` disclosing `claims` (see
    /// [`Self::preview_presentation`] for what else comes along), with a KB-JWT for
    /// `audience` and `nonce` signed by the credential's key in the key store (the user may
    /// be asked to authenticate). Logged with every claim it reveals.
    pub fn present(&self, id: String, claims: Vec<ClaimPath>, audience: String, nonce: String) -> Result<Presentation, WalletError> {
        let cid = parse_id(&id)?;
        let stored = self.store.get(&cid)?;
        let meta = Self::meta(&stored)?;
        let sd = SdJwt::parse(&stored.credential)?;
        let paths: Vec<CorePath> = claims.iter().map(CorePath::from).collect();
        let disclosed = self.revealed(&sd, &paths, &meta)?;
        let signer = ForeignSigner::new(self.keys.clone(), &meta.key_tag)?;
        let now = UnixTime::now();
        let kb = KeyBindingInput { aud: audience.clone(), nonce, iat: now };
        let sd_jwt = sd.present(Some(&paths), &kb, &signer).map_err(|e| match signer.take_failure() {
            Some(k) => WalletError::from(k),
            None => WalletError::from(e),
        })?;
        self.store.log(&NewTransaction {
            at: now,
            kind: TransactionKind::Presentation,
            counterparty: audience,
            credential_ids: vec![cid],
            claims: disclosed.iter().map(|c| CorePath::from(&c.path).to_string()).collect(),
        })?;
        Ok(Presentation { sd_jwt, disclosed })
    }

    /// The transaction log, oldest first.
    pub fn transactions(&self) -> Result<Vec<Transaction>, WalletError> {
        let outcomes = self.store.outcomes()?;
        Ok(self.store.transactions()?.into_iter().map(|t| {
            let outcome = outcomes.get(&t.seq).map(|(_, o)| o);
            Transaction::with_outcome(t, outcome)
        }).collect())
    }
}

impl Wallet {
    fn activation_flow(&self) -> Result<&WalletActivation, WalletError> {
        self.activation.as_deref().ok_or_else(|| WalletError::NotConfigured {
            what: "activation needs `wallet_provider` in the configuration and an HTTP client".into(),
        })
    }

    fn finish_login_blocking(&self, redirect: &str) -> Result<CitizenSession, WalletError> {
        let flow = self.activation_flow()?;
        let pending = lock(&self.pending_login)
            .take()
            .ok_or_else(|| WalletError::LoginFailed { reason: "no login in progress: call start_login first".into() })?;
        let session = flow.finish_login(&pending, redirect)?;
        *lock(&self.session) = Some(session.clone());
        Ok(session)
    }

    fn session(&self) -> Result<CitizenSession, WalletError> {
        lock(&self.session).clone().ok_or(WalletError::SessionExpired)
    }

    fn this_instance(&self) -> Result<Option<ActivationInfo>, WalletError> {
        Ok(self.activation_flow()?.instance()?.map(ActivationInfo::from))
    }

    /// Runs `f` on a blocking thread (it may wait on the network or the key store).
    pub(crate) async fn blocking<T: Send + 'static>(
        self: Arc<Self>,
        f: impl FnOnce(&Wallet) -> Result<T, WalletError> + Send + 'static,
    ) -> Result<T, WalletError> {
        tokio::task::spawn_blocking(move || f(&self)).await.map_err(|e| WalletError::Internal { reason: format!("task: {e}") })?
    }
}

#[uniffi::export]
impl Wallet {
    /// Activation, step 1: the URL of the citizen's SPID/CIE login at the wallet provider,
    /// to open in a browser; it comes back to `redirect_uri` (the app's link).
    pub fn start_activation(&self, redirect_uri: String) -> Result<String, WalletError> {
        self.start_login(redirect_uri)
    }

    /// The citizen's login alone (to list or revoke instances later): the URL to open.
    pub fn start_login(&self, redirect_uri: String) -> Result<String, WalletError> {
        let pending = self.activation_flow()?.start_login(&redirect_uri)?;
        let url = pending.url();
        *lock(&self.pending_login) = Some(pending);
        Ok(url)
    }

    /// This device's wallet instance, if activated (read locally, no network).
    pub fn activation(&self) -> Result<Option<ActivationInfo>, WalletError> {
        self.this_instance()
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Wallet {
    /// Activation, step 2, from the redirect back to the app (the full URL): finishes the
    /// login, generates the hardware key, registers the instance with its key attestation,
    /// and obtains the Wallet App and Unit Attestations (verified against the provider's
    /// trust chain).
    pub async fn finish_activation(self: Arc<Self>, redirect: String) -> Result<ActivationInfo, WalletError> {
        self.blocking(move |w| {
            let session = w.finish_login_blocking(&redirect)?;
            w.activation_flow()?.activate(&session)?;
            w.this_instance()?.ok_or(WalletError::NotActivated)
        })
        .await
    }

    /// Finishes a login started with [`Self::start_login`]; the session is kept for
    /// [`Self::list_instances`] and [`Self::revoke_instance`].
    pub async fn finish_login(self: Arc<Self>, redirect: String) -> Result<CitizenInfo, WalletError> {
        self.blocking(move |w| {
            let s = w.finish_login_blocking(&redirect)?;
            Ok(CitizenInfo { fiscal_number: s.fiscal_number.clone(), session_expires_at: s.expires_at })
        })
        .await
    }

    /// Obtains a fresh WAA and WUA.
    pub async fn renew_attestations(self: Arc<Self>) -> Result<ActivationInfo, WalletError> {
        self.blocking(|w| {
            w.activation_flow()?.obtain_attestations()?;
            w.this_instance()?.ok_or(WalletError::NotActivated)
        })
        .await
    }

    /// The `OAuth-Client-Attestation` headers for the credential issuer `audience`, with
    /// its `challenge` when it gave one (the WAA is renewed first when about to expire).
    pub async fn client_attestation(self: Arc<Self>, audience: String, challenge: Option<String>) -> Result<ClientAttestation, WalletError> {
        self.blocking(move |w| {
            let h = w.activation_flow()?.client_attestation_headers(&audience, challenge.as_deref())?;
            Ok(ClientAttestation { attestation: h.attestation, pop: h.pop })
        })
        .await
    }

    /// The logged-in citizen's wallet instances at the provider.
    pub async fn list_instances(self: Arc<Self>) -> Result<Vec<WalletInstance>, WalletError> {
        self.blocking(|w| {
            let ours = w.this_instance()?.map(|i| i.instance_id);
            let list = w.activation_flow()?.list_instances(&w.session()?)?;
            Ok(list.into_iter().map(|i| WalletInstance::from_core(i, ours.as_deref())).collect())
        })
        .await
    }

    /// Revokes one of the citizen's instances (a lost phone). Revoking this device's
    /// instance also deletes its keys and forgets its attestations.
    pub async fn revoke_instance(self: Arc<Self>, id: String) -> Result<(), WalletError> {
        self.blocking(move |w| Ok(w.activation_flow()?.revoke_instance(&w.session()?, &id)?)).await
    }

    /// Verifies an issued SD-JWT VC and stores it, bound to the key `key_tag` (made by
    /// [`Self::create_credential_key`]). The issuer must be trusted: a `trust_chain` header
    /// to a configured anchor, a pinned key, or a trust chain resolved over the HTTP client
    /// (the network step). Logged. Returns the stored credential.
    pub async fn import_credential(self: Arc<Self>, credential: String, key_tag: String) -> Result<Credential, WalletError> {
        self.blocking(move |w| w.import_blocking(&credential, &key_tag)).await
    }
}
