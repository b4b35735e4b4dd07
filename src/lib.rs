#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![warn(rustdoc::broken_intra_doc_links)]

// Modules in the order data flows through them: time and the leaf codecs,
// the plain model (signals, consent, the policy), signed bundles, the pure
// evaluator, serving without a JS runtime, then the bindings.
pub mod time;
pub mod codec;
pub mod failure;
pub mod model;
pub mod bundle;
pub mod eval;
pub mod serve;
pub mod ledger;
#[cfg(feature = "html")]
pub mod html;

#[cfg(any(feature = "js", feature = "worker", feature = "origin"))]
pub mod clock;
#[cfg(feature = "js")]
pub mod js;
#[cfg(feature = "worker")]
pub mod worker;
#[cfg(all(feature = "origin", not(feature = "worker")))]
pub mod origin;

// The types most callers need, in the same order.

// time
pub use time::{Span, UnixTime, CLOCK_SKEW};
// the failure vocabulary
pub use failure::FailureCode;
// model
pub use model::{Claims, Policy, PolicyError, Signal};
// bundle
pub use bundle::{
    BundleError, Expectations, KeyError, KeySet, Revocations, Signer, SigningKey, UnverifiedBundle, VerifiedBundle,
};
// eval
pub use eval::{evaluate, Context, Decision, Detail, Evaluator, Gate, Tier};
// serving
pub use serve::{BundleCache, PageView};
