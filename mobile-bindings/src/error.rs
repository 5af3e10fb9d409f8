//! The errors an app sees: one flat enum, made from wallet-core's errors in one place.
//!
//! Each variant is an exception class in Kotlin (`WalletException.CredentialNotFound`), Swift
//! (`WalletError.CredentialNotFound`) and Python (`WalletError.CredentialNotFound`), with a
//! message a user can be shown ([`WalletError::user_message`]) and a stable code
//! ([`WalletError::code`]) for branching and analytics. No variant carries a secret or a
//! citizen's data: only ids, claim paths, issuer ids and the name of the broken rule.

use wallet_core::sd_jwt::SdJwtError;
use wallet_core::store::StoreError;
use wallet_core::vc::VcError;

use crate::issuance::IssuanceStage;
use crate::keystore::KeyStoreError;

/// Why a wallet operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum WalletError {
    /// The wallet's storage could not be read or written (disk full, I/O, corrupt file).
    #[error("the wallet's storage failed: {reason}")]
    Storage {
        /// What failed.
        reason: String,
    },
    /// The store was created with another storage key (or a row was tampered with).
    #[error("the wallet's data is locked with another key or was tampered with")]
    StorageLocked,
    /// No credential has this id.
    #[error("no credential with id {id}")]
    CredentialNotFound {
        /// The id asked for.
        id: String,
    },
    /// The credential was refused: malformed, bad signature, expired, or breaking a rule of
    /// SD-JWT VC. `rule` names the check.
    #[error("the credential is not valid: {rule}")]
    InvalidCredential {
        /// The check that failed.
        rule: String,
    },
    /// No trusted key was found for the credential's issuer (not in the federation, or the
    /// trust chain did not validate).
    #[error("the issuer {issuer} is not trusted: {reason}")]
    UntrustedIssuer {
        /// The issuer's id.
        issuer: String,
        /// Why.
        reason: String,
    },
    /// The credential is bound to another key than the one named.
    #[error("the credential is not bound to the key {tag}")]
    KeyMismatch {
        /// The key tag given.
        tag: String,
    },
    /// The key store has no key with this tag.
    #[error("no key with tag {tag} in the key store")]
    KeyNotFound {
        /// The tag.
        tag: String,
    },
    /// The user cancelled the operation (biometric prompt dismissed).
    #[error("cancelled by the user")]
    UserCancelled,
    /// The key store failed (hardware unavailable, bad key material returned).
    #[error("the key store failed: {reason}")]
    KeyStoreFailed {
        /// What failed.
        reason: String,
    },
    /// A requested claim is not in the credential.
    #[error("the credential has no claim {path}")]
    NoSuchClaim {
        /// The claim path, dotted.
        path: String,
    },
    /// An argument is malformed (an id, a path, a key).
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// Which and why.
        reason: String,
    },
    /// A network step failed, or no HTTP client was given for it.
    #[error("network error: {reason}")]
    Network {
        /// What failed.
        reason: String,
    },
    /// The wallet provider answered with an error (`error` is its OAuth error code).
    #[error("the wallet provider refused ({endpoint}, HTTP {status})")]
    ProviderRefused {
        /// The endpoint path.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code, when given.
        error: Option<String>,
    },
    /// The wallet provider's answer breaks the protocol, or its attestations do not verify.
    #[error("the wallet provider's answer is not valid: {reason}")]
    ProviderProtocol {
        /// What is wrong.
        reason: String,
    },
    /// The SPID/CIE login did not complete (cancelled, refused, or a redirect not ours).
    #[error("the login did not complete: {reason}")]
    LoginFailed {
        /// Why.
        reason: String,
    },
    /// No login in progress, or the citizen session expired: log in again.
    #[error("log in again: no valid citizen session")]
    SessionExpired,
    /// The wallet is not activated on this device (or has no attestations yet).
    #[error("the wallet is not activated")]
    NotActivated,
    /// The wallet was opened without what this needs (a wallet provider, an HTTP client).
    #[error("not configured: {what}")]
    NotConfigured {
        /// What is missing.
        what: String,
    },
    /// The presentation request is malformed or breaks a rule of OpenID4VP / IT-Wallet
    /// (the scanned URL, the request object: `reason` names the check).
    #[error("the request is not valid: {reason}")]
    InvalidRequest {
        /// The check that failed.
        reason: String,
    },
    /// The relying party could not be trusted: no trust chain to a configured trust anchor,
    /// or its request object is not signed by its registered key.
    #[error("the relying party {client_id} is not trusted: {reason}")]
    UntrustedRelyingParty {
        /// Its `client_id`.
        client_id: String,
        /// Why.
        reason: String,
    },
    /// The citizen's choice does not fit the request (a credential that cannot answer a
    /// query, a required query left out, several credentials where one is allowed).
    #[error("the choice does not fit the request: {reason}")]
    InvalidChoice {
        /// Why.
        reason: String,
    },
    /// The verifier refused the response (HTTP status and its OAuth `error`, when given).
    #[error("the verifier refused the response (HTTP {status})")]
    VerifierRefused {
        /// The HTTP status.
        status: u16,
        /// The verifier's `error`, when given.
        error: Option<String>,
    },
    /// The presentation was already answered (presented or declined).
    #[error("this presentation was already answered")]
    PresentationClosed,
    /// The credential offer is malformed, does not match the issuer's metadata, or has no
    /// grant the wallet can use.
    #[error("the credential offer is not valid: {reason}")]
    InvalidOffer {
        /// The check that failed.
        reason: String,
    },
    /// The transaction code typed does not fit the offer (missing, wrong length, not
    /// numeric): nothing was sent, ask again.
    #[error("the transaction code is {reason}")]
    InvalidTxCode {
        /// Why.
        reason: String,
    },
    /// The credential issuer answered with an error at `stage` (its OAuth / OpenID4VCI
    /// `error`, e.g. `invalid_grant` for a wrong transaction code).
    #[error("the issuer refused ({stage}, HTTP {status})")]
    IssuerRefused {
        /// The step of the issuance.
        stage: IssuanceStage,
        /// The HTTP status.
        status: u16,
        /// The issuer's `error`, when given.
        error: Option<String>,
    },
    /// The credential issuer's answer at `stage` breaks the protocol.
    #[error("the issuer's answer is not valid ({stage}): {reason}")]
    IssuerProtocol {
        /// The step of the issuance.
        stage: IssuanceStage,
        /// What is wrong.
        reason: String,
    },
    /// The issuer refused to authorize the issuance: it sent the wallet back with an OAuth
    /// `error` (`access_denied`: the login failed or the citizen is not in its registry),
    /// or refused the PID presented to it (its OpenID4VP `error`), at `stage`.
    #[error("the issuer did not authorize the issuance ({stage}): {error}")]
    AuthorizationDenied {
        /// [`IssuanceStage::Authorization`] or [`IssuanceStage::Presentation`].
        stage: IssuanceStage,
        /// The issuer's `error`.
        error: String,
    },
    /// An issuance session was called out of order (`authorize` on a pre-authorized offer,
    /// `present_pid` before the issuer asked for the PID, a call while another runs): the
    /// session is unchanged; `next_step` says what it waits for.
    #[error("{call} is out of order: the issuance waits for {waiting_for}")]
    IssuanceOutOfOrder {
        /// The call made.
        call: String,
        /// What the session waits for.
        waiting_for: String,
    },
    /// The issuance was already accepted (or the PID presentation declined), or the deferred
    /// issuance already finished (or lost after a failed poll: start again from a new offer).
    #[error("this issuance is over")]
    IssuanceClosed,
    /// A bug in the wallet; please report it.
    #[error("internal error: {reason}")]
    Internal {
        /// What.
        reason: String,
    },
}

