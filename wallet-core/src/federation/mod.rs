//! OpenID Federation 1.0 (draft 48): entity statements, trust chains, metadata policy,
//! constraints and trust marks, as IT-Wallet 1.4 §1 uses them for every trust decision.

pub mod policy;

pub use policy::{MetadataPolicy, ParamPolicy, PolicyError};
