//! One golden evaluator case and how it is decided, shared by
//! `tests/it/eval_golden.rs` (natively, from the case files) and the portable
//! checks (in Node and Chromium, from the embedded `all.json`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use signalgate::bundle::{jws, KeySet, Revocations, Signer, SigningKey, BUNDLE_TYP};
use signalgate::codec::b64;
use signalgate::eval::{evaluate, evaluate_summary, Context, Gate};
use signalgate::model::{Claims, Policy};

/// The audience the gate under test expects.
pub const AUDIENCE: &str = "signalgate";
/// The seed and `kid` of the key that signs every golden bundle.
pub const SEED: [u8; 32] = [42; 32];
pub const KID: &str = "golden";

/// One golden case, in file order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub description: String,
    /// A policy document, or the name of a file in `policies/`.
    pub policy: Value,
    /// Bundle claims, or `null` for a visitor without a bundle.
    pub claims: Value,
    pub context: Value,
    /// How to spoil the signed bundle: `payload`, `signature`, `wrong_key`, `unknown_kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tamper: Option<String>,
    /// A revocation list for the gate (`{"bundles":[...],"subjects":[...]}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocations: Option<Value>,
    pub expected: Value,
}

/// `{"policy_error": ["path: message", ...]}` for a policy that does not parse.
fn policy_error(e: &signalgate::model::PolicyError) -> Value {
    let problems: Vec<String> = e
        .problems
        .iter()
        .map(|p| if p.path.is_empty() { p.message.clone() } else { format!("{}: {}", p.path, p.message) })
        .collect();
    json!({ "policy_error": problems })
}

/// Signs `claims` with the golden key, then spoils the token as `tamper` says.
fn bundle(claims: &Claims, tamper: Option<&str>) -> String {
    let key = match tamper {
        Some("wrong_key") => SigningKey::from_seed(&[7; 32], Some(KID)),
        Some("unknown_kid") => SigningKey::from_seed(&SEED, Some("retired")),
        _ => SigningKey::from_seed(&SEED, Some(KID)),
    };
    // Claims that break the schema are signed as they are (another JOSE
    // library would), so that a case can show the gate refusing them.
    let token = match claims.validate() {
        Ok(()) => Signer::new(key).sign(claims).unwrap(),
        Err(_) => {
            let header = json!({ "alg": "EdDSA", "kid": key.kid(), "typ": BUNDLE_TYP });
            jws::sign_compact(&header, &serde_json::to_vec(claims).unwrap(), &key)
        }
    };
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    match tamper {
        None | Some("wrong_key" | "unknown_kid") => token,
        Some("payload") => {
            // An attacker raises the identity confidence; the signature is kept.
            let mut forged = claims.clone();
            forged.identity_confidence = if forged.identity_confidence < 1.0 { 1.0 } else { 0.5 };
            let payload = b64::encode(&serde_json::to_vec(&forged).unwrap());
            format!("{}.{}.{}", parts[0], payload, parts[2])
        }
        Some("signature") => {
            let mut sig = b64::decode(parts[2]).unwrap();
            sig[0] ^= 0x01;
            format!("{}.{}.{}", parts[0], parts[1], b64::encode(&sig))
        }
        Some(other) => panic!("unknown tamper {other:?}"),
    }
}

/// The decision for one case, as JSON (or its policy errors). `policy_text`
/// is the policy document (the case's own, or the shared file it names).
pub fn decide_case(case: &Case, policy_text: &str) -> Value {
    let policy = match Policy::from_json(policy_text) {
        Ok(p) => p,
        Err(e) => return policy_error(&e),
    };
    let ctx: Context = serde_json::from_value(case.context.clone()).unwrap();
    let key = SigningKey::from_seed(&SEED, Some(KID));
    let keys = KeySet::from_json(&key.public_jwks_json()).unwrap();
    let mut gate = Gate::new(policy.clone(), keys.clone(), AUDIENCE);
    if let Some(r) = &case.revocations {
        gate = gate.with_revocations(Revocations::from_json(&r.to_string()).unwrap());
    }
    let mut subject = None;
    let decision = if case.claims.is_null() {
        gate.decide(None, &ctx)
    } else {
        let claims: Claims = serde_json::from_value(case.claims.clone()).unwrap();
        let token = bundle(&claims, case.tamper.as_deref());
        let decision = gate.decide(Some(&token), &ctx);
        // Without a gate-level failure, the gate is exactly verify + evaluate.
        if case.tamper.is_none() && case.revocations.is_none() {
            if let Ok(b) = gate.verify(&token, ctx.now) {
                assert_eq!(evaluate(&policy, &b, &ctx), decision, "{}: evaluate and Gate::decide differ", case.name);
                // The summary is the same decision without reasons.
                let mut without = decision.clone();
                without.reasons = Default::default();
                assert_eq!(evaluate_summary(&policy, &b, &ctx), without, "{}: summary differs", case.name);
            }
        }
        subject = Some(claims.subject);
        decision
    };
    // Invariants that hold for every case, whatever `expected` says.
    if decision.error.is_some() {
        assert!(decision.segments.is_empty(), "{}: tokens with an error", case.name);
        assert_eq!(decision.tier.as_str(), "generic", "{}: error but not generic", case.name);
    }
    let out = serde_json::to_value(&decision).unwrap();
    if let Some(sub) = subject {
        assert!(!out.to_string().contains(&sub), "{}: the decision carries the subject id", case.name);
    }
    out
}
