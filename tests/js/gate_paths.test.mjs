// The JS Gate's paths give the same answers: Ed25519 by Node's `crypto`
// (the default in Node), by WebCrypto (`ed25519: "webcrypto"`, the
// `...Async` methods) and in wasm (`ed25519: "wasm"`); the `...Async`
// methods and the plain ones; a first decision and a cached one. Run over
// the golden evaluator vectors (each decision must also be the vector's
// expected one) and over a corpus of spoiled bundles and odd arguments.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, sign as edSign } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, POLICY, claims, sg } from "./helpers.mjs";

const VECTORS = JSON.parse(readFileSync(join(ROOT, "tests", "vectors", "eval", "all.json"), "utf8"));
const CHOICES = ["auto", "webcrypto", "wasm"];
const b64 = (bytes) => Buffer.from(bytes).toString("base64url");

/** An Ed25519 key from a 32-byte seed, as the golden vectors' generator makes it. */
function seedKey(byte, kid) {
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.alloc(32, byte)]);
  const key = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  const { x } = key.export({ format: "jwk" });
  return { key, kid, jwks: JSON.stringify({ keys: [{ kty: "OKP", crv: "Ed25519", x, kid, use: "sig", alg: "EdDSA" }] }) };
}

/** A compact JWS over `payload` (bytes or JSON) with the bundle header. */
function sign({ key, kid }, payload) {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const input = `${b64(JSON.stringify({ alg: "EdDSA", kid, typ: "signalgate-bundle+jwt" }))}.${b64(body)}`;
  return `${input}.${b64(edSign(null, Buffer.from(input), key))}`;
}

const GOLDEN = seedKey(42, "golden");

/** The golden case's token, spoiled as its `tamper` says (as tests/portable/eval_cases.rs does). */
function goldenToken(c) {
  const signer = c.tamper === "wrong_key" ? seedKey(7, "golden") : c.tamper === "unknown_kid" ? seedKey(42, "retired") : GOLDEN;
  const token = sign(signer, c.claims);
  const [h, p, s] = token.split(".");
  if (c.tamper === "payload") {
    const forged = { ...c.claims, idc: c.claims.idc < 1 ? 1 : 0.5 };
    return `${h}.${b64(JSON.stringify(forged))}.${s}`;
  }
  if (c.tamper === "signature") {
    const sig = Buffer.from(s, "base64url");
    sig[0] ^= 1;
    return `${h}.${p}.${b64(sig)}`;
  }
  return token;
}

/** Every decision of every path for `bundle` and `context`, checked equal; returns the decision. */
async function allPaths(make, bundle, context) {
  const out = [];
  for (const ed25519 of CHOICES) {
    // A fresh gate per order, so that each path verifies the bundle itself.
    const asyncFirst = make(ed25519);
    const fullAsync = await asyncFirst.decideAsync(bundle, context);
    const pageAsync = await asyncFirst.decideForPageAsync(bundle, context);
    const syncFirst = make(ed25519);
    const full = syncFirst.decide(bundle, context);
    const page = syncFirst.decideForPage(bundle, context);
    // Again: a verified bundle is answered from the cache now.
    const fullAgain = syncFirst.decide(bundle, context);
    const pageAgain = await syncFirst.decideForPageAsync(bundle, context);
    out.push({ ed25519, full, fullAsync, fullAgain, page, pageAsync, pageAgain });
    asyncFirst.free();
    syncFirst.free();
  }
  const [first] = out;
  for (const o of out) {
    for (const k of ["full", "fullAsync", "fullAgain"]) assert.deepStrictEqual(o[k], first.full, `${o.ed25519} ${k}`);
    for (const k of ["page", "pageAsync", "pageAgain"]) assert.deepStrictEqual(o[k], first.page, `${o.ed25519} ${k}`);
  }
  return first.full;
}

