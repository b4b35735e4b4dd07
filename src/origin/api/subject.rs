//! The subject routes: who calls (a service's API key in its role, or a
//! browser's session for its own subject, or a new visitor's first
//! capture), which subject, and what the role allows; then the subject's
//! `SubjectLedger` answers. Browsers get the bundle (and a new or renewed
//! session) as cookies, and follow a merge to the subject that holds their
//! signals now.

use serde_json::{json, Value as Json};
use worker::{Env, Request, Response};

use super::super::config::OriginConfig;
use super::super::protocol::{CallReply, DirectoryCall, SubjectCall, SubjectOp, WebhookAction};
use super::http::{
    body, cookie, ident_param, json_response, permit, principal, role, same_origin_json, secure, session_set_cookie,
    storage, visitor_session, Principal,
};
use crate::ledger::access::{session_cookie, Session};
use crate::ledger::evidence::Window;
use crate::ledger::{bundle_request, same_subject, subject_in, ActorType, LedgerError};
use crate::serve::url::query_param;
use crate::serve::BUNDLE_COOKIE;

type Answer = std::result::Result<Response, LedgerError>;

/// Whether `op` carries a request body.
fn has_body(op: SubjectOp) -> bool {
    !matches!(op, SubjectOp::List | SubjectOp::History | SubjectOp::Evidence)
}

/// What a service's role must allow for `op`.
fn allowed(role: &crate::model::policy::Role, op: SubjectOp) -> std::result::Result<(), LedgerError> {
    match op {
        SubjectOp::List => Ok(()),
        SubjectOp::Submit
        | SubjectOp::Reconfirm
        | SubjectOp::Revoke
        | SubjectOp::Bundle
        | SubjectOp::Intake
        | SubjectOp::DeleteSignal => permit(role.write, "write signals"),
        SubjectOp::Delete => permit(role.delete, "delete subjects"),
        SubjectOp::History | SubjectOp::Evidence => permit(role.history, "read the history"),
        _ => Err(LedgerError::Forbidden { detail: "not a service's operation".into() }),
    }
}

/// What a browser may do for its own subject.
fn browser_may(op: SubjectOp) -> bool {
    matches!(
        op,
        SubjectOp::Submit
            | SubjectOp::Reconfirm
            | SubjectOp::Revoke
            | SubjectOp::List
            | SubjectOp::Bundle
            | SubjectOp::Intake
            | SubjectOp::DeleteSignal
            | SubjectOp::Delete
            | SubjectOp::Evidence
    )
}

/// The subject a route names in its path (`me` for a browser's own).
fn path_subject(path_subject: Option<&str>, own: &str) -> std::result::Result<(), LedgerError> {
    match path_subject {
        None => Ok(()),
        Some(s) if s == "me" || s == own => Ok(()),
        Some(_) => Err(LedgerError::Forbidden { detail: "a browser acts for its own subject only (`me`)".into() }),
    }
}

/// A subject route. `target` is the signal or consent the path names;
/// `named` the subject the path names (`/v1/subjects/{id}/...`).
pub(crate) async fn subject_call(
    req: &mut Request,
    env: &Env,
    config: &OriginConfig,
    url: &str,
    op: SubjectOp,
    target: Option<&str>,
    named: Option<&str>,
) -> Answer {
    if target.is_some_and(|t| !crate::model::is_ident(t)) || named.is_some_and(|n| !crate::model::is_ident(n)) {
        return Err(LedgerError::NotFound);
    }
    let with_body = has_body(op);
    let text = if with_body { body(req).await? } else { String::new() };
    let key = req.headers().get("Idempotency-Key").ok().flatten();
    let who = principal(req, env, config, url).await?;
    let mut new_session = None;
    let mut role_name = None;
    let (tenant, subject, actor, actor_id) = match who {
        Principal::Service { tenant, key_id, role: r } => {
            allowed(role(config, &r)?, op)?;
            let in_body = match op {
                SubjectOp::List => ident_param(url, "subject_id")?,
                SubjectOp::Bundle => bundle_request(text.as_bytes())?,
                SubjectOp::Delete | SubjectOp::History | SubjectOp::Evidence => None,
                _ => subject_in(text.as_bytes())?,
            };
            let subject =
                named.map(str::to_string).or(in_body).ok_or(LedgerError::MissingField { field: "subject_id" })?;
            role_name = Some(r);
            (tenant, subject, ActorType::Service, key_id)
        }
        Principal::Subject(session) => {
            if !browser_may(op) {
                return Err(LedgerError::Forbidden { detail: "not a browser's operation".into() });
            }
            same_origin_json(req, url, with_body && !text.trim().is_empty())?;
            path_subject(named, &session.subject)?;
            if session.needs_renewal(crate::clock::now()) {
                new_session = Some(Session::new(&session.tenant, &session.subject, crate::clock::now()));
            }
            if op == SubjectOp::Bundle {
                same_subject(bundle_request(text.as_bytes())?.as_deref(), &session.subject)?;
            }
            (session.tenant, session.subject.clone(), ActorType::Subject, session.subject)
        }
        Principal::Visitor => {
            if !matches!(op, SubjectOp::Submit | SubjectOp::Intake) {
                return Err(LedgerError::Unauthenticated {
                    detail: "no session: capture a preference first, or use an API key".into(),
                });
            }
            same_origin_json(req, url, true)?;
            let session = visitor_session(config, url)?;
            let (tenant, subject) = (session.tenant.clone(), session.subject.clone());
            new_session = Some(session);
            (tenant, subject.clone(), ActorType::Subject, subject)
        }
    };
    let browser = actor == ActorType::Subject;
    let crash_after = req.headers().get("Sg-Test-Crash-After").ok().flatten().and_then(|n| n.parse().ok());
    let mut call = SubjectCall {
        op,
        tenant: tenant.clone(),
        subject,
        actor,
        actor_id,
        key,
        target: target.map(str::to_string),
        body: text,
        crash_after,
        role: role_name,
    };
    if op == SubjectOp::Delete {
        call.body = delete_body(&call.body)?;
    }
    if op == SubjectOp::Evidence {
        return evidence(env, config, url, &mut call).await;
    }
    let mut reply: CallReply = super::super::call_subject(env, &call).await?;
    // A browser whose subject was merged follows it: the same request on
    // the subject that holds its signals now, and a session for that one.
    if browser && reply.status == 409 {
        if let Some(into) = reply.body.get("merged_into").and_then(Json::as_str).map(str::to_string) {
            call.actor_id = into.clone();
            call.subject = into.clone();
            new_session = Some(Session::new(&tenant, &into, crate::clock::now()));
            reply = super::super::call_subject(env, &call).await?;
        }
    }
    let mut resp = json_response(reply.status, &reply.body).map_err(storage)?;
    let headers = resp.headers_mut();
    let set = |headers: &mut worker::Headers, c: String| headers.append("Set-Cookie", &c).map_err(storage);
    // Cookies are for browsers: a server with an API key gets the bundle in
    // the body only.
    if reply.status < 400 && browser {
        if let Some(header) = new_session.and_then(|s| session_set_cookie(&s, config, url)) {
            set(headers, header)?;
        }
        let token = reply.body.get("bundle").and_then(|b| b.get("token")).and_then(|t| t.as_str());
        let expires = reply.body.get("bundle").and_then(|b| b.get("expires_at")).and_then(|t| t.as_i64());
        if let (Some(token), Some(exp)) = (token, expires) {
            let max_age = (exp - crate::clock::now().0).max(0);
            set(headers, cookie(BUNDLE_COOKIE, token, max_age, secure(url)))?;
        }
        if op == SubjectOp::Delete {
            // An erased or deleted subject's browser forgets it.
            for name in [session_cookie(secure(url)), BUNDLE_COOKIE] {
                set(headers, cookie(name, "", 0, secure(url)))?;
            }
        }
    }
    Ok(resp)
}

