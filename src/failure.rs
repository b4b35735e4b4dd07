//! The one vocabulary of failures: every decision that fails closed (the
//! generic tier, no tokens) names its cause with a [`FailureCode`], and the
//! same code is what logs, the JS API and the CLI report. The codes are
//! stable strings (`bad_signature`, `expired`, ...): golden vectors and JS
//! callers match on them.

use std::fmt;

use serde::Serialize;

/// Why a decision failed. Serialised (and shown) as its stable snake_case name.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    /// The bundle is larger than the limit.
    TooLarge,
    /// Not three dot-separated base64url parts.
    NotCompactJws,
    /// A part is not canonical unpadded base64url.
    BadBase64,
    /// A part is not the JSON it should be.
    BadJson,
    /// A JSON object repeats a member name.
    DuplicateMember,
    /// `alg` is not `EdDSA`.
    UnsupportedAlg,
    /// The header has no `kid`.
    MissingKid,
    /// `typ` does not name a signalgate bundle.
    WrongTyp,
    /// `crit` names an extension the gate does not implement.
    UnsupportedCrit,
    /// No trusted key has the bundle's `kid`.
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// The bundle has expired.
    Expired,
    /// The bundle is not valid yet.
    NotYetValid,
    /// `aud` is not the gate's audience.
    WrongAudience,
    /// `ten` is not the gate's tenant.
    WrongTenant,
    /// A claim breaks the schema.
    InvalidClaim,
    /// The bundle or its subject has been revoked.
    Revoked,
    /// `exp - iat` is longer than the policy allows.
    LifetimeTooLong,
    /// The signing key may not sign for the bundle's tenant.
    KeyNotForTenant,
    /// The policy governs another tenant than the gate's.
    PolicyTenant,
    /// No tenant is configured for the request's host.
    NoTenant,
    /// The gate's configuration (keys, policy, variables) could not be read.
    Config,
    /// The caller's request context is malformed.
    BadContext,
    /// The revocation feed could not be read recently enough to know what was revoked.
    RevocationsStale,
}

impl FailureCode {
    /// Every code, in declaration order.
    pub const ALL: [FailureCode; 24] = [
        FailureCode::TooLarge,
        FailureCode::NotCompactJws,
        FailureCode::BadBase64,
        FailureCode::BadJson,
        FailureCode::DuplicateMember,
        FailureCode::UnsupportedAlg,
        FailureCode::MissingKid,
        FailureCode::WrongTyp,
        FailureCode::UnsupportedCrit,
        FailureCode::UnknownKey,
        FailureCode::BadSignature,
        FailureCode::Expired,
        FailureCode::NotYetValid,
        FailureCode::WrongAudience,
        FailureCode::WrongTenant,
        FailureCode::InvalidClaim,
        FailureCode::Revoked,
        FailureCode::LifetimeTooLong,
        FailureCode::KeyNotForTenant,
        FailureCode::PolicyTenant,
        FailureCode::NoTenant,
        FailureCode::Config,
        FailureCode::BadContext,
        FailureCode::RevocationsStale,
    ];

    /// The stable name (`bad_signature`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::TooLarge => "too_large",
            FailureCode::NotCompactJws => "not_compact_jws",
            FailureCode::BadBase64 => "bad_base64",
            FailureCode::BadJson => "bad_json",
            FailureCode::DuplicateMember => "duplicate_member",
            FailureCode::UnsupportedAlg => "unsupported_alg",
            FailureCode::MissingKid => "missing_kid",
            FailureCode::WrongTyp => "wrong_typ",
            FailureCode::UnsupportedCrit => "unsupported_crit",
            FailureCode::UnknownKey => "unknown_key",
            FailureCode::BadSignature => "bad_signature",
            FailureCode::Expired => "expired",
            FailureCode::NotYetValid => "not_yet_valid",
            FailureCode::WrongAudience => "wrong_audience",
            FailureCode::WrongTenant => "wrong_tenant",
            FailureCode::InvalidClaim => "invalid_claim",
            FailureCode::Revoked => "revoked",
            FailureCode::LifetimeTooLong => "lifetime_too_long",
            FailureCode::KeyNotForTenant => "key_not_for_tenant",
            FailureCode::PolicyTenant => "policy_tenant",
            FailureCode::NoTenant => "no_tenant",
            FailureCode::Config => "config",
            FailureCode::BadContext => "bad_context",
            FailureCode::RevocationsStale => "revocations_stale",
        }
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for FailureCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for code in FailureCode::ALL {
            assert_eq!(serde_json::json!(code), serde_json::json!(code.as_str()));
            assert!(seen.insert(code.as_str()), "{code} twice");
        }
    }
}
