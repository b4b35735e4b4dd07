//! The evaluator: `evaluate(&policy, &verified_bundle, &context) -> Decision`.
//! Pure and deterministic. Work is linear: one pass over the signals, one
//! per context purpose to index what is usable, then one step per rule node.

use crate::bundle::VerifiedBundle;
use crate::failure::FailureCode;
use crate::model::policy::rule::{Facts, Target};
use crate::model::policy::{Cardinality, ContextualWhen, Exposes, Policy};
use crate::model::{ConsentRecord, ConsentStatus, Signal};
use crate::time::UnixTime;

use super::context::Context;
use super::decision::{
    Decision, Expiring, Freshness, Reasons, SegmentOutcome, SegmentReason, SignalReason, Tier, Withheld, Withholding,
};

/// A signal that passed every purpose-independent check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Candidate {
    class: usize,
    value: usize,
    /// Index of its consent record in [`Prepared::consents`].
    consent: usize,
    /// When it stops being usable without the subject's action.
    deadline: UnixTime,
    confirmed_at: UnixTime,
}

/// Per-signal purpose-independent outcome.
type Base = Result<Candidate, Withheld>;

/// For one purpose: the latest confirmation among usable signals, by class,
/// value and category (three parts of one stride of the scratch table).
struct PurposeFacts<'s> {
    classes: &'s [Option<UnixTime>],
    values: &'s [Option<UnixTime>],
    categories: &'s [Option<UnixTime>],
    /// By class: a signal of the class was withheld for this purpose.
    withheld: &'s [bool],
    confidence: f64,
    now: UnixTime,
}

impl Facts for PurposeFacts<'_> {
    fn latest(&self, class: usize, target: Target) -> Option<UnixTime> {
        match target {
            Target::Any => self.classes.get(class).copied().flatten(),
            Target::Value(v) => self.values.get(v).copied().flatten(),
            Target::Category(c) => self.categories.get(c).copied().flatten(),
        }
    }
    fn withheld(&self, class: usize) -> bool {
        self.withheld.get(class).copied().unwrap_or(false)
    }
    fn confidence(&self) -> f64 {
        self.confidence
    }
    fn now(&self) -> UnixTime {
        self.now
    }
}

