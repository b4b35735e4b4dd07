//! Validation of a policy document. Walks the JSON by hand so that every
//! problem is reported, each with its path.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::rule::{NoSignals, Rule, Target, MAX_RULE_DEPTH, MAX_RULE_NODES};
use super::{
    Cardinality, Class, ContextualWhen, Deletion, Exposes, Exposure, Field, Policy, PolicyError, PolicyProblem,
    Purpose, Segment, Sensitivity, SoftExpiry, Tiers, DEFAULT_MAX_BUNDLE_LIFETIME, MAX_BUNDLE_LIFETIME_LIMIT,
    POLICY_SCHEMA,
};
use crate::codec::fnv::NameMap;
use crate::codec::json;
use crate::model::ident::{is_ident, is_value};
use crate::model::LegalBasis;
use crate::time::Span;

/// Largest policy document accepted.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;
const MAX_PURPOSES: usize = 64;
const MAX_CLASSES: usize = 256;
const MAX_VALUES: usize = 1024;
const MAX_SEGMENTS: usize = 4096;

struct Walker {
    problems: Vec<PolicyProblem>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Walker {
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(PolicyProblem { path: path.to_string(), message: message.into() });
    }

    /// The member `key` of `obj`, or a "missing" problem.
    fn required<'v>(&mut self, obj: &'v Map<String, Value>, path: &str, key: &str) -> Option<&'v Value> {
        let v = obj.get(key);
        if v.is_none() {
            self.problem(&join(path, key), "is required");
        }
        v
    }

    fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.problem(path, format!("expected an object, found {}", kind(other)));
                None
            }
        }
    }

    fn only(&mut self, obj: &Map<String, Value>, path: &str, allowed: &[&str]) {
        for key in obj.keys().filter(|k| !allowed.contains(&k.as_str())) {
            self.problem(&join(path, key), format!("unknown member; expected one of {}", allowed.join(", ")));
        }
    }

    fn string<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.problem(path, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn ident(&mut self, v: &Value, path: &str) -> Option<String> {
        let s = self.string(v, path)?;
        if is_ident(s) {
            Some(s.to_string())
        } else {
            self.problem(path, format!("expected an identifier (1-64 of A-Z a-z 0-9 . _ : -), found {s:?}"));
            None
        }
    }

    fn name_ok(&mut self, name: &str, path: &str) -> bool {
        if is_ident(name) {
            return true;
        }
        self.problem(path, format!("{name:?} is not an identifier (1-64 of A-Z a-z 0-9 . _ : -)"));
        false
    }

    fn value(&mut self, v: &Value, path: &str) -> Option<String> {
        let s = self.string(v, path)?;
        if is_value(s) {
            Some(s.to_string())
        } else {
            self.problem(path, format!("expected a vocabulary value (1-64 of a-z 0-9 _ -), found {s:?}"));
            None
        }
    }

    fn span(&mut self, v: &Value, path: &str) -> Option<Span> {
        let s = self.string(v, path)?;
        Span::parse(s).map_err(|e| self.problem(path, e)).ok()
    }

    fn opt_span(&mut self, obj: &Map<String, Value>, path: &str, key: &str, default: Span) -> Span {
        obj.get(key).and_then(|v| self.span(v, &join(path, key))).unwrap_or(default)
    }

    fn bool_or(&mut self, obj: &Map<String, Value>, path: &str, key: &str, default: bool) -> bool {
        match obj.get(key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.problem(&join(path, key), format!("expected true or false, found {}", kind(other)));
                default
            }
        }
    }

    fn fraction(&mut self, v: &Value, path: &str) -> Option<f64> {
        match v.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => Some(x),
            _ => {
                self.problem(path, format!("expected a number from 0 to 1, found {v}"));
                None
            }
        }
    }

    fn list<'v>(&mut self, v: &'v Value, path: &str, max: usize) -> &'v [Value] {
        match v {
            Value::Array(items) if items.len() <= max => items,
            Value::Array(items) => {
                self.problem(path, format!("at most {max} entries, found {}", items.len()));
                &[]
            }
            other => {
                self.problem(path, format!("expected a list, found {}", kind(other)));
                &[]
            }
        }
    }

    fn choice<T: Copy>(&mut self, v: Option<&Value>, path: &str, options: &[(&str, T)], default: T) -> T {
        let Some(v) = v else { return default };
        let Some(s) = self.string(v, path) else { return default };
        match options.iter().find(|(name, _)| *name == s) {
            Some((_, t)) => *t,
            None => {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.problem(path, format!("expected one of {}, found {s:?}", names.join(", ")));
                default
            }
        }
    }
}

