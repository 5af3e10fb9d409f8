//! OpenID for Verifiable Presentations 1.0 as IT-Wallet 1.3 and 1.4 profile it (§5.1 remote
//! flow, §8 mandatory checks): one module tree for both sides, no I/O.
//!
//! * [`client_id`]: `openid_federation:` and `x509_hash:` client identifiers.
//! * [`request_url`]: the `openid4vp://` / `haip-vp://` / `https` invocation URL, request by
//!   value or by reference, the `request_uri` POST body (`wallet_metadata`, `wallet_nonce`).
//! * [`dcql`]: the Digital Credentials Query Language (§6), validation, and the one matcher
//!   the wallet (what can answer, what would be disclosed) and the verifier (does the
//!   response answer the query, and no more) both use.
//! * [`profile`]: [`Profile`] `it-wallet-1.3` / `it-wallet-1.4`: what differs is what we
//!   emit; we accept both.
//!
//! Replay: a nonce, `state`, `request_uri` or `response_code` used once is the verifier
//! service's to remember (it has the database); this crate checks that a response carries the
//! values of its session, not that the session is fresh.

pub mod client_id;
pub mod dcql;
pub mod profile;
pub mod request_url;

pub use client_id::{ClientId, ClientIdError, ClientIdKind};
pub use profile::Profile;
pub use request_url::{AuthorizationRequestUrl, RequestRef, RequestUriMethod, RequestUriPost, RequestUrlError, WalletInvocation, WalletMetadata, WalletNonce};
pub mod metadata;
pub mod request_object;
pub mod response;
pub mod verify;

pub use metadata::VerifierMetadata;
pub use response::{AuthorizationResponse, ErrorResponse, PostedResponse, ResponseError, ResponseUriAnswer, VpToken, WalletErrorCode, decrypt_response};
pub use verify::{PresentationContext, Refusal, ResponseExpectation, Verdict, VerifiedPresentation, VerifiedResponse, verify_presentation, verify_response};
pub use request_object::{ParsedRequestObject, RequestObjectBuilder, RequestObjectError, SigningHeader, VerifiedRequest, VerifyContext};

#[cfg(test)]
pub(crate) mod testing;
