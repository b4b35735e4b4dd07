//! A bounded cache of verified bundles inside one isolate, keyed by the
//! bundle's signature, so a repeat visitor does not pay for signature
//! verification again. Entries are compared on the whole token, and a hit is
//! re-checked for time, audience and revocation by
//! [`Gate::decide_verified`](crate::eval::Gate::decide_verified).
//!
//! The cache is bounded twice: by entries and by bytes (an estimate of the
//! memory each entry owns: the token, the parsed claims and the bookkeeping),
//! so that large bundles cannot grow an isolate's memory past the budget.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use crate::bundle::VerifiedBundle;
use crate::codec::b64;
use crate::codec::fnv::Fnv;
use crate::eval::{Context, Decision, Detail, Gate};

/// Default number of bundles kept.
pub const DEFAULT_CAPACITY: usize = 1024;
/// Default memory budget: 8 MiB.
pub const DEFAULT_MAX_BYTES: usize = 8 * 1024 * 1024;

/// First in, first out, bounded by entries and by bytes.
#[derive(Debug)]
pub struct BundleCache {
    /// Keyed by signature. Only verified bundles are inserted, so keys cannot
    /// be chosen by a visitor: a fast non-keyed hash is safe here.
    entries: HashMap<[u8; 64], (String, VerifiedBundle), BuildHasherDefault<Fnv>>,
    /// Insertion order, with each entry's size.
    order: VecDeque<([u8; 64], usize)>,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
}

impl Default for BundleCache {
    fn default() -> Self {
        Self::with_limits(DEFAULT_CAPACITY, DEFAULT_MAX_BYTES)
    }
}

/// The memory an entry owns, estimated from above: the token, every string
/// and list of the claims with their headers, and the cache's own slots.
pub fn entry_bytes(token: &str, bundle: &VerifiedBundle) -> usize {
    use crate::model::{Claims, ConsentRecord, Signal};
    use std::mem::size_of;
    let c = bundle.claims();
    let text = |s: &String| s.capacity();
    let list = |v: &Vec<String>| v.capacity() * size_of::<String>() + v.iter().map(text).sum::<usize>();
    // A B-tree node entry, a hash map slot and a queue slot: generous flat costs.
    const MAP_SLOT: usize = 64;
    let consents: usize = c
        .consents
        .iter()
        .map(|(id, r)| MAP_SLOT + text(id) + size_of::<ConsentRecord>() + list(&r.purposes) + list(&r.scopes))
        .sum();
    let signals: usize = c.signals.capacity() * size_of::<Signal>()
        + c.signals
            .iter()
            .map(|s| {
                text(&s.id) + text(&s.class) + text(&s.value) + text(&s.source) + text(&s.consent) + text(&s.provenance)
            })
            .sum::<usize>();
    let header = [&c.issuer, &c.subject, &c.tenant, &c.audience, &c.bundle_id, &c.policy_version]
        .into_iter()
        .map(text)
        .sum::<usize>()
        + bundle.kid().len();
    token.len() + size_of::<Claims>() + size_of::<VerifiedBundle>() + 3 * MAP_SLOT + header + consents + signals
}

fn signature_key(token: &str) -> Option<[u8; 64]> {
    let sig = token.rsplit('.').next()?;
    if sig.len() != 86 {
        return None;
    }
    let mut key = [0u8; 64];
    match base64::Engine::decode_slice(&b64::URL, sig, &mut key) {
        Ok(64) => Some(key),
        _ => None,
    }
}

/// `a == b`, eight bytes at a time. A hit compares the whole token (a few
/// KiB); in wasm the byte-wise `memcmp` that `==` lowers to cost several
/// microseconds per decision, this a fraction of that.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let tails_equal = a_words.remainder() == b_words.remainder();
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
    tails_equal && a_words.zip(b_words).all(|(x, y)| word(x) == word(y))
}

