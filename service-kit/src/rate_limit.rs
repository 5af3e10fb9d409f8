//! Rate limits per client: a token bucket per client address, refilled continuously, in a
//! map bounded in size (an idle client's bucket is full, so it is forgotten first; when every
//! bucket is busy the least recently seen go, an eighth of the map at a time, so a spray of
//! new addresses costs amortised constant time per request, not a scan each). IPv6 clients
//! are counted by their /64, the smallest block one subscriber usually holds, and every /48
//! (what one site usually holds: 65,536 /64s) shares a second bucket [`PREFIX_FACTOR`] times
//! larger, so a site cannot multiply its allowance by rotating through its /64s.
//!
//! The client is the peer address of the connection ([`crate::serve`] provides it), or,
//! when that peer is a configured trusted proxy, the last entry of `X-Forwarded-For` (the
//! one that proxy appended; earlier entries are the client's own claims). A last entry that
//! is not an address (with or without a port) counts as the proxy itself, never as an
//! earlier entry. Without a peer address (a router called in-process) every request shares
//! one bucket.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::ApiError;

/// A limit, as configured: sustained requests per minute and the burst allowed on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained rate.
    pub per_minute: u32,
    /// Requests allowed at once after a quiet period.
    pub burst: u32,
}

impl RateLimit {
    /// `per_minute` sustained with a burst of `burst`.
    pub const fn new(per_minute: u32, burst: u32) -> Self {
        Self { per_minute, burst }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// One limit shared by the routes it guards.
#[derive(Debug)]
pub struct RateLimiter {
    name: &'static str,
    per_sec: f64,
    burst: f64,
    max_clients: usize,
    trusted_proxies: Vec<IpAddr>,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    /// IPv6 /48 prefixes, each sharing a bucket [`PREFIX_FACTOR`] times larger.
    prefixes: Mutex<HashMap<IpAddr, Bucket>>,
    refused: std::sync::atomic::AtomicU64,
}

/// How many clients a limiter remembers by default.
pub const DEFAULT_MAX_CLIENTS: usize = 65_536;

/// How many clients' allowance one IPv6 /48 gets in total.
pub const PREFIX_FACTOR: f64 = 16.0;

impl RateLimiter {
    /// A limiter called `name` (in logs and metrics) enforcing `limit`.
    pub fn new(name: &'static str, limit: RateLimit) -> Self {
        Self {
            name,
            per_sec: f64::from(limit.per_minute) / 60.0,
            burst: f64::from(limit.burst.max(1)),
            max_clients: DEFAULT_MAX_CLIENTS,
            trusted_proxies: Vec::new(),
            buckets: Mutex::new(HashMap::new()),
            prefixes: Mutex::new(HashMap::new()),
            refused: 0.into(),
        }
    }

    /// Remembers at most `n` clients.
    pub fn with_max_clients(mut self, n: usize) -> Self {
        self.max_clients = n.max(1);
        self
    }

    /// Peers whose `X-Forwarded-For` is believed (the load balancer).
    pub fn with_trusted_proxies(mut self, proxies: Vec<IpAddr>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// The limiter's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Requests refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Clients remembered now.
    pub fn clients(&self) -> usize {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Takes one token for `client` at `now` (and, for IPv6, one from its /48's shared
    /// bucket), or says how many seconds until one is there.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), ApiError> {
        let mut map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let key = bucket_key(client);
        let own = self.take(&mut map, key, now, 1.0);
        drop(map);
        let shared = match (own, prefix_key(client)) {
            (Ok(()), Some(prefix)) => {
                let mut prefixes = self.prefixes.lock().unwrap_or_else(PoisonError::into_inner);
                self.take(&mut prefixes, prefix, now, PREFIX_FACTOR)
            }
            (r, _) => r,
        };
        shared.map_err(|wait| {
            self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // `as` on a finite, positive, bounded float: at most an hour.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let secs = wait.clamp(1.0, 3600.0) as u64;
            ApiError::too_many_requests(secs)
        })
    }

    /// One token from the bucket of `key` in `map`, whose size is `scale` times the client
    /// limit; `Err(seconds to wait)` when empty.
    fn take(&self, map: &mut HashMap<IpAddr, Bucket>, key: IpAddr, now: Instant, scale: f64) -> Result<(), f64> {
        let (per_sec, burst) = (self.per_sec * scale, self.burst * scale);
        if !map.contains_key(&key) && map.len() >= self.max_clients {
            evict(map, now, per_sec, burst, self.max_clients);
        }
        let b = map.entry(key).or_insert(Bucket { tokens: burst, last: now });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        Err(if per_sec > 0.0 { ((1.0 - b.tokens) / per_sec).ceil() } else { 60.0 })
    }

    /// The client of a request: see the module documentation.
    pub fn client_of(&self, req: &Request) -> IpAddr {
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let Some(peer) = peer else { return IpAddr::V6(Ipv6Addr::UNSPECIFIED) };
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let last = req.headers().get_all("x-forwarded-for").iter().next_back().and_then(|v| v.to_str().ok()).and_then(|v| v.rsplit(',').next());
        last.map(str::trim).and_then(|s| s.parse::<IpAddr>().ok().or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))).unwrap_or(peer)
    }
}

/// Makes room in a full `map`: forgets full buckets (idle clients: a new bucket would be the
/// same), then, if more than 7/8 of `max` remain, the least recently seen down to 7/8, so the
/// next `max / 8` new clients insert without another pass.
fn evict(map: &mut HashMap<IpAddr, Bucket>, now: Instant, per_sec: f64, burst: f64, max: usize) {
    map.retain(|_, b| b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * per_sec < burst);
    let keep = max - max / 8;
    if map.len() > keep.saturating_sub(1) {
        let mut by_age: Vec<(Instant, IpAddr)> = map.iter().map(|(k, b)| (b.last, *k)).collect();
        let excess = map.len() - keep.saturating_sub(1);
        if excess < by_age.len() {
            by_age.select_nth_unstable(excess);
        }
        for (_, k) in by_age.iter().take(excess) {
            map.remove(k);
        }
    }
}

/// IPv4 as is; IPv6 by its /64 (IPv4-mapped addresses as IPv4).
fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The /48 of an IPv6 client (not of IPv4-mapped ones): `None` for IPv4.
fn prefix_key(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            Some(IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0)))
        }
        _ => None,
    }
}

