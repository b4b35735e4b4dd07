// The demo shop's preference centre when the network or other tabs get in
// the way, in Debian's headless Chromium through the gate and the origin in
// workerd:
// - offline: a choice is saved on the device, the page is reloaded while
//   still offline (the shop's service worker serves the preference centre)
//   and shows it waiting; back online it is delivered exactly once: one
//   request per choice and one version in the ledger's history;
// - two tabs of one visitor: saving in both at once, online and then offline
//   with both tabs flushing together when the network comes back, records
//   every choice once, in one subject, with no second version; a tab being
//   edited while the other saves keeps the visitor's edit and, once saved,
//   the other tab's choice.
// The ledger is read through the origin's admin route (SG_FORWARD_ADMIN on
// this local gate). Screenshots: build/screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, originStack } from "./helpers.mjs";
import { launch, visitor, shot, axe, printAxe, ready, waitText, ledgerCaptures, recordSends, offlineReady } from "./demo_shop_lib.mjs";

let w, browser, stack;

before(async () => {
  stack = originStack();
  w = await startWorker(stack.gate, { origin: stack.origin });
  browser = await launch();
});
after(async () => {
  printAxe("demo_shop_queue.test.mjs");
  await browser?.close();
  await w?.stop();
});

const count = (list) => list.reduce((m, k) => m.set(k, (m.get(k) || 0) + 1), new Map());
const sharedMarks = (page) => page.$$eval(".choice .shared:not(.waiting)", (els) => els.map((e) => e.parentElement.querySelector("input").value).sort());

