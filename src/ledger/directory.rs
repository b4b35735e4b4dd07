//! A tenant's directory: its API keys (stored hashed) and its revocation
//! feed, the bundles the gates must refuse. Both change rarely and are read
//! often (the origin caches keys, the gates poll the feed), so in the Worker
//! one Durable Object per tenant holds them, off every subject's write path.

use serde_json::{json, Value as Json};

use super::access::ApiKey;
use super::error::LedgerError;
use super::outbox::{feed_entries, Kind, Message};
use super::store::{int, text, Statement, Store};
use crate::time::UnixTime;

/// Most feed entries one poll returns.
pub const FEED_PAGE: i64 = 1000;

/// A tenant's API keys and revocation feed over a store.
pub struct Directory<'a, S: Store> {
    pub(crate) store: &'a mut S,
}

impl<'a, S: Store> Directory<'a, S> {
    /// The directory over `store`.
    pub fn new(store: &'a mut S) -> Self {
        Directory { store }
    }

    /// Records a new API key (its secret's hash only) with its role.
    pub fn add_api_key(&mut self, key: &ApiKey, label: &str, role: &str, now: UnixTime) -> Result<(), LedgerError> {
        self.store.apply(&[Statement::new(
            "INSERT INTO api_keys (tenant_id, key_id, key_hash, label, role, created_at, revoked_at) \
             VALUES (?, ?, ?, ?, ?, ?, NULL)",
            vec![
                key.tenant.as_str().into(),
                key.key_id.as_str().into(),
                key.secret_hash().into(),
                label.into(),
                role.into(),
                now.0.into(),
            ],
        )])?;
        Ok(())
    }

    /// The role of a presented key if it is a live key of its tenant.
    pub fn check_api_key(&mut self, key: &ApiKey) -> Result<Option<String>, LedgerError> {
        let rows = self.store.query(
            "SELECT key_hash, role FROM api_keys WHERE tenant_id = ? AND key_id = ? AND revoked_at IS NULL",
            &[key.tenant.as_str().into(), key.key_id.as_str().into()],
        )?;
        match rows.first() {
            Some(r) if key.matches(&text(r, 0)?) => Ok(Some(text(r, 1)?)),
            _ => Ok(None),
        }
    }

    /// Retires an API key; `false` when there is no live key of that id.
    pub fn revoke_api_key(&mut self, tenant: &str, key_id: &str, now: UnixTime) -> Result<bool, LedgerError> {
        let live = self.store.query(
            "SELECT 1 FROM api_keys WHERE tenant_id = ? AND key_id = ? AND revoked_at IS NULL",
            &[tenant.into(), key_id.into()],
        )?;
        if live.is_empty() {
            return Ok(false);
        }
        self.store.apply(&[Statement::new(
            "UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND key_id = ? AND revoked_at IS NULL",
            vec![now.0.into(), tenant.into(), key_id.into()],
        )])?;
        Ok(true)
    }

    /// Appends revoked bundles to the feed (each once, also within one
    /// call) and prunes entries whose bundles have expired anyway. Returns
    /// the feed's last sequence. Sequence numbers never go back: the
    /// counter lives in `ledger_meta`, not in the (pruned) entries.
    pub fn revoke_bundles(
        &mut self,
        tenant: &str,
        bundles: &[(String, i64)],
        now: UnixTime,
    ) -> Result<i64, LedgerError> {
        let counter = format!("feed_seq:{tenant}");
        let rows = self.store.query(
            "SELECT CAST(value AS INTEGER) FROM ledger_meta WHERE key = ? \
             UNION ALL SELECT COALESCE(MAX(seq), 0) FROM revocations WHERE tenant_id = ?",
            &[counter.as_str().into(), tenant.into()],
        )?;
        let mut seq = rows.iter().map(|r| int(r, 0)).collect::<Result<Vec<_>, _>>()?.into_iter().max().unwrap_or(0);
        let mut batch = vec![Statement::new(
            "DELETE FROM revocations WHERE tenant_id = ? AND expires_at <= ?",
            vec![tenant.into(), now.0.into()],
        )];
        let mut seen = std::collections::BTreeSet::new();
        for (bundle_id, expires_at) in bundles {
            if *expires_at <= now.0 || !seen.insert(bundle_id.as_str()) {
                continue;
            }
            let known = self.store.query(
                "SELECT 1 FROM revocations WHERE tenant_id = ? AND bundle_id = ?",
                &[tenant.into(), bundle_id.as_str().into()],
            )?;
            if known.is_empty() {
                seq += 1;
                batch.push(Statement::new(
                    "INSERT INTO revocations (tenant_id, seq, bundle_id, expires_at) VALUES (?, ?, ?, ?)",
                    vec![tenant.into(), seq.into(), bundle_id.as_str().into(), (*expires_at).into()],
                ));
            }
        }
        batch.push(Statement::new(
            "INSERT INTO ledger_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            vec![counter.into(), seq.to_string().into()],
        ));
        self.store.apply(&batch)?;
        Ok(seq)
    }

    /// Takes in messages from subjects' outboxes: revoked bundles for the
    /// feed, webhook events for the endpoints (others are not the
    /// directory's and are refused). Idempotent: a message received twice
    /// changes nothing the second time. Returns the feed's last sequence.
    pub fn receive(&mut self, tenant: &str, messages: &[Message], now: UnixTime) -> Result<i64, LedgerError> {
        let mut entries = Vec::new();
        let mut hooks = Vec::new();
        for m in messages {
            match m.kind {
                Kind::Feed => entries.extend(feed_entries(m)),
                Kind::Webhook => hooks.push(m),
                other => {
                    return Err(LedgerError::Integrity {
                        detail: format!("a {} message is not the directory's", other.as_str()),
                    })
                }
            }
        }
        if !hooks.is_empty() {
            self.fan_out(tenant, &hooks, now)?;
        }
        self.revoke_bundles(tenant, &entries, now)
    }

    /// The feed after `since`: `{"seq": N, "bundles": [{"bundle_id", "expires_at"}], "more": bool}`,
    /// unexpired entries only. A gate keeps `seq` and asks again with it.
    pub fn feed(&mut self, tenant: &str, since: i64, now: UnixTime) -> Result<Json, LedgerError> {
        let rows = self.store.query(
            "SELECT seq, bundle_id, expires_at FROM revocations WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            &[tenant.into(), since.into(), (FEED_PAGE + 1).into()],
        )?;
        let more = rows.len() as i64 > FEED_PAGE;
        let mut last = since;
        let mut bundles = Vec::new();
        for r in rows.iter().take(FEED_PAGE as usize) {
            last = int(r, 0)?;
            let expires_at = int(r, 2)?;
            if expires_at > now.0 {
                bundles.push(json!({ "bundle_id": text(r, 1)?, "expires_at": expires_at }));
            }
        }
        if rows.is_empty() {
            let head = self.store.query(
                "SELECT MAX(n) FROM (SELECT CAST(value AS INTEGER) AS n FROM ledger_meta WHERE key = ? \
                 UNION ALL SELECT COALESCE(MAX(seq), 0) FROM revocations WHERE tenant_id = ?)",
                &[format!("feed_seq:{tenant}").into(), tenant.into()],
            )?;
            // Nothing after `since`: answer the head itself, so a reader
            // that asked past it (its own count ran ahead, or the feed was
            // rebuilt) resumes from the head instead of skipping entries.
            last = head.first().map(|r| int(r, 0)).transpose()?.unwrap_or(0);
        }
        Ok(json!({ "seq": last, "bundles": bundles, "more": more }))
    }
}
