//! A run's results and the three forms they are written in: JSON ([`Report::to_json`]),
//! JUnit XML ([`junit`]) for CI systems, and one self-contained HTML page ([`html`]).

pub mod html;
pub mod junit;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::case::Verdict;
use crate::evidence::Evidence;
use crate::plan::Plan;

/// One test's result.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The matrix id.
    pub id: String,
    /// The matrix description.
    pub title: String,
    /// The matrix purpose.
    pub purpose: String,
    /// The spec file and line the row comes from.
    pub spec_ref: String,
    /// The matrix's expected result.
    pub expected_result: String,
    /// What the test sends.
    pub sends: String,
    /// What it expects.
    pub expects: String,
    /// How it ended.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// How long it took.
    pub duration_ms: u64,
    /// What it saw.
    pub evidence: Evidence,
}

/// A run of one plan against one target.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The tool and its version.
    pub tool: String,
    /// The plan.
    pub plan: Plan,
    /// The target's entity id.
    pub target: String,
    /// The profile tested.
    pub profile: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds.
    pub finished_at: i64,
    /// The results, in run order.
    pub results: Vec<CaseResult>,
}

/// Passed, failed, skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
}

impl Counts {
    /// Adds one verdict.
    pub fn add(&mut self, v: &Verdict) {
        match v {
            Verdict::Passed => self.passed += 1,
            Verdict::Failed(_) => self.failed += 1,
            Verdict::Skipped(_) => self.skipped += 1,
        }
    }
}

/// A report that cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl Report {
    /// The counts.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.results {
            c.add(&r.verdict);
        }
        c
    }

    /// Whether no test failed.
    pub fn passed(&self) -> bool {
        self.counts().failed == 0
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Writes `report.json`, `junit.xml` and `report.html` into `dir` (created if needed);
    /// returns their paths. Each file is written whole to a temporary name, then renamed.
    pub fn write_to(&self, dir: &Path) -> Result<Vec<PathBuf>, WriteError> {
        std::fs::create_dir_all(dir).map_err(|source| WriteError { path: dir.to_owned(), source })?;
        let files = [("report.json", self.to_json()), ("junit.xml", junit::render(self)), ("report.html", html::render(self))];
        let mut written = Vec::new();
        for (name, text) in files {
            let path = dir.join(name);
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path)).map_err(|source| WriteError { path: path.clone(), source })?;
            written.push(path);
        }
        Ok(written)
    }
}

/// `&`, `<`, `>`, `"`, `'` escaped for XML and HTML text and attributes, the control
/// characters XML forbids replaced (`service_kit::html::esc`, the one escape of every page).
pub use service_kit::html::esc as escape;

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::evidence::Exchange;

    pub(crate) fn sample() -> Report {
        let result = |id: &str, verdict: Verdict| CaseResult {
            id: id.into(),
            title: format!("title of {id} <b>"),
            purpose: "Security".into(),
            spec_ref: "docs/en/x.rst:1".into(),
            expected_result: "expected & so on".into(),
            sends: "GET /x".into(),
            expects: "200".into(),
            verdict,
            duration_ms: 3,
            evidence: Evidence {
                exchanges: vec![Exchange { method: "GET".into(), url: "http://t/x?a=1&b=<2>".into(), status: Some(200), response_body: "</script><script>alert(1)</script>".into(), ..Exchange::default() }],
                jwts: Vec::new(),
                notes: vec!["a \"note\"".into()],
            },
        };
        Report {
            tool: "t".into(),
            plan: Plan::Federation,
            target: "http://t".into(),
            profile: "it-wallet-1.4".into(),
            started_at: 1,
            finished_at: 2,
            results: vec![result("FA_001", Verdict::Passed), result("FA_002", Verdict::Failed("bad <sig>".into())), result("FA_012", Verdict::Skipped("no endpoint".into()))],
        }
    }

    #[test]
    fn counts_and_json() {
        let r = sample();
        assert_eq!(r.counts(), Counts { passed: 1, failed: 1, skipped: 1 });
        assert!(!r.passed());
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["plan"], "federation");
        assert_eq!(v["results"][1]["verdict"], "failed");
        assert_eq!(v["results"][1]["reason"], "bad <sig>");
        assert_eq!(v["results"][0]["verdict"], "passed");
        assert_eq!(v["results"][0]["evidence"]["exchanges"][0]["status"], 200);
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(escape("a\u{1}b\n"), "a\u{FFFD}b\n");
    }

    #[test]
    fn written_files() {
        let dir = tempfile::tempdir().unwrap();
        let paths = sample().write_to(&dir.path().join("out")).unwrap();
        assert_eq!(paths.len(), 3);
        for p in paths {
            assert!(std::fs::metadata(&p).unwrap().len() > 100, "{}", p.display());
        }
        assert!(!dir.path().join("out/.report.json.tmp").exists());
    }
}
