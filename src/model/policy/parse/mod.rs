//! Validation of a policy document. Walks the JSON by hand so that every
//! problem is reported, each with its path: the walker ([`walker`]) and one
//! parser per section (purposes, classes, segments and their rules, tiers,
//! exposure, identity, roles, intake).

mod classes;
mod exposure;
mod identity;
mod intake;
mod purposes;
mod roles;
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
            "identity",
            "roles",
            "intake",
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
    let identity = identity::identity(w, root.get("identity"), threshold);
    let roles = roles::roles(w, root.get("roles"), &class_index);
    let intake_raw_ttl = intake::raw_ttl(w, root.get("intake"));
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
        identity,
        roles,
        intake_raw_ttl,
        class_index,
        purpose_index,
        value_count,
        category_count,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::model::policy::{FieldSet, MergeRule, Policy, Role, Sensitivity, DEFAULT_INTAKE_RAW_TTL, SIGNAL_FIELDS};
    use crate::time::Span;

    /// A small valid policy with `extra` merged into its top level (a `null`
    /// member removes one).
    fn doc(extra: Value) -> String {
        let mut base = json!({
            "schema": 1,
            "version": "t1",
            "identity_confidence_threshold": 0.4,
            "purposes": { "personalization": {} },
            "classes": {
                "language": { "values": ["en", "de"], "ttl": "30d", "purposes": ["personalization"], "channels": ["web"] },
                "health_goal": { "values": ["rest"], "ttl": "30d", "purposes": [], "channels": ["web"],
                                 "sensitivity": "special", "in_bundle": false },
                "income": { "values": ["low", "high"], "ttl": "30d", "purposes": [], "channels": ["web"],
                            "sensitivity": "high" }
            },
            "segments": {}
        });
        if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
            for (k, v) in extra {
                if v.is_null() {
                    base.remove(&k);
                } else {
                    base.insert(k, v);
                }
            }
        }
        base.to_string()
    }

    fn parse(extra: Value) -> Policy {
        match Policy::from_json(&doc(extra)) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    /// Every problem, as `path: message`.
    fn problems(extra: Value) -> Vec<String> {
        match Policy::from_json(&doc(extra)) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(ToString::to_string).collect(),
        }
    }

    fn known_fields() -> String {
        SIGNAL_FIELDS.join(", ")
    }

    #[test]
    fn new_sections_have_their_defaults_when_absent() {
        let p = parse(json!({}));
        let identity = p.identity();
        assert_eq!(identity.merge_threshold, 0.4, "defaults to identity_confidence_threshold");
        assert!(identity.evidence.is_empty());
        assert_eq!(identity.prefer, [MergeRule::ConsentScope, MergeRule::ChannelSpecificity, MergeRule::Recency]);
        assert!(identity.channels.is_empty());
        assert_eq!(identity.channel_rank("web"), 0);
        assert_eq!(p.roles(), [Role::service()]);
        assert_eq!(p.intake_raw_ttl(), DEFAULT_INTAKE_RAW_TTL);
        assert_eq!(p.intake_raw_ttl(), Span::seconds(86_400));
        let no_threshold = parse(json!({ "identity_confidence_threshold": null, "identity": {} }));
        assert_eq!(no_threshold.identity().merge_threshold, 0.0);
        assert_eq!(parse(json!({ "intake": {} })).intake_raw_ttl(), DEFAULT_INTAKE_RAW_TTL);
    }

    #[test]
    fn encrypt_defaults_by_sensitivity() {
        let p = parse(json!({}));
        let encrypt = |name: &str| p.class(name).map(|c| (c.sensitivity, c.encrypt));
        assert_eq!(encrypt("language"), Some((Sensitivity::Low, false)));
        assert_eq!(encrypt("income"), Some((Sensitivity::High, true)));
        assert_eq!(encrypt("health_goal"), Some((Sensitivity::Special, true)));
    }

    #[test]
    fn encrypt_may_be_set_except_off_for_special() {
        let mut classes = json!({
            "language": { "values": ["en"], "ttl": "30d", "purposes": [], "channels": ["web"], "encrypt": true },
            "income": { "values": ["low"], "ttl": "30d", "purposes": [], "channels": ["web"],
                        "sensitivity": "high", "encrypt": false }
        });
        let p = parse(json!({ "classes": classes.clone() }));
        assert_eq!(p.class("language").map(|c| c.encrypt), Some(true));
        assert_eq!(p.class("income").map(|c| c.encrypt), Some(false));
        classes["health_goal"] = json!({ "values": ["rest"], "ttl": "30d", "purposes": [], "channels": ["web"],
                                         "sensitivity": "special", "in_bundle": false, "encrypt": false });
        classes["language"]["encrypt"] = json!("yes");
        assert_eq!(
            problems(json!({ "classes": classes })),
            [
                "classes.health_goal.encrypt: special-category values are always encrypted at rest",
                "classes.language.encrypt: expected true or false, found a string",
            ]
        );
    }

    #[test]
    fn identity_is_read() {
        let p = parse(json!({ "identity": {
            "merge_threshold": 0.8,
            "evidence": { "login": 0.99, "verified_email": 0.95, "hashed_email": 0.85, "device": 0.5 },
            "prefer": ["recency", "consent_scope"],
            "channel_rank": ["sms", "email", "app", "web"]
        }}));
        let identity = p.identity();
        assert_eq!(identity.merge_threshold, 0.8);
        assert_eq!(identity.weight("device"), Some(0.5));
        assert_eq!(identity.weight("phone"), None);
        let kinds: Vec<&str> = identity.evidence.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["device", "hashed_email", "login", "verified_email"], "in name order");
        assert_eq!(identity.prefer, [MergeRule::Recency, MergeRule::ConsentScope]);
        assert_eq!(identity.prefer.iter().map(|r| r.name()).collect::<Vec<_>>(), ["recency", "consent_scope"]);
        assert_eq!(identity.channel_rank("sms"), 0);
        assert_eq!(identity.channel_rank("web"), 3);
        assert_eq!(identity.channel_rank("fax"), 4);
        let empty = parse(json!({ "identity": { "prefer": [], "evidence": {} } }));
        assert!(empty.identity().prefer.is_empty());
    }

    #[test]
    fn confidence_combines_distinct_evidence() {
        let p = parse(json!({ "identity": { "evidence": { "a": 0.9, "b": 0.5, "c": 1 } } }));
        let identity = p.identity();
        let close = |kinds: &[&str], want: f64| {
            let got = identity.confidence(kinds);
            assert!(got.as_ref().is_ok_and(|c| (c - want).abs() < 1e-12), "{kinds:?}: {got:?}, want {want}");
        };
        close(&["a", "b"], 0.95);
        close(&["b", "a"], 0.95);
        close(&["a", "b", "a", "b"], 0.95);
        close(&["b"], 0.5);
        close(&["b", "c"], 1.0);
        assert_eq!(identity.confidence(&[]), Ok(0.0));
        assert_eq!(identity.confidence(&["a", "phone", "fax"]), Err("phone".to_string()));
    }

    #[test]
    fn identity_problems_have_their_paths() {
        let mut evidence = serde_json::Map::new();
        for i in 0..33 {
            evidence.insert(format!("k{i}"), json!(0.5));
        }
        assert_eq!(
            problems(json!({ "identity": { "evidence": evidence } })),
            ["identity.evidence: at most 32 evidence kinds, found 33"]
        );
        assert_eq!(
            problems(json!({ "identity": {
                "merge_threshold": 1.2,
                "evidence": { "device": 1.5, "login": 0, "cookie": "0.3", "bad kind": 0.5 },
                "prefer": ["recency", "newest", "recency"],
                "channel_rank": ["sms", "e mail", "sms"],
                "mode": "auto"
            }})),
            [
                "identity.mode: unknown member; expected one of merge_threshold, evidence, prefer, channel_rank",
                "identity.merge_threshold: expected a number from 0 to 1, found 1.2",
                "identity.evidence.bad kind: \"bad kind\" is not an identifier (1-64 of A-Z a-z 0-9 . _ : -)",
                "identity.evidence.cookie: expected a number in (0, 1], found \"0.3\"",
                "identity.evidence.device: expected a number in (0, 1], found 1.5",
                "identity.evidence.login: expected a number in (0, 1], found 0",
                "identity.prefer[1]: expected one of consent_scope, channel_specificity, recency, found \"newest\"",
                "identity.prefer[2]: \"recency\" is listed twice",
                "identity.channel_rank[1]: expected an identifier (1-64 of A-Z a-z 0-9 . _ : -), found \"e mail\"",
                "identity.channel_rank[2]: \"sms\" is listed twice",
            ]
        );
        assert_eq!(problems(json!({ "identity": [] })), ["identity: expected an object, found a list"]);
    }

    #[test]
    fn roles_are_read_with_the_builtin_service_role() {
        let p = parse(json!({ "roles": {
            "engine": { "fields": ["signal_id", "signal_type", "category", "freshness", "expires_at"] },
            "support": { "fields": ["signal_id", "value"], "classes": ["language"] },
            "audit": { "fields": ["*"], "history": true, "consents": true },
            "ingest": { "fields": ["signal_id", "version", "status"], "write": true },
            "zeta": { "fields": [], "identity": true, "delete": true, "description": "for people" }
        }}));
        let names: Vec<&str> = p.roles().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["audit", "engine", "ingest", "service", "support", "zeta"]);
        let role = |name: &str| p.role(name).cloned().unwrap_or_else(|| panic!("no role {name}"));
        let engine = role("engine");
        assert!(engine.sees_field("freshness") && !engine.sees_field("value") && !engine.sees_field("phone"));
        assert_eq!(
            engine.fields.names().collect::<Vec<_>>(),
            ["signal_id", "signal_type", "category", "expires_at", "freshness"]
        );
        assert!(engine.sees_class("language") && engine.sees_class("health_goal"));
        assert!(!engine.history && !engine.consents && !engine.write && !engine.identity && !engine.delete);
        let support = role("support");
        assert!(support.sees_class("language") && !support.sees_class("health_goal"));
        assert_eq!(support.classes, Some(vec!["language".to_string()]));
        let audit = role("audit");
        assert!(audit.fields.is_all() && audit.history && audit.consents && !audit.write);
        assert!(SIGNAL_FIELDS.iter().all(|f| audit.sees_field(f)));
        assert!(role("ingest").write);
        let zeta = role("zeta");
        assert_eq!(zeta.fields, FieldSet::NONE);
        assert!(zeta.identity && zeta.delete && !zeta.sees_field("signal_id"));
        let service = role("service");
        assert_eq!(service, Role::service());
        assert!(service.fields.is_all() && service.classes.is_none());
        assert!(!service.history && service.consents && service.write && service.identity && service.delete);
        assert!(p.role("nobody").is_none());
    }

    #[test]
    fn a_declared_service_role_replaces_the_builtin_one() {
        let p = parse(json!({ "roles": { "service": { "fields": ["signal_id"], "write": true } } }));
        assert_eq!(p.roles().len(), 1);
        let service = p.role("service").cloned();
        assert_eq!(
            service,
            Some(Role {
                name: "service".into(),
                fields: FieldSet::NONE.with(0),
                classes: None,
                history: false,
                consents: false,
                write: true,
                identity: false,
                delete: false,
            })
        );
        assert_eq!(parse(json!({ "roles": {} })).roles(), [Role::service()]);
    }

    #[test]
    fn role_problems_have_their_paths() {
        assert_eq!(
            problems(json!({ "roles": {
                "support": {
                    "fields": ["signal_id", "value", "phone", "value", 7],
                    "classes": ["shoe_size", "language", "language"],
                    "write": "yes",
                    "admin": true
                },
                "audit": { "fields": ["*", "value"] },
                "nofields": { "history": true },
                "bad role": { "fields": [] },
                "listed": []
            }})),
            [
                "roles.audit.fields[0]: \"*\" stands for every field and must be alone".to_string(),
                "roles.bad role: \"bad role\" is not an identifier (1-64 of A-Z a-z 0-9 . _ : -)".to_string(),
                "roles.listed: expected an object, found a list".to_string(),
                "roles.nofields.fields: is required".to_string(),
                "roles.support.admin: unknown member; expected one of fields, classes, history, consents, write, \
                 identity, delete, description"
                    .to_string(),
                format!("roles.support.fields[2]: unknown field \"phone\"; known: {}", known_fields()),
                "roles.support.fields[3]: \"value\" is listed twice".to_string(),
                "roles.support.fields[4]: expected a string, found a number".to_string(),
                "roles.support.classes[0]: no class \"shoe_size\"".to_string(),
                "roles.support.classes[2]: \"language\" is listed twice".to_string(),
                "roles.support.write: expected true or false, found a string".to_string(),
            ]
        );
        let mut many = serde_json::Map::new();
        for i in 0..33 {
            many.insert(format!("r{i}"), json!({ "fields": [] }));
        }
        assert_eq!(problems(json!({ "roles": many })), ["roles: at most 32 roles, found 33"]);
        assert_eq!(
            problems(json!({ "roles": { "all": { "fields": vec!["signal_id"; 17] } } })),
            ["roles.all.fields: at most 16 entries, found 17"]
        );
    }

    #[test]
    fn intake_raw_ttl_is_bounded() {
        assert_eq!(parse(json!({ "intake": { "raw_ttl": "30d" } })).intake_raw_ttl(), Span::days(30));
        assert_eq!(parse(json!({ "intake": { "raw_ttl": "1m" } })).intake_raw_ttl(), Span::seconds(60));
        assert_eq!(parse(json!({ "intake": { "raw_ttl": "2h" } })).intake_raw_ttl(), Span::seconds(7_200));
        assert_eq!(problems(json!({ "intake": { "raw_ttl": "31d" } })), ["intake.raw_ttl: at most 30d"]);
        assert_eq!(problems(json!({ "intake": { "raw_ttl": "5w" } })), ["intake.raw_ttl: at most 30d"]);
        assert_eq!(problems(json!({ "intake": { "raw_ttl": "59s" } })), ["intake.raw_ttl: at least 1m"]);
        assert_eq!(
            problems(json!({ "intake": { "raw_ttl": "soon", "keep": true } })),
            [
                "intake.keep: unknown member; expected one of raw_ttl",
                "intake.raw_ttl: expected a duration like \"180d\", found \"soon\"",
            ]
        );
        assert_eq!(problems(json!({ "intake": "24h" })), ["intake: expected an object, found a string"]);
    }

    #[test]
    fn the_demo_policy_declares_all_four_parts() {
        let p = match Policy::from_json(include_str!("../../../../www/policy.json")) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(p.identity().merge_threshold, 0.8);
        assert_eq!(p.identity().channel_rank("email"), 1);
        let names: Vec<&str> = p.roles().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["audit", "engine", "ingest", "service", "support"]);
        assert_eq!(p.intake_raw_ttl(), Span::seconds(86_400));
        assert_eq!(p.class("health_goal").map(|c| c.encrypt), Some(true));
        assert_eq!(p.class("language").map(|c| c.encrypt), Some(false));
    }

    #[test]
    fn unknown_top_level_members_list_the_new_sections() {
        assert_eq!(
            problems(json!({ "governance": {} })),
            ["governance: unknown member; expected one of schema, version, tenant, description, \
              identity_confidence_threshold, max_bundle_lifetime, purposes, classes, segments, tiers, exposure, \
              identity, roles, intake"]
        );
    }
}
