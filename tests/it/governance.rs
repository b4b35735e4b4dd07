//! Governance natively, over SQLite: merges (repeated, conflicting, below
//! the threshold then approved, split back), deletion and erasure with the
//! proof of suppression in the evidence pack, retention ends, revoke then
//! retain, locks, raw intake, role-scoped listing, webhooks through a
//! target that is down then back, and metrics.

use serde_json::Value;
use signalgate::bundle::{KeySet, UnverifiedBundle};
use signalgate::ledger::evidence::{self, Window};
use signalgate::ledger::{ActorType, Caller, Issuer, Local, Outgoing, SqliteStore, SubjectState, SubjectStatus};
use signalgate::{Span, UnixTime};

use crate::ledger::{capture, entropy, issuer, keys, policy, service, signer, DAY, T0, TENANT};

fn local<'a>(store: &'a mut SqliteStore, issuer: &'a Issuer<'a>) -> Local<'a, SqliteStore> {
    Local::new(store, issuer, keys(), entropy())
}

fn operator() -> Caller {
    Caller { actor: ActorType::Operator, actor_id: "dpo".into() }
}

fn submit(
    l: &mut Local<'_, SqliteStore>,
    subject: &str,
    class: &str,
    value: &str,
    consent: &str,
    purposes: &[&str],
    t: i64,
) -> Value {
    let r = l
        .ledger()
        .submit(TENANT, subject, &service(), &capture(class, value, consent, purposes), None, UnixTime(t))
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

fn submit_on(
    l: &mut Local<'_, SqliteStore>,
    subject: &str,
    class: &str,
    value: &str,
    consent: &str,
    channel: &str,
    t: i64,
) -> Value {
    let body = serde_json::json!({
        "signal_type": class, "value": value, "purposes": ["personalization"], "consent_reference": consent,
        "source_context": {"channel": channel}
    });
    let r = l.ledger().submit(TENANT, subject, &service(), body.to_string().as_bytes(), None, UnixTime(t)).unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

fn values_of(l: &mut Local<'_, SqliteStore>, subject: &str, t: i64) -> Vec<(String, String)> {
    let r = l.ledger().list(TENANT, subject, UnixTime(t)).unwrap();
    let mut v: Vec<(String, String)> = r.body["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["signal_type"].as_str().unwrap().to_string(), s["value"].as_str().unwrap().to_string()))
        .collect();
    v.sort();
    v
}

fn ev(kinds: &[&str]) -> Vec<String> {
    kinds.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_merge_moves_the_signals_and_repeating_it_changes_nothing() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    submit(&mut l, "anon-1", "interest", "hiking", "c-a", &["personalization"], T0);
    submit(&mut l, "anon-1", "language", "de", "c-a", &["personalization"], T0 + 1);
    submit(&mut l, "user-1", "interest", "yoga", "c-u", &["personalization"], T0 + 2);
    let r = l.request_merge(TENANT, "anon-1", "user-1", &ev(&["login"]), &service(), UnixTime(T0 + 10)).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["merge"]["state"], "merged", "{}", r.body);
    assert_eq!(
        values_of(&mut l, "user-1", T0 + 20),
        [("interest".into(), "hiking".into()), ("interest".into(), "yoga".into()), ("language".into(), "de".into())]
    );
    let e = l
        .ledger()
        .submit(
            TENANT,
            "anon-1",
            &service(),
            &capture("interest", "camping", "c-a", &["personalization"]),
            None,
            UnixTime(T0 + 21),
        )
        .unwrap_err();
    assert_eq!(e.code(), "subject_merged");
    assert_eq!(e.problem().merged_into.as_deref(), Some("user-1"), "a write to the merged subject says where to go");
    // The same request again is the same merge: nothing more happens.
    let events_before = events(&mut l, "user-1");
    let again = l.request_merge(TENANT, "anon-1", "user-1", &ev(&["login"]), &service(), UnixTime(T0 + 30)).unwrap();
    assert_eq!(again.body["merge"]["merge_id"], r.body["merge"]["merge_id"]);
    assert_eq!(events(&mut l, "user-1"), events_before, "a repeated merge writes nothing new");
    // A merge of the same source elsewhere conflicts; so does a merge into the merged-away subject.
    assert_eq!(
        l.request_merge(TENANT, "anon-1", "user-2", &ev(&["login"]), &service(), UnixTime(T0 + 31)).unwrap_err().code(),
        "merge_conflict"
    );
    assert_eq!(
        l.request_merge(TENANT, "x-3", "anon-1", &ev(&["login"]), &service(), UnixTime(T0 + 32)).unwrap_err().code(),
        "merge_conflict"
    );
    // The merges are in both chains, which still verify.
    for s in ["anon-1", "user-1"] {
        assert!(l.ledger().verify(TENANT, s).unwrap().chain.is_ok());
        assert!(l.ledger().verify(TENANT, s).unwrap().projection_matches);
    }
}

fn events(l: &mut Local<'_, SqliteStore>, subject: &str) -> usize {
    l.ledger().verify(TENANT, subject).unwrap().events
}

#[test]
fn conflicting_records_are_settled_by_the_policy_rules_deterministically() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let run = || {
        let mut store = SqliteStore::in_memory().unwrap();
        let mut l = local(&mut store, &issuer);
        // language is one-valued: "de" on sms (more specific) at the source, "fr" on web later at the target.
        submit_on(&mut l, "anon-2", "language", "de", "c-a", "sms", T0);
        submit_on(&mut l, "user-2", "language", "fr", "c-u", "web", T0 + 100);
        // contact_channel is many-valued: email and sms are two signals, never a contradiction.
        submit_on(&mut l, "anon-2", "contact_channel", "sms", "c-a", "sms", T0 + 101);
        submit_on(&mut l, "user-2", "contact_channel", "email", "c-u", "email", T0 + 102);
        let r = l.request_merge(TENANT, "anon-2", "user-2", &ev(&["login"]), &service(), UnixTime(T0 + 200)).unwrap();
        assert_eq!(r.body["merge"]["state"], "merged");
        values_of(&mut l, "user-2", T0 + 300)
    };
    let first = run();
    assert_eq!(
        first,
        [
            ("contact_channel".into(), "email".into()),
            ("contact_channel".into(), "sms".into()),
            ("language".into(), "de".into()),
        ],
        "channel_specificity (sms before web) outranks recency"
    );
    assert_eq!(run(), first, "the same merge gives the same result");
}

#[test]
fn a_merge_below_the_threshold_waits_for_review_then_is_approved_or_rejected() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    submit(&mut l, "anon-3", "interest", "climbing", "c-a", &["personalization"], T0);
    submit(&mut l, "user-3", "interest", "yoga", "c-u", &["personalization"], T0);
    let r = l.request_merge(TENANT, "anon-3", "user-3", &ev(&["device"]), &service(), UnixTime(T0 + 5)).unwrap();
    assert_eq!((r.status, r.body["merge"]["state"].as_str()), (202, Some("review")), "{}", r.body);
    let merge_id = r.body["merge"]["merge_id"].as_str().unwrap().to_string();
    assert_eq!(values_of(&mut l, "user-3", T0 + 6).len(), 1, "nothing moves while it waits");
    let queue = l.directory().merges(TENANT, Some("review")).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].merge_id, merge_id);
    let approved =
        l.decide_merge(TENANT, &merge_id, true, Some("same_person"), &operator(), UnixTime(T0 + 60)).unwrap();
    assert_eq!(approved.body["merge"]["state"], "merged", "{}", approved.body);
    assert_eq!(approved.body["merge"]["decided_by"], "dpo");
    assert_eq!(values_of(&mut l, "user-3", T0 + 61).len(), 2);
    // A second weak request for other subjects, rejected, stays rejected.
    let r = l.request_merge(TENANT, "anon-4", "user-4", &ev(&["device"]), &service(), UnixTime(T0 + 70)).unwrap();
    let id = r.body["merge"]["merge_id"].as_str().unwrap().to_string();
    let rejected =
        l.decide_merge(TENANT, &id, false, Some("different_people"), &operator(), UnixTime(T0 + 71)).unwrap();
    assert_eq!(rejected.body["merge"]["state"], "rejected");
    assert_eq!(
        l.decide_merge(TENANT, &id, true, None, &operator(), UnixTime(T0 + 72)).unwrap_err().code(),
        "merge_conflict"
    );
    let again = l.request_merge(TENANT, "anon-4", "user-4", &ev(&["device"]), &service(), UnixTime(T0 + 73)).unwrap();
    assert_eq!(again.body["merge"]["state"], "rejected");
}

