//! One error enum for the ledger, with a stable code per failure, the field
//! it concerns, and the HTTP status and problem document (RFC 9457) the
//! origin answers with. A refused request changes nothing.

use std::fmt;

use serde::Serialize;

use super::store::StoreError;

/// Why a ledger operation was refused or failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// The request body is not the JSON expected.
    MalformedBody {
        /// What is wrong.
        detail: String,
    },
    /// A required field is missing.
    MissingField {
        /// The field, as named in the request.
        field: &'static str,
    },
    /// A field has a value of the wrong form (not an identifier, out of range...).
    InvalidField {
        /// The field, as named in the request.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// `signal_type` names no class of the policy.
    UnknownClass {
        /// The class asked for.
        class: String,
    },
    /// `value` is not in the class's vocabulary and no alias maps it there.
    ValueNotInVocabulary {
        /// The class.
        class: String,
        /// The vocabulary, for the message (the refused text is never echoed:
        /// free text may be personal).
        allowed: String,
    },
    /// A purpose is unknown to the policy or not allowed for the class.
    PurposeNotAllowed {
        /// The class.
        class: String,
        /// The purpose.
        purpose: String,
    },
    /// The consent reference exists with other terms, or was revoked.
    ConsentMismatch {
        /// The consent reference.
        consent: String,
        /// What differs.
        detail: String,
    },
    /// No such signal (or it is not active) for this subject.
    UnknownSignal {
        /// The signal id.
        signal: String,
    },
    /// No such consent record for this subject.
    UnknownConsent {
        /// The consent id.
        consent: String,
    },
    /// The request body is larger than the limit.
    BodyTooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// The idempotency key was used with another request body.
    IdempotencyMismatch,
    /// A request with the same idempotency key is still being processed.
    IdempotencyInFlight,
    /// The caller is not authenticated.
    Unauthenticated {
        /// What is missing or wrong.
        detail: String,
    },
    /// The caller may not act on this tenant or subject.
    Forbidden {
        /// Why.
        detail: String,
    },
    /// No such route or resource.
    NotFound,
    /// The method is not allowed on this route.
    MethodNotAllowed,
    /// The subject was merged into another one: write to that one.
    SubjectMerged {
        /// The subject it was merged into.
        into: String,
    },
    /// The subject was deleted.
    SubjectDeleted,
    /// A merge cannot be done as asked (the source is merged elsewhere,
    /// the target is merged, a subject merged into itself, ...).
    MergeConflict {
        /// Why.
        detail: String,
    },
    /// No such merge (or review) for this tenant or subject.
    UnknownMerge {
        /// The merge id.
        merge: String,
    },
    /// No such intake item for this subject (or it is no longer pending).
    UnknownIntake {
        /// The intake id.
        intake: String,
    },
    /// The stored history does not verify (chain or projection).
    Integrity {
        /// What does not verify.
        detail: String,
    },
    /// The storage failed; nothing was written.
    Storage {
        /// The store's message.
        detail: String,
    },
    /// The origin is not configured (keys, policy, secrets).
    Config {
        /// What is missing.
        detail: String,
    },
}

