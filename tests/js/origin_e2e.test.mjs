// The origin (the signal ledger on Durable Objects) and the gate together in
// real workerd (wrangler dev, two Workers bound as ORIGIN): browser sessions
// and API keys, tenant boundaries, idempotency (duplicate and concurrent),
// late arrivals, expiry by alarm, a crash between writes, a tampered chain,
// bad input, random operation sequences, and revocation reaching the gate
// within one second.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import * as jose from "jose";
import { startWorker, startOrigin, originStack, call as rawCall, pageParts, waitForLog } from "./helpers.mjs";
import { checkResponse, checkRequest } from "./openapi.mjs";

const GERMAN = "sgt_9b2a47d1c8", RUNNERS = "sgt_5d1e9a20c4";
const stack = originStack({ SG_FAULT_INJECTION: "ledger-crash" });
let w;

before(async () => {
  w = await startWorker(stack.gate, { origin: stack.origin });
});
after(async () => { await w?.stop(); });

// Every origin reply in this file is checked against docs/openapi.json, and
// every JSON body sent is checked against the request schema unless the test
// sends it on purpose as bad input (`bad: true`).
async function call(url, options = {}) {
  const method = options.method ?? "GET";
  const path = new URL(url).pathname;
  if (options.body !== undefined && typeof options.body !== "string" && !options.bad && path.startsWith("/v1/")) {
    await checkRequest(method, url, options.body);
  }
  const reply = await rawCall(url, options);
  if (path.startsWith("/v1/") || path === "/.well-known/jwks.json") await checkResponse(method, url, reply);
  return reply;
}

const capture = (type, value, consent, extra = {}) => ({
  signal_type: type, value, purpose: "personalization", consent_reference: consent,
  source_context: { channel: "web", ui: "preference-centre", page: "/account" }, ...extra,
});
const admin = { Authorization: `Bearer ${stack.admin}` };

async function apiKey(tenant, base = w.url) {
  const r = await call(`${base}/v1/admin/api-keys`, { method: "POST", headers: admin, body: { tenant, label: "tests" } });
  assert.equal(r.status, 201, r.text);
  return { Authorization: `Bearer ${r.body.api_key}` };
}

async function verify(tenant, subject, base = w.url) {
  const r = await call(`${base}/v1/admin/subjects/${subject}/verify?tenant=${tenant}`, { method: "POST", headers: admin });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

const cookieOf = (r) => Object.entries(r.cookies).map(([k, v]) => `${k}=${v}`).join("; ");

test("a browser's first capture creates its subject and session; the next page is curated", async () => {
  const r = await call(`${w.url}/v1/signals`, { method: "POST", body: capture("language", "Deutsch", "c-lang") });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.signal.value, "de");
  assert.match(r.body.subject_id, /^s_[A-Za-z0-9_-]{22}$/);
  const setCookies = r.headers.getSetCookie();
  const session = setCookies.find((c) => c.startsWith("sg_session="));
  const bundle = setCookies.find((c) => c.startsWith("sg_bundle="));
  for (const c of [session, bundle]) {
    assert.match(c, /; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/, c);
  }
  assert.ok(bundle.length < 4096, `bundle cookie of ${bundle.length} bytes`);
  // The bundle verifies with an independent JOSE library against the origin's published keys.
  const jwks = jose.createLocalJWKSet(await (await fetch(`${w.url}/.well-known/jwks.json`)).json());
  const { payload } = await jose.compactVerify(r.cookies.sg_bundle, jwks);
  const claims = JSON.parse(new TextDecoder().decode(payload));
  assert.equal(claims.sub, r.body.subject_id);
  assert.equal(claims.sig[0].prv, r.body.signal.provenance_hash);
  // The next page through the gate is curated with the German speakers' block.
  const page = pageParts(await (await fetch(`${w.url}/`, { headers: { Cookie: cookieOf(r) } })).text());
  assert.deepEqual(page.decision, { segments: [GERMAN], tier: "curated" });
  // The session reads only its own subject.
  const mine = await call(`${w.url}/v1/signals`, { cookie: cookieOf(r) });
  assert.equal(mine.status, 200);
  assert.equal(mine.body.subject_id, r.body.subject_id);
  assert.equal(mine.body.signals.length, 1);
  // Without a session nothing can be read.
  assert.equal((await call(`${w.url}/v1/signals`)).status, 401);
});