#[test]
fn a_split_gives_each_side_back_its_signals_and_consents() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    submit(&mut l, "anon-5", "language", "de", "c-a", &["personalization"], T0);
    submit(&mut l, "anon-5", "interest", "hiking", "c-a2", &["personalization", "marketing_email"], T0 + 1);
    submit(&mut l, "user-5", "language", "fr", "c-u", &["personalization"], T0 + 2);
    let before_target = values_of(&mut l, "user-5", T0 + 3);
    let before_source = values_of(&mut l, "anon-5", T0 + 3);
    let r = l.request_merge(TENANT, "anon-5", "user-5", &ev(&["login"]), &service(), UnixTime(T0 + 10)).unwrap();
    let merge_id = r.body["merge"]["merge_id"].as_str().unwrap().to_string();
    assert_eq!(
        values_of(&mut l, "user-5", T0 + 11),
        [("interest".into(), "hiking".into()), ("language".into(), "fr".into())],
        "same consent scope and channel: recency keeps the target's later choice"
    );
    // While merged, the person revokes the marketing consent that came from the source.
    let consents = l.ledger().list(TENANT, "user-5", UnixTime(T0 + 12)).unwrap().body["consents"].clone();
    assert!(consents.as_array().unwrap().iter().any(|c| c["consent_id"] == "c-a2"));
    l.ledger().revoke_consent(TENANT, "user-5", &service(), "c-a2", b"", None, UnixTime(T0 + 13)).unwrap();
    l.sweep(TENANT, UnixTime(T0 + 13)).unwrap();
    let split = l.split(TENANT, &merge_id, &operator(), UnixTime(T0 + 20)).unwrap();
    assert_eq!(split.body["merge"]["state"], "split", "{}", split.body);
    assert_eq!(values_of(&mut l, "user-5", T0 + 21), before_target, "the target has its own signals back");
    let source_now = values_of(&mut l, "anon-5", T0 + 21);
    assert_eq!(
        source_now,
        [("language".into(), "de".into())],
        "the source has its own back, less the consent revoked while merged"
    );
    assert_ne!(source_now, before_source);
    let state = SubjectState::load(l_store(&mut l), keys(), TENANT, "anon-5").unwrap();
    assert_eq!(state.status, SubjectStatus::Active);
    assert!(!state.consent("c-a2").unwrap().granted, "the revocation followed the consent home");
    for s in ["anon-5", "user-5"] {
        let v = l.ledger().verify(TENANT, s).unwrap();
        assert!(v.chain.is_ok() && v.projection_matches, "{s}: {v:?}");
    }
    // Splitting again changes nothing.
    assert_eq!(l.split(TENANT, &merge_id, &operator(), UnixTime(T0 + 30)).unwrap().body["merge"]["state"], "split");
}

