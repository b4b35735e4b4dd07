//! The host's Ed25519 as the JS `Gate` uses it (Node's `crypto`, WebCrypto),
//! run over the published and the project's strictness vectors: wherever the
//! host answers, its answer must be `verify_strict`'s. Included by
//! `tests/wasm_node.rs` and `tests/wasm_browser.rs`.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use signalgate::bundle::strict::{L, SMALL_ORDER};
use signalgate::js::ed25519::{verify_strict_on_host, Host};

use super::portable::unhex;

const WYCHEPROOF: &str = include_str!("../vectors/ed25519/wycheproof_ed25519_test.json");

/// One case: public key, message, signature.
pub struct Case {
    pub label: String,
    pub key: Vec<u8>,
    pub message: Vec<u8>,
    pub signature: Vec<u8>,
}

/// `verify_strict` as the gate runs it natively: a key that does not import
/// (not a point, or of small order) verifies nothing.
fn strict(case: &Case) -> bool {
    let (Ok(key), Ok(sig)) =
        (<[u8; 32]>::try_from(case.key.as_slice()), <[u8; 64]>::try_from(case.signature.as_slice()))
    else {
        return false;
    };
    match signalgate::bundle::PublicKey::from_bytes(&key, Some("k")) {
        Ok(k) => k.verifying_key().verify_strict(&case.message, &Signature::from_bytes(&sig)).is_ok(),
        Err(_) => false,
    }
}

/// Every Wycheproof Ed25519 case of 32-byte keys and 64-byte signatures.
pub fn wycheproof() -> Vec<Case> {
    let doc: serde_json::Value = serde_json::from_str(WYCHEPROOF).unwrap();
    let mut cases = Vec::new();
    for group in doc["testGroups"].as_array().unwrap() {
        let key = unhex(group["publicKey"]["pk"].as_str().unwrap());
        for t in group["tests"].as_array().unwrap() {
            cases.push(Case {
                label: format!("wycheproof tcId {}", t["tcId"]),
                key: key.clone(),
                message: unhex(t["msg"].as_str().unwrap()),
                signature: unhex(t["sig"].as_str().unwrap()),
            });
        }
    }
    cases
}

/// The project's strictness cases: a good signature, then non-canonical `S`
/// (`S + L`, `S` with the top bits set), `R` of small order (every
/// encoding), keys of small order, and a non-canonical key encoding.
pub fn strictness() -> Vec<Case> {
    let signer = SigningKey::from_bytes(&[5; 32]);
    let key = signer.verifying_key().to_bytes().to_vec();
    let message = b"strict Ed25519 on every path".to_vec();
    let good = signer.sign(&message).to_bytes();
    let case = |label: String, key: &[u8], signature: [u8; 64]| Case {
        label,
        key: key.to_vec(),
        message: message.clone(),
        signature: signature.to_vec(),
    };
    let mut cases = vec![case("good".into(), &key, good)];
    let mut s_plus_l = good;
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s_plus_l[32 + i]) + u16::from(L[i]) + carry;
        s_plus_l[32 + i] = v as u8;
        carry = v >> 8;
    }
    cases.push(case("S + L".into(), &key, s_plus_l));
    let mut s_high = good;
    s_high[63] |= 0xe0;
    cases.push(case("S with its top bits set".into(), &key, s_high));
    for (i, r) in SMALL_ORDER.iter().enumerate() {
        let mut sig = good;
        sig[..32].copy_from_slice(r);
        cases.push(case(format!("R of small order #{i}"), &key, sig));
        // A small-order key with a signature whose R is that point and S = 0:
        // it "verifies" under a cofactored or lax check for many messages.
        let mut zero_s = [0u8; 64];
        zero_s[..32].copy_from_slice(r);
        cases.push(case(format!("key of small order #{i}, S = 0"), r, zero_s));
        cases.push(case(format!("key of small order #{i}, good signature"), r, good));
    }
    // Keys whose y is encoded as y + p: points dalek decodes (and hashes
    // as sent), never handed to a host.
    for v in 0..19u8 {
        let mut enc = [0xffu8; 32];
        (enc[0], enc[31]) = (0xed + v, 0x7f);
        if VerifyingKey::from_bytes(&enc).is_ok_and(|k| !k.is_weak()) {
            cases.push(case(format!("key y = {v} + p (not canonical)"), &enc, good));
        }
    }
    cases
}

