//! The per-isolate gate state: configuration, the `Gate` (policy + keys +
//! revocations, parsed once) and the verified-bundle cache. Built on the
//! isolate's first request: variables and secrets are fixed for an isolate
//! (a new deployment or new variables start new isolates).

use std::cell::RefCell;
use std::rc::Rc;

use worker::Env;

use crate::bundle::{KeySet, Revocations};
use crate::edge::{BundleCache, EdgeConfig, EdgeError};
use crate::eval::{Context, Decision, Gate};
use crate::model::Policy;

/// What one isolate keeps between requests.
pub struct GateState {
    pub config: EdgeConfig,
    pub gate: Result<Gate, EdgeError>,
    pub cache: BundleCache,
}

thread_local! {
    static STATE: RefCell<Option<Rc<RefCell<GateState>>>> = const { RefCell::new(None) };
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string()).or_else(|| env.secret(name).ok().map(|s| s.to_string()))
}

/// The policy text: `SG_POLICY`, else `/policy.json` from the static assets.
async fn policy_text(env: &Env) -> Result<String, EdgeError> {
    if let Some(p) = var(env, "SG_POLICY") {
        return Ok(p);
    }
    let fail = |problem: String| EdgeError { variable: "SG_POLICY", problem };
    let assets = env
        .assets("ASSETS")
        .map_err(|_| fail("not set, and there is no ASSETS binding to read /policy.json from".into()))?;
    let mut resp = assets.fetch("https://assets.local/policy.json", None).await.map_err(|e| fail(e.to_string()))?;
    if resp.status_code() != 200 {
        return Err(fail(format!("not set, and /policy.json answered {}", resp.status_code())));
    }
    resp.text().await.map_err(|e| fail(e.to_string()))
}

fn build_gate(
    config: &EdgeConfig,
    policy: &str,
    keys: Option<&str>,
    revocations: Option<&str>,
) -> Result<Gate, EdgeError> {
    let policy = Policy::from_json(policy).map_err(|e| EdgeError { variable: "SG_POLICY", problem: e.to_string() })?;
    let keys = keys.ok_or(EdgeError { variable: "SG_PUBLIC_KEYS", problem: "is required".into() })?;
    let keys = KeySet::from_json(keys).map_err(|e| EdgeError { variable: "SG_PUBLIC_KEYS", problem: e.to_string() })?;
    let revocations = match revocations {
        Some(r) => {
            Revocations::from_json(r).map_err(|e| EdgeError { variable: "SG_REVOCATIONS", problem: e.to_string() })?
        }
        None => Revocations::default(),
    };
    Ok(Gate::new(policy, keys, &config.audience).with_revocations(revocations))
}

impl GateState {
    /// The state for this isolate, built on its first request. A
    /// configuration that cannot be read at all is tried again next time.
    pub async fn load(env: &Env) -> Result<Rc<RefCell<GateState>>, EdgeError> {
        if let Some(state) = STATE.with(|s| s.borrow().clone()) {
            return Ok(state);
        }
        let config = EdgeConfig::from_vars(|n| var(env, n))?;
        let (keys, revocations) = (var(env, "SG_PUBLIC_KEYS"), var(env, "SG_REVOCATIONS"));
        let gate = match policy_text(env).await {
            Ok(policy) => build_gate(&config, &policy, keys.as_deref(), revocations.as_deref()),
            Err(e) => Err(e),
        };
        if let Err(e) = &gate {
            log(&serde_json::json!({ "sg": "config_error", "problem": e.to_string() }));
        }
        let state = Rc::new(RefCell::new(GateState { config, gate, cache: BundleCache::default() }));
        STATE.with(|s| *s.borrow_mut() = Some(state.clone()));
        Ok(state)
    }

    /// The policy version, or `unknown` when the policy failed to load.
    pub fn policy_version(&self) -> String {
        self.gate.as_ref().map_or_else(|_| "unknown".into(), |g| g.policy().version.clone())
    }

    /// Decides, using the cache of verified bundles. Returns the decision and
    /// whether the cache answered.
    pub fn decide(&mut self, token: Option<&str>, ctx: &Context) -> (Decision, bool) {
        let gate = match &self.gate {
            Ok(g) => g,
            Err(e) => return (Decision::failed("unknown", "config", e.to_string()), false),
        };
        crate::edge::decide_with_cache(gate, &mut self.cache, token, ctx, crate::eval::Detail::Summary)
    }
}

/// One structured log line (never personal data: no subject, no bundle).
pub fn log(value: &serde_json::Value) {
    worker::console_log!("{}", value);
}
