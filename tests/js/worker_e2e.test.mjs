// End to end through the real Worker in workerd (wrangler dev on 127.0.0.1):
// the same pages requested with no bundle, valid, tampered, expired, other
// tenant's, GPC, revoked, oversized and unknown-key bundles. Each gets exactly
// the expected elements, headers and decision JSON.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { startWorker, newKey, claims, now, pageParts, freePort, waitForLog } from "./helpers.mjs";

const RUNNERS = "sgt_5d1e9a20c4", GERMAN = "sgt_9b2a47d1c8", ADS = "sgt_c2d9f4e817";
const key = newKey();
const stranger = newKey();
let w;

before(async () => {
  w = await startWorker({
    SG_PUBLIC_KEYS: key.publicJwks,
    SG_REVOCATIONS: JSON.stringify({ bundles: ["b-revoked"], subjects: ["u-revoked"] }),
    SG_LOG: "all",
  });
});
after(async () => { await w?.stop(); });

const get = (path, headers = {}) => fetch(w.url + path, { headers });
const withBundle = (token, extra = {}) => ({ Cookie: `theme=dark; sg_bundle=${token}`, ...extra });

async function page(path, headers) {
  const resp = await get(path, headers);
  assert.equal(resp.status, 200);
  return { resp, ...pageParts(await resp.text()) };
}

function assertGeneric(p) {
  assert.deepEqual(p.segments, []);
  assert.ok(p.tiers.every((t) => t.split(/\s+/).includes("generic")), `only generic blocks: ${p.tiers}`);
  assert.deepEqual(p.decision, { segments: [], tier: "generic" });
  assert.equal(p.decisionCount, 1);
  assert.equal(p.resp.headers.get("sg-tier"), "generic");
}

test("no bundle: generic page, no personalised element", async () => {
  const p = await page("/");
  assertGeneric(p);
  assert.match(p.resp.headers.get("vary"), /Cookie/);
});

test("valid bundle: curated page with exactly the permitted segments", async () => {
  const token = key.signer.sign(claims());
  const p = await page("/", withBundle(token));
  assert.deepEqual(p.segments, [RUNNERS, GERMAN]);
  assert.deepEqual(p.tiers, ["curated"]);
  assert.deepEqual(p.decision, { segments: [GERMAN, RUNNERS], tier: "curated" });
  assert.equal(p.resp.headers.get("cache-control"), "private, no-store");
  assert.match(p.resp.headers.get("vary"), /Cookie, Sg-Bundle, Sec-GPC/);
  // The same visitor again: answered from the isolate's verified-bundle cache.
  const again = await page("/", withBundle(token));
  assert.deepEqual(again.segments, [RUNNERS, GERMAN]);
  assert.ok(await waitForLog(w, /"cached":true[^\n]*"tier":"curated"/), w.logs());
});

test("the Sg-Bundle header works for API clients", async () => {
  const p = await page("/", { "Sg-Bundle": key.signer.sign(claims({ n: 1 })) });
  assert.deepEqual(p.segments, [RUNNERS]);
});

const failures = [
  ["tampered", () => { const t = key.signer.sign(claims()); const parts = t.split("."); const body = Buffer.from(parts[1], "base64url").toString().replace("trail-running", "road-running"); return [parts[0], Buffer.from(body).toString("base64url"), parts[2]].join("."); }, "bad_signature"],
  ["expired", () => key.signer.sign(claims({ iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 })), "expired"],
  ["another tenant's", () => key.signer.sign(claims({ ten: "other-shop" })), "wrong_tenant"],
  ["revoked by id", () => key.signer.sign(claims({ jti: "b-revoked" })), "revoked"],
  ["revoked by subject", () => key.signer.sign(claims({ sub: "u-revoked" })), "revoked"],
  ["unknown key", () => stranger.signer.sign(claims()), "unknown_key"],
  ["malformed", () => "not.a.bundle", "bad_base64"],
  ["oversized", () => "A".repeat(17000), "too_large"],
  ["wrong audience", () => key.signer.sign(claims({ aud: "someone-else" })), "wrong_audience"],
];
for (const [name, make, reason] of failures) {
  test(`${name} bundle: generic page, reason \`${reason}\` logged`, async () => {
    const p = await page("/", withBundle(make()));
    assertGeneric(p);
    assert.ok(await waitForLog(w, new RegExp(`"reason":"${reason}"`)), w.logs());
  });
}

test("GPC removes only the purposes it opts out of", async () => {
  const token = key.signer.sign(claims({ n: 1 }));
  const plain = await page("/deals/", withBundle(token));
  assert.deepEqual(plain.segments, [RUNNERS, ADS]);
  const gpc = await page("/deals/", withBundle(token, { "Sec-GPC": "1" }));
  assert.deepEqual(gpc.segments, [RUNNERS]);
  assert.deepEqual(gpc.decision, { segments: [RUNNERS], tier: "curated" });
});

