// Interop both ways with an independent JOSE implementation (npm `jose`, on
// Node's native crypto): bundles signed by jose verify in the gate (wasm and
// the native CLI), bundles signed by signalgate verify with jose.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as jose from "jose";
import { ROOT, sg, claims } from "./helpers.mjs";

const TYP = "signalgate-bundle+jwt";
const CLI = join(ROOT, "target", "debug", "signalgate");

async function joseKey(kid) {
  const { publicKey, privateKey } = await jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" };
  return { privateKey, publicKey, jwks: JSON.stringify({ keys: [jwk] }) };
}

test("a bundle signed by jose verifies in the gate (wasm)", async () => {
  const k = await joseKey("jose-1");
  const token = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims({ n: 16 }))))
    .setProtectedHeader({ alg: "EdDSA", kid: "jose-1", typ: TYP })
    .sign(k.privateKey);
  const verified = sg.verifyBundle(token, k.jwks, "signalgate");
  assert.equal(verified.sig.length, 16);
  const gate = new sg.Gate((await import("./helpers.mjs")).POLICY, k.jwks, { audience: "signalgate" });
  const d = gate.decide(token, { purposes: ["personalization"], channel: "web", tenant: "demo-shop", scope: "web" });
  assert.equal(d.tier, "curated");
  // jose with a different alg header: refused by the gate.
  const { privateKey } = await jose.generateKeyPair("ES256");
  const es = await new jose.CompactSign(new TextEncoder().encode("{}")).setProtectedHeader({ alg: "ES256", kid: "jose-1", typ: TYP }).sign(privateKey);
  assert.throws(() => sg.verifyBundle(es, k.jwks, "signalgate"), /header `alg` must be `EdDSA`, found `ES256`/);
});

test("a bundle signed by jose verifies with the native CLI", { skip: !existsSync(CLI) && "native CLI not built" }, async () => {
  const k = await joseKey("jose-2");
  const token = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims())))
    .setProtectedHeader({ alg: "EdDSA", kid: "jose-2", typ: TYP })
    .sign(k.privateKey);
  const dir = mkdtempSync(join(tmpdir(), "sg-jose-"));
  writeFileSync(join(dir, "keys.json"), k.jwks);
  writeFileSync(join(dir, "b.jws"), token);
  const out = execFileSync(CLI, ["verify", "--keys", join(dir, "keys.json"), join(dir, "b.jws")], { encoding: "utf8" });
  assert.equal(JSON.parse(out).ten, "demo-shop");
});

test("bundles signed by signalgate (wasm signer) verify with jose", async () => {
  const key = sg.generateKey();
  const token = new sg.Signer(key.privateJwk).sign(claims({ n: 16 }));
  const jwks = jose.createLocalJWKSet(JSON.parse(key.publicJwks));
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, { algorithms: ["EdDSA"], typ: TYP, audience: "signalgate" });
  assert.equal(protectedHeader.kid, key.kid);
  assert.equal(payload.sig.length, 16);
  // jose computes the same RFC 7638 thumbprint we use as the default kid.
  assert.equal(await jose.calculateJwkThumbprint(JSON.parse(key.publicJwks).keys[0]), key.kid);
});

test("bundles signed by the native CLI verify with jose", { skip: !existsSync(CLI) && "native CLI not built" }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "sg-cli-"));
  execFileSync(CLI, ["keygen", "--kid", "cli-1", "--private-out", join(dir, "k.jwk"), "--public-out", join(dir, "k.jwks")], { stdio: "ignore" });
  writeFileSync(join(dir, "c.json"), JSON.stringify(claims()));
  const token = execFileSync(CLI, ["sign", "--key", join(dir, "k.jwk"), join(dir, "c.json")], { encoding: "utf8" }).trim();
  const { readFileSync } = await import("node:fs");
  const jwks = jose.createLocalJWKSet(JSON.parse(readFileSync(join(dir, "k.jwks"), "utf8")));
  const { payload } = await jose.jwtVerify(token, jwks, { algorithms: ["EdDSA"], typ: TYP });
  assert.equal(payload.sub, "u-42");
});

test("RFC 8037 appendix A.4 verifies with jose and with the gate's codec", async () => {
  const token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
  const pub = await jose.importJWK({ kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }, "EdDSA");
  const { payload } = await jose.compactVerify(token, pub);
  assert.equal(new TextDecoder().decode(payload), "Example of Ed25519 signing");
  // The gate refuses it as a *bundle* (no typ, no kid, not bundle claims): the low-level codec accepts it (tests/portable).
  assert.throws(() => sg.inspectBundle(token), /header `typ` is missing/);
});
