//! `TenantDirectory`: one Durable Object per tenant, holding its API keys
//! (hashed) and its revocation feed. Written on key creation and consent
//! revocation only; read by the origin (keys, cached per isolate) and the
//! gates (the feed, polled off the request path).
// The `#[durable_object]` macro adds undocumented public glue (the JS
// constructor and handlers).
#![allow(missing_docs)]

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::protocol::{CallReply, DirectoryCall};
use super::store::DoStore;
use crate::ledger::access::ApiKey;
use crate::ledger::{Directory, LedgerError};

/// A tenant's directory.
#[durable_object]
pub struct TenantDirectory {
    state: State,
}

impl DurableObject for TenantDirectory {
    fn new(state: State, _env: Env) -> Self {
        TenantDirectory { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let call: DirectoryCall = req.json().await?;
        let reply = match self.answer(call) {
            Ok(r) => r,
            Err(e) => CallReply { status: e.status(), body: serde_json::to_value(e.problem()).unwrap_or_default() },
        };
        Response::from_json(&reply)
    }
}

impl TenantDirectory {
    fn answer(&self, call: DirectoryCall) -> std::result::Result<CallReply, LedgerError> {
        let mut store = DoStore::open(&self.state.storage(), None)?;
        let mut dir = Directory::new(&mut store);
        let now = crate::clock::now();
        let ok = |body| CallReply { status: 200, body };
        Ok(match call {
            DirectoryCall::AddKey { tenant, token, label } => {
                let key = ApiKey::parse(&token).filter(|k| k.tenant == tenant).ok_or(LedgerError::InvalidField {
                    field: "token",
                    detail: "not an API key of this tenant".into(),
                })?;
                dir.add_api_key(&key, &label, now)?;
                ok(serde_json::json!({ "key_id": key.key_id }))
            }
            DirectoryCall::RevokeKey { tenant, key_id } => {
                if !dir.revoke_api_key(&tenant, &key_id, now)? {
                    return Err(LedgerError::NotFound);
                }
                ok(serde_json::json!({ "key_id": key_id, "revoked": true }))
            }
            DirectoryCall::CheckKey { token } => {
                let valid = ApiKey::parse(&token).map(|k| dir.check_api_key(&k)).transpose()?.unwrap_or(false);
                ok(serde_json::json!({ "valid": valid }))
            }
            DirectoryCall::Receive { tenant, messages } => {
                let seq = dir.receive(&tenant, &messages, now)?;
                ok(serde_json::json!({ "seq": seq }))
            }
            DirectoryCall::Feed { tenant, since } => ok(dir.feed(&tenant, since, now)?),
        })
    }
}
