//! The wallet's remote presentation (IT-Wallet 1.4 §5.1, §8; OpenID4VP 1.0 with HAIP), one
//! driver over the [`HttpClient`] seam for every front end:
//!
//! 1. [`WalletPresentation::start`] with the scanned or opened URL (`openid4vp://`,
//!    `haip-vp://`, the wallet's https endpoint): the relying party's trust chain collected
//!    to a configured anchor (an RP outside the federation is refused before its request
//!    object is fetched; a request by value may instead carry its chain in the
//!    `trust_chain` header; [`RpChainSource::RequestObjectFirst`] prefers the request
//!    object's header, fetching it first; an `x509_hash` client is refused before anything is
//!    fetched when no CA roots are configured), the request object fetched (`GET`, or `POST`
//!    with `wallet_metadata` and `wallet_nonce`) and verified (WP_085/086; a refused one is
//!    answered with an error response where the RP registered the `response_uri`, WP_090:
//!    [`crate::oid4vp::request_object::error_notice`]), the RP evaluated with
//!    its trust marks checked against the anchor's configuration (WP_087: refused without a
//!    valid one where its federation accredits mark issuers), and the
//!    [`ConsentRequest`] built from the store → a [`PresentationSession`] to show.
//! 2. [`WalletPresentation::present`] with the citizen's [`ConsentChoice`] (KB-JWT by the
//!    [`HolderKeys`], response encrypted to the RP, `POST response_uri`), or
//!    [`WalletPresentation::decline`] (`access_denied`). Both are logged before they are sent,
//!    and what the `response_uri` answered is recorded on the log entry; the result carries
//!    the `redirect_uri` it returned (OpenID4VP 1.0 §8.2, same-device flow).
//!
//! [`StoredHolderKeys`] finds each chosen credential's key in the [`KeyStore`] by the tag
//! kept in its metadata (`holder_key_tag`, as issuance stores it, or `key_tag`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::http::{HttpClient, HttpError, HttpRequest, HttpResponse, SeamFetcher};
use crate::federation::chain::validate;
use crate::federation::{ChainCollector, EntityId, FederationError, Fetcher, TrustAnchorConfig, ValidatedChain};
use crate::jose::Signer;
use crate::keystore::{KeyStore, KeyStoreSigner, KeyTag};
use crate::oid4vp::consent::{HolderKeys, Refusal, RpTrustInputs, log_refusal};
use crate::wallet::TrustMarkEvidence;
use crate::oid4vp::{ConsentChoice, ConsentError, ConsentRequest, ParsedRequestObject, PresentationFlow, Profile, RequestRef, ResponseError, evaluate_rp};
use crate::sd_jwt::ClaimPath;
use crate::store::{CredentialId, CredentialStore, StoreError, TransactionOutcome};
use crate::time::{Clock, SystemClock, UnixTime};
use crate::x509::TrustAnchors;

/// A step of the presentation, for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresentationStep {
    /// The URL.
    Request,
    /// The relying party's trust chain.
    Federation,
    /// Fetching and verifying the request object.
    RequestObject,
    /// Building the consent model from the store.
    Consent,
    /// Building the response (KB-JWT, encryption) or the decline.
    Response,
    /// `POST response_uri` and its answer.
    ResponseUri,
}

impl std::fmt::Display for PresentationStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Request => "request URL",
            Self::Federation => "relying party trust",
            Self::RequestObject => "request object",
            Self::Consent => "consent",
            Self::Response => "response",
            Self::ResponseUri => "response_uri",
        })
    }
}

