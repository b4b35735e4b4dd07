//! Governance metrics: how much of what the ledger holds is usable, how
//! often captures are refused, and how fast a capture reaches a bundle.
//! Each subject's figures are a [`SubjectStats`]; a tenant's are their sum
//! ([`Metrics`]), given as Prometheus text or JSON.
//!
//! | metric | meaning |
//! |---|---|
//! | `signals_active` | current signal versions still in use (not expired, deleted or merged away) |
//! | `signals_fresh` | of those, not yet expired nor in their reconfirmation window |
//! | `signals_consent_valid` | of those, whose consent is granted |
//! | `requests` / `rejected` | write requests, and those refused (bad input, policy) |
//! | `consent_mismatches` | captures refused for a consent reference used with other terms |
//! | `capture_to_bundle_seconds` | from a capture to the first bundle that carried it (histogram) |
//!
//! The gate reports its own side (how often an expired signal was
//! presented and withheld) with its decisions; see the gate's metrics.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::error::LedgerError;
use super::ops::Ledger;
use super::store::{int, opt_int, text, Statement, Store};
use crate::time::UnixTime;

/// Upper bounds (seconds) of the capture-to-bundle histogram's buckets; the
/// last bucket holds the rest.
pub const LATENCY_BOUNDS: [i64; 12] = [0, 1, 5, 15, 60, 300, 900, 3600, 21_600, 86_400, 604_800, 2_592_000];

/// One subject's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectStats {
    /// Current versions in use.
    pub active: u64,
    /// Of those, fresh.
    pub fresh: u64,
    /// Of those, with a granted consent.
    pub consent_valid: u64,
    /// Write requests.
    pub requests: u64,
    /// Refused write requests.
    pub rejected: u64,
    /// Captures refused for a consent mismatch.
    pub consent_mismatches: u64,
    /// Capture-to-first-bundle counts per bucket of [`LATENCY_BOUNDS`] (and one more).
    pub latency: Vec<u64>,
}

/// The statement that counts one request (and its refusal code, if refused).
pub fn count(tenant: &str, subject: &str, refused: Option<&str>) -> Vec<Statement> {
    let mut names = vec!["requests"];
    if let Some(code) = refused {
        names.push("rejected");
        if code == "consent_mismatch" {
            names.push("consent_mismatches");
        }
    }
    names
        .into_iter()
        .map(|n| {
            Statement::new(
                "INSERT INTO metric_counters (tenant_id, subject_id, name, value) VALUES (?, ?, ?, 1) \
                 ON CONFLICT (tenant_id, subject_id, name) DO UPDATE SET value = value + 1",
                vec![tenant.into(), subject.into(), n.into()],
            )
        })
        .collect()
}

fn bucket(seconds: i64) -> usize {
    LATENCY_BOUNDS.iter().position(|b| seconds <= *b).unwrap_or(LATENCY_BOUNDS.len())
}

impl<S: Store> Ledger<'_, S> {
    /// The subject's figures at `now`.
    pub fn stats(&mut self, tenant: &str, subject: &str, now: UnixTime) -> Result<SubjectStats, LedgerError> {
        let key = [tenant.into(), subject.into()];
        let mut s = SubjectStats { latency: vec![0; LATENCY_BOUNDS.len() + 1], ..SubjectStats::default() };
        let rows = self.store.query(
            "SELECT signal_type, status, consent_status, captured_at, reconfirmed_at, expires_at, first_bundled_at \
             FROM signals WHERE tenant_id = ? AND subject_id = ?",
            &key,
        )?;
        for r in &rows {
            let captured = int(r, 3)?;
            if let Some(first) = opt_int(r, 6)? {
                s.latency[bucket(first - captured)] += 1;
            }
            if text(r, 1)? != "active" || int(r, 5)? <= now.0 {
                continue;
            }
            s.active += 1;
            if text(r, 2)? == "granted" {
                s.consent_valid += 1;
            }
            let lead = self.policy().class(&text(r, 0)?).map_or(0, |c| c.reconfirm_lead.0);
            if int(r, 5)? - lead > now.0 {
                s.fresh += 1;
            }
        }
        for r in
            &self.store.query("SELECT name, value FROM metric_counters WHERE tenant_id = ? AND subject_id = ?", &key)?
        {
            let v = u64::try_from(int(r, 1)?).unwrap_or(0);
            match text(r, 0)?.as_str() {
                "requests" => s.requests = v,
                "rejected" => s.rejected = v,
                "consent_mismatches" => s.consent_mismatches = v,
                _ => {}
            }
        }
        Ok(s)
    }
}

/// A tenant's figures: the sum of its subjects'.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Subjects counted.
    pub subjects: u64,
    /// The sum.
    pub total: SubjectStats,
}

impl Metrics {
    /// Adds one subject's figures.
    pub fn add(&mut self, s: &SubjectStats) {
        let t = &mut self.total;
        self.subjects += 1;
        t.active += s.active;
        t.fresh += s.fresh;
        t.consent_valid += s.consent_valid;
        t.requests += s.requests;
        t.rejected += s.rejected;
        t.consent_mismatches += s.consent_mismatches;
        t.latency.resize(LATENCY_BOUNDS.len() + 1, 0);
        for (i, n) in s.latency.iter().enumerate().take(LATENCY_BOUNDS.len() + 1) {
            t.latency[i] += n;
        }
    }

