//! [`Gate`]: a policy, a key set and revocations, parsed once and reused for
//! every request. `decide` never fails: a failure is a generic decision.

use std::collections::BTreeMap;

use crate::bundle::{BundleError, Expectations, KeySet, Revocations, UnverifiedBundle, VerifiedBundle};
use crate::model::Policy;
use crate::time::{UnixTime, CLOCK_SKEW};

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
    /// Bundle ids revoked through a revocation feed, per tenant, each with
    /// its bundle's expiry (see [`Gate::revoke_tenant_bundles`]).
    feed_revoked: BTreeMap<String, BTreeMap<String, UnixTime>>,
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
            feed_revoked: BTreeMap::new(),
            max_bundle_bytes: crate::bundle::MAX_BUNDLE_BYTES,
            evaluator: Evaluator::new(),
        }
    }

    /// Adds revoked bundle ids for every tenant, kept for the gate's life:
    /// they stop yielding tokens at once, cached or not. A revocation feed
    /// uses [`revoke_tenant_bundles`](Self::revoke_tenant_bundles) instead.
    pub fn revoke_bundles(&mut self, ids: impl IntoIterator<Item = String>) {
        self.revocations.bundles.extend(ids);
    }

    /// Adds bundle ids revoked by `tenant`'s revocation feed, each with its
    /// bundle's expiry (`expires_at`): they stop yielding tokens at once,
    /// cached or not, but only for bundles of that tenant, so one tenant's
    /// feed can never revoke another's bundles. An entry is kept only while
    /// its bundle could still verify (until its expiry plus the clock skew),
    /// and the tenant's expired entries are dropped on every call, so memory
    /// stays bounded by the revocations still live.
    ///
    /// ```
    /// # use signalgate::{bundle::*, eval::*, model::Policy, UnixTime};
    /// # let policy = Policy::from_json(include_str!("../../www/policy.json")).unwrap();
    /// # let keys = KeySet::from_json(&SigningKey::from_seed(&[3; 32], None).public_jwks_json()).unwrap();
    /// let mut gate = Gate::new(policy, keys, "signalgate");
    /// gate.revoke_tenant_bundles("demo-shop", [("b-1".to_string(), UnixTime(1_000))], UnixTime(900));
    /// assert_eq!(gate.feed_revocations(), 1);
    /// gate.revoke_tenant_bundles("demo-shop", [], UnixTime(1_060));
    /// assert_eq!(gate.feed_revocations(), 0);
    /// ```
    pub fn revoke_tenant_bundles(
        &mut self,
        tenant: &str,
        entries: impl IntoIterator<Item = (String, UnixTime)>,
        now: UnixTime,
    ) {
        let live = |expires: &UnixTime| now < expires.after(CLOCK_SKEW);
        let ids = self.feed_revoked.entry(tenant.to_string()).or_default();
        for (id, expires) in entries.into_iter().filter(|(_, e)| live(e)) {
            let kept = ids.entry(id).or_insert(expires);
            *kept = (*kept).max(expires);
        }
        ids.retain(|_, expires| live(expires));
        if ids.is_empty() {
            self.feed_revoked.remove(tenant);
        }
    }

    /// How many feed revocations the gate holds (every tenant).
    pub fn feed_revocations(&self) -> usize {
        self.feed_revoked.values().map(BTreeMap::len).sum()
    }

    /// `Err(Revoked)` if the bundle is revoked, by the configured list or by
    /// its own tenant's feed.
    fn check_revoked(&self, bundle: &VerifiedBundle) -> Result<(), BundleError> {
        self.revocations.check(bundle)?;
        let c = bundle.claims();
        if self.feed_revoked.get(&c.tenant).is_some_and(|ids| ids.contains_key(&c.bundle_id)) {
            return Err(BundleError::Revoked { what: "id" });
        }
        Ok(())
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
        self.check_revoked(&bundle)?;
        Ok(bundle)
    }

    /// Decides for an already verified bundle (e.g. from a cache): re-checks
    /// time, audience and revocation, then evaluates.
    pub fn decide_verified(&mut self, bundle: &VerifiedBundle, ctx: &Context) -> Decision {
        self.decide_verified_with(bundle, ctx, Detail::Full)
    }

    /// [`decide_verified`](Self::decide_verified) with the given detail.
    pub fn decide_verified_with(&mut self, bundle: &VerifiedBundle, ctx: &Context, detail: Detail) -> Decision {
        match bundle.recheck(&self.expect, ctx.now).and_then(|()| self.check_revoked(bundle)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{Signer, SigningKey};
    use crate::eval::Tier;
    use crate::model::Claims;

    const POLICY: &str = include_str!("../../www/policy.json");

    fn claims(tenant: &str, jti: &str) -> Claims {
        let json = format!(
            r#"{{"v":1,"iss":"https://origin.example","sub":"u-1","ten":"{tenant}","aud":"signalgate",
            "iat":1000,"nbf":1000,"exp":90000,"jti":"{jti}","pv":"p","idc":0.95,
            "cons":{{"c1":{{"st":"granted","pur":["personalization"],"scp":["web"],"lb":"consent"}}}},
            "sig":[{{"id":"s1","cls":"language","val":"de","src":"web","cap":1000,"exp":9000000,
            "ver":1,"con":"c1","prv":"AAAAAAAAAAAAAAAAAAAAAA"}}]}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    fn ctx(tenant: &str, now: i64) -> Context {
        Context {
            now: UnixTime(now),
            purposes: vec!["personalization".into()],
            channel: "web".into(),
            tenant: tenant.into(),
            scope: "web".into(),
            gpc: false,
        }
    }

    fn gate_and_signer() -> (Gate, Signer) {
        let key = SigningKey::from_seed(&[7; 32], None);
        let keys = KeySet::from_json(&key.public_jwks_json()).unwrap();
        // Policies name their tenant; this one is tested for two.
        let mut policy: serde_json::Value = serde_json::from_str(POLICY).unwrap();
        policy.as_object_mut().unwrap().remove("tenant");
        let policy = Policy::from_json(&policy.to_string()).unwrap();
        (Gate::new(policy, keys, "signalgate"), Signer::new(key))
    }

    #[test]
    fn a_feed_revokes_only_its_own_tenants_bundles() {
        let (mut gate, signer) = gate_and_signer();
        let ours = signer.sign(&claims("shop-a", "b-shared")).unwrap();
        let theirs = signer.sign(&claims("shop-b", "b-shared")).unwrap();
        gate.revoke_tenant_bundles("shop-a", [("b-shared".to_string(), UnixTime(90_000))], UnixTime(2000));
        let a = gate.decide(Some(&ours), &ctx("shop-a", 2000));
        assert_eq!(a.error.map(|e| e.code), Some(crate::failure::FailureCode::Revoked));
        // The same id in another tenant's bundle is another bundle.
        let b = gate.decide(Some(&theirs), &ctx("shop-b", 2000));
        assert_eq!((b.tier, b.error), (Tier::Curated, None));
        // A cached (already verified) bundle is checked again too.
        let verified = UnverifiedBundle::parse(&ours)
            .unwrap()
            .verify(gate.keys(), &Expectations::new("signalgate", None), UnixTime(2000))
            .unwrap();
        let cached = gate.decide_verified(&verified, &ctx("shop-a", 2000));
        assert_eq!(cached.error.map(|e| e.code), Some(crate::failure::FailureCode::Revoked));
    }

    #[test]
    fn feed_revocations_are_forgotten_once_their_bundles_expire() {
        let (mut gate, _) = gate_and_signer();
        let entries = (0..100).map(|i| (format!("b-{i}"), UnixTime(10_000 + i)));
        gate.revoke_tenant_bundles("shop-a", entries, UnixTime(5_000));
        gate.revoke_tenant_bundles("shop-b", [("b-x".to_string(), UnixTime(20_000))], UnixTime(5_000));
        assert_eq!(gate.feed_revocations(), 101);
        // An entry already expired (with the skew) is not even kept.
        gate.revoke_tenant_bundles("shop-a", [("old".to_string(), UnixTime(4_000))], UnixTime(5_000));
        assert_eq!(gate.feed_revocations(), 101);
        // A bundle stays refused while it could still verify: up to its
        // expiry plus the clock skew; then its entry is dropped.
        gate.revoke_tenant_bundles("shop-a", [], UnixTime(10_049 + 60));
        assert_eq!(gate.feed_revocations(), 50 + 1);
        gate.revoke_tenant_bundles("shop-a", [], UnixTime(20_000));
        assert_eq!(gate.feed_revocations(), 1, "shop-b's entry is its own");
    }
}
