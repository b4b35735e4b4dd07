//! The operators' routes (`/v1/admin/...`, the admin token): API keys,
//! subjects (verify, restore, retention locks, maintenance, history,
//! evidence, the raw intake queue), webhook endpoints and deliveries, and
//! the tenant's metrics. Each names its tenant with `?tenant=`.

use serde_json::{json, Value as Json};
use worker::{Env, Request, Response};

use super::super::config::OriginConfig;
use super::super::protocol::{DirectoryCall, SubjectCall, SubjectOp, WebhookAction};
use super::http::{admin_tenant, body, check_admin, ident_param, json_response, random, relay, storage};
use crate::ledger::access::ApiKey;
use crate::ledger::{api_key_request, ActorType, ApiKeyRequest, LedgerError};
use crate::serve::url::query_param;

type Answer = std::result::Result<Response, LedgerError>;

/// `POST /v1/admin/api-keys`: a new API key (`{"tenant", "label", "role"}`),
/// shown once.
pub(crate) async fn api_key(req: &mut Request, env: &Env, config: &OriginConfig) -> Answer {
    check_admin(req, config)?;
    let text = body(req).await?;
    let ApiKeyRequest { tenant, label, role } = api_key_request(text.as_bytes())?;
    if !config.serves(&tenant) {
        return Err(LedgerError::InvalidField { field: "tenant", detail: "not a tenant of this origin".into() });
    }
    if config.policy.role(&role).is_none() {
        let known: Vec<&str> = config.policy.roles().iter().map(|r| r.name.as_str()).collect();
        return Err(LedgerError::InvalidField {
            field: "role",
            detail: format!("not a role of the policy; known: {}", known.join(", ")),
        });
    }
    let (key, token) = ApiKey::generate(&tenant, &random::<40>()?)
        .ok_or(LedgerError::InvalidField { field: "tenant", detail: "not an identifier".into() })?;
    let call = DirectoryCall::AddKey { tenant: tenant.clone(), token: token.clone(), label, role: role.clone() };
    let reply = super::super::call_directory(env, &tenant, &call).await?;
    if reply.status != 200 {
        return relay(&reply);
    }
    let body = json!({ "tenant": tenant, "key_id": key.key_id, "role": role, "api_key": token, "note": "shown once: store it now" });
    json_response(201, &body).map_err(storage)
}

/// `POST /v1/admin/api-keys/{key_id}/revoke?tenant=`: retires an API key.
/// Origins that checked it recently stop accepting it within 30 s.
pub(crate) async fn revoke_key(req: &Request, env: &Env, config: &OriginConfig, key_id: &str, url: &str) -> Answer {
    check_admin(req, config)?;
    let tenant = admin_tenant(config, url)?;
    if !crate::model::is_ident(key_id) {
        return Err(LedgerError::NotFound);
    }
    let call = DirectoryCall::RevokeKey { tenant: tenant.clone(), key_id: key_id.to_string() };
    relay(&super::super::call_directory(env, &tenant, &call).await?)
}

/// `/v1/admin/subjects/{subject}/{action}?tenant=`: an operator's operation
/// on one subject.
pub(crate) async fn subject(
    req: &mut Request,
    env: &Env,
    config: &OriginConfig,
    subject: &str,
    op: SubjectOp,
    target: Option<&str>,
    url: &str,
) -> Answer {
    check_admin(req, config)?;
    let tenant = admin_tenant(config, url)?;
    if !crate::model::is_ident(subject) || target.is_some_and(|t| !crate::model::is_ident(t)) {
        return Err(LedgerError::NotFound);
    }
    let text = if matches!(op, SubjectOp::Lock | SubjectOp::IntakeMap) { body(req).await? } else { String::new() };
    let body = match op {
        SubjectOp::Lock => lock_body(&text)?,
        SubjectOp::IntakeMap => value_body(&text)?,
        _ => text,
    };
    let mut call = SubjectCall {
        op,
        tenant,
        subject: subject.to_string(),
        actor: ActorType::Operator,
        actor_id: "admin".into(),
        key: None,
        target: target.map(str::to_string),
        body,
        crash_after: None,
        role: None,
    };
    if op == SubjectOp::Evidence {
        return super::subject::evidence(env, config, url, &mut call).await;
    }
    relay(&super::super::call_subject(env, &call).await?)
}

fn object(text: &str, allowed: &[&str]) -> std::result::Result<serde_json::Map<String, Json>, LedgerError> {
    let m = crate::ledger::request_object(text.as_bytes())?;
    if m.keys().any(|k| !allowed.contains(&k.as_str())) {
        return Err(LedgerError::MalformedBody { detail: format!("unknown member; expected {}", allowed.join(", ")) });
    }
    Ok(m)
}