fn l_store<'s>(l: &'s mut Local<'_, SqliteStore>) -> &'s mut SqliteStore {
    l.store()
}

/// Every table cell of the store that holds `needle`, as `table.column`.
fn cells_holding(store: &mut SqliteStore, needle: &str) -> Vec<String> {
    let tables: Vec<String> = store
        .connection()
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut found = Vec::new();
    for t in tables {
        let columns: Vec<String> = store
            .connection()
            .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for c in columns {
            let n: i64 = store
                .connection()
                .query_row(
                    &format!("SELECT COUNT(*) FROM \"{t}\" WHERE CAST(\"{c}\" AS TEXT) LIKE ?1"),
                    [format!("%{needle}%")],
                    |r| r.get(0),
                )
                .unwrap();
            if n > 0 {
                found.push(format!("{t}.{c}"));
            }
        }
    }
    found
}

#[test]
fn erasure_leaves_a_proof_of_suppression_and_no_raw_value_anywhere() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    let endpoint = l
        .directory()
        .add_endpoint(
            TENANT,
            "https://hooks.example/in",
            &ev(&["signal.created", "subject.erased"]),
            entropy(),
            UnixTime(T0),
        )
        .unwrap();
    // "trail-running" and "injury-recovery" appear nowhere else in the schema or policy names.
    submit(&mut l, "u-e", "interest", "trail-running", "c-1", &["personalization"], T0);
    submit(&mut l, "u-e", "health_goal", "injury-recovery", "c-2", &["personalization"], T0 + 1);
    submit(&mut l, "u-e", "contact_channel", "sms", "c-3", &["personalization"], T0 + 2);
    l.ledger()
        .submit(
            TENANT,
            "u-e",
            &service(),
            &capture("language", "de", "c-1", &["personalization"]),
            Some("idem-1"),
            UnixTime(T0 + 3),
        )
        .unwrap();
    l.sweep(TENANT, UnixTime(T0 + 3)).unwrap();
    assert!(!cells_holding(l.store(), "trail-running").is_empty(), "held before");
    let r = l.ledger().delete_subject(TENANT, "u-e", &service(), true, None, UnixTime(T0 + 10)).unwrap();
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("erased")), "{}", r.body);
    l.sweep(TENANT, UnixTime(T0 + 10)).unwrap();
    for raw in ["trail-running", "injury-recovery", "\"de\""] {
        assert_eq!(cells_holding(l.store(), raw), Vec::<String>::new(), "{raw} survives the erasure");
    }
    // contact_channel is `deletion: suppress`: its value stays as a suppression marker until its retention ends.
    assert_eq!(cells_holding(l.store(), "\"sms\"").len(), 0, "not in any JSON");
    let held: i64 = l
        .store()
        .connection()
        .query_row("SELECT COUNT(*) FROM signal_values WHERE value = 'sms'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(held, 1, "the suppression marker is kept");
    // Nothing of the subject is used any more.
    assert_eq!(l.ledger().list(TENANT, "u-e", UnixTime(T0 + 11)).unwrap_err().code(), "subject_deleted");
    assert_eq!(
        l.ledger().issue_bundle(TENANT, "u-e", &service(), UnixTime(T0 + 11)).unwrap_err().code(),
        "subject_deleted"
    );
    // The evidence pack shows the proof and no raw value, and checks offline.
    let deliveries = l.directory().deliveries(TENANT, Some("u-e"), None).unwrap();
    assert!(deliveries.iter().all(|d| d.state != "pending" || d.event_type == "subject.erased"), "{deliveries:?}");
    let pack = l.ledger().evidence(TENANT, "u-e", Window::default(), &deliveries, UnixTime(T0 + 12)).unwrap();
    let text = pack.to_string();
    assert!(!text.contains("trail-running") && !text.contains("injury-recovery"), "no erased value in the pack");
    let proof = &pack["erasures"][0];
    assert_eq!(proof["reason"], "subject_request");
    assert_eq!(proof["signals"].as_array().unwrap().len(), 3, "interest, health_goal, language: {proof}");
    assert!(pack["collected"].as_array().unwrap().iter().any(|c| c["erased_at"].is_number() && c["value"].is_null()));
    assert_eq!(pack["chain"]["verified"], true);
    let token = evidence::sign(&pack, &signer);
    let keyset = KeySet::new(vec![signer.key().public_key()]).unwrap();
    let checked = evidence::check(&token, &keyset).unwrap();
    assert_eq!((checked.erased, checked.values_checked), (3, 1), "three erased, the suppression marker checked");
    let _ = endpoint;
}

