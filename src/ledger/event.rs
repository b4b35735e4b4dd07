//! Events: every change to a subject's signals or consents is one, appended
//! and never changed. Each event is hash-chained to the one before it in the
//! subject's history: `hash = SHA-256(canonical form, which includes
//! prev_hash)`, so altering, removing or reordering any event breaks every
//! hash after it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::LegalBasis;
use crate::time::UnixTime;

/// `prev_hash` of a subject's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who caused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    /// The person the signals are about (a browser with their session).
    Subject,
    /// A server caller with the tenant's API key.
    Service,
    /// An operator at the command line.
    Operator,
    /// The ledger itself (expiry, retention).
    System,
}

impl ActorType {
    /// The name stored in `events.actor_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::Subject => "subject",
            ActorType::Service => "service",
            ActorType::Operator => "operator",
            ActorType::System => "system",
        }
    }

    /// The type named `s`.
    pub fn parse(s: &str) -> Option<ActorType> {
        [ActorType::Subject, ActorType::Service, ActorType::Operator, ActorType::System]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// Where a signal was captured: the channel and, optionally, the screen and
/// page. Identifiers and paths only: never free text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureContext {
    /// The source channel (`web`, `app`, `email`, ...).
    pub channel: String,
    /// The screen or form (`preference-centre`, `checkout`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui: Option<String>,
    /// The page path the form was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// What an event changed. Stored as the event's `payload` (JSON with the
/// `op` tag), and applied to the projection by [`super::projection`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// A consent record was created.
    ConsentGranted {
        /// The consent reference.
        consent_id: String,
        /// The purposes it grants.
        purposes: Vec<String>,
        /// The scopes it covers.
        scopes: Vec<String>,
        /// Its legal basis.
        legal_basis: LegalBasis,
    },
    /// A signal was captured: a new signal, or a new version retiring the
    /// previous one (`version` > 1). A capture that arrives late (captured
    /// before the current version) is recorded but does not become current.
    SignalCaptured {
        /// The signal's id (stable across versions).
        signal_id: String,
        /// This version, from 1.
        version: u32,
        /// The policy class.
        signal_type: String,
        /// The value's salted digest ([`super::values::digest`]): the chain
        /// commits to the value without holding it, so erasing the value
        /// (and its salt) later leaves the chain intact and the value
        /// unrecoverable.
        value_digest: String,
        /// Where it was captured.
        context: CaptureContext,
        /// When the person made the choice (the event's time, or earlier for
        /// a choice delivered late).
        captured_at: UnixTime,
        /// When it expires (capture plus the class's TTL).
        expires_at: UnixTime,
        /// The consent record it was captured under.
        consent_id: String,
        /// Whether this version became the current one (`false`: it arrived
        /// after a newer capture and is kept as history only).
        current: bool,
    },
    /// The subject confirmed a signal again.
    SignalReconfirmed {
        /// The signal.
        signal_id: String,
        /// Its current version.
        version: u32,
        /// When.
        reconfirmed_at: UnixTime,
        /// The new expiry (reconfirmation plus the class's TTL).
        expires_at: UnixTime,
    },
    /// A consent record was revoked; its signals may no longer be used, and
    /// the bundles that carried it are revoked at the gates.
    ConsentRevoked {
        /// The consent record.
        consent_id: String,
        /// When.
        revoked_at: UnixTime,
        /// The unexpired bundles that carried it, now revoked.
        bundles: Vec<String>,
    },
    /// A signal reached its expiry.
    SignalExpired {
        /// The signal.
        signal_id: String,
        /// Its current version.
        version: u32,
    },
    /// A signed bundle was issued.
    BundleIssued {
        /// The bundle id (`jti`).
        bundle_id: String,
        /// `iat`.
        issued_at: UnixTime,
        /// `exp`.
        expires_at: UnixTime,
        /// The signals it carried, as `[signal_id, version]`.
        signals: Vec<(String, u32)>,
        /// The consent records it carried.
        consents: Vec<String>,
    },
    /// This subject was merged into another one: its usable signals and
    /// consents now live there, and this subject takes no more writes
    /// until a split restores it.
    MergedInto {
        /// The merge.
        merge_id: String,
        /// The subject it was merged into.
        target: String,
        /// The signal versions handed over, as `[signal_id, version]`.
        signals: Vec<(String, u32)>,
        /// The consent records handed over.
        consents: Vec<String>,
        /// This subject's unexpired bundles, revoked.
        bundles: Vec<String>,
    },
    /// Another subject's signals and consents were taken in (after the
    /// captures and consents that brought them, which this event lists).
    MergeImported {
        /// The merge.
        merge_id: String,
        /// The subject they came from.
        source: String,
        /// The policy's confidence in the match, in basis points (0-10000).
        confidence_bp: u32,
        /// The evidence kinds the match rested on.
        evidence: Vec<String>,
        /// Each imported signal version and what the merge rules made of it.
        signals: Vec<Imported>,
        /// The consent records taken in, as `[id here, id at the source]`.
        consents: Vec<(String, String)>,
    },
    /// A merge was undone on the subject that took the signals in: what it
    /// imported stops counting here, and what the import displaced is
    /// captured again (separate events after this one).
    MergeSplit {
        /// The merge.
        merge_id: String,
        /// The subject the imported signals go back to.
        source: String,
        /// The imported signal versions, now void here.
        signals: Vec<(String, u32)>,
        /// The imported consent records, now void here.
        consents: Vec<String>,
        /// Consents revoked here while merged, by their id at the source:
        /// the source revokes them too.
        revoke_at_source: Vec<String>,
        /// This subject's unexpired bundles, revoked (they may carry
        /// imported signals).
        bundles: Vec<String>,
    },
    /// A split gave this (merged) subject its signals back.
    SplitRestored {
        /// The merge undone.
        merge_id: String,
        /// The subject it had been merged into.
        target: String,
    },
    /// The subject was deleted: nothing of it is used any more. `erase`
    /// also removes the values (see [`Change::ValuesErased`]); a soft
    /// deletion can be undone ([`Change::SubjectRestored`]).
    SubjectDeleted {
        /// Erase (`true`) or soft delete.
        erase: bool,
        /// Unexpired bundles, revoked.
        bundles: Vec<String>,
    },
    /// A soft deletion was undone.
    SubjectRestored {},
    /// One signal was deleted at the subject's request; every version
    /// stops counting. Its values are erased or kept as a suppression
    /// marker as the class's `deletion` says.
    SignalDeleted {
        /// The signal.
        signal_id: String,
        /// Whether its values are erased (class `deletion: erase`).
        erase: bool,
        /// Unexpired bundles that carried it, revoked.
        bundles: Vec<String>,
    },
    /// Values were erased: the proof of suppression. It names which signal
    /// versions existed, and the event says when and why; the values and
    /// their salts are gone, so the digests in the chain reveal nothing.
    ValuesErased {
        /// The erased versions, as `[signal_id, version]`.
        signals: Vec<(String, u32)>,
        /// Why (`subject_request`, `retention_end`, `signal_deleted`).
        reason: String,
    },
    /// A retention lock (legal hold): no value is erased until `until`;
    /// use is still suppressed as usual.
    RetentionLocked {
        /// When the lock ends.
        until: UnixTime,
        /// Why, as an identifier (`legal_hold`, `dispute`, ...).
        reason: String,
    },
    /// The retention lock was lifted early.
    RetentionUnlocked {},
    /// A free-text answer was kept for mapping: the raw text is in the
    /// short-lived intake store, never in the chain.
    IntakeReceived {
        /// The intake item.
        intake_id: String,
        /// The class it is an answer for.
        signal_type: String,
        /// When the raw text is deleted at the latest.
        purge_at: UnixTime,
    },
    /// An intake item was mapped to a vocabulary value (a capture follows)
    /// or discarded.
    IntakeResolved {
        /// The intake item.
        intake_id: String,
        /// `mapped` or `discarded`.
        outcome: String,
    },
    /// An intake item's raw text was deleted (its time was up).
    IntakePurged {
        /// The intake item.
        intake_id: String,
    },
}