test("offline: saved on this device, still there after a reload, delivered exactly once when back online", async () => {
  const { context, page } = await visitor(browser);
  const sent = recordSends(context);
  await page.goto(`${w.url}/preferences`);
  await ready(page);
  await offlineReady(page);

  await context.setOffline(true);
  await page.check('input[name="interest"][value="yoga"]');
  await page.check('input[name="price_band"][value="mid"]');
  await page.click("#save");
  assert.equal(await waitText(page, "#pref-status", /Saved on this device/), "Saved on this device; will be sent when you are back online.");
  assert.deepEqual(sent, [], "nothing left the browser while offline");

  // A reload while offline: the page comes from the service worker, the
  // choices from the SDK's queue in IndexedDB.
  await page.reload();
  await ready(page);
  assert.equal(await page.evaluate(() => navigator.onLine), false);
  assert.match(await page.textContent("#shared-text"), /You are offline[\s\S]*Waiting on this device to be sent: (Yoga, Price range: Mid-range|Price range: Mid-range, Yoga)\./);
  assert.ok(await page.isChecked('input[name="interest"][value="yoga"]'));
  assert.ok(await page.isChecked('input[name="price_band"][value="mid"]'));
  assert.match(await page.textContent('label:has(input[value="yoga"])'), /waiting to be sent/);
  assert.deepEqual(await sharedMarks(page), [], "nothing is shown as shared with the shop yet");
  // Saving again offline sends nothing twice: the waiting choices are not queued again.
  await page.click("#save");
  await waitText(page, "#pref-status", /Nothing to save/);
  assert.equal((await page.evaluate(async () => (await import("/sdk/signalgate.mjs")).createSignalgate().then((sg) => sg.pending()))).length, 2);
  await shot(page, "demo-shop-offline-reloaded");
  await axe(page, "/preferences (offline, after a reload)");

  await context.setOffline(false); // the SDK flushes on the online event
  await waitText(page, "#pref-status", /^Sent: your choices are saved/);
  await page.waitForFunction(() => document.querySelectorAll(".choice .shared:not(.waiting)").length === 2);
  assert.deepEqual(await sharedMarks(page), ["mid", "yoga"]);
  assert.equal(await page.locator(".choice .waiting").count(), 0);

  assert.equal(sent.length, 2, `requests: ${JSON.stringify(sent)}`);
  assert.ok([...count(sent).values()].every((n) => n === 1), "each choice sent once");
  const caps = await ledgerCaptures(w, stack.admin, page);
  assert.deepEqual(caps.map((c) => `${c.signal_type}@${c.version}`).sort(), ["interest@1", "price_band@1"], "recorded once each, version 1");
  await shot(page, "demo-shop-offline-delivered");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("two tabs saving at once, online and then offline: every choice recorded once, no second version", async () => {
  const { context, page: a } = await visitor(browser);
  const sent = recordSends(context);
  const b = await context.newPage();
  b.errors = [];
  b.on("pageerror", (e) => b.errors.push(e.message));
  for (const page of [a, b]) {
    await page.goto(`${w.url}/preferences`);
    await ready(page);
  }
  await offlineReady(a);

  // A new visitor saves in both tabs at the same moment: one tab sends at a
  // time (the SDK's lock), so both land in one subject.
  await a.check('input[name="interest"][value="hiking"]');
  await b.check('input[name="interest"][value="climbing"]');
  await b.check('input[name="price_band"][value="premium"]');
  await Promise.all([a.click("#save"), b.click("#save")]);
  await Promise.all([waitText(a, "#pref-status", /^Saved\./), waitText(b, "#pref-status", /^Saved\./)]);
  // Each tab hears of the other's choices and shows them as shared.
  for (const page of [a, b]) {
    await page.waitForFunction(() => document.querySelectorAll(".choice .shared:not(.waiting)").length === 3, null, { timeout: 15000 });
    assert.deepEqual(await sharedMarks(page), ["climbing", "hiking", "premium"]);
  }

  // A is editing while B saves: A shows B's choice as shared but leaves its
  // own unsaved tick alone, and A's save keeps B's choice.
  await a.check('input[name="interest"][value="cycling"]');
  await b.check('input[name="interest"][value="camping"]');
  await b.click("#save");
  await a.waitForSelector('label:has(input[value="camping"]) .shared:not(.waiting)');
  assert.ok(await a.isChecked('input[name="interest"][value="cycling"]'), "the visitor's unsaved tick is left alone");
  assert.equal(await a.isChecked('input[name="interest"][value="camping"]'), false, "the form is not refilled under the visitor's hands");
  await a.click("#save");
  for (const page of [a, b]) {
    await page.waitForFunction(() => document.querySelectorAll(".choice .shared:not(.waiting)").length === 5, null, { timeout: 15000 });
    assert.deepEqual(await sharedMarks(page), ["camping", "climbing", "cycling", "hiking", "premium"]);
  }
  // Once saved, the form is filled again from what is shared.
  await a.waitForFunction(() => document.querySelector('input[name="interest"][value="camping"]').checked, null, { timeout: 10000 });

  // Offline, each tab saves one more choice; back online both tabs flush at once.
  await context.setOffline(true);
  await a.check('input[name="interest"][value="trail-running"]');
  await b.check('input[name="interest"][value="yoga"]');
  await Promise.all([a.click("#save"), b.click("#save")]);
  await Promise.all([waitText(a, "#pref-status", /Saved on this device/), waitText(b, "#pref-status", /Saved on this device/)]);
  await shot(b, "demo-shop-two-tabs-offline");
  await context.setOffline(false);
  for (const page of [a, b]) {
    await page.waitForFunction(() => document.querySelectorAll(".choice .shared:not(.waiting)").length === 7, null, { timeout: 20000 });
    assert.deepEqual(await sharedMarks(page), ["camping", "climbing", "cycling", "hiking", "premium", "trail-running", "yoga"]);
  }

  assert.equal(sent.length, 7, `requests: ${JSON.stringify(sent)}`);
  assert.ok([...count(sent).values()].every((n) => n === 1), "each choice sent once");
  const caps = await ledgerCaptures(w, stack.admin, a);
  assert.equal(caps.length, 7, JSON.stringify(caps));
  assert.equal(new Set(caps.map((c) => c.signal_id)).size, 7, "no signal has a second version");
  assert.ok(caps.every((c) => c.version === 1), JSON.stringify(caps));
  const [la, lb] = await Promise.all([a, b].map((p) => p.evaluate(async () => (await (await fetch("/v1/signals")).json()))));
  assert.equal(la.subject_id, lb.subject_id, "one visitor, one subject");
  assert.equal(la.signals.length, 7);
  await shot(a, "demo-shop-two-tabs-delivered");
  await axe(a, "/preferences (two tabs, all delivered)");
  assert.deepEqual([...a.errors, ...b.errors], []);
  await context.close();
});
