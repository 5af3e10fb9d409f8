//! The issuer's keys, in `keys_dir` (default `data_dir`; 0600, created on first start).
//! Replicas of one issuer share them (one directory mounted in each, or the files copied in
//! before the first start): an access token signed by one replica is verified by another,
//! and every replica signs credentials and the status list with the key the one Entity
//! Configuration publishes.
//!
//! * `credential-key.jwk`: signs credentials, the Token Status List and the signed
//!   metadata; published in `openid_credential_issuer.jwks` (IT-Wallet 1.4 §3.1, §4.1),
//!   where wallets find it by `kid`.
//! * `credential-keys-retired.json`: the public keys a rotation replaced
//!   ([`rotate_credential_key`], offline, or `POST /admin/credential-key/rotate` on a running
//!   issuer: [`Keys::reload_credential`]), each with when; still published (after the current one)
//!   until a credential it signed could still be valid (`credential_ttl` after it was
//!   retired), so that rotating does not invalidate what was issued. A key withdrawn (its
//!   signing certificates revoked: compromised) is not kept.
//! * `token-key.jwk`: signs the access tokens (`at+jwt`) the authorization server issues
//!   and the credential endpoint verifies (the same service; not published).
//! * `request-object-key.jwk` and `response-encryption-key.jwk` (with `[authentication]
//!   method = "pid"`): sign the OpenID4VP request objects and decrypt the `direct_post.jwt`
//!   responses; both in `openid_credential_verifier.jwks` (IT-Wallet 1.4 §5.1, as the
//!   verifier publishes them).
//! * The `c_nonce` key (wallet-core's `NonceKey`): derived from the token key, so replicas
//!   sharing it accept each other's nonces; not a file of its own.
//! * The Federation Entity Key: the trust-anchor building block's (`federation-keys.json`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use wallet_core::jose::{DecryptionKey, Jwk, JwkSet, PrivateJwk, Signer as _, SoftwareSigner};
use wallet_core::oid4vci::NonceKey;
use wallet_core::store::FileVersion;

/// A private JWK file, created on first start (service-kit `files::load_or_create_jwk`:
/// replicas starting together on an empty `keys_dir` all use the one key written).
fn load_or_create<K>(path: &Path, from_jwk: fn(PrivateJwk) -> Result<K, String>, generate: fn() -> Result<String, String>) -> Result<K, String> {
    service_kit::files::load_or_create_jwk(path, from_jwk, generate)
}

fn signer(jwk: PrivateJwk) -> Result<SoftwareSigner, String> {
    SoftwareSigner::from_private_jwk(jwk).map_err(|e| e.to_string())
}

fn new_signer() -> Result<String, String> {
    SoftwareSigner::generate().map(|k| k.private_jwk().to_json()).map_err(|e| e.to_string())
}

fn decryption_key(jwk: PrivateJwk) -> Result<DecryptionKey, String> {
    DecryptionKey::from_private_jwk(jwk).map_err(|e| e.to_string())
}

fn new_decryption_key() -> Result<String, String> {
    DecryptionKey::generate().map(|k| k.private_jwk().to_json()).map_err(|e| e.to_string())
}

/// The file of the retired credential keys (public), in the keys directory.
pub const RETIRED_CREDENTIAL_KEYS: &str = "credential-keys-retired.json";

/// A credential key replaced by a rotation: its public key and when it stopped signing.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RetiredKey {
    /// The public key (`kid` included).
    pub jwk: Jwk,
    /// When it was retired (Unix seconds): the last credential it signed was issued before.
    pub retired_at: i64,
}

fn load_retired(dir: &Path) -> Result<Vec<RetiredKey>, String> {
    let path = dir.join(RETIRED_CREDENTIAL_KEYS);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The replaced key's `kid`.
    pub old_kid: String,
    /// The new key's `kid`.
    pub new_kid: String,
    /// Whether the replaced key stays published (retired) or was withdrawn.
    pub retired: bool,
}

