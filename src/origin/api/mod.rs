//! The origin's HTTP API: routing, who may call, and the answers (JSON, or
//! RFC 9457 problem documents for failures). The work happens in the
//! subject's `SubjectLedger` and the tenant's `TenantDirectory` objects.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/signals` | service (write), subject, or a new visitor | capture a preference |
//! | `POST /v1/intake` | service (write), subject, or a new visitor | a free-text answer for mapping |
//! | `POST /v1/signals/{id}/reconfirm` | service (write) or subject | reconfirm a signal |
//! | `DELETE /v1/signals/{id}` | service (write) or subject | delete a signal |
//! | `POST /v1/consents/{id}/revoke` | service (write) or subject | revoke a consent |
//! | `GET /v1/signals` | service (`?subject_id=`, fields by role) or subject | active signals and consents |
//! | `POST /v1/bundles` | service (write) or subject | a fresh bundle |
//! | `POST /v1/subjects/{id}/delete` | service (delete) or subject (`me`) | delete or erase a subject |
//! | `GET /v1/subjects/{id}/history` | service (history) | the provenance chain |
//! | `GET /v1/subjects/{id}/evidence` | service (history) or subject (`me`) | a signed evidence pack |
//! | `POST /v1/identity/merges` | service (identity) or admin | request a merge |
//! | `GET /v1/identity/merges[/{id}]` | service (identity) or admin | the merges and the review queue |
//! | `POST /v1/identity/merges/{id}/approve\|reject\|split` | service (identity) or admin | decide a review, split |
//! | `GET /v1/keys`, `GET /.well-known/jwks.json` | anyone | the public JWK Set |
//! | `GET /v1/policy` | anyone | the policy |
//! | `GET /v1/tenants/{tenant}/revocations?since=N` | anyone (the gates) | the revocation feed |
//! | `POST /v1/session` | a browser | its session (a new one, with its cookie, before a first capture) |
//! | `POST /v1/session/clear` | a browser | drop the session and bundle cookies |
//! | `POST /v1/admin/api-keys` | admin | a new API key for a tenant, in a role |
//! | `POST /v1/admin/api-keys/{key_id}/revoke?tenant=` | admin | retire an API key |
//! | `POST /v1/admin/subjects/{subject}/verify\|restore\|lock\|unlock\|maintain?tenant=` | admin | verify, undo a soft deletion, retention lock, run expiry and retention |
//! | `GET /v1/admin/subjects/{subject}/history\|evidence\|intake?tenant=` | admin | the chain, a pack, the intake queue |
//! | `POST /v1/admin/subjects/{subject}/intake/{id}/map\|discard?tenant=` | admin | map or discard a free-text answer |
//! | `POST\|GET /v1/admin/webhooks?tenant=`, `.../{ep}/rotate\|disable`, `GET .../deliveries`, `.../{ep}/deliveries/{msg}/retry` | admin | webhook endpoints and deliveries |
//! | `GET /v1/admin/metrics?tenant=&format=prometheus\|json` | admin | the tenant's metrics |
//!
//! A service presents `Authorization: Bearer <API key>`; the key's tenant is
//! the only tenant it acts for, its role (the policy's `roles`) what it may
//! do and see, and it names the subject. A browser acts for its own subject
//! only, through the signed, HttpOnly session cookie: `POST /v1/session`
//! starts one (the browser SDK does, before its first capture, so that a
//! capture sent again after a lost reply reaches the same subject), or a
//! first capture without one creates the subject and the session. Cookie-authenticated writes must be
//! JSON and, when the browser says where it comes from (`Origin`), come from
//! this origin.

mod admin;
mod http;
mod identity;
mod session;
mod subject;

use serde_json::json;
use worker::{Env, Request, Response, Result};

use super::config::OriginConfig;
use super::protocol::{DirectoryCall, SubjectOp};
use crate::ledger::LedgerError;
use crate::serve::url::{path_of, query_param};
use http::{clear_session, json_response, problem_response, same_origin_json, segments};
use subject::subject_call;

/// The methods a listed path has (for `Allow`).
fn allowed_methods(segs: &[&str]) -> &'static str {
    match segs {
        ["v1", "signals"] | ["v1", "admin", "webhooks"] => "GET, POST",
        ["v1", "signals", _] => "DELETE",
        ["v1", "keys"]
        | [".well-known", "jwks.json"]
        | ["v1", "policy"]
        | ["v1", "tenants", _, "revocations"]
        | ["v1", "subjects", _, "history" | "evidence"]
        | ["v1", "identity", "merges", _]
        | ["v1", "admin", "subjects", _, "history" | "evidence" | "intake"]
        | ["v1", "admin", "webhooks", "deliveries"]
        | ["v1", "admin", "metrics"] => "GET",
        ["v1", "identity", "merges"] => "GET, POST",
        _ => "POST",
    }
}

