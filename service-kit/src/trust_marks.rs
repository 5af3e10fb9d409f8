//! The trust marks a service requires of the entities it trusts, checked "static plus dynamic"
//! (IT-Wallet 1.4 §1.1; OID-FED §7, §8.4), in one place for every service that needs it:
//! the issuer of the wallet providers whose attestations it accepts (IT-Wallet 1.4 §1.3,
//! issue 12: "any wallet provider whose chain reaches a configured trust anchor and which
//! holds the wallet-provider trust mark"), the verifier of the credential issuers whose
//! credentials it accepts (IT-Wallet 1.4 §8: "the issuer is untrusted: … Trust Mark or policy
//! is missing").
//!
//! * **Static**: one of the subject's marks of a required type validates under its trust
//!   anchor's current `trust_mark_issuers` (wallet-core
//!   [`wallet_core::federation::trust_mark::held`]). The anchors' configurations are fetched
//!   and verified with their configured keys, kept until their `exp` or [`ANCHOR_REFRESH`]
//!   seconds (their `trust_mark_issuers` may change before they expire).
//! * **Mark issuers outside the chain**: OID-FED §7.3, a Trust Mark Issuer need not be in the
//!   subject's chain, the anchor accrediting it in `trust_mark_issuers` is what counts. Its
//!   keys then come from its own trust chain to the anchor, resolved (only for an issuer the
//!   anchor accredits for a required type, at most [`MAX_MARK_ISSUERS`] for one subject) and
//!   kept until its `exp` (a failure for [`RETRY`] seconds). A mark whose issuer's chain
//!   cannot be resolved is refused.
//! * **Dynamic**: each required mark that validates statically (nothing unverified is sent)
//!   is asked about at its issuer's `federation_trust_mark_status_endpoint` (the anchor's
//!   configuration, or the issuer's resolved metadata, names it); an `active` answer is used
//!   `status_refresh` seconds (0: asked at every check). `revoked`, `expired` or `invalid`
//!   refuses the subject, for good (a mark is not reinstated; a new one is another JWT). Each
//!   statically valid mark is weighed by its own answer: the first not reported otherwise
//!   than active is held. When the endpoint cannot be asked (none published, unreachable, an
//!   answer that does not verify) the static validation stands, and the log says so: a status
//!   endpoint down must not stop every wallet from getting or presenting credentials.
//!
//! The fetches are async ([`MarkKeeper::prefetch`], before a synchronous check such as the
//! issuer's key resolver; [`MarkKeeper::check_chain`] does both for an async caller); the
//! decision ([`MarkKeeper::check`]) reads only what is kept, and says until when it holds:
//! the mark's `exp`, its status answer's time, the mark issuers' chains' `exp`, the anchor
//! configuration's time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use wallet_core::federation::entity::{ENTITY_STATEMENT_MEDIA_TYPE, EntityStatement, ParsedStatement};
use wallet_core::federation::trust_mark::{self, MAX_MARK_ISSUERS, TrustMarkStatus};
use wallet_core::federation::{AsyncFetcher as _, ChainCollector, EntityId, TrustAnchorConfig, ValidatedChain};
use wallet_core::jose::JwkSet;
use wallet_core::oid4vp::verify::HeldTrustMark;
use wallet_core::time::UnixTime;

use crate::OutboundHttp;

/// How long an anchor's configuration is used at most before it is fetched again (its
/// `trust_mark_issuers` may change before it expires), in seconds.
pub const ANCHOR_REFRESH: i64 = 600;

/// Seconds before a failed fetch (an anchor's configuration, a mark issuer's chain, a status
/// endpoint) is tried again.
pub const RETRY: i64 = 30;

/// Entries of each memory at most; a full memory is emptied.
const MAX_KEPT: usize = 1_024;

/// A mark issuer's validated chain (`None`: could not be resolved), until when it is used.
type KeptChain = (Option<Arc<ValidatedChain>>, i64);

