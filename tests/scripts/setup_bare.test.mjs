// pkg-scripts/setup on a bare machine, against recording stand-ins.
//
// Each case runs setup in a scratch copy of the repository (pkg-scripts/,
// Cargo.lock, package.json, package-lock.json), with an empty tool cache
// (SIGNALGATE_TOOLS), a temporary HOME, SG_SYSTEM_PREFIX pointing at a fake
// /usr, and a PATH holding only stand-ins plus the few real utilities the
// scripts use (awk, grep, sha256sum, ...). The stand-ins (apt-get, dpkg, id,
// rustup, cargo, npm, and the programs the fake Debian packages "install")
// append their argv to a log and create what the real tool would; none
// touches the network, the real node_modules or the real .dev.
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
const COPIED = ["pkg-scripts", "Cargo.lock", "package.json", "package-lock.json"];
// The real programs setup, lib.sh and the stand-ins need. Nothing else from
// this machine is on the PATH, so a wasm-bindgen, cargo-fuzz or node that
// happens to be installed here cannot make the bare machine less bare.
const UTILITIES = ["bash", "dirname", "date", "mkdir", "rm", "cp", "cat", "chmod", "touch", "awk", "grep", "sed",
  "cut", "sha256sum", "wc", "head", "tail"];
const WANT = /name = "wasm-bindgen"\nversion = "([^"]+)"/.exec(fs.readFileSync(path.join(REPO, "Cargo.lock"), "utf8"))[1];

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

function writeScript(file, body) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!${BASH}\n${body}`, { mode: 0o755 });
}

// A stand-in: records "name argv..." in $SG_FAKE_LOG, then runs body.
// `fails X` is true when the case asked stand-in step X to fail (SG_FAKE_FAIL).
function standIn(file, name, body) {
  writeScript(file, `printf '%s\\n' "${name} $*" >> "$SG_FAKE_LOG"
