//! The verifier's keys and the material a wallet needs to trust its request objects.
//!
//! * The Federation Entity Key: the trust-anchor building block's key in the data directory
//!   (`federation-keys.json`, in `keys_dir`); it signs the Entity Configuration and, as the key of the CA
//!   certificate the trust anchor issued us at onboarding, our protocol certificates.
//! * The request object key (`<keys_dir>/request-object-key.jwk`, 0600): signs request
//!   objects; published in `openid_credential_verifier.jwks`, where the wallet finds it by
//!   `kid` (IT-Wallet 1.4 §5.1 "Wallet checks", wallet-core's `ParsedRequestObject::verify`).
//! * The response encryption key (`<keys_dir>/response-encryption-key.jwk`, 0600): P-256
//!   `use: enc`, `alg: ECDH-ES`, published both in the Entity Configuration and in every
//!   request object's `client_metadata` (versions note §5.2: 1.3 wallets encrypt to the EC
//!   key, 1.4 wallets to `client_metadata`; one key serves both). A static key rather than
//!   one per request: the response is then decrypted by `kid` before the session is known
//!   (its `state` is inside the JWE).
//!
//! `keys_dir` defaults to `data_dir`. Replicas of one verifier (sharing a PostgreSQL
//! database) must share all three keys: a response encrypted to the key one replica
//! published is decrypted by whichever receives it, and a request object's `kid` is looked
//! up in the one Entity Configuration. Give every replica the same `keys_dir` (one
//! directory mounted in each, created by the first replica to start, or the three files
//! copied in before the first start).
//!
//! The request object header carries `kid`, `x5c` = [protocol certificate for the request
//! object key, the CA chain our superior pinned] (no root: IT-Wallet 1.4 §1.3) and
//! `trust_chain` (our chain to a trust anchor). The chain comes from resolving our own
//! configuration over bounded outbound HTTP, cached until it nears its expiry; before the
//! trust anchor has onboarded us, request objects cannot be signed (503).
//!
//! The same mechanism is in the wallet provider (`wallet_provider::keys`): it belongs in a
//! shared crate (see the report of the verifier's first session).

use std::path::Path;
use std::sync::{Arc, Mutex};

use wallet_core::federation::{ChainCollector, EntityId, TrustAnchorConfig, ValidatedChain};
use wallet_core::jose::{DecryptionKey, JwkSet, PrivateJwk, Signer as _, SoftwareSigner};
use wallet_core::oid4vp::request_object::{EncodedHeader, SigningHeader};
use wallet_core::time::UnixTime;

use crate::error::VerifierError;

pub use trust_anchor::protocol::PROTOCOL_CERT_TTL;
use trust_anchor::protocol::{ProtocolCert, ProtocolCerts};
/// Chain material nearer than this to its expiry is refreshed.
const REFRESH_MARGIN: i64 = 300;

#[derive(Debug, Clone)]
struct Resolved {
    ca_chain: Vec<String>,
    trust_chain: Vec<String>,
    valid_until: i64,
}

/// The `openid_federation` header as last built (serialised and encoded for the request
/// object key), and until when it may be reused: while the chain it carries is fresh and its
/// certificate still covers a session from then.
#[derive(Debug, Clone)]
struct CachedHeader {
    header: Arc<EncodedHeader>,
    /// The last second it may be reused at.
    until: i64,
}

/// The `kid` prefix of request-specific response keys: `rk:<session id>`.
pub const REQUEST_KEY_KID_PREFIX: &str = "rk:";

