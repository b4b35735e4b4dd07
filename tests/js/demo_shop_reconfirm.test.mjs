// The demo shop's reconfirmation prompt, in headless Chromium through the
// gate and the origin in workerd. A test policy makes a price range due for
// reconfirmation as soon as it is shared (price_band lives 1 hour and is
// listed as expiring 2 hours ahead), in both Workers like
// governance_e2e.test.mjs does: the shop asks "Still looking for premium
// gear?" in a non-modal banner, "Yes, keep it" reconfirms it at the origin,
// "No, remove it" deletes it, and "Ask me later" leaves it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, startWorker, originStack } from "./helpers.mjs";
import { launch, visitor, shot, axe, printAxe, share, ready, waitText } from "./demo_shop_lib.mjs";

const policy = JSON.parse(readFileSync(join(ROOT, "www", "policy.json"), "utf8"));
policy.classes.price_band.ttl = "1h";
policy.classes.price_band.retention = "2h";
policy.classes.price_band.reconfirm_lead = "2h";
const POLICY = JSON.stringify(policy);
let w, browser;

before(async () => {
  const stack = originStack({ SG_POLICY: POLICY }, { SG_POLICY: POLICY });
  w = await startWorker(stack.gate, { origin: stack.origin });
  browser = await launch();
});
after(async () => {
  printAxe("demo_shop_reconfirm.test.mjs");
  await browser?.close();
  await w?.stop();
});

/** The ledger's view of the visitor's price range, through the page's own session. */
const priceBand = (page) => page.evaluate(async () => {
  const r = await fetch("/v1/signals");
  return (await r.json()).signals.find((s) => s.signal_type === "price_band") || null;
});

test("an expiring choice: the banner asks, and Yes, keep it reconfirms it", async () => {
  const { context, page } = await visitor(browser);
  await share(page, w.url, { interest: ["trail-running"], price_band: "premium" });
  await page.goto(`${w.url}/`);
  await ready(page);
  await page.waitForSelector("#reconfirm:not([hidden])");
  assert.equal(await page.getAttribute("#reconfirm", "role"), null, "a banner, not a dialog");
  assert.equal(await page.$("#reconfirm[aria-modal]"), null);
  assert.equal(await page.textContent("#reconfirm-question"), "Still looking for premium gear?");
  assert.match(await page.textContent("#reconfirm"), /We will stop using it on .+ unless you say so/);
  assert.ok(await page.isVisible("#reconfirm-keep"));
  assert.ok(await page.isVisible("#reconfirm-remove"));
  // Non-modal: the rest of the page stays usable while it is shown.
  await page.click("#why summary");
  assert.ok(await page.evaluate(() => document.getElementById("why").open));
  await shot(page, "demo-shop-reconfirm-banner");
  await axe(page, "/ (reconfirmation banner)");
  assert.equal((await priceBand(page)).reconfirmed_at, null);

  await page.click("#reconfirm-keep");
  await page.waitForSelector("#flash");
  assert.equal(await page.textContent("#flash"), "Thanks: we keep “Premium”.");
  const band = await priceBand(page);
  assert.equal(band.value, "premium");
  assert.ok(band.reconfirmed_at >= band.captured_at, "reconfirmed at the origin");
  await ready(page);
  assert.ok(await page.isHidden("#reconfirm"), "not asked again right after answering");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("No, remove it deletes the choice; the preference centre shows it gone", async () => {
  const { context, page } = await visitor(browser);
  await share(page, w.url, { interest: ["hiking"], price_band: "budget" });
  // The banner shows on every page, the preference centre too.
  await page.waitForSelector("#reconfirm:not([hidden])");
  assert.equal(await page.textContent("#reconfirm-question"), "Still looking for good value gear?");
  await axe(page, "/preferences (reconfirmation banner)");
  await page.click("#reconfirm-remove");
  await waitText(page, "#pref-status", /Removed “Good value”: we no longer use it/);
  assert.ok(await page.isHidden("#reconfirm"));
  assert.equal(await page.inputValue('input[name="price_band"]:checked'), "");
  assert.ok(await page.isChecked('input[name="interest"][value="hiking"]'), "only the one choice went");
  assert.equal(await priceBand(page), null);
  await shot(page, "demo-shop-reconfirm-removed");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("Ask me later hides the banner for this visit and changes nothing", async () => {
  const { context, page } = await visitor(browser);
  await share(page, w.url, { price_band: "mid" });
  await page.goto(`${w.url}/deals/`);
  await ready(page);
  await page.waitForSelector("#reconfirm:not([hidden])");
  await page.click("#reconfirm-later");
  assert.ok(await page.isHidden("#reconfirm"));
  await page.reload();
  await ready(page);
  assert.ok(await page.isHidden("#reconfirm"), "not asked again in this visit");
  assert.equal((await priceBand(page)).reconfirmed_at, null);
  await context.close();
});
