//! Ed25519 through the host's own implementation where it has one: Node's
//! `crypto.verify` (synchronous, so the plain `decide` methods use it too) or
//! WebCrypto's `crypto.subtle.verify` (asynchronous: the `...Async`
//! methods). The checks of strict Ed25519 that need no curve arithmetic run
//! in wasm first ([`UnverifiedBundle::prepare`](crate::bundle::UnverifiedBundle::prepare)),
//! so the outcome is exactly `verify_strict`'s; whenever the host cannot
//! answer (no such API, a key it will not import, an exception), the
//! signature is verified in wasm instead.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::bundle::{strict, KeySet, PreparedBundle, PublicKey};
use crate::codec::b64;

#[wasm_bindgen]
extern "C" {
    /// Node's `crypto` module.
    #[derive(Clone)]
    type NodeCrypto;
    #[wasm_bindgen(method, catch, js_name = verify)]
    fn node_verify(
        this: &NodeCrypto,
        alg: &JsValue,
        data: &[u8],
        key: &JsValue,
        sig: &[u8],
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = createPublicKey)]
    fn create_public_key(this: &NodeCrypto, spec: &JsValue) -> Result<JsValue, JsValue>;

    /// WebCrypto's `SubtleCrypto`.
    #[derive(Clone)]
    type Subtle;
    #[wasm_bindgen(method, catch, js_name = importKey)]
    fn import_key(
        this: &Subtle,
        format: &str,
        key: &Uint8Array,
        alg: &str,
        extractable: bool,
        usages: &js_sys::Array,
    ) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = verify)]
    fn subtle_verify(
        this: &Subtle,
        alg: &str,
        key: &JsValue,
        sig: &Uint8Array,
        data: &Uint8Array,
    ) -> Result<Promise, JsValue>;
}

