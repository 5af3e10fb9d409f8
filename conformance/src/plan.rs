//! The four test plans and which matrix rows each answers for (issue 13; IT-Wallet test plans).
//!
//! | plan | matrix rows |
//! |---|---|
//! | `rp` | `RPR` (remote credential verifier) |
//! | `issuer` | `CI` (credential issuer) |
//! | `federation` | `FA` (federation authority), `ATT` (signature evaluation), `ALL` (trust evaluation) |
//! | `wallet-provider` | `WP` |
//!
//! `PPR` (proximity verifier, ISO 18013-5) belongs to no plan yet: proximity comes later.

use std::fmt;
use std::str::FromStr;

use crate::matrix::Row;

/// A test plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Plan {
    /// A relying party (an OpenID4VP verifier).
    Rp,
    /// A credential issuer (OpenID4VCI).
    Issuer,
    /// A federation authority (trust anchor or intermediate).
    Federation,
    /// A wallet provider's backend.
    WalletProvider,
}

impl Plan {
    /// Every plan.
    pub const ALL: [Plan; 4] = [Plan::Rp, Plan::Issuer, Plan::Federation, Plan::WalletProvider];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rp => "rp",
            Self::Issuer => "issuer",
            Self::Federation => "federation",
            Self::WalletProvider => "wallet-provider",
        }
    }

    /// The matrices (the TSV's first column) this plan answers for.
    pub fn matrices(self) -> &'static [&'static str] {
        match self {
            Self::Rp => &["RPR"],
            Self::Issuer => &["CI"],
            Self::Federation => &["FA", "ATT", "ALL"],
            Self::WalletProvider => &["WP"],
        }
    }

    /// Whether `row` is one of this plan's.
    pub fn covers(self, row: &Row) -> bool {
        self.matrices().contains(&row.matrix.as_str())
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plan name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown plan `{0}` (rp, issuer, federation, wallet-provider)")]
pub struct UnknownPlan(pub String);

impl FromStr for Plan {
    type Err = UnknownPlan;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| UnknownPlan(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::matrix::Matrix;

    #[test]
    fn names_round_trip() {
        for p in Plan::ALL {
            assert_eq!(p.as_str().parse::<Plan>().unwrap(), p);
        }
        assert_eq!("wallet".parse::<Plan>().unwrap_err(), UnknownPlan("wallet".into()));
    }

    #[test]
    fn every_row_but_proximity_has_one_plan() {
        for row in Matrix::embedded().rows() {
            let plans = Plan::ALL.iter().filter(|p| p.covers(row)).count();
            assert_eq!(plans, usize::from(row.matrix != "PPR"), "{}", row.id);
        }
    }
}
