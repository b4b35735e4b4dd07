// pkg-scripts/build worker must stop, with a one-line reason, when the wasm32
// compile or wasm-bindgen fails, and must never package an earlier .wasm.
//
// Each case runs the build in a scratch copy of the repository (pkg-scripts/,
// Cargo.lock, src/worker/shim.mjs) with a PATH holding only recording
// stand-ins plus the few real utilities the scripts use. A stand-in rustup
// lists the wasm32 target, so lib.sh's wasm_toolchain takes the rustup route
// and the stand-in `cargo` is what compiles; the stand-in wasm-bindgen reports
// the version Cargo.lock pins.
//
// Run: node --test tests/scripts/*.test.mjs (Node 20 and 22).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const COPIED = ["pkg-scripts", "Cargo.lock", "src/worker/shim.mjs"];
const UTILITIES = ["bash", "dirname", "date", "mkdir", "rm", "cp", "cat", "chmod", "touch", "awk", "grep", "sed",
  "wc", "gzip", "find", "sort"];
const WANT = /name = "wasm-bindgen"\nversion = "([^"]+)"/.exec(fs.readFileSync(path.join(REPO, "Cargo.lock"), "utf8"))[1];
const WASM_OUT = "target/wasm32-unknown-unknown/release/signalgate.wasm";

function which(name, dirs) {
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {}
  }
  return null;
}

const BASH = which("bash", process.env.PATH.split(path.delimiter));

// A stand-in: records "name argv..." in $SG_FAKE_LOG, then runs body.
function standIn(file, name, body) {
  fs.writeFileSync(file, `#!${BASH}\nprintf '%s\\n' "${name} $*" >> "$SG_FAKE_LOG"\n${body}`, { mode: 0o755 });
}

function sandbox(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-build-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, "repo");
  for (const name of COPIED) fs.cpSync(path.join(REPO, name), path.join(root, name), { recursive: true });
  const bin = path.join(dir, "fake/bin");
  const utils = path.join(dir, "fake/utils");
  const home = path.join(dir, "home");
  const tools = path.join(dir, "tools");
  for (const d of [bin, utils, home, tools]) fs.mkdirSync(d, { recursive: true });
  for (const u of UTILITIES) {
    const real = which(u, process.env.PATH.split(path.delimiter));
    assert.ok(real, `this test needs \`${u}\` on PATH`);
    fs.symlinkSync(real, path.join(utils, u));
  }

  standIn(path.join(bin, "rustup"), "rustup", `case "$*" in
  "target list --installed") printf '%s\\n' x86_64-unknown-linux-gnu wasm32-unknown-unknown ;;
  *) echo "stand-in rustup: unexpected $*" >&2; exit 1 ;;
esac
`);
  // SG_FAKE_CARGO: "fail" (a compiler error, exit 101), "no-output" (exit 0
  // but no .wasm written), anything else: writes a fresh .wasm.
  standIn(path.join(bin, "cargo"), "cargo", `[ "$1" = rustc ] || { echo "stand-in cargo: unexpected $*" >&2; exit 1; }
echo "   Compiling signalgate v0.1.0 ($PWD)" >&2
case "$SG_FAKE_CARGO" in
  fail)
    echo "error[E0425]: cannot find value \\\`gate\\\` in this scope" >&2
    echo "  --> src/worker/mod.rs:12:5" >&2
    echo "error: could not compile \\\`signalgate\\\` (lib) due to 1 previous error" >&2
    exit 101 ;;
  no-output) ;;
  *)
    mkdir -p target/wasm32-unknown-unknown/release
    printf 'fresh wasm: %s\\n' "$*" > ${WASM_OUT} ;;
esac
echo "    Finished \\\`release\\\` profile [optimized] target(s) in 0.02s" >&2
`);
  // SG_FAKE_BINDGEN=fail: wasm-bindgen rejects its input.
  standIn(path.join(bin, "wasm-bindgen"), "wasm-bindgen", `if [ "$1" = --version ]; then echo "wasm-bindgen ${WANT}"; exit 0; fi
if [ "$SG_FAKE_BINDGEN" = fail ]; then
  echo "error: failed to deserialize wasm module" >&2
  echo "Caused by: magic header not detected" >&2
  exit 1
fi
input="$1"; shift
out=; name=signalgate
while [ $# -gt 0 ]; do
  case "$1" in --out-dir) out="$2"; shift ;; --out-name) name="$2"; shift ;; esac
  shift
done
mkdir -p "$out/snippets/worker-0000"
cp "$input" "$out/$name""_bg.wasm"
echo "import source wasm from './$name""_bg.wasm';" > "$out/$name.js"
echo "export function f() {}" > "$out/snippets/worker-0000/inline0.js"
`);

  const log = path.join(dir, "fake/calls.log");
  const env = {
    PATH: [bin, utils].join(path.delimiter), HOME: home, SIGNALGATE_TOOLS: tools,
    SG_SYSTEM_PREFIX: path.join(dir, "fake/usr"), SG_FAKE_LOG: log, LC_ALL: "C",
  };
  return {
    root,
    file: (rel) => path.join(root, rel),
    build(fakes = {}) {
      fs.writeFileSync(log, "");
      const r = spawnSync(BASH, [path.join(root, "pkg-scripts/build"), "worker"], {
        cwd: root, env: { ...env, ...fakes }, encoding: "utf8", timeout: 60_000,
      });
      r.calls = fs.readFileSync(log, "utf8").split("\n").filter(Boolean);
      r.packaged = r.calls.filter((c) => c.startsWith("wasm-bindgen ") && !c.includes("--version"));
      r.explain = `exit ${r.status}${r.signal ? ` (${r.signal})` : ""}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}--- calls\n${r.calls.join("\n")}`;
      return r;
    },
  };
}

