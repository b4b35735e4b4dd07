//! `SubjectLedger`: one Durable Object per (tenant, subject). It owns that
//! subject's ledger (its SQLite storage holds the subject's events and
//! projection), so the subject's writes are serialised here and nowhere
//! else, and its alarm expires signals on time. After a revocation it pushes
//! the revoked bundles to the tenant's feed; a push that fails is kept and
//! retried by the alarm.
// The `#[durable_object]` macro adds undocumented public glue (the JS
// constructor and handlers).
#![allow(missing_docs)]

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::config::OriginConfig;
use super::protocol::{CallReply, DirectoryCall, SubjectCall, SubjectOp};
use super::store::DoStore;
use crate::ledger::{ActorType, Caller, Ledger, LedgerError, Reply, Store, Value};

/// How soon a failed feed push is retried, in milliseconds.
const FEED_RETRY_MS: f64 = 1_000.0;

/// One subject's ledger.
#[durable_object]
pub struct SubjectLedger {
    state: State,
    env: Env,
}

fn problem(e: &LedgerError) -> CallReply {
    CallReply { status: e.status(), body: serde_json::to_value(e.problem()).unwrap_or_default() }
}

fn reply(r: Reply) -> CallReply {
    CallReply { status: r.status, body: r.body }
}

impl DurableObject for SubjectLedger {
    fn new(state: State, env: Env) -> Self {
        SubjectLedger { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let call: SubjectCall = req.json().await?;
        let config = match super::config(&self.env) {
            Ok(c) => c,
            Err(e) => return Response::from_json(&problem(&LedgerError::Config { detail: e })),
        };
        let (answer, revoked) = match self.answer(&config, &call) {
            Ok(r) => {
                let revoked = r.revoked_bundles();
                (reply(r), revoked)
            }
            Err(e) => (problem(&e), Vec::new()),
        };
        if !revoked.is_empty() {
            self.push_feed(&call.tenant, revoked).await;
        }
        self.schedule(&config, &call.tenant, &call.subject).await;
        Response::from_json(&answer)
    }

    async fn alarm(&self) -> Result<Response> {
        let Ok(config) = super::config(&self.env) else { return Response::ok("no configuration") };
        let Some((tenant, subject)) = self.identity() else { return Response::ok("no subject yet") };
        let issuer = config.issuer();
        if let Ok(mut store) = DoStore::open(&self.state.storage(), None) {
            let _ = Ledger::new(&mut store, &issuer).expire_due(&tenant, &subject, crate::clock::now());
        }
        self.retry_feed(&tenant).await;
        self.schedule(&config, &tenant, &subject).await;
        Response::ok("done")
    }
}

impl SubjectLedger {
    fn store(&self, crash_after: Option<usize>) -> std::result::Result<DoStore, LedgerError> {
        Ok(DoStore::open(&self.state.storage(), crash_after)?)
    }

    /// The (tenant, subject) this object serves, kept on first use.
    fn identity(&self) -> Option<(String, String)> {
        let mut store = DoStore::open(&self.state.storage(), None).ok()?;
        let rows = store.query("SELECT value FROM ledger_meta WHERE key = 'identity'", &[]).ok()?;
        let text = rows.first()?.first()?.as_text()?.to_string();
        let (t, s) = text.split_once('/')?;
        Some((t.to_string(), s.to_string()))
    }

