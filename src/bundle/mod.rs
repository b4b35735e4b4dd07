//! Signed signal bundles: a JWS (compact serialization) signed with EdDSA over
//! Ed25519, carrying [`Claims`](crate::model::Claims).
//!
//! The flow is typed: [`UnverifiedBundle::parse`] then
//! [`UnverifiedBundle::verify`] gives a [`VerifiedBundle`], and only that can
//! be evaluated.
//!
//! ```
//! use signalgate::bundle::{Expectations, KeySet, Signer, SigningKey, UnverifiedBundle};
//! use signalgate::UnixTime;
//! # let claims: signalgate::model::Claims = serde_json::from_str(r#"{"v":1,"iss":"o","sub":"u-1",
//! #   "ten":"demo","aud":"signalgate","iat":100,"nbf":100,"exp":200,"jti":"b-1","pv":"p1","idc":1,
//! #   "cons":{},"sig":[]}"#).unwrap();
//! let key = SigningKey::generate().unwrap();
//! let keys = KeySet::from_json(&key.public_jwks_json()).unwrap();
//! let token = Signer::new(key).sign(&claims).unwrap();
//! let expect = Expectations::new("signalgate", Some("demo"));
//! let bundle = UnverifiedBundle::parse(&token).unwrap().verify(&keys, &expect, UnixTime(150)).unwrap();
//! assert_eq!(bundle.claims().subject, "u-1");
//! // One second past expiry (plus the allowed skew) it no longer verifies.
//! let late = UnverifiedBundle::parse(&token).unwrap().verify(&keys, &expect, UnixTime(261));
//! assert_eq!(late.unwrap_err().code(), "expired");
//! ```

mod error;
/// The compact JWS codec on its own (no claims): public for other uses of
/// EdDSA JWS and for the published test vectors.
pub mod jws;
mod keys;
mod revocation;
mod signer;
/// The checks of strict Ed25519 that need no curve arithmetic.
pub mod strict;
mod verify;

pub use error::{BundleError, KeyError, Part};
pub use keys::{thumbprint, Jwk, KeySet, PublicKey, SigningKey, MAX_KEYS};
pub use revocation::Revocations;
pub use signer::Signer;
pub use verify::{
    Expectations, PreparedBundle, SplitBundle, UnverifiedBundle, VerifiedBundle, DEFAULT_SKEW, MAX_BUNDLE_BYTES,
};

/// The `typ` header value of a signalgate bundle.
pub const BUNDLE_TYP: &str = "signalgate-bundle+jwt";
