//! One error enum for everything that can go wrong reading, verifying or
//! signing a bundle.

use std::fmt;

use crate::codec::json::JsonProblem;
use crate::failure::FailureCode;
use crate::model::signal::ClaimError;
use crate::time::{Span, UnixTime};

/// The part of a compact JWS a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The protected header, the first part.
    Header,
    /// The payload (the claims), the second part.
    Payload,
    /// The signature, the third part.
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

/// Why a bundle was not accepted (or could not be produced).
///
/// A failed signature check is one opaque variant, [`BundleError::BadSignature`]:
/// it never says which check inside the verification failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleError {
    /// Larger than the limit; checked before any parsing.
    TooLarge {
        /// The token's length in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// Not three dot-separated base64url parts.
    NotCompactJws,
    /// A part is not canonical unpadded base64url.
    Base64 {
        /// The part that does not decode.
        part: Part,
    },
    /// A part is not the JSON it should be.
    Json {
        /// The part that does not parse (the header or the payload).
        part: Part,
        /// What the JSON parser reported.
        detail: String,
    },
    /// A JSON object repeats a member name.
    DuplicateMember {
        /// The part with the repeated member (the header or the payload).
        part: Part,
        /// The repeated member name.
        name: String,
    },
    /// `alg` is not `EdDSA`.
    UnsupportedAlgorithm {
        /// The header's `alg`.
        alg: String,
    },
    /// The header has no `kid`.
    MissingKeyId,
    /// `typ` does not name a signalgate bundle.
    WrongType {
        /// The header's `typ`; `None` when it is missing.
        typ: Option<String>,
    },
    /// `crit` lists an extension this gate does not implement, or is malformed.
    UnsupportedCritical {
        /// The first name in `crit`, or `[]` for an empty list.
        name: String,
    },
    /// No key with this `kid` in the key set (never seen, or retired).
    UnknownKey {
        /// The `kid` the header names.
        kid: String,
    },
    /// The signature does not verify.
    BadSignature,
    /// Past `exp` (allowing for skew).
    Expired {
        /// The bundle's `exp`.
        expired_at: UnixTime,
        /// The verification time.
        now: UnixTime,
    },
    /// Before `nbf` or `iat` (allowing for skew).
    NotYetValid {
        /// The bundle's `nbf`, or its `iat` when `nbf` passed and `iat` did not.
        not_before: UnixTime,
        /// The verification time.
        now: UnixTime,
    },
    /// `aud` is not this gate's audience.
    WrongAudience {
        /// This gate's audience.
        expected: String,
        /// The bundle's `aud`.
        found: String,
    },
    /// `ten` is not this gate's tenant.
    WrongTenant {
        /// The tenant the verifier expects.
        expected: String,
        /// The bundle's `ten`.
        found: String,
    },
    /// A claim breaks the schema.
    InvalidClaim {
        /// The claim's path in the payload (`exp`, `sig[2].val`, ...).
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The bundle id or subject has been revoked.
    Revoked {
        /// What matched the revocation list: `id` (the `jti`) or `subject` (the `sub`).
        what: &'static str,
    },
    /// `exp - iat` is longer than the gate accepts.
    LifetimeTooLong {
        /// The bundle's `exp - iat`.
        lifetime: Span,
        /// The longest lifetime the gate accepts.
        max: Span,
    },
    /// The key that signed the bundle may not sign for its tenant.
    KeyNotForTenant {
        /// The `kid` of the key that signed the bundle.
        kid: String,
        /// The bundle's `ten`.
        tenant: String,
    },
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::TooLarge { size, max } => write!(f, "bundle is {size} bytes, more than the limit of {max}"),
            BundleError::NotCompactJws => {
                f.write_str("bundle is not a compact JWS: expected three base64url parts separated by `.`")
            }
            BundleError::Base64 { part } => write!(f, "bundle {part} is not canonical unpadded base64url"),
            BundleError::Json { part, detail } => write!(f, "bundle {part} is not valid JSON: {detail}"),
            BundleError::DuplicateMember { part, name } => write!(f, "bundle {part} repeats the member `{name}`"),
            BundleError::UnsupportedAlgorithm { alg } => write!(f, "header `alg` must be `EdDSA`, found `{alg}`"),
            BundleError::MissingKeyId => f.write_str("header has no `kid`"),
            BundleError::WrongType { typ: Some(t) } => {
                write!(f, "header `typ` must be `{}`, found `{t}`", super::BUNDLE_TYP)
            }
            BundleError::WrongType { typ: None } => {
                write!(f, "header `typ` is missing, expected `{}`", super::BUNDLE_TYP)
            }
            BundleError::UnsupportedCritical { name } => {
                write!(f, "header `crit` names `{name}`, which this gate does not implement")
            }
            BundleError::UnknownKey { kid } => write!(f, "no active key with `kid` `{kid}`"),
            BundleError::BadSignature => f.write_str("signature does not verify"),
            BundleError::Expired { expired_at, now } => write!(f, "bundle expired at {expired_at} (now {now})"),
            BundleError::NotYetValid { not_before, now } => {
                write!(f, "bundle is not valid before {not_before} (now {now})")
            }
            BundleError::WrongAudience { expected, found } => {
                write!(f, "claim `aud` is `{found}`, expected `{expected}`")
            }
            BundleError::WrongTenant { expected, found } => {
                write!(f, "claim `ten` is `{found}`, expected `{expected}`")
            }
            BundleError::InvalidClaim { field, problem } => write!(f, "claim `{field}`: {problem}"),
            BundleError::Revoked { what } => write!(f, "bundle {what} has been revoked"),
            BundleError::LifetimeTooLong { lifetime, max } => {
                write!(f, "bundle lifetime (`exp` - `iat`) is {lifetime}, more than the limit of {max}")
            }
            BundleError::KeyNotForTenant { kid, tenant } => {
                write!(f, "key `{kid}` may not sign bundles for tenant `{tenant}`")
            }
        }
    }
}

