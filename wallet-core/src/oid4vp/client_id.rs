//! The verifier's `client_id` and its prefix (OpenID4VP 1.0 §5.9, IT-Wallet 1.4 §1.3 and §5.1).
//!
//! IT-Wallet accepts two prefixes:
//! * `openid_federation:<entity-id>`: the relying party is a federation leaf; its trust chain
//!   and `openid_credential_verifier` metadata decide. A bare `https://` `client_id` (the
//!   legacy form) counts as federation too, and keeps its bare spelling.
//! * `x509_hash:<b64url SHA-256 of the leaf certificate DER>`: the request object's `x5c` leaf
//!   must hash to it (OpenID4VP §5.9.3); all metadata then comes from `client_metadata`.
//!
//! Every other prefix (`redirect_uri:`, `decentralized_identifier:`, `verifier_attestation:`,
//! `pre-registered`...) is refused with [`ClientIdError::UnsupportedPrefix`] naming it, as the
//! IT-Wallet SDK does.

use sha2::{Digest, Sha256};

use crate::federation::EntityId;
use crate::jose::b64;

/// The `openid_federation:` prefix.
pub const FEDERATION_PREFIX: &str = "openid_federation:";
/// The `x509_hash:` prefix.
pub const X509_HASH_PREFIX: &str = "x509_hash:";
/// The longest `client_id` we accept.
pub const MAX_CLIENT_ID_LEN: usize = 2048;

/// Why a `client_id` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientIdError {
    /// Empty.
    #[error("client_id is empty")]
    Empty,
    /// Longer than [`MAX_CLIENT_ID_LEN`].
    #[error("client_id longer than {MAX_CLIENT_ID_LEN} bytes")]
    TooLong,
    /// A prefix IT-Wallet does not use.
    #[error("client_id prefix `{0}` is not supported (only openid_federation and x509_hash)")]
    UnsupportedPrefix(String),
    /// The federation entity id is not a valid Entity Identifier.
    #[error("client_id entity identifier invalid: {0}")]
    InvalidEntityId(String),
    /// The `x509_hash` value is not base64url of 32 bytes.
    #[error("x509_hash is not the base64url of a SHA-256 digest")]
    BadX509Hash,
}

impl ClientIdError {
    /// The OpenID4VP error code (`invalid_client` for an unusable client identifier).
    pub fn oauth_code(&self) -> &'static str {
        "invalid_client"
    }
}

/// What kind of client identifier this is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientIdKind {
    /// `openid_federation:<entity>` or a bare `https://` entity id.
    Federation(EntityId),
    /// `x509_hash:<hash>`: the SHA-256 of the leaf certificate's DER.
    X509Hash([u8; 32]),
}

/// A verifier's `client_id`, checked once: its exact text (compared as given) and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId {
    raw: String,
    kind: ClientIdKind,
}

impl ClientId {
    /// Parses a `client_id`.
    pub fn parse(s: &str) -> Result<Self, ClientIdError> {
        if s.is_empty() {
            return Err(ClientIdError::Empty);
        }
        if s.len() > MAX_CLIENT_ID_LEN {
            return Err(ClientIdError::TooLong);
        }
        let kind = if let Some(id) = s.strip_prefix(FEDERATION_PREFIX) {
            ClientIdKind::Federation(EntityId::new(id).map_err(|e| ClientIdError::InvalidEntityId(e.to_string()))?)
        } else if let Some(h) = s.strip_prefix(X509_HASH_PREFIX) {
            let bytes = b64::decode(h).map_err(|_| ClientIdError::BadX509Hash)?;
            ClientIdKind::X509Hash(bytes.try_into().map_err(|_| ClientIdError::BadX509Hash)?)
        } else if s.starts_with("https://") || s.starts_with("http://") {
            // Legacy: a bare URL is a federation entity id (IT-Wallet §1.3).
            ClientIdKind::Federation(EntityId::new(s).map_err(|e| ClientIdError::InvalidEntityId(e.to_string()))?)
        } else {
            let prefix = s.split_once(':').map_or(s, |(p, _)| p);
            return Err(ClientIdError::UnsupportedPrefix(prefix.chars().take(64).collect()));
        };
        Ok(Self { raw: s.to_owned(), kind })
    }

    /// `openid_federation:<entity>`.
    pub fn federation(entity: &EntityId) -> Self {
        Self { raw: format!("{FEDERATION_PREFIX}{}", entity.as_str()), kind: ClientIdKind::Federation(entity.clone()) }
    }