/// A map behind a mutex that a poisoned lock does not take down, emptied when full.
#[derive(Debug)]
struct Kept<K, V>(Mutex<HashMap<K, V>>);

impl<K: std::hash::Hash + Eq, V> Default for Kept<K, V> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<K: std::hash::Hash + Eq, V> Kept<K, V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self, k: K, v: V) {
        let mut m = self.lock();
        if m.len() >= MAX_KEPT {
            m.clear();
        }
        m.insert(k, v);
    }
}

/// A mark of type `trust_mark_type` issued by `iss`, looked at under `anchor`, whose current
/// configuration is `configuration`.
#[derive(Clone, Copy)]
struct IssuedUnder<'a> {
    iss: &'a str,
    trust_mark_type: &'a str,
    anchor: &'a TrustAnchorConfig,
    configuration: &'a EntityStatement,
}

/// The subject whose marks are checked: its configuration and the entities above it in the
/// chain that shows it (whose keys that chain pins for the marks they issue).
struct Subject {
    ec: EntityStatement,
    superiors: Vec<String>,
}

impl Subject {
    /// From a chain's JWTs, unverified (what to fetch is read before the chain is checked).
    fn unverified(chain: &[String]) -> Option<Self> {
        let ec = ParsedStatement::parse(chain.first()?).ok()?.claims;
        let superiors = chain.iter().skip(1).filter_map(|j| ParsedStatement::parse(j).ok()).map(|s| s.claims.sub.as_str().to_owned()).collect();
        Some(Self { ec, superiors })
    }

    fn validated(chain: &ValidatedChain) -> Self {
        Self { ec: chain.subject.claims.clone(), superiors: chain.statements.iter().skip(1).map(|s| s.claims.sub.as_str().to_owned()).collect() }
    }
}

/// The required marks and what checking them keeps: shared by a service's requests.
#[derive(Debug)]
pub struct MarkKeeper {
    /// Trust mark types of which a subject must hold one (none: not checked).
    required: Vec<String>,
    /// How long a reported status is used (seconds).
    status_refresh: i64,
    /// What the subjects are, for the log ("wallet provider", "credential issuer").
    kind: &'static str,
    /// Anchors' configurations by anchor id (`None` after a failed fetch), until when used.
    anchor_configurations: Kept<String, (Option<EntityStatement>, i64)>,
    /// Statuses by the mark's JWT (`None`: could not be asked), until when used.
    statuses: Kept<String, (Option<TrustMarkStatus>, i64)>,
    /// Subjects whose required marks' statuses were asked, by entity id, and until when those
    /// answers are used: a map look-up per request says whether one is due.
    asked: Kept<String, i64>,
    /// Accredited mark issuers' chains by (anchor, issuer) (`None`: not resolved), until
    /// when used.
    issuers: Kept<(String, String), KeptChain>,
    /// Chains whose check passed, by [`passed_key`] (the anchor and the subject's
    /// configuration), until when it holds ([`Self::check_chain`]: no mark signature verified
    /// again per request).
    passed: Kept<[u8; 32], (i64, HeldTrustMark)>,
}

impl MarkKeeper {
    /// A keeper requiring one of `required` (none: every check passes), status answers used
    /// `status_refresh` seconds; `kind` names the subjects in the log.
    pub fn new(required: Vec<String>, status_refresh: i64, kind: &'static str) -> Self {
        Self {
            required,
            status_refresh,
            kind,
            anchor_configurations: Kept::default(),
            statuses: Kept::default(),
            asked: Kept::default(),
            issuers: Kept::default(),
            passed: Kept::default(),
        }
    }

    /// The required types (empty: marks are not checked).
    pub fn required(&self) -> &[String] {
        &self.required
    }

    /// Whether `subject`'s required marks' statuses are to be asked (again) before it is
    /// trusted: marks are required, and they were not asked, or the answers' time is up
    /// (always, with a refresh of 0).
    pub fn statuses_due(&self, subject: &str, now: i64) -> bool {
        !self.required.is_empty() && self.asked.lock().get(subject).is_none_or(|until| now >= *until)
    }

