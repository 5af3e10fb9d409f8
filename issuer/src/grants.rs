//! The grants behind access tokens, kept in memory once read: every request to a protected
//! endpoint (`/credential`, `/deferred_credential`, `/notification`, a refresh at `/token`)
//! needs the grant its token's `sub` names, and reading it from the store was about 13 µs of
//! a credential's server CPU (issue 12's profile, `README.md` "The floor, a profile, and
//! small cuts").
//!
//! Why a kept copy cannot be stale, on one replica or several sharing PostgreSQL: a grant is
//! written once, under a fresh unguessable id (`routes::ordered_id`), when a token response is
//! made, and never changed afterwards. No statement updates the grants table (SQLite and
//! PostgreSQL alike: `store::Store::grant`); a refresh (IT-Wallet 1.4 §3.3 "Refresh") reuses
//! the grant as it is, without rotating it; re-issuance, notifications and revocation (by
//! credential or by citizen) change the issued credentials' rows, not the grant. The only
//! delete is the purge's, of rows whose `expires_at` has passed. So until its `expires_at` a
//! grant read once is what every later read returns; after it, a read may find the row or
//! not (the purge runs now and then), and that is left to the store: an entry is served from
//! memory only while `now` is [`MARGIN`] seconds or more before its `expires_at`, so that a
//! replica whose clock runs ahead by up to the clock skew the issuer tolerates (`SKEW`)
//! cannot have purged a row another replica still serves from memory.
//!
//! A grant's absence is not remembered: the store is asked again, as before.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use crate::store::Grant;

/// Grants kept at most (a few hundred bytes each). When full, the expired ones go first,
/// then the oldest.
pub(crate) const MAX_GRANTS: usize = 4_096;

/// Seconds before its `expires_at` that a kept grant is no longer served from memory: the
/// clock skew tolerated between replicas (`protocol::SKEW`), whose purges delete by their own
/// clocks.
pub(crate) const MARGIN: i64 = crate::protocol::SKEW;

/// Grants by id, with their `expires_at`. A `BTreeMap`: grant ids begin with their creation
/// time in hexadecimal milliseconds (`service_kit::ids`), so the first entries are the oldest
/// grants, the ones evicted when the memory is full.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    kept: Mutex<BTreeMap<String, (Grant, i64)>>,
}

/// Whether a grant expiring at `expires_at` may be served from memory at `now`.
fn servable(expires_at: i64, now: i64) -> bool {
    now < expires_at.saturating_sub(MARGIN)
}

impl Grants {
    /// The grant `id` when it is kept and still servable at `now`.
    pub(crate) fn get(&self, id: &str, now: i64) -> Option<Grant> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.get(id).filter(|(_, expires_at)| servable(*expires_at, now)).map(|(g, _)| g.clone())
    }

    /// Keeps the grant `id`, as read from the store with its `expires_at`, when it is servable
    /// at `now` (an expiring one is read from the store each time, as before).
    pub(crate) fn keep(&self, id: &str, grant: &Grant, expires_at: i64, now: i64) {
        if !servable(expires_at, now) {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= MAX_GRANTS && !kept.contains_key(id) {
            kept.retain(|_, (_, e)| servable(*e, now));
            // Still (nearly) full: the oldest eighth goes, so that the scan above runs once per
            // MAX_GRANTS / 8 insertions at most.
            while kept.len() > MAX_GRANTS - MAX_GRANTS / 8 {
                kept.pop_first();
            }
        }
        kept.insert(id.to_owned(), (grant.clone(), expires_at));
    }

    /// How many grants are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(citizen: &str) -> Grant {
        Grant { citizen: citizen.into(), configurations: vec!["pid".into()] }
    }

    #[test]
    fn a_kept_grant_is_served_until_its_margin_then_no_longer() {
        let g = Grants::default();
        g.keep("a", &grant("CF1"), 1_000, 100);
        assert_eq!(g.get("a", 100), Some(grant("CF1")));
        assert_eq!(g.get("a", 1_000 - MARGIN - 1), Some(grant("CF1")));
        // From the margin before its `expires_at` on, the store is asked again (which may have
        // purged it).
        assert_eq!(g.get("a", 1_000 - MARGIN), None);
        assert_eq!(g.get("a", 1_000), None);
        assert_eq!(g.get("a", 5_000), None);
    }

    #[test]
    fn an_expired_or_expiring_grant_is_not_kept() {
        let g = Grants::default();
        g.keep("old", &grant("CF1"), 1_000, 1_000);
        g.keep("expiring", &grant("CF2"), 1_000, 1_000 - MARGIN);
        assert_eq!(g.len(), 0);
        assert_eq!(g.get("old", 0), None, "not served even at an earlier time: never kept");
        assert_eq!(g.get("expiring", 0), None);
    }

    #[test]
    fn grants_are_kept_by_their_own_id() {
        let g = Grants::default();
        g.keep("a", &grant("CF1"), 10_000, 0);
        g.keep("b", &Grant { citizen: "CF2".into(), configurations: vec!["mdl".into(), "pid".into()] }, 20_000, 0);
        assert_eq!(g.get("a", 1), Some(grant("CF1")));
        assert_eq!(g.get("b", 1), Some(Grant { citizen: "CF2".into(), configurations: vec!["mdl".into(), "pid".into()] }));
        assert_eq!(g.get("c", 1), None);
        assert_eq!(g.get("a", 10_000 - MARGIN), None, "a's expiry, not b's");
        assert!(g.get("b", 10_000 - MARGIN).is_some());
    }

    #[test]
    fn the_memory_is_bounded_expired_grants_and_then_the_oldest_going_first() {
        let g = Grants::default();
        let id = |i: usize| format!("{i:012x}rest");
        // Half of them expire at 1,000, the other half much later.
        for i in 0..MAX_GRANTS {
            let expires_at = if i % 2 == 0 { 1_000 } else { 100_000 };
            g.keep(&id(i), &grant(&format!("CF{i}")), expires_at, 0);
        }
        assert_eq!(g.len(), MAX_GRANTS);
        g.keep("fffffffffffflast", &grant("last"), 100_000, 2_000);
        assert_eq!(g.len(), MAX_GRANTS / 2 + 1, "the expired half went");
        assert_eq!(g.get(&id(1), 2_000), Some(grant("CF1")));
        // Full of unexpired grants: the oldest go.
        for i in MAX_GRANTS..2 * MAX_GRANTS {
            g.keep(&id(i), &grant(&format!("CF{i}")), 100_000, 2_000);
        }
        assert!(g.len() <= MAX_GRANTS);
        assert_eq!(g.get(&id(1), 2_000), None, "the oldest was evicted");
        assert_eq!(g.get(&id(2 * MAX_GRANTS - 1), 2_000), Some(grant(&format!("CF{}", 2 * MAX_GRANTS - 1))));
        assert_eq!(g.get("fffffffffffflast", 2_000), Some(grant("last")));
    }
}
