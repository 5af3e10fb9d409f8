//! Collection over a Fetcher that serves real signed statements from memory (the HTTP
//! integration runs against the trust-anchor service in `tests/`): paths, loops, bounds, cache.
//! Every walk runs twice, through `resolve` and through `resolve_async` over a fetcher that
//! suspends once per request, and both must agree on the result and the requests made.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::pin::Pin;
use std::task::Wake;
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::federation::entity::EntityStatement;
use crate::jose::jwk::JwkSet;
use crate::jose::{Signer, SoftwareSigner};

const NOW: UnixTime = UnixTime(1_800_000_000);

struct Entity {
    id: EntityId,
    key: SoftwareSigner,
}

impl Entity {
    fn new(id: &str) -> Self {
        Self { id: EntityId::new(id).unwrap(), key: SoftwareSigner::generate().unwrap() }
    }
    fn jwks(&self) -> JwkSet {
        JwkSet { keys: vec![self.key.public_jwk()] }
    }
    fn fetch_endpoint(&self) -> String {
        format!("{}/fetch", self.id)
    }
    fn statement(&self, sub: &Entity) -> EntityStatement {
        serde_json::from_value(json!({"iss": self.id, "sub": sub.id, "iat": NOW.secs(), "exp": NOW.secs() + 600, "jwks": sub.jwks()})).unwrap()
    }
    fn configuration(&self, hints: &[&Entity]) -> String {
        let mut s = self.statement(self);
        if !hints.is_empty() {
            s.authority_hints = Some(hints.iter().map(|h| h.id.clone()).collect());
        }
        s.metadata = json!({"federation_entity": {"federation_fetch_endpoint": self.fetch_endpoint()}}).as_object().cloned();
        s.sign(&self.key).unwrap()
    }
}

#[derive(Default)]
struct Net {
    pages: HashMap<String, String>,
    hits: AtomicUsize,
}

impl Net {
    fn publish(&mut self, e: &Entity, hints: &[&Entity]) {
        self.pages.insert(e.id.configuration_url(), e.configuration(hints));
    }
    fn subordinate(&mut self, sup: &Entity, sub: &Entity) {
        self.pages.insert(format!("{}?sub={}", sup.fetch_endpoint(), urlencode(sub.id.as_str())), sup.statement(sub).sign(&sup.key).unwrap());
    }
}

impl Fetcher for Net {
    fn get(&self, url: &str, accept: &str) -> Result<String, FederationError> {
        assert_eq!(accept, "application/entity-statement+jwt");
        self.hits.fetch_add(1, Ordering::SeqCst);
        self.pages.get(url).cloned().ok_or_else(|| FederationError::Fetch { url: url.into(), reason: "404".into() })
    }
}

/// The same pages, served after suspending once (the walk must survive real `Pending`s).
impl AsyncFetcher for Net {
    fn get<'a>(&'a self, url: &'a str, accept: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            YieldOnce(false).await;
            Fetcher::get(self, url, accept)
        })
    }
}

struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A fetcher that never answers.
struct Silent;

impl AsyncFetcher for Silent {
    fn get<'a>(&'a self, _: &'a str, _: &'a str) -> FetchFuture<'a> {
        Box::pin(std::future::pending())
    }
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A minimal executor with the caller's deadline: `None` if `f` is not done by then (the
/// future is dropped, as `tokio::time::timeout` drops it).
fn run_until<F: Future>(f: F, deadline: Instant) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return Some(v);
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        std::thread::park_timeout(left);
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    run_until(f, Instant::now() + Duration::from_secs(30)).expect("future did not complete")
}

type Summary = Result<(Vec<String>, EntityId, UnixTime, serde_json::Map<String, serde_json::Value>), FederationError>;

fn summary(r: &Result<ValidatedChain, FederationError>) -> Summary {
    r.as_ref().map(|v| (v.jwts(), v.trust_anchor.clone(), v.exp, v.metadata.clone())).map_err(Clone::clone)
}