fn get(target: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// Node's `crypto` module through `process.getBuiltinModule` (Node 20.16,
/// 22.3 and later), in CommonJS and ES module builds alike.
fn node_crypto() -> Option<NodeCrypto> {
    let process = get(&js_sys::global(), "process")?;
    let load: Function = get(&process, "getBuiltinModule")?.dyn_into().ok()?;
    let module = load.call1(&process, &JsValue::from_str("node:crypto")).ok().filter(JsValue::is_object)?;
    let usable = ["verify", "createPublicKey"].iter().all(|f| get(&module, f).is_some_and(|v| v.is_function()));
    usable.then(|| module.unchecked_into())
}

/// `crypto.subtle` of the global scope (browsers, workerd, Node, Deno).
fn subtle() -> Option<Subtle> {
    let crypto = get(&js_sys::global(), "crypto")?;
    let subtle = get(&crypto, "subtle")?;
    let usable = ["verify", "importKey"].iter().all(|f| get(&subtle, f).is_some_and(|v| v.is_function()));
    usable.then(|| subtle.unchecked_into())
}

/// Whether a key may be handed to a host at all: hosts may read a
/// non-canonical encoding differently (dalek accepts it, OpenSSL may not), so
/// those stay in wasm. Small-order keys never get this far (refused at import).
fn host_may_check(key: &PublicKey) -> bool {
    strict::is_canonical_point(key.verifying_key().as_bytes())
}

/// Node's synchronous Ed25519 with the gate's keys imported once.
pub(super) struct NodeVerifier {
    crypto: NodeCrypto,
    keys: HashMap<String, JsValue>,
    /// Set when the host threw: from then on, everything is verified in wasm.
    broken: bool,
}

impl NodeVerifier {
    /// `None` outside Node, or when no key of the set imports.
    pub(super) fn new(keys: &KeySet) -> Option<NodeVerifier> {
        let crypto = node_crypto()?;
        let mut imported = HashMap::new();
        for key in keys.keys().iter().filter(|k| host_may_check(k)) {
            let jwk = format!(
                r#"{{"format":"jwk","key":{{"kty":"OKP","crv":"Ed25519","x":"{}"}}}}"#,
                b64::encode(key.verifying_key().as_bytes())
            );
            let Ok(spec) = js_sys::JSON::parse(&jwk) else { continue };
            if let Ok(object) = crypto.create_public_key(&spec) {
                imported.insert(key.kid().to_string(), object);
            }
        }
        (!imported.is_empty()).then_some(NodeVerifier { crypto, keys: imported, broken: false })
    }

    /// The host's verdict on the equation, or `None` when it cannot give one.
    pub(super) fn verify(&mut self, prepared: &PreparedBundle) -> Option<bool> {
        if self.broken {
            return None;
        }
        let key = self.keys.get(prepared.key().kid())?;
        match self.crypto.node_verify(&JsValue::NULL, prepared.signing_input(), key, prepared.signature()) {
            Ok(v) => v.as_bool().or_else(|| {
                self.broken = true;
                None
            }),
            Err(_) => {
                self.broken = true;
                None
            }
        }
    }
}

/// A key's state in WebCrypto.
#[derive(Clone)]
enum SubtleKey {
    /// `importKey` is running.
    Pending(Promise),
    Ready(JsValue),
    /// The host refused it (no Ed25519 in this WebCrypto, say).
    Refused,
}

/// WebCrypto's asynchronous Ed25519, keys imported on first use.
#[derive(Clone)]
pub(super) struct SubtleVerifier {
    subtle: Subtle,
    keys: Rc<RefCell<HashMap<String, SubtleKey>>>,
    /// The gate's keys, by `kid`, with their raw bytes.
    raw: Rc<HashMap<String, [u8; 32]>>,
}

impl SubtleVerifier {
    /// `None` without WebCrypto.
    pub(super) fn new(keys: &KeySet) -> Option<SubtleVerifier> {
        let raw: HashMap<String, [u8; 32]> = keys
            .keys()
            .iter()
            .filter(|k| host_may_check(k))
            .map(|k| (k.kid().to_string(), *k.verifying_key().as_bytes()))
            .collect();
        (!raw.is_empty()).then(subtle).flatten().map(|subtle| SubtleVerifier {
            subtle,
            keys: Rc::default(),
            raw: Rc::new(raw),
        })
    }

    /// Whether this verifier may check signatures of the key `kid`.
    pub(super) fn has_key(&self, kid: &str) -> bool {
        self.raw.contains_key(kid) && !matches!(self.keys.borrow().get(kid), Some(SubtleKey::Refused))
    }

    async fn key(&self, kid: &str) -> Option<JsValue> {
        let state = self.keys.borrow().get(kid).cloned();
        let pending = match state {
            Some(SubtleKey::Ready(key)) => return Some(key),
            Some(SubtleKey::Refused) => return None,
            Some(SubtleKey::Pending(p)) => p,
            None => {
                let raw = self.raw.get(kid)?;
                let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
                let bytes = Uint8Array::from(&raw[..]);
                match self.subtle.import_key("raw", &bytes, "Ed25519", false, &usages) {
                    Ok(p) => {
                        self.keys.borrow_mut().insert(kid.to_string(), SubtleKey::Pending(p.clone()));
                        p
                    }
                    Err(_) => {
                        self.keys.borrow_mut().insert(kid.to_string(), SubtleKey::Refused);
                        return None;
                    }
                }
            }
        };
        let outcome = JsFuture::from(pending).await.ok().filter(JsValue::is_object);
        let state = outcome.clone().map_or(SubtleKey::Refused, SubtleKey::Ready);
        self.keys.borrow_mut().insert(kid.to_string(), state);
        outcome
    }

    /// Starts the host's check now if the key is imported already (the host
    /// works off this thread meanwhile); `None` otherwise.
    pub(super) fn start(&self, kid: &str, data: &[u8], signature: &[u8; 64]) -> Option<JsFuture> {
        let key = match self.keys.borrow().get(kid) {
            Some(SubtleKey::Ready(key)) => key.clone(),
            _ => return None,
        };
        self.call(&key, data, signature)
    }

    fn call(&self, key: &JsValue, data: &[u8], signature: &[u8; 64]) -> Option<JsFuture> {
        // WebCrypto copies its inputs when called; these are copies anyway,
        // so no view of wasm memory outlives the call.
        let (sig, data) = (Uint8Array::from(&signature[..]), Uint8Array::from(data));
        let promise = self.subtle.subtle_verify("Ed25519", key, &sig, &data).ok()?;
        // Handled from here on: a rejection is never left unobserved.
        Some(JsFuture::from(promise))
    }

    /// The verdict of a check [`start`](Self::start)ed earlier.
    pub(super) async fn verdict(started: JsFuture) -> Option<bool> {
        started.await.ok()?.as_bool()
    }

    /// The host's verdict on the equation (importing the key first if need
    /// be), or `None` when it cannot give one.
    pub(super) async fn verify(&self, kid: &str, data: &[u8], signature: &[u8; 64]) -> Option<bool> {
        let key = self.key(kid).await?;
        Self::verdict(self.call(&key, data, signature)?).await
    }
}

/// Which host implementation [`verify_strict_on_host`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// Node's `crypto.verify` (synchronous).
    NodeCrypto,
    /// WebCrypto's `crypto.subtle.verify`.
    WebCrypto,
}

/// Strict Ed25519 as the gate runs it on a host: `verify_strict`'s answer,
/// with the checks that need no curve arithmetic made in wasm and the
/// equation checked by `host`. `None` when the host has no usable Ed25519 or
/// the key may not be handed to it (the gate then verifies in wasm). Public
/// so that the published test vectors can be run through this path.
pub async fn verify_strict_on_host(
    host: Host,
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Option<bool> {
    let Ok(key) = PublicKey::from_bytes(public_key, Some("k")) else {
        // A small-order key: `verify_strict` refuses every signature.
        return Some(false);
    };
    if !host_may_check(&key) {
        return None;
    }
    if !strict::passes_prechecks(signature) {
        return Some(false);
    }
    let keys = KeySet::new(vec![key]).ok()?;
    match host {
        Host::NodeCrypto => {
            let node = NodeVerifier::new(&keys)?;
            let object = node.keys.get("k")?;
            node.crypto.node_verify(&JsValue::NULL, message, object, signature).ok()?.as_bool()
        }
        Host::WebCrypto => SubtleVerifier::new(&keys)?.verify("k", message, signature).await,
    }
}
