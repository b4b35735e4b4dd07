//! Gate configuration from Worker variables and secrets, so that rotating a
//! key or deploying a policy needs no code change.
//!
//! | variable | meaning |
//! |---|---|
//! | `SG_AUDIENCE` | required `aud` of bundles |
//! | `SG_TENANT` | tenant of this gate (or `SG_TENANTS`: JSON `{"host": "tenant"}`, hosts compared without case) |
//! | `SG_KEY_TENANTS` | JSON `{"kid": ["tenant", ...]}`: the tenants each signing key may sign for; required when the gate serves more than one tenant |
//! | `SG_SCOPE` | consent scope this gate serves (default `web`) |
//! | `SG_CHANNEL` | delivery channel (default `web`) |
//! | `SG_ROUTES` | JSON `{"/path-prefix": ["purpose", ...]}`; the longest prefix that matches whole path segments wins, on the normalised path (see [`normalize_path`]); default `{"/": ["personalization"]}` |
//! | `SG_PLAIN_ROUTES` | JSON `["/path-prefix", ...]`: pages under these prefixes (matched as in `SG_ROUTES`) carry no gate markup, as the origin renders them from the decision headers: the gate decides and forwards as usual but streams them without the HTML filter (no `#sg-decision` injected), cutting a page off should it name gate markup after all. A page's origin can declare the same per response with `Sg-Markup: none` (see [`crate::serve::markup::MARKUP_HEADER`]) |
//! | `SG_PUBLIC_KEYS` | JWK Set of the origin's public signing keys (several during a rotation) |
//! | `SG_POLICY` | the policy JSON (default: `SG_POLICY_URL`, else `/policy.json` from the static assets) |
//! | `SG_POLICY_URL` | an `http(s)` URL to fetch the policy from (e.g. the origin's `/v1/policy`); a failed fetch is retried with backoff |
//! | `SG_REVOCATIONS` | JSON `{"bundles": [...], "subjects": [...]}` |
//! | `SG_UPSTREAM` | origin URL (`http(s)://host[:port][/base]`) to fetch pages from (default: the static assets) |
//! | `SG_REVOCATION_FEED` | `origin` (the `ORIGIN` service binding; `wrangler.toml` sets it) or an origin's `https://` base URL (`http://` only for `localhost`, `127.0.0.1` or `[::1]`): poll its revocation feed so a consent revoked there stops yielding tokens here within 1 s (see [`crate::serve::feed`]); empty: no feed |
//! | `SG_CACHE_BYTES` | memory budget of the verified-bundle cache in bytes (default 8 MiB, 16 KiB to 256 MiB) |
//! | `SG_LOG` | `failures` (default: one line per failed bundle or error) or `all` (also every decision) |
//! | `SG_METRICS_TOKEN` | at least 16 bytes: the bearer token of `GET /__sg/metrics` (this isolate's decision counters); without it that endpoint does not exist |
//! | `SG_FORWARD_ADMIN` | local development and tests only: `1` forwards the origin's `/v1/admin/` routes, which the gate otherwise answers 404 (read on each request by the Worker, see [`crate::serve::forward`]) |
//! | `SG_FAULT_INJECTION` | tests only: `panic` makes every page request panic inside the gate, to prove the shim fails closed |

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::cache::DEFAULT_MAX_BYTES;
use super::url::{in_route, normalize_path};
use crate::model::ident::is_ident;

/// The smallest and largest `SG_CACHE_BYTES`.
pub const CACHE_BYTES_RANGE: (usize, usize) = (16 * 1024, 256 * 1024 * 1024);

/// A configuration problem: the variable and what is wrong. The gate then
/// serves the generic tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeError {
    /// The variable at fault (`SG_AUDIENCE`, `SG_POLICY`, ...).
    pub variable: &'static str,
    /// What is wrong, in one line.
    pub problem: String,
}

impl fmt::Display for EdgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.variable, self.problem)
    }
}

impl std::error::Error for EdgeError {}

/// Request-independent settings of the edge gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeConfig {
    /// `SG_AUDIENCE`: the `aud` bundles must carry; not empty.
    pub audience: String,
    /// `SG_TENANT`: the tenant for hosts `SG_TENANTS` does not list, an identifier.
    pub tenant: Option<String>,
    /// Lowercased host -> tenant.
    pub tenants_by_host: BTreeMap<String, String>,
    /// `kid` -> the tenants it may sign for, when keys are tied to tenants.
    pub key_tenants: Option<BTreeMap<String, Vec<String>>>,
    /// `SG_SCOPE`: the consent scope this gate serves (default `web`).
    pub scope: String,
    /// `SG_CHANNEL`: the delivery channel (default `web`).
    pub channel: String,
    /// Route prefixes (normalised) and their purposes, longest prefix first.
    pub routes: Vec<(String, Vec<String>)>,
    /// Route prefixes (normalised) whose pages skip the HTML filter.
    pub plain_routes: Vec<String>,
    /// The upstream origin, without a trailing slash.
    pub upstream: Option<String>,
    /// Where to fetch the policy from, when `SG_POLICY` is not set.
    pub policy_url: Option<String>,
    /// The revocation feed to poll: `Some("origin")` for the `ORIGIN`
    /// binding, or an origin's base URL.
    pub revocation_feed: Option<String>,
    /// Memory budget of the verified-bundle cache.
    pub cache_bytes: usize,
    /// Log every decision, not only failures.
    pub log_all: bool,
}

