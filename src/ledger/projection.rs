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
            value_digest,
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
                "INSERT INTO signals (tenant_id, subject_id, signal_id, version, signal_type, value_digest, \
                 source_channel, capture_context, captured_at, expires_at, reconfirmed_at, consent_id, \
                 consent_status, provenance_hash, status, retired_at, erased_at, first_bundled_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, \
                 (SELECT status FROM consents WHERE tenant_id = ? AND subject_id = ? AND consent_id = ?), \
                 ?, ?, ?, NULL, NULL)",
                vec![
                    t.clone(),
                    s.clone(),
                    signal_id.as_str().into(),
                    (*version).into(),
                    signal_type.as_str().into(),
                    value_digest.as_str().into(),
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
        Change::BundleIssued { bundle_id, issued_at, expires_at, signals, consents } => {
            let mut out = vec![Statement::new(
                "INSERT INTO bundles (tenant_id, subject_id, bundle_id, issued_at, expires_at, consent_ids, signal_ids) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                vec![
                    t.clone(),
                    s.clone(),
                    bundle_id.as_str().into(),
                    issued_at.0.into(),
                    expires_at.0.into(),
                    json(consents).into(),
                    json(signals).into(),
                ],
            )];
            out.extend(signals.iter().map(|(id, v)| {
                Statement::new(
                    "UPDATE signals SET first_bundled_at = ? WHERE tenant_id = ? AND subject_id = ? AND signal_id = ? \
                     AND version = ? AND first_bundled_at IS NULL",
                    vec![issued_at.0.into(), t.clone(), s.clone(), id.as_str().into(), (*v).into()],
                )
            }));
            out
        }
        Change::MergedInto { merge_id, target, signals, .. } => {
            let mut out = set_status(&t, &s, signals, "merged");
            out.push(subject_row(&t, &s, "merged", Some(target), Some(merge_id), false));
            out
        }
        Change::MergeImported { merge_id, source, signals, consents, .. } => vec![Statement::new(
            "INSERT INTO subject_merges (tenant_id, subject_id, merge_id, source, imported, state) \
             VALUES (?, ?, ?, ?, ?, 'merged')",
            vec![
                t,
                s,
                merge_id.as_str().into(),
                source.as_str().into(),
                json(&serde_json::json!({ "signals": signals, "consents": consents })).into(),
            ],
        )],
        Change::MergeSplit { merge_id, signals, consents, .. } => {
            let mut out = vec![Statement::new(
                "UPDATE subject_merges SET state = 'split' WHERE tenant_id = ? AND subject_id = ? AND merge_id = ?",
                vec![t.clone(), s.clone(), merge_id.as_str().into()],
            )];
            out.extend(set_status(&t, &s, signals, "split"));
            out.extend(consents.iter().flat_map(|c| {
                [
                    Statement::new(
                        "UPDATE consents SET status = 'split' WHERE tenant_id = ? AND subject_id = ? AND consent_id = ?",
                        vec![t.clone(), s.clone(), c.as_str().into()],
                    ),
                    Statement::new(
                        "UPDATE signals SET consent_status = 'split' WHERE tenant_id = ? AND subject_id = ? AND consent_id = ?",
                        vec![t.clone(), s.clone(), c.as_str().into()],
                    ),
                ]
            }));
            out
        }
        Change::SplitRestored { .. } => vec![
            Statement::new(
                "UPDATE signals SET status = 'active' WHERE tenant_id = ? AND subject_id = ? AND status = 'merged'",
                vec![t.clone(), s.clone()],
            ),
            subject_row(&t, &s, "active", None, None, false),
        ],
        Change::SubjectDeleted { erase, .. } => vec![subject_row(&t, &s, "deleted", None, None, *erase)],
        Change::SubjectRestored {} => vec![subject_row(&t, &s, "active", None, None, false)],
        Change::SignalDeleted { signal_id, .. } => vec![Statement::new(
            "UPDATE signals SET status = 'deleted' WHERE tenant_id = ? AND subject_id = ? AND signal_id = ? \
             AND status IN ('active', 'expired')",
            vec![t, s, signal_id.as_str().into()],
        )],
        Change::ValuesErased { signals, .. } => signals
            .iter()
            .flat_map(|(id, v)| {
                let row = vec![t.clone(), s.clone(), id.as_str().into(), (*v).into()];
                [
                    Statement::new(
                        "DELETE FROM signal_values WHERE tenant_id = ? AND subject_id = ? AND signal_id = ? AND version = ?",
                        row.clone(),
                    ),
                    Statement::new(
                        "UPDATE signals SET erased_at = ? WHERE tenant_id = ? AND subject_id = ? AND signal_id = ? \
                         AND version = ?",
                        [vec![e.at.0.into()], row].concat(),
                    ),
                ]
            })
            .collect(),
        Change::RetentionLocked { until, reason } => vec![
            ensure_subject(&t, &s),
            Statement::new(
                "UPDATE subjects SET lock_until = ?, lock_reason = ? WHERE tenant_id = ? AND subject_id = ?",
                vec![until.0.into(), reason.as_str().into(), t, s],
            ),
        ],
        Change::RetentionUnlocked {} => vec![Statement::new(
            "UPDATE subjects SET lock_until = NULL, lock_reason = NULL WHERE tenant_id = ? AND subject_id = ?",
            vec![t, s],
        )],
        Change::IntakeReceived { .. } => Vec::new(),
        Change::IntakeResolved { intake_id, outcome } => vec![Statement::new(
            "UPDATE raw_intake SET state = ? WHERE tenant_id = ? AND subject_id = ? AND intake_id = ?",
            vec![outcome.as_str().into(), t, s, intake_id.as_str().into()],
        )],
        Change::IntakePurged { intake_id } => vec![Statement::new(
            "DELETE FROM raw_intake WHERE tenant_id = ? AND subject_id = ? AND intake_id = ?",
            vec![t, s, intake_id.as_str().into()],
        )],
    }
}

