// The origin Worker's entry: the Rust API (wasm) and its Durable Object
// classes. Should the Rust side fail outright (a trap), the request gets a
// problem document instead of hanging: workers-rs's panic hook sets
// `criticalError` on its init state, which fails every in-flight request.
import * as origin from "./index.js";

export { SubjectLedger, TenantDirectory } from "./index.js";

const PROBLEM = JSON.stringify({
  type: "urn:signalgate:problem:storage", title: "Storage failed; nothing was written", status: 500,
  detail: "the origin failed while answering; nothing was written", code: "storage",
});

const inFlight = new Set();
const initState = globalThis.__worker_init_state;
if (initState) {
  let critical = Boolean(initState.criticalError);
  Object.defineProperty(initState, "criticalError", {
    get: () => critical,
    set: (value) => {
      critical = Boolean(value);
      if (!critical) return;
      for (const fail of inFlight) fail(new Error("the origin panicked"));
      inFlight.clear();
      critical = false;
    },
    configurable: true,
  });
}

export default {
  async fetch(request, env, ctx) {
    let fail;
    const trap = new Promise((_, reject) => { fail = reject; });
    inFlight.add(fail);
    try {
      return await Promise.race([origin.fetch(request, env, ctx), trap]);
    } catch (err) {
      console.error(JSON.stringify({ sg: "origin_failure", problem: String((err && err.message) || err).slice(0, 200) }));
      return new Response(PROBLEM, { status: 500, headers: { "Content-Type": "application/problem+json", "Cache-Control": "no-store" } });
    } finally {
      inFlight.delete(fail);
    }
  },
};
