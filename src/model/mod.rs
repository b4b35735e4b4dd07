//! Plain data: the signals a bundle carries, their consent records, and the
//! policy document. Everything here is validated when it is parsed.

pub(crate) mod ident;
pub mod policy;
pub(crate) mod signal;

pub use ident::{is_ident, is_uriish, is_value, MAX_IDENT, MAX_URIISH};
pub use policy::{Policy, PolicyError, PolicyProblem};
pub use signal::{
    ClaimError, Claims, ConsentRecord, ConsentStatus, LegalBasis, Signal, CLAIMS_VERSION, MAX_CONSENTS, MAX_LIST,
    MAX_SIGNALS,
};
