//! `signalgate ledger ...`: the origin's ledger over a SQLite file, for
//! operators and tests. The same operations (and the same SQL) as the origin
//! Worker's Durable Objects.
//!
//! This file holds the grammar of every ledger subcommand and the first
//! ones (capture, list, sweeps); the governance commands live beside it by
//! concern: [`crate::identity_cli`] (merges), [`crate::retention_cli`]
//! (deletion, locks, retention), [`crate::intake_cli`] (free-text intake),
//! [`crate::evidence_cli`] (history, evidence packs), [`crate::webhooks_cli`]
//! and [`crate::admin_cli`] (metrics, data key rotation). What they share
//! (options, the origin over the file, printing) is in [`crate::ledger_ctx`].

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use signalgate::ledger::entropy::OsEntropy;
use signalgate::ledger::{DataKeys, LedgerError, SqliteStore};

use crate::admin_cli::{MetricsArgs, RotateKeysArgs};
use crate::commands::{line, read, shown, Failure};
use crate::evidence_cli::{CheckEvidenceArgs, EvidenceArgs};
use crate::identity_cli::{MergeArgs, MergesArgs, ReviewArgs, SplitArgs};
use crate::intake_cli::{IntakeArgs, IntakeListArgs, IntakeMapArgs, IntakeTargetArgs};
use crate::ledger_ctx::{with_local, Setup, SubjectArgs, WriteArgs};
use crate::retention_cli::{DeleteArgs, DeleteSignalArgs, LockArgs};
use crate::webhooks_cli::WebhooksCommand;

/// The ledger subcommands.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Create the database file with the ledger's schema (idempotent)
    Init(DbArgs),
    /// Capture a preference (a `POST /v1/signals` body) for a subject
    #[command(after_help = "The body is JSON, for example:\n  {\"signal_type\": \"language\", \"value\": \"de\", \
\"purpose\": \"personalization\",\n   \"consent_reference\": \"c-1\", \"source_context\": {\"channel\": \"web\"}}")]
    Submit(SubmitArgs),
    /// Reconfirm a signal (its life restarts)
    Reconfirm(TargetArgs),
    /// Revoke a consent record (its signals leave every bundle)
    Revoke(TargetArgs),
    /// List a subject's active signals and consent records (all, or as a role sees them)
    List(ListArgs),
    /// Issue a fresh bundle for a subject (printed, with its summary)
    Bundle(WriteArgs),
    /// Expire the signals whose time has come, for every subject of a tenant
    Expire(SweepArgs),
    /// Rebuild each subject's projection from its events and say whether it matched
    Replay(SweepArgs),
    /// Verify each subject's hash chain; name the first bad event
    VerifyChain(SweepArgs),
    /// Merge one subject into another on evidence (carried out, or queued for review)
    Merge(MergeArgs),
    /// List the tenant's merges (the review queue with `--state review`)
    Merges(MergesArgs),
    /// Approve or reject a merge waiting for review
    Review(ReviewArgs),
    /// Split a merge back: each subject gets its own signals back
    Split(SplitArgs),
    /// Delete a subject (use stops at once); `--erase` also erases its values
    Delete(DeleteArgs),
    /// Undo a subject's deletion (not an erasure)
    Restore(WriteArgs),
    /// Delete one signal of a subject (erased or kept as a suppression marker, as its class says)
    DeleteSignal(DeleteSignalArgs),
    /// Set a retention lock (legal hold): nothing of the subject is erased before it ends
    Lock(LockArgs),
    /// Lift a subject's retention lock
    Unlock(WriteArgs),
    /// Run the retention job: erase what is due, purge old raw intake answers
    Retention(SweepArgs),
    /// Capture a free-text answer (a `POST /v1/intake` body): mapped at once or kept for an operator
    Intake(IntakeArgs),
    /// List a subject's intake answers waiting to be mapped
    IntakeList(IntakeListArgs),
    /// Map a waiting intake answer to a vocabulary value (it is captured)
    IntakeMap(IntakeMapArgs),
    /// Discard a waiting intake answer (its raw text is deleted)
    IntakeDiscard(IntakeTargetArgs),
    /// Print a subject's full event history (the provenance chain; values as digests)
    History(SubjectArgs),
    /// Build a subject's evidence pack: signed (jws), or as JSON or an HTML page
    Evidence(EvidenceArgs),
    /// Check a signed evidence pack offline with the origin's public key set
    CheckEvidence(CheckEvidenceArgs),
    /// Webhook endpoints and deliveries: add, list, rotate, disable, deliveries, retry, deliver
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Print the tenant's governance metrics (Prometheus text or JSON)
    Metrics(MetricsArgs),
    /// Add a new active data key to the keyring file and re-seal every encrypted value under it
    RotateDataKeys(RotateKeysArgs),
}

