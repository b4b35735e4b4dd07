/**
 * signalgate browser SDK (`/sdk/signalgate.mjs`): an ES module with no
 * dependencies that needs no bundler.
 *
 * - **Capture** preferences reliably. Each choice is stored in IndexedDB
 *   until the origin acknowledges it. It is sent with an `Idempotency-Key`
 *   that is drawn once per choice and stored with it. Failed sends are
 *   retried with exponential backoff and jitter. The queue is shared by
 *   every tab of the site: one tab sends at a time (Web Locks), and the
 *   others hear what was delivered (BroadcastChannel). Going offline,
 *   reloading, closing the tab or the origin being down loses nothing, and
 *   a retried choice never becomes two versions.
 * - **Decide locally** with the gate's WebAssembly build. The page gets only
 *   what the policy's page exposure allows; the explanation carries only
 *   the visitor's own choices and the public policy.
 * - **Manage the visitor's data**: list, reconfirm, revoke, delete, get
 *   evidence, erase.
 *
 * ```js
 * import { createSignalgate } from "/sdk/signalgate.mjs";
 * const sg = await createSignalgate();
 * const r = await sg.capture({ signal_type: "language", value: "Deutsch", purpose: "personalization",
 *                              consent_reference: "consent.personalization",
 *                              source_context: { ui: "preference-centre" } });
 * if (r.queued) showNote("Saved on this device; it will be sent when you are back online.");
 * const { tier, segments } = await sg.decide({ purposes: ["personalization"] });
 * sg.on("expiring", (list) => askToReconfirm(list));
 * ```
 *
 * Where it runs: same-origin with a signalgate gate, which forwards `/v1/`
 * and `/.well-known/jwks.json` to the origin. The gate Worker's static
 * assets serve this file, and `pkg-scripts/build pkg` copies the gate's web
 * build beside it (`/sdk/pkg/`).
 */

/** Options of {@link createSignalgate}. Every member is optional. */
export interface Options {
  /** Base URL of the origin API. Default: the page's own origin, where the gate forwards `/v1/`. */
  origin?: string;
  /** The channel of captures (`source_context.channel`) and of decisions. Default `"web"`. */
  channel?: string;
  /**
   * The gate's web build (wasm-bindgen `--target web`). It is loaded on the
   * first `decide`, `explain` or `expiring` call, never for captures.
   * Default: `./pkg/signalgate.js` next to this module, i.e.
   * `/sdk/pkg/signalgate.js`, which `pkg-scripts/build pkg` emits.
   */
  wasm?: string | URL;
  /** Global Privacy Control. Default `navigator.globalPrivacyControl === true`. */
  gpc?: boolean;
  /** The gate's audience (`SG_AUDIENCE`), for verifying bundles locally. Default `"signalgate"`. */
  audience?: string;
  /** The tenant of local decisions. Default: the policy's `tenant`, else the bundle's. */
  tenant?: string;
  /** The gate's scope (`SG_SCOPE`) in local decisions. Default `"web"`. */
  scope?: string;
  /**
   * Retry delays of the queue, in milliseconds. Attempt n waits a random
   * time between d/2 and d, where d = min(max, base * 2^(n-1)).
   * Default `{ base: 1000, max: 300000 }`.
   */
  backoff?: { base?: number; max?: number };
  /** The IndexedDB database. Default `"signalgate"`. */
  db?: string;
}

/**
 * Opens the queue (IndexedDB; memory when IndexedDB is unavailable). It then
 * starts sending what earlier pages left unsent, without waiting for it, and
 * resolves. The queue is also flushed on `online`, on every visibility change
 * and on a timer that follows the backoff.
 */
export function createSignalgate(options?: Options): Promise<Signalgate>;

/**
 * Where a choice was made. `channel` defaults to the SDK's channel, and
 * `page` to `location.pathname`. A `page` that the API would refuse (it
 * allows `/` then letters, digits and `- _ . ~ /`, at most 200 bytes) is
 * left out rather than losing the choice.
 */
export interface SourceContext {
  channel?: string;
  ui?: string;
  page?: string;
}

