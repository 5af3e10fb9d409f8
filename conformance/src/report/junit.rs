//! JUnit XML (the Ant schema CI systems read): one `testsuite` per plan, one `testcase` per
//! test, `failure` with the reason, `skipped` with why; the evidence summary in `system-out`.

use std::fmt::Write as _;

use super::{Report, escape};
use crate::case::Verdict;

/// The report as JUnit XML.
pub fn render(r: &Report) -> String {
    let c = r.counts();
    let total_ms: u64 = r.results.iter().map(|x| x.duration_ms).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
        escape(&r.tool),
        r.results.len(),
        c.failed,
        c.skipped
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" errors=\"0\" time=\"{:.3}\" hostname=\"{}\">",
        r.plan,
        r.results.len(),
        c.failed,
        c.skipped,
        secs(total_ms),
        escape(&r.target)
    );
    for t in &r.results {
        let _ = write!(out, "    <testcase classname=\"{}\" name=\"{} {}\" time=\"{:.3}\">", r.plan, escape(&t.id), escape(&t.title), secs(t.duration_ms));
        match &t.verdict {
            Verdict::Passed => {}
            Verdict::Failed(why) => {
                let _ = write!(out, "\n      <failure message=\"{}\" type=\"{}\">{}</failure>", escape(why), escape(&t.spec_ref), escape(&t.expected_result));
            }
            Verdict::Skipped(why) => {
                let _ = write!(out, "\n      <skipped message=\"{}\"/>", escape(why));
            }
        }
        let mut sysout = String::new();
        for e in &t.evidence.exchanges {
            let status = e.status.map_or_else(|| e.error.clone().unwrap_or_default(), |s| s.to_string());
            let _ = writeln!(sysout, "{} {} -> {status}", e.method, e.url);
        }
        for n in &t.evidence.notes {
            let _ = writeln!(sysout, "{n}");
        }
        if !sysout.is_empty() {
            let _ = write!(out, "\n      <system-out>{}</system-out>\n    ", escape(&sysout));
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn secs(ms: u64) -> f64 {
    // Durations are far below 2^52 ms.
    #[allow(clippy::cast_precision_loss)]
    let s = ms as f64 / 1000.0;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_counts_failures_and_skips_and_escapes() {
        let x = render(&crate::report::tests::sample());
        assert!(x.contains("tests=\"3\" failures=\"1\" skipped=\"1\""), "{x}");
        assert!(x.contains("<failure message=\"bad &lt;sig&gt;\""), "{x}");
        assert!(x.contains("<skipped message=\"no endpoint\"/>"), "{x}");
        assert!(x.contains("name=\"FA_001 title of FA_001 &lt;b&gt;\""), "{x}");
        assert!(x.contains("GET http://t/x?a=1&amp;b=&lt;2&gt; -&gt; 200"), "{x}");
        assert!(!x.contains("<b>"));
    }
}