/// Keys and cached header material.
pub struct Keys {
    entity_id: EntityId,
    /// The Federation Entity Key ring (shared with the federation building block's file):
    /// a rollover made on another replica is followed ([`Keys::follow_rollover`]).
    federation: trust_anchor::keys::SharedRing,
    request_object: SoftwareSigner,
    encryption: DecryptionKey,
    /// What request-specific response keys are derived from ([`Keys::request_key`]): an
    /// HMAC of the long-lived encryption key's private scalar, so that replicas sharing
    /// `keys_dir` derive the same keys and nothing new is stored.
    request_key_secret: zeroize::Zeroizing<Vec<u8>>,
    anchors: Vec<TrustAnchorConfig>,
    resolved: Mutex<Option<Resolved>>,
    /// The request object key's certificate, covering a session from when it is signed.
    certs: ProtocolCerts,
    header: Mutex<Option<CachedHeader>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("request_object_kid", &self.request_object.kid()).finish_non_exhaustive()
    }
}

/// A private JWK file, created on first start; replicas starting together on an empty
/// `keys_dir` all use the one written (service-kit `files::load_or_create_jwk`).
fn load_or_create<T>(path: &Path, parse: impl Fn(PrivateJwk) -> Result<T, String>, create: impl FnOnce() -> Result<String, String>) -> Result<T, String> {
    service_kit::files::load_or_create_jwk(path, parse, create)
}

impl Keys {
    /// Loads (creating on first start) the keys under `config.keys_dir()` (`keys_dir`, or
    /// `data_dir`).
    pub fn open(config: &crate::Config) -> Result<Self, String> {
        let dir = config.keys_dir();
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let request_object = load_or_create(
            &dir.join("request-object-key.jwk"),
            |j| SoftwareSigner::from_private_jwk(j).map_err(|e| e.to_string()),
            || SoftwareSigner::generate().map(|k| k.private_jwk().to_json()).map_err(|e| e.to_string()),
        )?;
        let encryption = load_or_create(
            &dir.join("response-encryption-key.jwk"),
            |j| DecryptionKey::from_private_jwk(j).map_err(|e| e.to_string()),
            || DecryptionKey::generate().map(|k| k.private_jwk().to_json()).map_err(|e| e.to_string()),
        )?;
        let request_key_secret = {
            use hmac::{KeyInit as _, Mac as _};
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(encryption.private_jwk().d()).map_err(|e| e.to_string())?;
            mac.update(b"tessera verifier: request-specific response keys");
            zeroize::Zeroizing::new(mac.finalize().into_bytes().to_vec())
        };
        Ok(Self {
            entity_id: config.entity_id.clone(),
            federation: trust_anchor::keys::SharedRing::open(dir)?,
            request_object,
            encryption,
            request_key_secret,
            anchors: config.trust_anchors.clone(),
            resolved: Mutex::new(None),
            certs: ProtocolCerts::new(config.entity_id.clone(), config.session_ttl),
            header: Mutex::new(None),
        })
    }

    /// The request object signing key.
    pub fn request_object(&self) -> &SoftwareSigner {
        &self.request_object
    }

    /// The long-lived response decryption key, published in the Entity Configuration's
    /// `openid_credential_verifier.jwks` (1.3 wallets encrypt to it: versions note §5).
    pub fn encryption(&self) -> &DecryptionKey {
        &self.encryption
    }

    /// Session `session_id`'s request-specific response key (IT-Wallet 1.4 §5.1:
    /// `client_metadata.jwks` carries a key for this request; §8: a response is decrypted
    /// with "the request-specific `kid` key"), `kid` = [`REQUEST_KEY_KID_PREFIX`] + the id:
    /// derived, not stored (wallet-core `DecryptionKey::derived`), so that the replica that
    /// receives the response derives it again from the `kid`.
    pub fn request_key(&self, session_id: &str) -> Result<DecryptionKey, String> {
        DecryptionKey::derived(&self.request_key_secret, session_id.as_bytes(), &format!("{REQUEST_KEY_KID_PREFIX}{session_id}")).map_err(|e| e.to_string())
    }

