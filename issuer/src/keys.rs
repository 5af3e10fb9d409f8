//! The issuer's keys, in `keys_dir` (default `data_dir`; 0600, created on first start).
//! Replicas of one issuer share them (one directory mounted in each, or the files copied in
//! before the first start): an access token signed by one replica is verified by another,
//! and every replica signs credentials and the status list with the key the one Entity
//! Configuration publishes.
//!
//! * `credential-key.jwk`: signs credentials, the Token Status List and the signed
//!   metadata; published in `openid_credential_issuer.jwks` (IT-Wallet 1.4 §3.1, §4.1),
//!   where wallets find it by `kid`.
//! * `token-key.jwk`: signs the access tokens (`at+jwt`) the authorization server issues
//!   and the credential endpoint verifies (the same service; not published).
//! * `request-object-key.jwk` and `response-encryption-key.jwk` (with `[authentication]
//!   method = "pid"`): sign the OpenID4VP request objects and decrypt the `direct_post.jwt`
//!   responses; both in `openid_credential_verifier.jwks` (IT-Wallet 1.4 §5.1, as the
//!   verifier publishes them).
//! * The `c_nonce` key (wallet-core's `NonceKey`): derived from the token key, so replicas
//!   sharing it accept each other's nonces; not a file of its own.
//! * The Federation Entity Key: the trust-anchor building block's (`federation-keys.json`).

use std::path::Path;

use wallet_core::jose::{DecryptionKey, JwkSet, PrivateJwk, Signer as _, SoftwareSigner};
use wallet_core::oid4vci::NonceKey;

fn load_or_create(path: &Path) -> Result<SoftwareSigner, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let jwk = PrivateJwk::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            SoftwareSigner::from_private_jwk(jwk).map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = SoftwareSigner::generate().map_err(|e| e.to_string())?;
            wallet_core::store::write_private(path, k.private_jwk().to_json().as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(k)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn load_or_create_enc(path: &Path) -> Result<DecryptionKey, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let jwk = PrivateJwk::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            DecryptionKey::from_private_jwk(jwk).map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = DecryptionKey::generate().map_err(|e| e.to_string())?;
            wallet_core::store::write_private(path, k.private_jwk().to_json().as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(k)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The credential and token keys, and the OpenID4VP relying party's.
pub struct Keys {
    credential: SoftwareSigner,
    token: SoftwareSigner,
    nonce: NonceKey,
    request_object: SoftwareSigner,
    encryption: DecryptionKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("credential_kid", &self.credential.kid()).finish_non_exhaustive()
    }
}

impl Keys {
    /// Loads (creating on first start) the keys in `dir`.
    pub fn open(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let token = load_or_create(&dir.join("token-key.jwk"))?;
        Ok(Self {
            credential: load_or_create(&dir.join("credential-key.jwk"))?,
            nonce: NonceKey::derive(token.private_jwk().d(), "tessera-issuer c_nonce"),
            token,
            request_object: load_or_create(&dir.join("request-object-key.jwk"))?,
            encryption: load_or_create_enc(&dir.join("response-encryption-key.jwk"))?,
        })
    }

    /// The credential signing key.
    pub fn credential(&self) -> &SoftwareSigner {
        &self.credential
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

    /// `openid_credential_issuer.jwks`: the credential key, `use: sig`.
    pub fn issuer_jwks(&self) -> JwkSet {
        let mut k = self.credential.public_jwk();
        k.key_use = Some("sig".into());
        JwkSet { keys: vec![k] }
    }
}
