//! The Cloudflare Worker (workers-rs): the edge gate. For each page request it
//! reads the bundle, verifies it (or finds it in the isolate's cache),
//! evaluates the policy in the request's context, fetches the page (static
//! assets or `SG_UPSTREAM`) and streams HTML through the page filter.
//!
//! Fails closed: any problem with the bundle, the keys or the policy gives
//! the generic tier, logged with its reason, never a 5xx for the visitor.
//!
//! The origin's API (`/v1/`, `/.well-known/jwks.json`) goes to the `ORIGIN`
//! binding without its test-only headers, never to the page upstream: a
//! failed forward answers 502 `origin_unavailable`, and `/v1/admin/` is
//! answered 404 here unless `SG_FORWARD_ADMIN=1` (local development and
//! tests only). See [`crate::serve::forward`].

mod endpoints;
mod feed;
mod page;
mod plain;
mod rewrite;
mod state;

use worker::{event, Context as WorkerContext, Env, Request, Response, Result};

use crate::eval::{Context, Decision};
use crate::failure::FailureCode;
use crate::serve::forward::{api_route, forward_admin, forwards_header, not_found, origin_unavailable, ApiRoute};
use crate::serve::url::host_of;
use crate::serve::{bundle_from, BUNDLE_HEADER};

pub use state::GateState;

/// Builds the evaluation context of a request for the page at `path`: the
/// tenant from the request URL's host (lowercased), the purposes of the
/// route serving `path`, and Global Privacy Control from `Sec-GPC`.
fn context(req: &Request, state: &GateState, path: &str) -> Option<Context> {
    let gpc = req.headers().get("Sec-GPC").ok().flatten().is_some_and(|v| v.trim() == "1");
    Some(Context {
        now: crate::clock::now(),
        purposes: state.config.purposes_for(path).to_vec(),
        channel: state.config.channel.clone(),
        tenant: state.config.tenant_for(&host_of(&req.inner().url()))?.to_string(),
        scope: state.config.scope.clone(),
        gpc,
    })
}

/// The request's bundle (`Sg-Bundle`, else the `sg_bundle` cookie), if any.
fn bundle_of(req: &Request) -> Option<String> {
    let headers = req.headers();
    let header = headers.get(BUNDLE_HEADER).ok().flatten();
    let cookie = headers.get("Cookie").ok().flatten();
    bundle_from(header.as_deref(), cookie.as_deref()).map(str::to_string)
}

/// Decides for a request to the page at `path`; a failure is a generic
/// decision with a reason.
pub(crate) fn decide(req: &Request, state: &mut GateState, path: &str) -> (Decision, bool) {
    let Some(ctx) = context(req, state, path) else {
        let d = Decision::failed(&state.policy_version(), FailureCode::NoTenant, "no tenant for this host".into());
        return (d, false);
    };
    state.decide(bundle_of(req).as_deref(), &ctx)
}

/// A request's decision and what each audience may see of it.
pub(crate) struct Decided {
    pub decision: Decision,
    /// The isolate's verified-bundle cache answered.
    pub cached: bool,
    /// The cache's estimated size after this decision.
    pub cache_bytes: usize,
    /// What page code sees (the policy's page exposure).
    pub page: serde_json::Value,
    /// What the upstream origin receives (the policy's upstream exposure).
    pub upstream: serde_json::Value,
    pub upstream_url: Option<String>,
    pub log_all: bool,
    /// The page's route is in `SG_PLAIN_ROUTES`: no HTML filter.
    pub plain_route: bool,
}

/// `{"tier":"generic","segments":[]}`: all anyone sees when nothing can be decided.
pub(crate) fn generic_json() -> serde_json::Value {
    serde_json::json!({ "tier": "generic", "segments": [] })
}

/// The names the JS shim's fail-closed filter needs (selectors, dropped
/// headers, `Vary`, the generic decision), as JSON, read once when the shim
/// starts: one source for the Rust filter and the shim.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = shimConfig)]
pub fn shim_config() -> String {
    crate::serve::markup::shim_config_json()
}

