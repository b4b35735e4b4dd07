// pkg-scripts/build check-size (a step of pkg-scripts/test) must fail, with
// one line naming the artifact, its size and its budget, when the browser
// gate's wasm is over 150 KB gzip or the gate Worker over 300 KB gzip, and
// pass below. Run in a scratch copy of pkg-scripts/ with stand-in build
// outputs (random bytes do not compress, so their size is their gzip size).
//
// Run: node --test tests/scripts/*.test.mjs (Node 20 and 22).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const KB = 1024;

function checkSize(t, { web, worker }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-size-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.cpSync(path.join(REPO, "pkg-scripts"), path.join(dir, "pkg-scripts"), { recursive: true });
  const put = (file, bytes) => {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), randomBytes(bytes));
  };
  if (web !== undefined) put("build/pkg/web/signalgate_bg.wasm", web);
  if (worker !== undefined) {
    put("build/worker/index_bg.wasm", worker - 2 * KB);
    put("build/worker/index.js", KB);
    put("build/worker/shim.mjs", KB);
  }
  const r = spawnSync("bash", [path.join(dir, "pkg-scripts", "build"), "check-size"], {
    encoding: "utf8", env: { ...process.env, SIGNALGATE_TOOLS: path.join(dir, "tools") },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

test("within both budgets: passes and prints both sizes", (t) => {
  const r = checkSize(t, { web: 140 * KB, worker: 250 * KB });
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /browser gate wasm 140\.\d KB gzip, within 150\.0 KB/);
  assert.match(r.out, /gate Worker \(3 files\) 250\.\d KB gzip, within 300\.0 KB/);
});

test("a browser wasm over 150 KB gzip fails with one line naming it", (t) => {
  const r = checkSize(t, { web: 160 * KB, worker: 250 * KB });
  assert.notEqual(r.status, 0);
  const lines = r.err.trim().split("\n");
  assert.equal(lines.length, 1, r.err);
  assert.match(lines[0], /^(\x1b\[31m)?error:.* size budget: the browser gate wasm \(build\/pkg\/web\/signalgate_bg\.wasm\) is 160\.\d KB gzip, over its 150\.0 KB budget by 10\.\d KB$/);
});

test("a Worker over 300 KB gzip fails, and so does a missing build", (t) => {
  const r = checkSize(t, { web: 100 * KB, worker: 310 * KB });
  assert.notEqual(r.status, 0);
  assert.match(r.err, /size budget: the gate Worker \(build\/worker, 3 files\) is 310\.\d KB gzip, over its 300\.0 KB budget/);
  const none = checkSize(t, {});
  assert.notEqual(none.status, 0);
  assert.match(none.err, /no build\/pkg\/web\/signalgate_bg\.wasm to measure; run pkg-scripts\/build pkg first/);
});