fn set_status(t: &Value, s: &Value, versions: &[(String, u32)], status: &str) -> Vec<Statement> {
    versions
        .iter()
        .map(|(id, v)| {
            Statement::new(
                "UPDATE signals SET status = ? WHERE tenant_id = ? AND subject_id = ? AND signal_id = ? AND version = ?",
                vec![status.into(), t.clone(), s.clone(), id.as_str().into(), (*v).into()],
            )
        })
        .collect()
}

/// The statement that makes sure the subject has a row (keeping its lock).
fn ensure_subject(t: &Value, s: &Value) -> Statement {
    Statement::new(
        "INSERT OR IGNORE INTO subjects (tenant_id, subject_id, status, erase) VALUES (?, ?, 'active', 0)",
        vec![t.clone(), s.clone()],
    )
}

/// The statement that sets the subject's status (keeping its lock).
fn subject_row(
    t: &Value,
    s: &Value,
    status: &str,
    merged_into: Option<&String>,
    merge_id: Option<&String>,
    erase: bool,
) -> Statement {
    Statement::new(
        "INSERT INTO subjects (tenant_id, subject_id, status, merged_into, merge_id, erase) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (tenant_id, subject_id) DO UPDATE SET status = excluded.status, \
         merged_into = excluded.merged_into, merge_id = excluded.merge_id, erase = excluded.erase",
        vec![
            t.clone(),
            s.clone(),
            status.into(),
            merged_into.map(String::as_str).into(),
            merge_id.map(String::as_str).into(),
            i64::from(erase).into(),
        ],
    )
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
        "SELECT 'signal', signal_id, version, signal_type, value_digest, source_channel, capture_context, \
         captured_at, expires_at, reconfirmed_at, consent_id, consent_status, provenance_hash, status, retired_at, \
         erased_at, first_bundled_at FROM signals WHERE tenant_id = ? AND subject_id = ? ORDER BY signal_id, version",
        "SELECT 'subject', status, merged_into, merge_id, erase, lock_until, lock_reason \
         FROM subjects WHERE tenant_id = ? AND subject_id = ?",
        "SELECT 'merge', merge_id, source, imported, state \
         FROM subject_merges WHERE tenant_id = ? AND subject_id = ? ORDER BY merge_id",
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
        Statement::new("DELETE FROM subjects WHERE tenant_id = ? AND subject_id = ?", key()),
        Statement::new("DELETE FROM subject_merges WHERE tenant_id = ? AND subject_id = ?", key()),
    ];
    batch.extend(events.iter().flat_map(writes));
    batch
}