/** One preference, as the person gave it. Give exactly one of `purpose` and `purposes`. */
export interface Choice {
  signal_type: string;
  value: string;
  purpose?: string;
  purposes?: string[];
  consent_reference: string;
  source_context?: SourceContext;
  /** Passed on as is (see `SubmitRequest` in docs/openapi.json). */
  legal_basis?: string;
  scopes?: string[];
}

/**
 * Why an attempt failed or a choice was dropped: the origin's problem
 * document (RFC 9457) when there was one, and always `code`, `status` (0: no
 * HTTP reply, e.g. `network`) and `detail`.
 */
export interface Problem {
  code: string;
  status: number;
  detail: string;
  field?: string;
  type?: string;
  title?: string;
  [member: string]: unknown;
}

/**
 * How `capture` ended:
 * - `delivered`: the origin recorded the choice, and `reply` is its
 *   `SubmitReply` (signal, freshness, decision, bundle).
 * - `queued`: offline, or the first attempt failed in a way worth retrying.
 *   The choice stays in the queue, and `problem` says what happened last.
 *   A "delivered" or "failed" event follows later.
 *
 * A choice the origin refuses makes `capture` reject instead.
 */
export interface CaptureResult {
  /** The choice's id, which is also its `Idempotency-Key` (see the note on the clock under `capture`). */
  id: string;
  queued: boolean;
  delivered: boolean;
  reply?: SubmitReply;
  problem?: Problem;
}

/** A choice waiting in the queue. */
export interface QueuedChoice {
  id: string;
  /** The request body as it will be sent (with `captured_at`, the time of the choice). */
  choice: Choice & { source_context: SourceContext; captured_at?: number };
  /** When it was captured (ms since the epoch, by this browser's clock). */
  created_at: number;
  attempts: number;
  /** When it is due again (ms); 0: now. */
  next_attempt_at: number;
  /** Marked as being sent (by this tab or another one). */
  in_flight: boolean;
  /** Why the last attempt failed. */
  problem?: Problem;
}

/**
 * What page code may see of a decision: the fields the policy's
 * `exposure.page` lists (by default `tier` and `segments`), exactly as the
 * gate's `decideForPage` returns them. `error` is present when the decision
 * failed closed (generic tier).
 */
export interface PageDecision {
  tier?: "curated" | "contextual" | "generic";
  segments?: string[];
  allowed_categories?: string[];
  allowed_channels?: string[];
  freshness?: "fresh" | "stale" | "expired" | "absent";
  confidence?: number | null;
  expiring?: Expiring[];
  policy_version?: string;
  error?: { code: string };
}

/** The context of a local decision. */
export interface DecideContext {
  /** The page's purposes. Default `["personalization"]`. */
  purposes?: string[];
  /** Default: the SDK's channel. */
  channel?: string;
  /** `true` applies GPC even when the SDK's `gpc` is off. It can never turn GPC off. */
  gpc?: boolean;
}

/** A used signal inside its reconfirmation lead time: ask the visitor about it. */
export interface Expiring {
  /** The signal id (pass it to `reconfirm` or `deleteSignal`). */
  signal: string;
  class: string;
  /** When it stops being usable without reconfirmation (Unix seconds). */
  deadline: number;
  /** The value, from the visitor's own bundle (or from `signals()`). */
  value?: string;
}

/**
 * "Why am I seeing this": the reasons of the full decision. It holds only
 * the visitor's own choices and the public policy, never the bundle's
 * subject or id.
 */
export interface Explanation {
  context: { purposes: string[]; channel: string; gpc: boolean };
  /** What `decide` returns for the same context. */
  decision: PageDecision;
  tier: "curated" | "contextual" | "generic";
  freshness: "fresh" | "stale" | "expired" | "absent";
  /** The bundle's identity confidence, or null without a bundle. */
  confidence: number | null;
  policy_version: string;
  expiring: Expiring[];
  /** Present when the decision failed closed (e.g. `expired`, `bad_signature`). */
  error?: { code: string };
  /** One per signal of the visitor's bundle. */
  signals: Array<{
    signal: string;
    class: string;
    value: string | null;
    /** The value's category in the policy, if it has one. */
    category?: string;
    /** The context purposes it was used for (empty: withheld from all of them). */
    used_for: string[];
    /**
     * Why it was withheld. There is one entry without `purpose` when the
     * reason holds for every purpose; otherwise one per purpose. Reasons:
     * `consent_revoked`, `expired`, `superseded`, `purpose_not_consented`,
     * `purpose_not_allowed`, `gpc_opt_out`, ... (docs/POLICY.md,
     * "How a decision is made").
     */
    withheld: Array<{ purpose?: string; reason: string }>;
  }>;
  /** One per segment of the policy. */
  segments: Array<{
    segment: string;
    token: string;
    purpose: string;
    /**
     * One of `emitted`, `rule_not_satisfied`, `purpose_not_in_context`,
     * `identity_confidence_below_threshold`, `below_curated_minimum`.
     */
    outcome: string;
  }>;
}

