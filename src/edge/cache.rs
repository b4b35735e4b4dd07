//! A bounded cache of verified bundles inside one isolate, keyed by the
//! bundle's signature, so a repeat visitor does not pay for signature
//! verification again. Entries are compared on the whole token, and a hit is
//! re-checked for time, audience and revocation by
//! [`Gate::decide_verified`](crate::eval::Gate::decide_verified).

use std::collections::{HashMap, VecDeque};

use crate::bundle::{b64, VerifiedBundle};
use crate::eval::{Context, Decision, Detail, Gate};

/// Default number of bundles kept.
pub const DEFAULT_CAPACITY: usize = 1024;

/// First in, first out, bounded.
#[derive(Debug)]
pub struct BundleCache {
    entries: HashMap<[u8; 64], (String, VerifiedBundle)>,
    order: VecDeque<[u8; 64]>,
    capacity: usize,
}

impl Default for BundleCache {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

fn signature_key(token: &str) -> Option<[u8; 64]> {
    let sig = token.rsplit('.').next()?;
    if sig.len() != 86 {
        return None;
    }
    b64::decode(sig).and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
}

impl BundleCache {
    /// A cache holding at most `capacity` bundles (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        BundleCache { entries: HashMap::with_capacity(capacity), order: VecDeque::with_capacity(capacity), capacity }
    }

    /// The verified bundle for exactly this token, if cached.
    pub fn get(&self, token: &str) -> Option<&VerifiedBundle> {
        let key = signature_key(token)?;
        self.entries.get(&key).filter(|(t, _)| t == token).map(|(_, b)| b)
    }

    /// Remembers a verified bundle, evicting the oldest when full.
    pub fn insert(&mut self, token: &str, bundle: VerifiedBundle) {
        let key = *bundle.signature();
        if signature_key(token) != Some(key) {
            return;
        }
        if self.entries.insert(key, (token.to_string(), bundle)).is_none() {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.entries.remove(&old);
                }
            }
        }
    }

    /// Number of cached bundles.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops everything (e.g. after a key or policy change).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }
}

/// Decides through `cache`: a cached bundle is re-checked (time, audience,
/// revocation) but not verified again; a newly verified one is remembered.
/// Returns the decision and whether the cache answered.
pub fn decide_with_cache(
    gate: &Gate,
    cache: &mut BundleCache,
    token: Option<&str>,
    ctx: &Context,
    detail: Detail,
) -> (Decision, bool) {
    let Some(token) = token else { return (gate.decide_with(None, ctx, detail), false) };
    if let Some(bundle) = cache.get(token) {
        return (gate.decide_verified_with(bundle, ctx, detail), true);
    }
    match gate.verify(token, ctx.now) {
        Ok(bundle) => {
            let d = gate.decide_verified_with(&bundle, ctx, detail);
            cache.insert(token, bundle);
            (d, false)
        }
        Err(e) => (gate.failed(&e), false),
    }
}
