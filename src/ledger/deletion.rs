//! Deletion, retention and suppression. Stopping use and destroying data
//! are separate steps with separate clocks:
//!
//! - **Suppression is immediate.** A revoked consent, a deleted signal and
//!   a deleted subject stop counting at once: nothing of them is listed,
//!   carried in a bundle or used by a gate again, and the bundles that
//!   carried them go to the revocation feed.
//! - **Erasure removes the value** (and its salt) and leaves a proof of
//!   suppression in the chain ([`Change::ValuesErased`]: which signal
//!   versions existed, when and why they were erased). A subject's erasure
//!   request erases the values of classes with `deletion: erase` at once;
//!   classes with `deletion: suppress` keep their values as suppression
//!   markers until their retention ends.
//! - **Retention ends** `retention` (per class) after a version was last
//!   confirmed; from then its value is erased by the retention job
//!   ([`Ledger::enforce_retention`]), whatever else happened to it. A usable
//!   value never reaches its retention end (`retention` is at least `ttl`).
//! - **A retention lock** (legal hold) defers every erasure until it ends;
//!   suppression still happens at once.

use serde_json::json;

use super::error::LedgerError;
use super::event::{Audit, Change};
use super::ops::{revoke_feed, Caller, Ledger, Reply};
use super::state::{LiveBundle, SubjectState, SubjectStatus};
use super::store::{int, opt_int, text, Statement, Store};
use crate::model::policy::Deletion;
use crate::time::{Span, UnixTime};

/// How long a finished request's idempotency record is kept.
pub const IDEMPOTENCY_TTL: Span = Span::days(1);

/// The longest retention lock one request may set.
pub const MAX_LOCK: Span = Span::days(3660);

/// A stored value's version and what decides its fate.
#[derive(Debug, Clone)]
struct Held {
    signal_id: String,
    version: u32,
    signal_type: String,
    status: String,
    usable: bool,
    last_confirmed: UnixTime,
}

/// Erasures by reason: the versions each `values_erased` event names.
type Erasures = Vec<(String, Vec<(String, u32)>)>;

/// What one retention run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Values erased.
    pub erased: usize,
    /// Raw intake answers deleted.
    pub intake_purged: usize,
    /// Erasures deferred by a retention lock.
    pub deferred: usize,
}

