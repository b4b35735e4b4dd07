// Throughput and cold start through real workerd (wrangler dev on 127.0.0.1):
// the gate Worker (build/worker) against a pass-through Worker serving the
// same assets (benches/passthrough). Run by pkg-scripts/bench:
//   node benches/workerd.mjs [--out build/bench/workerd.json] [--duration 5] [--connections 10] [--cold-rounds 3]
//
// Cold start is broken down by first requests to fresh Workers (workerd's
// clock does not advance while a Worker computes, so the Worker cannot time
// itself): the pass-through's first page; the gate's first request that loads
// nothing (wasm compile and instantiation: a 404 under /__sg/); its first
// page without a bundle (+ policy load and key parsing, the page and the
// filter); with a bundle (+ the first verification); and with the policy
// given as a variable (SG_POLICY: no policy fetch). The CPU parts are also
// timed in Node (same V8): compiling the Worker's wasm, and the Node build's
// Gate construction and first verification.
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import autocannon from "autocannon";
import { ROOT, POLICY, sg, startWorker, newKey, claims, pageParts } from "../tests/js/helpers.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const OUT = opt("--out", null);
const DURATION = Number(opt("--duration", 5));
const CONNECTIONS = Number(opt("--connections", 10));
const WARM_SAMPLES = 20;
const COLD_ROUNDS = Number(opt("--cold-rounds", 3));
const log = (s) => process.stdout.write(`    ${s}\n`);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const BIG_PATH = "/bench/big"; // www/bench/big.html (assets drop the .html)
// www/bench/plain.html: the big page without gate markup, as an origin renders it in
// header-only mode; the gate serves it without the filter (SG_PLAIN_ROUTES). Made
// here from big.html (the same page less its data-sg-* attributes; a build output,
// git-ignored), before the Workers start.
const PLAIN_PATH = "/bench/plain";
const big = readFileSync(join(ROOT, "www", "bench", "big.html"), "utf8");
const plain = big
  .replace(/ data-sg-[a-z]+="[^"]*"/g, "")
  .replace("(benchmark page)", "(benchmark page, header-only)")
  .replace(/<!-- A ~50 KB catalogue page[^>]*-->/, "<!-- The ~50 KB catalogue page of pkg-scripts/bench without gate markup (made from big.html by benches/workerd.mjs), as an origin renders it from the decision headers in header-only mode. -->");
if (/data-sg-|sg-decision/i.test(plain)) throw new Error("www/bench/plain.html would still hold gate markup");
writeFileSync(join(ROOT, "www", "bench", "plain.html"), plain);

const key = newKey();
const bundle = () => key.signer.sign(claims({ n: 16 }));
const TOKEN = bundle();
const cookie = (t) => ({ Cookie: `sg_bundle=${t}` });

/** Wall time of one request, body read to the end: { ms, status, bytes }. */
async function timed(url, headers = {}) {
  const t0 = process.hrtime.bigint();
  const resp = await fetch(url, { headers, redirect: "manual" });
  const body = await resp.arrayBuffer();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, status: resp.status, bytes: body.byteLength };
}

/** The first request to a Worker that has served nothing yet, then warm ones. */
async function coldStart(w, path, headersFor) {
  await sleep(1000); // let workerd finish starting; only the request is timed
  const first = await timed(w.url + path, headersFor());
  const warm = [];
  for (let i = 0; i < WARM_SAMPLES; i++) {
    const h = headersFor(); // signed outside the timed request
    warm.push((await timed(w.url + path, h)).ms);
  }
  return { first_ms: first.ms, first_status: first.status, warm_median_ms: median(warm), warm_samples: warm.length };
}

/** Milliseconds of wall time of `f()` (sync). */
function msOf(f) {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * The first request's wall time to fresh Workers, median of COLD_ROUNDS
 * rounds, for each case: { name: { first_ms, samples, status } }. Each round
 * starts every case's Worker afresh (interleaved, so a busy moment of the
 * machine spreads over the cases).
 */
