#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Gate benchmarks: evaluation against synthetic policies, policy parsing and
//! gate construction, bundle verification, and `Gate::decide` end to end.
//!
//! `cargo bench --bench gate` (add `-- --quick` for a fast run).

#[cfg(not(target_arch = "wasm32"))]
mod benches {
    use std::hint::black_box;
    use std::time::Duration;

    use criterion::{Criterion, Throughput};
    use serde_json::{json, Value};
    use signalgate::bundle::{Expectations, KeySet, Signer, SigningKey, UnverifiedBundle, VerifiedBundle};
    use signalgate::eval::{evaluate, Context, Detail, Evaluator, Gate, Tier};
    use signalgate::model::{Claims, Policy};
    use signalgate::serve::{decide_with_cache, BundleCache};
    use signalgate::UnixTime;

    const NOW: i64 = 1_800_000_000;
    const DAY: i64 = 86_400;
    const DEMO_POLICY: &str = include_str!("../www/policy.json");
    const CLASSES: usize = 16;
    const VALUES: usize = 16;

    fn key() -> SigningKey {
        SigningKey::from_seed(&[42; 32], Some("bench"))
    }

    fn keys() -> KeySet {
        KeySet::new(vec![key().public_key()]).unwrap()
    }

    fn context(tenant: &str) -> Context {
        Context {
            now: UnixTime(NOW),
            purposes: vec!["personalization".into()],
            channel: "web".into(),
            tenant: tenant.into(),
            scope: "web".into(),
            gpc: false,
        }
    }

    /// 16 classes of 16 values coarsened into 4 categories, and `segments`
    /// rules of 7 nodes each:
    /// `all[value, any[category, not value], within]`.
    fn synthetic_policy(segments: usize) -> String {
        let mut classes = serde_json::Map::new();
        for c in 0..CLASSES {
            let map: serde_json::Map<String, Value> =
                (0..VALUES).map(|v| (format!("v{v}"), json!(format!("g{}", v % 4)))).collect();
            let mut class = json!({
                "categories": map,
                "cardinality": if c < 4 { "one" } else { "many" },
                "ttl": "365d",
                "purposes": ["personalization", "marketing"],
                "channels": ["web", "email"],
                "exposes": if c % 3 == 0 { "category" } else { "none" },
            });
            if c % 2 == 0 {
                class["soft_expiry"] = json!({ "after": "180d", "window": "60d" });
            }
            classes.insert(format!("k{c}"), class);
        }
        let mut segs = serde_json::Map::new();
        for i in 0..segments {
            let (a, b, c, d) = (i % CLASSES, (i * 3 + 1) % CLASSES, (i * 5 + 2) % CLASSES, (i * 7 + 3) % CLASSES);
            let rule = json!({ "all": [
                { "signal": { "class": format!("k{a}"), "value": format!("v{}", (i * 7) % VALUES) } },
                { "any": [
                    { "signal": { "class": format!("k{b}"), "category": format!("g{}", i % 4) } },
                    { "not": { "signal": { "class": format!("k{c}"), "value": format!("v{}", i % VALUES) } } },
                ] },
                { "signal": { "class": format!("k{d}"), "within": "30d" } },
            ] });
            let purpose = if i % 4 == 3 { "marketing" } else { "personalization" };
            segs.insert(
                format!("r{i:03}"),
                json!({ "token": format!("tok_{i:03}"), "purpose": purpose, "rule": rule }),
            );
        }
        json!({
            "schema": 1,
            "version": "bench-1",
            "purposes": { "personalization": {}, "marketing": {} },
            "classes": classes,
            "segments": segs,
        })
        .to_string()
    }

    fn claims(tenant: &str, signals: Vec<Value>) -> Claims {
        serde_json::from_value(json!({
            "v": 1, "iss": "https://origin.example", "sub": "u-bench", "ten": tenant, "aud": "signalgate",
            "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + DAY, "jti": "b-bench", "pv": "bench-1", "idc": 0.9,
            "cons": { "c": { "st": "granted", "pur": ["personalization", "marketing"], "scp": ["web"], "lb": "consent" } },
            "sig": signals,
        }))
        .unwrap()
    }

    /// `n` signals spread over the synthetic classes and values, captured
    /// over the last 40 days.
    fn synthetic_claims(n: usize) -> Claims {
        let signals = (0..n)
            .map(|i| {
                let cap = NOW - (i as i64 % 40) * DAY - 3_600;
                json!({ "id": format!("s{i}"), "cls": format!("k{}", i % CLASSES), "val": format!("v{}", (i * 7) % VALUES),
                        "src": "web", "cap": cap, "exp": cap + 300 * DAY, "ver": 1, "con": "c",
                        "prv": "AAAAAAAAAAAAAAAAAAAAAA" })
            })
            .collect();
        claims("bench", signals)
    }