/// Why a rotation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// The key the caller meant to rotate was replaced meanwhile; nothing changed.
    #[error("the credential key {expected} is no longer the current one ({current} is: rotated by another replica or offline): nothing changed")]
    Superseded {
        /// The `kid` the caller meant.
        expected: String,
        /// The `kid` current in `keys_dir`.
        current: String,
    },
    /// A key file could not be read, parsed or written (named in the text).
    #[error("{0}")]
    Files(String),
}

impl From<String> for RotationError {
    fn from(e: String) -> Self {
        Self::Files(e)
    }
}

/// Rotates the credential key in `dir`: on a stopped issuer (a new key signs from the next
/// start), or under a running one, which then takes it up ([`Keys::reload_credential`]: at
/// once on the replica that rotated, within [`KEY_FILE_LOOK`] seconds on the others sharing `keys_dir`). The replaced key's public key stays published as retired, so that the
/// credentials it signed still verify, unless `withdraw` (a compromised key, whose signing
/// certificates were revoked: its credentials must no longer verify by it). `now` is when it
/// is retired. The retired list is written before the new key: a crash between the two leaves
/// the old key current and also listed, which is harmless.
///
/// Rotations are serialised across processes by [`ROTATION_LOCK`] in `dir`, so two replicas
/// rotating at once each retire the key the other made instead of losing one (a key that
/// signed credentials and was then neither current nor published). `expected` is the `kid`
/// the caller believes current (a running issuer: the key it signs with, whose certificates a
/// withdrawal has revoked); when another rotation replaced it meanwhile, nothing is changed
/// and the error says so.
pub fn rotate_credential_key(dir: &Path, withdraw: bool, now: i64, expected: Option<&str>) -> Result<Rotated, RotationError> {
    let _one = rotation_lock(dir)?;
    rotate_locked(dir, withdraw, now, expected)
}

/// Takes [`ROTATION_LOCK`] in `dir` (waiting at most wallet-core's `LOCK_WAIT`): held across a
/// whole rotation, a withdrawal's revocation included.
pub fn rotation_lock(dir: &Path) -> Result<wallet_core::store::ExclusiveLock, RotationError> {
    wallet_core::store::ExclusiveLock::acquire(&dir.join(ROTATION_LOCK)).map_err(|e| RotationError::Files(e.to_string()))
}

/// [`rotate_credential_key`] with [`rotation_lock`] already held by the caller.
pub(crate) fn rotate_locked(dir: &Path, withdraw: bool, now: i64, expected: Option<&str>) -> Result<Rotated, RotationError> {
    let path = dir.join(CREDENTIAL_KEY);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e} (no credential key to rotate)", path.display()))?;
    let old = SoftwareSigner::from_private_jwk(PrivateJwk::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let old_public = old.public_jwk();
    let old_kid = old_public.kid.clone().unwrap_or_default();
    if let Some(expected) = expected.filter(|e| *e != old_kid) {
        return Err(RotationError::Superseded { expected: expected.to_owned(), current: old_kid });
    }
    let mut retired = load_retired(dir)?;
    retired.retain(|r| r.jwk.kid.as_deref() != Some(old_kid.as_str()));
    if !withdraw {
        retired.push(RetiredKey { jwk: old_public, retired_at: now });
    }
    let json = serde_json::to_vec_pretty(&retired).map_err(|e| e.to_string())?;
    let retired_path = dir.join(RETIRED_CREDENTIAL_KEYS);
    wallet_core::store::write_private(&retired_path, &json).map_err(|e| format!("{}: {e}", retired_path.display()))?;
    let new = SoftwareSigner::generate().map_err(|e| e.to_string())?;
    wallet_core::store::write_private(&path, new.private_jwk().to_json().as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Rotated { old_kid, new_kid: new.kid().unwrap_or_default(), retired: !withdraw })
}

