//! Issuance for the app (IT-Wallet 1.4 §3.1, §3.3; OpenID4VCI 1.0 §4-§9), over wallet-core's
//! `wallet::issuance::WalletIssuance`. [`Wallet::start_issuance`] reads an offer (scanned or
//! opened: `openid-credential-offer://`, `haip-vci://`, by value or by reference),
//! [`Wallet::start_issuance_from_issuer`] asks an issuer itself (wallet-initiated); both fetch
//! the issuer's metadata and federation trust chain and return an [`IssuanceSession`] whose
//! [`IssuanceConsent`] the app shows. [`IssuanceSession::next_step`] then says what comes:
//!
//! * `Accept` (pre-authorized code): [`IssuanceSession::accept`] with the transaction code;
//! * `Authorize` (authorization code): [`IssuanceSession::authorize`] with the app's
//!   [`BrowserStep`]: PAR and `/authorize`, then the citizen's SPID/CIE login in the browser
//!   (the PID provider), or `PresentPid` (the other issuers ask for the PID over OpenID4VP):
//!   [`IssuanceSession::present_pid`] with the citizen's choice, or
//!   [`IssuanceSession::decline_pid`];
//! * `Refused` (an untrusted issuer: nothing is sent to it), `Done`.
//!
//! Either way the token (DPoP), a proof of the key the WUA attests, every credential verified
//! before it is stored, logged, the issuer notified: the stored [`Credential`]s, or a
//! [`DeferredIssuance`] to poll. A call out of order is refused
//! ([`WalletError::IssuanceOutOfOrder`]) and changes nothing.
//!
//! A deferred issuance lives in memory (its access token and DPoP key are not persisted): if
//! the app's process dies, the citizen starts again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use wallet_core::oid4vci::offer::TxInputMode;
use wallet_core::wallet::HttpClient as CoreHttpClient;
use wallet_core::wallet::issuance::{self as core, AuthorizationStep, IssuanceError, IssuanceStep, IssuerTrust as CoreTrust};
use wallet_core::wallet::presentation::PresentationStep;
use wallet_core::wallet::{IssuanceKeys, WalletIssuance};

use crate::activation::CoreHttp;
use crate::browser::{BrowserError, BrowserStep, ForeignBrowser};
use crate::error::WalletError;
use crate::presentation::{ConsentRecord, ConsentSelection, selections};
use crate::records::Credential;
use crate::wallet::Wallet;

/// A step of the issuance, named by the errors it can end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum IssuanceStage {
    /// Reading the offer (the `credential_offer_uri` fetch included).
    Offer,
    /// The pushed authorization request (authorization code flow).
    Par,
    /// The authorization endpoint and the redirect back (authorization code flow).
    Authorization,
    /// The PID presentation an issuer asks for at its authorization endpoint.
    Presentation,
    /// The issuer's metadata.
    Metadata,
    /// The issuer's trust chain.
    Federation,
    /// The token endpoint (the transaction code is checked here).
    Token,
    /// The nonce endpoint.
    Nonce,
    /// The key proofs.
    Proof,
    /// The credential endpoint.
    Credential,
    /// The deferred credential endpoint.
    Deferred,
    /// The checks on what came back.
    Verification,
    /// Storing.
    Store,
    /// The notification endpoint.
    Notification,
}

impl From<IssuanceStep> for IssuanceStage {
    fn from(s: IssuanceStep) -> Self {
        match s {
            IssuanceStep::Offer => Self::Offer,
            IssuanceStep::Par => Self::Par,
            IssuanceStep::Authorization => Self::Authorization,
            IssuanceStep::Presentation => Self::Presentation,
            IssuanceStep::Metadata => Self::Metadata,
            IssuanceStep::Federation => Self::Federation,
            IssuanceStep::Token => Self::Token,
            IssuanceStep::Nonce => Self::Nonce,
            IssuanceStep::Proof => Self::Proof,
            IssuanceStep::Credential => Self::Credential,
            IssuanceStep::Deferred => Self::Deferred,
            IssuanceStep::Verification => Self::Verification,
            IssuanceStep::Store => Self::Store,
            IssuanceStep::Notification => Self::Notification,
        }
    }
}

impl std::fmt::Display for IssuanceStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Self::Offer => "offer",
            Self::Par => "par",
            Self::Authorization => "authorization",
            Self::Presentation => "presentation",
            Self::Metadata => "metadata",
            Self::Federation => "federation",
            Self::Token => "token",
            Self::Nonce => "nonce",
            Self::Proof => "proof",
            Self::Credential => "credential",
            Self::Deferred => "deferred credential",
            Self::Verification => "verification",
            Self::Store => "store",
            Self::Notification => "notification",
        };
        f.write_str(s)
    }
}

