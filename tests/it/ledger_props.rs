//! Properties of the ledger over random sequences of operations: the chain
//! always verifies, replaying the events rebuilds the stored projection
//! exactly (and the same state in memory), and no bundle ever carries a
//! signal whose consent was revoked or a signal that expired.

use proptest::prelude::*;
use serde_json::json;
use signalgate::bundle::UnverifiedBundle;
use signalgate::ledger::{projection, replay_state, values, SqliteStore, SubjectState};
use signalgate::UnixTime;

use super::ledger::{issuer, keys, open_ledger, policy, service, signer, DAY, T0, TENANT};

#[derive(Debug, Clone)]
enum Op {
    Submit { class: usize, value: usize, consent: usize, late_minutes: Option<i64> },
    Reconfirm { pick: usize },
    Revoke { consent: usize },
    Expire,
    Issue,
}

const CLASSES: [(&str, &[&str]); 3] = [
    ("interest", &["hiking", "yoga", "cycling", "climbing"]),
    ("language", &["en", "de", "Deutsch", "fr"]),
    ("price_band", &["budget", "mid", "premium"]),
];
const CONSENTS: [&str; 3] = ["c-0", "c-1", "c-2"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..3usize, 0..4usize, 0..3usize, prop::option::weighted(0.2, 1..600i64))
            .prop_map(|(class, value, consent, late_minutes)| Op::Submit { class, value, consent, late_minutes }),
        2 => (0..8usize).prop_map(|pick| Op::Reconfirm { pick }),
        1 => (0..3usize).prop_map(|consent| Op::Revoke { consent }),
        1 => Just(Op::Expire),
        1 => Just(Op::Issue),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn replay_rebuilds_the_projection_and_the_chain_verifies(ops in prop::collection::vec((op(), 0..40i64), 1..30)) {
        let (policy, signer) = (policy(), signer());
        let issuer = issuer(&policy, &signer);
        let mut store = SqliteStore::in_memory().unwrap();
        let mut now = T0;
        let mut revoked: Vec<String> = Vec::new();
        for (op, days) in &ops {
            now += days * DAY + 1;
            let mut ledger = open_ledger(&mut store, &issuer);
            let reply = match op {
                Op::Submit { class, value, consent, late_minutes } => {
                    let (name, values) = CLASSES[*class];
                    // Every class here allows personalization; all consents grant just that.
                    let mut body = json!({"signal_type": name, "value": values[value % values.len()],
                        "purpose": "personalization", "consent_reference": CONSENTS[*consent],
                        "source_context": {"channel": "web"}});
                    if let Some(m) = late_minutes {
                        body["captured_at"] = json!(now - m * 60);
                    }
                    ledger.submit(TENANT, "u-p", &service(), body.to_string().as_bytes(), None, UnixTime(now)).ok()
                }
                Op::Reconfirm { pick } => {
                    let state = SubjectState::load(&mut store, keys(), TENANT, "u-p").unwrap();
                    let ids: Vec<String> = state.signals.iter().map(|s| s.signal_id.clone()).collect();
                    let mut ledger = open_ledger(&mut store, &issuer);
                    match ids.get(pick % ids.len().max(1)) {
                        Some(id) => ledger.reconfirm(TENANT, "u-p", &service(), id, b"", None, UnixTime(now)).ok(),
                        None => None,
                    }
                }
                Op::Revoke { consent } => {
                    let r = ledger.revoke_consent(TENANT, "u-p", &service(), CONSENTS[*consent], b"", None, UnixTime(now)).ok();
                    if r.is_some() {
                        revoked.push(CONSENTS[*consent].to_string());
                    }
                    r
                }
                Op::Expire => {
                    ledger.expire_due(TENANT, "u-p", UnixTime(now)).unwrap();
                    None
                }
                Op::Issue => ledger.issue_bundle(TENANT, "u-p", &service(), UnixTime(now)).ok(),
            };
            // No bundle carries a revoked consent's signal or an expired signal.
            if let Some(token) = reply.as_ref().and_then(|r| r.bundle_token()) {
                let claims = UnverifiedBundle::parse(token).unwrap().claims_unverified().clone();
                for s in &claims.signals {
                    prop_assert!(!revoked.contains(&s.consent), "revoked consent {} carried", s.consent);
                    prop_assert!(s.expires_at.0 > now, "expired signal {} carried", s.id);
                }
            }
        }
        let mut ledger = open_ledger(&mut store, &issuer);
        let v = ledger.verify(TENANT, "u-p").unwrap();
        prop_assert_eq!(&v.chain, &Ok(()));
        prop_assert!(v.projection_matches, "replay changed the projection");
        let events = projection::load_events(&mut store, TENANT, "u-p").unwrap();
        let stored = SubjectState::load_with_bundles(&mut store, keys(), TENANT, "u-p", UnixTime(now)).unwrap();
        let stored_values = values::load(&mut store, keys(), TENANT, "u-p").unwrap();
        prop_assert_eq!(stored, replay_state(&events, &stored_values, UnixTime(now)));
    }
}
