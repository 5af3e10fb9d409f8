//! `c_nonce`s an issuer checks without reading its database (OpenID4VCI 1.0 §7, the nonce
//! endpoint; IT-Wallet 1.4 §3.3 step 14 and §8: a key proof carries a `c_nonce` the issuer
//! gave out, unexpired, used once).
//!
//! A nonce is `base64url(expiry ‖ unique ‖ tag)`: the expiry (8 bytes, big-endian Unix
//! seconds), 16 unique bytes (the issue time in nanoseconds, big-endian, then 8 random
//! bytes), and the first 16 bytes of HMAC-SHA-256, under the issuer's [`NonceKey`], of a
//! domain label, the expiry and the unique bytes. Unpredictable by its tag; unique by time
//! and 64 random bits (replicas issue in the same nanosecond without colliding). Nonces
//! given out together sort together, so the issuer's record of spent nonces grows at its
//! end: one commit's nonces share a page instead of each touching a random one. [`NonceKey::check`]
//! recomputes the tag (compared in constant time) and reads the expiry, so the nonce
//! endpoint writes nothing and a proof's nonce is checked without a lookup. Single use
//! stays the issuer's: it records a nonce when a proof spends it, until its expiry (after
//! which [`NonceKey::check`] refuses it anyway). Replicas that share the key (derived from
//! a key they already share: [`NonceKey::derive`]) accept each other's nonces.
//!
//! To the wallet a `c_nonce` is an opaque string (54 characters here); nothing in it is
//! secret, since the expiry it shows is the one the issuer would have told it.

use hmac::Mac as _;
use zeroize::Zeroizing;

use super::NonceResponse;
use crate::time::UnixTime;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Domain separation: a tag for a `c_nonce` is no tag for anything else.
const LABEL: &[u8] = b"tessera oid4vci c_nonce v1";
const EXPIRY: usize = 8;
/// The unique part: [`STAMP`] bytes of issue time, the rest random.
const RANDOM: usize = 16;
const STAMP: usize = 8;
const TAG: usize = 16;
const LEN: usize = EXPIRY + RANDOM + TAG;
/// Its base64url length, unpadded.
const ENCODED_LEN: usize = (LEN * 4).div_ceil(3);

/// Why a `c_nonce` is not one to accept (answered `invalid_nonce`, OpenID4VCI §8.3.1.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NonceError {
    /// Not the shape of one of ours.
    #[error("c_nonce is not one this issuer gives out")]
    Malformed,
    /// The shape of ours, but its tag is not ours (another issuer's, or altered).
    #[error("c_nonce was not issued by this issuer")]
    Forged,
    /// Ours, past its expiry.
    #[error("c_nonce expired at {0}")]
    Expired(i64),
}

/// The secret that authenticates this issuer's `c_nonce`s.
pub struct NonceKey {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey([redacted])")
    }
}

