// Evidence packs written by the native CLI (`signalgate ledger evidence
// --format json`) validated with an independent JSON Schema implementation
// (Ajv, draft 2020-12) against the published schema,
// docs/evidence-pack.schema.json: a subject with captures, a revoked
// consent, a retention lock and webhook deliveries; an erased subject; both
// sides of a merge, and of a merge split back; a pack narrowed to a window.
// The HTML page of the erased subject's pack shows no erased value.
//
// (No accessibility audit of the page here: axe-core is not among the
// project's Node dev dependencies.)
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";

// Not from helpers.mjs, which loads the wasm build: this test needs none.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CLI = join(ROOT, "target", "debug", "signalgate");
const POLICY = join(ROOT, "www", "policy.json");
const SCHEMA = join(ROOT, "docs", "evidence-pack.schema.json");
const skip = (!existsSync(CLI) && "native CLI not built (cargo build --bin signalgate)")
  || (!existsSync(SCHEMA) && "docs/evidence-pack.schema.json missing");
const T0 = 1_790_000_000;

let dir, db, key;
const cli = (...args) => execFileSync(CLI, ["ledger", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const at = (t) => ["--db", db, "--policy", POLICY, "--tenant", "demo-shop", "--now", String(t)];
const write = (t, subject) => [...at(t), "--key", key, "--subject", subject];

function submit(t, subject, signal_type, value, consent, purposes = ["personalization"]) {
  const body = join(dir, `capture-${subject}-${t}.json`);
  writeFileSync(body, JSON.stringify({
    signal_type, value, purposes, consent_reference: consent, source_context: { channel: "web" },
  }));
  return JSON.parse(cli("submit", ...write(t, subject), body));
}

const pack = (t, subject, ...more) => {
  const text = cli("evidence", ...at(t), "--subject", subject, "--format", "json", ...more);
  return { text, pack: JSON.parse(text) };
};

let packs;

/** A port nothing listens on (one the system just gave out and took back). */
async function closedPort() {
  const server = createServer();
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "sg-evidence-"));
  db = join(dir, "ledger.db");
  key = join(dir, "origin.jwk");
  execFileSync(CLI, ["keygen", "--kid", "origin-1", "--private-out", key, "--public-out", join(dir, "keys.jwks")], { stdio: "ignore" });
  cli("init", "--db", db);
  // Webhooks to a port nothing listens on: the packs carry failed deliveries.
  cli("webhooks", "add", "--db", db, "--tenant", "demo-shop", "--now", String(T0), "--url", `http://127.0.0.1:${await closedPort()}/hook`,
    "--events", "signal.created,consent.revoked,subject.erased");
  // A subject with captures, a revoked consent and a retention lock.
  submit(T0, "u-full", "interest", "hiking", "c-1", ["personalization", "marketing_email"]);
  submit(T0 + 1, "u-full", "language", "de", "c-1", ["personalization", "marketing_email"]);
  submit(T0 + 2, "u-full", "price_band", "premium", "c-2");
  submit(T0 + 3, "u-full", "health_goal", "weight-loss", "c-3");
  cli("revoke", ...write(T0 + 10, "u-full"), "c-2");
  cli("lock", ...write(T0 + 11, "u-full"), "--until", String(T0 + 400 * 86_400), "--reason", "legal_hold");
  cli("webhooks", "deliver", "--db", db, "--tenant", "demo-shop", "--now", String(T0 + 12));
  // An erased subject.
  submit(T0, "u-erase", "interest", "trail-running", "c-1");
  submit(T0 + 1, "u-erase", "health_goal", "injury-recovery", "c-2");
  submit(T0 + 2, "u-erase", "contact_channel", "sms", "c-3");
  cli("delete", ...write(T0 + 20, "u-erase"), "--erase");
  // A merge, and another one split back.
  submit(T0, "anon-m", "interest", "camping", "c-a");
  submit(T0 + 1, "user-m", "language", "fr", "c-u");
  cli("merge", ...at(T0 + 30), "--key", key, "--source", "anon-m", "--target", "user-m", "--evidence", "login");
  submit(T0, "anon-s", "interest", "yoga", "c-a");
  submit(T0 + 1, "user-s", "interest", "cycling", "c-u");
  const merged = JSON.parse(cli("merge", ...at(T0 + 31), "--key", key, "--source", "anon-s", "--target", "user-s", "--evidence", "login"));
  cli("split", ...at(T0 + 40), "--key", key, merged.merge.merge_id);
  const t = T0 + 100;
  packs = {
    full: pack(t, "u-full"),
    erased: pack(t, "u-erase"),
    source: pack(t, "anon-m"),
    target: pack(t, "user-m"),
    splitSource: pack(t, "anon-s"),
    splitTarget: pack(t, "user-s"),
    window: pack(t, "u-full", "--from", String(T0 + 2), "--to", String(T0 + 10)),
  };
});

