//! Identity: merging two subjects that turn out to be one person, and
//! splitting an erroneous merge back.
//!
//! A merge moves the source subject's usable signals and their consents to
//! the target. It is two steps on two ledgers, joined by the source's
//! outbox: [`Ledger::merge_out`] freezes the source (a `merged_into` event)
//! and leaves the hand-off in its outbox; [`Ledger::merge_in`] takes it in
//! at the target (idempotent on the merge id), so a crash between the two
//! only delays the second. [`Ledger::split_out`] and [`Ledger::split_in`]
//! undo it the same way.
//!
//! Where both subjects hold the same signal (a one-valued class, or the same
//! value of a many-valued class), the policy's `identity.prefer` rules decide
//! which version is current at the target; the other is kept as history.
//! Each rule compares the two and the first that tells them apart decides:
//!
//! - `consent_scope`: the version whose consent grants more of the class's
//!   purposes wins (then more scopes);
//! - `channel_specificity`: the version captured on the channel ranked
//!   more specific by `identity.channel_rank` wins;
//! - `recency`: the version confirmed (captured or reconfirmed) later wins.
//!
//! If none tells them apart the target's own version stays. Values of
//! different signals never conflict: "email" and "sms" in a many-valued
//! `contact_channel` are two signals, each kept with its own consent and
//! capture channel. The outcome depends only on the two subjects' records
//! and the policy: the same merge gives the same result.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use super::error::LedgerError;
use super::event::{Audit, CaptureContext, Change, Imported};
use super::ops::{revoke_feed, signal_id, writable, Caller, Ledger, Reply};
use super::outbox;
use super::state::{ConsentRow, SignalRow, SubjectStatus};
use super::store::{int, opt_int, text, Store};
use super::values;
use crate::codec::b64;
use crate::model::policy::{Class, MergeRule};
use crate::model::{is_ident, LegalBasis, Policy};
use crate::time::UnixTime;

/// A consent record handed over in a merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedConsent {
    /// Its id at the source.
    pub consent_id: String,
    /// The purposes it grants.
    pub purposes: Vec<String>,
    /// The scopes it covers.
    pub scopes: Vec<String>,
    /// Its legal basis.
    pub legal_basis: LegalBasis,
}

/// A signal version handed over in a merge, with its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedSignal {
    /// Its id at the source.
    pub signal_id: String,
    /// Its version at the source.
    pub version: u32,
    /// The class.
    pub signal_type: String,
    /// The value.
    pub value: String,
    /// Where it was captured.
    pub context: CaptureContext,
    /// When.
    pub captured_at: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
    /// When it was last reconfirmed.
    pub reconfirmed_at: Option<UnixTime>,
    /// Its consent (id at the source).
    pub consent_id: String,
}

/// What a merge hands from the source to the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeExport {
    /// The merge.
    pub merge_id: String,
    /// The source subject.
    pub source: String,
    /// The target subject.
    pub target: String,
    /// The policy's confidence in the match, in basis points.
    pub confidence_bp: u32,
    /// The evidence kinds.
    pub evidence: Vec<String>,
    /// The consent records the signals need.
    pub consents: Vec<ExportedConsent>,
    /// The usable signals.
    pub signals: Vec<ExportedSignal>,
}

/// What a split hands back to the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitBack {
    /// The merge undone.
    pub merge_id: String,
    /// The subject that gets its signals back.
    pub source: String,
    /// The subject it had been merged into.
    pub target: String,
    /// Consents revoked at the target while merged (ids at the source).
    pub revoke: Vec<String>,
}

/// A merge the policy allows: its id, confidence and whether it needs a
/// person's review first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergePlan {
    /// Deterministic: the same subjects and evidence give the same id.
    pub merge_id: String,
    /// Combined confidence, basis points.
    pub confidence_bp: u32,
    /// The policy's threshold, basis points.
    pub threshold_bp: u32,
    /// Evidence kinds, sorted and de-duplicated.
    pub evidence: Vec<String>,
    /// Below the threshold: the merge waits for a review.
    pub needs_review: bool,
}

fn bp(x: f64) -> u32 {
    (x.clamp(0.0, 1.0) * 10_000.0).round() as u32
}

