//! The origin ledger natively, over SQLite: the lifecycle of signals and
//! consents, idempotency (duplicate and concurrent submits), tenant
//! boundaries, crashes between writes, tampering, bad input, and bundles that
//! the gate verifies and evaluates.

use serde_json::{json, Value};
use signalgate::bundle::{KeySet, Signer, SigningKey};
use signalgate::eval::{Context, Gate, Tier};
use signalgate::ledger::entropy::SeededEntropy;
use signalgate::ledger::{
    projection, replay_state, values, ActorType, Caller, DataKeys, Issuer, Ledger, LedgerError, Reply, SqliteStore,
    Statement, Store, StoreError, SubjectState, Value as Sql,
};
use signalgate::model::Policy;
use signalgate::{Span, UnixTime};

use crate::fixtures::scratch;

pub const T0: i64 = 1_800_000_000;
pub const DAY: i64 = 86_400;
pub const TENANT: &str = "demo-shop";
const POLICY: &str = include_str!("../../www/policy.json");

pub fn policy() -> Policy {
    Policy::from_json(POLICY).unwrap()
}

pub fn signer() -> Signer {
    Signer::new(SigningKey::from_seed(&[21; 32], Some("origin-1")))
}

/// The tests' data keyring (fixed keys).
pub fn keys() -> &'static DataKeys {
    static KEYS: std::sync::OnceLock<DataKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| DataKeys::from_json(&DataKeys::generate("k1", &mut SeededEntropy::new(99)).unwrap()).unwrap())
}

/// A seeded random stream of its own (bundle ids stay unique across the
/// ledgers a test opens on one store), kept for the whole test run.
pub fn entropy() -> &'static mut SeededEntropy {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    Box::leak(Box::new(SeededEntropy::new(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))))
}

/// A ledger over `store` with the tests' keys.
pub fn open_ledger<'a, S: Store>(store: &'a mut S, issuer: &'a Issuer<'a>) -> Ledger<'a, S> {
    Ledger::new(store, issuer, keys(), entropy())
}

pub fn issuer<'a>(policy: &'a Policy, signer: &'a Signer) -> Issuer<'a> {
    Issuer {
        policy,
        signer,
        issuer: "https://origin.demo-shop.example".into(),
        audience: "signalgate".into(),
        scope: "web".into(),
        bundle_ttl: Span::days(1),
    }
}

pub fn service() -> Caller {
    Caller { actor: ActorType::Service, actor_id: "key-1".into() }
}

pub fn capture(class: &str, value: &str, consent: &str, purposes: &[&str]) -> Vec<u8> {
    json!({
        "signal_type": class, "value": value, "purposes": purposes, "consent_reference": consent,
        "source_context": {"channel": "web", "ui": "preference-centre", "page": "/account"}
    })
    .to_string()
    .into_bytes()
}

fn events(store: &mut SqliteStore, subject: &str) -> usize {
    projection::load_events(store, TENANT, subject).unwrap().len()
}

/// The gate's decision on a reply's bundle.
fn gate_decision(reply: &Reply, purposes: &[&str], now: i64) -> signalgate::eval::Decision {
    let keys = KeySet::new(vec![signer().key().public_key()]).unwrap();
    let mut gate = Gate::new(policy(), keys, "signalgate");
    let ctx = Context {
        now: UnixTime(now),
        purposes: purposes.iter().map(|p| p.to_string()).collect(),
        channel: "web".into(),
        tenant: TENANT.into(),
        scope: "web".into(),
        gpc: false,
    };
    gate.decide(reply.bundle_token(), &ctx)
}

