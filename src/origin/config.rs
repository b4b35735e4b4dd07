//! The origin Worker's configuration, from variables and secrets, read once
//! per isolate.
//!
//! | variable | meaning |
//! |---|---|
//! | `SG_POLICY` | the policy JSON the ledger enforces (required) |
//! | `SG_SIGNING_KEYS` | secret: JSON list (or JWK Set) of private JWKs; the first signs, all are published in `/v1/keys` (rotation) |
//! | `SG_SESSION_SECRET` | secret: at least 32 bytes, the HMAC key of browser sessions |
//! | `SG_DATA_KEYS` | secret: the data keyring, `{"active": "k1", "keys": {"k1": "<32 bytes, base64url>"}}`; values of classes encrypted at rest are sealed with a per-tenant key derived from the active key (add a key and make it active to rotate: values move to it as subjects are written) |
//! | `SG_ADMIN_TOKEN` | secret: at least 32 bytes, the bearer token of the `/v1/admin/` routes (API keys, subjects, intake, webhooks, metrics) and of operators on the identity routes; without it they are off |
//! | `SG_TENANT` / `SG_TENANTS` | the tenant of browser requests, or JSON `{"host": "tenant"}` (a host not listed falls back to `SG_TENANT`) |
//! | `SG_SERVICE_TENANTS` | JSON list of further tenants that only servers use (API keys, no browser host) |
//! | `SG_ISSUER` | `iss` of issued bundles (default `signalgate-origin`) |
//! | `SG_AUDIENCE` | `aud` of issued bundles: the gates' audience (default `signalgate`) |
//! | `SG_SCOPE` | the scope consents cover by default: the gates' scope (default `web`) |
//! | `SG_BUNDLE_TTL` | how long issued bundles live (default `1d`, capped by the policy) |
//! | `SG_FAULT_INJECTION` | tests only: `ledger-crash` lets a request's `Sg-Test-Crash-After: N` header make its ledger write fail after N statements, inside the transaction |

use std::collections::BTreeMap;

use worker::Env;

use crate::bundle::{Signer, SigningKey};
use crate::model::Policy;
use crate::time::Span;

/// Everything the origin needs to answer.
pub struct OriginConfig {
    /// The policy.
    pub policy: Policy,
    /// The current signer (the first key).
    pub signer: Signer,
    /// The public JWK Set of every configured key.
    pub public_jwks: String,
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// The default consent scope.
    pub scope: String,
    /// Bundle lifetime.
    pub bundle_ttl: Span,
    /// Session HMAC key.
    pub session_secret: Vec<u8>,
    /// The data keyring (protection at rest).
    pub data_keys: crate::ledger::DataKeys,
    /// Admin bearer token.
    pub admin_token: Option<String>,
    /// Browser tenant.
    pub tenant: Option<String>,
    /// Browser tenant by lowercased host.
    pub tenants_by_host: BTreeMap<String, String>,
    /// Every tenant this origin serves: the browser tenants and
    /// `SG_SERVICE_TENANTS`. Requests naming another tenant are refused
    /// before any Durable Object is touched.
    pub tenants: std::collections::BTreeSet<String>,
    /// Tests only: requests may ask for a crash between writes.
    pub crash_injection: bool,
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .or_else(|| env.secret(name).ok().map(|s| s.to_string()))
        .filter(|s| !s.is_empty())
}

fn problem(variable: &str, detail: impl std::fmt::Display) -> String {
    format!("`{variable}`: {detail}")
}

