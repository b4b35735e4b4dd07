//! The ledger's operations on one subject. Each reads the subject's state,
//! checks the request against it and the policy, and produces events; the
//! events, their projection and the idempotency record are written in one
//! atomic batch, so the ledger never half-writes. No clock, no I/O besides
//! the [`Store`]: `now` and the caller come in.

use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use super::entropy::Entropy;
use super::error::LedgerError;
use super::event::{verify_chain, ActorType, Audit, CaptureContext, ChainBreak, Change, Event};
use super::input::{self, Capture};
use super::issue::{bundle_id, Issued, Issuer};
use super::outbox;
use super::projection::{append, load_events, rebuild, snapshot};
use super::replay;
use super::seal::DataKeys;
use super::state::{LiveBundle, SignalRow, SubjectState, SubjectStatus};
use super::store::{int, opt_int, text, Statement, Store, StoreError, Value};
use super::values::{self, Sealer, StoredValue, Values};
use super::webhooks;
use crate::eval::{Context, Detail, Evaluator};
use crate::model::policy::{Cardinality, Role};
use crate::model::Policy;
use crate::time::{Span, UnixTime};

/// How long an unfinished request holds its idempotency key.
const PENDING_FOR: Span = Span::seconds(60);
/// How often an operation is retried when another writer got there first.
const RETRIES: usize = 4;

/// Who is asking: a subject (a browser with its session) or a service (a
/// server with the tenant's API key), or an operator or the ledger itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The kind of actor.
    pub actor: ActorType,
    /// The actor's id (subject id, API key id, operator name, `ledger`).
    pub actor_id: String,
}

/// An answer to the HTTP layer (or the CLI): a status and a JSON body. A
/// bundle issued with it is in `body.bundle.token`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (a problem document for 4xx replayed by idempotency).
    pub body: Json,
}

impl Reply {
    /// The bundle token this reply carries, if it issued one.
    pub fn bundle_token(&self) -> Option<&str> {
        self.body.get("bundle")?.get("token")?.as_str()
    }

    /// The bundles this reply revoked, as `(bundle_id, expires_at)`.
    pub fn revoked_bundles(&self) -> Vec<(String, i64)> {
        let list = self.body.get("revoked_bundles").and_then(Json::as_array);
        list.into_iter()
            .flatten()
            .filter_map(|b| Some((b.get("bundle_id")?.as_str()?.to_string(), b.get("expires_at")?.as_i64()?)))
            .collect()
    }
}

/// The result of checking a subject's stored history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Events in the history.
    pub events: usize,
    /// The chain verifies, or where it first breaks.
    pub chain: Result<(), ChainBreak>,
    /// Rebuilding the projection from the events gave the stored projection.
    pub projection_matches: bool,
}

/// One subject's ledger over a store.
pub struct Ledger<'a, S: Store> {
    pub(crate) store: &'a mut S,
    pub(crate) issuer: &'a Issuer<'a>,
    pub(crate) keys: &'a DataKeys,
    pub(crate) entropy: &'a mut dyn Entropy,
}

fn hash_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The id of the signal a capture creates or updates: per class for
/// single-valued classes (a new value retires the old one), per class and
/// value otherwise.
pub fn signal_id(tenant: &str, subject: &str, class: &str, cardinality: Cardinality, value: &str) -> String {
    let key = match cardinality {
        Cardinality::One => format!("signal\0{tenant}\0{subject}\0{class}"),
        Cardinality::Many => format!("signal\0{tenant}\0{subject}\0{class}\0{value}"),
    };
    format!("sig_{}", crate::codec::b64::encode(&Sha256::digest(key.as_bytes())[..12]))
}

/// The events of one operation, built one after the other on a state,
/// with the other rows they bring (values, outbox messages).
pub(crate) struct Draft<'s> {
    pub(crate) policy: &'s Policy,
    pub(crate) tenant: &'s str,
    pub(crate) subject: &'s str,
    pub(crate) policy_version: &'s str,
    pub(crate) now: UnixTime,
    pub(crate) state: SubjectState,
    pub(crate) events: Vec<Event>,
    /// Values of the versions this draft captures.
    pub(crate) values: Values,
    /// Rows the events refer to, written before them: values, raw intake.
    pub(crate) pre: Vec<Statement>,
    /// Rows written after the events: outbox messages, cleanups.
    pub(crate) extra: Vec<Statement>,
}

