//! `SubjectLedger`: one Durable Object per (tenant, subject). It owns that
//! subject's ledger (its SQLite storage holds the subject's events and
//! projection), so the subject's writes are serialised here and nowhere
//! else, and its alarm expires signals on time. What a write must tell
//! others (revoked bundles for the tenant's feed, ...) is written to the
//! subject's outbox in the same transaction, delivered right after the
//! write, and retried by the alarm until acknowledged.
// The `#[durable_object]` macro adds undocumented public glue (the JS
// constructor and handlers).
#![allow(missing_docs)]

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::config::OriginConfig;
use super::protocol::{CallReply, DirectoryCall, SubjectCall, SubjectOp};
use super::store::DoStore;
use crate::ledger::entropy::OsEntropy;
use crate::ledger::{outbox, ActorType, Caller, Ledger, LedgerError, Reply, Store, Value};

/// One subject's ledger.
#[durable_object]
pub struct SubjectLedger {
    state: State,
    env: Env,
}

fn problem(e: &LedgerError) -> CallReply {
    if e.status() >= 500 {
        super::log(&serde_json::json!({ "sg": "ledger_failure", "code": e.code(), "detail": e.to_string() }));
    }
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
        let mut answer = match self.answer(&config, &call) {
            Ok(r) => reply(r),
            Err(e) => problem(&e),
        };
        // What this write left in the outbox goes out now; whatever cannot
        // is retried by the alarm. A revocation says whether the gates
        // already have it.
        let propagated = self.deliver(&call.tenant, &call.subject, false).await;
        if answer.status < 400 && call.op == SubjectOp::Revoke {
            answer.body["propagated"] = serde_json::Value::Bool(propagated);
        }
        self.schedule(&config, &call.tenant, &call.subject).await;
        Response::from_json(&answer)
    }

    async fn alarm(&self) -> Result<Response> {
        let Ok(config) = super::config(&self.env) else { return Response::ok("no configuration") };
        let Some((tenant, subject)) = self.identity() else { return Response::ok("no subject yet") };
        let issuer = config.issuer();
        if let Ok(mut store) = DoStore::open(&self.state.storage(), None) {
            if let Err(e) = Ledger::new(&mut store, &issuer, &config.data_keys, &mut OsEntropy).expire_due(
                &tenant,
                &subject,
                crate::clock::now(),
            ) {
                super::log(&serde_json::json!({ "sg": "expiry_failed", "tenant": tenant, "code": e.code() }));
            }
        }
        self.deliver(&tenant, &subject, true).await;
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
        let mut entropy = OsEntropy;
        let mut ledger = Ledger::new(&mut store, &issuer, &config.data_keys, &mut entropy);
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

    /// Sets the alarm to the next expiry or the next outbox delivery,
    /// whichever comes first.
    async fn schedule(&self, config: &OriginConfig, tenant: &str, subject: &str) {
        let issuer = config.issuer();
        let Ok(mut store) = DoStore::open(&self.state.storage(), None) else { return };
        let next = Ledger::new(&mut store, &issuer, &config.data_keys, &mut OsEntropy)
            .next_expiry(tenant, subject)
            .ok()
            .flatten();
        let due = outbox::next_due(&mut store, tenant, subject).ok().flatten();
        let at = match (next, due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let storage = self.state.storage();
        match at {
            Some(t) => {
                // Never in the past: an alarm that keeps failing must not spin.
                let ms = ((t.0 as f64) * 1000.0).max(crate::clock::now_ms() + 250.0);
                let at = worker::ScheduledTime::new(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms)));
                let _ = storage.set_alarm(at).await;
            }
            None => {
                let _ = storage.delete_alarm().await;
            }
        }
    }

    /// Delivers the outbox's messages to the tenant's directory (all of
    /// them right after a write, the due ones from the alarm): acknowledged
    /// ones are deleted, failed ones wait for their next try. Returns
    /// whether nothing is left waiting.
    async fn deliver(&self, tenant: &str, subject: &str, due_only: bool) -> bool {
        let Ok(mut store) = DoStore::open(&self.state.storage(), None) else { return false };
        let now = crate::clock::now();
        let Ok(messages) = outbox::pending(&mut store, tenant, subject, now, due_only, 100) else { return false };
        if messages.is_empty() {
            return true;
        }
        let call = DirectoryCall::Receive { tenant: tenant.to_string(), messages: messages.clone() };
        let delivered = super::call_directory(&self.env, tenant, &call).await.is_ok_and(|r| r.status == 200);
        let batch: Vec<_> = messages
            .iter()
            .map(|m| {
                if delivered {
                    outbox::ack(tenant, subject, &m.msg_id)
                } else {
                    outbox::failed(tenant, subject, &m.msg_id, m.attempts, now)
                }
            })
            .collect();
        let _ = store.apply(&batch);
        if !delivered {
            super::log(
                &serde_json::json!({ "sg": "outbox_delivery_failed", "tenant": tenant, "messages": messages.len() }),
            );
        }
        delivered && outbox::next_due(&mut store, tenant, subject).ok().flatten().is_none()
    }
}

/// The Durable Object name of a subject's ledger.
pub fn object_name(tenant: &str, subject: &str) -> String {
    format!("{tenant}/{subject}")
}
