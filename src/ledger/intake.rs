//! The raw intake: free-text answers ("I speak a bit of everything") kept
//! for a short, policy-set time while they are mapped to a vocabulary
//! value. The raw text is always encrypted, never enters the chain (events
//! name the intake item only), and is deleted at `purge_at`
//! (`intake.raw_ttl` after it arrived) whether or not it was mapped:
//! nothing raw outlives it.
//!
//! An answer the policy's aliases map is captured at once; any other waits
//! for an operator to map it to a value or discard it.

use serde_json::{json, Value as Json};

use super::error::LedgerError;
use super::event::{Audit, Change};
use super::input::{self, Capture};
use super::ops::{same_subject, Caller, Draft, Ledger, Reply};
use super::store::{int, text, Statement, Store};
use crate::codec::b64;
use crate::time::UnixTime;

fn aad(subject: &str, intake_id: &str) -> Vec<u8> {
    format!("raw_intake\0{subject}\0{intake_id}").into_bytes()
}

/// A pending intake item, for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeItem {
    /// The item.
    pub intake_id: String,
    /// The class it is an answer for.
    pub signal_type: String,
    /// The raw answer.
    pub answer: String,
    /// When it arrived.
    pub received_at: UnixTime,
    /// When it is deleted.
    pub purge_at: UnixTime,
}

