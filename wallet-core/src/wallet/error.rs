//! The wallet flows' error.

use crate::attestation::AttestationError;
use crate::keystore::KeyStoreError;

use super::http::HttpError;

/// Why a wallet flow step failed. Free of secrets (tokens, codes) and personal data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WalletError {
    /// No response (network, TLS, timeout).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The wallet provider answered with an error status.
    #[error("{endpoint}: HTTP {status}{}", error.as_ref().map(|e| format!(" {e}")).unwrap_or_default())]
    Provider {
        /// Which endpoint (path).
        endpoint: &'static str,
        /// The status.
        status: u16,
        /// The OAuth `error` code, when the body had one.
        error: Option<String>,
        /// `error_description`.
        description: Option<String>,
    },
    /// A response that does not parse or breaks the protocol.
    #[error("{endpoint}: bad response: {detail}")]
    BadResponse {
        /// Which endpoint.
        endpoint: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The redirect is not to our redirect URI.
    #[error("the redirect does not go to the app's redirect URI")]
    RedirectMismatch,
    /// The redirect's `state` is not ours (CSRF or a mixed-up login).
    #[error("the redirect's state does not match the login's")]
    StateMismatch,
    /// The redirect carries no `code`.
    #[error("the redirect carries no code")]
    MissingCode,
    /// The login was refused or cancelled (`error` in the redirect).
    #[error("login failed: {error}")]
    LoginFailed {
        /// The `error` parameter.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// The citizen session expired: log in again.
    #[error("the citizen session expired")]
    SessionExpired,
    /// No wallet instance is registered on this device.
    #[error("no wallet instance is registered")]
    NotRegistered,
    /// The instance is registered but has no attestations yet.
    #[error("the wallet instance has no attestations")]
    NoAttestations,
    /// The key store failed.
    #[error("key store: {0}")]
    KeyStore(#[from] KeyStoreError),
    /// An attestation was refused or could not be built.
    #[error("attestation: {0}")]
    Attestation(#[from] AttestationError),
    /// The wallet's encrypted state could not be read or written.
    #[error("wallet state: {0}")]
    State(String),
}
