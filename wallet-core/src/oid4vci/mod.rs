//! OpenID for Verifiable Credential Issuance 1.0 as IT-Wallet 1.3 and 1.4 profile it (§3
//! issuance, §4 formats, §6 status, §8 mandatory checks): one typed model and one set of
//! checks, used by the issuer service and by the wallet. No I/O: the caller sends the
//! requests these values describe, and keeps the state that needs a database (used `jti`s,
//! issued codes and nonces).
//!
//! Wallet side (CLI, mobile bindings), IT-Wallet §3.3:
//! 1. [`OfferUrl::parse`] (scanned) → [`CredentialOffer::validate`] →
//!    [`CredentialOffer::check_against`] the [`CredentialIssuerMetadata`] (itself
//!    [`CredentialIssuerMetadata::validate`]d, or [`CredentialIssuerMetadata::verify_signed`])
//!    and the [`AuthorizationServerMetadata::validate`]d server.
//! 2. [`ParRequestBuilder::build`] (request object signed by the WAA key) +
//!    [`client_attestation_headers`] → [`ParResponse::parse`] → [`AuthorizeRequest::to_url`]
//!    (browser) → [`AuthorizationResponse::parse`] + [`AuthorizationResponse::check`].
//! 3. [`TokenRequest`] + [`dpop_proof`] + client attestation headers →
//!    [`TokenResponse::parse`].
//! 4. `/nonce` ([`NonceResponse`]) → [`key_proof`] per key (WUA in `key_attestation`) →
//!    [`CredentialRequest::by_identifier`] + [`dpop_proof`] with the access token →
//!    [`CredentialResponse::parse`] → (deferred: [`DeferredCredentialRequest`]) →
//!    [`NotificationRequest`].
//!
//! Issuer side (the `issuer` service):
//! * PAR: [`verify_client_attestation`] → [`ParRequest::parse_form`] → [`verify_par`] →
//!   [`VerifiedPar::check_against`] → [`ParResponse::issue`] (store `request_uri`, single use,
//!   bound to the client; remember the request object's and PoP's `jti`).
//! * Token: [`verify_client_attestation`] → [`TokenRequest::parse_form`] → the stored
//!   [`CodeBinding::verify`] (client, `redirect_uri`, PKCE; or [`token::check_tx_code`], or
//!   [`verify_token`] of the refresh token + [`VerifiedToken::check_dpop`]) →
//!   [`verify_dpop`] → [`TokenClaims::new`] with `cnf.jkt` = [`VerifiedDpop::jkt`]
//!   ([`TokenClaims::refresh_token`], [`TokenClaims::refreshed_access`]) →
//!   [`TokenClaims::sign`] (remember the DPoP `jti`).
//! * Credential: [`verify_token`] → [`verify_dpop`] with the access token →
//!   [`VerifiedToken::check_dpop`] → [`VerifiedToken::require_first_issuance_allowed`] →
//!   [`CredentialRequest::parse_json`] → [`CredentialRequest::authorize`] → [`verify_proofs`]
//!   (then the status of each WUA) → issue → [`CredentialResponse`].
//!
//! Every check returns an error enum whose `code()` gives the [`ErrorCode`] to answer with.
//!
//! Modules:
//! * [`offer`]: credential offers (`openid-credential-offer://`, `haip-vci://`), by value
//!   and by reference.
//! * [`metadata`]: credential issuer and authorization server metadata, checked.
//! * [`par`]: PAR with a request object signed by the WAA key, client attestation headers,
//!   `/authorize`, the authorization response.
//! * [`dpop`]: DPoP proofs (RFC 9449), build and verify.
//! * [`pkce`]: PKCE `S256` (RFC 7636).
//! * [`token`]: token requests (authorization code, pre-authorized code, refresh) and
//!   responses, `authorization_details`.
//! * [`access_token`]: the `at+jwt` / `rt+jwt` the authorization server issues and checks.
//! * [`credential`]: `/nonce`, credential request and response (immediate or deferred),
//!   deferred request, notification.
//! * [`nonce`]: `c_nonce`s checked without a lookup (authenticated, expiring).
//! * [`proof`]: key proofs (`openid4vci-proof+jwt`) with the WUA in `key_attestation`.
//! * [`requests`]: the wallet's HTTP requests as values (headers per §3.3), metadata URLs.
//! * [`profile`]: what 1.3 and 1.4 emit ([`IssuanceProfile`] on [`Profile`]; both accept
//!   the same input).
//! * [`error`]: the OAuth / OpenID4VCI [`ErrorCode`]s every check maps to, and the
//!   [`ErrorResponse`] body.

pub mod access_token;
pub mod credential;
pub mod dpop;
pub mod error;
mod form;
pub mod metadata;
pub mod nonce;
pub mod offer;
pub mod par;
pub mod pkce;
pub mod profile;
pub mod proof;
pub mod requests;
pub mod token;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

pub use access_token::{JktCnf, TokenClaims, TokenError, TokenExpectation, TokenKind, VerifiedToken, verify_token};
pub use crate::attestation::{ClientAttestationContext, ClientAttestationHeaders, client_attestation_headers};
pub use credential::{
    AuthorizedRequest, CredentialRequest, CredentialRequestError, CredentialResponse, DeferredCredentialRequest, IssuedCredential, NonceResponse,
    NotificationError, NotificationEvent, NotificationRequest,
};
pub use dpop::{DpopClaims, DpopError, DpopExpectation, VerifiedDpop, dpop_proof, verify_dpop};
pub use error::{ErrorCode, ErrorResponse, MessageError};
pub use metadata::{AuthorizationServerMetadata, CredentialConfiguration, CredentialIssuerMetadata, MetadataError};
pub use nonce::{NonceError, NonceKey};
pub use offer::{CredentialOffer, OfferError, OfferRef, OfferScheme, OfferUrl};
pub use par::{
    AuthorizationResponse, AuthorizeRequest, ParError, ParExpectation, ParRequest, ParRequestBuilder, ParResponse, PendingAuthorization, VerifiedPar,
    verify_client_attestation, verify_par,
};
pub use pkce::{CodeChallenge, CodeVerifier, PkceError};
pub use crate::oid4vp::Profile;
pub use profile::IssuanceProfile;
pub use proof::{ProofError, ProofExpectation, VerifiedProofs, key_proof, verify_proofs};
pub use token::{AuthorizationDetail, CodeBinding, TokenRequest, TokenRequestError, TokenResponse, TokenResponseError};

use crate::is_https_or_loopback;
use crate::jose::Signer;

/// `key` with its `kid` hidden: DPoP and key proofs carry `jwk` instead (OpenID4VCI §F.1
/// "kid MUST NOT be present if jwk is").
fn no_kid(key: &dyn Signer) -> crate::jose::WithoutKid<'_> {
    crate::jose::WithoutKid(key)
}

/// A fresh `jti` (256 random bits, base64url).
fn random_jti() -> Result<String, getrandom::Error> {
    form::random_token()
}
