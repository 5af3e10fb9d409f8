//! Trust chain collection (draft 48 §10.1): from a subject's Entity Configuration up its
//! `authority_hints` to a configured trust anchor, fetching each Subordinate Statement from
//! the superior's `federation_fetch_endpoint`; then validation
//! ([`super::chain::validate_with_anchor_configuration`], with the anchor's Entity
//! Configuration fetched on the way, so its `constraints` apply).
//!
//! The network is behind [`AsyncFetcher`] (services) or [`Fetcher`] (the CLI, phones); the
//! walk is written once, async, and [`ChainCollector::resolve`] drives it synchronously over a
//! [`Fetcher`] whose futures are always ready. Collection is bounded in depth, in statements
//! fetched and in response size, never fetches a statement twice, and drops hints that loop;
//! bounding time is the caller's (a service wraps [`ChainCollector::resolve_async`] in a
//! timeout). [`ChainCache`] keeps validated chains until their `exp`.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use super::chain::{TrustAnchorConfig, ValidatedChain, validate, validate_with_anchor_configuration};
use super::entity::{ENTITY_STATEMENT_MEDIA_TYPE, EntityId, ParsedStatement};
use super::FederationError;
use crate::time::UnixTime;

/// The largest statement accepted from the network.
pub const MAX_STATEMENT_LEN: usize = 256 * 1024;

/// HTTP GET, as the caller implements it (reqwest in services, the platform's client on a
/// phone). Implementations bound time; this module bounds everything else.
pub trait Fetcher: Send + Sync {
    /// GETs `url` with `Accept: accept`; returns the body of a 200 response.
    fn get(&self, url: &str, accept: &str) -> Result<String, FederationError>;
}

/// Boxed future of an [`AsyncFetcher`] call.
pub type FetchFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, FederationError>> + Send + 'a>>;

/// HTTP GET without blocking a thread (services: reqwest with time and concurrency bounds).
pub trait AsyncFetcher: Send + Sync {
    /// GETs `url` with `Accept: accept`; the body of a 200 response.
    fn get<'a>(&'a self, url: &'a str, accept: &'a str) -> FetchFuture<'a>;
}

/// A synchronous [`Fetcher`] as an [`AsyncFetcher`] whose futures are ready when created.
#[derive(Clone, Copy)]
struct Blocking<'a>(&'a dyn Fetcher);

impl AsyncFetcher for Blocking<'_> {
    fn get<'b>(&'b self, url: &'b str, accept: &'b str) -> FetchFuture<'b> {
        Box::pin(std::future::ready(self.0.get(url, accept)))
    }
}

#[derive(Clone, Copy)]
enum Source<'a> {
    Blocking(Blocking<'a>),
    Async(&'a dyn AsyncFetcher),
}

/// Collects and validates chains to a set of trust anchors.
pub struct ChainCollector<'a> {
    fetcher: Source<'a>,
    anchors: &'a [TrustAnchorConfig],
    max_depth: usize,
    max_fetches: usize,
}

struct Walk {
    fetched: usize,
    configurations: HashMap<EntityId, ParsedStatement>,
}

/// One entity on the current path of the depth-first walk, with the hints left to try.
struct Frame {
    sub: EntityId,
    chain: Vec<String>,
    hints: std::vec::IntoIter<EntityId>,
    /// The hint that led here (removed from the path when the frame is done).
    via: Option<EntityId>,
}

impl<'a> ChainCollector<'a> {
    /// A collector over `fetcher` to `anchors`, at most 5 superiors up and 32 fetches.
    pub fn new(fetcher: &'a dyn Fetcher, anchors: &'a [TrustAnchorConfig]) -> Self {
        Self::with_source(Source::Blocking(Blocking(fetcher)), anchors)
    }

    /// A collector over an [`AsyncFetcher`], for [`Self::resolve_async`]; same bounds as
    /// [`Self::new`].
    pub fn new_async(fetcher: &'a dyn AsyncFetcher, anchors: &'a [TrustAnchorConfig]) -> Self {
        Self::with_source(Source::Async(fetcher), anchors)
    }

    fn with_source(fetcher: Source<'a>, anchors: &'a [TrustAnchorConfig]) -> Self {
        Self { fetcher, anchors, max_depth: 5, max_fetches: 32 }
    }