test("the Ed25519 choices: node:crypto by default in Node, wasm on request", () => {
  const make = (ed25519) => new sg.Gate(POLICY, GOLDEN.jwks, { audience: "signalgate", ...(ed25519 && { ed25519 }) });
  assert.equal(make().ed25519, "node:crypto");
  assert.equal(make("auto").ed25519, "node:crypto");
  assert.equal(make("webcrypto").ed25519, "wasm");
  assert.equal(make("wasm").ed25519, "wasm");
  assert.throws(() => make("openssl"), (e) => e.code === "bad_options");
});

test("every golden evaluator vector decides as expected, on every path", async () => {
  let decided = 0;
  for (const c of VECTORS.cases) {
    if (c.expected.policy_error) continue;
    const policy = typeof c.policy === "string" ? VECTORS.policies[c.policy] : JSON.stringify(c.policy);
    const options = { audience: "signalgate", ...(c.revocations && { revocations: JSON.stringify(c.revocations) }) };
    const make = (ed25519) => new sg.Gate(policy, GOLDEN.jwks, { ...options, ed25519 });
    const token = c.claims === null ? undefined : goldenToken(c);
    const d = await allPaths(make, token, c.context);
    assert.deepStrictEqual(d, c.expected, c.name);
    decided++;
  }
  assert.ok(decided >= 40, `only ${decided} vectors`);
});

test("spoiled bundles and odd arguments get the same answer on every path", async () => {
  const t = Math.floor(Date.now() / 1000);
  const ctx = { now: t, purposes: ["personalization"], channel: "web", tenant: "demo-shop", scope: "web" };
  const make = (ed25519) => new sg.Gate(POLICY, GOLDEN.jwks, { audience: "signalgate", ed25519 });
  const good = sign(GOLDEN, claims({ n: 4, t }));
  const [h, p, s] = good.split(".");
  const sig = Buffer.from(s, "base64url");
  const withSig = (bytes) => `${h}.${p}.${b64(bytes)}`;
  // S + L: the same scalar, not reduced (refused by strict verification).
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  const le = (bytes) => bytes.reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n);
  const sPlusL = le(sig.subarray(32)) + L;
  const nonCanonicalS = Buffer.from(sig);
  for (let i = 0; i < 32; i++) nonCanonicalS[32 + i] = Number((sPlusL >> BigInt(8 * i)) & 0xffn);
  const smallOrderR = ["0100000000000000000000000000000000000000000000000000000000000000",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"].map((r) => {
    const b = Buffer.from(sig);
    Buffer.from(r, "hex").copy(b, 0);
    return withSig(b);
  });
  const flipped = Buffer.from(sig);
  flipped[5] ^= 0x40;
  const header = (obj) => `${b64(JSON.stringify(obj))}.${p}.${s}`;
  const bundles = [
    good, good + " ", ` ${good}`, withSig(nonCanonicalS), ...smallOrderR, withSig(flipped), withSig(sig.subarray(0, 63)),
    `${h}.${p}.`, `${h}.${p}`, `${h}..${s}`, `${good}.x`, header({ alg: "none", kid: "golden", typ: "signalgate-bundle+jwt" }),
    header({ alg: "EdDSA", kid: "golden" }), header({ alg: "EdDSA", typ: "signalgate-bundle+jwt" }),
    header({ alg: "EdDSA", kid: "", typ: "signalgate-bundle+jwt" }), sign(seedKey(42, "other"), claims({ n: 1, t })),
    sign(seedKey(9, "golden"), claims({ n: 1, t })), sign(GOLDEN, claims({ n: 1, t, ten: "other-shop" })),
    sign(GOLDEN, claims({ n: 1, t, aud: "elsewhere" })), sign(GOLDEN, claims({ n: 1, t: t - 7200 })),
    sign(GOLDEN, claims({ n: 1, t: t + 7200 })), sign(GOLDEN, "not json"), sign(GOLDEN, { ...claims({ n: 1, t }), v: 2 }),
    "x".repeat(20_000), `${good}${"A".repeat(300_000)}`, "ünïcödé.ü.ü", "", undefined, null, 42, {}, ["a"], true,
  ];
  for (const bundle of bundles) await allPaths(make, bundle, ctx);
  const contexts = [{ ...ctx, purposes: "oops" }, { ...ctx, extra: 1 }, { ...ctx, now: 1.5 }, { ...ctx, gpc: "yes" },
    { ...ctx, now: undefined }, null, undefined, "ctx", { purposes: ["personalization"] }];
  for (const context of contexts) await allPaths(make, good, context);
});

