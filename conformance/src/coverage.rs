//! The coverage table (issue 13, "What it must show"): for each plan, every matrix row it
//! answers for is implemented (and whether a fault proves it able to fail), not applicable
//! (with why), later (applicable, but belonging to another issue: why), or not yet.

use std::fmt::Write as _;

use crate::faults;
use crate::matrix::Matrix;
use crate::plan::Plan;
use crate::plans;

/// Rows that no test against a deployment can check, and why: whole sections of the
/// matrix, or single rows.
struct NotApplicable {
    sections: &'static [&'static str],
    ids: &'static [&'static str],
    why: &'static str,
}

/// The wallet provider's rows that test the wallet app rather than its server.
const WALLET_APP: &str = "tests the wallet app's own behaviour on the phone (its UI, keys, storage, the requests it builds), not a server: a wallet test, not this plan's";

static NOT_APPLICABLE: &[NotApplicable] = &[
    NotApplicable { sections: &[], ids: &["FA_013"], why: "key rotation is an operator action during the run; the tool cannot make the authority rotate" },
    NotApplicable { sections: &[], ids: &["FA_019", "ALL-008"], why: "replay detection is a rule of the entity that receives statements; an authority's statements are fetched, never presented to it" },
    NotApplicable {
        sections: &[],
        ids: &["ALL-005"],
        why: "a federation authority holds and exchanges no data about the User: it serves public statements to anyone; where user data flows the rule is tested by the rp plan (RPR-54, RPR-114: a credential from outside the federation is refused) and the issuer plan (CI_029-CI_037: the wallet provider's trust before issuing)",
    },
    NotApplicable {
        sections: &[],
        ids: &["ALL-006"],
        why: "no assertion bound to a key (cnf) is presented to a federation authority: its endpoints are anonymous; proof of possession is tested where it is used (issuer plan: WAA PoP CI_028, DPoP; rp plan: KB-JWT RPR-102-RPR-107)",
    },
    NotApplicable {
        sections: &[
            "Test Cases for Issuance Phase",
            "Test Cases for Presentation Phase",
            "Test Cases for Digital Credential\u{2019}s Backup and Restore",
            "Test Cases for User Attribute Deletion on Relying Party Side",
        ],
        ids: &[
            "WP_013", "WP_014", "WP_015", "WP_016", "WP_017", "WP_018", "WP_021", "WP_022", "WP_024", "WP_025", "WP_026", "WP_027", "WP_132", "WP_132a", "WP_133",
            "WP_133a", "WP_133b", "WP_134", "WP_134a", "WP_139", "WP_140", "WP_140a", "WP_140b", "WP_140c", "WP_140d", "WP_140e", "WP_140f", "WP_141", "WP_142", "WP_149",
        ],
        why: WALLET_APP,
    },
    NotApplicable {
        sections: &[],
        ids: &["WP_005", "WP_006", "WP_007", "WP_007a", "WP_032", "WP_032a", "WP_032b", "WP_034", "WP_034a", "WP_034b"],
        why: "needs a citizen at the provider's portal or app with a second factor, and a human reading the alerts",
    },
    NotApplicable { sections: &[], ids: &["WP_009"], why: "an administrative process (legal authorities), with no protocol to test" },
    NotApplicable { sections: &[], ids: &["WP_011", "WP_040"], why: "needs a real device and its integrity service (Play Integrity, App Attest)" },
    NotApplicable { sections: &[], ids: &["WP_012"], why: "the backend's internal architecture is not observable from outside" },
    NotApplicable {
        sections: &[],
        ids: &["WP_030", "WP_031"],
        why: "the wallet instance's own checks of the attestation it receives (its signature, its issuer's membership of the federation): a wallet test; what the provider signs is WP_019-WP_020 and WP_029a",
    },
    NotApplicable {
        sections: &[],
        ids: &["WP_023"],
        why: "how the wallet instance reads the provider's configuration through the federation API is the wallet's behaviour; the provider's side, its Entity Configuration, is WP_001-WP_004c",
    },
    NotApplicable {
        sections: &[],
        ids: &["WP_038", "WP_039"],
        why: "needs the provider's back end to fail or be taken offline (an unhandled internal error, maintenance): an operator action, not something a wallet can cause",
    },
    NotApplicable {
        sections: &[],
        ids: &["RPR-04", "RPR-06", "RPR-47", "RPR-48", "RPR-74", "RPR-75"],
        why: "scanning a QR code with phones, apps and lighting: needs devices and a camera, not a protocol exchange",
    },
    NotApplicable { sections: &[], ids: &["RPR-05"], why: "readability of a physically damaged QR code needs a printed code and a camera (the error correction level itself is RPR-77)" },
    NotApplicable {
        sections: &[],
        ids: &["RPR-11", "RPR-50", "RPR-51", "RPR-61", "RPR-62"],
        why: "the citizen's consent choices and notifications happen in the wallet's UI, in front of a human",
    },
    NotApplicable {
        sections: &[],
        ids: &["RPR-16", "RPR-46", "RPR-59", "RPR-73"],
        why: "what the RP's pages show a human (retry prompts, cancelling, resuming, timeout notices): needs a person at the RP's front end",
    },
    NotApplicable {
        sections: &[],
        ids: &["RPR-78", "RPR-79", "RPR-80", "RPR-97", "RPR-100"],
        why: "the Wallet Attestation requested through DCQL and presented in vp_token is IT-Wallet 1.0's model: the normative remote flow of 1.3.x and 1.4.x has no such request, and 1.4.0 has the wallet present its Wallet Instance Attestation only to PID and attestation providers, never to relying parties (wallet-solution-requirements.rst): an RP of 1.3/1.4 does not ask for it (spec digests it-wallet.md §7, it-wallet-versions.md)",
    },
    NotApplicable { sections: &[], ids: &["RPR-15"], why: "the RP's logs are internal; nothing observable from outside says what it logged" },
    NotApplicable {
        sections: &[],
        ids: &["RPR-33", "RPR-45", "RPR-58", "RPR-71", "RPR-72"],
        why: "needs the RP's own back end to fail (server errors, unavailable services, broken redirects): an operator action, not something a wallet can cause",
    },
    // The issuer plan (`CI`): what a wallet cannot drive or observe over the protocol.
    NotApplicable {
        sections: &[],
        ids: &["CI_011"],
        why: "how the offer reaches the citizen (a QR code, a button on the issuer's page) is the issuer's front end in front of a human; the offer URL itself is CI_010",
    },
    NotApplicable {
        sections: &[],
        ids: &["CI_046", "CI_051", "CI_052", "CI_053", "CI_057", "CI_110", "CI_111", "CI_116"],
        why: "the citizen's login (SPID/CIE, its level), consent and contact details are given by a human at the identity provider's or the issuer's pages",
    },
    NotApplicable { sections: &[], ids: &["CI_080"], why: "generating a fresh key per credential is the wallet's own behaviour, not the issuer's" },
    NotApplicable {
        sections: &[],
        ids: &["CI_097", "CI_160", "CI_160a", "CI_160b", "CI_188"],
        why: "how the issuer stores refresh tokens and credentials internally is not observable from outside",
    },
    NotApplicable {
        sections: &[],
        ids: &[
            "CI_153", "CI_154", "CI_155", "CI_155a", "CI_155b", "CI_155c", "CI_155d", "CI_155e", "CI_155f", "CI_155g", "CI_156", "CI_157", "CI_158", "CI_158a", "CI_158b",
            "CI_161", "CI_161a", "CI_161b", "CI_163", "CI_164", "CI_168", "CI_169", "CI_170", "CI_172", "CI_173", "CI_174",
        ],
        why: "lifecycle events decided outside the protocol (an operator's revocation or suspension, the authentic source's change, a death, a court order, a breach, a citizen's request at the issuer's service): the tool cannot cause them; what a wallet sees of them is the status list (CI_175-CI_191)",
    },
    NotApplicable {
        sections: &[],
        ids: &["CI_162", "CI_162a", "CI_162b", "CI_162c"],
        why: "the issuer's web portal for citizens, reached with a login at a level of assurance by a human",
    },
    NotApplicable {
        sections: &[],
        ids: &["CI_113", "CI_165", "CI_166", "CI_167", "CI_170a", "CI_171"],
        why: "notifications to the citizen (e-mail, app messages, other channels) reach a human, not a protocol endpoint",
    },
    NotApplicable { sections: &[], ids: &["CI_193"], why: "the issuer's authorization and registration in the catalogue are administrative processes" },
    NotApplicable {
        sections: &[],
        ids: &["CI_194", "CI_195"],
        why: "the credential catalogue is published by the trust framework's registry, not served by the issuer: nothing to ask the issuer",
    },
    NotApplicable {
        sections: &[],
        ids: &["CI_103", "CI_107"],
        why: "the wallet's own behaviour: which DPoP key it signs its credential requests with, which issuer it asks for a re-issuance",
    },
    NotApplicable {
        sections: &[],
        ids: &["CI_109"],
        why: "why a credential is re-issued (a data model change, a change of the citizen's attributes) is decided by the issuer and its authentic source, not by a request",
    },
];

