// The demo in real headless Chromium (Debian's, driven by playwright-core)
// through the gate and the origin in workerd: a visitor shares preferences
// in the preference centre (recorded by the origin's ledger, which signs the
// bundle), and the next page is curated; withdrawing every consent makes the
// page contextual again. The demo shop's own tests: demo_shop*.test.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ROOT, startWorker, newKey, originStack } from "./helpers.mjs";

const CHROMIUM = process.env.SG_CHROMIUM || "/usr/bin/chromium";
let w, browser;

before(async () => {
  const stack = originStack();
  w = await startWorker(stack.gate, { origin: stack.origin });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => { await browser?.close(); await w?.stop(); });

const visible = (page) => page.$$eval("[data-sg-segment], [data-sg-tier]", (els) => els.map((e) => e.querySelector("h2, h3")?.textContent));
const ready = (page) => page.waitForFunction(() => document.documentElement.dataset.shopReady === "1", null, { timeout: 20000 });

test("sharing preferences turns the generic page into a curated one", async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
  const shots = join(ROOT, "build", "screenshots");
  mkdirSync(shots, { recursive: true });
  await page.goto(w.url + "/");
  assert.deepEqual(await visible(page), ["Make this shop yours"]);
  assert.deepEqual(JSON.parse(await page.textContent("#sg-decision")), { segments: [], tier: "generic" });
  await page.screenshot({ path: join(shots, "demo-generic.png"), fullPage: true });

  // The preference centre: nothing is ticked in advance.
  await page.goto(w.url + "/preferences");
  await ready(page);
  assert.equal(await page.isChecked('input[value="trail-running"]'), false);
  await page.check('input[value="trail-running"]');
  await page.check('input[value="hiking"]');
  await page.selectOption('select[name="language"]', "de");
  await page.click("#save");
  await page.waitForFunction(() => document.getElementById("pref-status").textContent.startsWith("Saved."));
  await page.goto(w.url + "/");
  await page.waitForSelector("section.curated");
  assert.deepEqual(await visible(page), ["Picked for you Personalised", "Ridgeline Trail Shoe", "Basecamp 2 Tent", "Merino-Funktionsshirt"]);
  const decision = JSON.parse(await page.textContent("#sg-decision"));
  assert.deepEqual(decision, { segments: ["sgt_9b2a47d1c8", "sgt_a83f01b7e2", "sgt_5d1e9a20c4"], tier: "curated" });
  // The page carries only tier and tokens: not the subject or the signals
  // from the bundle; and page scripts cannot read the bundle or session cookies.
  const cookies = await page.context().cookies();
  const cookie = cookies.find((c) => c.name === "sg_bundle");
  assert.ok(cookie.httpOnly && cookies.find((c) => c.name === "sg_session").httpOnly);
  assert.equal(await page.evaluate(() => document.cookie), "");
  const bundleClaims = JSON.parse(Buffer.from(cookie.value.split(".")[1], "base64url").toString());
  await ready(page);
  const html = await page.content();
  assert.ok(!html.includes(bundleClaims.sub) && !html.includes(bundleClaims.jti), "subject or bundle id leaked into the page");
  await page.screenshot({ path: join(shots, "demo-curated.png"), fullPage: true });

  // "Withdraw all consent" (after a confirmation) revokes every consent: the
  // new bundle carries nothing, so the page falls back to context only (the
  // policy's contextual tier).
  await page.goto(w.url + "/privacy");
  await ready(page);
  await page.click("#revoke-all");
  await page.click("#revoke-all-yes");
  await page.waitForFunction(() => document.getElementById("privacy-status").textContent.startsWith("Done"));
  await page.goto(w.url + "/");
  await page.waitForSelector("section.contextual");
  assert.deepEqual(await visible(page), ["Popular this week"]);
  assert.deepEqual(JSON.parse(await page.textContent("#sg-decision")), { segments: [], tier: "contextual" });
  await page.close();
});

test("declining is as easy as accepting: No thanks saves nothing", async () => {
  const page = await browser.newPage();
  await page.goto(w.url + "/preferences");
  await ready(page);
  await page.check('input[value="climbing"]');
  await page.click("#decline");
  assert.match(await page.textContent("#pref-status"), /^No thanks: nothing was shared/);
  assert.equal(await page.isChecked('input[value="climbing"]'), false);
  await page.goto(w.url + "/");
  assert.deepEqual(await visible(page), ["Make this shop yours"]);
  assert.equal((await page.context().cookies()).find((c) => c.name === "sg_bundle"), undefined);
  await page.close();
});

test("the web build of the package loads and decides in Chromium", async () => {
  const { readFileSync } = await import("node:fs");
  const page = await browser.newPage();
  const pkg = join(ROOT, "build", "pkg", "web");
  await page.route(`${w.url}/pkg/**`, (route) => {
    const file = new URL(route.request().url()).pathname.replace(/^\/pkg\//, "");
    const type = file.endsWith(".wasm") ? "application/wasm" : "text/javascript";
    route.fulfill({ body: readFileSync(join(pkg, file)), contentType: type });
  });
  await page.goto(w.url + "/");
  const policy = readFileSync(join(ROOT, "www", "policy.json"), "utf8");
  const key = newKey();
  const token = key.signer.sign(JSON.stringify((await import("./helpers.mjs")).claims({ n: 2 })));
  const result = await page.evaluate(async ({ policy, jwks, token }) => {
    const sg = await import("/pkg/signalgate.js");
    await sg.default();
    const gate = new sg.Gate(policy, jwks, { audience: "signalgate" });
    const ctx = { purposes: ["personalization"], channel: "web", tenant: "demo-shop", scope: "web" };
    return { good: gate.decideForPage(token, ctx), bad: gate.decideForPage(token + "x", ctx), signer: typeof sg.Signer, keygen: typeof sg.generateKey };
  }, { policy, jwks: key.publicJwks, token });
  assert.deepEqual(result.good, { segments: ["sgt_9b2a47d1c8", "sgt_5d1e9a20c4"], tier: "curated" });
  assert.equal(result.bad.tier, "generic");
  assert.deepEqual(result.bad.segments, []);
  // No signer in the browser build: a page can never sign a bundle.
  assert.equal(result.signer, "undefined");
  assert.equal(result.keygen, "undefined");
  await page.close();
});