/// The body of a deletion request: `{"erase": bool, "reason": ident}`,
/// strictly.
fn delete_body(text: &str) -> std::result::Result<String, LedgerError> {
    if text.trim().is_empty() {
        return Ok(json!({ "erase": false, "reason": null }).to_string());
    }
    let m = crate::ledger::request_object(text.as_bytes())?;
    if m.keys().any(|k| !["erase", "reason"].contains(&k.as_str())) {
        return Err(LedgerError::MalformedBody { detail: "unknown member; expected erase, reason".into() });
    }
    let erase = match m.get("erase") {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(_) => return Err(LedgerError::InvalidField { field: "erase", detail: "expected true or false".into() }),
    };
    let reason = match m.get("reason") {
        None | Some(Json::Null) => None,
        Some(Json::String(r)) if crate::model::is_ident(r) => Some(r.clone()),
        Some(_) => return Err(LedgerError::InvalidField { field: "reason", detail: "expected an identifier".into() }),
    };
    Ok(json!({ "erase": erase, "reason": reason }).to_string())
}

/// An evidence pack: the subject's webhook deliveries from the directory,
/// the pack from the subject's ledger, signed here with the origin's key;
/// as a JWS (default), JSON or an HTML page (`?format=`), for `?from=` to
/// `?to=` (Unix seconds).
pub(crate) async fn evidence(env: &Env, config: &OriginConfig, url: &str, call: &mut SubjectCall) -> Answer {
    let time = |name: &'static str| -> std::result::Result<Option<i64>, LedgerError> {
        query_param(url, name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| LedgerError::InvalidField { field: name, detail: "expected Unix seconds".into() })
            })
            .transpose()
    };
    let window = Window { from: time("from")?, to: time("to")? };
    let format = query_param(url, "format").unwrap_or_else(|| "jws".into());
    if !["jws", "json", "html"].contains(&format.as_str()) {
        return Err(LedgerError::InvalidField { field: "format", detail: "expected jws, json or html".into() });
    }
    let action = WebhookAction::Deliveries { subject: Some(call.subject.clone()), state: None };
    let deliveries = super::super::call_directory(
        env,
        &call.tenant,
        &DirectoryCall::Webhooks { tenant: call.tenant.clone(), action },
    )
    .await?;
    call.body =
        json!({ "window": window, "deliveries": deliveries.body.get("deliveries").cloned().unwrap_or(json!([])) })
            .to_string();
    let reply = super::super::call_subject(env, call).await?;
    if reply.status != 200 {
        return super::http::relay(&reply);
    }
    let (text, content_type) = match format.as_str() {
        "json" => (serde_json::to_string_pretty(&reply.body).unwrap_or_default(), "application/json"),
        "html" => (crate::ledger::evidence_html::render(&reply.body), "text/html; charset=utf-8"),
        _ => (crate::ledger::evidence::sign(&reply.body, &config.signer), "application/jose"),
    };
    let mut resp = Response::ok(text).map_err(storage)?;
    let headers = resp.headers_mut();
    headers.set("Content-Type", content_type).map_err(storage)?;
    headers.set("Cache-Control", "no-store").map_err(storage)?;
    if format == "html" {
        headers.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'").map_err(storage)?;
    }
    Ok(resp)
}
