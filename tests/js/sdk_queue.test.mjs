// The browser SDK (www/sdk/signalgate.mjs) in real headless Chromium
// (Debian's, driven by playwright-core) against the gate and the origin in
// workerd: a capture online is recorded once; offline, across a reload and a
// closed tab, or with the origin down (or its reply lost), nothing is lost
// and nothing is recorded twice; two tabs share one queue and never send a
// choice twice; GPC drops the opted-out purpose's segments in local
// decisions; an expiring signal fires "expiring" once and reconfirming
// clears it; withdrawing and erasing drop what was still queued.
//
// The test page is served at the gate's host by `context.route`, so the
// SDK's requests are same-origin and go through the gate; the SDK and its
// wasm come from the gate's static assets (www/sdk/, with the web build that
// `pkg-scripts/build pkg` copies to www/sdk/pkg/). Every ledger check reads
// the subject's history through the origin's admin route.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ROOT, POLICY, startWorker, originStack, call } from "./helpers.mjs";

const CHROMIUM = process.env.SG_CHROMIUM || "/usr/bin/chromium";
const SHOTS = join(ROOT, "build", "screenshots");
const SDK = join(ROOT, "www", "sdk", "signalgate.mjs");

// price_band lives an hour and asks for reconfirmation in its last 50
// minutes: a choice made 15 minutes ago is expiring, a reconfirmed one is not.
const policy = JSON.parse(POLICY);
policy.classes.price_band.ttl = "1h";
policy.classes.price_band.reconfirm_lead = "50m";
const stack = originStack({ SG_POLICY: JSON.stringify(policy) }, { SG_POLICY: JSON.stringify(policy) });
const admin = { Authorization: `Bearer ${stack.admin}` };
let w, browser;

