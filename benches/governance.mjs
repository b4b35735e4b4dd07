// Governance on the origin through real workerd (the gate and the origin
// Worker in wrangler dev, as benches/origin.mjs runs them), each figure next
// to an anchor from the same run. Run by pkg-scripts/bench:
//   node benches/governance.mjs [--out build/bench/governance.json] [--events 1000] [--reps 20]
//     [--cap-s 120] [--webhooks 300] [--connections 8] [--wait-s 120] [--sample 20]
//
// 1. Evidence pack: one subject built through the API (serial submits of
//    three classes, reconfirmations, a consent revoked half-way) until it has
//    --events events or --cap-s seconds have passed (then the pack is timed
//    at the size reached, and the figures say so); then --reps timed
//    `GET /v1/admin/subjects/{s}/evidence?format=jws` (the directory's
//    deliveries of the subject, the pack built in the subject's Durable
//    Object, signed in the Worker, through the gate), each next to
//    `GET .../history` of the same subject (the events read and the chain
//    verified: what a pack adds to the bare read). One pack is checked with
//    npm jose against the published key set.
// 2. Webhook delivery to a local receiver (node:http on 127.0.0.1 answering
//    204; every --sample-th request verified with npm standardwebhooks, the
//    rest only counted and parsed for their signal id): --webhooks captures,
//    each a new signal (one `signal.created`) over webhooks/7 subjects, by
//    --connections callers, with one endpoint for `signal.created`; the real
//    path (subject outbox -> tenant directory -> directory alarm -> fetch).
//    Delivered messages per second from the first submit to the last
//    arrival, and per message the time from its capture's reply to its
//    arrival (p50/p99), when the first message arrived and how fast the
//    rest followed. Anchors: the same captures to a second tenant that has
//    no endpoint (what webhooks cost the submits), once before and once
//    after, so a drift in the machine's load shows, after an untimed
//    warm-up round (the first round measured was otherwise the slower one);
//    and the receiver's raw throughput (a plain loop of POSTs of the same
//    size from Node, in the same process as the receiver).
//    wrangler dev reloads the Worker when a watched source file changes: a
//    request cut short by a reload is sent again with its idempotency key,
//    and the reloads are counted in the figures.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname } from "node:path";
import { performance } from "node:perf_hooks";
import * as jose from "jose";
import { Webhook } from "standardwebhooks";
import { startWorker, originStack, call } from "../tests/js/helpers.mjs";

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const OUT = arg("--out", null);
const EVENTS = Number(arg("--events", "1000"));
const REPS = Number(arg("--reps", "20"));
const CAP_S = Number(arg("--cap-s", "120"));
const HOOKS = Number(arg("--webhooks", "300"));
const CONNECTIONS = Number(arg("--connections", "8"));
const WAIT_S = Number(arg("--wait-s", "120"));
const SAMPLE = Number(arg("--sample", "20"));
const TENANT = "demo-shop";
const ANCHOR_TENANT = "other-shop"; // a service tenant of originStack()
const VALUES = ["trail-running", "road-running", "hiking", "climbing", "camping", "cycling", "yoga"];

