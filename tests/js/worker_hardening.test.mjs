// The Worker's request path read as an attacker would, in real workerd
// (wrangler dev on 127.0.0.1), one test per finding: redirects, bodies and
// methods, the decision endpoint's route, the fail-closed shim's upstream
// target, upstream exposure, route boundaries, policy load retries, the
// cache's byte budget, caches between the gate and the origin, the
// development signer, the tenant's host, pages without a text/html type,
// what the health endpoint tells the public, the origin's API when the gate
// fails, what the page upstream and the origin may receive, and the
// revocation feed per tenant. Each test fails on the request path as it was
// before these fixes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { connect } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWorker, newKey, claims, pageParts, freePort, waitForLog, rawRequest, POLICY } from "./helpers.mjs";

const RUNNERS = "sgt_5d1e9a20c4", ADS = "sgt_c2d9f4e817";
const key = newKey();
const cookie = (token) => ({ Cookie: `sg_bundle=${token}` });
/** A bundle whose runner interest is consented for personalization and ads. */
const runner = () => key.signer.sign(claims({ n: 1 }));

/** A local HTTP server; `handler(req, body)` returns { status, headers, body }. Records every request. */
async function server(handler) {
  const seen = [];
  const srv = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => { body += d; });
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const out = handler(req, body);
      res.writeHead(out.status ?? 200, out.headers ?? { "Content-Type": "text/html; charset=utf-8" });
      res.end(out.body ?? "");
    });
  });
  const port = await freePort();
  await new Promise((r) => srv.listen(port, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${port}`, port, seen, close: () => new Promise((r) => srv.close(r)) };
}

const PAGE = `<html><head></head><body><p data-sg-segment="${RUNNERS}">run</p><p data-sg-segment="${ADS}">ad</p>` +
  `<div data-sg-tier="curated">C</div><div data-sg-tier="generic">G</div></body></html>`;

// One upstream origin and one Worker in front of it serve most tests.
let origin, evil, w;
before(async () => {
  evil = await server(() => ({ body: `<p data-sg-segment="${RUNNERS}">evil</p>` }));
  origin = await server((req) => {
    if (req.url.startsWith("/redirect")) {
      return { status: 302, headers: { Location: `${evil.url}/landing`, "Set-Cookie": "session=abc; Path=/; HttpOnly" } };
    }
    if (req.url.startsWith("/untyped")) return { headers: {}, body: PAGE };
    if (req.url.startsWith("/xhtml")) return { headers: { "Content-Type": "application/xhtml+xml" }, body: PAGE };
    return { body: PAGE };
  });
  w = await startWorker({
    SG_PUBLIC_KEYS: key.publicJwks,
    SG_UPSTREAM: origin.url,
    SG_ROUTES: JSON.stringify({ "/": ["personalization"], "/deals": ["personalization", "targeted_advertising"], "/kids": ["personalization"], "/all": ["personalization", "targeted_advertising"] }),
    SG_LOG: "all",
  });
});
after(async () => { await w?.stop(); await origin?.close(); await evil?.close(); });

test("1. upstream redirects are passed to the browser, never followed", async () => {
  const before = evil.seen.length;
  const resp = await fetch(`${w.url}/redirect`, { headers: cookie(runner()), redirect: "manual" });
  assert.equal(resp.status, 302);
  assert.equal(resp.headers.get("location"), `${evil.url}/landing`);
  assert.match(resp.headers.get("set-cookie") || "", /session=abc/);
  assert.equal(resp.headers.get("cache-control"), "private, no-store");
  assert.equal(evil.seen.length, before, "the Worker fetched the redirect target");
});

test("2. request bodies and methods reach the upstream unchanged", async () => {
  for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
    const body = `a=1&b=${method}&c=${"x".repeat(3000)}`;
    const resp = await fetch(`${w.url}/form`, { method, body, headers: { "Content-Type": "application/x-www-form-urlencoded" } });
    assert.equal(resp.status, 200);
    const got = origin.seen.at(-1);
    assert.equal(got.method, method);
    assert.equal(got.body, body, `${method} body`);
  }
  await fetch(`${w.url}/dav`, { method: "PROPFIND" });
  assert.equal(origin.seen.at(-1).method, "PROPFIND");
});

test("3. /__sg/decision applies the purposes of the page it is asked about", async () => {
  const token = runner();
  const decision = (path) => fetch(`${w.url}/__sg/decision?path=${encodeURIComponent(path)}`, { headers: cookie(token) });
  assert.deepEqual(await (await decision("/all/x")).json(), { segments: [ADS, RUNNERS], tier: "curated" });
  // The kids' pages allow personalization only: no ad audience for them.
  assert.deepEqual(await (await decision("/kids/toys")).json(), { segments: [RUNNERS], tier: "curated" });
  const missing = await fetch(`${w.url}/__sg/decision`, { headers: cookie(token) });
  assert.equal(missing.status, 400);
  const body = await missing.json();
  assert.equal(body.tier, "generic");
  assert.deepEqual(body.segments, []);
  assert.match(body.error.message, /`path`/);
  assert.equal((await fetch(`${w.url}/__sg/decision?path=relative`)).status, 400);
});

test("4. the fail-closed shim fetches only from the upstream's own origin", async () => {
  const faulty = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_UPSTREAM: origin.url, SG_FAULT_INJECTION: "panic" });
  try {
    const before = evil.seen.length;
    const resp = await fetch(`${faulty.url}//127.0.0.1:${evil.port}/steal`, { headers: cookie(runner()) });
    assert.equal(resp.status, 200);
    assert.equal(evil.seen.length, before, "the shim fetched another host");
    assert.equal(origin.seen.at(-1).url, `//127.0.0.1:${evil.port}/steal`);
    assert.deepEqual(pageParts(await resp.text()).segments, []);
  } finally {
    await faulty.stop();
  }
});

