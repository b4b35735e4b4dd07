//! Fuzz target: arbitrary bytes (as lossy UTF-8) as a data keyring
//! (`DataKeys::from_json`) and as a sealed value opened under a fixed keyring
//! (`DataKeys::open`). Neither may panic; a refusal is a `Config` or an
//! `Integrity` error; an accepted keyring seals and opens a value again; the
//! sealed-form helpers agree with each other.

#![no_main]

use libfuzzer_sys::fuzz_target;
use signalgate::ledger::entropy::SeededEntropy;
use signalgate::ledger::seal::{is_sealed, sealed_kid};
use signalgate::ledger::{DataKeys, LedgerError};

/// `k1` = bytes 0..32, `k2` = bytes 32..64; `k2` is active.
const KEYRING: &str = r#"{"active": "k2", "keys": {"k1": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "k2": "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"}}"#;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    match DataKeys::from_json(&text) {
        Ok(keys) => {
            let sealed = keys.seal("t1", b"aad", b"x", &mut SeededEntropy::new(1)).expect("an accepted keyring seals");
            assert_eq!(sealed_kid(&sealed), Some(keys.active_kid()));
            assert_eq!(keys.open("t1", b"aad", &sealed).expect("and opens its own value"), b"x");
        }
        Err(LedgerError::Config { .. }) => {}
        Err(other) => panic!("a keyring refused with {other:?}"),
    }

    let keys = DataKeys::from_json(KEYRING).expect("the fixed keyring parses");
    assert_eq!(is_sealed(&text), sealed_kid(&text).is_some());
    assert_eq!(keys.needs_rotation(&text), sealed_kid(&text).is_some_and(|kid| kid != "k2"));
    match keys.open("t1", b"aad", &text) {
        Ok(_) => assert!(is_sealed(&text), "opened a value that is not of the sealed form"),
        Err(LedgerError::Integrity { .. }) => {}
        Err(LedgerError::Config { .. }) => assert!(is_sealed(&text), "a key error for a malformed value"),
        Err(other) => panic!("a sealed value refused with {other:?}"),
    }
});
