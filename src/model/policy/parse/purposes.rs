//! The `purposes` section.

use serde_json::Value;

use super::walker::{join, Walker};
use crate::model::policy::Purpose;

const MAX_PURPOSES: usize = 64;

pub(super) fn purposes(w: &mut Walker, v: &Value) -> Vec<Purpose> {
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
