//! `TenantDirectory`: one Durable Object per tenant, holding its API keys
//! (hashed), its revocation feed, its merge requests (the review queue),
//! its webhook endpoints and deliveries, and its subjects' latest figures
//! for the metrics. Subjects hand it their outbox messages; its alarm sends
//! the due webhook deliveries.
// The `#[durable_object]` macro adds undocumented public glue (the JS
// constructor and handlers).
#![allow(missing_docs)]

use serde_json::json;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::protocol::{CallReply, DirectoryCall, WebhookAction};
use super::store::DoStore;
use crate::ledger::access::ApiKey;
use crate::ledger::entropy::{Entropy, OsEntropy};
use crate::ledger::metrics::{Metrics, SubjectStats};
use crate::ledger::{plan_merge, Directory, LedgerError, Outgoing, Statement, Store, Value};

/// Deliveries sent per alarm run.
const DELIVERIES_PER_RUN: i64 = 50;

/// A tenant's directory.
#[durable_object]
pub struct TenantDirectory {
    state: State,
    env: Env,
}

fn reply(e: &LedgerError) -> CallReply {
    if e.status() >= 500 {
        super::log(&json!({ "sg": "directory_failure", "code": e.code(), "detail": e.to_string() }));
    }
    CallReply { status: e.status(), body: serde_json::to_value(e.problem()).unwrap_or_default() }
}

impl DurableObject for TenantDirectory {
    fn new(state: State, env: Env) -> Self {
        TenantDirectory { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let call: DirectoryCall = req.json().await?;
        let reply = match self.answer(call) {
            Ok(r) => r,
            Err(e) => reply(&e),
        };
        self.schedule().await;
        Response::from_json(&reply)
    }

    async fn alarm(&self) -> Result<Response> {
        self.deliver().await;
        self.schedule().await;
        Response::ok("done")
    }
}

impl TenantDirectory {
    fn store(&self) -> std::result::Result<DoStore, LedgerError> {
        Ok(DoStore::open(&self.state.storage(), None)?)
    }

    /// The tenant this object serves, kept on first use.
    fn tenant(&self) -> Option<String> {
        let mut store = self.store().ok()?;
        let rows = store.query("SELECT value FROM ledger_meta WHERE key = 'tenant'", &[]).ok()?;
        Some(rows.first()?.first()?.as_text()?.to_string())
    }

    fn remember_tenant(&self, store: &mut DoStore, tenant: &str) -> std::result::Result<(), LedgerError> {
        store.apply(&[Statement::new(
            "INSERT OR IGNORE INTO ledger_meta (key, value) VALUES ('tenant', ?)",
            vec![Value::Text(tenant.to_string())],
        )])?;
        Ok(())
    }

