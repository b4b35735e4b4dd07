//! The gate's counters of its decisions, per isolate: how many of each
//! tier, how fresh the bundles presented were (an `expired` decision is a
//! bundle whose signals were all past their expiry, so nothing of it was
//! used: the expired-signal usage the governance metrics report), how many
//! came from the cache, and failures by code. Shown in the Prometheus text
//! format, labelled with the isolate so a scraper can sum isolates.

use crate::eval::{Decision, Freshness, Tier};

const TIERS: [Tier; 3] = [Tier::Curated, Tier::Contextual, Tier::Generic];
const FRESHNESS: [Freshness; 4] = [Freshness::Fresh, Freshness::Stale, Freshness::Expired, Freshness::Absent];

/// The counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateCounters {
    tiers: [u64; 3],
    freshness: [u64; 4],
    cached: u64,
    failures: Vec<(&'static str, u64)>,
}

impl GateCounters {
    /// Counts one decision.
    pub fn record(&mut self, d: &Decision, cached: bool) {
        if let Some(i) = TIERS.iter().position(|t| *t == d.tier) {
            self.tiers[i] += 1;
        }
        if let Some(i) = FRESHNESS.iter().position(|f| *f == d.freshness) {
            self.freshness[i] += 1;
        }
        self.cached += u64::from(cached);
        if let Some(e) = &d.error {
            let code = e.code.as_str();
            match self.failures.iter_mut().find(|(c, _)| *c == code) {
                Some((_, n)) => *n += 1,
                None => self.failures.push((code, 1)),
            }
        }
    }

    /// Decisions counted.
    pub fn total(&self) -> u64 {
        self.tiers.iter().sum()
    }

    /// The counters in the Prometheus text format.
    pub fn prometheus(&self, isolate: &str) -> String {
        let isolate = isolate.replace(['\\', '"', '\n'], "_");
        let mut out = String::from("# HELP signalgate_gate_decisions_total Decisions by tier.\n# TYPE signalgate_gate_decisions_total counter\n");
        for (t, n) in TIERS.iter().zip(self.tiers) {
            out.push_str(&format!(
                "signalgate_gate_decisions_total{{isolate=\"{isolate}\",tier=\"{}\"}} {n}\n",
                t.as_str()
            ));
        }
        out.push_str("# HELP signalgate_gate_bundle_freshness_total Decisions by the freshness of the bundle presented (expired: every signal past its expiry, none used).\n# TYPE signalgate_gate_bundle_freshness_total counter\n");
        for (f, n) in FRESHNESS.iter().zip(self.freshness) {
            out.push_str(&format!(
                "signalgate_gate_bundle_freshness_total{{isolate=\"{isolate}\",freshness=\"{}\"}} {n}\n",
                f.as_str()
            ));
        }
        out.push_str(&format!("# HELP signalgate_gate_cached_decisions_total Decisions from the verified-bundle cache.\n# TYPE signalgate_gate_cached_decisions_total counter\nsignalgate_gate_cached_decisions_total{{isolate=\"{isolate}\"}} {}\n", self.cached));
        out.push_str("# HELP signalgate_gate_failures_total Decisions that failed closed, by code.\n# TYPE signalgate_gate_failures_total counter\n");
        for (code, n) in &self.failures {
            out.push_str(&format!("signalgate_gate_failures_total{{isolate=\"{isolate}\",code=\"{code}\"}} {n}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_counted_by_tier_and_freshness() {
        let mut c = GateCounters::default();
        let mut d = Decision::empty(Tier::Generic, "p1");
        d.freshness = Freshness::Expired;
        c.record(&d, false);
        c.record(&Decision::empty(Tier::Curated, "p1"), true);
        assert_eq!(c.total(), 2);
        let text = c.prometheus("iso-1");
        assert!(
            text.contains("signalgate_gate_bundle_freshness_total{isolate=\"iso-1\",freshness=\"expired\"} 1"),
            "{text}"
        );
        assert!(text.contains("signalgate_gate_decisions_total{isolate=\"iso-1\",tier=\"curated\"} 1"));
        assert!(text.contains("signalgate_gate_cached_decisions_total{isolate=\"iso-1\"} 1"));
    }
}
