//! The decision: what the gate allows, and why.

use serde::Serialize;

use crate::failure::FailureCode;
use crate::model::policy::{Exposure, Field};
use crate::time::UnixTime;

/// The fallback tiers, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Personalised from fresh, valid signals.
    Curated,
    /// From the request context only.
    Contextual,
    /// Nothing personal.
    Generic,
}

impl Tier {
    /// The tier's name (`curated`, `contextual`, `generic`).
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Curated => "curated",
            Tier::Contextual => "contextual",
            Tier::Generic => "generic",
        }
    }
}

/// How fresh the bundle's signals are, taken over its best signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Freshness {
    /// Some signal passed every check that does not depend on the purpose.
    Fresh,
    /// None did, but some signal was soft-expired and not reconfirmed.
    Stale,
    /// None did and none was soft-expired, but some signal was past its expiry.
    Expired,
    /// No signal passed or expired: there were none, all were withheld for
    /// other reasons, or there was no usable bundle.
    Absent,
}

impl Freshness {
    /// The freshness's name in decisions (`fresh`, `stale`, `expired`, `absent`).
    pub fn as_str(self) -> &'static str {
        match self {
            Freshness::Fresh => "fresh",
            Freshness::Stale => "stale",
            Freshness::Expired => "expired",
            Freshness::Absent => "absent",
        }
    }
}

/// Why a signal was withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Withheld {
    /// The class is not in the policy.
    UnknownClass,
    /// The class may not travel in bundles.
    ClassNotAllowedInBundle,
    /// The value is not in the class's vocabulary.
    ValueNotInVocabulary,
    /// The consent record's legal basis is not one the class allows.
    LegalBasisNotAllowed,
    /// Consent was denied.
    ConsentNotGranted,
    /// Consent was revoked.
    ConsentRevoked,
    /// The consent's scopes do not include the gate's scope.
    OtherScope,
    /// The class may not be used on this channel.
    ChannelNotAllowed,
    /// Past its expiry.
    Expired,
    /// Soft-expired and not reconfirmed within the window.
    SoftExpiredNotReconfirmed,
    /// A newer signal of the same single-valued class wins.
    Superseded,
    /// The consent record does not cover the purpose.
    PurposeNotConsented,
    /// The class may not be used for the purpose.
    PurposeNotAllowed,
    /// Global Privacy Control opts out of the purpose.
    GpcOptOut,
}

impl Withheld {
    /// The reason's name in decisions (`consent_revoked`, `gpc_opt_out`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Withheld::UnknownClass => "unknown_class",
            Withheld::ClassNotAllowedInBundle => "class_not_allowed_in_bundle",
            Withheld::ValueNotInVocabulary => "value_not_in_vocabulary",
            Withheld::LegalBasisNotAllowed => "legal_basis_not_allowed",
            Withheld::ConsentNotGranted => "consent_not_granted",
            Withheld::ConsentRevoked => "consent_revoked",
            Withheld::OtherScope => "other_scope",
            Withheld::ChannelNotAllowed => "channel_not_allowed",
            Withheld::Expired => "expired",
            Withheld::SoftExpiredNotReconfirmed => "soft_expired_not_reconfirmed",
            Withheld::Superseded => "superseded",
            Withheld::PurposeNotConsented => "purpose_not_consented",
            Withheld::PurposeNotAllowed => "purpose_not_allowed",
            Withheld::GpcOptOut => "gpc_opt_out",
        }
    }
}

/// A signal's outcome for one purpose it was withheld from (or for all purposes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Withholding {
    /// `None` when the reason applies whatever the purpose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Why it was withheld.
    pub reason: Withheld,
}

/// Why one signal was used or withheld.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignalReason {
    /// The signal's `id`.
    pub signal: String,
    /// The signal's class (`cls`).
    pub class: String,
    /// The context purposes it was used for (empty: withheld).
    pub used_for: Vec<String>,
    /// Each withholding: one for all purposes, or one per context purpose it
    /// was not used for.
    pub withheld: Vec<Withholding>,
}

/// Why a segment's token was emitted or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentOutcome {
    /// The rule held and the confidence sufficed: the token is in the decision.
    Emitted,
    /// The rule is false or unknown for the segment's purpose.
    RuleNotSatisfied,
    /// The segment's purpose is not among the context's purposes.
    PurposeNotInContext,
    /// The rule held but the bundle's `idc` is below the policy's threshold.
    IdentityConfidenceBelowThreshold,
    /// The rule held but the curated tier needs more segments.
    BelowCuratedMinimum,
}

impl SegmentOutcome {
    /// The outcome's name in decisions (`emitted`, `rule_not_satisfied`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentOutcome::Emitted => "emitted",
            SegmentOutcome::RuleNotSatisfied => "rule_not_satisfied",
            SegmentOutcome::PurposeNotInContext => "purpose_not_in_context",
            SegmentOutcome::IdentityConfidenceBelowThreshold => "identity_confidence_below_threshold",
            SegmentOutcome::BelowCuratedMinimum => "below_curated_minimum",
        }
    }
}

/// One segment's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentReason {
    /// The segment's name in the policy.
    pub segment: String,
    /// What happened to its token.
    pub outcome: SegmentOutcome,
}

