#![cfg(not(target_arch = "wasm32"))]
//! Property tests for the evaluator (the architecture's invariants) over
//! random policies, bundles and contexts:
//!
//! - the tokens emitted are exactly those of an independent reference model
//!   that evaluates each segment's rule over only the signals that pass every
//!   check (so never from an expired, revoked, out-of-purpose, out-of-scope,
//!   other-tenant, wrong-channel or GPC-blocked signal), and each signal's
//!   `used_for` is exactly the purposes the model finds it usable for;
//! - a policy is refused exactly when one of its rules holds for a visitor
//!   without signals;
//! - any failure through `Gate::decide` is generic, token-free, with an error;
//! - evaluation is deterministic;
//! - nothing in a decision carries the subject id.
//!
//! The reference model works from the generator's own description of the
//! policy, not from the parsed `Policy`, and shares no code with the evaluator.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::{json, Value};
use signalgate::bundle::{KeySet, Revocations, Signer, SigningKey};
use signalgate::codec::b64;
use signalgate::eval::{evaluate, Context, Decision, Detail, Evaluator, Gate, Tier};
use signalgate::model::{Claims, ConsentRecord, ConsentStatus, LegalBasis, Policy, Signal};
use signalgate::UnixTime;

const NOW: i64 = 1_800_000_000;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const AUD: &str = "signalgate";
const SEED: [u8; 32] = [42; 32];
const KID: &str = "props";
const VALUES: [&str; 5] = ["a", "b", "c", "d", "e"];
const CHANNELS: [&str; 4] = ["web", "email", "app", "sms"];
const SCOPES: [&str; 3] = ["web", "app", "email"];
const BASES: [LegalBasis; 4] =
    [LegalBasis::Consent, LegalBasis::Contract, LegalBasis::LegitimateInterest, LegalBasis::VitalInterest];

fn basis_name(b: LegalBasis) -> &'static str {
    match b {
        LegalBasis::Consent => "consent",
        LegalBasis::Contract => "contract",
        LegalBasis::LegitimateInterest => "legitimate_interest",
        LegalBasis::VitalInterest => "vital_interest",
        LegalBasis::LegalObligation => "legal_obligation",
        LegalBasis::PublicTask => "public_task",
    }
}

fn bits<T: Clone>(mask: u8, items: &[T]) -> Vec<T> {
    items.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, t)| t.clone()).collect()
}

// ------------------------------------------------------------------ the policy, as the generator knows it

#[derive(Debug, Clone)]
struct ClassSpec {
    /// Vocabulary: the first `nvalues` of `VALUES` (never "e").
    nvalues: usize,
    /// With a coarsening map: the category number of each value.
    coarsen: Option<Vec<u8>>,
    one: bool,
    ttl_days: i64,
    /// Soft expiry (after, window), in hours.
    soft: Option<(i64, i64)>,
    lead_hours: i64,
    purposes: u8,
    channels: u8,
    bases: u8,
    exposes: u8,
    in_bundle: bool,
}

impl ClassSpec {
    fn value_index(&self, v: &str) -> Option<usize> {
        VALUES[..self.nvalues].iter().position(|x| *x == v)
    }
    fn category(&self, value: usize) -> String {
        match &self.coarsen {
            Some(map) => format!("k{}", map[value]),
            None => VALUES[value].to_string(),
        }
    }
    fn categories(&self) -> Vec<String> {
        let mut out: Vec<String> = (0..self.nvalues).map(|v| self.category(v)).collect();
        out.sort();
        out.dedup();
        out
    }
    fn allows_channel(&self, c: &str) -> bool {
        bits(self.channels, &CHANNELS).contains(&c)
    }
    fn allows_basis(&self, b: LegalBasis) -> bool {
        bits(self.bases, &BASES).contains(&b)
    }
}

#[derive(Debug, Clone)]
enum Target {
    Any,
    Value(usize),
    Category(String),
}

#[derive(Debug, Clone)]
enum RuleSpec {
    All(Vec<RuleSpec>),
    Any(Vec<RuleSpec>),
    Not(Box<RuleSpec>),
    Signal { class: usize, target: Target, within_hours: Option<i64> },
    Confidence(f64),
}

/// A rule before its class and value numbers are fitted to a policy.
#[derive(Debug, Clone)]
enum RawRule {
    All(Vec<RawRule>),
    Any(Vec<RawRule>),
    Not(Box<RawRule>),
    Signal { class: u8, kind: u8, index: u8, within_hours: Option<i64> },
    Confidence(f64),
}

#[derive(Debug, Clone)]
struct SegmentSpec {
    purpose: usize,
    rule: RuleSpec,
}

#[derive(Debug, Clone)]
struct PolicySpec {
    gpc: Vec<bool>,
    classes: Vec<ClassSpec>,
    segments: Vec<SegmentSpec>,
    tenant: Option<&'static str>,
    threshold: f64,
    min_segments: usize,
    /// 0 with_bundle, 1 always, 2 never.
    contextual: u8,
}