#[test]
fn a_tampered_pack_or_chain_fails_the_offline_check() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    submit(&mut l, "u-t", "interest", "hiking", "c-1", &["personalization"], T0);
    submit(&mut l, "u-t", "language", "de", "c-1", &["personalization"], T0 + 1);
    let keyset = KeySet::new(vec![signer.key().public_key()]).unwrap();
    let pack = l.ledger().evidence(TENANT, "u-t", Window::default(), &[], UnixTime(T0 + 5)).unwrap();
    let good = evidence::sign(&pack, &signer);
    assert!(evidence::check(&good, &keyset).is_ok());
    // Another key set: refused.
    let other =
        KeySet::new(vec![signalgate::bundle::SigningKey::from_seed(&[1; 32], Some("origin-1")).public_key()]).unwrap();
    assert!(evidence::check(&good, &other).unwrap_err().contains("signature"));
    // A value changed and re-signed by someone holding a key: the digest in the chain says no.
    let mut forged = pack.clone();
    for c in forged["collected"].as_array_mut().unwrap() {
        if c["value"] == "hiking" {
            c["value"] = "climbing".into();
        }
    }
    let e = evidence::check(&evidence::sign(&forged, &signer), &keyset).unwrap_err();
    assert!(e.contains("does not match the digest"), "{e}");
    // An event changed: the chain says no.
    let mut forged = pack.clone();
    forged["events"][1]["at"] = (T0 + 999).into();
    let e = evidence::check(&evidence::sign(&forged, &signer), &keyset).unwrap_err();
    assert!(e.contains("does not verify"), "{e}");
    // A chain tampered in the store is reported by the pack, and the check says so.
    l.store().connection().execute("UPDATE events SET at = at + 1 WHERE subject_id = 'u-t' AND seq = 2", []).unwrap();
    let pack = l.ledger().evidence(TENANT, "u-t", Window::default(), &[], UnixTime(T0 + 6)).unwrap();
    assert_eq!(pack["chain"]["verified"], false);
    assert!(evidence::check(&evidence::sign(&pack, &signer), &keyset).unwrap_err().contains("broken at event index 1"));
}

