//! The `segments` section: token, purpose and rule of each segment.

use std::collections::BTreeSet;

use serde_json::Value;

use super::rules::RuleParser;
use super::walker::{join, Walker};
use crate::codec::fnv::NameMap;
use crate::model::policy::rule::NoSignals;
use crate::model::policy::{Class, Segment};

const MAX_SEGMENTS: usize = 4096;

pub(super) fn segments(
    w: &mut Walker,
    v: Option<&Value>,
    purpose_index: &NameMap<usize>,
    classes: &[Class],
    class_index: &NameMap<usize>,
) -> Vec<Segment> {
    let Some(v) = v else {
        w.problem("segments", "is required");
        return Vec::new();
    };
    let Some(m) = w.object(v, "segments") else { return Vec::new() };
    if m.len() > MAX_SEGMENTS {
        w.problem("segments", format!("at most {MAX_SEGMENTS} segments, found {}", m.len()));
        return Vec::new();
    }
    let mut tokens = BTreeSet::new();
    let mut out = Vec::new();
    for (name, spec) in m {
        let path = join("segments", name);
        if !w.name_ok(name, &path) {
            continue;
        }
        let Some(spec) = w.object(spec, &path) else { continue };
        w.only(spec, &path, &["token", "purpose", "rule", "description"]);
        let token = w.required(spec, &path, "token").and_then(|t| w.ident(t, &join(&path, "token")));
        if let Some(t) = &token {
            if !tokens.insert(t.clone()) {
                w.problem(&join(&path, "token"), format!("token {t:?} is used by another segment"));
            }
        }
        let purpose = w.required(spec, &path, "purpose").and_then(|p| {
            let pp = join(&path, "purpose");
            let s = w.string(p, &pp)?;
            let found = purpose_index.get(s).copied();
            if found.is_none() {
                w.problem(&pp, format!("unknown purpose {s:?}; declare it under `purposes`"));
            }
            found
        });
        let rule = w.required(spec, &path, "rule").and_then(|r| {
            let rp = join(&path, "rule");
            let rule = RuleParser { w: &mut *w, classes, class_index, nodes: 0 }.rule(r, &rp, 1)?;
            if NoSignals::matches(&rule) {
                w.problem(&rp, "matches a visitor with no signals; add a `signal` condition that must hold");
                return None;
            }
            Some(rule)
        });
        if let (Some(token), Some(purpose), Some(rule)) = (token, purpose, rule) {
            out.push(Segment { name: name.clone(), token, purpose, rule });
        }
    }
    out
}