    /// Sets the bounds.
    pub fn with_limits(mut self, max_depth: usize, max_fetches: usize) -> Self {
        self.max_depth = max_depth;
        self.max_fetches = max_fetches;
        self
    }

    fn fetcher(&self) -> &dyn AsyncFetcher {
        match &self.fetcher {
            Source::Blocking(b) => b,
            Source::Async(a) => *a,
        }
    }

    async fn get(&self, walk: &mut Walk, url: &str) -> Result<String, FederationError> {
        if walk.fetched >= self.max_fetches {
            return Err(FederationError::Fetch { url: url.to_owned(), reason: format!("more than {} fetches", self.max_fetches) });
        }
        walk.fetched += 1;
        let body = self.fetcher().get(url, ENTITY_STATEMENT_MEDIA_TYPE).await?;
        if body.len() > MAX_STATEMENT_LEN {
            return Err(FederationError::Fetch { url: url.to_owned(), reason: format!("response larger than {MAX_STATEMENT_LEN} bytes") });
        }
        Ok(body)
    }

    /// An entity's configuration, fetched once and checked to be self-signed.
    async fn configuration(&self, walk: &mut Walk, id: &EntityId) -> Result<ParsedStatement, FederationError> {
        if let Some(c) = walk.configurations.get(id) {
            return Ok(c.clone());
        }
        let body = self.get(walk, &id.configuration_url()).await?;
        let ec = ParsedStatement::parse(&body)?;
        if !ec.claims.is_configuration() || &ec.claims.sub != id {
            return Err(FederationError::BrokenLink { index: 0, reason: format!("{id} served a configuration about {}", ec.claims.sub) });
        }
        // No signature check here: a superior's configuration only tells where its fetch
        // endpoint is, and whatever that endpoint serves must verify with keys pinned by the
        // next superior (or configured for the anchor) when the chain is validated; the
        // subject's configuration is verified there too. This saves a verification per hop.
        walk.configurations.insert(id.clone(), ec.clone());
        Ok(ec)
    }

    /// The superior's statement about `sub`, from its `federation_fetch_endpoint`.
    async fn subordinate_statement(&self, walk: &mut Walk, superior: &ParsedStatement, sub: &EntityId) -> Result<String, FederationError> {
        let endpoint = superior.claims.federation_endpoint("federation_fetch_endpoint").ok_or_else(|| FederationError::InvalidClaim {
            claim: "metadata",
            reason: format!("{} has no federation_fetch_endpoint", superior.claims.sub),
        })?;
        self.get(walk, &fetch_url(endpoint, sub)).await
    }