test("5. Sg-Tier and Sg-Segments go upstream only if the policy exposes them", async () => {
  const policy = JSON.parse(POLICY);
  policy.exposure.upstream = ["policy_version"];
  const narrow = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_UPSTREAM: origin.url, SG_POLICY: JSON.stringify(policy) });
  try {
    await fetch(`${narrow.url}/p`, { headers: { ...cookie(runner()), "Sg-Tier": "curated", "Sg-Segments": "forged" } });
    const got = origin.seen.at(-1).headers;
    assert.equal(got["sg-tier"], undefined);
    assert.equal(got["sg-segments"], undefined);
    assert.equal(got["sg-decision"], JSON.stringify({ policy_version: "demo-2026-11" }));
  } finally {
    await narrow.stop();
  }
});

test("6. route prefixes match whole segments of the normalised path", async () => {
  const token = runner();
  const segments = async (path) => pageParts(await (await fetch(w.url + path, { headers: cookie(token) })).text()).segments;
  assert.deepEqual(await segments("/deals/today"), [RUNNERS, ADS]);
  assert.deepEqual(await segments("/dealers"), [RUNNERS], "/dealers is not under /deals");
  assert.deepEqual(await segments("/DEALS/today"), [RUNNERS, ADS], "case does not escape the route");
  assert.deepEqual(await segments("/%64eals/today"), [RUNNERS, ADS], "escapes do not escape the route");
  assert.deepEqual(await segments("/deals/../kids/x"), [RUNNERS]);
});

test("7. a failed policy load is retried with backoff, not kept for the isolate's life", async () => {
  let failures = 2;
  const policySrv = await server(() => (failures-- > 0 ? { status: 503, body: "busy" } : { headers: { "Content-Type": "application/json" }, body: POLICY }));
  const retrying = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_POLICY_URL: `${policySrv.url}/v1/policy` }, { probe: null });
  try {
    const token = runner();
    const first = pageParts(await (await fetch(`${retrying.url}/`, { headers: cookie(token) })).text());
    assert.deepEqual(first.segments, [], "the first load failed: generic");
    assert.equal((await fetch(`${retrying.url}/__sg/health`)).status, 503);
    // After the backoff (1 s, then 2 s) the policy loads and bundles count again.
    let segments = [];
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      segments = pageParts(await (await fetch(`${retrying.url}/`, { headers: cookie(token) })).text()).segments;
      if (segments.length) break;
    }
    assert.deepEqual(segments, [RUNNERS]);
    assert.equal((await fetch(`${retrying.url}/__sg/health`)).status, 200);
    assert.ok(policySrv.seen.length >= 3 && policySrv.seen.length <= 6, `policy fetched ${policySrv.seen.length} times`);
  } finally {
    await retrying.stop();
    await policySrv.close();
  }
});

