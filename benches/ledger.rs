#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The ledger's write path natively, next to its anchor: a bare SQLite loop
//! that writes exactly the rows the ledger wrote (recorded from its run:
//! events, projection, idempotency record) in one transaction per submit, on
//! the same file settings. Reports submits per second
//! and p50/p99 latency of submit + bundle issue, and our throughput as a
//! ratio of the bare loop's. Run by `pkg-scripts/bench`:
//!
//! `cargo bench --bench ledger -- [--out FILE] [--n N]`

#[cfg(not(target_arch = "wasm32"))]
mod bench {
    use std::path::Path;
    use std::time::Instant;

    use rusqlite::Connection;
    use serde_json::json;
    use signalgate::bundle::{Signer, SigningKey};
    use signalgate::ledger::{
        ActorType, Caller, DataKeys, Issuer, Ledger, SqliteStore, Statement, Store, StoreError, Value,
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
        let policy = Policy::from_json(include_str!("../www/policy.json")).unwrap();
        let signer = Signer::new(SigningKey::from_seed(&[3; 32], Some("bench")));
        let issuer = Issuer {
            policy: &policy,
            signer: &signer,
            issuer: "https://origin.example".into(),
            audience: "signalgate".into(),
            scope: "web".into(),
            bundle_ttl: Span::days(1),
        };
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

    pub fn main() {
        let args: Vec<String> = std::env::args().collect();
        let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
        let n: usize = arg("--n").and_then(|v| v.parse().ok()).unwrap_or(2000);
        let dir = std::env::temp_dir().join(format!("sg-bench-ledger-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let subjects = 50;
        let (ledger, ops) = ledger_run(&dir, n, subjects);
        let bare = bare_run(&dir, &ops);
        let ratio = ledger["ops_per_s"].as_f64().unwrap_or(0.0) / bare["ops_per_s"].as_f64().unwrap_or(1.0);
        let report =
            json!({ "submits": n, "subjects": subjects, "ledger": ledger, "bare_sqlite": bare, "ratio": ratio });
        println!(
            "ledger submit + bundle: {:.0}/s, p50 {:.0} us, p99 {:.0} us; bare SQLite loop: {:.0}/s; ratio {ratio:.2}",
            ledger["ops_per_s"].as_f64().unwrap_or(0.0),
            ledger["p50_us"].as_f64().unwrap_or(0.0),
            ledger["p99_us"].as_f64().unwrap_or(0.0),
            bare["ops_per_s"].as_f64().unwrap_or(0.0)
        );
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
