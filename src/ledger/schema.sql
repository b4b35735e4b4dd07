-- The signal ledger's schema (version 1). Every store runs this same file:
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
  signal_value    TEXT    NOT NULL,
  source_channel  TEXT    NOT NULL,
  capture_context TEXT    NOT NULL,  -- JSON object
  captured_at     INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL,
  reconfirmed_at  INTEGER,
  consent_id      TEXT    NOT NULL,
  consent_status  TEXT    NOT NULL,  -- granted | revoked
  provenance_hash TEXT    NOT NULL,  -- hash of the event that created this version
  status          TEXT    NOT NULL,  -- active | retired | expired
  retired_at      INTEGER,
  PRIMARY KEY (tenant_id, subject_id, signal_id, version)
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
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  PRIMARY KEY (tenant_id, key_id)
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
