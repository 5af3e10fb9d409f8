//! Issuance for the app (IT-Wallet 1.4 §3.3; OpenID4VCI 1.0 §4, §6-§9), over wallet-core's
//! `wallet::issuance::WalletIssuance`: [`Wallet::start_issuance`] reads the offer (scanned or
//! opened: `openid-credential-offer://`, `haip-vci://`, by value or by reference), the
//! issuer's metadata and its federation trust chain, and returns an [`IssuanceSession`]
//! whose [`IssuanceConsent`] the app shows; [`IssuanceSession::accept`] (with the transaction
//! code when the offer asks one) gets the token (DPoP), proves possession of the key the
//! WUA attests, verifies every credential before storing it, logs and notifies the issuer;
//! the result is the stored [`Credential`]s, or a [`DeferredIssuance`] to poll.
//!
//! What comes next in a session is an [`IssuanceNextStep`], so that the authorization code
//! flow (a browser step for the PID, a PID presentation for the other issuers) can be added
//! as new steps without changing what is here.
//!
//! A deferred issuance lives in memory (its access token and DPoP key are not persisted): if
//! the app's process dies, the citizen asks the issuer for a new offer.

use std::sync::{Arc, Mutex, PoisonError};

use wallet_core::oid4vci::offer::TxInputMode;
use wallet_core::wallet::issuance::{self as core, IssuanceError, IssuanceStep, IssuerTrust as CoreTrust};
use wallet_core::wallet::{IssuanceKeys, WalletIssuance};

use crate::activation::CoreHttp;
use crate::error::WalletError;
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
        /// The trust mark types its Entity Configuration declares (shown, not verified yet).
        trust_marks: Vec<String>,
    },
    /// Not trusted (not in the federation, or offering what it did not declare there):
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
                    IssuerTrust::Trusted { trust_anchor: trust_anchor.clone(), trust_marks: trust_marks.clone() }
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

/// What the session waits for next. Apps should keep an `else` branch: the authorization
/// code flow will add steps (a browser login, a PID presentation).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum IssuanceNextStep {
    /// Show the consent; on yes, [`IssuanceSession::accept`] with the transaction code when
    /// `tx_code` is set.
    Accept {
        /// The code to ask for, if any.
        tx_code: Option<TxCodeRequest>,
    },
    /// The issuer is not trusted: show why; nothing will be sent to it.
    Refused {
        /// Why.
        reason: String,
    },
    /// Accepted: nothing left in this session.
    Done,
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
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Wallet {
    /// The issuance flow over this wallet's HTTP client, attested keys, store and anchors.
    fn issuance_flow(&self) -> Result<Arc<WalletIssuance>, WalletError> {
        let (Some(http), Some(activation)) = (&self.http, &self.activation) else {
            return Err(WalletError::NotConfigured {
                what: "issuance needs `wallet_provider` in the configuration and an HTTP client".into(),
            });
        };
        let keys: Arc<dyn IssuanceKeys> = activation.clone();
        Ok(Arc::new(WalletIssuance::new(Arc::new(CoreHttp(http.clone())), keys, self.store.clone(), self.anchors.clone())))
    }

    fn outcome(self: &Arc<Self>, flow: &Arc<WalletIssuance>, out: core::IssuanceOutcome) -> Result<IssuanceOutcome, WalletError> {
        match out {
            core::IssuanceOutcome::Issued(ids) => Ok(IssuanceOutcome::Issued { credentials: self.adopt_issued(&ids)? }),
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
}

#[uniffi::export(async_runtime = "tokio")]
impl Wallet {
    /// Opens a credential offer (the scanned or opened URL): fetches it when by reference,
    /// the issuer's metadata and its trust chain (network). An issuer outside the federation
    /// gives a session whose consent says so. Needs an activated wallet to accept.
    pub async fn start_issuance(self: Arc<Self>, offer_url: String) -> Result<Arc<IssuanceSession>, WalletError> {
        let wallet = self.clone();
        let (flow, session) = self
            .blocking(move |w| {
                let flow = w.issuance_flow()?;
                let session = flow.start_from_offer(&offer_url)?;
                Ok((flow, session))
            })
            .await?;
        let consent = IssuanceConsent::from(&session.consent);
        Ok(Arc::new(IssuanceSession { wallet, flow, session, consent, accepted: Mutex::new(false) }))
    }
}

/// An opened credential offer: its consent, then one acceptance.
#[derive(uniffi::Object)]
pub struct IssuanceSession {
    wallet: Arc<Wallet>,
    flow: Arc<WalletIssuance>,
    session: core::IssuanceSession,
    consent: IssuanceConsent,
    accepted: Mutex<bool>,
}

impl std::fmt::Debug for IssuanceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuanceSession").field("issuer", &self.consent.issuer_id).finish_non_exhaustive()
    }
}

impl IssuanceSession {
    fn accept_blocking(self: &Arc<Self>, tx_code: Option<&str>) -> Result<IssuanceOutcome, WalletError> {
        let mut accepted = lock(&self.accepted);
        if *accepted {
            return Err(WalletError::IssuanceClosed);
        }
        // Checked before the token request spends the pre-authorized code.
        if self.wallet.activation()?.and_then(|a| a.wallet_unit_attestation).is_none() {
            return Err(WalletError::NotActivated);
        }
        let out = self.flow.accept(&self.session, tx_code)?;
        // The issuer has answered: the pre-authorized code is spent.
        *accepted = true;
        self.wallet.outcome(&self.flow, out)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl IssuanceSession {
    /// Who issues what, trusted or not, and whether a transaction code is needed.
    pub fn consent(&self) -> IssuanceConsent {
        self.consent.clone()
    }

    /// What to do next.
    pub fn next_step(&self) -> IssuanceNextStep {
        if *lock(&self.accepted) {
            return IssuanceNextStep::Done;
        }
        match &self.consent.trust {
            IssuerTrust::Trusted { .. } => IssuanceNextStep::Accept { tx_code: self.consent.tx_code.clone() },
            IssuerTrust::Untrusted { reason } => IssuanceNextStep::Refused { reason: reason.clone() },
        }
    }

    /// The citizen consented (and typed `tx_code` when asked): token, nonce, key proofs by
    /// the key the WUA attests (the key store signs; the user may be asked to authenticate),
    /// credential; every credential verified before it is stored; logged; the issuer
    /// notified. A failure (a wrong code: [`WalletError::IssuerRefused`] `invalid_grant` at
    /// [`IssuanceStage::Token`]) leaves the session open to try again, as far as the issuer
    /// allows; after success it is closed ([`WalletError::IssuanceClosed`]).
    pub async fn accept(self: Arc<Self>, tx_code: Option<String>) -> Result<IssuanceOutcome, WalletError> {
        tokio::task::spawn_blocking(move || self.accept_blocking(tx_code.as_deref()))
            .await
            .map_err(|e| WalletError::Internal { reason: format!("task: {e}") })?
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
}