/** The bundle the origin issued last (`BundleSummary`; `token` is the compact JWS). */
export interface BundleSummary {
  token: string;
  bundle_id: string;
  issued_at: number;
  expires_at: number;
  signals: number;
  omitted: number;
  bytes: number;
}

/** `GET /v1/signals` (`ListReply`). A browser without a session gets `{ subject_id: null, signals: [], consents: [] }`. */
export interface ListReply {
  subject_id: string | null;
  signals: Array<Record<string, any> & { signal_id: string; signal_type: string; value: string | null; version: number;
    freshness: { state: string; usable_until?: number; reconfirm_from?: number; expires_at?: number } }>;
  consents: Array<{ consent_id: string; purposes: string[]; scopes: string[]; legal_basis: string; status: "granted" | "revoked"; granted_at: number }>;
}

/** `POST /v1/signals` 201 (`SubmitReply`, docs/openapi.json). */
export interface SubmitReply {
  subject_id: string;
  signal: Record<string, any> & { signal_id: string; version: number; signal_type: string; value: string | null };
  freshness: Record<string, any>;
  decision: PageDecision & { freshness: string; expiring: Expiring[] };
  bundle: BundleSummary;
  late?: { version: number; captured_at: number; provenance_hash: string };
}

/**
 * What every promise of the SDK rejects with. It is an `Error`:
 * - `code` is the problem document's code (RFC 9457, e.g.
 *   `value_not_in_vocabulary`), or `http_<status>` for a reply without
 *   one;
 * - `network` (status 0) means the origin could not be reached;
 * - `invalid_choice` (status 0) means `capture` was given an incomplete
 *   choice;
 * - `gate_unavailable` (status 0) means the wasm build could not be
 *   loaded; a bad policy or key set from the origin keeps the gate's own
 *   code (`bad_policy`, `bad_keys`).
 */
export interface SignalgateError extends Error {
  name: "SignalgateError";
  code: string;
  /** The HTTP status; 0 when there was no HTTP reply. */
  status: number;
  detail: string;
  /** The request field concerned, when the origin named one. */
  field?: string;
  /** The origin's problem document, when there was one. */
  problem?: Record<string, any>;
}

export interface EventMap {
  /** A choice is stored and waiting: offline, or its first attempt failed. */
  queued: { id: string; choice: QueuedChoice["choice"]; problem?: Problem; remote?: true };
  /** The origin recorded a choice (`remote`: another tab sent it). */
  delivered: { id: string; choice: QueuedChoice["choice"]; reply: SubmitReply; remote?: true };
  /**
   * A choice was dropped:
   * - the origin refused it (its problem's code);
   * - `consent_revoked`: its consent was withdrawn by `revoke` / `revokeAll`
   *   before it was sent;
   * - `erased`: `erase` was called before it was sent.
   */
  failed: { id: string; choice: QueuedChoice["choice"]; error: SignalgateError; remote?: true };
  /** The bundle changed (null after `erase`). */
  bundle: BundleSummary | null;
  /**
   * Signals to ask about. Fires at most once per page load, when the list is
   * first non-empty. A handler added after that is called once with the
   * current list.
   */
  expiring: Expiring[];
  /** Anything the visitor's data or the queue depends on changed. Re-read what you show. */
  change: { reason: string; id?: string };
}

export interface Signalgate {
  /** Whether Global Privacy Control applies (the option, else `navigator.globalPrivacyControl`). */
  readonly gpc: boolean;