test("8. the verified-bundle cache stays within its byte budget", async () => {
  const budget = 64 * 1024;
  const small = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_CACHE_BYTES: String(budget), SG_LOG: "all" });
  try {
    // 60 signals: a token of about 13 KB, an entry of about 20 KB.
    const tokens = Array.from({ length: 8 }, () => key.signer.sign(claims({ n: 60 })));
    for (const t of tokens) await fetch(`${small.url}/`, { headers: cookie(t) });
    await fetch(`${small.url}/`, { headers: cookie(tokens[0]) });
    assert.ok(await waitForLog(small, /"cache_bytes":\d+/));
    const sizes = [...small.logs().matchAll(/"cache_bytes":(\d+)/g)].map((m) => Number(m[1]));
    assert.equal(sizes.length, 9);
    assert.ok(Math.max(...sizes) <= budget, `cache grew to ${Math.max(...sizes)} bytes`);
    assert.ok(Math.max(...sizes) > budget / 2, `cache never filled: ${sizes}`);
    // The first bundle was evicted to stay within the budget: verified again.
    const lines = small.logs().split("\n").filter((l) => l.includes('"sg":"decision"'));
    assert.match(lines.at(-1), /"cached":false/);
  } finally {
    await small.stop();
  }
});

test("9. personalised upstream requests bypass every cache, responses are private", async () => {
  const resp = await fetch(`${w.url}/p`, { headers: cookie(runner()) });
  assert.equal(resp.headers.get("cache-control"), "private, no-store");
  // workerd carries `cache: "no-store"` to the origin as these request headers.
  const got = origin.seen.at(-1).headers;
  assert.equal(got["cache-control"], "no-cache");
  assert.equal(got.pragma, "no-cache");
  assert.match(resp.headers.get("vary"), /Cookie, Sg-Bundle, Sec-GPC/);
});

test("10. no development signer answers, whatever the variables say", async () => {
  const prod = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_DEV_SIGNING_KEY: key.privateJwk });
  try {
    for (const path of ["/__sg/dev/bundle", "/__sg/dev/clear"]) {
      const resp = await fetch(`${prod.url}${path}`, { method: "POST", body: JSON.stringify({ signals: [{ class: "interest", value: "hiking" }] }) });
      assert.equal(resp.status, 404, path);
      assert.equal(resp.headers.get("set-cookie"), null, path);
    }
  } finally {
    await prod.stop();
  }
});

test("11. the tenant comes from the request URL's host, compared without case", async () => {
  const other = newKey();
  const multi = await startWorker({
    SG_PUBLIC_KEYS: JSON.stringify({ keys: [...JSON.parse(key.publicJwks).keys, ...JSON.parse(other.publicJwks).keys] }),
    SG_TENANT: "",
    SG_TENANTS: JSON.stringify({ "shop-a.example": "demo-shop", "shop-b.example": "other-shop" }),
    SG_KEY_TENANTS: JSON.stringify({ [key.kid]: ["demo-shop"], [other.kid]: ["other-shop"] }),
    SG_LOG: "all",
  });
  try {
    const page = async (host, token) => pageParts((await rawRequest(`${multi.url}/`, { headers: { Host: host, ...cookie(token) } })).text);
    assert.deepEqual((await page("SHOP-A.Example", runner())).segments, [RUNNERS]);
    assert.deepEqual((await page("shop-c.example", runner())).segments, [], "an unknown host has no tenant");
    assert.ok(await waitForLog(multi, /"reason":"no_tenant"/), multi.logs());
    // demo-shop's key signing for the other tenant is refused (keys are tied to tenants).
    const forged = key.signer.sign(claims({ n: 1, ten: "other-shop" }));
    assert.deepEqual((await page("shop-b.example", forged)).segments, []);
    assert.ok(await waitForLog(multi, /"reason":"key_not_for_tenant"/), multi.logs());
  } finally {
    await multi.stop();
  }
});