fn fit(raw: &RawRule, classes: &[ClassSpec]) -> RuleSpec {
    match raw {
        RawRule::All(rs) => RuleSpec::All(rs.iter().map(|r| fit(r, classes)).collect()),
        RawRule::Any(rs) => RuleSpec::Any(rs.iter().map(|r| fit(r, classes)).collect()),
        RawRule::Not(r) => RuleSpec::Not(Box::new(fit(r, classes))),
        RawRule::Confidence(c) => RuleSpec::Confidence(*c),
        RawRule::Signal { class, kind, index, within_hours } => {
            let ci = usize::from(*class) % classes.len();
            let c = &classes[ci];
            let target = match kind {
                0 => Target::Any,
                1 => Target::Value(usize::from(*index) % c.nvalues),
                _ => {
                    let cats = c.categories();
                    Target::Category(cats[usize::from(*index) % cats.len()].clone())
                }
            };
            RuleSpec::Signal { class: ci, target, within_hours: *within_hours }
        }
    }
}

fn rule_json(r: &RuleSpec) -> Value {
    match r {
        RuleSpec::All(rs) => json!({ "all": rs.iter().map(rule_json).collect::<Vec<_>>() }),
        RuleSpec::Any(rs) => json!({ "any": rs.iter().map(rule_json).collect::<Vec<_>>() }),
        RuleSpec::Not(r) => json!({ "not": rule_json(r) }),
        RuleSpec::Confidence(c) => json!({ "confidence": c }),
        RuleSpec::Signal { class, target, within_hours } => {
            let mut m = serde_json::Map::new();
            m.insert("class".into(), json!(format!("c{class}")));
            match target {
                Target::Any => {}
                Target::Value(v) => {
                    m.insert("value".into(), json!(VALUES[*v]));
                }
                Target::Category(k) => {
                    m.insert("category".into(), json!(k));
                }
            }
            if let Some(h) = within_hours {
                m.insert("within".into(), json!(format!("{h}h")));
            }
            json!({ "signal": m })
        }
    }
}

fn policy_json(p: &PolicySpec) -> String {
    let purposes: serde_json::Map<String, Value> =
        p.gpc.iter().enumerate().map(|(i, g)| (format!("p{i}"), json!({ "gpc_opt_out": g }))).collect();
    let purpose_names: Vec<String> = (0..p.gpc.len()).map(|i| format!("p{i}")).collect();
    let mut classes = serde_json::Map::new();
    for (i, c) in p.classes.iter().enumerate() {
        let mut m = serde_json::Map::new();
        match &c.coarsen {
            None => {
                m.insert("values".into(), json!(VALUES[..c.nvalues]));
            }
            Some(_) => {
                let map: serde_json::Map<String, Value> =
                    (0..c.nvalues).map(|v| (VALUES[v].to_string(), json!(c.category(v)))).collect();
                m.insert("categories".into(), Value::Object(map));
            }
        }
        m.insert("cardinality".into(), json!(if c.one { "one" } else { "many" }));
        m.insert("ttl".into(), json!(format!("{}d", c.ttl_days)));
        if let Some((after, window)) = c.soft {
            m.insert("soft_expiry".into(), json!({ "after": format!("{after}h"), "window": format!("{window}h") }));
        }
        m.insert("reconfirm_lead".into(), json!(format!("{}h", c.lead_hours)));
        m.insert("purposes".into(), json!(bits(c.purposes, &purpose_names)));
        m.insert("channels".into(), json!(bits(c.channels, &CHANNELS)));
        let bases: Vec<&str> = bits(c.bases, &BASES).into_iter().map(basis_name).collect();
        m.insert("legal_basis".into(), json!(bases));
        let exposes = ["none", "category", "channel"][usize::from(c.exposes)];
        m.insert("exposes".into(), json!(exposes));
        if !c.in_bundle {
            m.insert("sensitivity".into(), json!("high"));
            m.insert("in_bundle".into(), json!(false));
        }
        classes.insert(format!("c{i}"), Value::Object(m));
    }
    let segments: serde_json::Map<String, Value> = p
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let seg = json!({ "token": format!("tok{i}"), "purpose": format!("p{}", s.purpose),
                              "rule": rule_json(&s.rule) });
            (format!("s{i}"), seg)
        })
        .collect();
    let contextual = ["with_bundle", "always", "never"][usize::from(p.contextual)];
    let mut doc = json!({
        "schema": 1,
        "version": "props-1",
        "identity_confidence_threshold": p.threshold,
        "purposes": purposes,
        "classes": classes,
        "segments": segments,
        "tiers": { "curated_min_segments": p.min_segments,
                   "contextual": contextual },
    });
    if let Some(t) = p.tenant {
        doc["tenant"] = json!(t);
    }
    doc.to_string()
}

// ------------------------------------------------------------------ strategies