/// Checks a merge request against the policy: distinct identifiers, known
/// evidence kinds; computes its id and confidence.
pub fn plan_merge(
    policy: &Policy,
    tenant: &str,
    source: &str,
    target: &str,
    evidence: &[String],
) -> Result<MergePlan, LedgerError> {
    for (field, v) in [("source", source), ("target", target)] {
        if !is_ident(v) {
            return Err(LedgerError::InvalidField { field, detail: "expected a subject id (an identifier)".into() });
        }
    }
    if source == target {
        return Err(LedgerError::MergeConflict { detail: "a subject cannot be merged into itself".into() });
    }
    let mut kinds: Vec<String> = evidence.to_vec();
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() || kinds.len() > 32 || kinds.iter().any(|k| !is_ident(k)) {
        return Err(LedgerError::InvalidField {
            field: "evidence",
            detail: "expected a list of 1 to 32 evidence kinds the policy names".into(),
        });
    }
    let refs: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let identity = policy.identity();
    let confidence = identity.confidence(&refs).map_err(|unknown| LedgerError::InvalidField {
        field: "evidence",
        detail: format!(
            "the policy has no evidence kind {}; known: {}",
            super::error::echo(&unknown),
            identity.evidence.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")
        ),
    })?;
    let digest = Sha256::digest(format!("merge\0{tenant}\0{source}\0{target}\0{}", kinds.join("\0")).as_bytes());
    let (confidence_bp, threshold_bp) = (bp(confidence), bp(identity.merge_threshold));
    Ok(MergePlan {
        merge_id: format!("m_{}", b64::encode(&digest[..12])),
        confidence_bp,
        threshold_bp,
        evidence: kinds,
        needs_review: confidence_bp < threshold_bp,
    })
}

/// One side of a conflict, as the rules see it.
struct Side<'s> {
    consent: Option<&'s ConsentRow>,
    channel: &'s str,
    confirmed: UnixTime,
}

/// Which version the rules keep current: `true` for the incoming one, and
/// the rule that decided.
fn resolve(policy: &Policy, class: &Class, here: &Side<'_>, incoming: &Side<'_>) -> (bool, &'static str) {
    let identity = policy.identity();
    let scope = |s: &Side<'_>| -> (bool, usize, usize) {
        match s.consent {
            None => (false, 0, 0),
            Some(c) => {
                let purposes = c
                    .purposes
                    .iter()
                    .filter(|p| policy.purpose_index(p).is_some_and(|i| class.purposes & (1u64 << i) != 0))
                    .count();
                (c.granted, purposes, c.scopes.len())
            }
        }
    };
    for rule in &identity.prefer {
        let (a, b) = match rule {
            MergeRule::ConsentScope => {
                let (x, y) = (scope(incoming), scope(here));
                (x.cmp(&y), "consent_scope")
            }
            MergeRule::ChannelSpecificity => {
                // A lower rank is more specific: compare reversed.
                let (x, y) = (identity.channel_rank(incoming.channel), identity.channel_rank(here.channel));
                (y.cmp(&x), "channel_specificity")
            }
            MergeRule::Recency => (incoming.confirmed.cmp(&here.confirmed), "recency"),
        };
        match a {
            std::cmp::Ordering::Greater => return (true, b),
            std::cmp::Ordering::Less => return (false, b),
            std::cmp::Ordering::Equal => {}
        }
    }
    (false, "target_kept")
}

fn confirmed(captured: UnixTime, reconfirmed: Option<UnixTime>) -> UnixTime {
    reconfirmed.unwrap_or(captured).max(captured)
}

/// A consent id for an imported record that does not collide with one the
/// target has under other terms.
fn imported_consent_id(id: &str, merge_id: &str) -> String {
    let stem: String = id.chars().take(50).collect();
    format!("{stem}.{}", &merge_id[2..10.min(merge_id.len())])
}

