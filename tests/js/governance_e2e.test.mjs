// Governance on the origin in real workerd (wrangler dev; the gate and the
// origin Worker bound as ORIGIN, every subject and tenant directory a
// Durable Object with SQLite storage): merges across Durable Objects
// (repeated, conflicting, reviewed, split back), a browser following its
// merged subject, erasure with the proof of suppression in a signed
// evidence pack that verifies with jose and the published key set, roles,
// a retention end and revoke-then-retain by the subject's alarm, a
// retention lock, a tampered ciphertext found, and webhooks to a target
// that is down then back, verified by the independent npm
// `standardwebhooks` package.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readdirSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import * as jose from "jose";
import { Webhook } from "standardwebhooks";
import Ajv2020 from "ajv/dist/2020.js";
import { startWorker, originStack, call, ROOT } from "./helpers.mjs";

// A short-lived class for the alarm tests: price_band lives 3 s and is kept 6 s.
const policy = JSON.parse(readFileSync(join(ROOT, "www", "policy.json"), "utf8"));
policy.classes.price_band.ttl = "3s";
policy.classes.price_band.retention = "6s";
policy.classes.price_band.reconfirm_lead = "1s";
const POLICY = JSON.stringify(policy);
const METRICS_TOKEN = "gate-metrics-token-0123456789";
const stack = originStack({ SG_POLICY: POLICY }, { SG_POLICY: POLICY, SG_METRICS_TOKEN: METRICS_TOKEN });
const admin = { Authorization: `Bearer ${stack.admin}` };
let w;

before(async () => { w = await startWorker(stack.gate, { origin: stack.origin }); });
after(async () => { await w?.stop(); });