fn class_strategy() -> impl Strategy<Value = ClassSpec> {
    (
        (
            1usize..=4,
            prop::option::of(prop::collection::vec(0u8..2, 4)),
            any::<bool>(),
            prop_oneof![3 => 20i64..=60, 1 => 1i64..=60],
        ),
        (
            prop::option::weighted(
                0.5,
                prop_oneof![2 => (days(1..=60), days(1..=40)), 1 => (1i64..=60 * 24, 1i64..=40 * 24)],
            ),
            prop_oneof![2 => days(1..=30), 1 => 1i64..=30 * 24],
        ),
        (
            // Mostly usable: all purposes, the web channel, the consent basis.
            prop_oneof![5 => Just(0xffu8), 1 => any::<u8>()],
            prop_oneof![5 => Just(0b1111u8), 1 => 1u8..16],
            prop_oneof![5 => Just(0b0011u8), 1 => 1u8..16],
            0u8..3,
            prop::bool::weighted(0.95),
        ),
    )
        .prop_map(
            |(
                (nvalues, coarsen, one, ttl_days),
                (soft, lead_hours),
                (purposes, channels, bases, exposes, in_bundle),
            )| {
                // Soft expiry must start before the TTL ends.
                let soft = soft.map(|(after, window)| ((after % (ttl_days * 24)).max(1), window));
                let soft = soft.filter(|(after, _)| *after < ttl_days * 24);
                ClassSpec {
                    nvalues,
                    coarsen,
                    one,
                    ttl_days,
                    soft,
                    lead_hours,
                    purposes,
                    channels,
                    bases,
                    exposes,
                    in_bundle,
                }
            },
        )
}

fn raw_rule_strategy() -> impl Strategy<Value = RawRule> {
    let leaf = prop_oneof![
        5 => (any::<u8>(), 0u8..3, any::<u8>(), prop::option::weighted(0.3, prop_oneof![days(1..=60), 1i64..=60 * 24]))
            .prop_map(|(class, kind, index, within_hours)| RawRule::Signal { class, kind, index, within_hours }),
        1 => prop::sample::select(vec![0.3, 0.5, 0.8, 0.95]).prop_map(RawRule::Confidence),
    ];
    // Depth at most 3: a leaf under at most two levels of all / any / not.
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..=3).prop_map(RawRule::All),
            prop::collection::vec(inner.clone(), 1..=3).prop_map(RawRule::Any),
            inner.prop_map(|r| RawRule::Not(Box::new(r))),
        ]
    })
}

/// A policy whose rules may hold for a visitor without signals.
fn raw_policy_strategy() -> impl Strategy<Value = PolicySpec> {
    (
        prop::collection::vec(any::<bool>(), 1..=4),
        prop::collection::vec(class_strategy(), 1..=5),
        prop::collection::vec((any::<u8>(), raw_rule_strategy()), 1..=8),
        prop::sample::select(vec![None, None, None, None, Some("t1"), Some("t2")]),
        prop::sample::select(vec![0.0, 0.5, 0.6, 0.9]),
        prop::sample::select(vec![1usize, 1, 1, 2]),
        0u8..3,
    )
        .prop_map(|(gpc, classes, raw_segments, tenant, threshold, min_segments, contextual)| {
            let segments = raw_segments
                .iter()
                .map(|(p, r)| SegmentSpec { purpose: usize::from(*p) % gpc.len(), rule: fit(r, &classes) })
                .collect();
            PolicySpec { gpc, classes, segments, tenant, threshold, min_segments, contextual }
        })
}

/// A valid policy: a rule that would hold without signals is made to need a signal.
fn policy_strategy() -> impl Strategy<Value = PolicySpec> {
    raw_policy_strategy().prop_map(|mut p| {
        for s in &mut p.segments {
            if holds_without_signals(&s.rule) {
                let rule = std::mem::replace(&mut s.rule, RuleSpec::Confidence(0.0));
                let need = RuleSpec::Signal { class: 0, target: Target::Any, within_hours: None };
                s.rule = RuleSpec::All(vec![rule, need]);
            }
        }
        p
    })
}

#[derive(Debug, Clone)]
struct SignalSpec {
    class: u8,
    value: u8,
    cap_hours_ago: i64,
    life_hours: i64,
    /// Reconfirmed this long ago (never before capture).
    rcf_hours_ago: Option<i64>,
    version: u32,
    consent: u8,
}

/// A whole number of days, in hours.
fn days(range: std::ops::RangeInclusive<i64>) -> impl Strategy<Value = i64> {
    range.prop_map(|d| d * 24)
}

