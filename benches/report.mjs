// Gathers what pkg-scripts/bench measured (build/bench/*.json and criterion's
// estimates), prints one table against the project's budgets, and writes
// build/bench/report.json, report.svg and (with Chromium) report.png.
//   node benches/report.mjs <bench dir> <native stamp file> [--no-png]
// Exit status: 0, or 3 when a figure could not be measured at all.
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { brotliCompressSync, constants as zc } from "node:zlib";
import { join, relative, resolve } from "node:path";
import { ROOT } from "../tests/js/helpers.mjs";

const [dirArg = join(ROOT, "build", "bench"), STAMP] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const DIR = resolve(dirArg);
const NO_PNG = process.argv.includes("--no-png");
const read = (name) => { const p = join(DIR, name); return existsSync(p) ? JSON.parse(readFileSync(p, "utf8")) : null; };
const wasm = read("wasm.json");
const sizes = read("sizes.json");
const workerd = read("workerd.json");
const meta = read("meta.json") ?? {};

// ---------- native: criterion estimates written during this run ----------
function criterionEstimates() {
  const root = join(ROOT, "target", "criterion");
  if (!existsSync(root)) return [];
  const since = STAMP && existsSync(STAMP) ? statSync(STAMP).mtimeMs : 0;
  const found = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) { if (e.name !== "report" && e.name !== "base" && e.name !== "change") walk(p); continue; }
      if (e.name !== "estimates.json" || !dir.endsWith(`${"/"}new`)) continue;
      if (statSync(p).mtimeMs < since) continue; // from an earlier run
      const est = JSON.parse(readFileSync(p, "utf8"));
      let id = relative(root, dirname(dir));
      const bj = join(dir, "benchmark.json");
      if (existsSync(bj)) id = JSON.parse(readFileSync(bj, "utf8")).full_id ?? id;
      found.push({ id, ns: est.mean.point_estimate, ci_ns: [est.mean.confidence_interval.lower_bound, est.mean.confidence_interval.upper_bound] });
    }
  };
  walk(root);
  return found.sort((a, b) => a.id.localeCompare(b.id));
}
function dirname(p) { return p.slice(0, p.lastIndexOf("/")); }
const native = criterionEstimates();
/** The native bench whose id matches all of `res` (and none of `not`), if exactly one does. */
function nativeMatch(res, not = []) {
  const hits = native.filter((n) => res.every((r) => r.test(n.id)) && !not.some((r) => r.test(n.id)));
  return hits.length === 1 ? hits[0] : hits.length > 1 ? hits.sort((a, b) => a.id.length - b.id.length)[0] : null;
}
const nat = {
  verify16: nativeMatch([/end.to.end|decide/i, /\b16\b/], [/cach|hit|repeat/i]) ?? nativeMatch([/verif/i, /\b16\b/], [/cach|hit|repeat|jose/i]),
  cached: nativeMatch([/cach|hit|repeat/i]),
  scale: Object.fromEntries(["32x64", "64x64", "128x128", "256x256"].map((l) => {
    const [a, b] = l.split("x");
    const size = new RegExp(`(^|\\D)${a}\\D+${b}(\\D|$)`);
    // The wasm figures are summary decisions (the hot path): compare like with like.
    return [l, nativeMatch([size, /summary/i], [/cach/i]) ?? nativeMatch([size], [/cach/i])];
  })),
  gateNew: nativeMatch([/gate[_ /-]?new|new[_ /-]?gate|construct|build[_ /-]?gate|policy[_ /-]?parse|parse[_ /-]?policy|from_json/i]),
};

// ---------- formatting ----------
const us = (x) => (x == null ? null : x >= 1000 ? `${(x / 1000).toFixed(2)} ms` : x >= 100 ? `${x.toFixed(0)} µs` : x >= 10 ? `${x.toFixed(1)} µs` : `${x.toFixed(2)} µs`);
const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
// A ratio ("0.93x") from JSON, where it is null when a run served nothing (JSON has no Infinity or NaN).
const fx = (v) => (v == null || !Number.isFinite(v) ? "n/a" : `${v.toFixed(2)}x`);
const times = (r) => (r >= 10 ? `${r.toFixed(0)}x` : `${r.toFixed(2)}x`);
const missing = [];
const rows = []; // { metric, measured, budget, verdict, kind }
function row(metric, measured, budget, verdict) { rows.push({ metric, measured: measured ?? "missing", budget, verdict: measured == null ? "MISSING" : verdict }); if (measured == null) missing.push(metric); }
const atMost = (v, limit, fmt) => (v <= limit ? "ok" : `MISSED by ${times(v / limit)} (${fmt(v - limit)} over)`);
const atLeastRatio = (r, limit) => (r == null || !Number.isFinite(r) ? "MISSED: no ratio (an anchor run served nothing)" : r >= limit ? "ok" : `MISSED by ${((1 - r / limit) * 100).toFixed(0)}% (${r.toFixed(2)}x < ${limit}x)`);

