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
    /// `POST /v1/intake`: a free-text answer.
    Intake,
    /// `DELETE /v1/signals/{id}`.
    DeleteSignal,
    /// Delete the subject (`{"erase": bool, "reason": ...}` in the body).
    Delete,
    /// Undo a soft deletion.
    Restore,
    /// Set a retention lock (`{"until": unix, "reason": ...}`).
    Lock,
    /// Lift the retention lock.
    Unlock,
    /// The event history.
    History,
    /// The evidence pack (unsigned; `{"window": ..., "deliveries": [...]}`).
    Evidence,
    /// Pending intake items.
    IntakeList,
    /// Map an intake item (`target`: the item; `{"value": ...}`).
    IntakeMap,
    /// Discard an intake item (`target`: the item).
    IntakeDiscard,
    /// First step of a merge, at the source (body: the order, a `MergeExport` without signals).
    MergeOut,
    /// Second step of a merge, at the target (body: the `MergeExport`).
    MergeIn,
    /// First step of a split, at the target (`target`: the merge id).
    SplitOut,
    /// Second step of a split, at the source (body: the `SplitBack`).
    SplitIn,
    /// Run expiry, retention and outbox delivery now (as the alarm does).
    Maintain,
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
    /// The caller's role (API keys), for what a listing shows.
    #[serde(default)]
    pub role: Option<String>,
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
        /// Its role (one of the policy's).
        role: String,
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
    /// feed, webhook events) and its latest figures; idempotent.
    Receive {
        /// The tenant.
        tenant: String,
        /// The subject they come from.
        #[serde(default)]
        subject: String,
        /// The messages.
        messages: Vec<crate::ledger::outbox::Message>,
        /// The subject's figures for the metrics, if they changed.
        #[serde(default)]
        stats: Option<crate::ledger::metrics::SubjectStats>,
    },
    /// Record a merge request (review or accepted) or return the one recorded.
    RecordMerge {
        /// The tenant.
        tenant: String,
        /// Source subject.
        source: String,
        /// Target subject.
        target: String,
        /// Evidence kinds.
        evidence: Vec<String>,
        /// Who asks.
        requested_by: String,
    },
    /// Move a merge between states (review decisions, done, split).
    SetMerge {
        /// The tenant.
        tenant: String,
        /// The merge.
        merge_id: String,
        /// Allowed current states.
        from: Vec<String>,
        /// The new state.
        state: String,
        /// Who decided, when a person did.
        by: Option<String>,
        /// Why.
        note: Option<String>,
    },
    /// One merge, or the list in a state.
    Merges {
        /// The tenant.
        tenant: String,
        /// One merge.
        merge_id: Option<String>,
        /// Or those in this state.
        state: Option<String>,
    },
    /// Webhook endpoint administration.
    Webhooks {
        /// The tenant.
        tenant: String,
        /// What to do.
        action: WebhookAction,
    },
    /// The tenant's metrics (sum of its subjects' figures).
    Metrics {
        /// The tenant.
        tenant: String,
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

/// What to do with the tenant's webhook endpoints and deliveries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum WebhookAction {
    /// Add an endpoint.
    Add {
        /// Its URL.
        url: String,
        /// Its event types.
        events: Vec<String>,
    },
    /// List the endpoints.
    List,
    /// Rotate an endpoint's secret.
    Rotate {
        /// The endpoint.
        endpoint_id: String,
    },
    /// Disable an endpoint.
    Disable {
        /// The endpoint.
        endpoint_id: String,
    },
    /// Delivery records.
    Deliveries {
        /// Of one subject.
        subject: Option<String>,
        /// In one state.
        state: Option<String>,
    },
    /// Send a dead message again.
    Retry {
        /// The endpoint.
        endpoint_id: String,
        /// The message.
        msg_id: String,
    },
}
