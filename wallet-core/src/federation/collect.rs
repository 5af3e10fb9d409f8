//! Trust chain collection (draft 48 §10.1): from a subject's Entity Configuration up its
//! `authority_hints` to a configured trust anchor, fetching each Subordinate Statement from
//! the superior's `federation_fetch_endpoint`; then validation ([`super::chain::validate`]).
//!
//! The network is behind [`Fetcher`]; collection is bounded in depth, in statements fetched
//! and in response size, never fetches a statement twice, and drops hints that loop.
//! [`ChainCache`] keeps validated chains until their `exp`, and resolves one entity once
//! when asked concurrently.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::chain::{TrustAnchorConfig, ValidatedChain, validate};
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

/// Collects and validates chains to a set of trust anchors.
pub struct ChainCollector<'a> {
    fetcher: &'a dyn Fetcher,
    anchors: &'a [TrustAnchorConfig],
    max_depth: usize,
    max_fetches: usize,
}

struct Walk {
    fetched: usize,
    configurations: HashMap<EntityId, ParsedStatement>,
}

impl<'a> ChainCollector<'a> {
    /// A collector over `fetcher` to `anchors`, at most 5 superiors up and 32 fetches.
    pub fn new(fetcher: &'a dyn Fetcher, anchors: &'a [TrustAnchorConfig]) -> Self {
        Self { fetcher, anchors, max_depth: 5, max_fetches: 32 }
    }

    /// Sets the bounds.
    pub fn with_limits(mut self, max_depth: usize, max_fetches: usize) -> Self {
        self.max_depth = max_depth;
        self.max_fetches = max_fetches;
        self
    }

    fn get(&self, walk: &mut Walk, url: &str) -> Result<String, FederationError> {
        if walk.fetched >= self.max_fetches {
            return Err(FederationError::Fetch { url: url.to_owned(), reason: format!("more than {} fetches", self.max_fetches) });
        }
        walk.fetched += 1;
        let body = self.fetcher.get(url, ENTITY_STATEMENT_MEDIA_TYPE)?;
        if body.len() > MAX_STATEMENT_LEN {
            return Err(FederationError::Fetch { url: url.to_owned(), reason: format!("response larger than {MAX_STATEMENT_LEN} bytes") });
        }
        Ok(body)
    }

    /// An entity's configuration, fetched once and checked to be self-signed.
    fn configuration(&self, walk: &mut Walk, id: &EntityId) -> Result<ParsedStatement, FederationError> {
        if let Some(c) = walk.configurations.get(id) {
            return Ok(c.clone());
        }
        let body = self.get(walk, &id.configuration_url())?;
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
    fn subordinate_statement(&self, walk: &mut Walk, superior: &ParsedStatement, sub: &EntityId) -> Result<String, FederationError> {
        let endpoint = superior.claims.federation_endpoint("federation_fetch_endpoint").ok_or_else(|| FederationError::InvalidClaim {
            claim: "metadata",
            reason: format!("{} has no federation_fetch_endpoint", superior.claims.sub),
        })?;
        self.get(walk, &fetch_url(endpoint, sub))
    }

    /// Collects every chain from `subject` (depth first, hints in order, loops dropped) and
    /// returns the shortest that validates at `now`.
    pub fn resolve(&self, subject: &EntityId, now: UnixTime) -> Result<ValidatedChain, FederationError> {
        let mut walk = Walk { fetched: 0, configurations: HashMap::new() };
        let leaf = self.configuration(&mut walk, subject)?;
        // A trust anchor resolving itself.
        if let Some(a) = self.anchors.iter().find(|a| &a.id == subject) {
            return validate(&[leaf.jwt], a, now);
        }
        let mut found: Vec<Vec<String>> = Vec::new();
        let mut last_err = None;
        let mut visiting = HashSet::from([subject.clone()]);
        self.walk_up(&mut walk, &leaf, vec![leaf.jwt.clone()], &mut visiting, &mut found, &mut last_err);
        found.sort_by_key(Vec::len);
        for chain in found {
            let Some(top_iss) = chain.last().and_then(|j| ParsedStatement::parse(j).ok()).map(|s| s.claims.iss) else { continue };
            let Some(anchor) = self.anchors.iter().find(|a| a.id == top_iss) else { continue };
            match validate(&chain, anchor, now) {
                Ok(v) => return Ok(v),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| FederationError::WrongTrustAnchor {
            expected: self.anchors.iter().map(|a| a.id.to_string()).collect::<Vec<_>>().join(", "),
            got: format!("no path from {subject}"),
        }))
    }

    fn walk_up(
        &self,
        walk: &mut Walk,
        current: &ParsedStatement,
        chain: Vec<String>,
        visiting: &mut HashSet<EntityId>,
        found: &mut Vec<Vec<String>>,
        last_err: &mut Option<FederationError>,
    ) {
        if chain.len() > self.max_depth + 1 {
            return;
        }
        let hints = current.claims.authority_hints.clone().unwrap_or_default();
        for hint in hints {
            if !visiting.insert(hint.clone()) {
                continue; // a loop in authority_hints: drop this hint
            }
            let step = self.configuration(walk, &hint).and_then(|sup| {
                let ss = self.subordinate_statement(walk, &sup, &current.claims.sub)?;
                Ok((sup, ss))
            });
            match step {
                Ok((sup, ss)) => {
                    let mut next = chain.clone();
                    next.push(ss);
                    if self.anchors.iter().any(|a| a.id == hint) {
                        found.push(next);
                    } else {
                        self.walk_up(walk, &sup, next, visiting, found, last_err);
                    }
                }
                Err(e) => *last_err = Some(e),
            }
            visiting.remove(&hint);
        }
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

/// Validated chains by subject, kept until their `exp`. Concurrent resolutions of one
/// subject wait for the first instead of fetching again; failures are not cached.
#[derive(Default)]
pub struct ChainCache {
    slots: Mutex<HashMap<EntityId, Arc<Mutex<Option<ValidatedChain>>>>>,
}

impl ChainCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached chain for `subject` if still valid at `now`, else `resolve()` (once per
    /// subject at a time) and cache its result.
    pub fn get_or_resolve(
        &self,
        subject: &EntityId,
        now: UnixTime,
        resolve: impl FnOnce() -> Result<ValidatedChain, FederationError>,
    ) -> Result<ValidatedChain, FederationError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            slots.entry(subject.clone()).or_default().clone()
        };
        let mut guard = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = guard.as_ref().filter(|c| c.exp > now) {
            return Ok(c.clone());
        }
        let fresh = resolve()?;
        *guard = Some(fresh.clone());
        Ok(fresh)
    }

    /// Forgets a subject (key rotation announced, revocation).
    pub fn invalidate(&self, subject: &EntityId) {
        self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(subject);
    }
}

#[cfg(test)]
mod tests;