// ---------- wasm in Node ----------
const w = wasm ?? {};
const jose = w.jose_verify_16?.us;
row("verify+evaluate, 16 signals, wasm (fresh token)", us(w.wasm_verify_eval_16?.us),
  jose != null ? `<= jose jwtVerify (${us(jose)})` : "<= jose jwtVerify",
  w.wasm_verify_eval_16 && jose != null ? (w.wasm_verify_eval_16.us <= jose ? `ok (${times(w.wasm_verify_eval_16.us / jose)} of jose)` : `MISSED by ${times(w.wasm_verify_eval_16.us / jose)} (${us(w.wasm_verify_eval_16.us - jose)} slower)`) : "MISSING");
row("  jose jwtVerify, same bundles (Node crypto)", us(jose), "anchor", "-");
row("  node:crypto Ed25519 verify only", us(w.node_ed25519_verify_16?.us), "reference", "-");
const sc = w.scale ?? {};
const cachedIn = sc["16x8"]?.in_wasm;
row("cached decision in wasm (repeat visitor, as the Worker pays it)", us(cachedIn?.us), "<= 5 µs", cachedIn ? atMost(cachedIn.us, 5, us) : "MISSING");
row("  the same through the JS API (decideForPage)", us(w.wasm_cached_16?.us), "-", w.wasm_cached_16 ? "info" : "MISSING");
row("  decideForPage without a bundle (JS glue floor)", us(w.wasm_no_bundle?.us), "-", w.wasm_no_bundle ? "info" : "MISSING");
for (const l of ["16x8", "32x64", "64x64", "128x128"]) {
  if (l === "16x8") continue; // the demo policy, shown in the chart only
  row(`evaluate ${l} (signals x segments), cached, in wasm`, us(sc[l]?.in_wasm?.us), "-", sc[l] ? "info" : "MISSING");
}
row("evaluate 256x256, cached, in wasm", us(sc["256x256"]?.in_wasm?.us), "<= 50 µs", sc["256x256"]?.in_wasm ? atMost(sc["256x256"].in_wasm.us, 50, us) : "MISSING");
row("  256x256 through the JS API (decide, full reasons)", us(sc["256x256"]?.decide?.us), "-", sc["256x256"] ? "info" : "MISSING");
if (sc["256x256"]?.in_wasm && sc["128x128"]?.in_wasm && sc["64x64"]?.in_wasm) {
  const r1 = sc["128x128"].in_wasm.us / sc["64x64"].in_wasm.us, r2 = sc["256x256"].in_wasm.us / sc["128x128"].in_wasm.us;
  row("  linearity: time ratio per doubling of N", `${r1.toFixed(2)}x, ${r2.toFixed(2)}x`, "~2x linear (<= 2.5x)",
    Math.max(r1, r2) <= 2.5 ? "ok" : `MISSED: ${Math.max(r1, r2).toFixed(2)}x per doubling (superlinear)`);
} else row("  linearity: time ratio per doubling of N", null, "~2x linear (<= 2.5x)");
row("  256x256 through decideForPage (tier + tokens only)", us(sc["256x256"]?.decide_for_page?.us), "-", sc["256x256"] ? "info" : "MISSING");
row("new Gate(demo policy, jwks), wasm", us(w.wasm_gate_new?.us), "-", w.wasm_gate_new ? "info" : "MISSING");

// The JS API's goals (issue 14), as benches/wasm.mjs judged them: the figure
// from JS next to the in-wasm (or the host's) figure it is held against.
if (w.goals) {
  for (const g of w.goals) {
    const figure = g.figure ?? (g.figure_us == null ? null : `${us(g.figure_us)}${g.anchor_us != null ? ` (${g.anchor} ${us(g.anchor_us)}: ${times(g.ratio)})` : ""}`);
    row(`JS API: ${g.metric}`, figure, g.goal, g.verdict === "MISSED" ? `MISSED${g.ratio != null ? ` (${times(g.ratio)})` : ` (${figure})`}` : g.verdict);
  }
} else row("JS API goals (benches/wasm.mjs)", null, "see benches/wasm.mjs");

// ---------- sizes ----------
row("gate wasm (pkg/web/signalgate_bg.wasm), gzip -9", sizes ? `${kb(sizes.gate_wasm.gzip)} (${kb(sizes.gate_wasm.raw)} raw)` : null, "<= 150 KB gzip",
  sizes ? atMost(sizes.gate_wasm.gzip, 150 * 1024, kb) : "MISSING");
row("whole Worker (js + mjs + wasm + snippets), gzip -9", sizes ? `${kb(sizes.worker.gzip)} (${kb(sizes.worker.raw)} raw)` : null, "<= 300 KB gzip",
  sizes ? atMost(sizes.worker.gzip, 300 * 1024, kb) : "MISSING");