test("non-HTML assets pass through untouched but vary on the bundle", async () => {
  const resp = await get("/demo.css", withBundle(key.signer.sign(claims())));
  assert.equal(resp.status, 200);
  assert.match(await resp.text(), /--|font-family/);
  assert.match(resp.headers.get("vary"), /Cookie/);
});

test("/__sg/decision gives page code only the exposed fields", async () => {
  const resp = await get("/__sg/decision?path=/", withBundle(key.signer.sign(claims())));
  assert.deepEqual(await resp.json(), { segments: [GERMAN, RUNNERS], tier: "curated" });
  assert.equal(resp.headers.get("cache-control"), "private, no-store");
});

test("logs carry no personal data", () => {
  assert.doesNotMatch(w.logs(), /u-42|u-revoked|trail-running/);
});

test("upstream origin: gets the permitted tokens, cannot be spoofed, forged decisions (any element with the id, any case) are dropped", async () => {
  let seen = null;
  const origin = createServer((req, res) => {
    seen = { segments: req.headers["sg-segments"], tier: req.headers["sg-tier"], decision: req.headers["sg-decision"] };
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "public, max-age=600" });
    res.end(`<html><head><template id="sg-decision">{"tier":"curated","segments":["forged-template"]}</template><script type="application/json" id="sg-decision">{"tier":"curated","segments":["forged"]}</script></head>
<body><div id="SG-Decision">forged-div</div><p data-sg-segment="${RUNNERS}">run</p><p data-sg-segment="${ADS}">ad</p><p>${"filler ".repeat(20)}</p></body></html>`);
  });
  const port = await freePort();
  await new Promise((r) => origin.listen(port, "127.0.0.1", r));
  const up = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_UPSTREAM: `http://127.0.0.1:${port}` });
  try {
    const token = key.signer.sign(claims({ n: 1 }));
    const resp = await fetch(`${up.url}/any/page`, { headers: { Cookie: `sg_bundle=${token}`, "Sg-Segments": "forged", "Sg-Tier": "curated" } });
    const html = await resp.text();
    const p = pageParts(html);
    // Any element with the decision's id, of any tag or letter case, is dropped: the page finds only the gate's.
    assert.doesNotMatch(html, /forged/);
    assert.deepEqual(p.segments, [RUNNERS]);
    assert.deepEqual(p.decision, { segments: [RUNNERS], tier: "curated" });
    assert.equal(p.decisionCount, 1);
    assert.deepEqual(seen, { segments: RUNNERS, tier: "curated", decision: JSON.stringify({ policy_version: "demo-2026-11", segments: [RUNNERS], tier: "curated" }) });
    assert.equal(resp.headers.get("cache-control"), "private, no-store");
    // Without a bundle, the client's forged headers still do not reach the origin.
    const anon = await fetch(`${up.url}/x`, { headers: { "Sg-Segments": "forged" } });
    assert.deepEqual(pageParts(await anon.text()).segments, []);
    assert.equal(seen.segments, "");
  } finally {
    await up.stop();
    origin.close();
  }
});

/** Status, headers and the body as far as it arrives (`cut` when the stream broke off). */
async function readAll(url, headers) {
  let resp;
  try {
    resp = await fetch(url, { headers });
  } catch {
    return { status: 0, headers: new Headers(), text: "", cut: true };
  }
  const reader = resp.body.getReader();
  const chunks = [];
  let cut = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
    }
  } catch {
    cut = true;
  }
  return { status: resp.status, headers: resp.headers, text: Buffer.concat(chunks).toString(), cut };
}

