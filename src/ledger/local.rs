//! The whole origin in one process over one store: what the CLI and native
//! tests use. The same operations as the origin Worker, where each subject
//! and each tenant's directory is a Durable Object; here the outbox
//! messages between them are delivered by [`Local::sweep`].

use serde_json::json;

use super::directory::Directory;
use super::entropy::Entropy;
use super::error::LedgerError;
use super::identity::{plan_merge, MergeExport, SplitBack};
use super::issue::Issuer;
use super::merges::MergeRecord;
use super::ops::{Caller, Ledger, Reply};
use super::outbox::{self, Kind};
use super::seal::DataKeys;
use super::store::{text, Store};
use crate::time::UnixTime;

/// The origin over one store.
pub struct Local<'a, S: Store> {
    store: &'a mut S,
    issuer: &'a Issuer<'a>,
    keys: &'a DataKeys,
    entropy: &'a mut dyn Entropy,
}

/// What a sweep delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Messages delivered and acknowledged.
    pub delivered: usize,
    /// Messages that failed (kept for the next sweep).
    pub failed: usize,
}

impl<'a, S: Store> Local<'a, S> {
    /// The origin over `store`.
    pub fn new(store: &'a mut S, issuer: &'a Issuer<'a>, keys: &'a DataKeys, entropy: &'a mut dyn Entropy) -> Self {
        Local { store, issuer, keys, entropy }
    }

    /// The store (for inspection).
    pub fn store(&mut self) -> &mut S {
        self.store
    }