test("the fuzz seed corpus of bundles gets the same answer on every path", async () => {
  const dir = join(ROOT, "fuzz", "seeds", "bundle_parse");
  const ctx = { purposes: ["personalization"], channel: "web", tenant: "demo-shop", scope: "web" };
  const make = (ed25519) => new sg.Gate(POLICY, GOLDEN.jwks, { audience: "signalgate", ed25519 });
  const seeds = readdirSync(dir);
  assert.ok(seeds.length >= 10, `only ${seeds.length} seeds`);
  for (const name of seeds) {
    const text = readFileSync(join(dir, name), "latin1");
    await allPaths(make, text, ctx);
    await allPaths(make, text.trim(), ctx);
  }
});

test("a bundle revoked after it was cached is refused on every path", async () => {
  const t = Math.floor(Date.now() / 1000);
  const ctx = { now: t, purposes: ["personalization"], channel: "web", tenant: "demo-shop", scope: "web" };
  const c = claims({ n: 2, t });
  const token = sign(GOLDEN, c);
  const revocations = JSON.stringify({ bundles: [c.jti], subjects: [] });
  const make = (ed25519) => new sg.Gate(POLICY, GOLDEN.jwks, { audience: "signalgate", revocations, ed25519 });
  const d = await allPaths(make, token, ctx);
  assert.equal(d.error.code, "revoked");
});

test("concurrent decideAsync calls, for one bundle and for many, resolve as decide does", async () => {
  const t = Math.floor(Date.now() / 1000);
  const ctx = { now: t, purposes: ["personalization"], channel: "web", tenant: "demo-shop", scope: "web" };
  const tokens = Array.from({ length: 12 }, (_, i) => sign(GOLDEN, claims({ n: 1 + (i % 8), t })));
  tokens.push(tokens[0], tokens[0], tokens[3]);
  const reference = new sg.Gate(POLICY, GOLDEN.jwks, { audience: "signalgate", ed25519: "wasm" });
  const want = tokens.map((token) => reference.decide(token, ctx));
  for (const ed25519 of CHOICES) {
    const gate = new sg.Gate(POLICY, GOLDEN.jwks, { audience: "signalgate", ed25519 });
    const pending = tokens.map((token) => gate.decideAsync(token, ctx));
    gate.free(); // pending decisions still resolve
    assert.deepStrictEqual(await Promise.all(pending), want, ed25519);
  }
});

