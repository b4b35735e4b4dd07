//! Checks that must give the same results natively, in Node and in headless
//! Chromium. Each is a plain function; `tests/it/main.rs`,
//! `tests/wasm_node.rs` and `tests/wasm_browser.rs` run them in each place.
//! Data comes in with `include_str!` so no file system is needed.

pub mod eval_cases;

/// One test per portable check, each marked with `$test` (`test` natively,
/// `wasm_bindgen_test` in wasm).
macro_rules! portable_tests {
    ($test:meta) => {
        #[$test]
        fn wycheproof() {
            portable::wycheproof();
        }
        #[$test]
        fn rfc8037_example() {
            portable::rfc8037_example();
        }
        #[$test]
        fn bundles_sign_verify_and_reject() {
            portable::bundles_sign_verify_and_reject();
        }
        #[$test]
        fn keygen_uses_platform_randomness() {
            portable::keygen_uses_platform_randomness();
        }
        #[$test]
        fn demo_gate_decisions() {
            portable::demo_gate_decisions();
        }
        #[$test]
        fn eval_vectors() {
            portable::eval_vectors();
        }
    };
}

use signalgate::bundle::{jws, BundleError, Expectations, KeySet, PublicKey, Signer, SigningKey, UnverifiedBundle};
use signalgate::eval::{Context, Gate, Tier};
use signalgate::model::{Claims, Policy};
use signalgate::UnixTime;

const WYCHEPROOF: &str = include_str!("../vectors/ed25519/wycheproof_ed25519_test.json");
const POLICY: &str = include_str!("../../www/policy.json");

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Every Wycheproof Ed25519 case: `valid` verifies, `invalid` does not.
pub fn wycheproof() {
    let doc: serde_json::Value = serde_json::from_str(WYCHEPROOF).unwrap();
    let mut checked = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        let pk = unhex(group["publicKey"]["pk"].as_str().unwrap());
        let key = <[u8; 32]>::try_from(pk.as_slice()).ok().and_then(|b| PublicKey::from_bytes(&b, Some("k")).ok());
        for t in group["tests"].as_array().unwrap() {
            let msg = unhex(t["msg"].as_str().unwrap());
            let sig = unhex(t["sig"].as_str().unwrap());
            let verified = match (&key, <[u8; 64]>::try_from(sig.as_slice())) {
                (Some(k), Ok(s)) => {
                    k.verifying_key().verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&s)).is_ok()
                }
                _ => false,
            };
            match t["result"].as_str().unwrap() {
                "valid" => assert!(verified, "tcId {} should verify", t["tcId"]),
                "invalid" => assert!(!verified, "tcId {} should not verify", t["tcId"]),
                _ => {}
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} cases");
}

/// RFC 8037 appendix A.4: the example JWS verifies and is reproduced exactly.
pub fn rfc8037_example() {
    let jwk = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    let token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    let key = SigningKey::from_jwk_json(jwk).unwrap();
    assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    let parsed = jws::parse_compact(token, 4096).unwrap();
    jws::verify_signature(&parsed, key.public_key().verifying_key()).unwrap();
    assert_eq!(parsed.payload, b"Example of Ed25519 signing");
    assert_eq!(jws::sign_compact(&serde_json::json!({"alg":"EdDSA"}), &parsed.payload, &key), token);
}

pub fn claims(now: i64, tenant: &str) -> Claims {
    serde_json::from_value(serde_json::json!({
        "v": 1, "iss": "https://origin.demo-shop.example", "sub": "u-42", "ten": tenant, "aud": "signalgate",
        "iat": now, "nbf": now, "exp": now + 3600, "jti": "b-7", "pv": "demo-2026-11", "idc": 0.9,
        "cons": { "c1": { "st": "granted", "pur": ["personalization"], "scp": ["web"], "lb": "consent" } },
        "sig": [
            { "id": "s1", "cls": "interest", "val": "trail-running", "src": "web", "cap": now - 86400,
              "exp": now + 86400 * 300, "ver": 1, "con": "c1", "prv": "q83vEjRWeJASNFZ4kBI0Vg" },
            { "id": "s2", "cls": "language", "val": "de", "src": "app", "cap": now - 86400,
              "exp": now + 86400 * 300, "ver": 1, "con": "c1", "prv": "ASNFZ4mrze8BI0VniavN7w" }
        ]
    }))
    .unwrap()
}