fn signal_strategy() -> impl Strategy<Value = SignalSpec> {
    (
        // Fitted to the policy by `fit_claims`: 5 is an unknown class, 4 ("e") an unknown value.
        prop_oneof![9 => 0u8..5, 1 => Just(5u8)],
        prop_oneof![9 => 0u8..4, 1 => Just(4u8)],
        // Mostly whole days, so that expiry boundaries and merge ties happen.
        prop_oneof![2 => days(0..=10), 1 => days(0..=150), 1 => -2i64..=150 * 24],
        prop_oneof![2 => days(1..=200), 1 => 1i64..=200 * 24],
        prop::option::weighted(0.4, prop_oneof![2 => days(0..=150), 1 => -2i64..=150 * 24]),
        1u32..=3,
        0u8..4,
    )
        .prop_map(|(class, value, cap_hours_ago, life_hours, rcf_hours_ago, version, consent)| SignalSpec {
            class,
            value,
            cap_hours_ago,
            life_hours,
            rcf_hours_ago,
            version,
            consent,
        })
}

fn consent_strategy() -> impl Strategy<Value = ConsentRecord> {
    let clean = ConsentRecord {
        status: ConsentStatus::Granted,
        purposes: vec!["p0".into(), "p1".into(), "p2".into(), "p3".into()],
        scopes: vec!["web".into(), "app".into()],
        legal_basis: LegalBasis::Consent,
    };
    let random = (
        prop::sample::select(vec![
            ConsentStatus::Granted,
            ConsentStatus::Granted,
            ConsentStatus::Granted,
            ConsentStatus::Granted,
            ConsentStatus::Granted,
            ConsentStatus::Granted,
            ConsentStatus::Denied,
            ConsentStatus::Revoked,
        ]),
        prop_oneof![2 => Just(0x0fu8), 1 => any::<u8>()],
        prop_oneof![3 => Just(0b011u8), 1 => 1u8..8],
        prop::sample::select(vec![0usize, 0, 0, 0, 0, 0, 1, 2, 3]),
    )
        .prop_map(|(status, purposes, scopes, basis)| {
            let names = ["p0", "p1", "p2", "p3", "px"];
            ConsentRecord {
                status,
                purposes: bits(purposes, &names).into_iter().map(String::from).collect(),
                scopes: bits(scopes, &SCOPES).into_iter().map(String::from).collect(),
                legal_basis: BASES[basis],
            }
        });
    prop_oneof![4 => Just(clean), 1 => random]
}

fn claims_strategy() -> impl Strategy<Value = Claims> {
    (
        prop::collection::vec(signal_strategy(), 0..=12),
        prop::collection::vec(consent_strategy(), 1..=4),
        prop::sample::select(vec![0.0, 0.3, 0.5, 0.6, 0.8, 0.95, 1.0]),
        "[0-9a-f]{12}",
        prop::bool::weighted(0.9),
    )
        .prop_map(|(signals, consents, idc, sub, own_tenant)| {
            let consents: BTreeMap<String, ConsentRecord> =
                consents.into_iter().enumerate().map(|(i, c)| (format!("k{i}"), c)).collect();
            let n = consents.len();
            let signals = signals
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    // Captured and reconfirmed no later than `iat` (= NOW)
                    // plus the clock skew: later times are refused.
                    let latest = NOW + 60;
                    let cap = (NOW - s.cap_hours_ago * HOUR).min(latest);
                    Signal {
                        id: format!("g{i}"),
                        class: format!("c{}", s.class),
                        value: VALUES[usize::from(s.value)].to_string(),
                        source: "web".into(),
                        captured_at: UnixTime(cap),
                        expires_at: UnixTime(cap + s.life_hours * HOUR),
                        reconfirmed_at: s.rcf_hours_ago.map(|h| UnixTime((NOW - h * HOUR).clamp(cap, latest))),
                        version: s.version,
                        consent: format!("k{}", usize::from(s.consent) % n),
                        provenance: "AAAAAAAAAAAAAAAAAAAAAA".into(),
                    }
                })
                .collect();
            Claims {
                version: 1,
                issuer: "https://origin.example".into(),
                subject: format!("sub-{sub}"),
                tenant: if own_tenant { "t1" } else { "t2" }.into(),
                audience: AUD.into(),
                issued_at: UnixTime(NOW),
                not_before: UnixTime(NOW - HOUR),
                expires_at: UnixTime(NOW + HOUR),
                bundle_id: "b-props".into(),
                policy_version: "props-1".into(),
                identity_confidence: idc,
                consents,
                signals,
            }
        })
}

fn context_strategy() -> impl Strategy<Value = Context> {
    (
        prop_oneof![
            6 => prop::collection::vec(prop::sample::select(vec!["p0", "p0", "p1", "p2", "p3", "px"]), 1..=3),
            1 => prop::collection::vec(prop::sample::select(vec!["p0", "p1", "px"]), 0..=1),
        ],
        prop_oneof![6 => Just("web"), 1 => prop::sample::select(CHANNELS.to_vec())],
        prop_oneof![6 => Just("web"), 1 => prop::sample::select(SCOPES.to_vec())],
        prop::sample::select(vec!["t1", "t1", "t1", "t1", "t1", "t2"]),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(purposes, channel, scope, tenant, gpc)| Context {
            now: UnixTime(NOW),
            purposes: purposes.into_iter().map(String::from).collect(),
            channel: channel.into(),
            tenant: tenant.into(),
            scope: scope.into(),
            gpc,
        })
}

