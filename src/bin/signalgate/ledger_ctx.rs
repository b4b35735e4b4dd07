//! What the ledger commands share: the tenant, subject and signing-key
//! options, the whole origin over the SQLite file (a [`Local`], swept after
//! every write so outbox messages reach the directory and other subjects at
//! once), and how replies, tables and times are printed.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use signalgate::bundle::{Signer, SigningKey};
use signalgate::ledger::entropy::OsEntropy;
use signalgate::ledger::{ActorType, Caller, Directory, Issuer, Local, Reply, SqliteStore};
use signalgate::model::Policy;
use signalgate::{Span, UnixTime};

use crate::commands::{clock, json, note, policy, read, shown, Failure};
use crate::ledger_cli::{open, DbArgs};
use crate::safe::Esc;

/// The database, the policy and the tenant.
#[derive(Debug, Args)]
pub struct TenantArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Policy file (JSON)
    #[arg(long, value_name = "POLICY")]
    pub policy: PathBuf,
    /// Tenant
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
    /// Act at this instant (Unix seconds) instead of the clock
    #[arg(long, value_name = "UNIX")]
    pub now: Option<i64>,
}

impl TenantArgs {
    /// The origin for this tenant; a write (with `key`) is swept on.
    pub fn setup<'a>(&'a self, key: Option<&'a KeyArgs>) -> Setup<'a> {
        Setup { db: &self.db, policy: &self.policy, tenant: &self.tenant, now: self.now, key, sweep: key.is_some() }
    }
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

impl SubjectArgs {
    /// The origin for reading this subject: nothing signed, nothing swept.
    pub fn setup(&self) -> Setup<'_> {
        Setup { db: &self.db, policy: &self.policy, tenant: &self.tenant, now: self.now, key: None, sweep: false }
    }
}

/// The origin's signing key and who acts: what a write needs.
#[derive(Debug, Args)]
pub struct KeyArgs {
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

/// What a write to one subject needs.
#[derive(Debug, Args)]
pub struct WriteArgs {
    #[command(flatten)]
    pub subject: SubjectArgs,
    #[command(flatten)]
    pub key: KeyArgs,
}

impl WriteArgs {
    /// The origin for this write, swept on after it.
    pub fn setup(&self) -> Setup<'_> {
        let s = &self.subject;
        Setup { db: &s.db, policy: &s.policy, tenant: &s.tenant, now: s.now, key: Some(&self.key), sweep: true }
    }
}

/// The database and the tenant, for what only the tenant's directory holds
/// (merges, webhooks): no policy needed.
#[derive(Debug, Args)]
pub struct DirArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Tenant
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
    /// Act at this instant (Unix seconds) instead of the clock
    #[arg(long, value_name = "UNIX")]
    pub now: Option<i64>,
}

impl DirArgs {
    /// Runs `f` on the tenant's directory.
    pub fn with_directory<T>(
        &self,
        f: impl FnOnce(&mut Directory<'_, SqliteStore>, UnixTime) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let mut store = open(&self.db.db)?;
        f(&mut Directory::new(&mut store), at(self.now))
    }
}

/// How to set the origin up for one command.
pub struct Setup<'a> {
    /// The database and its keyring.
    pub db: &'a DbArgs,
    /// The policy file.
    pub policy: &'a Path,
    /// The tenant (what is swept).
    pub tenant: &'a str,
    /// `--now`.
    pub now: Option<i64>,
    /// The signing key and the actor; without them a throwaway key that
    /// never signs anything kept, and the actor `operator`.
    pub key: Option<&'a KeyArgs>,
    /// Whether to sweep the tenant's outboxes after the command.
    pub sweep: bool,
}

/// What a command runs with besides the origin.
pub struct At<'a> {
    /// Who acts.
    pub caller: Caller,
    /// The instant it acts at.
    pub now: UnixTime,
    /// The policy.
    pub policy: &'a Policy,
    /// The origin's signer.
    pub signer: &'a Signer,
}

