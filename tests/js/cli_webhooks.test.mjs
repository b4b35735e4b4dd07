// Webhooks sent by the native CLI (`signalgate ledger webhooks deliver`) over
// real HTTP to a receiver that checks every request with an independent
// implementation of Standard Webhooks, the npm package `standardwebhooks`,
// and de-duplicates on `webhook-id` as a consumer should. The receiver is
// down (503) for its first requests: the CLI retries on the ledger's backoff
// schedule (5 s doubling, ±20 % jitter), driven here with `--now`, until
// every event is delivered. Then the endpoint's secret is rotated: during
// the overlap each message is signed with both secrets.
//
// `standardwebhooks` checks `webhook-timestamp` against the real clock
// (5 minutes either way), so the simulated time starts at the real time and
// moves on by less than a minute.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Webhook } from "standardwebhooks";

// Not from helpers.mjs, which loads the wasm build: this test needs none.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CLI = join(ROOT, "target", "debug", "signalgate");
const POLICY = join(ROOT, "www", "policy.json");
const skip = !existsSync(CLI) && "native CLI not built (cargo build --bin signalgate)";

// Asynchronous on purpose: the receiver answers from this same event loop.
const exec = promisify(execFile);

/// A consumer: verifies each request with every secret it is given,
/// answers 503 to the first `downFor`, then 204, and keeps each message once.
function receiver(downFor) {
  const r = { requests: 0, verified: 0, bad: [], messages: new Map(), duplicates: 0, secrets: [], paths: [] };
  r.server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      r.requests += 1;
      r.paths.push(req.url);
      if (req.url === "/moved") {
        res.writeHead(307, { location: "/hook" });
        res.end();
        return;
      }
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        for (const secret of r.secrets) new Webhook(secret).verify(body, req.headers);
        r.verified += 1;
      } catch (e) {
        r.bad.push(String(e));
        res.writeHead(400);
        res.end();
        return;
      }
      if (r.requests <= downFor) {
        res.writeHead(503, { "content-type": "text/plain" });
        res.end("down for maintenance");
        return;
      }
      const id = req.headers["webhook-id"];
      if (r.messages.has(id)) r.duplicates += 1;
      else r.messages.set(id, JSON.parse(body));
      res.writeHead(204);
      res.end();
    });
  });
  return r;
}

let dir, db, key, rx, url, t0, first;

async function cli(...args) {
  const { stdout } = await exec(CLI, ["ledger", ...args], { encoding: "utf8" });
  return stdout;
}
const at = (t) => ["--db", db, "--tenant", "demo-shop", "--now", String(t)];
const write = (t, subject) => [...at(t), "--policy", POLICY, "--key", key, "--subject", subject];

async function submit(t, subject, value, consent) {
  const body = join(dir, `capture-${t}.json`);
  writeFileSync(body, JSON.stringify({
    signal_type: "interest", value, purpose: "personalization", consent_reference: consent,
    source_context: { channel: "web" },
  }));
  return JSON.parse(await cli("submit", ...write(t, subject), body));
}

async function deliveries(t, ...filter) {
  return JSON.parse(await cli("webhooks", "deliveries", ...at(t), "--json", ...filter));
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "sg-cli-webhooks-"));
  db = join(dir, "ledger.db");
  key = join(dir, "origin.jwk");
  await exec(CLI, ["keygen", "--kid", "origin-1", "--private-out", key, "--public-out", join(dir, "keys.jwks")]);
  await cli("init", "--db", db);
  rx = receiver(5);
  await new Promise((ok) => rx.server.listen(0, "127.0.0.1", ok));
  url = `http://127.0.0.1:${rx.server.address().port}`;
  t0 = Math.floor(Date.now() / 1000);
});
after(() => rx?.server.close());

