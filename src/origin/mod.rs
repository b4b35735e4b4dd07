//! The origin Worker (workers-rs): the ledger's HTTP API on Durable Objects
//! with SQLite storage. One `SubjectLedger` object per (tenant, subject)
//! owns that subject's ledger, so each subject's writes are serialised in
//! one place; one `TenantDirectory` object per tenant holds its API keys,
//! revocation feed, merge records, webhook endpoints and deliveries, and
//! its subjects' figures. A subject's write commits on its own object, then
//! hands its outbox (revoked bundles, webhook events, figures) to the
//! directory in one call. Built apart from the gate (`pkg-scripts/build
//! origin`), so the edge gate stays small.

mod api;
mod config;
mod directory_do;
mod protocol;
mod store;
mod subject_do;
mod webhook_http;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use worker::{event, Context, Env, Method, Request, RequestInit, Response, Result};

pub use config::OriginConfig;
pub use directory_do::TenantDirectory;
pub use protocol::{CallReply, DirectoryCall, SubjectCall, SubjectOp};
pub use subject_do::SubjectLedger;

use crate::ledger::access::ApiKey;
use crate::ledger::LedgerError;

/// How long a checked API key is trusted without asking the directory again.
const KEY_CACHE_MS: f64 = 30_000.0;
/// How long a refused API key is refused without asking again.
const KEY_NEGATIVE_MS: f64 = 5_000.0;
/// Most keys remembered per isolate (a flood of bogus keys cannot grow it).
const KEY_CACHE_ENTRIES: usize = 4096;

// An isolate runs one thread, and workers-rs gives handlers no place of
// their own for values kept between requests: the parsed configuration and
// the API keys checked recently live here, rebuilt from the environment and
// the directory whenever they are missing.
thread_local! {
    static CONFIG: RefCell<Option<Rc<OriginConfig>>> = const { RefCell::new(None) };
    static KEYS: RefCell<HashMap<String, (Option<String>, f64)>> = RefCell::new(HashMap::new());
    static FEEDS: RefCell<HashMap<(String, i64), (f64, CallReply)>> = RefCell::new(HashMap::new());
}

/// How long one feed answer serves polls for the same page in an isolate.
const FEED_MEMO_MS: f64 = 100.0;

/// The feed page answered for `(tenant, since)` in the last [`FEED_MEMO_MS`].
pub(crate) fn recent_feed(tenant: &str, since: i64) -> Option<CallReply> {
    let now = crate::clock::now_ms();
    FEEDS.with(|f| {
        f.borrow().get(&(tenant.to_string(), since)).filter(|(at, _)| now - at < FEED_MEMO_MS).map(|(_, r)| r.clone())
    })
}

/// Keeps a feed page for [`recent_feed`] (a few hundred pages at most).
pub(crate) fn remember_feed(tenant: &str, since: i64, reply: &CallReply) {
    let now = crate::clock::now_ms();
    FEEDS.with(|f| {
        let mut f = f.borrow_mut();
        f.retain(|_, (at, _)| now - *at < FEED_MEMO_MS);
        if f.len() < 512 {
            f.insert((tenant.to_string(), since), (now, reply.clone()));
        }
    });
}

/// The isolate's configuration, read on first use.
pub(crate) fn config(env: &Env) -> std::result::Result<Rc<OriginConfig>, String> {
    if let Some(c) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(c);
    }
    let c = Rc::new(OriginConfig::from_env(env)?);
    CONFIG.with(|slot| *slot.borrow_mut() = Some(c.clone()));
    Ok(c)
}

/// One structured log line (never personal data).
pub(crate) fn log(value: &serde_json::Value) {
    worker::console_log!("{}", value);
}

async fn call(stub: worker::Stub, body: String) -> std::result::Result<CallReply, LedgerError> {
    let storage = |e: worker::Error| LedgerError::Storage { detail: e.to_string() };
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let req = Request::new_with_init("https://ledger.internal/call", &init).map_err(storage)?;
    let mut resp = stub.fetch_with_request(req).await.map_err(storage)?;
    resp.json::<CallReply>().await.map_err(storage)
}

/// Calls the subject's `SubjectLedger`.
pub(crate) async fn call_subject(env: &Env, c: &SubjectCall) -> std::result::Result<CallReply, LedgerError> {
    let storage = |e: worker::Error| LedgerError::Storage { detail: e.to_string() };
    let ns = env.durable_object("SUBJECTS").map_err(storage)?;
    let stub = ns
        .id_from_name(&subject_do::object_name(&c.tenant, &c.subject))
        .and_then(|id| id.get_stub())
        .map_err(storage)?;
    call(stub, serde_json::to_string(c).unwrap_or_default()).await
}

/// Calls the tenant's `TenantDirectory`.
pub(crate) async fn call_directory(
    env: &Env,
    tenant: &str,
    c: &DirectoryCall,
) -> std::result::Result<CallReply, LedgerError> {
    let storage = |e: worker::Error| LedgerError::Storage { detail: e.to_string() };
    let ns = env.durable_object("TENANTS").map_err(storage)?;
    let stub = ns.id_from_name(tenant).and_then(|id| id.get_stub()).map_err(storage)?;
    call(stub, serde_json::to_string(c).unwrap_or_default()).await
}

/// The role of a presented API key if it is live, asking the tenant's
/// directory at most every [`KEY_CACHE_MS`] per key (a retired key stops
/// working within that time).
pub(crate) async fn key_role(env: &Env, key: &ApiKey, token: &str) -> std::result::Result<Option<String>, LedgerError> {
    // The cache key covers tenant, key id and secret: a secret checked for
    // one tenant is never trusted under another tenant's name.
    let id = key.cache_id();
    let now = crate::clock::now_ms();
    if let Some((role, _)) = KEYS.with(|k| k.borrow().get(&id).cloned().filter(|(_, until)| *until > now)) {
        return Ok(role);
    }
    let reply = call_directory(env, &key.tenant, &DirectoryCall::CheckKey { token: token.to_string() }).await?;
    let role = (reply.status == 200 && reply.body.get("valid").and_then(|v| v.as_bool()) == Some(true))
        .then(|| reply.body.get("role").and_then(|r| r.as_str()).unwrap_or("service").to_string());
    KEYS.with(|k| {
        let mut k = k.borrow_mut();
        k.retain(|_, (_, until)| *until > now);
        // A refused key is remembered briefly too, so bogus keys do not
        // each reach the tenant's directory.
        if k.len() < KEY_CACHE_ENTRIES {
            let ttl = if role.is_some() { KEY_CACHE_MS } else { KEY_NEGATIVE_MS };
            k.insert(id, (role.clone(), now + ttl));
        }
    });
    Ok(role)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    api::handle(req, env).await
}