/// The credential key in use and the retired ones, swapped whole by a rotation.
struct CredentialKeys {
    current: Arc<SoftwareSigner>,
    retired: Vec<RetiredKey>,
}

impl CredentialKeys {
    fn load(dir: &Path) -> Result<Self, String> {
        Ok(Self { current: Arc::new(load_or_create(&dir.join(CREDENTIAL_KEY), signer, new_signer)?), retired: load_retired(dir)? })
    }
}

/// How often (seconds) a running issuer looks whether `keys_dir` holds a new credential key
/// (a `stat` of the file; read only when it changed), from the requests that sign: a key
/// rotated or withdrawn on one replica stops signing on the others within this time.
pub const KEY_FILE_LOOK: i64 = 1;

/// A retired key stays published this much longer than `credential_ttl` after its rotation:
/// another replica may sign with it until it next looks at `keys_dir` ([`KEY_FILE_LOOK`]; a
/// wide margin for clocks and a replica under load).
pub const RETIRED_MARGIN: i64 = 60;

/// The credential key's file, in the keys directory.
pub const CREDENTIAL_KEY: &str = "credential-key.jwk";

/// The lock file that serialises credential key rotations in `keys_dir` ([`rotate_credential_key`]).
pub const ROTATION_LOCK: &str = "credential-key.lock";

/// The credential and token keys, and the OpenID4VP relying party's.
pub struct Keys {
    dir: PathBuf,
    credential: RwLock<CredentialKeys>,
    /// The credential key file as last read ([`FileVersion`]): a look at `keys_dir` is one
    /// `stat` unless a rotation replaced the file.
    credential_file: std::sync::Mutex<Option<FileVersion>>,
    token: SoftwareSigner,
    nonce: NonceKey,
    request_object: SoftwareSigner,
    encryption: DecryptionKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("credential_kid", &self.credential().kid()).finish_non_exhaustive()
    }
}

