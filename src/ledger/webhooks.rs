//! Webhook events: what a subject's events tell the tenant's consumers.
//! Each write puts its webhook events in the subject's outbox, in the same
//! batch as the events (so none is lost or invented), and the tenant's
//! directory fans them out to the endpoints subscribed to their type.
//!
//! A payload follows the Standard Webhooks shape, `{"type", "timestamp",
//! "data"}`, and carries what a consumer needs to apply its own policy
//! without calling back: the class, category and value (withheld for
//! classes encrypted at rest), the consent's purposes, scopes and legal
//! basis, capture channel and times, expiry, the policy version and the
//! event's place in the chain.
//!
//! | type | when |
//! |---|---|
//! | `signal.created` | a signal's first version is captured |
//! | `signal.updated` | a new current version, or a reconfirmation |
//! | `signal.expired` | a signal reached its expiry |
//! | `signal.deleted` | the subject deleted a signal |
//! | `signal.erased` | values were erased (a deletion, an erasure request, a retention end): erase your copies |
//! | `consent.revoked` | a consent was revoked |
//! | `subject.merged` | this subject took another one in |
//! | `subject.split` | a merge into this subject was undone |
//! | `subject.deleted` | the subject was soft-deleted |
//! | `subject.erased` | the subject was erased |

use chrono::{TimeZone, Utc};
use serde_json::{json, Map, Value as Json};
use sha2::{Digest, Sha256};

use super::event::{Change, Event};
use super::outbox::{self, Kind};
use super::state::SubjectState;
use super::store::Statement;
use crate::codec::b64;
use crate::model::Policy;

/// Every event type, for endpoint subscriptions.
pub const EVENT_TYPES: &[&str] = &[
    "signal.created",
    "signal.updated",
    "signal.expired",
    "signal.deleted",
    "signal.erased",
    "consent.revoked",
    "subject.merged",
    "subject.split",
    "subject.deleted",
    "subject.erased",
];

/// The message id of the webhook event `kind` for event `seq` of a subject:
/// stable (a retry is the same message) and unlinkable to the subject id.
pub fn message_id(tenant: &str, subject: &str, seq: i64, kind: &str) -> String {
    let d = Sha256::digest(format!("webhook\0{tenant}\0{subject}\0{seq}\0{kind}").as_bytes());
    format!("msg_{}", b64::encode(&d[..16]))
}

fn rfc3339(t: i64) -> String {
    Utc.timestamp_opt(t, 0).single().map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
}

fn common(e: &Event) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("tenant".into(), json!(e.tenant_id));
    m.insert("subject_id".into(), json!(e.subject_id));
    m.insert("policy_version".into(), json!(e.policy_version));
    m.insert(
        "event".into(),
        json!({ "seq": e.seq, "hash": e.hash, "at": e.at.0, "actor_type": e.audit.actor_type.as_str() }),
    );
    m
}

/// The signal part of a payload: what a consumer needs to use it.
fn signal_data(policy: &Policy, state: &SubjectState, signal_id: &str, version: u32) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("signal_id".into(), json!(signal_id));
    m.insert("version".into(), json!(version));
    let Some(s) = state.signal(signal_id).filter(|s| s.version == version) else { return m };
    let class = policy.class(&s.signal_type);
    m.insert("signal_type".into(), json!(s.signal_type));
    let withheld = class.is_none_or(|c| c.encrypt || !c.in_bundle);
    match (&s.value, withheld) {
        (Some(v), false) => {
            m.insert("value".into(), json!(v));
            if let Some(c) = class {
                if let Some(i) = c.value_index(v) {
                    m.insert("category".into(), json!(c.categories[c.value_category[i]]));
                }
            }
        }
        _ => {
            m.insert("value_withheld".into(), json!(true));
        }
    }
    m.insert("source_channel".into(), json!(s.context.channel));
    m.insert("captured_at".into(), json!(s.captured_at.0));
    m.insert("reconfirmed_at".into(), json!(s.reconfirmed_at.map(|t| t.0)));
    m.insert("expires_at".into(), json!(s.expires_at.0));
    m.insert("provenance_hash".into(), json!(s.provenance));
    if let Some(c) = state.consent(&s.consent_id) {
        let usable: Vec<&String> = c
            .purposes
            .iter()
            .filter(|p| class.is_some_and(|k| policy.purpose_index(p).is_some_and(|i| k.purposes & (1u64 << i) != 0)))
            .collect();
        m.insert(
            "consent".into(),
            json!({
                "consent_id": c.consent_id,
                "status": if c.granted { "granted" } else { "revoked" },
                "purposes": usable,
                "scopes": c.scopes,
                "legal_basis": c.legal_basis,
            }),
        );
    }
    if let Some(c) = class {
        m.insert("channels".into(), json!(c.channels));
    }
    m
}