test("POST /v1/session: a new browser's session before its first capture, then the same one; browsers only", async () => {
  const fresh = await call(`${w.url}/v1/session`, { method: "POST", body: {} });
  assert.equal(fresh.status, 200, fresh.text);
  assert.equal(fresh.body.created, true);
  assert.ok(fresh.cookies.sg_session, "the session cookie is set");
  assert.ok(!fresh.cookies.sg_bundle, "no bundle: nothing was captured");
  const cookie = cookieOf(fresh);
  // Asked again with the cookie: the same subject, no new cookie.
  const again = await call(`${w.url}/v1/session`, { method: "POST", cookie });
  assert.deepEqual([again.status, again.body.subject_id, again.body.created], [200, fresh.body.subject_id, false]);
  assert.equal(again.headers.getSetCookie().length, 0);
  // Nothing is stored until the first capture, which lands in that subject.
  const empty = await call(`${w.url}/v1/signals`, { cookie });
  assert.deepEqual([empty.status, empty.body.subject_id, empty.body.signals.length], [200, fresh.body.subject_id, 0]);
  const first = await call(`${w.url}/v1/signals`, { method: "POST", cookie, body: capture("interest", "hiking", "c-s") });
  assert.deepEqual([first.status, first.body.subject_id], [201, fresh.body.subject_id]);
  // Refused: a body with members, another site, an API key, another method.
  const members = await call(`${w.url}/v1/session`, { method: "POST", body: { subject_id: "u-1" }, bad: true });
  assert.equal(members.status, 400);
  assert.match(members.body.detail, /subject_id/);
  const crossSite = await call(`${w.url}/v1/session`, { method: "POST", body: {}, headers: { Origin: "https://evil.example" } });
  assert.equal(crossSite.status, 403);
  assert.equal(crossSite.headers.getSetCookie().length, 0);
  const service = await call(`${w.url}/v1/session`, { method: "POST", body: {}, headers: await apiKey("demo-shop") });
  assert.equal(service.status, 403);
  const get = await call(`${w.url}/v1/session`);
  assert.deepEqual([get.status, get.headers.get("allow")], [405, "POST"]);
});

test("browser writes must be JSON and same-origin", async () => {
  const first = await call(`${w.url}/v1/signals`, { method: "POST", body: capture("interest", "hiking", "c-x") });
  const cookie = cookieOf(first);
  const crossSite = await call(`${w.url}/v1/signals`, { method: "POST", cookie, body: capture("interest", "yoga", "c-x"), headers: { Origin: "https://evil.example" } });
  assert.equal(crossSite.status, 403);
  const form = await call(`${w.url}/v1/signals`, { method: "POST", cookie, body: JSON.stringify(capture("interest", "yoga", "c-x")), headers: { "Content-Type": "text/plain" } });
  assert.equal(form.status, 403);
  assert.equal(form.headers.get("content-type"), "application/problem+json");
  const list = await call(`${w.url}/v1/signals`, { cookie });
  assert.equal(list.body.signals.length, 1, "nothing was written by the refused requests");
});

