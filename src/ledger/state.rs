//! A subject's current state, read from the projection: what an operation
//! validates against and what a bundle is built from.

use super::event::CaptureContext;
use super::store::{int, opt_int, text, Store, StoreError, Value};
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
    /// The vocabulary value.
    pub value: String,
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
}

/// Everything an operation on one subject reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectState {
    /// The last event's `seq` and `hash`, if any.
    pub head: Option<(i64, String)>,
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
    /// Reads the subject's state, without its bundles.
    pub fn load(store: &mut impl Store, tenant: &str, subject: &str) -> Result<SubjectState, StoreError> {
        let key = [Value::from(tenant), Value::from(subject)];
        let head = store
            .query(
                "SELECT seq, hash FROM events WHERE tenant_id = ? AND subject_id = ? ORDER BY seq DESC LIMIT 1",
                &key,
            )?
            .first()
            .map(|r| Ok::<_, StoreError>((int(r, 0)?, text(r, 1)?)))
            .transpose()?;
        let consents = store
            .query(
                "SELECT consent_id, purposes, scopes, legal_basis, status, granted_at FROM consents \
                 WHERE tenant_id = ? AND subject_id = ? ORDER BY consent_id",
                &key,
            )?
            .iter()
            .map(|r| {
                Ok(ConsentRow {
                    consent_id: text(r, 0)?,
                    purposes: list(&text(r, 1)?)?,
                    scopes: list(&text(r, 2)?)?,
                    legal_basis: serde_json::from_value(serde_json::Value::String(text(r, 3)?))
                        .map_err(|e| StoreError::Database(format!("legal_basis: {e}")))?,
                    granted: text(r, 4)? == "granted",
                    granted_at: UnixTime(int(r, 5)?),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let signals = store
            .query(
                "SELECT signal_id, version, signal_type, signal_value, capture_context, captured_at, expires_at, \
                 reconfirmed_at, consent_id, consent_status, provenance_hash, status FROM signals \
                 WHERE tenant_id = ? AND subject_id = ? AND status <> 'retired' ORDER BY signal_id",
                &key,
            )?
            .iter()
            .map(|r| {
                Ok(SignalRow {
                    signal_id: text(r, 0)?,
                    version: u32::try_from(int(r, 1)?).map_err(|_| StoreError::Database("version".into()))?,
                    signal_type: text(r, 2)?,
                    value: text(r, 3)?,
                    context: serde_json::from_str(&text(r, 4)?)
                        .map_err(|e| StoreError::Database(format!("capture_context: {e}")))?,
                    captured_at: UnixTime(int(r, 5)?),
                    expires_at: UnixTime(int(r, 6)?),
                    reconfirmed_at: opt_int(r, 7)?.map(UnixTime),
                    consent_id: text(r, 8)?,
                    consent_granted: text(r, 9)? == "granted",
                    provenance: text(r, 10)?,
                    active: text(r, 11)? == "active",
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(SubjectState { head, consents, signals, live_bundles: Vec::new() })
    }

    /// Reads the subject's state with the bundles still unexpired at `now`.
    pub fn load_with_bundles(
        store: &mut impl Store,
        tenant: &str,
        subject: &str,
        now: UnixTime,
    ) -> Result<SubjectState, StoreError> {
        let mut state = Self::load(store, tenant, subject)?;
        let key = [Value::from(tenant), Value::from(subject)];
        state.live_bundles = store
            .query(
                "SELECT bundle_id, expires_at, consent_ids FROM bundles \
                 WHERE tenant_id = ? AND subject_id = ? AND expires_at > ? ORDER BY bundle_id",
                &[key[0].clone(), key[1].clone(), now.0.into()],
            )?
            .iter()
            .map(|r| {
                Ok(LiveBundle {
                    bundle_id: text(r, 0)?,
                    expires_at: UnixTime(int(r, 1)?),
                    consents: list(&text(r, 2)?)?,
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
