//! The gate's own production endpoints under `/__sg/`:
//!
//! - `GET /__sg/health`: `{"ok": true, "policy_version": ...}`, or
//!   `{"ok": false}` with status 503. What is wrong goes to the log (one
//!   `config_error` line), never to the public.
//! - `GET /__sg/decision?path=/page/path`: the decision for the page at
//!   `path`, as that page's code may see it (for client-rendered pages).
//!   `path` is required, so the purposes applied are those of the page's own
//!   route, not of this endpoint's.
//! - `GET /__sg/metrics`: this isolate's decision counters in the Prometheus
//!   text format, for `Authorization: Bearer <SG_METRICS_TOKEN>`; without
//!   that variable the endpoint does not exist (404).

use worker::{Env, Method, Request, Response, Result};

use super::state::GateState;
use crate::serve::forward::PROBLEM_CONTENT_TYPE;
use crate::serve::markup::VARY;
use crate::serve::url::query_param;

/// Longest page path `/__sg/decision` accepts.
pub const MAX_PATH: usize = 2048;

pub(crate) fn json(value: &serde_json::Value, status: u16) -> Result<Response> {
    let mut resp = Response::from_json(value)?.with_status(status);
    resp.headers_mut().set("Cache-Control", "private, no-store")?;
    Ok(resp)
}

/// A problem document (`application/problem+json`, `no-store`) with the
/// status it names.
pub(crate) fn problem(value: &serde_json::Value) -> Result<Response> {
    let status = value["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(500);
    let mut resp = Response::from_json(value)?.with_status(status);
    resp.headers_mut().set("Content-Type", PROBLEM_CONTENT_TYPE)?;
    resp.headers_mut().set("Cache-Control", "no-store")?;
    Ok(resp)
}

/// The `path` parameter of a decision request, if it is a page path:
/// starts with `/`, at most [`MAX_PATH`] bytes, no control characters.
pub(crate) fn page_path(url: &str) -> std::result::Result<String, &'static str> {
    let path = query_param(url, "path").ok_or("the query parameter `path` (the page's path) is required")?;
    if !path.starts_with('/') || path.len() > MAX_PATH || path.chars().any(char::is_control) {
        return Err("`path` must be a page path starting with `/` (at most 2048 bytes, no control characters)");
    }
    Ok(path)
}

pub async fn api(req: Request, env: &Env, path: &str, ctx: &worker::Context) -> Result<Response> {
    match (req.method(), path) {
        (Method::Get, "/__sg/health") => {
            let healthy = GateState::load(env).await.ok().and_then(|s| {
                let st = s.borrow();
                st.gate.as_ref().ok().map(|g| g.policy().version().to_string())
            });
            match healthy {
                Some(version) => json(&serde_json::json!({ "ok": true, "policy_version": version }), 200),
                None => json(&serde_json::json!({ "ok": false }), 503),
            }
        }
        (Method::Get, "/__sg/decision") => {
            let url = req.inner().url();
            let page_path = match page_path(&url) {
                Ok(p) => p,
                Err(problem) => {
                    let mut body = super::generic_json();
                    body["error"] = serde_json::json!({ "code": "bad_request", "message": problem });
                    return json(&body, 400);
                }
            };
            let page = super::decide_request(&req, env, &page_path, ctx).await.page;
            let mut resp = json(&page, 200)?;
            resp.headers_mut().set("Vary", VARY)?;
            Ok(resp)
        }
        (Method::Get, "/__sg/metrics") => {
            let expected = super::state::var(env, "SG_METRICS_TOKEN").filter(|t| t.len() >= 16);
            let given = req
                .headers()
                .get("Authorization")
                .ok()
                .flatten()
                .and_then(|h| h.strip_prefix("Bearer ").map(str::to_string));
            let authorised = match (&expected, &given) {
                (Some(e), Some(g)) => {
                    e.len() == g.len() && bool::from(subtle::ConstantTimeEq::ct_eq(e.as_bytes(), g.as_bytes()))
                }
                _ => false,
            };
            if expected.is_none() {
                return json(&serde_json::json!({ "error": "not found" }), 404);
            }
            if !authorised {
                return json(&serde_json::json!({ "error": "unauthorized" }), 401);
            }
            let text = match GateState::load(env).await {
                Ok(s) => {
                    let st = s.borrow();
                    st.counters.prometheus(&st.isolate)
                }
                Err(_) => String::new(),
            };
            let mut resp = Response::ok(text)?;
            resp.headers_mut().set("Content-Type", "text/plain; version=0.0.4")?;
            resp.headers_mut().set("Cache-Control", "no-store")?;
            Ok(resp)
        }
        _ => json(&serde_json::json!({ "error": "not found" }), 404),
    }
}