impl From<IssuanceError> for WalletError {
    fn from(e: IssuanceError) -> Self {
        match e {
            IssuanceError::Http { step, source } => Self::Network { reason: format!("{step}: {source}") },
            IssuanceError::Issuer { step, status, error, .. } => Self::IssuerRefused { stage: step.into(), status, error },
            IssuanceError::BadResponse { step, detail } => Self::IssuerProtocol { stage: step.into(), reason: detail },
            IssuanceError::Metadata(m) => Self::IssuerProtocol { stage: IssuanceStage::Metadata, reason: m.to_string() },
            IssuanceError::Untrusted { issuer, reason } => Self::UntrustedIssuer { issuer, reason },
            e @ (IssuanceError::Offer(_) | IssuanceError::NotDeclared(_) | IssuanceError::UnsupportedGrant(_)) => {
                Self::InvalidOffer { reason: e.to_string() }
            }
            IssuanceError::TxCode(reason) => Self::InvalidTxCode { reason: reason.to_owned() },
            IssuanceError::Credential { index, rule } => Self::InvalidCredential { rule: format!("credential {index}: {rule}") },
            IssuanceError::Wallet(w) => w.into(),
            IssuanceError::Store(reason) => Self::Storage { reason },
            IssuanceError::AuthorizationDenied { error, .. } => Self::AuthorizationDenied { stage: IssuanceStage::Authorization, error },
            IssuanceError::Authorization { step, rule } => Self::IssuerProtocol { stage: step.into(), reason: rule.to_string() },
            IssuanceError::NoRedirectUri => {
                Self::NotConfigured { what: "the authorization code flow needs `issuance_redirect_uri` in the configuration".into() }
            }
            IssuanceError::Browser(reason) => Self::LoginFailed { reason },
            IssuanceError::Presentation { error: Some(error), .. } => Self::AuthorizationDenied { stage: IssuanceStage::Presentation, error },
            // Building the response from the citizen's choice: nothing was sent.
            IssuanceError::Presentation { step: PresentationStep::Response, detail, .. } => Self::InvalidChoice { reason: detail },
            IssuanceError::Presentation { detail, .. } => Self::IssuerProtocol { stage: IssuanceStage::Presentation, reason: detail },
            other => Self::Internal { reason: other.to_string() },
        }
    }
}

/// Whether the issuer is trusted.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum IssuerTrust {
    /// Its trust chain reaches a configured trust anchor, and its federation metadata
    /// declares what it offers.
    Trusted {
        /// The trust anchor.
        trust_anchor: String,
        /// The trust marks its Entity Configuration carries, each as checked (static under
        /// the anchor's `trust_mark_issuers`, plus the status its issuer reports).
        trust_marks: Vec<crate::presentation::TrustMarkInfo>,
    },
    /// Not trusted (not in the federation, offering what it did not declare there, or
    /// holding none of `WalletConfig.requiredIssuerMarks` valid):
    /// [`IssuanceSession::accept`] refuses it.
    Untrusted {
        /// Why.
        reason: String,
    },
}

/// One offered credential.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OfferedCredential {
    /// The credential configuration id.
    pub configuration_id: String,
    /// Its `vct`.
    pub vct: Option<String>,
    /// Its display name, from the issuer's metadata.
    pub name: Option<String>,
}

/// How the transaction code is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TxCodeInputMode {
    /// Digits only (a numeric keypad).
    Numeric,
    /// Any characters.
    Text,
}

/// The transaction code the citizen received out of band (OpenID4VCI §4.1.1 `tx_code`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TxCodeRequest {
    /// How it is typed.
    pub input_mode: TxCodeInputMode,
    /// Its length, when the offer gives it.
    pub length: Option<u32>,
    /// The issuer's hint on where to find it.
    pub description: Option<String>,
}

/// What the citizen consents to: who issues what.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssuanceConsent {
    /// The issuer's entity id (`credential_issuer`).
    pub issuer_id: String,
    /// Its display name (its metadata's `display`, else its federation `organization_name`).
    pub issuer_name: Option<String>,
    /// Its logo.
    pub logo_uri: Option<String>,
    /// Trusted or not, and why.
    pub trust: IssuerTrust,
    /// What is offered.
    pub credentials: Vec<OfferedCredential>,
    /// The transaction code to ask for, when the offer needs one.
    pub tx_code: Option<TxCodeRequest>,
}