/// Runs `cases` through `host`: every answer must equal `verify_strict`'s.
/// Returns how many the host answered (the rest stayed in wasm: keys a host
/// is not given, signatures of the wrong length).
pub async fn through_host(host: Host, cases: &[Case]) -> usize {
    let mut answered = 0;
    let mut disagreements = Vec::new();
    for case in cases {
        let want = strict(case);
        let (Ok(key), Ok(sig)) =
            (<[u8; 32]>::try_from(case.key.as_slice()), <[u8; 64]>::try_from(case.signature.as_slice()))
        else {
            continue;
        };
        if let Some(got) = verify_strict_on_host(host, &key, &case.message, &sig).await {
            answered += 1;
            if got != want {
                disagreements.push(format!("{}: host {got}, verify_strict {want}", case.label));
            }
        }
    }
    assert!(disagreements.is_empty(), "{host:?} disagrees with verify_strict:\n{}", disagreements.join("\n"));
    wasm_bindgen_test::console_log!("{host:?}: {answered} of {} cases answered, all as verify_strict", cases.len());
    answered
}

/// Whether the runtime's WebCrypto imports Ed25519 keys at all.
#[allow(dead_code)] // only the browser's tests ask
pub async fn has_webcrypto_ed25519() -> bool {
    let key = SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes();
    verify_strict_on_host(Host::WebCrypto, &key, b"probe", &[1; 64]).await.is_some()
}

/// The golden case's token, spoiled as its `tamper` says (as
/// `eval_cases::decide_case` makes it).
fn golden_token(case: &super::portable::eval_cases::Case) -> String {
    use super::portable::eval_cases::{KID, SEED};
    use signalgate::bundle::{jws, SigningKey, BUNDLE_TYP};
    use signalgate::codec::b64;
    let key = match case.tamper.as_deref() {
        Some("wrong_key") => SigningKey::from_seed(&[7; 32], Some(KID)),
        Some("unknown_kid") => SigningKey::from_seed(&SEED, Some("retired")),
        _ => SigningKey::from_seed(&SEED, Some(KID)),
    };
    let header = serde_json::json!({ "alg": "EdDSA", "kid": key.kid(), "typ": BUNDLE_TYP });
    let token = jws::sign_compact(&header, &serde_json::to_vec(&case.claims).unwrap(), &key);
    let parts: Vec<&str> = token.split('.').collect();
    match case.tamper.as_deref() {
        Some("payload") => {
            let mut forged = case.claims.clone();
            let idc = forged["idc"].as_f64().unwrap();
            forged["idc"] = serde_json::json!(if idc < 1.0 { 1.0 } else { 0.5 });
            format!("{}.{}.{}", parts[0], b64::encode(&serde_json::to_vec(&forged).unwrap()), parts[2])
        }
        Some("signature") => {
            let mut sig = b64::decode(parts[2]).unwrap();
            sig[0] ^= 0x01;
            format!("{}.{}.{}", parts[0], parts[1], b64::encode(&sig))
        }
        _ => token,
    }
}

/// Tokens of the golden key that strict verification refuses: `S + L`,
/// `R` of small order, a flipped signature bit.
fn spoiled_tokens() -> Vec<String> {
    use super::portable::eval_cases::{KID, SEED};
    use signalgate::bundle::{Signer, SigningKey};
    use signalgate::codec::b64;
    let now = 1_790_000_000;
    let token =
        Signer::new(SigningKey::from_seed(&SEED, Some(KID))).sign(&super::portable::claims(now, "demo-shop")).unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig: [u8; 64] = b64::decode(sig).unwrap().try_into().unwrap();
    let mut out = vec![token.clone()];
    let mut s_plus_l = sig;
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s_plus_l[32 + i]) + u16::from(L[i]) + carry;
        s_plus_l[32 + i] = v as u8;
        carry = v >> 8;
    }
    out.push(format!("{input}.{}", b64::encode(&s_plus_l)));
    for r in SMALL_ORDER.iter().take(4) {
        let mut bad = sig;
        bad[..32].copy_from_slice(r);
        out.push(format!("{input}.{}", b64::encode(&bad)));
    }
    let mut flipped = sig;
    flipped[10] ^= 0x04;
    out.push(format!("{input}.{}", b64::encode(&flipped)));
    out
}