    /// Collects every chain from `subject` (depth first, hints in order, loops dropped) and
    /// returns the shortest that validates at `now`, under the `constraints` of its
    /// statements and of the anchor's Entity Configuration (which must then verify too).
    ///
    /// Drives [`Self::resolve_async`] to completion on this thread. Over a [`Fetcher`]
    /// ([`Self::new`]) that always completes; over an [`AsyncFetcher`] ([`Self::new_async`])
    /// whose future is not ready at once it is a [`FederationError::Fetch`], never a wait.
    pub fn resolve(&self, subject: &EntityId, now: UnixTime) -> Result<ValidatedChain, FederationError> {
        let mut walk = std::pin::pin!(self.resolve_async(subject, now));
        match walk.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(FederationError::Fetch {
                url: subject.configuration_url(),
                reason: "the fetcher is asynchronous: use resolve_async".into(),
            }),
        }
    }

    /// [`Self::resolve`] without blocking: awaits the fetcher. Time is the caller's to
    /// bound (e.g. `tokio::time::timeout`); dropping the future abandons the walk.
    pub async fn resolve_async(&self, subject: &EntityId, now: UnixTime) -> Result<ValidatedChain, FederationError> {
        let mut walk = Walk { fetched: 0, configurations: HashMap::new() };
        let leaf = self.configuration(&mut walk, subject).await?;
        // A trust anchor resolving itself.
        if let Some(a) = self.anchors.iter().find(|a| &a.id == subject) {
            return validate(&[leaf.jwt], a, now);
        }
        let (found, mut last_err) = self.walk_up(&mut walk, leaf).await;
        for chain in found {
            let Some(top_iss) = chain.last().and_then(|j| ParsedStatement::parse(j).ok()).map(|s| s.claims.iss) else { continue };
            let Some(anchor) = self.anchors.iter().find(|a| a.id == top_iss) else { continue };
            let anchor_ec = walk.configurations.get(&anchor.id).map(|s| s.jwt.as_str());
            match validate_with_anchor_configuration(&chain, anchor, anchor_ec, now) {
                Ok(v) => return Ok(v),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| FederationError::WrongTrustAnchor {
            expected: self.anchors.iter().map(|a| a.id.to_string()).collect::<Vec<_>>().join(", "),
            got: format!("no path from {subject}"),
        }))
    }

    /// Every path from `leaf` to a configured anchor (depth first, hints in order, an entity
    /// at most once per path, at most `max_depth` superiors), shortest first, and the last
    /// error met on the way. Iterative, so the future has a fixed size.
    async fn walk_up(&self, walk: &mut Walk, leaf: ParsedStatement) -> (Vec<Vec<String>>, Option<FederationError>) {
        let mut found: Vec<Vec<String>> = Vec::new();
        let mut last_err = None;
        let mut visiting = HashSet::from([leaf.claims.sub.clone()]);
        let mut stack = vec![Frame {
            hints: leaf.claims.authority_hints.clone().unwrap_or_default().into_iter(),
            sub: leaf.claims.sub,
            chain: vec![leaf.jwt],
            via: None,
        }];
        while let Some(top) = stack.last_mut() {
            let Some(hint) = top.hints.next() else {
                if let Some(via) = stack.pop().and_then(|f| f.via) {
                    visiting.remove(&via);
                }
                continue;
            };
            if !visiting.insert(hint.clone()) {
                continue; // a loop in authority_hints: drop this hint
            }
            let (sub, mut next) = (top.sub.clone(), top.chain.clone());
            let step = match self.configuration(walk, &hint).await {
                Ok(sup) => self.subordinate_statement(walk, &sup, &sub).await.map(|ss| (sup, ss)),
                Err(e) => Err(e),
            };
            match step {
                Ok((sup, ss)) => {
                    next.push(ss);
                    if self.anchors.iter().any(|a| a.id == hint) {
                        found.push(next);
                    } else if next.len() <= self.max_depth {
                        // `next` reaches `next.len() - 1` superiors; `sup`'s hints add one.
                        let hints = sup.claims.authority_hints.unwrap_or_default().into_iter();
                        stack.push(Frame { sub: sup.claims.sub, chain: next, hints, via: Some(hint) });
                        continue; // `hint` stays on the path until its frame is done
                    }
                }
                Err(e) => last_err = Some(e),
            }
            visiting.remove(&hint);
        }
        found.sort_by_key(Vec::len);
        (found, last_err)
    }
}

/// The URL of a fetch request for `sub` at `endpoint` (draft 48 §8.1.1: `sub` as a query
/// parameter, percent-encoded).
pub fn fetch_url(endpoint: &str, sub: &EntityId) -> String {
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{sep}sub={}", urlencode(sub.as_str()))
}

/// RFC 3986 unreserved characters pass, the rest is percent-encoded.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One subject's cache entry. The chain is read and replaced under a lock held only for
/// that (an `Arc` clone), never across a resolution, so a reader always sees the cached
/// chain; synchronous resolutions of the subject take `resolving` one at a time.
#[derive(Default)]
struct Slot {
    chain: Mutex<Option<Arc<ValidatedChain>>>,
    resolving: Mutex<()>,
    /// When a refresh ([`ChainCache::refresh_shared_async`]) last resolved it (Unix seconds).
    refreshed_at: std::sync::atomic::AtomicI64,
}

impl Slot {
    /// The cached chain if still valid at `now`.
    fn fresh(&self, now: UnixTime) -> Option<Arc<ValidatedChain>> {
        self.chain.lock().unwrap_or_else(PoisonError::into_inner).as_ref().filter(|c| c.exp > now).cloned()
    }

    fn store(&self, chain: Arc<ValidatedChain>) {
        *self.chain.lock().unwrap_or_else(PoisonError::into_inner) = Some(chain);
    }
}

/// Validated chains by subject, kept until their `exp`. Concurrent synchronous resolutions
/// of one subject wait for the first instead of fetching again; failures are not cached.
#[derive(Default)]
pub struct ChainCache {
    slots: Mutex<HashMap<EntityId, Arc<Slot>>>,
}

