//! The bindings to the JS functions in `src/js/glue.js`, one ES module for
//! every build. wasm-bindgen copies it into each build's `snippets/`; for the
//! Node build (CommonJS: wasm-bindgen's Node target loads snippets with
//! `require()`) `pkg-scripts/build` rewrites its `export { ... };` line to
//! `module.exports = { ... };`.
//!
//! - `sgBuild(text, ops, nums)`: a value encoded by
//!   [`Ops`](super::convert::Ops), built in one call.
//! - `sgSnapshot(ctx)`, `sgSameContext(snapshot, ctx)`: a copy of a context
//!   object's own members as the gate last converted it, and whether another
//!   context object has exactly those members with the same values (`===`,
//!   `purposes` element by element), so that its conversion can be reused.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/js/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = sgBuild)]
    pub(super) fn sg_build(text: &str, ops: &[u32], nums: &[f64]) -> JsValue;
    #[wasm_bindgen(js_name = sgSnapshot)]
    pub(super) fn sg_snapshot(ctx: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = sgSameContext)]
    pub(super) fn sg_same_context(snapshot: &JsValue, ctx: &JsValue) -> bool;
}