/// Guards every route of `router` with `limiter` (apply it to a router holding only the
/// routes that share this limit, then merge).
pub fn limit<S: Clone + Send + Sync + 'static>(router: axum::Router<S>, limiter: Arc<RateLimiter>) -> axum::Router<S> {
    router.route_layer(axum::middleware::from_fn_with_state(limiter, enforce))
}

async fn enforce(State(l): State<Arc<RateLimiter>>, req: Request, next: Next) -> Response {
    let client = l.client_of(&req);
    match l.check(client, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            tracing::debug!(limiter = l.name, %client, "rate limited");
            e.into_response()
        }
    }
}

/// How long until a limiter that refused would accept again, at most (for tests and docs).
pub fn refill_time(limit: RateLimit) -> Duration {
    if limit.per_minute == 0 { Duration::from_secs(3600) } else { Duration::from_secs_f64(60.0 / f64::from(limit.per_minute)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn burst_then_refused_then_refilled() {
        let l = RateLimiter::new("t", RateLimit::new(60, 3));
        let t0 = Instant::now();
        for _ in 0..3 {
            l.check(ip("10.0.0.1"), t0).unwrap();
        }
        let e = l.check(ip("10.0.0.1"), t0).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after, Some(1));
        // Another client is not affected.
        l.check(ip("10.0.0.2"), t0).unwrap();
        // One second later, one more.
        l.check(ip("10.0.0.1"), t0 + Duration::from_secs(1)).unwrap();
        assert!(l.check(ip("10.0.0.1"), t0 + Duration::from_secs(1)).is_err());
        assert_eq!(l.refused(), 2);
    }

    #[test]
    fn ipv6_counted_by_64() {
        let l = RateLimiter::new("t", RateLimit::new(1, 1));
        let t0 = Instant::now();
        l.check(ip("2001:db8:1:2::1"), t0).unwrap();
        assert!(l.check(ip("2001:db8:1:2:ffff::9"), t0).is_err());
        l.check(ip("2001:db8:1:3::1"), t0).unwrap();
        assert_eq!(bucket_key(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
    }

    #[test]
    fn memory_is_bounded_and_active_clients_keep_their_state() {
        let l = RateLimiter::new("t", RateLimit::new(1, 2)).with_max_clients(100);
        let t0 = Instant::now();
        let busy = ip("192.168.0.1");
        l.check(busy, t0).unwrap();
        l.check(busy, t0).unwrap();
        for i in 0..1000u32 {
            let now = t0 + Duration::from_millis(u64::from(i));
            l.check(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)), now).unwrap();
            if i % 10 == 0 {
                // Still refused: its empty bucket was never forgotten and refilled.
                assert!(l.check(busy, now).is_err(), "busy client reset at {i}");
            }
            assert!(l.clients() <= 100);
        }
    }

    /// Issue 10 follow-up: a site rotating through the /64s of its /48 gets at most
    /// PREFIX_FACTOR clients' allowance in total.
    #[test]
    fn an_ipv6_48_shares_a_bucket_across_its_64s() {
        let l = RateLimiter::new("t", RateLimit::new(1, 2));
        let t0 = Instant::now();
        let mut allowed = 0;
        for sub in 0..1000u16 {
            for _ in 0..2 {
                if l.check(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 7, sub, 0, 0, 0, 1)), t0).is_ok() {
                    allowed += 1;
                }
            }
        }
        assert_eq!(allowed, 32, "2 per client × {PREFIX_FACTOR}");
        // Another /48 is not affected; IPv4 has no prefix bucket.
        l.check(ip("2001:db8:8::1"), t0).unwrap();
        for i in 0..100u32 {
            l.check(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)), t0).unwrap();
        }
    }

    fn request_from(peer: &str, xff: &[&str]) -> Request {
        let mut b = axum::http::Request::builder().uri("/");
        for v in xff {
            b = b.header("x-forwarded-for", *v);
        }
        let mut r = b.body(axum::body::Body::empty()).unwrap();
        r.extensions_mut().insert(ConnectInfo(SocketAddr::new(ip(peer), 4000)));
        r
    }

    /// Only the entry the trusted proxy appended counts: a garbage last entry is the proxy,
    /// never an earlier (client-written) entry.
    #[test]
    fn x_forwarded_for_only_its_last_entry_from_a_trusted_proxy() {
        let l = RateLimiter::new("t", RateLimit::new(1, 1)).with_trusted_proxies(vec![ip("10.9.9.9")]);
        let c = |peer: &str, xff: &[&str]| l.client_of(&request_from(peer, xff));
        assert_eq!(c("10.9.9.9", &["203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(c("10.9.9.9", &["198.51.100.1, 203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(c("10.9.9.9", &["198.51.100.1", "203.0.113.7:5555"]), ip("203.0.113.7"));
        assert_eq!(c("10.9.9.9", &["[2001:db8::5]:443"]), ip("2001:db8::5"));
        assert_eq!(c("10.9.9.9", &["198.51.100.1, unknown"]), ip("10.9.9.9"), "garbage last entry: the proxy, not the spoofable one");
        assert_eq!(c("10.9.9.9", &[]), ip("10.9.9.9"));
        assert_eq!(c("192.0.2.1", &["203.0.113.7"]), ip("192.0.2.1"), "an untrusted peer's header is ignored");
    }

    /// A spray of new addresses against a full map evicts an eighth at a time: the map
    /// stays bounded and the passes are few.
    #[test]
    fn eviction_frees_an_eighth_at_a_time() {
        let l = RateLimiter::new("t", RateLimit::new(1, 2)).with_max_clients(800);
        let t0 = Instant::now();
        let mut passes = 0;
        let mut before = 0;
        for i in 0..10_000u32 {
            l.check(IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + i)), t0 + Duration::from_millis(u64::from(i))).unwrap();
            let n = l.clients();
            assert!(n <= 800);
            if n < before {
                passes += 1;
                assert!(before - n >= 99, "an eviction pass frees at least max/8: {before} -> {n}");
            }
            before = n;
        }
        assert!(passes <= 10_000 / 100, "{passes} passes");
    }
}
