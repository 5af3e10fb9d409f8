//! SPID/CIE OpenID Connect, Italian profile (`shared/spec/federation-and-spid-cie-oidc.md` §B):
//! the relying party ([`rp`]) and a test OpenID Provider ([`op`]), both federation entities.
//!
//! * [`rp::RelyingParty`]: discovers OPs through their trust chain, sends signed request
//!   objects with PKCE S256, authenticates with `private_key_jwt`, checks the ID Token, decrypts
//!   and verifies UserInfo, refreshes and revokes.
//! * [`op`]: the provider side of the same profile for development and tests: automatic
//!   registration of RPs by trust chain and trust mark, request-object validation, a login page
//!   listing test identities, tokens, signed-then-encrypted UserInfo, refresh, revocation.
//!
//! Refused everywhere: `none`, HMAC and `RSA1_5`; unsigned or unverifiable request objects;
//! PKCE other than S256; RSA keys under 2048 bits.
//!
//! Seams and choices:
//! * JOSE signing and verification are wallet-core's (`jose::jws`, the [`wallet_core::jose::Signer`]
//!   trait); RSA signing (RS256) and RSA JWE ([`jwe_rsa`]) are here, on aws-lc-rs, because
//!   wallet-core signs ES256 only and its JWE is ECDH-ES only.
//! * The `openidconnect` crate gives PKCE (`PkceCodeChallenge`, `PkceCodeVerifier`). The rest of
//!   its client does not fit this profile: no signed request objects, no `private_key_jwt`
//!   assertion builder, no JWE, no federation discovery (its discovery is
//!   `.well-known/openid-configuration`), and its ID-token verifier runs on a second RustCrypto
//!   stack (`rsa` 0.9, `sha2` 0.10); the profile's checks are written here on wallet-core.
//! * Federation: chains are wallet-core's `federation` module (its async collector) over
//!   service-kit's `OutboundHttp`; an entity's configuration is served by the trust-anchor
//!   crate's router.
//! * Outbound HTTP never blocks a thread: discovery and RP registration use service-kit's
//!   bounded [`service_kit::OutboundHttp`] (timeout per fetch, deadline per request, a bound
//!   on fetches in flight) with wallet-core's async chain collector; the RP's token, UserInfo
//!   and revocation calls use reqwest's async client with a timeout.
//! * Time checks are checked arithmetic in one place ([`time`]); out-of-range claims are refused.
//! * The OP's HTTP surface takes from service-kit: the JSON error form for every framework
//!   rejection, strict extractors, rate limits per client, anti-framing headers.

pub mod claims;
pub mod discovery;
pub mod jwe_rsa;
pub mod jwt;
pub mod keys;
pub mod op;
pub mod rp;
pub mod time;

pub use claims::{Acr, Attribute, ClaimsRequest, PlaceOfBirth, UserInfo};
pub use rp::{LoginOutcome, LoginRequest, RelyingParty, RpConfig, RpError};