#[uniffi::export]
impl WalletError {
    /// A stable, lower-case code for this kind of error (`credential_not_found`, ...).
    pub fn code(&self) -> String {
        match self {
            Self::Storage { .. } => "storage",
            Self::StorageLocked => "storage_locked",
            Self::CredentialNotFound { .. } => "credential_not_found",
            Self::InvalidCredential { .. } => "invalid_credential",
            Self::UntrustedIssuer { .. } => "untrusted_issuer",
            Self::KeyMismatch { .. } => "key_mismatch",
            Self::KeyNotFound { .. } => "key_not_found",
            Self::UserCancelled => "user_cancelled",
            Self::KeyStoreFailed { .. } => "key_store_failed",
            Self::NoSuchClaim { .. } => "no_such_claim",
            Self::InvalidArgument { .. } => "invalid_argument",
            Self::Network { .. } => "network",
            Self::ProviderRefused { .. } => "provider_refused",
            Self::ProviderProtocol { .. } => "provider_protocol",
            Self::LoginFailed { .. } => "login_failed",
            Self::SessionExpired => "session_expired",
            Self::NotActivated => "not_activated",
            Self::NotConfigured { .. } => "not_configured",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::UntrustedRelyingParty { .. } => "untrusted_relying_party",
            Self::InvalidChoice { .. } => "invalid_choice",
            Self::VerifierRefused { .. } => "verifier_refused",
            Self::PresentationClosed => "presentation_closed",
            Self::InvalidOffer { .. } => "invalid_offer",
            Self::InvalidTxCode { .. } => "invalid_tx_code",
            Self::IssuerRefused { .. } => "issuer_refused",
            Self::IssuerProtocol { .. } => "issuer_protocol",
            Self::AuthorizationDenied { .. } => "authorization_denied",
            Self::IssuanceOutOfOrder { .. } => "issuance_out_of_order",
            Self::IssuanceClosed => "issuance_closed",
            Self::Internal { .. } => "internal",
        }
        .to_owned()
    }

