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
