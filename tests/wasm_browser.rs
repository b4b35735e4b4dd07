//! The portable checks in wasm, in headless Chromium (wasm-bindgen-test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(target_arch = "wasm32")]

mod portable;

use wasm_bindgen_test::wasm_bindgen_test;
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn wycheproof() {
    portable::wycheproof();
}
#[wasm_bindgen_test]
fn rfc8037_example() {
    portable::rfc8037_example();
}
#[wasm_bindgen_test]
fn bundles_sign_verify_and_reject() {
    portable::bundles_sign_verify_and_reject();
}
#[wasm_bindgen_test]
fn keygen_uses_platform_randomness() {
    portable::keygen_uses_platform_randomness();
}
#[wasm_bindgen_test]
fn demo_gate_decisions() {
    portable::demo_gate_decisions();
}
#[wasm_bindgen_test]
fn eval_vectors() {
    portable::eval_vectors();
}