/// Resolves synchronously and asynchronously; asserts the same outcome and the same number
/// of requests, and returns the outcome.
fn resolve_both(net: &Net, anchors: &[TrustAnchorConfig], id: &EntityId, limits: Option<(usize, usize)>) -> Result<ValidatedChain, FederationError> {
    fn limit(c: ChainCollector<'_>, limits: Option<(usize, usize)>) -> ChainCollector<'_> {
        match limits {
            Some((d, f)) => c.with_limits(d, f),
            None => c,
        }
    }
    let before = net.hits.load(Ordering::SeqCst);
    let sync = limit(ChainCollector::new(net, anchors), limits).resolve(id, NOW);
    let mid = net.hits.load(Ordering::SeqCst);
    let collector = limit(ChainCollector::new_async(net, anchors), limits);
    let asynchronous = block_on(collector.resolve_async(id, NOW));
    let after = net.hits.load(Ordering::SeqCst);
    assert_eq!(summary(&sync), summary(&asynchronous));
    assert_eq!(mid - before, after - mid, "same requests");
    net.hits.store(mid, Ordering::SeqCst);
    sync
}

fn anchor(e: &Entity) -> TrustAnchorConfig {
    TrustAnchorConfig { id: e.id.clone(), jwks: e.jwks() }
}

#[test]
fn three_level_chain_is_collected_and_validated() {
    let (ta, int, leaf) = (Entity::new("https://ta.example.it"), Entity::new("https://int.example.it"), Entity::new("https://rp.example.it"));
    let mut net = Net::default();
    net.publish(&ta, &[]);
    net.publish(&int, &[&ta]);
    net.publish(&leaf, &[&int]);
    net.subordinate(&int, &leaf);
    net.subordinate(&ta, &int);
    let anchors = [anchor(&ta)];
    let v = resolve_both(&net, &anchors, &leaf.id, None).unwrap();
    assert_eq!(v.statements.len(), 3);
    assert_eq!(v.trust_anchor, ta.id);
}

#[test]
fn trust_anchor_configuration_constraints_apply_to_collected_chains() {
    let (ta, int, leaf) = (Entity::new("https://ta.example.it"), Entity::new("https://int.example.it"), Entity::new("https://rp.example.it"));
    let publish = |max_path_length: u32| {
        let mut net = Net::default();
        let mut ec = ta.statement(&ta);
        ec.metadata = json!({"federation_entity": {"federation_fetch_endpoint": ta.fetch_endpoint()}}).as_object().cloned();
        ec.constraints = Some(serde_json::from_value(json!({"max_path_length": max_path_length})).unwrap());
        net.pages.insert(ta.id.configuration_url(), ec.sign(&ta.key).unwrap());
        net.publish(&int, &[&ta]);
        net.publish(&leaf, &[&int]);
        net.subordinate(&int, &leaf);
        net.subordinate(&ta, &int);
        net
    };
    let anchors = [anchor(&ta)];
    let v = resolve_both(&publish(1), &anchors, &leaf.id, None).unwrap();
    assert_eq!(v.statements.len(), 3);
    let err = resolve_both(&publish(0), &anchors, &leaf.id, None).unwrap_err();
    assert_eq!(err, FederationError::MaxPathLength { index: 3, max: 0 });
}

#[test]
fn shortest_valid_path_wins_and_unknown_anchors_are_skipped() {
    let (ta, int, leaf, other_ta) =
        (Entity::new("https://ta.example.it"), Entity::new("https://int.example.it"), Entity::new("https://rp.example.it"), Entity::new("https://other.example.it"));
    let mut net = Net::default();
    net.publish(&ta, &[]);
    net.publish(&other_ta, &[]);
    net.publish(&int, &[&ta]);
    net.publish(&leaf, &[&other_ta, &int, &ta]);
    net.subordinate(&int, &leaf);
    net.subordinate(&ta, &int);
    net.subordinate(&ta, &leaf);
    net.subordinate(&other_ta, &leaf);
    let anchors = [anchor(&ta)];
    let v = resolve_both(&net, &anchors, &leaf.id, None).unwrap();
    assert_eq!(v.statements.len(), 2, "direct TA statement is shorter");
}

#[test]
fn loops_in_authority_hints_terminate() {
    let (ta, a, b) = (Entity::new("https://ta.example.it"), Entity::new("https://a.example.it"), Entity::new("https://b.example.it"));
    let mut net = Net::default();
    net.publish(&ta, &[]);
    net.publish(&a, &[&b]);
    net.publish(&b, &[&a]);
    net.subordinate(&b, &a);
    net.subordinate(&a, &b);
    let anchors = [anchor(&ta)];
    let err = resolve_both(&net, &anchors, &a.id, None).unwrap_err();
    assert!(matches!(err, FederationError::WrongTrustAnchor { .. }), "{err:?}");
    assert!(net.hits.load(Ordering::SeqCst) <= 4);
}

#[test]
fn fetch_budget_bounds_the_walk() {
    let ta = Entity::new("https://ta.example.it");
    let chainlets: Vec<Entity> = (0..8).map(|i| Entity::new(&format!("https://e{i}.example.it"))).collect();
    let mut net = Net::default();
    net.publish(&ta, &[]);
    for w in chainlets.windows(2) {
        net.publish(&w[0], &[&w[1]]);
        net.subordinate(&w[1], &w[0]);
    }
    let anchors = [anchor(&ta)];
    let err = resolve_both(&net, &anchors, &chainlets[0].id, Some((10, 5))).unwrap_err();
    assert!(matches!(err, FederationError::Fetch { ref reason, .. } if reason.contains("more than 5 fetches")), "{err:?}");
}

#[test]
fn oversized_statement_is_refused() {
    let leaf = Entity::new("https://rp.example.it");
    let mut net = Net::default();
    net.pages.insert(leaf.id.configuration_url(), "x".repeat(MAX_STATEMENT_LEN + 1));
    let anchors = [anchor(&leaf)];
    assert!(matches!(resolve_both(&net, &anchors, &leaf.id, None), Err(FederationError::Fetch { .. })));
}

#[test]
fn cache_resolves_once_for_concurrent_callers_and_honours_exp() {
    let (ta, leaf, net) = leaf_under_anchor();
    let anchors = [anchor(&ta)];
    let cache = ChainCache::new();
    let resolutions = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                cache
                    .get_or_resolve(&leaf.id, NOW, || {
                        resolutions.fetch_add(1, Ordering::SeqCst);
                        ChainCollector::new(&net, &anchors).resolve(&leaf.id, NOW)
                    })
                    .unwrap();
            });
        }
    });
    assert_eq!(resolutions.load(Ordering::SeqCst), 1);
    // After exp, it resolves again; a failure is not cached.
    let later = NOW.plus(601);
    let err = cache.get_or_resolve(&leaf.id, later, || ChainCollector::new(&net, &anchors).resolve(&leaf.id, later));
    assert!(matches!(err, Err(FederationError::OutsideValidity { .. })));
    cache.get_or_resolve(&leaf.id, NOW, || ChainCollector::new(&net, &anchors).resolve(&leaf.id, NOW)).unwrap();
}

