//! A test case: its matrix id, what it sends, what it expects, and the function that runs it
//! against a target with a [`Ctx`] that records the evidence.

use serde_json::Value;

use crate::client::{Http, Response};
use crate::evidence::{DecodedJwt, Evidence};
use crate::plan::Plan;
use crate::target::Target;

/// How a test ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
pub enum Verdict {
    /// The target did what the row expects.
    Passed,
    /// It did not: why, naming the rule.
    Failed(String),
    /// The test could not run (a precondition the target does not meet, e.g. an optional
    /// endpoint it does not publish): why.
    Skipped(String),
}

impl Verdict {
    /// `passed`, `failed`, `skipped`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed(_) => "failed",
            Self::Skipped(_) => "skipped",
        }
    }
}

/// Why a test stopped before passing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The rule is broken.
    Fail(String),
    /// The test cannot run.
    Skip(String),
}

/// What a test step returns; `?` stops the test.
pub type Step<T> = Result<T, Stop>;

/// Fails the test with `reason`.
pub fn fail<T>(reason: impl Into<String>) -> Step<T> {
    Err(Stop::Fail(reason.into()))
}

/// Skips the test with `reason`.
pub fn skip<T>(reason: impl Into<String>) -> Step<T> {
    Err(Stop::Skip(reason.into()))
}

/// Fails with `reason` unless `cond`.
pub fn ensure(cond: bool, reason: impl FnOnce() -> String) -> Step<()> {
    if cond { Ok(()) } else { Err(Stop::Fail(reason())) }
}

/// One test case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The matrix id.
    pub id: &'static str,
    /// The plan.
    pub plan: Plan,
    /// What the test sends, in a sentence.
    pub sends: &'static str,
    /// What it expects back, in a sentence.
    pub expects: &'static str,
    /// Runs it.
    pub run: fn(&mut Ctx<'_>) -> Step<()>,
}

/// What a running test has: the target, the client, and its evidence.
pub struct Ctx<'a> {
    /// The deployment under test.
    pub target: &'a Target,
    http: &'a Http,
    /// What the test saw.
    pub evidence: Evidence,
}

impl<'a> Ctx<'a> {
    /// A context with empty evidence.
    pub fn new(target: &'a Target, http: &'a Http) -> Self {
        Self { target, http, evidence: Evidence::default() }
    }

    /// Sends a request and records it. A missing response fails the test.
    pub fn send(&mut self, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Step<Response> {
        let (r, ex) = self.http.send(method, url, headers, body);
        self.evidence.exchanges.push(ex);
        r.or_else(|e| fail(format!("no response: {e}")))
    }

    /// The client, for code that records its own exchanges.
    pub fn http(&self) -> &'a Http {
        self.http
    }

    /// `GET url` and records it.
    pub fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Step<Response> {
        self.send("GET", url, headers, None)
    }

    /// Records a JWT (decoded, unverified) under `label`.
    pub fn record_jwt(&mut self, label: impl Into<String>, jwt: &str) {
        if let Some(d) = DecodedJwt::decode(label, jwt) {
            self.evidence.jwts.push(d);
        }
    }

    /// Records an observation.
    pub fn note(&mut self, note: impl Into<String>) {
        self.evidence.notes.push(note.into());
    }

    /// Records `v` as a note in JSON.
    pub fn note_json(&mut self, label: &str, v: &Value) {
        self.evidence.notes.push(format!("{label}: {v}"));
    }
}