    /// The message to show a user (English).
    pub fn user_message(&self) -> String {
        self.to_string()
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for WalletError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Internal { reason: format!("foreign callback failed: {}", e.reason) }
    }
}

impl From<KeyStoreError> for WalletError {
    fn from(e: KeyStoreError) -> Self {
        match e {
            KeyStoreError::KeyNotFound { tag } => Self::KeyNotFound { tag },
            KeyStoreError::UserCancelled => Self::UserCancelled,
            KeyStoreError::Unavailable { reason } | KeyStoreError::Unsupported { reason } => Self::KeyStoreFailed { reason },
        }
    }
}

impl From<StoreError> for WalletError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => Self::CredentialNotFound { id },
            StoreError::WrongKey | StoreError::Tampered(_) => Self::StorageLocked,
            other => Self::Storage { reason: other.to_string() },
        }
    }
}

impl From<SdJwtError> for WalletError {
    fn from(e: SdJwtError) -> Self {
        match e {
            SdJwtError::NoSuchClaim(path) => Self::NoSuchClaim { path },
            SdJwtError::Sign(reason) => Self::KeyStoreFailed { reason },
            SdJwtError::Randomness(reason) => Self::Internal { reason },
            other => Self::InvalidCredential { rule: other.to_string() },
        }
    }
}

impl From<VcError> for WalletError {
    fn from(e: VcError) -> Self {
        match e {
            VcError::SdJwt(e) => e.into(),
            other => Self::InvalidCredential { rule: other.to_string() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_store_errors_map() {
        assert_eq!(WalletError::from(StoreError::NotFound("ab".into())), WalletError::CredentialNotFound { id: "ab".into() });
        assert_eq!(WalletError::from(StoreError::WrongKey).code(), "storage_locked");
        assert_eq!(WalletError::from(SdJwtError::NoSuchClaim("a.b".into())).code(), "no_such_claim");
        assert_eq!(WalletError::from(KeyStoreError::UserCancelled), WalletError::UserCancelled);
    }
}
