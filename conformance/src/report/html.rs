//! One self-contained HTML page (no external resources): the summary, filters by verdict and
//! by text, and each test with its spec reference, what it sent and expected, and its
//! evidence (exchanges, decoded JWTs, notes) folded under `<details>`. Every value from the
//! target is escaped; the page's only script toggles visibility.

use std::fmt::Write as _;

use super::{CaseResult, Report, escape};
use crate::case::Verdict;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}\
header{background:#0b3d6b;color:#fff;padding:16px 24px}header h1{margin:0 0 4px;font-size:20px}\
main{padding:16px 24px}.sum span{display:inline-block;margin-right:16px;font-weight:600}\
.passed{color:#116329}.failed{color:#b3261e}.skipped{color:#7a5b00}\
.bar{display:flex;height:10px;border-radius:5px;overflow:hidden;margin:8px 0 16px;background:#ddd}\
.bar i{display:block}.bar .p{background:#2da44e}.bar .f{background:#cf222e}.bar .s{background:#d4a72c}\
.filters{margin:0 0 12px}.filters label{margin-right:12px}input[type=search]{padding:4px 8px;min-width:280px}\
.t{background:#fff;border:1px solid #d0d7de;border-left:6px solid #999;border-radius:6px;margin:8px 0;padding:8px 12px}\
.t.v-passed{border-left-color:#2da44e}.t.v-failed{border-left-color:#cf222e}.t.v-skipped{border-left-color:#d4a72c}\
.t h2{font-size:15px;margin:0}.t .id{font-family:ui-monospace,monospace;margin-right:8px}.meta{color:#57606a;font-size:12px}\
.why{margin:6px 0;font-weight:600}pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:320px;font-size:12px;white-space:pre-wrap;word-break:break-all}\
dl{margin:4px 0}dt{font-weight:600}dd{margin:0 0 4px 12px}";

const SCRIPT: &str = "function f(){var q=document.getElementById('q').value.toLowerCase();\
var show={};document.querySelectorAll('.filters input[type=checkbox]').forEach(function(c){show[c.value]=c.checked});\
document.querySelectorAll('.t').forEach(function(t){var ok=show[t.dataset.v]&&(!q||t.textContent.toLowerCase().indexOf(q)>=0);\
t.style.display=ok?'':'none'})}\
document.querySelectorAll('.filters input').forEach(function(i){i.addEventListener('input',f)});";

/// The report as an HTML page.
pub fn render(r: &Report) -> String {
    let c = r.counts();
    let total = r.results.len().max(1);
    let pct = |n: usize| n * 100 / total;
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>Conformance: {plan} plan, {target}</title><style>{STYLE}</style></head><body>\
<header><h1>IT-Wallet conformance: the {plan} plan</h1><div>{target} · profile {profile} · {tool}</div></header><main>\
<div class=\"sum\"><span>{n} tests</span><span class=\"passed\">{p} passed</span><span class=\"failed\">{fl} failed</span><span class=\"skipped\">{s} skipped</span></div>\
<div class=\"bar\" role=\"img\" aria-label=\"{p} passed, {fl} failed, {s} skipped\"><i class=\"p\" style=\"width:{pp}%\"></i><i class=\"f\" style=\"width:{fp}%\"></i><i class=\"s\" style=\"width:{sp}%\"></i></div>\
<div class=\"filters\"><label><input type=\"checkbox\" value=\"passed\" checked> passed</label><label><input type=\"checkbox\" value=\"failed\" checked> failed</label>\
<label><input type=\"checkbox\" value=\"skipped\" checked> skipped</label><input type=\"search\" id=\"q\" placeholder=\"filter by id, title, URL…\" aria-label=\"filter\"></div>",
        plan = r.plan,
        target = escape(&r.target),
        profile = escape(&r.profile),
        tool = escape(&r.tool),
        n = r.results.len(),
        p = c.passed,
        fl = c.failed,
        s = c.skipped,
        pp = pct(c.passed),
        fp = pct(c.failed),
        sp = pct(c.skipped),
    );
    for t in &r.results {
        case(&mut out, t);
    }
    let _ = writeln!(out, "</main><script>{SCRIPT}</script></body></html>");
    out
}

fn case(out: &mut String, t: &CaseResult) {
    let v = t.verdict.as_str();
    let _ = write!(
        out,
        "<section class=\"t v-{v}\" data-v=\"{v}\"><h2><span class=\"id\">{id}</span>{title} <span class=\"{v}\">{v}</span></h2>\
<div class=\"meta\">{purpose} · {spec} · {ms} ms</div>",
        id = escape(&t.id),
        title = escape(&t.title),
        purpose = escape(&t.purpose),
        spec = escape(&t.spec_ref),
        ms = t.duration_ms
    );
    match &t.verdict {
        Verdict::Failed(why) | Verdict::Skipped(why) => {
            let _ = write!(out, "<div class=\"why {v}\">{}</div>", escape(why));
        }
        Verdict::Passed => {}
    }
    let _ = write!(
        out,
        "<details><summary>What was tested and the evidence</summary><dl><dt>Expected (matrix)</dt><dd>{}</dd><dt>Sends</dt><dd>{}</dd><dt>Expects</dt><dd>{}</dd></dl>",
        escape(&t.expected_result),
        escape(&t.sends),
        escape(&t.expects)
    );
    for (i, e) in t.evidence.exchanges.iter().enumerate() {
        let status = e.status.map_or_else(|| format!("no response: {}", e.error.as_deref().unwrap_or("?")), |s| s.to_string());
        let mut text = format!("{} {}\n", e.method, e.url);
        for (n, val) in &e.request_headers {
            let _ = writeln!(text, "{n}: {val}");
        }
        if let Some(b) = &e.request_body {
            let _ = writeln!(text, "\n{b}");
        }
        let _ = writeln!(text, "\n→ {status} ({} ms)", e.elapsed_ms);
        for (n, val) in &e.response_headers {
            let _ = writeln!(text, "{n}: {val}");
        }
        let _ = write!(text, "\n{}", e.response_body);
        let _ = write!(out, "<h3>Exchange {}</h3><pre>{}</pre>", i + 1, escape(&text));
    }
    for j in &t.evidence.jwts {
        let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
        let _ = write!(out, "<h3>{}</h3><pre>{}\n.\n{}</pre>", escape(&j.label), escape(&pretty(&j.header)), escape(&pretty(&j.payload)));
    }
    if !t.evidence.notes.is_empty() {
        out.push_str("<h3>Notes</h3><ul>");
        for n in &t.evidence.notes {
            let _ = write!(out, "<li>{}</li>", escape(n));
        }
        out.push_str("</ul>");
    }
    out.push_str("</details></section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_self_contained_and_escaped() {
        let h = render(&crate::report::tests::sample());
        assert!(h.starts_with("<!doctype html>"));
        assert!(!h.contains("src=\"http") && !h.contains("href=\"http"), "no external resources");
        assert!(!h.contains("<script>alert(1)"), "target content is escaped");
        assert!(h.contains("&lt;/script&gt;&lt;script&gt;alert(1)"));
        assert!(h.contains("1 passed") && h.contains("1 failed") && h.contains("1 skipped"));
        assert!(h.contains("data-v=\"failed\"") && h.contains("bad &lt;sig&gt;"));
        assert_eq!(h.matches("<script>").count(), 1);
    }
}
