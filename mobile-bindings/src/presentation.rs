//! A presentation as the phone runs it (OpenID4VP 1.0 with IT-Wallet's profile), driven by
//! wallet-core's `WalletPresentation`: [`Wallet::start_presentation`] opens the scanned URL
//! (fetching the request object through the app's [`crate::HttpClient`], `GET` or `POST`
//! with `wallet_metadata` and `wallet_nonce` as the URL says), verifies it against the
//! relying party's trust chain and builds the [`ConsentRecord`] the app shows; then
//! [`PresentationSession::present`] sends only what the citizen chose (KB-JWT signed in the
//! app's key store, response encrypted to the verifier) or [`PresentationSession::decline`]
//! sends `access_denied`. Both go in the transaction log, with what the verifier answered.
//!
//! The relying party's trust chain is the request object's `trust_chain` header validated to
//! a configured trust anchor, else the chain collected over the HTTP client. Its trust marks
//! are checked against the anchor's configuration and their issuers' status endpoints
//! (wallet-core's `TrustMarkEvidence`); where the federation accredits mark issuers, an RP
//! without a valid one is refused ([`WalletError::UntrustedRelyingParty`], WP_087), else it
//! gets the [`ConsentWarning::NoValidTrustMark`] warning. A request object refused is
//! reported to the RP's registered `response_uri` (WP_090). Every request object's `x5c`, and
//! an `x509_hash` client's certificate, are checked against the federation CA roots the
//! configured anchors serve (`<anchor>/ca`); without one, an `x509_hash` client is refused
//! before its request object is fetched.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use wallet_core::federation::FederationError;
use wallet_core::jose::Signer;
use wallet_core::oid4vp::consent::{HolderKeys, TrustMarkCheck, TrustWarning};
use wallet_core::oid4vp::dcql::matcher::Missing;
use wallet_core::oid4vp::request_object::RpTrust;
use wallet_core::oid4vp::{ConsentChoice, ConsentError, ConsentRequest, ResponseError};
use wallet_core::store::CredentialId;
use wallet_core::wallet::presentation::{Distrust, PresentationError, RpChainSource, WalletPresentation, is_trust_rule};

use crate::activation::CoreHttp;
use crate::display;
use crate::error::WalletError;
use crate::http::HttpFetcher;
use crate::keystore::ForeignSigner;
use crate::records::{Claim, IssuerInfo};
use crate::wallet::Wallet;

/// How the relying party was trusted.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum RelyingPartyTrust {
    /// Through its federation trust chain.
    Federation {
        /// The trust anchor the chain ends at.
        trust_anchor: String,
        /// When the chain expires, Unix seconds.
        chain_expires_at: i64,
    },
    /// Through an X.509 certificate only (its SAN URIs and DNS names).
    Certificate {
        /// SAN URIs.
        san_uris: Vec<String>,
        /// SAN DNS names.
        san_dns: Vec<String>,
    },
}

/// The result of checking one of the relying party's trust marks.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TrustMarkStatus {
    /// Valid, issued by `issuer`.
    Valid {
        /// The trust mark issuer.
        issuer: String,
        /// Its expiry, Unix seconds.
        expires_at: Option<i64>,
    },
    /// Refused.
    Invalid {
        /// Why.
        reason: String,
    },
    /// Not checked (the wallet lacks what checking needs).
    NotChecked,
}

/// One of a relying party's or a credential issuer's trust marks, as checked.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TrustMarkInfo {
    /// Its type (a URL).
    pub trust_mark_type: String,
    /// The check's result.
    pub status: TrustMarkStatus,
}

impl From<&wallet_core::oid4vp::consent::TrustMarkView> for TrustMarkInfo {
    fn from(t: &wallet_core::oid4vp::consent::TrustMarkView) -> Self {
        Self {
            trust_mark_type: t.trust_mark_type.clone(),
            status: match &t.check {
                TrustMarkCheck::Valid { issuer, exp } => TrustMarkStatus::Valid { issuer: issuer.clone(), expires_at: *exp },
                TrustMarkCheck::Invalid(reason) => TrustMarkStatus::Invalid { reason: reason.clone() },
                TrustMarkCheck::NotChecked => TrustMarkStatus::NotChecked,
            },
        }
    }
}

