//! The `exposure` section: what page code and the upstream origin may see.

use serde_json::Value;

use super::walker::{join, Walker};
use crate::model::policy::{Exposure, Field};

pub(super) fn exposure(w: &mut Walker, v: Option<&Value>) -> Exposure {
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
