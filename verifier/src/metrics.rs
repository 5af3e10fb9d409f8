//! Prometheus counters, rendered in the text exposition format at `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A session was created.
    SessionCreated,
    /// A request object was served.
    RequestServed,
    /// A response was verified.
    Verified,
    /// A response was refused.
    Refused,
    /// The wallet declined.
    Declined,
    /// A webhook notice was delivered.
    WebhookDelivered,
    /// A webhook notice was given up.
    WebhookFailed,
}

/// The counters.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: [AtomicU64; 7],
}

const NAMES: [(&str, &str); 7] = [
    ("verifier_sessions_created_total", "Presentation sessions created."),
    ("verifier_request_objects_served_total", "Signed request objects served."),
    ("verifier_responses_verified_total", "Responses that passed every check."),
    ("verifier_responses_refused_total", "Responses refused."),
    ("verifier_responses_declined_total", "Wallet error responses (the citizen declined)."),
    ("verifier_webhooks_delivered_total", "Completion notices the integrator's webhook accepted."),
    ("verifier_webhooks_failed_total", "Completion notices given up after their retries."),
];

impl Metrics {
    /// Counts an event.
    pub fn count(&self, e: Event) {
        let i = e as usize;
        if let Some(c) = self.counters.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for ((name, help), c) in NAMES.iter().zip(&self.counters) {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", c.load(Ordering::Relaxed));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let m = Metrics::default();
        m.count(Event::Verified);
        m.count(Event::Verified);
        assert!(m.render().contains("verifier_responses_verified_total 2\n"));
        assert!(m.render().contains("verifier_sessions_created_total 0\n"));
    }
}