async function coldBreakdown() {
  const cases = [
    ["pass", () => startWorker({}, { config: join(ROOT, "benches", "passthrough", "wrangler.toml"), probe: null }), "/", () => ({})],
    ["gate_wasm_only", () => startWorker({ SG_PUBLIC_KEYS: key.publicJwks }, { probe: null }), "/__sg/cold", () => ({})],
    ["gate_no_bundle", () => startWorker({ SG_PUBLIC_KEYS: key.publicJwks }, { probe: null }), "/", () => ({})],
    ["gate_bundle", () => startWorker({ SG_PUBLIC_KEYS: key.publicJwks }, { probe: null }), "/", () => cookie(bundle())],
    ["gate_bundle_policy_var", () => startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_POLICY: POLICY.replace(/\s*\n\s*/g, " ") }, { probe: null }), "/", () => cookie(bundle())],
  ];
  const samples = Object.fromEntries(cases.map(([n]) => [n, []]));
  const status = {};
  for (let round = 0; round < COLD_ROUNDS; round++) {
    for (const [name, start, path, headersFor] of cases) {
      const w = await start();
      try {
        await sleep(1000); // let workerd finish starting; only the request is timed
        const h = headersFor();
        const r = await timed(w.url + path, h);
        samples[name].push(r.ms);
        status[name] = r.status;
      } finally {
        await w.stop();
      }
    }
  }
  const out = Object.fromEntries(Object.entries(samples).map(([n, xs]) => [n, { first_ms: median(xs), samples: xs, status: status[n] }]));
  const d = (a, b) => out[a].first_ms - out[b].first_ms;
  out.parts_ms = {
    wasm_compile_instantiate: d("gate_wasm_only", "pass"),
    policy_keys_page_filter: d("gate_no_bundle", "gate_wasm_only"),
    first_verification: d("gate_bundle", "gate_no_bundle"),
    policy_fetch_saved_by_var: d("gate_bundle", "gate_bundle_policy_var"),
  };
  out.over_pass_ms = d("gate_bundle", "pass");
  out.over_pass_policy_var_ms = d("gate_bundle_policy_var", "pass");
  // The same CPU work in Node (V8 as in workerd), each on code that has not run yet.
  const wasmBytes = readFileSync(join(ROOT, "build", "worker", "index_bg.wasm"));
  const node = { worker_wasm_bytes: wasmBytes.length, compile_ms: msOf(() => new WebAssembly.Module(wasmBytes)) };
  let gate;
  node.gate_new_first_ms = msOf(() => { gate = new sg.Gate(POLICY, key.publicJwks, { audience: "signalgate", ed25519: "wasm" }); });
  const first = bundle();
  node.first_verify_decide_ms = msOf(() => gate.decideForPage(first, { purposes: ["personalization"], channel: "web", tenant: "demo-shop", scope: "web", gpc: false }));
  node.gate_new_second_ms = msOf(() => new sg.Gate(POLICY, key.publicJwks, { audience: "signalgate" }).free());
  gate.free();
  out.node = node;
  return out;
}