/// Why a presentation step failed. Free of credentials and tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PresentationError {
    /// No response.
    #[error("{step}: {source}")]
    Http {
        /// The step.
        step: PresentationStep,
        /// Why.
        source: HttpError,
        /// The URL that did not answer (the request object's, the `response_uri`).
        url: String,
    },
    /// The relying party is not trusted (IT-Wallet 1.4 §8 "Wallet rejects", WP_086/087):
    /// nothing was sent to it.
    #[error("relying party trust: {client_id} is not trusted: {reason}")]
    UntrustedRelyingParty {
        /// Its `client_id`.
        client_id: String,
        /// Why.
        reason: String,
        /// Why, by rule.
        cause: Box<Distrust>,
    },
    /// A rule of the request, the request object, the consent or the choice
    /// ([`ConsentError`] names it).
    #[error("{step}: {source}")]
    Consent {
        /// The step.
        step: PresentationStep,
        /// The rule.
        source: ConsentError,
        /// Whether the relying party was told why (WP_090: its `response_uri` accepted the
        /// error response); only for a request object refused.
        told: bool,
    },
    /// The `response_uri` refused the response (its OpenID4VP error).
    #[error("response_uri: the relying party answered HTTP {status} {error}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// `error`.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// The `response_uri`'s answer does not parse, or redirects where the RP did not register
    /// (WP_094a).
    #[error("response_uri: HTTP {status}: bad answer: {detail}")]
    BadAnswer {
        /// The HTTP status.
        status: u16,
        /// What is wrong.
        detail: String,
        /// The rule.
        source: ResponseError,
        /// The `response_uri`.
        response_uri: String,
        /// The answer's first 300 characters (lossy UTF-8), for diagnostics.
        excerpt: String,
    },
    /// The store (reading credentials, the log).
    #[error("store: {0}")]
    Store(String),
}

/// Why the relying party is not trusted ([`PresentationError::UntrustedRelyingParty`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Distrust {
    /// No trust chain from it to a configured anchor.
    Chain {
        /// Its entity id.
        entity: EntityId,
        /// Why collecting its chain failed.
        collected: FederationError,
        /// Why its request object's `trust_chain` header did not do instead (`None`: it had none).
        header: Option<HeaderChainError>,
    },
    /// Not a federation client (`x509_hash`), and no CA roots to check its certificate with
    /// ([`WalletPresentation::with_x509_anchors`]): refused before its request object is fetched.
    NoX509Anchors,
    /// Its request object broke a trust rule (WP_085/086).
    RequestObject {
        /// The rule.
        source: ConsentError,
        /// Whether it was told why (WP_090).
        told: bool,
    },
    /// Its evaluation refused it (trust marks, WP_087).
    RelyingParty {
        /// Its entity id (federation clients).
        entity: Option<EntityId>,
    },
}

/// Why a request object's `trust_chain` header did not validate to a configured anchor.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderChainError {
    /// No anchor is configured.
    #[error("no trust anchor configured")]
    NoAnchor,
    /// It validates, about another entity.
    #[error("the trust_chain header is about another entity")]
    OtherEntity,
    /// It does not validate (the last anchor's reason).
    #[error("{0}")]
    Invalid(FederationError),
}

/// Where the relying party's trust chain comes from ([`WalletPresentation::with_rp_chain_source`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RpChainSource {
    /// Collected from the RP's Entity Configuration to an anchor before its request object is
    /// fetched (an RP outside the federation is refused before anything is fetched from it);
    /// when that fails, a request by value's `trust_chain` header.
    #[default]
    CollectFirst,
    /// The request object's `trust_chain` header (the object fetched first when by reference)
    /// validated to an anchor, else collected.
    RequestObjectFirst,
}

/// A best-effort transaction log write that failed (the flow went on): see
/// [`WalletPresentation::with_log_failures`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum LogFailure<'a> {
    /// A refused request could not be logged (WP_089a).
    Refusal(&'a StoreError),
    /// The answer of the `response_uri` could not be recorded on log entry `seq`.
    Outcome {
        /// The log entry.
        seq: i64,
        /// Why.
        error: &'a StoreError,
    },
}

impl std::fmt::Display for LogFailure<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refusal(e) => write!(f, "the refused request could not be logged: {e}"),
            Self::Outcome { seq, error } => write!(f, "the transaction log entry #{seq} could not be completed: {error}"),
        }
    }
}

/// Told of each [`LogFailure`].
pub type LogFailureHook = Arc<dyn Fn(LogFailure<'_>) + Send + Sync>;

impl From<StoreError> for PresentationError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

/// An opened presentation request: what the citizen is shown, and what answering needs.
#[derive(Debug)]
pub struct PresentationSession {
    /// Who asks, trusted how, for what, and which stored credentials can answer.
    pub consent: ConsentRequest,
    /// The relying party's validated trust chain (`None` for an `x509_hash` client).
    pub rp_chain: Option<ValidatedChain>,
}

impl PresentationSession {
    /// The relying party's entity id (federation clients), else its `client_id`.
    pub fn relying_party(&self) -> &str {
        self.consent.rp.entity_id.as_deref().unwrap_or(&self.consent.rp.client_id)
    }
}

/// What the `response_uri` answered to a presentation or a decline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentationOutcome {
    /// Where to continue (same-device flow): the `redirect_uri` of the answer.
    pub redirect_uri: Option<String>,
    /// The claims disclosed, per Credential Query (empty for a decline).
    pub disclosed: BTreeMap<String, Vec<String>>,
    /// The transaction log entry made.
    pub log_seq: Option<i64>,
}