// Brotli (quality 11) of the same files, as a CDN would serve them.
const brotli = (files) => files.every((f) => existsSync(f)) ? brotliCompressSync(Buffer.concat(files.map((f) => readFileSync(f))), { params: { [zc.BROTLI_PARAM_QUALITY]: 11 } }).length : null;
const gateBr = brotli([join(ROOT, "build", "pkg", "web", "signalgate_bg.wasm")]);
const workerBr = sizes?.worker?.files ? brotli(sizes.worker.files.map((f) => resolve(ROOT, f))) : null;
row("  brotli -11: gate wasm, whole Worker", gateBr != null && workerBr != null ? `${kb(gateBr)}, ${kb(workerBr)}` : null, "-", gateBr != null && workerBr != null ? "info" : "MISSING");
// The browser wasm's largest items (twiggy, written by pkg-scripts/build pkg),
// leaving out the name and wasm-bindgen sections that wasm-bindgen strips.
const top = existsSync(join(ROOT, "build", "size", "web-top.json")) ? JSON.parse(readFileSync(join(ROOT, "build", "size", "web-top.json"), "utf8")) : null;
if (top) {
  const items = top.filter((t) => !/section|subsection|^export |^import |__wbindgen_describe/.test(t.name)).slice(0, 8);
  const short = (n) => n.replace(/\[[0-9a-f]{16}\]/g, "").replace(/^<(.{0,70}).*$/, "<$1").slice(0, 80);
  items.forEach((t, i) => row(`  size profile #${i + 1}: ${short(t.name)}`, `${kb(t.shallow_size)} raw`, "-", "info (twiggy top, before wasm-bindgen)"));
} else row("  size profile (twiggy)", null, "-", "MISSING: run pkg-scripts/build size-profile");

// ---------- workerd ----------
const runs = workerd?.runs ?? {};
const rps = (r) => (r ? `${r.rps.toFixed(0)} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms` : null);
row("workerd (a) pass-through, /", rps(runs.pass_index), "baseline", runs.pass_index ? "-" : "MISSING");
row("workerd (b) gate + valid bundle, / (4 KB)", rps(runs.gate_index), runs.pass_index ? `>= 0.9x (a) = ${(0.9 * runs.pass_index.rps).toFixed(0)} req/s` : ">= 0.9x (a)",
  runs.gate_index && runs.pass_index ? atLeastRatio(workerd.ratio_index, 0.9) : "MISSING");
row("workerd (d) pass-through, 50 KB page", rps(runs.pass_big), "baseline", runs.pass_big ? "-" : "MISSING");
row("workerd (c) gate + HTML filter, 50 KB page", rps(runs.gate_big), runs.pass_big ? `>= 0.9x (d) = ${(0.9 * runs.pass_big.rps).toFixed(0)} req/s` : ">= 0.9x (d)",
  runs.gate_big && runs.pass_big ? atLeastRatio(workerd.ratio_big, 0.9) : "MISSING");
row("  workerd (e) gate without a bundle, / (generic page)", rps(runs.gate_index_nobundle), runs.pass_index ? "info: gate plumbing + filter, no decision work" : "-",
  runs.gate_index_nobundle && runs.pass_index ? `info: ${fx(runs.gate_index_nobundle.rps / runs.pass_index.rps)} (a)` : "MISSING");
row("  workerd (f) pass-through + HTMLRewriter, / (no gate)", rps(runs.rewriter_index), "info: the runtime's rewriter alone",
  runs.rewriter_index && runs.pass_index ? `info: ${fx(runs.rewriter_index.rps / runs.pass_index.rps)} (a); (b) is ${fx(workerd.ratio_index_vs_rewriter)} (f)` : "MISSING");
row("  workerd (g) pass-through + HTMLRewriter, 50 KB (no gate)", rps(runs.rewriter_big), "info: the runtime's rewriter alone",
  runs.rewriter_big && runs.pass_big ? `info: ${fx(runs.rewriter_big.rps / runs.pass_big.rps)} (d); (c) is ${fx(workerd.ratio_big_vs_rewriter)} (g)` : "MISSING");
row("workerd (b) gate + bundle, / (filtered) vs (f) pass-through + HTMLRewriter", workerd?.ratio_index_vs_rewriter != null ? `${fx(workerd.ratio_index_vs_rewriter)} (f)` : null, ">= 1.0x (f)",
  workerd?.ratio_index_vs_rewriter != null ? atLeastRatio(workerd.ratio_index_vs_rewriter, 1.0) : "MISSING");
row("workerd (c) gate + filter, 50 KB vs (g) pass-through + HTMLRewriter", workerd?.ratio_big_vs_rewriter != null ? `${fx(workerd.ratio_big_vs_rewriter)} (g)` : null, ">= 1.0x (g)",
  workerd?.ratio_big_vs_rewriter != null ? atLeastRatio(workerd.ratio_big_vs_rewriter, 1.0) : "MISSING");
row("workerd (i) pass-through, 50 KB page without markup", rps(runs.pass_plain), "baseline", runs.pass_plain ? "-" : "MISSING");
row("workerd (h) gate header-only: same page, no filter (SG_PLAIN_ROUTES)", rps(runs.gate_plain), runs.pass_plain ? `>= 0.9x (i) = ${(0.9 * runs.pass_plain.rps).toFixed(0)} req/s` : ">= 0.9x (i)",
  runs.gate_plain && runs.pass_plain ? atLeastRatio(workerd.ratio_plain, 0.9) : "MISSING");