const FIXTURE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>signalgate SDK test page</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:860px}
pre{background:#f3f3f3;padding:8px;white-space:pre-wrap;word-break:break-all;min-height:1.4em}</style></head>
<body><h1>signalgate SDK test page</h1>
<p>online: <b id="online"></b> &middot; GPC: <b id="gpc"></b> &middot; tab: <b id="tab"></b></p>
<h2>Waiting to be sent</h2><pre id="pending"></pre>
<h2>Events</h2><pre id="events"></pre>
<h2>Local decision</h2><pre id="decision">(none asked)</pre>
<script type="module">
import { createSignalgate } from "/sdk/signalgate.mjs";
window.events = [];
const sg = await createSignalgate({ backoff: { base: 150, max: 1500 } });
const $ = (id) => document.getElementById(id);
const label = (c) => c ? " " + c.signal_type + "=" + c.value : "";
async function render() {
  $("online").textContent = String(navigator.onLine);
  $("gpc").textContent = String(sg.gpc);
  $("tab").textContent = sessionStorage.tab || (sessionStorage.tab = Math.random().toString(36).slice(2, 6));
  const p = await sg.pending().catch(() => []);
  $("pending").textContent = p.map((e) => label(e.choice) + " (attempts " + e.attempts + (e.problem ? ", last: " + e.problem.code : "") + ")").join("\\n") || "(nothing)";
  $("events").textContent = window.events.filter((e) => e.ev !== "change").map((e) => e.ev + label(e.choice) + (e.code ? " " + e.code : "") +
    (e.remote ? " (in another tab)" : "") + (e.list ? " " + JSON.stringify(e.list) : "") + (e.bundle !== undefined ? " " + e.bundle : "")).join("\\n");
}
for (const ev of ["queued", "delivered", "failed", "bundle", "expiring", "change"]) {
  sg.on(ev, (d) => {
    window.events.push({ ev, id: d?.id, remote: !!d?.remote, code: d?.error?.code, choice: d?.choice, list: Array.isArray(d) ? d : undefined,
      bundle: ev === "bundle" ? (d ? d.bundle_id : null) : undefined });
    render();
  });
}
addEventListener("online", render);
addEventListener("offline", render);
window.sg = sg;
window.show = (d) => { $("decision").textContent = JSON.stringify(d, null, 2); return d; };
await render();
window.ready = true;
</script></body></html>`;

before(async () => {
  assert.ok(existsSync(join(ROOT, "www", "sdk", "pkg", "signalgate_bg.wasm")), "no www/sdk/pkg: run `bash pkg-scripts/build pkg` first");
  mkdirSync(SHOTS, { recursive: true });
  w = await startWorker(stack.gate, { origin: stack.origin });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => { await browser?.close(); await w?.stop(); });

/**
 * A fresh browser context (its own IndexedDB, cookies and tabs) serving the
 * test page at the gate's host. `sent` records the Idempotency-Key of every
 * POST /v1/signals any of its tabs sends. With `offline`, the SDK module is
 * served from the repository too (as a service worker or the HTTP cache
 * would), so that a page loads while the network is down.
 */
async function newContext({ gpc = false, offline = false } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 900, height: 1000 } });
  if (gpc) await ctx.addInitScript(() => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true, configurable: true }));
  await ctx.route("**/sdk-test/", (r) => r.fulfill({ contentType: "text/html; charset=utf-8", body: FIXTURE }));
  if (offline) await ctx.route("**/sdk/signalgate.mjs", (r) => r.fulfill({ contentType: "text/javascript", body: readFileSync(SDK) }));
  ctx.sent = [];
  ctx.headers = [];
  ctx.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname === "/v1/signals") {
      ctx.sent.push(r.headers()["idempotency-key"]);
      ctx.headers.push(r.headers());
    }
  });
  return ctx;
}

async function open(ctx) {
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(w.url + "/sdk-test/");
  await page.waitForFunction(() => window.ready === true);
  return page;
}

async function reload(page) {
  await page.reload();
  await page.waitForFunction(() => window.ready === true);
}

const shot = (page, name) => page.evaluate(() => window.render?.()).then(() => page.screenshot({ path: join(SHOTS, `sdk-${name}.png`), fullPage: true }));
const events = (page, ev) => page.evaluate((ev) => window.events.filter((e) => !ev || e.ev === ev), ev);
const delivered = (page, ids, timeout = 20000) =>
  page.waitForFunction((ids) => ids.every((id) => window.events.some((e) => e.ev === "delivered" && e.id === id)), ids, { timeout });
const choice = (signal_type, value, consent_reference, purposes = ["personalization"]) =>
  ({ signal_type, value, purposes, consent_reference, source_context: { ui: "sdk-test" } });
const capture = (page, c) => page.evaluate((c) => window.sg.capture(c), c);

/** The subject's captures in the ledger (its history, read with the admin token): ["class=version", ...]. */
async function ledgerCaptures(subject) {
  const r = await call(`${w.url}/v1/admin/subjects/${subject}/history?tenant=demo-shop`, { headers: admin });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.chain_ok, true);
  return r.body.events.filter((e) => e.change.op === "signal_captured");
}

const count = (list) => list.reduce((m, k) => m.set(k, (m.get(k) || 0) + 1), new Map());

test("online: a capture is delivered, listed, decided on locally, and recorded once", async () => {
  const ctx = await newContext();
  const page = await open(ctx);
  const r = await capture(page, { signal_type: "language", value: "Deutsch", purpose: "personalization", consent_reference: "c-lang",
    source_context: { ui: "sdk-test" } });
  assert.equal(r.delivered, true);
  assert.equal(r.queued, false);
  assert.equal(r.reply.signal.value, "de");
  assert.equal(r.reply.signal.version, 1);
  assert.deepEqual(ctx.sent, [r.id], "one request, its Idempotency-Key the choice's id");
  assert.deepEqual(await page.evaluate(() => window.sg.pending()), []);

  const list = await page.evaluate(() => window.sg.signals());
  assert.deepEqual(list.signals.map((s) => [s.signal_type, s.value, s.version, s.capture_context.ui, s.capture_context.page]),
    [["language", "de", 1, "sdk-test", "/sdk-test/"]]);
  assert.deepEqual((await ledgerCaptures(list.subject_id)).map((e) => `${e.change.signal_type}=${e.change.version}`), ["language=1"]);

  const ev = await events(page);
  assert.deepEqual(ev.filter((e) => e.ev === "delivered").map((e) => e.id), [r.id]);
  assert.deepEqual(ev.filter((e) => e.ev === "bundle").map((e) => e.bundle), [r.reply.bundle.bundle_id]);

  // The local decision shows what the policy's page exposure allows, and no more.
  const d = await page.evaluate(async () => window.show(await window.sg.decide()));
  assert.deepEqual(d, { segments: ["sgt_9b2a47d1c8"], tier: "curated" });

  // A choice the origin refuses: rejected with its problem, "failed", not kept.
  const bad = await page.evaluate(() => window.sg.capture({ signal_type: "language", value: "a little of everything", purpose: "personalization",
    consent_reference: "c-lang" }).then(() => null, (e) => ({ error: e instanceof Error, name: e.name, code: e.code, status: e.status, field: e.field })));
  assert.deepEqual(bad, { error: true, name: "SignalgateError", code: "value_not_in_vocabulary", status: 422, field: "value" });
  assert.deepEqual((await events(page, "failed")).map((e) => e.code), ["value_not_in_vocabulary"]);
  assert.deepEqual(await page.evaluate(() => window.sg.pending()), []);
  // A malformed choice never reaches the queue.
  const local = await page.evaluate(() => window.sg.capture({ signal_type: "language", value: "de" }).then(() => null, (e) => e.code));
  assert.equal(local, "invalid_choice");
  await shot(page, "online");
  await ctx.close();
});

test("offline: queued, kept across a reload and a closed tab, delivered exactly once when back online", async () => {
  const ctx = await newContext({ offline: true });
  const page = await open(ctx);
  await ctx.setOffline(true);
  const r1 = await capture(page, choice("interest", "trail-running", "c-run"));
  assert.deepEqual([r1.queued, r1.delivered], [true, false]);
  assert.deepEqual((await events(page, "queued")).map((e) => e.id), [r1.id]);

  // A reload while offline: the queue is in IndexedDB.
  await reload(page);
  assert.deepEqual((await page.evaluate(() => window.sg.pending())).map((e) => [e.id, e.choice.value]), [[r1.id, "trail-running"]]);
  // A second tab, closed while still offline: its choice stays too.
  const other = await open(ctx);
  const r2 = await capture(other, choice("price_band", "mid", "c-run"));
  assert.equal(r2.queued, true);
  await other.close();
  assert.deepEqual((await page.evaluate(() => window.sg.pending())).map((e) => e.id), [r1.id, r2.id]);
  assert.deepEqual(ctx.sent, [], "nothing was sent while offline");
  await shot(page, "offline-queued");

  await ctx.setOffline(false); // the online event flushes the queue
  await delivered(page, [r1.id, r2.id]);
  assert.deepEqual(await page.evaluate(() => window.sg.pending()), []);
  assert.deepEqual([...count(ctx.sent)].sort(), [[r1.id, 1], [r2.id, 1]].sort(), "each choice sent exactly once");
  const list = await page.evaluate(() => window.sg.signals());
  assert.deepEqual(list.signals.map((s) => `${s.signal_type}=${s.value}@${s.version}`).sort(), ["interest=trail-running@1", "price_band=mid@1"]);
  const caps = await ledgerCaptures(list.subject_id);
  assert.deepEqual(caps.map((e) => e.change.signal_type).sort(), ["interest", "price_band"]);
  await shot(page, "offline-delivered");
  await ctx.close();
});

test("origin down, then its reply lost: retried with backoff under the same key, recorded once", async () => {
  const ctx = await newContext();
  const page = await open(ctx);
  const first = await capture(page, choice("language", "en", "c-down"));
  assert.equal(first.delivered, true);

  // Three 503s, then the origin is back.
  let down = 3;
  await page.route("**/v1/signals", (route) => {
    if (route.request().method() !== "POST" || down === 0) return route.fallback();
    down--;
    return route.fulfill({ status: 503, contentType: "application/problem+json", body: JSON.stringify({
      type: "urn:signalgate:problem:config", title: "The origin is not configured", status: 503, detail: "down for this test", code: "config" }) });
  });
  const r1 = await capture(page, choice("interest", "hiking", "c-down"));
  assert.deepEqual([r1.queued, r1.problem?.status, r1.problem?.code], [true, 503, "config"]);
  await shot(page, "origin-down");
  await delivered(page, [r1.id]);
  assert.equal(down, 0);
  assert.equal(count(ctx.sent).get(r1.id), 4, "three refusals and one delivery, all with the same key");
  await page.unroute("**/v1/signals");

  // The origin records the choice but the reply never arrives (the
  // connection is reset): sent again with the same key, the origin answers
  // with its first reply and writes nothing new.
  let lost = null;
  await page.route("**/v1/signals", async (route) => {
    if (route.request().method() !== "POST" || lost !== null) return route.fallback();
    lost = (await route.fetch()).status();
    return route.abort("connectionreset");
  });
  const r2 = await capture(page, choice("interest", "climbing", "c-down"));
  assert.deepEqual([r2.queued, r2.problem?.code], [true, "network"]);
  await delivered(page, [r2.id]);
  assert.equal(lost, 201, "the origin had recorded the first attempt");
  assert.equal(count(ctx.sent).get(r2.id), 2);
  await page.unroute("**/v1/signals");

  const list = await page.evaluate(() => window.sg.signals());
  assert.deepEqual(list.signals.map((s) => `${s.signal_type}=${s.value}@${s.version}`).sort(),
    ["interest=climbing@1", "interest=hiking@1", "language=en@1"]);
  const caps = await ledgerCaptures(list.subject_id);
  assert.deepEqual(caps.map((e) => `${e.change.signal_type}@${e.change.version}`).sort(), ["interest@1", "interest@1", "language@1"]);
  await shot(page, "origin-back");
  await ctx.close();
});

test("a new visitor's first capture, its reply lost: sent again with the session asked for first, one subject, recorded once", async () => {
  const ctx = await newContext();
  const page = await open(ctx);
  // The origin records the very first capture, but its reply (and any cookie
  // in it) never reaches the browser.
  let lost = null;
  await page.route("**/v1/signals", async (route) => {
    if (route.request().method() !== "POST" || lost !== null) return route.fallback();
    // (route.fetch shares the context's cookie jar: what its reply set is
    // taken back, as a reply that never arrives sets nothing.)
    const jar = await ctx.cookies();
    const resp = await route.fetch();
    lost = { status: resp.status(), body: await resp.json() };
    await ctx.clearCookies();
    await ctx.addCookies(jar);
    return route.abort("connectionreset");
  });
  const r = await capture(page, choice("interest", "yoga", "c-first"));
  assert.deepEqual([r.queued, r.problem?.code], [true, "network"]);
  await delivered(page, [r.id]);
  await page.unroute("**/v1/signals");
  assert.equal(lost?.status, 201, "the origin had recorded the first attempt");
  assert.equal(count(ctx.sent).get(r.id), 2, "sent twice under one key");

  const list = await page.evaluate(() => window.sg.signals());
  assert.equal(list.subject_id, lost.body.subject_id, "the second attempt reached the subject of the first");
  assert.deepEqual(list.signals.map((x) => `${x.signal_type}=${x.value}@${x.version}`), ["interest=yoga@1"]);
  assert.deepEqual((await ledgerCaptures(list.subject_id)).map((e) => `${e.change.signal_type}@${e.change.version}`), ["interest@1"]);
  // Asked again (another page load), the session is the one the browser has.
  const again = await page.evaluate(() => fetch("/v1/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }).then((x) => x.json()));
  assert.deepEqual([again.subject_id, again.created], [list.subject_id, false]);
  await ctx.close();
});

test("two tabs capturing and flushing at once share one queue: every choice sent and recorded exactly once", async () => {
  const ctx = await newContext({ offline: true });
  const [a, b] = [await open(ctx), await open(ctx)];
  // A new visitor in both tabs at once: one tab sends at a time, so the
  // first reply's session cookie is there for every later request and all
  // choices land in one subject.
  const batch = (page, list) => page.evaluate((list) => Promise.all(list.map((c) => window.sg.capture(c))), list);
  const [ra, rb] = await Promise.all([
    batch(a, [choice("interest", "hiking", "c-tabs"), choice("interest", "climbing", "c-tabs"), choice("interest", "camping", "c-tabs")]),
    batch(b, [choice("interest", "cycling", "c-tabs"), choice("interest", "yoga", "c-tabs"), choice("language", "fr", "c-tabs")]),
  ]);
  assert.ok([...ra, ...rb].every((r) => r.delivered), JSON.stringify([...ra, ...rb]));

  // Offline, both tabs queue; back online, both flush at the same moment.
  await ctx.setOffline(true);
  const [qa, qb] = await Promise.all([
    batch(a, [choice("interest", "trail-running", "c-tabs"), choice("contact_channel", "email", "c-tabs")]),
    batch(b, [choice("interest", "road-running", "c-tabs"), choice("price_band", "budget", "c-tabs")]),
  ]);
  assert.ok([...qa, ...qb].every((r) => r.queued));
  assert.equal((await a.evaluate(() => window.sg.pending())).length, 4, "the tabs share one queue");
  await shot(b, "two-tabs-queued");
  await ctx.setOffline(false);
  await Promise.all([a.evaluate(() => window.sg.flush()), b.evaluate(() => window.sg.flush()), a.evaluate(() => window.sg.flush())]);
  const ids = [...ra, ...rb, ...qa, ...qb].map((r) => r.id);
  await Promise.all([delivered(a, ids), delivered(b, ids)]);

  const sent = count(ctx.sent);
  assert.equal(ctx.sent.length, 10, `requests: ${JSON.stringify([...sent])}`);
  assert.ok(ids.every((id) => sent.get(id) === 1), "each choice sent exactly once");
  // Each tab heard of every delivery once: its own, and the other's by BroadcastChannel.
  for (const page of [a, b]) {
    const seen = count((await events(page, "delivered")).map((e) => e.id));
    assert.ok(ids.every((id) => seen.get(id) === 1), JSON.stringify([...seen]));
  }
  const [la, lb] = await Promise.all([a.evaluate(() => window.sg.signals()), b.evaluate(() => window.sg.signals())]);
  assert.equal(la.subject_id, lb.subject_id);
  assert.equal(la.signals.length, 10);
  assert.ok(la.signals.every((s) => s.version === 1), JSON.stringify(la.signals.map((s) => [s.signal_type, s.value, s.version])));
  const caps = await ledgerCaptures(la.subject_id);
  assert.equal(caps.length, 10);
  assert.equal(new Set(caps.map((e) => e.change.signal_id)).size, 10, "no signal has a second version");
  await shot(a, "two-tabs-delivered");
  await ctx.close();
});

test("GPC: local decisions drop the opted-out purpose's segments, and explain says why", async () => {
  const ads = choice("interest", "trail-running", "c-ads", ["personalization", "targeted_advertising"]);
  const purposes = ["personalization", "targeted_advertising"];
  const runners = "sgt_5d1e9a20c4", adRunners = "sgt_c2d9f4e817";

  const plain = await newContext();
  const p = await open(plain);
  assert.equal(await p.evaluate(() => window.sg.gpc), false);
  await capture(p, ads);
  const without = await p.evaluate((purposes) => window.sg.decide({ purposes }), purposes);
  assert.equal(without.tier, "curated");
  assert.deepEqual([...without.segments].sort(), [adRunners, runners].sort());
  await plain.close();

  const ctx = await newContext({ gpc: true });
  const page = await open(ctx);
  assert.equal(await page.evaluate(() => window.sg.gpc), true);
  await capture(page, ads);
  const d = await page.evaluate(async (purposes) => window.show(await window.sg.decide({ purposes })), purposes);
  assert.deepEqual(d, { segments: [runners], tier: "curated" }, "only the page exposure's fields, without the ad segment");

  const ex = await page.evaluate((purposes) => window.sg.explain({ purposes }), purposes);
  assert.deepEqual(ex.context, { purposes, channel: "web", gpc: true });
  assert.deepEqual(ex.decision, d);
  const interest = ex.signals.find((s) => s.class === "interest");
  assert.deepEqual({ value: interest.value, category: interest.category, used_for: interest.used_for, withheld: interest.withheld },
    { value: "trail-running", category: "running", used_for: ["personalization"], withheld: [{ purpose: "targeted_advertising", reason: "gpc_opt_out" }] });
  const seg = Object.fromEntries(ex.segments.map((s) => [s.segment, s]));
  assert.deepEqual(seg["ad-audience-runners"], { segment: "ad-audience-runners", token: adRunners, purpose: "targeted_advertising", outcome: "rule_not_satisfied" });
  assert.equal(seg.runners.outcome, "emitted");
  // Only the visitor's own choices and the public policy: not the bundle's subject or id.
  const bundle = (await ctx.cookies()).find((c) => c.name === "sg_bundle");
  const claims = JSON.parse(Buffer.from(bundle.value.split(".")[1], "base64url").toString());
  const text = JSON.stringify(ex);
  assert.ok(!text.includes(claims.sub) && !text.includes(claims.jti), "subject or bundle id in the explanation");
  // Scripts cannot set Sec-GPC (browsers send their own); the SDK's attempt is harmless.
  assert.ok(ctx.headers.every((h) => h["sec-gpc"] === undefined || h["sec-gpc"] === "1"));
  await shot(page, "gpc");
  await ctx.close();
});

test("an expiring signal fires \"expiring\" once per page load, and reconfirm() clears it", async () => {
  const ctx = await newContext();
  const page = await open(ctx);
  // A price band chosen 15 minutes ago and delivered late (by another
  // client of the origin's API, in this browser's session): within its
  // reconfirmation lead time already.
  const at = Math.floor(Date.now() / 1000) - 900;
  const status = await page.evaluate(async (at) => (await fetch("/v1/signals", { method: "POST", headers: { "Content-Type": "application/json", "Idempotency-Key": "late-price" },
    body: JSON.stringify({ signal_type: "price_band", value: "premium", purpose: "personalization", consent_reference: "c-price",
      source_context: { channel: "web" }, captured_at: at }) })).status, at);
  assert.equal(status, 201);
  // The SDK knows of the session once signals() answered; the next page load checks.
  assert.equal((await page.evaluate(() => window.sg.signals())).signals.length, 1);
  await reload(page);
  await page.waitForFunction(() => window.events.some((e) => e.ev === "expiring"));
  const [fired] = await events(page, "expiring");
  assert.equal(fired.list.length, 1);
  assert.deepEqual({ class: fired.list[0].class, value: fired.list[0].value, deadline: fired.list[0].deadline },
    { class: "price_band", value: "premium", deadline: at + 3600 });
  assert.deepEqual(await page.evaluate(() => window.sg.expiring()), fired.list);
  assert.deepEqual(await page.evaluate(() => window.sg.expiring()), fired.list);
  assert.equal((await events(page, "expiring")).length, 1, "once per page load");
  // A handler added later hears of it too.
  assert.deepEqual(await page.evaluate(() => new Promise((resolve) => window.sg.on("expiring", resolve))), fired.list);
  await shot(page, "expiring");

  const reply = await page.evaluate((id) => window.sg.reconfirm(id), fired.list[0].signal);
  assert.equal(reply.freshness.state, "fresh");
  assert.deepEqual(await page.evaluate(() => window.sg.expiring()), []);
  assert.deepEqual((await page.evaluate(() => window.sg.explain())).expiring, []);
  await reload(page);
  assert.deepEqual(await page.evaluate(() => window.sg.expiring()), []);
  assert.deepEqual(await events(page, "expiring"), []);
  await shot(page, "reconfirmed");
  await ctx.close();
});

test("a browser clock ten minutes fast: the choice is sent again as made now, under a new key, and recorded once", async () => {
  const ctx = await newContext();
  await ctx.addInitScript(() => { const real = Date.now; Date.now = () => real() + 600e3; });
  const page = await open(ctx);
  const r = await capture(page, choice("interest", "cycling", "c-clock"));
  assert.equal(r.delivered, true);
  assert.deepEqual(ctx.sent, [r.id, `${r.id}.now`], "refused for its captured_at, then sent without it");
  const list = await page.evaluate(() => window.sg.signals());
  assert.deepEqual(list.signals.map((s) => `${s.signal_type}=${s.value}@${s.version}`), ["interest=cycling@1"]);
  assert.ok(Math.abs(list.signals[0].captured_at - Date.now() / 1000) < 60, "recorded as made now, by the origin's clock");
  assert.equal((await ledgerCaptures(list.subject_id)).length, 1);
  await ctx.close();
});

test("withdrawing and erasing: queued choices are dropped, never sent afterwards", async () => {
  const ctx = await newContext();
  const page = await open(ctx);
  const hiking = await capture(page, choice("interest", "hiking", "c-a"));
  await capture(page, choice("language", "de", "c-b"));
  assert.deepEqual([...(await page.evaluate(() => window.sg.decide())).segments].sort(), ["sgt_9b2a47d1c8", "sgt_a83f01b7e2"]);

  // Deleting a signal: the local decision follows at once (a fresh bundle).
  await page.evaluate((id) => window.sg.deleteSignal(id), hiking.reply.signal.signal_id);
  assert.deepEqual(await page.evaluate(() => window.sg.decide()), { segments: ["sgt_9b2a47d1c8"], tier: "curated" });
  const pack = await page.evaluate(() => window.sg.evidence());
  assert.equal(typeof pack, "object");
  assert.match(await page.evaluate(() => window.sg.evidence("html")), /<html/i);

  // A choice stuck in the queue (the network fails) when every consent is withdrawn.
  await page.route("**/v1/signals", (route) => (route.request().method() === "POST" ? route.abort("internetdisconnected") : route.fallback()));
  const stuck = await capture(page, choice("interest", "yoga", "c-c"));
  assert.equal(stuck.queued, true);
  const revoked = await page.evaluate(() => window.sg.revokeAll());
  assert.deepEqual(revoked.map((r) => r.consent.consent_id).sort(), ["c-a", "c-b"]);
  assert.deepEqual(await page.evaluate(() => window.sg.pending()), []);
  assert.deepEqual((await events(page, "failed")).map((e) => [e.id, e.code]), [[stuck.id, "consent_revoked"]]);
  await page.unroute("**/v1/signals");
  const sentBefore = ctx.sent.length;
  await page.evaluate(() => window.sg.flush());
  assert.equal(ctx.sent.length, sentBefore, "the withdrawn choice is never sent");
  assert.deepEqual(await page.evaluate(() => window.sg.decide()), { segments: [], tier: "contextual" });
  const list = await page.evaluate(() => window.sg.signals());
  assert.ok(list.consents.every((c) => c.status === "revoked"));
  assert.ok((await ledgerCaptures(list.subject_id)).every((e) => e.change.signal_type !== "interest" || e.change.consent_id !== "c-c"));

  // Erasure: the origin forgets the subject, the browser its queue and bundle.
  await page.route("**/v1/signals", (route) => (route.request().method() === "POST" ? route.abort("internetdisconnected") : route.fallback()));
  assert.equal((await capture(page, choice("interest", "camping", "c-d"))).queued, true);
  const erased = await page.evaluate(() => window.sg.erase());
  assert.equal(erased.status, "erased");
  await page.unroute("**/v1/signals");
  assert.deepEqual(await page.evaluate(() => window.sg.pending()), []);
  assert.deepEqual(await page.evaluate(() => window.sg.signals()), { subject_id: null, signals: [], consents: [] });
  assert.deepEqual((await events(page, "bundle")).at(-1).bundle, null);
  assert.deepEqual(await page.evaluate(() => window.sg.decide()), { segments: [], tier: "generic" });
  await shot(page, "erased");
  await ctx.close();
});
