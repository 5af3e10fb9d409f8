//! The `resolve` endpoint (draft 48 §8.3), answering only for this entity's own subtree and
//! never fetching a URL a caller supplied.
//!
//! * `sub` is this entity: its own chain.
//! * `sub` is a registered subordinate: its configuration is fetched from the registered id
//!   and verified with the keys pinned at onboarding; our Subordinate Statement follows it.
//! * Below a registered intermediate, found top-down: the intermediate's configuration
//!   (verified with its pinned keys) gives its fetch endpoint, which is asked for `sub`; the
//!   answer is verified with the intermediate's keys, and only then is `sub`'s configuration
//!   fetched and verified with the keys that statement gives. Intermediates below are found
//!   through each one's list endpoint, at most [`MAX_DEPTH`] levels down.
//! * Anything else: 404 `not_found`, with no outbound request. A leaf answers for itself only.
//!
//! The chain above this entity comes from its configured `authority_hints` (the async
//! collector, this entity's own configuration answered locally). The whole chain is
//! validated against the requested anchor before it is signed, and the validated chain is
//! kept until its `exp`, keyed by `sub` and anchors only (the `entity_type` filter is applied,
//! and the answer signed, when answering; the unfiltered answer is kept with it). Past
//! [`MAX_ENTRIES`], expired entries go first, then the least recently used. A subordinate's
//! entries are dropped when it is removed, re-keyed or onboarded again.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use service_kit::{ApiError, Query};
use wallet_core::federation::entity::{ENTITY_STATEMENT_MEDIA_TYPE, ParsedStatement};
use wallet_core::federation::{AsyncFetcher, ChainCollector, EntityId, FetchFuture, TrustAnchorConfig, ValidatedChain, chain, fetch_url};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{JwsAlg, JwsHeader};
use wallet_core::time::UnixTime;

use crate::registry::Subordinate;
use crate::routes::{AppState, RESOLVE_MEDIA_TYPE, entity_id, fetch_configuration, jwt_response};

/// How many levels of intermediates below a registered one are searched.
pub const MAX_DEPTH: usize = 2;
/// How many intermediates one intermediate's list may contribute to the search.
const MAX_CHILDREN: usize = 8;
/// Cached chains kept at most; past it, expired ones go, then the least recently used.
const MAX_ENTRIES: usize = 10_000;
/// How long a subject found nowhere in the subtree is answered 404 without searching again.
pub const MISS_TTL: i64 = 10;
/// Misses remembered at most (past it, the expired go, then all).
const MAX_MISSES: usize = 10_000;
/// `entity_type` parameters accepted in one request.
pub const MAX_ENTITY_TYPES: usize = 16;
/// The longest `entity_type` value accepted.
pub const MAX_ENTITY_TYPE_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    sub: String,
    anchors: String,
}

#[derive(Debug, Clone)]
struct Entry {
    chain: ValidatedChain,
    /// The signed answer without an `entity_type` filter, once one was asked for.
    plain: Option<String>,
    /// The registered subordinate the chain goes through (itself, or the intermediate above).
    via: Option<String>,
    /// When it was last used (a tick of [`Cache::tick`]).
    used: u64,
}

/// Validated resolve chains until their `exp`, and this entity's own chains.
#[derive(Debug, Default)]
pub struct Cache {
    answers: Mutex<HashMap<Key, Entry>>,
    own: Mutex<HashMap<String, (ValidatedChain, Option<String>)>>,
    /// Subjects searched for below the registered intermediates and not found, until when:
    /// a caller repeating a name costs one search per [`MISS_TTL`], not one per request.
    misses: Mutex<HashMap<String, i64>>,
    hits: std::sync::atomic::AtomicU64,
    tick: std::sync::atomic::AtomicU64,
}

