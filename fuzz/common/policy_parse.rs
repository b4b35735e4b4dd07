// The body of the `policy_parse` fuzz target, included (`include!`) by
// `fuzz/fuzz_targets/policy_parse.rs` and by `tests/it/fuzz_replay.rs`.

use signalgate::model::Policy;

/// Runs one input: the policy parser must never panic; an accepted policy
/// has every segment rule bounded and a rejected one names at least one problem.
/// Returns whether the input was accepted.
pub fn run(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    match Policy::from_json(text) {
        Ok(p) => {
            for s in p.segments() {
                assert!(s.rule.size() <= signalgate::model::policy::MAX_RULE_NODES, "unbounded rule accepted");
            }
            true
        }
        Err(e) => {
            assert!(!e.problems.is_empty(), "a rejection without a problem");
            false
        }
    }
}
