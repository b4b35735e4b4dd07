//! A subject's current state, read from the projection: what an operation
//! validates against and what a bundle is built from.

use super::error::LedgerError;
use super::event::CaptureContext;
use super::seal::DataKeys;
use super::store::{int, opt_int, opt_text, text, Store, StoreError, Value};
use super::values;
use crate::model::LegalBasis;
use crate::time::UnixTime;

/// A consent record of the subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    /// The consent reference.
    pub consent_id: String,
    /// The purposes it grants.
    pub purposes: Vec<String>,
    /// The scopes it covers.
    pub scopes: Vec<String>,
    /// Its legal basis.
    pub legal_basis: LegalBasis,
    /// `true` while granted, `false` once revoked.
    pub granted: bool,
    /// Taken back by a split (it came from another subject in a merge):
    /// void here, and its reference cannot be used again.
    pub split: bool,
    /// When it was granted.
    pub granted_at: UnixTime,
}

/// The current version of one of the subject's signals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRow {
    /// The signal id.
    pub signal_id: String,
    /// The current version.
    pub version: u32,
    /// The policy class.
    pub signal_type: String,
    /// The vocabulary value (`None` once erased).
    pub value: Option<String>,
    /// The value's salted digest, as the chain holds it.
    pub value_digest: String,
    /// Where it was captured.
    pub context: CaptureContext,
    /// When this version was captured.
    pub captured_at: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
    /// When it was last reconfirmed.
    pub reconfirmed_at: Option<UnixTime>,
    /// Its consent record.
    pub consent_id: String,
    /// Whether that consent is still granted.
    pub consent_granted: bool,
    /// `prv`: the hash prefix of the event that created this version.
    pub provenance: String,
    /// `false` once it expired (the row is kept for the record).
    pub active: bool,
}

/// An issued bundle that has not expired yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveBundle {
    /// `jti`.
    pub bundle_id: String,
    /// `exp`.
    pub expires_at: UnixTime,
    /// The consent records it carried.
    pub consents: Vec<String>,
    /// The signals it carried (ids).
    pub signals: Vec<String>,
}

/// Whether the subject takes writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SubjectStatus {
    /// The usual state.
    #[default]
    Active,
    /// Merged into another subject, which holds its signals now.
    Merged {
        /// The subject it was merged into.
        into: String,
        /// The merge.
        merge_id: String,
    },
    /// Deleted: erased, or soft-deleted (restorable).
    Deleted {
        /// Erased (`true`) or soft-deleted.
        erase: bool,
    },
}

/// A retention lock (legal hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// When it ends.
    pub until: UnixTime,
    /// Why.
    pub reason: String,
}

/// Everything an operation on one subject reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectState {
    /// The last event's `seq` and `hash`, if any.
    pub head: Option<(i64, String)>,
    /// Active, merged or deleted.
    pub status: SubjectStatus,
    /// The retention lock, if one was set (it may have ended).
    pub lock: Option<Lock>,
    /// The consent records.
    pub consents: Vec<ConsentRow>,
    /// The current versions (active or expired), by signal id.
    pub signals: Vec<SignalRow>,
    /// The unexpired bundles issued (read by [`SubjectState::load_with_bundles`]
    /// only: a revocation needs them, every other operation not).
    pub live_bundles: Vec<LiveBundle>,
}

fn list(text_json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text_json).map_err(|e| StoreError::Database(format!("list column: {e}")))
}