/// A signal inside its reconfirmation lead time: prompt the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expiring {
    /// The signal's `id`.
    pub signal: String,
    /// The signal's class (`cls`).
    pub class: String,
    /// When it stops being usable without reconfirmation.
    pub deadline: UnixTime,
}

/// Why there is no personalisation at all (the generic tier by failure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionError {
    /// Stable code (`bad_signature`, `expired`, `wrong_tenant`, ...).
    pub code: FailureCode,
    /// One line for logs and people; never shown to page code.
    pub message: String,
}

/// The reasons behind a decision: for logs and audit, never for page code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reasons {
    /// One per signal, in bundle order.
    pub signals: Vec<SignalReason>,
    /// One per segment, in segment-name order.
    pub segments: Vec<SegmentReason>,
}

/// The gate's decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The tier; generic on any failure.
    pub tier: Tier,
    /// Permitted opaque segment tokens, in policy order.
    pub segments: Vec<String>,
    /// Categories of the used signals of classes that expose categories,
    /// sorted, without repeats; empty below the identity-confidence threshold.
    pub allowed_categories: Vec<String>,
    /// Values (channel names) of the used signals of classes that expose
    /// channels, sorted, without repeats; empty below the threshold.
    pub allowed_channels: Vec<String>,
    /// How fresh the bundle's signals are.
    pub freshness: Freshness,
    /// Identity-resolution confidence of the bundle, if any.
    pub confidence: Option<f64>,
    /// Used signals inside their reconfirmation lead time, by deadline, then
    /// signal id.
    pub expiring: Vec<Expiring>,
    /// Why each signal and segment fared as it did; empty with
    /// [`Detail::Summary`](crate::eval::Detail::Summary). Never exposed to page
    /// code or the upstream.
    pub reasons: Reasons,
    /// The policy's `version`.
    pub policy_version: String,
    /// The bundle's `jti` when the decision was evaluated from a bundle. Never
    /// exposed to page code or the upstream.
    pub bundle_id: Option<String>,
    /// Set when the decision is generic because something failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<DecisionError>,
}

impl Decision {
    /// The fail-closed decision: generic, no tokens, with the reason.
    pub fn failed(policy_version: &str, code: FailureCode, message: String) -> Decision {
        Decision { error: Some(DecisionError { code, message }), ..Decision::empty(Tier::Generic, policy_version) }
    }

    /// A decision from no signals at all: `tier`, no tokens, nothing else.
    pub fn empty(tier: Tier, policy_version: &str) -> Decision {
        Decision {
            tier,
            segments: Vec::new(),
            allowed_categories: Vec::new(),
            allowed_channels: Vec::new(),
            freshness: Freshness::Absent,
            confidence: None,
            expiring: Vec::new(),
            reasons: Reasons::default(),
            policy_version: policy_version.to_string(),
            bundle_id: None,
            error: None,
        }
    }

    /// Only the fields `fields` names, as a JSON object (for page code or
    /// upstream headers, by the policy's exposure rules).
    pub fn exposed(&self, fields: &[Field]) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for f in fields {
            let v = match f {
                Field::Tier => serde_json::json!(self.tier),
                Field::Segments => serde_json::json!(self.segments),
                Field::AllowedCategories => serde_json::json!(self.allowed_categories),
                Field::AllowedChannels => serde_json::json!(self.allowed_channels),
                Field::Freshness => serde_json::json!(self.freshness),
                Field::Confidence => serde_json::json!(self.confidence),
                Field::Expiring => serde_json::json!(self.expiring),
                Field::PolicyVersion => serde_json::json!(self.policy_version),
            };
            out.insert(f.name().to_string(), v);
        }
        serde_json::Value::Object(out)
    }

    /// What page code may see under `exposure`.
    pub fn for_page(&self, exposure: &Exposure) -> serde_json::Value {
        self.exposed(&exposure.page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` is the serde name, for every variant.
    #[test]
    fn names_match_serialisation() {
        let name = |v: serde_json::Value| v.as_str().map(str::to_string);
        use Withheld::*;
        for w in [
            UnknownClass,
            ClassNotAllowedInBundle,
            ValueNotInVocabulary,
            LegalBasisNotAllowed,
            ConsentNotGranted,
            ConsentRevoked,
            OtherScope,
            ChannelNotAllowed,
            Expired,
            SoftExpiredNotReconfirmed,
            Superseded,
            PurposeNotConsented,
            PurposeNotAllowed,
            GpcOptOut,
        ] {
            assert_eq!(name(serde_json::json!(w)).as_deref(), Some(w.as_str()));
        }
        use SegmentOutcome as S;
        for o in [
            S::Emitted,
            S::RuleNotSatisfied,
            S::PurposeNotInContext,
            S::IdentityConfidenceBelowThreshold,
            S::BelowCuratedMinimum,
        ] {
            assert_eq!(name(serde_json::json!(o)).as_deref(), Some(o.as_str()));
        }
        for f in [Freshness::Fresh, Freshness::Stale, Freshness::Expired, Freshness::Absent] {
            assert_eq!(name(serde_json::json!(f)).as_deref(), Some(f.as_str()));
        }
        for t in [Tier::Curated, Tier::Contextual, Tier::Generic] {
            assert_eq!(name(serde_json::json!(t)).as_deref(), Some(t.as_str()));
        }
    }
}