test("12. pages without a text/html type are filtered too", async () => {
  for (const path of ["/untyped", "/xhtml"]) {
    const resp = await fetch(`${w.url}${path}`);
    const p = pageParts(await resp.text());
    assert.deepEqual(p.segments, [], `${path}: segment blocks reached a visitor without a bundle`);
    assert.deepEqual(p.tiers, ["generic"], path);
    assert.equal(p.decisionCount, 1, path);
  }
  // Other types pass untouched.
  const css = await server(() => ({ headers: { "Content-Type": "text/css" }, body: `p[data-sg-segment="${RUNNERS}"]{}` }));
  const passthrough = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_UPSTREAM: css.url });
  try {
    assert.match(await (await fetch(`${passthrough.url}/a.css`)).text(), /data-sg-segment/);
  } finally {
    await passthrough.stop();
    await css.close();
  }
});

test("13. /__sg/health gives the public a status; the details go to the log", async () => {
  const broken = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_POLICY: '{"schema":1,"version":"x"}' });
  try {
    const health = await fetch(`${broken.url}/__sg/health`);
    assert.equal(health.status, 503);
    const text = await health.text();
    assert.deepEqual(JSON.parse(text), { ok: false });
    assert.ok(await waitForLog(broken, /"problem":"`SG_POLICY`: policy has 3 problems[^\n]*"sg":"config_error"/), broken.logs());
    assert.doesNotMatch(text, /SG_POLICY|problem/);
  } finally {
    await broken.stop();
  }
});

// A stand-in for the origin Worker, bound to the gate as ORIGIN: it answers
// the revocation feed from its FEED variable ({"tenant": {"bundles": [...],
// "delay": ms}}), logs what reaches it, takes 1.5 s on /v1/slow, and echoes
// every other request (method, path, headers) as JSON.
const FAKE_ORIGIN = `
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const feed = url.pathname.match(/^\\/v1\\/tenants\\/([^/]+)\\/revocations$/);
    if (feed) {
      const since = Number(url.searchParams.get("since") || 0);
      console.log("fake-origin feed " + feed[1] + " since=" + since);
      const conf = JSON.parse(env.FEED || "{}")[feed[1]] || {};
      if (conf.delay) await sleep(conf.delay);
      const bundles = conf.bundles || [];
      return Response.json({ seq: bundles.length, bundles: since < bundles.length ? bundles.slice(since) : [], more: false });
    }
    console.log("fake-origin saw " + request.method + " " + url.pathname);
    if (url.pathname === "/v1/slow") await sleep(1500);
    return Response.json({ method: request.method, path: url.pathname, headers: Object.fromEntries(request.headers) });
  },
};
`;
const fakeOrigin = () => {
  const file = join(mkdtempSync(join(tmpdir(), "sg-fake-origin-")), "origin.mjs");
  writeFileSync(file, FAKE_ORIGIN);
  return file;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const later = () => Math.floor(Date.now() / 1000) + 3600;

test("14. the origin's API never falls back to the page upstream: when the gate fails while forwarding, 502", async () => {
  const upstream = await server(() => ({ body: PAGE }));
  const g = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_UPSTREAM: upstream.url, SG_FAULT_INJECTION: "panic", SG_REVOCATION_FEED: "" },
    { originScript: fakeOrigin() });
  try {
    // An API call is on its way to the origin when a page request panics
    // the gate: the shim fails every request in flight.
    const pending = fetch(`${g.url}/v1/slow`, { method: "POST", body: '{"a":1}',
      headers: { "Content-Type": "application/json", Authorization: "Bearer api-secret", Cookie: "sg_session=sess" } });
    await sleep(300);
    const page = await fetch(`${g.url}/`);
    assert.deepEqual(pageParts(await page.text()).segments, [], "the page itself fails closed");
    const api = await pending;
    assert.equal(api.status, 502);
    assert.equal(api.headers.get("content-type"), "application/problem+json");
    assert.equal(api.headers.get("cache-control"), "no-store");
    const body = await api.json();
    assert.equal(body.type, "urn:signalgate:problem:origin_unavailable");
    assert.deepEqual([body.status, body.code], [502, "origin_unavailable"]);
    assert.ok(body.title && body.detail);
    const leaked = upstream.seen.filter((r) => r.url.startsWith("/v1/") || r.headers.authorization || /sg_session/.test(r.headers.cookie || ""));
    assert.deepEqual(leaked, [], "the API request reached the page upstream");
    assert.ok(await waitForLog(g, /"sg":"gate_failure","reason":"exception"/), g.logs());
  } finally {
    await g.stop();
    await upstream.close();
  }
});

