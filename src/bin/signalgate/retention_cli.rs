//! `signalgate ledger delete|restore|delete-signal|lock|unlock|retention`:
//! deletion (use stops at once), erasure, retention locks (legal holds) and
//! the retention job.

use std::io::Write;

use clap::Args;
use signalgate::ledger::RetentionReport;
use signalgate::UnixTime;

use crate::commands::{line, note, Failure};
use crate::ledger_cli::SweepArgs;
use crate::ledger_ctx::{ident, reply, when, with_local, WriteArgs};

/// `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// Also erase the subject's values (as each class's `deletion` says), not only stop using them
    #[arg(long)]
    pub erase: bool,
    /// Why (an identifier recorded in the event; default `subject_request`)
    #[arg(long, value_name = "IDENT", value_parser = ident)]
    pub reason: Option<String>,
}

/// `delete-signal`.
#[derive(Debug, Args)]
pub struct DeleteSignalArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// The signal to delete (every version of it)
    #[arg(value_name = "SIGNAL_ID")]
    pub signal_id: String,
}

/// `lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// Hold erasures back until this instant (Unix seconds; at most 3660 days on)
    #[arg(long, value_name = "UNIX")]
    pub until: i64,
    /// Why (an identifier, for example `legal_hold`)
    #[arg(long, value_name = "IDENT", value_parser = ident)]
    pub reason: String,
}

/// Deletes (and with `--erase` erases) a subject.
pub fn delete(a: &DeleteArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let s = &a.write.subject;
    let r = with_local(&a.write.setup(), |l, at| {
        Ok(l.ledger().delete_subject(&s.tenant, &s.subject, &at.caller, a.erase, a.reason.clone(), at.now)?)
    })?;
    reply(out, &r)?;
    if let Some(until) = r.body.get("erasure_deferred_until").and_then(|v| v.as_i64()) {
        note(&format!(
            "a retention lock defers the erasure until {}: use has stopped, the values are erased after the lock ends",
            when(until)
        ));
    }
    Ok(())
}

/// Undoes a (soft) deletion.
pub fn restore(a: &WriteArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let s = &a.subject;
    let r =
        with_local(&a.setup(), |l, at| Ok(l.ledger().restore_subject(&s.tenant, &s.subject, &at.caller, at.now)?))?;
    reply(out, &r)
}

/// Deletes one signal.
pub fn delete_signal(a: &DeleteSignalArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let s = &a.write.subject;
    let r = with_local(&a.write.setup(), |l, at| {
        Ok(l.ledger().delete_signal(&s.tenant, &s.subject, &at.caller, &a.signal_id, at.now)?)
    })?;
    reply(out, &r)
}

/// Sets a retention lock.
pub fn lock(a: &LockArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let s = &a.write.subject;
    let r = with_local(&a.write.setup(), |l, at| {
        Ok(l.ledger().lock_retention(&s.tenant, &s.subject, &at.caller, UnixTime(a.until), &a.reason, at.now)?)
    })?;
    reply(out, &r)
}

/// Lifts a retention lock.
pub fn unlock(a: &WriteArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let s = &a.subject;
    let r =
        with_local(&a.setup(), |l, at| Ok(l.ledger().unlock_retention(&s.tenant, &s.subject, &at.caller, at.now)?))?;
    reply(out, &r)
}

fn report(r: &RetentionReport) -> String {
    format!("{} erased, {} intake purged, {} deferred", r.erased, r.intake_purged, r.deferred)
}

/// Runs the retention job for every subject of the tenant (or one).
pub fn retention(a: &SweepArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let (total, subjects) = with_local(&a.setup(), |l, at| {
        let subjects = match &a.subject {
            Some(s) => vec![s.clone()],
            None => l.ledger().subjects(&a.tenant)?,
        };
        let mut total = RetentionReport::default();
        for subject in &subjects {
            let r = l.ledger().enforce_retention(&a.tenant, subject, at.now)?;
            line(out, &format!("{subject}: {}", report(&r)))?;
            total.erased += r.erased;
            total.intake_purged += r.intake_purged;
            total.deferred += r.deferred;
        }
        Ok((total, subjects.len()))
    })?;
    line(out, &format!("total: {} over {subjects} subject(s)", report(&total)))?;
    if total.deferred > 0 {
        note("deferred erasures wait for their subject's retention lock to end (`signalgate ledger unlock` lifts one)");
    }
    Ok(())
}