#[test]
fn submit_update_reconfirm_expire_and_every_bundle_verifies_in_the_gate() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut ledger = open_ledger(&mut store, &issuer);

    let first = ledger
        .submit(TENANT, "u-1", &service(), &capture("language", "de", "c-1", &["personalization"]), None, UnixTime(T0))
        .unwrap();
    assert_eq!(first.status, 201);
    assert_eq!(first.body["signal"]["version"], 1);
    let d = gate_decision(&first, &["personalization"], T0 + 10);
    assert_eq!(
        (d.tier, d.segments.as_slice()),
        (Tier::Curated, &["sgt_9b2a47d1c8".to_string()][..]),
        "german-speakers"
    );

    // An update of a single-valued class is a new version retiring the old one.
    let second = ledger
        .submit(
            TENANT,
            "u-1",
            &service(),
            &capture("language", "French", "c-1", &["personalization"]),
            None,
            UnixTime(T0 + 60),
        )
        .unwrap();
    assert_eq!(
        (second.body["signal"]["version"].clone(), second.body["signal"]["value"].clone()),
        (json!(2), json!("fr"))
    );
    assert_eq!(second.body["signal"]["signal_id"], first.body["signal"]["signal_id"]);
    let d = gate_decision(&second, &["personalization"], T0 + 70);
    assert_eq!(d.tier, Tier::Contextual, "no segment for French speakers: {d:?}");
    let listed = ledger.list(TENANT, "u-1", UnixTime(T0 + 70)).unwrap();
    assert_eq!(listed.body["signals"].as_array().unwrap().len(), 1);

    // A bundle's `prv` is the hash prefix of the event that created that version.
    let prv = second.body["signal"]["provenance_hash"].as_str().unwrap().to_string();
    let claims = signalgate::bundle::UnverifiedBundle::parse(second.bundle_token().unwrap()).unwrap();
    assert_eq!(claims.claims_unverified().signals[0].provenance, prv);

    // Reconfirming restarts the signal's life.
    let id = second.body["signal"]["signal_id"].as_str().unwrap().to_string();
    let re = ledger.reconfirm(TENANT, "u-1", &service(), &id, b"", None, UnixTime(T0 + 300 * DAY)).unwrap();
    assert_eq!(re.body["signal"]["reconfirmed_at"], T0 + 300 * DAY);
    assert_eq!(re.body["signal"]["expires_at"], T0 + 665 * DAY);

    // Expiry: nothing expires early; at its time the signal expires and leaves the bundles.
    assert_eq!(ledger.expire_due(TENANT, "u-1", UnixTime(T0 + 600 * DAY)).unwrap(), 0);
    assert_eq!(ledger.next_expiry(TENANT, "u-1").unwrap(), Some(UnixTime(T0 + 665 * DAY)));
    assert_eq!(ledger.expire_due(TENANT, "u-1", UnixTime(T0 + 665 * DAY)).unwrap(), 1);
    let after = ledger.issue_bundle(TENANT, "u-1", &service(), UnixTime(T0 + 666 * DAY)).unwrap();
    assert_eq!(after.body["bundle"]["signals"], 0);
    assert_eq!(ledger.list(TENANT, "u-1", UnixTime(T0 + 666 * DAY)).unwrap().body["signals"], json!([]));
    assert!(matches!(
        ledger.reconfirm(TENANT, "u-1", &service(), &id, b"", None, UnixTime(T0 + 667 * DAY)),
        Err(LedgerError::UnknownSignal { .. })
    ));

    let v = ledger.verify(TENANT, "u-1").unwrap();
    assert_eq!((v.chain.clone(), v.projection_matches), (Ok(()), true), "{v:?}");
}