/// Loads the isolate's state and decides for `req` as a request for the page
/// at `path`; a configuration problem gives the generic decision with its
/// reason, and so does a revocation feed too old to trust. Only a request
/// that carries a bundle waits for the feed, and only for its own tenant's.
pub(crate) async fn decide_request(req: &Request, env: &Env, path: &str, ctx: &WorkerContext) -> Decided {
    match GateState::load(env).await {
        Ok(state) => {
            let tenant = match bundle_of(req) {
                Some(_) => state.borrow().config.tenant_for(&host_of(&req.inner().url())).map(str::to_string),
                None => None,
            };
            let fresh = match &tenant {
                Some(tenant) => feed::ensure(state.clone(), env, ctx, tenant).await,
                None => Ok(()),
            };
            let mut st = state.borrow_mut();
            let (decision, cached) = match fresh {
                Ok(()) => decide(req, &mut st, path),
                Err(()) => {
                    let message = "the revocation feed could not be read recently".to_string();
                    (Decision::failed(&st.policy_version(), FailureCode::RevocationsStale, message), false)
                }
            };
            let (page, upstream) = match &st.gate {
                Ok(g) => (decision.for_page(g.policy().exposure()), decision.exposed(&g.policy().exposure().upstream)),
                Err(_) => (generic_json(), serde_json::json!({})),
            };
            Decided {
                decision,
                cached,
                cache_bytes: st.cache.bytes(),
                page,
                upstream,
                upstream_url: st.config.upstream.clone(),
                log_all: st.config.log_all,
                plain_route: st.config.is_plain(path),
            }
        }
        Err(e) => Decided {
            decision: Decision::failed("unknown", FailureCode::Config, e.to_string()),
            cached: false,
            cache_bytes: 0,
            page: generic_json(),
            upstream: serde_json::json!({}),
            upstream_url: None,
            log_all: true,
            plain_route: false,
        },
    }
}

/// Fault injection for the fail-closed test: with `SG_FAULT_INJECTION=panic`
/// every page request panics inside the gate, and the JS shim must still
/// serve the generic page. Never set in a deployment.
#[allow(clippy::panic)]
fn fault_injection(env: &Env) {
    if env.var("SG_FAULT_INJECTION").is_ok_and(|v| v.to_string() == "panic") {
        panic!("fault injection: SG_FAULT_INJECTION=panic");
    }
}

/// Sends `req` on to the origin, without its test-only headers (see
/// [`crate::serve::forward`]); method, body and every other header unchanged.
async fn forward(req: Request, origin: &worker::Fetcher) -> Result<Response> {
    let headers = req.headers().clone(); // a copy: the incoming headers are immutable
    let test_only: Vec<String> = headers.keys().filter(|name| !forwards_header(name)).collect();
    for name in test_only {
        headers.delete(&name)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_headers(headers.as_ref());
    let request = web_sys::Request::new_with_request_and_init(req.inner(), &init).map_err(worker::Error::from)?;
    origin.fetch_request(Request::from(request)).await
}

/// The origin's API through the `ORIGIN` binding. Whatever goes wrong, the
/// request never goes to the page upstream: a failed forward is a 502.
async fn to_origin(req: Request, env: &Env) -> Result<Response> {
    let Ok(origin) = env.service("ORIGIN") else {
        return endpoints::json(&serde_json::json!({ "error": "no origin is bound to this gate" }), 404);
    };
    match forward(req, &origin).await {
        Ok(resp) => Ok(resp),
        Err(e) => {
            state::log(&serde_json::json!({ "sg": "origin_unavailable", "problem": e.to_string() }));
            endpoints::problem(&origin_unavailable())
        }
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: WorkerContext) -> Result<Response> {
    let path = req.path();
    match api_route(&path, forward_admin(state::var(&env, "SG_FORWARD_ADMIN").as_deref())) {
        ApiRoute::Origin => return to_origin(req, &env).await,
        ApiRoute::Refused => return endpoints::problem(&not_found()),
        ApiRoute::Page => {}
    }
    if path.starts_with("/__sg/") {
        return endpoints::api(req, &env, &path, &ctx).await;
    }
    fault_injection(&env);
    let backup = req.clone()?;
    match page::serve(req, &env, &ctx).await {
        Ok(resp) => Ok(resp),
        Err(e) => {
            state::log(&serde_json::json!({ "sg": "gate_failure", "reason": "error", "problem": e.to_string() }));
            page::serve_generic(backup, &env).await
        }
    }
}
