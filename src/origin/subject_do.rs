//! `SubjectLedger`: one Durable Object per (tenant, subject). It owns that
//! subject's ledger (its SQLite storage holds the subject's events,
//! projection, values and outbox), so the subject's writes are serialised
//! here and nowhere else. Its alarm expires signals, runs the retention job
//! and retries the outbox. What a write must tell others (revoked bundles
//! and webhook events for the tenant's directory, merge and split hand-offs
//! for another subject) is written to the outbox in the same transaction,
//! delivered right after the write, and retried until acknowledged.
// The `#[durable_object]` macro adds undocumented public glue (the JS
// constructor and handlers).
#![allow(missing_docs)]

use serde_json::{json, Value as Json};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::config::OriginConfig;
use super::protocol::{CallReply, DirectoryCall, SubjectCall, SubjectOp};
use super::store::DoStore;
use crate::ledger::entropy::OsEntropy;
use crate::ledger::evidence::Window;
use crate::ledger::outbox::{self, Kind, Message};
use crate::ledger::{
    ActorType, Caller, DeliveryRecord, Ledger, LedgerError, MergeExport, Reply, SplitBack, Store, Value,
};
use crate::time::UnixTime;

/// One subject's ledger.
#[durable_object]
pub struct SubjectLedger {
    state: State,
    env: Env,
}

fn problem(e: &LedgerError) -> CallReply {
    if e.status() >= 500 {
        super::log(&json!({ "sg": "ledger_failure", "code": e.code(), "detail": e.to_string() }));
    }
    CallReply { status: e.status(), body: serde_json::to_value(e.problem()).unwrap_or_default() }
}

fn reply(r: Reply) -> CallReply {
    CallReply { status: r.status, body: r.body }
}

