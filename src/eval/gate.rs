//! [`Gate`]: a policy, a key set and revocations, parsed once and reused for
//! every request. `decide` never fails: a failure is a generic decision.

use crate::bundle::{BundleError, Expectations, KeySet, Revocations, UnverifiedBundle, VerifiedBundle};
use crate::model::Policy;
use crate::time::UnixTime;

use super::context::Context;
use super::decision::Decision;
use super::evaluate::{without_bundle, Detail, Evaluator};

/// Everything needed to decide, built once. It owns the evaluator's working
/// buffers, so deciding takes `&mut self`; a binding that shares a gate keeps
/// it behind a `RefCell`.
///
/// ```
/// # use signalgate::{bundle::*, eval::*, model::Policy, UnixTime};
/// let policy = Policy::from_json(include_str!("../../www/policy.json")).unwrap();
/// let keys = KeySet::from_json(&SigningKey::from_seed(&[3; 32], None).public_jwks_json()).unwrap();
/// let mut gate = Gate::new(policy, keys, "signalgate");
/// let ctx = Context { now: UnixTime(0), purposes: vec!["personalization".into()], channel: "web".into(),
///     tenant: "demo-shop".into(), scope: "web".into(), gpc: false };
/// let d = gate.decide(Some("not-a-bundle"), &ctx);
/// assert_eq!(d.tier, Tier::Generic);
/// assert!(d.segments.is_empty());
/// assert_eq!(d.error.unwrap().code, "not_compact_jws");
/// ```
#[derive(Debug, Clone)]
pub struct Gate {
    policy: Policy,
    keys: KeySet,
    expect: Expectations,
    revocations: Revocations,
    max_bundle_bytes: usize,
    evaluator: Evaluator,
}

/// The largest bundle size limit a gate may be configured with.
pub const MAX_BUNDLE_LIMIT: usize = 256 * 1024;

impl Gate {
    /// A gate for bundles addressed to `audience`.
    pub fn new(policy: Policy, keys: KeySet, audience: &str) -> Gate {
        let expect =
            Expectations { max_lifetime: Some(policy.max_bundle_lifetime), ..Expectations::new(audience, None) };
        Gate {
            policy,
            keys,
            expect,
            revocations: Revocations::default(),
            max_bundle_bytes: crate::bundle::MAX_BUNDLE_BYTES,
            evaluator: Evaluator::new(),
        }
    }

    /// Adds revoked bundle ids (from a revocation feed): they stop yielding
    /// tokens at once, cached or not.
    pub fn revoke_bundles(&mut self, ids: impl IntoIterator<Item = String>) {
        self.revocations.bundles.extend(ids);
    }

    /// Replaces the revocation list.
    pub fn with_revocations(mut self, revocations: Revocations) -> Gate {
        self.revocations = revocations;
        self
    }

    /// Accepts bundles up to `bytes` (capped at 256 KiB, 262,144 bytes) instead of
    /// [`MAX_BUNDLE_BYTES`](crate::bundle::MAX_BUNDLE_BYTES).
    pub fn with_max_bundle_bytes(mut self, bytes: usize) -> Gate {
        self.max_bundle_bytes = bytes.min(MAX_BUNDLE_LIMIT);
        self
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The key set.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Parses and verifies a bundle, then checks revocation.
    pub fn verify(&self, token: &str, now: UnixTime) -> Result<VerifiedBundle, BundleError> {
        let bundle =
            UnverifiedBundle::parse_with_limit(token, self.max_bundle_bytes)?.verify(&self.keys, &self.expect, now)?;
        self.revocations.check(&bundle)?;
        Ok(bundle)
    }

    /// Decides for an already verified bundle (e.g. from a cache): re-checks
    /// time, audience and revocation, then evaluates.
    pub fn decide_verified(&mut self, bundle: &VerifiedBundle, ctx: &Context) -> Decision {
        self.decide_verified_with(bundle, ctx, Detail::Full)
    }

    /// [`decide_verified`](Self::decide_verified) with the given detail.
    pub fn decide_verified_with(&mut self, bundle: &VerifiedBundle, ctx: &Context, detail: Detail) -> Decision {
        match bundle.recheck(&self.expect, ctx.now).and_then(|()| self.revocations.check(bundle)) {
            Ok(()) => self.evaluate(bundle, ctx, detail),
            Err(e) => self.failed(&e),
        }
    }

    fn evaluate(&mut self, bundle: &VerifiedBundle, ctx: &Context, detail: Detail) -> Decision {
        self.evaluator.evaluate(&self.policy, bundle, ctx, detail)
    }

    /// The whole pipeline for one request. Without a bundle: contextual or
    /// generic as the policy says. Any failure: generic, no tokens, the reason.
    pub fn decide(&mut self, token: Option<&str>, ctx: &Context) -> Decision {
        self.decide_with(token, ctx, Detail::Full)
    }

    /// [`decide`](Self::decide) with the given detail.
    pub fn decide_with(&mut self, token: Option<&str>, ctx: &Context, detail: Detail) -> Decision {
        match token.map(|t| self.verify(t, ctx.now)) {
            None => without_bundle(&self.policy),
            Some(Ok(bundle)) => self.evaluate(&bundle, ctx, detail),
            Some(Err(e)) => self.failed(&e),
        }
    }

    /// The generic decision for a bundle error.
    pub fn failed(&self, e: &BundleError) -> Decision {
        Decision::failed(&self.policy.version, e.code(), e.to_string())
    }
}