/// The remote presentation flow: the HTTP seam, the credential store and the trust anchors.
pub struct WalletPresentation {
    http: Arc<dyn HttpClient>,
    store: Arc<CredentialStore>,
    anchors: Vec<TrustAnchorConfig>,
    x509_anchors: Option<TrustAnchors>,
    profile: Profile,
    clock: Arc<dyn Clock>,
    own_redirect: Option<String>,
    fetcher: Option<Arc<dyn Fetcher>>,
    chain_source: RpChainSource,
    log_failures: Option<LogFailureHook>,
}

impl std::fmt::Debug for WalletPresentation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletPresentation").field("anchors", &self.anchors.len()).field("profile", &self.profile).field("chain_source", &self.chain_source).finish_non_exhaustive()
    }
}

fn send(http: &dyn HttpClient, step: PresentationStep, r: HttpRequest) -> Result<HttpResponse, PresentationError> {
    let url = r.url.clone();
    http.send(r).map_err(|source| PresentationError::Http { step, source, url })
}

impl WalletPresentation {
    /// A flow trusting the federation `anchors`, with the IT-Wallet 1.4 profile; `x509_hash`
    /// clients are refused until [`Self::with_x509_anchors`] gives the CA roots.
    pub fn new(http: Arc<dyn HttpClient>, store: Arc<CredentialStore>, anchors: Vec<TrustAnchorConfig>) -> Self {
        Self {
            http,
            store,
            anchors,
            x509_anchors: None,
            profile: Profile::default(),
            clock: Arc::new(SystemClock),
            own_redirect: None,
            fetcher: None,
            chain_source: RpChainSource::default(),
            log_failures: None,
        }
    }

    /// Another profile (which response key the wallet prefers, its `wallet_metadata`).
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Another clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The answer may also redirect to the wallet's own `redirect_uri` (a presentation inside
    /// an issuance's authorization: [`crate::oid4vp::RedirectRule::and_own`]).
    pub fn with_own_redirect(mut self, redirect_uri: &str) -> Self {
        self.own_redirect = Some(redirect_uri.to_owned());
        self
    }

    /// The federation CA roots for `x509_hash` clients.
    pub fn with_x509_anchors(mut self, anchors: TrustAnchors) -> Self {
        self.x509_anchors = Some(anchors);
        self
    }

