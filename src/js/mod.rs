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
//!
//! What does throw (a bad policy or key set given to `new Gate`, a bundle
//! that `verifyBundle` refuses) throws an `Error` whose `code` names the
//! failure (`bad_policy`, `bad_keys`, `bad_options`, or a bundle failure code
//! such as `bad_signature`) and whose `message` is one line.

#[cfg(feature = "bench-hooks")]
mod bench;
mod bundle;
mod convert;
pub mod ed25519;
mod error;
mod gate;
mod glue;
#[cfg(feature = "js-signer")]
mod signer;
mod tokens;
mod types;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::clock::now;
use crate::eval::Context;
use crate::time::UnixTime;

pub use bundle::{inspect_bundle, verify_bundle};
pub use gate::Gate;
#[cfg(feature = "js-signer")]
pub use signer::{generate_key, Signer};

fn to_js<T: Serialize>(value: &T) -> JsValue {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::NULL)
}

/// The context as JS passes it: `now` (seconds) is optional and defaults to the clock.
#[derive(Deserialize, Clone)]
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

impl JsContext {
    fn read(value: JsValue) -> Result<JsContext, String> {
        serde_wasm_bindgen::from_value(value).map_err(|e| format!("context: {e}"))
    }

    /// The core's context, reading the clock if `now` was not given.
    fn to_context(&self) -> Context {
        Context {
            now: self.now.map_or_else(now, UnixTime),
            purposes: self.purposes.clone(),
            channel: self.channel.clone(),
            tenant: self.tenant.clone(),
            scope: self.scope.clone(),
            gpc: self.gpc,
        }
    }
}

#[cfg(feature = "bench-hooks")]
fn context(value: JsValue) -> Result<Context, String> {
    JsContext::read(value).map(|c| c.to_context())
}

/// The last context a gate converted, so that the same context passed again
/// is not converted again: the same object, if JS cannot change it (frozen
/// with `Object.freeze`, its `purposes` array too: one `===`), or another
/// plain object whose own members are all `===` to the ones converted
/// (`purposes` element by element: one call to compare). Only a context
/// that converted is kept, and only the clock is read again (when it has no
/// `now`), so the result is always the conversion's.
#[derive(Default)]
struct LastContext {
    /// The last converted context, with its object if that is frozen.
    last: Option<(Option<JsValue>, JsContext)>,
    /// The members of the last converted plain object (`sgSnapshot`).
    snapshot: JsValue,
}

impl LastContext {
    fn context(&mut self, value: JsValue) -> Result<Context, String> {
        if let Some((frozen, c)) = &self.last {
            let same_object = frozen.as_ref().is_some_and(|f| *f == value);
            if same_object || glue::sg_same_context(&self.snapshot, &value) {
                return Ok(c.to_context());
            }
        }
        self.last = None;
        let c = JsContext::read(value.clone())?;
        let ctx = c.to_context();
        self.snapshot = glue::sg_snapshot(&value);
        let frozen = deeply_frozen(&value).then_some(value);
        self.last = Some((frozen, c));
        Ok(ctx)
    }
}

/// Whether `value` is a frozen object whose `purposes` is a frozen array.
fn deeply_frozen(value: &JsValue) -> bool {
    let Some(object) = value.dyn_ref::<js_sys::Object>() else { return false };
    if !js_sys::Object::is_frozen(object) {
        return false;
    }
    js_sys::Reflect::get(object, &JsValue::from_str("purposes"))
        .ok()
        .and_then(|p| p.dyn_into::<js_sys::Array>().ok())
        .is_some_and(|p| js_sys::Object::is_frozen(&p))
}
