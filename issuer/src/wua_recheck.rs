//! The WUAs behind issued credentials, re-checked (IT-Wallet 1.4 §2.5: issuers check the
//! WUA at issuance and, for credentials valid more than 24 hours, re-check its Token Status
//! List every 24 hours; a revoked WUA revokes the PID and every credential obtained with it).
//!
//! At the credential endpoint, once its key proofs' WUAs were found valid, the grant (the
//! access token's `sub`: one wallet's authorization) is recorded with each WUA's status
//! list entry ([`record`]), before any credential of the request is: none is issued without
//! its WUA on record. [`recheck`] reads each wallet provider's list afresh (one fetch per
//! list, not the request path's cache), and a WUA now INVALID sets every credential of its
//! grants INVALID in our own status list. A SUSPENDED WUA is left to its provider (the spec
//! revokes on revocation only), and a list that cannot be fetched or verified is reported and
//! tried again at the next run, its credentials untouched.
//!
//! The run comes every `wua_recheck_interval` seconds (default 86,400; `crate::serve_listener`)
//! and on `POST /admin/wua-recheck`. Replicas each run it: setting INVALID twice changes
//! nothing.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use serde::Serialize;
use wallet_core::oid4vp::verify::StatusCache;
use wallet_core::status::{StatusReference, StatusValue};

use crate::error::IssuerError;
use crate::protocol::DEFERRED_TTL;
use crate::state::Issuer;
use crate::store::{Target, WuaRecord};

/// Past this many, the process forgets what it recorded (and records again: an upsert).
const RECORDED_MAX: usize = 100_000;

/// The (grant, list, index) this process recorded already: a grant's later requests (a
/// batch, deferred polling, re-issuance) do not write again.
#[derive(Debug, Default)]
pub struct Recorded(Mutex<HashSet<(String, String, u64)>>);

/// Records the grant `grant_id` with the status entries of the WUAs its key proofs
/// presented, kept until a credential of the grant can no longer be valid: issued now or
/// after a deferral, lasting `credential_ttl` (an upper bound: re-issued credentials keep
/// their predecessors' expiry).
pub fn record(st: &Issuer, grant_id: &str, wuas: &[StatusReference]) -> Result<(), IssuerError> {
    let new: Vec<(String, String, u64)> = {
        let seen = st.wuas_recorded().0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut new: Vec<(String, String, u64)> = wuas.iter().map(|w| (grant_id.to_owned(), w.uri.clone(), w.idx)).filter(|k| !seen.contains(k)).collect();
        new.sort();
        new.dedup();
        new
    };
    if new.is_empty() {
        return Ok(());
    }
    let c = st.config();
    let expires_at = st.now().secs().saturating_add(c.credential_ttl).saturating_add(DEFERRED_TTL.max(c.refresh_token_ttl));
    let records: Vec<WuaRecord> = new.iter().map(|(g, uri, idx)| WuaRecord { grant_id: g.clone(), list_uri: uri.clone(), idx: *idx, expires_at }).collect();
    st.store().record_wuas(&records)?;
    let mut seen = st.wuas_recorded().0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.len() + new.len() > RECORDED_MAX {
        seen.clear();
    }
    seen.extend(new);
    Ok(())
}

/// What a run found.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// WUAs on record for grants whose credentials may still be valid.
    pub wuas: usize,
    /// Status lists read.
    pub lists: usize,
    /// WUAs found revoked (again at later runs, while on record).
    pub revoked_wuas: usize,
    /// Credentials set INVALID because of them by this run (not those an earlier run did).
    pub revoked_credentials: usize,
    /// Lists that could not be read or verified (`uri: why`): tried again next run.
    pub unavailable: Vec<String>,
}

/// Re-checks every WUA on record at `now` (see the module documentation).
pub async fn recheck(st: &Issuer) -> Result<Report, IssuerError> {
    let now = st.now();
    let records = st.store().wuas_to_recheck(now.secs())?;
    // Per WUA (list and index), its grants.
    let mut by_wua: BTreeMap<(String, u64), Vec<String>> = BTreeMap::new();
    for r in records {
        by_wua.entry((r.list_uri, r.idx)).or_default().push(r.grant_id);
    }
    let mut report = Report { wuas: by_wua.len(), ..Report::default() };
    // A cache of this run only: each list fetched once, and fresh.
    let fresh = StatusCache::new();
    let mut failed: HashSet<String> = HashSet::new();
    let mut read: HashSet<String> = HashSet::new();
    for ((uri, idx), grants) in by_wua {
        if failed.contains(&uri) {
            continue;
        }
        let reference = StatusReference { uri: uri.clone(), idx };
        // A fetcher per list: each gets the whole of a request's time budget.
        let fetcher = st.http().for_request();
        match fresh.lookup(&reference, &fetcher, st.wallet_providers(), now).await {
            Ok(StatusValue::Invalid) => {
                read.insert(uri.clone());
                report.revoked_wuas += 1;
                let mut revoked = 0;
                for g in &grants {
                    revoked += st.store().set_status(Target::Grant(g), StatusValue::Invalid.to_u8())?;
                }
                if revoked > 0 {
                    tracing::warn!(target: "issuer", list = %uri, idx, revoked, "a WUA was revoked by its provider: the credentials issued with it are revoked");
                }
                report.revoked_credentials += revoked;
            }
            Ok(_) => {
                read.insert(uri.clone());
            }
            Err(e) => {
                tracing::warn!(target: "issuer", list = %uri, "WUA status list unavailable: {e}");
                report.unavailable.push(format!("{uri}: {e}"));
                failed.insert(uri);
            }
        }
    }
    report.lists = read.len();
    if report.revoked_credentials > 0 {
        st.metrics().add(crate::metrics::Event::StatusChanged, u64::try_from(report.revoked_credentials).unwrap_or(0));
    }
    Ok(report)
}
