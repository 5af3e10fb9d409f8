//! Collection over a Fetcher that serves real signed statements from memory (the HTTP
//! integration runs against the trust-anchor service in `tests/`): paths, loops, bounds, cache.

use std::sync::atomic::{AtomicUsize, Ordering};

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
    let v = ChainCollector::new(&net, &anchors).resolve(&leaf.id, NOW).unwrap();
    assert_eq!(v.statements.len(), 3);
    assert_eq!(v.trust_anchor, ta.id);
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
    let v = ChainCollector::new(&net, &anchors).resolve(&leaf.id, NOW).unwrap();
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
    let err = ChainCollector::new(&net, &anchors).resolve(&a.id, NOW).unwrap_err();
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
    let err = ChainCollector::new(&net, &anchors).with_limits(10, 5).resolve(&chainlets[0].id, NOW).unwrap_err();
    assert!(matches!(err, FederationError::Fetch { ref reason, .. } if reason.contains("more than 5 fetches")), "{err:?}");
}

#[test]
fn oversized_statement_is_refused() {
    let leaf = Entity::new("https://rp.example.it");
    let mut net = Net::default();
    net.pages.insert(leaf.id.configuration_url(), "x".repeat(MAX_STATEMENT_LEN + 1));
    let anchors = [anchor(&leaf)];
    assert!(matches!(ChainCollector::new(&net, &anchors).resolve(&leaf.id, NOW), Err(FederationError::Fetch { .. })));
}

#[test]
fn cache_resolves_once_for_concurrent_callers_and_honours_exp() {
    let (ta, leaf) = (Entity::new("https://ta.example.it"), Entity::new("https://rp.example.it"));
    let mut net = Net::default();
    net.publish(&ta, &[]);
    net.publish(&leaf, &[&ta]);
    net.subordinate(&ta, &leaf);
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
fn fetch_url_percent_encodes_sub_and_keeps_existing_query() {
    let sub = EntityId::new("https://leaf.example/x").unwrap();
    assert_eq!(super::fetch_url("https://ta.example/fetch", &sub), "https://ta.example/fetch?sub=https%3A%2F%2Fleaf.example%2Fx");
    assert_eq!(super::fetch_url("https://ta.example/fetch?v=1", &sub), "https://ta.example/fetch?v=1&sub=https%3A%2F%2Fleaf.example%2Fx");
}