/// Points the signals of random claims at the policy's classes and values
/// (class `c5` and value `e` stay unknown).
fn fit_claims(claims: &mut Claims, p: &PolicySpec) {
    for s in &mut claims.signals {
        let class: usize = s.class[1..].parse().unwrap();
        if class < 5 {
            let class = class % p.classes.len();
            s.class = format!("c{class}");
            let value = VALUES.iter().position(|v| *v == s.value).unwrap();
            if value < 4 {
                s.value = VALUES[value % p.classes[class].nvalues].to_string();
            }
        }
    }
}

/// Points the route's purposes at the policy's (`px` stays unknown).
fn fit_context(ctx: &mut Context, p: &PolicySpec) {
    for name in &mut ctx.purposes {
        if let Ok(i) = name[1..].parse::<usize>() {
            *name = format!("p{}", i % p.gpc.len());
        }
    }
}

// ------------------------------------------------------------------ the reference model

/// Whether a rule holds for a visitor without signals, at some identity confidence.
fn holds_without_signals(rule: &RuleSpec) -> bool {
    let mut levels = vec![0.0, 1.0];
    fn collect(r: &RuleSpec, out: &mut Vec<f64>) {
        match r {
            RuleSpec::All(rs) | RuleSpec::Any(rs) => rs.iter().for_each(|r| collect(r, out)),
            RuleSpec::Not(r) => collect(r, out),
            RuleSpec::Confidence(c) => out.push(*c),
            RuleSpec::Signal { .. } => {}
        }
    }
    collect(rule, &mut levels);
    levels.iter().any(|&c| rule_holds(rule, &[], &[], c))
}

fn confirmed(s: &Signal) -> i64 {
    s.reconfirmed_at.map_or(s.captured_at.0, |r| r.0.max(s.captured_at.0))
}

struct Expected {
    tokens: BTreeSet<String>,
    used_for: Vec<Vec<String>>,
    tier: Tier,
    categories: BTreeSet<String>,
    channels: BTreeSet<String>,
    /// (deadline, signal id), in order.
    expiring: Vec<(i64, String)>,
}

struct Model<'a> {
    p: &'a PolicySpec,
    claims: &'a Claims,
    ctx: &'a Context,
}