/// Working buffers of one evaluation. Kept per thread and reused, so that an
/// evaluation allocates little beyond the decision it returns; the result
/// does not depend on what a previous evaluation left here (every buffer is
/// cleared and refilled before use).
#[derive(Debug, Default)]
struct Scratch {
    purposes: Vec<usize>,
    channel_ok: Vec<bool>,
    base: Vec<Base>,
    /// By signal: the index of its class, if the policy knows it.
    class_of: Vec<Option<usize>>,
    withheld: Vec<bool>,
    winner: Vec<Option<usize>>,
    used_mask: Vec<u64>,
    latest: Vec<Option<UnixTime>>,
    seen: Vec<bool>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// `buf` cleared and refilled with `len` copies of `value`.
fn refill<T: Clone>(buf: &mut Vec<T>, len: usize, value: T) -> &mut Vec<T> {
    buf.clear();
    buf.resize(len, value);
    buf
}

fn bump(slot: &mut Option<UnixTime>, t: UnixTime) {
    *slot = Some(slot.map_or(t, |old| old.max(t)));
}

/// Per-evaluation lookups computed once rather than per signal.
struct Prepared<'a, 's> {
    /// For each class: may it be used on the context's channel?
    channel_ok: &'s [bool],
    /// Consent records (a bundle holds a few): id, record, whether its scopes
    /// include the context's, and the policy purposes it grants as bits.
    consents: Vec<(&'a str, &'a ConsentRecord, bool, u64)>,
}

impl<'a, 's> Prepared<'a, 's> {
    fn new(policy: &Policy, bundle: &'a VerifiedBundle, ctx: &Context, channel_ok: &'s mut Vec<bool>) -> Self {
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
fn base_check(policy: &Policy, prep: &Prepared<'_, '_>, s: &Signal, ctx: &Context) -> (Option<usize>, Base) {
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
fn merge_single_valued(policy: &Policy, signals: &[Signal], base: &mut [Base], winner: &mut Vec<Option<usize>>) {
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

/// Evaluates a verified bundle under a policy in a context.
///
/// ```
/// # use signalgate::{bundle::*, eval::*, model::*, UnixTime};
/// let policy = Policy::from_json(include_str!("../../www/policy.json")).unwrap();
/// let key = SigningKey::from_seed(&[3; 32], Some("k1"));
/// let keys = KeySet::from_json(&key.public_jwks_json()).unwrap();
/// let claims: Claims = serde_json::from_str(r#"{"v":1,"iss":"https://origin.demo-shop.example",
///   "sub":"u-1","ten":"demo-shop","aud":"signalgate","iat":1000,"nbf":1000,"exp":90000,"jti":"b-1",
///   "pv":"demo-2026-11","idc":0.95,
///   "cons":{"c1":{"st":"granted","pur":["personalization"],"scp":["web"],"lb":"consent"}},
///   "sig":[{"id":"s1","cls":"interest","val":"trail-running","src":"web","cap":1000,"exp":9000000,
///           "ver":1,"con":"c1","prv":"AAAAAAAAAAAAAAAAAAAAAA"}]}"#).unwrap();
/// let token = Signer::new(key).sign(&claims).unwrap();
/// let bundle = UnverifiedBundle::parse(&token).unwrap()
///     .verify(&keys, &Expectations::new("signalgate", None), UnixTime(2000)).unwrap();
/// let ctx = Context { now: UnixTime(2000), purposes: vec!["personalization".into()],
///     channel: "web".into(), tenant: "demo-shop".into(), scope: "web".into(), gpc: false };
/// let decision = evaluate(&policy, &bundle, &ctx);
/// assert_eq!(decision.tier, Tier::Curated);
/// assert_eq!(decision.segments, vec!["sgt_5d1e9a20c4"]);
/// ```
pub fn evaluate(policy: &Policy, bundle: &VerifiedBundle, ctx: &Context) -> Decision {
    evaluate_with(policy, bundle, ctx, true)
}

/// [`evaluate`] without `reasons` (left empty): the same tier, tokens,
/// categories, channels, freshness and expiring signals, for the hot path
/// (the edge and page code), where reasons would only be thrown away.
pub fn evaluate_summary(policy: &Policy, bundle: &VerifiedBundle, ctx: &Context) -> Decision {
    evaluate_with(policy, bundle, ctx, false)
}

fn evaluate_with(policy: &Policy, bundle: &VerifiedBundle, ctx: &Context, explain: bool) -> Decision {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => evaluate_in(policy, bundle, ctx, explain, &mut scratch),
        Err(_) => evaluate_in(policy, bundle, ctx, explain, &mut Scratch::default()),
    })
}

fn evaluate_in(
    policy: &Policy,
    bundle: &VerifiedBundle,
    ctx: &Context,
    explain: bool,
    scratch: &mut Scratch,
) -> Decision {
    let claims = bundle.claims();
    if claims.tenant != ctx.tenant {
        let msg = format!("bundle tenant `{}` is not the gate's tenant `{}`", claims.tenant, ctx.tenant);
        return Decision::failed(&policy.version, FailureCode::WrongTenant, msg);
    }
    if let Some(t) = policy.tenant.as_deref().filter(|t| *t != ctx.tenant) {
        let msg = format!("policy governs tenant `{t}`, not `{}`", ctx.tenant);
        return Decision::failed(&policy.version, FailureCode::PolicyTenant, msg);
    }
    let now = ctx.now;

    // Context purposes known to the policy, in context order, without repeats.
    let Scratch { purposes, channel_ok, base, class_of, withheld, winner, used_mask, latest, seen } = scratch;
    purposes.clear();
    for p in ctx.purposes.iter().filter_map(|p| policy.purpose_index(p)) {
        if !purposes.contains(&p) {
            purposes.push(p);
        }
    }
    let gpc_blocked = |p: usize| ctx.gpc && policy.purposes[p].gpc_opt_out;

    let prep = Prepared::new(policy, bundle, ctx, channel_ok);
    base.clear();
    class_of.clear();
    for s in &claims.signals {
        let (class, outcome) = base_check(policy, &prep, s, ctx);
        class_of.push(class);
        base.push(outcome);
    }
    let freshness = if base.iter().any(Result::is_ok) {
        Freshness::Fresh
    } else if base.contains(&Err(Withheld::SoftExpiredNotReconfirmed)) {
        Freshness::Stale
    } else if base.contains(&Err(Withheld::Expired)) {
        Freshness::Expired
    } else {
        Freshness::Absent
    };
    merge_single_valued(policy, &claims.signals, base, winner);

    // Per signal and context purpose: used, or why not. Purposes are bits.
    let bit = |p: usize| 1u64 << p;
    let ctx_mask = purposes.iter().fold(0u64, |m, &p| m | bit(p));
    let gpc_mask = (0..policy.purposes.len()).filter(|&p| gpc_blocked(p)).fold(0u64, |m, p| m | bit(p));
    let used_mask = refill(used_mask, base.len(), 0);
    let mut reasons = Reasons::default();
    for (i, (s, b)) in claims.signals.iter().zip(base.iter()).enumerate() {
        let (consented, allowed) = match b {
            Ok(c) => (prep.consents[c.consent].3, policy.classes[c.class].purposes),
            Err(_) => (0, 0),
        };
        if b.is_ok() {
            used_mask[i] = consented & allowed & ctx_mask & !gpc_mask;
        }
        if !explain {
            continue;
        }
        let mut reason =
            SignalReason { signal: s.id.clone(), class: s.class.clone(), used_for: Vec::new(), withheld: Vec::new() };
        match b {
            Err(why) => reason.withheld.push(Withholding { purpose: None, reason: *why }),
            Ok(_) => {
                for &p in purposes.iter() {
                    let name = &policy.purposes[p].name;
                    let why = if consented & bit(p) == 0 {
                        Some(Withheld::PurposeNotConsented)
                    } else if allowed & bit(p) == 0 {
                        Some(Withheld::PurposeNotAllowed)
                    } else if gpc_mask & bit(p) != 0 {
                        Some(Withheld::GpcOptOut)
                    } else {
                        None
                    };
                    match why {
                        Some(r) => reason.withheld.push(Withholding { purpose: Some(name.clone()), reason: r }),
                        None => reason.used_for.push(name.clone()),
                    }
                }
            }
        }
        reasons.signals.push(reason);
    }

    // Index usable signals per context purpose: one stride of `latest` each,
    // holding classes, then values, then categories; and, per purpose and
    // class, whether a signal of the class was withheld for the purpose (a
    // signal that lost the single-valued merge is not withheld: a newer
    // value of its class is known).
    let values_at = policy.classes.len();
    let categories_at = values_at + policy.value_count;
    let stride = categories_at + policy.category_count;
    let n_classes = policy.classes.len();
    let latest = refill(latest, stride * purposes.len(), None);
    let withheld = refill(withheld, n_classes * purposes.len(), false);
    for (k, &p) in purposes.iter().enumerate() {
        let slots = &mut latest[k * stride..(k + 1) * stride];
        let withheld_here = &mut withheld[k * n_classes..(k + 1) * n_classes];
        for ((b, mask), class_index) in base.iter().zip(used_mask.iter()).zip(class_of.iter()) {
            match (b, mask & bit(p) != 0) {
                (Ok(c), true) => {
                    let class = &policy.classes[c.class];
                    bump(&mut slots[c.class], c.confirmed_at);
                    bump(&mut slots[values_at + class.value_base + c.value], c.confirmed_at);
                    bump(
                        &mut slots[categories_at + class.category_base + class.value_category[c.value]],
                        c.confirmed_at,
                    );
                }
                (Err(Withheld::Superseded), _) => {}
                _ => {
                    if let Some(slot) = class_index.and_then(|ci| withheld_here.get_mut(ci)) {
                        *slot = true;
                    }
                }
            }
        }
    }
    let facts = |k: usize| {
        let (classes, rest) = latest[k * stride..(k + 1) * stride].split_at(values_at);
        let (values, categories) = rest.split_at(policy.value_count);
        let withheld = &withheld[k * n_classes..(k + 1) * n_classes];
        PurposeFacts { classes, values, categories, withheld, confidence: claims.identity_confidence, now }
    };

    // Segments.
    let confident = claims.identity_confidence >= policy.identity_confidence_threshold;
    let mut segments = Vec::new();
    for seg in &policy.segments {
        let outcome = match purposes.iter().position(|&p| p == seg.purpose).map(facts) {
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
        if explain {
            reasons.segments.push(SegmentReason { segment: seg.name.clone(), outcome });
        }
    }
    if segments.len() < policy.tiers.curated_min_segments {
        segments.clear();
        for r in reasons.segments.iter_mut().filter(|r| r.outcome == SegmentOutcome::Emitted) {
            r.outcome = SegmentOutcome::BelowCuratedMinimum;
        }
    }
    let tier = if !segments.is_empty() {
        Tier::Curated
    } else if policy.tiers.contextual == ContextualWhen::Never {
        Tier::Generic
    } else {
        Tier::Contextual
    };

    // Categories, channels and expiring signals from what was used.
    let (category_seen, channel_seen) =
        refill(seen, policy.category_count + policy.value_count, false).split_at_mut(policy.category_count);
    let mut allowed_categories = Vec::new();
    let mut allowed_channels = Vec::new();
    let mut expiring = Vec::new();
    for ((s, b), mask) in claims.signals.iter().zip(base.iter()).zip(used_mask.iter()) {
        let (Ok(c), true) = (b, *mask != 0) else { continue };
        let class = &policy.classes[c.class];
        if confident {
            match class.exposes {
                Exposes::Category => {
                    let k = class.value_category[c.value];
                    if !std::mem::replace(&mut category_seen[class.category_base + k], true) {
                        allowed_categories.push(class.categories[k].clone());
                    }
                }
                Exposes::Channel => {
                    if !std::mem::replace(&mut channel_seen[class.value_base + c.value], true) {
                        allowed_channels.push(class.values[c.value].clone());
                    }
                }
                Exposes::None => {}
            }
        }
        if c.deadline.before(class.reconfirm_lead) <= now {
            expiring.push(Expiring { signal: s.id.clone(), class: s.class.clone(), deadline: c.deadline });
        }
    }
    allowed_categories.sort();
    allowed_categories.dedup();
    allowed_channels.sort();
    allowed_channels.dedup();
    expiring.sort_by(|a, b| (a.deadline, &a.signal).cmp(&(b.deadline, &b.signal)));

    Decision {
        tier,
        segments,
        allowed_categories,
        allowed_channels,
        freshness,
        confidence: Some(claims.identity_confidence),
        expiring,
        reasons,
        policy_version: policy.version.clone(),
        bundle_id: Some(claims.bundle_id.clone()),
        error: None,
    }
}

/// The decision for a visitor without a bundle: contextual if the policy
/// allows context alone, otherwise generic. Not a failure.
pub fn without_bundle(policy: &Policy) -> Decision {
    let tier = if policy.tiers.contextual == ContextualWhen::Always { Tier::Contextual } else { Tier::Generic };
    Decision::empty(tier, &policy.version)
}