    /// Collects the relying party's trust chain with `fetcher` instead of over the HTTP seam.
    pub fn with_fetcher(mut self, fetcher: Arc<dyn Fetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// Where the relying party's trust chain comes from first ([`RpChainSource`]).
    pub fn with_rp_chain_source(mut self, source: RpChainSource) -> Self {
        self.chain_source = source;
        self
    }

    /// Tells `hook` of each best-effort log write that failed (they never fail the flow).
    pub fn with_log_failures(mut self, hook: LogFailureHook) -> Self {
        self.log_failures = Some(hook);
        self
    }

    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// WP_089a: a refused request kept in the log with why; best effort, the refusal is what
    /// the caller sees.
    fn log_refusal(&self, client_id: &str, refusal: Refusal<'_>, now: UnixTime) {
        if let Err(e) = log_refusal(&self.store, client_id, refusal, now)
            && let Some(hook) = &self.log_failures
        {
            hook(LogFailure::Refusal(&e));
        }
    }

    /// Step 1: opens `url` → the consent to show (see the module documentation).
    pub fn start(&self, url: &str) -> Result<PresentationSession, PresentationError> {
        let now = self.now();
        let flow = PresentationFlow::start(url, self.profile).map_err(|source| PresentationError::Consent { step: PresentationStep::Request, source, told: false })?;
        let client_id = flow.client_id().as_str().to_owned();
        let entity = flow.client_id().entity_id().cloned();
        let untrusted = |reason: String, cause: Distrust| PresentationError::UntrustedRelyingParty { client_id: client_id.clone(), reason, cause: Box::new(cause) };
        if entity.is_none() && self.x509_anchors.is_none() {
            let reason = format!("client_id `{client_id}` is trusted by certificate, and no CA root is configured to check it with");
            self.log_refusal(&client_id, Refusal::Untrusted(&reason), now);
            return Err(untrusted(reason, Distrust::NoX509Anchors));
        }
        let by_value = match &flow.url().request {
            RequestRef::Value(jwt) => Some(jwt.clone()),
            RequestRef::Uri { .. } => None,
        };
        let fetch = || match flow.request_object_request() {
            Some(r) => send(self.http.as_ref(), PresentationStep::RequestObject, r).map(Some),
            None => Ok(None),
        };
        let chain = |jwt: Option<&str>| match &entity {
            Some(entity) => self.rp_chain(entity, jwt, now).map(Some).map_err(|(collected, header)| {
                let reason = match &header {
                    Some(h) => format!("{h}; collecting its trust chain: {collected}"),
                    None => collected.to_string(),
                };
                self.log_refusal(&client_id, Refusal::Untrusted(&reason), now);
                untrusted(reason, Distrust::Chain { entity: entity.clone(), collected, header })
            }),
            None => Ok(None),
        };
        let (rp_chain, fetched) = match self.chain_source {
            RpChainSource::CollectFirst => {
                let rp_chain = chain(by_value.as_deref())?;
                (rp_chain, fetch()?)
            }
            RpChainSource::RequestObjectFirst => {
                let fetched = fetch()?;
                let jwt = by_value.or_else(|| fetched.as_ref().and_then(|r| String::from_utf8(r.body.clone()).ok()));
                (chain(jwt.as_deref())?, fetched)
            }
        };
        let trust = RpTrustInputs { rp_chain: rp_chain.as_ref(), federation_anchors: &self.anchors, x509_anchors: self.x509_anchors.as_ref() };
        let request = flow.on_request_object(fetched.as_ref(), &trust, now).map_err(|source| {
            // WP_090: the relying party is told why, where it registered the `response_uri`;
            // whether that POST succeeds changes nothing for the citizen.
            let told = flow.error_notice(fetched.as_ref(), rp_chain.as_ref(), &source).is_some_and(|notice| self.http.send(notice).is_ok_and(|r| (200..300).contains(&r.status)));
            self.log_refusal(&client_id, Refusal::Request(&source), now);
            match source {
                ConsentError::RequestObject(ref e) if is_trust_rule(e) => untrusted(e.to_string(), Distrust::RequestObject { source, told }),
                source => PresentationError::Consent { step: PresentationStep::RequestObject, source, told },
            }
        })?;
        let marks = TrustMarkEvidence::gather(self.http.as_ref(), &self.anchors, rp_chain.as_ref(), now);
        let rp = evaluate_rp(&request, rp_chain.as_ref(), &marks.inputs(), now);
        if let Some(reason) = rp.refusal {
            self.log_refusal(&client_id, Refusal::RelyingParty(&reason), now);
            return Err(untrusted(reason, Distrust::RelyingParty { entity }));
        }
        let consent = ConsentRequest::from_store(request, rp, &self.store).map_err(|source| PresentationError::Consent { step: PresentationStep::Consent, source, told: false })?;
        Ok(PresentationSession { consent, rp_chain })
    }

    /// The RP's chain, per [`RpChainSource`]: collected with the fetcher to a configured
    /// anchor, or the `trust_chain` header of its request object (`jwt`) validated to one.
    fn rp_chain(&self, entity: &EntityId, jwt: Option<&str>, now: UnixTime) -> Result<ValidatedChain, (FederationError, Option<HeaderChainError>)> {
        let seam = SeamFetcher(self.http.as_ref());
        let fetcher: &dyn Fetcher = match &self.fetcher {
            Some(f) => f.as_ref(),
            None => &seam,
        };
        let collect = || ChainCollector::new(fetcher, &self.anchors).resolve(entity, now);
        let header = jwt.and_then(|jwt| ParsedRequestObject::parse(jwt).ok()).and_then(|p| p.header().trust_chain.clone());
        let from_header = |chain: &[String]| {
            let mut last = HeaderChainError::NoAnchor;
            for anchor in &self.anchors {
                match validate(chain, anchor, now) {
                    Ok(v) if v.subject.claims.sub == *entity => return Ok(v),
                    Ok(_) => last = HeaderChainError::OtherEntity,
                    Err(e) => last = HeaderChainError::Invalid(e),
                }
            }
            Err(last)
        };
        let header = match (self.chain_source, header.as_deref().map(from_header)) {
            (RpChainSource::RequestObjectFirst, Some(Ok(v))) => return Ok(v),
            (_, h) => h,
        };
        match (collect(), header) {
            (Ok(v), _) | (Err(_), Some(Ok(v))) => Ok(v),
            (Err(collected), h) => Err((collected, h.and_then(Result::err))),
        }
    }

    /// Step 2: presents what the citizen chose (only those claims; KB-JWT by `holder`),
    /// posts it to the `response_uri`, records the answer on the log entry.
    pub fn present(&self, session: &PresentationSession, choice: &ConsentChoice, holder: &dyn HolderKeys) -> Result<PresentationOutcome, PresentationError> {
        let prepared = session
            .consent
            .present(choice, holder, self.now(), Some(&self.store))
            .map_err(|source| PresentationError::Consent { step: PresentationStep::Response, source, told: false })?;
        self.deliver(prepared)
    }

    /// Step 2, declined: `access_denied` to the `response_uri` (logged as declined).
    pub fn decline(&self, session: &PresentationSession) -> Result<PresentationOutcome, PresentationError> {
        let prepared = session
            .consent
            .decline(self.now(), Some(&self.store))
            .map_err(|source| PresentationError::Consent { step: PresentationStep::Response, source, told: false })?;
        self.deliver(prepared)
    }

    fn deliver(&self, mut prepared: crate::oid4vp::PreparedResponse) -> Result<PresentationOutcome, PresentationError> {
        if let Some(own) = &self.own_redirect {
            prepared.redirects = prepared.redirects.and_own(own);
        }
        let record = |o: TransactionOutcome| {
            // The answer is what the caller gets; a log write failing must not hide it.
            if let Some(seq) = prepared.log_seq
                && let Err(error) = self.store.record_outcome(seq, self.now(), &o)
                && let Some(hook) = &self.log_failures
            {
                hook(LogFailure::Outcome { seq, error: &error });
            }
        };
        let response_uri = prepared.request.url.clone();
        let resp = match send(self.http.as_ref(), PresentationStep::ResponseUri, prepared.request.clone()) {
            Ok(r) => r,
            Err(e) => {
                if let PresentationError::Http { source, .. } = &e {
                    record(TransactionOutcome::Failed { reason: source.to_string() });
                }
                return Err(e);
            }
        };
        let answer = match prepared.read_answer(resp.status, &resp.body) {
            Ok(a) => a,
            Err(source) => {
                record(TransactionOutcome::Failed { reason: format!("HTTP {}: {source}", resp.status) });
                let excerpt = String::from_utf8_lossy(&resp.body).chars().take(300).collect();
                return Err(PresentationError::BadAnswer { status: resp.status, detail: source.to_string(), source, response_uri, excerpt });
            }
        };
        match answer {
            Ok(a) => {
                record(TransactionOutcome::Accepted);
                Ok(PresentationOutcome { redirect_uri: a.redirect_uri, disclosed: disclosed_text(&prepared.disclosed), log_seq: prepared.log_seq })
            }
            Err(e) => {
                record(TransactionOutcome::Refused { error: e.error.clone(), description: e.error_description.clone() });
                Err(PresentationError::Refused { status: resp.status, error: e.error, description: e.error_description })
            }
        }
    }
}

fn disclosed_text(d: &BTreeMap<String, Vec<ClaimPath>>) -> BTreeMap<String, Vec<String>> {
    d.iter().map(|(q, ps)| (q.clone(), ps.iter().map(ToString::to_string).collect())).collect()
}

/// Whether a request object refusal is about trust (the RP is not who or what it claims).
pub fn is_trust_rule(e: &crate::oid4vp::RequestObjectError) -> bool {
    use crate::oid4vp::RequestObjectError as E;
    matches!(
        e,
        E::MissingTrustChain
            | E::EntityMismatch { .. }
            | E::UntrustedChain(_)
            | E::NoVerifierMetadata
            | E::UnknownKid(_)
            | E::RootInChain
            | E::Certificate(_)
            | E::BadSignature
            | E::NoX509Anchors
            | E::X509HashMismatch
            | E::X5cKeyMismatch
    )
}

/// The holder keys of the chosen credentials, in a [`KeyStore`], found by the tag in each
/// credential's metadata (`holder_key_tag`, else `key_tag`).
pub struct StoredHolderKeys(BTreeMap<CredentialId, KeyStoreSigner>);

impl std::fmt::Debug for StoredHolderKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredHolderKeys").field("credentials", &self.0.len()).finish()
    }
}