test("every event arrives once, signed, through retries while the target is down; a rotation signs with both secrets", { skip }, async () => {
  const added = JSON.parse(await cli("webhooks", "add", ...at(t0), "--url", `${url}/hook`,
    "--events", "signal.created,consent.revoked", "--json"));
  assert.match(added.endpoint_id, /^ep_/);
  assert.match(added.secret, /^whsec_/);
  first = added.endpoint_id;
  rx.secrets = [added.secret];
  for (const [i, v] of ["hiking", "yoga", "cycling"].entries()) await submit(t0 + i, "u-w", v, "c-1");
  await cli("revoke", ...write(t0 + 3, "u-w"), "c-1");
  const expected = await deliveries(t0 + 3);
  assert.equal(expected.length, 4, JSON.stringify(expected));
  assert.deepEqual(expected.map((d) => d.event_type).sort(), ["consent.revoked", "signal.created", "signal.created", "signal.created"]);

  // Pass after pass, each 13 s on (past any retry due: 5 s then 10 s, +20 %), until nothing is pending.
  let now = t0 + 4;
  const log = [];
  for (let pass = 0; pass < 12; pass++) {
    const out = await cli("webhooks", "deliver", ...at(now));
    log.push(out);
    assert.match(out, /sent \d+, delivered \d+, failed \d+, dead 0/);
    if ((await deliveries(now, "--state", "pending")).length === 0) break;
    now += 13;
  }
  assert.ok(now - t0 < 120, "within the receiver's timestamp tolerance");
  assert.match(log[0], /failed: endpoint ep_\S+ message msg_\S+: status 503 \(try 1\)/, log[0]);
  const records = await deliveries(now);
  assert.ok(records.every((d) => d.state === "delivered"), JSON.stringify(records));
  assert.ok(records.some((d) => d.attempts > 2), "some message was retried twice");
  // Each event once after de-duplication, every request verified.
  assert.deepEqual([...rx.messages.keys()].sort(), expected.map((d) => d.msg_id).sort());
  assert.equal(rx.bad.length, 0, rx.bad.join("\n"));
  assert.equal(rx.verified, rx.requests);
  assert.ok(rx.requests > rx.messages.size, "retries happened");
  const types = [...rx.messages.values()].map((m) => m.type).sort();
  assert.deepEqual(types, ["consent.revoked", "signal.created", "signal.created", "signal.created"]);

  // Rotation: during the overlap the next message verifies with the old secret and with the new one.
  const rotated = await cli("webhooks", "rotate", ...at(now), added.endpoint_id);
  const secret = rotated.match(/^secret: (whsec_\S+)$/m)[1];
  assert.notEqual(secret, added.secret);
  rx.secrets = [added.secret, secret];
  const before = rx.verified;
  await submit(now + 1, "u-w", "camping", "c-2");
  const out = await cli("webhooks", "deliver", ...at(now + 1));
  assert.match(out, /sent 1, delivered 1, failed 0, dead 0/, out);
  assert.equal(rx.verified, before + 1);
  assert.equal(rx.bad.length, 0, rx.bad.join("\n"));
  assert.equal(rx.messages.size, 5);
  assert.equal(rx.duplicates, 0);
});

test("a redirect is a failure, never followed", { skip }, async () => {
  if (first) await cli("webhooks", "disable", ...at(t0 + 100), first);
  const added = JSON.parse(await cli("webhooks", "add", ...at(t0 + 100), "--url", `${url}/moved`,
    "--events", "signal.deleted", "--json"));
  const sig = await submit(t0 + 100, "u-x", "climbing", "c-9");
  await cli("delete-signal", ...write(t0 + 101, "u-x"), sig.signal.signal_id);
  const hits = rx.paths.length;
  const out = await cli("webhooks", "deliver", ...at(t0 + 102));
  assert.match(out, /redirect \(status 307\) not followed \(try 1\)/, out);
  assert.match(out, /sent 1, delivered 0, failed 1, dead 0/, out);
  assert.deepEqual(rx.paths.slice(hits), ["/moved"], "the Location was not requested");
  const [d] = await deliveries(t0 + 102, "--state", "pending", "--subject", "u-x");
  assert.equal(d.endpoint_id, added.endpoint_id);
  assert.equal(d.last_status, 307);
});