impl NonceKey {
    /// A key of its own (a single process, or tests).
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut())?;
        Ok(Self { key })
    }

    /// A key derived from a secret the replicas of one issuer already share (its token
    /// key's private scalar), under `context`: HMAC-SHA-256(secret, context), so the nonce
    /// key reveals nothing of the secret and differs per context.
    pub fn derive(secret: &[u8], context: &str) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&Self::mac(secret, &[context.as_bytes()]));
        Self { key }
    }

    fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
        let mut m = <HmacSha256 as hmac::KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    fn tag(&self, expiry: &[u8; EXPIRY], random: &[u8]) -> [u8; 32] {
        Self::mac(self.key.as_ref(), &[LABEL, expiry, random])
    }

    /// A fresh `c_nonce` valid until `expires_at` (the `/nonce` response).
    pub fn issue(&self, expires_at: UnixTime) -> Result<NonceResponse, getrandom::Error> {
        let mut raw = [0u8; LEN];
        let (expiry, rest) = raw.split_at_mut(EXPIRY);
        expiry.copy_from_slice(&expires_at.secs().to_be_bytes());
        let (random, tag) = rest.split_at_mut(RANDOM);
        let (stamp, random_part) = random.split_at_mut(STAMP);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        stamp.copy_from_slice(&u64::try_from(nanos).unwrap_or(u64::MAX).to_be_bytes());
        getrandom::fill(random_part)?;
        let mut e = [0u8; EXPIRY];
        e.copy_from_slice(expiry);
        let full = self.tag(&e, random);
        tag.copy_from_slice(full.get(..TAG).unwrap_or_default());
        Ok(NonceResponse { c_nonce: crate::jose::b64::encode(raw) })
    }

    /// Whether `c_nonce` is one of ours and unexpired at `now`: its expiry. Whether it was
    /// already used is the caller's record.
    pub fn check(&self, c_nonce: &str, now: UnixTime) -> Result<UnixTime, NonceError> {
        // Another length is not ours (and is not decoded).
        if c_nonce.len() != ENCODED_LEN {
            return Err(NonceError::Malformed);
        }
        let raw = crate::jose::b64::decode(c_nonce).map_err(|_| NonceError::Malformed)?;
        let (Some(expiry), Some(random), Some(tag)) = (raw.get(..EXPIRY), raw.get(EXPIRY..EXPIRY + RANDOM), raw.get(EXPIRY + RANDOM..)) else {
            return Err(NonceError::Malformed);
        };
        let mut e = [0u8; EXPIRY];
        e.copy_from_slice(expiry);
        let expected = self.tag(&e, random);
        if tag.len() != TAG || !crate::subtle_eq(tag, expected.get(..TAG).unwrap_or_default()) {
            return Err(NonceError::Forged);
        }
        let exp = i64::from_be_bytes(e);
        if exp <= now.secs() {
            return Err(NonceError::Expired(exp));
        }
        Ok(UnixTime(exp))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NOW: UnixTime = UnixTime(1_800_000_000);

    #[test]
    fn a_nonce_checks_until_its_expiry() {
        let k = NonceKey::generate().unwrap();
        let n = k.issue(NOW.plus(300)).unwrap().c_nonce;
        assert_eq!(n.len(), 54);
        assert_eq!(k.check(&n, NOW), Ok(NOW.plus(300)));
        assert_eq!(k.check(&n, NOW.plus(299)), Ok(NOW.plus(300)));
        assert_eq!(k.check(&n, NOW.plus(300)), Err(NonceError::Expired(NOW.plus(300).secs())));
    }

    #[test]
    fn nonces_are_distinct() {
        let k = NonceKey::generate().unwrap();
        let a = k.issue(NOW).unwrap().c_nonce;
        let b = k.issue(NOW).unwrap().c_nonce;
        assert_ne!(a, b);
    }

    #[test]
    fn nonces_given_out_together_sort_by_issue_time() {
        let k = NonceKey::generate().unwrap();
        let raws: Vec<Vec<u8>> = (0..64).map(|_| crate::jose::b64::decode(&k.issue(NOW.plus(60)).unwrap().c_nonce).unwrap()).collect();
        for pair in raws.windows(2) {
            // Same expiry, then the issue time: never earlier than the previous one's.
            assert_eq!(pair[0][..EXPIRY], pair[1][..EXPIRY]);
            assert!(pair[0][EXPIRY..EXPIRY + STAMP] <= pair[1][EXPIRY..EXPIRY + STAMP]);
            // The random half still differs.
            assert_ne!(pair[0][EXPIRY + STAMP..EXPIRY + RANDOM], pair[1][EXPIRY + STAMP..EXPIRY + RANDOM]);
        }
    }

    #[test]
    fn another_issuers_nonce_is_refused() {
        let ours = NonceKey::derive(b"our token key", "c_nonce");
        let theirs = NonceKey::derive(b"their token key", "c_nonce");
        let n = theirs.issue(NOW.plus(60)).unwrap().c_nonce;
        assert_eq!(ours.check(&n, NOW), Err(NonceError::Forged));
        // The same secret under another context is another key.
        assert_eq!(NonceKey::derive(b"our token key", "other").check(&ours.issue(NOW.plus(60)).unwrap().c_nonce, NOW), Err(NonceError::Forged));
        // Replicas deriving from the shared secret accept each other's.
        let replica = NonceKey::derive(b"our token key", "c_nonce");
        assert!(replica.check(&ours.issue(NOW.plus(60)).unwrap().c_nonce, NOW).is_ok());
    }

    #[test]
    fn an_altered_nonce_is_refused() {
        let k = NonceKey::generate().unwrap();
        let n = k.issue(NOW.plus(60)).unwrap().c_nonce;
        let mut raw = crate::jose::b64::decode(&n).unwrap();
        // A later expiry with the old tag.
        raw[7] ^= 0x01;
        assert_eq!(k.check(&crate::jose::b64::encode(&raw), NOW), Err(NonceError::Forged));
        raw[7] ^= 0x01;
        raw[20] ^= 0x80;
        assert_eq!(k.check(&crate::jose::b64::encode(&raw), NOW), Err(NonceError::Forged));
    }

    #[test]
    fn malformed_nonces_are_refused() {
        let k = NonceKey::generate().unwrap();
        let n = k.issue(NOW.plus(60)).unwrap().c_nonce;
        for bad in ["", "n", &n[1..], &format!("{n}A"), &n.replace(|c: char| c.is_ascii_alphanumeric(), "*"), &"A".repeat(43)] {
            assert_eq!(k.check(bad, NOW), Err(NonceError::Malformed), "{bad:?}");
        }
    }
}
