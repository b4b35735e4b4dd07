// Throughput and cold start through real workerd (wrangler dev on 127.0.0.1):
// the gate Worker (build/worker) against a pass-through Worker serving the
// same assets (benches/passthrough). Run by pkg-scripts/bench:
//   node benches/workerd.mjs [--out build/bench/workerd.json] [--duration 5] [--connections 10]
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import autocannon from "autocannon";
import { ROOT, startWorker, newKey, claims, pageParts } from "../tests/js/helpers.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const OUT = opt("--out", null);
const DURATION = Number(opt("--duration", 5));
const CONNECTIONS = Number(opt("--connections", 10));
const WARM_SAMPLES = 20;
const log = (s) => process.stdout.write(`    ${s}\n`);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const BIG_PATH = "/bench/big"; // www/bench/big.html (assets drop the .html)

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
  const gate = await startWorker({ SG_PUBLIC_KEYS: key.publicJwks }, { probe: null });
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

  // What the load runs will get: check it once.
  const pages = {};
  for (const [name, w, path, headers] of [["gate /", gate, "/", cookie(TOKEN)], ["pass /", pass, "/", {}],
    ["gate big", gate, BIG_PATH, cookie(TOKEN)], ["pass big", pass, BIG_PATH, {}]]) {
    const resp = await fetch(w.url + path, { headers, redirect: "manual" });
    const html = await resp.text();
    const p = pageParts(html);
    pages[name] = { status: resp.status, bytes: Buffer.byteLength(html), segment_elements: p.segments.length, tier_elements: p.tiers.length, tier: p.decision?.tier ?? null };
    if (resp.status !== 200) throw new Error(`${name}: status ${resp.status} for ${path}`);
  }
  results.pages = pages;
  results.big_page_source_bytes = readFileSync(join(ROOT, "www", "bench", "big.html")).length;
  if (pages["gate /"].tier !== "curated" || pages["gate big"].tier !== "curated") throw new Error(`the gate did not curate the bench pages: ${JSON.stringify(pages)}`);
  log(`pages: / ${pages["pass /"].bytes} B -> ${pages["gate /"].bytes} B through the gate; big ${pages["pass big"].bytes} B (${pages["pass big"].segment_elements} segment blocks) -> ${pages["gate big"].bytes} B (${pages["gate big"].segment_elements} kept)`);

  results.runs = {};
  results.runs.pass_index = await load("(a) pass-through  /", pass.url + "/", {});
  results.runs.gate_index = await load("(b) gate + bundle /", gate.url + "/", cookie(TOKEN));
  results.runs.pass_big = await load("(d) pass-through  big page", pass.url + BIG_PATH, {});
  results.runs.gate_big = await load("(c) gate + bundle big page", gate.url + BIG_PATH, cookie(TOKEN));
  // The filter anchor: pass-through plus workerd's HTMLRewriter, no gate.
  results.runs.rewriter_index = await load("(f) pass-through + HTMLRewriter /", rewriter.url + "/", {});
  results.runs.rewriter_big = await load("(g) pass-through + HTMLRewriter big", rewriter.url + BIG_PATH, {});
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
  log(`gate / pass-through: / ${results.ratio_index.toFixed(2)}x, big page ${results.ratio_big.toFixed(2)}x`);
  log(`gate / (pass-through + HTMLRewriter): / ${results.ratio_index_vs_rewriter.toFixed(2)}x, big page ${results.ratio_big_vs_rewriter.toFixed(2)}x`);
} finally {
  for (const w of started) await w.stop();
}

if (OUT) {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(results, null, 2) + "\n");
}
