//! The `classes` section: each class's vocabulary and the rules for using it.

use serde_json::{Map, Value};

use super::walker::{join, Walker};
use crate::codec::fnv::NameMap;
use crate::model::ident::is_value;
use crate::model::policy::{Cardinality, Class, Deletion, Exposes, Sensitivity, SoftExpiry};
use crate::model::LegalBasis;
use crate::time::Span;

/// Most classes in a policy.
pub(super) const MAX_CLASSES: usize = 256;
const MAX_VALUES: usize = 1024;

const LEGAL_BASES: [(&str, LegalBasis); 6] = [
    ("consent", LegalBasis::Consent),
    ("contract", LegalBasis::Contract),
    ("legal_obligation", LegalBasis::LegalObligation),
    ("vital_interest", LegalBasis::VitalInterest),
    ("public_task", LegalBasis::PublicTask),
    ("legitimate_interest", LegalBasis::LegitimateInterest),
];

pub(super) fn class(
    w: &mut Walker,
    name: &str,
    v: &Value,
    purpose_index: &NameMap<usize>,
    value_base: usize,
    category_base: usize,
) -> Option<Class> {
    let path = join("classes", name);
    let spec = w.object(v, &path)?;
    w.only(
        spec,
        &path,
        &[
            "values",
            "categories",
            "cardinality",
            "ttl",
            "soft_expiry",
            "reconfirm_lead",
            "purposes",
            "channels",
            "legal_basis",
            "retention",
            "deletion",
            "sensitivity",
            "in_bundle",
            "exposes",
            "encrypt",
            "aliases",
            "description",
        ],
    );
    let (values, value_category, categories) = vocabulary(w, spec, &path);
    let ttl = w.required(spec, &path, "ttl").and_then(|v| w.span(v, &join(&path, "ttl")));
    let soft_expiry = spec.get("soft_expiry").and_then(|v| {
        let p = join(&path, "soft_expiry");
        let m = w.object(v, &p)?;
        w.only(m, &p, &["after", "window"]);
        let after = w.required(m, &p, "after").and_then(|v| w.span(v, &join(&p, "after")));
        let window = w.required(m, &p, "window").and_then(|v| w.span(v, &join(&p, "window")));
        Some(SoftExpiry { after: after?, window: window? })
    });
    if let (Some(ttl), Some(soft)) = (ttl, soft_expiry) {
        if soft.after >= ttl {
            w.problem(&join(&path, "soft_expiry.after"), format!("must be shorter than `ttl` ({ttl})"));
        }
    }
    let reconfirm_lead = w.opt_span(spec, &path, "reconfirm_lead", Span::days(7));
    let mut purposes = 0u64;
    if let Some(list) = w.required(spec, &path, "purposes") {
        let p = join(&path, "purposes");
        for (i, item) in w.list(list, &p, 64).iter().enumerate() {
            let ip = format!("{p}[{i}]");
            let Some(s) = w.string(item, &ip) else { continue };
            match purpose_index.get(s) {
                Some(&bit) => purposes |= 1 << bit,
                None => w.problem(&ip, format!("unknown purpose {s:?}; declare it under `purposes`")),
            }
        }
    }
    let mut channels = Vec::new();
    if let Some(list) = w.required(spec, &path, "channels") {
        let p = join(&path, "channels");
        for (i, item) in w.list(list, &p, 32).iter().enumerate() {
            channels.extend(w.ident(item, &format!("{p}[{i}]")));
        }
    }
    let mut legal_bases = Vec::new();
    match spec.get("legal_basis") {
        None => legal_bases.push(LegalBasis::Consent),
        Some(list) => {
            let p = join(&path, "legal_basis");
            for (i, item) in w.list(list, &p, 6).iter().enumerate() {
                let lb = w.choice(Some(item), &format!("{p}[{i}]"), &LEGAL_BASES, LegalBasis::Consent);
                legal_bases.push(lb);
            }
        }
    }
    let retention = w.opt_span(spec, &path, "retention", ttl.unwrap_or(Span::days(365)));
    if let Some(ttl) = ttl.filter(|t| retention < *t) {
        w.problem(&join(&path, "retention"), format!("must be at least `ttl` ({ttl})"));
    }
    let cardinality = w.choice(
        spec.get("cardinality"),
        &join(&path, "cardinality"),
        &[("one", Cardinality::One), ("many", Cardinality::Many)],
        Cardinality::Many,
    );
    let deletion = w.choice(
        spec.get("deletion"),
        &join(&path, "deletion"),
        &[("erase", Deletion::Erase), ("suppress", Deletion::Suppress)],
        Deletion::Erase,
    );
    let sensitivity = w.choice(
        spec.get("sensitivity"),
        &join(&path, "sensitivity"),
        &[
            ("low", Sensitivity::Low),
            ("medium", Sensitivity::Medium),
            ("high", Sensitivity::High),
            ("special", Sensitivity::Special),
        ],
        Sensitivity::Low,
    );
    let in_bundle = w.bool_or(spec, &path, "in_bundle", sensitivity < Sensitivity::Special);
    if in_bundle && sensitivity == Sensitivity::Special {
        w.problem(&join(&path, "in_bundle"), "special-category classes may not travel in bundles");
    }
    let encrypt = w.bool_or(spec, &path, "encrypt", sensitivity >= Sensitivity::High);
    if !encrypt && sensitivity == Sensitivity::Special {
        w.problem(&join(&path, "encrypt"), "special-category values are always encrypted at rest");
    }
    let exposes = w.choice(
        spec.get("exposes"),
        &join(&path, "exposes"),
        &[("none", Exposes::None), ("category", Exposes::Category), ("channel", Exposes::Channel)],
        Exposes::None,
    );
    let aliases = aliases(w, spec, &path, &values);
    Some(Class {
        name: name.to_string(),
        aliases,
        value_lookup: values.iter().enumerate().map(|(i, v)| (v.clone(), i)).collect(),
        values,
        value_category,
        categories,
        cardinality,
        // A missing or bad `ttl` is already reported and fails the policy;
        // keeping the class avoids a second, false "unknown class" problem
        // for every rule that names it.
        ttl: ttl.unwrap_or(Span::days(365)),
        soft_expiry,
        reconfirm_lead,
        purposes,
        channels,
        legal_bases,
        retention,
        deletion,
        sensitivity,
        in_bundle,
        exposes,
        encrypt,
        value_base,
        category_base,
    })
}