impl StoredHolderKeys {
    /// The keys of the credentials `choice` names (those without a known tag are left out:
    /// presenting them fails with [`ConsentError::NoHolderKey`]).
    pub fn for_choice(store: &CredentialStore, keys: Arc<dyn KeyStore>, choice: &ConsentChoice) -> Result<Self, StoreError> {
        Self::collect(store, keys, choice, None)
    }

    /// As [`Self::for_choice`], with the key tagged `fallback` for a credential whose metadata
    /// names none (one stored before the tag was recorded).
    pub fn for_choice_or(store: &CredentialStore, keys: Arc<dyn KeyStore>, choice: &ConsentChoice, fallback: &KeyTag) -> Result<Self, StoreError> {
        Self::collect(store, keys, choice, Some(fallback))
    }

    fn collect(store: &CredentialStore, keys: Arc<dyn KeyStore>, choice: &ConsentChoice, fallback: Option<&KeyTag>) -> Result<Self, StoreError> {
        let mut out = BTreeMap::new();
        for (_, id) in &choice.0 {
            if out.contains_key(id) {
                continue;
            }
            let c = store.get(id)?;
            let named = ["holder_key_tag", "key_tag"].iter().find_map(|k| c.metadata.get(*k).and_then(Value::as_str));
            let tag = match named {
                Some(t) => KeyTag::new(t).ok(),
                None => fallback.cloned(),
            };
            if let Some(signer) = tag.and_then(|t| KeyStoreSigner::new(keys.clone(), t).ok()) {
                out.insert(id.clone(), signer);
            }
        }
        Ok(Self(out))
    }
}

