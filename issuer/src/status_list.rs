//! The published Token Status List (draft-ietf-oauth-status-list §5, IT-Wallet 1.4 §6),
//! signed when it changed and served from memory otherwise.
//!
//! Every `GET` reads the list's [`StatusVersion`] (the counter every status change moves in
//! its own transaction, and the highest index allocated: two index reads). The token in
//! memory is served while it was signed at that version or a later one, for a list at least
//! that long, and is less than half its lifetime old (`exp` − `iat` = `status_list_ttl`, at
//! most 24 h, IT-Wallet 1.4 §6; `ttl` the same). Otherwise the list is rebuilt from the
//! database and signed again: once, by the first request; the requests that arrive meanwhile
//! wait for it and are served the same token. Replicas on one PostgreSQL database each keep
//! their own token and read the shared counter, so a change made through one replica is in
//! the list the other serves at its next `GET`; their tokens differ only in `iat`/`exp`.

use std::sync::Arc;

use wallet_core::jose::{JwsAlg, JwsHeader, Signer as _, SoftwareSigner};
use wallet_core::status::{StatusList, StatusListToken, StatusValue};

use crate::Issuer;
use crate::error::IssuerError;
use crate::metrics::Event;
use crate::store::StatusVersion;

/// The status list's minimum length and growth step (its length reveals the number of
/// credentials only to within a step).
pub const STATUS_LIST_STEP: u64 = 16_384;

/// The list's length for `allocated` indices in use: a whole number of steps.
pub fn list_len(allocated: u64) -> u64 {
    allocated.div_ceil(STATUS_LIST_STEP).max(1).saturating_mul(STATUS_LIST_STEP)
}

/// A signed Status List Token and what it was made of.
#[derive(Debug, Clone)]
struct Signed {
    version: u64,
    len: u64,
    iat: i64,
    exp: i64,
    jwt: Arc<str>,
    /// The same token gzip-compressed once, for clients that accept it (Token Status List
    /// §8.1, CI_192).
    gzip: Arc<[u8]>,
    /// The key that signed it: served only while that key is in use.
    kid: Option<String>,
}

/// The token to serve, as signed and gzip-compressed.
#[derive(Debug, Clone)]
pub struct ServedToken {
    /// The Status List Token.
    pub jwt: Arc<str>,
    /// The same, gzip-compressed.
    pub gzip: Arc<[u8]>,
}

impl Signed {
    fn served(&self) -> ServedToken {
        ServedToken { jwt: Arc::clone(&self.jwt), gzip: Arc::clone(&self.gzip) }
    }

    /// Whether this token may answer a `GET` at `now` when the database is at `current`.
    fn serves(&self, current: StatusVersion, now: i64) -> bool {
        let half_life = self.exp.saturating_sub(self.iat) / 2;
        self.version >= current.version && self.len >= list_len(current.allocated) && now >= self.iat && now < self.iat.saturating_add(half_life)
    }
}

/// The signed token of this process (one per replica).
#[derive(Debug, Default)]
pub struct SignedList {
    slot: tokio::sync::Mutex<Option<Signed>>,
}

impl SignedList {
    /// An empty cache: the first `GET` signs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops the token kept: the next `GET` signs (with the key in use after a rotation).
    pub async fn forget(&self) {
        *self.slot.lock().await = None;
    }
}

/// The current status list, from the database.
pub fn current_list(st: &Issuer) -> Result<StatusList, IssuerError> {
    let (entries, allocated) = st.store().status_entries()?;
    build(st, entries, list_len(allocated))
}

fn build(st: &Issuer, entries: Vec<(u64, u8)>, len: u64) -> Result<StatusList, IssuerError> {
    let mut list = StatusList::new(st.config().status_bits, len);
    for (idx, v) in entries {
        list.set(idx, StatusValue::from_u8(v)).map_err(IssuerError::internal)?;
    }
    Ok(list)
}

