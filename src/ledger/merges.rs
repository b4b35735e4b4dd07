//! A tenant's merge requests, in its directory: the review queue for merges
//! below the policy's threshold and the record of every decision. Whether
//! two subjects are merged is their own ledgers' to say; this is the index
//! operators work from.

use serde::Serialize;

use super::directory::Directory;
use super::error::LedgerError;
use super::identity::MergePlan;
use super::store::{int, opt_int, opt_text, text, Row, Statement, Store};
use crate::time::UnixTime;

/// A merge request and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MergeRecord {
    /// The merge.
    pub merge_id: String,
    /// The subject merged away.
    pub source: String,
    /// The subject that takes it in.
    pub target: String,
    /// The evidence kinds.
    pub evidence: Vec<String>,
    /// The policy's confidence, basis points.
    pub confidence_bp: u32,
    /// `review` (waiting for a person), `accepted` (being carried out),
    /// `rejected`, `merged`, `split`, or `failed` (the source refused: it
    /// was deleted or merged elsewhere meanwhile; `note` has the code).
    pub state: String,
    /// Who asked.
    pub requested_by: String,
    /// When.
    pub requested_at: i64,
    /// Who decided the review, or carried out the split.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<i64>,
    /// Why (an identifier), if given.
    pub note: Option<String>,
}

fn record(r: &Row) -> Result<MergeRecord, LedgerError> {
    Ok(MergeRecord {
        merge_id: text(r, 0)?,
        source: text(r, 1)?,
        target: text(r, 2)?,
        evidence: serde_json::from_str(&text(r, 3)?)
            .map_err(|e| LedgerError::Integrity { detail: format!("merges.evidence: {e}") })?,
        confidence_bp: u32::try_from(int(r, 4)?).unwrap_or(0),
        state: text(r, 5)?,
        requested_by: text(r, 6)?,
        requested_at: int(r, 7)?,
        decided_by: opt_text(r, 8)?,
        decided_at: opt_int(r, 9)?,
        note: opt_text(r, 10)?,
    })
}

impl<S: Store> Directory<'_, S> {
    /// Records a planned merge (`review` below the threshold, `accepted`
    /// otherwise) and returns it; a merge already recorded is returned as
    /// it stands (the same request twice is one merge).
    pub fn record_merge(
        &mut self,
        tenant: &str,
        source: &str,
        target: &str,
        plan: &MergePlan,
        requested_by: &str,
        now: UnixTime,
    ) -> Result<(MergeRecord, bool), LedgerError> {
        if let Some(existing) = self.merge(tenant, &plan.merge_id)? {
            return Ok((existing, false));
        }
        let state = if plan.needs_review { "review" } else { "accepted" };
        self.store.apply(&[Statement::new(
            "INSERT INTO merges (tenant_id, merge_id, source, target, evidence, confidence_bp, state, requested_by, \
             requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                tenant.into(),
                plan.merge_id.as_str().into(),
                source.into(),
                target.into(),
                serde_json::to_string(&plan.evidence).unwrap_or_default().into(),
                plan.confidence_bp.into(),
                state.into(),
                requested_by.into(),
                now.0.into(),
            ],
        )])?;
        let created = self
            .merge(tenant, &plan.merge_id)?
            .ok_or_else(|| LedgerError::Storage { detail: "merge record not found after insert".into() })?;
        Ok((created, true))
    }

    /// The merge `merge_id`, if recorded.
    pub fn merge(&mut self, tenant: &str, merge_id: &str) -> Result<Option<MergeRecord>, LedgerError> {
        let sql = "SELECT merge_id, source, target, evidence, confidence_bp, state, requested_by, requested_at, \
                   decided_by, decided_at, note FROM merges WHERE tenant_id = ? AND merge_id = ?";
        let rows = self.store.query(sql, &[tenant.into(), merge_id.into()])?;
        rows.first().map(record).transpose()
    }

    /// The tenant's merges, newest first, in one state or all.
    pub fn merges(&mut self, tenant: &str, state: Option<&str>) -> Result<Vec<MergeRecord>, LedgerError> {
        let rows = self.store.query(
            "SELECT merge_id, source, target, evidence, confidence_bp, state, requested_by, requested_at, \
             decided_by, decided_at, note FROM merges WHERE tenant_id = ? AND (? IS NULL OR state = ?) \
             ORDER BY requested_at DESC, merge_id LIMIT 1000",
            &[tenant.into(), state.into(), state.into()],
        )?;
        rows.iter().map(record).collect()
    }

    /// Another merge of `source` that is accepted or done (a subject is
    /// merged into one subject at a time).
    pub fn merge_of_source(&mut self, tenant: &str, source: &str) -> Result<Option<MergeRecord>, LedgerError> {
        let rows = self.store.query(
            "SELECT merge_id, source, target, evidence, confidence_bp, state, requested_by, requested_at, \
             decided_by, decided_at, note FROM merges WHERE tenant_id = ? AND source = ? \
             AND state IN ('accepted', 'merged') ORDER BY requested_at DESC LIMIT 1",
            &[tenant.into(), source.into()],
        )?;
        rows.first().map(record).transpose()
    }

    /// Moves a merge to `state` (from one of `from`), recording who decided
    /// (`by`, when a person did) and why. Fails with `merge_conflict` when
    /// it is in another state.
    #[allow(clippy::too_many_arguments)]
    pub fn set_merge_state(
        &mut self,
        tenant: &str,
        merge_id: &str,
        from: &[&str],
        state: &str,
        by: Option<&str>,
        note: Option<&str>,
        now: UnixTime,
    ) -> Result<MergeRecord, LedgerError> {
        let current =
            self.merge(tenant, merge_id)?.ok_or_else(|| LedgerError::UnknownMerge { merge: merge_id.to_string() })?;
        if current.state == state {
            return Ok(current);
        }
        if !from.contains(&current.state.as_str()) {
            return Err(LedgerError::MergeConflict {
                detail: format!("the merge is {}, not {}", current.state, from.join(" or ")),
            });
        }
        self.store.apply(&[Statement::new(
            "UPDATE merges SET state = ?, decided_by = COALESCE(?, decided_by), \
             decided_at = CASE WHEN ? IS NULL THEN decided_at ELSE ? END, note = COALESCE(?, note) \
             WHERE tenant_id = ? AND merge_id = ?",
            vec![state.into(), by.into(), by.into(), now.0.into(), note.into(), tenant.into(), merge_id.into()],
        )])?;
        self.merge(tenant, merge_id)?.ok_or_else(|| LedgerError::UnknownMerge { merge: merge_id.to_string() })
    }
}