    /// A subject's ledger.
    pub fn ledger(&mut self) -> Ledger<'_, S> {
        Ledger::new(self.store, self.issuer, self.keys, &mut *self.entropy)
    }

    /// The tenant directory.
    pub fn directory(&mut self) -> Directory<'_, S> {
        Directory::new(self.store)
    }

    /// Delivers every message waiting in the tenant's subjects' outboxes:
    /// revoked bundles and webhook events to the directory, merge and
    /// split hand-offs to their subjects, until none is left that can be
    /// delivered now.
    pub fn sweep(&mut self, tenant: &str, now: UnixTime) -> Result<Swept, LedgerError> {
        let mut swept = Swept::default();
        for _round in 0..8 {
            let subjects: Vec<String> = self
                .store
                .query(
                    "SELECT DISTINCT subject_id FROM outbox WHERE tenant_id = ? AND next_at <= ? ORDER BY subject_id",
                    &[tenant.into(), now.0.into()],
                )?
                .iter()
                .map(|r| text(r, 0))
                .collect::<Result<_, _>>()?;
            if subjects.is_empty() {
                break;
            }
            let before = swept;
            for subject in subjects {
                let messages = outbox::pending(self.store, tenant, &subject, now, true, 1000)?;
                for m in messages {
                    let system = Caller { actor: super::event::ActorType::System, actor_id: "ledger".into() };
                    let result = match m.kind {
                        Kind::Feed | Kind::Webhook => {
                            self.directory().receive(tenant, std::slice::from_ref(&m), now).map(|_| ())
                        }
                        Kind::Merge => self.deliver_merge(tenant, &system, &m.payload, now),
                        Kind::Split => serde_json::from_value::<SplitBack>(m.payload.clone())
                            .map_err(|e| LedgerError::Integrity { detail: format!("split message: {e}") })
                            .and_then(|back| {
                                self.ledger().split_in(tenant, &back.source, &system, &back, now).map(|_| ())
                            }),
                    };
                    match result {
                        Ok(()) => {
                            self.store.apply(&[outbox::ack(tenant, &subject, &m.msg_id)])?;
                            swept.delivered += 1;
                        }
                        Err(_) => {
                            self.store.apply(&[outbox::failed(tenant, &subject, &m.msg_id, m.attempts, now)])?;
                            swept.failed += 1;
                        }
                    }
                }
            }
            if swept == before {
                break;
            }
        }
        Ok(swept)
    }

    /// Takes a merge hand-off in at its target (or where the target was
    /// itself merged), then marks the merge done in the directory.
    fn deliver_merge(
        &mut self,
        tenant: &str,
        caller: &Caller,
        payload: &serde_json::Value,
        now: UnixTime,
    ) -> Result<(), LedgerError> {
        let mut export: MergeExport = serde_json::from_value(payload.clone())
            .map_err(|e| LedgerError::Integrity { detail: format!("merge message: {e}") })?;
        for _hop in 0..8 {
            match self.ledger().merge_in(tenant, &export.target.clone(), caller, &export, now) {
                Ok(_) => {
                    let _ = self.directory().set_merge_state(
                        tenant,
                        &export.merge_id,
                        &["accepted"],
                        "merged",
                        None,
                        None,
                        now,
                    );
                    return Ok(());
                }
                Err(LedgerError::SubjectMerged { into }) => export.target = into,
                Err(e) => return Err(e),
            }
        }
        Err(LedgerError::MergeConflict { detail: "the target's merges form a chain too long to follow".into() })
    }

    /// Requests a merge of `source` into `target` on `evidence`: recorded,
    /// and carried out at once when the policy's confidence reaches its
    /// threshold (otherwise it waits for a review: 202). The same request
    /// again is the same merge.
    pub fn request_merge(
        &mut self,
        tenant: &str,
        source: &str,
        target: &str,
        evidence: &[String],
        caller: &Caller,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let plan = plan_merge(self.issuer.policy, tenant, source, target, evidence)?;
        if let Some(other) = self.directory().merge_of_source(tenant, source)? {
            if other.merge_id != plan.merge_id {
                return Err(LedgerError::MergeConflict {
                    detail: format!(
                        "the source is already merged into {} ({})",
                        super::error::echo(&other.target),
                        other.merge_id
                    ),
                });
            }
        }
        if let Some(other) = self.directory().merge_of_source(tenant, target)? {
            return Err(LedgerError::MergeConflict {
                detail: format!(
                    "the target was itself merged into {}; merge into that subject",
                    super::error::echo(&other.target)
                ),
            });
        }
        let (record, _) = self.directory().record_merge(tenant, source, target, &plan, &caller.actor_id, now)?;
        match record.state.as_str() {
            "accepted" => self.carry_out(tenant, &record, caller, now),
            "review" => Ok(Reply {
                status: 202,
                body: json!({ "merge": record, "threshold": f64::from(plan.threshold_bp) / 10_000.0 }),
            }),
            _ => Ok(Reply { status: 200, body: json!({ "merge": record }) }),
        }
    }

    fn carry_out(
        &mut self,
        tenant: &str,
        record: &MergeRecord,
        caller: &Caller,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let order = MergeExport {
            merge_id: record.merge_id.clone(),
            source: record.source.clone(),
            target: record.target.clone(),
            confidence_bp: record.confidence_bp,
            evidence: record.evidence.clone(),
            consents: vec![],
            signals: vec![],
        };
        let out = match self.ledger().merge_out(tenant, &record.source, caller, &order, now) {
            Ok(out) => out,
            Err(e) => {
                if e.status() < 500 {
                    // The source refused: the merge failed, and does not
                    // block another merge of the source.
                    let _ = self.directory().set_merge_state(
                        tenant,
                        &record.merge_id,
                        &["accepted"],
                        "failed",
                        None,
                        Some(e.code()),
                        now,
                    );
                }
                return Err(e);
            }
        };
        self.sweep(tenant, now)?;
        let record = self.directory().merge(tenant, &record.merge_id)?.unwrap_or_else(|| record.clone());
        Ok(Reply { status: 200, body: json!({ "merge": record, "handed_over": out.body["handed_over"] }) })
    }

    /// Decides a merge waiting for review: approved, it is carried out;
    /// rejected, it is closed (and the same request stays rejected).
    pub fn decide_merge(
        &mut self,
        tenant: &str,
        merge_id: &str,
        approve: bool,
        note: Option<&str>,
        caller: &Caller,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let state = if approve { "accepted" } else { "rejected" };
        let record = self.directory().set_merge_state(
            tenant,
            merge_id,
            &["review"],
            state,
            Some(&caller.actor_id),
            note,
            now,
        )?;
        if approve {
            self.carry_out(tenant, &record, caller, now)
        } else {
            Ok(Reply { status: 200, body: json!({ "merge": record }) })
        }
    }

    /// Splits a merge back: the target gives back what it imported and the
    /// source gets its signals back.
    pub fn split(
        &mut self,
        tenant: &str,
        merge_id: &str,
        caller: &Caller,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let record = self
            .directory()
            .merge(tenant, merge_id)?
            .ok_or_else(|| LedgerError::UnknownMerge { merge: merge_id.to_string() })?;
        if record.state != "merged" && record.state != "split" {
            return Err(LedgerError::MergeConflict { detail: format!("the merge is {}, not merged", record.state) });
        }
        let holder = self.holder_of(tenant, &record)?;
        let out = self.ledger().split_out(tenant, &holder, caller, merge_id, now)?;
        self.sweep(tenant, now)?;
        let record = self.directory().set_merge_state(
            tenant,
            merge_id,
            &["merged"],
            "split",
            Some(&caller.actor_id),
            None,
            now,
        )?;
        Ok(Reply { status: 200, body: json!({ "merge": record, "restored": out.body["restored"] }) })
    }

    /// The subject that took the merge in (the target, or where a merged
    /// target's hand-off went on to).
    fn holder_of(&mut self, tenant: &str, record: &MergeRecord) -> Result<String, LedgerError> {
        let rows = self.store.query(
            "SELECT subject_id FROM subject_merges WHERE tenant_id = ? AND merge_id = ?",
            &[tenant.into(), record.merge_id.as_str().into()],
        )?;
        match rows.first() {
            Some(r) => Ok(text(r, 0)?),
            None => Ok(record.target.clone()),
        }
    }
}
