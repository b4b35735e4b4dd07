//! Gate configuration from Worker variables and secrets, so that rotating a
//! key or deploying a policy needs no code change.
//!
//! | variable | meaning |
//! |---|---|
//! | `SG_AUDIENCE` | required `aud` of bundles |
//! | `SG_TENANT` | tenant of this gate (or `SG_TENANTS`: JSON `{"host": "tenant"}`) |
//! | `SG_SCOPE` | consent scope this gate serves (default `web`) |
//! | `SG_CHANNEL` | delivery channel (default `web`) |
//! | `SG_ROUTES` | JSON `{"/path-prefix": ["purpose", ...]}`, longest prefix wins (default `{"/": ["personalization"]}`) |
//! | `SG_PUBLIC_KEYS` | JWK Set of the origin's public signing keys (several during a rotation) |
//! | `SG_POLICY` | the policy JSON (default: `/policy.json` from the static assets) |
//! | `SG_REVOCATIONS` | JSON `{"bundles": [...], "subjects": [...]}` |
//! | `SG_UPSTREAM` | origin URL to fetch pages from (default: the static assets) |
//! | `SG_LOG` | `failures` (default: one line per failed bundle or error) or `all` (also every decision) |

use std::collections::BTreeMap;
use std::fmt;

/// A configuration problem: the variable and what is wrong. The gate then
/// serves the generic tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeError {
    pub variable: &'static str,
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
    pub audience: String,
    pub tenant: Option<String>,
    pub tenants_by_host: BTreeMap<String, String>,
    pub scope: String,
    pub channel: String,
    /// Route prefixes and their purposes, longest prefix first.
    pub routes: Vec<(String, Vec<String>)>,
    pub upstream: Option<String>,
    /// Log every decision, not only failures.
    pub log_all: bool,
}

fn json_var<T: serde::de::DeserializeOwned>(variable: &'static str, text: &str) -> Result<T, EdgeError> {
    serde_json::from_str(text)
        .map_err(|e| EdgeError { variable, problem: format!("not valid JSON of the expected shape: {e}") })
}

impl EdgeConfig {
    /// Reads the settings through `var` (a lookup of Worker variables).
    ///
    /// ```
    /// use signalgate::edge::EdgeConfig;
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
            Some(text) => json_var("SG_TENANTS", &text)?,
            None => BTreeMap::new(),
        };
        if tenant.is_none() && tenants_by_host.is_empty() {
            return Err(EdgeError { variable: "SG_TENANT", problem: "is required (or give `SG_TENANTS`)".into() });
        }
        let mut routes: Vec<(String, Vec<String>)> = match var("SG_ROUTES") {
            Some(text) => json_var::<BTreeMap<String, Vec<String>>>("SG_ROUTES", &text)?.into_iter().collect(),
            None => vec![("/".into(), vec!["personalization".into()])],
        };
        routes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(EdgeConfig {
            audience,
            tenant,
            tenants_by_host,
            scope: var("SG_SCOPE").unwrap_or_else(|| "web".into()),
            channel: var("SG_CHANNEL").unwrap_or_else(|| "web".into()),
            routes,
            upstream: var("SG_UPSTREAM").filter(|u| !u.is_empty()),
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

    /// The purposes of the route serving `path` (none if no prefix matches).
    pub fn purposes_for(&self, path: &str) -> &[String] {
        self.routes.iter().find(|(prefix, _)| path.starts_with(prefix.as_str())).map_or(&[], |(_, p)| p)
    }

    /// The tenant for a request to `host`.
    pub fn tenant_for(&self, host: &str) -> Option<&str> {
        let host = host.split(':').next().unwrap_or(host);
        self.tenants_by_host.get(host).or(self.tenant.as_ref()).map(String::as_str)
    }
}