const progress = (s) => console.log(`    ${s}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** p50/p99/mean/max of a list of milliseconds. */
function summary(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q) => s[Math.round((s.length - 1) * q)];
  return { n: s.length, p50_ms: at(0.5), p99_ms: at(0.99), mean_ms: s.reduce((a, b) => a + b, 0) / s.length, max_ms: s[s.length - 1] };
}
const capture = (type, value, consent, subject) => ({ subject_id: subject, signal_type: type, value, purpose: "personalization",
  consent_reference: consent, source_context: { channel: "web", ui: "bench" } });

const stack = originStack();
const admin = { Authorization: `Bearer ${stack.admin}` };
const w = await startWorker(stack.gate, { origin: stack.origin });
const server = createServer();
const result = { tenant: TENANT };
try {
  const created = await call(`${w.url}/v1/admin/api-keys`, { method: "POST", headers: admin, body: { tenant: TENANT, label: "bench" } });
  if (created.status !== 201) throw new Error(`creating the API key: ${created.text}`);
  const auth = { Authorization: `Bearer ${created.body.api_key}` };
  // The anchor's captures go to a second tenant, which has no endpoint.
  const other = await call(`${w.url}/v1/admin/api-keys`, { method: "POST", headers: admin, body: { tenant: ANCHOR_TENANT, label: "bench" } });
  if (other.status !== 201) throw new Error(`creating the API key of ${ANCHOR_TENANT}: ${other.text}`);
  const otherAuth = { Authorization: `Bearer ${other.body.api_key}` };
  let idem = 0;
  /**
   * A POST with the API key and an idempotency key: { status, body, ms, end }.
   * wrangler dev reloads the Worker when a watched source file changes (503
   * "restarted mid-request", or the connection drops); such a request is
   * sent again with the same idempotency key (so it is done once), counted
   * in `retried`, and timed from its first try.
   */
  const post = async (path, body, as = auth) => {
    const t0 = performance.now();
    const key = `g-${idem++}`;
    let status = 0, text = "";
    for (let attempt = 0; attempt < 4; attempt++) {
      if (attempt) { result.retried = (result.retried ?? 0) + 1; await sleep(500 * attempt); }
      try {
        const resp = await fetch(`${w.url}${path}`, { method: "POST", body: JSON.stringify(body),
          headers: { ...as, "Content-Type": "application/json", "Idempotency-Key": key } });
        status = resp.status;
        text = await resp.text();
      } catch (e) { // the connection dropped, or workerd is gone
        status = 0;
        text = `${e.message}${e.cause ? ` (${e.cause.message ?? e.cause})` : ""}`;
      }
      if (!(status === 0 || (status === 503 && /restarted/i.test(text)))) break;
    }
    const end = performance.now();
    let parsed = null;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status, body: parsed, text, ms: end - t0, end };
  };

  // ---------- 1. the evidence pack of a subject with EVENTS events ----------
  progress(`evidence: building one subject with ${EVENTS} events through the API (serial, capped at ${CAP_S} s)`);
  const subject = "ev-1";
  let events = 0, i = 0, consent = "c-1", revoked = false;
  const used = new Set(), reconfirmable = [], ops = {};
  const t0 = performance.now();
  let lastNote = t0;
  while (events < EVENTS && performance.now() - t0 < CAP_S * 1000) {
    let op, r;
    if (!revoked && events >= EVENTS / 2) {
      op = "revoke";
      r = await post(`/v1/consents/${consent}/revoke`, { subject_id: subject });
      revoked = true; consent = "c-2"; reconfirmable.length = 0;
      events += 2; // the revocation and a fresh bundle
    } else if (i % 8 === 6 && reconfirmable.length) {
      op = "reconfirm";
      r = await post(`/v1/signals/${reconfirmable[Math.floor(i / 8) % reconfirmable.length]}/reconfirm`, { subject_id: subject });
      events += 2;
    } else {
      op = "submit";
      const [type, value] = i % 8 === 4 ? ["language", ["en", "de", "fr"][Math.floor(i / 8) % 3]]
        : i % 8 === 5 ? ["price_band", ["budget", "mid", "premium"][Math.floor(i / 8) % 3]] : ["interest", VALUES[i % VALUES.length]];
      r = await post("/v1/signals", capture(type, value, consent, subject));
      events += used.has(consent) ? 2 : 3; // (the consent record first), the signal, a fresh bundle
      used.add(consent);
      const id = r.body?.signal?.signal_id;
      if (type === "interest" && id && !reconfirmable.includes(id)) reconfirmable.push(id);
    }
    if (r.status >= 300) throw new Error(`${op} ${i}: ${r.status} ${r.text}`);
    ops[op] = (ops[op] ?? 0) + 1;
    i++;
    if (performance.now() - lastNote > 5000) {
      lastNote = performance.now();
      progress(`  ${events}/${EVENTS} events after ${((lastNote - t0) / 1000).toFixed(0)} s`);
    }
  }
  const buildS = (performance.now() - t0) / 1000;
  const capped = events < EVENTS;
  progress(`  ${events} events from ${i} requests in ${buildS.toFixed(1)} s${capped ? ` (stopped at the ${CAP_S} s cap)` : ""}; timing the pack x ${REPS}`);
  const packUrl = `${w.url}/v1/admin/subjects/${subject}/evidence?tenant=${TENANT}&format=jws`;
  const historyUrl = `${w.url}/v1/admin/subjects/${subject}/history?tenant=${TENANT}`;
  const timedGet = async (url) => {
    const t = performance.now();
    const resp = await fetch(url, { headers: admin });
    const text = await resp.text();
    if (resp.status !== 200) throw new Error(`GET ${url}: ${resp.status} ${text.slice(0, 300)}`);
    return { ms: performance.now() - t, text };
  };
  const jwsMs = [], historyMs = [];
  let jws = "", historyBytes = 0;
  for (let rep = 0; rep < REPS + 2; rep++) { // 2 warm-up rounds
    const h = await timedGet(historyUrl);
    const p = await timedGet(packUrl);
    if (rep >= 2) { historyMs.push(h.ms); jwsMs.push(p.ms); }
    jws = p.text; historyBytes = h.text.length;
  }
  const jwks = jose.createLocalJWKSet(await (await fetch(`${w.url}/.well-known/jwks.json`)).json());
  const { payload } = await jose.compactVerify(jws, jwks);
  const pack = JSON.parse(new TextDecoder().decode(payload));
  result.evidence = {
    target_events: EVENTS, events: pack.chain.events, capped, cap_s: CAP_S, build_s: buildS, requests: i, operations: ops,
    chain_verified: pack.chain.verified, jose_verified: true, reps: REPS,
    pack_jws_bytes: jws.length, pack_json_bytes: payload.length, history_bytes: historyBytes,
    jws: summary(jwsMs), history: summary(historyMs),
  };
  const e = result.evidence;
  progress(`evidence pack through workerd, ${e.events} events (${(e.pack_jws_bytes / 1024).toFixed(0)} KB): p50 ${e.jws.p50_ms.toFixed(1)} ms, p99 ${e.jws.p99_ms.toFixed(1)} ms; history of the same subject p50 ${e.history.p50_ms.toFixed(1)} ms`);

  // ---------- 2. webhook delivery to a local receiver ----------
  let secret = null, received = 0, verified = 0, verifyFailed = 0, duplicates = 0, raw = 0;
  const ids = new Set();
  const arrivals = new Map(); // signal id -> performance.now() at arrival
  server.on("request", (req, res) => {
    const chunks = [];
    req.on("data", (d) => chunks.push(d));
    req.on("end", () => {
      const at = performance.now();
      if (req.url === "/raw") { raw++; res.writeHead(204).end(); return; }
      received++;
      const body = Buffer.concat(chunks).toString("utf8");
      const id = req.headers["webhook-id"];
      if (ids.has(id)) duplicates++; else ids.add(id);
      if (secret && received % SAMPLE === 1) {
        try { new Webhook(secret).verify(body, req.headers); verified++; } catch { verifyFailed++; }
      }
      let sid = null;
      try { sid = JSON.parse(body).data?.signal_id; } catch { /* counted, not matched */ }
      if (sid && !arrivals.has(sid)) arrivals.set(sid, at);
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const hookUrl = `http://127.0.0.1:${server.address().port}`;

  // Anchor: the receiver's raw throughput, a plain loop of POSTs of a webhook's size.
  progress(`webhooks: the receiver alone (${CONNECTIONS} callers x 2 s of POSTs from Node)`);
  const sampleBody = JSON.stringify({ type: "signal.created", timestamp: new Date().toISOString(), data: { pad: "x".repeat(600) } });
  const rawMs = [];
  {
    const end = performance.now() + 2000, t = performance.now();
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        const resp = await fetch(`${hookUrl}/raw`, { method: "POST", body: sampleBody, headers: { "Content-Type": "application/json",
          "webhook-id": "msg_raw", "webhook-timestamp": "0", "webhook-signature": "v1,x" } });
        await resp.arrayBuffer();
        rawMs.push(performance.now() - s);
      }
    }));
    result.receiver_raw = { requests: rawMs.length, seconds: (performance.now() - t) / 1000, ...summary(rawMs) };
    result.receiver_raw.rps = rawMs.length / result.receiver_raw.seconds;
  }
  progress(`  receiver alone: ${result.receiver_raw.rps.toFixed(0)} req/s`);

  /** HOOKS captures, each a new signal, by CONNECTIONS callers: { ops_per_s, p50/p99, replies: Map(signal id -> reply time), first, last }. */
  const subjects = Math.ceil(HOOKS / VALUES.length);
  const captures = async (prefix, as = auth) => {
    let next = 0, failed = 0;
    const ms = [], replies = new Map();
    let lastError = null;
    const first = performance.now();
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (next < HOOKS) {
        const k = next++;
        const r = await post("/v1/signals", capture("interest", VALUES[Math.floor(k / subjects)], "c-1", `${prefix}-${k % subjects}`), as);
        if (r.status !== 201) { failed++; lastError = `${r.status} ${r.text.slice(0, 200)}`; continue; }
        ms.push(r.ms);
        replies.set(r.body.signal.signal_id, r.end);
      }
    }));
    const last = performance.now();
    if (failed) progress(`  ${failed} captures failed, the last with: ${lastError}`);
    if (!ms.length) throw new Error(`every capture failed (${lastError})`);
    return { submits: ms.length, failed, seconds: (last - first) / 1000, ops_per_s: ms.length / ((last - first) / 1000), ...summary(ms), ms, replies, first, last };
  };
  const strip = ({ ms, replies, first, last, ...rest }) => rest;

  // Warm-up (not timed): the first phase measured was otherwise the slower one.
  progress(`webhooks: warm-up, ${HOOKS} captures over ${subjects} other subjects (not timed)`);
  const warm = await captures("w", otherAuth);
  if (warm.failed) throw new Error(`warm-up: ${warm.failed} captures failed`);
  // Anchor: the same captures to a tenant without any endpoint, before and after (so drift in the machine's load shows).
  const anchor = async (prefix, when) => {
    progress(`webhooks: ${HOOKS} captures over ${subjects} subjects of ${ANCHOR_TENANT}, which has no endpoint (anchor, ${when})`);
    const r = await captures(prefix, otherAuth);
    progress(`  ${r.ops_per_s.toFixed(0)} submits/s, p50 ${r.p50_ms.toFixed(1)} ms, p99 ${r.p99_ms.toFixed(1)} ms (${r.failed} failed)`);
    return r;
  };
  const before = await anchor("a", "before");
  const hook = await call(`${w.url}/v1/admin/webhooks?tenant=${TENANT}`, { method: "POST", headers: admin,
    body: { url: `${hookUrl}/hook`, events: ["signal.created"] } });
  if (hook.status !== 201) throw new Error(`adding the endpoint: ${hook.text}`);
  secret = hook.body.secret;
  received = 0; arrivals.clear();
  progress(`webhooks: ${HOOKS} captures over ${subjects} subjects of ${TENANT}, with an endpoint for signal.created, until each arrived (up to ${WAIT_S} s)`);
  const withHook = await captures("b");
  result.submits_with_endpoint = strip(withHook);
  progress(`  submits done: ${withHook.ops_per_s.toFixed(0)} submits/s, p50 ${withHook.p50_ms.toFixed(1)} ms (${withHook.failed} failed); ${arrivals.size} arrived so far`);
  const ours = () => [...withHook.replies.keys()].filter((id) => arrivals.has(id)).length;
  const deadline = performance.now() + WAIT_S * 1000;
  lastNote = performance.now();
  while (ours() < withHook.replies.size && performance.now() < deadline) {
    await sleep(20);
    if (performance.now() - lastNote > 2000) {
      lastNote = performance.now();
      progress(`  ${ours()}/${withHook.replies.size} arrived`);
    }
  }
  const latencies = [...withHook.replies].filter(([id]) => arrivals.has(id)).map(([id, end]) => arrivals.get(id) - end);
  const arrivalTimes = [...withHook.replies.keys()].filter((id) => arrivals.has(id)).map((id) => arrivals.get(id));
  const lastArrival = Math.max(...arrivalTimes), firstArrival = Math.min(...arrivalTimes);
  await sleep(500); // a duplicate would come late
  const after = await anchor("z", "after");
  const both = [...before.ms, ...after.ms];
  result.submits_without_endpoint = { ...summary(both), submits: both.length, failed: before.failed + after.failed,
    seconds: before.seconds + after.seconds, ops_per_s: both.length / (before.seconds + after.seconds),
    tenant: ANCHOR_TENANT, before: strip(before), after: strip(after) };
  const records = await call(`${w.url}/v1/admin/webhooks/deliveries?tenant=${TENANT}&state=delivered`, { headers: admin });
  const delivered = (records.body?.deliveries ?? []).filter((d) => d.subject_id.startsWith("b-"));
  result.webhooks = {
    messages: withHook.replies.size, delivered: latencies.length, missing: withHook.replies.size - latencies.length, subjects,
    connections: CONNECTIONS, received, duplicates, verified_sample: verified, verify_failed: verifyFailed, sample_every: SAMPLE,
    seconds: (lastArrival - withHook.first) / 1000,
    msgs_per_s: latencies.length / ((lastArrival - withHook.first) / 1000),
    // From the first arrival to the last: how fast the directory's alarm sends once it runs.
    drain_msgs_per_s: latencies.length / Math.max((lastArrival - firstArrival) / 1000, 1e-3),
    first_arrival_after_first_submit_ms: firstArrival - withHook.first,
    submit_phase_ms: withHook.last - withHook.first,
    drain_after_last_reply_ms: lastArrival - withHook.last,
    latency: summary(latencies),
    records_delivered: delivered.length, records_first_try: delivered.filter((d) => d.attempts === 1).length,
  };
  const h = result.webhooks;
  progress(`webhooks through workerd: ${h.delivered}/${h.messages} delivered, ${h.msgs_per_s.toFixed(0)} msg/s first submit -> last arrival; ` +
    `capture reply -> arrival p50 ${h.latency.p50_ms.toFixed(0)} ms, p99 ${h.latency.p99_ms.toFixed(0)} ms; ` +
    `first arrival ${h.first_arrival_after_first_submit_ms.toFixed(0)} ms after the first submit (submits took ${h.submit_phase_ms.toFixed(0)} ms), ` +
    `then ${h.drain_msgs_per_s.toFixed(0)} msg/s; ${duplicates} duplicates, ` +
    `${verified} sampled signatures verified (${verifyFailed} failed)`);
  if (h.missing || verifyFailed || !verified) process.exitCode = 2;
} catch (e) {
  // What was measured before the failure is still written (the report shows the rest missing).
  result.error = String(e.message ?? e);
  console.error(`    governance bench failed: ${result.error}\n    last workerd output:\n${w.logs().split("\n").slice(-15).join("\n")}`);
  process.exitCode = 1;
} finally {
  // Reloads of the Worker during the run (another process changed a watched file) disturb the figures.
  result.worker_reloads = (w.logs().match(/Reloading local server/g) ?? []).length;
  if (result.worker_reloads) progress(`note: wrangler reloaded the Worker ${result.worker_reloads} time(s) during the run (watched files changed); ${result.retried ?? 0} request(s) sent again`);
  if (OUT) {
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, JSON.stringify(result, null, 2) + "\n");
  }
  server.close();
  await w.stop();
}