    /// `openid_credential_verifier.jwks`: the request object key (`use: sig`) and the
    /// response encryption key (`use: enc`).
    pub fn verifier_jwks(&self) -> JwkSet {
        let mut sig = self.request_object.public_jwk();
        sig.key_use = Some("sig".into());
        JwkSet { keys: vec![sig, self.encryption.public_jwk().clone()] }
    }

    /// Drops the cached chain and certificate (after a key rollover or re-onboarding).
    pub fn invalidate(&self) {
        *self.resolved.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.certs.invalidate();
        *self.header.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// Takes up a Federation Entity Key rollover made on another replica (or by this one's
    /// federation admin API): what was made with the old key (the protocol certificate, our
    /// chain's CA certificates, the encoded header) is dropped and made again.
    fn follow_rollover(&self) {
        if self.federation.take_up() {
            tracing::info!("federation key rolled over: certificates and our chain are made again");
            self.invalidate();
        }
    }

    async fn resolved(&self, http: &service_kit::OutboundHttp, now: UnixTime) -> Result<Resolved, VerifierError> {
        self.follow_rollover();
        let cached = self.resolved.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone().filter(|r| r.valid_until > now.secs());
        match cached {
            Some(r) => Ok(r),
            None => {
                let chain = self.resolve_own_chain(http, now).await?;
                let r = self.resolved_from(&chain, now)?;
                *self.resolved.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r.clone());
                Ok(r)
            }
        }
    }

    /// The request object header at `now` for an `openid_federation` client id: `kid`,
    /// `x5c` (a protocol certificate for the request object key, then our CA chain without
    /// the root) and `trust_chain`, serialised and encoded for the request object key. Built
    /// once and shared while both the chain and the certificate would be reused as they are
    /// (its 8 KB neither copied, serialised nor encoded again for every request object).
    pub async fn signing_header(&self, http: &service_kit::OutboundHttp, now: UnixTime) -> Result<Arc<EncodedHeader>, VerifierError> {
        self.follow_rollover();
        let cached = self.header.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref().filter(|h| now.secs() <= h.until).map(|h| h.header.clone());
        if let Some(h) = cached {
            return Ok(h);
        }
        let resolved = self.resolved(http, now).await?;
        let cert = self.protocol_cert(now)?;
        // `resolved` is reused while `valid_until > now`, the certificate while
        // `not_after >= now + cover` (see `resolved` and `protocol_cert`).
        let until = resolved.valid_until.saturating_sub(1).min(cert.not_after.saturating_sub(self.certs.cover()));
        let header = SigningHeader {
            x5c: Some(std::iter::once(cert.b64).chain(resolved.ca_chain).collect()),
            trust_chain: Some(resolved.trust_chain),
            kid: self.request_object.kid(),
        };
        let header = Arc::new(EncodedHeader::new(&self.request_object, &header).map_err(VerifierError::internal)?);
        *self.header.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(CachedHeader { header: header.clone(), until });
        Ok(header)
    }

    /// The header for an `x509_hash` client id (OpenID4VP 1.0 §5.9.3): `kid` and `x5c` =
    /// [`leaf_b64`, our CA chain without the root]; no `trust_chain` (the wallet's trust is
    /// the certificate chain). `leaf_b64` is the session's leaf ([`Keys::protocol_leaf`] at
    /// its creation), which its `client_id` hashes.
    pub async fn x509_hash_header(&self, http: &service_kit::OutboundHttp, now: UnixTime, leaf_b64: &str) -> Result<EncodedHeader, VerifierError> {
        let resolved = self.resolved(http, now).await?;
        let header = SigningHeader { x5c: Some(std::iter::once(leaf_b64.to_owned()).chain(resolved.ca_chain).collect()), trust_chain: None, kid: self.request_object.kid() };
        EncodedHeader::new(&self.request_object, &header).map_err(VerifierError::internal)
    }

    /// The current protocol certificate for the request object key (base64 DER, as in
    /// `x5c`), valid at least a session's lifetime from `now`: an `x509_hash` session is
    /// bound to it at creation.
    pub fn protocol_leaf(&self, now: UnixTime) -> Result<String, VerifierError> {
        Ok(self.protocol_cert(now)?.b64)
    }