impl From<&core::IssuanceConsent> for IssuanceConsent {
    fn from(c: &core::IssuanceConsent) -> Self {
        Self {
            issuer_id: c.issuer.clone(),
            issuer_name: c.issuer_name.clone(),
            logo_uri: c.logo_uri.clone(),
            trust: match &c.trust {
                CoreTrust::Trusted { trust_anchor, trust_marks } => {
                    IssuerTrust::Trusted { trust_anchor: trust_anchor.clone(), trust_marks: trust_marks.iter().map(crate::presentation::TrustMarkInfo::from).collect() }
                }
                CoreTrust::Untrusted { reason } => IssuerTrust::Untrusted { reason: reason.clone() },
            },
            credentials: c
                .credentials
                .iter()
                .map(|o| OfferedCredential { configuration_id: o.configuration_id.clone(), vct: o.vct.clone(), name: o.name.clone() })
                .collect(),
            tx_code: c.tx_code.as_ref().map(|t| TxCodeRequest {
                input_mode: match t.input_mode.unwrap_or(TxInputMode::Numeric) {
                    TxInputMode::Numeric => TxCodeInputMode::Numeric,
                    TxInputMode::Text => TxCodeInputMode::Text,
                },
                length: t.length,
                description: t.description.clone(),
            }),
        }
    }
}

/// What the session waits for next. Apps should keep an `else` branch: later protocol
/// versions may add steps.
// The consent record is large; uniffi passes these by value (no `Box` across the FFI).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum IssuanceNextStep {
    /// A pre-authorized offer: show the consent; on yes, [`IssuanceSession::accept`] with the
    /// transaction code when `tx_code` is set.
    Accept {
        /// The code to ask for, if any.
        tx_code: Option<TxCodeRequest>,
    },
    /// The authorization code flow (an offer with an `authorization_code` grant, or
    /// [`Wallet::start_issuance_from_issuer`]): show the consent; on yes,
    /// [`IssuanceSession::authorize`] with the app's [`BrowserStep`].
    Authorize,
    /// The issuer identifies the citizen by their PID (OpenID4VP, IT-Wallet 1.4 §3.1): show
    /// `consent` (the issuer is the relying party), then [`IssuanceSession::present_pid`]
    /// with the citizen's choice, or [`IssuanceSession::decline_pid`].
    PresentPid {
        /// What the issuer asks for and which stored credentials can answer.
        consent: ConsentRecord,
        /// For each request, its first candidate.
        default_choice: Vec<ConsentSelection>,
    },
    /// The issuer is not trusted: show why; nothing will be sent to it.
    Refused {
        /// Why.
        reason: String,
    },
    /// Over: issued (or deferred), or the PID presentation declined.
    Done,
}

/// How [`IssuanceSession::authorize`] ended.
#[allow(clippy::large_enum_variant)] // as IssuanceNextStep
#[derive(Debug, Clone, uniffi::Enum)]
pub enum AuthorizationOutcome {
    /// The citizen was authenticated (in the browser, or at once): the issuance went on to
    /// its end.
    Completed {
        /// Issued or deferred.
        outcome: IssuanceOutcome,
    },
    /// The issuer asks for the PID: the session's next step is
    /// [`IssuanceNextStep::PresentPid`] with these.
    PresentPid {
        /// What the issuer asks for and which stored credentials can answer.
        consent: ConsentRecord,
        /// For each request, its first candidate.
        default_choice: Vec<ConsentSelection>,
    },
}

/// How an accepted issuance ended.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum IssuanceOutcome {
    /// Verified and stored.
    Issued {
        /// The stored credentials.
        credentials: Vec<Credential>,
    },
    /// The issuer will issue later: keep the handle and poll it.
    Deferred {
        /// The pending issuance.
        deferred: Arc<DeferredIssuance>,
    },
    /// An offer of several configurations, some of them not issued at once: what was stored,
    /// a handle for each configuration the issuer will issue later, and why each other one
    /// failed (nothing of it stored). At least one configuration was issued or deferred.
    Several {
        /// The stored credentials, of every configuration issued.
        credentials: Vec<Credential>,
        /// The pending issuances, one per deferred configuration.
        deferred: Vec<Arc<DeferredIssuance>>,
        /// The configurations that failed.
        failed: Vec<ConfigurationFailure>,
    },
}

/// A configuration of an offer that could not be issued ([`IssuanceOutcome::Several`]).
#[derive(Debug, Clone, uniffi::Record)]
pub struct ConfigurationFailure {
    /// The `credential_configuration_id`.
    pub configuration_id: String,
    /// The error's code ([`WalletError::code`]).
    pub code: String,
    /// The error, for the logs.
    pub detail: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// wallet-core's HTTP seam over the app's client, counting the requests that got no
/// response: wallet-core reports a failed PID presentation as text, this tells a network
/// failure apart.
pub(crate) struct ProbedHttp {
    inner: CoreHttp,
    failures: AtomicU64,
}

impl CoreHttpClient for ProbedHttp {
    fn send(&self, r: wallet_core::wallet::HttpRequest) -> Result<wallet_core::wallet::HttpResponse, wallet_core::wallet::HttpError> {
        self.inner.send(r).inspect_err(|_| {
            self.failures.fetch_add(1, Ordering::Relaxed);
        })
    }
}

impl Wallet {
    /// The issuance flow over this wallet's HTTP client, attested keys, store, anchors and
    /// `redirect_uri`.
    pub(crate) fn issuance_flow(&self) -> Result<(Arc<WalletIssuance>, Arc<ProbedHttp>), WalletError> {
        self.issuance_core().map(|(flow, probe)| (Arc::new(flow), probe))
    }

