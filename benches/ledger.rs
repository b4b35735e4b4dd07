#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The ledger natively, each figure next to an anchor measured in the same
//! run. Run by `pkg-scripts/bench`:
//!
//! `cargo bench --bench ledger -- [--out FILE] [--n N] [--events N] [--reps N] [--webhooks N]`
//!
//! - Submit + bundle issue (`--n` submits over 50 subjects), next to a bare
//!   SQLite loop that writes exactly the rows the ledger wrote (recorded
//!   from its run: events, projection, idempotency record) in one
//!   transaction per submit, on the same file settings: submits per second,
//!   p50/p99, and our throughput as a ratio of the bare loop's.
//! - The evidence pack of one subject with `--events` events (submits of
//!   three classes, reconfirmations, bundle requests, a consent revoked
//!   half-way): building it (`Ledger::evidence`, no webhook deliveries),
//!   signing it (`evidence::sign`) and checking it offline
//!   (`evidence::check`), each timed apart `--reps` times, next to the bare
//!   cost of reading the same rows (`projection::load_events` +
//!   `verify_chain`); the pack's size.
//! - Webhook bookkeeping without HTTP: `--webhooks` captures, each a new
//!   signal (`signal.created`) for one endpoint, moved from the subjects'
//!   outboxes to the directory (`Local::sweep`, the fan-out), then sent as a
//!   Durable Object alarm would, minus the fetch: `due_deliveries` (select
//!   and sign, 50 per run like the Worker) and `delivery_result` (a 204) per
//!   message; messages per second.
#[cfg(not(target_arch = "wasm32"))]
mod bench {
    use std::path::Path;
    use std::time::Instant;

    use rusqlite::Connection;
    use serde_json::json;
    use signalgate::bundle::{KeySet, Signer, SigningKey};
    use signalgate::ledger::entropy::{OsEntropy, SeededEntropy};
    use signalgate::ledger::evidence::{self, Window};
    use signalgate::ledger::projection::load_events;
    use signalgate::ledger::webhook_sign;
    use signalgate::ledger::{
        verify_chain, ActorType, Caller, DataKeys, Issuer, Ledger, Local, SqliteStore, Statement, Store, StoreError,
        Value,
    };
    use signalgate::{Policy, Span, UnixTime};

    const T0: i64 = 1_800_000_000;
    const VALUES: [&str; 7] = ["trail-running", "road-running", "hiking", "climbing", "camping", "cycling", "yoga"];

    /// Per-operation latencies in microseconds: (ops/s, p50, p99, mean).
    fn stats(mut us: Vec<f64>, total_s: f64) -> serde_json::Value {
        us.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| us[((us.len() as f64 - 1.0) * q).round() as usize];
        json!({
            "ops": us.len(),
            "ops_per_s": us.len() as f64 / total_s,
            "p50_us": at(0.50),
            "p99_us": at(0.99),
            "mean_us": us.iter().sum::<f64>() / us.len() as f64,
        })
    }

    fn body(i: usize) -> Vec<u8> {
        json!({
            "signal_type": "interest", "value": VALUES[i % VALUES.len()], "purpose": "personalization",
            "consent_reference": "c-1", "source_context": {"channel": "web", "ui": "bench"}
        })
        .to_string()
        .into_bytes()
    }

    /// The demo policy and a fixed signing key.
    fn origin_keys() -> (Policy, Signer) {
        let policy = Policy::from_json(include_str!("../www/policy.json")).unwrap();
        (policy, Signer::new(SigningKey::from_seed(&[3; 32], Some("bench"))))
    }

    fn issuer<'a>(policy: &'a Policy, signer: &'a Signer) -> Issuer<'a> {
        Issuer {
            policy,
            signer,
            issuer: "https://origin.example".into(),
            audience: "signalgate".into(),
            scope: "web".into(),
            bundle_ttl: Span::days(1),
        }
    }

    /// A capture of `class` = `value` under `consent`.
    fn capture(class: &str, value: &str, consent: &str) -> Vec<u8> {
        json!({
            "signal_type": class, "value": value, "purpose": "personalization",
            "consent_reference": consent, "source_context": {"channel": "web", "ui": "bench"}
        })
        .to_string()
        .into_bytes()
    }