test("an API key acts only for its tenant: tenant A's key never reads or writes tenant B", async () => {
  const a = await apiKey("demo-shop");
  const b = await apiKey("other-shop");
  const written = await call(`${w.url}/v1/signals`, { method: "POST", headers: a, body: capture("interest", "hiking", "c-1", { subject_id: "u-shared" }) });
  assert.equal(written.status, 201, written.text);
  assert.equal(written.body.bundle.signals, 1);
  // B names the same subject id: it reaches B's subject, which has nothing.
  const read = await call(`${w.url}/v1/signals?subject_id=u-shared`, { headers: b });
  assert.equal(read.status, 200);
  assert.deepEqual(read.body.signals, []);
  const bWrite = await call(`${w.url}/v1/signals`, { method: "POST", headers: b, body: capture("interest", "yoga", "c-1", { subject_id: "u-shared" }) });
  assert.equal(bWrite.status, 201);
  const aRead = await call(`${w.url}/v1/signals?subject_id=u-shared`, { headers: a });
  assert.deepEqual(aRead.body.signals.map((s) => s.value), ["hiking"], "B's write never reached A's subject");
  // A forged or unknown key is refused and changes nothing.
  const forged = { Authorization: `${a.Authorization.slice(0, -4)}AAAA` };
  assert.equal((await call(`${w.url}/v1/signals?subject_id=u-shared`, { headers: forged })).status, 401);
  assert.equal((await call(`${w.url}/v1/signals`, { method: "POST", headers: a, body: capture("interest", "yoga", "c-1") })).body.field, "subject_id");
  // The admin endpoints need the admin token.
  assert.equal((await call(`${w.url}/v1/admin/api-keys`, { method: "POST", body: { tenant: "demo-shop" } })).status, 401);
  assert.equal((await verify("demo-shop", "u-shared")).events, 3);
});

test("an idempotency key: the first reply again, another body refused, concurrent duplicates one version", async () => {
  const key = await apiKey("demo-shop");
  const body = capture("interest", "climbing", "c-1", { subject_id: "u-idem" });
  const headers = { ...key, "Idempotency-Key": "req-1" };
  const first = await call(`${w.url}/v1/signals`, { method: "POST", headers, body });
  const again = await call(`${w.url}/v1/signals`, { method: "POST", headers, body });
  assert.equal(first.status, 201);
  assert.equal(again.text, first.text, "the same reply, bundle and all");
  const other = await call(`${w.url}/v1/signals`, { method: "POST", headers, body: { ...body, value: "yoga" } });
  assert.equal(other.status, 422);
  assert.equal(other.body.code, "idempotency_mismatch");
  // Eight at once with a new key: one version, every success the same reply.
  const concurrent = { ...key, "Idempotency-Key": "req-2" };
  const body2 = capture("interest", "cycling", "c-1", { subject_id: "u-idem" });
  const replies = await Promise.all(Array.from({ length: 8 }, () => call(`${w.url}/v1/signals`, { method: "POST", headers: concurrent, body: body2 })));
  const ok = replies.filter((r) => r.status === 201);
  assert.ok(ok.length >= 1);
  assert.ok(ok.every((r) => r.text === ok[0].text));
  assert.ok(replies.every((r) => r.status === 201 || r.status === 409), replies.map((r) => r.status).join(","));
  const list = await call(`${w.url}/v1/signals?subject_id=u-idem`, { headers: key });
  assert.deepEqual(list.body.signals.map((s) => s.value).sort(), ["climbing", "cycling"]);
  const v = await verify("demo-shop", "u-idem");
  assert.equal(v.events, 5, "consent + 2 signals + 2 bundles");
  assert.ok(v.chain_ok && v.projection_matches);
});

test("a late-arriving update is kept as history and never replaces a newer choice", async () => {
  const key = await apiKey("demo-shop");
  const now = Math.floor(Date.now() / 1000);
  await call(`${w.url}/v1/signals`, { method: "POST", headers: key, body: capture("language", "fr", "c-1", { subject_id: "u-late" }) });
  const late = await call(`${w.url}/v1/signals`, { method: "POST", headers: key, body: capture("language", "de", "c-1", { subject_id: "u-late", captured_at: now - 3600 }) });
  assert.equal(late.status, 201);
  assert.equal(late.body.signal.value, "fr");
  assert.equal(late.body.late.version, 2);
});

