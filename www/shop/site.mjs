// What every page of the demo shop shares: the SDK (loaded once), status
// messages (visible and announced), the reconfirmation banner, and messages
// carried over a reload.
import { stillQuestion, valueLabel } from "./words.mjs";

let sdk = null;

/** The browser SDK (www/sdk/), or null when it cannot load: pages still work, generic. */
export function connect() {
  sdk ??= import("/sdk/signalgate.mjs")
    .then(({ createSignalgate }) => createSignalgate({ channel: "web" }))
    .catch((e) => { console.warn("signalgate SDK unavailable:", e); return null; });
  return sdk;
}

/**
 * Registers the shop's service worker (/sw.js), which lets the preference
 * centre open offline. Pages work the same without it.
 */
function offlineSupport() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js").catch((e) => console.warn("offline support unavailable:", e));
}

/** Drops the offline copy of the preference centre ("Forget me": nothing of the visitor stays in this browser). */
export async function dropOfflineCopy() {
  try {
    for (const name of await caches.keys()) if (name.startsWith("trailhead-offline")) await caches.delete(name);
  } catch { /* no Cache Storage */ }
}

/** The purposes the gate applies to a page (wrangler.toml's SG_ROUTES). */
export function pagePurposes(path = location.pathname) {
  return path === "/deals" || path.startsWith("/deals/") ? ["personalization", "targeted_advertising"] : ["personalization"];
}

/** The decision the gate put in the page (`#sg-decision`), or null. */
export function pageDecision() {
  const el = document.getElementById("sg-decision");
  try { return el ? JSON.parse(el.textContent) : null; } catch { return null; }
}

/** Announces `text` to screen readers (the page's polite live region). */
export function announce(text) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 50);
}

/** Shows `text` in a visible status line (itself a live region). kind: ok | queued | error | "". */
export function setStatus(el, text, kind = "") {
  if (!el) return;
  el.className = `status ${kind}`.trim();
  el.textContent = text;
}

/** A message for the next page load (after a reload that re-filters the page). */
export function flash(text) {
  try { sessionStorage.setItem("shop-flash", text); } catch { /* private mode */ }
}

function showFlash() {
  let text = null;
  try { text = sessionStorage.getItem("shop-flash"); sessionStorage.removeItem("shop-flash"); } catch { /* none */ }
  if (!text) return;
  const box = document.createElement("p");
  box.className = "status ok flash wrap";
  box.id = "flash";
  box.textContent = text;
  document.getElementById("main")?.prepend(box);
  announce(text);
}

/** Marks the page as set up (its script has read what the visitor shared). */
export function ready() {
  document.documentElement.dataset.shopReady = "1";
}

/** Shows the error a rejected SDK call carries, in plain words. */
export function problemText(e) {
  if (!e) return "something went wrong";
  if (e.status === 0 || e.name === "TypeError") return "our preference service cannot be reached";
  return e.detail || e.message || String(e);
}

/**
 * The reconfirmation prompt: a non-modal banner under the header, asking
 * about the first of the signals whose time is running out. "Yes, keep it"
 * reconfirms; "No, remove it" deletes the signal. Either way the page
 * reloads, so that the gate filters it again.
 */
export async function mountReconfirm(sg, { onDone } = {}) {
  const banner = document.getElementById("reconfirm");
  if (!banner || !sg) return;
  let shown = null;
  let dismissed;
  try { dismissed = new Set(JSON.parse(sessionStorage.getItem("shop-reconfirm-later") || "[]")); } catch { dismissed = new Set(); }

  async function render(list) {
    const items = (list || []).filter((x) => !dismissed.has(x.signal));
    if (items.length === 0) { banner.hidden = true; banner.replaceChildren(); shown = null; return; }
    const item = items[0];
    if (shown === item.signal) return;
    shown = item.signal;
    let value = item.value ?? undefined;
    if (value === undefined) {
      try {
        const { signals } = await sg.signals();
        value = signals.find((s) => s.signal_id === item.signal)?.value;
      } catch { /* the class alone then */ }
    }
    const cls = item.class;
    const question = value !== undefined ? stillQuestion(cls, value) : "Are your preferences still right?";
    const until = item.deadline ? ` We will stop using it on ${new Date(item.deadline * 1000).toLocaleDateString("en-GB", { day: "numeric", month: "long" })} unless you say so.` : "";
    const wrap = document.createElement("div");
    wrap.className = "wrap";
    const p = document.createElement("p");
    const strong = document.createElement("strong");
    strong.id = "reconfirm-question";
    strong.textContent = question;
    p.append(strong, document.createTextNode(until));
    const keep = button("Yes, keep it", "btn small", "reconfirm-keep");
    const remove = button("No, remove it", "btn small secondary", "reconfirm-remove");
    const later = button("Ask me later", "btn small secondary", "reconfirm-later");
    const status = document.createElement("p");
    status.className = "status";
    status.setAttribute("role", "status");
    wrap.append(p, keep, remove, later, status);
    banner.replaceChildren(wrap);
    banner.setAttribute("aria-labelledby", "reconfirm-question");
    banner.hidden = false;
    const label = value !== undefined ? valueLabel(cls, value) : "this preference";
    keep.addEventListener("click", () => act(() => sg.reconfirm(item.signal), `Thanks: we keep “${label}”.`, status, item.signal));
    remove.addEventListener("click", () => act(() => sg.deleteSignal(item.signal), `Removed “${label}”: we no longer use it.`, status, item.signal));
    later.addEventListener("click", () => {
      dismiss(item.signal);
      shown = null;
      render(items.slice(1));
      announce("We will ask again later.");
    });
  }

  // Not asked again in this browser session: answered, or "later".
  function dismiss(signal) {
    dismissed.add(signal);
    try { sessionStorage.setItem("shop-reconfirm-later", JSON.stringify([...dismissed])); } catch { /* private mode */ }
  }

  async function act(call, done, status, signal) {
    for (const b of banner.querySelectorAll("button")) b.disabled = true;
    setStatus(status, "Saving…");
    try {
      await call();
      dismiss(signal);
      flash(done);
      if (onDone) onDone(done); else location.reload();
    } catch (e) {
      setStatus(status, `Not saved: ${problemText(e)}.`, "error");
      for (const b of banner.querySelectorAll("button")) b.disabled = false;
    }
  }

  sg.on?.("expiring", (list) => render(Array.isArray(list) ? list : list?.expiring));
  try { await render(await sg.expiring()); } catch (e) { console.warn("expiring:", e); }
}

function button(text, cls, id) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.id = id;
  b.textContent = text;
  return b;
}

showFlash();
offlineSupport();