fails() { [ "$SG_FAKE_FAIL" = "$1" ]; }
${body}`);
}

// A program that prints one --version line.
function versionOnly(file, name, line) {
  standIn(file, name, `echo "${line}"\n`);
}

function sandbox(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-setup-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, "repo");
  for (const name of COPIED) fs.cpSync(path.join(REPO, name), path.join(root, name), { recursive: true });
  const fake = path.join(dir, "fake");
  const bin = path.join(fake, "bin"); // stand-ins already on the machine
  const utils = path.join(fake, "utils"); // links to the real utilities
  const sys = path.join(fake, "usr"); // SG_SYSTEM_PREFIX, filled by the fake apt-get
  const pkgs = path.join(fake, "pkgs"); // what each fake Debian package installs
  const dpkgDb = path.join(fake, "dpkg"); // one file per installed package
  const tools = path.join(dir, "tools"); // SIGNALGATE_TOOLS, empty
  const home = path.join(dir, "home");
  for (const d of [bin, utils, path.join(sys, "bin"), dpkgDb, tools, home]) fs.mkdirSync(d, { recursive: true });
  for (const u of UTILITIES) {
    const real = which(u, process.env.PATH.split(path.delimiter));
    assert.ok(real, `this test needs \`${u}\` on PATH`);
    fs.symlinkSync(real, path.join(utils, u));
  }
  fs.writeFileSync(path.join(dpkgDb, "gzip"), ""); // part of every Debian base system

  standIn(path.join(bin, "id"), "id", `[ "$1" = -u ] && echo 0 || echo "uid=0(root) gid=0(root) groups=0(root)"\n`);
  standIn(path.join(bin, "dpkg"), "dpkg", `[ "$1" = -s ] || { echo "stand-in dpkg: unexpected $*" >&2; exit 2; }
if [ -f "$SG_FAKE_DIR/dpkg/$2" ]; then printf 'Package: %s\\nStatus: install ok installed\\n' "$2"; exit 0; fi
echo "dpkg-query: package '$2' is not installed and no information is available" >&2
exit 1
`);
  standIn(path.join(bin, "apt-get"), "apt-get", `case "$1" in
  update)
    if fails apt-get-update; then echo "E: Failed to fetch http://deb.debian.org/debian/dists/trixie/InRelease" >&2; exit 100; fi ;;
  install)
    if fails apt-get-install; then echo "E: Unable to fetch some archives" >&2; exit 100; fi
    shift
    for p in "$@"; do
      case "$p" in -*) continue ;; esac
      [ -d "$SG_FAKE_DIR/pkgs/$p" ] || { echo "E: Unable to locate package $p" >&2; exit 100; }
    done
    for p in "$@"; do
      case "$p" in -*) continue ;; esac
      cp -R "$SG_FAKE_DIR/pkgs/$p/." "$SG_SYSTEM_PREFIX/"
      touch "$SG_FAKE_DIR/dpkg/$p"
    done ;;
  *) echo "stand-in apt-get: unexpected $*" >&2; exit 100 ;;
esac
`);
  // The active toolchain has no wasm32 std: setup takes the Debian route.
  standIn(path.join(bin, "rustup"), "rustup", `case "$*" in
  "target list --installed") echo x86_64-unknown-linux-gnu ;;
  *) echo "stand-in rustup: unexpected $*" >&2; exit 1 ;;
esac
`);
  standIn(path.join(bin, "cargo"), "cargo", `case "$1" in
  --version) echo "cargo 1.91.0 (stand-in)"; exit 0 ;;
  install) ;;
  *) echo "stand-in cargo: unexpected $*" >&2; exit 1 ;;
esac
crate="$2"; version=0.0.0; root=
shift 2
while [ $# -gt 0 ]; do
  case "$1" in --version) version="$2"; shift ;; --root) root="$2"; shift ;; esac
  shift
done
[ -n "$root" ] || { echo "stand-in cargo: install without --root (would write to ~/.cargo)" >&2; exit 2; }
if fails "cargo-install-$crate"; then
  echo "error: failed to download from \\\`https://static.crates.io/crates/$crate/$version/download\\\`" >&2
  exit 101
fi
mkdir -p "$root/bin"
case "$crate" in
  wasm-bindgen-cli) programs="wasm-bindgen wasm-bindgen-test-runner"; line="wasm-bindgen $version" ;;
  cargo-fuzz) programs=cargo-fuzz; line="cargo-fuzz 0.13.1" ;;
  *) echo "stand-in cargo: no such crate $crate" >&2; exit 101 ;;
esac
for p in $programs; do
  printf '#!%s\\necho "%s"\\n' "$BASH" "$line" > "$root/bin/$p"
  chmod +x "$root/bin/$p"
done
echo "  Installed package \\\`$crate v$version\\\`"
`);

  // The fake Debian packages: the files apt-get copies under SG_SYSTEM_PREFIX.
  versionOnly(path.join(pkgs, "chromium/bin/chromium"), "chromium", "Chromium 131.0.6778.85 built on Debian GNU/Linux");
  versionOnly(path.join(pkgs, "chromium-driver/bin/chromedriver"), "chromedriver", "ChromeDriver 131.0.6778.85 (stand-in)");
  versionOnly(path.join(pkgs, "nodejs/bin/node"), "node", "v20.19.2");
  standIn(path.join(pkgs, "npm/bin/npm"), "npm", `case "$1" in
  --version) echo 9.2.0; exit 0 ;;
  ci) ;;
  *) echo "stand-in npm: unexpected $*" >&2; exit 1 ;;
esac
if fails npm-ci; then echo "npm error code E404" >&2; exit 1; fi
mkdir -p node_modules/.bin
printf '#!%s\\necho v22.21.1\\n' "$BASH" > node_modules/.bin/node
printf '#!%s\\necho workerd 2026-11-20\\n' "$BASH" > node_modules/.bin/workerd
chmod +x node_modules/.bin/node node_modules/.bin/workerd
echo "added 3 packages in 0s"
`);
  versionOnly(path.join(pkgs, "rustc-web/bin/rustc"), "system-rustc", "rustc 1.85.0 (stand-in)");
  versionOnly(path.join(pkgs, "rustc-web/bin/rustdoc"), "system-rustdoc", "rustdoc 1.85.0 (stand-in)");
  versionOnly(path.join(pkgs, "cargo-web/bin/cargo"), "system-cargo", "cargo 1.85.0 (stand-in)");
  fs.mkdirSync(path.join(pkgs, "rust-web-src/lib/rustlib/src/rust/library/std"), { recursive: true });
  fs.writeFileSync(path.join(pkgs, "rust-web-src/lib/rustlib/src/rust/library/std/lib.rs"), "");
  fs.mkdirSync(path.join(pkgs, "rust-web-llvm/lib/llvm-web"), { recursive: true });
  versionOnly(path.join(pkgs, "lld-22/bin/wasm-ld-22"), "wasm-ld-22", "LLD 22.1.0 (stand-in)");

  const log = path.join(fake, "calls.log");
  fs.writeFileSync(log, "");
  const PATH = [bin, path.join(sys, "bin"), utils].join(path.delimiter);
  const env = { PATH, HOME: home, SIGNALGATE_TOOLS: tools, SG_SYSTEM_PREFIX: sys, SG_FAKE_DIR: fake, SG_FAKE_LOG: log, LC_ALL: "C" };
  // What lib.sh puts in front of that PATH: all still empty.
  const searched = [path.join(root, "node_modules/.bin"), path.join(tools, "bin"), path.join(home, ".cargo/bin"), ...PATH.split(path.delimiter)];
  return {
    root, tools, log,
    missing: (name) => which(name, searched) === null,
    setup(fail = "") {
      fs.writeFileSync(log, "");
      const r = spawnSync(BASH, [path.join(root, "pkg-scripts/setup")], {
        cwd: root, env: { ...env, SG_FAKE_FAIL: fail }, encoding: "utf8", timeout: 60_000,
      });
      r.calls = fs.readFileSync(log, "utf8").split("\n").filter(Boolean);
      r.explain = `exit ${r.status}${r.signal ? ` (${r.signal})` : ""}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}--- calls\n${r.calls.join("\n")}`;
      return r;
    },
  };
}