if (workerd?.runs) {
  const bad = Object.values(runs).reduce((s, r) => s + r.non2xx + r.errors + r.timeouts, 0);
  row("workerd non-2xx + errors + timeouts (all runs)", String(bad), "0", bad === 0 ? "ok" : `MISSED: ${bad} failed requests`);
} else row("workerd non-2xx + errors + timeouts (all runs)", null, "0");
const cold = workerd?.cold;
row("cold start: gate, first request (fresh isolate)", cold ? `${cold.gate.first_ms.toFixed(0)} ms (warm ${cold.gate.warm_median_ms.toFixed(1)} ms)` : null,
  cold ? `pass-through: ${cold.pass.first_ms.toFixed(0)} ms (warm ${cold.pass.warm_median_ms.toFixed(1)} ms)` : "anchor: pass-through", cold ? `+${(cold.gate.first_ms - cold.gate.warm_median_ms).toFixed(0)} ms cold` : "MISSING");
// The breakdown over fresh Workers (benches/workerd.mjs): the goal is on the gate's
// first request with a bundle against the pass-through's first request.
const cb = workerd?.cold_breakdown;
const signed = (v) => `${v >= 0 ? "+" : ""}${v.toFixed(1)} ms`;
row(`cold start over pass-through: first request with a bundle (median of ${cb?.gate_bundle?.samples?.length ?? "N"} fresh Workers)`,
  cb ? `${signed(cb.over_pass_ms)} (${cb.gate_bundle.first_ms.toFixed(0)} vs ${cb.pass.first_ms.toFixed(0)} ms)` : null, "<= +20 ms",
  cb ? (cb.over_pass_ms <= 20 ? "ok" : `MISSED by ${(cb.over_pass_ms - 20).toFixed(1)} ms`) : "MISSING");
row("  parts (differences of first requests)", cb ? Object.entries(cb.parts_ms).map(([k, v]) => `${k.replace(/_/g, " ")} ${signed(v)}`).join("; ") : null, "-",
  cb ? `info: first request loading nothing ${cb.gate_wasm_only.first_ms.toFixed(0)} ms, without a bundle ${cb.gate_no_bundle.first_ms.toFixed(0)} ms; policy as a variable ${signed(cb.over_pass_policy_var_ms)} over pass-through` : "MISSING");
row("  the same CPU work in Node (V8)", cb?.node ? `compile ${cb.node.compile_ms.toFixed(1)} ms (${kb(cb.node.worker_wasm_bytes)} wasm); first Gate ${cb.node.gate_new_first_ms.toFixed(1)} ms; first verify + decide ${cb.node.first_verify_decide_ms.toFixed(1)} ms` : null, "-", cb?.node ? "info" : "MISSING");

// ---------- the origin ----------
const ledger = read("ledger.json");
const originRun = read("origin.json");
const perSec = (r) => (r ? `${r.ops_per_s.toFixed(0)}/s, p50 ${r.p50_us != null ? us(r.p50_us) : `${r.p50_ms.toFixed(1)} ms`}, p99 ${r.p99_us != null ? us(r.p99_us) : `${r.p99_ms.toFixed(1)} ms`}` : null);
row("origin ledger natively: submit + bundle issue (SQLite file)", perSec(ledger?.ledger),
  ledger ? `>= 0.5x bare loop (${ledger.bare_sqlite.ops_per_s.toFixed(0)}/s)` : ">= 0.5x the bare SQLite loop",
  ledger ? atLeastRatio(ledger.ratio, 0.5) : "MISSING");
row("  bare SQLite loop writing the same rows", perSec(ledger?.bare_sqlite), "anchor", ledger ? "-" : "MISSING");
row("origin through workerd (gate -> origin -> subject object)", perSec(originRun), "-",
  originRun ? `info: ${originRun.connections} callers, ${originRun.subjects} subjects, ${originRun.failed} failed` : "MISSING");

// ---------- governance: evidence packs and webhooks ----------
const gov = read("governance.json");
const ev = ledger?.evidence;
const lat3 = (r) => (r ? `p50 ${us(r.p50_us)}, p99 ${us(r.p99_us)}, mean ${us(r.mean_us)}` : null);
row(`evidence pack natively, ${ev?.events ?? 1000} events: build (Ledger::evidence)`, lat3(ev?.build),
  ev ? `anchor: bare read ${us(ev.read_verify.p50_us)} p50` : "anchor: the bare read below",
  ev ? `info: build ${times(ev.build.p50_us / ev.read_verify.p50_us)}, build + sign ${times((ev.build.p50_us + ev.sign.p50_us) / ev.read_verify.p50_us)} the bare read` : "MISSING");
row("  sign (compact JWS, EdDSA)", lat3(ev?.sign), "-", ev ? "info" : "MISSING");
row("  offline check (signature, whole chain, every value)", lat3(ev?.check), "-", ev ? `info: ${ev.values_checked} values checked` : "MISSING");
row("  bare read: load_events + verify_chain, same rows", lat3(ev?.read_verify), "anchor", ev ? "-" : "MISSING");
row("  pack size", ev ? `${kb(ev.pack_jws_bytes)} signed (${kb(ev.pack_json_bytes)} JSON)` : null, "-",
  ev ? `info: ${ev.collected} signal versions, ${ev.bundles_issued} bundles, no deliveries; ${ev.reps} reps` : "MISSING");
