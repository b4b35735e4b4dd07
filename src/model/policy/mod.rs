//! The policy document: purposes, signal classes, segments, fallback tiers
//! and exposure rules, and for the origin how it merges subjects (`identity`),
//! what each API caller role may see and do (`roles`) and how long raw answers
//! live (`intake`). JSON, versioned, validated on parse with every problem
//! reported with its path.
//!
//! ```
//! use signalgate::model::Policy;
//! let err = Policy::from_json(r#"{"schema":1,"version":"p1","purposes":{},"classes":{
//!     "language":{"values":["en"],"ttl":"soon","purposes":[],"channels":["web"]}},"segments":{}}"#)
//!     .unwrap_err();
//! assert!(err.to_string().contains(r#"classes.language.ttl: expected a duration like "180d", found "soon""#));
//! ```

mod parse;
mod rule;

use std::fmt;

use serde::Serialize;

pub use parse::MAX_POLICY_BYTES;
pub use rule::{Facts, Rule, Target, Truth, MAX_RULE_DEPTH, MAX_RULE_NODES};

use crate::codec::fnv::NameMap;

use crate::model::LegalBasis;
use crate::time::Span;

/// The policy schema this build reads.
pub const POLICY_SCHEMA: u32 = 1;

/// `max_bundle_lifetime` when the policy does not set it.
pub const DEFAULT_MAX_BUNDLE_LIFETIME: Span = Span::days(7);
/// The largest `max_bundle_lifetime` a policy may set.
pub const MAX_BUNDLE_LIFETIME_LIMIT: Span = Span::days(366);

/// `intake.raw_ttl` when the policy does not set it.
pub const DEFAULT_INTAKE_RAW_TTL: Span = Span::seconds(24 * 3_600);
/// The longest `intake.raw_ttl` a policy may set.
pub const MAX_INTAKE_RAW_TTL: Span = Span::days(30);
/// The shortest `intake.raw_ttl` a policy may set.
pub const MIN_INTAKE_RAW_TTL: Span = Span::seconds(60);

/// Most evidence kinds under `identity.evidence`.
pub const MAX_EVIDENCE_KINDS: usize = 32;
/// Most roles a policy may declare under `roles` (the built-in `service`
/// role, when not declared, comes in addition).
pub const MAX_ROLES: usize = 32;
/// The name of the built-in role (see [`Role::service`]).
pub const SERVICE_ROLE: &str = "service";

/// The fields of a stored signal that a role's `fields` may name, in the
/// order of the bits of a [`FieldSet`].
pub const SIGNAL_FIELDS: &[&str] = &[
    "signal_id",
    "version",
    "signal_type",
    "value",
    "category",
    "source_channel",
    "capture_context",
    "captured_at",
    "expires_at",
    "reconfirmed_at",
    "consent_id",
    "consent_status",
    "purposes",
    "provenance_hash",
    "status",
    "freshness",
];

const _: () = assert!(SIGNAL_FIELDS.len() <= 32, "a FieldSet holds at most 32 fields");

/// A validated policy, compiled for evaluation (names resolved to indices).
///
/// Its parts are read through accessors: a policy is only ever made by
/// [`Policy::from_json`], so the resolved indices always point into it.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub(crate) version: String,
    pub(crate) tenant: Option<String>,
    pub(crate) identity_confidence_threshold: f64,
    pub(crate) max_bundle_lifetime: Span,
    pub(crate) purposes: Vec<Purpose>,
    pub(crate) classes: Vec<Class>,
    pub(crate) segments: Vec<Segment>,
    pub(crate) tiers: Tiers,
    pub(crate) exposure: Exposure,
    pub(crate) identity: Identity,
    /// In name order, with the built-in `service` role unless declared.
    pub(crate) roles: Vec<Role>,
    pub(crate) intake_raw_ttl: Span,
    pub(crate) class_index: NameMap<usize>,
    pub(crate) purpose_index: NameMap<usize>,
    /// Total vocabulary values and categories over all classes.
    pub(crate) value_count: usize,
    pub(crate) category_count: usize,
}