/// The database and its data keyring.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// SQLite database file (created if missing)
    #[arg(long, value_name = "FILE", default_value = "signalgate-ledger.db")]
    pub db: PathBuf,
    /// Data keyring (JSON, `{"active": ..., "keys": {...}}`) for values encrypted at rest
    /// [default: the database file's name with `.keys.json`; the environment's
    /// SG_DATA_KEYS, when set, is used instead]
    #[arg(long, value_name = "FILE")]
    pub data_keys: Option<PathBuf>,
}

/// The environment variable that holds the data keyring instead of a file.
pub const KEYS_ENV: &str = "SG_DATA_KEYS";

impl DbArgs {
    /// The keyring file (used unless [`KEYS_ENV`] is set).
    pub fn keys_file(&self) -> PathBuf {
        self.data_keys.clone().unwrap_or_else(|| {
            let mut name = self.db.clone().into_os_string();
            name.push(".keys.json");
            PathBuf::from(name)
        })
    }

    /// Whether the keyring comes from [`KEYS_ENV`].
    pub fn keys_from_env() -> bool {
        std::env::var(KEYS_ENV).is_ok_and(|t| !t.is_empty())
    }

    /// The data keyring: SG_DATA_KEYS, or the keyring file.
    pub fn keys(&self) -> Result<DataKeys, Failure> {
        let (text, from) = match std::env::var(KEYS_ENV) {
            Ok(t) if !t.is_empty() => (t, KEYS_ENV.to_string()),
            _ => {
                let file = self.keys_file();
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    format!("reading the data keyring `{}`: {e} (`signalgate ledger init` creates it)", shown(&file))
                })?;
                (text, format!("`{}`", shown(&file)))
            }
        };
        Ok(DataKeys::from_json(&text).map_err(|e| format!("{from}: {e}"))?)
    }

    /// Creates the keyring file with one fresh key, unless it exists.
    fn create_keys(&self) -> Result<Option<PathBuf>, Failure> {
        let file = self.keys_file();
        if file.exists() || Self::keys_from_env() {
            return Ok(None);
        }
        let text = DataKeys::generate("k1", &mut OsEntropy).map_err(failed)?;
        write_private(&file, &text)?;
        Ok(Some(file))
    }
}

/// Writes a secret file readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(|e| format!("creating `{}`: {e}", shown(path)))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("writing `{}`: {e}", shown(path)))?;
    Ok(())
}

/// `submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// Idempotency key: the same key and body give the first result again
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// The request body (JSON), or `-` for standard input
    #[arg(value_name = "BODY", default_value = "-")]
    pub body: PathBuf,
}

/// `reconfirm` and `revoke`.
#[derive(Debug, Args)]
pub struct TargetArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// The signal id (reconfirm) or consent id (revoke)
    #[arg(value_name = "ID")]
    pub id: String,
    /// Idempotency key
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub subject: SubjectArgs,
    /// List as this role of the policy sees it (its fields and classes only)
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
}