const LEGAL_BASES: [(&str, LegalBasis); 6] = [
    ("consent", LegalBasis::Consent),
    ("contract", LegalBasis::Contract),
    ("legal_obligation", LegalBasis::LegalObligation),
    ("vital_interest", LegalBasis::VitalInterest),
    ("public_task", LegalBasis::PublicTask),
    ("legitimate_interest", LegalBasis::LegitimateInterest),
];

pub(super) fn parse(text: &str) -> Result<Policy, PolicyError> {
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
    let purposes = root.get("purposes").map(|v| purposes(w, v)).unwrap_or_else(|| {
        w.problem("purposes", "is required");
        Vec::new()
    });
    let purpose_index: NameMap<usize> = purposes.iter().enumerate().map(|(i, p)| (p.name.clone(), i)).collect();
    let mut value_count = 0;
    let mut category_count = 0;
    let classes = match w.required(root, "", "classes").and_then(|v| w.object(v, "classes")) {
        Some(m) if m.len() > MAX_CLASSES => {
            w.problem("classes", format!("at most {MAX_CLASSES} classes, found {}", m.len()));
            Vec::new()
        }
        Some(m) => {
            let mut out = Vec::with_capacity(m.len());
            for (name, v) in m {
                if !w.name_ok(name, &join("classes", name)) {
                    continue;
                }
                if let Some(c) = class(w, name, v, &purpose_index, value_count, category_count) {
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
    let segments = segments(w, root.get("segments"), &purpose_index, &classes, &class_index);
    let tiers = tiers(w, root.get("tiers"));
    let exposure = exposure(w, root.get("exposure"));
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

fn purposes(w: &mut Walker, v: &Value) -> Vec<Purpose> {
    let Some(m) = w.object(v, "purposes") else { return Vec::new() };
    if m.len() > MAX_PURPOSES {
        w.problem("purposes", format!("at most {MAX_PURPOSES} purposes, found {}", m.len()));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (name, spec) in m {
        let path = join("purposes", name);
        if !w.name_ok(name, &path) {
            continue;
        }
        let Some(spec) = w.object(spec, &path) else { continue };
        w.only(spec, &path, &["gpc_opt_out", "description"]);
        let gpc_opt_out = w.bool_or(spec, &path, "gpc_opt_out", false);
        out.push(Purpose { name: name.clone(), gpc_opt_out });
    }
    out
}

fn class(
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
    let exposes = w.choice(
        spec.get("exposes"),
        &join(&path, "exposes"),
        &[("none", Exposes::None), ("category", Exposes::Category), ("channel", Exposes::Channel)],
        Exposes::None,
    );
    Some(Class {
        name: name.to_string(),
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

fn segments(
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

struct RuleParser<'a> {
    w: &'a mut Walker,
    classes: &'a [Class],
    class_index: &'a NameMap<usize>,
    nodes: usize,
}

impl RuleParser<'_> {
    fn rule(&mut self, v: &Value, path: &str, depth: usize) -> Option<Rule> {
        self.nodes += 1;
        if self.nodes > MAX_RULE_NODES {
            self.w.problem(path, format!("rule has more than {MAX_RULE_NODES} nodes"));
            return None;
        }
        if depth > MAX_RULE_DEPTH {
            self.w.problem(path, format!("rule is nested deeper than {MAX_RULE_DEPTH} levels"));
            return None;
        }
        let m = self.w.object(v, path)?;
        let mut entries = m.iter();
        let (Some((op, arg)), None) = (entries.next(), entries.next()) else {
            self.w.problem(path, "a rule is an object with exactly one of `all`, `any`, `not`, `signal`, `confidence`");
            return None;
        };
        let p = join(path, op);
        match op.as_str() {
            "all" | "any" => {
                let items = self.w.list(arg, &p, MAX_RULE_NODES);
                if items.is_empty() {
                    self.w.problem(&p, "needs at least one rule");
                    return None;
                }
                let mut rules = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    rules.push(self.rule(item, &format!("{p}[{i}]"), depth + 1));
                }
                let rules: Option<Vec<Rule>> = rules.into_iter().collect();
                Some(if op == "all" { Rule::All(rules?) } else { Rule::Any(rules?) })
            }
            "not" => Some(Rule::Not(Box::new(self.rule(arg, &p, depth + 1)?))),
            "confidence" => Some(Rule::Confidence(self.w.fraction(arg, &p)?)),
            "signal" => self.signal(arg, &p),
            _ => {
                self.w.problem(&p, "unknown rule; expected `all`, `any`, `not`, `signal` or `confidence`");
                None
            }
        }
    }

    fn signal(&mut self, v: &Value, path: &str) -> Option<Rule> {
        let m = self.w.object(v, path)?;
        self.w.only(m, path, &["class", "value", "category", "within"]);
        let class_name = self.w.required(m, path, "class").and_then(|c| self.w.string(c, &join(path, "class")))?;
        let Some(&ci) = self.class_index.get(class_name) else {
            self.w.problem(&join(path, "class"), format!("unknown class {class_name:?}"));
            return None;
        };
        let class = &self.classes[ci];
        let target = match (m.get("value"), m.get("category")) {
            (None, None) => Target::Any,
            (Some(v), None) => {
                let vp = join(path, "value");
                let s = self.w.string(v, &vp)?;
                let Some(i) = class.value_index(s) else {
                    self.w.problem(&vp, format!("{s:?} is not in the vocabulary of class `{class_name}`"));
                    return None;
                };
                Target::Value(class.value_base + i)
            }
            (None, Some(c)) => {
                let cp = join(path, "category");
                let s = self.w.string(c, &cp)?;
                let Some(i) = class.categories.iter().position(|x| x == s) else {
                    self.w.problem(&cp, format!("{s:?} is not a category of class `{class_name}`"));
                    return None;
                };
                Target::Category(class.category_base + i)
            }
            (Some(_), Some(_)) => {
                self.w.problem(path, "give `value` or `category`, not both");
                return None;
            }
        };
        let within = match m.get("within") {
            Some(v) => Some(self.w.span(v, &join(path, "within"))?),
            None => None,
        };
        Some(Rule::Signal { class: ci, target, within })
    }
}

fn tiers(w: &mut Walker, v: Option<&Value>) -> Tiers {
    let mut tiers = Tiers { curated_min_segments: 1, contextual: ContextualWhen::WithBundle };
    let Some(m) = v.and_then(|v| w.object(v, "tiers")) else { return tiers };
    w.only(m, "tiers", &["curated_min_segments", "contextual"]);
    if let Some(n) = m.get("curated_min_segments") {
        match n.as_u64() {
            Some(n @ 1..=64) => tiers.curated_min_segments = n as usize,
            _ => w.problem("tiers.curated_min_segments", format!("expected a whole number from 1 to 64, found {n}")),
        }
    }
    tiers.contextual = w.choice(
        m.get("contextual"),
        "tiers.contextual",
        &[
            ("with_bundle", ContextualWhen::WithBundle),
            ("always", ContextualWhen::Always),
            ("never", ContextualWhen::Never),
        ],
        ContextualWhen::WithBundle,
    );
    tiers
}

fn exposure(w: &mut Walker, v: Option<&Value>) -> Exposure {
    let default = vec![Field::Tier, Field::Segments];
    let mut exposure = Exposure { page: default.clone(), upstream: default };
    let Some(m) = v.and_then(|v| w.object(v, "exposure")) else { return exposure };
    w.only(m, "exposure", &["page", "upstream"]);
    for (key, slot) in [("page", &mut exposure.page), ("upstream", &mut exposure.upstream)] {
        let Some(list) = m.get(key) else { continue };
        let p = join("exposure", key);
        let mut fields = Vec::new();
        for (i, item) in w.list(list, &p, 16).iter().enumerate() {
            let ip = format!("{p}[{i}]");
            match item.as_str() {
                Some("reasons" | "bundle_id") => {
                    w.problem(&ip, "reasons and the bundle id go to logs and audit, never to page code or upstream")
                }
                _ => {
                    let f = w.choice(Some(item), &ip, &Field::ALL, Field::Tier);
                    if !fields.contains(&f) {
                        fields.push(f);
                    }
                }
            }
        }
        fields.sort();
        *slot = fields;
    }
    exposure
}