/// A body member the front put there.
fn member<T: serde::de::DeserializeOwned>(body: &str, name: &str) -> std::result::Result<T, LedgerError> {
    let v: Json = serde_json::from_str(body).map_err(|e| LedgerError::MalformedBody { detail: e.to_string() })?;
    serde_json::from_value(v.get(name).cloned().unwrap_or(Json::Null))
        .map_err(|e| LedgerError::MalformedBody { detail: format!("`{name}`: {e}") })
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
        // What this call left in the outbox goes out now; whatever cannot
        // is retried by the alarm. A revocation says whether the gates
        // already have it; a merge or split whether the other side does.
        let delivered = self.deliver(&config, &call.tenant, &call.subject, false).await;
        if answer.status < 400 && matches!(call.op, SubjectOp::Revoke | SubjectOp::Delete | SubjectOp::DeleteSignal) {
            answer.body["propagated"] = Json::Bool(delivered);
        }
        if answer.status < 400 && matches!(call.op, SubjectOp::MergeOut | SubjectOp::SplitOut) {
            answer.body["handed_over"] = answer.body.get("handed_over").cloned().unwrap_or(Json::Null);
            answer.body["delivered"] = Json::Bool(delivered);
        }
        self.schedule(&config, &call.tenant, &call.subject).await;
        Response::from_json(&answer)
    }

    async fn alarm(&self) -> Result<Response> {
        let Ok(config) = super::config(&self.env) else { return Response::ok("no configuration") };
        let Some((tenant, subject)) = self.identity() else { return Response::ok("no subject yet") };
        self.maintain(&config, &tenant, &subject);
        self.deliver(&config, &tenant, &subject, true).await;
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

    /// Expiry and retention, as the alarm runs them.
    fn maintain(&self, config: &OriginConfig, tenant: &str, subject: &str) -> Json {
        let issuer = config.issuer();
        let Ok(mut store) = DoStore::open(&self.state.storage(), None) else { return Json::Null };
        let mut entropy = OsEntropy;
        let mut ledger = Ledger::new(&mut store, &issuer, &config.data_keys, &mut entropy);
        let now = crate::clock::now();
        let expired = ledger.expire_due(tenant, subject, now).unwrap_or_else(|e| {
            super::log(&json!({ "sg": "expiry_failed", "tenant": tenant, "code": e.code() }));
            0
        });
        let retention = ledger.enforce_retention(tenant, subject, now).unwrap_or_else(|e| {
            super::log(&json!({ "sg": "retention_failed", "tenant": tenant, "code": e.code() }));
            Default::default()
        });
        json!({ "expired": expired, "erased": retention.erased, "intake_purged": retention.intake_purged, "deferred": retention.deferred })
    }

    fn answer(&self, config: &OriginConfig, call: &SubjectCall) -> std::result::Result<Reply, LedgerError> {
        self.store(None)?.apply(&[crate::ledger::Statement::new(
            "INSERT OR IGNORE INTO ledger_meta (key, value) VALUES ('identity', ?)",
            vec![Value::Text(format!("{}/{}", call.tenant, call.subject))],
        )])?;
        // Tests only: the crash injection arms the store for this request's write.
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
        let operator_only = || {
            if call.actor == ActorType::Operator {
                Ok(())
            } else {
                Err(LedgerError::Forbidden { detail: "an operator's operation".into() })
            }
        };
        match call.op {
            SubjectOp::Submit => ledger.submit(tenant, subject, &caller, body, key, now),
            SubjectOp::Reconfirm => ledger.reconfirm(tenant, subject, &caller, target()?, body, key, now),
            SubjectOp::Revoke => ledger.revoke_consent(tenant, subject, &caller, target()?, body, key, now),
            SubjectOp::List => {
                let role = call.role.as_deref().and_then(|r| config.policy.role(r));
                ledger.list_for(tenant, subject, role, now)
            }
            SubjectOp::Bundle => ledger.issue_bundle(tenant, subject, &caller, now),
            SubjectOp::Intake => ledger.intake(tenant, subject, &caller, body, key, now),
            SubjectOp::DeleteSignal => ledger.delete_signal(tenant, subject, &caller, target()?, now),
            SubjectOp::Delete => {
                let erase: bool = member(&call.body, "erase")?;
                let reason: Option<String> = member(&call.body, "reason")?;
                ledger.delete_subject(tenant, subject, &caller, erase, reason, now)
            }
            SubjectOp::Restore => {
                operator_only()?;
                ledger.restore_subject(tenant, subject, &caller, now)
            }
            SubjectOp::Lock => {
                operator_only()?;
                let until: i64 = member(&call.body, "until")?;
                let reason: String = member(&call.body, "reason")?;
                ledger.lock_retention(tenant, subject, &caller, UnixTime(until), &reason, now)
            }
            SubjectOp::Unlock => {
                operator_only()?;
                ledger.unlock_retention(tenant, subject, &caller, now)
            }
            SubjectOp::History => ledger.history(tenant, subject),
            SubjectOp::Evidence => {
                let window: Window = member(&call.body, "window")?;
                let deliveries: Vec<DeliveryRecord> = member(&call.body, "deliveries")?;
                let pack = ledger.evidence(tenant, subject, window, &deliveries, now)?;
                Ok(Reply { status: 200, body: pack })
            }
            SubjectOp::IntakeList => {
                operator_only()?;
                let items = ledger.intake_pending(tenant, subject)?;
                let list: Vec<Json> = items
                    .iter()
                    .map(|i| {
                        json!({ "intake_id": i.intake_id, "signal_type": i.signal_type, "answer": i.answer,
                        "received_at": i.received_at.0, "purge_at": i.purge_at.0 })
                    })
                    .collect();
                Ok(Reply { status: 200, body: json!({ "subject_id": subject, "intake": list }) })
            }
            SubjectOp::IntakeMap => {
                operator_only()?;
                let value: String = member(&call.body, "value")?;
                ledger.intake_map(tenant, subject, &caller, target()?, &value, now)
            }
            SubjectOp::IntakeDiscard => {
                operator_only()?;
                ledger.intake_discard(tenant, subject, &caller, target()?, now)
            }
            SubjectOp::MergeOut => {
                let order: MergeExport = serde_json::from_str(&call.body)
                    .map_err(|e| LedgerError::MalformedBody { detail: e.to_string() })?;
                ledger.merge_out(tenant, subject, &caller, &order, now)
            }
            SubjectOp::MergeIn => {
                let export: MergeExport = serde_json::from_str(&call.body)
                    .map_err(|e| LedgerError::MalformedBody { detail: e.to_string() })?;
                ledger.merge_in(tenant, subject, &caller, &export, now)
            }
            SubjectOp::SplitOut => ledger.split_out(tenant, subject, &caller, target()?, now),
            SubjectOp::SplitIn => {
                let back: SplitBack = serde_json::from_str(&call.body)
                    .map_err(|e| LedgerError::MalformedBody { detail: e.to_string() })?;
                ledger.split_in(tenant, subject, &caller, &back, now)
            }
            SubjectOp::Maintain => {
                operator_only()?;
                drop(ledger);
                Ok(Reply { status: 200, body: self.maintain(config, tenant, subject) })
            }
            SubjectOp::Verify => {
                operator_only()?;
                let v = ledger.verify(tenant, subject)?;
                let (ok, index, seq, problem) = match &v.chain {
                    Ok(()) => (true, None, None, None),
                    Err(b) => (false, Some(b.index), Some(b.seq), Some(b.problem.clone())),
                };
                Ok(Reply {
                    status: 200,
                    body: json!({
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

    /// Sets the alarm to the next expiry, retention end or outbox
    /// delivery, whichever comes first.
    async fn schedule(&self, config: &OriginConfig, tenant: &str, subject: &str) {
        let issuer = config.issuer();
        let Ok(mut store) = DoStore::open(&self.state.storage(), None) else { return };
        let now = crate::clock::now();
        let mut entropy = OsEntropy;
        let mut ledger = Ledger::new(&mut store, &issuer, &config.data_keys, &mut entropy);
        let expiry = ledger.next_expiry(tenant, subject).ok().flatten();
        let retention = ledger.next_retention(tenant, subject, now).ok().flatten();
        drop(ledger);
        let due = outbox::next_due(&mut store, tenant, subject).ok().flatten();
        let at = [expiry, retention, due].into_iter().flatten().min();
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

    /// Delivers the outbox (all of it right after a call, the due messages
    /// from the alarm): feed entries and webhook events to the tenant's
    /// directory with the subject's latest figures, merge and split
    /// hand-offs to the other subject. Acknowledged messages are deleted,
    /// failed ones wait for their next try. Returns whether nothing is left
    /// waiting.
    async fn deliver(&self, config: &OriginConfig, tenant: &str, subject: &str, due_only: bool) -> bool {
        let Ok(mut store) = DoStore::open(&self.state.storage(), None) else { return false };
        let now = crate::clock::now();
        let Ok(messages) = outbox::pending(&mut store, tenant, subject, now, due_only, 100) else { return false };
        let stats = {
            let issuer = config.issuer();
            let mut entropy = OsEntropy;
            Ledger::new(&mut store, &issuer, &config.data_keys, &mut entropy).stats(tenant, subject, now).ok()
        };
        let (for_directory, for_subjects): (Vec<Message>, Vec<Message>) =
            messages.into_iter().partition(|m| matches!(m.kind, Kind::Feed | Kind::Webhook));
        let mut results: Vec<(Message, bool)> = Vec::new();
        if !for_directory.is_empty() || stats.is_some() {
            let call = DirectoryCall::Receive {
                tenant: tenant.to_string(),
                subject: subject.to_string(),
                messages: for_directory.clone(),
                stats,
            };
            let ok = super::call_directory(&self.env, tenant, &call).await.is_ok_and(|r| r.status == 200);
            results.extend(for_directory.into_iter().map(|m| (m, ok)));
        }
        for m in for_subjects {
            let ok = self.hand_off(tenant, &m).await;
            results.push((m, ok));
        }
        let batch: Vec<_> = results
            .iter()
            .map(|(m, ok)| {
                if *ok {
                    outbox::ack(tenant, subject, &m.msg_id)
                } else {
                    outbox::failed(tenant, subject, &m.msg_id, m.attempts, now)
                }
            })
            .collect();
        if let Ok(mut store) = DoStore::open(&self.state.storage(), None) {
            let _ = store.apply(&batch);
        }
        let failed = results.iter().filter(|(_, ok)| !ok).count();
        if failed > 0 {
            super::log(&json!({ "sg": "outbox_delivery_failed", "tenant": tenant, "messages": failed }));
        }
        failed == 0
            && DoStore::open(&self.state.storage(), None)
                .is_ok_and(|mut s| outbox::next_due(&mut s, tenant, subject).ok().flatten().is_none())
    }

    /// A merge hand-off goes to the target (following it on if the target
    /// was itself merged); a split hand-off back to the source. The
    /// directory's record of the merge is updated once it is done.
    async fn hand_off(&self, tenant: &str, m: &Message) -> bool {
        let system = |op, subject: &str, body: String, target: Option<String>| SubjectCall {
            op,
            tenant: tenant.to_string(),
            subject: subject.to_string(),
            actor: ActorType::System,
            actor_id: "ledger".into(),
            key: None,
            target,
            body,
            crash_after: None,
            role: None,
        };
        match m.kind {
            Kind::Merge => {
                let Ok(mut export) = serde_json::from_value::<MergeExport>(m.payload.clone()) else { return false };
                for _hop in 0..8 {
                    let call = system(
                        SubjectOp::MergeIn,
                        &export.target.clone(),
                        serde_json::to_string(&export).unwrap_or_default(),
                        None,
                    );
                    match super::call_subject(&self.env, &call).await {
                        Ok(r) if r.status == 200 => {
                            let done = DirectoryCall::SetMerge {
                                tenant: tenant.to_string(),
                                merge_id: export.merge_id.clone(),
                                from: vec!["accepted".into()],
                                state: "merged".into(),
                                by: None,
                                note: None,
                            };
                            let _ = super::call_directory(&self.env, tenant, &done).await;
                            return true;
                        }
                        Ok(r) if r.status == 409 => match r.body.get("merged_into").and_then(Json::as_str) {
                            Some(next) => export.target = next.to_string(),
                            None => return false,
                        },
                        _ => return false,
                    }
                }
                false
            }
            Kind::Split => {
                let Ok(back) = serde_json::from_value::<SplitBack>(m.payload.clone()) else { return false };
                let call = system(
                    SubjectOp::SplitIn,
                    &back.source.clone(),
                    serde_json::to_string(&back).unwrap_or_default(),
                    None,
                );
                matches!(super::call_subject(&self.env, &call).await, Ok(r) if r.status == 200)
            }
            Kind::Feed | Kind::Webhook => false,
        }
    }
}

/// The Durable Object name of a subject's ledger.
pub fn object_name(tenant: &str, subject: &str) -> String {
    format!("{tenant}/{subject}")
}