/// Something the citizen should know before consenting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConsentWarning {
    /// The relying party shows no valid trust mark.
    NoValidTrustMark,
    /// It asks for identifying attributes (tax code, ...) and publishes no erasure endpoint.
    NoErasureEndpoint,
    /// Trusted by a certificate only: its name and logo are its own claims.
    CertificateOnly,
}

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RelyingParty {
    /// Its `client_id` (`openid_federation:https://...`).
    pub client_id: String,
    /// Its federation Entity Identifier.
    pub entity_id: Option<String>,
    /// Its name (`client_name`).
    pub name: Option<String>,
    /// Its logo's URL.
    pub logo_uri: Option<String>,
    /// The organization behind it.
    pub organization_name: Option<String>,
    /// Why it asks, when it says.
    pub purpose: Option<String>,
    /// How it was trusted (an untrusted relying party never gets a consent screen).
    pub trust: RelyingPartyTrust,
    /// Its trust marks.
    pub trust_marks: Vec<TrustMarkInfo>,
    /// Warnings to show.
    pub warnings: Vec<ConsentWarning>,
    /// Where to ask it to erase the data (`erasure_endpoint`).
    pub erasure_endpoint: Option<String>,
    /// What its trust marks authorize it to ask for (authorization-policy marks; empty when
    /// none says): to show beside what it asks.
    pub authorization: Vec<RelyingPartyAuthorization>,
}

/// What one of the relying party's trust marks authorizes it to ask for (wallet-core
/// `oid4vp::consent::authorization`): a request outside it is refused before any consent.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RelyingPartyAuthorization {
    /// The mark's type.
    pub trust_mark_type: String,
    /// The credential types (`vct`, or an mdoc `doctype`) it may ask for; `None`: not limited.
    pub credential_types: Option<Vec<String>>,
    /// The claims it may ask for, by name; `None`: not limited.
    pub claims: Option<Vec<String>>,
}

/// A stored credential that can answer a request, with exactly what it would disclose.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CandidateCredential {
    /// The wallet's id for it.
    pub credential_id: String,
    /// Its type.
    pub vct: String,
    /// Its issuer.
    pub issuer: IssuerInfo,
    /// The claims it would disclose, labelled (the always-visible ones aside).
    pub claims: Vec<Claim>,
}

/// Why no stored credential answers a request.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum MissingReason {
    /// No credential of the type asked for.
    NoCredentialOfType,
    /// A credential of that type lacks these claims (dotted paths).
    Claims {
        /// The claims missing.
        paths: Vec<String>,
    },
    /// Credentials of that type are stored, but none from an issuer the relying party
    /// accepts (its `trusted_authorities`): tell the citizen it wants another issuer's.
    UntrustedIssuer,
}

/// One credential the relying party asks for (a DCQL Credential Query).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CredentialRequest {
    /// The query id (pass it back in a [`ConsentSelection`]).
    pub query_id: String,
    /// The credential types asked for.
    pub types: Vec<String>,
    /// Whether it must be answered.
    pub required: bool,
    /// Whether several credentials may answer.
    pub multiple: bool,
    /// The stored credentials that can answer.
    pub candidates: Vec<CandidateCredential>,
    /// Why none can, when none can.
    pub missing: Option<MissingReason>,
}

/// What the consent screen shows.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ConsentRecord {
    /// Who asks.
    pub relying_party: RelyingParty,
    /// What it asks for.
    pub requests: Vec<CredentialRequest>,
    /// Whether the wallet's credentials can satisfy the request.
    pub satisfiable: bool,
}

/// One credential the citizen chose for one request.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsentSelection {
    /// The request's `query_id`.
    pub query_id: String,
    /// The chosen candidate's `credential_id`.
    pub credential_id: String,
}