/// Rows that apply to a deployment but belong to a later issue, and why (issue 13: "Not in
/// this issue: ... mdoc checks").
struct Later {
    ids: &'static [&'static str],
    why: &'static str,
}

static LATER: &[Later] = &[Later {
    ids: &[
        "CI_137", "CI_138", "CI_139", "CI_140", "CI_141", "CI_142", "CI_143", "CI_144", "CI_145", "CI_146", "CI_147", "CI_147a", "CI_148", "CI_148a", "CI_149", "CI_150",
    ],
    why: "mso_mdoc credentials come with the mdoc issue (issue 13 leaves mdoc checks out)",
}];

/// A row's status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// A test exists; `proven` when a fault of [`faults::FAULTS`] makes it fail.
    Implemented {
        /// Proven able to fail.
        proven: bool,
    },
    /// Cannot be tested on a deployment from outside.
    NotApplicable {
        /// Why.
        why: &'static str,
    },
    /// Applicable, but belongs to a later issue.
    Later {
        /// Why.
        why: &'static str,
    },
    /// Not implemented yet.
    NotYet,
}

/// One plan's coverage.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanCoverage {
    /// The plan.
    pub plan: Plan,
    /// Each row: id and status.
    pub rows: Vec<(String, Status)>,
}

impl PlanCoverage {
    /// (implemented, proven, not applicable, not yet, total); the rows [`Self::later`] counts
    /// are in none of the first four.
    pub fn counts(&self) -> (usize, usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0, self.rows.len());
        for (_, s) in &self.rows {
            match s {
                Status::Implemented { proven } => {
                    c.0 += 1;
                    c.1 += usize::from(*proven);
                }
                Status::NotApplicable { .. } => c.2 += 1,
                Status::NotYet => c.3 += 1,
                Status::Later { .. } => {}
            }
        }
        c
    }

    /// The rows left to a later issue.
    pub fn later(&self) -> usize {
        self.rows.iter().filter(|(_, s)| matches!(s, Status::Later { .. })).count()
    }
}

