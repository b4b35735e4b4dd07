// The gate's wasm build in Node (build/bench-pkg/node), next to npm `jose` and
// Node's own Ed25519 on the same bundles. Run by pkg-scripts/bench:
//   node benches/wasm.mjs [--out build/bench/wasm.json] [--quick]
// Each figure is the median per-operation time of a few timed batches (after a
// warm-up); tokens for the "fresh" figures are signed outside the timed region.
import { createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, webcrypto } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import v8 from "node:v8";
import vm from "node:vm";
import { dirname } from "node:path";
import * as jose from "jose";
import { createRequire } from "node:module";
import { ROOT, POLICY, claims, newKey, now } from "../tests/js/helpers.mjs";

// The Node build with benchmark hooks (`pkg-scripts/build bench-pkg`): the
// shipped code plus `Gate.benchmarkCachedDecision`, which times the repeat
// visitor's decision inside wasm.
const sg = createRequire(import.meta.url)(`${ROOT}/build/bench-pkg/node/signalgate.js`);

const args = process.argv.slice(2);
const OUT = args.includes("--out") ? args[args.indexOf("--out") + 1] : null;
const QUICK = args.includes("--quick");
const BATCHES = QUICK ? 3 : 7;
const BATCH_MS = QUICK ? 60 : 150; // ~1 s of timed work per figure
const WARMUP_MS = QUICK ? 100 : 300;

const TYP = "signalgate-bundle+jwt";
const CTX = { purposes: ["personalization"], channel: "web", tenant: "demo-shop", scope: "web", gpc: false };
const hr = () => process.hrtime.bigint();
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const log = (s) => process.stdout.write(`    ${s}\n`);

/** Times `n` operations of `prepare(n)` (only the function it returns is timed), in µs. */
async function time(prepare, n) {
  const run = await prepare(n);
  const t0 = hr();
  const r = run();
  if (r && typeof r.then === "function") await r;
  return Number(hr() - t0) / 1e3;
}

/** Warms up (JIT tiers, caches) and returns the ops per ~BATCH_MS batch. */
async function calibrate(prepare) {
  let n = 1, per = 0;
  const start = Date.now();
  for (;;) {
    const us = await time(prepare, n);
    per = us / n;
    if (us < 20_000) { n *= 2; continue; }
    if (Date.now() - start >= WARMUP_MS) break;
  }
  return Math.max(1, Math.round((BATCH_MS * 1e3) / per));
}

const summary = (batches, n) => ({ us: median(batches), min_us: Math.min(...batches), max_us: Math.max(...batches), ops_per_batch: n, batches: batches.length });

/**
 * `prepare(n)` returns a function doing `n` operations (sync or async); only
 * that function is timed. Returns per-op figures in µs (median of the batches).
 */
async function bench(prepare) {
  const n = await calibrate(prepare);
  const batches = [];
  for (let b = 0; b < BATCHES; b++) batches.push((await time(prepare, n)) / n);
  return summary(batches, n);
}

/** Like `bench` for several contenders, their batches interleaved (A B C A B C ...) so a busy machine slows them alike. */
async function benchTogether(prepares) {
  const ns = [];
  for (const p of prepares) ns.push(await calibrate(p));
  const batches = prepares.map(() => []);
  for (let b = 0; b < BATCHES; b++) {
    for (let i = 0; i < prepares.length; i++) batches[i].push((await time(prepares[i], ns[i])) / ns[i]);
  }
  return batches.map((bs, i) => summary(bs, ns[i]));
}

const fmt = (r) => `${r.us.toFixed(2)} µs/op  (min ${r.min_us.toFixed(2)}, max ${r.max_us.toFixed(2)}, ${r.batches} x ${r.ops_per_batch} ops)`;