/// What happened after presenting or declining.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PresentationOutcome {
    /// Where to send the browser (same-device flow), when the verifier says.
    pub redirect_uri: Option<String>,
    /// The transaction log entry made.
    pub transaction_seq: Option<i64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn consent_error(e: ConsentError, client_id: &str) -> WalletError {
    match e {
        ConsentError::Url(e) => WalletError::InvalidRequest { reason: e.to_string() },
        ConsentError::RequestObjectFetch(0) => WalletError::Network { reason: "the request object was not fetched".into() },
        ConsentError::RequestObjectFetch(status) => {
            WalletError::Network { reason: format!("the request object could not be fetched (HTTP {status}, or not a request object)") }
        }
        // WP_089b: a failure worth retrying is a network error to the app (offer "try
        // again"); anything else needs a new request ("scan a new QR code").
        e @ ConsentError::RequestUriRefused { .. } if e.is_recoverable() => WalletError::Network { reason: e.to_string() },
        e @ ConsentError::RequestUriRefused { .. } => WalletError::InvalidRequest { reason: format!("{e}; ask for a new QR code") },
        ConsentError::RequestObject(e) if is_trust_rule(&e) => WalletError::UntrustedRelyingParty { client_id: client_id.to_owned(), reason: e.to_string() },
        ConsentError::RequestObject(e) => WalletError::InvalidRequest { reason: e.to_string() },
        ConsentError::Credential(e) | ConsentError::Present(e) => e.into(),
        ConsentError::Store(e) => e.into(),
        e @ (ConsentError::UnknownQuery(_) | ConsentError::NotACandidate { .. } | ConsentError::MultipleNotAllowed(_) | ConsentError::DoesNotSatisfy(_)) => {
            WalletError::InvalidChoice { reason: e.to_string() }
        }
        ConsentError::NoHolderKey(id) => WalletError::KeyNotFound { tag: id },
        other => WalletError::Internal { reason: other.to_string() },
    }
}

/// Why [`WalletPresentation::start`] failed, as the app is told.
fn start_error(e: PresentationError) -> WalletError {
    match e {
        PresentationError::UntrustedRelyingParty { client_id, reason, cause } => match *cause {
            // No trust_chain header to fall back on, and the chain could not be fetched.
            Distrust::Chain { collected: FederationError::Fetch { url, reason }, header: None, .. } => WalletError::Network { reason: format!("{url}: {reason}") },
            Distrust::Chain { entity, .. } => WalletError::UntrustedRelyingParty { client_id: entity.to_string(), reason },
            Distrust::RequestObject { source, .. } => consent_error(source, &client_id),
            Distrust::NoX509Anchors => WalletError::UntrustedRelyingParty { client_id, reason: wallet_core::oid4vp::RequestObjectError::NoX509Anchors.to_string() },
            _ => WalletError::UntrustedRelyingParty { client_id, reason },
        },
        PresentationError::Consent { source, .. } => consent_error(source, ""),
        PresentationError::Http { source, .. } => WalletError::Network { reason: source.to_string() },
        other => WalletError::Internal { reason: other.to_string() },
    }
}

/// wallet-core's choice as the app's selections.
pub(crate) fn selections(choice: ConsentChoice) -> Vec<ConsentSelection> {
    choice.0.into_iter().map(|(query_id, id)| ConsentSelection { query_id, credential_id: id.as_str().to_owned() }).collect()
}

/// The chosen credentials' keys in the app's key store.
pub(crate) struct ChosenKeys(BTreeMap<CredentialId, ForeignSigner>);

impl ChosenKeys {
    /// The key store's error, if a signature failed there (the user cancelled, ...).
    pub(crate) fn take_failure(&self) -> Option<crate::keystore::KeyStoreError> {
        self.0.values().find_map(ForeignSigner::take_failure)
    }
}

