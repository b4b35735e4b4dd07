//! The identity routes: merge requests (carried out at once above the
//! policy's threshold, queued for review below it), reviews, the merge
//! list, and splits. A service calls them with a key whose role has
//! `identity`; an operator with the admin token and `?tenant=`.
//!
//! A merge is recorded in the tenant's directory, then its first step runs
//! on the source's ledger, which hands the signals to the target's ledger
//! through its outbox (retried until it is taken in) and marks the merge
//! done in the directory.

use serde_json::{json, Value as Json};
use worker::{Env, Request, Response};

use super::super::config::OriginConfig;
use super::super::protocol::{CallReply, DirectoryCall, SubjectCall, SubjectOp};
use super::http::{admin_tenant, body, is_admin, json_response, permit, principal, relay, role, storage, Principal};
use crate::ledger::{ActorType, LedgerError, MergeExport, MergeRecord};

type Answer = std::result::Result<Response, LedgerError>;

/// Who may call: the tenant, and the actor to record.
async fn caller(
    req: &Request,
    env: &Env,
    config: &OriginConfig,
    url: &str,
) -> std::result::Result<(String, ActorType, String), LedgerError> {
    if is_admin(req, config) {
        return Ok((admin_tenant(config, url)?, ActorType::Operator, "admin".into()));
    }
    match principal(req, env, config, url).await? {
        Principal::Service { tenant, key_id, role: r } => {
            permit(role(config, &r)?.identity, "merge or split subjects")?;
            Ok((tenant, ActorType::Service, key_id))
        }
        _ => Err(LedgerError::Unauthenticated {
            detail: "an API key whose role has `identity`, or the admin token".into(),
        }),
    }
}

fn system_call(
    op: SubjectOp,
    tenant: &str,
    subject: &str,
    actor: ActorType,
    actor_id: &str,
    target: Option<String>,
    body: String,
) -> SubjectCall {
    SubjectCall {
        op,
        tenant: tenant.to_string(),
        subject: subject.to_string(),
        actor,
        actor_id: actor_id.to_string(),
        key: None,
        target,
        body,
        crash_after: None,
        role: None,
    }
}

fn record(reply: &CallReply) -> std::result::Result<MergeRecord, LedgerError> {
    serde_json::from_value(reply.body.get("merge").cloned().unwrap_or(Json::Null))
        .map_err(|e| LedgerError::Integrity { detail: format!("merge record: {e}") })
}

async fn merge_record(env: &Env, tenant: &str, merge_id: &str) -> std::result::Result<MergeRecord, LedgerError> {
    let call = DirectoryCall::Merges { tenant: tenant.to_string(), merge_id: Some(merge_id.to_string()), state: None };
    let reply = super::super::call_directory(env, tenant, &call).await?;
    if reply.status != 200 {
        return Err(LedgerError::UnknownMerge { merge: merge_id.to_string() });
    }
    record(&reply)
}

/// Runs the first step of an accepted merge on the source's ledger (which
/// hands over to the target), then answers with the record as it stands.
async fn carry_out(env: &Env, tenant: &str, r: &MergeRecord, actor: ActorType, actor_id: &str) -> Answer {
    let order = MergeExport {
        merge_id: r.merge_id.clone(),
        source: r.source.clone(),
        target: r.target.clone(),
        confidence_bp: r.confidence_bp,
        evidence: r.evidence.clone(),
        consents: vec![],
        signals: vec![],
    };
    let call = system_call(
        SubjectOp::MergeOut,
        tenant,
        &r.source,
        actor,
        actor_id,
        None,
        serde_json::to_string(&order).unwrap_or_default(),
    );
    let out = super::super::call_subject(env, &call).await?;
    if (400..500).contains(&out.status) {
        // The source refused (deleted, merged elsewhere meanwhile): the merge
        // failed, and does not block another merge of the source.
        let code =
            out.body.get("code").and_then(Json::as_str).filter(|c| crate::model::is_ident(c)).map(str::to_string);
        let failed = DirectoryCall::SetMerge {
            tenant: tenant.to_string(),
            merge_id: r.merge_id.clone(),
            from: vec!["accepted".into()],
            state: "failed".into(),
            by: None,
            note: code,
        };
        let _ = super::super::call_directory(env, tenant, &failed).await;
    }
    if out.status != 200 {
        return relay(&out);
    }
    let now = merge_record(env, tenant, &r.merge_id).await?;
    let status = if now.state == "merged" { 200 } else { 202 };
    json_response(status, &json!({ "merge": now, "handed_over": out.body.get("handed_over") })).map_err(storage)
}

