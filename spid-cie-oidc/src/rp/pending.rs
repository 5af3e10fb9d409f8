//! Logins started and not finished, carried by the browser: the pending login (PKCE verifier,
//! nonce, provider, lowest acr, `redirect_uri`, the caller's app data, expiry) is sealed with
//! AES-256-GCM under a key only this RP holds and sent as the OIDC `state` (SPID/CIE OIDC §B.2:
//! `state` ≥ 32 alphanumeric characters; the sealed form is base62, so alphanumeric).
//!
//! The RP keeps nothing per login: a flood of started logins costs the server no memory and
//! cannot crowd out a genuine one. What the server state used to give, and what replaces it:
//!
//! * *authenticity*: only this RP's key seals a state that opens (AEAD tag, `client_id` bound
//!   as associated data), so a forged or tampered `state` is refused;
//! * *expiry*: the sealed `exp` is checked at the callback (`login_ttl`, 10 minutes default);
//! * *binding to the provider*: the callback's `iss` (RFC 9207) must be the sealed issuer, and
//!   the token request goes to the sealed provider only;
//! * *single use*: a completed login's callback replayed is stopped by the OP, whose
//!   authorization code is single use (RFC 6749 §4.1.2, the OP refuses a second redemption
//!   with `invalid_grant`), and by the ID Token's `nonce`, which must be the sealed one (OIDC
//!   Core §3.1.3.7 step 11). A state replayed with another code cannot complete either: the
//!   code was issued for the PKCE challenge of *its* request, and only the sealed verifier
//!   (never sent to the browser) redeems it.
//!
//! The key (`<data_dir>/rp-state-key`, 32 random bytes, 0600) is created on first start like
//! the core keys. Nonces are 96 random bits per seal (NIST SP 800-38D §8.2.2: under 2^32
//! seals per key). Replacing the key invalidates the logins in flight, nothing else.

use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};
use wallet_core::federation::EntityId;
use wallet_core::time::UnixTime;

use crate::claims::Acr;
use crate::keys::{KeyError, load_or_create_file, random_bytes};

/// The longest `state` accepted at a callback, in characters (checked before decoding).
pub const MAX_STATE_LEN: usize = 4096;
/// The most app data a login carries, in bytes (it travels in the URL twice: in the request
/// object and as `state`).
pub const MAX_APP_DATA: usize = 1024;
/// The file of the state key under the RP's `data_dir`.
pub const STATE_KEY_FILE: &str = "rp-state-key";

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// Associated data prefix: a sealed state is only ever a state of this RP.
const AAD_LABEL: &str = "tessera spid-cie-oidc rp state v1\0";

/// What the RP needs between the authorization request and the callback.
#[derive(Clone, PartialEq, Eq)]
pub struct Pending {
    /// The OP's entity id.
    pub provider: EntityId,
    /// The OP's `issuer` (for RFC 9207 `iss`).
    pub issuer: String,
    /// The `nonce` sent.
    pub nonce: String,
    /// The PKCE `code_verifier`.
    pub code_verifier: String,
    /// The `redirect_uri` sent.
    pub redirect_uri: String,
    /// The lowest acr asked.
    pub min_acr: Option<Acr>,
    /// Until when the login may be finished.
    pub exp: UnixTime,
    /// What the caller asked to get back at the callback ([`super::LoginRequest::app_data`]).
    pub app_data: Option<String>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("provider", &self.provider).field("exp", &self.exp).finish_non_exhaustive()
    }
}

/// The sealed plaintext (short names: it travels in URLs).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    p: EntityId,
    i: String,
    n: String,
    v: String,
    r: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<Acr>,
    e: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<String>,
}

/// Why a callback's `state` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The callback has no `state`.
    #[error("callback without state")]
    Missing,
    /// Not a state this RP makes: not base62, too short, too long, or another version.
    #[error("state malformed: {0}")]
    Malformed(&'static str),
    /// The seal does not open with this RP's key: tampered, forged, sealed for another RP, or
    /// from before a key change.
    #[error("state does not open with this relying party's key (tampered, forged or from another relying party)")]
    Tampered,
    /// The login was started too long ago.
    #[error("login expired at {exp} (now {now}): start again")]
    Expired {
        /// The sealed expiry.
        exp: i64,
        /// Now.
        now: i64,
    },
}

/// The RP's state-sealing key.
pub(crate) struct StateKey {
    key: LessSafeKey,
}

impl StateKey {
    /// A key from 32 bytes.
    fn from_bytes(b: &[u8]) -> Result<Self, KeyError> {
        let k = UnboundKey::new(&AES_256_GCM, b).map_err(|_| KeyError::Invalid("state key: 32 bytes expected".into()))?;
        Ok(Self { key: LessSafeKey::new(k) })
    }

