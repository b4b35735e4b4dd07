// The demo shop (www/) in Debian's headless Chromium, through the gate and
// the origin in workerd, driven like a visitor would: the shop starts
// generic with nothing ticked; shared preferences make it curated and the
// preference centre shows them after a reload; "Why am I seeing this?"
// names what was used and what was held back; withdrawing everything falls
// back at once; the evidence pack shows and downloads; "Forget me" erases;
// Global Privacy Control (navigator.globalPrivacyControl) keeps the partner
// ad out; and the preference centre works with the keyboard alone (offline
// and two tabs: demo_shop_queue.test.mjs). axe-core runs in every
// page: no serious or critical violation. Screenshots: build/screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, startWorker, originStack } from "./helpers.mjs";
import { launch, visitor, shot, axe, axeResults, printAxe, share, ready, segmentsOnPage, pageDecision, waitText, TOKENS, SHOTS } from "./demo_shop_lib.mjs";

let w, browser;

before(async () => {
  const stack = originStack();
  w = await startWorker(stack.gate, { origin: stack.origin });
  browser = await launch();
});
after(async () => {
  printAxe("demo_shop.test.mjs");
  await browser?.close();
  await w?.stop();
});

test("a new visitor: the shop is generic, nothing is ticked in advance, and no thanks shares nothing", async () => {
  const { context, page } = await visitor(browser);
  await page.goto(`${w.url}/`);
  await ready(page);
  assert.deepEqual(await pageDecision(page), { segments: [], tier: "generic" });
  assert.deepEqual(await segmentsOnPage(page), []);
  assert.equal(await page.locator("section.curated").count(), 0, "no curated block for a visitor who shared nothing");
  assert.ok(await page.isVisible("text=Make this shop yours"));
  assert.equal(await page.locator("#gear .card").count(), 8, "the product grid is there for everyone");
  await page.click("#why summary");
  assert.match(await page.textContent("#why-body"), /same for everyone/);
  await shot(page, "demo-shop-home-generic");
  await axe(page, "/ (generic)");

  await page.goto(`${w.url}/preferences`);
  await ready(page);
  for (const box of await page.$$("#prefs input[type=checkbox]")) assert.equal(await box.isChecked(), false, "a box ticked in advance");
  for (const name of ["price_band", "contact_frequency", "sms_quiet_hours"]) {
    assert.equal(await page.inputValue(`input[name="${name}"]:checked`), "", `${name} starts as not shared`);
  }
  assert.equal(await page.inputValue("#language"), "");
  // Each choice says what it is for, next to the control.
  for (const fs of ["interest", "language", "price", "channel", "frequency", "quiet"]) {
    assert.match(await page.textContent(`#purpose-${fs}`), /^Used (to|only to) [^.]+\.\s+(We never .+\.\s+)?You can change or withdraw this at any time\.$/);
  }
  await page.check('input[value="climbing"]');
  await page.click("#decline");
  assert.match(await page.textContent("#pref-status"), /No thanks: nothing was shared/);
  assert.equal(await page.isChecked('input[value="climbing"]'), false);
  await shot(page, "demo-shop-preferences-empty");
  await axe(page, "/preferences (nothing shared)");
  assert.equal((await context.cookies()).find((c) => c.name === "sg_bundle"), undefined, "no bundle: nothing was sent");

  // Every product page, and the pages about the visitor's data, with nothing shared.
  const catalogue = JSON.parse(readFileSync(join(ROOT, "www", "products", "catalogue.json"), "utf8"));
  for (const [slug, product] of Object.entries(catalogue)) {
    await page.goto(`${w.url}/products/?id=${slug}`);
    await ready(page);
    assert.equal(await page.locator("h1").count(), 1);
    assert.equal(await page.textContent("h1"), product.name);
    assert.equal(await page.title(), `${product.name} · Trailhead Outfitters`);
    assert.equal(await page.locator("#product .specs li").count(), product.specs.length);
    assert.equal(await page.getAttribute("#product .pic img", "alt"), `Illustration of the ${product.name}`);
    assert.ok(await page.evaluate(() => document.querySelector("#product .pic img").decode().then(() => true, () => false)), `${slug}: its picture loads`);
    await axe(page, `/products/?id=${slug} (generic)`);
  }
  await page.goto(`${w.url}/products/?id=no-such-thing`);
  await ready(page);
  assert.equal(await page.textContent("h1"), "We could not find that product");
  await axe(page, "/products/?id=no-such-thing (generic)");
  for (const path of ["/deals/", "/privacy", "/evidence"]) {
    await page.goto(`${w.url}${path}`);
    await ready(page);
    await axe(page, `${path} (nothing shared)`);
  }
  assert.match(await page.textContent("#evidence-status"), /We hold nothing about you/, "the evidence page, last");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("sharing preferences: a curated home, explained, and the preference centre shows them after a reload", async () => {
  const { context, page } = await visitor(browser);
  const saved = await share(page, w.url, {
    interest: ["trail-running", "hiking"], language: "de", price_band: "premium",
    contact_channel: ["email", "sms"], contact_frequency: "weekly", sms_quiet_hours: "after-20h",
  });
  assert.match(saved, /^Saved\./);

  // After a reload the form shows what is shared, not an empty form.
  await page.reload();
  await ready(page);
  for (const v of ["trail-running", "hiking"]) assert.ok(await page.isChecked(`input[name="interest"][value="${v}"]`), v);
  for (const v of ["road-running", "climbing", "yoga"]) assert.equal(await page.isChecked(`input[name="interest"][value="${v}"]`), false, v);
  assert.equal(await page.inputValue("#language"), "de");
  assert.ok(await page.isChecked('input[name="price_band"][value="premium"]'));
  assert.ok(await page.isChecked('input[name="contact_channel"][value="email"]'));
  assert.ok(await page.isChecked('input[name="contact_channel"][value="sms"]'));
  assert.ok(await page.isChecked('input[name="contact_frequency"][value="weekly"]'));
  assert.ok(await page.isChecked('input[name="sms_quiet_hours"][value="after-20h"]'));
  assert.equal(await page.isChecked('input[name="interest_purpose"][value="targeted_advertising"]'), false);
  const summary = await page.textContent("#shared-text");
  assert.match(summary, /You are sharing 8 choices/);
  assert.match(summary, /No SMS after 8 pm/);
  await shot(page, "demo-shop-preferences-shared");
  await axe(page, "/preferences (choices shared)");

  // Change one thing: road running instead of hiking; only that is sent.
  await page.uncheck('input[name="interest"][value="hiking"]');
  await page.check('input[name="interest"][value="road-running"]');
  await page.click("#save");
  await waitText(page, "#pref-status", /^Saved\./);
  await page.reload();
  await ready(page);
  assert.equal(await page.isChecked('input[name="interest"][value="hiking"]'), false);
  assert.ok(await page.isChecked('input[name="interest"][value="road-running"]'));

  await page.goto(`${w.url}/`);
  await ready(page);
  const decision = await pageDecision(page);
  assert.equal(decision.tier, "curated");
  assert.deepEqual(await segmentsOnPage(page), [TOKENS.runners, TOKENS.premiumRunners, TOKENS.german]);
  assert.ok(await page.isVisible("section.curated h2:has-text('Picked for you')"));
  assert.ok(await page.isVisible(`[data-sg-segment="${TOKENS.runners}"] >> text=Ridgeline Trail Shoe`));
  assert.equal(await page.locator("text=Make this shop yours").count(), 0, "the generic block is gone");
  await page.click("#why summary");
  const why = await page.textContent("#why-body");
  assert.match(why, /personalised from some of your choices/);
  assert.match(why, /Used on this page[\s\S]*Trail running, for choosing which products we show you/);
  assert.match(why, /Language: Deutsch/);
  assert.match(why, /Not used on this page[\s\S]*Contact channel: Email, not for choosing which products we show you: you shared it only for our offers and news/);
  assert.match(why, /No SMS after 8 pm: it is not meant for this website/);
  await shot(page, "demo-shop-home-curated");
  // For the README: the top of the page down to the end of the explanation.
  // SG_REGENERATE=1 copies it to docs/img/demo-shop.png (committed).
  const bottom = await page.evaluate(() => document.getElementById("why").getBoundingClientRect().bottom + window.scrollY + 24);
  await shot(page, "demo-shop-home-readme", { clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom) } });
  if (process.env.SG_REGENERATE === "1") {
    mkdirSync(join(ROOT, "docs", "img"), { recursive: true });
    copyFileSync(join(SHOTS, "demo-shop-home-readme.png"), join(ROOT, "docs", "img", "demo-shop.png"));
  }
  await axe(page, "/ (curated, why panel open)");

  await page.goto(`${w.url}/products/?id=tempo-carbon-racer`);
  await ready(page);
  assert.equal((await pageDecision(page)).tier, "curated");
  assert.ok(await page.isVisible("h1:has-text('Tempo Carbon Racer')"));
  assert.ok(await page.isVisible(`[data-sg-segment="${TOKENS.premiumRunners}"]`));
  await page.click("[data-demo-basket]");
  assert.match(await page.textContent("#basket-status"), /nothing is for sale/);
  await shot(page, "demo-shop-product");
  await axe(page, "/products/?id=tempo-carbon-racer (curated)");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("withdrawing everything falls back at once; each step asks first", async () => {
  const { context, page } = await visitor(browser);
  await share(page, w.url, { interest: ["trail-running"], language: "de" });
  await page.goto(`${w.url}/`);
  assert.equal((await pageDecision(page)).tier, "curated");

  await page.goto(`${w.url}/privacy`);
  await ready(page);
  assert.match(await page.textContent("#shared-list"), /^Trail running.*Language: Deutsch/s, "interests first, then the other choices");
  assert.match(await page.textContent("#consent-list"), /Use for choosing which products we show you/);
  await page.click("#revoke-all");
  assert.ok(await page.isVisible("#confirm-revoke"), "a confirmation step");
  assert.equal(await page.evaluate(() => document.activeElement.id), "revoke-all-yes");
  await shot(page, "demo-shop-privacy-confirm");
  await axe(page, "/privacy (confirmation open)");
  await page.click("#revoke-all-no");
  assert.ok(await page.isHidden("#confirm-revoke"));
  assert.match(await page.textContent("#privacy-status"), /Cancelled: nothing was changed/);
  await page.click("#revoke-all");
  await page.click("#revoke-all-yes");
  await waitText(page, "#privacy-status", /Done: every consent is withdrawn/);
  assert.ok(await page.isVisible("#shared-empty"));
  const at = Date.now();
  await page.goto(`${w.url}/`);
  await ready(page);
  assert.notEqual((await pageDecision(page)).tier, "curated");
  assert.deepEqual(await segmentsOnPage(page), [], "no personalised block right after the withdrawal");
  assert.ok(Date.now() - at < 5000);
  await page.click("#why summary");
  assert.doesNotMatch(await page.textContent("#why-body"), /Used on this page[\s\S]*Trail running, for/);
  await shot(page, "demo-shop-home-after-withdrawal");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("the evidence pack: shown for people, downloadable; after Forget me nothing is held", async () => {
  const { context, page } = await visitor(browser, { acceptDownloads: true });
  await share(page, w.url, { interest: ["climbing"], price_band: "mid", sms_quiet_hours: "after-22h" });
  await page.goto(`${w.url}/evidence`);
  await ready(page);
  await waitText(page, "#evidence-status", /Your evidence pack, made/);
  assert.match(await page.textContent("#evidence"), /Intact: all \d+ entries chain together/);
  const shared = await page.textContent("#collected-cap + thead + tbody");
  assert.match(shared, /Climbing[\s\S]*Mid-range|Mid-range[\s\S]*Climbing/);
  assert.match(await page.textContent("#evidence"), /You shared a choice/);
  assert.match(await page.textContent("#evidence"), /Your choices were sent to the shop, signed/);
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-json")]);
  const pack = JSON.parse(readFileSync(await download.path(), "utf8"));
  assert.equal(pack.pack, "signalgate-evidence/1");
  assert.ok(pack.collected.some((s) => s.signal_type === "interest" && s.value === "climbing"));
  await shot(page, "demo-shop-evidence");
  await axe(page, "/evidence");

  await page.goto(`${w.url}/privacy`);
  await ready(page);
  await page.click("#erase");
  assert.ok(await page.isVisible("#confirm-erase"));
  await page.click("#erase-yes");
  await waitText(page, "#privacy-status", /Done: we erased what you shared/);
  assert.ok(await page.isVisible("#shared-empty"));
  await shot(page, "demo-shop-privacy-erased");
  await axe(page, "/privacy (after Forget me)");
  assert.deepEqual((await context.cookies()).filter((c) => c.value && /sg_(bundle|session)/.test(c.name)), [], "the browser's link is gone");
  await page.goto(`${w.url}/evidence`);
  await ready(page);
  assert.match(await page.textContent("#evidence-status"), /We hold nothing about you/);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("Global Privacy Control: no partner-ad segment, the ads choice is off, and the page says why", async () => {
  // Without GPC the visitor agrees to partner ads: /deals/ shows the partner offer.
  const plain = await visitor(browser);
  await share(plain.page, w.url, { interest: ["trail-running"], purposes: ["targeted_advertising"] });
  await plain.page.goto(`${w.url}/deals/`);
  await ready(plain.page);
  assert.deepEqual(await segmentsOnPage(plain.page), [TOKENS.runners, TOKENS.ads]);
  await shot(plain.page, "demo-shop-deals-no-gpc");
  await axe(plain.page, "/deals/ (with the partner offer)");
  const state = await plain.context.storageState({ indexedDB: true });
  await plain.context.close();

  // The same visitor with GPC on in the browser (the property only, no header).
  const gpc = await visitor(browser, { storageState: state });
  await gpc.context.addInitScript(() => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true, configurable: true }));
  const { page } = gpc;
  await page.goto(`${w.url}/deals/`);
  await ready(page);
  assert.deepEqual(await segmentsOnPage(page), [TOKENS.runners], "no ad-audience segment under GPC");
  assert.equal(await page.locator(`[data-sg-segment="${TOKENS.ads}"]`).count(), 0);
  await page.click("#why summary");
  assert.match(await page.textContent("#why-body"), /Trail running, not for ads on partner sites: your browser sends Global Privacy Control/);
  await shot(page, "demo-shop-deals-gpc");
  await axe(page, "/deals/ (GPC)");
  await page.goto(`${w.url}/preferences`);
  await ready(page);
  const ads = page.locator('input[name="interest_purpose"][value="targeted_advertising"]');
  assert.ok(await ads.isDisabled());
  assert.equal(await ads.isChecked(), false);
  assert.ok(await page.isVisible("#gpc-note"));
  await page.goto(`${w.url}/privacy`);
  await ready(page);
  assert.ok(await page.isVisible("#gpc-status"));
  assert.deepEqual(page.errors, []);
  await gpc.context.close();

  // A browser that also sends Sec-GPC: 1 gets the same from the gate itself.
  const header = await visitor(browser, { storageState: state, extraHTTPHeaders: { "Sec-GPC": "1" } });
  await header.page.goto(`${w.url}/deals/`);
  assert.deepEqual((await pageDecision(header.page)).segments, [TOKENS.runners]);
  await header.context.close();
});

test("keyboard only: skip link, a choice ticked with Space, saved with Enter, and a visible focus", async () => {
  const { context, page } = await visitor(browser);
  await page.goto(`${w.url}/preferences`);
  await ready(page);
  await page.keyboard.press("Tab");
  const skip = await page.evaluate(() => ({ text: document.activeElement.textContent, top: document.activeElement.getBoundingClientRect().top }));
  assert.equal(skip.text, "Skip to main content");
  assert.ok(skip.top >= 0, "the skip link shows when focused");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "main");
  const focusOn = async (pred, max = 40) => {
    for (let i = 0; i < max; i++) {
      await page.keyboard.press("Tab");
      if (await page.evaluate(pred)) return true;
    }
    return false;
  };
  assert.ok(await focusOn(() => document.activeElement.value === "trail-running"), "Tab reaches the first interest");
  const ring = await page.evaluate(() => {
    const s = getComputedStyle(document.activeElement);
    return { style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
  });
  assert.equal(ring.style, "solid");
  assert.ok(ring.width >= 2, "a visible focus ring");
  await page.keyboard.press("Space");
  assert.ok(await page.isChecked('input[value="trail-running"]'));
  await shot(page, "demo-shop-keyboard-focus", { fullPage: false });
  // Radios: arrow keys move the choice within a group.
  assert.ok(await focusOn(() => document.activeElement.name === "price_band"));
  await page.keyboard.press("ArrowRight");
  assert.ok(await page.isChecked('input[name="price_band"][value="budget"]'));
  assert.ok(await focusOn(() => document.activeElement.id === "save"));
  await page.keyboard.press("Enter");
  await waitText(page, "#pref-status", /^Saved\./);
  // The home page's "Why am I seeing this?" opens from the keyboard too.
  await page.goto(`${w.url}/`);
  await ready(page);
  assert.ok(await focusOn(() => document.activeElement.tagName === "SUMMARY", 80));
  await page.keyboard.press("Enter");
  assert.ok(await page.evaluate(() => document.getElementById("why").open));
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("the axe check itself fails on a page with a serious problem", async () => {
  const { context, page } = await visitor(browser);
  await page.setContent(`<!doctype html><html lang="en"><head><title>broken on purpose</title></head>
    <body><main><h1>Broken</h1><input type="text"><p style="color:#bbb;background:#fff">pale text</p></main></body></html>`);
  await assert.rejects(axe(page, "self-check"), /label \(critical\)[\s\S]*color-contrast \(serious\)|color-contrast \(serious\)[\s\S]*label \(critical\)/);
  axeResults.pop(); // not a demo page: left out of the summary
  await context.close();
});
