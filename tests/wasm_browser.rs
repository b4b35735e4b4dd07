//! The portable checks in wasm, in headless Chromium (wasm-bindgen-test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(target_arch = "wasm32")]

#[macro_use]
mod portable;

use wasm_bindgen_test::wasm_bindgen_test;
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

portable_tests!(wasm_bindgen_test);

#[path = "wasm_host/mod.rs"]
mod wasm_host;

/// WebCrypto's Ed25519, where the browser has one, answers as `verify_strict`.
#[wasm_bindgen_test]
async fn webcrypto_ed25519_agrees_with_verify_strict() {
    if !wasm_host::has_webcrypto_ed25519().await {
        web_sys_log("this browser's WebCrypto has no Ed25519: the gate verifies in wasm here");
        return;
    }
    let host = signalgate::js::ed25519::Host::WebCrypto;
    let answered = wasm_host::through_host(host, &wasm_host::wycheproof()).await;
    assert!(answered >= 130, "WebCrypto answered only {answered} Wycheproof cases");
    let answered = wasm_host::through_host(host, &wasm_host::strictness()).await;
    assert!(answered >= 40, "WebCrypto answered only {answered} strictness cases");
}

fn web_sys_log(message: &str) {
    wasm_bindgen_test::console_log!("{message}");
}

/// `decideAsync` and `decideForPageAsync` (WebCrypto here) answer exactly as
/// `decide` and `decideForPage` (wasm), on the golden vectors and on spoiled
/// tokens.
#[wasm_bindgen_test]
async fn async_decisions_are_the_sync_ones() {
    let checked = wasm_host::async_answers_as_sync().await;
    assert!(checked >= 45, "only {checked} bundles");
}