fn json_var<T: serde::de::DeserializeOwned>(variable: &'static str, text: &str) -> Result<T, EdgeError> {
    serde_json::from_str(text)
        .map_err(|e| EdgeError { variable, problem: format!("not valid JSON of the expected shape: {e}") })
}

/// An `http(s)://host[:port][/path]` URL without userinfo, query or
/// fragment, returned without its trailing slash.
fn base_url(variable: &'static str, text: &str) -> Result<String, EdgeError> {
    let fail = |problem: &str| EdgeError { variable, problem: format!("{problem}, found `{text}`") };
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| fail("expected an http:// or https:// URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(fail("expected a host after the scheme"));
    }
    if text.contains(['?', '#', '@', '\\']) || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(fail("expected no userinfo, query, fragment, backslash or white space"));
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// The revocation feed's base URL: `https://`, since what it says decides
/// which bundles are refused; plain `http://` only to this machine (local
/// development and tests).
fn feed_url(text: &str) -> Result<String, EdgeError> {
    let url = base_url("SG_REVOCATION_FEED", text)?;
    let host = super::url::host_of(&url);
    if url.starts_with("https://") || matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]") {
        return Ok(url);
    }
    let problem = format!("expected `origin` or an https:// URL (http:// only to localhost), found `{text}`");
    Err(EdgeError { variable: "SG_REVOCATION_FEED", problem })
}

