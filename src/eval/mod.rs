//! The gate: evaluation of a verified bundle under a policy in a request
//! context, producing a [`Decision`]. Pure: no clock, no I/O, no JS.

mod context;
mod decision;
mod evaluate;
mod gate;

pub use context::Context;
pub use decision::{
    Decision, DecisionError, Expiring, Freshness, Reasons, SegmentOutcome, SegmentReason, SignalReason, Tier, Withheld,
    Withholding,
};
pub use evaluate::{evaluate, evaluate_summary, without_bundle, Detail, Evaluator};
pub use gate::{Gate, MAX_BUNDLE_LIMIT};