    /// The issuance flow before it is shared, for a caller that adds to it.
    pub(crate) fn issuance_core(&self) -> Result<(WalletIssuance, Arc<ProbedHttp>), WalletError> {
        let (Some(http), Some(activation)) = (&self.http, &self.activation) else {
            return Err(WalletError::NotConfigured {
                what: "issuance needs `wallet_provider` in the configuration and an HTTP client".into(),
            });
        };
        let keys: Arc<dyn IssuanceKeys> = activation.clone();
        let probe = Arc::new(ProbedHttp { inner: CoreHttp(http.clone()), failures: AtomicU64::new(0) });
        // The anchors' X.509 roots (each taken from its anchor, checked against its keys): a
        // credential's `x5c` and the CRLs it names are checked before it is stored.
        let mut flow = WalletIssuance::new(probe.clone(), keys, self.store.clone(), self.anchors.clone())
            .with_anchor_roots()
            .with_required_issuer_marks(self.required_issuer_marks.clone());
        if let Some(uri) = &self.issuance_redirect_uri {
            flow = flow.with_redirect_uri(uri.clone());
        }
        Ok((flow, probe))
    }

    fn outcome(self: &Arc<Self>, flow: &Arc<WalletIssuance>, out: core::IssuanceOutcome) -> Result<IssuanceOutcome, WalletError> {
        match out {
            core::IssuanceOutcome::Issued(ids) => Ok(IssuanceOutcome::Issued { credentials: self.adopt_issued(&ids)? }),
            // An offer of several configurations: everything issued adopted, a handle for
            // each one deferred, each failure named; all issued at once reads as `Issued`.
            core::IssuanceOutcome::Several(each) => {
                let (mut ids, mut deferred, mut failed) = (Vec::new(), Vec::new(), Vec::new());
                for c in each {
                    match c.outcome {
                        Ok(core::IssuanceOutcome::Deferred(d)) => {
                            if let IssuanceOutcome::Deferred { deferred: handle } = self.outcome(flow, core::IssuanceOutcome::Deferred(d))? {
                                deferred.push(handle);
                            }
                        }
                        Ok(o) => ids.extend(o.issued()),
                        Err(e) => {
                            let e = WalletError::from(e);
                            failed.push(ConfigurationFailure { configuration_id: c.configuration_id, code: e.code(), detail: e.to_string() });
                        }
                    }
                }
                let credentials = self.adopt_issued(&ids)?;
                if deferred.is_empty() && failed.is_empty() {
                    return Ok(IssuanceOutcome::Issued { credentials });
                }
                Ok(IssuanceOutcome::Several { credentials, deferred, failed })
            }
            core::IssuanceOutcome::Deferred(d) => Ok(IssuanceOutcome::Deferred {
                deferred: Arc::new(DeferredIssuance {
                    wallet: self.clone(),
                    flow: flow.clone(),
                    configuration_id: WalletIssuance::deferred_configuration(&d).to_owned(),
                    interval: Mutex::new(d.interval),
                    pending: Mutex::new(Some(d)),
                }),
            }),
        }
    }

