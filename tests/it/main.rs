//! The native integration tests, in one binary (one link, one run):
//!
//! - `bundle_negative`: the negative security suite for bundles and keys;
//! - `bundle_props`: properties of signing and verification;
//! - `crypto_vectors`: published Ed25519 and JWS vectors;
//! - `eval_golden`: the evaluator's golden vectors (`tests/vectors/eval/`);
//! - `eval_props`: the product's invariants against a reference model;
//! - `fuzz_replay`: the fuzz targets' seed corpora;
//! - `cli`: the `signalgate` command line;
//! - `governance`: merges, deletion, retention, intake, roles, webhooks and metrics;
//! - `governance_props`: governance invariants over random operation sequences;
//! - `webhook_vectors`: webhook signature vectors (`tests/vectors/webhooks/`);
//! - `gate_names`: the cookies and headers the gate keeps from the page upstream;
//! - `portable_native`: the checks that also run in Node and Chromium.
//!
//! Shared helpers live in `fixtures`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(not(target_arch = "wasm32"))]

mod fixtures;

#[macro_use]
#[path = "../portable/mod.rs"]
mod portable;

mod bundle_negative;
mod bundle_props;
mod cli;
mod crypto_vectors;
mod eval_golden;
mod eval_props;
mod fuzz_replay;
mod gate_names;
mod governance;
mod governance_props;
mod layers;
mod ledger;
mod ledger_props;
mod webhook_vectors;

/// The portable checks, natively (the same functions run in Node and Chromium).
mod portable_native {
    use super::portable;
    portable_tests!(test);
}