impl Keys {
    /// Loads (creating on first start) the keys in `dir`.
    pub fn open(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let token = load_or_create(&dir.join("token-key.jwk"), signer, new_signer)?;
        // The file's identity before it is read: a rotation landing in between shows as a
        // change at the first look, never as the key read being the new file's.
        let identity = FileVersion::of(&dir.join(CREDENTIAL_KEY));
        let credential = CredentialKeys::load(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            credential_file: std::sync::Mutex::new(identity),
            credential: RwLock::new(credential),
            nonce: NonceKey::derive(token.private_jwk().d(), "tessera-issuer c_nonce"),
            token,
            request_object: load_or_create(&dir.join("request-object-key.jwk"), signer, new_signer)?,
            encryption: load_or_create(&dir.join("response-encryption-key.jwk"), decryption_key, new_decryption_key)?,
        })
    }

    /// The credential signing key (the one in use now: hold the `Arc` for one signature, so
    /// that a header and its signature name the same key across a rotation).
    pub fn credential(&self) -> Arc<SoftwareSigner> {
        self.credential.read().unwrap_or_else(PoisonError::into_inner).current.clone()
    }

    /// Takes up the credential key in `keys_dir` when a rotation replaced it (here or on
    /// another replica sharing the directory): the new key and the retired list. `Ok(Some(old
    /// kid))` when it changed; `Ok(None)` when the file holds the key in use. A file that
    /// cannot be read leaves the key in use (the error says which file).
    pub fn reload_credential(&self) -> Result<Option<String>, String> {
        let path = self.dir.join(CREDENTIAL_KEY);
        // Looked at before it is read, and remembered only once all of it was read: a file
        // that could not be read is read again at the next look, not taken as seen.
        let identity = FileVersion::of(&path);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let on_disk = SoftwareSigner::from_private_jwk(PrivateJwk::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let old = self.credential().kid();
        if on_disk.kid() == old {
            *self.credential_file.lock().unwrap_or_else(PoisonError::into_inner) = identity;
            return Ok(None);
        }
        let retired = load_retired(&self.dir)?;
        *self.credential.write().unwrap_or_else(PoisonError::into_inner) = CredentialKeys { current: Arc::new(on_disk), retired };
        *self.credential_file.lock().unwrap_or_else(PoisonError::into_inner) = identity;
        Ok(Some(old.unwrap_or_default()))
    }

    /// Whether the credential key file is no longer the one last read (a rotation renames a
    /// new file over it), by its metadata only; a file that cannot be looked at counts as
    /// changed, so that reading it says why.
    pub fn credential_file_changed(&self) -> bool {
        let now = FileVersion::of(&self.dir.join(CREDENTIAL_KEY));
        now.is_none() || *self.credential_file.lock().unwrap_or_else(PoisonError::into_inner) != now
    }

    /// The access token key.
    pub fn token(&self) -> &SoftwareSigner {
        &self.token
    }

    /// The key of the `c_nonce`s (`/nonce`, checked in the key proofs).
    pub fn nonce(&self) -> &NonceKey {
        &self.nonce
    }

    /// The OpenID4VP request object key.
    pub fn request_object(&self) -> &SoftwareSigner {
        &self.request_object
    }

    /// The `direct_post.jwt` response decryption key.
    pub fn encryption(&self) -> &DecryptionKey {
        &self.encryption
    }

    /// `openid_credential_verifier.jwks`: the request object key (`use: sig`) and the
    /// response encryption key (`use: enc`).
    pub fn verifier_jwks(&self) -> JwkSet {
        let mut sig = self.request_object.public_jwk();
        sig.key_use = Some("sig".into());
        JwkSet { keys: vec![sig, self.encryption.public_jwk().clone()] }
    }

    /// `openid_credential_issuer.jwks`: the credential key, then the retired ones a
    /// credential could still be valid under at `now` (retired less than `credential_ttl`
    /// ago), each `use: sig`.
    /// A key listed twice (the retired list written before the new key, read in between) is
    /// published once.
    pub fn issuer_jwks(&self, now: i64, credential_ttl: i64) -> JwkSet {
        let keys = self.credential.read().unwrap_or_else(PoisonError::into_inner);
        let current = keys.current.public_jwk();
        let current_kid = current.kid.clone();
        let retired = keys
            .retired
            .iter()
            .filter(|r| now < r.retired_at.saturating_add(credential_ttl).saturating_add(RETIRED_MARGIN) && r.jwk.kid != current_kid)
            .map(|r| r.jwk.clone());
        let current = std::iter::once(current);
        JwkSet {
            keys: current
                .chain(retired)
                .map(|mut k| {
                    k.key_use = Some("sig".into());
                    k
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YEAR: i64 = 365 * 86_400;

    fn kids(set: &JwkSet) -> Vec<String> {
        set.keys.iter().map(|k| k.kid.clone().unwrap()).collect()
    }

    /// A rotation keeps the replaced key published while what it signed may be valid, so a
    /// credential signed before still verifies by its `kid`; a withdrawal drops it.
    #[test]
    fn a_rotation_keeps_the_old_key_published_until_its_credentials_end_and_a_withdrawal_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000;
        let first = Keys::open(dir.path()).unwrap();
        let k1 = first.credential().kid().unwrap();
        let signed = first.credential().sign(b"a credential signed before").unwrap();
        assert_eq!(kids(&first.issuer_jwks(now, YEAR)), vec![k1.clone()]);

        let r = rotate_credential_key(dir.path(), false, now, None).unwrap();
        assert_eq!((r.old_kid.as_str(), r.retired), (k1.as_str(), true));
        let second = Keys::open(dir.path()).unwrap();
        let k2 = second.credential().kid().unwrap();
        assert_eq!(r.new_kid, k2);
        assert_ne!(k1, k2);
        let jwks = second.issuer_jwks(now + 10, YEAR);
        assert_eq!(kids(&jwks), [k2.clone(), k1.clone()], "the new key first, the retired one after");
        jwks.by_kid(&k1).unwrap().verify(wallet_core::jose::JwsAlg::Es256, b"a credential signed before", &signed).unwrap();
        assert_eq!(kids(&second.issuer_jwks(now + YEAR + RETIRED_MARGIN - 1, YEAR)).len(), 2, "while a replica may still have signed with it");
        assert_eq!(kids(&second.issuer_jwks(now + YEAR + RETIRED_MARGIN, YEAR)), vec![k2.clone()], "no longer once its credentials have ended");
        // The token key is not touched: access tokens and nonces stay valid across a rotation.
        assert_eq!(first.token().kid(), second.token().kid());

        // A withdrawn key is not kept; the earlier retired one stays.
        let r = rotate_credential_key(dir.path(), true, now + 20, None).unwrap();
        assert_eq!((r.old_kid.as_str(), r.retired), (k2.as_str(), false));
        let third = Keys::open(dir.path()).unwrap();
        let k3 = third.credential().kid().unwrap();
        assert_eq!(kids(&third.issuer_jwks(now + 30, YEAR)), [k3, k1]);
    }

    #[test]
    fn nothing_to_rotate_or_a_broken_list_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = rotate_credential_key(dir.path(), false, 0, None).unwrap_err().to_string();
        assert!(e.contains("credential-key.jwk") && e.contains("no credential key to rotate"), "{e}");
        Keys::open(dir.path()).unwrap();
        std::fs::write(dir.path().join(RETIRED_CREDENTIAL_KEYS), "not json").unwrap();
        let e = Keys::open(dir.path()).err().unwrap();
        assert!(e.contains(RETIRED_CREDENTIAL_KEYS), "{e}");
        let e = rotate_credential_key(dir.path(), false, 0, None).unwrap_err().to_string();
        assert!(e.contains(RETIRED_CREDENTIAL_KEYS), "{e}");
    }

    /// Replicas sharing `keys_dir` that start together use one set of keys, and rotations
    /// made at once lose no key: every key that was ever current is current or retired
    /// after them (a lost one had signed credentials nobody could verify any more).
    #[test]
    fn replicas_starting_or_rotating_at_once_lose_no_key() {
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let n = 6;
        let start = std::sync::Arc::new(std::sync::Barrier::new(n));
        let opened: Vec<(String, Option<String>)> = (0..n)
            .map(|_| {
                let (dir, start) = (std::sync::Arc::clone(&dir), std::sync::Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    let k = Keys::open(dir.path()).unwrap();
                    (k.credential().kid().unwrap(), k.token().kid())
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        assert!(opened.windows(2).all(|w| w[0] == w[1]), "one credential key and one token key for all: {opened:?}");

        let now = 1_800_000_000;
        let rotations: Vec<Rotated> = (0..n)
            .map(|_| {
                let (dir, start) = (std::sync::Arc::clone(&dir), std::sync::Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    rotate_credential_key(dir.path(), false, now, None).unwrap()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let published = kids(&Keys::open(dir.path()).unwrap().issuer_jwks(now, YEAR));
        assert_eq!(published.len(), n + 1, "the first key and each rotation's: {published:?}");
        for r in &rotations {
            assert!(published.contains(&r.old_kid) && published.contains(&r.new_kid), "{r:?} in {published:?}");
        }

        // A running issuer names the key it rotates; one replaced meanwhile is not rotated again.
        let stale = rotations[0].old_kid.clone();
        let e = rotate_credential_key(dir.path(), true, now, Some(&stale)).unwrap_err();
        assert!(matches!(e, RotationError::Superseded { .. }), "{e}");
        assert_eq!(kids(&Keys::open(dir.path()).unwrap().issuer_jwks(now, YEAR)), published, "nothing changed");
    }
}
