// Shop pages (home, the product page, deals): the gate has already removed the
// blocks this visitor's decision does not permit. This script explains the
// decision ("Why am I seeing this?"), asks about preferences whose time is
// running out, and, when the browser sends Global Privacy Control only
// through `navigator.globalPrivacyControl` (not the Sec-GPC header the gate
// reads), removes what the SDK's GPC-aware decision does not permit.
import { connect, pagePurposes, pageDecision, mountReconfirm, setStatus, ready } from "./site.mjs";
import { signalLabel, PURPOSE, SEGMENT, OUTCOME, withheldText, listJoin, purposeList, classRank, CLASS } from "./words.mjs";

const purposes = pagePurposes();

if (document.getElementById("product")) await (await import("./product.mjs")).showProduct();

document.querySelector("[data-demo-basket]")?.addEventListener("click", () => {
  setStatus(document.getElementById("basket-status"), "This is a demo shop: nothing is for sale, so nothing was added.", "ok");
});

const sg = await connect();
if (sg) {
  await honourGpc(sg);
  await explain(sg);
  await mountReconfirm(sg);
}
ready();

/**
 * With GPC on, the page shows no more than the SDK's decision permits.
 * Without a local decision it fails closed: no block of a segment whose
 * purpose GPC opts out of (or, without the policy either, no segment block).
 */
async function honourGpc(sg) {
  if (!sg.gpc) return;
  let keep;
  try {
    const decision = await sg.decide({ purposes });
    const allowed = new Set(decision?.segments || []);
    keep = (token) => allowed.has(token);
  } catch {
    try {
      const policy = await (await fetch("/v1/policy")).json();
      const optedOut = new Set(Object.values(policy.segments || {})
        .filter((seg) => policy.purposes?.[seg.purpose]?.gpc_opt_out).map((seg) => seg.token));
      keep = (token) => !optedOut.has(token);
    } catch {
      keep = () => false;
    }
  }
  for (const el of document.querySelectorAll("[data-sg-segment]")) {
    if (!keep(el.getAttribute("data-sg-segment"))) el.remove();
  }
  for (const section of document.querySelectorAll('[data-sg-tier~="curated"]')) {
    if (!section.querySelector("[data-sg-segment]")) section.hidden = true;
  }
}

/** "Why am I seeing this?": which choices this page used, which it did not, and why. */
async function explain(sg) {
  const body = document.getElementById("why-body");
  if (!body) return;
  const server = pageDecision();
  let ex, shared = [];
  try {
    [ex, shared] = await Promise.all([sg.explain({ purposes }), sg.signals().then((r) => r.signals || []).catch(() => [])]);
  } catch (e) {
    console.warn("explain:", e);
    return;
  }
  const reasons = ex?.reasons ?? ex ?? {};
  const byId = new Map(shared.map((s) => [s.signal_id, s]));
  const label = (r) => {
    if (r.value !== null && r.value !== undefined) return signalLabel({ signal_type: r.class, value: r.value });
    const s = byId.get(r.signal);
    return s ? signalLabel(s) : (CLASS[r.class] || r.class);
  };
  // "You did not agree to this use" says more with what they did agree to.
  const because = (r, w) => {
    const given = byId.get(r.signal)?.purposes;
    return w.reason === "purpose_not_consented" && given?.length ? `you shared it only for ${purposeList(given)}` : withheldText(w.reason);
  };
  const tier = server?.tier ?? ex?.tier ?? "generic";
  const signals = (reasons.signals || []).slice()
    .sort((a, b) => classRank(a.class) - classRank(b.class) || label(a).localeCompare(label(b)));
  const used = signals.filter((r) => (r.used_for || []).length > 0);
  const withheld = [];
  for (const r of signals) {
    for (const w of r.withheld || []) {
      // "Never for this purpose" about a choice that is used here anyway is noise.
      if (w.reason === "purpose_not_allowed" && (r.used_for || []).length > 0) continue;
      if (w.purpose && !purposes.includes(w.purpose)) continue;
      withheld.push({ r, w });
    }
  }
  const emitted = (reasons.segments || []).filter((s) => s.outcome === "emitted");
  const missed = (reasons.segments || []).filter((s) => s.outcome !== "emitted" && s.outcome !== "purpose_not_in_context");

  const parts = [];
  const p = (html) => parts.push(html);
  if (ex?.error) {
    p(`<p>This page is <strong>the same for everyone</strong>: your saved choices could not be checked just now, so none of them
      were used. Nothing is personalised from choices we cannot check.</p>`);
  } else if (signals.length === 0) {
    p(`<p>This page is <strong>the same for everyone</strong>: you have not shared any preferences with us, so there is nothing to use.
      <a href="/preferences">Choose your preferences</a> if you would like the shop to show you your kind of gear first.</p>`);
  } else {
    const tierText = tier === "curated" ? "personalised from some of your choices"
      : tier === "contextual" ? "not personalised: none of your choices may be used on this page, so it shows what is popular"
      : "the same for everyone";
    p(`<p>This page is <strong>${esc(tierText)}</strong>.</p>`);
    p(`<h3>Used on this page</h3>`);
    p(used.length
      ? `<ul>${used.map((r) => `<li><strong>${esc(label(r))}</strong>, for ${esc(listJoin(r.used_for.filter((x) => purposes.includes(x)).map((x) => PURPOSE[x] || x)))}</li>`).join("")}</ul>`
      : `<p>None of your choices.</p>`);
    if (emitted.length) {
      p(`<h3>What they unlocked</h3><ul>${emitted.map((s) => `<li>${esc(SEGMENT[s.segment] || s.segment)}</li>`).join("")}</ul>`);
    }
    p(`<h3>Not used on this page</h3>`);
    p(withheld.length
      ? `<ul>${withheld.map(({ r, w }) => `<li><strong>${esc(label(r))}</strong>${w.purpose ? `, not for ${esc(PURPOSE[w.purpose] || w.purpose)}` : ""}: ${esc(because(r, w))}.</li>`).join("")}</ul>`
      : `<p>Nothing held back: every choice that could be used here was used.</p>`);
    if (missed.length && used.length) {
      p(`<details><summary>What we did not show, and why</summary><ul>${missed.map((s) => `<li>${esc(SEGMENT[s.segment] || s.segment)}: ${esc(OUTCOME[s.outcome] || "not for you now")}</li>`).join("")}</ul></details>`);
    }
  }
  p(`<p class="note">Only anonymous codes for the gear above reach this page, never your choices themselves.
    <a href="/preferences">Change your preferences</a> · <a href="/privacy">Your privacy choices</a></p>`);
  body.innerHTML = parts.join("\n");
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
