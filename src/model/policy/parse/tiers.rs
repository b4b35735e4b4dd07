//! The `tiers` section.

use serde_json::Value;

use super::walker::Walker;
use crate::model::policy::{ContextualWhen, Tiers};

pub(super) fn tiers(w: &mut Walker, v: Option<&Value>) -> Tiers {
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