impl<S: Store> Ledger<'_, S> {
    /// The export of a subject already merged by `merge_id` (its handed-over
    /// versions, now `merged`), to hand over again.
    fn export_again(&mut self, tenant: &str, source: &str, order: &MergeExport) -> Result<MergeExport, LedgerError> {
        let stored = values::load(self.store, self.keys, tenant, source)?;
        let rows = self.store.query(
            "SELECT signal_id, version, signal_type, value_digest, capture_context, captured_at, expires_at, \
             reconfirmed_at, consent_id FROM signals WHERE tenant_id = ? AND subject_id = ? AND status = 'merged' \
             ORDER BY signal_id",
            &[tenant.into(), source.into()],
        )?;
        let mut signals = Vec::new();
        for r in &rows {
            let (id, version) = (text(r, 0)?, u32::try_from(int(r, 1)?).unwrap_or(0));
            let Some(value) = values::checked(&stored, &id, version, &text(r, 3)?)? else { continue };
            signals.push(ExportedSignal {
                signal_id: id.clone(),
                version,
                signal_type: text(r, 2)?,
                value: value.to_string(),
                context: serde_json::from_str(&text(r, 4)?)
                    .map_err(|e| LedgerError::Integrity { detail: format!("capture_context: {e}") })?,
                captured_at: UnixTime(int(r, 5)?),
                expires_at: UnixTime(int(r, 6)?),
                reconfirmed_at: opt_int(r, 7)?.map(UnixTime),
                consent_id: text(r, 8)?,
            });
        }
        let state = self.load(tenant, source)?;
        let consents = consents_of(&state.consents, &signals);
        Ok(MergeExport { signals, consents, ..order.clone() })
    }

    /// The first step of a merge, on the source: hands its usable signals
    /// and their consents over (a `merged_into` event; from then on the
    /// source takes no writes) and leaves the hand-off for the target in
    /// its outbox. Its live bundles are revoked. Asking again with the same
    /// merge id hands the same over again; a source merged elsewhere is a
    /// conflict.
    pub fn merge_out(
        &mut self,
        tenant: &str,
        source: &str,
        caller: &Caller,
        order: &MergeExport,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let request = format!("merge-out\0{}\0{}", order.merge_id, order.target);
        self.run(tenant, source, None, request.as_bytes(), now, |l| {
            let state = l.load_with_bundles(tenant, source, now)?;
            match &state.status {
                SubjectStatus::Merged { merge_id, .. } if *merge_id == order.merge_id => {
                    let export = l.export_again(tenant, source, order)?;
                    let mut draft = l.draft(tenant, source, state, now);
                    let payload = serde_json::to_value(&export).unwrap_or_default();
                    let msg = format!("merge-{}", order.merge_id);
                    draft.extra.push(outbox::put(tenant, source, &msg, outbox::Kind::Merge, &payload, now));
                    return Ok((Reply { status: 200, body: json!({ "merge_id": order.merge_id, "handed_over": export.signals.len(), "again": true }) }, draft.batch()));
                }
                SubjectStatus::Merged { into, .. } => {
                    return Err(LedgerError::MergeConflict { detail: format!("the source is already merged into {}", super::error::echo(into)) })
                }
                SubjectStatus::Deleted { .. } => return Err(LedgerError::SubjectDeleted),
                SubjectStatus::Active => {}
            }
            let usable: Vec<&SignalRow> = state
                .signals
                .iter()
                .filter(|s| s.active && s.consent_granted && s.expires_at > now && s.value.is_some())
                .collect();
            let signals: Vec<ExportedSignal> = usable
                .iter()
                .map(|s| ExportedSignal {
                    signal_id: s.signal_id.clone(),
                    version: s.version,
                    signal_type: s.signal_type.clone(),
                    value: s.value.clone().unwrap_or_default(),
                    context: s.context.clone(),
                    captured_at: s.captured_at,
                    expires_at: s.expires_at,
                    reconfirmed_at: s.reconfirmed_at,
                    consent_id: s.consent_id.clone(),
                })
                .collect();
            let consents = consents_of(&state.consents, &signals);
            let export = MergeExport { signals, consents, ..order.clone() };
            let live = state.live_bundles.clone();
            let mut draft = l.draft(tenant, source, state, now);
            let seq = draft
                .push(
                    Ledger::<S>::audit(caller, None, Some(format!("merge:{}", order.merge_id))),
                    Change::MergedInto {
                        merge_id: order.merge_id.clone(),
                        target: order.target.clone(),
                        signals: export.signals.iter().map(|s| (s.signal_id.clone(), s.version)).collect(),
                        consents: export.consents.iter().map(|c| c.consent_id.clone()).collect(),
                        bundles: live.iter().map(|b| b.bundle_id.clone()).collect(),
                    },
                )
                .seq;
            revoke_feed(&mut draft, seq, &live);
            let payload = serde_json::to_value(&export).unwrap_or_default();
            let msg = format!("merge-{}", order.merge_id);
            draft.extra.push(outbox::put(tenant, source, &msg, outbox::Kind::Merge, &payload, now));
            let body = json!({ "merge_id": order.merge_id, "handed_over": export.signals.len(), "again": false });
            Ok((Reply { status: 200, body }, draft.batch()))
        })
    }

    /// The second step of a merge, on the target: takes in what the source
    /// handed over, resolving conflicts by the policy's rules, and records
    /// it (`merge_imported`). Idempotent on the merge id. A target that was
    /// itself merged elsewhere answers `subject_merged` (the hand-off goes
    /// on to that subject).
    pub fn merge_in(
        &mut self,
        tenant: &str,
        target: &str,
        caller: &Caller,
        export: &MergeExport,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let request = format!("merge-in\0{}", export.merge_id);
        self.run(tenant, target, None, request.as_bytes(), now, |l| {
            let done = l.store.query(
                "SELECT state FROM subject_merges WHERE tenant_id = ? AND subject_id = ? AND merge_id = ?",
                &[tenant.into(), target.into(), export.merge_id.as_str().into()],
            )?;
            if let Some(r) = done.first() {
                let body = json!({ "merge_id": export.merge_id, "state": text(r, 0)?, "again": true });
                return Ok((Reply { status: 200, body }, vec![]));
            }
            let state = l.load(tenant, target)?;
            if let SubjectStatus::Deleted { .. } = state.status {
                return Err(LedgerError::MergeConflict { detail: "the target subject was deleted".into() });
            }
            writable(&state)?;
            let policy = l.policy();
            let mut draft = l.draft(tenant, target, state, now);
            let audit = |rule: Option<String>| Audit {
                actor_type: caller.actor,
                actor_id: caller.actor_id.clone(),
                source_ui: None,
                legal_basis: None,
                justification: rule.or_else(|| Some(format!("merge:{}", export.merge_id))),
            };
            // Consents: the same terms under the same id are one record;
            // anything else comes in, under a new id if its id is taken.
            let mut consent_map: BTreeMap<String, String> = BTreeMap::new();
            let mut imported_consents = Vec::new();
            for c in &export.consents {
                let here = match draft.state.consent(&c.consent_id) {
                    Some(h) if h.granted && same_terms(h, c) => {
                        consent_map.insert(c.consent_id.clone(), c.consent_id.clone());
                        continue;
                    }
                    Some(_) => imported_consent_id(&c.consent_id, &export.merge_id),
                    None => c.consent_id.clone(),
                };
                let mut audit = audit(None);
                audit.legal_basis = Some(c.legal_basis);
                draft.push(
                    audit,
                    Change::ConsentGranted {
                        consent_id: here.clone(),
                        purposes: c.purposes.clone(),
                        scopes: c.scopes.clone(),
                        legal_basis: c.legal_basis,
                    },
                );
                consent_map.insert(c.consent_id.clone(), here.clone());
                imported_consents.push((here, c.consent_id.clone()));
            }
            let mut imported = Vec::new();
            let mut skipped = 0;
            let mut incoming: Vec<&ExportedSignal> = export.signals.iter().collect();
            incoming.sort_by(|a, b| a.signal_id.cmp(&b.signal_id).then(a.version.cmp(&b.version)));
            for s in incoming {
                let Some(class) = policy.class(&s.signal_type) else {
                    skipped += 1;
                    continue;
                };
                let Some(consent_here) = consent_map.get(&s.consent_id).cloned() else {
                    skipped += 1;
                    continue;
                };
                let id = signal_id(tenant, target, &s.signal_type, class.cardinality, &s.value);
                let existing = draft.state.signal(&id).filter(|e| e.active && e.consent_granted && e.expires_at > now).cloned();
                let (current, rule) = match &existing {
                    None => (true, "no_conflict"),
                    Some(e) => {
                        let here = Side {
                            consent: draft.state.consent(&e.consent_id),
                            channel: &e.context.channel,
                            confirmed: confirmed(e.captured_at, e.reconfirmed_at),
                        };
                        let incoming_consent = draft.state.consent(&consent_here);
                        let theirs = Side {
                            consent: incoming_consent,
                            channel: &s.context.channel,
                            confirmed: confirmed(s.captured_at, s.reconfirmed_at),
                        };
                        resolve(policy, class, &here, &theirs)
                    }
                };
                let version = l.last_version_of(tenant, target, &id, &draft)? + 1;
                let value_digest = l.new_value(&mut draft, &id, version, &s.signal_type, &s.value)?;
                draft.push(
                    audit(Some(format!("merge:{}:{rule}", export.merge_id))),
                    Change::SignalCaptured {
                        signal_id: id.clone(),
                        version,
                        signal_type: s.signal_type.clone(),
                        value_digest,
                        context: s.context.clone(),
                        captured_at: s.captured_at,
                        expires_at: s.expires_at,
                        consent_id: consent_here,
                        current,
                    },
                );
                if let (true, Some(at)) = (current, s.reconfirmed_at) {
                    draft.push(
                        audit(None),
                        Change::SignalReconfirmed { signal_id: id.clone(), version, reconfirmed_at: at, expires_at: s.expires_at },
                    );
                }
                imported.push(Imported {
                    signal_id: id,
                    version,
                    from_signal: s.signal_id.clone(),
                    from_version: s.version,
                    current,
                    rule: rule.to_string(),
                });
            }
            let conflicts: Vec<Json> = imported
                .iter()
                .filter(|i| i.rule != "no_conflict")
                .map(|i| json!({ "signal_id": i.signal_id, "kept": if i.current { "source" } else { "target" }, "rule": i.rule }))
                .collect();
            let count = imported.len();
            draft.push(
                audit(None),
                Change::MergeImported {
                    merge_id: export.merge_id.clone(),
                    source: export.source.clone(),
                    confidence_bp: export.confidence_bp,
                    evidence: export.evidence.clone(),
                    signals: imported,
                    consents: imported_consents,
                },
            );
            let body = json!({
                "merge_id": export.merge_id,
                "state": "merged",
                "imported": count,
                "skipped": skipped,
                "conflicts": conflicts,
                "again": false,
            });
            Ok((Reply { status: 200, body }, draft.batch()))
        })
    }

    /// The highest version of a signal recorded so far, counting the draft's.
    fn last_version_of(
        &mut self,
        tenant: &str,
        subject: &str,
        signal: &str,
        draft: &super::ops::Draft<'_>,
    ) -> Result<u32, LedgerError> {
        let rows = self.store.query(
            "SELECT MAX(version) FROM signals WHERE tenant_id = ? AND subject_id = ? AND signal_id = ?",
            &[tenant.into(), subject.into(), signal.into()],
        )?;
        let stored = rows.first().and_then(|r| r.first()).and_then(super::store::Value::as_int).unwrap_or(0);
        let drafted = draft
            .events
            .iter()
            .filter_map(|e| match &e.change {
                Change::SignalCaptured { signal_id, version, .. } if signal_id == signal => Some(i64::from(*version)),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Ok(u32::try_from(stored.max(drafted)).unwrap_or(u32::MAX))
    }

    /// The first step of a split, on the subject that took the merge in:
    /// what it imported stops counting, each of its own versions that an
    /// imported one displaced is captured again, its live bundles are
    /// revoked, and the hand-back to the source goes to its outbox.
    /// Signals captured here after the merge stay here.
    pub fn split_out(
        &mut self,
        tenant: &str,
        target: &str,
        caller: &Caller,
        merge_id: &str,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let request = format!("split-out\0{merge_id}");
        self.run(tenant, target, None, request.as_bytes(), now, |l| {
            let rows = l.store.query(
                "SELECT source, imported, state FROM subject_merges WHERE tenant_id = ? AND subject_id = ? AND merge_id = ?",
                &[tenant.into(), target.into(), merge_id.into()],
            )?;
            let row = rows.first().ok_or_else(|| LedgerError::UnknownMerge { merge: merge_id.to_string() })?;
            let source = text(row, 0)?;
            if text(row, 2)? == "split" {
                return Ok((Reply { status: 200, body: json!({ "merge_id": merge_id, "state": "split", "again": true }) }, vec![]));
            }
            #[derive(Deserialize)]
            struct Record {
                signals: Vec<Imported>,
                consents: Vec<(String, String)>,
            }
            let record: Record = serde_json::from_str(&text(row, 1)?)
                .map_err(|e| LedgerError::Integrity { detail: format!("subject_merges.imported: {e}") })?;
            let state = l.load_with_bundles(tenant, target, now)?;
            writable(&state)?;
            // The target's own versions each imported current version
            // displaced: the newest earlier version not imported by this merge.
            let mut restore = Vec::new();
            for i in record.signals.iter().filter(|i| i.current) {
                let still_current = state.signal(&i.signal_id).is_some_and(|s| s.version == i.version);
                if !still_current {
                    continue;
                }
                let earlier = l.store.query(
                    "SELECT version, signal_type, value_digest, capture_context, captured_at, expires_at, consent_id \
                     FROM signals WHERE tenant_id = ? AND subject_id = ? AND signal_id = ? AND version < ? \
                     AND status = 'retired' ORDER BY version DESC",
                    &[tenant.into(), target.into(), i.signal_id.as_str().into(), i.version.into()],
                )?;
                let own = earlier.iter().find(|r| {
                    let v = int(r, 0).ok().and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
                    !record.signals.iter().any(|x| x.signal_id == i.signal_id && x.version == v)
                });
                if let Some(r) = own {
                    restore.push((i.signal_id.clone(), u32::try_from(int(r, 0)?).unwrap_or(0), text(r, 1)?, text(r, 2)?, text(r, 3)?, UnixTime(int(r, 4)?), UnixTime(int(r, 5)?), text(r, 6)?));
                }
            }
            let stored = values::load(l.store, l.keys, tenant, target)?;
            let revoke_at_source: Vec<String> = record
                .consents
                .iter()
                .filter(|(here, _)| state.consent(here).is_some_and(|c| !c.granted && !c.split))
                .map(|(_, from)| from.clone())
                .collect();
            let live = state.live_bundles.clone();
            let mut draft = l.draft(tenant, target, state, now);
            let seq = draft
                .push(
                    Ledger::<S>::audit(caller, None, Some(format!("split:{merge_id}"))),
                    Change::MergeSplit {
                        merge_id: merge_id.to_string(),
                        source: source.clone(),
                        signals: record.signals.iter().map(|i| (i.signal_id.clone(), i.version)).collect(),
                        consents: record.consents.iter().map(|(here, _)| here.clone()).collect(),
                        revoke_at_source: revoke_at_source.clone(),
                        bundles: live.iter().map(|b| b.bundle_id.clone()).collect(),
                    },
                )
                .seq;
            revoke_feed(&mut draft, seq, &live);
            let mut restored = 0;
            for (id, version, class, digest, context, captured_at, expires_at, consent) in restore {
                let Some(value) = values::checked(&stored, &id, version, &digest)? else { continue };
                let value = value.to_string();
                let new_version = l.last_version_of(tenant, target, &id, &draft)? + 1;
                let value_digest = l.new_value(&mut draft, &id, new_version, &class, &value)?;
                draft.push(
                    Ledger::<S>::audit(caller, None, Some(format!("split:{merge_id}:restored"))),
                    Change::SignalCaptured {
                        signal_id: id,
                        version: new_version,
                        signal_type: class,
                        value_digest,
                        context: serde_json::from_str(&context)
                            .map_err(|e| LedgerError::Integrity { detail: format!("capture_context: {e}") })?,
                        captured_at,
                        expires_at,
                        consent_id: consent,
                        current: true,
                    },
                );
                restored += 1;
            }
            let back = SplitBack {
                merge_id: merge_id.to_string(),
                source: source.clone(),
                target: target.to_string(),
                revoke: revoke_at_source,
            };
            let payload = serde_json::to_value(&back).unwrap_or_default();
            draft.extra.push(outbox::put(tenant, target, &format!("split-{merge_id}"), outbox::Kind::Split, &payload, now));
            let body = json!({ "merge_id": merge_id, "state": "split", "source": source, "restored": restored, "again": false });
            Ok((Reply { status: 200, body }, draft.batch()))
        })
    }

    /// The second step of a split, on the source: its handed-over signals
    /// count again, and consents revoked at the target while merged are
    /// revoked here too. Idempotent.
    pub fn split_in(
        &mut self,
        tenant: &str,
        source: &str,
        caller: &Caller,
        back: &SplitBack,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let request = format!("split-in\0{}", back.merge_id);
        self.run(tenant, source, None, request.as_bytes(), now, |l| {
            let state = l.load(tenant, source)?;
            match &state.status {
                SubjectStatus::Merged { merge_id, .. } if *merge_id == back.merge_id => {}
                SubjectStatus::Active => {
                    return Ok((
                        Reply {
                            status: 200,
                            body: json!({ "merge_id": back.merge_id, "state": "active", "again": true }),
                        },
                        vec![],
                    ))
                }
                _ => return Err(LedgerError::UnknownMerge { merge: back.merge_id.clone() }),
            }
            let granted: Vec<String> =
                back.revoke.iter().filter(|c| state.consent(c).is_some_and(|r| r.granted)).cloned().collect();
            let mut draft = l.draft(tenant, source, state, now);
            draft.push(
                Ledger::<S>::audit(caller, None, Some(format!("split:{}", back.merge_id))),
                Change::SplitRestored { merge_id: back.merge_id.clone(), target: back.target.clone() },
            );
            for c in &granted {
                draft.push(
                    Ledger::<S>::audit(caller, None, Some("revoked_while_merged".into())),
                    Change::ConsentRevoked { consent_id: c.clone(), revoked_at: now, bundles: vec![] },
                );
            }
            let body = json!({ "merge_id": back.merge_id, "state": "active", "revoked": granted, "again": false });
            Ok((Reply { status: 200, body }, draft.batch()))
        })
    }
}

fn same_terms(here: &ConsentRow, c: &ExportedConsent) -> bool {
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    sorted(&here.purposes) == sorted(&c.purposes)
        && sorted(&here.scopes) == sorted(&c.scopes)
        && here.legal_basis == c.legal_basis
}

/// The consent records the exported signals refer to.
fn consents_of(consents: &[ConsentRow], signals: &[ExportedSignal]) -> Vec<ExportedConsent> {
    consents
        .iter()
        .filter(|c| signals.iter().any(|s| s.consent_id == c.consent_id))
        .map(|c| ExportedConsent {
            consent_id: c.consent_id.clone(),
            purposes: c.purposes.clone(),
            scopes: c.scopes.clone(),
            legal_basis: c.legal_basis,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_json(include_str!("../../www/policy.json")).unwrap()
    }

    #[test]
    fn plans_are_deterministic_and_checked() {
        let p = policy();
        let a = plan_merge(&p, "t", "u-1", "u-2", &["login".into()]).unwrap();
        let b = plan_merge(&p, "t", "u-1", "u-2", &["login".into(), "login".into()]).unwrap();
        assert_eq!(a, b, "the same inputs give the same merge");
        assert!(!a.needs_review, "{a:?}");
        let weak = plan_merge(&p, "t", "u-1", "u-2", &["device".into()]).unwrap();
        assert!(weak.needs_review, "{weak:?}");
        assert_ne!(weak.merge_id, a.merge_id);
        assert_eq!(plan_merge(&p, "t", "u-1", "u-1", &["login".into()]).unwrap_err().code(), "merge_conflict");
        let e = plan_merge(&p, "t", "u-1", "u-2", &["shoe_size".into()]).unwrap_err();
        assert_eq!((e.code(), e.field()), ("invalid_field", Some("evidence")));
        assert_eq!(plan_merge(&p, "t", "u-1", "u-2", &[]).unwrap_err().field(), Some("evidence"));
    }

    #[test]
    fn the_rules_decide_in_the_policy_order() {
        let p = policy();
        let class = p.class("language").unwrap();
        let granted = |purposes: &[&str]| ConsentRow {
            consent_id: "c".into(),
            purposes: purposes.iter().map(|s| s.to_string()).collect(),
            scopes: vec!["web".into()],
            legal_basis: LegalBasis::Consent,
            granted: true,
            split: false,
            granted_at: UnixTime(0),
        };
        let (narrow, wide) = (granted(&["personalization"]), granted(&["personalization", "marketing_email"]));
        let side = |c, channel, t| Side { consent: Some(c), channel, confirmed: UnixTime(t) };
        // Wider consent wins even when older and captured on a less specific channel.
        assert_eq!(resolve(&p, class, &side(&narrow, "sms", 200), &side(&wide, "web", 100)), (true, "consent_scope"));
        // Same scope: the more specific channel (sms before web in channel_rank).
        assert_eq!(
            resolve(&p, class, &side(&narrow, "web", 200), &side(&narrow, "sms", 100)),
            (true, "channel_specificity")
        );
        // Same channel: the later confirmation.
        assert_eq!(resolve(&p, class, &side(&narrow, "web", 100), &side(&narrow, "web", 200)), (true, "recency"));
        assert_eq!(resolve(&p, class, &side(&narrow, "web", 200), &side(&narrow, "web", 100)), (false, "recency"));
        // Nothing tells them apart: the target keeps its own.
        assert_eq!(resolve(&p, class, &side(&narrow, "web", 100), &side(&narrow, "web", 100)), (false, "target_kept"));
    }
}
