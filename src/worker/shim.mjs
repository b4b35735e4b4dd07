// The module Worker's entry. It calls the Rust gate (wasm) and, should the
// gate itself fail (a trap, a runtime error), still fails closed: the page is
// served with every personalised element removed and the generic tier, using
// workerd's built-in HTMLRewriter. The visitor never sees a 5xx for a page;
// the origin's API (never sent to the page upstream) answers 502.
import * as gate from "./index.js";

// Selectors, dropped headers and cookies, Vary, the generic decision, the
// origin API's paths and its 502 problem come from the Rust side
// (src/serve/markup.rs), read once here, so this fallback and the gate's own
// rules cannot drift apart.
const C = JSON.parse(gate.shimConfig());

// The upstream target as the Rust side builds it: the configured base, then
// the request's path and query. A path such as `//evil.example/x` stays a
// path on the upstream; the result must have the upstream's own origin.
function upstreamTarget(base, url) {
  const target = new URL(base.replace(/\/+$/, "") + url.pathname + url.search);
  if (target.origin !== new URL(base).origin) throw new Error("upstream target left the upstream origin");
  return target;
}

// The Cookie header without the gate's cookies (the bundle, the origin's
// session), the others kept byte for byte: as `without_cookies` in Rust
// (pairs split at `;` and `,`, each kept with the separator before it).
function withoutGateCookies(header) {
  const parts = header.split(/([;,])/);
  const name = (pair) => (pair.includes("=") ? pair.slice(0, pair.indexOf("=")) : pair).trim();
  let kept = "";
  let removed = false;
  for (let i = 0; i < parts.length; i += 2) {
    if (C.gateCookies.includes(name(parts[i]))) { removed = true; continue; }
    if (kept !== "") kept += parts[i - 1];
    kept += parts[i];
  }
  if (!removed) return header;
  const rest = kept.replace(/^\s+/, "");
  return rest.trim() === "" ? null : rest;
}

// The origin's API (src/serve/forward.rs): never sent to the page upstream.
function isOriginApi(pathname) {
  return pathname.startsWith(C.apiPrefix) || C.apiPaths.includes(pathname);
}

// Same rules as the Rust side: method and body kept, redirects not followed,
// no cache between the gate and the origin, no bundle and no session.
function failsafeRequest(request, env) {
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  for (const h of C.droppedHeaders) headers.delete(h);
  const cookie = headers.get("Cookie");
  if (cookie !== null) {
    const rest = withoutGateCookies(cookie);
    if (rest === null) headers.delete("Cookie");
    else if (rest !== cookie) headers.set("Cookie", rest);
  }
  headers.set("Sg-Tier", "generic");
  headers.set("Sg-Segments", "");
  headers.set("Sg-Decision", C.genericJson);
  const init = { method: request.method, headers, redirect: "manual" };
  if (request.method !== "GET" && request.method !== "HEAD") init.body = request.body;
  if (env.SG_UPSTREAM) {
    return fetch(new Request(upstreamTarget(env.SG_UPSTREAM, url), { ...init, cache: "no-store" }));
  }
  return env.ASSETS.fetch(new Request(url, init));
}

// Pages the filter must see: HTML, XHTML, or no type at all.
function isPage(contentType) {
  const essence = (contentType || "").split(";")[0].trim().toLowerCase();
  return essence === "" || C.pageTypes.includes(essence);
}

async function failClosed(request, env) {
  const url = new URL(request.url);
  // The origin's API never falls back to the page upstream (it would carry
  // the method, body, Authorization and session there): 502 instead.
  if (isOriginApi(url.pathname)) {
    return new Response(C.originUnavailable, { status: 502, headers: { "Content-Type": C.problemType, "Cache-Control": "no-store" } });
  }
  if (url.pathname.startsWith("/__sg/")) {
    return new Response(C.genericJson, { status: 503, headers: { "Content-Type": "application/json", "Cache-Control": "private, no-store" } });
  }
  let upstream;
  try {
    upstream = await failsafeRequest(request, env);
  } catch (err) {
    console.error(JSON.stringify({ sg: "gate_failure", reason: "fallback_fetch", problem: String(err && err.message || err).slice(0, 200) }));
    return new Response("Bad gateway", { status: 502, headers: { "Cache-Control": "private, no-store" } });
  }
  const headers = new Headers(upstream.headers);
  headers.set("Cache-Control", "private, no-store");
  headers.append("Vary", C.vary);
  headers.set("Sg-Tier", "generic");
  for (const h of ["content-length", "etag", "last-modified"]) headers.delete(h);
  const plain = new Response(upstream.body, { status: upstream.status, headers });
  if ([101, 204, 205, 304].includes(upstream.status) || !isPage(headers.get("Content-Type"))) return plain;
  let injected = false;
  return new HTMLRewriter()
    .on(C.segmentSelector, { element(e) { e.remove(); } })
    .on(C.tierSelector, {
      element(e) {
        const tiers = (e.getAttribute(C.tierAttr) || "").split(/[|,\s]+/);
        if (!tiers.includes("generic")) e.remove();
      },
    })
    .on(C.decisionSelector, { element(e) { e.remove(); } })
    .on(C.injectSelector, { element(e) { if (!injected) { injected = true; e.append(C.genericScript, { html: true }); } } })
    .onDocument({ end(end) { if (!injected) { injected = true; end.append(C.genericScript, { html: true }); } } })
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
    // The gate may consume a body before failing: keep a copy for the fallback.
    const spare = request.method === "GET" || request.method === "HEAD" ? request : request.clone();
    try {
      return await Promise.race([gate.fetch(request, env, ctx), trap.promise]);
    } catch (err) {
      const problem = String((err && err.message) || err).slice(0, 200);
      console.error(JSON.stringify({ sg: "gate_failure", reason: "exception", problem }));
      return failClosed(spare, env);
    } finally {
      trap.done();
    }
  },
};
