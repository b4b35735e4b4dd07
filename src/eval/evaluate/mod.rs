//! The evaluator: `evaluate(&policy, &verified_bundle, &context) -> Decision`.
//! Pure and deterministic. Work is linear: one pass over the signals, one
//! per context purpose to index what is usable, then one step per rule node.
//!
//! An evaluation runs in named phases over working buffers an [`Evaluator`]
//! owns and reuses (so a gate that decides often allocates little beyond the
//! decisions it returns):
//!
//! 1. [`signals`]: purpose-independent checks of each signal;
//! 2. the merge of single-valued classes;
//! 3. [`Evaluator::purpose_masks`]: for each signal, the context purposes it
//!    may be used for (and why not, with `reasons`);
//! 4. [`facts`]: the facts rules see, per purpose;
//! 5. [`outcome`]: segments and tier, then the categories, channels and
//!    expiring signals the used signals contribute.

mod facts;
mod outcome;
mod signals;

use crate::bundle::VerifiedBundle;
use crate::failure::FailureCode;
use crate::model::policy::{ContextualWhen, Policy};
use crate::time::UnixTime;

use super::context::Context;
use super::decision::{Decision, Reasons, SignalReason, Tier, Withheld, Withholding};
use facts::FactTable;
use signals::{Base, Prepared};

/// How much a decision explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// With `reasons` per signal and segment (explain, audit, logs).
    Full,
    /// Without `reasons`: the hot path for the edge and page code.
    Summary,
}

/// `buf` cleared and refilled with `len` copies of `value`.
fn refill<T: Clone>(buf: &mut Vec<T>, len: usize, value: T) -> &mut Vec<T> {
    buf.clear();
    buf.resize(len, value);
    buf
}

/// Evaluates decisions, reusing its working buffers from one evaluation to
/// the next. The result never depends on what an earlier evaluation left in
/// them: every buffer is cleared and refilled before use, and a fresh
/// evaluator decides the same (property-tested).
#[derive(Debug, Clone, Default)]
pub struct Evaluator {
    purposes: Vec<usize>,
    channel_ok: Vec<bool>,
    base: Vec<Base>,
    /// By signal: the index of its class, if the policy knows it.
    class_of: Vec<Option<usize>>,
    winner: Vec<Option<usize>>,
    used_mask: Vec<u64>,
    latest: Vec<Option<UnixTime>>,
    withheld: Vec<bool>,
    seen: Vec<bool>,
}

/// Evaluates a verified bundle under a policy in a context, with reasons
/// (a new [`Evaluator`] each time: for one-off decisions; a gate keeps one).
///
/// ```
/// # use signalgate::{bundle::*, eval::*, model::*, UnixTime};
/// let policy = Policy::from_json(include_str!("../../../www/policy.json")).unwrap();
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
    Evaluator::default().evaluate(policy, bundle, ctx, Detail::Full)
}

/// [`evaluate`] without `reasons` (left empty): the same tier, tokens,
/// categories, channels, freshness and expiring signals, for the hot path
/// (the edge and page code), where reasons would only be thrown away.
pub fn evaluate_summary(policy: &Policy, bundle: &VerifiedBundle, ctx: &Context) -> Decision {
    Evaluator::default().evaluate(policy, bundle, ctx, Detail::Summary)
}

/// The decision for a visitor without a bundle: contextual if the policy
/// allows context alone, otherwise generic. Not a failure.
pub fn without_bundle(policy: &Policy) -> Decision {
    let tier = if policy.tiers.contextual == ContextualWhen::Always { Tier::Contextual } else { Tier::Generic };
    Decision::empty(tier, &policy.version)
}

impl Evaluator {
    /// A new evaluator with empty buffers.
    pub fn new() -> Evaluator {
        Evaluator::default()
    }