#[test]
fn retention_ends_are_enforced_and_a_lock_defers_them() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    // price_band: ttl 90d, retention 180d.
    submit(&mut l, "u-r", "price_band", "premium", "c-1", &["personalization"], T0);
    submit(&mut l, "u-r", "price_band", "budget", "c-1", &["personalization"], T0 + DAY);
    let held = |l: &mut Local<'_, SqliteStore>| -> i64 {
        l.store()
            .connection()
            .query_row("SELECT COUNT(*) FROM signal_values WHERE subject_id = 'u-r'", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(held(&mut l), 2);
    // The retired version's retention ends 180 days after it was captured.
    let next = l.ledger().next_retention(TENANT, "u-r", UnixTime(T0 + 2 * DAY)).unwrap();
    assert_eq!(next, Some(UnixTime(T0 + 180 * DAY)));
    assert_eq!(l.ledger().enforce_retention(TENANT, "u-r", UnixTime(T0 + 179 * DAY)).unwrap().erased, 0);
    // A legal hold from day 170 to day 400 defers it.
    l.ledger()
        .lock_retention(TENANT, "u-r", &operator(), UnixTime(T0 + 400 * DAY), "legal_hold", UnixTime(T0 + 170 * DAY))
        .unwrap();
    let report = l.ledger().enforce_retention(TENANT, "u-r", UnixTime(T0 + 200 * DAY)).unwrap();
    assert_eq!((report.erased, report.deferred), (0, 2), "both are past retention, both held");
    assert_eq!(held(&mut l), 2);
    assert_eq!(
        l.ledger().next_retention(TENANT, "u-r", UnixTime(T0 + 200 * DAY)).unwrap(),
        Some(UnixTime(T0 + 400 * DAY))
    );
    l.ledger().unlock_retention(TENANT, "u-r", &operator(), UnixTime(T0 + 250 * DAY)).unwrap();
    let report = l.ledger().enforce_retention(TENANT, "u-r", UnixTime(T0 + 250 * DAY)).unwrap();
    assert_eq!(report.erased, 2);
    assert_eq!(held(&mut l), 0);
    let pack = l.ledger().evidence(TENANT, "u-r", Window::default(), &[], UnixTime(T0 + 251 * DAY)).unwrap();
    assert_eq!(pack["erasures"][0]["reason"], "retention_end");
    assert!(l.ledger().verify(TENANT, "u-r").unwrap().chain.is_ok());
}

#[test]
fn revoking_suppresses_at_once_and_the_value_is_retained_until_its_retention_ends() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    // interest: ttl 180d, retention 365d; the bundle carries it until the revocation.
    let first = submit(&mut l, "u-v", "interest", "camping", "c-m", &["marketing_email", "personalization"], T0);
    let live_bundle = first["bundle"]["bundle_id"].as_str().unwrap().to_string();
    let r = l.ledger().revoke_consent(TENANT, "u-v", &service(), "c-m", b"", None, UnixTime(T0 + 10)).unwrap();
    assert_eq!(r.body["revoked_bundles"][0]["bundle_id"], live_bundle.as_str());
    let fresh = UnverifiedBundle::parse(r.body["bundle"]["token"].as_str().unwrap()).unwrap();
    assert!(fresh.claims_unverified().signals.is_empty(), "suppressed at once: not in the next bundle");
    assert!(l.ledger().list(TENANT, "u-v", UnixTime(T0 + 11)).unwrap().body["signals"].as_array().unwrap().is_empty());
    l.sweep(TENANT, UnixTime(T0 + 11)).unwrap();
    let feed = l.directory().feed(TENANT, 0, UnixTime(T0 + 11)).unwrap();
    assert_eq!(feed["bundles"][0]["bundle_id"], live_bundle.as_str(), "and the gates hear of it");
    // Retained (the audit reference) until its retention ends, then erased.
    assert_eq!(l.ledger().enforce_retention(TENANT, "u-v", UnixTime(T0 + 364 * DAY)).unwrap().erased, 0);
    assert_eq!(cells_holding(l.store(), "camping").len(), 1, "only signal_values holds it");
    assert_eq!(l.ledger().enforce_retention(TENANT, "u-v", UnixTime(T0 + 365 * DAY)).unwrap().erased, 1);
    assert!(cells_holding(l.store(), "camping").is_empty());
}

