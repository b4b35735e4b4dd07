//! The `roles` section: which signal fields and classes each API caller role
//! sees, and what it may do.

use serde_json::Value;

use super::classes::MAX_CLASSES;
use super::walker::{join, Walker};
use crate::codec::fnv::NameMap;
use crate::model::policy::{FieldSet, Role, MAX_ROLES, SERVICE_ROLE, SIGNAL_FIELDS};

/// The roles in name order, with the built-in `service` role unless declared.
pub(super) fn roles(w: &mut Walker, v: Option<&Value>, class_index: &NameMap<usize>) -> Vec<Role> {
    let mut out = Vec::new();
    if let Some(m) = v.and_then(|v| w.object(v, "roles")) {
        if m.len() > MAX_ROLES {
            w.problem("roles", format!("at most {MAX_ROLES} roles, found {}", m.len()));
        } else {
            for (name, spec) in m {
                let path = join("roles", name);
                if w.name_ok(name, &path) {
                    out.extend(role(w, name, spec, &path, class_index));
                }
            }
        }
    }
    if !out.iter().any(|r| r.name == SERVICE_ROLE) {
        let at = out.partition_point(|r| r.name.as_str() < SERVICE_ROLE);
        out.insert(at, Role::service());
    }
    out
}

fn role(w: &mut Walker, name: &str, v: &Value, path: &str, class_index: &NameMap<usize>) -> Option<Role> {
    let spec = w.object(v, path)?;
    w.only(spec, path, &["fields", "classes", "history", "consents", "write", "identity", "delete", "description"]);
    let fields = w.required(spec, path, "fields").map(|v| fields(w, v, &join(path, "fields")));
    let classes = spec.get("classes").map(|list| {
        let p = join(path, "classes");
        let mut names: Vec<String> = Vec::new();
        for (i, item) in w.list(list, &p, MAX_CLASSES).iter().enumerate() {
            let ip = format!("{p}[{i}]");
            let Some(c) = w.string(item, &ip) else { continue };
            if !class_index.contains_key(c) {
                w.problem(&ip, format!("no class {c:?}"));
            } else if names.iter().any(|n| n == c) {
                w.problem(&ip, format!("{c:?} is listed twice"));
            } else {
                names.push(c.to_string());
            }
        }
        names
    });
    Some(Role {
        name: name.to_string(),
        fields: fields?,
        classes,
        history: w.bool_or(spec, path, "history", false),
        consents: w.bool_or(spec, path, "consents", false),
        write: w.bool_or(spec, path, "write", false),
        identity: w.bool_or(spec, path, "identity", false),
        delete: w.bool_or(spec, path, "delete", false),
    })
}

/// `fields`: names of [`SIGNAL_FIELDS`], or `["*"]` for all of them.
fn fields(w: &mut Walker, v: &Value, path: &str) -> FieldSet {
    let items = w.list(v, path, SIGNAL_FIELDS.len());
    let mut set = FieldSet::NONE;
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{path}[{i}]");
        let Some(f) = w.string(item, &ip) else { continue };
        if f == "*" {
            if items.len() == 1 {
                set = FieldSet::ALL;
            } else {
                w.problem(&ip, "\"*\" stands for every field and must be alone");
            }
            continue;
        }
        let Some(index) = SIGNAL_FIELDS.iter().position(|known| *known == f) else {
            w.problem(&ip, format!("unknown field {f:?}; known: {}", SIGNAL_FIELDS.join(", ")));
            continue;
        };
        if set.contains(f) {
            w.problem(&ip, format!("{f:?} is listed twice"));
            continue;
        }
        set = set.with(index);
    }
    set
}