/// Operations over every subject of a tenant.
#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Policy file (JSON)
    #[arg(long, value_name = "POLICY", default_value = "www/policy.json")]
    pub policy: PathBuf,
    /// Tenant
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
    /// Only this subject
    #[arg(long, value_name = "SUBJECT")]
    pub subject: Option<String>,
    /// Act at this instant (Unix seconds) instead of the clock
    #[arg(long, value_name = "UNIX")]
    pub now: Option<i64>,
}

impl SweepArgs {
    /// The origin for a sweep: it signs nothing; what it writes is swept on.
    pub fn setup(&self) -> Setup<'_> {
        Setup { db: &self.db, policy: &self.policy, tenant: &self.tenant, now: self.now, key: None, sweep: true }
    }
}

/// Opens the database (creating it with the schema if missing).
pub fn open(db: &Path) -> Result<SqliteStore, Failure> {
    Ok(SqliteStore::open(db).map_err(|e| format!("`{}`: {e}", shown(db)))?)
}

/// A ledger error as a failure: its message and its code.
pub fn failed(e: LedgerError) -> Failure {
    Failure::from(e)
}

/// Runs one ledger subcommand.
pub fn run(command: LedgerCommand, out: &mut dyn Write) -> Result<(), Failure> {
    use crate::{admin_cli, evidence_cli, identity_cli, intake_cli, retention_cli, webhooks_cli};
    match command {
        LedgerCommand::Init(a) => {
            open(&a.db)?;
            line(out, &format!("ledger schema ready in `{}`", shown(&a.db)))?;
            if let Some(file) = a.create_keys()? {
                line(out, &format!("data keyring created in `{}` (keep it secret, back it up)", shown(&file)))?;
            }
            Ok(())
        }
        LedgerCommand::Submit(a) => {
            let body = read(&a.body)?;
            let s = &a.write.subject;
            let r = with_local(&a.write.setup(), |l, at| {
                Ok(l.ledger().submit(
                    &s.tenant,
                    &s.subject,
                    &at.caller,
                    body.as_bytes(),
                    a.idempotency_key.as_deref(),
                    at.now,
                )?)
            })?;
            crate::ledger_ctx::reply(out, &r)
        }
        LedgerCommand::Reconfirm(a) => {
            let s = &a.write.subject;
            let r = with_local(&a.write.setup(), |l, at| {
                let key = a.idempotency_key.as_deref();
                Ok(l.ledger().reconfirm(&s.tenant, &s.subject, &at.caller, &a.id, b"", key, at.now)?)
            })?;
            crate::ledger_ctx::reply(out, &r)
        }
        LedgerCommand::Revoke(a) => {
            let s = &a.write.subject;
            let r = with_local(&a.write.setup(), |l, at| {
                let key = a.idempotency_key.as_deref();
                Ok(l.ledger().revoke_consent(&s.tenant, &s.subject, &at.caller, &a.id, b"", key, at.now)?)
            })?;
            crate::ledger_ctx::reply(out, &r)
        }
        LedgerCommand::Bundle(a) => {
            let s = &a.subject;
            let r = with_local(&a.setup(), |l, at| {
                Ok(l.ledger().issue_bundle(&s.tenant, &s.subject, &at.caller, at.now)?)
            })?;
            crate::ledger_ctx::reply(out, &r)
        }
        LedgerCommand::List(a) => list(&a, out),
        LedgerCommand::Expire(a) => sweep(&a, out, Sweep::Expire),
        LedgerCommand::Replay(a) => sweep(&a, out, Sweep::Replay),
        LedgerCommand::VerifyChain(a) => sweep(&a, out, Sweep::Verify),
        LedgerCommand::Merge(a) => identity_cli::merge(&a, out),
        LedgerCommand::Merges(a) => identity_cli::merges(&a, out),
        LedgerCommand::Review(a) => identity_cli::review(&a, out),
        LedgerCommand::Split(a) => identity_cli::split(&a, out),
        LedgerCommand::Delete(a) => retention_cli::delete(&a, out),
        LedgerCommand::Restore(a) => retention_cli::restore(&a, out),
        LedgerCommand::DeleteSignal(a) => retention_cli::delete_signal(&a, out),
        LedgerCommand::Lock(a) => retention_cli::lock(&a, out),
        LedgerCommand::Unlock(a) => retention_cli::unlock(&a, out),
        LedgerCommand::Retention(a) => retention_cli::retention(&a, out),
        LedgerCommand::Intake(a) => intake_cli::intake(&a, out),
        LedgerCommand::IntakeList(a) => intake_cli::list(&a, out),
        LedgerCommand::IntakeMap(a) => intake_cli::map(&a, out),
        LedgerCommand::IntakeDiscard(a) => intake_cli::discard(&a, out),
        LedgerCommand::History(a) => evidence_cli::history(&a, out),
        LedgerCommand::Evidence(a) => evidence_cli::evidence(&a, out),
        LedgerCommand::CheckEvidence(a) => evidence_cli::check(&a, out),
        LedgerCommand::Webhooks(c) => webhooks_cli::run(c, out),
        LedgerCommand::Metrics(a) => admin_cli::metrics(&a, out),
        LedgerCommand::RotateDataKeys(a) => admin_cli::rotate_data_keys(&a, out),
    }
}