/// The webhook events of one event, as `(type, data)`.
fn events_of(policy: &Policy, state: &SubjectState, e: &Event) -> Vec<(&'static str, Map<String, Json>)> {
    let with = |kind: &'static str, extra: Map<String, Json>| {
        let mut m = common(e);
        m.extend(extra);
        vec![(kind, m)]
    };
    match &e.change {
        Change::SignalCaptured { current: true, signal_id, version, .. } => {
            let kind = if *version == 1 { "signal.created" } else { "signal.updated" };
            with(kind, signal_data(policy, state, signal_id, *version))
        }
        Change::SignalReconfirmed { signal_id, version, .. } => {
            with("signal.updated", signal_data(policy, state, signal_id, *version))
        }
        Change::SignalExpired { signal_id, version } => {
            let mut m = Map::new();
            m.insert("signal_id".into(), json!(signal_id));
            m.insert("version".into(), json!(version));
            with("signal.expired", m)
        }
        Change::SignalDeleted { signal_id, erase, .. } => {
            let mut m = Map::new();
            m.insert("signal_id".into(), json!(signal_id));
            m.insert("deletion".into(), json!(if *erase { "erase" } else { "suppress" }));
            with("signal.deleted", m)
        }
        Change::ValuesErased { signals, reason } => {
            let mut m = Map::new();
            m.insert("signals".into(), json!(signals));
            m.insert("reason".into(), json!(reason));
            with("signal.erased", m)
        }
        Change::ConsentRevoked { consent_id, revoked_at, bundles } => {
            let mut m = Map::new();
            m.insert("consent_id".into(), json!(consent_id));
            m.insert("revoked_at".into(), json!(revoked_at.0));
            if let Some(c) = state.consent(consent_id) {
                m.insert("purposes".into(), json!(c.purposes));
                m.insert("scopes".into(), json!(c.scopes));
                m.insert("legal_basis".into(), json!(c.legal_basis));
            }
            let signals: Vec<&str> =
                state.signals.iter().filter(|s| s.consent_id == *consent_id).map(|s| s.signal_id.as_str()).collect();
            m.insert("signals".into(), json!(signals));
            m.insert("bundles_revoked".into(), json!(bundles.len()));
            with("consent.revoked", m)
        }
        Change::MergeImported { merge_id, source, confidence_bp, evidence, signals, .. } => {
            let mut m = Map::new();
            m.insert("merge_id".into(), json!(merge_id));
            m.insert("source".into(), json!(source));
            m.insert("target".into(), json!(e.subject_id));
            m.insert("confidence".into(), json!(f64::from(*confidence_bp) / 10_000.0));
            m.insert("evidence".into(), json!(evidence));
            m.insert("imported".into(), json!(signals.len()));
            with("subject.merged", m)
        }
        Change::MergeSplit { merge_id, source, signals, .. } => {
            let mut m = Map::new();
            m.insert("merge_id".into(), json!(merge_id));
            m.insert("source".into(), json!(source));
            m.insert("target".into(), json!(e.subject_id));
            m.insert("returned".into(), json!(signals.len()));
            with("subject.split", m)
        }
        Change::SubjectDeleted { erase: false, .. } => with("subject.deleted", Map::new()),
        Change::SubjectDeleted { erase: true, .. } => with("subject.erased", Map::new()),
        _ => Vec::new(),
    }
}

/// The outbox rows of the webhook events of `events`, read against the
/// state after them. An erasure also withdraws the subject's webhook
/// messages still waiting in its outbox (they may carry values).
pub fn messages(policy: &Policy, state: &SubjectState, events: &[Event]) -> Vec<Statement> {
    let mut out = Vec::new();
    for e in events {
        if let Change::SubjectDeleted { erase: true, .. } = e.change {
            out.push(Statement::new(
                "DELETE FROM outbox WHERE tenant_id = ? AND subject_id = ? AND kind = 'webhook'",
                vec![e.tenant_id.as_str().into(), e.subject_id.as_str().into()],
            ));
        }
        if let Change::ValuesErased { signals, .. } = &e.change {
            // Messages still waiting here lose the erased values.
            out.extend(signals.iter().map(|(id, v)| redact(OUTBOX_REDACT, &e.tenant_id, &e.subject_id, id, *v)));
        }
        for (kind, data) in events_of(policy, state, e) {
            let payload = json!({ "type": kind, "timestamp": rfc3339(e.at.0), "data": data });
            let id = message_id(&e.tenant_id, &e.subject_id, e.seq, kind);
            out.push(outbox::put(&e.tenant_id, &e.subject_id, &id, Kind::Webhook, &payload, e.at));
        }
    }
    out
}

const OUTBOX_REDACT: &str =
    "UPDATE outbox SET payload = json_set(json_remove(payload, '$.data.value', '$.data.category'), \
     '$.data.value_erased', json('true')) WHERE tenant_id = ? AND subject_id = ? AND kind = 'webhook' \
     AND json_extract(payload, '$.data.signal_id') = ? AND json_extract(payload, '$.data.version') = ?";

/// The statement `sql` (one of the redactions) for one erased version.
pub(crate) fn redact(sql: &'static str, tenant: &str, subject: &str, signal: &str, version: u32) -> Statement {
    Statement::new(sql, vec![tenant.into(), subject.into(), signal.into(), version.into()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_distinct() {
        assert_eq!(message_id("t", "u", 3, "signal.created"), message_id("t", "u", 3, "signal.created"));
        assert_ne!(message_id("t", "u", 3, "signal.created"), message_id("t", "u", 4, "signal.created"));
        assert_ne!(message_id("t", "u", 3, "signal.created"), message_id("t", "v", 3, "signal.created"));
        assert!(!message_id("t", "u", 3, "x").contains('.'), "Standard Webhooks ids have no dots");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