impl<S: Store> Ledger<'_, S> {
    /// The versions of the subject whose values are still stored.
    fn held(&mut self, tenant: &str, subject: &str, now: UnixTime) -> Result<Vec<Held>, LedgerError> {
        let rows = self.store.query(
            "SELECT s.signal_id, s.version, s.signal_type, s.status, s.consent_status, s.captured_at, \
             s.reconfirmed_at, s.expires_at FROM signals s JOIN signal_values v \
             ON v.tenant_id = s.tenant_id AND v.subject_id = s.subject_id AND v.signal_id = s.signal_id \
             AND v.version = s.version WHERE s.tenant_id = ? AND s.subject_id = ? ORDER BY s.signal_id, s.version",
            &[tenant.into(), subject.into()],
        )?;
        rows.iter()
            .map(|r| {
                let status = text(r, 3)?;
                let captured = int(r, 5)?;
                Ok(Held {
                    signal_id: text(r, 0)?,
                    version: u32::try_from(int(r, 1)?).unwrap_or(0),
                    signal_type: text(r, 2)?,
                    usable: status == "active" && text(r, 4)? == "granted" && int(r, 7)? > now.0,
                    status,
                    last_confirmed: UnixTime(opt_int(r, 6)?.unwrap_or(captured).max(captured)),
                })
            })
            .collect()
    }

    /// When a held value's retention ends (at once for a class the policy
    /// no longer has: nothing may use it).
    fn retention_end(&self, h: &Held) -> UnixTime {
        match self.policy().class(&h.signal_type) {
            Some(c) => h.last_confirmed.after(c.retention),
            None => h.last_confirmed,
        }
    }

    /// Whether a held value is erased now, and why.
    fn erasure_reason(&self, h: &Held, state: &SubjectState, now: UnixTime) -> Option<&'static str> {
        if h.usable && !matches!(state.status, SubjectStatus::Deleted { .. }) {
            return None;
        }
        let class = self.policy().class(&h.signal_type);
        let erase_class = class.is_none_or(|c| c.deletion == Deletion::Erase);
        if matches!(state.status, SubjectStatus::Deleted { erase: true }) && erase_class {
            return Some("subject_request");
        }
        if h.status == "deleted" && erase_class {
            return Some("signal_deleted");
        }
        (self.retention_end(h) <= now).then_some("retention_end")
    }

    /// The erasures due for the subject at `now` (none while locked), as one
    /// `values_erased` event per reason; and how many were deferred.
    fn erasures(
        &mut self,
        tenant: &str,
        subject: &str,
        state: &SubjectState,
        now: UnixTime,
    ) -> Result<(Erasures, usize), LedgerError> {
        let held = self.held(tenant, subject, now)?;
        let mut by_reason: Erasures = Vec::new();
        let mut deferred = 0;
        for h in &held {
            let Some(reason) = self.erasure_reason(h, state, now) else { continue };
            if state.locked(now) {
                deferred += 1;
                continue;
            }
            match by_reason.iter_mut().find(|(r, _)| r == reason) {
                Some((_, list)) => list.push((h.signal_id.clone(), h.version)),
                None => by_reason.push((reason.to_string(), vec![(h.signal_id.clone(), h.version)])),
            }
        }
        Ok((by_reason, deferred))
    }

    /// `POST /v1/subjects/{id}/delete`: deletes the subject. Use stops at
    /// once (every live bundle is revoked). `erase` also erases its values
    /// as the classes' `deletion` says, unless a retention lock defers it
    /// (then the reply says until when). A soft deletion can be undone with
    /// [`Ledger::restore_subject`].
    pub fn delete_subject(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        erase: bool,
        reason: Option<String>,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let request = format!("delete\0{erase}\0{}", reason.as_deref().unwrap_or(""));
        self.run(tenant, subject, None, request.as_bytes(), now, |l| {
            let state = l.load_with_bundles(tenant, subject, now)?;
            match &state.status {
                SubjectStatus::Merged { into, .. } => return Err(LedgerError::SubjectMerged { into: into.clone() }),
                SubjectStatus::Deleted { erase: true } => {
                    return Ok((Reply { status: 200, body: json!({ "subject_id": subject, "status": "erased" }) }, vec![]))
                }
                SubjectStatus::Deleted { erase: false } if !erase => {
                    return Ok((Reply { status: 200, body: json!({ "subject_id": subject, "status": "deleted" }) }, vec![]))
                }
                _ => {}
            }
            let live: Vec<LiveBundle> = state.live_bundles.clone();
            let why = reason.clone().unwrap_or_else(|| "subject_request".into());
            let mut draft = l.draft(tenant, subject, state, now);
            let seq = draft
                .push(
                    Ledger::<S>::audit(caller, None, Some(why)),
                    Change::SubjectDeleted { erase, bundles: live.iter().map(|b| b.bundle_id.clone()).collect() },
                )
                .seq;
            revoke_feed(&mut draft, seq, &live);
            let deferred_until = if erase {
                let state_now = draft.state.clone();
                let (erasures, deferred) = l.erasures(tenant, subject, &state_now, now)?;
                push_erasures(&mut draft, caller, erasures);
                draft.extra.extend(forget_subject_caches(tenant, subject));
                (deferred > 0).then(|| state_now.lock.as_ref().map(|lk| lk.until.0)).flatten()
            } else {
                None
            };
            l.intake_purge_all(&mut draft, caller)?;
            let body = json!({
                "subject_id": subject,
                "status": if erase { "erased" } else { "deleted" },
                "revoked_bundles": live.iter().map(|b| json!({ "bundle_id": b.bundle_id, "expires_at": b.expires_at.0 })).collect::<Vec<_>>(),
                "erasure_deferred_until": deferred_until,
            });
            Ok((Reply { status: if deferred_until.is_some() { 202 } else { 200 }, body }, draft.batch()))
        })
    }

    /// Undoes a soft deletion.
    pub fn restore_subject(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        self.run(tenant, subject, None, b"restore", now, |l| {
            let state = l.load(tenant, subject)?;
            match state.status {
                SubjectStatus::Deleted { erase: false } => {}
                SubjectStatus::Deleted { erase: true } => {
                    return Err(LedgerError::Forbidden { detail: "an erased subject cannot be restored".into() })
                }
                _ => {
                    return Ok((
                        Reply { status: 200, body: json!({ "subject_id": subject, "status": "active" }) },
                        vec![],
                    ))
                }
            }
            let mut draft = l.draft(tenant, subject, state, now);
            draft.push(Ledger::<S>::audit(caller, None, Some("restored".into())), Change::SubjectRestored {});
            Ok((Reply { status: 200, body: json!({ "subject_id": subject, "status": "active" }) }, draft.batch()))
        })
    }

    /// `DELETE /v1/signals/{id}`: the subject deletes one signal. Every
    /// version stops counting at once; its values are erased (class
    /// `deletion: erase`, unless a retention lock defers it) or kept as a
    /// suppression marker until their retention ends (`deletion: suppress`).
    pub fn delete_signal(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        signal: &str,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let request = [b"delete-signal\0".as_slice(), signal.as_bytes()].concat();
        self.run(tenant, subject, None, &request, now, |l| {
            let state = l.load_with_bundles(tenant, subject, now)?;
            super::ops::writable(&state)?;
            let current =
                state.signal(signal).cloned().ok_or_else(|| LedgerError::UnknownSignal { signal: signal.to_string() })?;
            let erase = l.policy().class(&current.signal_type).is_none_or(|c| c.deletion == Deletion::Erase);
            let live: Vec<LiveBundle> =
                state.live_bundles.iter().filter(|b| b.signals.iter().any(|s| s == signal)).cloned().collect();
            let mut draft = l.draft(tenant, subject, state, now);
            let seq = draft
                .push(
                    Ledger::<S>::audit(caller, None, Some("subject_request".into())),
                    Change::SignalDeleted {
                        signal_id: signal.to_string(),
                        erase,
                        bundles: live.iter().map(|b| b.bundle_id.clone()).collect(),
                    },
                )
                .seq;
            revoke_feed(&mut draft, seq, &live);
            // Every stored version of this signal (other values keep their
            // own clocks), unless a lock holds erasures back.
            let versions: Vec<(String, u32)> = l
                .held(tenant, subject, now)?
                .into_iter()
                .filter(|h| h.signal_id == signal)
                .map(|h| (h.signal_id, h.version))
                .collect();
            let deferred = if erase && draft.state.locked(now) { versions.len() } else { 0 };
            let erased = if erase && deferred == 0 { versions.len() } else { 0 };
            if erased > 0 {
                push_erasures(&mut draft, caller, vec![("signal_deleted".into(), versions)]);
            }
            let body = json!({
                "signal_id": signal,
                "status": "deleted",
                "deletion": if erase { "erase" } else { "suppress" },
                "values_erased": erased,
                "erasure_deferred": deferred > 0,
                "revoked_bundles": live.iter().map(|b| json!({ "bundle_id": b.bundle_id, "expires_at": b.expires_at.0 })).collect::<Vec<_>>(),
            });
            Ok((Reply { status: 200, body }, draft.batch()))
        })
    }

    /// Sets a retention lock (legal hold) until `until`: no value of the
    /// subject is erased before then. A later lock replaces an earlier one.
    pub fn lock_retention(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        until: UnixTime,
        reason: &str,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        if !crate::model::is_ident(reason) {
            return Err(LedgerError::InvalidField { field: "reason", detail: "expected an identifier".into() });
        }
        if until <= now || until > now.after(MAX_LOCK) {
            return Err(LedgerError::InvalidField {
                field: "until",
                detail: format!("expected Unix seconds after now and at most {MAX_LOCK} from now"),
            });
        }
        let request = format!("lock\0{}\0{reason}", until.0);
        self.run(tenant, subject, None, request.as_bytes(), now, |l| {
            let state = l.load(tenant, subject)?;
            let mut draft = l.draft(tenant, subject, state, now);
            draft.push(
                Ledger::<S>::audit(caller, None, Some(reason.to_string())),
                Change::RetentionLocked { until, reason: reason.to_string() },
            );
            Ok((
                Reply {
                    status: 200,
                    body: json!({ "subject_id": subject, "locked_until": until.0, "reason": reason }),
                },
                draft.batch(),
            ))
        })
    }

    /// Lifts the retention lock; erasures it deferred happen at the next
    /// retention run.
    pub fn unlock_retention(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        self.run(tenant, subject, None, b"unlock", now, |l| {
            let state = l.load(tenant, subject)?;
            if state.lock.is_none() {
                return Ok((
                    Reply { status: 200, body: json!({ "subject_id": subject, "locked_until": null }) },
                    vec![],
                ));
            }
            let mut draft = l.draft(tenant, subject, state, now);
            draft.push(Ledger::<S>::audit(caller, None, Some("lock_lifted".into())), Change::RetentionUnlocked {});
            Ok((Reply { status: 200, body: json!({ "subject_id": subject, "locked_until": null }) }, draft.batch()))
        })
    }

    /// The retention job for one subject: erases the values whose time has
    /// come (retention end, a deletion, an erasure request a lock held
    /// back), deletes raw intake answers past their time, and prunes old
    /// idempotency records.
    pub fn enforce_retention(
        &mut self,
        tenant: &str,
        subject: &str,
        now: UnixTime,
    ) -> Result<RetentionReport, LedgerError> {
        let system = Caller { actor: super::event::ActorType::System, actor_id: "ledger".into() };
        let mut report = RetentionReport::default();
        self.run(tenant, subject, None, b"retention", now, |l| {
            let state = l.load(tenant, subject)?;
            let (erasures, deferred) = l.erasures(tenant, subject, &state, now)?;
            let mut draft = l.draft(tenant, subject, state, now);
            report.erased = erasures.iter().map(|(_, list)| list.len()).sum();
            report.deferred = deferred;
            push_erasures(&mut draft, &system, erasures);
            report.intake_purged = l.intake_purge_due(&mut draft, &system)?;
            draft.extra.push(Statement::new(
                "DELETE FROM idempotency WHERE tenant_id = ? AND subject_id = ? AND created_at <= ?",
                vec![tenant.into(), subject.into(), now.before(IDEMPOTENCY_TTL).0.into()],
            ));
            Ok((Reply { status: 200, body: json!({ "erased": report.erased }) }, draft.batch()))
        })?;
        Ok(report)
    }

    /// When the subject's retention job next has something to do: the
    /// earliest retention end of a held value that is not usable, the end
    /// of a lock holding erasures back, or a raw answer's deletion time.
    pub fn next_retention(
        &mut self,
        tenant: &str,
        subject: &str,
        now: UnixTime,
    ) -> Result<Option<UnixTime>, LedgerError> {
        let state = self.load(tenant, subject)?;
        let mut next: Option<UnixTime> = None;
        let mut consider = |t: UnixTime| next = Some(next.map_or(t, |n| n.min(t)));
        for h in self.held(tenant, subject, now)? {
            let due = if self.erasure_reason(&h, &state, UnixTime(i64::MAX)).is_none() {
                continue;
            } else if self.erasure_reason(&h, &state, now).is_some() {
                now
            } else {
                self.retention_end(&h)
            };
            consider(match &state.lock {
                Some(lock) if lock.until > due => lock.until,
                _ => due,
            });
        }
        let rows = self.store.query(
            "SELECT MIN(purge_at) FROM raw_intake WHERE tenant_id = ? AND subject_id = ?",
            &[tenant.into(), subject.into()],
        )?;
        if let Some(t) = rows.first().and_then(|r| r.first()).and_then(super::store::Value::as_int) {
            consider(UnixTime(t));
        }
        Ok(next)
    }
}

/// One `values_erased` event per reason.
fn push_erasures(draft: &mut super::ops::Draft<'_>, caller: &Caller, erasures: Erasures) {
    for (reason, signals) in erasures {
        draft.push(
            Audit {
                actor_type: caller.actor,
                actor_id: caller.actor_id.clone(),
                source_ui: None,
                legal_basis: None,
                justification: Some(reason.clone()),
            },
            Change::ValuesErased { signals, reason },
        );
    }
}

/// Statements that drop what an erased subject's values may linger in
/// besides `signal_values`: stored replies of idempotent requests.
fn forget_subject_caches(tenant: &str, subject: &str) -> Vec<Statement> {
    vec![Statement::new(
        "DELETE FROM idempotency WHERE tenant_id = ? AND subject_id = ?",
        vec![tenant.into(), subject.into()],
    )]
}