test("every pack the CLI writes is valid against docs/evidence-pack.schema.json", { skip }, () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const valid = ajv.compile(JSON.parse(readFileSync(SCHEMA, "utf8")));
  for (const [name, { pack }] of Object.entries(packs)) {
    assert.ok(valid(pack), `${name}: ${JSON.stringify(valid.errors, null, 1)}`);
    assert.equal(pack.chain.verified, true, name);
  }
  // The schema refuses what is not a pack: it is not vacuous.
  const broken = structuredClone(packs.full.pack);
  delete broken.chain;
  assert.equal(valid(broken), false);
  assert.equal(valid({ ...packs.full.pack, pack: "signalgate-evidence/0" }), false);
});

test("the packs hold what happened: uses, revocation, lock, deliveries, erasures, merges", { skip }, () => {
  const full = packs.full.pack;
  assert.ok(full.uses.length >= 4, "a bundle per capture");
  assert.equal(full.consents.find((c) => c.consent_id === "c-2").status, "revoked");
  assert.equal(full.retention_lock.reason, "legal_hold");
  assert.ok(full.webhooks.length >= 1 && full.webhooks.every((d) => d.attempts >= 1 && d.last_error), JSON.stringify(full.webhooks));
  assert.ok(full.collected.some((c) => c.signal_type === "health_goal" && c.encrypted_at_rest && c.value === "weight-loss"));
  const erased = packs.erased.pack;
  assert.equal(erased.erasures[0].reason, "subject_request");
  assert.ok(!packs.erased.text.includes("trail-running") && !packs.erased.text.includes("injury-recovery"));
  assert.deepEqual(packs.source.pack.merges.map((m) => m.role), ["source"]);
  assert.deepEqual(packs.target.pack.merges.map((m) => m.role), ["target"]);
  assert.ok(packs.splitTarget.pack.merges.some((m) => m.split), JSON.stringify(packs.splitTarget.pack.merges));
  assert.ok(packs.splitSource.pack.merges.some((m) => m.split), JSON.stringify(packs.splitSource.pack.merges));
  // A window narrows the lists, never the chain.
  const w = packs.window.pack;
  assert.deepEqual(w.window, { from: T0 + 2, to: T0 + 10 });
  assert.equal(w.events.length, full.events.length);
  assert.ok(w.collected.length < full.collected.length);
  assert.ok(w.collected.every((c) => c.captured_at >= T0 + 2 && c.captured_at <= T0 + 10));
});

test("the HTML page of the erased subject's pack shows no erased value", { skip }, () => {
  const html = cli("evidence", ...at(T0 + 100), "--subject", "u-erase", "--format", "html");
  assert.match(html, /^<!doctype html>/i);
  assert.match(html, /proof of suppression/i);
  assert.doesNotMatch(html, /trail-running|injury-recovery/);
  assert.doesNotMatch(html, /<script/i, "self-contained, no scripts");
  // The same page written to a file is the same page.
  const out = join(dir, "u-erase.html");
  cli("evidence", ...at(T0 + 100), "--subject", "u-erase", "--format", "html", "--out", out);
  assert.equal(readFileSync(out, "utf8"), html);
});