test("signals expire on time, by the subject's alarm", async () => {
  const policy = JSON.parse(stack.origin.SG_POLICY);
  policy.classes.price_band.ttl = "2s";
  policy.classes.price_band.retention = "180d";
  policy.classes.price_band.reconfirm_lead = "1s";
  const short = originStack({ SG_POLICY: JSON.stringify(policy) });
  const s = await startWorker({ ...short.gate, SG_POLICY: JSON.stringify(policy) }, { origin: short.origin });
  try {
    const r = await call(`${s.url}/v1/signals`, { method: "POST", body: capture("price_band", "premium", "c-1") });
    assert.equal(r.status, 201, r.text);
    const cookie = cookieOf(r);
    assert.equal((await call(`${s.url}/v1/signals`, { cookie })).body.signals.length, 1);
    await new Promise((res) => setTimeout(res, 3500));
    const after = await call(`${s.url}/v1/signals`, { cookie });
    assert.deepEqual(after.body.signals, [], "expired");
    const v = await call(`${s.url}/v1/admin/subjects/${r.body.subject_id}/verify?tenant=demo-shop`, { method: "POST", headers: { Authorization: `Bearer ${short.admin}` } });
    assert.equal(v.body.events, 4, "consent, signal, bundle, signal_expired (raised by the alarm)");
  } finally {
    await s.stop();
  }
});

test("revoking a consent reaches the gate within one second, and the revoking caller gets a bundle without it", async () => {
  const key = await apiKey("demo-shop");
  const one = await call(`${w.url}/v1/signals`, { method: "POST", headers: key, body: capture("interest", "trail-running", "c-run", { subject_id: "u-rev" }) });
  const old = one.body.bundle.token;
  const page = async (token) => pageParts(await (await fetch(`${w.url}/`, { headers: { Cookie: `sg_bundle=${token}` } })).text());
  assert.deepEqual((await page(old)).segments, [RUNNERS]);
  const revoked = await call(`${w.url}/v1/consents/c-run/revoke`, { method: "POST", headers: key, body: { subject_id: "u-rev", justification: "user_request" } });
  const at = Date.now();
  assert.equal(revoked.status, 200, revoked.text);
  assert.equal(revoked.body.revoked_bundles[0].bundle_id, one.body.bundle.bundle_id);
  assert.equal(revoked.body.bundle.signals, 0, "the new bundle carries nothing of the revoked consent");
  let elapsed = null;
  while (Date.now() - at < 3000) {
    if ((await page(old)).segments.length === 0) { elapsed = Date.now() - at; break; }
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(elapsed !== null && elapsed <= 1000, `the gate refused the revoked bundle after ${elapsed} ms`);
  assert.ok(await waitForLog(w, /"reason":"revoked"/), "logged as revoked");
  console.log(`    revocation reached the gate in ${elapsed} ms`);
});

test("a crash between writes leaves no partial event and no projection drift", async () => {
  // Sg-Test-* headers are for the origin's own tests, and a gate never
  // forwards them: this test talks to the origin directly.
  const o = await startOrigin(stack.origin);
  try {
    const key = await apiKey("demo-shop", o.url);
    await call(`${o.url}/v1/signals`, { method: "POST", headers: key, body: capture("language", "en", "c-1", { subject_id: "u-crash" }) });
    const before = await verify("demo-shop", "u-crash", o.url);
    for (const n of [1, 3, 5]) {
      const r = await call(`${o.url}/v1/signals`, { method: "POST", headers: { ...key, "Sg-Test-Crash-After": String(n) }, body: capture("interest", "yoga", "c-2", { subject_id: "u-crash" }) });
      assert.equal(r.status, 500, r.text);
      assert.equal(r.body.code, "storage");
      const v = await verify("demo-shop", "u-crash", o.url);
      assert.equal(v.events, before.events, `crash after ${n} statements: no partial event`);
      assert.ok(v.chain_ok && v.projection_matches);
    }
    const ok = await call(`${o.url}/v1/signals`, { method: "POST", headers: key, body: capture("interest", "yoga", "c-2", { subject_id: "u-crash" }) });
    assert.equal(ok.status, 201);
  } finally {
    await o.stop();
  }
});

/** The SQLite file of the Durable Object holding `subject`'s ledger. */
function ledgerFile(dir, subject) {
  const root = join(dir, "state", "v3", "do");
  for (const folder of readdirSync(root).filter((f) => f.includes("SubjectLedger"))) {
    for (const file of readdirSync(join(root, folder)).filter((f) => f.endsWith(".sqlite"))) {
      const path = join(root, folder, file);
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        if (db.prepare("SELECT 1 FROM events WHERE subject_id = ? LIMIT 1").get(subject)) return path;
      } catch { /* not a ledger */ } finally { db.close(); }
    }
  }
  return null;
}

