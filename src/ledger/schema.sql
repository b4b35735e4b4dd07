-- The signal ledger's schema (version 2). Every store runs this same file:
-- SQLite natively (rusqlite) and the SQLite storage of each Durable Object.
-- A Durable Object holds one subject's rows (or one tenant's directory or
-- revocation feed), and natively one file holds them all. Every table is keyed
-- by tenant first, so the same SQL serves both.

CREATE TABLE IF NOT EXISTS ledger_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- Append-only events, hash-chained per (tenant, subject): `hash` is SHA-256
-- over `prev_hash` and the event's canonical form, and seq counts from 1.
CREATE TABLE IF NOT EXISTS events (
  tenant_id      TEXT    NOT NULL,
  subject_id     TEXT    NOT NULL,
  seq            INTEGER NOT NULL,
  at             INTEGER NOT NULL,
  op             TEXT    NOT NULL,
  actor_type     TEXT    NOT NULL,
  actor_id       TEXT    NOT NULL,
  source_ui      TEXT,
  policy_version TEXT    NOT NULL,
  legal_basis    TEXT,
  justification  TEXT,
  payload        TEXT    NOT NULL,
  prev_hash      TEXT    NOT NULL,
  hash           TEXT    NOT NULL,
  PRIMARY KEY (tenant_id, subject_id, seq)
);

-- Projection: consent records, apart from the signals that refer to them.
CREATE TABLE IF NOT EXISTS consents (
  tenant_id   TEXT    NOT NULL,
  subject_id  TEXT    NOT NULL,
  consent_id  TEXT    NOT NULL,
  purposes    TEXT    NOT NULL,  -- JSON list of purpose names
  scopes      TEXT    NOT NULL,  -- JSON list of scopes
  legal_basis TEXT    NOT NULL,
  status      TEXT    NOT NULL,  -- granted | revoked
  granted_at  INTEGER NOT NULL,
  revoked_at  INTEGER,
  PRIMARY KEY (tenant_id, subject_id, consent_id)
);

-- Projection: every version of every signal. The current one is `active`
-- (or `expired`), earlier ones `retired`.
CREATE TABLE IF NOT EXISTS signals (
  tenant_id       TEXT    NOT NULL,
  subject_id      TEXT    NOT NULL,
  signal_id       TEXT    NOT NULL,
  version         INTEGER NOT NULL,
  signal_type     TEXT    NOT NULL,
  value_digest    TEXT    NOT NULL,  -- the value itself is in signal_values
  source_channel  TEXT    NOT NULL,
  capture_context TEXT    NOT NULL,  -- JSON object
  captured_at     INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL,
  reconfirmed_at  INTEGER,
  consent_id      TEXT    NOT NULL,
  consent_status  TEXT    NOT NULL,  -- granted | revoked
  provenance_hash TEXT    NOT NULL,  -- hash of the event that created this version
  status          TEXT    NOT NULL,  -- active | retired | expired | merged | split | deleted
  retired_at      INTEGER,
  erased_at       INTEGER,           -- when its value was erased, if it was
  first_bundled_at INTEGER,          -- when a bundle first carried this version
  PRIMARY KEY (tenant_id, subject_id, signal_id, version)
);

-- Projection: the subject itself. No row: an active subject without
-- history of merges, deletions or locks.
CREATE TABLE IF NOT EXISTS subjects (
  tenant_id     TEXT    NOT NULL,
  subject_id    TEXT    NOT NULL,
  status        TEXT    NOT NULL,  -- active | merged | deleted
  merged_into   TEXT,
  merge_id      TEXT,
  erase         INTEGER NOT NULL DEFAULT 0,  -- deleted: erase (1) or soft (0)
  lock_until    INTEGER,
  lock_reason   TEXT,
  PRIMARY KEY (tenant_id, subject_id)
);

-- Projection: the merges a subject took in, with what each imported (so a
-- split knows what to give back).
CREATE TABLE IF NOT EXISTS subject_merges (
  tenant_id  TEXT    NOT NULL,
  subject_id TEXT    NOT NULL,
  merge_id   TEXT    NOT NULL,
  source     TEXT    NOT NULL,
  imported   TEXT    NOT NULL,  -- JSON: the merge_imported event's signals and consents
  state      TEXT    NOT NULL,  -- merged | split
  PRIMARY KEY (tenant_id, subject_id, merge_id)
);

-- Values of signal versions, apart from the chain (which holds their salted
-- digests). The value is the vocabulary value, or for classes encrypted at
-- rest its ciphertext `v1.<kid>.<nonce>.<ciphertext>`. Erasing a value
-- deletes its row.
CREATE TABLE IF NOT EXISTS signal_values (
  tenant_id  TEXT    NOT NULL,
  subject_id TEXT    NOT NULL,
  signal_id  TEXT    NOT NULL,
  version    INTEGER NOT NULL,
  salt       TEXT    NOT NULL,
  value      TEXT    NOT NULL,
  PRIMARY KEY (tenant_id, subject_id, signal_id, version)
);

-- Free-text answers waiting to be mapped to a vocabulary value: the raw
-- text (always encrypted) lives here until `purge_at` at the latest.
CREATE TABLE IF NOT EXISTS raw_intake (
  tenant_id   TEXT    NOT NULL,
  subject_id  TEXT    NOT NULL,
  intake_id   TEXT    NOT NULL,
  signal_type TEXT    NOT NULL,
  answer      TEXT    NOT NULL,  -- sealed raw text
  request     TEXT    NOT NULL,  -- the capture terms (JSON, no free text)
  received_at INTEGER NOT NULL,
  purge_at    INTEGER NOT NULL,
  state       TEXT    NOT NULL,  -- pending | mapped | discarded
  PRIMARY KEY (tenant_id, subject_id, intake_id)
);

