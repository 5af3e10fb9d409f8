//! Runs a plan's cases against a target, one after the other, reporting progress as it goes.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::case::{Case, Ctx, Stop, Verdict};
use crate::client::Http;
use crate::matrix::Matrix;
use crate::plan::Plan;
use crate::report::{CaseResult, Report};
use crate::target::Target;

/// What the runner tells its caller while it works.
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    /// The run starts: `total` tests.
    Started {
        /// How many tests will run.
        total: usize,
    },
    /// A test starts.
    Running {
        /// Its id.
        id: &'a str,
        /// Its 0-based position.
        index: usize,
    },
    /// A test ended.
    Finished(&'a CaseResult),
}

/// `--only` named an id this plan has no test for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plan {plan} has no test {id} (see `tessera conformance coverage`)")]
pub struct UnknownTest {
    /// The plan.
    pub plan: Plan,
    /// The id.
    pub id: String,
}

/// The cases of `plan` to run: all of them, or those named in `only`.
pub fn select(plan: Plan, only: Option<&[String]>) -> Result<Vec<&'static Case>, UnknownTest> {
    let cases: Vec<&'static Case> = crate::plans::cases(plan).iter().collect();
    let Some(only) = only else { return Ok(cases) };
    let mut picked = Vec::new();
    for id in only {
        let case = cases.iter().find(|c| c.id == id).ok_or_else(|| UnknownTest { plan, id: id.clone() })?;
        picked.push(*case);
    }
    Ok(picked)
}

/// Runs `cases` against `target`.
pub fn run(plan: Plan, cases: &[&Case], target: &Target, http: &Http, mut progress: impl FnMut(Progress<'_>)) -> Report {
    let started_at = unix_now();
    progress(Progress::Started { total: cases.len() });
    let mut results = Vec::with_capacity(cases.len());
    for (index, case) in cases.iter().enumerate() {
        progress(Progress::Running { id: case.id, index });
        let result = run_one(case, target, http);
        progress(Progress::Finished(&result));
        results.push(result);
    }
    Report {
        tool: concat!("tessera-conformance ", env!("CARGO_PKG_VERSION")).to_owned(),
        plan,
        target: target.entity_id.to_string(),
        profile: target.profile.as_str().to_owned(),
        started_at,
        finished_at: unix_now(),
        results,
    }
}

fn run_one(case: &Case, target: &Target, http: &Http) -> CaseResult {
    let row = Matrix::embedded().get(case.id);
    let mut ctx = Ctx::new(target, http);
    let started = Instant::now();
    let verdict = match (case.run)(&mut ctx) {
        Ok(()) => Verdict::Passed,
        Err(Stop::Fail(why)) => Verdict::Failed(why),
        Err(Stop::Skip(why)) => Verdict::Skipped(why),
    };
    CaseResult {
        id: case.id.to_owned(),
        title: row.map(|r| r.description.clone()).unwrap_or_default(),
        purpose: row.map(|r| r.purpose.clone()).unwrap_or_default(),
        spec_ref: row.map(|r| r.source.clone()).unwrap_or_default(),
        expected_result: row.map(|r| r.expected.clone()).unwrap_or_default(),
        sends: case.sends.to_owned(),
        expects: case.expects.to_owned(),
        verdict,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        evidence: ctx.evidence,
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}