impl LedgerError {
    /// The stable code (`unknown_class`, `idempotency_mismatch`, ...); the
    /// problem document's `type` is `urn:signalgate:problem:<code>`.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::MalformedBody { .. } => "malformed_body",
            LedgerError::MissingField { .. } => "missing_field",
            LedgerError::InvalidField { .. } => "invalid_field",
            LedgerError::UnknownClass { .. } => "unknown_class",
            LedgerError::ValueNotInVocabulary { .. } => "value_not_in_vocabulary",
            LedgerError::PurposeNotAllowed { .. } => "purpose_not_allowed",
            LedgerError::ConsentMismatch { .. } => "consent_mismatch",
            LedgerError::UnknownSignal { .. } => "unknown_signal",
            LedgerError::UnknownConsent { .. } => "unknown_consent",
            LedgerError::BodyTooLarge { .. } => "body_too_large",
            LedgerError::IdempotencyMismatch => "idempotency_mismatch",
            LedgerError::IdempotencyInFlight => "idempotency_in_flight",
            LedgerError::Unauthenticated { .. } => "unauthenticated",
            LedgerError::Forbidden { .. } => "forbidden",
            LedgerError::NotFound => "not_found",
            LedgerError::MethodNotAllowed => "method_not_allowed",
            LedgerError::SubjectMerged { .. } => "subject_merged",
            LedgerError::SubjectDeleted => "subject_deleted",
            LedgerError::MergeConflict { .. } => "merge_conflict",
            LedgerError::UnknownMerge { .. } => "unknown_merge",
            LedgerError::UnknownIntake { .. } => "unknown_intake",
            LedgerError::Integrity { .. } => "integrity",
            LedgerError::Storage { .. } => "storage",
            LedgerError::Config { .. } => "config",
        }
    }

    /// The HTTP status the origin answers with.
    pub fn status(&self) -> u16 {
        match self {
            LedgerError::MalformedBody { .. } => 400,
            LedgerError::Unauthenticated { .. } => 401,
            LedgerError::Forbidden { .. } => 403,
            LedgerError::NotFound
            | LedgerError::UnknownSignal { .. }
            | LedgerError::UnknownConsent { .. }
            | LedgerError::UnknownMerge { .. }
            | LedgerError::UnknownIntake { .. } => 404,
            LedgerError::MethodNotAllowed => 405,
            LedgerError::IdempotencyInFlight
            | LedgerError::SubjectMerged { .. }
            | LedgerError::MergeConflict { .. } => 409,
            LedgerError::SubjectDeleted => 410,
            LedgerError::BodyTooLarge { .. } => 413,
            LedgerError::MissingField { .. }
            | LedgerError::InvalidField { .. }
            | LedgerError::UnknownClass { .. }
            | LedgerError::ValueNotInVocabulary { .. }
            | LedgerError::PurposeNotAllowed { .. }
            | LedgerError::ConsentMismatch { .. }
            | LedgerError::IdempotencyMismatch => 422,
            LedgerError::Integrity { .. } | LedgerError::Storage { .. } => 500,
            LedgerError::Config { .. } => 503,
        }
    }

    /// The request field the problem concerns, if one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            LedgerError::MissingField { field } | LedgerError::InvalidField { field, .. } => Some(field),
            LedgerError::UnknownClass { .. } => Some("signal_type"),
            LedgerError::ValueNotInVocabulary { .. } => Some("value"),
            LedgerError::PurposeNotAllowed { .. } => Some("purpose"),
            LedgerError::ConsentMismatch { .. } => Some("consent_reference"),
            LedgerError::IdempotencyMismatch | LedgerError::IdempotencyInFlight => Some("Idempotency-Key"),
            _ => None,
        }
    }

    /// A short title per code.
    fn title(&self) -> &'static str {
        match self {
            LedgerError::MalformedBody { .. } => "The request body is not valid JSON of the expected shape",
            LedgerError::MissingField { .. } => "A required field is missing",
            LedgerError::InvalidField { .. } => "A field has an invalid value",
            LedgerError::UnknownClass { .. } => "Unknown signal type",
            LedgerError::ValueNotInVocabulary { .. } => "Value not in the policy's vocabulary",
            LedgerError::PurposeNotAllowed { .. } => "Purpose not allowed for this signal type",
            LedgerError::ConsentMismatch { .. } => "Consent reference does not match",
            LedgerError::UnknownSignal { .. } => "No such signal",
            LedgerError::UnknownConsent { .. } => "No such consent record",
            LedgerError::BodyTooLarge { .. } => "Request body too large",
            LedgerError::IdempotencyMismatch => "Idempotency key reused with another request",
            LedgerError::IdempotencyInFlight => "A request with this idempotency key is in progress",
            LedgerError::Unauthenticated { .. } => "Authentication required",
            LedgerError::Forbidden { .. } => "Not allowed",
            LedgerError::NotFound => "Not found",
            LedgerError::MethodNotAllowed => "Method not allowed",
            LedgerError::SubjectMerged { .. } => "The subject was merged into another one",
            LedgerError::SubjectDeleted => "The subject was deleted",
            LedgerError::MergeConflict { .. } => "The merge conflicts with the subjects' state",
            LedgerError::UnknownMerge { .. } => "No such merge",
            LedgerError::UnknownIntake { .. } => "No such intake item",
            LedgerError::Integrity { .. } => "Ledger integrity check failed",
            LedgerError::Storage { .. } => "Storage failed; nothing was written",
            LedgerError::Config { .. } => "The origin is not configured",
        }
    }

    /// The RFC 9457 problem document.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:signalgate:problem:{}", self.code()),
            title: self.title().to_string(),
            status: self.status(),
            // A server-side failure's detail (an SQLite message, a key id)
            // is for the operator's log, not the caller.
            detail: match self {
                LedgerError::Storage { .. } => {
                    "the store failed; nothing was written (the origin's log has the cause)".into()
                }
                LedgerError::Integrity { .. } => {
                    "a stored record failed its integrity check (the origin's log has the cause)".into()
                }
                _ => self.to_string(),
            },
            code: self.code().to_string(),
            field: self.field().map(str::to_string),
            merged_into: match self {
                LedgerError::SubjectMerged { into } => Some(into.clone()),
                _ => None,
            },
        }
    }
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::MalformedBody { detail } => write!(f, "request body: {detail}"),
            LedgerError::MissingField { field } => write!(f, "`{field}` is required"),
            LedgerError::InvalidField { field, detail } => write!(f, "`{field}`: {detail}"),
            LedgerError::UnknownClass { class } => write!(f, "`signal_type`: the policy has no class {}", echo(class)),
            LedgerError::ValueNotInVocabulary { class, allowed } => write!(
                f,
                "`value` is not in the vocabulary of `{class}` and no alias maps it there (expected one of: {allowed}); \
                 free text is never stored"
            ),
            LedgerError::PurposeNotAllowed { class, purpose } => {
                write!(f, "`purpose`: {} is not a purpose the policy allows for `{class}`", echo(purpose))
            }
            LedgerError::ConsentMismatch { consent, detail } => {
                write!(f, "`consent_reference` {}: {detail}", echo(consent))
            }
            LedgerError::UnknownSignal { signal } => write!(f, "no active signal {} for this subject", echo(signal)),
            LedgerError::UnknownConsent { consent } => {
                write!(f, "no consent record {} for this subject", echo(consent))
            }
            LedgerError::BodyTooLarge { max } => write!(f, "request body larger than {max} bytes"),
            LedgerError::IdempotencyMismatch => {
                f.write_str("`Idempotency-Key` was already used with another request body")
            }
            LedgerError::IdempotencyInFlight => {
                f.write_str("a request with this `Idempotency-Key` is still being processed; retry later")
            }
            LedgerError::Unauthenticated { detail } | LedgerError::Forbidden { detail } => f.write_str(detail),
            LedgerError::NotFound => f.write_str("no such resource"),
            LedgerError::MethodNotAllowed => f.write_str("method not allowed on this resource"),
            LedgerError::SubjectMerged { into } => {
                write!(f, "the subject was merged into {}; write to that subject", echo(into))
            }
            LedgerError::SubjectDeleted => f.write_str("the subject was deleted; nothing of it is used any more"),
            LedgerError::MergeConflict { detail } => write!(f, "merge: {detail}"),
            LedgerError::UnknownMerge { merge } => write!(f, "no merge {} for this tenant", echo(merge)),
            LedgerError::UnknownIntake { intake } => {
                write!(f, "no pending intake item {} for this subject", echo(intake))
            }
            LedgerError::Integrity { detail } => write!(f, "integrity: {detail}"),
            LedgerError::Storage { detail } => write!(f, "storage: {detail}"),
            LedgerError::Config { detail } => write!(f, "configuration: {detail}"),
        }
    }
}

/// A name from the request as an error message shows it: quoted when it is
/// an identifier, and otherwise not at all (problem documents are logged and
/// kept under idempotency keys, and a name that is not an identifier may be
/// free text).
pub(crate) fn echo(name: &str) -> String {
    if crate::model::is_ident(name) {
        format!("{name:?}")
    } else {
        "(a name that is not an identifier)".into()
    }
}

impl std::error::Error for LedgerError {}

impl From<StoreError> for LedgerError {
    fn from(e: StoreError) -> Self {
        LedgerError::Storage { detail: e.to_string() }
    }
}

/// An RFC 9457 problem document (`application/problem+json`), with the
/// failure's stable `code` and, where one is concerned, the request `field`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `urn:signalgate:problem:<code>`: stable per failure.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short human title for the type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// One line saying what is wrong with this request.
    pub detail: String,
    /// The stable code (also the last part of `type`).
    pub code: String,
    /// The request field concerned, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `subject_merged`: the subject that holds this subject's signals now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
}