impl<S: Store> Ledger<'_, S> {
    /// `POST /v1/intake`: a capture whose answer is free text. Mapped by the
    /// policy's aliases, it is captured at once (201, like a submit);
    /// otherwise it waits for an operator (202). Either way the raw text is
    /// kept encrypted until `purge_at` and then deleted.
    pub fn intake(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        body: &[u8],
        key: Option<&str>,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let request = [b"intake\0".as_slice(), body].concat();
        let result = self.run(tenant, subject, key, &request, now, |l| {
            let (capture, answer) = input::intake(body, l.policy(), &l.issuer.scope, now)?;
            same_subject(capture.subject_id.as_deref(), subject)?;
            let state = l.load_writable(tenant, subject)?;
            let mut draft = l.draft(tenant, subject, state, now);
            let mut random = [0u8; 12];
            l.entropy.fill(&mut random)?;
            let intake_id = format!("in_{}", b64::encode(&random));
            let purge_at = now.after(l.policy().intake_raw_ttl());
            let sealed = l.keys.seal(tenant, &aad(subject, &intake_id), answer.as_bytes(), &mut l.entropy)?;
            let mapped = !capture.value.is_empty();
            draft.pre.push(Statement::new(
                "INSERT INTO raw_intake (tenant_id, subject_id, intake_id, signal_type, answer, request, received_at, \
                 purge_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                vec![
                    tenant.into(),
                    subject.into(),
                    intake_id.as_str().into(),
                    capture.signal_type.as_str().into(),
                    sealed.into(),
                    serde_json::to_string(&capture).unwrap_or_default().into(),
                    now.0.into(),
                    purge_at.0.into(),
                ],
            ));
            draft.push(
                Ledger::<S>::audit(caller, Some(&capture.context), None),
                Change::IntakeReceived {
                    intake_id: intake_id.clone(),
                    signal_type: capture.signal_type.clone(),
                    purge_at,
                },
            );
            let intake = json!({ "intake_id": intake_id, "state": if mapped { "mapped" } else { "pending" }, "purge_at": purge_at.0 });
            if !mapped {
                return Ok((Reply { status: 202, body: json!({ "intake": intake }) }, draft.batch()));
            }
            let mut body = l.resolve_into(&mut draft, caller, &intake_id, &capture)?;
            body["intake"] = intake;
            Ok((Reply { status: 201, body }, draft.batch()))
        });
        self.counted(tenant, subject, result)
    }

    /// Marks the item mapped and captures it.
    fn resolve_into(
        &mut self,
        draft: &mut Draft<'_>,
        caller: &Caller,
        intake_id: &str,
        capture: &Capture,
    ) -> Result<Json, LedgerError> {
        draft.push(
            Ledger::<S>::audit(caller, Some(&capture.context), Some(format!("intake:{intake_id}"))),
            Change::IntakeResolved { intake_id: intake_id.to_string(), outcome: "mapped".into() },
        );
        self.capture_into(draft, caller, capture)
    }

    /// The subject's pending intake items, answers opened (for operators).
    pub fn intake_pending(&mut self, tenant: &str, subject: &str) -> Result<Vec<IntakeItem>, LedgerError> {
        let rows = self.store.query(
            "SELECT intake_id, signal_type, answer, received_at, purge_at FROM raw_intake \
             WHERE tenant_id = ? AND subject_id = ? AND state = 'pending' ORDER BY received_at, intake_id",
            &[tenant.into(), subject.into()],
        )?;
        rows.iter()
            .map(|r| {
                let intake_id = text(r, 0)?;
                let answer = self.keys.open(tenant, &aad(subject, &intake_id), &text(r, 2)?)?;
                Ok(IntakeItem {
                    signal_type: text(r, 1)?,
                    answer: String::from_utf8_lossy(&answer).into_owned(),
                    received_at: UnixTime(int(r, 3)?),
                    purge_at: UnixTime(int(r, 4)?),
                    intake_id,
                })
            })
            .collect()
    }

    fn pending_capture(&mut self, tenant: &str, subject: &str, intake_id: &str) -> Result<Capture, LedgerError> {
        let rows = self.store.query(
            "SELECT request FROM raw_intake WHERE tenant_id = ? AND subject_id = ? AND intake_id = ? AND state = 'pending'",
            &[tenant.into(), subject.into(), intake_id.into()],
        )?;
        let row = rows.first().ok_or_else(|| LedgerError::UnknownIntake { intake: intake_id.to_string() })?;
        serde_json::from_str(&text(row, 0)?)
            .map_err(|e| LedgerError::Integrity { detail: format!("intake request: {e}") })
    }

    /// An operator maps a pending answer to a vocabulary value (or an answer
    /// the policy maps to one): it is captured with the terms it came with.
    pub fn intake_map(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        intake_id: &str,
        value: &str,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let request = format!("intake-map\0{intake_id}\0{value}");
        self.run(tenant, subject, None, request.as_bytes(), now, |l| {
            let mut capture = l.pending_capture(tenant, subject, intake_id)?;
            let class = l
                .policy()
                .class(&capture.signal_type)
                .ok_or_else(|| LedgerError::UnknownClass { class: capture.signal_type.clone() })?;
            capture.value = class
                .map_answer(value)
                .ok_or_else(|| LedgerError::InvalidField {
                    field: "value",
                    detail: format!("not in the vocabulary of `{}`", capture.signal_type),
                })?
                .to_string();
            capture.captured_at = None;
            let state = l.load_writable(tenant, subject)?;
            let mut draft = l.draft(tenant, subject, state, now);
            let body = l.resolve_into(&mut draft, caller, intake_id, &capture)?;
            Ok((Reply { status: 201, body }, draft.batch()))
        })
    }

    /// An operator discards a pending answer (its raw text is deleted now).
    pub fn intake_discard(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        intake_id: &str,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let request = format!("intake-discard\0{intake_id}");
        self.run(tenant, subject, None, request.as_bytes(), now, |l| {
            l.pending_capture(tenant, subject, intake_id)?;
            let state = l.load(tenant, subject)?;
            let mut draft = l.draft(tenant, subject, state, now);
            draft.push(
                Ledger::<S>::audit(caller, None, Some("discarded".into())),
                Change::IntakeResolved { intake_id: intake_id.to_string(), outcome: "discarded".into() },
            );
            draft.push(
                Ledger::<S>::audit(caller, None, None),
                Change::IntakePurged { intake_id: intake_id.to_string() },
            );
            Ok((Reply { status: 200, body: json!({ "intake_id": intake_id, "state": "discarded" }) }, draft.batch()))
        })
    }

    /// Deletes the raw answers whose time is up (`intake_purged` events).
    pub(crate) fn intake_purge_due(&mut self, draft: &mut Draft<'_>, caller: &Caller) -> Result<usize, LedgerError> {
        self.intake_purge(draft, caller, Some(draft.now))
    }

    /// Deletes every raw answer of the subject (it is being deleted).
    pub(crate) fn intake_purge_all(&mut self, draft: &mut Draft<'_>, caller: &Caller) -> Result<usize, LedgerError> {
        self.intake_purge(draft, caller, None)
    }

    fn intake_purge(
        &mut self,
        draft: &mut Draft<'_>,
        caller: &Caller,
        due_at: Option<UnixTime>,
    ) -> Result<usize, LedgerError> {
        let rows = self.store.query(
            "SELECT intake_id FROM raw_intake WHERE tenant_id = ? AND subject_id = ? AND purge_at <= ? ORDER BY intake_id",
            &[draft.tenant.into(), draft.subject.into(), due_at.map_or(i64::MAX, |t| t.0).into()],
        )?;
        for r in &rows {
            let audit = Audit {
                actor_type: caller.actor,
                actor_id: caller.actor_id.clone(),
                source_ui: None,
                legal_basis: None,
                justification: Some(if due_at.is_some() { "raw_ttl_reached" } else { "subject_deleted" }.into()),
            };
            draft.push(audit, Change::IntakePurged { intake_id: text(r, 0)? });
        }
        Ok(rows.len())
    }
}
