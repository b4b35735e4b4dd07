//! The `intake` section: how long raw free-text answers may live.

use serde_json::Value;

use super::walker::Walker;
use crate::model::policy::{DEFAULT_INTAKE_RAW_TTL, MAX_INTAKE_RAW_TTL, MIN_INTAKE_RAW_TTL};
use crate::time::Span;

/// `intake.raw_ttl`, or its default.
pub(super) fn raw_ttl(w: &mut Walker, v: Option<&Value>) -> Span {
    let Some(m) = v.and_then(|v| w.object(v, "intake")) else { return DEFAULT_INTAKE_RAW_TTL };
    w.only(m, "intake", &["raw_ttl"]);
    let ttl = w.opt_span(m, "intake", "raw_ttl", DEFAULT_INTAKE_RAW_TTL);
    if ttl > MAX_INTAKE_RAW_TTL {
        w.problem("intake.raw_ttl", format!("at most {MAX_INTAKE_RAW_TTL}"));
    } else if ttl < MIN_INTAKE_RAW_TTL {
        w.problem("intake.raw_ttl", format!("at least {MIN_INTAKE_RAW_TTL}"));
    }
    ttl
}
