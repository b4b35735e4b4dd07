//! The gate's revocation feed: an isolate polls the origin's feed (through
//! the `ORIGIN` service binding, or a URL) off the request path and adds
//! every revoked bundle to its gate, so a consent revoked at the origin stops
//! yielding tokens here within one second. See [`crate::serve::feed`] for
//! when a request refreshes, waits, or fails closed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use worker::{Context, Env, Request};

use super::state::{log, GateState};
use crate::serve::feed::{feed_action, feed_is_stale, FeedAction, FeedPage};

/// Where the feed comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    /// The `ORIGIN` service binding (the origin Worker).
    Origin,
    /// An origin's base URL.
    Url(String),
}

/// What the isolate knows of the feed.
#[derive(Debug)]
pub struct FeedState {
    source: FeedSource,
    /// The last sequence read, per tenant.
    since: BTreeMap<String, i64>,
    /// When the feed was last read completely (ms since the epoch; 0: never).
    fetched_ms: f64,
    refreshing: bool,
}

impl FeedState {
    /// A feed not read yet, for `tenants`.
    pub fn new(source: FeedSource, tenants: impl IntoIterator<Item = String>) -> FeedState {
        FeedState { source, since: tenants.into_iter().map(|t| (t, 0)).collect(), fetched_ms: 0.0, refreshing: false }
    }
}

async fn page(env: &Env, source: &FeedSource, tenant: &str, since: i64) -> Result<FeedPage, String> {
    let path = format!("/v1/tenants/{tenant}/revocations?since={since}");
    let mut resp = match source {
        FeedSource::Origin => {
            let req = Request::new(&format!("https://origin.internal{path}"), worker::Method::Get)
                .map_err(|e| e.to_string())?;
            env.service("ORIGIN").map_err(|e| e.to_string())?.fetch_request(req).await.map_err(|e| e.to_string())?
        }
        FeedSource::Url(base) => {
            let req = Request::new(&format!("{base}{path}"), worker::Method::Get).map_err(|e| e.to_string())?;
            worker::Fetch::Request(req).send().await.map_err(|e| e.to_string())?
        }
    };
    if resp.status_code() != 200 {
        return Err(format!("the feed answered {}", resp.status_code()));
    }
    FeedPage::parse(&resp.text().await.map_err(|e| e.to_string())?)
}

/// Reads every tenant's feed from where it left off and revokes what it
/// lists in the gate. The borrow of the state is never held across a fetch.
async fn refresh(state: Rc<RefCell<GateState>>, env: Env) {
    let started = crate::clock::now_ms();
    let (source, since) = {
        let mut st = state.borrow_mut();
        let Some(feed) = st.feed.as_mut() else { return };
        feed.refreshing = true;
        (feed.source.clone(), feed.since.clone())
    };
    let mut ok = true;
    for (tenant, mut from) in since {
        loop {
            match page(&env, &source, &tenant, from).await {
                Ok(p) => {
                    let mut st = state.borrow_mut();
                    if let Ok(gate) = st.gate.as_mut() {
                        gate.revoke_bundles(p.bundles.into_iter().map(|b| b.bundle_id));
                    }
                    from = p.seq.max(from);
                    if let Some(feed) = st.feed.as_mut() {
                        feed.since.insert(tenant.clone(), from);
                    }
                    if !p.more {
                        break;
                    }
                }
                Err(problem) => {
                    log(&serde_json::json!({ "sg": "revocation_feed_error", "tenant": tenant, "problem": problem }));
                    ok = false;
                    break;
                }
            }
        }
    }
    let mut st = state.borrow_mut();
    if let Some(feed) = st.feed.as_mut() {
        feed.refreshing = false;
        if ok {
            feed.fetched_ms = started;
        }
    }
}

/// Makes the feed fresh enough to decide on (see [`crate::serve::feed`]).
/// `Err` when it could not be read for too long: the caller fails closed.
pub async fn ensure(state: Rc<RefCell<GateState>>, env: &Env, ctx: Option<&Context>) -> Result<(), ()> {
    let now = crate::clock::now_ms();
    let (action, refreshing) = match state.borrow().feed.as_ref() {
        Some(f) => (feed_action(f.fetched_ms, now), f.refreshing),
        None => return Ok(()),
    };
    match (action, ctx) {
        (FeedAction::Decide, _) => {}
        (FeedAction::RefreshInBackground, Some(ctx)) => {
            if !refreshing {
                ctx.wait_until(refresh(state.clone(), env.clone()));
            }
        }
        _ => refresh(state.clone(), env.clone()).await,
    }
    let fetched = state.borrow().feed.as_ref().map_or(now, |f| f.fetched_ms);
    if feed_is_stale(fetched, crate::clock::now_ms()) {
        return Err(());
    }
    Ok(())
}