impl ChainCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self, subject: &EntityId) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(subject.clone()).or_default().clone()
    }

    /// The cached chain for `subject` if still valid at `now`, else `resolve()` (once per
    /// subject at a time) and cache its result.
    pub fn get_or_resolve(
        &self,
        subject: &EntityId,
        now: UnixTime,
        resolve: impl FnOnce() -> Result<ValidatedChain, FederationError>,
    ) -> Result<ValidatedChain, FederationError> {
        Ok(Arc::unwrap_or_clone(self.get_or_resolve_shared(subject, now, resolve)?))
    }

    /// [`Self::get_or_resolve`], the chain shared with the cache rather than copied.
    pub fn get_or_resolve_shared(
        &self,
        subject: &EntityId,
        now: UnixTime,
        resolve: impl FnOnce() -> Result<ValidatedChain, FederationError>,
    ) -> Result<Arc<ValidatedChain>, FederationError> {
        let slot = self.slot(subject);
        if let Some(c) = slot.fresh(now) {
            return Ok(c);
        }
        let _one_at_a_time = slot.resolving.lock().unwrap_or_else(PoisonError::into_inner);
        // Resolved by the caller we waited for?
        if let Some(c) = slot.fresh(now) {
            return Ok(c);
        }
        let fresh = Arc::new(resolve()?);
        slot.store(fresh.clone());
        Ok(fresh)
    }

    /// [`Self::get_or_resolve`] for async callers: the cached chain for `subject` if still
    /// valid at `now`, else the result of awaiting `resolve` (e.g.
    /// [`ChainCollector::resolve_async`]), cached if it succeeds.
    ///
    /// No lock is held across the await, so concurrent misses on one subject may each
    /// resolve (the last success is kept). A hit never waits on a resolution in progress,
    /// synchronous or not, and never counts as a miss.
    pub async fn get_or_resolve_async(
        &self,
        subject: &EntityId,
        now: UnixTime,
        resolve: impl Future<Output = Result<ValidatedChain, FederationError>>,
    ) -> Result<ValidatedChain, FederationError> {
        Ok(Arc::unwrap_or_clone(self.get_or_resolve_shared_async(subject, now, resolve).await?))
    }

    /// [`Self::get_or_resolve_async`], the chain shared with the cache rather than copied.
    pub async fn get_or_resolve_shared_async(
        &self,
        subject: &EntityId,
        now: UnixTime,
        resolve: impl Future<Output = Result<ValidatedChain, FederationError>>,
    ) -> Result<Arc<ValidatedChain>, FederationError> {
        let slot = self.slot(subject);
        if let Some(c) = slot.fresh(now) {
            return Ok(c);
        }
        let fresh = Arc::new(resolve.await?);
        slot.store(fresh.clone());
        Ok(fresh)
    }

    /// Resolves `subject` again with `resolve` and caches the result, past a cached chain
    /// (one that, say, does not list a key the subject has rotated in since); at most once
    /// every `min_interval` seconds per subject: `None` within it (the caller keeps what it
    /// has), so that input naming an unknown key cannot make every request fetch.
    pub async fn refresh_shared_async(
        &self,
        subject: &EntityId,
        now: UnixTime,
        min_interval: i64,
        resolve: impl Future<Output = Result<ValidatedChain, FederationError>>,
    ) -> Option<Result<Arc<ValidatedChain>, FederationError>> {
        let slot = self.slot(subject);
        let last = slot.refreshed_at.load(std::sync::atomic::Ordering::Relaxed);
        if last != 0 && now.secs() < last.saturating_add(min_interval) {
            return None;
        }
        if slot.refreshed_at.compare_exchange(last, now.secs(), std::sync::atomic::Ordering::Relaxed, std::sync::atomic::Ordering::Relaxed).is_err() {
            return None;
        }
        let fresh = match resolve.await {
            Ok(c) => Arc::new(c),
            Err(e) => return Some(Err(e)),
        };
        slot.store(fresh.clone());
        Some(Ok(fresh))
    }

    /// Forgets a subject (key rotation announced, revocation).
    pub fn invalidate(&self, subject: &EntityId) {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner).remove(subject);
    }
}

#[cfg(test)]
mod tests;
