//! `signalgate ledger ...`: the origin's ledger over a SQLite file, for
//! operators and tests. The same operations (and the same SQL) as the origin
//! Worker's Durable Objects.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use signalgate::bundle::{Signer, SigningKey};
use signalgate::ledger::entropy::OsEntropy;
use signalgate::ledger::{ActorType, Caller, DataKeys, Issuer, Ledger, LedgerError, Reply, SqliteStore};
use signalgate::{Policy, Span, UnixTime};

use crate::commands::{clock, json, line, policy, read, shown, Failure};

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
    /// List a subject's active signals and consent records
    List(SubjectArgs),
    /// Issue a fresh bundle for a subject (printed, with its summary)
    Bundle(WriteArgs),
    /// Expire the signals whose time has come, for every subject of a tenant
    Expire(SweepArgs),
    /// Rebuild each subject's projection from its events and say whether it matched
    Replay(SweepArgs),
    /// Verify each subject's hash chain; name the first bad event
    VerifyChain(SweepArgs),
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

impl DbArgs {
    fn keys_file(&self) -> PathBuf {
        self.data_keys.clone().unwrap_or_else(|| {
            let mut name = self.db.clone().into_os_string();
            name.push(".keys.json");
            PathBuf::from(name)
        })
    }

    /// The data keyring: SG_DATA_KEYS, or the keyring file.
    fn keys(&self) -> Result<DataKeys, Failure> {
        let (text, from) = match std::env::var("SG_DATA_KEYS") {
            Ok(t) if !t.is_empty() => (t, "SG_DATA_KEYS".to_string()),
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
        if file.exists() || std::env::var("SG_DATA_KEYS").is_ok_and(|t| !t.is_empty()) {
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

/// The database, the policy and the subject.
#[derive(Debug, Args)]
pub struct SubjectArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Policy file (JSON)
    #[arg(long, value_name = "POLICY")]
    pub policy: PathBuf,
    /// Tenant
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
    /// Subject (a pseudonymous id)
    #[arg(long, value_name = "SUBJECT")]
    pub subject: String,
    /// Act at this instant (Unix seconds) instead of the clock
    #[arg(long, value_name = "UNIX")]
    pub now: Option<i64>,
}

/// What a write needs besides the subject: the signing key and the actor.
#[derive(Debug, Args)]
pub struct WriteArgs {
    #[command(flatten)]
    pub subject: SubjectArgs,
    /// Private JWK the origin signs bundles with
    #[arg(long, value_name = "PRIVATE_JWK")]
    pub key: PathBuf,
    /// Who acts (recorded in each event)
    #[arg(long, value_name = "NAME", default_value = "operator")]
    pub actor: String,
    /// `iss` of the bundles issued
    #[arg(long, value_name = "ISS", default_value = "signalgate-origin")]
    pub issuer: String,
    /// `aud` of the bundles issued (the gates' audience)
    #[arg(long, value_name = "AUD", default_value = "signalgate")]
    pub audience: String,
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

fn open(db: &Path) -> Result<SqliteStore, Failure> {
    Ok(SqliteStore::open(db).map_err(|e| format!("`{}`: {e}", shown(db)))?)
}

fn failed(e: LedgerError) -> Failure {
    Failure::Failed(format!("{} ({})", e, e.code()))
}

/// Prints a reply; a refused request (4xx) is a failure, its problem printed.
fn reply(out: &mut dyn Write, r: Reply) -> Result<(), Failure> {
    json(out, &r.body)?;
    if r.status >= 400 {
        let detail = r.body.get("detail").and_then(|d| d.as_str()).unwrap_or("refused");
        return Err(Failure::Failed(format!("{detail} (status {})", r.status)));
    }
    Ok(())
}

struct Origin {
    policy: Policy,
    signer: Signer,
}

fn origin(w: &WriteArgs) -> Result<Origin, Failure> {
    let key = SigningKey::from_jwk_json(&read(&w.key)?).map_err(|e| format!("`{}`: {e}", shown(&w.key)))?;
    Ok(Origin { policy: policy(&w.subject.policy)?, signer: Signer::new(key) })
}

fn with_ledger<T>(
    w: &WriteArgs,
    f: impl FnOnce(&mut Ledger<'_, SqliteStore>, &Caller, UnixTime) -> Result<T, LedgerError>,
) -> Result<T, Failure> {
    let o = origin(w)?;
    let issuer = Issuer {
        policy: &o.policy,
        signer: &o.signer,
        issuer: w.issuer.clone(),
        audience: w.audience.clone(),
        scope: "web".into(),
        bundle_ttl: Span::days(1),
    };
    let mut store = open(&w.subject.db.db)?;
    let keys = w.subject.db.keys()?;
    let caller = Caller { actor: ActorType::Operator, actor_id: w.actor.clone() };
    let now = w.subject.now.map_or_else(clock, UnixTime);
    f(&mut Ledger::new(&mut store, &issuer, &keys, &mut OsEntropy), &caller, now).map_err(failed)
}

/// Runs one ledger subcommand.
pub fn run(command: LedgerCommand, out: &mut dyn Write) -> Result<(), Failure> {
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
            let r = with_ledger(&a.write, |l, caller, now| {
                l.submit(&s.tenant, &s.subject, caller, body.as_bytes(), a.idempotency_key.as_deref(), now)
            })?;
            reply(out, r)
        }
        LedgerCommand::Reconfirm(a) => {
            let s = &a.write.subject;
            let r = with_ledger(&a.write, |l, caller, now| {
                l.reconfirm(&s.tenant, &s.subject, caller, &a.id, b"", a.idempotency_key.as_deref(), now)
            })?;
            reply(out, r)
        }
        LedgerCommand::Revoke(a) => {
            let s = &a.write.subject;
            let r = with_ledger(&a.write, |l, caller, now| {
                l.revoke_consent(&s.tenant, &s.subject, caller, &a.id, b"", a.idempotency_key.as_deref(), now)
            })?;
            reply(out, r)
        }
        LedgerCommand::Bundle(a) => {
            let s = &a.subject;
            let r = with_ledger(&a, |l, caller, now| l.issue_bundle(&s.tenant, &s.subject, caller, now))?;
            reply(out, r)
        }
        LedgerCommand::List(a) => {
            let p = policy(&a.policy)?;
            // Listing signs nothing: any key serves.
            let signer = Signer::new(SigningKey::from_seed(&[0; 32], Some("list")));
            let issuer = Issuer {
                policy: &p,
                signer: &signer,
                issuer: String::new(),
                audience: String::new(),
                scope: "web".into(),
                bundle_ttl: Span::days(1),
            };
            let mut store = open(&a.db.db)?;
            let keys = a.db.keys()?;
            let now = a.now.map_or_else(clock, UnixTime);
            let r = Ledger::new(&mut store, &issuer, &keys, &mut OsEntropy)
                .list(&a.tenant, &a.subject, now)
                .map_err(failed)?;
            reply(out, r)
        }
        LedgerCommand::Expire(a) => sweep(&a, out, Sweep::Expire),
        LedgerCommand::Replay(a) => sweep(&a, out, Sweep::Replay),
        LedgerCommand::VerifyChain(a) => sweep(&a, out, Sweep::Verify),
    }
}

enum Sweep {
    Expire,
    Replay,
    Verify,
}

fn sweep(a: &SweepArgs, out: &mut dyn Write, what: Sweep) -> Result<(), Failure> {
    let p = policy(&a.policy)?;
    let signer = Signer::new(SigningKey::from_seed(&[0; 32], Some("sweep")));
    let issuer = Issuer {
        policy: &p,
        signer: &signer,
        issuer: String::new(),
        audience: String::new(),
        scope: "web".into(),
        bundle_ttl: Span::days(1),
    };
    let mut store = open(&a.db.db)?;
    let keys = a.db.keys()?;
    let mut entropy = OsEntropy;
    let mut ledger = Ledger::new(&mut store, &issuer, &keys, &mut entropy);
    let now = a.now.map_or_else(clock, UnixTime);
    let subjects = match &a.subject {
        Some(s) => vec![s.clone()],
        None => ledger.subjects(&a.tenant).map_err(failed)?,
    };
    let mut bad = 0;
    for subject in &subjects {
        match what {
            Sweep::Expire => {
                let n = ledger.expire_due(&a.tenant, subject, now).map_err(failed)?;
                line(out, &format!("{subject}: {n} expired"))?;
            }
            Sweep::Replay | Sweep::Verify => {
                let v = ledger.verify(&a.tenant, subject).map_err(failed)?;
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
    line(out, &format!("{} subject(s)", subjects.len()))?;
    if bad > 0 {
        return Err(Failure::Failed(format!("{bad} problem(s) found")));
    }
    Ok(())
}