/// `POST /v1/identity/merges` `{"source", "target", "evidence": [...]}`.
pub(crate) async fn request(req: &mut Request, env: &Env, config: &OriginConfig, url: &str) -> Answer {
    let (tenant, actor, actor_id) = caller(req, env, config, url).await?;
    let m = crate::ledger::request_object(body(req).await?.as_bytes())?;
    if m.keys().any(|k| !["source", "target", "evidence"].contains(&k.as_str())) {
        return Err(LedgerError::MalformedBody { detail: "unknown member; expected source, target, evidence".into() });
    }
    let field = |name: &'static str| -> std::result::Result<String, LedgerError> {
        m.get(name).and_then(Json::as_str).map(str::to_string).ok_or(LedgerError::MissingField { field: name })
    };
    let (source, target) = (field("source")?, field("target")?);
    let evidence: Vec<String> = m
        .get("evidence")
        .and_then(|e| serde_json::from_value(e.clone()).ok())
        .ok_or(LedgerError::InvalidField { field: "evidence", detail: "expected a list of evidence kinds".into() })?;
    let call =
        DirectoryCall::RecordMerge { tenant: tenant.clone(), source, target, evidence, requested_by: actor_id.clone() };
    let reply = super::super::call_directory(env, &tenant, &call).await?;
    if reply.status != 200 {
        return relay(&reply);
    }
    let r = record(&reply)?;
    match r.state.as_str() {
        "accepted" => carry_out(env, &tenant, &r, actor, &actor_id).await,
        "review" => {
            json_response(202, &json!({ "merge": r, "threshold": reply.body.get("threshold") })).map_err(storage)
        }
        _ => json_response(200, &json!({ "merge": r })).map_err(storage),
    }
}

/// `GET /v1/identity/merges?state=` and `GET /v1/identity/merges/{id}`.
pub(crate) async fn list(req: &Request, env: &Env, config: &OriginConfig, merge_id: Option<&str>, url: &str) -> Answer {
    let (tenant, _, _) = caller(req, env, config, url).await?;
    let state = super::http::ident_param(url, "state")?;
    let call = DirectoryCall::Merges { tenant: tenant.clone(), merge_id: merge_id.map(str::to_string), state };
    relay(&super::super::call_directory(env, &tenant, &call).await?)
}

/// `POST /v1/identity/merges/{id}/approve|reject` `{"note": ident}`.
pub(crate) async fn decide(
    req: &mut Request,
    env: &Env,
    config: &OriginConfig,
    merge_id: &str,
    approve: bool,
    url: &str,
) -> Answer {
    let (tenant, actor, actor_id) = caller(req, env, config, url).await?;
    let text = body(req).await?;
    let note = if text.trim().is_empty() {
        None
    } else {
        let m = crate::ledger::request_object(text.as_bytes())?;
        if m.keys().any(|k| k != "note") {
            return Err(LedgerError::MalformedBody { detail: "unknown member; expected note".into() });
        }
        match m.get("note") {
            None | Some(Json::Null) => None,
            Some(Json::String(n)) if crate::model::is_ident(n) => Some(n.clone()),
            Some(_) => {
                return Err(LedgerError::InvalidField { field: "note", detail: "expected an identifier".into() })
            }
        }
    };
    let call = DirectoryCall::SetMerge {
        tenant: tenant.clone(),
        merge_id: merge_id.to_string(),
        from: vec!["review".into()],
        state: if approve { "accepted" } else { "rejected" }.into(),
        by: Some(actor_id.clone()),
        note,
    };
    let reply = super::super::call_directory(env, &tenant, &call).await?;
    if reply.status != 200 {
        return relay(&reply);
    }
    let r = record(&reply)?;
    if approve {
        carry_out(env, &tenant, &r, actor, &actor_id).await
    } else {
        json_response(200, &json!({ "merge": r })).map_err(storage)
    }
}

/// `POST /v1/identity/merges/{id}/split`.
pub(crate) async fn split(req: &Request, env: &Env, config: &OriginConfig, merge_id: &str, url: &str) -> Answer {
    let (tenant, actor, actor_id) = caller(req, env, config, url).await?;
    let r = merge_record(env, &tenant, merge_id).await?;
    if r.state != "merged" && r.state != "split" {
        return Err(LedgerError::MergeConflict { detail: format!("the merge is {}, not merged", r.state) });
    }
    let call = system_call(
        SubjectOp::SplitOut,
        &tenant,
        &r.target,
        actor,
        &actor_id,
        Some(merge_id.to_string()),
        String::new(),
    );
    let out = super::super::call_subject(env, &call).await?;
    if out.status != 200 {
        return relay(&out);
    }
    let set = DirectoryCall::SetMerge {
        tenant: tenant.clone(),
        merge_id: merge_id.to_string(),
        from: vec!["merged".into()],
        state: "split".into(),
        by: Some(actor_id),
        note: None,
    };
    let reply = super::super::call_directory(env, &tenant, &set).await?;
    if reply.status != 200 {
        return relay(&reply);
    }
    json_response(200, &json!({ "merge": record(&reply)?, "restored": out.body.get("restored"), "delivered": out.body.get("delivered") }))
        .map_err(storage)
}