/// The status of row `id` in `plan`.
pub fn status(plan: Plan, id: &str) -> Status {
    if plans::cases(plan).iter().any(|c| c.id == id) {
        return Status::Implemented { proven: faults::proving(id).any(|f| f.plan == plan) };
    }
    if let Some(l) = LATER.iter().find(|l| l.ids.contains(&id)) {
        return Status::Later { why: l.why };
    }
    let section = Matrix::embedded().get(id).map(|r| r.section.as_str()).unwrap_or_default();
    match NOT_APPLICABLE.iter().find(|n| n.ids.contains(&id) || n.sections.contains(&section)) {
        Some(n) => Status::NotApplicable { why: n.why },
        None => Status::NotYet,
    }
}

/// Every plan's coverage, from the matrix.
pub fn coverage() -> Vec<PlanCoverage> {
    Plan::ALL
        .into_iter()
        .map(|plan| PlanCoverage {
            plan,
            rows: Matrix::embedded().rows().iter().filter(|r| plan.covers(r)).map(|r| (r.id.to_string(), status(plan, r.id.as_str()))).collect(),
        })
        .collect()
}

/// The summary as a Markdown table (what the README keeps).
pub fn summary_table(cov: &[PlanCoverage]) -> String {
    let mut out = String::from("| plan | matrix rows | implemented | proven able to fail | not applicable | later | not yet |\n|---|---|---|---|---|---|---|\n");
    let mut tot = (0, 0, 0, 0, 0, 0);
    for p in cov {
        let (i, pr, na, ny, t) = p.counts();
        let l = p.later();
        let _ = writeln!(out, "| {} | {} | {i} | {pr} | {na} | {l} | {ny} |", p.plan, p.plan.matrices().join(", ") + &format!(" ({t})"));
        tot = (tot.0 + i, tot.1 + pr, tot.2 + na, tot.3 + ny, tot.4 + t, tot.5 + l);
    }
    let _ = writeln!(out, "| all | {} | {} | {} | {} | {} | {} |", tot.4, tot.0, tot.1, tot.2, tot.5, tot.3);
    out
}

