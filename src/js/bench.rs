//! A benchmarking hook, only in builds with the `bench-hooks` feature
//! (`pkg-scripts/bench` builds one for Node), never in the shipped package.

use wasm_bindgen::prelude::*;

use super::context;
use super::error::coded;
use super::gate::{Gate, Inner};
use crate::eval::Detail;
use crate::serve::decide_with_cache;

/// `performance.now()` of the global scope, as a callable.
fn performance_now() -> Result<impl Fn() -> Result<f64, JsValue>, JsValue> {
    use wasm_bindgen::JsCast;
    let perf = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance"))
        .map_err(|_| coded("bench", "no `performance` in this runtime"))?;
    let now: js_sys::Function = js_sys::Reflect::get(&perf, &JsValue::from_str("now"))
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| coded("bench", "no `performance.now` in this runtime"))?;
    Ok(move || now.call0(&perf).ok().and_then(|v| v.as_f64()).ok_or_else(|| coded("bench", "`performance.now` failed")))
}

#[wasm_bindgen]
impl Gate {
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
    ) -> Result<f64, JsValue> {
        let ctx = context(context_value).map_err(|e| coded("bad_context", e))?;
        let Inner { gate, cache } = &mut *self.inner.borrow_mut();
        let (first, _) = decide_with_cache(gate, cache, Some(bundle), &ctx, Detail::Summary);
        if let Some(e) = first.error {
            return Err(coded(e.code.as_str(), e.message));
        }
        let clock = performance_now()?;
        let start = clock()?;
        for _ in 0..iterations.max(1) {
            decide_with_cache(gate, cache, Some(bundle), &ctx, Detail::Summary);
        }
        let elapsed = clock()? - start;
        Ok(elapsed * 1000.0 / f64::from(iterations.max(1)))
    }
}