    /// Loads `<dir>/rp-state-key`, creating it (0600, atomically) on first start.
    pub(crate) fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        load_or_create_file(&dir.join(STATE_KEY_FILE), Self::from_bytes, || random_bytes::<32>().map(|b| b.to_vec()))
    }

    fn aad(client_id: &EntityId) -> Vec<u8> {
        let mut a = AAD_LABEL.as_bytes().to_vec();
        a.extend_from_slice(client_id.as_str().as_bytes());
        a
    }

    /// Seals `p` for `client_id` into a `state` value (base62).
    pub(crate) fn seal(&self, p: &Pending, client_id: &EntityId) -> Result<String, KeyError> {
        let wire = Wire {
            p: p.provider.clone(),
            i: p.issuer.clone(),
            n: p.nonce.clone(),
            v: p.code_verifier.clone(),
            r: p.redirect_uri.clone(),
            a: p.min_acr,
            e: p.exp.secs(),
            d: p.app_data.clone(),
        };
        let mut body = serde_json::to_vec(&wire).map_err(|e| KeyError::Invalid(e.to_string()))?;
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(Self::aad(client_id)), &mut body)
            .map_err(|_| KeyError::Invalid("state sealing failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&body);
        Ok(base62::encode(&out))
    }

    /// Opens a `state` sealed by [`Self::seal`] for `client_id`, live at `now`.
    pub(crate) fn open(&self, state: &str, client_id: &EntityId, now: UnixTime) -> Result<Pending, StateError> {
        if state.len() > MAX_STATE_LEN {
            return Err(StateError::Malformed("longer than any state this relying party makes"));
        }
        let raw = base62::decode(state).ok_or(StateError::Malformed("not base62"))?;
        let (version, rest) = raw.split_first().ok_or(StateError::Malformed("empty"))?;
        if *version != VERSION {
            return Err(StateError::Malformed("unknown version"));
        }
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN).ok_or(StateError::Malformed("too short"))?;
        if sealed.len() < TAG_LEN {
            return Err(StateError::Malformed("too short"));
        }
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StateError::Malformed("too short"))?;
        let mut buf = sealed.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(Self::aad(client_id)), &mut buf).map_err(|_| StateError::Tampered)?;
        // Sealed by us: a parse failure means a format change, reported as tampering.
        let w: Wire = serde_json::from_slice(plain).map_err(|_| StateError::Tampered)?;
        if now.secs() >= w.e {
            return Err(StateError::Expired { exp: w.e, now: now.secs() });
        }
        Ok(Pending { provider: w.p, issuer: w.i, nonce: w.n, code_verifier: w.v, redirect_uri: w.r, min_acr: w.a, exp: UnixTime(w.e), app_data: w.d })
    }
}

/// Base62 (`0-9A-Za-z`) in blocks: 8 bytes become 11 characters (62^11 > 2^64), a last block of
/// k < 8 bytes the fewest characters that hold 2^(8k) values. Each byte string has exactly one
/// encoding; a value too large for its block, or a length no block count gives, is refused.
mod base62 {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    /// Characters for a block of `k` bytes, `k` = 0..=8.
    const CHARS: [usize; 9] = [0, 2, 3, 5, 6, 7, 9, 10, 11];

    fn chars_for(bytes: usize) -> usize {
        CHARS.get(bytes).copied().unwrap_or(0)
    }

