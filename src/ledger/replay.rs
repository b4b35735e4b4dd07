//! The state the events give, computed in memory: the same rules as the
//! SQL projection ([`super::projection`]), so an operation can build several
//! events on a draft state, and tests can check that replaying the history
//! gives exactly what the store holds.

use super::event::{Change, Event};
use super::state::{ConsentRow, LiveBundle, Lock, SignalRow, SubjectState, SubjectStatus};
use super::values::{self, Values};
use crate::time::UnixTime;

fn set_active(state: &mut SubjectState, versions: &[(String, u32)], active: bool) {
    for s in state.signals.iter_mut().filter(|s| versions.iter().any(|(id, v)| *id == s.signal_id && *v == s.version)) {
        s.active = active;
    }
}

/// Applies one event to an in-memory state, as the projection does in SQL.
/// `values` holds the values of the versions the event may create.
pub(crate) fn apply(state: &mut SubjectState, e: &Event, values: &Values) {
    match &e.change {
        Change::ConsentGranted { consent_id, purposes, scopes, legal_basis } => {
            state.consents.push(ConsentRow {
                consent_id: consent_id.clone(),
                purposes: purposes.clone(),
                scopes: scopes.clone(),
                legal_basis: *legal_basis,
                granted: true,
                split: false,
                granted_at: e.at,
            });
            state.consents.sort_by(|a, b| a.consent_id.cmp(&b.consent_id));
        }
        Change::SignalCaptured { current: false, .. } => {}
        Change::SignalCaptured {
            signal_id,
            version,
            signal_type,
            value_digest,
            context,
            captured_at,
            expires_at,
            consent_id,
            current: true,
        } => {
            state.signals.retain(|s| s.signal_id != *signal_id);
            let consent_granted = state.consent(consent_id).is_some_and(|c| c.granted);
            let value = values::checked(values, signal_id, *version, value_digest).ok().flatten().map(str::to_string);
            state.signals.push(SignalRow {
                signal_id: signal_id.clone(),
                version: *version,
                signal_type: signal_type.clone(),
                value,
                value_digest: value_digest.clone(),
                context: context.clone(),
                captured_at: *captured_at,
                expires_at: *expires_at,
                reconfirmed_at: None,
                consent_id: consent_id.clone(),
                consent_granted,
                provenance: e.provenance(),
                active: true,
            });
            state.signals.sort_by(|a, b| a.signal_id.cmp(&b.signal_id));
        }
        Change::SignalReconfirmed { signal_id, reconfirmed_at, expires_at, .. } => {
            if let Some(s) = state.signals.iter_mut().find(|s| s.signal_id == *signal_id) {
                s.reconfirmed_at = Some(*reconfirmed_at);
                s.expires_at = *expires_at;
            }
        }
        Change::ConsentRevoked { consent_id, .. } => {
            for c in state.consents.iter_mut().filter(|c| c.consent_id == *consent_id) {
                c.granted = false;
            }
            for s in state.signals.iter_mut().filter(|s| s.consent_id == *consent_id) {
                s.consent_granted = false;
            }
        }
        Change::SignalExpired { signal_id, version } => {
            set_active(state, &[(signal_id.clone(), *version)], false);
        }
        Change::BundleIssued { bundle_id, expires_at, consents, signals, .. } => state.live_bundles.push(LiveBundle {
            bundle_id: bundle_id.clone(),
            expires_at: *expires_at,
            consents: consents.clone(),
            signals: signals.iter().map(|(id, _)| id.clone()).collect(),
        }),
        Change::MergedInto { merge_id, target, signals, .. } => {
            // Handed over: no longer current here (the projection marks them `merged`).
            state.signals.retain(|s| !signals.iter().any(|(id, v)| *id == s.signal_id && *v == s.version));
            state.status = SubjectStatus::Merged { into: target.clone(), merge_id: merge_id.clone() };
        }
        Change::MergeImported { .. } => {}
        Change::MergeSplit { signals, consents, .. } => {
            state.signals.retain(|s| !signals.iter().any(|(id, v)| *id == s.signal_id && *v == s.version));
            for c in state.consents.iter_mut().filter(|c| consents.contains(&c.consent_id)) {
                c.granted = false;
                c.split = true;
            }
            // A signal captured here later under an imported consent loses it
            // too: the consent went back with the split.
            for s in state.signals.iter_mut().filter(|s| consents.contains(&s.consent_id)) {
                s.consent_granted = false;
            }
        }
        Change::SplitRestored { .. } => {
            // The merged versions come back; the caller reloads them from
            // the store (they are not in memory once handed over).
            state.status = SubjectStatus::Active;
        }
        Change::SubjectDeleted { erase, .. } => state.status = SubjectStatus::Deleted { erase: *erase },
        Change::SubjectRestored {} => state.status = SubjectStatus::Active,
        Change::SignalDeleted { signal_id, .. } => state.signals.retain(|s| s.signal_id != *signal_id),
        Change::ValuesErased { signals, .. } => {
            for s in
                state.signals.iter_mut().filter(|s| signals.iter().any(|(id, v)| *id == s.signal_id && *v == s.version))
            {
                s.value = None;
            }
        }
        Change::RetentionLocked { until, reason } => {
            state.lock = Some(Lock { until: *until, reason: reason.clone() });
        }
        Change::RetentionUnlocked {} => state.lock = None,
        Change::IntakeReceived { .. } | Change::IntakeResolved { .. } | Change::IntakePurged { .. } => {}
    }
    state.head = Some((e.seq, e.hash.clone()));
}

/// The state the events give, computed in memory (as the projection does
/// in SQL), as of `now` (for which bundles are still live), with the
/// values still stored.
///
/// A split brings back the versions its subject had handed over; replay
/// keeps them aside when they leave, so the result matches the store.
pub fn replay_state(events: &[Event], values: &Values, now: UnixTime) -> SubjectState {
    let mut state = SubjectState::default();
    let mut handed_over: Vec<SignalRow> = Vec::new();
    for e in events {
        if let Change::MergedInto { signals, .. } = &e.change {
            handed_over.extend(
                state
                    .signals
                    .iter()
                    .filter(|s| signals.iter().any(|(id, v)| *id == s.signal_id && *v == s.version))
                    .cloned(),
            );
        }
        apply(&mut state, e, values);
        if let Change::SplitRestored { .. } = &e.change {
            for mut s in handed_over.drain(..) {
                s.active = true;
                state.signals.retain(|x| x.signal_id != s.signal_id);
                state.signals.push(s);
            }
            state.signals.sort_by(|a, b| a.signal_id.cmp(&b.signal_id));
        }
    }
    // Values erased after a version was handed over or split are gone too.
    for s in &mut state.signals {
        if s.value.is_some() && values.get(&(s.signal_id.clone(), s.version)).is_none() {
            s.value = None;
        }
    }
    state.live_bundles.retain(|b| b.expires_at > now);
    state.live_bundles.sort_by(|a, b| a.bundle_id.cmp(&b.bundle_id));
    state
}