test("tampering with a stored event is found, with the index of the first bad event", async () => {
  const key = await apiKey("demo-shop");
  for (const value of ["hiking", "yoga", "cycling"]) {
    await call(`${w.url}/v1/signals`, { method: "POST", headers: key, body: capture("interest", value, "c-1", { subject_id: "u-tamper" }) });
  }
  assert.ok((await verify("demo-shop", "u-tamper")).chain_ok);
  const file = ledgerFile(w.dir, "u-tamper");
  assert.ok(file && existsSync(file), "found the object's database");
  const db = new DatabaseSync(file);
  // Events hold a salted digest of the value, never the value (erasure must
  // leave the chain intact): tamper with what the capture event does hold.
  const payload = () => db.prepare("SELECT payload FROM events WHERE seq = 4").get().payload;
  const before = payload();
  assert.match(before, /"op":"signal_captured"/);
  db.prepare(`UPDATE events SET payload = replace(payload, '"preference-centre"', '"checkout"') WHERE seq = 4`).run();
  assert.notEqual(payload(), before, "the stored event was changed");
  db.close();
  const v = await verify("demo-shop", "u-tamper");
  assert.equal(v.chain_ok, false);
  assert.equal(v.first_bad_index, 3);
  assert.equal(v.first_bad_seq, 4);
});

test("bad input gets a problem naming the field, and stores nothing", async () => {
  const key = await apiKey("demo-shop");
  const good = capture("language", "de", "c-1", { subject_id: "u-bad" });
  const without = (f) => { const b = { ...good }; delete b[f]; return b; };
  const cases = [
    ["malformed JSON", '{"signal_type": ', 400, "malformed_body", undefined],
    ["unknown class", { ...good, signal_type: "shoe_size" }, 422, "unknown_class", "signal_type"],
    ["free text", { ...good, value: "I speak a bit of everything, honestly" }, 422, "value_not_in_vocabulary", "value"],
    ["oversized body", { ...good, value: "x".repeat(20000) }, 413, "body_too_large", undefined],
    ["missing consent reference", without("consent_reference"), 422, "missing_field", "consent_reference"],
    ["unknown member", { ...good, note: "hello" }, 400, "malformed_body", undefined],
  ];
  for (const [name, body, status, code, field] of cases) {
    const r = await call(`${w.url}/v1/signals`, { method: "POST", headers: key, body, bad: true });
    assert.equal(r.status, status, `${name}: ${r.text}`);
    assert.equal(r.headers.get("content-type"), "application/problem+json", name);
    assert.equal(r.body.type, `urn:signalgate:problem:${code}`, name);
    assert.equal(r.body.field, field, name);
    assert.doesNotMatch(r.text, /everything, honestly/, "free text is never echoed");
  }
  const wrongTenantKey = await apiKey("other-shop");
  assert.deepEqual((await call(`${w.url}/v1/signals?subject_id=u-bad`, { headers: wrongTenantKey })).body.signals, []);
  const v = await call(`${w.url}/v1/admin/subjects/u-bad/verify?tenant=demo-shop`, { method: "POST", headers: admin });
  assert.equal(v.body.events, 0, "nothing stored");
});

