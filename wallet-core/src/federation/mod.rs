//! OpenID Federation 1.0 (draft 48): entity statements, trust chains, metadata policy,
//! constraints and trust marks, as IT-Wallet 1.4 §1 uses them for every trust decision.
//!
//! Sans-IO: [`chain::validate`] takes the statements of a chain (collected by whoever does
//! the HTTP, or carried in a `trust_chain` JWS header) and the trust anchor's configured keys,
//! and returns the resolved metadata or the rule that failed.

pub mod chain;
pub mod collect;
pub mod entity;
pub mod memo;
pub mod policy;
pub mod resolver;
pub mod trust_mark;

pub use chain::{TrustAnchorConfig, ValidatedChain};
pub use collect::{AsyncFetcher, ChainCache, ChainCollector, FetchFuture, Fetcher, fetch_url};
pub use memo::ChainMemo;
pub use entity::{Constraints, EntityId, EntityStatement, MAX_CLOCK_SKEW, NamingConstraints, ParsedStatement, TrustMarkRef};
pub use policy::{MetadataPolicy, ParamPolicy, PolicyError};
pub use resolver::TrustChainResolver;

use crate::jose::JoseError;

/// Why a statement, a chain or a trust mark was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FederationError {
    /// Not a valid Entity Identifier.
    #[error("invalid entity identifier `{id}`: {reason}")]
    InvalidEntityId {
        /// The value.
        id: String,
        /// Why.
        reason: String,
    },
    /// The JWT is not a valid JWS.
    #[error("{0}")]
    Jose(JoseError),
    /// `typ` is not the one required.
    #[error("wrong typ {0:?}")]
    WrongTyp(Option<String>),
    /// No `kid` in the header.
    #[error("statement header has no kid")]
    MissingKid,
    /// A claim is missing or malformed.
    #[error("invalid `{claim}`: {reason}")]
    InvalidClaim {
        /// The claim.
        claim: &'static str,
        /// Why.
        reason: String,
    },
    /// A claim in the wrong kind of statement (e.g. `authority_hints` in a Subordinate Statement).
    #[error("`{claim}` not allowed in this kind of statement (sub {sub})")]
    MisplacedClaim {
        /// The claim.
        claim: &'static str,
        /// The statement's subject.
        sub: String,
    },
    /// A `crit` claim we do not understand.
    #[error("unsupported critical claim `{0}`")]
    UnsupportedCrit(String),
    /// The signing `kid` is not among the keys that must have signed (not pinned by the superior).
    #[error("signing key {kid} is not among the keys the superior attests")]
    KeyNotFound {
        /// The `kid`.
        kid: String,
    },
    /// The signature does not verify.
    #[error("signature of the statement issued by {iss} invalid")]
    BadSignature {
        /// The issuer.
        iss: String,
    },
    /// A chain with no statement.
    #[error("empty trust chain")]
    EmptyChain,
    /// Longer than allowed.
    #[error("trust chain longer than {0} statements")]
    ChainTooLong(usize),
    /// Statement `index` is expired or not yet valid.
    #[error("statement {index} not valid at {now} (iat {iat}, exp {exp})")]
    OutsideValidity {
        /// Position in the chain.
        index: usize,
        /// `iat`.
        iat: i64,
        /// `exp`.
        exp: i64,
        /// The check's time.
        now: i64,
    },
    /// `ES[j].iss != ES[j+1].sub`, or the first statement is not a configuration.
    #[error("broken link at statement {index}: {reason}")]
    BrokenLink {
        /// Position.
        index: usize,
        /// Which rule.
        reason: String,
    },
    /// The superior is not in the subject's `authority_hints`.
    #[error("{superior} is not in the authority_hints of {subject}")]
    NotAnAuthorityHint {
        /// The superior.
        superior: String,
        /// The subject.
        subject: String,
    },
    /// The chain does not end at the configured trust anchor.
    #[error("chain ends at {got}, not at the trust anchor {expected}")]
    WrongTrustAnchor {
        /// The configured anchor.
        expected: String,
        /// The chain's top.
        got: String,
    },
    /// `max_path_length` exceeded.
    #[error("max_path_length {max} of statement {index} exceeded")]
    MaxPathLength {
        /// Position of the constraining statement (the trust anchor's configuration counts as
        /// the one after the last Subordinate Statement).
        index: usize,
        /// The constraint.
        max: u32,
    },
    /// An entity id outside `naming_constraints`.
    #[error("{entity} violates the naming_constraints of statement {index}")]
    NamingConstraint {
        /// The entity.
        entity: String,
        /// Position of the constraining statement (as for [`Self::MaxPathLength`]).
        index: usize,
    },
    /// Metadata policy failure.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A trust mark was refused.
    #[error("trust mark: {0}")]
    TrustMark(String),
    /// Fetching failed (network layer).
    #[error("fetch {url}: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

impl FederationError {
    /// The OAuth-style error code of draft 48 §8.9 for this refusal.
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::Policy(PolicyError::InvalidMetadata(_)) => "invalid_metadata",
            Self::InvalidEntityId { .. } => "invalid_request",
            Self::WrongTrustAnchor { .. } => "invalid_trust_anchor",
            Self::Fetch { .. } => "temporarily_unavailable",
            _ => "invalid_trust_chain",
        }
    }
}
