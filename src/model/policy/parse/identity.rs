//! The `identity` section: how the origin merges two subjects.

use serde_json::Value;

use super::walker::{join, Walker};
use crate::model::policy::{Identity, MergeRule, MAX_EVIDENCE_KINDS};

/// `identity`, or its defaults; `threshold` is the policy's
/// `identity_confidence_threshold`, the default `merge_threshold`.
pub(super) fn identity(w: &mut Walker, v: Option<&Value>, threshold: f64) -> Identity {
    let mut identity = Identity {
        merge_threshold: threshold,
        evidence: Vec::new(),
        prefer: MergeRule::ALL.iter().map(|(_, r)| *r).collect(),
        channels: Vec::new(),
    };
    let Some(m) = v.and_then(|v| w.object(v, "identity")) else { return identity };
    w.only(m, "identity", &["merge_threshold", "evidence", "prefer", "channel_rank"]);
    if let Some(t) = m.get("merge_threshold").and_then(|v| w.fraction(v, "identity.merge_threshold")) {
        identity.merge_threshold = t;
    }
    if let Some(v) = m.get("evidence") {
        identity.evidence = evidence(w, v);
    }
    if let Some(list) = m.get("prefer") {
        let p = "identity.prefer";
        let mut rules = Vec::new();
        for (i, item) in w.list(list, p, MergeRule::ALL.len()).iter().enumerate() {
            let ip = format!("{p}[{i}]");
            let problems = w.problems.len();
            let rule = w.choice(Some(item), &ip, &MergeRule::ALL, MergeRule::Recency);
            if w.problems.len() > problems {
                continue;
            }
            if rules.contains(&rule) {
                w.problem(&ip, format!("{:?} is listed twice", rule.name()));
                continue;
            }
            rules.push(rule);
        }
        identity.prefer = rules;
    }
    if let Some(list) = m.get("channel_rank") {
        let p = "identity.channel_rank";
        let mut channels: Vec<String> = Vec::new();
        for (i, item) in w.list(list, p, 32).iter().enumerate() {
            let ip = format!("{p}[{i}]");
            let Some(c) = w.ident(item, &ip) else { continue };
            if channels.contains(&c) {
                w.problem(&ip, format!("{c:?} is listed twice"));
                continue;
            }
            channels.push(c);
        }
        identity.channels = channels;
    }
    identity
}

/// `evidence`: evidence kind (an identifier) to a weight in (0, 1].
fn evidence(w: &mut Walker, v: &Value) -> Vec<(String, f64)> {
    let p = "identity.evidence";
    let Some(m) = w.object(v, p) else { return Vec::new() };
    if m.len() > MAX_EVIDENCE_KINDS {
        w.problem(p, format!("at most {MAX_EVIDENCE_KINDS} evidence kinds, found {}", m.len()));
        return Vec::new();
    }
    let mut out = Vec::with_capacity(m.len());
    for (kind, weight) in m {
        let kp = join(p, kind);
        if !w.name_ok(kind, &kp) {
            continue;
        }
        match weight.as_f64() {
            Some(x) if x > 0.0 && x <= 1.0 => out.push((kind.clone(), x)),
            _ => w.problem(&kp, format!("expected a number in (0, 1], found {weight}")),
        }
    }
    out
}