test("a context changed between calls is read again; a frozen one may be kept", () => {
  const t = Math.floor(Date.now() / 1000);
  const gate = new sg.Gate(POLICY, GOLDEN.jwks, { audience: "signalgate" });
  const token = sign(GOLDEN, claims({ n: 8, t }));
  const base = { now: t, purposes: ["personalization"], channel: "web", tenant: "demo-shop", scope: "web" };
  const other = { ...base, purposes: ["targeted_advertising"] };
  const want = gate.decide(token, base), wantOther = gate.decide(token, other);
  assert.notDeepStrictEqual(want.segments, wantOther.segments);
  // A plain object, changed in place.
  const ctx = { ...base, purposes: [...base.purposes] };
  assert.deepStrictEqual(gate.decide(token, ctx), want);
  ctx.purposes[0] = "targeted_advertising";
  assert.deepStrictEqual(gate.decide(token, ctx), wantOther);
  ctx.purposes = ["personalization"];
  assert.deepStrictEqual(gate.decide(token, ctx), want);
  // Frozen, but its purposes array is not: still read again.
  const shallow = Object.freeze({ ...base, purposes: ["personalization"] });
  assert.deepStrictEqual(gate.decideForPage(token, shallow), gate.decideForPage(token, base));
  shallow.purposes[0] = "targeted_advertising";
  assert.deepStrictEqual(gate.decideForPage(token, shallow), gate.decideForPage(token, other));
  // Deeply frozen: the same answers, again and again, and between other contexts.
  const frozen = Object.freeze({ ...base, purposes: Object.freeze(["personalization"]) });
  for (let i = 0; i < 3; i++) {
    assert.deepStrictEqual(gate.decide(token, frozen), want);
    assert.deepStrictEqual(gate.decide(token, other), wantOther);
  }
  // Without `now`, the clock is read on every call, frozen or not.
  const { now: _, ...clock } = base;
  const frozenClock = Object.freeze({ ...clock, purposes: Object.freeze(["personalization"]) });
  assert.deepStrictEqual(gate.decide(token, frozenClock), gate.decide(token, clock));
  const bad = Object.freeze({ ...base, purposes: Object.freeze([1]) });
  assert.equal(gate.decide(token, bad).error.code, "bad_context");
  assert.equal(gate.decide(token, bad).error.code, "bad_context");
});

test("a gate that keeps its last context answers as a fresh gate, context after context", () => {
  const t = Math.floor(Date.now() / 1000);
  const token = sign(GOLDEN, claims({ n: 8, t }));
  const base = { now: t, purposes: ["personalization"], channel: "web", tenant: "demo-shop", scope: "web" };
  class Ctx { constructor() { Object.assign(this, base); } }
  // A member with a getter that may be read once only.
  const readOnce = (value) => {
    const ctx = { ...base };
    let reads = 0;
    Object.defineProperty(ctx, "channel", { enumerable: true, get: () => { if (reads++) throw new Error("read twice"); return value; } });
    return ctx;
  };
  const withGetter = Symbol("a getter read once");
  const bare = Object.assign(Object.create(null), base);
  const inherited = Object.assign(Object.create({ gpc: true }), base);
  const contexts = [
    base, { ...base }, { ...base, purposes: ["personalization"] }, { ...base, purposes: ["targeted_advertising"] },
    { ...base, gpc: true }, { ...base, gpc: false }, { ...base, now: undefined }, { ...base, extra: 1 }, { ...base },
    undefined, { ...base }, null, { ...base, purposes: ["personalization", "targeted_advertising"] },
    { ...base, purposes: ["personalization"] }, { ...base, purposes: ["personalization", undefined] },
    { ...base, purposes: "personalization" }, { ...base }, new Ctx(), { ...base }, bare, { ...base }, inherited,
    { ...base }, withGetter, withGetter, withGetter, { ...base, now: t + 1 }, { ...base, now: t + 1.5 }, { ...base, now: t },
    { ...base, tenant: "other-shop" }, { ...base }, Object.freeze({ ...base, purposes: Object.freeze(["personalization"]) }),
    { ...base, scope: "app" }, { purposes: base.purposes, channel: "web", tenant: "demo-shop", scope: "web", now: t },
  ];
  for (const method of ["decide", "decideForPage"]) {
    const kept = new sg.Gate(POLICY, GOLDEN.jwks, { audience: "signalgate" });
    contexts.forEach((ctx, i) => {
      const fresh = new sg.Gate(POLICY, GOLDEN.jwks, { audience: "signalgate" });
      const [a, b] = ctx === withGetter ? [readOnce(i % 2 ? "web" : "email"), readOnce(i % 2 ? "web" : "email")] : [ctx, ctx];
      assert.deepStrictEqual(kept[method](token, a), fresh[method](token, b), `${method} #${i}`);
      fresh.free();
    });
    kept.free();
  }
});
