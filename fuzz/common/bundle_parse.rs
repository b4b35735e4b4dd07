// The body of the `bundle_parse` fuzz target, included (`include!`) by
// `fuzz/fuzz_targets/bundle_parse.rs` and by `tests/it/fuzz_replay.rs` so that
// the seed corpus is replayed by the ordinary test run.

use std::sync::OnceLock;

use signalgate::bundle::{Expectations, KeySet, SigningKey, UnverifiedBundle};
use signalgate::UnixTime;

/// Seed of the fixed signing key whose public half the target trusts.
pub const SEED: [u8; 32] = [0x5a; 32];
/// Its `kid`.
pub const KID: &str = "fuzz-k1";
/// The audience and tenant the target expects.
pub const AUDIENCE: &str = "signalgate";
pub const TENANT: &str = "demo";
/// The fixed "now" of every verification: 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600;

/// The fixed signing key (for making seeds; the target only uses its public half).
pub fn signing_key() -> SigningKey {
    SigningKey::from_seed(&SEED, Some(KID))
}

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| KeySet::new(vec![signing_key().public_key()]).unwrap_or_else(|e| panic!("fixed key set: {e}")))
}

fn expect() -> Expectations {
    Expectations::new(AUDIENCE, Some(TENANT))
}

/// What one input did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The bytes are UTF-8.
    pub text: bool,
    /// `UnverifiedBundle::parse` accepted them.
    pub parsed: bool,
    /// ... and `verify` against the fixed key set at `NOW` did too.
    pub verified: bool,
    /// `KeySet::from_json` accepted them.
    pub key_set: bool,
}

/// Runs one input. Panics (which the fuzzer reports) on a crash or when an
/// accepted input breaks an invariant.
pub fn run(data: &[u8]) -> Outcome {
    let mut out = Outcome::default();
    let Ok(text) = std::str::from_utf8(data) else {
        return out;
    };
    out.text = true;

    if let Ok(set) = KeySet::from_json(text) {
        out.key_set = true;
        // A key set that was accepted survives its own JWKS form unchanged.
        let again = KeySet::from_json(&set.to_json()).unwrap_or_else(|e| panic!("re-reading {}: {e}", set.to_json()));
        assert_eq!(again, set);
    }

    if let Ok(bundle) = UnverifiedBundle::parse(text) {
        out.parsed = true;
        assert_eq!(bundle.header().alg, "EdDSA");
        assert!(!bundle.kid().is_empty());
        assert!(bundle.claims_unverified().validate().is_ok(), "parse accepted invalid claims");
        let claims = bundle.claims_unverified().clone();
        if let Ok(verified) = bundle.verify(keys(), &expect(), UnixTime(NOW)) {
            out.verified = true;
            assert_eq!(verified.kid(), KID);
            assert_eq!(verified.claims(), &claims);
            assert_eq!(verified.recheck(&expect(), UnixTime(NOW)), Ok(()));
        }
    }
    out
}
