//! The outbox: what a subject's writes must tell others (the tenant's
//! revocation feed, webhook consumers, another subject in a merge) is
//! written as rows in the same atomic batch as the events, then delivered
//! by the subject's alarm, or natively by a sweep. So a committed
//! revocation cannot be lost between the write and the push, and two writes
//! never overwrite each other's messages: each is its own row.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::error::LedgerError;
use super::store::{int, text, Statement, Store};
use crate::time::{Span, UnixTime};

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Revoked bundles for the tenant's feed: `[[bundle_id, expires_at], ...]`.
    Feed,
    /// A webhook event for the tenant's endpoints.
    Webhook,
    /// A merge hand-off to the target subject.
    Merge,
    /// A split hand-off back to the source subject.
    Split,
}

impl Kind {
    /// The name stored in `outbox.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Feed => "feed",
            Kind::Webhook => "webhook",
            Kind::Merge => "merge",
            Kind::Split => "split",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [Kind::Feed, Kind::Webhook, Kind::Merge, Kind::Split].into_iter().find(|k| k.as_str() == s)
    }
}

/// One message waiting in a subject's outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Unique per subject; receivers de-duplicate on it.
    pub msg_id: String,
    /// What it is for.
    pub kind: Kind,
    /// Its content.
    pub payload: Json,
    /// When it was written.
    pub created_at: i64,
    /// Delivery attempts so far.
    pub attempts: u32,
}

/// The statement that puts a message in the outbox (part of the batch of
/// the write that causes it).
pub fn put(tenant: &str, subject: &str, msg_id: &str, kind: Kind, payload: &Json, now: UnixTime) -> Statement {
    Statement::new(
        "INSERT OR IGNORE INTO outbox (tenant_id, subject_id, msg_id, kind, payload, created_at, attempts, next_at) \
         VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
        vec![
            tenant.into(),
            subject.into(),
            msg_id.into(),
            kind.as_str().into(),
            payload.to_string().into(),
            now.0.into(),
            now.0.into(),
        ],
    )
}

/// The messages due at `now` (all of them with `due_only = false`), oldest
/// first, at most `limit`.
pub fn pending(
    store: &mut impl Store,
    tenant: &str,
    subject: &str,
    now: UnixTime,
    due_only: bool,
    limit: i64,
) -> Result<Vec<Message>, LedgerError> {
    let until = if due_only { now.0 } else { i64::MAX };
    let rows = store.query(
        "SELECT msg_id, kind, payload, created_at, attempts FROM outbox \
         WHERE tenant_id = ? AND subject_id = ? AND next_at <= ? ORDER BY created_at, msg_id LIMIT ?",
        &[tenant.into(), subject.into(), until.into(), limit.into()],
    )?;
    rows.iter()
        .map(|r| {
            let kind = text(r, 1)?;
            Ok(Message {
                msg_id: text(r, 0)?,
                kind: Kind::parse(&kind)
                    .ok_or_else(|| LedgerError::Integrity { detail: format!("outbox kind {kind:?}") })?,
                payload: serde_json::from_str(&text(r, 2)?)
                    .map_err(|e| LedgerError::Integrity { detail: format!("outbox payload: {e}") })?,
                created_at: int(r, 3)?,
                attempts: u32::try_from(int(r, 4)?).unwrap_or(u32::MAX),
            })
        })
        .collect()
}

/// When the next message is due, if any (for alarms).
pub fn next_due(store: &mut impl Store, tenant: &str, subject: &str) -> Result<Option<UnixTime>, LedgerError> {
    let rows = store.query(
        "SELECT MIN(next_at) FROM outbox WHERE tenant_id = ? AND subject_id = ?",
        &[tenant.into(), subject.into()],
    )?;
    Ok(rows.first().and_then(|r| r.first()).and_then(super::store::Value::as_int).map(UnixTime))
}

/// The statement that removes an acknowledged message.
pub fn ack(tenant: &str, subject: &str, msg_id: &str) -> Statement {
    Statement::new(
        "DELETE FROM outbox WHERE tenant_id = ? AND subject_id = ? AND msg_id = ?",
        vec![tenant.into(), subject.into(), msg_id.into()],
    )
}

/// How long a message waits after its `attempts`-th failed delivery to the
/// origin's own parts (the feed, another subject): 2 s doubling, at most
/// 64 s. Webhook consumers have their own schedule.
pub fn handoff_delay(attempts: u32) -> Span {
    Span::seconds(1i64 << attempts.min(6))
}

/// The statement that records a failed delivery: one more attempt, and the
/// next try after [`handoff_delay`].
pub fn failed(tenant: &str, subject: &str, msg_id: &str, attempts: u32, now: UnixTime) -> Statement {
    let next = now.after(handoff_delay(attempts + 1));
    Statement::new(
        "UPDATE outbox SET attempts = ?, next_at = ? WHERE tenant_id = ? AND subject_id = ? AND msg_id = ?",
        vec![(attempts + 1).into(), next.0.into(), tenant.into(), subject.into(), msg_id.into()],
    )
}

/// The revoked bundles a feed message carries.
pub fn feed_entries(m: &Message) -> Vec<(String, i64)> {
    serde_json::from_value(m.payload.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handoff_delay_doubles_to_a_minute() {
        let d: Vec<i64> = (1..9).map(|a| handoff_delay(a).0).collect();
        assert_eq!(d, [2, 4, 8, 16, 32, 64, 64, 64]);
    }
}
