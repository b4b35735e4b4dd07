//! Properties of governance over random sequences of submits, merges,
//! splits, revocations, erasures, signal deletions and retention runs,
//! over several subjects: no erased value is readable anywhere, replaying
//! each subject's events rebuilds its state, every chain verifies, and no
//! issued bundle ever carries a suppressed signal.

use proptest::prelude::*;
use serde_json::{json, Value};
use signalgate::bundle::UnverifiedBundle;
use signalgate::ledger::event::Change;
use signalgate::ledger::{projection, replay_state, values, Local, Reply, SqliteStore, SubjectState, SubjectStatus};
use signalgate::UnixTime;

use super::ledger::{entropy, issuer, keys, policy, service, signer, DAY, T0, TENANT};

const SUBJECTS: [&str; 3] = ["s-a", "s-b", "s-c"];
const CLASSES: [(&str, &[&str]); 3] = [
    ("interest", &["hiking", "yoga", "camping"]),
    ("language", &["en", "de", "fr"]),
    ("contact_channel", &["email", "sms"]),
];

#[derive(Debug, Clone)]
enum Op {
    Submit { subject: usize, class: usize, value: usize, consent: usize },
    Revoke { subject: usize, consent: usize },
    Merge { source: usize, target: usize, strong: bool },
    Approve { nth: usize },
    Split { nth: usize },
    Erase { subject: usize },
    DeleteSignal { subject: usize, nth: usize },
    Retention,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, 0..3usize, 0..3usize, 0..2usize)
            .prop_map(|(subject, class, value, consent)| Op::Submit { subject, class, value, consent }),
        1 => (0..3usize, 0..2usize).prop_map(|(subject, consent)| Op::Revoke { subject, consent }),
        2 => (0..3usize, 0..3usize, any::<bool>()).prop_map(|(source, target, strong)| Op::Merge { source, target, strong }),
        1 => (0..4usize).prop_map(|nth| Op::Approve { nth }),
        1 => (0..4usize).prop_map(|nth| Op::Split { nth }),
        1 => (0..3usize).prop_map(|subject| Op::Erase { subject }),
        1 => (0..3usize, 0..4usize).prop_map(|(subject, nth)| Op::DeleteSignal { subject, nth }),
        1 => Just(Op::Retention),
    ]
}