/// Answers one request.
pub async fn handle(mut req: Request, env: Env) -> Result<Response> {
    let url = req.inner().url();
    let path = path_of(&url).to_string();
    let method = req.inner().method();
    let config = match super::config(&env) {
        Ok(c) => c,
        Err(detail) => {
            super::log(&json!({ "sg": "origin_config_error", "problem": detail }));
            return problem_response(
                &LedgerError::Config { detail: "the origin is not configured; see its log".into() },
                "",
            );
        }
    };
    let segs = segments(&path);
    let result = route(&mut req, &env, &config, &url, method.as_str(), &segs).await;
    match result {
        Ok(resp) => Ok(resp),
        Err(e) => problem_response(&e, allowed_methods(&segs)),
    }
}

async fn route(
    req: &mut Request,
    env: &Env,
    config: &OriginConfig,
    url: &str,
    method: &str,
    segs: &[&str],
) -> std::result::Result<Response, LedgerError> {
    let (env, config) = (env, config);
    match (method, segs) {
        ("GET", ["v1", "keys"]) | ("GET", [".well-known", "jwks.json"]) => {
            public(&config.public_jwks, "application/jwk-set+json", "public, max-age=300")
        }
        ("GET", ["v1", "policy"]) => {
            let text = env.var("SG_POLICY").map(|v| v.to_string()).unwrap_or_default();
            public(&text, "application/json", "public, max-age=60")
        }
        ("GET", ["v1", "tenants", tenant, "revocations"]) => feed(env, config, tenant, url).await,
        ("POST", ["v1", "session"]) => session::session(req, env, config, url).await,
        ("POST", ["v1", "session", "clear"]) => same_origin_json(req, url, false).and_then(|()| clear_session(url)),
        ("POST", ["v1", "signals"]) => subject_call(req, env, config, url, SubjectOp::Submit, None, None).await,
        ("POST", ["v1", "intake"]) => subject_call(req, env, config, url, SubjectOp::Intake, None, None).await,
        ("POST", ["v1", "signals", id, "reconfirm"]) => {
            subject_call(req, env, config, url, SubjectOp::Reconfirm, Some(id), None).await
        }
        ("DELETE", ["v1", "signals", id]) => {
            subject_call(req, env, config, url, SubjectOp::DeleteSignal, Some(id), None).await
        }
        ("POST", ["v1", "consents", id, "revoke"]) => {
            subject_call(req, env, config, url, SubjectOp::Revoke, Some(id), None).await
        }
        ("GET", ["v1", "signals"]) => subject_call(req, env, config, url, SubjectOp::List, None, None).await,
        ("POST", ["v1", "bundles"]) => subject_call(req, env, config, url, SubjectOp::Bundle, None, None).await,
        ("POST", ["v1", "subjects", s, "delete"]) => {
            subject_call(req, env, config, url, SubjectOp::Delete, None, Some(s)).await
        }
        ("GET", ["v1", "subjects", s, "history"]) => {
            subject_call(req, env, config, url, SubjectOp::History, None, Some(s)).await
        }
        ("GET", ["v1", "subjects", s, "evidence"]) => {
            subject_call(req, env, config, url, SubjectOp::Evidence, None, Some(s)).await
        }
        ("POST", ["v1", "identity", "merges"]) => identity::request(req, env, config, url).await,
        ("GET", ["v1", "identity", "merges"]) => identity::list(req, env, config, None, url).await,
        ("GET", ["v1", "identity", "merges", id]) => identity::list(req, env, config, Some(id), url).await,
        ("POST", ["v1", "identity", "merges", id, "approve"]) => {
            identity::decide(req, env, config, id, true, url).await
        }
        ("POST", ["v1", "identity", "merges", id, "reject"]) => {
            identity::decide(req, env, config, id, false, url).await
        }
        ("POST", ["v1", "identity", "merges", id, "split"]) => identity::split(req, env, config, id, url).await,
        ("POST", ["v1", "admin", "api-keys"]) => admin::api_key(req, env, config).await,
        ("POST", ["v1", "admin", "api-keys", key_id, "revoke"]) => {
            admin::revoke_key(req, env, config, key_id, url).await
        }
        ("POST", ["v1", "admin", "subjects", s, action]) => {
            let op = match *action {
                "verify" => SubjectOp::Verify,
                "restore" => SubjectOp::Restore,
                "lock" => SubjectOp::Lock,
                "unlock" => SubjectOp::Unlock,
                "maintain" => SubjectOp::Maintain,
                "history" | "evidence" | "intake" => return Err(LedgerError::MethodNotAllowed),
                _ => return Err(LedgerError::NotFound),
            };
            admin::subject(req, env, config, s, op, None, url).await
        }
        ("GET", ["v1", "admin", "subjects", s, action]) => {
            let op = match *action {
                "history" => SubjectOp::History,
                "evidence" => SubjectOp::Evidence,
                "intake" => SubjectOp::IntakeList,
                "verify" | "restore" | "lock" | "unlock" | "maintain" => return Err(LedgerError::MethodNotAllowed),
                _ => return Err(LedgerError::NotFound),
            };
            admin::subject(req, env, config, s, op, None, url).await
        }
        ("POST", ["v1", "admin", "subjects", s, "intake", id, action]) => {
            let op = match *action {
                "map" => SubjectOp::IntakeMap,
                "discard" => SubjectOp::IntakeDiscard,
                _ => return Err(LedgerError::NotFound),
            };
            admin::subject(req, env, config, s, op, Some(id), url).await
        }
        (_, ["v1", "admin", "webhooks", rest @ ..]) => admin::webhooks(req, env, config, rest, url).await,
        ("GET", ["v1", "admin", "metrics"]) => admin::metrics(req, env, config, url).await,
        (
            _,
            ["v1", "signals"]
            | ["v1", "signals", _]
            | ["v1", "intake"]
            | ["v1", "signals", _, "reconfirm"]
            | ["v1", "consents", _, "revoke"]
            | ["v1", "bundles"]
            | ["v1", "keys"]
            | [".well-known", "jwks.json"]
            | ["v1", "policy"]
            | ["v1", "tenants", _, "revocations"]
            | ["v1", "subjects", _, "delete" | "history" | "evidence"]
            | ["v1", "identity", "merges"]
            | ["v1", "identity", "merges", _]
            | ["v1", "identity", "merges", _, "approve" | "reject" | "split"]
            | ["v1", "admin", "api-keys"]
            | ["v1", "admin", "api-keys", _, "revoke"]
            | ["v1", "session"]
            | ["v1", "session", "clear"]
            | ["v1", "admin", "subjects", _, "verify" | "restore" | "lock" | "unlock" | "maintain"]
            | ["v1", "admin", "subjects", _, "history" | "evidence" | "intake"]
            | ["v1", "admin", "subjects", _, "intake", _, "map" | "discard"]
            | ["v1", "admin", "metrics"],
        ) => Err(LedgerError::MethodNotAllowed),
        _ => Err(LedgerError::NotFound),
    }
}