/// A purpose signals may be used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose {
    /// The purpose's name, an identifier.
    pub name: String,
    /// Global Privacy Control opts a visitor out of this purpose (sale,
    /// sharing, targeted advertising).
    pub gpc_opt_out: bool,
}

/// Whether a class holds one current value per subject or several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cardinality {
    /// `one`: one current value; the most recently confirmed signal wins.
    One,
    /// `many`: every usable signal counts.
    Many,
}

/// What deleting a signal of this class does at the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Deletion {
    /// On deletion, erase the values at once (unless a retention lock
    /// defers it); the chain keeps the proof of suppression.
    Erase,
    /// On deletion, stop using the values at once but keep them as a
    /// suppression marker until their retention ends ("do not contact by
    /// SMS" must outlive the request to be forgotten long enough to be
    /// honoured).
    Suppress,
}

/// How sensitive a class is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// `low`, the default.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// `special`: GDPR Art. 9 special-category data (health, beliefs, ...);
    /// such a class may not travel in bundles.
    Special,
}

/// What a used signal of a class contributes to the decision's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exposes {
    /// Nothing (the default).
    None,
    /// Its category goes into `allowed_categories`.
    Category,
    /// Its value (a channel name) goes into `allowed_channels`.
    Channel,
}

/// Soft expiry: from `after` past capture, a signal is usable only if the
/// subject reconfirmed it within the last `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftExpiry {
    /// From capture (`cap`), when soft expiry starts; shorter than the class's `ttl`.
    pub after: Span,
    /// Once soft expiry applies, how recent the last reconfirmation (`rcf`) must be.
    pub window: Span,
}

/// A signal class: its vocabulary and the rules for using it.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    /// The class's name, an identifier; signals name it in `cls`.
    pub name: String,
    /// Accepted values, in document order.
    pub values: Vec<String>,
    /// For each value, the index of its category in `categories`.
    pub value_category: Vec<usize>,
    /// Categories (equal to the values when no coarsening map is given).
    pub categories: Vec<String>,
    /// One current value per subject or several (default: several).
    pub cardinality: Cardinality,
    /// How long a signal stays usable after its last confirmation: until
    /// `min(exp, max(cap, rcf) + ttl)`.
    pub ttl: Span,
    /// Soft expiry, if the class has one.
    pub soft_expiry: Option<SoftExpiry>,
    /// A used signal whose deadline is at most this far away is listed in the
    /// decision's `expiring` (default 7 days).
    pub reconfirm_lead: Span,
    /// Bit `i` set: allowed for purpose `i` of the policy.
    pub purposes: u64,
    /// The delivery channels the class may be used on (identifiers, at most
    /// 32), compared with the context's channel.
    pub channels: Vec<String>,
    /// `legal_basis`: the consent records' legal bases under which the class
    /// may be used (default: consent only; empty: none).
    pub legal_bases: Vec<LegalBasis>,
    /// How long the origin keeps the data; at least `ttl`. The gate does not use it.
    pub retention: Span,
    /// What deleting a signal does at the origin. The gate does not use it.
    pub deletion: Deletion,
    /// How sensitive the class is (default low).
    pub sensitivity: Sensitivity,
    /// Whether signals of this class may leave the origin in a bundle at all.
    pub in_bundle: bool,
    /// What a used signal adds to the decision's lists.
    pub exposes: Exposes,
    /// Whether the origin encrypts this class's values at rest (default:
    /// true when `sensitivity` is high or special; always true for special).
    /// The gate does not use it.
    pub encrypt: bool,
    /// Answers (lowercased) that stand for a value, with that value's index
    /// (the policy's `aliases`).
    pub aliases: Vec<(String, usize)>,
    /// Value name to index in `values`.
    pub(crate) value_lookup: NameMap<usize>,
    pub(crate) value_base: usize,
    pub(crate) category_base: usize,
}

impl Class {
    /// Index of `value` in the vocabulary.
    pub fn value_index(&self, value: &str) -> Option<usize> {
        self.values.iter().position(|v| v == value)
    }