#[test]
fn a_late_arriving_update_is_recorded_but_never_replaces_a_newer_choice() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut ledger = open_ledger(&mut store, &issuer);
    // Chosen at T0 + 300 (online): fr. Chosen earlier, at T0 + 100, offline: de, delivered at T0 + 600.
    ledger
        .submit(
            TENANT,
            "u-1",
            &service(),
            &capture("language", "fr", "c-1", &["personalization"]),
            None,
            UnixTime(T0 + 300),
        )
        .unwrap();
    let mut late = serde_json::from_slice::<Value>(&capture("language", "de", "c-1", &["personalization"])).unwrap();
    late["captured_at"] = json!(T0 + 100);
    let reply = ledger
        .submit(TENANT, "u-1", &service(), late.to_string().as_bytes(), Some("late-1"), UnixTime(T0 + 600))
        .unwrap();
    assert_eq!(reply.body["signal"]["value"], "fr", "the newer choice stays current");
    assert_eq!(reply.body["late"]["version"], 2);
    let listed = ledger.list(TENANT, "u-1", UnixTime(T0 + 600)).unwrap();
    assert_eq!(listed.body["signals"][0]["value"], "fr");
    // Both versions are in the history; replay rebuilds the same state.
    let v = ledger.verify(TENANT, "u-1").unwrap();
    assert!(v.chain.is_ok() && v.projection_matches, "{v:?}");
    // A choice delivered more than 30 days late is refused, naming the field.
    late["captured_at"] = json!(T0 - 40 * DAY);
    let e =
        ledger.submit(TENANT, "u-1", &service(), late.to_string().as_bytes(), None, UnixTime(T0 + 600)).unwrap_err();
    assert_eq!(e.field(), Some("captured_at"));
}

#[test]
fn revoking_consent_withholds_its_signals_and_lists_the_bundles_to_revoke() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut ledger = open_ledger(&mut store, &issuer);
    let a = ledger
        .submit(
            TENANT,
            "u-1",
            &service(),
            &capture("interest", "hiking", "c-ads", &["personalization", "targeted_advertising"]),
            None,
            UnixTime(T0),
        )
        .unwrap();
    let b = ledger
        .submit(
            TENANT,
            "u-1",
            &service(),
            &capture("language", "de", "c-lang", &["personalization"]),
            None,
            UnixTime(T0 + 1),
        )
        .unwrap();
    let revoked = ledger
        .revoke_consent(
            TENANT,
            "u-1",
            &service(),
            "c-ads",
            br#"{"justification":"user_request"}"#,
            None,
            UnixTime(T0 + 2),
        )
        .unwrap();
    let ids: Vec<String> = revoked.revoked_bundles().into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 2, "both bundles carried c-ads: {ids:?}");
    assert!(ids.contains(&a.body["bundle"]["bundle_id"].as_str().unwrap().to_string()));
    assert!(ids.contains(&b.body["bundle"]["bundle_id"].as_str().unwrap().to_string()));
    // The revoking caller already gets a bundle without it.
    let claims = signalgate::bundle::UnverifiedBundle::parse(revoked.bundle_token().unwrap()).unwrap();
    let carried: Vec<&str> = claims.claims_unverified().signals.iter().map(|s| s.class.as_str()).collect();
    assert_eq!(carried, ["language"]);
    assert!(!claims.claims_unverified().consents.contains_key("c-ads"));
    let d = gate_decision(&revoked, &["personalization"], T0 + 3);
    assert_eq!(d.segments, ["sgt_9b2a47d1c8"]);
    // A revoked reference cannot be reused: re-consent needs a new one.
    let again = ledger.submit(
        TENANT,
        "u-1",
        &service(),
        &capture("interest", "yoga", "c-ads", &["personalization", "targeted_advertising"]),
        None,
        UnixTime(T0 + 4),
    );
    assert_eq!(again.unwrap_err().code(), "consent_mismatch");
    // Nor with other purposes under a live reference.
    let other = ledger.submit(
        TENANT,
        "u-1",
        &service(),
        &capture("interest", "yoga", "c-lang", &["marketing_email"]),
        None,
        UnixTime(T0 + 5),
    );
    assert_eq!(other.unwrap_err().field(), Some("consent_reference"));
    let listed = ledger.list(TENANT, "u-1", UnixTime(T0 + 6)).unwrap();
    assert_eq!(listed.body["signals"].as_array().unwrap().len(), 1);
    assert!(ledger.verify(TENANT, "u-1").unwrap().projection_matches);
}