impl std::error::Error for BundleError {}

impl From<ClaimError> for BundleError {
    fn from(e: ClaimError) -> Self {
        BundleError::InvalidClaim { field: e.field, problem: e.problem }
    }
}

impl BundleError {
    /// The error for a JSON problem in `part`: a repeated member has its own
    /// code (`duplicate_member`), anything else is `bad_json`.
    pub(crate) fn json(part: Part, problem: JsonProblem) -> BundleError {
        match problem {
            JsonProblem::Duplicate(name) => BundleError::DuplicateMember { part, name },
            JsonProblem::Syntax(detail) => BundleError::Json { part, detail },
        }
    }

    /// A short stable code for logs and decisions (`bad_signature`, `expired`, ...).
    pub fn code(&self) -> FailureCode {
        match self {
            BundleError::TooLarge { .. } => FailureCode::TooLarge,
            BundleError::NotCompactJws => FailureCode::NotCompactJws,
            BundleError::Base64 { .. } => FailureCode::BadBase64,
            BundleError::Json { .. } => FailureCode::BadJson,
            BundleError::DuplicateMember { .. } => FailureCode::DuplicateMember,
            BundleError::UnsupportedAlgorithm { .. } => FailureCode::UnsupportedAlg,
            BundleError::MissingKeyId => FailureCode::MissingKid,
            BundleError::WrongType { .. } => FailureCode::WrongTyp,
            BundleError::UnsupportedCritical { .. } => FailureCode::UnsupportedCrit,
            BundleError::UnknownKey { .. } => FailureCode::UnknownKey,
            BundleError::BadSignature => FailureCode::BadSignature,
            BundleError::Expired { .. } => FailureCode::Expired,
            BundleError::NotYetValid { .. } => FailureCode::NotYetValid,
            BundleError::WrongAudience { .. } => FailureCode::WrongAudience,
            BundleError::WrongTenant { .. } => FailureCode::WrongTenant,
            BundleError::InvalidClaim { .. } => FailureCode::InvalidClaim,
            BundleError::Revoked { .. } => FailureCode::Revoked,
            BundleError::LifetimeTooLong { .. } => FailureCode::LifetimeTooLong,
            BundleError::KeyNotForTenant { .. } => FailureCode::KeyNotForTenant,
        }
    }
}

/// Why a key or key set was not accepted.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not the JSON a JWK or JWK Set should be.
    Json {
        /// What the JSON parser reported.
        detail: String,
    },
    /// A member has the wrong value (`kty`, `crv`, `alg`, `use`, `key_ops`).
    Unsupported {
        /// The member's name.
        member: &'static str,
        /// Its value (for `key_ops`, the first entry that is not `verify` or `sign`).
        found: String,
    },
    /// `x` or `d` is not 32 bytes of canonical base64url.
    BadKeyBytes {
        /// `x` or `d`.
        member: &'static str,
    },
    /// The public key is not a valid curve point or has small order.
    WeakPublicKey,
    /// `d` does not belong to `x`.
    Mismatch,
    /// Two keys in a set share a `kid`.
    DuplicateKid {
        /// The repeated `kid`.
        kid: String,
    },
    /// A `kid` that is not an identifier, or a tenant in a key-to-tenant
    /// binding that is not one.
    BadKid {
        /// The `kid`; for a bad tenant, `KID: tenant "TENANT"`.
        kid: String,
    },
    /// A public key set carries private key material.
    PrivateInPublicSet {
        /// The `kid` of the key that has `d`.
        kid: String,
    },
    /// The key set is empty or holds more than [`MAX_KEYS`](crate::bundle::MAX_KEYS) keys.
    SetSize {
        /// How many keys it holds.
        found: usize,
    },
    /// The operating system or browser gave no randomness.
    Randomness {
        /// The error the randomness source reported.
        detail: String,
    },
    /// A key-to-tenant binding names a `kid` the set does not hold.
    UnknownKidInBinding {
        /// The `kid` missing from the set.
        kid: String,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Json { detail } => write!(f, "key: {detail}"),
            KeyError::Unsupported { member, found } => {
                write!(f, "key member `{member}` is `{found}`, only Ed25519 signing keys (OKP, EdDSA) are accepted")
            }
            KeyError::BadKeyBytes { member } => {
                write!(f, "key member `{member}` must be 32 bytes of unpadded base64url")
            }
            KeyError::WeakPublicKey => f.write_str("public key is not a valid Ed25519 point or has small order"),
            KeyError::Mismatch => f.write_str("private key `d` does not match public key `x`"),
            KeyError::DuplicateKid { kid } => write!(f, "key set has two keys with `kid` `{kid}`"),
            KeyError::BadKid { kid } => write!(f, "`kid` {kid:?} is not an identifier (1-64 of A-Z a-z 0-9 . _ : -)"),
            KeyError::PrivateInPublicSet { kid } => {
                write!(f, "key `{kid}` in a public key set carries private material `d`")
            }
            KeyError::SetSize { found } => {
                write!(f, "a key set holds 1 to {} keys, found {found}", super::keys::MAX_KEYS)
            }
            KeyError::Randomness { detail } => write!(f, "no randomness available for key generation: {detail}"),
            KeyError::UnknownKidInBinding { kid } => {
                write!(f, "the key-to-tenant binding names `kid` `{kid}`, which is not in the key set")
            }
        }
    }
}

impl std::error::Error for KeyError {}

impl From<JsonProblem> for KeyError {
    fn from(problem: JsonProblem) -> Self {
        KeyError::Json { detail: problem.to_string() }
    }
}
