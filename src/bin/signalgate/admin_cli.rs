//! `signalgate ledger metrics|rotate-data-keys`: a tenant's governance
//! metrics, and the rotation of the data keyring (a new active key, every
//! encrypted value sealed again under it, the old keys kept).

use std::io::Write;
use std::path::Path;

use clap::{Args, ValueEnum};
use signalgate::ledger::entropy::OsEntropy;
use signalgate::ledger::metrics::Metrics;
use signalgate::ledger::values::Sealer;
use signalgate::ledger::{DataKeys, Store};

use crate::commands::{line, note, shown, Failure};
use crate::ledger_cli::{failed, open, DbArgs, KEYS_ENV};
use crate::ledger_ctx::{ident, with_local, TenantArgs};

/// How `metrics` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricsFormat {
    /// The Prometheus text exposition format
    Prometheus,
    /// One JSON object
    Json,
}

/// `metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,
    /// What to print
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = MetricsFormat::Prometheus)]
    pub format: MetricsFormat,
}

/// `rotate-data-keys`.
#[derive(Debug, Args)]
pub struct RotateKeysArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The new key's id (default: the next free `k<N>`)
    #[arg(long, value_name = "NEW_KID", value_parser = ident)]
    pub kid: Option<String>,
}

/// Prints the tenant's metrics: every subject's figures summed.
pub fn metrics(a: &MetricsArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let t = &a.tenant;
    let (m, now) = with_local(&t.setup(None), |l, at| {
        let mut m = Metrics::default();
        for subject in l.ledger().subjects(&t.tenant)? {
            m.add(&l.ledger().stats(&t.tenant, &subject, at.now)?);
        }
        Ok((m, at.now))
    })?;
    match a.format {
        // The tenant's name is the only text from outside; `prometheus`
        // quotes it, and serde escapes it.
        MetricsFormat::Prometheus => out.write_all(crate::safe::block(&m.prometheus(&t.tenant)).as_bytes())?,
        MetricsFormat::Json => crate::commands::json(out, &m.json(&t.tenant, now))?,
    }
    Ok(())
}

/// The key ids in a keyring file's text.
fn kids(text: &str) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("keys").and_then(|k| k.as_object()).map(|k| k.keys().cloned().collect()))
        .unwrap_or_default()
}

/// Replaces a secret file: written beside it (owner only), then renamed over it.
fn replace_private(path: &Path, text: &str) -> Result<(), Failure> {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    let tmp = std::path::PathBuf::from(name);
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&tmp).map_err(|e| format!("creating `{}`: {e}", shown(&tmp)))?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(|e| format!("writing `{}`: {e}", shown(&tmp)))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("replacing `{}`: {e}", shown(path)))?;
    Ok(())
}

/// Adds a new active key to the keyring file, then seals every value held
/// under an older key again under it, subject by subject (each subject in
/// one atomic batch). The old keys stay in the file: a value not yet moved
/// (or a raw intake answer, deleted within `intake.raw_ttl`) still opens.
pub fn rotate_data_keys(a: &RotateKeysArgs, out: &mut dyn Write) -> Result<(), Failure> {
    if DbArgs::keys_from_env() {
        return Err(Failure::Failed(format!(
            "the data keyring comes from {KEYS_ENV}: add the new key to that secret instead (keep the old one in it), \
             then run the ledger as usual; nothing was changed"
        )));
    }
    let file = a.db.keys_file();
    let keys = a.db.keys()?;
    let text = std::fs::read_to_string(&file).map_err(|e| format!("reading `{}`: {e}", shown(&file)))?;
    let known = kids(&text);
    let kid = match &a.kid {
        Some(k) => k.clone(),
        None => (1..).map(|n| format!("k{n}")).find(|k| !known.contains(k)).unwrap_or_else(|| "k-new".into()),
    };
    let rotated = keys.with_new_key(&kid, &mut OsEntropy).map_err(failed)?;
    let new_keys = DataKeys::from_json(&rotated).map_err(failed)?;
    replace_private(&file, &rotated)?;
    line(
        out,
        &format!("data keyring `{}`: new active key `{kid}`, older keys kept ({})", shown(&file), known.join(", ")),
    )?;
    let mut store = open(&a.db.db)?;
    let subjects = store
        .query("SELECT DISTINCT tenant_id, subject_id FROM signal_values WHERE value LIKE 'v1.%' ORDER BY 1, 2", &[])
        .map_err(|e| format!("reading the values: {e}"))?;
    let (mut moved, mut touched) = (0, 0);
    for row in &subjects {
        let (Some(tenant), Some(subject)) =
            (row.first().and_then(|v| v.as_text()), row.get(1).and_then(|v| v.as_text()))
        else {
            continue;
        };
        let batch = Sealer { keys: &new_keys, entropy: &mut OsEntropy }
            .reseal_stale(&mut store, tenant, subject)
            .map_err(failed)?;
        if batch.is_empty() {
            continue;
        }
        store.apply(&batch).map_err(|e| format!("re-sealing the values of {subject}: {e}"))?;
        moved += batch.len();
        touched += 1;
    }
    line(out, &format!("{moved} value(s) of {touched} subject(s) re-sealed under `{kid}`"))?;
    note("back the keyring file up again; remove an old key only when nothing sealed under it is left");
    Ok(())
}