    async fn open_issuance(
        self: Arc<Self>,
        start: impl FnOnce(&WalletIssuance) -> Result<core::IssuanceSession, IssuanceError> + Send + 'static,
    ) -> Result<Arc<IssuanceSession>, WalletError> {
        let wallet = self.clone();
        let (flow, probe, session) = self
            .blocking(move |w| {
                let (flow, probe) = w.issuance_flow()?;
                let session = start(&flow)?;
                Ok((flow, probe, session))
            })
            .await?;
        let consent = IssuanceConsent::from(&session.consent);
        let grants = &session.offer().grants;
        let grant = if grants.pre_authorized_code.is_some() { Grant::PreAuthorized } else { Grant::AuthorizationCode };
        Ok(Arc::new(IssuanceSession { wallet, flow, probe, session, consent, grant, state: Mutex::new(State::Open), running: Mutex::new(()) }))
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Wallet {
    /// Opens a credential offer (the scanned or opened URL): fetches it when by reference,
    /// the issuer's metadata and its trust chain (network). An issuer outside the federation
    /// gives a session whose consent says so. Needs an activated wallet to accept or
    /// authorize; an offer with an `authorization_code` grant needs `issuance_redirect_uri`
    /// in the configuration.
    pub async fn start_issuance(self: Arc<Self>, offer_url: String) -> Result<Arc<IssuanceSession>, WalletError> {
        self.open_issuance(move |flow| flow.start_from_offer(&offer_url)).await
    }

    /// A wallet-initiated issuance (IT-Wallet 1.4 §3.1, the authorization code flow): asks
    /// the issuer `issuer_url` (its entity id, e.g. the PID provider) for the credential
    /// configurations `configuration_ids` (ids of its metadata's
    /// `credential_configurations_supported`, e.g. `dc_sd_jwt_PersonIdentificationData`).
    /// Fetches its metadata and trust chain; the session's next step is
    /// [`IssuanceNextStep::Authorize`], or `Refused` for an issuer outside the federation.
    pub async fn start_issuance_from_issuer(self: Arc<Self>, issuer_url: String, configuration_ids: Vec<String>) -> Result<Arc<IssuanceSession>, WalletError> {
        if configuration_ids.is_empty() {
            return Err(WalletError::InvalidArgument { reason: "no credential configuration asked for".into() });
        }
        self.open_issuance(move |flow| {
            let ids: Vec<&str> = configuration_ids.iter().map(String::as_str).collect();
            flow.start_from_issuer(issuer_url.trim_end_matches('/'), &ids)
        })
        .await
    }
}

/// Which grant continues the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// [`IssuanceSession::accept`].
    PreAuthorized,
    /// [`IssuanceSession::authorize`].
    AuthorizationCode,
}

/// Where a session is.
enum State {
    /// Opened: waiting for `accept` or `authorize` (by its grant).
    Open,
    /// The issuer asked for the PID.
    Pid {
        step: Arc<core::PresentationAuthorization>,
        consent: Box<ConsentRecord>,
        default_choice: Vec<ConsentSelection>,
    },
    /// Issued (or deferred), or the PID presentation declined.
    Closed,
}

/// An opened issuance (an offer, or asked of an issuer): its consent, then the steps
/// [`IssuanceSession::next_step`] names, in order.
#[derive(uniffi::Object)]
pub struct IssuanceSession {
    wallet: Arc<Wallet>,
    flow: Arc<WalletIssuance>,
    probe: Arc<ProbedHttp>,
    session: core::IssuanceSession,
    consent: IssuanceConsent,
    grant: Grant,
    state: Mutex<State>,
    /// Held through a call that talks to the issuer: a second call meanwhile is refused.
    running: Mutex<()>,
}

impl std::fmt::Debug for IssuanceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuanceSession").field("issuer", &self.consent.issuer_id).finish_non_exhaustive()
    }
}

/// The name of what `step` waits for, for [`WalletError::IssuanceOutOfOrder`].
fn waits_for(step: &IssuanceNextStep) -> &'static str {
    match step {
        IssuanceNextStep::Accept { .. } => "accept",
        IssuanceNextStep::Authorize => "authorize",
        IssuanceNextStep::PresentPid { .. } => "presentPid or declinePid",
        IssuanceNextStep::Refused { .. } => "nothing (the issuer is not trusted)",
        IssuanceNextStep::Done => "nothing (it is over)",
    }
}

impl IssuanceSession {
    /// Runs `call` unless another call is running, the session is over, or the issuer is
    /// untrusted (nothing is sent to it).
    fn exclusive<T>(&self, name: &str, call: impl FnOnce() -> Result<T, WalletError>) -> Result<T, WalletError> {
        let Ok(_running) = self.running.try_lock() else {
            return Err(WalletError::IssuanceOutOfOrder { call: name.into(), waiting_for: "the call already running to finish".into() });
        };
        if matches!(*lock(&self.state), State::Closed) {
            return Err(WalletError::IssuanceClosed);
        }
        if let IssuerTrust::Untrusted { reason } = &self.consent.trust {
            return Err(WalletError::UntrustedIssuer { issuer: self.consent.issuer_id.clone(), reason: reason.clone() });
        }
        call()
    }

    /// Refuses `name` unless the session waits for it.
    fn expect(&self, name: &str, fits: impl Fn(&IssuanceNextStep) -> bool) -> Result<(), WalletError> {
        let step = self.next_step();
        if fits(&step) { Ok(()) } else { Err(WalletError::IssuanceOutOfOrder { call: name.into(), waiting_for: waits_for(&step).into() }) }
    }

    /// wallet-core's error, typed; a refused PID presentation names this issuer.
    fn error(&self, e: IssuanceError, network_failures_before: u64) -> WalletError {
        match e {
            IssuanceError::Presentation { untrusted: true, detail, .. } => WalletError::UntrustedIssuer { issuer: self.consent.issuer_id.clone(), reason: detail },
            IssuanceError::Presentation { error: None, detail, .. } if self.probe.failures.load(Ordering::Relaxed) > network_failures_before => {
                WalletError::Network { reason: detail }
            }
            other => other.into(),
        }
    }

