// The module Worker's entry. It calls the Rust gate (wasm) and, should the
// gate itself fail (a trap, a runtime error), still fails closed: the page is
// served with every personalised element removed and the generic tier, using
// workerd's built-in HTMLRewriter. The visitor never sees a 5xx for that.
import * as gate from "./index.js";

const GENERIC = '<script type="application/json" id="sg-decision">{"tier":"generic","segments":[]}</script>';
const DROPPED = ["sg-segments", "sg-tier", "sg-decision", "if-none-match", "if-modified-since", "if-match", "if-range"];

function failsafeRequest(request, env) {
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  for (const h of DROPPED) headers.delete(h);
  headers.set("Sg-Tier", "generic");
  headers.set("Sg-Segments", "");
  if (env.SG_UPSTREAM) {
    const target = new URL(url.pathname + url.search, env.SG_UPSTREAM);
    return fetch(new Request(target, { method: request.method, headers }));
  }
  return env.ASSETS.fetch(new Request(url, { method: request.method, headers }));
}

async function failClosed(request, env) {
  const url = new URL(request.url);
  if (url.pathname.startsWith("/__sg/")) {
    return Response.json({ tier: "generic", segments: [] }, { status: 503, headers: { "Cache-Control": "private, no-store" } });
  }
  const upstream = await failsafeRequest(request, env);
  const headers = new Headers(upstream.headers);
  headers.set("Cache-Control", "private, no-store");
  headers.append("Vary", "Cookie, Sg-Bundle, Sec-GPC");
  headers.set("Sg-Tier", "generic");
  for (const h of ["content-length", "etag", "last-modified"]) headers.delete(h);
  const plain = new Response(upstream.body, { status: upstream.status, headers });
  if (!(headers.get("Content-Type") || "").toLowerCase().startsWith("text/html")) return plain;
  let injected = false;
  return new HTMLRewriter()
    .on("[data-sg-segment]", { element(e) { e.remove(); } })
    .on("[data-sg-tier]", {
      element(e) {
        const tiers = (e.getAttribute("data-sg-tier") || "").split(/[|,\s]+/);
        if (!tiers.includes("generic")) e.remove();
      },
    })
    .on("script#sg-decision", { element(e) { e.remove(); } })
    .on("head", { element(e) { if (!injected) { injected = true; e.append(GENERIC, { html: true }); } } })
    .onDocument({ end(end) { if (!injected) { injected = true; end.append(GENERIC, { html: true }); } } })
    .transform(plain);
}

// A Rust panic aborts the wasm instance inside a future, so the promise
// from `gate.fetch` would never settle. workers-rs's panic hook sets
// `criticalError` on this shared state object first: watch that write and
// fail every in-flight request closed at once (wasm-bindgen re-instantiates
// the module for the next request).
const inFlight = new Set();
const initState = globalThis.__worker_init_state;
if (initState) {
  let critical = Boolean(initState.criticalError);
  Object.defineProperty(initState, "criticalError", {
    get: () => critical,
    set: (value) => {
      critical = Boolean(value);
      if (!critical) return;
      for (const fail of inFlight) fail(new Error("the gate panicked"));
      inFlight.clear();
      critical = false;
    },
    configurable: true,
  });
}

function trapped() {
  let fail;
  const promise = new Promise((_, reject) => { fail = reject; });
  inFlight.add(fail);
  return { promise, done: () => inFlight.delete(fail) };
}

export default {
  async fetch(request, env, ctx) {
    const trap = trapped();
    try {
      return await Promise.race([gate.fetch(request, env, ctx), trap.promise]);
    } catch (err) {
      const problem = String((err && err.message) || err).slice(0, 200);
      console.error(JSON.stringify({ sg: "gate_failure", reason: "exception", problem }));
      return failClosed(request, env);
    } finally {
      trap.done();
    }
  },
};
