//! `Gate`: a policy and a key set parsed once, with the isolate's cache of
//! verified bundles, reused for every decision.

use std::cell::RefCell;

use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::error::coded;
use super::{context, to_js};
use crate::bundle::{KeySet, Revocations};
use crate::eval::{Decision, Detail, Gate as CoreGate};
use crate::failure::FailureCode;
use crate::model::Policy;
use crate::serve::{decide_with_cache, BundleCache};

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

/// The core gate and its cache; decisions need both mutably.
pub(super) struct Inner {
    pub(super) gate: CoreGate,
    /// Verified bundles, so a repeat decision skips signature verification.
    pub(super) cache: BundleCache,
}

/// A gate built once from a policy and a key set, reused for every decision.
#[wasm_bindgen]
pub struct Gate {
    // JS calls methods through a shared reference; the gate's evaluator
    // buffers and the cache change with each decision.
    pub(super) inner: RefCell<Inner>,
}

#[wasm_bindgen]
impl Gate {
    /// `new Gate(policyJson, jwksJson, { audience, revocations?, maxBundleBytes?, keyTenants? })`.
    /// Throws an `Error` with `code` `bad_options`, `bad_policy`, `bad_keys` or
    /// `bad_revocations` (every problem named in the one-line message).
    #[wasm_bindgen(constructor)]
    pub fn new(policy_json: &str, jwks_json: &str, options: JsValue) -> Result<Gate, JsValue> {
        let opts: GateOptions =
            serde_wasm_bindgen::from_value(options).map_err(|e| coded("bad_options", format!("options: {e}")))?;
        let policy = Policy::from_json(policy_json).map_err(|e| coded("bad_policy", e))?;
        let mut keys = KeySet::from_json(jwks_json).map_err(|e| coded("bad_keys", e))?;
        if let Some(map) = opts.key_tenants {
            keys = keys.with_key_tenants(map).map_err(|e| coded("bad_options", format!("keyTenants: {e}")))?;
        }
        let revocations = match opts.revocations.as_deref() {
            Some(text) => Revocations::from_json(text).map_err(|e| coded("bad_revocations", e))?,
            None => Revocations::default(),
        };
        let mut gate = CoreGate::new(policy, keys, &opts.audience).with_revocations(revocations);
        if let Some(max) = opts.max_bundle_bytes {
            gate = gate.with_max_bundle_bytes(max);
        }
        Ok(Gate { inner: RefCell::new(Inner { gate, cache: BundleCache::default() }) })
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
        let mut page = d.for_page(self.inner.borrow().gate.policy().exposure());
        if let (Some(obj), Some(err)) = (page.as_object_mut(), &d.error) {
            obj.insert("error".into(), serde_json::json!({ "code": err.code }));
        }
        to_js(&page)
    }

    /// The policy version.
    #[wasm_bindgen(getter, js_name = policyVersion)]
    pub fn policy_version(&self) -> String {
        self.inner.borrow().gate.policy().version().to_string()
    }
}

impl Gate {
    fn decide_core(&self, bundle: Option<&str>, context_value: JsValue, detail: Detail) -> Decision {
        let Inner { gate, cache } = &mut *self.inner.borrow_mut();
        match context(context_value) {
            Ok(ctx) => decide_with_cache(gate, cache, bundle.filter(|b| !b.is_empty()), &ctx, detail).0,
            Err(msg) => Decision::failed(gate.policy().version(), FailureCode::BadContext, msg),
        }
    }
}