    fn accept_blocking(self: &Arc<Self>, tx_code: Option<&str>) -> Result<IssuanceOutcome, WalletError> {
        self.exclusive("accept", || {
            self.expect("accept", |s| matches!(s, IssuanceNextStep::Accept { .. }))?;
            // Checked before the token request spends the pre-authorized code.
            if self.wallet.activation()?.and_then(|a| a.wallet_unit_attestation).is_none() {
                return Err(WalletError::NotActivated);
            }
            let out = self.flow.accept(&self.session, tx_code)?;
            // The issuer has answered: the pre-authorized code is spent.
            *lock(&self.state) = State::Closed;
            self.wallet.outcome(&self.flow, out)
        })
    }

    fn authorize_blocking(self: &Arc<Self>, browser: Arc<dyn BrowserStep>) -> Result<AuthorizationOutcome, WalletError> {
        self.exclusive("authorize", || {
            self.expect("authorize", |s| matches!(s, IssuanceNextStep::Authorize))?;
            let before = self.probe.failures.load(Ordering::Relaxed);
            let out = match self.flow.authorize(&self.session).map_err(|e| self.error(e, before))? {
                AuthorizationStep::Done(out) => out,
                AuthorizationStep::Browser(b) => {
                    let browser = ForeignBrowser::new(browser);
                    self.flow.complete_in_browser(&b, &browser).map_err(|e| match browser.take_failure() {
                        Some(BrowserError::Cancelled) => WalletError::UserCancelled,
                        Some(f) => WalletError::LoginFailed { reason: f.to_string() },
                        None => self.error(e, before),
                    })?
                }
                AuthorizationStep::Presentation(p) => {
                    let consent = self.wallet.consent_record(p.consent())?;
                    let default_choice = selections(p.consent().default_choice());
                    *lock(&self.state) = State::Pid { step: Arc::from(p), consent: Box::new(consent.clone()), default_choice: default_choice.clone() };
                    return Ok(AuthorizationOutcome::PresentPid { consent, default_choice });
                }
            };
            *lock(&self.state) = State::Closed;
            Ok(AuthorizationOutcome::Completed { outcome: self.wallet.outcome(&self.flow, out)? })
        })
    }

    fn pid_step(&self) -> Option<Arc<core::PresentationAuthorization>> {
        match &*lock(&self.state) {
            State::Pid { step, .. } => Some(step.clone()),
            _ => None,
        }
    }

    fn present_pid_blocking(self: &Arc<Self>, choice: &[ConsentSelection]) -> Result<IssuanceOutcome, WalletError> {
        self.exclusive("presentPid", || {
            self.expect("presentPid", |s| matches!(s, IssuanceNextStep::PresentPid { .. }))?;
            let step = self.pid_step().ok_or(WalletError::IssuanceClosed)?;
            let (choice, keys) = self.wallet.chosen(choice)?;
            let before = self.probe.failures.load(Ordering::Relaxed);
            match self.flow.present_pid(&step, &choice, &keys) {
                Ok(out) => {
                    *lock(&self.state) = State::Closed;
                    self.wallet.outcome(&self.flow, out)
                }
                Err(e) => {
                    let e = match keys.take_failure() {
                        Some(k) => WalletError::from(k),
                        None => self.error(e, before),
                    };
                    // Refused before anything was sent: the same request can be answered
                    // again. Otherwise it is spent: authorize again (a new request).
                    let unsent = matches!(e, WalletError::InvalidChoice { .. } | WalletError::UserCancelled | WalletError::KeyStoreFailed { .. } | WalletError::KeyNotFound { .. });
                    if !unsent {
                        *lock(&self.state) = State::Open;
                    }
                    Err(e)
                }
            }
        })
    }

    fn decline_pid_blocking(&self) -> Result<(), WalletError> {
        self.exclusive("declinePid", || {
            self.expect("declinePid", |s| matches!(s, IssuanceNextStep::PresentPid { .. }))?;
            let step = self.pid_step().ok_or(WalletError::IssuanceClosed)?;
            let before = self.probe.failures.load(Ordering::Relaxed);
            // Declined is declined, whether or not `access_denied` reached the issuer.
            *lock(&self.state) = State::Closed;
            self.flow.decline_pid(&step).map_err(|e| self.error(e, before))
        })
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, WalletError> + Send + 'static) -> Result<T, WalletError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| WalletError::Internal { reason: format!("task: {e}") })?
}

#[uniffi::export(async_runtime = "tokio")]
impl IssuanceSession {
    /// Who issues what, trusted or not, and whether a transaction code is needed.
    pub fn consent(&self) -> IssuanceConsent {
        self.consent.clone()
    }