/// Every bundle a reply carries holds only signals usable right now.
fn check_bundle(store: &mut SqliteStore, reply: &Reply) -> Result<(), TestCaseError> {
    let Some(token) = reply.bundle_token() else { return Ok(()) };
    let bundle = UnverifiedBundle::parse(token).unwrap();
    let claims = bundle.claims_unverified();
    let state = SubjectState::load(store, keys(), TENANT, &claims.subject).unwrap();
    prop_assert_eq!(&state.status, &SubjectStatus::Active, "a bundle for a subject that is not active");
    for s in &claims.signals {
        let row = state.signal(&s.id);
        prop_assert!(
            row.is_some_and(|r| r.version == s.version
                && r.active
                && r.consent_granted
                && r.value.as_deref() == Some(s.value.as_str())),
            "bundle carries {} v{} which is not usable: {:?}",
            s.id,
            s.version,
            row
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn governance_keeps_its_invariants(ops in prop::collection::vec((op(), 0..30i64), 1..25)) {
        let (policy, signer) = (policy(), signer());
        let issuer = issuer(&policy, &signer);
        let mut store = SqliteStore::in_memory().unwrap();
        let mut now = T0;
        let mut merges: Vec<String> = Vec::new();
        // An endpoint that never answers: its deliveries keep their bodies.
        signalgate::ledger::Directory::new(&mut store)
            .add_endpoint(TENANT, "https://hooks.example/in", &["signal.created".into(), "signal.updated".into()], entropy(), UnixTime(T0))
            .unwrap();
        for (op, days) in &ops {
            now += days * DAY + 1;
            let t = UnixTime(now);
            let mut l = Local::new(&mut store, &issuer, keys(), entropy());
            let reply: Option<Reply> = match op {
                Op::Submit { subject, class, value, consent } => {
                    let (name, vals) = CLASSES[*class];
                    let body = json!({"signal_type": name, "value": vals[value % vals.len()], "purpose": "personalization",
                        "consent_reference": format!("c-{consent}"), "source_context": {"channel": "web"}});
                    l.ledger().submit(TENANT, SUBJECTS[*subject], &service(), body.to_string().as_bytes(), None, t).ok()
                }
                Op::Revoke { subject, consent } => {
                    l.ledger().revoke_consent(TENANT, SUBJECTS[*subject], &service(), &format!("c-{consent}"), b"", None, t).ok()
                }
                Op::Merge { source, target, strong } => {
                    let evidence = vec![if *strong { "login" } else { "device" }.to_string()];
                    let r = l.request_merge(TENANT, SUBJECTS[*source], SUBJECTS[*target], &evidence, &service(), t).ok();
                    if let Some(id) = r.as_ref().and_then(|r| r.body["merge"]["merge_id"].as_str()) {
                        if !merges.iter().any(|m| m == id) {
                            merges.push(id.to_string());
                        }
                    }
                    r
                }
                Op::Approve { nth } => match merges.get(*nth) {
                    Some(id) => l.decide_merge(TENANT, &id.clone(), true, None, &service(), t).ok(),
                    None => None,
                },
                Op::Split { nth } => match merges.get(*nth) {
                    Some(id) => l.split(TENANT, &id.clone(), &service(), t).ok(),
                    None => None,
                },
                Op::Erase { subject } => l.ledger().delete_subject(TENANT, SUBJECTS[*subject], &service(), true, None, t).ok(),
                Op::DeleteSignal { subject, nth } => {
                    let state = SubjectState::load(l.store(), keys(), TENANT, SUBJECTS[*subject]).unwrap();
                    match state.signals.get(*nth) {
                        Some(s) => l.ledger().delete_signal(TENANT, SUBJECTS[*subject], &service(), &s.signal_id.clone(), t).ok(),
                        None => None,
                    }
                }
                Op::Retention => {
                    for s in SUBJECTS {
                        l.ledger().enforce_retention(TENANT, s, t).unwrap();
                    }
                    None
                }
            };
            l.sweep(TENANT, t).unwrap();
            if let Some(r) = &reply {
                check_bundle(&mut store, r)?;
            }
        }
        for subject in SUBJECTS {
            let events = projection::load_events(&mut store, TENANT, subject).unwrap();
            if events.is_empty() {
                continue;
            }
            let stored_values = values::load(&mut store, keys(), TENANT, subject).unwrap();
            let loaded = SubjectState::load_with_bundles(&mut store, keys(), TENANT, subject, UnixTime(now)).unwrap();
            prop_assert_eq!(&loaded, &replay_state(&events, &stored_values, UnixTime(now)), "replay for {}", subject);
            let mut l = Local::new(&mut store, &issuer, keys(), entropy());
            let v = l.ledger().verify(TENANT, subject).unwrap();
            prop_assert!(v.chain.is_ok(), "{}: {:?}", subject, v.chain);
            prop_assert!(v.projection_matches, "{} projection", subject);
            // No erased value is readable anywhere: not stored, not in any message.
            for e in &events {
                let Change::ValuesErased { signals, .. } = &e.change else { continue };
                for (id, version) in signals {
                    prop_assert!(!stored_values.contains_key(&(id.clone(), *version)), "{} v{} erased but stored", id, version);
                    let payloads: Vec<String> = l.store().connection()
                        .prepare("SELECT payload FROM outbox WHERE subject_id = ?1 UNION ALL SELECT payload FROM webhook_deliveries WHERE subject_id = ?1 UNION ALL SELECT response FROM idempotency WHERE subject_id = ?1 AND response IS NOT NULL")
                        .unwrap()
                        .query_map([subject], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect();
                    for p in payloads {
                        let Ok(j) = serde_json::from_str::<Value>(&p) else { continue };
                        let data = j.get("data").unwrap_or(&j);
                        let same = data.get("signal_id").and_then(Value::as_str) == Some(id.as_str())
                            && data.get("version").and_then(Value::as_u64) == Some(u64::from(*version));
                        prop_assert!(!(same && data.get("value").is_some()), "{} v{} erased but in a message: {}", id, version, p);
                    }
                }
            }
        }
    }
}