const gev = gov?.evidence;
const msOrS = (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`);
const msl = (r) => (r ? `p50 ${msOrS(r.p50_ms)}, p99 ${msOrS(r.p99_ms)}` : null);
row(`evidence pack through workerd, ${gev?.events ?? "N"} events (GET ...?format=jws)`, msl(gev?.jws),
  gev ? `anchor: history ${msOrS(gev.history.p50_ms)} p50` : "anchor: history",
  gev ? `info: ${times(gev.jws.p50_ms / gev.history.p50_ms)} history, ${kb(gev.pack_jws_bytes)}${gev.capped ? `, CAPPED at ${gev.events} of ${gev.target_events} events` : ""}; ${gev.reps} reps` : "MISSING");
row("  GET .../history, same subject (events read, chain verified)", msl(gev?.history), "anchor", gev ? "-" : "MISSING");
if (gov?.worker_reloads) row("  governance run: Worker reloads (watched files changed)", String(gov.worker_reloads), "0", `DISTURBED: ${gov.retried ?? 0} request(s) sent again`);
if (gov?.error) row("  governance run: failed", gov.error.slice(0, 100), "-", "FAILED: later figures missing");
const wh = gov?.webhooks;
const wo = gov?.submits_without_endpoint;
row(`webhooks through workerd: ${wh?.messages ?? "N"} signal.created, first submit -> last arrival`,
  wh ? `${wh.msgs_per_s.toFixed(0)} msg/s (${wh.delivered}/${wh.messages} delivered)` : null,
  wo ? `anchor: ${wo.ops_per_s.toFixed(0)} submits/s without an endpoint` : "anchor: submits without an endpoint",
  wh ? (wh.missing || wh.duplicates || wh.verify_failed ? `MISSED: ${wh.missing} missing, ${wh.duplicates} duplicates, ${wh.verify_failed} bad signatures`
    : `info: ${wh.connections} callers, ${wh.subjects} subjects, ${wh.verified_sample} sampled signatures verified`) : "MISSING");
row("  delivery latency, capture reply -> arrival", msl(wh?.latency), "-",
  wh ? `info: first arrival ${(wh.first_arrival_after_first_submit_ms / 1000).toFixed(1)} s after the first submit (submits took ${(wh.submit_phase_ms / 1000).toFixed(1)} s), then ${wh.drain_msgs_per_s.toFixed(0)} msg/s` : "MISSING");
row("  submits with the endpoint", perSec(gov?.submits_with_endpoint), "-",
  gov?.submits_with_endpoint && wo ? `info: ${fx(gov.submits_with_endpoint.ops_per_s / wo.ops_per_s)} without` : "MISSING");
row("  submits without an endpoint (other tenant, before + after)", perSec(wo), "anchor",
  wo ? (wo.before && wo.after ? `info: before ${wo.before.ops_per_s.toFixed(0)}/s, after ${wo.after.ops_per_s.toFixed(0)}/s` : "-") : "MISSING");
row("  the receiver alone (plain POSTs from Node)", gov?.receiver_raw ? `${gov.receiver_raw.rps.toFixed(0)} req/s, p50 ${gov.receiver_raw.p50_ms.toFixed(1)} ms, p99 ${gov.receiver_raw.p99_ms.toFixed(1)} ms` : null,
  "anchor", gov?.receiver_raw ? "-" : "MISSING");
const nwh = ledger?.webhooks;
row("webhooks natively, no HTTP: due_deliveries + delivery_result", nwh ? `${nwh.send_ops_per_s.toFixed(0)} msg/s (select + sign ${us(nwh.select_sign_us_per_msg)}, result ${us(nwh.result.mean_us)} per msg)` : null, "-",
  nwh ? `info: ${nwh.messages} msgs; fan-out from the outboxes ${us(nwh.fan_out_us_per_msg)}/msg; HMAC alone ${us(nwh.sign_only.mean_us)}` : "MISSING");

// ---------- native ----------
if (native.length === 0) {
  row("native (criterion, benches/gate.rs)", null, "anchor", "MISSING");
} else {
  // Where a native bench does the same work as a wasm figure, say how far apart they are.
  const twin = new Map([[nat.verify16, ["verify+evaluate 16 (wasm)", w.wasm_verify_eval_16?.us]], [nat.cached, ["cached decision (wasm)", cachedIn?.us]],
    [nat.gateNew, ["new Gate (wasm)", w.wasm_gate_new?.us]],
    ...Object.entries(nat.scale).map(([l, n]) => [n, [`${l} (wasm)`, sc[l]?.in_wasm?.us]])].filter(([k]) => k));
  for (const n of native) {
    const t = twin.get(n);
    row(`native: ${n.id}`, us(n.ns / 1000), t && t[1] != null ? `anchor for ${t[0]}: ${us(t[1])}` : "anchor", t && t[1] != null ? `info: wasm ${times(t[1] / (n.ns / 1000))} native` : "info");
  }
}

// ---------- print ----------
const head = ["metric", "measured", "budget / anchor", "verdict"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(Object.values(r)[i]).length)));
const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join(" | ").trimEnd();
const tty = process.stdout.isTTY;
const color = (v) => (!tty ? v : v.startsWith("MISS") ? `\x1b[31m${v}\x1b[0m` : v.startsWith("ok") ? `\x1b[32m${v}\x1b[0m` : v);
console.log(line(head));
console.log(widths.map((n) => "-".repeat(n)).join("-|-"));
for (const r of rows) {
  const cells = [r.metric, r.measured, r.budget, r.verdict];
  const text = line(cells);
  console.log(tty ? text.replace(r.verdict, color(r.verdict)) : text);
}
const misses = rows.filter((r) => r.verdict.startsWith("MISSED"));
console.log(`\n${misses.length} budget(s) missed, ${missing.length} figure(s) missing; load average at start ${(meta.load_start ?? []).map((x) => x.toFixed(2)).join(" ")}, now ${loadavg().map((x) => x.toFixed(2)).join(" ")} (${cpus().length} cores)`);

// ---------- report.json ----------
const report = {
  generated: new Date().toISOString(), machine: { cores: cpus().length, cpu: cpus()[0]?.model, load_start: meta.load_start, load_end: loadavg() },
  git: meta.git, table: rows, native, native_matched: { ...Object.fromEntries(Object.entries(nat).filter(([k]) => k !== "scale").map(([k, v]) => [k, v?.id ?? null])), scale: Object.fromEntries(Object.entries(nat.scale).map(([k, v]) => [k, v?.id ?? null])) },
  wasm, sizes, workerd, ledger, origin: originRun, governance: gov, budgets: { cached_us: 5, eval_256x256_us: 50, gate_wasm_gzip_bytes: 150 * 1024, worker_gzip_bytes: 300 * 1024, workerd_ratio: 0.9, verify16: "<= jose" },
};
writeFileSync(join(DIR, "report.json"), JSON.stringify(report, null, 2) + "\n");

// ---------- report.svg ----------
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const C = { wasm: "#e8710a", native: "#1f6fb2", jose: "#7b4fb8", node: "#8a8f98", pass: "#8a8f98", gate: "#2e8b57", budget: "#d62728", size: "#2e8b57" };
const W = 1290, LABEL = 400, BAR = 520, X0 = 20 + LABEL;
let y = 52; // below the title
const parts = [];
function text(x, yy, s, attrs = "") { parts.push(`<text x="${x}" y="${yy}" ${attrs}>${esc(s)}</text>`); }
/** A horizontal bar section. rows: { label, value, color, note, budget, budgetLabel } */
function section(title, subtitle, list, { log = false, unit = "", fmt = (v) => `${v}` } = {}) {
  y += 34;
  text(20, y, title, 'font-size="17" font-weight="bold"');
  if (subtitle) text(20, y + 18, subtitle, 'font-size="12" fill="#555"');
  y += subtitle ? 34 : 14;
  const vals = list.flatMap((r) => [r.value, r.budget]).filter((v) => v != null && v > 0);
  if (!vals.length) { text(X0, y + 16, "no figures", 'fill="#d62728"'); y += 24; return; }
  let lo, hi, pos, ticks;
  if (log) {
    lo = 10 ** Math.floor(Math.log10(Math.min(...vals))); hi = 10 ** Math.ceil(Math.log10(Math.max(...vals)));
    if (hi / lo < 100) hi = lo * 100;
    pos = (v) => X0 + (BAR * Math.log10(v / lo)) / Math.log10(hi / lo);
    ticks = []; for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
  } else {
    const max = Math.max(...vals) * 1.12; const step = 10 ** Math.floor(Math.log10(max / 2));
    const nice = [1, 2, 5].map((m) => m * step).find((s) => max / s <= 8) ?? step * 10;
    lo = 0; hi = Math.ceil(max / nice) * nice; pos = (v) => X0 + (BAR * v) / hi;
    ticks = []; for (let t = 0; t <= hi + 1e-9; t += nice) ticks.push(t);
  }
  const top = y, rowH = 24, bottom = y + list.length * rowH + 4;
  for (const t of ticks) {
    const x = pos(t);
    parts.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#e3e3e3"/>`);
    text(x, bottom + 14, `${fmt(t)}${unit}`, 'font-size="11" fill="#666" text-anchor="middle"');
  }
  list.forEach((r, i) => {
    const yy = top + i * rowH;
    text(X0 - 8, yy + 16, r.label, 'font-size="13" text-anchor="end"');
    if (r.value == null) { text(X0 + 4, yy + 16, "missing", 'font-size="13" fill="#d62728" font-weight="bold"'); return; }
    const x1 = pos(Math.max(r.value, lo || 0));
    parts.push(`<rect x="${X0}" y="${yy + 4}" width="${Math.max(1, x1 - X0)}" height="16" fill="${r.color}" rx="2"/>`);
    const tx = Math.max(x1, r.budget != null ? pos(r.budget) + 2 : 0);
    text(Math.min(tx, X0 + BAR) + 6, yy + 16, r.note ?? `${fmt(r.value)}${unit}`, `font-size="12" fill="${r.missed ? "#d62728" : "#222"}"${r.missed ? ' font-weight="bold"' : ""}`);
    if (r.budget != null) {
      const bx = pos(r.budget);
      parts.push(`<line x1="${bx}" y1="${yy + 1}" x2="${bx}" y2="${yy + 23}" stroke="${C.budget}" stroke-width="2.5" stroke-dasharray="4,2"/>`);
    }
  });
  y = bottom + 20;
}
const short = (v) => us(v).replace(/\.0+ /, " ");
const lat = (label, v, color, budget, budgetName) => ({ label, value: v ?? null, color, budget, missed: budget != null && v != null && v > budget,
  note: v == null ? null : `${us(v)}${budget != null ? (v > budget ? `  MISSED: budget ${budgetName ?? short(budget)}` : `  ok: budget ${budgetName ?? short(budget)}`) : ""}` });
const n16 = w.wasm_verify_eval_16?.us;
const latRows = [
  lat("verify+evaluate 16 signals · wasm", n16, C.wasm, jose, jose != null ? `<= jose (${us(jose)})` : null),
  lat("jwtVerify 16 signals · npm jose", jose, C.jose),
  lat("Ed25519 verify only · node:crypto", w.node_ed25519_verify_16?.us, C.node),
];
const natRow = (n) => n && latRows.push(lat(`native: ${n.id.length > 48 ? n.id.slice(0, 47) + "…" : n.id}`, n.ns / 1000, C.native));
natRow(nat.verify16);
latRows.push(lat("cached decision · wasm", cachedIn?.us, C.wasm, 5));
latRows.push(lat("no bundle (JS glue floor) · wasm", w.wasm_no_bundle?.us, "#f3b27a"));
natRow(nat.cached);
for (const l of ["32x64", "64x64", "128x128", "256x256"]) {
  latRows.push(lat(`evaluate ${l} · wasm`, sc[l]?.in_wasm?.us, C.wasm, l === "256x256" ? 50 : undefined));
  natRow(nat.scale[l]);
}
latRows.push(lat("new Gate (demo policy) · wasm", w.wasm_gate_new?.us, C.wasm));
natRow(nat.gateNew);
const logFmt = (v) => (v >= 1000 ? `${v / 1000} ms` : `${v} µs`);
section("Latency per operation (log scale, lower is better)", "orange = wasm in Node · blue = native (criterion) · purple = npm jose · grey = node:crypto · red dashes = budget", latRows, { log: true, fmt: logFmt });

if (native.length) {
  section("Native (criterion, benches/gate.rs), mean per iteration", null, native.map((n) => lat(n.id, n.ns / 1000, C.native)), { log: true, fmt: logFmt });
} else {
  y += 30; text(20, y, "Native (criterion): missing (benches/gate.rs produced no estimates in this run)", 'font-size="15" font-weight="bold" fill="#d62728"'); y += 6;
}

const tp = (label, r, color, budget) => ({ label, value: r?.rps ?? null, color, budget, missed: budget != null && r && r.rps < budget,
  note: r ? `${r.rps.toFixed(0)} req/s · p50 ${r.p50_ms} / p99 ${r.p99_ms} ms${budget ? (r.rps < budget ? ` · MISSED (>= ${budget.toFixed(0)})` : " · ok") : ""}` : null });
section("Throughput in workerd (wrangler dev, 127.0.0.1, higher is better)",
  workerd ? `autocannon ${workerd.connections} connections x ${workerd.duration_s} s per run · red dashes = 0.9x pass-through budget` : null, [
    tp("(a) pass-through · / (4 KB)", runs.pass_index, C.pass),
    tp(`(b) gate + bundle · /${workerd ? ` = ${fx(workerd.ratio_index)} (a)` : ""}`, runs.gate_index, C.gate, runs.pass_index && 0.9 * runs.pass_index.rps),
    tp("(d) pass-through · 50 KB page", runs.pass_big, C.pass),
    tp(`(c) gate + HTML filter · 50 KB${workerd ? ` = ${fx(workerd.ratio_big)} (d)` : ""}`, runs.gate_big, C.gate, runs.pass_big && 0.9 * runs.pass_big.rps),
    tp("(e) gate, no bundle · / (info)", runs.gate_index_nobundle, "#8fcca8"),
    tp("(f) pass-through + HTMLRewriter · / (no gate)", runs.rewriter_index, "#b0b0b0"),
    tp("(g) pass-through + HTMLRewriter · 50 KB (no gate)", runs.rewriter_big, "#b0b0b0"),
  ], { unit: "", fmt: (v) => `${v}` });

const ms = (v) => `${v.toFixed(v < 10 ? 1 : 0)} ms`;
section("Cold start: first request to a fresh Worker vs warm (ms)", null, [
  { label: "gate · first request", value: cold?.gate.first_ms ?? null, color: C.gate, note: cold && ms(cold.gate.first_ms) },
  { label: "gate · warm (median of 20)", value: cold?.gate.warm_median_ms ?? null, color: "#8fcca8", note: cold && ms(cold.gate.warm_median_ms) },
  { label: "pass-through · first request", value: cold?.pass.first_ms ?? null, color: C.pass, note: cold && ms(cold.pass.first_ms) },
  { label: "pass-through · warm (median of 20)", value: cold?.pass.warm_median_ms ?? null, color: "#c4c7cc", note: cold && ms(cold.pass.warm_median_ms) },
], { fmt: (v) => `${v}`, unit: " ms" });

const sz = (label, s, budget) => ({ label, value: s ? s.gzip / 1024 : null, color: C.size, budget, missed: s && s.gzip / 1024 > budget,
  note: s ? `${(s.gzip / 1024).toFixed(1)} KB gzip (${(s.raw / 1024).toFixed(0)} KB raw)  ${s.gzip / 1024 > budget ? `MISSED budget ${budget} KB` : `ok (budget ${budget} KB)`}` : null });
section("Sizes (KB gzip -9, red dashes = budget)", null, [
  sz("gate wasm · pkg/web/signalgate_bg.wasm", sizes?.gate_wasm, 150),
  sz("whole Worker · build/worker", sizes?.worker, 300),
], { fmt: (v) => `${v}`, unit: " KB" });

// Every goal of the JS API and the Worker on one scale: the figure divided by
// what the goal allows (for "at least" goals, what is asked divided by what
// was measured), so 1.0 is the goal and a bar past it is a miss.
const goalRows = [];
const clip = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const goal = (label, value, note) => goalRows.push({ label: clip(label, 52), value, color: value != null && value > 1 ? C.budget : C.gate, budget: 1, missed: value != null && value > 1, note: value == null ? null : clip(`${value.toFixed(2)} · ${note}`, 62) });
for (const g of w.goals ?? []) {
  const used = g.ratio != null ? g.ratio / g.limit : g.figure_us != null && g.limit ? g.figure_us / g.limit : null;
  if (used != null && !/JS heap|memory/i.test(g.metric)) goal(g.metric.trim().replace(/^the same, /, "  same, ").replace(/ \(decideForPage, Ed25519 by node:crypto\)/, ", node:crypto").replace(/ \(await decideForPageAsync, WebCrypto\)/, ", WebCrypto"), used, `${g.ratio != null ? times(g.ratio) : us(g.figure_us)} (goal ${g.goal.replace(/ alone$/, "")})`);
}
const cbG = workerd?.cold_breakdown;
if (cbG?.gate_bundle && cbG?.pass) {
  const over = cbG.gate_bundle.first_ms - cbG.pass.first_ms;
  goal("cold start over pass-through (workerd)", Math.max(over, 0) / 20, `+${over.toFixed(1)} ms (goal <= +20 ms)`);
}
if (workerd?.ratio_plain != null && Number.isFinite(workerd.ratio_plain)) goal("header-only page vs pass-through (workerd)", 0.9 / workerd.ratio_plain, `${fx(workerd.ratio_plain)} (goal >= 0.9x)`);
if (Number.isFinite(workerd?.ratio_big_vs_rewriter)) goal("filtered 50 KB vs pass-through + HTMLRewriter", 1 / workerd.ratio_big_vs_rewriter, `${fx(workerd.ratio_big_vs_rewriter)} (goal >= 1.0x)`);
if (sizes) goal("browser gate wasm, gzip", sizes.gate_wasm.gzip / (150 * 1024), `${kb(sizes.gate_wasm.gzip)} (goal <= 150 KB)`);
section("Goals of the JS API and the Worker (share of what the goal allows; past the red line = missed)", null, goalRows, { fmt: (v) => v.toFixed(1) });

const H = y + 10;
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<rect width="${W}" height="${H}" fill="#ffffff"/>
<text x="20" y="30" font-size="21" font-weight="bold">signalgate · pkg-scripts/bench</text>
<text x="20" y="50" font-size="12" fill="#555">${esc(`${report.generated.slice(0, 19).replace("T", " ")} UTC · ${meta.git ?? ""} · Node ${wasm?.node ?? process.version} · ${cpus().length} cores (${cpus()[0]?.model ?? ""}) · load avg at start ${(meta.load_start ?? []).map((x) => x.toFixed(1)).join(" ")} · ${misses.length} budget(s) missed, ${missing.length} missing`)}</text>
${parts.join("\n")}
</svg>
`;
writeFileSync(join(DIR, "report.svg"), svg);

// ---------- report.png (headless Chromium) ----------
if (!NO_PNG) {
  try {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: process.env.SG_CHROMIUM || "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-component-update", "--disable-sync"] });
    try {
      const page = await browser.newPage({ viewport: { width: W, height: H }, deviceScaleFactor: 1 });
      await page.goto(`file://${join(DIR, "report.svg")}`);
      await page.screenshot({ path: join(DIR, "report.png"), clip: { x: 0, y: 0, width: W, height: H } });
    } finally { await browser.close(); }
  } catch (e) {
    console.error(`    warning: no report.png (${String(e.message).split("\n")[0]})`);
  }
}
process.exit(missing.length ? 3 : 0);
