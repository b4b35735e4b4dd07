//! Replays the seed corpus of the `bundle_parse` fuzz target natively, with
//! the target's own body, so that `cargo test` covers it without nightly or
//! cargo-fuzz. Files named `ok-*` must verify; files named `keys-*` must be
//! accepted as a key set; nothing else may verify.

mod target {
    include!("../../fuzz/common/bundle_parse.rs");
}

const SEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/bundle_parse");

#[test]
fn replay_seed_corpus() {
    let mut entries: Vec<_> = std::fs::read_dir(SEEDS).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    let (mut verified, mut key_sets) = (0, 0);
    for path in &entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(path).unwrap();
        let out = target::run(&data);
        println!("{name}: {out:?}");
        assert_eq!(out.verified, name.starts_with("ok-"), "{name}: {out:?}");
        assert_eq!(out.key_set, name.starts_with("keys-"), "{name}: {out:?}");
        verified += usize::from(out.verified);
        key_sets += usize::from(out.key_set);
    }
    assert!(entries.len() >= 10, "only {} seeds in {SEEDS}", entries.len());
    assert!(verified >= 1 && key_sets >= 1);
}

#[test]
fn every_prefix_of_the_valid_seed_is_handled() {
    // A cheap, deterministic sweep around the valid seed: every prefix and
    // every single-byte deletion runs through the target without verifying.
    let valid = std::fs::read(format!("{SEEDS}/ok-valid-bundle.jws")).unwrap();
    assert!(target::run(&valid).verified);
    for cut in 0..valid.len() {
        assert!(!target::run(&valid[..cut]).verified, "prefix of {cut} bytes verifies");
        let mut dropped = valid.clone();
        dropped.remove(cut);
        assert!(!target::run(&dropped).verified, "deleting byte {cut} still verifies");
    }
}

mod policy_target {
    include!("../../fuzz/common/policy_parse.rs");
}

/// Replays `fuzz/seeds/policy_parse/`: files named `ok-*` must parse, all
/// others must be rejected with problems, and nothing may panic.
#[test]
fn replay_policy_seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/policy_parse");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let accepted = policy_target::run(&std::fs::read(&path).unwrap());
        assert_eq!(accepted, name.starts_with("ok-"), "{name}");
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} seeds");
}
