//! Revocation: bundle ids and subjects that must stop yielding tokens before
//! their bundles expire.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::error::BundleError;
use super::verify::VerifiedBundle;

/// Revoked bundle ids (`jti`) and subjects (`sub`), as published by the origin:
/// `{"bundles":["b-1"],"subjects":["u-9"]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocations {
    /// Revoked bundle ids (`jti`).
    #[serde(default)]
    pub bundles: BTreeSet<String>,
    /// Revoked subjects (`sub`): every bundle of each, new ones too.
    #[serde(default)]
    pub subjects: BTreeSet<String>,
}

impl Revocations {
    /// Reads the JSON form (duplicates refused like every bundle document).
    pub fn from_json(text: &str) -> Result<Self, BundleError> {
        super::jws::strict_json(super::error::Part::Payload, text.as_bytes())
    }

    /// `Err(Revoked)` if the bundle or its subject has been revoked.
    pub fn check(&self, bundle: &VerifiedBundle) -> Result<(), BundleError> {
        let c = bundle.claims();
        if self.bundles.contains(&c.bundle_id) {
            return Err(BundleError::Revoked { what: "id" });
        }
        if self.subjects.contains(&c.subject) {
            return Err(BundleError::Revoked { what: "subject" });
        }
        Ok(())
    }

    /// True when nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.bundles.is_empty() && self.subjects.is_empty()
    }
}
