//! The gate's revocation feed: an isolate polls the origin's feed (through
//! the `ORIGIN` service binding, or a URL) per tenant and adds each revoked
//! bundle to its gate for that tenant only, so a consent revoked at the
//! origin stops yielding tokens here within one second. See
//! [`crate::serve::feed`] for when a request refreshes, waits, or fails
//! closed, and for the bound that holds.
//!
//! Each tenant has its own state and its own refresh: a tenant whose feed
//! is slow or down never holds up another's decisions. A refresh always runs
//! in the background (`waitUntil` of the request that started it, so it
//! outlives that request); a request that must wait for it checks the
//! tenant's state on a short timer, at most one poll timeout, and never
//! starts a second refresh while one is under way. Each page is abandoned
//! (and its request aborted) after [`POLL_TIMEOUT_MS`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use worker::{AbortController, Context, Delay, Env, Request};

use super::state::{log, GateState};
use crate::serve::feed::{FeedPage, Refresh, Step, TenantFeed, MAX_PAGES, POLL_TIMEOUT_MS};
use crate::time::UnixTime;

/// How often a waiting request looks at its tenant's refresh.
const WAIT_STEP_MS: u64 = 10;

/// Where the feed comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    /// The `ORIGIN` service binding (the origin Worker).
    Origin,
    /// An origin's base URL.
    Url(String),
}

/// What the isolate knows of the feed, per tenant.
#[derive(Debug)]
pub struct FeedState {
    source: FeedSource,
    tenants: BTreeMap<String, TenantFeed>,
}

impl FeedState {
    /// A feed not read yet.
    pub fn new(source: FeedSource) -> FeedState {
        FeedState { source, tenants: BTreeMap::new() }
    }

    /// Forgets what was read (the gate was rebuilt without the revocations
    /// read so far): every tenant is read again from the start.
    pub fn reset(&mut self) {
        self.tenants.values_mut().for_each(TenantFeed::forget);
    }
}

/// `fut`, or `None` once `ms` milliseconds have passed.
async fn within<T>(ms: f64, fut: impl Future<Output = T>) -> Option<T> {
    let mut fut = pin!(fut);
    let mut timer = pin!(Delay::from(Duration::from_millis(ms as u64)));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(value) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(value));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

async fn read_page(
    env: &Env,
    source: &FeedSource,
    url: &str,
    signal: &worker::AbortSignal,
) -> Result<FeedPage, String> {
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(signal));
    let req = web_sys::Request::new_with_str_and_init(url, &init).map_err(|e| format!("{e:?}"))?;
    let req = Request::from(req);
    let mut resp = match source {
        FeedSource::Origin => {
            env.service("ORIGIN").map_err(|e| e.to_string())?.fetch_request(req).await.map_err(|e| e.to_string())?
        }
        FeedSource::Url(_) => worker::Fetch::Request(req).send().await.map_err(|e| e.to_string())?,
    };
    if resp.status_code() != 200 {
        return Err(format!("the feed answered {}", resp.status_code()));
    }
    FeedPage::parse(&resp.text().await.map_err(|e| e.to_string())?)
}

/// One page of `tenant`'s feed from `since`, abandoned (and its request
/// aborted) after the poll timeout.
async fn page(env: &Env, source: &FeedSource, tenant: &str, since: i64) -> Result<FeedPage, String> {
    let path = format!("/v1/tenants/{tenant}/revocations?since={since}");
    let url = match source {
        FeedSource::Origin => format!("https://origin.internal{path}"),
        FeedSource::Url(base) => format!("{base}{path}"),
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    match within(POLL_TIMEOUT_MS, read_page(env, source, &url, &signal)).await {
        Some(result) => result,
        None => {
            controller.abort();
            Err(format!("no answer within {POLL_TIMEOUT_MS} ms"))
        }
    }
}

/// Reads `tenant`'s feed from where it left off and revokes what it lists
/// in the gate, for that tenant. The borrow of the state is never held
/// across a fetch.
async fn refresh(state: Rc<RefCell<GateState>>, env: Env, source: FeedSource, tenant: String, refresh: Refresh) {
    let mut since = refresh.since;
    for _ in 0..MAX_PAGES {
        let result = page(&env, &source, &tenant, since).await;
        let mut st = state.borrow_mut();
        let st = &mut *st;
        let Some(tenant_feed) = st.feed.as_mut().and_then(|f| f.tenants.get_mut(&tenant)) else { return };
        let Ok(gate) = st.gate.as_mut() else {
            // No gate to hold what the feed says: read it again once there is one.
            tenant_feed.fail(&refresh);
            return;
        };
        let step = result.and_then(|p| {
            let entries = p.bundles.iter().map(|b| (b.bundle_id.clone(), UnixTime(b.expires_at)));
            gate.revoke_tenant_bundles(&tenant, entries, crate::clock::now());
            tenant_feed.apply(&refresh, since, &p, crate::clock::now_ms())
        });
        match step {
            Ok(Step::Next(next)) => since = next,
            Ok(Step::Done | Step::Superseded) => return,
            Err(problem) => {
                tenant_feed.fail(&refresh);
                log(&serde_json::json!({ "sg": "revocation_feed_error", "tenant": tenant, "problem": problem }));
                return;
            }
        }
    }
    // More pages wait: the next refresh goes on from `since`.
    if let Some(tenant_feed) = state.borrow_mut().feed.as_mut().and_then(|f| f.tenants.get_mut(&tenant)) {
        tenant_feed.fail(&refresh);
    }
}

/// Waits until `tenant`'s refresh under way (if any) has ended, at most
/// about one poll timeout.
async fn wait_for_refresh(state: &Rc<RefCell<GateState>>, tenant: &str, from_ms: f64) {
    let running = |now: f64| {
        let st = state.borrow();
        st.feed.as_ref().and_then(|f| f.tenants.get(tenant)).and_then(|t| t.running(now))
    };
    let Some(generation) = running(from_ms) else { return };
    let deadline = from_ms + POLL_TIMEOUT_MS + 2.0 * WAIT_STEP_MS as f64;
    loop {
        Delay::from(Duration::from_millis(WAIT_STEP_MS)).await;
        let now = crate::clock::now_ms();
        if running(now) != Some(generation) || now >= deadline {
            return;
        }
    }
}

/// Makes `tenant`'s feed fresh enough to decide on (see
/// [`crate::serve::feed`]). `Err` when it could not be read recently
/// enough: the caller fails closed. Call it only for a request that carries
/// a bundle: without one, revocations change nothing.
pub async fn ensure(state: Rc<RefCell<GateState>>, env: &Env, ctx: &Context, tenant: &str) -> Result<(), ()> {
    let now = crate::clock::now_ms();
    let (start, wait, source) = {
        let mut st = state.borrow_mut();
        let Some(feed) = st.feed.as_mut() else { return Ok(()) };
        let source = feed.source.clone();
        let (start, wait) = feed.tenants.entry(tenant.to_string()).or_default().plan(now);
        (start, wait, source)
    };
    if let Some(r) = start {
        ctx.wait_until(refresh(state.clone(), env.clone(), source, tenant.to_string(), r));
    }
    if wait {
        wait_for_refresh(&state, tenant, now).await;
    }
    let st = state.borrow();
    let stale = st.feed.as_ref().and_then(|f| f.tenants.get(tenant)).is_none_or(|t| t.is_stale(crate::clock::now_ms()));
    if stale {
        Err(())
    } else {
        Ok(())
    }
}
