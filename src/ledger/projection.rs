//! The current-state projection (consents, signals, bundles) as a pure
//! function of the events: [`writes`] gives the statements one event makes,
//! and the same function rebuilds the projection from the whole history
//! ([`rebuild`]), so replaying the events reproduces the current state
//! exactly.

use super::event::{Change, Event};
use super::store::{int, opt_text, text, Row, Statement, Store, StoreError, Value};
use crate::model::LegalBasis;

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn legal_basis_name(lb: LegalBasis) -> String {
    serde_json::to_value(lb).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The statement that appends `e` to the events table.
pub fn insert_event(e: &Event) -> Statement {
    Statement::new(
        "INSERT INTO events (tenant_id, subject_id, seq, at, op, actor_type, actor_id, source_ui, policy_version, \
         legal_basis, justification, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            e.tenant_id.as_str().into(),
            e.subject_id.as_str().into(),
            e.seq.into(),
            e.at.0.into(),
            e.change.op().into(),
            e.audit.actor_type.as_str().into(),
            e.audit.actor_id.as_str().into(),
            e.audit.source_ui.clone().into(),
            e.policy_version.as_str().into(),
            e.audit.legal_basis.map(legal_basis_name).into(),
            e.audit.justification.clone().into(),
            e.payload().into(),
            e.prev_hash.as_str().into(),
            e.hash.as_str().into(),
        ],
    )
}

/// The projection statements one event makes.
pub fn writes(e: &Event) -> Vec<Statement> {
    let (t, s) = (Value::from(e.tenant_id.as_str()), Value::from(e.subject_id.as_str()));
    match &e.change {
        Change::ConsentGranted { consent_id, purposes, scopes, legal_basis } => vec![Statement::new(
            "INSERT INTO consents (tenant_id, subject_id, consent_id, purposes, scopes, legal_basis, status, \
             granted_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, 'granted', ?, NULL)",
            vec![
                t,
                s,
                consent_id.as_str().into(),
                json(purposes).into(),
                json(scopes).into(),
                legal_basis_name(*legal_basis).into(),
                e.at.0.into(),
            ],
        )],
        Change::SignalCaptured {
            signal_id,
            version,
            signal_type,
            value,
            context,
            captured_at,
            expires_at,
            consent_id,
            current,
        } => vec![
            // A current version retires the one before; a late one retires itself.
            Statement::new(
                "UPDATE signals SET status = 'retired', retired_at = ? \
                 WHERE tenant_id = ? AND subject_id = ? AND signal_id = ? AND status <> 'retired' AND ? = 1",
                vec![e.at.0.into(), t.clone(), s.clone(), signal_id.as_str().into(), i64::from(*current).into()],
            ),
            Statement::new(
                "INSERT INTO signals (tenant_id, subject_id, signal_id, version, signal_type, signal_value, \
                 source_channel, capture_context, captured_at, expires_at, reconfirmed_at, consent_id, \
                 consent_status, provenance_hash, status, retired_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, \
                 (SELECT status FROM consents WHERE tenant_id = ? AND subject_id = ? AND consent_id = ?), \
                 ?, ?, ?)",
                vec![
                    t.clone(),
                    s.clone(),
                    signal_id.as_str().into(),
                    (*version).into(),
                    signal_type.as_str().into(),
                    value.as_str().into(),
                    context.channel.as_str().into(),
                    json(context).into(),
                    captured_at.0.into(),
                    expires_at.0.into(),
                    consent_id.as_str().into(),
                    t,
                    s,
                    consent_id.as_str().into(),
                    e.provenance().into(),
                    if *current { "active" } else { "retired" }.into(),
                    if *current { Value::Null } else { e.at.0.into() },
                ],
            ),
        ],
        Change::SignalReconfirmed { signal_id, version, reconfirmed_at, expires_at } => vec![Statement::new(
            "UPDATE signals SET reconfirmed_at = ?, expires_at = ? \
             WHERE tenant_id = ? AND subject_id = ? AND signal_id = ? AND version = ?",
            vec![reconfirmed_at.0.into(), expires_at.0.into(), t, s, signal_id.as_str().into(), (*version).into()],
        )],
        Change::ConsentRevoked { consent_id, revoked_at, .. } => vec![
            Statement::new(
                "UPDATE consents SET status = 'revoked', revoked_at = ? \
                 WHERE tenant_id = ? AND subject_id = ? AND consent_id = ?",
                vec![revoked_at.0.into(), t.clone(), s.clone(), consent_id.as_str().into()],
            ),
            Statement::new(
                "UPDATE signals SET consent_status = 'revoked' WHERE tenant_id = ? AND subject_id = ? AND consent_id = ?",
                vec![t, s, consent_id.as_str().into()],
            ),
        ],
        Change::SignalExpired { signal_id, version } => vec![Statement::new(
            "UPDATE signals SET status = 'expired' WHERE tenant_id = ? AND subject_id = ? AND signal_id = ? AND version = ?",
            vec![t, s, signal_id.as_str().into(), (*version).into()],
        )],
        Change::BundleIssued { bundle_id, issued_at, expires_at, signals, consents } => vec![Statement::new(
            "INSERT INTO bundles (tenant_id, subject_id, bundle_id, issued_at, expires_at, consent_ids, signal_ids) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![t, s, bundle_id.as_str().into(), issued_at.0.into(), expires_at.0.into(), json(consents).into(), json(signals).into()],
        )],
    }
}