impl Cache {
    fn next_tick(&self) -> u64 {
        self.tick.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// The chain for `k` (and its unfiltered signed answer), if cached and not expired.
    fn chain(&self, k: &Key, now: UnixTime) -> Option<(ValidatedChain, Option<String>)> {
        let tick = self.next_tick();
        let mut m = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = m.get_mut(k).filter(|e| e.chain.exp > now)?;
        e.used = tick;
        Some((e.chain.clone(), e.plain.clone()))
    }

    fn put(&self, k: Key, chain: ValidatedChain, via: Option<String>, now: UnixTime) {
        let used = self.next_tick();
        let mut m = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !m.contains_key(&k) && m.len() >= MAX_ENTRIES {
            m.retain(|_, e| e.chain.exp > now);
            if m.len() >= MAX_ENTRIES
                && let Some(lru) = m.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone())
            {
                m.remove(&lru);
            }
        }
        m.insert(k, Entry { chain, plain: None, via, used });
    }

    /// Keeps the unfiltered signed answer with the chain it was made from.
    fn put_plain(&self, k: &Key, jwt: String) {
        let mut m = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(e) = m.get_mut(k) {
            e.plain = Some(jwt);
        }
    }

    fn missed(&self, sub: &EntityId, now: UnixTime) -> bool {
        self.misses.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(sub.as_str()).is_some_and(|until| *until > now.secs())
    }

    fn put_miss(&self, sub: &EntityId, now: UnixTime) {
        let mut m = self.misses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.len() >= MAX_MISSES {
            m.retain(|_, until| *until > now.secs());
            if m.len() >= MAX_MISSES {
                m.clear();
            }
        }
        m.insert(sub.to_string(), now.secs().saturating_add(MISS_TTL));
    }

    /// Chains cached now (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// Whether no chain is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every answer about `id` or through it (and every remembered miss: `id` may be
    /// a new intermediate with entities below it).
    pub fn invalidate(&self, id: &EntityId) {
        let mut m = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.retain(|k, e| k.sub != id.as_str() && e.via.as_deref() != Some(id.as_str()));
        self.misses.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    /// Drops everything (this entity's keys changed).
    pub fn clear(&self) {
        self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        self.own.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        self.misses.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    /// Answers served from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Answers this entity's own configuration locally; everything else goes to the network.
struct LocalFirst<'a> {
    own_url: String,
    own_ec: String,
    inner: &'a dyn AsyncFetcher,
}

impl AsyncFetcher for LocalFirst<'_> {
    fn get<'a>(&'a self, url: &'a str, accept: &'a str) -> FetchFuture<'a> {
        if url == self.own_url {
            return Box::pin(std::future::ready(Ok(self.own_ec.clone())));
        }
        self.inner.get(url, accept)
    }
}