#[test]
fn depth_limit_bounds_the_walk_in_both_paths() {
    let ta = Entity::new("https://ta.example.it");
    let es: Vec<Entity> = (0..4).map(|i| Entity::new(&format!("https://e{i}.example.it"))).collect();
    let mut net = Net::default();
    net.publish(&ta, &[]);
    for w in es.windows(2) {
        net.publish(&w[0], &[&w[1]]);
        net.subordinate(&w[1], &w[0]);
    }
    net.publish(&es[3], &[&ta]);
    net.subordinate(&ta, &es[3]);
    let anchors = [anchor(&ta)];
    // e0 → e1 → e2 → e3 → ta: three intermediates, four superiors.
    assert_eq!(resolve_both(&net, &anchors, &es[0].id, Some((4, 32))).unwrap().statements.len(), 5);
    let err = resolve_both(&net, &anchors, &es[0].id, Some((3, 32))).unwrap_err();
    assert!(matches!(err, FederationError::WrongTrustAnchor { .. }), "{err:?}");
}

#[test]
fn trust_anchor_resolving_itself_in_both_paths() {
    let ta = Entity::new("https://ta.example.it");
    let mut net = Net::default();
    net.publish(&ta, &[]);
    let anchors = [anchor(&ta)];
    assert_eq!(resolve_both(&net, &anchors, &ta.id, None).unwrap().statements.len(), 1);
}

