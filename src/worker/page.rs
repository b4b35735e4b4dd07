//! Serving a page through the gate: decide, fetch, filter, set cache headers.
//!
//! The upstream request keeps the visitor's method and body (the gate decides
//! pages; it must not break forms), never follows redirects (a 3xx, with its
//! `Set-Cookie`, goes back to the browser as it is, so an open redirect at the
//! origin cannot make the gate fetch another site under the shop's name), and
//! carries the decision headers only as far as the policy's upstream exposure
//! allows. The bundle (`Sg-Bundle`, the `sg_bundle` cookie) and the origin's
//! session cookie never reach the page upstream: it gets the decision, not
//! the signals, and the site's other cookies unchanged. Requests that carry
//! a decision are marked `cache: no-store`, so no cache between the gate and
//! the origin can hand one visitor's page to another.
//!
//! A page on a route of `SG_PLAIN_ROUTES`, or whose origin answers
//! `Sg-Markup: none`, skips the HTML filter (see [`super::plain`]); the
//! fallback after a failure never does.

use wasm_bindgen::JsValue;
use worker::{Env, Headers, Request, Response, Result};

use super::state::{log, GateState};
use super::{decide_request, Decided};
use crate::eval::{Decision, Tier};
use crate::model::policy::Field;
use crate::serve::markup::{DROPPED_HEADERS, GATE_COOKIES, GENERIC_JSON, MARKUP_HEADER, VARY};
use crate::serve::url::{path_and_query, path_of};
use crate::serve::PageView;
use crate::serve::{is_page, without_cookies};

/// Serves one page request. Never answers 5xx for a visitor's bundle.
pub async fn serve(req: Request, env: &Env, ctx: &worker::Context) -> Result<Response> {
    let url = req.inner().url();
    let Decided { decision, cached, cache_bytes, page, upstream, upstream_url, log_all, plain_route } =
        decide_request(&req, env, path_of(&url), ctx).await;
    if let Ok(state) = GateState::load(env).await {
        state.borrow_mut().counters.record(&decision, cached);
    }
    if log_all || decision.error.is_some() {
        log(&serde_json::json!({
            "sg": "decision",
            "tier": decision.tier,
            "freshness": decision.freshness,
            "segments": decision.segments.len(),
            "cached": cached,
            "cache_bytes": cache_bytes,
            "reason": decision.error.as_ref().map(|e| e.code),
            "policy": decision.policy_version,
        }));
    }
    let personalised = decision.tier != Tier::Generic || decision.bundle_id.is_some();
    let forwarded = Forwarded::from_exposed(&decision, &upstream);
    let resp = fetch_page(req, env, upstream_url.as_deref(), &forwarded).await?;
    let view = PageView::new(decision.tier, decision.segments, page.to_string());
    finish(resp, view, personalised, plain_route).await
}

/// The fallback when serving through the gate failed: the page with the
/// generic view (no segment, generic tier blocks only), never cached.
pub async fn serve_generic(req: Request, env: &Env) -> Result<Response> {
    let upstream = GateState::load(env).await.ok().and_then(|s| s.borrow().config.upstream.clone());
    let resp = fetch_page(req, env, upstream.as_deref(), &Forwarded::generic()).await?;
    finish(resp, PageView::new(Tier::Generic, Vec::new(), GENERIC_JSON.to_string()), true, false).await
}

/// The decision headers sent upstream, as the policy's upstream exposure allows.
struct Forwarded {
    tier: Option<String>,
    segments: Option<String>,
    decision: String,
}

impl Forwarded {
    fn from_exposed(decision: &Decision, exposed: &serde_json::Value) -> Forwarded {
        let has = |f: Field| exposed.get(f.name()).is_some();
        Forwarded {
            tier: has(Field::Tier).then(|| decision.tier.as_str().to_string()),
            segments: has(Field::Segments).then(|| decision.segments.join(" ")),
            decision: exposed.to_string(),
        }
    }

    fn generic() -> Forwarded {
        Forwarded { tier: Some("generic".into()), segments: Some(String::new()), decision: GENERIC_JSON.to_string() }
    }
}

