//! Status list indices kept in hand: the store reserves them [`BATCH`] at a time (one
//! commit), and each credential takes one from here, so a credential request does not pay a
//! commit for its index (IT-Wallet §6: every credential its own index, random in the list).
//!
//! An index reserved and never put in a credential (the process stopped with some in hand)
//! stays a valid entry nobody holds: at most [`BATCH`] per start, against a list whose
//! length moves in steps of [`crate::status_list::STATUS_LIST_STEP`]. Each index is claimed
//! in the shared database, so replicas each keep their own in hand and never hand out the
//! same one.

use std::sync::{Mutex, PoisonError};

use crate::store::{Store, StoreError};

/// Indices reserved per commit: the reservation's commit runs on the request that finds the
/// pool empty, so fewer, larger ones (32 until 2026-12-05) cost less a credential.
pub const BATCH: usize = 128;

/// The indices this process holds.
#[derive(Debug, Default)]
pub struct StatusPool {
    held: Mutex<Vec<u64>>,
}

impl StatusPool {
    /// `n` indices, reserving more from `store` (in a space of multiples of `step`) when
    /// fewer are held.
    pub fn take(&self, store: &Store, step: u64, n: usize) -> Result<Vec<u64>, StoreError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.len() < n {
            let more = store.allocate_status_indices(step, (n - held.len()).max(BATCH))?;
            held.extend(more);
        }
        let at = held.len().saturating_sub(n);
        Ok(held.split_off(at))
    }

    /// How many are held (tests, `/metrics`-style inspection).
    pub fn held(&self) -> usize {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_reserved_a_batch_at_a_time_and_handed_out_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let pool = StatusPool::default();
        let mut seen = std::collections::BTreeSet::new();
        let first = pool.take(&store, 16, 1).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(pool.held(), BATCH - 1, "one commit reserved a batch");
        seen.extend(first);
        // A batch request larger than what is held reserves the difference (at least BATCH).
        let ten = pool.take(&store, 16, 10).unwrap();
        assert_eq!(ten.len(), 10);
        seen.extend(ten);
        let big = pool.take(&store, 16, BATCH + 5).unwrap();
        assert_eq!(big.len(), BATCH + 5);
        seen.extend(big);
        assert_eq!(seen.len(), 1 + 10 + BATCH + 5, "each index once");
        // Every index handed out or held is a slot claimed in the store.
        let (_, allocated) = store.status_entries().unwrap();
        assert!(seen.iter().all(|i| *i < allocated));
        let again = store.allocate_status_indices(16, 200).unwrap();
        assert!(again.iter().all(|i| !seen.contains(i)), "the store never hands out a slot held or used");
    }
}
