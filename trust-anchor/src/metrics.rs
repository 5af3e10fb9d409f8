//! `/metrics` in the Prometheus text format (version 0.0.4), written by hand to keep the
//! dependencies lean: requests by route and status, and request latency by route as a
//! histogram (the `/resolve` route's is the resolve latency). Every request is also logged
//! with `tracing` (target `trust_anchor::http`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::routes::AppState;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        let i = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += secs;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

/// The counters of one service.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
}

impl Metrics {
    fn record(&self, route: &str, status: u16, secs: f64) {
        let mut c = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *c.requests.entry((route.to_owned(), status)).or_default() += 1;
        c.latency.entry(route.to_owned()).or_default().observe(secs);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let c = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::new();
        out.push_str("# HELP tessera_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE tessera_http_requests_total counter\n");
        for ((route, status), n) in &c.requests {
            let _ = writeln!(out, "tessera_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP tessera_http_request_duration_seconds HTTP request latency by route (/resolve: chain resolution).\n");
        out.push_str("# TYPE tessera_http_request_duration_seconds histogram\n");
        for (route, h) in &c.latency {
            let mut cumulative = 0;
            for (i, n) in h.counts.iter().enumerate() {
                cumulative += n;
                let le = BUCKETS.get(i).map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                let _ = writeln!(out, "tessera_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}");
            }
            let _ = writeln!(out, "tessera_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "tessera_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
        }
        out
    }
}

/// Middleware: times the request, counts it under its route pattern (never the raw path,
/// so label cardinality stays bounded), and logs it.
pub(crate) async fn track(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = req.method().clone();
    let start = Instant::now();
    let resp = next.run(req).await;
    let secs = start.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    st.inner().metrics.record(&route, status, secs);
    tracing::info!(target: "trust_anchor::http", %method, route, status, micros = (secs * 1e6) as u64, "request");
    resp
}

/// `GET /metrics`.
pub(crate) async fn render(State(st): State<AppState>) -> Response {
    let mut text = st.inner().metrics.render();
    text.push_str("# HELP tessera_resolve_cache_hits_total /resolve answers served from the cache of resolved chains.\n");
    text.push_str("# TYPE tessera_resolve_cache_hits_total counter\n");
    let _ = writeln!(text, "tessera_resolve_cache_hits_total {}", st.resolve_cache_hits());
    let _ = writeln!(text, "tessera_outbound_fetches_in_flight {}", st.http().in_flight());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_with_inf() {
        let m = Metrics::default();
        m.record("/resolve", 200, 0.0007);
        m.record("/resolve", 200, 9.0);
        m.record("/fetch", 404, 0.0001);
        let text = m.render();
        assert!(text.contains("tessera_http_requests_total{route=\"/resolve\",status=\"200\"} 2\n"), "{text}");
        assert!(text.contains("tessera_http_requests_total{route=\"/fetch\",status=\"404\"} 1\n"));
        assert!(text.contains("tessera_http_request_duration_seconds_bucket{route=\"/resolve\",le=\"0.0005\"} 0\n"));
        assert!(text.contains("tessera_http_request_duration_seconds_bucket{route=\"/resolve\",le=\"0.001\"} 1\n"));
        assert!(text.contains("tessera_http_request_duration_seconds_bucket{route=\"/resolve\",le=\"+Inf\"} 2\n"));
        assert!(text.contains("tessera_http_request_duration_seconds_count{route=\"/resolve\"} 2\n"));
    }
}
