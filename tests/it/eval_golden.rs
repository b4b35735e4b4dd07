//! Golden vectors for the evaluator: every `tests/vectors/eval/*.json` case
//! (format in `tests/vectors/eval/README.md`) is decided through the real
//! path (sign with a fixed key, `Gate::decide`) and compared with its
//! `expected` member. With `SG_REGENERATE=1` the `expected` members (and
//! `index.json`) are rewritten instead; `git diff tests/vectors/eval` then
//! shows what changed.
//!
//! [`decide_case`] needs no file system, so the same cases can be run in wasm.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use crate::portable::eval_cases::{decide_case, Case};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/eval")
}

fn policy_text(case: &Case) -> String {
    match &case.policy {
        Value::String(name) => std::fs::read_to_string(dir().join("policies").join(name))
            .unwrap_or_else(|e| panic!("{}: shared policy {name:?}: {e}", case.name)),
        doc @ Value::Object(_) => doc.to_string(),
        other => panic!("{}: `policy` must be an object or a file name, found {other}", case.name),
    }
}

fn pretty(v: &impl Serialize) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap();
    s.push('\n');
    s
}

/// Every string value anywhere in `v`.
fn strings<'a>(v: &'a Value, out: &mut BTreeSet<&'a str>) {
    match v {
        Value::String(s) => {
            out.insert(s);
        }
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn golden_vectors() {
    let regenerate = std::env::var("SG_REGENERATE").is_ok_and(|v| v == "1");
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "index.json" && n != "all.json")
        .collect();
    names.sort();
    assert!(names.len() >= 45, "only {} cases", names.len());

    let index_path = dir().join("index.json");
    if regenerate {
        std::fs::write(&index_path, pretty(&names)).unwrap();
    } else {
        let index: Vec<String> = serde_json::from_str(&std::fs::read_to_string(&index_path).unwrap()).unwrap();
        assert_eq!(index, names, "index.json does not list the case files (regenerate with SG_REGENERATE=1)");
    }

    let mut failures = Vec::new();
    let mut seen_expected = Vec::new();
    for file in &names {
        let path = dir().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut case: Case = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(format!("{}.json", case.name), *file, "a case's name is its file name");
        let got = decide_case(&case, &policy_text(&case));
        if regenerate {
            case.expected = got;
            std::fs::write(&path, pretty(&case)).unwrap();
        } else if got != case.expected {
            failures.push(format!(
                "{file}:\n  expected {}\n  got      {}",
                serde_json::to_string(&case.expected).unwrap(),
                serde_json::to_string(&got).unwrap()
            ));
        }
        seen_expected.push(case.expected);
    }
    assert!(failures.is_empty(), "{} of {} golden cases differ:\n{}", failures.len(), names.len(), failures.join("\n"));

    // `all.json`: every case and shared policy in one file, embedded by the
    // portable checks that run the same vectors in Node and Chromium.
    let mut policies = BTreeMap::new();
    for entry in std::fs::read_dir(dir().join("policies")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        policies.insert(name, std::fs::read_to_string(&path).unwrap());
    }
    let cases: Vec<Value> =
        names.iter().map(|f| serde_json::from_str(&std::fs::read_to_string(dir().join(f)).unwrap()).unwrap()).collect();
    let all = pretty(&json!({ "policies": policies, "cases": cases }));
    let all_path = dir().join("all.json");
    if regenerate {
        std::fs::write(&all_path, &all).unwrap();
    } else {
        let on_disk = std::fs::read_to_string(&all_path).unwrap_or_default();
        assert!(on_disk == all, "tests/vectors/eval/all.json is stale (regenerate with SG_REGENERATE=1)");
    }

    // The vectors keep covering every tier, withholding reason and segment outcome.
    let mut seen = BTreeSet::new();
    for e in &seen_expected {
        strings(e, &mut seen);
    }
    let required = [
        "curated",
        "contextual",
        "generic",
        "unknown_class",
        "class_not_allowed_in_bundle",
        "value_not_in_vocabulary",
        "legal_basis_not_allowed",
        "consent_not_granted",
        "consent_revoked",
        "other_scope",
        "channel_not_allowed",
        "expired",
        "soft_expired_not_reconfirmed",
        "superseded",
        "purpose_not_consented",
        "purpose_not_allowed",
        "gpc_opt_out",
        "emitted",
        "rule_not_satisfied",
        "purpose_not_in_context",
        "identity_confidence_below_threshold",
        "below_curated_minimum",
        "bad_signature",
        "unknown_key",
        "wrong_tenant",
    ];
    let missing: Vec<&str> = required.iter().copied().filter(|r| !seen.contains(r)).collect();
    assert!(missing.is_empty(), "no golden case covers {missing:?}");
    let malformed = seen_expected.iter().filter(|e| e.get("policy_error").is_some()).count();
    assert!(malformed >= 8, "only {malformed} malformed-policy cases");
}