// --- keys and a fast signer (Node's native Ed25519, same header as the wasm Signer) ---
const key = newKey();
const privateKey = createPrivateKey({ key: JSON.parse(key.privateJwk), format: "jwk" });
const publicJwk = JSON.parse(key.publicJwks).keys[0];
const publicKey = createPublicKey({ key: publicJwk, format: "jwk" });
const HEADER = Buffer.from(JSON.stringify({ alg: "EdDSA", kid: key.kid, typ: TYP })).toString("base64url");
function signClaims(c) {
  const input = `${HEADER}.${Buffer.from(JSON.stringify(c)).toString("base64url")}`;
  return `${input}.${edSign(null, Buffer.from(input), privateKey).toString("base64url")}`;
}
let serial = 0;
/** `n` distinct 16-signal bundles (distinct `jti`, so distinct signatures). */
function freshTokens(n, base) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = signClaims({ ...base, jti: `b-bench-${++serial}` });
  return out;
}

const results = { node: process.version, v8: process.versions.v8, quick: QUICK };

// --- 1. verify + evaluate, 16 signals, never-seen tokens -------------------------------
const base16 = claims({ n: 16 });
const sample = signClaims(base16);
results.bundle16_bytes = sample.length;
{
  // Sanity: the wasm gate, jose and the wasm Signer agree on this bundle.
  const gate = new sg.Gate(POLICY, key.publicJwks, { audience: "signalgate" });
  const d = gate.decideForPage(sample, CTX);
  if (d.tier !== "curated" || d.error) throw new Error(`the gate refused the bench bundle: ${JSON.stringify(d)}`);
  results.bundle16_segments = d.segments.length;
  gate.free();
}
const joseKey = await jose.importJWK(publicJwk, "EdDSA");
{
  const { payload } = await jose.jwtVerify(sample, joseKey, { algorithms: ["EdDSA"], typ: TYP, audience: "signalgate" });
  if (payload.sig.length !== 16) throw new Error("jose read the bundle wrongly");
}

