//! The portable checks, natively (the same functions run in Node and Chromium).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(not(target_arch = "wasm32"))]

mod portable;

#[test]
fn wycheproof() {
    portable::wycheproof();
}
#[test]
fn rfc8037_example() {
    portable::rfc8037_example();
}
#[test]
fn bundles_sign_verify_and_reject() {
    portable::bundles_sign_verify_and_reject();
}
#[test]
fn keygen_uses_platform_randomness() {
    portable::keygen_uses_platform_randomness();
}
#[test]
fn demo_gate_decisions() {
    portable::demo_gate_decisions();
}
#[test]
fn eval_vectors() {
    portable::eval_vectors();
}