    /// What to do next (while a call runs: what the session waited for when it started).
    pub fn next_step(&self) -> IssuanceNextStep {
        if let IssuerTrust::Untrusted { reason } = &self.consent.trust {
            return IssuanceNextStep::Refused { reason: reason.clone() };
        }
        match &*lock(&self.state) {
            State::Closed => IssuanceNextStep::Done,
            State::Pid { consent, default_choice, .. } => IssuanceNextStep::PresentPid { consent: (**consent).clone(), default_choice: default_choice.clone() },
            State::Open => match self.grant {
                Grant::PreAuthorized => IssuanceNextStep::Accept { tx_code: self.consent.tx_code.clone() },
                Grant::AuthorizationCode => IssuanceNextStep::Authorize,
            },
        }
    }

    /// A pre-authorized offer: the citizen consented (and typed `tx_code` when asked): token,
    /// nonce, key proofs by the key the WUA attests (the key store signs; the user may be
    /// asked to authenticate), credential; every credential verified before it is stored;
    /// logged; the issuer notified. A failure (a wrong code: [`WalletError::IssuerRefused`]
    /// `invalid_grant` at [`IssuanceStage::Token`]) leaves the session open to try again, as
    /// far as the issuer allows; after success it is closed ([`WalletError::IssuanceClosed`]).
    pub async fn accept(self: Arc<Self>, tx_code: Option<String>) -> Result<IssuanceOutcome, WalletError> {
        blocking(move || self.accept_blocking(tx_code.as_deref())).await
    }

    /// The authorization code flow: the citizen consented. The pushed authorization request
    /// (signed with the WAA's key, PKCE), then the issuer's authorization endpoint says how
    /// the citizen is identified: a login in the browser (`browser.open` is called with the
    /// identity provider's URL and the wallet's `redirect_uri`, and returns the redirect back;
    /// then the token and the credential: [`AuthorizationOutcome::Completed`]), or the PID
    /// ([`AuthorizationOutcome::PresentPid`]: answer with [`Self::present_pid`] or
    /// [`Self::decline_pid`]). A failure (the browser closed: [`WalletError::UserCancelled`];
    /// the issuer's error redirect: [`WalletError::AuthorizationDenied`]) leaves the session
    /// open to authorize again, with a new request.
    pub async fn authorize(self: Arc<Self>, browser: Arc<dyn BrowserStep>) -> Result<AuthorizationOutcome, WalletError> {
        blocking(move || self.authorize_blocking(browser)).await
    }

    /// Presents the PID claims the citizen chose (per request, the candidate picked; KB-JWT
    /// signed in the key store) to the issuer, whose answer carries the authorization code;
    /// then the token and the credential. Logged (the presentation, then the issuance). A
    /// choice that does not fit ([`WalletError::InvalidChoice`]) or a cancelled signature
    /// leaves the step open; any other failure means the request is spent: the next step is
    /// `Authorize` again.
    pub async fn present_pid(self: Arc<Self>, choice: Vec<ConsentSelection>) -> Result<IssuanceOutcome, WalletError> {
        blocking(move || self.present_pid_blocking(&choice)).await
    }

    /// The citizen declines to present the PID: `access_denied` to the issuer (logged as a
    /// declined presentation). Nothing is issued; the session is over.
    pub async fn decline_pid(self: Arc<Self>) -> Result<(), WalletError> {
        blocking(move || self.decline_pid_blocking()).await
    }
}

/// An issuance the issuer finishes later (OpenID4VCI §9): poll it after `interval_secs`.
#[derive(uniffi::Object)]
pub struct DeferredIssuance {
    wallet: Arc<Wallet>,
    flow: Arc<WalletIssuance>,
    configuration_id: String,
    interval: Mutex<u64>,
    pending: Mutex<Option<Box<core::DeferredIssuance>>>,
}

impl std::fmt::Debug for DeferredIssuance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredIssuance").field("configuration_id", &self.configuration_id).finish_non_exhaustive()
    }
}

