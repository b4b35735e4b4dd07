//! `signalgate ledger history|evidence|check-evidence`: a subject's
//! provenance chain, its evidence pack (signed, JSON or a readable page),
//! and the offline check of a signed pack with the published key set.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use signalgate::ledger::evidence::{self, Window};
use signalgate::ledger::evidence_html;

use crate::commands::{keys, line, note, read, shown, Failure};
use crate::ledger_ctx::{reply, with_local, Setup, SubjectArgs};
use crate::safe;

/// How `evidence` writes the pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PackFormat {
    /// The signed pack: a compact JWS (EdDSA) with the origin's key
    Jws,
    /// The pack as JSON (unsigned)
    Json,
    /// A readable, self-contained HTML page of the pack (unsigned)
    Html,
}

/// `evidence`.
#[derive(Debug, Args)]
pub struct EvidenceArgs {
    #[command(flatten)]
    pub subject: SubjectArgs,
    /// Private JWK the origin signs with (required for `--format jws`)
    #[arg(long, value_name = "PRIVATE_JWK")]
    pub key: Option<PathBuf>,
    /// The issuer the pack names (the origin)
    #[arg(long, value_name = "ISS", default_value = "signalgate-origin")]
    pub issuer: String,
    /// Only what happened from this instant on (Unix seconds; the chain is always whole)
    #[arg(long, value_name = "UNIX")]
    pub from: Option<i64>,
    /// Only what happened up to this instant (Unix seconds, inclusive)
    #[arg(long, value_name = "UNIX")]
    pub to: Option<i64>,
    /// What to write
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = PackFormat::Jws)]
    pub format: PackFormat,
    /// Write to FILE instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `check-evidence`.
#[derive(Debug, Args)]
pub struct CheckEvidenceArgs {
    /// The signed pack (compact JWS, from `evidence --format jws`), or `-` for standard input
    #[arg(value_name = "PACK_FILE")]
    pub pack: PathBuf,
    /// The origin's public JWK Set
    #[arg(long, value_name = "JWKS_FILE")]
    pub jwks: PathBuf,
}

/// Prints the subject's history.
pub fn history(a: &SubjectArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let r = with_local(&a.setup(), |l, _| Ok(l.ledger().history(&a.tenant, &a.subject)?))?;
    reply(out, &r)
}

/// Builds, and for `jws` signs, the subject's evidence pack.
pub fn evidence(a: &EvidenceArgs, out: &mut dyn Write) -> Result<(), Failure> {
    if a.format == PackFormat::Jws && a.key.is_none() {
        return Err(Failure::Failed("a signed pack (`--format jws`) needs the origin's `--key`".into()));
    }
    if let (Some(from), Some(to)) = (a.from, a.to) {
        if from > to {
            return Err(Failure::Failed(format!("`--from` {from} is after `--to` {to}")));
        }
    }
    let s = &a.subject;
    let key = a.key.as_ref().map(|k| crate::ledger_ctx::KeyArgs {
        key: k.clone(),
        actor: "operator".into(),
        issuer: a.issuer.clone(),
        audience: String::new(),
    });
    let setup = Setup { db: &s.db, policy: &s.policy, tenant: &s.tenant, now: s.now, key: key.as_ref(), sweep: false };
    let window = Window { from: a.from, to: a.to };
    let (pack, token) = with_local(&setup, |l, at| {
        let deliveries = l.directory().deliveries(&s.tenant, Some(&s.subject), None)?;
        let mut pack = l.ledger().evidence(&s.tenant, &s.subject, window, &deliveries, at.now)?;
        if a.key.is_none() {
            // The throwaway issuer has no name: the pack names the one asked for.
            pack["issuer"] = a.issuer.clone().into();
        }
        let token = (a.format == PackFormat::Jws).then(|| evidence::sign(&pack, at.signer));
        Ok((pack, token))
    })?;
    let text = match (a.format, token) {
        (PackFormat::Jws, Some(token)) => token + "\n",
        (PackFormat::Html, _) => evidence_html::render(&pack),
        _ => safe::json(&serde_json::to_string_pretty(&pack).map_err(|e| format!("writing JSON: {e}"))?) + "\n",
    };
    match &a.out {
        Some(path) => {
            std::fs::write(path, &text).map_err(|e| format!("writing `{}`: {e}", shown(path)))?;
            note(&format!("evidence pack of {} written to `{}` ({} bytes)", s.subject, shown(path), text.len()));
        }
        None => out.write_all(safe::block(&text).as_bytes())?,
    }
    Ok(())
}

/// Checks a signed pack offline: signature, chain, values against digests.
pub fn check(a: &CheckEvidenceArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let keyset = keys(&a.jwks)?;
    let token = read(&a.pack)?;
    let checked = evidence::check(&token, &keyset).map_err(|e| format!("pack NOT verified: {e}"))?;
    line(
        out,
        &format!(
            "pack verified: {} events, chain ok, {} values checked against their digests, {} erased",
            checked.events, checked.values_checked, checked.erased
        ),
    )?;
    let field = |name: &str| checked.pack.get(name).and_then(|v| v.as_str()).unwrap_or("?").to_string();
    note(&format!(
        "signed with key `{}`: tenant {}, subject {}, issuer {}",
        checked.kid,
        field("tenant"),
        field("subject_id"),
        field("issuer")
    ));
    Ok(())
}