/// The JS `Gate`'s answers for one bundle and context, on the given
/// `ed25519` choice: `[decide, decideForPage]` by the plain methods on one
/// gate and by the `...Async` methods on a fresh one, as JSON text.
async fn answers(policy: &str, options: &str, ed25519: &str, token: Option<&str>, context: &str) -> [String; 4] {
    use signalgate::js::Gate;
    use wasm_bindgen::JsValue;
    use wasm_bindgen_futures::JsFuture;
    let options = serde_json::from_str::<serde_json::Value>(options).unwrap();
    let mut options = options.as_object().unwrap().clone();
    options.insert("ed25519".into(), ed25519.into());
    let options = js_sys::JSON::parse(&serde_json::Value::Object(options).to_string()).unwrap();
    let jwks = signalgate::bundle::SigningKey::from_seed(&super::portable::eval_cases::SEED, Some("golden"))
        .public_jwks_json();
    let bundle = token.map_or(JsValue::UNDEFINED, JsValue::from_str);
    let ctx = || js_sys::JSON::parse(context).unwrap();
    let text = |v: JsValue| String::from(js_sys::JSON::stringify(&v).unwrap());
    let sync = Gate::new(policy, &jwks, options.clone()).unwrap();
    let later = Gate::new(policy, &jwks, options).unwrap();
    let full_async = JsFuture::from(later.decide_async(bundle.clone(), ctx())).await.unwrap();
    let page_async = JsFuture::from(later.decide_for_page_async(bundle.clone(), ctx())).await.unwrap();
    [
        text(sync.decide(bundle.clone(), ctx())),
        text(sync.decide_for_page(bundle, ctx())),
        text(full_async),
        text(page_async),
    ]
}

/// On the golden vectors and on spoiled tokens: the `...Async` methods
/// (WebCrypto where there is one) answer exactly as the plain ones, and
/// every `ed25519` choice as `"wasm"`. Returns how many bundles were checked.
pub async fn async_answers_as_sync() -> usize {
    let all: serde_json::Value = serde_json::from_str(include_str!("../vectors/eval/all.json")).unwrap();
    let mut checked = 0;
    let mut check = |label: String, got: Vec<[String; 4]>| {
        let reference = &got[0];
        assert_eq!(reference[0], reference[2], "{label}: decideAsync differs from decide");
        assert_eq!(reference[1], reference[3], "{label}: decideForPageAsync differs from decideForPage");
        for other in &got[1..] {
            assert_eq!(other, reference, "{label}: another ed25519 choice differs");
        }
        checked += 1;
    };
    for c in all["cases"].as_array().unwrap() {
        let case: super::portable::eval_cases::Case = serde_json::from_value(c.clone()).unwrap();
        if case.expected.get("policy_error").is_some() {
            continue;
        }
        let policy = match &case.policy {
            serde_json::Value::String(name) => all["policies"][name.as_str()].as_str().unwrap().to_string(),
            doc => doc.to_string(),
        };
        let options = match &case.revocations {
            Some(r) => serde_json::json!({ "audience": "signalgate", "revocations": r.to_string() }).to_string(),
            None => r#"{"audience":"signalgate"}"#.to_string(),
        };
        let token = (!case.claims.is_null()).then(|| golden_token(&case));
        let context = case.context.to_string();
        let mut got = Vec::new();
        for choice in ["wasm", "auto", "webcrypto"] {
            got.push(answers(&policy, &options, choice, token.as_deref(), &context).await);
        }
        // The decision is the golden one, too.
        let expected: serde_json::Value = serde_json::from_str(&got[0][0]).unwrap();
        assert_eq!(expected, case.expected, "{}", case.name);
        check(case.name.clone(), got);
    }
    let policy = include_str!("../../www/policy.json");
    let context =
        r#"{"now":1790000010,"purposes":["personalization"],"channel":"web","tenant":"demo-shop","scope":"web"}"#;
    for (i, token) in spoiled_tokens().iter().enumerate() {
        let mut got = Vec::new();
        for choice in ["wasm", "auto", "webcrypto"] {
            got.push(answers(policy, r#"{"audience":"signalgate"}"#, choice, Some(token), context).await);
        }
        let first: serde_json::Value = serde_json::from_str(&got[0][0]).unwrap();
        let want = if i == 0 { None } else { Some("bad_signature") };
        assert_eq!(first["error"]["code"].as_str(), want, "spoiled token #{i}");
        check(format!("spoiled token #{i}"), got);
    }
    checked
}
