//! Reading bundles outside a gate: `verifyBundle` (claims of a bundle that
//! verifies; exported by the Node build only, as the browser's gate verifies
//! inside `Gate`) and `inspectBundle` (decoded, clearly unverified).

use wasm_bindgen::prelude::*;

use super::error::coded;
use super::to_js;
use crate::bundle::{Expectations, KeySet, UnverifiedBundle};
use crate::clock::now;
use crate::time::UnixTime;

/// Verifies a bundle and returns its claims, or throws an `Error` whose
/// `code` is the failure code (`bad_signature`, `expired`, ...; `bad_keys`
/// for the key set). `now` (seconds) defaults to the clock. Exported to JS
/// by the Node build (`js-signer`) only: the browser build leaves it out
/// for size.
#[cfg_attr(feature = "js-signer", wasm_bindgen(js_name = verifyBundle))]
pub fn verify_bundle(
    token: &str,
    jwks_json: &str,
    audience: &str,
    now_seconds: Option<f64>,
) -> Result<JsValue, JsValue> {
    let keys = KeySet::from_json(jwks_json).map_err(|e| coded("bad_keys", e))?;
    let at = now_seconds.map_or_else(now, |s| UnixTime(s as i64));
    let bundle = UnverifiedBundle::parse(token)
        .and_then(|b| b.verify(&keys, &Expectations::new(audience, None), at))
        .map_err(|e| coded(e.code().as_str(), e))?;
    Ok(to_js(bundle.claims()))
}

/// Decodes a bundle WITHOUT verifying it: `{ verified: false, header, claims }`.
/// Throws an `Error` with the failure code if it does not even parse.
#[wasm_bindgen(js_name = inspectBundle)]
pub fn inspect_bundle(token: &str) -> Result<JsValue, JsValue> {
    let b = UnverifiedBundle::parse(token).map_err(|e| coded(e.code().as_str(), e))?;
    let h = b.header();
    Ok(to_js(&serde_json::json!({
        "verified": false,
        "header": { "alg": h.alg, "kid": h.kid, "typ": h.typ },
        "claims": b.claims_unverified(),
    })))
}