/// `list`: the subject's own view, or a role's (`--role`).
fn list(a: &ListArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let s = &a.subject;
    let r = with_local(&s.setup(), |l, at| {
        let Some(name) = &a.role else {
            return Ok(l.ledger().list(&s.tenant, &s.subject, at.now)?);
        };
        let policy = at.policy;
        let role = policy.role(name).ok_or_else(|| {
            let known: Vec<&str> = policy.roles().iter().map(|r| r.name.as_str()).collect();
            Failure::Failed(format!("the policy has no role `{name}` (its roles: {})", known.join(", ")))
        })?;
        Ok(l.ledger().list_for(&s.tenant, &s.subject, Some(role), at.now)?)
    })?;
    crate::ledger_ctx::reply(out, &r)
}

enum Sweep {
    Expire,
    Replay,
    Verify,
}

fn sweep(a: &SweepArgs, out: &mut dyn Write, what: Sweep) -> Result<(), Failure> {
    let (bad, subjects) = with_local(&a.setup(), |l, at| {
        let now = at.now;
        let subjects = match &a.subject {
            Some(s) => vec![s.clone()],
            None => l.ledger().subjects(&a.tenant)?,
        };
        let mut bad = 0;
        for subject in &subjects {
            match what {
                Sweep::Expire => {
                    let n = l.ledger().expire_due(&a.tenant, subject, now)?;
                    line(out, &format!("{subject}: {n} expired"))?;
                }
                Sweep::Replay | Sweep::Verify => {
                    let v = l.ledger().verify(&a.tenant, subject)?;
                    let chain = match &v.chain {
                        Ok(()) => "chain ok".to_string(),
                        Err(b) => {
                            bad += 1;
                            format!("chain BROKEN at event index {} (seq {}): {}", b.index, b.seq, b.problem)
                        }
                    };
                    let projection = if v.projection_matches {
                        "projection matches the events"
                    } else {
                        bad += 1;
                        "projection DIFFERED from the events (rebuilt)"
                    };
                    match what {
                        Sweep::Verify => line(out, &format!("{subject}: {} events, {chain}", v.events))?,
                        _ => line(out, &format!("{subject}: {} events, {chain}, {projection}", v.events))?,
                    }
                }
            }
        }
        Ok((bad, subjects.len()))
    })?;
    line(out, &format!("{subjects} subject(s)"))?;
    if bad > 0 {
        return Err(Failure::Failed(format!("{bad} problem(s) found")));
    }
    Ok(())
}
