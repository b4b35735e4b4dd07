//! wasm-bindgen API for browsers and Node: a thin layer that converts types
//! and calls the core. The clock is read here (`Date.now()`), never in the core.
//!
//! ```js
//! import { Gate, Signer, generateKey } from "signalgate";
//! const gate = new Gate(policyJson, jwksJson, { audience: "signalgate" });
//! const d = gate.decide(cookieValue, { purposes: ["personalization"], channel: "web",
//!                                     tenant: "demo-shop", scope: "web", gpc: false });
//! // d = { tier: "curated", segments: ["sgt_..."], ... } or, for a bad bundle,
//! //     { tier: "generic", segments: [], error: { code, message } }: never a throw.
//! ```

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::bundle::{Expectations, KeySet, Revocations, UnverifiedBundle};
use crate::eval::{Context, Decision, Detail, Gate as CoreGate};
use crate::failure::FailureCode;
use crate::model::Policy;
use crate::serve::BundleCache;
use crate::time::UnixTime;

/// `performance.now()` of the global scope, as a callable.
fn performance_now() -> Result<impl Fn() -> Result<f64, JsError>, JsError> {
    use wasm_bindgen::JsCast;
    let perf = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance"))
        .map_err(|_| JsError::new("no `performance` in this runtime"))?;
    let now: js_sys::Function = js_sys::Reflect::get(&perf, &JsValue::from_str("now"))
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| JsError::new("no `performance.now` in this runtime"))?;
    Ok(move || now.call0(&perf).ok().and_then(|v| v.as_f64()).ok_or_else(|| JsError::new("`performance.now` failed")))
}

use crate::clock::now;

#[cfg(feature = "js-signer")]
mod signer;
#[cfg(feature = "js-signer")]
pub use signer::{generate_key, Signer};

fn to_js<T: Serialize>(value: &T) -> JsValue {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::NULL)
}

/// The context as JS passes it: `now` (seconds) is optional and defaults to the clock.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsContext {
    #[serde(default)]
    now: Option<i64>,
    purposes: Vec<String>,
    channel: String,
    tenant: String,
    scope: String,
    #[serde(default)]
    gpc: bool,
}

