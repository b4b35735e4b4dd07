//! The origin's governed signal ledger: the system of record behind the
//! gate. Each preference a person volunteers becomes a versioned, audited
//! signal with its consent; the ledger issues the signed bundles the gate
//! verifies.
//!
//! - Append-only [events](event), hash-chained per subject; a signal's `prv`
//!   in a bundle is the hash of the event that created that version.
//! - A current-state [projection] (consents, signals, bundles) that replaying
//!   the events rebuilds exactly.
//! - Operations ([`Ledger`]) that check each request against the policy and
//!   the subject's state, and write events, projection and idempotency record
//!   in one atomic batch over a small [`Store`] trait.
//! - The same schema and SQL everywhere: SQLite natively ([`SqliteStore`],
//!   feature `sqlite`) and each Durable Object's SQLite storage in the origin
//!   Worker.
//!
//! Pure like the evaluator: no clock (`now` is an argument), no I/O besides
//! the store; random bytes (salts, nonces, secrets) come in through an
//! [`entropy::Entropy`], and ids derive from the history.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use signalgate::bundle::{Signer, SigningKey};
//! use signalgate::ledger::{ActorType, Caller, DataKeys, Issuer, Ledger, SqliteStore};
//! use signalgate::{Policy, Span, UnixTime};
//!
//! let policy = Policy::from_json(include_str!("../../www/policy.json")).unwrap();
//! let signer = Signer::new(SigningKey::from_seed(&[9; 32], Some("origin-1")));
//! let issuer = Issuer { policy: &policy, signer: &signer, issuer: "https://origin.example".into(),
//!     audience: "signalgate".into(), scope: "web".into(), bundle_ttl: Span::days(1) };
//! let mut entropy = signalgate::ledger::entropy::OsEntropy;
//! let keys = DataKeys::from_json(&DataKeys::generate("k1", &mut entropy).unwrap()).unwrap();
//! let mut store = SqliteStore::in_memory().unwrap();
//! let mut ledger = Ledger::new(&mut store, &issuer, &keys, &mut entropy);
//! let service = Caller { actor: ActorType::Service, actor_id: "key-1".into() };
//! let reply = ledger.submit("demo-shop", "u-1", &service, br#"{"signal_type": "language", "value": "Deutsch",
//!     "purpose": "personalization", "consent_reference": "c-1", "source_context": {"channel": "web"}}"#,
//!     Some("req-1"), UnixTime(1_800_000_000)).unwrap();
//! assert_eq!(reply.status, 201);
//! assert_eq!(reply.body["signal"]["value"], "de");
//! assert!(reply.bundle_token().is_some());
//! assert!(ledger.verify("demo-shop", "u-1").unwrap().projection_matches);
//! # }
//! ```

pub mod access;
mod deletion;
mod deliveries;
mod directory;
pub mod entropy;
mod error;
pub mod event;
pub mod evidence;
pub mod evidence_html;
mod identity;
mod input;
mod intake;
mod issue;
mod local;
mod merges;
pub mod metrics;
mod ops;
pub mod outbox;
pub mod projection;
mod replay;
pub mod seal;
#[cfg(all(feature = "sqlite", not(target_arch = "wasm32")))]
mod sqlite;
mod state;
mod store;
pub mod webhook_sign;
pub mod webhooks;
pub mod values;

pub use deletion::{RetentionReport, IDEMPOTENCY_TTL, MAX_LOCK};
pub use deliveries::{
    acceptable_url, DeliveryRecord, Endpoint, Outgoing, MAX_ENDPOINTS, PAYLOAD_KEPT, ROTATION_OVERLAP,
};
pub use directory::{Directory, FEED_PAGE};
pub use error::{LedgerError, Problem};
pub use event::{verify_chain, ActorType, Audit, CaptureContext, ChainBreak, Change, Event, GENESIS};
pub use identity::{plan_merge, ExportedConsent, ExportedSignal, MergeExport, MergePlan, SplitBack};
pub use input::{api_key_request, bundle_request, object as request_object, subject_in, ApiKeyRequest, MAX_BODY};
pub use intake::IntakeItem;
pub use issue::{bundle_id, Issued, Issuer, MAX_COOKIE_TOKEN};
pub use local::{Local, Swept};
pub use merges::MergeRecord;
pub use ops::{same_subject, signal_id, Caller, Ledger, Reply, Verification, MAX_LIVE_BUNDLES};
pub use replay::replay_state;
pub use seal::DataKeys;
#[cfg(all(feature = "sqlite", not(target_arch = "wasm32")))]
pub use sqlite::SqliteStore;
pub use state::{ConsentRow, LiveBundle, Lock, SignalRow, SubjectState, SubjectStatus};
pub use store::{open_schema, schema_statements, Row, Statement, Store, StoreError, Value, SCHEMA, SCHEMA_VERSION};
