//! Benchmarking hooks, only in builds with the `bench-hooks` feature
//! (`pkg-scripts/bench` builds one for Node), never in the shipped package.

use wasm_bindgen::prelude::*;

use super::context;
use super::error::coded;
use super::gate::Gate;
use crate::eval::Detail;
use crate::serve::{decide_with_cache, BundleCache};

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
        self.benchmark_decision(bundle, context_value, iterations, false)
    }

    /// [`benchmarkCachedDecision`](Self::benchmark_cached_decision), with the
    /// full decision (`reasons` too, as `decide` returns it) when `full`.
    /// Both go through the Worker's `BundleCache`, as the Worker pays them.
    #[wasm_bindgen(js_name = benchmarkDecision)]
    pub fn benchmark_decision(
        &self,
        bundle: &str,
        context_value: JsValue,
        iterations: u32,
        full: bool,
    ) -> Result<f64, JsValue> {
        let ctx = context(context_value).map_err(|e| coded("bad_context", e))?;
        let detail = if full { Detail::Full } else { Detail::Summary };
        let mut inner = self.inner.borrow_mut();
        let gate = &mut inner.gate;
        let mut cache = BundleCache::default();
        let (first, _) = decide_with_cache(gate, &mut cache, Some(bundle), &ctx, detail);
        if let Some(e) = first.error {
            return Err(coded(e.code.as_str(), e.message));
        }
        let clock = performance_now()?;
        let start = clock()?;
        for _ in 0..iterations.max(1) {
            decide_with_cache(gate, &mut cache, Some(bundle), &ctx, detail);
        }
        let elapsed = clock()? - start;
        Ok(elapsed * 1000.0 / f64::from(iterations.max(1)))
    }
}

#[wasm_bindgen]
impl Gate {
    /// For benchmarks: the steps of a fresh bundle's first decision inside
    /// wasm, each run `iterations` times, as mean microseconds:
    /// `{ parse, verify, decide }` (parsing and claims validation; the
    /// signature check in wasm; the decision from the verified bundle), and
    /// parsing in its parts: `parse_jws` (the compact JWS and its header),
    /// `parse_check` (the claims' strict-JSON check), `parse_serde` (their
    /// deserialization), `parse_validate` (their validation).
    #[wasm_bindgen(js_name = benchmarkFreshSteps)]
    pub fn benchmark_fresh_steps(
        &self,
        bundle: &str,
        context_value: JsValue,
        iterations: u32,
    ) -> Result<JsValue, JsValue> {
        use crate::bundle::UnverifiedBundle;
        let ctx = context(context_value).map_err(|e| coded("bad_context", e))?;
        let n = iterations.max(1);
        let mut inner = self.inner.borrow_mut();
        let gate = &mut inner.gate;
        let clock = performance_now()?;
        let code = |e: crate::bundle::BundleError| coded(e.code().as_str(), e);
        let t0 = clock()?;
        for _ in 0..n {
            UnverifiedBundle::parse_with_limit(bundle, crate::eval::MAX_BUNDLE_LIMIT).map_err(code)?;
        }
        let t1 = clock()?;
        let mut verified = None;
        for _ in 0..n {
            verified = Some(gate.verify(bundle, ctx.now).map_err(code)?);
        }
        let t2 = clock()?;
        let verified = verified.ok_or_else(|| coded("bench", "no iterations"))?;
        for _ in 0..n {
            gate.decide_verified_with(&verified, &ctx, Detail::Summary);
        }
        let t3 = clock()?;
        // Parsing, in its parts: the compact JWS (base64url, the header), the
        // claims' strict-JSON check (duplicates, depth), their
        // deserialization, and their validation.
        let payload = crate::bundle::jws::parse_compact(bundle, crate::eval::MAX_BUNDLE_LIMIT).map_err(code)?.payload;
        let t4 = clock()?;
        for _ in 0..n {
            crate::bundle::jws::parse_compact(bundle, crate::eval::MAX_BUNDLE_LIMIT).map_err(code)?;
        }
        let t5 = clock()?;
        for _ in 0..n {
            crate::codec::json::check(&payload).map_err(|e| coded("bench", e))?;
        }
        let t6 = clock()?;
        let mut claims = None;
        for _ in 0..n {
            claims = Some(serde_json::from_slice::<crate::model::Claims>(&payload).map_err(|e| coded("bench", e))?);
        }
        let t7 = clock()?;
        let claims = claims.ok_or_else(|| coded("bench", "no iterations"))?;
        for _ in 0..n {
            claims.validate().map_err(|e| coded("bench", e))?;
        }
        let t8 = clock()?;
        let us = |a: f64, b: f64| (b - a) * 1000.0 / f64::from(n);
        let out = js_sys::Object::new();
        for (k, v) in [
            ("parse", us(t0, t1)),
            ("verify", us(t1, t2) - us(t0, t1)),
            ("decide", us(t2, t3)),
            ("parse_jws", us(t4, t5)),
            ("parse_check", us(t5, t6)),
            ("parse_serde", us(t6, t7)),
            ("parse_validate", us(t7, t8)),
        ] {
            js_sys::Reflect::set(&out, &JsValue::from_str(k), &JsValue::from_f64(v))?;
        }
        Ok(out.into())
    }
}

/// For benchmarks: the size of the module's linear memory in bytes (it only
/// grows), to show that it stays flat once warm.
#[wasm_bindgen(js_name = wasmMemoryBytes)]
pub fn wasm_memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) * 65536) as f64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0.0
    }
}
