//! Issuing a subject's bundle: the claims the gate verifies, built from the
//! current state, sized to fit one cookie, and signed.

use std::collections::BTreeMap;

use super::state::{SignalRow, SubjectState};
use crate::bundle::{Signer, VerifiedBundle};
use crate::codec::b64;
use crate::model::{Claims, ConsentRecord, ConsentStatus, Policy, Signal, CLAIMS_VERSION};
use crate::time::{Span, UnixTime};

/// The longest token that still fits one cookie: 4096 bytes with its name
/// and `=` (`sg_bundle=`, the gate's cookie).
pub const MAX_COOKIE_TOKEN: usize = 4096 - "sg_bundle=".len();

/// What an origin signs bundles with and for whom.
#[derive(Debug)]
pub struct Issuer<'a> {
    /// The policy the signals are governed by.
    pub policy: &'a Policy,
    /// The current signing key.
    pub signer: &'a Signer,
    /// `iss`.
    pub issuer: String,
    /// `aud`: the gates' audience.
    pub audience: String,
    /// The scope consents cover when a request names none (the gates' scope).
    pub scope: String,
    /// How long a bundle lives (capped by the policy's `max_bundle_lifetime`).
    pub bundle_ttl: Span,
}

/// A signed bundle and what it carries.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The compact JWS.
    pub token: String,
    /// The bundle as the evaluator takes it (the origin's own, just signed).
    pub bundle: VerifiedBundle,
    /// `[signal_id, version]` of each signal carried.
    pub signals: Vec<(String, u32)>,
    /// The consent records carried.
    pub consents: Vec<String>,
    /// Usable signals left out so that the bundle fits one cookie.
    pub omitted: usize,
}

/// A bundle id from 12 random bytes: `b_` and base64url. Random, so the
/// ids the revocation feed publishes cannot be linked to subjects.
pub fn bundle_id(random: &[u8; 12]) -> String {
    format!("b_{}", b64::encode(random))
}

/// Signals the bundle may carry: active, consent granted, class allowed in
/// bundles, not expired; newest confirmation first.
fn eligible<'s>(policy: &Policy, state: &'s SubjectState, now: UnixTime) -> Vec<&'s SignalRow> {
    let mut out: Vec<&SignalRow> = state
        .signals
        .iter()
        .filter(|s| s.active && s.consent_granted && s.expires_at > now && s.value.is_some())
        .filter(|s| policy.class(&s.signal_type).is_some_and(|c| c.in_bundle))
        .collect();
    out.sort_by(|a, b| {
        let confirmed = |s: &SignalRow| s.reconfirmed_at.unwrap_or(s.captured_at).max(s.captured_at);
        confirmed(b).cmp(&confirmed(a)).then_with(|| a.signal_id.cmp(&b.signal_id))
    });
    out
}

impl Issuer<'_> {
    fn claims(
        &self,
        tenant: &str,
        subject: &str,
        state: &SubjectState,
        signals: &[&SignalRow],
        jti: &str,
        now: UnixTime,
    ) -> Claims {
        let lifetime = self.bundle_ttl.min(self.policy.max_bundle_lifetime());
        let mut consents = BTreeMap::new();
        for s in signals {
            if let Some(c) = state.consent(&s.consent_id) {
                consents.insert(
                    c.consent_id.clone(),
                    ConsentRecord {
                        status: ConsentStatus::Granted,
                        purposes: c.purposes.clone(),
                        scopes: c.scopes.clone(),
                        legal_basis: c.legal_basis,
                    },
                );
            }
        }
        Claims {
            version: CLAIMS_VERSION,
            issuer: self.issuer.clone(),
            subject: subject.to_string(),
            tenant: tenant.to_string(),
            audience: self.audience.clone(),
            issued_at: now,
            not_before: now,
            expires_at: now.after(lifetime),
            bundle_id: jti.to_string(),
            policy_version: self.policy.version().to_string(),
            identity_confidence: 1.0,
            consents,
            signals: signals
                .iter()
                .map(|s| Signal {
                    id: s.signal_id.clone(),
                    class: s.signal_type.clone(),
                    value: s.value.clone().unwrap_or_default(),
                    source: s.context.channel.clone(),
                    captured_at: s.captured_at,
                    expires_at: s.expires_at,
                    reconfirmed_at: s.reconfirmed_at,
                    version: s.version,
                    consent: s.consent_id.clone(),
                    provenance: s.provenance.clone(),
                })
                .collect(),
        }
    }

    /// Signs the subject's bundle as of `state`, dropping the least recently
    /// confirmed signals if all of them would not fit one cookie.
    pub fn issue(
        &self,
        tenant: &str,
        subject: &str,
        state: &SubjectState,
        jti: &str,
        now: UnixTime,
    ) -> Result<Issued, String> {
        let all = eligible(self.policy, state, now);
        let sign = |n: usize| -> Result<(String, Claims), String> {
            let claims = self.claims(tenant, subject, state, &all[..n], jti, now);
            Ok((self.signer.sign(&claims).map_err(|e| e.to_string())?, claims))
        };
        let (mut token, mut claims) = sign(all.len())?;
        let mut carried = all.len();
        if token.len() > MAX_COOKIE_TOKEN {
            // The largest prefix (newest first) that fits: binary search.
            let (mut lo, mut hi) = (0, all.len());
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                if sign(mid)?.0.len() <= MAX_COOKIE_TOKEN {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            carried = lo;
            (token, claims) = sign(carried)?;
        }
        // The origin trusts what it has just signed: the claims are the ones
        // `Signer::sign` validated, the signature is over exactly them.
        let signature = token
            .rsplit('.')
            .next()
            .and_then(crate::codec::b64::decode)
            .and_then(|s| <[u8; 64]>::try_from(s).ok())
            .ok_or_else(|| "the signer produced no signature".to_string())?;
        let bundle = VerifiedBundle::own(self.signer.key().kid(), signature, claims);
        let carried_signals = &all[..carried];
        let mut consents: Vec<String> = carried_signals.iter().map(|s| s.consent_id.clone()).collect();
        consents.sort();
        consents.dedup();
        Ok(Issued {
            token,
            bundle,
            signals: carried_signals.iter().map(|s| (s.signal_id.clone(), s.version)).collect(),
            consents,
            omitted: all.len() - carried,
        })
    }
}