const capture = (type, value, consent, extra = {}) => ({
  signal_type: type, value, purpose: "personalization", consent_reference: consent,
  source_context: { channel: "web" }, ...extra,
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function apiKey(role = "service") {
  const r = await call(`${w.url}/v1/admin/api-keys`, { method: "POST", headers: admin, body: { tenant: "demo-shop", label: "tests", role } });
  assert.equal(r.status, 201, r.text);
  return { Authorization: `Bearer ${r.body.api_key}` };
}
const values = (r) => r.body.signals.map((s) => `${s.signal_type}=${s.value}`).sort();
const cookieOf = (r) => Object.entries(r.cookies).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join("; ");

test("a merge across Durable Objects: repeated is one merge, conflicting is refused, the browser follows it", async () => {
  const key = await apiKey();
  // The source is a browser's anonymous subject.
  const first = await call(`${w.url}/v1/signals`, { method: "POST", body: capture("interest", "hiking", "c-a") });
  assert.equal(first.status, 201, first.text);
  const anon = first.body.subject_id;
  const browser = cookieOf(first);
  await call(`${w.url}/v1/signals`, { method: "POST", headers: key, body: capture("interest", "yoga", "c-u", { subject_id: "u-merge" }) });
  const r = await call(`${w.url}/v1/identity/merges`, { method: "POST", headers: key, body: { source: anon, target: "u-merge", evidence: ["login"] } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.merge.state, "merged");
  const list = await call(`${w.url}/v1/signals?subject_id=u-merge`, { headers: key });
  assert.deepEqual(values(list), ["interest=hiking", "interest=yoga"]);
  // Again: the same merge, nothing new.
  const again = await call(`${w.url}/v1/identity/merges`, { method: "POST", headers: key, body: { source: anon, target: "u-merge", evidence: ["login"] } });
  assert.equal(again.body.merge.merge_id, r.body.merge.merge_id);
  const other = await call(`${w.url}/v1/identity/merges`, { method: "POST", headers: key, body: { source: anon, target: "u-else", evidence: ["login"] } });
  assert.equal(other.status, 409);
  assert.equal(other.body.code, "merge_conflict");
  // The browser still holds the source's session: its next capture lands on the target, with a new session.
  const next = await call(`${w.url}/v1/signals`, { method: "POST", cookie: browser, body: capture("interest", "camping", "c-a") });
  assert.equal(next.status, 201, next.text);
  assert.equal(next.body.subject_id, "u-merge");
  assert.ok(Object.keys(next.cookies).some((k) => k.endsWith("sg_session")), "a session for the target");
  const after = await call(`${w.url}/v1/signals?subject_id=u-merge`, { headers: key });
  assert.deepEqual(values(after), ["interest=camping", "interest=hiking", "interest=yoga"]);
});

test("a merge below the threshold waits for review; approved it is carried out, then split back", async () => {
  const identity = await apiKey("service");
  await call(`${w.url}/v1/signals`, { method: "POST", headers: identity, body: capture("language", "de", "c-s", { subject_id: "s-rev" }) });
  await call(`${w.url}/v1/signals`, { method: "POST", headers: identity, body: capture("language", "fr", "c-t", { subject_id: "t-rev" }) });
  const r = await call(`${w.url}/v1/identity/merges`, { method: "POST", headers: identity, body: { source: "s-rev", target: "t-rev", evidence: ["device"] } });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.body.merge.state, "review");
  const queue = await call(`${w.url}/v1/identity/merges?state=review`, { headers: identity });
  assert.ok(queue.body.merges.some((m) => m.merge_id === r.body.merge.merge_id));
  // An operator decides the review (the admin token names the tenant in the query).
  const ok = await call(`${w.url}/v1/identity/merges/${r.body.merge.merge_id}/approve?tenant=demo-shop`, { method: "POST", headers: admin, body: { note: "same_person" } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.merge.state, "merged");
  assert.equal(ok.body.merge.decided_by, "admin");
  const merged = await call(`${w.url}/v1/signals?subject_id=t-rev`, { headers: identity });
  assert.equal(merged.body.signals.length, 1, "one language: the rules kept one");
  const split = await call(`${w.url}/v1/identity/merges/${r.body.merge.merge_id}/split`, { method: "POST", headers: identity });
  assert.equal(split.status, 200, split.text);
  assert.equal(split.body.merge.state, "split");
  assert.deepEqual(values(await call(`${w.url}/v1/signals?subject_id=t-rev`, { headers: identity })), ["language=fr"]);
  assert.deepEqual(values(await call(`${w.url}/v1/signals?subject_id=s-rev`, { headers: identity })), ["language=de"], "the source has its own back");
});

test("roles: each key sees the fields its role gives and may do what its role allows", async () => {
  const service = await apiKey("service");
  await call(`${w.url}/v1/signals`, { method: "POST", headers: service, body: capture("interest", "climbing", "c-1", { subject_id: "u-role" }) });
  const engine = await apiKey("engine");
  const seen = await call(`${w.url}/v1/signals?subject_id=u-role`, { headers: engine });
  assert.deepEqual(Object.keys(seen.body.signals[0]).sort(), ["category", "expires_at", "freshness", "signal_id", "signal_type"]);
  assert.equal(seen.body.consents, undefined);
  const write = await call(`${w.url}/v1/signals`, { method: "POST", headers: engine, body: capture("interest", "yoga", "c-1", { subject_id: "u-role" }) });
  assert.equal(write.status, 403, "the engine may not write");
  assert.equal((await call(`${w.url}/v1/subjects/u-role/history`, { headers: engine })).status, 403);
  const audit = await apiKey("audit");
  const history = await call(`${w.url}/v1/subjects/u-role/history`, { headers: audit });
  assert.equal(history.status, 200, history.text);
  assert.equal(history.body.chain_ok, true);
  assert.ok(!history.text.includes('"climbing"'), "the chain holds digests, not values");
  const bad = await call(`${w.url}/v1/admin/api-keys`, { method: "POST", headers: admin, body: { tenant: "demo-shop", role: "superuser" } });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.field, "role");
});

test("a subject erases itself: every value gone, the signed evidence pack shows the proof and verifies with the key set", async () => {
  const r = await call(`${w.url}/v1/signals`, { method: "POST", body: capture("interest", "trail-running", "c-e") });
  const cookie = cookieOf(r);
  const subject = r.body.subject_id;
  await call(`${w.url}/v1/signals`, { method: "POST", cookie, body: capture("health_goal", "injury-recovery", "c-h") });
  const own = await call(`${w.url}/v1/subjects/me/evidence?format=json`, { cookie });
  assert.equal(own.status, 200, own.text);
  assert.ok(own.text.includes("trail-running"), "a subject's own pack shows what was collected");
  const erased = await call(`${w.url}/v1/subjects/me/delete`, { method: "POST", cookie, body: { erase: true, reason: "user_request" } });
  assert.equal(erased.status, 200, erased.text);
  assert.equal(erased.body.status, "erased");
  assert.ok(Object.values(erased.cookies).every((v) => v === ""), "the browser forgets its session and bundle");
  assert.equal((await call(`${w.url}/v1/signals`, { cookie })).status, 410, "the old session finds a deleted subject");
  // The operator's pack: signed, verifiable offline with the published JWKS.
  const jws = await (await fetch(`${w.url}/v1/admin/subjects/${subject}/evidence?tenant=demo-shop`, { headers: admin })).text();
  const jwks = jose.createLocalJWKSet(await (await fetch(`${w.url}/.well-known/jwks.json`)).json());
  const { payload, protectedHeader } = await jose.compactVerify(jws, jwks);
  assert.equal(protectedHeader.typ, "signalgate-evidence+jws");
  const text = new TextDecoder().decode(payload);
  const pack = JSON.parse(text);
  assert.ok(!text.includes("trail-running") && !text.includes("injury-recovery"), "no erased value in the pack");
  assert.equal(pack.erasures[0].reason, "subject_request");
  assert.equal(pack.chain.verified, true);
  const ajv = new Ajv2020({ strict: false });
  const valid = ajv.compile(JSON.parse(readFileSync(join(ROOT, "docs", "evidence-pack.schema.json"), "utf8")));
  assert.ok(valid(pack), JSON.stringify(valid.errors));
  const html = await (await fetch(`${w.url}/v1/admin/subjects/${subject}/evidence?tenant=demo-shop&format=html`, { headers: admin })).text();
  assert.match(html, /proof of suppression/i);
  assert.doesNotMatch(html, /trail-running/);
});

/** The SQLite file of one Durable Object of the origin, found by a table's content. */
function objectDb(where) {
  const root = join(w.dir, "state", "v3", "do");
  for (const dir of readdirSync(root)) {
    for (const f of readdirSync(join(root, dir)).filter((f) => f.endsWith(".sqlite"))) {
      const file = join(root, dir, f);
      const db = new DatabaseSync(file);
      try {
        if (db.prepare(where.sql).get(...where.args)) return { db, file };
      } catch { /* another kind of object */ }
      db.close();
    }
  }
  return null;
}

test("a tampered ciphertext is found: the subject's reads fail with an integrity problem", async () => {
  const key = await apiKey();
  await call(`${w.url}/v1/signals`, { method: "POST", headers: key, body: capture("health_goal", "weight-loss", "c-1", { subject_id: "u-cipher" }) });
  const found = objectDb({ sql: "SELECT 1 FROM signal_values WHERE subject_id = ? AND value LIKE 'v1.%'", args: ["u-cipher"] });
  assert.ok(found, "the encrypted value is in the subject's storage");
  const { db } = found;
  const row = db.prepare("SELECT signal_id, value FROM signal_values WHERE subject_id = 'u-cipher'").get();
  assert.ok(!row.value.includes("weight-loss"), "stored encrypted");
  const flipped = row.value.slice(0, -2) + (row.value.endsWith("AA") ? "BB" : "AA");
  db.prepare("UPDATE signal_values SET value = ? WHERE signal_id = ?").run(flipped, row.signal_id);
  db.close();
  const r = await call(`${w.url}/v1/signals?subject_id=u-cipher`, { headers: key });
  assert.equal(r.status, 500);
  assert.equal(r.body.code, "integrity");
});

test("retention: a revoked consent's value is kept until its retention ends, then erased by the alarm; a lock defers it", async () => {
  const key = await apiKey();
  for (const s of ["u-ret", "u-lock"]) {
    await call(`${w.url}/v1/signals`, { method: "POST", headers: key, body: capture("price_band", "premium", "c-p", { subject_id: s }) });
    const revoked = await call(`${w.url}/v1/consents/c-p/revoke`, { method: "POST", headers: key, body: { subject_id: s } });
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal(revoked.body.propagated, true);
  }
  const lock = await call(`${w.url}/v1/admin/subjects/u-lock/lock?tenant=demo-shop`, { method: "POST", headers: admin,
    body: { until: Math.floor(Date.now() / 1000) + 3600, reason: "legal_hold" } });
  assert.equal(lock.status, 200, lock.text);
  const held = (s) => {
    const found = objectDb({ sql: "SELECT 1 FROM signals WHERE subject_id = ?", args: [s] });
    const n = found.db.prepare("SELECT COUNT(*) AS n FROM signal_values WHERE subject_id = ?").get(s).n;
    found.db.close();
    return n;
  };
  assert.equal(held("u-ret"), 1, "retained after the revocation (suppressed, not erased)");
  await sleep(8000); // retention is 6 s from capture; the subject's alarm erases it
  assert.equal(held("u-ret"), 0, "erased by the alarm when its retention ended");
  assert.equal(held("u-lock"), 1, "the legal hold keeps it");
  const pack = await call(`${w.url}/v1/admin/subjects/u-ret/evidence?tenant=demo-shop&format=json`, { headers: admin });
  assert.equal(pack.body.erasures[0].reason, "retention_end");
  await call(`${w.url}/v1/admin/subjects/u-lock/unlock?tenant=demo-shop`, { method: "POST", headers: admin });
  const run = await call(`${w.url}/v1/admin/subjects/u-lock/maintain?tenant=demo-shop`, { method: "POST", headers: admin });
  assert.equal(run.body.erased, 1, run.text);
});

test("webhooks reach a target that was down, once each after de-duplication, verified by the standardwebhooks package", async () => {
  const seen = new Map();
  let refused = 0;
  let secret = null;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => { body += d; });
    req.on("end", () => {
      // Down for each message's first delivery.
      const id = req.headers["webhook-id"];
      if (!seen.has(id) && !seen.has(`down:${id}`)) {
        seen.set(`down:${id}`, true);
        refused += 1;
        res.writeHead(503).end();
        return;
      }
      const payload = new Webhook(secret).verify(body, req.headers);
      if (!seen.has(id)) seen.set(id, payload);
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const hook = await call(`${w.url}/v1/admin/webhooks?tenant=demo-shop`, { method: "POST", headers: admin,
      body: { url: `http://127.0.0.1:${server.address().port}/hook`, events: ["signal.created", "consent.revoked", "subject.merged"] } });
    assert.equal(hook.status, 201, hook.text);
    secret = hook.body.secret;
    const key = await apiKey();
    for (const v of ["hiking", "yoga"]) {
      await call(`${w.url}/v1/signals`, { method: "POST", headers: key, body: capture("interest", v, "c-w", { subject_id: "u-hook" }) });
    }
    await call(`${w.url}/v1/consents/c-w/revoke`, { method: "POST", headers: key, body: { subject_id: "u-hook" } });
    const deadline = Date.now() + 30000;
    const delivered = () => [...seen.entries()].filter(([k]) => !k.startsWith("down:"));
    while (delivered().length < 3 && Date.now() < deadline) await sleep(250);
    const got = delivered().map(([, p]) => p);
    assert.equal(got.length, 3, `delivered: ${JSON.stringify(got.map((p) => p.type))}`);
    assert.deepEqual(got.map((p) => p.type).sort(), ["consent.revoked", "signal.created", "signal.created"]);
    assert.ok(refused >= 3, "each was refused once first");
    const created = got.find((p) => p.type === "signal.created").data;
    for (const m of ["signal_type", "value", "category", "consent", "expires_at", "policy_version", "event"]) assert.ok(m in created, m);
    const records = await call(`${w.url}/v1/admin/webhooks/deliveries?tenant=demo-shop&subject=u-hook`, { headers: admin });
    assert.ok(records.body.deliveries.every((d) => d.state === "delivered" && d.attempts === 2), records.text);
  } finally {
    server.close();
  }
});

test("metrics: Prometheus text and JSON for the tenant", async () => {
  await sleep(200);
  const prom = await fetch(`${w.url}/v1/admin/metrics?tenant=demo-shop`, { headers: admin });
  assert.equal(prom.status, 200);
  const text = await prom.text();
  assert.match(text, /^signalgate_signals_active\{tenant="demo-shop"\} \d+$/m);
  assert.ok(text.split("\n").filter(Boolean).every((l) => l.startsWith("#") || l.startsWith("signalgate_")));
  const json = await call(`${w.url}/v1/admin/metrics?tenant=demo-shop&format=json`, { headers: admin });
  assert.ok(json.body.subjects > 3 && json.body.requests > json.body.rejected, json.text);
});

test("the gate counts its decisions: a bundle whose signals all expired is presented, withheld and counted", async () => {
  assert.equal((await fetch(`${w.url}/__sg/metrics`)).status, 401, "the token is required");
  const r = await call(`${w.url}/v1/signals`, { method: "POST", body: capture("price_band", "premium", "c-x") });
  const bundle = r.cookies.sg_bundle;
  await sleep(3500); // price_band lives 3 s
  const page = await fetch(`${w.url}/`, { headers: { Cookie: `sg_bundle=${bundle}` } });
  assert.equal(page.status, 200);
  const text = await (await fetch(`${w.url}/__sg/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  const expired = Number(text.match(/signalgate_gate_bundle_freshness_total\{[^}]*freshness="expired"\} (\d+)/)?.[1]);
  assert.ok(expired >= 1, text);
  assert.match(text, /signalgate_gate_decisions_total\{[^}]*tier="curated"\} 0\n/, "nothing of the expired bundle was used");
  assert.match(text, /signalgate_gate_decisions_total\{[^}]*tier="contextual"\} [1-9]/, "the policy's fallback for a bundle without usable signals");
});