    fn answer(&self, call: DirectoryCall) -> std::result::Result<CallReply, LedgerError> {
        let mut store = self.store()?;
        let now = crate::clock::now();
        let ok = |body| CallReply { status: 200, body };
        let tenant_of = |c: &DirectoryCall| match c {
            DirectoryCall::AddKey { tenant, .. }
            | DirectoryCall::RevokeKey { tenant, .. }
            | DirectoryCall::Receive { tenant, .. }
            | DirectoryCall::Feed { tenant, .. }
            | DirectoryCall::RecordMerge { tenant, .. }
            | DirectoryCall::SetMerge { tenant, .. }
            | DirectoryCall::Merges { tenant, .. }
            | DirectoryCall::Webhooks { tenant, .. }
            | DirectoryCall::Metrics { tenant } => Some(tenant.clone()),
            DirectoryCall::CheckKey { .. } => None,
        };
        if let Some(t) = tenant_of(&call) {
            self.remember_tenant(&mut store, &t)?;
        }
        let mut dir = Directory::new(&mut store);
        Ok(match call {
            DirectoryCall::AddKey { tenant, token, label, role } => {
                let key = ApiKey::parse(&token).filter(|k| k.tenant == tenant).ok_or(LedgerError::InvalidField {
                    field: "token",
                    detail: "not an API key of this tenant".into(),
                })?;
                dir.add_api_key(&key, &label, &role, now)?;
                ok(json!({ "key_id": key.key_id, "role": role }))
            }
            DirectoryCall::RevokeKey { tenant, key_id } => {
                if !dir.revoke_api_key(&tenant, &key_id, now)? {
                    return Err(LedgerError::NotFound);
                }
                ok(json!({ "key_id": key_id, "revoked": true }))
            }
            DirectoryCall::CheckKey { token } => {
                let role = ApiKey::parse(&token).map(|k| dir.check_api_key(&k)).transpose()?.flatten();
                ok(json!({ "valid": role.is_some(), "role": role }))
            }
            DirectoryCall::Receive { tenant, subject, messages, stats } => {
                let seq = dir.receive(&tenant, &messages, now)?;
                if let Some(stats) = stats {
                    dir.store.apply(&[Statement::new(
                        "INSERT INTO subject_stats (tenant_id, subject_id, stats, updated_at) VALUES (?, ?, ?, ?) \
                         ON CONFLICT (tenant_id, subject_id) DO UPDATE SET stats = excluded.stats, updated_at = excluded.updated_at",
                        vec![
                            tenant.as_str().into(),
                            subject.as_str().into(),
                            serde_json::to_string(&stats).unwrap_or_default().into(),
                            now.0.into(),
                        ],
                    )])?;
                }
                ok(json!({ "seq": seq }))
            }
            DirectoryCall::Feed { tenant, since } => ok(dir.feed(&tenant, since, now)?),
            DirectoryCall::RecordMerge { tenant, source, target, evidence, requested_by } => {
                let config = super::config(&self.env).map_err(|detail| LedgerError::Config { detail })?;
                let plan = plan_merge(&config.policy, &tenant, &source, &target, &evidence)?;
                if let Some(other) = dir.merge_of_source(&tenant, &source)? {
                    if other.merge_id != plan.merge_id {
                        return Err(LedgerError::MergeConflict {
                            detail: format!("the source is already merged ({})", other.merge_id),
                        });
                    }
                }
                if dir.merge_of_source(&tenant, &target)?.is_some() {
                    return Err(LedgerError::MergeConflict {
                        detail: "the target was itself merged into another subject; merge into that one".into(),
                    });
                }
                let (record, created) = dir.record_merge(&tenant, &source, &target, &plan, &requested_by, now)?;
                ok(json!({ "merge": record, "created": created, "threshold": f64::from(plan.threshold_bp) / 10_000.0 }))
            }
            DirectoryCall::SetMerge { tenant, merge_id, from, state, by, note } => {
                let from: Vec<&str> = from.iter().map(String::as_str).collect();
                let record =
                    dir.set_merge_state(&tenant, &merge_id, &from, &state, by.as_deref(), note.as_deref(), now)?;
                ok(json!({ "merge": record }))
            }
            DirectoryCall::Merges { tenant, merge_id, state } => match merge_id {
                Some(id) => {
                    ok(json!({ "merge": dir.merge(&tenant, &id)?.ok_or(LedgerError::UnknownMerge { merge: id })? }))
                }
                None => ok(json!({ "merges": dir.merges(&tenant, state.as_deref())? })),
            },
            DirectoryCall::Webhooks { tenant, action } => match action {
                WebhookAction::Add { url, events } => {
                    let (endpoint_id, secret) = dir.add_endpoint(&tenant, &url, &events, &mut OsEntropy, now)?;
                    CallReply {
                        status: 201,
                        body: json!({ "endpoint_id": endpoint_id, "secret": secret.to_string(), "note": "shown once: store it now" }),
                    }
                }
                WebhookAction::List => ok(json!({ "endpoints": dir.endpoints(&tenant)? })),
                WebhookAction::Rotate { endpoint_id } => {
                    let secret = dir.rotate_endpoint_secret(&tenant, &endpoint_id, &mut OsEntropy, now)?;
                    ok(json!({ "endpoint_id": endpoint_id, "secret": secret.to_string(),
                        "note": "shown once; the previous secret keeps signing for 24 hours" }))
                }
                WebhookAction::Disable { endpoint_id } => {
                    dir.disable_endpoint(&tenant, &endpoint_id, now)?;
                    ok(json!({ "endpoint_id": endpoint_id, "disabled": true }))
                }
                WebhookAction::Deliveries { subject, state } => {
                    ok(json!({ "deliveries": dir.deliveries(&tenant, subject.as_deref(), state.as_deref())? }))
                }
                WebhookAction::Retry { endpoint_id, msg_id } => {
                    dir.retry_dead(&tenant, &endpoint_id, &msg_id, now)?;
                    ok(json!({ "endpoint_id": endpoint_id, "msg_id": msg_id, "state": "pending" }))
                }
            },
            DirectoryCall::Metrics { tenant } => {
                let mut m = Metrics::default();
                for r in
                    dir.store.query("SELECT stats FROM subject_stats WHERE tenant_id = ?", &[tenant.as_str().into()])?
                {
                    if let Some(s) =
                        r.first().and_then(Value::as_text).and_then(|t| serde_json::from_str::<SubjectStats>(t).ok())
                    {
                        m.add(&s);
                    }
                }
                ok(json!({ "json": m.json(&tenant, now), "prometheus": m.prometheus(&tenant) }))
            }
        })
    }

    /// Sets the alarm to the next due webhook delivery.
    async fn schedule(&self) {
        let Some(tenant) = self.tenant() else { return };
        let Ok(mut store) = self.store() else { return };
        let next = Directory::new(&mut store).next_delivery(&tenant).ok().flatten();
        let storage = self.state.storage();
        match next {
            Some(t) => {
                let ms = ((t.0 as f64) * 1000.0).max(crate::clock::now_ms() + 100.0);
                let at = worker::ScheduledTime::new(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms)));
                let _ = storage.set_alarm(at).await;
            }
            None => {
                let _ = storage.delete_alarm().await;
            }
        }
    }

    /// Sends the due webhook deliveries and records each result.
    async fn deliver(&self) {
        let Some(tenant) = self.tenant() else { return };
        let now = crate::clock::now();
        let due: Vec<Outgoing> = match self.store() {
            Ok(mut store) => {
                Directory::new(&mut store).due_deliveries(&tenant, now, DELIVERIES_PER_RUN).unwrap_or_default()
            }
            Err(_) => return,
        };
        for out in due {
            let (status, error) = super::webhook_http::post(&out).await;
            let mut jitter = [0u8; 4];
            let _ = OsEntropy.fill(&mut jitter);
            if let Ok(mut store) = self.store() {
                let _ = Directory::new(&mut store).delivery_result(
                    &tenant,
                    &out,
                    status,
                    error.as_deref(),
                    jitter,
                    crate::clock::now(),
                );
            }
        }
    }
}