/// A public document (keys, policy), cacheable.
fn public(text: &str, content_type: &str, cache: &str) -> std::result::Result<Response, LedgerError> {
    let mut resp = Response::ok(text).map_err(http::storage)?;
    resp.headers_mut().set("Content-Type", content_type).map_err(http::storage)?;
    resp.headers_mut().set("Cache-Control", cache).map_err(http::storage)?;
    Ok(resp)
}

async fn feed(env: &Env, config: &OriginConfig, tenant: &str, url: &str) -> std::result::Result<Response, LedgerError> {
    if !config.serves(tenant) {
        return Err(LedgerError::NotFound);
    }
    let since = query_param(url, "since").map_or(Ok(0), |s| s.parse::<u32>().map(i64::from)).map_err(|_| {
        LedgerError::InvalidField { field: "since", detail: "expected the last sequence number received".into() }
    })?;
    // Gates poll often and alike: one answer per (tenant, since) serves this
    // isolate for a moment, so a flood of polls does not reach the
    // tenant's directory object one by one.
    let reply = match super::recent_feed(tenant, since) {
        Some(r) => r,
        None => {
            let call = DirectoryCall::Feed { tenant: tenant.to_string(), since };
            let r = super::call_directory(env, tenant, &call).await?;
            if r.status == 200 {
                super::remember_feed(tenant, since, &r);
            }
            r
        }
    };
    json_response(reply.status, &reply.body).map_err(http::storage)
}