impl Wallet {
    /// The citizen's choice as wallet-core's, with the key of each chosen credential.
    pub(crate) fn chosen(&self, choice: &[ConsentSelection]) -> Result<(ConsentChoice, ChosenKeys), WalletError> {
        let mut pairs = Vec::new();
        let mut keys = BTreeMap::new();
        for s in choice {
            let id = CredentialId::parse(&s.credential_id).ok_or_else(|| WalletError::InvalidChoice { reason: format!("no credential {}", s.credential_id) })?;
            if !keys.contains_key(&id) {
                let (tag, _, _) = self.presentation_view(&id)?;
                keys.insert(id.clone(), ForeignSigner::new(self.keys.clone(), &tag)?);
            }
            pairs.push((s.query_id.clone(), id));
        }
        Ok((ConsentChoice(pairs), ChosenKeys(keys)))
    }
}

impl HolderKeys for ChosenKeys {
    fn holder_key(&self, credential: &CredentialId) -> Option<&dyn Signer> {
        self.0.get(credential).map(|s| s as &dyn Signer)
    }
}

impl From<&wallet_core::oid4vp::RpEvaluation> for RelyingParty {
    fn from(rp: &wallet_core::oid4vp::RpEvaluation) -> Self {
        Self {
            client_id: rp.client_id.clone(),
            entity_id: rp.entity_id.clone(),
            name: rp.name.clone(),
            logo_uri: rp.logo_uri.clone(),
            organization_name: rp.organization_name.clone(),
            purpose: rp.purpose.clone(),
            trust: match &rp.trust {
                RpTrust::Federation { trust_anchor, chain_exp, .. } => {
                    RelyingPartyTrust::Federation { trust_anchor: trust_anchor.to_string(), chain_expires_at: chain_exp.secs() }
                }
                RpTrust::X509 { san_uris, san_dns } => RelyingPartyTrust::Certificate { san_uris: san_uris.clone(), san_dns: san_dns.clone() },
            },
            authorization: rp
                .authorization
                .iter()
                .map(|p| RelyingPartyAuthorization { trust_mark_type: p.trust_mark_type.clone(), credential_types: p.credential_types.clone(), claims: p.claims.clone() })
                .collect(),
            trust_marks: rp.trust_marks.iter().map(TrustMarkInfo::from).collect(),
            warnings: rp
                .warnings
                .iter()
                .map(|w| match w {
                    TrustWarning::NoValidTrustMark => ConsentWarning::NoValidTrustMark,
                    TrustWarning::NoErasureEndpoint => ConsentWarning::NoErasureEndpoint,
                    TrustWarning::CertificateOnly => ConsentWarning::CertificateOnly,
                })
                .collect(),
            erasure_endpoint: rp.erasure_endpoint.clone(),
        }
    }
}

impl Wallet {
    /// wallet-core's presentation driver over the app's HTTP client: the configured anchors,
    /// the CA roots they serve (`<anchor>/ca`) for `x5c` and `x509_hash` checks, the RP's
    /// chain preferably from its request object's `trust_chain` header.
    fn presentation_flow(&self, x509: bool) -> Result<WalletPresentation, WalletError> {
        let http = self.http.clone().ok_or_else(|| WalletError::NotConfigured { what: "presentations need an HTTP client".into() })?;
        let core: Arc<dyn wallet_core::wallet::HttpClient> = Arc::new(CoreHttp(http.clone()));
        let flow = WalletPresentation::new(core.clone(), self.store.clone(), self.anchors.clone())
            .with_fetcher(Arc::new(HttpFetcher(http)))
            .with_rp_chain_source(RpChainSource::RequestObjectFirst);
        // The federation CA roots the anchors serve: a request object's `x5c` must chain to
        // them without carrying the root (IT-Wallet 1.4 §5.1); an `x509_hash` relying party is
        // trusted by them alone.
        match x509.then(|| wallet_core::wallet::certificate::anchor_roots(core.as_ref(), &self.anchors)).flatten() {
            Some(roots) => Ok(flow.with_x509_anchors(roots)),
            None => Ok(flow),
        }
    }