    fn answer(&self, config: &OriginConfig, call: &SubjectCall) -> std::result::Result<Reply, LedgerError> {
        // Tests only: the crash injection arms the store for this request's write.
        self.store(None)?.apply(&[crate::ledger::Statement::new(
            "INSERT OR IGNORE INTO ledger_meta (key, value) VALUES ('identity', ?)",
            vec![Value::Text(format!("{}/{}", call.tenant, call.subject))],
        )])?;
        let crash_after = call.crash_after.filter(|_| config.crash_injection);
        let mut store = self.store(crash_after)?;
        let issuer = config.issuer();
        let mut ledger = Ledger::new(&mut store, &issuer);
        let caller = Caller { actor: call.actor, actor_id: call.actor_id.clone() };
        let (tenant, subject, key) = (call.tenant.as_str(), call.subject.as_str(), call.key.as_deref());
        let target = || call.target.as_deref().ok_or(LedgerError::NotFound);
        let body = call.body.as_bytes();
        let now = crate::clock::now();
        match call.op {
            SubjectOp::Submit => ledger.submit(tenant, subject, &caller, body, key, now),
            SubjectOp::Reconfirm => ledger.reconfirm(tenant, subject, &caller, target()?, body, key, now),
            SubjectOp::Revoke => ledger.revoke_consent(tenant, subject, &caller, target()?, body, key, now),
            SubjectOp::List => ledger.list(tenant, subject, now),
            SubjectOp::Bundle => ledger.issue_bundle(tenant, subject, &caller, now),
            SubjectOp::Verify => {
                if call.actor != ActorType::Operator {
                    return Err(LedgerError::Forbidden { detail: "verification is an operator's".into() });
                }
                let v = ledger.verify(tenant, subject)?;
                let (ok, index, seq, problem) = match &v.chain {
                    Ok(()) => (true, None, None, None),
                    Err(b) => (false, Some(b.index), Some(b.seq), Some(b.problem.clone())),
                };
                Ok(Reply {
                    status: 200,
                    body: serde_json::json!({
                        "events": v.events,
                        "chain_ok": ok,
                        "first_bad_index": index,
                        "first_bad_seq": seq,
                        "problem": problem,
                        "projection_matches": v.projection_matches,
                    }),
                })
            }
        }
    }

    /// Sets the alarm to the next expiry (or sooner, when a feed push waits).
    async fn schedule(&self, config: &OriginConfig, tenant: &str, subject: &str) {
        let issuer = config.issuer();
        let Ok(mut store) = DoStore::open(&self.state.storage(), None) else { return };
        let next = Ledger::new(&mut store, &issuer).next_expiry(tenant, subject).ok().flatten();
        let pending = self.pending_feed().is_some();
        let mut at_ms = next.map(|t| (t.0 as f64) * 1000.0);
        if pending {
            let soon = crate::clock::now_ms() + FEED_RETRY_MS;
            at_ms = Some(at_ms.map_or(soon, |t| t.min(soon)));
        }
        let storage = self.state.storage();
        match at_ms {
            Some(ms) => {
                let at = worker::ScheduledTime::new(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms)));
                let _ = storage.set_alarm(at).await;
            }
            None => {
                let _ = storage.delete_alarm().await;
            }
        }
    }

    fn pending_feed(&self) -> Option<Vec<(String, i64)>> {
        let mut store = DoStore::open(&self.state.storage(), None).ok()?;
        let rows = store.query("SELECT value FROM ledger_meta WHERE key = 'feed_outbox'", &[]).ok()?;
        let text = rows.first()?.first()?.as_text()?.to_string();
        serde_json::from_str(&text).ok()
    }

    fn set_pending_feed(&self, bundles: &[(String, i64)]) {
        let Ok(mut store) = DoStore::open(&self.state.storage(), None) else { return };
        let batch = if bundles.is_empty() {
            vec![crate::ledger::Statement::new("DELETE FROM ledger_meta WHERE key = 'feed_outbox'", vec![])]
        } else {
            vec![crate::ledger::Statement::new(
                "INSERT INTO ledger_meta (key, value) VALUES ('feed_outbox', ?) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                vec![Value::Text(serde_json::to_string(bundles).unwrap_or_default())],
            )]
        };
        let _ = store.apply(&batch);
    }

    /// Pushes revoked bundles to the tenant's feed now; keeps them for the
    /// alarm if the push fails.
    async fn push_feed(&self, tenant: &str, mut bundles: Vec<(String, i64)>) {
        if let Some(waiting) = self.pending_feed() {
            bundles.extend(waiting);
        }
        let call = DirectoryCall::RevokeBundles { tenant: tenant.to_string(), bundles: bundles.clone() };
        let pushed = super::call_directory(&self.env, tenant, &call).await.is_ok_and(|r| r.status == 200);
        self.set_pending_feed(if pushed { &[] } else { &bundles });
    }

    async fn retry_feed(&self, tenant: &str) {
        if let Some(waiting) = self.pending_feed() {
            self.push_feed(tenant, waiting).await;
        }
    }
}

/// The Durable Object name of a subject's ledger.
pub fn object_name(tenant: &str, subject: &str) -> String {
    format!("{tenant}/{subject}")
}
