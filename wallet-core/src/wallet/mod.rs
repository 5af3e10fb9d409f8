//! The flows a phone app calls. For now: wallet activation (IT-Wallet 1.4 §2), in
//! [`WalletActivation`]:
//!
//! 1. [`WalletActivation::start_login`] → [`PendingLogin::url`]: open it in a browser; the
//!    wallet provider runs the SPID/CIE login with its OpenID Provider.
//! 2. [`WalletActivation::finish_login`] with the redirect back to the app → [`CitizenSession`]
//!    (bound to the citizen's fiscal number).
//! 3. [`WalletActivation::activate`] = [`WalletActivation::register`] (hardware key in the
//!    [`crate::keystore::KeyStore`], `GET /nonce`, registration with the key attestation) +
//!    [`WalletActivation::obtain_attestations`] (ephemeral WAA key, attestation request, WAA
//!    and WUA verified and kept in the sealed [`InstanceStore`]).
//! 4. [`WalletActivation::wallet_app_attestation`] renews the WAA when it expires;
//!    [`WalletActivation::client_attestation_headers`] gives `OAuth-Client-Attestation` and
//!    `OAuth-Client-Attestation-PoP` for issuers.
//! 5. [`WalletActivation::list_instances`], [`WalletActivation::revoke_instance`] (a lost phone).
//!
//! 6. [`WalletIssuance`] (IT-Wallet 1.4 §3.3, §8; [`issuance`]): an offer (or, wallet-initiated,
//!    an issuer and the configurations wanted) → the issuer's metadata and trust chain → an
//!    [`IssuanceConsent`] → `accept` (pre-authorized code) or `authorize` (authorization code:
//!    PAR, `/authorize`, the citizen's login in the browser ([`BrowserStep`]) or a PID
//!    presentation) → token with DPoP, nonce, proofs with the WUA, credential, deferred
//!    polling → each credential verified before it is stored encrypted → notification.
//! 7. [`WalletPresentation`] (IT-Wallet 1.4 §5.1; [`presentation`]): a request URL → the RP's
//!    trust chain, the verified request object, the RP evaluated → a consent → present or
//!    decline → what the `response_uri` answered (its `redirect_uri`), logged.
//!
//! The protocol steps are also available as pure request builders and response parsers
//! ([`login`], [`activation`]); HTTP goes through the [`HttpClient`] seam, with a blocking
//! reqwest client (`http::ReqwestHttpClient`) behind the `http` cargo feature (off by
//! default, so that the phone build does not carry it: the app passes its own client).

pub mod activation;
pub mod certificate;
mod error;
pub mod http;
pub mod instance;
pub mod issuance;
pub mod login;
pub mod presentation;
pub mod query;
pub mod status;
pub mod trust_marks;
pub mod update;

pub use activation::{Attestations, WalletActivation};
pub use error::WalletError;
pub use status::{StatusCheck, StatusReport, WalletStatusRefresh};
pub use trust_marks::TrustMarkEvidence;
pub use update::{AttributeUpdate, ClaimChange, UpdateConsent};
pub use http::{HttpClient, HttpError, HttpMethod, HttpRequest, HttpResponse};
pub use instance::{InstanceRecord, InstanceStore};
pub use issuance::{
    AuthorizationStep, BrowserAuthorization, BrowserError, BrowserStep, IssuanceConsent, IssuanceError, IssuanceKeys, IssuanceOutcome, IssuanceSession,
    PresentationAuthorization, WalletIssuance,
};
pub use login::{CitizenSession, LoginCode, PendingLogin};
pub use presentation::{PresentationError, PresentationOutcome, PresentationSession, StoredHolderKeys, WalletPresentation};

#[cfg(test)]
mod tests;