    fn open_presentation(&self, url: &str) -> Result<(wallet_core::wallet::PresentationSession, ConsentRecord), WalletError> {
        let session = self.presentation_flow(true)?.start(url).map_err(start_error)?;
        let record = self.consent_record(&session.consent)?;
        Ok((session, record))
    }

    pub(crate) fn consent_record(&self, consent: &ConsentRequest) -> Result<ConsentRecord, WalletError> {
        let mut requests = Vec::new();
        for q in &consent.queries {
            let mut candidates = Vec::new();
            for c in &q.candidates {
                let (_, issuer, labels) = self.presentation_view(&c.credential_id)?;
                let claims = c.disclosed.iter().flat_map(|d| display::leaves_at(&d.path, &d.value, &labels, self.locale.as_deref())).collect();
                candidates.push(CandidateCredential { credential_id: c.credential_id.as_str().to_owned(), vct: c.vct.clone(), issuer, claims });
            }
            requests.push(CredentialRequest {
                query_id: q.query_id.clone(),
                types: q.types.clone(),
                required: q.required,
                multiple: q.multiple,
                candidates,
                missing: q.missing.as_ref().map(|m| match m {
                    Missing::NoCredentialOfType => MissingReason::NoCredentialOfType,
                    Missing::Claims(ps) => MissingReason::Claims { paths: ps.iter().map(ToString::to_string).collect() },
                    Missing::UntrustedIssuer => MissingReason::UntrustedIssuer,
                }),
            });
        }
        Ok(ConsentRecord { relying_party: RelyingParty::from(&consent.rp), requests, satisfiable: consent.satisfiable })
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Wallet {
    /// Opens a presentation request (the scanned QR code's or the opened link's URL:
    /// `openid4vp://`, `haip-vp://` or the wallet's https endpoint): fetches the request
    /// object, verifies it and the relying party's trust, and matches the stored
    /// credentials. Show [`PresentationSession::consent`], then present or decline.
    pub async fn start_presentation(self: Arc<Self>, url: String) -> Result<Arc<PresentationSession>, WalletError> {
        let wallet = self.clone();
        let (session, record) = self.blocking(move |w| w.open_presentation(&url)).await?;
        Ok(Arc::new(PresentationSession { wallet, session, record, answered: Mutex::new(false) }))
    }
}

/// An open presentation request: its consent model, then one answer (present or decline).
#[derive(uniffi::Object)]
pub struct PresentationSession {
    wallet: Arc<Wallet>,
    session: wallet_core::wallet::PresentationSession,
    record: ConsentRecord,
    answered: Mutex<bool>,
}

impl std::fmt::Debug for PresentationSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentationSession").field("client_id", &self.record.relying_party.client_id).finish_non_exhaustive()
    }
}

impl PresentationSession {
    /// Presents `chosen` (declines without) once, through wallet-core's driver: a second
    /// answer (or one while the first is being sent) is [`WalletError::PresentationClosed`];
    /// one that failed before reaching the verifier can be retried.
    fn answer_once(&self, chosen: Option<(&ConsentChoice, &ChosenKeys)>, refused: impl FnOnce(ConsentError) -> WalletError) -> Result<PresentationOutcome, WalletError> {
        let mut answered = lock(&self.answered);
        if *answered {
            return Err(WalletError::PresentationClosed);
        }
        let flow = self.wallet.presentation_flow(false)?;
        let result = match chosen {
            Some((choice, keys)) => flow.present(&self.session, choice, keys),
            None => flow.decline(&self.session),
        };
        *answered = !matches!(result, Err(PresentationError::Http { .. } | PresentationError::Consent { .. }));
        match result {
            Ok(a) => Ok(PresentationOutcome { redirect_uri: a.redirect_uri, transaction_seq: a.log_seq }),
            Err(PresentationError::Consent { source, .. }) => Err(refused(source)),
            Err(PresentationError::Http { source, .. }) => Err(WalletError::Network { reason: source.to_string() }),
            Err(PresentationError::Refused { status, error, .. }) => Err(WalletError::VerifierRefused { status, error: Some(error) }),
            // A redirect the RP did not register is not followed (WP_094a).
            Err(PresentationError::BadAnswer { source: e @ ResponseError::RedirectNotRegistered(_), .. }) => {
                Err(WalletError::UntrustedRelyingParty { client_id: self.record.relying_party.client_id.clone(), reason: e.to_string() })
            }
            Err(PresentationError::BadAnswer { status, .. }) => Err(WalletError::VerifierRefused { status, error: None }),
            Err(other) => Err(WalletError::Internal { reason: other.to_string() }),
        }
    }

