//! JOSE: compact JWS (RFC 7515), JWK (RFC 7517) with RFC 7638 thumbprints, and compact JWE with
//! ECDH-ES (RFC 7516/7518) for `direct_post.jwt` responses.
//!
//! Algorithms follow IT-Wallet 1.4 `algorithms.rst`: ES256/ES384/ES512 MUST, PS256/384/512
//! RECOMMENDED; RS256 is verified for SPID/CIE interop; EdDSA (Ed25519) verified. `none` and
//! every HMAC algorithm are refused at parse time, before any key is looked at.
//!
//! Keys that sign may live outside the process: everything that signs takes a [`Signer`].

pub mod alg;
pub mod b64;
mod backend;
pub mod error;
pub mod jwe;
pub mod jwk;
pub mod jws;
pub(crate) mod json;
pub mod signer;

pub use alg::JwsAlg;
pub use error::JoseError;
pub use jwe::{ContentEncryption, DecryptionKey};
pub use jwk::{EcCurve, Jwk, JwkParams, JwkSet, JwkThumbprint, PrivateJwk};
pub use jws::{CompactJws, HeaderMemo, JwsHeader};
pub use signer::{SignError, Signer, SoftwareSigner, WithoutKid};