log(`16-signal bundle: ${sample.length} bytes, ${results.bundle16_segments} segments permitted`);
const subtleKey = await webcrypto.subtle.importKey("raw", Buffer.from(publicJwk.x, "base64url"), { name: "Ed25519" }, false, ["verify"]);
{
  const gate = new sg.Gate(POLICY, key.publicJwks, { audience: "signalgate" });
  const wasmOnly = new sg.Gate(POLICY, key.publicJwks, { audience: "signalgate", ed25519: "wasm" });
  const viaSubtle = new sg.Gate(POLICY, key.publicJwks, { audience: "signalgate", ed25519: "webcrypto" });
  results.gate_ed25519 = gate.ed25519;
  if (gate.ed25519 !== "node:crypto" || wasmOnly.ed25519 !== "wasm") throw new Error(`unexpected Ed25519 backends: ${gate.ed25519}, ${wasmOnly.ed25519}`);
  const split = (t) => { const i = t.lastIndexOf("."); return [Buffer.from(t.slice(0, i)), Buffer.from(t.slice(i + 1), "base64url")]; };
  // The gate (default: Ed25519 by node:crypto; then all in wasm; then through
  // WebCrypto, awaited one by one), jose, and the hosts' bare Ed25519 (sync
  // node:crypto; WebCrypto awaited one by one) on the same kind of
  // never-seen bundles, batches interleaved.
  [results.wasm_verify_eval_16, results.jose_verify_16, results.node_ed25519_verify_16, results.wasm_only_verify_eval_16,
    results.async_webcrypto_verify_eval_16, results.webcrypto_ed25519_verify_16] = await benchTogether([
    (n) => {
      const tokens = freshTokens(n, base16);
      return () => { for (let i = 0; i < n; i++) { if (gate.decideForPage(tokens[i], CTX).error) throw new Error("refused"); } };
    },
    (n) => {
      const tokens = freshTokens(n, base16);
      return async () => {
        for (let i = 0; i < n; i++) await jose.jwtVerify(tokens[i], joseKey, { algorithms: ["EdDSA"], typ: TYP, audience: "signalgate" });
      };
    },
    (n) => {
      const items = freshTokens(n, base16).map(split);
      return () => { for (let i = 0; i < n; i++) if (!edVerify(null, items[i][0], publicKey, items[i][1])) throw new Error("bad sig"); };
    },
    (n) => {
      const tokens = freshTokens(n, base16);
      return () => { for (let i = 0; i < n; i++) { if (wasmOnly.decideForPage(tokens[i], CTX).error) throw new Error("refused"); } };
    },
    (n) => {
      const tokens = freshTokens(n, base16);
      return async () => { for (let i = 0; i < n; i++) { if ((await viaSubtle.decideForPageAsync(tokens[i], CTX)).error) throw new Error("refused"); } };
    },
    (n) => {
      const items = freshTokens(n, base16).map(split);
      return async () => {
        for (let i = 0; i < n; i++) if (!(await webcrypto.subtle.verify("Ed25519", subtleKey, items[i][1], items[i][0]))) throw new Error("bad sig");
      };
    },
  ]);
  log(`wasm  Gate.decideForPage, fresh token (verify + evaluate): ${fmt(results.wasm_verify_eval_16)}  [Ed25519: ${gate.ed25519}]`);
  log(`jose  jwtVerify (EdDSA, Node crypto), same bundles:        ${fmt(results.jose_verify_16)}`);
  log(`node  crypto.verify Ed25519 only (no JSON, no checks):     ${fmt(results.node_ed25519_verify_16)}`);
  log(`wasm  the same, ed25519: "wasm" (verify_strict in wasm):   ${fmt(results.wasm_only_verify_eval_16)}`);
  log(`wasm  await decideForPageAsync, ed25519: "webcrypto":      ${fmt(results.async_webcrypto_verify_eval_16)}`);
  log(`node  await crypto.subtle.verify Ed25519 only:             ${fmt(results.webcrypto_ed25519_verify_16)}`);
  // Where a fresh bundle's time goes inside wasm (mean µs per step).
  results.fresh_steps_16 = wasmOnly.benchmarkFreshSteps(sample, CTX, QUICK ? 100 : 400);
  log(`wasm  a fresh bundle's steps in wasm: ${Object.entries(results.fresh_steps_16).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")} µs`);
  wasmOnly.free();
  viaSubtle.free();

  // --- 2. a repeat visitor: the same token again (cache answers) ---------------------
  const token = freshTokens(1, base16)[0];
  gate.decideForPage(token, CTX);
  results.wasm_cached_16 = await bench((n) => () => { for (let i = 0; i < n; i++) gate.decideForPage(token, CTX); });
  log(`wasm  Gate.decideForPage, cached token (repeat visitor):   ${fmt(results.wasm_cached_16)}`);
  // The same token as a new string on every call (as when a page reads
  // document.cookie again, or a Worker gets a new request): the lookup
  // compares the whole string once. Making the string is timed too, and
  // alone beside it.
  const fresh = (t) => (t + " ").slice(0, -1);
  let sink = 0;
  [results.wasm_cached_16_new_string, results.js_new_string_16] = await benchTogether([
    (n) => () => { for (let i = 0; i < n; i++) gate.decideForPage(fresh(token), CTX); },
    (n) => () => { for (let i = 0; i < n; i++) sink += fresh(token).charCodeAt(i & 1023); },
  ]);
  log(`wasm  the same, token a new string on each call:           ${fmt(results.wasm_cached_16_new_string)}`);
  log(`js    making that string alone:                            ${fmt(results.js_new_string_16)}${sink < 0 ? "!" : ""}`);
  // A new context object on each call, with the same members (as a page or
  // a Worker that writes the context inline): its conversion is reused.
  results.wasm_cached_16_new_ctx = await bench((n) => () => { for (let i = 0; i < n; i++) gate.decideForPage(fresh(token), { ...CTX, purposes: ["personalization"] }); });
  log(`wasm  the same, new string, new context object each call:  ${fmt(results.wasm_cached_16_new_ctx)}`);
  // A deeply frozen context (Object.freeze, its purposes too): one comparison.
  const FROZEN = Object.freeze({ ...CTX, purposes: Object.freeze([...CTX.purposes]) });
  results.wasm_cached_16_frozen_ctx = await bench((n) => () => { for (let i = 0; i < n; i++) gate.decideForPage(fresh(token), FROZEN); });
  log(`wasm  the same, new string, frozen context:                ${fmt(results.wasm_cached_16_frozen_ctx)}`);
  results.wasm_cached_16_decide = await bench((n) => () => { for (let i = 0; i < n; i++) gate.decide(token, CTX); });
  log(`wasm  Gate.decide (full reasons), cached token:            ${fmt(results.wasm_cached_16_decide)}`);
  // The JS <-> wasm glue alone (context in, decision out, no bundle): the floor under any decision.
  results.wasm_no_bundle = await bench((n) => () => { for (let i = 0; i < n; i++) gate.decideForPage(undefined, CTX); });
  log(`wasm  Gate.decideForPage, no bundle (glue + generic tier): ${fmt(results.wasm_no_bundle)}`);
  gate.free();
}