    /// A store that keeps every batch it applies (the rows each submit
    /// writes), for the bare loop to write again.
    struct Recording {
        inner: SqliteStore,
        batches: Vec<(usize, Vec<Statement>)>,
        op: usize,
    }

    impl Store for Recording {
        fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, StoreError> {
            self.inner.query(sql, params)
        }
        fn apply(&mut self, batch: &[Statement]) -> Result<(), StoreError> {
            self.batches.push((self.op, batch.to_vec()));
            self.inner.apply(batch)
        }
    }

    /// Submits (each with an idempotency key, issuing a bundle) over `subjects`
    /// subjects; returns the latency figures and the batches written, by op.
    fn ledger_run(dir: &Path, n: usize, subjects: usize) -> (serde_json::Value, Vec<Vec<Statement>>) {
        let (policy, signer) = origin_keys();
        let issuer = issuer(&policy, &signer);
        let mut store =
            Recording { inner: SqliteStore::open(&dir.join("ledger.db")).unwrap(), batches: Vec::new(), op: 0 };
        let caller = Caller { actor: ActorType::Service, actor_id: "bench".into() };
        let mut entropy = signalgate::ledger::entropy::OsEntropy;
        let keys = DataKeys::from_json(&DataKeys::generate("k1", &mut entropy).unwrap()).unwrap();
        let mut latencies = Vec::with_capacity(n);
        let start = Instant::now();
        for i in 0..n {
            store.op = i;
            let subject = format!("u-{}", i % subjects);
            let t = Instant::now();
            let r = Ledger::new(&mut store, &issuer, &keys, &mut entropy)
                .submit("bench", &subject, &caller, &body(i), Some(&format!("k-{i}")), UnixTime(T0 + i as i64))
                .unwrap();
            latencies.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(r.status, 201);
        }
        let figures = stats(latencies, start.elapsed().as_secs_f64());
        let mut by_op: Vec<Vec<Statement>> = vec![Vec::new(); n];
        for (op, batch) in store.batches {
            by_op[op].extend(batch);
        }
        (figures, by_op)
    }

