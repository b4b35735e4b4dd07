//! Plain data: the signals a bundle carries, their consent records, and the
//! policy document. Everything here is validated when it is parsed.

pub mod ident;
pub mod policy;
pub mod signal;

pub use policy::{Policy, PolicyError};
pub use signal::{Claims, ConsentRecord, ConsentStatus, LegalBasis, Signal, CLAIMS_VERSION};