// --- 3. evaluation scaling: N signals x M segment rules, cached token ----------------------
const CLASSES = {
  interest: { categories: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`int-${i}`, `icat-${i % 4}`])), cardinality: "many" },
  brand: { values: Array.from({ length: 16 }, (_, i) => `brand-${i}`), cardinality: "many" },
  sport: { categories: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`sport-${i}`, `scat-${i % 4}`])), cardinality: "many" },
  topic: { values: Array.from({ length: 16 }, (_, i) => `topic-${i}`), cardinality: "many" },
  store: { values: Array.from({ length: 8 }, (_, i) => `store-${i}`), cardinality: "many" },
  contact_channel: { values: ["email", "sms", "push", "none"], cardinality: "many", exposes: "channel" },
  language: { values: ["en", "de", "fr", "es", "it", "nl"], cardinality: "one" },
  price_band: { values: ["budget", "mid", "premium"], cardinality: "one" },
};
const CLASS_NAMES = Object.keys(CLASSES);
const vocab = (cls) => CLASSES[cls].values ?? Object.keys(CLASSES[cls].categories);
const cats = (cls) => [...new Set(Object.values(CLASSES[cls].categories ?? {}))];

/** A valid policy with `m` segments whose rules have 4-7 nodes each. */
function syntheticPolicy(m) {
  const classes = {};
  for (const [name, c] of Object.entries(CLASSES)) {
    classes[name] = {
      ...c, ttl: "365d", reconfirm_lead: "14d", purposes: ["personalization", "marketing_email"],
      channels: ["web", "email", "app"], legal_basis: ["consent"], retention: "730d", deletion: "erase", sensitivity: "low",
    };
  }
  classes.interest.soft_expiry = { after: "180d", window: "30d" };
  const sig = (cls, i, within) => {
    const s = { class: cls };
    if (cats(cls).length && i % 2) s.category = cats(cls)[i % cats(cls).length];
    else s.value = vocab(cls)[i % vocab(cls).length];
    if (within) s.within = within;
    return { signal: s };
  };
  const segments = {};
  for (let i = 0; i < m; i++) {
    const a = CLASS_NAMES[i % 8], b = CLASS_NAMES[(i + 3) % 8], c = CLASS_NAMES[(i + 5) % 8], d = CLASS_NAMES[(i + 6) % 8];
    let rule;
    switch (i % 4) {
      case 0: rule = { all: [sig(a, i), { any: [sig(b, i + 1), sig(c, i + 2, "30d")] }, { not: sig(d, i + 3) }] }; break;
      case 1: rule = { any: [sig(a, i), sig(b, i * 3), sig(c, i + 7)] }; break;
      case 2: rule = { all: [sig(a, i + 1), sig(b, i), { confidence: 0.8 }] }; break;
      default: rule = { all: [sig(a, i, "90d"), { not: { any: [sig(d, i), sig(c, i + 1)] } }] };
    }
    segments[`seg-${i}`] = { token: `sgt_bench_${String(i).padStart(4, "0")}`, purpose: i % 5 === 4 ? "marketing_email" : "personalization", rule };
  }
  return JSON.stringify({
    schema: 1, version: "bench-1", tenant: "demo-shop", identity_confidence_threshold: 0.6,
    purposes: { personalization: { gpc_opt_out: false }, marketing_email: { gpc_opt_out: false } },
    classes, segments, tiers: { curated_min_segments: 1, contextual: "with_bundle" },
    exposure: { page: ["tier", "segments"], upstream: ["tier", "segments", "policy_version"] },
  });
}

