//! The portable checks in wasm, in Node (wasm-bindgen-test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(target_arch = "wasm32")]

#[macro_use]
mod portable;

use wasm_bindgen_test::wasm_bindgen_test;
// As an ES module: the JS snippet (src/js/glue.js) is an ES module (the Node
// package's copy is made CommonJS by pkg-scripts/build).
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_node_experimental);

portable_tests!(wasm_bindgen_test);

#[path = "wasm_host/mod.rs"]
mod wasm_host;

use signalgate::js::ed25519::Host;

/// Node's `crypto` and WebCrypto both answer, and as `verify_strict` does.
#[wasm_bindgen_test]
async fn host_ed25519_agrees_with_verify_strict() {
    let (wycheproof, strictness) = (wasm_host::wycheproof(), wasm_host::strictness());
    for host in [Host::NodeCrypto, Host::WebCrypto] {
        let answered = wasm_host::through_host(host, &wycheproof).await;
        assert!(answered >= 130, "{host:?} answered only {answered} Wycheproof cases");
        let answered = wasm_host::through_host(host, &strictness).await;
        assert!(answered >= 40, "{host:?} answered only {answered} strictness cases");
    }
}

/// `decideAsync` and `decideForPageAsync` answer exactly as `decide` and
/// `decideForPage`, on every `ed25519` choice, on the golden vectors and on
/// spoiled tokens.
#[wasm_bindgen_test]
async fn async_decisions_are_the_sync_ones() {
    let checked = wasm_host::async_answers_as_sync().await;
    assert!(checked >= 45, "only {checked} bundles");
}
