//! The test cases of each plan.

pub mod entity;
pub mod federation;
pub mod issuer;
pub mod jwt;
pub mod rp;
pub mod wallet_provider;

use crate::case::Case;
use crate::plan::Plan;

/// The cases of `plan`, in matrix order.
pub fn cases(plan: Plan) -> &'static [Case] {
    match plan {
        Plan::Federation => federation::CASES,
        Plan::WalletProvider => wallet_provider::CASES,
        Plan::Issuer => issuer::CASES,
        Plan::Rp => rp::CASES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;

    #[test]
    fn every_case_is_a_row_of_its_plan_and_appears_once() {
        let mut seen = std::collections::BTreeSet::new();
        for plan in Plan::ALL {
            for c in cases(plan) {
                assert_eq!(c.plan, plan, "{}", c.id);
                let row = Matrix::embedded().get(c.id);
                assert!(row.is_some_and(|r| plan.covers(r)), "{} is not a {plan} row", c.id);
                assert!(seen.insert(c.id), "{} twice", c.id);
                assert!(!c.sends.is_empty() && !c.expects.is_empty(), "{}", c.id);
            }
        }
    }
}