/// The statements that append `events` and update the projection.
pub fn append(events: &[Event]) -> Vec<Statement> {
    events.iter().flat_map(|e| std::iter::once(insert_event(e)).chain(writes(e))).collect()
}

/// A subject's events in order.
pub fn load_events(store: &mut impl Store, tenant: &str, subject: &str) -> Result<Vec<Event>, StoreError> {
    let rows = store.query(
        "SELECT seq, at, op, actor_type, actor_id, source_ui, policy_version, legal_basis, justification, payload, \
         prev_hash, hash FROM events WHERE tenant_id = ? AND subject_id = ? ORDER BY seq",
        &[tenant.into(), subject.into()],
    )?;
    rows.iter().map(|r| event_from_row(tenant, subject, r)).collect()
}

fn event_from_row(tenant: &str, subject: &str, r: &Row) -> Result<Event, StoreError> {
    let bad = |what: &str| StoreError::Database(format!("event row: {what}"));
    let change: Change = serde_json::from_str(&text(r, 9)?).map_err(|e| bad(&format!("payload: {e}")))?;
    let legal_basis = match opt_text(r, 7)? {
        Some(lb) => Some(serde_json::from_value(serde_json::Value::String(lb)).map_err(|_| bad("legal_basis"))?),
        None => None,
    };
    let op = text(r, 2)?;
    if op != change.op() {
        return Err(bad("op does not match the payload"));
    }
    Ok(Event {
        tenant_id: tenant.to_string(),
        subject_id: subject.to_string(),
        seq: int(r, 0)?,
        at: crate::time::UnixTime(int(r, 1)?),
        audit: super::event::Audit {
            actor_type: super::event::ActorType::parse(&text(r, 3)?).ok_or_else(|| bad("actor_type"))?,
            actor_id: text(r, 4)?,
            source_ui: opt_text(r, 5)?,
            legal_basis,
            justification: opt_text(r, 8)?,
        },
        policy_version: text(r, 6)?,
        change,
        prev_hash: text(r, 10)?,
        hash: text(r, 11)?,
    })
}

/// The projection rows of a subject, in a fixed order, for comparison.
pub fn snapshot(store: &mut impl Store, tenant: &str, subject: &str) -> Result<Vec<Row>, StoreError> {
    let key = [Value::from(tenant), Value::from(subject)];
    let mut out = Vec::new();
    for sql in [
        "SELECT 'consent', consent_id, purposes, scopes, legal_basis, status, granted_at, revoked_at \
         FROM consents WHERE tenant_id = ? AND subject_id = ? ORDER BY consent_id",
        "SELECT 'signal', signal_id, version, signal_type, signal_value, source_channel, capture_context, \
         captured_at, expires_at, reconfirmed_at, consent_id, consent_status, provenance_hash, status, retired_at \
         FROM signals WHERE tenant_id = ? AND subject_id = ? ORDER BY signal_id, version",
        "SELECT 'bundle', bundle_id, issued_at, expires_at, consent_ids, signal_ids \
         FROM bundles WHERE tenant_id = ? AND subject_id = ? ORDER BY bundle_id",
    ] {
        out.extend(store.query(sql, &key)?);
    }
    Ok(out)
}

/// Statements that delete a subject's projection and rebuild it from `events`.
pub fn rebuild(tenant: &str, subject: &str, events: &[Event]) -> Vec<Statement> {
    let key = || vec![Value::from(tenant), Value::from(subject)];
    let mut batch = vec![
        Statement::new("DELETE FROM consents WHERE tenant_id = ? AND subject_id = ?", key()),
        Statement::new("DELETE FROM signals WHERE tenant_id = ? AND subject_id = ?", key()),
        Statement::new("DELETE FROM bundles WHERE tenant_id = ? AND subject_id = ?", key()),
    ];
    batch.extend(events.iter().flat_map(writes));
    batch
}
