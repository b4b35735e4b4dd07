//! Phase 5 of an evaluation: which segments are emitted and the tier that
//! follows, then what the used signals contribute to the decision (allowed
//! categories and channels, signals to reconfirm soon).

use crate::model::policy::{ContextualWhen, Exposes, Policy};
use crate::model::Claims;
use crate::time::UnixTime;

use super::super::decision::{Expiring, Reasons, SegmentOutcome, SegmentReason, Tier};
use super::facts::FactTable;
use super::refill;
use super::signals::Base;

/// The emitted tokens (in segment order) and the tier. A segment is emitted
/// when its purpose is in the context, its rule is true (three-valued: an
/// unknown never emits) and the identity confidence reaches the policy's
/// threshold; fewer than `curated_min_segments` emit none.
pub(super) fn segments(
    policy: &Policy,
    purposes: &[usize],
    facts: &FactTable<'_>,
    confident: bool,
    mut reasons: Option<&mut Reasons>,
) -> (Tier, Vec<String>) {
    let mut segments = Vec::new();
    for seg in &policy.segments {
        let outcome = match purposes.iter().position(|&p| p == seg.purpose).map(|k| facts.purpose(k)) {
            None => SegmentOutcome::PurposeNotInContext,
            Some(f) if seg.rule.holds(&f) => {
                if confident {
                    segments.push(seg.token.clone());
                    SegmentOutcome::Emitted
                } else {
                    SegmentOutcome::IdentityConfidenceBelowThreshold
                }
            }
            Some(_) => SegmentOutcome::RuleNotSatisfied,
        };
        if let Some(r) = reasons.as_deref_mut() {
            r.segments.push(SegmentReason { segment: seg.name.clone(), outcome });
        }
    }
    if segments.len() < policy.tiers.curated_min_segments {
        segments.clear();
        for r in reasons.into_iter().flat_map(|r| r.segments.iter_mut()) {
            if r.outcome == SegmentOutcome::Emitted {
                r.outcome = SegmentOutcome::BelowCuratedMinimum;
            }
        }
    }
    let tier = if !segments.is_empty() {
        Tier::Curated
    } else if policy.tiers.contextual == ContextualWhen::Never {
        Tier::Generic
    } else {
        Tier::Contextual
    };
    (tier, segments)
}

/// What the used signals contribute besides segments.
pub(super) struct Exposed {
    pub(super) categories: Vec<String>,
    pub(super) channels: Vec<String>,
    pub(super) expiring: Vec<Expiring>,
}

/// Categories and channels from the signals used for some context purpose
/// (only with enough identity confidence), and the used signals inside their
/// reconfirmation lead time. `seen` is a working buffer.
pub(super) fn exposed(
    policy: &Policy,
    claims: &Claims,
    base: &[Base],
    used_mask: &[u64],
    seen: &mut Vec<bool>,
    confident: bool,
    now: UnixTime,
) -> Exposed {
    let (category_seen, channel_seen) =
        refill(seen, policy.category_count + policy.value_count, false).split_at_mut(policy.category_count);
    let mut out = Exposed { categories: Vec::new(), channels: Vec::new(), expiring: Vec::new() };
    for ((s, b), mask) in claims.signals.iter().zip(base.iter()).zip(used_mask.iter()) {
        let (Ok(c), true) = (b, *mask != 0) else { continue };
        let class = &policy.classes[c.class];
        if confident {
            match class.exposes {
                Exposes::Category => {
                    let k = class.value_category[c.value];
                    if !std::mem::replace(&mut category_seen[class.category_base + k], true) {
                        out.categories.push(class.categories[k].clone());
                    }
                }
                Exposes::Channel => {
                    if !std::mem::replace(&mut channel_seen[class.value_base + c.value], true) {
                        out.channels.push(class.values[c.value].clone());
                    }
                }
                Exposes::None => {}
            }
        }
        if c.deadline.before(class.reconfirm_lead) <= now {
            out.expiring.push(Expiring { signal: s.id.clone(), class: s.class.clone(), deadline: c.deadline });
        }
    }
    out.categories.sort();
    out.categories.dedup();
    out.channels.sort();
    out.channels.dedup();
    out.expiring.sort_by(|a, b| (a.deadline, &a.signal).cmp(&(b.deadline, &b.signal)));
    out
}
