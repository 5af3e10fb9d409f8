//! OpenID for Verifiable Presentations 1.0 as IT-Wallet 1.3 and 1.4 profile it (§5.1 remote
//! flow, §8 mandatory checks): one module tree for both sides, no I/O.
//!
//! Verifier side (the `verifier` service):
//! 1. [`dcql::DcqlQuery`] (built, [`dcql::DcqlQuery::validate`]d) →
//!    [`request_object::RequestObjectBuilder::sign`] with a [`request_object::SigningHeader`]
//!    (`x5c`, `trust_chain`) → [`request_url::AuthorizationRequestUrl::by_reference`] (QR
//!    code / link); `POST request_uri` bodies through [`request_url::RequestUriPost::parse_form`]
//!    (echo its `wallet_nonce`).
//! 2. `POST response_uri`: [`response::PostedResponse::parse_form`] →
//!    [`verify::verify_response`] (decrypt by `kid`, `state`, every presentation with
//!    [`verify::verify_presentation`], the query satisfied and nothing more) →
//!    [`verify::Verdict`]; answer with [`response::ResponseUriAnswer`]. A verifier that must
//!    read `state` to find its session decrypts once ([`response::decrypt_response`]) and
//!    calls [`verify::verify_decrypted`] with a [`verify::SessionExpectation`] (what
//!    `verify_response` does after decrypting). The verdict's parts display and serialize
//!    without Debug text: [`verify::Refusal`] (`Display`), [`verify::IssuerTrustPath`] and
//!    [`verify::StatusOutcome`] (`Serialize`, `as_str`).
//!
//! Wallet side (CLI, mobile bindings):
//! 1. [`consent::PresentationFlow::start`] (the scanned URL) →
//!    [`consent::PresentationFlow::request_object_request`] (send it) →
//!    [`consent::PresentationFlow::on_request_object`] → [`request_object::VerifiedRequest`]
//!    (every §5.1/§8 wallet check).
//! 2. [`consent::evaluate_rp`] → [`consent::ConsentRequest::from_store`] → show it →
//!    [`consent::ConsentRequest::present`] or [`consent::ConsentRequest::decline`] (send the
//!    request; both logged) → [`response::ResponseUriAnswer::parse`] (same-device redirect).
//!
//! Modules: [`client_id`] (`openid_federation:`, `x509_hash:`), [`request_url`],
//! [`request_object`], [`metadata`] (`openid_credential_verifier` / `client_metadata`),
//! [`dcql`] (query + the one matcher of both sides), [`response`], [`verify`], [`consent`],
//! [`profile`] ([`Profile`]: `it-wallet-1.3` / `it-wallet-1.4`; what differs is what we emit
//! and which response key a wallet prefers; both are accepted on input).
//!
//! Replay: a nonce, `state`, `request_uri` or `response_code` used once is the verifier
//! service's to remember (it has the database); this crate checks that a response carries the
//! values of its session, not that the session is fresh. mdoc (`mso_mdoc`) is parsed and
//! matched in DCQL but not presented or verified yet.

pub mod client_id;
pub mod consent;
pub mod dcql;
pub mod metadata;
pub mod profile;
pub mod request_object;
pub mod request_url;
pub mod response;
pub mod verify;

pub use client_id::{ClientId, ClientIdError, ClientIdKind};
pub use consent::{ConsentChoice, ConsentError, ConsentRequest, PreparedResponse, PresentationFlow, RpEvaluation, evaluate_rp};
pub use metadata::VerifierMetadata;
pub use profile::Profile;
pub use request_object::{ParsedRequestObject, RedirectRule, RequestObjectBuilder, RequestObjectError, SigningHeader, VerifiedRequest, VerifyContext};
pub use request_url::{AuthorizationRequestUrl, RequestRef, RequestUriMethod, RequestUriPost, RequestUrlError, WalletInvocation, WalletMetadata, WalletNonce};
pub use response::{AuthorizationResponse, ErrorResponse, PostedResponse, ResponseError, ResponseUriAnswer, VpToken, WalletErrorCode, decrypt_response, response_kid};
pub use verify::{
    PresentationContext, Refusal, ResponseExpectation, SessionExpectation, Verdict, VerifiedPresentation, VerifiedResponse, verify_decrypted, verify_presentation,
    verify_response,
};

#[cfg(test)]
pub(crate) mod testing;
