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

export default {
  async fetch(request, env, ctx) {
    try {
      return await gate.fetch(request, env, ctx);
    } catch (err) {
      const problem = String((err && err.message) || err).slice(0, 200);
      console.error(JSON.stringify({ sg: "gate_failure", reason: "exception", problem }));
      return failClosed(request, env);
    }
  },
};
