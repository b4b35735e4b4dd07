//! Phase 1 and 2 of an evaluation: the checks that do not depend on the
//! purpose (class, vocabulary, consent, legal basis, scope, channel, expiry,
//! soft expiry), then the merge of single-valued classes.

use crate::bundle::VerifiedBundle;
use crate::model::policy::{Cardinality, Policy};
use crate::model::{ConsentRecord, ConsentStatus, Signal};
use crate::time::UnixTime;

use super::super::context::Context;
use super::super::decision::{Freshness, Withheld};
use super::refill;

/// A signal that passed every purpose-independent check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Candidate {
    pub(super) class: usize,
    pub(super) value: usize,
    /// Index of its consent record in [`Prepared::consents`].
    pub(super) consent: usize,
    /// When it stops being usable without the subject's action.
    pub(super) deadline: UnixTime,
    pub(super) confirmed_at: UnixTime,
}

/// Per-signal purpose-independent outcome.
pub(super) type Base = Result<Candidate, Withheld>;

/// Per-evaluation lookups computed once rather than per signal.
pub(super) struct Prepared<'a, 's> {
    /// For each class: may it be used on the context's channel?
    channel_ok: &'s [bool],
    /// Consent records (a bundle holds a few): id, record, whether its scopes
    /// include the context's, and the policy purposes it grants as bits.
    pub(super) consents: Vec<(&'a str, &'a ConsentRecord, bool, u64)>,
}

impl<'a, 's> Prepared<'a, 's> {
    pub(super) fn new(
        policy: &Policy,
        bundle: &'a VerifiedBundle,
        ctx: &Context,
        channel_ok: &'s mut Vec<bool>,
    ) -> Self {
        channel_ok.clear();
        channel_ok.extend(policy.classes.iter().map(|c| c.channels.contains(&ctx.channel)));
        Prepared {
            channel_ok,
            consents: bundle
                .claims()
                .consents
                .iter()
                .map(|(id, r)| {
                    let mask = r.purposes.iter().filter_map(|n| policy.purpose_index(n)).fold(0, |m, p| m | 1u64 << p);
                    (id.as_str(), r, r.scopes.contains(&ctx.scope), mask)
                })
                .collect(),
        }
    }

    /// The index of a consent record in `consents`.
    fn consent(&self, id: &str) -> Option<usize> {
        self.consents.iter().position(|c| c.0 == id)
    }
}

/// Checks that do not depend on the purpose: class, vocabulary, consent
/// status, legal basis, scope, channel, expiry and soft expiry. Returns the
/// signal's class index too (when the policy knows the class), so that a
/// withheld signal still marks its class.
pub(super) fn base_check(policy: &Policy, prep: &Prepared<'_, '_>, s: &Signal, ctx: &Context) -> (Option<usize>, Base) {
    match policy.class_index.get(&s.class) {
        Some(&class_index) => (Some(class_index), class_check(policy, prep, s, ctx, class_index)),
        None => (None, Err(Withheld::UnknownClass)),
    }
}

fn class_check(policy: &Policy, prep: &Prepared<'_, '_>, s: &Signal, ctx: &Context, class_index: usize) -> Base {
    let class = &policy.classes[class_index];
    if !class.in_bundle {
        return Err(Withheld::ClassNotAllowedInBundle);
    }
    let value = *class.value_lookup.get(&s.value).ok_or(Withheld::ValueNotInVocabulary)?;
    // Claims validation guarantees the record exists; a missing one is withheld.
    let consent_index = prep.consent(&s.consent).ok_or(Withheld::ConsentNotGranted)?;
    let (_, consent, scope_ok, _) = prep.consents[consent_index];
    match consent.status {
        ConsentStatus::Granted => {}
        ConsentStatus::Denied => return Err(Withheld::ConsentNotGranted),
        ConsentStatus::Revoked => return Err(Withheld::ConsentRevoked),
    }
    if !class.legal_bases.contains(&consent.legal_basis) {
        return Err(Withheld::LegalBasisNotAllowed);
    }
    if !scope_ok {
        return Err(Withheld::OtherScope);
    }
    if !prep.channel_ok[class_index] {
        return Err(Withheld::ChannelNotAllowed);
    }
    let now = ctx.now;
    let confirmed_at = s.confirmed_at();
    let hard = s.expires_at.min(confirmed_at.after(class.ttl));
    if now >= hard {
        return Err(Withheld::Expired);
    }
    let mut deadline = hard;
    if let Some(soft) = class.soft_expiry {
        let soft_at = s.captured_at.after(soft.after);
        if now >= soft_at {
            match s.reconfirmed_at {
                // Usable while `now < r + window`, so that, as for hard
                // expiry, the deadline is the first instant it is not.
                Some(r) if r <= now && now.before(soft.window) < r => deadline = deadline.min(r.after(soft.window)),
                _ => return Err(Withheld::SoftExpiredNotReconfirmed),
            }
        } else {
            // A reconfirmation before the soft expiry keeps the signal usable
            // until the end of its window.
            let soft_deadline = match s.reconfirmed_at {
                Some(r) if r <= now => soft_at.max(r.after(soft.window)),
                _ => soft_at,
            };
            deadline = deadline.min(soft_deadline);
        }
    }
    Ok(Candidate { class: class_index, value, consent: consent_index, deadline, confirmed_at })
}

/// For single-valued classes, keeps only the most recently confirmed signal
/// (then the highest version, then the greatest id, so the choice is total).
pub(super) fn merge_single_valued(
    policy: &Policy,
    signals: &[Signal],
    base: &mut [Base],
    winner: &mut Vec<Option<usize>>,
) {
    let winner = refill(winner, policy.classes.len(), None);
    for (i, b) in base.iter().enumerate() {
        let Ok(c) = b else { continue };
        if policy.classes[c.class].cardinality != Cardinality::One {
            continue;
        }
        let better = match winner[c.class] {
            None => true,
            Some(w) => {
                let key = |k: usize| (signals[k].confirmed_at(), signals[k].version, signals[k].id.as_str());
                key(i) > key(w)
            }
        };
        if better {
            winner[c.class] = Some(i);
        }
    }
    for (i, b) in base.iter_mut().enumerate() {
        if let Ok(c) = b {
            if policy.classes[c.class].cardinality == Cardinality::One && winner[c.class] != Some(i) {
                *b = Err(Withheld::Superseded);
            }
        }
    }
}

/// How fresh the bundle is, over its best signal (before the merge).
pub(super) fn freshness(base: &[Base]) -> Freshness {
    if base.iter().any(Result::is_ok) {
        Freshness::Fresh
    } else if base.contains(&Err(Withheld::SoftExpiredNotReconfirmed)) {
        Freshness::Stale
    } else if base.contains(&Err(Withheld::Expired)) {
        Freshness::Expired
    } else {
        Freshness::Absent
    }
}