/// `{"until": unix, "reason": ident}`.
fn lock_body(text: &str) -> std::result::Result<String, LedgerError> {
    let m = object(text, &["until", "reason"])?;
    let until = m.get("until").and_then(Json::as_i64).ok_or(LedgerError::MissingField { field: "until" })?;
    let reason = m
        .get("reason")
        .and_then(Json::as_str)
        .filter(|r| crate::model::is_ident(r))
        .ok_or(LedgerError::InvalidField { field: "reason", detail: "expected an identifier".into() })?;
    Ok(json!({ "until": until, "reason": reason }).to_string())
}

/// `{"value": text}` (a vocabulary value, or an answer the policy maps).
fn value_body(text: &str) -> std::result::Result<String, LedgerError> {
    let m = object(text, &["value"])?;
    let value = m
        .get("value")
        .and_then(Json::as_str)
        .filter(|v| !v.is_empty() && v.chars().count() <= 200)
        .ok_or(LedgerError::InvalidField { field: "value", detail: "expected the value to map to".into() })?;
    Ok(json!({ "value": value }).to_string())
}

/// `/v1/admin/webhooks...?tenant=`: endpoints and deliveries.
pub(crate) async fn webhooks(req: &mut Request, env: &Env, config: &OriginConfig, path: &[&str], url: &str) -> Answer {
    check_admin(req, config)?;
    let tenant = admin_tenant(config, url)?;
    let method = req.inner().method();
    let action = match (method.as_str(), path) {
        ("POST", []) => {
            let m = object(&body(req).await?, &["url", "events"])?;
            let url =
                m.get("url").and_then(Json::as_str).ok_or(LedgerError::MissingField { field: "url" })?.to_string();
            let events: Vec<String> = m.get("events").and_then(|e| serde_json::from_value(e.clone()).ok()).ok_or(
                LedgerError::InvalidField { field: "events", detail: "expected a list of event types".into() },
            )?;
            WebhookAction::Add { url, events }
        }
        ("GET", []) => WebhookAction::List,
        ("GET", ["deliveries"]) => {
            WebhookAction::Deliveries { subject: ident_param(url, "subject")?, state: ident_param(url, "state")? }
        }
        ("POST", [endpoint, "rotate"]) => WebhookAction::Rotate { endpoint_id: ident(endpoint)? },
        ("POST", [endpoint, "disable"]) => WebhookAction::Disable { endpoint_id: ident(endpoint)? },
        ("POST", [endpoint, "deliveries", msg, "retry"]) => {
            WebhookAction::Retry { endpoint_id: ident(endpoint)?, msg_id: ident(msg)? }
        }
        (_, [] | ["deliveries"] | [_, "rotate" | "disable"] | [_, "deliveries", _, "retry"]) => {
            return Err(LedgerError::MethodNotAllowed)
        }
        _ => return Err(LedgerError::NotFound),
    };
    relay(
        &super::super::call_directory(env, &tenant, &DirectoryCall::Webhooks { tenant: tenant.clone(), action })
            .await?,
    )
}

fn ident(s: &str) -> std::result::Result<String, LedgerError> {
    if crate::model::is_ident(s) {
        Ok(s.to_string())
    } else {
        Err(LedgerError::NotFound)
    }
}

/// `GET /v1/admin/metrics?tenant=&format=prometheus|json`.
pub(crate) async fn metrics(req: &Request, env: &Env, config: &OriginConfig, url: &str) -> Answer {
    check_admin(req, config)?;
    let tenant = admin_tenant(config, url)?;
    let reply = super::super::call_directory(env, &tenant, &DirectoryCall::Metrics { tenant: tenant.clone() }).await?;
    if reply.status != 200 {
        return relay(&reply);
    }
    match query_param(url, "format").as_deref() {
        None | Some("prometheus") => {
            let text = reply.body.get("prometheus").and_then(Json::as_str).unwrap_or_default().to_string();
            let mut resp = Response::ok(text).map_err(storage)?;
            resp.headers_mut().set("Content-Type", "text/plain; version=0.0.4").map_err(storage)?;
            resp.headers_mut().set("Cache-Control", "no-store").map_err(storage)?;
            Ok(resp)
        }
        Some("json") => json_response(200, reply.body.get("json").unwrap_or(&Json::Null)).map_err(storage),
        Some(_) => Err(LedgerError::InvalidField { field: "format", detail: "expected prometheus or json".into() }),
    }
}
