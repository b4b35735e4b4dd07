//! Leaf codecs with no knowledge of signals, bundles or policies: the one
//! accepted base64url form, strict JSON, and the FNV name maps. Everything
//! above (model, bundle, eval, serving) uses these; they use nothing of the
//! crate.

pub mod b64;
pub mod fnv;
pub mod json;
