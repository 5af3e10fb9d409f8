//! `/health`: `200 {"status":"ok"}` while every probe is fine, `503 {"status":"degraded",
//! "checks":{name: reason}}` when one is not (a store at capacity, a dependency down, clients
//! being refused), so that an operator and a load balancer see what a client would meet.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

type Probe = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Named probes; each says why the service is degraded, or nothing.
#[derive(Clone, Default)]
pub struct Health {
    probes: Vec<(&'static str, Probe)>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.probes.iter().map(|(n, _)| n)).finish()
    }
}

impl Health {
    /// No probes: always ok.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a probe called `name`.
    pub fn probe(mut self, name: &'static str, probe: impl Fn() -> Option<String> + Send + Sync + 'static) -> Self {
        self.probes.push((name, Arc::new(probe)));
        self
    }

    /// The failing probes and why.
    pub fn problems(&self) -> Map<String, Value> {
        self.probes.iter().filter_map(|(n, p)| p().map(|why| ((*n).to_owned(), Value::from(why)))).collect()
    }

    /// The `/health` answer.
    pub fn response(&self) -> Response {
        let problems = self.problems();
        let (status, body) = if problems.is_empty() {
            (StatusCode::OK, json!({"status": "ok"}))
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "degraded", "checks": problems}))
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

/// A probe that reports a [`crate::RateLimiter`] refusing more than `threshold` requests
/// since the previous look (a flood in progress).
pub fn limiter_probe(l: Arc<crate::RateLimiter>, threshold: u64) -> impl Fn() -> Option<String> + Send + Sync + 'static {
    let last = std::sync::atomic::AtomicU64::new(0);
    move || {
        let now = l.refused();
        let before = last.swap(now, std::sync::atomic::Ordering::Relaxed);
        let delta = now.saturating_sub(before);
        (delta > threshold).then(|| format!("{delta} requests refused by the {} rate limit since the last check", l.name()))
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
}
