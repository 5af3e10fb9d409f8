//! # mobile-bindings
//!
//! wallet-core for app developers, through uniffi (Kotlin, Swift, Python): a [`Wallet`]
//! opened on a data directory with the app's [`KeyStore`]; credentials imported (verified
//! first: issuer trust from its federation trust chain, SD-JWT VC rules, holder binding),
//! listed with labels and the issuer's name and logo, deleted; SD-JWT presentations with
//! a KB-JWT signed in the app's secure hardware; the transaction log; and activation at
//! the wallet provider (SPID/CIE login, hardware key registration, WAA and WUA); OpenID4VP
//! presentations (the request opened into a consent model, the citizen's choice presented,
//! or declined: [`PresentationSession`]); OpenID4VCI issuance from a credential offer or
//! asked of an issuer ([`IssuanceSession`]: pre-authorized code with its transaction code, or
//! the authorization code flow with the app's [`BrowserStep`] for the SPID/CIE login or the
//! PID presented to the issuer; verified and stored, or deferred).
//!
//! What it refuses: credentials from issuers that no configured trust anchor (or pinned
//! key) vouches for, credentials bound to another key, presentations as imports, signatures
//! from the key store that are not raw `r || s` or do not verify with its public key.
//!
//! Seams (implemented by the app, with software defaults for tests): [`KeyStore`] (secure
//! hardware; [`software_key_store`]), [`HttpClient`] (network steps; optional) and
//! [`BrowserStep`] (the citizen's login in the browser, during an issuance).
//! Network steps are `async` (tokio), everything else is synchronous and may block on the
//! key store's user authentication: call it off the UI thread.
//!
//! Nothing here implements a protocol rule: records, conversions, adapters
//! ([`keystore::ForeignSigner`] is wallet-core's `Signer` over the app's key store) and one
//! error type, [`WalletError`], made from wallet-core's errors in one place.
//!
//! The uniffi scaffolding (`setup_scaffolding!` and the `export` attributes) expands to
//! `extern "C"` functions; the workspace lints (`unsafe_code = "forbid"`, no unwrap/panic)
//! hold for the code written here, and uniffi catches panics at the FFI boundary.
#![warn(missing_docs)]

uniffi::setup_scaffolding!("tessera");

pub mod activation;
pub mod browser;
mod display;
pub mod error;
pub mod http;
pub mod issuance;
pub mod keystore;
pub mod presentation;
pub mod records;
pub mod status;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod wallet;

pub use activation::{ActivationInfo, CitizenInfo, ClientAttestation, InstanceStatus, WalletInstance};
pub use browser::{BrowserError, BrowserStep};
pub use error::WalletError;
pub use http::{HttpClient, HttpError, HttpHeader, HttpRequest, HttpResponse};
pub use issuance::{
    AuthorizationOutcome, DeferredIssuance, IssuanceConsent, IssuanceNextStep, IssuanceOutcome, IssuanceSession, IssuanceStage, IssuerTrust, OfferedCredential, TxCodeInputMode,
    TxCodeRequest,
};
pub use keystore::{KeyStore, KeyStoreError, der_signature_to_raw, jwk_from_public_point, software_key_store};
pub use presentation::{
    CandidateCredential, ConsentRecord, ConsentSelection, ConsentWarning, CredentialRequest, MissingReason, PresentationOutcome, PresentationSession,
    RelyingParty, RelyingPartyTrust, TrustMarkInfo, TrustMarkStatus,
};
pub use records::*;
pub use wallet::{PinnedIssuer, Wallet};

/// This library's version.
#[uniffi::export]
pub fn tessera_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