    /// The anchor's configuration while it is to be used (`Some(None)` after a failure).
    fn anchor_configuration(&self, anchor: &str, now: i64) -> Option<Option<EntityStatement>> {
        self.anchor_configurations.lock().get(anchor).filter(|(_, until)| now < *until).map(|(c, _)| c.clone())
    }

    /// The kept chain of the mark issuer `iss` under `anchor` while it is to be used.
    fn kept_issuer(&self, anchor: &str, iss: &str, now: i64) -> Option<KeptChain> {
        self.issuers.lock().get(&(anchor.to_owned(), iss.to_owned())).filter(|(_, until)| now < *until).cloned()
    }

    /// The reported status of `mark` while it is to be used, up to its `until` included.
    fn status(&self, mark: &str, now: i64) -> Option<(Option<TrustMarkStatus>, i64)> {
        self.statuses.lock().get(mark).filter(|(_, until)| now <= *until).copied()
    }

    /// Everything [`Self::check`] needs for the subject of `chain` (its JWTs, unverified:
    /// subject first; empty: the anchors' configurations only), fetched where not kept: the
    /// anchors' configurations, the chains of its marks' issuers outside its chain, its
    /// marks' statuses not held (each mark's answer is used `status_refresh` seconds). Map
    /// look-ups when nothing is due.
    pub async fn prefetch(&self, http: &OutboundHttp, anchors: &[TrustAnchorConfig], chain: &[String], now: UnixTime) {
        if self.required.is_empty() {
            return;
        }
        self.fetch_anchor_configurations(http, anchors, now).await;
        let Some(subject) = Subject::unverified(chain) else { return };
        self.fetch_issuers(http, anchors, &subject, now).await;
        self.fetch_statuses(http, anchors, &subject, now).await;
    }

    /// The chains of the subject's marks' issuers outside its chain (unverified JWTs), for
    /// [`Self::check`] to verify their marks with; after the anchors' configurations. Whether
    /// one was resolved now (a caller that prefetched before may then check again).
    pub async fn fetch_mark_issuers(&self, http: &OutboundHttp, anchors: &[TrustAnchorConfig], chain: &[String], now: UnixTime) -> bool {
        if self.required.is_empty() {
            return false;
        }
        self.fetch_anchor_configurations(http, anchors, now).await;
        match Subject::unverified(chain) {
            Some(subject) => self.fetch_issuers(http, anchors, &subject, now).await,
            None => false,
        }
    }

    /// Whether `chain`'s subject, validated to one of `anchors`, holds a required mark: the
    /// fetches of [`Self::prefetch`] where due, then [`Self::check`]; a pass is remembered
    /// while it holds. `Err`: why not (for the log and the refusal).
    pub async fn check_chain(&self, http: &OutboundHttp, anchors: &[TrustAnchorConfig], chain: &ValidatedChain, now: UnixTime) -> Result<Option<HeldTrustMark>, String> {
        if self.required.is_empty() {
            return Ok(None);
        }
        let key = passed_key(&chain.trust_anchor, &chain.subject.jwt);
        if let Some((_, held)) = self.passed.lock().get(&key).filter(|(until, _)| now.secs() < *until) {
            return Ok(Some(held.clone()));
        }
        let anchor = anchors.iter().find(|a| a.id == chain.trust_anchor).ok_or_else(|| format!("{} is not a configured trust anchor", chain.trust_anchor))?;
        let one = std::slice::from_ref(anchor);
        self.fetch_anchor_configurations(http, one, now).await;
        let subject = Subject::validated(chain);
        self.fetch_issuers(http, one, &subject, now).await;
        self.fetch_statuses(http, one, &subject, now).await;
        let (until, held) = self.check(chain, anchor, now)?;
        if let Some(held) = &held
            && until > now.secs()
        {
            self.passed.insert(key, (until, held.clone()));
        }
        Ok(held)
    }