impl Model<'_> {
    fn class(&self, s: &Signal) -> Option<(usize, &ClassSpec)> {
        let i: usize = s.class.strip_prefix('c')?.parse().ok()?;
        self.p.classes.get(i).map(|c| (i, c))
    }

    /// The purpose-independent checks.
    fn passes_base(&self, s: &Signal) -> bool {
        let now = self.ctx.now.0;
        let Some((_, class)) = self.class(s) else { return false };
        let Some(consent) = self.claims.consents.get(&s.consent) else { return false };
        let soft_ok = match class.soft {
            None => true,
            Some((after, window)) => {
                now < s.captured_at.0 + after * HOUR
                    || s.reconfirmed_at.is_some_and(|r| r.0 <= now && now < r.0 + window * HOUR)
            }
        };
        class.in_bundle
            && class.value_index(&s.value).is_some()
            && consent.status == ConsentStatus::Granted
            && class.allows_basis(consent.legal_basis)
            && consent.scopes.contains(&self.ctx.scope)
            && class.allows_channel(&self.ctx.channel)
            && now < s.expires_at.0.min(confirmed(s) + class.ttl_days * DAY)
            && soft_ok
    }

    /// Indices of the signals that pass the base checks and are not beaten
    /// by another of the same single-valued class.
    fn candidates(&self) -> Vec<usize> {
        let signals = &self.claims.signals;
        let base: Vec<usize> = (0..signals.len()).filter(|&i| self.passes_base(&signals[i])).collect();
        let key = |i: usize| (confirmed(&signals[i]), signals[i].version, signals[i].id.clone());
        base.iter()
            .copied()
            .filter(|&i| {
                let (_, class) = self.class(&signals[i]).unwrap();
                !class.one || base.iter().all(|&j| j == i || signals[j].class != signals[i].class || key(j) < key(i))
            })
            .collect()
    }

    /// The first instant a usable signal stops being usable unless the
    /// subject reconfirms it (a reconfirmation in the future does not count).
    fn deadline(&self, s: &Signal) -> i64 {
        let (_, class) = self.class(s).unwrap();
        let mut candidates = vec![s.expires_at.0, confirmed(s) + class.ttl_days * DAY];
        if let Some((after, window)) = class.soft {
            let soft_at = s.captured_at.0 + after * HOUR;
            let window_end = s.reconfirmed_at.filter(|r| r.0 <= self.ctx.now.0).map(|r| r.0 + window * HOUR);
            candidates.push(window_end.map_or(soft_at, |end| end.max(soft_at)));
        }
        candidates.into_iter().min().unwrap()
    }

    fn purpose_index(&self, name: &str) -> Option<usize> {
        let i: usize = name.strip_prefix('p')?.parse().ok()?;
        (i < self.p.gpc.len()).then_some(i)
    }

    /// The context purposes the policy knows, in context order, without repeats.
    fn purposes(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for p in self.ctx.purposes.iter().filter_map(|p| self.purpose_index(p)) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    fn usable_for(&self, s: &Signal, purpose: usize) -> bool {
        let (_, class) = self.class(s).unwrap();
        let name = format!("p{purpose}");
        self.claims.consents[&s.consent].purposes.contains(&name)
            && class.purposes & (1 << purpose) != 0
            && !(self.ctx.gpc && self.p.gpc[purpose])
    }

    /// Classes with a signal withheld for `purpose`: known class, and not
    /// usable for it, unless it only lost the single-valued merge.
    fn withheld_classes(&self, candidates: &[usize], purpose: usize) -> BTreeSet<String> {
        let signals = &self.claims.signals;
        (0..signals.len())
            .filter(|&i| self.class(&signals[i]).is_some())
            .filter(|&i| {
                let candidate = candidates.contains(&i);
                let superseded = !candidate && self.passes_base(&signals[i]);
                let used = candidate && self.usable_for(&signals[i], purpose);
                !superseded && !used
            })
            .map(|i| signals[i].class.clone())
            .collect()
    }

    fn failed(&self) -> bool {
        self.claims.tenant != self.ctx.tenant || self.p.tenant.is_some_and(|t| t != self.ctx.tenant)
    }

    /// Tokens, per signal the purposes it is used for, and the tier.
    fn decide(&self) -> Expected {
        let signals = &self.claims.signals;
        let candidates = self.candidates();
        let purposes = self.purposes();
        let used_for: Vec<Vec<String>> = (0..signals.len())
            .map(|i| {
                if !candidates.contains(&i) {
                    return Vec::new();
                }
                purposes.iter().filter(|&&p| self.usable_for(&signals[i], p)).map(|p| format!("p{p}")).collect()
            })
            .collect();
        let mut tokens = BTreeSet::new();
        let idc = self.claims.identity_confidence;
        for (n, seg) in self.p.segments.iter().enumerate() {
            if !purposes.contains(&seg.purpose) || idc < self.p.threshold {
                continue;
            }
            let usable: Vec<&Signal> =
                candidates.iter().map(|&i| &signals[i]).filter(|s| self.usable_for(s, seg.purpose)).collect();
            let classes: Vec<&ClassSpec> = usable.iter().map(|s| self.class(s).unwrap().1).collect();
            let withheld = self.withheld_classes(&candidates, seg.purpose);
            if rule_value(&seg.rule, &usable, &classes, &withheld, idc) == Some(true) {
                tokens.insert(format!("tok{n}"));
            }
        }
        if tokens.len() < self.p.min_segments {
            tokens.clear();
        }
        let tier = if !tokens.is_empty() {
            Tier::Curated
        } else if self.p.contextual == 2 {
            Tier::Generic
        } else {
            Tier::Contextual
        };
        // Categories and channels from used signals (only with enough identity
        // confidence); expiring: used signals inside their reconfirmation lead time.
        let mut categories = BTreeSet::new();
        let mut channels = BTreeSet::new();
        let mut expiring = Vec::new();
        for (s, used) in signals.iter().zip(&used_for).filter(|(_, u)| !u.is_empty()) {
            let (_, class) = self.class(s).unwrap();
            if idc >= self.p.threshold {
                match class.exposes {
                    1 => categories.insert(class.category(class.value_index(&s.value).unwrap())),
                    2 => channels.insert(s.value.clone()),
                    _ => false,
                };
            }
            let deadline = self.deadline(s);
            assert!(deadline > self.ctx.now.0, "{} is used for {used:?} but not usable", s.id);
            if deadline - class.lead_hours * HOUR <= self.ctx.now.0 {
                expiring.push((deadline, s.id.clone()));
            }
        }
        expiring.sort();
        Expected { tokens, used_for, tier, categories, channels, expiring }
    }
}

/// A rule over a list of usable signals (and their classes) in three-valued
/// logic: `Some(true)`, `Some(false)`, or `None` (unknown) when no usable
/// signal matches a predicate whose class has a withheld signal.
fn rule_value(
    rule: &RuleSpec,
    usable: &[&Signal],
    classes: &[&ClassSpec],
    withheld: &BTreeSet<String>,
    idc: f64,
) -> Option<bool> {
    let each = |rs: &[RuleSpec]| -> Vec<Option<bool>> {
        rs.iter().map(|r| rule_value(r, usable, classes, withheld, idc)).collect()
    };
    match rule {
        RuleSpec::All(rs) => {
            let vs = each(rs);
            if vs.contains(&Some(false)) {
                Some(false)
            } else if vs.contains(&None) {
                None
            } else {
                Some(true)
            }
        }
        RuleSpec::Any(rs) => {
            let vs = each(rs);
            if vs.contains(&Some(true)) {
                Some(true)
            } else if vs.contains(&None) {
                None
            } else {
                Some(false)
            }
        }
        RuleSpec::Not(r) => rule_value(r, usable, classes, withheld, idc).map(|v| !v),
        RuleSpec::Confidence(min) => Some(idc >= *min),
        RuleSpec::Signal { class, .. } => {
            if rule_holds(rule, usable, classes, idc) {
                Some(true)
            } else if withheld.contains(&format!("c{class}")) {
                None
            } else {
                Some(false)
            }
        }
    }
}