impl EdgeConfig {
    /// Reads the settings through `var` (a lookup of Worker variables).
    ///
    /// ```
    /// use signalgate::serve::EdgeConfig;
    /// let vars = |name: &str| match name {
    ///     "SG_AUDIENCE" => Some("signalgate".to_string()),
    ///     "SG_TENANT" => Some("demo-shop".to_string()),
    ///     "SG_ROUTES" => Some(r#"{"/": ["personalization"], "/deals": ["personalization", "targeted_advertising"]}"#.to_string()),
    ///     _ => None,
    /// };
    /// let c = EdgeConfig::from_vars(vars).unwrap();
    /// assert_eq!(c.purposes_for("/deals/today"), ["personalization", "targeted_advertising"]);
    /// assert_eq!(c.purposes_for("/shoes"), ["personalization"]);
    /// assert_eq!(c.tenant_for("anything.example"), Some("demo-shop"));
    /// ```
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<EdgeConfig, EdgeError> {
        let audience = var("SG_AUDIENCE")
            .filter(|a| !a.is_empty())
            .ok_or(EdgeError { variable: "SG_AUDIENCE", problem: "is required".into() })?;
        let tenant = var("SG_TENANT").filter(|t| !t.is_empty());
        let tenants_by_host: BTreeMap<String, String> = match var("SG_TENANTS") {
            Some(text) => json_var::<BTreeMap<String, String>>("SG_TENANTS", &text)?
                .into_iter()
                .map(|(host, t)| (host.to_ascii_lowercase(), t))
                .collect(),
            None => BTreeMap::new(),
        };
        if tenant.is_none() && tenants_by_host.is_empty() {
            return Err(EdgeError { variable: "SG_TENANT", problem: "is required (or give `SG_TENANTS`)".into() });
        }
        let all_tenants: BTreeSet<&String> = tenant.iter().chain(tenants_by_host.values()).collect();
        if let Some(bad) = all_tenants.iter().find(|t| !is_ident(t)) {
            let variable = if tenant.as_ref() == Some(*bad) { "SG_TENANT" } else { "SG_TENANTS" };
            return Err(EdgeError { variable, problem: format!("tenant `{bad}` is not an identifier") });
        }
        let key_tenants = match var("SG_KEY_TENANTS") {
            Some(text) => Some(json_var::<BTreeMap<String, Vec<String>>>("SG_KEY_TENANTS", &text)?),
            None if all_tenants.len() > 1 => {
                return Err(EdgeError {
                    variable: "SG_KEY_TENANTS",
                    problem: "is required when the gate serves several tenants: tie each key to its tenants".into(),
                })
            }
            None => None,
        };
        let mut routes = Vec::new();
        match var("SG_ROUTES") {
            Some(text) => {
                for (prefix, purposes) in json_var::<BTreeMap<String, Vec<String>>>("SG_ROUTES", &text)? {
                    if !prefix.starts_with('/') {
                        let problem = format!("route `{prefix}` must start with `/`");
                        return Err(EdgeError { variable: "SG_ROUTES", problem });
                    }
                    routes.push((normalize_path(&prefix), purposes));
                }
            }
            None => routes.push(("/".into(), vec!["personalization".into()])),
        }
        routes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        if let Some(w) = routes.windows(2).find(|w| w[0].0 == w[1].0) {
            let problem = format!("two routes normalise to `{}`", w[0].0);
            return Err(EdgeError { variable: "SG_ROUTES", problem });
        }
        let mut plain_routes = Vec::new();
        if let Some(text) = var("SG_PLAIN_ROUTES").filter(|t| !t.trim().is_empty()) {
            for prefix in json_var::<Vec<String>>("SG_PLAIN_ROUTES", &text)? {
                if !prefix.starts_with('/') {
                    let problem = format!("route `{prefix}` must start with `/`");
                    return Err(EdgeError { variable: "SG_PLAIN_ROUTES", problem });
                }
                plain_routes.push(normalize_path(&prefix));
            }
        }
        let cache_bytes = match var("SG_CACHE_BYTES") {
            None => DEFAULT_MAX_BYTES,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if (CACHE_BYTES_RANGE.0..=CACHE_BYTES_RANGE.1).contains(&n) => n,
                _ => {
                    let (lo, hi) = CACHE_BYTES_RANGE;
                    let problem = format!("expected a number of bytes from {lo} to {hi}, found `{text}`");
                    return Err(EdgeError { variable: "SG_CACHE_BYTES", problem });
                }
            },
        };
        let url_var = |name: &'static str| -> Result<Option<String>, EdgeError> {
            var(name).filter(|u| !u.is_empty()).map(|u| base_url(name, &u)).transpose()
        };
        Ok(EdgeConfig {
            audience,
            tenant,
            tenants_by_host,
            key_tenants,
            scope: var("SG_SCOPE").unwrap_or_else(|| "web".into()),
            channel: var("SG_CHANNEL").unwrap_or_else(|| "web".into()),
            routes,
            plain_routes,
            upstream: url_var("SG_UPSTREAM")?,
            policy_url: url_var("SG_POLICY_URL")?,
            revocation_feed: match var("SG_REVOCATION_FEED").filter(|v| !v.is_empty()) {
                None => None,
                Some(v) if v == "origin" => Some(v),
                Some(v) => Some(feed_url(&v)?),
            },
            cache_bytes,
            log_all: match var("SG_LOG").as_deref() {
                None | Some("failures") => false,
                Some("all") => true,
                Some(other) => {
                    return Err(EdgeError {
                        variable: "SG_LOG",
                        problem: format!("expected `failures` or `all`, found `{other}`"),
                    })
                }
            },
        })
    }

    /// The purposes of the route serving `path` (none if no route matches):
    /// the longest route prefix that covers the normalised path on whole
    /// segments.
    pub fn purposes_for(&self, path: &str) -> &[String] {
        let path = normalize_path(path);
        self.routes.iter().find(|(prefix, _)| in_route(&path, prefix)).map_or(&[], |(_, p)| p)
    }

    /// Whether the page at `path` is on a route of `SG_PLAIN_ROUTES` (its
    /// normalised path under one of them, on whole segments).
    pub fn is_plain(&self, path: &str) -> bool {
        if self.plain_routes.is_empty() {
            return false;
        }
        let path = normalize_path(path);
        self.plain_routes.iter().any(|prefix| in_route(&path, prefix))
    }

    /// The tenant for a request to `host` (the request URL's host, compared
    /// without case and without a port).
    pub fn tenant_for(&self, host: &str) -> Option<&str> {
        let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        self.tenants_by_host.get(&host).or(self.tenant.as_ref()).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<EdgeConfig, EdgeError> {
        let vars: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        EdgeConfig::from_vars(|n| vars.get(n).cloned())
    }

    #[test]
    fn routes_match_whole_segments_of_the_normalised_path() {
        let c = config(&[
            ("SG_AUDIENCE", "a"),
            ("SG_TENANT", "t"),
            ("SG_ROUTES", r#"{"/": ["p"], "/Deals/": ["p", "ads"], "/kids": []}"#),
        ])
        .unwrap();
        assert_eq!(c.purposes_for("/deals"), ["p", "ads"]);
        assert_eq!(c.purposes_for("/DEALS/x"), ["p", "ads"]);
        assert_eq!(c.purposes_for("//deals"), ["p", "ads"]);
        assert_eq!(c.purposes_for("/%64eals/today"), ["p", "ads"]);
        assert_eq!(c.purposes_for("/dealers"), ["p"]);
        assert_eq!(c.purposes_for("/deals/../kids/toys"), [] as [&str; 0]);
        let bad = config(&[("SG_AUDIENCE", "a"), ("SG_TENANT", "t"), ("SG_ROUTES", r#"{"deals": []}"#)]);
        assert_eq!(bad.unwrap_err().variable, "SG_ROUTES");
        let twice = config(&[("SG_AUDIENCE", "a"), ("SG_TENANT", "t"), ("SG_ROUTES", r#"{"/a": [], "/A/": []}"#)]);
        assert!(twice.unwrap_err().problem.contains("normalise"));
    }

    #[test]
    fn plain_routes_match_like_routes() {
        let c = config(&[("SG_AUDIENCE", "a"), ("SG_TENANT", "t"), ("SG_PLAIN_ROUTES", r#"["/Help/", "/api-docs"]"#)])
            .unwrap();
        assert!(c.is_plain("/help") && c.is_plain("/HELP/faq") && c.is_plain("//api-docs/x") && c.is_plain("/%68elp"));
        assert!(!c.is_plain("/helpers") && !c.is_plain("/") && !c.is_plain("/help/../shop"));
        let none = config(&[("SG_AUDIENCE", "a"), ("SG_TENANT", "t")]).unwrap();
        assert!(!none.is_plain("/help"));
        let bad = config(&[("SG_AUDIENCE", "a"), ("SG_TENANT", "t"), ("SG_PLAIN_ROUTES", r#"["help"]"#)]);
        assert_eq!(bad.unwrap_err().variable, "SG_PLAIN_ROUTES");
        let not_list = config(&[("SG_AUDIENCE", "a"), ("SG_TENANT", "t"), ("SG_PLAIN_ROUTES", r#"{"/help": []}"#)]);
        assert_eq!(not_list.unwrap_err().variable, "SG_PLAIN_ROUTES");
    }

    #[test]
    fn hosts_compare_without_case_and_several_tenants_need_key_bindings() {
        let pairs = [("SG_AUDIENCE", "a"), ("SG_TENANTS", r#"{"Shop-A.example": "ta", "shop-b.example": "tb"}"#)];
        assert_eq!(config(&pairs).unwrap_err().variable, "SG_KEY_TENANTS");
        let mut with_keys = pairs.to_vec();
        with_keys.push(("SG_KEY_TENANTS", r#"{"k1": ["ta"], "k2": ["tb"]}"#));
        let c = config(&with_keys).unwrap();
        assert_eq!(c.tenant_for("SHOP-A.EXAMPLE:443"), Some("ta"));
        assert_eq!(c.tenant_for("other.example"), None);
        // One tenant under several hosts needs no binding.
        let one = config(&[("SG_AUDIENCE", "a"), ("SG_TENANTS", r#"{"a.example": "t", "b.example": "t"}"#)]);
        assert!(one.unwrap().key_tenants.is_none());
    }

    #[test]
    fn urls_and_cache_budget_are_validated() {
        let base = [("SG_AUDIENCE", "a"), ("SG_TENANT", "t")];
        let with = |k: &'static str, v: &'static str| {
            let mut p = base.to_vec();
            p.push((k, v));
            config(&p)
        };
        assert_eq!(
            with("SG_UPSTREAM", "https://origin.example/").unwrap().upstream.as_deref(),
            Some("https://origin.example")
        );
        for bad in ["ftp://x", "https://", "https://u@x", "https://x/?q", "https://x/#f", "//x", "https://x y"] {
            assert_eq!(with("SG_UPSTREAM", bad).unwrap_err().variable, "SG_UPSTREAM", "{bad}");
        }
        assert_eq!(
            with("SG_POLICY_URL", "http://127.0.0.1:9/p").unwrap().policy_url.as_deref(),
            Some("http://127.0.0.1:9/p")
        );
        assert_eq!(with("SG_CACHE_BYTES", "65536").unwrap().cache_bytes, 65536);
        // The revocation feed decides what is refused: https, or this machine.
        for good in ["origin", "https://origin.example/", "http://127.0.0.1:8788", "http://localhost", "http://[::1]:1"]
        {
            assert!(with("SG_REVOCATION_FEED", good).unwrap().revocation_feed.is_some(), "{good}");
        }
        for bad in
            ["http://origin.example", "http://127.0.0.1.evil.example", "http://localhost.evil.example", "ftp://x"]
        {
            assert_eq!(with("SG_REVOCATION_FEED", bad).unwrap_err().variable, "SG_REVOCATION_FEED", "{bad}");
        }
        assert!(with("SG_REVOCATION_FEED", "").unwrap().revocation_feed.is_none());
        assert_eq!(with("SG_CACHE_BYTES", "10").unwrap_err().variable, "SG_CACHE_BYTES");
        assert_eq!(config(&base).unwrap().cache_bytes, DEFAULT_MAX_BYTES);
    }
}
