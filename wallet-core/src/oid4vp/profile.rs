//! The IT-Wallet version a deployment speaks (versions note §5: "be liberal on input in both
//! profiles and switch only what you emit").

/// An IT-Wallet profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// IT-Wallet 1.3.x (1.3.3).
    ItWallet13,
    /// IT-Wallet 1.4.x (the default).
    #[default]
    ItWallet14,
}

impl Profile {
    /// `it-wallet-1.3` / `it-wallet-1.4`, as configuration files name them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ItWallet13 => "it-wallet-1.3",
            Self::ItWallet14 => "it-wallet-1.4",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "it-wallet-1.3" | "1.3" => Some(Self::ItWallet13),
            "it-wallet-1.4" | "1.4" => Some(Self::ItWallet14),
            _ => None,
        }
    }

    /// Whether `mso_mdoc` is requested (DCQL) and advertised (`vp_formats_supported`): 1.4
    /// only (versions note §5, verifier item 6).
    pub fn offers_mdoc(self) -> bool {
        matches!(self, Self::ItWallet14)
    }

    /// Which key the wallet encrypts its response to, with a federation `client_id`: 1.3
    /// wallets take the Entity Configuration's `openid_credential_verifier.jwks` and ignore
    /// `client_metadata`; 1.4 wallets prefer `client_metadata.jwks` and fall back to the EC
    /// (versions note §2). `true` = prefer `client_metadata`.
    pub fn prefers_client_metadata_keys(self) -> bool {
        matches!(self, Self::ItWallet14)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in [Profile::ItWallet13, Profile::ItWallet14] {
            assert_eq!(Profile::parse(p.as_str()), Some(p));
        }
        assert_eq!(Profile::default(), Profile::ItWallet14);
        assert_eq!(Profile::parse("1.0"), None);
    }
}