#[test]
fn tenants_and_subjects_never_see_each_other() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut ledger = open_ledger(&mut store, &issuer);
    ledger
        .submit(
            "tenant-a",
            "u-1",
            &service(),
            &capture("language", "de", "c-1", &["personalization"]),
            None,
            UnixTime(T0),
        )
        .unwrap();
    ledger
        .submit(
            "tenant-b",
            "u-1",
            &service(),
            &capture("language", "fr", "c-1", &["personalization"]),
            None,
            UnixTime(T0),
        )
        .unwrap();
    let a = ledger.list("tenant-a", "u-1", UnixTime(T0)).unwrap();
    let b = ledger.list("tenant-b", "u-1", UnixTime(T0)).unwrap();
    assert_eq!(a.body["signals"][0]["value"], "de");
    assert_eq!(b.body["signals"][0]["value"], "fr");
    assert_eq!(ledger.list("tenant-a", "u-2", UnixTime(T0)).unwrap().body["signals"], json!([]));
    // A body naming another subject is refused.
    let mut body = serde_json::from_slice::<Value>(&capture("language", "de", "c-1", &["personalization"])).unwrap();
    body["subject_id"] = json!("u-2");
    assert_eq!(
        ledger
            .submit("tenant-a", "u-1", &service(), body.to_string().as_bytes(), None, UnixTime(T0))
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(ledger.subjects("tenant-a").unwrap(), ["u-1"]);
}

#[test]
fn an_idempotency_key_gives_the_first_reply_again_and_refuses_another_body() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut ledger = open_ledger(&mut store, &issuer);
    let body = capture("interest", "hiking", "c-1", &["personalization"]);
    let first = ledger.submit(TENANT, "u-1", &service(), &body, Some("k-1"), UnixTime(T0)).unwrap();
    let again = ledger.submit(TENANT, "u-1", &service(), &body, Some("k-1"), UnixTime(T0 + 5)).unwrap();
    assert_eq!(first, again, "the same reply, bundle included");
    let other = ledger.submit(
        TENANT,
        "u-1",
        &service(),
        &capture("interest", "yoga", "c-1", &["personalization"]),
        Some("k-1"),
        UnixTime(T0 + 6),
    );
    assert_eq!(other.unwrap_err(), LedgerError::IdempotencyMismatch);
    // A refusal is an answer too: the same bad request gets it again.
    let bad = capture("interest", "underwater basket weaving", "c-1", &["personalization"]);
    let refused = ledger.submit(TENANT, "u-1", &service(), &bad, Some("k-2"), UnixTime(T0 + 7)).unwrap_err();
    assert_eq!(refused.code(), "value_not_in_vocabulary");
    let replayed = ledger.submit(TENANT, "u-1", &service(), &bad, Some("k-2"), UnixTime(T0 + 8)).unwrap();
    assert_eq!((replayed.status, replayed.body["code"].as_str()), (422, Some("value_not_in_vocabulary")));
    assert_eq!(events(&mut store, "u-1"), 3, "one consent, one signal, one bundle");
}