    /// Whether `chain`'s subject holds a required mark, by what is kept: until when that
    /// holds (`i64::MAX` without an `exp`, or when no mark is required; `now` when its status
    /// was not asked yet: trusted on the static check for this request only, so that the
    /// status, once asked, counts at the next), and the mark (`None`: none required). `Err`:
    /// why not.
    pub fn check(&self, chain: &ValidatedChain, anchor: &TrustAnchorConfig, now: UnixTime) -> Result<(i64, Option<HeldTrustMark>), String> {
        if self.required.is_empty() {
            return Ok((i64::MAX, None));
        }
        let Some((Some(configuration), configuration_until)) = self.anchor_configurations.lock().get(anchor.id.as_str()).filter(|(_, until)| now.secs() < *until).cloned() else {
            return Err(format!("the trust anchor {}'s configuration could not be fetched to check the trust marks", anchor.id));
        };
        // The keys of the required marks' issuers whose chains to the anchor are kept, and the
        // earliest `exp` of those chains (a mark verified with them is trusted no longer).
        let mut issuer_keys: Vec<(String, JwkSet)> = Vec::new();
        let mut issuers_until = i64::MAX;
        for iss in self.required_marks(&chain.subject.claims).filter_map(|t| trust_mark::unverified_issuer(&t.trust_mark)) {
            if let Some((Some(c), exp)) = self.kept_issuer(anchor.id.as_str(), &iss, now.secs()) {
                issuers_until = issuers_until.min(exp);
                issuer_keys.push((iss, c.subject.claims.jwks.clone()));
            }
        }
        let (valid, refusal) = trust_mark::held_each(chain, &self.required, anchor, &configuration, &issuer_keys, now);
        // Each statically valid mark by the status its issuer reported for that very mark:
        // the first not reported otherwise than active is held (one revoked mark does not
        // hide another valid one, nor a junk entry of the same type a revoked one).
        let mut reported = None;
        for (jwt, mark) in &valid {
            let status_until = match self.status(jwt, now.secs()) {
                // An answer held (active, or the endpoint could not be asked: the static
                // check stands): trusted no longer than that answer is used.
                Some((Some(TrustMarkStatus::Active) | None, until)) => until,
                Some((Some(other), _)) => {
                    reported.get_or_insert_with(|| format!("{}: its issuer {} reports it {} (trust mark status)", mark.trust_mark_type, mark.iss, other.as_str()));
                    continue;
                }
                // Not asked yet: trusted on the static check for this request only, so that
                // the status, once asked, counts at the next.
                None => now.secs(),
            };
            // No longer than the anchor's configuration is used (its `trust_mark_issuers`
            // may change).
            let until = mark.exp.unwrap_or(i64::MAX).min(status_until).min(issuers_until).min(configuration_until);
            return Ok((until, Some(HeldTrustMark { trust_mark_type: mark.trust_mark_type.clone(), issuer: mark.iss.as_str().to_owned() })));
        }
        Err(reported.unwrap_or_else(|| refusal.to_string()))
    }

