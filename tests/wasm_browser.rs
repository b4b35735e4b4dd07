//! The portable checks in wasm, in headless Chromium (wasm-bindgen-test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(target_arch = "wasm32")]

#[macro_use]
mod portable;

use wasm_bindgen_test::wasm_bindgen_test;
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

portable_tests!(wasm_bindgen_test);
