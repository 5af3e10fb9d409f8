//! The provider's Token Status List (IT-Wallet 1.4 §2.3 WUA `status`, §2.5, §6): one list,
//! served at [`STATUS_LIST_PATH`] as `application/statuslist+jwt`, one index per wallet
//! instance shared by all its WUAs. Revoking an instance sets its index to `INVALID`
//! (0x01); §2.3: "revoking the WUA in its Status List revokes the Wallet Instance".
//!
//! Our choices: `bits` 1 (the provider only ever needs VALID/INVALID); indices are random
//! among the unused ones of a space kept at most half full ([`crate::store`]), so WUAs issued
//! close in time do not get neighbouring indices; the list is at least [`MIN_LIST_SIZE`]
//! entries and grows in steps of that size, so its length does not reveal how many
//! instances exist to within a step; the token is signed per request from the
//! database, so every replica serves the current state and a revocation shows at once.
//! Encoding and signing are wallet-core's `status` module.

use wallet_core::status::{Bits, StatusList, StatusListToken, StatusValue};
use wallet_core::time::UnixTime;

use crate::error::ProviderError;
use crate::store::Store;

/// Where the list is served, under the entity id.
pub const STATUS_LIST_PATH: &str = "/status-list";
/// The list's minimum length and growth step.
pub const MIN_LIST_SIZE: u64 = crate::store::INDEX_SPACE_STEP;
/// Bits per entry.
pub const BITS: Bits = Bits::One;

/// The current list, from the database.
pub fn current(store: &Store) -> Result<StatusList, ProviderError> {
    let (entries, allocated) = store.status_entries()?;
    let size = allocated.div_ceil(MIN_LIST_SIZE).max(1).saturating_mul(MIN_LIST_SIZE);
    let mut list = StatusList::new(BITS, size);
    for (idx, v) in entries {
        list.set(idx, StatusValue::from_u8(v)).map_err(ProviderError::internal)?;
    }
    Ok(list)
}

/// The Status List Token to sign: `sub` is the list's URI, `iss` the provider, `exp` and
/// `ttl` from the configuration.
pub fn token(list: StatusList, uri: String, iss: String, now: UnixTime, lifetime: i64, cache_ttl: u64) -> StatusListToken {
    StatusListToken { list, uri, iss: Some(iss), iat: now, exp: Some(now.plus(lifetime)), ttl: Some(cache_ttl), aggregation_uri: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewInstance;
    use wallet_core::jose::{Signer as _, SoftwareSigner};

    #[test]
    fn revoked_instances_are_invalid_and_the_list_has_a_floor() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db")).unwrap();
        let k = SoftwareSigner::generate().unwrap().public_jwk();
        let idx: Vec<u64> = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, id)| s.register(&NewInstance { id, fiscal_number: "CF", public_key: &k, now: i64::try_from(i).unwrap(), max_active: 10 }).unwrap().status_idx)
            .collect();
        s.revoke("b", StatusValue::Invalid.to_u8(), 9).unwrap();
        let list = current(&s).unwrap();
        assert_eq!(list.len(), MIN_LIST_SIZE);
        assert_eq!(list.get(idx[0]).unwrap(), StatusValue::Valid);
        assert_eq!(list.get(idx[1]).unwrap(), StatusValue::Invalid);
        assert_eq!(list.get(idx[2]).unwrap(), StatusValue::Valid);
    }
}