-- Projection: the bundles issued, with what each carried.
CREATE TABLE IF NOT EXISTS bundles (
  tenant_id   TEXT    NOT NULL,
  subject_id  TEXT    NOT NULL,
  bundle_id   TEXT    NOT NULL,
  issued_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  consent_ids TEXT    NOT NULL,  -- JSON list
  signal_ids  TEXT    NOT NULL,  -- JSON list of [signal_id, version]
  PRIMARY KEY (tenant_id, subject_id, bundle_id)
);

-- Idempotency keys of write requests, per subject: the first response is
-- kept and given again for the same key and body.
CREATE TABLE IF NOT EXISTS idempotency (
  tenant_id    TEXT    NOT NULL,
  subject_id   TEXT    NOT NULL,
  key          TEXT    NOT NULL,
  request_hash TEXT    NOT NULL,
  state        TEXT    NOT NULL,  -- pending | done
  status       INTEGER,
  response     TEXT,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, subject_id, key)
);

-- A tenant's revocation feed: bundles that must stop yielding tokens.
CREATE TABLE IF NOT EXISTS revocations (
  tenant_id  TEXT    NOT NULL,
  seq        INTEGER NOT NULL,
  bundle_id  TEXT    NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);

-- A tenant's API keys for server callers, stored hashed (SHA-256 of the secret).
CREATE TABLE IF NOT EXISTS api_keys (
  tenant_id  TEXT    NOT NULL,
  key_id     TEXT    NOT NULL,
  key_hash   TEXT    NOT NULL,
  label      TEXT    NOT NULL,
  role       TEXT    NOT NULL DEFAULT 'service',  -- a role of the policy's `roles`
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  PRIMARY KEY (tenant_id, key_id)
);

-- A tenant's merge requests: the review queue (below the policy's
-- threshold) and the record of decisions. Whether two subjects are merged
-- is the subjects' own ledgers' to say, this is the index.
CREATE TABLE IF NOT EXISTS merges (
  tenant_id     TEXT    NOT NULL,
  merge_id      TEXT    NOT NULL,
  source        TEXT    NOT NULL,
  target        TEXT    NOT NULL,
  evidence      TEXT    NOT NULL,  -- JSON list of evidence kinds
  confidence_bp INTEGER NOT NULL,  -- basis points, 0-10000
  state         TEXT    NOT NULL,  -- review | accepted | rejected | merged | split
  requested_by  TEXT    NOT NULL,
  requested_at  INTEGER NOT NULL,
  decided_by    TEXT,
  decided_at    INTEGER,
  note          TEXT,
  PRIMARY KEY (tenant_id, merge_id)
);

-- A tenant's webhook endpoints (Standard Webhooks). During a secret
-- rotation the previous secret keeps signing too, until `previous_until`.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
  tenant_id       TEXT    NOT NULL,
  endpoint_id     TEXT    NOT NULL,
  url             TEXT    NOT NULL,
  events          TEXT    NOT NULL,  -- JSON list of event types
  secret          TEXT    NOT NULL,  -- whsec_...
  previous_secret TEXT,
  previous_until  INTEGER,
  created_at      INTEGER NOT NULL,
  disabled_at     INTEGER,
  PRIMARY KEY (tenant_id, endpoint_id)
);

-- Webhook messages per endpoint: retried with backoff until delivered, or
-- dead after the last attempt (a dead letter an operator can retry).
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  tenant_id    TEXT    NOT NULL,
  endpoint_id  TEXT    NOT NULL,
  msg_id       TEXT    NOT NULL,
  event_type   TEXT    NOT NULL,
  subject_id   TEXT    NOT NULL,
  payload      TEXT    NOT NULL,  -- the JSON body, as signed
  created_at   INTEGER NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  next_at      INTEGER NOT NULL,
  state        TEXT    NOT NULL,  -- pending | delivered | dead | cancelled
  last_status  INTEGER,
  last_error   TEXT,
  delivered_at INTEGER,
  PRIMARY KEY (tenant_id, endpoint_id, msg_id)
);

-- Messages a subject's writes leave for others, written in the same batch
-- as the events that cause them: revoked bundles for the tenant's feed,
-- webhook events, merge and split hand-offs. A subject's alarm (natively, a
-- sweep) delivers them and deletes each once it is acknowledged, and a failed
-- delivery waits until `next_at`. Delivery is at least once: receivers
-- de-duplicate by `msg_id`.
CREATE TABLE IF NOT EXISTS outbox (
  tenant_id  TEXT    NOT NULL,
  subject_id TEXT    NOT NULL,
  msg_id     TEXT    NOT NULL,
  kind       TEXT    NOT NULL,  -- feed | webhook | merge | split
  payload    TEXT    NOT NULL,  -- JSON
  created_at INTEGER NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0,
  next_at    INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, subject_id, msg_id)
);

-- Counters of a subject's requests (for metrics): requests, refusals by kind.
CREATE TABLE IF NOT EXISTS metric_counters (
  tenant_id  TEXT    NOT NULL,
  subject_id TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  value      INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, subject_id, name)
);

-- The latest metrics snapshot of each subject, in its tenant's directory
-- (the origin Worker sums them for the tenant's metrics).
CREATE TABLE IF NOT EXISTS subject_stats (
  tenant_id  TEXT    NOT NULL,
  subject_id TEXT    NOT NULL,
  stats      TEXT    NOT NULL,  -- JSON
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, subject_id)
);
