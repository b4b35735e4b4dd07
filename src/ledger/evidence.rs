//! Evidence packs: everything an auditor needs about one subject, signed by
//! the origin so it can be checked offline with the published key set and
//! without access to the ledger.
//!
//! A pack holds the subject's whole hash chain (every event with the fields
//! its hash covers, so [`check`] recomputes it), what was collected (each
//! signal version with its value and salt while they are kept, so each
//! value can be checked against the digest in its event), the consent
//! records, every bundle issued (by id, with the policy version that
//! allowed it and what it carried), every erasure (the proof of
//! suppression: which versions, when, why), merges, the retention lock,
//! the webhook deliveries, and the chain's verification result. An optional
//! time window narrows the lists (not the chain, which is always whole).
//!
//! The pack is JSON (`docs/evidence-pack.schema.json`) signed as a compact
//! JWS (EdDSA, `typ: signalgate-evidence+jws`) with the origin's bundle key.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::deliveries::DeliveryRecord;
use super::error::LedgerError;
use super::event::{verify_chain, ActorType, Audit, Change, Event};
use super::ops::Ledger;
use super::projection::load_events;
use super::store::{int, opt_int, opt_text, text, Store};
use super::values::{self, digest};
use crate::bundle::{jws, KeySet, Signer};
use crate::model::LegalBasis;
use crate::time::UnixTime;

/// The pack format this build writes and checks.
pub const PACK_FORMAT: &str = "signalgate-evidence/1";
/// The JWS `typ` of a signed pack.
pub const PACK_TYP: &str = "signalgate-evidence+jws";
/// Largest signed pack [`check`] reads.
pub const MAX_PACK_BYTES: usize = 64 * 1024 * 1024;

/// A time window (inclusive, Unix seconds); `None` ends are open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// From.
    pub from: Option<i64>,
    /// To.
    pub to: Option<i64>,
}

impl Window {
    fn holds(&self, t: i64) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|u| t <= u)
    }
}

/// One event as a pack carries it: every field its hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackedEvent {
    /// Position from 1.
    pub seq: i64,
    /// When.
    pub at: i64,
    /// The operation.
    pub op: String,
    /// Who.
    pub actor_type: String,
    /// Which one.
    pub actor_id: String,
    /// The screen, if a person acted.
    pub source_ui: Option<String>,
    /// The policy version in force.
    pub policy_version: String,
    /// The legal basis, if one applies.
    pub legal_basis: Option<LegalBasis>,
    /// Why.
    pub justification: Option<String>,
    /// The change, exactly as stored (JSON text).
    pub payload: String,
    /// The previous event's hash.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

