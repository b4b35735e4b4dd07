// Shared helpers for the Node test suites: the built wasm package, keys,
// claims, and a real workerd (wrangler dev) on 127.0.0.1.
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(import.meta.url);

/** The Node build of the wasm package (CommonJS, loads synchronously). */
export const sg = require(join(ROOT, "build", "pkg", "node", "signalgate.js"));

export const POLICY = readFileSync(join(ROOT, "www", "policy.json"), "utf8");

export const now = () => Math.floor(Date.now() / 1000);

/** Realistic claims with `n` signals; override any top-level claim. */
export function claims({ n = 2, t = now(), ...over } = {}) {
  const values = [
    ["interest", "trail-running"], ["language", "de"], ["interest", "hiking"], ["price_band", "premium"],
    ["interest", "cycling"], ["contact_channel", "email"], ["interest", "climbing"], ["interest", "yoga"],
  ];
  const sig = [];
  for (let i = 0; i < n; i++) {
    const [cls, val] = values[i % values.length];
    sig.push({ id: `s${i + 1}`, cls, val, src: "web", cap: t - 86400, exp: t + 86400 * 300, ver: 1, con: "c1", prv: "q83vEjRWeJASNFZ4kBI0Vg" });
  }
  return {
    v: 1, iss: "https://origin.demo-shop.example", sub: "u-42", ten: "demo-shop", aud: "signalgate",
    iat: t, nbf: t, exp: t + 3600, jti: `b-${Math.random().toString(36).slice(2, 10)}`, pv: "demo-2026-11", idc: 0.9,
    cons: { c1: { st: "granted", pur: ["personalization", "targeted_advertising"], scp: ["web"], lb: "consent" } },
    sig, ...over,
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function portOpen(port) {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => { socket.destroy(); resolve(true); });
    socket.once("error", () => { socket.destroy(); resolve(false); });
  });
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/**
 * Starts the built Worker in real workerd via `wrangler dev` on 127.0.0.1
 * with `vars` (written to an env file). Resolves to { url, logs(), stop() }.
 * Options: `config`, another wrangler.toml (default: the project's);
 * `script`, another entry module;
 * `probe`, the path requested until the Worker answers (default
 * `/__sg/health`), or `null` to wait only until the port accepts connections,
 * so the first request reaches a Worker that has served nothing yet;
 * `origin`, variables for the origin Worker (build/origin), started beside
 * the gate in the same workerd and bound to it as `ORIGIN`;
 * `originScript`, a module to run as that origin instead of build/origin
 * (with `origin` as its variables and no other binding), for tests of
 * what the gate sends to and takes from the origin.
 * A gate started without an origin polls no revocation feed (wrangler.toml
 * sets `SG_REVOCATION_FEED = "origin"`) unless `vars` names one.
 * The result also has `dir` (its scratch directory; Durable Object storage
 * is under `dir/state`).
 */