/// Rebuilds and signs the list: the version read before the entries, so that the token is
/// at least as new as the version it is kept under.
/// Signs the list as it is now, with `kid` and, when we hold one, our signing
/// certificate's `x5c` (the Token Status List header's `x5c` is REQUIRED: IT-Wallet 1.4
/// §6); the token ends no later than that certificate.
fn sign(st: &Issuer, signer: &SoftwareSigner, cert: Option<trust_anchor::pki::SigningCertificate>) -> Result<Signed, IssuerError> {
    let version = st.store().status_version()?;
    let (entries, allocated) = st.store().status_entries()?;
    let len = list_len(allocated.max(version.allocated));
    let now = st.now();
    let ttl = st.config().status_list_ttl;
    let exp = cert.as_ref().map_or(now.plus(ttl), |c| now.plus(ttl).min(wallet_core::time::UnixTime(c.not_after)));
    let token = StatusListToken {
        list: build(st, entries, len)?,
        uri: st.config().endpoint(crate::routes::STATUS_LIST_PATH),
        iss: Some(st.config().entity_id.as_str().to_owned()),
        iat: now,
        exp: Some(exp),
        ttl: Some(u64::try_from(ttl).unwrap_or(0)),
        aggregation_uri: Some(st.config().endpoint(crate::routes::STATUS_LIST_AGGREGATION_PATH)),
    };
    let mut h = JwsHeader::new(JwsAlg::Es256);
    h.kid = signer.kid();
    h.x5c = cert.map(|c| c.x5c);
    let jwt = token.sign(&h, signer).map_err(IssuerError::internal)?;
    st.metrics().count(Event::StatusListSigned);
    let gzip = wallet_core::status::encoding::gzip(jwt.as_bytes()).into();
    Ok(Signed { version: version.version, len, iat: now.secs(), exp: exp.secs(), jwt: jwt.into(), gzip, kid: h.kid })
}

/// The Status List Token to serve now: the one in memory while it is current (see the
/// module), else a new one, signed off the async workers (a national list takes seconds to
/// compress).
pub async fn token(st: &Issuer) -> Result<ServedToken, IssuerError> {
    st.take_up_rotated_key().await;
    let current = st.store().status_version()?;
    let mut slot = st.signed_status_list().slot.lock().await;
    let key = st.keys().credential();
    if let Some(s) = slot.as_ref().filter(|s| s.serves(current, st.now().secs()) && s.kid == key.kid()) {
        return Ok(s.served());
    }
    // One key for the signature and the certificate in its `x5c`, whatever rotates meanwhile.
    let cert = st.signing_certificate_for(&key).await;
    let issuer = st.clone();
    let signed = tokio::task::spawn_blocking(move || sign(&issuer, &key, cert)).await.map_err(IssuerError::internal)??;
    let served = signed.served();
    *slot = Some(signed);
    Ok(served)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(version: u64, len: u64, iat: i64) -> Signed {
        Signed { version, len, iat, exp: iat + 3_600, jwt: Arc::from("t"), gzip: Arc::from(&b""[..]), kid: None }
    }

    #[test]
    fn served_while_current_and_young() {
        let at = |version, allocated| StatusVersion { version, allocated };
        let s = signed(5, STATUS_LIST_STEP, 1_000);
        assert!(s.serves(at(5, 10), 1_000));
        assert!(s.serves(at(4, 10), 2_799), "an older version read before another request signed");
        assert!(!s.serves(at(6, 10), 1_000), "the list changed");
        assert!(!s.serves(at(5, STATUS_LIST_STEP + 1), 1_000), "the list grew");
        assert!(!s.serves(at(5, 10), 2_800), "half its lifetime gone");
        assert!(!s.serves(at(5, 10), 999), "the clock went back");
    }

    #[test]
    fn lengths_are_whole_steps() {
        assert_eq!(list_len(0), STATUS_LIST_STEP);
        assert_eq!(list_len(STATUS_LIST_STEP), STATUS_LIST_STEP);
        assert_eq!(list_len(STATUS_LIST_STEP + 1), 2 * STATUS_LIST_STEP);
    }
}