    fn required_marks<'a>(&'a self, ec: &'a EntityStatement) -> impl Iterator<Item = &'a wallet_core::federation::entity::TrustMarkRef> + 'a {
        ec.trust_marks.iter().flatten().filter(|t| self.required.contains(&t.trust_mark_type))
    }

    /// Each anchor's Entity Configuration (its `trust_mark_issuers`), fetched and verified
    /// with the anchor's configured keys where not kept.
    async fn fetch_anchor_configurations(&self, http: &OutboundHttp, anchors: &[TrustAnchorConfig], now: UnixTime) {
        for anchor in anchors {
            if self.anchor_configurations.lock().get(anchor.id.as_str()).is_some_and(|(_, until)| now.secs() < *until) {
                continue;
            }
            let fetcher = http.for_request();
            let fetched = fetcher
                .get(&anchor.id.configuration_url(), ENTITY_STATEMENT_MEDIA_TYPE)
                .await
                .map_err(|e| e.to_string())
                // wallet-core's chain validation of the anchor's lone configuration: about
                // the anchor, signed with its configured keys, valid now.
                .and_then(|jwt| wallet_core::federation::chain::validate(&[jwt], anchor, now).map(|v| v.subject.claims).map_err(|e| e.to_string()));
            let entry = match fetched {
                Ok(ec) => {
                    let until = ec.exp.min(now.secs().saturating_add(ANCHOR_REFRESH));
                    (Some(ec), until)
                }
                Err(e) => {
                    tracing::warn!(target: "trust_marks", anchor = %anchor.id, "{}s' trust marks cannot be checked: the trust anchor's configuration: {e}", self.kind);
                    (None, now.secs().saturating_add(RETRY))
                }
            };
            self.anchor_configurations.insert(anchor.id.as_str().to_owned(), entry);
        }
    }

    /// The chains of the issuers of the subject's required marks that are neither a trust
    /// anchor nor a superior in its chain, resolved to each anchor that accredits the issuer
    /// for the type and kept. Whether one was resolved now.
    async fn fetch_issuers(&self, http: &OutboundHttp, anchors: &[TrustAnchorConfig], subject: &Subject, now: UnixTime) -> bool {
        let mut looked_up = Vec::new();
        let mut resolved = false;
        for tm in self.required_marks(&subject.ec) {
            let Some(iss) = trust_mark::unverified_issuer(&tm.trust_mark) else { continue };
            for anchor in anchors {
                let Some(Some(configuration)) = self.anchor_configuration(anchor.id.as_str(), now.secs()) else { continue };
                if iss == anchor.id.as_str() || self.kept_issuer(anchor.id.as_str(), &iss, now.secs()).is_some() || subject.superiors.contains(&iss) {
                    continue;
                }
                let at = IssuedUnder { iss: &iss, trust_mark_type: &tm.trust_mark_type, anchor, configuration: &configuration };
                resolved |= self.accredited_issuer_chain(http, &at, &mut looked_up, now).await.is_some();
            }
        }
        resolved
    }

    /// The status of the subject's required marks, asked of each mark's issuer once the mark
    /// validates statically with that issuer's keys: the trust anchor, or an issuer the
    /// anchor lists for the type (known by its own chain to the anchor, kept or resolved).
    async fn fetch_statuses(&self, http: &OutboundHttp, anchors: &[TrustAnchorConfig], subject: &Subject, now: UnixTime) {
        let sub = &subject.ec.sub;
        let mut looked_up = Vec::new();
        for tm in self.required_marks(&subject.ec) {
            // Held and still to be used: skipped (with a refresh of 0 an active answer is asked
            // again at every check, but a failure to ask is not retried before its [`RETRY`],
            // and a revoked, expired or invalid one is final).
            if let Some((status, _)) = self.status(&tm.trust_mark, now.secs())
                && (self.status_refresh > 0 || status != Some(TrustMarkStatus::Active))
            {
                continue;
            }
            let Some(iss) = trust_mark::unverified_issuer(&tm.trust_mark) else { continue };
            for anchor in anchors {
                let Some(Some(configuration)) = self.anchor_configuration(anchor.id.as_str(), now.secs()) else { continue };
                let at = IssuedUnder { iss: &iss, trust_mark_type: &tm.trust_mark_type, anchor, configuration: &configuration };
                let Some((keys, endpoint)) = self.mark_issuer(http, &at, &mut looked_up, now).await else { continue };
                // Only what validated statically is sent to a status endpoint.
                if trust_mark::verify(&tm.trust_mark, sub, &keys, &configuration, now).is_err() {
                    continue;
                }
                let asked = match endpoint {
                    None => Err(format!("{iss} publishes no federation_trust_mark_status_endpoint")),
                    Some(endpoint) => ask_status(http, &endpoint, &keys, &tm.trust_mark).await,
                };
                let entry = match asked {
                    Ok(status) => {
                        if status != TrustMarkStatus::Active {
                            tracing::info!(target: "trust_marks", subject = %sub, trust_mark_type = %tm.trust_mark_type, mark_issuer = %iss, status = status.as_str(), "a {}'s trust mark is not active", self.kind);
                        }
                        // A revoked, expired or invalid mark stays so (a reissued mark is
                        // another JWT): kept for good, not only `status_refresh` seconds. Else
                        // with a refresh of 0 a revocation just reported would read as "not
                        // asked" once the clock ticks, and the static check would stand.
                        let until = if status == TrustMarkStatus::Active { now.secs().saturating_add(self.status_refresh) } else { i64::MAX };
                        (Some(status), until)
                    }
                    Err(e) => {
                        tracing::warn!(target: "trust_marks", subject = %sub, trust_mark_type = %tm.trust_mark_type, mark_issuer = %iss, "a {}'s trust mark status not asked (the static validation stands): {e}", self.kind);
                        (None, now.secs().saturating_add(RETRY))
                    }
                };
                self.statuses.insert(tm.trust_mark.clone(), entry);
                break;
            }
        }
        // Until when this subject's answers all hold: the earliest of the answers held for its
        // required marks. Only marks that validated statically were asked about, so a chain
        // shown with nothing but junk marks (an unverified one naming another subject) records
        // nothing, and cannot make the real subject's statuses look asked.
        let until = {
            let held = self.statuses.lock();
            self.required_marks(&subject.ec).filter_map(|t| held.get(&t.trust_mark).map(|(_, until)| *until)).min()
        };
        if let Some(until) = until {
            self.asked.insert(sub.as_str().to_owned(), until);
        }
    }

    /// Whose keys verify a mark issued by `iss` under `anchor` (whose current configuration
    /// is `configuration`), and where its status is asked (OID-FED §8.4): the anchor's
    /// configured keys and the endpoint its configuration publishes when the anchor issued
    /// it; for an issuer the anchor lists in `trust_mark_issuers` for `trust_mark_type`, its
    /// Federation Entity Keys and its `federation_entity` metadata (superiors' policies
    /// applied) from its own trust chain to that anchor, as the wallet does for a relying
    /// party's marks (wallet-core `TrustMarkEvidence::gather`). `None`: the mark cannot be
    /// verified under this anchor.
    async fn mark_issuer(&self, http: &OutboundHttp, at: &IssuedUnder<'_>, looked_up: &mut Vec<String>, now: UnixTime) -> Option<(JwkSet, Option<String>)> {
        let IssuedUnder { iss, anchor, configuration, .. } = *at;
        if iss == anchor.id.as_str() {
            let federation_entity = configuration.metadata.as_ref().and_then(|m| m.get("federation_entity")).and_then(Value::as_object);
            return Some((anchor.jwks.clone(), trust_mark::status_endpoint(federation_entity)));
        }
        let chain = self.accredited_issuer_chain(http, at, looked_up, now).await?;
        Some((chain.subject.claims.jwks.clone(), trust_mark::status_endpoint(chain.metadata_of("federation_entity"))))
    }

    /// The trust chain to `anchor` of `iss`, an issuer `anchor` accredits for
    /// `trust_mark_type`: the one kept while valid, else resolved now and kept until its
    /// `exp` (a failure for [`RETRY`] seconds). Only an accredited issuer is resolved (a
    /// subject's configuration does not choose what we fetch), and at most
    /// [`MAX_MARK_ISSUERS`] distinct ones for one subject (`looked_up`).
    async fn accredited_issuer_chain(&self, http: &OutboundHttp, at: &IssuedUnder<'_>, looked_up: &mut Vec<String>, now: UnixTime) -> Option<Arc<ValidatedChain>> {
        let IssuedUnder { iss, trust_mark_type, anchor, configuration } = *at;
        if !trust_mark::accredited(configuration, trust_mark_type, iss) {
            return None;
        }
        let key = format!("{} {iss}", anchor.id);
        if !looked_up.contains(&key) {
            if looked_up.len() >= MAX_MARK_ISSUERS {
                tracing::info!(target: "trust_marks", mark_issuer = %iss, "trust mark issuer not resolved: {MAX_MARK_ISSUERS} already looked up for this {}", self.kind);
                return None;
            }
            looked_up.push(key);
        }
        if let Some((chain, _)) = self.kept_issuer(anchor.id.as_str(), iss, now.secs()) {
            return chain;
        }
        let fetcher = http.for_request();
        let resolved = match EntityId::new(iss) {
            Ok(id) => ChainCollector::new_async(&fetcher, std::slice::from_ref(anchor)).resolve_async(&id, now).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let chain = resolved
            .map_err(|e| tracing::warn!(target: "trust_marks", mark_issuer = %iss, anchor = %anchor.id, "the trust mark issuer's trust chain cannot be resolved (its marks' status not asked): {e}"))
            .ok()
            .map(Arc::new);
        let until = chain.as_ref().map_or(now.secs().saturating_add(RETRY), |c| c.exp.secs());
        self.issuers.insert((anchor.id.as_str().to_owned(), iss.to_owned()), (chain.clone(), until));
        chain
    }
}