#[test]
fn deleting_one_signal_follows_its_class_deletion_mode() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    l.directory()
        .add_endpoint(TENANT, "https://hooks.example/in", &ev(&["signal.created"]), entropy(), UnixTime(T0))
        .unwrap();
    let hiking = submit(&mut l, "u-d", "interest", "climbing", "c-1", &["personalization"], T0);
    let sms = submit(&mut l, "u-d", "contact_channel", "push", "c-1", &["personalization"], T0 + 1);
    l.sweep(TENANT, UnixTime(T0 + 1)).unwrap();
    assert_eq!(cells_holding(l.store(), "climbing"), ["signal_values.value", "webhook_deliveries.payload"]);
    let id = |b: &Value| b["signal"]["signal_id"].as_str().unwrap().to_string();
    let r = l.ledger().delete_signal(TENANT, "u-d", &service(), &id(&hiking), UnixTime(T0 + 5)).unwrap();
    assert_eq!((r.body["deletion"].as_str(), r.body["values_erased"].as_u64()), (Some("erase"), Some(1)));
    let r = l.ledger().delete_signal(TENANT, "u-d", &service(), &id(&sms), UnixTime(T0 + 6)).unwrap();
    assert_eq!((r.body["deletion"].as_str(), r.body["values_erased"].as_u64()), (Some("suppress"), Some(0)));
    assert!(values_of(&mut l, "u-d", T0 + 7).is_empty(), "neither is used");
    l.sweep(TENANT, UnixTime(T0 + 7)).unwrap();
    assert!(cells_holding(l.store(), "climbing").is_empty(), "erased, also from the deliveries still waiting");
    assert_eq!(
        cells_holding(l.store(), "push"),
        ["signal_values.value", "webhook_deliveries.payload"],
        "suppressed, not erased"
    );
}

#[test]
fn free_text_goes_through_the_raw_intake_and_nothing_raw_outlives_its_time() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    let body = |answer: &str| {
        serde_json::json!({"signal_type": "language", "answer": answer, "purpose": "personalization",
            "consent_reference": "c-1", "source_context": {"channel": "web"}})
        .to_string()
    };
    // An answer the aliases map is captured at once.
    let r = l.ledger().intake(TENANT, "u-i", &service(), body("Deutsch").as_bytes(), None, UnixTime(T0)).unwrap();
    assert_eq!((r.status, r.body["signal"]["value"].as_str()), (201, Some("de")), "{}", r.body);
    // Another waits for an operator; its raw text is encrypted at rest.
    let r = l
        .ledger()
        .intake(TENANT, "u-i", &service(), body("Schwiizerdütsch mostly").as_bytes(), None, UnixTime(T0 + 1))
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["intake"]["intake_id"].as_str().unwrap().to_string();
    assert!(cells_holding(l.store(), "Schwiizer").is_empty(), "the raw text is never stored in clear");
    let pending = l.ledger().intake_pending(TENANT, "u-i").unwrap();
    assert_eq!(pending[0].answer, "Schwiizerdütsch mostly");
    let mapped = l.ledger().intake_map(TENANT, "u-i", &operator(), &id, "german", UnixTime(T0 + 60)).unwrap();
    assert_eq!(mapped.body["signal"]["value"], "de");
    assert_eq!(
        l.ledger().intake_map(TENANT, "u-i", &operator(), &id, "de", UnixTime(T0 + 61)).unwrap_err().code(),
        "unknown_intake",
        "mapped once"
    );
    // 24 hours on (intake.raw_ttl), every raw answer is gone, mapped or not.
    let raw = |l: &mut Local<'_, SqliteStore>| -> i64 {
        l.store().connection().query_row("SELECT COUNT(*) FROM raw_intake", [], |r| r.get(0)).unwrap()
    };
    assert_eq!(raw(&mut l), 2);
    assert_eq!(l.ledger().enforce_retention(TENANT, "u-i", UnixTime(T0 + DAY - 1)).unwrap().intake_purged, 0);
    assert_eq!(l.ledger().enforce_retention(TENANT, "u-i", UnixTime(T0 + DAY + 1)).unwrap().intake_purged, 2);
    assert_eq!(raw(&mut l), 0);
    // Free text with no intake is still refused and never stored.
    let e = l
        .ledger()
        .submit(
            TENANT,
            "u-i",
            &service(),
            &capture("language", "a bit of everything", "c-1", &["personalization"]),
            None,
            UnixTime(T0 + DAY + 2),
        )
        .unwrap_err();
    assert_eq!(e.code(), "value_not_in_vocabulary");
    assert!(cells_holding(l.store(), "a bit of everything").is_empty());
}