    /// Evaluates a verified bundle under a policy in a context.
    pub fn evaluate(&mut self, policy: &Policy, bundle: &VerifiedBundle, ctx: &Context, detail: Detail) -> Decision {
        let explain = detail == Detail::Full;
        let claims = bundle.claims();
        if let Some(failed) = tenant_mismatch(policy, bundle, ctx) {
            return failed;
        }
        let Evaluator { purposes, channel_ok, base, class_of, winner, used_mask, latest, withheld, seen } = self;
        context_purposes(policy, ctx, purposes);

        // 1. Purpose-independent checks.
        let prep = Prepared::new(policy, bundle, ctx, channel_ok);
        base.clear();
        class_of.clear();
        for s in &claims.signals {
            let (class, outcome) = signals::base_check(policy, &prep, s, ctx);
            class_of.push(class);
            base.push(outcome);
        }
        let freshness = signals::freshness(base);
        // 2. Single-valued classes keep their newest signal.
        signals::merge_single_valued(policy, &claims.signals, base, winner);
        // 3. Per signal, the context purposes it is used for.
        let mut reasons = Reasons::default();
        let masks = Masks { policy, ctx, prep: &prep, purposes, base };
        masks.fill(bundle, used_mask, explain.then_some(&mut reasons));
        // 4. What rules see, per purpose.
        let facts = FactTable::build(
            policy,
            purposes,
            base,
            class_of,
            used_mask,
            (latest, withheld),
            claims.identity_confidence,
            ctx.now,
        );
        // 5. Segments and tier, then what the used signals contribute.
        let confident = claims.identity_confidence >= policy.identity_confidence_threshold;
        let (tier, segments) = outcome::segments(policy, purposes, &facts, confident, explain.then_some(&mut reasons));
        let exposed = outcome::exposed(policy, claims, base, used_mask, seen, confident, ctx.now);
        Decision {
            tier,
            segments,
            allowed_categories: exposed.categories,
            allowed_channels: exposed.channels,
            freshness,
            confidence: Some(claims.identity_confidence),
            expiring: exposed.expiring,
            reasons,
            policy_version: policy.version.clone(),
            bundle_id: Some(claims.bundle_id.clone()),
            error: None,
        }
    }
}

/// The context purposes the policy knows, in context order, without repeats.
fn context_purposes(policy: &Policy, ctx: &Context, purposes: &mut Vec<usize>) {
    purposes.clear();
    for p in ctx.purposes.iter().filter_map(|p| policy.purpose_index(p)) {
        if !purposes.contains(&p) {
            purposes.push(p);
        }
    }
}

/// What phase 3 reads.
struct Masks<'a> {
    policy: &'a Policy,
    ctx: &'a Context,
    prep: &'a Prepared<'a, 'a>,
    purposes: &'a [usize],
    base: &'a [Base],
}

impl Masks<'_> {
    /// Phase 3: `used_mask[i]` bit `p` set when signal `i` may be used for
    /// purpose `p` of the context (its consent grants it, its class allows
    /// it, GPC does not opt out of it). With `reasons`, also why each signal
    /// was used or withheld, per purpose.
    fn fill(&self, bundle: &VerifiedBundle, used_mask: &mut Vec<u64>, mut reasons: Option<&mut Reasons>) {
        let Masks { policy, ctx, prep, purposes, base } = *self;
        let bit = |p: usize| 1u64 << p;
        let ctx_mask = purposes.iter().fold(0u64, |m, &p| m | bit(p));
        let gpc_mask = (0..policy.purposes.len())
            .filter(|&p| ctx.gpc && policy.purposes[p].gpc_opt_out)
            .fold(0u64, |m, p| m | bit(p));
        let used_mask = refill(used_mask, base.len(), 0);
        for (i, (s, b)) in bundle.claims().signals.iter().zip(base.iter()).enumerate() {
            let (consented, allowed) = match b {
                Ok(c) => (prep.consents[c.consent].3, policy.classes[c.class].purposes),
                Err(_) => (0, 0),
            };
            if b.is_ok() {
                used_mask[i] = consented & allowed & ctx_mask & !gpc_mask;
            }
            let Some(reasons) = reasons.as_deref_mut() else { continue };
            let mut reason = SignalReason {
                signal: s.id.clone(),
                class: s.class.clone(),
                used_for: Vec::new(),
                withheld: Vec::new(),
            };
            match b {
                Err(why) => reason.withheld.push(Withholding { purpose: None, reason: *why }),
                Ok(_) => {
                    for &p in purposes {
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
    }
}

/// A bundle for another tenant than the context's, or a policy for another
/// tenant: the failed decision.
fn tenant_mismatch(policy: &Policy, bundle: &VerifiedBundle, ctx: &Context) -> Option<Decision> {
    let claims = bundle.claims();
    if claims.tenant != ctx.tenant {
        let msg = format!("bundle tenant `{}` is not the gate's tenant `{}`", claims.tenant, ctx.tenant);
        return Some(Decision::failed(&policy.version, FailureCode::WrongTenant, msg));
    }
    if let Some(t) = policy.tenant.as_deref().filter(|t| *t != ctx.tenant) {
        let msg = format!("policy governs tenant `{t}`, not `{}`", ctx.tenant);
        return Some(Decision::failed(&policy.version, FailureCode::PolicyTenant, msg));
    }
    None
}