/// `values` (a list) or `categories` (a map value -> category), exactly one.
fn vocabulary(w: &mut Walker, spec: &Map<String, Value>, path: &str) -> (Vec<String>, Vec<usize>, Vec<String>) {
    let mut values = Vec::new();
    let mut value_category = Vec::new();
    let mut categories: Vec<String> = Vec::new();
    let problems_before = w.problems.len();
    match (spec.get("values"), spec.get("categories")) {
        (Some(list), None) => {
            let p = join(path, "values");
            for (i, item) in w.list(list, &p, MAX_VALUES).iter().enumerate() {
                let ip = format!("{p}[{i}]");
                let Some(v) = w.value(item, &ip) else { continue };
                if values.contains(&v) {
                    w.problem(&ip, format!("{v:?} is listed twice"));
                    continue;
                }
                value_category.push(values.len());
                categories.push(v.clone());
                values.push(v);
            }
        }
        (None, Some(map)) => {
            let p = join(path, "categories");
            let Some(m) = w.object(map, &p) else { return (values, value_category, categories) };
            if m.len() > MAX_VALUES {
                w.problem(&p, format!("at most {MAX_VALUES} values, found {}", m.len()));
                return (values, value_category, categories);
            }
            for (value, cat) in m {
                let vp = join(&p, value);
                if !is_value(value) {
                    w.problem(&vp, format!("{value:?} is not a vocabulary value (1-64 of a-z 0-9 _ -)"));
                    continue;
                }
                let Some(cat) = w.value(cat, &vp) else { continue };
                let ci = categories.iter().position(|c| *c == cat).unwrap_or_else(|| {
                    categories.push(cat);
                    categories.len() - 1
                });
                values.push(value.clone());
                value_category.push(ci);
            }
        }
        (Some(_), Some(_)) => w.problem(path, "give either `values` or `categories`, not both"),
        (None, None) => w.problem(path, "needs `values` (a list) or `categories` (a map value -> category)"),
    }
    if values.is_empty() && w.problems.len() == problems_before {
        w.problem(&join(path, "values"), "the vocabulary is empty");
    }
    (values, value_category, categories)
}

/// Most aliases one class may map.
const MAX_ALIASES: usize = 1024;

/// `aliases`: a map from answers people give (any text up to 64
/// characters, compared without case) to a value of the vocabulary.
fn aliases(w: &mut Walker, spec: &Map<String, Value>, path: &str, values: &[String]) -> Vec<(String, usize)> {
    let Some(v) = spec.get("aliases") else { return Vec::new() };
    let p = join(path, "aliases");
    let Some(m) = w.object(v, &p) else { return Vec::new() };
    if m.len() > MAX_ALIASES {
        w.problem(&p, format!("at most {MAX_ALIASES} aliases, found {}", m.len()));
        return Vec::new();
    }
    let mut out: Vec<(String, usize)> = Vec::new();
    for (answer, target) in m {
        let ap = join(&p, answer);
        let folded = answer.trim().to_lowercase();
        if folded.is_empty() || folded.chars().count() > 64 || folded.chars().any(char::is_control) {
            w.problem(&ap, "an alias is 1 to 64 characters without control characters");
            continue;
        }
        let Some(target) = w.string(target, &ap) else { continue };
        let Some(index) = values.iter().position(|v| v == target) else {
            w.problem(&ap, format!("{target:?} is not in the vocabulary"));
            continue;
        };
        if out.iter().any(|(a, _)| *a == folded) {
            w.problem(&ap, "another alias differs from this one only in case or blanks");
            continue;
        }
        out.push((folded, index));
    }
    out
}