impl PackedEvent {
    fn of(e: &Event) -> PackedEvent {
        PackedEvent {
            seq: e.seq,
            at: e.at.0,
            op: e.change.op().to_string(),
            actor_type: e.audit.actor_type.as_str().to_string(),
            actor_id: e.audit.actor_id.clone(),
            source_ui: e.audit.source_ui.clone(),
            policy_version: e.policy_version.clone(),
            legal_basis: e.audit.legal_basis,
            justification: e.audit.justification.clone(),
            payload: e.payload(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }

    fn event(&self, tenant: &str, subject: &str) -> Result<Event, String> {
        let change: Change =
            serde_json::from_str(&self.payload).map_err(|e| format!("event {}: payload: {e}", self.seq))?;
        if change.op() != self.op {
            return Err(format!("event {}: op does not match its payload", self.seq));
        }
        Ok(Event {
            tenant_id: tenant.to_string(),
            subject_id: subject.to_string(),
            seq: self.seq,
            at: UnixTime(self.at),
            audit: Audit {
                actor_type: ActorType::parse(&self.actor_type)
                    .ok_or_else(|| format!("event {}: actor_type", self.seq))?,
                actor_id: self.actor_id.clone(),
                source_ui: self.source_ui.clone(),
                legal_basis: self.legal_basis,
                justification: self.justification.clone(),
            },
            policy_version: self.policy_version.clone(),
            change,
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        })
    }
}

impl<S: Store> Ledger<'_, S> {
    /// Builds the evidence pack of a subject (unsigned): see the module
    /// documentation. `deliveries` are the subject's webhook deliveries
    /// from the tenant's directory.
    pub fn evidence(
        &mut self,
        tenant: &str,
        subject: &str,
        window: Window,
        deliveries: &[DeliveryRecord],
        now: UnixTime,
    ) -> Result<Json, LedgerError> {
        let events = load_events(self.store, tenant, subject)?;
        if events.is_empty() {
            return Err(LedgerError::NotFound);
        }
        let chain = verify_chain(&events);
        let stored = values::load(self.store, self.keys, tenant, subject)?;
        let key = [tenant.into(), subject.into()];
        let rows = self.store.query(
            "SELECT signal_id, version, signal_type, value_digest, source_channel, captured_at, expires_at, \
             reconfirmed_at, consent_id, consent_status, provenance_hash, status, retired_at, erased_at \
             FROM signals WHERE tenant_id = ? AND subject_id = ? ORDER BY signal_id, version",
            &key,
        )?;
        let mut collected = Vec::new();
        for r in &rows {
            let (id, version) = (text(r, 0)?, u32::try_from(int(r, 1)?).unwrap_or(0));
            let captured_at = int(r, 5)?;
            if !window.holds(captured_at) {
                continue;
            }
            let class = text(r, 2)?;
            let kept = stored.get(&(id.clone(), version));
            let last_confirmed = opt_int(r, 7)?.unwrap_or(captured_at).max(captured_at);
            let retention_until = self.policy().class(&class).map(|c| last_confirmed + c.retention.0);
            collected.push(json!({
                "signal_id": id,
                "version": version,
                "signal_type": class,
                "value": kept.map(|v| v.value.clone()),
                "salt": kept.map(|v| v.salt.clone()),
                "value_digest": text(r, 3)?,
                "encrypted_at_rest": kept.is_some_and(|v| v.sealed),
                "source_channel": text(r, 4)?,
                "captured_at": captured_at,
                "expires_at": int(r, 6)?,
                "reconfirmed_at": opt_int(r, 7)?,
                "consent_id": text(r, 8)?,
                "consent_status": text(r, 9)?,
                "provenance_hash": text(r, 10)?,
                "status": text(r, 11)?,
                "retired_at": opt_int(r, 12)?,
                "erased_at": opt_int(r, 13)?,
                "retention_until": retention_until,
            }));
        }
        let consents: Vec<Json> = self
            .store
            .query(
                "SELECT consent_id, purposes, scopes, legal_basis, status, granted_at, revoked_at FROM consents \
                 WHERE tenant_id = ? AND subject_id = ? ORDER BY consent_id",
                &key,
            )?
            .iter()
            .map(|r| {
                Ok::<_, LedgerError>(json!({
                    "consent_id": text(r, 0)?,
                    "purposes": serde_json::from_str::<Json>(&text(r, 1)?).unwrap_or(Json::Null),
                    "scopes": serde_json::from_str::<Json>(&text(r, 2)?).unwrap_or(Json::Null),
                    "legal_basis": text(r, 3)?,
                    "status": text(r, 4)?,
                    "granted_at": int(r, 5)?,
                    "revoked_at": opt_int(r, 6)?,
                }))
            })
            .collect::<Result<_, _>>()?;
        let mut uses = Vec::new();
        let mut erasures = Vec::new();
        let mut merges = Vec::new();
        let mut policy_versions: Vec<String> = Vec::new();
        for e in &events {
            if !policy_versions.contains(&e.policy_version) {
                policy_versions.push(e.policy_version.clone());
            }
            if !window.holds(e.at.0) {
                continue;
            }
            match &e.change {
                Change::BundleIssued { bundle_id, issued_at, expires_at, signals, consents } => uses.push(json!({
                    "bundle_id": bundle_id,
                    "issued_at": issued_at.0,
                    "expires_at": expires_at.0,
                    "policy_version": e.policy_version,
                    "signals": signals,
                    "consents": consents,
                    "event_seq": e.seq,
                })),
                Change::ValuesErased { signals, reason } => erasures.push(json!({
                    "event_seq": e.seq,
                    "at": e.at.0,
                    "reason": reason,
                    "signals": signals,
                })),
                Change::MergedInto { merge_id, target, signals, .. } => merges.push(json!({
                    "merge_id": merge_id, "role": "source", "other": target, "at": e.at.0, "signals": signals.len(), "event_seq": e.seq,
                })),
                Change::MergeImported { merge_id, source, signals, confidence_bp, evidence, .. } => merges.push(json!({
                    "merge_id": merge_id, "role": "target", "other": source, "at": e.at.0, "signals": signals.len(),
                    "confidence": f64::from(*confidence_bp) / 10_000.0, "evidence": evidence, "event_seq": e.seq,
                })),
                Change::MergeSplit { merge_id, source, .. } => merges.push(json!({
                    "merge_id": merge_id, "role": "target", "other": source, "at": e.at.0, "split": true, "event_seq": e.seq,
                })),
                Change::SplitRestored { merge_id, target } => merges.push(json!({
                    "merge_id": merge_id, "role": "source", "other": target, "at": e.at.0, "split": true, "event_seq": e.seq,
                })),
                _ => {}
            }
        }
        let lock = self
            .store
            .query("SELECT lock_until, lock_reason FROM subjects WHERE tenant_id = ? AND subject_id = ?", &key)?
            .first()
            .map(|r| Ok::<_, LedgerError>((opt_int(r, 0)?, opt_text(r, 1)?)))
            .transpose()?
            .and_then(|(until, reason)| until.map(|u| json!({ "until": u, "reason": reason })));
        let webhooks: Vec<&DeliveryRecord> = deliveries.iter().filter(|d| window.holds(d.created_at)).collect();
        Ok(json!({
            "pack": PACK_FORMAT,
            "generated_at": now.0,
            "issuer": self.issuer.issuer,
            "tenant": tenant,
            "subject_id": subject,
            "window": window,
            "policy_versions": policy_versions,
            "chain": {
                "events": events.len(),
                "head": events.last().map(|e| e.hash.clone()),
                "verified": chain.is_ok(),
                "first_bad_index": chain.as_ref().err().map(|b| b.index),
                "problem": chain.as_ref().err().map(|b| b.problem.clone()),
            },
            "events": events.iter().map(PackedEvent::of).collect::<Vec<_>>(),
            "collected": collected,
            "consents": consents,
            "uses": uses,
            "erasures": erasures,
            "merges": merges,
            "retention_lock": lock,
            "webhooks": webhooks,
        }))
    }
}

/// Signs a pack: a compact JWS with the origin's key.
pub fn sign(pack: &Json, signer: &Signer) -> String {
    let key = signer.key();
    let header = json!({ "alg": "EdDSA", "kid": key.kid(), "typ": PACK_TYP });
    jws::sign_compact(&header, pack.to_string().as_bytes(), key)
}

/// What [`check`] found in a pack that holds up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The pack itself.
    pub pack: Json,
    /// The signing key's id.
    pub kid: String,
    /// Events whose hash chain was recomputed.
    pub events: usize,
    /// Values checked against the digests in their events.
    pub values_checked: usize,
    /// Signal versions whose values were erased (no value in the pack).
    pub erased: usize,
}