/// `GET /resolve?sub=&trust_anchor=[&entity_type=]` (`anchor` accepted for `trust_anchor`,
/// as SPID/CIE name it).
pub(crate) async fn resolve(State(st): State<AppState>, Query(q): Query<Vec<(String, String)>>) -> Result<Response, ApiError> {
    let mut sub = None;
    let mut asked = Vec::new();
    let mut types = Vec::new();
    for (k, v) in q {
        match k.as_str() {
            "sub" => sub = Some(v),
            "trust_anchor" | "anchor" => asked.push(v),
            "entity_type" => {
                if types.len() >= MAX_ENTITY_TYPES {
                    return Err(ApiError::invalid_request(format!("entity_type: at most {MAX_ENTITY_TYPES} parameters")));
                }
                if v.len() > MAX_ENTITY_TYPE_LEN {
                    return Err(ApiError::invalid_request(format!("entity_type: at most {MAX_ENTITY_TYPE_LEN} characters")));
                }
                types.push(v);
            }
            _ => {}
        }
    }
    let sub = entity_id("sub", sub.ok_or_else(|| ApiError::invalid_request("missing sub"))?)?;
    if asked.is_empty() {
        return Err(ApiError::invalid_request("missing trust_anchor"));
    }
    let anchors: Vec<TrustAnchorConfig> = st.config().trust_anchors.iter().filter(|a| asked.iter().any(|t| t == a.id.as_str())).cloned().collect();
    if anchors.is_empty() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "invalid_trust_anchor", "no trust anchor of the request is known here"));
    }
    types.sort();
    types.dedup();
    let key = Key { sub: sub.to_string(), anchors: anchors.iter().map(|a| a.id.as_str()).collect::<Vec<_>>().join(" ") };
    let now = UnixTime::now();
    let cache = &st.inner().cache;
    let chain = if let Some((chain, plain)) = cache.chain(&key, now) {
        cache.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let (true, Some(jwt)) = (types.is_empty(), plain) {
            return Ok(jwt_response(RESOLVE_MEDIA_TYPE, jwt));
        }
        chain
    } else {
        let fetcher = st.http().for_request();
        let (below, via) = locate(&st, &fetcher, &sub, now).await?;
        let (own, anchor_ec) = own_chain(&st, &fetcher, &anchors, &key.anchors, now).await?;
        let anchor = anchors.iter().find(|a| a.id == own.trust_anchor).ok_or_else(|| ApiError::server("own chain to an anchor not asked"))?;
        let jwts: Vec<String> = if below.is_empty() { own.jwts() } else { below.into_iter().chain(own.jwts().into_iter().skip(1)).collect() };
        // The anchor's configuration's `constraints` apply too (SPID/CIE, IT-Wallet; digest §C).
        let chain = chain::validate_with_anchor_configuration(&jwts, anchor, anchor_ec.as_deref(), now)?;
        cache.put(key.clone(), chain.clone(), via, now);
        chain
    };
    let mut metadata = chain.metadata.clone();
    if !types.is_empty() {
        metadata.retain(|t, _| types.contains(t));
    }
    let claims = json!({
        "iss": st.config().entity_id, "sub": chain.subject.claims.sub, "iat": now.secs(), "exp": chain.exp.secs(),
        "metadata": metadata, "trust_chain": chain.jwts(),
    });
    let header = JwsHeader::new(JwsAlg::Es256).with_typ("resolve-response+jwt");
    let jwt = st.inner().sign_json(&header, &claims)?;
    if types.is_empty() {
        cache.put_plain(&key, jwt.clone());
    }
    Ok(jwt_response(RESOLVE_MEDIA_TYPE, jwt))
}

/// This entity's chain to one of `anchors`: itself if it is one, else collected from its
/// configured `authority_hints`; with the anchor's Entity Configuration (fetched from the
/// configured anchor id, or this entity's own), whose `constraints` bind every chain through
/// it. Kept until the chain's `exp`.
async fn own_chain(st: &AppState, fetcher: &dyn AsyncFetcher, anchors: &[TrustAnchorConfig], key: &str, now: UnixTime) -> Result<(ValidatedChain, Option<String>), ApiError> {
    let cache = &st.inner().cache;
    if let Some(c) = cache.own.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).filter(|c| c.0.exp > now) {
        return Ok(c.clone());
    }
    let me = &st.config().entity_id;
    let own_ec = st.entity_configuration(now).await?;
    let local = LocalFirst { own_url: me.configuration_url(), own_ec, inner: fetcher };
    let chain = ChainCollector::new_async(&local, anchors).resolve_async(me, now).await?;
    let anchor_ec = local.get(&chain.trust_anchor.configuration_url(), ENTITY_STATEMENT_MEDIA_TYPE).await?;
    let entry = (chain, Some(anchor_ec));
    cache.own.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key.to_owned(), entry.clone());
    Ok(entry)
}

