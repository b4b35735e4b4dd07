//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// Bytes from hex (the portable checks' helper, shared).
pub use crate::portable::unhex;

/// Exactly 32 bytes from 64 hex digits.
pub fn unhex32(s: &str) -> [u8; 32] {
    <[u8; 32]>::try_from(unhex(s)).unwrap()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new, empty scratch directory for one test, under the system temp dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sg-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
