//! Pages served without the HTML filter: those on a route in
//! `SG_PLAIN_ROUTES` and those whose origin answers `Sg-Markup: none` (a
//! page the origin rendered from the decision headers). The body streams
//! through unchanged, but guarded: should it name gate markup after all, the
//! response is cut off before it (see `plain.mjs`), so the header can save
//! the rewriter's cost but never let a withheld block through.

use wasm_bindgen::prelude::*;

use crate::serve::markup::PLAIN_PAGE_MARKERS;

#[wasm_bindgen(module = "/src/worker/plain.mjs")]
extern "C" {
    #[wasm_bindgen(js_name = guardPlain)]
    fn guard_plain(response: web_sys::Response, markers: js_sys::Array) -> web_sys::Response;
}

/// `response` with its body guarded against gate markup.
pub fn guard(response: web_sys::Response) -> web_sys::Response {
    let markers: js_sys::Array = PLAIN_PAGE_MARKERS.iter().map(|m| JsValue::from_str(m)).collect();
    guard_plain(response, markers)
}
