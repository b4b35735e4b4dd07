// Shared by the demo shop's browser tests (demo_shop*.test.mjs): Debian's
// headless Chromium through playwright-core, axe-core inside each page,
// screenshots under build/screenshots/, and the preference centre driven
// like a visitor would.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";
import { ROOT, call } from "./helpers.mjs";

const require = createRequire(import.meta.url);
export const CHROMIUM = process.env.SG_CHROMIUM || "/usr/bin/chromium";
export const SHOTS = join(ROOT, "build", "screenshots");
const AXE = require.resolve("axe-core/axe.min.js");

export const TOKENS = {
  runners: "sgt_5d1e9a20c4", outdoor: "sgt_a83f01b7e2", premiumRunners: "sgt_0c77d2e5b9", climbers: "sgt_e41b6c93f0",
  german: "sgt_9b2a47d1c8", cyclists: "sgt_37f8e0a5d6", ads: "sgt_c2d9f4e817",
};

export async function launch() {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A fresh visitor (own cookies and IndexedDB); page errors fail the test. */
export async function visitor(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.errors = errors;
  return { context, page };
}

export const shot = (page, name, options = {}) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true, ...options });

/** Results of axe-core per page, for the summary each test file prints. */
export const axeResults = [];

/** Runs axe-core in the page; fails on any serious or critical violation. */
export async function axe(page, label) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const count = (levels) => result.violations.filter((v) => levels.includes(v.impact));
  const bad = count(["serious", "critical"]);
  axeResults.push({ page: label, serious_or_critical: bad.length, moderate_or_minor: count(["moderate", "minor"]).map((v) => v.id) });
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), [],
    `axe found serious or critical problems on ${label}`);
}

export function printAxe(file) {
  console.log(`# axe-core ${require("axe-core/package.json").version} (${file}):`);
  for (const r of axeResults) {
    console.log(`#   ${r.page}: ${r.serious_or_critical} serious/critical; moderate/minor: ${r.moderate_or_minor.join(", ") || "none"}`);
  }
}

/** The [data-sg-segment] tokens left in the page (the gate removed the others). */
export const segmentsOnPage = (page) => page.$$eval("[data-sg-segment]", (els) => els.filter((e) => !e.closest("[hidden]")).map((e) => e.getAttribute("data-sg-segment")));

/** The gate's decision in the page (#sg-decision). */
export const pageDecision = async (page) => JSON.parse(await page.textContent("#sg-decision"));

/** Waits until the element's text matches `re`; returns the text. */
export async function waitText(page, selector, re, timeout = 15000) {
  await page.waitForFunction(([s, src]) => new RegExp(src).test(document.querySelector(s)?.textContent || ""), [selector, re.source], { timeout });
  return page.textContent(selector);
}

/**
 * Fills the preference centre with `choices` and saves:
 * { interest: [...], purposes: ["targeted_advertising", ...], language, price_band,
 *   contact_channel: [...], contact_frequency, sms_quiet_hours }.
 */
export async function share(page, url, choices) {
  await page.goto(`${url}/preferences`);
  await page.waitForFunction(() => document.getElementById("shared-text")?.textContent.length > 0);
  await ready(page);
  for (const v of choices.interest || []) await page.check(`input[name="interest"][value="${v}"]`);
  for (const p of choices.purposes || []) await page.check(`input[name="interest_purpose"][value="${p}"]`);
  if (choices.language) await page.selectOption("#language", choices.language);
  for (const cls of ["price_band", "contact_frequency", "sms_quiet_hours"]) {
    if (choices[cls]) await page.check(`input[name="${cls}"][value="${choices[cls]}"]`);
  }
  for (const v of choices.contact_channel || []) await page.check(`input[name="contact_channel"][value="${v}"]`);
  await page.click("#save");
  return waitText(page, "#pref-status", /Saved|not saved|were not saved|Nothing/);
}

/** Waits until the page's script has read what the visitor shared (the SDK is up). */
export async function ready(page) {
  await page.waitForFunction(() => document.documentElement.dataset.shopReady === "1", null, { timeout: 20000 });
}

/**
 * The captures the ledger recorded for the visitor of `page` (its subject,
 * read through the page's session), from the subject's hash-chained history
 * through the origin's admin route: [{ signal_id, signal_type, version }].
 */
export async function ledgerCaptures(w, adminToken, page) {
  const subject = await page.evaluate(async () => (await (await fetch("/v1/signals")).json()).subject_id);
  assert.ok(subject, "the visitor has a subject at the origin");
  const r = await call(`${w.url}/v1/admin/subjects/${subject}/history?tenant=demo-shop`, { headers: { Authorization: `Bearer ${adminToken}` } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.chain_ok, true);
  return r.body.events.filter((e) => e.change.op === "signal_captured")
    .map((e) => ({ signal_id: e.change.signal_id, signal_type: e.change.signal_type, version: e.change.version }));
}

/** Records the Idempotency-Key of every POST /v1/signals the context's tabs send. */
export function recordSends(context) {
  const keys = [];
  context.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname === "/v1/signals") keys.push(r.headers()["idempotency-key"]);
  });
  return keys;
}

/** Waits until the shop's service worker controls the page (the preference centre then opens offline). */
export async function offlineReady(page, timeout = 20000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const state = await page.evaluate(async () => {
      const reg = await navigator.serviceWorker?.getRegistration();
      const cache = (await caches.keys()).includes("trailhead-offline-1") ? await caches.open("trailhead-offline-1") : null;
      return { controlled: !!navigator.serviceWorker?.controller, active: reg?.active?.state ?? null,
        cached: cache ? !!(await cache.match("/preferences")) : false };
    });
    if (state.controlled && state.active === "activated" && state.cached) return;
    if (Date.now() > deadline) assert.fail(`the service worker is not ready: ${JSON.stringify(state)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