impl DeferredIssuance {
    fn poll_blocking(self: &Arc<Self>) -> Result<IssuanceOutcome, WalletError> {
        let mut pending = lock(&self.pending);
        let d = pending.take().ok_or(WalletError::IssuanceClosed)?;
        // wallet-core consumes the pending issuance: after an error it is gone.
        match self.flow.poll_deferred(d)? {
            core::IssuanceOutcome::Deferred(d) => {
                *lock(&self.interval) = d.interval;
                *pending = Some(d);
                Ok(IssuanceOutcome::Deferred { deferred: self.clone() })
            }
            issued => self.wallet.outcome(&self.flow, issued),
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl DeferredIssuance {
    /// The credential configuration it is for.
    pub fn configuration_id(&self) -> String {
        self.configuration_id.clone()
    }

    /// Seconds the issuer asks to wait before polling.
    pub fn interval_secs(&self) -> u64 {
        *lock(&self.interval)
    }

    /// Whether it can still be polled.
    pub fn is_pending(&self) -> bool {
        lock(&self.pending).is_some()
    }

    /// Asks the issuer once: `Issued` (verified, stored, logged, notified) or `Deferred`
    /// (this same handle) while it is not ready. After an error, or once issued, the handle
    /// is closed ([`WalletError::IssuanceClosed`]).
    pub async fn poll(self: Arc<Self>) -> Result<IssuanceOutcome, WalletError> {
        tokio::task::spawn_blocking(move || self.poll_blocking())
            .await
            .map_err(|e| WalletError::Internal { reason: format!("task: {e}") })?
    }
}

#[cfg(test)]
mod tests {
    use wallet_core::oid4vci::offer::OfferError;
    use wallet_core::wallet::HttpError;
    use wallet_core::wallet::issuance::CredentialRule;

    use super::*;

    #[test]
    fn issuance_errors_map_to_typed_wallet_errors() {
        let refused = IssuanceError::Issuer { step: IssuanceStep::Token, status: 400, error: Some("invalid_grant".into()), description: Some("x".into()) };
        assert_eq!(
            WalletError::from(refused),
            WalletError::IssuerRefused { stage: IssuanceStage::Token, status: 400, error: Some("invalid_grant".into()) }
        );
        assert_eq!(WalletError::from(IssuanceError::TxCode("not numeric")).code(), "invalid_tx_code");
        assert_eq!(WalletError::from(IssuanceError::UnsupportedGrant("pre-authorized code")).code(), "invalid_offer");
        assert_eq!(WalletError::from(IssuanceError::Offer(OfferError::BadConfigurationIds)).code(), "invalid_offer");
        let untrusted = WalletError::from(IssuanceError::Untrusted { issuer: "https://i.example".into(), reason: "no chain".into() });
        assert_eq!(untrusted, WalletError::UntrustedIssuer { issuer: "https://i.example".into(), reason: "no chain".into() });
        let bad = WalletError::from(IssuanceError::BadResponse { step: IssuanceStep::Nonce, detail: "not JSON".into() });
        assert_eq!(bad, WalletError::IssuerProtocol { stage: IssuanceStage::Nonce, reason: "not JSON".into() });
        let rule = WalletError::from(IssuanceError::Credential { index: 1, rule: CredentialRule::Cnf });
        assert!(matches!(&rule, WalletError::InvalidCredential { rule } if rule.starts_with("credential 1: cnf")), "{rule}");
        let net = WalletError::from(IssuanceError::Http { step: IssuanceStep::Credential, source: HttpError("refused".into()) });
        assert!(matches!(&net, WalletError::Network { reason } if reason == "credential: HTTP request failed: refused"), "{net}");
        assert_eq!(WalletError::from(IssuanceError::Wallet(wallet_core::wallet::WalletError::NoAttestations)), WalletError::NotActivated);
    }

    #[test]
    fn authorization_code_errors_name_their_stage() {
        let denied = WalletError::from(IssuanceError::AuthorizationDenied { error: "access_denied".into(), description: Some("x".into()) });
        assert_eq!(denied, WalletError::AuthorizationDenied { stage: IssuanceStage::Authorization, error: "access_denied".into() });
        assert_eq!(denied.code(), "authorization_denied");
        let presentation = |step, error: Option<&str>| IssuanceError::Presentation { step, untrusted: false, error: error.map(str::to_owned), detail: "d".into() };
        assert_eq!(
            WalletError::from(presentation(PresentationStep::ResponseUri, Some("invalid_request"))),
            WalletError::AuthorizationDenied { stage: IssuanceStage::Presentation, error: "invalid_request".into() }
        );
        assert_eq!(WalletError::from(presentation(PresentationStep::Response, None)).code(), "invalid_choice");
        assert_eq!(
            WalletError::from(presentation(PresentationStep::RequestObject, None)),
            WalletError::IssuerProtocol { stage: IssuanceStage::Presentation, reason: "d".into() }
        );
        let state = WalletError::from(IssuanceError::Authorization { step: IssuanceStep::Authorization, rule: wallet_core::oid4vci::ParError::StateMismatch });
        assert!(matches!(state, WalletError::IssuerProtocol { stage: IssuanceStage::Authorization, .. }), "{state}");
        assert_eq!(WalletError::from(IssuanceError::NoRedirectUri).code(), "not_configured");
        assert_eq!(WalletError::from(IssuanceError::Browser("closed".into())), WalletError::LoginFailed { reason: "closed".into() });
        let order = WalletError::IssuanceOutOfOrder { call: "presentPid".into(), waiting_for: waits_for(&IssuanceNextStep::Authorize).into() };
        assert_eq!(order.to_string(), "presentPid is out of order: the issuance waits for authorize");
    }
}
