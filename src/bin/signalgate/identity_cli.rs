//! `signalgate ledger merge|merges|review|split`: merging two subjects on
//! evidence, the review queue for merges below the policy's threshold, and
//! splitting a merge back.

use std::io::Write;

use clap::{Args, ValueEnum};

use crate::commands::{json, note, Failure};
use crate::ledger_ctx::{ident, reply, table, when, when_opt, with_local, DirArgs, KeyArgs, TenantArgs};

/// `merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// The subject merged away (for example a visitor's anonymous id)
    #[arg(long, value_name = "SUBJECT")]
    pub source: String,
    /// The subject that takes it in (for example the account's id)
    #[arg(long, value_name = "SUBJECT")]
    pub target: String,
    /// Why they are one person: evidence kinds the policy weighs (`identity.evidence`)
    #[arg(long, value_name = "KIND[,KIND...]", value_delimiter = ',', required = true, value_parser = ident)]
    pub evidence: Vec<String>,
}

/// `merges`.
#[derive(Debug, Args)]
pub struct MergesArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Only merges in this state
    #[arg(long, value_name = "STATE", value_parser = ["review", "accepted", "rejected", "merged", "split", "failed"])]
    pub state: Option<String>,
    /// Print the records as JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Decision {
    /// Carry the merge out
    Approve,
    /// Close it (the same request stays rejected)
    Reject,
}

/// `review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Approve or reject
    #[arg(value_name = "DECISION")]
    pub decision: Decision,
    /// The merge waiting for review
    #[arg(value_name = "MERGE_ID")]
    pub merge_id: String,
    /// Why (an identifier, recorded with the decision)
    #[arg(long, value_name = "IDENT", value_parser = ident)]
    pub note: Option<String>,
}

/// `split`.
#[derive(Debug, Args)]
pub struct SplitArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// The merge to split back
    #[arg(value_name = "MERGE_ID")]
    pub merge_id: String,
}

/// Requests a merge: carried out at once (200) or queued for review (202).
pub fn merge(a: &MergeArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let t = &a.tenant;
    let r = with_local(&t.setup(Some(&a.key)), |l, at| {
        Ok(l.request_merge(&t.tenant, &a.source, &a.target, &a.evidence, &at.caller, at.now)?)
    })?;
    reply(out, &r)?;
    if r.status == 202 {
        let id = r.body.pointer("/merge/merge_id").and_then(|v| v.as_str()).unwrap_or("?");
        let confidence = r.body.pointer("/merge/confidence_bp").and_then(|v| v.as_f64()).unwrap_or(0.0) / 10_000.0;
        let threshold = r.body.get("threshold").and_then(|v| v.as_f64()).unwrap_or(0.0);
        note(&format!(
            "merge {id} is waiting for review (confidence {confidence} is below the threshold {threshold}): \
             decide it with `signalgate ledger review approve|reject {id}`"
        ));
    }
    Ok(())
}

/// Lists merges, newest first.
pub fn merges(a: &MergesArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let list = a.dir.with_directory(|d, _| Ok(d.merges(&a.dir.tenant, a.state.as_deref())?))?;
    if a.json {
        return json(out, &list);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|m| {
            vec![
                m.merge_id.clone(),
                m.state.clone(),
                m.source.clone(),
                m.target.clone(),
                format!("{}", f64::from(m.confidence_bp) / 10_000.0),
                m.evidence.join(","),
                when(m.requested_at),
                m.decided_by.clone().unwrap_or_else(|| "-".into()),
                when_opt(m.decided_at),
                m.note.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(
        out,
        &["MERGE", "STATE", "SOURCE", "TARGET", "CONFIDENCE", "EVIDENCE", "REQUESTED", "DECIDED BY", "DECIDED", "NOTE"],
        &rows,
    )?;
    writeln!(out, "{} merge(s)", list.len())?;
    Ok(())
}

/// Decides a merge waiting for review.
pub fn review(a: &ReviewArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let t = &a.tenant;
    let approve = a.decision == Decision::Approve;
    let r = with_local(&t.setup(Some(&a.key)), |l, at| {
        Ok(l.decide_merge(&t.tenant, &a.merge_id, approve, a.note.as_deref(), &at.caller, at.now)?)
    })?;
    reply(out, &r)
}

/// Splits a merge back.
pub fn split(a: &SplitArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let t = &a.tenant;
    let r = with_local(&t.setup(Some(&a.key)), |l, at| Ok(l.split(&t.tenant, &a.merge_id, &at.caller, at.now)?))?;
    reply(out, &r)
}