/** A bundle with `n` signals spread over the synthetic classes. */
function syntheticClaims(n) {
  const t = now();
  const sig = [];
  for (let i = 0; i < n; i++) {
    const cls = CLASS_NAMES[i % 8];
    const vs = vocab(cls);
    sig.push({ id: `s${i + 1}`, cls, val: vs[(i * 5 + (i >> 3)) % vs.length], src: "web", cap: t - 86400 * (i % 60), exp: t + 86400 * 300, ver: 1, con: "c1", prv: "q83vEjRWeJASNFZ4kBI0Vg" });
  }
  return { ...claims({ n: 0, t }), pv: "bench-1", jti: `b-scale-${n}`, sig };
}

/**
 * The repeat visitor's decision measured inside wasm (Gate.benchmarkDecision:
 * cache hit, re-check, revocation, evaluation; no JS boundary), as the Worker
 * pays it: the summary (`full` false, as decideForPage) or the full decision
 * with reasons (as decide). Median of 7 runs of ~50 ms each.
 */
function inWasm(gate, token, full = false) {
  let k = 16;
  while (gate.benchmarkDecision(token, CTX, k, full) * k < 50_000 && k < 1 << 22) k *= 2;
  const runs = Array.from({ length: 7 }, () => gate.benchmarkDecision(token, CTX, k, full)).sort((a, b) => a - b);
  return { us: runs[3], iterations: k, runs: 7 };
}

results.scale = {};
{
  // All sizes set up first, then measured with their batches interleaved, so
  // a busy machine cannot fake (or hide) a non-linear step between two sizes.
  const cases = [[16, 8], [32, 64], [64, 64], [128, 128], [256, 256]].map(([n, m]) => {
    const label = `${n}x${m}`;
    const policy = n === 16 ? POLICY : syntheticPolicy(m);
    const token = n === 16 ? freshTokens(1, base16)[0] : signClaims(syntheticClaims(n));
    const gate = new sg.Gate(policy, key.publicJwks, { audience: "signalgate", maxBundleBytes: 262144 });
    const first = gate.decide(token, CTX);
    if (first.error) throw new Error(`${label}: the gate refused the synthetic bundle: ${JSON.stringify(first.error)}`);
    return { n, m, label, policy, token, gate, first };
  });
  const decide = await benchTogether(cases.map(({ gate, token }) => (k) => () => { for (let i = 0; i < k; i++) gate.decide(token, CTX); }));
  const page = await benchTogether(cases.map(({ gate, token }) => (k) => () => { for (let i = 0; i < k; i++) gate.decideForPage(token, CTX); }));
  // The same, the token a new string on each call (made inside the timed loop).
  const anew = (t) => (t + " ").slice(0, -1);
  const pageNew = await benchTogether(cases.map(({ gate, token }) => (k) => () => { for (let i = 0; i < k; i++) gate.decideForPage(anew(token), CTX); }));
  cases.forEach(({ n, m, label, policy, token, gate, first }, i) => {
    results.scale[label] = { signals: n, segments_in_policy: m, token_bytes: token.length, policy_bytes: policy.length, permitted: first.segments.length, tier: first.tier, decide: decide[i], decide_for_page: page[i], decide_for_page_new_string: pageNew[i], in_wasm: inWasm(gate, token), in_wasm_full: inWasm(gate, token, true) };
    const r = results.scale[label];
    log(`wasm  ${label.padEnd(7)} decideForPage: in wasm ${r.in_wasm.us.toFixed(2).padStart(8)}, through JS ${page[i].us.toFixed(2).padStart(8)} µs/op (${(page[i].us / r.in_wasm.us).toFixed(2)}x; token a new string: ${pageNew[i].us.toFixed(2)}); decide: in wasm ${r.in_wasm_full.us.toFixed(2).padStart(8)}, through JS ${decide[i].us.toFixed(2).padStart(8)} µs/op (${(decide[i].us / r.in_wasm_full.us).toFixed(2)}x)  (${n === 16 ? "demo policy" : "synthetic"}, token ${token.length} B, ${first.segments.length} permitted)`);
    gate.free();
  });
}