const lastLine = (text) => text.trimEnd().split("\n").at(-1);

// A .wasm left by an earlier build (other features, older sources).
function leaveStaleWasm(sb) {
  fs.mkdirSync(path.dirname(sb.file(WASM_OUT)), { recursive: true });
  fs.writeFileSync(sb.file(WASM_OUT), "stale wasm from an earlier build\n");
}

test("stand-ins that succeed give a packaged Worker (the control case)", (t) => {
  const sb = sandbox(t);
  leaveStaleWasm(sb);
  const r = sb.build();
  assert.equal(r.status, 0, r.explain);
  assert.match(r.stdout, /ok compiled in \d+s/, r.explain);
  assert.match(r.stdout, /worker\/index_bg\.wasm .* KB raw/, r.explain);
  assert.match(r.stdout, /worker total \(js \+ wasm \+ shim\) .* KB raw/, r.explain);
  assert.equal(r.packaged.length, 1, r.explain);
  assert.match(fs.readFileSync(sb.file("build/worker/index_bg.wasm"), "utf8"), /^fresh wasm: rustc .*--features worker/);
  assert.match(fs.readFileSync(sb.file("build/worker/index.js"), "utf8"), /^import wasm from/);
  assert.ok(fs.existsSync(sb.file("build/worker/shim.mjs")));
});

test("a failing wasm32 compile stops the build with its reason and packages nothing", (t) => {
  const sb = sandbox(t);
  leaveStaleWasm(sb);
  const r = sb.build({ SG_FAKE_CARGO: "fail" });
  assert.notEqual(r.status, 0, r.explain);
  assert.equal(lastLine(r.stderr), "error: the wasm32 build failed (features: worker); see the compiler errors above", r.explain);
  assert.doesNotMatch(r.stdout, /ok compiled/, r.explain);
  assert.match(r.stdout, /error\[E0425\]/, `the compiler's error is shown\n${r.explain}`);
  assert.deepEqual(r.packaged, [], r.explain);
  assert.ok(!fs.existsSync(sb.file(WASM_OUT)), "the stale .wasm is removed before compiling");
  assert.ok(!fs.existsSync(sb.file("build/worker/index_bg.wasm")), r.explain);
});

test("a compile that writes no .wasm never packages the earlier one", (t) => {
  const sb = sandbox(t);
  leaveStaleWasm(sb);
  const r = sb.build({ SG_FAKE_CARGO: "no-output" });
  assert.notEqual(r.status, 0, r.explain);
  assert.match(lastLine(r.stderr), /^error: the wasm32 build \(features: worker\) produced no .*\/signalgate\.wasm; see the compiler output above$/, r.explain);
  assert.doesNotMatch(r.stdout, /ok compiled/, r.explain);
  assert.deepEqual(r.packaged, [], r.explain);
  assert.ok(!fs.existsSync(sb.file("build/worker/index_bg.wasm")), r.explain);
});

test("a failing wasm-bindgen stops the build with its reason", (t) => {
  const sb = sandbox(t);
  const r = sb.build({ SG_FAKE_BINDGEN: "fail" });
  assert.notEqual(r.status, 0, r.explain);
  assert.equal(lastLine(r.stderr), "error: wasm-bindgen failed to generate build/worker; see its error above", r.explain);
  assert.match(r.stderr, /magic header not detected/, `wasm-bindgen's own error is shown\n${r.explain}`);
  assert.equal(r.packaged.length, 1, r.explain);
  assert.doesNotMatch(r.stdout, /KB raw/, r.explain);
  assert.ok(!fs.existsSync(sb.file("build/worker/index_bg.wasm")), r.explain);
});
