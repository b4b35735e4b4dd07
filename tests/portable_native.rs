//! The portable checks, natively (the same functions run in Node and Chromium).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(not(target_arch = "wasm32"))]

#[macro_use]
mod portable;

portable_tests!(test);