// --- 4. building a Gate from the demo policy ---------------------------------------------
results.wasm_gate_new = await bench((n) => () => {
  for (let i = 0; i < n; i++) new sg.Gate(POLICY, key.publicJwks, { audience: "signalgate" }).free();
});
log(`wasm  new Gate(demo policy, jwks):                          ${fmt(results.wasm_gate_new)}`);

// --- 5. flat memory: many decisions over a pool of distinct bundles ---------------------
// One gate (one isolate), a pool larger than its cache (1,024 bundles within
// 8 MiB: about 400 of these), so
// that bundles are verified, cached, evicted and verified again all along;
// one decision in ten with full reasons. After a warm-up, wasm memory must
// not grow at all, and the JS heap (after a full GC) stay within 1 MB.
{
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  const TOTAL = QUICK ? 20_000 : 100_000, WARM = TOTAL / 5, POOL = 1_500;
  const pool = freshTokens(POOL, base16);
  const gate = new sg.Gate(POLICY, key.publicJwks, { audience: "signalgate" });
  let state = 12345;
  const pick = () => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return pool[(state >>> 8) % POOL]; };
  const samples = [];
  const sample = (done) => { gc(); samples.push({ decisions: done, wasm_bytes: sg.wasmMemoryBytes(), js_heap_bytes: process.memoryUsage().heapUsed }); };
  const t0 = hr();
  for (let i = 1; i <= TOTAL; i++) {
    const d = i % 10 ? gate.decideForPage(pick(), CTX) : gate.decide(pick(), CTX);
    if (d.error) throw new Error(`the gate refused a pool bundle: ${d.error.code}`);
    if (i % WARM === 0) sample(i);
  }
  const seconds = Number(hr() - t0) / 1e9;
  const warm = samples[0], last = samples[samples.length - 1];
  const maxOf = (k) => Math.max(...samples.slice(1).map((x) => x[k]));
  results.memory = {
    decisions: TOTAL, pool: POOL, cached: gate.cachedBundles, seconds, samples,
    wasm_growth_bytes: maxOf("wasm_bytes") - warm.wasm_bytes, js_heap_growth_bytes: maxOf("js_heap_bytes") - warm.js_heap_bytes,
  };
  const mb = (b) => `${(b / 1048576).toFixed(2)} MB`;
  log(`mem   ${TOTAL} decisions over ${POOL} distinct bundles (${seconds.toFixed(1)} s, ${gate.cachedBundles} cached at the end): wasm ${samples.map((x) => mb(x.wasm_bytes)).join(" -> ")}; JS heap ${samples.map((x) => mb(x.js_heap_bytes)).join(" -> ")}`);
  gate.free();
}