impl SubjectState {
    /// Reads the subject's state, without its bundles; values are opened
    /// with `keys` and checked against their digests.
    pub fn load(
        store: &mut impl Store,
        keys: &DataKeys,
        tenant: &str,
        subject: &str,
    ) -> Result<SubjectState, LedgerError> {
        let key = [Value::from(tenant), Value::from(subject)];
        let head = store
            .query(
                "SELECT seq, hash FROM events WHERE tenant_id = ? AND subject_id = ? ORDER BY seq DESC LIMIT 1",
                &key,
            )?
            .first()
            .map(|r| Ok::<_, StoreError>((int(r, 0)?, text(r, 1)?)))
            .transpose()?;
        let (status, lock) = match store
            .query(
                "SELECT status, merged_into, merge_id, erase, lock_until, lock_reason FROM subjects \
                 WHERE tenant_id = ? AND subject_id = ?",
                &key,
            )?
            .first()
        {
            None => (SubjectStatus::Active, None),
            Some(r) => {
                let status = match text(r, 0)?.as_str() {
                    "merged" => SubjectStatus::Merged {
                        into: opt_text(r, 1)?.unwrap_or_default(),
                        merge_id: opt_text(r, 2)?.unwrap_or_default(),
                    },
                    "deleted" => SubjectStatus::Deleted { erase: int(r, 3)? != 0 },
                    _ => SubjectStatus::Active,
                };
                let lock = match opt_int(r, 4)? {
                    Some(until) => Some(Lock { until: UnixTime(until), reason: opt_text(r, 5)?.unwrap_or_default() }),
                    None => None,
                };
                (status, lock)
            }
        };
        let consents = store
            .query(
                "SELECT consent_id, purposes, scopes, legal_basis, status, granted_at FROM consents \
                 WHERE tenant_id = ? AND subject_id = ? ORDER BY consent_id",
                &key,
            )?
            .iter()
            .map(|r| {
                let status = text(r, 4)?;
                Ok(ConsentRow {
                    consent_id: text(r, 0)?,
                    purposes: list(&text(r, 1)?)?,
                    scopes: list(&text(r, 2)?)?,
                    legal_basis: serde_json::from_value(serde_json::Value::String(text(r, 3)?))
                        .map_err(|e| StoreError::Database(format!("legal_basis: {e}")))?,
                    granted: status == "granted",
                    split: status == "split",
                    granted_at: UnixTime(int(r, 5)?),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let stored = values::load(store, keys, tenant, subject)?;
        let mut signals = Vec::new();
        for r in store.query(
            "SELECT signal_id, version, signal_type, value_digest, capture_context, captured_at, expires_at, \
             reconfirmed_at, consent_id, consent_status, provenance_hash, status FROM signals \
             WHERE tenant_id = ? AND subject_id = ? AND status IN ('active', 'expired') ORDER BY signal_id",
            &key,
        )? {
            let signal_id = text(&r, 0)?;
            let version = u32::try_from(int(&r, 1)?).map_err(|_| StoreError::Database("version".into()))?;
            let value_digest = text(&r, 3)?;
            let value = values::checked(&stored, &signal_id, version, &value_digest)?.map(str::to_string);
            signals.push(SignalRow {
                signal_id,
                version,
                signal_type: text(&r, 2)?,
                value,
                value_digest,
                context: serde_json::from_str(&text(&r, 4)?)
                    .map_err(|e| StoreError::Database(format!("capture_context: {e}")))?,
                captured_at: UnixTime(int(&r, 5)?),
                expires_at: UnixTime(int(&r, 6)?),
                reconfirmed_at: opt_int(&r, 7)?.map(UnixTime),
                consent_id: text(&r, 8)?,
                consent_granted: text(&r, 9)? == "granted",
                provenance: text(&r, 10)?,
                active: text(&r, 11)? == "active",
            });
        }
        Ok(SubjectState { head, status, lock, consents, signals, live_bundles: Vec::new() })
    }

    /// Whether a retention lock holds at `now`.
    pub fn locked(&self, now: UnixTime) -> bool {
        self.lock.as_ref().is_some_and(|l| now < l.until)
    }

    /// Reads the subject's state with the bundles still unexpired at `now`.
    pub fn load_with_bundles(
        store: &mut impl Store,
        keys: &DataKeys,
        tenant: &str,
        subject: &str,
        now: UnixTime,
    ) -> Result<SubjectState, LedgerError> {
        let mut state = Self::load(store, keys, tenant, subject)?;
        let key = [Value::from(tenant), Value::from(subject)];
        state.live_bundles = store
            .query(
                "SELECT bundle_id, expires_at, consent_ids, signal_ids FROM bundles \
                 WHERE tenant_id = ? AND subject_id = ? AND expires_at > ? ORDER BY bundle_id",
                &[key[0].clone(), key[1].clone(), now.0.into()],
            )?
            .iter()
            .map(|r| {
                Ok(LiveBundle {
                    bundle_id: text(r, 0)?,
                    expires_at: UnixTime(int(r, 1)?),
                    consents: list(&text(r, 2)?)?,
                    signals: serde_json::from_str::<Vec<(String, u32)>>(&text(r, 3)?)
                        .map_err(|e| StoreError::Database(format!("signal_ids: {e}")))?
                        .into_iter()
                        .map(|(id, _)| id)
                        .collect(),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(state)
    }

    /// The consent record `id`.
    pub fn consent(&self, id: &str) -> Option<&ConsentRow> {
        self.consents.iter().find(|c| c.consent_id == id)
    }

    /// The current version of signal `id`.
    pub fn signal(&self, id: &str) -> Option<&SignalRow> {
        self.signals.iter().find(|s| s.signal_id == id)
    }

    /// The head as [`super::event::Event::next`] takes it.
    pub fn head_ref(&self) -> Option<(i64, &str)> {
        self.head.as_ref().map(|(s, h)| (*s, h.as_str()))
    }
}
