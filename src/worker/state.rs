//! The per-isolate gate state: configuration, the `Gate` (policy + keys +
//! revocations, parsed once) and the verified-bundle cache. Built on the
//! isolate's first request: variables and secrets are fixed for an isolate
//! (a new deployment or new variables start new isolates). A gate that could
//! not be built (the policy fetch failed, say) is built again on a later
//! request, with exponential backoff, instead of serving the generic tier
//! until the isolate is recycled.

use std::cell::RefCell;
use std::rc::Rc;

use worker::Env;

use crate::bundle::{KeySet, Revocations};
use crate::eval::{Context, Decision, Gate};
use crate::failure::FailureCode;
use crate::model::Policy;
use crate::serve::{BundleCache, EdgeConfig, EdgeError};

/// First retry after a failed build, in milliseconds; doubled after each
/// further failure, up to [`RETRY_MAX_MS`].
pub const RETRY_FIRST_MS: f64 = 1_000.0;
/// Longest wait between two attempts.
pub const RETRY_MAX_MS: f64 = 60_000.0;

/// What one isolate keeps between requests.
pub struct GateState {
    /// The settings read from the isolate's variables.
    pub(crate) config: EdgeConfig,
    /// The gate, or why it could not be built (then every decision is generic
    /// with the code `config` until a rebuild succeeds).
    pub(crate) gate: Result<Gate, EdgeError>,
    /// The isolate's verified-bundle cache, emptied when a failed gate is rebuilt.
    pub(crate) cache: BundleCache,
    /// The revocation feed, when one is configured.
    pub(crate) feed: Option<super::feed::FeedState>,
    /// This isolate's decision counters (`/__sg/metrics`).
    pub(crate) counters: crate::serve::metrics::GateCounters,
    /// A random name for this isolate, to label its counters.
    pub(crate) isolate: String,
    /// While `gate` is an error: when to try again (ms since the epoch) and
    /// how many attempts have failed.
    retry: Option<(f64, u32)>,
}

// The isolate's state lives in a thread-local because a Worker isolate runs
// one thread and workers-rs gives the fetch handler no place of its own to
// keep values between requests; everything here is derived from the
// environment and may be rebuilt at any time.
thread_local! {
    static STATE: RefCell<Option<Rc<RefCell<GateState>>>> = const { RefCell::new(None) };
}

/// A variable, else a secret, of that name.
pub(crate) fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string()).or_else(|| env.secret(name).ok().map(|s| s.to_string()))
}

/// The policy text: `SG_POLICY`, else `SG_POLICY_URL`, else `/policy.json`
/// from the static assets.
async fn policy_text(env: &Env, config: &EdgeConfig) -> Result<String, EdgeError> {
    if let Some(p) = var(env, "SG_POLICY") {
        return Ok(p);
    }
    let (variable, mut resp) = match &config.policy_url {
        Some(url) => {
            let fail = |problem: String| EdgeError { variable: "SG_POLICY_URL", problem };
            // A request built from the string (no URL parser linked in).
            let request = worker::Request::new(url, worker::Method::Get).map_err(|e| fail(format!("{e}")))?;
            let resp = worker::Fetch::Request(request)
                .send()
                .await
                .map_err(|e| fail(format!("fetching the policy failed: {e}")))?;
            ("SG_POLICY_URL", resp)
        }
        None => {
            let fail = |problem: String| EdgeError { variable: "SG_POLICY", problem };
            let assets = env
                .assets("ASSETS")
                .map_err(|_| fail("not set, and there is no ASSETS binding to read /policy.json from".into()))?;
            let resp = assets.fetch("https://assets.local/policy.json", None).await.map_err(|e| fail(e.to_string()))?;
            ("SG_POLICY", resp)
        }
    };
    if resp.status_code() != 200 {
        let problem = format!("the policy fetch answered {}", resp.status_code());
        return Err(EdgeError { variable, problem });
    }
    resp.text().await.map_err(|e| EdgeError { variable, problem: e.to_string() })
}

