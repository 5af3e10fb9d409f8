//! Rate limits per client: a token bucket per client address, refilled continuously, in a
//! map bounded in size (an idle client's bucket is full, so it is forgotten first; when every
//! bucket is busy the least recently seen goes). IPv6 clients are counted by their /64, the
//! smallest block one subscriber usually holds.
//!
//! The client is the peer address of the connection ([`crate::serve`] provides it), or,
//! when that peer is a configured trusted proxy, the last address it appended to
//! `X-Forwarded-For`. Without a peer address (a router called in-process) every request
//! shares one bucket.

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
    refused: std::sync::atomic::AtomicU64,
}

/// How many clients a limiter remembers by default.
pub const DEFAULT_MAX_CLIENTS: usize = 65_536;

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

    /// Takes one token for `client` at `now`, or says how many seconds until one is there.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), ApiError> {
        let key = bucket_key(client);
        let mut map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(&key) && map.len() >= self.max_clients {
            self.evict(&mut map, now);
        }
        let b = map.entry(key).or_insert(Bucket { tokens: self.burst, last: now });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let wait = if self.per_sec > 0.0 { ((1.0 - b.tokens) / self.per_sec).ceil() } else { 60.0 };
        // `as` on a finite, positive, bounded float: at most an hour.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let secs = wait.clamp(1.0, 3600.0) as u64;
        Err(ApiError::too_many_requests(secs))
    }

    /// Forgets full buckets (idle clients: a new bucket would be the same); if none is full,
    /// the least recently seen client.
    fn evict(&self, map: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        let before = map.len();
        map.retain(|_, b| b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * self.per_sec < self.burst);
        if map.len() == before
            && let Some(oldest) = map.iter().min_by_key(|(_, b)| b.last).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
    }

    /// The client of a request: see the module documentation.
    pub fn client_of(&self, req: &Request) -> IpAddr {
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let Some(peer) = peer else { return IpAddr::V6(Ipv6Addr::UNSPECIFIED) };
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        req.headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .next_back()
            .unwrap_or(peer)
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
}