impl HolderKeys for StoredHolderKeys {
    fn holder_key(&self, credential: &CredentialId) -> Option<&dyn Signer> {
        self.0.get(credential).map(|s| s as &dyn Signer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_refusals_are_told_apart_from_malformed_requests() {
        use crate::oid4vp::RequestObjectError as E;
        assert!(is_trust_rule(&E::BadSignature));
        assert!(is_trust_rule(&E::MissingTrustChain));
        assert!(!is_trust_rule(&E::MissingClaim("nonce")));
    }

    /// Counts what is sent; answers 404.
    struct Counting(std::sync::Mutex<Vec<String>>);

    impl HttpClient for Counting {
        fn send(&self, r: HttpRequest) -> Result<HttpResponse, HttpError> {
            self.0.lock().unwrap().push(r.url);
            Ok(HttpResponse { status: 404, headers: Vec::new(), body: Vec::new() })
        }
    }

    #[test]
    fn an_x509_hash_client_without_ca_roots_is_refused_before_anything_is_fetched() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::open(dir.path().join("w.db"), &crate::store::StaticKeyProvider(crate::store::DataKey::from_bytes([7; 32]))).unwrap();
        let http = Arc::new(Counting(std::sync::Mutex::new(Vec::new())));
        let flow = WalletPresentation::new(http.clone(), Arc::new(store), Vec::new());
        let hash = "A".repeat(43);
        let e = flow.start(&format!("openid4vp://?client_id=x509_hash:{hash}&request_uri=https%3A%2F%2Frp.example%2Fro")).unwrap_err();
        assert!(matches!(&e, PresentationError::UntrustedRelyingParty { cause, .. } if matches!(**cause, Distrust::NoX509Anchors)), "{e}");
        assert!(http.0.lock().unwrap().is_empty());
    }

    #[test]
    fn log_failures_say_what_was_not_written() {
        let e = StoreError::WrongKey;
        assert_eq!(LogFailure::Outcome { seq: 3, error: &e }.to_string(), format!("the transaction log entry #3 could not be completed: {e}"));
    }

    #[test]
    fn steps_name_themselves() {
        let e = PresentationError::Refused { status: 400, error: "invalid_request".into(), description: None };
        assert_eq!(e.to_string(), "response_uri: the relying party answered HTTP 400 invalid_request");
        assert_eq!(PresentationStep::RequestObject.to_string(), "request object");
    }
}
