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
#[cfg(feature = "js-signer")]
mod signer;
mod tokens;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

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