impl Draft<'_> {
    pub(crate) fn push(&mut self, audit: Audit, change: Change) -> &Event {
        let e =
            Event::next(self.state.head_ref(), self.tenant, self.subject, self.now, audit, self.policy_version, change);
        replay::apply(&mut self.state, &e, &self.values);
        self.events.push(e);
        self.events.last().unwrap_or_else(|| unreachable!())
    }

    /// The whole batch: the rows events refer to, the events with their
    /// projection, the rest, and the webhook events they make.
    pub(crate) fn batch(self) -> Vec<Statement> {
        let mut out = self.pre;
        out.extend(append(&self.events));
        out.extend(self.extra);
        out.extend(webhooks::messages(self.policy, &self.state, &self.events));
        out
    }
}

fn signal_json(s: &SignalRow) -> Json {
    json!({
        "signal_id": s.signal_id,
        "version": s.version,
        "signal_type": s.signal_type,
        "value": s.value,
        "value_erased": s.value.is_none(),
        "source_channel": s.context.channel,
        "capture_context": s.context,
        "captured_at": s.captured_at.0,
        "expires_at": s.expires_at.0,
        "reconfirmed_at": s.reconfirmed_at.map(|t| t.0),
        "consent_id": s.consent_id,
        "consent_status": if s.consent_granted { "granted" } else { "revoked" },
        "provenance_hash": s.provenance,
        "status": if s.active { "active" } else { "expired" },
    })
}

impl<'a, S: Store> Ledger<'a, S> {
    /// A ledger over `store`, issuing bundles with `issuer`, protecting
    /// values with `keys`, drawing salts, nonces and bundle ids from
    /// `entropy`.
    pub fn new(store: &'a mut S, issuer: &'a Issuer<'a>, keys: &'a DataKeys, entropy: &'a mut dyn Entropy) -> Self {
        Ledger { store, issuer, keys, entropy }
    }