    /// A realistic 16-signal bundle for the demo policy.
    fn demo_claims() -> Claims {
        let picks = [
            ("interest", "trail-running"),
            ("interest", "hiking"),
            ("interest", "climbing"),
            ("interest", "cycling"),
            ("interest", "camping"),
            ("interest", "road-running"),
            ("language", "de"),
            ("language", "en"),
            ("contact_channel", "email"),
            ("contact_channel", "sms"),
            ("contact_channel", "push"),
            ("sms_quiet_hours", "after-20h"),
            ("price_band", "premium"),
            ("price_band", "mid"),
            ("interest", "yoga"),
            ("health_goal", "weight-loss"),
        ];
        let signals = picks
            .iter()
            .enumerate()
            .map(|(i, (cls, val))| {
                let cap = NOW - (i as i64 * 5 + 1) * DAY;
                json!({ "id": format!("s{i:02}"), "cls": cls, "val": val, "src": "web", "cap": cap,
                        "exp": cap + 400 * DAY, "ver": 1, "con": "c", "prv": "AAAAAAAAAAAAAAAAAAAAAA" })
            })
            .collect();
        claims("demo-shop", signals)
    }

    fn sign(claims: &Claims) -> String {
        Signer::new(key()).sign(claims).unwrap()
    }

    fn verify(token: &str) -> VerifiedBundle {
        // Large synthetic bundles exceed the cookie-sized default limit.
        UnverifiedBundle::parse_with_limit(token, 256 * 1024)
            .unwrap()
            .verify(&keys(), &Expectations::new("signalgate", None), UnixTime(NOW))
            .unwrap()
    }

    pub fn evaluate_benches(c: &mut Criterion) {
        let mut group = c.benchmark_group("evaluate");
        for (signals, rules) in [(32, 64), (64, 64), (128, 128), (256, 256)] {
            let token = sign(&synthetic_claims(signals));
            let policy = Policy::from_json(&synthetic_policy(rules)).unwrap();
            let bundle = verify(&token);
            let ctx = context("bench");
            let d = evaluate(&policy, &bundle, &ctx);
            assert_eq!(d.tier, Tier::Curated, "the synthetic bundle should satisfy some rules");
            eprintln!(
                "evaluate {signals} signals x {rules} rules: {} tokens, bundle {} bytes",
                d.segments.len(),
                token.len()
            );
            group.throughput(Throughput::Elements(rules as u64));
            // As a gate evaluates: one evaluator, its buffers reused.
            let mut evaluator = Evaluator::new();
            group.bench_function(format!("{signals}_signals_x_{rules}_rules"), |b| {
                b.iter(|| evaluator.evaluate(black_box(&policy), black_box(&bundle), black_box(&ctx), Detail::Full))
            });
            group.bench_function(format!("summary_{signals}_signals_x_{rules}_rules"), |b| {
                b.iter(|| evaluator.evaluate(black_box(&policy), black_box(&bundle), black_box(&ctx), Detail::Summary))
            });
        }
        group.finish();
    }

    pub fn policy_benches(c: &mut Criterion) {
        c.bench_function("policy/from_json+gate_new (demo policy)", |b| {
            b.iter(|| {
                let policy = Policy::from_json(black_box(DEMO_POLICY)).unwrap();
                Gate::new(policy, keys(), "signalgate")
            })
        });
    }

    pub fn bundle_benches(c: &mut Criterion) {
        let token = sign(&demo_claims());
        eprintln!("demo bundle: 16 signals, {} bytes", token.len());
        let keys = keys();
        let expect = Expectations::new("signalgate", None);
        c.bench_function("bundle/parse+verify (16 signals)", |b| {
            b.iter(|| {
                UnverifiedBundle::parse(black_box(&token)).unwrap().verify(&keys, &expect, UnixTime(NOW)).unwrap()
            })
        });

        let mut gate = Gate::new(Policy::from_json(DEMO_POLICY).unwrap(), keys.clone(), "signalgate");
        let ctx = context("demo-shop");
        let d = gate.decide(Some(&token), &ctx);
        assert!(d.error.is_none() && d.tier == Tier::Curated, "{d:?}");
        c.bench_function("gate/decide end to end (16 signals, demo policy)", |b| {
            b.iter(|| gate.decide(black_box(Some(&token)), black_box(&ctx)))
        });
        // The repeat visitor at the edge: cache hit, summary detail.
        let mut cache = BundleCache::default();
        c.bench_function("gate/cached decision (16 signals, demo policy)", |b| {
            b.iter(|| {
                decide_with_cache(&mut gate, &mut cache, black_box(Some(&token)), black_box(&ctx), Detail::Summary)
            })
        });
    }

    pub fn config() -> Criterion {
        Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2))
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group! {
    name = gate;
    config = benches::config();
    targets = benches::evaluate_benches, benches::policy_benches, benches::bundle_benches
}
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(gate);

#[cfg(target_arch = "wasm32")]
fn main() {}