test("HTTP details: 405 names the allowed methods, 401 says how to authenticate, servers get no cookies, the feed answers its head", async () => {
  for (const [method, path, allow] of [["POST", "/.well-known/jwks.json", "GET"], ["DELETE", "/v1/signals", "GET, POST"], ["GET", "/v1/admin/api-keys", "POST"], ["PUT", "/v1/tenants/demo-shop/revocations", "GET"]]) {
    const r = await call(`${w.url}${path}`, { method });
    assert.equal(r.status, 405, `${method} ${path}`);
    assert.equal(r.headers.get("allow"), allow, `${method} ${path}`);
  }
  const basic = await call(`${w.url}/v1/signals?subject_id=u-1`, { headers: { Authorization: "Basic dXNlcjpwYXNz" } });
  assert.equal(basic.status, 401);
  assert.equal(basic.headers.get("www-authenticate"), 'Bearer realm="signalgate"');
  const key = await apiKey("demo-shop");
  const bare = await call(`${w.url}/v1/signals?subject_id=u-1`, { headers: { Authorization: key.Authorization.replace("Bearer ", "") } });
  assert.equal(bare.status, 401, "a token without its scheme is refused");
  const written = await call(`${w.url}/v1/signals`, { method: "POST", headers: key, body: capture("interest", "hiking", "c-1", { subject_id: "u-http" }) });
  assert.equal(written.status, 201);
  assert.deepEqual(written.headers.getSetCookie(), [], "a server caller gets the bundle in the body, not as a cookie");
  assert.ok(written.body.bundle.token);
  const badQuery = await call(`${w.url}/v1/signals?subject_id=${encodeURIComponent("not an id")}`, { headers: key });
  assert.deepEqual([badQuery.status, badQuery.body.code, badQuery.body.field], [422, "invalid_field", "subject_id"]);
  const other = await call(`${w.url}/v1/bundles`, { method: "POST", headers: key, body: { subject_id: "u-http", audience: "x" }, bad: true });
  assert.deepEqual([other.status, other.body.code], [400, "malformed_body"]);
  const label = await call(`${w.url}/v1/admin/api-keys`, { method: "POST", headers: admin, body: { tenant: "demo-shop", label: "has spaces" }, bad: true });
  assert.deepEqual([label.status, label.body.field], [422, "label"]);
  const head = (await call(`${w.url}/v1/tenants/demo-shop/revocations`)).body.seq;
  const ahead = await call(`${w.url}/v1/tenants/demo-shop/revocations?since=${head + 1000}`);
  assert.equal(ahead.body.seq, head, "a reader past the head is brought back to it");
});

test("random operation sequences keep the chain verifying and the projection rebuilt exactly", async () => {
  const key = await apiKey("demo-shop");
  let seed = 0x5eed;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const values = { interest: ["hiking", "yoga", "cycling", "climbing"], language: ["en", "de", "Français", "nl"], price_band: ["budget", "mid", "premium"] };
  const classes = Object.keys(values);
  const subjects = ["u-prop-0", "u-prop-1", "u-prop-2"];
  for (let i = 0; i < 60; i++) {
    const subject = subjects[rnd(3)];
    const op = rnd(10);
    if (op < 6) {
      const cls = classes[rnd(3)];
      await call(`${w.url}/v1/signals`, { method: "POST", headers: { ...key, "Idempotency-Key": `p-${rnd(20)}` }, body: capture(cls, values[cls][rnd(values[cls].length)], `c-${rnd(3)}`, { subject_id: subject }) });
    } else if (op < 8) {
      const list = await call(`${w.url}/v1/signals?subject_id=${subject}`, { headers: key });
      const s = list.body.signals[rnd(Math.max(1, list.body.signals.length))];
      if (s) await call(`${w.url}/v1/signals/${s.signal_id}/reconfirm`, { method: "POST", headers: key, body: { subject_id: subject } });
    } else if (op < 9) {
      await call(`${w.url}/v1/consents/c-${rnd(3)}/revoke`, { method: "POST", headers: key, body: { subject_id: subject } });
    } else {
      await call(`${w.url}/v1/bundles`, { method: "POST", headers: key, body: { subject_id: subject } });
    }
  }
  for (const subject of subjects) {
    const v = await verify("demo-shop", subject);
    assert.ok(v.events > 0, subject);
    assert.ok(v.chain_ok, `${subject}: ${v.problem}`);
    assert.ok(v.projection_matches, `${subject}: replay changed the projection`);
  }
});