    fn protocol_cert(&self, now: UnixTime) -> Result<ProtocolCert, VerifierError> {
        self.follow_rollover();
        self.certs.get(self.federation.read().current(), &self.request_object.public_jwk(), now.secs()).map_err(VerifierError::internal)
    }

    fn resolved_from(&self, chain: &ValidatedChain, now: UnixTime) -> Result<Resolved, VerifierError> {
        let unavailable = |m: &str| VerifierError::Unavailable(format!("request objects cannot be signed yet: {m}"));
        // The superior pins [our CA, intermediates' CAs, the root]; a request object's `x5c`
        // leaves the root out (IT-Wallet 1.4 §1.3; wallet-core refuses it, RootInChain).
        let ca_chain = trust_anchor::protocol::without_root(trust_anchor::protocol::pinned_ca_chain(chain, self.federation.read().current()).map_err(unavailable)?);
        Ok(Resolved {
            ca_chain,
            trust_chain: chain.jwts(),
            valid_until: chain.exp.secs().saturating_sub(REFRESH_MARGIN).max(now.secs().saturating_add(60)),
        })
    }

    async fn resolve_own_chain(&self, http: &service_kit::OutboundHttp, now: UnixTime) -> Result<ValidatedChain, VerifierError> {
        if self.anchors.is_empty() {
            return Err(VerifierError::Unavailable("no trust anchor configured: request objects cannot carry a trust chain".into()));
        }
        let fetcher = http.for_request();
        ChainCollector::new_async(&fetcher, &self.anchors)
            .resolve_async(&self.entity_id, now)
            .await
            .map_err(|e| VerifierError::Unavailable(format!("cannot resolve our trust chain: {e}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// Keys an operator copied into `keys_dir` with a mode open to others (`cp` under umask
    /// 022) are used, and set to 0600 at open (service-kit `files::keep_secret`).
    #[cfg(unix)]
    #[test]
    fn keys_copied_in_open_to_others_are_made_private_at_open() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config::new(EntityId::new("https://verifier.example.it").unwrap(), dir.path().to_path_buf());
        let first = Keys::open(&config).unwrap().request_object().kid();
        let mode = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
        for name in ["request-object-key.jwk", "response-encryption-key.jwk", "federation-keys.json"] {
            assert_eq!(mode(name), 0o600, "{name} created private");
            std::fs::set_permissions(dir.path().join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let again = Keys::open(&config).unwrap();
        assert_eq!(again.request_object().kid(), first, "the same keys, not new ones");
        for name in ["request-object-key.jwk", "response-encryption-key.jwk", "federation-keys.json"] {
            assert_eq!(mode(name), 0o600, "{name} made private again");
        }
    }

    /// A Federation Entity Key rollover made by another replica sharing `keys_dir` (its file
    /// replaced) is followed without a restart: the protocol certificate is issued again, by
    /// the new key.
    #[test]
    fn a_federation_key_rollover_made_by_another_replica_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config::new(EntityId::new("https://verifier.example.it").unwrap(), dir.path().to_path_buf());
        let keys = Keys::open(&config).unwrap();
        let before = keys.protocol_leaf(UnixTime::now()).unwrap();
        assert_eq!(keys.protocol_leaf(UnixTime::now()).unwrap(), before, "reused while nothing changed");
        let mut other = trust_anchor::keys::KeyRing::load_or_create(config.keys_dir()).unwrap();
        other.prepare().unwrap();
        let new = other.activate(UnixTime::now().secs(), 3_600).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        let after = keys.protocol_leaf(UnixTime::now()).unwrap();
        assert_ne!(after, before, "a certificate issued again");
        assert_eq!(keys.federation.read().current().kid(), new.kid, "by the key the other replica activated");
    }
}
