//! TypeScript types of the JS API's arguments and results, added to the
//! generated `.d.ts` (the Rust signatures take and return `JsValue`).
//!
//! ```ts
//! import { Gate, type GateContext, type Decision } from "signalgate";
//! const ctx: GateContext = Object.freeze({ purposes: Object.freeze(["personalization"]),
//!   channel: "web", tenant: "demo-shop", scope: "web" });
//! const d: Decision = gate.decide(cookie, ctx);
//! ```

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** Options of `new Gate(policyJson, jwksJson, options)`. */
export interface GateOptions {
  /** The `aud` bundles must carry. */
  audience: string;
  /** A revocation list: `{"bundles": [jti, ...], "subjects": [sub, ...]}` as JSON. */
  revocations?: string;
  /** The largest bundle accepted, in bytes (default 16,384; at most 262,144). */
  maxBundleBytes?: number;
  /** The tenants each key (by `kid`) may sign for. */
  keyTenants?: Record<string, string[]>;
  /**
   * Whose Ed25519 checks signatures: `"auto"` (default: Node's `crypto` where
   * it is, WebCrypto in the `...Async` methods elsewhere), `"webcrypto"`
   * (WebCrypto in the `...Async` methods only) or `"wasm"` (always in wasm).
   * Every choice gives the same decisions.
   */
  ed25519?: "auto" | "webcrypto" | "wasm";
}

/**
 * The request's context. A context with the same members as the gate's last
 * one (values `===`, `purposes` element by element), or the same deeply
 * frozen object (`Object.freeze`, its `purposes` too), is not converted again.
 */
export interface GateContext {
  /** Unix seconds; the clock when absent. */
  now?: number;
  purposes: readonly string[];
  channel: string;
  tenant: string;
  scope: string;
  /** Global Privacy Control (`Sec-GPC: 1`). */
  gpc?: boolean;
}

export type Tier = "curated" | "contextual" | "generic";

/** Why a decision is generic by failure: a stable `code` and one line. */
export interface DecisionError {
  code: string;
  message: string;
}

/** The full decision, with reasons (`Gate.decide`). */
export interface Decision {
  tier: Tier;
  /** Permitted opaque segment tokens, in policy order. */
  segments: string[];
  allowed_categories: string[];
  allowed_channels: string[];
  freshness: "fresh" | "stale" | "expired" | "absent";
  confidence: number | null;
  /** Used signals inside their reconfirmation lead time. */
  expiring: { signal: string; class: string; deadline: number }[];
  reasons: {
    signals: { signal: string; class: string; used_for: string[]; withheld: { purpose?: string; reason: string }[] }[];
    segments: { segment: string; outcome: string }[];
  };
  policy_version: string;
  bundle_id: string | null;
  error?: DecisionError;
}

/**
 * What page code may see (`Gate.decideForPage`): the members the policy's
 * `exposure.page` lists, and the failure's `code` only.
 */
export interface PageDecision {
  tier?: Tier;
  segments?: string[];
  [member: string]: unknown;
  error?: { code: string };
}
"#;