// --- 6. the goals of issue 14 that this file measures: figure, goal, verdict ---------------
// Each row: the figure from JS next to the in-wasm (or host) figure it is
// held against. A missed goal keeps its figure; a figure that could not be
// measured is reported as missing.
{
  const sc = results.scale;
  const goal = (id, metric, figure, anchor, limit, anchorLabel) => {
    const ratio = figure != null && anchor != null ? figure / anchor : null;
    return { id, metric, figure_us: figure ?? null, anchor_us: anchor ?? null, anchor: anchorLabel, ratio,
      goal: anchorLabel ? `<= ${limit}x ${anchorLabel}` : `<= ${limit} µs`, limit,
      verdict: figure == null ? "MISSING" : (anchorLabel ? ratio <= limit : figure <= limit) ? "ok" : "MISSED" };
  };
  const mem = results.memory;
  results.goals = [
    goal("cached_page_js", "repeat visitor, cached, decideForPage from JS (same token string)", results.wasm_cached_16?.us, null, 5),
    goal("cached_page_js_new_string", "  the same, the token a new string on each call", results.wasm_cached_16_new_string?.us, null, 5),
    goal("cached_page_js_new_ctx", "  the same, a new string and a new context object on each call", results.wasm_cached_16_new_ctx?.us, null, 5),
    goal("cached_page_js_frozen_ctx", "  the same, a new string, a frozen context", results.wasm_cached_16_frozen_ctx?.us, null, 5),
    goal("decide_256_js", "decide with reasons from JS, 256 x 256", sc["256x256"]?.decide?.us, sc["256x256"]?.in_wasm_full?.us, 3, "in wasm"),
    goal("page_256_js", "decideForPage from JS, 256 signals (48 KB token)", sc["256x256"]?.decide_for_page?.us, sc["256x256"]?.in_wasm?.us, 2, "in wasm"),
    goal("page_256_js_new_string", "  the same, the token a new string on each call", sc["256x256"]?.decide_for_page_new_string?.us, sc["256x256"]?.in_wasm?.us, 2, "in wasm"),
    goal("fresh_16_node", "fresh 16-signal verify + evaluate (decideForPage, Ed25519 by node:crypto)", results.wasm_verify_eval_16?.us, results.node_ed25519_verify_16?.us, 1.3, "node:crypto verify alone"),
    goal("fresh_16_webcrypto", "fresh 16-signal verify + evaluate (await decideForPageAsync, WebCrypto)", results.async_webcrypto_verify_eval_16?.us, results.webcrypto_ed25519_verify_16?.us, 1.3, "await crypto.subtle.verify alone"),
    { id: "memory_wasm", metric: `wasm memory over ${mem.decisions} decisions, ${mem.pool} distinct bundles, after warm-up`, figure: `+${mem.wasm_growth_bytes} bytes`, goal: "flat (+0 bytes)", verdict: mem.wasm_growth_bytes <= 0 ? "ok" : "MISSED" },
    { id: "memory_js", metric: "  JS heap after a full GC, the same run", figure: `${mem.js_heap_growth_bytes >= 0 ? "+" : ""}${(mem.js_heap_growth_bytes / 1024).toFixed(0)} KB`, goal: "flat (<= +1 MB)", verdict: mem.js_heap_growth_bytes <= 1 << 20 ? "ok" : "MISSED" },
  ];
  for (const g of results.goals) {
    const figure = g.figure ?? (g.figure_us == null ? "missing" : `${g.figure_us.toFixed(2)} µs${g.anchor_us != null ? ` (${g.anchor} ${g.anchor_us.toFixed(2)} µs: ${g.ratio.toFixed(2)}x)` : ""}`);
    log(`goal  ${g.metric}: ${figure}; goal ${g.goal}: ${g.verdict}`);
  }
}

if (OUT) {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(results, null, 2) + "\n");
}