fn context(value: JsValue) -> Result<Context, String> {
    let c: JsContext = serde_wasm_bindgen::from_value(value).map_err(|e| format!("context: {e}"))?;
    Ok(Context {
        now: c.now.map_or_else(now, UnixTime),
        purposes: c.purposes,
        channel: c.channel,
        tenant: c.tenant,
        scope: c.scope,
        gpc: c.gpc,
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GateOptions {
    audience: String,
    #[serde(default)]
    revocations: Option<String>,
    #[serde(default, rename = "maxBundleBytes")]
    max_bundle_bytes: Option<usize>,
    /// `{kid: [tenant, ...]}`: the tenants each key may sign for.
    #[serde(default, rename = "keyTenants")]
    key_tenants: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

/// A gate built once from a policy and a key set, reused for every decision.
#[wasm_bindgen]
pub struct Gate {
    inner: CoreGate,
    /// Verified bundles, so a repeat decision skips signature verification.
    cache: std::cell::RefCell<BundleCache>,
}

#[wasm_bindgen]
impl Gate {
    /// `new Gate(policyJson, jwksJson, { audience, revocations?, maxBundleBytes?, keyTenants? })`.
    /// Throws (with every problem named) if the policy or key set is invalid.
    #[wasm_bindgen(constructor)]
    pub fn new(policy_json: &str, jwks_json: &str, options: JsValue) -> Result<Gate, JsError> {
        let opts: GateOptions =
            serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("options: {e}")))?;
        let policy = Policy::from_json(policy_json).map_err(|e| JsError::new(&e.to_string()))?;
        let mut keys = KeySet::from_json(jwks_json).map_err(|e| JsError::new(&e.to_string()))?;
        if let Some(map) = opts.key_tenants {
            keys = keys.with_key_tenants(map).map_err(|e| JsError::new(&format!("keyTenants: {e}")))?;
        }
        let revocations = match opts.revocations.as_deref() {
            Some(text) => Revocations::from_json(text).map_err(|e| JsError::new(&format!("revocations: {e}")))?,
            None => Revocations::default(),
        };
        let mut inner = CoreGate::new(policy, keys, &opts.audience).with_revocations(revocations);
        if let Some(max) = opts.max_bundle_bytes {
            inner = inner.with_max_bundle_bytes(max);
        }
        Ok(Gate { inner, cache: std::cell::RefCell::new(BundleCache::default()) })
    }

    /// The full decision (with reasons) as a plain object. Never throws: a
    /// bad bundle or context gives `{ tier: "generic", segments: [], error }`.
    pub fn decide(&self, bundle: Option<String>, context_value: JsValue) -> JsValue {
        to_js(&self.decide_core(bundle.as_deref(), context_value, Detail::Full))
    }

    /// Only what the policy's exposure rules let page code see.
    #[wasm_bindgen(js_name = decideForPage)]
    pub fn decide_for_page(&self, bundle: Option<String>, context_value: JsValue) -> JsValue {
        let d = self.decide_core(bundle.as_deref(), context_value, Detail::Summary);
        let mut page = d.for_page(&self.inner.policy().exposure);
        if let (Some(obj), Some(err)) = (page.as_object_mut(), &d.error) {
            obj.insert("error".into(), serde_json::json!({ "code": err.code }));
        }
        to_js(&page)
    }

    /// For benchmarks: verifies `bundle` once (caching it), then runs the
    /// repeat visitor's decision (cache hit, summary detail: re-check,
    /// revocation, evaluation) `iterations` times inside wasm and returns the
    /// mean time in microseconds, so the JS boundary is not in the figure.
    #[wasm_bindgen(js_name = benchmarkCachedDecision)]
    pub fn benchmark_cached_decision(
        &self,
        bundle: &str,
        context_value: JsValue,
        iterations: u32,
    ) -> Result<f64, JsError> {
        let ctx = context(context_value).map_err(|e| JsError::new(&e))?;
        let mut cache = self.cache.borrow_mut();
        let (first, _) = crate::serve::decide_with_cache(&self.inner, &mut cache, Some(bundle), &ctx, Detail::Summary);
        if let Some(e) = first.error {
            return Err(JsError::new(&e.message));
        }
        let clock = performance_now()?;
        let start = clock()?;
        for _ in 0..iterations.max(1) {
            crate::serve::decide_with_cache(&self.inner, &mut cache, Some(bundle), &ctx, Detail::Summary);
        }
        let elapsed = clock()? - start;
        Ok(elapsed * 1000.0 / f64::from(iterations.max(1)))
    }

    /// The policy version.
    #[wasm_bindgen(getter, js_name = policyVersion)]
    pub fn policy_version(&self) -> String {
        self.inner.policy().version.clone()
    }
}

impl Gate {
    fn decide_core(&self, bundle: Option<&str>, context_value: JsValue, detail: Detail) -> Decision {
        match context(context_value) {
            Ok(ctx) => {
                let token = bundle.filter(|b| !b.is_empty());
                crate::serve::decide_with_cache(&self.inner, &mut self.cache.borrow_mut(), token, &ctx, detail).0
            }
            Err(msg) => Decision::failed(&self.inner.policy().version, FailureCode::BadContext, msg),
        }
    }
}

/// Verifies a bundle and returns its claims, or throws with the precise reason.
/// `now` (seconds) defaults to the clock.
#[wasm_bindgen(js_name = verifyBundle)]
pub fn verify_bundle(
    token: &str,
    jwks_json: &str,
    audience: &str,
    now_seconds: Option<f64>,
) -> Result<JsValue, JsError> {
    let keys = KeySet::from_json(jwks_json).map_err(|e| JsError::new(&e.to_string()))?;
    let at = now_seconds.map_or_else(now, |s| UnixTime(s as i64));
    let bundle = UnverifiedBundle::parse(token)
        .and_then(|b| b.verify(&keys, &Expectations::new(audience, None), at))
        .map_err(|e| JsError::new(&e.to_string()))?;
    Ok(to_js(bundle.claims()))
}

/// Decodes a bundle WITHOUT verifying it: `{ verified: false, header, claims }`.
#[wasm_bindgen(js_name = inspectBundle)]
pub fn inspect_bundle(token: &str) -> Result<JsValue, JsError> {
    let b = UnverifiedBundle::parse(token).map_err(|e| JsError::new(&e.to_string()))?;
    let h = b.header();
    Ok(to_js(&serde_json::json!({
        "verified": false,
        "header": { "alg": h.alg, "kid": h.kid, "typ": h.typ },
        "claims": b.claims_unverified(),
    })))
}