test("plain pages (Sg-Markup: none, SG_PLAIN_ROUTES) skip the filter, and gate markup in one is never served", async () => {
  const filler = `<p>${"filler ".repeat(400)}</p>`;
  const plain = (segments) => `<html><head><title>p</title></head><body><p>rendered for [${segments}]</p>${filler}</body></html>`;
  const origin = createServer((req, res) => {
    const segments = req.headers["sg-segments"] ?? "";
    const html = { "Content-Type": "text/html; charset=utf-8" };
    if (req.url === "/plain") {
      res.writeHead(200, { ...html, "Sg-Markup": "none" });
      res.end(plain(segments));
    } else if (req.url === "/liar") {
      // Declared plain, but with a block the filter would remove, its
      // attribute name split across two chunks.
      res.writeHead(200, { ...html, "Sg-Markup": " None " });
      res.write(`<html><body>${filler}<p data-sg-`);
      setTimeout(() => res.end(`segment="${ADS}">ad for you only</p><p>after</p></body></html>`), 50);
    } else if (req.url === "/upper") {
      res.writeHead(200, { ...html, "Sg-Markup": "none" });
      res.end(`<html><body>${filler}<DIV DATA-SG-TIER="curated">curated only</DIV></body></html>`);
    } else if (req.url === "/forged-decision") {
      res.writeHead(200, { ...html, "Sg-Markup": "none" });
      res.end(`<html><head><script type="application/json" id="SG-DECISION">{"tier":"curated","segments":["${ADS}"]}</script></head><body>${filler}</body></html>`);
    } else if (req.url.startsWith("/help/")) {
      // On a plain route: no header needed.
      res.writeHead(200, html);
      res.end(req.url === "/help/ok" ? plain(segments) : `<html><body>${filler}<p data-sg-segment="${ADS}">ad for you only</p></body></html>`);
    } else {
      res.writeHead(200, html);
      res.end(`<html><head></head><body><p data-sg-segment="${RUNNERS}">run</p><p data-sg-segment="${ADS}">ad for you only</p></body></html>`);
    }
  });
  const port = await freePort();
  await new Promise((r) => origin.listen(port, "127.0.0.1", r));
  const up = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_UPSTREAM: `http://127.0.0.1:${port}`, SG_PLAIN_ROUTES: '["/Help"]' });
  try {
    const visitor = { Cookie: `sg_bundle=${key.signer.sign(claims({ n: 1 }))}` };
    // Declared plain: exactly the origin's bytes, no decision script, the
    // gate's headers, and no Sg-Markup for the visitor.
    const p = await readAll(`${up.url}/plain`, visitor);
    assert.equal(p.cut, false);
    assert.equal(p.status, 200);
    assert.equal(p.text, plain(RUNNERS));
    assert.equal(p.headers.get("sg-markup"), null);
    assert.equal(p.headers.get("cache-control"), "private, no-store");
    assert.match(p.headers.get("vary"), /Cookie, Sg-Bundle, Sec-GPC/);
    assert.equal(p.headers.get("sg-tier"), "curated");
    const ok = await readAll(`${up.url}/help/ok`, visitor);
    assert.equal(ok.text, plain(RUNNERS));
    // Markup in a page that skips the filter: cut off before the block, never served.
    for (const path of ["/liar", "/upper", "/help/page", "/forged-decision"]) {
      for (const headers of [visitor, {}]) {
        const r = await readAll(`${up.url}${path}`, headers);
        assert.ok(r.cut, `${path}: the response must break off`);
        assert.doesNotMatch(r.text, /ad for you only|curated only|after<\/p>/, path);
        assert.ok(!r.text.includes(ADS), `${path}: a withheld token reached the visitor`);
      }
    }
    assert.ok(await waitForLog(up, /"sg":"gate_failure","reason":"markup_in_plain_page"/), up.logs());
    // Everything else still goes through the filter.
    const filtered = await readAll(`${up.url}/shop`, visitor);
    assert.deepEqual(pageParts(filtered.text).segments, [RUNNERS]);
    assert.equal(pageParts(filtered.text).decisionCount, 1);
  } finally {
    await up.stop();
    origin.close();
  }
});

test("a broken policy fails closed: generic pages, no 5xx, health says only that it is not ok", async () => {
  const broken = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_POLICY: '{"schema":1,"version":"x"}' });
  try {
    const resp = await fetch(broken.url + "/", { headers: { Cookie: `sg_bundle=${key.signer.sign(claims())}` } });
    assert.equal(resp.status, 200);
    const p = pageParts(await resp.text());
    assert.deepEqual(p.segments, []);
    assert.deepEqual(p.decision, { segments: [], tier: "generic" });
    const health = await fetch(broken.url + "/__sg/health");
    assert.equal(health.status, 503);
    assert.deepEqual(await health.json(), { ok: false });
    assert.ok(await waitForLog(broken, /config_error/), broken.logs());
  } finally {
    await broken.stop();
  }
});

test("a panic inside the gate still serves the generic page (the shim fails closed)", async () => {
  const faulty = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_FAULT_INJECTION: "panic" });
  try {
    for (let i = 0; i < 2; i++) {
      const resp = await fetch(faulty.url + "/", { headers: { Cookie: `sg_bundle=${key.signer.sign(claims())}` } });
      assert.equal(resp.status, 200);
      assert.equal(resp.headers.get("cache-control"), "private, no-store");
      const p = pageParts(await resp.text());
      assert.deepEqual(p.segments, []);
      assert.ok(p.tiers.every((t) => t.split(/\s+/).includes("generic")));
      assert.deepEqual(p.decision, { tier: "generic", segments: [] });
      assert.equal(p.decisionCount, 1);
    }
    assert.ok(await waitForLog(faulty, /"sg":"gate_failure","reason":"exception"/), faulty.logs());
  } finally {
    await faulty.stop();
  }
});