test("15. the page upstream never gets the bundle or the origin's session; the site's cookies pass unchanged", async () => {
  const token = runner();
  const headers = { Cookie: `a=1; sg_bundle=${token}; sg_session=sess; b=2`, "Sg-Bundle": token, Authorization: "Basic c2l0ZTphdXRo" };
  const resp = await fetch(`${w.url}/p`, { headers });
  assert.deepEqual(pageParts(await resp.text()).segments, [RUNNERS], "the gate itself still reads the bundle");
  const got = origin.seen.at(-1).headers;
  assert.equal(got.cookie, "a=1; b=2");
  assert.equal(got["sg-bundle"], undefined);
  assert.equal(got.authorization, "Basic c2l0ZTphdXRo", "the site's own auth is kept");
  await fetch(`${w.url}/p`, { headers: { Cookie: `sg_bundle=${token}; __Host-sg_session=s` } });
  assert.equal(origin.seen.at(-1).headers.cookie, undefined, "nothing else: no Cookie header at all");
  await fetch(`${w.url}/p`, { headers: { Cookie: "a=1;b=2" } });
  assert.equal(origin.seen.at(-1).headers.cookie, "a=1;b=2", "untouched when there is nothing to take out");
  // Two Cookie headers, which the runtime joins with ", ".
  await new Promise((resolve) => {
    const s = connect(new URL(w.url).port, "127.0.0.1", () =>
      s.write(`GET /p HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: sg_bundle=${token}; b=2\r\nConnection: close\r\n\r\n`));
    s.on("data", () => {});
    s.on("close", resolve);
  });
  assert.equal(origin.seen.at(-1).headers.cookie, "a=1; b=2");
  // The shim's fail-closed path drops the same names.
  const faulty = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_UPSTREAM: origin.url, SG_FAULT_INJECTION: "panic" });
  try {
    const failed = await fetch(`${faulty.url}/p`, { headers });
    assert.deepEqual(pageParts(await failed.text()).segments, []);
    const seen = origin.seen.at(-1).headers;
    assert.equal(seen.cookie, "a=1; b=2");
    assert.equal(seen["sg-bundle"], undefined);
    assert.equal(seen.authorization, "Basic c2l0ZTphdXRo");
  } finally {
    await faulty.stop();
  }
});

test("16. test-only headers and the origin's admin routes stay at the gate", async () => {
  const script = fakeOrigin();
  const g = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_REVOCATION_FEED: "" }, { originScript: script });
  try {
    const echo = await (await fetch(`${g.url}/v1/echo`, { headers: { "Sg-Test-Crash-After": "1", "sg-test-other": "x", Authorization: "Bearer k" } })).json();
    assert.deepEqual(Object.keys(echo.headers).filter((h) => h.startsWith("sg-test-")), []);
    assert.equal(echo.headers.authorization, "Bearer k");
    for (const path of ["/v1/admin/api-keys", "/v1//admin/api-keys", "/v1/Admin/subjects/u/verify", "/v1/admin"]) {
      const r = await fetch(`${g.url}${path}`, { method: "POST", body: "{}", headers: { Authorization: "Bearer admin" } });
      assert.equal(r.status, 404, path);
      assert.equal(r.headers.get("content-type"), "application/problem+json", path);
      const body = await r.json();
      assert.deepEqual([body.type, body.code, body.status], ["urn:signalgate:problem:not_found", "not_found", 404], path);
    }
    assert.doesNotMatch(g.logs(), /fake-origin saw POST \/v1\/+admin/i, "an admin request reached the origin");
  } finally {
    await g.stop();
  }
  // SG_FORWARD_ADMIN=1 (local development and tests only) forwards them.
  const dev = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_REVOCATION_FEED: "", SG_FORWARD_ADMIN: "1" }, { originScript: script });
  try {
    const r = await fetch(`${dev.url}/v1/admin/api-keys`, { method: "POST", body: "{}" });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).path, "/v1/admin/api-keys");
  } finally {
    await dev.stop();
  }
});