    /// The vocabulary value an answer stands for: the value itself, the same
    /// value in another case or with surrounding blanks, or an answer the
    /// policy's `aliases` map to a value (compared without case). Anything
    /// else is free text and maps to nothing.
    ///
    /// ```
    /// use signalgate::model::Policy;
    /// let p = Policy::from_json(include_str!("../../../www/policy.json")).unwrap();
    /// let language = p.class("language").unwrap();
    /// assert_eq!(language.map_answer(" DE "), Some("de"));
    /// assert_eq!(language.map_answer("Deutsch"), Some("de"));
    /// assert_eq!(language.map_answer("I speak a bit of everything"), None);
    /// ```
    pub fn map_answer(&self, answer: &str) -> Option<&str> {
        let folded = answer.trim().to_lowercase();
        let index = self
            .value_index(&folded)
            .or_else(|| self.aliases.iter().find(|(alias, _)| *alias == folded).map(|(_, i)| *i))?;
        self.values.get(index).map(String::as_str)
    }
}

/// A segment: an opaque token emitted when its rule holds for a purpose.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The segment's name, an identifier; it appears in reasons, never in tokens.
    pub name: String,
    /// The opaque token emitted, an identifier unique across segments.
    pub token: String,
    /// The purpose the rule is evaluated for: an index into [`Policy::purposes`].
    pub purpose: usize,
    /// When the token is emitted.
    pub rule: Rule,
}

/// When the contextual tier applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextualWhen {
    /// Only with a verified bundle that yields no segment.
    WithBundle,
    /// Also for visitors without a bundle.
    Always,
    /// Never: what is not curated is generic.
    Never,
}

/// The fallback tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiers {
    /// Segments needed for the curated tier.
    pub curated_min_segments: usize,
    /// When the contextual tier applies instead of generic (default: with a bundle).
    pub contextual: ContextualWhen,
}

/// A decision field that exposure rules may hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `tier`.
    Tier,
    /// `segments`: the permitted tokens.
    Segments,
    /// `allowed_categories`.
    AllowedCategories,
    /// `allowed_channels`.
    AllowedChannels,
    /// `freshness`.
    Freshness,
    /// `confidence`: the bundle's `idc`.
    Confidence,
    /// `expiring`: the signals to ask the subject to reconfirm.
    Expiring,
    /// `policy_version`.
    PolicyVersion,
}

impl Field {
    pub(crate) const ALL: [(&'static str, Field); 8] = [
        ("tier", Field::Tier),
        ("segments", Field::Segments),
        ("allowed_categories", Field::AllowedCategories),
        ("allowed_channels", Field::AllowedChannels),
        ("freshness", Field::Freshness),
        ("confidence", Field::Confidence),
        ("expiring", Field::Expiring),
        ("policy_version", Field::PolicyVersion),
    ];

    /// The field's name in decisions.
    pub fn name(self) -> &'static str {
        Field::ALL.iter().find(|(_, f)| *f == self).map_or("", |(n, _)| n)
    }
}

/// What each audience of a decision may see. `reasons` and the bundle id
/// never reach page code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// What page-rendering code sees (default: tier and segments).
    pub page: Vec<Field>,
    /// What the upstream origin receives in request headers (default: tier and segments).
    pub upstream: Vec<Field>,
}

/// A rule the origin applies, in the policy's order, to choose between two
/// subjects' conflicting records when it merges them (`identity.prefer`):
/// the first rule that tells the records apart decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeRule {
    /// `consent_scope`: compare the consent scope each record was given under.
    ConsentScope,
    /// `channel_specificity`: compare the channels the records were captured
    /// on by [`Identity::channel_rank`] (more specific first).
    ChannelSpecificity,
    /// `recency`: compare when each record was last confirmed (newer first).
    Recency,
}