const lastLine = (text) => text.trimEnd().split("\n").at(-1);
const installs = (r) => r.calls.filter((c) => /^(apt-get (update|install)|cargo install|npm ci)\b/.test(c));
const aptPackages = (call) => call.split(" ").slice(2).filter((w) => !w.startsWith("-"));

test("setup on a bare machine installs everything, then a second run installs nothing", (t) => {
  const sb = sandbox(t);
  for (const name of ["wasm-bindgen", "wasm-bindgen-test-runner", "cargo-fuzz", "chromium", "chromedriver", "node", "npm"]) {
    assert.ok(sb.missing(name), `${name} must not be on the bare machine's PATH`);
  }

  const first = sb.setup();
  assert.equal(first.status, 0, first.explain);
  const calls = installs(first);
  const aptInstalls = calls.filter((c) => c.startsWith("apt-get install"));
  assert.equal(calls[0], "apt-get update -qq", first.explain);
  assert.deepEqual(aptInstalls.map(aptPackages), [
    ["chromium", "chromium-driver", "nodejs", "npm"],
    ["rustc-web", "cargo-web", "rust-web-src", "rust-web-llvm", "lld-22"],
  ], first.explain);
  assert.deepEqual(calls.slice(3), [
    `cargo install wasm-bindgen-cli --version ${WANT} --root ${sb.tools}`,
    `cargo install cargo-fuzz --locked --root ${sb.tools}`,
    "npm ci --no-audit --no-fund",
  ], first.explain);
  assert.match(first.stdout, /ok route: Debian rustc-web \+ build-std/, first.explain);
  assert.match(first.stdout, new RegExp(`ok chromium 131\\.0\\.6778\\.85, chromedriver 131\\.0\\.6778\\.85`), first.explain);
  assert.match(lastLine(first.stdout), /^==> setup complete in \d+s: installed .*wasm-bindgen-cli .*; everything is present now$/, first.explain);
  assert.equal(first.stderr, "", first.explain);
  assert.ok(fs.existsSync(path.join(sb.tools, "bin/wasm-bindgen-test-runner")));
  assert.ok(fs.existsSync(path.join(sb.root, "node_modules/.sg-lock")));

  const second = sb.setup();
  assert.equal(second.status, 0, second.explain);
  assert.deepEqual(installs(second), [], second.explain);
  assert.match(second.stdout, /ok present: chromium chromium-driver gzip\n/, second.explain);
  assert.match(second.stdout, new RegExp(`ok wasm-bindgen ${WANT.replaceAll(".", "\\.")}\\n`), second.explain);
  assert.match(second.stdout, /ok node_modules matches package-lock.json\n/, second.explain);
  assert.match(lastLine(second.stdout), /^==> setup complete in \d+s: everything is present$/, second.explain);
});

// Each install step failing in turn: setup stops with a one-line reason that
// names what failed and where its output went, and does not go on.
const FAILURES = [
  { fail: "apt-get-update", call: /^apt-get update/, log: ".dev/apt.log",
    reason: /^error: apt-get update failed \(no network to the Debian package mirror\?\); check access to the package registries, then rerun; details in \.dev\/apt\.log$/ },
  { fail: "apt-get-install", call: /^apt-get install .*chromium chromium-driver/, log: ".dev/apt.log",
    reason: /^error: apt-get install chromium chromium-driver nodejs npm failed; see \.dev\/apt\.log$/ },
  { fail: "cargo-install-wasm-bindgen-cli", call: /^cargo install wasm-bindgen-cli /, log: ".dev/wasm-bindgen-install.log",
    reason: new RegExp(`^error: installing wasm-bindgen-cli ${WANT.replaceAll(".", "\\.")} failed \\(no network to crates\\.io\\?\\); see \\.dev/wasm-bindgen-install\\.log$`) },
  { fail: "cargo-install-cargo-fuzz", call: /^cargo install cargo-fuzz /, log: ".dev/cargo-fuzz-install.log",
    reason: /^error: installing cargo-fuzz failed \(no network to crates\.io\?\); see \.dev\/cargo-fuzz-install\.log$/ },
  { fail: "npm-ci", call: /^npm ci /, log: ".dev/npm.log",
    reason: /^error: npm ci failed \(no network to the npm registry\?\); see \.dev\/npm\.log$/ },
];

for (const { fail, call, log, reason } of FAILURES) {
  test(`setup stops with a one-line reason when ${fail.replaceAll("-", " ")} fails`, (t) => {
    const sb = sandbox(t);
    const r = sb.setup(fail);
    assert.notEqual(r.status, 0, r.explain);
    assert.equal(r.signal, null, r.explain);
    assert.match(lastLine(r.stderr), reason, r.explain);
    assert.match(lastLine(r.stderr), /^error: [^\n;]+; [^\n]+$/, r.explain);
    const done = installs(r);
    assert.match(done.at(-1), call, `the failing step must be the last install attempted\n${r.explain}`);
    assert.doesNotMatch(r.stdout, /setup complete/, r.explain);
    // The reason points at a log that holds the tool's own error.
    assert.match(fs.readFileSync(path.join(sb.root, log), "utf8"), /E: |error/, r.explain);
  });
}