    /// The same rows, written by a bare SQLite loop: each submit's statements
    /// (events, projection, idempotency record) in one transaction, without
    /// reads, checks, hashing or signing.
    fn bare_run(dir: &Path, ops: &[Vec<Statement>]) -> serde_json::Value {
        let mut conn = Connection::open(dir.join("bare.db")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        for stmt in signalgate::ledger::schema_statements() {
            conn.execute_batch(stmt.sql).unwrap();
        }
        let mut latencies = Vec::with_capacity(ops.len());
        let start = Instant::now();
        for op in ops {
            let t = Instant::now();
            let tx = conn.transaction().unwrap();
            for s in op {
                let params: Vec<rusqlite::types::Value> = s
                    .params
                    .iter()
                    .map(|v| match v {
                        Value::Null => rusqlite::types::Value::Null,
                        Value::Int(i) => rusqlite::types::Value::Integer(*i),
                        Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
                    })
                    .collect();
                tx.prepare_cached(s.sql).unwrap().execute(rusqlite::params_from_iter(params)).unwrap();
            }
            tx.commit().unwrap();
            latencies.push(t.elapsed().as_secs_f64() * 1e6);
        }
        stats(latencies, start.elapsed().as_secs_f64())
    }

    /// Seconds of a list of microsecond latencies.
    fn seconds(us: &[f64]) -> f64 {
        us.iter().sum::<f64>() / 1e6
    }

    /// Builds one subject with at least `target` events, then times building,
    /// signing and checking its evidence pack `reps` times (after 3 warm-up
    /// rounds), each round also timing the bare read of the same events with
    /// the chain verified.
    fn evidence_run(dir: &Path, target: usize, reps: usize) -> serde_json::Value {
        let (policy, signer) = origin_keys();
        let issuer = issuer(&policy, &signer);
        let mut entropy = SeededEntropy::new(7);
        let keys = DataKeys::from_json(&DataKeys::generate("k1", &mut entropy).unwrap()).unwrap();
        let mut store = SqliteStore::open(&dir.join("evidence.db")).unwrap();
        let (tenant, subject) = ("bench", "u-evidence");
        let caller = Caller { actor: ActorType::Service, actor_id: "bench".into() };
        let count = |store: &mut SqliteStore| {
            let rows = store
                .query(
                    "SELECT COUNT(*) FROM events WHERE tenant_id = ? AND subject_id = ?",
                    &[tenant.into(), subject.into()],
                )
                .unwrap();
            rows[0][0].as_int().unwrap() as usize
        };
        const LANGUAGES: [&str; 3] = ["en", "de", "fr"];
        const BANDS: [&str; 3] = ["budget", "mid", "premium"];
        let mut ops = std::collections::BTreeMap::<&str, usize>::new();
        let (mut consent, mut revoked) = ("c-1", false);
        let mut reconfirmable: Vec<String> = Vec::new();
        let (mut events, mut i) = (0, 0usize);
        let mut now = UnixTime(T0);
        let started = Instant::now();
        while events < target {
            // An hour apart: at most 24 unexpired bundles (of 1 day) at a time.
            now = UnixTime(T0 + 3600 * i as i64);
            let mut ledger = Ledger::new(&mut store, &issuer, &keys, &mut entropy);
            let (op, reply) = if !revoked && events >= target / 2 {
                revoked = true;
                let r = ledger.revoke_consent(tenant, subject, &caller, consent, b"", None, now);
                (consent, reconfirmable) = ("c-2", Vec::new());
                ("revoke", r)
            } else {
                match i % 8 {
                    4 => (
                        "submit",
                        ledger.submit(
                            tenant,
                            subject,
                            &caller,
                            &capture("language", LANGUAGES[(i / 8) % 3], consent),
                            None,
                            now,
                        ),
                    ),
                    5 => (
                        "submit",
                        ledger.submit(
                            tenant,
                            subject,
                            &caller,
                            &capture("price_band", BANDS[(i / 8) % 3], consent),
                            None,
                            now,
                        ),
                    ),
                    6 if !reconfirmable.is_empty() => {
                        let id = &reconfirmable[(i / 8) % reconfirmable.len()];
                        ("reconfirm", ledger.reconfirm(tenant, subject, &caller, id, b"", None, now))
                    }
                    7 => ("bundle", ledger.issue_bundle(tenant, subject, &caller, now)),
                    _ => {
                        let r = ledger.submit(
                            tenant,
                            subject,
                            &caller,
                            &capture("interest", VALUES[i % VALUES.len()], consent),
                            None,
                            now,
                        );
                        if let Some(id) = r.as_ref().ok().and_then(|r| r.body["signal"]["signal_id"].as_str()) {
                            if !reconfirmable.iter().any(|s| s == id) {
                                reconfirmable.push(id.to_string());
                            }
                        }
                        ("submit", r)
                    }
                }
            };
            let reply = reply.unwrap_or_else(|e| panic!("{op} {i}: {e}"));
            assert!(reply.status < 300, "{op} {i}: {}", reply.body);
            *ops.entry(op).or_default() += 1;
            i += 1;
            events = count(&mut store);
            if i % 100 == 0 {
                println!("  evidence subject: {events}/{target} events after {i} operations");
            }
        }
        println!(
            "  evidence subject: {events} events from {i} operations in {:.1} s; timing the pack {reps} times",
            started.elapsed().as_secs_f64()
        );
        let keyset = KeySet::new(vec![signer.key().public_key()]).unwrap();
        let (mut read, mut build, mut sign, mut check) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut token, mut pack) = (String::new(), serde_json::Value::Null);
        let mut checked = None;
        const WARM_UP: usize = 3;
        for rep in 0..WARM_UP + reps {
            let t = Instant::now();
            let loaded = load_events(&mut store, tenant, subject).unwrap();
            verify_chain(&loaded).unwrap();
            let t_read = t.elapsed().as_secs_f64() * 1e6;
            assert_eq!(loaded.len(), events);
            let t = Instant::now();
            pack = Ledger::new(&mut store, &issuer, &keys, &mut entropy)
                .evidence(tenant, subject, Window::default(), &[], now)
                .unwrap();
            let t_build = t.elapsed().as_secs_f64() * 1e6;
            let t = Instant::now();
            token = evidence::sign(&pack, &signer);
            let t_sign = t.elapsed().as_secs_f64() * 1e6;
            let t = Instant::now();
            let c = evidence::check(&token, &keyset).unwrap();
            let t_check = t.elapsed().as_secs_f64() * 1e6;
            assert_eq!(c.events, events);
            checked = Some((c.values_checked, c.erased));
            if rep >= WARM_UP {
                read.push(t_read);
                build.push(t_build);
                sign.push(t_sign);
                check.push(t_check);
            }
        }
        let (values_checked, erased) = checked.unwrap_or_default();
        let stat = |v: Vec<f64>| {
            let s = seconds(&v);
            stats(v, s)
        };
        let count_of = |key: &str| pack.get(key).and_then(serde_json::Value::as_array).map_or(0, Vec::len);
        json!({
            "events": events,
            "operations": ops,
            "reps": reps,
            "collected": count_of("collected"),
            "bundles_issued": count_of("uses"),
            "values_checked": values_checked,
            "erased": erased,
            "deliveries": 0,
            "pack_json_bytes": pack.to_string().len(),
            "pack_jws_bytes": token.len(),
            "build": stat(build),
            "sign": stat(sign),
            "check": stat(check),
            "read_verify": stat(read),
        })
    }