#[test]
fn each_role_sees_the_fields_and_classes_the_policy_gives_it() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    submit(&mut l, "u-p", "interest", "hiking", "c-1", &["personalization"], T0);
    submit(&mut l, "u-p", "language", "de", "c-1", &["personalization"], T0);
    let list = |l: &mut Local<'_, SqliteStore>, role: &str| {
        l.ledger().list_for(TENANT, "u-p", Some(policy.role(role).unwrap()), UnixTime(T0 + 1)).unwrap().body
    };
    let engine = list(&mut l, "engine");
    let keys_of = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys_of(&engine["signals"][0]), ["category", "expires_at", "freshness", "signal_id", "signal_type"]);
    assert!(engine.get("consents").is_none(), "no consent records for the engine");
    let support = list(&mut l, "support");
    assert_eq!(support["signals"].as_array().unwrap().len(), 1, "support sees language only");
    assert_eq!(support["signals"][0]["value"], "de");
    assert!(support["signals"][0].get("provenance_hash").is_none());
    let audit = list(&mut l, "audit");
    assert!(audit["signals"][0].get("provenance_hash").is_some() && audit.get("consents").is_some());
    assert!(policy.role("audit").unwrap().history && !policy.role("engine").unwrap().history);
    let history = l.ledger().history(TENANT, "u-p").unwrap();
    assert_eq!(history.body["chain_ok"], true);
    assert!(!history.body.to_string().contains("\"hiking\""), "the history holds digests, not values");
}

/// A consumer that de-duplicates on `webhook-id`, behind a target that is
/// down for a while.
#[test]
fn webhooks_reach_a_target_that_was_down_once_each_with_backoff_and_dead_letters() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    let (endpoint, secret) = l
        .directory()
        .add_endpoint(
            TENANT,
            "https://hooks.example/in",
            &ev(&["signal.created", "signal.updated", "consent.revoked"]),
            entropy(),
            UnixTime(T0),
        )
        .unwrap();
    for (i, v) in ["hiking", "yoga", "cycling"].iter().enumerate() {
        submit(&mut l, "u-w", "interest", v, "c-1", &["personalization"], T0 + i as i64);
    }
    l.ledger().revoke_consent(TENANT, "u-w", &service(), "c-1", b"", None, UnixTime(T0 + 5)).unwrap();
    l.sweep(TENANT, UnixTime(T0 + 5)).unwrap();
    let mut received: Vec<(String, Value)> = Vec::new();
    let mut now = T0 + 5;
    let mut tries = 0;
    // Down for the first 10 minutes: 503s. Then it answers 204.
    while now < T0 + 3 * 3600 {
        let due: Vec<Outgoing> = l.directory().due_deliveries(TENANT, UnixTime(now), 100).unwrap();
        for out in &due {
            tries += 1;
            let headers: std::collections::BTreeMap<_, _> = out.headers.iter().cloned().collect();
            let h = signalgate::ledger::webhook_sign::WebhookHeaders::from_values(
                &headers["webhook-id"],
                &headers["webhook-timestamp"],
                &headers["webhook-signature"],
            )
            .unwrap();
            signalgate::ledger::webhook_sign::verify(
                &secret,
                &h,
                out.body.as_bytes(),
                UnixTime(now),
                Span::seconds(300),
            )
            .unwrap();
            let up = now >= T0 + 600;
            if up {
                received.push((out.msg_id.clone(), serde_json::from_str(&out.body).unwrap()));
            }
            let status = if up { Some(204) } else { Some(503) };
            l.directory().delivery_result(TENANT, out, status, None, [tries as u8, 7, 1, 9], UnixTime(now)).unwrap();
        }
        now += 1;
    }
    let mut ids: Vec<&str> = received.iter().map(|(id, _)| id.as_str()).collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all, "no message twice");
    let types: Vec<&str> = received.iter().map(|(_, b)| b["type"].as_str().unwrap()).collect();
    assert_eq!(types.iter().filter(|t| **t == "signal.created").count(), 3);
    assert_eq!(types.iter().filter(|t| **t == "consent.revoked").count(), 1);
    assert!(tries > all, "retried while down");
    let records = l.directory().deliveries(TENANT, Some("u-w"), None).unwrap();
    assert!(records.iter().all(|r| r.state == "delivered" && r.attempts > 1), "{records:?}");
    // Enough to enforce one's own policy without calling back.
    let created = &received.iter().find(|(_, b)| b["type"] == "signal.created").unwrap().1["data"];
    for member in ["signal_type", "value", "category", "consent", "expires_at", "policy_version", "event"] {
        assert!(created.get(member).is_some(), "{member} in {created}");
    }
    assert_eq!(created["consent"]["legal_basis"], "consent");
    // A target that never comes back: dead after the last try, and it can be sent again.
    submit(&mut l, "u-w", "language", "de", "c-2", &["personalization"], now);
    l.sweep(TENANT, UnixTime(now)).unwrap();
    for _ in 0..40 {
        for out in l.directory().due_deliveries(TENANT, UnixTime(now), 100).unwrap() {
            l.directory()
                .delivery_result(TENANT, &out, None, Some("connection refused"), [0; 4], UnixTime(now))
                .unwrap();
        }
        now += 6 * 3600 + 1;
    }
    let dead = l.directory().deliveries(TENANT, Some("u-w"), Some("dead")).unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].attempts, signalgate::ledger::webhook_sign::MAX_ATTEMPTS);
    l.directory().retry_dead(TENANT, &endpoint, &dead[0].msg_id, UnixTime(now)).unwrap();
    assert_eq!(l.directory().due_deliveries(TENANT, UnixTime(now), 10).unwrap().len(), 1);
}

