//! The requests the origin's front sends its Durable Objects (internal:
//! never reachable from outside, the objects have no public route).

use serde::{Deserialize, Serialize};

use crate::ledger::ActorType;

/// An operation on one subject's ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectOp {
    /// `POST /v1/signals`.
    Submit,
    /// `POST /v1/signals/{id}/reconfirm`.
    Reconfirm,
    /// `POST /v1/consents/{id}/revoke`.
    Revoke,
    /// `GET /v1/signals`.
    List,
    /// `POST /v1/bundles`.
    Bundle,
    /// Admin: verify the chain and rebuild the projection.
    Verify,
}

/// A call to a `SubjectLedger` object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubjectCall {
    /// What to do.
    pub op: SubjectOp,
    /// The tenant.
    pub tenant: String,
    /// The subject.
    pub subject: String,
    /// Who asks.
    pub actor: ActorType,
    /// Which one.
    pub actor_id: String,
    /// The `Idempotency-Key`, if any.
    pub key: Option<String>,
    /// The signal or consent id the route names, if any.
    pub target: Option<String>,
    /// The request body (UTF-8).
    pub body: String,
    /// Tests only (`SG_FAULT_INJECTION=ledger-crash`): the write fails after
    /// this many statements of its batch, inside the transaction.
    #[serde(default)]
    pub crash_after: Option<usize>,
}

/// A call to a `TenantDirectory` object.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum DirectoryCall {
    /// Record a new API key (hash only).
    AddKey {
        /// The tenant.
        tenant: String,
        /// The full token, to hash and record (never stored).
        token: String,
        /// A label for people.
        label: String,
    },
    /// Retire an API key.
    RevokeKey {
        /// The tenant.
        tenant: String,
        /// The key's id.
        key_id: String,
    },
    /// Is this presented token a live key?
    CheckKey {
        /// The presented token.
        token: String,
    },
    /// Take in messages from a subject's outbox (revoked bundles for the
    /// feed, webhook events); idempotent.
    Receive {
        /// The tenant.
        tenant: String,
        /// The messages.
        messages: Vec<crate::ledger::outbox::Message>,
    },
    /// The feed after `since`.
    Feed {
        /// The tenant.
        tenant: String,
        /// The last sequence the caller has.
        since: i64,
    },
}

/// The answer of an object: a status and a JSON body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallReply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: serde_json::Value,
}
