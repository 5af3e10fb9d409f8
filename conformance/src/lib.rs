//! The IT-Wallet conformance tool (issue 13): the test plans of the IT-Wallet test matrix
//! (`data/it-wallet-test-matrix.tsv`, 732 rows, each with the spec line it comes from) run
//! against a deployment at a URL, as a wallet or a federation entity would, with the evidence
//! of every test (HTTP exchanges, decoded JWTs) in JSON, JUnit XML and one HTML report.
//!
//! * [`matrix`]: the rows; [`plan`]: which rows each plan answers for; [`plans`]: the tests.
//! * [`runner`]: runs a plan's tests, reporting progress; [`report`]: the three report forms.
//! * [`coverage`]: implemented / proven able to fail / not applicable / not yet, per plan;
//!   [`faults`]: the faults that prove tests able to fail (injected by a mutating proxy in
//!   this crate's tests).
//!
//! Checks reuse wallet-core (JOSE, federation chains); a test reads the raw header and payload
//! of what the target sent, so that it can say exactly which rule is broken.

pub mod case;
pub mod client;
pub mod coverage;
pub mod evidence;
pub mod faults;
pub mod matrix;
pub mod plan;
pub mod plans;
pub mod report;
pub mod runner;
pub mod status_list;
pub mod target;

pub use case::{Case, Verdict};
pub use plan::Plan;
pub use report::Report;
pub use target::Target;