  /**
   * Queues the choice, then sends it (`POST /v1/signals`). The request
   * carries:
   * - the choice's `Idempotency-Key`;
   * - `captured_at`, the moment of the choice, so that a choice delivered
   *   late never replaces a newer one;
   * - `Sec-GPC: 1` when `gpc` is on. Browsers drop `Sec-*` headers set by
   *   scripts and send their own, so only other runtimes pass it on.
   *
   * How it resolves or rejects:
   * - resolves `{ delivered: true, reply }` once the origin acknowledged the
   *   choice (2xx);
   * - resolves `{ queued: true }` right away when offline, and after a
   *   network error, a 5xx, a 401/403/404/408/429 or a 409
   *   `idempotency_in_flight`; the queue keeps retrying;
   * - rejects with the origin's problem when it refuses the choice (400,
   *   409, 410, 413, 422); the choice is then dropped and "failed" fires.
   *
   * If the browser's clock is so far off that the origin refuses
   * `captured_at`, the choice is sent once more as made now, under the
   * key `<id>.now`. The origin wrote nothing for the refused request.
   */
  capture(choice: Choice): Promise<CaptureResult>;

  /** Choices not yet acknowledged, oldest first (from every tab). */
  pending(): Promise<QueuedChoice[]>;

  /** Tries to send the queue now. Waits for the queue lock, then resolves after one pass. */
  flush(): Promise<void>;

  /**
   * Evaluates the current bundle locally, with the policy from
   * `GET /v1/policy` and the keys from `GET /.well-known/jwks.json` (each
   * fetched once per page). Returns only what the policy's page exposure
   * allows. With GPC on, the purposes GPC opts out of yield no segment.
   * Without a bundle, the result is the policy's no-bundle tier.
   *
   * The local gate has no revocation feed. The edge gate stays
   * authoritative for what a page request gets.
   */
  decide(context?: DecideContext): Promise<PageDecision>;

  /** The reasons behind `decide`, for a "why am I seeing this" panel. */
  explain(context?: DecideContext): Promise<Explanation>;

  /** The visitor's signals and consents (`GET /v1/signals`). */
  signals(): Promise<ListReply>;

  /**
   * Used signals inside their reconfirmation lead time, for every purpose
   * of the policy. They come from the local decision, or from the freshness
   * that `signals()` reports when the wasm cannot load. Without a bundle the
   * list is `[]`.
   */
  expiring(): Promise<Expiring[]>;

  /** `POST /v1/signals/{id}/reconfirm`. The new bundle replaces the current one: `expiring()` no longer lists the signal. */
  reconfirm(signal_id: string): Promise<Record<string, any>>;

  /**
   * `POST /v1/consents/{id}/revoke` (`justification: "user_request"`). It
   * also drops the queued choices that carry this consent reference
   * ("failed" with `consent_revoked`). It holds the queue lock, so no tab
   * sends a choice in between.
   */
  revoke(consent_id: string): Promise<Record<string, any>>;

  /**
   * Revokes every granted consent and resolves to the `RevokeReply`s. It
   * drops every choice queued before the call ("failed" with
   * `consent_revoked`), since sending those would grant consent again.
   */
  revokeAll(): Promise<Array<Record<string, any>>>;

  /**
   * `DELETE /v1/signals/{id}`, then `POST /v1/bundles` for a bundle without
   * the signal. That also refreshes the cookie the edge gate reads.
   */
  deleteSignal(signal_id: string): Promise<Record<string, any>>;

  /**
   * `GET /v1/subjects/me/evidence`:
   * - `json` (default): the pack as an object;
   * - `html`: a page, as a string;
   * - `jws`: the signed pack, as a string.
   */
  evidence(format?: "json" | "html" | "jws"): Promise<unknown>;

  /**
   * `POST /v1/subjects/me/delete {"erase": true}`. It also drops the
   * queued choices and forgets the bundle. Resolves to the origin's reply,
   * or null when this browser had no subject at the origin.
   */
  erase(): Promise<Record<string, any> | null>;

  /** Adds a handler; returns the function that removes it. */
  on<K extends keyof EventMap>(event: K, handler: (detail: EventMap[K]) => void): () => void;
}