fn build_gate(
    config: &EdgeConfig,
    policy: &str,
    keys: Option<&str>,
    revocations: Option<&str>,
) -> Result<Gate, EdgeError> {
    let policy = Policy::from_json(policy).map_err(|e| EdgeError { variable: "SG_POLICY", problem: e.to_string() })?;
    let keys = keys.ok_or(EdgeError { variable: "SG_PUBLIC_KEYS", problem: "is required".into() })?;
    let mut keys =
        KeySet::from_json(keys).map_err(|e| EdgeError { variable: "SG_PUBLIC_KEYS", problem: e.to_string() })?;
    if let Some(map) = &config.key_tenants {
        keys = keys
            .with_key_tenants(map.clone())
            .map_err(|e| EdgeError { variable: "SG_KEY_TENANTS", problem: e.to_string() })?;
    }
    let revocations = match revocations {
        Some(r) => {
            Revocations::from_json(r).map_err(|e| EdgeError { variable: "SG_REVOCATIONS", problem: e.to_string() })?
        }
        None => Revocations::default(),
    };
    Ok(Gate::new(policy, keys, &config.audience).with_revocations(revocations))
}

/// Builds the gate from the environment, logging a failure.
async fn load_gate(env: &Env, config: &EdgeConfig) -> Result<Gate, EdgeError> {
    let (keys, revocations) = (var(env, "SG_PUBLIC_KEYS"), var(env, "SG_REVOCATIONS"));
    let gate = match policy_text(env, config).await {
        Ok(policy) => build_gate(config, &policy, keys.as_deref(), revocations.as_deref()),
        Err(e) => Err(e),
    };
    if let Err(e) = &gate {
        log(&serde_json::json!({ "sg": "config_error", "problem": e.to_string() }));
    }
    gate
}

/// The wait before the next attempt after `failures` failed ones.
pub fn backoff_ms(failures: u32) -> f64 {
    (RETRY_FIRST_MS * 2f64.powi(failures.saturating_sub(1).min(16) as i32)).min(RETRY_MAX_MS)
}

impl GateState {
    /// The state for this isolate, built on its first request. A
    /// configuration that cannot be read at all is tried again next time; a
    /// gate that failed to build is rebuilt once its backoff has passed.
    pub async fn load(env: &Env) -> Result<Rc<RefCell<GateState>>, EdgeError> {
        if let Some(state) = STATE.with(|s| s.borrow().clone()) {
            let due = state.borrow().retry.filter(|(at, _)| crate::clock::now_ms() >= *at);
            if let Some((_, failures)) = due {
                // Claim the attempt first, so concurrent requests do not all retry.
                state.borrow_mut().retry = Some((crate::clock::now_ms() + backoff_ms(failures + 1), failures + 1));
                let config = state.borrow().config.clone();
                let gate = load_gate(env, &config).await;
                let mut st = state.borrow_mut();
                if gate.is_ok() {
                    st.retry = None;
                    st.cache.clear();
                    // A new gate holds none of the feed's revocations: read it again.
                    if let Some(feed) = st.feed.as_mut() {
                        feed.reset();
                    }
                }
                st.gate = gate;
            }
            return Ok(state);
        }
        let config = EdgeConfig::from_vars(|n| var(env, n))?;
        let gate = load_gate(env, &config).await;
        let retry = gate.as_ref().err().map(|_| (crate::clock::now_ms() + backoff_ms(1), 1));
        let cache = BundleCache::with_limits(crate::serve::DEFAULT_CAPACITY, config.cache_bytes);
        let feed = config.revocation_feed.as_deref().map(|source| {
            super::feed::FeedState::new(match source {
                "origin" => super::feed::FeedSource::Origin,
                url => super::feed::FeedSource::Url(url.to_string()),
            })
        });
        let mut random = [0u8; 6];
        let _ = getrandom::fill(&mut random);
        let isolate = crate::codec::b64::encode(&random);
        let counters = Default::default();
        let state = Rc::new(RefCell::new(GateState { config, gate, cache, retry, feed, counters, isolate }));
        STATE.with(|s| *s.borrow_mut() = Some(state.clone()));
        Ok(state)
    }

    /// The policy version, or `unknown` when the policy failed to load.
    pub fn policy_version(&self) -> String {
        self.gate.as_ref().map_or_else(|_| "unknown".into(), |g| g.policy().version().to_string())
    }

    /// Decides, using the cache of verified bundles. Returns the decision and
    /// whether the cache answered.
    pub fn decide(&mut self, token: Option<&str>, ctx: &Context) -> (Decision, bool) {
        let gate = match &mut self.gate {
            Ok(g) => g,
            Err(e) => return (Decision::failed("unknown", FailureCode::Config, e.to_string()), false),
        };
        crate::serve::decide_with_cache(gate, &mut self.cache, token, ctx, crate::eval::Detail::Summary)
    }
}

/// One structured log line (never personal data: no subject, no bundle).
pub fn log(value: &serde_json::Value) {
    worker::console_log!("{}", value);
}