#[test]
fn concurrent_submits_with_one_key_make_one_version() {
    let dir = scratch("ledger-concurrent");
    let path = dir.join("ledger.db");
    SqliteStore::open(&path).unwrap();
    let body = capture("interest", "climbing", "c-1", &["personalization"]);
    let replies: Vec<Result<Reply, LedgerError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (path, body) = (path.clone(), body.clone());
                s.spawn(move || {
                    let (policy, signer) = (policy(), signer());
                    let issuer = issuer(&policy, &signer);
                    let mut store = SqliteStore::open(&path).unwrap();
                    open_ledger(&mut store, &issuer).submit(
                        TENANT,
                        "u-1",
                        &service(),
                        &body,
                        Some("same-key"),
                        UnixTime(T0),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok: Vec<&Reply> = replies.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert!(!ok.is_empty(), "{replies:?}");
    assert!(ok.windows(2).all(|w| w[0] == w[1]), "every success is the same reply");
    for r in &replies {
        if let Err(e) = r {
            assert_eq!(e.status(), 409, "only in-flight conflicts may fail: {e:?}");
        }
    }
    let mut store = SqliteStore::open(&path).unwrap();
    let versions = store
        .query("SELECT COUNT(*) FROM signals WHERE tenant_id = ? AND subject_id = ?", &[TENANT.into(), "u-1".into()])
        .unwrap();
    assert_eq!(versions[0][0], Sql::Int(1), "one version");
    assert_eq!(events(&mut store, "u-1"), 3);
}

/// A store that crashes after `after` statements of the next batch: the
/// statements ran inside a transaction that is then abandoned, as a process
/// dying mid-write would leave it.
struct Crashing {
    inner: SqliteStore,
    after: usize,
    armed: bool,
}

impl Store for Crashing {
    fn query(&mut self, sql: &str, params: &[Sql]) -> Result<Vec<Vec<Sql>>, StoreError> {
        self.inner.query(sql, params)
    }

    fn apply(&mut self, batch: &[Statement]) -> Result<(), StoreError> {
        if !self.armed {
            return self.inner.apply(batch);
        }
        self.armed = false;
        let tx = self.inner.connection().transaction().unwrap();
        for s in batch.iter().take(self.after) {
            let params: Vec<&dyn rusqlite_params::ToSql> =
                s.params.iter().map(|p| p as &dyn rusqlite_params::ToSql).collect();
            tx.execute(s.sql, params.as_slice()).unwrap();
        }
        drop(tx); // never committed: rolled back
        Err(StoreError::Database("crash between writes".into()))
    }
}

mod rusqlite_params {
    pub use rusqlite::ToSql;
}

#[test]
fn a_crash_between_writes_leaves_no_partial_event_and_no_projection_drift() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = Crashing { inner: SqliteStore::in_memory().unwrap(), after: 0, armed: false };
    open_ledger(&mut store, &issuer)
        .submit(TENANT, "u-1", &service(), &capture("language", "de", "c-1", &["personalization"]), None, UnixTime(T0))
        .unwrap();
    let before = projection::snapshot(&mut store, TENANT, "u-1").unwrap();
    let events_before = projection::load_events(&mut store, TENANT, "u-1").unwrap().len();
    // Crash after the event rows but before the projection (and at other points).
    for after in [1, 2, 3, 5] {
        store.after = after;
        store.armed = true;
        let body = capture("interest", "cycling", "c-2", &["personalization"]);
        let e = open_ledger(&mut store, &issuer)
            .submit(TENANT, "u-1", &service(), &body, Some("k-crash"), UnixTime(T0 + 10))
            .unwrap_err();
        assert_eq!(e.code(), "storage");
        assert_eq!(
            projection::load_events(&mut store, TENANT, "u-1").unwrap().len(),
            events_before,
            "no partial event"
        );
        assert_eq!(projection::snapshot(&mut store, TENANT, "u-1").unwrap(), before, "no projection drift");
    }
    // The same request, retried, goes through once.
    let body = capture("interest", "cycling", "c-2", &["personalization"]);
    let ok = open_ledger(&mut store, &issuer)
        .submit(TENANT, "u-1", &service(), &body, Some("k-crash"), UnixTime(T0 + 20))
        .unwrap();
    assert_eq!(ok.status, 201);
    let v = open_ledger(&mut store, &issuer).verify(TENANT, "u-1").unwrap();
    assert!(v.chain.is_ok() && v.projection_matches, "{v:?}");
}

#[test]
fn tampering_with_the_audit_chain_is_found_with_the_index_of_the_first_bad_event() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut ledger = open_ledger(&mut store, &issuer);
    for (i, value) in ["hiking", "yoga", "cycling"].iter().enumerate() {
        ledger
            .submit(
                TENANT,
                "u-1",
                &service(),
                &capture("interest", value, "c-1", &["personalization"]),
                None,
                UnixTime(T0 + i as i64),
            )
            .unwrap();
    }
    assert!(ledger.verify(TENANT, "u-1").unwrap().chain.is_ok());
    // Rewrite what event 4 (the second signal_captured) says was captured.
    store
        .connection()
        .execute(
            "UPDATE events SET payload = replace(payload, '\"interest\"', '\"language\"') WHERE tenant_id = ?1 AND seq = 4",
            [TENANT],
        )
        .unwrap();
    let v = open_ledger(&mut store, &issuer).verify(TENANT, "u-1").unwrap();
    let broken = v.chain.unwrap_err();
    assert_eq!((broken.index, broken.seq), (3, 4), "{broken:?}");
    // Deleting an event is found where the gap is.
    store.connection().execute("DELETE FROM events WHERE tenant_id = ?1 AND seq = 2", [TENANT]).unwrap();
    let v = open_ledger(&mut store, &issuer).verify(TENANT, "u-1").unwrap();
    assert_eq!(v.chain.unwrap_err().index, 1);
}

#[test]
fn tampering_with_a_stored_value_or_ciphertext_is_found_naming_the_signal() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut ledger = open_ledger(&mut store, &issuer);
    let hiking = ledger
        .submit(
            TENANT,
            "u-1",
            &service(),
            &capture("interest", "hiking", "c-1", &["personalization"]),
            None,
            UnixTime(T0),
        )
        .unwrap();
    let health = ledger
        .submit(
            TENANT,
            "u-1",
            &service(),
            &capture("health_goal", "injury-recovery", "c-2", &["personalization"]),
            None,
            UnixTime(T0 + 1),
        )
        .unwrap();
    let (hiking_id, health_id) =
        (hiking.body["signal"]["signal_id"].as_str().unwrap(), health.body["signal"]["signal_id"].as_str().unwrap());
    let stored = |store: &mut SqliteStore, id: &str| -> String {
        store
            .connection()
            .query_row("SELECT value FROM signal_values WHERE signal_id = ?1", [id], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(stored(&mut store, hiking_id), "hiking", "a low-sensitivity value is stored as it is");
    let sealed = stored(&mut store, health_id);
    assert!(
        sealed.starts_with("v1.k1.") && !sealed.contains("injury"),
        "a special-category value is encrypted: {sealed}"
    );
    assert!(SubjectState::load(&mut store, keys(), TENANT, "u-1").is_ok());

    // A plaintext changed in place no longer matches the digest in its event.
    store.connection().execute("UPDATE signal_values SET value = 'yoga' WHERE signal_id = ?1", [hiking_id]).unwrap();
    let e = SubjectState::load(&mut store, keys(), TENANT, "u-1").unwrap_err();
    assert_eq!(e.code(), "integrity");
    assert!(e.to_string().contains(hiking_id), "{e}");
    store.connection().execute("UPDATE signal_values SET value = 'hiking' WHERE signal_id = ?1", [hiking_id]).unwrap();

    // One changed character of the ciphertext fails authentication. The
    // character is inside the text: the last one may carry padding bits, and
    // a non-canonical ending is refused before decryption.
    let at = sealed.len() - 4;
    let was = sealed.as_bytes()[at];
    let flipped = format!("{}{}{}", &sealed[..at], if was == b'A' { 'B' } else { 'A' }, &sealed[at + 1..]);
    store
        .connection()
        .execute("UPDATE signal_values SET value = ?2 WHERE signal_id = ?1", [health_id, flipped.as_str()])
        .unwrap();
    let e = SubjectState::load(&mut store, keys(), TENANT, "u-1").unwrap_err();
    assert_eq!(e.code(), "integrity");
    assert!(e.to_string().contains(health_id) && e.to_string().contains("authentication"), "{e}");
    let e = open_ledger(&mut store, &issuer)
        .submit(
            TENANT,
            "u-1",
            &service(),
            &capture("language", "de", "c-1", &["personalization"]),
            None,
            UnixTime(T0 + 2),
        )
        .unwrap_err();
    assert_eq!(e.code(), "integrity", "no write goes ahead on a subject whose values fail their checks");
}

#[test]
fn bad_input_gets_a_problem_naming_the_field_and_stores_nothing() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut ledger = open_ledger(&mut store, &issuer);
    let good: Value = serde_json::from_slice(&capture("language", "de", "c-1", &["personalization"])).unwrap();
    let without = |field: &str| {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(field);
        v.to_string().into_bytes()
    };
    let with = |field: &str, value: Value| {
        let mut v = good.clone();
        v[field] = value;
        v.to_string().into_bytes()
    };
    let cases: Vec<(&str, Vec<u8>, &str, Option<&str>)> = vec![
        ("malformed JSON", b"{\"signal_type\": ".to_vec(), "malformed_body", None),
        ("unknown class", with("signal_type", json!("shoe_size")), "unknown_class", Some("signal_type")),
        (
            "free text",
            with("value", json!("I speak a bit of everything, really")),
            "value_not_in_vocabulary",
            Some("value"),
        ),
        ("oversized body", with("value", json!("x".repeat(20_000))), "body_too_large", None),
        ("missing consent reference", without("consent_reference"), "missing_field", Some("consent_reference")),
        ("missing source context", without("source_context"), "missing_field", Some("source_context")),
        ("missing purpose", without("purposes"), "missing_field", Some("purpose")),
        (
            "purpose not allowed for the class",
            with("purposes", json!(["targeted_advertising"])),
            "purpose_not_allowed",
            Some("purpose"),
        ),
        (
            "not an identifier",
            with("consent_reference", json!("my consent")),
            "invalid_field",
            Some("consent_reference"),
        ),
        ("unknown member", with("nickname", json!("x")), "malformed_body", None),
    ];
    for (name, body, code, field) in cases {
        let e = ledger.submit(TENANT, "u-1", &service(), &body, None, UnixTime(T0)).unwrap_err();
        assert_eq!((e.code(), e.field()), (code, field), "{name}: {e}");
        assert!(e.status() >= 400 && e.status() < 500, "{name}");
        let problem = e.problem();
        assert_eq!(problem.kind, format!("urn:signalgate:problem:{code}"));
        assert!(!problem.detail.contains("everything, really"), "free text is never echoed");
    }
    assert_eq!(events(&mut store, "u-1"), 0, "nothing stored");
}

#[test]
fn a_bundle_always_fits_one_cookie() {
    // A class with 120 values: far more signals than one cookie holds.
    let mut doc: Value = serde_json::from_str(POLICY).unwrap();
    let values: Vec<String> = (0..120).map(|i| format!("topic-{i:03}")).collect();
    doc["classes"]["topic"] =
        json!({"values": values, "ttl": "180d", "purposes": ["personalization"], "channels": ["web"]});
    let policy = Policy::from_json(&doc.to_string()).unwrap();
    let signer = signer();
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut ledger = open_ledger(&mut store, &issuer);
    let mut last = None;
    for (i, v) in values.iter().enumerate().take(60) {
        last = Some(
            ledger
                .submit(
                    TENANT,
                    "u-1",
                    &service(),
                    &capture("topic", v, "c-1", &["personalization"]),
                    None,
                    UnixTime(T0 + i as i64),
                )
                .unwrap(),
        );
    }
    let last = last.unwrap();
    let bundle = &last.body["bundle"];
    let carried = bundle["signals"].as_u64().unwrap();
    assert!(bundle["omitted"].as_u64().unwrap() > 0 && carried > 10, "{bundle}");
    assert!(last.bundle_token().unwrap().len() <= signalgate::ledger::MAX_COOKIE_TOKEN);
    assert_eq!(carried + bundle["omitted"].as_u64().unwrap(), 60);
    // The newest choices are the ones kept.
    let claims = signalgate::bundle::UnverifiedBundle::parse(last.bundle_token().unwrap()).unwrap();
    assert!(claims.claims_unverified().signals.iter().any(|s| s.value == "topic-059"));
    assert!(!claims.claims_unverified().signals.iter().any(|s| s.value == "topic-000"));
}

#[test]
fn the_in_memory_state_after_an_operation_is_what_the_store_holds() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut ledger = open_ledger(&mut store, &issuer);
    ledger
        .submit(
            TENANT,
            "u-1",
            &service(),
            &capture("interest", "hiking", "c-1", &["personalization"]),
            None,
            UnixTime(T0),
        )
        .unwrap();
    ledger
        .submit(
            TENANT,
            "u-1",
            &service(),
            &capture("language", "de", "c-2", &["personalization"]),
            None,
            UnixTime(T0 + 5),
        )
        .unwrap();
    ledger.revoke_consent(TENANT, "u-1", &service(), "c-1", b"", None, UnixTime(T0 + 9)).unwrap();
    let stored = SubjectState::load_with_bundles(&mut store, keys(), TENANT, "u-1", UnixTime(T0 + 10)).unwrap();
    let stored_values = values::load(&mut store, keys(), TENANT, "u-1").unwrap();
    let replayed =
        replay_state(&projection::load_events(&mut store, TENANT, "u-1").unwrap(), &stored_values, UnixTime(T0 + 10));
    assert_eq!(stored, replayed);
}

