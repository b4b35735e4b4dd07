//! Fuzz target: arbitrary bytes as a bundle (`UnverifiedBundle::parse`, then
//! `verify` against a fixed key set) and as a key set (`KeySet::from_json`).
//! The body is shared with `tests/it/fuzz_replay.rs`, which replays the seed
//! corpus in `fuzz/seeds/bundle_parse/` in the normal test run.

#![no_main]

use libfuzzer_sys::fuzz_target;

mod target {
    include!("../common/bundle_parse.rs");
}

fuzz_target!(|data: &[u8]| {
    target::run(data);
});