/// Whether a `signal` predicate (or, with no signals, a whole rule) holds
/// in two-valued logic over a list of usable signals.
fn rule_holds(rule: &RuleSpec, usable: &[&Signal], classes: &[&ClassSpec], idc: f64) -> bool {
    match rule {
        RuleSpec::All(rs) => rs.iter().all(|r| rule_holds(r, usable, classes, idc)),
        RuleSpec::Any(rs) => rs.iter().any(|r| rule_holds(r, usable, classes, idc)),
        RuleSpec::Not(r) => !rule_holds(r, usable, classes, idc),
        RuleSpec::Confidence(min) => idc >= *min,
        RuleSpec::Signal { class, target, within_hours } => usable.iter().zip(classes).any(|(s, c)| {
            let vi = c.value_index(&s.value).unwrap();
            s.class == format!("c{class}")
                && match target {
                    Target::Any => true,
                    Target::Value(v) => vi == *v,
                    Target::Category(k) => c.category(vi) == *k,
                }
                && within_hours.is_none_or(|h| confirmed(s) >= NOW - h * HOUR)
        }),
    }
}

// ------------------------------------------------------------------ helpers

fn key() -> SigningKey {
    SigningKey::from_seed(&SEED, Some(KID))
}

fn new_gate(policy: Policy) -> Gate {
    Gate::new(policy, KeySet::new(vec![key().public_key()]).unwrap(), AUD)
}

fn sign(claims: &Claims) -> String {
    Signer::new(key()).sign(claims).unwrap()
}

fn assert_failed(d: &Decision) -> Result<(), TestCaseError> {
    prop_assert_eq!(d.tier, Tier::Generic);
    prop_assert!(d.segments.is_empty());
    prop_assert!(d.error.is_some());
    prop_assert!(d.allowed_categories.is_empty() && d.allowed_channels.is_empty() && d.expiring.is_empty());
    prop_assert!(d.reasons.signals.is_empty() && d.reasons.segments.is_empty());
    prop_assert!(d.bundle_id.is_none() && d.confidence.is_none());
    Ok(())
}

// ------------------------------------------------------------------ properties