#[test]
fn the_revocation_feed_pages_skips_expired_entries_and_answers_its_head() {
    let mut store = SqliteStore::in_memory().unwrap();
    let mut dir = signalgate::ledger::Directory::new(&mut store);
    let now = UnixTime(T0);
    let bundles: Vec<(String, i64)> = (0..5).map(|i| (format!("b-{i}"), T0 + if i == 1 { 10 } else { DAY })).collect();
    assert_eq!(dir.revoke_bundles(TENANT, &bundles, now).unwrap(), 5);
    assert_eq!(dir.revoke_bundles(TENANT, &bundles[..2], now).unwrap(), 5, "each bundle enters once");
    let later = UnixTime(T0 + 60);
    let all = dir.feed(TENANT, 0, later).unwrap();
    assert_eq!(all["seq"], 5);
    let ids: Vec<&str> = all["bundles"].as_array().unwrap().iter().map(|b| b["bundle_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["b-0", "b-2", "b-3", "b-4"], "b-1 has expired");
    assert_eq!(dir.feed(TENANT, 3, later).unwrap()["bundles"].as_array().unwrap().len(), 2);
    let caught_up = dir.feed(TENANT, 5, later).unwrap();
    assert_eq!((caught_up["seq"].as_i64(), caught_up["bundles"].as_array().unwrap().len()), (Some(5), 0));
    let ahead = dir.feed(TENANT, 99, later).unwrap();
    assert_eq!(ahead["seq"], 5, "a reader past the head is brought back to it");
    assert_eq!(dir.feed("other-shop", 0, later).unwrap()["seq"], 0, "tenants have separate feeds");
    // Every entry expires and is pruned; the numbering still goes on.
    let much_later = UnixTime(T0 + 2 * DAY);
    let dup = vec![("b-9".to_string(), T0 + 3 * DAY), ("b-9".to_string(), T0 + 3 * DAY)];
    assert_eq!(
        dir.revoke_bundles(TENANT, &dup, much_later).unwrap(),
        6,
        "after pruning, and a duplicate within one call counts once"
    );
    let after = dir.feed(TENANT, 5, much_later).unwrap();
    assert_eq!((after["seq"].as_i64(), after["bundles"].as_array().unwrap().len()), (Some(6), 1));
    assert_eq!(dir.feed(TENANT, 6, much_later).unwrap()["seq"], 6, "the head survives pruning");
}

#[test]
fn a_store_of_an_earlier_incompatible_schema_is_refused_with_a_clear_message() {
    let dir = scratch("old-schema");
    let path = dir.join("ledger.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE signals (tenant_id TEXT, subject_id TEXT, signal_id TEXT, version INTEGER, signal_value TEXT);",
    )
    .unwrap();
    drop(conn);
    let Err(e) = SqliteStore::open(&path) else { panic!("refused") };
    assert!(e.to_string().contains("earlier signalgate with an incompatible schema"), "{e}");
    assert!(SqliteStore::open(&dir.join("fresh.db")).is_ok());
}
