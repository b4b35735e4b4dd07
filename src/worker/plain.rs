//! Pages served without the HTML filter: those on a route in
//! `SG_PLAIN_ROUTES` and those whose origin answers `Sg-Markup: none` (a
//! page the origin rendered from the decision headers). The body streams
//! through unchanged, but guarded: should it name gate markup after all, the
//! response is cut off before it (see `plain.mjs`), so the header can save
//! the rewriter's cost but never let a withheld block through.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;

use crate::serve::markup::PLAIN_PAGE_MARKERS;

#[wasm_bindgen(module = "/src/worker/plain.mjs")]
extern "C" {
    #[wasm_bindgen(js_name = guardPlain)]
    fn guard_plain(response: web_sys::Response, markers: js_sys::Array) -> js_sys::Promise;
}

/// `response` with its body guarded against gate markup (a page of known
/// length up to 256 KiB is read and checked before this resolves).
pub async fn guard(response: web_sys::Response) -> Result<web_sys::Response, JsValue> {
    let markers: js_sys::Array = PLAIN_PAGE_MARKERS.iter().map(|m| JsValue::from_str(m)).collect();
    Ok(JsFuture::from(guard_plain(response, markers)).await?.unchecked_into())
}