impl OriginConfig {
    /// Reads and checks the configuration; the error names the variable.
    pub fn from_env(env: &Env) -> Result<OriginConfig, String> {
        let policy_text = var(env, "SG_POLICY").ok_or_else(|| problem("SG_POLICY", "is required"))?;
        let policy = Policy::from_json(&policy_text).map_err(|e| problem("SG_POLICY", e))?;
        let keys_text = var(env, "SG_SIGNING_KEYS").ok_or_else(|| problem("SG_SIGNING_KEYS", "is required"))?;
        let keys_json: serde_json::Value =
            serde_json::from_str(&keys_text).map_err(|e| problem("SG_SIGNING_KEYS", e))?;
        let list = keys_json.get("keys").unwrap_or(&keys_json);
        let list = list.as_array().ok_or_else(|| problem("SG_SIGNING_KEYS", "expected a list of private JWKs"))?;
        let mut keys = Vec::new();
        for k in list {
            keys.push(SigningKey::from_jwk_json(&k.to_string()).map_err(|e| problem("SG_SIGNING_KEYS", e))?);
        }
        let first = keys.first().cloned().ok_or_else(|| problem("SG_SIGNING_KEYS", "holds no key"))?;
        let public = crate::bundle::KeySet::new(keys.iter().map(SigningKey::public_key).collect())
            .map_err(|e| problem("SG_SIGNING_KEYS", e))?
            .to_json();
        let session_secret =
            var(env, "SG_SESSION_SECRET").ok_or_else(|| problem("SG_SESSION_SECRET", "is required"))?;
        if session_secret.len() < 32 {
            return Err(problem("SG_SESSION_SECRET", "must be at least 32 bytes"));
        }
        let data_keys = crate::ledger::DataKeys::from_json(
            &var(env, "SG_DATA_KEYS").ok_or_else(|| problem("SG_DATA_KEYS", "is required"))?,
        )
        .map_err(|e| problem("SG_DATA_KEYS", e))?;
        let tenants_by_host: BTreeMap<String, String> = match var(env, "SG_TENANTS") {
            Some(t) => serde_json::from_str::<BTreeMap<String, String>>(&t)
                .map_err(|e| problem("SG_TENANTS", e))?
                .into_iter()
                .map(|(h, t)| (h.to_ascii_lowercase(), t))
                .collect(),
            None => BTreeMap::new(),
        };
        let tenant = var(env, "SG_TENANT");
        let service_tenants: Vec<String> = match var(env, "SG_SERVICE_TENANTS") {
            Some(t) => serde_json::from_str(&t).map_err(|e| problem("SG_SERVICE_TENANTS", e))?,
            None => Vec::new(),
        };
        let tenants: std::collections::BTreeSet<String> =
            tenant.iter().chain(tenants_by_host.values()).chain(service_tenants.iter()).cloned().collect();
        if let Some(bad) = tenants.iter().find(|t| !crate::model::is_ident(t)) {
            return Err(problem("SG_TENANT/SG_TENANTS/SG_SERVICE_TENANTS", format!("{bad:?} is not an identifier")));
        }
        let admin_token = var(env, "SG_ADMIN_TOKEN");
        if admin_token.as_ref().is_some_and(|t| t.len() < 32) {
            return Err(problem("SG_ADMIN_TOKEN", "must be at least 32 bytes"));
        }
        let bundle_ttl = match var(env, "SG_BUNDLE_TTL") {
            Some(t) => Span::parse(&t).map_err(|e| problem("SG_BUNDLE_TTL", e))?,
            None => Span::days(1),
        };
        let crash_injection = var(env, "SG_FAULT_INJECTION").as_deref() == Some("ledger-crash");
        Ok(OriginConfig {
            policy,
            signer: Signer::new(first),
            public_jwks: public,
            issuer: var(env, "SG_ISSUER").unwrap_or_else(|| "signalgate-origin".into()),
            audience: var(env, "SG_AUDIENCE").unwrap_or_else(|| "signalgate".into()),
            scope: var(env, "SG_SCOPE").unwrap_or_else(|| "web".into()),
            bundle_ttl,
            session_secret: session_secret.into_bytes(),
            data_keys,
            admin_token,
            tenant,
            tenants_by_host,
            tenants,
            crash_injection,
        })
    }

    /// The browser tenant for a request to `host`.
    pub fn tenant_for(&self, host: &str) -> Option<&str> {
        let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        self.tenants_by_host.get(&host).or(self.tenant.as_ref()).map(String::as_str)
    }

    /// Whether this origin serves `tenant`.
    pub fn serves(&self, tenant: &str) -> bool {
        self.tenants.contains(tenant)
    }

    /// The ledger's issuer settings.
    pub fn issuer(&self) -> crate::ledger::Issuer<'_> {
        crate::ledger::Issuer {
            policy: &self.policy,
            signer: &self.signer,
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            scope: self.scope.clone(),
            bundle_ttl: self.bundle_ttl,
        }
    }
}