impl MergeRule {
    pub(crate) const ALL: [(&'static str, MergeRule); 3] = [
        ("consent_scope", MergeRule::ConsentScope),
        ("channel_specificity", MergeRule::ChannelSpecificity),
        ("recency", MergeRule::Recency),
    ];

    /// The rule's name in the policy.
    pub fn name(self) -> &'static str {
        MergeRule::ALL.iter().find(|(_, r)| *r == self).map_or("", |(n, _)| n)
    }
}

/// How the origin merges two subjects into one (the `identity` section).
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The least combined evidence confidence at which the origin merges two
    /// subjects (default: the policy's `identity_confidence_threshold`).
    pub merge_threshold: f64,
    /// Evidence kinds (identifiers) and their weights in (0, 1], in name order.
    pub evidence: Vec<(String, f64)>,
    /// The tie-break rules for conflicting records, in order (default: all
    /// three, consent scope, channel specificity, recency).
    pub prefer: Vec<MergeRule>,
    /// `channel_rank`: channels, most specific first (default none).
    pub channels: Vec<String>,
}

impl Identity {
    /// The weight of evidence kind `kind`, if the policy names it.
    pub fn weight(&self, kind: &str) -> Option<f64> {
        self.evidence.iter().find(|(k, _)| k == kind).map(|(_, w)| *w)
    }

    /// The confidence that two subjects are one person, from the evidence
    /// kinds a merge request names: `1 - prod(1 - w)` over the distinct kinds
    /// (0 for none). The error is the first kind the policy does not name.
    ///
    /// ```
    /// use signalgate::model::Policy;
    /// let p = Policy::from_json(include_str!("../../../www/policy.json")).unwrap();
    /// let c = p.identity().confidence(&["verified_email", "device", "device"]).unwrap();
    /// assert!((c - (1.0 - 0.05 * 0.5)).abs() < 1e-9);
    /// assert_eq!(p.identity().confidence(&["fingerprint"]), Err("fingerprint".to_string()));
    /// assert_eq!(p.identity().confidence(&[]), Ok(0.0));
    /// ```
    pub fn confidence(&self, kinds: &[&str]) -> Result<f64, String> {
        let mut doubt = 1.0;
        for (i, kind) in kinds.iter().enumerate() {
            let w = self.weight(kind).ok_or_else(|| kind.to_string())?;
            if !kinds[..i].contains(kind) {
                doubt *= 1.0 - w;
            }
        }
        Ok((1.0 - doubt).clamp(0.0, 1.0))
    }

    /// The rank of `channel` in `channel_rank`: its position (0 is the most
    /// specific), or the number of ranked channels when it is not listed.
    pub fn channel_rank(&self, channel: &str) -> usize {
        self.channels.iter().position(|c| c == channel).unwrap_or(self.channels.len())
    }
}

/// A set of signal fields ([`SIGNAL_FIELDS`]): bit `i` stands for
/// `SIGNAL_FIELDS[i]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldSet(u32);

impl FieldSet {
    /// Every field (`"*"` in the policy).
    pub const ALL: FieldSet = FieldSet(((1u64 << SIGNAL_FIELDS.len()) - 1) as u32);
    /// No field.
    pub const NONE: FieldSet = FieldSet(0);

    /// The set with field `index` of [`SIGNAL_FIELDS`] added.
    pub(crate) fn with(self, index: usize) -> FieldSet {
        FieldSet(self.0 | (1 << index))
    }

    /// Whether the set holds the field called `field`.
    pub fn contains(self, field: &str) -> bool {
        SIGNAL_FIELDS.iter().position(|f| *f == field).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// Whether the set holds every field.
    pub fn is_all(self) -> bool {
        self == FieldSet::ALL
    }

    /// The fields in the set, in the order of [`SIGNAL_FIELDS`].
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        SIGNAL_FIELDS.iter().enumerate().filter(move |(i, _)| self.0 & (1 << i) != 0).map(|(_, f)| *f)
    }
}