/// Every row with its status, for `--detail`.
pub fn detail(cov: &[PlanCoverage]) -> String {
    let mut out = String::new();
    for p in cov {
        let _ = writeln!(out, "{}:", p.plan);
        for (id, s) in &p.rows {
            let what = match s {
                Status::Implemented { proven: true } => "implemented, proven able to fail".to_owned(),
                Status::Implemented { proven: false } => "implemented".to_owned(),
                Status::NotApplicable { why } => format!("not applicable: {why}"),
                Status::Later { why } => format!("later: {why}"),
                Status::NotYet => "not yet".to_owned(),
            };
            let _ = writeln!(out, "  {id:<10} {what}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn every_plan_row_has_a_status_and_the_sums_add_up() {
        let cov = coverage();
        let rows: usize = cov.iter().map(|p| p.rows.len()).sum();
        assert_eq!(rows, 732 - 67, "every row but the proximity ones");
        for p in &cov {
            let (i, pr, na, ny, t) = p.counts();
            assert_eq!(i + na + ny + p.later(), t);
            assert!(pr <= i);
        }
        let fed = cov.iter().find(|p| p.plan == Plan::Federation).unwrap();
        assert!(fed.counts().0 >= 20);
        let rp = cov.iter().find(|p| p.plan == Plan::Rp).unwrap();
        assert!(rp.counts().0 >= 50 && rp.counts().2 >= 20, "{:?}", rp.counts());
        assert!(summary_table(&cov).contains("| federation |"));
    }

    #[test]
    fn not_applicable_rows_have_no_test_and_faults_name_real_tests() {
        let sections: std::collections::BTreeSet<&str> = Matrix::embedded().rows().iter().map(|r| r.section.as_str()).collect();
        for n in NOT_APPLICABLE {
            for s in n.sections {
                assert!(sections.contains(s), "no section `{s}`");
            }
            for id in n.ids {
                assert!(Matrix::embedded().get(id).is_some(), "{id}");
                assert!(Plan::ALL.iter().all(|p| plans::cases(*p).iter().all(|c| c.id != *id)), "{id} is both tested and not applicable");
            }
        }
        for l in LATER {
            for id in l.ids {
                assert!(Matrix::embedded().get(id).is_some(), "{id}");
                assert!(Plan::ALL.iter().all(|p| plans::cases(*p).iter().all(|c| c.id != *id)), "{id} is both tested and left for later");
                assert!(NOT_APPLICABLE.iter().all(|n| !n.ids.contains(id)), "{id} is both not applicable and left for later");
            }
        }
        for f in faults::FAULTS {
            assert!(!f.breaks.is_empty(), "{}", f.name);
            for id in f.breaks {
                assert!(plans::cases(f.plan).iter().any(|c| c.id == *id), "fault {} breaks {id}, which has no test", f.name);
            }
        }
    }
}