/// Sign, verify, and the main rejections, with exact errors.
pub fn bundles_sign_verify_and_reject() {
    let now = 1_790_000_000;
    let key = SigningKey::from_seed(&[9; 32], Some("k1"));
    let keys = KeySet::from_json(&key.public_jwks_json()).unwrap();
    let token = Signer::new(key).sign(&claims(now, "demo-shop")).unwrap();
    let expect = Expectations::new("signalgate", Some("demo-shop"));
    let verify = |t: &str, at: i64| UnverifiedBundle::parse(t).and_then(|b| b.verify(&keys, &expect, UnixTime(at)));
    assert_eq!(verify(&token, now + 10).unwrap().claims().subject, "u-42");
    let mut tampered = token.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    assert!(verify(std::str::from_utf8(&tampered).unwrap(), now).is_err());
    assert!(matches!(verify(&token, now + 4000), Err(BundleError::Expired { .. })));
    assert!(matches!(verify(&token, now - 4000), Err(BundleError::NotYetValid { .. })));
    assert_eq!(verify(&"x".repeat(20_000), now), Err(BundleError::TooLarge { size: 20_000, max: 16_384 }));
    let other = KeySet::from_json(&SigningKey::from_seed(&[8; 32], Some("k1")).public_jwks_json()).unwrap();
    let wrong_key = UnverifiedBundle::parse(&token).and_then(|b| b.verify(&other, &expect, UnixTime(now)));
    assert_eq!(wrong_key, Err(BundleError::BadSignature));
    let none_alg = format!("eyJhbGciOiJub25lIiwia2lkIjoiazEifQ.{}", token.split('.').nth(1).unwrap());
    assert_eq!(UnverifiedBundle::parse(&format!("{none_alg}.")).unwrap_err(), BundleError::NotCompactJws);
}

/// Generated keys come from the platform's randomness and differ.
pub fn keygen_uses_platform_randomness() {
    let a = SigningKey::generate().unwrap();
    let b = SigningKey::generate().unwrap();
    assert_ne!(a.kid(), b.kid());
    assert_eq!(a.kid().len(), 43);
}

/// The demo policy's gate: curated for a good bundle, generic for failures.
pub fn demo_gate_decisions() {
    let now = 1_790_000_000;
    let key = SigningKey::from_seed(&[5; 32], None);
    let keys = KeySet::from_json(&key.public_jwks_json()).unwrap();
    let mut gate = Gate::new(Policy::from_json(POLICY).unwrap(), keys, "signalgate");
    let ctx = Context {
        now: UnixTime(now),
        purposes: vec!["personalization".into()],
        channel: "web".into(),
        tenant: "demo-shop".into(),
        scope: "web".into(),
        gpc: false,
    };
    let signer = Signer::new(key);
    let good = signer.sign(&claims(now, "demo-shop")).unwrap();
    let d = gate.decide(Some(&good), &ctx);
    assert_eq!(d.tier, Tier::Curated);
    assert_eq!(d.segments, vec!["sgt_9b2a47d1c8", "sgt_5d1e9a20c4"]);
    assert_eq!(d.allowed_categories, vec!["running"]);
    let other_tenant = signer.sign(&claims(now, "other-shop")).unwrap();
    for (token, code) in [(other_tenant.as_str(), "wrong_tenant"), ("garbage", "not_compact_jws")] {
        let d = gate.decide(Some(token), &ctx);
        assert_eq!((d.tier, d.segments.len()), (Tier::Generic, 0));
        assert_eq!(d.error.unwrap().code, code);
    }
    let d = gate.decide(Some(&good), &Context { now: UnixTime(now + 7200), ..ctx.clone() });
    assert_eq!((d.tier, d.segments.len(), d.error.unwrap().code.as_str()), (Tier::Generic, 0, "expired"));
    assert_eq!(gate.decide(None, &ctx).tier, Tier::Generic);
}

/// Every golden evaluator case (`tests/vectors/eval/all.json`) gives exactly
/// its expected decision.
pub fn eval_vectors() {
    let all: serde_json::Value = serde_json::from_str(include_str!("../vectors/eval/all.json")).unwrap();
    let cases = all["cases"].as_array().unwrap();
    assert!(cases.len() >= 45, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for c in cases {
        let case: eval_cases::Case = serde_json::from_value(c.clone()).unwrap();
        let policy = match &case.policy {
            serde_json::Value::String(name) => all["policies"][name.as_str()].as_str().unwrap().to_string(),
            doc => doc.to_string(),
        };
        if eval_cases::decide_case(&case, &policy) != case.expected {
            failures.push(case.name.clone());
        }
    }
    assert!(failures.is_empty(), "golden cases that differ: {failures:?}");
}