    fn rate(part: u64, whole: u64) -> f64 {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        }
    }

    /// The capture-to-bundle time at quantile `q` (0-1), as the upper bound
    /// of the bucket it falls in (`None` without data; `None` also when it
    /// falls beyond the last bound).
    pub fn latency_quantile(&self, q: f64) -> Option<i64> {
        let n: u64 = self.total.latency.iter().sum();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.total.latency.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return LATENCY_BOUNDS.get(i).copied();
            }
        }
        None
    }

    /// The figures as JSON.
    pub fn json(&self, tenant: &str, now: UnixTime) -> Json {
        let t = &self.total;
        json!({
            "tenant": tenant,
            "at": now.0,
            "subjects": self.subjects,
            "signals_active": t.active,
            "signals_fresh": t.fresh,
            "signals_consent_valid": t.consent_valid,
            "fresh_rate": Self::rate(t.fresh, t.active),
            "consent_valid_rate": Self::rate(t.consent_valid, t.active),
            "requests": t.requests,
            "rejected": t.rejected,
            "rejection_rate": Self::rate(t.rejected, t.requests),
            "consent_mismatches": t.consent_mismatches,
            "capture_to_bundle_seconds": {
                "p50": self.latency_quantile(0.5),
                "p99": self.latency_quantile(0.99),
                "buckets": LATENCY_BOUNDS.iter().map(|b| json!(b)).chain(std::iter::once(json!("+Inf"))).zip(&t.latency)
                    .map(|(le, n)| json!({ "le": le, "count": n })).collect::<Vec<_>>(),
            },
        })
    }

    /// The figures in the Prometheus text exposition format.
    pub fn prometheus(&self, tenant: &str) -> String {
        let t = &self.total;
        let label = format!("tenant=\"{}\"", tenant.replace(['\\', '"', '\n'], "_"));
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, kind: &str, value: String| {
            out.push_str(&format!("# HELP signalgate_{name} {help}\n# TYPE signalgate_{name} {kind}\nsignalgate_{name}{{{label}}} {value}\n"));
        };
        gauge("subjects", "Subjects with a ledger.", "gauge", self.subjects.to_string());
        gauge("signals_active", "Current signal versions in use.", "gauge", t.active.to_string());
        gauge("signals_fresh", "Active signals not expired nor due for reconfirmation.", "gauge", t.fresh.to_string());
        gauge(
            "signals_consent_valid",
            "Active signals whose consent is granted.",
            "gauge",
            t.consent_valid.to_string(),
        );
        gauge("fresh_rate", "signals_fresh / signals_active.", "gauge", format!("{}", Self::rate(t.fresh, t.active)));
        gauge(
            "consent_valid_rate",
            "signals_consent_valid / signals_active.",
            "gauge",
            format!("{}", Self::rate(t.consent_valid, t.active)),
        );
        gauge("requests_total", "Write requests.", "counter", t.requests.to_string());
        gauge("rejected_total", "Refused write requests.", "counter", t.rejected.to_string());
        gauge("rejection_rate", "rejected / requests.", "gauge", format!("{}", Self::rate(t.rejected, t.requests)));
        gauge(
            "consent_mismatches_total",
            "Captures refused for a consent mismatch.",
            "counter",
            t.consent_mismatches.to_string(),
        );
        out.push_str(
            "# HELP signalgate_capture_to_bundle_seconds Time from a capture to the first bundle that carried it.\n",
        );
        out.push_str("# TYPE signalgate_capture_to_bundle_seconds histogram\n");
        let mut cumulative = 0;
        for (i, n) in t.latency.iter().enumerate() {
            cumulative += n;
            let le = LATENCY_BOUNDS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
            out.push_str(&format!("signalgate_capture_to_bundle_seconds_bucket{{{label},le=\"{le}\"}} {cumulative}\n"));
        }
        out.push_str(&format!("signalgate_capture_to_bundle_seconds_count{{{label}}} {cumulative}\n"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets() {
        let mut m = Metrics::default();
        let mut s = SubjectStats { latency: vec![0; LATENCY_BOUNDS.len() + 1], ..SubjectStats::default() };
        s.latency[bucket(0)] = 98;
        s.latency[bucket(400)] = 2;
        m.add(&s);
        assert_eq!(m.latency_quantile(0.5), Some(0));
        assert_eq!(m.latency_quantile(0.99), Some(900));
        assert_eq!(Metrics::default().latency_quantile(0.5), None);
        let text = m.prometheus("t");
        assert!(text.contains("signalgate_capture_to_bundle_seconds_bucket{tenant=\"t\",le=\"+Inf\"} 100"), "{text}");
        assert!(text.lines().all(|l| l.starts_with('#') || l.starts_with("signalgate_")));
    }
}