    pub(super) fn encode(data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len() / 8 * 11 + 11);
        for block in data.chunks(8) {
            let mut v: u128 = 0;
            for b in block {
                v = (v << 8) | u128::from(*b);
            }
            let n = chars_for(block.len());
            let mut digits = [0u8; 11];
            for d in digits.iter_mut().take(n) {
                // `v % 62` < 62: a valid index, and the cast cannot truncate.
                #[allow(clippy::cast_possible_truncation)]
                let i = (v % 62) as usize;
                *d = ALPHABET.get(i).copied().unwrap_or(b'0');
                v /= 62;
            }
            for d in digits.iter().take(n).rev() {
                out.push(char::from(*d));
            }
        }
        out
    }

    fn digit(c: u8) -> Option<u128> {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'a'..=b'z' => c - b'a' + 36,
            _ => return None,
        };
        Some(u128::from(d))
    }

    pub(super) fn decode(s: &str) -> Option<Vec<u8>> {
        let s = s.as_bytes();
        let mut out = Vec::with_capacity(s.len() / 11 * 8 + 8);
        for block in s.chunks(11) {
            let bytes = CHARS.iter().position(|&c| c == block.len()).filter(|&k| k > 0)?;
            let mut v: u128 = 0;
            for c in block {
                v = v * 62 + digit(*c)?;
            }
            if v >> (8 * bytes) != 0 {
                return None;
            }
            let be = v.to_be_bytes();
            out.extend_from_slice(be.get(16 - bytes..)?);
        }
        Some(out)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trips_every_length_and_is_alphanumeric() {
            for len in 0..40usize {
                let data: Vec<u8> = (0..len).map(|i| (i * 37 + 255) as u8).collect();
                let e = encode(&data);
                assert!(e.bytes().all(|b| b.is_ascii_alphanumeric()), "{e}");
                assert_eq!(decode(&e).unwrap(), data, "len {len}");
                let ff = vec![0xffu8; len];
                assert_eq!(decode(&encode(&ff)).unwrap(), ff);
            }
        }

        #[test]
        fn refuses_what_it_never_makes() {
            assert_eq!(decode("zzzzzzzzzzz"), None, "over 2^64 in an 8-byte block");
            assert_eq!(decode("zz"), None, "over 255 in a 1-byte block");
            assert_eq!(decode("0"), None, "no block is 1 character");
            assert_eq!(decode("0000"), None, "no block is 4 characters");
            assert_eq!(decode("ab-d"), None);
            assert_eq!(decode("00").unwrap(), vec![0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(exp: i64) -> Pending {
        Pending {
            provider: EntityId::new("https://op.example.it").unwrap(),
            issuer: "https://op.example.it".into(),
            nonce: "n".repeat(48),
            code_verifier: "v".repeat(43),
            redirect_uri: "https://rp.example.it/cb".into(),
            min_acr: Some(Acr::SpidL2),
            exp: UnixTime(exp),
            app_data: Some("{\"redirect_uri\":\"app://x\"}".into()),
        }
    }

    fn rp() -> EntityId {
        EntityId::new("https://rp.example.it").unwrap()
    }

    #[test]
    fn seal_open_round_trip_and_state_is_spid_shaped() {
        let k = StateKey::from_bytes(&[7u8; 32]).unwrap();
        let s = k.seal(&pending(1000), &rp()).unwrap();
        assert!(s.len() >= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric()), "§B.2: ≥ 32 alphanumeric");
        assert!(s.len() < MAX_STATE_LEN);
        assert_eq!(k.open(&s, &rp(), UnixTime(999)).unwrap(), pending(1000));
        // Two seals of the same login differ (random nonce).
        assert_ne!(s, k.seal(&pending(1000), &rp()).unwrap());
    }

    #[test]
    fn expired_tampered_foreign_and_malformed_are_refused() {
        let k = StateKey::from_bytes(&[7u8; 32]).unwrap();
        let s = k.seal(&pending(1000), &rp()).unwrap();
        assert_eq!(k.open(&s, &rp(), UnixTime(1000)), Err(StateError::Expired { exp: 1000, now: 1000 }));
        // One character changed anywhere in the sealed part.
        let mut b = s.clone().into_bytes();
        let i = b.len() / 2;
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        assert_eq!(k.open(&String::from_utf8(b).unwrap(), &rp(), UnixTime(0)), Err(StateError::Tampered));
        // Another RP (or another key) cannot open it.
        let other = EntityId::new("https://other.example.it").unwrap();
        assert_eq!(k.open(&s, &other, UnixTime(0)), Err(StateError::Tampered));
        assert_eq!(StateKey::from_bytes(&[8u8; 32]).unwrap().open(&s, &rp(), UnixTime(0)), Err(StateError::Tampered));
        // Not ours at all.
        assert!(matches!(k.open("state-with-dashes", &rp(), UnixTime(0)), Err(StateError::Malformed(_))));
        assert!(matches!(k.open(&"a".repeat(32), &rp(), UnixTime(0)), Err(StateError::Malformed(_)) | Err(StateError::Tampered)));
        assert!(matches!(k.open(&"0".repeat(MAX_STATE_LEN + 1), &rp(), UnixTime(0)), Err(StateError::Malformed(_))));
    }

    #[test]
    fn key_file_is_created_0600_and_reused() {
        let d = tempfile::tempdir().unwrap();
        let a = StateKey::load_or_create(d.path()).unwrap();
        let s = a.seal(&pending(1000), &rp()).unwrap();
        let b = StateKey::load_or_create(d.path()).unwrap();
        assert_eq!(b.open(&s, &rp(), UnixTime(0)).unwrap(), pending(1000));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(d.path().join(STATE_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