/// `--now`, or the clock.
pub fn at(now: Option<i64>) -> UnixTime {
    now.map_or_else(clock, UnixTime)
}

/// Reads a private JWK.
pub fn signing_key(path: &Path) -> Result<SigningKey, Failure> {
    Ok(SigningKey::from_jwk_json(&read(path)?).map_err(|e| format!("`{}`: {e}", shown(path)))?)
}

/// Runs `f` on the origin over the database; after it succeeds, sweeps the
/// tenant's outboxes when `setup.sweep` (revoked bundles to the feed,
/// webhook events to the endpoints, merge and split hand-offs).
pub fn with_local<T>(
    setup: &Setup<'_>,
    f: impl FnOnce(&mut Local<'_, SqliteStore>, &At<'_>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let policy = policy(setup.policy)?;
    let signer = Signer::new(match setup.key {
        Some(k) => signing_key(&k.key)?,
        // Nothing this key signs is kept: only commands without `--key` use it.
        None => SigningKey::from_seed(&[0; 32], Some("unused")),
    });
    let issuer = Issuer {
        policy: &policy,
        signer: &signer,
        issuer: setup.key.map_or_else(String::new, |k| k.issuer.clone()),
        audience: setup.key.map_or_else(String::new, |k| k.audience.clone()),
        scope: "web".into(),
        bundle_ttl: Span::days(1),
    };
    let mut store = open(&setup.db.db)?;
    let keys = setup.db.keys()?;
    let mut entropy = OsEntropy;
    let mut local = Local::new(&mut store, &issuer, &keys, &mut entropy);
    let now = at(setup.now);
    let actor = setup.key.map_or_else(|| "operator".to_string(), |k| k.actor.clone());
    let ctx =
        At { caller: Caller { actor: ActorType::Operator, actor_id: actor }, now, policy: &policy, signer: &signer };
    let result = f(&mut local, &ctx)?;
    if setup.sweep {
        let swept = local.sweep(setup.tenant, now)?;
        if swept.failed > 0 {
            note(&format!(
                "{} outbox message(s) could not be delivered yet; the next write retries them",
                swept.failed
            ));
        }
    }
    Ok(result)
}

/// Prints a reply; a refused request (4xx) is a failure, its problem printed.
pub fn reply(out: &mut dyn Write, r: &Reply) -> Result<(), Failure> {
    json(out, &r.body)?;
    if r.status >= 400 {
        let detail = r.body.get("detail").and_then(|d| d.as_str()).unwrap_or("refused");
        return Err(Failure::Failed(format!("{detail} (status {})", r.status)));
    }
    Ok(())
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn when(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(|| t.to_string(), |d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// An optional Unix time as [`when`], or `-`.
pub fn when_opt(t: Option<i64>) -> String {
    t.map_or_else(|| "-".to_string(), when)
}

/// Prints a table: a header row, then one row per entry, columns padded to
/// their widest cell; every cell escaped.
pub fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let escaped: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| h.to_string()).collect::<Vec<_>>())
        .chain(rows.iter().cloned())
        .map(|r| r.iter().map(|c| Esc(c).to_string()).collect())
        .collect();
    let mut widths = vec![0; header.len()];
    for r in &escaped {
        for (i, c) in r.iter().enumerate().take(widths.len()) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    for r in &escaped {
        let mut text = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                text.push_str(c);
            } else {
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(c.chars().count());
                text.push_str(c);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        writeln!(out, "{}", text.trim_end())?;
    }
    Ok(())
}

/// clap value parser: an identifier (1 to 64 of `A-Z a-z 0-9 . _ : -`).
pub fn ident(s: &str) -> Result<String, String> {
    if signalgate::model::is_ident(s) {
        Ok(s.to_string())
    } else {
        Err("expected an identifier (1 to 64 of `A-Z a-z 0-9 . _ : -`)".into())
    }
}