function cannon(url, headers, duration) {
  return new Promise((resolve, reject) => {
    autocannon({ url, headers, connections: CONNECTIONS, duration, pipelining: 1 }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

async function load(name, url, headers) {
  await cannon(url, headers, 1); // warm-up, not recorded
  const r = await cannon(url, headers, DURATION);
  const out = {
    rps: r.requests.average, requests: r.requests.total, p50_ms: r.latency.p50, p99_ms: r.latency.p99, mean_ms: r.latency.average,
    non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, bytes_per_s: r.throughput.average, duration_s: DURATION, connections: CONNECTIONS,
  };
  log(`${name.padEnd(34)} ${out.rps.toFixed(0).padStart(6)} req/s  p50 ${out.p50_ms} ms  p99 ${out.p99_ms} ms  (${out.requests} requests, ${out.non2xx} non-2xx, ${out.errors} errors, ${out.timeouts} timeouts)`);
  return out;
}

const results = { duration_s: DURATION, connections: CONNECTIONS, bundle_bytes: TOKEN.length };
const started = [];
try {
  // Started without a probe, so the first request below meets a fresh isolate.
  const pass = await startWorker({}, { config: join(ROOT, "benches", "passthrough", "wrangler.toml"), probe: null });
  started.push(pass);
  const gate = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks, SG_PLAIN_ROUTES: JSON.stringify([PLAIN_PATH]) }, { probe: null });
  started.push(gate);
  const rewriter = await startWorker({}, { config: join(ROOT, "benches", "passthrough", "rewriter.toml"), probe: null });
  started.push(rewriter);
  log(`pass-through Worker on ${pass.url}, gate Worker on ${gate.url}`);

  results.cold = {
    gate: await coldStart(gate, "/", () => cookie(bundle())),
    pass: await coldStart(pass, "/", () => ({})),
  };
  for (const [n, c] of Object.entries(results.cold)) {
    log(`cold start ${n.padEnd(5)} first request ${c.first_ms.toFixed(1)} ms (status ${c.first_status}), warm median ${c.warm_median_ms.toFixed(1)} ms`);
  }
  if (COLD_ROUNDS > 0) {
    const b = (results.cold_breakdown = await coldBreakdown());
    log(`cold start breakdown (median first request of ${COLD_ROUNDS} fresh Workers each): ${["pass", "gate_wasm_only", "gate_no_bundle", "gate_bundle", "gate_bundle_policy_var"].map((n) => `${n} ${b[n].first_ms.toFixed(1)} ms`).join(", ")}`);
    log(`  gate with a bundle over pass-through: +${b.over_pass_ms.toFixed(1)} ms (policy as a variable: +${b.over_pass_policy_var_ms.toFixed(1)} ms); parts: ${Object.entries(b.parts_ms).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(", ")}`);
    log(`  in Node: compile the Worker's wasm ${b.node.compile_ms.toFixed(1)} ms, first Gate (policy + keys) ${b.node.gate_new_first_ms.toFixed(1)} ms (then ${b.node.gate_new_second_ms.toFixed(2)} ms), first verify + decide ${b.node.first_verify_decide_ms.toFixed(1)} ms`);
  }

  // What the load runs will get: check it once.
  const pages = {};
  for (const [name, w, path, headers] of [["gate /", gate, "/", cookie(TOKEN)], ["pass /", pass, "/", {}],
    ["gate big", gate, BIG_PATH, cookie(TOKEN)], ["pass big", pass, BIG_PATH, {}],
    ["gate plain", gate, PLAIN_PATH, cookie(TOKEN)], ["pass plain", pass, PLAIN_PATH, {}]]) {
    const resp = await fetch(w.url + path, { headers, redirect: "manual" });
    const html = await resp.text();
    const p = pageParts(html);
    pages[name] = { status: resp.status, bytes: Buffer.byteLength(html), segment_elements: p.segments.length, tier_elements: p.tiers.length, tier: p.decision?.tier ?? null };
    if (resp.status !== 200) throw new Error(`${name}: status ${resp.status} for ${path}`);
  }
  results.pages = pages;
  results.big_page_source_bytes = readFileSync(join(ROOT, "www", "bench", "big.html")).length;
  if (pages["gate /"].tier !== "curated" || pages["gate big"].tier !== "curated") throw new Error(`the gate did not curate the bench pages: ${JSON.stringify(pages)}`);
  // Header-only: the origin's bytes unchanged (no filter, no decision script).
  if (pages["gate plain"].bytes !== pages["pass plain"].bytes || pages["gate plain"].tier !== null) throw new Error(`the gate did not serve the plain page unfiltered: ${JSON.stringify(pages)}`);
  log(`pages: / ${pages["pass /"].bytes} B -> ${pages["gate /"].bytes} B through the gate; big ${pages["pass big"].bytes} B (${pages["pass big"].segment_elements} segment blocks) -> ${pages["gate big"].bytes} B (${pages["gate big"].segment_elements} kept)`);

  results.runs = {};
  results.runs.pass_index = await load("(a) pass-through  /", pass.url + "/", {});
  results.runs.gate_index = await load("(b) gate + bundle /", gate.url + "/", cookie(TOKEN));
  results.runs.pass_big = await load("(d) pass-through  big page", pass.url + BIG_PATH, {});
  results.runs.gate_big = await load("(c) gate + bundle big page", gate.url + BIG_PATH, cookie(TOKEN));
  // The filter anchor: pass-through plus workerd's HTMLRewriter, no gate.
  results.runs.rewriter_index = await load("(f) pass-through + HTMLRewriter /", rewriter.url + "/", {});
  results.runs.rewriter_big = await load("(g) pass-through + HTMLRewriter big", rewriter.url + BIG_PATH, {});
  // Header-only mode: a page without markup, no filter (SG_PLAIN_ROUTES), vs the same page passed through.
  results.runs.pass_plain = await load("(i) pass-through  plain 50 KB page", pass.url + PLAIN_PATH, {});
  results.runs.gate_plain = await load("(h) gate + bundle plain page", gate.url + PLAIN_PATH, cookie(TOKEN));
  // For the breakdown: the gate's plumbing (generic decision, no signature, same filter) on the small page.
  results.runs.gate_index_nobundle = await load("(e) gate, no bundle, / (info)", gate.url + "/", {});
  // The gate logs one line per decision: how many the isolate's cache answered.
  const decisions = gate.logs().match(/^.*"sg":"decision".*$/gm) ?? [];
  results.gate_decisions = { logged: decisions.length, cached: decisions.filter((l) => l.includes('"cached":true')).length };
  log(`gate decisions logged: ${results.gate_decisions.logged}, answered from the cache: ${results.gate_decisions.cached}`);
  results.ratio_index = results.runs.gate_index.rps / results.runs.pass_index.rps;
  results.ratio_big = results.runs.gate_big.rps / results.runs.pass_big.rps;
  results.ratio_index_vs_rewriter = results.runs.gate_index.rps / results.runs.rewriter_index.rps;
  results.ratio_big_vs_rewriter = results.runs.gate_big.rps / results.runs.rewriter_big.rps;
  results.ratio_plain = results.runs.gate_plain.rps / results.runs.pass_plain.rps;
  log(`header-only (plain page, no filter) / pass-through: ${results.ratio_plain.toFixed(2)}x`);
  log(`gate / pass-through: / ${results.ratio_index.toFixed(2)}x, big page ${results.ratio_big.toFixed(2)}x`);
  log(`gate / (pass-through + HTMLRewriter): / ${results.ratio_index_vs_rewriter.toFixed(2)}x, big page ${results.ratio_big_vs_rewriter.toFixed(2)}x`);
} finally {
  for (const w of started) await w.stop();
}

if (OUT) {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(results, null, 2) + "\n");
}