#[test]
fn metrics_count_what_is_usable_what_was_refused_and_how_fast_captures_reach_a_bundle() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    submit(&mut l, "u-m1", "interest", "hiking", "c-1", &["personalization"], T0);
    submit(&mut l, "u-m2", "price_band", "mid", "c-1", &["personalization"], T0);
    let _ = l.ledger().submit(
        TENANT,
        "u-m1",
        &service(),
        &capture("interest", "dancing", "c-1", &["personalization"]),
        None,
        UnixTime(T0),
    );
    let _ = l.ledger().submit(
        TENANT,
        "u-m1",
        &service(),
        &capture("language", "de", "c-1", &["marketing_email"]),
        None,
        UnixTime(T0),
    );
    let mut m = signalgate::ledger::metrics::Metrics::default();
    for s in ["u-m1", "u-m2"] {
        let stats = l.ledger().stats(TENANT, s, UnixTime(T0 + 85 * DAY)).unwrap();
        m.add(&stats);
    }
    let j = m.json(TENANT, UnixTime(T0 + 85 * DAY));
    assert_eq!(j["signals_active"], 2);
    assert_eq!(j["signals_fresh"], 1, "price_band (ttl 90d, lead 7d) is due for reconfirmation at day 85");
    assert_eq!(
        (j["requests"].as_u64(), j["rejected"].as_u64(), j["consent_mismatches"].as_u64()),
        (Some(4), Some(2), Some(1))
    );
    assert_eq!(j["capture_to_bundle_seconds"]["p50"], 0, "captures are carried by the bundle issued with them");
    assert!(m.prometheus(TENANT).contains("signalgate_rejection_rate{tenant=\"demo-shop\"} 0.5"));
}

#[test]
fn a_merge_whose_source_refuses_fails_and_blocks_nothing() {
    let (policy, signer) = (policy(), signer());
    let issuer = issuer(&policy, &signer);
    let mut store = SqliteStore::in_memory().unwrap();
    let mut l = local(&mut store, &issuer);
    submit(&mut l, "gone-1", "interest", "hiking", "c-1", &["personalization"], T0);
    l.ledger().delete_subject(TENANT, "gone-1", &service(), true, None, UnixTime(T0 + 1)).unwrap();
    let e = l.request_merge(TENANT, "gone-1", "user-9", &ev(&["login"]), &service(), UnixTime(T0 + 2)).unwrap_err();
    assert_eq!(e.code(), "subject_deleted");
    let records = l.directory().merges(TENANT, None).unwrap();
    assert_eq!((records[0].state.as_str(), records[0].note.as_deref()), ("failed", Some("subject_deleted")));
    assert!(l.directory().merge_of_source(TENANT, "gone-1").unwrap().is_none(), "a failed merge blocks nothing");
}