/// The statements from `sub` up to (and including) this entity's statement about the top
/// registered subordinate on the way, and that subordinate; empty for this entity itself.
async fn locate(st: &AppState, fetcher: &dyn AsyncFetcher, sub: &EntityId, now: UnixTime) -> Result<(Vec<String>, Option<String>), ApiError> {
    let me = &st.config().entity_id;
    if sub == me {
        return Ok((Vec::new(), None));
    }
    let outside = || ApiError::not_found(format!("{sub} is not in the subtree of {me}"));
    if !st.config().authority {
        return Err(ApiError::not_found(format!("{sub} is not {me}: a leaf resolves only itself")));
    }
    let registry = st.registry();
    if let Some(s) = registry.get(sub).await.map_err(ApiError::server)? {
        let ec = fetch_configuration(fetcher, &s.entity_id).await?;
        ec.verify_with(&s.jwks).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_trust_chain", format!("{sub}: configuration not signed by a key pinned at onboarding: {e}")))?;
        return Ok((vec![ec.jwt, st.subordinate_statement(&s, now)?], Some(sub.to_string())));
    }
    let intermediates: Vec<Subordinate> = registry.list().await.map_err(ApiError::server)?.into_iter().filter(|s| s.intermediate).collect();
    if intermediates.is_empty() {
        return Err(outside());
    }
    let cache = &st.inner().cache;
    if cache.missed(sub, now) {
        return Err(outside());
    }
    for top in intermediates {
        if let Some(mut below) = search(fetcher, &top, sub).await {
            below.push(st.subordinate_statement(&top, now)?);
            return Ok((below, Some(top.entity_id.to_string())));
        }
    }
    cache.put_miss(sub, now);
    Err(outside())
}

/// An intermediate reached top-down: its id, the keys its superior attests, its verified
/// configuration, and the statements from it up to (excluding) ours about the top one.
struct Node {
    id: EntityId,
    keys: JwkSet,
    ec: ParsedStatement,
    path: Vec<String>,
}

/// `sub`'s configuration and the statements above it up to `top`, found from `top` down;
/// `None` when `sub` is not below it (or something on the way does not verify).
async fn search(fetcher: &dyn AsyncFetcher, top: &Subordinate, sub: &EntityId) -> Option<Vec<String>> {
    let ec = fetch_configuration(fetcher, &top.entity_id).await.ok()?;
    ec.verify_with(&top.jwks).ok()?;
    let mut frontier = vec![Node { id: top.entity_id.clone(), keys: top.jwks.clone(), ec, path: Vec::new() }];
    for depth in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for node in frontier {
            let Some(endpoint) = node.ec.claims.federation_endpoint("federation_fetch_endpoint").map(str::to_owned) else { continue };
            if let Some(ss) = statement_about(fetcher, &node, &endpoint, sub).await {
                let Ok(sub_ec) = fetch_configuration(fetcher, sub).await else { return None };
                sub_ec.verify_with(&ss.claims.jwks).ok()?;
                return Some([vec![sub_ec.jwt, ss.jwt], node.path].concat());
            }
            if depth + 1 >= MAX_DEPTH {
                continue;
            }
            let Some(list) = node.ec.claims.federation_endpoint("federation_list_endpoint") else { continue };
            let sep = if list.contains('?') { '&' } else { '?' };
            let Ok(body) = fetcher.get(&format!("{list}{sep}intermediate=true"), "application/json").await else { continue };
            let children: Vec<String> = serde_json::from_str(&body).unwrap_or_default();
            for child in children.into_iter().take(MAX_CHILDREN) {
                let Ok(child) = EntityId::new(child) else { continue };
                let Some(ss) = statement_about(fetcher, &node, &endpoint, &child).await else { continue };
                let Ok(child_ec) = fetch_configuration(fetcher, &child).await else { continue };
                if child_ec.verify_with(&ss.claims.jwks).is_err() {
                    continue;
                }
                let path = [vec![ss.jwt.clone()], node.path.clone()].concat();
                next.push(Node { id: child, keys: ss.claims.jwks, ec: child_ec, path });
            }
        }
        frontier = next;
    }
    None
}

/// `node`'s Subordinate Statement about `sub`, verified with `node`'s attested keys.
async fn statement_about(fetcher: &dyn AsyncFetcher, node: &Node, endpoint: &str, sub: &EntityId) -> Option<ParsedStatement> {
    let body = fetcher.get(&fetch_url(endpoint, sub), ENTITY_STATEMENT_MEDIA_TYPE).await.ok()?;
    let ss = ParsedStatement::parse(&body).ok()?;
    ss.verify_with(&node.keys).ok()?;
    (ss.claims.iss == node.id && &ss.claims.sub == sub).then_some(ss)
}
