// The webhook signature vectors (tests/vectors/webhooks/signatures.json,
// written by tests/it/webhook_vectors.rs from signalgate's signer) checked
// with an independent implementation of Standard Webhooks: the npm package
// `standardwebhooks` (the convention's reference TypeScript library).
// Valid cases must verify, invalid ones must throw its
// WebhookVerificationError, and for each valid case the package's own
// signature must be one of the header's entries.
//
// The package reads the clock: `verify` compares `webhook-timestamp` with
// `Date.now()` under a fixed 5-minute tolerance, and has no option to pass
// the time or turn the check off. So each case fakes `Date.now` (node:test's
// `t.mock.method`, undone when the test ends) to return the case's `now`,
// the receiver's clock the vector states; the timestamp checks (the edges at
// exactly 300 s, one second past them, a replay a day later) are thus the
// package's own, not skipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Webhook, WebhookVerificationError } from "standardwebhooks";

// Not from helpers.mjs, which loads the wasm build: this test needs none.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

// The package's message for each of signalgate's refusal codes, so that an
// invalid case is refused for the reason the vector states.
const REASON = {
  signature_mismatch: /^No matching signature found$/,
  no_signature: /^No matching signature found$/,
  timestamp_too_old: /^Message timestamp too old$/,
  timestamp_too_new: /^Message timestamp too new$/,
  invalid_header: /^(Missing required headers|Invalid Signature Headers)$/,
};

const FILE = JSON.parse(readFileSync(join(ROOT, "tests", "vectors", "webhooks", "signatures.json"), "utf8"));

test("the vector file holds the published vector and both kinds of case", () => {
  // The package verifies under 300 s, whatever the file says.
  assert.equal(FILE.tolerance_seconds, 300);
  assert.ok(FILE.cases.length >= 20);
  assert.ok(FILE.cases.some((c) => c.valid) && FILE.cases.some((c) => !c.valid));
  const spec = FILE.cases.find((c) => c.name === "spec-vector");
  assert.equal(spec.headers["webhook-signature"], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
});

for (const c of FILE.cases) {
  test(`${c.valid ? "valid" : "invalid"}: ${c.name} (${c.description})`, (t) => {
    t.mock.method(Date, "now", () => c.now * 1000);
    const wh = new Webhook(c.secret);
    if (c.valid) {
      const parsed = wh.verify(c.body, c.headers);
      assert.deepEqual(parsed, c.body === "" ? undefined : JSON.parse(c.body));
      const ts = Number(c.headers["webhook-timestamp"]);
      const ours = c.headers["webhook-signature"].split(" ");
      assert.ok(ours.includes(wh.sign(c.headers["webhook-id"], new Date(ts * 1000), c.body)), "the package signs the same");
    } else {
      assert.ok(REASON[c.error], `no expected reason for ${c.error}`);
      assert.throws(() => wh.verify(c.body, c.headers), (e) => e instanceof WebhookVerificationError && REASON[c.error].test(e.message));
    }
  });
}
