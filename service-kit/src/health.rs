//! `/health`: `200 {"status":"ok"}` while every probe is fine; `503 {"status":"degraded",
//! "checks":{name: reason}}` when a probe of the service's own state fails (the database
//! does not answer, a store at capacity), so that a load balancer stops sending it clients.
//! Conditions a client can cause from outside (a flood refused by the rate limits, every
//! outbound slot held by slow upstreams it named) are warnings: `200 {"status":"degraded",
//! "checks":{...}}`. An operator sees them; a load balancer keeps the replica, since taking
//! every replica out of rotation is what a flood would want.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

type Probe = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Whether a failing probe takes the service out of rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Severity {
    /// 503.
    Unavailable,
    /// 200, reported.
    Warning,
}

/// Named probes; each says why the service is degraded, or nothing.
#[derive(Clone, Default)]
pub struct Health {
    probes: Vec<(&'static str, Severity, Probe)>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.probes.iter().map(|(n, _, _)| n)).finish()
    }
}

impl Health {
    /// No probes: always ok.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a probe called `name` of the service's own state: failing, it makes `/health`
    /// answer 503.
    pub fn probe(mut self, name: &'static str, probe: impl Fn() -> Option<String> + Send + Sync + 'static) -> Self {
        self.probes.push((name, Severity::Unavailable, Arc::new(probe)));
        self
    }

    /// Adds a probe called `name` of a condition clients can cause (floods, slow upstreams):
    /// failing, it is reported with a 200.
    pub fn warning(mut self, name: &'static str, probe: impl Fn() -> Option<String> + Send + Sync + 'static) -> Self {
        self.probes.push((name, Severity::Warning, Arc::new(probe)));
        self
    }

    /// The failing probes and why, and whether one of them makes the service unavailable.
    fn failing(&self) -> (Map<String, Value>, bool) {
        let mut unavailable = false;
        let problems = self
            .probes
            .iter()
            .filter_map(|(n, sev, p)| {
                p().map(|why| {
                    unavailable |= *sev == Severity::Unavailable;
                    ((*n).to_owned(), Value::from(why))
                })
            })
            .collect();
        (problems, unavailable)
    }

    /// The failing probes and why.
    pub fn problems(&self) -> Map<String, Value> {
        self.failing().0
    }

    /// The `/health` answer.
    pub fn response(&self) -> Response {
        let (problems, unavailable) = self.failing();
        let (status, body) = if problems.is_empty() {
            (StatusCode::OK, json!({"status": "ok"}))
        } else if unavailable {
            (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "degraded", "checks": problems}))
        } else {
            (StatusCode::OK, json!({"status": "degraded", "checks": problems}))
        };
        let mut r = (status, body.to_string()).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }

    /// A `GET /health` route for any router state.
    pub fn route<S: Clone + Send + Sync + 'static>(self) -> axum::routing::MethodRouter<S> {
        axum::routing::get(move || {
            let h = self.clone();
            async move { h.response() }
        })
    }
}

/// How far back [`limiter_probe`] counts refusals: the current and the previous window.
pub const REFUSAL_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// Refusals counted over the current and the previous [`REFUSAL_WINDOW`], the same whoever
/// looks and however often (a monitor polling `/health` does not reset what another sees).
#[derive(Debug)]
struct RefusalWindow {
    start: std::time::Instant,
    /// The refusal counter at the start of the previous window and of the current one.
    previous: u64,
    current: u64,
    /// The counter at the last look.
    last: u64,
    window: std::time::Duration,
}

impl RefusalWindow {
    fn new(now: std::time::Instant, refused: u64, window: std::time::Duration) -> Self {
        Self { start: now, previous: refused, current: refused, last: refused, window }
    }

    /// Refusals since the start of the previous window, given the counter's value `refused`.
    fn observe(&mut self, refused: u64, now: std::time::Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start);
        if elapsed >= self.window.saturating_mul(2) {
            // Nobody looked for two windows: what was refused since the last look is counted
            // (its time is unknown; better reported once than missed).
            (self.previous, self.current, self.start) = (self.last, refused, now);
        } else if elapsed >= self.window {
            (self.previous, self.current, self.start) = (self.current, refused, self.start + self.window);
        }
        self.last = refused;
        refused.saturating_sub(self.previous)
    }
}

/// A warning probe that reports a [`crate::RateLimiter`] refusing more than `threshold`
/// requests over the last one to two [`REFUSAL_WINDOW`]s (a flood in progress).
pub fn limiter_probe(l: Arc<crate::RateLimiter>, threshold: u64) -> impl Fn() -> Option<String> + Send + Sync + 'static {
    let w = std::sync::Mutex::new(RefusalWindow::new(std::time::Instant::now(), l.refused(), REFUSAL_WINDOW));
    move || {
        let delta = w.lock().unwrap_or_else(std::sync::PoisonError::into_inner).observe(l.refused(), std::time::Instant::now());
        (delta > threshold).then(|| format!("{delta} requests refused by the {} rate limit in the last minute or two", l.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn ok_then_degraded() {
        let full = Arc::new(AtomicBool::new(false));
        let f = full.clone();
        let h = Health::new().probe("pending_logins", move || f.load(Ordering::Relaxed).then(|| "at capacity".to_owned()));
        assert_eq!(h.response().status(), StatusCode::OK);
        full.store(true, Ordering::Relaxed);
        let r = h.response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let b = axum::body::to_bytes(r.into_body(), 4096).await.unwrap();
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v, json!({"status": "degraded", "checks": {"pending_logins": "at capacity"}}));
    }

    /// A warning is reported with a 200: a flood must not take every replica out of rotation.
    #[tokio::test]
    async fn warnings_report_without_503() {
        let h = Health::new().warning("login", || Some("50 refused".to_owned())).probe("database", || None);
        let r = h.response();
        assert_eq!(r.status(), StatusCode::OK);
        let b = axum::body::to_bytes(r.into_body(), 4096).await.unwrap();
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v, json!({"status": "degraded", "checks": {"login": "50 refused"}}));
        let h = h.probe("store", || Some("full".to_owned()));
        assert_eq!(h.response().status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    /// Polling does not reset the count; it ages out after two windows.
    #[test]
    fn refusals_are_counted_over_a_window_not_since_the_last_look() {
        let t0 = std::time::Instant::now();
        let w = std::time::Duration::from_secs(60);
        let mut r = RefusalWindow::new(t0, 100, w);
        assert_eq!(r.observe(150, t0 + std::time::Duration::from_secs(1)), 50);
        assert_eq!(r.observe(150, t0 + std::time::Duration::from_secs(2)), 50, "a second look sees the same");
        assert_eq!(r.observe(160, t0 + std::time::Duration::from_secs(61)), 60, "the previous window still counts");
        assert_eq!(r.observe(160, t0 + std::time::Duration::from_secs(121)), 0, "two windows later it has aged out");
        assert_eq!(r.observe(170, t0 + std::time::Duration::from_secs(400)), 10, "refused while nobody looked: reported");
        assert_eq!(r.observe(175, t0 + std::time::Duration::from_secs(401)), 15);
        assert_eq!(r.observe(175, t0 + std::time::Duration::from_secs(520)), 0);
    }
}