    fn present_blocking(&self, choice: &[ConsentSelection]) -> Result<PresentationOutcome, WalletError> {
        let (choice, keys) = self.wallet.chosen(choice)?;
        let client_id = self.record.relying_party.client_id.clone();
        self.answer_once(Some((&choice, &keys)), |e| match keys.take_failure() {
            Some(k) => WalletError::from(k),
            None => consent_error(e, &client_id),
        })
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl PresentationSession {
    /// Who asks, for what, and which stored credentials can answer (with exactly the claims
    /// each would disclose).
    pub fn consent(&self) -> ConsentRecord {
        self.record.clone()
    }

    /// The choice that takes, for each request, its first candidate.
    pub fn default_choice(&self) -> Vec<ConsentSelection> {
        selections(self.session.consent.default_choice())
    }

    /// Presents what the citizen chose (per request, the candidate(s) picked; optional
    /// requests may be left out): each credential with only the claims its request asks,
    /// a KB-JWT signed in the key store (the user may be asked to authenticate), encrypted
    /// to the verifier and posted to its `response_uri`. Logged.
    pub async fn present(self: Arc<Self>, choice: Vec<ConsentSelection>) -> Result<PresentationOutcome, WalletError> {
        tokio::task::spawn_blocking(move || self.present_blocking(&choice))
            .await
            .map_err(|e| WalletError::Internal { reason: format!("task: {e}") })?
    }

    /// Declines: sends `access_denied` to the verifier. Logged (a presentation that
    /// disclosed nothing).
    pub async fn decline(self: Arc<Self>) -> Result<PresentationOutcome, WalletError> {
        tokio::task::spawn_blocking(move || self.answer_once(None, |e| consent_error(e, "")))
            .await
            .map_err(|e| WalletError::Internal { reason: format!("task: {e}") })?
    }
}

#[cfg(test)]
mod tests {
    //! End to end over real HTTP on loopback: the verifier ([`crate::testing::TestVerifier`],
    //! wallet-core's verifier side) served by axum; the wallet with the software key store and
    //! an [`HttpClient`](crate::HttpClient) on reqwest; a PID from [`crate::testing::TestIssuer`].

    use std::sync::Arc;

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::response::IntoResponse;
    use axum::routing::{get, post};

    use super::*;
    use crate::http::{HttpClient, HttpError, HttpHeader, HttpRequest, HttpResponse};
    use crate::records::{ClaimValue, TransactionKind, WalletConfig};
    use crate::testing::{TestAnswer, TestIssuer, TestVerifier};

    struct Reqwest(tokio::runtime::Handle, reqwest::Client);

    impl HttpClient for Reqwest {
        fn send(&self, r: HttpRequest) -> Result<HttpResponse, HttpError> {
            let fail = |e: reqwest::Error| HttpError::Failed { reason: e.to_string() };
            self.0.block_on(async {
                let mut b = self.1.request(reqwest::Method::from_bytes(r.method.as_bytes()).unwrap(), &r.url).body(r.body);
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

    fn answer(a: TestAnswer) -> impl IntoResponse {
        (axum::http::StatusCode::from_u16(a.status).unwrap(), [(axum::http::header::CONTENT_TYPE, a.content_type)], a.body)
    }

    struct Setup {
        _dir: tempfile::TempDir,
        rp: String,
        issuer: Arc<TestIssuer>,
        verifier: Arc<TestVerifier>,
        wallet: Arc<Wallet>,
    }

    async fn setup(trust_the_verifier: bool) -> Setup {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rp = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
        let issuer = TestIssuer::new("https://ta.issuers.example".into(), "https://pid.example.it".into()).unwrap();
        let verifier = TestVerifier::new("https://ta.verifiers.example".into(), rp.clone(), vec![issuer.trust_anchor()]).unwrap();
        let app = axum::Router::new()
            .route("/request", get(|State(v): State<Arc<TestVerifier>>| async move { answer(v.request_object(Vec::new())) }).post(
                |State(v): State<Arc<TestVerifier>>, body: Bytes| async move { answer(v.request_object(body.to_vec())) },
            ))
            .route("/response", post(|State(v): State<Arc<TestVerifier>>, body: Bytes| async move { answer(v.receive(&body).await) }))
            .with_state(verifier.clone());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        let dir = tempfile::tempdir().unwrap();
        let mut anchors = vec![issuer.trust_anchor()];
        if trust_the_verifier {
            anchors.push(verifier.trust_anchor());
        }
        let config = WalletConfig {
            data_dir: dir.path().to_string_lossy().into_owned(),
            trust_anchors: anchors,
            storage_key: Some(vec![7; 32]),
            locale: Some("en".into()),
            pinned_issuers: Vec::new(),
            wallet_provider: None,
            issuance_redirect_uri: None,
            required_issuer_marks: Vec::new(),
        };
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let client: Arc<dyn HttpClient> = Arc::new(Reqwest(tokio::runtime::Handle::current(), http));
        let wallet = Wallet::open(config, crate::software_key_store().unwrap(), Some(client)).unwrap();
        Setup { _dir: dir, rp, issuer, verifier, wallet }
    }

    async fn import_pid(s: &Setup) -> String {
        let key = s.wallet.create_credential_key().unwrap();
        let pid = s.issuer.issue_pid(key.public_key, true).unwrap();
        s.wallet.clone().import_credential(pid, key.tag).await.unwrap().id
    }

    fn shown(c: &CandidateCredential) -> Vec<(String, String, ClaimValue)> {
        c.claims.iter().map(|c| (wallet_core::sd_jwt::ClaimPath::from(&c.path).to_string(), c.label.clone(), c.value.clone())).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn consent_model_then_present_verified_at_the_verifier_for_each_request_uri_method() {
        let s = setup(true).await;
        let id = import_pid(&s).await;
        for method in ["post", "get", "value"] {
            let session = s.wallet.clone().start_presentation(s.verifier.request_url(method.into()).unwrap()).await.unwrap();
            let c = session.consent();
            let rp = &c.relying_party;
            assert_eq!(rp.client_id, format!("openid_federation:{}", s.rp));
            assert_eq!(rp.entity_id.as_deref(), Some(s.rp.as_str()));
            assert_eq!(rp.name.as_deref(), Some("Comune di Roma"));
            assert_eq!(rp.logo_uri, Some(format!("{}/logo.svg", s.rp)));
            assert_eq!(rp.organization_name.as_deref(), Some("Comune di Roma"));
            assert_eq!(rp.purpose.as_deref(), Some("Accesso ai servizi comunali"));
            assert!(matches!(&rp.trust, RelyingPartyTrust::Federation { trust_anchor, .. } if trust_anchor == "https://ta.verifiers.example"));
            assert_eq!(rp.warnings, vec![ConsentWarning::NoValidTrustMark]);
            assert_eq!(rp.erasure_endpoint, Some(format!("{}/erase", s.rp)));
            assert!(c.satisfiable);
            let q = &c.requests[0];
            assert_eq!((q.query_id.as_str(), q.required, q.multiple, q.missing.clone()), ("pid", true, false, None));
            assert_eq!(q.types, vec!["urn:eudi:pid:it:1".to_owned()]);
            let cand = &q.candidates[0];
            assert_eq!(cand.credential_id, id);
            assert_eq!(cand.issuer.entity_id, "https://pid.example.it");
            assert_eq!(cand.issuer.name.as_deref(), Some("Italian State Mint and Polygraphic Institute"));
            let text = |v: &str| ClaimValue::Text { value: v.into() };
            assert_eq!(
                shown(cand),
                vec![
                    ("given_name".into(), "First name".into(), text("Mario")),
                    ("family_name".into(), "Surname".into(), text("Rossi")),
                    ("place_of_birth.locality".into(), "Place of birth › Locality".into(), text("Roma")),
                ]
            );
            let choice = session.default_choice();
            assert_eq!(choice, vec![ConsentSelection { query_id: "pid".into(), credential_id: id.clone() }]);
            let out = session.clone().present(choice.clone()).await.unwrap();
            assert!(out.redirect_uri.as_deref().unwrap().starts_with(&format!("{}/done?response_code=", s.rp)), "{method}");
            let v = s.verifier.verdict().unwrap();
            assert_eq!(v.outcome, "verified", "{method}: {}", v.detail);
            // `place_of_birth` is disclosed as the locality's parent, with only the locality in it.
            assert_eq!(v.claims, ["family_name", "given_name", "place_of_birth", "place_of_birth.locality"]);
            assert_eq!(v.audience, Some(rp.client_id.clone()));
            assert_eq!(session.clone().present(choice).await.unwrap_err(), WalletError::PresentationClosed);
            let log = s.wallet.transactions().unwrap();
            let last = log.last().unwrap();
            assert_eq!(Some(last.seq), out.transaction_seq);
            assert_eq!((last.kind, last.counterparty.as_str()), (TransactionKind::Presentation, s.rp.as_str()));
            assert_eq!(last.claims, ["pid:given_name", "pid:family_name", "pid:place_of_birth.locality"]);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn decline_sends_access_denied_and_bad_choices_are_typed() {
        let s = setup(true).await;
        let id = import_pid(&s).await;
        let session = s.wallet.clone().start_presentation(s.verifier.request_url("post".into()).unwrap()).await.unwrap();
        let bad = |q: &str, c: &str| vec![ConsentSelection { query_id: q.into(), credential_id: c.into() }];
        let e = session.clone().present(bad("mdl", &id)).await.unwrap_err();
        assert_eq!(e.code(), "invalid_choice", "{e}");
        assert_eq!(session.clone().present(Vec::new()).await.unwrap_err().code(), "invalid_choice");
        assert!(s.verifier.verdict().is_none(), "nothing was sent");
        let out = session.clone().decline().await.unwrap();
        assert_eq!(out.redirect_uri, None);
        let v = s.verifier.verdict().unwrap();
        assert_eq!((v.outcome.as_str(), v.detail.as_str()), ("declined", "access_denied"));
        assert_eq!(session.clone().decline().await.unwrap_err().code(), "presentation_closed");
        let last = s.wallet.transactions().unwrap().pop().unwrap();
        assert!(last.claims.is_empty() && last.credential_ids.is_empty());
        assert_eq!(last.kind, TransactionKind::Declined);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn missing_credential_untrusted_rp_and_bad_urls() {
        let s = setup(true).await;
        let session = s.wallet.clone().start_presentation(s.verifier.request_url("get".into()).unwrap()).await.unwrap();
        let c = session.consent();
        assert!(!c.satisfiable);
        assert_eq!(c.requests[0].missing, Some(MissingReason::NoCredentialOfType));
        assert!(c.requests[0].candidates.is_empty());
        assert_eq!(session.clone().present(session.default_choice()).await.unwrap_err().code(), "invalid_choice");

        let e = s.wallet.clone().start_presentation("https://example.org/?a=b".into()).await.unwrap_err();
        assert_eq!(e.code(), "invalid_request", "{e}");

        let untrusting = setup(false).await;
        let e = untrusting.wallet.clone().start_presentation(untrusting.verifier.request_url("post".into()).unwrap()).await.unwrap_err();
        assert!(matches!(&e, WalletError::UntrustedRelyingParty { client_id, .. } if client_id == &untrusting.rp), "{e}");
    }
}