/// An API caller role: which signal fields and classes it sees and what it
/// may do (the `roles` section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The role's name, an identifier.
    pub name: String,
    /// The signal fields the role sees.
    pub fields: FieldSet,
    /// The classes whose signals the role sees; `None`: all.
    pub classes: Option<Vec<String>>,
    /// May read the full event history (provenance chain) and evidence packs.
    pub history: bool,
    /// May read consent records.
    pub consents: bool,
    /// May capture, reconfirm and revoke signals.
    pub write: bool,
    /// May request subject merges and splits and decide their reviews.
    pub identity: bool,
    /// May delete (erase) subjects.
    pub delete: bool,
}

impl Role {
    /// The built-in `service` role, present unless the policy declares a role
    /// of that name: every field and class, consents, write, identity and
    /// delete, but not the history.
    pub fn service() -> Role {
        Role {
            name: SERVICE_ROLE.to_string(),
            fields: FieldSet::ALL,
            classes: None,
            history: false,
            consents: true,
            write: true,
            identity: true,
            delete: true,
        }
    }

    /// Whether the role sees the signal field `field` (a name of [`SIGNAL_FIELDS`]).
    pub fn sees_field(&self, field: &str) -> bool {
        self.fields.contains(field)
    }

    /// Whether the role sees signals of the class `class`.
    pub fn sees_class(&self, class: &str) -> bool {
        self.classes.as_ref().is_none_or(|list| list.iter().any(|c| c == class))
    }
}

/// One problem in a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    /// Where, as a dotted path (`classes.language.ttl`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Every problem found in a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The problems, at least one, in the order the validator walked the document.
    pub problems: Vec<PolicyProblem>,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl fmt::Display for PolicyError {
    /// One line: `policy has 2 problems: a.b: ...; c: ...` (each problem is
    /// also in [`PolicyError::problems`], to print one per line).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(f, "policy has {n} problem{}", if n == 1 { "" } else { "s" })?;
        for (i, p) in self.problems.iter().enumerate() {
            write!(f, "{}{p}", if i == 0 { ": " } else { "; " })?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

impl Policy {
    /// Parses and validates a policy document.
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        parse::parse(text)
    }

    /// The policy's version (`version`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The tenant this policy governs, if it is tenant-specific.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// Below this identity-resolution confidence, decisions drop to the contextual tier.
    pub fn identity_confidence_threshold(&self) -> f64 {
        self.identity_confidence_threshold
    }

    /// The longest lifetime (`exp - iat`) of a bundle the gate accepts.
    pub fn max_bundle_lifetime(&self) -> Span {
        self.max_bundle_lifetime
    }

    /// The purposes, in name order.
    pub fn purposes(&self) -> &[Purpose] {
        &self.purposes
    }

    /// The signal classes, in name order.
    pub fn classes(&self) -> &[Class] {
        &self.classes
    }

    /// The segments, in name order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The fallback tiers.
    pub fn tiers(&self) -> &Tiers {
        &self.tiers
    }

    /// What page code and the upstream origin may see of a decision.
    pub fn exposure(&self) -> &Exposure {
        &self.exposure
    }

    /// How the origin merges two subjects (`identity`, or its defaults).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The API caller roles, in name order, including the built-in `service`
    /// role unless the policy declares its own.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// The role called `name`.
    ///
    /// ```
    /// use signalgate::model::Policy;
    /// let p = Policy::from_json(include_str!("../../../www/policy.json")).unwrap();
    /// let support = p.role("support").unwrap();
    /// assert!(support.sees_field("value") && !support.sees_field("provenance_hash"));
    /// assert!(support.sees_class("language") && !support.sees_class("health_goal"));
    /// assert!(p.role("service").unwrap().delete);
    /// assert!(p.role("nobody").is_none());
    /// ```
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// How long a free-text answer kept for mapping may live before the
    /// origin deletes it (`intake.raw_ttl`, default 24h).
    pub fn intake_raw_ttl(&self) -> Span {
        self.intake_raw_ttl
    }

    /// The class called `name`.
    pub fn class(&self, name: &str) -> Option<&Class> {
        self.class_index.get(name).map(|&i| &self.classes[i])
    }

    /// Index of the purpose called `name`.
    pub fn purpose_index(&self, name: &str) -> Option<usize> {
        self.purpose_index.get(name).copied()
    }
}