impl BundleCache {
    /// A cache holding at most `capacity` bundles (at least one), within the
    /// default memory budget.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_limits(capacity, DEFAULT_MAX_BYTES)
    }

    /// A cache holding at most `capacity` bundles (at least one) and at most
    /// `max_bytes` (by [`entry_bytes`]); a bundle larger than the whole
    /// budget is not cached.
    pub fn with_limits(capacity: usize, max_bytes: usize) -> Self {
        let capacity = capacity.max(1);
        BundleCache {
            entries: HashMap::with_capacity_and_hasher(capacity.min(64), BuildHasherDefault::default()),
            order: VecDeque::with_capacity(capacity.min(64)),
            capacity,
            max_bytes,
            bytes: 0,
        }
    }

    /// The estimated memory the cached entries own.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The verified bundle for exactly this token, if cached.
    pub fn get(&self, token: &str) -> Option<&VerifiedBundle> {
        let key = signature_key(token)?;
        self.entries.get(&key).filter(|(t, _)| same_bytes(t.as_bytes(), token.as_bytes())).map(|(_, b)| b)
    }

    /// Remembers a verified bundle, evicting the oldest while over either bound.
    pub fn insert(&mut self, token: &str, bundle: VerifiedBundle) {
        let key = *bundle.signature();
        let size = entry_bytes(token, &bundle);
        if signature_key(token) != Some(key) || size > self.max_bytes || self.entries.contains_key(&key) {
            return;
        }
        self.entries.insert(key, (token.to_string(), bundle));
        self.order.push_back((key, size));
        self.bytes += size;
        while self.order.len() > self.capacity || self.bytes > self.max_bytes {
            let Some((old, old_size)) = self.order.pop_front() else { break };
            self.entries.remove(&old);
            self.bytes -= old_size;
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
        self.bytes = 0;
    }
}

/// Decides through `cache`: a cached bundle is re-checked (time, audience,
/// revocation) but not verified again; a newly verified one is remembered.
/// Returns the decision and whether the cache answered.
pub fn decide_with_cache(
    gate: &mut Gate,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{Expectations, KeySet, Signer, SigningKey, UnverifiedBundle};
    use crate::time::UnixTime;

    fn bundle(jti: &str) -> (String, VerifiedBundle) {
        let key = SigningKey::from_seed(&[4; 32], Some("k"));
        let keys = KeySet::from_json(&key.public_jwks_json()).unwrap();
        let claims = serde_json::from_value(serde_json::json!({"v":1,"iss":"o","sub":"u-1","ten":"t","aud":"a",
            "iat":10,"nbf":10,"exp":100,"jti":jti,"pv":"p","idc":1.0,"cons":{},"sig":[]}))
        .unwrap();
        let token = Signer::new(key).sign(&claims).unwrap();
        let b = UnverifiedBundle::parse(&token).unwrap().verify(&keys, &Expectations::new("a", None), UnixTime(20));
        (token, b.unwrap())
    }

    #[test]
    fn same_bytes_is_equality() {
        let base: Vec<u8> = (0..37u8).collect();
        for len in [0, 1, 7, 8, 9, 16, 23, 37] {
            let a = &base[..len];
            assert!(same_bytes(a, a));
            assert!(!same_bytes(a, &base[..len.saturating_sub(1)]) || len == 0);
            for i in 0..len {
                let mut b = a.to_vec();
                b[i] ^= 0x20;
                assert!(!same_bytes(a, &b), "len {len}, byte {i}");
            }
        }
    }

    #[test]
    fn hits_only_for_the_same_token_and_evicts_the_oldest() {
        let mut cache = BundleCache::with_capacity(2);
        let (t1, b1) = bundle("b-1");
        let (t2, b2) = bundle("b-2");
        let (t3, b3) = bundle("b-3");
        cache.insert(&t1, b1.clone());
        assert_eq!(cache.get(&t1), Some(&b1));
        // Same signature, other bytes before it: not the cached bundle.
        let forged = format!("x{t1}");
        assert_eq!(cache.get(&forged), None);
        assert_eq!(cache.get("garbage"), None);
        // A bundle is never filed under another token's signature.
        cache.insert(&t2, b1.clone());
        assert_eq!(cache.len(), 1);
        cache.insert(&t2, b2.clone());
        cache.insert(&t3, b3);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&t1), None, "the oldest entry is evicted");
        assert_eq!(cache.get(&t2), Some(&b2));
        cache.clear();
        assert!(cache.is_empty());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn the_byte_budget_evicts_the_oldest() {
        let entries: Vec<(String, VerifiedBundle)> = (0..6).map(|i| bundle(&format!("b-{i}"))).collect();
        let size = entry_bytes(&entries[0].0, &entries[0].1);
        let mut cache = BundleCache::with_limits(100, size * 3 + size / 2);
        for (t, b) in &entries {
            cache.insert(t, b.clone());
            assert!(cache.bytes() <= size * 3 + size / 2, "{} bytes", cache.bytes());
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&entries[2].0).is_none() && cache.get(&entries[3].0).is_some());
        // A bundle larger than the whole budget is not cached at all.
        let mut tiny = BundleCache::with_limits(100, size - 1);
        tiny.insert(&entries[0].0, entries[0].1.clone());
        assert!(tiny.is_empty() && tiny.bytes() == 0);
    }
}