/// One signal version a merge imported, and what the merge rules made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imported {
    /// The signal here.
    pub signal_id: String,
    /// The version it became here.
    pub version: u32,
    /// The signal at the source.
    pub from_signal: String,
    /// Its version at the source.
    pub from_version: u32,
    /// Whether it became the current version here.
    pub current: bool,
    /// The rule that decided a conflict (`consent_scope`,
    /// `channel_specificity`, `recency`, `target_kept`), or `no_conflict`.
    pub rule: String,
}

impl Change {
    /// The operation's name (`signal_captured`, ...), stored in `events.op`.
    pub fn op(&self) -> &'static str {
        match self {
            Change::ConsentGranted { .. } => "consent_granted",
            Change::SignalCaptured { .. } => "signal_captured",
            Change::SignalReconfirmed { .. } => "signal_reconfirmed",
            Change::ConsentRevoked { .. } => "consent_revoked",
            Change::SignalExpired { .. } => "signal_expired",
            Change::BundleIssued { .. } => "bundle_issued",
            Change::MergedInto { .. } => "merged_into",
            Change::MergeImported { .. } => "merge_imported",
            Change::MergeSplit { .. } => "merge_split",
            Change::SplitRestored { .. } => "split_restored",
            Change::SubjectDeleted { .. } => "subject_deleted",
            Change::SubjectRestored { .. } => "subject_restored",
            Change::SignalDeleted { .. } => "signal_deleted",
            Change::ValuesErased { .. } => "values_erased",
            Change::RetentionLocked { .. } => "retention_locked",
            Change::RetentionUnlocked { .. } => "retention_unlocked",
            Change::IntakeReceived { .. } => "intake_received",
            Change::IntakeResolved { .. } => "intake_resolved",
            Change::IntakePurged { .. } => "intake_purged",
        }
    }
}