test("17. as deployed (wrangler.toml), the gate polls the origin's revocation feed", async () => {
  const feed = { "demo-shop": { bundles: [{ bundle_id: "b-fed", expires_at: later() }] } };
  // No SG_REVOCATION_FEED given: the value is wrangler.toml's.
  const g = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_UPSTREAM: origin.url, SG_LOG: "all" },
    { originScript: fakeOrigin(), origin: { FEED: JSON.stringify(feed) } });
  try {
    const revoked = key.signer.sign(claims({ n: 1, jti: "b-fed" }));
    const page = async (token) => pageParts(await (await fetch(`${g.url}/`, { headers: cookie(token) })).text()).segments;
    assert.deepEqual(await page(revoked), [], "a bundle in the feed is refused");
    assert.ok(await waitForLog(g, /"reason":"revoked"/), g.logs());
    assert.deepEqual(await page(runner()), [RUNNERS]);
  } finally {
    await g.stop();
  }
});

test("18. the feed per tenant: a slow feed fails closed in time for its own tenant only, and revokes nobody else's bundles", async () => {
  const other = newKey();
  const policy = JSON.parse(POLICY);
  delete policy.tenant;
  const feed = {
    "demo-shop": { bundles: [{ bundle_id: "b-shared", expires_at: later() }] },
    "other-shop": { bundles: [] },
    "slow-shop": { delay: 5000 },
  };
  const g = await startWorker({
    SG_PUBLIC_KEYS: JSON.stringify({ keys: [...JSON.parse(key.publicJwks).keys, ...JSON.parse(other.publicJwks).keys] }),
    SG_TENANT: "",
    SG_TENANTS: JSON.stringify({ "shop-a.example": "demo-shop", "shop-b.example": "other-shop", "shop-c.example": "slow-shop" }),
    SG_KEY_TENANTS: JSON.stringify({ [key.kid]: ["demo-shop"], [other.kid]: ["other-shop", "slow-shop"] }),
    SG_POLICY: JSON.stringify(policy),
    SG_UPSTREAM: origin.url,
    SG_LOG: "all",
  }, { originScript: fakeOrigin(), origin: { FEED: JSON.stringify(feed) } });
  try {
    const page = async (host, token) => {
      const t0 = Date.now();
      const r = await rawRequest(`${g.url}/`, { headers: { Host: host, ...(token ? cookie(token) : {}) } });
      return { segments: pageParts(r.text).segments, ms: Date.now() - t0 };
    };
    // The slow tenant: a visitor without a bundle is not held up at all; one
    // with a bundle waits one poll timeout, then fails closed.
    const anon = await page("shop-c.example");
    assert.ok(anon.ms < 250, `a request without a bundle waited ${anon.ms} ms for the feed`);
    const slow = await page("shop-c.example", other.signer.sign(claims({ n: 1, ten: "slow-shop" })));
    assert.deepEqual(slow.segments, []);
    assert.ok(slow.ms < 1500, `the slow feed held a request for ${slow.ms} ms`);
    assert.ok(await waitForLog(g, /"reason":"revocations_stale"/), g.logs());
    // The other tenants are served on their own feeds meanwhile.
    assert.deepEqual((await page("shop-a.example", runner())).segments, [RUNNERS]);
    assert.deepEqual((await page("shop-b.example", other.signer.sign(claims({ n: 1, ten: "other-shop" })))).segments, [RUNNERS]);
    // demo-shop's feed revokes demo-shop's b-shared, not other-shop's.
    assert.deepEqual((await page("shop-a.example", key.signer.sign(claims({ n: 1, jti: "b-shared" })))).segments, []);
    const theirs = other.signer.sign(claims({ n: 1, ten: "other-shop", jti: "b-shared" }));
    assert.deepEqual((await page("shop-b.example", theirs)).segments, [RUNNERS]);
  } finally {
    await g.stop();
  }
});

test("19. requests waiting for the feed share one refresh", async () => {
  const g = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_UPSTREAM: origin.url, SG_REVOCATION_FEED: "origin" },
    { originScript: fakeOrigin(), origin: { FEED: JSON.stringify({ "demo-shop": { delay: 150 } }) } });
  try {
    // Eight visitors at once on an isolate that has never read the feed.
    const tokens = Array.from({ length: 8 }, () => runner());
    const pages = await Promise.all(tokens.map(async (t) => pageParts(await (await fetch(`${g.url}/`, { headers: cookie(t) })).text())));
    assert.deepEqual(pages.map((p) => p.segments), tokens.map(() => [RUNNERS]));
    const polls = g.logs().match(/fake-origin feed demo-shop/g) || [];
    assert.equal(polls.length, 1, `the feed was polled ${polls.length} times:\n${g.logs()}`);
  } finally {
    await g.stop();
  }
});
