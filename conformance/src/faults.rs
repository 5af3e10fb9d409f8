//! The faults that prove each check able to fail (issue 13 item 3): each names what it breaks
//! in a target's responses and the exact set of tests that must then fail. The crate's
//! `tests/faults.rs` puts a mutating proxy in front of our own services, injects every fault
//! of this list one at a time, runs the plan through the proxy, and asserts that the failed
//! tests are exactly `breaks` (the target is told its subordinate, so that a broken `/list` touches only the tests of `/list`). A test id listed here is "proven able to fail" in the coverage
//! table; the proxy re-signs what it alters with the service's own key, so that a fault breaks
//! one rule and not the signature with it.

use crate::plan::Plan;

/// One fault.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    /// Its name (the proxy's switch).
    pub name: &'static str,
    /// The plan it is run with.
    pub plan: Plan,
    /// What it does to the target's responses.
    pub does: &'static str,
    /// The tests that must fail, and no other.
    pub breaks: &'static [&'static str],
}

/// Every fault.
pub static FAULTS: &[Fault] = &[
    Fault { name: "ec-media-type", plan: Plan::Federation, does: "serves the Entity Configuration as application/jwt", breaks: &["FA_001", "ALL-003"] },
    Fault {
        name: "ec-signature",
        plan: Plan::Federation,
        does: "corrupts the Entity Configuration's signature",
        breaks: &["FA_002", "FA_015", "FA_020", "ATT-003", "ALL-003"],
    },
    Fault { name: "ec-typ", plan: Plan::Federation, does: "signs the Entity Configuration with typ JWT", breaks: &["FA_003", "FA_020", "ATT-010"] },
    Fault { name: "ec-sub", plan: Plan::Federation, does: "signs the Entity Configuration with another sub", breaks: &["FA_004", "FA_017", "FA_020"] },
    Fault { name: "ec-expired", plan: Plan::Federation, does: "signs the Entity Configuration with exp an hour ago", breaks: &["FA_004", "FA_007", "FA_020"] },
    Fault { name: "ec-exp-before-iat", plan: Plan::Federation, does: "signs the Entity Configuration with exp before iat (both in the future)", breaks: &["FA_004", "FA_007", "FA_020", "ATT-014"] },
    Fault { name: "ec-no-list-endpoint", plan: Plan::Federation, does: "removes federation_list_endpoint from the metadata", breaks: &["FA_005", "FA_010", "FA_016", "FA_018"] },
    Fault { name: "ec-duplicate-kid", plan: Plan::Federation, does: "publishes the signing key twice under one kid", breaks: &["FA_006", "FA_020"] },
    Fault { name: "ss-sub", plan: Plan::Federation, does: "signs Subordinate Statements with another sub", breaks: &["FA_008", "FA_017", "FA_020"] },
    Fault { name: "ss-foreign-keys", plan: Plan::Federation, does: "puts a key that is not the subordinate's in its Subordinate Statement", breaks: &["FA_009", "FA_020"] },
    Fault { name: "ss-kid", plan: Plan::Federation, does: "signs Subordinate Statements under an unknown kid", breaks: &["FA_008", "FA_015", "FA_020"] },
    Fault { name: "list-not-array", plan: Plan::Federation, does: "answers list with a JSON object", breaks: &["FA_010"] },
    Fault { name: "tm-status-always-active", plan: Plan::Federation, does: "answers every trust mark status request 200 active", breaks: &["FA_011", "FA_016"] },
    Fault { name: "hist-reason", plan: Plan::Federation, does: "signs historical keys with a revocation reason outside the spec's", breaks: &["FA_012"] },
    Fault { name: "fetch-self-ok", plan: Plan::Federation, does: "answers a fetch of the authority itself with 200", breaks: &["FA_017"] },
    Fault { name: "fetch-media-type", plan: Plan::Federation, does: "serves Subordinate Statements as application/jwt", breaks: &["FA_018"] },
    Fault { name: "fetch-unknown-ok", plan: Plan::Federation, does: "answers a fetch of an unknown subject with 400 instead of 404", breaks: &["FA_016"] },
    Fault { name: "resolve-metadata", plan: Plan::Federation, does: "re-signs resolve responses with altered metadata", breaks: &["FA_020"] },
    Fault { name: "ss-typ", plan: Plan::Federation, does: "signs Subordinate Statements with typ JWT", breaks: &["FA_008", "FA_020", "ATT-010"] },
    Fault {
        name: "ec-alg-none",
        plan: Plan::Federation,
        does: "serves the Entity Configuration unsigned (alg none)",
        breaks: &["FA_002", "FA_003", "FA_014", "FA_015", "FA_020", "ATT-003", "ATT-004", "ALL-003", "ALL-007"],
    },
    Fault { name: "hist-signature", plan: Plan::Federation, does: "corrupts the historical keys' signature", breaks: &["FA_012", "ALL-004"] },
];

/// The faults that prove `id`.
pub fn proving(id: &str) -> impl Iterator<Item = &'static Fault> + '_ {
    FAULTS.iter().filter(move |f| f.breaks.contains(&id))
}
