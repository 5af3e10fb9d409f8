//! Random values the provider hands out: nonces (public challenges), one-time login codes
//! and session tokens (bearer secrets). Secrets are stored as their SHA-256, print redacted,
//! and are compared only through the database lookup of their hash.

use sha2::{Digest as _, Sha256};
use wallet_core::jose::b64;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// 32 random bytes, base64url (43 characters).
pub(crate) fn random_b64() -> Result<String, crate::error::ProviderError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(crate::error::ProviderError::internal)?;
    let s = b64::encode(b);
    b.zeroize();
    Ok(s)
}

/// A bearer secret (session token or login code): redacted `Debug`, zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A fresh random secret.
    pub fn generate() -> Result<Self, crate::error::ProviderError> {
        random_b64().map(Self)
    }

    /// A secret received from a client.
    pub fn from_client(s: &str) -> Self {
        Self(s.trim().to_owned())
    }

    /// The value to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database keeps: base64url SHA-256 of the secret.
    pub fn hash(&self) -> String {
        b64::encode(Sha256::digest(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_redacted_and_hashed() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert_eq!(format!("{a:?}"), "Secret(..)");
        assert_eq!(Secret::from_client(a.expose()).hash(), a.hash());
        assert_ne!(a.hash(), a.expose());
    }
}
