//! Per-step figures: count, throughput, p50/p99 latency, errors with the first few texts.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// The steps a citizen runs, in order.
pub(crate) const STEPS: [&str; 5] = ["activate", "offer", "issue", "present", "result"];
/// How many error texts are kept per step.
const KEPT_ERRORS: usize = 3;

#[derive(Default)]
struct Step {
    ok: Vec<Duration>,
    errors: u64,
    texts: Vec<String>,
}

/// Every step's outcomes, shared by the citizens.
#[derive(Default)]
pub(crate) struct Stats(Mutex<BTreeMap<&'static str, Step>>);

impl Stats {
    pub(crate) fn record(&self, step: &'static str, took: Duration, outcome: &Result<(), String>) {
        let Ok(mut m) = self.0.lock() else { return };
        let s = m.entry(step).or_default();
        match outcome {
            Ok(()) => s.ok.push(took),
            Err(e) => {
                s.errors += 1;
                if s.texts.len() < KEPT_ERRORS {
                    s.texts.push(e.chars().take(300).collect());
                }
            }
        }
    }

    /// The total number of errors.
    pub(crate) fn errors(&self) -> u64 {
        self.0.lock().map(|m| m.values().map(|s| s.errors).sum()).unwrap_or(0)
    }

    /// The table, over a run of `elapsed`.
    pub(crate) fn report(&self, elapsed: Duration) -> String {
        let Ok(m) = self.0.lock() else { return String::new() };
        let secs = elapsed.as_secs_f64().max(0.001);
        let mut out = format!("{:<10} {:>7} {:>8} {:>9} {:>9} {:>7}\n", "step", "ok", "per s", "p50 ms", "p99 ms", "errors");
        for name in STEPS {
            let Some(s) = m.get(name) else { continue };
            let mut v = s.ok.clone();
            v.sort();
            out.push_str(&format!(
                "{name:<10} {:>7} {:>8.1} {:>9} {:>9} {:>7}\n",
                v.len(),
                v.len() as f64 / secs,
                percentile(&v, 50),
                percentile(&v, 99),
                s.errors
            ));
            for t in &s.texts {
                out.push_str(&format!("    error: {t}\n"));
            }
        }
        out
    }
}

/// The `p`th percentile of sorted durations, in milliseconds (`-` when empty).
fn percentile(sorted: &[Duration], p: usize) -> String {
    if sorted.is_empty() {
        return "-".into();
    }
    let i = (sorted.len() * p).div_ceil(100).saturating_sub(1).min(sorted.len() - 1);
    sorted.get(i).map_or_else(|| "-".into(), |d| d.as_millis().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50), "50");
        assert_eq!(percentile(&v, 99), "99");
        assert_eq!(percentile(&v[..1], 99), "1");
        assert_eq!(percentile(&[], 50), "-");
    }
}