    /// `n` captures, each a new signal (so one `signal.created` each) over
    /// `n / 7` subjects, for one endpoint; then the fan-out from the outboxes
    /// to the directory, and the sends without HTTP: `due_deliveries` (50 at
    /// a time) and `delivery_result` (a 204) per message.
    fn webhook_run(dir: &Path, n: usize) -> serde_json::Value {
        let (policy, signer) = origin_keys();
        let issuer = issuer(&policy, &signer);
        let mut entropy = OsEntropy;
        let keys = DataKeys::from_json(&DataKeys::generate("k1", &mut entropy).unwrap()).unwrap();
        let mut store = SqliteStore::open(&dir.join("webhooks.db")).unwrap();
        let (tenant, now) = ("bench", UnixTime(T0));
        let caller = Caller { actor: ActorType::Service, actor_id: "bench".into() };
        let subjects = n.div_ceil(VALUES.len());
        let mut local = Local::new(&mut store, &issuer, &keys, &mut entropy);
        let (_, secret) = local
            .directory()
            .add_endpoint(tenant, "http://127.0.0.1:9/hook", &["signal.created".to_string()], &mut OsEntropy, now)
            .unwrap();
        for i in 0..n {
            let body = capture("interest", VALUES[i / subjects], "c-1");
            let r = local.ledger().submit(tenant, &format!("w-{}", i % subjects), &caller, &body, None, now).unwrap();
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let t = Instant::now();
        let swept = local.sweep(tenant, now).unwrap();
        let fan_out_s = t.elapsed().as_secs_f64();
        assert_eq!(swept.failed, 0);
        let (mut select_s, mut result, mut sign) = (0.0, Vec::with_capacity(n), Vec::with_capacity(n));
        let mut body_bytes = 0;
        loop {
            let t = Instant::now();
            let due = local.directory().due_deliveries(tenant, now, 50).unwrap();
            select_s += t.elapsed().as_secs_f64();
            if due.is_empty() {
                break;
            }
            for out in &due {
                let t = Instant::now();
                local.directory().delivery_result(tenant, out, Some(204), None, [0; 4], now).unwrap();
                result.push(t.elapsed().as_secs_f64() * 1e6);
                // What the signing alone costs (due_deliveries already signed it).
                let t = Instant::now();
                std::hint::black_box(webhook_sign::sign(&secret, &out.msg_id, now.0, out.body.as_bytes()));
                sign.push(t.elapsed().as_secs_f64() * 1e6);
                body_bytes += out.body.len();
            }
        }
        let delivered = local.directory().deliveries(tenant, None, Some("delivered")).unwrap().len();
        assert_eq!(delivered, n, "every message delivered once");
        let send_s = select_s + seconds(&result);
        let (result_s, sign_s) = (seconds(&result), seconds(&sign));
        json!({
            "messages": n,
            "subjects": subjects,
            "body_bytes_mean": body_bytes as f64 / n as f64,
            "fan_out_us_per_msg": fan_out_s * 1e6 / n as f64,
            "select_sign_us_per_msg": select_s * 1e6 / n as f64,
            "result": stats(result, result_s),
            "sign_only": stats(sign, sign_s),
            "send_ops_per_s": n as f64 / send_s,
            "with_fan_out_ops_per_s": n as f64 / (send_s + fan_out_s),
        })
    }

    pub fn main() {
        let args: Vec<String> = std::env::args().collect();
        let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
        let n: usize = arg("--n").and_then(|v| v.parse().ok()).unwrap_or(2000);
        let dir = std::env::temp_dir().join(format!("sg-bench-ledger-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let events: usize = arg("--events").and_then(|v| v.parse().ok()).unwrap_or(1000);
        let reps: usize = arg("--reps").and_then(|v| v.parse().ok()).unwrap_or(100);
        let hooks: usize = arg("--webhooks").and_then(|v| v.parse().ok()).unwrap_or(2000);
        let subjects = 50;
        println!("ledger: {n} submits over {subjects} subjects, then the bare SQLite loop");
        let (ledger, ops) = ledger_run(&dir, n, subjects);
        let bare = bare_run(&dir, &ops);
        let ratio = ledger["ops_per_s"].as_f64().unwrap_or(0.0) / bare["ops_per_s"].as_f64().unwrap_or(1.0);
        println!(
            "ledger submit + bundle: {:.0}/s, p50 {:.0} us, p99 {:.0} us; bare SQLite loop: {:.0}/s; ratio {ratio:.2}",
            ledger["ops_per_s"].as_f64().unwrap_or(0.0),
            ledger["p50_us"].as_f64().unwrap_or(0.0),
            ledger["p99_us"].as_f64().unwrap_or(0.0),
            bare["ops_per_s"].as_f64().unwrap_or(0.0)
        );
        println!("ledger evidence: a subject with {events} events, then build / sign / check x {reps}");
        let ev = evidence_run(&dir, events, reps);
        let ms = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(0.0) / 1000.0;
        println!(
            "ledger evidence pack, {} events, {:.0} KB signed: build p50 {:.2} ms, sign p50 {:.2} ms, check p50 {:.2} ms; \
             bare read + verify chain p50 {:.2} ms",
            ev["events"],
            ev["pack_jws_bytes"].as_f64().unwrap_or(0.0) / 1024.0,
            ms(&ev["build"], "p50_us"),
            ms(&ev["sign"], "p50_us"),
            ms(&ev["check"], "p50_us"),
            ms(&ev["read_verify"], "p50_us"),
        );
        println!("ledger webhooks: {hooks} captures (one signal.created each), fan-out, then due_deliveries + delivery_result");
        let wh = webhook_run(&dir, hooks);
        println!(
            "ledger webhooks without HTTP: {:.0} messages/s (select + sign {:.1} us, result {:.1} us per message; \
             fan-out {:.1} us per message)",
            wh["send_ops_per_s"].as_f64().unwrap_or(0.0),
            wh["select_sign_us_per_msg"].as_f64().unwrap_or(0.0),
            wh["result"]["mean_us"].as_f64().unwrap_or(0.0),
            wh["fan_out_us_per_msg"].as_f64().unwrap_or(0.0),
        );
        let report = json!({
            "submits": n, "subjects": subjects, "ledger": ledger, "bare_sqlite": bare, "ratio": ratio,
            "evidence": ev, "webhooks": wh,
        });
        if let Some(out) = arg("--out") {
            std::fs::write(out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    bench::main();
}
