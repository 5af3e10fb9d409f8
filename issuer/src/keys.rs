//! The issuer's keys, in `data_dir` (0600, created on first start):
//!
//! * `credential-key.jwk`: signs credentials, the Token Status List and the signed
//!   metadata; published in `openid_credential_issuer.jwks` (IT-Wallet 1.4 §3.1, §4.1),
//!   where wallets find it by `kid`.
//! * `token-key.jwk`: signs the access tokens (`at+jwt`) the authorization server issues
//!   and the credential endpoint verifies (the same service; not published).
//! * The Federation Entity Key: the trust-anchor building block's (`federation-keys.json`).

use std::path::Path;

use wallet_core::jose::{JwkSet, PrivateJwk, Signer as _, SoftwareSigner};

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

/// The credential and token keys.
pub struct Keys {
    credential: SoftwareSigner,
    token: SoftwareSigner,
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
        Ok(Self { credential: load_or_create(&dir.join("credential-key.jwk"))?, token: load_or_create(&dir.join("token-key.jwk"))? })
    }

    /// The credential signing key.
    pub fn credential(&self) -> &SoftwareSigner {
        &self.credential
    }

    /// The access token key.
    pub fn token(&self) -> &SoftwareSigner {
        &self.token
    }

    /// `openid_credential_issuer.jwks`: the credential key, `use: sig`.
    pub fn issuer_jwks(&self) -> JwkSet {
        let mut k = self.credential.public_jwk();
        k.key_use = Some("sig".into());
        JwkSet { keys: vec![k] }
    }
}