    pub(crate) fn policy(&self) -> &'a Policy {
        self.issuer.policy
    }

    /// Stores a new version's value in the draft (sealed when the class
    /// says so) and returns its digest for the event.
    pub(crate) fn new_value(
        &mut self,
        draft: &mut Draft<'_>,
        signal_id: &str,
        version: u32,
        class: &str,
        value: &str,
    ) -> Result<String, LedgerError> {
        let encrypt = self.policy().class(class).is_some_and(|c| c.encrypt);
        let salt = values::new_salt(&mut self.entropy)?;
        let mut sealer = Sealer { keys: self.keys, entropy: &mut *self.entropy };
        draft.pre.push(sealer.put(draft.tenant, draft.subject, signal_id, version, &salt, value, encrypt)?);
        draft.values.insert(
            (signal_id.to_string(), version),
            StoredValue { salt: salt.clone(), value: value.to_string(), sealed: encrypt },
        );
        Ok(values::digest(&salt, value))
    }

    pub(crate) fn audit(caller: &Caller, context: Option<&CaptureContext>, justification: Option<String>) -> Audit {
        Audit {
            actor_type: caller.actor,
            actor_id: caller.actor_id.clone(),
            source_ui: context.and_then(|c| c.ui.clone()),
            legal_basis: None,
            justification,
        }
    }

    pub(crate) fn draft<'s>(&self, tenant: &'s str, subject: &'s str, state: SubjectState, now: UnixTime) -> Draft<'s>
    where
        'a: 's,
    {
        Draft {
            policy: self.issuer.policy,
            tenant,
            subject,
            policy_version: self.issuer.policy.version(),
            now,
            state,
            events: Vec::new(),
            values: Values::new(),
            pre: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Runs `op` (which reads fresh state each time) and writes its batch
    /// atomically, under an idempotency key when one is given: the same key
    /// and body give the first reply again; the same key with another body
    /// is refused; a key still being processed is a conflict.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run(
        &mut self,
        tenant: &str,
        subject: &str,
        key: Option<&str>,
        request: &[u8],
        now: UnixTime,
        mut op: impl FnMut(&mut Self) -> Result<(Reply, Vec<Statement>), LedgerError>,
    ) -> Result<Reply, LedgerError> {
        let request_hash = hash_hex(request);
        if let Some(key) = key {
            if !crate::model::is_ident(key) {
                return Err(LedgerError::InvalidField {
                    field: "Idempotency-Key",
                    detail: "expected 1-64 of A-Z a-z 0-9 . _ : -".into(),
                });
            }
            if let Some(reply) = self.claim_key(tenant, subject, key, &request_hash, now)? {
                return Ok(reply);
            }
        }
        let mut last = None;
        for _ in 0..RETRIES {
            let (reply, mut batch) = match op(self) {
                Ok(done) => done,
                Err(e) if e.status() < 500 => {
                    // A refusal is an answer too: the same request gets it again.
                    if let Some(key) = key {
                        let problem =
                            Reply { status: e.status(), body: serde_json::to_value(e.problem()).unwrap_or_default() };
                        self.store.apply(&[finish_key(tenant, subject, key, &problem)])?;
                    }
                    return Err(e);
                }
                Err(e) => {
                    self.release_key(tenant, subject, key);
                    return Err(e);
                }
            };
            if !batch.is_empty() {
                // Key rotation: values still sealed under an older key move
                // to the active one with the subject's next write.
                let mut sealer = Sealer { keys: self.keys, entropy: &mut *self.entropy };
                batch.extend(sealer.reseal_stale(self.store, tenant, subject)?);
            }
            if let Some(key) = key {
                batch.push(finish_key(tenant, subject, key, &reply));
            }
            match self.store.apply(&batch) {
                Ok(()) => return Ok(reply),
                Err(StoreError::Conflict(m)) => last = Some(m),
                Err(e) => {
                    self.release_key(tenant, subject, key);
                    return Err(e.into());
                }
            }
        }
        self.release_key(tenant, subject, key);
        Err(LedgerError::Storage { detail: format!("gave up after concurrent writes: {}", last.unwrap_or_default()) })
    }

    /// Marks `key` as in progress, or returns the reply stored for it.
    fn claim_key(
        &mut self,
        tenant: &str,
        subject: &str,
        key: &str,
        hash: &str,
        now: UnixTime,
    ) -> Result<Option<Reply>, LedgerError> {
        for _ in 0..RETRIES {
            let rows = self.store.query(
                "SELECT request_hash, state, status, response, created_at FROM idempotency \
                 WHERE tenant_id = ? AND subject_id = ? AND key = ?",
                &[tenant.into(), subject.into(), key.into()],
            )?;
            // Take the key: drop a stale claim (its request died), then insert
            // ours. If another request inserted first, the insert conflicts
            // and the loop reads what it left.
            let claim = [
                Statement::new(
                    "DELETE FROM idempotency WHERE tenant_id = ? AND subject_id = ? AND key = ? \
                     AND state = 'pending' AND created_at <= ?",
                    vec![tenant.into(), subject.into(), key.into(), now.before(PENDING_FOR).0.into()],
                ),
                Statement::new(
                    "INSERT INTO idempotency (tenant_id, subject_id, key, request_hash, state, status, response, \
                     created_at) VALUES (?, ?, ?, ?, 'pending', NULL, NULL, ?)",
                    vec![tenant.into(), subject.into(), key.into(), hash.into(), now.0.into()],
                ),
            ];
            match rows.first() {
                None => {}
                Some(r) if text(r, 1)? == "done" => {
                    if text(r, 0)? != hash {
                        return Err(LedgerError::IdempotencyMismatch);
                    }
                    let status = u16::try_from(opt_int(r, 2)?.unwrap_or(500)).unwrap_or(500);
                    let body = serde_json::from_str(&text(r, 3)?)
                        .map_err(|e| LedgerError::Storage { detail: e.to_string() })?;
                    return Ok(Some(Reply { status, body }));
                }
                Some(r) if int(r, 4)? > now.before(PENDING_FOR).0 => return Err(LedgerError::IdempotencyInFlight),
                Some(_) => {} // a stale claim (its request died): take it over
            }
            match self.store.apply(&claim) {
                Ok(()) => return Ok(None),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(LedgerError::IdempotencyInFlight)
    }

    fn release_key(&mut self, tenant: &str, subject: &str, key: Option<&str>) {
        if let Some(key) = key {
            let release = Statement::new(
                "DELETE FROM idempotency WHERE tenant_id = ? AND subject_id = ? AND key = ? AND state = 'pending'",
                vec![tenant.into(), subject.into(), key.into()],
            );
            // Best effort: a claim left behind expires after PENDING_FOR.
            let _ = self.store.apply(&[release]);
        }
    }

    /// The highest version of a signal recorded so far (0 for none),
    /// current or not.
    fn last_version(&mut self, tenant: &str, subject: &str, signal: &str) -> Result<u32, LedgerError> {
        let rows = self.store.query(
            "SELECT MAX(version) FROM signals WHERE tenant_id = ? AND subject_id = ? AND signal_id = ?",
            &[tenant.into(), subject.into(), signal.into()],
        )?;
        let max = rows.first().and_then(|r| r.first()).and_then(Value::as_int).unwrap_or(0);
        Ok(u32::try_from(max).unwrap_or(u32::MAX))
    }

    pub(crate) fn load(&mut self, tenant: &str, subject: &str) -> Result<SubjectState, LedgerError> {
        SubjectState::load(self.store, self.keys, tenant, subject)
    }

    pub(crate) fn load_with_bundles(
        &mut self,
        tenant: &str,
        subject: &str,
        now: UnixTime,
    ) -> Result<SubjectState, LedgerError> {
        SubjectState::load_with_bundles(self.store, self.keys, tenant, subject, now)
    }

    /// The subject's state, refusing writes to a merged or deleted subject.
    pub(crate) fn load_writable(&mut self, tenant: &str, subject: &str) -> Result<SubjectState, LedgerError> {
        let state = self.load(tenant, subject)?;
        writable(&state)?;
        Ok(state)
    }

    /// Issues a bundle on the draft's state (a `bundle_issued` event) and
    /// describes it for the reply.
    pub(crate) fn issue_into(&mut self, draft: &mut Draft<'_>, caller: &Caller) -> Result<(Issued, Json), LedgerError> {
        // Random, so a published (revoked) bundle id cannot be linked back to
        // a subject id by anyone who guesses subject ids.
        let mut random = [0u8; 12];
        self.entropy.fill(&mut random)?;
        let jti = bundle_id(&random);
        let issued = self
            .issuer
            .issue(draft.tenant, draft.subject, &draft.state, &jti, draft.now)
            .map_err(|detail| LedgerError::Integrity { detail })?;
        let claims = issued.bundle.claims();
        draft.push(
            Audit {
                actor_type: caller.actor,
                actor_id: caller.actor_id.clone(),
                source_ui: None,
                legal_basis: None,
                justification: None,
            },
            Change::BundleIssued {
                bundle_id: jti.clone(),
                issued_at: claims.issued_at,
                expires_at: claims.expires_at,
                signals: issued.signals.clone(),
                consents: issued.consents.clone(),
            },
        );
        let summary = json!({
            "token": issued.token,
            "bundle_id": jti,
            "issued_at": claims.issued_at.0,
            "expires_at": claims.expires_at.0,
            "signals": issued.signals.len(),
            "omitted": issued.omitted,
            "bytes": issued.token.len(),
        });
        Ok((issued, summary))
    }

    /// What the gate would decide on the issued bundle for `purposes` on
    /// `channel` (as page code would see it), and its expiring signals.
    fn decision(&self, tenant: &str, issued: &Issued, purposes: &[String], channel: &str, now: UnixTime) -> Json {
        let ctx = Context {
            now,
            purposes: purposes.to_vec(),
            channel: channel.to_string(),
            tenant: tenant.to_string(),
            scope: self.issuer.scope.clone(),
            gpc: false,
        };
        let d = Evaluator::new().evaluate(self.policy(), &issued.bundle, &ctx, Detail::Summary);
        let mut out = d.for_page(self.policy().exposure());
        if let Some(obj) = out.as_object_mut() {
            obj.insert("freshness".into(), json!(d.freshness));
            obj.insert("expiring".into(), json!(d.expiring));
        }
        out
    }

    /// How fresh a signal is: when it stops being usable without the
    /// subject's action, and from when to ask them to reconfirm.
    fn freshness(&self, s: &SignalRow, now: UnixTime) -> Json {
        let Some(class) = self.policy().class(&s.signal_type) else { return json!({ "state": "unknown" }) };
        let confirmed = s.reconfirmed_at.unwrap_or(s.captured_at).max(s.captured_at);
        let mut usable_until = s.expires_at.min(confirmed.after(class.ttl));
        if let Some(soft) = class.soft_expiry {
            let soft_at = s.captured_at.after(soft.after);
            usable_until = usable_until.min(match s.reconfirmed_at {
                Some(r) => soft_at.max(r.after(soft.window)),
                None => soft_at,
            });
        }
        let state = if now >= usable_until {
            "expired"
        } else if now >= usable_until.before(class.reconfirm_lead) {
            "expiring"
        } else {
            "fresh"
        };
        json!({
            "state": state,
            "usable_until": usable_until.0,
            "reconfirm_from": usable_until.before(class.reconfirm_lead).0,
            "expires_at": s.expires_at.0,
        })
    }

    /// `POST /v1/signals`: captures a preference. Creates the consent record
    /// if the reference is new (it must match if not), appends the signal (a
    /// new version retiring the current one), issues a fresh bundle.
    pub fn submit(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        body: &[u8],
        key: Option<&str>,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        // Reading the body is part of the request: a refusal is kept under
        // the idempotency key like any other answer.
        let result = self.run(tenant, subject, key, body, now, |l| {
            let capture = input::capture(body, l.policy(), &l.issuer.scope, now)?;
            same_subject(capture.subject_id.as_deref(), subject)?;
            l.submit_once(tenant, subject, caller, &capture, now)
        });
        self.counted(tenant, subject, result)
    }

    /// Counts a write request and its refusal, if refused, for the metrics
    /// (best effort: a failed count never fails the request). Server-side
    /// failures are not refusals and are not counted.
    pub(crate) fn counted(
        &mut self,
        tenant: &str,
        subject: &str,
        result: Result<Reply, LedgerError>,
    ) -> Result<Reply, LedgerError> {
        let refused = match &result {
            Ok(r) if r.status >= 400 => {
                r.body.get("code").and_then(Json::as_str).map(str::to_string).or(Some(String::new()))
            }
            Ok(_) => None,
            Err(e) if e.status() < 500 => Some(e.code().to_string()),
            Err(_) => return result,
        };
        let _ = self.store.apply(&super::metrics::count(tenant, subject, refused.as_deref()));
        result
    }

    fn submit_once(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        c: &Capture,
        now: UnixTime,
    ) -> Result<(Reply, Vec<Statement>), LedgerError> {
        let state = self.load_writable(tenant, subject)?;
        let mut draft = self.draft(tenant, subject, state, now);
        let body = self.capture_into(&mut draft, caller, c)?;
        Ok((Reply { status: 201, body }, draft.batch()))
    }

    /// Records a checked capture on the draft: the consent record if new
    /// (it must match if not), the signal version, a fresh bundle; returns
    /// the reply body.
    pub(crate) fn capture_into(
        &mut self,
        draft: &mut Draft<'_>,
        caller: &Caller,
        c: &Capture,
    ) -> Result<Json, LedgerError> {
        let (tenant, subject, now) = (draft.tenant, draft.subject, draft.now);
        let policy: &'a Policy = self.issuer.policy;
        let class =
            policy.class(&c.signal_type).ok_or_else(|| LedgerError::UnknownClass { class: c.signal_type.clone() })?;
        let mut audit = Self::audit(caller, Some(&c.context), None);
        audit.legal_basis = Some(c.legal_basis);
        match draft.state.consent(&c.consent_reference) {
            Some(existing) => {
                let sorted = |v: &[String]| {
                    let mut v = v.to_vec();
                    v.sort();
                    v
                };
                let (want, have) = (sorted(&c.purposes), sorted(&existing.purposes));
                let (want_scopes, have_scopes) = (sorted(&c.scopes), sorted(&existing.scopes));
                let detail = if existing.split {
                    Some("was taken back by a split; a new consent needs a new reference")
                } else if !existing.granted {
                    Some("was revoked; a new consent needs a new reference")
                } else if want != have || want_scopes != have_scopes || existing.legal_basis != c.legal_basis {
                    Some("was given for other purposes, scopes or legal basis; use a new reference")
                } else {
                    None
                };
                if let Some(detail) = detail {
                    return Err(LedgerError::ConsentMismatch {
                        consent: c.consent_reference.clone(),
                        detail: detail.into(),
                    });
                }
            }
            None => {
                draft.push(
                    audit.clone(),
                    Change::ConsentGranted {
                        consent_id: c.consent_reference.clone(),
                        purposes: c.purposes.clone(),
                        scopes: c.scopes.clone(),
                        legal_basis: c.legal_basis,
                    },
                );
            }
        }
        let id = signal_id(tenant, subject, &c.signal_type, class.cardinality, &c.value);
        let captured_at = c.captured_at.unwrap_or(now);
        // Versions count arrivals; the current version is the latest capture.
        let version = self.last_version(tenant, subject, &id)? + 1;
        let current = draft.state.signal(&id).is_none_or(|s| captured_at >= s.captured_at);
        let value_digest = self.new_value(draft, &id, version, &c.signal_type, &c.value)?;
        let late = draft.push(
            audit,
            Change::SignalCaptured {
                signal_id: id.clone(),
                version,
                signal_type: c.signal_type.clone(),
                value_digest,
                context: c.context.clone(),
                captured_at,
                expires_at: captured_at.after(class.ttl),
                consent_id: c.consent_reference.clone(),
                current,
            },
        );
        let late_provenance = (!current).then(|| late.provenance());
        let signal = draft
            .state
            .signal(&id)
            .cloned()
            .ok_or_else(|| LedgerError::Integrity { detail: "captured signal missing".into() })?;
        let (issued, bundle) = self.issue_into(draft, caller)?;
        let mut body = json!({
            "subject_id": subject,
            "signal": signal_json(&signal),
            "freshness": self.freshness(&signal, now),
            "decision": self.decision(tenant, &issued, &c.purposes, &c.context.channel, now),
            "bundle": bundle,
        });
        if let Some(provenance) = late_provenance {
            // Recorded as history: a newer capture of this signal is current.
            body["late"] = json!({ "version": version, "captured_at": captured_at.0, "provenance_hash": provenance });
        }
        Ok(body)
    }

    /// `POST /v1/signals/{id}/reconfirm`: the subject confirms a signal
    /// again; its life restarts and a fresh bundle is issued.
    #[allow(clippy::too_many_arguments)]
    pub fn reconfirm(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        signal: &str,
        body: &[u8],
        key: Option<&str>,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let request = [b"reconfirm\0".as_slice(), signal.as_bytes(), b"\0", body].concat();
        let result = self.run(tenant, subject, key, &request, now, |l| {
            let action = input::action(body)?;
            same_subject(action.subject_id.as_deref(), subject)?;
            let state = l.load_writable(tenant, subject)?;
            let current = state
                .signal(signal)
                .filter(|s| s.active && s.consent_granted)
                .cloned()
                .ok_or_else(|| LedgerError::UnknownSignal { signal: signal.to_string() })?;
            let class = l
                .policy()
                .class(&current.signal_type)
                .ok_or_else(|| LedgerError::UnknownClass { class: current.signal_type.clone() })?;
            let mut draft = l.draft(tenant, subject, state, now);
            draft.push(
                Self::audit(caller, action.context.as_ref(), action.justification.clone()),
                Change::SignalReconfirmed {
                    signal_id: current.signal_id.clone(),
                    version: current.version,
                    reconfirmed_at: now,
                    expires_at: now.after(class.ttl),
                },
            );
            let updated = draft.state.signal(signal).cloned().unwrap_or(current);
            let (_, bundle) = l.issue_into(&mut draft, caller)?;
            let body = json!({
                "signal": signal_json(&updated),
                "freshness": l.freshness(&updated, now),
                "bundle": bundle,
            });
            Ok((Reply { status: 200, body }, draft.batch()))
        });
        self.counted(tenant, subject, result)
    }

    /// `POST /v1/consents/{id}/revoke`: revokes a consent record. Its
    /// signals stop travelling in bundles at once, every unexpired bundle
    /// that carried it is listed for the gates' revocation feed, and a fresh
    /// bundle without it is issued.
    #[allow(clippy::too_many_arguments)]
    pub fn revoke_consent(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        consent: &str,
        body: &[u8],
        key: Option<&str>,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let request = [b"revoke\0".as_slice(), consent.as_bytes(), b"\0", body].concat();
        let result = self.run(tenant, subject, key, &request, now, |l| {
            let action = input::action(body)?;
            same_subject(action.subject_id.as_deref(), subject)?;
            let state = l.load_with_bundles(tenant, subject, now)?;
            writable(&state)?;
            let record = state
                .consent(consent)
                .filter(|c| !c.split)
                .cloned()
                .ok_or_else(|| LedgerError::UnknownConsent { consent: consent.to_string() })?;
            let revoked: Vec<LiveBundle> =
                state.live_bundles.iter().filter(|b| b.consents.iter().any(|c| c == consent)).cloned().collect();
            let mut draft = l.draft(tenant, subject, state, now);
            if record.granted {
                let seq = draft.push(
                    Self::audit(caller, action.context.as_ref(), action.justification.clone().or(Some("consent_withdrawn".into()))),
                    Change::ConsentRevoked {
                        consent_id: consent.to_string(),
                        revoked_at: now,
                        bundles: revoked.iter().map(|b| b.bundle_id.clone()).collect(),
                    },
                ).seq;
                revoke_feed(&mut draft, seq, &revoked);
            }
            let (_, bundle) = l.issue_into(&mut draft, caller)?;
            let body = json!({
                "consent": { "consent_id": consent, "status": "revoked", "purposes": record.purposes },
                "revoked_bundles": revoked.iter().map(|b| json!({ "bundle_id": b.bundle_id, "expires_at": b.expires_at.0 })).collect::<Vec<_>>(),
                "bundle": bundle,
            });
            Ok((Reply { status: 200, body }, draft.batch()))
        });
        self.counted(tenant, subject, result)
    }

    /// `POST /v1/bundles`: issues a fresh bundle of the subject's signals.
    pub fn issue_bundle(
        &mut self,
        tenant: &str,
        subject: &str,
        caller: &Caller,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        self.run(tenant, subject, None, b"bundle", now, |l| {
            let state = l.load_with_bundles(tenant, subject, now)?;
            writable(&state)?;
            if state.live_bundles.len() >= MAX_LIVE_BUNDLES {
                return Err(LedgerError::Forbidden {
                    detail: format!(
                        "this subject already has {MAX_LIVE_BUNDLES} unexpired bundles; use the latest one"
                    ),
                });
            }
            let mut draft = l.draft(tenant, subject, state, now);
            let (_, bundle) = l.issue_into(&mut draft, caller)?;
            Ok((Reply { status: 201, body: json!({ "bundle": bundle }) }, draft.batch()))
        })
    }

    /// `GET /v1/signals`: the subject's active signals with their
    /// freshness, and its consent records, all of it (the subject's own
    /// view).
    pub fn list(&mut self, tenant: &str, subject: &str, now: UnixTime) -> Result<Reply, LedgerError> {
        self.list_for(tenant, subject, None, now)
    }

    /// The same for a caller in `role`: only the classes and signal fields
    /// the role sees, consent records only if it may read them.
    pub fn list_for(
        &mut self,
        tenant: &str,
        subject: &str,
        role: Option<&Role>,
        now: UnixTime,
    ) -> Result<Reply, LedgerError> {
        let state = self.load(tenant, subject)?;
        writable(&state)?;
        let policy = self.policy();
        let signals: Vec<Json> = state
            .signals
            .iter()
            .filter(|s| s.active && s.consent_granted && s.expires_at > now)
            .filter(|s| role.is_none_or(|r| r.sees_class(&s.signal_type)))
            .map(|s| {
                let mut j = signal_json(s);
                j["freshness"] = self.freshness(s, now);
                let class = policy.class(&s.signal_type);
                j["category"] = json!(class
                    .zip(s.value.as_deref())
                    .and_then(|(c, v)| c.value_index(v).map(|i| c.categories[c.value_category[i]].clone())));
                j["purposes"] = json!(state.consent(&s.consent_id).map(|c| c
                    .purposes
                    .iter()
                    .filter(|p| class
                        .is_some_and(|k| policy.purpose_index(p).is_some_and(|i| k.purposes & (1u64 << i) != 0)))
                    .cloned()
                    .collect::<Vec<_>>()));
                if let (Some(r), Some(obj)) = (role, j.as_object_mut()) {
                    // `value_erased` goes with `value`.
                    obj.retain(|k, _| r.sees_field(if k == "value_erased" { "value" } else { k }));
                }
                j
            })
            .collect();
        let mut body = json!({ "subject_id": subject, "signals": signals });
        if role.is_none_or(|r| r.consents) {
            body["consents"] = state
                .consents
                .iter()
                .filter(|c| !c.split)
                .map(|c| {
                    json!({
                        "consent_id": c.consent_id,
                        "purposes": c.purposes,
                        "scopes": c.scopes,
                        "legal_basis": c.legal_basis,
                        "status": if c.granted { "granted" } else { "revoked" },
                        "granted_at": c.granted_at.0,
                    })
                })
                .collect();
        }
        if let Some(r) = role {
            body["role"] = json!(r.name);
        }
        Ok(Reply { status: 200, body })
    }

    /// The subject's full history (the provenance chain): every event with
    /// its hashes, payloads as stored (values appear as salted digests
    /// only). For callers whose role may read the history.
    pub fn history(&mut self, tenant: &str, subject: &str) -> Result<Reply, LedgerError> {
        let events = load_events(self.store, tenant, subject)?;
        if events.is_empty() {
            return Err(LedgerError::NotFound);
        }
        let chain = verify_chain(&events);
        let list: Vec<Json> = events
            .iter()
            .map(|e| {
                json!({
                    "seq": e.seq,
                    "at": e.at.0,
                    "op": e.change.op(),
                    "actor_type": e.audit.actor_type.as_str(),
                    "actor_id": e.audit.actor_id,
                    "source_ui": e.audit.source_ui,
                    "policy_version": e.policy_version,
                    "legal_basis": e.audit.legal_basis,
                    "justification": e.audit.justification,
                    "change": e.change,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                })
            })
            .collect();
        let body = json!({
            "subject_id": subject,
            "chain_ok": chain.is_ok(),
            "first_bad_index": chain.as_ref().err().map(|b| b.index),
            "events": list,
        });
        Ok(Reply { status: 200, body })
    }

    /// Expires the subject's signals whose time has come (`signal_expired`
    /// events). Returns how many expired.
    pub fn expire_due(&mut self, tenant: &str, subject: &str, now: UnixTime) -> Result<usize, LedgerError> {
        let caller = Caller { actor: ActorType::System, actor_id: "ledger".into() };
        let mut count = 0;
        self.run(tenant, subject, None, b"expire", now, |l| {
            let state = l.load(tenant, subject)?;
            let due: Vec<(String, u32)> = state
                .signals
                .iter()
                .filter(|s| s.active && s.expires_at <= now)
                .map(|s| (s.signal_id.clone(), s.version))
                .collect();
            let mut draft = l.draft(tenant, subject, state, now);
            for (signal_id, version) in &due {
                draft.push(
                    Self::audit(&caller, None, Some("ttl_reached".into())),
                    Change::SignalExpired { signal_id: signal_id.clone(), version: *version },
                );
            }
            count = due.len();
            Ok((Reply { status: 200, body: json!({ "expired": due.len() }) }, draft.batch()))
        })?;
        Ok(count)
    }

    /// When the subject's next active signal expires, if any (for alarms).
    pub fn next_expiry(&mut self, tenant: &str, subject: &str) -> Result<Option<UnixTime>, LedgerError> {
        let rows = self.store.query(
            "SELECT MIN(expires_at) FROM signals WHERE tenant_id = ? AND subject_id = ? AND status = 'active'",
            &[tenant.into(), subject.into()],
        )?;
        Ok(rows.first().and_then(|r| r.first()).and_then(Value::as_int).map(UnixTime))
    }

    /// Verifies the subject's chain and, when it holds, rebuilds the
    /// projection from the events, reporting whether it matched what was
    /// stored (a drifted projection is repaired). A broken chain is never
    /// used to rebuild anything: the projection is left as it was and
    /// `projection_matches` is `false`.
    pub fn verify(&mut self, tenant: &str, subject: &str) -> Result<Verification, LedgerError> {
        let events = load_events(self.store, tenant, subject)?;
        let chain = verify_chain(&events);
        if chain.is_err() {
            return Ok(Verification { events: events.len(), chain, projection_matches: false });
        }
        let before = snapshot(self.store, tenant, subject)?;
        self.store.apply(&rebuild(tenant, subject, &events))?;
        let after = snapshot(self.store, tenant, subject)?;
        Ok(Verification { events: events.len(), chain, projection_matches: before == after })
    }

    /// The subjects of a tenant with any history (natively: one database
    /// holds them all).
    pub fn subjects(&mut self, tenant: &str) -> Result<Vec<String>, LedgerError> {
        let rows = self.store.query(
            "SELECT DISTINCT subject_id FROM events WHERE tenant_id = ? ORDER BY subject_id",
            &[tenant.into()],
        )?;
        Ok(rows.iter().map(|r| text(r, 0)).collect::<Result<_, _>>()?)
    }
}

/// The statement that records a finished request under its idempotency key.
fn finish_key(tenant: &str, subject: &str, key: &str, reply: &Reply) -> Statement {
    Statement::new(
        "UPDATE idempotency SET state = 'done', status = ?, response = ? WHERE tenant_id = ? AND subject_id = ? AND key = ?",
        vec![i64::from(reply.status).into(), reply.body.to_string().into(), tenant.into(), subject.into(), key.into()],
    )
}

/// Most unexpired bundles a subject may hold: each one issued is one more
/// entry for the revocation feed when a consent is revoked.
pub const MAX_LIVE_BUNDLES: usize = 64;

/// Refuses writes to a merged or deleted subject.
pub(crate) fn writable(state: &SubjectState) -> Result<(), LedgerError> {
    match &state.status {
        SubjectStatus::Active => Ok(()),
        SubjectStatus::Merged { into, .. } => Err(LedgerError::SubjectMerged { into: into.clone() }),
        SubjectStatus::Deleted { .. } => Err(LedgerError::SubjectDeleted),
    }
}

/// Puts revoked bundles in the draft's outbox for the tenant's feed: in
/// the same batch as the event, so the gates hear of it even if this
/// process dies right after the write.
pub(crate) fn revoke_feed(draft: &mut Draft<'_>, seq: i64, revoked: &[LiveBundle]) {
    if revoked.is_empty() {
        return;
    }
    let entries: Vec<(&str, i64)> = revoked.iter().map(|b| (b.bundle_id.as_str(), b.expires_at.0)).collect();
    let msg = outbox::put(
        draft.tenant,
        draft.subject,
        &format!("feed-{seq}"),
        outbox::Kind::Feed,
        &json!(entries),
        draft.now,
    );
    draft.extra.push(msg);
}

/// A body may name its subject (server callers must); naming another one is
/// refused, whoever calls.
pub fn same_subject(named: Option<&str>, subject: &str) -> Result<(), LedgerError> {
    match named {
        Some(n) if n != subject => {
            Err(LedgerError::Forbidden { detail: "`subject_id` is not the subject of this request".into() })
        }
        _ => Ok(()),
    }
}