/// Who, why and under which policy: the audit fields of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// Who caused it.
    pub actor_type: ActorType,
    /// Which one (the subject id, the API key id, the operator's name, `ledger`).
    pub actor_id: String,
    /// The screen it came from, if a person acted.
    pub source_ui: Option<String>,
    /// The legal basis it was made under, if one applies.
    pub legal_basis: Option<LegalBasis>,
    /// Why, in a short identifier-like phrase (`user_request`, `ttl_reached`).
    pub justification: Option<String>,
}

/// One event of a subject's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The tenant.
    pub tenant_id: String,
    /// The subject.
    pub subject_id: String,
    /// Position in the subject's history, from 1.
    pub seq: i64,
    /// When it happened.
    pub at: UnixTime,
    /// Who, why, how.
    pub audit: Audit,
    /// The policy version in force.
    pub policy_version: String,
    /// What changed.
    pub change: Change,
    /// The previous event's hash ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

/// The canonical form hashed for an event: fixed field order, the payload
/// as stored.
#[derive(Serialize)]
struct Canonical<'a> {
    tenant_id: &'a str,
    subject_id: &'a str,
    seq: i64,
    at: i64,
    op: &'a str,
    actor_type: &'a str,
    actor_id: &'a str,
    source_ui: Option<&'a str>,
    policy_version: &'a str,
    legal_basis: Option<LegalBasis>,
    justification: Option<&'a str>,
    payload: &'a str,
    prev_hash: &'a str,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Event {
    /// The payload as stored: the change as JSON.
    pub fn payload(&self) -> String {
        serde_json::to_string(&self.change).unwrap_or_default()
    }

    /// The hash this event must have, from its fields (not from `hash`).
    pub fn compute_hash(&self) -> String {
        let payload = self.payload();
        let canonical = Canonical {
            tenant_id: &self.tenant_id,
            subject_id: &self.subject_id,
            seq: self.seq,
            at: self.at.0,
            op: self.change.op(),
            actor_type: self.audit.actor_type.as_str(),
            actor_id: &self.audit.actor_id,
            source_ui: self.audit.source_ui.as_deref(),
            policy_version: &self.policy_version,
            legal_basis: self.audit.legal_basis,
            justification: self.audit.justification.as_deref(),
            payload: &payload,
            prev_hash: &self.prev_hash,
        };
        hex(&Sha256::digest(serde_json::to_vec(&canonical).unwrap_or_default()))
    }

    /// A new event after `prev` (seq and prev_hash follow it), hashed.
    pub fn next(
        prev: Option<(i64, &str)>,
        tenant_id: &str,
        subject_id: &str,
        at: UnixTime,
        audit: Audit,
        policy_version: &str,
        change: Change,
    ) -> Event {
        let (seq, prev_hash) = prev.map_or((1, GENESIS.to_string()), |(s, h)| (s + 1, h.to_string()));
        let mut event = Event {
            tenant_id: tenant_id.to_string(),
            subject_id: subject_id.to_string(),
            seq,
            at,
            audit,
            policy_version: policy_version.to_string(),
            change,
            prev_hash,
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        event
    }

    /// The provenance hash a bundle carries for the signal version this
    /// event created: the first 16 bytes of the event hash, base64url.
    pub fn provenance(&self) -> String {
        provenance_of(&self.hash)
    }
}

