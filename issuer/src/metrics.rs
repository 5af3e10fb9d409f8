//! Prometheus counters, rendered in the text exposition format at `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// An offer was created.
    OfferCreated,
    /// An access token was issued.
    TokenIssued,
    /// A credential was issued.
    CredentialIssued,
    /// An issuance was deferred.
    Deferred,
    /// A request was refused.
    Refused,
    /// A status changed.
    StatusChanged,
    /// The status list was signed (it changed, or its token was half its lifetime old).
    StatusListSigned,
}

/// The counters.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: [AtomicU64; 7],
}

const NAMES: [(&str, &str); 7] = [
    ("issuer_offers_created_total", "Credential offers created."),
    ("issuer_tokens_issued_total", "Access tokens issued."),
    ("issuer_credentials_issued_total", "Credentials issued."),
    ("issuer_issuance_deferred_total", "Issuances deferred (registry record not ready)."),
    ("issuer_requests_refused_total", "Wallet requests refused."),
    ("issuer_status_changes_total", "Credentials revoked, suspended or reinstated."),
    ("issuer_status_list_signed_total", "Status List Tokens signed (the list changed, or its token was half its lifetime old)."),
];

impl Metrics {
    /// Counts `n` events.
    pub fn add(&self, e: Event, n: u64) {
        if let Some(c) = self.counters.get(e as usize) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Counts an event.
    pub fn count(&self, e: Event) {
        self.add(e, 1);
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
