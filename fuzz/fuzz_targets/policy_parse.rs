//! Fuzz target: arbitrary bytes as a policy document (`Policy::from_json`).
//! The body is shared with `tests/it/fuzz_replay.rs`, which replays the seeds in
//! `fuzz/seeds/policy_parse/` in the normal test run.

#![no_main]

use libfuzzer_sys::fuzz_target;

mod target {
    include!("../common/policy_parse.rs");
}

fuzz_target!(|data: &[u8]| {
    target::run(data);
});
