//! The `Gate`'s cache of verified bundles, keyed by the token as JS holds
//! it: a JS `Map` from the token's last [`KEY_CHARS`] characters (its
//! signature) to a slot here, whose entry keeps the whole token. A repeat
//! decision finds its bundle with one `Map` lookup and one string comparison
//! (`===`) and never copies the token (KiBs) into wasm. Only verified bundles
//! are inserted, and a hit is the exact same string, re-checked for time,
//! audience and revocation by
//! [`Gate::decide_verified_with`](crate::eval::Gate::decide_verified_with).
//!
//! Why not the whole token as the `Map` key: V8 hashes a string key in full
//! the first time it meets that string object (about 5 µs for a 3.6 KB
//! token, read afresh from a cookie on every request), and gives every string
//! longer than 16,383 characters the same hash, so large tokens would all
//! collide. The signature is short, and as good as unique among tokens that
//! verify; a token that only shares it with a cached one fails the `===` and
//! is verified as any other.
//!
//! Bounded like the Worker's [`BundleCache`](crate::serve::BundleCache): by
//! entries and by the bytes each entry owns, first in, first out.

use std::collections::VecDeque;

use wasm_bindgen::{JsCast, JsValue};

use crate::bundle::VerifiedBundle;
use crate::serve::{entry_bytes, DEFAULT_CAPACITY, DEFAULT_MAX_BYTES};

/// How many characters at the end of a token key the `Map`: an Ed25519
/// signature in base64url.
pub(super) const KEY_CHARS: u32 = 86;

struct Entry {
    /// The whole token.
    token: JsValue,
    /// Its `Map` key, [`key`] of `token`.
    key: JsValue,
    bundle: VerifiedBundle,
    size: usize,
}

pub(super) struct TokenCache {
    index: js_sys::Map,
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    order: VecDeque<usize>,
    bytes: usize,
    capacity: usize,
    max_bytes: usize,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            index: js_sys::Map::new(),
            slots: Vec::new(),
            free: Vec::new(),
            order: VecDeque::new(),
            bytes: 0,
            capacity: DEFAULT_CAPACITY,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl TokenCache {
    /// The verified bundle for exactly this token (a JS string), if cached.
    pub(super) fn get(&self, token: &JsValue) -> Option<&VerifiedBundle> {
        let slot = self.index.get(&key(token)).as_f64()?;
        let entry = self.slots.get(slot as usize)?.as_ref()?;
        (entry.token == *token).then_some(&entry.bundle)
    }

    /// Remembers `bundle`, verified from `token` (`text` is the same token
    /// in Rust), evicting the oldest entries while over either bound.
    pub(super) fn insert(&mut self, token: &JsValue, text: &str, bundle: VerifiedBundle) {
        let size = entry_bytes(text, &bundle);
        let key = key(token);
        // Taken (by this token, or by one with the same last characters,
        // which then stays uncached): keep what is there.
        if size > self.max_bytes || self.index.has(&key) {
            return;
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        self.index.set(&key, &JsValue::from(slot as f64));
        self.slots[slot] = Some(Entry { token: token.clone(), key, bundle, size });
        self.order.push_back(slot);
        self.bytes += size;
        while self.order.len() > self.capacity || self.bytes > self.max_bytes {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(entry) = self.slots.get_mut(old).and_then(Option::take) {
                self.index.delete(&entry.key);
                self.bytes -= entry.size;
                self.free.push(old);
            }
        }
    }

    /// Number of cached bundles.
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }
}

/// The `Map` key of a token (a JS string): its last [`KEY_CHARS`]
/// characters, or all of it if shorter.
fn key(token: &JsValue) -> JsValue {
    let text: &js_sys::JsString = token.unchecked_ref();
    let len = text.length();
    if len <= KEY_CHARS {
        return token.clone();
    }
    text.slice(len - KEY_CHARS, len).into()
}
