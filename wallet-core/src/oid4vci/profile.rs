//! What the issuance flow emits per IT-Wallet profile (versions note §1 and §5, "Issuer"):
//! the wallet-facing OpenID4VCI flow is the same in 1.3.3 and 1.4.0, and both profiles accept
//! the same input; what changes is what an issuer offers and serves.
//!
//! | Emitted | 1.3 | 1.4 |
//! |---|---|---|
//! | offer `authorization_code.scope` | always | always (1.4 SDKs drop it, 1.3 ones require it) |
//! | offer `pre-authorized_code` (+ `tx_code`) | never | when configured |
//! | signed issuer metadata (`Accept: application/jwt`) | optional | MUST |
//!
//! The WAA/WUA payload differences (`eudi_wallet_info`) belong to [`crate::attestation`];
//! the status value of ATTRIBUTE_UPDATE to [`crate::status`].

use crate::oid4vp::Profile;

/// `typ` of signed issuer metadata (1.4, versions note §1).
pub const ISSUER_METADATA_JWT_TYP: &str = "openidvci-issuer-metadata+jwt";

/// Issuance behaviour of a [`Profile`].
pub trait IssuanceProfile {
    /// Whether the issuer may offer a pre-authorized code (1.4 only, versions note §5 item 5).
    fn offers_pre_authorized_code(self) -> bool;
    /// Whether the issuer must serve its metadata as a signed JWT on `Accept:
    /// application/jwt` (1.4, PR #1004).
    fn requires_signed_metadata(self) -> bool;
    /// Whether a wallet of this profile requires `scope` in an offer's authorization-code
    /// grant (1.3 SDKs reject offers without it).
    fn wallet_requires_offer_scope(self) -> bool;
}

impl IssuanceProfile for Profile {
    fn offers_pre_authorized_code(self) -> bool {
        matches!(self, Profile::ItWallet14)
    }
    fn requires_signed_metadata(self) -> bool {
        matches!(self, Profile::ItWallet14)
    }
    fn wallet_requires_offer_scope(self) -> bool {
        matches!(self, Profile::ItWallet13)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_switches() {
        assert!(Profile::ItWallet14.offers_pre_authorized_code());
        assert!(!Profile::ItWallet13.offers_pre_authorized_code());
        assert!(Profile::ItWallet14.requires_signed_metadata());
        assert!(!Profile::ItWallet13.requires_signed_metadata());
        assert!(Profile::ItWallet13.wallet_requires_offer_scope());
        assert!(!Profile::ItWallet14.wallet_requires_offer_scope());
    }
}