thread_local! {
    // One evaluator kept across the property's cases (proptest runs them on
    // one thread), so that each case meets buffers an earlier case filled.
    static USED_EVALUATOR: std::cell::RefCell<Evaluator> = std::cell::RefCell::new(Evaluator::new());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    /// Invariants 1, 3 and 4 on the full path (sign, verify, evaluate).
    #[test]
    fn tokens_match_the_reference_model(p in policy_strategy(), mut claims in claims_strategy(), mut ctx in context_strategy()) {
        fit_claims(&mut claims, &p);
        fit_context(&mut ctx, &p);
        let text = policy_json(&p);
        let policy = Policy::from_json(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let mut gate = new_gate(policy.clone());
        let token = sign(&claims);
        let decision = gate.decide(Some(&token), &ctx);
        let model = Model { p: &p, claims: &claims, ctx: &ctx };

        if model.failed() {
            assert_failed(&decision)?;
        } else {
            prop_assert!(decision.error.is_none(), "{:?}", decision.error);
            let Expected { tokens, used_for, tier, categories, channels, expiring } = model.decide();
            let got: BTreeSet<String> = decision.segments.iter().cloned().collect();
            prop_assert_eq!(got.len(), decision.segments.len(), "repeated token");
            prop_assert_eq!(&got, &tokens);
            prop_assert_eq!(decision.tier, tier);
            // Tokens come in policy order (segments sorted by name).
            let mut ordered = decision.segments.clone();
            ordered.sort_by_key(|t| format!("s{}", &t[3..]));
            prop_assert_eq!(&ordered, &decision.segments);
            prop_assert_eq!(decision.reasons.signals.len(), claims.signals.len());
            for (r, want) in decision.reasons.signals.iter().zip(&used_for) {
                prop_assert_eq!(&r.used_for, want, "signal {}", r.signal);
            }
            prop_assert_eq!(&decision.allowed_categories, &categories.into_iter().collect::<Vec<_>>());
            prop_assert_eq!(&decision.allowed_channels, &channels.into_iter().collect::<Vec<_>>());
            let got: Vec<(i64, String)> = decision.expiring.iter().map(|e| (e.deadline.0, e.signal.clone())).collect();
            prop_assert_eq!(got, expiring);
            // Each token needs at least one signal usable for its purpose.
            if !tokens.is_empty() {
                prop_assert!(used_for.iter().any(|u| !u.is_empty()));
            }
        }

        // Deterministic: same inputs, same decision (again from the same
        // gate, from a fresh parse, and via a fresh evaluator).
        prop_assert_eq!(&gate.decide(Some(&token), &ctx), &decision);
        let again = new_gate(Policy::from_json(&text).unwrap()).decide(Some(&token), &ctx);
        prop_assert_eq!(&again, &decision);
        if let Ok(verified) = gate.verify(&token, ctx.now) {
            if decision.error.is_none() || decision.error.as_ref().is_some_and(|e| e.code.as_str().contains("tenant")) {
                prop_assert_eq!(&evaluate(&policy, &verified, &ctx), &decision);
                // An evaluator whose buffers every earlier case has used (other
                // policies, bundles and contexts) decides as a fresh one does.
                let reused = USED_EVALUATOR.with(|e| e.borrow_mut().evaluate(&policy, &verified, &ctx, Detail::Full));
                prop_assert_eq!(&reused, &decision);
            }
        }

        // No raw identifiers: the subject id appears nowhere in the decision.
        let json = serde_json::to_string(&decision).unwrap();
        prop_assert!(!json.contains(&claims.subject));
    }

    /// A policy is refused exactly when a rule holds for a visitor with no signals.
    #[test]
    fn rules_that_hold_without_signals_are_refused(p in raw_policy_strategy()) {
        let text = policy_json(&p);
        let bad: Vec<usize> = (0..p.segments.len()).filter(|&i| holds_without_signals(&p.segments[i].rule)).collect();
        match Policy::from_json(&text) {
            Ok(_) => prop_assert!(bad.is_empty(), "accepted, but segments {:?} hold without signals\n{}", bad, text),
            Err(e) => {
                let paths: Vec<String> = bad.iter().map(|i| format!("segments.s{i}.rule")).collect();
                let got: Vec<String> = e.problems.iter().map(|pr| pr.path.clone()).collect();
                prop_assert_eq!(got, paths, "{}", e);
            }
        }
    }

    /// Invariant 2: whatever fails, the decision is generic, without tokens, with an error.
    #[test]
    fn failures_are_generic(
        mut p in policy_strategy(),
        mut claims in claims_strategy(),
        ctx in context_strategy(),
        failure in 0u8..9,
        flip in any::<prop::sample::Index>(),
    ) {
        p.tenant = None;
        fit_claims(&mut claims, &p);
        let mut ctx = ctx;
        fit_context(&mut ctx, &p);
        claims.tenant = ctx.tenant.clone();
        let policy = Policy::from_json(&policy_json(&p)).unwrap();
        let mut gate = new_gate(policy);
        let good = sign(&claims);
        let parts: Vec<&str> = good.split('.').collect();
        let token = match failure {
            0 => {
                // Payload changed after signing.
                let mut forged = claims.clone();
                forged.identity_confidence = if forged.identity_confidence < 1.0 { 1.0 } else { 0.0 };
                let payload = b64::encode(&serde_json::to_vec(&forged).unwrap());
                format!("{}.{}.{}", parts[0], payload, parts[2])
            }
            1 => {
                let mut sig = b64::decode(parts[2]).unwrap();
                let i = flip.index(sig.len());
                sig[i] ^= 0x20;
                format!("{}.{}.{}", parts[0], parts[1], b64::encode(&sig))
            }
            2 => Signer::new(SigningKey::from_seed(&[7; 32], Some(KID))).sign(&claims).unwrap(),
            3 => Signer::new(SigningKey::from_seed(&SEED, Some("retired"))).sign(&claims).unwrap(),
            4 => {
                ctx.now = UnixTime(claims.expires_at.0 + 61 + flip.index(1000) as i64);
                good
            }
            5 => {
                ctx.now = UnixTime(claims.not_before.0 - 61 - flip.index(1000) as i64);
                good
            }
            6 => {
                claims.tenant = format!("{}-other", ctx.tenant);
                sign(&claims)
            }
            7 => {
                gate = gate.with_revocations(Revocations::from_json(&format!(r#"{{"bundles":["{}"]}}"#, claims.bundle_id)).unwrap());
                good
            }
            _ => {
                // A truncated token.
                good[..flip.index(good.len())].to_string()
            }
        };
        let d = gate.decide(Some(&token), &ctx);
        assert_failed(&d)?;
        if failure == 6 {
            prop_assert_eq!(d.error.as_ref().map(|e| e.code.as_str()), Some("wrong_tenant"));
        }
        prop_assert!(!serde_json::to_string(&d).unwrap().contains(&claims.subject));
    }

    /// Arbitrary text as a bundle never panics and never yields tokens.
    #[test]
    fn garbage_bundles_are_generic(p in policy_strategy(), ctx in context_strategy(), token in "[ -~]{0,300}") {
        let d = new_gate(Policy::from_json(&policy_json(&p)).unwrap()).decide(Some(&token), &ctx);
        assert_failed(&d)?;
    }
}
