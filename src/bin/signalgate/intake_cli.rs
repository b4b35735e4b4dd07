//! `signalgate ledger intake|intake-list|intake-map|intake-discard`: free-text
//! answers, captured at once when the policy's aliases map them, otherwise
//! kept (encrypted, for `intake.raw_ttl`) until an operator maps or discards
//! them.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::commands::{json, note, read, Failure};
use crate::ledger_ctx::{reply, table, when, with_local, SubjectArgs, WriteArgs};

/// `intake`.
#[derive(Debug, Args)]
#[command(after_help = "The body is JSON, for example:\n  {\"signal_type\": \"language\", \"answer\": \"Deutsch\", \
\"purpose\": \"personalization\",\n   \"consent_reference\": \"c-1\", \"source_context\": {\"channel\": \"web\"}}")]
pub struct IntakeArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// Idempotency key: the same key and body give the first result again
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// The request body (JSON), or `-` for standard input
    #[arg(value_name = "BODY", default_value = "-")]
    pub body: PathBuf,
}

/// `intake-list`.
#[derive(Debug, Args)]
pub struct IntakeListArgs {
    #[command(flatten)]
    pub subject: SubjectArgs,
    /// Print the items as JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// `intake-map`.
#[derive(Debug, Args)]
pub struct IntakeMapArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// The waiting intake item
    #[arg(value_name = "INTAKE_ID")]
    pub intake_id: String,
    /// A value of the class's vocabulary (or an answer its aliases map to one)
    #[arg(value_name = "VALUE")]
    pub value: String,
}

/// `intake-discard`.
#[derive(Debug, Args)]
pub struct IntakeTargetArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// The waiting intake item
    #[arg(value_name = "INTAKE_ID")]
    pub intake_id: String,
}

/// Takes a free-text answer in.
pub fn intake(a: &IntakeArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let body = read(&a.body)?;
    let s = &a.write.subject;
    let r = with_local(&a.write.setup(), |l, at| {
        let key = a.idempotency_key.as_deref();
        Ok(l.ledger().intake(&s.tenant, &s.subject, &at.caller, body.as_bytes(), key, at.now)?)
    })?;
    reply(out, &r)?;
    if r.status == 202 {
        note("no alias maps the answer: it waits for an operator (`signalgate ledger intake-list`, `intake-map`)");
    }
    Ok(())
}

/// Lists the subject's waiting answers (opened: they are shown escaped).
pub fn list(a: &IntakeListArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let s = &a.subject;
    let items = with_local(&s.setup(), |l, _| Ok(l.ledger().intake_pending(&s.tenant, &s.subject)?))?;
    if a.json {
        let list: Vec<_> = items
            .iter()
            .map(|i| {
                json!({
                    "intake_id": i.intake_id,
                    "signal_type": i.signal_type,
                    "received_at": i.received_at.0,
                    "purge_at": i.purge_at.0,
                    "answer": i.answer,
                })
            })
            .collect();
        return json(out, &json!({ "subject_id": s.subject, "pending": list }));
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i.intake_id.clone(),
                i.signal_type.clone(),
                when(i.received_at.0),
                when(i.purge_at.0),
                format!("{:?}", i.answer),
            ]
        })
        .collect();
    table(out, &["INTAKE", "CLASS", "RECEIVED", "PURGED AT", "ANSWER"], &rows)?;
    writeln!(out, "{} waiting", items.len())?;
    Ok(())
}

/// Maps a waiting answer to a value.
pub fn map(a: &IntakeMapArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let s = &a.write.subject;
    let r = with_local(&a.write.setup(), |l, at| {
        Ok(l.ledger().intake_map(&s.tenant, &s.subject, &at.caller, &a.intake_id, &a.value, at.now)?)
    })?;
    reply(out, &r)
}

/// Discards a waiting answer.
pub fn discard(a: &IntakeTargetArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let s = &a.write.subject;
    let r = with_local(&a.write.setup(), |l, at| {
        Ok(l.ledger().intake_discard(&s.tenant, &s.subject, &at.caller, &a.intake_id, at.now)?)
    })?;
    reply(out, &r)
}
