//! Hand-written Prometheus counters, rendered in the text exposition format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counters.
#[derive(Debug, Default)]
pub struct Metrics {
    nonces: AtomicU64,
    registrations: AtomicU64,
    attestations: AtomicU64,
    revocations: AtomicU64,
    logins: AtomicU64,
    status_list: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A nonce was issued.
    Nonce,
    /// A wallet instance was registered.
    Registration,
    /// A WAA + WUA pair was issued.
    Attestation,
    /// An instance was revoked.
    Revocation,
    /// A citizen session was created.
    Login,
    /// The status list was served.
    StatusList,
}

impl Metrics {
    /// Counts an event.
    pub fn count(&self, e: Event) {
        let c = match e {
            Event::Nonce => &self.nonces,
            Event::Registration => &self.registrations,
            Event::Attestation => &self.attestations,
            Event::Revocation => &self.revocations,
            Event::Login => &self.logins,
            Event::StatusList => &self.status_list,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an error answered with `code`.
    pub fn error(&self, code: &'static str) {
        let mut m = self.errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = m.entry(code).or_insert(0);
        *n = n.saturating_add(1);
    }

    /// The Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, c) in [
            ("wallet_provider_nonces_issued_total", "Nonces issued.", &self.nonces),
            ("wallet_provider_registrations_total", "Wallet instances registered.", &self.registrations),
            ("wallet_provider_attestations_issued_total", "WAA and WUA pairs issued.", &self.attestations),
            ("wallet_provider_revocations_total", "Wallet instances revoked.", &self.revocations),
            ("wallet_provider_citizen_sessions_total", "Citizen sessions created after SPID/CIE login.", &self.logins),
            ("wallet_provider_status_list_served_total", "Status List Tokens served.", &self.status_list),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", c.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP wallet_provider_errors_total Requests refused, by OAuth error code.\n# TYPE wallet_provider_errors_total counter");
        for (code, n) in self.errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            let _ = writeln!(out, "wallet_provider_errors_total{{error=\"{code}\"}} {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_errors() {
        let m = Metrics::default();
        m.count(Event::Nonce);
        m.count(Event::Nonce);
        m.error("invalid_request");
        let text = m.render();
        assert!(text.contains("wallet_provider_nonces_issued_total 2\n"));
        assert!(text.contains("wallet_provider_errors_total{error=\"invalid_request\"} 1\n"));
        assert!(text.contains("# TYPE wallet_provider_registrations_total counter\n"));
    }
}