#[test]
fn caller_timeout_bounds_a_fetcher_that_never_answers() {
    let leaf = Entity::new("https://rp.example.it");
    let anchors = [anchor(&leaf)];
    let collector = ChainCollector::new_async(&Silent, &anchors);
    let started = Instant::now();
    assert!(run_until(collector.resolve_async(&leaf.id, NOW), started + Duration::from_millis(50)).is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn sync_resolve_over_a_pending_async_fetcher_is_an_error_not_a_wait() {
    let leaf = Entity::new("https://rp.example.it");
    let anchors = [anchor(&leaf)];
    let err = ChainCollector::new_async(&Silent, &anchors).resolve(&leaf.id, NOW).unwrap_err();
    assert!(matches!(err, FederationError::Fetch { ref reason, .. } if reason.contains("resolve_async")), "{err:?}");
}

#[test]
fn resolve_async_future_is_send() {
    fn send<T: Send>(_: &T) {}
    let leaf = Entity::new("https://rp.example.it");
    let anchors = [anchor(&leaf)];
    let net = Net::default();
    let collector = ChainCollector::new_async(&net, &anchors);
    let cache = ChainCache::new();
    let f = collector.resolve_async(&leaf.id, NOW);
    send(&f);
    send(&cache.get_or_resolve_async(&leaf.id, NOW, f));
}

/// A trust anchor and a leaf right under it, published.
fn leaf_under_anchor() -> (Entity, Entity, Net) {
    let (ta, leaf) = (Entity::new("https://ta.example.it"), Entity::new("https://rp.example.it"));
    let mut net = Net::default();
    net.publish(&ta, &[]);
    net.publish(&leaf, &[&ta]);
    net.subordinate(&ta, &leaf);
    (ta, leaf, net)
}

#[test]
fn async_cache_hits_and_honours_exp() {
    let (ta, leaf, net) = leaf_under_anchor();
    let anchors = [anchor(&ta)];
    let collector = ChainCollector::new_async(&net, &anchors);
    let cache = ChainCache::new();
    let first = block_on(cache.get_or_resolve_async(&leaf.id, NOW, collector.resolve_async(&leaf.id, NOW))).unwrap();
    let hits = net.hits.load(Ordering::SeqCst);
    let again = block_on(cache.get_or_resolve_async(&leaf.id, NOW, collector.resolve_async(&leaf.id, NOW))).unwrap();
    assert_eq!(net.hits.load(Ordering::SeqCst), hits, "served from the cache");
    assert_eq!(first.jwts(), again.jwts());
    // The sync and async entry points share the cache.
    cache.get_or_resolve(&leaf.id, NOW, || unreachable!()).unwrap();
    // After exp it resolves again; a failure is not cached.
    let later = NOW.plus(601);
    let err = block_on(cache.get_or_resolve_async(&leaf.id, later, collector.resolve_async(&leaf.id, later)));
    assert!(matches!(err, Err(FederationError::OutsideValidity { .. })));
    assert!(net.hits.load(Ordering::SeqCst) > hits);
    block_on(cache.get_or_resolve_async(&leaf.id, NOW, async { unreachable!() })).unwrap();
}

/// A refresh (a `kid` the cached chain does not list) resolves past the cache and replaces
/// the cached chain, at most once per interval per subject.
#[test]
fn a_refresh_resolves_past_the_cache_at_most_once_per_interval() {
    let (ta, leaf, net) = leaf_under_anchor();
    let anchors = [anchor(&ta)];
    let collector = ChainCollector::new_async(&net, &anchors);
    let cache = ChainCache::new();
    block_on(cache.get_or_resolve_async(&leaf.id, NOW, collector.resolve_async(&leaf.id, NOW))).unwrap();
    let hits = net.hits.load(Ordering::SeqCst);
    let fresh = block_on(cache.refresh_shared_async(&leaf.id, NOW, 60, collector.resolve_async(&leaf.id, NOW)));
    assert!(matches!(fresh, Some(Ok(_))));
    assert!(net.hits.load(Ordering::SeqCst) > hits, "fetched again, past the cache");
    assert!(block_on(cache.refresh_shared_async(&leaf.id, NOW.plus(59), 60, async { unreachable!("within the interval") })).is_none());
    let hits = net.hits.load(Ordering::SeqCst);
    assert!(matches!(block_on(cache.refresh_shared_async(&leaf.id, NOW.plus(60), 60, collector.resolve_async(&leaf.id, NOW))), Some(Ok(_))));
    assert!(net.hits.load(Ordering::SeqCst) > hits);
}

#[test]
fn a_cached_chain_is_served_while_a_resolution_of_the_subject_is_under_way() {
    let (ta, leaf, net) = leaf_under_anchor();
    let anchors = [anchor(&ta)];
    let cache = ChainCache::new();
    let first = cache.get_or_resolve_shared(&leaf.id, NOW, || ChainCollector::new(&net, &anchors).resolve(&leaf.id, NOW)).unwrap();
    let (started, release) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
    std::thread::scope(|s| {
        // A synchronous caller past `exp` resolves anew, holding the subject's resolution...
        s.spawn(|| {
            let later = NOW.plus(601);
            let r = cache.get_or_resolve(&leaf.id, later, || {
                started.wait();
                release.wait();
                ChainCollector::new(&net, &anchors).resolve(&leaf.id, later)
            });
            assert!(matches!(r, Err(FederationError::OutsideValidity { .. })));
        });
        // ...while callers at NOW are served the cached chain, not sent to resolve.
        started.wait();
        let hit = block_on(cache.get_or_resolve_shared_async(&leaf.id, NOW, async { unreachable!("a hit, not a miss") })).unwrap();
        assert!(Arc::ptr_eq(&hit, &first), "the cached chain itself, shared");
        assert_eq!(cache.get_or_resolve(&leaf.id, NOW, || unreachable!()).unwrap().jwts(), first.jwts());
        release.wait();
    });
}

#[test]
fn fetch_url_percent_encodes_sub_and_keeps_existing_query() {
    let sub = EntityId::new("https://leaf.example/x").unwrap();
    assert_eq!(super::fetch_url("https://ta.example/fetch", &sub), "https://ta.example/fetch?sub=https%3A%2F%2Fleaf.example%2Fx");
    assert_eq!(super::fetch_url("https://ta.example/fetch?v=1", &sub), "https://ta.example/fetch?v=1&sub=https%3A%2F%2Fleaf.example%2Fx");
}