/// SHA-256 over the anchor's id and the subject's configuration JWT, each length-prefixed.
fn passed_key(anchor: &EntityId, configuration: &str) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for part in [anchor.as_str(), configuration] {
        h.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// A [`MarkKeeper`] over a service's outbound HTTP and trust anchors, as wallet-core's
/// presentation checks take it ([`wallet_core::oid4vp::verify::IssuerMarks`]): the verifier's
/// credential issuers, the issuer's PID providers.
pub struct IssuerMarkCheck<'a> {
    /// The required types and what checking them keeps.
    pub keeper: &'a MarkKeeper,
    /// Outbound HTTP (anchors' configurations, mark issuers' chains, status endpoints).
    pub http: &'a OutboundHttp,
    /// The configured trust anchors.
    pub anchors: &'a [TrustAnchorConfig],
}

impl IssuerMarkCheck<'_> {
    /// As a presentation context takes it: `None` when no mark is required.
    pub fn if_required(&self) -> Option<&dyn wallet_core::oid4vp::verify::IssuerMarks> {
        (!self.keeper.required.is_empty()).then_some(self as &dyn wallet_core::oid4vp::verify::IssuerMarks)
    }
}

impl wallet_core::oid4vp::verify::IssuerMarks for IssuerMarkCheck<'_> {
    fn required(&self) -> bool {
        !self.keeper.required.is_empty()
    }

    fn check<'a>(&'a self, chain: &'a ValidatedChain, now: UnixTime) -> wallet_core::oid4vp::verify::MarksFuture<'a> {
        Box::pin(self.keeper.check_chain(self.http, self.anchors, chain, now))
    }
}

/// `POST trust_mark=<mark>` to the mark issuer's `federation_trust_mark_status_endpoint`
/// (OID-FED §8.4.1), the signed answer verified with the issuer's keys (§8.4.2).
async fn ask_status(http: &OutboundHttp, endpoint: &str, issuer_keys: &JwkSet, mark: &str) -> Result<TrustMarkStatus, String> {
    http.for_request()
        .post_form(endpoint, &[("trust_mark", mark)], trust_mark::STATUS_RESPONSE_MEDIA_TYPE)
        .await
        .map_err(|e| format!("{endpoint}: {e}"))
        .and_then(|r| String::from_utf8(r.body).map_err(|_| format!("{endpoint}: the answer is not UTF-8")))
        .and_then(|jwt| trust_mark::verify_status_response(&jwt, issuer_keys, mark).map_err(|e| format!("{endpoint}: {e}")))
}