    /// `x509_hash:<b64url SHA-256 of leaf_der>`.
    pub fn x509_hash_of(leaf_der: &[u8]) -> Self {
        let h: [u8; 32] = Sha256::digest(leaf_der).into();
        Self { raw: format!("{X509_HASH_PREFIX}{}", b64::encode(h)), kind: ClientIdKind::X509Hash(h) }
    }

    /// The text, as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The kind.
    pub fn kind(&self) -> &ClientIdKind {
        &self.kind
    }

    /// The federation entity, for `openid_federation` (or bare) client ids.
    pub fn entity_id(&self) -> Option<&EntityId> {
        match &self.kind {
            ClientIdKind::Federation(e) => Some(e),
            ClientIdKind::X509Hash(_) => None,
        }
    }

    /// The text without its prefix: the entity id for federation, the hash for `x509_hash`.
    pub fn unprefixed(&self) -> &str {
        self.raw
            .strip_prefix(FEDERATION_PREFIX)
            .or_else(|| self.raw.strip_prefix(X509_HASH_PREFIX))
            .unwrap_or(&self.raw)
    }

    /// Whether the DER leaf certificate hashes to this `x509_hash` (constant time). `false`
    /// for a federation client id.
    pub fn x509_hash_matches(&self, leaf_der: &[u8]) -> bool {
        match &self.kind {
            ClientIdKind::X509Hash(h) => crate::subtle_eq(h, &Sha256::digest(leaf_der)),
            ClientIdKind::Federation(_) => false,
        }
    }

    /// Whether `value` names this client: the full `client_id`, or (for federation) the bare
    /// entity id. Used for the request object's `iss` and the KB-JWT `aud`: IT-Wallet tools
    /// disagree (WCT sends the prefixed id, IRNW 1.3.3 the bare one: versions note §5.4), so
    /// both are accepted.
    pub fn names(&self, value: &str) -> bool {
        value == self.raw || self.entity_id().is_some_and(|e| e.as_str() == value)
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn federation_prefixed_and_bare() {
        let c = ClientId::parse("openid_federation:https://rp.example.it").unwrap();
        assert_eq!(c.entity_id().unwrap().as_str(), "https://rp.example.it");
        assert!(c.names("https://rp.example.it"));
        assert!(c.names("openid_federation:https://rp.example.it"));
        assert!(!c.names("https://other.example.it"));
        assert_eq!(c.unprefixed(), "https://rp.example.it");
        let bare = ClientId::parse("https://rp.example.it").unwrap();
        assert_eq!(bare.entity_id(), c.entity_id());
        assert_eq!(bare.as_str(), "https://rp.example.it");
        assert_eq!(ClientId::federation(c.entity_id().unwrap()), c);
    }

    #[test]
    fn x509_hash_round_trip_and_match() {
        let der = b"not really a certificate";
        let c = ClientId::x509_hash_of(der);
        let parsed = ClientId::parse(c.as_str()).unwrap();
        assert_eq!(parsed, c);
        assert!(parsed.x509_hash_matches(der));
        assert!(!parsed.x509_hash_matches(b"another certificate"));
        assert!(parsed.entity_id().is_none());
        assert!(!parsed.names("https://rp.example.it"));
    }

    #[test]
    fn refused_client_ids() {
        assert_eq!(ClientId::parse(""), Err(ClientIdError::Empty));
        assert_eq!(ClientId::parse("redirect_uri:https://rp.example.it"), Err(ClientIdError::UnsupportedPrefix("redirect_uri".into())));
        assert_eq!(ClientId::parse("decentralized_identifier:did:web:x"), Err(ClientIdError::UnsupportedPrefix("decentralized_identifier".into())));
        assert_eq!(ClientId::parse("pre-registered-client"), Err(ClientIdError::UnsupportedPrefix("pre-registered-client".into())));
        assert_eq!(ClientId::parse("x509_hash:AAAA"), Err(ClientIdError::BadX509Hash));
        assert_eq!(ClientId::parse("x509_hash:!!"), Err(ClientIdError::BadX509Hash));
        assert!(matches!(ClientId::parse("openid_federation:https://rp.example.it?x=1"), Err(ClientIdError::InvalidEntityId(_))));
        assert!(matches!(ClientId::parse("openid_federation:ftp://rp"), Err(ClientIdError::InvalidEntityId(_))));
        assert_eq!(ClientId::parse(&"x".repeat(MAX_CLIENT_ID_LEN + 1)), Err(ClientIdError::TooLong));
        assert_eq!(ClientId::parse("x509_san_dns:rp").unwrap_err().oauth_code(), "invalid_client");
    }
}
