//! The portable checks in wasm, in Node (wasm-bindgen-test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(target_arch = "wasm32")]

#[macro_use]
mod portable;

use wasm_bindgen_test::wasm_bindgen_test;

portable_tests!(wasm_bindgen_test);
