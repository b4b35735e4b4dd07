// Smoke test of the built package as a user imports it: ESM through the
// package's exports (as `import "signalgate"` would resolve in Node), the
// CommonJS build, and the browser/workerd ESM build initialised from bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ROOT, POLICY, claims, sg } from "./helpers.mjs";

const pkgDir = join(ROOT, "build", "pkg");
const ctx = { purposes: ["personalization"], channel: "web", tenant: "demo-shop", scope: "web" };

test("Node resolves the package's exports and decides", async () => {
  const require = createRequire(join(pkgDir, "package.json"));
  const entry = require.resolve("signalgate", { paths: [join(ROOT, "build")] });
  assert.match(entry, /node\/signalgate\.js$/);
  const sg = await import(entry);
  const key = sg.generateKey();
  const token = new sg.Signer(key.privateJwk).sign(claims({ n: 1 }));
  const gate = new sg.Gate(POLICY, key.publicJwks, { audience: "signalgate" });
  assert.equal(gate.policyVersion, "demo-2026-11");
  assert.deepEqual(gate.decideForPage(token, ctx), { segments: ["sgt_5d1e9a20c4"], tier: "curated" });
  // Change one signature character (never a no-op).
  const i = token.length - 10;
  const bad = gate.decide(token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1), ctx);
  assert.equal(bad.tier, "generic");
  assert.deepEqual(bad.segments, []);
  assert.equal(bad.error.code, "bad_signature");
  const badCtx = gate.decide(token, { purposes: "oops" });
  assert.equal(badCtx.error.code, "bad_context");
  assert.throws(() => new sg.Gate("{}", key.publicJwks, { audience: "a" }), /policy has \d+ problems/);
  assert.equal(sg.inspectBundle(token).verified, false);
  assert.equal(sg.verifyBundle(token, key.publicJwks, "signalgate").sub, "u-42");
  assert.throws(() => sg.verifyBundle(token, key.publicJwks, "other"), /claim `aud` is `signalgate`, expected `other`/);
});

test("the web ESM build loads from bytes (as in workerd or a bundler) and has no signer", async () => {
  const web = await import(join(pkgDir, "web", "signalgate.js"));
  web.initSync({ module: readFileSync(join(pkgDir, "web", "signalgate_bg.wasm")) });
  assert.equal(web.Signer, undefined);
  assert.equal(web.generateKey, undefined);
  const key = sg.generateKey();
  const gate = new web.Gate(POLICY, key.publicJwks, { audience: "signalgate" });
  const token = new sg.Signer(key.privateJwk).sign(JSON.stringify(claims({ n: 2 })));
  assert.equal(gate.decide(token, ctx).tier, "curated");
  // The same decisions through WebCrypto (the ...Async methods), from a fresh gate.
  const viaWebCrypto = new web.Gate(POLICY, key.publicJwks, { audience: "signalgate", ed25519: "webcrypto" });
  assert.deepEqual(await viaWebCrypto.decideAsync(token, ctx), gate.decide(token, ctx));
  assert.deepEqual(await viaWebCrypto.decideForPageAsync(token, ctx), gate.decideForPage(token, ctx));
});

test("type declarations ship with both builds", () => {
  for (const f of ["web/signalgate.d.ts", "node/signalgate.d.ts"]) {
    assert.match(readFileSync(join(pkgDir, f), "utf8"), /export class Gate/);
  }
});
