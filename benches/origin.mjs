// The origin through real workerd (the gate and the origin Worker in
// wrangler dev, requests through the gate's /v1/ route to the subject's
// Durable Object): submits per second and p50/p99 latency of submit + bundle
// issue, with an idempotency key each, spread over 64 subjects by 8
// concurrent callers. Run by pkg-scripts/bench:
//   node benches/origin.mjs [--out build/bench/origin.json] [--duration 5] [--connections 8]
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { startWorker, originStack, call } from "../tests/js/helpers.mjs";

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const OUT = arg("--out", null);
const DURATION_S = Number(arg("--duration", "5"));
const CONNECTIONS = Number(arg("--connections", "8"));
const VALUES = ["trail-running", "road-running", "hiking", "climbing", "camping", "cycling", "yoga"];

const stack = originStack();
const w = await startWorker(stack.gate, { origin: stack.origin });
try {
  const created = await call(`${w.url}/v1/admin/api-keys`, { method: "POST", headers: { Authorization: `Bearer ${stack.admin}` }, body: { tenant: "demo-shop", label: "bench" } });
  if (created.status !== 201) throw new Error(`creating the API key: ${created.text}`);
  const auth = `Bearer ${created.body.api_key}`;
  let n = 0;
  const submit = async () => {
    const i = n++;
    const t0 = process.hrtime.bigint();
    const resp = await fetch(`${w.url}/v1/signals`, {
      method: "POST",
      headers: { Authorization: auth, "Content-Type": "application/json", "Idempotency-Key": `b-${i}` },
      body: JSON.stringify({ subject_id: `u-${i % 64}`, signal_type: "interest", value: VALUES[i % VALUES.length],
        purpose: "personalization", consent_reference: "c-1", source_context: { channel: "web", ui: "bench" } }),
    });
    await resp.arrayBuffer();
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, status: resp.status };
  };
  // Warm up every subject's object (and the isolate) first.
  for (let i = 0; i < 64; i++) await submit();
  const latencies = [];
  let failed = 0;
  const end = Date.now() + DURATION_S * 1000;
  const start = Date.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (Date.now() < end) {
      const r = await submit();
      if (r.status === 201) latencies.push(r.ms); else failed++;
    }
  }));
  const seconds = (Date.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.round((latencies.length - 1) * q)];
  const result = { submits: latencies.length, failed, seconds, ops_per_s: latencies.length / seconds, p50_ms: at(0.5), p99_ms: at(0.99), connections: CONNECTIONS, subjects: 64 };
  console.log(`    origin through workerd: ${result.ops_per_s.toFixed(0)} submits/s, p50 ${result.p50_ms.toFixed(1)} ms, p99 ${result.p99_ms.toFixed(1)} ms (${failed} failed, ${CONNECTIONS} callers, 64 subjects)`);
  if (OUT) {
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, JSON.stringify(result, null, 2) + "\n");
  }
} finally {
  await w.stop();
}
