//! Serving a page through the gate: decide, fetch, filter, set cache headers.

use worker::{Env, Fetch, Headers, Request, RequestInit, Response, Result};

use super::state::{log, GateState};
use super::{decide_request, generic_json, Decided};
use crate::edge::PageView;
use crate::eval::{Decision, Tier};

/// Request headers not forwarded: the decision headers (so a client cannot
/// forge them) and the conditional ones (a 304 would let a browser reuse a
/// page filtered for another decision).
const DROPPED_HEADERS: [&str; 7] =
    ["Sg-Segments", "Sg-Tier", "Sg-Decision", "If-None-Match", "If-Modified-Since", "If-Match", "If-Range"];

/// The path and query of a serialized URL (`/a/b?c`), without parsing it
/// (the Worker avoids linking a URL parser).
pub(crate) fn path_and_query(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..].find('/').map_or("/", |i| &url[after_scheme + i..])
}

/// Serves one page request. Never answers 5xx for a visitor's bundle.
pub async fn serve(req: Request, env: &Env) -> Result<Response> {
    let Decided { decision, cached, page, upstream, upstream_url, log_all } = decide_request(&req, env).await;
    if log_all || decision.error.is_some() {
        log(&serde_json::json!({
        "sg": "decision",
        "tier": decision.tier,
        "segments": decision.segments.len(),
        "cached": cached,
        "reason": decision.error.as_ref().map(|e| e.code.clone()),
        "policy": decision.policy_version,
        }));
    }
    let personalised = decision.tier != Tier::Generic || decision.bundle_id.is_some();
    let resp = fetch_page(req, env, upstream_url.as_deref(), &decision, &upstream).await?;
    let view = PageView::new(decision.tier, decision.segments, page.to_string());
    finish(resp, view, personalised)
}

/// The fallback when serving through the gate failed: the page with the
/// generic view (no segment, generic tier blocks only), never cached.
pub async fn serve_generic(req: Request, env: &Env) -> Result<Response> {
    let decision = Decision::failed("unknown", "gate_error", String::new());
    let upstream = GateState::load(env).await.ok().and_then(|s| s.borrow().config.upstream.clone());
    let resp = fetch_page(req, env, upstream.as_deref(), &decision, &generic_json()).await?;
    finish(resp, PageView::new(Tier::Generic, Vec::new(), generic_json().to_string()), true)
}

async fn fetch_page(
    req: Request,
    env: &Env,
    upstream: Option<&str>,
    decision: &Decision,
    upstream_json: &serde_json::Value,
) -> Result<Response> {
    // A copy made by the runtime (one call), then the dropped names removed.
    let headers: Headers = req.headers().clone();
    for name in DROPPED_HEADERS {
        headers.delete(name)?;
    }
    headers.set("Sg-Tier", decision.tier.as_str())?;
    headers.set("Sg-Segments", &decision.segments.join(" "))?;
    headers.set("Sg-Decision", &upstream_json.to_string())?;
    let url = req.inner().url();
    let mut init = RequestInit::new();
    init.with_method(req.method()).with_headers(headers);
    match upstream {
        Some(base) => {
            let target = format!("{}{}", base.trim_end_matches('/'), path_and_query(&url));
            Fetch::Request(Request::new_with_init(&target, &init)?).send().await
        }
        None => env.assets("ASSETS")?.fetch_request(Request::new_with_init(&url, &init)?).await,
    }
}

/// Streams HTML through the filter; sets `Vary` and, for anything derived
/// from a bundle, `Cache-Control: private, no-store`.
fn finish(resp: Response, view: PageView, personalised: bool) -> Result<Response> {
    let headers = resp.headers().clone();
    headers.append("Vary", "Cookie, Sg-Bundle, Sec-GPC")?;
    headers.set("Sg-Tier", view.tier.as_str())?;
    if personalised {
        headers.set("Cache-Control", "private, no-store")?;
    }
    let is_html = headers.get("Content-Type")?.is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html"));
    if !is_html || resp.status_code() == 304 || resp.status_code() == 204 {
        return Ok(resp.with_headers(headers));
    }
    // The filtered page is a different representation: no length, no validators.
    for h in ["Content-Length", "ETag", "Last-Modified"] {
        headers.delete(h)?;
    }
    let resp: web_sys::Response = resp.with_headers(headers).into();
    let filtered = super::rewrite::apply(view, resp).map_err(worker::Error::from)?;
    Ok(Response::from(filtered))
}