/// Checks a signed pack offline: the signature under a key of `keys`, the
/// format, the whole hash chain recomputed from the events it carries (and
/// that the pack's own verification result says the same), and every value
/// it carries against the digest in its event. The error says what fails.
pub fn check(token: &str, keys: &KeySet) -> Result<Checked, String> {
    let parsed = jws::parse_compact(token.trim(), MAX_PACK_BYTES).map_err(|e| format!("not a signed pack: {e}"))?;
    if parsed.header.typ.as_deref().is_none_or(|t| !t.eq_ignore_ascii_case(PACK_TYP)) {
        return Err(format!("not a signed pack: `typ` is not {PACK_TYP}"));
    }
    let kid = parsed.header.kid.clone().unwrap_or_default();
    let key = keys.get(&kid).ok_or_else(|| format!("signed with key `{kid}`, which the key set does not hold"))?;
    jws::verify_signature(&parsed, key.verifying_key()).map_err(|_| "the signature does not verify".to_string())?;
    let pack: Json = serde_json::from_slice(&parsed.payload).map_err(|e| format!("the pack is not JSON: {e}"))?;
    if pack.get("pack").and_then(Json::as_str) != Some(PACK_FORMAT) {
        return Err(format!("not a {PACK_FORMAT} pack"));
    }
    let field =
        |name: &str| pack.get(name).and_then(Json::as_str).map(str::to_string).ok_or(format!("`{name}` is missing"));
    let (tenant, subject) = (field("tenant")?, field("subject_id")?);
    let packed: Vec<PackedEvent> = serde_json::from_value(pack.get("events").cloned().unwrap_or(Json::Null))
        .map_err(|e| format!("`events`: {e}"))?;
    let events: Vec<Event> = packed.iter().map(|p| p.event(&tenant, &subject)).collect::<Result<_, _>>()?;
    let chain = verify_chain(&events);
    let claimed = pack.pointer("/chain/verified").and_then(Json::as_bool);
    match (&chain, claimed) {
        (Ok(()), Some(true)) => {}
        (Err(b), Some(false)) => {
            return Err(format!(
                "the ledger's chain is broken at event index {} (seq {}): {}",
                b.index, b.seq, b.problem
            ))
        }
        (Err(b), _) => {
            return Err(format!("the chain in the pack does not verify at index {}: {}", b.index, b.problem))
        }
        (Ok(()), _) => return Err("the pack says its chain did not verify, but it does: the pack was altered".into()),
    }
    let digests: std::collections::BTreeMap<(String, u32), String> = events
        .iter()
        .filter_map(|e| match &e.change {
            Change::SignalCaptured { signal_id, version, value_digest, .. } => {
                Some(((signal_id.clone(), *version), value_digest.clone()))
            }
            _ => None,
        })
        .collect();
    let (mut values_checked, mut erased) = (0, 0);
    for c in pack.get("collected").and_then(Json::as_array).into_iter().flatten() {
        let id = c.get("signal_id").and_then(Json::as_str).unwrap_or_default().to_string();
        let version = c.get("version").and_then(Json::as_u64).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        let in_chain = digests.get(&(id.clone(), version)).ok_or(format!("{id} v{version} is not in the chain"))?;
        match (c.get("value").and_then(Json::as_str), c.get("salt").and_then(Json::as_str)) {
            (Some(value), Some(salt)) => {
                if digest(salt, value) != *in_chain {
                    return Err(format!("the value of {id} v{version} does not match the digest in its event"));
                }
                values_checked += 1;
            }
            _ => erased += 1,
        }
    }
    Ok(Checked { pack, kid, events: events.len(), values_checked, erased })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_inclusive_and_open_ended() {
        let w = Window { from: Some(10), to: Some(20) };
        assert!(w.holds(10) && w.holds(20) && !w.holds(9) && !w.holds(21));
        assert!(Window::default().holds(i64::MIN));
    }
}
