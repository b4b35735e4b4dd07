//! Validation of a policy document. Walks the JSON by hand so that every
//! problem is reported, each with its path: the walker ([`walker`]) and one
//! parser per section (purposes, classes, segments and their rules, tiers,
//! exposure).

mod classes;
mod exposure;
mod purposes;
mod rules;
mod segments;
mod tiers;
mod walker;

use serde_json::Value;

use super::{
    Policy, PolicyError, PolicyProblem, DEFAULT_MAX_BUNDLE_LIFETIME, MAX_BUNDLE_LIFETIME_LIMIT, POLICY_SCHEMA,
};
use crate::codec::fnv::NameMap;
use crate::codec::json;
use walker::{join, Walker};

/// Largest policy document accepted.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

pub(crate) fn parse(text: &str) -> Result<Policy, PolicyError> {
    let fail = |message: String| PolicyError { problems: vec![PolicyProblem { path: String::new(), message }] };
    if text.len() > MAX_POLICY_BYTES {
        return Err(fail(format!("policy is {} bytes, more than the limit of {MAX_POLICY_BYTES}", text.len())));
    }
    let doc: Value = json::from_slice_strict(text.as_bytes()).map_err(|p| fail(p.to_string()))?;
    let mut w = Walker { problems: Vec::new() };
    let policy = walk(&mut w, &doc);
    match policy {
        Some(p) if w.problems.is_empty() => Ok(p),
        _ => {
            if w.problems.is_empty() {
                w.problem("", "policy is not valid");
            }
            Err(PolicyError { problems: w.problems })
        }
    }
}

fn walk(w: &mut Walker, doc: &Value) -> Option<Policy> {
    let root = w.object(doc, "")?;
    w.only(
        root,
        "",
        &[
            "schema",
            "version",
            "tenant",
            "description",
            "identity_confidence_threshold",
            "max_bundle_lifetime",
            "purposes",
            "classes",
            "segments",
            "tiers",
            "exposure",
        ],
    );
    match w.required(root, "", "schema") {
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(POLICY_SCHEMA)) => {}
        Some(v) => w.problem("schema", format!("this gate reads policy schema {POLICY_SCHEMA}, found {v}")),
        None => {}
    }
    let version = w.required(root, "", "version").and_then(|v| w.ident(v, "version"));
    let tenant = root.get("tenant").and_then(|v| w.ident(v, "tenant"));
    if let Some(d) = root.get("description") {
        w.string(d, "description");
    }
    let threshold = match root.get("identity_confidence_threshold") {
        Some(v) => w.fraction(v, "identity_confidence_threshold").unwrap_or(0.0),
        None => 0.0,
    };
    let max_bundle_lifetime = w.opt_span(root, "", "max_bundle_lifetime", DEFAULT_MAX_BUNDLE_LIFETIME);
    if max_bundle_lifetime > MAX_BUNDLE_LIFETIME_LIMIT {
        w.problem("max_bundle_lifetime", format!("must be at most {MAX_BUNDLE_LIFETIME_LIMIT}"));
    }
    let purposes = root.get("purposes").map(|v| purposes::purposes(w, v)).unwrap_or_else(|| {
        w.problem("purposes", "is required");
        Vec::new()
    });
    let purpose_index: NameMap<usize> = purposes.iter().enumerate().map(|(i, p)| (p.name.clone(), i)).collect();
    let mut value_count = 0;
    let mut category_count = 0;
    let classes = match w.required(root, "", "classes").and_then(|v| w.object(v, "classes")) {
        Some(m) if m.len() > classes::MAX_CLASSES => {
            w.problem("classes", format!("at most {} classes, found {}", classes::MAX_CLASSES, m.len()));
            Vec::new()
        }
        Some(m) => {
            let mut out = Vec::with_capacity(m.len());
            for (name, v) in m {
                if !w.name_ok(name, &join("classes", name)) {
                    continue;
                }
                if let Some(c) = classes::class(w, name, v, &purpose_index, value_count, category_count) {
                    value_count += c.values.len();
                    category_count += c.categories.len();
                    out.push(c);
                }
            }
            out
        }
        None => Vec::new(),
    };
    let class_index: NameMap<usize> = classes.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
    let segments = segments::segments(w, root.get("segments"), &purpose_index, &classes, &class_index);
    let tiers = tiers::tiers(w, root.get("tiers"));
    let exposure = exposure::exposure(w, root.get("exposure"));
    Some(Policy {
        version: version?,
        tenant,
        identity_confidence_threshold: threshold,
        max_bundle_lifetime,
        purposes,
        classes,
        segments,
        tiers,
        exposure,
        class_index,
        purpose_index,
        value_count,
        category_count,
    })
}