/// The upstream target for a request URL: `base` followed by the request's
/// path and query, never another origin (a path such as `//evil.example/x`
/// stays a path under `base`).
pub(crate) fn upstream_target(base: &str, url: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path_and_query(url))
}

async fn fetch_page(req: Request, env: &Env, upstream: Option<&str>, forwarded: &Forwarded) -> Result<Response> {
    // A copy made by the runtime (one call), then the dropped names removed,
    // and the gate's cookies (the bundle, the origin's session) taken out.
    let headers: Headers = req.headers().clone();
    for name in DROPPED_HEADERS {
        headers.delete(name)?;
    }
    if let Some(cookie) = headers.get("Cookie")? {
        match without_cookies(&cookie, &GATE_COOKIES) {
            Some(rest) if rest == cookie => {}
            Some(rest) => headers.set("Cookie", &rest)?,
            None => headers.delete("Cookie")?,
        }
    }
    if let Some(tier) = &forwarded.tier {
        headers.set("Sg-Tier", tier)?;
    }
    if let Some(segments) = &forwarded.segments {
        headers.set("Sg-Segments", segments)?;
    }
    headers.set("Sg-Decision", &forwarded.decision)?;
    let raw = req.inner();
    let method = raw.method();
    let init = web_sys::RequestInit::new();
    init.set_method(&method);
    init.set_headers(headers.as_ref());
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if !matches!(method.as_str(), "GET" | "HEAD") {
        if let Some(body) = raw.body() {
            init.set_body(&body);
        }
    }
    let url = raw.url();
    match upstream {
        Some(base) => {
            // The decision headers make this a per-visitor request: no cache
            // between here and the origin may keep or answer it.
            init.set_cache(web_sys::RequestCache::NoStore);
            let target = upstream_target(base, &url);
            let request = web_sys::Request::new_with_str_and_init(&target, &init).map_err(js_error)?;
            worker::Fetch::Request(request.into()).send().await
        }
        None => {
            let request = web_sys::Request::new_with_str_and_init(&url, &init).map_err(js_error)?;
            env.assets("ASSETS")?.fetch_request(worker::Request::from(request)).await
        }
    }
}

fn js_error(e: JsValue) -> worker::Error {
    worker::Error::from(e)
}

/// Streams pages through the filter; sets `Vary` and, for anything derived
/// from a bundle, `Cache-Control: private, no-store`. Body-less responses
/// pass through with those headers, and redirects keep their `Location` and
/// `Set-Cookie` (a redirect's HTML body, if any, is filtered like any page).
/// A plain page (`plain_route`, or `Sg-Markup: none` from its origin) is
/// streamed unchanged but guarded against gate markup; the visitor never
/// sees `Sg-Markup`.
async fn finish(resp: Response, view: PageView, personalised: bool, plain_route: bool) -> Result<Response> {
    let headers = resp.headers().clone();
    let declared_plain = headers.get(MARKUP_HEADER)?.is_some_and(|v| v.trim().eq_ignore_ascii_case("none"));
    headers.delete(MARKUP_HEADER)?;
    headers.append("Vary", VARY)?;
    headers.set("Sg-Tier", view.tier.as_str())?;
    if personalised {
        headers.set("Cache-Control", "private, no-store")?;
    }
    let status = resp.status_code();
    let bodyless = matches!(status, 101 | 204 | 205 | 304);
    if bodyless || !is_page(headers.get("Content-Type")?.as_deref()) {
        return Ok(resp.with_headers(headers));
    }
    if plain_route || declared_plain {
        let resp: web_sys::Response = resp.with_headers(headers).into();
        return Ok(Response::from(super::plain::guard(resp).await.map_err(worker::Error::from)?));
    }
    // The filtered page is a different representation: no length, no validators.
    for h in ["Content-Length", "ETag", "Last-Modified"] {
        headers.delete(h)?;
    }
    let resp: web_sys::Response = resp.with_headers(headers).into();
    let filtered = super::rewrite::apply(view, resp).map_err(worker::Error::from)?;
    Ok(Response::from(filtered))
}