/// The provenance (`prv`) for an event hash: its first 16 bytes, base64url.
pub fn provenance_of(hash: &str) -> String {
    let bytes: Vec<u8> =
        (0..32.min(hash.len())).step_by(2).filter_map(|i| u8::from_str_radix(hash.get(i..i + 2)?, 16).ok()).collect();
    crate::codec::b64::encode(&bytes)
}

/// Where a chain first fails to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// Zero-based index of the first bad event in the history.
    pub index: usize,
    /// Its `seq` column.
    pub seq: i64,
    /// What is wrong with it.
    pub problem: String,
}

/// Verifies a subject's history in order: consecutive `seq` from 1, each
/// `prev_hash` the previous `hash`, each `hash` recomputed from the fields.
pub fn verify_chain(events: &[Event]) -> Result<(), ChainBreak> {
    let mut prev = GENESIS.to_string();
    for (index, e) in events.iter().enumerate() {
        let fail = |problem: &str| ChainBreak { index, seq: e.seq, problem: problem.to_string() };
        if e.seq != index as i64 + 1 {
            return Err(fail("sequence number out of order (an event is missing or inserted)"));
        }
        if e.prev_hash != prev {
            return Err(fail("prev_hash is not the previous event's hash"));
        }
        if e.compute_hash() != e.hash {
            return Err(fail("hash does not match the event's contents"));
        }
        prev = e.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit() -> Audit {
        Audit {
            actor_type: ActorType::System,
            actor_id: "ledger".into(),
            source_ui: None,
            legal_basis: None,
            justification: None,
        }
    }

    fn chain(n: i64) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        for i in 0..n {
            let change = Change::SignalExpired { signal_id: format!("s{i}"), version: 1 };
            let prev = out.last().map(|e| (e.seq, e.hash.as_str()));
            out.push(Event::next(prev, "t", "u", UnixTime(i), audit(), "p1", change));
        }
        out
    }

    #[test]
    fn a_chain_verifies_and_any_change_is_found_with_its_index() {
        let events = chain(5);
        assert_eq!(verify_chain(&events), Ok(()));
        let mut tampered = events.clone();
        tampered[2].change = Change::SignalExpired { signal_id: "other".into(), version: 1 };
        assert_eq!(verify_chain(&tampered).map_err(|b| b.index), Err(2));
        let mut removed = events.clone();
        removed.remove(1);
        assert_eq!(verify_chain(&removed).map_err(|b| b.index), Err(1));
        let mut rehashed = events;
        rehashed[3].at = UnixTime(99);
        rehashed[3].hash = rehashed[3].compute_hash();
        assert_eq!(verify_chain(&rehashed).map_err(|b| b.index), Err(4), "the next event still points at the old hash");
    }

    #[test]
    fn provenance_is_the_hash_prefix() {
        let e = &chain(1)[0];
        let prv = e.provenance();
        assert_eq!(prv.len(), 22);
        assert_eq!(
            crate::codec::b64::decode(&prv).unwrap(),
            (0..16).map(|i| u8::from_str_radix(&e.hash[2 * i..2 * i + 2], 16).unwrap()).collect::<Vec<_>>()
        );
    }
}