export async function startWorker(vars, { timeoutMs = 60000, config, script, probe = "/__sg/health", origin, originScript } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "sg-worker-"));
  const envFile = join(dir, "test.env");
  if (!origin && !originScript && !config) vars = { SG_REVOCATION_FEED: "", ...vars };
  writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}='${v}'`).join("\n") + "\n");
  const port = await freePort();
  const wrangler = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
  const configs = [...(config ? ["--config", config] : [])];
  if (origin || originScript) {
    const second = originScript ? scriptOriginConfig(dir, originScript, origin || {}) : originConfig(dir, origin);
    configs.push(...(config ? [] : ["--config", join(ROOT, "wrangler.toml")]), "--config", second);
  }
  const child = spawn(process.execPath, [wrangler, "dev", ...(script ? [script] : []), ...configs, "--local", "--ip", "127.0.0.1", "--port", String(port),
    "--env-file", envFile, "--show-interactive-dev-session=false", "--log-level", "log", "--persist-to", join(dir, "state")], {
    cwd: ROOT,
    env: { ...process.env, SG_SKIP_BUILD: "1", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false",
      CI: "1", XDG_CONFIG_HOME: join(dir, "config"), WRANGLER_LOG_PATH: join(dir, "logs") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => { out += d; });
  child.stderr.on("data", (d) => { out += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (!out.includes("Ready on")) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) { child.kill("SIGKILL"); throw new Error(`wrangler dev not ready in ${timeoutMs} ms:\n${out}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  // Wait until the Worker itself answers (or, without a probe, until the port is open).
  for (;;) {
    if (probe === null) {
      if (await portOpen(port)) break;
    } else {
      try { if ((await fetch(`${url}${probe}`)).status) break; } catch { /* not yet */ }
    }
    if (Date.now() > deadline) throw new Error(`worker did not answer:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dir,
    logs: () => out,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.on("exit", () => resolve());
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 3000).unref();
    }),
  };
}

/** A fresh key: { kid, privateJwk, publicJwks, signer }. */
export function newKey() {
  const k = sg.generateKey();
  return { ...k, signer: new sg.Signer(k.privateJwk) };
}

/** Elements of `html` that carry data-sg-segment / data-sg-tier, and the decision JSON. */
export function pageParts(html) {
  const segments = [...html.matchAll(/data-sg-segment="([^"]*)"/g)].map((m) => m[1]);
  const tiers = [...html.matchAll(/data-sg-tier="([^"]*)"/g)].map((m) => m[1]);
  const m = html.match(/<script type="application\/json" id="sg-decision">(.*?)<\/script>/s);
  return { segments, tiers, decision: m ? JSON.parse(m[1]) : null, decisionCount: (html.match(/id="sg-decision"/g) || []).length };
}

/** Waits (up to `ms`) until the Worker's output matches `re`; returns whether it did. */
export async function waitForLog(worker, re, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!re.test(worker.logs())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * A request through node:http, which (unlike fetch) sends the `Host` header
 * it is given. Resolves to { status, headers, text }.
 */
export function rawRequest(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => { text += d; });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/**
 * A copy of wrangler.origin.toml for a test: the entry as an absolute path,
 * no [build] step, and [vars] = its own defaults overridden by `vars`
 * (wrangler's --env-file reaches only the first Worker of a multi-Worker
 * run). Returns the file's path.
 */
function originConfig(dir, vars) {
  let toml = readFileSync(join(ROOT, "wrangler.origin.toml"), "utf8");
  const defaults = {};
  const varsSection = toml.match(/^\[vars\]\n([\s\S]*?)(?=^\[)/m);
  for (const m of (varsSection ? varsSection[1] : "").matchAll(/^(\w+) = "(.*)"$/gm)) defaults[m[1]] = m[2];
  toml = toml.replace(/^main = .*$/m, `main = ${JSON.stringify(join(ROOT, "build", "origin", "shim.mjs"))}`)
    .replace(/^\[build\]\n[\s\S]*?(?=^\[)/m, "")
    .replace(/^\[vars\]\n[\s\S]*?(?=^\[)/m, "");
  toml += "\n[vars]\n" + Object.entries({ ...defaults, ...vars }).map(([k, v]) => `${k} = ${JSON.stringify(String(v))}`).join("\n") + "\n";
  const file = join(dir, "origin.toml");
  writeFileSync(file, toml);
  return file;
}

/**
 * A config running `script` as the origin Worker (named as wrangler.toml's
 * ORIGIN binding expects), with `vars` and nothing else. Returns its path.
 */
function scriptOriginConfig(dir, script, vars) {
  const date = readFileSync(join(ROOT, "wrangler.origin.toml"), "utf8").match(/^compatibility_date = .*$/m)[0];
  const toml = `name = "signalgate-origin"\nmain = ${JSON.stringify(script)}\n${date}\n\n[vars]\n` +
    Object.entries(vars).map(([k, v]) => `${k} = ${JSON.stringify(String(v))}`).join("\n") + "\n";
  const file = join(dir, "script-origin.toml");
  writeFileSync(file, toml);
  return file;
}

/**
 * The origin Worker alone (build/origin, its Durable Objects in its own
 * workerd), reached directly rather than through a gate: for what only the
 * origin's tests may send (`Sg-Test-*` headers, which a gate drops).
 * Resolves like `startWorker`.
 */
export async function startOrigin(vars, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), "sg-origin-"));
  return startWorker({}, { probe: "/v1/keys", ...options, config: originConfig(dir, vars) });
}

/**
 * Keys and secrets for an origin and the gate that trusts it:
 * { key, origin: {origin Worker vars}, gate: {gate vars} }.
 */
/** A fresh data keyring for the origin's SG_DATA_KEYS (one 32-byte key). */
export function newDataKeys(kid = "k1") {
  return JSON.stringify({ active: kid, keys: { [kid]: randomBytes(32).toString("base64url") } });
}

export function originStack(extraOrigin = {}, extraGate = {}) {
  const key = newKey();
  const origin = {
    SG_POLICY: JSON.stringify(JSON.parse(POLICY)),
    SG_SIGNING_KEYS: `[${key.privateJwk}]`,
    SG_SESSION_SECRET: "test-session-secret-that-is-long-enough-0123456789",
    SG_ADMIN_TOKEN: "test-admin-token-0123456789abcdefghijklmnop",
    SG_SERVICE_TENANTS: JSON.stringify(["other-shop"]),
    SG_DATA_KEYS: newDataKeys(),
    ...extraOrigin,
  };
  // SG_FORWARD_ADMIN: the tests reach the origin's admin routes through the
  // gate's port (a deployed gate answers them 404).
  const gate = { SG_PUBLIC_KEYS: key.publicJwks, SG_REVOCATION_FEED: "origin", SG_FORWARD_ADMIN: "1", SG_LOG: "all", ...extraGate };
  return { key, origin, gate, admin: origin.SG_ADMIN_TOKEN };
}

/** A JSON request to a Worker: { status, headers, body (parsed when JSON), text, cookies }. */
export async function call(url, { method = "GET", body, headers = {}, cookie } = {}) {
  const init = { method, headers: { ...headers }, redirect: "manual" };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    if (!Object.keys(init.headers).some((h) => h.toLowerCase() === "content-type")) init.headers["Content-Type"] = "application/json";
  }
  if (cookie) init.headers.Cookie = cookie;
  const resp = await fetch(url, init);
  const text = await resp.text();
  let parsed = null;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  const cookies = Object.fromEntries(resp.headers.getSetCookie().map((c) => c.split(";")[0].split("=")).map(([k, ...v]) => [k, v.join("=")]));
  return { status: resp.status, headers: resp.headers, body: parsed, text, cookies };
}
