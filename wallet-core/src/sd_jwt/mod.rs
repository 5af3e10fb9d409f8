//! SD-JWT (RFC 9901) (in progress).

mod resolver;
pub use resolver::{IssuerKeyResolver, KeyResolutionError, StaticKeyResolver};
